/* test_spline.c - bv_rq_spline: finite-difference gradients (forward and inverse, inputs inside and
 * outside the tail bound, both outputs), inverse(forward(x)) = x, shape errors, and the golden
 * cases A21_rq_spline_forward / A21_rq_spline_inverse. */
#include <string.h>

#include "../src/ops/ops.h"
#include "golden.h"
#include "test.h"

typedef struct {
    int inverse, which; /* which: 0 outputs, 1 logabsdet */
    float tail_bound;
} spline_case;

static bv_tensor *spline_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    const spline_case *c = user;
    bv_tensor *y, *lad;
    bv_rq_spline(ctx, in[0], in[1], in[2], in[3], c->inverse, c->tail_bound, 1e-3f, 1e-3f, 1e-3f, &y, &lad);
    return c->which ? lad : y;
}

/* inputs [2, 3, 5] with values around +-tail_bound (some outside), K bins. */
static void make_spline_inputs(bv_ctx *ctx, bv_tensor **in, int K, float tail_bound) {
    in[0] = bv_test_input(ctx, BV_SHAPE(2, 3, 5), tail_bound * 0.8f);   // inputs [2, 3, 5]
    in[0]->data[0] = tail_bound * 1.3f;                                  // outside, right
    in[0]->data[1] = -tail_bound * 1.6f;                                 // outside, left
    in[1] = bv_test_input(ctx, BV_SHAPE(2, 3, 5, K), 1.0f);             // unnormalized_widths
    in[2] = bv_test_input(ctx, BV_SHAPE(2, 3, 5, K), 1.0f);             // unnormalized_heights
    in[3] = bv_test_input(ctx, BV_SHAPE(2, 3, 5, K - 1), 1.0f);         // unnormalized_derivatives
}

static void spline_gradcheck(bv_test_state *ts, int inverse) {
    bv_ctx *ctx = ts->ctx;
    const float tb = 3.0f;
    bv_tensor *in[4];
    make_spline_inputs(ctx, in, 6, tb);
    int outside = 0;
    for (int64_t i = 0; i < in[0]->numel; i++) outside += fabsf(in[0]->data[i]) > tb;
    BV_CHECK(outside >= 2 && outside < in[0]->numel - 5, "test inputs must mix inside and outside (%d)", outside);
    for (int which = 0; which < 2; which++) {
        spline_case c = {inverse, which, tb};
        bv_gradcheck(ts, which ? "rq_spline logabsdet" : "rq_spline outputs", spline_fn, 4, in, &c, 1e-3, 1e-3, 1e-2,
                     200);
    }
}

BV_TEST(rq_spline_gradcheck_forward) { spline_gradcheck(ts, 0); }
BV_TEST(rq_spline_gradcheck_inverse) { spline_gradcheck(ts, 1); }

/* Forward then inverse gives x back and the log-determinants cancel; outside is the identity. */
BV_TEST(rq_spline_inverse_undoes_forward) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *in[4];
    make_spline_inputs(ctx, in, 10, 5.0f);
    bv_tensor *y, *l1, *x2, *l2;
    bv_rq_spline(ctx, in[0], in[1], in[2], in[3], 0, 5.0f, 1e-3f, 1e-3f, 1e-3f, &y, &l1);
    bv_rq_spline(ctx, y, in[1], in[2], in[3], 1, 5.0f, 1e-3f, 1e-3f, 1e-3f, &x2, &l2);
    double ex = 0, el = 0;
    for (int64_t i = 0; i < y->numel; i++) {
        ex = fmax(ex, fabs(x2->data[i] - in[0]->data[i]));
        el = fmax(el, fabs(l1->data[i] + l2->data[i]));
    }
    BV_CHECK(ex < 1e-4 && el < 1e-4, "round trip off: x %g logabsdet %g", ex, el);
    BV_CHECK(y->data[0] == in[0]->data[0] && l1->data[0] == 0 && y->data[1] == in[0]->data[1],
             "outside the tail bound the spline is the identity with logabsdet 0");
}

BV_TEST(rq_spline_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 1, 4), 1.0f), *y, *l;
    bv_tensor *uw = bv_test_input(ctx, BV_SHAPE(2, 1, 4, 10), 1.0f), *uh = bv_test_input(ctx, BV_SHAPE(2, 1, 4, 10), 1.0f);
    bv_tensor *ud_bad = bv_test_input(ctx, BV_SHAPE(2, 1, 4, 10), 1.0f);
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_rq_spline(ctx, x, uw, uh, ud_bad, 0, 5, 1e-3f, 1e-3f, 1e-3f, &y, &l));
    BV_CHECK(raised && strstr(msg, "rq_spline") && strstr(msg, "[2, 1, 4, 10]") && strstr(msg, "[2, 1, 4]"),
             "derivatives with K entries must be rejected naming both shapes: %s", msg);
    bv_tensor *uh_bad = bv_test_input(ctx, BV_SHAPE(2, 1, 5, 10), 1.0f);
    bv_tensor *ud = bv_test_input(ctx, BV_SHAPE(2, 1, 4, 9), 1.0f);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_rq_spline(ctx, x, uw, uh_bad, ud, 0, 5, 1e-3f, 1e-3f, 1e-3f, &y, &l));
    BV_CHECK(raised && strstr(msg, "rq_spline") && strstr(msg, "[2, 1, 5, 10]") && strstr(msg, "[2, 1, 4]"),
             "heights with other leading dims must be rejected naming both shapes: %s", msg);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_rq_spline(ctx, x, uw, uh, ud, 0, 5, 0.2f, 1e-3f, 1e-3f, &y, &l));
    BV_CHECK(raised && strstr(msg, "rq_spline") && strstr(msg, "too large"), "min_bin_width * K > 1: %s", msg);
}

static void golden_spline(bv_test_state *ts, const char *case_name) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, case_name);
    if (!g) return;
    const cJSON *tails = cJSON_GetObjectItem(bv_golden_config(g), "tails");
    BV_CHECK(cJSON_IsString(tails) && !strcmp(tails->valuestring, "linear"), "only linear tails exist upstream");
    const int inverse = (int)bv_golden_cfg_int_or(g, "inverse", -1);
    BV_CHECK(inverse == 0 || inverse == 1, "config.inverse missing");
    const float tb = (float)bv_golden_cfg_num(g, "tail_bound");
    const float mbw = (float)bv_golden_cfg_num(g, "min_bin_width"), mbh = (float)bv_golden_cfg_num(g, "min_bin_height");
    const float md = (float)bv_golden_cfg_num(g, "min_derivative");
    const int64_t K = bv_golden_cfg_int(g, "num_bins");
    bv_tensor *x = bv_golden_input(g, "in.inputs");                   // [...]
    bv_tensor *uw = bv_golden_input(g, "in.unnormalized_widths");     // [..., K]
    bv_tensor *uh = bv_golden_input(g, "in.unnormalized_heights");    // [..., K]
    bv_tensor *ud = bv_golden_input(g, "in.unnormalized_derivatives"); // [..., K-1]
    if (x && uw && uh && ud) {
        BV_CHECK(uw->shape[uw->ndim - 1] == K, "num_bins %lld vs widths", (long long)K);
        bv_tensor *y, *lad;
        bv_rq_spline(ctx, x, uw, uh, ud, inverse, tb, mbw, mbh, md, &y, &lad);
        bv_golden_output(g, "outputs", y);
        bv_golden_output(g, "logabsdet", lad);
        bv_golden_backward(g);
        bv_golden_check_grads(g, NULL, NULL);
    }
    bv_golden_close(g);
}

BV_GOLDEN_TEST(golden_A21_rq_spline_forward) { golden_spline(ts, "A21_rq_spline_forward"); }
BV_GOLDEN_TEST(golden_A21_rq_spline_inverse) { golden_spline(ts, "A21_rq_spline_inverse"); }
