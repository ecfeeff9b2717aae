/* test_resample.c - bv_resample: the sinc kernel against its closed form, the sgemm path against a
 * direct double convolution, finite-difference gradients, identity/shape errors, and golden
 * C06_resample_44100_16000 (kernel buffer, output, input gradient). */
#include <string.h>

#include "../src/ops/ops.h"
#include "../src/ops/resample.h"
#include "golden.h"

/* Windowed sinc tap of phase j (of n) at offset k - width (of o), torchaudio's definition. Its
 * phase -j/n is a float32 value (int64 arange / int -> default dtype): the kernel is that
 * sensitive to it (~1e-5 at 16000 -> 22050), so the closed form uses it too. */
static double sinc_tap(int j, int k, int o, int n, int width) {
    const double lpw = 6, base = (o < n ? o : n) * 0.99;
    double t = ((double)(-(float)j / (float)n) + (double)(k - width) / o) * base;
    if (t < -lpw) t = -lpw;
    if (t > lpw) t = lpw;
    double win = pow(cos(t * M_PI / (2 * lpw)), 2), s = t == 0 ? 1 : sin(M_PI * t) / (M_PI * t);
    return s * win * base / o;
}

BV_TEST(resample_kernel_closed_form) {
    static const int rates[][2] = {{3, 2}, {2, 3}, {44100, 16000}, {16000, 22050}};
    for (int r = 0; r < 4; r++) {
        int orig = rates[r][0], nw = rates[r][1], g = 0, width = 0, K = 0;
        const float *k = bv_resample_kernel(ts->ctx->be, orig, nw, &g, &width, &K);
        BV_CHECK(k != NULL, "%d -> %d: no kernel", orig, nw);
        if (!k) continue;
        int o = orig / g, n = nw / g;
        double base = (o < n ? o : n) * 0.99;
        BV_CHECK(width == (int)ceil(6 * o / base) && K == 2 * width + o, "%d -> %d: width %d K %d", orig, nw, width, K);
        double worst = 0;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < K; i++) {
                double e = fabs(k[j * K + i] - sinc_tap(j, i, o, n, width));
                if (e > worst) worst = e;
            }
        BV_CHECK(worst < 1e-6, "%d -> %d: kernel max err %g", orig, nw, worst);
        BV_CHECK(bv_resample_kernel(ts->ctx->be, orig, nw, NULL, NULL, NULL) == k, "kernel must be cached");
    }
    BV_CHECK(bv_resample_kernel(ts->ctx->be, 5, 5, NULL, NULL, NULL) == NULL &&
                 bv_resample_kernel(ts->ctx->be, 0, 5, NULL, NULL, NULL) == NULL,
             "equal or non-positive rates have no kernel");
}

/* y[b, f*n + j] = sum_k kernel[j, k] x[b, f*o + k - width], kept for f*n + j < ceil(n*T/o). */
static void check_direct(bv_test_state *ts, int orig, int nw, int64_t B, int64_t T) {
    bv_ctx *ctx = ts->ctx;
    int g, width, K;
    const float *k = bv_resample_kernel(ts->ctx->be, orig, nw, &g, &width, &K);
    const int64_t o = orig / g, n = nw / g, T_out = (n * T + o - 1) / o;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(B, T), 1.0f);
    bv_tensor *y = bv_resample(ctx, x, orig, nw);
    BV_CHECK(y->ndim == 2 && y->shape[0] == B && y->shape[1] == T_out, "%d -> %d T %lld: got %lld samples", orig, nw,
             (long long)T, (long long)y->shape[1]);
    if (y->shape[1] != T_out) return;
    double worst = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T_out; t++) {
            int64_t f = t / n, j = t % n;
            double acc = 0;
            for (int64_t i = 0; i < K; i++) {
                int64_t s = f * o + i - width;
                if (s >= 0 && s < T) acc += (double)k[j * K + i] * x->data[b * T + s];
            }
            double e = fabs(acc - y->data[b * T_out + t]);
            if (e > worst) worst = e;
        }
    BV_CHECK(worst < 1e-5, "%d -> %d T %lld: max err %g vs direct convolution", orig, nw, (long long)T, worst);
}

BV_TEST(resample_matches_direct_convolution) {
    check_direct(ts, 3, 2, 2, 31);
    check_direct(ts, 2, 3, 1, 20);
    check_direct(ts, 44100, 16000, 2, 1000);
    check_direct(ts, 44100, 16000, 1, 7); /* shorter than one kernel */
}

typedef struct {
    int orig, nw;
} rs_args;

static bv_tensor *rs_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    const rs_args *a = user;
    return bv_resample(ctx, in[0], a->orig, a->nw);
}

BV_TEST(resample_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    rs_args a1 = {3, 2}, a2 = {44100, 16000}, a3 = {2, 3};
    bv_tensor *x1 = bv_test_input(ctx, BV_SHAPE(2, 23), 1.0f);
    bv_gradcheck(ts, "resample 3->2", rs_fn, 1, &x1, &a1, 1e-3, 1e-3, 1e-2, 46);
    bv_tensor *x2 = bv_test_input(ctx, BV_SHAPE(1, 900), 1.0f);
    bv_gradcheck(ts, "resample 44100->16000", rs_fn, 1, &x2, &a2, 1e-3, 1e-3, 1e-2, 40);
    bv_tensor *x3 = bv_test_input(ctx, BV_SHAPE(2, 11), 1.0f);
    bv_gradcheck(ts, "resample 2->3", rs_fn, 1, &x3, &a3, 1e-3, 1e-3, 1e-2, 22);
}

BV_TEST(resample_identity_and_errors) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(1, 10), 1.0f);
    BV_CHECK(bv_resample(ctx, x, 16000, 16000) == x, "equal rates return the input as torchaudio does");
    char msg[512];
    bv_tensor *x1 = bv_zeros(ctx, BV_F32, BV_SHAPE(10));
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_resample(ctx, x1, 3, 2));
    BV_CHECK(raised && strstr(msg, "resample") && strstr(msg, "[10]"), "1-d x: %s", msg);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_resample(ctx, x, 0, 2));
    BV_CHECK(raised && strstr(msg, "resample") && strstr(msg, "0 -> 2"), "zero rate: %s", msg);
    bv_tensor *xi = bv_zeros(ctx, BV_I64, BV_SHAPE(1, 10));
    raised = BV_EXPECT_ERROR(ctx, msg, bv_resample(ctx, xi, 3, 2));
    BV_CHECK(raised && strstr(msg, "resample") && strstr(msg, "i64"), "i64 x: %s", msg);
}

BV_GOLDEN_TEST(C06_resample_44100_16000) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "C06_resample_44100_16000");
    if (!g) return;
    int orig = (int)bv_golden_cfg_int(g, "orig_freq"), nw = (int)bv_golden_cfg_int(g, "new_freq");
    int gcd = 0, width = 0, K = 0;
    const float *kern = bv_resample_kernel(ts->ctx->be, orig, nw, &gcd, &width, &K);
    BV_CHECK(kern != NULL, "no kernel for %d -> %d", orig, nw);
    if (!kern) {
        bv_golden_close(g);
        return;
    }
    BV_CHECK(gcd == bv_golden_cfg_int(g, "gcd") && width == bv_golden_cfg_int(g, "width"), "gcd %d width %d", gcd,
             width);
    if (bv_golden_has(g, "buf.kernel")) {
        bv_tensor *kt = bv_from_f32(ctx, BV_SHAPE(nw / gcd, 1, K), kern); // [new/g, 1, 2*width + orig/g]
        bv_golden_check(g, "buf.kernel", kt);
    }
    bv_tensor *x = bv_golden_input(g, "in.waveform");
    bv_tensor *y = bv_resample(ctx, x, orig, nw);
    bv_golden_output(g, "resampled", y);
    bv_golden_backward(g);
    bv_golden_check_grads(g, NULL, "param.");
    bv_golden_close(g);
}
