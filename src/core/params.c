/* params.c - named parameter store. Lookup is linear: stores hold at most a few thousand tensors
 * and lookups happen at load time only; model code keeps the returned pointers. */
#include "params.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void bv_params_init(bv_params *p) { memset(p, 0, sizeof *p); }

void bv_params_free(bv_params *p) {
    for (int i = 0; i < p->n; i++) {
        bv_tensor *t = p->items[i];
        if (!p->data) {
            free(t->data);
            free(t->grad);
        }
        free((char *)t->name);
        free(t);
    }
    free(p->items);
    free(p->data);
    free(p->grad);
    memset(p, 0, sizeof *p);
}

bv_tensor *bv_params_add(bv_params *p, const char *name, int ndim, const int64_t *shape) {
    if (bv_params_get(p, name)) BV_FATAL("parameter '%s' defined twice", name);
    if (p->data) BV_FATAL("parameter '%s' added to a packed store", name);
    BV_ASSERT(ndim >= 0 && ndim <= BV_MAX_DIMS);
    bv_tensor *t = bv_xcalloc(1, sizeof *t);
    t->dtype = BV_F32;
    t->device = BV_DEV_CPU;
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    t->numel = bv_shape_numel(ndim, shape);
    t->data = bv_xcalloc((size_t)t->numel, sizeof(float));
    t->grad = bv_xcalloc((size_t)t->numel, sizeof(float));
    t->requires_grad = true;
    t->is_param = true;
    size_t len = strlen(name);
    char *nm = bv_xmalloc(len + 1);
    memcpy(nm, name, len + 1);
    t->name = nm;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->items = bv_xrealloc(p->items, sizeof(bv_tensor *) * (size_t)p->cap);
    }
    p->items[p->n++] = t;
    return t;
}

bv_tensor *bv_params_addf(bv_params *p, int ndim, const int64_t *shape, const char *fmt, ...) {
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return bv_params_add(p, name, ndim, shape);
}

bv_tensor *bv_params_get(const bv_params *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->items[i]->name, name) == 0) return p->items[i];
    return NULL;
}

void bv_params_zero_grad(bv_params *p) {
    if (p->grad) {
        memset(p->grad, 0, sizeof(float) * (size_t)p->numel);
        return;
    }
    for (int i = 0; i < p->n; i++) memset(p->items[i]->grad, 0, sizeof(float) * (size_t)p->items[i]->numel);
}

int64_t bv_params_numel(const bv_params *p) {
    int64_t n = 0;
    for (int i = 0; i < p->n; i++) n += p->items[i]->numel;
    return n;
}

static float *aligned_floats(int64_t n) {
    size_t bytes = ((size_t)n * sizeof(float) + 63) / 64 * 64;
    float *b = aligned_alloc(64, bytes ? bytes : 64);
    if (!b) BV_FATAL("out of memory (%zu bytes for a parameter store)", bytes);
    return b;
}

void bv_params_pack(bv_params *p) {
    if (p->data || p->n == 0) return;
    int64_t n = bv_params_numel(p);
    float *data = aligned_floats(n), *grad = aligned_floats(n);
    int64_t at = 0;
    for (int i = 0; i < p->n; i++) {
        bv_tensor *t = p->items[i];
        size_t bytes = sizeof(float) * (size_t)t->numel;
        memcpy(data + at, t->data, bytes);
        if (t->grad) memcpy(grad + at, t->grad, bytes);
        else memset(grad + at, 0, bytes);
        free(t->data);
        free(t->grad);
        t->data = data + at;
        t->grad = grad + at;
        at += t->numel;
    }
    p->data = data;
    p->grad = grad;
    p->numel = n;
}
