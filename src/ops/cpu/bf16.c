/* bf16.c - bulk fp32 <-> bf16 conversion (bf16.h). Plain loops the compiler vectorises. */
#include "bf16.h"

enum { PAR_MIN = 1 << 15 }; /* below this, threads cost more than they save */

void bv_cpu_f32_to_bf16(uint16_t *dst, const float *src, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) dst[i] = bv_f32_to_bf16(src[i]);
}

void bv_cpu_bf16_to_f32(float *dst, const uint16_t *src, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) dst[i] = bv_bf16_to_f32_bits(src[i]);
}

void bv_cpu_round_bf16_copy(float *dst, const float *src, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) dst[i] = bv_bf16_to_f32_bits(bv_f32_to_bf16(src[i]));
}
