/* test_train_step.c - one train_ms.train_and_evaluate step (src/train/train_step.c) against golden
 * case F01_train_step: every fwd./sub./dstep./wdstep./gstep. tensor (through the step's probe, with
 * the tolerance group the manifest gives each tensor), every grad.<net>.<key> (p.grad when its
 * optimizer stepped), every after.<net>.<key> and net_g's after-step parameters from
 * checkpoints/G_0.pth ['model'] (README after_step rule), lr.after_epoch1; the golden harness fails
 * the test if any stored tensor is left unchecked (tests/golden.h). The same step without a
 * duration discriminator keeps every F01 value that discriminator cannot change. Plus: the
 * noise-scaled MAS schedule, bert freezing, the step's bookkeeping (tape, requires_grad), and config
 * errors. */
#include <stdlib.h>
#include <string.h>

#include "../src/io/pth.h"
#include "../src/core/backend.h"
#include "../src/ops/dispatch.h"
#include "../src/ops/ops.h"
#include "../src/train/train_step.h"
#include "f01_step.h"
#include "golden.h"
#include "golden_disc.h"

/* ------------------------------------------------------------------ manifest helpers */

typedef struct f01 {
    bv_test_state *ts;
    bv_golden *g;
} f01;

static const cJSON *group_tolerance(const f01 *c, const char *group) {
    return cJSON_GetObjectItem(cJSON_GetObjectItem(bv_golden_case_json(c->g), "tolerance_groups"), group);
}

static double tol_num(const cJSON *tol, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(tol, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* README rule |a - e| <= atol * max(1, max|e|) + rtol * |e| with the tolerance group the manifest
 * gives this tensor ("forward", "loss", "exact", "grad"): golden.c's comparison. */
static void check_values(f01 *c, const char *name, const double *a, int64_t n) {
    bv_test_state *ts = c->ts;
    BV_CHECK(bv_golden_manifest_tensor(c->g, name) != NULL, "%s: not in the manifest", name);
    bv_golden_check_f64(c->g, name, a, n);
}

static void check_tensor(f01 *c, const char *name, const bv_tensor *t) { bv_golden_check(c->g, name, t); }

/* README, F01 after_step: AdamW's first step is ~ -lr*sign(g), so an element whose gradient sits at
 * fp32-noise level may flip by 2*lr: at most max_mismatch_fraction of the elements may lie outside
 * atol + rtol*|e|, and none beyond hard_atol. The fraction is counted over a whole network: some
 * tensors have a gradient that is mathematically zero and numerically noise in every
 * implementation, torch's included (attention conv_k.bias: softmax ignores a per-query constant),
 * so every element of such a tensor may flip. */
typedef struct after_tally {
    const char *net;
    int64_t n, mismatched, beyond;
    double worst;
    const char *worst_name;
    int64_t worst_i;
    double worst_a, worst_e;
} after_tally;

static void tally_after_step(f01 *c, after_tally *t, const char *name, const float *a, const float *e, int64_t n) {
    const cJSON *tol = group_tolerance(c, "after_step");
    double atol = tol_num(tol, "atol"), rtol = tol_num(tol, "rtol"), hard = tol_num(tol, "hard_atol");
    int64_t mismatched = 0;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double err = fabs((double)a[i] - (double)e[i]);
        if (!(err <= atol + rtol * fabs((double)e[i]))) mismatched++;
        if (!(err <= hard)) t->beyond++;
        if (!(err <= worst)) worst = err;
        if (!(err <= t->worst)) {
            t->worst = err;
            t->worst_name = name;
            t->worst_i = i;
            t->worst_a = a[i];
            t->worst_e = e[i];
        }
    }
    t->n += n;
    t->mismatched += mismatched;
    if (bv_test_verbose || !(worst <= hard))
        fprintf(stderr, "  %s %s: %lld/%lld outside atol %g + rtol %g|e|, max err %.3g (hard_atol %g)\n",
                worst <= hard ? "..  " : "FAIL", name, (long long)mismatched, (long long)n, atol, rtol, worst, hard);
}

static void finish_after_step(f01 *c, after_tally *t) {
    bv_test_state *ts = c->ts;
    const cJSON *tol = group_tolerance(c, "after_step");
    double frac = tol_num(tol, "max_mismatch_fraction"), hard = tol_num(tol, "hard_atol");
    BV_CHECK(frac >= 0 && hard >= 0, "manifest tolerance_groups.after_step is incomplete");
    int ok = t->n > 0 && t->beyond == 0 && (double)t->mismatched <= frac * (double)t->n;
    if (!ok) {
        fprintf(stderr, "  FAIL %s after step: %lld/%lld elements outside atol+rtol|e| (allowed fraction %g), %lld "
                "beyond hard_atol %g; worst %s[%lld] got %.9g expected %.9g\n", t->net, (long long)t->mismatched,
                (long long)t->n, frac, (long long)t->beyond, hard, t->worst_name ? t->worst_name : "-",
                (long long)t->worst_i, t->worst_a, t->worst_e);
        ts->failed = 1;
    } else if (bv_test_verbose) {
        fprintf(stderr, "  ok   %s after step: %lld/%lld elements outside atol+rtol|e| (%.2g%% of the allowed %g), "
                "max err %.3g in %s (hard_atol %g)\n", t->net, (long long)t->mismatched, (long long)t->n,
                100.0 * (double)t->mismatched / (frac * (double)t->n), frac, t->worst, t->worst_name, hard);
    }
}

/* The step's tap: compare every intermediate the case stores, under each name it is stored as. */
static void probe_cb(void *user, const char *name, bv_tensor *t) {
    f01 *c = user;
    /* sub.* results that are the same tensors as net_g's outputs */
    static const char *const alias[][2] = {
        {"fwd.hidden_x", "sub.enc_p.x"}, {"fwd.x_mask", "sub.enc_p.x_mask"}, {"fwd.z", "sub.enc_q.z"},
        {"fwd.m_q", "sub.enc_q.m_q"},    {"fwd.logs_q", "sub.enc_q.logs_q"}, {"fwd.z_mask", "sub.enc_q.y_mask"},
        {"fwd.logw", "sub.dp.logw"},     {"fwd.y_hat", "sub.dec.o"},         {"fwd.logw_sdp", "sub.sdp.reverse_logw"},
    };
    if (bv_golden_has(c->g, name)) check_tensor(c, name, t);
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (!strcmp(name, alias[i][0]) && bv_golden_has(c->g, alias[i][1])) check_tensor(c, alias[i][1], t);
}

/* ------------------------------------------------------------------ building the F01 setup */

static int layout_from_manifest(bv_test_state *ts, bv_golden *g, bv_mpd_layout *l) {
    int rc = bv_golden_mpd_layout(cJSON_GetObjectItem(bv_golden_config(g), "net_d"), l);
    BV_CHECK(rc == 0, "config.net_d: DiscriminatorS/P tables or periods missing or too deep");
    return rc;
}

/* The config F01 was made with (manifest config.config = checkpoints/config.json), with the dropout
 * rates the golden generator used (manifest config.dropout: every nn.Dropout p set to 0). */
static int config_from_manifest(bv_test_state *ts, bv_golden *g, bv_config *cfg) {
    char err[512];
    const cJSON *mc = bv_golden_config(g);
    if (bv_config_from_json(cfg, cJSON_GetObjectItem(mc, "config"), "F01_train_step manifest config", err,
                            sizeof err)) {
        BV_CHECK(0, "%s", err);
        return -1;
    }
    const cJSON *drop = cJSON_GetObjectItem(mc, "dropout");
    BV_CHECK(cJSON_IsString(drop) && strstr(drop->valuestring, "set to 0"), "config.dropout note changed");
    cfg->model.sdp_p_dropout = cfg->model.dp_p_dropout = cfg->model.dur_disc_p_dropout = 0.0f;
    return 0;
}

typedef struct setup {
    bv_config cfg;
    bv_wavlm *wavlm;
    bv_train_state st;
    bv_train_batch batch;
    int ok;
} setup;

/* Everything F01 starts from: config, tiny WavLM, the four nets with param.<net>.*, the batch,
 * fresh schedulers (epoch config.epoch), global_step config.global_step_before, replayed noise. */
static void setup_open(bv_test_state *ts, bv_golden *g, setup *s, int freeze_zh_bert, int use_dur_disc) {
    memset(s, 0, sizeof *s);
    char dir[1024], err[1024];
    bv_mpd_layout layout;
    if (config_from_manifest(ts, g, &s->cfg)) return;
    s->cfg.train.freeze_ZH_bert = freeze_zh_bert;
    if (!use_dur_disc) s->cfg.model.use_duration_discriminator = 0;
    if (layout_from_manifest(ts, g, &layout)) return;
    if (!bv_golden_need(ts, "wavlm_tiny/config.json", NULL)) return;
    snprintf(dir, sizeof dir, "%s/wavlm_tiny", bv_test_golden_dir);
    s->wavlm = bv_wavlm_load(dir, err, sizeof err);
    BV_CHECK(s->wavlm != NULL, "load %s: %s", dir, err);
    if (!s->wavlm) return;
    int rc = bv_train_state_init(&s->st, &s->cfg, s->wavlm, &layout, err, sizeof err);
    BV_CHECK(rc == 0, "bv_train_state_init: %s", err);
    s->st.keep_grads = 1; /* every p.grad is compared after the step */
    if (rc) return;
    bv_golden_load_params(g, &s->st.ps_g, "param.net_g.");
    bv_golden_load_params(g, &s->st.ps_d, "param.net_d.");
    if (s->st.net_dur_disc) bv_golden_load_params(g, &s->st.ps_dur, "param.net_dur_disc.");
    bv_golden_load_params(g, &s->st.ps_wd, "param.net_wd.");
    rc = bv_train_state_start_schedulers(&s->st, bv_golden_cfg_int(g, "epoch"), err, sizeof err);
    BV_CHECK(rc == 0, "schedulers: %s", err);
    s->st.global_step = bv_golden_cfg_int(g, "global_step_before");
    bv_train_batch *b = &s->batch;
    b->x = bv_golden_tensor(g, "in.x");
    b->x_lengths = bv_golden_tensor(g, "in.x_lengths");
    b->spec = bv_golden_tensor(g, "in.spec");
    b->spec_lengths = bv_golden_tensor(g, "in.spec_lengths");
    b->y = bv_golden_tensor(g, "in.y");
    b->y_lengths = bv_golden_tensor(g, "in.y_lengths");
    b->speakers = bv_golden_tensor(g, "in.speakers");
    b->tone = bv_golden_tensor(g, "in.tone");
    b->language = bv_golden_tensor(g, "in.language");
    b->bert = bv_golden_tensor(g, "in.bert");
    b->ja_bert = bv_golden_tensor(g, "in.ja_bert");
    b->en_bert = bv_golden_tensor(g, "in.en_bert");
    bv_golden_replay_noise(g);
    s->ok = !ts->failed;
}

static void setup_close(setup *s) {
    if (s->st.net_g) bv_train_state_free(&s->st);
    bv_wavlm_free(s->wavlm);
    bv_config_free(&s->cfg);
}

/* ------------------------------------------------------------------ golden F01 */

/* The per-discriminator losses of the MPD step and its grad norm. */
static void check_mpd_results(f01 *c, const bv_train_result *r) {
    char nm[96];
    for (int i = 0; i < r->n_disc; i++) {
        snprintf(nm, sizeof nm, "dstep.losses_disc_r.%d", i);
        check_values(c, nm, &r->losses_disc_r[i], 1);
        snprintf(nm, sizeof nm, "dstep.losses_disc_g.%d", i);
        check_values(c, nm, &r->losses_disc_g[i], 1);
    }
    check_values(c, "dstep.grad_norm_d", &r->grad_norm_d, 1);
}

static void check_f64_results(f01 *c, const bv_train_result *r) {
    char nm[96];
    check_mpd_results(c, r);
    for (int b = 0; b < r->n_dur; b++) {
        snprintf(nm, sizeof nm, "dstep.losses_dur_disc_r.%d", b);
        check_values(c, nm, &r->losses_dur_disc_r[b], 1);
        snprintf(nm, sizeof nm, "dstep.losses_dur_disc_g.%d", b);
        check_values(c, nm, &r->losses_dur_disc_g[b], 1);
    }
    check_values(c, "dstep.grad_norm_dur", &r->grad_norm_dur, 1);
    check_values(c, "wdstep.grad_norm_wd", &r->grad_norm_wd, 1);
    check_values(c, "gstep.grad_norm_g", &r->grad_norm_g, 1);
}

/* grad.<net>.<key> (p.grad when the net's optimizer stepped) for every parameter of the store. */
static void check_grads(f01 *c, const char *net, bv_params *ps) {
    char nm[512];
    bv_ctx *ctx = bv_golden_ctx(c->g);
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *p = ps->items[i];
        snprintf(nm, sizeof nm, "grad.%s.%s", net, p->name);
        check_tensor(c, nm, bv_from_f32(ctx, p->ndim, p->shape, p->grad));
    }
}

static void check_after(f01 *c, const char *net, bv_params *ps) {
    bv_test_state *ts = c->ts;
    char nm[512];
    after_tally t = {.net = net};
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *p = ps->items[i];
        snprintf(nm, sizeof nm, "after.%s.%s", net, p->name);
        bv_tensor *e = bv_golden_tensor(c->g, nm);
        if (!e || !bv_same_shape(e, p)) {
            BV_CHECK(0, "%s: missing or shape differs", nm);
            continue;
        }
        tally_after_step(c, &t, e->name, p->data, e->data, p->numel);
    }
    finish_after_step(c, &t);
}

/* net_g after the step = checkpoints/G_0.pth ['model'] (README: not duplicated in the case). */
static void check_after_g(f01 *c, bv_params *ps) {
    bv_test_state *ts = c->ts;
    char path[1024], err[1024];
    if (!bv_golden_need(ts, "checkpoints/G_0.pth", NULL)) return;
    snprintf(path, sizeof path, "%s/checkpoints/G_0.pth", bv_test_golden_dir);
    bv_pth_dict d;
    if (bv_pth_load_state_dict(path, "model", &d, err, sizeof err)) {
        BV_CHECK(0, "%s", err);
        return;
    }
    BV_CHECK(d.n == ps->n, "G_0.pth model has %d tensors, net_g %d", d.n, ps->n);
    after_tally t = {.net = "net_g (G_0.pth)"};
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *p = ps->items[i];
        const bv_pth_tensor *e = bv_pth_dict_find(&d, p->name);
        int same = e && e->dtype == BV_ST_F32 && e->ndim == p->ndim;
        for (int k = 0; same && k < p->ndim; k++) same = e->shape[k] == p->shape[k];
        if (!same) {
            BV_CHECK(0, "G_0.pth: %s missing, not F32 or shape differs", p->name);
            continue;
        }
        tally_after_step(c, &t, e->name, p->data, e->data, p->numel);
    }
    finish_after_step(c, &t);
    bv_pth_dict_free(&d);
}

static void check_lr(f01 *c, bv_train_state *st) {
    bv_train_state_epoch_end(st);
    double lr[4] = {st->optim_g.lr, st->optim_d.lr, st->optim_wd.lr, st->net_dur_disc ? st->optim_dur.lr : NAN};
    check_values(c, "lr.after_epoch1", lr, 4);
}

/* F01's step (f01_step.h): every check with o->check; tests/test_ddp.c runs it on each MPI rank
 * with the all-reduce as o->sync. */
void bv_test_f01_step(bv_test_state *ts, const bv_test_f01_opts *o) {
    int check = o->check;
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, o->case_name ? o->case_name : "F01_train_step");
    if (!g) return;
    f01 c = {ts, g};
    setup s;
    setup_open(ts, g, &s, 0, 1);
    if (s.ok) {
        if (check) {
            s.st.probe = probe_cb;
            s.st.probe_user = &c;
        } else if (o->probe) {
            s.st.probe = o->probe;
            s.st.probe_user = o->probe_user;
        }
        s.st.grad_sync = o->sync;
        if (o->prepare) o->prepare(ts, ctx, &s.batch);
        bv_train_result r;
        int64_t tape0 = ctx->tape_len;
        bv_train_step(&s.st, ctx, &s.batch, &r);
        const bv_rng *rng = &ctx->rng;
        BV_CHECK(rng->next_replay == rng->n_replay, "%d of %d recorded draws consumed", rng->next_replay,
                 rng->n_replay);
        BV_CHECK(fabsf(r.mas_noise_scale - (float)bv_golden_cfg_num(g, "current_mas_noise_scale")) == 0,
                 "current_mas_noise_scale %g", r.mas_noise_scale);
        BV_CHECK(ctx->tape_len == tape0, "tape left at %lld (entry %lld)", (long long)ctx->tape_len, (long long)tape0);
        if (check) {
            check_f64_results(&c, &r);
            check_grads(&c, "net_dur_disc", &s.st.ps_dur);
            check_grads(&c, "net_d", &s.st.ps_d);
            check_grads(&c, "net_wd", &s.st.ps_wd);
            check_grads(&c, "net_g", &s.st.ps_g);
            check_after(&c, "net_dur_disc", &s.st.ps_dur);
            check_after(&c, "net_d", &s.st.ps_d);
            check_after(&c, "net_wd", &s.st.ps_wd);
            check_after_g(&c, &s.st.ps_g);
            check_lr(&c, &s.st);
        }
        if (o->after) o->after(ts, &s.st, &r);
    }
    if (!check) bv_golden_ignore(g, "*", o->unchecked_why);
    setup_close(&s);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(train_step_golden_F01_train_step) { bv_test_f01_step(ts, &(bv_test_f01_opts){.check = 1}); }

/* ------------------------------------------------------------------ behaviour */

/* F01's golden case and setup_open on it; NULL (nothing opened) when the case is absent. */
static bv_golden *f01_open(bv_test_state *ts, setup *s, int freeze_zh_bert, int use_dur_disc) {
    bv_golden *g = bv_golden_open(ts, ts->ctx, "F01_train_step");
    if (g) setup_open(ts, g, s, freeze_zh_bert, use_dur_disc);
    return g;
}


/* train.freeze_ZH_bert: enc_p.bert_proj.* stay as they were (weight decay included: AdamW skips
 * them) and have no grad; the discriminators are trainable again after the step; the MAS noise
 * scale follows global_step. */
BV_GOLDEN_TEST(train_step_freeze_bert_and_bookkeeping) {
    bv_ctx *ctx = ts->ctx;
    setup s;
    bv_golden *g = f01_open(ts, &s, 1, 1);
    if (!g) return;
    if (s.ok) {
        bv_tensor *w = bv_params_get(&s.st.ps_g, "enc_p.bert_proj.weight");
        bv_tensor *other = bv_params_get(&s.st.ps_g, "enc_p.ja_bert_proj.weight");
        BV_CHECK(w && other, "enc_p.bert_proj.weight / ja_bert_proj.weight missing");
        if (w && other) {
            float *before = malloc(sizeof(float) * (size_t)w->numel);
            memcpy(before, w->data, sizeof(float) * (size_t)w->numel);
            float o0 = other->data[0];
            bv_train_result r;
            s.st.global_step = 1000;
            bv_train_step(&s.st, ctx, &s.batch, &r);
            float want = bv_train_mas_noise_scale(bv_synth_mas_noise_scale_initial(s.st.net_g),
                                                  bv_synth_noise_scale_delta(s.st.net_g), 1000);
            BV_CHECK(r.mas_noise_scale == want && s.st.net_g->current_mas_noise_scale == want,
                     "step 1000 used noise scale %g, want %g", r.mas_noise_scale, want);
            BV_CHECK(!memcmp(before, w->data, sizeof(float) * (size_t)w->numel), "frozen bert_proj changed");
            float gmax = 0;
            for (int64_t i = 0; i < w->numel; i++) gmax = fmaxf(gmax, fabsf(w->grad[i]));
            BV_CHECK(gmax == 0, "frozen bert_proj got a gradient (max %g)", gmax);
            BV_CHECK(other->data[0] != o0, "ja_bert_proj (not frozen) did not move");
            BV_CHECK(isfinite(r.loss_gen_all) && isfinite(r.grad_norm_g), "loss %g norm %g", r.loss_gen_all,
                     r.grad_norm_g);
            int trainable = 1;
            bv_params *stores[3] = {&s.st.ps_d, &s.st.ps_dur, &s.st.ps_wd};
            for (int k = 0; k < 3; k++)
                for (int i = 0; i < stores[k]->n; i++) trainable &= stores[k]->items[i]->requires_grad;
            BV_CHECK(trainable, "a discriminator parameter was left frozen after the step");
            free(before);
        }
    }
    setup_close(&s);
    bv_golden_ignore(g, "*", "the step runs with freeze_ZH_bert at global_step 1000 (another MAS noise scale), so no "
                             "value is F01's; F01 is compared by train_step_golden_F01_train_step");
    bv_golden_close(g);
}

/* keep_grads 0 (bv2 train's mode): net_d's grads lie over net_g's grads outside the flow. The step's
 * results are bit-identical to keep_grads 1's (grads in blocks of their own), so the overlay is zeroed
 * where it changes hands (before net_g's final backward: net_d's dead grads must not reach net_g's
 * update), and F01's updated parameters hold within their tolerances. */
BV_GOLDEN_TEST(train_step_grad_overlay_matches_separate_grads) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "F01_train_step");
    if (!g) return;
    f01 c = {ts, g};
    setup s[2];
    bv_train_result r[2];
    int ok = 1;
    for (int k = 0; k < 2 && ok; k++) {
        setup_open(ts, g, &s[k], 0, 1);
        ok = s[k].ok;
        if (!ok) break;
        s[k].st.keep_grads = k;
        bv_train_step(&s[k].st, ctx, &s[k].batch, &r[k]);
        BV_CHECK(s[k].st.ps_d.grad_borrowed == !k, "keep_grads %d: net_d's grads %s", k,
                 s[k].st.ps_d.grad_borrowed ? "overlaid" : "apart");
    }
    if (ok) {
        BV_CHECK(s[0].st.overlay_checked, "the overlaid step did not check loss_kl's backward");
        BV_CHECK(r[0].loss_gen_all == r[1].loss_gen_all && r[0].grad_norm_g == r[1].grad_norm_g &&
                     r[0].grad_norm_d == r[1].grad_norm_d,
                 "results differ: loss_gen_all %.9g / %.9g, grad_norm_g %.9g / %.9g", r[0].loss_gen_all,
                 r[1].loss_gen_all, r[0].grad_norm_g, r[1].grad_norm_g);
        bv_params *ps[2][2] = {{&s[0].st.ps_g, &s[0].st.ps_d}, {&s[1].st.ps_g, &s[1].st.ps_d}};
        for (int n = 0; n < 2; n++)
            for (int i = 0; i < ps[0][n]->n; i++) {
                const bv_tensor *a = ps[0][n]->items[i], *b = ps[1][n]->items[i];
                BV_CHECK(!memcmp(a->data, b->data, sizeof(float) * (size_t)a->numel), "%s differs after the step",
                         a->name);
            }
        check_after(&c, "net_d", &s[0].st.ps_d);
        check_after_g(&c, &s[0].st.ps_g);
    }
    for (int k = 0; k < 2; k++) setup_close(&s[k]);
    bv_golden_ignore(g, "*", "F01 as a whole is compared by train_step_golden_F01_train_step");
    bv_golden_close(g);
}

/* The overlay's promise is checked: with net_d's grads laid over the flow's too (as if loss_kl's
 * backward reached beyond the flow's parameters), the first step stops with the parameter named. */
BV_GOLDEN_TEST(train_step_grad_overlay_refuses_early_grads) {
    bv_ctx *ctx = ts->ctx;
    setup s;
    bv_golden *g = f01_open(ts, &s, 0, 1);
    if (!g) return;
    if (s.ok) {
        s.st.keep_grads = 0;
        s.st.g_final_at = 0;
        bv_train_result r;
        char msg[512];
        int raised = BV_EXPECT_ERROR(ctx, msg, bv_train_step(&s.st, ctx, &s.batch, &r));
        BV_CHECK(raised && strstr(msg, "flow.") && strstr(msg, "outside the flow"), "error: %s",
                 raised ? msg : "(none)");
    }
    setup_close(&s);
    bv_golden_ignore(g, "*", "the step stops early on purpose");
    bv_golden_close(g);
}

/* F01 values that upstream's step makes the same with or without a duration discriminator: it reads
 * only detached net_g outputs in its own step and adds loss_dur_gen to the generator's loss, so
 * everything before the generator's backward, and the other discriminators' steps, are unchanged. */
static int depends_on_dur_disc(const char *name) {
    return strstr(name, "dur_disc") || strstr(name, "dur_gen") || !strcmp(name, "dstep.grad_norm_dur") ||
           !strcmp(name, "gstep.loss_gen_all") ||
           !strcmp(name, "gstep.grad_norm_g") || !strncmp(name, "grad.net_g.", 11) || !strncmp(name, "after.net_g.", 12);
}

static void probe_without_dur_disc(void *user, const char *name, bv_tensor *t) {
    if (!depends_on_dur_disc(name)) probe_cb(user, name, t);
}

/* model.use_duration_discriminator false: no net_dur_disc, no loss_dur_gen term, three schedulers;
 * every F01 value the duration discriminator cannot change is still F01's. */
BV_GOLDEN_TEST(train_step_without_duration_discriminator) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "F01_train_step");
    if (!g) return;
    f01 c = {ts, g};
    setup s;
    setup_open(ts, g, &s, 0, 0);
    if (s.ok) {
        BV_CHECK(s.st.net_dur_disc == NULL && s.st.ps_dur.n == 0, "net_dur_disc built");
        bv_train_result r;
        s.st.probe = probe_without_dur_disc;
        s.st.probe_user = &c;
        bv_train_step(&s.st, ctx, &s.batch, &r);
        check_mpd_results(&c, &r);
        check_values(&c, "wdstep.grad_norm_wd", &r.grad_norm_wd, 1);
        check_grads(&c, "net_d", &s.st.ps_d);
        check_grads(&c, "net_wd", &s.st.ps_wd);
        check_after(&c, "net_d", &s.st.ps_d);
        check_after(&c, "net_wd", &s.st.ps_wd);
        BV_CHECK(r.n_dur == 0 && r.loss_dur_gen == 0 && r.loss_dur_disc == 0 && r.grad_norm_dur == 0,
                 "duration-discriminator results without one");
        double sum = r.loss_gen + r.loss_fm + r.loss_mel + r.loss_dur + r.loss_kl + r.loss_lm + r.loss_lm_gen;
        BV_CHECK(fabs(sum - r.loss_gen_all) <= 1e-5 * fmax(1, fabs(sum)), "loss_gen_all %.9g, terms sum to %.9g",
                 r.loss_gen_all, sum);
        BV_CHECK(isfinite(r.grad_norm_g) && r.grad_norm_g > 0 && isfinite(r.grad_norm_d) && r.grad_norm_d > 0,
                 "grad norms g %g d %g", r.grad_norm_g, r.grad_norm_d);
        double lr0 = s.st.optim_g.lr;
        bv_train_state_epoch_end(&s.st);
        BV_CHECK(s.st.optim_g.lr == lr0 * s.cfg.train.lr_decay, "lr after epoch %.12g", s.st.optim_g.lr);
    }
    setup_close(&s);
    static const char *const not_here[][2] = {
        {"*dur_disc*", "there is no duration discriminator in this run"},
        {"*dur_gen*", "there is no duration discriminator in this run"},
        {"dstep.grad_norm_dur", "there is no duration discriminator in this run"},
        {"gstep.loss_gen_all", "without loss_dur_gen: checked as the sum of its terms above"},
        {"gstep.grad_norm_g", "net_g's gradient lacks loss_dur_gen's part here"},
        {"grad.net_g.*", "net_g's gradient lacks loss_dur_gen's part here"},
        {"lr.after_epoch1", "four schedulers in F01, three here: the lr decay is checked above"},
    };
    for (size_t i = 0; i < sizeof not_here / sizeof not_here[0]; i++) bv_golden_ignore(g, not_here[i][0], not_here[i][1]);
    bv_golden_close(g);
}

/* current_mas_noise_scale = max(initial - delta * global_step, 0). */
BV_TEST(train_step_mas_noise_schedule) {
    BV_CHECK(bv_train_mas_noise_scale(0.01, 2e-6, 0) == 0.01f, "step 0");
    BV_CHECK(bv_train_mas_noise_scale(0.01, 2e-6, 1000) == (float)(0.01 - 2e-6 * 1000), "step 1000: %g",
             bv_train_mas_noise_scale(0.01, 2e-6, 1000));
    BV_CHECK(bv_train_mas_noise_scale(0.01, 2e-6, 5000) == 0.0f, "step 5000: %g",
             bv_train_mas_noise_scale(0.01, 2e-6, 5000));
    BV_CHECK(bv_train_mas_noise_scale(0.01, 2e-6, 100000000) == 0.0f, "late steps clamp to 0");
    BV_CHECK(bv_train_mas_noise_scale(0.0, 0.0, 7) == 0.0f, "plain MAS");
}

/* Configs the step cannot train are rejected with the key named. */
BV_GOLDEN_TEST(train_step_init_errors) {
    if (!bv_golden_need(ts, "wavlm_tiny/config.json", NULL)) return;
    bv_golden *g = bv_golden_open(ts, ts->ctx, "F01_train_step");
    if (!g) return;
    bv_config cfg;
    if (config_from_manifest(ts, g, &cfg) == 0) {
        char dir[1024], err[1024];
        snprintf(dir, sizeof dir, "%s/wavlm_tiny", bv_test_golden_dir);
        bv_wavlm *wavlm = bv_wavlm_load(dir, err, sizeof err);
        BV_CHECK(wavlm != NULL, "%s", err);
        if (wavlm) {
            bv_train_state st;
            /* bf16_run: accepted exactly where the CPU computes bf16 natively */
            char why[256];
            int can = bv_backend_bf16_check(bv_backend_get(BV_DEV_CPU), why, sizeof why) == 0;
            cfg.train.bf16_run = 1;
            int rc = bv_train_state_init(&st, &cfg, wavlm, NULL, err, sizeof err);
            if (can) {
                BV_CHECK(rc == 0 && st.bf16 == 1, "bf16_run refused on a bf16 CPU: %s", err);
                if (rc == 0) bv_train_state_free(&st);
            } else {
                BV_CHECK(rc == -1 && strstr(err, "bf16_run") && strstr(err, why), "bf16_run accepted: %s", err);
            }
            cfg.train.bf16_run = 0;
            cfg.model.use_spectral_norm = 1;
            BV_CHECK(bv_train_state_init(&st, &cfg, wavlm, NULL, err, sizeof err) == -1 &&
                         strstr(err, "model.use_spectral_norm"), "spectral norm accepted: %s", err);
            cfg.model.use_spectral_norm = 0;
            cfg.model.use_mel_posterior_encoder = 1;
            BV_CHECK(bv_train_state_init(&st, &cfg, wavlm, NULL, err, sizeof err) == -1 &&
                         strstr(err, "model.use_mel_posterior_encoder"), "mel posterior encoder accepted: %s", err);
            cfg.model.use_mel_posterior_encoder = 0;
            cfg.model.slm.nlayers += 1;
            BV_CHECK(bv_train_state_init(&st, &cfg, wavlm, NULL, err, sizeof err) == -1 && strstr(err, "model.slm"),
                     "slm nlayers mismatch accepted: %s", err);
            bv_wavlm_free(wavlm);
        }
        bv_config_free(&cfg);
    }
    bv_golden_ignore(g, "*", "a config-error test: only F01's config is used");
    bv_golden_close(g);
}
