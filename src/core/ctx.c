/* ctx.c - context, tensor creation in the arena, the autograd tape and the op error path. */
#include "ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bv_ctx_init(bv_ctx *ctx, size_t arena_chunk, uint64_t seed) {
    memset(ctx, 0, sizeof *ctx);
    bv_arena_init(&ctx->arena, arena_chunk);
    bv_rng_seed(&ctx->rng, seed);
    ctx->tape_cap = 1024;
    ctx->tape = bv_xmalloc(sizeof(bv_node *) * (size_t)ctx->tape_cap);
}

void bv_ctx_free(bv_ctx *ctx) {
    bv_arena_free(&ctx->arena);
    free(ctx->tape);
    memset(ctx, 0, sizeof *ctx);
}

void bv_ctx_reset(bv_ctx *ctx) {
    bv_arena_reset(&ctx->arena);
    ctx->tape_len = 0;
}

void bv_ctx_error(bv_ctx *ctx, const char *op, const char *fmt, ...) {
    int n = snprintf(ctx->err_msg, sizeof ctx->err_msg, "%s: ", op);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err_msg + n, sizeof ctx->err_msg - (size_t)n, fmt, ap);
    va_end(ap);
    if (ctx->err_jmp) longjmp(*ctx->err_jmp, 1);
    fprintf(stderr, "error: %s\n", ctx->err_msg);
    exit(BV_EXIT_INPUT);
}

/* ---- creation ---- */

bv_tensor *bv_new(bv_ctx *ctx, bv_dtype dt, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > BV_MAX_DIMS) bv_ctx_error(ctx, "new", "%d dims (max %d)", ndim, BV_MAX_DIMS);
    bv_tensor *t = bv_arena_calloc(&ctx->arena, sizeof *t);
    t->dtype = dt;
    t->device = BV_DEV_CPU;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) bv_ctx_error(ctx, "new", "negative size %lld in dim %d", (long long)shape[i], i);
        t->shape[i] = shape[i];
    }
    t->numel = bv_shape_numel(ndim, shape);
    size_t bytes = (size_t)t->numel * (dt == BV_I64 ? sizeof(int64_t) : sizeof(float));
    void *p = bv_arena_alloc(&ctx->arena, bytes);
    if (dt == BV_I64) t->idata = p;
    else t->data = p;
    return t;
}

bv_tensor *bv_zeros(bv_ctx *ctx, bv_dtype dt, int ndim, const int64_t *shape) {
    bv_tensor *t = bv_new(ctx, dt, ndim, shape);
    memset(dt == BV_I64 ? (void *)t->idata : (void *)t->data, 0,
           (size_t)t->numel * (dt == BV_I64 ? sizeof(int64_t) : sizeof(float)));
    return t;
}

bv_tensor *bv_new_like(bv_ctx *ctx, const bv_tensor *t) { return bv_new(ctx, t->dtype, t->ndim, t->shape); }
bv_tensor *bv_zeros_like(bv_ctx *ctx, const bv_tensor *t) { return bv_zeros(ctx, t->dtype, t->ndim, t->shape); }

bv_tensor *bv_full(bv_ctx *ctx, int ndim, const int64_t *shape, float v) {
    bv_tensor *t = bv_new(ctx, BV_F32, ndim, shape);
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = v;
    return t;
}

bv_tensor *bv_from_f32(bv_ctx *ctx, int ndim, const int64_t *shape, const float *src) {
    bv_tensor *t = bv_new(ctx, BV_F32, ndim, shape);
    memcpy(t->data, src, sizeof(float) * (size_t)t->numel);
    return t;
}

bv_tensor *bv_scalar(bv_ctx *ctx, float v) { return bv_full(ctx, 0, NULL, v); }

bv_tensor *bv_detach(bv_ctx *ctx, bv_tensor *t) {
    bv_tensor *d = bv_arena_alloc(&ctx->arena, sizeof *d);
    *d = *t;
    d->grad = NULL;
    d->requires_grad = false;
    d->is_param = false;
    d->node = NULL;
    return d;
}

/* ---- autograd ---- */

float *bv_grad(bv_ctx *ctx, bv_tensor *t) {
    if (!t->grad) {
        BV_ASSERT(!t->is_param); /* parameters own a persistent grad buffer */
        BV_ASSERT(t->dtype == BV_F32);
        t->grad = bv_arena_calloc(&ctx->arena, sizeof(float) * (size_t)t->numel);
    }
    return t->grad;
}

int bv_needs_grad(const bv_ctx *ctx, int n, bv_tensor *const *ins) {
    if (!bv_grad_enabled(ctx)) return 0;
    for (int i = 0; i < n; i++)
        if (ins[i] && ins[i]->requires_grad) return 1;
    return 0;
}

bv_node *bv_record(bv_ctx *ctx, bv_op op, bv_backward_fn bw, int n_in, bv_tensor *const *ins, int n_out,
                   bv_tensor *const *outs) {
    bv_node *n = bv_arena_calloc(&ctx->arena, sizeof *n);
    n->op = op;
    n->backward = bw;
    n->n_in = n_in;
    n->n_out = n_out;
    n->in = bv_arena_alloc(&ctx->arena, sizeof(bv_tensor *) * (size_t)(n_in ? n_in : 1));
    n->out = bv_arena_alloc(&ctx->arena, sizeof(bv_tensor *) * (size_t)(n_out ? n_out : 1));
    for (int i = 0; i < n_in; i++) n->in[i] = ins[i];
    for (int i = 0; i < n_out; i++) {
        n->out[i] = outs[i];
        outs[i]->requires_grad = true;
        outs[i]->node = n;
    }
    if (ctx->tape_len == ctx->tape_cap) {
        ctx->tape_cap *= 2;
        ctx->tape = bv_xrealloc(ctx->tape, sizeof(bv_node *) * (size_t)ctx->tape_cap);
    }
    ctx->tape[ctx->tape_len++] = n;
    return n;
}

static void seed_grad(bv_ctx *ctx, bv_tensor *root, const bv_tensor *gout) {
    if (!root->requires_grad) return; /* nothing upstream of it needs a gradient */
    float *g = bv_grad(ctx, root);
    if (gout) {
        if (gout->numel != root->numel)
            bv_ctx_error(ctx, "backward", "grad_output has %lld elements, output has %lld", (long long)gout->numel,
                         (long long)root->numel);
        for (int64_t i = 0; i < root->numel; i++) g[i] += gout->data[i];
    } else {
        if (root->numel != 1)
            bv_ctx_error(ctx, "backward", "implicit grad_output needs a scalar root, got %lld elements",
                         (long long)root->numel);
        g[0] += 1.0f;
    }
}

static void run_tape(bv_ctx *ctx) {
    /* Grad mode off while backward runs: helper ops used inside backward fns record nothing. */
    bv_no_grad_begin(ctx);
    for (int64_t k = ctx->tape_len - 1; k >= 0; k--) {
        bv_node *n = ctx->tape[k];
        int live = 0;
        for (int i = 0; i < n->n_out; i++)
            if (n->out[i]->grad) live = 1;
        if (!live) continue;
        /* make sure every output has a (possibly zero) grad so backward fns can read them all */
        for (int i = 0; i < n->n_out; i++) bv_grad(ctx, n->out[i]);
        n->backward(ctx, n);
    }
    bv_no_grad_end(ctx);
}

void bv_backward(bv_ctx *ctx, bv_tensor *root, const bv_tensor *gout) {
    seed_grad(ctx, root, gout);
    run_tape(ctx);
}

void bv_backward_multi(bv_ctx *ctx, int n, bv_tensor *const *roots, const bv_tensor *const *gouts) {
    for (int i = 0; i < n; i++) seed_grad(ctx, roots[i], gouts ? gouts[i] : NULL);
    run_tape(ctx);
}

/* ---- checks ---- */

void bv_check_dtype(bv_ctx *ctx, const char *op, const bv_tensor *t, bv_dtype want) {
    if (t->dtype != want)
        bv_ctx_error(ctx, op, "expected dtype %s, got %s", bv_dtype_name(want), bv_dtype_name(t->dtype));
}

void bv_check_ndim(bv_ctx *ctx, const char *op, const bv_tensor *t, int ndim) {
    if (t->ndim != ndim) {
        char b[96];
        bv_ctx_error(ctx, op, "expected a %d-d tensor, got shape %s", ndim, bv_shape_str(t, b, sizeof b));
    }
}

void bv_check_same_shape(bv_ctx *ctx, const char *op, const bv_tensor *a, const bv_tensor *b) {
    if (!bv_same_shape(a, b)) {
        char x[96], y[96];
        bv_ctx_error(ctx, op, "shape mismatch: %s vs %s", bv_shape_str(a, x, sizeof x), bv_shape_str(b, y, sizeof y));
    }
}

void bv_check_cpu(bv_ctx *ctx, const char *op, const bv_tensor *t) {
    if (t->device != BV_DEV_CPU)
        bv_ctx_error(ctx, op, "not supported on device %s (only cpu kernels exist)", bv_device_name(t->device));
}
