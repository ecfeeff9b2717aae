/* conv_layers.h - nn.Conv1d as a module: its parameters in the store, named like upstream, and a
 * forward that (optionally) applies torch.nn.utils.weight_norm first.
 *
 * With weight norm the store holds "<prefix>bias", "<prefix>weight_g" [Cout, 1, 1] and
 * "<prefix>weight_v" [Cout, Cin/groups, K] in that order (the order weight_norm leaves in
 * _parameters, hence in state_dict and in net.parameters()); without it "<prefix>weight" and
 * "<prefix>bias". The weight is recomputed from g and v at every forward, as upstream's pre-hook
 * does, so gradients reach weight_g and weight_v.
 *
 * Parameters are created zeroed; values come from a checkpoint or bv_conv1d_layer_reset_parameters.
 *
 *   bv_conv1d_layer pre;
 *   bv_conv1d_layer_init(&pre, ps, "pre.", &(bv_conv1d_cfg){.in_channels = 2, .out_channels = 8,
 *                                                           .kernel_size = 1});
 *   bv_tensor *h = bv_conv1d_layer_forward(ctx, &pre, x);            // [B, 8, T]
 */
#ifndef BV_NN_CONV_LAYERS_H
#define BV_NN_CONV_LAYERS_H

#include "../core/params.h"
#include "../core/rng.h"
#include "../ops/ops.h"

/* Designated-initializer friendly: zero means the PyTorch default (stride 1, dilation 1,
 * groups 1, padding 0, bias present, no weight norm). */
typedef struct bv_conv1d_cfg {
    int in_channels, out_channels, kernel_size;
    int stride, padding, dilation, groups;
    int no_bias;       /* bias=False */
    int weight_norm;   /* wrapped in torch.nn.utils.weight_norm(..., dim=0) */
} bv_conv1d_cfg;

typedef struct bv_conv1d_layer {
    bv_conv1d_cfg cfg;   /* with defaults filled in */
    bv_tensor *weight;   /* <prefix>weight   [Cout, Cin/groups, K] (plain conv only) */
    bv_tensor *weight_g; /* <prefix>weight_g [Cout, 1, 1]          (weight norm only) */
    bv_tensor *weight_v; /* <prefix>weight_v [Cout, Cin/groups, K] (weight norm only) */
    bv_tensor *bias;     /* <prefix>bias     [Cout], NULL when no_bias */
} bv_conv1d_layer;

/* Adds the parameters "<prefix>..." to ps. Fatal on an impossible config (a model-building bug). */
void bv_conv1d_layer_init(bv_conv1d_layer *c, bv_params *ps, const char *prefix, const bv_conv1d_cfg *cfg);
/* PyTorch's nn.Conv1d default init (kaiming_uniform(a=sqrt(5)): weight and bias ~ U(-b, b),
 * b = 1/sqrt(Cin/groups * K)); with weight norm v = that weight and g = ||v|| per output channel,
 * as torch.nn.utils.weight_norm sets them. */
void bv_conv1d_layer_reset_parameters(const bv_conv1d_layer *c, bv_rng *rng);
/* x [B, Cin, T] -> [B, Cout, T_out] */
bv_tensor *bv_conv1d_layer_forward(bv_ctx *ctx, const bv_conv1d_layer *c, bv_tensor *x);
/* The effective weight [Cout, Cin/groups, K] (through weight norm when enabled). */
bv_tensor *bv_conv1d_layer_weight(bv_ctx *ctx, const bv_conv1d_layer *c);

/* Checks shared by the nn modules: x_mask must be f32 [B, 1, T] for x [B, C, T]; raises an
 * error naming `module` and both shapes otherwise. */
void bv_nn_check_mask(bv_ctx *ctx, const char *module, const bv_tensor *x, const bv_tensor *x_mask);
/* x must be f32 [B, channels, T]. */
void bv_nn_check_input(bv_ctx *ctx, const char *module, const bv_tensor *x, int64_t channels);
/* g must be f32 [B, gin_channels, 1] (or [B, gin_channels, T]) with B and T taken from x. */
void bv_nn_check_cond(bv_ctx *ctx, const char *module, const bv_tensor *x, const bv_tensor *g, int64_t gin_channels);

#endif
