/* safetensors.h - reader for the safetensors format (HuggingFace; the golden files use it).
 *
 * Layout: u64 little-endian header length N, N bytes of JSON
 * {name: {"dtype", "shape", "data_offsets": [begin, end)}, "__metadata__": {...}}, then the data.
 * The whole file is read into memory once; entries point into it.
 */
#ifndef BV_SAFETENSORS_H
#define BV_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { BV_ST_F32, BV_ST_F64, BV_ST_I64, BV_ST_I32, BV_ST_F16, BV_ST_BF16, BV_ST_OTHER } bv_st_dtype;

typedef struct bv_st_entry {
    char *name;
    bv_st_dtype dtype;
    int ndim;
    int64_t shape[8];
    int64_t numel;
    const void *data;        /* into the file buffer. The data section starts 64-byte aligned, but a
                              * tensor is only as aligned as its offset: F64/I64 tensors packed after
                              * an odd number of F32 values are not 8-byte aligned - read them with
                              * memcpy. */
    size_t nbytes;
} bv_st_entry;

typedef struct bv_safetensors {
    unsigned char *base;     /* allocation */
    unsigned char *buf;      /* the file's bytes, inside base */
    size_t size;
    bv_st_entry *entries;
    int n;
} bv_safetensors;

/* Returns 0 on success; on failure fills err (file name and reason) and returns -1. */
int bv_st_open(bv_safetensors *st, const char *path, char *err, size_t errcap);
void bv_st_close(bv_safetensors *st);
const bv_st_entry *bv_st_find(const bv_safetensors *st, const char *name);
const char *bv_st_dtype_name(bv_st_dtype d);

#endif
