/* linalg.c - matmul, nn.Linear and nn.Embedding: constructors (checks, output, tape) and backward
 * rules. Kernels: the device's linalg slots (cpu/linalg.c: oneDNN's sgemm, and its bf16 matmul under
 * BV_AUTOCAST_BF16). Backward rules ACCUMULATE (+=) into input grads. matmul and linear record the
 * autocast mode of their forward; their backward runs in the same precision (autocast's rule). */
#include <limits.h>
#include <string.h>

#include "../core/backend.h"
#include "../core/error.h"
#include "dispatch.h"
#include "ops.h"

static void check_blas_int(bv_ctx *ctx, const char *op, int64_t v) {
    if (v > INT_MAX) bv_ctx_error(ctx, op, "dimension %lld exceeds the BLAS int range", (long long)v);
}

/* ------------------------------------------------------------------------------------------ */
/* matmul                                                                                       */

static void kernel_failed(bv_ctx *ctx, const char *op, int rc, const char *err) {
    if (rc) bv_ctx_error(ctx, op, "%s", err);
}

/* iattr: 0 batch, 1 M, 2 K, 3 N, 4 shared (b is 2-d), 5 autocast of the forward */
static void matmul_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *a = n->in[0], *b = n->in[1], *out = n->out[0];
    float *ga = a->requires_grad ? bv_grad(ctx, a) : NULL;
    float *gb = b->requires_grad ? bv_grad(ctx, b) : NULL;
    const bv_kernels *kt = bv_ctx_kernels(ctx);
    if (n->iattr[5] == BV_AUTOCAST_BF16) {
        char err[BV_KERNEL_ERR_LEN] = "";
        int rc = BV_KERNEL(ctx, kt, linalg, matmul_grad_bf16, "matmul")(ctx->be, bv_ctx_data_arena(ctx), ga, gb,
                 out->grad, a->data, b->data, n->iattr[0], n->iattr[1], n->iattr[2], n->iattr[3], (int)n->iattr[4], err);
        kernel_failed(ctx, "matmul", rc, err);
        return;
    }
    BV_KERNEL(ctx, kt, linalg, matmul_grad, "matmul")
    (ga, gb, out->grad, a->data, b->data, n->iattr[0], n->iattr[1], n->iattr[2], n->iattr[3], (int)n->iattr[4]);
}

bv_tensor *bv_matmul(bv_ctx *ctx, bv_tensor *a, bv_tensor *b) {
    char x[96], y[96];
    bv_tensor *ins[2] = {a, b};
    const bv_kernels *kt = bv_dispatch(ctx, "matmul", 2, ins);
    if (a->dtype != BV_F32 || b->dtype != BV_F32)
        bv_ctx_error(ctx, "matmul", "expected f32 inputs, got %s %s and %s %s", bv_dtype_name(a->dtype),
                     bv_shape_str(a, x, sizeof x), bv_dtype_name(b->dtype), bv_shape_str(b, y, sizeof y));
    int ok = a->ndim >= 2 && b->ndim >= 2 && a->shape[a->ndim - 1] == b->shape[b->ndim - 2];
    int shared = b->ndim == 2;
    if (ok && !shared) {
        ok = a->ndim == b->ndim;
        for (int i = 0; ok && i < a->ndim - 2; i++) ok = a->shape[i] == b->shape[i];
    }
    if (!ok)
        bv_ctx_error(ctx, "matmul", "cannot multiply %s by %s (need [..., M, K] @ [..., K, N] with equal batch "
                     "dims, or a 2-d right operand)", bv_shape_str(a, x, sizeof x), bv_shape_str(b, y, sizeof y));
    const int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
    const int64_t batch = bv_shape_numel(a->ndim - 2, a->shape);
    check_blas_int(ctx, "matmul", batch * M);
    check_blas_int(ctx, "matmul", K);
    check_blas_int(ctx, "matmul", N);
    int64_t shape[BV_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = N;
    bv_tensor *out = bv_new(ctx, BV_F32, a->ndim, shape); /* [..., M, N] */
    if (ctx->autocast == BV_AUTOCAST_BF16) {
        char err[BV_KERNEL_ERR_LEN] = "";
        kernel_failed(ctx, "matmul", BV_KERNEL(ctx, kt, linalg, matmul_bf16, "matmul")(ctx->be, bv_ctx_data_arena(ctx),
                      out->data, a->data, b->data, batch, M, K, N, shared, err), err);
    } else {
        BV_KERNEL(ctx, kt, linalg, matmul, "matmul")(out->data, a->data, b->data, batch, M, K, N, shared);
    }
    if (bv_needs_grad(ctx, 2, ins)) {
        bv_node *node = bv_record(ctx, BV_OP_MATMUL, matmul_backward, 2, ins, 1, &out);
        node->iattr[0] = batch;
        node->iattr[1] = M;
        node->iattr[2] = K;
        node->iattr[3] = N;
        node->iattr[4] = shared;
        node->iattr[5] = ctx->autocast;
    }
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* linear                                                                                       */

/* iattr: 0 rows, 1 in, 2 out, 3 autocast of the forward */
static void linear_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL, *y = n->out[0];
    float *gx = x->requires_grad ? bv_grad(ctx, x) : NULL;
    float *gw = w->requires_grad ? bv_grad(ctx, w) : NULL;
    float *gb = b && b->requires_grad ? bv_grad(ctx, b) : NULL;
    const bv_kernels *kt = bv_ctx_kernels(ctx);
    if (n->iattr[3] == BV_AUTOCAST_BF16) {
        char err[BV_KERNEL_ERR_LEN] = "";
        int rc = BV_KERNEL(ctx, kt, linalg, linear_grad_bf16, "linear")(ctx->be, bv_ctx_data_arena(ctx), gx, gw, gb,
                 y->grad, x->data, w->data, w->bf16, n->iattr[0], n->iattr[1], n->iattr[2], err);
        kernel_failed(ctx, "linear", rc, err);
        return;
    }
    BV_KERNEL(ctx, kt, linalg, linear_grad, "linear")
    (gx, gw, gb, y->grad, x->data, w->data, n->iattr[0], n->iattr[1], n->iattr[2]);
}

bv_tensor *bv_linear(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b) {
    char s1[96], s2[96], s3[96];
    bv_tensor *ins[3] = {x, w, b};
    const int n_in = b ? 3 : 2;
    const bv_kernels *kt = bv_dispatch(ctx, "linear", n_in, ins);
    bv_check_dtype(ctx, "linear", x, BV_F32);
    bv_check_dtype(ctx, "linear", w, BV_F32);
    if (x->ndim < 1 || w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1])
        bv_ctx_error(ctx, "linear", "input %s does not match weight %s (need [..., in] and [out, in])",
                     bv_shape_str(x, s1, sizeof s1), bv_shape_str(w, s2, sizeof s2));
    const int64_t Din = w->shape[1], Dout = w->shape[0], rows = bv_shape_numel(x->ndim - 1, x->shape);
    if (b) {
        bv_check_dtype(ctx, "linear", b, BV_F32);
        if (b->ndim != 1 || b->shape[0] != Dout)
            bv_ctx_error(ctx, "linear", "bias %s does not match weight %s (need [out])",
                         bv_shape_str(b, s3, sizeof s3), bv_shape_str(w, s2, sizeof s2));
    }
    check_blas_int(ctx, "linear", rows);
    int64_t shape[BV_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = Dout;
    bv_tensor *y = bv_new(ctx, BV_F32, x->ndim, shape); /* [..., out] */
    if (ctx->autocast == BV_AUTOCAST_BF16) {
        char err[BV_KERNEL_ERR_LEN] = "";
        kernel_failed(ctx, "linear", BV_KERNEL(ctx, kt, linalg, linear_bf16, "linear")(ctx->be, bv_ctx_data_arena(ctx),
                      y->data, x->data, w->data, w->bf16, b ? b->data : NULL, rows, Din, Dout, err), err);
    } else {
        BV_KERNEL(ctx, kt, linalg, linear, "linear")(y->data, x->data, w->data, b ? b->data : NULL, rows, Din, Dout);
    }
    if (bv_needs_grad(ctx, n_in, ins)) {
        bv_node *node = bv_record(ctx, BV_OP_LINEAR, linear_backward, n_in, ins, 1, &y);
        node->iattr[0] = rows;
        node->iattr[1] = Din;
        node->iattr[2] = Dout;
        node->iattr[3] = ctx->autocast;
    }
    return y;
}

void bv_linear_keep_bf16(bv_params *ps) {
    const bv_allocator *mem = &ps->be->mem;
    void (*round)(uint16_t *, const float *, int64_t) = ps->be->kernels->linalg ? ps->be->kernels->linalg->to_bf16 : NULL;
    if (!round) BV_FATAL("bv_linear_keep_bf16: the %s backend has no bf16 conversion", ps->be->name);
    int64_t n = 0;
    for (int i = 0; i < ps->n; i++)
        if (ps->items[i]->ndim == 2) n += ps->items[i]->numel;
    mem->free(ps->bf16);
    ps->bf16 = mem->alloc(sizeof(uint16_t) * (size_t)n);
    if (!ps->bf16) BV_FATAL("out of memory (%lld bf16 weights)", (long long)n);
    uint16_t *at = ps->bf16;
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *t = ps->items[i];
        if (t->ndim != 2) continue;
        round(at, t->data, t->numel);
        t->bf16 = at;
        at += t->numel;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* embedding                                                                                    */

static void embedding_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *w = n->in[0], *ids = n->in[1], *y = n->out[0];
    if (!w->requires_grad) return;
    BV_KERNEL(ctx, bv_ctx_kernels(ctx), linalg, embedding_grad, "embedding")
    (bv_grad(ctx, w), y->grad, ids->idata, ids->numel, w->shape[1]);
}

bv_tensor *bv_embedding(bv_ctx *ctx, bv_tensor *weight, bv_tensor *ids) {
    char s1[96], s2[96];
    bv_tensor *ins[2] = {weight, ids};
    const bv_kernels *kt = bv_dispatch(ctx, "embedding", 2, ins);
    bv_check_dtype(ctx, "embedding", weight, BV_F32);
    bv_check_dtype(ctx, "embedding", ids, BV_I64);
    if (weight->ndim != 2 || ids->ndim + 1 > BV_MAX_DIMS)
        bv_ctx_error(ctx, "embedding", "need weight [V, D] and ids of at most %d dims, got weight %s and ids %s",
                     BV_MAX_DIMS - 1, bv_shape_str(weight, s1, sizeof s1), bv_shape_str(ids, s2, sizeof s2));
    const int64_t V = weight->shape[0], D = weight->shape[1];
    for (int64_t i = 0; i < ids->numel; i++)
        if (ids->idata[i] < 0 || ids->idata[i] >= V)
            bv_ctx_error(ctx, "embedding", "id %lld (at flat index %lld of ids %s) is out of range for vocab size %lld",
                         (long long)ids->idata[i], (long long)i, bv_shape_str(ids, s2, sizeof s2), (long long)V);
    int64_t shape[BV_MAX_DIMS];
    memcpy(shape, ids->shape, sizeof(int64_t) * (size_t)ids->ndim);
    shape[ids->ndim] = D;
    bv_tensor *y = bv_new(ctx, BV_F32, ids->ndim + 1, shape); /* [..., D] */
    BV_KERNEL(ctx, kt, linalg, embedding, "embedding")(y->data, weight->data, ids->idata, ids->numel, D);
    if (bv_needs_grad(ctx, 2, ins)) bv_record(ctx, BV_OP_EMBEDDING, embedding_backward, 2, ins, 1, &y);
    return y;
}
