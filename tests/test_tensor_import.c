/* test_tensor_import.c - src/io/tensor_import.c: the float16 / bfloat16 decoders against their
 * definitions, the float32 -> float16 rounding, and bv_import_tensor's checks and messages. */
#include <math.h>
#include <string.h>

#include "../src/io/tensor_import.h"
#include "test.h"

/* binary16 by its definition: (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024. */
static double f16_reference(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

BV_TEST(tensor_import_f16_every_value) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float got = bv_f16_to_f32((uint16_t)h);
        double want = f16_reference((uint16_t)h);
        int ok = isnan(want) ? isnan(got) : (double)got == want && !signbit(got) == !signbit(want);
        if (!ok && bad++ < 5) BV_CHECK(ok, "half 0x%04x: got %.9g, want %.9g", h, got, want);
        /* every half that is not NaN comes back from float32 unchanged */
        if (!isnan(want) && bv_f32_to_f16(got) != h && bad++ < 5)
            BV_CHECK(0, "half 0x%04x -> %.9g -> 0x%04x", h, got, bv_f32_to_f16(got));
    }
    BV_CHECK(bad == 0, "%d halves wrong", bad);
    BV_CHECK(bv_f16_to_f32(0x3c00) == 1.0f && bv_f16_to_f32(0xc000) == -2.0f && bv_f16_to_f32(0x7bff) == 65504.0f,
             "1, -2, 65504");
    BV_CHECK(bv_f16_to_f32(0x0001) == ldexpf(1, -24) && isinf(bv_f16_to_f32(0x7c00)) && isnan(bv_f16_to_f32(0x7e00)),
             "smallest subnormal, inf, nan");
}

BV_TEST(tensor_import_f32_to_f16_rounding) {
    /* ties go to even; past 65504 + half an ulp is inf; below half the smallest subnormal is 0 */
    BV_CHECK(bv_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00, "1 + half ulp: tie to even (down)");
    BV_CHECK(bv_f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02, "1 + 1.5 ulp: tie to even (up)");
    BV_CHECK(bv_f32_to_f16(65519.0f) == 0x7bff && bv_f32_to_f16(65520.0f) == 0x7c00, "overflow boundary");
    BV_CHECK(bv_f32_to_f16(ldexpf(1, -25)) == 0x0000 && bv_f32_to_f16(ldexpf(1.5f, -25)) == 0x0001,
             "subnormal rounding");
    BV_CHECK(bv_f32_to_f16(-0.0f) == 0x8000 && (bv_f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (bv_f32_to_f16(NAN) & 0x3ff),
             "-0, nan");
}

BV_TEST(tensor_import_bf16_and_f64) {
    float one = bv_bf16_to_f32(0x3f80), neg = bv_bf16_to_f32(0xc049);
    BV_CHECK(one == 1.0f && neg == -3.140625f, "bf16: %g %g", one, neg);
    /* unaligned sources of every float dtype */
    unsigned char buf[1 + 3 * 8];
    double d[3] = {0.5, -1e-3, 3e38};
    memcpy(buf + 1, d, sizeof d);
    float out[3];
    BV_CHECK(bv_import_f32(out, buf + 1, BV_ST_F64, 3) == 0 && out[0] == 0.5f && out[1] == (float)-1e-3 &&
                 out[2] == (float)3e38, "f64");
    uint16_t h[3] = {0x3c00, 0xc000, 0x3555};
    memcpy(buf + 1, h, sizeof h);
    BV_CHECK(bv_import_f32(out, buf + 1, BV_ST_F16, 3) == 0 && out[0] == 1 && out[1] == -2 &&
                 out[2] == bv_f16_to_f32(0x3555), "f16");
    out[0] = 7;
    BV_CHECK(bv_import_f32(out, buf + 1, BV_ST_I64, 1) == -1 && out[0] == 7, "i64 refused, dst untouched");
    BV_CHECK(bv_import_is_float(BV_ST_BF16) && !bv_import_is_float(BV_ST_I32) && !bv_import_is_float(BV_ST_OTHER),
             "is_float");
}

BV_TEST(tensor_import_tensor_checks) {
    float data[6] = {0}, want[6] = {1, 2, 3, 4, 5, 6};
    bv_tensor p = {.dtype = BV_F32, .ndim = 2, .shape = {2, 3}, .numel = 6, .data = data, .name = "enc_p.w"};
    char err[256];
    int64_t good[2] = {2, 3}, bad[2] = {3, 2};
    bv_import_src s = {.name = "enc_p.w", .dtype = BV_ST_F32, .ndim = 2, .shape = good, .data = want};
    BV_CHECK(bv_import_tensor(&p, &s, "G_1.pth", NULL, err, sizeof err) == 0 && !memcmp(data, want, sizeof want),
             "f32 import: %s", err);
    memset(data, 0, sizeof data);
    s.shape = bad;
    BV_CHECK(bv_import_tensor(&p, &s, "G_1.pth", "a hint", err, sizeof err) == -1 && data[0] == 0,
             "wrong shape accepted");
    BV_CHECK(!strcmp(err, "G_1.pth: 'enc_p.w': got [3, 2], expected [2, 3] (a hint)"), "message: %s", err);
    s.shape = good;
    s.ndim = 1;
    BV_CHECK(bv_import_tensor(&p, &s, "x.safetensors", NULL, err, sizeof err) == -1 && strstr(err, "got [2], expected"),
             "rank: %s", err);
    s.ndim = 2;
    s.dtype = BV_ST_I64;
    BV_CHECK(bv_import_tensor(&p, &s, "x.safetensors", NULL, err, sizeof err) == -1 && strstr(err, "x.safetensors") &&
                 strstr(err, "'enc_p.w'") && strstr(err, "not a float type"), "dtype: %s", err);
    BV_CHECK(bv_import_tensor(&p, &s, "x.safetensors", NULL, NULL, 0) == -1, "NULL err");
    char dims[8];
    BV_CHECK(!strcmp(bv_dims_str(dims, sizeof dims, 2, (int64_t[]){12345, 6}), "[12345,"), "cut: '%s'", dims);
    BV_CHECK(bv_dims_equal(0, NULL, 0, NULL) && !bv_dims_equal(1, good, 1, bad), "dims_equal");
}
