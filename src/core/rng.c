/* rng.c - xoshiro256** (Blackman & Vigna) with splitmix64 seeding; Box-Muller normals; the
 * counter-based Philox4x32-10 for parallel kernels. */
#include "rng.h"

#include <math.h>
#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void bv_rng_seed(bv_rng *r, uint64_t seed) {
    memset(r, 0, sizeof *r);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t bv_rng_u64(bv_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double bv_rng_uniform(bv_rng *r) { return (double)(bv_rng_u64(r) >> 11) * 0x1.0p-53; }

double bv_rng_normal(bv_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1, u2;
    do u1 = bv_rng_uniform(r);
    while (u1 <= 0.0);
    u2 = bv_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

/* Philox4x32-10: ten rounds of two 32x32->64 multiplies and xors over a 128-bit counter, the key
 * bumped by the Weyl constants between rounds (the published constants). */
void bv_rng_philox(uint64_t key, uint64_t ctr, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

#if defined(__AVX2__)
/* hi, lo = the 64-bit products a[l] * m split, for the 8 32-bit lanes (vpmuludq takes the even lanes;
 * the odd ones shifted down) */
static inline void mulhilo8(__m256i a, __m256i m, __m256i *hi, __m256i *lo) {
    const __m256i pe = _mm256_mul_epu32(a, m), po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
}
#endif

void bv_rng_philox8(uint64_t key, uint64_t ctr, uint32_t out[8][4]) {
#if defined(__AVX2__)
    uint32_t lo32[8], hi32[8];
    for (int l = 0; l < 8; l++) lo32[l] = (uint32_t)(ctr + (uint64_t)l), hi32[l] = (uint32_t)((ctr + (uint64_t)l) >> 32);
    __m256i c0 = _mm256_loadu_si256((const __m256i *)lo32), c1 = _mm256_loadu_si256((const __m256i *)hi32);
    __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
    const __m256i m0 = _mm256_set1_epi32((int)0xD2511F53u), m1 = _mm256_set1_epi32((int)0xCD9E8D57u);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        __m256i hi0, lo0, hi1, lo1;
        mulhilo8(c0, m0, &hi0, &lo0);
        mulhilo8(c2, m1, &hi1, &lo1);
        c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32((int)k0));
        c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32((int)k1));
        c1 = lo1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    uint32_t w[4][8];
    _mm256_storeu_si256((__m256i *)w[0], c0);
    _mm256_storeu_si256((__m256i *)w[1], c1);
    _mm256_storeu_si256((__m256i *)w[2], c2);
    _mm256_storeu_si256((__m256i *)w[3], c3);
    for (int l = 0; l < 8; l++)
        for (int j = 0; j < 4; j++) out[l][j] = w[j][l];
#else
    for (int l = 0; l < 8; l++) bv_rng_philox(key, ctr + (uint64_t)l, out[l]);
#endif
}

void bv_rng_set_replay(bv_rng *r, const bv_rng_draw *draws, int n) {
    r->replay = n ? draws : NULL;
    r->n_replay = n;
    r->next_replay = 0;
}
