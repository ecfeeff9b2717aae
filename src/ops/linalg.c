/* linalg.c - matmul, nn.Linear and nn.Embedding, forward and backward. Backward functions
 * ACCUMULATE (+=) into input grads (beta = 1 in every backward GEMM).
 *
 * All products go through OpenBLAS's cblas_sgemm (row-major). A batched matmul whose matrices are
 * small runs its batch in an OpenMP loop (OpenBLAS then runs single-threaded inside); large ones
 * let OpenBLAS thread each product. A matmul with a shared 2-d right operand is one GEMM over the
 * flattened batch. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "ops.h"

/* Below this many multiply-adds per matrix product the batch, not the product, is threaded, and
 * only when the whole batch is worth a parallel region. */
#define SMALL_GEMM (64 * 64 * 64)
#define PAR_MIN_FLOPS (1 << 16)
#define THREAD_BATCH(batch, M, N, K) ((batch) > 1 && (M) * (N) * (K) < SMALL_GEMM && (batch) * (M) * (N) * (K) >= PAR_MIN_FLOPS)

static void check_blas_int(bv_ctx *ctx, const char *op, int64_t v) {
    if (v > INT_MAX) bv_ctx_error(ctx, op, "dimension %lld exceeds the BLAS int range", (long long)v);
}

/* C[M,N] (+)= op(A) op(B); ta/tb: whether A is stored [K,M] / B stored [N,K]. */
static void gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A, const float *B, float beta,
                 float *C) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        if (beta == 0.0f) memset(C, 0, sizeof(float) * (size_t)(M * N));
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                (int)K, 1.0f, A, ta ? (int)M : (int)K, B, tb ? (int)K : (int)N, beta, C, (int)N);
}

/* ------------------------------------------------------------------------------------------ */
/* matmul                                                                                       */

/* iattr: 0 batch, 1 M, 2 K, 3 N, 4 shared (b is 2-d) */
/* Batch item i of the backward products: ga += g b^T, gb += a^T g. */
static void matmul_backward_one(const bv_tensor *a, const bv_tensor *b, const float *g, float *ga, float *gb, int64_t i,
                                int64_t M, int64_t K, int64_t N) {
    const float *gi = g + i * M * N;
    if (ga) gemm(0, 1, M, K, N, gi, b->data + i * K * N, 1.0f, ga + i * M * K);
    if (gb) gemm(1, 0, K, N, M, a->data + i * M * K, gi, 1.0f, gb + i * K * N);
}

static void matmul_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *a = n->in[0], *b = n->in[1], *out = n->out[0];
    const int64_t batch = n->iattr[0], M = n->iattr[1], K = n->iattr[2], N = n->iattr[3];
    const float *g = out->grad; /* [batch, M, N] */
    if (n->iattr[4]) { /* b shared: the batch folds into M */
        if (a->requires_grad) gemm(0, 1, batch * M, K, N, g, b->data, 1.0f, bv_grad(ctx, a));
        if (b->requires_grad) gemm(1, 0, K, N, batch * M, a->data, g, 1.0f, bv_grad(ctx, b));
        return;
    }
    float *ga = a->requires_grad ? bv_grad(ctx, a) : NULL;
    float *gb = b->requires_grad ? bv_grad(ctx, b) : NULL;
    /* A plain `if`, not OpenMP's if clause: a one-thread parallel region still makes OpenBLAS spawn
     * fresh threads inside it on every call. */
    if (THREAD_BATCH(batch, M, N, K)) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < batch; i++) matmul_backward_one(a, b, g, ga, gb, i, M, K, N);
    } else {
        for (int64_t i = 0; i < batch; i++) matmul_backward_one(a, b, g, ga, gb, i, M, K, N);
    }
}

bv_tensor *bv_matmul(bv_ctx *ctx, bv_tensor *a, bv_tensor *b) {
    char x[96], y[96];
    bv_check_cpu(ctx, "matmul", a);
    bv_check_cpu(ctx, "matmul", b);
    if (a->dtype != BV_F32 || b->dtype != BV_F32)
        bv_ctx_error(ctx, "matmul", "expected f32 inputs, got %s %s and %s %s", bv_dtype_name(a->dtype),
                     bv_shape_str(a, x, sizeof x), bv_dtype_name(b->dtype), bv_shape_str(b, y, sizeof y));
    int ok = a->ndim >= 2 && b->ndim >= 2 && a->shape[a->ndim - 1] == b->shape[b->ndim - 2];
    int shared = b->ndim == 2;
    if (ok && !shared) {
        ok = a->ndim == b->ndim;
        for (int i = 0; ok && i < a->ndim - 2; i++) ok = a->shape[i] == b->shape[i];
    }
    if (!ok)
        bv_ctx_error(ctx, "matmul", "cannot multiply %s by %s (need [..., M, K] @ [..., K, N] with equal batch "
                     "dims, or a 2-d right operand)", bv_shape_str(a, x, sizeof x), bv_shape_str(b, y, sizeof y));
    const int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
    const int64_t batch = bv_shape_numel(a->ndim - 2, a->shape);
    check_blas_int(ctx, "matmul", batch * M);
    check_blas_int(ctx, "matmul", K);
    check_blas_int(ctx, "matmul", N);
    int64_t shape[BV_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = N;
    bv_tensor *out = bv_new(ctx, BV_F32, a->ndim, shape); /* [..., M, N] */
    if (shared) {
        gemm(0, 0, batch * M, N, K, a->data, b->data, 0.0f, out->data);
    } else {
        const int par = THREAD_BATCH(batch, M, N, K); /* plain if: see matmul_backward */
        if (par) {
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < batch; i++)
                gemm(0, 0, M, N, K, a->data + i * M * K, b->data + i * K * N, 0.0f, out->data + i * M * N);
        } else {
            for (int64_t i = 0; i < batch; i++)
                gemm(0, 0, M, N, K, a->data + i * M * K, b->data + i * K * N, 0.0f, out->data + i * M * N);
        }
    }
    bv_tensor *ins[2] = {a, b};
    if (bv_needs_grad(ctx, 2, ins)) {
        bv_node *node = bv_record(ctx, BV_OP_MATMUL, matmul_backward, 2, ins, 1, &out);
        node->iattr[0] = batch;
        node->iattr[1] = M;
        node->iattr[2] = K;
        node->iattr[3] = N;
        node->iattr[4] = shared;
    }
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* linear                                                                                       */

/* iattr: 0 rows, 1 in, 2 out */
static void linear_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL, *y = n->out[0];
    const int64_t rows = n->iattr[0], Din = n->iattr[1], Dout = n->iattr[2];
    const float *g = y->grad; /* [rows, Dout] */
    if (x->requires_grad) gemm(0, 0, rows, Din, Dout, g, w->data, 1.0f, bv_grad(ctx, x));   /* g W */
    if (w->requires_grad) gemm(1, 0, Dout, Din, rows, g, x->data, 1.0f, bv_grad(ctx, w));   /* g^T x */
    if (b && b->requires_grad) {
        float *gb = bv_grad(ctx, b);
#pragma omp parallel for schedule(static) if (rows * Dout >= 32768)
        for (int64_t o = 0; o < Dout; o++) {
            double acc = 0.0;
            for (int64_t r = 0; r < rows; r++) acc += g[r * Dout + o];
            gb[o] += (float)acc;
        }
    }
}

bv_tensor *bv_linear(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b) {
    char s1[96], s2[96], s3[96];
    bv_check_cpu(ctx, "linear", x);
    bv_check_cpu(ctx, "linear", w);
    bv_check_dtype(ctx, "linear", x, BV_F32);
    bv_check_dtype(ctx, "linear", w, BV_F32);
    if (x->ndim < 1 || w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1])
        bv_ctx_error(ctx, "linear", "input %s does not match weight %s (need [..., in] and [out, in])",
                     bv_shape_str(x, s1, sizeof s1), bv_shape_str(w, s2, sizeof s2));
    const int64_t Din = w->shape[1], Dout = w->shape[0], rows = bv_shape_numel(x->ndim - 1, x->shape);
    if (b) {
        bv_check_cpu(ctx, "linear", b);
        bv_check_dtype(ctx, "linear", b, BV_F32);
        if (b->ndim != 1 || b->shape[0] != Dout)
            bv_ctx_error(ctx, "linear", "bias %s does not match weight %s (need [out])",
                         bv_shape_str(b, s3, sizeof s3), bv_shape_str(w, s2, sizeof s2));
    }
    check_blas_int(ctx, "linear", rows);
    int64_t shape[BV_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = Dout;
    bv_tensor *y = bv_new(ctx, BV_F32, x->ndim, shape); /* [..., out] */
    if (b) { /* start from the bias and let the GEMM add x W^T onto it */
        for (int64_t r = 0; r < rows; r++) memcpy(y->data + r * Dout, b->data, sizeof(float) * (size_t)Dout);
    }
    gemm(0, 1, rows, Dout, Din, x->data, w->data, b ? 1.0f : 0.0f, y->data);
    bv_tensor *ins[3] = {x, w, b};
    const int n_in = b ? 3 : 2;
    if (bv_needs_grad(ctx, n_in, ins)) {
        bv_node *node = bv_record(ctx, BV_OP_LINEAR, linear_backward, n_in, ins, 1, &y);
        node->iattr[0] = rows;
        node->iattr[1] = Din;
        node->iattr[2] = Dout;
    }
    return y;
}

/* ------------------------------------------------------------------------------------------ */
/* embedding                                                                                    */

static void embedding_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *w = n->in[0], *ids = n->in[1], *y = n->out[0];
    if (!w->requires_grad) return;
    const int64_t D = w->shape[1];
    float *gw = bv_grad(ctx, w);
    /* serial over ids: repeated ids add into the same row */
    for (int64_t i = 0; i < ids->numel; i++) {
        float *row = gw + ids->idata[i] * D;
        const float *g = y->grad + i * D;
        for (int64_t d = 0; d < D; d++) row[d] += g[d];
    }
}

bv_tensor *bv_embedding(bv_ctx *ctx, bv_tensor *weight, bv_tensor *ids) {
    char s1[96], s2[96];
    bv_check_cpu(ctx, "embedding", weight);
    bv_check_cpu(ctx, "embedding", ids);
    bv_check_dtype(ctx, "embedding", weight, BV_F32);
    bv_check_dtype(ctx, "embedding", ids, BV_I64);
    if (weight->ndim != 2 || ids->ndim + 1 > BV_MAX_DIMS)
        bv_ctx_error(ctx, "embedding", "need weight [V, D] and ids of at most %d dims, got weight %s and ids %s",
                     BV_MAX_DIMS - 1, bv_shape_str(weight, s1, sizeof s1), bv_shape_str(ids, s2, sizeof s2));
    const int64_t V = weight->shape[0], D = weight->shape[1];
    for (int64_t i = 0; i < ids->numel; i++)
        if (ids->idata[i] < 0 || ids->idata[i] >= V)
            bv_ctx_error(ctx, "embedding", "id %lld (at flat index %lld of ids %s) is out of range for vocab size %lld",
                         (long long)ids->idata[i], (long long)i, bv_shape_str(ids, s2, sizeof s2), (long long)V);
    int64_t shape[BV_MAX_DIMS];
    memcpy(shape, ids->shape, sizeof(int64_t) * (size_t)ids->ndim);
    shape[ids->ndim] = D;
    bv_tensor *y = bv_new(ctx, BV_F32, ids->ndim + 1, shape); /* [..., D] */
    for (int64_t i = 0; i < ids->numel; i++)
        memcpy(y->data + i * D, weight->data + ids->idata[i] * D, sizeof(float) * (size_t)D);
    bv_tensor *ins[2] = {weight, ids};
    if (bv_needs_grad(ctx, 2, ins)) bv_record(ctx, BV_OP_EMBEDDING, embedding_backward, 2, ins, 1, &y);
    return y;
}
