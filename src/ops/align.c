/* align.c - exact, non-differentiable helpers from upstream commons.py and monotonic_align:
 * the monotonic alignment search (MAS), generate_path, sequence_mask, rand_slice_segments and
 * intersperse. They must match upstream bit for bit (alignments are compared exactly), so each one
 * follows the upstream arithmetic, including its float32/float64 mix. */
#include <string.h>

#include "align.h"
#include "ops.h"

/* ---------------- monotonic_align.maximum_path ---------------- */

/* numba's negative indices wrap around (value[y - 1] at y == 0 reads the last row). */
static inline int64_t wrap(int64_t i, int64_t n) { return i < 0 ? i + n : i; }

/* One batch item of maximum_path_jit, in place on value [Ty, Tx]. The locals are float64 in numba
 * (v_prev = v_cur = 0.0), so each update is float32 + float64 rounded back to float32. */
static void mas_one(float *path, float *value, int64_t Ty, int64_t Tx, int64_t t_y, int64_t t_x) {
    const double max_neg_val = -1e9;
    for (int64_t y = 0; y < t_y; y++) {
        int64_t x0 = t_x + y - t_y > 0 ? t_x + y - t_y : 0, x1 = t_x < y + 1 ? t_x : y + 1;
        for (int64_t x = x0; x < x1; x++) {
            double v_cur = x == y ? max_neg_val : (double)value[(y - 1) * Tx + x];
            double v_prev = x == 0 ? (y == 0 ? 0.0 : max_neg_val) : (double)value[(y - 1) * Tx + x - 1];
            double m = v_cur > v_prev ? v_cur : v_prev; /* python max(v_prev, v_cur) */
            value[y * Tx + x] = (float)((double)value[y * Tx + x] + m);
        }
    }
    int64_t index = t_x - 1;
    for (int64_t y = t_y - 1; y >= 0; y--) {
        path[y * Tx + index] = 1.0f;
        const float *prev = value + wrap(y - 1, Ty) * Tx;
        if (index != 0 && (index == y || prev[index] < prev[index - 1])) index--;
    }
}

bv_tensor *bv_maximum_path(bv_ctx *ctx, bv_tensor *neg_cent, bv_tensor *mask) {
    const char *op = "maximum_path";
    bv_check_cpu(ctx, op, neg_cent);
    bv_check_cpu(ctx, op, mask);
    bv_check_dtype(ctx, op, neg_cent, BV_F32);
    bv_check_dtype(ctx, op, mask, BV_F32);
    bv_check_ndim(ctx, op, neg_cent, 3);
    bv_check_same_shape(ctx, op, neg_cent, mask);
    const int64_t B = neg_cent->shape[0], Ty = neg_cent->shape[1], Tx = neg_cent->shape[2];
    int64_t *ty = bv_arena_alloc(&ctx->arena, sizeof(int64_t) * (size_t)(2 * B + 1)), *tx = ty + B;
    for (int64_t b = 0; b < B; b++) {
        /* t_t_max = mask.sum(1)[:, 0], t_s_max = mask.sum(2)[:, 0], float sums cast to int32 */
        const float *m = mask->data + b * Ty * Tx;
        float sy = 0, sx = 0;
        for (int64_t y = 0; y < Ty; y++) sy += m[y * Tx];
        for (int64_t x = 0; x < Tx; x++) sx += m[x];
        ty[b] = (int32_t)sy;
        tx[b] = (int32_t)sx;
        if (ty[b] < 0 || ty[b] > Ty || tx[b] < 0 || tx[b] > Tx || (tx[b] == 0 && ty[b] > 0)) {
            char s[96];
            bv_ctx_error(ctx, op, "batch item %lld: mask lengths t_y=%lld t_x=%lld do not fit neg_cent %s",
                         (long long)b, (long long)ty[b], (long long)tx[b], bv_shape_str(neg_cent, s, sizeof s));
        }
    }
    bv_tensor *path = bv_zeros(ctx, BV_F32, 3, neg_cent->shape); // [B, t_y, t_x]
    float *value = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(neg_cent->numel ? neg_cent->numel : 1));
    memcpy(value, neg_cent->data, sizeof(float) * (size_t)neg_cent->numel);
#pragma omp parallel for schedule(dynamic) if (B > 1 && neg_cent->numel >= 4096)
    for (int64_t b = 0; b < B; b++) mas_one(path->data + b * Ty * Tx, value + b * Ty * Tx, Ty, Tx, ty[b], tx[b]);
    return path;
}

/* ---------------- commons.generate_path ---------------- */

bv_tensor *bv_generate_path(bv_ctx *ctx, bv_tensor *duration, bv_tensor *mask) {
    const char *op = "generate_path";
    bv_check_cpu(ctx, op, duration);
    bv_check_cpu(ctx, op, mask);
    bv_check_dtype(ctx, op, duration, BV_F32);
    bv_check_dtype(ctx, op, mask, BV_F32);
    bv_check_ndim(ctx, op, mask, 4);
    const int64_t B = mask->shape[0], Ty = mask->shape[2], Tx = mask->shape[3];
    if (duration->ndim != 3 || duration->shape[0] != B || duration->shape[1] != 1 || duration->shape[2] != Tx ||
        mask->shape[1] != 1) {
        char a[96], c[96];
        bv_ctx_error(ctx, op, "duration %s must be [b, 1, t_x] for mask %s ([b, 1, t_y, t_x])",
                     bv_shape_str(duration, a, sizeof a), bv_shape_str(mask, c, sizeof c));
    }
    bv_tensor *path = bv_new(ctx, BV_F32, 4, mask->shape); // [B, 1, t_y, t_x]
    float *cum = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(B * Tx + 1));
    for (int64_t b = 0; b < B; b++) {
        double acc = 0; /* torch's CPU cumsum accumulates float in double */
        for (int64_t x = 0; x < Tx; x++) {
            acc += duration->data[b * Tx + x];
            cum[b * Tx + x] = (float)acc;
        }
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t y = 0; y < Ty; y++)
            for (int64_t x = 0; x < Tx; x++) {
                /* sequence_mask(cum, t_y) compares arange(t_y) in the float dtype of cum */
                float cur = (float)y < cum[b * Tx + x] ? 1.0f : 0.0f;
                float prev = x > 0 && (float)y < cum[b * Tx + x - 1] ? 1.0f : 0.0f;
                int64_t i = (b * Ty + y) * Tx + x;
                path->data[i] = (cur - prev) * mask->data[i];
            }
    return path;
}

/* ---------------- commons.sequence_mask ---------------- */

bv_tensor *bv_sequence_mask(bv_ctx *ctx, bv_tensor *length, int64_t max_length) {
    const char *op = "sequence_mask";
    bv_check_cpu(ctx, op, length);
    bv_check_ndim(ctx, op, length, 1);
    const int64_t B = length->shape[0];
    const int is_int = length->dtype == BV_I64;
    if (max_length <= 0) { /* upstream None: length.max() (arange of a float max rounds up) */
        max_length = 0;
        for (int64_t b = 0; b < B; b++) {
            int64_t l = is_int ? length->idata[b] : (int64_t)ceilf(length->data[b]);
            if (l > max_length) max_length = l;
        }
    }
    bv_tensor *m = bv_new(ctx, BV_I64, 2, (int64_t[]){B, max_length}); // [B, max_length]
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < max_length; t++)
            m->idata[b * max_length + t] = is_int ? t < length->idata[b] : (float)t < length->data[b];
    return m;
}

/* ---------------- commons.rand_slice_segments ---------------- */

bv_tensor *bv_rand_slice_segments(bv_ctx *ctx, bv_tensor *x, bv_tensor *x_lengths, int64_t segment_size,
                                  bv_tensor **ids_str) {
    const char *op = "rand_slice_segments";
    bv_check_cpu(ctx, op, x);
    bv_check_ndim(ctx, op, x, 3);
    const int64_t B = x->shape[0], T = x->shape[2];
    if (x_lengths) {
        bv_check_dtype(ctx, op, x_lengths, BV_I64);
        if (x_lengths->numel != B) {
            char a[96], c[96];
            bv_ctx_error(ctx, op, "x_lengths %s must hold one length per batch item of x %s",
                         bv_shape_str(x_lengths, a, sizeof a), bv_shape_str(x, c, sizeof c));
        }
    }
    bv_tensor *r = bv_rand(ctx, 1, (int64_t[]){B}); // [B]
    bv_tensor *ids = bv_new(ctx, BV_I64, 1, (int64_t[]){B}); // [B]
    for (int64_t b = 0; b < B; b++) {
        int64_t len = x_lengths ? x_lengths->idata[b] : T;
        int64_t hi = len - segment_size + 1 > 0 ? len - segment_size + 1 : 0;
        /* float tensor * long tensor is computed in float32, then .long() truncates */
        ids->idata[b] = (int64_t)(r->data[b] * (float)hi);
    }
    if (ids_str) *ids_str = ids;
    return bv_slice_segments(ctx, x, ids, segment_size);
}

/* ---------------- commons.intersperse ---------------- */

int bv_intersperse(const int64_t *lst, int n, int64_t item, int64_t *out) {
    for (int i = 0; i < 2 * n + 1; i++) out[i] = (i & 1) ? lst[i / 2] : item;
    return 2 * n + 1;
}
