/* error.c - fatal errors and checked allocation. */
#include "error.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void bv_fatal_at(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fatal: %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

int bv_err_set(char *err, size_t errcap, const char *fmt, ...) {
    if (!err || !errcap) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
    return -1;
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

const char *bv_quote_bytes(const char *s, size_t n, char *buf, size_t cap) {
    size_t o = 0;
    if (!cap) return buf;
    for (size_t i = 0; i < n && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        char piece[8];
        int k = c >= 0x20 && c < 0x7f ? snprintf(piece, sizeof piece, "%c", c) : snprintf(piece, sizeof piece, "\\x%02x", c);
        if (o + (size_t)k + 4 > cap) {
            if (o + 4 <= cap) memcpy(buf + o, "...", 3), o += 3;
            break;
        }
        memcpy(buf + o, piece, (size_t)k);
        o += (size_t)k;
    }
    buf[o < cap ? o : cap - 1] = 0;
    return buf;
}
