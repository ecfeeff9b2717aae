/* gemm.h - the matrix products of linear, matmul and the LSTM (cpu/linalg.c, cpu/lstm.c): fp32
 * (oneDNN's sgemm) and bf16 inputs with fp32 accumulation and output (oneDNN's matmul primitive: AMX
 * or AVX512_BF16 brgemm kernels) for the BV_AUTOCAST_BF16 paths (core/ctx.h). */
#ifndef BV_OPS_CPU_GEMM_H
#define BV_OPS_CPU_GEMM_H

#include <stdint.h>

#include "../kernels.h"

/* C [M, N] = op(A) op(B) + beta C in fp32, row-major with row strides lda, ldb, ldc; ta: A stored
 * [K, M], tb: B stored [N, K]. oneDNN's JIT sgemm, not OpenBLAS's: the Debian OpenBLAS 0.3.21 takes
 * this project's Xeon (model 207, newer than it) for a "Prescott" and runs SSE3 kernels (2-5x
 * slower; 5x for the LSTM's 2-row steps), and oneDNN's gemm is as fast or faster on every model
 * shape measured here on one thread, whatever OPENBLAS_CORETYPE says.
 * Inside an OpenMP parallel region it runs on the calling thread. Sizes were checked by the op
 * constructors; a failure is a programming error (fatal). */
void bv_cpu_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float beta, float *C, int64_t ldc);

/* C[i] (+)= op(A[i]) op(B[i]) (+ bias) for i < batch, with op(A) [M, K] and op(B) [K, N].
 * The fp32 operands are rounded to bf16 here (to nearest even, as torch's autocast casts).
 * A is stored [M, K] with row stride lda (ta = 0) or [K, M] with row stride lda (ta = 1); B [K, N] or
 * [N, K] (tb = 1) with row stride ldb; C [M, N] with row stride ldc. ld* = 0: the dense stride.
 * batch > 1 requires dense operands (item i at i * M * K, i * K * N, i * M * N). */
typedef struct bv_gemm_bf16 {
    int64_t batch, M, N, K;
    int ta, tb;
    const float *A;
    int64_t lda;
    const uint16_t *A16; /* A already rounded to bf16, dense in A's layout (lda 0), or NULL: round A here */
    const float *B;
    int64_t ldb;
    const uint16_t *B16; /* B already rounded to bf16, dense in B's layout (ldb 0), or NULL: round B here */
    const float *bias; /* [N] fp32, or NULL */
    int accumulate;    /* 1: C += product (+ bias); 0: C = product (+ bias) */
    float *C;
    int64_t ldc;
} bv_gemm_bf16;

/* 0, or -1 with a message in err (BV_KERNEL_ERR_LEN bytes). Scratch for the bf16 copies comes from
 * `scratch` and is given back before returning. Primitives are cached per shape in the backend's
 * BV_CACHE_MATMUL slot. */
int bv_cpu_gemm_bf16(bv_backend *be, bv_arena *scratch, const bv_gemm_bf16 *g, char *err);

/* The oneDNN implementation the cached primitive of g runs ("brg:avx512_core_amx_bf16", ...), for
 * tests and benchmarks; NULL with err on failure. */
const char *bv_cpu_gemm_bf16_impl(bv_backend *be, const bv_gemm_bf16 *g, char *err);

#endif /* BV_OPS_CPU_GEMM_H */
