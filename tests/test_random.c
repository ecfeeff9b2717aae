/* test_random.c - the counter-based Philox4x32-10 (core/rng.h) against the published known answer,
 * and dropout masks drawn from it: values, kept fraction, the same mask for the same seed whatever
 * the thread count and on either vector path (AVX2, AVX-512), and one rng draw per call. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "../src/ops/cpu/random.h"
#include "../src/ops/ops.h"
#include "test.h"

BV_TEST(random_philox_known_answer) {
    /* Random123's kat_vectors: philox4x32 10 rounds, counter 0, key 0 */
    uint32_t w[4];
    bv_rng_philox(0, 0, w);
    BV_CHECK(w[0] == 0x6627e8d5u && w[1] == 0xe169c58du && w[2] == 0xbc57ac4cu && w[3] == 0x9b00dbd8u,
             "philox(0, 0) = %08x %08x %08x %08x", w[0], w[1], w[2], w[3]);
}

/* The eight-lane form gives bv_rng_philox's words for every counter, across a carry into the
 * counter's high half too. */
BV_TEST(random_philox8_matches_philox) {
    const uint64_t keys[3] = {0, 0x0123456789abcdefull, ~0ull};
    const uint64_t ctrs[3] = {0, 1000003, 0xfffffffcull}; /* the last carries into bits 32.. at lane 4 */
    int bad = 0;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            uint32_t w8[8][4], w[4];
            bv_rng_philox8(keys[a], ctrs[b], w8);
            for (int l = 0; l < 8; l++) {
                bv_rng_philox(keys[a], ctrs[b] + (uint64_t)l, w);
                bad += memcmp(w, w8[l], sizeof w) != 0;
            }
        }
    BV_CHECK(bad == 0, "%d of 72 counters differ between bv_rng_philox8 and bv_rng_philox", bad);
}

static bv_tensor *mask_of(bv_ctx *ctx, uint64_t seed, int64_t n, float p, int threads) {
    bv_rng_seed(&ctx->rng, seed);
    bv_tensor *x = bv_full(ctx, BV_SHAPE(n), 1.0f);
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    bv_tensor *y = bv_dropout(ctx, x, p, 1);
    omp_set_num_threads(saved);
    return y;
}

BV_TEST(random_dropout_mask_philox) {
    bv_ctx *ctx = ts->ctx;
    const int64_t n = 200003; /* not a multiple of 4, above the parallel threshold */
    const float p = 0.1f;
    bv_tensor *a = mask_of(ctx, 7, n, p, 1), *b = mask_of(ctx, 7, n, p, 4), *c = mask_of(ctx, 8, n, p, 2);
    BV_CHECK(!memcmp(a->data, b->data, sizeof(float) * (size_t)n), "%s", "mask depends on the thread count");
    BV_CHECK(memcmp(a->data, c->data, sizeof(float) * (size_t)n) != 0, "%s", "another seed gave the same mask");
    int64_t kept = 0, bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (a->data[i] == 0.0f) continue;
        kept++;
        bad += a->data[i] != 1.0f / (1.0f - p);
    }
    double frac = (double)kept / (double)n, sd = sqrt(p * (1 - p) / (double)n);
    BV_CHECK(bad == 0, "%lld kept values are not 1/(1-p)", (long long)bad);
    BV_CHECK(fabs(frac - (1 - p)) < 5 * sd, "kept fraction %.5f, expected %.5f +- %.5f", frac, 1 - p, 5 * sd);
    /* element i is word i % 4 of counter i / 4 under the call's key (the first draw of seed 7) */
    bv_rng r;
    bv_rng_seed(&r, 7);
    const uint64_t key = bv_rng_u64(&r);
    int64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t w[4];
        bv_rng_philox(key, (uint64_t)(i / 4), w);
        off += a->data[i] != ((double)w[i % 4] >= (double)p * 4294967296.0 ? 1.0f / (1.0f - p) : 0.0f);
    }
    BV_CHECK(off == 0, "%lld mask elements differ from the Philox words' definition", (long long)off);
    /* the AVX2 path (8 counters a call) gives the AVX-512 one's mask (16), tail included */
    bv_cpu_dropout_allow_avx512(0);
    bv_tensor *d = mask_of(ctx, 7, n, p, 2);
    bv_cpu_dropout_allow_avx512(1);
    BV_CHECK(!memcmp(a->data, d->data, sizeof(float) * (size_t)n), "%s", "the AVX2 and AVX-512 masks differ");
    /* one draw of the sequential stream per call */
    uint64_t next = bv_rng_u64(&r);
    mask_of(ctx, 7, 10, p, 1);
    BV_CHECK(bv_rng_u64(&ctx->rng) == next, "%s", "dropout took more than one draw from the rng");
}

/* Dropout's backward draws its factors again from the call's key: d x = g * keep exactly (keep read
 * off the forward of ones), and the forward stores no mask (the arena grows by the output alone). */
BV_TEST(random_dropout_backward_redraws_the_mask) {
    bv_ctx *ctx = ts->ctx;
    const int64_t n = 100003;
    const float p = 0.25f;
    bv_tensor *keep = mask_of(ctx, 11, n, p, 2);
    bv_rng_seed(&ctx->rng, 11);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(n), 1.0f);
    bv_rng_seed(&ctx->rng, 11);
    const size_t before = ctx->arena.in_use;
    bv_tensor *y = bv_dropout(ctx, x, p, 1);
    const size_t grew = ctx->arena.in_use - before, out = sizeof(float) * (size_t)n;
    BV_CHECK(grew < out + 4096, "dropout took %zu bytes of the arena for a %zu-byte output", grew, out);
    bv_tensor *g = bv_test_input(ctx, BV_SHAPE(n), 1.0f);
    bv_backward(ctx, y, g);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        bad += x->grad[i] != 0.0f + g->data[i] * keep->data[i];
        bad += y->data[i] != x->data[i] * keep->data[i];
    }
    BV_CHECK(bad == 0, "%lld elements differ from x * keep and g * keep", (long long)bad);
}
