/* test_attention.c - tests for src/nn/attention.c: the fused relative-position ops against a literal
 * port of upstream's pad/slice/skew formulation and by finite differences, FFN variants against
 * plain loops, error messages for bad shapes, and golden parity for MultiHeadAttention (A06-A08),
 * FFN (A09) and Encoder (A10, A11).
 */
#include <stdlib.h>
#include <string.h>

#include "../src/nn/attention.h"
#include "../src/ops/ops.h"
#include "golden.h"
#include "test.h"

/* ---------------- upstream oracle for the relative-position ops (flat arrays) ---------------- */

/* _get_relative_embeddings for one head: emb [2w+1, K] -> used [2L-1, K] (pad then slice). */
static void oracle_used_emb(float *used, const float *emb, int L, int w, int K) {
    int pad = L - (w + 1) > 0 ? L - (w + 1) : 0;
    int start = (w + 1) - L > 0 ? (w + 1) - L : 0;
    int P = 2 * w + 1 + 2 * pad;
    float *padded = calloc((size_t)P * K, sizeof(float));
    memcpy(padded + (size_t)pad * K, emb, sizeof(float) * (size_t)(2 * w + 1) * K);
    memcpy(used, padded + (size_t)start * K, sizeof(float) * (size_t)(2 * L - 1) * K);
    free(padded);
}

/* _relative_position_to_absolute_position for one [L, 2L-1] plane, literally (pad, flatten, pad,
 * view [L+1, 2L-1], slice). */
static void oracle_rel_to_abs(float *out, const float *x, int L) {
    int W = 2 * L - 1;
    float *flat = calloc((size_t)(L * 2 * L + L - 1), sizeof(float));
    for (int i = 0; i < L; i++)
        for (int m = 0; m < W; m++) flat[i * 2 * L + m] = x[i * W + m];
    for (int i = 0; i < L; i++)
        for (int j = 0; j < L; j++) out[i * L + j] = flat[i * W + (L - 1) + j];
    free(flat);
}

/* _absolute_position_to_relative_position for one [L, L] plane -> [L, 2L-1]. */
static void oracle_abs_to_rel(float *out, const float *x, int L) {
    int W = 2 * L - 1;
    float *flat = calloc((size_t)(L + L * W), sizeof(float));
    for (int i = 0; i < L; i++)
        for (int j = 0; j < L; j++) flat[L + i * W + j] = x[i * L + j];
    for (int i = 0; i < L; i++)
        for (int m = 0; m < W; m++) out[i * W + m] = flat[i * 2 * L + 1 + m];
    free(flat);
}

/* Both ops for q [B,H,L,K] / p [B,H,L,L], emb [EH,2w+1,K] the upstream way. */
static void oracle_rel(float *logits, float *values, const float *q, const float *p, const float *emb, int BH, int H,
                       int EH, int L, int K, int w) {
    int W = 2 * L - 1;
    float *used = malloc(sizeof(float) * (size_t)W * K), *rel = malloc(sizeof(float) * (size_t)L * W);
    for (int bh = 0; bh < BH; bh++) {
        oracle_used_emb(used, emb + (size_t)(EH == 1 ? 0 : bh % H) * (2 * w + 1) * K, L, w, K);
        for (int i = 0; i < L; i++) /* matmul(q, used^T) */
            for (int m = 0; m < W; m++) {
                double s = 0;
                for (int d = 0; d < K; d++) s += (double)q[(bh * L + i) * K + d] * used[m * K + d];
                rel[i * W + m] = (float)s;
            }
        oracle_rel_to_abs(logits + (size_t)bh * L * L, rel, L);
        oracle_abs_to_rel(rel, p + (size_t)bh * L * L, L);
        for (int i = 0; i < L; i++) /* matmul(rel, used) */
            for (int d = 0; d < K; d++) {
                double s = 0;
                for (int m = 0; m < W; m++) s += (double)rel[i * W + m] * used[m * K + d];
                values[(bh * L + i) * K + d] = (float)s;
            }
    }
    free(used);
    free(rel);
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

BV_TEST(attention_rel_ops_match_upstream_skew) {
    bv_ctx *ctx = ts->ctx;
    /* L < w+1 (slice branch), L = w+1, L > w+1 (pad branch); shared and per-head embeddings */
    const int Ls[3] = {3, 5, 9};
    for (int li = 0; li < 3; li++)
        for (int share = 0; share < 2; share++) {
            int B = 2, H = 2, L = Ls[li], K = 3, w = 4, EH = share ? 1 : H;
            bv_tensor *q = bv_test_input(ctx, BV_SHAPE(B, H, L, K), 1.0f);
            bv_tensor *p = bv_test_input(ctx, BV_SHAPE(B, H, L, L), 1.0f);
            bv_tensor *emb = bv_test_input(ctx, BV_SHAPE(EH, 2 * w + 1, K), 1.0f);
            bv_tensor *lg = bv_mha_rel_logits(ctx, q, emb), *vl = bv_mha_rel_values(ctx, p, emb);
            float *rl = malloc(sizeof(float) * (size_t)lg->numel), *rv = malloc(sizeof(float) * (size_t)vl->numel);
            oracle_rel(rl, rv, q->data, p->data, emb->data, B * H, H, EH, L, K, w);
            double e1 = max_abs_diff(lg->data, rl, lg->numel), e2 = max_abs_diff(vl->data, rv, vl->numel);
            BV_CHECK(e1 < 1e-5 && e2 < 1e-5, "L %d share %d: logits err %g values err %g", L, share, e1, e2);
            free(rl);
            free(rv);
        }
}

static bv_tensor *gc_rel_logits(bv_ctx *ctx, bv_tensor **in, void *u) { return bv_mha_rel_logits(ctx, in[0], in[1]); }
static bv_tensor *gc_rel_values(bv_ctx *ctx, bv_tensor **in, void *u) { return bv_mha_rel_values(ctx, in[0], in[1]); }

BV_TEST(attention_rel_ops_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    const int cfgs[3][3] = {{3, 1, 2}, {7, 0, 2}, {5, 1, 1}}; /* L, heads_share, w */
    for (int c = 0; c < 3; c++) {
        int B = 2, H = 2, L = cfgs[c][0], K = 3, w = cfgs[c][2], EH = cfgs[c][1] ? 1 : H;
        bv_tensor *in1[2] = {bv_test_input(ctx, BV_SHAPE(B, H, L, K), 1.0f),
                             bv_test_input(ctx, BV_SHAPE(EH, 2 * w + 1, K), 1.0f)};
        bv_gradcheck(ts, "mha_rel_logits", gc_rel_logits, 2, in1, NULL, 1e-3, 1e-3, 1e-2, 200);
        bv_tensor *in2[2] = {bv_test_input(ctx, BV_SHAPE(B, H, L, L), 1.0f),
                             bv_test_input(ctx, BV_SHAPE(EH, 2 * w + 1, K), 1.0f)};
        bv_gradcheck(ts, "mha_rel_values", gc_rel_values, 2, in2, NULL, 1e-3, 1e-3, 1e-2, 200);
    }
}

/* A requires-grad leaf with a's values (the same data in two graphs, each with its own grads). */
static bv_tensor *twin(bv_ctx *ctx, const bv_tensor *a) {
    bv_tensor *t = bv_test_input(ctx, a->ndim, a->shape, 1.0f);
    memcpy(t->data, a->data, sizeof(float) * (size_t)a->numel);
    return t;
}

static int same_bits(const float *a, const float *b, int64_t n) { return memcmp(a, b, sizeof(float) * (size_t)n) == 0; }

/* scores + rel_logits over the matmul's output in place: the values and every gradient of the two-op
 * form bit for bit, the matmul's map reused (and marked consumed: a later reader stops with an
 * error), and a copy instead where the input may not be overwritten (a leaf). */
BV_TEST(attention_rel_logits_add_in_place_matches_two_ops) {
    bv_ctx *ctx = ts->ctx;
    const int B = 2, H = 2, L = 7, K = 3, w = 2;
    bv_tensor *q = bv_test_input(ctx, BV_SHAPE(B, H, L, K), 1.0f), *kt = bv_test_input(ctx, BV_SHAPE(B, H, K, L), 1.0f);
    bv_tensor *emb = bv_test_input(ctx, BV_SHAPE(1, 2 * w + 1, K), 1.0f);
    bv_tensor *q2 = twin(ctx, q), *kt2 = twin(ctx, kt), *emb2 = twin(ctx, emb);
    bv_tensor *s1 = bv_matmul(ctx, q, kt);
    bv_tensor *y1 = bv_mha_rel_logits_add(ctx, s1, q, emb);
    bv_tensor *s2 = bv_matmul(ctx, q2, kt2); /* recorded before the logits, as attention.c did */
    bv_tensor *y2 = bv_add(ctx, s2, bv_mha_rel_logits(ctx, q2, emb2));
    BV_CHECK(y1->data == s1->data && s1->consumed, "%s", "the band was not added over the matmul's output");
    BV_CHECK(same_bits(y1->data, y2->data, y1->numel), "%s", "values differ from scores + rel_logits");
    bv_tensor *r = bv_test_input(ctx, BV_SHAPE(B, H, L, L), 1.0f);
    bv_backward_multi(ctx, 2, (bv_tensor *[]){y1, y2}, (const bv_tensor *[]){r, r});
    BV_CHECK(same_bits(q->grad, q2->grad, q->numel) && same_bits(kt->grad, kt2->grad, kt->numel) &&
                 same_bits(emb->grad, emb2->grad, emb->numel),
             "%s", "gradients differ from the two-op form");
    char msg[512];
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_mul_scalar(ctx, s1, 2.0f)), "%s", "a consumed tensor was read");
    BV_CHECK(strstr(msg, "overwritten"), "msg: %s", msg);
    bv_tensor *leaf = twin(ctx, y2); /* a leaf the caller holds: never written over */
    bv_tensor *y3 = bv_mha_rel_logits_add(ctx, leaf, q, emb);
    BV_CHECK(y3->data != leaf->data && !leaf->consumed, "%s", "a leaf was overwritten");
    bv_tensor *want = bv_add(ctx, leaf, bv_mha_rel_logits(ctx, q, emb));
    BV_CHECK(same_bits(y3->data, want->data, y3->numel), "%s", "copy path values differ");
}

/* softmax over a masked fill of a matmul's map, in place: softmax's values and gradients bit for bit,
 * one map for the three ops; a leaf keeps its data. */
BV_TEST(attention_softmax_in_place_matches) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *a = bv_test_input(ctx, BV_SHAPE(2, 2, 9, 4), 1.0f), *b = bv_test_input(ctx, BV_SHAPE(2, 2, 4, 9), 1.0f);
    bv_tensor *a2 = twin(ctx, a), *b2 = twin(ctx, b);
    bv_tensor *mask = bv_full(ctx, BV_SHAPE(2, 1, 9, 9), 1.0f);
    mask->data[5] = mask->data[90] = 0.0f;
    bv_tensor *s1 = bv_matmul(ctx, a, b), *f1 = bv_masked_fill_zero_(ctx, s1, mask, -1e4f);
    bv_tensor *p1 = bv_softmax_(ctx, f1, -1);
    bv_tensor *p2 = bv_softmax(ctx, bv_masked_fill_zero(ctx, bv_matmul(ctx, a2, b2), mask, -1e4f), -1);
    BV_CHECK(p1->data == s1->data && f1->data == s1->data && s1->consumed && f1->consumed, "%s", "not in place");
    BV_CHECK(same_bits(p1->data, p2->data, p1->numel), "%s", "values differ");
    bv_tensor *r = bv_test_input(ctx, BV_SHAPE(2, 2, 9, 9), 1.0f);
    bv_backward_multi(ctx, 2, (bv_tensor *[]){p1, p2}, (const bv_tensor *[]){r, r});
    BV_CHECK(same_bits(a->grad, a2->grad, a->numel) && same_bits(b->grad, b2->grad, b->numel), "%s", "grads differ");
    bv_tensor *leaf = twin(ctx, p2), *p3 = bv_softmax_(ctx, leaf, -1);
    BV_CHECK(p3->data != leaf->data && !leaf->consumed, "%s", "a leaf was overwritten");
}

/* The FFN's relu -> dropout -> * x_mask as one op: the three ops' values and gradients bit for bit
 * (same rng draw), with and without dropout, masked steps included; one output map allocated. */
BV_TEST(attention_relu_dropout_mask_matches_three_ops) {
    bv_ctx *ctx = ts->ctx;
    const int B = 2, C = 5, T = 301;
    const float ps[2] = {0.1f, 0.0f};
    for (int c = 0; c < 2; c++) {
        bv_tensor *h = bv_test_input(ctx, BV_SHAPE(B, C, T), 1.0f), *h2 = twin(ctx, h);
        bv_tensor *m = bv_full(ctx, BV_SHAPE(B, 1, T), 1.0f);
        for (int t = 250; t < T; t++) m->data[t] = 0.0f; /* item 0 shorter */
        bv_rng_seed(&ctx->rng, 5);
        const size_t before = ctx->arena.in_use;
        bv_tensor *y1 = bv_relu_dropout_mask(ctx, h, m, ps[c], 1);
        const size_t grew = ctx->arena.in_use - before, out = sizeof(float) * (size_t)y1->numel;
        bv_rng_seed(&ctx->rng, 5);
        bv_tensor *y2 = bv_mul(ctx, bv_dropout(ctx, bv_relu(ctx, h2), ps[c], 1), m);
        BV_CHECK(grew < out + 4096, "p %g: %zu bytes for a %zu-byte output", (double)ps[c], grew, out);
        BV_CHECK(same_bits(y1->data, y2->data, y1->numel), "p %g: values differ", (double)ps[c]);
        bv_tensor *r = bv_test_input(ctx, BV_SHAPE(B, C, T), 1.0f);
        bv_backward_multi(ctx, 2, (bv_tensor *[]){y1, y2}, (const bv_tensor *[]){r, r});
        BV_CHECK(same_bits(h->grad, h2->grad, h->numel), "p %g: gradients differ", (double)ps[c]);
    }
}

/* dropout(p) @ v + rel_values(dropout(p), emb) as one op: the composite's values and gradients bit for
 * bit (same rng draw; with and without emb, shared and per-head emb); the arena keeps no dropped map. */
BV_TEST(attention_dropout_values_matches_composite) {
    bv_ctx *ctx = ts->ctx;
    const int B = 2, H = 2, L = 23, K = 4, w = 3;
    for (int c = 0; c < 3; c++) {
        bv_tensor *a = bv_test_input(ctx, BV_SHAPE(B, H, L, L), 1.0f), *a2 = twin(ctx, a);
        bv_tensor *v = bv_test_input(ctx, BV_SHAPE(B, H, L, K), 1.0f), *v2 = twin(ctx, v);
        bv_tensor *emb = c ? bv_test_input(ctx, BV_SHAPE(c == 1 ? 1 : H, 2 * w + 1, K), 1.0f) : NULL;
        bv_tensor *emb2 = emb ? twin(ctx, emb) : NULL;
        bv_tensor *p1 = bv_softmax(ctx, a, -1), *p2 = bv_softmax(ctx, a2, -1);
        bv_rng_seed(&ctx->rng, 9);
        const size_t before = ctx->arena.in_use;
        bv_tensor *y1 = bv_mha_dropout_values(ctx, p1, v, emb, 0.2f, 1);
        const size_t grew = ctx->arena.in_use - before;
        bv_rng_seed(&ctx->rng, 9);
        bv_tensor *pd = bv_dropout(ctx, p2, 0.2f, 1);
        bv_tensor *y2 = bv_matmul(ctx, pd, v2);
        if (emb2) y2 = bv_add(ctx, y2, bv_mha_rel_values(ctx, pd, emb2));
        BV_CHECK(grew < sizeof(float) * (size_t)p1->numel / 2, "case %d: %zu bytes kept", c, grew);
        BV_CHECK(same_bits(y1->data, y2->data, y1->numel), "case %d: values differ", c);
        bv_tensor *r = bv_test_input(ctx, BV_SHAPE(B, H, L, K), 1.0f);
        bv_backward_multi(ctx, 2, (bv_tensor *[]){y1, y2}, (const bv_tensor *[]){r, r});
        BV_CHECK(same_bits(a->grad, a2->grad, a->numel) && same_bits(v->grad, v2->grad, v->numel) &&
                     (!emb || same_bits(emb->grad, emb2->grad, emb->numel)),
                 "case %d: gradients differ", c);
    }
}

/* Attention in training mode (mask, relative window, dropout) keeps one [B, h, L, L] map on the tape:
 * the scores with the band, the mask and the softmax written over them (the dropped map and its mask
 * are drawn again in backward): the arena grows by under 1.5 maps for the whole layer (seven before).
 * Asking for p_attn (upstream's dropped map) keeps that map too. */
BV_TEST(attention_mha_training_keeps_few_maps) {
    bv_ctx *ctx = ts->ctx;
    const int B = 1, C = 8, L = 256;
    bv_params ps;
    bv_params_init(&ps);
    bv_mha m;
    bv_mha_init(&m, &ps, "", &(bv_mha_cfg){.channels = C, .out_channels = C, .n_heads = 2, .p_dropout = 0.1f,
                                            .window_size = 4, .heads_share = 1});
    bv_mha_reset_parameters(&m, &ctx->rng);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(B, C, L), 1.0f);
    bv_tensor *mask = bv_full(ctx, BV_SHAPE(B, 1, L, L), 1.0f);
    const size_t map = sizeof(float) * (size_t)B * 2 * L * L, before = ctx->arena.in_use;
    bv_tensor *y = bv_mha_forward(ctx, &m, x, x, mask, 1, NULL);
    const size_t grew = ctx->arena.in_use - before;
    BV_CHECK(y->requires_grad, "%s", "not recorded");
    BV_CHECK(grew < 1.5 * map, "one attention layer took %.2f maps of the arena (want < 1.5)", (double)grew / (double)map);
    bv_tensor *p = NULL;
    const size_t before2 = ctx->arena.in_use;
    bv_mha_forward(ctx, &m, x, x, mask, 1, &p);
    const size_t grew2 = ctx->arena.in_use - before2;
    BV_CHECK(p != NULL && grew2 < 2.5 * map, "with p_attn: %.2f maps (want < 2.5)", (double)grew2 / (double)map);
    bv_params_free(&ps);
}

BV_TEST(attention_rel_ops_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *q = bv_test_input(ctx, BV_SHAPE(2, 2, 5, 3), 1.0f);
    bv_tensor *bad = bv_test_input(ctx, BV_SHAPE(1, 9, 4), 1.0f); /* k 4 != 3 */
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_mha_rel_logits(ctx, q, bad)), "no error");
    BV_CHECK(strstr(msg, "mha_rel_logits") && strstr(msg, "[2, 2, 5, 3]") && strstr(msg, "[1, 9, 4]"), "msg: %s", msg);
    bv_tensor *p = bv_test_input(ctx, BV_SHAPE(2, 2, 5, 4), 1.0f); /* not square */
    bv_tensor *emb = bv_test_input(ctx, BV_SHAPE(1, 9, 3), 1.0f);
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_mha_rel_values(ctx, p, emb)), "no error");
    BV_CHECK(strstr(msg, "mha_rel_values") && strstr(msg, "[2, 2, 5, 4]") && strstr(msg, "[1, 9, 3]"), "msg: %s", msg);
}

BV_TEST(attention_mha_mask_shape_error) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_params ps;
    bv_params_init(&ps);
    bv_mha m;
    bv_mha_init(&m, &ps, "", &(bv_mha_cfg){.channels = 4, .out_channels = 4, .n_heads = 2, .window_size = 2,
                                            .heads_share = 1});
    bv_mha_reset_parameters(&m, &ctx->rng);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 4, 5), 1.0f);
    bv_tensor *mask = bv_full(ctx, BV_SHAPE(2, 1, 5), 1.0f); /* an x_mask, not an attn_mask */
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_mha_forward(ctx, &m, x, x, mask, 0, NULL)), "no error");
    BV_CHECK(strstr(msg, "mha") && strstr(msg, "[2, 1, 5]") && strstr(msg, "[2, 4, 5]"), "msg: %s", msg);
    bv_tensor *mask2 = bv_full(ctx, BV_SHAPE(2, 1, 5, 4), 1.0f);
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_mha_forward(ctx, &m, x, x, mask2, 0, NULL)), "no error");
    BV_CHECK(strstr(msg, "[2, 1, 5, 4]"), "msg: %s", msg);

    bv_ffn f;
    bv_ffn_init(&f, &ps, "ffn.", &(bv_ffn_cfg){.in_channels = 4, .out_channels = 4, .filter_channels = 6,
                                               .kernel_size = 3});
    bv_tensor *xm = bv_full(ctx, BV_SHAPE(2, 1, 4), 1.0f); /* T 4 != 5 */
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_ffn_forward(ctx, &f, x, xm, 0)), "no error");
    BV_CHECK(strstr(msg, "ffn") && strstr(msg, "[2, 1, 4]") && strstr(msg, "[2, 4, 5]"), "msg: %s", msg);
    bv_params_free(&ps);
}

/* ---------------- FFN variants not covered by golden data: plain-loop reference ---------------- */

/* conv1d with explicit left/right zero padding over [C, T] planes, per batch. */
static void ref_conv(float *y, const float *x, const float *w, const float *b, int B, int Ci, int Co, int T, int K,
                     int pl) {
    for (int n = 0; n < B; n++)
        for (int o = 0; o < Co; o++)
            for (int t = 0; t < T; t++) {
                double s = b[o];
                for (int c = 0; c < Ci; c++)
                    for (int k = 0; k < K; k++) {
                        int ti = t + k - pl;
                        if (ti >= 0 && ti < T) s += (double)w[(o * Ci + c) * K + k] * x[(n * Ci + c) * T + ti];
                    }
                y[(n * Co + o) * T + t] = (float)s;
            }
}

static void ref_ffn(float *y, const bv_ffn *f, const float *x, const float *mask, int B, int T) {
    int Ci = f->cfg.in_channels, F = f->cfg.filter_channels, Co = f->cfg.out_channels, K = f->cfg.kernel_size;
    int pl = f->cfg.causal ? K - 1 : (K - 1) / 2;
    float *xm = malloc(sizeof(float) * (size_t)B * Ci * T), *h = malloc(sizeof(float) * (size_t)B * F * T);
    for (int i = 0; i < B * Ci * T; i++) xm[i] = x[i] * mask[(i / (Ci * T)) * T + i % T];
    ref_conv(h, xm, f->conv_1_w->data, f->conv_1_b->data, B, Ci, F, T, K, pl);
    for (int i = 0; i < B * F * T; i++) {
        float v = h[i];
        v = f->cfg.activation == BV_FFN_GELU ? v * (1.0f / (1.0f + expf(-1.702f * v))) : (v > 0 ? v : 0);
        h[i] = v * mask[(i / (F * T)) * T + i % T];
    }
    ref_conv(y, h, f->conv_2_w->data, f->conv_2_b->data, B, F, Co, T, K, pl);
    for (int i = 0; i < B * Co * T; i++) y[i] *= mask[(i / (Co * T)) * T + i % T];
    free(xm);
    free(h);
}

typedef struct {
    const bv_ffn *f;
    bv_tensor *mask;
} ffn_gc;

static bv_tensor *gc_ffn(bv_ctx *ctx, bv_tensor **in, void *u) {
    ffn_gc *c = u;
    return bv_ffn_forward(ctx, c->f, in[0], c->mask, 0);
}

BV_TEST(attention_ffn_causal_gelu_even_kernel) {
    bv_ctx *ctx = ts->ctx;
    /* {kernel, causal, gelu}: even kernels make the "same" padding asymmetric */
    const int cfgs[4][3] = {{4, 0, 1}, {3, 1, 1}, {2, 1, 0}, {1, 1, 1}};
    for (int c = 0; c < 4; c++) {
        bv_params ps;
        bv_params_init(&ps);
        bv_ffn f;
        bv_ffn_init(&f, &ps, "", &(bv_ffn_cfg){.in_channels = 3, .out_channels = 2, .filter_channels = 5,
                                               .kernel_size = cfgs[c][0], .causal = cfgs[c][1],
                                               .activation = cfgs[c][2] ? BV_FFN_GELU : BV_FFN_RELU});
        bv_ffn_reset_parameters(&f, &ctx->rng);
        int B = 2, T = 6;
        bv_tensor *x = bv_test_input(ctx, BV_SHAPE(B, 3, T), 1.0f);
        bv_tensor *mask = bv_full(ctx, BV_SHAPE(B, 1, T), 1.0f);
        mask->data[T + 4] = mask->data[T + 5] = 0.0f; /* item 1 has length 4 */
        bv_tensor *y = bv_ffn_forward(ctx, &f, x, mask, 0);
        float *ref = malloc(sizeof(float) * (size_t)y->numel);
        ref_ffn(ref, &f, x->data, mask->data, B, T);
        double err = max_abs_diff(y->data, ref, y->numel);
        BV_CHECK(err < 1e-5, "cfg %d: max err %g", c, err);
        free(ref);
        ffn_gc u = {&f, mask};
        bv_tensor *ins[5] = {x, f.conv_1_w, f.conv_1_b, f.conv_2_w, f.conv_2_b};
        bv_gradcheck(ts, "ffn", gc_ffn, 5, ins, &u, 1e-3, 1e-3, 1e-2, 40);
        bv_params_free(&ps);
    }
}

BV_TEST(attention_encoder_param_names_and_dropout) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_encoder_cfg cfg = {.hidden_channels = 4, .filter_channels = 6, .n_heads = 2, .n_layers = 3,
                          .kernel_size = 3, .p_dropout = 0.5f, .window_size = 2, .isflow = 1,
                          .gin_channels = 3, .cond_layer_idx = BV_ENCODER_COND_DEFAULT};
    bv_encoder *e = bv_encoder_new(&ps, "enc.", &cfg);
    BV_CHECK(e->cond_layer_idx == 2, "default cond_layer_idx %d", e->cond_layer_idx);
    const char *want[] = {"enc.spk_emb_linear.weight", "enc.spk_emb_linear.bias", "enc.attn_layers.0.emb_rel_k",
                          "enc.attn_layers.0.emb_rel_v", "enc.attn_layers.0.conv_q.weight"};
    for (int i = 0; i < 5; i++) BV_CHECK(strcmp(ps.items[i]->name, want[i]) == 0, "param %d: %s", i, ps.items[i]->name);
    BV_CHECK(strcmp(ps.items[ps.n - 1]->name, "enc.norm_layers_2.2.beta") == 0, "last: %s", ps.items[ps.n - 1]->name);
    BV_CHECK(ps.items[ps.n - 2]->data[0] == 1.0f, "gamma not 1");
    bv_encoder_reset_parameters(e, &ctx->rng);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(1, 4, 5), 1.0f);
    bv_tensor *mask = bv_full(ctx, BV_SHAPE(1, 1, 5), 1.0f);
    bv_tensor *g = bv_test_input(ctx, BV_SHAPE(1, 3, 1), 1.0f);
    bv_tensor *y0 = bv_encoder_forward(ctx, e, x, mask, g, 0), *y0b = bv_encoder_forward(ctx, e, x, mask, g, 0);
    bv_tensor *y1 = bv_encoder_forward(ctx, e, x, mask, g, 1);
    BV_CHECK(max_abs_diff(y0->data, y0b->data, y0->numel) == 0, "eval not deterministic");
    BV_CHECK(max_abs_diff(y0->data, y1->data, y0->numel) > 1e-3, "dropout had no effect in training");
    char err[256];
    cfg.cond_layer_idx = 3;
    BV_CHECK(bv_encoder_cfg_check(&cfg, err, sizeof err) != 0 && strstr(err, "cond_layer_idx"), "cfg check");
    bv_encoder_free(e);
    bv_params_free(&ps);
}

/* ---------------- golden parity ---------------- */

/* Optional int config: absent -> def_absent (upstream default), JSON null -> 0 (None), bool -> 0/1. */
static int cfg_opt(bv_golden *g, const char *key, int def_absent) {
    const cJSON *c = bv_golden_config(g);
    const cJSON *v = c ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
    if (!v) return def_absent;
    if (cJSON_IsNull(v)) return 0;
    return (int)bv_golden_cfg_int_or(g, key, def_absent);
}

static void mha_golden(bv_test_state *ts, const char *name) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, name);
    if (!g) return;
    bv_mha_cfg cfg = {.channels = (int)bv_golden_cfg_int(g, "channels"),
                      .out_channels = (int)bv_golden_cfg_int(g, "out_channels"),
                      .n_heads = (int)bv_golden_cfg_int(g, "n_heads"),
                      .p_dropout = (float)bv_golden_cfg_num(g, "p_dropout"),
                      .window_size = cfg_opt(g, "window_size", 0),
                      .heads_share = cfg_opt(g, "heads_share", 1),
                      .block_length = cfg_opt(g, "block_length", 0),
                      .proximal_bias = cfg_opt(g, "proximal_bias", 0),
                      .proximal_init = cfg_opt(g, "proximal_init", 0)};
    bv_params ps;
    bv_params_init(&ps);
    bv_mha m;
    bv_mha_init(&m, &ps, "", &cfg);
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x");             // [B, C, T]
    bv_tensor *mask = bv_golden_tensor(g, "in.attn_mask"); // [B, 1, T, T]
    bv_tensor *p_attn = NULL;
    bv_tensor *y = bv_mha_forward(ctx, &m, x, x, mask, 1, &p_attn);
    if (bv_golden_has(g, "mid.p_attn")) bv_golden_check(g, "mid.p_attn", p_attn);
    bv_golden_output(g, "y", y);
    bv_golden_backward(g);
    bv_golden_check_grads(g, &ps, "param.");
    bv_golden_close(g);
    bv_params_free(&ps);
}

BV_GOLDEN_TEST(attention_golden_A06) { mha_golden(ts, "A06_mha_rel_window4_T9"); }
BV_GOLDEN_TEST(attention_golden_A07) { mha_golden(ts, "A07_mha_rel_window4_T3"); }
BV_GOLDEN_TEST(attention_golden_A08) { mha_golden(ts, "A08_mha_proximal_block"); }

BV_GOLDEN_TEST(attention_golden_A09) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "A09_ffn");
    if (!g) return;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(bv_golden_config(g), "activation");
    bv_ffn_cfg cfg = {.in_channels = (int)bv_golden_cfg_int(g, "in_channels"),
                      .out_channels = (int)bv_golden_cfg_int(g, "out_channels"),
                      .filter_channels = (int)bv_golden_cfg_int(g, "filter_channels"),
                      .kernel_size = (int)bv_golden_cfg_int(g, "kernel_size"),
                      .p_dropout = (float)bv_golden_cfg_num(g, "p_dropout"),
                      .activation = cJSON_IsString(act) && strcmp(act->valuestring, "gelu") == 0 ? BV_FFN_GELU
                                                                                                : BV_FFN_RELU,
                      .causal = cfg_opt(g, "causal", 0)};
    bv_params ps;
    bv_params_init(&ps);
    bv_ffn f;
    bv_ffn_init(&f, &ps, "", &cfg);
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x");          // [B, Cin, T]
    bv_tensor *mask = bv_golden_tensor(g, "in.x_mask"); // [B, 1, T]
    bv_golden_output(g, "y", bv_ffn_forward(ctx, &f, x, mask, 1));
    bv_golden_backward(g);
    bv_golden_check_grads(g, &ps, "param.");
    bv_golden_close(g);
    bv_params_free(&ps);
}

static void encoder_golden(bv_test_state *ts, const char *name) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, name);
    if (!g) return;
    bv_encoder_cfg cfg = {.hidden_channels = (int)bv_golden_cfg_int(g, "hidden_channels"),
                          .filter_channels = (int)bv_golden_cfg_int(g, "filter_channels"),
                          .n_heads = (int)bv_golden_cfg_int(g, "n_heads"),
                          .n_layers = (int)bv_golden_cfg_int(g, "n_layers"),
                          .kernel_size = cfg_opt(g, "kernel_size", 1),
                          .p_dropout = (float)bv_golden_cfg_num(g, "p_dropout"),
                          .window_size = cfg_opt(g, "window_size", 4),
                          .isflow = cfg_opt(g, "isflow", 1),
                          .gin_channels = cfg_opt(g, "gin_channels", 0),
                          .cond_layer_idx = (int)bv_golden_cfg_int_or(g, "cond_layer_idx", BV_ENCODER_COND_DEFAULT)};
    bv_params ps;
    bv_params_init(&ps);
    bv_encoder *e = bv_encoder_new(&ps, "", &cfg);
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x");                         // [B, H, T]
    bv_tensor *mask = bv_golden_tensor(g, "in.x_mask");                // [B, 1, T]
    bv_tensor *spk = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL; // [B, gin, 1]
    bv_golden_output(g, "y", bv_encoder_forward(ctx, e, x, mask, spk, 1));
    bv_golden_backward(g);
    bv_golden_check_grads(g, &ps, "param.");
    bv_golden_close(g);
    bv_encoder_free(e);
    bv_params_free(&ps);
}

BV_GOLDEN_TEST(attention_golden_A10) { encoder_golden(ts, "A10_encoder_gin_2layers"); }
BV_GOLDEN_TEST(attention_golden_A11) { encoder_golden(ts, "A11_encoder_isflow_gin"); }

/* The constant tables attention adds: -log1p(|i - j|) and the local-block mask. */
BV_TEST(attention_proximal_bias_and_local_mask_values) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *b = bv_attn_proximal_bias(ctx, 4), *m = bv_attn_local_mask(ctx, 5, 1);
    BV_CHECK(b->ndim == 4 && b->shape[2] == 4 && b->shape[3] == 4 && m->shape[2] == 5, "%s", "shapes");
    int ok = 1;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) ok &= b->data[i * 4 + j] == -log1pf(fabsf((float)(j - i)));
    BV_CHECK(ok, "%s", "proximal bias values");
    ok = 1;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) ok &= m->data[i * 5 + j] == (abs(j - i) > 1 ? 1.0f : 0.0f);
    BV_CHECK(ok, "%s", "local mask values");
}
