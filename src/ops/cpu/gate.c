/* cpu/gate.c - CPU kernels of the fused WaveNet gate commons.fused_add_tanh_sigmoid_multiply,
 * forward and gradient (constructor: ../gate.c). The gradient recomputes the activations from a
 * and b (nothing is stored by the forward) and ACCUMULATES into the input grads. */
#include <math.h>

#include "../kernels.h"

/* out[b, c, t] = tanh(a[b, c, t] + bb[b, c, t']) * sigmoid(a[b, n + c, t] + bb[b, n + c, t'])
 * where t' = t, or 0 when b is broadcast over time (Tb == 1); bb == NULL means zeros. */
static void gate_fwd(float *out, const float *a, const float *bb, int64_t B, int64_t n, int64_t T,
                            int64_t Tb) {
#pragma omp parallel for collapse(2) if (B * n * T > 32768)
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < n; c++) {
            const float *at = a + (b * 2 * n + c) * T, *as = a + (b * 2 * n + n + c) * T;
            const float *bt = bb ? bb + (b * 2 * n + c) * Tb : NULL, *bs = bb ? bb + (b * 2 * n + n + c) * Tb : NULL;
            float *o = out + (b * n + c) * T;
            for (int64_t t = 0; t < T; t++) {
                int64_t tb = Tb == 1 ? 0 : t;
                float it = bt ? at[t] + bt[tb] : at[t];
                float is = bs ? as[t] + bs[tb] : as[t];
                o[t] = tanhf(it) * (1.0f / (1.0f + expf(-is)));
            }
        }
}

/* d in_t = go * s * (1 - th^2), d in_s = go * th * s * (1 - s); written into din [B, 2n, T]. */
static void gate_din(float *din, const float *go, const float *a, const float *bb, int64_t B, int64_t n,
                            int64_t T, int64_t Tb) {
#pragma omp parallel for collapse(2) if (B * n * T > 32768)
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < n; c++) {
            const float *at = a + (b * 2 * n + c) * T, *as = a + (b * 2 * n + n + c) * T;
            const float *bt = bb ? bb + (b * 2 * n + c) * Tb : NULL, *bs = bb ? bb + (b * 2 * n + n + c) * Tb : NULL;
            const float *g = go + (b * n + c) * T;
            float *dt = din + (b * 2 * n + c) * T, *ds = din + (b * 2 * n + n + c) * T;
            for (int64_t t = 0; t < T; t++) {
                int64_t tb = Tb == 1 ? 0 : t;
                float th = tanhf(bt ? at[t] + bt[tb] : at[t]);
                float s = 1.0f / (1.0f + expf(-(bs ? as[t] + bs[tb] : as[t])));
                dt[t] = g[t] * s * (1.0f - th * th);
                ds[t] = g[t] * th * s * (1.0f - s);
            }
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
