/* cpu/shape.c - CPU kernels of the shape family: the strided copy/add engine behind reshape,
 * permute, slice, concat, flip, expand and slice_segments, plus pad, cumsum, masked_fill, copy and
 * the dtype casts (constructors and the views: ../shape.c). Gradient kernels ACCUMULATE (+=).
 *
 * The strided engine (strided_apply) merges dims contiguous in both views, turns the innermost run
 * into a memcpy / vector add, tiles transposes so neither side walks memory with a large stride,
 * and splits the outer loop over OpenMP threads. */
#include <string.h>
#ifdef __AVX__
#include <immintrin.h>
#endif

#include "../kernels.h"

#define SK_TILE 32
#define SK_CHUNK 16384        /* elements per parallel piece of one long row */
#define SK_PAR_MIN 32768      /* below this many elements threads cost more than they give */

#define SK_DEFINE(SUF, T, OP)                                                                          \
    static void sk_row_##SUF(T *restrict d, const T *restrict s, int64_t n) {                          \
        for (int64_t i = 0; i < n; i++) d[i] OP s[i];                                                  \
    }                                                                                                  \
    static void sk_strided_##SUF(T *d, int64_t sd, const T *s, int64_t ss, int64_t n) {                \
        for (int64_t i = 0; i < n; i++) d[i * sd] OP s[i * ss];                                        \
    }                                                                                                  \
    /* d[k*sdk + l] OP s[k + l*ssl] for k in [k0, k1), l in [l0, l1) */                                \
    static void sk_block_##SUF(T *restrict d, int64_t sdk, const T *restrict s, int64_t ssl, int64_t k0,  \
                               int64_t k1, int64_t l0, int64_t l1) {                                   \
        for (int64_t k = k0; k < k1; k++)                                                              \
            for (int64_t l = l0; l < l1; l++) d[k * sdk + l] OP s[k + l * ssl];                        \
    }

SK_DEFINE(c32, float, =)
SK_DEFINE(c64, int64_t, =)
SK_DEFINE(add, float, +=)

#ifdef __AVX__
/* 8x8 f32 transpose in registers: d[k*sdk + l] (+)= s[k + l*ssl] for k, l < 8. */
static inline void sk_tr8(float *d, int64_t sdk, const float *s, int64_t ssl, int add) {
    __m256 r[8], t[8], u[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(s + i * ssl);
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        __m256 lo = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20), hi = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
        if (add) {
            lo = _mm256_add_ps(_mm256_loadu_ps(d + i * sdk), lo);
            hi = _mm256_add_ps(_mm256_loadu_ps(d + (i + 4) * sdk), hi);
        }
        _mm256_storeu_ps(d + i * sdk, lo);
        _mm256_storeu_ps(d + (i + 4) * sdk, hi);
    }
}
#endif

/* d[k*sdk + l] (+)= s[k + l*ssl] over k < nk, l < nl, in SK_TILE-wide column blocks; the body of
 * each block goes through 8x8 register transposes where AVX is available. */
static void sk_tile_f32(float *restrict d, int64_t sdk, const float *restrict s, int64_t ssl, int64_t nk,
                        int64_t nl, int add) {
    for (int64_t l0 = 0; l0 < nl; l0 += SK_TILE) {
        int64_t l1 = l0 + SK_TILE < nl ? l0 + SK_TILE : nl, k8 = 0;
#ifdef __AVX__
        int64_t l8 = l0 + ((l1 - l0) & ~(int64_t)7);
        k8 = nk & ~(int64_t)7;
        for (int64_t k = 0; k < k8; k += 8)
            for (int64_t l = l0; l < l8; l += 8) {
                if (add) sk_tr8(d + k * sdk + l, sdk, s + k + l * ssl, ssl, 1);
                else sk_tr8(d + k * sdk + l, sdk, s + k + l * ssl, ssl, 0);
            }
        if (add) sk_block_add(d, sdk, s, ssl, 0, k8, l8, l1);
        else sk_block_c32(d, sdk, s, ssl, 0, k8, l8, l1);
#endif
        if (add) sk_block_add(d, sdk, s, ssl, k8, nk, l0, l1);
        else sk_block_c32(d, sdk, s, ssl, k8, nk, l0, l1);
    }
}

static void sk_tile_c64(int64_t *restrict d, int64_t sdk, const int64_t *restrict s, int64_t ssl, int64_t nk,
                        int64_t nl) {
    for (int64_t l0 = 0; l0 < nl; l0 += SK_TILE)
        sk_block_c64(d, sdk, s, ssl, 0, nk, l0, l0 + SK_TILE < nl ? l0 + SK_TILE : nl);
}


/* Drop size-1 dims and merge neighbours that are contiguous in both views. */
static void bv_strided_view_coalesce(bv_strided_view *v) {
    bv_strided_view r = {0};
    for (int i = 0; i < v->nd; i++) {
        if (v->n[i] == 1) continue;
        int m = r.nd;
        if (m > 0 && r.sd[m - 1] == v->sd[i] * v->n[i] && r.ss[m - 1] == v->ss[i] * v->n[i]) {
            r.n[m - 1] *= v->n[i];
            r.sd[m - 1] = v->sd[i];
            r.ss[m - 1] = v->ss[i];
        } else {
            r.n[m] = v->n[i];
            r.sd[m] = v->sd[i];
            r.ss[m] = v->ss[i];
            r.nd++;
        }
    }
    *v = r;
}

/* The innermost work of one parallel piece: a run (mode 0), a transpose tile (1) or a strided
 * line (2), at element offsets od / os. */
static void sk_piece(bv_strided_kind kind, int mode, char *dst, const char *src, int64_t sdk, int64_t ssl, int64_t nk,
                     int64_t nl, int64_t sdl, int64_t ssl2) {
    switch (kind) {
    case BV_STRIDED_COPY32:
        if (mode == 0) sk_row_c32((float *)dst, (const float *)src, nl);
        else if (mode == 1) sk_tile_f32((float *)dst, sdk, (const float *)src, ssl, nk, nl, 0);
        else sk_strided_c32((float *)dst, sdl, (const float *)src, ssl2, nl);
        break;
    case BV_STRIDED_COPY64:
        if (mode == 0) sk_row_c64((int64_t *)dst, (const int64_t *)src, nl);
        else if (mode == 1) sk_tile_c64((int64_t *)dst, sdk, (const int64_t *)src, ssl, nk, nl);
        else sk_strided_c64((int64_t *)dst, sdl, (const int64_t *)src, ssl2, nl);
        break;
    case BV_STRIDED_ADD:
        if (mode == 0) sk_row_add((float *)dst, (const float *)src, nl);
        else if (mode == 1) sk_tile_f32((float *)dst, sdk, (const float *)src, ssl, nk, nl, 1);
        else sk_strided_add((float *)dst, sdl, (const float *)src, ssl2, nl);
        break;
    }
}

/* dst[view] = src[view] (copy kinds) or dst[view] += src[view] (BV_STRIDED_ADD). */
static void strided_apply(bv_strided_kind kind, void *dst, const void *src, bv_strided_view v) {
    for (int i = 0; i < v.nd; i++)
        if (v.n[i] == 0) return;
    bv_strided_view_coalesce(&v);
    const size_t esz = kind == BV_STRIDED_COPY64 ? sizeof(int64_t) : sizeof(float);
    if (v.nd == 0) { /* a single element */
        sk_piece(kind, 0, dst, src, 0, 0, 1, 1, 0, 0);
        return;
    }
    const int L = v.nd - 1;
    int K = -1, mode;
    if (v.sd[L] == 1 && v.ss[L] == 1) mode = 0;
    else {
        if (v.sd[L] == 1)
            for (int k = L - 1; k >= 0 && K < 0; k--)
                if (v.ss[k] == 1) K = k;
        mode = K >= 0 ? 1 : 2;
    }
    int od[BV_MAX_DIMS], no = 0, par_ok = 1;
    int64_t nouter = 1;
    for (int i = 0; i < L; i++) {
        if (i == K) continue;
        od[no++] = i;
        nouter *= v.n[i];
        if (v.sd[i] == 0) par_ok = 0; /* several outer indices would add into the same dst */
    }
    /* split the inner work too, so a single big row or transpose still uses every thread */
    int64_t piece = mode == 1 ? SK_TILE : SK_CHUNK;
    int64_t split_n = mode == 1 ? v.n[K] : v.n[L];
    if (mode == 1 && v.sd[K] == 0) par_ok = 0;
    if (mode != 1 && v.sd[L] == 0) piece = split_n; /* a reduction along L stays in one piece */
    const int64_t nch = (split_n + piece - 1) / piece;
    const int64_t total = nouter * v.n[L] * (K >= 0 ? v.n[K] : 1);
#pragma omp parallel for schedule(static) if (par_ok && total >= SK_PAR_MIN && nouter * nch > 1)
    for (int64_t r = 0; r < nouter * nch; r++) {
        int64_t o = r / nch, c = r % nch, offd = 0, offs = 0;
        for (int j = no - 1; j >= 0; j--) {
            int64_t idx = o % v.n[od[j]];
            o /= v.n[od[j]];
            offd += idx * v.sd[od[j]];
            offs += idx * v.ss[od[j]];
        }
        int64_t lo = c * piece, len = split_n - lo < piece ? split_n - lo : piece;
        if (mode == 1) {
            offd += lo * v.sd[K];
            offs += lo; /* ss[K] == 1 */
            sk_piece(kind, 1, (char *)dst + offd * (int64_t)esz, (const char *)src + offs * (int64_t)esz, v.sd[K],
                     v.ss[L], len, v.n[L], 0, 0);
        } else {
            offd += lo * v.sd[L];
            offs += lo * v.ss[L];
            sk_piece(kind, mode, (char *)dst + offd * (int64_t)esz, (const char *)src + offs * (int64_t)esz, 0, 0, 1,
                     len, v.sd[L], v.ss[L]);
        }
    }
}

/* Row r (all output dims but the last) -> source row offset, or -1 if the row is all padding. */
static int64_t pad_row_src(const bv_pad_plan *p, int64_t r) {
    int64_t off = 0, stride = p->xshape[p->nd - 1];
    for (int d = p->nd - 2; d >= 0; d--) {
        int64_t j = r % p->yshape[d];
        r /= p->yshape[d];
        int64_t i = p->map[d][j];
        if (i < 0) return -1;
        off += i * stride;
        stride *= p->xshape[d];
    }
    return off;
}

#define PAD_FWD_ROW(T)                                                                                   \
    do {                                                                                                 \
        T *o = (T *)y + r * O;                                                                           \
        const T *s = (const T *)x + src;                                                                 \
        const T fill = (T)p->value;                                                                      \
        if (src < 0) {                                                                                   \
            for (int64_t j = 0; j < O; j++) o[j] = fill;                                                 \
            break;                                                                                       \
        }                                                                                                \
        for (int64_t j = 0; j < lo; j++) o[j] = m[j] < 0 ? fill : s[m[j]];                               \
        if (hi > lo) memcpy(o + lo, s + lo - left, sizeof(T) * (size_t)(hi - lo));                       \
        for (int64_t j = hi > lo ? hi : lo; j < O; j++) o[j] = m[j] < 0 ? fill : s[m[j]];                \
    } while (0)

static void pad_forward(void *y, const void *x, const bv_pad_plan *p, int i64) {
    const int L = p->nd - 1;
    const int64_t O = p->yshape[L], rows = O ? p->ynumel / O : 0, lo = p->lo[L], hi = p->hi[L], left = p->left[L];
    const int64_t *m = p->map[L];
#pragma omp parallel for schedule(static) if (p->ynumel >= SK_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t src = pad_row_src(p, r);
        if (i64) PAD_FWD_ROW(int64_t);
        else PAD_FWD_ROW(float);
    }
}

/* Scatter-add in output order, as torch's reflection_pad backward does. Rows that share a leading
 * (unpadded) index never touch the same source row, so threads split over those. */
static void pad_grad(float *gx, const float *gy, const bv_pad_plan *p, int parallel_all) {
    const int L = p->nd - 1;
    const int64_t O = p->yshape[L], rows = O ? p->ynumel / O : 0;
    const int64_t *m = p->map[L];
    int64_t nlead = 1;
    if (parallel_all) nlead = rows;
    else
        for (int d = 0; d < p->first_padded && d < L; d++) nlead *= p->yshape[d];
    const int64_t per = nlead ? rows / nlead : 0;
#pragma omp parallel for schedule(static) if (p->ynumel >= SK_PAR_MIN && nlead > 1)
    for (int64_t a = 0; a < nlead; a++)
        for (int64_t r = a * per; r < (a + 1) * per; r++) {
            int64_t src = pad_row_src(p, r);
            if (src < 0) continue;
            const float *g = gy + r * O;
            float *s = gx + src;
            for (int64_t j = 0; j < O; j++)
                if (m[j] >= 0) s[m[j]] += g[j];
        }
}


/* Running sums along dim over x viewed as [outer, D, inner], accumulated in double as torch's CPU
 * kernel does (acc_type<float> is double); reverse = 1 sums from the end (used by backward). */
static void cumsum(float *y, const float *x, int64_t outer, int64_t D, int64_t inner, int reverse, int accumulate) {
#pragma omp parallel for collapse(2) schedule(static) if (outer * D * inner >= SK_PAR_MIN)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double acc = 0;
            for (int64_t k = 0; k < D; k++) {
                int64_t kk = reverse ? D - 1 - k : k;
                int64_t idx = (o * D + kk) * inner + i;
                acc += x[idx];
                if (accumulate) y[idx] += (float)acc;
                else y[idx] = (float)acc;
            }
        }
}


/* 1 where the mask element at off is zero. */
static inline int mask_zero(const void *mask, int mask_i64, int64_t off) {
    return mask_i64 ? ((const int64_t *)mask)[off] == 0 : ((const float *)mask)[off] == 0.0f;
}

static int64_t mask_row_offset(const bv_mask_layout *l, int64_t r) {
    int64_t off = 0;
    for (int d = l->nd - 2; d >= 0; d--) {
        off += (r % l->shape[d]) * l->ms[d];
        r /= l->shape[d];
    }
    return off;
}

/* backward = 0: y = fill ? value : x;  backward = 1: gx += fill ? 0 : gy, where fill is mask != 0
 * (mask == 0 with l->fill_where_zero). */
static void masked_fill(float *out, const float *in, const void *mask, const bv_mask_layout *l, float value,
                        int backward) {
    const int64_t W = l->nd ? l->shape[l->nd - 1] : 1, rows = W ? l->numel / W : 0;
    const int64_t msl = l->nd ? l->ms[l->nd - 1] : 0;
    const int mi64 = l->mask_i64, fz = l->fill_where_zero;
#pragma omp parallel for schedule(static) if (l->numel >= SK_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t moff = mask_row_offset(l, r);
        float *o = out + r * W;
        const float *s = in + r * W;
        for (int64_t j = 0; j < W; j++) {
            int keep = mask_zero(mask, mi64, moff + j * msl) ^ fz;
            if (backward) o[j] += keep ? s[j] : 0.0f;
            else o[j] = keep ? s[j] : value;
        }
    }
}

/* gx += gy over n elements (reshape and copy backward) */
static void accumulate(float *gx, const float *gy, int64_t N) {
#pragma omp parallel for schedule(static) if (N >= SK_PAR_MIN)
    for (int64_t i = 0; i < N; i++) gx[i] += gy[i];
}

static void copy_bytes(void *dst, const void *src, size_t bytes) { memcpy(dst, src, bytes); }

static void i64_to_f32(float *y, const int64_t *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (float)x[i];
}

static void f32_to_i64(int64_t *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        /* .long() truncates toward zero; out-of-range and NaN give INT64_MIN as on x86 torch */
        y[i] = (v > -9.2233720368547758e18f && v < 9.2233720368547758e18f) ? (int64_t)v : INT64_MIN;
    }
}

static void fill(float *t, int64_t n, float v) {
    for (int64_t i = 0; i < n; i++) t[i] = v;
}

const bv_shape_kernels bv_cpu_shape = {
    .strided = strided_apply,
    .accumulate = accumulate,
    .copy = copy_bytes,
    .pad = pad_forward,
    .pad_grad = pad_grad,
    .cumsum = cumsum,
    .masked_fill = masked_fill,
    .i64_to_f32 = i64_to_f32,
    .f32_to_i64 = f32_to_i64,
    .fill = fill,
};
