/* bf16.h - fp32 <-> bf16 conversion for the CPU kernels' BV_AUTOCAST_BF16 paths (see core/ctx.h).
 * bf16 is the upper half of an fp32; the conversion rounds to nearest, ties to even, as torch's
 * .to(torch.bfloat16) and oneDNN's reorders do; NaN stays NaN. */
#ifndef BV_OPS_CPU_BF16_H
#define BV_OPS_CPU_BF16_H

#include <stdint.h>
#include <string.h>

/* Branch-free (a select), so that loops over it vectorise. */
static inline uint16_t bv_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, quiet_nan = (u >> 16) | 0x40u;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

static inline float bv_bf16_to_f32_bits(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* n values, OpenMP-parallel for large n. */
void bv_cpu_f32_to_bf16(uint16_t *dst, const float *src, int64_t n);
void bv_cpu_bf16_to_f32(float *dst, const uint16_t *src, int64_t n);
/* dst = src rounded to the nearest bf16 values, kept as fp32 (a bf16 cast and back); dst may be src. */
void bv_cpu_round_bf16_copy(float *dst, const float *src, int64_t n);
static inline void bv_cpu_round_bf16(float *x, int64_t n) { bv_cpu_round_bf16_copy(x, x, n); }

#endif
