/* cpu/random.h - what tests see of the CPU random kernels (random.c). */
#ifndef BV_OPS_CPU_RANDOM_H
#define BV_OPS_CPU_RANDOM_H

/* Whether dropout masks may take their AVX-512 path (1, the default: where the CPU has AVX-512F) or
 * only the AVX2 one (0). Both give the same masks; tests compare them. Not thread-safe: set it
 * between steps. */
void bv_cpu_dropout_allow_avx512(int allow);

#endif
