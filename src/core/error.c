/* error.c - fatal errors and checked allocation. */
#include "error.h"

#include <stdarg.h>
#include <stdlib.h>

void bv_fatal_at(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fatal: %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void *bv_xmalloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) bv_fatal_at(file, line, "out of memory allocating %zu bytes", n);
    return p;
}

void *bv_xcalloc_at(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) bv_fatal_at(file, line, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *bv_xrealloc_at(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) bv_fatal_at(file, line, "out of memory reallocating %zu bytes", n);
    return q;
}
