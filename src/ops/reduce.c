/* reduce.c - sum, mean and std over everything or over one dim: constructors and backward rules.
 * Kernels: the device's reduce slots (cpu/reduce.c). Backward rules ACCUMULATE (+=) into input
 * grads.
 *
 * A reduction over dim d views the input as [outer, n, inner] (outer = dims before d, inner =
 * dims after it) and produces [outer, inner]; BV_ALL_DIMS is the case outer = inner = 1. */
#include <math.h>

#include "dispatch.h"
#include "ops.h"

typedef bv_axis_geom rgeom;

/* Resolve dim (negative counts from the end, BV_ALL_DIMS = everything) and build the output shape. */
static rgeom reduce_geom(bv_ctx *ctx, const char *op, const bv_tensor *a, int dim, int keepdim, int *out_nd,
                         int64_t *out_shape) {
    rgeom g = {1, a->numel, 1};
    if (dim == BV_ALL_DIMS) {
        *out_nd = keepdim ? a->ndim : 0;
        for (int i = 0; i < *out_nd; i++) out_shape[i] = 1;
        return g;
    }
    int d = dim < 0 ? dim + a->ndim : dim;
    if (d < 0 || d >= a->ndim) {
        char b[96];
        bv_ctx_error(ctx, op, "dim %d out of range for shape %s", dim, bv_shape_str(a, b, sizeof b));
    }
    g.outer = bv_shape_numel(d, a->shape);
    g.n = a->shape[d];
    g.inner = bv_shape_numel(a->ndim - d - 1, a->shape + d + 1);
    int k = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (i != d) out_shape[k++] = a->shape[i];
        else if (keepdim) out_shape[k++] = 1;
    }
    *out_nd = k;
    return g;
}

/* iattr: 0 outer, 1 n, 2 inner; fattr[0]: scale (1 for sum, 1/n for mean) */
static void sum_backward(bv_ctx *ctx, bv_node *nd) {
    bv_tensor *x = nd->in[0], *y = nd->out[0];
    if (!x->requires_grad) return;
    rgeom g = {nd->iattr[0], nd->iattr[1], nd->iattr[2]};
    const bv_kernels *k = bv_ctx_kernels(ctx);
    BV_KERNEL(ctx, k, reduce, sum_grad, bv_op_name(nd->op))(bv_grad(ctx, x), y->grad, g, (float)nd->fattr[0]);
}

static bv_tensor *reduce_sum(bv_ctx *ctx, bv_op op, const char *name, bv_tensor *a, int dim, int keepdim, int mean) {
    const bv_kernels *k = bv_dispatch(ctx, name, 1, &a);
    bv_check_dtype(ctx, name, a, BV_F32);
    int nd;
    int64_t shape[BV_MAX_DIMS];
    rgeom g = reduce_geom(ctx, name, a, dim, keepdim, &nd, shape);
    bv_tensor *y = bv_new(ctx, BV_F32, nd, shape);
    /* mean of nothing is NaN, as torch */
    double scale = mean ? 1.0 / (double)g.n : 1.0;
    BV_KERNEL(ctx, k, reduce, sum, name)(y->data, a->data, g, scale, mean ? NAN : 0.0f);
    if (bv_needs_grad(ctx, 1, &a)) {
        bv_node *node = bv_record(ctx, op, sum_backward, 1, &a, 1, &y);
        node->iattr[0] = g.outer;
        node->iattr[1] = g.n;
        node->iattr[2] = g.inner;
        node->fattr[0] = scale;
    }
    return y;
}

bv_tensor *bv_sum(bv_ctx *ctx, bv_tensor *a) { return reduce_sum(ctx, BV_OP_SUM, "sum", a, BV_ALL_DIMS, 0, 0); }
bv_tensor *bv_mean(bv_ctx *ctx, bv_tensor *a) { return reduce_sum(ctx, BV_OP_MEAN, "mean", a, BV_ALL_DIMS, 0, 1); }
bv_tensor *bv_sum_dim(bv_ctx *ctx, bv_tensor *a, int dim, int keepdim) {
    return reduce_sum(ctx, BV_OP_SUM_DIM, "sum_dim", a, dim, keepdim, 0);
}
bv_tensor *bv_mean_dim(bv_ctx *ctx, bv_tensor *a, int dim, int keepdim) {
    return reduce_sum(ctx, BV_OP_MEAN_DIM, "mean_dim", a, dim, keepdim, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* std                                                                                          */

/* d std / d x_k = (x_k - mean) / ((n - ddof) * std): NaN where std is 0, as torch. */
static void std_backward(bv_ctx *ctx, bv_node *nd) {
    bv_tensor *x = nd->in[0], *y = nd->out[0];
    if (!x->requires_grad) return;
    rgeom g = {nd->iattr[0], nd->iattr[1], nd->iattr[2]};
    const bv_kernels *k = bv_ctx_kernels(ctx);
    BV_KERNEL(ctx, k, reduce, std_grad, "std_dim")
    (bv_grad(ctx, x), y->grad, x->data, y->data, nd->saved, g, (int)nd->iattr[3]);
}

bv_tensor *bv_std_dim(bv_ctx *ctx, bv_tensor *a, int dim, int keepdim, int unbiased) {
    const bv_kernels *k = bv_dispatch(ctx, "std_dim", 1, &a);
    bv_check_dtype(ctx, "std_dim", a, BV_F32);
    int nd;
    int64_t shape[BV_MAX_DIMS];
    rgeom g = reduce_geom(ctx, "std_dim", a, dim, keepdim, &nd, shape);
    const int ddof = unbiased ? 1 : 0;
    bv_tensor *y = bv_new(ctx, BV_F32, nd, shape);
    float *mean = bv_ctx_scratch(ctx, sizeof(float) * (size_t)(y->numel ? y->numel : 1));
    BV_KERNEL(ctx, k, reduce, std, "std_dim")(y->data, mean, a->data, g, ddof);
    if (bv_needs_grad(ctx, 1, &a)) {
        bv_node *node = bv_record(ctx, BV_OP_STD_DIM, std_backward, 1, &a, 1, &y);
        node->iattr[0] = g.outer;
        node->iattr[1] = g.n;
        node->iattr[2] = g.inner;
        node->iattr[3] = ddof;
        node->saved = mean;
    }
    return y;
}
