/* tensor.c - shape helpers and names. */
#include "tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "error.h"
#include "ops_list.h"

const char *const bv_op_names[BV_OP_COUNT] = {
#define BV_OP_NAME(n) #n,
    BV_OPS(BV_OP_NAME)
#undef BV_OP_NAME
};
_Static_assert(sizeof bv_op_names / sizeof bv_op_names[0] == BV_OP_COUNT, "op name table out of sync");

const char *bv_op_name(bv_op op) { return (op >= 0 && op < BV_OP_COUNT) ? bv_op_names[op] : "?"; }

const char *bv_dtype_name(bv_dtype d) {
    switch (d) {
    case BV_F32: return "f32";
    case BV_I64: return "i64";
    default: return "?";
    }
}

const char *bv_device_name(bv_device d) {
    switch (d) {
    case BV_DEV_CPU: return "cpu";
    case BV_DEV_CUDA: return "cuda";
    default: return "?";
    }
}

char *bv_shape_str(const bv_tensor *t, char *buf, int cap) {
    int n = snprintf(buf, (size_t)cap, "[");
    for (int i = 0; i < t->ndim && n < cap; i++)
        n += snprintf(buf + n, (size_t)(cap - n), i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (n < cap) snprintf(buf + n, (size_t)(cap - n), "]");
    return buf;
}

bool bv_same_shape(const bv_tensor *a, const bv_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

int64_t bv_shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

int64_t bv_dim(const bv_tensor *t, int d) {
    if (d < 0) d += t->ndim;
    return (d >= 0 && d < t->ndim) ? t->shape[d] : 1;
}

/* ---- host access ---- */

size_t bv_elem_size(bv_dtype d) { return d == BV_I64 ? sizeof(int64_t) : sizeof(float); }

static const bv_allocator *mem_of(const bv_tensor *t) {
    bv_backend *be = bv_backend_get(t->device);
    BV_ASSERT(be != NULL);
    return &be->mem;
}

static void *base_of(const bv_tensor *t) { return t->dtype == BV_I64 ? (void *)t->idata : (void *)t->data; }

static void check_range(const bv_tensor *t, int64_t off, int64_t n) {
    BV_ASSERT(off >= 0 && n >= 0 && off <= t->numel && n <= t->numel - off);
}

void bv_to_host_at(const bv_tensor *t, int64_t off, int64_t n, void *dst) {
    check_range(t, off, n);
    size_t es = bv_elem_size(t->dtype);
    mem_of(t)->to_host(dst, (const char *)base_of(t) + (size_t)off * es, (size_t)n * es);
}

void bv_from_host_at(bv_tensor *t, int64_t off, int64_t n, const void *src) {
    check_range(t, off, n);
    size_t es = bv_elem_size(t->dtype);
    mem_of(t)->from_host((char *)base_of(t) + (size_t)off * es, src, (size_t)n * es);
}

void bv_to_host(const bv_tensor *t, void *dst) { bv_to_host_at(t, 0, t->numel, dst); }
void bv_from_host(bv_tensor *t, const void *src) { bv_from_host_at(t, 0, t->numel, src); }

double bv_tensor_item_at(const bv_tensor *t, int64_t i) {
    if (t->dtype == BV_I64) {
        int64_t v;
        bv_to_host_at(t, i, 1, &v);
        return (double)v;
    }
    float v;
    bv_to_host_at(t, i, 1, &v);
    return (double)v;
}

void *bv_host_copy(const bv_tensor *t) {
    size_t bytes = (size_t)t->numel * bv_elem_size(t->dtype);
    void *p = bv_xmalloc(bytes ? bytes : 1);
    bv_to_host(t, p);
    return p;
}

void bv_fill(bv_tensor *t, float v) {
    BV_ASSERT(t->dtype == BV_F32);
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    mem_of(t)->fill32(t->data, bits, (size_t)t->numel);
}

void bv_copy_at(bv_tensor *dst, int64_t doff, const bv_tensor *src, int64_t soff, int64_t n) {
    BV_ASSERT(dst->dtype == src->dtype && dst->device == src->device);
    check_range(dst, doff, n);
    check_range(src, soff, n);
    size_t es = bv_elem_size(dst->dtype);
    mem_of(dst)->copy((char *)base_of(dst) + (size_t)doff * es, (const char *)base_of(src) + (size_t)soff * es,
                      (size_t)n * es);
}
