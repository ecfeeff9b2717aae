/* test.h - the test framework: self-registering tests, one runner binary.
 *
 *   BV_TEST(conv1d_gradcheck) { ... BV_CHECK(cond, "fmt", ...); ... }
 *
 * Every tests/ *.c file is linked into build/bv2-tests. Tests register themselves (constructor
 * attribute); the runner runs them in name order (or those matching its filter argument), catches
 * op errors via the context's jmp_buf, and ends with "N passed, N failed" and a non-zero exit code
 * on any failure. Golden tests (tests/golden.h) read the golden folder given by --golden DIR.
 */
#ifndef BV_TEST_H
#define BV_TEST_H

#include <math.h>
#include <stdio.h>

#include "../src/core/ctx.h"
#include "../src/core/params.h"

typedef struct bv_test_state {
    int failed;              /* set by BV_CHECK failures */
    int skipped;             /* set by bv_test_skip: the golden set lacks what the test needs */
    char skip_why[512];
    const char *name;
    bv_ctx *ctx;             /* a fresh context per test (seeded, errors caught by the runner) */
} bv_test_state;

typedef void (*bv_test_fn)(bv_test_state *ts);
void bv_test_register(const char *name, bv_test_fn fn, int is_golden);

/* Golden folder chosen on the command line (default ../shared/golden). */
extern const char *bv_test_golden_dir;
/* Path of the bv2 executable built beside the test binary (for command-line tests). */
extern char bv_test_bv2_path[4096];
/* -v: golden comparisons that pass print their worst error against the allowed one too. */
extern int bv_test_verbose;

#define BV_TEST_IMPL(name, golden)                                                      \
    static void bv_test_##name(bv_test_state *ts);                                      \
    __attribute__((constructor)) static void bv_test_reg_##name(void) {                  \
        bv_test_register(#name, bv_test_##name, golden);                                \
    }                                                                                   \
    static void bv_test_##name(bv_test_state *ts)

/* A unit test (no golden data needed). */
#define BV_TEST(name) BV_TEST_IMPL(name, 0)
/* A test that reads the golden folder; skipped by `--unit-only`. */
#define BV_GOLDEN_TEST(name) BV_TEST_IMPL(name, 1)

#define BV_CHECK(cond, ...)                                                             \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
            ts->failed = 1;                                                             \
        }                                                                               \
    } while (0)

/* The test cannot run here (a golden set without the case or file it reads): reported by the runner
 * as "skip <name>: <why>", counted apart from passes and failures. The first reason is kept. */
void bv_test_skip(bv_test_state *ts, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 if every path (relative to the golden folder, NULL-terminated list) exists; else a skip naming
 * the first missing one, and 0. Golden sets made with other seeds or dimensions may lack files. */
int bv_golden_need(bv_test_state *ts, ...);

/* ---- helpers shared by op tests ---- */

/* Fill with N(0,1)*scale from ctx's rng. */
void bv_test_randn(bv_ctx *ctx, bv_tensor *t, float scale);
/* Input tensor (requires_grad) filled with N(0,1)*scale. */
bv_tensor *bv_test_input(bv_ctx *ctx, int ndim, const int64_t *shape, float scale);

/* Finite-difference gradient check (uses ts->ctx).
 * f builds the graph from `inputs` and returns the output tensor; the check forms
 * L = sum(out * r) for a fixed random r, runs bv_backward, and compares every input's grad
 * (up to max_elems elements per input, chosen at random) against central differences computed
 * in double precision of the f32 forward with step eps. Passes when
 * |analytic - numeric| <= atol + rtol * |numeric| elementwise. Elements where the forward
 * changes non-smoothly (a kink between x-eps and x+eps, detected by comparing the one-sided
 * differences) are skipped and counted. Returns 1 on pass; prints the worst element on failure. */
typedef bv_tensor *(*bv_gradcheck_fn)(bv_ctx *ctx, bv_tensor **inputs, void *user);
int bv_gradcheck(bv_test_state *ts, const char *what, bv_gradcheck_fn f, int n_inputs, bv_tensor **inputs,
                 void *user, double eps, double atol, double rtol, int max_elems);

/* Run `body` expecting an op error; returns 1 (and fills msg) if one was raised. */
#define BV_EXPECT_ERROR(ctx, msgbuf, body)                                              \
    ({                                                                                  \
        jmp_buf bv_jb_;                                                                 \
        jmp_buf *bv_prev_ = (ctx)->err_jmp;                                             \
        int bv_ng_ = (ctx)->no_grad_depth; /* an error inside a no_grad scope skips its end */ \
        volatile int bv_raised_ = 0;                                                           \
        (ctx)->err_jmp = &bv_jb_;                                                       \
        if (setjmp(bv_jb_) == 0) {                                                      \
            body;                                                                       \
        } else {                                                                        \
            bv_raised_ = 1;                                                             \
            snprintf((msgbuf), sizeof(msgbuf), "%s", (ctx)->err_msg);                   \
            (ctx)->no_grad_depth = bv_ng_;                                              \
        }                                                                               \
        (ctx)->err_jmp = bv_prev_;                                                      \
        bv_raised_;                                                                     \
    })

#endif
