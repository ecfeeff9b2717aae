/* shape.c - shape and data-movement ops: reshape, transpose/permute, slice, concat, split, pad,
 * flip, expand, cumsum, masked_fill, copy, slice_segments and the dtype casts.
 *
 * Gradient convention: every backward ACCUMULATES (+=) into bv_grad(ctx, input), and only for
 * inputs with requires_grad set. Data movement works for f32 and i64 tensors alike; only f32 ones
 * ever record a node.
 *
 * Most ops here are one pattern: copy (or add) one N-d strided view into another. They share one
 * engine (strided_apply) that merges dims contiguous in both views, turns the innermost run into a
 * memcpy / vector add, tiles transposes so neither side walks memory with a large stride, and
 * splits the outer loop over OpenMP threads. Most backward rules are the same view with src and
 * dst swapped, in add mode.
 */
#include <string.h>
#ifdef __AVX__
#include <immintrin.h>
#endif

#include "ops.h"

/* ---------------- the strided engine ---------------- */

typedef enum { SK_COPY32, SK_COPY64, SK_ADD } sk_kind;

/* One view pair, listed in dst iteration order. Strides are in elements; src strides may be 0
 * (broadcast) or negative (flip); dst strides may be 0 only in add mode (a reduction). */
typedef struct {
    int nd;
    int64_t n[BV_MAX_DIMS];
    int64_t sd[BV_MAX_DIMS];
    int64_t ss[BV_MAX_DIMS];
} sview;

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

static void contig_strides(int nd, const int64_t *shape, int64_t *st) {
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= shape[i];
    }
}

/* Drop size-1 dims and merge neighbours that are contiguous in both views. */
static void sview_coalesce(sview *v) {
    sview r = {0};
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
static void sk_piece(sk_kind kind, int mode, char *dst, const char *src, int64_t sdk, int64_t ssl, int64_t nk,
                     int64_t nl, int64_t sdl, int64_t ssl2) {
    switch (kind) {
    case SK_COPY32:
        if (mode == 0) sk_row_c32((float *)dst, (const float *)src, nl);
        else if (mode == 1) sk_tile_f32((float *)dst, sdk, (const float *)src, ssl, nk, nl, 0);
        else sk_strided_c32((float *)dst, sdl, (const float *)src, ssl2, nl);
        break;
    case SK_COPY64:
        if (mode == 0) sk_row_c64((int64_t *)dst, (const int64_t *)src, nl);
        else if (mode == 1) sk_tile_c64((int64_t *)dst, sdk, (const int64_t *)src, ssl, nk, nl);
        else sk_strided_c64((int64_t *)dst, sdl, (const int64_t *)src, ssl2, nl);
        break;
    case SK_ADD:
        if (mode == 0) sk_row_add((float *)dst, (const float *)src, nl);
        else if (mode == 1) sk_tile_f32((float *)dst, sdk, (const float *)src, ssl, nk, nl, 1);
        else sk_strided_add((float *)dst, sdl, (const float *)src, ssl2, nl);
        break;
    }
}

/* dst[view] = src[view] (copy kinds) or dst[view] += src[view] (SK_ADD). */
static void strided_apply(sk_kind kind, void *dst, const void *src, sview v) {
    for (int i = 0; i < v.nd; i++)
        if (v.n[i] == 0) return;
    sview_coalesce(&v);
    const size_t esz = kind == SK_COPY64 ? sizeof(int64_t) : sizeof(float);
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

/* ---------------- shared helpers ---------------- */

static void *tdata(const bv_tensor *t) { return t->dtype == BV_I64 ? (void *)t->idata : (void *)t->data; }
static sk_kind copy_kind(const bv_tensor *t) { return t->dtype == BV_I64 ? SK_COPY64 : SK_COPY32; }
static size_t elem_size(const bv_tensor *t) { return t->dtype == BV_I64 ? sizeof(int64_t) : sizeof(float); }

/* Nodes are only recorded for f32 inputs: integer tensors never carry gradients. */
static int wants_grad(bv_ctx *ctx, bv_tensor *x) { return x->dtype == BV_F32 && bv_needs_grad(ctx, 1, &x); }

static int norm_dim(bv_ctx *ctx, const char *op, const bv_tensor *x, int dim) {
    int d = dim < 0 ? dim + x->ndim : dim;
    if (d < 0 || d >= x->ndim) {
        char b[96];
        bv_ctx_error(ctx, op, "dim %d out of range for shape %s", dim, bv_shape_str(x, b, sizeof b));
    }
    return d;
}

static void check_input(bv_ctx *ctx, const char *op, const bv_tensor *x) {
    if (!x) bv_ctx_error(ctx, op, "input tensor is NULL");
    bv_check_cpu(ctx, op, x);
}

/* ---------------- reshape ---------------- */

static void reshape_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    float *gx = bv_grad(ctx, x);
    const float *gy = y->grad;
    int64_t N = x->numel;
#pragma omp parallel for schedule(static) if (N >= SK_PAR_MIN)
    for (int64_t i = 0; i < N; i++) gx[i] += gy[i];
}

bv_tensor *bv_reshape(bv_ctx *ctx, bv_tensor *x, int ndim, const int64_t *shape) {
    check_input(ctx, "reshape", x);
    char b[96];
    if (ndim < 0 || ndim > BV_MAX_DIMS)
        bv_ctx_error(ctx, "reshape", "%d dims requested for %s (max %d)", ndim, bv_shape_str(x, b, sizeof b),
                     BV_MAX_DIMS);
    int64_t sh[BV_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        sh[i] = shape[i];
        if (shape[i] == -1 && infer < 0) infer = i;
        else if (shape[i] < 0)
            bv_ctx_error(ctx, "reshape", "invalid size %lld in dim %d of the target shape for %s", (long long)shape[i],
                         i, bv_shape_str(x, b, sizeof b));
        else known *= shape[i];
    }
    if (infer >= 0) {
        if (known == 0 || x->numel % known != 0)
            bv_ctx_error(ctx, "reshape", "cannot infer dim %d: %s has %lld elements, not divisible by %lld", infer,
                         bv_shape_str(x, b, sizeof b), (long long)x->numel, (long long)known);
        sh[infer] = x->numel / known;
    }
    bv_tensor *y = bv_arena_calloc(&ctx->arena, sizeof *y);
    y->dtype = x->dtype;
    y->device = x->device;
    y->ndim = ndim;
    for (int i = 0; i < ndim; i++) y->shape[i] = sh[i];
    y->numel = bv_shape_numel(ndim, sh);
    if (y->numel != x->numel) {
        char c[96];
        bv_ctx_error(ctx, "reshape", "cannot view %s (%lld elements) as %s (%lld elements)",
                     bv_shape_str(x, b, sizeof b), (long long)x->numel, bv_shape_str(y, c, sizeof c),
                     (long long)y->numel);
    }
    y->data = x->data; /* aliases: same data, new shape */
    y->idata = x->idata;
    if (wants_grad(ctx, x)) bv_record(ctx, BV_OP_RESHAPE, reshape_backward, 1, &x, 1, &y);
    return y;
}

/* ---------------- permute / transpose ---------------- */

/* y[i0..] = x[...] with y dim i = x dim perm[i]: view in y order, x strides permuted. */
static sview permute_view(const bv_tensor *x, const bv_tensor *y, const int64_t *perm, int dst_is_y) {
    int64_t xs[BV_MAX_DIMS], ys[BV_MAX_DIMS];
    contig_strides(x->ndim, x->shape, xs);
    contig_strides(y->ndim, y->shape, ys);
    sview v = {.nd = y->ndim};
    for (int i = 0; i < y->ndim; i++) {
        v.n[i] = y->shape[i];
        v.sd[i] = dst_is_y ? ys[i] : xs[perm[i]];
        v.ss[i] = dst_is_y ? xs[perm[i]] : ys[i];
    }
    return v;
}

static void permute_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    strided_apply(SK_ADD, bv_grad(ctx, x), y->grad, permute_view(x, y, n->iattr, 0));
}

static bv_tensor *permute_impl(bv_ctx *ctx, bv_op id, bv_tensor *x, const int64_t *perm) {
    int64_t shape[BV_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[perm[i]];
    bv_tensor *y = bv_new(ctx, x->dtype, x->ndim, shape);
    strided_apply(copy_kind(x), tdata(y), tdata(x), permute_view(x, y, perm, 1));
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, id, permute_backward, 1, &x, 1, &y);
        for (int i = 0; i < x->ndim; i++) n->iattr[i] = perm[i];
    }
    return y;
}

bv_tensor *bv_transpose(bv_ctx *ctx, bv_tensor *x, int d0, int d1) {
    check_input(ctx, "transpose", x);
    int a = norm_dim(ctx, "transpose", x, d0), c = norm_dim(ctx, "transpose", x, d1);
    int64_t perm[BV_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[a] = c;
    perm[c] = a;
    return permute_impl(ctx, BV_OP_TRANSPOSE, x, perm);
}

bv_tensor *bv_permute(bv_ctx *ctx, bv_tensor *x, const int *perm) {
    check_input(ctx, "permute", x);
    int64_t p[BV_MAX_DIMS];
    int seen[BV_MAX_DIMS] = {0};
    for (int i = 0; i < x->ndim; i++) {
        int d = perm[i] < 0 ? perm[i] + x->ndim : perm[i];
        if (d < 0 || d >= x->ndim || seen[d]) {
            char b[96];
            bv_ctx_error(ctx, "permute", "perm[%d] = %d is not a permutation entry for shape %s", i, perm[i],
                         bv_shape_str(x, b, sizeof b));
        }
        seen[d] = 1;
        p[i] = d;
    }
    return permute_impl(ctx, BV_OP_PERMUTE, x, p);
}

/* ---------------- slice / split ---------------- */

/* x viewed as y: x offset start*xs[dim], x stride along dim multiplied by step. */
static sview slice_view(const bv_tensor *x, const bv_tensor *y, int dim, int64_t step, int dst_is_y) {
    int64_t xs[BV_MAX_DIMS], ys[BV_MAX_DIMS];
    contig_strides(x->ndim, x->shape, xs);
    contig_strides(y->ndim, y->shape, ys);
    xs[dim] *= step;
    sview v = {.nd = y->ndim};
    for (int i = 0; i < y->ndim; i++) {
        v.n[i] = y->shape[i];
        v.sd[i] = dst_is_y ? ys[i] : xs[i];
        v.ss[i] = dst_is_y ? xs[i] : ys[i];
    }
    return v;
}

/* Element offset of index idx along dim in contiguous x. */
static int64_t dim_offset(const bv_tensor *x, int dim, int64_t idx) {
    int64_t stride = 1;
    for (int i = dim + 1; i < x->ndim; i++) stride *= x->shape[i];
    return idx * stride;
}

static void slice_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    int dim = (int)n->iattr[0];
    float *gx = bv_grad(ctx, x) + dim_offset(x, dim, n->iattr[1]);
    strided_apply(SK_ADD, gx, y->grad, slice_view(x, y, dim, n->iattr[2], 0));
}

bv_tensor *bv_slice(bv_ctx *ctx, bv_tensor *x, int dim, int64_t start, int64_t end, int64_t step) {
    check_input(ctx, "slice", x);
    int d = norm_dim(ctx, "slice", x, dim);
    if (step <= 0) {
        char b[96];
        bv_ctx_error(ctx, "slice", "step must be positive, got %lld (shape %s, dim %d)", (long long)step,
                     bv_shape_str(x, b, sizeof b), dim);
    }
    int64_t size = x->shape[d];
    if (start < 0) start += size;
    if (end < 0) end += size;
    start = start < 0 ? 0 : start > size ? size : start;
    end = end < 0 ? 0 : end > size ? size : end;
    int64_t len = end > start ? (end - start + step - 1) / step : 0;
    int64_t shape[BV_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[d] = len;
    bv_tensor *y = bv_new(ctx, x->dtype, x->ndim, shape);
    const char *src = (const char *)tdata(x) + dim_offset(x, d, start) * (int64_t)elem_size(x);
    strided_apply(copy_kind(x), tdata(y), src, slice_view(x, y, d, step, 1));
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, BV_OP_SLICE, slice_backward, 1, &x, 1, &y);
        n->iattr[0] = d;
        n->iattr[1] = start;
        n->iattr[2] = step;
    }
    return y;
}

void bv_split(bv_ctx *ctx, bv_tensor *x, int dim, int n, const int64_t *sizes, bv_tensor **outs) {
    check_input(ctx, "split", x);
    int d = norm_dim(ctx, "split", x, dim);
    char b[96];
    if (n <= 0) bv_ctx_error(ctx, "split", "%d parts requested for %s", n, bv_shape_str(x, b, sizeof b));
    int64_t size = x->shape[d], total = 0;
    if (!sizes && size % n != 0)
        bv_ctx_error(ctx, "split", "dim %d of %s does not split into %d equal parts", dim, bv_shape_str(x, b, sizeof b),
                     n);
    for (int i = 0; i < n; i++) {
        int64_t s = sizes ? sizes[i] : size / n;
        if (s < 0) bv_ctx_error(ctx, "split", "negative size %lld for part %d of %s", (long long)s, i,
                                bv_shape_str(x, b, sizeof b));
        total += s;
    }
    if (total != size)
        bv_ctx_error(ctx, "split", "sizes sum to %lld but dim %d of %s is %lld", (long long)total, dim,
                     bv_shape_str(x, b, sizeof b), (long long)size);
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        int64_t s = sizes ? sizes[i] : size / n;
        outs[i] = bv_slice(ctx, x, d, off, off + s, 1);
        off += s;
    }
}

/* ---------------- concat ---------------- */

/* Input xi occupies [off, off + xi.shape[dim]) of y along dim. */
static sview concat_view(const bv_tensor *xi, const bv_tensor *y, int dst_is_y) {
    int64_t xs[BV_MAX_DIMS], ys[BV_MAX_DIMS];
    contig_strides(xi->ndim, xi->shape, xs);
    contig_strides(y->ndim, y->shape, ys);
    sview v = {.nd = y->ndim};
    for (int i = 0; i < y->ndim; i++) {
        v.n[i] = xi->shape[i];
        v.sd[i] = dst_is_y ? ys[i] : xs[i];
        v.ss[i] = dst_is_y ? xs[i] : ys[i];
    }
    return v;
}

static void concat_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *y = n->out[0];
    int dim = (int)n->iattr[0];
    int64_t off = 0;
    for (int i = 0; i < n->n_in; i++) {
        bv_tensor *xi = n->in[i];
        if (xi->requires_grad)
            strided_apply(SK_ADD, bv_grad(ctx, xi), y->grad + dim_offset(y, dim, off), concat_view(xi, y, 0));
        off += xi->shape[dim];
    }
}

bv_tensor *bv_concat(bv_ctx *ctx, int n, bv_tensor *const *xs, int dim) {
    if (n <= 0) bv_ctx_error(ctx, "concat", "needs at least one input, got %d", n);
    for (int i = 0; i < n; i++) check_input(ctx, "concat", xs[i]);
    const bv_tensor *x0 = xs[0];
    int d = norm_dim(ctx, "concat", x0, dim);
    int64_t shape[BV_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < n; i++) {
        const bv_tensor *xi = xs[i];
        int ok = xi->ndim == x0->ndim && xi->dtype == x0->dtype;
        for (int k = 0; ok && k < x0->ndim; k++) ok = k == d || xi->shape[k] == x0->shape[k];
        if (!ok) {
            char a[96], b[96];
            bv_ctx_error(ctx, "concat", "input %d %s %s does not match input 0 %s %s outside dim %d", i,
                         bv_dtype_name(xi->dtype), bv_shape_str(xi, a, sizeof a), bv_dtype_name(x0->dtype),
                         bv_shape_str(x0, b, sizeof b), dim);
        }
        shape[d] += xi->shape[d];
    }
    bv_tensor *y = bv_new(ctx, x0->dtype, x0->ndim, shape);
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        char *dst = (char *)tdata(y) + dim_offset(y, d, off) * (int64_t)elem_size(y);
        strided_apply(copy_kind(y), dst, tdata(xs[i]), concat_view(xs[i], y, 1));
        off += xs[i]->shape[d];
    }
    if (x0->dtype == BV_F32 && bv_needs_grad(ctx, n, xs)) {
        bv_node *nd = bv_record(ctx, BV_OP_CONCAT, concat_backward, n, xs, 1, &y);
        nd->iattr[0] = d;
    }
    return y;
}

/* ---------------- pad ---------------- */

/* For every dim of the output, the source index of each output position (-1: the constant).
 * Reflect uses torch's own index formula, which also covers negative (cropping) pads:
 *   j < l: 2l - j;  j < W + l: j;  else 2(W + l - 1) - j;  then - l. */
typedef struct {
    int nd;
    int64_t *map[BV_MAX_DIMS];
    int64_t lo[BV_MAX_DIMS], hi[BV_MAX_DIMS]; /* output range where map[j] == j - left */
    int64_t left[BV_MAX_DIMS];
    int first_padded;                          /* first dim with a non-zero pad (nd if none) */
    float value;
} pad_plan;

static pad_plan *pad_make_plan(bv_ctx *ctx, const bv_tensor *x, const bv_tensor *y, const int64_t *lefts,
                               bv_pad_mode mode, float value) {
    pad_plan *p = bv_arena_calloc(&ctx->arena, sizeof *p);
    p->nd = x->ndim;
    p->value = value;
    p->first_padded = x->ndim;
    for (int d = x->ndim - 1; d >= 0; d--) {
        int64_t W = x->shape[d], O = y->shape[d], l = lefts[d];
        if (O != W || l != 0) p->first_padded = d;
        p->left[d] = l;
        p->lo[d] = l > 0 ? l : 0;
        p->hi[d] = W + l < O ? W + l : O;
        if (p->hi[d] < p->lo[d]) p->hi[d] = p->lo[d];
        p->map[d] = bv_arena_alloc(&ctx->arena, sizeof(int64_t) * (size_t)(O ? O : 1));
        for (int64_t j = 0; j < O; j++) {
            int64_t i;
            if (mode == BV_PAD_CONSTANT) i = (j - l >= 0 && j - l < W) ? j - l : -1;
            else {
                i = j < l ? 2 * l - j : j < W + l ? j : 2 * (W + l - 1) - j;
                i -= l;
                if (i < 0 || i >= W) {
                    char b[96];
                    bv_ctx_error(ctx, "pad", "reflect padding of dim %d of %s reaches outside the input", d,
                                 bv_shape_str(x, b, sizeof b));
                }
            }
            p->map[d][j] = i;
        }
    }
    return p;
}

/* Row r (all output dims but the last) -> source row offset, or -1 if the row is all padding. */
static int64_t pad_row_src(const pad_plan *p, const bv_tensor *x, const bv_tensor *y, int64_t r) {
    int64_t off = 0, stride = x->shape[p->nd - 1];
    for (int d = p->nd - 2; d >= 0; d--) {
        int64_t j = r % y->shape[d];
        r /= y->shape[d];
        int64_t i = p->map[d][j];
        if (i < 0) return -1;
        off += i * stride;
        stride *= x->shape[d];
    }
    return off;
}

#define PAD_FWD_ROW(T)                                                                                   \
    do {                                                                                                 \
        T *o = (T *)tdata(y) + r * O;                                                                    \
        const T *s = (const T *)tdata(x) + src;                                                          \
        const T fill = (T)p->value;                                                                      \
        if (src < 0) {                                                                                   \
            for (int64_t j = 0; j < O; j++) o[j] = fill;                                                 \
            break;                                                                                       \
        }                                                                                                \
        for (int64_t j = 0; j < lo; j++) o[j] = m[j] < 0 ? fill : s[m[j]];                               \
        if (hi > lo) memcpy(o + lo, s + lo - left, sizeof(T) * (size_t)(hi - lo));                       \
        for (int64_t j = hi > lo ? hi : lo; j < O; j++) o[j] = m[j] < 0 ? fill : s[m[j]];                \
    } while (0)

static void pad_forward(const pad_plan *p, const bv_tensor *x, bv_tensor *y) {
    const int L = p->nd - 1;
    const int64_t O = y->shape[L], rows = O ? y->numel / O : 0, lo = p->lo[L], hi = p->hi[L], left = p->left[L];
    const int64_t *m = p->map[L];
#pragma omp parallel for schedule(static) if (y->numel >= SK_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t src = pad_row_src(p, x, y, r);
        if (x->dtype == BV_I64) PAD_FWD_ROW(int64_t);
        else PAD_FWD_ROW(float);
    }
}

/* Scatter-add in output order, as torch's reflection_pad backward does. Rows that share a leading
 * (unpadded) index never touch the same source row, so threads split over those. */
static void pad_backward_rows(const pad_plan *p, const bv_tensor *x, const bv_tensor *y, float *gx, int parallel_all) {
    const int L = p->nd - 1;
    const int64_t O = y->shape[L], rows = O ? y->numel / O : 0;
    const int64_t *m = p->map[L];
    int64_t nlead = 1;
    if (parallel_all) nlead = rows;
    else
        for (int d = 0; d < p->first_padded && d < L; d++) nlead *= y->shape[d];
    const int64_t per = nlead ? rows / nlead : 0;
#pragma omp parallel for schedule(static) if (y->numel >= SK_PAR_MIN && nlead > 1)
    for (int64_t a = 0; a < nlead; a++)
        for (int64_t r = a * per; r < (a + 1) * per; r++) {
            int64_t src = pad_row_src(p, x, y, r);
            if (src < 0) continue;
            const float *g = y->grad + r * O;
            float *s = gx + src;
            for (int64_t j = 0; j < O; j++)
                if (m[j] >= 0) s[m[j]] += g[j];
        }
}

static void pad_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    const pad_plan *p = n->saved;
    pad_backward_rows(p, x, y, bv_grad(ctx, x), n->iattr[0] == BV_PAD_CONSTANT);
}

bv_tensor *bv_pad(bv_ctx *ctx, bv_tensor *x, int npad, const int64_t *pads, bv_pad_mode mode, float value) {
    check_input(ctx, "pad", x);
    char b[96];
    if (npad < 0 || npad % 2 || npad / 2 > x->ndim)
        bv_ctx_error(ctx, "pad", "%d pad values for %s: need an even count, at most 2 per dim", npad,
                     bv_shape_str(x, b, sizeof b));
    if (mode != BV_PAD_CONSTANT && mode != BV_PAD_REFLECT)
        bv_ctx_error(ctx, "pad", "unknown mode %d for %s", (int)mode, bv_shape_str(x, b, sizeof b));
    int64_t shape[BV_MAX_DIMS], lefts[BV_MAX_DIMS] = {0};
    memcpy(shape, x->shape, sizeof shape);
    for (int i = 0; i < npad / 2; i++) {
        int d = x->ndim - 1 - i;
        int64_t l = pads[2 * i], r = pads[2 * i + 1], W = x->shape[d];
        if (mode == BV_PAD_REFLECT && (l >= W || r >= W))
            bv_ctx_error(ctx, "pad", "reflect padding (%lld, %lld) of dim %d must be smaller than its size in %s",
                         (long long)l, (long long)r, d, bv_shape_str(x, b, sizeof b));
        shape[d] = W + l + r;
        lefts[d] = l;
        if (shape[d] < 0)
            bv_ctx_error(ctx, "pad", "padding (%lld, %lld) of dim %d leaves a negative size for %s", (long long)l,
                         (long long)r, d, bv_shape_str(x, b, sizeof b));
    }
    if (x->ndim == 0) return bv_copy(ctx, x); /* npad is 0: nothing to pad */
    bv_tensor *y = bv_new(ctx, x->dtype, x->ndim, shape);
    pad_plan *p = pad_make_plan(ctx, x, y, lefts, mode, value);
    if (y->numel) pad_forward(p, x, y);
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, BV_OP_PAD, pad_backward, 1, &x, 1, &y);
        n->saved = p;
        n->iattr[0] = mode;
    }
    return y;
}

/* ---------------- flip ---------------- */

static sview flip_view(const bv_tensor *x, int dim) {
    int64_t st[BV_MAX_DIMS];
    contig_strides(x->ndim, x->shape, st);
    sview v = {.nd = x->ndim};
    for (int i = 0; i < x->ndim; i++) {
        v.n[i] = x->shape[i];
        v.sd[i] = st[i];
        v.ss[i] = i == dim ? -st[i] : st[i];
    }
    return v;
}

static void flip_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    int dim = (int)n->iattr[0];
    const float *src = y->grad + dim_offset(y, dim, y->shape[dim] - 1);
    strided_apply(SK_ADD, bv_grad(ctx, x), src, flip_view(y, dim));
}

bv_tensor *bv_flip(bv_ctx *ctx, bv_tensor *x, int dim) {
    check_input(ctx, "flip", x);
    int d = norm_dim(ctx, "flip", x, dim);
    bv_tensor *y = bv_new_like(ctx, x);
    if (x->shape[d] > 0) {
        const char *src = (const char *)tdata(x) + dim_offset(x, d, x->shape[d] - 1) * (int64_t)elem_size(x);
        strided_apply(copy_kind(x), tdata(y), src, flip_view(x, d));
    }
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, BV_OP_FLIP, flip_backward, 1, &x, 1, &y);
        n->iattr[0] = d;
    }
    return y;
}

/* ---------------- expand ---------------- */

/* y contiguous, x read with stride 0 along broadcast dims (new leading dims included). */
static sview expand_view(const bv_tensor *x, const bv_tensor *y, int dst_is_y) {
    int64_t xs[BV_MAX_DIMS], ys[BV_MAX_DIMS];
    contig_strides(x->ndim, x->shape, xs);
    contig_strides(y->ndim, y->shape, ys);
    int lead = y->ndim - x->ndim;
    sview v = {.nd = y->ndim};
    for (int i = 0; i < y->ndim; i++) {
        int k = i - lead;
        int64_t sx = (k < 0 || x->shape[k] != y->shape[i]) ? 0 : xs[k];
        v.n[i] = y->shape[i];
        v.sd[i] = dst_is_y ? ys[i] : sx;
        v.ss[i] = dst_is_y ? sx : ys[i];
    }
    return v;
}

static void expand_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    strided_apply(SK_ADD, bv_grad(ctx, x), y->grad, expand_view(x, y, 0));
}

bv_tensor *bv_expand(bv_ctx *ctx, bv_tensor *x, int ndim, const int64_t *shape) {
    check_input(ctx, "expand", x);
    char b[96];
    if (ndim < x->ndim || ndim > BV_MAX_DIMS)
        bv_ctx_error(ctx, "expand", "cannot expand %s to %d dims", bv_shape_str(x, b, sizeof b), ndim);
    int64_t sh[BV_MAX_DIMS];
    int lead = ndim - x->ndim;
    for (int i = 0; i < ndim; i++) {
        int k = i - lead;
        int64_t want = shape[i];
        if (want == -1 && k >= 0) want = x->shape[k];
        if (want < 0 || (k >= 0 && x->shape[k] != 1 && x->shape[k] != want)) {
            char c[160];
            int m = snprintf(c, sizeof c, "[");
            for (int j = 0; j < ndim && m < (int)sizeof c; j++)
                m += snprintf(c + m, sizeof c - (size_t)m, j ? ", %lld" : "%lld", (long long)shape[j]);
            if (m < (int)sizeof c) snprintf(c + m, sizeof c - (size_t)m, "]");
            bv_ctx_error(ctx, "expand", "cannot broadcast %s to %s (dim %d)", bv_shape_str(x, b, sizeof b), c, i);
        }
        sh[i] = want;
    }
    bv_tensor *y = bv_new(ctx, x->dtype, ndim, sh);
    strided_apply(copy_kind(x), tdata(y), tdata(x), expand_view(x, y, 1));
    if (wants_grad(ctx, x)) bv_record(ctx, BV_OP_EXPAND, expand_backward, 1, &x, 1, &y);
    return y;
}

/* ---------------- cumsum ---------------- */

/* Running sums along dim over x viewed as [outer, D, inner], accumulated in double as torch's CPU
 * kernel does (acc_type<float> is double); reverse = 1 sums from the end (used by backward). */
static void cumsum_kernel(float *y, const float *x, int64_t outer, int64_t D, int64_t inner, int reverse,
                          int accumulate) {
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

static void cumsum_dims(const bv_tensor *x, int d, int64_t *outer, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < d; i++) *outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) *inner *= x->shape[i];
}

static void cumsum_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    int d = (int)n->iattr[0];
    int64_t outer, inner;
    cumsum_dims(x, d, &outer, &inner);
    cumsum_kernel(bv_grad(ctx, x), y->grad, outer, x->shape[d], inner, 1, 1);
}

bv_tensor *bv_cumsum(bv_ctx *ctx, bv_tensor *x, int dim) {
    check_input(ctx, "cumsum", x);
    bv_check_dtype(ctx, "cumsum", x, BV_F32);
    int d = norm_dim(ctx, "cumsum", x, dim);
    bv_tensor *y = bv_new_like(ctx, x);
    int64_t outer, inner;
    cumsum_dims(x, d, &outer, &inner);
    cumsum_kernel(y->data, x->data, outer, x->shape[d], inner, 0, 0);
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, BV_OP_CUMSUM, cumsum_backward, 1, &x, 1, &y);
        n->iattr[0] = d;
    }
    return y;
}

/* ---------------- masked_fill ---------------- */

/* Mask strides aligned to x's dims (0 where the mask broadcasts). */
static void mask_strides(const bv_tensor *x, const bv_tensor *mask, int64_t *ms) {
    int64_t st[BV_MAX_DIMS];
    contig_strides(mask->ndim, mask->shape, st);
    int lead = x->ndim - mask->ndim;
    for (int i = 0; i < x->ndim; i++) {
        int k = i - lead;
        ms[i] = (k < 0 || mask->shape[k] == 1) ? 0 : st[k];
    }
}

/* keep[j] for one row of x: 1 where the mask is zero. */
static inline int mask_zero(const bv_tensor *mask, int64_t off) {
    return mask->dtype == BV_I64 ? mask->idata[off] == 0 : mask->data[off] == 0.0f;
}

static int64_t mask_row_offset(const bv_tensor *x, const int64_t *ms, int64_t r) {
    int64_t off = 0;
    for (int d = x->ndim - 2; d >= 0; d--) {
        off += (r % x->shape[d]) * ms[d];
        r /= x->shape[d];
    }
    return off;
}

/* backward = 0: y = mask ? value : x;  backward = 1: gx += mask ? 0 : gy. */
static void masked_fill_kernel(float *out, const float *in, const bv_tensor *x, const bv_tensor *mask, float value,
                               int backward) {
    int64_t ms[BV_MAX_DIMS];
    mask_strides(x, mask, ms);
    const int64_t W = x->ndim ? x->shape[x->ndim - 1] : 1, rows = W ? x->numel / W : 0;
    const int64_t msl = x->ndim ? ms[x->ndim - 1] : 0;
#pragma omp parallel for schedule(static) if (x->numel >= SK_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t moff = mask_row_offset(x, ms, r);
        float *o = out + r * W;
        const float *s = in + r * W;
        for (int64_t j = 0; j < W; j++) {
            int keep = mask_zero(mask, moff + j * msl);
            if (backward) o[j] += keep ? s[j] : 0.0f;
            else o[j] = keep ? s[j] : value;
        }
    }
}

static void masked_fill_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    masked_fill_kernel(bv_grad(ctx, x), y->grad, x, n->saved, 0.0f, 1);
}

bv_tensor *bv_masked_fill(bv_ctx *ctx, bv_tensor *x, bv_tensor *mask, float value) {
    check_input(ctx, "masked_fill", x);
    check_input(ctx, "masked_fill", mask);
    bv_check_dtype(ctx, "masked_fill", x, BV_F32);
    int ok = mask->ndim <= x->ndim;
    for (int k = 0; ok && k < mask->ndim; k++) {
        int64_t ms = mask->shape[k], xs = x->shape[x->ndim - mask->ndim + k];
        ok = ms == 1 || ms == xs;
    }
    if (!ok) {
        char a[96], b[96];
        bv_ctx_error(ctx, "masked_fill", "mask %s does not broadcast to x %s", bv_shape_str(mask, a, sizeof a),
                     bv_shape_str(x, b, sizeof b));
    }
    bv_tensor *y = bv_new_like(ctx, x);
    masked_fill_kernel(y->data, x->data, x, mask, value, 0);
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, BV_OP_MASKED_FILL, masked_fill_backward, 1, &x, 1, &y);
        n->saved = mask;
    }
    return y;
}

/* ---------------- copy ---------------- */

bv_tensor *bv_copy(bv_ctx *ctx, bv_tensor *x) {
    check_input(ctx, "copy", x);
    bv_tensor *y = bv_new_like(ctx, x);
    memcpy(tdata(y), tdata(x), elem_size(x) * (size_t)x->numel);
    if (wants_grad(ctx, x)) bv_record(ctx, BV_OP_COPY, reshape_backward, 1, &x, 1, &y);
    return y;
}

/* ---------------- slice_segments ---------------- */

/* One batch item: [C, seg] of y against x[b, :, id:id+seg]. */
static sview segment_view(int64_t C, int64_t T, int64_t seg, int dst_is_y) {
    sview v = {.nd = 2, .n = {C, seg}};
    v.sd[0] = dst_is_y ? seg : T;
    v.ss[0] = dst_is_y ? T : seg;
    v.sd[1] = v.ss[1] = 1;
    return v;
}

static void slice_segments_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    const int64_t *ids = n->saved;
    int64_t B = x->shape[0], C = x->shape[1], T = x->shape[2], seg = y->shape[2];
    float *gx = bv_grad(ctx, x);
    for (int64_t b = 0; b < B; b++)
        strided_apply(SK_ADD, gx + (b * C * T + ids[b]), y->grad + b * C * seg, segment_view(C, T, seg, 0));
}

bv_tensor *bv_slice_segments(bv_ctx *ctx, bv_tensor *x, bv_tensor *ids, int64_t segment_size) {
    check_input(ctx, "slice_segments", x);
    check_input(ctx, "slice_segments", ids);
    bv_check_ndim(ctx, "slice_segments", x, 3);
    bv_check_dtype(ctx, "slice_segments", ids, BV_I64);
    char a[96], b[96];
    int64_t B = x->shape[0], C = x->shape[1], T = x->shape[2];
    if (ids->numel != B)
        bv_ctx_error(ctx, "slice_segments", "ids %s must hold one start per batch item of x %s",
                     bv_shape_str(ids, a, sizeof a), bv_shape_str(x, b, sizeof b));
    if (segment_size < 0 || segment_size > T)
        bv_ctx_error(ctx, "slice_segments", "segment_size %lld does not fit x %s", (long long)segment_size,
                     bv_shape_str(x, b, sizeof b));
    int64_t *saved = bv_arena_alloc(&ctx->arena, sizeof(int64_t) * (size_t)(B ? B : 1));
    for (int64_t i = 0; i < B; i++) {
        int64_t s = ids->idata[i];
        if (s < 0 || s + segment_size > T)
            bv_ctx_error(ctx, "slice_segments", "ids[%lld] = %lld: segment of %lld leaves x %s (ids %s)", (long long)i,
                         (long long)s, (long long)segment_size, bv_shape_str(x, b, sizeof b),
                         bv_shape_str(ids, a, sizeof a));
        saved[i] = s;
    }
    bv_tensor *y = bv_new(ctx, x->dtype, 3, (int64_t[]){B, C, segment_size}); // [B, C, seg]
    size_t es = elem_size(x);
    for (int64_t i = 0; i < B; i++)
        strided_apply(copy_kind(x), (char *)tdata(y) + (size_t)(i * C * segment_size) * es,
                      (const char *)tdata(x) + (size_t)(i * C * T + saved[i]) * es,
                      segment_view(C, T, segment_size, 1));
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, BV_OP_GATHER_TIME, slice_segments_backward, 1, &x, 1, &y);
        n->saved = saved;
    }
    return y;
}

/* ---------------- dtype casts (no grad) ---------------- */

bv_tensor *bv_to_f32(bv_ctx *ctx, bv_tensor *x) {
    check_input(ctx, "to_f32", x);
    if (x->dtype == BV_F32) return x; /* like .float() on a float tensor: the same tensor */
    bv_tensor *y = bv_new(ctx, BV_F32, x->ndim, x->shape);
    for (int64_t i = 0; i < x->numel; i++) y->data[i] = (float)x->idata[i];
    return y;
}

bv_tensor *bv_to_i64(bv_ctx *ctx, bv_tensor *x) {
    check_input(ctx, "to_i64", x);
    if (x->dtype == BV_I64) return x;
    bv_tensor *y = bv_new(ctx, BV_I64, x->ndim, x->shape);
    for (int64_t i = 0; i < x->numel; i++) {
        float v = x->data[i];
        /* .long() truncates toward zero; out-of-range and NaN give INT64_MIN as on x86 torch */
        y->idata[i] = (v > -9.2233720368547758e18f && v < 9.2233720368547758e18f) ? (int64_t)v : INT64_MIN;
    }
    return y;
}
