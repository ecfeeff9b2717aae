/* test_losses.c - training losses (src/train/losses.c): gradient checks, values against double
 * references, shape errors, and the golden cases D01_feature_loss, D02_discriminator_loss,
 * D03_generator_loss, D04_kl_loss, D05_mel_l1_loss. */
#include <stdlib.h>
#include <string.h>

#include "../src/train/losses.h"
#include "fixtures.h"
#include "golden.h"
#include "test.h"

/* ---------------- gradient checks ---------------- */

static bv_tensor *feature_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    bv_tensor **r = user; /* real feature maps: targets, not checked */
    return bv_feature_loss(ctx, 2, r, in);
}

BV_TEST(losses_feature_loss_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *r[2] = {bv_test_input(ctx, BV_SHAPE(2, 3, 5), 1.0f), bv_test_input(ctx, BV_SHAPE(2, 1, 4, 3), 1.0f)};
    r[0]->requires_grad = r[1]->requires_grad = false;
    bv_tensor *gm[2] = {bv_test_input(ctx, BV_SHAPE(2, 3, 5), 1.0f), bv_test_input(ctx, BV_SHAPE(2, 1, 4, 3), 1.0f)};
    bv_gradcheck(ts, "feature_loss", feature_fn, 2, gm, r, 1e-3, 1e-3, 1e-2, 64);
}

BV_TEST(losses_feature_loss_detaches_real_and_value) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *r[2] = {bv_test_input(ctx, BV_SHAPE(3, 4), 1.0f), bv_test_input(ctx, BV_SHAPE(5), 1.0f)};
    bv_tensor *gm[2] = {bv_test_input(ctx, BV_SHAPE(3, 4), 1.0f), bv_test_input(ctx, BV_SHAPE(5), 1.0f)};
    bv_tensor *loss = bv_feature_loss(ctx, 2, r, gm);
    double ref = 0;
    for (int k = 0; k < 2; k++) {
        double s = 0;
        for (int64_t i = 0; i < r[k]->numel; i++) s += fabs((double)r[k]->data[i] - gm[k]->data[i]);
        ref += s / (double)r[k]->numel;
    }
    ref *= 2;
    BV_CHECK(loss->ndim == 0 && fabs(loss->data[0] - ref) <= 1e-6 * fabs(ref), "loss %.9g, reference %.9g",
             loss->data[0], ref);
    bv_backward(ctx, loss, NULL);
    int zero = 1;
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; r[k]->grad && i < r[k]->numel; i++) zero &= r[k]->grad[i] == 0;
    BV_CHECK(zero, "fmap_r is detached upstream: it must get no gradient");
    BV_CHECK(gm[0]->grad != NULL, "fmap_g must get a gradient");
}

static bv_tensor *disc_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    bv_tensor *real[2] = {in[0], in[2]}, *gen[2] = {in[1], in[3]};
    return bv_discriminator_loss(ctx, 2, real, gen, NULL, NULL);
}

BV_TEST(losses_discriminator_loss_gradcheck_and_items) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *in[4] = {bv_test_input(ctx, BV_SHAPE(2, 5), 1.0f), bv_test_input(ctx, BV_SHAPE(2, 5), 1.0f),
                        bv_test_input(ctx, BV_SHAPE(2, 7), 1.0f), bv_test_input(ctx, BV_SHAPE(2, 7), 1.0f)};
    bv_gradcheck(ts, "discriminator_loss", disc_fn, 4, in, NULL, 1e-3, 1e-3, 1e-2, 64);
    double rl[2], gl[2];
    bv_tensor *real[2] = {in[0], in[2]}, *gen[2] = {in[1], in[3]};
    bv_tensor *loss = bv_discriminator_loss(ctx, 2, real, gen, rl, gl);
    double total = 0;
    for (int i = 0; i < 2; i++) {
        double r = 0, g = 0;
        for (int64_t j = 0; j < real[i]->numel; j++) {
            r += (1.0 - real[i]->data[j]) * (1.0 - real[i]->data[j]);
            g += (double)gen[i]->data[j] * gen[i]->data[j];
        }
        r /= (double)real[i]->numel;
        g /= (double)gen[i]->numel;
        BV_CHECK(fabs(rl[i] - r) <= 1e-6 * r && fabs(gl[i] - g) <= 1e-6 * g, "item %d: r %g (ref %g) g %g (ref %g)",
                 i, rl[i], r, gl[i], g);
        BV_CHECK(rl[i] == (double)(float)rl[i], "r_losses are .item() of float32 values");
        total += r + g;
    }
    BV_CHECK(fabs(loss->data[0] - total) <= 1e-6 * total, "loss %g, reference %g", loss->data[0], total);
}

static bv_tensor *gen_fn(bv_ctx *ctx, bv_tensor **in, void *user) { return bv_generator_loss(ctx, 3, in, NULL); }

BV_TEST(losses_generator_loss_gradcheck_and_items) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *in[3] = {bv_test_input(ctx, BV_SHAPE(2, 5), 1.0f), bv_test_input(ctx, BV_SHAPE(3), 1.0f),
                        bv_test_input(ctx, BV_SHAPE(1, 2, 4), 1.0f)};
    bv_gradcheck(ts, "generator_loss", gen_fn, 3, in, NULL, 1e-3, 1e-3, 1e-2, 64);
    bv_tensor *items[3];
    bv_tensor *loss = bv_generator_loss(ctx, 3, in, items);
    double total = 0;
    for (int i = 0; i < 3; i++) {
        double s = 0;
        for (int64_t j = 0; j < in[i]->numel; j++) s += (1.0 - in[i]->data[j]) * (1.0 - in[i]->data[j]);
        s /= (double)in[i]->numel;
        BV_CHECK(items[i]->ndim == 0 && fabs(items[i]->data[0] - s) <= 1e-6 * s, "item %d: %g vs %g", i,
                 items[i]->data[0], s);
        total += s;
    }
    BV_CHECK(fabs(loss->data[0] - total) <= 1e-6 * total, "loss %g, reference %g", loss->data[0], total);
    bv_tensor *empty = bv_generator_loss(ctx, 0, NULL, NULL);
    BV_CHECK(empty->ndim == 0 && empty->data[0] == 0, "an empty list gives 0 like upstream");
}

static bv_tensor *kl_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    return bv_kl_loss(ctx, in[0], in[1], in[2], in[3], (bv_tensor *)user);
}

BV_TEST(losses_kl_loss_gradcheck_and_value) {
    bv_ctx *ctx = ts->ctx;
    const int64_t B = 2, H = 3, T = 6;
    bv_tensor *in[4] = {bv_test_input(ctx, BV_SHAPE(B, H, T), 1.0f), bv_test_input(ctx, BV_SHAPE(B, H, T), 0.5f),
                        bv_test_input(ctx, BV_SHAPE(B, H, T), 1.0f), bv_test_input(ctx, BV_SHAPE(B, H, T), 0.5f)};
    bv_tensor *mask = bv_test_mask(ctx, B, T, (int64_t[]){T, T - 2});
    bv_gradcheck(ts, "kl_loss", kl_fn, 4, in, mask, 1e-3, 1e-3, 1e-2, 64);
    bv_tensor *l = kl_fn(ctx, in, mask);
    double num = 0, den = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            double mk = mask->data[b * T + t];
            den += mk;
            for (int64_t h = 0; h < H; h++) {
                int64_t i = (b * H + h) * T + t;
                double zp = in[0]->data[i], lq = in[1]->data[i], mp = in[2]->data[i], lp = in[3]->data[i];
                num += (lp - lq - 0.5 + 0.5 * (zp - mp) * (zp - mp) * exp(-2.0 * lp)) * mk;
            }
        }
    BV_CHECK(fabs(l->data[0] - num / den) <= 1e-5 * fabs(num / den) + 1e-6, "kl %.9g, reference %.9g", l->data[0],
             num / den);
}

static bv_tensor *mel_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    return bv_mel_l1_loss(ctx, in[0], in[1], 45.0f);
}

BV_TEST(losses_mel_l1_loss_gradcheck_and_value) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *in[2] = {bv_test_input(ctx, BV_SHAPE(2, 4, 5), 1.0f), bv_test_input(ctx, BV_SHAPE(2, 4, 5), 1.0f)};
    bv_gradcheck(ts, "mel_l1_loss", mel_fn, 2, in, NULL, 1e-3, 1e-3, 1e-2, 64);
    bv_tensor *l = mel_fn(ctx, in, NULL);
    double s = 0;
    for (int64_t i = 0; i < in[0]->numel; i++) s += fabs((double)in[0]->data[i] - in[1]->data[i]);
    s = s / (double)in[0]->numel * 45.0;
    BV_CHECK(fabs(l->data[0] - s) <= 1e-6 * s, "loss %g, reference %g", l->data[0], s);
}

/* ---------------- shape errors ---------------- */

BV_TEST(losses_shape_mismatch_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *a = bv_test_input(ctx, BV_SHAPE(2, 4, 6), 1.0f), *b = bv_test_input(ctx, BV_SHAPE(2, 4, 5), 1.0f);
    bv_tensor *mask = bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4}), *bad_mask = bv_test_mask(ctx, 2, 5, (int64_t[]){5, 3});
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_kl_loss(ctx, a, a, b, a, mask));
    BV_CHECK(raised && strstr(msg, "kl_loss") && strstr(msg, "[2, 4, 6]") && strstr(msg, "[2, 4, 5]"),
             "kl_loss with mismatched shapes must name the op and both shapes: %s", msg);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_kl_loss(ctx, a, a, a, a, bad_mask));
    BV_CHECK(raised && strstr(msg, "kl_loss") && strstr(msg, "[2, 1, 5]") && strstr(msg, "[2, 4, 6]"),
             "kl_loss with a mask of the wrong length: %s", msg);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_mel_l1_loss(ctx, a, b, 45.0f));
    BV_CHECK(raised && strstr(msg, "mel_l1_loss") && strstr(msg, "[2, 4, 6]") && strstr(msg, "[2, 4, 5]"),
             "mel_l1_loss mismatch: %s", msg);
    bv_tensor *r[1] = {a}, *g[1] = {b};
    raised = BV_EXPECT_ERROR(ctx, msg, bv_feature_loss(ctx, 1, r, g));
    BV_CHECK(raised && strstr(msg, "feature_loss") && strstr(msg, "[2, 4, 6]") && strstr(msg, "[2, 4, 5]"),
             "feature_loss mismatch: %s", msg);
}

/* ---------------- golden ---------------- */

BV_GOLDEN_TEST(golden_D01_feature_loss) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "D01_feature_loss");
    if (!g) return;
    /* config.shapes[d][l]: the nested list structure (discriminators x layers) */
    const cJSON *shapes = cJSON_GetObjectItem(bv_golden_config(g), "shapes"), *disc;
    int n = 0, d = 0;
    cJSON_ArrayForEach(disc, shapes) n += cJSON_GetArraySize(disc);
    BV_CHECK(n > 0, "config.shapes is empty or missing");
    bv_tensor **fr = calloc((size_t)n + 1, sizeof *fr), **fg = calloc((size_t)n + 1, sizeof *fg);
    int k = 0, ok = 1;
    cJSON_ArrayForEach(disc, shapes) {
        for (int l = 0; l < cJSON_GetArraySize(disc); l++, k++) {
            char name[96];
            snprintf(name, sizeof name, "in.fmap_r.%d.%d", d, l);
            fr[k] = bv_golden_input(g, name);
            snprintf(name, sizeof name, "in.fmap_g.%d.%d", d, l);
            fg[k] = bv_golden_input(g, name);
            ok &= fr[k] && fg[k];
        }
        d++;
    }
    if (ok) {
        bv_tensor *loss = bv_feature_loss(ctx, n, fr, fg);
        bv_golden_output(g, "loss", loss);
        bv_backward(ctx, loss, NULL); /* scalar loss, grad_output 1 (manifest note) */
        bv_golden_check_grads(g, NULL, NULL);
    }
    free(fr);
    free(fg);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(golden_D02_discriminator_loss) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "D02_discriminator_loss");
    if (!g) return;
    int n = 0;
    char name[96];
    for (;; n++) {
        snprintf(name, sizeof name, "in.disc_real_outputs.%d", n);
        if (!bv_golden_has(g, name)) break;
    }
    BV_CHECK(n > 0, "no in.disc_real_outputs.* in the case");
    bv_tensor **real = calloc((size_t)n + 1, sizeof *real), **gen = calloc((size_t)n + 1, sizeof *gen);
    double *rl = calloc((size_t)n + 1, sizeof *rl), *gl = calloc((size_t)n + 1, sizeof *gl);
    int ok = 1;
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "in.disc_real_outputs.%d", i);
        real[i] = bv_golden_input(g, name);
        snprintf(name, sizeof name, "in.disc_generated_outputs.%d", i);
        gen[i] = bv_golden_input(g, name);
        ok &= real[i] && gen[i];
    }
    if (ok) {
        bv_tensor *loss = bv_discriminator_loss(ctx, n, real, gen, rl, gl);
        bv_golden_output(g, "loss", loss);
        bv_golden_check_f64(g, "out.r_losses", rl, n);
        bv_golden_check_f64(g, "out.g_losses", gl, n);
        bv_backward(ctx, loss, NULL);
        bv_golden_check_grads(g, NULL, NULL);
    }
    free(real);
    free(gen);
    free(rl);
    free(gl);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(golden_D03_generator_loss) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "D03_generator_loss");
    if (!g) return;
    int n = 0;
    char name[96];
    for (;; n++) {
        snprintf(name, sizeof name, "in.disc_outputs.%d", n);
        if (!bv_golden_has(g, name)) break;
    }
    BV_CHECK(n > 0, "no in.disc_outputs.* in the case");
    bv_tensor **dg = calloc((size_t)n + 1, sizeof *dg), **items = calloc((size_t)n + 1, sizeof *items);
    int ok = 1;
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "in.disc_outputs.%d", i);
        ok &= (dg[i] = bv_golden_input(g, name)) != NULL;
    }
    if (ok) {
        bv_tensor *loss = bv_generator_loss(ctx, n, dg, items);
        bv_golden_output(g, "loss", loss);
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof name, "out.gen_losses.%d", i);
            bv_golden_check(g, name, items[i]);
        }
        bv_backward(ctx, loss, NULL);
        bv_golden_check_grads(g, NULL, NULL);
    }
    free(dg);
    free(items);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(golden_D04_kl_loss) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "D04_kl_loss");
    if (!g) return;
    bv_tensor *z_p = bv_golden_input(g, "in.z_p"), *logs_q = bv_golden_input(g, "in.logs_q"); // [b, h, t]
    bv_tensor *m_p = bv_golden_input(g, "in.m_p"), *logs_p = bv_golden_input(g, "in.logs_p"); // [b, h, t]
    bv_tensor *z_mask = bv_golden_tensor(g, "in.z_mask"); // [b, 1, t] no grad upstream
    if (z_p && logs_q && m_p && logs_p && z_mask) {
        bv_golden_output(g, "loss", bv_kl_loss(ctx, z_p, logs_q, m_p, logs_p, z_mask));
        bv_golden_backward(g); /* gout.loss */
        bv_golden_check_grads(g, NULL, NULL);
    }
    bv_golden_close(g);
}

BV_GOLDEN_TEST(golden_D05_mel_l1_loss) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "D05_mel_l1_loss");
    if (!g) return;
    const double c_mel = bv_golden_cfg_num(g, "c_mel");
    bv_tensor *y_mel = bv_golden_input(g, "in.y_mel"), *y_hat_mel = bv_golden_input(g, "in.y_hat_mel"); // [b, m, t]
    if (y_mel && y_hat_mel) {
        bv_golden_output(g, "loss_mel", bv_mel_l1_loss(ctx, y_mel, y_hat_mel, (float)c_mel));
        bv_golden_backward(g); /* gout.loss_mel */
        bv_golden_check_grads(g, NULL, NULL);
    }
    bv_golden_close(g);
}
