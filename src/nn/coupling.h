/* coupling.h - the affine coupling flows: modules.ResidualCouplingLayer (WN hidden net) and
 * modules.TransformerCouplingLayer (attentions.Encoder(isflow=True) hidden net).
 *
 * x [B, C, T] is split in halves x0, x1 along channels; x0 passes unchanged and conditions x1:
 *   h     = enc(pre(x0) * mask, mask, g)
 *   stats = post(h) * mask;  m, logs = split(stats)   (mean_only: m = stats, logs = 0)
 *   forward: x1 = m + x1 * exp(logs) * mask,  logdet = sum(logs, [1, 2])   (logs is already masked)
 *   reverse: x1 = (x1 - m) * exp(-logs) * mask
 *   y = cat([x0, x1], 1)
 * Upstream zero-initialises post so that a fresh flow is the identity.
 */
#ifndef BV_NN_COUPLING_H
#define BV_NN_COUPLING_H

#include "attention.h"
#include "conv_layers.h"
#include "wn.h"

/* ---------------- ResidualCouplingLayer ---------------- */
typedef struct bv_residual_coupling_cfg {
    int channels, hidden_channels, kernel_size, dilation_rate, n_layers;
    float p_dropout;
    int gin_channels;   /* 0: no conditioning */
    int mean_only;
} bv_residual_coupling_cfg;

typedef struct bv_residual_coupling {
    bv_residual_coupling_cfg cfg;
    bv_conv1d_layer pre;    /* <prefix>pre.{weight,bias}   [H, C/2, 1] */
    bv_wn *enc;             /* <prefix>enc.* (modules.WN) */
    bv_conv1d_layer post;   /* <prefix>post.{weight,bias}  [C/2 * (2 - mean_only), H, 1] */
} bv_residual_coupling;

/* Fatal on an impossible config (odd channels, even kernel): a model-building bug. */
bv_residual_coupling *bv_residual_coupling_new(bv_params *ps, const char *prefix, const bv_residual_coupling_cfg *cfg);
void bv_residual_coupling_free(bv_residual_coupling *m);
/* Upstream init: Conv1d defaults, then post zeroed. */
void bv_residual_coupling_reset_parameters(const bv_residual_coupling *m, bv_rng *rng);
/* x [B, C, T], x_mask [B, 1, T], g [B, gin, 1] or NULL -> y [B, C, T].
 * logdet (may be NULL): receives [B] in the forward direction (zeros when mean_only, with no grad,
 * as upstream's zeros_like), NULL in reverse. training enables the WN's dropout. */
bv_tensor *bv_residual_coupling_forward(bv_ctx *ctx, const bv_residual_coupling *m, bv_tensor *x, bv_tensor *x_mask,
                                        bv_tensor *g, int reverse, int training, bv_tensor **logdet);

/* ---------------- TransformerCouplingLayer ---------------- */
/* Upstream's wn_sharing_parameter (an Encoder shared by every flow) is not supported: only None.
 * models.TransformerCouplingBlock passes a shared encoder only with share_parameter=True, whose
 * attentions.FFT does not exist in this upstream revision; SynthesizerTrn uses share_parameter=False. */
typedef struct bv_transformer_coupling_cfg {
    int channels, hidden_channels, kernel_size, n_layers, n_heads;
    float p_dropout;
    int filter_channels;
    int mean_only;      /* models.TransformerCouplingBlock: 1 */
    int gin_channels;   /* 0: no conditioning */
} bv_transformer_coupling_cfg;

typedef struct bv_transformer_coupling {
    bv_transformer_coupling_cfg cfg;
    bv_conv1d_layer pre;    /* <prefix>pre.{weight,bias}   [H, C/2, 1] */
    bv_encoder *enc;        /* <prefix>enc.* (attentions.Encoder, isflow=True, default cond_layer_idx) */
    bv_conv1d_layer post;   /* <prefix>post.{weight,bias}  [C/2 * (2 - mean_only), H, 1] */
} bv_transformer_coupling;

/* Fatal on an impossible config (odd channels, invalid encoder config): a model-building bug. */
bv_transformer_coupling *bv_transformer_coupling_new(bv_params *ps, const char *prefix,
                                                     const bv_transformer_coupling_cfg *cfg);
void bv_transformer_coupling_free(bv_transformer_coupling *m);
/* Upstream init: Conv1d defaults, the encoder's own init, then post zeroed. */
void bv_transformer_coupling_reset_parameters(const bv_transformer_coupling *m, bv_rng *rng);
/* As bv_residual_coupling_forward; training enables the encoder's dropout (p_dropout is the
 * model's, 0.1 in upstream configs, so it matters in training). */
bv_tensor *bv_transformer_coupling_forward(bv_ctx *ctx, const bv_transformer_coupling *m, bv_tensor *x,
                                           bv_tensor *x_mask, bv_tensor *g, int reverse, int training,
                                           bv_tensor **logdet);

#endif
