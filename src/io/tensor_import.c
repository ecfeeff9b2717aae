/* tensor_import.c - stored checkpoint tensors into float32 model tensors (see tensor_import.h). */
#include "tensor_import.h"

#include <stdio.h>
#include <string.h>

#include "../core/error.h"

float bv_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) bits = sign | 0x7f800000u | (man << 13);       /* inf / nan (payload kept) */
    else if (exp) bits = sign | ((exp + 112) << 23) | (man << 13);  /* normal: rebias 15 -> 127 */
    else if (!man) bits = sign;                                      /* +-0 */
    else {                                                           /* subnormal: normalise */
        int e = -1;
        do man <<= 1, e++; while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float bv_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t bv_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds past 65504 */
    if (ax < 0x38800000u) {                                  /* below the smallest normal: subnormal */
        if (ax < 0x33000000u) return (uint16_t)sign;         /* < half the smallest subnormal */
        uint32_t man = (ax & 0x7fffff) | 0x800000;
        int shift = 126 - (int)(ax >> 23);                   /* 14..24 */
        uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = ax + 0xfff + ((ax >> 13) & 1);               /* round to nearest even on bit 13 */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

int bv_import_is_float(bv_st_dtype dt) {
    return dt == BV_ST_F32 || dt == BV_ST_F64 || dt == BV_ST_F16 || dt == BV_ST_BF16;
}

int bv_import_f32(float *dst, const void *src, bv_st_dtype dt, int64_t n) {
    const unsigned char *p = src;
    switch (dt) {
    case BV_ST_F32: memcpy(dst, p, sizeof(float) * (size_t)n); return 0;
    case BV_ST_F64:
        for (int64_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
        return 0;
    case BV_ST_F16:
    case BV_ST_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = dt == BV_ST_F16 ? bv_f16_to_f32(h) : bv_bf16_to_f32(h);
        }
        return 0;
    default: return -1;
    }
}

int bv_dims_equal(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b) {
    if (ndim_a != ndim_b) return 0;
    for (int d = 0; d < ndim_a; d++)
        if (a[d] != b[d]) return 0;
    return 1;
}

char *bv_dims_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    if (!cap) return buf;
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && at < cap; d++)
        at += (size_t)snprintf(buf + at, cap - at, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
    return buf;
}

int bv_import_tensor(bv_tensor *dst, const bv_import_src *s, const char *file, const char *hint, char *err,
                     size_t errcap) {
    BV_ASSERT(dst->dtype == BV_F32 && dst->data);
    char got[160], want[160];
    const char *open = hint ? " (" : "", *close = hint ? ")" : "";
    if (!bv_dims_equal(s->ndim, s->shape, dst->ndim, dst->shape))
        return bv_err_set(err, errcap, "%s: '%s': got %s, expected %s%s%s%s", file, s->name,
                          bv_dims_str(got, sizeof got, s->ndim, s->shape),
                          bv_dims_str(want, sizeof want, dst->ndim, dst->shape), open, hint ? hint : "", close);
    if (bv_import_f32(dst->data, s->data, s->dtype, dst->numel))
        return bv_err_set(err, errcap, "%s: '%s': dtype %s is not a float type", file, s->name,
                          bv_st_dtype_name(s->dtype));
    return 0;
}
