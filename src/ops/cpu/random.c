/* cpu/random.c - CPU kernels of the random family: fill device memory from the host-side rng, one
 * draw per element in order, so a seed (or a replayed recording) gives the same values on every
 * device (constructors: ../random.c, parameter initialisers: ../init.c). Dropout masks, by far the
 * most draws of a training step (every attention map of the flow), come instead from the
 * counter-based Philox under one key drawn from the rng: the same seed gives the same masks, in
 * parallel and whatever the thread count. (Dropout is never replayed: the golden cases run without
 * it, and upstream's masks could not be matched anyway.) */
#include <math.h>
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

/* keep[i] = u_i >= p ? 1 / (1 - p) : 0, u_i = the 32-bit Philox word i of this call's key / 2^32
 * (word i = word i % 4 of counter i / 4; eight counters per bv_rng_philox8 call) */
static void dropout_mask(float *keep, int64_t n, bv_rng *rng, float p) {
    const uint64_t key = bv_rng_u64(rng);
    /* u >= p  <=>  word >= p * 2^32  <=>  word >= ceil(p * 2^32), an integer compare (words are integers) */
    const uint64_t thr = (uint64_t)ceil((double)p * 4294967296.0);
    const float scale = 1.0f / (1.0f - p);
    const int64_t groups = (n + 31) / 32; /* 8 counters x 4 words */
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (int64_t q = 0; q < groups; q++) {
        uint32_t w[8][4];
        bv_rng_philox8(key, (uint64_t)(8 * q), w);
        const uint32_t *words = &w[0][0];
        const int64_t i0 = 32 * q, m = n - i0 < 32 ? n - i0 : 32;
        for (int64_t j = 0; j < m; j++) keep[i0 + j] = (uint64_t)words[j] >= thr ? scale : 0.0f;
    }
}

const bv_random_kernels bv_cpu_random = {
    .normal = normal,
    .uniform = uniform,
    .uniform_sym = uniform_sym,
    .dropout_mask = dropout_mask,
};
