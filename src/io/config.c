/* config.c - upstream config.json reader (see config.h). Every getter names the key path it reads,
 * so a bad file is reported as "<file>: <section>.<key>: <what was expected>, got <what>". The
 * first error wins; later getters do nothing once one failed. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

typedef struct reader {
    const char *src;    /* file name for messages */
    char *err;
    size_t cap;
    int failed;
} reader;

__attribute__((format(printf, 3, 4))) static void fail(reader *r, const char *path, const char *fmt, ...) {
    if (r->failed) return;
    r->failed = 1;
    int n = snprintf(r->err, r->cap, "%s: %s: ", r->src, path);
    if (n < 0 || (size_t)n >= r->cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->cap - (size_t)n, fmt, ap);
    va_end(ap);
}

/* What a JSON value is, for "got ..." in messages. */
static const char *describe(const cJSON *v, char *buf, size_t cap) {
    if (cJSON_IsNumber(v)) snprintf(buf, cap, "%.17g", v->valuedouble);
    else if (cJSON_IsString(v)) snprintf(buf, cap, "the string \"%.40s\"", v->valuestring);
    else if (cJSON_IsBool(v)) snprintf(buf, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v)) snprintf(buf, cap, "null");
    else if (cJSON_IsArray(v)) snprintf(buf, cap, "a list");
    else if (cJSON_IsObject(v)) snprintf(buf, cap, "an object");
    else snprintf(buf, cap, "an invalid value");
    return buf;
}

static void key_path(char *out, size_t cap, const char *section, const char *key) {
    snprintf(out, cap, "%s%s%s", section, *section ? "." : "", key);
}

/* obj[key], or NULL; a missing required key fails. */
static const cJSON *item(reader *r, const cJSON *obj, const char *section, const char *key, int required) {
    if (r->failed || !obj) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v && required) {
        char path[256];
        key_path(path, sizeof path, section, key);
        fail(r, path, "missing (required)");
    }
    return v;
}

static const cJSON *get_object(reader *r, const cJSON *obj, const char *section, const char *key) {
    const cJSON *v = item(r, obj, section, key, 1);
    if (v && !cJSON_IsObject(v)) {
        char path[256], b[96];
        key_path(path, sizeof path, section, key);
        fail(r, path, "expected an object, got %s", describe(v, b, sizeof b));
        return NULL;
    }
    return v;
}

/* An integral JSON number within [lo, hi]. */
static int check_integer(reader *r, const cJSON *v, const char *path, double lo, double hi) {
    char b[96];
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || !isfinite(v->valuedouble)) {
        fail(r, path, "expected an integer, got %s", describe(v, b, sizeof b));
        return 0;
    }
    if (v->valuedouble < lo || v->valuedouble > hi) {
        fail(r, path, "integer out of range: must be in [%.0f, %.0f], got %s", lo, hi, describe(v, b, sizeof b));
        return 0;
    }
    return 1;
}

/* An integer key within [lo, hi]. Every size key has a range: what the model can be built with on
 * one machine, far above any real config, so an absurd value is named here instead of overflowing an
 * allocation (or a 32-bit int) later. */
static int64_t get_i64(reader *r, const cJSON *obj, const char *section, const char *key, int required, int64_t def,
                       int64_t lo, int64_t hi) {
    const cJSON *v = item(r, obj, section, key, required);
    if (!v) return def;
    char path[256];
    key_path(path, sizeof path, section, key);
    return check_integer(r, v, path, (double)lo, (double)hi) ? (int64_t)v->valuedouble : def;
}

static int get_int(reader *r, const cJSON *obj, const char *section, const char *key, int required, int def, int lo,
                   int hi) {
    return (int)get_i64(r, obj, section, key, required, def, lo, hi);
}

static double get_num(reader *r, const cJSON *obj, const char *section, const char *key, int required, double def) {
    const cJSON *v = item(r, obj, section, key, required);
    if (!v) return def;
    if (!cJSON_IsNumber(v)) {
        char path[256], b[96];
        key_path(path, sizeof path, section, key);
        fail(r, path, "expected a number, got %s", describe(v, b, sizeof b));
        return def;
    }
    return v->valuedouble;
}

static int get_bool(reader *r, const cJSON *obj, const char *section, const char *key, int required, int def) {
    const cJSON *v = item(r, obj, section, key, required);
    if (!v) return def;
    if (!cJSON_IsBool(v)) {
        char path[256], b[96];
        key_path(path, sizeof path, section, key);
        fail(r, path, "expected true or false, got %s", describe(v, b, sizeof b));
        return def;
    }
    return cJSON_IsTrue(v);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = bv_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

/* A required string (copied), or NULL when absent and optional. */
static char *get_str(reader *r, const cJSON *obj, const char *section, const char *key, int required) {
    const cJSON *v = item(r, obj, section, key, required);
    if (!v) return NULL;
    if (!cJSON_IsString(v)) {
        char path[256], b[96];
        key_path(path, sizeof path, section, key);
        fail(r, path, "expected a string, got %s", describe(v, b, sizeof b));
        return NULL;
    }
    return dup_str(v->valuestring);
}

/* A required non-empty list of integers (at most cap) into out; returns its length. */
static int int_list(reader *r, const cJSON *v, const char *path, int *out, int cap, int lo, int hi) {
    char b[96], ep[300];
    if (!cJSON_IsArray(v)) {
        fail(r, path, "expected a list of integers, got %s", describe(v, b, sizeof b));
        return 0;
    }
    int n = cJSON_GetArraySize(v);
    if (n < 1 || n > cap) {
        fail(r, path, "expected 1 to %d integers, got %d", cap, n);
        return 0;
    }
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        snprintf(ep, sizeof ep, "%s[%d]", path, i);
        if (!check_integer(r, e, ep, lo, hi)) return 0;
        out[i++] = (int)e->valuedouble;
    }
    return n;
}

static int get_int_list(reader *r, const cJSON *obj, const char *section, const char *key, int *out, int cap,
                        int lo, int hi) {
    const cJSON *v = item(r, obj, section, key, 1);
    if (!v) return 0;
    char path[256];
    key_path(path, sizeof path, section, key);
    return int_list(r, v, path, out, cap, lo, hi);
}

/* ---------------- sections ---------------- */

static void read_train(reader *r, const cJSON *t, bv_config_train *c) {
    const char *S = "train";
    c->log_interval = get_i64(r, t, S, "log_interval", 1, 0, 0, 1000000000);
    c->eval_interval = get_i64(r, t, S, "eval_interval", 1, 0, 0, 1000000000);
    c->seed = get_i64(r, t, S, "seed", 1, 0, -BV_JSON_INT_MAX, BV_JSON_INT_MAX);
    c->epochs = get_i64(r, t, S, "epochs", 1, 0, 0, 1000000000);
    c->learning_rate = get_num(r, t, S, "learning_rate", 1, 0);
    const cJSON *betas = item(r, t, S, "betas", 1);
    if (betas) {
        if (!cJSON_IsArray(betas) || cJSON_GetArraySize(betas) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(betas, 0)) ||
            !cJSON_IsNumber(cJSON_GetArrayItem(betas, 1))) {
            char b[96];
            fail(r, "train.betas", "expected a list of two numbers, got %s", describe(betas, b, sizeof b));
        } else {
            c->betas[0] = cJSON_GetArrayItem(betas, 0)->valuedouble;
            c->betas[1] = cJSON_GetArrayItem(betas, 1)->valuedouble;
        }
    }
    c->eps = get_num(r, t, S, "eps", 1, 0);
    c->batch_size = get_i64(r, t, S, "batch_size", 1, 0, 0, BV_CONFIG_MAX_BATCH);
    c->bf16_run = get_bool(r, t, S, "bf16_run", 1, 0);
    c->lr_decay = get_num(r, t, S, "lr_decay", 1, 0);
    c->segment_size = get_i64(r, t, S, "segment_size", 1, 0, 0, BV_CONFIG_MAX_SEGMENT);
    c->init_lr_ratio = get_num(r, t, S, "init_lr_ratio", 0, 1.0);
    c->warmup_epochs = get_i64(r, t, S, "warmup_epochs", 0, 0, 0, 1000000000);
    c->c_mel = get_num(r, t, S, "c_mel", 1, 0);
    c->c_kl = get_num(r, t, S, "c_kl", 1, 0);
    c->c_commit = get_num(r, t, S, "c_commit", 0, 100.0);
    c->skip_optimizer = get_bool(r, t, S, "skip_optimizer", 0, 1);
    c->freeze_ZH_bert = get_bool(r, t, S, "freeze_ZH_bert", 0, 0);
    c->freeze_JP_bert = get_bool(r, t, S, "freeze_JP_bert", 0, 0);
    c->freeze_EN_bert = get_bool(r, t, S, "freeze_EN_bert", 0, 0);
    c->freeze_emo = get_bool(r, t, S, "freeze_emo", 0, 0);
    c->keep_ckpts = get_i64(r, t, S, "keep_ckpts", 0, 8, 0, 1000000);
}

static void read_spk2id(reader *r, const cJSON *d, bv_config_data *c) {
    const cJSON *m = get_object(r, d, "data", "spk2id");
    if (!m) return;
    int n = cJSON_GetArraySize(m);
    c->spk2id = bv_xcalloc((size_t)(n ? n : 1), sizeof *c->spk2id);
    const cJSON *e;
    cJSON_ArrayForEach(e, m) {
        char path[512];
        snprintf(path, sizeof path, "data.spk2id.%s", e->string);
        if (!check_integer(r, e, path, 0, BV_CONFIG_MAX_SPEAKERS - 1)) return;
        c->spk2id[c->n_spk2id++] = (bv_config_speaker){dup_str(e->string), (int64_t)e->valuedouble};
    }
}

static void read_data(reader *r, const cJSON *d, bv_config_data *c) {
    const char *S = "data";
    c->training_files = get_str(r, d, S, "training_files", 1);
    c->validation_files = get_str(r, d, S, "validation_files", 1);
    c->max_wav_value = get_num(r, d, S, "max_wav_value", 1, 0);
    c->sampling_rate = get_i64(r, d, S, "sampling_rate", 1, 0, 0, BV_CONFIG_MAX_RATE);
    c->filter_length = get_i64(r, d, S, "filter_length", 1, 0, 0, BV_CONFIG_MAX_FFT);
    c->hop_length = get_i64(r, d, S, "hop_length", 1, 0, 0, BV_CONFIG_MAX_FFT);
    c->win_length = get_i64(r, d, S, "win_length", 1, 0, 0, BV_CONFIG_MAX_FFT);
    c->n_mel_channels = get_i64(r, d, S, "n_mel_channels", 1, 0, 0, BV_CONFIG_MAX_MELS);
    c->mel_fmin = get_num(r, d, S, "mel_fmin", 1, 0);
    const cJSON *fmax = item(r, d, S, "mel_fmax", 1);
    if (fmax && !cJSON_IsNull(fmax)) {
        c->mel_fmax = get_num(r, d, S, "mel_fmax", 1, 0);
        c->has_mel_fmax = 1;
    }
    c->add_blank = get_bool(r, d, S, "add_blank", 1, 0);
    c->n_speakers = get_i64(r, d, S, "n_speakers", 1, 0, 0, BV_CONFIG_MAX_SPEAKERS);
    c->cleaned_text = get_bool(r, d, S, "cleaned_text", 0, 0);
    c->min_text_len = get_i64(r, d, S, "min_text_len", 0, 1, 0, BV_CONFIG_MAX_TEXT);
    c->max_text_len = get_i64(r, d, S, "max_text_len", 0, 384, 0, BV_CONFIG_MAX_TEXT);
    read_spk2id(r, d, c);
}

static void read_resblock(reader *r, const cJSON *m, bv_config_model *c) {
    const cJSON *rb = item(r, m, "model", "resblock", 1);
    if (rb) {
        /* upstream: ResBlock1 if resblock == "1" else ResBlock2 */
        if (cJSON_IsString(rb) && (!strcmp(rb->valuestring, "1") || !strcmp(rb->valuestring, "2")))
            c->resblock = rb->valuestring[0] - '0';
        else {
            char b[96];
            fail(r, "model.resblock", "expected \"1\" or \"2\", got %s", describe(rb, b, sizeof b));
        }
    }
    c->n_resblock_kernels = get_int_list(r, m, "model", "resblock_kernel_sizes", c->resblock_kernel_sizes,
                                         BV_CONFIG_MAX_LIST, 0, BV_CONFIG_MAX_KERNEL);
    const cJSON *dil = item(r, m, "model", "resblock_dilation_sizes", 1);
    if (!dil || r->failed) return;
    if (!cJSON_IsArray(dil) || cJSON_GetArraySize(dil) != c->n_resblock_kernels) {
        fail(r, "model.resblock_dilation_sizes", "expected %d lists (one per resblock_kernel_sizes entry)",
             c->n_resblock_kernels);
        return;
    }
    const int need = c->resblock == 1 ? 3 : 2; /* ResBlock1 reads dilation[0..2], ResBlock2 [0..1] */
    for (int k = 0; k < c->n_resblock_kernels; k++) {
        char path[128];
        int tmp[64];
        snprintf(path, sizeof path, "model.resblock_dilation_sizes[%d]", k);
        int n = int_list(r, cJSON_GetArrayItem(dil, k), path, tmp, 64, 1, BV_CONFIG_MAX_KERNEL);
        if (r->failed) return;
        if (n < need) {
            fail(r, path, "resblock \"%d\" needs %d dilations, got %d", c->resblock, need, n);
            return;
        }
        for (int j = 0; j < 3; j++) c->resblock_dilation_sizes[k][j] = j < n ? tmp[j] : 0;
    }
}

static void read_model(reader *r, const cJSON *m, bv_config_model *c) {
    const char *S = "model";
    c->use_spk_conditioned_encoder = get_bool(r, m, S, "use_spk_conditioned_encoder", 0, 1);
    c->use_noise_scaled_mas = get_bool(r, m, S, "use_noise_scaled_mas", 0, 0);
    c->use_mel_posterior_encoder = get_bool(r, m, S, "use_mel_posterior_encoder", 0, 0);
    c->use_duration_discriminator = get_bool(r, m, S, "use_duration_discriminator", 0, 0);
    c->inter_channels = get_int(r, m, S, "inter_channels", 1, 0, 0, BV_CONFIG_MAX_CHANNELS);
    c->hidden_channels = get_int(r, m, S, "hidden_channels", 1, 0, 0, BV_CONFIG_MAX_CHANNELS);
    c->filter_channels = get_int(r, m, S, "filter_channels", 1, 0, 0, BV_CONFIG_MAX_CHANNELS);
    c->n_heads = get_int(r, m, S, "n_heads", 1, 0, 0, BV_CONFIG_MAX_LAYERS);
    c->n_layers = get_int(r, m, S, "n_layers", 1, 0, 0, BV_CONFIG_MAX_LAYERS);
    c->kernel_size = get_int(r, m, S, "kernel_size", 1, 0, 0, BV_CONFIG_MAX_KERNEL);
    c->p_dropout = (float)get_num(r, m, S, "p_dropout", 1, 0);
    read_resblock(r, m, c);
    c->n_upsamples = get_int_list(r, m, S, "upsample_rates", c->upsample_rates, BV_CONFIG_MAX_LIST, 0, BV_CONFIG_MAX_KERNEL);
    int nk = get_int_list(r, m, S, "upsample_kernel_sizes", c->upsample_kernel_sizes, BV_CONFIG_MAX_LIST, 0,
                          BV_CONFIG_MAX_KERNEL);
    if (!r->failed && nk != c->n_upsamples)
        fail(r, "model.upsample_kernel_sizes", "expected %d entries (one per upsample_rates entry), got %d",
             c->n_upsamples, nk);
    c->upsample_initial_channel = get_int(r, m, S, "upsample_initial_channel", 1, 0, 0, BV_CONFIG_MAX_CHANNELS);
    c->n_layers_q = get_int(r, m, S, "n_layers_q", 0, 3, 0, BV_CONFIG_MAX_LAYERS);
    c->n_layers_trans_flow = get_int(r, m, S, "n_layers_trans_flow", 0, 4, 0, BV_CONFIG_MAX_LAYERS);
    c->use_transformer_flow = get_bool(r, m, S, "use_transformer_flow", 0, 1);
    c->use_spectral_norm = get_bool(r, m, S, "use_spectral_norm", 1, 0);
    c->gin_channels = get_int(r, m, S, "gin_channels", 0, 256, 0, BV_CONFIG_MAX_CHANNELS);
    c->use_sdp = get_bool(r, m, S, "use_sdp", 0, 1);
    c->n_flow_layer = get_int(r, m, S, "n_flow_layer", 0, 4, 0, BV_CONFIG_MAX_LAYERS);
    c->flow_share_parameter = get_bool(r, m, S, "flow_share_parameter", 0, 0);
    c->mas_noise_scale_initial = get_num(r, m, S, "mas_noise_scale_initial", 0, 0.01);
    c->noise_scale_delta = get_num(r, m, S, "noise_scale_delta", 0, 2e-6);
    const cJSON *slm = get_object(r, m, S, "slm");
    c->slm.model = get_str(r, slm, "model.slm", "model", 1);
    c->slm.sr = get_i64(r, slm, "model.slm", "sr", 1, 0, 0, BV_CONFIG_MAX_RATE);
    c->slm.hidden = get_i64(r, slm, "model.slm", "hidden", 1, 0, 0, BV_CONFIG_MAX_CHANNELS);
    c->slm.nlayers = get_i64(r, slm, "model.slm", "nlayers", 1, 0, 0, BV_CONFIG_MAX_LAYERS);
    c->slm.initial_channel = get_i64(r, slm, "model.slm", "initial_channel", 1, 0, 0, BV_CONFIG_MAX_CHANNELS);
    c->sdp_p_dropout = 0.5f;
    c->dp_p_dropout = 0.5f;
    c->dur_disc_p_dropout = 0.1f;
}

/* ---------------- value checks (what upstream would crash on, said early and by key) ---------------- */

static void positive(reader *r, const char *path, double v) {
    if (!(v > 0)) fail(r, path, "must be positive, got %g", v);
}

static void check_train(reader *r, const bv_config *c) {
    positive(r, "train.log_interval", (double)c->train.log_interval);   /* global_step % log_interval */
    positive(r, "train.eval_interval", (double)c->train.eval_interval);
    positive(r, "train.batch_size", (double)c->train.batch_size);
    positive(r, "train.lr_decay", c->train.lr_decay);
    if (c->data.hop_length > 0 && c->train.segment_size < c->data.hop_length)
        fail(r, "train.segment_size", "%lld samples is less than one frame (data.hop_length %lld)",
             (long long)c->train.segment_size, (long long)c->data.hop_length);
    /* upstream slices segment_size // hop frames of z but segment_size samples of the wav, so the
     * discriminators compare different lengths (a shape error deep in feature_loss) otherwise */
    if (c->data.hop_length > 0 && c->train.segment_size % c->data.hop_length)
        fail(r, "train.segment_size", "%lld samples is not a multiple of data.hop_length %lld",
             (long long)c->train.segment_size, (long long)c->data.hop_length);
    int64_t ups = 1;
    for (int i = 0; i < c->model.n_upsamples; i++) ups *= c->model.upsample_rates[i]; /* <= 1024^8: fits */
    if (c->data.hop_length > 0 && ups != c->data.hop_length)
        fail(r, "model.upsample_rates", "their product %lld must equal data.hop_length %lld (the Generator turns "
             "one frame into hop_length samples)", (long long)ups, (long long)c->data.hop_length);
    if (c->model.n_heads > 0 && c->model.hidden_channels % c->model.n_heads)
        fail(r, "model.n_heads", "%d does not divide model.hidden_channels %d", c->model.n_heads,
             c->model.hidden_channels);
    if (c->model.upsample_initial_channel >> c->model.n_upsamples < 1)
        fail(r, "model.upsample_initial_channel", "%d halves to zero channels over %d upsamplings",
             c->model.upsample_initial_channel, c->model.n_upsamples);
    if (c->train.learning_rate < 0) fail(r, "train.learning_rate", "must not be negative, got %g", c->train.learning_rate);
    if (c->train.eps < 0) fail(r, "train.eps", "must not be negative, got %g", c->train.eps);
    for (int i = 0; i < 2; i++)
        if (!(c->train.betas[i] >= 0 && c->train.betas[i] < 1))
            fail(r, "train.betas", "each beta must be in [0, 1), got %g", c->train.betas[i]);
}

static void check_data(reader *r, const bv_config_data *d) {
    positive(r, "data.max_wav_value", d->max_wav_value);
    positive(r, "data.sampling_rate", (double)d->sampling_rate);
    positive(r, "data.filter_length", (double)d->filter_length);
    positive(r, "data.hop_length", (double)d->hop_length);
    positive(r, "data.win_length", (double)d->win_length);
    positive(r, "data.n_mel_channels", (double)d->n_mel_channels);
    if (d->win_length > d->filter_length)
        fail(r, "data.win_length", "%lld exceeds data.filter_length %lld", (long long)d->win_length,
             (long long)d->filter_length);
    if (d->n_speakers < 0) fail(r, "data.n_speakers", "must not be negative, got %lld", (long long)d->n_speakers);
    for (int i = 0; i < d->n_spk2id && d->n_speakers > 0; i++)
        if (d->spk2id[i].id >= d->n_speakers) {
            char path[512];
            snprintf(path, sizeof path, "data.spk2id.%s", d->spk2id[i].name);
            fail(r, path, "id %lld is outside [0, data.n_speakers = %lld)", (long long)d->spk2id[i].id,
                 (long long)d->n_speakers);
        }
}

static void check_model(reader *r, const bv_config_model *m) {
    const struct { const char *path; int v; } pos[] = {
        {"model.inter_channels", m->inter_channels}, {"model.hidden_channels", m->hidden_channels},
        {"model.filter_channels", m->filter_channels}, {"model.n_heads", m->n_heads},
        {"model.n_layers", m->n_layers}, {"model.kernel_size", m->kernel_size},
        {"model.upsample_initial_channel", m->upsample_initial_channel},
        {"model.n_layers_trans_flow", m->n_layers_trans_flow}, {"model.n_flow_layer", m->n_flow_layer},
    };
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) positive(r, pos[i].path, pos[i].v);
    if (m->gin_channels < 0) fail(r, "model.gin_channels", "must not be negative, got %d", m->gin_channels);
    if (!(m->p_dropout >= 0 && m->p_dropout < 1)) fail(r, "model.p_dropout", "must be in [0, 1), got %g", m->p_dropout);
    for (int i = 0; i < m->n_upsamples; i++) {
        if (m->upsample_rates[i] <= 0) fail(r, "model.upsample_rates", "entries must be positive");
        if (m->upsample_kernel_sizes[i] <= 0) fail(r, "model.upsample_kernel_sizes", "entries must be positive");
    }
    for (int i = 0; i < m->n_resblock_kernels; i++)
        if (m->resblock_kernel_sizes[i] <= 0) fail(r, "model.resblock_kernel_sizes", "entries must be positive");
    positive(r, "model.slm.sr", (double)m->slm.sr);
    positive(r, "model.slm.hidden", (double)m->slm.hidden);
    positive(r, "model.slm.nlayers", (double)m->slm.nlayers);
    positive(r, "model.slm.initial_channel", (double)m->slm.initial_channel);
}

int bv_config_from_json(bv_config *cfg, const cJSON *root, const char *source, char *err, size_t errcap) {
    reader r = {.src = source ? source : "config", .err = err, .cap = errcap};
    memset(cfg, 0, sizeof *cfg);
    if (errcap) err[0] = 0;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errcap, "%s: expected a JSON object at the top level", r.src);
        return -1;
    }
    const cJSON *train = get_object(&r, root, "", "train");
    const cJSON *data = get_object(&r, root, "", "data");
    const cJSON *model = get_object(&r, root, "", "model");
    if (train) read_train(&r, train, &cfg->train);
    if (data) read_data(&r, data, &cfg->data);
    if (model) read_model(&r, model, &cfg->model);
    cfg->version = get_str(&r, root, "", "version", 0);
    if (!r.failed) check_data(&r, &cfg->data);
    if (!r.failed) check_model(&r, &cfg->model);
    if (!r.failed) check_train(&r, cfg);
    if (r.failed) {
        bv_config_free(cfg);
        return -1;
    }
    return 0;
}

/* 1-based line of position p in text (for JSON syntax errors). */
static int line_of(const char *text, const char *p) {
    int line = 1;
    for (const char *q = text; q < p && *q; q++) line += *q == '\n';
    return line;
}

/* Python's json keeps the LAST of duplicate keys; cJSON's lookup finds the first. Drop the earlier
 * ones (saying so on stderr) so a config means what it means to upstream. */
static void keep_last_duplicates(cJSON *obj, const char *src, int depth) {
    if (depth > 64 || !(cJSON_IsObject(obj) || cJSON_IsArray(obj))) return;
    for (cJSON *e = obj->child; e;) {
        cJSON *next = e->next;
        int dup = 0;
        if (cJSON_IsObject(obj) && e->string)
            for (cJSON *f = next; f && !dup; f = f->next) dup = f->string && !strcmp(f->string, e->string);
        if (dup) {
            fprintf(stderr, "warning: %s: key \"%s\" appears more than once; the last one is used (as upstream's "
                    "Python json does)\n", src, e->string);
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, e));
        } else {
            keep_last_duplicates(e, src, depth + 1);
        }
        e = next;
    }
}

int bv_config_parse(bv_config *cfg, const char *json, const char *source, char *err, size_t errcap) {
    const char *src = source ? source : "config";
    memset(cfg, 0, sizeof *cfg);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) {
        snprintf(err, errcap, "%s: invalid JSON near line %d", src, end ? line_of(json, end) : 0);
        return -1;
    }
    keep_last_duplicates(root, src, 0);
    int rc = bv_config_from_json(cfg, root, src, err, errcap);
    cJSON_Delete(root);
    return rc;
}

int bv_config_load(bv_config *cfg, const char *path, char *err, size_t errcap) {
    memset(cfg, 0, sizeof *cfg);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 16384;
            buf = bv_xrealloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int read_err = ferror(f);
    fclose(f);
    if (read_err) {
        free(buf);
        snprintf(err, errcap, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    buf[n] = 0;
    int rc = bv_config_parse(cfg, buf, path, err, errcap);
    free(buf);
    return rc;
}

void bv_config_free(bv_config *cfg) {
    if (!cfg) return;
    free(cfg->data.training_files);
    free(cfg->data.validation_files);
    for (int i = 0; i < cfg->data.n_spk2id; i++) free(cfg->data.spk2id[i].name);
    free(cfg->data.spk2id);
    free(cfg->model.slm.model);
    free(cfg->version);
    memset(cfg, 0, sizeof *cfg);
}

int64_t bv_config_speaker_id(const bv_config *c, const char *name) {
    for (int i = 0; i < c->data.n_spk2id; i++)
        if (!strcmp(c->data.spk2id[i].name, name)) return c->data.spk2id[i].id;
    return -1;
}
