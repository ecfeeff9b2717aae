/* cpu/relpos.c - CPU kernels of the relative-position family (constructors: ../relpos.c): the
 * banded products of MultiHeadAttention's relative embeddings, forward and gradient, and the two
 * constant [T, T] tables attention adds (proximal bias, local block mask). Gradient kernels
 * ACCUMULATE (+=).
 *
 * Shapes: BH = B * h rows of L positions, emb [1 (hs) or H, 2w+1, K]; row r of emb pairs i with
 * j = i + r - w. The K-long dot products are simd reductions (a plain float sum is one dependent add
 * per element: the flow's logits and value-gradient kernels were ~1.7 ms a call on 2x2x431 rows). */
#include <math.h>

#include "../kernels.h"

/* out[bh, i, j] = q[bh, i, :] . emb[hh, j - i + w, :] for |j - i| <= w (out pre-zeroed). */
static void logits(float *out, const float *q, const float *emb, int64_t BH, int64_t H, int64_t hs,
                           int64_t L, int64_t K, int64_t w, int accumulate) {
#pragma omp parallel for schedule(static) if (BH * L * K * (2 * w + 1) > 65536)
    for (int64_t bh = 0; bh < BH; bh++) {
        const float *e = emb + (hs ? 0 : (bh % H)) * (2 * w + 1) * K;
        for (int64_t i = 0; i < L; i++) {
            const float *qi = q + (bh * L + i) * K;
            int64_t j0 = i - w > 0 ? i - w : 0, j1 = i + w < L - 1 ? i + w : L - 1;
            for (int64_t j = j0; j <= j1; j++) {
                const float *er = e + (j - i + w) * K;
                float s = 0;
#pragma omp simd reduction(+ : s)
                for (int64_t d = 0; d < K; d++) s += qi[d] * er[d];
                float *o = &out[(bh * L + i) * L + j];
                *o = accumulate ? *o + s : s;
            }
        }
    }
}

/* d q[bh, i, :] += sum_j g[bh, i, j] emb[hh, j-i+w, :]  (the rel_values forward has the same form) */
static void band_times_emb(float *dst, const float *band, const float *emb, int64_t BH, int64_t H, int64_t hs,
                           int64_t L, int64_t K, int64_t w) {
#pragma omp parallel for schedule(static) if (BH * L * K * (2 * w + 1) > 65536)
    for (int64_t bh = 0; bh < BH; bh++) {
        const float *e = emb + (hs ? 0 : (bh % H)) * (2 * w + 1) * K;
        for (int64_t i = 0; i < L; i++) {
            float *di = dst + (bh * L + i) * K;
            const float *gi = band + (bh * L + i) * L;
            int64_t j0 = i - w > 0 ? i - w : 0, j1 = i + w < L - 1 ? i + w : L - 1;
            for (int64_t j = j0; j <= j1; j++) {
                const float *er = e + (j - i + w) * K;
                float gv = gi[j];
                for (int64_t d = 0; d < K; d++) di[d] += gv * er[d];
            }
        }
    }
}

/* d emb[hh, r, :] += sum_{bh of head hh, i; j = i + r - w in range} band[bh, i, j] * rows[bh, i, :].
 * Parallel over (emb head, r) so each thread owns its output rows (deterministic). */
static void band_outer_rows(float *demb, const float *band, const float *rows, int64_t BH, int64_t H, int64_t hs,
                            int64_t L, int64_t K, int64_t w) {
    int64_t R = 2 * w + 1, EH = hs ? 1 : H;
#pragma omp parallel for schedule(static) if (BH * L * K * R > 65536)
    for (int64_t hr = 0; hr < EH * R; hr++) {
        int64_t hh = hr / R, r = hr % R;
        float *de = demb + (hh * R + r) * K;
        for (int64_t bh = 0; bh < BH; bh++) {
            if (!hs && bh % H != hh) continue;
            for (int64_t i = 0; i < L; i++) {
                int64_t j = i + r - w;
                if (j < 0 || j >= L) continue;
                float bv = band[(bh * L + i) * L + j];
                const float *ri = rows + (bh * L + i) * K;
                for (int64_t d = 0; d < K; d++) de[d] += bv * ri[d];
            }
        }
    }
}

/* d p[bh, i, j] += g[bh, i, :] . emb[hh, j-i+w, :] for |j - i| <= w */
static void values_grad_p(float *dp, const float *g, const float *emb, int64_t BH, int64_t H, int64_t hs,
                          int64_t L, int64_t K, int64_t w) {
#pragma omp parallel for schedule(static) if (BH * L * K * (2 * w + 1) > 65536)
    for (int64_t bh = 0; bh < BH; bh++) {
        const float *e = emb + (hs ? 0 : (bh % H)) * (2 * w + 1) * K;
        for (int64_t i = 0; i < L; i++) {
            const float *gi = g + (bh * L + i) * K;
            int64_t j0 = i - w > 0 ? i - w : 0, j1 = i + w < L - 1 ? i + w : L - 1;
            for (int64_t j = j0; j <= j1; j++) {
                const float *er = e + (j - i + w) * K;
                float s = 0;
#pragma omp simd reduction(+ : s)
                for (int64_t d = 0; d < K; d++) s += gi[d] * er[d];
                dp[(bh * L + i) * L + j] += s;
            }
        }
    }
}

/* _attention_bias_proximal: b[i, j] = -log1p(|i - j|). */
static void proximal_bias(float *b, int64_t T) {
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++) b[i * T + j] = -log1pf(fabsf((float)(j - i)));
}

/* 1 outside the band -bl <= j - i <= bl (ones.triu(-bl).tril(bl) == 0). */
static void local_mask(float *b, int64_t T, int64_t bl) {
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++) b[i * T + j] = (j - i > bl || i - j > bl) ? 1.0f : 0.0f;
}

const bv_relpos_kernels bv_cpu_relpos = {
    .logits = logits,
    .band_times_emb = band_times_emb,
    .band_outer_rows = band_outer_rows,
    .values_grad_p = values_grad_p,
    .proximal_bias = proximal_bias,
    .local_mask = local_mask,
};
