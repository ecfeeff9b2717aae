/* bert_model.c - BERT and DeBERTa-v2 encoders for inference (bert_model.h). */
#include "bert_model.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/error.h"
#include "bert_util.h"
#include "../io/pth.h"
#include "../io/safetensors.h"
#include "../io/tensor_import.h"

#define BM_MAX_DIM 65536
#define BM_MAX_LAYERS 256
#define BM_MAX_VOCAB (1 << 22)

typedef struct bm_layer {
    const float *wq, *bq, *wk, *bk, *wv, *bv;       /* attention.self.{query,key,value}[_proj] [AH, H], [AH] */
    const float *pwk, *pbk, *pwq, *pbq;             /* DeBERTa pos_key_proj / pos_query_proj (share_att_key false) */
    const float *wo, *bo, *ln1g, *ln1b;             /* attention.output.dense [H, AH], LayerNorm [H] */
    const float *wi, *bi, *wo2, *bo2, *ln2g, *ln2b; /* intermediate.dense [I, H], output.dense [H, I], LayerNorm */
} bm_layer;

struct bv_bert_model {
    bv_bert_arch arch;
    int hidden, layers, heads, head_dim, inter, vocab, max_pos, type_vocab, emb_size;
    float eps;
    /* DeBERTa */
    int relative, buckets, max_rel, c2p, p2c, share_key, rel_ln, pos_biased;
    int n_att_types;          /* c2p + p2c as listed: the score scale counts them even without relative_attention */
    const float *word, *pos, *type, *emb_lng, *emb_lnb, *embed_proj; /* embeddings.* */
    const float *rel, *rel_lng, *rel_lnb;                             /* encoder.rel_embeddings, encoder.LayerNorm */
    bm_layer *layer;
    /* weight storage */
    int is_st;
    bv_safetensors st;
    bv_pth_dict pd;
    const char *prefix;       /* "", "bert." or "deberta." */
    char wpath[4096];
    float **owned;            /* f16/bf16 converted */
    int n_owned;
};


/* ------------------------------------------------------------------ config */

static int cfg_int(const cJSON *c, const char *key, int dflt, int lo, int hi, int *out, const char *path, char *err,
                   size_t errcap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!v || cJSON_IsNull(v)) {
        if (dflt == INT32_MIN) return bv_err_set(err, errcap, "%s: \"%s\" is missing", path, key);
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble || v->valuedouble < lo ||
        v->valuedouble > hi)
        return bv_err_set(err, errcap, "%s: \"%s\" must be an integer in [%d, %d]", path, key, lo, hi);
    *out = (int)v->valuedouble;
    return 0;
}

/* "|"-separated or list-valued option (pos_att_type, norm_rel_ebd) -> has(word). */
static int opt_has(const cJSON *v, const char *word, int *unknown, const char *const *known) {
    int has = 0;
    char buf[256];
    const cJSON *e = cJSON_IsArray(v) ? v->child : v;
    for (; e; e = cJSON_IsArray(v) ? e->next : NULL) {
        if (!cJSON_IsString(e)) {
            *unknown = 1;
            break;
        }
        snprintf(buf, sizeof buf, "%s", e->valuestring);
        for (char *tok = strtok(buf, "|"); tok; tok = strtok(NULL, "|")) {
            while (*tok == ' ') tok++;
            size_t l = strlen(tok);
            while (l && tok[l - 1] == ' ') tok[--l] = 0;
            for (char *p = tok; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            if (!strcmp(tok, word)) has = 1;
            int ok = 0;
            for (int k = 0; known[k]; k++) ok |= !strcmp(tok, known[k]);
            if (!ok) *unknown = 1;
        }
        if (!cJSON_IsArray(v)) break;
    }
    return has;
}

static int parse_config(bv_bert_model *m, const cJSON *c, const char *path, char *err, size_t errcap) {
    const char *mt = bv_bert_json_str(c, "model_type");
    if (!mt) return bv_err_set(err, errcap, "%s: \"model_type\" is missing", path);
    if (!strcmp(mt, "bert")) m->arch = BV_BERT_ARCH_BERT;
    else if (!strcmp(mt, "deberta-v2")) m->arch = BV_BERT_ARCH_DEBERTA_V2;
    else return bv_err_set(err, errcap, "%s: \"model_type\" \"%s\" is not supported (bert, deberta-v2)", path, mt);
    const char *act = bv_bert_json_str(c, "hidden_act");
    if (act && strcmp(act, "gelu"))
        return bv_err_set(err, errcap, "%s: \"hidden_act\" \"%s\" is not supported (gelu)", path, act);
    if (cfg_int(c, "hidden_size", INT32_MIN, 1, BM_MAX_DIM, &m->hidden, path, err, errcap) ||
        cfg_int(c, "num_hidden_layers", INT32_MIN, 1, BM_MAX_LAYERS, &m->layers, path, err, errcap) ||
        cfg_int(c, "num_attention_heads", INT32_MIN, 1, 1024, &m->heads, path, err, errcap) ||
        cfg_int(c, "intermediate_size", INT32_MIN, 1, 4 * BM_MAX_DIM, &m->inter, path, err, errcap) ||
        cfg_int(c, "vocab_size", INT32_MIN, 1, BM_MAX_VOCAB, &m->vocab, path, err, errcap) ||
        cfg_int(c, "max_position_embeddings", 512, 1, 1 << 20, &m->max_pos, path, err, errcap))
        return -1;
    double eps = m->arch == BV_BERT_ARCH_BERT ? 1e-12 : 1e-7;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(c, "layer_norm_eps");
    if (e) {
        if (!cJSON_IsNumber(e) || !(e->valuedouble > 0) || e->valuedouble > 1)
            return bv_err_set(err, errcap, "%s: \"layer_norm_eps\" must be a number in (0, 1]", path);
        eps = e->valuedouble;
    }
    m->eps = (float)eps;
    if (m->hidden % m->heads)
        return bv_err_set(err, errcap, "%s: \"hidden_size\" %d is not a multiple of \"num_attention_heads\" %d", path,
                          m->hidden, m->heads);
    m->head_dim = m->hidden / m->heads;
    if (m->arch == BV_BERT_ARCH_BERT) {
        const char *pe = bv_bert_json_str(c, "position_embedding_type");
        if (pe && strcmp(pe, "absolute"))
            return bv_err_set(err, errcap, "%s: \"position_embedding_type\" \"%s\" is not supported (absolute)", path,
                              pe);
        int dec = 0, cross = 0;
        if (bv_bert_json_bool(c, "is_decoder", 0, &dec, path, err, errcap) ||
            bv_bert_json_bool(c, "add_cross_attention", 0, &cross, path, err, errcap))
            return -1;
        if (dec || cross)
            return bv_err_set(err, errcap, "%s: \"%s\" true is not supported (an encoder only)", path,
                              dec ? "is_decoder" : "add_cross_attention");
        if (cfg_int(c, "type_vocab_size", 2, 0, 1 << 16, &m->type_vocab, path, err, errcap)) return -1;
        m->emb_size = m->hidden;
        m->pos_biased = 1;
        return 0;
    }
    int hs = m->head_dim, conv = 0;
    if (cfg_int(c, "attention_head_size", m->head_dim, 1, BM_MAX_DIM, &hs, path, err, errcap) ||
        cfg_int(c, "conv_kernel_size", 0, 0, 1 << 10, &conv, path, err, errcap) ||
        cfg_int(c, "type_vocab_size", 0, 0, 1 << 16, &m->type_vocab, path, err, errcap) ||
        cfg_int(c, "embedding_size", m->hidden, 1, BM_MAX_DIM, &m->emb_size, path, err, errcap) ||
        cfg_int(c, "position_buckets", -1, INT32_MIN + 1, 1 << 16, &m->buckets, path, err, errcap) ||
        cfg_int(c, "max_relative_positions", -1, INT32_MIN + 1, 1 << 20, &m->max_rel, path, err, errcap) ||
        bv_bert_json_bool(c, "relative_attention", 0, &m->relative, path, err, errcap) ||
        bv_bert_json_bool(c, "share_att_key", 0, &m->share_key, path, err, errcap) ||
        bv_bert_json_bool(c, "position_biased_input", 1, &m->pos_biased, path, err, errcap))
        return -1;
    if (hs != m->head_dim)
        return bv_err_set(err, errcap,
                          "%s: \"attention_head_size\" %d other than hidden_size / heads (%d) is not supported",
                          path, hs, m->head_dim);
    if (conv > 0) return bv_err_set(err, errcap, "%s: \"conv_kernel_size\" %d is not supported (0)", path, conv);
    if (m->max_rel < 1) m->max_rel = m->max_pos;
    int unknown = 0;
    static const char *const att_known[] = {"c2p", "p2c", "none", "", NULL};
    static const char *const norm_known[] = {"layer_norm", "none", "", NULL};
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(c, "pos_att_type");
    if (pat && !cJSON_IsNull(pat)) {
        m->c2p = opt_has(pat, "c2p", &unknown, att_known);
        m->p2c = opt_has(pat, "p2c", &unknown, att_known);
        if (unknown) return bv_err_set(err, errcap,
                                       "%s: \"pos_att_type\" holds a type other than c2p / p2c (not supported)", path);
    }
    const cJSON *nre = cJSON_GetObjectItemCaseSensitive(c, "norm_rel_ebd");
    if (nre && !cJSON_IsNull(nre)) {
        m->rel_ln = opt_has(nre, "layer_norm", &unknown, norm_known);
        if (unknown) return bv_err_set(err, errcap,
                                       "%s: \"norm_rel_ebd\" other than none / layer_norm is not supported", path);
    }
    m->n_att_types = m->c2p + m->p2c;
    if (!m->relative) m->c2p = m->p2c = 0;
    return 0;
}

/* ------------------------------------------------------------------ weights */

/* The f32 data of `name` (prefix tried first, then bare; "weight"/"bias" also as "gamma"/"beta"),
 * shape checked against dims[0..nd). NULL with err filled when absent (unless optional) or wrong. */
static const float *weight(bv_bert_model *m, const char *name, int nd, const int64_t *dims, int optional, char *err,
                           size_t errcap, int *bad) {
    char full[512], alt[512];
    const char *names[4];
    int nn = 0;
    snprintf(full, sizeof full, "%s%s", m->prefix, name);
    names[nn++] = full;
    size_t l = strlen(full);
    if (l > 7 && !strcmp(full + l - 7, ".weight") && strstr(full, "LayerNorm")) {
        snprintf(alt, sizeof alt, "%.*s.gamma", (int)(l - 7), full);
        names[nn++] = alt;
    } else if (l > 5 && !strcmp(full + l - 5, ".bias") && strstr(full, "LayerNorm")) {
        snprintf(alt, sizeof alt, "%.*s.beta", (int)(l - 5), full);
        names[nn++] = alt;
    }
    for (int k = 0; k < nn; k++) {
        int ndim = 0, dtype;
        const int64_t *shape = NULL;
        const void *data = NULL;
        if (m->is_st) {
            const bv_st_entry *e = bv_st_find(&m->st, names[k]);
            if (!e) continue;
            ndim = e->ndim, shape = e->shape, data = e->data, dtype = e->dtype;
        } else {
            const bv_pth_tensor *t = bv_pth_dict_find(&m->pd, names[k]);
            if (!t) continue;
            ndim = t->ndim, shape = t->shape, data = t->data, dtype = t->dtype;
        }
        int ok = ndim == nd;
        int64_t numel = 1;
        for (int i = 0; ok && i < nd; i++) ok = shape[i] == dims[i], numel *= dims[i];
        if (!ok) {
            char got[128], exp[128];
            bv_err_set(err, errcap, "%s: %s has shape %s, expected %s (from config.json)", m->wpath, names[k],
                       bv_dims_str(got, sizeof got, ndim, shape), bv_dims_str(exp, sizeof exp, nd, dims));
            *bad = 1;
            return NULL;
        }
        if (dtype == BV_ST_F32 && (uintptr_t)data % 4 == 0) return data; /* borrowed; unaligned: copied below */
        if (!bv_import_is_float((bv_st_dtype)dtype)) {
            bv_err_set(err, errcap, "%s: %s has dtype %s, expected F32, F16, BF16 or F64", m->wpath, names[k],
                       bv_st_dtype_name(dtype));
            *bad = 1;
            return NULL;
        }
        float *f = bv_xmalloc((size_t)numel * sizeof(float));
        bv_import_f32(f, data, (bv_st_dtype)dtype, numel);
        m->owned = bv_xrealloc(m->owned, (size_t)(m->n_owned + 1) * sizeof(float *));
        m->owned[m->n_owned++] = f;
        return f;
    }
    if (!optional) {
        bv_err_set(err, errcap, "%s: has no tensor %s (as config.json describes the model)", m->wpath, full);
        *bad = 1;
    }
    return NULL;
}

#define D1(a) 1, (int64_t[]){(a)}
#define D2(a, b) 2, (int64_t[]){(a), (b)}

static int load_weights(bv_bert_model *m, char *err, size_t errcap) {
    int bad = 0, H = m->hidden, In = m->inter, E = m->emb_size;
    char name[256];
    /* the *ForMaskedLM classes keep the encoder under "bert." / "deberta." */
    const char *pfx = m->arch == BV_BERT_ARCH_BERT ? "bert." : "deberta.";
    char probe[128];
    snprintf(probe, sizeof probe, "%sembeddings.word_embeddings.weight", pfx);
    m->prefix = (m->is_st ? bv_st_find(&m->st, probe) != NULL : bv_pth_dict_find(&m->pd, probe) != NULL) ? pfx : "";
#define W(ptr, nm, ...) \
    if (!bad) ptr = weight(m, nm, __VA_ARGS__, 0, err, errcap, &bad)
#define WOPT(ptr, nm, ...) \
    if (!bad) ptr = weight(m, nm, __VA_ARGS__, 1, err, errcap, &bad)
    W(m->word, "embeddings.word_embeddings.weight", D2(m->vocab, E));
    if (m->pos_biased) W(m->pos, "embeddings.position_embeddings.weight", D2(m->max_pos, E));
    if (m->type_vocab > 0) W(m->type, "embeddings.token_type_embeddings.weight", D2(m->type_vocab, E));
    if (E != H) W(m->embed_proj, "embeddings.embed_proj.weight", D2(H, E));
    W(m->emb_lng, "embeddings.LayerNorm.weight", D1(H));
    W(m->emb_lnb, "embeddings.LayerNorm.bias", D1(H));
    if (m->arch == BV_BERT_ARCH_DEBERTA_V2 && m->relative) {
        int span = m->buckets > 0 ? m->buckets : m->max_rel;
        W(m->rel, "encoder.rel_embeddings.weight", D2(2 * span, H));
        if (m->rel_ln) {
            W(m->rel_lng, "encoder.LayerNorm.weight", D1(H));
            W(m->rel_lnb, "encoder.LayerNorm.bias", D1(H));
        }
    }
    m->layer = bv_xcalloc((size_t)m->layers, sizeof(bm_layer));
    int deb = m->arch == BV_BERT_ARCH_DEBERTA_V2;
    for (int l = 0; l < m->layers && !bad; l++) {
        bm_layer *y = &m->layer[l];
#define LW(ptr, suffix, ...)                                              \
    snprintf(name, sizeof name, "encoder.layer.%d.%s", l, suffix);       \
    W(ptr, name, __VA_ARGS__)
        LW(y->wq, deb ? "attention.self.query_proj.weight" : "attention.self.query.weight", D2(H, H));
        LW(y->bq, deb ? "attention.self.query_proj.bias" : "attention.self.query.bias", D1(H));
        LW(y->wk, deb ? "attention.self.key_proj.weight" : "attention.self.key.weight", D2(H, H));
        LW(y->bk, deb ? "attention.self.key_proj.bias" : "attention.self.key.bias", D1(H));
        LW(y->wv, deb ? "attention.self.value_proj.weight" : "attention.self.value.weight", D2(H, H));
        LW(y->bv, deb ? "attention.self.value_proj.bias" : "attention.self.value.bias", D1(H));
        if (deb && m->relative && !m->share_key) {
            if (m->c2p) {
                LW(y->pwk, "attention.self.pos_key_proj.weight", D2(H, H));
                LW(y->pbk, "attention.self.pos_key_proj.bias", D1(H));
            }
            if (m->p2c) {
                LW(y->pwq, "attention.self.pos_query_proj.weight", D2(H, H));
                LW(y->pbq, "attention.self.pos_query_proj.bias", D1(H));
            }
        }
        LW(y->wo, "attention.output.dense.weight", D2(H, H));
        LW(y->bo, "attention.output.dense.bias", D1(H));
        LW(y->ln1g, "attention.output.LayerNorm.weight", D1(H));
        LW(y->ln1b, "attention.output.LayerNorm.bias", D1(H));
        LW(y->wi, "intermediate.dense.weight", D2(In, H));
        LW(y->bi, "intermediate.dense.bias", D1(In));
        LW(y->wo2, "output.dense.weight", D2(H, In));
        LW(y->bo2, "output.dense.bias", D1(H));
        LW(y->ln2g, "output.LayerNorm.weight", D1(H));
        LW(y->ln2b, "output.LayerNorm.bias", D1(H));
#undef LW
    }
#undef W
#undef WOPT
    return bad ? -1 : 0;
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

bv_bert_model *bv_bert_model_load(const char *dir, char *err, size_t errcap) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *c = bv_bert_read_json(path, err, errcap);
    if (!c) return NULL;
    bv_bert_model *m = bv_xcalloc(1, sizeof *m);
    int rc = parse_config(m, c, path, err, errcap);
    cJSON_Delete(c);
    if (rc) goto fail_;
    snprintf(m->wpath, sizeof m->wpath, "%s/model.safetensors", dir);
    if (exists(m->wpath)) {
        m->is_st = 1;
        if (bv_st_open(&m->st, m->wpath, err, errcap)) {
            m->is_st = 0;
            goto fail_;
        }
    } else {
        snprintf(m->wpath, sizeof m->wpath, "%s/pytorch_model.bin", dir);
        if (!exists(m->wpath)) {
            bv_err_set(err, errcap, "%s: holds neither model.safetensors nor pytorch_model.bin", dir);
            goto fail_;
        }
        if (bv_pth_load_state_dict(m->wpath, NULL, &m->pd, err, errcap)) goto fail_;
    }
    if (load_weights(m, err, errcap)) goto fail_;
    return m;
fail_:
    bv_bert_model_free(m);
    return NULL;
}

void bv_bert_model_free(bv_bert_model *m) {
    if (!m) return;
    if (m->is_st) bv_st_close(&m->st);
    bv_pth_dict_free(&m->pd);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layer);
    free(m);
}

bv_bert_arch bv_bert_model_arch(const bv_bert_model *m) { return m->arch; }
int bv_bert_model_hidden_size(const bv_bert_model *m) { return m->hidden; }
int bv_bert_model_layers(const bv_bert_model *m) { return m->layers; }
int bv_bert_model_vocab_size(const bv_bert_model *m) { return m->vocab; }
int bv_bert_model_max_tokens(const bv_bert_model *m) { return m->pos_biased ? m->max_pos : 0; }

/* ------------------------------------------------------------------ forward */

int bv_bert_log_bucket(int rel, int bucket_size, int max_position) {
    int mid = bucket_size / 2;
    int sign = rel > 0 ? 1 : rel < 0 ? -1 : 0;
    int abs_pos = (rel < mid && rel > -mid) ? mid - 1 : abs(rel);
    if (abs_pos <= mid) return rel;
    /* float32 throughout, as torch computes it */
    float ratio = (float)abs_pos / (float)mid;
    float denom = logf((float)((double)(max_position - 1) / mid));
    float lp = ceilf(logf(ratio) / denom * (float)(mid - 1)) + (float)mid;
    return (int)(lp * (float)sign);
}

/* y[T, N] = x[T, K] @ w[N, K]^T + b[N] (nn.Linear). */
static void linear(float *y, const float *x, const float *w, const float *b, int T, int K, int N) {
    if (b)
        for (int t = 0; t < T; t++) memcpy(y + (size_t)t * N, b, (size_t)N * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, N, K, 1.0f, x, K, w, K, b ? 1.0f : 0.0f, y, N);
}

/* x[T, H] = LayerNorm(x (+ r)) over the last dim. */
static void layer_norm(float *x, const float *r, const float *g, const float *b, int T, int H, float eps) {
    for (int t = 0; t < T; t++) {
        float *v = x + (size_t)t * H;
        if (r)
            for (int i = 0; i < H; i++) v[i] += r[(size_t)t * H + i];
        double s = 0, ss = 0;
        for (int i = 0; i < H; i++) s += v[i];
        float mean = (float)(s / H);
        for (int i = 0; i < H; i++) ss += (double)(v[i] - mean) * (v[i] - mean);
        float inv = 1.0f / sqrtf((float)(ss / H) + eps);
        for (int i = 0; i < H; i++) v[i] = (v[i] - mean) * inv * g[i] + b[i];
    }
}

static void softmax_row(float *v, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = v[i] > mx ? v[i] : mx;
    double s = 0;
    for (int i = 0; i < n; i++) s += (v[i] = expf(v[i] - mx));
    float inv = (float)(1.0 / s);
    for (int i = 0; i < n; i++) v[i] *= inv;
}

int bv_bert_model_hidden_states(const bv_bert_model *m, const int *ids, int n, int which, float *out, char *err,
                                size_t errcap) {
    int L = m->layers, H = m->hidden, In = m->inter, E = m->emb_size, nh = m->heads, dh = m->head_dim, T = n;
    int idx = which < 0 ? L + 1 + which : which;
    if (idx < 0 || idx > L) return bv_err_set(err, errcap, "hidden_states[%d] of a %d-layer model", which, L);
    if (T < 1) return bv_err_set(err, errcap, "no tokens");
    if (m->pos_biased && T > m->max_pos)
        return bv_err_set(err, errcap, "%d tokens, more than the model's %d positions (max_position_embeddings)", T,
                          m->max_pos);
    if (T > 1 << 16) return bv_err_set(err, errcap, "%d tokens, more than %d", T, 1 << 16);
    for (int t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= m->vocab)
            return bv_err_set(err, errcap, "token id %d outside the model's vocabulary [0, %d)", ids[t], m->vocab);
    size_t TH = (size_t)T * H;
    float *x = bv_xmalloc(TH * sizeof(float)), *q = bv_xmalloc(TH * sizeof(float)),
          *k = bv_xmalloc(TH * sizeof(float)), *v = bv_xmalloc(TH * sizeof(float)),
          *ctx = bv_xmalloc(TH * sizeof(float)), *tmp = bv_xmalloc(TH * sizeof(float)),
          *hbuf = bv_xmalloc((size_t)T * In * sizeof(float)), *sc = bv_xmalloc((size_t)T * T * sizeof(float));
    /* embeddings */
    float *e = E != H ? bv_xmalloc((size_t)T * E * sizeof(float)) : x;
    for (int t = 0; t < T; t++) {
        float *r = e + (size_t)t * E;
        memcpy(r, m->word + (size_t)ids[t] * E, (size_t)E * sizeof(float));
        if (m->pos)
            for (int i = 0; i < E; i++) r[i] += m->pos[(size_t)t * E + i];
        if (m->type)
            for (int i = 0; i < E; i++) r[i] += m->type[i]; /* token_type_ids all 0 */
    }
    if (E != H) {
        linear(x, e, m->embed_proj, NULL, T, E, H);
        free(e);
    }
    layer_norm(x, NULL, m->emb_lng, m->emb_lnb, T, H, m->eps);

    /* DeBERTa relative positions: bucket of (i - j), and the rows of the relative embeddings it reaches */
    int deb = m->arch == BV_BERT_ARCH_DEBERTA_V2, rel = deb && m->relative && (m->c2p || m->p2c);
    int span = m->buckets > 0 ? m->buckets : m->max_rel, lo = 0, nr = 0;
    int *cpos = NULL, *ppos = NULL; /* [2T-1]: clamp(bucket(d) + span) for d = i - j + T - 1 */
    float *relx = NULL, *pk = NULL, *pq = NULL, *pbuf = NULL;
    float scale = sqrtf((float)dh * (float)(1 + m->n_att_types));
    if (rel) {
        cpos = bv_xmalloc((size_t)(2 * T - 1) * sizeof(int));
        int hi = 0;
        lo = 2 * span;
        for (int d = -(T - 1); d <= T - 1; d++) {
            int r = m->buckets > 0 && m->max_rel > 0 ? bv_bert_log_bucket(d, m->buckets, m->max_rel) : d;
            int p = r + span;
            p = p < 0 ? 0 : p > 2 * span - 1 ? 2 * span - 1 : p;
            cpos[d + T - 1] = p;
            lo = p < lo ? p : lo;
            hi = p > hi ? p : hi;
        }
        /* p2c: clamp(-bucket(d) + span) for d = j - i + T - 1 */
        ppos = bv_xmalloc((size_t)(2 * T - 1) * sizeof(int));
        for (int d = -(T - 1); d <= T - 1; d++) {
            int r = m->buckets > 0 && m->max_rel > 0 ? bv_bert_log_bucket(d, m->buckets, m->max_rel) : d;
            int p = -r + span;
            p = p < 0 ? 0 : p > 2 * span - 1 ? 2 * span - 1 : p;
            ppos[d + T - 1] = p;
            lo = p < lo ? p : lo;
            hi = p > hi ? p : hi;
        }
        nr = hi - lo + 1;
        relx = bv_xmalloc((size_t)nr * H * sizeof(float));
        memcpy(relx, m->rel + (size_t)lo * H, (size_t)nr * H * sizeof(float));
        if (m->rel_ln) layer_norm(relx, NULL, m->rel_lng, m->rel_lnb, nr, H, m->eps);
        pk = bv_xmalloc((size_t)nr * H * sizeof(float));
        pq = bv_xmalloc((size_t)nr * H * sizeof(float));
        pbuf = bv_xmalloc((size_t)T * nr * sizeof(float));
    }

    for (int l = 0; l < idx; l++) {
        const bm_layer *y = &m->layer[l];
        linear(q, x, y->wq, y->bq, T, H, H);
        linear(k, x, y->wk, y->bk, T, H, H);
        linear(v, x, y->wv, y->bv, T, H, H);
        if (rel) {
            if (m->c2p) linear(pk, relx, m->share_key ? y->wk : y->pwk, m->share_key ? y->bk : y->pbk, nr, H, H);
            if (m->p2c) linear(pq, relx, m->share_key ? y->wq : y->pwq, m->share_key ? y->bq : y->pbq, nr, H, H);
        }
        if (deb) /* bmm(q, k^T / scale): scale the keys, as transformers does */
            for (size_t i = 0; i < TH; i++) tmp[i] = k[i] / scale;
        for (int h = 0; h < nh; h++) {
            const float *qh = q + (size_t)h * dh, *kh = (deb ? tmp : k) + (size_t)h * dh, *vh = v + (size_t)h * dh;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, dh, 1.0f, qh, H, kh, H, 0.0f, sc, T);
            if (!deb) {
                float s = (float)sqrt((double)dh);
                for (size_t i = 0; i < (size_t)T * T; i++) sc[i] /= s; /* scores / math.sqrt(d) */
            }
            if (rel && m->c2p) { /* c2p[i, j] = q_i . pk[cpos(i - j)] / scale */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, nr, dh, 1.0f, qh, H, pk + (size_t)h * dh, H,
                            0.0f, pbuf, nr);
                for (int i = 0; i < T; i++)
                    for (int j = 0; j < T; j++)
                        sc[(size_t)i * T + j] += pbuf[(size_t)i * nr + cpos[i - j + T - 1] - lo] / scale;
            }
            if (rel && m->p2c) { /* p2c[i, j] = k_j . pq[clamp(-bucket(j - i) + span)] / scale */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, nr, dh, 1.0f, k + (size_t)h * dh, H,
                            pq + (size_t)h * dh, H, 0.0f, pbuf, nr);
                for (int i = 0; i < T; i++)
                    for (int j = 0; j < T; j++)
                        sc[(size_t)i * T + j] += pbuf[(size_t)j * nr + ppos[j - i + T - 1] - lo] / scale;
            }
            for (int i = 0; i < T; i++) softmax_row(sc + (size_t)i * T, T);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, dh, T, 1.0f, sc, T, vh, H, 0.0f,
                        ctx + (size_t)h * dh, H);
        }
        linear(tmp, ctx, y->wo, y->bo, T, H, H);
        layer_norm(tmp, x, y->ln1g, y->ln1b, T, H, m->eps); /* attention.output: LN(dense + input) */
        linear(hbuf, tmp, y->wi, y->bi, T, H, In);
        for (size_t i = 0; i < (size_t)T * In; i++) {
            float z = hbuf[i];
            hbuf[i] = 0.5f * z * (1.0f + erff(z * (float)M_SQRT1_2));
        }
        linear(x, hbuf, y->wo2, y->bo2, T, In, H);
        layer_norm(x, tmp, y->ln2g, y->ln2b, T, H, m->eps);
    }
    memcpy(out, x, TH * sizeof(float));
    free(x), free(q), free(k), free(v), free(ctx), free(tmp), free(hbuf), free(sc);
    free(cpos), free(ppos), free(relx), free(pk), free(pq), free(pbuf);
    return 0;
}
