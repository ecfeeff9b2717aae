/* test_wn.c - modules.WN (src/nn/wn.c), its fused tanh*sigmoid gate, and the conv module wrapper
 * it is built from (src/nn/conv_layers.c): golden case A12, finite-difference checks, errors. */
#include <string.h>

#include "../src/nn/wn.h"
#include "fixtures.h"
#include "golden.h"

BV_GOLDEN_TEST(wn_golden_A12_wn_gin) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "A12_wn_gin");
    if (!g) return;
    bv_wn_cfg cfg = {.hidden_channels = (int)bv_golden_cfg_int(g, "hidden_channels"),
                     .kernel_size = (int)bv_golden_cfg_int(g, "kernel_size"),
                     .dilation_rate = (int)bv_golden_cfg_int(g, "dilation_rate"),
                     .n_layers = (int)bv_golden_cfg_int(g, "n_layers"),
                     .gin_channels = (int)bv_golden_cfg_int_or(g, "gin_channels", 0),
                     .p_dropout = (float)bv_golden_cfg_num(g, "p_dropout")};
    if (ts->failed) {
        bv_golden_close(g);
        return;
    }
    bv_params ps;
    bv_params_init(&ps);
    bv_wn *m = bv_wn_new(&ps, "", &cfg);
    bv_golden_load_params(g, &ps, "param.");
    bv_golden_replay_noise(g);
    bv_tensor *x = bv_golden_input(g, "in.x");                                          // [B, H, T]
    bv_tensor *x_mask = bv_golden_tensor(g, "in.x_mask");                               // [B, 1, T]
    bv_tensor *cond = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL;     // [B, gin, 1]
    if (x && x_mask) {
        bv_tensor *y = bv_wn_forward(ctx, m, x, x_mask, cond, 1);                       // [B, H, T]
        bv_golden_output(g, "y", y);
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    }
    bv_wn_free(m);
    bv_params_free(&ps);
    bv_golden_close(g);
}

/* ---- the fused gate ---- */

static bv_tensor *gate_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    return bv_fused_add_tanh_sigmoid_multiply(ctx, in[0], user ? NULL : in[1], 3);
}

BV_TEST(wn_fused_gate_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *a = bv_test_input(ctx, BV_SHAPE(2, 6, 7), 1.0f);
    bv_tensor *b_full = bv_test_input(ctx, BV_SHAPE(2, 6, 7), 1.0f);
    bv_tensor *b_bcast = bv_test_input(ctx, BV_SHAPE(2, 6, 1), 1.0f);
    bv_gradcheck(ts, "gate b [B,2n,T]", gate_fn, 2, (bv_tensor *[]){a, b_full}, NULL, 1e-3, 1e-3, 1e-2, 100);
    bv_gradcheck(ts, "gate b [B,2n,1]", gate_fn, 2, (bv_tensor *[]){a, b_bcast}, NULL, 1e-3, 1e-3, 1e-2, 100);
    bv_gradcheck(ts, "gate b NULL", gate_fn, 1, (bv_tensor *[]){a}, (void *)1, 1e-3, 1e-3, 1e-2, 100);
}

BV_TEST(wn_fused_gate_values) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *a = bv_test_input(ctx, BV_SHAPE(1, 4, 3), 1.0f);
    bv_tensor *b = bv_test_input(ctx, BV_SHAPE(1, 4, 1), 1.0f);
    bv_tensor *y = bv_fused_add_tanh_sigmoid_multiply(ctx, a, b, 2); // [1, 2, 3]
    for (int c = 0; c < 2; c++)
        for (int t = 0; t < 3; t++) {
            double it = (double)a->data[c * 3 + t] + b->data[c], is = (double)a->data[(c + 2) * 3 + t] + b->data[c + 2];
            double want = tanh(it) / (1 + exp(-is));
            BV_CHECK(fabs(y->data[c * 3 + t] - want) < 1e-6, "gate[%d,%d] = %g, expected %g", c, t, y->data[c * 3 + t],
                     want);
        }
}

BV_TEST(wn_fused_gate_shape_error) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *a = bv_test_input(ctx, BV_SHAPE(2, 6, 7), 1.0f);
    bv_tensor *b = bv_test_input(ctx, BV_SHAPE(2, 6, 5), 1.0f);
    char msg[512];
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_fused_add_tanh_sigmoid_multiply(ctx, a, b, 3));
    BV_CHECK(raised, "a [2, 6, 7] + b [2, 6, 5] must raise");
    BV_CHECK(raised && strstr(msg, "fused_add_tanh_sigmoid_multiply") && strstr(msg, "[2, 6, 7]") &&
                 strstr(msg, "[2, 6, 5]"),
             "message: %s", msg);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_fused_add_tanh_sigmoid_multiply(ctx, a, NULL, 2));
    BV_CHECK(raised && strstr(msg, "[2, 6, 7]"), "a with 6 channels and n_channels 2 must raise: %s", msg);
}

/* ---- the whole WN ---- */

typedef struct {
    const bv_wn *m;
    bv_tensor *mask;
} wn_case;

static bv_tensor *wn_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    wn_case *c = user;
    return bv_wn_forward(ctx, c->m, in[0], c->mask, in[1], 0);
}

BV_TEST(wn_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_wn *m = bv_wn_new(&ps, "enc.",
                         &(bv_wn_cfg){.hidden_channels = 3, .kernel_size = 3, .dilation_rate = 2, .n_layers = 3,
                                      .gin_channels = 2});
    bv_test_randomize_params(ctx, &ps, 0.5f, 0.5f);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f);
    bv_tensor *cond = bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f);
    wn_case c = {m, bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4})};
    bv_tensor *in[] = {x, cond, bv_params_get(&ps, "enc.in_layers.1.weight_v"), bv_params_get(&ps, "enc.in_layers.1.weight_g"),
                       bv_params_get(&ps, "enc.res_skip_layers.2.bias"), bv_params_get(&ps, "enc.cond_layer.weight_v")};
    for (int i = 0; i < 6; i++) BV_CHECK(in[i] != NULL, "input %d missing", i);
    if (!ts->failed) bv_gradcheck(ts, "WN", wn_fn, 6, in, &c, 1e-3, 1e-3, 1e-2, 30);
    bv_wn_free(m);
    bv_params_free(&ps);
}

BV_TEST(wn_param_names_and_order) {
    bv_params ps;
    bv_params_init(&ps);
    bv_wn *m = bv_wn_new(&ps, "p.", &(bv_wn_cfg){.hidden_channels = 4, .kernel_size = 5, .dilation_rate = 1, .n_layers = 2});
    const char *want[] = {"p.in_layers.0.bias",        "p.in_layers.0.weight_g",        "p.in_layers.0.weight_v",
                          "p.in_layers.1.bias",        "p.in_layers.1.weight_g",        "p.in_layers.1.weight_v",
                          "p.res_skip_layers.0.bias",  "p.res_skip_layers.0.weight_g",  "p.res_skip_layers.0.weight_v",
                          "p.res_skip_layers.1.bias",  "p.res_skip_layers.1.weight_g",  "p.res_skip_layers.1.weight_v"};
    BV_CHECK(ps.n == 12, "no gin: 12 parameters expected, got %d", ps.n);
    for (int i = 0; i < 12 && i < ps.n; i++) BV_CHECK(!strcmp(ps.items[i]->name, want[i]), "%d: %s vs %s", i, ps.items[i]->name, want[i]);
    BV_CHECK(ps.n >= 12 && ps.items[11]->shape[0] == 4 && ps.items[8]->shape[0] == 8, "res_skip widths");
    bv_wn_free(m);
    bv_params_free(&ps);
}

BV_TEST(wn_reset_parameters_weight_norm_identity) {
    /* after the default init, weight_norm(g, v) reproduces v exactly as upstream's g = ||v|| does */
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_wn *m = bv_wn_new(&ps, "", &(bv_wn_cfg){.hidden_channels = 4, .kernel_size = 3, .dilation_rate = 1, .n_layers = 1});
    bv_wn_reset_parameters(m, &ctx->rng);
    bv_tensor *w = bv_conv1d_layer_weight(ctx, &m->in_layers[0]);
    double worst = 0, bound = 1.0 / sqrt(4.0 * 3.0), vmax = 0;
    for (int64_t i = 0; i < w->numel; i++) {
        worst = fmax(worst, fabs(w->data[i] - m->in_layers[0].weight_v->data[i]));
        vmax = fmax(vmax, fabs(m->in_layers[0].weight_v->data[i]));
    }
    BV_CHECK(worst < 1e-6, "w - v = %g", worst);
    BV_CHECK(vmax <= bound && vmax > 0.3 * bound, "v within U(-%g, %g): max %g", bound, bound, vmax);
    bv_wn_free(m);
    bv_params_free(&ps);
}

BV_TEST(wn_bad_mask_shape_error) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_wn *m = bv_wn_new(&ps, "", &(bv_wn_cfg){.hidden_channels = 3, .kernel_size = 3, .dilation_rate = 1, .n_layers = 2});
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f);
    bv_tensor *bad = bv_full(ctx, BV_SHAPE(2, 1, 5), 1.0f);
    char msg[512];
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_wn_forward(ctx, m, x, bad, NULL, 0));
    BV_CHECK(raised, "x_mask [2, 1, 5] for x [2, 3, 6] must raise");
    BV_CHECK(raised && strstr(msg, "WN") && strstr(msg, "[2, 1, 5]") && strstr(msg, "[2, 3, 6]"), "message: %s", msg);
    bv_tensor *cond = bv_test_input(ctx, BV_SHAPE(2, 4, 1), 1.0f);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_wn_forward(ctx, m, x, bv_full(ctx, BV_SHAPE(2, 1, 6), 1.0f), cond, 0));
    BV_CHECK(raised && strstr(msg, "gin_channels"), "g without a cond_layer must raise: %s", msg);
    bv_wn_free(m);
    bv_params_free(&ps);
}
