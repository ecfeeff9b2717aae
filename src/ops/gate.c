/* gate.c - the fused WaveNet gate commons.fused_add_tanh_sigmoid_multiply as one op
 * (BV_OP_FUSED_TANH_SIGMOID): constructor and backward rule. Kernels: the device's gate slots
 * (cpu/gate.c).
 *
 * One op rather than slice/tanh/sigmoid/mul: it runs once per WN layer on [B, 2H, T] (16 layers in
 * the posterior encoder, 4 flows x 4 layers in the residual flow), and the fused form reads the
 * input once and stores nothing extra for backward (the activations are recomputed from a and b).
 * Backward ACCUMULATES into the input grads. */
#include "dispatch.h"
#include "ops.h"

#define GATE_OP "fused_add_tanh_sigmoid_multiply"

static void gate_backward(bv_ctx *ctx, bv_node *node) {
    bv_tensor *a = node->in[0], *b = node->n_in > 1 ? node->in[1] : NULL, *out = node->out[0];
    int64_t B = a->shape[0], n = a->shape[1] / 2, T = a->shape[2], Tb = b ? b->shape[2] : T;
    float *din = bv_ctx_scratch(ctx, sizeof(float) * (size_t)a->numel); // [B, 2n, T] scratch
    float *ga = a->requires_grad ? bv_grad(ctx, a) : NULL, *gb = b && b->requires_grad ? bv_grad(ctx, b) : NULL;
    const bv_kernels *k = bv_ctx_kernels(ctx);
    BV_KERNEL(ctx, k, gate, grad, GATE_OP)(ga, gb, din, out->grad, a->data, b ? b->data : NULL, B, n, T, Tb);
}

bv_tensor *bv_fused_add_tanh_sigmoid_multiply(bv_ctx *ctx, bv_tensor *a, bv_tensor *b, int n_channels) {
    const char *op = GATE_OP;
    char sa[64], sb[64];
    bv_tensor *ins[2] = {a, b};
    const bv_kernels *k = bv_dispatch(ctx, op, 2, ins);
    if (a->dtype != BV_F32 || a->ndim != 3 || a->shape[1] != 2 * (int64_t)n_channels)
        bv_ctx_error(ctx, op, "a %s (%s) must be f32 [B, %d, T] (2 * n_channels)", bv_shape_str(a, sa, sizeof sa),
                     bv_dtype_name(a->dtype), 2 * n_channels);
    if (b && (b->dtype != BV_F32 || b->ndim != 3 || b->shape[0] != a->shape[0] || b->shape[1] != a->shape[1] ||
              (b->shape[2] != a->shape[2] && b->shape[2] != 1)))
        bv_ctx_error(ctx, op, "b %s (%s) does not broadcast to a %s: expected f32 [B, 2n, T] or [B, 2n, 1]",
                     bv_shape_str(b, sb, sizeof sb), bv_dtype_name(b->dtype), bv_shape_str(a, sa, sizeof sa));
    int64_t B = a->shape[0], n = n_channels, T = a->shape[2];
    bv_tensor *out = bv_new(ctx, BV_F32, BV_SHAPE(B, n, T)); // [B, n, T]
    BV_KERNEL(ctx, k, gate, fwd, op)(out->data, a->data, b ? b->data : NULL, B, n, T, b ? b->shape[2] : T);
    int n_in = b ? 2 : 1;
    if (bv_needs_grad(ctx, n_in, ins)) bv_record(ctx, BV_OP_FUSED_TANH_SIGMOID, gate_backward, n_in, ins, 1, &out);
    return out;
}
