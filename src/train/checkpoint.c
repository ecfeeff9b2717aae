/* checkpoint.c - G_/D_/DUR_/WD_<step>.pth as upstream's utils.save_checkpoint writes them and
 * utils.load_checkpoint reads them, the checkpoint folder's bookkeeping (latest by step, pruning,
 * stale temporaries) and train_ms.run()'s resume block. See checkpoint.h. */
#include "checkpoint.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/error.h"
#include "../io/pth.h"
#include "../io/tensor_import.h"
#include "log.h"
#include "train_step.h"

static const char *const PREFIX[BV_NET_COUNT] = {"G", "D", "WD", "DUR"};

const char *bv_ckpt_prefix(bv_net_kind k) { return k >= 0 && k < BV_NET_COUNT ? PREFIX[k] : "?"; }

int bv_ckpt_path(char *buf, size_t cap, const char *dir, bv_net_kind k, int64_t step) {
    int n = snprintf(buf, cap, "%s/%s_%lld.pth", dir, bv_ckpt_prefix(k), (long long)step);
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}

int64_t bv_ckpt_get_steps(const char *path) {
    const char *end = NULL, *start = NULL;
    for (const char *p = path; *p; p++)
        if (isdigit((unsigned char)*p)) {
            if (!end || p != end) start = p; /* a new run */
            end = p + 1;
        }
    if (!start) return -1;
    int64_t v = 0;
    for (const char *p = start; p < end; p++) {
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

/* name == "<prefix>_<digits><suffix>": the step, else -1. */
static int64_t match_name(const char *name, const char *prefix, const char *suffix) {
    size_t pl = strlen(prefix), sl = strlen(suffix), nl = strlen(name);
    if (nl <= pl + 1 + sl || strncmp(name, prefix, pl) != 0 || name[pl] != '_' || strcmp(name + nl - sl, suffix) != 0)
        return -1;
    int64_t v = 0;
    for (size_t i = pl + 1; i < nl - sl; i++) {
        if (!isdigit((unsigned char)name[i]) || v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int bv_ckpt_list_steps(const char *dir, bv_net_kind k, int64_t **steps) {
    *steps = NULL;
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t s = match_name(e->d_name, bv_ckpt_prefix(k), ".pth");
        if (s < 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            *steps = bv_xrealloc(*steps, sizeof(int64_t) * (size_t)cap);
        }
        (*steps)[n++] = s;
    }
    closedir(d);
    if (n) qsort(*steps, (size_t)n, sizeof(int64_t), cmp_i64);
    return n;
}

int64_t bv_ckpt_latest_step(const char *dir, bv_net_kind k) {
    int64_t *steps;
    int n = bv_ckpt_list_steps(dir, k, &steps);
    int64_t latest = n > 0 ? steps[n - 1] : -1;
    free(steps);
    return latest;
}

int bv_ckpt_clean(const char *dir, int keep, bv_logger *lg, char *err, size_t errcap) {
    if (keep <= 0) return 0;
    int removed = 0;
    /* Upstream's clean_checkpoints groups files with startswith("G"/"D"/"WD"), so its "D" group
     * also holds DUR_ files and keeps `keep` of D_ and DUR_ together. We keep `keep` of each
     * network, ordered by step (upstream: by mtime, the same order in a normal run). */
    for (int k = 0; k < BV_NET_COUNT; k++) {
        int64_t *steps;
        int n = bv_ckpt_list_steps(dir, (bv_net_kind)k, &steps);
        if (n < 0) return snprintf(err, errcap, "%s: cannot list checkpoints: %s", dir, strerror(errno)), -1;
        int start = 0;
        while (start < n && steps[start] == 0) start++; /* never *_0.pth (base models) */
        for (int i = start; i < n - keep; i++) {
            char path[4096];
            bv_ckpt_path(path, sizeof path, dir, (bv_net_kind)k, steps[i]);
            if (remove(path) != 0) {
                snprintf(err, errcap, "%s: cannot delete: %s", path, strerror(errno));
                free(steps);
                return -1;
            }
            bv_logger_info(lg, ".. Free up space by deleting ckpt %s", path);
            removed++;
        }
        free(steps);
    }
    return removed;
}

/* "<prefix>_<digits>.pth.tmp<anything>": a temporary of src/io/fs.h's writer ("G_5.pth.tmp.<pid>.<n>",
 * plus libzip's own suffix when the kill came inside zip_close). */
static int is_ckpt_tmp(const char *name, const char *prefix) {
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0 || name[pl] != '_' || !isdigit((unsigned char)name[pl + 1])) return 0;
    const char *p = name + pl + 1;
    while (isdigit((unsigned char)*p)) p++;
    return strncmp(p, ".pth.tmp", 8) == 0;
}

int bv_ckpt_remove_stale_tmp(const char *dir, bv_logger *lg) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int ours = 0;
        for (int k = 0; k < BV_NET_COUNT && !ours; k++) ours = is_ckpt_tmp(e->d_name, PREFIX[k]);
        if (!ours) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (remove(path) == 0) {
            bv_logger_info(lg, "removed %s (an unfinished checkpoint of an interrupted run)", path);
            removed++;
        }
    }
    closedir(d);
    return removed;
}

/* ------------------------------------------------------------------------------------------ */
/* saving                                                                                       */

static bv_pk_value *version_dict(bv_pk_doc *doc) {
    bv_pk_value *v = bv_pk_dict(doc, 0);
    bv_pk_dict_set_str(doc, v, "version", bv_pk_int(doc, 1));
    return v;
}

/* torch's state_dict carries _metadata {module path: {'version': 1}} for every submodule. We derive
 * the module paths from the parameter names (so modules without parameters, e.g. Dropout, are not
 * listed; torch.load / load_state_dict do not need them). */
static bv_pk_value *state_dict_metadata(bv_pk_doc *doc, const bv_params *ps) {
    bv_pk_value *meta = bv_pk_dict(doc, 1);
    bv_pk_dict_set_str(doc, meta, "", version_dict(doc));
    char buf[1024];
    for (int i = 0; i < ps->n; i++) {
        const char *name = ps->items[i]->name;
        for (const char *dot = strchr(name, '.'); dot; dot = strchr(dot + 1, '.')) {
            size_t len = (size_t)(dot - name);
            if (len >= sizeof buf) break;
            memcpy(buf, name, len);
            buf[len] = 0;
            if (!bv_pk_get(meta, buf)) bv_pk_dict_set_str(doc, meta, buf, version_dict(doc));
        }
    }
    bv_pk_value *attrs = bv_pk_dict(doc, 0);
    bv_pk_dict_set_str(doc, attrs, "_metadata", meta);
    return attrs;
}

static bv_pk_value *model_state_dict(bv_pk_doc *doc, const bv_params *ps) {
    bv_pk_value *model = bv_pk_dict(doc, 1); /* OrderedDict, parameters in upstream order */
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *p = ps->items[i];
        bv_pk_dict_set_str(doc, model, p->name, bv_pk_tensor_ref(doc, BV_ST_F32, p->ndim, p->shape, p->data));
    }
    model->dict.attrs = state_dict_metadata(doc, ps);
    return model;
}

/* AdamW.state_dict() of torch 1.13: ids number the optimizer's parameters (trainable ones only). */
static bv_pk_value *optimizer_state_dict(bv_pk_doc *doc, const bv_params *ps, const bv_adamw *o,
                                         const uint8_t *trainable) {
    bv_pk_value *state = bv_pk_dict(doc, 0), *ids = bv_pk_list(doc);
    int64_t id = 0;
    for (int i = 0; i < o->n; i++) {
        if (trainable && !trainable[i]) continue;
        bv_tensor *p = ps->items[i];
        if (o->step[i] > 0) { /* torch creates a parameter's state at its first step */
            bv_pk_value *s = bv_pk_dict(doc, 0);
            bv_pk_dict_set_str(doc, s, "step", bv_pk_tensor_new(doc, BV_ST_F32, 0, NULL, &o->step[i]));
            bv_pk_dict_set_str(doc, s, "exp_avg", bv_pk_tensor_ref(doc, BV_ST_F32, p->ndim, p->shape, o->exp_avg[i]));
            bv_pk_dict_set_str(doc, s, "exp_avg_sq",
                               bv_pk_tensor_ref(doc, BV_ST_F32, p->ndim, p->shape, o->exp_avg_sq[i]));
            bv_pk_dict_set(state, bv_pk_int(doc, id), s);
        }
        bv_pk_append(ids, bv_pk_int(doc, id));
        id++;
    }
    bv_pk_value *g = bv_pk_dict(doc, 0), *betas = bv_pk_list(doc);
    bv_pk_append(betas, bv_pk_float(doc, o->beta1));
    bv_pk_append(betas, bv_pk_float(doc, o->beta2));
    bv_pk_dict_set_str(doc, g, "lr", bv_pk_float(doc, o->lr));
    bv_pk_dict_set_str(doc, g, "betas", betas);
    bv_pk_dict_set_str(doc, g, "eps", bv_pk_float(doc, o->eps));
    bv_pk_dict_set_str(doc, g, "weight_decay", bv_pk_float(doc, o->weight_decay));
    bv_pk_dict_set_str(doc, g, "amsgrad", bv_pk_bool(doc, 0));
    bv_pk_dict_set_str(doc, g, "foreach", bv_pk_none(doc));
    bv_pk_dict_set_str(doc, g, "maximize", bv_pk_bool(doc, 0));
    bv_pk_dict_set_str(doc, g, "capturable", bv_pk_bool(doc, 0));
    if (o->has_initial_lr) bv_pk_dict_set_str(doc, g, "initial_lr", bv_pk_float(doc, o->initial_lr));
    bv_pk_dict_set_str(doc, g, "params", ids);
    bv_pk_value *groups = bv_pk_list(doc), *od = bv_pk_dict(doc, 0);
    bv_pk_append(groups, g);
    bv_pk_dict_set_str(doc, od, "state", state);
    bv_pk_dict_set_str(doc, od, "param_groups", groups);
    return od;
}

int bv_ckpt_save(const char *path, const bv_params *ps, const bv_adamw *opt, const uint8_t *trainable,
                 double learning_rate, int64_t iteration, char *err, size_t errcap) {
    bv_pk_doc *doc = bv_pk_doc_new();
    bv_pk_value *root = bv_pk_dict(doc, 0);
    bv_pk_dict_set_str(doc, root, "model", model_state_dict(doc, ps));
    bv_pk_dict_set_str(doc, root, "iteration", bv_pk_int(doc, iteration));
    bv_pk_dict_set_str(doc, root, "optimizer", opt ? optimizer_state_dict(doc, ps, opt, trainable) : bv_pk_none(doc));
    bv_pk_dict_set_str(doc, root, "learning_rate", bv_pk_float(doc, learning_rate));
    int rc = bv_pth_save(path, root, err, errcap);
    bv_pk_doc_free(doc);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* loading                                                                                      */

/* A stored tensor of a float dtype and p's shape into dst (an optimizer moment of p). */
static int import_like(float *dst, const bv_tensor *p, const bv_pk_tensor *t) {
    return bv_dims_equal(t->ndim, t->shape, p->ndim, p->shape) ? bv_import_f32(dst, t->data, t->dtype, t->numel) : -1;
}

/* load_checkpoint's model part: key by key from the file, fresh values kept where it cannot. */
static void load_model(const char *path, bv_params *ps, const bv_pk_value *model, bv_logger *lg, bv_ckpt_info *info) {
    char a[128], b[128];
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *p = ps->items[i];
        const bv_pk_tensor *t = bv_pk_as_tensor(bv_pk_get(model, p->name));
        int ok = t && bv_import_tensor(p, &(bv_import_src){p->name, t->dtype, t->ndim, t->shape, t->data}, path, NULL,
                                       NULL, 0) == 0;
        if (ok) {
            info->n_loaded++;
        } else if (strstr(p->name, "ja_bert_proj")) {
            bv_fill(p, 0.0f);
            bv_logger_warning(lg, "Seems you are using the old version of the model, the %s is automatically set to zero "
                           "for backward compatibility", p->name);
            info->n_zeroed++;
        } else if (!t) {
            bv_logger_error(lg, "%s is not in the checkpoint %s; keeping its fresh value", p->name, path);
            info->n_kept++;
        } else {
            bv_logger_warning(lg, "%s: %s is %s %s in the checkpoint, the model has %s; keeping its fresh value", path,
                           p->name, bv_st_dtype_name(t->dtype), bv_dims_str(a, sizeof a, t->ndim, t->shape),
                           bv_shape_str(p, b, sizeof b));
            info->n_kept++;
        }
    }
    const char *first_unused = NULL;
    for (int i = 0; i < model->dict.n; i++) {
        const char *k = bv_pk_as_str(model->dict.items[i].key);
        if (k && bv_params_get(ps, k)) continue;
        if (!first_unused) first_unused = k ? k : "(a non-string key)";
        info->n_unused++;
    }
    if (info->n_unused)
        bv_logger_warning(lg, "%s: %d tensors the model does not have were ignored (e.g. %s)", path, info->n_unused,
                       first_unused);
}

static int group_number(const char *path, const bv_pk_value *g, const char *key, double *out, char *err,
                        size_t errcap) {
    if (bv_pk_as_double(bv_pk_get(g, key), out) || !isfinite(*out))
        return bv_err_set(err, errcap, "%s: optimizer param_groups[0]['%s'] is missing or not a finite number", path,
                          key);
    return 0;
}

/* One parameter's moment from the file into dst (its shape checked against p). */
static int load_moment(const char *path, const bv_pk_value *s, const char *key, int64_t id, const bv_tensor *p,
                       float *dst, char *err, size_t errcap) {
    const bv_pk_tensor *t = bv_pk_as_tensor(bv_pk_get(s, key));
    char a[128], b[128];
    if (!t) return bv_err_set(err, errcap, "%s: optimizer state[%lld] has no tensor '%s'", path, (long long)id, key);
    if (import_like(dst, p, t))
        return bv_err_set(err, errcap,
                          "%s: optimizer state[%lld]['%s'] is %s %s, but its parameter %s is float32 %s (set "
                          "train.skip_optimizer to true to start a fresh optimizer)", path, (long long)id, key,
                          bv_st_dtype_name(t->dtype), bv_dims_str(a, sizeof a, t->ndim, t->shape), p->name,
                          bv_shape_str(p, b, sizeof b));
    return 0;
}

/* torch's Optimizer.load_state_dict: hyper-parameters and per-parameter state, matched by position
 * in param_groups[0]['params'] to the optimizer's (trainable) parameters. */
static int load_optimizer(const char *path, bv_params *ps, bv_adamw *o, const uint8_t *trainable,
                          const bv_pk_value *od, char *err, size_t errcap) {
    const bv_pk_value *state = bv_pk_get(od, "state"), *groups = bv_pk_get(od, "param_groups");
    if (!state || state->kind != BV_PK_DICT || !groups || groups->kind != BV_PK_LIST)
        return bv_err_set(err, errcap,
                          "%s: 'optimizer' is not an optimizer state_dict ('state' dict and 'param_groups' "
                          "list)", path);
    if (bv_pk_len(groups) != 1)
        return bv_err_set(err, errcap, "%s: optimizer has %d parameter groups; train_ms's AdamW has 1", path,
                          bv_pk_len(groups));
    const bv_pk_value *g = bv_pk_at(groups, 0), *ids = bv_pk_get(g, "params");
    int n_train = 0;
    for (int i = 0; i < o->n; i++) n_train += !trainable || trainable[i];
    if (!ids || ids->kind != BV_PK_LIST)
        return bv_err_set(err, errcap, "%s: optimizer param_groups[0]['params'] is missing", path);
    if (ids->seq.n != n_train)
        return bv_err_set(err, errcap, "%s: the optimizer state holds %d parameters, the network has %d trainable ones "
                          "(another model size or train.freeze_*_bert setting?); set train.skip_optimizer to true to start "
                          "a fresh optimizer", path, ids->seq.n, n_train);
    double lr, wd, eps, b1, b2, ilr = 0;
    const bv_pk_value *betas = bv_pk_get(g, "betas");
    if (group_number(path, g, "lr", &lr, err, errcap) || group_number(path, g, "eps", &eps, err, errcap) ||
        group_number(path, g, "weight_decay", &wd, err, errcap))
        return -1;
    if (bv_pk_len(betas) != 2 || bv_pk_as_double(bv_pk_at(betas, 0), &b1) || bv_pk_as_double(bv_pk_at(betas, 1), &b2))
        return bv_err_set(err, errcap, "%s: optimizer param_groups[0]['betas'] is not a pair of numbers", path);
    int64_t flag;
    if ((bv_pk_as_int(bv_pk_get(g, "amsgrad"), &flag) == 0 && flag) ||
        (bv_pk_as_int(bv_pk_get(g, "maximize"), &flag) == 0 && flag))
        return bv_err_set(err, errcap, "%s: optimizer uses amsgrad or maximize, which train_ms's AdamW does not", path);
    int has_ilr = bv_pk_get(g, "initial_lr") != NULL;
    if (has_ilr && group_number(path, g, "initial_lr", &ilr, err, errcap)) return -1;
    bv_adamw_reset_state(o);
    for (int i = 0, j = 0; i < o->n; i++) {
        if (trainable && !trainable[i]) continue;
        int64_t id;
        if (bv_pk_as_int(bv_pk_at(ids, j++), &id))
            return bv_err_set(err, errcap, "%s: optimizer param_groups[0]['params'][%d] is not an int", path, j - 1);
        const bv_pk_value *s = bv_pk_get_int(state, id);
        if (!s) continue; /* never stepped: no state yet */
        double step;
        if (bv_pk_as_double(bv_pk_get(s, "step"), &step) || !(step >= 0))
            return bv_err_set(err, errcap, "%s: optimizer state[%lld]['step'] is missing or invalid", path,
                              (long long)id);
        if (load_moment(path, s, "exp_avg", id, ps->items[i], o->exp_avg[i], err, errcap) ||
            load_moment(path, s, "exp_avg_sq", id, ps->items[i], o->exp_avg_sq[i], err, errcap))
            return -1;
        o->step[i] = (float)step;
    }
    o->lr = lr;
    o->beta1 = b1;
    o->beta2 = b2;
    o->eps = eps;
    o->weight_decay = wd;
    o->has_initial_lr = has_ilr;
    o->initial_lr = ilr;
    return 0;
}

int bv_ckpt_load(const char *path, bv_params *ps, bv_adamw *opt, const uint8_t *trainable, int skip_optimizer,
                 bv_logger *lg, bv_ckpt_info *info, char *err, size_t errcap) {
    bv_ckpt_info tmp;
    if (!info) info = &tmp;
    memset(info, 0, sizeof *info);
    bv_pth f;
    if (bv_pth_open(&f, path, err, errcap)) return -1;
    const bv_pk_value *root = f.root, *model = bv_pk_get(root, "model"), *od = bv_pk_get(root, "optimizer");
    int rc = -1;
    if (!root || root->kind != BV_PK_DICT || !model || model->kind != BV_PK_DICT) {
        bv_err_set(err, errcap, "%s: not a Bert-VITS2 training checkpoint (expected a dict with 'model', 'iteration', "
                   "'optimizer', 'learning_rate'; got a %s%s)", path, root ? bv_pk_kind_name(root->kind) : "nothing",
                   root && root->kind == BV_PK_DICT ? " without a 'model' dict" : "");
        goto done;
    }
    if (bv_pk_as_int(bv_pk_get(root, "iteration"), &info->iteration)) {
        bv_err_set(err, errcap, "%s: 'iteration' is missing or not an int", path);
        goto done;
    }
    /* the epoch it was saved in: the scheduler's last_epoch is derived from it (epoch_str - 2) */
    if (info->iteration < 0 || info->iteration > BV_CKPT_MAX_ITERATION) {
        bv_err_set(err, errcap, "%s: 'iteration' %lld is not an epoch number in [0, %lld]", path,
                   (long long)info->iteration,
                   (long long)BV_CKPT_MAX_ITERATION);
        goto done;
    }
    if (bv_pk_as_double(bv_pk_get(root, "learning_rate"), &info->learning_rate)) {
        bv_err_set(err, errcap, "%s: 'learning_rate' is missing or not a number", path);
        goto done;
    }
    if (opt && !skip_optimizer) {
        if (!od) {
            bv_err_set(err, errcap,
                       "%s: 'optimizer' is missing (set train.skip_optimizer to true to start a fresh one)",
                       path);
            goto done;
        }
        if (od->kind == BV_PK_NONE) {
            bv_logger_warning(lg, "%s holds no optimizer state: starting a fresh optimizer", path);
        } else {
            if (load_optimizer(path, ps, opt, trainable, od, err, errcap)) goto done;
            info->optimizer_loaded = 1;
        }
    }
    load_model(path, ps, model, lg, info);
    bv_logger_info(lg, "Loaded checkpoint '%s' (iteration %lld)", path, (long long)info->iteration);
    rc = 0;
done:
    bv_pth_close(&f);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* a run's set                                                                                  */

bv_params *bv_ckpt_net_params(bv_train_state *st, bv_net_kind k) {
    switch (k) {
    case BV_NET_G: return &st->ps_g;
    case BV_NET_D: return &st->ps_d;
    case BV_NET_WD: return &st->ps_wd;
    case BV_NET_DUR: return st->net_dur_disc ? &st->ps_dur : NULL;
    default: return NULL;
    }
}

bv_adamw *bv_ckpt_net_optim(bv_train_state *st, bv_net_kind k) {
    switch (k) {
    case BV_NET_G: return &st->optim_g;
    case BV_NET_D: return &st->optim_d;
    case BV_NET_WD: return &st->optim_wd;
    case BV_NET_DUR: return st->net_dur_disc ? &st->optim_dur : NULL;
    default: return NULL;
    }
}

const uint8_t *bv_ckpt_net_trainable(const bv_train_state *st, bv_net_kind k) {
    return k == BV_NET_G ? st->has_grad_g : NULL;
}

int bv_ckpt_save_all(const bv_train_state *st, const char *dir, int64_t step, int64_t epoch, char *err,
                     size_t errcap) {
    /* upstream writes G, D, WD, DUR; G last here so that G_<step> on disk implies a whole set */
    static const bv_net_kind order[] = {BV_NET_D, BV_NET_WD, BV_NET_DUR, BV_NET_G};
    bv_train_state *s = (bv_train_state *)st; /* the accessors do not modify it */
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        bv_params *ps = bv_ckpt_net_params(s, order[i]);
        if (!ps) continue;
        char path[4096];
        if (bv_ckpt_path(path, sizeof path, dir, order[i], step))
            return bv_err_set(err, errcap, "%s: checkpoint path too long", dir);
        if (bv_ckpt_save(path, ps, bv_ckpt_net_optim(s, order[i]), bv_ckpt_net_trainable(st, order[i]),
                         st->cfg->train.learning_rate, epoch, err, errcap))
            return -1;
    }
    return 0;
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The file to resume network k from: G's step when that file exists, else k's latest. */
static int64_t resume_step(const char *dir, bv_net_kind k, int64_t g_step) {
    char path[4096];
    if (g_step >= 0 && bv_ckpt_path(path, sizeof path, dir, k, g_step) == 0 && file_exists(path)) return g_step;
    return bv_ckpt_latest_step(dir, k);
}

/* load_checkpoint for network k from <dir>/<prefix>_<step>.pth, then upstream's
 * `if not optim.param_groups[0].get("initial_lr"): initial_lr = resume_lr`. */
static int resume_net(bv_train_state *st, const char *dir, bv_net_kind k, int64_t step, int skip_optimizer,
                      bv_logger *lg, bv_ckpt_info *info, char *err, size_t errcap) {
    char path[4096];
    if (bv_ckpt_path(path, sizeof path, dir, k, step)) return bv_err_set(err, errcap, "%s: checkpoint path too long",
                                                                         dir);
    bv_adamw *o = bv_ckpt_net_optim(st, k);
    if (bv_ckpt_load(path, bv_ckpt_net_params(st, k), o, bv_ckpt_net_trainable(st, k), skip_optimizer, lg, info, err,
                     errcap))
        return -1;
    if (!o->has_initial_lr || o->initial_lr == 0) { /* python: `not get("initial_lr")` */
        o->initial_lr = info->learning_rate;
        o->has_initial_lr = 1;
    }
    return 0;
}

int bv_ckpt_resume(bv_train_state *st, const char *dir, int skip_optimizer, bv_logger *lg, bv_resume_info *ri, char *err,
                   size_t errcap) {
    ri->epoch_str = 1;
    ri->global_step = 0;
    for (int k = 0; k < BV_NET_COUNT; k++) {
        ri->step[k] = -1;
        ri->learning_rate[k] = NAN;
    }
    int64_t g_step = bv_ckpt_latest_step(dir, BV_NET_G);
    bv_ckpt_info info;
    if (st->net_dur_disc) {
        int64_t s = resume_step(dir, BV_NET_DUR, g_step);
        if (s >= 0) {
            if (resume_net(st, dir, BV_NET_DUR, s, skip_optimizer, lg, &info, err, errcap)) return -1;
            ri->step[BV_NET_DUR] = s;
            ri->learning_rate[BV_NET_DUR] = info.learning_rate;
        } else {
            bv_logger_info(lg, "Initialize dur_disc (no DUR_*.pth in %s)", dir);
        }
    }
    int resumed = 0;
    if (g_step >= 0) {
        if (resume_net(st, dir, BV_NET_G, g_step, skip_optimizer, lg, &info, err, errcap)) return -1;
        ri->step[BV_NET_G] = g_step;
        ri->learning_rate[BV_NET_G] = info.learning_rate;
        int64_t epoch = info.iteration, s = resume_step(dir, BV_NET_D, g_step);
        if (s >= 0) {
            if (resume_net(st, dir, BV_NET_D, s, skip_optimizer, lg, &info, err, errcap)) return -1;
            ri->step[BV_NET_D] = s;
            ri->learning_rate[BV_NET_D] = info.learning_rate;
            epoch = info.iteration; /* upstream: epoch_str from the last load_checkpoint, D's */
        } else {
            bv_logger_warning(lg, "no D_*.pth in %s: the discriminator starts fresh", dir);
        }
        ri->epoch_str = epoch > 1 ? epoch : 1;
        ri->global_step = g_step; /* int(utils.get_steps(latest G path)) */
        resumed = 1;
    } else {
        bv_logger_info(lg, "no G_*.pth in %s: starting a new run", dir);
    }
    int64_t s = resume_step(dir, BV_NET_WD, g_step);
    if (s >= 0) {
        if (resume_net(st, dir, BV_NET_WD, s, skip_optimizer, lg, &info, err, errcap)) return -1;
        ri->step[BV_NET_WD] = s;
        ri->learning_rate[BV_NET_WD] = info.learning_rate;
        /* upstream assigns epoch_str from WD's load last, without max(., 1) (a quirk, kept); only
         * when G resumed, since upstream's schedulers would fail otherwise */
        if (resumed) ri->epoch_str = info.iteration;
    }
    if (resumed)
        bv_logger_info(lg, "resuming at epoch %lld, global step %lld", (long long)ri->epoch_str,
                    (long long)ri->global_step);
    return bv_train_state_start_schedulers(st, ri->epoch_str, err, errcap);
}
