/* test_stft.c - bv_spectrogram: FFTW path vs a naive double DFT (even/odd n_fft, short window),
 * finite-difference gradients, shape errors, and golden C03_spectrogram_torch. */
#include <string.h>

#include "../src/ops/ops.h"
#include "golden.h"

/* Reference |STFT| in double: reflect pad, centred periodic Hann, direct DFT. out [B, K, F]. */
static void naive_spectrogram(double *out, const float *y, int64_t B, int64_t T, int n_fft, int hop, int win) {
    const int64_t P = (n_fft - hop) / 2, F = (T + 2 * P - n_fft) / hop + 1, K = n_fft / 2 + 1;
    const int left = (n_fft - win) / 2;
    for (int64_t b = 0; b < B; b++)
        for (int64_t f = 0; f < F; f++)
            for (int64_t k = 0; k < K; k++) {
                double re = 0, im = 0;
                for (int n = 0; n < win; n++) {
                    int64_t i = f * hop + left + n - P;
                    int64_t j = i < 0 ? -i : i >= T ? 2 * (T - 1) - i : i;
                    double w = 0.5 - 0.5 * cos(2 * M_PI * n / win);
                    double a = -2 * M_PI * (double)k * (double)(left + n) / n_fft;
                    re += w * y[b * T + j] * cos(a);
                    im += w * y[b * T + j] * sin(a);
                }
                out[(b * K + k) * F + f] = sqrt(re * re + im * im + 1e-6);
            }
}

static void check_against_naive(bv_test_state *ts, int64_t B, int64_t T, int n_fft, int hop, int win) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *y = bv_test_input(ctx, BV_SHAPE(B, T), 0.5f);
    y->requires_grad = false;
    bv_tensor *S = bv_spectrogram(ctx, y, n_fft, hop, win);
    const int64_t P = (n_fft - hop) / 2, F = (T + 2 * P - n_fft) / hop + 1, K = n_fft / 2 + 1;
    BV_CHECK(S->ndim == 3 && S->shape[0] == B && S->shape[1] == K && S->shape[2] == F,
             "n_fft %d hop %d: shape [%lld, %lld, %lld]", n_fft, hop, (long long)S->shape[0], (long long)S->shape[1],
             (long long)S->shape[2]);
    if (S->numel != B * K * F) return;
    double *ref = bv_arena_alloc(&ctx->arena, sizeof(double) * (size_t)S->numel), worst = 0;
    naive_spectrogram(ref, y->data, B, T, n_fft, hop, win);
    for (int64_t i = 0; i < S->numel; i++) {
        double e = fabs(S->data[i] - ref[i]) / (1 + fabs(ref[i]));
        if (e > worst) worst = e;
    }
    BV_CHECK(worst < 2e-6, "n_fft %d hop %d win %d: max rel err %g vs double DFT", n_fft, hop, win, worst);
}

BV_TEST(stft_matches_naive_dft) {
    check_against_naive(ts, 2, 50, 16, 4, 16);
    check_against_naive(ts, 1, 37, 15, 5, 10);  /* odd n_fft: no Nyquist bin */
    check_against_naive(ts, 3, 64, 32, 8, 24);  /* window shorter than n_fft, zero padded centred */
    check_against_naive(ts, 1, 300, 64, 16, 64);
}

typedef struct {
    int n_fft, hop, win;
} stft_args;

static bv_tensor *spec_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    const stft_args *a = user;
    return bv_spectrogram(ctx, in[0], a->n_fft, a->hop, a->win);
}

/* A random signal whose every bin magnitude is >= 0.05: near |X| = 0 the 1e-6 floor bends
 * sqrt(|X|^2 + 1e-6) within one finite-difference step and the numeric slope is meaningless. */
static bv_tensor *fd_friendly_input(bv_ctx *ctx, int64_t B, int64_t T, const stft_args *a) {
    bv_tensor *y = NULL;
    for (int tries = 0; tries < 200; tries++) {
        y = bv_test_input(ctx, BV_SHAPE(B, T), 0.5f);
        bv_no_grad_begin(ctx);
        bv_tensor *S = bv_spectrogram(ctx, y, a->n_fft, a->hop, a->win);
        bv_no_grad_end(ctx);
        float lo = INFINITY;
        for (int64_t i = 0; i < S->numel; i++) lo = fminf(lo, S->data[i]);
        if (lo >= 0.05f) break;
    }
    return y;
}

BV_TEST(stft_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    stft_args a1 = {16, 4, 16}, a2 = {15, 5, 12}, a3 = {8, 2, 6};
    bv_tensor *y1 = fd_friendly_input(ctx, 2, 40, &a1);
    bv_gradcheck(ts, "spectrogram n_fft 16 hop 4", spec_fn, 1, &y1, &a1, 1e-3, 1e-3, 1e-2, 80);
    bv_tensor *y2 = fd_friendly_input(ctx, 1, 33, &a2);
    bv_gradcheck(ts, "spectrogram n_fft 15 hop 5 win 12", spec_fn, 1, &y2, &a2, 1e-3, 1e-3, 1e-2, 33);
    bv_tensor *y3 = fd_friendly_input(ctx, 2, 9, &a3); /* pad 3 of 9: most samples reflected */
    bv_gradcheck(ts, "spectrogram n_fft 8 hop 2 win 6", spec_fn, 1, &y3, &a3, 1e-3, 1e-3, 1e-2, 18);
}

BV_TEST(stft_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *y3 = bv_zeros(ctx, BV_F32, BV_SHAPE(1, 2, 64));
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_spectrogram(ctx, y3, 16, 4, 16));
    BV_CHECK(raised && strstr(msg, "spectrogram") && strstr(msg, "[1, 2, 64]"), "3-d y: %s", msg);
    bv_tensor *ys = bv_zeros(ctx, BV_F32, BV_SHAPE(1, 6)); /* reflect pad 6 needs > 6 samples */
    raised = BV_EXPECT_ERROR(ctx, msg, bv_spectrogram(ctx, ys, 16, 4, 16));
    BV_CHECK(raised && strstr(msg, "spectrogram") && strstr(msg, "[1, 6]"), "short y: %s", msg);
    bv_tensor *y = bv_zeros(ctx, BV_F32, BV_SHAPE(1, 64));
    raised = BV_EXPECT_ERROR(ctx, msg, bv_spectrogram(ctx, y, 16, 4, 32));
    BV_CHECK(raised && strstr(msg, "win_size 32"), "win > n_fft: %s", msg);
    bv_tensor *yi = bv_zeros(ctx, BV_I64, BV_SHAPE(1, 64));
    raised = BV_EXPECT_ERROR(ctx, msg, bv_spectrogram(ctx, yi, 16, 4, 16));
    BV_CHECK(raised && strstr(msg, "spectrogram") && strstr(msg, "i64"), "i64 y: %s", msg);
}

BV_GOLDEN_TEST(C03_spectrogram_torch) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "C03_spectrogram_torch");
    if (!g) return;
    int n_fft = (int)bv_golden_cfg_int(g, "n_fft"), hop = (int)bv_golden_cfg_int(g, "hop_size");
    int win = (int)bv_golden_cfg_int(g, "win_size");
    BV_CHECK(bv_golden_cfg_int_or(g, "center", 0) == 0, "only center=False is implemented");
    bv_tensor *y = bv_golden_input(g, "in.y");
    bv_tensor *spec = bv_spectrogram(ctx, y, n_fft, hop, win);
    bv_golden_output(g, "spec", spec);
    bv_golden_backward(g);          /* no differentiated outputs stored: a no-op, kept for other sets */
    bv_golden_check_grads(g, NULL, "param.");
    bv_golden_close(g);
}
