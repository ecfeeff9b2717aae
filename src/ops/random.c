/* random.c - torch.randn / rand / *_like and dropout (alone, and fused with the FFN's relu and mask),
 * through the context's rng. Kernels: the device's random slots (cpu/random.c), which draw from the
 * host-side rng in element order; dropout draws one key and regenerates its factors in backward.
 *
 * In replay mode (bv_rng_set_replay) each call returns the next recorded draw; its shape must be
 * the one the caller asks for, so a C port that makes its random calls in a different order than
 * upstream fails loudly instead of silently diverging. */
#include "dispatch.h"
#include "ops.h"

static bv_tensor *replay_next(bv_ctx *ctx, const char *op, int ndim, const int64_t *shape) {
    bv_rng *r = &ctx->rng;
    if (r->next_replay >= r->n_replay)
        bv_ctx_error(ctx, op, "replay: all %d recorded draws were used", r->n_replay);
    const bv_rng_draw *d = &r->replay[r->next_replay++];
    int same = d->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = d->shape[i] == shape[i];
    bv_tensor *t = bv_new(ctx, BV_F32, ndim, shape);
    if (!same) {
        char b[96];
        bv_ctx_error(ctx, op, "replay: draw %s has a different shape than the requested %s", d->name ? d->name : "?",
                     bv_shape_str(t, b, sizeof b));
    }
    if (!d->data) bv_ctx_error(ctx, op, "replay: draw %s is not f32", d->name ? d->name : "?");
    ctx->be->mem.from_host(t->data, d->data, sizeof(float) * (size_t)t->numel); /* recorded on the host */
    return t;
}

bv_tensor *bv_randn(bv_ctx *ctx, int ndim, const int64_t *shape) {
    if (ctx->rng.replay) return replay_next(ctx, "randn", ndim, shape);
    const bv_kernels *k = bv_dispatch(ctx, "randn", 0, NULL);
    bv_tensor *t = bv_new(ctx, BV_F32, ndim, shape);
    BV_KERNEL(ctx, k, random, normal, "randn")(t->data, t->numel, &ctx->rng, 1.0);
    return t;
}

bv_tensor *bv_rand(bv_ctx *ctx, int ndim, const int64_t *shape) {
    if (ctx->rng.replay) return replay_next(ctx, "rand", ndim, shape);
    const bv_kernels *k = bv_dispatch(ctx, "rand", 0, NULL);
    bv_tensor *t = bv_new(ctx, BV_F32, ndim, shape);
    BV_KERNEL(ctx, k, random, uniform, "rand")(t->data, t->numel, &ctx->rng);
    return t;
}

bv_tensor *bv_randn_like(bv_ctx *ctx, const bv_tensor *t) { return bv_randn(ctx, t->ndim, t->shape); }
bv_tensor *bv_rand_like(bv_ctx *ctx, const bv_tensor *t) { return bv_rand(ctx, t->ndim, t->shape); }

/* node iattr[0]: the call's Philox key; fattr[0]: p */
static void dropout_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0];
    const bv_kernels *k = bv_ctx_kernels(ctx);
    int fresh;
    float *gx = bv_grad_for_overwrite(ctx, x, &fresh);
    BV_KERNEL(ctx, k, random, dropout_grad, "dropout")
    (gx, n->out[0]->grad, x->numel, (uint64_t)n->iattr[0], (float)n->fattr[0], fresh);
}

/* node iattr[0]: key, [1..3]: B, C, T; fattr[0]: p (0: no dropout). in: h, x_mask. */
static void relu_dropout_mask_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *h = n->in[0], *m = n->in[1];
    const int64_t *a = n->iattr;
    int fresh;
    float *gh = bv_grad_for_overwrite(ctx, h, &fresh);
    BV_KERNEL(ctx, bv_ctx_kernels(ctx), random, relu_dropout_mask_grad, "relu_dropout_mask")
    (gh, n->out[0]->grad, h->data, m->data, a[1], a[2], a[3], (uint64_t)a[0], (float)n->fattr[0], fresh);
}

bv_tensor *bv_relu_dropout_mask(bv_ctx *ctx, bv_tensor *h, bv_tensor *x_mask, float p, int training) {
    if (p >= 1.0f || x_mask->requires_grad) /* the ops one by one: rules this fusion does not cover */
        return bv_mul(ctx, bv_dropout(ctx, bv_relu(ctx, h), p, training), x_mask);
    bv_tensor *ins[2] = {h, x_mask};
    const bv_kernels *k = bv_dispatch(ctx, "relu_dropout_mask", 2, ins);
    bv_check_dtype(ctx, "relu_dropout_mask", h, BV_F32);
    bv_check_dtype(ctx, "relu_dropout_mask", x_mask, BV_F32);
    char b1[96], b2[96];
    if (h->ndim != 3 || x_mask->ndim != 3 || x_mask->shape[0] != h->shape[0] || x_mask->shape[1] != 1 ||
        x_mask->shape[2] != h->shape[2])
        bv_ctx_error(ctx, "relu_dropout_mask", "x_mask %s does not fit h %s: want [B, 1, T] and [B, C, T]",
                     bv_shape_str(x_mask, b1, sizeof b1), bv_shape_str(h, b2, sizeof b2));
    const float pe = training && p > 0.0f ? p : 0.0f;
    const uint64_t key = pe > 0.0f ? bv_rng_u64(&ctx->rng) : 0; /* one draw, as bv_dropout */
    const int64_t B = h->shape[0], C = h->shape[1], T = h->shape[2];
    bv_tensor *y = bv_new_like(ctx, h);
    BV_KERNEL(ctx, k, random, relu_dropout_mask, "relu_dropout_mask")(y->data, h->data, x_mask->data, B, C, T, key, pe);
    if (bv_needs_grad(ctx, 2, ins)) {
        bv_node *n = bv_record(ctx, BV_OP_RELU_DROPOUT_MASK, relu_dropout_mask_backward, 2, ins, 1, &y);
        n->iattr[0] = (int64_t)key;
        n->iattr[1] = B;
        n->iattr[2] = C;
        n->iattr[3] = T;
        n->fattr[0] = pe;
    }
    return y;
}

/* x * keep with keep drawn from one rng key; no mask is stored: backward draws it again from the
 * key (the masks of the flow's attention maps alone were ~100 MiB of a training step's arena). */
bv_tensor *bv_dropout(bv_ctx *ctx, bv_tensor *x, float p, int training) {
    if (!training || p <= 0.0f) return x;
    if (p >= 1.0f) return bv_mul_scalar(ctx, x, 0.0f);
    const bv_kernels *k = bv_dispatch(ctx, "dropout", 1, &x);
    bv_check_dtype(ctx, "dropout", x, BV_F32);
    const uint64_t key = bv_rng_u64(&ctx->rng);
    bv_tensor *y = bv_new_like(ctx, x);
    BV_KERNEL(ctx, k, random, dropout, "dropout")(y->data, x->data, x->numel, key, p);
    if (bv_needs_grad(ctx, 1, &x)) {
        bv_node *n = bv_record(ctx, BV_OP_DROPOUT, dropout_backward, 1, &x, 1, &y);
        n->iattr[0] = (int64_t)key;
        n->fattr[0] = p;
    }
    return y;
}
