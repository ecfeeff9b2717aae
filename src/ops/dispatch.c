/* dispatch.c - device checks and kernel lookup for every op (see dispatch.h). */
#include "dispatch.h"

#include <stdio.h>

const bv_kernels *bv_ctx_kernels(const bv_ctx *ctx) { return ctx->be->kernels; }

int bv_backend_bf16_check(const bv_backend *be, char *why, size_t cap) {
    const bv_kernels *k = be->kernels;
    if (k->bf16_check) return k->bf16_check(why, cap);
    snprintf(why, cap, "device %s has no bf16 kernels", k->device);
    return -1;
}

int bv_backend_bf16_note(const bv_backend *be, char *note, size_t cap) {
    const bv_kernels *k = be->kernels;
    return k->bf16_note ? k->bf16_note(note, cap) : 0;
}

const bv_kernels *bv_dispatch(bv_ctx *ctx, const char *op, int n, bv_tensor *const *ins) {
    const bv_device dev = ctx->be->device;
    for (int i = 0; i < n; i++) {
        if (!ins[i]) continue;
        if (ins[i]->device != dev)
            bv_ctx_error(ctx, op, "input %d is on device %s, this context runs on %s", i,
                         bv_device_name(ins[i]->device), bv_device_name(dev));
        if (ins[i]->consumed)
            bv_ctx_error(ctx, op, "input %d was overwritten by an in-place op before this use (its data is gone)", i);
    }
    return ctx->be->kernels;
}

/* Ops whose backward rule reads its inputs (or nothing) but never its output's data: an in-place op
 * may overwrite that output once it is the output's only consumer. Short on purpose: an op joins
 * when an in-place caller needs it and its rule has been read for this. */
static int backward_ignores_output(bv_op op) {
    switch (op) {
    case BV_OP_MATMUL:             /* ga += g b^T, gb += a^T g */
    case BV_OP_MASKED_FILL:        /* the mask */
    case BV_OP_MHA_REL_LOGITS_ADD: /* q and emb */
        return 1;
    default:
        return 0;
    }
}

bv_tensor *bv_inplace_alias(bv_ctx *ctx, bv_tensor *x) {
    if (!x->node || x->consumed || x->is_param || !backward_ignores_output(x->node->op)) return NULL;
    bv_tensor *y = bv_detach(ctx, x); /* a header on x's data, no node: the in-place op records one */
    x->consumed = true;
    return y;
}

void bv_kernel_require(bv_ctx *ctx, const char *op, const bv_kernels *k, int present, const char *slot) {
    if (!present) bv_ctx_error(ctx, op, "no %s kernel on device %s", slot, k->device);
}
