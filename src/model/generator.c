/* generator.c - models.Generator (HiFi-GAN decoder), module for module as upstream models.py. */
#include "generator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../ops/ops.h"

#define GEN_LRELU_DEFAULT 0.01f /* F.leaky_relu's default negative_slope, used once at the end */

int bv_generator_cfg_valid(const bv_generator_cfg *c, char *err, int cap) {
#define GEN_FAIL(...) return snprintf(err, (size_t)cap, __VA_ARGS__), 0
    if (c->initial_channel <= 0) GEN_FAIL("initial_channel %d must be positive", c->initial_channel);
    if (c->resblock != 1 && c->resblock != 2) GEN_FAIL("resblock %d must be \"1\" or \"2\"", c->resblock);
    if (c->n_kernels < 1 || c->n_kernels > BV_GEN_MAX_KERNELS)
        GEN_FAIL("resblock_kernel_sizes has %d entries, expected 1..%d", c->n_kernels, BV_GEN_MAX_KERNELS);
    if (c->n_upsamples < 1 || c->n_upsamples > BV_GEN_MAX_UPS)
        GEN_FAIL("upsample_rates has %d entries, expected 1..%d", c->n_upsamples, BV_GEN_MAX_UPS);
    for (int j = 0; j < c->n_kernels; j++) {
        /* even kernels give "same" padding one sample short: upstream fails at the residual add */
        if (c->resblock_kernel_sizes[j] <= 0 || c->resblock_kernel_sizes[j] % 2 == 0)
            GEN_FAIL("resblock_kernel_sizes[%d] = %d must be odd and positive", j, c->resblock_kernel_sizes[j]);
        for (int d = 0; d < (c->resblock == 1 ? 3 : 2); d++)
            if (c->resblock_dilation_sizes[j][d] <= 0)
                GEN_FAIL("resblock_dilation_sizes[%d][%d] = %d must be positive", j, d, c->resblock_dilation_sizes[j][d]);
    }
    for (int i = 0; i < c->n_upsamples; i++) {
        int u = c->upsample_rates[i], k = c->upsample_kernel_sizes[i];
        if (u <= 0 || k < u) GEN_FAIL("upsample stage %d: rate %d and kernel %d need 0 < rate <= kernel", i, u, k);
    }
    if ((c->upsample_initial_channel >> c->n_upsamples) < 1)
        GEN_FAIL("upsample_initial_channel %d halves to 0 channels over %d stages", c->upsample_initial_channel,
                 c->n_upsamples);
    if (c->gin_channels < 0) GEN_FAIL("gin_channels %d must be >= 0", c->gin_channels);
    return 1;
#undef GEN_FAIL
}

static void up_init(bv_gen_up *u, bv_params *ps, const char *prefix, int i, int cin, int cout, int k, int stride) {
    u->in_channels = cin;
    u->out_channels = cout;
    u->kernel_size = k;
    u->stride = stride;
    u->padding = (k - stride) / 2; /* k >= stride: C's division is Python's // here */
    /* weight_norm deletes "weight" and registers g then v after the existing bias */
    u->bias = bv_params_addf(ps, BV_SHAPE(cout), "%sups.%d.bias", prefix, i);
    u->weight_g = bv_params_addf(ps, BV_SHAPE(cin, 1, 1), "%sups.%d.weight_g", prefix, i);
    u->weight_v = bv_params_addf(ps, BV_SHAPE(cin, cout, k), "%sups.%d.weight_v", prefix, i);
}

bv_generator *bv_generator_new(bv_params *ps, const char *prefix, const bv_generator_cfg *cfg) {
    char err[256], name[512];
    if (!bv_generator_cfg_valid(cfg, err, sizeof err)) BV_FATAL("Generator: invalid config: %s", err);
    bv_generator *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    int U = cfg->upsample_initial_channel, nk = cfg->n_kernels;
    snprintf(name, sizeof name, "%sconv_pre.", prefix);
    bv_conv1d_layer_init(&m->conv_pre, ps, name,
                         &(bv_conv1d_cfg){.in_channels = cfg->initial_channel, .out_channels = U, .kernel_size = 7,
                                          .padding = 3});
    for (int i = 0; i < cfg->n_upsamples; i++)
        up_init(&m->ups[i], ps, prefix, i, U >> i, U >> (i + 1), cfg->upsample_kernel_sizes[i], cfg->upsample_rates[i]);
    int ch = U;
    for (int i = 0; i < cfg->n_upsamples; i++) {
        ch = U >> (i + 1);
        for (int j = 0; j < nk; j++) {
            snprintf(name, sizeof name, "%sresblocks.%d.", prefix, i * nk + j);
            if (cfg->resblock == 1)
                m->resblocks1[i * nk + j] =
                    bv_resblock1_new(ps, name, ch, cfg->resblock_kernel_sizes[j], cfg->resblock_dilation_sizes[j]);
            else
                m->resblocks2[i * nk + j] =
                    bv_resblock2_new(ps, name, ch, cfg->resblock_kernel_sizes[j], cfg->resblock_dilation_sizes[j]);
        }
    }
    snprintf(name, sizeof name, "%sconv_post.", prefix);
    bv_conv1d_layer_init(&m->conv_post, ps, name,
                         &(bv_conv1d_cfg){.in_channels = ch, .out_channels = 1, .kernel_size = 7, .padding = 3,
                                          .no_bias = 1});
    if (cfg->gin_channels != 0) {
        snprintf(name, sizeof name, "%scond.", prefix);
        bv_conv1d_layer_init(&m->cond, ps, name,
                             &(bv_conv1d_cfg){.in_channels = cfg->gin_channels, .out_channels = U, .kernel_size = 1});
    }
    return m;
}

void bv_generator_free(bv_generator *m) {
    if (!m) return;
    bv_generator_unfold(m);
    for (int n = 0; n < m->cfg.n_upsamples * m->cfg.n_kernels; n++) {
        bv_resblock1_free(m->resblocks1[n]);
        bv_resblock2_free(m->resblocks2[n]);
    }
    free(m);
}

/* nn.ConvTranspose1d's default init: U(-b, b), b = 1/sqrt(fan_in), fan_in = weight.size(1) * k
 * = cout * k for the transposed layout; then weight_norm's g = ||v|| per input channel. */
static void up_reset(const bv_gen_up *u, bv_rng *rng) {
    bv_tensor *v = u->weight_v; // [cin, cout, k]
    int64_t per_in = v->shape[1] * v->shape[2];
    double bound = 1.0 / sqrt((double)per_in);
    bv_init_uniform(v, rng, bound);
    bv_init_uniform(u->bias, rng, bound);
    bv_init_weight_norm_g(u->weight_g, v);
}

void bv_generator_reset_parameters(const bv_generator *m, bv_rng *rng) {
    bv_conv1d_layer_reset_parameters(&m->conv_pre, rng);
    for (int i = 0; i < m->cfg.n_upsamples; i++) up_reset(&m->ups[i], rng);
    for (int n = 0; n < m->cfg.n_upsamples * m->cfg.n_kernels; n++) {
        if (m->resblocks1[n]) bv_resblock1_reset_parameters(m->resblocks1[n], rng);
        if (m->resblocks2[n]) bv_resblock2_reset_parameters(m->resblocks2[n], rng);
    }
    bv_conv1d_layer_reset_parameters(&m->conv_post, rng);
    if (m->cfg.gin_channels != 0) bv_conv1d_layer_reset_parameters(&m->cond, rng);
}

/* weight_norm(ConvTranspose1d): x [B, cin, T] -> [B, cout, (T-1)*u - 2*pad + k] */
static bv_tensor *up_forward(bv_ctx *ctx, const bv_gen_up *u, bv_tensor *x) {
    bv_tensor *w = bv_weight_norm(ctx, u->weight_g, u->weight_v, 0); // [cin, cout, k]
    return bv_conv_transpose1d(ctx, x, w, u->bias, u->stride, u->padding, 0, 1, 1);
}

static bv_tensor *resblock_forward(bv_ctx *ctx, const bv_generator *m, int n, bv_tensor *x) {
    if (m->resblocks1[n]) return bv_resblock1_forward(ctx, m->resblocks1[n], x, NULL); // [B, ch, T]
    return bv_resblock2_forward(ctx, m->resblocks2[n], x, NULL);                        // [B, ch, T]
}

static void check_inputs(bv_ctx *ctx, const bv_generator *m, bv_tensor *x, bv_tensor *g) {
    bv_nn_check_input(ctx, "Generator", x, m->cfg.initial_channel);
    if (!g) return;
    if (m->cfg.gin_channels == 0) {
        char b[64];
        bv_ctx_error(ctx, "Generator", "g %s given but the generator was built with gin_channels 0 (no cond layer)",
                     bv_shape_str(g, b, sizeof b));
    }
    bv_nn_check_cond(ctx, "Generator", x, g, m->cfg.gin_channels);
}

bv_tensor *bv_generator_forward(bv_ctx *ctx, const bv_generator *m, bv_tensor *x, bv_tensor *g) {
    check_inputs(ctx, m, x, g);
    const int nk = m->cfg.n_kernels;
    x = bv_conv1d_layer_forward(ctx, &m->conv_pre, x);                           // [B, U, T]
    if (g) x = bv_add(ctx, x, bv_conv1d_layer_forward(ctx, &m->cond, g));       // [B, U, T]
    bv_tensor *num_kernels = bv_scalar(ctx, (float)nk);                          // [] (a true division, as upstream)
    /* Without a tape no intermediate is needed again: inference drops everything since `base`
     * except x and the running sum xs after every block, so its memory is a few stage-sized
     * buffers instead of every activation of the network. */
    const int infer = !bv_grad_enabled(ctx);
    const bv_ctx_mark base = bv_ctx_get_mark(ctx);
    for (int i = 0; i < m->cfg.n_upsamples; i++) {
        x = bv_leaky_relu(ctx, x, BV_LRELU_SLOPE);
        x = up_forward(ctx, &m->ups[i], x); // [B, U/2^(i+1), T * prod(rates[0..i])]
        /* speed only: the resblocks and the sum of their outputs run in oneDNN's channel-blocked
         * layout (no reorder around each conv), converted once here and back after the division */
        const int blk = bv_conv_layout_for(ctx->be, x->shape[1]) == BV_CONV_LAYOUT_BLOCKED;
        if (blk) x = bv_conv_block(ctx, x); // [B, ch/16, T', 16]
        if (infer) bv_ctx_keep_only(ctx, base, 1, &x);
        bv_tensor *xs = NULL;
        for (int j = 0; j < nk; j++) {
            bv_tensor *r = resblock_forward(ctx, m, i * nk + j, x);
            xs = xs ? bv_add(ctx, xs, r) : r; /* upstream: in-place "xs +=" */
            if (infer) {
                bv_tensor *keep[2] = {x, xs};
                bv_ctx_keep_only(ctx, base, 2, keep);
                x = keep[0];
                xs = keep[1];
            }
        }
        x = bv_div(ctx, xs, num_kernels);
        if (blk) x = bv_conv_unblock(ctx, x); // [B, ch, T']
        if (infer) bv_ctx_keep_only(ctx, base, 1, &x);
    }
    x = bv_leaky_relu(ctx, x, GEN_LRELU_DEFAULT);   /* upstream F.leaky_relu(x): default slope 0.01 */
    x = bv_conv1d_layer_forward(ctx, &m->conv_post, x); // [B, 1, T_wav]
    return bv_tanh(ctx, x);                             // [B, 1, T_wav]
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t bv_generator_receptive_frames(const bv_generator_cfg *cfg) {
    int64_t frames = 3, scale = 1; /* conv_pre: kernel 7 */
    for (int i = 0; i < cfg->n_upsamples; i++) {
        const int64_t k = cfg->upsample_kernel_sizes[i], u = cfg->upsample_rates[i];
        frames += ceil_div(ceil_div(k, u) + 1, scale); /* a transposed conv output sees ~k/u inputs */
        scale *= u;
        int64_t widest = 0; /* the resblocks' outputs are summed: the widest chain counts */
        for (int j = 0; j < cfg->n_kernels; j++) {
            const int64_t half = (cfg->resblock_kernel_sizes[j] - 1) / 2 + 1;
            int64_t r = 0;
            for (int d = 0; d < (cfg->resblock == 1 ? 3 : 2); d++)
                r += half * cfg->resblock_dilation_sizes[j][d] + (cfg->resblock == 1 ? half : 0);
            widest = r > widest ? r : widest;
        }
        frames += ceil_div(widest, scale);
    }
    return frames + ceil_div(4, scale) + 2; /* conv_post (kernel 7), and a margin */
}

/* ---------------- inference (see generator.h) ---------------- */

#define GEN_RB_CONVS 6 /* ResBlock1: convs1[0..2], convs2[0..2]; ResBlock2: convs[0..1] */

struct bv_generator_folded {
    bv_params ps;                                                   /* owns the folded weights */
    bv_tensor *ups[BV_GEN_MAX_UPS];                                 // [cin, cout, k]
    /* ups[i] as a stride-1 conv with u*cout outputs (phase_fold; NULL where k - u is odd): nwc only */
    bv_tensor *ups_ph[BV_GEN_MAX_UPS], *ups_ph_b[BV_GEN_MAX_UPS];  // [u*cout, cin, 2P+1], [u*cout]
    int ups_ph_pad[BV_GEN_MAX_UPS];                                 /* P */
    bv_tensor *rb[BV_GEN_MAX_UPS * BV_GEN_MAX_KERNELS][GEN_RB_CONVS]; // [C, C, k]
};

void bv_generator_unfold(bv_generator *m) {
    if (!m || !m->folded) return;
    bv_params_free(&m->folded->ps);
    free(m->folded);
    m->folded = NULL;
}

/* A copy of w (computed in ctx's arena) in the folded store. */
static bv_tensor *fold_keep(bv_generator_folded *f, bv_tensor *w, const char *name) {
    bv_tensor *t = bv_params_add(&f->ps, name, w->ndim, w->shape);
    bv_copy_at(t, 0, w, 0, w->numel);
    return t;
}

static const bv_conv1d_layer *rb_conv(const bv_generator *m, int n, int c) {
    if (m->resblocks1[n]) return c < 3 ? &m->resblocks1[n]->convs1[c] : &m->resblocks1[n]->convs2[c - 3];
    return &m->resblocks2[n]->convs[c];
}

/* A transposed conv with stride u, kernel k, padding p = (k - u) / 2 (k - u even) makes exactly u
 * outputs per input frame: out[t*u + r] = b + sum_m x[t - m] . w[:, :, m*u + r + p] over the taps
 * with 0 <= m*u + r + p < k. So it is a stride-1 conv over x with u*cout outputs (phase r, channel
 * oc at r*cout + oc), taps m in [-P, P] (zero weights where no tap), padding P; in channels-last
 * [B, T, u*cout] is the same memory as the output [B, T*u, cout]. oneDNN 2.6's AMX deconvolution
 * kernel ran these shapes at ~30 GFLOP/s on one core, its brgconv ~10x that (more taps: k = 16,
 * u = 8 gives 3 taps where 2 carry weights). Fills f->ups_ph*[i] from the folded w [cin, cout, k]. */
static void phase_fold(bv_generator_folded *f, const bv_gen_up *up, int i) {
    const int u = up->stride, k = up->kernel_size, p = up->padding, cin = up->in_channels, cout = up->out_channels;
    if ((k - u) % 2) return;
    int P = 0; /* the widest |m| with a tap, over every phase */
    for (int r = 0; r < u; r++)
        for (int kk = 0; kk < k; kk++)
            if ((kk - r - p) % u == 0) {
                const int mm = (kk - r - p) / u;
                P = mm > P ? mm : -mm > P ? -mm : P;
            }
    const int K2 = 2 * P + 1;
    char name[64];
    snprintf(name, sizeof name, "ups.%d.phase", i);
    bv_tensor *w2 = bv_params_add(&f->ps, name, BV_SHAPE(u * cout, cin, K2)); // zeros
    snprintf(name, sizeof name, "ups.%d.phase_bias", i);
    bv_tensor *b2 = bv_params_add(&f->ps, name, BV_SHAPE(u * cout));
    const float *w = f->ups[i]->data; // [cin, cout, k]
    for (int r = 0; r < u; r++)
        for (int oc = 0; oc < cout; oc++) {
            b2->data[r * cout + oc] = up->bias->data[oc];
            for (int m = -P; m <= P; m++) {
                const int kk = m * u + r + p;
                if (kk < 0 || kk >= k) continue;
                for (int ic = 0; ic < cin; ic++)
                    w2->data[((int64_t)(r * cout + oc) * cin + ic) * K2 + (P - m)] =
                        w[((int64_t)ic * cout + oc) * k + kk]; /* conv tap P - m reads x[t - m] */
            }
        }
    f->ups_ph[i] = w2;
    f->ups_ph_b[i] = b2;
    f->ups_ph_pad[i] = P;
}

void bv_generator_fold(bv_ctx *ctx, bv_generator *m) {
    bv_generator_unfold(m);
    bv_generator_folded *f = bv_xcalloc(1, sizeof *f);
    bv_params_init_on(&f->ps, ctx->be);
    const bv_ctx_mark mark = bv_ctx_get_mark(ctx);
    bv_no_grad_begin(ctx);
    char name[64];
    for (int i = 0; i < m->cfg.n_upsamples; i++) {
        snprintf(name, sizeof name, "ups.%d", i);
        f->ups[i] = fold_keep(f, bv_weight_norm(ctx, m->ups[i].weight_g, m->ups[i].weight_v, 0), name);
        phase_fold(f, &m->ups[i], i);
    }
    const int per = m->cfg.resblock == 1 ? 6 : 2;
    for (int n = 0; n < m->cfg.n_upsamples * m->cfg.n_kernels; n++)
        for (int c = 0; c < per; c++) {
            snprintf(name, sizeof name, "resblocks.%d.%d", n, c);
            f->rb[n][c] = fold_keep(f, bv_conv1d_layer_weight(ctx, rb_conv(m, n, c)), name);
        }
    bv_no_grad_end(ctx);
    bv_params_drop_grads(&f->ps);
    bv_ctx_reset_to(ctx, mark);
    m->folded = f;
}

/* BV_INFER_NWC (A/B in one build): 0 - bf16 takes the ops path, fp32 the blocked one; 1 - fp32
 * runs channels-last whatever the backend says; unset (or else) - the backend decides. */
static int env_nwc(void) {
    const char *e = getenv("BV_INFER_NWC");
    return !e ? -1 : !strcmp(e, "0") ? 0 : !strcmp(e, "1") ? 1 : -1;
}

/* Under bf16 autocast the stages run channels-last (nwc): on the channel-blocked (aBc16b) layout
 * oneDNN 2.6 picks jit_bf16 kernels, 2-3x slower than the AMX brgconv kernels it picks for nwc
 * (bv2-bench --infer --bf16, 12:32 UTC: 4.4 s vs 1.5 s), and nwc needs no channel multiple. In fp32
 * they run nwc where the backend has its fast kernels for it (bv_conv_infer_nwc: oneDNN's fp32
 * brgconv), else blocked (oneDNN's direct kernels). */
static int infer_nwc(const bv_ctx *ctx) {
    if (ctx->autocast == BV_AUTOCAST_BF16) return 1;
    const int e = env_nwc();
    return e >= 0 ? e : bv_conv_infer_nwc(ctx->be);
}

int bv_generator_infer_supported(bv_ctx *ctx, const bv_generator *m) {
    if (!m->folded) return 0;
    if (ctx->autocast == BV_AUTOCAST_BF16) return env_nwc() != 0;
    if (infer_nwc(ctx)) return 1;
    for (int i = 0; i <= m->cfg.n_upsamples; i++)
        if (bv_conv_layout_for(ctx->be, m->cfg.upsample_initial_channel >> i) != BV_CONV_LAYOUT_BLOCKED) return 0;
    return 1;
}

/* rb_infer in nwc: the residual stream y_l lives in one buffer s that each layer's last conv adds
 * into (oneDNN's sum post-op, which its brgconv kernels run; with the residual as a binary-add
 * post-op it picks its slower jit kernels): s = xs itself for the first resblock (j 0), else a copy
 * of x whose last conv goes into xs as before (residual + accumulate). Each layer's first conv reads
 * leaky_relu(s) (.in_slope: applied per piece of rows as the conv reads them, no separate pass).
 * Under bf16 no activation is stored in fp32 between convs: .in_slope converts to bf16 too, and
 * ResBlock1's first conv writes its leaky_relu'd output as bf16 (.dst_bf16), which the second reads
 * as is (.src_bf16): the values the ops path's convs read. */
static void rb_infer_nwc(bv_ctx *ctx, const bv_generator *m, int n, int j, bv_tensor *x, bv_tensor *xs, float slope) {
    const bv_generator_folded *f = m->folded;
    const int nk = m->cfg.n_kernels, rb1 = m->resblocks1[n] != NULL, layers = rb1 ? 3 : 2;
    bv_tensor *s = j == 0 ? xs : bv_new(ctx, BV_F32, x->ndim, x->shape); // [B, T, C]
    bv_copy_at(s, 0, x, 0, x->numel);
    bv_tensor *a = rb1 ? bv_new(ctx, BV_F32, x->ndim, x->shape) : NULL; // [B, T, C], bf16 values under bf16
    const int bf16 = ctx->autocast == BV_AUTOCAST_BF16;
    for (int l = 0; l < layers; l++) {
        const bv_conv1d_layer *c2 = rb_conv(m, n, rb1 ? 3 + l : l);
        if (rb1) {
            const bv_conv1d_layer *c1 = rb_conv(m, n, l);
            bv_conv1d_post_op(ctx, a, s, f->rb[n][l], c1->bias,
                              &(bv_conv1d_post){.nwc = 1, .padding = c1->cfg.padding, .dilation = c1->cfg.dilation,
                                                .in_slope = BV_LRELU_SLOPE, .dst_bf16 = bf16, .lrelu = 1,
                                                .slope = BV_LRELU_SLOPE});
        }
        const int last = l == layers - 1;
        bv_conv1d_post p = {.nwc = 1, .padding = c2->cfg.padding, .dilation = c2->cfg.dilation, .accumulate = 1};
        if (rb1) p.src_bf16 = bf16;
        else p.in_slope = BV_LRELU_SLOPE;
        if (last && j > 0) p.residual = s;
        if (last && j == nk - 1) p.divisor = (float)nk, p.lrelu = 1, p.slope = slope;
        bv_conv1d_post_op(ctx, last ? xs : s, rb1 ? a : s, f->rb[n][rb1 ? 3 + l : l], c2->bias, &p);
    }
}

/* One resblock (n) over the stage's x (blocked) and a0 = leaky_relu(x), its last conv writing
 * into xs: xs = r (first), xs + r (others); the last resblock also divides by nk and applies the
 * next leaky_relu (slope). Every layer: y_l = c2_l(lrelu(c1_l(lrelu(y_{l-1})))) + y_{l-1}
 * (ResBlock1) or c_l(lrelu(y_{l-1})) + y_{l-1} (ResBlock2), y_{-1} = x. */
static void rb_infer(bv_ctx *ctx, const bv_generator *m, int n, int j, bv_tensor *x, bv_tensor *a0, bv_tensor *xs,
                     float slope) {
    const bv_generator_folded *f = m->folded;
    const int nk = m->cfg.n_kernels, rb1 = m->resblocks1[n] != NULL, layers = rb1 ? 3 : 2;
    if (infer_nwc(ctx)) {
        rb_infer_nwc(ctx, m, n, j, x, xs, slope);
        return;
    }
    bv_tensor *y = x;
    for (int l = 0; l < layers; l++) {
        bv_tensor *a = l == 0 ? a0 : bv_leaky_relu(ctx, y, BV_LRELU_SLOPE);
        const bv_conv1d_layer *c2 = rb_conv(m, n, rb1 ? 3 + l : l);
        bv_tensor *w2 = f->rb[n][rb1 ? 3 + l : l];
        if (rb1) {
            const bv_conv1d_layer *c1 = rb_conv(m, n, l);
            a = bv_conv1d_post_op(ctx, NULL, a, f->rb[n][l], c1->bias,
                                  &(bv_conv1d_post){.blocked = 1, .padding = c1->cfg.padding,
                                                    .dilation = c1->cfg.dilation, .lrelu = 1,
                                                    .slope = BV_LRELU_SLOPE});
        }
        const int last = l == layers - 1;
        bv_conv1d_post p = {.blocked = 1, .padding = c2->cfg.padding, .dilation = c2->cfg.dilation, .residual = y};
        if (last) {
            p.accumulate = j > 0;
            if (j == nk - 1) p.divisor = (float)nk, p.lrelu = 1, p.slope = slope;
        }
        y = bv_conv1d_post_op(ctx, last ? xs : NULL, a, w2, c2->bias, &p);
    }
}

bv_tensor *bv_generator_infer(bv_ctx *ctx, const bv_generator *m, bv_tensor *x, bv_tensor *g) {
    check_inputs(ctx, m, x, g);
    if (bv_grad_enabled(ctx) || !bv_generator_infer_supported(ctx, m))
        bv_ctx_error(ctx, "Generator", "the inference path needs grad off, folded weights and, in fp32, blocked channels");
    const bv_generator_folded *f = m->folded;
    const int nk = m->cfg.n_kernels, nu = m->cfg.n_upsamples, nwc = infer_nwc(ctx);
    const bv_ctx_mark base = bv_ctx_get_mark(ctx);
    x = bv_conv1d_layer_forward(ctx, &m->conv_pre, x);                     // [B, U, T]
    if (g) x = bv_add(ctx, x, bv_conv1d_layer_forward(ctx, &m->cond, g)); // [B, U, T]
    x = bv_leaky_relu(ctx, x, BV_LRELU_SLOPE);
    x = nwc ? bv_transpose(ctx, x, 1, 2) : bv_conv_block(ctx, x); // nwc [B, T, U] or blocked [B, U/16, T, 16]
    bv_ctx_keep_only(ctx, base, 1, &x); /* small: T frames */
    /* x: the activated input of stage i. The arena holds, bottom up: the activated inputs of the
     * stages so far, xs (this stage's output), the upsampled u, a0 = lrelu(u) and one resblock's
     * temporaries (dropped after each resblock; u and a0 after the stage). */
    for (int i = 0; i < nu; i++) {
        const bv_gen_up *up = &m->ups[i];
        const int64_t B = x->shape[0], T = x->shape[nwc ? 1 : 2], C = up->out_channels;
        const int64_t T2 = (T - 1) * up->stride - 2 * up->padding + up->kernel_size;
        bv_tensor *xs = nwc ? bv_new(ctx, BV_F32, BV_SHAPE(B, T2, C))                              // [B, T2, C]
                            : bv_new(ctx, BV_F32, BV_SHAPE(B, C / BV_CONV_BLOCK, T2, BV_CONV_BLOCK)); // [B, C/16, T2, 16]
        const bv_ctx_mark after_xs = bv_ctx_get_mark(ctx);
        bv_tensor *u;
        if (nwc && f->ups_ph[i]) { /* as u phases of a stride-1 conv (phase_fold) */
            u = bv_conv1d_post_op(ctx, NULL, x, f->ups_ph[i], f->ups_ph_b[i],
                                  &(bv_conv1d_post){.nwc = 1, .padding = f->ups_ph_pad[i]}); // [B, T, u*C]
            u = bv_reshape(ctx, u, BV_SHAPE(B, T2, C));                                           // [B, T2, C]
        } else if (nwc) { /* oneDNN's AMX deconvolution kernel runs nwc directly */
            u = bv_conv1d_post_op(ctx, NULL, x, f->ups[i], up->bias,
                                  &(bv_conv1d_post){.nwc = 1, .transposed = 1, .stride = up->stride,
                                                    .padding = up->padding}); // [B, T2, C]
        } else {
            /* the transposed conv in the plain layout: oneDNN 2.6 has no direct kernel for these strides
             * on blocked activations (its reference one is ~1000x slower); its input is the small side */
            u = bv_conv_transpose1d(ctx, bv_conv_unblock(ctx, x), f->ups[i], up->bias, up->stride, up->padding, 0, 1,
                                    1);   // [B, C, T2]
            u = bv_conv_block(ctx, u); // [B, C/16, T2, 16]
        }
        bv_tensor *a0 = nwc ? NULL : bv_leaky_relu(ctx, u, BV_LRELU_SLOPE); /* nwc: inside the convs */
        const bv_ctx_mark stage = bv_ctx_get_mark(ctx);
        const float slope = i + 1 < nu ? BV_LRELU_SLOPE : GEN_LRELU_DEFAULT;
        for (int j = 0; j < nk; j++) {
            rb_infer(ctx, m, i * nk + j, j, u, a0, xs, slope);
            bv_ctx_reset_to(ctx, stage);
        }
        bv_ctx_reset_to(ctx, after_xs); /* u and a0 go */
        x = xs;                         /* leaky_relu(sum / nk): the next stage's input */
    }
    x = nwc ? bv_transpose(ctx, x, 1, 2) : bv_conv_unblock(ctx, x);         // [B, ch, T_wav]
    x = bv_conv1d_layer_forward(ctx, &m->conv_post, x);                     // [B, 1, T_wav]
    x = bv_tanh(ctx, x);
    bv_ctx_keep_only(ctx, base, 1, &x);
    return x; // [B, 1, T_wav]
}

/* The whole-pass generator for inference: the fused path when the weights are folded. */
static bv_tensor *infer_pass(bv_ctx *ctx, const bv_generator *m, bv_tensor *x, bv_tensor *g) {
    if (!bv_grad_enabled(ctx) && bv_generator_infer_supported(ctx, m)) return bv_generator_infer(ctx, m, x, g);
    return bv_generator_forward(ctx, m, x, g);
}

bv_tensor *bv_generator_forward_chunked(bv_ctx *ctx, const bv_generator *m, bv_tensor *x, bv_tensor *g, int64_t chunk) {
    const int64_t B = x->shape[0], T = x->shape[2];
    if (bv_grad_enabled(ctx)) return bv_generator_forward(ctx, m, x, g);
    if (chunk <= 0 || T <= chunk) return infer_pass(ctx, m, x, g);
    int64_t hop = 1;
    for (int i = 0; i < m->cfg.n_upsamples; i++) hop *= m->cfg.upsample_rates[i];
    const int64_t ctx_frames = bv_generator_receptive_frames(&m->cfg);
    bv_tensor *out = bv_new(ctx, BV_F32, BV_SHAPE(B, 1, T * hop)); // [B, 1, T * hop]
    const bv_ctx_mark mark = bv_ctx_get_mark(ctx);
    for (int64_t a = 0; a < T; a += chunk) {
        const int64_t n = a + chunk < T ? chunk : T - a;
        const int64_t lo = a > ctx_frames ? a - ctx_frames : 0, hi = a + n + ctx_frames < T ? a + n + ctx_frames : T;
        bv_tensor *y = infer_pass(ctx, m, bv_slice(ctx, x, 2, lo, hi, 1), g); // [B, 1, (hi - lo) * hop]
        BV_ASSERT(y->shape[2] == (hi - lo) * hop);
        for (int64_t b = 0; b < B; b++)
            bv_copy_at(out, b * T * hop + a * hop, y, b * y->shape[2] + (a - lo) * hop, n * hop);
        bv_ctx_keep_only(ctx, mark, 0, NULL); /* the chunk's activations go; out stays */
    }
    return out;
}
