/* wn.h - modules.WN: the WaveNet-like stack of gated dilated convolutions used by the posterior
 * encoder and the residual coupling flows. Its inner loop, commons.fused_add_tanh_sigmoid_multiply,
 * is the fused op bv_fused_add_tanh_sigmoid_multiply (src/ops/ops.h, gate.c).
 *
 * Per layer i (dilation = dilation_rate**i, "same" padding):
 *   x_in = in_layers[i](x)                                   // [B, 2H, T]
 *   acts = tanh(x_in[:, :H] + g_l[:, :H]) * sigmoid(x_in[:, H:] + g_l[:, H:])   // [B, H, T]
 *   rs   = res_skip_layers[i](dropout(acts))                 // [B, 2H, T] ([B, H, T] last layer)
 *   x    = (x + rs[:, :H]) * x_mask;  output += rs[:, H:]    // last layer: output += rs
 * returns output * x_mask. g_l is the i-th 2H-channel block of cond_layer(g) when g is given.
 * Like upstream, x is NOT masked before the first in_layer.
 */
#ifndef BV_NN_WN_H
#define BV_NN_WN_H

#include "conv_layers.h"

typedef struct bv_wn_cfg {
    int hidden_channels, kernel_size, dilation_rate, n_layers;
    int gin_channels;   /* 0: no global conditioning (no cond_layer) */
    float p_dropout;
} bv_wn_cfg;

typedef struct bv_wn {
    bv_wn_cfg cfg;
    bv_conv1d_layer *in_layers;       /* <prefix>in_layers.%d.{bias,weight_g,weight_v}       [2H, H, k] */
    bv_conv1d_layer *res_skip_layers; /* <prefix>res_skip_layers.%d.{bias,weight_g,weight_v} [2H or H, H, 1] */
    bv_conv1d_layer cond_layer;       /* <prefix>cond_layer.{bias,weight_g,weight_v} [2H*n_layers, gin, 1] */
} bv_wn;

/* Creates the parameters in upstream state_dict order. Fatal on an impossible config
 * (even kernel_size, n_layers < 1): a model-building bug. */
bv_wn *bv_wn_new(bv_params *ps, const char *prefix, const bv_wn_cfg *cfg);
void bv_wn_free(bv_wn *m);
/* Upstream init: every conv at PyTorch's Conv1d default (WN applies no custom init). */
void bv_wn_reset_parameters(const bv_wn *m, bv_rng *rng);
/* x [B, H, T], x_mask [B, 1, T], g [B, gin, 1] or NULL -> [B, H, T]. training enables dropout. */
bv_tensor *bv_wn_forward(bv_ctx *ctx, const bv_wn *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g, int training);

#endif
