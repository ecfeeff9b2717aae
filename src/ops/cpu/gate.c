/* cpu/gate.c - CPU kernels of the fused WaveNet gate commons.fused_add_tanh_sigmoid_multiply,
 * forward and gradient (constructor: ../gate.c). The gradient recomputes the activations from a
 * and b (nothing is stored by the forward) and ACCUMULATES into the input grads. */
#include <math.h>

#include "../kernels.h"
#include "vmath.h"

/* b's rows at (b, c) and (b, n + c) as (pointer, stride) pairs: stride 1 (per time), 0 (broadcast over
 * time: Tb == 1), or a zero for no b, so the time loops below have no branch and vectorise (the
 * libmvec tanhf / expf of vmath.h). x + 0.0f is x, except that -0 becomes +0: tanh and sigmoid of
 * either zero give the same values up to that sign. */
static const float zero_b = 0.0f;
static inline const float *b_row(const float *bb, int64_t row, int64_t Tb, int64_t *stride) {
    *stride = bb && Tb != 1 ? 1 : 0;
    return bb ? bb + row * Tb : &zero_b;
}

static inline void gate_fwd_row(float *restrict o, const float *restrict at, const float *restrict as,
                                const float *restrict bt, const float *restrict bs, int64_t T, int64_t sb) {
    if (sb) {
#pragma omp simd
        for (int64_t t = 0; t < T; t++) o[t] = tanhf(at[t] + bt[t]) * (1.0f / (1.0f + expf(-(as[t] + bs[t]))));
    } else {
        const float b0 = bt[0], b1 = bs[0];
#pragma omp simd
        for (int64_t t = 0; t < T; t++) o[t] = tanhf(at[t] + b0) * (1.0f / (1.0f + expf(-(as[t] + b1))));
    }
}

/* out[b, c, t] = tanh(a[b, c, t] + bb[b, c, t']) * sigmoid(a[b, n + c, t] + bb[b, n + c, t'])
 * where t' = t, or 0 when b is broadcast over time (Tb == 1); bb == NULL means zeros. */
static void gate_fwd(float *out, const float *a, const float *bb, int64_t B, int64_t n, int64_t T,
                            int64_t Tb) {
#pragma omp parallel for collapse(2) if (B * n * T > 32768)
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < n; c++) {
            int64_t sb;
            const float *bt = b_row(bb, b * 2 * n + c, Tb, &sb), *bs = b_row(bb, b * 2 * n + n + c, Tb, &sb);
            gate_fwd_row(out + (b * n + c) * T, a + (b * 2 * n + c) * T, a + (b * 2 * n + n + c) * T, bt, bs, T, sb);
        }
}

/* one row of gate_din: dt, ds from g and the pre-activations it = at + bt, is = as + bs */
#define GATE_DIN_BODY(IT, IS)                                   \
    const float th = tanhf(IT), s = 1.0f / (1.0f + expf(-(IS))); \
    dt[t] = g[t] * s * (1.0f - th * th);                        \
    ds[t] = g[t] * th * s * (1.0f - s);
static inline void gate_din_row(float *restrict dt, float *restrict ds, const float *restrict g,
                                const float *restrict at, const float *restrict as, const float *restrict bt,
                                const float *restrict bs, int64_t T, int64_t sb) {
    if (sb) {
#pragma omp simd
        for (int64_t t = 0; t < T; t++) {
            GATE_DIN_BODY(at[t] + bt[t], as[t] + bs[t])
        }
    } else {
        const float b0 = bt[0], b1 = bs[0];
#pragma omp simd
        for (int64_t t = 0; t < T; t++) {
            GATE_DIN_BODY(at[t] + b0, as[t] + b1)
        }
    }
}
#undef GATE_DIN_BODY

/* d in_t = go * s * (1 - th^2), d in_s = go * th * s * (1 - s); written into din [B, 2n, T]. */
static void gate_din(float *din, const float *go, const float *a, const float *bb, int64_t B, int64_t n,
                            int64_t T, int64_t Tb) {
#pragma omp parallel for collapse(2) if (B * n * T > 32768)
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < n; c++) {
            int64_t sb;
            const float *bt = b_row(bb, b * 2 * n + c, Tb, &sb), *bs = b_row(bb, b * 2 * n + n + c, Tb, &sb);
            gate_din_row(din + (b * 2 * n + c) * T, din + (b * 2 * n + n + c) * T, go + (b * n + c) * T,
                         a + (b * 2 * n + c) * T, a + (b * 2 * n + n + c) * T, bt, bs, T, sb);
        }
}

/* ga += din; gb += din summed over time when b is broadcast (Tb == 1), else gb += din. */
static void gate_grad(float *ga, float *gb, float *din, const float *go, const float *a, const float *bb, int64_t B,
                      int64_t n, int64_t T, int64_t Tb) {
    gate_din(din, go, a, bb, B, n, T, Tb);
    if (ga)
        for (int64_t i = 0; i < B * 2 * n * T; i++) ga[i] += din[i];
    if (gb) {
        for (int64_t r = 0; r < B * 2 * n; r++) {
            const float *d = din + r * T;
            if (Tb == 1) {
                double acc = 0;
                for (int64_t t = 0; t < T; t++) acc += d[t];
                gb[r] += (float)acc;
            } else {
                for (int64_t t = 0; t < T; t++) gb[r * T + t] += d[t];
            }
        }
    }
}

const bv_gate_kernels bv_cpu_gate = {
    .fwd = gate_fwd,
    .grad = gate_grad,
};
