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
    for (int i = 0; i < n; i++)
        if (ins[i] && ins[i]->device != dev)
            bv_ctx_error(ctx, op, "input %d is on device %s, this context runs on %s", i,
                         bv_device_name(ins[i]->device), bv_device_name(dev));
    return ctx->be->kernels;
}

void bv_kernel_require(bv_ctx *ctx, const char *op, const bv_kernels *k, int present, const char *slot) {
    if (!present) bv_ctx_error(ctx, op, "no %s kernel on device %s", slot, k->device);
}
