/* reduce.c - sum, mean and std over everything or over one dim, forward and backward. Backward
 * functions ACCUMULATE (+=) into input grads.
 *
 * A reduction over dim d views the input as [outer, n, inner] (outer = dims before d, inner =
 * dims after it) and produces [outer, inner]; BV_ALL_DIMS is the case outer = inner = 1. Sums
 * accumulate in double so long reductions (a loss over a whole batch) do not lose digits. */
#include <string.h>

#include "ops.h"

#define PAR_MIN 32768
#define IBLOCK 256 /* inner-dim block: contiguous rows are summed into a small double buffer */

typedef struct {
    int64_t outer, n, inner;
} rgeom;

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

/* y[o, i] = scale * sum_k x[o, k, i] */
static void sum_kernel(float *restrict y, const float *restrict x, rgeom g, double scale) {
    if (g.inner == 1 && g.outer == 1 && g.n >= PAR_MIN) { /* one long row: split it across threads */
        double acc = 0.0;
#pragma omp parallel for reduction(+ : acc) schedule(static)
        for (int64_t k = 0; k < g.n; k++) acc += x[k];
        y[0] = (float)(acc * scale);
        return;
    }
    if (g.inner == 1) {
#pragma omp parallel for schedule(static) if (g.outer * g.n >= PAR_MIN)
        for (int64_t o = 0; o < g.outer; o++) {
            double acc = 0.0;
            const float *px = x + o * g.n;
            for (int64_t k = 0; k < g.n; k++) acc += px[k];
            y[o] = (float)(acc * scale);
        }
        return;
    }
    const int64_t nblk = (g.inner + IBLOCK - 1) / IBLOCK;
#pragma omp parallel for schedule(static) if (g.outer * g.n * g.inner >= PAR_MIN)
    for (int64_t t = 0; t < g.outer * nblk; t++) {
        const int64_t o = t / nblk, i0 = (t % nblk) * IBLOCK;
        const int64_t len = g.inner - i0 < IBLOCK ? g.inner - i0 : IBLOCK;
        double acc[IBLOCK];
        for (int64_t i = 0; i < len; i++) acc[i] = 0.0;
        for (int64_t k = 0; k < g.n; k++) {
            const float *px = x + (o * g.n + k) * g.inner + i0;
            for (int64_t i = 0; i < len; i++) acc[i] += px[i];
        }
        for (int64_t i = 0; i < len; i++) y[o * g.inner + i0 + i] = (float)(acc[i] * scale);
    }
}

/* gx[o, k, i] += scale * gy[o, i] */
static void sum_backward_kernel(float *restrict gx, const float *restrict gy, rgeom g, float scale) {
#pragma omp parallel for schedule(static) if (g.outer * g.n * g.inner >= PAR_MIN)
    for (int64_t r = 0; r < g.outer * g.n; r++) {
        const int64_t o = r / g.n;
        float *pg = gx + r * g.inner;
        const float *py = gy + o * g.inner;
        for (int64_t i = 0; i < g.inner; i++) pg[i] += scale * py[i];
    }
}

/* iattr: 0 outer, 1 n, 2 inner; fattr[0]: scale (1 for sum, 1/n for mean) */
static void sum_backward(bv_ctx *ctx, bv_node *nd) {
    bv_tensor *x = nd->in[0], *y = nd->out[0];
    if (!x->requires_grad) return;
    rgeom g = {nd->iattr[0], nd->iattr[1], nd->iattr[2]};
    sum_backward_kernel(bv_grad(ctx, x), y->grad, g, (float)nd->fattr[0]);
}

static bv_tensor *reduce_sum(bv_ctx *ctx, bv_op op, const char *name, bv_tensor *a, int dim, int keepdim, int mean) {
    bv_check_cpu(ctx, name, a);
    bv_check_dtype(ctx, name, a, BV_F32);
    int nd;
    int64_t shape[BV_MAX_DIMS];
    rgeom g = reduce_geom(ctx, name, a, dim, keepdim, &nd, shape);
    bv_tensor *y = bv_new(ctx, BV_F32, nd, shape);
    /* mean of nothing is NaN, as torch */
    double scale = mean ? 1.0 / (double)g.n : 1.0;
    if (g.n == 0) {
        for (int64_t i = 0; i < y->numel; i++) y->data[i] = mean ? NAN : 0.0f;
    } else {
        sum_kernel(y->data, a->data, g, scale);
    }
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

/* y[o, i] = sqrt(sum_k (x - mean)^2 / (n - ddof)); mean[o, i] kept for backward. Two passes over
 * the data in double (not E[x^2] - E[x]^2, which cancels catastrophically). */
static void std_kernel(float *restrict y, float *restrict mean, const float *restrict x, rgeom g, int ddof) {
#pragma omp parallel for schedule(static) if (g.outer * g.n * g.inner >= PAR_MIN && g.outer * g.inner > 1)
    for (int64_t r = 0; r < g.outer * g.inner; r++) {
        const int64_t o = r / g.inner, i = r % g.inner;
        const float *px = x + o * g.n * g.inner + i;
        double s = 0.0, ss = 0.0;
        for (int64_t k = 0; k < g.n; k++) s += px[k * g.inner];
        const double m = s / (double)g.n;
        for (int64_t k = 0; k < g.n; k++) {
            const double d = px[k * g.inner] - m;
            ss += d * d;
        }
        mean[r] = (float)m;
        y[r] = (float)sqrt(ss / (double)(g.n - ddof));
    }
}

/* d std / d x_k = (x_k - mean) / ((n - ddof) * std): NaN where std is 0, as torch. */
static void std_backward(bv_ctx *ctx, bv_node *nd) {
    bv_tensor *x = nd->in[0], *y = nd->out[0];
    if (!x->requires_grad) return;
    rgeom g = {nd->iattr[0], nd->iattr[1], nd->iattr[2]};
    const float denom = (float)(g.n - nd->iattr[3]);
    const float *mean = nd->saved;
    float *gx = bv_grad(ctx, x);
#pragma omp parallel for schedule(static) if (g.outer * g.n * g.inner >= PAR_MIN)
    for (int64_t r = 0; r < g.outer * g.n; r++) {
        const int64_t o = r / g.n;
        const float *px = x->data + r * g.inner;
        float *pg = gx + r * g.inner;
        for (int64_t i = 0; i < g.inner; i++) {
            const int64_t j = o * g.inner + i;
            pg[i] += y->grad[j] * (px[i] - mean[j]) / (denom * y->data[j]);
        }
    }
}

bv_tensor *bv_std_dim(bv_ctx *ctx, bv_tensor *a, int dim, int keepdim, int unbiased) {
    bv_check_cpu(ctx, "std_dim", a);
    bv_check_dtype(ctx, "std_dim", a, BV_F32);
    int nd;
    int64_t shape[BV_MAX_DIMS];
    rgeom g = reduce_geom(ctx, "std_dim", a, dim, keepdim, &nd, shape);
    const int ddof = unbiased ? 1 : 0;
    bv_tensor *y = bv_new(ctx, BV_F32, nd, shape);
    float *mean = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(y->numel ? y->numel : 1));
    std_kernel(y->data, mean, a->data, g, ddof);
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
