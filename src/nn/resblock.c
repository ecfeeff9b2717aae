/* resblock.c - modules.ResBlock1 / ResBlock2 (HiFi-GAN residual blocks).
 *
 * Speed (these are most of the Generator's time): without a mask and with a channel count oneDNN
 * blocks natively (bv_conv_layout_for: the backend decides), a block runs in the channel-blocked layout between one
 * bv_conv_block at its start and one bv_conv_unblock at its end, instead of two reorders per
 * conv; ResBlock1's leaky_relu(c1(.)) and every "x = c(.) + x" are single ops (bv_conv1d_fused),
 * which also keeps two fewer activations per layer for backward. The values are those of the
 * separate ops bit for bit: the same oneDNN kernels, leaky_relu arithmetic and additions. */
#include "resblock.h"

#include <stdio.h>
#include <stdlib.h>

#include "../core/error.h"

/* commons.get_padding: "same" output length for an odd kernel */
static int get_padding(int kernel_size, int dilation) { return (kernel_size * dilation - dilation) / 2; }

static void init_conv(bv_conv1d_layer *c, bv_params *ps, const char *prefix, const char *list, int j, int channels,
                      int kernel_size, int dilation) {
    char name[512];
    snprintf(name, sizeof name, "%s%s.%d.", prefix, list, j);
    bv_conv1d_layer_init(c, ps, name,
                         &(bv_conv1d_cfg){.in_channels = channels, .out_channels = channels,
                                          .kernel_size = kernel_size, .dilation = dilation,
                                          .padding = get_padding(kernel_size, dilation), .weight_norm = 1});
}

/* lrelu(x) * x_mask (no mask: just lrelu) */
static bv_tensor *act_masked(bv_ctx *ctx, bv_tensor *x, bv_tensor *x_mask) {
    bv_tensor *y = bv_leaky_relu(ctx, x, BV_LRELU_SLOPE);
    return x_mask ? bv_mul(ctx, y, x_mask) : y;
}

/* c(x) with the given fusion (its .blocked: x and the result [B, C/16, T, 16] instead of [B, C, T]) */
static bv_tensor *conv(bv_ctx *ctx, const bv_conv1d_layer *c, bv_tensor *x, bv_conv1d_fusion f) {
    bv_tensor *w = bv_conv1d_layer_weight(ctx, c); // [C, C, k]
    return bv_conv1d_fused(ctx, x, w, c->bias, 1, c->cfg.padding, c->cfg.dilation, 1, &f);
}

/* x [B, C, T], or x already blocked [B, C/16, T, 16] (4-d: no mask then). */
static void check_inputs(bv_ctx *ctx, const char *module, int channels, bv_tensor *x, bv_tensor *x_mask) {
    if (x->ndim != 4) {
        bv_nn_check_input(ctx, module, x, channels);
        if (x_mask) bv_nn_check_mask(ctx, module, x, x_mask);
        return;
    }
    char b[64];
    if (x->dtype != BV_F32 || x->shape[1] * BV_CONV_BLOCK != channels || x->shape[3] != BV_CONV_BLOCK)
        bv_ctx_error(ctx, module, "blocked x %s (%s) must be f32 [B, %d, T, %d]", bv_shape_str(x, b, sizeof b),
                     bv_dtype_name(x->dtype), channels / BV_CONV_BLOCK, BV_CONV_BLOCK);
    if (x_mask) bv_ctx_error(ctx, module, "blocked x %s takes no mask", bv_shape_str(x, b, sizeof b));
}

/* Whether the block runs blocked, and whether it blocks x itself (then it unblocks its result):
 * blocked input stays blocked; plain input is blocked here without a mask ([B, 1, T] does not
 * broadcast over the blocked layout) and where oneDNN blocks these channels natively. */
static int run_blocked(bv_ctx *ctx, const bv_tensor *x, const bv_tensor *x_mask, int channels, int *convert) {
    *convert = x->ndim == 3 && !x_mask && bv_conv_layout_for(ctx->be, channels) == BV_CONV_LAYOUT_BLOCKED;
    return x->ndim == 4 || *convert;
}

bv_resblock1 *bv_resblock1_new(bv_params *ps, const char *prefix, int channels, int kernel_size, const int *dilation) {
    BV_ASSERT(channels > 0 && kernel_size > 0);
    bv_resblock1 *m = bv_xcalloc(1, sizeof *m);
    m->channels = channels;
    m->kernel_size = kernel_size;
    /* state_dict order: all of convs1, then all of convs2 */
    for (int j = 0; j < 3; j++) {
        m->dilation[j] = dilation[j];
        init_conv(&m->convs1[j], ps, prefix, "convs1", j, channels, kernel_size, dilation[j]);
    }
    for (int j = 0; j < 3; j++) init_conv(&m->convs2[j], ps, prefix, "convs2", j, channels, kernel_size, 1);
    return m;
}

void bv_resblock1_free(bv_resblock1 *m) { free(m); }

void bv_resblock1_reset_parameters(const bv_resblock1 *m, bv_rng *rng) {
    for (int j = 0; j < 3; j++) bv_conv1d_layer_reset_parameters(&m->convs1[j], rng);
    for (int j = 0; j < 3; j++) bv_conv1d_layer_reset_parameters(&m->convs2[j], rng);
}

bv_tensor *bv_resblock1_forward(bv_ctx *ctx, const bv_resblock1 *m, bv_tensor *x, bv_tensor *x_mask) {
    check_inputs(ctx, "ResBlock1", m->channels, x, x_mask);
    int convert, blk = run_blocked(ctx, x, x_mask, m->channels, &convert);
    if (convert) x = bv_conv_block(ctx, x); // [B, C/16, T, 16]
    for (int j = 0; j < 3; j++) {
        /* xt = lrelu(c1(lrelu(x) * m)) * m: c1's lrelu runs inside it (the mask, if any, after) */
        bv_tensor *xt = conv(ctx, &m->convs1[j], act_masked(ctx, x, x_mask),
                             (bv_conv1d_fusion){.blocked = blk, .lrelu = 1, .slope = BV_LRELU_SLOPE}); // [B, C, T]
        if (x_mask) xt = bv_mul(ctx, xt, x_mask);
        x = conv(ctx, &m->convs2[j], xt, (bv_conv1d_fusion){.blocked = blk, .residual = x}); /* x = c2(xt) + x */
    }
    if (convert) x = bv_conv_unblock(ctx, x);   // [B, C, T]
    return x_mask ? bv_mul(ctx, x, x_mask) : x; // [B, C, T] (or blocked as x came)
}

bv_resblock2 *bv_resblock2_new(bv_params *ps, const char *prefix, int channels, int kernel_size, const int *dilation) {
    BV_ASSERT(channels > 0 && kernel_size > 0);
    bv_resblock2 *m = bv_xcalloc(1, sizeof *m);
    m->channels = channels;
    m->kernel_size = kernel_size;
    for (int j = 0; j < 2; j++) {
        m->dilation[j] = dilation[j];
        init_conv(&m->convs[j], ps, prefix, "convs", j, channels, kernel_size, dilation[j]);
    }
    return m;
}

void bv_resblock2_free(bv_resblock2 *m) { free(m); }

void bv_resblock2_reset_parameters(const bv_resblock2 *m, bv_rng *rng) {
    for (int j = 0; j < 2; j++) bv_conv1d_layer_reset_parameters(&m->convs[j], rng);
}

bv_tensor *bv_resblock2_forward(bv_ctx *ctx, const bv_resblock2 *m, bv_tensor *x, bv_tensor *x_mask) {
    check_inputs(ctx, "ResBlock2", m->channels, x, x_mask);
    int convert, blk = run_blocked(ctx, x, x_mask, m->channels, &convert);
    if (convert) x = bv_conv_block(ctx, x); // [B, C/16, T, 16]
    for (int j = 0; j < 2; j++) /* x = c(lrelu(x) * m) + x */
        x = conv(ctx, &m->convs[j], act_masked(ctx, x, x_mask), (bv_conv1d_fusion){.blocked = blk, .residual = x});
    if (convert) x = bv_conv_unblock(ctx, x);   // [B, C, T]
    return x_mask ? bv_mul(ctx, x, x_mask) : x; // [B, C, T] (or blocked as x came)
}
