/* conv_layers.c - nn.Conv1d (plain or weight-normed) as a module, and the input checks the nn
 * modules share. */
#include "conv_layers.h"

#include <math.h>
#include <stdio.h>

#include "../core/error.h"

void bv_conv1d_layer_init(bv_conv1d_layer *c, bv_params *ps, const char *prefix, const bv_conv1d_cfg *cfg) {
    c->cfg = *cfg;
    bv_conv1d_cfg *k = &c->cfg;
    if (k->stride == 0) k->stride = 1;
    if (k->dilation == 0) k->dilation = 1;
    if (k->groups == 0) k->groups = 1;
    BV_ASSERT(k->in_channels > 0 && k->out_channels > 0 && k->kernel_size > 0);
    BV_ASSERT(k->in_channels % k->groups == 0 && k->out_channels % k->groups == 0);
    c->weight = c->weight_g = c->weight_v = c->bias = NULL;
    int64_t cout = k->out_channels, cin_g = k->in_channels / k->groups, K = k->kernel_size;
    if (k->weight_norm) {
        /* weight_norm deletes "weight" and registers g then v after the existing bias */
        if (!k->no_bias) c->bias = bv_params_addf(ps, BV_SHAPE(cout), "%sbias", prefix);
        c->weight_g = bv_params_addf(ps, BV_SHAPE(cout, 1, 1), "%sweight_g", prefix);
        c->weight_v = bv_params_addf(ps, BV_SHAPE(cout, cin_g, K), "%sweight_v", prefix);
    } else {
        c->weight = bv_params_addf(ps, BV_SHAPE(cout, cin_g, K), "%sweight", prefix);
        if (!k->no_bias) c->bias = bv_params_addf(ps, BV_SHAPE(cout), "%sbias", prefix);
    }
}

void bv_conv1d_layer_reset_parameters(const bv_conv1d_layer *c, bv_rng *rng) {
    bv_tensor *w = c->cfg.weight_norm ? c->weight_v : c->weight; // [Cout, Cin/groups, K]
    int64_t per_out = w->shape[1] * w->shape[2];
    double bound = 1.0 / sqrt((double)per_out); /* fan_in = Cin/groups * K */
    bv_init_uniform(w, rng, bound);
    if (c->bias) bv_init_uniform(c->bias, rng, bound);
    if (c->cfg.weight_norm) bv_init_weight_norm_g(c->weight_g, w); /* weight_norm: g = ||v|| per output */
}

bv_tensor *bv_conv1d_layer_weight(bv_ctx *ctx, const bv_conv1d_layer *c) {
    if (c->cfg.weight_norm) return bv_weight_norm(ctx, c->weight_g, c->weight_v, 0); // [Cout, Cin/groups, K]
    return c->weight;
}

bv_tensor *bv_conv1d_layer_forward(bv_ctx *ctx, const bv_conv1d_layer *c, bv_tensor *x) {
    const bv_conv1d_cfg *k = &c->cfg;
    bv_tensor *w = bv_conv1d_layer_weight(ctx, c);
    return bv_conv1d(ctx, x, w, c->bias, k->stride, k->padding, k->dilation, k->groups); // [B, Cout, T_out]
}

void bv_nn_check_input(bv_ctx *ctx, const char *module, const bv_tensor *x, int64_t channels) {
    char b[64];
    if (x->dtype != BV_F32 || x->ndim != 3 || x->shape[1] != channels)
        bv_ctx_error(ctx, module, "x %s (%s) must be f32 [B, %lld, T]", bv_shape_str(x, b, sizeof b),
                     bv_dtype_name(x->dtype), (long long)channels);
}

void bv_nn_check_mask(bv_ctx *ctx, const char *module, const bv_tensor *x, const bv_tensor *x_mask) {
    char bx[64], bm[64];
    if (x_mask->dtype != BV_F32 || x_mask->ndim != 3 || x->ndim != 3 || x_mask->shape[0] != x->shape[0] ||
        x_mask->shape[1] != 1 || x_mask->shape[2] != x->shape[2])
        bv_ctx_error(ctx, module, "x_mask %s (%s) does not fit x %s: expected f32 [B, 1, T]",
                     bv_shape_str(x_mask, bm, sizeof bm), bv_dtype_name(x_mask->dtype), bv_shape_str(x, bx, sizeof bx));
}

void bv_nn_check_cond(bv_ctx *ctx, const char *module, const bv_tensor *x, const bv_tensor *g, int64_t gin_channels) {
    char bx[64], bg[64];
    if (g->dtype != BV_F32 || g->ndim != 3 || x->ndim != 3 || g->shape[0] != x->shape[0] ||
        g->shape[1] != gin_channels || (g->shape[2] != 1 && g->shape[2] != x->shape[2]))
        bv_ctx_error(ctx, module, "g %s (%s) does not fit x %s: expected f32 [B, %lld, 1] or [B, %lld, T]",
                     bv_shape_str(g, bg, sizeof bg), bv_dtype_name(g->dtype), bv_shape_str(x, bx, sizeof bx),
                     (long long)gin_channels, (long long)gin_channels);
}
