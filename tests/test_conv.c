/* test_conv.c - conv1d, conv_transpose1d, conv2d (oneDNN) and weight_norm:
 *   - oneDNN forward and every gradient vs the naive double oracle (conv_ref.c) on random
 *     geometries (groups, strides, dilations, paddings, odd lengths, with and without bias);
 *   - gradients accumulate (first-touch and scratch paths, parameters);
 *   - the primitive cache survives eviction;
 *   - finite-difference gradient checks of every op;
 *   - shape errors name the op and both shapes;
 *   - golden cases A02-A05, whose conv hyper-parameters are parsed from the manifest "ctor" string;
 *   - bf16 (ctx->autocast = BV_AUTOCAST_BF16), every conv kind the model uses, forward, backward data
 *     and backward weights (the last section).
 */
#include <ctype.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../src/ops/conv_ref.h"
#include "../src/ops/cpu/bf16.h"
#include "../src/ops/dispatch.h"
#include "../src/ops/ops.h"
#include "golden.h"
#include "test.h"

/* ---------------- one conv spec drives the op, the oracle and the gradcheck ---------------- */

typedef struct {
    int nsp, transposed, bias;
    int64_t N, IC, OC, G, in[2], k[2], stride[2], pad[2], dil[2], out_pad[2];
} conv_spec;

static bv_conv_geom spec_geom(const conv_spec *s) {
    bv_conv_geom g;
    memset(&g, 0, sizeof g);
    g.nsp = s->nsp;
    g.transposed = s->transposed;
    g.has_bias = s->bias;
    g.N = s->N;
    g.IC = s->IC;
    g.OC = s->OC;
    g.G = s->G;
    for (int i = 0; i < 2; i++) {
        int sp = i < s->nsp;
        g.in[i] = sp ? s->in[i] : 1;
        g.k[i] = sp ? s->k[i] : 1;
        g.stride[i] = sp ? s->stride[i] : 1;
        g.pad[i] = sp ? s->pad[i] : 0;
        g.dil[i] = sp ? s->dil[i] : 1;
        g.out_pad[i] = sp && s->transposed ? s->out_pad[i] : 0;
        g.out[i] = bv_conv_out_size(&g, i);
    }
    return g;
}

/* The op under test; in = {x, w, b (may be NULL)}. */
static bv_tensor *spec_apply(bv_ctx *ctx, const conv_spec *s, bv_tensor *x, bv_tensor *w, bv_tensor *b) {
    if (s->nsp == 2)
        return bv_conv2d(ctx, x, w, b, (int)s->stride[0], (int)s->stride[1], (int)s->pad[0], (int)s->pad[1],
                         (int)s->dil[0], (int)s->dil[1], (int)s->G);
    if (s->transposed)
        return bv_conv_transpose1d(ctx, x, w, b, (int)s->stride[0], (int)s->pad[0], (int)s->out_pad[0], (int)s->G,
                                   (int)s->dil[0]);
    return bv_conv1d(ctx, x, w, b, (int)s->stride[0], (int)s->pad[0], (int)s->dil[0], (int)s->G);
}

static void spec_shapes(const conv_spec *s, int64_t *xs, int64_t *ws) {
    xs[0] = s->N;
    xs[1] = s->IC;
    ws[0] = s->transposed ? s->IC : s->OC;
    ws[1] = s->transposed ? s->OC / s->G : s->IC / s->G;
    for (int i = 0; i < s->nsp; i++) {
        xs[2 + i] = s->in[i];
        ws[2 + i] = s->k[i];
    }
}

/* Random x [N, IC, in...], w, b [OC] for a spec (all requiring grad). */
static void spec_inputs(bv_ctx *ctx, const conv_spec *s, bv_tensor **in) {
    int64_t xs[4], ws[4];
    spec_shapes(s, xs, ws);
    in[0] = bv_test_input(ctx, 2 + s->nsp, xs, 1.0f);
    in[1] = bv_test_input(ctx, 2 + s->nsp, ws, 0.5f);
    in[2] = s->bias ? bv_test_input(ctx, BV_SHAPE(s->OC), 0.5f) : NULL;
}

/* |a - e| <= tol * (max(1, max|e|) + |e|) over the tensor, fp32 kernel vs double oracle. */
static int close_to(bv_test_state *ts, const char *what, const float *a, const float *e, int64_t n, double tol) {
    double emax = 1;
    for (int64_t i = 0; i < n; i++) emax = fmax(emax, fabs(e[i]));
    for (int64_t i = 0; i < n; i++) {
        double err = fabs((double)a[i] - e[i]);
        if (!(err <= tol * (emax + fabs(e[i])))) {
            fprintf(stderr, "  %s: elem %lld got %.7g expected %.7g\n", what, (long long)i, a[i], e[i]);
            ts->failed = 1;
            return 0;
        }
    }
    return 1;
}

/* oneDNN forward and gradients of sum(y * gy) vs the oracle. */
static void check_vs_oracle(bv_test_state *ts, const conv_spec *s, const char *what) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *in[3];
    spec_inputs(ctx, s, in);
    bv_tensor *y = spec_apply(ctx, s, in[0], in[1], in[2]);
    bv_conv_geom g = spec_geom(s);
    float *ey = malloc(sizeof(float) * (size_t)y->numel);
    bv_conv_ref_forward(ey, in[0]->data, in[1]->data, in[2] ? in[2]->data : NULL, &g);
    char msg[160];
    snprintf(msg, sizeof msg, "%s forward", what);
    close_to(ts, msg, y->data, ey, y->numel, 1e-5);
    BV_CHECK(y->numel == g.N * g.OC * g.out[0] * g.out[1], "%s: output size", what);

    bv_tensor *gy = bv_new_like(ctx, y);
    bv_test_randn(ctx, gy, 1.0f);
    bv_backward(ctx, y, gy);
    float *gx = malloc(sizeof(float) * (size_t)in[0]->numel), *gw = malloc(sizeof(float) * (size_t)in[1]->numel);
    float gb[4096];
    bv_conv_ref_backward(gx, gw, in[2] ? gb : NULL, gy->data, in[0]->data, in[1]->data, &g);
    snprintf(msg, sizeof msg, "%s grad x", what);
    close_to(ts, msg, in[0]->grad, gx, in[0]->numel, 1e-5);
    snprintf(msg, sizeof msg, "%s grad w", what);
    close_to(ts, msg, in[1]->grad, gw, in[1]->numel, 1e-5);
    if (in[2]) {
        snprintf(msg, sizeof msg, "%s grad b", what);
        close_to(ts, msg, in[2]->grad, gb, s->OC, 1e-5);
    }
    free(ey);
    free(gx);
    free(gw);
}

/* conv(x) + conv(x2) + conv(x) with one weight, where a pass runs in conv.c's own loops: each
 * backward adds to the weight's (and x's) gradient what the one before wrote. Against the oracle's
 * sums. */
static void check_grads_accumulate(bv_test_state *ts, const conv_spec *sp) {
    bv_ctx *ctx = ts->ctx;
    const conv_spec s = *sp;
    bv_tensor *in[3], *x2;
    spec_inputs(ctx, &s, in);
    x2 = bv_test_input(ctx, in[0]->ndim, in[0]->shape, 1.0f);
    bv_tensor *y = bv_add(ctx, spec_apply(ctx, &s, in[0], in[1], in[2]), spec_apply(ctx, &s, x2, in[1], in[2]));
    y = bv_add(ctx, y, spec_apply(ctx, &s, in[0], in[1], in[2]));
    bv_tensor *gy = bv_new_like(ctx, y);
    bv_test_randn(ctx, gy, 1.0f);
    bv_backward(ctx, y, gy);
    const bv_conv_geom g = spec_geom(&s);
    const int64_t nx = in[0]->numel, nw = in[1]->numel;
    float *gx = malloc(sizeof(float) * (size_t)nx), *gx2 = malloc(sizeof(float) * (size_t)nx),
          *gw = malloc(sizeof(float) * (size_t)nw), *gw2 = malloc(sizeof(float) * (size_t)nw),
          *gb = malloc(sizeof(float) * (size_t)s.OC), *gb2 = malloc(sizeof(float) * (size_t)s.OC);
    bv_conv_ref_backward(gx, gw, gb, gy->data, in[0]->data, in[1]->data, &g);
    bv_conv_ref_backward(gx2, gw2, gb2, gy->data, x2->data, in[1]->data, &g);
    for (int64_t i = 0; i < nw; i++) gw[i] = 2 * gw[i] + gw2[i];
    for (int64_t i = 0; i < s.OC; i++) gb[i] = 2 * gb[i] + gb2[i];
    for (int64_t i = 0; i < nx; i++) gx[i] *= 2;
    close_to(ts, "grad w of three uses", in[1]->grad, gw, nw, 1e-5);
    close_to(ts, "grad b of three uses", in[2]->grad, gb, s.OC, 1e-5);
    close_to(ts, "grad x of two uses", in[0]->grad, gx, nx, 1e-5);
    close_to(ts, "grad x2", x2->grad, gx2, nx, 1e-5);
    free(gx);
    free(gx2);
    free(gw);
    free(gw2);
    free(gb);
    free(gb2);
}

/* the DiscriminatorS's few-channels-per-group weight pass (grouped_bwd_weights) */
BV_TEST(conv1d_grouped_weight_grad_accumulates) {
    check_grads_accumulate(ts, &(conv_spec){1, 0, 1, 2, 16, 64, 4, {700}, {41}, {4}, {20}, {1}, {0}});
}

/* wide plain convs' fp32 backward passes as one sgemm each (wide_bwd_weights, wide_bwd_data): the
 * MPD's (K, 1) conv2d, strided (weights; its first layer, one input channel: data), a dilated
 * conv1d (weights), one over 264 channels (both), and both on inputs shorter than the padding */
BV_TEST(conv_wide_grads_accumulate) {
    check_grads_accumulate(ts, &(conv_spec){2, 0, 1, 2, 8, 160, 1, {40, 3}, {5, 1}, {3, 1}, {2, 0}, {1, 1}, {0, 0}});
    check_grads_accumulate(ts, &(conv_spec){2, 0, 1, 2, 1, 32, 1, {60, 3}, {5, 1}, {3, 1}, {2, 0}, {1, 1}, {0, 0}});
    check_grads_accumulate(ts, &(conv_spec){1, 0, 1, 2, 136, 144, 1, {37}, {5}, {1}, {4}, {2}, {0}});
    check_grads_accumulate(ts, &(conv_spec){1, 0, 1, 2, 264, 8, 1, {12}, {5}, {1}, {2}, {1}, {0}});
    /* inputs shorter than the padding: taps that reach no input row (the MPD's last layers on a
     * short signal) */
    check_grads_accumulate(ts, &(conv_spec){1, 0, 1, 2, 264, 8, 1, {1}, {5}, {1}, {2}, {1}, {0}});
    check_grads_accumulate(ts, &(conv_spec){2, 0, 1, 2, 8, 160, 1, {2, 3}, {5, 1}, {3, 1}, {2, 0}, {1, 1}, {0, 0}});
}

/* conv1d: {nsp, transposed, bias, N, IC, OC, G, in, k, stride, pad, dil, out_pad} */
static const conv_spec conv1d_specs[] = {
    {1, 0, 1, 2, 4, 6, 1, {20}, {5}, {1}, {4}, {2}, {0}},      /* A02-like dilated */
    {1, 0, 1, 2, 16, 64, 4, {50}, {41}, {4}, {20}, {1}, {0}},  /* DiscriminatorS grouped strided */
    {1, 0, 0, 1, 8, 8, 8, {33}, {3}, {2}, {0}, {3}, {0}},      /* depthwise, no bias, odd length */
    {1, 0, 1, 3, 6, 9, 3, {17}, {4}, {3}, {2}, {2}, {0}},      /* even kernel, length not divisible */
    {1, 0, 1, 2, 5, 7, 1, {9}, {1}, {1}, {0}, {1}, {0}},       /* 1x1 */
    {1, 0, 1, 1, 3, 4, 1, {12}, {7}, {5}, {0}, {1}, {0}},      /* stride > needed, no padding */
    {1, 0, 1, 2, 6, 6, 6, {20}, {3}, {1}, {9}, {9}, {0}},      /* DDSConv: depthwise, dilation 9 */
    {1, 0, 0, 2, 4, 4, 4, {13}, {4}, {3}, {1}, {2}, {0}},      /* depthwise, strided, no bias */
    {1, 0, 1, 2, 8, 32, 2, {2100}, {41}, {4}, {20}, {1}, {0}}, /* grouped weight grad: output in 2 pieces */
    {1, 0, 0, 1, 32, 16, 2, {600}, {7}, {1}, {6}, {2}, {0}},   /* 16 inputs per group, dilated, no bias */
};

static const conv_spec convt_specs[] = {
    {1, 1, 1, 2, 8, 4, 1, {6}, {16}, {8}, {4}, {1}, {0}},      /* Generator.ups */
    {1, 1, 1, 2, 6, 4, 2, {7}, {4}, {2}, {1}, {1}, {1}},       /* groups, output_padding */
    {1, 1, 0, 1, 4, 6, 2, {5}, {3}, {3}, {2}, {2}, {1}},       /* dilation */
    {1, 1, 1, 2, 3, 5, 1, {4}, {2}, {2}, {0}, {1}, {0}},       /* k = stride */
    {1, 1, 1, 1, 3, 4, 1, {5}, {3}, {2}, {0}, {1}, {1}},       /* output_padding > padding */
    {1, 1, 0, 1, 2, 2, 1, {4}, {2}, {1}, {0}, {3}, {2}},       /* output_padding from dilation */
    {1, 1, 1, 2, 4, 4, 4, {6}, {3}, {2}, {1}, {2}, {1}},       /* depthwise */
};

static const conv_spec conv2d_specs[] = {
    {2, 0, 1, 2, 4, 8, 1, {20, 3}, {5, 1}, {3, 1}, {2, 0}, {1, 1}, {0, 0}},   /* DiscriminatorP */
    {2, 0, 1, 1, 6, 4, 2, {9, 7}, {3, 3}, {2, 1}, {1, 2}, {1, 2}, {0, 0}},    /* general, groups */
    {2, 0, 0, 2, 3, 5, 1, {8, 5}, {3, 1}, {1, 1}, {1, 0}, {1, 1}, {0, 0}},    /* conv_post-like, no bias */
};

/* Every spec under each layout choice: oneDNN's sgemm path (plain), its direct path (blocked,
 * reorders around the call) and the automatic per-shape choice. */
static void check_specs(bv_test_state *ts, const conv_spec *specs, int n, const char *what) {
    static const char *const names[] = {"auto", "plain", "blocked"};
    for (int lay = BV_CONV_LAYOUT_AUTO; lay <= BV_CONV_LAYOUT_BLOCKED; lay++) {
        bv_conv_set_layout(ts->ctx->be, (bv_conv_layout)lay);
        for (int i = 0; i < n; i++) {
            char w[96];
            snprintf(w, sizeof w, "%s spec %d (%s layouts)", what, i, names[lay]);
            check_vs_oracle(ts, &specs[i], w);
        }
    }
    bv_conv_set_layout(ts->ctx->be, BV_CONV_LAYOUT_AUTO);
}

#define N_OF(a) ((int)(sizeof(a) / sizeof *(a)))
BV_TEST(conv1d_matches_oracle) { check_specs(ts, conv1d_specs, N_OF(conv1d_specs), "conv1d"); }
BV_TEST(conv_transpose1d_matches_oracle) { check_specs(ts, convt_specs, N_OF(convt_specs), "conv_transpose1d"); }
BV_TEST(conv2d_matches_oracle) { check_specs(ts, conv2d_specs, N_OF(conv2d_specs), "conv2d"); }

/* Random geometries: every combination the model could produce, checked against the oracle. */
BV_TEST(conv_random_geometries_match_oracle) {
    bv_ctx *ctx = ts->ctx;
    for (int t = 0; t < 24; t++) {
        conv_spec s;
        memset(&s, 0, sizeof s);
        s.nsp = t % 3 == 2 ? 2 : 1;
        s.transposed = s.nsp == 1 && t % 3 == 1;
        s.bias = (int)(bv_rng_u64(&ctx->rng) % 2);
        s.N = 1 + (int64_t)(bv_rng_u64(&ctx->rng) % 2);
        s.G = 1 + (int64_t)(bv_rng_u64(&ctx->rng) % 3);
        s.IC = s.G * (1 + (int64_t)(bv_rng_u64(&ctx->rng) % 3));
        s.OC = s.G * (1 + (int64_t)(bv_rng_u64(&ctx->rng) % 3));
        for (int d = 0; d < s.nsp; d++) {
            s.k[d] = 1 + (int64_t)(bv_rng_u64(&ctx->rng) % 5);
            s.stride[d] = 1 + (int64_t)(bv_rng_u64(&ctx->rng) % 3);
            s.dil[d] = 1 + (int64_t)(bv_rng_u64(&ctx->rng) % 3);
            s.pad[d] = (int64_t)(bv_rng_u64(&ctx->rng) % 3);
            s.in[d] = s.dil[d] * (s.k[d] - 1) + 1 + (int64_t)(bv_rng_u64(&ctx->rng) % 9);
            int64_t m = s.stride[d] > s.dil[d] ? s.stride[d] : s.dil[d];
            s.out_pad[d] = s.transposed ? (int64_t)(bv_rng_u64(&ctx->rng) % (uint64_t)m) : 0;
        }
        char w[64];
        snprintf(w, sizeof w, "random geometry %d", t);
        check_specs(ts, &s, 1, w);
    }
}

/* Gradients accumulate: x used twice (first touch written directly, second through scratch),
 * w a persistent parameter whose grad already holds a value. */
BV_TEST(conv_grads_accumulate) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_tensor *w = bv_params_add(&ps, "conv.weight", BV_SHAPE(6, 2, 3)); // conv.weight [6, 2, 3]
    bv_test_randn(ctx, w, 0.5f);
    for (int64_t i = 0; i < w->numel; i++) w->grad[i] = 1.0f;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 4, 11), 1.0f); // [B, C, T]
    bv_tensor *y1 = bv_conv1d(ctx, x, w, NULL, 1, 1, 1, 2), *y2 = bv_conv1d(ctx, x, w, NULL, 1, 1, 1, 2);
    bv_tensor *gy = bv_new_like(ctx, y1);
    bv_test_randn(ctx, gy, 1.0f);
    bv_tensor *roots[2] = {y1, y2};
    const bv_tensor *gouts[2] = {gy, gy};
    bv_backward_multi(ctx, 2, roots, gouts);
    bv_conv_geom g = spec_geom(&(conv_spec){1, 0, 0, 2, 4, 6, 2, {11}, {3}, {1}, {1}, {1}, {0}});
    float gx[88], gw[36];
    bv_conv_ref_backward(gx, gw, NULL, gy->data, x->data, w->data, &g);
    for (int i = 0; i < 88; i++) gx[i] *= 2;
    for (int i = 0; i < 36; i++) gw[i] = 2 * gw[i] + 1.0f;
    close_to(ts, "accumulated grad x", x->grad, gx, 88, 1e-5);
    close_to(ts, "accumulated grad w", w->grad, gw, 36, 1e-5);
    bv_params_free(&ps);
}

/* conv1d of x [1, 1, T] with w [2, 1, 2], no padding; 1 if y is right. */
static int tiny_conv_ok(bv_ctx *ctx, bv_tensor *w, int64_t T) {
    bv_ctx_mark m = bv_ctx_get_mark(ctx);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(1, 1, T), 1.0f); // [1, 1, T]
    bv_no_grad_begin(ctx);
    bv_tensor *y = bv_conv1d(ctx, x, w, NULL, 1, 0, 1, 1);     // [1, 2, T-1]
    bv_no_grad_end(ctx);
    int64_t i = T - 2; /* last output */
    float e0 = w->data[0] * x->data[i] + w->data[1] * x->data[i + 1];
    float e1 = w->data[2] * x->data[i] + w->data[3] * x->data[i + 1];
    int ok = fabsf(y->data[i] - e0) <= 1e-5f && fabsf(y->data[T - 1 + i] - e1) <= 1e-5f;
    bv_ctx_reset_to(ctx, m);
    return ok;
}

/* More distinct geometries than the primitive cache holds: it stays bounded, and the evicted
 * (least recently used) entries rebuild correctly. */
BV_TEST(conv_primitive_cache_eviction) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *w = bv_test_input(ctx, BV_SHAPE(2, 1, 2), 1.0f); // [2, 1, 2]
    int cap = bv_conv_cache_capacity(ts->ctx->be), bad = 0;
    for (int64_t T = 2; T < 2 + cap + 16; T++) bad += !tiny_conv_ok(ctx, w, T);
    BV_CHECK(bv_conv_cache_used(ts->ctx->be) == cap, "cache holds %d entries, capacity %d", bv_conv_cache_used(ts->ctx->be), cap);
    for (int64_t T = 2; T < 2 + 16; T++) bad += !tiny_conv_ok(ctx, w, T); /* evicted ones */
    BV_CHECK(bad == 0, "%d wrong outputs around cache eviction", bad);
}

BV_TEST(conv_no_grad_records_nothing) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(1, 2, 5), 1.0f), *w = bv_test_input(ctx, BV_SHAPE(3, 2, 3), 1.0f);
    bv_no_grad_begin(ctx);
    bv_tensor *y = bv_conv1d(ctx, x, w, NULL, 1, 1, 1, 1);
    bv_tensor *wn = bv_weight_norm(ctx, bv_test_input(ctx, BV_SHAPE(3, 1, 1), 1.0f), w, 0);
    bv_no_grad_end(ctx);
    BV_CHECK(ctx->tape_len == 0 && !y->requires_grad && !wn->requires_grad, "no_grad must record nothing");
}

/* ---------------- finite-difference gradient checks ---------------- */

static bv_tensor *conv_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    return spec_apply(ctx, user, in[0], in[1], in[2]);
}

static void spec_gradcheck(bv_test_state *ts, const conv_spec *s, const char *what) {
    bv_tensor *in[3];
    spec_inputs(ts->ctx, s, in);
    bv_gradcheck(ts, what, conv_fn, s->bias ? 3 : 2, in, (void *)s, 1e-3, 5e-3, 1e-2, 64);
}

BV_TEST(conv1d_gradcheck) {
    spec_gradcheck(ts, &(conv_spec){1, 0, 1, 2, 4, 6, 2, {11}, {3}, {2}, {2}, {2}, {0}}, "conv1d");
}

BV_TEST(conv_transpose1d_gradcheck) {
    spec_gradcheck(ts, &(conv_spec){1, 1, 1, 2, 4, 6, 2, {5}, {3}, {3}, {1}, {2}, {1}}, "conv_transpose1d");
}

BV_TEST(conv2d_gradcheck) {
    spec_gradcheck(ts, &(conv_spec){2, 0, 1, 2, 4, 4, 2, {7, 5}, {3, 2}, {2, 1}, {1, 1}, {1, 2}, {0, 0}}, "conv2d");
}

static bv_tensor *wn_fn(bv_ctx *ctx, bv_tensor **in, void *user) { return bv_weight_norm(ctx, in[0], in[1], *(int *)user); }

BV_TEST(weight_norm_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    int dim0 = 0, dim2 = 2, dim1 = 1;
    bv_tensor *a[2] = {bv_test_input(ctx, BV_SHAPE(5, 1, 1), 1.0f), bv_test_input(ctx, BV_SHAPE(5, 3, 4), 1.0f)};
    bv_gradcheck(ts, "weight_norm dim 0", wn_fn, 2, a, &dim0, 1e-3, 1e-3, 1e-2, 64);
    bv_tensor *b[2] = {bv_test_input(ctx, BV_SHAPE(1, 1, 6), 1.0f), bv_test_input(ctx, BV_SHAPE(4, 2, 6), 1.0f)};
    bv_gradcheck(ts, "weight_norm dim 2", wn_fn, 2, b, &dim2, 1e-3, 1e-3, 1e-2, 64);
    bv_tensor *c[2] = {bv_test_input(ctx, BV_SHAPE(1, 3, 1, 1), 1.0f), bv_test_input(ctx, BV_SHAPE(2, 3, 4, 2), 1.0f)};
    bv_gradcheck(ts, "weight_norm dim 1 (4-d)", wn_fn, 2, c, &dim1, 1e-3, 1e-3, 1e-2, 64);
}

/* w = g * v / ||v|| with the norm over every dim but `dim`: rows of w have norm |g|. */
BV_TEST(weight_norm_values) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *g = bv_test_input(ctx, BV_SHAPE(1, 1, 3), 1.0f), *v = bv_test_input(ctx, BV_SHAPE(2, 4, 3), 1.0f);
    bv_tensor *w = bv_weight_norm(ctx, g, v, 2);
    for (int k = 0; k < 3; k++) {
        double nv = 0, nw = 0, dot = 0;
        for (int i = 0; i < 8; i++) {
            nv += (double)v->data[i * 3 + k] * v->data[i * 3 + k];
            nw += (double)w->data[i * 3 + k] * w->data[i * 3 + k];
            dot += (double)v->data[i * 3 + k] * w->data[i * 3 + k];
        }
        BV_CHECK(fabs(sqrt(nw) - fabs(g->data[k])) < 1e-5, "tap %d: ||w|| %g vs |g| %g", k, sqrt(nw), g->data[k]);
        BV_CHECK(fabs(dot - g->data[k] * sqrt(nv)) < 1e-4 * sqrt(nv), "tap %d: w not parallel to v", k);
    }
}

/* w = v * (float)(g / norm) with norm = sqrt of the squares summed in double in element order, the
 * formula of torch._weight_norm every kernel path (dim 0 rows, dim = last columns, the general
 * strided one) must give bit for bit; sizes above the kernels' parallel thresholds. */
static void wn_bits_case(bv_test_state *ts, int64_t a, int64_t b, int64_t c, int dim) {
    bv_ctx *ctx = ts->ctx;
    int64_t gs[3] = {1, 1, 1}, vs[3] = {a, b, c};
    gs[dim] = vs[dim];
    bv_tensor *g = bv_test_input(ctx, BV_SHAPE(gs[0], gs[1], gs[2]), 1.0f);
    bv_tensor *v = bv_test_input(ctx, BV_SHAPE(a, b, c), 1.0f);
    bv_tensor *w = bv_weight_norm(ctx, g, v, dim);
    int64_t D = vs[dim], inner = 1, outer = 1, bad = 0;
    for (int i = dim + 1; i < 3; i++) inner *= vs[i];
    for (int i = 0; i < dim; i++) outer *= vs[i];
    for (int64_t d = 0; d < D; d++) {
        double acc = 0;
        for (int64_t o = 0; o < outer; o++) {
            const float *r = v->data + (o * D + d) * inner;
            double part[8] = {0}; /* dot_f64's eight partial sums (inner >= 8 rows) or one running sum */
            int64_t i = 0;
            for (; i + 8 <= inner; i += 8)
                for (int j = 0; j < 8; j++) part[j] += (double)r[i + j] * r[i + j];
            for (; i < inner; i++) part[0] += (double)r[i] * r[i];
            acc += ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
        }
        const float scale = (float)(g->data[d] / sqrt(acc));
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t k = (o * D + d) * inner + i;
                bad += w->data[k] != v->data[k] * scale;
            }
    }
    BV_CHECK(bad == 0, "weight_norm [%lld, %lld, %lld] dim %d: %lld elements differ from the formula's bits",
             (long long)a, (long long)b, (long long)c, dim, (long long)bad);
}

BV_TEST(weight_norm_bits_every_path) {
    wn_bits_case(ts, 300, 64, 5, 0);  /* rows: one contiguous slice per output channel */
    wn_bits_case(ts, 128, 48, 12, 2); /* columns: WavLM pos_conv's dim 2 */
    wn_bits_case(ts, 40, 30, 70, 1);  /* the general strided path */
}

/* ---------------- shape errors ---------------- */

static void expect_msg(bv_test_state *ts, const char *msg, int raised, const char *op, const char *s1, const char *s2) {
    BV_CHECK(raised, "%s: expected an error", op);
    BV_CHECK(strncmp(msg, op, strlen(op)) == 0, "message must start with the op name '%s': %s", op, msg);
    BV_CHECK(strstr(msg, s1) && strstr(msg, s2), "message must name %s and %s: %s", s1, s2, msg);
}

BV_TEST(conv_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 4, 10), 1.0f);
    bv_tensor *w = bv_test_input(ctx, BV_SHAPE(6, 3, 5), 1.0f);
    int r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d(ctx, x, w, NULL, 1, 2, 1, 1));
    expect_msg(ts, msg, r, "conv1d", "[2, 4, 10]", "[6, 3, 5]");

    bv_tensor *w3 = bv_test_input(ctx, BV_SHAPE(6, 4, 3), 1.0f); /* groups 3 does not divide 4 */
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d(ctx, x, w3, NULL, 1, 1, 1, 3));
    expect_msg(ts, msg, r, "conv1d", "[2, 4, 10]", "[6, 4, 3]");
    BV_CHECK(strstr(msg, "groups"), "message must mention groups: %s", msg);

    bv_tensor *w5 = bv_test_input(ctx, BV_SHAPE(5, 2, 3), 1.0f); /* groups 2 does not divide Cout 5 */
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d(ctx, x, w5, NULL, 1, 1, 1, 2));
    expect_msg(ts, msg, r, "conv1d", "[2, 4, 10]", "[5, 2, 3]");

    bv_tensor *w_ok = bv_test_input(ctx, BV_SHAPE(6, 4, 3), 1.0f), *b = bv_test_input(ctx, BV_SHAPE(5), 1.0f);
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d(ctx, x, w_ok, b, 1, 1, 1, 1));
    expect_msg(ts, msg, r, "conv1d", "[5]", "[6, 4, 3]");

    bv_tensor *w_long = bv_test_input(ctx, BV_SHAPE(6, 4, 13), 1.0f); /* kernel longer than input */
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d(ctx, x, w_long, NULL, 1, 0, 1, 1));
    expect_msg(ts, msg, r, "conv1d", "[2, 4, 10]", "[6, 4, 13]");

    bv_tensor *x2 = bv_test_input(ctx, BV_SHAPE(2, 4, 10, 3), 1.0f); /* 4-d x into conv1d */
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d(ctx, x2, w_ok, NULL, 1, 1, 1, 1));
    expect_msg(ts, msg, r, "conv1d", "[2, 4, 10, 3]", "3-d");
}

BV_TEST(conv_transpose1d_and_conv2d_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 8, 6), 1.0f);
    bv_tensor *w = bv_test_input(ctx, BV_SHAPE(4, 8, 16), 1.0f); /* [Cout, Cin, K] given instead of [Cin, Cout, K] */
    int r = BV_EXPECT_ERROR(ctx, msg, bv_conv_transpose1d(ctx, x, w, NULL, 8, 4, 0, 1, 1));
    expect_msg(ts, msg, r, "conv_transpose1d", "[2, 8, 6]", "[4, 8, 16]");

    bv_tensor *wt = bv_test_input(ctx, BV_SHAPE(8, 4, 16), 1.0f);
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv_transpose1d(ctx, x, wt, NULL, 8, 4, 9, 1, 1)); /* output_padding >= stride */
    BV_CHECK(r && strstr(msg, "conv_transpose1d") && strstr(msg, "output_padding"), "output_padding: %s", msg);

    bv_tensor *x4 = bv_test_input(ctx, BV_SHAPE(2, 4, 20, 3), 1.0f);
    bv_tensor *w4 = bv_test_input(ctx, BV_SHAPE(8, 2, 5, 1), 1.0f);
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv2d(ctx, x4, w4, NULL, 3, 1, 2, 0, 1, 1, 1));
    expect_msg(ts, msg, r, "conv2d", "[2, 4, 20, 3]", "[8, 2, 5, 1]");
}

BV_TEST(weight_norm_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *v = bv_test_input(ctx, BV_SHAPE(6, 4, 5), 1.0f);
    bv_tensor *g = bv_test_input(ctx, BV_SHAPE(4, 1, 1), 1.0f);
    int r = BV_EXPECT_ERROR(ctx, msg, bv_weight_norm(ctx, g, v, 0));
    expect_msg(ts, msg, r, "weight_norm", "[4, 1, 1]", "[6, 4, 5]");
    bv_tensor *g2 = bv_test_input(ctx, BV_SHAPE(1, 1, 5), 1.0f);
    r = BV_EXPECT_ERROR(ctx, msg, bv_weight_norm(ctx, g2, v, 3));
    expect_msg(ts, msg, r, "weight_norm", "[1, 1, 5]", "[6, 4, 5]");
}

/* ---------------- bv_conv1d_fused: leaky_relu, residual, channel-blocked layout ---------------- */

/* A conv1d spec run through bv_conv1d_fused; with .blocked, x is blocked before and the output
 * unblocked after (compared in PyTorch's layout). `residual`: the fusion adds in[3] (output-shaped). */
typedef struct {
    conv_spec s;
    int blocked, lrelu, residual;
    float slope;
} fused_spec;

static bv_tensor *fused_apply(bv_ctx *ctx, const fused_spec *f, bv_tensor *x, bv_tensor *w, bv_tensor *b,
                              bv_tensor *r) {
    const conv_spec *s = &f->s;
    bv_conv1d_fusion fu = {.blocked = f->blocked, .lrelu = f->lrelu, .slope = f->slope};
    if (f->blocked) {
        x = bv_conv_block(ctx, x);             // [N, IC/16, T, 16]
        if (r) r = bv_conv_block(ctx, r);      // [N, OC/16, T_out, 16]
    }
    fu.residual = f->residual ? r : NULL;
    bv_tensor *y = bv_conv1d_fused(ctx, x, w, b, (int)s->stride[0], (int)s->pad[0], (int)s->dil[0], (int)s->G, &fu);
    return f->blocked ? bv_conv_unblock(ctx, y) : y; // [N, OC, T_out]
}

/* Random inputs of a fused spec: x, w, b (or NULL), the residual [N, OC, T_out] (or NULL). */
static void fused_inputs(bv_ctx *ctx, const fused_spec *f, bv_tensor **in) {
    spec_inputs(ctx, &f->s, in);
    bv_conv_geom g = spec_geom(&f->s);
    in[3] = f->residual ? bv_test_input(ctx, BV_SHAPE(g.N, g.OC, g.out[0]), 1.0f) : NULL;
}

/* |a - e| <= tol * (max(1, max|e|) + |e|), e in double */
static void close_to_d(bv_test_state *ts, const char *what, const float *a, const double *e, int64_t n, double tol) {
    float *ef = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) ef[i] = (float)e[i];
    close_to(ts, what, a, ef, n, tol);
    free(ef);
}

/* Forward and every gradient vs the oracle: z = conv(x) + b, y = lrelu(z) or z + r,
 * gz = gy * lrelu'(z) or gy, gr = gy. */
static void check_fused_vs_oracle(bv_test_state *ts, const fused_spec *f, const char *what) {
    bv_ctx *ctx = ts->ctx;
    const conv_spec *s = &f->s;
    bv_tensor *in[4];
    fused_inputs(ctx, f, in);
    bv_tensor *y = fused_apply(ctx, f, in[0], in[1], in[2], in[3]);
    bv_conv_geom g = spec_geom(s);
    int64_t ny = g.N * g.OC * g.out[0];
    BV_CHECK(y->numel == ny && y->ndim == 3, "%s: output size %lld, expected %lld", what, (long long)y->numel,
             (long long)ny);
    if (ts->failed) return;
    float *ez = malloc(sizeof(float) * (size_t)ny), *gz = malloc(sizeof(float) * (size_t)ny);
    double *ey = malloc(sizeof(double) * (size_t)ny);
    bv_conv_ref_forward(ez, in[0]->data, in[1]->data, in[2] ? in[2]->data : NULL, &g);
    bv_tensor *gy = bv_new_like(ctx, y);
    bv_test_randn(ctx, gy, 1.0f);
    for (int64_t i = 0; i < ny; i++) {
        int pos = !f->lrelu || ez[i] > 0;
        gz[i] = pos ? gy->data[i] : gy->data[i] * f->slope;
        ey[i] = (pos ? ez[i] : ez[i] * f->slope) + (in[3] ? in[3]->data[i] : 0.0);
    }
    char msg[160];
    snprintf(msg, sizeof msg, "%s forward", what);
    close_to_d(ts, msg, y->data, ey, ny, 1e-5);
    bv_backward(ctx, y, gy);
    float *gx = malloc(sizeof(float) * (size_t)in[0]->numel), *gw = malloc(sizeof(float) * (size_t)in[1]->numel);
    float gb[4096];
    bv_conv_ref_backward(gx, gw, in[2] ? gb : NULL, gz, in[0]->data, in[1]->data, &g);
    snprintf(msg, sizeof msg, "%s grad x", what);
    close_to(ts, msg, in[0]->grad, gx, in[0]->numel, 1e-5);
    snprintf(msg, sizeof msg, "%s grad w", what);
    close_to(ts, msg, in[1]->grad, gw, in[1]->numel, 1e-5);
    if (in[2]) {
        snprintf(msg, sizeof msg, "%s grad b", what);
        close_to(ts, msg, in[2]->grad, gb, s->OC, 1e-5);
    }
    if (in[3]) {
        snprintf(msg, sizeof msg, "%s grad residual", what);
        close_to(ts, msg, in[3]->grad, gy->data, ny, 0);
    }
    free(ez);
    free(gz);
    free(ey);
    free(gx);
    free(gw);
}

/* Channels multiple of 16, groups 1: {nsp, transposed, bias, N, IC, OC, G, in, k, stride, pad, dil, out_pad} */
static const conv_spec blocked_specs[] = {
    {1, 0, 1, 2, 16, 32, 1, {19}, {3}, {1}, {1}, {1}, {0}},  /* ResBlock conv: "same" padding */
    {1, 0, 1, 1, 32, 16, 1, {23}, {5}, {1}, {6}, {3}, {0}},  /* dilated, "same" */
    {1, 0, 0, 2, 16, 16, 1, {17}, {4}, {2}, {1}, {1}, {0}},  /* strided, even kernel, no bias */
};

/* Every fusion (none, leaky_relu, residual) in plain layout over the plain specs (grouped,
 * depthwise, strided...) and blocked over blocked_specs; each under every layout choice. */
BV_TEST(conv1d_fused_matches_oracle) {
    static const char *const names[] = {"auto", "plain", "blocked"};
    static const char *const kinds[] = {"none", "lrelu", "residual"};
    for (int lay = BV_CONV_LAYOUT_AUTO; lay <= BV_CONV_LAYOUT_BLOCKED; lay++) {
        bv_conv_set_layout(ts->ctx->be, (bv_conv_layout)lay);
        char w[128];
        for (int kind = 0; kind < 3; kind++) {
            for (int i = 0; i < N_OF(conv1d_specs); i++) {
                fused_spec f = {conv1d_specs[i], 0, kind == 1, kind == 2, i % 2 ? 0.1f : 0.01f};
                snprintf(w, sizeof w, "conv1d_fused %s, spec %d (%s layouts)", kinds[kind], i, names[lay]);
                check_fused_vs_oracle(ts, &f, w);
            }
            for (int i = 0; i < N_OF(blocked_specs); i++) {
                fused_spec f = {blocked_specs[i], 1, kind == 1, kind == 2, 0.1f};
                snprintf(w, sizeof w, "conv1d_fused blocked %s, spec %d (%s layouts)", kinds[kind], i, names[lay]);
                check_fused_vs_oracle(ts, &f, w);
            }
        }
    }
    bv_conv_set_layout(ts->ctx->be, BV_CONV_LAYOUT_AUTO);
}

/* The fused forms give the separate ops' values bit for bit: lrelu(conv1d(x)) and conv1d(x) + r. */
BV_TEST(conv1d_fused_equals_separate_ops) {
    bv_ctx *ctx = ts->ctx;
    for (int blocked = 0; blocked < 2; blocked++) {
        const conv_spec s = {1, 0, 1, 2, 32, 32, 1, {40}, {7}, {1}, {9}, {3}, {0}};
        fused_spec fl = {s, blocked, 1, 0, 0.1f}, fr = {s, blocked, 0, 1, 0.0f}, fn = {s, blocked, 0, 0, 0.0f};
        bv_tensor *in[4];
        fused_inputs(ctx, &fr, in);
        bv_no_grad_begin(ctx);
        bv_tensor *z = fused_apply(ctx, &fn, in[0], in[1], in[2], NULL);
        bv_tensor *yl = fused_apply(ctx, &fl, in[0], in[1], in[2], NULL), *el = bv_leaky_relu(ctx, z, 0.1f);
        bv_tensor *yr = fused_apply(ctx, &fr, in[0], in[1], in[2], in[3]), *er = bv_add(ctx, z, in[3]);
        bv_no_grad_end(ctx);
        BV_CHECK(!memcmp(yl->data, el->data, sizeof(float) * (size_t)z->numel), "%s: lrelu differs from bv_leaky_relu",
                 blocked ? "blocked" : "plain");
        BV_CHECK(!memcmp(yr->data, er->data, sizeof(float) * (size_t)z->numel), "%s: residual differs from bv_add",
                 blocked ? "blocked" : "plain");
    }
}

/* bv_conv_block puts (b, c, t) at [b, c/16, t, c%16]; unblock inverts it; both move values
 * exactly, forward and backward. */
BV_TEST(conv_block_layout) {
    bv_ctx *ctx = ts->ctx;
    const int64_t N = 2, C = 32, T = 7;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(N, C, T), 1.0f); // [N, C, T]
    bv_tensor *xb = bv_conv_block(ctx, x);                      // [N, C/16, T, 16]
    BV_CHECK(xb->ndim == 4 && xb->shape[0] == N && xb->shape[1] == C / 16 && xb->shape[2] == T && xb->shape[3] == 16,
             "blocked shape");
    int bad = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t t = 0; t < T; t++)
                bad += xb->data[((n * (C / 16) + c / 16) * T + t) * 16 + c % 16] != x->data[(n * C + c) * T + t];
    BV_CHECK(bad == 0, "%d elements of the blocked copy misplaced", bad);
    bv_tensor *y = bv_conv_unblock(ctx, bv_mul_scalar(ctx, xb, 3.0f)); // [N, C, T]
    bv_tensor *gy = bv_new_like(ctx, y);
    bv_test_randn(ctx, gy, 1.0f);
    bv_backward(ctx, y, gy);
    for (int64_t i = 0; i < x->numel; i++) {
        bad += y->data[i] != 3.0f * x->data[i];
        bad += x->grad[i] != 3.0f * gy->data[i];
    }
    BV_CHECK(bad == 0, "%d elements wrong after the round trip (forward or gradient)", bad);
}

/* Bias (and weight) gradients on every path: oneDNN's weight pass writing the bias gradient
 * straight or through scratch (parameters), and the own reduction when w needs no gradient; x
 * used twice so its second gradient goes through scratch too. Plain and blocked. */
BV_TEST(conv_bias_grad_paths) {
    bv_ctx *ctx = ts->ctx;
    const conv_spec s = {1, 0, 1, 2, 16, 16, 1, {9}, {3}, {1}, {1}, {1}, {0}};
    bv_conv_geom g = spec_geom(&s);
    for (int blocked = 0; blocked < 2; blocked++)
        for (int w_param = 0; w_param < 2; w_param++) {
            bv_params ps;
            bv_params_init(&ps);
            bv_tensor *b = bv_params_add(&ps, "conv.bias", BV_SHAPE(16)); // conv.bias [16]
            bv_tensor *w = w_param ? bv_params_add(&ps, "conv.weight", BV_SHAPE(16, 16, 3)) // conv.weight [16, 16, 3]
                                   : bv_zeros(ctx, BV_F32, BV_SHAPE(16, 16, 3));
            bv_test_randn(ctx, w, 0.3f);
            bv_test_randn(ctx, b, 0.3f);
            for (int i = 0; i < 16; i++) b->grad[i] = 1.0f;
            if (w_param)
                for (int64_t i = 0; i < w->numel; i++) w->grad[i] = 1.0f;
            bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 16, 9), 1.0f); // [B, C, T]
            fused_spec f = {s, blocked, 0, 0, 0.0f};
            bv_tensor *y1 = fused_apply(ctx, &f, x, w, b, NULL), *y2 = fused_apply(ctx, &f, x, w, b, NULL);
            bv_tensor *gy = bv_new_like(ctx, y1);
            bv_test_randn(ctx, gy, 1.0f);
            bv_tensor *roots[2] = {y1, y2};
            const bv_tensor *gouts[2] = {gy, gy};
            bv_backward_multi(ctx, 2, roots, gouts);
            float gx[288], gw[768], gb[16];
            bv_conv_ref_backward(gx, gw, gb, gy->data, x->data, w->data, &g);
            for (int i = 0; i < 288; i++) gx[i] *= 2;
            for (int i = 0; i < 768; i++) gw[i] = 2 * gw[i] + 1.0f;
            for (int i = 0; i < 16; i++) gb[i] = 2 * gb[i] + 1.0f;
            char what[96];
            snprintf(what, sizeof what, "%s, w %s: grad b", blocked ? "blocked" : "plain", w_param ? "param" : "const");
            close_to(ts, what, b->grad, gb, 16, 1e-5);
            snprintf(what, sizeof what, "%s, w %s: grad x", blocked ? "blocked" : "plain", w_param ? "param" : "const");
            close_to(ts, what, x->grad, gx, 288, 1e-5);
            if (w_param) close_to(ts, "accumulated grad w", w->grad, gw, 768, 1e-5);
            bv_params_free(&ps);
        }
}

static bv_tensor *fused_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    const fused_spec *f = user;
    return fused_apply(ctx, f, in[0], in[1], f->s.bias ? in[2] : NULL, f->residual ? in[3] : NULL);
}

/* plain: leaky_relu (grouped, strided, dilated) and residual; blocked (through bv_conv_block and
 * bv_conv_unblock): none, leaky_relu, residual */
BV_TEST(conv1d_fused_gradcheck) {
    const conv_spec sp = {1, 0, 1, 2, 4, 6, 2, {11}, {3}, {2}, {2}, {2}, {0}};
    const conv_spec sb = {1, 0, 1, 1, 16, 16, 1, {6}, {3}, {1}, {2}, {2}, {0}};
    const fused_spec fs[] = {{sp, 0, 1, 0, 0.1f}, {sp, 0, 0, 1, 0.0f}, {sb, 1, 0, 0, 0.0f}, {sb, 1, 1, 0, 0.1f},
                             {sb, 1, 0, 1, 0.0f}};
    static const char *const names[] = {"plain lrelu", "plain residual", "blocked", "blocked lrelu",
                                        "blocked residual"};
    for (int i = 0; i < N_OF(fs); i++) {
        bv_tensor *in[4];
        fused_inputs(ts->ctx, &fs[i], in);
        bv_gradcheck(ts, names[i], fused_fn, fs[i].residual ? 4 : 3, in, (void *)&fs[i], 1e-3, 5e-3, 1e-2, 64);
    }
}

BV_TEST(conv_fused_and_blocked_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 4, 10), 1.0f), *w = bv_test_input(ctx, BV_SHAPE(6, 4, 3), 1.0f);
    int r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_fused(ctx, x, w, NULL, 1, 1, 1, 1, &(bv_conv1d_fusion){.lrelu = 1}));
    BV_CHECK(r && !strncmp(msg, "conv1d_fused", 12) && strstr(msg, "slope"), "slope 0 must raise: %s", msg);
    bv_tensor *res = bv_test_input(ctx, BV_SHAPE(2, 6, 9), 1.0f); /* output is [2, 6, 10] */
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_fused(ctx, x, w, NULL, 1, 1, 1, 1, &(bv_conv1d_fusion){.residual = res}));
    expect_msg(ts, msg, r, "conv1d_fused", "[2, 6, 9]", "[2, 6, 10]");
    bv_tensor *res_ok = bv_test_input(ctx, BV_SHAPE(2, 6, 10), 1.0f);
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_fused(ctx, x, w, NULL, 1, 1, 1, 1,
                                                  &(bv_conv1d_fusion){.lrelu = 1, .slope = 0.1f, .residual = res_ok}));
    BV_CHECK(r && !strncmp(msg, "conv1d_fused", 12) && strstr(msg, "residual"), "lrelu + residual must raise: %s", msg);
    bv_tensor *w5 = bv_test_input(ctx, BV_SHAPE(6, 5, 3), 1.0f);
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_fused(ctx, x, w5, NULL, 1, 1, 1, 1,
                                                  &(bv_conv1d_fusion){.lrelu = 1, .slope = 0.1f}));
    expect_msg(ts, msg, r, "conv1d_fused", "[2, 4, 10]", "[6, 5, 3]");

    const bv_conv1d_fusion blk = {.blocked = 1};
    bv_tensor *w16 = bv_test_input(ctx, BV_SHAPE(16, 32, 3), 1.0f);
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_fused(ctx, x, w16, NULL, 1, 1, 1, 1, &blk)); /* plain 3-d x */
    expect_msg(ts, msg, r, "conv1d_fused (blocked)", "[2, 4, 10]", "4-d");
    bv_tensor *x8 = bv_test_input(ctx, BV_SHAPE(2, 4, 10, 8), 1.0f); /* blocks of 8 */
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_fused(ctx, x8, w16, NULL, 1, 1, 1, 1, &blk));
    expect_msg(ts, msg, r, "conv1d_fused (blocked)", "[2, 4, 10, 8]", "[16, 32, 3]");
    bv_tensor *xb = bv_test_input(ctx, BV_SHAPE(2, 2, 10, 16), 1.0f); /* 32 channels */
    bv_tensor *w24 = bv_test_input(ctx, BV_SHAPE(24, 32, 3), 1.0f);   /* 24 outputs: not blockable */
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_fused(ctx, xb, w24, NULL, 1, 1, 1, 1, &blk));
    expect_msg(ts, msg, r, "conv1d_fused (blocked)", "[2, 2, 10, 16]", "[24, 32, 3]");
    bv_tensor *w_in16 = bv_test_input(ctx, BV_SHAPE(16, 16, 3), 1.0f); /* expects 16 inputs, x has 32 */
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_fused(ctx, xb, w_in16, NULL, 1, 1, 1, 1, &blk));
    expect_msg(ts, msg, r, "conv1d_fused (blocked)", "[2, 2, 10, 16]", "[16, 16, 3]");
    bv_tensor *w_g2 = bv_test_input(ctx, BV_SHAPE(32, 16, 3), 1.0f);
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_fused(ctx, xb, w_g2, NULL, 1, 1, 1, 2, &blk));
    BV_CHECK(r && strstr(msg, "groups"), "blocked groups 2 must raise: %s", msg);

    r = BV_EXPECT_ERROR(ctx, msg, bv_conv_block(ctx, x)); /* 4 channels */
    BV_CHECK(r && !strncmp(msg, "conv_block", 10) && strstr(msg, "[2, 4, 10]"), "C 4 must raise: %s", msg);
    r = BV_EXPECT_ERROR(ctx, msg, bv_conv_unblock(ctx, x8));
    BV_CHECK(r && !strncmp(msg, "conv_unblock", 12) && strstr(msg, "[2, 4, 10, 8]"), "blocks of 8 must raise: %s", msg);
}

/* ---------------- golden cases: the layer is described by a PyTorch ctor string ---------------- */

/* "weight_norm(Conv1d(4, 6, kernel_size=5, stride=1, dilation=2, padding=4, groups=1))" parsed with
 * PyTorch's positional order and defaults (stride 1, padding 0, dilation 1, groups 1, bias True). */
typedef struct {
    int nsp, transposed, bias, weight_norm, wn_dim;
    int64_t in, out, groups, k[2], stride[2], pad[2], dil[2], out_pad[2];
} ctor_spec;

typedef struct {
    const char *p;
    char err[128];
} ctor_lexer;

static void skip_ws(ctor_lexer *l) {
    while (isspace((unsigned char)*l->p)) l->p++;
}

static int eat(ctor_lexer *l, char c) {
    skip_ws(l);
    if (*l->p != c) return 0;
    l->p++;
    return 1;
}

/* An int, a tuple of ints "(a, b)", or True/False; n = number of ints (1 or 2; 0 for bool). */
static int parse_value(ctor_lexer *l, int64_t *v, int *n) {
    skip_ws(l);
    *n = 0;
    if (!strncmp(l->p, "True", 4) || !strncmp(l->p, "False", 5)) {
        v[0] = *l->p == 'T';
        l->p += v[0] ? 4 : 5;
        return 1;
    }
    int tuple = eat(l, '(');
    do {
        skip_ws(l);
        char *end;
        long long x = strtoll(l->p, &end, 10);
        if (end == l->p || *n == 2) {
            snprintf(l->err, sizeof l->err, "bad value at '%.20s'", l->p);
            return 0;
        }
        v[(*n)++] = x;
        l->p = end;
    } while (tuple && eat(l, ','));
    if (tuple && !eat(l, ')')) {
        snprintf(l->err, sizeof l->err, "unclosed tuple at '%.20s'", l->p);
        return 0;
    }
    return 1;
}

static int set_arg(ctor_spec *c, const char *key, const int64_t *v, int n, char *err) {
    int64_t *dst = NULL;
    if (!strcmp(key, "in_channels")) c->in = v[0];
    else if (!strcmp(key, "out_channels")) c->out = v[0];
    else if (!strcmp(key, "groups")) c->groups = v[0];
    else if (!strcmp(key, "bias")) c->bias = (int)v[0];
    else if (!strcmp(key, "kernel_size")) dst = c->k;
    else if (!strcmp(key, "stride")) dst = c->stride;
    else if (!strcmp(key, "padding")) dst = c->pad;
    else if (!strcmp(key, "dilation")) dst = c->dil;
    else if (!strcmp(key, "output_padding")) dst = c->out_pad;
    else {
        snprintf(err, 128, "unknown argument '%s'", key);
        return 0;
    }
    if (dst) dst[0] = v[0], dst[1] = n == 2 ? v[1] : v[0]; /* a scalar applies to every spatial dim */
    return 1;
}

static int parse_args(ctor_lexer *l, ctor_spec *c, const char *const *positional, int npos) {
    int pos = 0;
    if (eat(l, ')')) return 1;
    do {
        skip_ws(l);
        char key[32] = "";
        const char *q = l->p;
        while (isalnum((unsigned char)*q) || *q == '_') q++;
        const char *after = q;
        while (isspace((unsigned char)*after)) after++;
        if (q > l->p && *after == '=' && isalpha((unsigned char)*l->p)) {
            snprintf(key, sizeof key, "%.*s", (int)(q - l->p), l->p);
            l->p = after + 1;
        } else if (pos < npos) {
            snprintf(key, sizeof key, "%s", positional[pos++]);
        } else {
            snprintf(l->err, sizeof l->err, "too many positional arguments");
            return 0;
        }
        int64_t v[2];
        int n;
        if (!parse_value(l, v, &n) || !set_arg(c, key, v, n, l->err)) return 0;
    } while (eat(l, ','));
    if (!eat(l, ')')) {
        snprintf(l->err, sizeof l->err, "expected ')' at '%.20s'", l->p);
        return 0;
    }
    return 1;
}

static int parse_ctor(const char *s, ctor_spec *c, char *err, int errcap) {
    static const char *const conv_pos[] = {"in_channels", "out_channels", "kernel_size", "stride",
                                           "padding",     "dilation",     "groups",      "bias"};
    static const char *const convt_pos[] = {"in_channels", "out_channels", "kernel_size", "stride",  "padding",
                                            "output_padding", "groups",    "bias",        "dilation"};
    memset(c, 0, sizeof *c);
    c->bias = 1;
    c->groups = 1;
    for (int i = 0; i < 2; i++) c->stride[i] = c->dil[i] = c->k[i] = 1;
    ctor_lexer l = {s, ""};
    skip_ws(&l);
    if (!strncmp(l.p, "weight_norm(", 12)) {
        c->weight_norm = 1;
        l.p += 12;
        skip_ws(&l);
    }
    static const struct { const char *name; int nsp, transposed; } kinds[] = {
        {"ConvTranspose1d(", 1, 1}, {"Conv1d(", 1, 0}, {"Conv2d(", 2, 0}};
    int found = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds && !found; i++)
        if (!strncmp(l.p, kinds[i].name, strlen(kinds[i].name))) {
            found = 1;
            c->nsp = kinds[i].nsp;
            c->transposed = kinds[i].transposed;
            l.p += strlen(kinds[i].name);
        }
    int ok = found && parse_args(&l, c, c->transposed ? convt_pos : conv_pos, c->transposed ? 9 : 8);
    /* weight_norm(module, name='weight', dim=0): only dim may follow */
    if (ok && c->weight_norm) {
        if (eat(&l, ',')) {
            skip_ws(&l);
            ok = !strncmp(l.p, "dim", 3) && (l.p = strchr(l.p, '=')) != NULL;
            if (ok) l.p++, c->wn_dim = (int)strtol(l.p, (char **)&l.p, 10);
        }
        ok = ok && eat(&l, ')');
    }
    skip_ws(&l);
    ok = ok && *l.p == 0 && c->in > 0 && c->out > 0;
    if (!ok) snprintf(err, (size_t)errcap, "cannot parse ctor '%s' (%s)", s, l.err[0] ? l.err : "unexpected text");
    return ok;
}

BV_TEST(conv_ctor_parser) {
    ctor_spec c;
    char err[256];
    BV_CHECK(parse_ctor("weight_norm(Conv2d(4, 8, kernel_size=(5,1), stride=(3,1), padding=(2,0)))", &c, err, 256),
             "%s", err);
    BV_CHECK(c.nsp == 2 && !c.transposed && c.weight_norm && c.in == 4 && c.out == 8 && c.k[0] == 5 && c.k[1] == 1 &&
                 c.stride[0] == 3 && c.stride[1] == 1 && c.pad[0] == 2 && c.pad[1] == 0 && c.dil[1] == 1 &&
                 c.groups == 1 && c.bias,
             "conv2d ctor fields");
    BV_CHECK(parse_ctor("ConvTranspose1d(8, 4, 16, 8, 4, 1, 2, False, 3)", &c, err, 256), "%s", err);
    BV_CHECK(c.transposed && !c.weight_norm && c.k[0] == 16 && c.stride[0] == 8 && c.pad[0] == 4 &&
                 c.out_pad[0] == 1 && c.groups == 2 && !c.bias && c.dil[0] == 3,
             "positional conv_transpose1d ctor fields");
    BV_CHECK(parse_ctor("weight_norm(Conv1d(64, 64, 16, padding=8, groups=4), dim=2)", &c, err, 256), "%s", err);
    BV_CHECK(c.wn_dim == 2 && c.groups == 4 && c.pad[0] == 8 && c.stride[0] == 1, "weight_norm dim");
    BV_CHECK(!parse_ctor("Conv1d(4, 6, kernel_size=5, foo=1)", &c, err, 256), "unknown keyword must fail");
    BV_CHECK(!parse_ctor("Conv3d(4, 6, 3)", &c, err, 256), "unknown module must fail");
}

static bv_tensor *add_param(bv_params *ps, const char *name, int ndim, const int64_t *shape) {
    return bv_params_add(ps, name, ndim, shape);
}

/* Build the layer the ctor describes, load its parameters, run forward + backward, compare. */
static void run_golden_conv(bv_test_state *ts, const char *case_name) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, case_name);
    if (!g) return;
    const cJSON *ctor = cJSON_GetObjectItem(bv_golden_config(g), "ctor");
    ctor_spec c;
    char err[256];
    if (!cJSON_IsString(ctor) || !parse_ctor(ctor->valuestring, &c, err, sizeof err)) {
        BV_CHECK(0, "%s: %s", case_name, cJSON_IsString(ctor) ? err : "config has no ctor string");
        bv_golden_close(g);
        return;
    }
    int nd = 2 + c.nsp;
    int64_t ws[4] = {c.transposed ? c.in : c.out, c.transposed ? c.out / c.groups : c.in / c.groups, c.k[0], c.k[1]};
    int64_t gs[4] = {1, 1, 1, 1};
    gs[c.wn_dim] = ws[c.wn_dim];
    bv_params ps;
    bv_params_init(&ps);
    bv_tensor *b = c.bias ? add_param(&ps, "bias", BV_SHAPE(c.out)) : NULL;                   // bias [Cout]
    bv_tensor *wg = c.weight_norm ? add_param(&ps, "weight_g", nd, gs) : NULL;                 // weight_g
    bv_tensor *wv = add_param(&ps, c.weight_norm ? "weight_v" : "weight", nd, ws);             // weight_v / weight
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x"); // [B, Cin, T] or [B, Cin, H, W]
    bv_tensor *w = c.weight_norm ? bv_weight_norm(ctx, wg, wv, c.wn_dim) : wv;
    conv_spec s = {c.nsp, c.transposed, c.bias, 0, c.in, c.out, c.groups, {0, 0}, {c.k[0], c.k[1]},
                   {c.stride[0], c.stride[1]}, {c.pad[0], c.pad[1]}, {c.dil[0], c.dil[1]},
                   {c.out_pad[0], c.out_pad[1]}};
    bv_tensor *y = spec_apply(ctx, &s, x, w, b);
    bv_golden_output(g, "y", y);
    bv_golden_backward(g);
    bv_golden_check_grads(g, &ps, "param.");
    bv_golden_close(g);
    bv_params_free(&ps);
}

BV_GOLDEN_TEST(golden_A02_conv1d_wn_dil2) { run_golden_conv(ts, "A02_conv1d_wn_dil2"); }
BV_GOLDEN_TEST(golden_A03_conv1d_wn_grouped_strided) { run_golden_conv(ts, "A03_conv1d_wn_grouped_strided"); }
BV_GOLDEN_TEST(golden_A04_convtranspose1d_wn) { run_golden_conv(ts, "A04_convtranspose1d_wn"); }
BV_GOLDEN_TEST(golden_A05_conv2d_wn_k5x1_s3x1) { run_golden_conv(ts, "A05_conv2d_wn_k5x1_s3x1"); }

/* ---------------- bf16: ctx->autocast = BV_AUTOCAST_BF16 ----------------
 * Every conv kind the model uses (conv1d, grouped, strided, dilated, depthwise, conv_transpose1d,
 * conv2d, the fused channel-blocked ResBlock forms), forward, backward data, backward weights:
 *   - exact semantics: the result equals the naive double oracle run on bf16-rounded x, w and gy
 *     (bf16 products are exact in fp32, oneDNN accumulates in fp32), to fp32 accuracy;
 *   - closeness to fp32: |bf16 - fp32| <= 2^-7 * sum|x||w| per output (likewise per gradient);
 *   - the bf16 path really ran: the result differs from the fp32 one somewhere;
 *   - the backward uses the mode recorded at forward time (it runs with autocast off).
 * Skipped, with the reason, where the backend computes no bf16 (bv_backend_bf16_check). */

static bv_tensor *copy_input(bv_ctx *ctx, const bv_tensor *t) {
    if (!t) return NULL;
    bv_tensor *c = bv_test_input(ctx, t->ndim, t->shape, 1.0f);
    memcpy(c->data, t->data, sizeof(float) * (size_t)t->numel);
    return c;
}

static float *rounded(const float *a, int64_t n) {
    float *r = malloc(sizeof(float) * (size_t)n);
    memcpy(r, a, sizeof(float) * (size_t)n);
    bv_cpu_round_bf16(r, n);
    return r;
}

static float *absd(const float *a, int64_t n) {
    float *r = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) r[i] = fabsf(a[i]);
    return r;
}

/* Fails unless |a - e| <= tol * (max(1, max|e|) + |e|) everywhere. */
static void near_oracle(bv_test_state *ts, const char *what, const char *part, const float *a, const float *e, int64_t n,
                 double tol) {
    double emax = 1;
    for (int64_t i = 0; i < n; i++) emax = fmax(emax, fabs(e[i]));
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - e[i]) <= tol * (emax + fabs(e[i])))) {
            fprintf(stderr, "  %s %s: elem %lld got %.8g, oracle on bf16 inputs %.8g\n", what, part, (long long)i, a[i],
                    e[i]);
            ts->failed = 1;
            return;
        }
}

/* Fails unless |a - f| <= 2^-7 * bound + 1e-6 everywhere; returns how many elements differ at all. */
static int64_t within_bound(bv_test_state *ts, const char *what, const char *part, const float *a, const float *f,
                            const float *bound, int64_t n) {
    int64_t differ = 0;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - f[i]), lim = ldexp(bound[i], -7) + 1e-6;
        differ += a[i] != f[i];
        worst = fmax(worst, d / lim);
        if (!(d <= lim)) {
            fprintf(stderr, "  %s %s: elem %lld bf16 %.8g fp32 %.8g, |d| > 2^-7 sum|.||.| = %.3g\n", what, part,
                    (long long)i, a[i], f[i], lim);
            ts->failed = 1;
            return differ;
        }
    }
    if (bv_test_verbose) printf("    %s %s: %lld of %lld differ from fp32, worst %.3f of the bound\n", what, part,
                                (long long)differ, (long long)n, worst);
    return differ;
}

/* One spec: fp32 run, bf16 run (backward with autocast off), oracle on rounded inputs, bounds. */
static void check_bf16(bv_test_state *ts, const conv_spec *s, const fused_spec *f, const char *what) {
    bv_ctx *ctx = ts->ctx;
    bv_conv_geom g = spec_geom(s);
    int64_t xs[4] = {s->N, s->IC, s->in[0], s->in[1]};
    int64_t ws[4] = {s->transposed ? s->IC : s->OC, s->transposed ? s->OC / s->G : s->IC / s->G, s->k[0], s->k[1]};
    const int64_t ny = g.N * g.OC * g.out[0] * g.out[1];
    bv_tensor *a[4], *c[4];
    a[0] = bv_test_input(ctx, 2 + s->nsp, xs, 1.0f);
    a[1] = bv_test_input(ctx, 2 + s->nsp, ws, 0.3f);
    a[2] = s->bias ? bv_test_input(ctx, BV_SHAPE(s->OC), 0.5f) : NULL;
    a[3] = f && f->residual ? bv_test_input(ctx, BV_SHAPE(g.N, g.OC, g.out[0]), 1.0f) : NULL;
    for (int i = 0; i < 4; i++) c[i] = copy_input(ctx, a[i]);
    const int64_t nx = a[0]->numel, nw = a[1]->numel;

    int64_t tm = bv_tape_mark(ctx);
    ctx->autocast = BV_AUTOCAST_OFF;
    bv_tensor *y32 = f ? fused_apply(ctx, f, a[0], a[1], a[2], a[3]) : spec_apply(ctx, s, a[0], a[1], a[2]);
    BV_CHECK(y32->numel == ny, "%s: output size", what);
    if (ts->failed) return;
    bv_tensor *gy = bv_new_like(ctx, y32);
    bv_test_randn(ctx, gy, 1.0f);
    bv_backward(ctx, y32, gy);
    bv_tape_cut(ctx, tm);
    ctx->autocast = BV_AUTOCAST_BF16;
    bv_tensor *y16 = f ? fused_apply(ctx, f, c[0], c[1], c[2], c[3]) : spec_apply(ctx, s, c[0], c[1], c[2]);
    ctx->autocast = BV_AUTOCAST_OFF; /* backward must use the recorded mode, not this one */
    bv_backward(ctx, y16, gy);
    bv_tape_cut(ctx, tm);

    /* the oracle on bf16-rounded x and w: z = conv + b, y = lrelu(z) or z + r */
    float *xr = rounded(a[0]->data, nx), *wr = rounded(a[1]->data, nw);
    float *ey = malloc(sizeof(float) * (size_t)ny), *gz = malloc(sizeof(float) * (size_t)ny);
    bv_conv_ref_forward(ey, xr, wr, a[2] ? a[2]->data : NULL, &g);
    for (int64_t i = 0; i < ny; i++) {
        /* the kernel reads leaky_relu's derivative off its own output's sign */
        int pos = !(f && f->lrelu) || y16->data[i] > 0;
        if (f && f->lrelu && ey[i] <= 0) ey[i] *= f->slope;
        if (a[3]) ey[i] += a[3]->data[i];
        gz[i] = pos ? gy->data[i] : gy->data[i] * f->slope;
    }
    bv_cpu_round_bf16(gz, ny);
    float *gx = malloc(sizeof(float) * (size_t)nx), *gw = malloc(sizeof(float) * (size_t)nw);
    bv_conv_ref_backward(gx, gw, NULL, gz, xr, wr, &g);
    near_oracle(ts, what, "forward", y16->data, ey, ny, 1e-5);
    near_oracle(ts, what, "grad x", c[0]->grad, gx, nx, 1e-5);
    near_oracle(ts, what, "grad w", c[1]->grad, gw, nw, 1e-5);
    if (a[3]) BV_CHECK(!memcmp(c[3]->grad, gy->data, sizeof(float) * (size_t)ny), "%s: grad residual != gy", what);

    /* bounds against fp32: sum|x||w| per output, sum|gy||w| per input, sum|x||gy| per weight */
    float *xa = absd(a[0]->data, nx), *wa = absd(a[1]->data, nw), *gya = absd(gy->data, ny);
    float *by = malloc(sizeof(float) * (size_t)ny), *bx = malloc(sizeof(float) * (size_t)nx);
    float *bw = malloc(sizeof(float) * (size_t)nw);
    bv_conv_geom ga = g;
    ga.has_bias = 0;
    bv_conv_ref_forward(by, xa, wa, NULL, &ga);
    bv_conv_ref_backward(bx, bw, NULL, gya, xa, wa, &ga);
    int64_t dy = within_bound(ts, what, "forward", y16->data, y32->data, by, ny);
    /* leaky_relu's derivative flips where bf16 and fp32 outputs straddle 0: there the gradients
     * legitimately differ by more (the exact oracle check above covers them) */
    const int grad_bounds = !(f && f->lrelu);
    int64_t dx = grad_bounds ? within_bound(ts, what, "grad x", c[0]->grad, a[0]->grad, bx, nx) : 1;
    int64_t dw = grad_bounds ? within_bound(ts, what, "grad w", c[1]->grad, a[1]->grad, bw, nw) : 1;
    if (a[2] && grad_bounds) {
        float *bb = calloc((size_t)s->OC, sizeof(float));
        const int64_t plane = ny / (g.N * g.OC);
        for (int64_t i = 0; i < ny; i++) bb[(i / plane) % g.OC] += gya[i];
        within_bound(ts, what, "grad b", c[2]->grad, a[2]->grad, bb, s->OC);
        free(bb);
    }
    BV_CHECK(dy > 0 && dx > 0 && dw > 0,
             "%s: bf16 results equal fp32 (forward %lld, grad x %lld, grad w %lld elements differ): no bf16 ran", what,
             (long long)dy, (long long)dx, (long long)dw);
    free(xr), free(wr), free(ey), free(gz), free(gx), free(gw);
    free(xa), free(wa), free(gya), free(by), free(bx), free(bw);
}

static int bf16_ready(bv_test_state *ts) {
    char why[256];
    if (bv_backend_bf16_check(ts->ctx->be, why, sizeof why) == 0) return 1;
    bv_test_skip(ts, "no bf16 convolutions on this machine: %s", why);
    return 0;
}

/* {nsp, transposed, bias, N, IC, OC, G, in, k, stride, pad, dil, out_pad}: the model's kinds */
static const conv_spec bf16_conv1d_specs[] = {
    {1, 0, 1, 2, 32, 48, 1, {40}, {7}, {1}, {3}, {1}, {0}},     /* Generator conv_pre / WN-like */
    {1, 0, 1, 1, 32, 32, 1, {37}, {3}, {1}, {5}, {5}, {0}},     /* ResBlock dilated */
    {1, 0, 1, 2, 64, 64, 16, {60}, {41}, {4}, {20}, {1}, {0}},  /* DiscriminatorS grouped strided */
    {1, 0, 1, 2, 1, 16, 1, {50}, {15}, {1}, {7}, {1}, {0}},     /* DiscriminatorS first conv */
    {1, 0, 1, 2, 24, 24, 24, {31}, {3}, {1}, {9}, {9}, {0}},    /* DDSConv depthwise dilated */
    {1, 0, 0, 1, 16, 8, 1, {20}, {1}, {1}, {0}, {1}, {0}},      /* 1x1, no bias */
    {1, 0, 1, 1, 264, 8, 1, {12}, {5}, {1}, {2}, {1}, {0}},     /* wide: emulated passes in conv.c's sgemm */
};
static const conv_spec bf16_convt_specs[] = {
    {1, 1, 1, 2, 32, 16, 1, {9}, {16}, {8}, {4}, {1}, {0}},     /* Generator.ups */
    {1, 1, 1, 1, 16, 8, 1, {7}, {4}, {2}, {1}, {1}, {0}},       /* Generator.ups, small */
    {1, 1, 0, 2, 8, 12, 2, {6}, {3}, {3}, {0}, {1}, {2}},       /* groups, output_padding > padding */
};
static const conv_spec bf16_conv2d_specs[] = {
    {2, 0, 1, 2, 1, 32, 1, {30, 3}, {5, 1}, {3, 1}, {2, 0}, {1, 1}, {0, 0}},    /* DiscriminatorP first */
    {2, 0, 1, 2, 32, 64, 1, {12, 5}, {5, 1}, {3, 1}, {2, 0}, {1, 1}, {0, 0}},   /* DiscriminatorP */
    {2, 0, 1, 1, 64, 1, 1, {9, 2}, {3, 1}, {1, 1}, {1, 0}, {1, 1}, {0, 0}},     /* conv_post */
    {2, 0, 1, 1, 8, 8, 2, {9, 7}, {3, 3}, {2, 1}, {1, 2}, {1, 2}, {0, 0}},      /* general, grouped, dilated */
    {2, 0, 1, 2, 8, 160, 1, {20, 3}, {5, 1}, {3, 1}, {2, 0}, {1, 1}, {0, 0}},   /* wide weight pass (emulated) */
};

static void run_specs(bv_test_state *ts, const conv_spec *specs, int n, const char *kind) {
    if (!bf16_ready(ts)) return;
    static const char *const names[] = {"auto", "plain", "blocked"};
    for (int lay = BV_CONV_LAYOUT_AUTO; lay <= BV_CONV_LAYOUT_BLOCKED; lay++) {
        bv_conv_set_layout(ts->ctx->be, (bv_conv_layout)lay);
        for (int i = 0; i < n; i++) {
            char w[96];
            snprintf(w, sizeof w, "bf16 %s spec %d (%s layout)", kind, i, names[lay]);
            int64_t tm = bv_tape_mark(ts->ctx);
            check_bf16(ts, &specs[i], NULL, w);
            bv_tape_cut(ts->ctx, tm);
        }
    }
    bv_conv_set_layout(ts->ctx->be, BV_CONV_LAYOUT_AUTO);
}

BV_TEST(conv1d_bf16_matches_rounded_oracle) { run_specs(ts, bf16_conv1d_specs, N_OF(bf16_conv1d_specs), "conv1d"); }
BV_TEST(conv_transpose1d_bf16_matches_rounded_oracle) {
    run_specs(ts, bf16_convt_specs, N_OF(bf16_convt_specs), "conv_transpose1d");
}
BV_TEST(conv2d_bf16_matches_rounded_oracle) { run_specs(ts, bf16_conv2d_specs, N_OF(bf16_conv2d_specs), "conv2d"); }

/* The Generator's ResBlock chain forms: channel-blocked, leaky_relu post-op, residual add. */
static void run_fused_bf16(bv_test_state *ts, const char *mode);

BV_TEST(conv1d_fused_bf16_matches_rounded_oracle) {
    if (!bf16_ready(ts)) return;
    run_fused_bf16(ts, "measured");
}

/* the fused conv1d specs (leaky_relu or residual after the conv, plain or blocked) under the
 * backend's current bf16 mode */
static void run_fused_bf16(bv_test_state *ts, const char *mode) {
    static const conv_spec s[] = {
        {1, 0, 1, 2, 32, 32, 1, {45}, {3}, {1}, {3}, {3}, {0}},
        {1, 0, 1, 1, 16, 48, 1, {30}, {7}, {1}, {15}, {5}, {0}},
    };
    /* {blocked, lrelu, residual, slope} */
    static const int kinds[4][3] = {{1, 1, 0}, {1, 0, 1}, {0, 1, 0}, {0, 0, 1}};
    for (int i = 0; i < N_OF(s); i++)
        for (int j = 0; j < 4; j++) {
            const fused_spec f = {s[i], kinds[j][0], kinds[j][1], kinds[j][2], kinds[j][1] ? 0.1f : 0.0f};
            char w[96];
            snprintf(w, sizeof w, "bf16 %s conv1d_fused %s%s spec %d", mode, f.blocked ? "blocked " : "",
                     f.lrelu ? "lrelu" : "residual", i);
            int64_t tm = bv_tape_mark(ts->ctx);
            check_bf16(ts, &s[i], &f, w);
            bv_tape_cut(ts->ctx, tm);
        }
}

/* Every fixed bf16 implementation (bv_conv_set_bf16_mode) against the oracle on rounded inputs:
 * native, emulated, every pass as one im2col matmul (conv1d and the (K, 1) conv2d; the other
 * geometries fall back to native under MATMUL), and the batch in parts on the threads (batches of
 * two or more with two threads or more; native elsewhere). */
BV_TEST(conv_bf16_every_implementation_matches_rounded_oracle) {
    if (!bf16_ready(ts)) return;
    static const bv_conv_bf16_mode modes[4] = {BV_CONV_BF16_NATIVE, BV_CONV_BF16_EMULATE, BV_CONV_BF16_MATMUL,
                                               BV_CONV_BF16_SPLIT};
    static const char *const names[4] = {"native", "emulate", "matmul", "split"};
    for (int m = 0; m < 4 && !ts->failed; m++) {
        bv_conv_set_bf16_mode(ts->ctx->be, modes[m]);
        for (int k = 0; k < 2; k++) {
            const conv_spec *specs = k ? bf16_conv2d_specs : bf16_conv1d_specs;
            const int n = k ? (int)N_OF(bf16_conv2d_specs) : (int)N_OF(bf16_conv1d_specs);
            for (int i = 0; i < n; i++) {
                char w[96];
                snprintf(w, sizeof w, "bf16 %s %s spec %d", names[m], k ? "conv2d" : "conv1d", i);
                int64_t tm = bv_tape_mark(ts->ctx);
                check_bf16(ts, &specs[i], NULL, w);
                bv_tape_cut(ts->ctx, tm);
            }
        }
        run_fused_bf16(ts, names[m]);
    }
    bv_conv_set_bf16_mode(ts->ctx->be, BV_CONV_BF16_MEASURE);
}

/* The matmul forward and backward really run under MATMUL (their fp32 sums run in another order
 * than oneDNN's kernels: some bits of y and both gradients differ from NATIVE's on an MPD-like (5, 1)
 * conv2d), and they equal native's to fp32 summation accuracy. */
BV_TEST(conv_bf16_matmul_passes_run) {
    if (!bf16_ready(ts)) return;
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x0 = bv_test_input(ctx, BV_SHAPE(2, 64, 41, 5), 1.0f), *w0 = bv_test_input(ctx, BV_SHAPE(96, 64, 5, 1), 0.1f);
    bv_tensor *gy = bv_new(ctx, BV_F32, BV_SHAPE(2, 96, 41, 5));
    bv_test_randn(ctx, gy, 1.0f);
    float *gr[2][3]; /* mode, {gx, gw, y} */
    for (int m = 0; m < 2; m++) {
        bv_conv_set_bf16_mode(ctx->be, m ? BV_CONV_BF16_MATMUL : BV_CONV_BF16_NATIVE);
        bv_tensor *x = copy_input(ctx, x0), *w = copy_input(ctx, w0);
        int64_t tm = bv_tape_mark(ctx);
        ctx->autocast = BV_AUTOCAST_BF16;
        bv_tensor *y = bv_conv2d(ctx, x, w, NULL, 1, 1, 2, 0, 1, 1, 1);
        ctx->autocast = BV_AUTOCAST_OFF;
        bv_backward(ctx, y, gy);
        bv_tape_cut(ctx, tm);
        gr[m][0] = x->grad, gr[m][1] = w->grad, gr[m][2] = y->data;
    }
    bv_conv_set_bf16_mode(ctx->be, BV_CONV_BF16_MEASURE);
    const int64_t n[3] = {x0->numel, w0->numel, gy->numel};
    static const char *const what[3] = {"grad x", "grad w", "y"};
    for (int k = 0; k < 3; k++) {
        double dmax = 0, amax = 0;
        for (int64_t i = 0; i < n[k]; i++) {
            dmax = fmax(dmax, fabs((double)gr[0][k][i] - gr[1][k][i]));
            amax = fmax(amax, fabs((double)gr[0][k][i]));
        }
        BV_CHECK(dmax > 0, "%s: matmul and native identical bit for bit: did the matmul run?", what[k]);
        BV_CHECK(dmax <= 1e-5 * amax, "%s: matmul vs native max diff %g of max %g", what[k], dmax, amax);
    }
}

/* The measuring call of a bf16 (shape, pass) leaves only the chosen implementation's primitives in
 * the cache: the losers' (fp32 on rounded copies, bf16, one per batch part) once filled the LRU and
 * pushed out the winners of the passes measured before, and the first step after the measuring one
 * rebuilt hundreds of them. Batch 2: the split candidate runs where there are two threads. */
BV_TEST(conv_bf16_measure_keeps_only_the_winners_primitives) {
    if (!bf16_ready(ts)) return;
    bv_ctx *ctx = ts->ctx;
    bv_backend_shutdown(ctx->be); /* an empty primitive cache and pick table */
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 32, 53), 1.0f), *w = bv_test_input(ctx, BV_SHAPE(24, 32, 5), 0.3f);
    bv_no_grad_begin(ctx);
    ctx->autocast = BV_AUTOCAST_BF16;
    bv_conv1d(ctx, x, w, NULL, 1, 2, 1, 1);
    const int measured = bv_conv_cache_used(ctx->be);
    bv_conv1d(ctx, x, w, NULL, 1, 2, 1, 1);
    const int again = bv_conv_cache_used(ctx->be);
    ctx->autocast = BV_AUTOCAST_OFF;
    bv_no_grad_end(ctx);
    const int most = omp_get_max_threads() >= 2 ? 2 : 1; /* split: one entry per part; else one */
    BV_CHECK(measured >= 0 && measured <= most, "%d primitives kept after measuring (the winner needs at most %d)",
             measured, most);
    BV_CHECK(again == measured, "running the kept choice changed the cache: %d -> %d entries", measured, again);
}

/* Same geometry in fp32 and bf16: the cache keeps two primitives, each giving its own result. */
BV_TEST(conv_bf16_and_fp32_share_no_primitive) {
    if (!bf16_ready(ts)) return;
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(1, 16, 33), 1.0f), *w = bv_test_input(ctx, BV_SHAPE(16, 16, 3), 0.3f);
    bv_no_grad_begin(ctx);
    bv_tensor *a = bv_conv1d(ctx, x, w, NULL, 1, 1, 1, 1);
    ctx->autocast = BV_AUTOCAST_BF16;
    bv_tensor *b = bv_conv1d(ctx, x, w, NULL, 1, 1, 1, 1);
    ctx->autocast = BV_AUTOCAST_OFF;
    bv_tensor *c = bv_conv1d(ctx, x, w, NULL, 1, 1, 1, 1);
    bv_no_grad_end(ctx);
    BV_CHECK(!memcmp(a->data, c->data, sizeof(float) * (size_t)a->numel), "fp32 result changed after a bf16 call");
    BV_CHECK(memcmp(a->data, b->data, sizeof(float) * (size_t)a->numel) != 0, "bf16 result equals fp32");
}

/* The first bf16 call of a (shape, pass) times oneDNN's bf16 primitive against the fp32 one on
 * bf16-rounded inputs and keeps the faster (BV_CONV_BF16=measure, the default): the first call's
 * results equal the later ones' up to the order of fp32 sums, and the later calls, which run the
 * kept choice, are identical to each other. (The shape is used by no other test: its first call
 * here is the measuring one.) */
BV_TEST(conv_bf16_measured_pick_is_stable) {
    if (!bf16_ready(ts)) return;
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x0 = bv_test_input(ctx, BV_SHAPE(1, 48, 77), 1.0f), *w0 = bv_test_input(ctx, BV_SHAPE(40, 48, 5), 0.3f);
    bv_tensor *gy = bv_new(ctx, BV_F32, BV_SHAPE(1, 40, 77));
    bv_test_randn(ctx, gy, 1.0f);
    float *out[3][3]; /* run, {y, gx, gw} */
    for (int r = 0; r < 3; r++) {
        bv_tensor *x = copy_input(ctx, x0), *w = copy_input(ctx, w0);
        int64_t tm = bv_tape_mark(ctx);
        ctx->autocast = BV_AUTOCAST_BF16;
        bv_tensor *y = bv_conv1d(ctx, x, w, NULL, 1, 2, 1, 1);
        ctx->autocast = BV_AUTOCAST_OFF;
        bv_backward(ctx, y, gy);
        bv_tape_cut(ctx, tm);
        out[r][0] = y->data, out[r][1] = x->grad, out[r][2] = w->grad;
    }
    const int64_t n[3] = {40 * 77, 48 * 77, 40 * 48 * 5};
    const char *names[3] = {"y", "grad x", "grad w"};
    for (int k = 0; k < 3; k++) {
        BV_CHECK(!memcmp(out[1][k], out[2][k], sizeof(float) * (size_t)n[k]), "%s: the kept choice gave two results",
                 names[k]);
        double dmax = 0, amax = 0;
        for (int64_t i = 0; i < n[k]; i++) {
            dmax = fmax(dmax, fabs((double)out[0][k][i] - out[1][k][i]));
            amax = fmax(amax, fabs((double)out[1][k][i]));
        }
        BV_CHECK(dmax <= 1e-5 * amax, "%s: measuring call differs from the kept choice by %g (max |.| %g)", names[k],
                 dmax, amax);
    }
}

/* A conv's input gradient, taken fresh from the gradient pool, is not zeroed (bv_grad_for_overwrite):
 * every kernel path must write all of it. The second of two identical backward passes gets the
 * blocks the first released, still holding its gradients: a path that added to them (as the
 * depthwise loops do) instead of writing would double the result. Plain, strided, depthwise. */
BV_TEST(conv_backward_writes_every_element_of_a_fresh_input_grad) {
    bv_ctx *ctx = ts->ctx;
    static const struct { int64_t c, t, k; int stride, pad, dil, groups; } s[] = {
        {16, 40, 3, 1, 1, 1, 1}, {16, 41, 5, 3, 2, 1, 1}, {16, 40, 3, 1, 3, 3, 16}};
    for (size_t i = 0; i < sizeof s / sizeof s[0] && !ts->failed; i++) {
        bv_tensor *a = bv_test_input(ctx, BV_SHAPE(2, s[i].c, s[i].t), 1.0f);
        bv_tensor *w = bv_test_input(ctx, BV_SHAPE(s[i].c, s[i].c / s[i].groups, s[i].k), 0.3f);
        float *first = NULL;
        for (int pass = 0; pass < 2; pass++) {
            int64_t tm = bv_tape_mark(ctx);
            bv_tensor *y = bv_conv1d(ctx, bv_mul_scalar(ctx, a, 1.0f), w, NULL, s[i].stride, s[i].pad, s[i].dil,
                                     s[i].groups); // [2, C, T']
            bv_tensor *gy = bv_new_like(ctx, y);
            bv_test_randn(ctx, gy, 1.0f);
            if (pass) memcpy(gy->data, first + a->numel, sizeof(float) * (size_t)gy->numel);
            memset(bv_grad(ctx, a), 0, sizeof(float) * (size_t)a->numel);
            bv_backward(ctx, y, gy);
            bv_tape_cut(ctx, tm);
            if (!pass) { /* keep a's gradient and the output gradient used */
                first = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(a->numel + gy->numel));
                memcpy(first, a->grad, sizeof(float) * (size_t)a->numel);
                memcpy(first + a->numel, gy->data, sizeof(float) * (size_t)gy->numel);
                continue;
            }
            int64_t bad = 0;
            for (int64_t e = 0; e < a->numel; e++) bad += a->grad[e] != first[e];
            BV_CHECK(bad == 0, "spec %zu: %lld of %lld input-gradient elements differ on the second pass", i,
                     (long long)bad, (long long)a->numel);
        }
    }
}

/* Under bf16 autocast, weight_norm also keeps its output rounded to bf16 (w->bf16), and the conv
 * passes read that copy instead of rounding w again (native: oneDNN's reorder from bf16; matmul: the
 * gemm's operand as is). The same values either way: y and the input gradient equal, bit for bit,
 * those of the same conv on a plain copy of w, in every implementation that reads w. */
BV_TEST(conv_bf16_reads_weight_norm_copy_unchanged) {
    if (!bf16_ready(ts)) return;
    bv_ctx *ctx = ts->ctx;
    static const bv_conv_bf16_mode modes[3] = {BV_CONV_BF16_NATIVE, BV_CONV_BF16_MATMUL, BV_CONV_BF16_SPLIT};
    static const char *const names[3] = {"native", "matmul", "split"};
    bv_tensor *x0 = bv_test_input(ctx, BV_SHAPE(2, 32, 23, 3), 1.0f);
    bv_tensor *v = bv_test_input(ctx, BV_SHAPE(48, 32, 5, 1), 0.2f), *g = bv_test_input(ctx, BV_SHAPE(48, 1, 1, 1), 1.0f);
    bv_tensor *gy = NULL;
    for (int m = 0; m < 3 && !ts->failed; m++) {
        bv_conv_set_bf16_mode(ctx->be, modes[m]);
        float *out[2][2]; /* {with the copy, plain}, {y, grad x} */
        for (int k = 0; k < 2; k++) {
            int64_t tm = bv_tape_mark(ctx);
            bv_tensor *x = copy_input(ctx, x0);
            ctx->autocast = BV_AUTOCAST_BF16;
            bv_tensor *w = bv_weight_norm(ctx, g, v, 0);
            BV_CHECK(w->bf16 != NULL, "%s", "weight_norm under bf16 autocast kept no bf16 copy");
            if (k) { /* the same values, as a tensor without the copy */
                bv_tensor *wp = bv_new_like(ctx, w);
                memcpy(wp->data, w->data, sizeof(float) * (size_t)w->numel);
                w = wp;
            }
            bv_tensor *y = bv_conv2d(ctx, x, w, NULL, 3, 1, 2, 0, 1, 1, 1);
            ctx->autocast = BV_AUTOCAST_OFF;
            if (!gy) {
                gy = bv_new_like(ctx, y);
                bv_test_randn(ctx, gy, 1.0f);
            }
            bv_backward(ctx, y, gy);
            bv_tape_cut(ctx, tm);
            out[k][0] = y->data, out[k][1] = x->grad;
        }
        BV_CHECK(!memcmp(out[0][0], out[1][0], sizeof(float) * (size_t)gy->numel), "%s: y differs", names[m]);
        BV_CHECK(!memcmp(out[0][1], out[1][1], sizeof(float) * (size_t)x0->numel), "%s: grad x differs", names[m]);
    }
    bv_conv_set_bf16_mode(ctx->be, BV_CONV_BF16_MEASURE);
}

/* The batch split in unequal parts (3 and 5 items over the threads: parts of 1 and 2, 2 and 3), with
 * a bias, a stride, a grouped conv and the MPD's (K, 1) conv2d, against the oracle on rounded inputs.
 * Skips where there is one thread only (no split: native runs, which the other tests cover). */
BV_TEST(conv_bf16_split_uneven_parts_match_rounded_oracle) {
    if (!bf16_ready(ts)) return;
    if (omp_get_max_threads() < 2) {
        bv_test_skip(ts, "one OpenMP thread: no batch split");
        return;
    }
    static const conv_spec s[] = {
        {1, 0, 1, 3, 32, 48, 1, {40}, {7}, {1}, {3}, {1}, {0}},
        {1, 0, 0, 5, 16, 32, 1, {33}, {5}, {3}, {2}, {1}, {0}},
        {1, 0, 1, 3, 32, 32, 4, {29}, {5}, {1}, {4}, {2}, {0}},
        {2, 0, 1, 3, 32, 64, 1, {12, 5}, {5, 1}, {3, 1}, {2, 0}, {1, 1}, {0, 0}},
    };
    bv_conv_set_bf16_mode(ts->ctx->be, BV_CONV_BF16_SPLIT);
    for (int i = 0; i < (int)N_OF(s) && !ts->failed; i++) {
        char w[64];
        snprintf(w, sizeof w, "bf16 split, uneven parts, spec %d", i);
        int64_t tm = bv_tape_mark(ts->ctx);
        check_bf16(ts, &s[i], NULL, w);
        bv_tape_cut(ts->ctx, tm);
    }
    bv_conv_set_bf16_mode(ts->ctx->be, BV_CONV_BF16_MEASURE);
}
