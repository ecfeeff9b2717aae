/* test_align.c - the alignment helpers (src/ops/align.c): hand-worked unit cases (tie rule,
 * mask-derived lengths, generate_path rows), shape errors, and the golden cases
 * A26_maximum_path, A27_maximum_path_ties, A28_generate_path, A29_sequence_mask,
 * A30_slice_segments, A31_rand_slice_segments and A32_intersperse. */
#include <string.h>

#include "../src/ops/align.h"
#include "../src/ops/ops.h"
#include "golden.h"
#include "test.h"

/* ---- unit tests ---- */

BV_TEST(align_maximum_path_ties_go_straight) {
    bv_ctx *ctx = ts->ctx;
    /* all-zero scores, t_y 4, t_x 2 inside a [1, 5, 3] padded batch */
    bv_tensor *nc = bv_zeros(ctx, BV_F32, BV_SHAPE(1, 5, 3));
    bv_tensor *mask = bv_zeros(ctx, BV_F32, BV_SHAPE(1, 5, 3));
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 2; x++) mask->data[y * 3 + x] = 1.0f;
    for (int64_t i = 0; i < nc->numel; i++) nc->data[i] = mask->data[i] ? 0.0f : 123.0f; /* padding ignored */
    bv_tensor *p = bv_maximum_path(ctx, nc, mask);
    /* y0 -> x0 (forced: index == y at y1), then straight on x1 for y1..3 */
    static const float want[15] = {1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0};
    int ok = 1;
    for (int i = 0; i < 15; i++) ok &= p->data[i] == want[i];
    BV_CHECK(ok, "tie path differs");
    BV_CHECK(!p->requires_grad && !p->node, "maximum_path records nothing");
}

BV_TEST(align_maximum_path_follows_best_scores) {
    bv_ctx *ctx = ts->ctx;
    /* t_y 4, t_x 2: the score favours moving to x1 only at the last frame */
    bv_tensor *nc = bv_from_f32(ctx, BV_SHAPE(1, 4, 2), (const float[]){0, -5, 1, -5, 1, -5, 0, 2});
    bv_tensor *mask = bv_full(ctx, BV_SHAPE(1, 4, 2), 1.0f);
    bv_tensor *p = bv_maximum_path(ctx, nc, mask);
    static const float want[8] = {1, 0, 1, 0, 1, 0, 0, 1};
    int ok = 1;
    for (int i = 0; i < 8; i++) ok &= p->data[i] == want[i];
    BV_CHECK(ok, "best path differs");
    BV_CHECK(nc->data[4] == 1.0f, "the scores are accumulated in a copy, not in neg_cent");
}

BV_TEST(align_generate_path_sequence_mask_intersperse) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *dur = bv_from_f32(ctx, BV_SHAPE(1, 1, 3), (const float[]){2, 0, 3});
    bv_tensor *mask = bv_full(ctx, BV_SHAPE(1, 1, 6, 3), 1.0f);
    mask->data[5 * 3 + 2] = 0.0f; /* last frame masked */
    bv_tensor *p = bv_generate_path(ctx, dur, mask);
    static const float want[18] = {1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0};
    int ok = p->ndim == 4 && p->shape[2] == 6;
    for (int i = 0; ok && i < 18; i++) ok &= p->data[i] == want[i];
    BV_CHECK(ok, "generate_path rows differ");

    bv_tensor *len = bv_new(ctx, BV_I64, BV_SHAPE(3));
    len->idata[0] = 2;
    len->idata[1] = 0;
    len->idata[2] = 4;
    bv_tensor *m = bv_sequence_mask(ctx, len, 0), *m6 = bv_sequence_mask(ctx, len, 6);
    BV_CHECK(m->dtype == BV_I64 && m->shape[0] == 3 && m->shape[1] == 4 && m6->shape[1] == 6, "sequence_mask shapes");
    ok = 1;
    for (int b = 0; b < 3; b++)
        for (int t = 0; t < 6; t++) ok &= m6->idata[b * 6 + t] == (t < len->idata[b]) && (t >= 4 || m->idata[b * 4 + t] == m6->idata[b * 6 + t]);
    BV_CHECK(ok, "sequence_mask values");

    int64_t lst[3] = {5, 6, 7}, out[7];
    int n = bv_intersperse(lst, 3, 0, out);
    static const int64_t wi[7] = {0, 5, 0, 6, 0, 7, 0};
    BV_CHECK(n == 7 && !memcmp(out, wi, sizeof wi), "intersperse");
    BV_CHECK(bv_intersperse(lst, 0, 9, out) == 1 && out[0] == 9, "intersperse of an empty list");
}

BV_TEST(align_rand_slice_segments_live_draws_in_range) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(3, 2, 12), 1.0f);
    bv_tensor *len = bv_new(ctx, BV_I64, BV_SHAPE(3));
    len->idata[0] = 12;
    len->idata[1] = 6;
    len->idata[2] = 3; /* shorter than the segment: clamp(len - seg + 1, 0) = 0 -> start 0 */
    for (int k = 0; k < 20; k++) {
        bv_tensor *ids = NULL;
        bv_tensor *y = bv_rand_slice_segments(ctx, x, len, 4, &ids);
        int ok = ids && ids->numel == 3 && y->shape[2] == 4;
        for (int b = 0; ok && b < 3; b++) {
            int64_t hi = len->idata[b] - 4 + 1 > 0 ? len->idata[b] - 4 + 1 : 0;
            ok &= ids->idata[b] >= 0 && (hi == 0 ? ids->idata[b] == 0 : ids->idata[b] < hi);
            for (int c = 0; c < 2; c++)
                for (int s = 0; s < 4; s++)
                    ok &= y->data[(b * 2 + c) * 4 + s] == x->data[(b * 2 + c) * 12 + ids->idata[b] + s];
        }
        BV_CHECK(ok, "draw %d: ids out of range or values differ", k);
    }
}

BV_TEST(align_errors_name_op_and_shapes) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    int r;
    bv_tensor *nc = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 5, 3)), *mk = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 5, 4));
    r = BV_EXPECT_ERROR(ctx, msg, bv_maximum_path(ctx, nc, mk));
    BV_CHECK(r && strstr(msg, "maximum_path") && strstr(msg, "[2, 5, 3]") && strstr(msg, "[2, 5, 4]"), "mas: %s", msg);
    bv_tensor *dur = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 1, 4)), *am = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 1, 6, 3));
    r = BV_EXPECT_ERROR(ctx, msg, bv_generate_path(ctx, dur, am));
    BV_CHECK(r && strstr(msg, "generate_path") && strstr(msg, "[2, 1, 4]") && strstr(msg, "[2, 1, 6, 3]"), "gp: %s",
             msg);
    bv_tensor *len2 = bv_zeros(ctx, BV_I64, BV_SHAPE(2, 2));
    r = BV_EXPECT_ERROR(ctx, msg, bv_sequence_mask(ctx, len2, 0));
    BV_CHECK(r && strstr(msg, "sequence_mask") && strstr(msg, "[2, 2]"), "sm: %s", msg);
    bv_tensor *x = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 3, 8)), *xl = bv_zeros(ctx, BV_I64, BV_SHAPE(3));
    r = BV_EXPECT_ERROR(ctx, msg, bv_rand_slice_segments(ctx, x, xl, 2, NULL));
    BV_CHECK(r && strstr(msg, "rand_slice_segments") && strstr(msg, "[2, 3, 8]") && strstr(msg, "[3]"), "rss: %s",
             msg);
}

/* ---- golden cases ---- */

/* maximum_path output, plus the path property: one step per frame, sum(path[b]) == t_y[b]. */
static void golden_maximum_path(bv_test_state *ts, const char *case_name) {
    bv_golden *g = bv_golden_open(ts, ts->ctx, case_name);
    if (!g) return;
    bv_tensor *nc = bv_golden_tensor(g, "in.neg_cent"), *mask = bv_golden_tensor(g, "in.mask");
    if (nc && mask) {
        bv_tensor *path = bv_maximum_path(ts->ctx, nc, mask);
        bv_golden_output(g, "path", path);
        long long ty[64];
        int nb = bv_golden_cfg_ints(g, "t_y_lengths", ty, 64);
        BV_CHECK(nb == path->shape[0], "config t_y_lengths has %d entries for batch %lld", nb, (long long)path->shape[0]);
        int64_t per = path->shape[1] * path->shape[2];
        for (int b = 0; b < nb && b < 64 && b < path->shape[0]; b++) {
            double s = 0;
            for (int64_t i = 0; i < per; i++) s += path->data[b * per + i];
            BV_CHECK(s == (double)ty[b], "batch %d: path has %g steps, t_y is %lld", b, s, ty[b]);
        }
    }
    bv_golden_close(g);
}

BV_GOLDEN_TEST(align_golden_A26_maximum_path) { golden_maximum_path(ts, "A26_maximum_path"); }
BV_GOLDEN_TEST(align_golden_A27_maximum_path_ties) { golden_maximum_path(ts, "A27_maximum_path_ties"); }

BV_GOLDEN_TEST(align_golden_A28_generate_path) {
    bv_golden *g = bv_golden_open(ts, ts->ctx, "A28_generate_path");
    if (!g) return;
    bv_tensor *dur = bv_golden_tensor(g, "in.duration"), *mask = bv_golden_tensor(g, "in.mask");
    if (dur && mask) bv_golden_output(g, "path", bv_generate_path(ts->ctx, dur, mask));
    bv_golden_close(g);
}

BV_GOLDEN_TEST(align_golden_A29_sequence_mask) {
    bv_golden *g = bv_golden_open(ts, ts->ctx, "A29_sequence_mask");
    if (!g) return;
    bv_tensor *len = bv_golden_tensor(g, "in.length");
    bv_tensor *stored = bv_golden_tensor(g, "out.mask_max8"); /* its width is the max_length upstream passed */
    if (len && stored) {
        BV_CHECK(stored->ndim == 2, "out.mask_max8 must be 2-d");
        bv_golden_output(g, "mask_max8", bv_sequence_mask(ts->ctx, len, stored->shape[stored->ndim - 1]));
        bv_golden_output(g, "mask_none", bv_sequence_mask(ts->ctx, len, 0));
    }
    bv_golden_close(g);
}

BV_GOLDEN_TEST(align_golden_A30_slice_segments) {
    bv_golden *g = bv_golden_open(ts, ts->ctx, "A30_slice_segments");
    if (!g) return;
    int64_t seg = bv_golden_cfg_int(g, "segment_size");
    bv_tensor *x = bv_golden_input(g, "in.x"), *ids = bv_golden_tensor(g, "in.ids_str");
    if (x && ids) {
        bv_golden_output(g, "y", bv_slice_segments(ts->ctx, x, ids, seg));
        bv_golden_backward(g);
        bv_golden_check_grads(g, NULL, "param.");
    }
    bv_golden_close(g);
}

BV_GOLDEN_TEST(align_golden_A31_rand_slice_segments) {
    bv_golden *g = bv_golden_open(ts, ts->ctx, "A31_rand_slice_segments");
    if (!g) return;
    int64_t seg = bv_golden_cfg_int(g, "segment_size");
    bv_tensor *x = bv_golden_input(g, "in.x"), *xl = bv_golden_tensor(g, "in.x_lengths");
    if (x && xl) {
        bv_golden_replay_noise(g);
        bv_tensor *ids = NULL;
        bv_tensor *y = bv_rand_slice_segments(ts->ctx, x, xl, seg, &ids);
        bv_golden_output(g, "y", y);
        bv_golden_output(g, "ids_str", ids);
        BV_CHECK(ts->ctx->rng.next_replay == ts->ctx->rng.n_replay, "every recorded draw must be consumed (%d of %d)",
                 ts->ctx->rng.next_replay, ts->ctx->rng.n_replay);
        bv_golden_backward(g);
        bv_golden_check_grads(g, NULL, "param.");
    }
    bv_golden_close(g);
}

BV_GOLDEN_TEST(align_golden_A32_intersperse) {
    bv_golden *g = bv_golden_open(ts, ts->ctx, "A32_intersperse");
    if (!g) return;
    int64_t item = bv_golden_cfg_int(g, "item");
    bv_tensor *lst = bv_golden_tensor(g, "in.lst");
    if (lst) {
        bv_tensor *res = bv_new(ts->ctx, BV_I64, 1, (int64_t[]){2 * lst->numel + 1});
        bv_intersperse(lst->idata, (int)lst->numel, item, res->idata);
        bv_golden_output(g, "result", res);
    }
    bv_golden_close(g);
}
