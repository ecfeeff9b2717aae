/* test_init.c - the in-place parameter initialisers (src/ops/init.c): the same draws, in the same
 * order, as the loops model code used to write by hand, so a seed gives the same model. */
#include <math.h>

#include "../src/ops/ops.h"
#include "test.h"

BV_TEST(init_draws_match_the_reference_formulas) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *u = bv_new(ctx, BV_F32, BV_SHAPE(7, 3)), *n = bv_new(ctx, BV_F32, BV_SHAPE(11));
    bv_rng r, ref;
    bv_rng_seed(&r, 1234);
    bv_rng_seed(&ref, 1234);
    bv_init_uniform(u, &r, 0.25);
    bv_init_normal(n, &r, 0.5);
    int ok = 1;
    for (int64_t i = 0; i < u->numel; i++) ok &= u->data[i] == (float)((2.0 * bv_rng_uniform(&ref) - 1.0) * 0.25);
    for (int64_t i = 0; i < n->numel; i++) ok &= n->data[i] == (float)(bv_rng_normal(&ref) * 0.5);
    BV_CHECK(ok, "%s", "uniform/normal draws differ from the reference loops");
    BV_CHECK(bv_rng_u64(&r) == bv_rng_u64(&ref), "%s", "rng streams out of step");
}

BV_TEST(init_fill_copy_weight_norm_g) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *v = bv_new(ctx, BV_F32, BV_SHAPE(4, 3, 2)), *g = bv_new(ctx, BV_F32, BV_SHAPE(4, 1, 1));
    bv_tensor *c = bv_new(ctx, BV_F32, BV_SHAPE(4, 3, 2));
    for (int64_t i = 0; i < v->numel; i++) v->data[i] = (float)(i % 5) - 1.5f;
    bv_init_weight_norm_g(g, v);
    int ok = 1;
    for (int64_t o = 0; o < 4; o++) {
        double ss = 0;
        for (int64_t j = 0; j < 6; j++) ss += (double)v->data[o * 6 + j] * v->data[o * 6 + j];
        ok &= g->data[o] == (float)sqrt(ss);
    }
    BV_CHECK(ok, "%s", "weight_norm g");
    bv_init_copy(c, v);
    ok = 1;
    for (int64_t i = 0; i < v->numel; i++) ok &= c->data[i] == v->data[i];
    BV_CHECK(ok, "%s", "copy");
    bv_init_fill(c, 3.0f);
    ok = 1;
    for (int64_t i = 0; i < c->numel; i++) ok &= c->data[i] == 3.0f;
    BV_CHECK(ok, "%s", "fill");
}
