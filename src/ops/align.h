/* align.h - exact, non-differentiable alignment and masking helpers ported from upstream
 * commons.py and monotonic_align/ (Bert-VITS2 2.3). None of them records a tape node; the outputs
 * are new arena tensors. Layout is PyTorch's; shapes in [dims].
 */
#ifndef BV_ALIGN_H
#define BV_ALIGN_H

#include "../core/ctx.h"

/* monotonic_align.maximum_path (numba maximum_path_jit): the monotonic alignment search.
 * neg_cent f32 [B, t_y, t_x], mask f32 [B, t_y, t_x] -> path f32 0/1 [B, t_y, t_x].
 * As upstream: scores are taken as float32, lengths are the mask sums mask.sum(1)[:, 0] (t_y) and
 * mask.sum(2)[:, 0] (t_x), max_neg_val is -1e9, and the backtrack moves to index-1 iff
 * index == y or value[y-1, index] < value[y-1, index-1] (strict: ties go straight). */
bv_tensor *bv_maximum_path(bv_ctx *ctx, bv_tensor *neg_cent, bv_tensor *mask);

/* commons.generate_path: duration f32 [B, 1, t_x], mask f32 [B, 1, t_y, t_x] -> path f32
 * [B, 1, t_y, t_x]; path[b, 0, y, x] = (y < cum[x]) - (y < cum[x-1]), times mask, with
 * cum = cumsum(duration) over t_x. */
bv_tensor *bv_generate_path(bv_ctx *ctx, bv_tensor *duration, bv_tensor *mask);

/* commons.sequence_mask: length I64 (or f32) [B] -> I64 0/1 [B, max_length], 1 where t < length[b].
 * max_length <= 0 means upstream's None: the largest length. */
bv_tensor *bv_sequence_mask(bv_ctx *ctx, bv_tensor *length, int64_t max_length);

/* commons.rand_slice_segments: x [B, C, T], x_lengths I64 [B] (NULL: T for every item) ->
 * y [B, C, segment_size]; *ids_str gets the I64 [B] starts
 * (rand([B]) * clamp(x_lengths - segment_size + 1, min=0)).long(). The draw goes through bv_rand,
 * so golden noise replays. Differentiable in x (through bv_slice_segments). */
bv_tensor *bv_rand_slice_segments(bv_ctx *ctx, bv_tensor *x, bv_tensor *x_lengths, int64_t segment_size,
                                  bv_tensor **ids_str);

/* commons.intersperse(lst, item): out[2i+1] = lst[i], every other slot item; out holds 2n+1
 * values. Returns 2n+1. */
int bv_intersperse(const int64_t *lst, int n, int64_t item, int64_t *out);

#endif
