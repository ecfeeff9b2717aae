/* test_flow_blocks.c - models.TransformerCouplingBlock and models.ResidualCouplingBlock
 * (src/model/flow_blocks.c): golden cases B08 (forward) and B09 (reverse) for the transformer block;
 * for the residual block, which no golden case covers: round trip forward/reverse, the identity of
 * a freshly initialised block, finite differences both ways, parameter names; shape errors and
 * config checks for both. */
#include <string.h>

#include "../src/model/flow_blocks.h"
#include "../src/ops/ops.h"
#include "fixtures.h"
#include "golden.h"

static void run_golden(bv_test_state *ts, const char *case_name) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, case_name);
    if (!g) return;
    bv_transformer_coupling_block_cfg cfg = {
        .channels = (int)bv_golden_cfg_int(g, "channels"),
        .hidden_channels = (int)bv_golden_cfg_int(g, "hidden_channels"),
        .filter_channels = (int)bv_golden_cfg_int(g, "filter_channels"),
        .n_heads = (int)bv_golden_cfg_int(g, "n_heads"),
        .n_layers = (int)bv_golden_cfg_int(g, "n_layers"),
        .kernel_size = (int)bv_golden_cfg_int(g, "kernel_size"),
        .p_dropout = (float)bv_golden_cfg_num(g, "p_dropout"),
        .n_flows = (int)bv_golden_cfg_int_or(g, "n_flows", 4), /* upstream default */
        .gin_channels = (int)bv_golden_cfg_int_or(g, "gin_channels", 0),
        .share_parameter = (int)bv_golden_cfg_int_or(g, "share_parameter", 0),
    };
    int reverse = (int)bv_golden_cfg_int_or(g, "reverse", -1);
    char err[256];
    BV_CHECK(reverse == 0 || reverse == 1, "%s: config 'reverse' missing", case_name);
    BV_CHECK(bv_transformer_coupling_block_cfg_check(&cfg, err, sizeof err) == 0, "%s: config: %s", case_name, err);
    if (ts->failed) {
        bv_golden_close(g);
        return;
    }
    bv_params ps;
    bv_params_init(&ps);
    bv_transformer_coupling_block *flow = bv_transformer_coupling_block_new(&ps, "", &cfg);
    bv_golden_load_params(g, &ps, "param.");
    bv_golden_replay_noise(g);
    bv_tensor *x = bv_golden_input(g, "in.x");                                       // [B, C, T]
    bv_tensor *x_mask = bv_golden_tensor(g, "in.x_mask");                            // [B, 1, T]
    bv_tensor *cond = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL;  // [B, gin, 1]
    if (x && x_mask) {
        bv_tensor *y = bv_transformer_coupling_block_forward(ctx, flow, x, x_mask, cond, reverse, 1); // [B, C, T]
        bv_golden_output(g, "y", y);
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    } else {
        BV_CHECK(0, "%s: inputs missing", case_name);
    }
    bv_transformer_coupling_block_free(flow);
    bv_params_free(&ps);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(flow_blocks_golden_B08_transformer_coupling_block_fwd) {
    run_golden(ts, "B08_transformer_coupling_block_fwd");
}
BV_GOLDEN_TEST(flow_blocks_golden_B09_transformer_coupling_block_rev) {
    run_golden(ts, "B09_transformer_coupling_block_rev");
}

/* ---- unit tests on small random blocks ---- */

static const bv_residual_coupling_block_cfg RES = {.channels = 4, .hidden_channels = 3, .kernel_size = 3,
                                                   .dilation_rate = 2, .n_layers = 2, .n_flows = 3,
                                                   .gin_channels = 2};
static const bv_transformer_coupling_block_cfg TRF = {.channels = 4, .hidden_channels = 8, .filter_channels = 2,
                                                      .n_heads = 2, .n_layers = 3, .kernel_size = 3,
                                                      .p_dropout = 0.0f, .n_flows = 2, .gin_channels = 2};

/* Either block behind one call. */
typedef struct {
    bv_residual_coupling_block *rb;
    bv_transformer_coupling_block *tb;
} block;

static bv_tensor *block_forward(bv_ctx *ctx, const block *b, bv_tensor *x, bv_tensor *mask, bv_tensor *g, int reverse) {
    return b->rb ? bv_residual_coupling_block_forward(ctx, b->rb, x, mask, g, reverse, 0)
                 : bv_transformer_coupling_block_forward(ctx, b->tb, x, mask, g, reverse, 0);
}

static void block_free(block *b) {
    bv_residual_coupling_block_free(b->rb);
    bv_transformer_coupling_block_free(b->tb);
}

/* Random parameters (post included: upstream zero-initialises it, which would make every coupling
 * the identity); weight_g and LayerNorm gammas around 1. */
static void randomize_params(bv_ctx *ctx, bv_params *ps, float scale) {
    bv_test_randomize_params(ctx, ps, scale, 0.5f);
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *p = ps->items[i];
        /* keep the FFN's ReLU inputs away from 0, so finite differences rarely straddle a kink */
        if (strstr(p->name, "conv_1.bias"))
            for (int64_t j = 0; j < p->numel; j++) p->data[j] += 1.0f;
    }
}

static block make_block(bv_test_state *ts, bv_params *ps, int transformer) {
    bv_params_init(ps);
    block b = {0};
    if (transformer) b.tb = bv_transformer_coupling_block_new(ps, "flow.", &TRF);
    else b.rb = bv_residual_coupling_block_new(ps, "flow.", &RES);
    randomize_params(ts->ctx, ps, transformer ? 0.2f : 0.4f);
    return b;
}

/* reverse(forward(x)) == x on valid frames, and forward(reverse(x)) too. */
static void check_round_trip(bv_test_state *ts, const char *what, int transformer) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    block b = make_block(ts, &ps, transformer);
    const int64_t B = 2, C = 4, T = 7;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(B, C, T), 1.0f);
    bv_tensor *mask = bv_test_mask(ctx, B, T, (int64_t[]){7, 5});
    bv_tensor *cond = bv_test_input(ctx, BV_SHAPE(B, 2, 1), 1.0f);
    bv_tensor *y = block_forward(ctx, &b, x, mask, cond, 0);
    bv_tensor *xr = block_forward(ctx, &b, y, mask, cond, 1);
    bv_tensor *yr = block_forward(ctx, &b, x, mask, cond, 1);
    bv_tensor *xf = block_forward(ctx, &b, yr, mask, cond, 0);
    double worst = 0, move = 0;
    for (int64_t bb = 0; bb < B; bb++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t t = 0; t < T; t++) {
                if (mask->data[bb * T + t] == 0.0f) continue;
                int64_t i = (bb * C + c) * T + t;
                worst = fmax(worst, fmax(fabs(xr->data[i] - x->data[i]), fabs(xf->data[i] - x->data[i])));
                move = fmax(move, fabs(y->data[i] - x->data[i]));
            }
    BV_CHECK(worst < 1e-5, "%s: round trip error %g", what, worst);
    BV_CHECK(move > 1e-2, "%s: the block barely moves x (%g)", what, move);
    block_free(&b);
    bv_params_free(&ps);
}

BV_TEST(flow_blocks_residual_round_trip) { check_round_trip(ts, "ResidualCouplingBlock", 0); }
BV_TEST(flow_blocks_transformer_round_trip) { check_round_trip(ts, "TransformerCouplingBlock", 1); }

/* Upstream zero-initialises every post conv: a fresh block maps x to its channel flips, i.e. x
 * itself for an even n_flows and flip(x) for an odd one (mask all ones). */
BV_TEST(flow_blocks_residual_fresh_is_flips) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_residual_coupling_block *rb = bv_residual_coupling_block_new(&ps, "", &RES);
    bv_residual_coupling_block_reset_parameters(rb, &ctx->rng);
    const int64_t B = 2, C = 4, T = 5;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(B, C, T), 1.0f);
    bv_tensor *mask = bv_test_mask(ctx, B, T, (int64_t[]){5, 5});
    bv_tensor *cond = bv_test_input(ctx, BV_SHAPE(B, 2, 1), 1.0f);
    bv_tensor *y = bv_residual_coupling_block_forward(ctx, rb, x, mask, cond, 0, 0);
    double worst = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t t = 0; t < T; t++) {
                int64_t src = RES.n_flows % 2 ? C - 1 - c : c;
                worst = fmax(worst, fabs(y->data[(b * C + c) * T + t] - x->data[(b * C + src) * T + t]));
            }
    BV_CHECK(worst == 0.0, "fresh block is not %d flips: %g", RES.n_flows, worst);
    bv_residual_coupling_block_free(rb);
    bv_params_free(&ps);
}

typedef struct {
    block *b;
    bv_tensor *mask;
    int reverse;
} fd_case;

static bv_tensor *block_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    fd_case *f = user;
    return block_forward(ctx, f->b, in[0], f->mask, in[1], f->reverse);
}

BV_TEST(flow_blocks_residual_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    block b = make_block(ts, &ps, 0);
    bv_tensor *mask = bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4});
    bv_tensor *in[] = {bv_test_input(ctx, BV_SHAPE(2, 4, 6), 1.0f), bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f),
                       bv_params_get(&ps, "flow.flows.0.pre.weight"), bv_params_get(&ps, "flow.flows.2.post.weight"),
                       bv_params_get(&ps, "flow.flows.4.enc.in_layers.1.weight_v"),
                       bv_params_get(&ps, "flow.flows.4.enc.cond_layer.bias")};
    int n = (int)(sizeof in / sizeof in[0]);
    for (int i = 0; i < n; i++) BV_CHECK(in[i] != NULL, "gradcheck input %d missing", i);
    for (int rev = 0; rev < 2 && !ts->failed; rev++) {
        fd_case f = {&b, mask, rev};
        bv_gradcheck(ts, rev ? "ResidualCouplingBlock reverse" : "ResidualCouplingBlock forward", block_fn, n, in, &f,
                     1e-3, 1e-3, 1e-2, 20);
    }
    block_free(&b);
    bv_params_free(&ps);
}

BV_TEST(flow_blocks_transformer_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    block b = make_block(ts, &ps, 1);
    bv_tensor *mask = bv_test_mask(ctx, 2, 5, (int64_t[]){5, 3});
    bv_tensor *in[] = {bv_test_input(ctx, BV_SHAPE(2, 4, 5), 1.0f), bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f),
                       bv_params_get(&ps, "flow.flows.2.post.bias"),
                       bv_params_get(&ps, "flow.flows.0.enc.spk_emb_linear.weight")};
    int n = (int)(sizeof in / sizeof in[0]);
    for (int i = 0; i < n; i++) BV_CHECK(in[i] != NULL, "gradcheck input %d missing", i);
    for (int rev = 0; rev < 2 && !ts->failed; rev++) {
        fd_case f = {&b, mask, rev};
        bv_gradcheck(ts, rev ? "TransformerCouplingBlock reverse" : "TransformerCouplingBlock forward", block_fn, n, in,
                     &f, 1e-3, 1e-3, 1e-2, 12);
    }
    block_free(&b);
    bv_params_free(&ps);
}

BV_TEST(flow_blocks_param_names) {
    bv_params ps;
    bv_params_init(&ps);
    bv_residual_coupling_block *rb = bv_residual_coupling_block_new(&ps, "flow.", &RES);
    /* couplings at the even ModuleList slots, Flips (no parameters) at the odd ones */
    int per_flow = ps.n / RES.n_flows;
    BV_CHECK(ps.n == per_flow * RES.n_flows, "%d parameters for %d flows", ps.n, RES.n_flows);
    char want[128];
    for (int i = 0; i < RES.n_flows && !ts->failed; i++) {
        snprintf(want, sizeof want, "flow.flows.%d.pre.weight", 2 * i);
        BV_CHECK(!strcmp(ps.items[i * per_flow]->name, want), "%s, want %s", ps.items[i * per_flow]->name, want);
        snprintf(want, sizeof want, "flow.flows.%d.post.bias", 2 * i);
        BV_CHECK(!strcmp(ps.items[(i + 1) * per_flow - 1]->name, want), "%s, want %s",
                 ps.items[(i + 1) * per_flow - 1]->name, want);
    }
    /* mean_only: post outputs C/2 channels */
    bv_tensor *post = bv_params_get(&ps, "flow.flows.0.post.weight");
    BV_CHECK(post && post->shape[0] == RES.channels / 2, "post.weight must be [C/2, H, 1] (mean_only)");
    BV_CHECK(bv_params_get(&ps, "flow.flows.0.enc.cond_layer.weight_v") != NULL, "WN cond_layer missing");
    bv_residual_coupling_block_free(rb);
    bv_params_free(&ps);

    bv_params_init(&ps);
    bv_transformer_coupling_block *tb = bv_transformer_coupling_block_new(&ps, "flow.", &TRF);
    BV_CHECK(!strcmp(ps.items[0]->name, "flow.flows.0.pre.weight"), "%s", ps.items[0]->name);
    BV_CHECK(!strcmp(ps.items[ps.n - 1]->name, "flow.flows.2.post.bias"), "%s", ps.items[ps.n - 1]->name);
    post = bv_params_get(&ps, "flow.flows.2.post.weight");
    BV_CHECK(post && post->shape[0] == TRF.channels / 2, "post.weight must be [C/2, H, 1] (mean_only)");
    bv_transformer_coupling_block_free(tb);
    bv_params_free(&ps);
}

static void check_shape_errors(bv_test_state *ts, int transformer) {
    bv_ctx *ctx = ts->ctx;
    const char *name = transformer ? "TransformerCouplingBlock" : "ResidualCouplingBlock";
    bv_params ps;
    block b = make_block(ts, &ps, transformer);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 4, 6), 1.0f);
    bv_tensor *mask = bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4});
    bv_tensor *cond = bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f);
    char msg[512];
    bv_tensor *bad_x = bv_test_input(ctx, BV_SHAPE(2, 6, 6), 1.0f);
    int raised = BV_EXPECT_ERROR(ctx, msg, block_forward(ctx, &b, bad_x, mask, cond, 0));
    BV_CHECK(raised && strstr(msg, name) && strstr(msg, "[2, 6, 6]") && strstr(msg, "[B, 4, T]"),
             "%s: x with 6 channels must raise: %s", name, msg);
    bv_tensor *bad_mask = bv_test_mask(ctx, 2, 5, (int64_t[]){5, 4});
    raised = BV_EXPECT_ERROR(ctx, msg, block_forward(ctx, &b, x, bad_mask, cond, 1));
    BV_CHECK(raised && strstr(msg, name) && strstr(msg, "[2, 1, 5]") && strstr(msg, "[2, 4, 6]"),
             "%s: x_mask [2, 1, 5] must raise: %s", name, msg);
    bv_tensor *bad_g = bv_test_input(ctx, BV_SHAPE(2, 3, 1), 1.0f);
    raised = BV_EXPECT_ERROR(ctx, msg, block_forward(ctx, &b, x, mask, bad_g, 0));
    BV_CHECK(raised && strstr(msg, name) && strstr(msg, "[2, 3, 1]") && strstr(msg, "[2, 4, 6]"),
             "%s: g [2, 3, 1] must raise: %s", name, msg);
    block_free(&b);
    bv_params_free(&ps);
}

BV_TEST(flow_blocks_shape_errors) {
    check_shape_errors(ts, 0);
    check_shape_errors(ts, 1);
    char err[256];
    bv_transformer_coupling_block_cfg t = TRF;
    t.share_parameter = 1;
    BV_CHECK(bv_transformer_coupling_block_cfg_check(&t, err, sizeof err) != 0 && strstr(err, "share_parameter"),
             "share_parameter: %s", err);
    t = TRF;
    t.n_layers = 2; /* gin_channels > 0 needs cond_layer_idx 2 < n_layers */
    BV_CHECK(bv_transformer_coupling_block_cfg_check(&t, err, sizeof err) != 0 && strstr(err, "n_layers"),
             "n_layers 2: %s", err);
    t = TRF;
    t.channels = 5;
    BV_CHECK(bv_transformer_coupling_block_cfg_check(&t, err, sizeof err) != 0 && strstr(err, "channels"),
             "odd channels: %s", err);
    bv_residual_coupling_block_cfg r = RES;
    r.n_flows = 0;
    BV_CHECK(bv_residual_coupling_block_cfg_check(&r, err, sizeof err) != 0 && strstr(err, "n_flows"), "n_flows 0: %s",
             err);
    r = RES;
    r.kernel_size = 2;
    BV_CHECK(bv_residual_coupling_block_cfg_check(&r, err, sizeof err) != 0 && strstr(err, "kernel"), "even kernel: %s",
             err);
}

