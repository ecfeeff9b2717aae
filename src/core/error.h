/* error.h - the three tiers of errors (STYLE.md #11).
 *
 *  1. BV_ASSERT: programmer invariants; always on (not <assert.h>), aborts with file:line.
 *  2. bv_xmalloc / bv_xcalloc / bv_xfopen: checked wrappers that report file:line and exit.
 *  3. User-facing failures (bad shapes handed to an op, bad files) go through the context's
 *     error path (bv_ctx_error in ctx.h) so tests can catch them and the CLI exits cleanly.
 */
#ifndef BV_ERROR_H
#define BV_ERROR_H

#include <stddef.h>
#include <stdio.h>

#define BV_EXIT_USAGE 2   /* bad command line */
#define BV_EXIT_INPUT 3   /* bad user input: shapes, files, configs */
#define BV_EXIT_INTERNAL 70

_Noreturn void bv_fatal_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define BV_FATAL(...) bv_fatal_at(__FILE__, __LINE__, __VA_ARGS__)
#define BV_ASSERT(cond)                                                    \
    do {                                                                   \
        if (!(cond)) bv_fatal_at(__FILE__, __LINE__, "assertion failed: %s", #cond); \
    } while (0)

void *bv_xmalloc_at(size_t n, const char *file, int line);
void *bv_xcalloc_at(size_t n, size_t size, const char *file, int line);
void *bv_xrealloc_at(void *p, size_t n, const char *file, int line);
#define bv_xmalloc(n) bv_xmalloc_at((n), __FILE__, __LINE__)
#define bv_xcalloc(n, s) bv_xcalloc_at((n), (s), __FILE__, __LINE__)
#define bv_xrealloc(p, n) bv_xrealloc_at((p), (n), __FILE__, __LINE__)

/* The one formatter of error messages for the "return -1 with err filled" convention: fmt into
 * err (nothing when err is NULL or errcap 0, cut to errcap). Returns -1, so a check reads
 *   if (n < 0) return bv_err_set(err, errcap, "%s:%d: expected a count, got %d", path, line, n);  */
int bv_err_set(char *err, size_t errcap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Up to n bytes of s, as a message may quote them: printable ASCII kept, everything else (control
 * bytes, bytes of binary files, a terminal's escape sequences) written as \xNN, "..." when cut.
 * Returns buf. */
const char *bv_quote_bytes(const char *s, size_t n, char *buf, size_t cap);

#endif
