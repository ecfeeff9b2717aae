/* test_linalg.c - matmul (batched, shared right operand), linear and embedding: finite-difference
 * gradients, forward values against a naive double loop (also on sizes that take the threaded
 * paths), and the shape / dtype / out-of-range errors. */
#include <stdlib.h>
#include <string.h>

#include "../src/ops/ops.h"
#include "test.h"

/* Naive [..., M, K] @ [..., K, N] in double; b may be 2-d (shared). Returns the max abs error. */
static double matmul_naive_err(const bv_tensor *a, const bv_tensor *b, const bv_tensor *out) {
    const int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
    const int64_t batch = a->numel / (M * K);
    const int shared = b->ndim == 2;
    double worst = 0;
    for (int64_t z = 0; z < batch; z++)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double acc = 0;
                for (int64_t k = 0; k < K; k++)
                    acc += (double)a->data[(z * M + i) * K + k] * b->data[(shared ? 0 : z * K * N) + k * N + j];
                worst = fmax(worst, fabs(out->data[(z * M + i) * N + j] - acc));
            }
    return worst;
}

typedef struct {
    int nda, ndb;
    int64_t a[BV_MAX_DIMS], b[BV_MAX_DIMS];
} mm_case;

static const mm_case k_mm[] = {
    {2, 2, {3, 4}, {4, 5}},
    {3, 3, {2, 3, 4}, {2, 4, 5}},
    {4, 4, {2, 2, 3, 4}, {2, 2, 4, 3}},
    {3, 2, {2, 3, 4}, {4, 5}},
    {4, 2, {2, 1, 3, 4}, {4, 2}},
};

static bv_tensor *gc_matmul(bv_ctx *ctx, bv_tensor **in, void *user) { return bv_matmul(ctx, in[0], in[1]); }

BV_TEST(linalg_matmul_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    for (size_t c = 0; c < sizeof k_mm / sizeof k_mm[0]; c++) {
        bv_tensor *in[2] = {bv_test_input(ctx, k_mm[c].nda, k_mm[c].a, 1.0f),
                            bv_test_input(ctx, k_mm[c].ndb, k_mm[c].b, 1.0f)};
        char what[32];
        snprintf(what, sizeof what, "matmul case %zu", c);
        bv_gradcheck(ts, what, gc_matmul, 2, in, NULL, 1e-3, 1e-3, 1e-2, 100);
    }
}

BV_TEST(linalg_matmul_forward_vs_naive) {
    bv_ctx *ctx = ts->ctx;
    /* small batched (threaded over the batch), large shared (one threaded GEMM), large batched */
    const mm_case big[] = {
        {3, 3, {64, 12, 10}, {64, 10, 11}},
        {3, 2, {3, 70, 64}, {64, 80}},
        {3, 3, {2, 90, 80}, {2, 80, 70}},
    };
    for (size_t c = 0; c < 3; c++) {
        bv_tensor *a = bv_test_input(ctx, big[c].nda, big[c].a, 1.0f), *b = bv_test_input(ctx, big[c].ndb, big[c].b, 1.0f);
        double err = matmul_naive_err(a, b, bv_matmul(ctx, a, b));
        BV_CHECK(err < 1e-4, "case %zu: max abs err %g", c, err);
    }
    for (size_t c = 0; c < sizeof k_mm / sizeof k_mm[0]; c++) {
        bv_tensor *a = bv_test_input(ctx, k_mm[c].nda, k_mm[c].a, 1.0f), *b = bv_test_input(ctx, k_mm[c].ndb, k_mm[c].b, 1.0f);
        bv_tensor *y = bv_matmul(ctx, a, b);
        BV_CHECK(y->ndim == a->ndim && y->shape[y->ndim - 1] == b->shape[b->ndim - 1], "output shape");
        BV_CHECK(matmul_naive_err(a, b, y) < 1e-5, "small case %zu", c);
    }
}

/* Backward of the batched-but-small path (threaded over the batch: 64 products of 12x10x11)
 * against the shared-b path: the same product written both ways must give the same grads. */
BV_TEST(linalg_matmul_batched_grads_vs_folded) {
    bv_ctx *ctx = ts->ctx;
    enum { Z = 64, M = 12, K = 10, N = 11 };
    bv_tensor *a = bv_test_input(ctx, BV_SHAPE(Z, M, K), 1.0f), *b = bv_test_input(ctx, BV_SHAPE(K, N), 1.0f);
    bv_tensor *bz = bv_new(ctx, BV_F32, BV_SHAPE(Z, K, N));
    for (int z = 0; z < Z; z++) memcpy(bz->data + z * K * N, b->data, sizeof(float) * K * N);
    bz->requires_grad = true;
    bv_tensor *g = bv_new(ctx, BV_F32, BV_SHAPE(Z, M, N));
    bv_test_randn(ctx, g, 1.0f);
    const int64_t tape0 = ctx->tape_len;
    bv_tensor *y1 = bv_matmul(ctx, a, b);
    bv_backward(ctx, y1, g);
    bv_tape_cut(ctx, tape0); /* the second backward must not replay the first product */
    float *ga = malloc(sizeof(float) * Z * M * K);
    memcpy(ga, a->grad, sizeof(float) * Z * M * K);
    a->grad = NULL;
    bv_tensor *y2 = bv_matmul(ctx, a, bz);
    bv_backward(ctx, y2, g);
    double wy = 0, wa = 0, wb = 0;
    for (int i = 0; i < Z * M * N; i++) wy = fmax(wy, fabs(y1->data[i] - y2->data[i]));
    for (int i = 0; i < Z * M * K; i++) wa = fmax(wa, fabs(ga[i] - a->grad[i]));
    for (int j = 0; j < K * N; j++) {
        double s = 0;
        for (int z = 0; z < Z; z++) s += bz->grad[z * K * N + j];
        wb = fmax(wb, fabs(s - b->grad[j]) / (1 + fabs(s)));
    }
    BV_CHECK(wy < 1e-5 && wa < 1e-5 && wb < 1e-5, "out %g, grad a %g, grad b %g", wy, wa, wb);
    free(ga);
}

BV_TEST(linalg_matmul_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *a = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 3, 4)), *b = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 5, 6));
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_matmul(ctx, a, b));
    BV_CHECK(raised && strstr(msg, "matmul") && strstr(msg, "[2, 3, 4]") && strstr(msg, "[2, 5, 6]"), "K mismatch: %s",
             raised ? msg : "(no error)");
    bv_tensor *c = bv_zeros(ctx, BV_F32, BV_SHAPE(3, 4, 5));
    raised = BV_EXPECT_ERROR(ctx, msg, bv_matmul(ctx, a, c));
    BV_CHECK(raised && strstr(msg, "matmul") && strstr(msg, "[3, 4, 5]"), "batch mismatch: %s", raised ? msg : "(no error)");
    bv_tensor *v = bv_zeros(ctx, BV_F32, BV_SHAPE(4));
    raised = BV_EXPECT_ERROR(ctx, msg, bv_matmul(ctx, a, v));
    BV_CHECK(raised && strstr(msg, "matmul") && strstr(msg, "[4]"), "1-d operand: %s", raised ? msg : "(no error)");
}

/* ---- linear ---- */

static bv_tensor *gc_linear(bv_ctx *ctx, bv_tensor **in, void *user) {
    return bv_linear(ctx, in[0], in[1], *(int *)user ? in[2] : NULL);
}

BV_TEST(linalg_linear_gradcheck_and_forward) {
    bv_ctx *ctx = ts->ctx;
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        bv_tensor *in[3] = {bv_test_input(ctx, BV_SHAPE(2, 3, 5), 1.0f), bv_test_input(ctx, BV_SHAPE(4, 5), 1.0f),
                            bv_test_input(ctx, BV_SHAPE(4), 1.0f)};
        bv_gradcheck(ts, with_bias ? "linear+bias" : "linear", gc_linear, with_bias ? 3 : 2, in, &with_bias, 1e-3,
                     1e-3, 1e-2, 100);
        bv_tensor *y = bv_linear(ctx, in[0], in[1], with_bias ? in[2] : NULL);
        BV_CHECK(y->ndim == 3 && y->shape[2] == 4, "output shape");
        double worst = 0;
        for (int r = 0; r < 6; r++)
            for (int o = 0; o < 4; o++) {
                double acc = with_bias ? in[2]->data[o] : 0;
                for (int i = 0; i < 5; i++) acc += (double)in[0]->data[r * 5 + i] * in[1]->data[o * 5 + i];
                worst = fmax(worst, fabs(y->data[r * 4 + o] - acc));
            }
        BV_CHECK(worst < 1e-5, "forward err %g", worst);
    }
}

BV_TEST(linalg_linear_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *x = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 5)), *w = bv_zeros(ctx, BV_F32, BV_SHAPE(3, 4));
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_linear(ctx, x, w, NULL));
    BV_CHECK(raised && strstr(msg, "linear") && strstr(msg, "[2, 5]") && strstr(msg, "[3, 4]"), "in mismatch: %s",
             raised ? msg : "(no error)");
    bv_tensor *w2 = bv_zeros(ctx, BV_F32, BV_SHAPE(3, 5)), *b = bv_zeros(ctx, BV_F32, BV_SHAPE(4));
    raised = BV_EXPECT_ERROR(ctx, msg, bv_linear(ctx, x, w2, b));
    BV_CHECK(raised && strstr(msg, "linear") && strstr(msg, "[4]") && strstr(msg, "[3, 5]"), "bias mismatch: %s",
             raised ? msg : "(no error)");
}

/* ---- embedding ---- */

static bv_tensor *gc_embedding(bv_ctx *ctx, bv_tensor **in, void *user) {
    return bv_embedding(ctx, in[0], (bv_tensor *)user);
}

BV_TEST(linalg_embedding_forward_and_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *w = bv_test_input(ctx, BV_SHAPE(7, 3), 1.0f);
    bv_tensor *ids = bv_new(ctx, BV_I64, BV_SHAPE(2, 4));
    const int64_t v[8] = {0, 6, 3, 3, 1, 6, 6, 2}; /* repeated ids accumulate */
    memcpy(ids->idata, v, sizeof v);
    bv_tensor *y = bv_embedding(ctx, w, ids);
    BV_CHECK(y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 4 && y->shape[2] == 3, "shape");
    int same = 1;
    for (int i = 0; i < 8; i++) same &= !memcmp(y->data + i * 3, w->data + v[i] * 3, sizeof(float) * 3);
    BV_CHECK(same, "rows must be copied from the weight");
    bv_gradcheck(ts, "embedding", gc_embedding, 1, &w, ids, 1e-3, 1e-3, 1e-2, 100);
}

BV_TEST(linalg_embedding_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *w = bv_zeros(ctx, BV_F32, BV_SHAPE(5, 2));
    bv_tensor *ids = bv_zeros(ctx, BV_I64, BV_SHAPE(3));
    ids->idata[1] = 17;
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_embedding(ctx, w, ids));
    BV_CHECK(raised && strstr(msg, "embedding") && strstr(msg, "17") && strstr(msg, "5"), "out of range: %s",
             raised ? msg : "(no error)");
    ids->idata[1] = -1;
    raised = BV_EXPECT_ERROR(ctx, msg, bv_embedding(ctx, w, ids));
    BV_CHECK(raised && strstr(msg, "-1"), "negative id: %s", raised ? msg : "(no error)");
    bv_tensor *fids = bv_zeros(ctx, BV_F32, BV_SHAPE(3));
    raised = BV_EXPECT_ERROR(ctx, msg, bv_embedding(ctx, w, fids));
    BV_CHECK(raised && strstr(msg, "embedding") && strstr(msg, "i64"), "f32 ids: %s", raised ? msg : "(no error)");
}
