/* test_infer_fast.c - the synthesis fast path against the tape-free reference path it replaces:
 * bv_conv1d_post_op (conv / transposed conv with oneDNN post-ops, src/ops/conv.c) against the
 * separate ops, bv_generator_infer (weights folded once, blocked stages, fused resblocks,
 * src/model/generator.c) against bv_generator_forward under no_grad, for ResBlock "1" and "2",
 * with and without g, whole and chunked, and the errors of the fused op. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../src/io/tensor_import.h"
#include "../src/model/generator.h"
#include "../src/ops/conv_ref.h"
#include "../src/ops/dispatch.h"
#include "test.h"

/* max |a - b| over max(|b|, floor): the relative difference at the tensor's scale */
static double rel_diff(const bv_tensor *a, const bv_tensor *b, double floor) {
    double m = floor, worst = 0;
    for (int64_t i = 0; i < b->numel; i++) {
        m = fabs(b->data[i]) > m ? fabs(b->data[i]) : m;
        double d = fabs((double)a->data[i] - b->data[i]);
        worst = d > worst || d != d ? d : worst;
    }
    return worst / m;
}

static int blocked_here(bv_ctx *ctx) { return bv_conv_layout_for(ctx->be, 32) == BV_CONV_LAYOUT_BLOCKED; }

/* Every post-op combination the Generator uses, plain, blocked and channels-last (nwc), against
 * the separate ops: ((conv + b) + r + y_old) / d, then leaky_relu. */
enum { LAY_PLAIN, LAY_BLOCKED, LAY_NWC };
static bv_tensor *to_lay(bv_ctx *ctx, bv_tensor *t, int lay) {
    return lay == LAY_BLOCKED ? bv_conv_block(ctx, t) : lay == LAY_NWC ? bv_transpose(ctx, t, 1, 2) : bv_copy(ctx, t);
}
static bv_tensor *from_lay(bv_ctx *ctx, bv_tensor *t, int lay) {
    return lay == LAY_BLOCKED ? bv_conv_unblock(ctx, t) : lay == LAY_NWC ? bv_transpose(ctx, t, 1, 2) : t;
}

BV_TEST(infer_fast_conv_post_ops_match_separate_ops) {
    bv_ctx *ctx = ts->ctx;
    bv_no_grad_begin(ctx);
    const int C = 32, T = 57, K = 5, dil = 3, pad = (K * dil - dil) / 2;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, C, T), 1.0f), *w = bv_test_input(ctx, BV_SHAPE(C, C, K), 0.2f);
    bv_tensor *b = bv_test_input(ctx, BV_SHAPE(C), 0.1f), *r = bv_test_input(ctx, BV_SHAPE(2, C, T), 1.0f);
    bv_tensor *old = bv_test_input(ctx, BV_SHAPE(2, C, T), 1.0f);
    for (int lay = LAY_PLAIN; lay <= LAY_NWC; lay++) {
        if (lay == LAY_BLOCKED && !blocked_here(ctx)) continue;
        for (int combo = 0; combo < 16; combo++) {
            const int res = combo & 1, acc = (combo >> 1) & 1, div = (combo >> 2) & 1, lr = (combo >> 3) & 1;
            bv_tensor *want = bv_conv1d(ctx, x, w, b, 1, pad, dil, 1);
            if (res) want = bv_add(ctx, want, r);
            if (acc) want = bv_add(ctx, old, want);
            if (div) want = bv_div(ctx, want, bv_scalar(ctx, 3.0f));
            if (lr) want = bv_leaky_relu(ctx, want, 0.1f);
            bv_tensor *y = acc ? to_lay(ctx, old, lay) : NULL;
            y = bv_conv1d_post_op(ctx, y, to_lay(ctx, x, lay), w, b,
                                  &(bv_conv1d_post){.blocked = lay == LAY_BLOCKED, .nwc = lay == LAY_NWC,
                                                    .padding = pad, .dilation = dil,
                                                    .residual = res ? to_lay(ctx, r, lay) : NULL, .accumulate = acc,
                                                    .divisor = div ? 3.0f : 0.0f, .lrelu = lr, .slope = 0.1f});
            y = from_lay(ctx, y, lay);
            double d = rel_diff(y, want, 1e-3);
            BV_CHECK(bv_same_shape(y, want) && d <= 1e-6, "layout %d residual %d accumulate %d divide %d lrelu %d: "
                     "relative difference %g", lay, res, acc, div, lr, d);
        }
    }
    /* the transposed conv (ups): w [Cin, Cout, K], stride 4 */
    bv_tensor *wt = bv_test_input(ctx, BV_SHAPE(C, 16, 8), 0.2f), *bt = bv_test_input(ctx, BV_SHAPE(16), 0.1f);
    bv_tensor *want = bv_conv_transpose1d(ctx, x, wt, bt, 4, 2, 0, 1, 1);
    for (int lay = LAY_PLAIN; lay <= LAY_NWC; lay++) {
        if (lay == LAY_BLOCKED && !blocked_here(ctx)) continue;
        bv_tensor *y = bv_conv1d_post_op(ctx, NULL, to_lay(ctx, x, lay), wt, bt,
                                         &(bv_conv1d_post){.blocked = lay == LAY_BLOCKED, .nwc = lay == LAY_NWC,
                                                           .transposed = 1, .stride = 4, .padding = 2});
        y = from_lay(ctx, y, lay);
        double d = rel_diff(y, want, 1e-3);
        BV_CHECK(bv_same_shape(y, want) && d <= 1e-6, "transposed, layout %d: relative difference %g", lay, d);
    }
    /* nwc takes channels no layout block divides (24), and not together with .blocked */
    bv_tensor *x24 = bv_test_input(ctx, BV_SHAPE(1, 9, 24), 1.0f), *w24 = bv_test_input(ctx, BV_SHAPE(24, 24, 3), 0.2f);
    want = bv_transpose(ctx, bv_conv1d(ctx, bv_transpose(ctx, x24, 1, 2), w24, NULL, 1, 1, 1, 1), 1, 2);
    bv_tensor *y24 = bv_conv1d_post_op(ctx, NULL, x24, w24, NULL, &(bv_conv1d_post){.nwc = 1, .padding = 1});
    double d = rel_diff(y24, want, 1e-3);
    BV_CHECK(bv_same_shape(y24, want) && d <= 1e-6, "nwc, 24 channels: relative difference %g", d);
    char msg[512];
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_post_op(ctx, NULL, x24, w24, NULL,
                                                             &(bv_conv1d_post){.nwc = 1, .blocked = 1, .padding = 1}));
    BV_CHECK(raised && strstr(msg, "exclusive"), "nwc with blocked: %s", raised ? msg : "no error");
    bv_no_grad_end(ctx);
}

BV_TEST(infer_fast_conv_post_op_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(1, 16, 9), 1.0f), *w = bv_test_input(ctx, BV_SHAPE(16, 16, 3), 0.2f);
    x->requires_grad = true;
    const struct {
        int y_shape, accumulate, lrelu;
        const char *want;
    } cases[] = {{0, 0, 0, "inference only"}, {0, 1, 0, "accumulate needs an output"},
                 {1, 0, 0, "does not have the conv's output shape"}, {0, 0, 1, "slope"}};
    for (int i = 0; i < 4; i++) {
        x->requires_grad = i == 0;
        if (i > 0) bv_no_grad_begin(ctx);
        bv_tensor *y = cases[i].y_shape ? bv_zeros(ctx, BV_F32, BV_SHAPE(1, 16, 5)) : NULL;
        int raised = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_post_op(ctx, y, x, w, NULL,
                                                                 &(bv_conv1d_post){.padding = 1,
                                                                                   .accumulate = cases[i].accumulate,
                                                                                   .lrelu = cases[i].lrelu}));
        if (i > 0) bv_no_grad_end(ctx);
        BV_CHECK(raised && strstr(msg, cases[i].want), "case %d: expected \"%s\", got %s", i, cases[i].want,
                 raised ? msg : "no error");
    }
    x->requires_grad = false;
}

/* 64 -> 32 -> 16 channels (every stage blocked), rates 4 and 2, three kernel sizes. */
static bv_generator_cfg small_cfg(int resblock, int gin) {
    bv_generator_cfg c = {.initial_channel = 8, .resblock = resblock, .n_kernels = 3,
                          .resblock_kernel_sizes = {3, 7, 11}, .resblock_dilation_sizes = {{1, 3, 5}, {1, 3, 5}, {1, 3, 5}},
                          .n_upsamples = 2, .upsample_rates = {4, 2}, .upsample_kernel_sizes = {8, 4},
                          .upsample_initial_channel = 64, .gin_channels = gin};
    return c;
}

/* The fused path equals the reference path (bv_generator_forward, no grad) to fp32 rounding, in both
 * of its fp32 forms: channel-blocked (BV_INFER_NWC=0; where oneDNN blocks channels by 16) and
 * channels-last (BV_INFER_NWC=1; with pieces of 32 rows, so that the convs run in pieces, one run
 * per thread, as the long ones of real utterances do). */
static void generator_matches_reference(bv_test_state *ts, const char *form) {
    bv_ctx *ctx = ts->ctx;
    for (int kind = 1; kind <= 2; kind++)
        for (int with_g = 0; with_g <= 1; with_g++) {
            bv_params ps;
            bv_params_init(&ps);
            bv_generator_cfg cfg = small_cfg(kind, with_g ? 4 : 0);
            bv_generator *gen = bv_generator_new(&ps, "dec.", &cfg);
            bv_generator_reset_parameters(gen, &ctx->rng);
            bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 8, 40), 1.0f);
            bv_tensor *gc = with_g ? bv_test_input(ctx, BV_SHAPE(2, 4, 1), 1.0f) : NULL;
            bv_no_grad_begin(ctx);
            bv_tensor *want = bv_generator_forward(ctx, gen, x, gc);
            BV_CHECK(!bv_generator_infer_supported(ctx, gen), "%s: supported before folding", form);
            bv_generator_fold(ctx, gen);
            BV_CHECK(bv_generator_infer_supported(ctx, gen), "%s: not supported after folding", form);
            bv_tensor *got = bv_generator_infer(ctx, gen, x, gc);
            double d = rel_diff(got, want, 1e-3);
            BV_CHECK(bv_same_shape(got, want) && d <= 1e-5, "%s, resblock %d, g %d: relative difference %g", form, kind,
                     with_g, d);
            /* chunked: each chunk through the fused path */
            bv_tensor *part = bv_generator_forward_chunked(ctx, gen, x, gc, 16);
            d = rel_diff(part, want, 1e-3);
            BV_CHECK(bv_same_shape(part, want) && d <= 1e-5, "%s, resblock %d, g %d, chunked: relative difference %g",
                     form, kind, with_g, d);
            /* refolding after a parameter change follows it */
            bv_tensor *v = bv_params_get(&ps, "dec.ups.1.weight_v");
            for (int64_t i = 0; i < v->numel; i++) v->data[i] *= -1.0f;
            bv_tensor *want2 = bv_generator_forward(ctx, gen, x, gc);
            bv_generator_fold(ctx, gen);
            d = rel_diff(bv_generator_infer(ctx, gen, x, gc), want2, 1e-3);
            BV_CHECK(d <= 1e-5, "%s, resblock %d, g %d, refolded: relative difference %g", form, kind, with_g, d);
            bv_no_grad_end(ctx);
            bv_generator_free(gen);
            bv_params_free(&ps);
        }
}

BV_TEST(infer_fast_generator_matches_reference) {
    bv_ctx *ctx = ts->ctx;
    const char *saved = getenv("BV_INFER_NWC");
    char keep[16] = "";
    if (saved) snprintf(keep, sizeof keep, "%s", saved);
    setenv("BV_INFER_NWC", "1", 1);
    bv_conv_set_nwc_piece(ctx->be, 32);
    generator_matches_reference(ts, "channels-last");
    bv_backend_shutdown(ctx->be); /* the default piece length again */
    setenv("BV_INFER_NWC", "0", 1);
    if (blocked_here(ctx)) generator_matches_reference(ts, "blocked");
    else printf("  (blocked form not run: oneDNN does not block channels by 16 on this CPU)\n");
    if (saved) setenv("BV_INFER_NWC", keep, 1);
    else unsetenv("BV_INFER_NWC");
}

/* The post-op conv under bf16 autocast (kept for a bf16 fused path; the Generator takes the ops path
 * under bf16, see bv_generator_infer_supported): it follows bf16 conv + separate ops to bf16 accuracy,
 * differs from fp32, and a combination oneDNN 2.6 has only a reference bf16 kernel for (leaky_relu
 * after a dilated kernel-11 conv) runs the fp32 kernel on bf16-rounded inputs instead. */
BV_TEST(infer_fast_conv_post_op_bf16) {
    bv_ctx *ctx = ts->ctx;
    char why[256];
    if (bv_backend_bf16_check(ctx->be, why, sizeof why)) {
        bv_test_skip(ts, why);
        return;
    }
    bv_no_grad_begin(ctx);
    const int C = 32, T = 160, K = 11, dil = 5, pad = (K * dil - dil) / 2;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, C, T), 1.0f), *w = bv_test_input(ctx, BV_SHAPE(C, C, K), 0.2f);
    bv_tensor *b = bv_test_input(ctx, BV_SHAPE(C), 0.1f), *r = bv_test_input(ctx, BV_SHAPE(2, C, T), 1.0f);
    for (int blk = 0; blk <= blocked_here(ctx); blk++)
        for (int res = 0; res <= 1; res++) {
            bv_tensor *fp32 = bv_conv1d(ctx, x, w, b, 1, pad, dil, 1);
            ctx->autocast = BV_AUTOCAST_BF16;
            bv_tensor *want = bv_conv1d(ctx, x, w, b, 1, pad, dil, 1);
            if (res) want = bv_add(ctx, want, r), fp32 = bv_add(ctx, fp32, r);
            want = bv_leaky_relu(ctx, want, 0.1f);
            fp32 = bv_leaky_relu(ctx, fp32, 0.1f);
            bv_tensor *xi = blk ? bv_conv_block(ctx, x) : x, *ri = blk ? bv_conv_block(ctx, r) : r;
            bv_tensor *y = bv_conv1d_post_op(ctx, NULL, xi, w, b,
                                             &(bv_conv1d_post){.blocked = blk, .padding = pad, .dilation = dil,
                                                               .residual = res ? ri : NULL, .lrelu = 1, .slope = 0.1f});
            ctx->autocast = BV_AUTOCAST_OFF;
            if (blk) y = bv_conv_unblock(ctx, y);
            double d = rel_diff(y, want, 1e-3), d32 = rel_diff(y, fp32, 1e-3);
            BV_CHECK(bv_same_shape(y, want) && d <= 1e-5, "blocked %d residual %d: vs bf16 conv + ops %g", blk, res, d);
            BV_CHECK(d32 > 1e-6 && d32 <= 2e-2, "blocked %d residual %d: vs fp32 %g (must show bf16 ran)", blk, res, d32);
        }
    bv_no_grad_end(ctx);
}

/* Under bf16 autocast bv_generator_infer runs channels-last (bv_generator_infer_supported needs no
 * channel multiple there). It against the ops path under the same autocast (bv_generator_forward:
 * every conv reads bf16-rounded x and w, fp32 accumulation and outputs): the products are the same
 * bf16 x bf16 -> fp32 ones, only the fp32 rounding order differs (post-ops, in-place sums), and an
 * fp32 difference that moves a value across a bf16 rounding boundary changes that input by one bf16
 * ulp (2^-8 relative) in the next conv; over the network's ~14 convs deep such flips stay a small
 * fraction of the bf16-vs-fp32 difference. Bound: 1/2 of the fp32 path's own distance from the bf16
 * ops path (and below 1e-2 relative), which also shows bf16 really ran: a nwc path that computed in
 * fp32 would sit d32 from the ops path. How many flips there are depends on how differently the two
 * paths' kernels order their sums, which is the CPU's: with AMX both run oneDNN's brgconv and the
 * four cases here measured <= 1/4 of d32; on AVX512_BF16 without AMX (AMD Zen 4) the ops path's ncw
 * convs run oneDNN's direct jit_bf16 kernels against brgconv for nwc, and they measured 0.006-0.41
 * of d32 (BV_TEST_VERBOSE=1 prints them). At upstream's dimensions (512 -> 16 channels, 24 frames;
 * too slow for this suite; Xeon with AMX) the rms relative differences were: ops path vs fp32 0.455%,
 * nwc vs fp32 0.454%, nwc vs ops path 0.33% (0.054% with the transposed convs left as
 * deconvolutions: their phase form sums every output in another order, so more bf16 flips). */
BV_TEST(infer_fast_generator_bf16_nwc_matches_ops_path) {
    bv_ctx *ctx = ts->ctx;
    char why[256];
    if (bv_backend_bf16_check(ctx->be, why, sizeof why)) {
        bv_test_skip(ts, why);
        return;
    }
    for (int kind = 1; kind <= 2; kind++)
        for (int with_g = 0; with_g <= 1; with_g++) {
            bv_params ps;
            bv_params_init(&ps);
            bv_generator_cfg cfg = small_cfg(kind, with_g ? 4 : 0);
            cfg.upsample_initial_channel = 48; /* 48 -> 24 -> 12: nwc takes channels blocked layouts cannot */
            bv_generator *gen = bv_generator_new(&ps, "dec.", &cfg);
            bv_generator_reset_parameters(gen, &ctx->rng);
            bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 8, 40), 1.0f);
            bv_tensor *gc = with_g ? bv_test_input(ctx, BV_SHAPE(2, 4, 1), 1.0f) : NULL;
            bv_no_grad_begin(ctx);
            bv_tensor *fp32 = bv_generator_forward(ctx, gen, x, gc);
            ctx->autocast = BV_AUTOCAST_BF16;
            bv_tensor *want = bv_generator_forward(ctx, gen, x, gc);
            bv_generator_fold(ctx, gen);
            BV_CHECK(bv_generator_infer_supported(ctx, gen), "bf16 nwc path not supported after folding");
            bv_conv_set_nwc_piece(ctx->be, 32); /* the late stages' convs in pieces, as real lengths run */
            bv_tensor *got = bv_generator_infer(ctx, gen, x, gc);
            bv_tensor *part = bv_generator_forward_chunked(ctx, gen, x, gc, 16);
            bv_backend_shutdown(ctx->be); /* the default piece length again */
            ctx->autocast = BV_AUTOCAST_OFF;
            BV_CHECK(bv_generator_infer_supported(ctx, gen) == bv_conv_infer_nwc(ctx->be),
                     "fp32 fused path for 48 channels: %s (only its channels-last form takes them)",
                     bv_generator_infer_supported(ctx, gen) ? "claimed" : "refused");
            const double d32 = rel_diff(fp32, want, 1e-3), d = rel_diff(got, want, 1e-3),
                         dc = rel_diff(part, want, 1e-3), dg32 = rel_diff(got, fp32, 1e-3);
            /* and no further from fp32 than the ops path (up to the flips above) */
            BV_CHECK(dg32 <= 1.25 * d32, "resblock %d, g %d: nwc vs fp32 %g, ops path vs fp32 %g", kind, with_g, dg32,
                     d32);
            BV_CHECK(d32 > 1e-4, "resblock %d, g %d: bf16 ops path vs fp32 only %g apart", kind, with_g, d32);
            BV_CHECK(bv_same_shape(got, want) && d <= d32 / 2 && d <= 1e-2,
                     "resblock %d, g %d: nwc vs ops path %g (fp32 vs ops path %g)", kind, with_g, d, d32);
            BV_CHECK(bv_same_shape(part, want) && dc <= d32 / 2 && dc <= 1e-2,
                     "resblock %d, g %d, chunked: nwc vs ops path %g (fp32 vs ops path %g)", kind, with_g, dc, d32);
            if (getenv("BV_TEST_VERBOSE"))
                printf("resblock %d, g %d: nwc vs bf16 ops path %.3g, chunked %.3g, fp32 vs bf16 ops path %.3g\n", kind,
                       with_g, d, dc, d32);
            bv_no_grad_end(ctx);
            bv_generator_free(gen);
            bv_params_free(&ps);
        }
}

/* The bf16 synthesis path's input/output options: .in_slope (the conv reads leaky_relu(x)) in fp32
 * and bf16, and a .dst_bf16 conv feeding a .src_bf16 one, against the separate ops under the same
 * autocast (the same bf16 values reach every product: equal to fp32 rounding of the sums), for a
 * kernel-3 conv and the dilated kernel-11 one oneDNN 2.6 runs on its fp32 kernel (emulated bf16);
 * and the errors of the options. */
BV_TEST(infer_fast_conv_post_op_bf16_buffers) {
    bv_ctx *ctx = ts->ctx;
    bv_no_grad_begin(ctx);
    const int C = 32, T = 160;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, C, T), 1.0f), *b = bv_test_input(ctx, BV_SHAPE(C), 0.1f);
    bv_tensor *xn = bv_transpose(ctx, x, 1, 2); // [2, T, C]
    const float sl = 0.1f;
    /* fp32: conv(lrelu(x)) */
    bv_tensor *w3 = bv_test_input(ctx, BV_SHAPE(C, C, 3), 0.2f);
    bv_tensor *want = bv_conv1d(ctx, bv_leaky_relu(ctx, x, sl), w3, b, 1, 1, 1, 1);
    bv_tensor *y = bv_conv1d_post_op(ctx, NULL, xn, w3, b, &(bv_conv1d_post){.nwc = 1, .padding = 1, .in_slope = sl});
    double d = rel_diff(bv_transpose(ctx, y, 1, 2), want, 1e-3);
    BV_CHECK(d <= 1e-6, "fp32 in_slope: relative difference %g", d);
    char why[256], msg[512];
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_post_op(ctx, NULL, xn, w3, b,
                                                             &(bv_conv1d_post){.nwc = 1, .padding = 1, .src_bf16 = 1}));
    BV_CHECK(raised && strstr(msg, "autocast"), "src_bf16 in fp32: %s", raised ? msg : "no error");
    if (bv_backend_bf16_check(ctx->be, why, sizeof why)) {
        bv_test_skip(ts, "%s", why);
        bv_no_grad_end(ctx);
        return;
    }
    for (int kk = 0; kk < 2; kk++) {
        const int K = kk ? 11 : 3, dil = kk ? 5 : 1, pad = (K * dil - dil) / 2;
        bv_tensor *wa = bv_test_input(ctx, BV_SHAPE(C, C, K), 0.2f), *wb = bv_test_input(ctx, BV_SHAPE(C, C, K), 0.2f);
        ctx->autocast = BV_AUTOCAST_BF16;
        bv_tensor *h = bv_leaky_relu(ctx, bv_conv1d(ctx, bv_leaky_relu(ctx, x, sl), wa, b, 1, pad, dil, 1), sl);
        want = bv_conv1d(ctx, h, wb, b, 1, pad, dil, 1);
        bv_tensor *a = bv_new(ctx, BV_F32, BV_SHAPE(2, T, C)); // holds bf16
        bv_conv1d_post_op(ctx, a, xn, wa, b,
                          &(bv_conv1d_post){.nwc = 1, .padding = pad, .dilation = dil, .in_slope = sl, .dst_bf16 = 1,
                                            .lrelu = 1, .slope = sl});
        y = bv_conv1d_post_op(ctx, NULL, a, wb, b,
                              &(bv_conv1d_post){.nwc = 1, .padding = pad, .dilation = dil, .src_bf16 = 1});
        ctx->autocast = BV_AUTOCAST_OFF;
        d = rel_diff(bv_transpose(ctx, y, 1, 2), want, 1e-3);
        /* the first conv's fp32 sums may round to the other side of a bf16 value than the ops
         * path's: such an input then differs by one bf16 ulp (2^-8 relative) */
        BV_CHECK(d <= 2e-3, "kernel %d: bf16 chain vs bf16 ops: relative difference %g", K, d);
        if (getenv("BV_TEST_VERBOSE")) printf("kernel %d: bf16 chain vs bf16 ops %.3g\n", K, d);
    }
    ctx->autocast = BV_AUTOCAST_BF16;
    raised = BV_EXPECT_ERROR(ctx, msg, bv_conv1d_post_op(ctx, y, xn, w3, b,
                                                         &(bv_conv1d_post){.nwc = 1, .padding = 1, .dst_bf16 = 1,
                                                                           .accumulate = 1}));
    ctx->autocast = BV_AUTOCAST_OFF;
    BV_CHECK(raised && strstr(msg, "no residual"), "dst_bf16 with accumulate: %s", raised ? msg : "no error");
    bv_no_grad_end(ctx);
}

/* The bf16 synthesis path's long channels-last convs run in pieces of fixed length (cpu/conv.c
 * post_pieces), so that one primitive serves every utterance length. Pieces of 32 rows, then 8, over
 * lengths of 203, 150 and 61 rows (full pieces of both sizes and a partial last one), with every
 * option the Generator uses: the result equals the whole conv's, and the three lengths share the
 * same two primitives (whole convs would make three). */
/* Elements of a and b (bf16 values, widened) one bf16 ulp apart (flips: the same fp32 sum rounded
 * to the other neighbour after another summation order), and further apart (beyond). */
static void bf16_flips(const bv_tensor *a, const bv_tensor *b, int64_t *flips, int64_t *beyond) {
    for (int64_t i = 0; i < a->numel; i++) {
        const float x = a->data[i], y = b->data[i];
        if (x == y) continue;
        const float ulp = ldexpf(1.0f, ilogbf(fmaxf(fabsf(x), fabsf(y))) - 7); /* bf16: 8 significant bits */
        if (fabsf(x - y) <= ulp) ++*flips;
        else ++*beyond;
    }
}

static bv_tensor *widen_bf16(bv_ctx *ctx, bv_tensor *t) { /* bf16 values in the first half of t's buffer */
    bv_tensor *f = bv_new(ctx, BV_F32, t->ndim, t->shape);
    for (int64_t i = 0; i < f->numel; i++) ((float *)f->data)[i] = bv_bf16_to_f32(((const uint16_t *)t->data)[i]);
    return f;
}

/* Long channels-last convs run in pieces of fixed lengths (post_pieces): equal to the whole conv
 * within 1e-6 at these sizes (bf16 outputs: but for rare one-ulp flips), for every post-op option of
 * the synthesis path, in fp32 (modes 3, 4) and under bf16 autocast (0-2), over four lengths: three
 * long enough for a run of pieces per thread, sharing the same primitives (L and L / 4 rows, 2 per
 * thread), and one too short for that, whose pieces run on the whole team's 2 (one thread: every
 * length on the team's 2). */
BV_TEST(infer_fast_nwc_pieces_match_whole_convs) {
    bv_ctx *ctx = ts->ctx;
    char why[256];
    const int has_bf16 = bv_backend_bf16_check(ctx->be, why, sizeof why) == 0;
    const int C = 24, NT = 4, Ts[4] = {203, 150, 97, 13}; /* 24: no multiple of 16; pieces of 32, 8 rows */
    const int threads = omp_get_max_threads(), most = Ts[0] / 8; /* the first length: the most threads */
    const int parts = threads < 2 ? 0 : threads < most ? threads : most; /* 0: the team's pieces */
    bv_no_grad_begin(ctx);
    for (int kk = 0; kk < 2; kk++)
        for (int mode = 0; mode < 5; mode++) {
            if (mode < 3 && !has_bf16) continue;
            ctx->autocast = mode < 3 ? BV_AUTOCAST_BF16 : BV_AUTOCAST_OFF;
            const int K = kk ? 11 : 3, dil = kk ? 3 : 1, pad = (K * dil - dil) / 2;
            bv_tensor *w = bv_test_input(ctx, BV_SHAPE(C, C, K), 0.2f), *b = bv_test_input(ctx, BV_SHAPE(C), 0.1f);
            bv_tensor *in[4], *r[4], *y0[4], *want[4];
            bv_conv1d_post p = {.nwc = 1, .padding = pad, .dilation = dil};
            /* mode 0 (bf16), 3 (fp32): f32 input read through leaky_relu, + residual, / 3, leaky_relu;
             * 1: bf16 input, accumulated into y; 2: f32 input, bf16 output through leaky_relu;
             * 4: f32 input read in place, accumulated into y */
            if (mode == 1) p.src_bf16 = 1, p.accumulate = 1;
            if (mode == 2) p.dst_bf16 = 1, p.lrelu = 1, p.slope = 0.1f;
            if (mode == 4) p.accumulate = 1;
            bv_conv_set_nwc_piece(ctx->be, 0); /* the whole convs first */
            for (int li = 0; li < NT; li++) {
                const int T = Ts[li];
                in[li] = bv_test_input(ctx, BV_SHAPE(2, T, C), 1.0f);
                r[li] = bv_test_input(ctx, BV_SHAPE(2, T, C), 1.0f);
                y0[li] = bv_test_input(ctx, BV_SHAPE(2, T, C), 1.0f);
                if (mode == 1) { /* a bf16 input, as a .dst_bf16 conv writes it */
                    bv_tensor *xb = bv_new(ctx, BV_F32, BV_SHAPE(2, T, C));
                    in[li] = bv_conv1d_post_op(ctx, xb, in[li], w, b,
                                               &(bv_conv1d_post){.nwc = 1, .padding = pad, .dilation = dil, .dst_bf16 = 1});
                }
                if (mode == 0 || mode == 3)
                    p.in_slope = 0.1f, p.residual = r[li], p.divisor = 3.0f, p.lrelu = 1, p.slope = 0.1f;
                want[li] = bv_new(ctx, BV_F32, BV_SHAPE(2, T, C));
                bv_copy_at(want[li], 0, y0[li], 0, y0[li]->numel);
                bv_conv1d_post_op(ctx, want[li], in[li], w, b, &p);
            }
            bv_backend_shutdown(ctx->be); /* empty caches: count the pieced convs' primitives */
            bv_conv_set_nwc_piece(ctx->be, 32);
            double worst = 0;
            int entries1 = 0, entries3 = 0;
            int64_t flips = 0, total = 0, beyond = 0;
            for (int li = 0; li < NT; li++) {
                if (mode == 0 || mode == 3) p.residual = r[li];
                bv_tensor *got = bv_new(ctx, BV_F32, BV_SHAPE(2, Ts[li], C));
                bv_copy_at(got, 0, y0[li], 0, y0[li]->numel);
                bv_conv1d_post_op(ctx, got, in[li], w, b, &p);
                if (mode == 2) { /* bf16 outputs: the pieces' fp32 sums may round to the other neighbour */
                    bf16_flips(widen_bf16(ctx, got), widen_bf16(ctx, want[li]), &flips, &beyond);
                    total += got->numel;
                } else {
                    const double d = rel_diff(got, want[li], 1e-3);
                    worst = d > worst ? d : worst;
                }
                if (li == 0) entries1 = bv_conv_post_cache_used(ctx->be);
                if (li == 2) entries3 = bv_conv_post_cache_used(ctx->be);
            }
            const int entries = bv_conv_post_cache_used(ctx->be);
            BV_CHECK(worst <= 1e-6, "kernel %d, mode %d: pieces vs whole conv %g", K, mode, worst);
            BV_CHECK(beyond == 0 && flips * 100 <= total,
                     "kernel %d, mode %d: %lld of %lld bf16 outputs one ulp apart, %lld further (want <= 1%%, 0)", K,
                     mode, (long long)flips, (long long)total, (long long)beyond);
            const int want1 = parts ? 2 * parts : 2, want4 = parts ? want1 + 2 : 2;
            BV_CHECK(entries1 == want1 && entries3 == want1 && entries == want4,
                     "kernel %d, mode %d: %d post-op primitives after the first length, %d after three, %d after "
                     "four (want %d, %d, %d: L and L / 4 per piece thread, then the team's)", K, mode, entries1,
                     entries3, entries, want1, want1, want4);
            if (getenv("BV_TEST_VERBOSE"))
                printf("kernel %d, mode %d: pieces vs whole %.3g, bf16 flips %lld of %lld\n", K, mode, worst,
                       (long long)flips, (long long)total);
        }
    bv_backend_shutdown(ctx->be); /* the default piece length again */
    ctx->autocast = BV_AUTOCAST_OFF;
    bv_no_grad_end(ctx);
}

/* bf16 post-op convs run oneDNN's fp32 kernel on bf16-rounded inputs where bf16 computes no faster
 * than fp32 (bv_backend_bf16_note), else its bf16 kernels: the default's output is bit for bit the
 * forced choice's (BV_CONV_BF16=emulate or native), and the two differ only by fp32 summation order. */
BV_TEST(infer_fast_bf16_post_emulated_where_bf16_gains_nothing) {
    bv_ctx *ctx = ts->ctx;
    char why[256];
    if (bv_backend_bf16_check(ctx->be, why, sizeof why)) {
        bv_test_skip(ts, "%s", why);
        return;
    }
    const int emulated = bv_backend_bf16_note(ctx->be, why, sizeof why) == 1;
    const int C = 64, T = 300, K = 11;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(1, T, C), 1.0f), *w = bv_test_input(ctx, BV_SHAPE(C, C, K), 0.2f);
    bv_tensor *b = bv_test_input(ctx, BV_SHAPE(C), 0.1f), *out[3];
    const bv_conv_bf16_mode modes[3] = {BV_CONV_BF16_MEASURE, BV_CONV_BF16_EMULATE, BV_CONV_BF16_NATIVE};
    bv_no_grad_begin(ctx);
    ctx->autocast = BV_AUTOCAST_BF16;
    for (int i = 0; i < 3; i++) {
        bv_backend_shutdown(ctx->be); /* empty caches: each mode builds its own primitives */
        bv_conv_set_bf16_mode(ctx->be, modes[i]);
        out[i] = bv_conv1d_post_op(ctx, NULL, x, w, b,
                                   &(bv_conv1d_post){.nwc = 1, .padding = K / 2, .in_slope = 0.1f});
    }
    bv_backend_shutdown(ctx->be); /* the default mode again */
    ctx->autocast = BV_AUTOCAST_OFF;
    bv_no_grad_end(ctx);
    const bv_tensor *same = out[emulated ? 1 : 2];
    BV_CHECK(!memcmp(out[0]->data, same->data, sizeof(float) * (size_t)same->numel),
             "default bf16 post-op conv differs from the %s one (bf16 note: %s)", emulated ? "emulated" : "native",
             emulated ? why : "none");
    /* the same bf16 products, summed in another order: apart, by fp32 rounding only (which also shows
     * the check above can tell the two apart) */
    const double d = rel_diff(out[1], out[2], 1e-3);
    BV_CHECK(d > 0 && d <= 1e-5, "emulated vs native bf16 kernels: relative difference %g", d);
}
