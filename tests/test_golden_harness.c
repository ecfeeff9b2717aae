/* test_golden_harness.c - the golden harness's coverage rule (tests/golden.h) on a made-up case in a
 * temporary golden folder: a stored tensor the test neither reads nor compares fails it; a
 * bv_golden_ignore declaration with a reason excuses it, one without a reason fails; a recorded
 * draw counts only when the code consumed it; a skipped or already failed test is not judged. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/io/safetensors_write.h"
#include "../src/ops/ops.h"
#include "fixtures.h"
#include "golden.h"

typedef struct tiny_set {
    char dir[64];
    const char *saved_dir;
} tiny_set;

/* Case "T": in.x, out.y (= 2 in.x), mid.z and one recorded draw noise.000.randn. */
static int tiny_open(tiny_set *s) {
    snprintf(s->dir, sizeof s->dir, "/tmp/bv_golden_harness_XXXXXX");
    if (!mkdtemp(s->dir)) return -1;
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/manifest.json", s->dir);
    if (bv_test_write_text(path, "{\"cases\": [{\"name\": \"T\", \"file\": \"t.safetensors\", "
                                 "\"tolerance\": {\"atol\": 1e-6, \"rtol\": 0}}]}"))
        return -1;
    static const float x[2] = {1, 2}, y[2] = {2, 4}, z[1] = {3}, e[2] = {0.5f, -0.5f};
    const bv_st_write_entry t[4] = {{"in.x", BV_ST_F32, 1, {2}, x},
                                    {"out.y", BV_ST_F32, 1, {2}, y},
                                    {"mid.z", BV_ST_F32, 1, {1}, z},
                                    {"noise.000.randn", BV_ST_F32, 1, {2}, e}};
    snprintf(path, sizeof path, "%s/t.safetensors", s->dir);
    if (bv_st_write(path, t, 4, NULL, 0, err, sizeof err)) return -1;
    s->saved_dir = bv_test_golden_dir;
    bv_test_golden_dir = s->dir;
    bv_golden_manifest_reset();
    return 0;
}

static void tiny_close(tiny_set *s) {
    bv_test_golden_dir = s->saved_dir;
    bv_golden_manifest_reset();
    bv_test_rm_rf(s->dir);
}

enum { ONLY_OUTPUT, IGNORE_MID_DRAW, IGNORE_MID_NO_DRAW, NO_REASON, SKIPPED, FAILED_EARLY, READ_ALL };

/* One sub-test on case T (its "FAIL" lines go to /dev/null); returns its failed flag, -1 if T did
 * not open. */
static int sub_test(bv_test_state *ts, int mode) {
    bv_ctx *ctx = ts->ctx;
    bv_test_state sub = {.name = "sub", .ctx = ctx};
    fflush(stderr);
    int saved = dup(2), nul = open("/dev/null", O_WRONLY);
    if (nul >= 0) dup2(nul, 2), close(nul);
    bv_golden *g = bv_golden_open(&sub, ctx, "T");
    if (g) {
        bv_tensor *x = bv_golden_input(g, "in.x");
        bv_golden_check(g, "out.y", bv_mul_scalar(ctx, x, 2.0f));
        if (mode == IGNORE_MID_DRAW || mode == IGNORE_MID_NO_DRAW) bv_golden_ignore(g, "mid.*", "not made here");
        if (mode == IGNORE_MID_DRAW || mode == IGNORE_MID_NO_DRAW || mode == READ_ALL) bv_golden_replay_noise(g);
        if (mode == IGNORE_MID_DRAW || mode == READ_ALL) bv_randn(ctx, BV_SHAPE(2));
        if (mode == READ_ALL) bv_golden_tensor(g, "mid.z");
        if (mode == NO_REASON) bv_golden_ignore(g, "*", "");
        if (mode == SKIPPED) bv_test_skip(&sub, "pretend the set lacks something");
        if (mode == FAILED_EARLY) sub.failed = 1;
        bv_golden_close(g);
    }
    fflush(stderr);
    if (saved >= 0) dup2(saved, 2), close(saved);
    bv_rng_set_replay(&ctx->rng, NULL, 0);
    return g ? sub.failed : -1;
}

BV_TEST(golden_harness_flags_untouched_tensors) {
    tiny_set s;
    if (tiny_open(&s)) {
        BV_CHECK(0, "cannot make the golden folder %s", s.dir);
        return;
    }
    BV_CHECK(sub_test(ts, ONLY_OUTPUT) == 1, "mid.z and the draw untouched, yet the test passed");
    BV_CHECK(sub_test(ts, IGNORE_MID_DRAW) == 0, "mid.* declared and the draw consumed, yet the test failed");
    BV_CHECK(sub_test(ts, IGNORE_MID_NO_DRAW) == 1, "a recorded draw nobody consumed passed");
    BV_CHECK(sub_test(ts, NO_REASON) == 1, "a declaration without a reason was accepted");
    BV_CHECK(sub_test(ts, SKIPPED) == 0, "a skipped test was judged on coverage");
    BV_CHECK(sub_test(ts, FAILED_EARLY) == 1, "failed flag lost");
    BV_CHECK(sub_test(ts, READ_ALL) == 0, "every tensor read, yet the test failed");
    tiny_close(&s);
}
