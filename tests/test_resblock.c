/* test_resblock.c - modules.ResBlock1 / ResBlock2 (src/nn/resblock.c): golden cases A13 (no mask,
 * as models.Generator calls it) and A14 (masked), finite differences, and shape errors. */
#include <string.h>

#include "../src/nn/resblock.h"
#include "golden.h"

static void randomize_params(bv_ctx *ctx, bv_params *ps, float scale) {
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *p = ps->items[i];
        bv_test_randn(ctx, p, scale);
        size_t len = strlen(p->name);
        if (len >= 8 && !strcmp(p->name + len - 8, "weight_g"))
            for (int64_t j = 0; j < p->numel; j++) p->data[j] = 1.0f + 0.5f * p->data[j];
    }
}

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
    randomize_params(ctx, &ps, 0.5f);
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
