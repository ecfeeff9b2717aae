/* norm.c - layer norm (over channels of [B, C, T] as modules.LayerNorm, and over the last dim as
 * nn.LayerNorm), group norm, softmax and log-softmax: constructors and analytic backward rules.
 * Kernels: the device's norm slots (cpu/norm.c). Backward rules ACCUMULATE (+=) into input grads.
 *
 * Every op here normalises over one axis of a tensor viewed as [outer, n, inner]: channel layer
 * norm is [B, C, T], last-dim layer norm and softmax(-1) are [rows, C, 1].
 *
 * Normalisation backward, with xhat = (x - mean) * rstd and dxhat = gy * gamma:
 *   gx = rstd * (dxhat - mean_n(dxhat) - xhat * mean_n(dxhat * xhat)). */
#include "dispatch.h"
#include "ops.h"

typedef bv_axis_geom ngeom;

static int norm_dim(bv_ctx *ctx, const char *op, const bv_tensor *x, int dim) {
    int d = dim < 0 ? dim + x->ndim : dim;
    if (d < 0 || d >= x->ndim) {
        char b[96];
        bv_ctx_error(ctx, op, "dim %d out of range for shape %s", dim, bv_shape_str(x, b, sizeof b));
    }
    return d;
}

static ngeom geom_at(const bv_tensor *x, int d) {
    ngeom g = {bv_shape_numel(d, x->shape), x->shape[d], bv_shape_numel(x->ndim - d - 1, x->shape + d + 1)};
    return g;
}

/* gamma / beta must be f32 [C] (or NULL). */
static void check_affine(bv_ctx *ctx, const char *op, const bv_tensor *x, const bv_tensor *p, int64_t C) {
    if (!p) return;
    bv_check_dtype(ctx, op, p, BV_F32);
    if (p->ndim != 1 || p->shape[0] != C) {
        char a[96], b[96];
        bv_ctx_error(ctx, op, "affine parameter %s does not match %lld channels of input %s", bv_shape_str(p, b, sizeof b),
                     (long long)C, bv_shape_str(x, a, sizeof a));
    }
}

/* ------------------------------------------------------------------------------------------ */
/* layer norm over the middle axis of [outer, C, inner]                                         */

typedef struct {
    ngeom g;
    bv_tensor *gamma, *beta;       /* may be NULL */
    float *mean, *rstd;            /* [outer, inner] */
} ln_saved;

static void ln_backward(bv_ctx *ctx, bv_node *n) {
    const ln_saved *s = n->saved;
    bv_tensor *x = n->in[0], *y = n->out[0], *gamma = s->gamma, *beta = s->beta;
    const bv_kernels *k = bv_ctx_kernels(ctx);
    const char *name = bv_op_name(n->op);
    if (x->requires_grad)
        BV_KERNEL(ctx, k, norm, layer_norm_grad_x, name)
        (bv_grad(ctx, x), y->grad, x->data, s->mean, s->rstd, gamma ? gamma->data : NULL, s->g);
    float *gg = gamma && gamma->requires_grad ? bv_grad(ctx, gamma) : NULL;
    float *gb = beta && beta->requires_grad ? bv_grad(ctx, beta) : NULL;
    if (gg || gb)
        BV_KERNEL(ctx, k, norm, layer_norm_grad_affine, name)(gg, gb, y->grad, x->data, s->mean, s->rstd, s->g);
}

/* Shared by both layer norms: normalise x over axis d. */
static bv_tensor *layer_norm_at(bv_ctx *ctx, const bv_kernels *k, bv_op op, const char *name, bv_tensor *x, int d,
                                bv_tensor *gamma, bv_tensor *beta, float eps) {
    ngeom g = geom_at(x, d);
    check_affine(ctx, name, x, gamma, g.n);
    check_affine(ctx, name, x, beta, g.n);
    bv_tensor *y = bv_new_like(ctx, x);
    const size_t nstat = sizeof(float) * (size_t)(g.outer * g.inner > 0 ? g.outer * g.inner : 1);
    float *mean = bv_ctx_scratch(ctx, nstat), *rstd = bv_ctx_scratch(ctx, nstat);
    BV_KERNEL(ctx, k, norm, layer_norm, name)
    (y->data, mean, rstd, x->data, gamma ? gamma->data : NULL, beta ? beta->data : NULL, g, eps);
    bv_tensor *ins[3] = {x, gamma, beta};
    if (bv_needs_grad(ctx, 3, ins)) {
        int nin = 1; /* the tape gets only the inputs that exist; the saved state knows which is which */
        if (gamma) ins[nin++] = gamma;
        if (beta) ins[nin++] = beta;
        ln_saved *s = bv_arena_alloc(&ctx->arena, sizeof *s);
        *s = (ln_saved){g, gamma, beta, mean, rstd};
        bv_node *node = bv_record(ctx, op, ln_backward, nin, ins, 1, &y);
        node->saved = s;
        node->fattr[0] = eps;
    }
    return y;
}

bv_tensor *bv_layer_norm_ch(bv_ctx *ctx, bv_tensor *x, bv_tensor *gamma, bv_tensor *beta, float eps) {
    bv_tensor *ins[3] = {x, gamma, beta};
    const bv_kernels *k = bv_dispatch(ctx, "layer_norm_ch", 3, ins);
    bv_check_dtype(ctx, "layer_norm_ch", x, BV_F32);
    if (x->ndim < 2) {
        char b[96];
        bv_ctx_error(ctx, "layer_norm_ch", "expected [B, C, ...], got shape %s", bv_shape_str(x, b, sizeof b));
    }
    return layer_norm_at(ctx, k, BV_OP_LAYER_NORM_CH, "layer_norm_ch", x, 1, gamma, beta, eps);
}

bv_tensor *bv_layer_norm(bv_ctx *ctx, bv_tensor *x, bv_tensor *gamma, bv_tensor *beta, float eps) {
    bv_tensor *ins[3] = {x, gamma, beta};
    const bv_kernels *k = bv_dispatch(ctx, "layer_norm", 3, ins);
    bv_check_dtype(ctx, "layer_norm", x, BV_F32);
    if (x->ndim < 1) bv_ctx_error(ctx, "layer_norm", "expected [..., C], got a 0-d tensor");
    return layer_norm_at(ctx, k, BV_OP_LAYER_NORM_LAST, "layer_norm", x, x->ndim - 1, gamma, beta, eps);
}

/* ------------------------------------------------------------------------------------------ */
/* group norm: x [B, C, S...] viewed as [B*G, C/G * S]; each group is one contiguous chunk        */

typedef struct {
    bv_group_geom gg;
    bv_tensor *gamma, *beta;
    float *mean, *rstd;            /* [B * G] */
} gn_saved;

static void gn_backward(bv_ctx *ctx, bv_node *n) {
    const gn_saved *s = n->saved;
    bv_tensor *x = n->in[0], *y = n->out[0];
    const bv_kernels *k = bv_ctx_kernels(ctx);
    if (x->requires_grad)
        BV_KERNEL(ctx, k, norm, group_norm_grad_x, "group_norm")
        (bv_grad(ctx, x), y->grad, x->data, s->mean, s->rstd, s->gamma ? s->gamma->data : NULL, s->gg);
    float *gg = s->gamma && s->gamma->requires_grad ? bv_grad(ctx, s->gamma) : NULL;
    float *gb = s->beta && s->beta->requires_grad ? bv_grad(ctx, s->beta) : NULL;
    if (gg || gb)
        BV_KERNEL(ctx, k, norm, group_norm_grad_affine, "group_norm")
        (gg, gb, y->grad, x->data, s->mean, s->rstd, s->gg);
}

bv_tensor *bv_group_norm(bv_ctx *ctx, bv_tensor *x, int groups, bv_tensor *gamma, bv_tensor *beta, float eps) {
    char b[96];
    bv_tensor *ins[3] = {x, gamma, beta};
    const bv_kernels *k = bv_dispatch(ctx, "group_norm", 3, ins);
    bv_check_dtype(ctx, "group_norm", x, BV_F32);
    if (x->ndim < 2) bv_ctx_error(ctx, "group_norm", "expected [B, C, ...], got shape %s", bv_shape_str(x, b, sizeof b));
    const int64_t C = x->shape[1];
    if (groups <= 0 || C % groups != 0)
        bv_ctx_error(ctx, "group_norm", "%d groups do not divide the %lld channels of input %s", groups, (long long)C,
                     bv_shape_str(x, b, sizeof b));
    check_affine(ctx, "group_norm", x, gamma, C);
    check_affine(ctx, "group_norm", x, beta, C);
    gn_saved *s = bv_arena_alloc(&ctx->arena, sizeof *s);
    *s = (gn_saved){{x->shape[0], C, groups, bv_shape_numel(x->ndim - 2, x->shape + 2)}, gamma, beta, NULL, NULL};
    const size_t nstat = sizeof(float) * (size_t)(s->gg.B * s->gg.G > 0 ? s->gg.B * s->gg.G : 1);
    s->mean = bv_ctx_scratch(ctx, nstat);
    s->rstd = bv_ctx_scratch(ctx, nstat);
    bv_tensor *y = bv_new_like(ctx, x);
    BV_KERNEL(ctx, k, norm, group_norm, "group_norm")
    (y->data, s->mean, s->rstd, x->data, gamma ? gamma->data : NULL, beta ? beta->data : NULL, s->gg, eps);
    if (bv_needs_grad(ctx, 3, ins)) {
        int nin = 1;
        if (gamma) ins[nin++] = gamma;
        if (beta) ins[nin++] = beta;
        bv_node *node = bv_record(ctx, BV_OP_GROUP_NORM, gn_backward, nin, ins, 1, &y);
        node->saved = s;
        node->iattr[0] = groups;
        node->fattr[0] = eps;
    }
    return y;
}

/* ------------------------------------------------------------------------------------------ */
/* softmax / log_softmax over any dim (max subtracted first)                                    */

static void softmax_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    if (!x->requires_grad) return;
    ngeom g = {n->iattr[0], n->iattr[1], n->iattr[2]};
    const bv_kernels *k = bv_ctx_kernels(ctx);
    BV_KERNEL(ctx, k, norm, softmax_grad, bv_op_name(n->op))(bv_grad(ctx, x), y->grad, y->data, g, (int)n->iattr[3]);
}

static bv_tensor *softmax_any(bv_ctx *ctx, bv_op op, const char *name, bv_tensor *x, int dim, int log_out,
                              int inplace) {
    const bv_kernels *k = bv_dispatch(ctx, name, 1, &x);
    bv_check_dtype(ctx, name, x, BV_F32);
    ngeom g = geom_at(x, norm_dim(ctx, name, x, dim));
    /* the backward rule reads the output only: x may go once its producer allows it */
    bv_tensor *y = inplace && bv_needs_grad(ctx, 1, &x) ? bv_inplace_alias(ctx, x) : NULL;
    if (!y) y = bv_new_like(ctx, x);
    BV_KERNEL(ctx, k, norm, softmax, name)(y->data, x->data, g, log_out);
    if (bv_needs_grad(ctx, 1, &x)) {
        bv_node *node = bv_record(ctx, op, softmax_backward, 1, &x, 1, &y);
        node->iattr[0] = g.outer;
        node->iattr[1] = g.n;
        node->iattr[2] = g.inner;
        node->iattr[3] = log_out;
    }
    return y;
}

bv_tensor *bv_softmax(bv_ctx *ctx, bv_tensor *x, int dim) {
    return softmax_any(ctx, BV_OP_SOFTMAX, "softmax", x, dim, 0, 0);
}
bv_tensor *bv_softmax_(bv_ctx *ctx, bv_tensor *x, int dim) {
    return softmax_any(ctx, BV_OP_SOFTMAX, "softmax", x, dim, 0, 1);
}
bv_tensor *bv_log_softmax(bv_ctx *ctx, bv_tensor *x, int dim) {
    return softmax_any(ctx, BV_OP_LOG_SOFTMAX, "log_softmax", x, dim, 1, 0);
}
