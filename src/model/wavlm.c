/* wavlm.c - transformers' WavLMModel (modeling_wavlm.py) in eval mode, for losses.WavLMLoss: config
 * parsing, parameter table, loading from a HuggingFace folder, and the forward pass (see wavlm.h).
 * Functions are named and ordered like the transformers classes so the two read side by side. */
#include "wavlm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../io/pth.h"
#include "../io/safetensors.h"
#include "../io/tensor_import.h"
#include "../ops/ops.h"

#define GROUP_NORM_EPS 1e-5f /* nn.GroupNorm's default; WavLMGroupNormConvLayer does not set it */

/* ======================================================================================== config */

void bv_wavlm_cfg_default(bv_wavlm_cfg *c) {
    static const int kernel[7] = {10, 3, 3, 3, 3, 2, 2}, stride[7] = {5, 2, 2, 2, 2, 2, 2};
    memset(c, 0, sizeof *c);
    c->num_feat_extract_layers = 7;
    for (int i = 0; i < 7; i++) {
        c->conv_dim[i] = 512;
        c->conv_kernel[i] = kernel[i];
        c->conv_stride[i] = stride[i];
    }
    c->hidden_size = 768;
    c->num_attention_heads = 12;
    c->intermediate_size = 3072;
    c->num_hidden_layers = 12;
    c->num_conv_pos_embeddings = 128;
    c->num_conv_pos_embedding_groups = 16;
    c->num_buckets = 320;
    c->max_bucket_distance = 800;
    c->layer_norm_eps = 1e-5f;
    c->has_masked_spec_embed = 1; /* mask_time_prob defaults to 0.05 */
}

/* Absent keys keep the default; a present key of the wrong type is an error naming it. */
static int json_int(const cJSON *j, const char *key, int *out, const char *src, char *err, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e9) {
        snprintf(err, cap, "%s: key '%s' must be an integer", src, key);
        return -1;
    }
    *out = (int)v->valuedouble;
    return 0;
}

static int json_num(const cJSON *j, const char *key, double *out, const char *src, char *err, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v)) {
        snprintf(err, cap, "%s: key '%s' must be a number", src, key);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

static int json_bool(const cJSON *j, const char *key, int *out, const char *src, char *err, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return 0;
    if (!cJSON_IsBool(v)) {
        snprintf(err, cap, "%s: key '%s' must be true or false", src, key);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 0;
}

/* A string key that must equal `want` when present (the only variant implemented). */
static int json_str_is(const cJSON *j, const char *key, const char *want, const char *src, char *err, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return 0;
    if (!cJSON_IsString(v)) {
        snprintf(err, cap, "%s: key '%s' must be a string", src, key);
        return -1;
    }
    if (strcmp(v->valuestring, want) != 0) {
        snprintf(err, cap, "%s: key '%s' is \"%s\"; only \"%s\" (the wavlm-base-plus layout) is supported", src, key,
                 v->valuestring, want);
        return -1;
    }
    return 0;
}

/* An integer list; *n receives its length (kept when the key is absent). */
static int json_int_list(const cJSON *j, const char *key, int *out, int *n, const char *src, char *err, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return 0;
    int len = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (len < 1 || len > BV_WAVLM_MAX_CONV) {
        snprintf(err, cap, "%s: key '%s' must be a list of 1 to %d integers", src, key, BV_WAVLM_MAX_CONV);
        return -1;
    }
    for (int i = 0; i < len; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || fabs(e->valuedouble) > 1e9) {
            snprintf(err, cap, "%s: key '%s': element %d is not an integer", src, key, i);
            return -1;
        }
        out[i] = (int)e->valuedouble;
    }
    *n = len;
    return 0;
}

int bv_wavlm_cfg_from_json(bv_wavlm_cfg *c, const cJSON *j, const char *src, char *err, size_t cap) {
    bv_wavlm_cfg_default(c);
    if (!cJSON_IsObject(j)) {
        snprintf(err, cap, "%s: not a JSON object", src);
        return -1;
    }
    int n_dim = c->num_feat_extract_layers, n_kernel = n_dim, n_stride = n_dim, stable = 0;
    double p_time = 0.05, p_feat = 0.0, eps = c->layer_norm_eps;
    if (json_int_list(j, "conv_dim", c->conv_dim, &n_dim, src, err, cap) ||
        json_int_list(j, "conv_kernel", c->conv_kernel, &n_kernel, src, err, cap) ||
        json_int_list(j, "conv_stride", c->conv_stride, &n_stride, src, err, cap) ||
        json_bool(j, "conv_bias", &c->conv_bias, src, err, cap) ||
        json_int(j, "hidden_size", &c->hidden_size, src, err, cap) ||
        json_int(j, "num_attention_heads", &c->num_attention_heads, src, err, cap) ||
        json_int(j, "intermediate_size", &c->intermediate_size, src, err, cap) ||
        json_int(j, "num_hidden_layers", &c->num_hidden_layers, src, err, cap) ||
        json_int(j, "num_conv_pos_embeddings", &c->num_conv_pos_embeddings, src, err, cap) ||
        json_int(j, "num_conv_pos_embedding_groups", &c->num_conv_pos_embedding_groups, src, err, cap) ||
        json_int(j, "num_buckets", &c->num_buckets, src, err, cap) ||
        json_int(j, "max_bucket_distance", &c->max_bucket_distance, src, err, cap) ||
        json_num(j, "layer_norm_eps", &eps, src, err, cap) || json_num(j, "mask_time_prob", &p_time, src, err, cap) ||
        json_num(j, "mask_feature_prob", &p_feat, src, err, cap) ||
        json_bool(j, "do_stable_layer_norm", &stable, src, err, cap) ||
        json_str_is(j, "feat_extract_norm", "group", src, err, cap) ||
        json_str_is(j, "feat_extract_activation", "gelu", src, err, cap) ||
        json_str_is(j, "hidden_act", "gelu", src, err, cap))
        return -1;
    if (stable) {
        snprintf(err, cap, "%s: key 'do_stable_layer_norm' is true (pre-LN \"large\" variant); only the post-LN "
                 "wavlm-base layout is supported", src);
        return -1;
    }
    /* WavLMConfig raises the same error: the three conv lists describe one stack */
    if (n_kernel != n_dim || n_stride != n_dim) {
        snprintf(err, cap, "%s: conv_dim, conv_kernel and conv_stride have %d, %d and %d entries; they must match", src,
                 n_dim, n_kernel, n_stride);
        return -1;
    }
    int n_layers_key = n_dim;
    if (json_int(j, "num_feat_extract_layers", &n_layers_key, src, err, cap)) return -1;
    if (n_layers_key != n_dim) {
        snprintf(err, cap, "%s: key 'num_feat_extract_layers' is %d but conv_dim has %d entries", src, n_layers_key,
                 n_dim);
        return -1;
    }
    c->num_feat_extract_layers = n_dim;
    c->layer_norm_eps = (float)eps;
    c->has_masked_spec_embed = p_time > 0.0 || p_feat > 0.0;
    return bv_wavlm_cfg_check(c, src, err, cap);
}

#define CHECK_POS(field)                                                                               \
    if (c->field <= 0) {                                                                               \
        snprintf(err, cap, "%s: key '" #field "' must be positive, got %d", src, c->field);            \
        return -1;                                                                                     \
    }

int bv_wavlm_cfg_check(const bv_wavlm_cfg *c, const char *src, char *err, size_t cap) {
    if (c->num_feat_extract_layers < 1 || c->num_feat_extract_layers > BV_WAVLM_MAX_CONV) {
        snprintf(err, cap, "%s: %d feature-extractor conv layers (1 to %d supported)", src, c->num_feat_extract_layers,
                 BV_WAVLM_MAX_CONV);
        return -1;
    }
    for (int i = 0; i < c->num_feat_extract_layers; i++)
        if (c->conv_dim[i] <= 0 || c->conv_kernel[i] <= 0 || c->conv_stride[i] <= 0) {
            snprintf(err, cap, "%s: conv layer %d: conv_dim %d, conv_kernel %d, conv_stride %d must be positive",
                     src, i,
                     c->conv_dim[i], c->conv_kernel[i], c->conv_stride[i]);
            return -1;
        }
    CHECK_POS(hidden_size) CHECK_POS(num_attention_heads) CHECK_POS(intermediate_size)
    CHECK_POS(num_conv_pos_embeddings) CHECK_POS(num_conv_pos_embedding_groups)
    if (c->num_hidden_layers < 1 || c->num_hidden_layers > BV_WAVLM_MAX_LAYERS) {
        snprintf(err, cap, "%s: key 'num_hidden_layers' is %d (1 to %d supported)", src, c->num_hidden_layers,
                 BV_WAVLM_MAX_LAYERS);
        return -1;
    }
    if (c->hidden_size % c->num_attention_heads) {
        snprintf(err, cap, "%s: key 'num_attention_heads' (%d) must divide 'hidden_size' (%d)", src,
                 c->num_attention_heads, c->hidden_size);
        return -1;
    }
    if (c->hidden_size % c->num_conv_pos_embedding_groups) {
        snprintf(err, cap, "%s: key 'num_conv_pos_embedding_groups' (%d) must divide 'hidden_size' (%d)", src,
                 c->num_conv_pos_embedding_groups, c->hidden_size);
        return -1;
    }
    /* the log-spaced buckets need max_exact = num_buckets/4 >= 1 and max_distance > max_exact */
    if (c->num_buckets < 4 || c->max_bucket_distance <= c->num_buckets / 4) {
        snprintf(err, cap, "%s: keys 'num_buckets' (%d) and 'max_bucket_distance' (%d): need num_buckets >= 4 and "
                 "max_bucket_distance > num_buckets / 4", src, c->num_buckets, c->max_bucket_distance);
        return -1;
    }
    if (!(c->layer_norm_eps > 0.0f)) {
        snprintf(err, cap, "%s: key 'layer_norm_eps' must be positive, got %g", src, (double)c->layer_norm_eps);
        return -1;
    }
    return 0;
}

/* ============================================================================ parameter table */

/* Frozen parameter: WavLMLoss sets requires_grad = False on every WavLM parameter. */
static bv_tensor *frozen(bv_tensor *t) {
    t->requires_grad = false;
    return t;
}

static void attention_init(bv_wavlm_attention *a, bv_params *ps, const bv_wavlm_cfg *c, int i) {
    const int64_t E = c->hidden_size, H = c->num_attention_heads;
#define ADD(field, key, ...) \
    a->field = frozen(bv_params_addf(ps, BV_SHAPE(__VA_ARGS__), "encoder.layers.%d.attention." key, i));
    ADD(gru_rel_pos_const, "gru_rel_pos_const", 1, H, 1, 1)
    ADD(k_proj_w, "k_proj.weight", E, E) ADD(k_proj_b, "k_proj.bias", E)
    ADD(v_proj_w, "v_proj.weight", E, E) ADD(v_proj_b, "v_proj.bias", E)
    ADD(q_proj_w, "q_proj.weight", E, E) ADD(q_proj_b, "q_proj.bias", E)
    ADD(out_proj_w, "out_proj.weight", E, E) ADD(out_proj_b, "out_proj.bias", E)
    ADD(gru_rel_pos_linear_w, "gru_rel_pos_linear.weight", 8, E / H)
    ADD(gru_rel_pos_linear_b, "gru_rel_pos_linear.bias", 8)
    if (i == 0) { /* has_relative_position_bias = (i == 0) */
        ADD(rel_attn_embed, "rel_attn_embed.weight", c->num_buckets, H)
    }
#undef ADD
}

static void layer_init(bv_wavlm_layer *l, bv_params *ps, const bv_wavlm_cfg *c, int i) {
    const int64_t E = c->hidden_size, I = c->intermediate_size;
    attention_init(&l->attention, ps, c, i);
#define ADD(field, key, ...) l->field = frozen(bv_params_addf(ps, BV_SHAPE(__VA_ARGS__), "encoder.layers.%d." key, i));
    ADD(layer_norm_w, "layer_norm.weight", E) ADD(layer_norm_b, "layer_norm.bias", E)
    ADD(ff_in_w, "feed_forward.intermediate_dense.weight", I, E)
    ADD(ff_in_b, "feed_forward.intermediate_dense.bias", I)
    ADD(ff_out_w, "feed_forward.output_dense.weight", E, I)
    ADD(ff_out_b, "feed_forward.output_dense.bias", E)
    ADD(final_layer_norm_w, "final_layer_norm.weight", E) ADD(final_layer_norm_b, "final_layer_norm.bias", E)
#undef ADD
}

static void feature_extractor_init(bv_wavlm *m) {
    const bv_wavlm_cfg *c = &m->cfg;
    bv_params *ps = &m->params;
    int64_t cin = 1;
    for (int i = 0; i < c->num_feat_extract_layers; i++) {
        bv_wavlm_conv_layer *l = &m->conv_layers[i];
        const int64_t cout = c->conv_dim[i];
        l->stride = c->conv_stride[i];
        l->conv_weight = frozen(bv_params_addf(ps, BV_SHAPE(cout, cin, c->conv_kernel[i]),
                                               "feature_extractor.conv_layers.%d.conv.weight", i));
        if (c->conv_bias)
            l->conv_bias = frozen(bv_params_addf(ps, BV_SHAPE(cout), "feature_extractor.conv_layers.%d.conv.bias", i));
        if (i == 0) { /* feat_extract_norm "group": WavLMGroupNormConvLayer first, WavLMNoLayerNormConvLayer after */
            const char *ln = "feature_extractor.conv_layers.0.layer_norm";
            l->norm_weight = frozen(bv_params_addf(ps, BV_SHAPE(cout), "%s.weight", ln));
            l->norm_bias = frozen(bv_params_addf(ps, BV_SHAPE(cout), "%s.bias", ln));
        }
        cin = cout;
    }
}

bv_wavlm *bv_wavlm_new(const bv_wavlm_cfg *cfg) {
    char err[256];
    if (bv_wavlm_cfg_check(cfg, "wavlm config", err, sizeof err)) BV_FATAL("%s", err);
    bv_wavlm *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    bv_params_init(&m->params);
    bv_params *ps = &m->params;
    const int64_t E = cfg->hidden_size, C = cfg->conv_dim[cfg->num_feat_extract_layers - 1];
    const int64_t K = cfg->num_conv_pos_embeddings, G = cfg->num_conv_pos_embedding_groups;
    /* state_dict order: WavLMModel's own parameter first, then its submodules in __init__ order */
    if (cfg->has_masked_spec_embed) m->masked_spec_embed = frozen(bv_params_add(ps, "masked_spec_embed", BV_SHAPE(E)));
    feature_extractor_init(m);
    m->fp_layer_norm_w = frozen(bv_params_add(ps, "feature_projection.layer_norm.weight", BV_SHAPE(C)));
    m->fp_layer_norm_b = frozen(bv_params_add(ps, "feature_projection.layer_norm.bias", BV_SHAPE(C)));
    m->fp_projection_w = frozen(bv_params_add(ps, "feature_projection.projection.weight", BV_SHAPE(E, C)));
    m->fp_projection_b = frozen(bv_params_add(ps, "feature_projection.projection.bias", BV_SHAPE(E)));
    /* weight_norm(conv, dim=2) leaves bias, weight_g, weight_v in that order */
    m->pos_conv_bias = frozen(bv_params_add(ps, "encoder.pos_conv_embed.conv.bias", BV_SHAPE(E)));
    m->pos_conv_weight_g = frozen(bv_params_add(ps, "encoder.pos_conv_embed.conv.weight_g", BV_SHAPE(1, 1, K)));
    m->pos_conv_weight_v = frozen(bv_params_add(ps, "encoder.pos_conv_embed.conv.weight_v", BV_SHAPE(E, E / G, K)));
    m->enc_layer_norm_w = frozen(bv_params_add(ps, "encoder.layer_norm.weight", BV_SHAPE(E)));
    m->enc_layer_norm_b = frozen(bv_params_add(ps, "encoder.layer_norm.bias", BV_SHAPE(E)));
    m->layers = bv_xcalloc((size_t)cfg->num_hidden_layers, sizeof *m->layers);
    for (int i = 0; i < cfg->num_hidden_layers; i++) layer_init(&m->layers[i], ps, cfg, i);
    return m;
}

void bv_wavlm_free(bv_wavlm *m) {
    if (!m) return;
    bv_params_free(&m->params);
    free(m->layers);
    free(m);
}

/* ================================================================================== loading */

/* transformers' current names for the same tensor: "wavlm." prefix of head models, parametrized
 * weight norm of newer torch (original0 = g, original1 = v). */
static const char *canonical_name(const char *name, char *buf, size_t cap) {
    static const char *pc = "encoder.pos_conv_embed.conv.parametrizations.weight.original";
    if (strncmp(name, "wavlm.", 6) == 0) name += 6;
    size_t n = strlen(pc);
    if (strncmp(name, pc, n) == 0 && (name[n] == '0' || name[n] == '1') && name[n + 1] == '\0') {
        snprintf(buf, cap, "encoder.pos_conv_embed.conv.weight_%c", name[n] == '0' ? 'g' : 'v');
        return buf;
    }
    return name;
}

/* STYLE.md #6: every file tensor must name a parameter of the right shape, and every parameter
 * must be given exactly once (masked_spec_embed excepted: unused in eval). */
static int fill_params(bv_wavlm *m, const bv_import_src *ts, int n, const char *path, char *err, size_t cap) {
    bv_params *ps = &m->params;
    char *given = bv_xcalloc((size_t)ps->n + 1, 1), nb[256], s1[128], s2[128];
    int rc = -1;
    for (int k = 0; k < n; k++) {
        const bv_import_src *t = &ts[k];
        const char *name = canonical_name(t->name, nb, sizeof nb);
        int idx = -1;
        for (int i = 0; i < ps->n && idx < 0; i++)
            if (strcmp(ps->items[i]->name, name) == 0) idx = i;
        if (idx < 0 && strcmp(name, "masked_spec_embed") == 0) continue; /* HF-only; config has masking off */
        if (idx < 0) {
            snprintf(err, cap, "%s: unknown tensor '%s' %s (not a WavLMModel parameter for this config.json)", path,
                     t->name, bv_dims_str(s1, sizeof s1, t->ndim, t->shape));
            goto done;
        }
        if (given[idx]) {
            snprintf(err, cap, "%s: tensor '%s' given twice (as '%s' and another name)", path, ps->items[idx]->name,
                     t->name);
            goto done;
        }
        if (bv_import_tensor(ps->items[idx], t, path, NULL, err, cap)) goto done;
        given[idx] = 1;
    }
    for (int i = 0; i < ps->n; i++)
        if (!given[i] && ps->items[i] != m->masked_spec_embed) {
            snprintf(err, cap, "%s: missing tensor '%s' (expected shape %s)", path, ps->items[i]->name,
                     bv_shape_str(ps->items[i], s2, sizeof s2));
            goto done;
        }
    rc = 0;
done:
    free(given);
    return rc;
}

static int load_safetensors(bv_wavlm *m, const char *path, char *err, size_t cap) {
    bv_safetensors st;
    if (bv_st_open(&st, path, err, cap)) return -1;
    bv_import_src *ts = bv_xcalloc((size_t)st.n + 1, sizeof *ts);
    for (int i = 0; i < st.n; i++)
        ts[i] = (bv_import_src){st.entries[i].name, st.entries[i].dtype, st.entries[i].ndim, st.entries[i].shape,
                             st.entries[i].data};
    int rc = fill_params(m, ts, st.n, path, err, cap);
    free(ts);
    bv_st_close(&st);
    return rc;
}

/* pytorch_model.bin: a torch.save'd state dict at the top level. */
static int load_pth(bv_wavlm *m, const char *path, char *err, size_t cap) {
    bv_pth_dict d;
    if (bv_pth_load_state_dict(path, NULL, &d, err, cap)) return -1;
    bv_import_src *ts = bv_xcalloc((size_t)d.n + 1, sizeof *ts);
    for (int i = 0; i < d.n; i++)
        ts[i] = (bv_import_src){d.items[i].name, d.items[i].dtype, d.items[i].ndim, d.items[i].shape, d.items[i].data};
    int rc = fill_params(m, ts, d.n, path, err, cap);
    free(ts);
    bv_pth_dict_free(&d);
    return rc;
}

/* Whole file as a NUL-terminated string; NULL with err filled. */
static char *read_text(const char *path, char *err, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, cap, "%s: cannot open (%s)", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    long sz = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (sz >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = bv_xmalloc((size_t)sz + 1);
        if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
            free(buf);
            buf = NULL;
        } else {
            buf[sz] = '\0';
        }
    }
    fclose(f);
    if (!buf) snprintf(err, cap, "%s: cannot read: %s", path, strerror(errno));
    return buf;
}

static int load_config(bv_wavlm_cfg *cfg, const char *path, char *err, size_t cap) {
    char *text = read_text(path, err, cap);
    if (!text) return -1;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) {
        snprintf(err, cap, "%s: not valid JSON", path);
        return -1;
    }
    int rc = bv_wavlm_cfg_from_json(cfg, j, path, err, cap);
    cJSON_Delete(j);
    return rc;
}

bv_wavlm *bv_wavlm_load(const char *dir, char *err, size_t cap) {
    char path[4096];
    bv_wavlm_cfg cfg;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (load_config(&cfg, path, err, cap)) return NULL;
    bv_wavlm *m = bv_wavlm_new(&cfg);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc;
    if (access(path, F_OK) == 0) { /* from_pretrained prefers safetensors too */
        rc = load_safetensors(m, path, err, cap);
    } else {
        snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
        if (access(path, F_OK) == 0) {
            rc = load_pth(m, path, err, cap);
        } else {
            snprintf(err, cap, "%s: neither model.safetensors nor pytorch_model.bin found", dir);
            rc = -1;
        }
    }
    if (rc) {
        bv_wavlm_free(m);
        return NULL;
    }
    return m;
}

/* ================================================================================== forward */

int64_t bv_wavlm_n_frames(const bv_wavlm *m, int64_t n) {
    for (int i = 0; i < m->cfg.num_feat_extract_layers; i++) {
        if (n < m->cfg.conv_kernel[i]) return 0;
        n = (n - m->cfg.conv_kernel[i]) / m->cfg.conv_stride[i] + 1;
    }
    return n;
}

/* WavLMFeatureEncoder: input_values[:, None] through the conv stack. */
static bv_tensor *feature_encoder(bv_ctx *ctx, const bv_wavlm *m, bv_tensor *input_values) {
    const int64_t B = input_values->shape[0], T = input_values->shape[1];
    bv_tensor *x = bv_reshape(ctx, input_values, BV_SHAPE(B, 1, T)); // input_values[:, None]: [B, 1, T]
    for (int i = 0; i < m->cfg.num_feat_extract_layers; i++) {
        const bv_wavlm_conv_layer *l = &m->conv_layers[i];
        x = bv_conv1d(ctx, x, l->conv_weight, l->conv_bias, l->stride, 0, 1, 1); // [B, C_i, T_i]
        if (l->norm_weight) /* GroupNorm(num_groups = C, C): each channel normalised over time */
            x = bv_group_norm(ctx, x, (int)x->shape[1], l->norm_weight, l->norm_bias, GROUP_NORM_EPS);
        x = bv_gelu(ctx, x);
    }
    return x;
}

/* WavLMFeatureProjection: LayerNorm then Linear (dropout off). x [B, F, C] -> [B, F, E] */
static bv_tensor *feature_projection(bv_ctx *ctx, const bv_wavlm *m, bv_tensor *x) {
    x = bv_layer_norm(ctx, x, m->fp_layer_norm_w, m->fp_layer_norm_b, m->cfg.layer_norm_eps);
    return bv_linear(ctx, x, m->fp_projection_w, m->fp_projection_b);
}

/* WavLMPositionalConvEmbedding: grouped conv with weight_norm(dim=2), "same" padding K/2 with the
 * extra last frame removed for even K (WavLMSamePadLayer), GELU. x [B, F, E] -> [B, F, E] */
static bv_tensor *pos_conv_embed(bv_ctx *ctx, const bv_wavlm *m, bv_tensor *x) {
    const int K = m->cfg.num_conv_pos_embeddings;
    bv_tensor *h = bv_transpose(ctx, x, 1, 2);                                          // [B, E, F]
    bv_tensor *w = bv_weight_norm(ctx, m->pos_conv_weight_g, m->pos_conv_weight_v, 2); // [E, E/G, K]
    const int G = m->cfg.num_conv_pos_embedding_groups;
    h = bv_conv1d(ctx, h, w, m->pos_conv_bias, 1, K / 2, 1, G);                        // [B, E, F + 1 - K%2]
    if (K % 2 == 0) h = bv_slice(ctx, h, 2, 0, -1, 1);                                 // [B, E, F]
    h = bv_gelu(ctx, h);
    return bv_transpose(ctx, h, 1, 2);                                                  // [B, F, E]
}

/* WavLMAttention._relative_positions_bucket; the float32 steps mirror torch's tensor ops on a
 * float32 tensor with Python scalars (each scalar rounded to float32 first). */
int64_t bv_wavlm_relative_position_bucket(int64_t r, int num_buckets_total, int max_distance) {
    const int num_buckets = num_buckets_total / 2, max_exact = num_buckets / 2;
    int64_t bucket = r > 0 ? num_buckets : 0;
    const int64_t a = r < 0 ? -r : r;
    if (a < max_exact) return bucket + a;
    float v = logf((float)a / (float)max_exact);
    v = v / (float)log((double)max_distance / max_exact);
    v = v * (float)(num_buckets - max_exact);
    int64_t large = (int64_t)((float)max_exact + v);
    return bucket + (large < num_buckets - 1 ? large : num_buckets - 1);
}

/* WavLMAttention.compute_bias: rel_attn_embed(bucket(j - i)) permuted to [1, H, T, T]. */
static bv_tensor *compute_bias(bv_ctx *ctx, const bv_wavlm *m, int64_t T) {
    const int nb = m->cfg.num_buckets, maxd = m->cfg.max_bucket_distance;
    bv_tensor *ids = bv_new(ctx, BV_I64, BV_SHAPE(T, T)); // [T_query, T_key]
    const int64_t TT = T * T;
    int64_t *h = bv_xmalloc(sizeof(int64_t) * (size_t)(TT > 0 ? TT : 1)); /* built on the host */
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++) h[i * T + j] = bv_wavlm_relative_position_bucket(j - i, nb, maxd);
    bv_from_host(ids, h);
    free(h);
    bv_tensor *values = bv_embedding(ctx, m->layers[0].attention.rel_attn_embed, ids); // [T, T, H]
    values = bv_permute(ctx, values, (int[]){2, 0, 1});                                // [H, T, T]
    return bv_reshape(ctx, values, BV_SHAPE(1, values->shape[0], T, T));              // [1, H, T, T]
}

/* [B, T, E] -> [B, H, T, E/H] */
static bv_tensor *split_heads(bv_ctx *ctx, bv_tensor *x, int H) {
    x = bv_reshape(ctx, x, BV_SHAPE(x->shape[0], x->shape[1], H, x->shape[2] / H));
    return bv_permute(ctx, x, (int[]){0, 2, 1, 3});
}

/* The gate of WavLMAttention.forward steps 1-4: per head and query frame,
 * gate = sigmoid_a * (sigmoid_b * gru_rel_pos_const - 1) + 2 from gru_rel_pos_linear of the layer
 * input; returns gate * position_bias. x [B, T, E], position_bias [1, H, T, T] -> [B, H, T, T] */
static bv_tensor *gated_position_bias(bv_ctx *ctx, const bv_wavlm_attention *a, bv_tensor *x, bv_tensor *position_bias,
                                      int H) {
    const int64_t B = x->shape[0], T = x->shape[1];
    bv_tensor *gated = split_heads(ctx, x, H);                                           // [B, H, T, E/H]
    bv_tensor *proj = bv_linear(ctx, gated, a->gru_rel_pos_linear_w, a->gru_rel_pos_linear_b); // [B, H, T, 8]
    proj = bv_sum_dim(ctx, bv_reshape(ctx, proj, BV_SHAPE(B, H, T, 2, 4)), 4, 0);       // [B, H, T, 2]
    bv_tensor *gate[2];
    bv_split(ctx, bv_sigmoid(ctx, proj), 3, 2, NULL, gate);                              // gate_a, gate_b [B, H, T, 1]
    bv_tensor *g = bv_add_scalar(ctx, bv_mul(ctx, gate[1], a->gru_rel_pos_const), -1.0f);
    g = bv_add_scalar(ctx, bv_mul(ctx, gate[0], g), 2.0f);                               // [B, H, T, 1]
    return bv_mul(ctx, g, position_bias);                                                // [B, H, T, T]
}

/* WavLMAttention: self-attention (F.multi_head_attention_forward with separate q/k/v weights, the
 * gated bias as additive float attn_mask). x [B, T, E] -> [B, T, E] */
static bv_tensor *attention(bv_ctx *ctx, const bv_wavlm *m, const bv_wavlm_attention *a, bv_tensor *x,
                            bv_tensor *position_bias) {
    const int H = m->cfg.num_attention_heads;
    const int64_t B = x->shape[0], T = x->shape[1], E = x->shape[2];
    bv_tensor *bias = gated_position_bias(ctx, a, x, position_bias, H);                  // [B, H, T, T]
    bv_tensor *q = split_heads(ctx, bv_linear(ctx, x, a->q_proj_w, a->q_proj_b), H);     // [B, H, T, d]
    bv_tensor *k = split_heads(ctx, bv_linear(ctx, x, a->k_proj_w, a->k_proj_b), H);
    bv_tensor *v = split_heads(ctx, bv_linear(ctx, x, a->v_proj_w, a->v_proj_b), H);
    q = bv_mul_scalar(ctx, q, (float)pow((double)(E / H), -0.5));                         // head_dim ** -0.5
    bv_tensor *scores = bv_add(ctx, bv_matmul(ctx, q, bv_transpose(ctx, k, 2, 3)), bias); // [B, H, T, T]
    bv_tensor *o = bv_matmul(ctx, bv_softmax(ctx, scores, 3), v);                        // [B, H, T, d]
    o = bv_reshape(ctx, bv_permute(ctx, o, (int[]){0, 2, 1, 3}), BV_SHAPE(B, T, E));     // [B, T, E]
    return bv_linear(ctx, o, a->out_proj_w, a->out_proj_b);
}

/* WavLMFeedForward: Linear -> GELU -> Linear (dropouts off). */
static bv_tensor *feed_forward(bv_ctx *ctx, const bv_wavlm_layer *l, bv_tensor *x) {
    x = bv_gelu(ctx, bv_linear(ctx, x, l->ff_in_w, l->ff_in_b)); // [B, T, I]
    return bv_linear(ctx, x, l->ff_out_w, l->ff_out_b);         // [B, T, E]
}

/* WavLMEncoderLayer (post-LN): LN(x + attn(x)), then LN(h + ff(h)). */
static bv_tensor *encoder_layer(bv_ctx *ctx, const bv_wavlm *m, const bv_wavlm_layer *l, bv_tensor *x,
                                bv_tensor *position_bias) {
    const float eps = m->cfg.layer_norm_eps;
    bv_tensor *h = bv_add(ctx, x, attention(ctx, m, &l->attention, x, position_bias));
    h = bv_layer_norm(ctx, h, l->layer_norm_w, l->layer_norm_b, eps);
    h = bv_add(ctx, h, feed_forward(ctx, l, h));
    return bv_layer_norm(ctx, h, l->final_layer_norm_w, l->final_layer_norm_b, eps);
}

/* WavLMEncoder with output_hidden_states: the ungated position bias is made once (layer 0's
 * rel_attn_embed) and handed to every layer, each gating it with its own gru_rel_pos_*. */
static void encoder(bv_ctx *ctx, const bv_wavlm *m, bv_tensor *x, bv_tensor **hidden_states) {
    x = bv_add(ctx, x, pos_conv_embed(ctx, m, x));
    x = bv_layer_norm(ctx, x, m->enc_layer_norm_w, m->enc_layer_norm_b, m->cfg.layer_norm_eps);
    bv_tensor *position_bias = compute_bias(ctx, m, x->shape[1]); // [1, H, T, T]
    for (int i = 0; i < m->cfg.num_hidden_layers; i++) {
        hidden_states[i] = x;
        x = encoder_layer(ctx, m, &m->layers[i], x, position_bias);
    }
    hidden_states[m->cfg.num_hidden_layers] = x;
}

void bv_wavlm_forward(bv_ctx *ctx, const bv_wavlm *m, bv_tensor *wav, bv_tensor **hidden_states) {
    char b[96];
    bv_check_dtype(ctx, "WavLM", wav, BV_F32);
    if (wav->ndim != 2)
        bv_ctx_error(ctx, "WavLM", "input_values must be [B, T] (16 kHz samples), got %s",
                     bv_shape_str(wav, b, sizeof b));
    if (bv_wavlm_n_frames(m, wav->shape[1]) < 1)
        bv_ctx_error(ctx, "WavLM", "input_values %s is shorter than the feature extractor's receptive field",
                     bv_shape_str(wav, b, sizeof b));
    bv_tensor *extract_features = feature_encoder(ctx, m, wav);          // [B, C, F]
    extract_features = bv_transpose(ctx, extract_features, 1, 2);        // [B, F, C]
    bv_tensor *h = feature_projection(ctx, m, extract_features);         // [B, F, E]
    encoder(ctx, m, h, hidden_states);                                   // N + 1 x [B, F, E]
}
