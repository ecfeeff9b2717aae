/* init.c - in-place parameter initialisers: what upstream's reset_parameters / nn.init do to a
 * freshly made parameter (uniform and normal draws, constants, copies, weight_norm's g). There is
 * no context and no tape here: model construction has none. Each initialiser finds the tensor's
 * backend and calls its kernels (random, shape.fill/copy, norm.row_norm), so a parameter on any
 * device is written where it lives; a device without the kernel is a fatal error naming the
 * initialiser and the slot (a programming error: model code chose the device). */
#include "kernels.h"
#include "ops.h"

static const bv_kernels *param_kernels(const char *op, const bv_tensor *t) {
    if (!t) BV_FATAL("%s: parameter is NULL", op);
    if (t->dtype != BV_F32) BV_FATAL("%s: expected an f32 parameter, got %s", op, bv_dtype_name(t->dtype));
    bv_backend *be = bv_backend_get(t->device);
    if (!be) BV_FATAL("%s: no backend for device %s in this build", op, bv_device_name(t->device));
    return be->kernels;
}

static void need(const char *op, const bv_kernels *k, int present, const char *slot) {
    if (!present) BV_FATAL("%s: no %s kernel on device %s", op, slot, k->device);
}

#define INIT_KERNEL(k, family, slot, op)                                                                  \
    (need((op), (k), (k)->family != NULL && (k)->family->slot != NULL, #family "." #slot), (k)->family->slot)

void bv_init_uniform(bv_tensor *t, bv_rng *rng, double bound) {
    const bv_kernels *k = param_kernels("init_uniform", t);
    INIT_KERNEL(k, random, uniform_sym, "init_uniform")(t->data, t->numel, rng, bound);
}

void bv_init_normal(bv_tensor *t, bv_rng *rng, double sd) {
    const bv_kernels *k = param_kernels("init_normal", t);
    INIT_KERNEL(k, random, normal, "init_normal")(t->data, t->numel, rng, sd);
}

void bv_init_fill(bv_tensor *t, float v) {
    const bv_kernels *k = param_kernels("init_fill", t);
    INIT_KERNEL(k, shape, fill, "init_fill")(t->data, t->numel, v);
}

void bv_init_copy(bv_tensor *dst, const bv_tensor *src) {
    const bv_kernels *k = param_kernels("init_copy", dst);
    param_kernels("init_copy", src);
    if (src->device != dst->device || src->numel != dst->numel) {
        char a[96], b[96];
        BV_FATAL("init_copy: %s on %s into %s on %s", bv_shape_str(src, a, sizeof a), bv_device_name(src->device),
                 bv_shape_str(dst, b, sizeof b), bv_device_name(dst->device));
    }
    INIT_KERNEL(k, shape, copy, "init_copy")(dst->data, src->data, sizeof(float) * (size_t)src->numel);
}

void bv_init_weight_norm_g(bv_tensor *g, const bv_tensor *v) {
    const bv_kernels *k = param_kernels("init_weight_norm_g", g);
    param_kernels("init_weight_norm_g", v);
    const int64_t rows = v->ndim ? v->shape[0] : 1;
    if (g->device != v->device || g->numel != rows) {
        char a[96], b[96];
        BV_FATAL("init_weight_norm_g: g %s does not hold one norm per row of v %s", bv_shape_str(g, a, sizeof a),
                 bv_shape_str(v, b, sizeof b));
    }
    INIT_KERNEL(k, norm, row_norm, "init_weight_norm_g")(g->data, v->data, rows, rows ? v->numel / rows : 0);
}
