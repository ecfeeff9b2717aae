/* test_norm.c - channel / last-dim layer norm, group norm, softmax and log-softmax: the A01 golden
 * case (modules.LayerNorm), finite-difference gradients (with and without affine parameters, any
 * dim), forward values against a naive double loop (also on sizes that take the threaded paths),
 * numerical stability at large logits, and shape errors. */
#include <stdlib.h>
#include <string.h>

#include "../src/ops/ops.h"
#include "golden.h"
#include "test.h"

BV_GOLDEN_TEST(norm_golden_A01_layernorm) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "A01_layernorm");
    if (!g) return;
    const int64_t C = bv_golden_cfg_int(g, "channels");
    const float eps = (float)bv_golden_cfg_num(g, "eps");
    if (ts->failed) {
        bv_golden_close(g);
        return;
    }
    bv_params ps;
    bv_params_init(&ps);
    bv_tensor *gamma = bv_params_add(&ps, "gamma", BV_SHAPE(C)); // gamma
    bv_tensor *beta = bv_params_add(&ps, "beta", BV_SHAPE(C));   // beta
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x"); // [B, C, T]
    if (x) {
        char b[96];
        BV_CHECK(x->ndim == 3 && x->shape[1] == C, "in.x %s does not have %lld channels", bv_shape_str(x, b, sizeof b),
                 (long long)C);
        bv_tensor *y = bv_layer_norm_ch(ctx, x, gamma, beta, eps); // [B, C, T]
        bv_golden_output(g, "y", y);
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    }
    bv_golden_close(g);
    bv_params_free(&ps);
}

/* ---- gradchecks ---- */

typedef struct {
    int kind;   /* 0 layer_norm_ch, 1 layer_norm, 2 group_norm */
    int affine; /* 0: gamma/beta NULL */
    int groups;
} norm_case;

static bv_tensor *apply_norm(bv_ctx *ctx, const norm_case *c, bv_tensor **in) {
    bv_tensor *gm = c->affine ? in[1] : NULL, *bt = c->affine ? in[2] : NULL;
    switch (c->kind) {
    case 0: return bv_layer_norm_ch(ctx, in[0], gm, bt, 1e-5f);
    case 1: return bv_layer_norm(ctx, in[0], gm, bt, 1e-5f);
    default: return bv_group_norm(ctx, in[0], c->groups, gm, bt, 1e-5f);
    }
}

static bv_tensor *gc_norm(bv_ctx *ctx, bv_tensor **in, void *user) { return apply_norm(ctx, user, in); }

static void gradcheck_norm(bv_test_state *ts, const char *what, norm_case c, int ndim, const int64_t *shape,
                           int64_t C) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *in[3] = {bv_test_input(ctx, ndim, shape, 1.0f), bv_test_input(ctx, BV_SHAPE(C), 0.5f),
                        bv_test_input(ctx, BV_SHAPE(C), 0.5f)};
    for (int64_t i = 0; i < C; i++) in[1]->data[i] += 1.0f;
    bv_gradcheck(ts, what, gc_norm, c.affine ? 3 : 1, in, &c, 1e-3, 1e-3, 1e-2, 100);
}

BV_TEST(norm_layer_norm_gradcheck) {
    gradcheck_norm(ts, "layer_norm_ch affine", (norm_case){0, 1, 0}, BV_SHAPE(2, 5, 7), 5);
    gradcheck_norm(ts, "layer_norm_ch plain", (norm_case){0, 0, 0}, BV_SHAPE(2, 5, 7), 5);
    gradcheck_norm(ts, "layer_norm_ch 4-d", (norm_case){0, 1, 0}, BV_SHAPE(2, 4, 3, 2), 4);
    gradcheck_norm(ts, "layer_norm affine", (norm_case){1, 1, 0}, BV_SHAPE(2, 3, 6), 6);
    gradcheck_norm(ts, "layer_norm plain", (norm_case){1, 0, 0}, BV_SHAPE(4, 6), 6);
}

BV_TEST(norm_group_norm_gradcheck) {
    gradcheck_norm(ts, "group_norm 3 groups", (norm_case){2, 1, 3}, BV_SHAPE(2, 6, 5), 6);
    gradcheck_norm(ts, "group_norm 1 group", (norm_case){2, 1, 1}, BV_SHAPE(2, 4, 5), 4);
    gradcheck_norm(ts, "group_norm per channel", (norm_case){2, 1, 4}, BV_SHAPE(2, 4, 5), 4);
    gradcheck_norm(ts, "group_norm 4-d", (norm_case){2, 1, 2}, BV_SHAPE(2, 4, 3, 2), 4);
    gradcheck_norm(ts, "group_norm plain", (norm_case){2, 0, 2}, BV_SHAPE(3, 4, 3), 4);
}

typedef struct {
    int log_out, dim;
} sm_case;

static bv_tensor *gc_softmax(bv_ctx *ctx, bv_tensor **in, void *user) {
    const sm_case *c = user;
    return c->log_out ? bv_log_softmax(ctx, in[0], c->dim) : bv_softmax(ctx, in[0], c->dim);
}

BV_TEST(norm_softmax_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    const int dims[] = {0, 1, 2, -1, -2};
    for (int lo = 0; lo < 2; lo++)
        for (int d = 0; d < 5; d++) {
            sm_case c = {lo, dims[d]};
            bv_tensor *x = bv_test_input(ctx, BV_SHAPE(3, 4, 5), 2.0f);
            char what[48];
            snprintf(what, sizeof what, "%s dim %d", lo ? "log_softmax" : "softmax", dims[d]);
            bv_gradcheck(ts, what, gc_softmax, 1, &x, &c, 1e-3, 1e-3, 1e-2, 60);
        }
}

/* ---- forward against naive double loops ---- */

/* Normalise x viewed as [outer, n, inner] over n (group norm: n = a whole group) in double. */
static double naive_norm_err(const bv_tensor *x, const bv_tensor *y, const float *gamma, const float *beta, int64_t outer,
                             int64_t n, int64_t inner, int64_t C, int64_t chan_div, double eps) {
    double worst = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double s = 0, ss = 0;
            for (int64_t k = 0; k < n; k++) s += x->data[(o * n + k) * inner + i];
            double m = s / n;
            for (int64_t k = 0; k < n; k++) ss += pow(x->data[(o * n + k) * inner + i] - m, 2);
            double rs = 1 / sqrt(ss / n + eps);
            for (int64_t k = 0; k < n; k++) {
                int64_t e = (o * n + k) * inner + i, c = (e / chan_div) % C;
                double want = (x->data[e] - m) * rs * (gamma ? gamma[c] : 1) + (beta ? beta[c] : 0);
                worst = fmax(worst, fabs(y->data[e] - want));
            }
        }
    return worst;
}

BV_TEST(norm_forward_vs_naive) {
    bv_ctx *ctx = ts->ctx;
    /* [4, 96, 120] takes the threaded path with two inner blocks per row */
    const int64_t B = 4, C = 96, T = 120;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(B, C, T), 2.0f);
    for (int64_t i = 0; i < x->numel; i++) x->data[i] += 3.0f;
    bv_tensor *gm = bv_test_input(ctx, BV_SHAPE(C), 1.0f), *bt = bv_test_input(ctx, BV_SHAPE(C), 1.0f);
    double e1 = naive_norm_err(x, bv_layer_norm_ch(ctx, x, gm, bt, 1e-5f), gm->data, bt->data, B, C, T, C, T, 1e-5);
    BV_CHECK(e1 < 1e-5, "layer_norm_ch err %g", e1);
    bv_tensor *xl = bv_test_input(ctx, BV_SHAPE(B, T, C), 2.0f);
    double e2 = naive_norm_err(xl, bv_layer_norm(ctx, xl, gm, bt, 1e-5f), gm->data, bt->data, B * T, C, 1, C, 1, 1e-5);
    BV_CHECK(e2 < 1e-5, "layer_norm err %g", e2);
    double e3 = naive_norm_err(xl, bv_layer_norm(ctx, xl, NULL, NULL, 1e-3f), NULL, NULL, B * T, C, 1, C, 1, 1e-3);
    BV_CHECK(e3 < 1e-5, "layer_norm (no affine) err %g", e3);
    const int G = 8; /* each group of C/G channels x T is one normalised chunk */
    double e4 = naive_norm_err(x, bv_group_norm(ctx, x, G, gm, bt, 1e-5f), gm->data, bt->data, B * G, C / G * T, 1, C,
                               T, 1e-5);
    BV_CHECK(e4 < 1e-5, "group_norm err %g", e4);
}

static double naive_softmax_err(const bv_tensor *x, const bv_tensor *y, int d, int log_out) {
    int64_t outer = bv_shape_numel(d, x->shape), n = x->shape[d];
    int64_t inner = bv_shape_numel(x->ndim - d - 1, x->shape + d + 1);
    double worst = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double mx = -INFINITY, s = 0;
            for (int64_t k = 0; k < n; k++) mx = fmax(mx, x->data[(o * n + k) * inner + i]);
            for (int64_t k = 0; k < n; k++) s += exp(x->data[(o * n + k) * inner + i] - mx);
            for (int64_t k = 0; k < n; k++) {
                int64_t e = (o * n + k) * inner + i;
                double want = log_out ? x->data[e] - mx - log(s) : exp(x->data[e] - mx) / s;
                worst = fmax(worst, fabs(y->data[e] - want) / (1 + fabs(want)));
            }
        }
    return worst;
}

BV_TEST(norm_softmax_forward_vs_naive_and_stable) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 80, 90), 3.0f); /* 43200: threaded */
    for (int lo = 0; lo < 2; lo++)
        for (int d = 0; d < 4; d++) {
            bv_tensor *y = lo ? bv_log_softmax(ctx, x, d - 4) : bv_softmax(ctx, x, d);
            double err = naive_softmax_err(x, y, d, lo);
            BV_CHECK(err < 1e-6, "%s dim %d: err %g", lo ? "log_softmax" : "softmax", d, err);
        }
    bv_tensor *big = bv_from_f32(ctx, BV_SHAPE(1, 3), (float[]){1000.0f, 1001.0f, -1000.0f});
    bv_tensor *p = bv_softmax(ctx, big, -1), *lp = bv_log_softmax(ctx, big, -1);
    BV_CHECK(isfinite(p->data[0]) && isfinite(p->data[1]) && p->data[2] == 0.0f && fabsf(p->data[0] + p->data[1] - 1) < 1e-6,
             "softmax at large logits: %g %g %g", p->data[0], p->data[1], p->data[2]);
    BV_CHECK(isfinite(lp->data[2]) && fabsf(lp->data[2] + 2001.3133f) < 1e-2, "log_softmax tail %g", lp->data[2]);
}

BV_TEST(norm_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *x = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 6, 7)), *g5 = bv_zeros(ctx, BV_F32, BV_SHAPE(5));
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_layer_norm_ch(ctx, x, g5, NULL, 1e-5f));
    BV_CHECK(raised && strstr(msg, "layer_norm_ch") && strstr(msg, "[5]") && strstr(msg, "[2, 6, 7]"), "gamma: %s",
             raised ? msg : "(no error)");
    raised = BV_EXPECT_ERROR(ctx, msg, bv_layer_norm(ctx, x, NULL, g5, 1e-5f));
    BV_CHECK(raised && strstr(msg, "layer_norm") && strstr(msg, "[5]") && strstr(msg, "[2, 6, 7]"), "beta: %s",
             raised ? msg : "(no error)");
    raised = BV_EXPECT_ERROR(ctx, msg, bv_group_norm(ctx, x, 4, NULL, NULL, 1e-5f));
    BV_CHECK(raised && strstr(msg, "group_norm") && strstr(msg, "[2, 6, 7]") && strstr(msg, "4 groups"), "groups: %s",
             raised ? msg : "(no error)");
    raised = BV_EXPECT_ERROR(ctx, msg, bv_softmax(ctx, x, 3));
    BV_CHECK(raised && strstr(msg, "softmax") && strstr(msg, "[2, 6, 7]"), "dim: %s", raised ? msg : "(no error)");
    raised = BV_EXPECT_ERROR(ctx, msg, bv_log_softmax(ctx, x, -4));
    BV_CHECK(raised && strstr(msg, "log_softmax") && strstr(msg, "-4"), "dim: %s", raised ? msg : "(no error)");
}
