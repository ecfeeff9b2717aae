/* safetensors_write.c - write a .safetensors file (see the header): a JSON header built by hand (names
 * escaped, offsets as exact integers), then the raw tensors; written to a temporary name, fsynced and
 * renamed so the real name only ever holds a complete file. */
#include "safetensors_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/error.h"
#include "fs.h"

size_t bv_st_dtype_size(bv_st_dtype d) {
    switch (d) {
    case BV_ST_F32:
    case BV_ST_I32: return 4;
    case BV_ST_F64:
    case BV_ST_I64: return 8;
    case BV_ST_F16:
    case BV_ST_BF16: return 2;
    default: return 0;
    }
}

/* ---------------- a growable text buffer for the header ---------------- */

typedef struct {
    char *s;
    size_t len, cap;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = bv_xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal: quotes, backslashes and control characters escaped; UTF-8 passes through. */
static void sb_json_str(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            sb_put(b, e, 2);
        } else if (*p < 0x20) {
            sb_printf(b, "\\u%04x", *p);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* ---------------- validation and header ---------------- */

static int check_entries(const char *path, const bv_st_write_entry *e, int n, char *err, size_t errcap) {
    for (int i = 0; i < n; i++) {
        if (!e[i].name || !e[i].name[0]) return snprintf(err, errcap, "%s: tensor %d has no name", path, i), -1;
        if (!strcmp(e[i].name, "__metadata__"))
            return snprintf(err, errcap, "%s: '__metadata__' is reserved, not a tensor name", path), -1;
        if (!bv_st_dtype_size(e[i].dtype))
            return snprintf(err, errcap, "%s: tensor '%s': dtype %s cannot be written", path, e[i].name,
                            bv_st_dtype_name(e[i].dtype)), -1;
        if (e[i].ndim < 0 || e[i].ndim > 8)
            return snprintf(err, errcap, "%s: tensor '%s': %d dimensions (at most 8)", path, e[i].name, e[i].ndim), -1;
        for (int d = 0; d < e[i].ndim; d++)
            if (e[i].shape[d] < 0)
                return snprintf(err, errcap, "%s: tensor '%s': negative size in dimension %d", path, e[i].name, d), -1;
        for (int j = 0; j < i; j++)
            if (!strcmp(e[i].name, e[j].name))
                return snprintf(err, errcap, "%s: tensor name '%s' appears twice", path, e[i].name), -1;
    }
    return 0;
}

static size_t entry_bytes(const bv_st_write_entry *e) {
    size_t n = bv_st_dtype_size(e->dtype);
    for (int d = 0; d < e->ndim; d++) n *= (size_t)e->shape[d];
    return n;
}

static void build_header(strbuf *b, const bv_st_write_entry *e, int n, const char *const *meta, int n_meta) {
    sb_put(b, "{", 1);
    int first = 1;
    if (n_meta > 0) {
        sb_json_str(b, "__metadata__");
        sb_put(b, ":{", 2);
        for (int i = 0; i < n_meta; i++) {
            if (i) sb_put(b, ",", 1);
            sb_json_str(b, meta[2 * i]);
            sb_put(b, ":", 1);
            sb_json_str(b, meta[2 * i + 1]);
        }
        sb_put(b, "}", 1);
        first = 0;
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (!first) sb_put(b, ",", 1);
        first = 0;
        sb_json_str(b, e[i].name);
        sb_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", bv_st_dtype_name(e[i].dtype));
        for (int d = 0; d < e[i].ndim; d++) sb_printf(b, "%s%lld", d ? "," : "", (long long)e[i].shape[d]);
        size_t nb = entry_bytes(&e[i]);
        sb_printf(b, "],\"data_offsets\":[%zu,%zu]}", off, off + nb);
        off += nb;
    }
    sb_put(b, "}", 1);
    while ((8 + b->len) % 8) sb_put(b, " ", 1); /* spaces: still valid JSON */
}

/* ---------------- writing ---------------- */


int bv_st_write(const char *path, const bv_st_write_entry *entries, int n, const char *const *meta, int n_meta,
                char *err, size_t errcap) {
    if (check_entries(path, entries, n, err, errcap)) return -1;
    bv_out_file o;
    if (bv_out_begin(&o, path, err, errcap)) return -1;
    const char *tmp = o.tmp;
    strbuf hdr = {0};
    build_header(&hdr, entries, n, meta, n_meta);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot create: %s", tmp, strerror(errno));
        free(hdr.s);
        bv_out_abort(&o);
        return -1;
    }
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)(((uint64_t)hdr.len >> (8 * i)) & 0xff);
    int ok = fwrite(lenb, 1, 8, f) == 8 && fwrite(hdr.s, 1, hdr.len, f) == hdr.len;
    for (int i = 0; ok && i < n; i++) {
        size_t nb = entry_bytes(&entries[i]);
        ok = nb == 0 || fwrite(entries[i].data, 1, nb, f) == nb;
    }
    free(hdr.s);
    int saved = errno;
    ok = ok && fflush(f) == 0;
    if (!ok) saved = errno;
    if (fclose(f) != 0 && ok) ok = 0, saved = errno;
    if (!ok) {
        snprintf(err, errcap, "%s: write failed: %s", tmp, strerror(saved));
        bv_out_abort(&o);
        return -1;
    }
    return bv_out_commit(&o, err, errcap);
}
