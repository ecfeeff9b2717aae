/* test_duration.c - StochasticDurationPredictor, DurationPredictor, DurationDiscriminator:
 * golden cases B04..B07 (outputs, every input and parameter grad, replayed noise, parameters in the
 * manifest's state_dict order), finite-difference gradients of each module, the SDP reverse pass
 * skipping flows.1, detached x/g, dropout only in training, and input errors naming the module and
 * both shapes. */
#include <string.h>

#include "../src/model/duration.h"
#include "fixtures.h"
#include "golden.h"
#include "test.h"

/* ---------------- golden ---------------- */

/* The manifest gives p_dropout as a number, or as a note that upstream's value was zeroed. */
static float golden_dropout(bv_test_state *ts, bv_golden *g) {
    const cJSON *v = cJSON_GetObjectItem(bv_golden_config(g), "p_dropout");
    if (cJSON_IsNumber(v)) return (float)v->valuedouble;
    if (cJSON_IsString(v) && strstr(v->valuestring, "zeroed")) return 0.0f;
    BV_CHECK(0, "config.p_dropout is neither a number nor a note that it was zeroed");
    return 0.0f;
}

/* The store must hold the case's param.* tensors in the manifest's (state_dict) order. */
static void check_param_order(bv_test_state *ts, bv_golden *g, const bv_params *ps) {
    const cJSON *tensors = cJSON_GetObjectItem(bv_golden_case_json(g), "tensors"), *t;
    int k = 0, ok = 1;
    cJSON_ArrayForEach(t, tensors) {
        const cJSON *role = cJSON_GetObjectItem(t, "role"), *name = cJSON_GetObjectItem(t, "name");
        if (!cJSON_IsString(role) || strcmp(role->valuestring, "param")) continue;
        if (k >= ps->n || strcmp(ps->items[k]->name, name->valuestring + strlen("param."))) {
            fprintf(stderr, "  param %d: store has %s, manifest %s\n", k, k < ps->n ? ps->items[k]->name : "(none)",
                    name->valuestring);
            ok = 0;
            break;
        }
        k++;
    }
    BV_CHECK(ok && k == ps->n, "parameters must follow upstream state_dict order (%d of %d matched)", k, ps->n);
}

static bv_sdp *golden_sdp(bv_test_state *ts, bv_golden *g, bv_params *ps) {
    bv_sdp_cfg cfg = {.in_channels = (int)bv_golden_cfg_int(g, "in_channels"),
                      .kernel_size = (int)bv_golden_cfg_int(g, "kernel_size"),
                      .p_dropout = golden_dropout(ts, g),
                      .n_flows = (int)bv_golden_cfg_int(g, "n_flows"),
                      .gin_channels = (int)bv_golden_cfg_int(g, "gin_channels")};
    bv_sdp *m = bv_sdp_new(ps, "", &cfg);
    check_param_order(ts, g, ps);
    bv_golden_load_params(g, ps, "param.");
    return m;
}

static int count_noise(bv_golden *g) {
    const cJSON *tensors = cJSON_GetObjectItem(bv_golden_case_json(g), "tensors"), *t;
    int n = 0;
    cJSON_ArrayForEach(t, tensors) {
        const cJSON *role = cJSON_GetObjectItem(t, "role");
        n += cJSON_IsString(role) && !strcmp(role->valuestring, "noise");
    }
    return n;
}

BV_GOLDEN_TEST(golden_B04_sdp_forward) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "B04_sdp_forward");
    if (!g) return;
    BV_CHECK(bv_golden_cfg_int_or(g, "reverse", -1) == 0, "config.reverse must be false");
    bv_params ps;
    bv_params_init(&ps);
    bv_sdp *m = golden_sdp(ts, g, &ps);
    bv_tensor *x = bv_golden_input(g, "in.x"), *mask = bv_golden_tensor(g, "in.x_mask");
    bv_tensor *w = bv_golden_input(g, "in.w");
    bv_tensor *gc = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL;
    if (x && mask && w) {
        bv_golden_replay_noise(g);
        bv_golden_output(g, "nll", bv_sdp_forward(ctx, m, x, mask, w, gc, 0, 1.0f, 1));
        BV_CHECK(ctx->rng.next_replay == count_noise(g), "SDP forward must draw exactly upstream's noise (%d of %d)",
                 ctx->rng.next_replay, count_noise(g));
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    }
    bv_sdp_free(m);
    bv_params_free(&ps);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(golden_B05_sdp_reverse) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "B05_sdp_reverse");
    if (!g) return;
    BV_CHECK(bv_golden_cfg_int_or(g, "reverse", -1) == 1, "config.reverse must be true");
    float noise_scale = (float)bv_golden_cfg_num(g, "noise_scale");
    bv_params ps;
    bv_params_init(&ps);
    bv_sdp *m = golden_sdp(ts, g, &ps);
    bv_tensor *x = bv_golden_input(g, "in.x"), *mask = bv_golden_tensor(g, "in.x_mask");
    bv_tensor *gc = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL;
    if (x && mask) {
        bv_golden_replay_noise(g);
        bv_golden_output(g, "logw", bv_sdp_forward(ctx, m, x, mask, NULL, gc, 1, noise_scale, 1));
        BV_CHECK(ctx->rng.next_replay == count_noise(g), "SDP reverse must draw exactly upstream's noise (%d of %d)",
                 ctx->rng.next_replay, count_noise(g));
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    }
    bv_sdp_free(m);
    bv_params_free(&ps);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(golden_B06_duration_predictor) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "B06_duration_predictor");
    if (!g) return;
    bv_dp_cfg cfg = {(int)bv_golden_cfg_int(g, "in_channels"), (int)bv_golden_cfg_int(g, "filter_channels"),
                     (int)bv_golden_cfg_int(g, "kernel_size"), golden_dropout(ts, g),
                     (int)bv_golden_cfg_int(g, "gin_channels")};
    bv_params ps;
    bv_params_init(&ps);
    bv_dp *m = bv_dp_new(&ps, "", &cfg);
    check_param_order(ts, g, &ps);
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x"), *mask = bv_golden_tensor(g, "in.x_mask");
    bv_tensor *gc = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL;
    if (x && mask) {
        bv_golden_output(g, "logw", bv_dp_forward(ctx, m, x, mask, gc, 1));
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    }
    bv_dp_free(m);
    bv_params_free(&ps);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(golden_B07_duration_discriminator) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "B07_duration_discriminator");
    if (!g) return;
    bv_dur_disc_cfg cfg = {(int)bv_golden_cfg_int(g, "in_channels"), (int)bv_golden_cfg_int(g, "filter_channels"),
                           (int)bv_golden_cfg_int(g, "kernel_size"), golden_dropout(ts, g),
                           (int)bv_golden_cfg_int(g, "gin_channels")};
    bv_params ps;
    bv_params_init(&ps);
    bv_dur_disc *m = bv_dur_disc_new(&ps, "", &cfg);
    check_param_order(ts, g, &ps);
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x"), *mask = bv_golden_tensor(g, "in.x_mask");
    bv_tensor *dur_r = bv_golden_input(g, "in.dur_r"), *dur_hat = bv_golden_input(g, "in.dur_hat");
    bv_tensor *gc = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL;
    if (x && mask && dur_r && dur_hat) {
        bv_tensor *probs[2];
        bv_dur_disc_forward(ctx, m, x, mask, dur_r, dur_hat, gc, 1, probs);
        bv_golden_output(g, "probs.0", probs[0]);
        bv_golden_output(g, "probs.1", probs[1]);
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    }
    bv_dur_disc_free(m);
    bv_params_free(&ps);
    bv_golden_close(g);
}

/* ---------------- unit: StochasticDurationPredictor ---------------- */

/* A small SDP (2 flows) with random parameters: the flows' proj and affine are perturbed from their
 * identity init so that every flow does something. */
static bv_sdp *small_sdp(bv_ctx *ctx, bv_params *ps, int gin) {
    bv_sdp *m = bv_sdp_new(ps, "sdp.", &(bv_sdp_cfg){.in_channels = 3, .filter_channels = 192, .kernel_size = 3,
                                                      .n_flows = 2, .gin_channels = gin});
    bv_sdp_reset_parameters(m, &ctx->rng);
    const bv_flow *lists[2] = {m->flows, m->post_flows};
    const int lens[2] = {m->n_flow_list, 1 + 2 * BV_SDP_N_POST_FLOWS};
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < lens[l]; i++) {
            const bv_flow *f = &lists[l][i];
            if (f->kind == BV_FLOW_CONVFLOW) bv_test_randn(ctx, f->conv->proj.weight, 0.3f);
            if (f->kind == BV_FLOW_CONVFLOW) bv_test_randn(ctx, f->conv->proj.bias, 0.3f);
            if (f->kind == BV_FLOW_ELEMENTWISE_AFFINE) bv_test_randn(ctx, f->affine->m, 0.3f);
            if (f->kind == BV_FLOW_ELEMENTWISE_AFFINE) bv_test_randn(ctx, f->affine->logs, 0.3f);
        }
    return m;
}

BV_TEST(sdp_structure) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_sdp *m = small_sdp(ctx, &ps, 0);
    BV_CHECK(m->cfg.filter_channels == 3, "filter_channels is overridden by in_channels as upstream");
    BV_CHECK(m->n_flow_list == 5 && m->flows[0].kind == BV_FLOW_ELEMENTWISE_AFFINE &&
                 m->flows[1].kind == BV_FLOW_CONVFLOW && m->flows[2].kind == BV_FLOW_FLIP &&
                 m->flows[4].kind == BV_FLOW_FLIP && m->post_flows[8].kind == BV_FLOW_FLIP,
             "flows = [ElementwiseAffine, n x (ConvFlow, Flip)]; post_flows always 4 pairs");
    BV_CHECK(!strcmp(ps.items[0]->name, "sdp.flows.0.m") && !strcmp(ps.items[2]->name, "sdp.flows.1.pre.weight") &&
                 bv_params_get(&ps, "sdp.flows.3.proj.bias") && bv_params_get(&ps, "sdp.post_flows.7.proj.weight") &&
                 !bv_params_get(&ps, "sdp.cond.weight") &&
                 !strcmp(ps.items[ps.n - 1]->name, "sdp.convs.norms_2.2.beta"),
             "state_dict names; no cond without gin_channels");
    BV_CHECK(bv_params_get(&ps, "sdp.flows.1.proj.weight")->shape[0] == 29, "ConvFlow proj [1 * (3*10-1), F, 1]");
    bv_sdp_free(m);
    bv_params_free(&ps);
}

typedef struct {
    const bv_sdp *m;
    bv_tensor *x, *mask, *g, *w;
    int reverse;
} sdp_case;

/* SDP output with a fixed noise draw: the seed is set for the call, then the caller's rng restored. */
static bv_tensor *sdp_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    const sdp_case *c = user;
    bv_rng saved = ctx->rng;
    bv_rng_seed(&ctx->rng, 1234);
    bv_tensor *y = bv_sdp_forward(ctx, c->m, c->x, c->mask, c->reverse ? NULL : in[0], c->g, c->reverse, 0.8f, 0);
    ctx->rng = saved;
    return y;
}

/* w of a real duration (>= 1 frame) on the valid frames, so z0 = w - u stays above the Log clamp */
static bv_tensor *durations(bv_ctx *ctx, int64_t B, int64_t T) {
    bv_tensor *w = bv_test_input(ctx, BV_SHAPE(B, 1, T), 1.0f);
    for (int64_t i = 0; i < w->numel; i++) w->data[i] = 1.5f + fabsf(w->data[i]);
    return w;
}

BV_TEST(sdp_forward_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_sdp *m = small_sdp(ctx, &ps, 2);
    sdp_case c = {m, bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f), bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4}),
                  bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f), NULL, 0};
    bv_tensor *in[6] = {durations(ctx, 2, 6), bv_params_get(&ps, "sdp.post_pre.weight"),
                        bv_params_get(&ps, "sdp.cond.weight"), bv_params_get(&ps, "sdp.flows.1.proj.weight"),
                        bv_params_get(&ps, "sdp.flows.0.logs"), bv_params_get(&ps, "sdp.post_flows.3.pre.bias")};
    bv_gradcheck(ts, "sdp forward nll", sdp_fn, 6, in, &c, 1e-3, 2e-3, 2e-2, 16);
    bv_sdp_free(m);
    bv_params_free(&ps);
}

BV_TEST(sdp_reverse_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_sdp *m = small_sdp(ctx, &ps, 2);
    sdp_case c = {m, bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f), bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4}),
                  bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f), NULL, 1};
    bv_tensor *in[4] = {bv_params_get(&ps, "sdp.flows.3.proj.weight"), bv_params_get(&ps, "sdp.pre.weight"),
                        bv_params_get(&ps, "sdp.cond.bias"), bv_params_get(&ps, "sdp.flows.0.m")};
    bv_gradcheck(ts, "sdp reverse logw", sdp_fn, 4, in, &c, 1e-3, 2e-3, 2e-2, 16);
    bv_sdp_free(m);
    bv_params_free(&ps);
}

/* Upstream drops self.flows[1] (the first ConvFlow) from the reverse list: changing it changes
 * nothing, while every other ConvFlow matters; x and g are detached (no grads), the parameters
 * used get grads. */
BV_TEST(sdp_reverse_skips_flows_1_and_detaches) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_sdp *m = small_sdp(ctx, &ps, 2);
    sdp_case c = {m, bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f), bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4}),
                  bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f), NULL, 1};
    bv_tensor *y0 = sdp_fn(ctx, NULL, &c);
    BV_CHECK(y0->ndim == 3 && y0->shape[0] == 2 && y0->shape[1] == 1 && y0->shape[2] == 6, "logw [B, 1, T]");
    bv_backward(ctx, bv_sum(ctx, y0), NULL);
    BV_CHECK(c.x->grad == NULL && c.g->grad == NULL, "x and g are detached");
    bv_tensor *p1 = bv_params_get(&ps, "sdp.flows.1.proj.weight"), *p3 = bv_params_get(&ps, "sdp.flows.3.proj.weight");
    double g1 = 0, g3 = 0;
    for (int64_t i = 0; i < p1->numel; i++) g1 += fabs(p1->grad[i]), g3 += fabs(p3->grad[i]);
    BV_CHECK(g1 == 0 && g3 > 0, "flows.1 unused in reverse (grad %g), flows.3 used (grad %g)", g1, g3);
    bv_test_randn(ctx, p1, 1.0f);
    bv_tensor *y1 = sdp_fn(ctx, NULL, &c);
    BV_CHECK(!memcmp(y0->data, y1->data, sizeof(float) * (size_t)y0->numel), "flows.1 must not affect logw");
    bv_test_randn(ctx, p3, 1.0f);
    bv_tensor *y3 = sdp_fn(ctx, NULL, &c);
    BV_CHECK(memcmp(y0->data, y3->data, sizeof(float) * (size_t)y0->numel), "flows.3 must affect logw");
    bv_sdp_free(m);
    bv_params_free(&ps);
}

/* The forward draws one randn(B, 2, T) (e_q), the reverse one randn(B, 2, T) (z): replay of a
 * draw with another shape is refused, so the call order is upstream's. */
BV_TEST(sdp_noise_draws_replay) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_sdp *m = small_sdp(ctx, &ps, 0);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 5), 1.0f), *mask = bv_test_mask(ctx, 2, 5, (int64_t[]){5, 3});
    bv_tensor *noise = bv_new(ctx, BV_F32, BV_SHAPE(2, 2, 5));
    bv_test_randn(ctx, noise, 1.0f);
    bv_rng_draw d = {.name = "noise.000.randn", .ndim = 3, .shape = {2, 2, 5}, .data = noise->data};
    bv_rng_set_replay(&ctx->rng, &d, 1);
    bv_tensor *a = bv_sdp_forward(ctx, m, x, mask, NULL, NULL, 1, 0.5f, 0);
    BV_CHECK(ctx->rng.next_replay == 1, "reverse draws exactly one tensor");
    bv_rng_set_replay(&ctx->rng, &d, 1);
    bv_tensor *b = bv_sdp_forward(ctx, m, x, mask, NULL, NULL, 1, 0.5f, 0);
    BV_CHECK(!memcmp(a->data, b->data, sizeof(float) * (size_t)a->numel), "same draw, same logw");
    bv_rng_set_replay(&ctx->rng, &d, 1);
    bv_sdp_forward(ctx, m, x, mask, durations(ctx, 2, 5), NULL, 0, 1.0f, 0);
    BV_CHECK(ctx->rng.next_replay == 1, "forward draws exactly one tensor");
    bv_rng_draw bad = {.name = "noise.000.randn", .ndim = 3, .shape = {2, 1, 5}, .data = noise->data};
    bv_rng_set_replay(&ctx->rng, &bad, 1);
    char msg[512] = "";
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_sdp_forward(ctx, m, x, mask, NULL, NULL, 1, 0.5f, 0));
    BV_CHECK(raised && strstr(msg, "randn"), "a draw of another shape must be refused: %s", msg);
    bv_rng_set_replay(&ctx->rng, NULL, 0);
    bv_sdp_free(m);
    bv_params_free(&ps);
}

BV_TEST(sdp_errors) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_sdp *m = small_sdp(ctx, &ps, 0);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f), *mask = bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4});
    bv_tensor *w = durations(ctx, 2, 6);
    char msg[512] = "";
    bv_tensor *x4 = bv_test_input(ctx, BV_SHAPE(2, 4, 6), 1.0f);
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_sdp_forward(ctx, m, x4, mask, w, NULL, 0, 1.0f, 0));
    BV_CHECK(raised && strstr(msg, "StochasticDurationPredictor") && strstr(msg, "[2, 4, 6]") &&
                 strstr(msg, "[B, 3, T]"),
             "wrong channel count: %s", msg);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_sdp_forward(ctx, m, x, mask, NULL, NULL, 0, 1.0f, 0));
    BV_CHECK(raised && strstr(msg, "StochasticDurationPredictor") && strstr(msg, "needs w"), "missing w: %s", msg);
    bv_tensor *w5 = durations(ctx, 2, 5);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_sdp_forward(ctx, m, x, mask, w5, NULL, 0, 1.0f, 0));
    BV_CHECK(raised && strstr(msg, "StochasticDurationPredictor") && strstr(msg, "[2, 1, 5]") &&
                 strstr(msg, "[2, 3, 6]"),
             "w of another length: %s", msg);
    bv_tensor *bad_mask = bv_test_mask(ctx, 2, 5, (int64_t[]){5, 4});
    raised = BV_EXPECT_ERROR(ctx, msg, bv_sdp_forward(ctx, m, x, bad_mask, NULL, NULL, 1, 1.0f, 0));
    BV_CHECK(raised && strstr(msg, "StochasticDurationPredictor") && strstr(msg, "[2, 1, 5]") &&
                 strstr(msg, "[2, 3, 6]"),
             "mask of another length: %s", msg);
    bv_tensor *g = bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_sdp_forward(ctx, m, x, mask, NULL, g, 1, 1.0f, 0));
    BV_CHECK(raised && strstr(msg, "StochasticDurationPredictor") && strstr(msg, "[2, 2, 1]") &&
                 strstr(msg, "[2, 3, 6]") && strstr(msg, "gin_channels is 0"),
             "g without a cond layer: %s", msg);
    bv_sdp_free(m);
    bv_params_free(&ps);
}

/* ---------------- unit: DurationPredictor ---------------- */

static bv_dp *small_dp(bv_ctx *ctx, bv_params *ps, float p_dropout) {
    bv_dp *m = bv_dp_new(ps, "dp.", &(bv_dp_cfg){3, 5, 3, p_dropout, 2});
    bv_dp_reset_parameters(m, &ctx->rng);
    bv_test_randn(ctx, m->norm_1.beta, 0.3f);
    bv_test_randn(ctx, m->norm_2.gamma, 0.5f);
    return m;
}

typedef struct {
    const bv_dp *m;
    bv_tensor *x, *mask, *g;
} dp_case;

static bv_tensor *dp_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    const dp_case *c = user;
    return bv_dp_forward(ctx, c->m, c->x, c->mask, c->g, 0);
}

BV_TEST(dp_gradcheck_and_structure) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_dp *m = small_dp(ctx, &ps, 0.0f);
    BV_CHECK(ps.n == 12 && !strcmp(ps.items[0]->name, "dp.conv_1.weight") &&
                 !strcmp(ps.items[8]->name, "dp.proj.weight") && !strcmp(ps.items[11]->name, "dp.cond.bias") &&
                 ps.items[0]->shape[2] == 3 && m->conv_1.cfg.padding == 1,
             "state_dict order and shapes");
    dp_case c = {m, bv_test_input(ctx, BV_SHAPE(2, 3, 7), 1.0f), bv_test_mask(ctx, 2, 7, (int64_t[]){7, 5}),
                 bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f)};
    bv_tensor *in[5] = {m->conv_1.weight, m->norm_1.gamma, m->conv_2.bias, m->proj.weight, m->cond.weight};
    bv_gradcheck(ts, "duration predictor", dp_fn, 5, in, &c, 1e-3, 2e-3, 2e-2, 24);
    bv_tensor *y = dp_fn(ctx, NULL, &c);
    BV_CHECK(y->shape[1] == 1 && y->data[7 + 6] == 0.0f, "logw [B, 1, T], masked");
    bv_backward(ctx, bv_sum(ctx, y), NULL);
    BV_CHECK(c.x->grad == NULL && c.g->grad == NULL, "x and g are detached");
    bv_dp_free(m);
    bv_params_free(&ps);
}

/* Dropout (cfg p_dropout) only when training. */
BV_TEST(dp_dropout_only_in_training) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_dp *m = small_dp(ctx, &ps, 0.5f);
    dp_case c = {m, bv_test_input(ctx, BV_SHAPE(2, 3, 7), 1.0f), bv_test_mask(ctx, 2, 7, (int64_t[]){7, 5}), NULL};
    bv_tensor *a = bv_dp_forward(ctx, m, c.x, c.mask, NULL, 0), *b = bv_dp_forward(ctx, m, c.x, c.mask, NULL, 0);
    bv_tensor *t = bv_dp_forward(ctx, m, c.x, c.mask, NULL, 1);
    BV_CHECK(!memcmp(a->data, b->data, sizeof(float) * (size_t)a->numel), "eval is deterministic");
    BV_CHECK(memcmp(a->data, t->data, sizeof(float) * (size_t)a->numel), "training applies dropout");
    bv_dp_free(m);
    bv_params_free(&ps);
}

BV_TEST(dp_errors) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_dp *m = small_dp(ctx, &ps, 0.0f);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 7), 1.0f), *mask = bv_test_mask(ctx, 2, 7, (int64_t[]){7, 5});
    char msg[512] = "";
    bv_tensor *bad_g = bv_test_input(ctx, BV_SHAPE(2, 3, 1), 1.0f);
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_dp_forward(ctx, m, x, mask, bad_g, 0));
    BV_CHECK(raised && strstr(msg, "DurationPredictor") && strstr(msg, "[2, 3, 1]") && strstr(msg, "[2, 3, 7]"),
             "g of the wrong width: %s", msg);
    bv_tensor *x5 = bv_test_input(ctx, BV_SHAPE(2, 5, 7), 1.0f);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_dp_forward(ctx, m, x5, mask, NULL, 0));
    BV_CHECK(raised && strstr(msg, "DurationPredictor") && strstr(msg, "[2, 5, 7]") && strstr(msg, "[B, 3, T]"),
             "wrong channel count: %s", msg);
    bv_dp_free(m);
    bv_params_free(&ps);
}

/* ---------------- unit: DurationDiscriminator ---------------- */

static bv_dur_disc *small_dur_disc(bv_ctx *ctx, bv_params *ps) {
    bv_dur_disc *m = bv_dur_disc_new(ps, "", &(bv_dur_disc_cfg){3, 4, 3, 0.0f, 2});
    bv_dur_disc_reset_parameters(m, &ctx->rng);
    bv_test_randn(ctx, m->norm_2.beta, 0.3f);
    return m;
}

typedef struct {
    const bv_dur_disc *m;
    bv_tensor *x, *mask, *g;
} dd_case;

/* both probabilities, [B, 2T, 1] */
static bv_tensor *dd_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    const dd_case *c = user;
    bv_tensor *p[2];
    bv_dur_disc_forward(ctx, c->m, c->x, c->mask, in[0], in[1], c->g, 0, p);
    return bv_concat(ctx, 2, p, 1);
}

BV_TEST(dur_disc_gradcheck_and_structure) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_dur_disc *m = small_dur_disc(ctx, &ps);
    BV_CHECK(ps.n == 22 && !strcmp(ps.items[8]->name, "dur_proj.weight") &&
                 !strcmp(ps.items[10]->name, "LSTM.weight_ih_l0") &&
                 !strcmp(ps.items[17]->name, "LSTM.bias_hh_l0_reverse") && !strcmp(ps.items[18]->name, "cond.weight") &&
                 !strcmp(ps.items[20]->name, "output_layer.0.weight") && ps.items[10]->shape[0] == 16 &&
                 ps.items[10]->shape[1] == 8 && ps.items[20]->shape[1] == 8,
             "state_dict order and shapes");
    dd_case c = {m, bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f), bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4}),
                 bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f)};
    bv_tensor *in[7] = {bv_test_input(ctx, BV_SHAPE(2, 1, 6), 1.0f), bv_test_input(ctx, BV_SHAPE(2, 1, 6), 1.0f),
                        m->lstm[5], m->dur_proj.weight, m->out_w, m->cond.weight, m->conv_1.weight};
    bv_gradcheck(ts, "duration discriminator", dd_fn, 7, in, &c, 1e-3, 2e-3, 2e-2, 16);
    bv_tensor *p[2];
    bv_dur_disc_forward(ctx, m, c.x, c.mask, in[0], in[1], c.g, 0, p);
    BV_CHECK(p[0]->ndim == 3 && p[0]->shape[1] == 6 && p[0]->shape[2] == 1 && p[0]->data[11] > 0 &&
                 p[0]->data[11] < 1,
             "probs [B, T, 1] in (0, 1), padded frames included");
    bv_backward(ctx, bv_sum(ctx, p[1]), NULL);
    BV_CHECK(c.x->grad == NULL && c.g->grad == NULL, "x and g are detached");
    bv_dur_disc_free(m);
    bv_params_free(&ps);
}

BV_TEST(dur_disc_errors) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_dur_disc *m = small_dur_disc(ctx, &ps);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f), *mask = bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4});
    bv_tensor *d = bv_test_input(ctx, BV_SHAPE(2, 1, 6), 1.0f), *bad = bv_test_input(ctx, BV_SHAPE(2, 2, 6), 1.0f);
    bv_tensor *p[2];
    char msg[512] = "";
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_dur_disc_forward(ctx, m, x, mask, d, bad, NULL, 0, p));
    BV_CHECK(raised && strstr(msg, "DurationDiscriminator") && strstr(msg, "dur_hat") && strstr(msg, "[2, 2, 6]") &&
                 strstr(msg, "[2, 3, 6]"),
             "dur_hat of the wrong shape: %s", msg);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_dur_disc_forward(ctx, m, x, mask, bad, d, NULL, 0, p));
    BV_CHECK(raised && strstr(msg, "DurationDiscriminator") && strstr(msg, "dur_r"), "dur_r: %s", msg);
    bv_dur_disc_free(m);
    bv_params_free(&ps);
}
