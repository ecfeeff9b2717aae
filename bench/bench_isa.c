/* bench_isa.c - `bv2-bench --isa`: what one core of this CPU computes per second in fp32, bf16 and fp16
 * multiply-adds, measured, beside the flags that say which it has (AMX included).
 *
 * The bf16 goals of issue 10 assume the low-precision arithmetic is faster than fp32. Whether it is
 * depends on more than the flags: on the Xeons this project runs on (model 207, Emerald Rapids, in a
 * VM that hides AMX) AVX512_BF16's dot product (vdpbf16ps) retires at a quarter of vfmadd231ps's rate,
 * so it does half the work per second of fp32 FMA, while AVX512_FP16's vfmadd231ph does twice it
 * (2026-12-07: 88 G fp32, 45 G bf16, 177 G fp16 multiply-adds per second on one core). Each loop
 * keeps ten independent accumulators (more than latency x ports) in registers, one thread; the loops
 * are compiled for their instruction set alone and run only where the CPU has it.
 * make bench prints this first (bench/run.sh), so every bench log carries the hardware's answer. */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define ISA_ITERS 50000000L
#define ISA_ACC 10

static double isa_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Ten named accumulators (an array would live in memory: a load and a store per multiply-add); the
 * empty asm keeps them in registers and the loop from being folded away. */
#define ISA_LOOP(T, zero, op)                                                                              \
    T a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero, a8 = zero, a9 = zero; \
    double t = isa_now();                                                                                  \
    for (long i = 0; i < ISA_ITERS; i++) {                                                                 \
        a0 = op(a0); a1 = op(a1); a2 = op(a2); a3 = op(a3); a4 = op(a4);                                   \
        a5 = op(a5); a6 = op(a6); a7 = op(a7); a8 = op(a8); a9 = op(a9);                                   \
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), \
                              "+v"(a8), "+v"(a9));                                                         \
    }                                                                                                      \
    return (double)ISA_ITERS * ISA_ACC / (isa_now() - t)

/* Each returns instructions per second; the multiply-adds per instruction are the caller's. */
__attribute__((target("avx512f"))) static double fma_f32_zmm(void) {
    const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1.0001f);
#define OP(a) _mm512_fmadd_ps(x, y, a)
    ISA_LOOP(__m512, _mm512_setzero_ps(), OP);
#undef OP
}

__attribute__((target("avx2,fma"))) static double fma_f32_ymm(void) {
    const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1.0001f);
#define OP(a) _mm256_fmadd_ps(x, y, a)
    ISA_LOOP(__m256, _mm256_setzero_ps(), OP);
#undef OP
}

__attribute__((target("avx512f,avx512bf16"))) static double dot_bf16_zmm(void) {
    const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80); /* 1.0 in bf16 */
#define OP(a) _mm512_dpbf16_ps(a, x, x)
    ISA_LOOP(__m512, _mm512_setzero_ps(), OP);
#undef OP
}

__attribute__((target("avx512f,avx512fp16"))) static double fma_f16_zmm(void) {
    const __m512h x = _mm512_set1_ph((_Float16)0.999f);
#define OP(a) _mm512_fmadd_ph(x, x, a)
    ISA_LOOP(__m512h, _mm512_setzero_ph(), OP);
#undef OP
}

int bv_bench_isa(void);
int bv_bench_isa(void) {
    __builtin_cpu_init();
    const int has512 = __builtin_cpu_supports("avx512f"), bf16 = has512 && __builtin_cpu_supports("avx512bf16"),
              fp16 = has512 && __builtin_cpu_supports("avx512fp16"), amx = __builtin_cpu_supports("amx-bf16");
    printf("isa: avx2 %s, avx512f %s, avx512_bf16 %s, avx512_fp16 %s, amx_bf16 %s (flags as the OS exposes them)\n",
           __builtin_cpu_supports("avx2") ? "yes" : "no", has512 ? "yes" : "no", bf16 ? "yes" : "no",
           fp16 ? "yes" : "no", amx ? "yes" : "no");
    printf("isa: one core, multiply-adds per second (x2 for FLOP/s), ten independent accumulators:\n");
    double ref = 0, bf16_x = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        ref = fma_f32_ymm() * 8;
        printf("  fp32 FMA, 256-bit (vfmadd231ps ymm)   %7.1f G/s\n", ref / 1e9);
    }
    if (has512) {
        ref = fma_f32_zmm() * 16;
        printf("  fp32 FMA, 512-bit (vfmadd231ps zmm)   %7.1f G/s\n", ref / 1e9);
    }
    if (bf16) {
        double r = dot_bf16_zmm() * 32;
        bf16_x = ref > 0 ? r / ref : 0;
        printf("  bf16 dot, 512-bit (vdpbf16ps zmm)     %7.1f G/s   %.2fx fp32\n", r / 1e9, bf16_x);
    }
    if (fp16) {
        double r = fma_f16_zmm() * 32;
        printf("  fp16 FMA, 512-bit (vfmadd231ph zmm)   %7.1f G/s   %.2fx fp32 (fp16 sums: not what autocast "
               "computes)\n", r / 1e9, ref > 0 ? r / ref : 0);
    }
    if (amx) printf("isa: AMX-BF16 present: oneDNN's bf16 kernels use its tiles, many times the fp32 rate\n");
    else if (bf16)
        printf("isa: no AMX; bf16 dot products at %.2fx the fp32 rate: bf16 matmuls and convolutions %s\n", bf16_x,
               bf16_x > 1.2 ? "can beat fp32 here" : "cannot beat fp32 here (the bf16 goals need AMX)");
    else printf("isa: no native bf16 arithmetic: bv2 refuses bf16 here\n");
    return 0;
}
