/* flows.c - DDSConv and the stochastic duration predictor's flows (ElementwiseAffine, Log, Flip,
 * ConvFlow), built on ops exactly as modules.py writes them. */
#include "flows.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/error.h"

/* (logabsdet-like [B, C, T]) -> sum over dims 1, 2 -> [B] */
static bv_tensor *sum_ct(bv_ctx *ctx, bv_tensor *t) {
    return bv_sum_dim(ctx, bv_sum_dim(ctx, t, 2, 0), 1, 0);
}

/* ---------------- DDSConv ---------------- */

bv_ddsconv *bv_ddsconv_new(bv_params *ps, const char *prefix, const bv_ddsconv_cfg *cfg) {
    BV_ASSERT(cfg->channels > 0 && cfg->kernel_size > 0 && cfg->n_layers > 0);
    bv_ddsconv *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    const int L = cfg->n_layers, C = cfg->channels, k = cfg->kernel_size;
    m->convs_sep = bv_xcalloc((size_t)L, sizeof *m->convs_sep);
    m->convs_1x1 = bv_xcalloc((size_t)L, sizeof *m->convs_1x1);
    m->norms_1 = bv_xcalloc((size_t)L, sizeof *m->norms_1);
    m->norms_2 = bv_xcalloc((size_t)L, sizeof *m->norms_2);
    char name[512];
    int dil = 1;
    for (int i = 0; i < L; i++, dil *= k) { /* state_dict order: every convs_sep, then convs_1x1, norms */
        snprintf(name, sizeof name, "%sconvs_sep.%d.", prefix, i);
        bv_conv1d_layer_init(&m->convs_sep[i], ps, name,
                             &(bv_conv1d_cfg){.in_channels = C, .out_channels = C, .kernel_size = k, .groups = C,
                                              .dilation = dil, .padding = (k * dil - dil) / 2});
    }
    for (int i = 0; i < L; i++) {
        snprintf(name, sizeof name, "%sconvs_1x1.%d.", prefix, i);
        bv_conv1d_layer_init(&m->convs_1x1[i], ps, name,
                             &(bv_conv1d_cfg){.in_channels = C, .out_channels = C, .kernel_size = 1});
    }
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < L; i++) {
            bv_channel_norm *nm = n ? &m->norms_2[i] : &m->norms_1[i];
            nm->gamma = bv_params_addf(ps, BV_SHAPE(C), "%snorms_%d.%d.gamma", prefix, n + 1, i); // [C]
            nm->beta = bv_params_addf(ps, BV_SHAPE(C), "%snorms_%d.%d.beta", prefix, n + 1, i);   // [C]
            bv_init_fill(nm->gamma, 1.0f);
        }
    return m;
}

void bv_ddsconv_free(bv_ddsconv *m) {
    if (!m) return;
    free(m->convs_sep);
    free(m->convs_1x1);
    free(m->norms_1);
    free(m->norms_2);
    free(m);
}

void bv_ddsconv_reset_parameters(const bv_ddsconv *m, bv_rng *rng) {
    for (int i = 0; i < m->cfg.n_layers; i++) {
        bv_conv1d_layer_reset_parameters(&m->convs_sep[i], rng);
        bv_conv1d_layer_reset_parameters(&m->convs_1x1[i], rng);
        for (int n = 0; n < 2; n++) {
            const bv_channel_norm *nm = n ? &m->norms_2[i] : &m->norms_1[i];
            bv_init_fill(nm->gamma, 1.0f);
            bv_init_fill(nm->beta, 0.0f);
        }
    }
}

bv_tensor *bv_ddsconv_forward(bv_ctx *ctx, const bv_ddsconv *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g,
                              int training) {
    bv_nn_check_input(ctx, "DDSConv", x, m->cfg.channels);
    bv_nn_check_mask(ctx, "DDSConv", x, x_mask);
    if (g) {
        bv_nn_check_cond(ctx, "DDSConv", x, g, m->cfg.channels);
        x = bv_add(ctx, x, g); // [B, C, T]
    }
    for (int i = 0; i < m->cfg.n_layers; i++) {
        bv_tensor *y = bv_conv1d_layer_forward(ctx, &m->convs_sep[i], bv_mul(ctx, x, x_mask)); // [B, C, T]
        y = bv_gelu(ctx, bv_layer_norm_ch(ctx, y, m->norms_1[i].gamma, m->norms_1[i].beta, 1e-5f));
        y = bv_conv1d_layer_forward(ctx, &m->convs_1x1[i], y);
        y = bv_gelu(ctx, bv_layer_norm_ch(ctx, y, m->norms_2[i].gamma, m->norms_2[i].beta, 1e-5f));
        y = bv_dropout(ctx, y, m->cfg.p_dropout, training);
        x = bv_add(ctx, x, y);
    }
    return bv_mul(ctx, x, x_mask); // [B, C, T]
}

/* ---------------- ElementwiseAffine ---------------- */

bv_elementwise_affine *bv_elementwise_affine_new(bv_params *ps, const char *prefix, int channels) {
    BV_ASSERT(channels > 0);
    bv_elementwise_affine *m = bv_xcalloc(1, sizeof *m);
    m->channels = channels;
    m->m = bv_params_addf(ps, BV_SHAPE(channels, 1), "%sm", prefix);       // [C, 1]
    m->logs = bv_params_addf(ps, BV_SHAPE(channels, 1), "%slogs", prefix); // [C, 1]
    return m;
}

void bv_elementwise_affine_free(bv_elementwise_affine *m) { free(m); }

bv_tensor *bv_elementwise_affine_forward(bv_ctx *ctx, const bv_elementwise_affine *m, bv_tensor *x,
                                         bv_tensor *x_mask, int reverse, bv_tensor **logdet) {
    bv_nn_check_input(ctx, "ElementwiseAffine", x, m->channels);
    bv_nn_check_mask(ctx, "ElementwiseAffine", x, x_mask);
    if (logdet) *logdet = NULL;
    if (reverse) /* (x - m) * exp(-logs) * x_mask */
        return bv_mul(ctx, bv_mul(ctx, bv_sub(ctx, x, m->m), bv_exp(ctx, bv_neg(ctx, m->logs))), x_mask);
    bv_tensor *y = bv_mul(ctx, bv_add(ctx, m->m, bv_mul(ctx, bv_exp(ctx, m->logs), x)), x_mask); // [B, C, T]
    if (logdet) *logdet = sum_ct(ctx, bv_mul(ctx, m->logs, x_mask));                            // [B]
    return y;
}

/* ---------------- Log, Flip ---------------- */

bv_tensor *bv_log_flow_forward(bv_ctx *ctx, bv_tensor *x, bv_tensor *x_mask, int reverse, bv_tensor **logdet) {
    bv_nn_check_mask(ctx, "Log", x, x_mask);
    if (logdet) *logdet = NULL;
    if (reverse) return bv_mul(ctx, bv_exp(ctx, x), x_mask);
    bv_tensor *y = bv_mul(ctx, bv_log(ctx, bv_clamp(ctx, x, 1e-5f, INFINITY)), x_mask); // [B, C, T]
    if (logdet) *logdet = sum_ct(ctx, bv_neg(ctx, y));                                  // [B]
    return y;
}

bv_tensor *bv_flip_flow_forward(bv_ctx *ctx, bv_tensor *x, int reverse, bv_tensor **logdet) {
    if (x->ndim < 2) {
        char b[96];
        bv_ctx_error(ctx, "Flip", "x %s must have a channel dim [B, C, ...]", bv_shape_str(x, b, sizeof b));
    }
    if (logdet) *logdet = reverse ? NULL : bv_zeros(ctx, BV_F32, BV_SHAPE(x->shape[0])); // [B], no grad
    return bv_flip(ctx, x, 1);
}

/* ---------------- ConvFlow ---------------- */

bv_convflow *bv_convflow_new(bv_params *ps, const char *prefix, const bv_convflow_cfg *cfg) {
    bv_convflow *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    bv_convflow_cfg *c = &m->cfg;
    if (c->num_bins == 0) c->num_bins = 10;
    if (c->tail_bound == 0) c->tail_bound = 5.0f;
    BV_ASSERT(c->in_channels >= 2 && c->in_channels % 2 == 0 && c->num_bins >= 1 && c->filter_channels > 0);
    const int half = c->in_channels / 2;
    char name[512];
    snprintf(name, sizeof name, "%spre.", prefix);
    bv_conv1d_layer_init(&m->pre, ps, name,
                         &(bv_conv1d_cfg){.in_channels = half, .out_channels = c->filter_channels, .kernel_size = 1});
    snprintf(name, sizeof name, "%sconvs.", prefix);
    m->convs = bv_ddsconv_new(ps, name, &(bv_ddsconv_cfg){c->filter_channels, c->kernel_size, c->n_layers, 0.0f});
    snprintf(name, sizeof name, "%sproj.", prefix);
    bv_conv1d_layer_init(&m->proj, ps, name,
                         &(bv_conv1d_cfg){.in_channels = c->filter_channels,
                                          .out_channels = half * (3 * c->num_bins - 1), .kernel_size = 1});
    return m;
}

void bv_convflow_free(bv_convflow *m) {
    if (!m) return;
    bv_ddsconv_free(m->convs);
    free(m);
}

void bv_convflow_reset_parameters(const bv_convflow *m, bv_rng *rng) {
    bv_conv1d_layer_reset_parameters(&m->pre, rng);
    bv_ddsconv_reset_parameters(m->convs, rng);
    bv_conv1d_layer_reset_parameters(&m->proj, rng); /* drawn, then zeroed, as upstream */
    bv_init_fill(m->proj.weight, 0.0f);
    bv_init_fill(m->proj.bias, 0.0f);
}

bv_tensor *bv_convflow_forward(bv_ctx *ctx, const bv_convflow *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g,
                               int reverse, bv_tensor **logdet) {
    const bv_convflow_cfg *c = &m->cfg;
    const int64_t half = c->in_channels / 2, K = c->num_bins;
    bv_nn_check_input(ctx, "ConvFlow", x, c->in_channels);
    bv_nn_check_mask(ctx, "ConvFlow", x, x_mask);
    if (g) bv_nn_check_cond(ctx, "ConvFlow", x, g, c->filter_channels);
    if (logdet) *logdet = NULL;
    const int64_t B = x->shape[0], T = x->shape[2];
    bv_tensor *xs[2];
    bv_split(ctx, x, 1, 2, (int64_t[]){half, half}, xs); // x0, x1 [B, C/2, T]
    bv_tensor *h = bv_conv1d_layer_forward(ctx, &m->pre, xs[0]); // [B, filter, T]
    h = bv_ddsconv_forward(ctx, m->convs, h, x_mask, g, 0);
    h = bv_mul(ctx, bv_conv1d_layer_forward(ctx, &m->proj, h), x_mask); // [B, C/2 * (3K-1), T]
    h = bv_reshape(ctx, h, BV_SHAPE(B, half, 3 * K - 1, T));
    h = bv_permute(ctx, h, (int[]){0, 1, 3, 2}); // [B, C/2, T, 3K-1]
    const float inv_sqrt = (float)(1.0 / sqrt((double)c->filter_channels));
    bv_tensor *uw = bv_mul_scalar(ctx, bv_slice(ctx, h, 3, 0, K, 1), inv_sqrt);     // [B, C/2, T, K]
    bv_tensor *uh = bv_mul_scalar(ctx, bv_slice(ctx, h, 3, K, 2 * K, 1), inv_sqrt); // [B, C/2, T, K]
    bv_tensor *ud = bv_slice(ctx, h, 3, 2 * K, 3 * K - 1, 1);                       // [B, C/2, T, K-1]
    bv_tensor *x1, *lad;
    bv_rq_spline(ctx, xs[1], uw, uh, ud, reverse, c->tail_bound, 1e-3f, 1e-3f, 1e-3f, &x1, &lad);
    bv_tensor *y = bv_mul(ctx, bv_concat(ctx, 2, (bv_tensor *[]){xs[0], x1}, 1), x_mask); // [B, C, T]
    if (logdet && !reverse) *logdet = sum_ct(ctx, bv_mul(ctx, lad, x_mask));            // [B]
    return y;
}

/* ---------------- bv_flow ---------------- */

bv_tensor *bv_flow_forward(bv_ctx *ctx, const bv_flow *f, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g, int reverse,
                           bv_tensor **logdet) {
    switch (f->kind) {
    case BV_FLOW_ELEMENTWISE_AFFINE: return bv_elementwise_affine_forward(ctx, f->affine, x, x_mask, reverse, logdet);
    case BV_FLOW_CONVFLOW: return bv_convflow_forward(ctx, f->conv, x, x_mask, g, reverse, logdet);
    case BV_FLOW_FLIP: return bv_flip_flow_forward(ctx, x, reverse, logdet);
    case BV_FLOW_LOG: return bv_log_flow_forward(ctx, x, x_mask, reverse, logdet);
    }
    BV_FATAL("bv_flow_forward: unknown flow kind %d", (int)f->kind);
}

void bv_flow_free(bv_flow *f) {
    if (f->kind == BV_FLOW_ELEMENTWISE_AFFINE) bv_elementwise_affine_free(f->affine);
    if (f->kind == BV_FLOW_CONVFLOW) bv_convflow_free(f->conv);
    f->affine = NULL;
    f->conv = NULL;
}
