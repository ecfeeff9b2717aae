/* elementwise.c - broadcasting binary ops (add, sub, mul, div) and every unary op: constructors,
 * broadcast planning and backward rules. Kernels: the device's elementwise slots (cpu/elementwise.c).
 *
 * Binary ops broadcast numpy-style. Shapes are first "coalesced": output dims of size 1 are
 * dropped and adjacent dims that are laid out alike in both inputs are merged, so the common
 * patterns become cheap 1-d or 2-d walks: same shape -> [N]; [B,C,T] op [B,C,1] -> [B*C, T] with a
 * constant right operand per row; [B,C,T] op [B,1,T] -> [B, C, T] with b's row reused for each c.
 * The layout (bv_bcast, kernels.h) is what every device's kernel walks. */
#include "dispatch.h"
#include "ops.h"

/* ------------------------------------------------------------------------------------------ */
/* broadcasting layout                                                                          */

/* Output shape of a op b into out_shape (returns ndim); error naming op and both shapes. */
static int bcast_shape(bv_ctx *ctx, const char *op, const bv_tensor *a, const bv_tensor *b, int64_t *out_shape) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char x[96], y[96];
            bv_ctx_error(ctx, op, "shapes %s and %s are not broadcastable (dim %d: %lld vs %lld)",
                         bv_shape_str(a, x, sizeof x), bv_shape_str(b, y, sizeof y), i, (long long)da,
                         (long long)db);
        }
        out_shape[i] = da == 1 ? db : da;
    }
    return nd;
}

/* Strides (elements) of t seen through the output shape: 0 where t is stretched or absent. */
static void bcast_strides(const bv_tensor *t, int nd, int64_t *st) {
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int it = i - (nd - t->ndim);
        int64_t d = it >= 0 ? t->shape[it] : 1;
        st[i] = (d == 1) ? 0 : s;
        s *= d;
    }
}

static void bcast_init(bv_bcast *bc, const bv_tensor *a, const bv_tensor *b, int nd, const int64_t *out_shape) {
    int64_t sa[BV_MAX_DIMS], sb[BV_MAX_DIMS];
    bcast_strides(a, nd, sa);
    bcast_strides(b, nd, sb);
    int k = 0;
    bc->numel = 1;
    for (int i = 0; i < nd; i++) {
        if (out_shape[i] == 1) continue; /* size-1 output dims carry no index */
        bc->numel *= out_shape[i];
        if (k > 0 && bc->sa[k - 1] == sa[i] * out_shape[i] && bc->sb[k - 1] == sb[i] * out_shape[i]) {
            /* merge with the previous dim: it steps over exactly this dim in both inputs */
            bc->shape[k - 1] *= out_shape[i];
            bc->sa[k - 1] = sa[i];
            bc->sb[k - 1] = sb[i];
            continue;
        }
        bc->shape[k] = out_shape[i];
        bc->sa[k] = sa[i];
        bc->sb[k] = sb[i];
        k++;
    }
    if (k == 0) { /* every dim is 1 (or there are none): one element */
        bc->shape[0] = 1;
        bc->sa[0] = bc->sb[0] = 0;
        k = 1;
    }
    bc->nd = k;
}

/* ------------------------------------------------------------------------------------------ */
/* binary ops                                                                                   */

static void grad_to(bv_ctx *ctx, const char *name, bv_tensor *t, bv_grad_term k, const int64_t *st, const float *G,
                    const bv_tensor *a, const bv_tensor *b, const bv_bcast *bc) {
    if (!t->requires_grad) return;
    const bv_kernels *kt = bv_ctx_kernels(ctx);
    if (t->numel == bc->numel) { /* a fresh gradient is written, not zero-filled and added to */
        int fresh;
        float *D = bv_grad_for_overwrite(ctx, t, &fresh);
        BV_KERNEL(ctx, kt, elementwise, binary_grad_full, name)(k, D, G, a->data, b->data, bc, fresh);
    } else {
        BV_KERNEL(ctx, kt, elementwise, binary_grad_reduce, name)(k, bv_grad(ctx, t), st, G, a->data, b->data, bc);
    }
}

static void bin_backward(bv_ctx *ctx, bv_node *n) {
    static const bv_grad_term ka[] = {BV_TERM_G, BV_TERM_G, BV_TERM_G_Y, BV_TERM_G_DIV_Y};
    static const bv_grad_term kb[] = {BV_TERM_G, BV_TERM_NEG_G, BV_TERM_G_X, BV_TERM_DIVB};
    bv_tensor *a = n->in[0], *b = n->in[1], *out = n->out[0];
    const bv_bcast *bc = n->saved;
    bv_bin_kind k = (bv_bin_kind)n->iattr[0];
    if (bc->numel == 0) return;
    const char *name = bv_op_name(n->op);
    grad_to(ctx, name, a, ka[k], bc->sa, out->grad, a, b, bc);
    grad_to(ctx, name, b, kb[k], bc->sb, out->grad, a, b, bc);
}

static bv_tensor *binary(bv_ctx *ctx, bv_bin_kind k, bv_op op, const char *name, bv_tensor *a, bv_tensor *b) {
    bv_tensor *ins[2] = {a, b};
    const bv_kernels *kt = bv_dispatch(ctx, name, 2, ins);
    if (a->dtype != BV_F32 || b->dtype != BV_F32) {
        char x[96], y[96];
        bv_ctx_error(ctx, name, "expected f32 inputs, got %s %s and %s %s", bv_dtype_name(a->dtype),
                     bv_shape_str(a, x, sizeof x), bv_dtype_name(b->dtype), bv_shape_str(b, y, sizeof y));
    }
    int64_t shape[BV_MAX_DIMS];
    int nd = bcast_shape(ctx, name, a, b, shape);
    bv_bcast local, *bc = &local;
    int rec = bv_needs_grad(ctx, 2, ins);
    if (rec) bc = bv_arena_alloc(&ctx->arena, sizeof *bc);
    bcast_init(bc, a, b, nd, shape);
    bv_tensor *out = bv_new(ctx, BV_F32, nd, shape);
    if (bc->numel > 0) BV_KERNEL(ctx, kt, elementwise, binary, name)(k, out->data, a->data, b->data, bc);
    if (rec) {
        bv_node *node = bv_record(ctx, op, bin_backward, 2, ins, 1, &out);
        node->saved = bc;
        node->iattr[0] = k;
    }
    return out;
}

bv_tensor *bv_add(bv_ctx *ctx, bv_tensor *a, bv_tensor *b) { return binary(ctx, BV_BIN_ADD, BV_OP_ADD, "add", a, b); }
bv_tensor *bv_sub(bv_ctx *ctx, bv_tensor *a, bv_tensor *b) { return binary(ctx, BV_BIN_SUB, BV_OP_SUB, "sub", a, b); }
bv_tensor *bv_mul(bv_ctx *ctx, bv_tensor *a, bv_tensor *b) { return binary(ctx, BV_BIN_MUL, BV_OP_MUL, "mul", a, b); }
bv_tensor *bv_div(bv_ctx *ctx, bv_tensor *a, bv_tensor *b) { return binary(ctx, BV_BIN_DIV, BV_OP_DIV, "div", a, b); }

/* ------------------------------------------------------------------------------------------ */
/* unary ops                                                                                    */

static const struct {
    const char *name;
    bv_op op;
} unary_table[BV_U_COUNT] = {
#define UNARY_ROW(name, OP) [BV_U_##OP] = {#name, BV_OP_##OP},
    BV_UNARY_OPS(UNARY_ROW)
#undef UNARY_ROW
};

static void unary_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    if (!x->requires_grad) return;
    const bv_unary_kind k = (bv_unary_kind)n->iattr[0];
    const bv_kernels *kt = bv_ctx_kernels(ctx);
    int fresh;
    float *gx = bv_grad_for_overwrite(ctx, x, &fresh); /* fresh: written, not zero-filled and added to */
    BV_KERNEL(ctx, kt, elementwise, unary_grad, unary_table[k].name)
    (k, gx, y->grad, x->data, y->data, x->numel, (float)n->fattr[0], (float)n->fattr[1], fresh);
}

static bv_tensor *unary(bv_ctx *ctx, bv_unary_kind k, bv_tensor *x, float p0, float p1) {
    const char *name = unary_table[k].name;
    const bv_kernels *kt = bv_dispatch(ctx, name, 1, &x);
    bv_check_dtype(ctx, name, x, BV_F32);
    bv_tensor *y = bv_new_like(ctx, x);
    BV_KERNEL(ctx, kt, elementwise, unary, name)(k, y->data, x->data, x->numel, p0, p1);
    if (bv_needs_grad(ctx, 1, &x)) {
        bv_node *node = bv_record(ctx, unary_table[k].op, unary_backward, 1, &x, 1, &y);
        node->iattr[0] = k;
        node->fattr[0] = p0;
        node->fattr[1] = p1;
    }
    return y;
}

bv_tensor *bv_add_scalar(bv_ctx *ctx, bv_tensor *a, float s) { return unary(ctx, BV_U_ADD_SCALAR, a, s, 0); }
bv_tensor *bv_mul_scalar(bv_ctx *ctx, bv_tensor *a, float s) { return unary(ctx, BV_U_MUL_SCALAR, a, s, 0); }
bv_tensor *bv_rsub_scalar(bv_ctx *ctx, float s, bv_tensor *a) { return unary(ctx, BV_U_RSUB_SCALAR, a, s, 0); }
bv_tensor *bv_pow_scalar(bv_ctx *ctx, bv_tensor *a, float p) { return unary(ctx, BV_U_POW_SCALAR, a, p, 0); }
bv_tensor *bv_neg(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_NEG, a, 0, 0); }
bv_tensor *bv_exp(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_EXP, a, 0, 0); }
bv_tensor *bv_log(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_LOG, a, 0, 0); }
bv_tensor *bv_sqrt(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_SQRT, a, 0, 0); }
bv_tensor *bv_square(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_SQUARE, a, 0, 0); }
bv_tensor *bv_abs(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_ABS, a, 0, 0); }
bv_tensor *bv_tanh(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_TANH, a, 0, 0); }
bv_tensor *bv_sigmoid(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_SIGMOID, a, 0, 0); }
bv_tensor *bv_relu(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_RELU, a, 0, 0); }
bv_tensor *bv_leaky_relu(bv_ctx *ctx, bv_tensor *a, float slope) { return unary(ctx, BV_U_LEAKY_RELU, a, slope, 0); }
bv_tensor *bv_gelu(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_GELU, a, 0, 0); }
bv_tensor *bv_silu(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_SILU, a, 0, 0); }
bv_tensor *bv_softplus(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_SOFTPLUS, a, 0, 0); }
bv_tensor *bv_logsigmoid(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, BV_U_LOGSIGMOID, a, 0, 0); }
bv_tensor *bv_clamp(bv_ctx *ctx, bv_tensor *a, float lo, float hi) { return unary(ctx, BV_U_CLAMP, a, lo, hi); }
