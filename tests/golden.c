/* golden.c - golden case loader and comparator (see golden.h and ../shared/golden/README.md). */
#include "golden.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAMED 4096
#define MAX_IGNORES 64

typedef struct {
    const char *name;   /* short name (output) or tensor name (input) */
    bv_tensor *t;
} named;

struct bv_golden {
    bv_test_state *ts;
    bv_ctx *ctx;
    const cJSON *cs;           /* manifest entry */
    bv_safetensors st;
    named inputs[MAX_NAMED];   /* loaded with bv_golden_input, by tensor name "in.x" */
    int n_inputs;
    named outputs[MAX_NAMED];  /* registered with bv_golden_output, by short name "y" */
    int n_outputs;
    bv_rng_draw *draws;
    unsigned char *touched;    /* per stored tensor: read or compared by the test (coverage, golden.h) */
    struct {
        char *pattern, *reason;
        int hits;
    } ignores[MAX_IGNORES];    /* bv_golden_ignore declarations */
    int n_ignores;
};

/* The stored tensor `name`, marked as read by the test; NULL if absent. */
static const bv_st_entry *find_touch(bv_golden *g, const char *name) {
    const bv_st_entry *e = bv_st_find(&g->st, name);
    if (e) g->touched[e - g->st.entries] = 1;
    return e;
}

/* Element i of a stored tensor as double. Tensors are packed back to back, so an F64/I64 tensor
 * may start on a 4-byte boundary: read through memcpy, never through a misaligned pointer. */
static double stored_value(const bv_st_entry *e, int64_t i) {
    const unsigned char *p = e->data;
    switch (e->dtype) {
    case BV_ST_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case BV_ST_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case BV_ST_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    case BV_ST_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    default: return NAN;
    }
}

static cJSON *g_manifest;
static char g_manifest_dir[1024];

void bv_golden_manifest_reset(void) {
    cJSON_Delete(g_manifest);
    g_manifest = NULL;
    g_manifest_dir[0] = 0;
}

static const cJSON *manifest_case(bv_test_state *ts, const char *name) {
    if (!g_manifest || strcmp(g_manifest_dir, bv_test_golden_dir) != 0) {
        char path[1200];
        snprintf(path, sizeof path, "%s/manifest.json", bv_test_golden_dir);
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "  golden: cannot open %s\n", path);
            return NULL;
        }
        long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
        rewind(f);
        char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (!buf) {
            fprintf(stderr, "  golden: cannot read %s\n", path);
            fclose(f);
            return NULL;
        }
        size_t got = fread(buf, 1, (size_t)n, f);
        fclose(f);
        buf[got] = 0;
        cJSON_Delete(g_manifest);
        g_manifest = cJSON_Parse(buf);
        free(buf);
        if (!g_manifest) {
            fprintf(stderr, "  golden: %s is not valid JSON\n", path);
            return NULL;
        }
        snprintf(g_manifest_dir, sizeof g_manifest_dir, "%s", bv_test_golden_dir);
    }
    const cJSON *cases = cJSON_GetObjectItem(g_manifest, "cases");
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const cJSON *nm = cJSON_GetObjectItem(c, "name");
        if (cJSON_IsString(nm) && strcmp(nm->valuestring, name) == 0) return c;
    }
    (void)ts;
    return NULL;
}

/* "atol" and "rtol" of a tolerance object, when both are numbers. */
static int tolerance_pair(const cJSON *tol, double *atol, double *rtol) {
    const cJSON *a = cJSON_GetObjectItem(tol, "atol"), *r = cJSON_GetObjectItem(tol, "rtol");
    if (!cJSON_IsNumber(a) || !cJSON_IsNumber(r)) return -1;
    *atol = a->valuedouble;
    *rtol = r->valuedouble;
    return 0;
}

bv_golden *bv_golden_open(bv_test_state *ts, bv_ctx *ctx, const char *case_name) {
    const cJSON *cs = manifest_case(ts, case_name);
    if (!cs) { /* a set made with other settings may not carry every case: reported, not failed */
        if (g_manifest) bv_test_skip(ts, "case %s is not in %s/manifest.json", case_name, bv_test_golden_dir);
        else ts->failed = 1;
        return NULL;
    }
    /* what every later access relies on: the case file's name and the default tolerance */
    const cJSON *file = cJSON_GetObjectItem(cs, "file");
    double atol, rtol;
    if (!cJSON_IsString(file) || tolerance_pair(cJSON_GetObjectItem(cs, "tolerance"), &atol, &rtol)) {
        fprintf(stderr, "  golden: %s/manifest.json: case %s needs a \"file\" string and a \"tolerance\" with "
                "numeric atol and rtol\n", bv_test_golden_dir, case_name);
        ts->failed = 1;
        return NULL;
    }
    bv_golden *g = calloc(1, sizeof *g);
    g->ts = ts;
    g->ctx = ctx;
    g->cs = cs;
    char path[1200], err[512];
    snprintf(path, sizeof path, "%s/%s", bv_test_golden_dir, file->valuestring);
    if (!bv_golden_need(ts, file->valuestring, NULL)) {
        free(g);
        return NULL;
    }
    if (bv_st_open(&g->st, path, err, sizeof err) != 0) {
        fprintf(stderr, "  golden: %s\n", err);
        ts->failed = 1;
        free(g);
        return NULL;
    }
    g->touched = calloc((size_t)(g->st.n ? g->st.n : 1), 1);
    return g;
}

/* The recorded draws the code under test consumed from the replay queue count as read (one never
 * drawn is uncovered: the code made fewer draws than upstream). */
static void note_consumed_draws(bv_golden *g) {
    const bv_rng *r = &g->ctx->rng;
    if (!g->draws || r->replay != g->draws) return;
    for (int k = 0; k < r->next_replay && k < r->n_replay; k++)
        if (g->draws[k].name) find_touch(g, g->draws[k].name);
}

void bv_golden_ignore(bv_golden *g, const char *pattern, const char *reason) {
    if (!g) return;
    if (!pattern || !reason || !*reason || g->n_ignores == MAX_IGNORES) {
        fprintf(stderr, "  golden: bv_golden_ignore(\"%s\"): %s\n", pattern ? pattern : "(null)",
                g->n_ignores == MAX_IGNORES ? "too many declarations for one case"
                                            : "a pattern and a non-empty reason are required");
        g->ts->failed = 1;
        return;
    }
    g->ignores[g->n_ignores].pattern = strdup(pattern);
    g->ignores[g->n_ignores].reason = strdup(reason);
    g->ignores[g->n_ignores].hits = 0;
    g->n_ignores++;
}

/* Coverage: every stored tensor the test neither read nor compared, and did not declare with
 * bv_golden_ignore, fails the test by name. A test that already failed or was skipped is not
 * judged on coverage (its later checks never ran). */
static void check_coverage(bv_golden *g) {
    if (g->ts->failed || g->ts->skipped) return;
    const char *case_name = cJSON_GetObjectItem(g->cs, "name")->valuestring;
    int missed = 0;
    for (int i = 0; i < g->st.n; i++) {
        if (g->touched[i]) continue;
        const char *nm = g->st.entries[i].name;
        int k = 0;
        while (k < g->n_ignores && fnmatch(g->ignores[k].pattern, nm, 0) != 0) k++;
        if (k < g->n_ignores) {
            g->ignores[k].hits++;
            continue;
        }
        if (missed++ < 20 || bv_test_verbose)
            fprintf(stderr, "  FAIL %s: stored tensor %s was not compared by this test\n", case_name, nm);
    }
    if (missed) {
        fprintf(stderr, "  FAIL %s: %d stored tensor(s) not compared; compare them, or declare them with "
                "bv_golden_ignore(g, pattern, reason) (tests/golden.h)\n", case_name, missed);
        g->ts->failed = 1;
    }
    if (bv_test_verbose) {
        int touched = 0;
        for (int i = 0; i < g->st.n; i++) touched += g->touched[i];
        fprintf(stderr, "  coverage %s: %d of %d stored tensors read or compared\n", case_name, touched, g->st.n);
    }
    for (int k = 0; bv_test_verbose && k < g->n_ignores; k++)
        fprintf(stderr, "  ignored %s: %d stored tensor(s) matching '%s': %s\n", case_name, g->ignores[k].hits,
                g->ignores[k].pattern, g->ignores[k].reason);
}

void bv_golden_close(bv_golden *g) {
    if (!g) return;
    note_consumed_draws(g);
    check_coverage(g);
    for (int k = 0; k < g->n_ignores; k++) {
        free(g->ignores[k].pattern);
        free(g->ignores[k].reason);
    }
    if (g->draws && g->ctx->rng.replay == g->draws) bv_rng_set_replay(&g->ctx->rng, NULL, 0);
    bv_st_close(&g->st);
    free(g->touched);
    free(g->draws);
    free(g);
}

const cJSON *bv_golden_config(const bv_golden *g) { return cJSON_GetObjectItem(g->cs, "config"); }
const cJSON *bv_golden_case_json(const bv_golden *g) { return g->cs; }
bv_ctx *bv_golden_ctx(const bv_golden *g) { return g->ctx; }

static const cJSON *cfg_item(bv_golden *g, const char *key) {
    const cJSON *cfg = bv_golden_config(g);
    return cfg ? cJSON_GetObjectItem(cfg, key) : NULL;
}

/* A config number as an integer: one outside int64 (1e300, a NaN) is a named failure and 0, never
 * an out-of-range conversion. */
static long long cfg_ll(bv_golden *g, const char *key, double d) {
    if (d >= -9.2e18 && d <= 9.2e18) return (long long)d;
    fprintf(stderr, "  golden: config key '%s': %g is not an integer in range\n", key, d);
    g->ts->failed = 1;
    return 0;
}

long long bv_golden_cfg_int(bv_golden *g, const char *key) {
    const cJSON *v = cfg_item(g, key);
    if (!cJSON_IsNumber(v)) {
        fprintf(stderr, "  golden: config key '%s' missing or not a number\n", key);
        g->ts->failed = 1;
        return 0;
    }
    return cfg_ll(g, key, v->valuedouble);
}

double bv_golden_cfg_num(bv_golden *g, const char *key) {
    const cJSON *v = cfg_item(g, key);
    if (!cJSON_IsNumber(v)) {
        fprintf(stderr, "  golden: config key '%s' missing or not a number\n", key);
        g->ts->failed = 1;
        return 0;
    }
    return v->valuedouble;
}

long long bv_golden_cfg_int_or(bv_golden *g, const char *key, long long def) {
    const cJSON *v = cfg_item(g, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return cJSON_IsNumber(v) ? cfg_ll(g, key, v->valuedouble) : def;
}

int bv_golden_cfg_ints(bv_golden *g, const char *key, long long *out, int cap) {
    const cJSON *v = cfg_item(g, key);
    if (!cJSON_IsArray(v)) return -1;
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (n < cap) out[n] = cfg_ll(g, key, e->valuedouble);
        n++;
    }
    return n;
}

int bv_golden_has(const bv_golden *g, const char *name) { return bv_st_find(&g->st, name) != NULL; }

bv_tensor *bv_golden_tensor(bv_golden *g, const char *name) {
    const bv_st_entry *e = find_touch(g, name);
    if (!e) {
        fprintf(stderr, "  golden: tensor %s missing from case file\n", name);
        g->ts->failed = 1;
        return NULL;
    }
    bv_tensor *t;
    if (e->dtype == BV_ST_I64) {
        t = bv_new(g->ctx, BV_I64, e->ndim, e->shape);
        memcpy(t->idata, e->data, e->nbytes);
    } else if (e->dtype == BV_ST_F32) {
        t = bv_new(g->ctx, BV_F32, e->ndim, e->shape);
        memcpy(t->data, e->data, e->nbytes);
    } else if (e->dtype == BV_ST_F64) {
        t = bv_new(g->ctx, BV_F32, e->ndim, e->shape);
        for (int64_t i = 0; i < e->numel; i++) t->data[i] = (float)stored_value(e, i);
    } else {
        fprintf(stderr, "  golden: tensor %s has unsupported dtype %s\n", name, bv_st_dtype_name(e->dtype));
        g->ts->failed = 1;
        return NULL;
    }
    t->name = e->name;
    return t;
}

bv_tensor *bv_golden_input(bv_golden *g, const char *name) {
    bv_tensor *t = bv_golden_tensor(g, name);
    if (!t) return NULL;
    if (t->dtype == BV_F32) t->requires_grad = true;
    if (g->n_inputs < MAX_NAMED) g->inputs[g->n_inputs++] = (named){t->name, t};
    return t;
}

int64_t bv_golden_f64(bv_golden *g, const char *name, const double **data) {
    const bv_st_entry *e = find_touch(g, name);
    if (!e || e->dtype != BV_ST_F64) return -1;
    double *copy = bv_arena_alloc(&g->ctx->arena, sizeof(double) * (size_t)(e->numel ? e->numel : 1));
    memcpy(copy, e->data, e->nbytes); /* aligned copy (see stored_value) */
    *data = copy;
    return e->numel;
}

void bv_golden_load_params(bv_golden *g, bv_params *ps, const char *prefix) {
    size_t pl = strlen(prefix);
    int used = 0;
    for (int i = 0; i < g->st.n; i++) {
        const bv_st_entry *e = &g->st.entries[i];
        if (strncmp(e->name, prefix, pl) != 0) continue;
        bv_tensor *p = bv_params_get(ps, e->name + pl);
        if (!p) {
            fprintf(stderr, "  golden: case tensor %s has no parameter '%s' in the model\n", e->name, e->name + pl);
            g->ts->failed = 1;
            continue;
        }
        int same = p->ndim == e->ndim && e->dtype == BV_ST_F32;
        for (int d = 0; same && d < e->ndim; d++) same = p->shape[d] == e->shape[d];
        if (!same) {
            char b[96];
            fprintf(stderr, "  golden: %s: got %s %s, model expects %s\n", e->name, bv_st_dtype_name(e->dtype),
                    "(stored shape differs)", bv_shape_str(p, b, sizeof b));
            g->ts->failed = 1;
            continue;
        }
        memcpy(p->data, e->data, e->nbytes);
        g->touched[i] = 1;
        used++;
    }
    if (used != ps->n) {
        fprintf(stderr, "  golden: %d of the model's %d parameters were found in the case under '%s'\n", used, ps->n,
                prefix);
        g->ts->failed = 1;
    }
}

const cJSON *bv_golden_manifest_tensor(const bv_golden *g, const char *name) {
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(g->cs, "tensors")) {
        const cJSON *nm = cJSON_GetObjectItem(t, "name");
        if (cJSON_IsString(nm) && !strcmp(nm->valuestring, name)) return t;
    }
    return NULL;
}

/* The manifest's own "group" for a tensor (e.g. F01 marks float alignments "exact"), or NULL. */
static const char *manifest_group(const bv_golden *g, const char *name) {
    const cJSON *grp = cJSON_GetObjectItem(bv_golden_manifest_tensor(g, name), "group");
    return cJSON_IsString(grp) ? grp->valuestring : NULL;
}

static void tolerance_for(const bv_golden *g, const char *name, int is_int, double *atol, double *rtol) {
    tolerance_pair(cJSON_GetObjectItem(g->cs, "tolerance"), atol, rtol);   /* checked by bv_golden_open */
    const char *group = manifest_group(g, name);
    if (group) {
        if (!strcmp(group, "exact")) is_int = 1;
    } else if (is_int) group = "exact";
    else if (!strncmp(name, "gin.", 4) || !strncmp(name, "gparam.", 7) || !strncmp(name, "grad.", 5)) group = "grad";
    else if (!strncmp(name, "out.", 4) || !strncmp(name, "mid.", 4) || !strncmp(name, "fwd.", 4) ||
             !strncmp(name, "sub.", 4)) group = "forward";
    const cJSON *groups = cJSON_GetObjectItem(g->cs, "tolerance_groups");
    const cJSON *grp = group && groups ? cJSON_GetObjectItem(groups, group) : NULL;
    if (grp && tolerance_pair(grp, atol, rtol)) {
        fprintf(stderr, "  golden: tolerance_groups.%s of %s has no numeric atol and rtol: using 0\n", group, name);
        g->ts->failed = 1;
        *atol = *rtol = 0;
    } else if (!grp && is_int) {
        *atol = *rtol = 0;
    }
}

/* README rule: |a - e| <= atol * max(1, max|e|) + rtol * |e|. */
static int compare(bv_golden *g, const char *name, const bv_st_entry *e, const double *a, int64_t n) {
    double atol, rtol;
    int is_int = e->dtype == BV_ST_I64 || e->dtype == BV_ST_I32;
    tolerance_for(g, name, is_int, &atol, &rtol);
    if (n != e->numel) {
        fprintf(stderr, "  FAIL %s: %lld elements, expected %lld\n", name, (long long)n, (long long)e->numel);
        g->ts->failed = 1;
        return 0;
    }
    double emax = 0;
    for (int64_t i = 0; i < n; i++) {
        double ev = stored_value(e, i);
        if (fabs(ev) > emax) emax = fabs(ev);
    }
    double scale = emax > 1 ? emax : 1, worst = -1, worst_err = 0, worst_e = 0, worst_a = 0, worst_ratio = 0;
    int64_t worst_i = -1, bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double ev = stored_value(e, i);
        double err = fabs(a[i] - ev), allowed = atol * scale + rtol * fabs(ev);
        if (!(err <= allowed)) bad++;
        if (allowed > 0 && err / allowed > worst_ratio) worst_ratio = err / allowed;
        double excess = isnan(err) ? INFINITY : err - allowed;
        if (worst_i < 0 || excess > worst) {
            worst = excess;
            worst_i = i;
            worst_err = err;
            worst_e = ev;
            worst_a = a[i];
        }
    }
    int ok = bad == 0;
    if (ok && bv_test_verbose)
        fprintf(stderr, "  ok   %s: worst element uses %.1f%% of its allowed error (err %.3g; atol %g rtol %g)\n", name,
                100 * worst_ratio, worst_err, atol, rtol);
    if (!ok) {
        fprintf(stderr, "  FAIL %s: %lld/%lld elements off; worst [%lld] got %.8g expected %.8g (err %.3g, atol %g rtol %g)\n",
                name, (long long)bad, (long long)n, (long long)worst_i, worst_a, worst_e, worst_err, atol, rtol);
        g->ts->failed = 1;
    }
    return ok;
}

int bv_golden_check_f64(bv_golden *g, const char *name, const double *actual, int64_t n) {
    const bv_st_entry *e = find_touch(g, name);
    if (!e) {
        fprintf(stderr, "  FAIL %s: not in case file\n", name);
        g->ts->failed = 1;
        return 0;
    }
    return compare(g, name, e, actual, n);
}

int bv_golden_check(bv_golden *g, const char *name, const bv_tensor *actual) {
    const bv_st_entry *e = find_touch(g, name);
    if (!e) {
        fprintf(stderr, "  FAIL %s: not in case file\n", name);
        g->ts->failed = 1;
        return 0;
    }
    if (!actual) {
        fprintf(stderr, "  FAIL %s: no tensor produced\n", name);
        g->ts->failed = 1;
        return 0;
    }
    int same = actual->ndim == e->ndim;
    for (int d = 0; same && d < e->ndim; d++) same = actual->shape[d] == e->shape[d];
    if (!same) {
        char b[96];
        fprintf(stderr, "  FAIL %s: shape %s differs from the stored one (", name, bv_shape_str(actual, b, sizeof b));
        for (int d = 0; d < e->ndim; d++) fprintf(stderr, d ? ", %lld" : "%lld", (long long)e->shape[d]);
        fprintf(stderr, ")\n");
        g->ts->failed = 1;
        return 0;
    }
    double *a = malloc(sizeof(double) * (size_t)(actual->numel ? actual->numel : 1));
    for (int64_t i = 0; i < actual->numel; i++)
        a[i] = actual->dtype == BV_I64 ? (double)actual->idata[i] : (double)actual->data[i];
    int ok = compare(g, name, e, a, actual->numel);
    free(a);
    return ok;
}

int bv_golden_output(bv_golden *g, const char *short_name, bv_tensor *t) {
    if (g->n_outputs < MAX_NAMED) {
        size_t len = strlen(short_name) + 1; /* callers often pass a reused buffer: keep a copy */
        char *copy = bv_arena_alloc(&g->ctx->arena, len);
        memcpy(copy, short_name, len);
        g->outputs[g->n_outputs++] = (named){copy, t};
    }
    char name[256];
    snprintf(name, sizeof name, "out.%s", short_name);
    if (!bv_golden_has(g, name)) return 1;
    return bv_golden_check(g, name, t);
}

/* Cases without a differentiated_outputs list (E01) differentiate every output that has a stored
 * gout.<name>: build that list from the case file. */
static cJSON *outputs_with_gout(const bv_golden *g) {
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < g->st.n; i++)
        if (!strncmp(g->st.entries[i].name, "gout.", 5))
            cJSON_AddItemToArray(list, cJSON_CreateString(g->st.entries[i].name + 5));
    return list;
}

void bv_golden_backward(bv_golden *g) {
    const cJSON *diff = cJSON_GetObjectItem(g->cs, "differentiated_outputs");
    cJSON *derived = NULL;
    if (!cJSON_IsArray(diff)) diff = derived = outputs_with_gout(g);
    int n = cJSON_GetArraySize(diff);
    bv_tensor **roots = calloc((size_t)(n ? n : 1), sizeof *roots);
    const bv_tensor **gouts = calloc((size_t)(n ? n : 1), sizeof *gouts);
    int k = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, diff) {
        const char *nm = cJSON_IsString(d) ? d->valuestring : NULL;
        if (!nm) {
            fprintf(stderr, "  golden: differentiated_outputs holds a non-string\n");
            g->ts->failed = 1;
            continue;
        }
        bv_tensor *t = NULL;
        for (int i = 0; i < g->n_outputs; i++)
            if (!strcmp(g->outputs[i].name, nm)) t = g->outputs[i].t;
        if (!t) {
            fprintf(stderr, "  golden: differentiated output '%s' was not registered\n", nm);
            g->ts->failed = 1;
            continue;
        }
        char gname[256];
        snprintf(gname, sizeof gname, "gout.%s", nm);
        roots[k] = t;
        gouts[k] = bv_golden_has(g, gname) ? bv_golden_tensor(g, gname) : NULL;
        k++;
    }
    bv_backward_multi(g->ctx, k, roots, gouts);
    free(roots);
    free(gouts);
    cJSON_Delete(derived);
}

void bv_golden_check_grads(bv_golden *g, bv_params *ps, const char *param_prefix) {
    size_t pl = param_prefix ? strlen(param_prefix) : 0;
    for (int i = 0; i < g->st.n; i++) {
        const char *nm = g->st.entries[i].name;
        bv_tensor *t = NULL;
        if (!strncmp(nm, "gin.", 4)) {
            char in_name[256];
            snprintf(in_name, sizeof in_name, "in.%s", nm + 4);
            for (int k = 0; k < g->n_inputs; k++)
                if (!strcmp(g->inputs[k].name, in_name)) t = g->inputs[k].t;
            if (!t) {
                fprintf(stderr, "  golden: %s stored but input %s was not loaded with bv_golden_input\n", nm, in_name);
                g->ts->failed = 1;
                continue;
            }
        } else if (!strncmp(nm, "gparam.", 7) && ps) {
            char key[512];
            snprintf(key, sizeof key, "%s", nm + 7);
            (void)pl;
            t = bv_params_get(ps, key);
            if (!t) {
                fprintf(stderr, "  golden: %s stored but the model has no parameter %s\n", nm, key);
                g->ts->failed = 1;
                continue;
            }
        } else continue;
        bv_tensor *gt = bv_new(g->ctx, BV_F32, t->ndim, t->shape);
        if (t->grad) memcpy(gt->data, t->grad, sizeof(float) * (size_t)t->numel);
        else memset(gt->data, 0, sizeof(float) * (size_t)t->numel);
        bv_golden_check(g, nm, gt);
    }
}

void bv_golden_replay_noise(bv_golden *g) {
    note_consumed_draws(g);
    int n = 0;
    for (int i = 0; i < g->st.n; i++) n += !strncmp(g->st.entries[i].name, "noise.", 6);
    free(g->draws);
    g->draws = calloc((size_t)(n ? n : 1), sizeof *g->draws);
    for (int i = 0, k = 0; i < g->st.n; i++) {
        const bv_st_entry *e = &g->st.entries[i];
        if (strncmp(e->name, "noise.", 6)) continue;
        int idx = atoi(e->name + 6);
        if (idx < 0 || idx >= n) continue;
        bv_rng_draw *d = &g->draws[idx];
        d->name = e->name;
        d->ndim = e->ndim;
        for (int j = 0; j < e->ndim && j < 6; j++) d->shape[j] = e->shape[j];
        if (e->dtype == BV_ST_F32) d->data = e->data;
        else if (e->dtype == BV_ST_I64) {
            int64_t *copy = bv_arena_alloc(&g->ctx->arena, e->nbytes ? e->nbytes : 8);
            memcpy(copy, e->data, e->nbytes);
            d->idata = copy;
        }
        k++;
    }
    bv_rng_set_replay(&g->ctx->rng, g->draws, n);
}
