/* flow_blocks.c - models.TransformerCouplingBlock and models.ResidualCouplingBlock (see the header). */
#include "flow_blocks.h"

#include <stdio.h>
#include <stdlib.h>

#include "../core/error.h"
#include "../nn/flows.h"

/* Checked once at the block, so errors name the block (the layers check again). */
static void check_inputs(bv_ctx *ctx, const char *module, int channels, int gin_channels, bv_tensor *x,
                         bv_tensor *x_mask, bv_tensor *g) {
    bv_nn_check_input(ctx, module, x, channels);
    bv_nn_check_mask(ctx, module, x, x_mask);
    if (g) {
        if (gin_channels <= 0) bv_ctx_error(ctx, module, "g given but the module has gin_channels = 0");
        bv_nn_check_cond(ctx, module, x, g, gin_channels);
    }
}

/* ---------------- TransformerCouplingBlock ---------------- */

static bv_transformer_coupling_cfg transformer_layer_cfg(const bv_transformer_coupling_block_cfg *c) {
    return (bv_transformer_coupling_cfg){.channels = c->channels, .hidden_channels = c->hidden_channels,
                                         .kernel_size = c->kernel_size, .n_layers = c->n_layers,
                                         .n_heads = c->n_heads, .p_dropout = c->p_dropout,
                                         .filter_channels = c->filter_channels, .mean_only = 1,
                                         .gin_channels = c->gin_channels};
}

int bv_transformer_coupling_block_cfg_check(const bv_transformer_coupling_block_cfg *c, char *err, int cap) {
    if (c->share_parameter)
        return snprintf(err, (size_t)cap, "TransformerCouplingBlock: share_parameter is not supported (upstream's "
                        "attentions.FFT does not exist in Bert-VITS2 2.3)"), -1;
    if (c->n_flows < 1)
        return snprintf(err, (size_t)cap, "TransformerCouplingBlock: n_flows %d must be >= 1", c->n_flows), -1;
    if (c->channels <= 0 || c->channels % 2)
        return snprintf(err, (size_t)cap, "TransformerCouplingBlock: channels %d must be positive and even",
                        c->channels), -1;
    /* the coupling's encoder: window 4, isflow, default cond_layer_idx (see coupling.c) */
    bv_encoder_cfg ec = {.hidden_channels = c->hidden_channels, .filter_channels = c->filter_channels,
                         .n_heads = c->n_heads, .n_layers = c->n_layers, .kernel_size = c->kernel_size,
                         .p_dropout = c->p_dropout, .window_size = 4, .isflow = 1, .gin_channels = c->gin_channels,
                         .cond_layer_idx = BV_ENCODER_COND_DEFAULT};
    return bv_encoder_cfg_check(&ec, err, cap);
}

bv_transformer_coupling_block *bv_transformer_coupling_block_new(bv_params *ps, const char *prefix,
                                                                 const bv_transformer_coupling_block_cfg *cfg) {
    char err[256], name[512];
    if (bv_transformer_coupling_block_cfg_check(cfg, err, sizeof err)) BV_FATAL("%s", err);
    bv_transformer_coupling_block *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    m->flows = bv_xcalloc((size_t)cfg->n_flows, sizeof *m->flows);
    bv_transformer_coupling_cfg lc = transformer_layer_cfg(cfg);
    for (int i = 0; i < cfg->n_flows; i++) {
        snprintf(name, sizeof name, "%sflows.%d.", prefix, 2 * i); /* flows.<2i+1> is the Flip */
        m->flows[i] = bv_transformer_coupling_new(ps, name, &lc);
    }
    return m;
}

void bv_transformer_coupling_block_free(bv_transformer_coupling_block *m) {
    if (!m) return;
    for (int i = 0; i < m->cfg.n_flows; i++) bv_transformer_coupling_free(m->flows[i]);
    free(m->flows);
    free(m);
}

void bv_transformer_coupling_block_reset_parameters(const bv_transformer_coupling_block *m, bv_rng *rng) {
    for (int i = 0; i < m->cfg.n_flows; i++) bv_transformer_coupling_reset_parameters(m->flows[i], rng);
}

bv_tensor *bv_transformer_coupling_block_forward(bv_ctx *ctx, const bv_transformer_coupling_block *m, bv_tensor *x,
                                                 bv_tensor *x_mask, bv_tensor *g, int reverse, int training) {
    check_inputs(ctx, "TransformerCouplingBlock", m->cfg.channels, m->cfg.gin_channels, x, x_mask, g);
    const int n = m->cfg.n_flows;
    if (!reverse) {
        for (int i = 0; i < n; i++) {
            x = bv_transformer_coupling_forward(ctx, m->flows[i], x, x_mask, g, 0, training, NULL); // flows[2i]
            x = bv_flip_flow_forward(ctx, x, 0, NULL);                                          // flows[2i+1]
        }
    } else {
        for (int i = n - 1; i >= 0; i--) {
            x = bv_flip_flow_forward(ctx, x, 1, NULL);                                          // flows[2i+1]
            x = bv_transformer_coupling_forward(ctx, m->flows[i], x, x_mask, g, 1, training, NULL); // flows[2i]
        }
    }
    return x; // [B, C, T]
}

/* ---------------- ResidualCouplingBlock ---------------- */

int bv_residual_coupling_block_cfg_check(const bv_residual_coupling_block_cfg *c, char *err, int cap) {
    if (c->n_flows < 1)
        return snprintf(err, (size_t)cap, "ResidualCouplingBlock: n_flows %d must be >= 1", c->n_flows), -1;
    if (c->channels <= 0 || c->channels % 2)
        return snprintf(err, (size_t)cap, "ResidualCouplingBlock: channels %d must be positive and even",
                        c->channels), -1;
    if (c->hidden_channels <= 0 || c->kernel_size <= 0 || c->kernel_size % 2 == 0 || c->dilation_rate <= 0 ||
        c->n_layers <= 0 || c->gin_channels < 0)
        return snprintf(err, (size_t)cap, "ResidualCouplingBlock: bad sizes (hidden %d, kernel %d (must be odd), "
                        "dilation_rate %d, n_layers %d, gin %d)", c->hidden_channels, c->kernel_size,
                        c->dilation_rate, c->n_layers, c->gin_channels), -1;
    return 0;
}

bv_residual_coupling_block *bv_residual_coupling_block_new(bv_params *ps, const char *prefix,
                                                           const bv_residual_coupling_block_cfg *cfg) {
    char err[256], name[512];
    if (bv_residual_coupling_block_cfg_check(cfg, err, sizeof err)) BV_FATAL("%s", err);
    bv_residual_coupling_block *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    m->flows = bv_xcalloc((size_t)cfg->n_flows, sizeof *m->flows);
    bv_residual_coupling_cfg lc = {.channels = cfg->channels, .hidden_channels = cfg->hidden_channels,
                                   .kernel_size = cfg->kernel_size, .dilation_rate = cfg->dilation_rate,
                                   .n_layers = cfg->n_layers, .p_dropout = 0.0f, .gin_channels = cfg->gin_channels,
                                   .mean_only = 1};
    for (int i = 0; i < cfg->n_flows; i++) {
        snprintf(name, sizeof name, "%sflows.%d.", prefix, 2 * i); /* flows.<2i+1> is the Flip */
        m->flows[i] = bv_residual_coupling_new(ps, name, &lc);
    }
    return m;
}

void bv_residual_coupling_block_free(bv_residual_coupling_block *m) {
    if (!m) return;
    for (int i = 0; i < m->cfg.n_flows; i++) bv_residual_coupling_free(m->flows[i]);
    free(m->flows);
    free(m);
}

void bv_residual_coupling_block_reset_parameters(const bv_residual_coupling_block *m, bv_rng *rng) {
    for (int i = 0; i < m->cfg.n_flows; i++) bv_residual_coupling_reset_parameters(m->flows[i], rng);
}

bv_tensor *bv_residual_coupling_block_forward(bv_ctx *ctx, const bv_residual_coupling_block *m, bv_tensor *x,
                                              bv_tensor *x_mask, bv_tensor *g, int reverse, int training) {
    check_inputs(ctx, "ResidualCouplingBlock", m->cfg.channels, m->cfg.gin_channels, x, x_mask, g);
    const int n = m->cfg.n_flows;
    if (!reverse) {
        for (int i = 0; i < n; i++) {
            x = bv_residual_coupling_forward(ctx, m->flows[i], x, x_mask, g, 0, training, NULL); // flows[2i]
            x = bv_flip_flow_forward(ctx, x, 0, NULL);                                       // flows[2i+1]
        }
    } else {
        for (int i = n - 1; i >= 0; i--) {
            x = bv_flip_flow_forward(ctx, x, 1, NULL);                                       // flows[2i+1]
            x = bv_residual_coupling_forward(ctx, m->flows[i], x, x_mask, g, 1, training, NULL); // flows[2i]
        }
    }
    return x; // [B, C, T]
}
