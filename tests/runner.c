/* runner.c - main() of build/bv2-tests: runs registered tests, prints "N passed, N failed".
 *
 *   bv2-tests [--golden DIR] [--unit-only | --golden-only] [substring ...]
 *   bv2-tests [--golden DIR] --mpi-worker NAME     (one rank of a multi-process test, test.h)
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/core/cleanup.h"
#include "test.h"

const char *bv_test_golden_dir = "../shared/golden";
int bv_test_verbose;
char bv_test_bv2_path[4096];

typedef struct {
    const char *name;
    bv_test_fn fn;
    int is_golden;
} test_entry;

static test_entry *g_tests;
static int g_ntests, g_cap;

void bv_test_register(const char *name, bv_test_fn fn, int is_golden) {
    if (g_ntests == g_cap) {
        g_cap = g_cap ? 2 * g_cap : 256;
        g_tests = realloc(g_tests, sizeof *g_tests * (size_t)g_cap);
        if (!g_tests) abort();
    }
    g_tests[g_ntests++] = (test_entry){name, fn, is_golden};
}

static int cmp_test(const void *a, const void *b) {
    return strcmp(((const test_entry *)a)->name, ((const test_entry *)b)->name);
}

/* One test in a fresh seeded context; an op error nobody expected fails the test with its message. */
static int run_one(const test_entry *t) {
    bv_ctx ctx;
    bv_ctx_init(&ctx, (size_t)16 << 20, 1234);
    bv_test_state ts = {.name = t->name, .ctx = &ctx};
    jmp_buf jb;
    ctx.err_jmp = &jb;
    if (setjmp(jb) == 0) {
        t->fn(&ts);
    } else {
        fprintf(stderr, "  FAIL %s: uncaught error: %s\n", t->name, ctx.err_msg);
        ts.failed = 1;
    }
    bv_ctx_free(&ctx);
    /* a test whose golden data is absent: what it could not check is not a failure of the code */
    if (ts.skipped) {
        printf("skip %s: %s%s\n", t->name, ts.skip_why, ts.failed ? " (its checks after that are void)" : "");
        return 2;
    }
    return ts.failed;
}

int main(int argc, char **argv) {
    /* bv2 is built into the same folder as this binary */
    const char *slash = strrchr(argv[0], '/');
    snprintf(bv_test_bv2_path, sizeof bv_test_bv2_path, "%.*s%sbv2", slash ? (int)(slash - argv[0]) : 1,
             slash ? argv[0] : ".", "/");
    int unit_only = 0, golden_only = 0, nfilt = 0;
    const char *filters[64], *worker = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--golden") && i + 1 < argc) bv_test_golden_dir = argv[++i];
        else if (!strcmp(argv[i], "--unit-only")) unit_only = 1;
        else if (!strcmp(argv[i], "-v")) bv_test_verbose = 1;
        else if (!strcmp(argv[i], "--golden-only")) golden_only = 1;
        else if (!strcmp(argv[i], "--mpi-worker") && i + 1 < argc) worker = argv[++i];
        else if (!strcmp(argv[i], "--list")) {
            qsort(g_tests, (size_t)g_ntests, sizeof *g_tests, cmp_test);
            for (int k = 0; k < g_ntests; k++)
                printf("%s%s\n", g_tests[k].name,
                       g_tests[k].is_golden == 2 ? " (mpi worker)" : g_tests[k].is_golden ? " (golden)" : "");
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--golden DIR] [--unit-only|--golden-only] [--list] [-v] [name-substring ...]\n",
                    argv[0]);
            return 2;
        } else if (nfilt < 64) filters[nfilt++] = argv[i];
    }
    qsort(g_tests, (size_t)g_ntests, sizeof *g_tests, cmp_test);
    if (worker) {
        for (int k = 0; k < g_ntests; k++)
            if (g_tests[k].is_golden == 2 && !strcmp(g_tests[k].name, worker)) return run_one(&g_tests[k]) ? 1 : 0;
        fprintf(stderr, "no MPI worker named '%s'\n", worker);
        return 2;
    }
    int passed = 0, failed = 0, skipped = 0;
    for (int k = 0; k < g_ntests; k++) {
        test_entry *t = &g_tests[k];
        if (t->is_golden == 2) continue; /* MPI workers run only through --mpi-worker */
        if ((unit_only && t->is_golden) || (golden_only && !t->is_golden)) continue;
        if (nfilt) {
            int hit = 0;
            for (int f = 0; f < nfilt; f++) hit |= strstr(t->name, filters[f]) != NULL;
            if (!hit) continue;
        }
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int bad = run_one(t);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (bad != 2) printf("%s %s (%.0f ms)\n", bad ? "FAIL" : "ok  ", t->name, ms);
        fflush(stdout);
        if (bad == 2) skipped++;
        else if (bad) failed++;
        else passed++;
    }
    if (skipped) printf("%d passed, %d failed, %d skipped (golden data absent)\n", passed, failed, skipped);
    else printf("%d passed, %d failed\n", passed, failed);
    bv_cleanup_run();
    return failed ? 1 : 0;
}
