/* coupling.c - modules.ResidualCouplingLayer and modules.TransformerCouplingLayer. Both share the
 * coupling arithmetic (coupling_pre / coupling_post); only the hidden network differs. */
#include "coupling.h"

#include <stdio.h>
#include <stdlib.h>

#include "../core/error.h"

static void init_pre_post(bv_conv1d_layer *pre, bv_conv1d_layer *post, bv_params *ps, const char *prefix, int channels,
                          int hidden, int mean_only, void (*make_enc)(void *, bv_params *, const char *), void *enc_arg) {
    char name[512];
    int half = channels / 2;
    snprintf(name, sizeof name, "%spre.", prefix);
    bv_conv1d_layer_init(pre, ps, name, &(bv_conv1d_cfg){.in_channels = half, .out_channels = hidden, .kernel_size = 1});
    snprintf(name, sizeof name, "%senc.", prefix);
    make_enc(enc_arg, ps, name); /* state_dict order: pre, enc, post */
    snprintf(name, sizeof name, "%spost.", prefix);
    bv_conv1d_layer_init(post, ps, name,
                         &(bv_conv1d_cfg){.in_channels = hidden, .out_channels = half * (2 - (mean_only != 0)),
                                          .kernel_size = 1});
}

/* Checks, split, and h = pre(x0) * mask. */
static bv_tensor *coupling_pre(bv_ctx *ctx, const char *module, const bv_conv1d_layer *pre, int channels,
                               bv_tensor *x, bv_tensor *x_mask, bv_tensor **x0, bv_tensor **x1) {
    bv_nn_check_input(ctx, module, x, channels);
    bv_nn_check_mask(ctx, module, x, x_mask);
    int64_t half = channels / 2;
    bv_tensor *parts[2];
    bv_split(ctx, x, 1, 2, (int64_t[]){half, half}, parts);
    *x0 = parts[0]; // [B, C/2, T]
    *x1 = parts[1]; // [B, C/2, T]
    return bv_mul(ctx, bv_conv1d_layer_forward(ctx, pre, *x0), x_mask); // [B, H, T]
}

/* stats = post(h) * mask, then the affine transform of x1 and the concat. */
static bv_tensor *coupling_post(bv_ctx *ctx, const bv_conv1d_layer *post, int channels, int mean_only, bv_tensor *h,
                                bv_tensor *x0, bv_tensor *x1, bv_tensor *x_mask, int reverse, bv_tensor **logdet) {
    int64_t half = channels / 2, B = x0->shape[0];
    bv_tensor *stats = bv_mul(ctx, bv_conv1d_layer_forward(ctx, post, h), x_mask); // [B, C/2 * (2 - mean_only), T]
    bv_tensor *m = stats, *logs = NULL; // [B, C/2, T] each; logs NULL = upstream's zeros_like(m)
    if (!mean_only) {
        bv_tensor *parts[2];
        bv_split(ctx, stats, 1, 2, (int64_t[]){half, half}, parts);
        m = parts[0];
        logs = parts[1];
    }
    /* with logs = 0, exp(+-logs) = 1 exactly: skipping the multiply changes no bit */
    if (!reverse) {
        bv_tensor *scaled = logs ? bv_mul(ctx, x1, bv_exp(ctx, logs)) : x1;
        x1 = bv_add(ctx, m, bv_mul(ctx, scaled, x_mask));
        if (logdet)
            *logdet = logs ? bv_sum_dim(ctx, bv_sum_dim(ctx, logs, 2, 0), 1, 0) : bv_zeros(ctx, BV_F32, BV_SHAPE(B)); // [B]
    } else {
        bv_tensor *d = bv_sub(ctx, x1, m);
        if (logs) d = bv_mul(ctx, d, bv_exp(ctx, bv_neg(ctx, logs)));
        x1 = bv_mul(ctx, d, x_mask);
        if (logdet) *logdet = NULL;
    }
    return bv_concat(ctx, 2, (bv_tensor *[]){x0, x1}, 1); // [B, C, T]
}

/* ---------------- ResidualCouplingLayer ---------------- */

static void make_wn(void *arg, bv_params *ps, const char *prefix) {
    bv_residual_coupling *m = arg;
    const bv_residual_coupling_cfg *c = &m->cfg;
    m->enc = bv_wn_new(ps, prefix,
                       &(bv_wn_cfg){.hidden_channels = c->hidden_channels, .kernel_size = c->kernel_size,
                                    .dilation_rate = c->dilation_rate, .n_layers = c->n_layers,
                                    .gin_channels = c->gin_channels, .p_dropout = c->p_dropout});
}

bv_residual_coupling *bv_residual_coupling_new(bv_params *ps, const char *prefix, const bv_residual_coupling_cfg *cfg) {
    BV_ASSERT(cfg->channels > 0 && cfg->channels % 2 == 0); /* upstream: "channels should be divisible by 2" */
    bv_residual_coupling *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    init_pre_post(&m->pre, &m->post, ps, prefix, cfg->channels, cfg->hidden_channels, cfg->mean_only, make_wn, m);
    return m;
}

void bv_residual_coupling_free(bv_residual_coupling *m) {
    if (!m) return;
    bv_wn_free(m->enc);
    free(m);
}

static void zero_conv(const bv_conv1d_layer *c) {
    bv_init_fill(c->weight, 0.0f);
    bv_init_fill(c->bias, 0.0f);
}

void bv_residual_coupling_reset_parameters(const bv_residual_coupling *m, bv_rng *rng) {
    bv_conv1d_layer_reset_parameters(&m->pre, rng);
    bv_wn_reset_parameters(m->enc, rng);
    zero_conv(&m->post); /* the flow starts as the identity */
}

bv_tensor *bv_residual_coupling_forward(bv_ctx *ctx, const bv_residual_coupling *m, bv_tensor *x, bv_tensor *x_mask,
                                        bv_tensor *g, int reverse, int training, bv_tensor **logdet) {
    bv_tensor *x0, *x1;
    bv_tensor *h = coupling_pre(ctx, "ResidualCouplingLayer", &m->pre, m->cfg.channels, x, x_mask, &x0, &x1);
    h = bv_wn_forward(ctx, m->enc, h, x_mask, g, training); // [B, H, T]
    return coupling_post(ctx, &m->post, m->cfg.channels, m->cfg.mean_only, h, x0, x1, x_mask, reverse, logdet);
}

/* ---------------- TransformerCouplingLayer ---------------- */

static void make_encoder(void *arg, bv_params *ps, const char *prefix) {
    bv_transformer_coupling *m = arg;
    const bv_transformer_coupling_cfg *c = &m->cfg;
    /* wn_sharing_parameter=None: each layer owns its encoder (TransformerCouplingBlock with
     * share_parameter=False, the only variant upstream can build); window_size is Encoder's
     * default 4, which TransformerCouplingLayer does not override */
    m->enc = bv_encoder_new(ps, prefix,
                            &(bv_encoder_cfg){.hidden_channels = c->hidden_channels,
                                              .filter_channels = c->filter_channels, .n_heads = c->n_heads,
                                              .n_layers = c->n_layers, .kernel_size = c->kernel_size,
                                              .p_dropout = c->p_dropout, .window_size = 4, .isflow = 1,
                                              .gin_channels = c->gin_channels,
                                              .cond_layer_idx = BV_ENCODER_COND_DEFAULT});
}

bv_transformer_coupling *bv_transformer_coupling_new(bv_params *ps, const char *prefix,
                                                     const bv_transformer_coupling_cfg *cfg) {
    BV_ASSERT(cfg->channels > 0 && cfg->channels % 2 == 0); /* upstream: "channels should be divisible by 2" */
    bv_transformer_coupling *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    init_pre_post(&m->pre, &m->post, ps, prefix, cfg->channels, cfg->hidden_channels, cfg->mean_only, make_encoder, m);
    return m;
}

void bv_transformer_coupling_free(bv_transformer_coupling *m) {
    if (!m) return;
    bv_encoder_free(m->enc);
    free(m);
}

void bv_transformer_coupling_reset_parameters(const bv_transformer_coupling *m, bv_rng *rng) {
    bv_conv1d_layer_reset_parameters(&m->pre, rng);
    bv_encoder_reset_parameters(m->enc, rng);
    zero_conv(&m->post); /* the flow starts as the identity */
}

bv_tensor *bv_transformer_coupling_forward(bv_ctx *ctx, const bv_transformer_coupling *m, bv_tensor *x,
                                           bv_tensor *x_mask, bv_tensor *g, int reverse, int training,
                                           bv_tensor **logdet) {
    static const char *module = "TransformerCouplingLayer";
    bv_tensor *x0, *x1;
    bv_tensor *h = coupling_pre(ctx, module, &m->pre, m->cfg.channels, x, x_mask, &x0, &x1);
    if (g) {
        if (m->cfg.gin_channels <= 0) bv_ctx_error(ctx, module, "g given but the module has gin_channels = 0");
        bv_nn_check_cond(ctx, module, x, g, m->cfg.gin_channels);
    }
    h = bv_encoder_forward(ctx, m->enc, h, x_mask, g, training); // [B, H, T]
    return coupling_post(ctx, &m->post, m->cfg.channels, m->cfg.mean_only, h, x0, x1, x_mask, reverse, logdet);
}
