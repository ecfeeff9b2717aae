/* cpu/random.c - CPU kernels of the random family: fill device memory from the host-side rng, one
 * draw per element in order, so a seed (or a replayed recording) gives the same values on every
 * device (constructors: ../random.c, parameter initialisers: ../init.c). Dropout masks, by far the
 * most draws of a training step (every attention map of the flow), come instead from the
 * counter-based Philox under one key drawn from the rng: the same seed gives the same masks, in
 * parallel and whatever the thread count. Because a factor is a function of (key, element index)
 * alone, no mask is ever stored: the dropout kernels apply the factors as they draw them, and the
 * backward kernels draw them again from the key (also fused into the FFN's relu / x_mask and into
 * attention's dropped map, ../relpos.c). (Dropout is never replayed: the golden cases run without
 * it, and upstream's masks could not be matched anyway.) */
#include <math.h>
#include <string.h>
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define BV_HAVE_AVX512_DROPOUT 1
#endif
#include "../kernels.h"
#include "random.h"

static int allow_avx512 = 1;
void bv_cpu_dropout_allow_avx512(int allow) { allow_avx512 = allow; }

static void normal(float *t, int64_t n, bv_rng *rng, double sd) {
    for (int64_t i = 0; i < n; i++) t[i] = (float)(bv_rng_normal(rng) * sd);
}

static void uniform(float *t, int64_t n, bv_rng *rng) {
    for (int64_t i = 0; i < n; i++) t[i] = (float)bv_rng_uniform(rng);
}

static void uniform_sym(float *t, int64_t n, bv_rng *rng, double bound) {
    for (int64_t i = 0; i < n; i++) t[i] = (float)((2.0 * bv_rng_uniform(rng) - 1.0) * bound);
}

#ifdef BV_HAVE_AVX512_DROPOUT
/* One multiply round of Philox4x32 on 16 lanes: hi and lo halves of a * m. */
__attribute__((target("avx512f"))) static inline void mulhilo16(__m512i a, __m512i m, __m512i *hi, __m512i *lo) {
    __m512i pe = _mm512_mul_epu32(a, m);                                             /* lanes 0, 2, ... */
    __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(m, 32)); /* lanes 1, 3, ... */
    *lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
}

/* keep[0, m) for counters c0 .. c0 + 15 (64 words, m <= 64): bv_rng_philox on 16 lanes (the same
 * words as bv_rng_philox8 and bv_rng_philox), compared and interleaved in registers. */
__attribute__((target("avx512f"))) static void dropout_block64(float *keep, int64_t m, uint64_t key, uint64_t c0,
                                                             uint32_t thr, float scale) {
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    __m512i c[4];
    c[0] = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)c0), lane); /* no carry: c0 % 16 == 0 */
    c[1] = _mm512_set1_epi32((int)(uint32_t)(c0 >> 32));
    c[2] = c[3] = _mm512_setzero_si512();
    const __m512i m0 = _mm512_set1_epi32((int)0xD2511F53u), m1 = _mm512_set1_epi32((int)0xCD9E8D57u);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        __m512i hi0, lo0, hi1, lo1;
        mulhilo16(c[0], m0, &hi0, &lo0);
        mulhilo16(c[2], m1, &hi1, &lo1);
        c[0] = _mm512_xor_si512(_mm512_xor_si512(hi1, c[1]), _mm512_set1_epi32((int)k0));
        c[2] = _mm512_xor_si512(_mm512_xor_si512(hi0, c[3]), _mm512_set1_epi32((int)k1));
        c[1] = lo1;
        c[3] = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    const __m512 s = _mm512_set1_ps(scale);
    const __m512i t = _mm512_set1_epi32((int)thr);
    __m512 v[4]; /* v[j][l]: word j of counter l, as kept (scale) or dropped (0) */
    for (int j = 0; j < 4; j++) v[j] = _mm512_maskz_mov_ps(_mm512_cmpge_epu32_mask(c[j], t), s);
    /* to counter-major order (keep[4 l + j] = v[j][l]): 4x4 transposes in each 128-bit lane, then of
     * the lanes */
    __m512 t0 = _mm512_unpacklo_ps(v[0], v[1]), t1 = _mm512_unpackhi_ps(v[0], v[1]);
    __m512 t2 = _mm512_unpacklo_ps(v[2], v[3]), t3 = _mm512_unpackhi_ps(v[2], v[3]);
    __m512 r0 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
    __m512 r1 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
    __m512 r2 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
    __m512 r3 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
    __m512 s0 = _mm512_shuffle_f32x4(r0, r1, 0x44), s1 = _mm512_shuffle_f32x4(r2, r3, 0x44);
    __m512 s2 = _mm512_shuffle_f32x4(r0, r1, 0xEE), s3 = _mm512_shuffle_f32x4(r2, r3, 0xEE);
    __m512 o[4] = {_mm512_shuffle_f32x4(s0, s1, 0x88), _mm512_shuffle_f32x4(s0, s1, 0xDD),
                   _mm512_shuffle_f32x4(s2, s3, 0x88), _mm512_shuffle_f32x4(s2, s3, 0xDD)};
    if (m == 64) {
        for (int j = 0; j < 4; j++) _mm512_storeu_ps(keep + 16 * j, o[j]);
        return;
    }
    float tmp[64];
    for (int j = 0; j < 4; j++) _mm512_storeu_ps(tmp + 16 * j, o[j]);
    memcpy(keep, tmp, sizeof(float) * (size_t)m);
}

/* The AVX-512 path where the CPU has it (the build's baseline is AVX2), and the threshold fits 32
 * bits (p < 1 - 2^-32). */
static int dropout_avx512(uint64_t thr) {
    static int have = -1;
    if (have < 0) have = __builtin_cpu_supports("avx512f");
    return have && allow_avx512 && thr <= UINT32_MAX;
}
#endif

/* The keep factors of elements [64 q, 64 q + m) of a call, m <= 64: keep[i] = u_i >= p ? 1 / (1 - p) : 0,
 * u_i = the 32-bit Philox word i of the call's key / 2^32 (word i = word i % 4 of counter i / 4; sixteen
 * counters per dropout_block64 where the CPU has AVX-512, eight per bv_rng_philox8 call otherwise: the
 * same words either way). u >= p  <=>  word >= ceil(p * 2^32), an integer compare. */
typedef struct keep_rule {
    uint64_t key, thr;
    float scale;
    int avx512;
} keep_rule;

static keep_rule keep_rule_of(uint64_t key, float p) {
    keep_rule r = {key, (uint64_t)ceil((double)p * 4294967296.0), 1.0f / (1.0f - p), 0};
#ifdef BV_HAVE_AVX512_DROPOUT
    r.avx512 = dropout_avx512(r.thr);
#endif
    return r;
}

static void keep_block(float *keep, int64_t m, const keep_rule *r, int64_t q) {
#ifdef BV_HAVE_AVX512_DROPOUT
    if (r->avx512) {
        dropout_block64(keep, m, r->key, (uint64_t)(16 * q), (uint32_t)r->thr, r->scale);
        return;
    }
#endif
    for (int64_t h = 0; 32 * h < m; h++) {
        uint32_t w[8][4];
        bv_rng_philox8(r->key, (uint64_t)(16 * q + 8 * h), w);
        const uint32_t *words = &w[0][0];
        const int64_t i0 = 32 * h, mh = m - i0 < 32 ? m - i0 : 32;
        for (int64_t j = 0; j < mh; j++) keep[i0 + j] = (uint64_t)words[j] >= r->thr ? r->scale : 0.0f;
    }
}

/* keep factors for a block: dropout's, or ones for p == 0 (no dropout: the FFN in eval mode), where
 * the rule's threshold 0 keeps every word at scale 1 anyway; filled without drawing */
static void keep_or_one(float *k, int64_t m, const keep_rule *r, int64_t q) {
    if (r->thr > 0) {
        keep_block(k, m, r, q);
        return;
    }
    for (int64_t j = 0; j < m; j++) k[j] = 1.0f;
}

/* Blocks of 64 elements, in parallel above 64 Ki elements: the body sees k[64] (this block's keep
 * factors, or ones when p == 0), i0 (its first element) and m (its length). */
#define FOR_EACH_KEEP_BLOCK(n, rule, ...)                                         \
    do {                                                                         \
        const int64_t nb_ = ((n) + 63) / 64;                                     \
        _Pragma("omp parallel for schedule(static) if ((n) >= 65536)")           \
        for (int64_t q_ = 0; q_ < nb_; q_++) {                                   \
            float k[64];                                                         \
            const int64_t i0 = 64 * q_, m = (n) - i0 < 64 ? (n) - i0 : 64;       \
            keep_or_one(k, m, &(rule), q_);                                      \
            __VA_ARGS__;                                                         \
        }                                                                        \
    } while (0)

/* y = x * keep: the product torch.dropout forms (x * mask * scale with mask * scale one factor) */
static void dropout(float *restrict y, const float *restrict x, int64_t n, uint64_t key, float p) {
    const keep_rule r = keep_rule_of(key, p);
    FOR_EACH_KEEP_BLOCK(n, r, {
        for (int64_t j = 0; j < m; j++) y[i0 + j] = x[i0 + j] * k[j];
    });
}

/* gx += g * keep, or (ow) gx = 0 + g * keep: mul's gradient rule (binary_grad_full) with the factors
 * drawn again from the key instead of read from a stored mask */
static void dropout_grad(float *restrict gx, const float *restrict g, int64_t n, uint64_t key, float p, int ow) {
    const keep_rule r = keep_rule_of(key, p);
    FOR_EACH_KEEP_BLOCK(n, r, {
        if (ow)
            for (int64_t j = 0; j < m; j++) gx[i0 + j] = 0.0f + g[i0 + j] * k[j];
        else
            for (int64_t j = 0; j < m; j++) gx[i0 + j] += g[i0 + j] * k[j];
    });
}

/* The runs of a block [i0, i0 + m) of a [B, C, T] tensor that stay in one row of T: BODY sees j0, j1 (the
 * run's range in the block) and mr, m's row [B, T] offset so that mr[j] belongs to block element j. */
#define FOR_EACH_ROW_RUN(i0, m, C, T, mk, ...)                                   \
    for (int64_t j0 = 0, j1; j0 < (m); j0 = j1) {                                \
        const int64_t i_ = (i0) + j0, t_ = i_ % (T);                             \
        j1 = j0 + ((m) - j0 < (T) - t_ ? (m) - j0 : (T) - t_);                   \
        const float *mr = (mk) + i_ / (T) / (C) * (T) + t_ - j0;                 \
        __VA_ARGS__;                                                             \
    }

static void relu_dropout_mask(float *restrict y, const float *restrict h, const float *restrict mk, int64_t B,
                              int64_t C, int64_t T, uint64_t key, float p) {
    const keep_rule r = keep_rule_of(key, p);
    const int64_t n = B * C * T;
    FOR_EACH_KEEP_BLOCK(n, r, {
        const float *hb = h + i0;
        float *yb = y + i0;
        FOR_EACH_ROW_RUN(i0, m, C, T, mk, {
            _Pragma("omp simd")
            for (int64_t j = j0; j < j1; j++) { /* relu, then * keep (1 without dropout: x * 1 = x), then * m */
                const float x = hb[j], rl = x > 0.0f ? x : 0.0f;
                yb[j] = rl * k[j] * mr[j];
            }
        });
    });
}

static void relu_dropout_mask_grad(float *restrict gh, const float *restrict g, const float *restrict h,
                                   const float *restrict mk, int64_t B, int64_t C, int64_t T, uint64_t key, float p,
                                   int ow) {
    const keep_rule r = keep_rule_of(key, p);
    const int64_t n = B * C * T;
    /* mul's rule (fresh: 0 + g m), dropout's (fresh: 0 + t keep; keep 1: 0 + t = t), relu's (t (h > 0)),
     * into gh: 0 + e when gh is fresh, else gh + e */
#define RDM_GRAD_TERM(j) ((0.0f + (0.0f + gb[j] * mr[j]) * k[j]) * (hb[j] > 0.0f ? 1.0f : 0.0f))
    FOR_EACH_KEEP_BLOCK(n, r, {
        const float *gb = g + i0, *hb = h + i0;
        float *ghb = gh + i0;
        FOR_EACH_ROW_RUN(i0, m, C, T, mk, {
            if (ow) {
                _Pragma("omp simd")
                for (int64_t j = j0; j < j1; j++) ghb[j] = 0.0f + RDM_GRAD_TERM(j);
            } else {
                _Pragma("omp simd")
                for (int64_t j = j0; j < j1; j++) ghb[j] += RDM_GRAD_TERM(j);
            }
        });
    });
#undef RDM_GRAD_TERM
}
#undef FOR_EACH_ROW_RUN
#undef FOR_EACH_KEEP_BLOCK

const bv_random_kernels bv_cpu_random = {
    .normal = normal,
    .uniform = uniform,
    .uniform_sym = uniform_sym,
    .dropout = dropout,
    .dropout_grad = dropout_grad,
    .relu_dropout_mask = relu_dropout_mask,
    .relu_dropout_mask_grad = relu_dropout_mask_grad,
};
