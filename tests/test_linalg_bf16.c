/* test_linalg_bf16.c - linear, matmul and the LSTM under BV_AUTOCAST_BF16 (core/ctx.h): forward and
 * backward against the fp32 ops (a bf16-sized bound), against a double product of the bf16-rounded
 * operands (a tight bound: what proves the bf16 path ran and computed the right thing), the mode
 * recorded at forward time driving the backward, and oneDNN's implementation (never "ref").
 * Every test skips, saying why, where the backend has no native bf16 (bv_backend_bf16_check). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/ops/cpu/bf16.h"
#include "../src/ops/cpu/gemm.h"
#include "../src/ops/dispatch.h"
#include "../src/ops/ops.h"
#include "test.h"

static int need_bf16(bv_test_state *ts) {
    char why[256] = "";
    if (bv_backend_bf16_check(ts->ctx->be, why, sizeof why) == 0) return 1;
    bv_test_skip(ts, "no native bf16 here: %s", why);
    return 0;
}

static float r16(float v) { return bv_bf16_to_f32_bits(bv_f32_to_bf16(v)); }

/* max |a - b| and max |b| over n */
static void diff_stats(const float *a, const float *b, int64_t n, double *dmax, double *bmax) {
    *dmax = *bmax = 0;
    for (int64_t i = 0; i < n; i++) {
        *dmax = fmax(*dmax, fabs((double)a[i] - b[i]));
        *bmax = fmax(*bmax, fabs((double)b[i]));
    }
}

/* C [M, N] = op(A) op(B) in double over bf16-rounded operands; A [M, K] (ta: stored [K, M]), B [K, N]
 * (tb: stored [N, K]). */
static void ref_gemm16(double *C, int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A, const float *B) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++)
                acc += (double)r16(ta ? A[k * M + m] : A[m * K + k]) * r16(tb ? B[n * K + k] : B[k * N + n]);
            C[m * N + n] = acc;
        }
}

/* |got - ref| <= tol * max|ref| elementwise (ref in double). */
static int close_to(bv_test_state *ts, const char *what, const float *got, const double *ref, int64_t n, double tol) {
    double dmax = 0, rmax = 0;
    for (int64_t i = 0; i < n; i++) {
        dmax = fmax(dmax, fabs(got[i] - ref[i]));
        rmax = fmax(rmax, fabs(ref[i]));
    }
    BV_CHECK(dmax <= tol * rmax, "%s: max diff %.3g vs max |ref| %.3g (tol %.1g)", what, dmax, rmax, tol);
    return dmax <= tol * rmax;
}

/* bf16 result vs fp32 result: within rel * max|fp32|, and not equal (the bf16 path ran). */
static void bf16_vs_fp32(bv_test_state *ts, const char *what, const float *b16, const float *f32, int64_t n,
                         double rel) {
    double d, m;
    diff_stats(b16, f32, n, &d, &m);
    BV_CHECK(d <= rel * m, "%s: bf16 vs fp32 max diff %.3g, max |fp32| %.3g (bound %.3g)", what, d, m, rel * m);
    BV_CHECK(d > 0, "%s: bf16 result equals the fp32 one bit for bit: the bf16 path did not run", what);
    printf("    %s: bf16 vs fp32 max diff %.3g of max %.3g (%.2g)\n", what, d, m, m > 0 ? d / m : 0);
}

static float *host_copy(bv_ctx *ctx, const float *p, int64_t n) {
    float *c = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)n);
    memcpy(c, p, sizeof(float) * (size_t)n);
    return c;
}

/* ---- linear ---- */

typedef struct {
    float *y, *gx, *gw, *gb;
} lin_out;

/* y = x W^T + b with the forward in `mode`, backward of sum(y * gy) with autocast OFF (the node's
 * recorded mode must drive it). */
static lin_out run_linear(bv_ctx *ctx, bv_autocast mode, const float *xv, const float *wv, const float *bv,
                          const float *gyv, int64_t rows, int64_t Din, int64_t Dout) {
    bv_tensor *x = bv_from_f32(ctx, BV_SHAPE(rows, Din), xv), *w = bv_from_f32(ctx, BV_SHAPE(Dout, Din), wv),
              *b = bv_from_f32(ctx, BV_SHAPE(Dout), bv), *gy = bv_from_f32(ctx, BV_SHAPE(rows, Dout), gyv);
    x->requires_grad = w->requires_grad = b->requires_grad = 1;
    ctx->autocast = mode;
    bv_tensor *y = bv_linear(ctx, x, w, b);
    ctx->autocast = BV_AUTOCAST_OFF;
    bv_backward(ctx, y, gy);
    lin_out o = {host_copy(ctx, y->data, rows * Dout), host_copy(ctx, x->grad, rows * Din),
                 host_copy(ctx, w->grad, Dout * Din), host_copy(ctx, b->grad, Dout)};
    return o;
}

static float *randn_host(bv_ctx *ctx, int64_t n, float scale) {
    bv_tensor *t = bv_new(ctx, BV_F32, BV_SHAPE(n));
    bv_test_randn(ctx, t, scale);
    return t->data;
}

BV_TEST(linalg_bf16_linear_forward_backward) {
    if (!need_bf16(ts)) return;
    bv_ctx *ctx = ts->ctx;
    const int64_t rows = 50, Din = 96, Dout = 80;
    float *x = randn_host(ctx, rows * Din, 1.0f), *w = randn_host(ctx, Dout * Din, 0.1f),
          *b = randn_host(ctx, Dout, 0.1f), *gy = randn_host(ctx, rows * Dout, 1.0f);
    lin_out f = run_linear(ctx, BV_AUTOCAST_OFF, x, w, b, gy, rows, Din, Dout);
    lin_out h = run_linear(ctx, BV_AUTOCAST_BF16, x, w, b, gy, rows, Din, Dout);
    bf16_vs_fp32(ts, "linear y", h.y, f.y, rows * Dout, 1.0 / 64);
    bf16_vs_fp32(ts, "linear dx", h.gx, f.gx, rows * Din, 1.0 / 64);
    bf16_vs_fp32(ts, "linear dW", h.gw, f.gw, Dout * Din, 1.0 / 64);
    double gbd, gbm;
    diff_stats(h.gb, f.gb, Dout, &gbd, &gbm);
    BV_CHECK(gbd <= 1e-6 * gbm, "linear db (an fp32 column sum in both modes): diff %.3g", gbd);
    /* tight: the double product of the rounded operands */
    double *ref = malloc(sizeof(double) * (size_t)(rows * Din + Dout * Din + rows * Dout));
    ref_gemm16(ref, 0, 1, rows, Dout, Din, x, w);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < Dout; o++) ref[r * Dout + o] += b[o];
    close_to(ts, "linear y vs double of bf16 operands", h.y, ref, rows * Dout, 1e-5);
    ref_gemm16(ref, 0, 0, rows, Din, Dout, gy, w);
    close_to(ts, "linear dx vs double of bf16 operands", h.gx, ref, rows * Din, 1e-5);
    ref_gemm16(ref, 1, 0, Dout, Din, rows, gy, x);
    close_to(ts, "linear dW vs double of bf16 operands", h.gw, ref, Dout * Din, 1e-5);
    free(ref);
}

/* bv_linear_keep_bf16: a frozen store's kept bf16 weights give the bits of rounding per call, in the
 * forward and in the input gradient; and they are what is read (a copy made from other values shows). */
BV_TEST(linalg_bf16_linear_kept_weights) {
    if (!need_bf16(ts)) return;
    bv_ctx *ctx = ts->ctx;
    const int64_t rows = 36, Din = 96, Dout = 80;
    bv_params ps;
    bv_params_init(&ps);
    bv_tensor *w = bv_params_add(&ps, "w", 2, (int64_t[]){Dout, Din}), *b = bv_params_add(&ps, "b", 1, (int64_t[]){Dout});
    memcpy(w->data, randn_host(ctx, Dout * Din, 0.1f), sizeof(float) * (size_t)(Dout * Din));
    memcpy(b->data, randn_host(ctx, Dout, 0.1f), sizeof(float) * (size_t)Dout);
    w->requires_grad = b->requires_grad = 0; /* frozen, as the WavLM */
    float *xv = randn_host(ctx, rows * Din, 1.0f), *gyv = randn_host(ctx, rows * Dout, 1.0f), *out[3][2];
    for (int pass = 0; pass < 3; pass++) { /* 0: rounded per call, 1: kept copies, 2: kept copies of 2 w */
        if (pass == 1) bv_linear_keep_bf16(&ps);
        if (pass == 2) {
            for (int64_t i = 0; i < w->numel; i++) w->data[i] *= 2.0f;
            bv_linear_keep_bf16(&ps);
            for (int64_t i = 0; i < w->numel; i++) w->data[i] *= 0.5f; /* data back, the copies stale */
        }
        BV_CHECK(pass == 0 ? w->bf16 == NULL && b->bf16 == NULL : w->bf16 != NULL && b->bf16 == NULL,
                 "pass %d: only the 2-d weight gets a copy", pass);
        bv_tensor *x = bv_from_f32(ctx, BV_SHAPE(rows, Din), xv);
        x->requires_grad = 1;
        ctx->autocast = BV_AUTOCAST_BF16;
        bv_tensor *y = bv_linear(ctx, x, w, b);
        ctx->autocast = BV_AUTOCAST_OFF;
        bv_backward(ctx, y, bv_from_f32(ctx, BV_SHAPE(rows, Dout), gyv));
        out[pass][0] = host_copy(ctx, y->data, rows * Dout);
        out[pass][1] = host_copy(ctx, x->grad, rows * Din);
    }
    BV_CHECK(!memcmp(out[0][0], out[1][0], sizeof(float) * (size_t)(rows * Dout)), "y: kept copy differs from per call");
    BV_CHECK(!memcmp(out[0][1], out[1][1], sizeof(float) * (size_t)(rows * Din)), "dx: kept copy differs from per call");
    for (int64_t i = 0; i < rows * Din; i++) /* 2 w: an exact doubling of the input gradient */
        if (out[2][1][i] != 2.0f * out[0][1][i]) {
            BV_CHECK(0, "dx[%lld] %g does not read the kept copy (expected %g)", (long long)i, out[2][1][i],
                     2.0f * out[0][1][i]);
            break;
        }
    BV_CHECK(memcmp(out[0][0], out[2][0], sizeof(float) * (size_t)(rows * Dout)), "y does not read the kept copy");
    bv_params_free(&ps);
}

/* ---- matmul: batched and with a shared 2-d right operand ---- */

BV_TEST(linalg_bf16_matmul_forward_backward) {
    if (!need_bf16(ts)) return;
    bv_ctx *ctx = ts->ctx;
    const int64_t Z = 6, M = 20, K = 16, N = 24;
    for (int shared = 0; shared < 2; shared++) {
        float *av = randn_host(ctx, Z * M * K, 1.0f), *bvv = randn_host(ctx, (shared ? 1 : Z) * K * N, 1.0f),
              *gv = randn_host(ctx, Z * M * N, 1.0f);
        float *res[2][3];
        for (int mode = 0; mode < 2; mode++) {
            bv_tensor *a = bv_from_f32(ctx, BV_SHAPE(2, 3, M, K), av);
            bv_tensor *b = shared ? bv_from_f32(ctx, BV_SHAPE(K, N), bvv) : bv_from_f32(ctx, BV_SHAPE(2, 3, K, N), bvv);
            bv_tensor *g = bv_from_f32(ctx, BV_SHAPE(2, 3, M, N), gv);
            a->requires_grad = b->requires_grad = 1;
            ctx->autocast = mode ? BV_AUTOCAST_BF16 : BV_AUTOCAST_OFF;
            bv_tensor *y = bv_matmul(ctx, a, b);
            ctx->autocast = BV_AUTOCAST_OFF;
            bv_backward(ctx, y, g);
            res[mode][0] = host_copy(ctx, y->data, y->numel);
            res[mode][1] = host_copy(ctx, a->grad, a->numel);
            res[mode][2] = host_copy(ctx, b->grad, b->numel);
        }
        char what[64];
        snprintf(what, sizeof what, "matmul%s y", shared ? " shared" : "");
        bf16_vs_fp32(ts, what, res[1][0], res[0][0], Z * M * N, 1.0 / 64);
        snprintf(what, sizeof what, "matmul%s da", shared ? " shared" : "");
        bf16_vs_fp32(ts, what, res[1][1], res[0][1], Z * M * K, 1.0 / 64);
        snprintf(what, sizeof what, "matmul%s db", shared ? " shared" : "");
        bf16_vs_fp32(ts, what, res[1][2], res[0][2], (shared ? 1 : Z) * K * N, 1.0 / 64);
        /* tight, per batch item: y = a b, da = g b^T, db = a^T g (summed over the batch when shared) */
        double *ref = calloc((size_t)(Z * M * (K > N ? K : N) + K * N * Z), sizeof(double));
        double *one = malloc(sizeof(double) * (size_t)(K * N > M * K ? (K * N > M * N ? K * N : M * N) : (M * K > M * N ? M * K : M * N)));
        for (int64_t z = 0; z < Z; z++) {
            const float *bz = bvv + (shared ? 0 : z * K * N);
            ref_gemm16(ref + z * M * N, 0, 0, M, N, K, av + z * M * K, bz);
        }
        close_to(ts, "matmul y vs double of bf16 operands", res[1][0], ref, Z * M * N, 1e-5);
        for (int64_t z = 0; z < Z; z++) {
            const float *bz = bvv + (shared ? 0 : z * K * N);
            ref_gemm16(ref + z * M * K, 0, 1, M, K, N, gv + z * M * N, bz);
        }
        close_to(ts, "matmul da vs double of bf16 operands", res[1][1], ref, Z * M * K, 1e-5);
        memset(ref, 0, sizeof(double) * (size_t)(Z * K * N));
        for (int64_t z = 0; z < Z; z++) {
            ref_gemm16(one, 1, 0, K, N, M, av + z * M * K, gv + z * M * N);
            double *dst = ref + (shared ? 0 : z * K * N);
            for (int64_t i = 0; i < K * N; i++) dst[i] += one[i];
        }
        close_to(ts, "matmul db vs double of bf16 operands", res[1][2], ref, (shared ? 1 : Z) * K * N, 1e-5);
        free(one);
        free(ref);
    }
}

/* ---- LSTM (bidirectional, the duration discriminator's kind) ---- */

BV_TEST(linalg_bf16_lstm_forward_backward) {
    if (!need_bf16(ts)) return;
    bv_ctx *ctx = ts->ctx;
    const int64_t B = 2, T = 7, In = 12, H = 10;
    float *xv = randn_host(ctx, B * T * In, 1.0f), *gyv = randn_host(ctx, B * T * 2 * H, 1.0f);
    float *wv[8];
    for (int i = 0; i < 8; i++) wv[i] = randn_host(ctx, (i % 4 == 0 ? 4 * H * In : i % 4 == 1 ? 4 * H * H : 4 * H), 0.3f);
    float *res[2][3];
    for (int mode = 0; mode < 2; mode++) {
        bv_tensor *x = bv_from_f32(ctx, BV_SHAPE(B, T, In), xv), *w[8];
        for (int i = 0; i < 8; i++) {
            w[i] = i % 4 == 0   ? bv_from_f32(ctx, BV_SHAPE(4 * H, In), wv[i])
                   : i % 4 == 1 ? bv_from_f32(ctx, BV_SHAPE(4 * H, H), wv[i])
                                : bv_from_f32(ctx, BV_SHAPE(4 * H), wv[i]);
            w[i]->requires_grad = 1;
        }
        x->requires_grad = 1;
        bv_tensor *y, *hn, *cn;
        ctx->autocast = mode ? BV_AUTOCAST_BF16 : BV_AUTOCAST_OFF;
        bv_lstm(ctx, x, w, 1, &y, &hn, &cn);
        ctx->autocast = BV_AUTOCAST_OFF;
        bv_backward(ctx, y, bv_from_f32(ctx, BV_SHAPE(B, T, 2 * H), gyv));
        res[mode][0] = host_copy(ctx, y->data, y->numel);
        res[mode][1] = host_copy(ctx, x->grad, x->numel);
        res[mode][2] = host_copy(ctx, w[5]->grad, w[5]->numel); /* weight_hh_l0_reverse */
    }
    bf16_vs_fp32(ts, "lstm y", res[1][0], res[0][0], B * T * 2 * H, 1.0 / 32);
    bf16_vs_fp32(ts, "lstm dx", res[1][1], res[0][1], B * T * In, 1.0 / 32);
    bf16_vs_fp32(ts, "lstm dW_hh_reverse", res[1][2], res[0][2], 4 * H * H, 1.0 / 32);
}

/* ---- the oneDNN implementation on the model's shapes: a bf16 kernel, never the reference one ---- */

BV_TEST(linalg_bf16_onednn_implementation) {
    if (!need_bf16(ts)) return;
    bv_backend *be = ts->ctx->be;
    /* WavLM linears (forward, dX, dW), attention bmm, the flow's 192-channel rows, an LSTM step */
    const bv_gemm_bf16 cases[] = {
        {.batch = 1, .M = 250, .N = 768, .K = 768, .tb = 1},
        {.batch = 1, .M = 250, .N = 3072, .K = 768, .tb = 1},
        {.batch = 1, .M = 250, .N = 768, .K = 3072},
        {.batch = 1, .M = 768, .N = 3072, .K = 250, .ta = 1},
        {.batch = 24, .M = 250, .N = 250, .K = 64},
        {.batch = 24, .M = 250, .N = 64, .K = 250, .tb = 1},
        {.batch = 4, .M = 200, .N = 200, .K = 96, .accumulate = 1},
        {.batch = 1, .M = 2, .N = 1024, .K = 256, .tb = 1, .lda = 1024, .ldc = 1024 * 50, .accumulate = 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[BV_KERNEL_ERR_LEN] = "";
        const char *impl = bv_cpu_gemm_bf16_impl(be, &cases[i], err);
        BV_CHECK(impl != NULL, "case %zu: %s", i, err);
        if (!impl) continue;
        /* brgemm ("brg:avx512_core_amx_bf16", "brg:avx512_core_bf16") for dense operands; oneDNN's jit bf16
         * gemm ("gemm:jit") where the output rows are strided */
        BV_CHECK(strncmp(impl, "ref", 3) != 0,
                 "case %zu (%lld x %lld x %lld, ta %d tb %d): oneDNN runs '%s'", i, (long long)cases[i].M,
                 (long long)cases[i].K, (long long)cases[i].N, cases[i].ta, cases[i].tb, impl);
        printf("    %lldx[%lld x %lld x %lld] ta %d tb %d acc %d: %s\n", (long long)cases[i].batch,
               (long long)cases[i].M, (long long)cases[i].K, (long long)cases[i].N, cases[i].ta, cases[i].tb,
               cases[i].accumulate, impl);
    }
}

/* ---- the same inputs give the same bits, fp32 and bf16 (sgemm and oneDNN partition work by shape and
 * thread count only), on the model's sizes: WavLM's FFN linear and the duration discriminator's LSTM ---- */

BV_TEST(linalg_products_are_deterministic) {
    bv_ctx *ctx = ts->ctx;
    const int64_t rows = 100, Din = 768, Dout = 3072, B = 2, T = 60, In = 512, H = 256;
    float *x = randn_host(ctx, rows * Din, 1.0f), *w = randn_host(ctx, Dout * Din, 0.05f);
    float *lx = randn_host(ctx, B * T * In, 1.0f), *lw[8];
    for (int i = 0; i < 8; i++) lw[i] = randn_host(ctx, i % 4 == 0 ? 4 * H * In : i % 4 == 1 ? 4 * H * H : 4 * H, 0.05f);
    char why[256];
    const int modes = bv_backend_bf16_check(ctx->be, why, sizeof why) == 0 ? 2 : 1;
    for (int mode = 0; mode < modes; mode++) {
        float *ys[2], *ls[2];
        for (int rep = 0; rep < 2; rep++) {
            ctx->autocast = mode ? BV_AUTOCAST_BF16 : BV_AUTOCAST_OFF;
            bv_tensor *y = bv_linear(ctx, bv_from_f32(ctx, BV_SHAPE(rows, Din), x), bv_from_f32(ctx, BV_SHAPE(Dout, Din), w),
                                     NULL);
            bv_tensor *w8[8], *ly, *hn, *cn;
            for (int i = 0; i < 8; i++)
                w8[i] = i % 4 == 0   ? bv_from_f32(ctx, BV_SHAPE(4 * H, In), lw[i])
                        : i % 4 == 1 ? bv_from_f32(ctx, BV_SHAPE(4 * H, H), lw[i])
                                     : bv_from_f32(ctx, BV_SHAPE(4 * H), lw[i]);
            bv_lstm(ctx, bv_from_f32(ctx, BV_SHAPE(B, T, In), lx), w8, 1, &ly, &hn, &cn);
            ctx->autocast = BV_AUTOCAST_OFF;
            ys[rep] = y->data;
            ls[rep] = ly->data;
        }
        BV_CHECK(!memcmp(ys[0], ys[1], sizeof(float) * (size_t)(rows * Dout)), "linear (%s) differs between two runs",
                 mode ? "bf16" : "fp32");
        BV_CHECK(!memcmp(ls[0], ls[1], sizeof(float) * (size_t)(B * T * 2 * H)), "lstm (%s) differs between two runs",
                 mode ? "bf16" : "fp32");
    }
}
