/* cpu/linalg.c - CPU kernels of matmul, nn.Linear and nn.Embedding, forward and gradient
 * (constructors and backward rules: ../linalg.c). Gradient kernels ACCUMULATE (+=): beta = 1 in
 * every backward GEMM.
 *
 * All fp32 products go through oneDNN's sgemm (row-major; gemm.h says why not OpenBLAS's). A batched
 * matmul whose matrices are small runs its batch in an OpenMP loop (the sgemm then runs on the calling
 * thread); large ones let the sgemm thread each product. A matmul with a shared 2-d right operand is one GEMM over the
 * flattened batch.
 *
 * Under BV_AUTOCAST_BF16 the products go through gemm.c (oneDNN's bf16 matmul: bf16 inputs,
 * fp32 accumulation); a batched matmul is one oneDNN primitive over the batch. */
#include <string.h>

#include "../kernels.h"
#include "bf16.h"
#include "gemm.h"

/* Below this many multiply-adds per matrix product the batch, not the product, is threaded, and
 * only when the whole batch is worth a parallel region. */
#define SMALL_GEMM (64 * 64 * 64)
#define PAR_MIN_FLOPS (1 << 16)
#define THREAD_BATCH(batch, M, N, K) ((batch) > 1 && (M) * (N) * (K) < SMALL_GEMM && (batch) * (M) * (N) * (K) >= PAR_MIN_FLOPS)

/* C[M,N] (+)= op(A) op(B); ta/tb: whether A is stored [K,M] / B stored [N,K]. Sizes fit a BLAS int
 * (the constructors check). */
static void gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A, const float *B, float beta,
                 float *C) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        if (beta == 0.0f) memset(C, 0, sizeof(float) * (size_t)(M * N));
        return;
    }
    bv_cpu_sgemm(ta, tb, M, N, K, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}

static void matmul(float *out, const float *a, const float *b, int64_t batch, int64_t M, int64_t K, int64_t N,
                   int shared) {
    if (shared) {
        gemm(0, 0, batch * M, N, K, a, b, 0.0f, out);
        return;
    }
    /* A plain `if`, not OpenMP's if clause: inside even a one-thread parallel region the sgemm would
     * run single-threaded (with OpenBLAS it spawned fresh threads on every call). */
    if (THREAD_BATCH(batch, M, N, K)) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < batch; i++) gemm(0, 0, M, N, K, a + i * M * K, b + i * K * N, 0.0f, out + i * M * N);
    } else {
        for (int64_t i = 0; i < batch; i++) gemm(0, 0, M, N, K, a + i * M * K, b + i * K * N, 0.0f, out + i * M * N);
    }
}

/* Batch item i of the backward products: ga += g b^T, gb += a^T g. */
static void matmul_grad_one(float *ga, float *gb, const float *g, const float *a, const float *b, int64_t i, int64_t M,
                            int64_t K, int64_t N) {
    const float *gi = g + i * M * N;
    if (ga) gemm(0, 1, M, K, N, gi, b + i * K * N, 1.0f, ga + i * M * K);
    if (gb) gemm(1, 0, K, N, M, a + i * M * K, gi, 1.0f, gb + i * K * N);
}

static void matmul_grad(float *ga, float *gb, const float *g, const float *a, const float *b, int64_t batch,
                        int64_t M, int64_t K, int64_t N, int shared) {
    if (shared) { /* b shared: the batch folds into M */
        if (ga) gemm(0, 1, batch * M, K, N, g, b, 1.0f, ga);
        if (gb) gemm(1, 0, K, N, batch * M, a, g, 1.0f, gb);
        return;
    }
    if (THREAD_BATCH(batch, M, N, K)) { /* plain if: see matmul */
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < batch; i++) matmul_grad_one(ga, gb, g, a, b, i, M, K, N);
    } else {
        for (int64_t i = 0; i < batch; i++) matmul_grad_one(ga, gb, g, a, b, i, M, K, N);
    }
}

static void linear(float *y, const float *x, const float *w, const float *b, int64_t rows, int64_t Din, int64_t Dout) {
    if (b) { /* start from the bias and let the GEMM add x W^T onto it */
        for (int64_t r = 0; r < rows; r++) memcpy(y + r * Dout, b, sizeof(float) * (size_t)Dout);
    }
    gemm(0, 1, rows, Dout, Din, x, w, b ? 1.0f : 0.0f, y);
}

static void linear_grad(float *gx, float *gw, float *gb, const float *g, const float *x, const float *w, int64_t rows,
                        int64_t Din, int64_t Dout) {
    if (gx) gemm(0, 0, rows, Din, Dout, g, w, 1.0f, gx); /* g W */
    if (gw) gemm(1, 0, Dout, Din, rows, g, x, 1.0f, gw); /* g^T x */
    if (gb) {
#pragma omp parallel for schedule(static) if (rows * Dout >= 32768)
        for (int64_t o = 0; o < Dout; o++) {
            double acc = 0.0;
            for (int64_t r = 0; r < rows; r++) acc += g[r * Dout + o];
            gb[o] += (float)acc;
        }
    }
}

/* ---- BV_AUTOCAST_BF16 ---- */

/* C (+)= op(A) op(B) over batch dense items in bf16 (gemm.h). */
static int gemm16(bv_backend *be, bv_arena *scratch, int64_t batch, int ta, int tb, int64_t M, int64_t N, int64_t K,
                  const float *A, const float *B, const float *bias, int acc, float *C, char *err) {
    bv_gemm_bf16 g = {.batch = batch, .M = M, .N = N, .K = K, .ta = ta, .tb = tb, .A = A, .B = B, .bias = bias,
                      .accumulate = acc, .C = C};
    return bv_cpu_gemm_bf16(be, scratch, &g, err);
}

/* gemm16 with B = a weight: w16 (its kept bf16 copy, tensor.h) when there is one. */
static int gemm16_w(bv_backend *be, bv_arena *scratch, int tb, int64_t M, int64_t N, int64_t K, const float *A,
                    const float *w, const uint16_t *w16, const float *bias, int acc, float *C, char *err) {
    bv_gemm_bf16 g = {.batch = 1, .M = M, .N = N, .K = K, .tb = tb, .A = A, .B = w, .B16 = w16, .bias = bias,
                      .accumulate = acc, .C = C};
    return bv_cpu_gemm_bf16(be, scratch, &g, err);
}

static int matmul_bf16(bv_backend *be, bv_arena *scratch, float *out, const float *a, const float *b, int64_t batch,
                       int64_t M, int64_t K, int64_t N, int shared, char *err) {
    if (shared) return gemm16(be, scratch, 1, 0, 0, batch * M, N, K, a, b, NULL, 0, out, err);
    return gemm16(be, scratch, batch, 0, 0, M, N, K, a, b, NULL, 0, out, err);
}

static int matmul_grad_bf16(bv_backend *be, bv_arena *scratch, float *ga, float *gb, const float *g, const float *a,
                            const float *b, int64_t batch, int64_t M, int64_t K, int64_t N, int shared, char *err) {
    if (shared) { /* b shared: the batch folds into M */
        if (ga && gemm16(be, scratch, 1, 0, 1, batch * M, K, N, g, b, NULL, 1, ga, err)) return -1;
        if (gb && gemm16(be, scratch, 1, 1, 0, K, N, batch * M, a, g, NULL, 1, gb, err)) return -1;
        return 0;
    }
    if (ga && gemm16(be, scratch, batch, 0, 1, M, K, N, g, b, NULL, 1, ga, err)) return -1; /* g b^T */
    if (gb && gemm16(be, scratch, batch, 1, 0, K, N, M, a, g, NULL, 1, gb, err)) return -1; /* a^T g */
    return 0;
}

static int linear_bf16(bv_backend *be, bv_arena *scratch, float *y, const float *x, const float *w,
                       const uint16_t *w16, const float *b, int64_t rows, int64_t Din, int64_t Dout, char *err) {
    return gemm16_w(be, scratch, 1, rows, Dout, Din, x, w, w16, b, 0, y, err); /* x W^T + b */
}

static int linear_grad_bf16(bv_backend *be, bv_arena *scratch, float *gx, float *gw, float *gb, const float *g,
                            const float *x, const float *w, const uint16_t *w16, int64_t rows, int64_t Din,
                            int64_t Dout, char *err) {
    if (gx && gemm16_w(be, scratch, 0, rows, Din, Dout, g, w, w16, NULL, 1, gx, err)) return -1; /* g W */
    if (gw && gemm16(be, scratch, 1, 1, 0, Dout, Din, rows, g, x, NULL, 1, gw, err)) return -1; /* g^T x */
    if (gb) linear_grad(NULL, NULL, gb, g, x, w, rows, Din, Dout); /* a column sum: fp32 as autocast's */
    return 0;
}

static void embedding(float *y, const float *w, const int64_t *ids, int64_t n, int64_t D) {
    for (int64_t i = 0; i < n; i++) memcpy(y + i * D, w + ids[i] * D, sizeof(float) * (size_t)D);
}

static void embedding_grad(float *gw, const float *gy, const int64_t *ids, int64_t n, int64_t D) {
    /* serial over ids: repeated ids add into the same row */
    for (int64_t i = 0; i < n; i++) {
        float *row = gw + ids[i] * D;
        const float *g = gy + i * D;
        for (int64_t d = 0; d < D; d++) row[d] += g[d];
    }
}

const bv_linalg_kernels bv_cpu_linalg = {
    .matmul = matmul,
    .matmul_grad = matmul_grad,
    .linear = linear,
    .linear_grad = linear_grad,
    .embedding = embedding,
    .embedding_grad = embedding_grad,
    .matmul_bf16 = matmul_bf16,
    .matmul_grad_bf16 = matmul_grad_bf16,
    .to_bf16 = bv_cpu_f32_to_bf16,
    .linear_bf16 = linear_bf16,
    .linear_grad_bf16 = linear_grad_bf16,
};
