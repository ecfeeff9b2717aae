/* test_posterior_encoder.c - models.PosteriorEncoder (src/model/posterior_encoder.c): golden case
 * B02 with upstream's randn_like draw replayed (outputs, input and parameter grads), the
 * reparameterisation z = (m + eps * exp(logs)) * mask against the context's own draw, finite
 * differences with a fixed draw, parameter names, and input shape errors. */
#include <string.h>

#include "../src/model/posterior_encoder.h"
#include "../src/ops/ops.h"
#include "golden.h"

BV_GOLDEN_TEST(posterior_encoder_golden_B02_posterior_encoder) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "B02_posterior_encoder");
    if (!g) return;
    bv_posterior_encoder_cfg cfg = {
        .in_channels = (int)bv_golden_cfg_int(g, "in_channels"),
        .out_channels = (int)bv_golden_cfg_int(g, "out_channels"),
        .hidden_channels = (int)bv_golden_cfg_int(g, "hidden_channels"),
        .kernel_size = (int)bv_golden_cfg_int(g, "kernel_size"),
        .dilation_rate = (int)bv_golden_cfg_int(g, "dilation_rate"),
        .n_layers = (int)bv_golden_cfg_int(g, "n_layers"),
        .gin_channels = (int)bv_golden_cfg_int_or(g, "gin_channels", 0),
    };
    char err[256];
    BV_CHECK(bv_posterior_encoder_cfg_check(&cfg, err, sizeof err) == 0, "config: %s", err);
    if (ts->failed) {
        bv_golden_close(g);
        return;
    }
    bv_params ps;
    bv_params_init(&ps);
    bv_posterior_encoder *enc = bv_posterior_encoder_new(&ps, "", &cfg);
    bv_golden_load_params(g, &ps, "param.");
    bv_golden_replay_noise(g); /* the randn_like of models.py PosteriorEncoder.forward */
    bv_tensor *x = bv_golden_input(g, "in.x");                                        // [B, in, T]
    bv_tensor *x_lengths = bv_golden_tensor(g, "in.x_lengths");                       // [B] I64
    bv_tensor *cond = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL;   // [B, gin, 1]
    if (x && x_lengths) {
        bv_tensor *m_q, *logs_q, *x_mask;
        bv_tensor *z = bv_posterior_encoder_forward(ctx, enc, x, x_lengths, cond, 1, &m_q, &logs_q, &x_mask);
        bv_golden_output(g, "z", z);            // [B, out, T]
        bv_golden_output(g, "m", m_q);          // [B, out, T]
        bv_golden_output(g, "logs", logs_q);    // [B, out, T]
        bv_golden_output(g, "x_mask", x_mask);  // [B, 1, T]
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    } else {
        BV_CHECK(0, "B02 inputs missing");
    }
    bv_posterior_encoder_free(enc);
    bv_params_free(&ps);
    bv_golden_close(g);
}

/* ---- unit tests on a small random module ---- */

static const bv_posterior_encoder_cfg SMALL = {.in_channels = 5, .out_channels = 2, .hidden_channels = 4,
                                               .kernel_size = 3, .dilation_rate = 2, .n_layers = 2,
                                               .gin_channels = 3};

static bv_posterior_encoder *small_encoder(bv_test_state *ts, bv_params *ps) {
    bv_params_init(ps);
    bv_posterior_encoder *enc = bv_posterior_encoder_new(ps, "enc_q.", &SMALL);
    bv_posterior_encoder_reset_parameters(enc, &ts->ctx->rng);
    /* default init gives logs near 0; spread proj so exp(logs) matters in the checks */
    for (int64_t i = 0; i < enc->proj.weight->numel; i++) enc->proj.weight->data[i] *= 1.5f;
    return enc;
}

static bv_tensor *lengths(bv_ctx *ctx, int64_t B, int64_t T) {
    bv_tensor *l = bv_new(ctx, BV_I64, BV_SHAPE(B));
    for (int64_t b = 0; b < B; b++) l->idata[b] = T - 3 * b;
    return l;
}

/* z must be (m + eps * exp(logs)) * mask with eps the context's next randn draw. */
BV_TEST(posterior_encoder_reparameterisation) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_posterior_encoder *enc = small_encoder(ts, &ps);
    const int64_t B = 2, T = 7, O = SMALL.out_channels;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(B, SMALL.in_channels, T), 1.0f);
    bv_tensor *cond = bv_test_input(ctx, BV_SHAPE(B, SMALL.gin_channels, 1), 1.0f);
    bv_tensor *len = lengths(ctx, B, T);
    bv_rng saved = ctx->rng;
    bv_tensor *m_q, *logs_q, *mask;
    bv_tensor *z = bv_posterior_encoder_forward(ctx, enc, x, len, cond, 0, &m_q, &logs_q, &mask);
    bv_rng after = ctx->rng;
    ctx->rng = saved;
    bv_tensor *eps = bv_randn(ctx, BV_SHAPE(B, O, T));
    BV_CHECK(!memcmp(after.s, ctx->rng.s, sizeof after.s) && after.has_spare == ctx->rng.has_spare,
             "the forward must draw exactly one randn_like(m)");
    double worst = 0, pad = 0, spread = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < O; c++)
            for (int64_t t = 0; t < T; t++) {
                int64_t i = (b * O + c) * T + t;
                float mk = mask->data[b * T + t];
                BV_CHECK(mk == (t < len->idata[b] ? 1.0f : 0.0f), "x_mask[%lld, 0, %lld]", (long long)b, (long long)t);
                float want = (m_q->data[i] + eps->data[i] * expf(logs_q->data[i])) * mk;
                worst = fmax(worst, fabs(z->data[i] - want) / fmax(1.0, fabs(want))); /* expf vs the exp op: ulps */
                if (mk == 0.0f) pad = fmax(pad, fabs(m_q->data[i]) + fabs(logs_q->data[i]) + fabs(z->data[i]));
                else spread = fmax(spread, fabs(logs_q->data[i]));
            }
    BV_CHECK(worst < 1e-5, "z differs from (m + eps * exp(logs)) * mask by %g (relative)", worst);
    BV_CHECK(pad == 0.0, "outputs on padded frames are not zero: %g", pad);
    BV_CHECK(spread > 0.05, "logs too small to test exp(logs): %g", spread);
    bv_posterior_encoder_free(enc);
    bv_params_free(&ps);
}

typedef struct {
    const bv_posterior_encoder *enc;
    bv_tensor *len;
} fd_case;

/* [B, 3 * out * T]: z, m, logs side by side; the draw is fixed by a private seed so every
 * evaluation of the finite differences sees the same eps (the caller's rng is left untouched). */
static bv_tensor *pe_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    fd_case *f = user;
    bv_rng saved = ctx->rng;
    bv_rng_seed(&ctx->rng, 4242);
    bv_tensor *m_q, *logs_q;
    bv_tensor *z = bv_posterior_encoder_forward(ctx, f->enc, in[0], f->len, in[1], 0, &m_q, &logs_q, NULL);
    ctx->rng = saved;
    int64_t B = z->shape[0];
    bv_tensor *parts[3] = {bv_reshape(ctx, z, BV_SHAPE(B, -1)), bv_reshape(ctx, m_q, BV_SHAPE(B, -1)),
                           bv_reshape(ctx, logs_q, BV_SHAPE(B, -1))};
    return bv_concat(ctx, 3, parts, 1);
}

BV_TEST(posterior_encoder_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_posterior_encoder *enc = small_encoder(ts, &ps);
    fd_case f = {enc, lengths(ctx, 2, 6)};
    bv_tensor *in[] = {bv_test_input(ctx, BV_SHAPE(2, SMALL.in_channels, 6), 1.0f),
                       bv_test_input(ctx, BV_SHAPE(2, SMALL.gin_channels, 1), 1.0f),
                       bv_params_get(&ps, "enc_q.pre.weight"),
                       bv_params_get(&ps, "enc_q.enc.in_layers.1.weight_v"),
                       bv_params_get(&ps, "enc_q.enc.cond_layer.weight_g"),
                       bv_params_get(&ps, "enc_q.proj.weight"),
                       bv_params_get(&ps, "enc_q.proj.bias")};
    int n = (int)(sizeof in / sizeof in[0]);
    for (int i = 0; i < n; i++) BV_CHECK(in[i] != NULL, "gradcheck input %d missing", i);
    if (!ts->failed) bv_gradcheck(ts, "PosteriorEncoder", pe_fn, n, in, &f, 3e-3, 1e-3, 1e-2, 20);
    bv_posterior_encoder_free(enc);
    bv_params_free(&ps);
}

BV_TEST(posterior_encoder_param_names) {
    bv_params ps;
    bv_params_init(&ps);
    bv_posterior_encoder *enc = bv_posterior_encoder_new(&ps, "enc_q.", &SMALL);
    static const char *want[] = {
        "enc_q.pre.weight", "enc_q.pre.bias",
        "enc_q.enc.in_layers.0.bias", "enc_q.enc.in_layers.0.weight_g", "enc_q.enc.in_layers.0.weight_v",
        "enc_q.enc.in_layers.1.bias", "enc_q.enc.in_layers.1.weight_g", "enc_q.enc.in_layers.1.weight_v",
        "enc_q.enc.res_skip_layers.0.bias", "enc_q.enc.res_skip_layers.0.weight_g",
        "enc_q.enc.res_skip_layers.0.weight_v", "enc_q.enc.res_skip_layers.1.bias",
        "enc_q.enc.res_skip_layers.1.weight_g", "enc_q.enc.res_skip_layers.1.weight_v",
        "enc_q.enc.cond_layer.bias", "enc_q.enc.cond_layer.weight_g", "enc_q.enc.cond_layer.weight_v",
        "enc_q.proj.weight", "enc_q.proj.bias"};
    int n = (int)(sizeof want / sizeof want[0]);
    BV_CHECK(ps.n == n, "%d parameters, want %d", ps.n, n);
    for (int i = 0; i < n && i < ps.n; i++)
        BV_CHECK(!strcmp(ps.items[i]->name, want[i]), "param %d: %s, want %s", i, ps.items[i]->name, want[i]);
    BV_CHECK(enc->pre.weight->shape[0] == 4 && enc->pre.weight->shape[1] == 5, "pre.weight shape");
    BV_CHECK(enc->proj.weight->shape[0] == 4 && enc->proj.weight->shape[1] == 4, "proj.weight shape");
    bv_posterior_encoder_free(enc);
    bv_params_free(&ps);
}

BV_TEST(posterior_encoder_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_posterior_encoder *enc = small_encoder(ts, &ps);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, SMALL.in_channels, 6), 1.0f);
    bv_tensor *len = lengths(ctx, 2, 6);
    bv_tensor *cond = bv_test_input(ctx, BV_SHAPE(2, SMALL.gin_channels, 1), 1.0f);
    char msg[512];
    bv_tensor *bad_x = bv_test_input(ctx, BV_SHAPE(2, 4, 6), 1.0f);
    int raised =
        BV_EXPECT_ERROR(ctx, msg, bv_posterior_encoder_forward(ctx, enc, bad_x, len, cond, 0, NULL, NULL, NULL));
    BV_CHECK(raised && strstr(msg, "PosteriorEncoder") && strstr(msg, "[2, 4, 6]") && strstr(msg, "[B, 5, T]"),
             "x with 4 channels must raise: %s", msg);
    bv_tensor *bad_len = lengths(ctx, 3, 6);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_posterior_encoder_forward(ctx, enc, x, bad_len, cond, 0, NULL, NULL, NULL));
    BV_CHECK(raised && strstr(msg, "PosteriorEncoder") && strstr(msg, "[3]") && strstr(msg, "[2, 5, 6]"),
             "x_lengths [3] must raise: %s", msg);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_posterior_encoder_forward(ctx, enc, x, bv_to_f32(ctx, len), cond, 0, NULL,
                                                                    NULL, NULL));
    BV_CHECK(raised && strstr(msg, "PosteriorEncoder") && strstr(msg, "I64"), "f32 x_lengths must raise: %s", msg);
    bv_tensor *bad_g = bv_test_input(ctx, BV_SHAPE(1, SMALL.gin_channels, 1), 1.0f);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_posterior_encoder_forward(ctx, enc, x, len, bad_g, 0, NULL, NULL, NULL));
    BV_CHECK(raised && strstr(msg, "PosteriorEncoder") && strstr(msg, "[1, 3, 1]") && strstr(msg, "[2, 5, 6]"),
             "g [1, 3, 1] must raise: %s", msg);
    bv_posterior_encoder_free(enc);
    bv_params_free(&ps);

    char err[256];
    bv_posterior_encoder_cfg c = SMALL;
    c.kernel_size = 4;
    BV_CHECK(bv_posterior_encoder_cfg_check(&c, err, sizeof err) != 0 && strstr(err, "kernel_size"),
             "even kernel: %s", err);
    c = SMALL;
    c.n_layers = 0;
    BV_CHECK(bv_posterior_encoder_cfg_check(&c, err, sizeof err) != 0 && strstr(err, "n_layers"),
             "n_layers 0: %s", err);
}
