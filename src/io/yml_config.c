/* yml_config.c - the train_ms section of upstream's config.yml (see yml_config.h). */
#include "yml_config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "yaml_flat.h"

/* YAML 1.1 booleans as PyYAML reads them: 1, 0, -1 for "not a bool". */
static int yml_bool(const char *v) {
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (!strcmp(v, t[i])) return 1;
        if (!strcmp(v, f[i])) return 0;
    }
    return -1;
}

static int yml_int(const bv_yaml_flat *doc, const char *path, const char *key, int *out, char *err, size_t errcap) {
    const bv_yaml_entry *e = bv_yaml_flat_get(doc, key);
    if (!e) return 0;
    char *end;
    errno = 0;
    long v = strtol(e->val, &end, 10);
    if (end == e->val || *end || errno || v < INT_MIN || v > INT_MAX)
        return bv_err_set(err, errcap, "%s:%d: %s: expected an integer, got \"%s\"", path, e->line, key, e->val);
    *out = (int)v;
    return 0;
}

int bv_yml_read_train_ms(const char *path, bv_yml_train_ms *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "models");
    out->num_workers = out->spec_cache = out->keep_ckpts = -1;
    bv_yaml_flat doc;
    int rc = bv_yaml_flat_load(path, &doc, err, errcap);
    const bv_yaml_entry *e = NULL;
    if (rc == 0 && (e = bv_yaml_flat_get(&doc, "train_ms")))
        rc = bv_err_set(err, errcap, "%s:%d: train_ms: expected a mapping of settings, got \"%s\"", path, e->line,
                        e->val);
    if (rc == 0 && (e = bv_yaml_flat_get(&doc, "dataset_path")))
        snprintf(out->dataset_path, sizeof out->dataset_path, "%s", e->val);
    if (rc == 0 && (e = bv_yaml_flat_get(&doc, "train_ms.model"))) snprintf(out->model, sizeof out->model, "%s", e->val);
    if (rc == 0 && (e = bv_yaml_flat_get(&doc, "train_ms.config_path")))
        snprintf(out->config_path, sizeof out->config_path, "%s", e->val);
    if (rc == 0) rc = yml_int(&doc, path, "train_ms.num_workers", &out->num_workers, err, errcap);
    if (rc == 0) rc = yml_int(&doc, path, "train_ms.keep_ckpts", &out->keep_ckpts, err, errcap);
    if (rc == 0 && (e = bv_yaml_flat_get(&doc, "train_ms.spec_cache"))) {
        out->spec_cache = yml_bool(e->val);
        if (out->spec_cache < 0)
            rc = bv_err_set(err, errcap, "%s:%d: train_ms.spec_cache: expected true or false, got \"%s\"", path,
                            e->line,
                            e->val);
    }
    if (rc == 0 && (e = bv_yaml_flat_get(&doc, "train_ms.base.use_base_model"))) {
        int b = yml_bool(e->val);
        if (b == 1)
            rc = bv_err_set(err, errcap, "%s:%d: train_ms.base.use_base_model: bv2 does not download base models; give "
                            "a local folder holding G_0.pth, D_0.pth, DUR_0.pth and WD_0.pth instead of true",
                            path, e->line);
        else if (b < 0 && (e->quoted || (strcmp(e->val, "null") && strcmp(e->val, "~") && e->val[0])))
            snprintf(out->base_model, sizeof out->base_model, "%s", e->val);
    }
    bv_yaml_flat_free(&doc); /* empty when the load failed: always safe */
    return rc;
}
