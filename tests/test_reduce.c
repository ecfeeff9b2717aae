/* test_reduce.c - sum / mean / std over everything or one dim (negative dims, keepdim):
 * finite-difference gradients, forward values and output shapes against a naive double loop
 * (also on sizes that take the threaded and blocked paths), and dim / dtype errors. */
#include <stdlib.h>
#include <string.h>

#include "../src/ops/ops.h"
#include "test.h"

typedef enum { R_SUM, R_MEAN, R_STD_U, R_STD_B } rkind;

typedef struct {
    rkind k;
    int dim, keepdim;
} rcase;

static bv_tensor *apply_reduce(bv_ctx *ctx, const rcase *c, bv_tensor *x) {
    switch (c->k) {
    case R_SUM: return c->dim == BV_ALL_DIMS ? bv_sum(ctx, x) : bv_sum_dim(ctx, x, c->dim, c->keepdim);
    case R_MEAN: return c->dim == BV_ALL_DIMS ? bv_mean(ctx, x) : bv_mean_dim(ctx, x, c->dim, c->keepdim);
    case R_STD_U: return bv_std_dim(ctx, x, c->dim, c->keepdim, 1);
    default: return bv_std_dim(ctx, x, c->dim, c->keepdim, 0);
    }
}

/* Naive reduction of x [d0, d1, ...] over `dim` (or all) in double; out is [outer*inner]. */
static void naive_reduce(const rcase *c, const bv_tensor *x, double *out) {
    int d = c->dim == BV_ALL_DIMS ? -1 : (c->dim < 0 ? c->dim + x->ndim : c->dim);
    int64_t outer = d < 0 ? 1 : bv_shape_numel(d, x->shape), n = d < 0 ? x->numel : x->shape[d];
    int64_t inner = d < 0 ? 1 : bv_shape_numel(x->ndim - d - 1, x->shape + d + 1);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double s = 0, ss = 0;
            for (int64_t k = 0; k < n; k++) s += x->data[(o * n + k) * inner + i];
            double m = s / n;
            for (int64_t k = 0; k < n; k++) {
                double v = x->data[(o * n + k) * inner + i] - m;
                ss += v * v;
            }
            double r = c->k == R_SUM ? s : c->k == R_MEAN ? m : sqrt(ss / (double)(n - (c->k == R_STD_U)));
            out[o * inner + i] = r;
        }
}

static int expected_shape(const rcase *c, const bv_tensor *x, int64_t *shape) {
    if (c->dim == BV_ALL_DIMS) {
        int nd = c->keepdim && (c->k == R_STD_U || c->k == R_STD_B) ? x->ndim : 0;
        for (int i = 0; i < nd; i++) shape[i] = 1;
        return nd;
    }
    int d = c->dim < 0 ? c->dim + x->ndim : c->dim, k = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != d) shape[k++] = x->shape[i];
        else if (c->keepdim) shape[k++] = 1;
    return k;
}

static const rcase k_cases[] = {
    {R_SUM, BV_ALL_DIMS, 0}, {R_MEAN, BV_ALL_DIMS, 0}, {R_SUM, 0, 0},  {R_SUM, 1, 1},   {R_SUM, -1, 0},
    {R_SUM, -3, 1},          {R_MEAN, 2, 0},           {R_MEAN, -2, 1}, {R_MEAN, 0, 1}, {R_STD_U, 1, 0},
    {R_STD_U, -1, 1},        {R_STD_B, 0, 0},          {R_STD_B, -2, 1}, {R_STD_U, BV_ALL_DIMS, 0},
    {R_STD_B, BV_ALL_DIMS, 0}, {R_STD_U, BV_ALL_DIMS, 1},
};
#define N_CASES ((int)(sizeof k_cases / sizeof k_cases[0]))

static bv_tensor *gc_reduce(bv_ctx *ctx, bv_tensor **in, void *user) {
    return apply_reduce(ctx, (const rcase *)user, in[0]);
}

BV_TEST(reduce_gradcheck_all_kinds_and_dims) {
    bv_ctx *ctx = ts->ctx;
    for (int c = 0; c < N_CASES; c++) {
        bv_tensor *x = bv_test_input(ctx, BV_SHAPE(3, 4, 5), 1.0f);
        char what[48];
        snprintf(what, sizeof what, "reduce kind %d dim %d keep %d", k_cases[c].k, k_cases[c].dim, k_cases[c].keepdim);
        bv_gradcheck(ts, what, gc_reduce, 1, &x, (void *)&k_cases[c], 1e-3, 1e-3, 1e-2, 60);
    }
}

static void check_forward(bv_test_state *ts, const rcase *c, bv_tensor *x, double tol) {
    bv_tensor *y = apply_reduce(ts->ctx, c, x);
    int64_t shape[BV_MAX_DIMS];
    int nd = expected_shape(c, x, shape);
    int same = y->ndim == nd;
    for (int i = 0; same && i < nd; i++) same = y->shape[i] == shape[i];
    char b[96];
    BV_CHECK(same, "kind %d dim %d keepdim %d: shape %s", c->k, c->dim, c->keepdim, bv_shape_str(y, b, sizeof b));
    double *want = malloc(sizeof(double) * (size_t)y->numel);
    naive_reduce(c, x, want);
    double worst = 0;
    for (int64_t i = 0; i < y->numel; i++) worst = fmax(worst, fabs(y->data[i] - want[i]) / (1 + fabs(want[i])));
    BV_CHECK(worst <= tol, "kind %d dim %d: max rel err %g > %g", c->k, c->dim, worst, tol);
    free(want);
}

BV_TEST(reduce_forward_vs_naive) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(3, 4, 5), 1.0f);
    for (int c = 0; c < N_CASES; c++) check_forward(ts, &k_cases[c], x, 1e-6);
    /* threaded and blocked paths: a long single row, many rows, a strided middle dim with a
     * multi-block inner dim, std over a long axis with a large offset (two-pass variance) */
    bv_tensor *lng = bv_test_input(ctx, BV_SHAPE(100000), 1.0f);
    bv_tensor *rows = bv_test_input(ctx, BV_SHAPE(50, 1000), 1.0f);
    bv_tensor *mid = bv_test_input(ctx, BV_SHAPE(6, 40, 300), 1.0f);
    bv_tensor *off = bv_test_input(ctx, BV_SHAPE(4, 20000), 1.0f);
    for (int64_t i = 0; i < off->numel; i++) off->data[i] += 1000.0f;
    check_forward(ts, &(rcase){R_SUM, BV_ALL_DIMS, 0}, lng, 1e-6);
    check_forward(ts, &(rcase){R_MEAN, -1, 0}, rows, 1e-6);
    check_forward(ts, &(rcase){R_SUM, 0, 1}, rows, 1e-6);
    check_forward(ts, &(rcase){R_SUM, 1, 0}, mid, 1e-6);
    check_forward(ts, &(rcase){R_MEAN, -2, 1}, mid, 1e-6);
    check_forward(ts, &(rcase){R_STD_U, 1, 0}, mid, 1e-6);
    check_forward(ts, &(rcase){R_STD_U, -1, 0}, off, 1e-6);
    check_forward(ts, &(rcase){R_STD_B, BV_ALL_DIMS, 0}, off, 1e-6);
}

BV_TEST(reduce_large_backward_vs_closed_form) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(6, 40, 300), 1.0f);
    bv_tensor *y = bv_mean_dim(ctx, x, 1, 1); /* [6, 1, 300] */
    bv_tensor *g = bv_new_like(ctx, y);
    bv_test_randn(ctx, g, 1.0f);
    bv_backward(ctx, y, g);
    double worst = 0;
    for (int64_t o = 0; o < 6; o++)
        for (int64_t k = 0; k < 40; k++)
            for (int64_t i = 0; i < 300; i++)
                worst = fmax(worst, fabs(x->grad[(o * 40 + k) * 300 + i] - g->data[o * 300 + i] / 40.0));
    BV_CHECK(worst < 1e-7, "mean_dim grad err %g", worst);
}

BV_TEST(reduce_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *x = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 3));
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_sum_dim(ctx, x, 2, 0));
    BV_CHECK(raised && strstr(msg, "sum_dim") && strstr(msg, "[2, 3]") && strstr(msg, "2"), "dim 2: %s",
             raised ? msg : "(no error)");
    raised = BV_EXPECT_ERROR(ctx, msg, bv_mean_dim(ctx, x, -3, 0));
    BV_CHECK(raised && strstr(msg, "mean_dim") && strstr(msg, "-3"), "dim -3: %s", raised ? msg : "(no error)");
    raised = BV_EXPECT_ERROR(ctx, msg, bv_std_dim(ctx, x, 5, 0, 1));
    BV_CHECK(raised && strstr(msg, "std_dim") && strstr(msg, "[2, 3]"), "std dim 5: %s", raised ? msg : "(no error)");
    bv_tensor *ids = bv_zeros(ctx, BV_I64, BV_SHAPE(2, 3));
    raised = BV_EXPECT_ERROR(ctx, msg, bv_sum(ctx, ids));
    BV_CHECK(raised && strstr(msg, "sum") && strstr(msg, "i64"), "dtype: %s", raised ? msg : "(no error)");
}
