/* test_config.c - the config.json reader (src/io/config.c): the golden checkpoints/config.json read
 * field by field against an independent cJSON walk and against the F01 manifest's embedded copy; an
 * upstream-layout config with known values; upstream's defaults for absent optional keys; and one
 * error per kind (missing, mistyped, out of range, bad JSON, missing file), each naming the file and
 * the key path. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/io/config.h"
#include "golden.h"

/* A small config in upstream's layout (the shape of configs/config.json, tiny sizes). */
static const char *BASE =
    "{\"train\": {\"log_interval\": 200, \"eval_interval\": 1000, \"seed\": 42, \"epochs\": 1000,"
    " \"learning_rate\": 0.0002, \"betas\": [0.8, 0.99], \"eps\": 1e-09, \"batch_size\": 2, \"bf16_run\": false,"
    " \"lr_decay\": 0.99995, \"segment_size\": 4096, \"init_lr_ratio\": 1, \"warmup_epochs\": 0, \"c_mel\": 45,"
    " \"c_kl\": 1.0, \"c_commit\": 100, \"skip_optimizer\": false, \"freeze_ZH_bert\": false,"
    " \"freeze_JP_bert\": true, \"freeze_EN_bert\": false, \"freeze_emo\": false, \"keep_ckpts\": 3},"
    " \"data\": {\"training_files\": \"filelists/train.list\", \"validation_files\": \"filelists/val.list\","
    " \"max_wav_value\": 32768.0, \"sampling_rate\": 44100, \"filter_length\": 2048, \"hop_length\": 512,"
    " \"win_length\": 2048, \"n_mel_channels\": 128, \"mel_fmin\": 0.0, \"mel_fmax\": null, \"add_blank\": true,"
    " \"n_speakers\": 3, \"cleaned_text\": true, \"spk2id\": {\"spkA_ZH\": 0, \"spkB_JP\": 1, \"spkC_EN\": 2}},"
    " \"model\": {\"use_spk_conditioned_encoder\": true, \"use_noise_scaled_mas\": true,"
    " \"use_mel_posterior_encoder\": false, \"use_duration_discriminator\": true, \"inter_channels\": 16,"
    " \"hidden_channels\": 32, \"filter_channels\": 64, \"n_heads\": 2, \"n_layers\": 3, \"kernel_size\": 3,"
    " \"p_dropout\": 0.1, \"resblock\": \"1\", \"resblock_kernel_sizes\": [3, 7, 11],"
    " \"resblock_dilation_sizes\": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], \"upsample_rates\": [8, 8, 2, 2, 2],"
    " \"upsample_initial_channel\": 32, \"upsample_kernel_sizes\": [16, 16, 8, 2, 2], \"n_layers_q\": 3,"
    " \"n_layers_trans_flow\": 3, \"use_transformer_flow\": true, \"use_spectral_norm\": false,"
    " \"gin_channels\": 16, \"slm\": {\"model\": \"./slm/wavlm_tiny\", \"sr\": 16000, \"hidden\": 64,"
    " \"nlayers\": 3, \"initial_channel\": 8}}, \"version\": \"2.3\"}";

BV_TEST(config_parse_upstream_layout) {
    bv_config c;
    char err[512];
    BV_CHECK(bv_config_parse(&c, BASE, "base.json", err, sizeof err) == 0, "%s", err);
    if (ts->failed) return;
    BV_CHECK(c.train.log_interval == 200 && c.train.eval_interval == 1000 && c.train.seed == 42, "train ints");
    BV_CHECK(c.train.epochs == 1000 && c.train.batch_size == 2 && c.train.segment_size == 4096, "train ints");
    BV_CHECK(c.train.learning_rate == 0.0002 && c.train.betas[0] == 0.8 && c.train.betas[1] == 0.99, "lr/betas");
    BV_CHECK(c.train.eps == 1e-9 && c.train.lr_decay == 0.99995 && c.train.c_mel == 45 && c.train.c_kl == 1, "floats");
    BV_CHECK(!c.train.bf16_run && !c.train.skip_optimizer && c.train.freeze_JP_bert && !c.train.freeze_ZH_bert,
             "train bools");
    BV_CHECK(c.train.keep_ckpts == 3 && c.train.init_lr_ratio == 1 && c.train.c_commit == 100, "train extras");
    BV_CHECK(!strcmp(c.data.training_files, "filelists/train.list"), "training_files %s", c.data.training_files);
    BV_CHECK(c.data.sampling_rate == 44100 && c.data.filter_length == 2048 && c.data.hop_length == 512, "data");
    BV_CHECK(c.data.win_length == 2048 && c.data.n_mel_channels == 128 && c.data.max_wav_value == 32768, "data");
    BV_CHECK(!c.data.has_mel_fmax && c.data.mel_fmin == 0 && c.data.add_blank && c.data.cleaned_text, "data");
    BV_CHECK(c.data.n_speakers == 3 && c.data.n_spk2id == 3, "speakers %d", c.data.n_spk2id);
    BV_CHECK(bv_config_speaker_id(&c, "spkB_JP") == 1 && bv_config_speaker_id(&c, "nobody") == -1, "spk2id");
    BV_CHECK(!strcmp(c.data.spk2id[2].name, "spkC_EN") && c.data.spk2id[2].id == 2, "spk2id order");
    const bv_config_model *m = &c.model;
    BV_CHECK(m->inter_channels == 16 && m->hidden_channels == 32 && m->filter_channels == 64, "model sizes");
    BV_CHECK(m->n_heads == 2 && m->n_layers == 3 && m->kernel_size == 3 && m->p_dropout == 0.1f, "model sizes");
    BV_CHECK(m->resblock == 1 && m->n_resblock_kernels == 3 && m->resblock_kernel_sizes[2] == 11, "resblocks");
    BV_CHECK(m->resblock_dilation_sizes[1][2] == 5 && m->resblock_dilation_sizes[2][1] == 3, "dilations");
    BV_CHECK(m->n_upsamples == 5 && m->upsample_rates[0] == 8 && m->upsample_kernel_sizes[2] == 8, "upsamples");
    BV_CHECK(m->upsample_initial_channel == 32 && m->gin_channels == 16 && m->n_layers_trans_flow == 3, "model");
    BV_CHECK(m->use_spk_conditioned_encoder && m->use_noise_scaled_mas && m->use_duration_discriminator, "flags");
    BV_CHECK(!m->use_mel_posterior_encoder && m->use_transformer_flow && !m->use_spectral_norm, "flags");
    BV_CHECK(!strcmp(m->slm.model, "./slm/wavlm_tiny") && m->slm.sr == 16000 && m->slm.hidden == 64, "slm");
    BV_CHECK(m->slm.nlayers == 3 && m->slm.initial_channel == 8, "slm");
    BV_CHECK(c.version && !strcmp(c.version, "2.3"), "version");
    BV_CHECK(bv_config_spec_channels(&c) == 1025 && bv_config_segment_frames(&c) == 8, "derived sizes");
    /* upstream hard-coded dropout rates, not config keys */
    BV_CHECK(m->sdp_p_dropout == 0.5f && m->dp_p_dropout == 0.5f && m->dur_disc_p_dropout == 0.1f, "dropouts");
    bv_config_free(&c);
}

/* ---- variants of BASE edited through cJSON ---- */

/* BASE with the value at a dotted key path replaced by the JSON text `value` (NULL deletes it). */
static char *variant(const char *path, const char *value) {
    cJSON *root = cJSON_Parse(BASE);
    cJSON *obj = root;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *key = buf, *dot;
    while ((dot = strchr(key, '.'))) {
        *dot = 0;
        obj = cJSON_GetObjectItemCaseSensitive(obj, key);
        key = dot + 1;
    }
    if (value) {
        cJSON *v = cJSON_Parse(value);
        if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
        else cJSON_AddItemToObject(obj, key, v);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

/* Parse a variant; expect an error whose message holds every given fragment. */
static void expect_error(bv_test_state *ts, const char *path, const char *value, const char *frag1,
                         const char *frag2) {
    char *text = variant(path, value);
    bv_config c;
    char err[512] = "";
    int rc = bv_config_parse(&c, text, "cfg.json", err, sizeof err);
    BV_CHECK(rc == -1, "%s = %s was accepted", path, value ? value : "(deleted)");
    BV_CHECK(strstr(err, "cfg.json: ") == err, "message does not start with the file: %s", err);
    BV_CHECK(strstr(err, frag1) != NULL, "message lacks '%s': %s", frag1, err);
    if (frag2) BV_CHECK(strstr(err, frag2) != NULL, "message lacks '%s': %s", frag2, err);
    if (rc == 0) bv_config_free(&c);
    free(text);
}

BV_TEST(config_errors_name_the_key) {
    expect_error(ts, "model.hidden_channels", NULL, "model.hidden_channels: missing", NULL);
    expect_error(ts, "model.hidden_channels", "32.5", "model.hidden_channels: expected an integer", "32.5");
    expect_error(ts, "model.hidden_channels", "\"32\"", "model.hidden_channels: expected an integer", "string");
    expect_error(ts, "model.hidden_channels", "0", "model.hidden_channels: must be positive", NULL);
    expect_error(ts, "train.bf16_run", "1", "train.bf16_run: expected true or false", NULL);
    expect_error(ts, "train.learning_rate", "\"2e-4\"", "train.learning_rate: expected a number", NULL);
    expect_error(ts, "train.betas", "[0.8]", "train.betas: expected a list of two numbers", NULL);
    expect_error(ts, "train.seed", NULL, "train.seed: missing", NULL);
    expect_error(ts, "train", NULL, "train: missing", NULL);
    expect_error(ts, "model", "[]", "model: expected an object", NULL);
    expect_error(ts, "data.mel_fmax", NULL, "data.mel_fmax: missing", NULL);
    expect_error(ts, "data.mel_fmax", "\"8k\"", "data.mel_fmax: expected a number", NULL);
    expect_error(ts, "data.spk2id", "{\"a\": 0, \"b\": 1.5}", "data.spk2id.b: expected an integer", NULL);
    expect_error(ts, "data.spk2id", "{\"a\": 7}", "data.spk2id.a: id 7 is outside", NULL);
    expect_error(ts, "data.training_files", "3", "data.training_files: expected a string", NULL);
    expect_error(ts, "data.win_length", "4096", "data.win_length: 4096 exceeds", NULL);
    expect_error(ts, "model.resblock", "\"3\"", "model.resblock: expected \"1\" or \"2\"", NULL);
    expect_error(ts, "model.resblock", "1", "model.resblock: expected \"1\" or \"2\"", NULL);
    expect_error(ts, "model.resblock_kernel_sizes", "[3, 7.5, 11]", "model.resblock_kernel_sizes[1]: expected an integer",
                 NULL);
    expect_error(ts, "model.resblock_dilation_sizes", "[[1, 3, 5], [1, 3], [1, 3, 5]]",
                 "model.resblock_dilation_sizes[1]: resblock \"1\" needs 3 dilations", NULL);
    expect_error(ts, "model.resblock_dilation_sizes", "[[1, 3, 5]]", "model.resblock_dilation_sizes: expected 3 lists",
                 NULL);
    expect_error(ts, "model.upsample_kernel_sizes", "[16, 16, 8, 2]", "model.upsample_kernel_sizes: expected 5 entries",
                 NULL);
    expect_error(ts, "model.upsample_rates", "[]", "model.upsample_rates: expected 1 to 8 integers", NULL);
    expect_error(ts, "model.p_dropout", "1.5", "model.p_dropout: must be in [0, 1)", NULL);
    /* sizes beyond any real model are named by key before anything is allocated (issue 14 finding 2) */
    expect_error(ts, "data.n_speakers", "2147483648", "data.n_speakers: integer out of range", NULL);
    expect_error(ts, "data.n_speakers", "9007199254740992", "data.n_speakers: integer out of range", NULL);
    expect_error(ts, "model.n_layers", "2147483647", "model.n_layers: integer out of range", NULL);
    expect_error(ts, "data.n_mel_channels", "2147483647", "data.n_mel_channels: integer out of range", NULL);
    expect_error(ts, "model.hidden_channels", "-4", "model.hidden_channels: integer out of range", NULL);
    expect_error(ts, "model.upsample_rates", "[8, 8, 2, 2, 4000000000]", "model.upsample_rates[4]: integer out", NULL);
    expect_error(ts, "train.batch_size", "1000000", "train.batch_size: integer out of range", NULL);
    expect_error(ts, "train.segment_size", "4000", "train.segment_size: 4000 samples is not a multiple", NULL);
    expect_error(ts, "train.segment_size", "1099511627776", "train.segment_size: integer out of range", NULL);
    expect_error(ts, "model.upsample_rates", "[8, 8, 2, 2, 4]", "model.upsample_rates: their product 1024", "512");
    expect_error(ts, "model.n_heads", "3", "model.n_heads: 3 does not divide", NULL);
    expect_error(ts, "model.upsample_initial_channel", "16", "model.upsample_initial_channel: 16 halves to zero",
                 NULL);
    expect_error(ts, "model.slm", NULL, "model.slm: missing", NULL);
    expect_error(ts, "model.slm.hidden", "true", "model.slm.hidden: expected an integer", "true");
    expect_error(ts, "model.use_transformer_flow", "\"yes\"", "model.use_transformer_flow: expected true or false",
                 NULL);
}

BV_TEST(config_optional_keys_take_upstream_defaults) {
    cJSON *root = cJSON_Parse(BASE);
    cJSON *t = cJSON_GetObjectItem(root, "train"), *d = cJSON_GetObjectItem(root, "data"),
          *m = cJSON_GetObjectItem(root, "model");
    const char *train_opt[] = {"init_lr_ratio", "warmup_epochs", "c_commit", "skip_optimizer", "freeze_ZH_bert",
                               "freeze_JP_bert", "freeze_EN_bert", "freeze_emo", "keep_ckpts"};
    for (size_t i = 0; i < sizeof train_opt / sizeof *train_opt; i++) cJSON_DeleteItemFromObject(t, train_opt[i]);
    cJSON_DeleteItemFromObject(d, "cleaned_text");
    const char *model_opt[] = {"use_spk_conditioned_encoder", "use_noise_scaled_mas", "use_mel_posterior_encoder",
                               "use_duration_discriminator", "n_layers_q", "n_layers_trans_flow",
                               "use_transformer_flow", "gin_channels"};
    for (size_t i = 0; i < sizeof model_opt / sizeof *model_opt; i++) cJSON_DeleteItemFromObject(m, model_opt[i]);
    cJSON_DeleteItemFromObject(root, "version");
    bv_config c;
    char err[512];
    BV_CHECK(bv_config_from_json(&c, root, "defaults.json", err, sizeof err) == 0, "%s", err);
    cJSON_Delete(root);
    if (ts->failed) return;
    BV_CHECK(c.train.init_lr_ratio == 1 && c.train.warmup_epochs == 0 && c.train.c_commit == 100, "train");
    BV_CHECK(c.train.skip_optimizer == 1 && !c.train.freeze_ZH_bert && !c.train.freeze_JP_bert, "train");
    BV_CHECK(!c.train.freeze_EN_bert && !c.train.freeze_emo && c.train.keep_ckpts == 8, "train");
    BV_CHECK(!c.data.cleaned_text && c.data.min_text_len == 1 && c.data.max_text_len == 384, "data");
    const bv_config_model *mm = &c.model;
    BV_CHECK(mm->use_spk_conditioned_encoder == 1 && !mm->use_noise_scaled_mas && !mm->use_mel_posterior_encoder,
             "model flags");
    BV_CHECK(!mm->use_duration_discriminator && mm->n_layers_q == 3 && mm->n_layers_trans_flow == 4, "model");
    BV_CHECK(mm->use_transformer_flow == 1 && mm->gin_channels == 256 && mm->use_sdp == 1, "model");
    BV_CHECK(mm->n_flow_layer == 4 && !mm->flow_share_parameter, "model");
    BV_CHECK(mm->mas_noise_scale_initial == 0.01 && mm->noise_scale_delta == 2e-6, "mas noise defaults");
    BV_CHECK(c.version == NULL, "version should be absent");
    bv_config_free(&c);
}

BV_TEST(config_mel_fmax_number) {
    char *text = variant("data.mel_fmax", "8000");
    bv_config c;
    char err[512];
    BV_CHECK(bv_config_parse(&c, text, "fmax.json", err, sizeof err) == 0, "%s", err);
    free(text);
    if (ts->failed) return;
    BV_CHECK(c.data.has_mel_fmax && c.data.mel_fmax == 8000, "mel_fmax %g", c.data.mel_fmax);
    bv_config_free(&c);
}

BV_TEST(config_file_errors) {
    char dir[] = "/tmp/bv_config_XXXXXX", path[256], err[512] = "";
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    if (ts->failed) return;
    bv_config c;
    snprintf(path, sizeof path, "%s/absent.json", dir);
    BV_CHECK(bv_config_load(&c, path, err, sizeof err) == -1, "missing file accepted");
    BV_CHECK(strstr(err, path) && strstr(err, "cannot open"), "%s", err);

    snprintf(path, sizeof path, "%s/broken.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\n  \"train\": {\n    \"seed\": 42,,\n  }\n}\n");
    fclose(f);
    BV_CHECK(bv_config_load(&c, path, err, sizeof err) == -1, "bad JSON accepted");
    BV_CHECK(strstr(err, path) && strstr(err, "invalid JSON near line 3"), "%s", err);
    remove(path);

    /* a mistyped key in a real file: the message names the file and the key path */
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = variant("model.slm.nlayers", "\"three\"");
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    BV_CHECK(bv_config_load(&c, path, err, sizeof err) == -1, "mistyped key accepted");
    char want[300];
    snprintf(want, sizeof want, "%s: model.slm.nlayers: expected an integer", path);
    BV_CHECK(strstr(err, want) == err, "got '%s', want it to start with '%s'", err, want);

    /* and the same file, well-formed, loads */
    f = fopen(path, "w");
    fputs(BASE, f);
    fclose(f);
    BV_CHECK(bv_config_load(&c, path, err, sizeof err) == 0, "%s", err);
    if (!ts->failed) bv_config_free(&c);
    remove(path);
    rmdir(dir);

    BV_CHECK(bv_config_parse(&c, "[1, 2]", "list.json", err, sizeof err) == -1 && strstr(err, "list.json: "),
             "top-level list accepted: %s", err);
}

/* ---- golden: checkpoints/config.json, compared with an independent walk of the same JSON ---- */

static const cJSON *at(const cJSON *root, const char *a, const char *b) {
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, a), b);
}

static int num_eq(const cJSON *root, const char *a, const char *b, double v) {
    const cJSON *x = at(root, a, b);
    return cJSON_IsNumber(x) && x->valuedouble == v;
}

static int bool_eq(const cJSON *root, const char *a, const char *b, int v, int def) {
    const cJSON *x = at(root, a, b);
    return x ? cJSON_IsBool(x) && cJSON_IsTrue(x) == (v != 0) : v == def;
}

static int list_eq(const cJSON *l, const int *v, int n) {
    if (!cJSON_IsArray(l) || cJSON_GetArraySize(l) != n) return 0;
    for (int i = 0; i < n; i++)
        if (cJSON_GetArrayItem(l, i)->valuedouble != v[i]) return 0;
    return 1;
}

/* Every field of c against the JSON it came from (sizes are whatever the golden set holds). */
static void check_against_json(bv_test_state *ts, const bv_config *c, const cJSON *j) {
    const bv_config_train *t = &c->train;
    BV_CHECK(num_eq(j, "train", "log_interval", (double)t->log_interval) &&
             num_eq(j, "train", "eval_interval", (double)t->eval_interval) && num_eq(j, "train", "seed", (double)t->seed) &&
             num_eq(j, "train", "epochs", (double)t->epochs) && num_eq(j, "train", "batch_size", (double)t->batch_size) &&
             num_eq(j, "train", "segment_size", (double)t->segment_size), "train integers differ");
    BV_CHECK(num_eq(j, "train", "learning_rate", t->learning_rate) && num_eq(j, "train", "eps", t->eps) &&
             num_eq(j, "train", "lr_decay", t->lr_decay) && num_eq(j, "train", "c_mel", t->c_mel) &&
             num_eq(j, "train", "c_kl", t->c_kl), "train numbers differ");
    const cJSON *betas = at(j, "train", "betas");
    BV_CHECK(cJSON_GetArrayItem(betas, 0)->valuedouble == t->betas[0] &&
             cJSON_GetArrayItem(betas, 1)->valuedouble == t->betas[1], "betas differ");
    BV_CHECK(bool_eq(j, "train", "bf16_run", t->bf16_run, 0) && bool_eq(j, "train", "skip_optimizer", t->skip_optimizer, 1) &&
             bool_eq(j, "train", "freeze_ZH_bert", t->freeze_ZH_bert, 0) &&
             bool_eq(j, "train", "freeze_JP_bert", t->freeze_JP_bert, 0) &&
             bool_eq(j, "train", "freeze_EN_bert", t->freeze_EN_bert, 0), "train flags differ");
    const bv_config_data *d = &c->data;
    BV_CHECK(!strcmp(at(j, "data", "training_files")->valuestring, d->training_files) &&
             !strcmp(at(j, "data", "validation_files")->valuestring, d->validation_files), "file lists differ");
    BV_CHECK(num_eq(j, "data", "max_wav_value", d->max_wav_value) &&
             num_eq(j, "data", "sampling_rate", (double)d->sampling_rate) &&
             num_eq(j, "data", "filter_length", (double)d->filter_length) &&
             num_eq(j, "data", "hop_length", (double)d->hop_length) &&
             num_eq(j, "data", "win_length", (double)d->win_length) &&
             num_eq(j, "data", "n_mel_channels", (double)d->n_mel_channels) &&
             num_eq(j, "data", "mel_fmin", d->mel_fmin) && num_eq(j, "data", "n_speakers", (double)d->n_speakers),
             "data numbers differ");
    const cJSON *fmax = at(j, "data", "mel_fmax");
    BV_CHECK(cJSON_IsNull(fmax) ? !d->has_mel_fmax : d->has_mel_fmax && fmax->valuedouble == d->mel_fmax, "mel_fmax");
    BV_CHECK(bool_eq(j, "data", "add_blank", d->add_blank, 0) && bool_eq(j, "data", "cleaned_text", d->cleaned_text, 0),
             "data flags differ");
    const cJSON *spk = at(j, "data", "spk2id");
    BV_CHECK(cJSON_GetArraySize(spk) == d->n_spk2id, "spk2id has %d entries", d->n_spk2id);
    for (int i = 0; i < d->n_spk2id && i < cJSON_GetArraySize(spk); i++) {
        const cJSON *e = cJSON_GetArrayItem(spk, i);
        BV_CHECK(!strcmp(e->string, d->spk2id[i].name) && e->valuedouble == d->spk2id[i].id, "spk2id[%d]", i);
    }
    const bv_config_model *m = &c->model;
    BV_CHECK(num_eq(j, "model", "inter_channels", m->inter_channels) &&
             num_eq(j, "model", "hidden_channels", m->hidden_channels) &&
             num_eq(j, "model", "filter_channels", m->filter_channels) && num_eq(j, "model", "n_heads", m->n_heads) &&
             num_eq(j, "model", "n_layers", m->n_layers) && num_eq(j, "model", "kernel_size", m->kernel_size) &&
             num_eq(j, "model", "upsample_initial_channel", m->upsample_initial_channel) &&
             num_eq(j, "model", "gin_channels", m->gin_channels), "model sizes differ");
    BV_CHECK((float)at(j, "model", "p_dropout")->valuedouble == m->p_dropout, "p_dropout");
    BV_CHECK(atoi(at(j, "model", "resblock")->valuestring) == m->resblock, "resblock");
    BV_CHECK(list_eq(at(j, "model", "resblock_kernel_sizes"), m->resblock_kernel_sizes, m->n_resblock_kernels) &&
             list_eq(at(j, "model", "upsample_rates"), m->upsample_rates, m->n_upsamples) &&
             list_eq(at(j, "model", "upsample_kernel_sizes"), m->upsample_kernel_sizes, m->n_upsamples),
             "model lists differ");
    const cJSON *dil = at(j, "model", "resblock_dilation_sizes");
    for (int k = 0; k < m->n_resblock_kernels; k++)
        BV_CHECK(list_eq(cJSON_GetArrayItem(dil, k), m->resblock_dilation_sizes[k], 3), "dilations[%d]", k);
    const cJSON *jl = at(j, "model", "n_layers_trans_flow");
    BV_CHECK(m->n_layers_trans_flow == (jl ? (int)jl->valuedouble : 4), "n_layers_trans_flow");
    BV_CHECK(bool_eq(j, "model", "use_spk_conditioned_encoder", m->use_spk_conditioned_encoder, 1) &&
             bool_eq(j, "model", "use_noise_scaled_mas", m->use_noise_scaled_mas, 0) &&
             bool_eq(j, "model", "use_duration_discriminator", m->use_duration_discriminator, 0) &&
             bool_eq(j, "model", "use_transformer_flow", m->use_transformer_flow, 1) &&
             bool_eq(j, "model", "use_spectral_norm", m->use_spectral_norm, 0), "model flags differ");
    const cJSON *slm = at(j, "model", "slm");
    BV_CHECK(!strcmp(cJSON_GetObjectItem(slm, "model")->valuestring, m->slm.model) &&
             cJSON_GetObjectItem(slm, "sr")->valuedouble == m->slm.sr &&
             cJSON_GetObjectItem(slm, "hidden")->valuedouble == m->slm.hidden &&
             cJSON_GetObjectItem(slm, "nlayers")->valuedouble == m->slm.nlayers &&
             cJSON_GetObjectItem(slm, "initial_channel")->valuedouble == m->slm.initial_channel, "slm differs");
    const cJSON *v = cJSON_GetObjectItem(j, "version");
    BV_CHECK(v ? c->version && !strcmp(v->valuestring, c->version) : c->version == NULL, "version");
}

/* The golden checkpoints/config.json (the F cases' config) and the F01_train_step manifest copy. */
BV_GOLDEN_TEST(config_golden_checkpoints_config_json_F01_train_step) {
    if (!bv_golden_need(ts, "checkpoints/config.json", NULL)) return;
    char path[1200], err[1400];
    snprintf(path, sizeof path, "%s/checkpoints/config.json", bv_test_golden_dir);
    bv_config c;
    BV_CHECK(bv_config_load(&c, path, err, sizeof err) == 0, "%s", err);
    if (ts->failed) return;
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = calloc(1, (size_t)n + 1);
    BV_CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n, "read %s", path);
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    check_against_json(ts, &c, j);
    cJSON_Delete(j);

    /* the manifest's embedded config of F01 is the same file */
    bv_golden *g = bv_golden_open(ts, ts->ctx, "F01_train_step");
    if (g) {
        const cJSON *mj = cJSON_GetObjectItem(bv_golden_config(g), "config");
        bv_config c2;
        BV_CHECK(bv_config_from_json(&c2, mj, "F01_train_step manifest", err, sizeof err) == 0, "%s", err);
        if (!ts->failed) {
            check_against_json(ts, &c2, mj);
            BV_CHECK(c2.model.hidden_channels == c.model.hidden_channels && c2.data.n_speakers == c.data.n_speakers &&
                     c2.train.segment_size == c.train.segment_size, "manifest config differs from config.json");
            bv_config_free(&c2);
        }
        bv_golden_ignore(g, "*", "a config test: only F01's embedded config is compared here");
        bv_golden_close(g);
    }
    bv_config_free(&c);
}

/* Python's json keeps the last of duplicate keys (at any depth); so do we, with a warning. */
BV_TEST(config_duplicate_keys_last_wins) {
    const char *needle = "\"n_speakers\": 3,";
    const char *at = strstr(BASE, needle);
    BV_CHECK(at != NULL, "BASE changed");
    if (!at) return;
    size_t pre = (size_t)(at - BASE);
    char *text = malloc(strlen(BASE) + 64);
    memcpy(text, BASE, pre);
    sprintf(text + pre, "\"n_speakers\": 1, %s", at); /* first 1, then the original 3 */
    bv_config c;
    char err[512] = "";
    int rc = bv_config_parse(&c, text, "dup.json", err, sizeof err);
    BV_CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        BV_CHECK(c.data.n_speakers == 3, "n_speakers %lld: the first duplicate won", (long long)c.data.n_speakers);
        bv_config_free(&c);
    }
    free(text);
}
