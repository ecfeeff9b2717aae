/* resblock.c - modules.ResBlock1 / ResBlock2 (HiFi-GAN residual blocks). */
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

static void check_inputs(bv_ctx *ctx, const char *module, int channels, bv_tensor *x, bv_tensor *x_mask) {
    bv_nn_check_input(ctx, module, x, channels);
    if (x_mask) bv_nn_check_mask(ctx, module, x, x_mask);
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
    for (int j = 0; j < 3; j++) {
        bv_tensor *xt = bv_conv1d_layer_forward(ctx, &m->convs1[j], act_masked(ctx, x, x_mask)); // [B, C, T]
        xt = bv_conv1d_layer_forward(ctx, &m->convs2[j], act_masked(ctx, xt, x_mask));          // [B, C, T]
        x = bv_add(ctx, xt, x);
    }
    return x_mask ? bv_mul(ctx, x, x_mask) : x; // [B, C, T]
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
    for (int j = 0; j < 2; j++) {
        bv_tensor *xt = bv_conv1d_layer_forward(ctx, &m->convs[j], act_masked(ctx, x, x_mask)); // [B, C, T]
        x = bv_add(ctx, xt, x);
    }
    return x_mask ? bv_mul(ctx, x, x_mask) : x; // [B, C, T]
}
