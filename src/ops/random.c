/* random.c - torch.randn / rand / *_like and dropout, through the context's rng. Kernels: the
 * device's random slots (cpu/random.c), which draw from the host-side rng in element order.
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
