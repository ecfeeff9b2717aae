/* relpos.c - the relative-position pieces of upstream's MultiHeadAttention as ops: the fused
 * relative logits / values (constructors, shape checks, backward rules; MHA_REL_LOGITS /
 * MHA_REL_VALUES) and the constant proximal-bias and local-block tables. Kernels: the device's
 * relpos slots (cpu/relpos.c). Backward rules ACCUMULATE into input grads.
 *
 * Upstream builds the relative terms with _get_relative_embeddings (pad/slice), a matmul and the
 * skewing _relative_position_to_absolute_position reshapes; both reduce to a band |j - i| <= w with
 * emb row r = j - i + w (rows outside the window are upstream's zero padding), computed directly in
 * O(L * (2w+1) * k) instead of O(L * 2L * k). */
#include "dispatch.h"
#include "ops.h"

/* Shared shape checks: a [B, h, L, X] with X = k (logits) or L (values), emb [1|h, 2w+1, k]. */
static const bv_kernels *rel_check(bv_ctx *ctx, const char *op, bv_tensor *a, bv_tensor *emb, int a_is_p) {
    char b1[96], b2[96];
    bv_tensor *ins[2] = {a, emb};
    const bv_kernels *k = bv_dispatch(ctx, op, 2, ins);
    bv_check_dtype(ctx, op, a, BV_F32);
    bv_check_dtype(ctx, op, emb, BV_F32);
    int ok = a->ndim == 4 && emb->ndim == 3 && emb->shape[1] % 2 == 1 &&
             (emb->shape[0] == 1 || emb->shape[0] == a->shape[1]);
    if (ok && a_is_p) ok = a->shape[2] == a->shape[3];
    if (ok && !a_is_p) ok = emb->shape[2] == a->shape[3];
    if (!ok)
        bv_ctx_error(ctx, op, "%s %s does not fit emb %s (want [B, h, L, %s] and [1 or h, 2w+1, k])",
                     a_is_p ? "p" : "q", bv_shape_str(a, b1, sizeof b1), bv_shape_str(emb, b2, sizeof b2),
                     a_is_p ? "L" : "k");
    return k;
}

/* node iattr: 0 BH, 1 H, 2 heads shared, 3 L, 4 K, 5 w */
static void rel_set_attr(bv_node *n, const bv_tensor *a, const bv_tensor *emb, int64_t K) {
    n->iattr[0] = a->shape[0] * a->shape[1];
    n->iattr[1] = a->shape[1];
    n->iattr[2] = emb->shape[0] == 1;
    n->iattr[3] = a->shape[2];
    n->iattr[4] = K;
    n->iattr[5] = (emb->shape[1] - 1) / 2;
}

/* The logits' band gradients: d q += band(g) emb, d emb += band(g)^T q (node attrs: rel_set_attr). */
static void rel_logits_grads(bv_ctx *ctx, const bv_node *n, bv_tensor *q, bv_tensor *emb) {
    const float *g = n->out[0]->grad;
    const int64_t *a = n->iattr;
    const bv_kernels *k = bv_ctx_kernels(ctx);
    const char *name = bv_op_name(n->op);
    if (q->requires_grad)
        BV_KERNEL(ctx, k, relpos, band_times_emb, name)
        (bv_grad(ctx, q), g, emb->data, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (emb->requires_grad)
        BV_KERNEL(ctx, k, relpos, band_outer_rows, name)
        (bv_grad(ctx, emb), g, q->data, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static void rel_logits_backward(bv_ctx *ctx, bv_node *n) { rel_logits_grads(ctx, n, n->in[0], n->in[1]); }

bv_tensor *bv_mha_rel_logits(bv_ctx *ctx, bv_tensor *q, bv_tensor *emb) {
    const bv_kernels *k = rel_check(ctx, "mha_rel_logits", q, emb, 0);
    int64_t B = q->shape[0], H = q->shape[1], L = q->shape[2], K = q->shape[3];
    bv_tensor *out = bv_zeros(ctx, BV_F32, BV_SHAPE(B, H, L, L)); // [B, h, L, L]
    int64_t w = (emb->shape[1] - 1) / 2;
    BV_KERNEL(ctx, k, relpos, logits, "mha_rel_logits")
    (out->data, q->data, emb->data, B * H, H, emb->shape[0] == 1, L, K, w, 0);
    bv_tensor *ins[2] = {q, emb};
    if (bv_needs_grad(ctx, 2, ins)) {
        bv_node *n = bv_record(ctx, BV_OP_MHA_REL_LOGITS, rel_logits_backward, 2, ins, 1, &out);
        rel_set_attr(n, q, emb, K);
    }
    return out;
}

/* in: scores, q, emb; the band's gradients as rel_logits' (g of the sum is g of each term) */
static void rel_logits_add_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *s = n->in[0];
    if (s->requires_grad)
        BV_KERNEL(ctx, bv_ctx_kernels(ctx), shape, accumulate, "mha_rel_logits_add")
        (bv_grad(ctx, s), n->out[0]->grad, s->numel);
    rel_logits_grads(ctx, n, n->in[1], n->in[2]);
}

bv_tensor *bv_mha_rel_logits_add(bv_ctx *ctx, bv_tensor *scores, bv_tensor *q, bv_tensor *emb) {
    char b1[96], b2[96];
    const bv_kernels *k = rel_check(ctx, "mha_rel_logits_add", q, emb, 0);
    bv_tensor *sq[1] = {scores};
    bv_dispatch(ctx, "mha_rel_logits_add", 1, sq);
    bv_check_dtype(ctx, "mha_rel_logits_add", scores, BV_F32);
    int64_t B = q->shape[0], H = q->shape[1], L = q->shape[2], K = q->shape[3];
    if (scores->ndim != 4 || scores->shape[0] != B || scores->shape[1] != H || scores->shape[2] != L ||
        scores->shape[3] != L)
        bv_ctx_error(ctx, "mha_rel_logits_add", "scores %s do not fit q %s (want [B, h, L, L])",
                     bv_shape_str(scores, b1, sizeof b1), bv_shape_str(q, b2, sizeof b2));
    bv_tensor *ins[3] = {scores, q, emb};
    const int rec = bv_needs_grad(ctx, 3, ins);
    bv_tensor *out = rec ? bv_inplace_alias(ctx, scores) : NULL;
    if (!out) {
        out = bv_new_like(ctx, scores);
        BV_KERNEL(ctx, k, shape, copy, "mha_rel_logits_add")(out->data, scores->data, sizeof(float) * (size_t)scores->numel);
    }
    int64_t w = (emb->shape[1] - 1) / 2;
    BV_KERNEL(ctx, k, relpos, logits, "mha_rel_logits_add")
    (out->data, q->data, emb->data, B * H, H, emb->shape[0] == 1, L, K, w, 1);
    if (rec) {
        bv_node *n = bv_record(ctx, BV_OP_MHA_REL_LOGITS_ADD, rel_logits_add_backward, 3, ins, 1, &out);
        rel_set_attr(n, q, emb, K);
    }
    return out;
}

static void rel_values_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *p = n->in[0], *emb = n->in[1];
    const float *g = n->out[0]->grad;
    const int64_t *a = n->iattr;
    const bv_kernels *k = bv_ctx_kernels(ctx);
    if (p->requires_grad)
        BV_KERNEL(ctx, k, relpos, values_grad_p, "mha_rel_values")
        (bv_grad(ctx, p), g, emb->data, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (emb->requires_grad)
        BV_KERNEL(ctx, k, relpos, band_outer_rows, "mha_rel_values")
        (bv_grad(ctx, emb), p->data, g, a[0], a[1], a[2], a[3], a[4], a[5]);
}

bv_tensor *bv_mha_rel_values(bv_ctx *ctx, bv_tensor *p, bv_tensor *emb) {
    const bv_kernels *k = rel_check(ctx, "mha_rel_values", p, emb, 1);
    int64_t B = p->shape[0], H = p->shape[1], L = p->shape[2], K = emb->shape[2];
    bv_tensor *out = bv_zeros(ctx, BV_F32, BV_SHAPE(B, H, L, K)); // [B, h, L, k]
    int64_t w = (emb->shape[1] - 1) / 2;
    BV_KERNEL(ctx, k, relpos, band_times_emb, "mha_rel_values")
    (out->data, p->data, emb->data, B * H, H, emb->shape[0] == 1, L, K, w);
    bv_tensor *ins[2] = {p, emb};
    if (bv_needs_grad(ctx, 2, ins)) {
        bv_node *n = bv_record(ctx, BV_OP_MHA_REL_VALUES, rel_values_backward, 2, ins, 1, &out);
        rel_set_attr(n, p, emb, K);
    }
    return out;
}

static bv_tensor *square_table(bv_ctx *ctx, const char *op, int64_t T, const bv_kernels **k) {
    *k = bv_dispatch(ctx, op, 0, NULL);
    if (T < 0) bv_ctx_error(ctx, op, "negative length %lld", (long long)T);
    return bv_new(ctx, BV_F32, BV_SHAPE(1, 1, T, T)); // [1, 1, T, T]
}

bv_tensor *bv_attn_proximal_bias(bv_ctx *ctx, int64_t T) {
    const bv_kernels *k;
    bv_tensor *b = square_table(ctx, "attn_proximal_bias", T, &k);
    BV_KERNEL(ctx, k, relpos, proximal_bias, "attn_proximal_bias")(b->data, T);
    return b;
}

bv_tensor *bv_attn_local_mask(bv_ctx *ctx, int64_t T, int64_t block_length) {
    const bv_kernels *k;
    bv_tensor *b = square_table(ctx, "attn_local_mask", T, &k);
    if (block_length < 0) bv_ctx_error(ctx, "attn_local_mask", "negative block_length %lld", (long long)block_length);
    BV_KERNEL(ctx, k, relpos, local_mask, "attn_local_mask")(b->data, T, block_length);
    return b;
}
