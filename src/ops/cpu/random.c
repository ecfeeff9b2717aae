/* cpu/random.c - CPU kernels of the random family: fill device memory from the host-side rng, one
 * draw per element in order, so a seed (or a replayed recording) gives the same values on every
 * device (constructors: ../random.c, parameter initialisers: ../init.c). */
#include "../kernels.h"

static void normal(float *t, int64_t n, bv_rng *rng, double sd) {
    for (int64_t i = 0; i < n; i++) t[i] = (float)(bv_rng_normal(rng) * sd);
}

static void uniform(float *t, int64_t n, bv_rng *rng) {
    for (int64_t i = 0; i < n; i++) t[i] = (float)bv_rng_uniform(rng);
}

static void uniform_sym(float *t, int64_t n, bv_rng *rng, double bound) {
    for (int64_t i = 0; i < n; i++) t[i] = (float)((2.0 * bv_rng_uniform(rng) - 1.0) * bound);
}

static void dropout_mask(float *keep, int64_t n, bv_rng *rng, float p) {
    for (int64_t i = 0; i < n; i++) keep[i] = bv_rng_uniform(rng) >= p ? 1.0f / (1.0f - p) : 0.0f;
}

const bv_random_kernels bv_cpu_random = {
    .normal = normal,
    .uniform = uniform,
    .uniform_sym = uniform_sym,
    .dropout_mask = dropout_mask,
};
