/* test_core.c - arena, context, tape bookkeeping, rng (live and replay), parameter store,
 * safetensors reader errors. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/io/safetensors.h"
#include "../src/ops/ops.h"
#include "test.h"

BV_TEST(core_arena_alignment_reset_and_growth) {
    bv_arena a;
    bv_arena_init(&a, 1024, NULL);
    void *p = bv_arena_alloc(&a, 10), *q = bv_arena_alloc(&a, 3000); /* second forces a bigger chunk */
    BV_CHECK(((uintptr_t)p & 63) == 0 && ((uintptr_t)q & 63) == 0, "allocations must be 64-byte aligned");
    memset(q, 7, 3000);
    bv_arena_mark m = bv_arena_get_mark(&a);
    void *r = bv_arena_alloc(&a, 100);
    bv_arena_reset_to(&a, m);
    void *r2 = bv_arena_alloc(&a, 100);
    BV_CHECK(r == r2, "reset_to must rewind to the mark");
    size_t peak = a.peak;
    bv_arena_reset(&a);
    BV_CHECK(a.in_use == 0 && a.peak == peak, "reset keeps the peak, clears in_use");
    void *p2 = bv_arena_alloc(&a, 10);
    BV_CHECK(p2 == p, "after reset the first chunk is reused (no new malloc)");
    bv_arena_free(&a);
}

BV_TEST(core_rng_seeded_and_moments) {
    bv_rng r1, r2;
    bv_rng_seed(&r1, 42);
    bv_rng_seed(&r2, 42);
    double s = 0, s2 = 0, u = 0;
    int same = 1;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double a = bv_rng_normal(&r1), b = bv_rng_normal(&r2);
        same &= a == b;
        s += a;
        s2 += a * a;
        u += bv_rng_uniform(&r1);
        (void)bv_rng_uniform(&r2);
    }
    BV_CHECK(same, "same seed must give the same sequence");
    BV_CHECK(fabs(s / n) < 0.01 && fabs(s2 / n - 1) < 0.02, "normal moments off: mean %g var %g", s / n, s2 / n);
    BV_CHECK(fabs(u / n - 0.5) < 0.01, "uniform mean off: %g", u / n);
}

BV_TEST(core_rng_replay_in_order_with_shape_check) {
    bv_ctx *ctx = ts->ctx;
    static const float d0[] = {1, 2, 3, 4, 5, 6}, d1[] = {0.25f, 0.5f};
    bv_rng_draw draws[2] = {{"noise.000.randn", 2, {2, 3}, d0, NULL}, {"noise.001.rand", 1, {2}, d1, NULL}};
    bv_rng_set_replay(&ctx->rng, draws, 2);
    bv_tensor *a = bv_randn(ctx, BV_SHAPE(2, 3));
    bv_tensor *b = bv_rand(ctx, BV_SHAPE(2));
    BV_CHECK(a->data[5] == 6 && b->data[1] == 0.5f, "replayed values differ");
    char msg[512];
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_randn(ctx, BV_SHAPE(1)));
    BV_CHECK(raised && strstr(msg, "all 2 recorded draws"), "exhausted replay must be an error: %s", msg);
    bv_rng_set_replay(&ctx->rng, draws, 2);
    raised = BV_EXPECT_ERROR(ctx, msg, bv_randn(ctx, BV_SHAPE(3, 2)));
    BV_CHECK(raised && strstr(msg, "noise.000.randn") && strstr(msg, "[3, 2]"), "shape mismatch message: %s", msg);
    bv_rng_set_replay(&ctx->rng, NULL, 0);
}

BV_TEST(core_params_named_store) {
    bv_params ps;
    bv_params_init(&ps);
    bv_tensor *w = bv_params_addf(&ps, BV_SHAPE(8, 4, 3), "attn_layers.%d.conv_q.weight", 1);
    bv_params_add(&ps, "bias", BV_SHAPE(8));
    BV_CHECK(bv_params_get(&ps, "attn_layers.1.conv_q.weight") == w, "lookup by upstream key");
    BV_CHECK(bv_params_get(&ps, "nope") == NULL, "unknown key");
    BV_CHECK(bv_params_numel(&ps) == 8 * 4 * 3 + 8, "numel");
    BV_CHECK(w->requires_grad && w->is_param && w->grad, "params carry persistent grads");
    w->grad[3] = 1;
    bv_params_zero_grad(&ps);
    BV_CHECK(w->grad[3] == 0, "zero_grad");
    bv_params_free(&ps);
}

BV_TEST(core_detach_and_no_grad_record_nothing) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(3), 1.0f);
    bv_tensor *d = bv_detach(ctx, x);
    BV_CHECK(!d->requires_grad && d->data == x->data && !d->node, "detach aliases data without grad");
    int64_t n0 = ctx->tape_len;
    bv_no_grad_begin(ctx);
    int needs = bv_needs_grad(ctx, 1, &x);
    bv_no_grad_end(ctx);
    BV_CHECK(!needs && ctx->tape_len == n0, "no_grad scope must not record");
    BV_CHECK(bv_needs_grad(ctx, 1, &x), "grad mode restored after the scope");
}

BV_TEST(core_op_names_table) {
    BV_CHECK(!strcmp(bv_op_name(BV_OP_CONV1D), "CONV1D") && !strcmp(bv_op_name(BV_OP_ADD), "ADD"), "names");
    BV_CHECK(!strcmp(bv_op_name((bv_op)BV_OP_COUNT), "?"), "out of range");
}

static void write_file(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
}

BV_TEST(core_safetensors_roundtrip_and_corrupt_files) {
    char path[] = "/tmp/bv2-test-st-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    unsigned char buf[256] = {0};
    size_t hl = strlen(hdr);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    float vals[4] = {1, 2, 3, 4};
    memcpy(buf + 8 + hl, vals, 16);
    write_file(path, buf, 8 + hl + 16);
    bv_safetensors st;
    char err[512];
    BV_CHECK(bv_st_open(&st, path, err, sizeof err) == 0, "valid file: %s", err);
    const bv_st_entry *e = bv_st_find(&st, "a");
    float last = 0;
    if (e) memcpy(&last, (const char *)e->data + 12, 4);
    BV_CHECK(e && e->ndim == 2 && last == 4 && ((uintptr_t)e->data & 63) == 0, "entry read back, data aligned");
    bv_st_close(&st);
    write_file(path, buf, 8 + hl + 8); /* truncated data */
    BV_CHECK(bv_st_open(&st, path, err, sizeof err) != 0 && strstr(err, path) && strstr(err, "'a'"),
             "truncated file must name file and tensor: %s", err);
    buf[7] = 0x7f; /* absurd header length */
    write_file(path, buf, 8 + hl + 16);
    BV_CHECK(bv_st_open(&st, path, err, sizeof err) != 0 && strstr(err, "header length"), "bad header: %s", err);
    /* shapes whose element count wraps, or that are not sizes at all (issue 14 finding 3) */
    const char *bad_shapes[] = {"[4611686018427387904,4]", "[1e999,4]", "[2.5,4]", "[\"2\",2]",
                                "[4294967296,4294967296,4]"};
    for (size_t k = 0; k < sizeof bad_shapes / sizeof bad_shapes[0]; k++) {
        char h[200];
        int hn = snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[0,16]}}",
                          bad_shapes[k]);
        unsigned char b2[256] = {0};
        for (int i = 0; i < 8; i++) b2[i] = (unsigned char)((size_t)hn >> (8 * i));
        memcpy(b2 + 8, h, (size_t)hn);
        write_file(path, b2, 8 + (size_t)hn + 16);
        BV_CHECK(bv_st_open(&st, path, err, sizeof err) != 0 && strstr(err, "'a'") && strstr(err, "shape"),
                 "shape %s accepted: %s", bad_shapes[k], err);
    }
    unlink(path);
    BV_CHECK(bv_st_open(&st, path, err, sizeof err) != 0 && strstr(err, "cannot open"), "missing file: %s", err);
}

BV_TEST(core_grad_pool_releases_spent_grads_and_reuses_blocks) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(4, 256), 1.0f);
    bv_tensor *y = bv_exp(ctx, x);                 // intermediate: its grad is spent after exp's backward
    bv_tensor *z = bv_sum(ctx, bv_mul_scalar(ctx, y, 2.0f));
    bv_backward(ctx, z, NULL);
    BV_CHECK(y->grad == NULL, "an intermediate's grad goes back to the pool after its producer's backward");
    BV_CHECK(x->grad && fabsf(x->grad[5] - 2.0f * y->data[5]) < 1e-5f, "the leaf keeps its grad");
    BV_CHECK(bv_ctx_grad_bytes(ctx) == 4 * 256 * sizeof(float), "only the leaf's grad is live: %zu",
             bv_ctx_grad_bytes(ctx));
    size_t total = ctx->grads.total_bytes;
    for (int step = 0; step < 3; step++) {
        bv_ctx_reset(ctx);
        x = bv_test_input(ctx, BV_SHAPE(4, 256), 1.0f);
        z = bv_sum(ctx, bv_mul_scalar(ctx, bv_exp(ctx, x), 2.0f));
        bv_backward(ctx, z, NULL);
    }
    BV_CHECK(ctx->grads.total_bytes == total, "steady state: later steps reuse the blocks (%zu vs %zu bytes)",
             ctx->grads.total_bytes, total);
}

BV_TEST(core_keep_only_compacts_inference_memory) {
    bv_ctx *ctx = ts->ctx;
    bv_no_grad_begin(ctx);
    bv_ctx_mark base = bv_ctx_get_mark(ctx);
    bv_tensor *a = bv_full(ctx, BV_SHAPE(1000), 1.0f);
    bv_tensor *b = bv_add_scalar(ctx, bv_mul_scalar(ctx, a, 3.0f), 1.0f); // two temporaries, b = 4
    size_t before = ctx->arena.in_use;
    bv_ctx_keep_only(ctx, base, 1, &b);
    BV_CHECK(ctx->arena.in_use < before && b->numel == 1000 && bv_tensor_item_at(b, 999) == 4.0, "kept b, dropped the rest");
    bv_no_grad_end(ctx);
}

/* Any number of kept tensors (the train step keeps WavLM's 13 hidden states and its input): each
 * keeps its values, everything else made since the mark goes. */
BV_TEST(core_keep_only_many_tensors) {
    bv_ctx *ctx = ts->ctx;
    bv_no_grad_begin(ctx);
    bv_ctx_mark base = bv_ctx_get_mark(ctx);
    bv_tensor *keep[14];
    for (int i = 0; i < 14; i++) {
        bv_tensor *tmp = bv_full(ctx, BV_SHAPE(4096), (float)i); /* dies */
        keep[i] = bv_add_scalar(ctx, tmp, 0.5f);
    }
    size_t before = ctx->arena.in_use;
    bv_ctx_keep_only(ctx, base, 14, keep);
    int bad = 0;
    for (int i = 0; i < 14; i++) bad += keep[i]->numel != 4096 || bv_tensor_item_at(keep[i], 4095) != i + 0.5;
    BV_CHECK(bad == 0, "%d kept tensors lost their values", bad);
    BV_CHECK(ctx->arena.in_use < before - 14 * 4096 * sizeof(float) / 2, "the temporaries were not dropped");
    bv_no_grad_end(ctx);
}

/* bv_arena_release: the range between two marks becomes a hole later allocations fill first; marks
 * taken after the release rewind inside the hole, a reset forgets it. */
BV_TEST(core_arena_release_makes_holes) {
    bv_arena a;
    bv_arena_init(&a, (size_t)1 << 20, NULL);
    unsigned char *below = bv_arena_alloc(&a, 1000);
    bv_arena_mark from = bv_arena_get_mark(&a);
    unsigned char *dead = bv_arena_alloc(&a, (size_t)300 << 10);
    bv_arena_mark to = bv_arena_get_mark(&a);
    unsigned char *above = bv_arena_alloc(&a, 1000);
    memset(above, 5, 1000);
    size_t top = a.in_use;
    BV_CHECK(bv_arena_release(&a, from, to) == (size_t)300 << 10, "the dead range is released");
    unsigned char *p = bv_arena_alloc(&a, (size_t)100 << 10);
    BV_CHECK(p == dead && a.in_use == top, "the next allocation lands in the hole without growing the arena");
    bv_arena_mark m = bv_arena_get_mark(&a);
    unsigned char *q = bv_arena_alloc(&a, (size_t)150 << 10);
    BV_CHECK(q == dead + ((size_t)100 << 10), "the hole fills like an arena");
    unsigned char *r = bv_arena_alloc(&a, (size_t)100 << 10);
    BV_CHECK(r < dead || r >= dead + ((size_t)300 << 10), "what does not fit goes past the hole");
    bv_arena_reset_to(&a, m);
    BV_CHECK(bv_arena_alloc(&a, (size_t)150 << 10) == q, "a rewind empties the hole back to the mark");
    BV_CHECK(above[999] == 5 && below != NULL, "what lies above the hole is untouched");
    bv_arena_reset_to(&a, from); /* older than the release: the hole goes */
    BV_CHECK(a.n_holes == 0, "rewinding before the release forgets the holes");
    bv_arena_reset(&a);
    bv_arena_free(&a);
}

/* bv_backward_multi_to stops at a tape index and leaves the gradient on the tensor below it; a
 * later backward carries on from there. bv_tape_remove takes spent nodes off the tape. */
BV_TEST(core_backward_to_a_tape_index_then_the_rest) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(8), 1.0f);
    bv_tensor *y = bv_exp(ctx, x);
    int64_t lo = bv_tape_mark(ctx);
    bv_tensor *z = bv_sum(ctx, bv_mul_scalar(ctx, y, 3.0f));
    bv_backward_multi_to(ctx, 1, &z, NULL, lo);
    BV_CHECK(y->grad && fabsf(y->grad[2] - 3.0f) < 1e-6f && !x->grad, "stopped above exp: y's grad waits");
    bv_tape_remove(ctx, lo, bv_tape_mark(ctx));
    BV_CHECK(bv_tape_mark(ctx) == lo, "the spent nodes are off the tape");
    bv_backward_multi(ctx, 0, NULL, NULL);
    BV_CHECK(x->grad && fabsf(x->grad[2] - 3.0f * y->data[2]) < 1e-5f, "the rest of the backward used y's grad");
}

/* bv_params_pack_first: the named parameters' data and grads before the others, values kept;
 * bv_params_overlay_grad: a second store's grads in the first's block from the others on (zeroing
 * one zeroes the other), bv_params_own_grad giving them back a block of their own, values kept. */
BV_TEST(core_params_pack_first_and_grad_overlay) {
    bv_params g, d;
    bv_params_init(&g);
    bv_params_init(&d);
    bv_tensor *a = bv_params_add(&g, "enc.w", BV_SHAPE(3));
    bv_tensor *flow = bv_params_add(&g, "flow.w", BV_SHAPE(4));
    bv_tensor *b = bv_params_add(&g, "dec.w", BV_SHAPE(5));
    bv_tensor *d0 = bv_params_add(&d, "p.w", BV_SHAPE(6));
    bv_tensor *d1 = bv_params_add(&d, "p.b", BV_SHAPE(7));
    for (int i = 0; i < 4; i++) flow->data[i] = (float)(10 + i), flow->grad[i] = (float)(20 + i);
    b->data[4] = 7.0f;
    const char *first[] = {"flow."};
    int64_t at = bv_params_pack_first(&g, first, 1, bv_params_numel(&d));
    bv_params_pack(&d);
    BV_CHECK(at == 4 && g.numel == 12 && g.grad_cap == 17, "the others at %lld, numel %lld, cap %lld",
             (long long)at, (long long)g.numel, (long long)g.grad_cap);
    BV_CHECK(flow->data == g.data && flow->grad == g.grad && a->data == g.data + 4 && b->grad == g.grad + 7,
             "packed order: flow., then the others in item order");
    BV_CHECK(flow->data[3] == 13.0f && flow->grad[1] == 21.0f && b->data[4] == 7.0f, "values kept");
    BV_CHECK(g.items[1] == flow, "the items keep their (state_dict) order");
    d1->grad[1] = 5.0f;
    a->grad[0] = 9.0f;
    bv_params_overlay_grad(&g, at, &d);
    BV_CHECK(d.grad_borrowed && d.grad == g.grad + 4 && d0->grad == g.grad + 4 && d1->grad == g.grad + 10,
             "d's grads lie over g's from the others on");
    BV_CHECK(d1->grad[1] == 5.0f && a->grad[0] == 0.0f, "d's grads moved with their values, over a's");
    b->grad[3] = 3.0f;
    BV_CHECK(d1->grad[0] == 3.0f, "a write through one store shows in the other");
    bv_params_zero_grad_range(&g, 0, 17);
    BV_CHECK(d1->grad[6] == 0.0f && b->grad[3] == 0.0f && flow->grad[1] == 0.0f, "one zeroing covers both");
    d1->grad[0] = 4.0f;
    bv_params_own_grad(&d);
    BV_CHECK(!d.grad_borrowed && d.grad != g.grad + 4 && d1->grad == d.grad + 6 && d1->grad[0] == 4.0f,
             "own grads again, values kept");
    b->grad[3] = 1.0f;
    BV_CHECK(d1->grad[0] == 4.0f, "and apart from g's");
    bv_params empty;
    bv_params_init(&empty);
    bv_params_pack(&empty);
    bv_params_overlay_grad(&g, at, &empty);
    BV_CHECK(!empty.grad_borrowed && !empty.grad, "an empty store is left as it is");
    bv_params_free(&empty);
    bv_params_free(&d);
    bv_params_free(&g);
}

