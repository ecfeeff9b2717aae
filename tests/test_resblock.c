/* test_resblock.c - modules.ResBlock1 / ResBlock2 (src/nn/resblock.c): golden cases A13 (no mask,
 * as models.Generator calls it) and A14 (masked), finite differences (plain and channel-blocked
 * paths), the blocked path against the plain one, and shape errors. */
#include <stdlib.h>
#include <string.h>

#include "../src/nn/resblock.h"
#include "../src/ops/conv_ref.h"
#include "fixtures.h"
#include "golden.h"

/* kind 1 or 2; every dimension from the manifest, mask used when the case stores one. */
static void run_golden(bv_test_state *ts, const char *case_name, int kind) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, case_name);
    if (!g) return;
    int channels = (int)bv_golden_cfg_int(g, "channels"), kernel_size = (int)bv_golden_cfg_int(g, "kernel_size");
    long long dil[8];
    int nd = bv_golden_cfg_ints(g, "dilation", dil, 8);
    int want_nd = kind == 1 ? 3 : 2;
    BV_CHECK(nd == want_nd, "%s: config dilation has %d entries, ResBlock%d takes %d", case_name, nd, kind, want_nd);
    if (ts->failed) {
        bv_golden_close(g);
        return;
    }
    int d[3] = {(int)dil[0], (int)dil[1], kind == 1 ? (int)dil[2] : 0};
    bv_params ps;
    bv_params_init(&ps);
    bv_resblock1 *r1 = kind == 1 ? bv_resblock1_new(&ps, "", channels, kernel_size, d) : NULL;
    bv_resblock2 *r2 = kind == 2 ? bv_resblock2_new(&ps, "", channels, kernel_size, d) : NULL;
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x");                                                   // [B, C, T]
    bv_tensor *x_mask = bv_golden_has(g, "in.x_mask") ? bv_golden_tensor(g, "in.x_mask") : NULL; // [B, 1, T]
    if (x) {
        bv_tensor *y = kind == 1 ? bv_resblock1_forward(ctx, r1, x, x_mask) : bv_resblock2_forward(ctx, r2, x, x_mask);
        bv_golden_output(g, "y", y);
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    }
    bv_resblock1_free(r1);
    bv_resblock2_free(r2);
    bv_params_free(&ps);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(resblock_golden_A13_resblock1) { run_golden(ts, "A13_resblock1", 1); }
BV_GOLDEN_TEST(resblock_golden_A14_resblock2_masked) { run_golden(ts, "A14_resblock2_masked", 2); }

typedef struct {
    const bv_resblock1 *r1;
    const bv_resblock2 *r2;
    bv_tensor *mask;
} rb_case;

static bv_tensor *rb_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    rb_case *c = user;
    return c->r1 ? bv_resblock1_forward(ctx, c->r1, in[0], c->mask) : bv_resblock2_forward(ctx, c->r2, in[0], c->mask);
}

BV_TEST(resblock_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_resblock1 *r1 = bv_resblock1_new(&ps, "r1.", 3, 3, (int[]){1, 2, 3});
    bv_resblock2 *r2 = bv_resblock2_new(&ps, "r2.", 3, 3, (int[]){1, 3});
    bv_test_randomize_params(ctx, &ps, 0.5f, 0.5f);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 8), 1.0f);
    bv_tensor *mask = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 1, 8));
    for (int t = 0; t < 8; t++) mask->data[t] = 1.0f;
    for (int t = 0; t < 5; t++) mask->data[8 + t] = 1.0f;
    rb_case c1 = {r1, NULL, NULL}, c1m = {r1, NULL, mask}, c2m = {NULL, r2, mask};
    bv_tensor *in1[] = {x, bv_params_get(&ps, "r1.convs1.1.weight_v"), bv_params_get(&ps, "r1.convs2.2.weight_g"),
                        bv_params_get(&ps, "r1.convs2.0.bias")};
    bv_tensor *in2[] = {x, bv_params_get(&ps, "r2.convs.1.weight_v"), bv_params_get(&ps, "r2.convs.0.weight_g")};
    bv_gradcheck(ts, "ResBlock1 no mask", rb_fn, 4, in1, &c1, 1e-3, 1e-3, 1e-2, 40);
    /* six convs deep plus masking: the f32 forward's rounding, divided by 2 eps, reaches the
     * tolerance at eps 1e-3 for a few elements; 2e-3 passes for every element */
    bv_gradcheck(ts, "ResBlock1 masked", rb_fn, 4, in1, &c1m, 2e-3, 1e-3, 1e-2, 40);
    bv_gradcheck(ts, "ResBlock2 masked", rb_fn, 3, in2, &c2m, 1e-3, 1e-3, 1e-2, 40);
    bv_resblock1_free(r1);
    bv_resblock2_free(r2);
    bv_params_free(&ps);
}

/* 16 channels, no mask: the channel-blocked path where this CPU has it (bv_conv_layout_for). */
BV_TEST(resblock_gradcheck_blocked) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_resblock1 *r1 = bv_resblock1_new(&ps, "r1.", 16, 3, (int[]){1, 2, 3});
    bv_resblock2 *r2 = bv_resblock2_new(&ps, "r2.", 16, 3, (int[]){1, 3});
    bv_test_randomize_params(ctx, &ps, 0.3f, 0.5f);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(1, 16, 6), 1.0f);
    rb_case c1 = {r1, NULL, NULL}, c2 = {NULL, r2, NULL};
    bv_tensor *in1[] = {x, bv_params_get(&ps, "r1.convs1.1.weight_v"), bv_params_get(&ps, "r1.convs2.2.weight_g"),
                        bv_params_get(&ps, "r1.convs1.0.bias")};
    bv_tensor *in2[] = {x, bv_params_get(&ps, "r2.convs.1.weight_v"), bv_params_get(&ps, "r2.convs.0.bias")};
    /* 16 channels, six convs deep: as "ResBlock1 masked" above, eps 1e-3 sits at the f32 forward's
     * rounding for a few elements (the plain path's analytic gradients are the same to 6 digits) */
    bv_gradcheck(ts, "ResBlock1 16 channels", rb_fn, 4, in1, &c1, 2e-3, 1e-3, 1e-2, 40);
    bv_gradcheck(ts, "ResBlock2 16 channels", rb_fn, 3, in2, &c2, 1e-3, 1e-3, 1e-2, 40);
    bv_resblock1_free(r1);
    bv_resblock2_free(r2);
    bv_params_free(&ps);
}

/* |a - b| <= tol * max(1, max|b|) over n values */
static int blocked_ok(bv_test_state *ts, int64_t channels) {
    return bv_conv_layout_for(ts->ctx->be, channels) == BV_CONV_LAYOUT_BLOCKED;
}

static void check_close(bv_test_state *ts, const char *what, const float *a, const float *b, int64_t n, double tol) {
    double m = 1, worst = 0;
    for (int64_t i = 0; i < n; i++) m = fabs(b[i]) > m ? fabs(b[i]) : m;
    for (int64_t i = 0; i < n; i++) worst = fabs((double)a[i] - b[i]) > worst ? fabs((double)a[i] - b[i]) : worst;
    BV_CHECK(worst <= tol * m, "%s: max difference %g (scale %g)", what, worst, m);
}

/* y and every gradient, copied out: [y | grad x | grad of each parameter] */
static float *run_collect(bv_ctx *ctx, bv_params *ps, const rb_case *c, bv_tensor *x, bv_tensor *gy, int64_t *n) {
    int64_t tape0 = ctx->tape_len;
    bv_params_zero_grad(ps);
    x->grad = NULL;
    bv_tensor *y = rb_fn(ctx, &x, (void *)c);
    bv_backward(ctx, y, gy);
    bv_tape_cut(ctx, tape0);
    int64_t total = y->numel + x->numel;
    for (int i = 0; i < ps->n; i++) total += ps->items[i]->numel;
    float *out = malloc(sizeof(float) * (size_t)total), *p = out;
    memcpy(p, y->data, sizeof(float) * (size_t)y->numel);
    p += y->numel;
    memcpy(p, x->grad, sizeof(float) * (size_t)x->numel);
    p += x->numel;
    for (int i = 0; i < ps->n; i++, p += ps->items[i - 1]->numel)
        memcpy(p, ps->items[i]->grad, sizeof(float) * (size_t)ps->items[i]->numel);
    *n = total;
    return out;
}

/* The blocked path (32 channels, no mask) computes what the plain path does: outputs and every
 * gradient agree to fp32 rounding (the plain run forces oneDNN's plain sgemm kernels). */
BV_TEST(resblock_blocked_matches_plain) {
    bv_ctx *ctx = ts->ctx;
    if (!blocked_ok(ts, 32)) fprintf(stderr, "  (no 16-channel blocking on this CPU: plain against plain)\n");
    for (int kind = 1; kind <= 2; kind++) {
        bv_params ps;
        bv_params_init(&ps);
        bv_resblock1 *r1 = kind == 1 ? bv_resblock1_new(&ps, "", 32, 5, (int[]){1, 3, 5}) : NULL;
        bv_resblock2 *r2 = kind == 2 ? bv_resblock2_new(&ps, "", 32, 5, (int[]){1, 3}) : NULL;
        bv_test_randomize_params(ctx, &ps, 0.3f, 0.5f);
        bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 32, 37), 1.0f); // [B, C, T]
        bv_tensor *gy = bv_test_input(ctx, BV_SHAPE(2, 32, 37), 1.0f);
        rb_case c = {r1, r2, NULL};
        int64_t na, nb;
        float *a = run_collect(ctx, &ps, &c, x, gy, &na);
        bv_conv_set_layout(ts->ctx->be, BV_CONV_LAYOUT_PLAIN);
        BV_CHECK(!blocked_ok(ts, 32), "a plain layout must turn the blocked path off");
        float *b = run_collect(ctx, &ps, &c, x, gy, &nb);
        bv_conv_set_layout(ts->ctx->be, BV_CONV_LAYOUT_AUTO);
        BV_CHECK(na == nb, "sizes");
        if (na == nb) check_close(ts, kind == 1 ? "ResBlock1 blocked vs plain" : "ResBlock2 blocked vs plain", a, b, na,
                                  1e-5);
        free(a);
        free(b);
        bv_resblock1_free(r1);
        bv_resblock2_free(r2);
        bv_params_free(&ps);
    }
}

/* Blocked input (the Generator converts once per stage): a blocked result, the same values as
 * the plain call; a blocked x takes no mask, and must have the block's channels. */
BV_TEST(resblock_blocked_input) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_resblock1 *r1 = bv_resblock1_new(&ps, "a.", 32, 3, (int[]){1, 3, 5});
    bv_resblock2 *r2 = bv_resblock2_new(&ps, "b.", 32, 3, (int[]){1, 3});
    bv_test_randomize_params(ctx, &ps, 0.3f, 0.5f);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 32, 21), 1.0f); // [B, C, T]
    for (int kind = 1; kind <= 2; kind++) {
        bv_tensor *y = kind == 1 ? bv_resblock1_forward(ctx, r1, x, NULL) : bv_resblock2_forward(ctx, r2, x, NULL);
        bv_tensor *xb = bv_conv_block(ctx, x); // [B, C/16, T, 16]
        bv_tensor *yb = kind == 1 ? bv_resblock1_forward(ctx, r1, xb, NULL) : bv_resblock2_forward(ctx, r2, xb, NULL);
        BV_CHECK(yb->ndim == 4 && bv_same_shape(yb, xb), "ResBlock%d: blocked in, blocked out", kind);
        bv_tensor *yu = bv_conv_unblock(ctx, yb);
        int same = yu->numel == y->numel && !memcmp(yu->data, y->data, sizeof(float) * (size_t)y->numel);
        if (blocked_ok(ts, 32)) BV_CHECK(same, "ResBlock%d: blocked input gives other values", kind);
        else check_close(ts, "blocked input", yu->data, y->data, y->numel, 1e-5);
    }
    char msg[512];
    bv_tensor *xb = bv_conv_block(ctx, x), *mask = bv_full(ctx, BV_SHAPE(2, 1, 21), 1.0f);
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_resblock1_forward(ctx, r1, xb, mask));
    BV_CHECK(raised && strstr(msg, "ResBlock1") && strstr(msg, "[2, 2, 21, 16]") && strstr(msg, "mask"),
             "a blocked x with a mask must raise: %s", raised ? msg : "(nothing)");
    bv_tensor *x48 = bv_test_input(ctx, BV_SHAPE(2, 3, 21, 16), 1.0f); /* 48 channels */
    raised = BV_EXPECT_ERROR(ctx, msg, bv_resblock2_forward(ctx, r2, x48, NULL));
    BV_CHECK(raised && strstr(msg, "ResBlock2") && strstr(msg, "[2, 3, 21, 16]"),
             "48 blocked channels into a 32-channel block must raise: %s", raised ? msg : "(nothing)");
    bv_resblock1_free(r1);
    bv_resblock2_free(r2);
    bv_params_free(&ps);
}

BV_TEST(resblock_param_names) {
    bv_params ps;
    bv_params_init(&ps);
    bv_resblock1 *r1 = bv_resblock1_new(&ps, "dec.resblocks.0.", 4, 3, (int[]){1, 3, 5});
    bv_resblock2 *r2 = bv_resblock2_new(&ps, "dec.resblocks.1.", 4, 5, (int[]){1, 3});
    BV_CHECK(ps.n == 18 + 6, "parameter count %d", ps.n);
    BV_CHECK(ps.n > 3 && !strcmp(ps.items[0]->name, "dec.resblocks.0.convs1.0.bias") &&
                 !strcmp(ps.items[9]->name, "dec.resblocks.0.convs2.0.bias") &&
                 !strcmp(ps.items[23]->name, "dec.resblocks.1.convs.1.weight_v"),
             "names/order");
    BV_CHECK(ps.n == 24 && ps.items[23]->shape[2] == 5, "kernel size of convs.1");
    bv_resblock1_free(r1);
    bv_resblock2_free(r2);
    bv_params_free(&ps);
}

BV_TEST(resblock_bad_mask_shape_error) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_resblock1 *r1 = bv_resblock1_new(&ps, "", 3, 3, (int[]){1, 3, 5});
    bv_resblock2 *r2 = bv_resblock2_new(&ps, "b.", 3, 3, (int[]){1, 3});
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f);
    bv_tensor *bad = bv_full(ctx, BV_SHAPE(2, 3, 6), 1.0f);
    char msg[512];
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_resblock1_forward(ctx, r1, x, bad));
    BV_CHECK(raised && strstr(msg, "ResBlock1") && strstr(msg, "[2, 3, 6]"), "mask [2, 3, 6] must raise: %s",
             raised ? msg : "(nothing)");
    raised = BV_EXPECT_ERROR(ctx, msg, bv_resblock2_forward(ctx, r2, x, bv_full(ctx, BV_SHAPE(1, 1, 6), 1.0f)));
    BV_CHECK(raised && strstr(msg, "ResBlock2") && strstr(msg, "[1, 1, 6]") && strstr(msg, "[2, 3, 6]"),
             "mask [1, 1, 6] must raise: %s", raised ? msg : "(nothing)");
    bv_tensor *x4 = bv_test_input(ctx, BV_SHAPE(2, 4, 6), 1.0f);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_resblock2_forward(ctx, r2, x4, NULL));
    BV_CHECK(raised && strstr(msg, "[2, 4, 6]"), "4 channels into a 3-channel block must raise: %s",
             raised ? msg : "(nothing)");
    bv_resblock1_free(r1);
    bv_resblock2_free(r2);
    bv_params_free(&ps);
}
