/* test_shape.c - shape and data-movement ops (src/ops/shape.c): every forward against a plain
 * index-loop reference (shapes big enough to reach the tiled and threaded paths), hand-computed
 * F.pad reflect values, finite-difference gradient checks of every differentiable op, and the
 * errors for bad shapes (message names the op and the shapes). */
#include <stdlib.h>
#include <string.h>

#include "../src/ops/ops.h"
#include "test.h"

#define GC_EPS 1e-3
#define GC_ATOL 1e-3
#define GC_RTOL 1e-2
#define GC_MAX 48

/* ---- plain references ---- */

static void unravel(int64_t i, int nd, const int64_t *shape, int64_t *idx) {
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
}

static int64_t ravel(int nd, const int64_t *shape, const int64_t *idx) {
    int64_t o = 0;
    for (int d = 0; d < nd; d++) o = o * shape[d] + idx[d];
    return o;
}

static int same_values(const bv_tensor *a, const bv_tensor *b) {
    if (!bv_same_shape(a, b) || a->dtype != b->dtype) return 0;
    for (int64_t i = 0; i < a->numel; i++)
        if (a->dtype == BV_F32 ? a->data[i] != b->data[i] : a->idata[i] != b->idata[i]) return 0;
    return 1;
}

static bv_tensor *ref_permute(bv_ctx *ctx, const bv_tensor *x, const int *perm) {
    int64_t shape[BV_MAX_DIMS], yi[BV_MAX_DIMS], xi[BV_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[perm[d]];
    bv_tensor *y = bv_new(ctx, x->dtype, x->ndim, shape);
    for (int64_t i = 0; i < y->numel; i++) {
        unravel(i, y->ndim, y->shape, yi);
        for (int d = 0; d < x->ndim; d++) xi[perm[d]] = yi[d];
        int64_t j = ravel(x->ndim, x->shape, xi);
        if (x->dtype == BV_F32) y->data[i] = x->data[j];
        else y->idata[i] = x->idata[j];
    }
    return y;
}

static bv_tensor *iota_i64(bv_ctx *ctx, int nd, const int64_t *shape) {
    bv_tensor *t = bv_new(ctx, BV_I64, nd, shape);
    for (int64_t i = 0; i < t->numel; i++) t->idata[i] = i * 7 - 3;
    return t;
}

/* ---- reshape ---- */

static bv_tensor *f_reshape_only(bv_ctx *ctx, bv_tensor **in, void *u) {
    return bv_reshape(ctx, in[0], BV_SHAPE(3, 8));
}

BV_TEST(shape_reshape_aliases_infers_and_grads) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 4), 1.0f);
    bv_tensor *y = bv_reshape(ctx, x, BV_SHAPE(4, -1));
    BV_CHECK(y->ndim == 2 && y->shape[0] == 4 && y->shape[1] == 6, "-1 must be inferred as 6");
    BV_CHECK(y->data == x->data, "reshape must alias the data");
    BV_CHECK(y->node && y->requires_grad, "reshape of a grad input records a node");
    bv_tensor *xi = iota_i64(ctx, BV_SHAPE(2, 6));
    bv_tensor *yi = bv_reshape(ctx, xi, BV_SHAPE(3, 4));
    BV_CHECK(yi->idata == xi->idata && !yi->node, "i64 reshape aliases, records nothing");
    bv_gradcheck(ts, "reshape", f_reshape_only, 1, &x, NULL, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
}

/* ---- permute / transpose ---- */

BV_TEST(shape_permute_transpose_match_reference) {
    bv_ctx *ctx = ts->ctx;
    /* [B, C, T] transposes of sizes that exercise tiles, chunks and threads */
    static const int64_t shapes[][3] = {{2, 300, 200}, {3, 7, 5}, {1, 1, 9}, {2, 33, 65}};
    for (int s = 0; s < 4; s++) {
        bv_tensor *x = bv_test_input(ctx, 3, shapes[s], 1.0f);
        for (int a = 0; a < 3; a++)
            for (int c = a + 1; c < 3; c++) {
                int perm[3] = {0, 1, 2};
                perm[a] = c;
                perm[c] = a;
                BV_CHECK(same_values(bv_transpose(ctx, x, a - 3, c), ref_permute(ctx, x, perm)),
                         "transpose(%d,%d) of shape #%d differs from reference", a, c, s);
            }
    }
    static const int perms[][4] = {{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}, {0, 2, 3, 1}, {2, 0, 1, 3}};
    bv_tensor *x4 = bv_test_input(ctx, BV_SHAPE(3, 4, 5, 6), 1.0f);
    bv_tensor *x4i = iota_i64(ctx, BV_SHAPE(3, 4, 5, 6));
    for (int p = 0; p < 5; p++) {
        BV_CHECK(same_values(bv_permute(ctx, x4, perms[p]), ref_permute(ctx, x4, perms[p])), "permute #%d f32", p);
        BV_CHECK(same_values(bv_permute(ctx, x4i, perms[p]), ref_permute(ctx, x4i, perms[p])), "permute #%d i64", p);
    }
}

static bv_tensor *f_transpose(bv_ctx *ctx, bv_tensor **in, void *u) { return bv_transpose(ctx, in[0], 1, 2); }
static bv_tensor *f_permute(bv_ctx *ctx, bv_tensor **in, void *u) {
    return bv_permute(ctx, in[0], (const int[]){2, 0, 3, 1});
}
static bv_tensor *f_transpose_big(bv_ctx *ctx, bv_tensor **in, void *u) { return bv_transpose(ctx, in[0], 0, 1); }

BV_TEST(shape_permute_transpose_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 5), 1.0f);
    bv_gradcheck(ts, "transpose", f_transpose, 1, &x, NULL, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
    bv_tensor *x4 = bv_test_input(ctx, BV_SHAPE(2, 3, 2, 4), 1.0f);
    bv_gradcheck(ts, "permute", f_permute, 1, &x4, NULL, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
    /* a tiled, threaded transpose: backward through the same engine in add mode */
    bv_tensor *xb = bv_test_input(ctx, BV_SHAPE(190, 180), 1.0f);
    bv_gradcheck(ts, "transpose_big", f_transpose_big, 1, &xb, NULL, GC_EPS, GC_ATOL, GC_RTOL, 8);
}

/* ---- slice / split ---- */

typedef struct {
    int dim;
    int64_t start, end, step;
} slice_args;

static bv_tensor *f_slice(bv_ctx *ctx, bv_tensor **in, void *u) {
    slice_args *a = u;
    return bv_slice(ctx, in[0], a->dim, a->start, a->end, a->step);
}

BV_TEST(shape_slice_matches_python_semantics) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(3, 10, 4), 1.0f);
    /* (start, end, step) -> python range over 10 */
    static const int64_t cases[][3] = {{2, 7, 1}, {-3, 100, 1}, {0, -1, 2}, {-100, 3, 3}, {5, 2, 1}, {1, 10, 4}, {9, 10, 5}};
    for (int c = 0; c < 7; c++) {
        int64_t st = cases[c][0], en = cases[c][1], sp = cases[c][2];
        int64_t s0 = st < 0 ? st + 10 : st, e0 = en < 0 ? en + 10 : en;
        s0 = s0 < 0 ? 0 : s0 > 10 ? 10 : s0;
        e0 = e0 < 0 ? 0 : e0 > 10 ? 10 : e0;
        bv_tensor *y = bv_slice(ctx, x, 1, st, en, sp);
        int64_t n = 0;
        for (int64_t k = s0; k < e0; k += sp) n++;
        BV_CHECK(y->shape[0] == 3 && y->shape[1] == n && y->shape[2] == 4, "case %d: length %lld, want %lld", c,
                 (long long)y->shape[1], (long long)n);
        int ok = 1;
        for (int64_t b = 0; b < 3; b++)
            for (int64_t k = 0; k < n; k++)
                for (int64_t t = 0; t < 4; t++)
                    ok &= y->data[(b * n + k) * 4 + t] == x->data[(b * 10 + s0 + k * sp) * 4 + t];
        BV_CHECK(ok, "case %d: values differ", c);
    }
    slice_args a1 = {-1, 1, 4, 2}, a2 = {1, -7, -1, 3}, a3 = {0, 1, 3, 1};
    bv_gradcheck(ts, "slice_last_step2", f_slice, 1, &x, &a1, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
    bv_gradcheck(ts, "slice_mid_neg", f_slice, 1, &x, &a2, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
    bv_gradcheck(ts, "slice_first", f_slice, 1, &x, &a3, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
    bv_tensor *xi = iota_i64(ctx, BV_SHAPE(6));
    bv_tensor *yi = bv_slice(ctx, xi, 0, 1, 6, 2);
    BV_CHECK(yi->numel == 3 && yi->idata[0] == 4 && yi->idata[2] == 32, "i64 slice");
}

typedef struct {
    int n;
    const int64_t *sizes;
} split_args;

/* the parts joined back in reverse order, so every part's backward is exercised */
static bv_tensor *f_split(bv_ctx *ctx, bv_tensor **in, void *u) {
    split_args *a = u;
    bv_tensor *parts[8], *rev[8];
    bv_split(ctx, in[0], 1, a->n, a->sizes, parts);
    for (int i = 0; i < a->n; i++) rev[i] = parts[a->n - 1 - i];
    return bv_concat(ctx, a->n, rev, 1);
}

BV_TEST(shape_split_sizes_and_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 6, 3), 1.0f);
    bv_tensor *p[3];
    bv_split(ctx, x, 1, 3, (const int64_t[]){1, 3, 2}, p);
    BV_CHECK(p[0]->shape[1] == 1 && p[1]->shape[1] == 3 && p[2]->shape[1] == 2, "given sizes");
    BV_CHECK(p[2]->data[0] == x->data[4 * 3] && p[1]->data[3 * 3] == x->data[6 * 3 + 1 * 3], "split values");
    bv_split(ctx, x, -2, 2, NULL, p);
    BV_CHECK(p[0]->shape[1] == 3 && p[1]->data[0] == x->data[9], "equal split");
    split_args a = {3, (const int64_t[]){1, 3, 2}};
    bv_gradcheck(ts, "split", f_split, 1, &x, &a, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
}

/* ---- concat ---- */

static bv_tensor *ref_concat(bv_ctx *ctx, int n, bv_tensor *const *xs, int d) {
    int64_t shape[BV_MAX_DIMS], idx[BV_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < n; i++) shape[d] += xs[i]->shape[d];
    bv_tensor *y = bv_new(ctx, BV_F32, xs[0]->ndim, shape);
    for (int64_t i = 0; i < y->numel; i++) {
        unravel(i, y->ndim, y->shape, idx);
        int k = 0;
        while (idx[d] >= xs[k]->shape[d]) idx[d] -= xs[k++]->shape[d];
        y->data[i] = xs[k]->data[ravel(y->ndim, xs[k]->shape, idx)];
    }
    return y;
}

static bv_tensor *f_concat(bv_ctx *ctx, bv_tensor **in, void *u) { return bv_concat(ctx, 3, in, *(int *)u); }

BV_TEST(shape_concat_any_dim_matches_reference_and_grads) {
    bv_ctx *ctx = ts->ctx;
    for (int d = 0; d < 3; d++) {
        int64_t s0[3] = {2, 3, 4}, s1[3] = {2, 3, 4}, s2[3] = {2, 3, 4};
        s0[d] = 1;
        s1[d] = 3;
        s2[d] = 2;
        bv_tensor *xs[3] = {bv_test_input(ctx, 3, s0, 1.0f), bv_test_input(ctx, 3, s1, 1.0f),
                            bv_test_input(ctx, 3, s2, 1.0f)};
        BV_CHECK(same_values(bv_concat(ctx, 3, xs, d), ref_concat(ctx, 3, xs, d)), "concat dim %d", d);
        int dd = d - 3; /* negative dim */
        bv_gradcheck(ts, "concat", f_concat, 3, xs, &dd, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
    }
    /* big enough for the threaded path */
    bv_tensor *big[2] = {bv_test_input(ctx, BV_SHAPE(4, 96, 100), 1.0f), bv_test_input(ctx, BV_SHAPE(4, 96, 77), 1.0f)};
    BV_CHECK(same_values(bv_concat(ctx, 2, big, 2), ref_concat(ctx, 2, big, 2)), "big concat");
    /* only inputs that require grad get one */
    bv_tensor *a = bv_test_input(ctx, BV_SHAPE(2, 3), 1.0f), *b = bv_test_input(ctx, BV_SHAPE(2, 2), 1.0f);
    b->requires_grad = false;
    bv_tensor *y = bv_concat(ctx, 2, (bv_tensor *[]){a, b}, 1);
    bv_backward(ctx, y, bv_full(ctx, BV_SHAPE(2, 5), 1.0f));
    BV_CHECK(a->grad && a->grad[5] == 1.0f && !b->grad, "grad only for inputs that require it");
}

/* ---- pad ---- */

typedef struct {
    int npad;
    int64_t pads[6];
    bv_pad_mode mode;
    float value;
} pad_args;

static bv_tensor *f_pad(bv_ctx *ctx, bv_tensor **in, void *u) {
    pad_args *a = u;
    return bv_pad(ctx, in[0], a->npad, a->pads, a->mode, a->value);
}

static int values_are(const bv_tensor *y, const float *want, int64_t n) {
    if (y->numel != n) return 0;
    for (int64_t i = 0; i < n; i++)
        if (y->data[i] != want[i]) return 0;
    return 1;
}

BV_TEST(shape_pad_values_like_torch) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *r5 = bv_from_f32(ctx, BV_SHAPE(1, 1, 5), (const float[]){0, 1, 2, 3, 4});
    /* F.pad(arange(5), (2, 3), 'reflect') and the maximal (4, 4) */
    BV_CHECK(values_are(bv_pad(ctx, r5, 2, (const int64_t[]){2, 3}, BV_PAD_REFLECT, 0),
                        (const float[]){2, 1, 0, 1, 2, 3, 4, 3, 2, 1}, 10), "reflect (2,3)");
    BV_CHECK(values_are(bv_pad(ctx, r5, 2, (const int64_t[]){4, 4}, BV_PAD_REFLECT, 0),
                        (const float[]){4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0}, 13), "reflect (4,4)");
    /* negative pads crop; reflect then mirrors about the input's own edge */
    BV_CHECK(values_are(bv_pad(ctx, r5, 2, (const int64_t[]){-3, 4}, BV_PAD_REFLECT, 0),
                        (const float[]){3, 4, 3, 2, 1, 0}, 6), "reflect (-3,4)");
    BV_CHECK(values_are(bv_pad(ctx, r5, 2, (const int64_t[]){1, -2}, BV_PAD_CONSTANT, 9),
                        (const float[]){9, 0, 1, 2}, 4), "constant (1,-2)");
    /* 2-d: last dim (1, 0), dim before (0, 1), as commons.convert_pad_shape writes it */
    bv_tensor *m = bv_from_f32(ctx, BV_SHAPE(2, 2), (const float[]){1, 2, 3, 4});
    BV_CHECK(values_are(bv_pad(ctx, m, 4, (const int64_t[]){1, 0, 0, 1}, BV_PAD_CONSTANT, 0),
                        (const float[]){0, 1, 2, 0, 3, 4, 0, 0, 0}, 9), "constant 2-d");
    bv_tensor *mi = bv_new(ctx, BV_I64, BV_SHAPE(3));
    for (int i = 0; i < 3; i++) mi->idata[i] = i + 1;
    bv_tensor *pi = bv_pad(ctx, mi, 2, (const int64_t[]){2, 1}, BV_PAD_REFLECT, 0);
    BV_CHECK(pi->dtype == BV_I64 && pi->numel == 6 && pi->idata[0] == 3 && pi->idata[5] == 2, "i64 reflect");
}

/* A 2-d / 3-d reflect pad equals 1-d reflect pads applied one dim at a time. */
static bv_tensor *pad_by_dims(bv_ctx *ctx, bv_tensor *x, int npad, const int64_t *pads, bv_pad_mode mode) {
    for (int i = 0; i < npad / 2; i++) {
        int d = x->ndim - 1 - i;
        bv_tensor *t = bv_transpose(ctx, x, d, -1);
        t = bv_pad(ctx, t, 2, pads + 2 * i, mode, 0.5f);
        x = bv_transpose(ctx, t, d, -1);
    }
    return x;
}

BV_TEST(shape_pad_multi_dim_is_separable) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x4 = bv_test_input(ctx, BV_SHAPE(2, 3, 5, 6), 1.0f);
    bv_tensor *x5 = bv_test_input(ctx, BV_SHAPE(2, 2, 4, 3, 5), 1.0f);
    const int64_t p2[] = {5, 2, 1, 4}, p3[] = {4, -1, 2, 2, -1, 3}, pc[] = {-2, 3, 1, -3, 2, 0};
    BV_CHECK(same_values(bv_pad(ctx, x4, 4, p2, BV_PAD_REFLECT, 0), pad_by_dims(ctx, x4, 4, p2, BV_PAD_REFLECT)),
             "2-d reflect");
    BV_CHECK(same_values(bv_pad(ctx, x5, 6, p3, BV_PAD_REFLECT, 0), pad_by_dims(ctx, x5, 6, p3, BV_PAD_REFLECT)),
             "3-d reflect");
    BV_CHECK(same_values(bv_pad(ctx, x5, 6, pc, BV_PAD_CONSTANT, 0.5f), pad_by_dims(ctx, x5, 6, pc, BV_PAD_CONSTANT)),
             "3-d constant with crops");
    /* large 1-d reflect of [B, C, T] (threaded path) against the hand formula */
    bv_tensor *xb = bv_test_input(ctx, BV_SHAPE(4, 8, 1200), 1.0f);
    bv_tensor *yb = bv_pad(ctx, xb, 2, (const int64_t[]){300, 1199}, BV_PAD_REFLECT, 0);
    int ok = yb->shape[2] == 2699;
    for (int64_t r = 0; ok && r < 32; r++)
        for (int64_t j = 0; j < 2699; j++) {
            int64_t i = j < 300 ? 300 - j : j < 1500 ? j - 300 : 2 * 1199 - (j - 300);
            ok &= yb->data[r * 2699 + j] == xb->data[r * 1200 + i];
        }
    BV_CHECK(ok, "large reflect values");
}

BV_TEST(shape_pad_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x3 = bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f);
    bv_tensor *x4 = bv_test_input(ctx, BV_SHAPE(1, 2, 4, 5), 1.0f);
    bv_tensor *x5 = bv_test_input(ctx, BV_SHAPE(1, 2, 3, 4, 3), 1.0f);
    pad_args cases[] = {
        {2, {5, 5}, BV_PAD_REFLECT, 0},          /* up to size-1 on both sides: folds twice */
        {2, {2, 3}, BV_PAD_REFLECT, 0},
        {2, {-2, 4}, BV_PAD_REFLECT, 0},
        {2, {3, -2}, BV_PAD_CONSTANT, 1.5f},
        {4, {1, 2, 2, 0}, BV_PAD_CONSTANT, 0},
    };
    const char *names[] = {"reflect_max", "reflect", "reflect_crop", "constant_crop", "constant_2d"};
    for (int i = 0; i < 5; i++) bv_gradcheck(ts, names[i], f_pad, 1, &x3, &cases[i], GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
    pad_args r2 = {4, {4, 3, 3, 2}, BV_PAD_REFLECT, 0}, r3 = {6, {2, 2, 3, -1, 2, 1}, BV_PAD_REFLECT, 0};
    bv_gradcheck(ts, "reflect_2d", f_pad, 1, &x4, &r2, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
    bv_gradcheck(ts, "reflect_3d", f_pad, 1, &x5, &r3, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
}

/* ---- flip / expand / cumsum / masked_fill / copy ---- */

static bv_tensor *f_flip(bv_ctx *ctx, bv_tensor **in, void *u) { return bv_flip(ctx, in[0], *(int *)u); }
static bv_tensor *f_expand(bv_ctx *ctx, bv_tensor **in, void *u) {
    return bv_expand(ctx, in[0], BV_SHAPE(2, 3, 5, -1));
}
static bv_tensor *f_cumsum(bv_ctx *ctx, bv_tensor **in, void *u) { return bv_cumsum(ctx, in[0], *(int *)u); }
static bv_tensor *f_masked_fill(bv_ctx *ctx, bv_tensor **in, void *u) {
    return bv_masked_fill(ctx, in[0], (bv_tensor *)u, -1e4f);
}
static bv_tensor *f_copy(bv_ctx *ctx, bv_tensor **in, void *u) { return bv_copy(ctx, in[0]); }

BV_TEST(shape_flip_expand_cumsum_forward) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(3, 4, 5), 1.0f);
    int64_t idx[3];
    for (int d = 0; d < 3; d++) {
        bv_tensor *y = bv_flip(ctx, x, d);
        int ok = 1;
        for (int64_t i = 0; i < x->numel; i++) {
            unravel(i, 3, x->shape, idx);
            idx[d] = x->shape[d] - 1 - idx[d];
            ok &= y->data[i] == x->data[ravel(3, x->shape, idx)];
        }
        BV_CHECK(ok, "flip dim %d", d);
    }
    bv_tensor *s = bv_test_input(ctx, BV_SHAPE(3, 1, 4), 1.0f);
    bv_tensor *e = bv_expand(ctx, s, BV_SHAPE(2, 3, 5, 4));
    int ok = e->shape[0] == 2 && e->shape[2] == 5;
    for (int64_t i = 0; ok && i < e->numel; i++) {
        int64_t j[4];
        unravel(i, 4, e->shape, j);
        ok &= e->data[i] == s->data[j[1] * 4 + j[3]];
    }
    BV_CHECK(ok, "expand values");
    bv_tensor *c = bv_cumsum(ctx, x, 1);
    ok = 1;
    for (int64_t b = 0; b < 3; b++)
        for (int64_t t = 0; t < 5; t++) {
            double acc = 0;
            for (int64_t k = 0; k < 4; k++) {
                acc += x->data[(b * 4 + k) * 5 + t];
                ok &= c->data[(b * 4 + k) * 5 + t] == (float)acc;
            }
        }
    BV_CHECK(ok, "cumsum dim 1");
}

BV_TEST(shape_flip_expand_cumsum_copy_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 4), 1.0f);
    for (int d = -3; d < 3; d += 2) {
        bv_gradcheck(ts, "flip", f_flip, 1, &x, &d, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
        bv_gradcheck(ts, "cumsum", f_cumsum, 1, &x, &d, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
    }
    bv_tensor *s = bv_test_input(ctx, BV_SHAPE(3, 1, 4), 1.0f);
    bv_gradcheck(ts, "expand", f_expand, 1, &s, NULL, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
    bv_gradcheck(ts, "copy", f_copy, 1, &x, NULL, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
}

BV_TEST(shape_masked_fill_broadcast_f32_i64) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 5), 1.0f);
    bv_tensor *mf = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 1, 5)); /* [B, 1, T] */
    mf->data[1] = mf->data[7] = 1.0f;
    bv_tensor *mi = bv_zeros(ctx, BV_I64, BV_SHAPE(5)); /* [T] */
    mi->idata[4] = 1;
    bv_tensor *yf = bv_masked_fill(ctx, x, mf, -1e4f), *yi = bv_masked_fill(ctx, x, mi, 3.0f);
    int okf = 1, oki = 1;
    for (int64_t b = 0; b < 2; b++)
        for (int64_t c = 0; c < 3; c++)
            for (int64_t t = 0; t < 5; t++) {
                int64_t i = (b * 3 + c) * 5 + t;
                okf &= yf->data[i] == (mf->data[b * 5 + t] != 0 ? -1e4f : x->data[i]);
                oki &= yi->data[i] == (t == 4 ? 3.0f : x->data[i]);
            }
    BV_CHECK(okf && oki, "masked_fill values (f32 %d, i64 %d)", okf, oki);
    bv_gradcheck(ts, "masked_fill_f32", f_masked_fill, 1, &x, mf, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
    bv_gradcheck(ts, "masked_fill_i64", f_masked_fill, 1, &x, mi, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
}

static bv_tensor *f_masked_fill_zero(bv_ctx *ctx, bv_tensor **in, void *u) {
    return bv_masked_fill_zero(ctx, in[0], (bv_tensor *)u, -1e4f);
}

/* masked_fill_zero fills where the mask IS zero: the same as masked_fill with the complement mask. */
BV_TEST(shape_masked_fill_zero_is_masked_fill_of_complement) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 5), 1.0f);
    bv_tensor *m = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 1, 5)), *mc = bv_full(ctx, BV_SHAPE(2, 1, 5), 1.0f);
    m->data[1] = m->data[7] = m->data[8] = 1.0f;
    mc->data[1] = mc->data[7] = mc->data[8] = 0.0f;
    bv_tensor *a = bv_masked_fill_zero(ctx, x, m, -1e4f), *b = bv_masked_fill(ctx, x, mc, -1e4f);
    int ok = 1;
    for (int64_t i = 0; i < x->numel; i++) ok &= a->data[i] == b->data[i];
    BV_CHECK(ok, "%s", "masked_fill_zero != masked_fill(complement)");
    bv_tensor *mi = bv_zeros(ctx, BV_I64, BV_SHAPE(5));
    mi->idata[0] = mi->idata[3] = 2;
    bv_tensor *c = bv_masked_fill_zero(ctx, x, mi, 7.0f);
    ok = 1;
    for (int64_t i = 0; i < x->numel; i++) ok &= c->data[i] == (i % 5 == 0 || i % 5 == 3 ? x->data[i] : 7.0f);
    BV_CHECK(ok, "%s", "masked_fill_zero with an i64 mask");
    bv_gradcheck(ts, "masked_fill_zero", f_masked_fill_zero, 1, &x, m, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
}

/* ---- slice_segments, casts ---- */

static bv_tensor *f_slice_segments(bv_ctx *ctx, bv_tensor **in, void *u) {
    return bv_slice_segments(ctx, in[0], (bv_tensor *)u, 3);
}

BV_TEST(shape_slice_segments_forward_and_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(3, 2, 7), 1.0f);
    bv_tensor *ids = bv_new(ctx, BV_I64, BV_SHAPE(3));
    ids->idata[0] = 0;
    ids->idata[1] = 4;
    ids->idata[2] = 2;
    bv_tensor *y = bv_slice_segments(ctx, x, ids, 3);
    int ok = y->shape[2] == 3;
    for (int64_t b = 0; b < 3; b++)
        for (int64_t c = 0; c < 2; c++)
            for (int64_t s = 0; s < 3; s++) ok &= y->data[(b * 2 + c) * 3 + s] == x->data[(b * 2 + c) * 7 + ids->idata[b] + s];
    BV_CHECK(ok, "slice_segments values");
    bv_gradcheck(ts, "slice_segments", f_slice_segments, 1, &x, ids, GC_EPS, GC_ATOL, GC_RTOL, GC_MAX);
}

BV_TEST(shape_casts_truncate_and_keep_values) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *f = bv_from_f32(ctx, BV_SHAPE(5), (const float[]){2.9f, -2.9f, 0.0f, 7.0f, NAN});
    bv_tensor *i = bv_to_i64(ctx, f);
    BV_CHECK(i->dtype == BV_I64 && i->idata[0] == 2 && i->idata[1] == -2 && i->idata[3] == 7 && i->idata[4] == INT64_MIN,
             "to_i64 truncates toward zero");
    bv_tensor *b = bv_to_f32(ctx, i);
    BV_CHECK(b->dtype == BV_F32 && b->data[1] == -2.0f && !b->requires_grad, "to_f32");
    BV_CHECK(bv_to_f32(ctx, f) == f && bv_to_i64(ctx, i) == i, "same dtype returns the tensor itself");
}

/* ---- errors name the op and the shapes ---- */

BV_TEST(shape_errors_name_op_and_shapes) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 4), 1.0f);
    bv_tensor *w = bv_test_input(ctx, BV_SHAPE(2, 5, 4), 1.0f);
    bv_tensor *q = bv_test_input(ctx, BV_SHAPE(3, 3, 4), 1.0f);
    int r;
    r = BV_EXPECT_ERROR(ctx, msg, bv_reshape(ctx, x, BV_SHAPE(5, 5)));
    BV_CHECK(r && strstr(msg, "reshape") && strstr(msg, "[2, 3, 4]") && strstr(msg, "[5, 5]"), "reshape: %s", msg);
    r = BV_EXPECT_ERROR(ctx, msg, bv_reshape(ctx, x, BV_SHAPE(5, -1)));
    BV_CHECK(r && strstr(msg, "reshape") && strstr(msg, "[2, 3, 4]"), "reshape -1: %s", msg);
    r = BV_EXPECT_ERROR(ctx, msg, bv_transpose(ctx, x, 0, 3));
    BV_CHECK(r && strstr(msg, "transpose") && strstr(msg, "[2, 3, 4]"), "transpose: %s", msg);
    r = BV_EXPECT_ERROR(ctx, msg, bv_permute(ctx, x, (const int[]){0, 0, 1}));
    BV_CHECK(r && strstr(msg, "permute") && strstr(msg, "[2, 3, 4]"), "permute: %s", msg);
    r = BV_EXPECT_ERROR(ctx, msg, bv_slice(ctx, x, 1, 0, 2, 0));
    BV_CHECK(r && strstr(msg, "slice") && strstr(msg, "[2, 3, 4]"), "slice: %s", msg);
    r = BV_EXPECT_ERROR(ctx, msg, bv_concat(ctx, 2, (bv_tensor *[]){x, w}, 2));
    BV_CHECK(r && strstr(msg, "concat") && strstr(msg, "[2, 3, 4]") && strstr(msg, "[2, 5, 4]"), "concat: %s", msg);
    bv_tensor *parts[2];
    r = BV_EXPECT_ERROR(ctx, msg, bv_split(ctx, x, 1, 2, (const int64_t[]){1, 1}, parts));
    BV_CHECK(r && strstr(msg, "split") && strstr(msg, "[2, 3, 4]"), "split: %s", msg);
    r = BV_EXPECT_ERROR(ctx, msg, bv_pad(ctx, x, 2, (const int64_t[]){4, 0}, BV_PAD_REFLECT, 0));
    BV_CHECK(r && strstr(msg, "pad") && strstr(msg, "[2, 3, 4]"), "pad reflect: %s", msg);
    r = BV_EXPECT_ERROR(ctx, msg, bv_pad(ctx, x, 8, (const int64_t[]){0, 0, 0, 0, 0, 0, 0, 0}, BV_PAD_CONSTANT, 0));
    BV_CHECK(r && strstr(msg, "pad") && strstr(msg, "[2, 3, 4]"), "pad count: %s", msg);
    r = BV_EXPECT_ERROR(ctx, msg, bv_expand(ctx, x, BV_SHAPE(2, 6, 4)));
    BV_CHECK(r && strstr(msg, "expand") && strstr(msg, "[2, 3, 4]") && strstr(msg, "[2, 6, 4]"), "expand: %s", msg);
    r = BV_EXPECT_ERROR(ctx, msg, bv_masked_fill(ctx, x, q, 0));
    BV_CHECK(r && strstr(msg, "masked_fill") && strstr(msg, "[2, 3, 4]") && strstr(msg, "[3, 3, 4]"), "masked_fill: %s",
             msg);
    bv_tensor *ids = bv_zeros(ctx, BV_I64, BV_SHAPE(2));
    ids->idata[1] = 2;
    r = BV_EXPECT_ERROR(ctx, msg, bv_slice_segments(ctx, x, ids, 3));
    BV_CHECK(r && strstr(msg, "slice_segments") && strstr(msg, "[2, 3, 4]") && strstr(msg, "[2]"), "segments: %s", msg);
    bv_tensor *ids3 = bv_zeros(ctx, BV_I64, BV_SHAPE(3));
    r = BV_EXPECT_ERROR(ctx, msg, bv_slice_segments(ctx, x, ids3, 2));
    BV_CHECK(r && strstr(msg, "slice_segments") && strstr(msg, "[2, 3, 4]") && strstr(msg, "[3]"), "segments B: %s", msg);
    r = BV_EXPECT_ERROR(ctx, msg, bv_cumsum(ctx, x, 3));
    BV_CHECK(r && strstr(msg, "cumsum") && strstr(msg, "[2, 3, 4]"), "cumsum: %s", msg);
}
