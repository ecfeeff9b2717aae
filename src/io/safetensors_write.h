/* safetensors_write.h - writer for the safetensors format (the reader is safetensors.h).
 *
 * Layout written: u64 little-endian header length N, N bytes of JSON
 *   {"__metadata__": {key: value, ...}, name: {"dtype", "shape", "data_offsets": [begin, end)}, ...}
 * padded with spaces so that 8 + N is a multiple of 8 (as HuggingFace's writer does), then the tensors
 * back to back in the order given, with no gaps (the format forbids holes in the data section).
 * Metadata values are strings, as the format requires.
 *
 * The file is written to "<path>.tmp", flushed to disk and renamed over path, so a crash or a full
 * disk never leaves a half-written file under the real name.
 *
 *   bv_st_write_entry e[] = {{"emb_g.weight", BV_ST_F32, 2, {3, 16}, data}};
 *   const char *meta[] = {"format", "pt"};                 // key, value pairs
 *   if (bv_st_write("G.safetensors", e, 1, meta, 1, err, sizeof err)) fprintf(stderr, "error: %s\n", err);
 */
#ifndef BV_SAFETENSORS_WRITE_H
#define BV_SAFETENSORS_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "safetensors.h"

typedef struct bv_st_write_entry {
    const char *name;
    bv_st_dtype dtype;         /* F32, F64, I64, I32, F16 or BF16 */
    int ndim;
    int64_t shape[8];
    const void *data;          /* numel * element size bytes, little-endian, row-major */
} bv_st_write_entry;

/* Bytes per element of a writable dtype, 0 for BV_ST_OTHER. */
size_t bv_st_dtype_size(bv_st_dtype d);

/* Writes n tensors and n_meta (key, value) string pairs (meta[2i], meta[2i+1]; may be NULL when
 * n_meta is 0). Names must be unique and non-empty. Returns 0, or -1 with err naming the file. */
int bv_st_write(const char *path, const bv_st_write_entry *entries, int n, const char *const *meta, int n_meta,
                char *err, size_t errcap);

#endif
