/* rng.h - one seeded random source per context, with a replay mode.
 *
 * Live mode: xoshiro256** seeded by splitmix64; normal draws by Box-Muller. The same seed gives
 * the same run. Replay mode: a queue of recorded tensors (the golden files' noise.NNN.*) is
 * returned in order, each draw checked against the shape the caller asks for, so C code making
 * the same calls as upstream consumes upstream's exact draws.
 */
#ifndef BV_RNG_H
#define BV_RNG_H

#include <stdint.h>

typedef struct bv_rng_draw {
    const char *name;        /* e.g. "noise.001.randn_like" */
    int ndim;
    int64_t shape[6];
    const float *data;       /* recorded values (f32; randint stored as f32 copy) */
    const int64_t *idata;
} bv_rng_draw;

typedef struct bv_rng {
    uint64_t s[4];
    int has_spare;
    double spare;
    /* replay queue */
    const bv_rng_draw *replay;
    int n_replay, next_replay;
} bv_rng;

void bv_rng_seed(bv_rng *r, uint64_t seed);
uint64_t bv_rng_u64(bv_rng *r);
double bv_rng_uniform(bv_rng *r);   /* [0, 1) with 53 bits */
double bv_rng_normal(bv_rng *r);    /* N(0, 1) */
/* Counter-based draws (Philox4x32-10, Salmon et al., SC'11): four independent 32-bit values for
 * counter ctr under key, a pure function, so a kernel can fill element i from (key, i / 4) on any
 * thread in any order. Kernels take one bv_rng_u64 as the key per call: the sequential stream
 * advances by one draw, and a seed still gives the same run. */
void bv_rng_philox(uint64_t key, uint64_t ctr, uint32_t out[4]);
/* bv_rng_philox of the counters ctr .. ctr + 7 (out[l] for ctr + l), eight at a time in AVX2 lanes. */
void bv_rng_philox8(uint64_t key, uint64_t ctr, uint32_t out[8][4]);
/* Replay these draws in order (array must outlive use); n = 0 returns to live mode. */
void bv_rng_set_replay(bv_rng *r, const bv_rng_draw *draws, int n);

#endif
