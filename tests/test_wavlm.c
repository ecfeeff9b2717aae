/* test_wavlm.c - WavLM (src/model/wavlm.c): golden case E01_wavlm_tiny built from the case's param.*
 * tensors and from the folder users point the loader at (golden wavlm_tiny/), the safetensors
 * loader with every naming variant and every error it must raise, config parsing, the relative
 * position buckets, and a finite-difference check of d hidden_states / d wav. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/model/wavlm.h"
#include "../src/ops/ops.h"
#include "fixtures.h"
#include "golden.h"

/* ------------------------------------------------------------------ golden helpers */

/* Model from the manifest config (config.hf_config is the folder's config.json). */
static bv_wavlm *model_from_manifest(bv_test_state *ts, bv_golden *g) {
    const cJSON *hf = cJSON_GetObjectItem(bv_golden_config(g), "hf_config");
    bv_wavlm_cfg cfg;
    char err[512];
    int rc = bv_wavlm_cfg_from_json(&cfg, hf, "E01 manifest hf_config", err, sizeof err);
    BV_CHECK(rc == 0, "%s", err);
    return rc == 0 ? bv_wavlm_new(&cfg) : NULL;
}

/* Forward on in.input_values, every stored hidden state, backward, gin.* (and that no WavLM
 * parameter got a gradient: the model is frozen). */
static void run_case(bv_test_state *ts, bv_golden *g, bv_wavlm *m) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_golden_input(g, "in.input_values"); // [B, T]
    bv_tensor *hs[BV_WAVLM_MAX_LAYERS + 1];
    bv_wavlm_forward(ctx, m, x, hs);
    const int n = m->cfg.num_hidden_layers + 1;
    char name[64], full[80];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "hidden_states.%d", i);
        snprintf(full, sizeof full, "out.%s", name);
        BV_CHECK(bv_golden_has(g, full), "%s not stored: the case has another layer count", full);
        bv_golden_output(g, name, hs[i]); // [B, F, E]
    }
    snprintf(full, sizeof full, "out.hidden_states.%d", n);
    BV_CHECK(!bv_golden_has(g, full), "%s stored: the model makes only %d hidden states", full, n);
    BV_CHECK(bv_golden_has(g, "gin.input_values"), "gin.input_values missing from the case");
    if (cJSON_GetObjectItem(bv_golden_case_json(g), "differentiated_outputs")) {
        bv_golden_backward(g);
    } else { /* E01's manifest entry lists no differentiated_outputs: L sums every stored gout */
        bv_tensor *roots[BV_WAVLM_MAX_LAYERS + 1];
        const bv_tensor *gouts[BV_WAVLM_MAX_LAYERS + 1];
        int k = 0;
        for (int i = 0; i < n; i++) {
            snprintf(full, sizeof full, "gout.hidden_states.%d", i);
            if (!bv_golden_has(g, full)) continue;
            roots[k] = hs[i];
            gouts[k++] = bv_golden_tensor(g, full);
        }
        BV_CHECK(k > 0, "no gout.hidden_states.* stored");
        bv_backward_multi(ctx, k, roots, gouts);
    }
    bv_golden_check_grads(g, &m->params, "param.");
    for (int i = 0; i < m->params.n; i++) {
        const bv_tensor *p = m->params.items[i];
        BV_CHECK(!p->requires_grad, "%s requires grad", p->name);
        int64_t nz = 0;
        for (int64_t j = 0; j < p->numel; j++) nz += p->grad[j] != 0.0f;
        BV_CHECK(nz == 0, "%s: %lld grad elements touched in a frozen model", p->name, (long long)nz);
    }
}

BV_GOLDEN_TEST(wavlm_E01_wavlm_tiny) {
    bv_golden *g = bv_golden_open(ts, ts->ctx, "E01_wavlm_tiny");
    if (!g) return;
    bv_wavlm *m = model_from_manifest(ts, g);
    if (m) {
        bv_golden_load_params(g, &m->params, "param.");
        run_case(ts, g, m);
    }
    bv_wavlm_free(m);
    bv_golden_close(g);
}

/* Every model parameter must equal the case's param.<name> bit for bit (masked_spec_embed only when
 * the loaded folder had it: `with_masked`). */
static void check_params_equal_case(bv_test_state *ts, bv_golden *g, const bv_wavlm *m, int with_masked) {
    char nm[300];
    for (int i = 0; i < m->params.n; i++) {
        const bv_tensor *p = m->params.items[i];
        snprintf(nm, sizeof nm, "param.%s", p->name);
        if (p == m->masked_spec_embed && !with_masked) continue; /* unused in eval; a folder may omit it */
        BV_CHECK(bv_golden_has(g, nm), "%s not in the case", nm);
        if (!bv_golden_has(g, nm)) continue;
        bv_tensor *e = bv_golden_tensor(g, nm);
        BV_CHECK(e->numel == p->numel && !memcmp(e->data, p->data, sizeof(float) * (size_t)p->numel),
                 "loaded %s differs from the case's", p->name);
    }
}

/* The folder users point the loader at: wavlm_tiny/{config.json,pytorch_model.bin}. */
BV_GOLDEN_TEST(wavlm_E01_wavlm_tiny_load_folder) {
    if (!bv_golden_need(ts, "wavlm_tiny/config.json", NULL)) return;
    bv_golden *g = bv_golden_open(ts, ts->ctx, "E01_wavlm_tiny");
    if (!g) return;
    char dir[1024], err[1024];
    snprintf(dir, sizeof dir, "%s/wavlm_tiny", bv_test_golden_dir);
    bv_wavlm *m = bv_wavlm_load(dir, err, sizeof err);
    BV_CHECK(m != NULL, "load %s: %s", dir, err);
    if (m) {
        bv_wavlm *ref = model_from_manifest(ts, g); /* same config as the manifest's */
        BV_CHECK(ref && ref->params.n == m->params.n, "loaded model has %d parameters, manifest config %d",
                 m->params.n, ref ? ref->params.n : -1);
        bv_wavlm_free(ref);
        check_params_equal_case(ts, g, m, 1); /* pytorch_model.bin holds masked_spec_embed too */
        run_case(ts, g, m);
    }
    bv_wavlm_free(m);
    bv_golden_close(g);
}

/* ------------------------------------------------------------------ safetensors folders */

typedef struct st_out {
    char name[256];
    int ndim;
    int64_t shape[8];
    const float *data;
} st_out;

/* A minimal safetensors writer (header JSON padded to 8 bytes, F32 data back to back). */
static int write_safetensors(const char *path, const st_out *ts, int n) {
    cJSON *h = cJSON_CreateObject();
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject(), *sh = cJSON_CreateArray(), *of = cJSON_CreateArray();
        int64_t numel = 1;
        for (int d = 0; d < ts[i].ndim; d++) {
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)ts[i].shape[d]));
            numel *= ts[i].shape[d];
        }
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        off += (size_t)numel * 4;
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        cJSON_AddStringToObject(e, "dtype", "F32");
        cJSON_AddItemToObject(e, "shape", sh);
        cJSON_AddItemToObject(e, "data_offsets", of);
        cJSON_AddItemToObject(h, ts[i].name, e);
    }
    char *js = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    size_t hl = strlen(js), pad = (8 - hl % 8) % 8;
    uint64_t total = hl + pad;
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(total >> (8 * i));
    FILE *f = fopen(path, "wb");
    int ok = f != NULL;
    if (f) {
        ok &= fwrite(len, 1, 8, f) == 8 && fwrite(js, 1, hl, f) == hl;
        for (size_t i = 0; i < pad; i++) ok &= fputc(' ', f) != EOF;
        for (int i = 0; i < n; i++) {
            int64_t numel = 1;
            for (int d = 0; d < ts[i].ndim; d++) numel *= ts[i].shape[d];
            ok &= fwrite(ts[i].data, 4, (size_t)numel, f) == (size_t)numel;
        }
        ok &= fclose(f) == 0;
    }
    free(js);
    return ok;
}

/* The case's param.* tensors under their WavLMModel names (masked_spec_embed left out, pos-conv
 * weight norm under newer torch's parametrizations names). Returns the count. */
static int case_params(bv_golden *g, st_out *out, int cap) {
    const cJSON *t;
    int n = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(bv_golden_case_json(g), "tensors")) {
        const char *nm = cJSON_GetObjectItem(t, "name")->valuestring;
        if (strncmp(nm, "param.", 6) != 0 || strcmp(nm, "param.masked_spec_embed") == 0 || n == cap) continue;
        bv_tensor *e = bv_golden_tensor(g, nm);
        st_out *o = &out[n++];
        const char *key = nm + 6, *wn = "encoder.pos_conv_embed.conv.weight_";
        if (!strncmp(key, wn, strlen(wn)))
            snprintf(o->name, sizeof o->name, "encoder.pos_conv_embed.conv.parametrizations.weight.original%d",
                     key[strlen(wn)] == 'g' ? 0 : 1);
        else
            snprintf(o->name, sizeof o->name, "%s", key);
        o->ndim = e->ndim;
        memcpy(o->shape, e->shape, sizeof(int64_t) * (size_t)e->ndim);
        o->data = e->data;
    }
    return n;
}

static int find_out(const st_out *ts, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(ts[i].name, name)) return i;
    return -1;
}

/* Load dir after writing ts as its model.safetensors; expect failure with every needle in err. */
static void expect_load_error(bv_test_state *ts, const char *dir, const st_out *t, int n, const char *what,
                              const char *needle1, const char *needle2, const char *needle3) {
    char path[1200], err[1024] = "";
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    BV_CHECK(write_safetensors(path, t, n), "cannot write %s", path);
    bv_wavlm *m = bv_wavlm_load(dir, err, sizeof err);
    BV_CHECK(m == NULL, "%s: loaded without error", what);
    bv_wavlm_free(m);
    const char *needles[3] = {needle1, needle2, needle3};
    for (int i = 0; i < 3; i++)
        if (needles[i]) BV_CHECK(strstr(err, needles[i]) != NULL, "%s: error '%s' lacks '%s'", what, err, needles[i]);
}

/* model.safetensors path: the parametrizations names, a missing masked_spec_embed and a "wavlm."
 * prefix load; the loaded model reproduces E01; unknown / missing / wrongly shaped / duplicated
 * tensors are errors naming the tensor (and both shapes). */
BV_GOLDEN_TEST(wavlm_E01_wavlm_tiny_safetensors) {
    bv_golden *g = bv_golden_open(ts, ts->ctx, "E01_wavlm_tiny");
    if (!g) return;
    char dir[] = "/tmp/bv_wavlm_XXXXXX", path[1200], err[1024] = "";
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *cfg_text = cJSON_Print(cJSON_GetObjectItem(bv_golden_config(g), "hf_config"));
    BV_CHECK(bv_test_write_text(path, cfg_text) == 0, "cannot write %s", path);
    free(cfg_text);

    enum { CAP = 512 };
    st_out *t = calloc(CAP + 2, sizeof *t);
    int n = case_params(g, t, CAP);
    char prefixed[sizeof t[0].name];
    memcpy(prefixed, t[0].name, sizeof prefixed);
    snprintf(t[0].name, sizeof t[0].name, "wavlm.%.240s", prefixed); /* head-model prefix on one tensor */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    BV_CHECK(write_safetensors(path, t, n), "cannot write %s", path);
    bv_wavlm *m = bv_wavlm_load(dir, err, sizeof err);
    BV_CHECK(m != NULL, "load %s: %s", dir, err);
    if (m) {
        check_params_equal_case(ts, g, m, 0);
        run_case(ts, g, m);
    }
    bv_wavlm_free(m);
    bv_golden_ignore(g, "param.masked_spec_embed", "left out of the written folder on purpose: a folder may omit it "
                                                   "(unused in eval); wavlm_E01_wavlm_tiny_load_folder compares it");

    /* wrong shape: a [E, I] weight written as [I, E] */
    int k = find_out(t, n, "encoder.layers.0.feed_forward.output_dense.weight");
    BV_CHECK(k >= 0, "case lacks layer 0 output_dense");
    if (k >= 0) {
        st_out saved = t[k];
        char want[64], got[64];
        snprintf(want, sizeof want, "[%lld, %lld]", (long long)t[k].shape[0], (long long)t[k].shape[1]);
        snprintf(got, sizeof got, "[%lld, %lld]", (long long)t[k].shape[1], (long long)t[k].shape[0]);
        t[k].shape[0] = saved.shape[1];
        t[k].shape[1] = saved.shape[0];
        expect_load_error(ts, dir, t, n, "wrong shape", "encoder.layers.0.feed_forward.output_dense.weight", got, want);
        t[k] = saved;
    }
    /* unknown tensor */
    t[n] = t[1];
    snprintf(t[n].name, sizeof t[n].name, "encoder.layers.0.attention.not_a_parameter");
    expect_load_error(ts, dir, t, n + 1, "unknown tensor", "encoder.layers.0.attention.not_a_parameter", "unknown",
                      NULL);
    /* missing tensor: drop encoder.layer_norm.bias (swap it to the end, write n - 1) */
    k = find_out(t, n, "encoder.layer_norm.bias");
    BV_CHECK(k >= 0, "case lacks encoder.layer_norm.bias");
    if (k >= 0) {
        st_out tmp = t[k];
        t[k] = t[n - 1];
        t[n - 1] = tmp;
        expect_load_error(ts, dir, t, n - 1, "missing tensor", "encoder.layer_norm.bias", "missing", NULL);
        t[n - 1] = t[k];
        t[k] = tmp;
    }
    /* the same weight under both names */
    k = find_out(t, n, "encoder.pos_conv_embed.conv.parametrizations.weight.original0");
    BV_CHECK(k >= 0, "pos-conv weight_g not renamed");
    if (k >= 0) {
        t[n] = t[k];
        snprintf(t[n].name, sizeof t[n].name, "encoder.pos_conv_embed.conv.weight_g");
        expect_load_error(ts, dir, t, n + 1, "duplicate", "encoder.pos_conv_embed.conv.weight_g", "twice", NULL);
    }
    free(t);
    bv_test_rm_rf(dir);
    bv_golden_close(g);
}

/* ------------------------------------------------------------------ unit tests */

BV_TEST(wavlm_load_errors) {
    char err[1024] = "";
    bv_wavlm *m = bv_wavlm_load("/nonexistent/wavlm-base-plus", err, sizeof err);
    BV_CHECK(m == NULL && strstr(err, "/nonexistent/wavlm-base-plus/config.json"), "missing dir: '%s'", err);
    bv_wavlm_free(m);

    char dir[] = "/tmp/bv_wavlm_XXXXXX", path[1200];
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
    snprintf(path, sizeof path, "%s/config.json", dir);
    BV_CHECK(bv_test_write_text(path, "{\"hidden_size\": 64,") == 0, "cannot write %s", path);
    m = bv_wavlm_load(dir, err, sizeof err);
    BV_CHECK(m == NULL && strstr(err, "config.json") && strstr(err, "JSON"), "broken JSON: '%s'", err);
    bv_wavlm_free(m);
    BV_CHECK(bv_test_write_text(path, "{\"hidden_size\": \"big\"}") == 0, "cannot write %s", path);
    m = bv_wavlm_load(dir, err, sizeof err);
    BV_CHECK(m == NULL && strstr(err, "config.json") && strstr(err, "'hidden_size'"), "bad key: '%s'", err);
    bv_wavlm_free(m);
    /* a valid config but no weights file */
    BV_CHECK(bv_test_write_text(path, "{\"hidden_size\": 16, \"num_attention_heads\": 2, "
                                      "\"num_conv_pos_embedding_groups\": 2}") == 0,
             "cannot write %s", path);
    m = bv_wavlm_load(dir, err, sizeof err);
    BV_CHECK(m == NULL && strstr(err, "model.safetensors") && strstr(err, "pytorch_model.bin"), "no weights: '%s'",
             err);
    bv_wavlm_free(m);
    bv_test_rm_rf(dir);
}

/* Parse text as a config; return 0 if it was accepted, else check err names `key`. */
static int cfg_rejects(bv_test_state *ts, const char *text, const char *key) {
    bv_wavlm_cfg cfg;
    char err[512] = "";
    cJSON *j = cJSON_Parse(text);
    int rc = bv_wavlm_cfg_from_json(&cfg, j, "config.json", err, sizeof err);
    cJSON_Delete(j);
    BV_CHECK(rc != 0, "config %s accepted", text);
    BV_CHECK(rc == 0 || (strstr(err, key) && strstr(err, "config.json")), "config %s: error '%s' lacks '%s'", text,
             err, key);
    return rc != 0;
}

BV_TEST(wavlm_config) {
    bv_wavlm_cfg cfg;
    char err[512];
    cJSON *j = cJSON_Parse("{}");
    BV_CHECK(bv_wavlm_cfg_from_json(&cfg, j, "config.json", err, sizeof err) == 0, "%s", err);
    cJSON_Delete(j);
    /* WavLMConfig() defaults = microsoft/wavlm-base-plus */
    BV_CHECK(cfg.hidden_size == 768 && cfg.num_attention_heads == 12 && cfg.intermediate_size == 3072 &&
                 cfg.num_hidden_layers == 12 && cfg.num_feat_extract_layers == 7 && cfg.conv_dim[6] == 512 &&
                 cfg.conv_kernel[0] == 10 && cfg.conv_stride[0] == 5 && cfg.conv_kernel[6] == 2 && !cfg.conv_bias &&
                 cfg.num_conv_pos_embeddings == 128 && cfg.num_conv_pos_embedding_groups == 16 &&
                 cfg.num_buckets == 320 && cfg.max_bucket_distance == 800 && cfg.layer_norm_eps == 1e-5f &&
                 cfg.has_masked_spec_embed,
             "defaults differ from WavLMConfig()");
    cfg_rejects(ts, "{\"hidden_size\": \"big\"}", "'hidden_size'");
    cfg_rejects(ts, "{\"num_hidden_layers\": 2.5}", "'num_hidden_layers'");
    cfg_rejects(ts, "{\"hidden_size\": 100}", "'num_attention_heads'");
    cfg_rejects(ts, "{\"feat_extract_norm\": \"layer\"}", "'feat_extract_norm'");
    cfg_rejects(ts, "{\"do_stable_layer_norm\": true}", "'do_stable_layer_norm'");
    cfg_rejects(ts, "{\"hidden_act\": \"relu\"}", "'hidden_act'");
    cfg_rejects(ts, "{\"conv_kernel\": [10, 3]}", "conv_kernel");
    cfg_rejects(ts, "{\"conv_dim\": [512, 0, 512, 512, 512, 512, 512]}", "conv_dim");
    cfg_rejects(ts, "{\"num_buckets\": 2}", "'num_buckets'");
    cfg_rejects(ts, "{\"layer_norm_eps\": 0}", "'layer_norm_eps'");
    cfg_rejects(ts, "{\"conv_bias\": 1}", "'conv_bias'");
    /* masking probabilities decide whether HF creates masked_spec_embed */
    j = cJSON_Parse("{\"mask_time_prob\": 0.0, \"mask_feature_prob\": 0.0}");
    BV_CHECK(bv_wavlm_cfg_from_json(&cfg, j, "config.json", err, sizeof err) == 0 && !cfg.has_masked_spec_embed,
             "mask probabilities 0 should drop masked_spec_embed");
    cJSON_Delete(j);
}

/* Values computed with float32 steps as torch evaluates _relative_positions_bucket. */
BV_TEST(wavlm_relative_position_bucket) {
    static const int64_t base[][2] = {{0, 0},     {1, 161},   {-1, 1},     {79, 239},   {80, 240},
                                      {-80, 80},  {81, 240},  {100, 247},  {-100, 87},  {160, 264},
                                      {200, 271}, {799, 319}, {800, 319},  {-5000, 159}, {5000, 319}};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        int64_t b = bv_wavlm_relative_position_bucket(base[i][0], 320, 800);
        BV_CHECK(b == base[i][1], "bucket(%lld; 320, 800) = %lld, expected %lld", (long long)base[i][0], (long long)b,
                 (long long)base[i][1]);
    }
    static const int64_t small[17] = {3, 3, 3, 3, 3, 2, 2, 1, 0, 5, 6, 6, 7, 7, 7, 7, 7}; /* r = -8..8; 8, 6 */
    for (int r = -8; r <= 8; r++) {
        int64_t b = bv_wavlm_relative_position_bucket(r, 8, 6);
        BV_CHECK(b == small[r + 8], "bucket(%d; 8, 6) = %lld, expected %lld", r, (long long)b, (long long)small[r + 8]);
    }
}

/* A small model that exercises every path: two conv layers with bias, an even pos-conv kernel
 * (last frame dropped), log-spaced buckets (10 frames > num_buckets/4 = 4). */
static bv_wavlm *small_model(bv_ctx *ctx) {
    bv_wavlm_cfg c;
    bv_wavlm_cfg_default(&c);
    c.num_feat_extract_layers = 2;
    c.conv_dim[0] = 6, c.conv_dim[1] = 4;
    c.conv_kernel[0] = 5, c.conv_kernel[1] = 3;
    c.conv_stride[0] = 3, c.conv_stride[1] = 2;
    c.conv_bias = 1;
    c.hidden_size = 8, c.num_attention_heads = 2, c.intermediate_size = 12, c.num_hidden_layers = 2;
    c.num_conv_pos_embeddings = 4, c.num_conv_pos_embedding_groups = 2;
    c.num_buckets = 16, c.max_bucket_distance = 10;
    bv_wavlm *m = bv_wavlm_new(&c);
    for (int i = 0; i < m->params.n; i++) bv_test_randn(ctx, m->params.items[i], 0.5f);
    for (int i = 0; i < m->params.n; i++) /* LayerNorm / GroupNorm gammas and weight_g near 1 */
        if (strstr(m->params.items[i]->name, "norm.weight") || strstr(m->params.items[i]->name, "weight_g"))
            for (int64_t j = 0; j < m->params.items[i]->numel; j++) m->params.items[i]->data[j] += 1.0f;
    return m;
}

static bv_tensor *wavlm_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    const bv_wavlm *m = user;
    bv_tensor *hs[BV_WAVLM_MAX_LAYERS + 1];
    bv_wavlm_forward(ctx, m, in[0], hs);
    return bv_concat(ctx, m->cfg.num_hidden_layers + 1, hs, 2); // [B, F, E * (N + 1)]
}

BV_TEST(wavlm_gradcheck_wav) {
    bv_ctx *ctx = ts->ctx;
    bv_wavlm *m = small_model(ctx);
    BV_CHECK(bv_wavlm_n_frames(m, 70) == 10, "70 samples give %lld frames, expected 10",
             (long long)bv_wavlm_n_frames(m, 70));
    bv_tensor *wav = bv_test_input(ctx, BV_SHAPE(2, 70), 1.0f);
    BV_CHECK(bv_gradcheck(ts, "wavlm d hidden_states / d wav", wavlm_fn, 1, &wav, m, 1e-3, 1e-2, 1e-2, 140),
             "gradcheck failed");
    for (int i = 0; i < m->params.n; i++) {
        const bv_tensor *p = m->params.items[i];
        int64_t nz = 0;
        for (int64_t j = 0; j < p->numel; j++) nz += p->grad[j] != 0.0f;
        BV_CHECK(nz == 0, "frozen %s got %lld grad elements", p->name, (long long)nz);
    }
    bv_wavlm_free(m);
}

BV_TEST(wavlm_input_errors) {
    bv_ctx *ctx = ts->ctx;
    bv_wavlm *m = small_model(ctx);
    bv_tensor *hs[BV_WAVLM_MAX_LAYERS + 1];
    char msg[512];
    bv_tensor *w3 = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 1, 70));
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_wavlm_forward(ctx, m, w3, hs)), "[B, 1, T] input accepted");
    BV_CHECK(strstr(msg, "WavLM") && strstr(msg, "[2, 1, 70]"), "message '%s'", msg);
    bv_tensor *shortw = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 6));
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_wavlm_forward(ctx, m, shortw, hs)), "6-sample input accepted");
    BV_CHECK(strstr(msg, "WavLM") && strstr(msg, "[2, 6]"), "message '%s'", msg);
    bv_wavlm_free(m);
}
