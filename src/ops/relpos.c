/* relpos.c - the relative-position pieces of upstream's MultiHeadAttention as ops: the fused
 * relative logits / values (constructors, shape checks, backward rules; MHA_REL_LOGITS /
 * MHA_REL_VALUES), the logits added over the scores in place (MHA_REL_LOGITS_ADD), dropout(p) @ v +
 * relative values without storing the dropped map (MHA_DROPOUT_VALUES) and the constant
 * proximal-bias and local-block tables. Kernels: the device's
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

/* ---------------- dropout(p) @ v (+ relative values), the dropped map never stored ---------------- */

typedef struct {
    const bv_kernels *k;
    bv_arena *scratch;
    int64_t B, H, L, K, w; /* p [B, H, L, L], v [B, H, L, K], emb [1|H, 2w+1, K] */
    int hs;                /* emb shared by the heads */
    uint64_t key;
    float p;
} dropval;

/* pd = dropout(p) into scratch: the map bv_dropout would have made, drawn from the same key */
static float *dropval_map(bv_ctx *ctx, const dropval *d, const bv_tensor *p) {
    float *pd = bv_arena_alloc(d->scratch, sizeof(float) * (size_t)p->numel);
    BV_KERNEL(ctx, d->k, random, dropout, "mha_dropout_values")(pd, p->data, p->numel, d->key, d->p);
    return pd;
}

/* in: p, v[, emb]; iattr 0 key, 1 B, 2 H, 3 L, 4 K, 5 w, 6 hs; fattr 0 p. The composite's rules in its
 * order: add (both terms get 0 + g), rel_values (d pd from zero += the band, d emb), matmul
 * (d pd += g v^T, d v += pd^T g), dropout (d p = 0 + d pd * keep, or +=). */
static void dropout_values_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *p = n->in[0], *v = n->in[1], *emb = n->n_in > 2 ? n->in[2] : NULL, *out = n->out[0];
    const int64_t *a = n->iattr;
    dropval d = {bv_ctx_kernels(ctx), bv_ctx_data_arena(ctx), a[1], a[2], a[3], a[4], a[5], (int)a[6],
                 (uint64_t)a[0], (float)n->fattr[0]};
    const int64_t BH = d.B * d.H, L = d.L, K = d.K;
    bv_arena_mark mk = bv_arena_get_mark(d.scratch);
    float *pd = dropval_map(ctx, &d, p);
    float *g = bv_arena_alloc(d.scratch, sizeof(float) * (size_t)out->numel); /* 0 + g: add's rule */
    float *gpd = bv_arena_alloc(d.scratch, sizeof(float) * (size_t)p->numel);
    ctx->be->mem.fill32(g, 0, (size_t)out->numel);
    BV_KERNEL(ctx, d.k, shape, accumulate, "mha_dropout_values")(g, out->grad, out->numel);
    ctx->be->mem.fill32(gpd, 0, (size_t)p->numel);
    if (emb) {
        BV_KERNEL(ctx, d.k, relpos, values_grad_p, "mha_dropout_values")(gpd, g, emb->data, BH, d.H, d.hs, L, K, d.w);
        if (emb->requires_grad)
            BV_KERNEL(ctx, d.k, relpos, band_outer_rows, "mha_dropout_values")
            (bv_grad(ctx, emb), pd, g, BH, d.H, d.hs, L, K, d.w);
    }
    BV_KERNEL(ctx, d.k, linalg, matmul_grad, "mha_dropout_values")
    (gpd, v->requires_grad ? bv_grad(ctx, v) : NULL, g, pd, v->data, BH, L, L, K, 0);
    if (p->requires_grad) {
        int fresh;
        float *gp = bv_grad_for_overwrite(ctx, p, &fresh);
        BV_KERNEL(ctx, d.k, random, dropout_grad, "mha_dropout_values")(gp, gpd, p->numel, d.key, d.p, fresh);
    }
    bv_arena_reset_to(d.scratch, mk);
}

bv_tensor *bv_mha_dropout_values(bv_ctx *ctx, bv_tensor *p, bv_tensor *v, bv_tensor *emb, float p_drop,
                                 int training) {
    if (!training || p_drop <= 0.0f || p_drop >= 1.0f || ctx->autocast != BV_AUTOCAST_OFF) {
        /* nothing to save (no dropout), or rules this fusion does not cover (bf16 products) */
        bv_tensor *pd = bv_dropout(ctx, p, p_drop, training);
        bv_tensor *out = bv_matmul(ctx, pd, v);
        return emb ? bv_add(ctx, out, bv_mha_rel_values(ctx, pd, emb)) : out;
    }
    char b1[96], b2[96];
    bv_tensor *ins[3] = {p, v, emb};
    const int n_in = emb ? 3 : 2;
    const bv_kernels *k = bv_dispatch(ctx, "mha_dropout_values", n_in, ins);
    if (emb) rel_check(ctx, "mha_dropout_values", p, emb, 1);
    bv_check_dtype(ctx, "mha_dropout_values", p, BV_F32);
    bv_check_dtype(ctx, "mha_dropout_values", v, BV_F32);
    if (p->ndim != 4 || v->ndim != 4 || p->shape[2] != p->shape[3] || v->shape[0] != p->shape[0] ||
        v->shape[1] != p->shape[1] || v->shape[2] != p->shape[3] || (emb && emb->shape[2] != v->shape[3]))
        bv_ctx_error(ctx, "mha_dropout_values", "p %s and v %s do not fit (want [B, h, L, L] and [B, h, L, k])",
                     bv_shape_str(p, b1, sizeof b1), bv_shape_str(v, b2, sizeof b2));
    dropval d = {k, bv_ctx_data_arena(ctx), p->shape[0], p->shape[1], p->shape[2], v->shape[3],
                 emb ? (emb->shape[1] - 1) / 2 : 0, emb && emb->shape[0] == 1, bv_rng_u64(&ctx->rng), p_drop};
    const int64_t BH = d.B * d.H;
    bv_tensor *out = bv_new_like(ctx, v); /* before the scratch, which is given back below */
    bv_arena_mark mk = bv_arena_get_mark(d.scratch);
    float *pd = dropval_map(ctx, &d, p);
    BV_KERNEL(ctx, k, linalg, matmul, "mha_dropout_values")(out->data, pd, v->data, BH, d.L, d.L, d.K, 0);
    if (emb) { /* out = pd @ v + rel_values(pd, emb), the add's o + r as o += r */
        float *rel = bv_arena_alloc(d.scratch, sizeof(float) * (size_t)out->numel);
        ctx->be->mem.fill32(rel, 0, (size_t)out->numel);
        BV_KERNEL(ctx, k, relpos, band_times_emb, "mha_dropout_values")(rel, pd, emb->data, BH, d.H, d.hs, d.L, d.K, d.w);
        BV_KERNEL(ctx, k, shape, accumulate, "mha_dropout_values")(out->data, rel, out->numel);
    }
    bv_arena_reset_to(d.scratch, mk);
    if (bv_needs_grad(ctx, n_in, ins)) {
        bv_node *n = bv_record(ctx, BV_OP_MHA_DROPOUT_VALUES, dropout_values_backward, n_in, ins, 1, &out);
        int64_t *a = n->iattr;
        a[0] = (int64_t)d.key, a[1] = d.B, a[2] = d.H, a[3] = d.L, a[4] = d.K, a[5] = d.w, a[6] = d.hs;
        n->fattr[0] = p_drop;
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
