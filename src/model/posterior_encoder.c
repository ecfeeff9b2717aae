/* posterior_encoder.c - models.PosteriorEncoder (see the header), in upstream's order of operations. */
#include "posterior_encoder.h"

#include <stdio.h>
#include <stdlib.h>

#include "../core/error.h"
#include "../ops/align.h"
#include "../ops/ops.h"

static const char *MODULE = "PosteriorEncoder";

int bv_posterior_encoder_cfg_check(const bv_posterior_encoder_cfg *c, char *err, int cap) {
    if (c->in_channels <= 0 || c->out_channels <= 0 || c->hidden_channels <= 0 || c->kernel_size <= 0 ||
        c->dilation_rate <= 0 || c->n_layers <= 0 || c->gin_channels < 0)
        return snprintf(err, (size_t)cap, "PosteriorEncoder: sizes must be positive (in %d, out %d, hidden %d, "
                        "kernel %d, dilation_rate %d, n_layers %d, gin %d)", c->in_channels, c->out_channels,
                        c->hidden_channels, c->kernel_size, c->dilation_rate, c->n_layers, c->gin_channels), -1;
    if (c->kernel_size % 2 == 0) /* WN asserts an odd kernel ("same" padding) */
        return snprintf(err, (size_t)cap, "PosteriorEncoder: kernel_size %d must be odd", c->kernel_size), -1;
    return 0;
}

bv_posterior_encoder *bv_posterior_encoder_new(bv_params *ps, const char *prefix, const bv_posterior_encoder_cfg *cfg) {
    char err[256], name[512];
    if (bv_posterior_encoder_cfg_check(cfg, err, sizeof err)) BV_FATAL("%s", err);
    bv_posterior_encoder *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    const int H = cfg->hidden_channels;
    snprintf(name, sizeof name, "%spre.", prefix);
    bv_conv1d_layer_init(&m->pre, ps, name, &(bv_conv1d_cfg){.in_channels = cfg->in_channels, .out_channels = H,
                                                             .kernel_size = 1});
    snprintf(name, sizeof name, "%senc.", prefix);
    m->enc = bv_wn_new(ps, name, &(bv_wn_cfg){.hidden_channels = H, .kernel_size = cfg->kernel_size,
                                              .dilation_rate = cfg->dilation_rate, .n_layers = cfg->n_layers,
                                              .gin_channels = cfg->gin_channels, .p_dropout = 0.0f});
    snprintf(name, sizeof name, "%sproj.", prefix);
    bv_conv1d_layer_init(&m->proj, ps, name, &(bv_conv1d_cfg){.in_channels = H, .out_channels = 2 * cfg->out_channels,
                                                              .kernel_size = 1});
    return m;
}

void bv_posterior_encoder_free(bv_posterior_encoder *m) {
    if (!m) return;
    bv_wn_free(m->enc);
    free(m);
}

void bv_posterior_encoder_reset_parameters(const bv_posterior_encoder *m, bv_rng *rng) {
    bv_conv1d_layer_reset_parameters(&m->pre, rng);
    bv_wn_reset_parameters(m->enc, rng);
    bv_conv1d_layer_reset_parameters(&m->proj, rng);
}

static void check_inputs(bv_ctx *ctx, const bv_posterior_encoder *m, bv_tensor *x, bv_tensor *x_lengths, bv_tensor *g) {
    char b1[96], b2[96];
    bv_nn_check_input(ctx, MODULE, x, m->cfg.in_channels);
    if (x_lengths->dtype != BV_I64 || x_lengths->ndim != 1 || x_lengths->shape[0] != x->shape[0])
        bv_ctx_error(ctx, MODULE, "x_lengths %s (%s) does not fit x %s: expected I64 [B]",
                     bv_shape_str(x_lengths, b1, sizeof b1), bv_dtype_name(x_lengths->dtype),
                     bv_shape_str(x, b2, sizeof b2));
    if (g) {
        if (m->cfg.gin_channels <= 0) bv_ctx_error(ctx, MODULE, "g given but the module has gin_channels = 0");
        bv_nn_check_cond(ctx, MODULE, x, g, m->cfg.gin_channels);
    }
}

bv_tensor *bv_posterior_encoder_forward(bv_ctx *ctx, const bv_posterior_encoder *m, bv_tensor *x,
                                        bv_tensor *x_lengths, bv_tensor *g, int training, bv_tensor **m_q,
                                        bv_tensor **logs_q, bv_tensor **x_mask_out) {
    check_inputs(ctx, m, x, x_lengths, g);
    const int64_t B = x->shape[0], T = x->shape[2], out = m->cfg.out_channels;
    bv_tensor *x_mask = bv_reshape(ctx, bv_to_f32(ctx, bv_sequence_mask(ctx, x_lengths, T)), BV_SHAPE(B, 1, T));
    bv_tensor *h = bv_mul(ctx, bv_conv1d_layer_forward(ctx, &m->pre, x), x_mask);       // [B, H, T]
    h = bv_wn_forward(ctx, m->enc, h, x_mask, g, training);                              // [B, H, T]
    bv_tensor *stats = bv_mul(ctx, bv_conv1d_layer_forward(ctx, &m->proj, h), x_mask);   // [B, 2 * out, T]
    bv_tensor *parts[2];
    bv_split(ctx, stats, 1, 2, (int64_t[]){out, out}, parts);
    bv_tensor *mean = parts[0], *logs = parts[1];                                        // [B, out, T] each
    bv_tensor *eps = bv_randn_like(ctx, mean);                                           // [B, out, T]
    bv_tensor *z = bv_mul(ctx, bv_add(ctx, mean, bv_mul(ctx, eps, bv_exp(ctx, logs))), x_mask); // [B, out, T]
    if (m_q) *m_q = mean;
    if (logs_q) *logs_q = logs;
    if (x_mask_out) *x_mask_out = x_mask;
    return z;
}
