/* dispatch.h - from an op's inputs to the kernel that runs it.
 *
 * A context is bound to one backend (ctx->be); every tensor an op takes must live on that backend's
 * device. bv_dispatch checks that for the op's inputs and returns the device's kernel table;
 * BV_KERNEL picks a slot and fails with the op's name when the device lacks it:
 *
 *     const bv_kernels *k = bv_dispatch(ctx, "tanh", 1, &x);
 *     BV_KERNEL(ctx, k, elementwise, unary, "tanh")(BV_U_TANH, y->data, x->data, n, 0, 0);
 *
 * Backward rules use bv_ctx_kernels(ctx): their tensors were checked when the node was recorded.
 * This is the only place that looks at a tensor's device (grep finds no other device check). */
#ifndef BV_OPS_DISPATCH_H
#define BV_OPS_DISPATCH_H

#include "../core/ctx.h"
#include "kernels.h"

/* 0 when be computes BV_AUTOCAST_BF16 natively, else -1 with why (see bv_kernels.bf16_check). */
int bv_backend_bf16_check(const bv_backend *be, char *why, size_t cap);
/* 1 with a note when be runs BV_AUTOCAST_BF16 natively but no faster than fp32 (see
 * bv_kernels.bf16_note), else 0. */
int bv_backend_bf16_note(const bv_backend *be, char *note, size_t cap);
const bv_kernels *bv_dispatch(bv_ctx *ctx, const char *op, int n, bv_tensor *const *ins);

/* In-place ops. A tape keeps every activation to the end of the step, so a chain like attention's
 * scores -> + relative logits -> masked fill would hold one [B, h, L, L] map per link although no
 * backward rule reads the middle ones. An in-place op writes its output over its input instead:
 * bv_inplace_alias returns a new tensor header on x's data and marks x consumed (any later op given
 * x stops with an error), or NULL when x may not be overwritten: not recorded on the tape (no grad:
 * x may be a view of anything), a parameter, already consumed, or made by an op whose backward rule
 * reads its output (only ops known not to are allowed; dispatch.c). The caller guarantees what the
 * tape cannot see: the in-place op is x's only consumer (no earlier op saved x for its backward). On
 * NULL the op writes a fresh output as usual. */
bv_tensor *bv_inplace_alias(bv_ctx *ctx, bv_tensor *x);
const bv_kernels *bv_ctx_kernels(const bv_ctx *ctx);
/* Fails (bv_ctx_error) naming op, the device and the slot unless present. */
void bv_kernel_require(bv_ctx *ctx, const char *op, const bv_kernels *k, int present, const char *slot);

#define BV_KERNEL(ctx, k, family, slot, op)                                                             \
    (bv_kernel_require((ctx), (op), (k), (k)->family != NULL && (k)->family->slot != NULL, #family "." #slot), \
     (k)->family->slot)

#endif
