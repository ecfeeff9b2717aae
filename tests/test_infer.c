/* test_infer.c - inference (src/infer/infer.c), its commands (src/cli/infer.c, g2p.c, export.c) and
 * the safetensors writer (src/io/safetensors_write.c).
 *
 * Golden:
 *  - F02_infer through the inference library path `bv2 infer` uses: the loader (F01's INITIAL net_g
 *    params read from F01_train_step.safetensors - F02 was made with those; checkpoints/G_0.pth holds
 *    the params AFTER F01's step and cannot reproduce F02), get_text's id steps from a phones line
 *    (ids checked equal to in.x / in.tone / in.language), the BERT inputs (active language from the
 *    utterance, the two others as the recorded "random" draws) and net_g.infer with the recorded
 *    noise: o, attn (exact), y_mask (exact), z, z_p, m_p, logs_p and mid.w;
 *  - F02_infer through the real `bv2 infer` binary: F01's initial params exported to a .pth, the
 *    config, a *.bert.pt and a noise file written, the command run; its 16-bit WAV equals out.o
 *    within the case tolerance (quantisation is below it);
 *  - `bv2 infer` end to end on checkpoints/G_0.pth + config.json (text and filelist-line batch);
 *    the loader reads G_0.pth bit-exact and skips exactly its enc_q tensors;
 *  - `bv2 g2p` on the text_en sentences (stdin mode): phones, tones (strict) and word2ph as upstream.
 * Unit: get_text's add_blank / word2ph rules and phone-line errors; the loader's errors (missing,
 * unknown, misshapen, non-float tensors, bad files); export round trips (.pth, .safetensors: identical
 * weights and audio; fp16: torch's rounding, audio close); batch synthesis vs single; the batch CLI
 * (numbering, seeds); every bad-input error of the commands (message and exit code); the safetensors
 * writer against the reader. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/app/model_config.h"
#include "../src/infer/infer.h"
#include "../src/io/pth.h"
#include "../src/io/safetensors_write.h"
#include "../src/io/wav.h"
#include "../src/text/symbols.h"
#include "fixtures.h"
#include "golden.h"

/* ---------------- helpers: temporary folders, running bv2 ---------------- */

static int make_tmpdir(bv_test_state *ts, char *dir, size_t cap) {
    const char *base = getenv("TMPDIR");
    snprintf(dir, cap, "%s/bv2-test-infer-XXXXXX", base && *base ? base : "/tmp");
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp %s failed", dir);
    return ts->failed ? -1 : 0;
}

static void remove_tmpdir(const char *dir) {
    if (strstr(dir, "bv2-test-infer-")) bv_test_rm_rf(dir);
}

typedef struct {
    int code;          /* exit status; -1 when killed by a signal */
    char out[65536];   /* stdout */
    char err[16384];   /* stderr */
} cmd_result;

static void read_small(const char *path, char *buf, size_t cap) {
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* Runs bv2 with args (NULL-terminated), stdin from in_path (NULL: /dev/null). */
static int run_bv2(const char *tmp, const char *in_path, cmd_result *r, const char *const *args) {
    char out[4200], err[4200];
    snprintf(out, sizeof out, "%s/cmd.out", tmp);
    snprintf(err, sizeof err, "%s/cmd.err", tmp);
    r->code = bv_test_wait(bv_test_spawn_bv2(NULL, args, in_path, out, err), NULL);
    read_small(out, r->out, sizeof r->out);
    read_small(err, r->err, sizeof r->err);
    return r->code;
}

static int have_bv2(bv_test_state *ts) {
    BV_CHECK(access(bv_test_bv2_path, X_OK) == 0, "%s not built (make builds it beside bv2-tests)", bv_test_bv2_path);
    return !ts->failed;
}

/* ---------------- helpers: a tiny random model ---------------- */

static const char *TINY =
    "{\"train\": {\"log_interval\": 10, \"eval_interval\": 100, \"seed\": 1, \"epochs\": 2, \"learning_rate\": 0.0002,"
    " \"betas\": [0.8, 0.99], \"eps\": 1e-09, \"batch_size\": 2, \"bf16_run\": false, \"lr_decay\": 0.99995,"
    " \"segment_size\": 16, \"c_mel\": 45, \"c_kl\": 1.0},"
    " \"data\": {\"training_files\": \"t.list\", \"validation_files\": \"v.list\", \"max_wav_value\": 32768.0,"
    " \"sampling_rate\": 16000, \"filter_length\": 14, \"hop_length\": 4, \"win_length\": 14, \"n_mel_channels\": 8,"
    " \"mel_fmin\": 0.0, \"mel_fmax\": null, \"add_blank\": true, \"n_speakers\": 2, \"spk2id\": {\"alice\": 0, \"bob\": 1}},"
    " \"model\": {\"use_noise_scaled_mas\": true, \"inter_channels\": 4, \"hidden_channels\": 8,"
    " \"filter_channels\": 16, \"n_heads\": 2, \"n_layers\": 3, \"kernel_size\": 3, \"p_dropout\": 0.0,"
    " \"resblock\": \"1\", \"resblock_kernel_sizes\": [3], \"resblock_dilation_sizes\": [[1, 3, 5]],"
    " \"upsample_rates\": [2, 2], \"upsample_initial_channel\": 8, \"upsample_kernel_sizes\": [4, 4],"
    " \"n_layers_trans_flow\": 3, \"use_spectral_norm\": false, \"gin_channels\": 4,"
    " \"slm\": {\"model\": \"wavlm\", \"sr\": 16000, \"hidden\": 8, \"nlayers\": 2, \"initial_channel\": 4}}}";

/* The tiny model with N(0, 0.1^2) weights (small, so durations stay near one frame per symbol). */
static int tiny_model(bv_test_state *ts, bv_infer_model *m, uint64_t seed) {
    bv_config cfg;
    char err[512];
    BV_CHECK(bv_config_parse(&cfg, TINY, "tiny.json", err, sizeof err) == 0, "%s", err);
    if (ts->failed) return -1;
    BV_CHECK(bv_infer_model_init(m, &cfg, err, sizeof err) == 0, "%s", err);
    if (ts->failed) return -1;
    bv_rng rng;
    bv_rng_seed(&rng, seed);
    for (int i = 0; i < m->ps.n; i++)
        for (int64_t j = 0; j < m->ps.items[i]->numel; j++) m->ps.items[i]->data[j] = 0.1f * (float)bv_rng_normal(&rng);
    return 0;
}

/* config.json + G_1.pth of the tiny model in dir. */
static int tiny_files(bv_test_state *ts, const bv_infer_model *m, const char *dir) {
    char path[4200], err[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    BV_CHECK(bv_test_write_text(path, TINY) == 0, "cannot write %s", path);
    snprintf(path, sizeof path, "%s/G_1.pth", dir);
    BV_CHECK(bv_infer_model_save(m, path, 0, err, sizeof err) == 0, "%s", err);
    return ts->failed ? -1 : 0;
}

static const char *EN_LINE = "_ hh ah l ow , w er l d . _|0 3 1 3 2 0 3 2 3 3 0 0|1 4 1 4 1 1";

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

static double max_abs(const float *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

/* ---------------- helpers: golden F02 ---------------- */

/* The model config of F01/F02 (the F01 manifest's copy of checkpoints/config.json). */
static int f01_config(bv_test_state *ts, bv_golden *g1, bv_config *cfg) {
    char err[512];
    const cJSON *c = cJSON_GetObjectItem(bv_golden_config(g1), "config");
    BV_CHECK(c && bv_config_from_json(cfg, c, "F01_train_step manifest config", err, sizeof err) == 0, "%s",
             c ? err : "F01 manifest has no config.config");
    return ts->failed ? -1 : 0;
}

/* F02's model: F01's initial net_g through the inference loader. */
static int f02_model(bv_test_state *ts, bv_golden *g1, bv_infer_model *m) {
    bv_config cfg;
    char err[1024], path[4200];
    if (f01_config(ts, g1, &cfg)) return -1;
    BV_CHECK(bv_infer_model_init(m, &cfg, err, sizeof err) == 0, "%s", err);
    if (ts->failed) return -1;
    snprintf(path, sizeof path, "%s/F01_train_step.safetensors", bv_test_golden_dir);
    BV_CHECK(bv_infer_model_load_weights(m, path, "param.net_g.", err, sizeof err) == 0, "%s", err);
    if (ts->failed) bv_infer_model_free(m);
    return ts->failed ? -1 : 0;
}

/* F02's inputs as a cleaned phones line (what a filelist would hold): the symbols and tones at the
 * non-blank positions of in.x / in.tone, one word per phone. *lang gets the language. */
typedef struct {
    char line[8192];
    int lang;
    int64_t sid;
    bv_tensor *x, *tone, *language, *bert[BV_N_LANGUAGES];
} f02_inputs;

static int f02_read_inputs(bv_test_state *ts, bv_golden *g, int add_blank, f02_inputs *in) {
    in->x = bv_golden_tensor(g, "in.x");
    in->tone = bv_golden_tensor(g, "in.tone");
    in->language = bv_golden_tensor(g, "in.language");
    bv_tensor *sid = bv_golden_tensor(g, "in.sid");
    in->bert[BV_LANG_ZH] = bv_golden_tensor(g, "in.bert");
    in->bert[BV_LANG_JP] = bv_golden_tensor(g, "in.ja_bert");
    in->bert[BV_LANG_EN] = bv_golden_tensor(g, "in.en_bert");
    if (ts->failed) return -1;
    const int64_t T = in->x->shape[1];
    const int step = add_blank ? 2 : 1, first = add_blank ? 1 : 0;
    in->lang = (int)in->language->idata[first];
    in->sid = sid->idata[0];
    char ph[4096] = "", tn[2048] = "", w2[2048] = "";
    for (int64_t t = 0; t < T; t++) {
        if (add_blank && t % 2 == 0) {
            BV_CHECK(in->x->idata[t] == 0, "in.x[0, %lld] = %lld: expected a blank", (long long)t, (long long)in->x->idata[t]);
            continue;
        }
        const char *sep = t == first ? "" : " ";
        snprintf(ph + strlen(ph), sizeof ph - strlen(ph), "%s%s", sep, bv_symbols[in->x->idata[t]]);
        snprintf(tn + strlen(tn), sizeof tn - strlen(tn), "%s%lld", sep,
                 (long long)(in->tone->idata[t] - bv_language_tone_start(in->lang)));
        snprintf(w2 + strlen(w2), sizeof w2 - strlen(w2), "%s1", sep);
    }
    (void)step;
    snprintf(in->line, sizeof in->line, "%s|%s|%s", ph, tn, w2);
    return ts->failed ? -1 : 0;
}

/* The draws bv2 makes for one utterance, in order: the two inactive languages' BERT stand-ins
 * ([1024, T], as upstream's torch.randn(1024, len)) then the case's recorded noise. */
static int f02_draws(bv_golden *g, const f02_inputs *in, bv_rng_draw *d, int cap) {
    int n = 0;
    for (int l = 0; l < BV_N_LANGUAGES && n < cap; l++) {
        if (l == in->lang) continue;
        d[n] = (bv_rng_draw){.name = "inactive bert", .ndim = 2, .shape = {BV_INFER_BERT_DIM, in->x->shape[1]},
                             .data = in->bert[l]->data};
        n++;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(bv_golden_case_json(g), "tensors")) {
        const cJSON *role = cJSON_GetObjectItem(e, "role"), *name = cJSON_GetObjectItem(e, "name");
        if (!cJSON_IsString(role) || strcmp(role->valuestring, "noise") || n >= cap) continue;
        bv_tensor *t = bv_golden_tensor(g, name->valuestring);
        if (!t) return -1;
        d[n].name = name->valuestring;
        d[n].ndim = t->ndim;
        memcpy(d[n].shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
        d[n].data = t->data;
        n++;
    }
    return n;
}

static bv_infer_opts f02_opts(bv_golden *g) {
    return (bv_infer_opts){.noise_scale = (float)bv_golden_cfg_num(g, "noise_scale"),
                           .length_scale = (float)bv_golden_cfg_num(g, "length_scale"),
                           .noise_scale_w = (float)bv_golden_cfg_num(g, "noise_scale_w"),
                           .sdp_ratio = (float)bv_golden_cfg_num(g, "sdp_ratio"),
                           .max_len = bv_golden_cfg_int_or(g, "max_len", 0)};
}

static void check_exact(bv_test_state *ts, bv_golden *g, const char *name, const bv_tensor *t) {
    bv_tensor *ref = bv_golden_tensor(g, name);
    if (!ref || !t || ref->numel != t->numel) {
        BV_CHECK(0, "%s: missing or size differs", name);
        return;
    }
    int64_t bad = 0;
    for (int64_t i = 0; i < t->numel; i++) bad += t->data[i] != ref->data[i];
    BV_CHECK(bad == 0, "%s: %lld of %lld elements differ (must be exact)", name, (long long)bad, (long long)t->numel);
}

static void check_ids(bv_test_state *ts, const char *what, const int64_t *got, const bv_tensor *want, int n) {
    BV_CHECK(want->numel == n, "%s: %d ids, golden has %lld", what, n, (long long)want->numel);
    for (int i = 0; i < n && i < want->numel; i++)
        if (got[i] != want->idata[i]) {
            BV_CHECK(0, "%s[%d] = %lld, golden %lld", what, i, (long long)got[i], (long long)want->idata[i]);
            break;
        }
}

/* ---------------- golden: F02 through the library ---------------- */

BV_GOLDEN_TEST(infer_golden_F02_infer_library) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g1 = bv_golden_open(ts, ctx, "F01_train_step"); /* F02 was made with F01's initial net_g */
    bv_golden *g = bv_golden_open(ts, ctx, "F02_infer");
    bv_infer_model m;
    if (!g1 || !g || f02_model(ts, g1, &m)) {
        bv_golden_close(g1);
        bv_golden_close(g);
        return;
    }
    BV_CHECK(m.n_skipped > 0, "F01's param.net_g.enc_q.* should have been skipped");
    f02_inputs in;
    bv_infer_utt u;
    char err[1024];
    if (!f02_read_inputs(ts, g, m.cfg.data.add_blank, &in)) {
        BV_CHECK(bv_infer_utt_from_phones(&u, in.line, bv_language_name(in.lang), m.cfg.data.add_blank, err,
                                          sizeof err) == 0, "%s: %s", in.line, err);
    }
    if (!ts->failed) {
        /* get_text's ids equal F02's inputs */
        check_ids(ts, "phones", u.phones, in.x, u.n);
        check_ids(ts, "tones", u.tones, in.tone, u.n);
        check_ids(ts, "languages", u.langs, in.language, u.n);
        bv_tensor *xl = bv_golden_tensor(g, "in.x_lengths");
        BV_CHECK(xl && xl->numel == 1 && xl->idata[0] == u.n, "in.x_lengths %lld, get_text made %d ids",
                 xl && xl->numel == 1 ? (long long)xl->idata[0] : -1LL, u.n);
        u.speaker = in.sid;
        u.bert = malloc(sizeof(float) * (size_t)in.bert[in.lang]->numel);
        memcpy(u.bert, in.bert[in.lang]->data, sizeof(float) * (size_t)in.bert[in.lang]->numel);
        bv_rng_draw draws[16];
        int nd = f02_draws(g, &in, draws, 16);
        bv_rng_set_replay(&ctx->rng, draws, nd);
        bv_infer_opts o = f02_opts(g);
        float *audio = NULL;
        int64_t n = 0;
        bv_synth_infer_out r;
        BV_CHECK(bv_infer_synthesize(ctx, &m, &u, 1, &o, &audio, &n, &r, err, sizeof err) == 0, "%s", err);
        if (!ts->failed) {
            BV_CHECK(ctx->rng.next_replay == nd, "%d of %d draws consumed", ctx->rng.next_replay, nd);
            bv_golden_check(g, "out.o", bv_from_f32(ctx, BV_SHAPE(1, 1, n), audio));
            bv_golden_check(g, "mid.w", r.w);
            bv_golden_check(g, "out.attn", r.attn);
            check_exact(ts, g, "out.attn", r.attn); /* manifest note: attn exactly */
            check_exact(ts, g, "out.y_mask", r.y_mask);
            bv_golden_check(g, "out.z", r.z);
            bv_golden_check(g, "out.z_p", r.z_p);
            bv_golden_check(g, "out.m_p", r.m_p);
            bv_golden_check(g, "out.logs_p", r.logs_p);
        }
        free(audio);
        bv_rng_set_replay(&ctx->rng, NULL, 0);
        bv_infer_utt_free(&u);
    }
    bv_infer_model_free(&m);
    bv_golden_ignore(g1, "*", "F01's config and its param.net_g.* (read from the case file by the library's loader, "
                              "bv_infer_model_load_weights) make F02's starting net_g; F01's tensors are compared by "
                              "train_step_golden_F01_train_step");
    bv_golden_close(g1);
    bv_golden_close(g);
}

/* ---------------- golden: F02 through the bv2 binary ---------------- */

static int write_f02_files(bv_test_state *ts, bv_golden *g1, bv_golden *g, const char *dir, bv_infer_model *m,
                           f02_inputs *in) {
    char path[4200], err[1024];
    /* the model: F01's initial net_g, exported as bv2 export writes it */
    snprintf(path, sizeof path, "%s/G_f01_initial.pth", dir);
    BV_CHECK(bv_infer_model_save(m, path, 0, err, sizeof err) == 0, "%s", err);
    /* the config */
    char *json = cJSON_Print(cJSON_GetObjectItem(bv_golden_config(g1), "config"));
    snprintf(path, sizeof path, "%s/config.json", dir);
    BV_CHECK(json && bv_test_write_text(path, json) == 0, "cannot write %s", path);
    free(json);
    /* the active language's BERT features as bert_gen.py saves them: one [1024, T] tensor */
    bv_pk_doc *doc = bv_pk_doc_new();
    const bv_tensor *b = in->bert[in->lang];
    bv_pk_value *t = bv_pk_tensor_ref(doc, BV_ST_F32, 2, (int64_t[]){b->shape[1], b->shape[2]}, b->data);
    snprintf(path, sizeof path, "%s/utt.bert.pt", dir);
    BV_CHECK(bv_pth_save(path, t, err, sizeof err) == 0, "%s", err);
    bv_pk_doc_free(doc);
    /* every draw, in the order bv2 makes them */
    bv_rng_draw d[16];
    int nd = f02_draws(g, in, d, 16);
    bv_st_write_entry e[16];
    char names[16][64];
    for (int i = 0; i < nd; i++) {
        snprintf(names[i], sizeof names[i], "noise.%03d.randn", i);
        e[i] = (bv_st_write_entry){.name = names[i], .dtype = BV_ST_F32, .ndim = d[i].ndim, .data = d[i].data};
        memcpy(e[i].shape, d[i].shape, sizeof(int64_t) * (size_t)d[i].ndim);
    }
    snprintf(path, sizeof path, "%s/noise.safetensors", dir);
    BV_CHECK(bv_st_write(path, e, nd, NULL, 0, err, sizeof err) == 0, "%s", err);
    return ts->failed ? -1 : 0;
}

BV_GOLDEN_TEST(infer_golden_F02_infer_cli) {
    bv_ctx *ctx = ts->ctx;
    if (!have_bv2(ts)) return;
    bv_golden *g1 = bv_golden_open(ts, ctx, "F01_train_step");
    bv_golden *g = bv_golden_open(ts, ctx, "F02_infer");
    bv_infer_model m;
    char dir[4096];
    if (!g1 || !g || f02_model(ts, g1, &m)) {
        bv_golden_close(g1);
        bv_golden_close(g);
        return;
    }
    f02_inputs in;
    if (!make_tmpdir(ts, dir, sizeof dir) && !f02_read_inputs(ts, g, m.cfg.data.add_blank, &in) &&
        !write_f02_files(ts, g1, g, dir, &m, &in)) {
        const char *speaker = NULL;
        for (int i = 0; i < m.cfg.data.n_spk2id; i++)
            if (m.cfg.data.spk2id[i].id == in.sid) speaker = m.cfg.data.spk2id[i].name;
        BV_CHECK(speaker, "no speaker with id %lld in the config", (long long)in.sid);
        bv_infer_opts o = f02_opts(g);
        char model[4200], cfg[4200], bert[4200], noise[4200], wav[4200], sdp[32], ns[32], nsw[32], ls[32];
        snprintf(model, sizeof model, "%s/G_f01_initial.pth", dir);
        snprintf(cfg, sizeof cfg, "%s/config.json", dir);
        snprintf(bert, sizeof bert, "%s/utt.bert.pt", dir);
        snprintf(noise, sizeof noise, "%s/noise.safetensors", dir);
        snprintf(wav, sizeof wav, "%s/f02.wav", dir);
        snprintf(sdp, sizeof sdp, "%.9g", (double)o.sdp_ratio);
        snprintf(ns, sizeof ns, "%.9g", (double)o.noise_scale);
        snprintf(nsw, sizeof nsw, "%.9g", (double)o.noise_scale_w);
        snprintf(ls, sizeof ls, "%.9g", (double)o.length_scale);
        cmd_result r;
        const char *args[] = {"infer", "-m", model, "-c", cfg, "--speaker", speaker ? speaker : "?", "--language",
                              bv_language_name(in.lang), "--phones", in.line, "--bert", bert, "--noise-file", noise,
                              "--sdp-ratio", sdp, "--noise-scale", ns, "--noise-scale-w", nsw, "--length-scale", ls,
                              "-o", wav, NULL};
        run_bv2(dir, NULL, &r, args);
        BV_CHECK(r.code == 0, "bv2 infer exited %d: %s", r.code, r.err);
        BV_CHECK(!strstr(r.err, "warning"), "not every recorded draw was used: %s", r.err);
        float *x = NULL;
        bv_wav_info info;
        char err[512];
        if (!ts->failed && !bv_wav_read(wav, &x, &info, err, sizeof err)) {
            BV_CHECK(info.sample_rate == m.cfg.data.sampling_rate && info.channels == 1, "WAV %d Hz, %d channels",
                     info.sample_rate, info.channels);
            /* 16-bit quantisation (<= 0.5/32767 + |x|/32768) is far below the case's atol */
            bv_golden_check(g, "out.o", bv_from_f32(ctx, BV_SHAPE(1, 1, info.frames), x));
            free(x);
        } else {
            BV_CHECK(0, "%s", ts->failed ? "bv2 infer failed" : err);
        }
    }
    remove_tmpdir(dir);
    bv_infer_model_free(&m);
    bv_golden_ignore(g, "mid.*", "bv2 infer writes only the waveform (out.o): infer_golden_F02_infer_library compares "
                                 "the rest");
    bv_golden_ignore(g, "out.*", "bv2 infer writes only the waveform (out.o): infer_golden_F02_infer_library compares "
                                 "the rest");
    bv_golden_ignore(g, "in.x_lengths", "one utterance: its length is the phone count of --phones");
    bv_golden_ignore(g1, "*", "F01's config and its param.net_g.* (read from the case file by the library's loader, "
                              "bv_infer_model_load_weights) make F02's starting net_g; F01's tensors are compared by "
                              "train_step_golden_F01_train_step");
    bv_golden_close(g1);
    bv_golden_close(g);
}

/* ---------------- golden: G_0.pth end to end ---------------- */

static void check_wav(bv_test_state *ts, const char *path, int64_t sample_rate, int64_t hop) {
    float *x = NULL;
    bv_wav_info info;
    char err[512];
    BV_CHECK(bv_wav_read(path, &x, &info, err, sizeof err) == 0, "%s", err);
    if (ts->failed) return;
    BV_CHECK(info.sample_rate == sample_rate && info.channels == 1 && info.encoding == BV_WAV_PCM_16,
             "%s: %d Hz, %d channels, %s", path, info.sample_rate, info.channels, bv_wav_encoding_name(info.encoding));
    BV_CHECK(info.frames > 0 && info.frames % hop == 0, "%s: %lld samples (hop %lld)", path, (long long)info.frames,
             (long long)hop);
    int64_t bad = 0;
    for (int64_t i = 0; i < info.frames; i++) bad += !isfinite(x[i]);
    BV_CHECK(bad == 0, "%s: %lld non-finite samples", path, (long long)bad);
    free(x);
}

BV_GOLDEN_TEST(infer_golden_checkpoint_G_0_end_to_end) {
    if (!bv_golden_need(ts, "checkpoints/G_0.pth", "checkpoints/config.json", "dataset/train.list", NULL)) return;
    if (!have_bv2(ts)) return;
    char dir[4096], model[4200], cfg[4200], wav[4200], err[1024], list[4200], out[4200];
    snprintf(model, sizeof model, "%s/checkpoints/G_0.pth", bv_test_golden_dir);
    snprintf(cfg, sizeof cfg, "%s/checkpoints/config.json", bv_test_golden_dir);
    /* the loader: bit-exact weights, exactly the enc_q tensors skipped */
    bv_infer_model m;
    BV_CHECK(bv_infer_model_load(&m, model, cfg, err, sizeof err) == 0, "%s", err);
    if (ts->failed) return;
    bv_pth_dict sd;
    BV_CHECK(bv_pth_load_state_dict(model, "model", &sd, err, sizeof err) == 0, "%s", err);
    if (!ts->failed) {
        int enc_q = 0, bad = 0;
        for (int i = 0; i < sd.n; i++) {
            if (!strncmp(sd.items[i].name, "enc_q.", 6)) {
                enc_q++;
                continue;
            }
            bv_tensor *p = bv_params_get(&m.ps, sd.items[i].name);
            bad += !p || memcmp(p->data, sd.items[i].data, sizeof(float) * (size_t)p->numel) != 0;
        }
        BV_CHECK(bad == 0 && enc_q == m.n_skipped && sd.n - enc_q == m.ps.n,
                 "%d tensors differ; %d enc_q in the file, %d skipped; %d others, %d parameters", bad, enc_q,
                 m.n_skipped, sd.n - enc_q, m.ps.n);
        bv_pth_dict_free(&sd);
    }
    const int64_t sr = m.cfg.data.sampling_rate, hop = m.cfg.data.hop_length;
    const char *last_speaker = m.cfg.data.spk2id[m.cfg.data.n_spk2id - 1].name;
    if (make_tmpdir(ts, dir, sizeof dir)) {
        bv_infer_model_free(&m);
        return;
    }
    /* text, through the English front-end */
    cmd_result r;
    snprintf(wav, sizeof wav, "%s/text.wav", dir);
    const char *a1[] = {"infer", "-m", model, "-c", cfg, "--speaker", last_speaker, "--text",
                        "Hello, world. The quick brown fox jumps over 13 lazy dogs!", "--no-split", "-o", wav, NULL};
    BV_CHECK(run_bv2(dir, NULL, &r, a1) == 0, "bv2 infer --text exited %d: %s", r.code, r.err);
    if (!ts->failed) check_wav(ts, wav, sr, hop);
    /* sentence by sentence (the default): the first sentence's audio is the one it gets alone (the
     * same seed, the same first draws), then exactly --sentence-pause of silence, then the second */
    float *x[2] = {NULL, NULL};
    int64_t len[2] = {0, 0};
    const char *texts[2] = {"Hello, world. The quick brown fox jumps over 13 lazy dogs!", "Hello, world."};
    for (int k = 0; k < 2; k++) {
        const char *a2[] = {"infer", "-m", model, "-c", cfg, "--speaker", last_speaker, "--text", texts[k],
                            "--sentence-pause", "0.5", "-o", wav, NULL};
        BV_CHECK(run_bv2(dir, NULL, &r, a2) == 0, "split text %d exited %d: %s", k, r.code, r.err);
        bv_wav_info info = {0};
        char e2[512];
        len[k] = bv_wav_read(wav, &x[k], &info, e2, sizeof e2) == 0 ? info.frames : -1;
    }
    const int64_t gap = (int64_t)llround(0.5 * (double)sr);
    BV_CHECK(len[1] > 0 && len[0] > len[1] + gap && (len[0] - len[1] - gap) % hop == 0, "split: %lld samples, first "
             "sentence %lld, pause %lld, hop %lld", (long long)len[0], (long long)len[1], (long long)gap, (long long)hop);
    if (!ts->failed) {
        BV_CHECK(!memcmp(x[0], x[1], sizeof(float) * (size_t)len[1]), "the first sentence differs from itself alone");
        int64_t nonzero = 0;
        for (int64_t i = 0; i < gap; i++) nonzero += x[0][len[1] + i] != 0.0f;
        BV_CHECK(nonzero == 0, "%lld non-zero samples in the pause", (long long)nonzero);
    }
    free(x[0]);
    free(x[1]);
    /* the golden dataset's filelist line, with its own speaker, language and utt0.bert.pt */
    char line[4096];
    snprintf(list, sizeof list, "%s/dataset/train.list", bv_test_golden_dir);
    FILE *f = fopen(list, "r");
    BV_CHECK(f && fgets(line, sizeof line, f), "cannot read %s", list);
    if (f) fclose(f);
    if (!ts->failed) {
        char full[8192], lpath[4200];
        snprintf(full, sizeof full, "%s/dataset/%s", bv_test_golden_dir, line); /* wav path made absolute */
        snprintf(lpath, sizeof lpath, "%s/batch.list", dir);
        bv_test_write_text(lpath, full);
        snprintf(out, sizeof out, "%s/batch", dir);
        const char *a2[] = {"infer", "-m", model, "-c", cfg, "--batch", lpath, "--phones-batch", "-o", out, NULL};
        BV_CHECK(run_bv2(dir, NULL, &r, a2) == 0, "bv2 infer --batch exited %d: %s", r.code, r.err);
        snprintf(wav, sizeof wav, "%s/batch/0001.wav", dir);
        if (!ts->failed) check_wav(ts, wav, sr, hop);
    }
    remove_tmpdir(dir);
    bv_infer_model_free(&m);
}

/* Chinese text through the ZH front-end, in the golden checkpoint's Chinese speaker: a finite wav, and
 * the same samples as the phones upstream's clean_text(text, "ZH") gives (golden/text_zh), so text and
 * phones reach the model identically. */
BV_GOLDEN_TEST(infer_golden_checkpoint_G_0_chinese_text) {
    if (!have_bv2(ts)) return;
    char dir[4096], model[4200], cfg[4200], w1[4200], w2[4200];
    snprintf(model, sizeof model, "%s/checkpoints/G_0.pth", bv_test_golden_dir);
    snprintf(cfg, sizeof cfg, "%s/checkpoints/config.json", bv_test_golden_dir);
    if (make_tmpdir(ts, dir, sizeof dir)) return;
    snprintf(w1, sizeof w1, "%s/zh_text.wav", dir);
    snprintf(w2, sizeof w2, "%s/zh_phones.wav", dir);
    cmd_result r;
    const char *a1[] = {"infer", "-m", model, "-c", cfg, "--speaker", "spkA_ZH", "--language", "ZH", "--text",
                        "你好，世界！", "-o", w1, NULL};
    BV_CHECK(run_bv2(dir, NULL, &r, a1) == 0, "bv2 infer --language ZH --text exited %d: %s", r.code, r.err);
    const char *a2[] = {"infer", "-m", model, "-c", cfg, "--speaker", "spkA_ZH", "--language", "ZH", "--phones",
                        "_ n i h ao , sh ir j ie ! _|0 2 2 3 3 0 4 4 4 4 0 0|1 2 2 1 2 2 1 1", "-o", w2, NULL};
    BV_CHECK(run_bv2(dir, NULL, &r, a2) == 0, "bv2 infer --language ZH --phones exited %d: %s", r.code, r.err);
    if (!ts->failed) {
        int64_t sr = 0, hop = 0;
        bv_infer_model m;
        char err[1024];
        BV_CHECK(bv_infer_model_load(&m, model, cfg, err, sizeof err) == 0, "%s", err);
        if (!ts->failed) {
            sr = m.cfg.data.sampling_rate, hop = m.cfg.data.hop_length;
            bv_infer_model_free(&m);
            check_wav(ts, w1, sr, hop);
        }
        FILE *f1 = fopen(w1, "rb"), *f2 = fopen(w2, "rb");
        int same = f1 && f2;
        for (int c1 = 0, c2 = 0; same && c1 != EOF; ) {
            c1 = fgetc(f1), c2 = fgetc(f2);
            same = c1 == c2;
        }
        if (f1) fclose(f1);
        if (f2) fclose(f2);
        BV_CHECK(same, "%s and %s differ: the text did not reach the model as upstream's phones", w1, w2);
    }
    remove_tmpdir(dir);
}

/* ---------------- bad input: messages and exit codes ---------------- */

typedef struct {
    const char *what;
    const char *args[24];
    int code;
    const char *message; /* a substring of stderr */
} bad_case;

static void run_bad_case(bv_test_state *ts, const char *dir, const bad_case *c) {
    cmd_result r;
    run_bv2(dir, NULL, &r, c->args);
    BV_CHECK(r.code == c->code, "%s: exit %d, expected %d (stderr: %s)", c->what, r.code, c->code, r.err);
    BV_CHECK(strncmp(r.err, "error: ", 7) == 0 || strstr(r.err, "\nerror: "), "%s: no 'error: ' line: %s", c->what,
             r.err);
    BV_CHECK(strstr(r.err, c->message) != NULL, "%s: stderr lacks \"%s\": %s", c->what, c->message, r.err);
}

#define LONG_SENTENCE "The quick brown fox jumps over the lazy dog while seven wizards quietly hex the jumbled boxes, "
#define LONG_TEXT LONG_SENTENCE LONG_SENTENCE LONG_SENTENCE LONG_SENTENCE LONG_SENTENCE LONG_SENTENCE LONG_SENTENCE \
    LONG_SENTENCE LONG_SENTENCE LONG_SENTENCE LONG_SENTENCE LONG_SENTENCE "and that is all."

BV_GOLDEN_TEST(infer_cli_bad_input_errors) {
    if (!bv_golden_need(ts, "checkpoints/G_0.pth", "checkpoints/config.json", "dataset/utt0.bert.pt", NULL)) return;
    if (!have_bv2(ts)) return;
    char dir[4096], model[4200], cfg[4200], bert[4200], lonely[4200], tinycfg[4200];
    if (make_tmpdir(ts, dir, sizeof dir)) return;
    snprintf(model, sizeof model, "%s/checkpoints/G_0.pth", bv_test_golden_dir);
    snprintf(cfg, sizeof cfg, "%s/checkpoints/config.json", bv_test_golden_dir);
    snprintf(bert, sizeof bert, "%s/dataset/utt0.bert.pt", bv_test_golden_dir);
    snprintf(lonely, sizeof lonely, "%s/G_0.pth", dir); /* a model with no config.json beside it */
    snprintf(tinycfg, sizeof tinycfg, "%s/tiny.json", dir);
    bv_test_write_text(tinycfg, TINY);
    char empty[4200], folder[4200];
    snprintf(empty, sizeof empty, "%s/empty.pth", dir);
    snprintf(folder, sizeof folder, "%s/folder.pth", dir);
    bv_test_write_text(empty, "");
    mkdir(folder, 0777);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", model, lonely);
    BV_CHECK(system(cmd) == 0, "%s failed", cmd);
    const char *o = "/dev/null";
    const bad_case cases[] = {
        {"unknown speaker", {"infer", "-m", model, "-c", cfg, "--speaker", "nobody", "--text", "Hi.", "-o", o}, 3,
         "unknown speaker 'nobody'"},
        {"empty .pth", {"infer", "-m", empty, "-c", cfg, "--text", "Hi.", "-o", o}, 3,
         "neither a PyTorch checkpoint (.pth: a zip file) nor a .safetensors file (it is empty)"},
        {"folder as .pth", {"infer", "-m", folder, "-c", cfg, "--text", "Hi.", "-o", o}, 3, "Is a directory"},
        {"folder as config", {"infer", "-m", model, "-c", dir, "--text", "Hi.", "-o", o}, 3, "Is a directory"},
        {"output is a folder", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--text", "Hi.", "-o", dir}, 3,
         "is a folder"},
        {"no speaker, several", {"infer", "-m", model, "-c", cfg, "--text", "Hi.", "-o", o}, 3, "no --speaker"},
        {"empty text", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--text", "", "-o", o}, 3,
         "empty text"},
        {"blank text", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--text", "  \t ", "-o", o}, 3,
         "empty text"},
        {"accented letter", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--text", "A naïve café.", "-o", o},
         3, "unsupported character"},
        {"CJK text as EN", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--text", "你好", "-o", o}, 3,
         "unsupported character"},
        {"nothing to say", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--text", "; ;", "-o", o}, 3,
         "nothing the English front-end can pronounce"},
        {"missing model", {"infer", "-m", "/nonexistent/G_9.pth", "-c", cfg, "--text", "Hi.", "-o", o}, 3,
         "/nonexistent/G_9.pth"},
        {"missing config", {"infer", "-m", model, "-c", "/nonexistent/config.json", "--text", "Hi.", "-o", o}, 3,
         "/nonexistent/config.json"},
        {"no config beside", {"infer", "-m", lonely, "--text", "Hi.", "-o", o}, 3, "give -c config.json"},
        {"config of another model", {"infer", "-m", model, "-c", tinycfg, "--text", "Hi.", "-o", o}, 3,
         "does the config belong to this checkpoint"},
        {"not a checkpoint", {"infer", "-m", tinycfg, "-c", cfg, "--text", "Hi.", "-o", o}, 3, tinycfg},
        {"unknown phone", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--phones", "_ xx _|0 0 0", "-o", o},
         3, "unknown phone symbol \"xx\""},
        {"phones/tones count", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--phones", "_ hh _|0 3", "-o",
                                o}, 3, "3 phones but 2 tones"},
        {"word2ph sum", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--phones", "_ hh ah _|0 3 1 0|1 1 1",
                         "-o", o}, 3, "word2ph sums to 3"},
        {"word2ph overflow", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--phones",
                              "_ hh ah _|0 3 1 0|9223372036854775807 9223372036854775807 2", "-o", o}, 3,
         "word2ph[0] = 9223372036854775807 is outside"},
        {"tone range", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--phones", "_ hh ah _|0 3 7 0", "-o",
                        o}, 3, "out of range"},
        {"bert shape", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--phones", EN_LINE, "--bert", bert,
                        "-o", o}, 3, "expected [1024, 25]"},
        {"missing lexicon", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--text", "Hi.", "--lexicon",
                             "/nonexistent/cmudict.rep", "-o", o}, 3, "/nonexistent/cmudict.rep"},
        {"unknown option", {"infer", "-m", model, "--volume", "11", "--text", "Hi."}, 2, "unknown option '--volume'"},
        {"no input", {"infer", "-m", model, "-c", cfg}, 2, "exactly one of --text, --phones, --batch"},
        {"two inputs", {"infer", "-m", model, "--text", "a", "--phones", EN_LINE}, 2, "exactly one of"},
        {"no model", {"infer", "--text", "Hi."}, 2, "no model"},
        {"bad number", {"infer", "-m", model, "--text", "Hi.", "--sdp-ratio", "lots"}, 2, "--sdp-ratio"},
        {"bad language", {"infer", "-m", model, "--text", "Hi.", "--language", "FR"}, 2, "--language"},
        {"missing batch file", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--batch", "/nonexistent/l.txt",
                                "-o", dir}, 3, "/nonexistent/l.txt"},
        {"g2p empty", {"g2p", "--text", ""}, 3, "empty text"},
        {"g2p bad character", {"g2p", "--text", "über"}, 3, "unsupported character"},
        {"g2p JP nothing left", {"g2p", "--language", "JP", "--text", "konnichiwa"}, 3, "nothing left"},
        {"export without -o", {"export", "-m", model, "-c", cfg}, 2, "-o OUT.pth"},
        {"export missing model", {"export", "-m", "/nonexistent/G.pth", "-c", cfg, "-o", "/nonexistent/x.pth"}, 3,
         "/nonexistent/G.pth"},
        {"export unwritable", {"export", "-m", model, "-c", cfg, "-o", "/nonexistent/x.safetensors"}, 3,
         "/nonexistent/x.safetensors"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_bad_case(ts, dir, &cases[i]);
    /* what would not fit is refused before it is allocated, exit 3, never an abort or the OOM killer
     * (issue 14 finding 1): a 12 MB budget here stands in for a long text on a small machine */
    setenv("BV_MEM_LIMIT_MB", "12", 1);
    const bad_case mem_cases[] = {
        {"huge length scale", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--text", "Hello there.",
                               "--length-scale", "1000", "-o", o}, 3, "smaller --length-scale"},
        {"one long unsplit text", {"infer", "-m", model, "-c", cfg, "--speaker", "spkC_EN", "--no-split", "--text",
                                   LONG_TEXT, "-o", o}, 3, "is available"},
    };
    for (size_t i = 0; i < sizeof mem_cases / sizeof mem_cases[0]; i++) run_bad_case(ts, dir, &mem_cases[i]);
    unsetenv("BV_MEM_LIMIT_MB");
    /* --help: exit 0, and it says what stands in for BERT */
    cmd_result r;
    const char *help[] = {"infer", "--help", NULL};
    BV_CHECK(run_bv2(dir, NULL, &r, help) == 0 && strstr(r.out, "ZERO") && strstr(r.out, "bert_gen.py"),
             "bv2 infer --help: exit %d, %s", r.code, r.out);
    const char *h2[] = {"g2p", "--help", NULL}, *h3[] = {"export", "--help", NULL};
    BV_CHECK(run_bv2(dir, NULL, &r, h2) == 0 && strstr(r.out, "usage: bv2 g2p"), "bv2 g2p --help: exit %d", r.code);
    BV_CHECK(run_bv2(dir, NULL, &r, h3) == 0 && strstr(r.out, "usage: bv2 export"), "bv2 export --help: exit %d", r.code);
    remove_tmpdir(dir);
}

/* ---------------- g2p ---------------- */

/* bv2 g2p --language ZH: --text, and stdin where a line upstream cannot handle is reported (exit 3) and
 * printed blank while the others print (expected lines: upstream's clean_text(text, "ZH")) */
BV_TEST(infer_cli_g2p_chinese) {
    if (!have_bv2(ts)) return;
    char dir[4096], in[4200];
    if (make_tmpdir(ts, dir, sizeof dir)) return;
    cmd_result r;
    static const char zh_line[] = "_ n i h ao , sh ir j ie ! _|0 2 2 3 3 0 4 4 4 4 0 0|1 2 2 1 2 2 1 1";
    const char *a1[] = {"g2p", "--language", "ZH", "--text", "你好，世界！", NULL};
    BV_CHECK(run_bv2(dir, NULL, &r, a1) == 0, "exit %d: %s", r.code, r.err);
    char want[512];
    snprintf(want, sizeof want, "%s\n", zh_line);
    BV_CHECK(!strcmp(r.out, want), "got '%s', want '%s'", r.out, want);
    snprintf(in, sizeof in, "%s/in.txt", dir);
    bv_test_write_text(in, "你好，世界！\n\nHello\n我们试试看吧。\n");
    const char *a2[] = {"g2p", "--language", "ZH", "--norm", NULL};
    run_bv2(dir, in, &r, a2);
    BV_CHECK(r.code == 3 && strstr(r.err, "error: line 3:") && strstr(r.err, "no Chinese text"), "exit %d, stderr %s",
             r.code, r.err);
    char *lines[8] = {0};
    int n = 0;
    for (char *p = r.out, *nl; n < 8 && (nl = strchr(p, '\n')); p = nl + 1) *nl = 0, lines[n++] = p;
    BV_CHECK(n == 4, "%d output lines for 4 input lines", n);
    if (n == 4) {
        snprintf(want, sizeof want, "你好,世界!|%s", zh_line);
        BV_CHECK(!strcmp(lines[0], want), "line 1 '%s'", lines[0]);
        BV_CHECK(!lines[1][0] && !lines[2][0], "lines 2-3 should be blank: '%s' '%s'", lines[1], lines[2]);
        BV_CHECK(!strcmp(lines[3], "我们试试看吧.|_ w o m en sh ir sh ir k an b a . _|0 3 3 5 5 4 4 5 5 4 4 5 5 0 0|1 2 2 2 2 2 2 1 1"),
                 "line 4 '%s'", lines[3]);
    }
    remove_tmpdir(dir);
}

BV_TEST(infer_cli_g2p_sentence) {
    if (!have_bv2(ts)) return;
    char dir[4096], in[4200];
    if (make_tmpdir(ts, dir, sizeof dir)) return;
    cmd_result r;
    const char *a1[] = {"g2p", "--language", "EN", "--text", "Hello, world.", NULL};
    BV_CHECK(run_bv2(dir, NULL, &r, a1) == 0, "exit %d: %s", r.code, r.err);
    char want[256];
    snprintf(want, sizeof want, "%s\n", EN_LINE);
    BV_CHECK(!strcmp(r.out, want), "got '%s', want '%s'", r.out, want);
    /* stdin: one line out per line in; a blank line stays blank; a bad line is reported and blank */
    snprintf(in, sizeof in, "%s/in.txt", dir);
    bv_test_write_text(in, "Hello, world.\n\nnaïve\nblorp!\n");
    const char *a2[] = {"g2p", "--norm", NULL};
    run_bv2(dir, in, &r, a2);
    BV_CHECK(r.code == 3 && strstr(r.err, "error: line 3:"), "exit %d, stderr %s", r.code, r.err);
    char *lines[8] = {0};
    int n = 0;
    for (char *p = r.out, *nl; n < 8 && (nl = strchr(p, '\n')); p = nl + 1) *nl = 0, lines[n++] = p;
    BV_CHECK(n == 4, "%d output lines for 4 input lines", n);
    if (n == 4) {
        snprintf(want, sizeof want, "Hello, world.|%s", EN_LINE);
        BV_CHECK(!strcmp(lines[0], want), "line 1 '%s'", lines[0]);
        BV_CHECK(!lines[1][0] && !lines[2][0], "lines 2-3 should be blank: '%s' '%s'", lines[1], lines[2]);
        /* "blorp" is not in CMUdict: letter-to-sound still gives phones (word2ph: blorp, !) */
        BV_CHECK(!strncmp(lines[3], "blorp!|_ b l ", 13) && strstr(lines[3], "|1 5 1 1"), "line 4 '%s'", lines[3]);
    }
    remove_tmpdir(dir);
}

/* The text_en sentences through `bv2 g2p` (stdin): phones and tones exactly upstream's, word2ph as the
 * stub tokenizer gave it (our rule is the same). Sentences with a line break cannot be one stdin line;
 * test_english.c covers those. */
BV_GOLDEN_TEST(infer_cli_g2p_matches_text_en) {
    if (!bv_golden_need(ts, "text_en/cases.jsonl", NULL)) return;
    if (!have_bv2(ts)) return;
    char path[4200], dir[4096], in[4200];
    snprintf(path, sizeof path, "%s/text_en/cases.jsonl", bv_test_golden_dir);
    FILE *f = fopen(path, "r");
    BV_CHECK(f != NULL, "cannot open %s", path);
    if (!f || make_tmpdir(ts, dir, sizeof dir)) {
        if (f) fclose(f);
        return;
    }
    snprintf(in, sizeof in, "%s/texts.txt", dir);
    FILE *fin = fopen(in, "w");
    cJSON *cases[512];
    int n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0 && n < 512) {
        cJSON *c = cJSON_Parse(line);
        const char *text = c ? cJSON_GetObjectItem(c, "text")->valuestring : NULL;
        if (!text || strpbrk(text, "\r\n")) {
            cJSON_Delete(c);
            continue;
        }
        fprintf(fin, "%s\n", text);
        cases[n++] = c;
    }
    free(line);
    fclose(f);
    fclose(fin);
    BV_CHECK(n > 100, "only %d usable cases", n);
    cmd_result *r = malloc(sizeof *r);
    const char *args[] = {"g2p", NULL};
    BV_CHECK(run_bv2(dir, in, r, args) == 0, "exit %d: %s", r->code, r->err);
    char *p = r->out;
    int bad = 0;
    for (int i = 0; i < n && !ts->failed; i++) {
        char *nl = strchr(p, '\n');
        BV_CHECK(nl != NULL, "output ends after %d lines", i);
        if (!nl) break;
        *nl = 0;
        char want[8192] = "";
        const char *keys[] = {"phones", "tones", "word2ph"};
        for (int k = 0; k < 3; k++) {
            const cJSON *a = cJSON_GetObjectItem(cases[i], keys[k]), *e;
            int first = 1;
            cJSON_ArrayForEach(e, a) {
                size_t l = strlen(want);
                if (cJSON_IsString(e)) snprintf(want + l, sizeof want - l, "%s%s", first ? "" : " ", e->valuestring);
                else snprintf(want + l, sizeof want - l, "%s%lld", first ? "" : " ", (long long)e->valuedouble);
                first = 0;
            }
            if (k < 2) strcat(want, "|");
        }
        if (strcmp(p, want) && bad++ < 5)
            BV_CHECK(0, "%s: got\n    %s\n  want\n    %s", cJSON_GetObjectItem(cases[i], "id")->valuestring, p, want);
        p = nl + 1;
    }
    BV_CHECK(bad == 0, "%d of %d sentences differ", bad, n);
    for (int i = 0; i < n; i++) cJSON_Delete(cases[i]);
    free(r);
    remove_tmpdir(dir);
}

/* ---------------- get_text ---------------- */

BV_TEST(infer_get_text_add_blank_and_word2ph) {
    char err[512];
    bv_infer_utt u;
    BV_CHECK(bv_infer_utt_from_phones(&u, EN_LINE, "EN", 1, err, sizeof err) == 0, "%s", err);
    if (ts->failed) return;
    /* 12 phones -> 25 symbols, blanks (id 0, tone 0, language 0) at even positions */
    BV_CHECK(u.n == 25 && u.language == BV_LANG_EN, "n %d, language %d", u.n, u.language);
    const int64_t w2[] = {3, 8, 2, 8, 2, 2}; /* doubled, first + 1 */
    int64_t s = 0;
    for (int i = 0; i < u.n_word2ph; i++) s += u.word2ph[i];
    BV_CHECK(u.n_word2ph == 6 && !memcmp(u.word2ph, w2, sizeof w2) && s == u.n, "word2ph after add_blank");
    for (int t = 0; t < u.n; t++) {
        if (t % 2 == 0) {
            BV_CHECK(u.phones[t] == 0 && u.tones[t] == 0 && u.langs[t] == 0, "position %d is not a blank", t);
        } else {
            BV_CHECK(u.langs[t] == BV_LANG_EN && u.tones[t] >= bv_language_tone_start(BV_LANG_EN), "position %d", t);
        }
    }
    BV_CHECK(u.phones[3] == bv_symbol_id("hh") && u.tones[3] == 3 + bv_language_tone_start(BV_LANG_EN), "hh");
    bv_infer_utt_free(&u);
    /* without add_blank: ids as they are, word2ph unchanged; word2ph is optional */
    BV_CHECK(bv_infer_utt_from_phones(&u, "_ n i h ao _|0 3 3 3 3 0", "ZH", 0, err, sizeof err) == 0, "%s", err);
    BV_CHECK(u.n == 6 && u.word2ph == NULL && u.langs[2] == BV_LANG_ZH && u.phones[1] == bv_symbol_id("n"), "ZH");
    bv_infer_utt_free(&u);
    /* errors name the problem */
    const struct {
        const char *line, *lang, *msg;
    } bad[] = {
        {"_ n i _", "ZH", "got 1 field"},
        {"a|b|c|d", "ZH", "got 4 fields"},
        {"|", "ZH", "empty phones"},
        {"_ n _|0 x 0", "ZH", "tone 2: 'x' is not an integer"},
        {"_ n _|0 3 0|1 a 1", "ZH", "word2ph entry 2"},
        {"_ n _|0 3 0|2 -1 2", "ZH", "negative"},
        {"_ n _|0 3 0", "XX", "unknown language"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = bv_infer_utt_from_phones(&u, bad[i].line, bad[i].lang, 1, err, sizeof err);
        BV_CHECK(rc == -1 && strstr(err, bad[i].msg), "'%s': rc %d, '%s' (want '%s')", bad[i].line, rc, err, bad[i].msg);
        if (!rc) bv_infer_utt_free(&u);
    }
}

/* ---------------- the loader ---------------- */

BV_TEST(infer_loader_rejects_mismatched_weights) {
    bv_infer_model m;
    char dir[4096], path[4200], err[1024];
    if (tiny_model(ts, &m, 7) || make_tmpdir(ts, dir, sizeof dir)) return;
    /* a safetensors file of the model's tensors, with one entry changed per case */
    bv_st_write_entry *e = calloc((size_t)m.ps.n + 1, sizeof *e);
    for (int i = 0; i < m.ps.n; i++) {
        bv_tensor *t = m.ps.items[i];
        e[i] = (bv_st_write_entry){.name = t->name, .dtype = BV_ST_F32, .ndim = t->ndim, .data = t->data};
        memcpy(e[i].shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    }
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    int64_t ids[4] = {1, 2, 3, 4};
    /* complete: loads */
    BV_CHECK(bv_st_write(path, e, m.ps.n, NULL, 0, err, sizeof err) == 0, "%s", err);
    BV_CHECK(bv_infer_model_load_weights(&m, path, NULL, err, sizeof err) == 0, "%s", err);
    /* one missing */
    bv_st_write(path, e + 1, m.ps.n - 1, NULL, 0, err, sizeof err);
    BV_CHECK(bv_infer_model_load_weights(&m, path, "", err, sizeof err) == -1 && strstr(err, m.ps.items[0]->name) &&
                 strstr(err, "1 parameter of the model is missing"), "missing: %s", err);
    /* a wrong shape (one more row; the data sized to match) */
    bv_st_write_entry keep = e[0];
    float *grown = calloc((size_t)(m.ps.items[0]->numel / e[0].shape[0] * (e[0].shape[0] + 1)), sizeof *grown);
    e[0].shape[0]++, e[0].data = grown;
    bv_st_write(path, e, m.ps.n, NULL, 0, err, sizeof err);
    BV_CHECK(bv_infer_model_load_weights(&m, path, "", err, sizeof err) == -1 && strstr(err, "got [") &&
                 strstr(err, "expected ["), "shape: %s", err);
    e[0] = keep;
    free(grown);
    /* an unknown key */
    e[m.ps.n] = (bv_st_write_entry){.name = "dec.extra.weight", .dtype = BV_ST_I64, .ndim = 1, .shape = {4}, .data = ids};
    bv_st_write(path, e, m.ps.n + 1, NULL, 0, err, sizeof err);
    BV_CHECK(bv_infer_model_load_weights(&m, path, "", err, sizeof err) == -1 && strstr(err, "'dec.extra.weight' is not"),
             "unknown: %s", err);
    /* a non-float tensor under a real name */
    int64_t *iv = calloc((size_t)m.ps.items[0]->numel, sizeof *iv);
    e[0].dtype = BV_ST_I64, e[0].data = iv;
    bv_st_write(path, e, m.ps.n, NULL, 0, err, sizeof err);
    BV_CHECK(bv_infer_model_load_weights(&m, path, "", err, sizeof err) == -1 && strstr(err, "not a float type"),
             "dtype: %s", err);
    e[0] = keep;
    free(iv);
    /* enc_q.* tensors in the file are skipped, not errors; a "module." prefix on every key is dropped */
    e[m.ps.n] = (bv_st_write_entry){.name = "enc_q.pre.weight", .dtype = BV_ST_I64, .ndim = 1, .shape = {4}, .data = ids};
    bv_st_write(path, e, m.ps.n + 1, NULL, 0, err, sizeof err);
    BV_CHECK(bv_infer_model_load_weights(&m, path, "", err, sizeof err) == 0 && m.n_skipped == 1, "enc_q: %s", err);
    char (*names)[256] = calloc((size_t)m.ps.n, sizeof *names);
    for (int i = 0; i < m.ps.n; i++) snprintf(names[i], sizeof names[i], "module.%s", m.ps.items[i]->name), e[i].name = names[i];
    bv_st_write(path, e, m.ps.n, NULL, 0, err, sizeof err);
    BV_CHECK(bv_infer_model_load_weights(&m, path, "", err, sizeof err) == 0, "module. prefix: %s", err);
    free(names);
    /* not a weight file; no file */
    snprintf(path, sizeof path, "%s/junk.pth", dir);
    bv_test_write_text(path, "PK\x03\x04 this is not a zip");
    BV_CHECK(bv_infer_model_load_weights(&m, path, "", err, sizeof err) == -1 && strstr(err, path), "junk: %s", err);
    BV_CHECK(bv_infer_model_load_weights(&m, "/nonexistent/G.pth", "", err, sizeof err) == -1 &&
                 strstr(err, "/nonexistent/G.pth"), "missing file: %s", err);
    /* a config SynthesizerTrn cannot be built from */
    bv_config cfg;
    bv_infer_model m2;
    if (!bv_config_parse(&cfg, TINY, "tiny.json", err, sizeof err)) {
        cfg.data.n_speakers = 0;
        BV_CHECK(bv_infer_model_init(&m2, &cfg, err, sizeof err) == -1 && strstr(err, "n_speakers"), "config: %s", err);
    }
    free(e);
    remove_tmpdir(dir);
    bv_infer_model_free(&m);
}

/* ---------------- export round trips ---------------- */

static int synth_one(bv_test_state *ts, const bv_infer_model *m, const char *line, uint64_t seed,
                     const bv_infer_opts *o, float **audio, int64_t *n) {
    bv_ctx ctx;
    bv_ctx_init(&ctx, (size_t)8 << 20, seed);
    bv_infer_utt u;
    char err[512];
    int rc = bv_infer_utt_from_phones(&u, line, "EN", m->cfg.data.add_blank, err, sizeof err);
    if (!rc) {
        u.speaker = 1;
        rc = bv_infer_synthesize(&ctx, m, &u, 1, o, audio, n, NULL, err, sizeof err);
        bv_infer_utt_free(&u);
    }
    BV_CHECK(rc == 0, "%s", err);
    bv_ctx_free(&ctx);
    return rc;
}

BV_TEST(infer_export_roundtrip) {
    bv_infer_model m;
    char dir[4096], path[4200], cfgp[4200], err[1024];
    if (tiny_model(ts, &m, 11) || make_tmpdir(ts, dir, sizeof dir)) return;
    bv_infer_model_prepare(&m); /* what loading does: both sides then take the same synthesis path */
    bv_infer_opts o = bv_infer_default_opts();
    o.sdp_ratio = 0; /* deterministic durations: fp16 weights must give the same length to compare audio */
    float *a0 = NULL;
    int64_t n0 = 0;
    /* speaker 1's row was partly overwritten: use it anyway, the same weights go in and come out */
    synth_one(ts, &m, EN_LINE, 5, &o, &a0, &n0);
    snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
    bv_test_write_text(cfgp, TINY);
    const char *exts[] = {"pth", "safetensors"};
    for (int fp16 = 0; fp16 <= 1; fp16++)
        for (int k = 0; k < 2; k++) {
            snprintf(path, sizeof path, "%s/G_export%s.%s", dir, fp16 ? "_half" : "", exts[k]);
            BV_CHECK(bv_infer_model_save(&m, path, fp16, err, sizeof err) == 0, "%s", err);
            bv_infer_model m2;
            BV_CHECK(bv_infer_model_load(&m2, path, cfgp, err, sizeof err) == 0, "%s: %s", path, err);
            if (ts->failed) continue;
            BV_CHECK(m2.ps.n == m.ps.n && m2.n_skipped == 0, "%s: %d tensors, %d skipped", path, m2.ps.n, m2.n_skipped);
            int64_t bad = 0;
            for (int i = 0; i < m.ps.n; i++) {
                const bv_tensor *p = m.ps.items[i], *q = m2.ps.items[i];
                BV_CHECK(!strcmp(p->name, q->name), "order: %s vs %s", p->name, q->name);
                for (int64_t j = 0; j < p->numel; j++) {
                    float want = fp16 ? (float)(_Float16)p->data[j] : p->data[j]; /* the compiler's IEEE rounding */
                    bad += memcmp(&want, &q->data[j], 4) != 0;
                }
            }
            BV_CHECK(bad == 0, "%s: %lld weights differ from the %s originals", path, (long long)bad,
                     fp16 ? "fp16-rounded" : "exact");
            BV_CHECK(k == 1 || m2.iteration == 0, "%s: iteration %lld", path, (long long)m2.iteration);
            float *a1 = NULL;
            int64_t n1 = 0;
            if (!synth_one(ts, &m2, EN_LINE, 5, &o, &a1, &n1)) {
                BV_CHECK(n1 == n0, "%s: %lld samples, original %lld", path, (long long)n1, (long long)n0);
                if (n1 == n0 && !fp16)
                    BV_CHECK(memcmp(a1, a0, sizeof(float) * (size_t)n0) == 0, "%s: audio differs", path);
                if (n1 == n0 && fp16) {
                    double d = max_abs_diff(a1, a0, n0), s = max_abs(a0, n0);
                    BV_CHECK(d <= 0.02 * s, "%s: fp16 audio off by %g (peak %g)", path, d, s);
                }
            }
            free(a1);
            bv_infer_model_free(&m2);
        }
    free(a0);
    /* fp16 rounding at the edges (ties, subnormals, overflow, signed zero), against the compiler's */
    const float special[] = {1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 65504.0f, 65519.0f, 65520.0f, 1e9f, -1e-5f,
                             -3e-8f, 6e-8f, 2.9e-8f, 2.99e-8f, -0.0f, 5.960464477539063e-08f, 8.940696716308594e-08f,
                             3.0517578125e-05f, 6.097555160522461e-05f, 6.103515625e-05f, -INFINITY};
    const int nsp = (int)(sizeof special / sizeof special[0]);
    bv_tensor *big = m.ps.items[0];
    for (int i = 1; i < m.ps.n; i++) big = m.ps.items[i]->numel > big->numel ? m.ps.items[i] : big;
    BV_CHECK(big->numel >= nsp, "no tensor with %d elements", nsp);
    memcpy(big->data, special, sizeof special);
    snprintf(path, sizeof path, "%s/special_half.safetensors", dir);
    bv_infer_model m3;
    BV_CHECK(bv_infer_model_save(&m, path, 1, err, sizeof err) == 0, "%s", err);
    BV_CHECK(bv_infer_model_load(&m3, path, cfgp, err, sizeof err) == 0, "%s", err);
    if (!ts->failed) {
        const float *got = bv_params_get(&m3.ps, big->name)->data;
        for (int i = 0; i < nsp; i++) {
            float want = (float)(_Float16)special[i];
            BV_CHECK(!memcmp(&want, &got[i], 4), "fp16 of %.9g: got %.9g, want %.9g", (double)special[i],
                     (double)got[i], (double)want);
        }
        bv_infer_model_free(&m3);
    }
    /* the command: bv2 export of a training-style checkpoint (with enc_q) */
    if (have_bv2(ts)) {
        bv_infer_model full;
        bv_config cfg;
        bv_params ps;
        bv_params_init(&ps);
        if (!bv_config_parse(&cfg, TINY, "tiny.json", err, sizeof err)) {
            bv_synth *net_g = bv_synth_from_config(&ps, "", &cfg);
            bv_pk_doc *doc = bv_pk_doc_new();
            bv_pk_value *ck = bv_pk_dict(doc, 0), *sd = bv_pk_dict(doc, 1);
            int enc_q = 0;
            for (int i = 0; i < ps.n; i++) {
                bv_tensor *p = ps.items[i], *q = bv_params_get(&m.ps, p->name);
                if (q) memcpy(p->data, q->data, sizeof(float) * (size_t)p->numel);
                enc_q += !q;
                bv_pk_dict_set_str(doc, sd, p->name, bv_pk_tensor_ref(doc, BV_ST_F32, p->ndim, p->shape, p->data));
            }
            bv_pk_dict_set_str(doc, ck, "model", sd);
            bv_pk_dict_set_str(doc, ck, "iteration", bv_pk_int(doc, 42));
            bv_pk_dict_set_str(doc, ck, "optimizer", bv_pk_none(doc));
            bv_pk_dict_set_str(doc, ck, "learning_rate", bv_pk_float(doc, 1e-4));
            snprintf(path, sizeof path, "%s/G_42.pth", dir);
            BV_CHECK(bv_pth_save(path, ck, err, sizeof err) == 0, "%s", err);
            bv_pk_doc_free(doc);
            bv_synth_free(net_g);
            bv_config_free(&cfg);
            char out[4200];
            snprintf(out, sizeof out, "%s/G_42_release.safetensors", dir);
            cmd_result r;
            const char *args[] = {"export", "-m", path, "-c", cfgp, "-o", out, NULL};
            BV_CHECK(run_bv2(dir, NULL, &r, args) == 0, "bv2 export exited %d: %s", r.code, r.err);
            BV_CHECK(bv_infer_model_load(&full, out, cfgp, err, sizeof err) == 0, "%s", err);
            if (!ts->failed) {
                BV_CHECK(enc_q > 0 && full.ps.n == m.ps.n, "%d enc_q tensors in, %d tensors out", enc_q, full.ps.n);
                bv_safetensors st;
                if (!bv_st_open(&st, out, err, sizeof err)) {
                    int has_enc_q = 0;
                    for (int i = 0; i < st.n; i++) has_enc_q += !strncmp(st.entries[i].name, "enc_q.", 6);
                    BV_CHECK(has_enc_q == 0 && st.n == m.ps.n, "export holds %d enc_q of %d tensors", has_enc_q, st.n);
                    bv_st_close(&st);
                }
                bv_infer_model_free(&full);
            }
        }
        bv_params_free(&ps);
    }
    remove_tmpdir(dir);
    bv_infer_model_free(&m);
}

/* ---------------- batches ---------------- */

/* A padded batch gives each utterance its own length; the longest (no padding) equals its single run. */
BV_TEST(infer_synthesize_batch_matches_single) {
    bv_infer_model m;
    if (tiny_model(ts, &m, 3)) return;
    const char *lines[2] = {"_ hh ah l ow , w er l d . _|0 3 1 3 2 0 3 2 3 3 0 0", "_ hh ay _|0 3 2 0"};
    bv_infer_opts o = bv_infer_default_opts();
    o.sdp_ratio = 0, o.noise_scale = 0; /* no randomness reaches the audio */
    bv_infer_utt u[2];
    char err[512];
    for (int i = 0; i < 2; i++) {
        BV_CHECK(bv_infer_utt_from_phones(&u[i], lines[i], "EN", 1, err, sizeof err) == 0, "%s", err);
        u[i].speaker = i;
    }
    if (ts->failed) return;
    float *single[2], *batch[2];
    int64_t ns[2], nb[2];
    for (int i = 0; i < 2; i++) {
        BV_CHECK(bv_infer_synthesize(ts->ctx, &m, &u[i], 1, &o, &single[i], &ns[i], NULL, err, sizeof err) == 0, "%s", err);
        bv_ctx_reset(ts->ctx);
    }
    BV_CHECK(bv_infer_synthesize(ts->ctx, &m, u, 2, &o, batch, nb, NULL, err, sizeof err) == 0, "%s", err);
    if (!ts->failed) {
        BV_CHECK(nb[0] == ns[0] && nb[1] == ns[1], "lengths batch %lld, %lld vs single %lld, %lld", (long long)nb[0],
                 (long long)nb[1], (long long)ns[0], (long long)ns[1]);
        if (nb[0] == ns[0]) {
            double d = max_abs_diff(batch[0], single[0], ns[0]), s = max_abs(single[0], ns[0]);
            BV_CHECK(d <= 1e-4 * fmax(1.0, s), "longest utterance: batch differs from single by %g (peak %g)", d, s);
        }
        for (int i = 0; i < 2; i++) free(single[i]), free(batch[i]);
    }
    /* bad utterances are reported, not crashed on */
    u[1].speaker = 5;
    float *a[2];
    int64_t n[2];
    BV_CHECK(bv_infer_synthesize(ts->ctx, &m, u, 2, &o, a, n, NULL, err, sizeof err) == -1 && strstr(err, "speaker id 5"),
             "%s", err);
    for (int i = 0; i < 2; i++) bv_infer_utt_free(&u[i]);
    bv_infer_model_free(&m);
}

static int files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        eq = ca == cb;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return eq;
}

BV_TEST(infer_cli_batch_numbering_and_seeds) {
    if (!have_bv2(ts)) return;
    bv_infer_model m;
    char dir[4096], model[4200], list[4200], out[4200], a[8600], b[8600];
    if (tiny_model(ts, &m, 5) || make_tmpdir(ts, dir, sizeof dir) || tiny_files(ts, &m, dir)) return;
    snprintf(model, sizeof model, "%s/G_1.pth", dir);
    snprintf(list, sizeof list, "%s/lines.txt", dir);
    bv_test_write_text(list, "Hello, world.\n\nThe cat sat on the mat.\nGood night!\n");
    snprintf(out, sizeof out, "%s/wavs", dir);
    cmd_result r;
    const char *args[] = {"infer", "-m", model, "--speaker", "bob", "--batch", list, "-o", out, "--seed", "77", NULL};
    BV_CHECK(run_bv2(dir, NULL, &r, args) == 0, "exit %d: %s", r.code, r.err);
    const char *want[] = {"0001.wav", "0003.wav", "0004.wav"};
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/%s", out, want[i]);
        BV_CHECK(access(a, R_OK) == 0, "%s missing (%s)", a, r.err);
        if (!ts->failed) check_wav(ts, a, 16000, 4);
    }
    snprintf(a, sizeof a, "%s/0002.wav", out);
    BV_CHECK(access(a, F_OK) != 0, "a blank line made %s", a);
    /* line 3 uses seed 77 + 2: the same as a single run with --seed 79 */
    snprintf(b, sizeof b, "%s/single.wav", dir);
    const char *one[] = {"infer", "-m", model, "--speaker", "bob", "--text", "The cat sat on the mat.", "--seed", "79",
                         "-o", b, "-q", NULL};
    BV_CHECK(run_bv2(dir, NULL, &r, one) == 0, "exit %d: %s", r.code, r.err);
    snprintf(a, sizeof a, "%s/0003.wav", out);
    BV_CHECK(files_equal(a, b), "batch line 3 differs from the single run with seed 79");
    /* several per pass; a bad line stops the run before anything is written, naming file:line */
    snprintf(out, sizeof out, "%s/wavs2", dir);
    const char *args2[] = {"infer", "-m", model, "--speaker", "alice", "--batch", list, "--batch-size", "2", "-o", out,
                           "-q", NULL};
    BV_CHECK(run_bv2(dir, NULL, &r, args2) == 0, "batch-size 2: exit %d: %s", r.code, r.err);
    snprintf(a, sizeof a, "%s/0004.wav", out);
    if (!ts->failed) check_wav(ts, a, 16000, 4);
    bv_test_write_text(list, "_ hh ay _|0 3 2 0\n_ zz _|0 0 0\n");
    snprintf(out, sizeof out, "%s/wavs3", dir);
    const char *args3[] = {"infer", "-m", model, "--speaker", "alice", "--batch", list, "--phones-batch", "-o", out, NULL};
    run_bv2(dir, NULL, &r, args3);
    BV_CHECK(r.code == 3 && strstr(r.err, "lines.txt:2: unknown phone symbol"), "exit %d: %s", r.code, r.err);
    snprintf(a, sizeof a, "%s/0001.wav", out);
    BV_CHECK(access(a, F_OK) != 0, "%s written despite a bad line", a);
    remove_tmpdir(dir);
    bv_infer_model_free(&m);
}

/* ---------------- the safetensors writer ---------------- */

BV_TEST(infer_safetensors_writer_roundtrip) {
    char dir[4096], path[4200], err[512];
    if (make_tmpdir(ts, dir, sizeof dir)) return;
    snprintf(path, sizeof path, "%s/t.safetensors", dir);
    float f[6] = {1, -2, 3.5f, 0, 1e-30f, -7};
    int64_t i64[3] = {-1, 0, (int64_t)1 << 40};
    uint16_t h[3] = {0x3c00, 0xc000, 0x7c00};
    double d = 0.1;
    bv_st_write_entry e[] = {
        {.name = "a.weight", .dtype = BV_ST_F32, .ndim = 2, .shape = {2, 3}, .data = f},
        {.name = "ids", .dtype = BV_ST_I64, .ndim = 1, .shape = {3}, .data = i64},
        {.name = "half \"quoted\"\\", .dtype = BV_ST_F16, .ndim = 1, .shape = {3}, .data = h},
        {.name = "scalar", .dtype = BV_ST_F64, .ndim = 0, .data = &d},
        {.name = "empty", .dtype = BV_ST_F32, .ndim = 2, .shape = {0, 4}, .data = f},
    };
    const char *meta[] = {"format", "pt", "note", "line\nbreak"};
    BV_CHECK(bv_st_write(path, e, 5, meta, 2, err, sizeof err) == 0, "%s", err);
    bv_safetensors st;
    BV_CHECK(bv_st_open(&st, path, err, sizeof err) == 0, "%s", err);
    if (!ts->failed) {
        BV_CHECK(st.n == 5, "%d entries", st.n);
        uint64_t hlen = 0;
        for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | st.buf[k];
        BV_CHECK((8 + hlen) % 8 == 0, "header length %llu: data not 8-aligned", (unsigned long long)hlen);
        for (int k = 0; k < 5 && k < st.n; k++) {
            const bv_st_entry *x = bv_st_find(&st, e[k].name);
            BV_CHECK(x != NULL, "'%s' not found", e[k].name);
            if (!x) continue;
            size_t nb = bv_st_dtype_size(e[k].dtype);
            for (int dd = 0; dd < e[k].ndim; dd++) nb *= (size_t)e[k].shape[dd];
            BV_CHECK(x->dtype == e[k].dtype && x->ndim == e[k].ndim && x->nbytes == nb &&
                         !memcmp(x->shape, e[k].shape, sizeof(int64_t) * (size_t)e[k].ndim) &&
                         (nb == 0 || !memcmp(x->data, e[k].data, nb)), "'%s' differs", e[k].name);
        }
        bv_st_close(&st);
    }
    /* errors: duplicate names, reserved name, unwritable path */
    bv_st_write_entry dup[2] = {e[0], e[0]};
    BV_CHECK(bv_st_write(path, dup, 2, NULL, 0, err, sizeof err) == -1 && strstr(err, "appears twice"), "%s", err);
    dup[0].name = "__metadata__";
    BV_CHECK(bv_st_write(path, dup, 1, NULL, 0, err, sizeof err) == -1 && strstr(err, "reserved"), "%s", err);
    BV_CHECK(bv_st_write("/nonexistent/x.safetensors", e, 1, NULL, 0, err, sizeof err) == -1 &&
                 strstr(err, "/nonexistent/x.safetensors.tmp"), "%s", err);
    /* the earlier file is intact (errors never touch it) */
    BV_CHECK(bv_st_open(&st, path, err, sizeof err) == 0 && st.n == 5, "%s", err);
    bv_st_close(&st);
    remove_tmpdir(dir);
}

BV_TEST(infer_split_sentences) {
    struct { const char *text; int n; const char *first, *last; } cases[] = {
        {"Hello, world. The quick brown fox!", 2, "Hello, world.", "The quick brown fox!"},
        {"One sentence only", 1, "One sentence only", "One sentence only"},
        {"Wait... what?! Yes.", 3, "Wait...", "Yes."},
        {"  line one\nline two  \n\n", 2, "line one", "line two"},
        {"3.14 is pi. e.g.no split", 2, "3.14 is pi.", "e.g.no split"},
        {"\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82\xe5\x86\x8d\xe8\xa7\x81\xef\xbc\x81", 2,
         "\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82", "\xe5\x86\x8d\xe8\xa7\x81\xef\xbc\x81"}, /* 你好。再见！ */
        {"   ", 0, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char **p;
        int n = bv_infer_split_sentences(cases[i].text, &p);
        BV_CHECK(n == cases[i].n, "case %zu: %d pieces, expected %d", i, n, cases[i].n);
        if (n == cases[i].n && n > 0)
            BV_CHECK(!strcmp(p[0], cases[i].first) && !strcmp(p[n - 1], cases[i].last), "case %zu: '%s' ... '%s'", i,
                     p[0], p[n - 1]);
        bv_infer_pieces_free(p, n);
    }
}
