/* test_mem.c - device-aware memory: the host-access API (tensor.h), the context's host and data
 * arenas, tape marks, the parameter store and the initialisers through a backend allocator.
 *
 * "Split" backend: the CPU's kernels behind an allocator that says its memory is NOT host-visible
 * (it is malloc underneath, so the CPU kernels still run). A context bound to it must put tensor
 * data in its data arena (blocks of that allocator) and headers, nodes and saved state in the host
 * arena; the parameter store and the gradient pool must take their buffers from it too. Every
 * block handed out is recorded, so the tests check where each pointer lives and that every block
 * comes back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/backend.h"
#include "../src/ops/ops.h"
#include "test.h"

#define SPLIT_MAX_BLOCKS 4096

static struct {
    void *p[SPLIT_MAX_BLOCKS];
    size_t bytes[SPLIT_MAX_BLOCKS];
    int n, live, allocs, frees;
} g_split;

static void *split_record(void *p, size_t bytes) {
    BV_ASSERT(p && g_split.n < SPLIT_MAX_BLOCKS);
    g_split.p[g_split.n] = p;
    g_split.bytes[g_split.n++] = bytes;
    g_split.live++;
    g_split.allocs++;
    return p;
}
static void *split_alloc(size_t bytes) { return split_record(bv_host_allocator()->alloc(bytes), bytes); }
static void *split_alloc_zeroed(size_t bytes) { return split_record(bv_host_allocator()->alloc_zeroed(bytes), bytes); }

static void split_free(void *p) {
    if (!p) return;
    for (int i = 0; i < g_split.n; i++)
        if (g_split.p[i] == p) {
            g_split.p[i] = g_split.p[--g_split.n];
            g_split.bytes[i] = g_split.bytes[g_split.n];
            break;
        }
    g_split.live--;
    g_split.frees++;
    bv_host_allocator()->free(p);
}

/* p lies inside a block of the split allocator */
static int in_split(const void *p) {
    const char *c = p;
    for (int i = 0; i < g_split.n; i++)
        if (c >= (const char *)g_split.p[i] && c < (const char *)g_split.p[i] + g_split.bytes[i]) return 1;
    return 0;
}

static bv_backend *split_backend(void) {
    static bv_backend be = {.lock = PTHREAD_MUTEX_INITIALIZER};
    const bv_backend *cpu = bv_backend_get(BV_DEV_CPU);
    be.device = BV_DEV_CPU; /* its kernels are the CPU's: the tensors must say so for dispatch */
    be.name = "split";
    be.kernels = cpu->kernels;
    be.mem = cpu->mem;
    be.mem.alloc = split_alloc;
    be.mem.alloc_zeroed = split_alloc_zeroed;
    be.mem.free = split_free;
    be.mem.host_visible = 0;
    memset(&g_split, 0, sizeof g_split);
    return &be;
}

BV_TEST(mem_host_api_on_cpu) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *t = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 5));
    float src[3] = {1.5f, -2.0f, 3.25f}, back[10];
    bv_from_host_at(t, 4, 3, src);
    bv_to_host(t, back);
    BV_CHECK(back[3] == 0 && back[4] == 1.5f && back[6] == 3.25f && back[7] == 0, "range write");
    BV_CHECK(bv_tensor_item_at(t, 5) == -2.0 && bv_tensor_item(t) == 0.0, "item reads");
    bv_fill(t, 0.75f);
    BV_CHECK(bv_tensor_item_at(t, 9) == 0.75, "fill");
    bv_tensor *u = bv_full(ctx, BV_SHAPE(4), -1.0f);
    bv_copy_at(t, 1, u, 0, 4);
    float *h = bv_host_copy(t);
    BV_CHECK(h[0] == 0.75f && h[1] == -1.0f && h[4] == -1.0f && h[5] == 0.75f, "copy_at");
    free(h);
    bv_tensor *ids = bv_new(ctx, BV_I64, BV_SHAPE(3));
    const int64_t iv[3] = {7, -9, (int64_t)1 << 40};
    bv_from_host(ids, iv);
    BV_CHECK(bv_tensor_item_at(ids, 2) == (double)((int64_t)1 << 40) && bv_tensor_item_at(ids, 1) == -9.0,
             "i64 items");
    /* on the CPU the data arena is the host arena: one arena, as before the split */
    BV_CHECK(bv_ctx_data_arena(ctx) == &ctx->arena && ctx->data_arena.in_use == 0, "one arena on the CPU");
}

BV_TEST(mem_tape_mark_and_cut) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_full(ctx, BV_SHAPE(3), 2.0f);
    x->requires_grad = true;
    int64_t m = bv_tape_mark(ctx);
    bv_tensor *y = bv_sum(ctx, bv_mul(ctx, x, x)); // [] = sum x^2
    BV_CHECK(bv_tape_mark(ctx) > m, "ops recorded nodes");
    bv_backward(ctx, y, NULL);
    BV_CHECK(x->grad && x->grad[0] == 4.0f, "d sum(x^2) / dx = 2x: %g", x->grad ? x->grad[0] : -1.0);
    bv_tape_cut(ctx, m);
    BV_CHECK(bv_tape_mark(ctx) == m, "cut back to the mark");
    /* a second graph: its backward must not replay the first one into x again */
    bv_tensor *z = bv_sum(ctx, x); // []
    memset(x->grad, 0, sizeof(float) * 3);
    bv_backward(ctx, z, NULL);
    BV_CHECK(x->grad[0] == 1.0f, "only the second graph ran: %g", x->grad[0]);
}

BV_TEST(mem_split_backend_arenas_and_marks) {
    bv_backend *be = split_backend();
    bv_ctx c;
    bv_ctx_init_on(&c, be, 1 << 16, 1);
    BV_CHECK(bv_ctx_data_arena(&c) == &c.data_arena, "a non-host-visible backend gets its own data arena");
    bv_ctx_mark m0 = bv_ctx_get_mark(&c);
    bv_tensor *t = bv_zeros(&c, BV_F32, BV_SHAPE(100));
    BV_CHECK(in_split(t->data) && !in_split(t), "data from the backend, header from the host");
    BV_CHECK(bv_tensor_item_at(t, 99) == 0.0, "zeroed through the allocator");
    const float v[4] = {1, 2, 3, 4};
    bv_tensor *a = bv_from_f32(&c, BV_SHAPE(4), v);
    bv_tensor *f = bv_full(&c, BV_SHAPE(4), 0.5f);
    BV_CHECK(bv_tensor_item_at(a, 3) == 4.0 && bv_tensor_item_at(f, 2) == 0.5, "from_f32 / full");
    BV_CHECK(c.data_arena.in_use >= 3 * 64 && c.arena.in_use >= 3 * sizeof(bv_tensor), "both arenas used");
    /* an op runs (CPU kernels over this memory) and its output lands in the data arena */
    bv_tensor *s = bv_add(&c, a, f);
    BV_CHECK(in_split(s->data) && bv_tensor_item_at(s, 0) == 1.5, "op output in device memory");
    /* keep_only through the host: kept data survives the rewind of both arenas */
    bv_no_grad_begin(&c);
    bv_ctx_mark m1 = bv_ctx_get_mark(&c);
    bv_tensor *tmp = bv_mul_scalar(&c, s, 2.0f);
    bv_tensor *keep = bv_add_scalar(&c, tmp, 1.0f); // 2 s + 1
    size_t data_before = c.data_arena.in_use;
    bv_ctx_keep_only(&c, m1, 1, &keep);
    bv_no_grad_end(&c);
    BV_CHECK(c.data_arena.in_use < data_before && in_split(keep->data) && bv_tensor_item_at(keep, 3) == 10.0,
             "keep_only compacts the data arena (%zu -> %zu)", data_before, c.data_arena.in_use);
    bv_ctx_reset_to(&c, m0);
    BV_CHECK(c.data_arena.in_use == 0 && c.arena.in_use == 0, "rewinding to the first mark empties both");
    bv_ctx_free(&c);
    BV_CHECK(g_split.live == 0 && g_split.allocs > 0, "every block back (%d live)", g_split.live);
}

BV_TEST(mem_split_backend_params_grads_and_backward) {
    bv_backend *be = split_backend();
    bv_params ps;
    bv_params_init_on(&ps, be);
    bv_tensor *w = bv_params_add(&ps, "w", BV_SHAPE(2, 3));
    bv_tensor *b = bv_params_add(&ps, "b", BV_SHAPE(3));
    BV_CHECK(in_split(w->data) && in_split(w->grad) && !in_split(w), "parameter buffers on the device");
    bv_rng rng;
    bv_rng_seed(&rng, 5);
    bv_init_uniform(w, &rng, 0.5);
    bv_fill(b, 0.25f);
    float before[6];
    bv_to_host(w, before);
    bv_params_pack(&ps);
    float after[6];
    bv_to_host(w, after);
    BV_CHECK(in_split(ps.data) && in_split(ps.grad) && w->data == ps.data && b->data == ps.data + 6,
             "packed into one device buffer");
    BV_CHECK(!memcmp(before, after, sizeof before) && bv_tensor_item_at(b, 2) == 0.25, "values kept by the pack");

    /* loss = sum(tanh(w * 2 + b)): the same numbers as on the CPU backend */
    bv_ctx c;
    bv_ctx_init_on(&c, be, 1 << 16, 1);
    bv_tensor *x = bv_full(&c, BV_SHAPE(2, 3), 2.0f);
    bv_tensor *loss = bv_sum(&c, bv_tanh(&c, bv_add(&c, bv_mul(&c, w, x), b)));
    bv_backward(&c, loss, NULL);
    float gw[6], gb_host[3];
    memcpy(gw, w->grad, sizeof gw); /* the split memory is malloc underneath: readable for the check */
    memcpy(gb_host, b->grad, sizeof gb_host);
    double worst = 0;
    for (int i = 0; i < 6; i++) {
        double u = tanh(2.0 * after[i] + 0.25), want = 2.0 * (1.0 - u * u);
        worst = fmax(worst, fabs(gw[i] - want));
    }
    BV_CHECK(worst < 1e-5, "dL/dw off by %g", worst);
    BV_CHECK(c.grads.total_bytes > 0, "activation grads came from the pool");
    bv_params_zero_grad(&ps);
    BV_CHECK(bv_tensor_item_at(b, 0) == 0.25 && ps.grad[0] == 0.0f, "zero_grad through the allocator");
    bv_ctx_free(&c);
    bv_params_free(&ps);
    BV_CHECK(g_split.live == 0, "every block back (%d live)", g_split.live);
}

BV_TEST(mem_init_helpers_match_the_inline_formulas) {
    bv_ctx *ctx = ts->ctx;
    bv_rng r1, r2;
    bv_rng_seed(&r1, 11);
    bv_rng_seed(&r2, 11);
    bv_tensor *u = bv_new(ctx, BV_F32, BV_SHAPE(4, 5)), *n = bv_new(ctx, BV_F32, BV_SHAPE(7));
    bv_init_uniform(u, &r1, 0.3);
    bv_init_normal(n, &r1, 0.125);
    int same = 1;
    for (int i = 0; i < 20; i++) same &= u->data[i] == (float)((2.0 * bv_rng_uniform(&r2) - 1.0) * 0.3);
    for (int i = 0; i < 7; i++) same &= n->data[i] == (float)(0.125 * bv_rng_normal(&r2));
    BV_CHECK(same, "draws in element order, rounded as before");
    bv_tensor *g = bv_new(ctx, BV_F32, BV_SHAPE(4, 1, 1));
    bv_init_weight_norm_g(g, u);
    double ss = 0;
    for (int k = 0; k < 5; k++) ss += (double)u->data[15 + k] * u->data[15 + k];
    BV_CHECK(g->data[3] == (float)sqrt(ss), "g = ||v|| per output channel");
}

BV_TEST(mem_split_backend_params_remove_and_drop_grads) {
    bv_backend *be = split_backend();
    bv_params ps;
    bv_params_init_on(&ps, be);
    bv_params_add(&ps, "enc_q.a", BV_SHAPE(4));
    bv_tensor *keep = bv_params_add(&ps, "dec.b", BV_SHAPE(2, 2));
    bv_params_add(&ps, "enc_q.c", BV_SHAPE(3));
    BV_CHECK(g_split.live == 6, "value + grad per parameter (%d)", g_split.live);
    BV_CHECK(bv_params_remove_prefix(&ps, "enc_q.") == 2 && ps.n == 1 && ps.items[0] == keep, "removed by prefix");
    bv_params_drop_grads(&ps);
    BV_CHECK(g_split.live == 1 && keep->grad == NULL && !keep->requires_grad, "grads given back (%d live)",
             g_split.live);
    bv_params_free(&ps);
    BV_CHECK(g_split.live == 0, "every block back (%d live)", g_split.live);
}

BV_TEST(mem_cpu_allocator_alignment_and_zeroing) {
    const bv_allocator *mem = bv_host_allocator();
    int ok = 1;
    for (size_t n = 0; n < 300; n += 37) {
        unsigned char *a = mem->alloc(n), *z = mem->alloc_zeroed(n);
        ok &= a && z && (uintptr_t)a % BV_BACKEND_ALIGN == 0 && (uintptr_t)z % BV_BACKEND_ALIGN == 0;
        for (size_t i = 0; i < n; i++) ok &= z[i] == 0;
        if (n) memset(a, 0xab, n);
        mem->free(a);
        mem->free(z);
    }
    mem->free(NULL);
    BV_CHECK(ok, "64-byte aligned, zeroed when asked");
}
