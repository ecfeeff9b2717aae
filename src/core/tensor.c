/* tensor.c - shape helpers and names. */
#include "tensor.h"

#include <stdio.h>

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
