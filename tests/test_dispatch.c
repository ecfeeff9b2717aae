/* test_dispatch.c - the backend boundary: an input on another device and a device without a kernel
 * both fail with the op's name; contexts carry their backend; backend caches are made once and
 * given back at shutdown. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../src/core/backend.h"
#include "../src/ops/cpu/bf16.h"
#include "../src/ops/cpu/isa.h"
#include "../src/ops/dispatch.h"
#include "../src/ops/ops.h"
#include "test.h"

BV_TEST(dispatch_input_on_other_device_names_op) {
    bv_ctx *ctx = ts->ctx;
    BV_CHECK(ctx->be == bv_backend_get(BV_DEV_CPU), "%s", "");
    bv_tensor *x = bv_full(ctx, BV_SHAPE(2, 3), 1.0f);
    bv_tensor *y = bv_full(ctx, BV_SHAPE(2, 3), 2.0f);
    y->device = BV_DEV_CUDA; /* as if made by a CUDA context */
    char msg[512];
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_add(ctx, x, y)), "%s", msg);
    BV_CHECK(strstr(msg, "add") && strstr(msg, "input 1 is on device cuda"), "%s", msg);
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_tanh(ctx, y)), "%s", msg);
    BV_CHECK(strstr(msg, "tanh") && strstr(msg, "device cuda"), "%s", msg);
}

/* A device whose table has no elementwise kernels: the op fails naming itself and the slot. */
static const bv_kernels k_empty = {.device = "test-device"};

BV_TEST(dispatch_missing_kernel_names_op_and_device) {
    bv_backend fake = *bv_backend_get(BV_DEV_CPU); /* CPU memory, empty kernel table */
    fake.kernels = &k_empty;
    fake.name = "test-device";
    memset(fake.cache, 0, sizeof fake.cache);
    bv_ctx c;
    bv_ctx_init_on(&c, &fake, 1 << 20, 1);
    bv_tensor *x = bv_full(&c, BV_SHAPE(4), 0.5f);
    char msg[512];
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_sigmoid(&c, x)), "%s", msg);
    BV_CHECK(strstr(msg, "sigmoid") && strstr(msg, "no elementwise.unary kernel on device test-device"), "%s", msg);
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_mul(&c, x, x)), "%s", msg);
    BV_CHECK(strstr(msg, "mul") && strstr(msg, "elementwise.binary"), "%s", msg);
    bv_ctx_free(&c);
}

static int g_made, g_destroyed;
static void *make_cache(void) {
    g_made++;
    return &g_made;
}
static void destroy_cache(void *p) {
    BV_ASSERT(p == &g_made);
    g_destroyed++;
}

BV_TEST(dispatch_backend_cache_made_once_and_given_back) {
    bv_backend fake = *bv_backend_get(BV_DEV_CPU);
    memset(fake.cache, 0, sizeof fake.cache);
    pthread_mutex_init(&fake.lock, NULL);
    g_made = g_destroyed = 0;
    BV_CHECK(bv_backend_cache(&fake, BV_CACHE_MEL, make_cache, destroy_cache) == &g_made, "%s", "");
    BV_CHECK(bv_backend_cache(&fake, BV_CACHE_MEL, make_cache, destroy_cache) == &g_made, "%s", "");
    BV_CHECK(g_made == 1, "%s", "");
    bv_backend_shutdown(&fake);
    BV_CHECK(g_destroyed == 1 && fake.cache[BV_CACHE_MEL].p == NULL, "%s", "");
    pthread_mutex_destroy(&fake.lock);
}

/* ---------------- ops-b families: one missing-kernel check each ---------------- */

/* A context on a device with the CPU's memory and an empty kernel table (k_empty). */
static void empty_device_ctx(bv_ctx *c, bv_backend *fake) {
    *fake = *bv_backend_get(BV_DEV_CPU);
    fake->kernels = &k_empty;
    fake->name = "test-device";
    memset(fake->cache, 0, sizeof fake->cache);
    bv_ctx_init_on(c, fake, 1 << 20, 1);
}

BV_TEST(dispatch_missing_reduce_kernel) {
    bv_backend fake;
    bv_ctx c;
    empty_device_ctx(&c, &fake);
    bv_tensor *x = bv_full(&c, BV_SHAPE(2, 3), 0.5f);
    char msg[512];
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_sum_dim(&c, x, 1, 0)), "%s", msg);
    BV_CHECK(strstr(msg, "sum_dim") && strstr(msg, "no reduce.sum kernel on device test-device"), "%s", msg);
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_std_dim(&c, x, 1, 0, 1)), "%s", msg);
    BV_CHECK(strstr(msg, "std_dim") && strstr(msg, "reduce.std"), "%s", msg);
    bv_ctx_free(&c);
}

BV_TEST(dispatch_missing_norm_kernel) {
    bv_backend fake;
    bv_ctx c;
    empty_device_ctx(&c, &fake);
    bv_tensor *x = bv_full(&c, BV_SHAPE(2, 3, 4), 0.5f);
    char msg[512];
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_layer_norm_ch(&c, x, NULL, NULL, 1e-5f)), "%s", msg);
    BV_CHECK(strstr(msg, "layer_norm_ch") && strstr(msg, "no norm.layer_norm kernel on device test-device"), "%s",
             msg);
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_softmax(&c, x, -1)), "%s", msg);
    BV_CHECK(strstr(msg, "softmax") && strstr(msg, "norm.softmax"), "%s", msg);
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_group_norm(&c, x, 3, NULL, NULL, 1e-5f)), "%s", msg);
    BV_CHECK(strstr(msg, "group_norm") && strstr(msg, "norm.group_norm"), "%s", msg);
    bv_ctx_free(&c);
}

BV_TEST(dispatch_missing_shape_kernel) {
    bv_backend fake;
    bv_ctx c;
    empty_device_ctx(&c, &fake);
    bv_tensor *x = bv_full(&c, BV_SHAPE(2, 3), 0.5f);
    char msg[512];
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_transpose(&c, x, 0, 1)), "%s", msg);
    BV_CHECK(strstr(msg, "transpose") && strstr(msg, "no shape.strided kernel on device test-device"), "%s", msg);
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_pad(&c, x, 2, (int64_t[]){1, 1}, BV_PAD_CONSTANT, 0.0f)), "%s", msg);
    BV_CHECK(strstr(msg, "pad") && strstr(msg, "shape.pad"), "%s", msg);
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_masked_fill(&c, x, x, 0.0f)), "%s", msg);
    BV_CHECK(strstr(msg, "masked_fill") && strstr(msg, "shape.masked_fill"), "%s", msg);
    bv_tensor *r = bv_reshape(&c, x, BV_SHAPE(3, 2)); /* a view: no kernel needed */
    BV_CHECK(r->shape[0] == 3 && r->data == x->data, "%s", "reshape");
    bv_ctx_free(&c);
}

BV_TEST(dispatch_missing_random_kernel) {
    bv_backend fake;
    bv_ctx c;
    empty_device_ctx(&c, &fake);
    bv_tensor *x = bv_full(&c, BV_SHAPE(2, 3), 0.5f);
    char msg[512];
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_randn(&c, BV_SHAPE(4))), "%s", msg);
    BV_CHECK(strstr(msg, "randn") && strstr(msg, "no random.normal kernel on device test-device"), "%s", msg);
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_dropout(&c, x, 0.5f, 1)), "%s", msg);
    BV_CHECK(strstr(msg, "dropout") && strstr(msg, "random.dropout"), "%s", msg);
    BV_CHECK(bv_dropout(&c, x, 0.5f, 0) == x, "%s", "eval-mode dropout needs no kernel");
    bv_ctx_free(&c);
}

BV_TEST(dispatch_missing_relpos_kernel) {
    bv_backend fake;
    bv_ctx c;
    empty_device_ctx(&c, &fake);
    bv_tensor *q = bv_full(&c, BV_SHAPE(1, 2, 5, 3), 0.5f), *emb = bv_full(&c, BV_SHAPE(1, 3, 3), 0.5f);
    char msg[512];
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_mha_rel_logits(&c, q, emb)), "%s", msg);
    BV_CHECK(strstr(msg, "mha_rel_logits") && strstr(msg, "no relpos.logits kernel on device test-device"), "%s", msg);
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_attn_proximal_bias(&c, 4)), "%s", msg);
    BV_CHECK(strstr(msg, "attn_proximal_bias") && strstr(msg, "relpos.proximal_bias"), "%s", msg);
    bv_ctx_free(&c);
}

BV_TEST(dispatch_missing_gate_kernel) {
    bv_backend fake;
    bv_ctx c;
    empty_device_ctx(&c, &fake);
    bv_tensor *a = bv_full(&c, BV_SHAPE(1, 4, 3), 0.5f);
    char msg[512];
    BV_CHECK(BV_EXPECT_ERROR(&c, msg, bv_fused_add_tanh_sigmoid_multiply(&c, a, NULL, 2)), "%s", msg);
    BV_CHECK(strstr(msg, "fused_add_tanh_sigmoid_multiply") && strstr(msg, "no gate.fwd kernel on device test-device"),
             "%s", msg);
    bv_ctx_free(&c);
}

/* bf16 conversion: round to nearest even, NaN kept, exact round trip of bf16 values. */
BV_TEST(cpu_bf16_conversion_rounds_to_nearest_even) {
    float in[6] = {1.0f, 1.00390625f /* 1 + 2^-8: a tie, rounds to even 1.0 */, 1.01171875f /* tie up to 1.015625 */,
                   -3.140625f, INFINITY, NAN};
    uint16_t h[6];
    float back[6];
    bv_cpu_f32_to_bf16(h, in, 6);
    bv_cpu_bf16_to_f32(back, h, 6);
    BV_CHECK(back[0] == 1.0f && back[1] == 1.0f && back[2] == 1.015625f && back[3] == -3.140625f &&
                 isinf(back[4]) && isnan(back[5]),
             "bf16 round trip: %g %g %g %g %g %g", back[0], back[1], back[2], back[3], back[4], back[5]);
    float r[2] = {1.00390625f, 0.1f};
    bv_cpu_round_bf16(r, 2);
    BV_CHECK(r[0] == 1.0f && r[1] == bv_bf16_to_f32_bits(bv_f32_to_bf16(0.1f)) && r[1] != 0.1f, "round_bf16");
}

/* The CPU answers whether it computes bf16 natively; a refusal always says why. */
BV_TEST(cpu_bf16_check_answers_with_a_reason) {
    char why[256] = "";
    int rc = bv_backend_bf16_check(bv_backend_get(BV_DEV_CPU), why, sizeof why);
    BV_CHECK(rc == 0 || (rc == -1 && strstr(why, "bf16") != NULL), "rc %d, why '%s'", rc, why);
    printf("    cpu bf16: %s\n", rc == 0 ? "native" : why);
}

/* bf16 that runs but gains nothing (an Intel core without usable AMX) is told apart: the rule on
 * every combination of the CPU's facts, and this CPU's note only where bf16 runs at all. */
BV_TEST(cpu_bf16_note_only_where_bf16_runs_and_gains_nothing) {
    BV_CHECK(bv_cpu_bf16_gains_nothing(1, 1, 0), "Intel, AVX512_BF16, no AMX: gains nothing");
    BV_CHECK(!bv_cpu_bf16_gains_nothing(1, 1, 1), "Intel with AMX gains");
    BV_CHECK(!bv_cpu_bf16_gains_nothing(0, 1, 0), "AMD Zen 4 (AVX512_BF16 at twice its fp32 rate) gains");
    BV_CHECK(!bv_cpu_bf16_gains_nothing(1, 0, 0), "no AVX512_BF16: refused by the check, no note");
    char why[256] = "", note[512] = "";
    const bv_backend *be = bv_backend_get(BV_DEV_CPU);
    const int runs = bv_backend_bf16_check(be, why, sizeof why) == 0;
    const int rc = bv_backend_bf16_note(be, note, sizeof note);
    BV_CHECK(rc == 0 || (rc == 1 && runs && strstr(note, "no faster than fp32") != NULL), "rc %d (runs %d), note '%s'",
             rc, runs, note);
    printf("    cpu bf16 note: %s\n", rc ? note : "none (bf16 gains here, or does not run)");
}
