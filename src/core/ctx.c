/* ctx.c - context, tensor creation in the arena, the autograd tape and the op error path. */
#include "ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- gradient pool ---- */

struct bv_grad_block {
    bv_grad_block *next;
    size_t bytes;
    float *data;
};

typedef struct bv_grad_bucket {
    size_t bytes;
    bv_grad_block *head;
} bv_grad_bucket;

static bv_grad_bucket *bucket_for(bv_grad_pool *p, size_t bytes) {
    for (int i = 0; i < p->n_buckets; i++)
        if (p->buckets[i].bytes == bytes) return &p->buckets[i];
    if (p->n_buckets == p->cap_buckets) {
        p->cap_buckets = p->cap_buckets ? 2 * p->cap_buckets : 64;
        p->buckets = bv_xrealloc(p->buckets, sizeof *p->buckets * (size_t)p->cap_buckets);
    }
    p->buckets[p->n_buckets] = (bv_grad_bucket){bytes, NULL};
    return &p->buckets[p->n_buckets++];
}

/* The free block that fits `bytes` most tightly (its own size first), or NULL. Reusing a larger
 * block instead of making one of the exact size keeps the pool near its peak in flight: with exact
 * sizes only, a step's many sizes left ~8x the peak in the pool's free lists. */
static bv_grad_bucket *best_fit(bv_grad_pool *p, size_t bytes) {
    bv_grad_bucket *best = NULL;
    for (int i = 0; i < p->n_buckets; i++) {
        bv_grad_bucket *b = &p->buckets[i];
        if (b->head && b->bytes >= bytes && (!best || b->bytes < best->bytes)) best = b;
    }
    return best;
}

/* A block of at least `bytes` of mem's memory, reused from the pool when one is free; zeroed
 * unless raw (the caller writes every element before anything reads it). */
static bv_grad_block *pool_take(bv_grad_pool *p, const bv_allocator *mem, size_t bytes, int raw) {
    bytes = (bytes + 63) / 64 * 64;
    bv_grad_bucket *b = best_fit(p, bytes);
    bv_grad_block *blk = b ? b->head : NULL;
    if (blk) {
        b->head = blk->next;
    } else {
        blk = bv_xmalloc(sizeof *blk);
        blk->bytes = bytes;
        blk->data = mem->alloc(bytes);
        if (!blk->data) BV_FATAL("out of memory: gradient of %zu bytes", bytes);
        p->total_bytes += bytes;
    }
    if (!raw) mem->fill32(blk->data, 0, bytes / sizeof(uint32_t)); /* the grad's part of the block */
    blk->next = p->live;
    p->live = blk;
    p->live_bytes += blk->bytes;
    if (p->live_bytes > p->peak_bytes) p->peak_bytes = p->live_bytes;
    return blk;
}

/* Back to its bucket. The live list is singly linked: unlink by search from the head, which is
 * where recently taken blocks sit (backward releases in roughly the reverse order of taking). */
static void pool_release(bv_grad_pool *p, bv_grad_block *blk) {
    bv_grad_block **pp = &p->live;
    while (*pp && *pp != blk) pp = &(*pp)->next;
    BV_ASSERT(*pp == blk);
    *pp = blk->next;
    p->live_bytes -= blk->bytes;
    bv_grad_bucket *b = bucket_for(p, blk->bytes);
    blk->next = b->head;
    b->head = blk;
}

static void pool_release_all(bv_grad_pool *p) {
    while (p->live) {
        bv_grad_block *blk = p->live;
        p->live = blk->next;
        bv_grad_bucket *b = bucket_for(p, blk->bytes);
        blk->next = b->head;
        b->head = blk;
    }
    p->live_bytes = 0;
}

static void pool_free(bv_grad_pool *p, const bv_allocator *mem) {
    pool_release_all(p);
    for (int i = 0; i < p->n_buckets; i++)
        for (bv_grad_block *blk = p->buckets[i].head, *next; blk; blk = next) {
            next = blk->next;
            mem->free(blk->data);
            free(blk);
        }
    free(p->buckets);
    memset(p, 0, sizeof *p);
}

size_t bv_ctx_grad_bytes(const bv_ctx *ctx) { return ctx->grads.live_bytes; }
size_t bv_ctx_grad_peak_bytes(const bv_ctx *ctx) { return ctx->grads.peak_bytes; }

void bv_ctx_init(bv_ctx *ctx, size_t arena_chunk, uint64_t seed) {
    bv_ctx_init_on(ctx, bv_backend_get(BV_DEV_CPU), arena_chunk, seed);
}

void bv_ctx_init_on(bv_ctx *ctx, bv_backend *be, size_t arena_chunk, uint64_t seed) {
    BV_ASSERT(be != NULL);
    memset(ctx, 0, sizeof *ctx);
    ctx->be = be;
    bv_arena_init(&ctx->arena, arena_chunk, bv_host_allocator());
    if (!be->mem.host_visible) bv_arena_init(&ctx->data_arena, arena_chunk, &be->mem);
    bv_rng_seed(&ctx->rng, seed);
    ctx->tape_cap = 1024;
    ctx->tape = bv_xmalloc(sizeof(bv_node *) * (size_t)ctx->tape_cap);
}

void bv_ctx_free(bv_ctx *ctx) {
    bv_arena_free(&ctx->arena);
    bv_arena_free(&ctx->data_arena);
    pool_free(&ctx->grads, &ctx->be->mem);
    free(ctx->tape);
    memset(ctx, 0, sizeof *ctx);
}

void bv_ctx_reset(bv_ctx *ctx) {
    bv_arena_reset(&ctx->arena);
    bv_arena_reset(&ctx->data_arena);
    pool_release_all(&ctx->grads);
    ctx->tape_len = 0;
}

bv_ctx_mark bv_ctx_get_mark(bv_ctx *ctx) {
    bv_ctx_mark m = {bv_arena_get_mark(&ctx->arena), bv_arena_get_mark(&ctx->data_arena)};
    return m;
}

void bv_ctx_reset_to(bv_ctx *ctx, bv_ctx_mark m) {
    bv_arena_reset_to(&ctx->arena, m.host);
    if (!ctx->be->mem.host_visible) bv_arena_reset_to(&ctx->data_arena, m.data);
}

void bv_tape_cut(bv_ctx *ctx, int64_t mark) {
    BV_ASSERT(mark >= 0 && mark <= ctx->tape_len);
    ctx->tape_len = mark;
}

void bv_tape_remove(bv_ctx *ctx, int64_t lo, int64_t hi) {
    BV_ASSERT(lo >= 0 && lo <= hi && hi <= ctx->tape_len);
    memmove(ctx->tape + lo, ctx->tape + hi, sizeof *ctx->tape * (size_t)(ctx->tape_len - hi));
    ctx->tape_len -= hi - lo;
}

size_t bv_ctx_release(bv_ctx *ctx, bv_ctx_mark from, bv_ctx_mark to) {
    size_t n = bv_arena_release(&ctx->arena, from.host, to.host);
    if (!ctx->be->mem.host_visible) n += bv_arena_release(&ctx->data_arena, from.data, to.data);
    return n;
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

static size_t data_bytes(const bv_tensor *t) {
    return (size_t)t->numel * (t->dtype == BV_I64 ? sizeof(int64_t) : sizeof(float));
}

bv_tensor *bv_new(bv_ctx *ctx, bv_dtype dt, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > BV_MAX_DIMS) bv_ctx_error(ctx, "new", "%d dims (max %d)", ndim, BV_MAX_DIMS);
    bv_tensor *t = bv_arena_calloc(&ctx->arena, sizeof *t);
    t->dtype = dt;
    t->device = ctx->be->device;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) bv_ctx_error(ctx, "new", "negative size %lld in dim %d", (long long)shape[i], i);
        t->shape[i] = shape[i];
    }
    t->numel = bv_shape_numel(ndim, shape);
    void *p = bv_arena_alloc(bv_ctx_data_arena(ctx), data_bytes(t));
    if (dt == BV_I64) t->idata = p;
    else t->data = p;
    return t;
}

bv_tensor *bv_zeros(bv_ctx *ctx, bv_dtype dt, int ndim, const int64_t *shape) {
    bv_tensor *t = bv_new(ctx, dt, ndim, shape);
    ctx->be->mem.fill32(dt == BV_I64 ? (void *)t->idata : (void *)t->data, 0, data_bytes(t) / sizeof(uint32_t));
    return t;
}

bv_tensor *bv_new_like(bv_ctx *ctx, const bv_tensor *t) { return bv_new(ctx, t->dtype, t->ndim, t->shape); }
bv_tensor *bv_zeros_like(bv_ctx *ctx, const bv_tensor *t) { return bv_zeros(ctx, t->dtype, t->ndim, t->shape); }

bv_tensor *bv_full(bv_ctx *ctx, int ndim, const int64_t *shape, float v) {
    bv_tensor *t = bv_new(ctx, BV_F32, ndim, shape);
    bv_fill(t, v);
    return t;
}

bv_tensor *bv_from_f32(bv_ctx *ctx, int ndim, const int64_t *shape, const float *src) {
    bv_tensor *t = bv_new(ctx, BV_F32, ndim, shape);
    bv_from_host(t, src);
    return t;
}

bv_tensor *bv_scalar(bv_ctx *ctx, float v) { return bv_full(ctx, 0, NULL, v); }

void bv_ctx_keep_only(bv_ctx *ctx, bv_ctx_mark mark, int n, bv_tensor **ts) {
    BV_ASSERT(!bv_grad_enabled(ctx) && n >= 0);
    bv_tensor *copy = bv_xmalloc(sizeof *copy * (size_t)(n ? n : 1));
    void **saved = bv_xmalloc(sizeof *saved * (size_t)(n ? n : 1));
    /* The kept data may overlap where its copy goes: park it in host memory meanwhile. */
    for (int i = 0; i < n; i++) {
        copy[i] = *ts[i];
        saved[i] = bv_xmalloc(data_bytes(ts[i]) ? data_bytes(ts[i]) : 1);
        bv_to_host(ts[i], saved[i]);
    }
    bv_ctx_reset_to(ctx, mark);
    for (int i = 0; i < n; i++) {
        bv_tensor *t = bv_new(ctx, copy[i].dtype, copy[i].ndim, copy[i].shape);
        bv_from_host(t, saved[i]);
        free(saved[i]);
        t->name = copy[i].name;
        ts[i] = t;
    }
    free(copy);
    free(saved);
}

bv_tensor *bv_detach(bv_ctx *ctx, bv_tensor *t) {
    bv_tensor *d = bv_arena_alloc(&ctx->arena, sizeof *d);
    *d = *t;
    d->grad = NULL;
    d->grad_block = NULL;
    d->requires_grad = false;
    d->is_param = false;
    d->node = NULL;
    return d;
}

/* ---- autograd ---- */

static float *grad_take(bv_ctx *ctx, bv_tensor *t, int raw) {
    if (!t->grad) {
        BV_ASSERT(!t->is_param); /* parameters own a persistent grad buffer */
        BV_ASSERT(t->dtype == BV_F32);
        t->grad_block = pool_take(&ctx->grads, &ctx->be->mem, sizeof(float) * (size_t)(t->numel ? t->numel : 1), raw);
        t->grad = t->grad_block->data;
    }
    return t->grad;
}

float *bv_grad(bv_ctx *ctx, bv_tensor *t) { return grad_take(ctx, t, 0); }

float *bv_grad_for_overwrite(bv_ctx *ctx, bv_tensor *t, int *fresh) {
    *fresh = !t->grad && !t->is_param;
    return grad_take(ctx, t, *fresh);
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
    if (gout && gout->numel != root->numel)
        bv_ctx_error(ctx, "backward", "grad_output has %lld elements, output has %lld", (long long)gout->numel,
                     (long long)root->numel);
    if (!gout && root->numel != 1)
        bv_ctx_error(ctx, "backward", "implicit grad_output needs a scalar root, got %lld elements",
                     (long long)root->numel);
    float *g = bv_grad(ctx, root);
    const bv_allocator *mem = &ctx->be->mem;
    if (mem->host_visible) {
        if (gout)
            for (int64_t i = 0; i < root->numel; i++) g[i] += gout->data[i];
        else
            g[0] += 1.0f;
        return;
    }
    /* device memory: add on the host (once per backward, off the hot path) */
    size_t bytes = sizeof(float) * (size_t)root->numel;
    float *hg = bv_xmalloc(bytes ? 2 * bytes : 1), *ho = hg + root->numel;
    mem->to_host(hg, g, bytes);
    if (gout) {
        bv_to_host(gout, ho);
        for (int64_t i = 0; i < root->numel; i++) hg[i] += ho[i];
    } else {
        hg[0] += 1.0f;
    }
    mem->from_host(g, hg, bytes);
    free(hg);
}

static void run_tape(bv_ctx *ctx, int64_t lo) {
    /* Grad mode off while backward runs: helper ops used inside backward fns record nothing. */
    bv_no_grad_begin(ctx);
    for (int64_t k = ctx->tape_len - 1; k >= lo; k--) {
        bv_node *n = ctx->tape[k];
        int live = 0;
        for (int i = 0; i < n->n_out; i++)
            if (n->out[i]->grad) live = 1;
        if (!live) continue;
        /* make sure every output has a (possibly zero) grad so backward fns can read them all */
        for (int i = 0; i < n->n_out; i++) bv_grad(ctx, n->out[i]);
        n->backward(ctx, n);
        /* every consumer of these outputs ran before their producer: their grads are spent */
        for (int i = 0; i < n->n_out; i++) {
            bv_tensor *o = n->out[i];
            if (o->grad_block) {
                pool_release(&ctx->grads, o->grad_block);
                o->grad_block = NULL;
                o->grad = NULL;
            }
        }
    }
    bv_no_grad_end(ctx);
}

void bv_backward(bv_ctx *ctx, bv_tensor *root, const bv_tensor *gout) {
    seed_grad(ctx, root, gout);
    run_tape(ctx, 0);
}

void bv_backward_multi_to(bv_ctx *ctx, int n, bv_tensor *const *roots, const bv_tensor *const *gouts,
                          int64_t tape_lo) {
    BV_ASSERT(tape_lo >= 0 && tape_lo <= ctx->tape_len);
    for (int i = 0; i < n; i++) seed_grad(ctx, roots[i], gouts ? gouts[i] : NULL);
    run_tape(ctx, tape_lo);
}

void bv_backward_multi(bv_ctx *ctx, int n, bv_tensor *const *roots, const bv_tensor *const *gouts) {
    bv_backward_multi_to(ctx, n, roots, gouts, 0);
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

