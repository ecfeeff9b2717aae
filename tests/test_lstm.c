/* test_lstm.c - bv_lstm: finite-difference gradients of y, h_n and c_n (uni- and bidirectional),
 * shape errors, and the A25_lstm_bidir golden case (nn.LSTM as DurationDiscriminator uses it). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../src/ops/ops.h"
#include "golden.h"
#include "test.h"

typedef struct {
    int bidir;
    int which; /* 0: y, 1: h_n, 2: c_n */
} lstm_case;

static bv_tensor *lstm_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    const lstm_case *c = user;
    bv_tensor *y, *hn, *cn;
    bv_lstm(ctx, in[0], in + 1, c->bidir, &y, &hn, &cn);
    return c->which == 0 ? y : c->which == 1 ? hn : cn;
}

static void lstm_gradcheck(bv_test_state *ts, int bidir) {
    bv_ctx *ctx = ts->ctx;
    const int64_t B = 2, T = 4, In = 3, H = 3;
    bv_tensor *in[9];
    in[0] = bv_test_input(ctx, BV_SHAPE(B, T, In), 1.0f); // x [B, T, I]
    for (int d = 0; d < (bidir ? 2 : 1); d++) {
        in[1 + 4 * d] = bv_test_input(ctx, BV_SHAPE(4 * H, In), 0.6f); // weight_ih_l0 [4H, I]
        in[2 + 4 * d] = bv_test_input(ctx, BV_SHAPE(4 * H, H), 0.6f);  // weight_hh_l0 [4H, H]
        in[3 + 4 * d] = bv_test_input(ctx, BV_SHAPE(4 * H), 0.3f);     // bias_ih_l0 [4H]
        in[4 + 4 * d] = bv_test_input(ctx, BV_SHAPE(4 * H), 0.3f);     // bias_hh_l0 [4H]
    }
    const char *what[3] = {"lstm y", "lstm h_n", "lstm c_n"};
    for (int k = 0; k < 3; k++) {
        lstm_case c = {bidir, k};
        bv_gradcheck(ts, what[k], lstm_fn, bidir ? 9 : 5, in, &c, 1e-3, 1e-3, 1e-2, 64);
    }
}

BV_TEST(lstm_gradcheck_bidirectional) { lstm_gradcheck(ts, 1); }
BV_TEST(lstm_gradcheck_unidirectional) { lstm_gradcheck(ts, 0); }

/* Without grad no node is recorded and the outputs do not require grad. */
BV_TEST(lstm_no_grad_records_nothing) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *w[4] = {bv_test_input(ctx, BV_SHAPE(8, 3), 0.5f), bv_test_input(ctx, BV_SHAPE(8, 2), 0.5f),
                       bv_test_input(ctx, BV_SHAPE(8), 0.5f), bv_test_input(ctx, BV_SHAPE(8), 0.5f)};
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(1, 5, 3), 1.0f), *y, *hn, *cn;
    bv_no_grad_begin(ctx);
    bv_lstm(ctx, x, w, 0, &y, &hn, &cn);
    bv_no_grad_end(ctx);
    BV_CHECK(ctx->tape_len == 0 && !y->requires_grad, "no_grad must record nothing");
    BV_CHECK(y->shape[2] == 2 && hn->shape[0] == 1 && cn->shape[2] == 2, "shapes");
    /* h_n is the last y step, forward direction */
    BV_CHECK(memcmp(hn->data, y->data + 4 * 2, 2 * sizeof(float)) == 0, "h_n must equal y[:, -1]");
}

BV_TEST(lstm_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *w[4] = {bv_test_input(ctx, BV_SHAPE(8, 3), 0.5f), bv_test_input(ctx, BV_SHAPE(8, 2), 0.5f),
                       bv_test_input(ctx, BV_SHAPE(8), 0.5f), bv_test_input(ctx, BV_SHAPE(8), 0.5f)};
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 5, 4), 1.0f), *y, *hn, *cn;
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_lstm(ctx, x, w, 0, &y, &hn, &cn));
    BV_CHECK(raised && strstr(msg, "lstm") && strstr(msg, "[8, 3]") && strstr(msg, "[2, 5, 4]"),
             "input size mismatch must name the op and both shapes: %s", msg);
    bv_tensor *x2 = bv_test_input(ctx, BV_SHAPE(2, 5, 3), 1.0f);
    w[3] = bv_test_input(ctx, BV_SHAPE(7), 0.5f);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_lstm(ctx, x2, w, 0, &y, &hn, &cn));
    BV_CHECK(raised && strstr(msg, "lstm") && strstr(msg, "bias_hh_l0") && strstr(msg, "[7]") &&
                 strstr(msg, "[2, 5, 3]"),
             "bias mismatch must name the op and both shapes: %s", msg);
    bv_tensor *x3 = bv_test_input(ctx, BV_SHAPE(5, 3), 1.0f);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_lstm(ctx, x3, w, 0, &y, &hn, &cn));
    BV_CHECK(raised && strstr(msg, "lstm") && strstr(msg, "[5, 3]"), "2-d x must be rejected: %s", msg);
}

BV_GOLDEN_TEST(golden_A25_lstm_bidir) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "A25_lstm_bidir");
    if (!g) return;
    const int64_t In = bv_golden_cfg_int(g, "input_size"), H = bv_golden_cfg_int(g, "hidden_size");
    const int bidir = cJSON_IsTrue(cJSON_GetObjectItem(bv_golden_config(g), "bidirectional"));
    BV_CHECK(bv_golden_cfg_int(g, "num_layers") == 1, "only one layer is supported");
    bv_params ps;
    bv_params_init(&ps);
    bv_tensor *w[8];
    for (int d = 0; d < (bidir ? 2 : 1); d++) {
        const char *sfx = d ? "_reverse" : "";
        w[4 * d + 0] = bv_params_addf(&ps, BV_SHAPE(4 * H, In), "weight_ih_l0%s", sfx); // [4H, I]
        w[4 * d + 1] = bv_params_addf(&ps, BV_SHAPE(4 * H, H), "weight_hh_l0%s", sfx);  // [4H, H]
        w[4 * d + 2] = bv_params_addf(&ps, BV_SHAPE(4 * H), "bias_ih_l0%s", sfx);       // [4H]
        w[4 * d + 3] = bv_params_addf(&ps, BV_SHAPE(4 * H), "bias_hh_l0%s", sfx);       // [4H]
    }
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x"); // [B, T, I]
    if (x) {
        bv_tensor *y, *hn, *cn;
        bv_lstm(ctx, x, w, bidir, &y, &hn, &cn);
        bv_golden_output(g, "y", y);
        bv_golden_output(g, "h_n", hn);
        bv_golden_output(g, "c_n", cn);
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    }
    bv_golden_close(g);
    bv_params_free(&ps);
}

/* y, h_n, c_n and every gradient of one bidirectional layer into host copies (threads: OpenMP's). */
static void lstm_run(bv_ctx *ctx, bv_tensor *const *src, bv_tensor *const *gouts, int threads, float **out, int64_t *n) {
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    bv_tensor *in[9];
    for (int i = 0; i < 9; i++) { /* fresh leaves with src's values: grads of their own */
        in[i] = bv_test_input(ctx, src[i]->ndim, src[i]->shape, 1.0f);
        memcpy(in[i]->data, src[i]->data, sizeof(float) * (size_t)src[i]->numel);
    }
    bv_tensor *y, *hn, *cn;
    bv_lstm(ctx, in[0], in + 1, 1, &y, &hn, &cn);
    bv_tensor *outs[3] = {y, hn, cn};
    bv_backward_multi(ctx, 3, outs, (const bv_tensor *const *)gouts);
    omp_set_num_threads(saved);
    const bv_tensor *all[12] = {y, hn, cn};
    for (int i = 0; i < 9; i++) all[3 + i] = in[i];
    for (int i = 0; i < 12; i++) {
        n[i] = all[i]->numel;
        out[i] = malloc(sizeof(float) * (size_t)n[i]);
        memcpy(out[i], i < 3 ? all[i]->data : all[i]->grad, sizeof(float) * (size_t)n[i]);
    }
}

/* The two directions' recurrences run side by side on two threads (cpu/lstm.c) and in turn on one:
 * the same outputs and gradients (to the last bits the products' blocking may move). */
BV_TEST(lstm_directions_side_by_side_match_in_turn) {
    bv_ctx *ctx = ts->ctx;
    const int64_t B = 2, T = 37, In = 24, H = 32;
    bv_tensor *src[9];
    src[0] = bv_test_input(ctx, BV_SHAPE(B, T, In), 1.0f);
    for (int d = 0; d < 2; d++) {
        src[1 + 4 * d] = bv_test_input(ctx, BV_SHAPE(4 * H, In), 0.3f);
        src[2 + 4 * d] = bv_test_input(ctx, BV_SHAPE(4 * H, H), 0.3f);
        src[3 + 4 * d] = bv_test_input(ctx, BV_SHAPE(4 * H), 0.3f);
        src[4 + 4 * d] = bv_test_input(ctx, BV_SHAPE(4 * H), 0.3f);
    }
    bv_tensor *gouts[3] = {bv_test_input(ctx, BV_SHAPE(B, T, 2 * H), 1.0f), bv_test_input(ctx, BV_SHAPE(2, B, H), 1.0f),
                           bv_test_input(ctx, BV_SHAPE(2, B, H), 1.0f)}; /* d y, d h_n, d c_n */
    float *a[12], *b[12];
    int64_t n[12];
    lstm_run(ctx, src, gouts, 1, a, n);
    lstm_run(ctx, src, gouts, 2, b, n);
    static const char *names[12] = {"y", "h_n", "c_n", "dx", "dW_ih", "dW_hh", "db_ih", "db_hh",
                                    "dW_ih_reverse", "dW_hh_reverse", "db_ih_reverse", "db_hh_reverse"};
    for (int i = 0; i < 12; i++) {
        double worst = 0, scale = 1e-30;
        for (int64_t j = 0; j < n[i]; j++) {
            double d = fabs((double)a[i][j] - b[i][j]);
            worst = d > worst ? d : worst;
            scale = fabs(a[i][j]) > scale ? fabs(a[i][j]) : scale;
        }
        BV_CHECK(worst <= 1e-5 * scale, "%s: 1 vs 2 threads differ by %g (max %g)", names[i], worst, scale);
        free(a[i]);
        free(b[i]);
    }
}
