/* test_flows.c - DDSConv, ElementwiseAffine, Log, Flip, ConvFlow: golden cases A15..A19 (outputs,
 * logdet, every input and parameter grad), finite-difference gradients of ConvFlow and DDSConv,
 * reverse(forward(x)) = x for every flow, and input errors naming the module and both shapes. */
#include <string.h>

#include "../src/nn/flows.h"
#include "fixtures.h"
#include "golden.h"
#include "test.h"

static int golden_reverse(bv_golden *g) {
    int r = (int)bv_golden_cfg_int_or(g, "reverse", -1);
    if (r != 0 && r != 1) {
        fprintf(stderr, "  config.reverse missing\n");
        return -1;
    }
    return r;
}

/* ---------------- golden ---------------- */

BV_GOLDEN_TEST(golden_A15_ddsconv) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "A15_ddsconv");
    if (!g) return;
    bv_params ps;
    bv_params_init(&ps);
    bv_ddsconv_cfg cfg = {(int)bv_golden_cfg_int(g, "channels"), (int)bv_golden_cfg_int(g, "kernel_size"),
                          (int)bv_golden_cfg_int(g, "n_layers"), (float)bv_golden_cfg_num(g, "p_dropout")};
    bv_ddsconv *m = bv_ddsconv_new(&ps, "", &cfg);
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x"), *mask = bv_golden_tensor(g, "in.x_mask");
    bv_tensor *gc = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL;
    if (x && mask) {
        bv_golden_output(g, "y", bv_ddsconv_forward(ctx, m, x, mask, gc, 1));
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    }
    bv_ddsconv_free(m);
    bv_params_free(&ps);
    bv_golden_close(g);
}

static void golden_affine(bv_test_state *ts, const char *case_name) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, case_name);
    if (!g) return;
    int reverse = golden_reverse(g);
    BV_CHECK(reverse >= 0, "reverse");
    bv_params ps;
    bv_params_init(&ps);
    bv_elementwise_affine *m = bv_elementwise_affine_new(&ps, "", (int)bv_golden_cfg_int(g, "channels"));
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x"), *mask = bv_golden_tensor(g, "in.x_mask"), *logdet;
    if (x && mask && reverse >= 0) {
        bv_golden_output(g, "y", bv_elementwise_affine_forward(ctx, m, x, mask, reverse, &logdet));
        BV_CHECK(reverse ? logdet == NULL : logdet != NULL, "logdet only in the forward direction");
        if (!reverse) bv_golden_output(g, "logdet", logdet);
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    }
    bv_elementwise_affine_free(m);
    bv_params_free(&ps);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(golden_A16_elementwise_affine_fwd) { golden_affine(ts, "A16_elementwise_affine_fwd"); }
BV_GOLDEN_TEST(golden_A16_elementwise_affine_rev) { golden_affine(ts, "A16_elementwise_affine_rev"); }

static void golden_log(bv_test_state *ts, const char *case_name) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, case_name);
    if (!g) return;
    int reverse = golden_reverse(g);
    BV_CHECK(reverse >= 0, "reverse");
    bv_tensor *x = bv_golden_input(g, "in.x"), *mask = bv_golden_tensor(g, "in.x_mask"), *logdet;
    if (x && mask && reverse >= 0) {
        bv_golden_output(g, "y", bv_log_flow_forward(ctx, x, mask, reverse, &logdet));
        if (!reverse) bv_golden_output(g, "logdet", logdet);
        bv_golden_backward(g);
        bv_golden_check_grads(g, NULL, NULL);
    }
    bv_golden_close(g);
}

BV_GOLDEN_TEST(golden_A17_log_fwd) { golden_log(ts, "A17_log_fwd"); }
BV_GOLDEN_TEST(golden_A17_log_rev) { golden_log(ts, "A17_log_rev"); }

static void golden_flip(bv_test_state *ts, const char *case_name) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, case_name);
    if (!g) return;
    int reverse = golden_reverse(g);
    BV_CHECK(reverse >= 0, "reverse");
    bv_tensor *x = bv_golden_input(g, "in.x"), *logdet;
    if (x && reverse >= 0) {
        bv_golden_output(g, "y", bv_flip_flow_forward(ctx, x, reverse, &logdet));
        if (!reverse) bv_golden_output(g, "logdet", logdet);
        bv_golden_backward(g);
        bv_golden_check_grads(g, NULL, NULL);
    }
    bv_golden_close(g);
}

BV_GOLDEN_TEST(golden_A18_flip_fwd) { golden_flip(ts, "A18_flip_fwd"); }
BV_GOLDEN_TEST(golden_A18_flip_rev) { golden_flip(ts, "A18_flip_rev"); }

static void golden_convflow(bv_test_state *ts, const char *case_name) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, case_name);
    if (!g) return;
    int reverse = golden_reverse(g);
    BV_CHECK(reverse >= 0, "reverse");
    bv_convflow_cfg cfg = {(int)bv_golden_cfg_int(g, "in_channels"), (int)bv_golden_cfg_int(g, "filter_channels"),
                           (int)bv_golden_cfg_int(g, "kernel_size"), (int)bv_golden_cfg_int(g, "n_layers"),
                           (int)bv_golden_cfg_int(g, "num_bins"), (float)bv_golden_cfg_num(g, "tail_bound")};
    bv_params ps;
    bv_params_init(&ps);
    bv_convflow *m = bv_convflow_new(&ps, "", &cfg);
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x"), *mask = bv_golden_tensor(g, "in.x_mask"), *logdet;
    bv_tensor *gc = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL;
    if (x && mask && reverse >= 0) {
        bv_golden_output(g, "y", bv_convflow_forward(ctx, m, x, mask, gc, reverse, &logdet));
        if (!reverse) bv_golden_output(g, "logdet", logdet);
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    }
    bv_convflow_free(m);
    bv_params_free(&ps);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(golden_A19_convflow_fwd) { golden_convflow(ts, "A19_convflow_fwd"); }
BV_GOLDEN_TEST(golden_A19_convflow_rev) { golden_convflow(ts, "A19_convflow_rev"); }

/* ---------------- unit ---------------- */

/* A small ConvFlow with random (non-identity) parameters. */
static bv_convflow *small_convflow(bv_ctx *ctx, bv_params *ps) {
    bv_convflow *m = bv_convflow_new(ps, "flows.1.", &(bv_convflow_cfg){.in_channels = 2, .filter_channels = 4,
                                                                        .kernel_size = 3, .n_layers = 2, .num_bins = 4,
                                                                        .tail_bound = 2.0f});
    bv_convflow_reset_parameters(m, &ctx->rng);
    bv_test_randn(ctx, m->proj.weight, 0.5f); /* upstream zeroes proj: make the spline non-trivial */
    bv_test_randn(ctx, m->proj.bias, 0.5f);
    return m;
}

typedef struct {
    const bv_convflow *m;
    bv_tensor *mask;
    int reverse, which; /* which: 0 y, 1 logdet */
} convflow_case;

static bv_tensor *convflow_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    const convflow_case *c = user;
    bv_tensor *logdet;
    bv_tensor *y = bv_convflow_forward(ctx, c->m, in[0], c->mask, in[1], c->reverse, &logdet);
    return c->which ? logdet : y;
}

BV_TEST(convflow_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_convflow *m = small_convflow(ctx, &ps);
    bv_tensor *in[2] = {bv_test_input(ctx, BV_SHAPE(2, 2, 6), 1.5f), bv_test_input(ctx, BV_SHAPE(2, 4, 6), 1.0f)};
    in[0]->data[7] = 2.6f; /* x1 half, outside the tail bound */
    bv_tensor *mask = bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4});
    for (int reverse = 0; reverse < 2; reverse++)
        for (int which = 0; which < 2 - reverse; which++) {
            convflow_case c = {m, mask, reverse, which};
            char what[64];
            snprintf(what, sizeof what, "convflow %s %s", reverse ? "reverse" : "forward", which ? "logdet" : "y");
            bv_gradcheck(ts, what, convflow_fn, 2, in, &c, 1e-3, 2e-3, 2e-2, 24);
        }
    bv_convflow_free(m);
    bv_params_free(&ps);
}

typedef struct {
    const bv_ddsconv *m;
    bv_tensor *mask;
} dds_case;

static bv_tensor *dds_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    const dds_case *c = user;
    return bv_ddsconv_forward(ctx, c->m, in[0], c->mask, in[1], 0);
}

BV_TEST(ddsconv_gradcheck_and_params) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_ddsconv *m = bv_ddsconv_new(&ps, "convs.", &(bv_ddsconv_cfg){3, 3, 2, 0.0f});
    BV_CHECK(ps.n == 16 && !strcmp(ps.items[0]->name, "convs.convs_sep.0.weight") &&
                 !strcmp(ps.items[4]->name, "convs.convs_1x1.0.weight") &&
                 !strcmp(ps.items[8]->name, "convs.norms_1.0.gamma") &&
                 !strcmp(ps.items[15]->name, "convs.norms_2.1.beta"),
             "parameters must follow upstream state_dict order");
    BV_CHECK(ps.items[1]->shape[0] == 3 && ps.items[0]->shape[1] == 1 && m->convs_sep[1].cfg.dilation == 3 &&
                 m->convs_sep[1].cfg.padding == 3,
             "depthwise conv layout / dilation k**i with same padding");
    bv_ddsconv_reset_parameters(m, &ctx->rng);
    bv_test_randn(ctx, m->norms_1[0].beta, 0.3f);
    bv_tensor *in[2] = {bv_test_input(ctx, BV_SHAPE(2, 3, 7), 1.0f), bv_test_input(ctx, BV_SHAPE(2, 3, 7), 1.0f)};
    dds_case c = {m, bv_test_mask(ctx, 2, 7, (int64_t[]){7, 5})};
    bv_gradcheck(ts, "ddsconv", dds_fn, 2, in, &c, 1e-3, 2e-3, 2e-2, 42);
    bv_ddsconv_free(m);
    bv_params_free(&ps);
}

/* Every flow: reverse(forward(x)) == x on the unmasked frames. */
BV_TEST(flows_reverse_undoes_forward) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_convflow *cf = small_convflow(ctx, &ps);
    bv_elementwise_affine *ea = bv_elementwise_affine_new(&ps, "flows.0.", 2);
    bv_test_randn(ctx, ea->m, 0.5f);
    bv_test_randn(ctx, ea->logs, 0.5f);
    bv_flow flows[4] = {{BV_FLOW_ELEMENTWISE_AFFINE, ea, NULL}, {BV_FLOW_CONVFLOW, NULL, cf}, {BV_FLOW_FLIP, NULL, NULL},
                        {BV_FLOW_CONVFLOW, NULL, cf}};
    bv_tensor *mask = bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4});
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 2, 6), 1.5f), *gc = bv_test_input(ctx, BV_SHAPE(2, 4, 6), 1.0f);
    bv_tensor *z = bv_mul(ctx, x, mask), *logdet;
    for (int i = 0; i < 4; i++) {
        z = bv_flow_forward(ctx, &flows[i], z, mask, gc, 0, &logdet);
        BV_CHECK(logdet && logdet->ndim == 1 && logdet->shape[0] == 2, "forward flows return logdet [B]");
    }
    for (int i = 3; i >= 0; i--) {
        z = bv_flow_forward(ctx, &flows[i], z, mask, gc, 1, &logdet);
        BV_CHECK(logdet == NULL, "reverse flows return no logdet");
    }
    double err = 0;
    for (int64_t i = 0; i < x->numel; i++) err = fmax(err, fabs(z->data[i] - x->data[i] * mask->data[(i / 12) * 6 + i % 6]));
    BV_CHECK(err < 1e-4, "round trip through the flows off by %g", err);
    /* Log: exp(log(x)) == x for positive x */
    bv_tensor *p = bv_test_input(ctx, BV_SHAPE(2, 1, 6), 1.0f);
    for (int64_t i = 0; i < p->numel; i++) p->data[i] = fabsf(p->data[i]) + 0.1f;
    bv_tensor *q = bv_log_flow_forward(ctx, bv_log_flow_forward(ctx, p, mask, 0, &logdet), mask, 1, NULL);
    err = 0;
    for (int64_t i = 0; i < 12; i++) err = fmax(err, fabs(q->data[i] - p->data[i] * mask->data[i]));
    BV_CHECK(err < 1e-5, "Log round trip off by %g", err);
    bv_convflow_free(cf);
    bv_elementwise_affine_free(ea);
    bv_params_free(&ps);
}

BV_TEST(flows_input_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_params ps;
    bv_params_init(&ps);
    bv_convflow *cf = small_convflow(ctx, &ps);
    bv_tensor *x3 = bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f), *mask = bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4});
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_convflow_forward(ctx, cf, x3, mask, NULL, 0, NULL));
    BV_CHECK(raised && strstr(msg, "ConvFlow") && strstr(msg, "[2, 3, 6]") && strstr(msg, "[B, 2, T]"),
             "wrong channel count must name the module and both shapes: %s", msg);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 2, 6), 1.0f), *bad_mask = bv_test_mask(ctx, 2, 5, (int64_t[]){5, 4});
    raised = BV_EXPECT_ERROR(ctx, msg, bv_convflow_forward(ctx, cf, x, bad_mask, NULL, 0, NULL));
    BV_CHECK(raised && strstr(msg, "ConvFlow") && strstr(msg, "[2, 1, 5]") && strstr(msg, "[2, 2, 6]"),
             "mask of another length must name both shapes: %s", msg);
    bv_tensor *bad_g = bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_convflow_forward(ctx, cf, x, mask, bad_g, 0, NULL));
    BV_CHECK(raised && strstr(msg, "ConvFlow") && strstr(msg, "[2, 3, 6]") && strstr(msg, "[2, 2, 6]"),
             "g of the wrong width must name both shapes: %s", msg);
    bv_elementwise_affine *ea = bv_elementwise_affine_new(&ps, "ea.", 3);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_elementwise_affine_forward(ctx, ea, x, mask, 0, NULL));
    BV_CHECK(raised && strstr(msg, "ElementwiseAffine") && strstr(msg, "[2, 2, 6]") && strstr(msg, "[B, 3, T]"),
             "affine channel mismatch: %s", msg);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_log_flow_forward(ctx, x, bad_mask, 0, NULL));
    BV_CHECK(raised && strstr(msg, "Log") && strstr(msg, "[2, 1, 5]") && strstr(msg, "[2, 2, 6]"), "log mask: %s", msg);
    bv_elementwise_affine_free(ea);
    bv_convflow_free(cf);
    bv_params_free(&ps);
}
