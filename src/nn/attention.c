/* attention.c - upstream attentions.py as modules built from ops: MultiHeadAttention (relative
 * position embeddings, proximal bias, local block mask), FFN and the speaker-conditioned Encoder.
 * The relative-position ops it uses live in src/ops/relpos.c.
 */
#include "attention.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/ops.h"

/* ======================= parameter init helpers ======================= */

/* nn.Conv1d / nn.Linear default: kaiming_uniform(a=sqrt(5)) -> U(+-1/sqrt(fan_in)), same for bias. */
static void init_conv_default(bv_tensor *w, bv_tensor *b, bv_rng *rng) {
    int64_t fan_in = w->numel / w->shape[0];
    double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
    bv_init_uniform(w, rng, bound);
    if (b) bv_init_uniform(b, rng, bound);
}

/* nn.init.xavier_uniform_ for a conv weight [out, in, k]. */
static void init_xavier(bv_tensor *w, bv_rng *rng) {
    int64_t rf = w->numel / (w->shape[0] * w->shape[1]);
    double fan_in = (double)(w->shape[1] * rf), fan_out = (double)(w->shape[0] * rf);
    bv_init_uniform(w, rng, sqrt(6.0 / (fan_in + fan_out)));
}

static bv_tensor *param(bv_params *ps, const char *prefix, const char *name, int ndim, const int64_t *shape) {
    return bv_params_addf(ps, ndim, shape, "%s%s", prefix, name);
}

/* ======================= MultiHeadAttention ======================= */

void bv_mha_init(bv_mha *m, bv_params *ps, const char *prefix, const bv_mha_cfg *cfg) {
    if (cfg->channels <= 0 || cfg->out_channels <= 0 || cfg->n_heads <= 0 || cfg->channels % cfg->n_heads != 0)
        BV_FATAL("MultiHeadAttention: channels %d must be a positive multiple of n_heads %d (out_channels %d)",
                 cfg->channels, cfg->n_heads, cfg->out_channels);
    if (cfg->window_size < 0 || cfg->block_length < 0)
        BV_FATAL("MultiHeadAttention: negative window_size %d / block_length %d", cfg->window_size,
                 cfg->block_length);
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    int64_t C = cfg->channels, K = cfg->channels / cfg->n_heads;
    m->k_channels = (int)K;
    /* state_dict order: the module's own parameters come before its submodules' */
    if (cfg->window_size > 0) {
        int64_t nh = cfg->heads_share ? 1 : cfg->n_heads, R = 2 * (int64_t)cfg->window_size + 1;
        m->emb_rel_k = param(ps, prefix, "emb_rel_k", BV_SHAPE(nh, R, K)); // emb_rel_k [h or 1, 2w+1, k]
        m->emb_rel_v = param(ps, prefix, "emb_rel_v", BV_SHAPE(nh, R, K)); // emb_rel_v [h or 1, 2w+1, k]
    }
    m->conv_q_w = param(ps, prefix, "conv_q.weight", BV_SHAPE(C, C, 1)); // conv_q.weight [C, C, 1]
    m->conv_q_b = param(ps, prefix, "conv_q.bias", BV_SHAPE(C));         // conv_q.bias [C]
    m->conv_k_w = param(ps, prefix, "conv_k.weight", BV_SHAPE(C, C, 1)); // conv_k.weight [C, C, 1]
    m->conv_k_b = param(ps, prefix, "conv_k.bias", BV_SHAPE(C));         // conv_k.bias [C]
    m->conv_v_w = param(ps, prefix, "conv_v.weight", BV_SHAPE(C, C, 1)); // conv_v.weight [C, C, 1]
    m->conv_v_b = param(ps, prefix, "conv_v.bias", BV_SHAPE(C));         // conv_v.bias [C]
    m->conv_o_w = param(ps, prefix, "conv_o.weight", BV_SHAPE(cfg->out_channels, C, 1)); // conv_o.weight
    m->conv_o_b = param(ps, prefix, "conv_o.bias", BV_SHAPE(cfg->out_channels));         // conv_o.bias
}

bv_mha *bv_mha_new(bv_params *ps, const char *prefix, const bv_mha_cfg *cfg) {
    bv_mha *m = bv_xmalloc(sizeof *m);
    bv_mha_init(m, ps, prefix, cfg);
    return m;
}

void bv_mha_free(bv_mha *m) { free(m); }

void bv_mha_reset_parameters(const bv_mha *m, bv_rng *rng) {
    /* upstream order: conv_q..conv_o default init, emb_rel_* randn, then xavier on q, k, v */
    init_conv_default(m->conv_q_w, m->conv_q_b, rng);
    init_conv_default(m->conv_k_w, m->conv_k_b, rng);
    init_conv_default(m->conv_v_w, m->conv_v_b, rng);
    init_conv_default(m->conv_o_w, m->conv_o_b, rng);
    if (m->emb_rel_k) {
        double sd = 1.0 / sqrt((double)m->k_channels);
        bv_init_normal(m->emb_rel_k, rng, sd);
        bv_init_normal(m->emb_rel_v, rng, sd);
    }
    init_xavier(m->conv_q_w, rng);
    init_xavier(m->conv_k_w, rng);
    init_xavier(m->conv_v_w, rng);
    if (m->cfg.proximal_init) {
        bv_init_copy(m->conv_k_w, m->conv_q_w);
        bv_init_copy(m->conv_k_b, m->conv_q_b);
    }
}

/* [B, C, T] -> [B, h, T, k]  (view(b, h, k, t).transpose(2, 3)) */
static bv_tensor *split_heads(bv_ctx *ctx, bv_tensor *x, int64_t H, int64_t K) {
    int64_t B = x->shape[0], T = x->shape[2];
    bv_tensor *v = bv_reshape(ctx, x, BV_SHAPE(B, H, K, T)); // [B, h, k, T]
    return bv_transpose(ctx, v, 2, 3);                        // [B, h, T, k]
}

static void mha_check(bv_ctx *ctx, const bv_mha *m, const bv_tensor *x, const bv_tensor *c,
                      const bv_tensor *mask) {
    char b1[96], b2[96];
    int64_t C = m->cfg.channels;
    if (x->ndim != 3 || c->ndim != 3 || x->shape[1] != C || c->shape[1] != C || x->shape[0] != c->shape[0])
        bv_ctx_error(ctx, "mha", "x %s and c %s must both be [B, %lld, T]", bv_shape_str(x, b1, sizeof b1),
                     bv_shape_str(c, b2, sizeof b2), (long long)C);
    int self = x->shape[2] == c->shape[2];
    if (!self && (m->cfg.window_size > 0 || m->cfg.proximal_bias || (mask && m->cfg.block_length > 0)))
        bv_ctx_error(ctx, "mha", "relative/proximal/local attention needs self-attention: x %s, c %s",
                     bv_shape_str(x, b1, sizeof b1), bv_shape_str(c, b2, sizeof b2));
    if (!mask) return;
    bv_check_dtype(ctx, "mha", mask, BV_F32);
    if (mask->ndim != 4 || (mask->shape[0] != 1 && mask->shape[0] != x->shape[0]) || mask->shape[1] != 1 ||
        mask->shape[2] != x->shape[2] || mask->shape[3] != c->shape[2])
        bv_ctx_error(ctx, "mha", "attn_mask %s does not fit x %s: want [B or 1, 1, %lld, %lld]",
                     bv_shape_str(mask, b1, sizeof b1), bv_shape_str(x, b2, sizeof b2), (long long)x->shape[2],
                     (long long)c->shape[2]);
}

/* MultiHeadAttention.attention: q [B,h,Tt,k] (unscaled), key/value [B,h,Ts,k] -> [B,h,Tt,k]. */
static bv_tensor *mha_attention(bv_ctx *ctx, const bv_mha *m, bv_tensor *q, bv_tensor *key, bv_tensor *value,
                                bv_tensor *mask, int training, bv_tensor **p_out) {
    int64_t Tt = q->shape[2];
    bv_tensor *qs = bv_mul_scalar(ctx, q, (float)(1.0 / sqrt((double)m->k_channels))); // [B, h, Tt, k]
    bv_tensor *kt = bv_transpose(ctx, key, 2, 3);                                     // [B, h, k, Ts]
    /* scores is a fresh map each link below is the only reader of: the relative logits, the masks and
     * the softmax go over it in place (one [B, h, Tt, Ts] map kept for the tape instead of one per
     * link; the softmax's backward reads its output, which nothing overwrites: dropout makes a copy) */
    bv_tensor *scores = bv_matmul(ctx, qs, kt);                                       // [B, h, Tt, Ts]
    if (m->emb_rel_k) scores = bv_mha_rel_logits_add(ctx, scores, qs, m->emb_rel_k);
    if (m->cfg.proximal_bias) scores = bv_add(ctx, scores, bv_attn_proximal_bias(ctx, Tt)); // [1, 1, Tt, Tt]
    if (mask) {
        scores = bv_masked_fill_zero_(ctx, scores, mask, -1e4f); /* masked_fill(mask == 0, -1e4) */
        if (m->cfg.block_length > 0)
            scores = bv_masked_fill_(ctx, scores, bv_attn_local_mask(ctx, Tt, m->cfg.block_length), -1e4f);
    }
    bv_tensor *p = bv_softmax_(ctx, scores, -1);       // [B, h, Tt, Ts]
    if (!p_out) /* dropout, @ value, + relative values: the dropped map is not kept for the tape */
        return bv_mha_dropout_values(ctx, p, value, m->emb_rel_v, m->cfg.p_dropout, training); // [B, h, Tt, k]
    p = bv_dropout(ctx, p, m->cfg.p_dropout, training);
    *p_out = p;
    bv_tensor *out = bv_matmul(ctx, p, value);         // [B, h, Tt, k]
    if (m->emb_rel_v) out = bv_add(ctx, out, bv_mha_rel_values(ctx, p, m->emb_rel_v));
    return out;
}

bv_tensor *bv_mha_forward(bv_ctx *ctx, const bv_mha *m, bv_tensor *x, bv_tensor *c, bv_tensor *attn_mask,
                          int training, bv_tensor **p_attn) {
    mha_check(ctx, m, x, c, attn_mask);
    int64_t B = x->shape[0], C = m->cfg.channels, Tt = x->shape[2], H = m->cfg.n_heads, K = m->k_channels;
    bv_tensor *q = bv_conv1d(ctx, x, m->conv_q_w, m->conv_q_b, 1, 0, 1, 1); // [B, C, Tt]
    bv_tensor *k = bv_conv1d(ctx, c, m->conv_k_w, m->conv_k_b, 1, 0, 1, 1); // [B, C, Ts]
    bv_tensor *v = bv_conv1d(ctx, c, m->conv_v_w, m->conv_v_b, 1, 0, 1, 1); // [B, C, Ts]
    bv_tensor *o = mha_attention(ctx, m, split_heads(ctx, q, H, K), split_heads(ctx, k, H, K),
                                 split_heads(ctx, v, H, K), attn_mask, training, p_attn); // [B, h, Tt, k]
    o = bv_transpose(ctx, o, 2, 3);                           // [B, h, k, Tt]
    o = bv_reshape(ctx, o, BV_SHAPE(B, C, Tt));               // [B, C, Tt]
    return bv_conv1d(ctx, o, m->conv_o_w, m->conv_o_b, 1, 0, 1, 1); // [B, Cout, Tt]
}

/* ======================= FFN ======================= */

void bv_ffn_init(bv_ffn *f, bv_params *ps, const char *prefix, const bv_ffn_cfg *cfg) {
    if (cfg->in_channels <= 0 || cfg->out_channels <= 0 || cfg->filter_channels <= 0 || cfg->kernel_size <= 0)
        BV_FATAL("FFN: non-positive size (in %d, out %d, filter %d, kernel %d)", cfg->in_channels,
                 cfg->out_channels, cfg->filter_channels, cfg->kernel_size);
    memset(f, 0, sizeof *f);
    f->cfg = *cfg;
    int64_t I = cfg->in_channels, O = cfg->out_channels, F = cfg->filter_channels, K = cfg->kernel_size;
    f->conv_1_w = param(ps, prefix, "conv_1.weight", BV_SHAPE(F, I, K)); // conv_1.weight [F, Cin, K]
    f->conv_1_b = param(ps, prefix, "conv_1.bias", BV_SHAPE(F));         // conv_1.bias [F]
    f->conv_2_w = param(ps, prefix, "conv_2.weight", BV_SHAPE(O, F, K)); // conv_2.weight [Cout, F, K]
    f->conv_2_b = param(ps, prefix, "conv_2.bias", BV_SHAPE(O));         // conv_2.bias [Cout]
}

bv_ffn *bv_ffn_new(bv_params *ps, const char *prefix, const bv_ffn_cfg *cfg) {
    bv_ffn *f = bv_xmalloc(sizeof *f);
    bv_ffn_init(f, ps, prefix, cfg);
    return f;
}

void bv_ffn_free(bv_ffn *f) { free(f); }

void bv_ffn_reset_parameters(const bv_ffn *f, bv_rng *rng) {
    init_conv_default(f->conv_1_w, f->conv_1_b, rng);
    init_conv_default(f->conv_2_w, f->conv_2_b, rng);
}

/* conv(pad(x)) with upstream's same/causal padding; symmetric padding goes to the conv itself. */
static bv_tensor *ffn_conv(bv_ctx *ctx, const bv_ffn *f, bv_tensor *x, bv_tensor *w, bv_tensor *b) {
    int64_t k = f->cfg.kernel_size;
    int64_t pl = f->cfg.causal ? k - 1 : (k - 1) / 2, pr = f->cfg.causal ? 0 : k / 2;
    if (pl == pr) return bv_conv1d(ctx, x, w, b, 1, (int)pl, 1, 1);
    x = bv_pad(ctx, x, 2, (int64_t[]){pl, pr}, BV_PAD_CONSTANT, 0.0f); // [B, C, T + k - 1]
    return bv_conv1d(ctx, x, w, b, 1, 0, 1, 1);
}

static void check_x_mask(bv_ctx *ctx, const char *op, const bv_tensor *x, const bv_tensor *x_mask) {
    char b1[96], b2[96];
    bv_check_dtype(ctx, op, x_mask, BV_F32);
    if (x->ndim != 3 || x_mask->ndim != 3 || x_mask->shape[0] != x->shape[0] || x_mask->shape[1] != 1 ||
        x_mask->shape[2] != x->shape[2])
        bv_ctx_error(ctx, op, "x_mask %s does not fit x %s: want [B, 1, T]", bv_shape_str(x_mask, b1, sizeof b1),
                     bv_shape_str(x, b2, sizeof b2));
}

bv_tensor *bv_ffn_forward(bv_ctx *ctx, const bv_ffn *f, bv_tensor *x, bv_tensor *x_mask, int training) {
    check_x_mask(ctx, "ffn", x, x_mask);
    bv_tensor *h = ffn_conv(ctx, f, bv_mul(ctx, x, x_mask), f->conv_1_w, f->conv_1_b); // [B, F, T]
    if (f->cfg.activation == BV_FFN_GELU) {
        h = bv_mul(ctx, h, bv_sigmoid(ctx, bv_mul_scalar(ctx, h, 1.702f))); // upstream's sigmoid GELU
        h = bv_mul(ctx, bv_dropout(ctx, h, f->cfg.p_dropout, training), x_mask);
    } else {
        h = bv_relu_dropout_mask(ctx, h, x_mask, f->cfg.p_dropout, training); // relu, dropout, * x_mask
    }
    h = ffn_conv(ctx, f, h, f->conv_2_w, f->conv_2_b); // [B, Cout, T]
    return bv_mul(ctx, h, x_mask);
}

/* ======================= Encoder ======================= */

static int resolved_cond_idx(const bv_encoder_cfg *cfg) {
    if (cfg->gin_channels == 0) return cfg->n_layers; /* never reached: g is ignored, as upstream */
    return cfg->cond_layer_idx < 0 ? 2 : cfg->cond_layer_idx;
}

int bv_encoder_cfg_check(const bv_encoder_cfg *c, char *err, int cap) {
    if (c->hidden_channels <= 0 || c->filter_channels <= 0 || c->n_heads <= 0 || c->n_layers <= 0 ||
        c->kernel_size <= 0)
        return snprintf(err, (size_t)cap, "Encoder: sizes must be positive (hidden %d, filter %d, heads %d, "
                        "layers %d, kernel %d)", c->hidden_channels, c->filter_channels, c->n_heads,
                        c->n_layers, c->kernel_size), -1;
    if (c->hidden_channels % c->n_heads != 0)
        return snprintf(err, (size_t)cap, "Encoder: hidden_channels %d is not a multiple of n_heads %d",
                        c->hidden_channels, c->n_heads), -1;
    if (c->window_size < 0 || c->gin_channels < 0 || c->p_dropout < 0 || c->p_dropout >= 1)
        return snprintf(err, (size_t)cap, "Encoder: bad window_size %d / gin_channels %d / p_dropout %g",
                        c->window_size, c->gin_channels, (double)c->p_dropout), -1;
    if (c->gin_channels != 0 && resolved_cond_idx(c) >= c->n_layers)
        return snprintf(err, (size_t)cap, "Encoder: cond_layer_idx %d should be less than n_layers %d",
                        resolved_cond_idx(c), c->n_layers), -1;
    return 0;
}

static void layer_norm_p(bv_layer_norm_p *ln, bv_params *ps, const char *prefix, const char *group, int i,
                         int64_t H) {
    ln->gamma = bv_params_addf(ps, BV_SHAPE(H), "%s%s.%d.gamma", prefix, group, i); // norm_layers_*.%d.gamma
    ln->beta = bv_params_addf(ps, BV_SHAPE(H), "%s%s.%d.beta", prefix, group, i);   // norm_layers_*.%d.beta
    bv_init_fill(ln->gamma, 1.0f);
}

bv_encoder *bv_encoder_new(bv_params *ps, const char *prefix, const bv_encoder_cfg *cfg) {
    char err[256], name[512];
    if (bv_encoder_cfg_check(cfg, err, sizeof err)) BV_FATAL("%s", err);
    bv_encoder *e = bv_xcalloc(1, sizeof *e);
    e->cfg = *cfg;
    e->cond_layer_idx = resolved_cond_idx(cfg);
    int n = cfg->n_layers;
    int64_t H = cfg->hidden_channels;
    if (cfg->gin_channels != 0) {
        e->spk_w = param(ps, prefix, "spk_emb_linear.weight", BV_SHAPE(H, cfg->gin_channels)); // [H, gin]
        e->spk_b = param(ps, prefix, "spk_emb_linear.bias", BV_SHAPE(H));                      // [H]
    }
    e->attn = bv_xcalloc((size_t)n, sizeof *e->attn);
    e->norm1 = bv_xcalloc((size_t)n, sizeof *e->norm1);
    e->ffn = bv_xcalloc((size_t)n, sizeof *e->ffn);
    e->norm2 = bv_xcalloc((size_t)n, sizeof *e->norm2);
    bv_mha_cfg mc = {.channels = cfg->hidden_channels, .out_channels = cfg->hidden_channels,
                     .n_heads = cfg->n_heads, .p_dropout = cfg->p_dropout, .window_size = cfg->window_size,
                     .heads_share = 1};
    bv_ffn_cfg fc = {.in_channels = cfg->hidden_channels, .out_channels = cfg->hidden_channels,
                     .filter_channels = cfg->filter_channels, .kernel_size = cfg->kernel_size,
                     .p_dropout = cfg->p_dropout, .activation = BV_FFN_RELU, .causal = 0};
    /* state_dict order: every attn layer, then norm_layers_1, ffn_layers, norm_layers_2 */
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%sattn_layers.%d.", prefix, i);
        bv_mha_init(&e->attn[i], ps, name, &mc);
    }
    for (int i = 0; i < n; i++) layer_norm_p(&e->norm1[i], ps, prefix, "norm_layers_1", i, H);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%sffn_layers.%d.", prefix, i);
        bv_ffn_init(&e->ffn[i], ps, name, &fc);
    }
    for (int i = 0; i < n; i++) layer_norm_p(&e->norm2[i], ps, prefix, "norm_layers_2", i, H);
    return e;
}

void bv_encoder_free(bv_encoder *e) {
    if (!e) return;
    free(e->attn);
    free(e->norm1);
    free(e->ffn);
    free(e->norm2);
    free(e);
}

void bv_encoder_reset_parameters(const bv_encoder *e, bv_rng *rng) {
    if (e->spk_w) init_conv_default(e->spk_w, e->spk_b, rng);
    for (int i = 0; i < e->cfg.n_layers; i++) {
        bv_mha_reset_parameters(&e->attn[i], rng);
        bv_ffn_reset_parameters(&e->ffn[i], rng);
        bv_layer_norm_p *ln[2] = {&e->norm1[i], &e->norm2[i]};
        for (int k = 0; k < 2; k++) {
            bv_init_fill(ln[k]->gamma, 1.0f);
            bv_init_fill(ln[k]->beta, 0.0f);
        }
    }
}

/* x + spk_emb_linear(g^T)^T, masked: g [B, gin, 1] -> [B, H, 1] broadcast over time. */
static bv_tensor *add_speaker(bv_ctx *ctx, const bv_encoder *e, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g) {
    char b1[96], b2[96];
    if (g->ndim != 3 || g->shape[0] != x->shape[0] || g->shape[1] != e->cfg.gin_channels || g->shape[2] != 1)
        bv_ctx_error(ctx, "encoder", "g %s does not fit x %s: want [B, %d, 1]", bv_shape_str(g, b1, sizeof b1),
                     bv_shape_str(x, b2, sizeof b2), e->cfg.gin_channels);
    bv_tensor *gt = bv_transpose(ctx, g, 1, 2);           // [B, 1, gin]
    gt = bv_linear(ctx, gt, e->spk_w, e->spk_b);          // [B, 1, H]
    gt = bv_transpose(ctx, gt, 1, 2);                     // [B, H, 1]
    return bv_mul(ctx, bv_add(ctx, x, gt), x_mask);       // [B, H, T]
}

bv_tensor *bv_encoder_forward(bv_ctx *ctx, const bv_encoder *e, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g,
                              int training) {
    char b1[96];
    check_x_mask(ctx, "encoder", x, x_mask);
    if (x->shape[1] != e->cfg.hidden_channels)
        bv_ctx_error(ctx, "encoder", "x %s: want [B, %d, T]", bv_shape_str(x, b1, sizeof b1),
                     e->cfg.hidden_channels);
    int64_t B = x->shape[0], T = x->shape[2];
    bv_tensor *m = bv_detach(ctx, x_mask);
    bv_tensor *attn_mask = bv_mul(ctx, bv_reshape(ctx, m, BV_SHAPE(B, 1, 1, T)),
                                  bv_reshape(ctx, m, BV_SHAPE(B, 1, T, 1))); // [B, 1, T, T]
    x = bv_mul(ctx, x, x_mask);                                             // [B, H, T]
    for (int i = 0; i < e->cfg.n_layers; i++) {
        if (i == e->cond_layer_idx && g) x = add_speaker(ctx, e, x, x_mask, g);
        bv_tensor *y = bv_mha_forward(ctx, &e->attn[i], x, x, attn_mask, training, NULL);
        y = bv_dropout(ctx, y, e->cfg.p_dropout, training);
        x = bv_layer_norm_ch(ctx, bv_add(ctx, x, y), e->norm1[i].gamma, e->norm1[i].beta, 1e-5f);
        y = bv_ffn_forward(ctx, &e->ffn[i], x, x_mask, training);
        y = bv_dropout(ctx, y, e->cfg.p_dropout, training);
        x = bv_layer_norm_ch(ctx, bv_add(ctx, x, y), e->norm2[i].gamma, e->norm2[i].beta, 1e-5f);
    }
    return bv_mul(ctx, x, x_mask);
}
