/* bf16.c - bulk fp32 <-> bf16 conversion (bf16.h). Plain loops the compiler vectorises: `omp simd`
 * and the dynamic cost model (-O2's very-cheap model leaves them scalar: gcc -fopt-info-vec). */
#include "bf16.h"

enum { PAR_MIN = 1 << 15 }; /* below this, threads cost more than they save */

__attribute__((optimize("vect-cost-model=dynamic"))) void bv_cpu_f32_to_bf16(uint16_t *dst, const float *src, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) dst[i] = bv_f32_to_bf16(src[i]);
}

__attribute__((optimize("vect-cost-model=dynamic"))) void bv_cpu_bf16_to_f32(float *dst, const uint16_t *src, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) dst[i] = bv_bf16_to_f32_bits(src[i]);
}

__attribute__((optimize("vect-cost-model=dynamic"))) void bv_cpu_round_bf16_copy(float *dst, const float *src, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) dst[i] = bv_bf16_to_f32_bits(bv_f32_to_bf16(src[i]));
}
