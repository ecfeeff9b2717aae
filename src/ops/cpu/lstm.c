/* cpu/lstm.c - CPU kernels of nn.LSTM(batch_first=True), one layer, uni- or bidirectional
 * (constructor and backward rule: ../lstm.c).
 *
 * Per direction, gates = x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh in PyTorch's row order i, f, g, o:
 *   i, f, o = sigmoid(.), g = tanh(.), c_t = f c_{t-1} + i g, h_t = o tanh(c_t).
 * Forward does the input projection for all steps in one sgemm and one small sgemm per step for the
 * recurrence. The activated gates and the cell states are kept for backward, which runs analytic
 * BPTT: per step an elementwise pass gives the pre-activation gate grads dG_t and one sgemm carries
 * dh back through W_hh; the weight, bias and input grads are then three sgemms over all steps.
 * Gradients ACCUMULATE (+=).
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "../kernels.h"

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

/* Time index of processing step s (the reverse direction walks T-1 .. 0). */
static inline int64_t step_time(int64_t s, int64_t T, int reverse) { return reverse ? T - 1 - s : s; }

/* One direction. y [B, T, D*H] gets h_t in columns d*H..; hn, cn [B, H]. */
static void lstm_dir_forward(float *y, float *hn, float *cn, float *acts, float *cells, const float *x,
                             const float *wih, const float *whh, const float *bih, const float *bhh, int64_t B,
                             int64_t T, int64_t In, int64_t H, int D, int d) {
    const int64_t G = 4 * H, ys = T * D * H;
    for (int64_t r = 0; r < B * T; r++)
        for (int64_t k = 0; k < G; k++) acts[r * G + k] = bih[k] + bhh[k];
    /* acts [B*T, 4H] += x [B*T, In] @ W_ih^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(B * T), (int)G, (int)In, 1.0f, x, (int)In, wih, (int)In,
                1.0f, acts, (int)G);
    for (int64_t s = 0; s < T; s++) {
        int64_t t = step_time(s, T, d), tp = step_time(s - 1, T, d);
        if (s > 0) /* acts[:, t] += h_{prev} [B, H] @ W_hh^T (rows strided through y and acts) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)G, (int)H, 1.0f, y + tp * D * H + d * H,
                        (int)ys, whh, (int)H, 1.0f, acts + t * G, (int)(T * G));
#pragma omp parallel for if (B * H > 8192)
        for (int64_t b = 0; b < B; b++) {
            float *a = acts + (b * T + t) * G;
            for (int64_t j = 0; j < H; j++) {
                float ig = sigmoidf(a[j]), fg = sigmoidf(a[H + j]), gg = tanhf(a[2 * H + j]),
                      og = sigmoidf(a[3 * H + j]);
                a[j] = ig, a[H + j] = fg, a[2 * H + j] = gg, a[3 * H + j] = og;
                float cprev = s > 0 ? cells[(b * T + tp) * H + j] : 0.0f;
                float c = fg * cprev + ig * gg;
                cells[(b * T + t) * H + j] = c;
                y[b * ys + t * D * H + d * H + j] = og * tanhf(c);
            }
        }
    }
    int64_t tl = step_time(T - 1, T, d);
    for (int64_t b = 0; b < B; b++) {
        memcpy(hn + b * H, y + b * ys + tl * D * H + d * H, sizeof(float) * (size_t)H);
        memcpy(cn + b * H, cells + (b * T + tl) * H, sizeof(float) * (size_t)H);
    }
}

/* BPTT for one direction: fills dG [B, T, 4H] (grads of the pre-activation gates) from the output
 * grads gy [B, T, D*H], ghn, gcn [B, H]. dh, dc are [B, H] scratch. */
static void lstm_dir_backward_gates(float *dG, float *dh, float *dc, const float *acts, const float *cells,
                                    const float *whh, const float *gy, const float *ghn, const float *gcn,
                                    int64_t B, int64_t T, int64_t H, int D, int d) {
    const int64_t G = 4 * H, ys = T * D * H;
    memcpy(dh, ghn, sizeof(float) * (size_t)(B * H));
    memcpy(dc, gcn, sizeof(float) * (size_t)(B * H));
    for (int64_t s = T - 1; s >= 0; s--) {
        int64_t t = step_time(s, T, d), tp = step_time(s - 1, T, d);
#pragma omp parallel for if (B * H > 8192)
        for (int64_t b = 0; b < B; b++) {
            const float *a = acts + (b * T + t) * G;
            float *g = dG + (b * T + t) * G;
            for (int64_t j = 0; j < H; j++) {
                float ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
                float tc = tanhf(cells[(b * T + t) * H + j]);
                float cprev = s > 0 ? cells[(b * T + tp) * H + j] : 0.0f;
                float dhv = dh[b * H + j] + gy[b * ys + t * D * H + d * H + j];
                float dcv = dc[b * H + j] + dhv * og * (1.0f - tc * tc);
                g[j] = dcv * gg * ig * (1.0f - ig);
                g[H + j] = dcv * cprev * fg * (1.0f - fg);
                g[2 * H + j] = dcv * ig * (1.0f - gg * gg);
                g[3 * H + j] = dhv * tc * og * (1.0f - og);
                dc[b * H + j] = dcv * fg;
            }
        }
        if (s > 0) /* dh [B, H] = dG[:, t] [B, 4H] @ W_hh [4H, H] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)H, (int)G, 1.0f, dG + t * G,
                        (int)(T * G), whh, (int)H, 0.0f, dh, (int)H);
    }
}

static void forward(float *y, float *hn, float *cn, float *const *acts, float *const *cells, const float *x,
                    const float *const *w, int64_t B, int64_t T, int64_t In, int64_t H, int D) {
    for (int d = 0; d < D; d++)
        lstm_dir_forward(y, hn + d * B * H, cn + d * B * H, acts[d], cells[d], x, w[4 * d], w[4 * d + 1], w[4 * d + 2],
                         w[4 * d + 3], B, T, In, H, D, d);
}

static void backward(bv_arena *scratch, float *gx, float *const *gw, const float *const *acts,
                     const float *const *cells, const float *x, const float *y, const float *const *w,
                     const float *gy, const float *ghn, const float *gcn, int64_t B, int64_t T, int64_t In, int64_t H,
                     int D) {
    const int64_t G = 4 * H, BT = B * T;
    bv_arena_mark mk = bv_arena_get_mark(scratch);
    float *dG = bv_arena_alloc(scratch, sizeof(float) * (size_t)(BT * G));   // [B, T, 4H]
    float *dh = bv_arena_alloc(scratch, sizeof(float) * (size_t)(B * H));    // [B, H]
    float *dc = bv_arena_alloc(scratch, sizeof(float) * (size_t)(B * H));    // [B, H]
    float *hprev = bv_arena_alloc(scratch, sizeof(float) * (size_t)(BT * H)); // [B, T, H]
    for (int d = 0; d < D; d++) {
        const float *wih = w[4 * d], *whh = w[4 * d + 1];
        float *gwih = gw[4 * d], *gwhh = gw[4 * d + 1];
        lstm_dir_backward_gates(dG, dh, dc, acts[d], cells[d], whh, gy, ghn + d * B * H, gcn + d * B * H, B, T, H, D,
                                d);
        if (gx) /* dx [BT, In] += dG [BT, 4H] @ W_ih [4H, In] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)BT, (int)In, (int)G, 1.0f, dG, (int)G, wih,
                        (int)In, 1.0f, gx, (int)In);
        if (gwih) /* dW_ih [4H, In] += dG^T @ x */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)In, (int)BT, 1.0f, dG, (int)G, x,
                        (int)In, 1.0f, gwih, (int)In);
        if (gwhh) { /* dW_hh [4H, H] += dG^T @ h_prev, h_prev = 0 at the first step */
            for (int64_t b = 0; b < B; b++)
                for (int64_t s = 0; s < T; s++) {
                    float *dst = hprev + (b * T + step_time(s, T, d)) * H;
                    if (s == 0) memset(dst, 0, sizeof(float) * (size_t)H);
                    else memcpy(dst, y + (b * T + step_time(s - 1, T, d)) * D * H + d * H, sizeof(float) * (size_t)H);
                }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)H, (int)BT, 1.0f, dG, (int)G, hprev,
                        (int)H, 1.0f, gwhh, (int)H);
        }
        for (int k = 0; k < 2; k++) {
            float *gbias = gw[4 * d + 2 + k];
            if (!gbias) continue;
            for (int64_t r = 0; r < BT; r++)
                for (int64_t j = 0; j < G; j++) gbias[j] += dG[r * G + j];
        }
    }
    bv_arena_reset_to(scratch, mk);
}

const bv_lstm_kernels bv_cpu_lstm = {.forward = forward, .backward = backward};
