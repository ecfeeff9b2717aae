/* skip.c - the runner's skip reasons (test.h: bv_test_skip, bv_golden_need), apart from runner.c's
 * main() so that other programs linking golden.c (fuzz/fuzz_golden.c) have them too. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "test.h"

void bv_test_skip(bv_test_state *ts, const char *fmt, ...) {
    if (ts->skipped) return;
    ts->skipped = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ts->skip_why, sizeof ts->skip_why, fmt, ap);
    va_end(ap);
}

int bv_golden_need(bv_test_state *ts, ...) {
    va_list ap;
    va_start(ap, ts);
    int ok = 1;
    for (const char *rel; ok && (rel = va_arg(ap, const char *));) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", bv_test_golden_dir, rel);
        if (access(path, F_OK) != 0) {
            bv_test_skip(ts, "this golden set has no %s", rel);
            ok = 0;
        }
    }
    va_end(ap);
    return ok;
}
