/* resblock.h - modules.ResBlock1 and modules.ResBlock2: HiFi-GAN's multi-receptive-field residual
 * blocks used by models.Generator (which calls them without a mask).
 *
 * ResBlock1, for j in 0..2:  xt = c2_j(lrelu(c1_j(lrelu(x) * m)) * m);  x = xt + x
 *   convs1.j: dilation dilation[j]; convs2.j: dilation 1; all weight-normed, "same" padding.
 * ResBlock2, for j in 0..1:  x = c_j(lrelu(x) * m) + x
 * Both end with x * m. lrelu slope is modules.LRELU_SLOPE = 0.1; "* m" is skipped when x_mask is
 * NULL (models.Generator passes none).
 */
#ifndef BV_NN_RESBLOCK_H
#define BV_NN_RESBLOCK_H

#include "conv_layers.h"

#define BV_LRELU_SLOPE 0.1f /* modules.LRELU_SLOPE */

typedef struct bv_resblock1 {
    int channels, kernel_size, dilation[3];
    bv_conv1d_layer convs1[3]; /* <prefix>convs1.%d.{bias,weight_g,weight_v} [C, C, k] */
    bv_conv1d_layer convs2[3]; /* <prefix>convs2.%d.{bias,weight_g,weight_v} [C, C, k] */
} bv_resblock1;

typedef struct bv_resblock2 {
    int channels, kernel_size, dilation[2];
    bv_conv1d_layer convs[2]; /* <prefix>convs.%d.{bias,weight_g,weight_v} [C, C, k] */
} bv_resblock2;

/* dilation: 3 values (upstream default (1, 3, 5)). */
bv_resblock1 *bv_resblock1_new(bv_params *ps, const char *prefix, int channels, int kernel_size, const int *dilation);
void bv_resblock1_free(bv_resblock1 *m);
/* Upstream init: PyTorch's Conv1d default for every conv. commons.init_weights, which upstream
 * applies afterwards, writes only the derived .weight that weight norm recomputes: no effect. */
void bv_resblock1_reset_parameters(const bv_resblock1 *m, bv_rng *rng);
/* x [B, C, T], x_mask [B, 1, T] or NULL -> [B, C, T]. x may also come channel-blocked
 * [B, C/16, T, 16] (bv_conv_block; then no mask): the result is blocked too, so a caller that runs
 * several blocks on one input (the Generator) converts once. */
bv_tensor *bv_resblock1_forward(bv_ctx *ctx, const bv_resblock1 *m, bv_tensor *x, bv_tensor *x_mask);

/* dilation: 2 values (upstream default (1, 3)). */
bv_resblock2 *bv_resblock2_new(bv_params *ps, const char *prefix, int channels, int kernel_size, const int *dilation);
void bv_resblock2_free(bv_resblock2 *m);
void bv_resblock2_reset_parameters(const bv_resblock2 *m, bv_rng *rng);   /* as ResBlock1 */
/* x [B, C, T] (or blocked, as ResBlock1), x_mask [B, 1, T] or NULL -> x's shape */
bv_tensor *bv_resblock2_forward(bv_ctx *ctx, const bv_resblock2 *m, bv_tensor *x, bv_tensor *x_mask);

#endif
