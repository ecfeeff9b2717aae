/* flows.h - the stochastic duration predictor's building blocks from modules.py: DDSConv (dilated
 * depth-separable conv stack), and the invertible flows ElementwiseAffine, Log, Flip and ConvFlow
 * (rational-quadratic spline coupling), plus bv_flow, a tagged handle so a model can keep a list of
 * mixed flows and run them in order (as upstream iterates nn.ModuleList flows).
 *
 * Every flow maps x [B, C, T] (with x_mask [B, 1, T]) to y [B, C, T]. In the forward direction
 * (reverse = 0) *logdet, when logdet is not NULL, receives log|det dy/dx| per batch item [B]; in
 * reverse it is set to NULL (upstream returns only x there).
 *
 *   bv_convflow *cf = bv_convflow_new(ps, "flows.1.", &(bv_convflow_cfg){.in_channels = 2,
 *                                     .filter_channels = 192, .kernel_size = 3, .n_layers = 3});
 *   bv_tensor *logdet;
 *   z = bv_convflow_forward(ctx, cf, z, x_mask, g, 0, &logdet);    // z [B, 2, T], logdet [B]
 */
#ifndef BV_NN_FLOWS_H
#define BV_NN_FLOWS_H

#include "conv_layers.h"

/* ---------------- DDSConv ---------------- */
/* Per layer i (dilation k**i, "same" padding):
 *   y = gelu(norms_2[i](convs_1x1[i](gelu(norms_1[i](convs_sep[i](x * x_mask))))))
 *   x = x + dropout(y)
 * after x = x + g when g is given; returns x * x_mask. */
typedef struct bv_ddsconv_cfg {
    int channels, kernel_size, n_layers;
    float p_dropout;
} bv_ddsconv_cfg;

typedef struct bv_channel_norm {
    bv_tensor *gamma, *beta; /* modules.LayerNorm: <prefix>norms_%d.%d.gamma [C], .beta [C] */
} bv_channel_norm;

typedef struct bv_ddsconv {
    bv_ddsconv_cfg cfg;
    bv_conv1d_layer *convs_sep;  /* <prefix>convs_sep.%d.{weight,bias}  [C, 1, k] depthwise */
    bv_conv1d_layer *convs_1x1;  /* <prefix>convs_1x1.%d.{weight,bias}  [C, C, 1] */
    bv_channel_norm *norms_1;    /* <prefix>norms_1.%d.{gamma,beta}     [C] */
    bv_channel_norm *norms_2;    /* <prefix>norms_2.%d.{gamma,beta}     [C] */
} bv_ddsconv;

/* Creates the parameters in upstream state_dict order (gammas 1, the rest zero). Fatal on an
 * impossible config (a model-building bug). */
bv_ddsconv *bv_ddsconv_new(bv_params *ps, const char *prefix, const bv_ddsconv_cfg *cfg);
void bv_ddsconv_free(bv_ddsconv *m);
/* Upstream init: Conv1d defaults in construction order (sep i, 1x1 i, ...), norms gamma 1 beta 0. */
void bv_ddsconv_reset_parameters(const bv_ddsconv *m, bv_rng *rng);
/* x [B, C, T], x_mask [B, 1, T], g [B, C, T] or [B, C, 1] or NULL -> [B, C, T].
 * training enables the dropout (p_dropout; the SDP's is the model's, 0.5 upstream). */
bv_tensor *bv_ddsconv_forward(bv_ctx *ctx, const bv_ddsconv *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g,
                              int training);

/* ---------------- ElementwiseAffine ---------------- */
/* forward: y = (m + exp(logs) * x) * x_mask, logdet = sum(logs * x_mask, [1, 2]);
 * reverse: y = (x - m) * exp(-logs) * x_mask. */
typedef struct bv_elementwise_affine {
    int channels;
    bv_tensor *m;     /* <prefix>m    [C, 1] */
    bv_tensor *logs;  /* <prefix>logs [C, 1] */
} bv_elementwise_affine;

bv_elementwise_affine *bv_elementwise_affine_new(bv_params *ps, const char *prefix, int channels);
void bv_elementwise_affine_free(bv_elementwise_affine *m);
bv_tensor *bv_elementwise_affine_forward(bv_ctx *ctx, const bv_elementwise_affine *m, bv_tensor *x,
                                         bv_tensor *x_mask, int reverse, bv_tensor **logdet);

/* ---------------- Log, Flip (no parameters) ---------------- */
/* modules.Log: forward y = log(clamp_min(x, 1e-5)) * x_mask, logdet = sum(-y, [1, 2]);
 * reverse y = exp(x) * x_mask. */
bv_tensor *bv_log_flow_forward(bv_ctx *ctx, bv_tensor *x, bv_tensor *x_mask, int reverse, bv_tensor **logdet);
/* modules.Flip: y = flip(x, channels); forward logdet = zeros [B] (no grad, as upstream). */
bv_tensor *bv_flip_flow_forward(bv_ctx *ctx, bv_tensor *x, int reverse, bv_tensor **logdet);

/* ---------------- ConvFlow ---------------- */
/* x0, x1 = split(x) in channel halves; h = proj(DDSConv(pre(x0), x_mask, g)) * x_mask, reshaped to
 * [B, C/2, T, 3K-1] = widths/sqrt(filter), heights/sqrt(filter), derivatives; x1 goes through the
 * rational-quadratic spline (linear tails, tail_bound); y = cat(x0, x1) * x_mask and
 * logdet = sum(logabsdet * x_mask, [1, 2]). The inner DDSConv has p_dropout 0 (upstream). */
typedef struct bv_convflow_cfg {
    int in_channels, filter_channels, kernel_size, n_layers;
    int num_bins;       /* 0 means upstream's default 10 */
    float tail_bound;   /* 0 means upstream's default 5.0 */
} bv_convflow_cfg;

typedef struct bv_convflow {
    bv_convflow_cfg cfg;     /* with defaults filled in */
    bv_conv1d_layer pre;     /* <prefix>pre.{weight,bias}   [filter, C/2, 1] */
    bv_ddsconv *convs;       /* <prefix>convs.*             (DDSConv, p_dropout 0) */
    bv_conv1d_layer proj;    /* <prefix>proj.{weight,bias}  [C/2 * (3K-1), filter, 1] */
} bv_convflow;

/* Fatal on an impossible config (odd in_channels, num_bins < 1): a model-building bug. */
bv_convflow *bv_convflow_new(bv_params *ps, const char *prefix, const bv_convflow_cfg *cfg);
void bv_convflow_free(bv_convflow *m);
/* Upstream init: Conv1d defaults for pre and the DDSConv, proj zeroed (a fresh flow is the identity). */
void bv_convflow_reset_parameters(const bv_convflow *m, bv_rng *rng);
/* x [B, C, T], x_mask [B, 1, T], g [B, filter, T] or [B, filter, 1] or NULL -> y [B, C, T]. */
bv_tensor *bv_convflow_forward(bv_ctx *ctx, const bv_convflow *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g,
                               int reverse, bv_tensor **logdet);

/* ---------------- bv_flow: one element of a flow list ---------------- */
typedef enum { BV_FLOW_ELEMENTWISE_AFFINE = 0, BV_FLOW_CONVFLOW, BV_FLOW_FLIP, BV_FLOW_LOG } bv_flow_kind;

typedef struct bv_flow {
    bv_flow_kind kind;
    bv_elementwise_affine *affine;  /* BV_FLOW_ELEMENTWISE_AFFINE */
    bv_convflow *conv;              /* BV_FLOW_CONVFLOW */
} bv_flow;

/* Runs the flow as upstream's flow(x, x_mask, g=g, reverse=reverse); g is used by ConvFlow only. */
bv_tensor *bv_flow_forward(bv_ctx *ctx, const bv_flow *f, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g, int reverse,
                           bv_tensor **logdet);
void bv_flow_free(bv_flow *f);   /* frees the module it holds (not f itself) */

#endif
