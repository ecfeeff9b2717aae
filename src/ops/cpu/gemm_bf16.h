/* gemm_bf16.h - matrix products with bf16 inputs and fp32 accumulation and output (oneDNN's matmul
 * primitive: AMX or AVX512_BF16 brgemm kernels), for the CPU kernels' BV_AUTOCAST_BF16 paths
 * (core/ctx.h). Used by linear, matmul and the LSTM (cpu/linalg.c, cpu/lstm.c). */
#ifndef BV_OPS_CPU_GEMM_BF16_H
#define BV_OPS_CPU_GEMM_BF16_H

#include <stdint.h>

#include "../kernels.h"

/* C[i] (+)= op(A[i]) op(B[i]) (+ bias) for i < batch, with op(A) [M, K] and op(B) [K, N].
 * Each operand is given either as fp32 (A / B: rounded to bf16 here, to nearest even) or already as
 * bf16 (Ah / Bh: used as is, e.g. a weight converted once for many calls).
 * A is stored [M, K] with row stride lda (ta = 0) or [K, M] with row stride lda (ta = 1); B [K, N] or
 * [N, K] (tb = 1) with row stride ldb; C [M, N] with row stride ldc. ld* = 0: the dense stride.
 * batch > 1 requires dense operands (item i at i * M * K, i * K * N, i * M * N). */
typedef struct bv_gemm_bf16 {
    int64_t batch, M, N, K;
    int ta, tb;
    const float *A;
    const uint16_t *Ah;
    int64_t lda;
    const float *B;
    const uint16_t *Bh;
    int64_t ldb;
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

#endif
