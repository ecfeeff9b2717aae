/* test_wavlm_loss.c - losses.WavLMLoss: finite-difference gradients of forward / generator /
 * discriminator through the tiny WavLM (../shared/golden/wavlm_tiny) and a random WavLMDiscriminator,
 * shape errors, batch 1, and the WavLM-discriminator part of golden case F01_train_step (resampled
 * inputs, hidden states, wd outputs, loss_slm, its grads and norm; loss_lm; loss_lm_gen with the
 * updated wd). */
#include <string.h>

#include "../src/ops/ops.h"
#include "../src/train/optim.h"
#include "../src/train/wavlm_loss.h"
#include "golden.h"

/* ------------------------------------------------------------------ fixtures */

typedef struct fixture {
    bv_wavlm *wavlm;
    bv_params ps;       /* net_wd */
    bv_wavlm_disc wd;
    bv_wavlm_loss wl;
} fixture;

/* Tiny WavLM from the golden folder + a WavLMDiscriminator over all its hidden states with random
 * weights (weight_g around 1 so every layer passes signal). 0 (and a failure) if WavLM is missing. */
static int fixture_open(bv_test_state *ts, fixture *f, int slm_layers, int initial_channel) {
    char dir[1024], err[1024];
    memset(f, 0, sizeof *f);
    if (!bv_golden_need(ts, "wavlm_tiny/config.json", NULL)) return 0;
    snprintf(dir, sizeof dir, "%s/wavlm_tiny", bv_test_golden_dir);
    f->wavlm = bv_wavlm_load(dir, err, sizeof err);
    BV_CHECK(f->wavlm != NULL, "load %s: %s", dir, err);
    if (!f->wavlm) return 0;
    if (slm_layers <= 0) slm_layers = f->wavlm->cfg.num_hidden_layers + 1;
    bv_params_init(&f->ps);
    bv_wavlm_disc_init(&f->wd, &f->ps, "", f->wavlm->cfg.hidden_size, slm_layers, initial_channel);
    for (int i = 0; i < f->ps.n; i++) {
        bv_tensor *p = f->ps.items[i];
        int is_g = strstr(p->name, "weight_g") != NULL;
        for (int64_t j = 0; j < p->numel; j++) {
            float r = (float)bv_rng_normal(&ts->ctx->rng);
            p->data[j] = is_g ? 1.0f + 0.2f * r : 0.3f * r;
        }
    }
    bv_wavlm_loss_init(&f->wl, f->wavlm, &f->wd, 44100, 16000);
    return 1;
}

static void fixture_close(fixture *f) {
    bv_params_free(&f->ps);
    bv_wavlm_free(f->wavlm);
}

/* A waveform-like input [B, T] at 44.1 kHz: a few sines plus noise. */
static bv_tensor *test_wave(bv_ctx *ctx, int64_t B, int64_t T, float freq, int requires_grad) {
    bv_tensor *w = bv_new(ctx, BV_F32, BV_SHAPE(B, T));
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            w->data[b * T + t] = 0.3f * sinf(6.2831853f * freq * (float)(b + 1) * (float)t / 44100.0f) +
                                 0.05f * (float)bv_rng_normal(&ctx->rng);
    w->requires_grad = requires_grad;
    return w;
}

typedef struct gc_user {
    fixture *f;
    bv_tensor *wav, *y_rec; /* constants (y_rec only for the discriminator) */
    int which;              /* 0 forward, 1 generator (in[0] = y_rec), 2 discriminator (in = wd params) */
} gc_user;

static bv_tensor *gc_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    gc_user *u = user;
    switch (u->which) {
    case 0: return bv_wavlm_loss_forward(ctx, &u->f->wl, u->wav, in[0]);
    case 1: return bv_wavlm_loss_generator(ctx, &u->f->wl, in[0], NULL);
    default: return bv_wavlm_loss_discriminator(ctx, &u->f->wl, u->wav, u->y_rec, NULL, NULL);
    }
}

/* ------------------------------------------------------------------ unit tests (tiny WavLM) */

BV_GOLDEN_TEST(wavlm_loss_forward_gradcheck) {
    fixture f;
    if (!fixture_open(ts, &f, 0, 4)) return;
    bv_ctx *ctx = ts->ctx;
    gc_user u = {&f, test_wave(ctx, 2, 2000, 220.0f, 1), NULL, 0};
    bv_tensor *y_rec = test_wave(ctx, 2, 2000, 330.0f, 1);
    bv_gradcheck(ts, "WavLMLoss.forward d/dy_rec", gc_fn, 1, &y_rec, &u, 1e-3, 2e-4, 1e-2, 24);
    BV_CHECK(u.wav->grad == NULL, "the real waveform (no_grad side) received a gradient");
    fixture_close(&f);
}

BV_GOLDEN_TEST(wavlm_loss_generator_gradcheck) {
    fixture f;
    if (!fixture_open(ts, &f, 0, 4)) return;
    bv_ctx *ctx = ts->ctx;
    gc_user u = {&f, NULL, NULL, 1};
    bv_tensor *in[3] = {test_wave(ctx, 2, 2000, 330.0f, 1), f.wd.pre.weight_v, f.wd.post.bias};
    bv_gradcheck(ts, "WavLMLoss.generator d/dy_rec, d/dwd", gc_fn, 3, in, &u, 1e-3, 2e-4, 1e-2, 24);
    fixture_close(&f);
}

/* Everything before wd runs under no_grad: gradients reach wd's parameters only. */
BV_GOLDEN_TEST(wavlm_loss_discriminator_gradcheck) {
    fixture f;
    if (!fixture_open(ts, &f, 0, 4)) return;
    bv_ctx *ctx = ts->ctx;
    gc_user u = {&f, test_wave(ctx, 2, 2000, 220.0f, 1), test_wave(ctx, 2, 2000, 330.0f, 1), 2};
    bv_tensor *loss = bv_wavlm_loss_discriminator(ctx, &f.wl, u.wav, u.y_rec, NULL, NULL);
    bv_backward(ctx, loss, NULL);
    bv_tape_cut(ctx, 0);
    BV_CHECK(u.wav->grad == NULL && u.y_rec->grad == NULL, "a waveform received a gradient through no_grad WavLM");
    bv_tensor *in[3] = {f.wd.convs[1].weight_g, f.wd.convs[2].weight_v, f.wd.post.bias};
    bv_gradcheck(ts, "WavLMLoss.discriminator d/dwd", gc_fn, 3, in, &u, 1e-3, 2e-4, 1e-2, 24);
    fixture_close(&f);
}

/* train_ms passes y.squeeze(): [B, 1, T] reads as [B, T]; batch 1 works (upstream's squeeze would
 * hand transformers a 1-d input there) and gives batch item 0's values. */
BV_GOLDEN_TEST(wavlm_loss_batch1_and_3d_input) {
    fixture f;
    if (!fixture_open(ts, &f, 0, 4)) return;
    bv_ctx *ctx = ts->ctx;
    bv_tensor *wav = test_wave(ctx, 2, 2000, 220.0f, 0), *y_rec = test_wave(ctx, 2, 2000, 330.0f, 0);
    bv_tensor *d2, *d3, *d1;
    bv_tensor *l2 = bv_wavlm_loss_generator(ctx, &f.wl, y_rec, &d2);
    bv_tensor *l3 = bv_wavlm_loss_generator(ctx, &f.wl, bv_reshape(ctx, y_rec, BV_SHAPE(2, 1, 2000)), &d3);
    BV_CHECK(l2->data[0] == l3->data[0] && bv_same_shape(d2, d3), "[B, 1, T] input differs from [B, T]");
    bv_tensor *y0 = bv_slice(ctx, y_rec, 0, 0, 1, 1), *w0 = bv_slice(ctx, wav, 0, 0, 1, 1);
    bv_wavlm_loss_generator(ctx, &f.wl, y0, &d1);
    BV_CHECK(d1->shape[0] == 1 && d1->shape[1] == d2->shape[1], "batch-1 wd output shape");
    float worst = 0;
    for (int64_t j = 0; j < d1->numel; j++) worst = fmaxf(worst, fabsf(d1->data[j] - d2->data[j]));
    BV_CHECK(worst < 1e-4f, "batch-1 wd output differs from batch item 0 by %g", worst);
    bv_tensor *lf = bv_wavlm_loss_forward(ctx, &f.wl, w0, y0);
    bv_tensor *ld = bv_wavlm_loss_discriminator(ctx, &f.wl, w0, y0, NULL, NULL);
    BV_CHECK(lf->ndim == 0 && ld->ndim == 0 && isfinite(lf->data[0]) && isfinite(ld->data[0]), "batch-1 losses");
    fixture_close(&f);
}

BV_GOLDEN_TEST(wavlm_loss_shape_errors) {
    fixture f;
    if (!fixture_open(ts, &f, 0, 4)) return;
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *wav = test_wave(ctx, 2, 2000, 220.0f, 0), *shorter = test_wave(ctx, 2, 1900, 330.0f, 0);
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_wavlm_loss_forward(ctx, &f.wl, wav, shorter));
    BV_CHECK(raised && strstr(msg, "WavLMLoss") && strstr(msg, "[2, 2000]") && strstr(msg, "[2, 1900]"),
             "forward length mismatch: %s", raised ? msg : "no error");
    raised = BV_EXPECT_ERROR(ctx, msg, bv_wavlm_loss_discriminator(ctx, &f.wl, wav, shorter, NULL, NULL));
    BV_CHECK(raised && strstr(msg, "WavLMLoss") && strstr(msg, "[2, 2000]") && strstr(msg, "[2, 1900]"),
             "discriminator length mismatch: %s", raised ? msg : "no error");
    bv_tensor *flat = bv_new(ctx, BV_F32, BV_SHAPE(2000));
    memset(flat->data, 0, sizeof(float) * 2000);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_wavlm_loss_generator(ctx, &f.wl, flat, NULL));
    BV_CHECK(raised && strstr(msg, "WavLMLoss") && strstr(msg, "[2000]"), "1-d input: %s", raised ? msg : "no error");
    bv_tensor *three = bv_new(ctx, BV_F32, BV_SHAPE(2, 3, 700));
    memset(three->data, 0, sizeof(float) * 4200);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_wavlm_loss_generator(ctx, &f.wl, three, NULL));
    BV_CHECK(raised && strstr(msg, "WavLMLoss") && strstr(msg, "[2, 3, 700]"), "[B, 3, T] input: %s",
             raised ? msg : "no error");
    fixture_close(&f);
    /* a discriminator built for fewer hidden states than WavLM returns: wd's pre conv rejects it */
    if (!fixture_open(ts, &f, 2, 4)) return;
    raised = BV_EXPECT_ERROR(ctx, msg, bv_wavlm_loss_generator(ctx, &f.wl, wav, NULL));
    BV_CHECK(raised && strstr(msg, "192") && strstr(msg, "128"), "wd channel mismatch: %s", raised ? msg : "no error");
    fixture_close(&f);
}

/* ------------------------------------------------------------------ golden: F01's WavLM parts */

/* README comparison with the tolerance group the manifest gives this very tensor ("loss",
 * "forward", ...): golden.c's, with the expected values read at their stored precision. */
static void check_grouped(bv_test_state *ts, bv_golden *g, const char *name, const double *a, int64_t n) {
    BV_CHECK(bv_golden_manifest_tensor(g, name) != NULL, "%s: no manifest entry", name);
    bv_golden_check_f64(g, name, a, n);
}

static void check_tensor(bv_test_state *ts, bv_golden *g, const char *name, const bv_tensor *t) {
    (void)ts;
    bv_golden_check(g, name, t);
}

static const cJSON *json_path(const cJSON *j, const char *a, const char *b, const char *c) {
    j = cJSON_GetObjectItem(j, a);
    if (b) j = cJSON_GetObjectItem(j, b);
    if (c) j = cJSON_GetObjectItem(j, c);
    return j;
}

static int slm_int(bv_golden *g, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(json_path(bv_golden_config(g), "config", "model", "slm"), key);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

/* WavLMLoss.discriminator(y.squeeze(), y_hat.detach().squeeze()) with the initial net_wd, its
 * backward and grad norm; WavLMLoss.forward(y, y_hat); WavLMLoss.generator(y_hat) with the net_wd
 * the WD step produced (after.net_wd.*). y = fwd.y_sliced, y_hat = fwd.y_hat. */
static void run_wd_parts(bv_test_state *ts, bv_golden *g, const bv_wavlm_loss *wl, bv_params *ps) {
    bv_ctx *ctx = ts->ctx;
    char nm[128];
    int n = bv_wavlm_loss_n_hidden(wl);
    bv_tensor *y = bv_golden_tensor(g, "fwd.y_sliced"), *y_hat = bv_golden_tensor(g, "fwd.y_hat"); // [B, 1, T]
    if (!y || !y_hat) return;
    /* the WD step: WavLM on both under no_grad, then wd */
    bv_tensor *hs_r[BV_WAVLM_LOSS_MAX_HIDDEN], *hs_g[BV_WAVLM_LOSS_MAX_HIDDEN], *w16_r, *w16_g, *d_r, *d_g;
    bv_no_grad_begin(ctx);
    bv_wavlm_loss_embed(ctx, wl, y, hs_r, &w16_r);
    bv_wavlm_loss_embed(ctx, wl, y_hat, hs_g, &w16_g);
    bv_no_grad_end(ctx);
    check_tensor(ts, g, "wdstep.wavlm_input.wav", w16_r);
    check_tensor(ts, g, "wdstep.wavlm_input.y_rec", w16_g);
    for (int l = 0; l < n; l++) {
        snprintf(nm, sizeof nm, "wdstep.wavlm_hidden.wav.%d", l);
        check_tensor(ts, g, nm, hs_r[l]);
        snprintf(nm, sizeof nm, "wdstep.wavlm_hidden.y_rec.%d", l);
        check_tensor(ts, g, nm, hs_g[l]);
    }
    bv_params_zero_grad(ps);
    bv_tensor *loss_slm = bv_wavlm_loss_discriminator(ctx, wl, y, y_hat, &d_r, &d_g);
    check_tensor(ts, g, "wdstep.net_wd.y_d_rs", d_r);
    check_tensor(ts, g, "wdstep.net_wd.y_d_gs", d_g);
    check_tensor(ts, g, "wdstep.loss_slm", loss_slm);
    bv_backward(ctx, loss_slm, NULL);
    bv_tape_cut(ctx, 0);
    double norm = bv_clip_grad_value(ps, NULL, NULL);
    check_grouped(ts, g, "wdstep.grad_norm_wd", &norm, 1);
    for (int i = 0; i < ps->n; i++) {
        snprintf(nm, sizeof nm, "grad.net_wd.%s", ps->items[i]->name);
        bv_golden_check(g, nm, bv_from_f32(ctx, ps->items[i]->ndim, ps->items[i]->shape, ps->items[i]->grad));
    }
    /* the G step's WavLM terms */
    bv_tensor *y_hat_g = bv_golden_input(g, "fwd.y_hat");
    check_tensor(ts, g, "gstep.loss_lm", bv_wavlm_loss_forward(ctx, wl, y, y_hat_g));
    bv_golden_load_params(g, ps, "after.net_wd.");
    bv_tensor *d_gen;
    bv_tensor *loss_lm_gen = bv_wavlm_loss_generator(ctx, wl, y_hat_g, &d_gen);
    check_tensor(ts, g, "gstep.net_wd.y_df_hat_g", d_gen);
    check_tensor(ts, g, "gstep.loss_lm_gen", loss_lm_gen);
}

BV_GOLDEN_TEST(wavlm_loss_F01_train_step_wd_parts) {
    if (!bv_golden_need(ts, "wavlm_tiny/config.json", NULL)) return;
    bv_golden *g = bv_golden_open(ts, ts->ctx, "F01_train_step");
    if (!g) return;
    char dir[1024], err[1024];
    snprintf(dir, sizeof dir, "%s/wavlm_tiny", bv_test_golden_dir);
    bv_wavlm *wavlm = bv_wavlm_load(dir, err, sizeof err);
    BV_CHECK(wavlm != NULL, "load %s: %s", dir, err);
    int hidden = slm_int(g, "hidden"), nlayers = slm_int(g, "nlayers"), init_ch = slm_int(g, "initial_channel");
    int slm_sr = slm_int(g, "sr");
    const cJSON *sr = json_path(bv_golden_config(g), "config", "data", "sampling_rate");
    int cfg_ok = hidden > 0 && nlayers > 0 && init_ch > 0 && slm_sr > 0 && cJSON_IsNumber(sr);
    BV_CHECK(cfg_ok, "config.config.model.slm / data.sampling_rate missing");
    if (wavlm && cfg_ok) {
        BV_CHECK(wavlm->cfg.hidden_size == hidden && wavlm->cfg.num_hidden_layers + 1 == nlayers,
                 "wavlm_tiny does not match config.model.slm");
        bv_params ps;
        bv_params_init(&ps);
        bv_wavlm_disc wd;
        bv_wavlm_disc_init(&wd, &ps, "", hidden, nlayers, init_ch);
        bv_golden_load_params(g, &ps, "param.net_wd.");
        bv_wavlm_loss wl;
        bv_wavlm_loss_init(&wl, wavlm, &wd, sr->valueint, slm_sr);
        run_wd_parts(ts, g, &wl, &ps);
        bv_params_free(&ps);
    }
    bv_wavlm_free(wavlm);
    bv_golden_ignore(g, "*", "this test covers the WavLM discriminator parts of F01 (wdstep.*, gstep.net_wd.*, "
                             "gstep.loss_lm*, net_wd); the rest of F01 is compared by train_step_golden_F01_train_step");
    bv_golden_close(g);
}
