/* tensor_import.h - a stored checkpoint tensor (.pth state dict entry, safetensors entry) into a
 * float32 model tensor: the project's one place that decodes stored float types (float32, float64,
 * float16, bfloat16) and checks a stored shape against the parameter's (STYLE.md #6).
 *
 * Callers find the stored tensor by name (each file format has its own lookup), describe it as a
 * bv_import_src and hand it over with the destination parameter:
 *
 *   bv_import_src s = {.name = e->name, .dtype = e->dtype, .ndim = e->ndim, .shape = e->shape, .data = e->data};
 *   if (bv_import_tensor(p, &s, path, NULL, err, sizeof err)) ...
 *       // "G_100.pth: 'dec.ups.0.weight_v': got [256, 512, 16], expected [512, 256, 16]"
 *       // "G_100.pth: 'emb_g.weight': dtype int64 is not a float type"
 *
 * Stored data is little-endian row-major and may be unaligned (safetensors packs tensors back to
 * back); it is read with memcpy. Integer dtypes are refused, never converted.
 */
#ifndef BV_IO_TENSOR_IMPORT_H
#define BV_IO_TENSOR_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "../core/tensor.h"
#include "safetensors.h"

/* One tensor as a file stores it (borrowed pointers). */
typedef struct bv_import_src {
    const char *name;        /* its key in the file, for messages */
    bv_st_dtype dtype;
    int ndim;
    const int64_t *shape;
    const void *data;        /* numel(shape) values of dtype, any alignment */
} bv_import_src;

/* IEEE binary16 -> float32 (exact: every half is a float). */
float bv_f16_to_f32(uint16_t h);
/* bfloat16 (the top 16 bits of a float32) -> float32 (exact). */
float bv_bf16_to_f32(uint16_t h);
/* float32 -> binary16, round to nearest even as torch's .half() (overflow -> inf, NaN kept). */
uint16_t bv_f32_to_f16(float f);

/* 1 for F32, F64, F16 and BF16. */
int bv_import_is_float(bv_st_dtype dt);
/* n values of dtype dt at src -> float32 dst. 0, or -1 (dst untouched) for a dtype that is not a
 * float type. */
int bv_import_f32(float *dst, const void *src, bv_st_dtype dt, int64_t n);

/* 1 when the two shapes are the same (rank and every size). */
int bv_dims_equal(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b);
/* "[2, 3, 4]" into buf (cut to cap); returns buf. */
char *bv_dims_str(char *buf, size_t cap, int ndim, const int64_t *shape);

/* s converted into dst's float32 data after checking that the shapes agree and the dtype is a
 * float type. 0, or -1 with dst untouched and err (may be NULL) naming the file, the key and both
 * shapes (then " (hint)" when hint is not NULL), or the dtype. */
int bv_import_tensor(bv_tensor *dst, const bv_import_src *s, const char *file, const char *hint, char *err,
                     size_t errcap);

#endif
