/* cpu/reduce.c - CPU kernels of the reduce family: sum/mean and std over one axis of a tensor
 * viewed as [outer, n, inner], forward and gradient (constructors: ../reduce.c). Sums accumulate in
 * double so long reductions (a loss over a whole batch) do not lose digits. Gradient kernels
 * ACCUMULATE (+=). */
#include <math.h>

#include "../kernels.h"

#define PAR_MIN 32768
#define IBLOCK 256 /* inner-dim block: contiguous rows are summed into a small double buffer */

/* y[o, i] = scale * sum_k x[o, k, i] */
static void sum(float *restrict y, const float *restrict x, bv_axis_geom g, double scale, float empty) {
    if (g.n == 0) {
        for (int64_t i = 0; i < g.outer * g.inner; i++) y[i] = empty;
        return;
    }
    if (g.inner == 1 && g.outer == 1 && g.n >= PAR_MIN) { /* one long row: split it across threads */
        double acc = 0.0;
#pragma omp parallel for reduction(+ : acc) schedule(static)
        for (int64_t k = 0; k < g.n; k++) acc += x[k];
        y[0] = (float)(acc * scale);
        return;
    }
    if (g.inner == 1) {
#pragma omp parallel for schedule(static) if (g.outer * g.n >= PAR_MIN)
        for (int64_t o = 0; o < g.outer; o++) {
            double acc = 0.0;
            const float *px = x + o * g.n;
            for (int64_t k = 0; k < g.n; k++) acc += px[k];
            y[o] = (float)(acc * scale);
        }
        return;
    }
    const int64_t nblk = (g.inner + IBLOCK - 1) / IBLOCK;
#pragma omp parallel for schedule(static) if (g.outer * g.n * g.inner >= PAR_MIN)
    for (int64_t t = 0; t < g.outer * nblk; t++) {
        const int64_t o = t / nblk, i0 = (t % nblk) * IBLOCK;
        const int64_t len = g.inner - i0 < IBLOCK ? g.inner - i0 : IBLOCK;
        double acc[IBLOCK];
        for (int64_t i = 0; i < len; i++) acc[i] = 0.0;
        for (int64_t k = 0; k < g.n; k++) {
            const float *px = x + (o * g.n + k) * g.inner + i0;
            for (int64_t i = 0; i < len; i++) acc[i] += px[i];
        }
        for (int64_t i = 0; i < len; i++) y[o * g.inner + i0 + i] = (float)(acc[i] * scale);
    }
}

/* gx[o, k, i] += scale * gy[o, i] */
static void sum_grad(float *restrict gx, const float *restrict gy, bv_axis_geom g, float scale) {
#pragma omp parallel for schedule(static) if (g.outer * g.n * g.inner >= PAR_MIN)
    for (int64_t r = 0; r < g.outer * g.n; r++) {
        const int64_t o = r / g.n;
        float *pg = gx + r * g.inner;
        const float *py = gy + o * g.inner;
        for (int64_t i = 0; i < g.inner; i++) pg[i] += scale * py[i];
    }
}

/* y[o, i] = sqrt(sum_k (x - mean)^2 / (n - ddof)); mean[o, i] kept for backward. Two passes over
 * the data in double (not E[x^2] - E[x]^2, which cancels catastrophically). */
static void std_fwd(float *restrict y, float *restrict mean, const float *restrict x, bv_axis_geom g, int ddof) {
#pragma omp parallel for schedule(static) if (g.outer * g.n * g.inner >= PAR_MIN && g.outer * g.inner > 1)
    for (int64_t r = 0; r < g.outer * g.inner; r++) {
        const int64_t o = r / g.inner, i = r % g.inner;
        const float *px = x + o * g.n * g.inner + i;
        double s = 0.0, ss = 0.0;
        for (int64_t k = 0; k < g.n; k++) s += px[k * g.inner];
        const double m = s / (double)g.n;
        for (int64_t k = 0; k < g.n; k++) {
            const double d = px[k * g.inner] - m;
            ss += d * d;
        }
        mean[r] = (float)m;
        y[r] = (float)sqrt(ss / (double)(g.n - ddof));
    }
}

/* d std / d x_k = (x_k - mean) / ((n - ddof) * std): NaN where std is 0, as torch. */
static void std_grad(float *restrict gx, const float *restrict gy, const float *restrict x, const float *restrict y,
                     const float *restrict mean, bv_axis_geom g, int ddof) {
    const float denom = (float)(g.n - ddof);
#pragma omp parallel for schedule(static) if (g.outer * g.n * g.inner >= PAR_MIN)
    for (int64_t r = 0; r < g.outer * g.n; r++) {
        const int64_t o = r / g.n;
        const float *px = x + r * g.inner;
        float *pg = gx + r * g.inner;
        for (int64_t i = 0; i < g.inner; i++) {
            const int64_t j = o * g.inner + i;
            pg[i] += gy[j] * (px[i] - mean[j]) / (denom * y[j]);
        }
    }
}

const bv_reduce_kernels bv_cpu_reduce = {
    .sum = sum,
    .sum_grad = sum_grad,
    .std = std_fwd,
    .std_grad = std_grad,
};
