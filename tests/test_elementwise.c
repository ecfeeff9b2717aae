/* test_elementwise.c - broadcasting binary ops and unary ops: finite-difference gradients over
 * many broadcast patterns, forward values against a naive double loop / libm, the parallel paths
 * on large tensors, kink conventions (abs, relu, clamp), and shape/dtype errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/ops/ops.h"
#include "test.h"

typedef bv_tensor *(*binary_fn)(bv_ctx *, bv_tensor *, bv_tensor *);
static const binary_fn k_bin[4] = {bv_add, bv_sub, bv_mul, bv_div};
static const char *const k_bin_name[4] = {"add", "sub", "mul", "div"};

typedef struct {
    int nda, ndb;
    int64_t a[BV_MAX_DIMS], b[BV_MAX_DIMS];
} shape_pair;

/* broadcast patterns: same shape, the model's [B,C,T] op [B,1,T] / [B,C,1] / [T], both sides
 * stretched, a 0-d scalar, the reversed order, and 5-d interleaved broadcasting */
static const shape_pair k_pairs[] = {
    {3, 3, {2, 3, 4}, {2, 3, 4}},
    {3, 3, {2, 3, 4}, {2, 1, 4}},
    {3, 3, {2, 3, 4}, {2, 3, 1}},
    {3, 1, {2, 3, 4}, {4}},
    {2, 2, {3, 1}, {1, 4}},
    {3, 0, {2, 3, 4}, {0}},
    {0, 2, {0}, {2, 3}},
    {3, 3, {1, 3, 1}, {2, 1, 4}},
    {3, 3, {2, 1, 4}, {2, 3, 4}},
    {5, 5, {2, 1, 3, 1, 2}, {1, 2, 1, 3, 1}},
    {4, 2, {2, 3, 1, 5}, {4, 1}},
};
#define N_PAIRS ((int)(sizeof k_pairs / sizeof k_pairs[0]))

/* keep a divisor away from zero: |v| >= 0.5, sign kept */
static void away_from_zero(bv_tensor *t) {
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = (t->data[i] < 0 ? -0.5f : 0.5f) + t->data[i];
}

static bv_tensor *gc_binary(bv_ctx *ctx, bv_tensor **in, void *user) {
    return k_bin[*(int *)user](ctx, in[0], in[1]);
}

BV_TEST(elementwise_binary_gradcheck_broadcast) {
    bv_ctx *ctx = ts->ctx;
    for (int op = 0; op < 4; op++) {
        for (int p = 0; p < N_PAIRS; p++) {
            bv_tensor *in[2] = {bv_test_input(ctx, k_pairs[p].nda, k_pairs[p].a, 1.0f),
                                bv_test_input(ctx, k_pairs[p].ndb, k_pairs[p].b, 1.0f)};
            if (op == 3) away_from_zero(in[1]);
            char what[64];
            snprintf(what, sizeof what, "%s pair %d", k_bin_name[op], p);
            bv_gradcheck(ts, what, gc_binary, 2, in, &op, 1e-3, 1e-3, 1e-2, 100);
        }
    }
}

static bv_tensor *gc_square_by_mul(bv_ctx *ctx, bv_tensor **in, void *user) { return bv_mul(ctx, in[0], in[0]); }
static bv_tensor *gc_self_div(bv_ctx *ctx, bv_tensor **in, void *user) {
    return bv_div(ctx, bv_add(ctx, in[0], in[1]), in[1]);
}

BV_TEST(elementwise_binary_gradcheck_shared_input) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(3, 4), 1.0f);
    bv_gradcheck(ts, "x*x", gc_square_by_mul, 1, &x, NULL, 1e-3, 1e-3, 1e-2, 100);
    bv_tensor *in[2] = {bv_test_input(ctx, BV_SHAPE(2, 3, 4), 1.0f), bv_test_input(ctx, BV_SHAPE(3, 1), 1.0f)};
    away_from_zero(in[1]);
    bv_gradcheck(ts, "(a+b)/b", gc_self_div, 2, in, NULL, 1e-3, 1e-3, 1e-2, 100);
}

/* Naive numpy broadcasting in double: the oracle for forward values and reduced grads. */
static double naive_elem(int op, double x, double y) {
    switch (op) {
    case 0: return x + y;
    case 1: return x - y;
    case 2: return x * y;
    default: return x / y;
    }
}

static int64_t naive_offset(const bv_tensor *t, int nd, const int64_t *idx) {
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++) {
        int64_t d = t->shape[i], k = idx[i + nd - t->ndim];
        off = off * d + (d == 1 ? 0 : k);
    }
    return off;
}

/* Checks out = a op b and, for a cotangent g, grad_a = sum over stretched dims of g * d/da. */
static void check_against_naive(bv_test_state *ts, int op, bv_tensor *a, bv_tensor *b, double ftol) {
    bv_ctx *ctx = ts->ctx;
    a->grad = b->grad = NULL;
    const int64_t tape0 = ctx->tape_len;
    bv_tensor *out = k_bin[op](ctx, a, b);
    bv_tensor *g = bv_new_like(ctx, out);
    bv_test_randn(ctx, g, 1.0f);
    bv_backward(ctx, out, g);
    bv_tape_cut(ctx, tape0); /* a later backward must not replay this node into reused inputs */
    double *ga = calloc((size_t)a->numel, sizeof(double)), *gb = calloc((size_t)b->numel, sizeof(double));
    int64_t idx[BV_MAX_DIMS] = {0};
    double worst = 0;
    for (int64_t e = 0; e < out->numel; e++) {
        int64_t r = e;
        for (int i = out->ndim - 1; i >= 0; i--) {
            idx[i] = r % out->shape[i];
            r /= out->shape[i];
        }
        int64_t ia = naive_offset(a, out->ndim, idx), ib = naive_offset(b, out->ndim, idx);
        double x = a->data[ia], y = b->data[ib], gv = g->data[e];
        /* a float op is the correctly rounded double op */
        double want = (float)naive_elem(op, x, y);
        double err = fabs(out->data[e] - want) / (1 + fabs(want));
        if (err > worst) worst = err;
        double da = op == 2 ? y : op == 3 ? 1 / y : 1, db = op == 0 ? 1 : op == 1 ? -1 : op == 2 ? x : -x / (y * y);
        ga[ia] += gv * da;
        gb[ib] += gv * db;
    }
    BV_CHECK(worst <= ftol, "%s forward: max rel err %g > %g", k_bin_name[op], worst, ftol);
    double wa = 0, wb = 0;
    for (int64_t i = 0; i < a->numel; i++) wa = fmax(wa, fabs(a->grad[i] - ga[i]) / (1 + fabs(ga[i])));
    for (int64_t i = 0; i < b->numel; i++) wb = fmax(wb, fabs(b->grad[i] - gb[i]) / (1 + fabs(gb[i])));
    BV_CHECK(wa <= 1e-4 && wb <= 1e-4, "%s grads vs naive: a %g b %g", k_bin_name[op], wa, wb);
    free(ga);
    free(gb);
}

BV_TEST(elementwise_binary_forward_and_grads_vs_naive) {
    bv_ctx *ctx = ts->ctx;
    for (int op = 0; op < 4; op++)
        for (int p = 0; p < N_PAIRS; p++) {
            bv_tensor *a = bv_test_input(ctx, k_pairs[p].nda, k_pairs[p].a, 1.0f);
            bv_tensor *b = bv_test_input(ctx, k_pairs[p].ndb, k_pairs[p].b, 1.0f);
            if (op == 3) away_from_zero(b);
            check_against_naive(ts, op, a, b, 0.0); /* one float op per element: bit-exact */
        }
}

/* Large enough for the OpenMP paths and the chunked inner loop. */
BV_TEST(elementwise_binary_large_parallel_paths) {
    bv_ctx *ctx = ts->ctx;
    const int64_t sa[3] = {3, 5, 9000}, s1[3] = {3, 1, 9000}, s2[3] = {3, 5, 1}, s3[1] = {9000};
    const int64_t *bs[4] = {sa, s1, s2, s3};
    const int bnd[4] = {3, 3, 3, 1};
    for (int k = 0; k < 4; k++) {
        int op = k; /* each pattern with a different op */
        bv_tensor *a = bv_test_input(ctx, 3, sa, 1.0f), *b = bv_test_input(ctx, bnd[k], bs[k], 1.0f);
        if (op == 3) away_from_zero(b);
        check_against_naive(ts, op, a, b, 0.0);
        check_against_naive(ts, op, b, a, 0.0); /* broadcast on the left */
    }
}

BV_TEST(elementwise_binary_shape_and_dtype_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *a = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 3)), *b = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 4));
    for (int op = 0; op < 4; op++) {
        int raised = BV_EXPECT_ERROR(ctx, msg, k_bin[op](ctx, a, b));
        BV_CHECK(raised && strstr(msg, k_bin_name[op]) && strstr(msg, "[2, 3]") && strstr(msg, "[2, 4]"),
                 "%s: message must name the op and both shapes: %s", k_bin_name[op], raised ? msg : "(no error)");
    }
    bv_tensor *ids = bv_zeros(ctx, BV_I64, BV_SHAPE(2, 3));
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_mul(ctx, a, ids));
    BV_CHECK(raised && strstr(msg, "mul") && strstr(msg, "i64"), "dtype error: %s", raised ? msg : "(no error)");
    raised = BV_EXPECT_ERROR(ctx, msg, bv_exp(ctx, ids));
    BV_CHECK(raised && strstr(msg, "exp") && strstr(msg, "i64"), "unary dtype error: %s", raised ? msg : "(no error)");
}

BV_TEST(elementwise_no_tape_without_grad) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *a = bv_full(ctx, BV_SHAPE(2, 3), 1.0f), *b = bv_full(ctx, BV_SHAPE(3), 2.0f);
    int64_t t0 = ctx->tape_len;
    bv_tensor *y = bv_tanh(ctx, bv_mul(ctx, a, b));
    BV_CHECK(ctx->tape_len == t0 && !y->requires_grad, "constant inputs must record nothing");
    a->requires_grad = true;
    bv_no_grad_begin(ctx);
    y = bv_exp(ctx, bv_add(ctx, a, b));
    bv_no_grad_end(ctx);
    BV_CHECK(ctx->tape_len == t0 && !y->requires_grad, "no_grad scope must record nothing");
    y = bv_exp(ctx, bv_add(ctx, a, b));
    BV_CHECK(ctx->tape_len == t0 + 2 && y->requires_grad, "two nodes expected, got %lld", (long long)(ctx->tape_len - t0));
}

/* ---- unary ops ---- */

typedef enum { DOM_ANY, DOM_POS, DOM_WIDE } domain;
typedef struct {
    const char *name;
    int id;
    float p0, p1;
    domain dom;
} unary_case;

static const unary_case k_unary[] = {
    {"neg", 0, 0, 0, DOM_ANY},          {"exp", 1, 0, 0, DOM_ANY},          {"log", 2, 0, 0, DOM_POS},
    {"sqrt", 3, 0, 0, DOM_POS},         {"square", 4, 0, 0, DOM_ANY},       {"abs", 5, 0, 0, DOM_ANY},
    {"tanh", 6, 0, 0, DOM_ANY},         {"sigmoid", 7, 0, 0, DOM_ANY},      {"relu", 8, 0, 0, DOM_ANY},
    {"leaky_relu", 9, 0.1f, 0, DOM_ANY}, {"gelu", 10, 0, 0, DOM_ANY},       {"silu", 11, 0, 0, DOM_ANY},
    {"softplus", 12, 0, 0, DOM_WIDE},   {"logsigmoid", 13, 0, 0, DOM_WIDE}, {"clamp", 14, -0.5f, 0.7f, DOM_ANY},
    {"clamp_lo_only", 14, -0.3f, INFINITY, DOM_ANY},                        {"add_scalar", 15, 2.5f, 0, DOM_ANY},
    {"mul_scalar", 16, -1.7f, 0, DOM_ANY}, {"rsub_scalar", 17, 3.0f, 0, DOM_ANY},
    {"pow2", 18, 2.0f, 0, DOM_ANY},     {"pow3", 18, 3.0f, 0, DOM_ANY},     {"pow0.5", 18, 0.5f, 0, DOM_POS},
    {"pow-1.5", 18, -1.5f, 0, DOM_POS}, {"pow0", 18, 0.0f, 0, DOM_ANY},
};
#define N_UNARY ((int)(sizeof k_unary / sizeof k_unary[0]))

static bv_tensor *apply_unary(bv_ctx *ctx, const unary_case *u, bv_tensor *x) {
    switch (u->id) {
    case 0: return bv_neg(ctx, x);
    case 1: return bv_exp(ctx, x);
    case 2: return bv_log(ctx, x);
    case 3: return bv_sqrt(ctx, x);
    case 4: return bv_square(ctx, x);
    case 5: return bv_abs(ctx, x);
    case 6: return bv_tanh(ctx, x);
    case 7: return bv_sigmoid(ctx, x);
    case 8: return bv_relu(ctx, x);
    case 9: return bv_leaky_relu(ctx, x, u->p0);
    case 10: return bv_gelu(ctx, x);
    case 11: return bv_silu(ctx, x);
    case 12: return bv_softplus(ctx, x);
    case 13: return bv_logsigmoid(ctx, x);
    case 14: return bv_clamp(ctx, x, u->p0, u->p1);
    case 15: return bv_add_scalar(ctx, x, u->p0);
    case 16: return bv_mul_scalar(ctx, x, u->p0);
    case 17: return bv_rsub_scalar(ctx, u->p0, x);
    default: return bv_pow_scalar(ctx, x, u->p0);
    }
}

/* Reference forward in double. */
static double ref_unary(const unary_case *u, double x) {
    switch (u->id) {
    case 0: return -x;
    case 1: return exp(x);
    case 2: return log(x);
    case 3: return sqrt(x);
    case 4: return x * x;
    case 5: return fabs(x);
    case 6: return tanh(x);
    case 7: return 1 / (1 + exp(-x));
    case 8: return x > 0 ? x : 0;
    case 9: return x > 0 ? x : x * u->p0;
    case 10: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case 11: return x / (1 + exp(-x));
    case 12: return x > 20 ? x : log1p(exp(x));
    case 13: return -log1p(exp(-x));
    case 14: return x < u->p0 ? u->p0 : x > u->p1 ? u->p1 : x;
    case 15: return x + u->p0;
    case 16: return x * u->p0;
    case 17: return u->p0 - x;
    default: return pow(x, u->p0);
    }
}

static bv_tensor *make_unary_input(bv_ctx *ctx, const unary_case *u, int ndim, const int64_t *shape) {
    bv_tensor *x = bv_test_input(ctx, ndim, shape, u->dom == DOM_WIDE ? 12.0f : 1.5f);
    if (u->dom == DOM_POS)
        for (int64_t i = 0; i < x->numel; i++) x->data[i] = 0.2f + fabsf(x->data[i]);
    return x;
}

static bv_tensor *gc_unary(bv_ctx *ctx, bv_tensor **in, void *user) {
    return apply_unary(ctx, (const unary_case *)user, in[0]);
}

BV_TEST(elementwise_unary_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    for (int k = 0; k < N_UNARY; k++) {
        bv_tensor *x = make_unary_input(ctx, &k_unary[k], BV_SHAPE(3, 4, 5));
        bv_gradcheck(ts, k_unary[k].name, gc_unary, 1, &x, (void *)&k_unary[k], 1e-3, 1e-3, 1e-2, 60);
    }
}

BV_TEST(elementwise_unary_forward_vs_double) {
    bv_ctx *ctx = ts->ctx;
    for (int k = 0; k < N_UNARY; k++) {
        const unary_case *u = &k_unary[k];
        /* 40000 elements: also runs the OpenMP path */
        bv_tensor *x = make_unary_input(ctx, u, BV_SHAPE(4, 10000));
        bv_tensor *y = apply_unary(ctx, u, x);
        double worst = 0;
        for (int64_t i = 0; i < x->numel; i++) {
            double want = ref_unary(u, x->data[i]);
            worst = fmax(worst, fabs(y->data[i] - want) - 2e-6 * fabs(want));
        }
        BV_CHECK(worst <= 1e-6, "%s: max err beyond 2e-6 relative: %g (allowed 1e-6)", u->name, worst);
    }
}

/* The branch-free selects (leaky_relu, relu, clamp: vectorised loops) give exactly the scalar
 * formulas, NaN, infinities and signed zeros included, in the short (remainder) and long (OpenMP,
 * SIMD) paths; so do their gradients. */
BV_TEST(elementwise_select_ops_exact) {
    bv_ctx *ctx = ts->ctx;
    static const float special[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-40f, -1e-40f, 3.0f, -2.0f, 0.4f};
    const int ns = (int)(sizeof special / sizeof *special);
    for (int len = 0; len < 2; len++) {
        int64_t n = len ? 70001 : 13;
        bv_tensor *x = bv_new(ctx, BV_F32, BV_SHAPE(n)); // [n]
        for (int64_t i = 0; i < n; i++) x->data[i] = special[i % ns];
        x->requires_grad = true;
        bv_tensor *g = bv_new(ctx, BV_F32, BV_SHAPE(n));
        for (int64_t i = 0; i < n; i++) g->data[i] = 0.5f + (float)(i % 3);
        bv_tensor *y[3] = {bv_leaky_relu(ctx, x, 0.1f), bv_relu(ctx, x), bv_clamp(ctx, x, -0.5f, 0.5f)};
        int bad_y = 0, bad_g = 0;
        for (int k = 0; k < 3; k++) {
            x->grad = NULL;
            bv_tape_cut(ctx, 0);
            bv_tensor *yk = k == 0   ? bv_leaky_relu(ctx, x, 0.1f)
                            : k == 1 ? bv_relu(ctx, x)
                                     : bv_clamp(ctx, x, -0.5f, 0.5f);
            bv_backward(ctx, yk, g);
            for (int64_t i = 0; i < n; i++) {
                float v = x->data[i], gi = g->data[i];
                float want = k == 0 ? (v > 0.0f ? v : v * 0.1f) : k == 1 ? (v > 0.0f ? v : 0.0f)
                                                                          : (v < -0.5f ? -0.5f : v > 0.5f ? 0.5f : v);
                float dwant = k == 0 ? (v > 0.0f ? gi : gi * 0.1f) : k == 1 ? (v > 0.0f ? gi : 0.0f)
                                                                            : (v >= -0.5f && v <= 0.5f ? gi : 0.0f);
                float got = y[k]->data[i];
                bad_y += isnan(want) ? !isnan(got) : memcmp(&got, &want, sizeof got) != 0;
                bad_g += memcmp(&x->grad[i], &dwant, sizeof dwant) != 0;
            }
        }
        BV_CHECK(bad_y == 0 && bad_g == 0, "n %lld: %d outputs and %d gradients differ from the scalar formulas",
                 (long long)n, bad_y, bad_g);
    }
}

static float grad_at(bv_test_state *ts, const unary_case *u, float v) {
    bv_tensor *x = bv_full(ts->ctx, BV_SHAPE(1), v);
    x->requires_grad = true;
    bv_tensor *y = apply_unary(ts->ctx, u, x);
    bv_backward(ts->ctx, y, NULL);
    return x->grad[0];
}

BV_TEST(elementwise_unary_torch_conventions) {
    bv_ctx *ctx = ts->ctx;
    const unary_case absc = {"abs", 5, 0, 0, DOM_ANY}, relu = {"relu", 8, 0, 0, DOM_ANY};
    const unary_case clampc = {"clamp", 14, -0.5f, 0.5f, DOM_ANY}, sp = {"softplus", 12, 0, 0, DOM_ANY};
    const unary_case lrelu = {"leaky_relu", 9, 0.2f, 0, DOM_ANY}, pow0 = {"pow0", 18, 0.0f, 0, DOM_ANY};
    BV_CHECK(grad_at(ts, &absc, 0.0f) == 0.0f, "abs'(0) must be 0");
    BV_CHECK(grad_at(ts, &relu, 0.0f) == 0.0f, "relu'(0) must be 0");
    BV_CHECK(grad_at(ts, &lrelu, 0.0f) == 0.2f, "leaky_relu'(0) must be the slope");
    BV_CHECK(grad_at(ts, &clampc, -0.5f) == 1.0f && grad_at(ts, &clampc, 0.5f) == 1.0f,
             "clamp grad passes on the closed interval");
    BV_CHECK(grad_at(ts, &clampc, 0.5001f) == 0.0f, "clamp grad is 0 outside");
    BV_CHECK(grad_at(ts, &sp, 25.0f) == 1.0f, "softplus above threshold 20 is the identity");
    BV_CHECK(grad_at(ts, &pow0, 0.0f) == 0.0f, "pow(x, 0) has zero grad even at 0");
    bv_tensor *x = bv_from_f32(ctx, BV_SHAPE(4), (float[]){-200.0f, -30.0f, 30.0f, 200.0f});
    bv_tensor *ls = bv_logsigmoid(ctx, x), *spv = bv_softplus(ctx, x), *sg = bv_sigmoid(ctx, x);
    BV_CHECK(ls->data[0] == -200.0f && ls->data[3] == 0.0f && isfinite(ls->data[1]), "logsigmoid must be stable");
    BV_CHECK(spv->data[0] == 0.0f && spv->data[2] == 30.0f && spv->data[3] == 200.0f, "softplus tails");
    BV_CHECK(sg->data[0] == 0.0f && sg->data[3] == 1.0f, "sigmoid tails");
}

/* Elementwise backward writes a fresh gradient instead of zero-filling and adding to it
 * (bv_grad_for_overwrite): the same bits as the += on zeros (+0, not -0, where the term is -0),
 * every element written although the second pass gets pool blocks still holding the first pass's
 * gradients, and later contributions (u used twice; u * u, both inputs one tensor) still added.
 * 40000 elements: the threaded loops too. Values and products exact in fp32. */
BV_TEST(elementwise_backward_overwrites_fresh_gradients_exactly) {
    bv_ctx *ctx = ts->ctx;
    const int64_t n = 40000;
    bv_tensor *x = bv_new(ctx, BV_F32, BV_SHAPE(n)), *gy = bv_new(ctx, BV_F32, BV_SHAPE(n));
    for (int64_t i = 0; i < n; i++) x->data[i] = 0.5f * (float)(i % 7 - 3), gy->data[i] = (float)(i % 5 - 2);
    x->requires_grad = true;
    int64_t bad = 0, neg_zero = 0;
    for (int pass = 0; pass < 2; pass++) {
        int64_t tm = bv_tape_mark(ctx);
        bv_tensor *u = bv_mul_scalar(ctx, x, 1.0f);
        bv_tensor *z = bv_neg(ctx, bv_sub(ctx, bv_mul(ctx, u, u), u)); // -(u * u - u)
        memset(bv_grad(ctx, x), 0, sizeof(float) * (size_t)n);
        bv_backward(ctx, z, gy);
        bv_tape_cut(ctx, tm);
        for (int64_t i = 0; i < n; i++) {
            const float gz = 0.0f + gy->data[i] * -1.0f; /* neg */
            float gu = 0.0f + -gz;                        /* sub's second input */
            gu += gz * x->data[i];                        /* mul's inputs, a then b */
            gu += gz * x->data[i];
            const float want = 0.0f + gu * 1.0f; /* then x's own +=: 0 + want */
            bad += memcmp(&x->grad[i], &want, sizeof want) != 0;
        }
    }
    BV_CHECK(bad == 0, "%lld gradient elements differ from the += on zeros", (long long)bad);
    /* -x with a zero output gradient: 0 + (0 * -1) is +0 */
    bv_tensor *y = bv_new(ctx, BV_F32, BV_SHAPE(n)), *g0 = bv_full(ctx, BV_SHAPE(n), 0.0f);
    for (int64_t i = 0; i < n; i++) y->data[i] = (float)i;
    y->requires_grad = true;
    int64_t tm = bv_tape_mark(ctx);
    bv_tensor *yn = bv_neg(ctx, bv_mul_scalar(ctx, y, 1.0f));
    bv_backward(ctx, yn, g0);
    bv_tape_cut(ctx, tm);
    for (int64_t i = 0; i < n; i++) neg_zero += signbit(y->grad[i]) != 0;
    BV_CHECK(neg_zero == 0, "%lld gradient elements are -0 (the += on zeros gives +0)", (long long)neg_zero);
}
