/* test_parity.c - the multi-seed parity sweep (issue 10): our training step (src/train/train_step.c,
 * run through the F01 test body of tests/test_train_step.c) on every case tests/ref/parity_sweep.py
 * wrote (default build/parity, or $BV_PARITY_DIR; `make parity-ref` makes it, `make parity` runs
 * this test), each compared with upstream's float32 step within the ENVELOPE that upstream's own
 * float64 run of the same case gives. Skipped when the folder is absent (the data are not committed).
 *
 * For every compared tensor T (every loss and grad norm, every grad.<net>.<key>, every
 * after.<net>.<key>, lr.after_epoch1, and the fwd.* outputs of net_g and the mels), with r = torch
 * fp32, q = torch fp64, a = ours:
 *
 *   E_T       = max_i |r_i - q_i|                       how far torch's own fp32 strays on this case
 *   floor_i   = atol * max(1, max|r|) + rtol * |r_i|   golden F01's rule and tolerance group
 *   allowed_i = max(floor_i, 2 * E_T)
 *
 * and every element must satisfy |a_i - r_i| <= allowed_i. The 2 is the triangle inequality: an
 * implementation that strays from the fp64 result no further than torch fp32 does (<= E_T) is within
 * 2 E_T of torch fp32. The floor is the golden tolerance itself, never a looser one; integer and
 * alignment outputs (attn, ids_slice, masks) must be equal.
 *
 * Parameters after the step (AdamW's first step is p (1 - lr wd) - lr g / (|g| + eps)): the same
 * allowed_i with the golden after_step group as floor; an element beyond it passes only when it stays
 * within hard_atol and the difference comes from the gradient element alone - ours is AdamW's step
 * on our gradient and torch's on torch's (each to fp32 rounding), the gradients having passed their
 * envelope above ("adam-amplified": a sign flip of a gradient at noise level, or |g| within a few
 * eps of zero, where Adam turns gradient noise into motion). Such elements may not exceed the golden
 * max_mismatch_fraction of any network. Elements whose gradient is far from noise on both sides
 * (same sign, |g| >= HEALTHY_G) must meet the golden after_step floor itself.
 *
 * Kinks: a leaky_relu input within torch's own fp32 error of zero may land on either side in an
 * independent fp32 implementation, and every gradient upstream of it then differs (the slope 1 or
 * 0.1 passes). The generator lists such elements and repeats the case with each on its other side;
 * when the main reference fails, ours must match one of those alternatives completely (run_case).
 *
 * Printed per case: the worst ratio |a - r| / allowed (must be <= 1), the worst ratio under the
 * golden floor alone for ours and - the same measure - for torch fp32 against fp64, and the median
 * over tensors of max|a - q| / max|r - q| (our fp32 error over torch's, both against fp64). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../src/io/safetensors.h"
#include "f01_step.h"

#define TOP 4
/* |gradient| from which Adam's first step lr g / (|g| + eps) is insensitive to gradient noise:
 * d step / d g = lr eps / (|g| + eps)^2 <= 2e-5 at 1e-4 (lr 2e-4, eps 1e-9) */
#define HEALTHY_G 1e-4

typedef struct worst {
    double ratio, torch; /* torch: torch fp32's own ratio on the same tensor (top lists) */
    char name[160];
} worst;

typedef struct pcase {
    bv_test_state *ts;
    const char *name;
    bv_safetensors r32, r64;
    bv_safetensors pm;            /* the case's main fp32 file: param.* (a kink alternative holds results only) */
    const cJSON *groups;          /* manifest tolerance_groups */
    int n_tensors, n_missing;
    int64_t n_elems;
    worst env, gold, torch32, top_gold[TOP], after_healthy;
    double *vs64;                 /* per tensor: max|ours - fp64| / max|torch fp32 - fp64| */
    int n_vs64, cap_vs64;
    /* after-step parameters */
    int64_t after_n, amplified, unexplained, beyond_hard;
    int64_t net_n, net_amplified;     /* the network being tallied */
    double lr, eps, wd;           /* AdamW (config train.learning_rate, eps; torch's weight_decay 0.01) */
    int same_alignment;
    int quiet;                    /* count failures without printing (kink alternatives, run_case) */
} pcase;

static pcase *g_pc;

/* BV_CHECK for the comparisons: fails the test; prints unless the attempt is quiet. */
#define PC_CHECK(pc, cond, ...)                                                               \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            if (!(pc)->quiet) {                                                               \
                fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__);                        \
                fprintf(stderr, __VA_ARGS__);                                                 \
                fputc('\n', stderr);                                                          \
            }                                                                                 \
            (pc)->ts->failed = 1;                                                             \
        }                                                                                     \
    } while (0) /* the case running (the F01 body's callbacks carry no user pointer for `after`) */

static void keep_worst(worst *w, double r, const char *name) {
    if (r > w->ratio || (isnan(r) && !isnan(w->ratio))) {
        w->ratio = r;
        snprintf(w->name, sizeof w->name, "%s", name);
    }
}

static void keep_top(worst *top, double r, double torch, const char *name) {
    for (int k = 0; k < TOP; k++)
        if (!(r <= top[k].ratio)) {
            memmove(top + k + 1, top + k, sizeof *top * (size_t)(TOP - 1 - k));
            top[k].ratio = r;
            top[k].torch = torch;
            snprintf(top[k].name, sizeof top[k].name, "%s", name);
            return;
        }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Element i of a stored tensor as double (F64/I64 may be unaligned: memcpy). */
static double st_value(const bv_st_entry *e, int64_t i) {
    const unsigned char *p = e->data;
    switch (e->dtype) {
    case BV_ST_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case BV_ST_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case BV_ST_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    default: return NAN;
    }
}

static const char *group_of(const char *name) {
    static const char *const exact[] = {"fwd.attn", "fwd.ids_slice", "fwd.x_mask", "fwd.z_mask"};
    for (size_t k = 0; k < sizeof exact / sizeof exact[0]; k++)
        if (!strcmp(name, exact[k])) return "exact";
    if (!strncmp(name, "grad.", 5)) return "grad";
    if (!strncmp(name, "after.", 6)) return "after_step";
    if (!strncmp(name, "fwd.", 4) || !strncmp(name, "lr.", 3)) return "forward";
    return "loss";
}

static double group_num(const pcase *pc, const char *group, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(pc->groups, group), key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* The references of `name` (fp32 and fp64 runs) as doubles; NULL (and a failure) if absent or of
 * another size. Caller frees both. */
static int load_refs(pcase *pc, const char *name, int64_t n, double **r, double **q) {
    const bv_st_entry *e32 = bv_st_find(&pc->r32, name), *e64 = bv_st_find(&pc->r64, name);
    if (!e32 || !e64 || e32->numel != n || e64->numel != n) {
        PC_CHECK(pc, 0, "%s: %s: %lld values, stored %lld (fp32) / %lld (fp64)", pc->name, name, (long long)n,
                 e32 ? (long long)e32->numel : -1LL, e64 ? (long long)e64->numel : -1LL);
        pc->n_missing++;
        return -1;
    }
    *r = malloc(sizeof(double) * (size_t)(n ? n : 1));
    *q = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) (*r)[i] = st_value(e32, i), (*q)[i] = st_value(e64, i);
    return 0;
}

/* AdamW's first step (torch 1.13: exp_avg = 0.2 g, exp_avg_sq = 0.01 g^2, bias-corrected) on p0 with
 * gradient g, weight decay first: p0 (1 - lr wd) - lr g / (|g| + eps), in double. */
static double adamw_first_step(const pcase *pc, double p0, double g) {
    return p0 * (1 - pc->lr * pc->wd) - pc->lr * g / (fabs(g) + pc->eps);
}

/* An after-step element beyond the envelope is explained when ours is AdamW's first step on our own
 * gradient and torch's is AdamW's first step on torch's gradient (each to fp32 rounding): the
 * difference then comes from the gradient element alone, which has passed its own envelope, amplified
 * by Adam's g / (|g| + eps) - a sign flip, or a gradient within a few eps of zero, where
 * d after / d g = lr eps / (|g| + eps)^2 (lr / eps = 2e5). */
static int adam_amplified(const pcase *pc, double a, double r, double p0, double g_ours, double g_ref) {
    double tol = 1e-6 * fabs(p0) + 1e-9;
    return fabs(a - adamw_first_step(pc, p0, g_ours)) <= tol && fabs(r - adamw_first_step(pc, p0, g_ref)) <= tol;
}

/* The envelope check of one tensor (file comment). after.* only: `p0` the parameter before the step,
 * `g_ours` our gradient, to tell an element that AdamW moved by a gradient at noise level. */
static void compare(pcase *pc, const char *name, const double *a, int64_t n, const double *p0,
                    const double *g_ours, const double *g_ref) {
    bv_test_state *ts = pc->ts;
    double *r, *q;
    if (load_refs(pc, name, n, &r, &q)) return;
    const char *group = group_of(name);
    pc->n_tensors++;
    pc->n_elems += n;
    if (!strcmp(group, "exact")) {
        int64_t bad = 0;
        for (int64_t i = 0; i < n; i++) bad += a[i] != r[i];
        PC_CHECK(pc, bad == 0, "%s: %s: %lld of %lld elements differ from torch (must be equal)", pc->name, name,
                 (long long)bad, (long long)n);
        free(r);
        free(q);
        return;
    }
    int after = !strcmp(group, "after_step");
    double atol = group_num(pc, group, "atol"), rtol = group_num(pc, group, "rtol");
    double hard = after ? group_num(pc, group, "hard_atol") : INFINITY;
    PC_CHECK(pc, atol >= 0 && rtol >= 0 && hard >= 0, "%s: tolerance group %s incomplete", pc->name, group);
    double rmax = 0, E = 0, err_r = 0, err_q = 0;
    for (int64_t i = 0; i < n; i++) {
        rmax = fmax(rmax, fabs(r[i]));
        E = fmax(E, fabs(r[i] - q[i]));
    }
    double env = 2 * E, w_env = 0, w_gold = 0, w_torch = 0;
    int64_t bad = 0, wi = 0;
    for (int64_t i = 0; i < n; i++) {
        double floor_i = after ? atol + rtol * fabs(r[i]) : atol * fmax(1, rmax) + rtol * fabs(r[i]);
        double allowed = fmax(floor_i, env), d = fabs(a[i] - r[i]);
        err_r = fmax(err_r, d);
        err_q = fmax(err_q, fabs(a[i] - q[i]));
        double re = isnan(d) ? INFINITY : d / allowed;
        if (re > w_env) w_env = re, wi = i;
        w_gold = fmax(w_gold, isnan(d) ? INFINITY : d / floor_i);
        w_torch = fmax(w_torch, fabs(r[i] - q[i]) / floor_i);
        if (!(d <= allowed)) {
            if (after) {
                int amp = p0 && adam_amplified(pc, a[i], r[i], p0[i], g_ours[i], g_ref[i]);
                if (!(d <= hard)) pc->beyond_hard++;
                else if (amp) pc->amplified++, pc->net_amplified++;
                else pc->unexplained++;
                if (!(d <= hard) || !amp) bad++;
            } else {
                bad++;
            }
        }
    }
    if (after) {
        pc->after_n += n;
        pc->net_n += n;
        /* the ratio reported for after-step values: elements whose gradient is well above noise on
         * both sides (same sign, |g| >= HEALTHY_G, where Adam's step hardly depends on |g|), against
         * the golden after_step floor alone */
        double w_after = 0;
        int64_t wa = -1;
        for (int64_t i = 0; i < n; i++) {
            if (!g_ours || !g_ref || !(fabs(g_ours[i]) >= HEALTHY_G && fabs(g_ref[i]) >= HEALTHY_G &&
                                       (g_ours[i] > 0) == (g_ref[i] > 0)))
                continue;
            double d = fabs(a[i] - r[i]), re = isnan(d) ? INFINITY : d / (atol + rtol * fabs(r[i]));
            if (!(re <= w_after)) w_after = re, wa = i;
        }
        keep_worst(&pc->after_healthy, w_after, name);
        PC_CHECK(pc, w_after <= 1, "%s %s: element [%lld] with a gradient far from noise (ours %.4g, torch %.4g) moved to "
                 "%.9g, torch %.9g: %.2f x the golden after_step floor", pc->name, name, (long long)wa,
                 wa >= 0 ? g_ours[wa] : NAN, wa >= 0 ? g_ref[wa] : NAN, wa >= 0 ? a[wa] : NAN, wa >= 0 ? r[wa] : NAN,
                 w_after);
        w_env = w_after;
    }
    if (bad) {
        if (!pc->quiet)
        fprintf(stderr, "  FAIL %s %s: %lld/%lld elements beyond the envelope; worst [%lld] ours %.9g torch fp32 "
                "%.9g fp64 %.9g (allowed %.3g = max(golden floor, 2 x %.3g))\n", pc->name, name, (long long)bad,
                (long long)n, (long long)wi, a[wi], r[wi], q[wi],
                fmax(after ? atol + rtol * fabs(r[wi]) : atol * fmax(1, rmax) + rtol * fabs(r[wi]), env), E);
        ts->failed = 1;
    } else if (bv_test_verbose) {
        fprintf(stderr, "  ok   %s %s: %.3f of the envelope (golden floor alone: ours %.3f, torch fp32 %.3f; "
                "max|ours - fp64| / max|fp32 - fp64| %.3f)\n", pc->name, name, w_env, w_gold, w_torch, E > 0 ? err_q / E : NAN);
    }
    if (!after) { /* after-step values have their own column (w_after) and budget */
        keep_worst(&pc->env, w_env, name);
        keep_worst(&pc->gold, w_gold, name);
        keep_worst(&pc->torch32, w_torch, name);
        keep_top(pc->top_gold, w_gold, w_torch, name);
        if (E > 0) {
            if (pc->n_vs64 == pc->cap_vs64) {
                pc->cap_vs64 = pc->cap_vs64 ? 2 * pc->cap_vs64 : 1024;
                pc->vs64 = realloc(pc->vs64, sizeof(double) * (size_t)pc->cap_vs64);
                if (!pc->vs64) abort();
            }
            pc->vs64[pc->n_vs64++] = err_q / E;
        }
    }
    free(r);
    free(q);
}

static void compare_tensor(pcase *pc, const char *name, const bv_tensor *t) {
    double *a = malloc(sizeof(double) * (size_t)(t->numel ? t->numel : 1));
    for (int64_t i = 0; i < t->numel; i++) a[i] = t->dtype == BV_I64 ? (double)t->idata[i] : t->data[i];
    compare(pc, name, a, t->numel, NULL, NULL, NULL);
    free(a);
}

static void compare_scalar(pcase *pc, const char *name, double v) { compare(pc, name, &v, 1, NULL, NULL, NULL); }

/* The step's tap: net_g's outputs and the mels (the losses come from bv_train_result). */
static void probe_cb(void *user, const char *name, bv_tensor *t) {
    pcase *pc = user;
    if (!strncmp(name, "fwd.", 4) && bv_st_find(&pc->r32, name)) compare_tensor(pc, name, t);
}

static void compare_grads(pcase *pc, const char *net, bv_params *ps) {
    char nm[512];
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *p = ps->items[i];
        double *a = malloc(sizeof(double) * (size_t)p->numel);
        for (int64_t k = 0; k < p->numel; k++) a[k] = p->grad[k];
        snprintf(nm, sizeof nm, "grad.%s.%s", net, p->name);
        compare(pc, nm, a, p->numel, NULL, NULL, NULL);
        free(a);
    }
}

static void compare_after(pcase *pc, const char *net, bv_params *ps) {
    char nm[512], gn[512], pn[512];
    pc->net_n = pc->net_amplified = 0;
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *p = ps->items[i];
        double *a = malloc(sizeof(double) * (size_t)p->numel), *g = malloc(sizeof(double) * (size_t)p->numel);
        for (int64_t k = 0; k < p->numel; k++) a[k] = p->data[k], g[k] = p->grad[k];
        snprintf(nm, sizeof nm, "after.%s.%s", net, p->name);
        snprintf(gn, sizeof gn, "grad.%s.%s", net, p->name);
        snprintf(pn, sizeof pn, "param.%s.%s", net, p->name);
        const bv_st_entry *pe = bv_st_find(&pc->pm, pn);
        double *gr = NULL, *gq = NULL, *p0 = NULL;
        if (pe && pe->numel == p->numel && load_refs(pc, gn, p->numel, &gr, &gq) == 0) {
            p0 = malloc(sizeof(double) * (size_t)p->numel);
            for (int64_t k = 0; k < p->numel; k++) p0[k] = st_value(pe, k);
            compare(pc, nm, a, p->numel, p0, g, gr);
        } else {
            PC_CHECK(pc, pe != NULL, "%s: %s missing", pc->name, pn);
        }
        free(p0);
        free(gr);
        free(gq);
        free(a);
        free(g);
    }
    double frac = pc->net_n ? (double)pc->net_amplified / (double)pc->net_n : 0;
    double max_frac = group_num(pc, "after_step", "max_mismatch_fraction");
    PC_CHECK(pc, frac <= max_frac, "%s: %s: %lld/%lld parameters moved by noise-level gradients (allowed fraction %g)",
             pc->name, net, (long long)pc->net_amplified, (long long)pc->net_n, max_frac);
}

static void after_cb(bv_test_state *ts, bv_train_state *st, const bv_train_result *r) {
    pcase *pc = g_pc;
    char nm[96];
    compare_scalar(pc, "dstep.loss_disc", r->loss_disc);
    for (int i = 0; i < r->n_disc; i++) {
        snprintf(nm, sizeof nm, "dstep.losses_disc_r.%d", i);
        compare_scalar(pc, nm, r->losses_disc_r[i]);
        snprintf(nm, sizeof nm, "dstep.losses_disc_g.%d", i);
        compare_scalar(pc, nm, r->losses_disc_g[i]);
        snprintf(nm, sizeof nm, "gstep.losses_gen.%d", i);
        compare_scalar(pc, nm, r->losses_gen[i]);
    }
    compare_scalar(pc, "dstep.loss_dur_disc", r->loss_dur_disc);
    for (int b = 0; b < r->n_dur; b++) {
        snprintf(nm, sizeof nm, "dstep.losses_dur_disc_r.%d", b);
        compare_scalar(pc, nm, r->losses_dur_disc_r[b]);
        snprintf(nm, sizeof nm, "dstep.losses_dur_disc_g.%d", b);
        compare_scalar(pc, nm, r->losses_dur_disc_g[b]);
        snprintf(nm, sizeof nm, "gstep.losses_dur_gen.%d", b);
        compare_scalar(pc, nm, r->losses_dur_gen[b]);
    }
    static const char *const names[] = {"dstep.grad_norm_dur", "dstep.grad_norm_d", "wdstep.grad_norm_wd",
                                        "gstep.grad_norm_g", "wdstep.loss_slm", "gstep.loss_dur", "gstep.loss_mel",
                                        "gstep.loss_kl", "gstep.loss_fm", "gstep.loss_gen", "gstep.loss_lm",
                                        "gstep.loss_lm_gen", "gstep.loss_dur_gen", "gstep.loss_gen_all"};
    const double vals[] = {r->grad_norm_dur, r->grad_norm_d, r->grad_norm_wd, r->grad_norm_g, r->loss_slm,
                           r->loss_dur, r->loss_mel, r->loss_kl, r->loss_fm, r->loss_gen, r->loss_lm,
                           r->loss_lm_gen, r->loss_dur_gen, r->loss_gen_all};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) compare_scalar(pc, names[k], vals[k]);
    compare_grads(pc, "net_dur_disc", &st->ps_dur);
    compare_grads(pc, "net_d", &st->ps_d);
    compare_grads(pc, "net_wd", &st->ps_wd);
    compare_grads(pc, "net_g", &st->ps_g);
    compare_after(pc, "net_dur_disc", &st->ps_dur);
    compare_after(pc, "net_d", &st->ps_d);
    compare_after(pc, "net_wd", &st->ps_wd);
    compare_after(pc, "net_g", &st->ps_g);
    bv_train_state_epoch_end(st);
    double lr[4] = {st->optim_g.lr, st->optim_d.lr, st->optim_wd.lr, st->net_dur_disc ? st->optim_dur.lr : NAN};
    compare(pc, "lr.after_epoch1", lr, 4, NULL, NULL, NULL);
    (void)ts;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    rewind(f);
    char *buf = n >= 0 && n < (1L << 30) ? malloc((size_t)n + 1) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (buf) buf[got] = 0;
    return buf;
}

/* One comparison of our step with the reference pair (f32, f64) of case cs; stats in *pc, returns
 * 1 if anything failed. quiet: count failures without printing them (a kink alternative may match). */
static int attempt(bv_test_state *ts, const char *dir, const cJSON *cs, const char *f32, const char *f64, int quiet,
                   pcase *pc) {
    const cJSON *nm = cJSON_GetObjectItem(cs, "name");
    *pc = (pcase){.ts = ts, .name = nm->valuestring, .groups = cJSON_GetObjectItem(cs, "tolerance_groups"),
                  .quiet = quiet};
    int failed_before = ts->failed;
    ts->failed = 0;
    char path[1400], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, f32);
    int rc = bv_st_open(&pc->r32, path, err, sizeof err);
    PC_CHECK(pc, rc == 0, "%s", err);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/%s", dir, f64);
        rc = bv_st_open(&pc->r64, path, err, sizeof err);
        PC_CHECK(pc, rc == 0, "%s", err);
    }
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/%s", dir, cJSON_GetStringValue(cJSON_GetObjectItem(cs, "file")));
        rc = bv_st_open(&pc->pm, path, err, sizeof err);
        PC_CHECK(pc, rc == 0, "%s", err);
    }
    if (rc == 0) {
        const cJSON *train =
            cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cs, "config"), "config"), "train");
        const cJSON *lr = cJSON_GetObjectItem(train, "learning_rate"), *eps = cJSON_GetObjectItem(train, "eps");
        pc->lr = cJSON_IsNumber(lr) ? lr->valuedouble : NAN;
        pc->eps = cJSON_IsNumber(eps) ? eps->valuedouble : NAN;
        pc->wd = 0.01; /* train_ms builds AdamW without weight_decay: torch's default */
        PC_CHECK(pc, pc->lr > 0 && pc->eps > 0, "%s: config.config.train.learning_rate / eps missing", pc->name);
        pc->same_alignment = cJSON_IsTrue(cJSON_GetObjectItem(cs, "fp32_fp64_same_alignment")) &&
                             cJSON_IsTrue(cJSON_GetObjectItem(cs, "fp32_fp64_same_slice"));
        PC_CHECK(pc, pc->same_alignment, "%s: torch fp32 and fp64 took different alignments or slices: no envelope",
                 pc->name);
        g_pc = pc;
        bv_test_f01_step(ts, &(bv_test_f01_opts){.case_name = pc->name, .probe = probe_cb, .probe_user = pc,
                                                  .after = after_cb,
                                                  .unchecked_why = "a parity-sweep case: compared here against "
                                                                   "torch fp32 within its fp64 envelope, not "
                                                                   "under F01's own checks"});
        g_pc = NULL;
        PC_CHECK(pc, pc->unexplained == 0 && pc->beyond_hard == 0,
                 "%s: after-step elements beyond the envelope: %lld not from a noise-level gradient, %lld beyond "
                 "hard_atol", pc->name, (long long)pc->unexplained, (long long)pc->beyond_hard);
        PC_CHECK(pc, pc->n_missing == 0, "%s: %d tensors missing", pc->name, pc->n_missing);
    }
    int failed = ts->failed;
    ts->failed = failed_before;
    return failed;
}

static void attempt_free(pcase *pc) {
    free(pc->vs64);
    if (pc->r32.base) bv_st_close(&pc->r32);
    if (pc->r64.base) bv_st_close(&pc->r64);
    if (pc->pm.base) bv_st_close(&pc->pm);
}

/* A case: its reference; when that fails and the case has kink alternatives (leaky_relu inputs within
 * torch's own fp32 error of zero, tests/ref/parity_sweep.py), each alternative in turn - ours must
 * match one reference completely; when none does, the failures against the main one are printed. */
static void run_case(bv_test_state *ts, const char *dir, const cJSON *cs, FILE *table) {
    const cJSON *nm = cJSON_GetObjectItem(cs, "name"), *f32 = cJSON_GetObjectItem(cs, "file"),
                *f64 = cJSON_GetObjectItem(cs, "fp64_file"), *alts = cJSON_GetObjectItem(cs, "kink_alternatives");
    if (!cJSON_IsString(nm) || !cJSON_IsString(f32) || !cJSON_IsString(f64)) {
        BV_CHECK(0, "%s/manifest.json: a case without name, file or fp64_file", dir);
        return;
    }
    int n_alts = cJSON_GetArraySize(alts), used = -1;
    pcase pc;
    int failed = attempt(ts, dir, cs, f32->valuestring, f64->valuestring, n_alts > 0, &pc);
    for (int k = 0; failed && k < n_alts; k++) {
        const cJSON *alt = cJSON_GetArrayItem(alts, k), *a32 = cJSON_GetObjectItem(alt, "file"),
                    *a64 = cJSON_GetObjectItem(alt, "fp64_file");
        if (!cJSON_IsString(a32) || !cJSON_IsString(a64)) continue;
        pcase pa;
        if (!attempt(ts, dir, cs, a32->valuestring, a64->valuestring, !bv_test_verbose, &pa)) {
            attempt_free(&pc);
            pc = pa;
            failed = 0;
            used = k;
        } else {
            attempt_free(&pa);
        }
    }
    if (failed && n_alts) { /* none matched: report against the main reference */
        attempt_free(&pc);
        attempt(ts, dir, cs, f32->valuestring, f64->valuestring, 0, &pc);
    }
    ts->failed |= failed;
    if (used >= 0) {
        const cJSON *alt = cJSON_GetArrayItem(alts, used);
        double call = cJSON_GetNumberValue(cJSON_GetObjectItem(alt, "leaky_relu_call")),
               idx = cJSON_GetNumberValue(cJSON_GetObjectItem(alt, "index")),
               x = cJSON_GetNumberValue(cJSON_GetObjectItem(alt, "x_fp64")),
               e = cJSON_GetNumberValue(cJSON_GetObjectItem(alt, "torch_fp32_error"));
        printf("  %s: ours matches the reference with leaky_relu call %.0f element %.0f on its other side (x = %.3g "
               "in fp64, torch's own fp32 error on that input %.3g): a kink within fp32 noise, not a difference\n",
               pc.name, call, idx, x, e);
    }
    const cJSON *margin = cJSON_GetObjectItem(cs, "mas_min_decision_margin");
    double median = NAN, yhat = 0; /* the decoder's gradient noise grows with the output level (README) */
    const bv_st_entry *ye = pc.r32.base ? bv_st_find(&pc.r32, "fwd.y_hat") : NULL;
    for (int64_t i = 0; ye && i < ye->numel; i++) yhat = fmax(yhat, fabs(st_value(ye, i)));
    if (pc.n_vs64) {
        qsort(pc.vs64, (size_t)pc.n_vs64, sizeof(double), cmp_double);
        median = pc.vs64[pc.n_vs64 / 2];
    }
    char verdict[32];
    snprintf(verdict, sizeof verdict, failed ? "FAIL" : used >= 0 ? "ok (kink %d)" : "ok", used);
    fprintf(table, "| %-9s | %4d | %7lld | %5.3f | %-44s | %5.3f | %5.3f | %-44s | %5.2f | %5.3f | %lld/%lld | %5.3g | %7.2g | %s |\n",
            pc.name, pc.n_tensors, (long long)pc.n_elems, pc.env.ratio, pc.env.name, pc.gold.ratio, pc.torch32.ratio,
            pc.torch32.name, median, pc.after_healthy.ratio, (long long)pc.amplified, (long long)pc.after_n,
            cJSON_IsNumber(margin) ? margin->valuedouble : NAN, yhat, verdict);
    if (bv_test_verbose) {
        fprintf(stderr, "  %s: largest errors under the golden floor alone (ours / torch fp32 vs fp64, same tensor):\n",
                pc.name);
        for (int k = 0; k < TOP && pc.top_gold[k].name[0]; k++)
            fprintf(stderr, "      %.3f / %.3f  %s\n", pc.top_gold[k].ratio, pc.top_gold[k].torch, pc.top_gold[k].name);
    }
    attempt_free(&pc);
}

/* Every case of the sweep folder; one table row per case on stdout. */
BV_GOLDEN_TEST(parity_sweep) {
    const char *dir = getenv("BV_PARITY_DIR");
    if (!dir || !*dir) dir = "build/parity";
    char path[1200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    char *text = read_text(path);
    if (!text) {
        bv_test_skip(ts, "no %s (make parity-ref makes it: tests/ref/parity_sweep.py)", path);
        return;
    }
    cJSON *m = cJSON_Parse(text);
    free(text);
    const cJSON *cases = cJSON_GetObjectItem(m, "cases");
    BV_CHECK(cJSON_IsArray(cases) && cJSON_GetArraySize(cases) > 0, "%s: no cases", path);
    const char *golden = bv_test_golden_dir;
    bv_test_golden_dir = dir; /* the F01 body opens its case (and wavlm_tiny) there */
    printf("parity sweep (%s): ours vs torch fp32 within max(golden floor, 2 max|torch fp32 - fp64|)\n", dir);
    printf("columns: worst = max |ours - fp32| / allowed over losses, gradients, lr and net_g outputs (must be <= 1), "
           "and its tensor; ours/gold = max |ours - fp32| / golden floor; torch/gold = max |fp32 - fp64| / golden floor, "
           "and its tensor; vs64 = median over tensors of max|ours - fp64| / max|fp32 - fp64|; after = parameters after "
           "the step whose gradient is far from noise: max |ours - fp32| / golden after_step floor; adam-amplified = "
           "after-step elements beyond the envelope from a noise-level gradient (budget: golden max_mismatch_fraction)\n");
    printf("| case      | tens | elems   | worst | worst tensor                                 | ours/gold | torch/gold "
           "| its tensor                                   | vs64  | after | adam-amplified | MAS margin | max|y_hat| | |\n");
    const cJSON *cs;
    cJSON_ArrayForEach(cs, cases) {
        const char *filter = getenv("BV_PARITY_CASES"); /* comma-separated case names, optional */
        const cJSON *nm = cJSON_GetObjectItem(cs, "name");
        if (filter && *filter && (!cJSON_IsString(nm) || !strstr(filter, nm->valuestring))) continue;
        run_case(ts, dir, cs, stdout);
        fflush(stdout);
    }
    bv_test_golden_dir = golden;
    cJSON_Delete(m);
}
