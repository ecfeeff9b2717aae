/* align.c - exact, non-differentiable helpers from upstream commons.py and monotonic_align:
 * the monotonic alignment search (MAS), generate_path, sequence_mask, rand_slice_segments and
 * intersperse: constructors; the arithmetic is the device's align slots (cpu/align.c), which
 * follow upstream bit for bit (alignments are compared exactly). */
#include "align.h"
#include "dispatch.h"
#include "ops.h"

/* ---------------- monotonic_align.maximum_path ---------------- */

bv_tensor *bv_maximum_path(bv_ctx *ctx, bv_tensor *neg_cent, bv_tensor *mask) {
    const char *op = "maximum_path";
    bv_tensor *ins[2] = {neg_cent, mask};
    const bv_kernels *kt = bv_dispatch(ctx, op, 2, ins);
    bv_check_dtype(ctx, op, neg_cent, BV_F32);
    bv_check_dtype(ctx, op, mask, BV_F32);
    bv_check_ndim(ctx, op, neg_cent, 3);
    bv_check_same_shape(ctx, op, neg_cent, mask);
    const int64_t B = neg_cent->shape[0], Ty = neg_cent->shape[1], Tx = neg_cent->shape[2];
    int64_t *ty = bv_arena_alloc(&ctx->arena, sizeof(int64_t) * (size_t)(2 * B + 1)), *tx = ty + B;
    BV_KERNEL(ctx, kt, align, mas_lengths, op)(ty, tx, mask->data, B, Ty, Tx);
    for (int64_t b = 0; b < B; b++) {
        if (ty[b] < 0 || ty[b] > Ty || tx[b] < 0 || tx[b] > Tx || (tx[b] == 0 && ty[b] > 0)) {
            char s[96];
            bv_ctx_error(ctx, op, "batch item %lld: mask lengths t_y=%lld t_x=%lld do not fit neg_cent %s",
                         (long long)b, (long long)ty[b], (long long)tx[b], bv_shape_str(neg_cent, s, sizeof s));
        }
    }
    bv_tensor *path = bv_zeros(ctx, BV_F32, 3, neg_cent->shape); // [B, t_y, t_x]
    float *value = bv_ctx_scratch(ctx, sizeof(float) * (size_t)(neg_cent->numel ? neg_cent->numel : 1));
    BV_KERNEL(ctx, kt, align, maximum_path, op)(path->data, value, neg_cent->data, ty, tx, B, Ty, Tx);
    return path;
}

/* ---------------- commons.generate_path ---------------- */

bv_tensor *bv_generate_path(bv_ctx *ctx, bv_tensor *duration, bv_tensor *mask) {
    const char *op = "generate_path";
    bv_tensor *ins[2] = {duration, mask};
    const bv_kernels *kt = bv_dispatch(ctx, op, 2, ins);
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
    float *cum = bv_ctx_scratch(ctx, sizeof(float) * (size_t)(B * Tx + 1));
    BV_KERNEL(ctx, kt, align, generate_path, op)(path->data, cum, duration->data, mask->data, B, Ty, Tx);
    return path;
}

/* ---------------- commons.sequence_mask ---------------- */

bv_tensor *bv_sequence_mask(bv_ctx *ctx, bv_tensor *length, int64_t max_length) {
    const char *op = "sequence_mask";
    const bv_kernels *kt = bv_dispatch(ctx, op, 1, &length);
    bv_check_ndim(ctx, op, length, 1);
    const int64_t B = length->shape[0];
    const int is_int = length->dtype == BV_I64;
    const int64_t *idata = is_int ? length->idata : NULL;
    const float *fdata = is_int ? NULL : length->data;
    if (max_length <= 0) max_length = BV_KERNEL(ctx, kt, align, max_length, op)(idata, fdata, B); /* upstream None */
    bv_tensor *m = bv_new(ctx, BV_I64, 2, (int64_t[]){B, max_length}); // [B, max_length]
    BV_KERNEL(ctx, kt, align, sequence_mask, op)(m->idata, idata, fdata, B, max_length);
    return m;
}

/* ---------------- commons.rand_slice_segments ---------------- */

bv_tensor *bv_rand_slice_segments(bv_ctx *ctx, bv_tensor *x, bv_tensor *x_lengths, int64_t segment_size,
                                  bv_tensor **ids_str) {
    const char *op = "rand_slice_segments";
    bv_tensor *ins[2] = {x, x_lengths};
    const bv_kernels *kt = bv_dispatch(ctx, op, 2, ins);
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
    BV_KERNEL(ctx, kt, align, slice_starts, op)(ids->idata, r->data, x_lengths ? x_lengths->idata : NULL, B, T,
                                                segment_size);
    if (ids_str) *ids_str = ids;
    return bv_slice_segments(ctx, x, ids, segment_size);
}

/* ---------------- commons.intersperse ---------------- */

int bv_intersperse(const int64_t *lst, int n, int64_t item, int64_t *out) {
    for (int i = 0; i < 2 * n + 1; i++) out[i] = (i & 1) ? lst[i / 2] : item;
    return 2 * n + 1;
}
