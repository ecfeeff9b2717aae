/* safetensors.c - read a .safetensors file: validate the header against the file size so a
 * truncated or corrupt file is an error, never an out-of-bounds read. */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

static bv_st_dtype parse_dtype(const char *s, size_t *elsize) {
    static const struct { const char *name; bv_st_dtype dt; size_t size; } tab[] = {
        {"F32", BV_ST_F32, 4}, {"F64", BV_ST_F64, 8}, {"I64", BV_ST_I64, 8},
        {"I32", BV_ST_I32, 4}, {"F16", BV_ST_F16, 2}, {"BF16", BV_ST_BF16, 2},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(s, tab[i].name) == 0) {
            *elsize = tab[i].size;
            return tab[i].dt;
        }
    *elsize = 0;
    return BV_ST_OTHER;
}

const char *bv_st_dtype_name(bv_st_dtype d) {
    static const char *names[] = {"F32", "F64", "I64", "I32", "F16", "BF16", "other"};
    return names[d];
}

#define FAIL(...)                                 \
    do {                                          \
        snprintf(err, errcap, __VA_ARGS__);       \
        goto fail;                                \
    } while (0)

int bv_st_open(bv_safetensors *st, const char *path, char *err, size_t errcap) {
    memset(st, 0, sizeof *st);
    cJSON *root = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) FAIL("%s: cannot open", path);
    if (fseek(f, 0, SEEK_END) != 0) FAIL("%s: cannot seek", path);
    long sz = ftell(f);
    if (sz < 8) FAIL("%s: too short for a safetensors file (%ld bytes)", path, sz);
    rewind(f);
    unsigned char lenb[8];
    if (fread(lenb, 1, 8, f) != 8) FAIL("%s: cannot read: %s", path, strerror(errno));
    rewind(f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | lenb[i];
    if (hlen > (uint64_t)sz - 8) FAIL("%s: header length %llu exceeds file size", path, (unsigned long long)hlen);
    /* Place the file so that its data section starts 64-byte aligned, whatever the header length. */
    size_t lead = (64 - (size_t)((8 + hlen) % 64)) % 64;
    st->size = (size_t)sz;
    st->base = aligned_alloc(64, (lead + st->size + 63) / 64 * 64);
    if (!st->base) FAIL("%s: out of memory (%zu bytes)", path, st->size);
    st->buf = st->base + lead;
    if (fread(st->buf, 1, st->size, f) != st->size) FAIL("%s: cannot read: %s", path, strerror(errno));
    fclose(f);
    f = NULL;

    root = cJSON_ParseWithLength((const char *)st->buf + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) FAIL("%s: header is not a JSON object", path);
    const unsigned char *data = st->buf + 8 + hlen;
    size_t data_size = st->size - 8 - hlen;

    int n = 0;
    for (cJSON *e = root->child; e; e = e->next) n += strcmp(e->string, "__metadata__") != 0;
    st->entries = bv_xcalloc((size_t)(n ? n : 1), sizeof(bv_st_entry));
    for (cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        bv_st_entry *en = &st->entries[st->n++];
        en->name = strdup(e->string);
        cJSON *dt = cJSON_GetObjectItem(e, "dtype"), *sh = cJSON_GetObjectItem(e, "shape"),
              *off = cJSON_GetObjectItem(e, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || cJSON_GetArraySize(off) != 2)
            FAIL("%s: tensor '%s': malformed header entry", path, e->string);
        size_t elsize;
        en->dtype = parse_dtype(dt->valuestring, &elsize);
        en->ndim = cJSON_GetArraySize(sh);
        if (en->ndim > 8) FAIL("%s: tensor '%s': %d dims", path, e->string, en->ndim);
        en->numel = 1;
        for (int i = 0; i < en->ndim; i++) {
            const cJSON *d = cJSON_GetArrayItem(sh, i);
            double v = d->valuedouble;
            /* a dim must be a whole number a file can hold; the product is checked before it wraps */
            if (!cJSON_IsNumber(d) || !(v >= 0 && v <= 9007199254740992.0) || v != (double)(int64_t)v)
                FAIL("%s: tensor '%s': shape[%d] is not a whole number in [0, 2^53]", path, e->string, i);
            en->shape[i] = (int64_t)v;
            if (en->shape[i] && en->numel > INT64_MAX / en->shape[i])
                FAIL("%s: tensor '%s': shape overflows 64-bit element counts", path, e->string);
            en->numel *= en->shape[i];
        }
        double b = cJSON_GetArrayItem(off, 0)->valuedouble, end = cJSON_GetArrayItem(off, 1)->valuedouble;
        if (b < 0 || end < b || end > (double)data_size)
            FAIL("%s: tensor '%s': data offsets [%.0f, %.0f) outside the %zu data bytes", path, e->string, b, end,
                 data_size);
        en->nbytes = (size_t)(end - b);
        if (elsize && en->nbytes != (size_t)en->numel * elsize)
            FAIL("%s: tensor '%s': %zu bytes for %lld elements of %s", path, e->string, en->nbytes,
                 (long long)en->numel, dt->valuestring);
        en->data = data + (size_t)b;
    }
    cJSON_Delete(root);
    return 0;
fail:
    if (f) fclose(f);
    cJSON_Delete(root);
    bv_st_close(st);
    return -1;
}

void bv_st_close(bv_safetensors *st) {
    for (int i = 0; i < st->n; i++) free(st->entries[i].name);
    free(st->entries);
    free(st->base);
    memset(st, 0, sizeof *st);
}

const bv_st_entry *bv_st_find(const bv_safetensors *st, const char *name) {
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->entries[i].name, name) == 0) return &st->entries[i];
    return NULL;
}
