/* cli_opts.c - the option scaffolding the hand-written command-line parsers share (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

const char *bv_cli_opt_value(int argc, char **argv, int *i, const char *const *names, int *missing) {
    const char *a = argv[*i];
    for (int k = 0; names[k]; k++) {
        size_t n = strlen(names[k]);
        if (!strncmp(a, names[k], n) && a[n] == '=') return a + n + 1;
        if (strcmp(a, names[k])) continue;
        if (*i + 1 >= argc) {
            *missing = 1;
            return NULL;
        }
        return argv[++*i];
    }
    return NULL;
}

int bv_cli_parse_int(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int bv_cli_progress_mode(const char *v) {
    static const char *const modes[] = {"auto", "bar", "plain", "none"};
    for (int k = 0; k < 4; k++)
        if (!strcmp(v, modes[k])) return k;
    return -1;
}

int bv_cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see bv2 %s --help)\n", cmd);
    va_end(ap);
    return BV_EXIT_USAGE;
}
