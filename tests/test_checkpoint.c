/* test_checkpoint.c - src/train/checkpoint.c: upstream's checkpoint files and train_ms's resume.
 *
 * Golden:
 *  - F03_resume_step: resume from ../shared/golden/checkpoints (real upstream .pth files) exactly as
 *    train_ms.run() does (skip_optimizer from checkpoints/config.json, epoch_str, global_step, the
 *    loaded learning rates, fresh optimizers), one more step on F01's batch with F03's noise, and
 *    every stored value checked: losses, per-discriminator losses, grad norms and the after_summary
 *    group (after_sum / after_delta_abssum of every parameter of the four nets); the golden harness
 *    fails the test if a stored tensor is left unchecked (tests/golden.h).
 *  - the four golden checkpoints loaded WITH their optimizer state and saved again by bv2 give the
 *    same object tree as upstream's files (model keys in order and bits, iteration, learning_rate,
 *    the whole AdamW state_dict; _metadata where upstream's has no parameterless modules), and a
 *    second bv2 state resumed from bv2's files matches the first bit for bit (all four nets and
 *    their optimizers); a set cut short by a kill is never mixed in.
 * Unit: a synthetic store with frozen and never-stepped parameters round-trips bit-exactly (ids
 *  skip frozen parameters, state only for stepped ones, torch's param_groups keys); load keeps fresh
 *  values for missing / mis-shaped keys and zeroes ja_bert_proj; optimizer size mismatches and
 *  damaged or foreign files are errors naming the file; latest-by-step, get_steps, keep_ckpts
 *  pruning and stale-temporary cleanup. */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/io/pth.h"
#include "../src/train/checkpoint.h"
#include "../src/train/train_step.h"
#include "fixtures.h"
#include "golden.h"
#include "golden_disc.h"

/* ------------------------------------------------------------------ small file helpers */

static int make_tmpdir(char *dir, size_t cap) {
    snprintf(dir, cap, "/tmp/bv_ckpt_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static void touch(const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs("x", f);
        fclose(f);
    }
}

static int exists(const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* ------------------------------------------------------------------ golden setup (F01 / F03) */

static int layout_from_manifest(bv_test_state *ts, bv_golden *g, bv_mpd_layout *l) {
    int rc = bv_golden_mpd_layout(cJSON_GetObjectItem(bv_golden_config(g), "net_d"), l);
    BV_CHECK(rc == 0, "F01 config.net_d: DiscriminatorS/P tables or periods missing");
    return rc;
}

typedef struct golden_run {
    bv_config cfg;
    int cfg_ok;
    bv_wavlm *wavlm;
    bv_train_state st;
    int st_ok;
} golden_run;

/* checkpoints/config.json with the golden generator's dropout (F01 config.dropout: every p = 0),
 * the tiny WavLM and the reduced MPD of F01: the networks the golden checkpoints were saved from. */
static int golden_run_open(bv_test_state *ts, bv_golden *f01, golden_run *r) {
    memset(r, 0, sizeof *r);
    if (!bv_golden_need(ts, "checkpoints/config.json", "wavlm_tiny/config.json", NULL)) return -1;
    char path[1024], err[1024];
    snprintf(path, sizeof path, "%s/checkpoints/config.json", bv_test_golden_dir);
    if (bv_config_load(&r->cfg, path, err, sizeof err)) {
        BV_CHECK(0, "%s", err);
        return -1;
    }
    r->cfg_ok = 1;
    const cJSON *drop = cJSON_GetObjectItem(bv_golden_config(f01), "dropout");
    BV_CHECK(cJSON_IsString(drop) && strstr(drop->valuestring, "set to 0"), "F01 config.dropout note changed");
    r->cfg.model.sdp_p_dropout = r->cfg.model.dp_p_dropout = r->cfg.model.dur_disc_p_dropout = 0.0f;
    bv_mpd_layout layout;
    if (layout_from_manifest(ts, f01, &layout)) return -1;
    snprintf(path, sizeof path, "%s/wavlm_tiny", bv_test_golden_dir);
    r->wavlm = bv_wavlm_load(path, err, sizeof err);
    BV_CHECK(r->wavlm != NULL, "%s", err);
    if (!r->wavlm) return -1;
    int rc = bv_train_state_init(&r->st, &r->cfg, r->wavlm, &layout, err, sizeof err);
    BV_CHECK(rc == 0, "bv_train_state_init: %s", err);
    r->st_ok = rc == 0;
    return rc;
}

static void golden_run_close(golden_run *r) {
    if (r->st_ok) bv_train_state_free(&r->st);
    bv_wavlm_free(r->wavlm);
    if (r->cfg_ok) bv_config_free(&r->cfg);
}

/* ------------------------------------------------------------------ F03 checks */

typedef struct f03 {
    bv_test_state *ts;
    bv_golden *g;
    const cJSON *f01_case;    /* F01's manifest entry: its after_step tolerance group */
} f03;

/* The manifest's tolerance for `name`: its group's, and for after_delta_abssum the rtol the group's
 * note gives it ("after_delta_abssum: compare with rtol 1e-2": sign flips of near-zero gradients). */
static void tolerance(const f03 *c, const char *name, double *atol, double *rtol) {
    const cJSON *cs = bv_golden_case_json(c->g), *e = bv_golden_manifest_tensor(c->g, name);
    const cJSON *grp = cJSON_GetObjectItem(e, "group");
    const cJSON *tol = cJSON_IsString(grp) ? cJSON_GetObjectItem(cJSON_GetObjectItem(cs, "tolerance_groups"),
                                                                  grp->valuestring)
                                           : cJSON_GetObjectItem(cs, "tolerance");
    *atol = cJSON_GetObjectItem(tol, "atol")->valuedouble;
    *rtol = cJSON_GetObjectItem(tol, "rtol")->valuedouble;
    const cJSON *note = cJSON_GetObjectItem(tol, "note");
    const char *key = "after_delta_abssum: compare with rtol ";
    const char *at = cJSON_IsString(note) ? strstr(note->valuestring, key) : NULL;
    if (at && !strncmp(name, "after_delta_abssum.", 19)) *rtol = strtod(at + strlen(key), NULL);
}

/* One stored scalar against `a`: err and allowed (README rule |a - e| <= atol * max(1, |e|) +
 * rtol * |e|, tolerance as above). Returns 0 (and records a failure) if it is not stored. */
static int scalar_error(f03 *c, const char *name, double a, double *err, double *allowed, double *expected) {
    bv_test_state *ts = c->ts;
    if (!bv_golden_manifest_tensor(c->g, name)) {
        BV_CHECK(0, "%s: not in the manifest", name);
        return 0;
    }
    const double *ev;
    double e;
    if (bv_golden_f64(c->g, name, &ev) == 1) {
        e = ev[0];
    } else {
        bv_tensor *t = bv_golden_tensor(c->g, name);
        if (!t || t->numel != 1) {
            BV_CHECK(0, "%s: not a stored scalar", name);
            return 0;
        }
        e = t->data[0];
    }
    double atol, rtol;
    tolerance(c, name, &atol, &rtol);
    *err = fabs(a - e);
    *allowed = atol * fmax(1, fabs(e)) + rtol * fabs(e);
    *expected = e;
    return 1;
}

static void check_scalar(f03 *c, const char *name, double a) {
    bv_test_state *ts = c->ts;
    double err, allowed, e;
    if (!scalar_error(c, name, a, &err, &allowed, &e)) return;
    if (!(err <= allowed)) {
        fprintf(stderr, "  FAIL %s: got %.10g expected %.10g (err %.3g, allowed %.3g)\n", name, a, e, err, allowed);
        ts->failed = 1;
    } else if (bv_test_verbose) {
        fprintf(stderr, "  ok   %s: err %.3g = %.1f%% of allowed\n", name, err, allowed > 0 ? 100 * err / allowed : 0);
    }
}

static void check_results(f03 *c, const bv_train_result *r) {
    char nm[96];
    check_scalar(c, "dstep.loss_disc", r->loss_disc);
    for (int i = 0; i < r->n_disc; i++) {
        snprintf(nm, sizeof nm, "dstep.losses_disc_r.%d", i);
        check_scalar(c, nm, r->losses_disc_r[i]);
        snprintf(nm, sizeof nm, "dstep.losses_disc_g.%d", i);
        check_scalar(c, nm, r->losses_disc_g[i]);
    }
    for (int b = 0; b < r->n_dur; b++) {
        snprintf(nm, sizeof nm, "dstep.losses_dur_disc_r.%d", b);
        if (bv_golden_manifest_tensor(c->g, nm)) check_scalar(c, nm, r->losses_dur_disc_r[b]);
        snprintf(nm, sizeof nm, "dstep.losses_dur_disc_g.%d", b);
        if (bv_golden_manifest_tensor(c->g, nm)) check_scalar(c, nm, r->losses_dur_disc_g[b]);
    }
    check_scalar(c, "dstep.loss_dur_disc", r->loss_dur_disc);
    check_scalar(c, "dstep.grad_norm_dur", r->grad_norm_dur);
    check_scalar(c, "dstep.grad_norm_d", r->grad_norm_d);
    check_scalar(c, "wdstep.loss_slm", r->loss_slm);
    check_scalar(c, "wdstep.grad_norm_wd", r->grad_norm_wd);
    const struct { const char *n; double v; } g[] = {
        {"gstep.loss_dur", r->loss_dur}, {"gstep.loss_mel", r->loss_mel}, {"gstep.loss_kl", r->loss_kl},
        {"gstep.loss_fm", r->loss_fm},   {"gstep.loss_gen", r->loss_gen}, {"gstep.loss_lm", r->loss_lm},
        {"gstep.loss_lm_gen", r->loss_lm_gen}, {"gstep.loss_dur_gen", r->loss_dur_gen},
        {"gstep.loss_gen_all", r->loss_gen_all}, {"gstep.grad_norm_g", r->grad_norm_g},
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) check_scalar(c, g[i].n, g[i].v);
}

/* after_sum / after_delta_abssum of every parameter of one net (loaded = the checkpoint's values).
 *
 * README "after_step" rule (F01's tolerance group, which the README gives for values after an
 * optimizer step): AdamW's first step is ~ -lr*sign(g), so an element whose gradient sits at
 * fp32-noise level may differ by up to hard_atol (2*lr), and at most max_mismatch_fraction of a
 * network's elements may do so. F03 stores only per-tensor sums, so a sum outside its tolerance is
 * charged the fewest such elements that can explain it, ceil((err - allowed) / hard_atol), never
 * more than the tensor has, and the charges of a network must stay within the fraction. This is
 * needed for tensors whose gradient is mathematically zero and numerically noise in every
 * implementation, torch's included: attention conv_k.bias (softmax ignores a per-query constant),
 * where every element's update is noise. */
typedef struct after_tally {
    int64_t numel, charged;
    int n_charged;
    double frac, hard;
} after_tally;

static int64_t charge(f03 *c, const char *name, double a, const bv_tensor *p, after_tally *t) {
    bv_test_state *ts = c->ts;
    double err, allowed, e;
    if (!scalar_error(c, name, a, &err, &allowed, &e) || err <= allowed) return 0;
    double k = ceil((err - allowed) / t->hard);
    if (!(k <= (double)p->numel)) {
        fprintf(stderr, "  FAIL %s: got %.10g expected %.10g (err %.3g, allowed %.3g): more than its %lld elements "
                "off by hard_atol %g\n", name, a, e, err, allowed, (long long)p->numel, t->hard);
        ts->failed = 1;
        return 0;
    }
    if (bv_test_verbose)
        fprintf(stderr, "  ..   %s: got %.10g expected %.10g (err %.3g, allowed %.3g): >= %.0f noise-level elements\n",
                name, a, e, err, allowed, k);
    return (int64_t)k;
}

static void check_after(f03 *c, const char *net, const bv_params *ps, float *const *loaded) {
    bv_test_state *ts = c->ts;
    const cJSON *tol = cJSON_GetObjectItem(cJSON_GetObjectItem(c->f01_case, "tolerance_groups"), "after_step");
    after_tally t = {0};
    const cJSON *fr = cJSON_GetObjectItem(tol, "max_mismatch_fraction"), *ha = cJSON_GetObjectItem(tol, "hard_atol");
    BV_CHECK(cJSON_IsNumber(fr) && cJSON_IsNumber(ha), "F01 tolerance_groups.after_step is incomplete");
    if (!cJSON_IsNumber(fr) || !cJSON_IsNumber(ha)) return;
    t.frac = fr->valuedouble;
    t.hard = ha->valuedouble;
    char nm[600];
    for (int i = 0; i < ps->n; i++) {
        const bv_tensor *p = ps->items[i];
        double sum = 0, dabs = 0;
        for (int64_t k = 0; k < p->numel; k++) {
            sum += p->data[k];
            dabs += fabs((double)p->data[k] - (double)loaded[i][k]);
        }
        snprintf(nm, sizeof nm, "after_sum.%s.%s", net, p->name);
        int64_t k1 = charge(c, nm, sum, p, &t);
        snprintf(nm, sizeof nm, "after_delta_abssum.%s.%s", net, p->name);
        int64_t k2 = charge(c, nm, dabs, p, &t);
        int64_t k = k1 > k2 ? k1 : k2; /* both sums see the same odd elements */
        t.charged += k;
        t.n_charged += k > 0;
        t.numel += p->numel;
    }
    int ok = (double)t.charged <= t.frac * (double)t.numel;
    if (!ok || bv_test_verbose)
        fprintf(stderr, "  %s %s after step: %d tensors' sums need >= %lld noise-level elements of %lld (allowed "
                "fraction %g)\n", ok ? "ok  " : "FAIL", net, t.n_charged, (long long)t.charged, (long long)t.numel, t.frac);
    if (!ok) ts->failed = 1;
}

static float **snapshot(const bv_params *ps) {
    float **s = calloc((size_t)ps->n + 1, sizeof *s);
    for (int i = 0; i < ps->n; i++) {
        s[i] = malloc(sizeof(float) * (size_t)(ps->items[i]->numel + 1));
        memcpy(s[i], ps->items[i]->data, sizeof(float) * (size_t)ps->items[i]->numel);
    }
    return s;
}

static void snapshot_free(float **s, int n) {
    for (int i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* train_ms.run()'s resume values against F03's config: epoch_str, global_step, the loaded lrs
 * (compared as a set: every net's file holds one), and fresh optimizers under skip_optimizer. */
static void check_resume(bv_test_state *ts, bv_golden *g, golden_run *r, const bv_resume_info *ri) {
    BV_CHECK(ri->epoch_str == bv_golden_cfg_int(g, "epoch_str"), "epoch_str %lld", (long long)ri->epoch_str);
    BV_CHECK(ri->global_step == bv_golden_cfg_int(g, "global_step"), "global_step %lld", (long long)ri->global_step);
    const cJSON *so = cJSON_GetObjectItem(bv_golden_config(g), "skip_optimizer");
    BV_CHECK(cJSON_IsBool(so) && cJSON_IsTrue(so) == (r->cfg.train.skip_optimizer != 0),
             "manifest skip_optimizer differs from checkpoints/config.json");
    double want[BV_NET_COUNT], got[BV_NET_COUNT];
    int n = 0, m = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(bv_golden_config(g), "loaded_lr")) if (n < BV_NET_COUNT) want[n++] = v->valuedouble;
    for (int k = 0; k < BV_NET_COUNT; k++)
        if (ri->step[k] >= 0) got[m++] = ri->learning_rate[k];
    BV_CHECK(n == m && n > 0, "%d loaded lrs in the manifest, %d nets resumed", n, m);
    qsort(want, (size_t)n, sizeof(double), cmp_double);
    qsort(got, (size_t)m, sizeof(double), cmp_double);
    for (int i = 0; i < n && i < m; i++) BV_CHECK(want[i] == got[i], "loaded lr %.17g, manifest %.17g", got[i], want[i]);
    if (r->cfg.train.skip_optimizer)
        for (int k = 0; k < BV_NET_COUNT; k++) {
            bv_adamw *o = bv_ckpt_net_optim(&r->st, (bv_net_kind)k);
            for (int i = 0; o && i < o->n; i++) BV_CHECK(o->step[i] == 0, "%s optimizer not fresh", bv_ckpt_prefix(k));
        }
}

static void batch_from_f01(bv_golden *f01, bv_train_batch *b) {
    b->x = bv_golden_tensor(f01, "in.x");
    b->x_lengths = bv_golden_tensor(f01, "in.x_lengths");
    b->spec = bv_golden_tensor(f01, "in.spec");
    b->spec_lengths = bv_golden_tensor(f01, "in.spec_lengths");
    b->y = bv_golden_tensor(f01, "in.y");
    b->y_lengths = bv_golden_tensor(f01, "in.y_lengths");
    b->speakers = bv_golden_tensor(f01, "in.speakers");
    b->tone = bv_golden_tensor(f01, "in.tone");
    b->language = bv_golden_tensor(f01, "in.language");
    b->bert = bv_golden_tensor(f01, "in.bert");
    b->ja_bert = bv_golden_tensor(f01, "in.ja_bert");
    b->en_bert = bv_golden_tensor(f01, "in.en_bert");
}

static const char *const NET_NAME[BV_NET_COUNT] = {"net_g", "net_d", "net_wd", "net_dur_disc"};

BV_GOLDEN_TEST(checkpoint_golden_F03_resume_step) {
    if (!bv_golden_need(ts, "checkpoints/G_0.pth", "checkpoints/D_0.pth", "checkpoints/WD_0.pth", NULL)) return;
    bv_ctx *ctx = ts->ctx;
    bv_golden *f01 = bv_golden_open(ts, ctx, "F01_train_step");
    bv_golden *g = f01 ? bv_golden_open(ts, ctx, "F03_resume_step") : NULL;
    golden_run r;
    if (!g || golden_run_open(ts, f01, &r)) {
        if (g) golden_run_close(&r);
        bv_golden_close(g);
        bv_golden_close(f01);
        return;
    }
    f03 c = {ts, g, bv_golden_case_json(f01)};
    char dir[1024], err[1024];
    snprintf(dir, sizeof dir, "%s/checkpoints", bv_test_golden_dir);
    bv_resume_info ri;
    int rc = bv_ckpt_resume(&r.st, dir, r.cfg.train.skip_optimizer, NULL, &ri, err, sizeof err);
    BV_CHECK(rc == 0, "resume: %s", err);
    if (rc == 0) {
        check_resume(ts, g, &r, &ri);
        float **loaded[BV_NET_COUNT] = {0};
        for (int k = 0; k < BV_NET_COUNT; k++) {
            bv_params *ps = bv_ckpt_net_params(&r.st, (bv_net_kind)k);
            if (ps) loaded[k] = snapshot(ps);
        }
        r.st.global_step = ri.global_step;
        bv_train_batch batch;
        batch_from_f01(f01, &batch);
        bv_golden_replay_noise(g);
        bv_train_result res;
        bv_train_step(&r.st, ctx, &batch, &res);
        BV_CHECK(ctx->rng.next_replay == ctx->rng.n_replay, "%d of %d recorded draws consumed", ctx->rng.next_replay,
                 ctx->rng.n_replay);
        check_results(&c, &res);
        for (int k = 0; k < BV_NET_COUNT; k++) {
            bv_params *ps = bv_ckpt_net_params(&r.st, (bv_net_kind)k);
            if (ps) check_after(&c, NET_NAME[k], ps, loaded[k]);
            if (ps) snapshot_free(loaded[k], ps->n);
        }
    }
    golden_run_close(&r);
    bv_golden_close(g);
    bv_golden_ignore(f01, "*", "F01 gives this test its batch (in.*) and tolerances; F01's own tensors are compared "
                               "by train_step_golden_F01_train_step");
    bv_golden_close(f01);
}

/* ------------------------------------------------------------------ golden: bv2 files = upstream's */

/* bv2's file against upstream's: every entry equal, except _metadata, which bv2 derives from
 * parameter names (upstream also lists parameterless modules): bv2's must be a subsequence. */
static void compare_with_upstream(bv_test_state *ts, const char *ours, const char *theirs) {
    bv_pth a, b;
    char err[1024];
    if (bv_pth_open(&a, ours, err, sizeof err)) {
        BV_CHECK(0, "%s", err);
        return;
    }
    if (bv_pth_open(&b, theirs, err, sizeof err)) {
        BV_CHECK(0, "%s", err);
        bv_pth_close(&a);
        return;
    }
    const bv_pk_value *ra = a.root, *rb = b.root;
    BV_CHECK(bv_pk_len(ra) == 4 && bv_pk_len(rb) == 4, "%s: %d top-level keys", ours, bv_pk_len(ra));
    for (int i = 0; i < 4 && i < bv_pk_len(ra) && i < bv_pk_len(rb); i++) {
        const char *ka = bv_pk_as_str(ra->dict.items[i].key), *kb = bv_pk_as_str(rb->dict.items[i].key);
        BV_CHECK(ka && kb && !strcmp(ka, kb), "%s: top-level key %d is '%s', upstream '%s'", ours, i, ka, kb);
    }
    const bv_pk_value *ma = bv_pk_get(ra, "model"), *mb = bv_pk_get(rb, "model");
    BV_CHECK(ma && mb && ma->dict.ordered && mb->dict.ordered && ma->dict.n == mb->dict.n, "%s: model dicts differ", ours);
    for (int i = 0; ma && mb && i < ma->dict.n && i < mb->dict.n; i++) {
        const bv_pk_item *x = &ma->dict.items[i], *y = &mb->dict.items[i];
        if (!bv_pk_equal(x->key, y->key) || !bv_pk_equal(x->val, y->val)) {
            BV_CHECK(0, "%s: model entry %d (%s) differs from upstream's (%s)", ours, i, bv_pk_as_str(x->key),
                     bv_pk_as_str(y->key));
            break;
        }
    }
    const bv_pk_value *mda = ma ? bv_pk_get(ma->dict.attrs, "_metadata") : NULL;
    const bv_pk_value *mdb = mb ? bv_pk_get(mb->dict.attrs, "_metadata") : NULL;
    BV_CHECK(mda && mdb && mda->dict.ordered, "%s: model _metadata missing", ours);
    int j = 0;
    for (int i = 0; mda && mdb && i < mda->dict.n; i++) {
        while (j < mdb->dict.n && !bv_pk_equal(mda->dict.items[i].key, mdb->dict.items[j].key)) j++;
        BV_CHECK(j < mdb->dict.n && bv_pk_equal(mda->dict.items[i].val, mdb->dict.items[j].val),
                 "%s: _metadata entry '%s' not in upstream's order", ours, bv_pk_as_str(mda->dict.items[i].key));
    }
    const char *same[] = {"iteration", "learning_rate", "optimizer"};
    for (int i = 0; i < 3; i++)
        BV_CHECK(bv_pk_equal(bv_pk_get(ra, same[i]), bv_pk_get(rb, same[i])), "%s: '%s' differs from upstream's", ours,
                 same[i]);
    bv_pth_close(&b);
    bv_pth_close(&a);
}

static void compare_states(bv_test_state *ts, bv_train_state *a, bv_train_state *b) {
    for (int k = 0; k < BV_NET_COUNT; k++) {
        bv_params *pa = bv_ckpt_net_params(a, (bv_net_kind)k), *pb = bv_ckpt_net_params(b, (bv_net_kind)k);
        bv_adamw *oa = bv_ckpt_net_optim(a, (bv_net_kind)k), *ob = bv_ckpt_net_optim(b, (bv_net_kind)k);
        if (!pa || !pb) {
            BV_CHECK(pa == pb, "%s present in one state only", bv_ckpt_prefix(k));
            continue;
        }
        int same = pa->n == pb->n && !memcmp(oa->step, ob->step, sizeof(float) * (size_t)oa->n) &&
                   !memcmp(oa->block, ob->block, sizeof(float) * 2 * (size_t)bv_params_numel(pa));
        for (int i = 0; same && i < pa->n; i++)
            same = !memcmp(pa->items[i]->data, pb->items[i]->data, sizeof(float) * (size_t)pa->items[i]->numel);
        BV_CHECK(same, "%s: parameters or optimizer state differ after the round trip", bv_ckpt_prefix(k));
        BV_CHECK(oa->lr == ob->lr && oa->initial_lr == ob->initial_lr && oa->has_initial_lr == ob->has_initial_lr &&
                 oa->beta1 == ob->beta1 && oa->beta2 == ob->beta2 && oa->eps == ob->eps &&
                 oa->weight_decay == ob->weight_decay, "%s: optimizer hyper-parameters differ", bv_ckpt_prefix(k));
    }
}

BV_GOLDEN_TEST(checkpoint_golden_roundtrip_all_nets) {
    if (!bv_golden_need(ts, "checkpoints/G_0.pth", "checkpoints/D_0.pth", "checkpoints/WD_0.pth", NULL)) return;
    bv_ctx *ctx = ts->ctx;
    bv_golden *f01 = bv_golden_open(ts, ctx, "F01_train_step");
    if (!f01) return;
    golden_run a = {0}, b = {0}; /* both closed below, even when the first open fails */
    char gdir[1024], dir[256], err[1024];
    snprintf(gdir, sizeof gdir, "%s/checkpoints", bv_test_golden_dir);
    BV_CHECK(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp");
    int ok = golden_run_open(ts, f01, &a) == 0 && golden_run_open(ts, f01, &b) == 0;
    bv_resume_info ri;
    if (ok) {
        /* with the optimizer state (skip_optimizer false): every tensor of the files is used */
        int rc = bv_ckpt_resume(&a.st, gdir, 0, NULL, &ri, err, sizeof err);
        BV_CHECK(rc == 0, "resume from upstream files: %s", err);
        for (int k = 0; k < BV_NET_COUNT; k++) BV_CHECK(ri.step[k] == 0, "%s not resumed", bv_ckpt_prefix(k));
        /* the scheduler's implicit step left lr as loaded (epoch_str 1): save what upstream saved */
        rc = rc ? rc : bv_ckpt_save_all(&a.st, dir, 0, ri.epoch_str, err, sizeof err);
        BV_CHECK(rc == 0, "save: %s", err);
        for (int k = 0; rc == 0 && k < BV_NET_COUNT; k++) {
            char ours[512], theirs[1024];
            bv_ckpt_path(ours, sizeof ours, dir, (bv_net_kind)k, 0);
            bv_ckpt_path(theirs, sizeof theirs, gdir, (bv_net_kind)k, 0);
            compare_with_upstream(ts, ours, theirs);
        }
        /* a second state resumed from bv2's files is bit-identical */
        rc = rc ? rc : bv_ckpt_resume(&b.st, dir, 0, NULL, &ri, err, sizeof err);
        BV_CHECK(rc == 0, "resume from bv2 files: %s", err);
        if (rc == 0) compare_states(ts, &a.st, &b.st);
        /* a set cut short by a kill (D_7 alone, newer than G_0) is not mixed in */
        char p[600];
        bv_ckpt_path(p, sizeof p, dir, BV_NET_D, 7);
        rc = bv_ckpt_save(p, &a.st.ps_d, &a.st.optim_d, NULL, 1e-3, 9, err, sizeof err);
        BV_CHECK(rc == 0, "%s", err);
        rc = bv_ckpt_resume(&b.st, dir, 0, NULL, &ri, err, sizeof err);
        BV_CHECK(rc == 0 && ri.step[BV_NET_D] == 0 && ri.step[BV_NET_G] == 0, "resume took D_%lld: %s",
                 (long long)ri.step[BV_NET_D], err);
    }
    golden_run_close(&a);
    golden_run_close(&b);
    bv_test_rm_rf(dir);
    bv_golden_ignore(f01, "*", "only F01's config is used: this test compares bv2's checkpoint files with upstream's "
                               "checkpoints/*.pth; F01's tensors are compared by train_step_golden_F01_train_step");
    bv_golden_close(f01);
}

/* ------------------------------------------------------------------ unit: one store */

typedef struct toy {
    bv_params ps;
    bv_adamw opt;
    uint8_t trainable[5];
} toy;

/* Five parameters, one frozen (2) and one never stepped (4); two AdamW steps. */
static void toy_init(toy *t, int step, float seed) {
    bv_params_init(&t->ps);
    bv_params_add(&t->ps, "enc_p.emb.weight", BV_SHAPE(6, 4));
    bv_params_add(&t->ps, "enc_p.proj.bias", BV_SHAPE(3));
    bv_params_add(&t->ps, "enc_p.bert_proj.weight", BV_SHAPE(4, 5, 1));
    bv_params_add(&t->ps, "dec.conv_pre.weight_v", BV_SHAPE(2, 3, 7));
    bv_params_add(&t->ps, "emb_g.weight", BV_SHAPE(2, 4));
    const uint8_t tr[5] = {1, 1, 0, 1, 1}, has_grad[5] = {1, 1, 1, 1, 0};
    memcpy(t->trainable, tr, sizeof tr);
    for (int i = 0; i < t->ps.n; i++) {
        bv_tensor *p = t->ps.items[i];
        for (int64_t k = 0; k < p->numel; k++) {
            p->data[k] = seed + 0.01f * (float)(k * 7 % 13) - 0.05f * (float)i;
            p->grad[k] = 0.3f * (float)((k + i) % 5) - 0.6f;
        }
    }
    bv_adamw_init(&t->opt, &t->ps, 2e-4, 0.8, 0.99, 1e-9, 0.01);
    uint8_t mask[5];
    for (int i = 0; i < 5; i++) mask[i] = has_grad[i] && tr[i];
    for (int s = 0; s < step; s++) bv_adamw_step(&t->opt, mask);
    if (step) { /* as a scheduler leaves it */
        t->opt.initial_lr = 2e-4;
        t->opt.has_initial_lr = 1;
        t->opt.lr = 2e-4 * 0.99995;
    }
}

static void toy_free(toy *t) {
    bv_adamw_free(&t->opt);
    bv_params_free(&t->ps);
}

BV_TEST(checkpoint_store_roundtrip_bit_exact_and_torch_layout) {
    toy a, b;
    toy_init(&a, 2, 0.5f);
    toy_init(&b, 0, -3.0f);
    char dir[256], path[512], err[1024];
    BV_CHECK(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp");
    snprintf(path, sizeof path, "%s/G_12.pth", dir);
    int rc = bv_ckpt_save(path, &a.ps, &a.opt, a.trainable, 2e-4, 3, err, sizeof err);
    BV_CHECK(rc == 0, "save: %s", err);
    bv_ckpt_info info;
    rc = bv_ckpt_load(path, &b.ps, &b.opt, b.trainable, 0, NULL, &info, err, sizeof err);
    BV_CHECK(rc == 0, "load: %s", err);
    BV_CHECK(info.iteration == 3 && info.learning_rate == 2e-4 && info.optimizer_loaded && info.n_loaded == 5 &&
             info.n_kept == 0 && info.n_unused == 0, "info: iteration %lld lr %g loaded %d kept %d",
             (long long)info.iteration, info.learning_rate, info.n_loaded, info.n_kept);
    for (int i = 0; i < 5; i++) {
        const bv_tensor *p = a.ps.items[i], *q = b.ps.items[i];
        size_t bytes = sizeof(float) * (size_t)p->numel;
        BV_CHECK(!memcmp(p->data, q->data, bytes), "%s differs", p->name);
        BV_CHECK(!memcmp(a.opt.exp_avg[i], b.opt.exp_avg[i], bytes) &&
                 !memcmp(a.opt.exp_avg_sq[i], b.opt.exp_avg_sq[i], bytes) && a.opt.step[i] == b.opt.step[i],
                 "optimizer state of %s differs", p->name);
    }
    BV_CHECK(b.opt.lr == a.opt.lr && b.opt.initial_lr == 2e-4 && b.opt.has_initial_lr && b.opt.beta1 == 0.8 &&
             b.opt.beta2 == 0.99 && b.opt.eps == 1e-9 && b.opt.weight_decay == 0.01, "hyper-parameters differ");
    /* the file itself: torch 1.13's layout */
    bv_pth f;
    if (bv_pth_open(&f, path, err, sizeof err) == 0) {
        const char *top[] = {"model", "iteration", "optimizer", "learning_rate"};
        for (int i = 0; i < 4; i++)
            BV_CHECK(bv_pk_len(f.root) == 4 && !strcmp(bv_pk_as_str(f.root->dict.items[i].key), top[i]), "key %d", i);
        const bv_pk_value *m = bv_pk_get(f.root, "model"), *o = bv_pk_get(f.root, "optimizer");
        BV_CHECK(m->dict.ordered && m->dict.attrs && bv_pk_get(bv_pk_get(m->dict.attrs, "_metadata"), "enc_p.emb"),
                 "model is an OrderedDict with _metadata");
        const bv_pk_value *st = bv_pk_get(o, "state"), *g = bv_pk_at(bv_pk_get(o, "param_groups"), 0);
        /* ids: 0 emb, 1 proj.bias, (bert_proj frozen), 2 conv_pre, 3 emb_g (never stepped: no state) */
        BV_CHECK(bv_pk_len(st) == 3 && bv_pk_get_int(st, 2) && !bv_pk_get_int(st, 3), "state ids");
        const bv_pk_tensor *step = bv_pk_as_tensor(bv_pk_get(bv_pk_get_int(st, 0), "step"));
        BV_CHECK(step && step->dtype == BV_ST_F32 && step->ndim == 0 && ((float *)step->data)[0] == 2.0f,
                 "'step' is a float32 scalar tensor");
        const bv_pk_tensor *ea = bv_pk_as_tensor(bv_pk_get(bv_pk_get_int(st, 2), "exp_avg"));
        BV_CHECK(ea && ea->ndim == 3 && ea->shape[2] == 7, "state[2] is dec.conv_pre.weight_v's");
        const char *gk[] = {"lr", "betas", "eps", "weight_decay", "amsgrad", "foreach", "maximize", "capturable",
                            "initial_lr", "params"};
        for (int i = 0; i < 10; i++)
            BV_CHECK(bv_pk_len(g) == 10 && !strcmp(bv_pk_as_str(g->dict.items[i].key), gk[i]), "param_groups key %d", i);
        const bv_pk_value *ids = bv_pk_get(g, "params");
        int64_t v;
        BV_CHECK(bv_pk_len(ids) == 4 && bv_pk_as_int(bv_pk_at(ids, 3), &v) == 0 && v == 3, "params [0, 1, 2, 3]");
        BV_CHECK(bv_pk_get(g, "foreach")->kind == BV_PK_NONE, "foreach None");
        bv_pth_close(&f);
    } else {
        BV_CHECK(0, "%s", err);
    }
    /* skip_optimizer: the model only */
    toy c;
    toy_init(&c, 0, 9.0f);
    rc = bv_ckpt_load(path, &c.ps, &c.opt, c.trainable, 1, NULL, &info, err, sizeof err);
    BV_CHECK(rc == 0 && !info.optimizer_loaded && c.opt.step[0] == 0 && !c.opt.has_initial_lr, "skip_optimizer: %s", err);
    BV_CHECK(!memcmp(c.ps.items[0]->data, a.ps.items[0]->data, sizeof(float) * 24), "model not loaded");
    toy_free(&c);
    toy_free(&a);
    toy_free(&b);
    bv_test_rm_rf(dir);
}

/* utils.load_checkpoint: fresh values for missing / mis-shaped keys, zeros for ja_bert_proj,
 * unknown keys ignored; an optimizer of another size is an error that says what to do. */
BV_TEST(checkpoint_load_mismatches_as_upstream) {
    toy a;
    toy_init(&a, 1, 0.25f);
    char dir[256], path[512], err[1024];
    BV_CHECK(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp");
    snprintf(path, sizeof path, "%s/G_1.pth", dir);
    BV_CHECK(bv_ckpt_save(path, &a.ps, &a.opt, a.trainable, 2e-4, 1, err, sizeof err) == 0, "save: %s", err);
    bv_params ps;
    bv_params_init(&ps);
    bv_tensor *emb = bv_params_add(&ps, "enc_p.emb.weight", BV_SHAPE(6, 4));
    bv_tensor *embg = bv_params_add(&ps, "emb_g.weight", BV_SHAPE(5, 4));     /* another speaker count */
    bv_tensor *ja = bv_params_add(&ps, "enc_p.ja_bert_proj.weight", BV_SHAPE(2, 2)); /* not in the file */
    bv_tensor *nw = bv_params_add(&ps, "dec.new.bias", BV_SHAPE(2));            /* not in the file */
    for (int64_t k = 0; k < embg->numel; k++) embg->data[k] = 7.0f;
    for (int64_t k = 0; k < 4; k++) ja->data[k] = nw->data[k % 2] = 5.0f;
    bv_ckpt_info info;
    int rc = bv_ckpt_load(path, &ps, NULL, NULL, 1, NULL, &info, err, sizeof err);
    BV_CHECK(rc == 0, "%s", err);
    BV_CHECK(info.n_loaded == 1 && info.n_kept == 2 && info.n_zeroed == 1 && info.n_unused == 3,
             "loaded %d kept %d zeroed %d unused %d", info.n_loaded, info.n_kept, info.n_zeroed, info.n_unused);
    BV_CHECK(!memcmp(emb->data, a.ps.items[0]->data, sizeof(float) * 24), "emb not loaded");
    BV_CHECK(embg->data[0] == 7.0f && nw->data[1] == 5.0f && ja->data[3] == 0.0f, "fresh / zero values");
    bv_params_free(&ps);
    /* an optimizer with another number of trainable parameters */
    toy b;
    toy_init(&b, 0, 0.0f);
    b.trainable[2] = 1; /* bert_proj not frozen: 5 trainable, the file has 4 */
    rc = bv_ckpt_load(path, &b.ps, &b.opt, b.trainable, 0, NULL, &info, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, path) && strstr(err, "skip_optimizer"), "optimizer size mismatch: %s", err);
    rc = bv_ckpt_load(path, &b.ps, &b.opt, b.trainable, 1, NULL, &info, err, sizeof err);
    BV_CHECK(rc == 0, "with skip_optimizer: %s", err);
    toy_free(&b);
    toy_free(&a);
    bv_test_rm_rf(dir);
}

/* Damaged or foreign files never crash and name the file. */
BV_TEST(checkpoint_damaged_and_foreign_files) {
    toy a;
    toy_init(&a, 1, 0.25f);
    char dir[256], path[512], bad[512], err[1024];
    BV_CHECK(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp");
    snprintf(path, sizeof path, "%s/G_1.pth", dir);
    BV_CHECK(bv_ckpt_save(path, &a.ps, &a.opt, a.trainable, 2e-4, 1, err, sizeof err) == 0, "save: %s", err);
    FILE *f = fopen(path, "rb");
    char *buf = malloc(1 << 20);
    size_t n = f ? fread(buf, 1, 1 << 20, f) : 0;
    if (f) fclose(f);
    const size_t cut[] = {0, 10, n / 3, n / 2, n - 30};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        snprintf(bad, sizeof bad, "%s/G_%zu.pth", dir, 100 + i);
        FILE *o = fopen(bad, "wb");
        fwrite(buf, 1, cut[i], o);
        fclose(o);
        bv_ckpt_info info;
        int rc = bv_ckpt_load(bad, &a.ps, &a.opt, a.trainable, 0, NULL, &info, err, sizeof err);
        BV_CHECK(rc == -1 && strstr(err, bad), "truncated to %zu bytes: rc %d '%s'", cut[i], rc, err);
    }
    /* bytes changed inside a storage (dec.conv_pre.weight_v's data): the zip CRC catches it */
    char *at = memmem(buf, n, a.ps.items[3]->data, sizeof(float) * 42);
    BV_CHECK(at != NULL, "storage bytes not found in the file");
    if (at) memcpy(at + 8, "garbage!", 8);
    snprintf(bad, sizeof bad, "%s/G_200.pth", dir);
    FILE *o = fopen(bad, "wb");
    fwrite(buf, 1, n, o);
    fclose(o);
    int rc = bv_ckpt_load(bad, &a.ps, &a.opt, a.trainable, 0, NULL, NULL, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, bad), "corrupt: rc %d '%s'", rc, err);
    /* a one-tensor file (*.bert.pt) is not a training checkpoint */
    bv_pk_doc *doc = bv_pk_doc_new();
    snprintf(bad, sizeof bad, "%s/G_300.pth", dir);
    rc = bv_pth_save(bad, bv_pk_tensor_new(doc, BV_ST_F32, 2, (int64_t[]){2, 3}, NULL), err, sizeof err);
    bv_pk_doc_free(doc);
    rc = rc ? rc : bv_ckpt_load(bad, &a.ps, &a.opt, a.trainable, 0, NULL, NULL, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, bad) && strstr(err, "not a Bert-VITS2 training checkpoint"), "foreign: '%s'", err);
    /* an iteration of -2^63 once overflowed epoch_str - 2 (issue 14 finding 3) */
    snprintf(bad, sizeof bad, "%s/G_400.pth", dir);
    rc = bv_ckpt_save(bad, &a.ps, &a.opt, a.trainable, 2e-4, INT64_MIN, err, sizeof err);
    rc = rc ? rc : bv_ckpt_load(bad, &a.ps, &a.opt, a.trainable, 0, NULL, NULL, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, bad) && strstr(err, "'iteration' -9223372036854775808 is not an epoch"),
             "iteration -2^63: '%s'", err);
    free(buf);
    toy_free(&a);
    bv_test_rm_rf(dir);
}

/* ------------------------------------------------------------------ unit: the folder */

BV_TEST(checkpoint_latest_by_step_and_get_steps) {
    char dir[256];
    BV_CHECK(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp");
    BV_CHECK(bv_ckpt_latest_step(dir, BV_NET_G) == -1, "empty folder");
    const char *names[] = {"G_9.pth", "G_10.pth", "G_100.pth", "G_1000.pth.tmp", "G_best.pth", "G_5a.pth",
                           "D_5.pth", "DUR_7.pth", "WD_3.pth", "XG_5000.pth", "G_0.pth"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) touch(dir, names[i]);
    BV_CHECK(bv_ckpt_latest_step(dir, BV_NET_G) == 100, "G latest %lld", (long long)bv_ckpt_latest_step(dir, BV_NET_G));
    BV_CHECK(bv_ckpt_latest_step(dir, BV_NET_D) == 5, "D must not pick DUR_7");
    BV_CHECK(bv_ckpt_latest_step(dir, BV_NET_DUR) == 7 && bv_ckpt_latest_step(dir, BV_NET_WD) == 3, "DUR / WD");
    int64_t *steps;
    int n = bv_ckpt_list_steps(dir, BV_NET_G, &steps);
    BV_CHECK(n == 4 && steps[0] == 0 && steps[1] == 9 && steps[3] == 100, "G steps (%d)", n);
    free(steps);
    BV_CHECK(bv_ckpt_get_steps("logs/run2/G_100.pth") == 100, "get_steps: last digit run");
    BV_CHECK(bv_ckpt_get_steps("Data/44k/models/DUR_8000.pth") == 8000, "get_steps DUR");
    BV_CHECK(bv_ckpt_get_steps("nodigits.pth") == -1, "get_steps without digits");
    BV_CHECK(bv_ckpt_latest_step("/nonexistent/bv2", BV_NET_G) == -1, "missing folder");
    bv_test_rm_rf(dir);
}

BV_TEST(checkpoint_keep_ckpts_pruning_and_stale_tmp) {
    char dir[256], err[256];
    BV_CHECK(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp");
    const char *pre[] = {"G", "D", "WD", "DUR"};
    const int steps[] = {0, 100, 200, 300, 1000};
    char name[64];
    for (int k = 0; k < 4; k++)
        for (int s = 0; s < 5; s++) {
            snprintf(name, sizeof name, "%s_%d.pth", pre[k], steps[s]);
            touch(dir, name);
        }
    touch(dir, "D_400.pth.tmp");
    touch(dir, "G_best.pth");
    touch(dir, "config.json");
    BV_CHECK(bv_ckpt_clean(dir, 0, NULL, err, sizeof err) == 0, "keep 0 deletes nothing");
    int removed = bv_ckpt_clean(dir, 2, NULL, err, sizeof err);
    BV_CHECK(removed == 8, "removed %d (%s)", removed, err);
    for (int k = 0; k < 4; k++) {
        for (int s = 0; s < 5; s++) {
            snprintf(name, sizeof name, "%s_%d.pth", pre[k], steps[s]);
            int want = steps[s] == 0 || steps[s] >= 300; /* *_0 kept; the 2 newest by step (1000 > 300) */
            BV_CHECK(exists(dir, name) == want, "%s %s", name, want ? "deleted" : "kept");
        }
    }
    BV_CHECK(exists(dir, "G_best.pth") && exists(dir, "config.json") && exists(dir, "D_400.pth.tmp"),
             "other files touched");
    /* what a SIGKILL inside a save leaves: our temporary, or libzip's suffix on it (issue 14 finding 7) */
    touch(dir, "G_12.pth.tmp.4242.0");
    touch(dir, "DUR_7.pth.tmp.4242.3.Xa9k2Q");
    touch(dir, "notes.pth.tmp.1");
    touch(dir, "G_x.pth.tmp.1");
    BV_CHECK(bv_ckpt_remove_stale_tmp(dir, NULL) == 3 && !exists(dir, "D_400.pth.tmp") &&
                 !exists(dir, "G_12.pth.tmp.4242.0") && !exists(dir, "DUR_7.pth.tmp.4242.3.Xa9k2Q"),
             "stale tmp kept");
    BV_CHECK(exists(dir, "notes.pth.tmp.1") && exists(dir, "G_x.pth.tmp.1"), "a file not ours was removed");
    bv_test_rm_rf(dir);
}
