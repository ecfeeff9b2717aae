/* wn.c - modules.WN, composed from ops; its gate commons.fused_add_tanh_sigmoid_multiply is the
 * fused op bv_fused_add_tanh_sigmoid_multiply (src/ops/gate.c).
 */
#include "wn.h"

#include <stdlib.h>

#include "../core/error.h"

/* ---------------- modules.WN ---------------- */

bv_wn *bv_wn_new(bv_params *ps, const char *prefix, const bv_wn_cfg *cfg) {
    BV_ASSERT(cfg->kernel_size % 2 == 1); /* upstream asserts it: "same" padding needs an odd kernel */
    BV_ASSERT(cfg->n_layers >= 1 && cfg->hidden_channels > 0 && cfg->dilation_rate >= 1);
    bv_wn *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    int H = cfg->hidden_channels, L = cfg->n_layers, k = cfg->kernel_size;
    m->in_layers = bv_xcalloc((size_t)L, sizeof *m->in_layers);
    m->res_skip_layers = bv_xcalloc((size_t)L, sizeof *m->res_skip_layers);
    char name[512];
    /* state_dict order: in_layers.*, res_skip_layers.*, then cond_layer (registered after them) */
    int dilation = 1;
    for (int i = 0; i < L; i++, dilation *= cfg->dilation_rate) {
        snprintf(name, sizeof name, "%sin_layers.%d.", prefix, i);
        bv_conv1d_layer_init(&m->in_layers[i], ps, name,
                             &(bv_conv1d_cfg){.in_channels = H, .out_channels = 2 * H, .kernel_size = k,
                                              .dilation = dilation, .padding = (k * dilation - dilation) / 2,
                                              .weight_norm = 1});
    }
    for (int i = 0; i < L; i++) {
        snprintf(name, sizeof name, "%sres_skip_layers.%d.", prefix, i);
        int out_ch = i < L - 1 ? 2 * H : H; /* the last layer has no residual half */
        bv_conv1d_layer_init(&m->res_skip_layers[i], ps, name,
                             &(bv_conv1d_cfg){.in_channels = H, .out_channels = out_ch, .kernel_size = 1,
                                              .weight_norm = 1});
    }
    if (cfg->gin_channels > 0) {
        snprintf(name, sizeof name, "%scond_layer.", prefix);
        bv_conv1d_layer_init(&m->cond_layer, ps, name,
                             &(bv_conv1d_cfg){.in_channels = cfg->gin_channels, .out_channels = 2 * H * L,
                                              .kernel_size = 1, .weight_norm = 1});
    }
    return m;
}

void bv_wn_free(bv_wn *m) {
    if (!m) return;
    free(m->in_layers);
    free(m->res_skip_layers);
    free(m);
}

void bv_wn_reset_parameters(const bv_wn *m, bv_rng *rng) {
    for (int i = 0; i < m->cfg.n_layers; i++) bv_conv1d_layer_reset_parameters(&m->in_layers[i], rng);
    for (int i = 0; i < m->cfg.n_layers; i++) bv_conv1d_layer_reset_parameters(&m->res_skip_layers[i], rng);
    if (m->cfg.gin_channels > 0) bv_conv1d_layer_reset_parameters(&m->cond_layer, rng);
}

bv_tensor *bv_wn_forward(bv_ctx *ctx, const bv_wn *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g, int training) {
    const int H = m->cfg.hidden_channels, L = m->cfg.n_layers;
    bv_nn_check_input(ctx, "WN", x, H);
    bv_nn_check_mask(ctx, "WN", x, x_mask);
    bv_tensor *gc = NULL; // [B, 2H*L, 1]
    if (g) {
        if (m->cfg.gin_channels <= 0) bv_ctx_error(ctx, "WN", "g given but the module has gin_channels = 0");
        bv_nn_check_cond(ctx, "WN", x, g, m->cfg.gin_channels);
        gc = bv_conv1d_layer_forward(ctx, &m->cond_layer, g);
    }
    bv_tensor *output = NULL; // [B, H, T]; upstream starts from zeros_like(x), 0 + v == v
    for (int i = 0; i < L; i++) {
        bv_tensor *x_in = bv_conv1d_layer_forward(ctx, &m->in_layers[i], x);           // [B, 2H, T]
        bv_tensor *g_l = gc ? bv_slice(ctx, gc, 1, (int64_t)i * 2 * H, (int64_t)(i + 1) * 2 * H, 1) : NULL; // [B, 2H, 1]
        bv_tensor *acts = bv_fused_add_tanh_sigmoid_multiply(ctx, x_in, g_l, H);       // [B, H, T]
        acts = bv_dropout(ctx, acts, m->cfg.p_dropout, training);
        bv_tensor *rs = bv_conv1d_layer_forward(ctx, &m->res_skip_layers[i], acts);    // [B, 2H, T] / [B, H, T]
        bv_tensor *skip = rs;
        if (i < L - 1) {
            bv_tensor *res = bv_slice(ctx, rs, 1, 0, H, 1);                            // [B, H, T]
            x = bv_mul(ctx, bv_add(ctx, x, res), x_mask);
            skip = bv_slice(ctx, rs, 1, H, 2 * H, 1);                                  // [B, H, T]
        }
        output = output ? bv_add(ctx, output, skip) : skip;
    }
    return bv_mul(ctx, output, x_mask); // [B, H, T]
}
