/* cpu/norm.c - CPU kernels of the norm family: layer norm over the middle axis of
 * [outer, C, inner], group norm, softmax / log-softmax, forward and gradient (constructors and the
 * math: ../norm.c). Gradient kernels ACCUMULATE (+=).
 *
 * Kernels walk one block of up to IBLOCK inner positions at a time, so the reduction over n reads
 * contiguous rows even when n is the strided middle axis. Statistics accumulate in double;
 * variances are two-pass. */
#include <math.h>

#include "../kernels.h"
#include "vmath.h"

#define PAR_MIN 32768
#define IBLOCK 64

/* Parallel loop over (outer, inner block) tasks; the body (macro arguments) sees o, i0, len. */
#define FOR_BLOCKS(G, ...)                                                                 \
    do {                                                                                   \
        const int64_t nblk_ = ((G).inner + IBLOCK - 1) / IBLOCK;                           \
        const int par_ = (G).outer * (G).n * (G).inner >= PAR_MIN;                         \
        _Pragma("omp parallel for schedule(static) if (par_)")                             \
        for (int64_t t_ = 0; t_ < (G).outer * nblk_; t_++) {                               \
            const int64_t o = t_ / nblk_, i0 = (t_ % nblk_) * IBLOCK;                      \
            const int64_t len = (G).inner - i0 < IBLOCK ? (G).inner - i0 : IBLOCK;         \
            __VA_ARGS__;                                                                   \
        }                                                                                  \
    } while (0)

static void ln_forward(float *restrict y, float *restrict mean, float *restrict rstd, const float *restrict x,
                       const float *gamma, const float *beta, bv_axis_geom g, float eps) {
    FOR_BLOCKS(g, {
        double s[IBLOCK], ss[IBLOCK];
        float m[IBLOCK], rs[IBLOCK];
        for (int64_t i = 0; i < len; i++) s[i] = ss[i] = 0.0;
        for (int64_t c = 0; c < g.n; c++) {
            const float *px = x + (o * g.n + c) * g.inner + i0;
            for (int64_t i = 0; i < len; i++) s[i] += px[i];
        }
        for (int64_t i = 0; i < len; i++) m[i] = (float)(s[i] / (double)g.n);
        for (int64_t c = 0; c < g.n; c++) {
            const float *px = x + (o * g.n + c) * g.inner + i0;
            for (int64_t i = 0; i < len; i++) {
                const double d = (double)px[i] - m[i];
                ss[i] += d * d;
            }
        }
        for (int64_t i = 0; i < len; i++) {
            rs[i] = (float)(1.0 / sqrt(ss[i] / (double)g.n + eps)); /* biased variance, as torch */
            mean[o * g.inner + i0 + i] = m[i];
            rstd[o * g.inner + i0 + i] = rs[i];
        }
        for (int64_t c = 0; c < g.n; c++) {
            const int64_t off = (o * g.n + c) * g.inner + i0;
            const float gc = gamma ? gamma[c] : 1.0f, bc = beta ? beta[c] : 0.0f;
            for (int64_t i = 0; i < len; i++) y[off + i] = (x[off + i] - m[i]) * rs[i] * gc + bc;
        }
    });
}

static void ln_backward_x(float *restrict gx, const float *restrict gy, const float *restrict x, const float *mean,
                          const float *rstd, const float *gamma, bv_axis_geom g) {
    FOR_BLOCKS(g, {
        double sa[IBLOCK], sb[IBLOCK];
        const float *m = mean + o * g.inner + i0, *rs = rstd + o * g.inner + i0;
        for (int64_t i = 0; i < len; i++) sa[i] = sb[i] = 0.0;
        for (int64_t c = 0; c < g.n; c++) {
            const int64_t off = (o * g.n + c) * g.inner + i0;
            const float gc = gamma ? gamma[c] : 1.0f;
            for (int64_t i = 0; i < len; i++) {
                const float dxh = gy[off + i] * gc, xh = (x[off + i] - m[i]) * rs[i];
                sa[i] += dxh;
                sb[i] += (double)dxh * xh;
            }
        }
        float ma[IBLOCK], mb[IBLOCK];
        for (int64_t i = 0; i < len; i++) {
            ma[i] = (float)(sa[i] / (double)g.n);
            mb[i] = (float)(sb[i] / (double)g.n);
        }
        for (int64_t c = 0; c < g.n; c++) {
            const int64_t off = (o * g.n + c) * g.inner + i0;
            const float gc = gamma ? gamma[c] : 1.0f;
            for (int64_t i = 0; i < len; i++) {
                const float xh = (x[off + i] - m[i]) * rs[i];
                gx[off + i] += rs[i] * (gy[off + i] * gc - ma[i] - xh * mb[i]);
            }
        }
    });
}

/* ggamma[c] += sum gy * xhat, gbeta[c] += sum gy over (outer, inner); one task per channel. */
static void ln_backward_affine(float *ggamma, float *gbeta, const float *restrict gy, const float *restrict x,
                               const float *mean, const float *rstd, bv_axis_geom g) {
#pragma omp parallel for schedule(static) if (g.outer * g.n * g.inner >= PAR_MIN)
    for (int64_t c = 0; c < g.n; c++) {
        double ag = 0.0, ab = 0.0;
        for (int64_t o = 0; o < g.outer; o++) {
            const int64_t off = (o * g.n + c) * g.inner;
            const float *m = mean + o * g.inner, *rs = rstd + o * g.inner;
            for (int64_t i = 0; i < g.inner; i++) {
                ag += (double)gy[off + i] * ((x[off + i] - m[i]) * rs[i]);
                ab += gy[off + i];
            }
        }
        if (ggamma) ggamma[c] += (float)ag;
        if (gbeta) gbeta[c] += (float)ab;
    }
}

static void gn_forward(float *restrict y, float *mean, float *rstd, const float *restrict x, const float *gamma,
                       const float *beta, bv_group_geom gg, float eps) {
    const bv_group_geom *s = &gg;
    const int64_t cpg = s->C / s->G, L = cpg * s->S;
#pragma omp parallel for schedule(static) if (s->B * s->C * s->S >= PAR_MIN)
    for (int64_t bg = 0; bg < s->B * s->G; bg++) {
        const float *px = x + bg * L;
        double sum = 0.0, ss = 0.0;
        for (int64_t k = 0; k < L; k++) sum += px[k];
        const float m = (float)(sum / (double)L);
        for (int64_t k = 0; k < L; k++) {
            const double d = (double)px[k] - m;
            ss += d * d;
        }
        const float rs = (float)(1.0 / sqrt(ss / (double)L + eps));
        mean[bg] = m;
        rstd[bg] = rs;
        for (int64_t cc = 0; cc < cpg; cc++) {
            const int64_t c = (bg % s->G) * cpg + cc;
            const float gc = gamma ? gamma[c] : 1.0f, bc = beta ? beta[c] : 0.0f;
            for (int64_t i = 0; i < s->S; i++) y[bg * L + cc * s->S + i] = (px[cc * s->S + i] - m) * rs * gc + bc;
        }
    }
}

static void gn_backward_x(float *restrict gx, const float *restrict gy, const float *restrict x, const float *mean,
                          const float *rstd, const float *gamma, bv_group_geom gg) {
    const bv_group_geom *s = &gg;
    const int64_t cpg = s->C / s->G, L = cpg * s->S;
#pragma omp parallel for schedule(static) if (s->B * s->C * s->S >= PAR_MIN)
    for (int64_t bg = 0; bg < s->B * s->G; bg++) {
        const float m = mean[bg], rs = rstd[bg];
        double sa = 0.0, sb = 0.0;
        for (int64_t cc = 0; cc < cpg; cc++) {
            const float gc = gamma ? gamma[(bg % s->G) * cpg + cc] : 1.0f;
            for (int64_t i = 0; i < s->S; i++) {
                const int64_t k = bg * L + cc * s->S + i;
                const float dxh = gy[k] * gc;
                sa += dxh;
                sb += (double)dxh * ((x[k] - m) * rs);
            }
        }
        const float ma = (float)(sa / (double)L), mb = (float)(sb / (double)L);
        for (int64_t cc = 0; cc < cpg; cc++) {
            const float gc = gamma ? gamma[(bg % s->G) * cpg + cc] : 1.0f;
            for (int64_t i = 0; i < s->S; i++) {
                const int64_t k = bg * L + cc * s->S + i;
                gx[k] += rs * (gy[k] * gc - ma - (x[k] - m) * rs * mb);
            }
        }
    }
}

/* ggamma[c] += sum gy * xhat, gbeta[c] += sum gy over (batch, positions); one task per channel. */
static void gn_backward_affine(float *gg, float *gb, const float *restrict gy, const float *restrict x,
                               const float *mean, const float *rstd, bv_group_geom geom) {
    const bv_group_geom *s = &geom;
    const int64_t cpg = s->C / s->G;
#pragma omp parallel for schedule(static) if (s->B * s->C * s->S >= PAR_MIN)
    for (int64_t c = 0; c < s->C; c++) {
        double ag = 0.0, ab = 0.0;
        for (int64_t b = 0; b < s->B; b++) {
            const int64_t bg = b * s->G + c / cpg, off = (b * s->C + c) * s->S;
            for (int64_t i = 0; i < s->S; i++) {
                ag += (double)gy[off + i] * ((x[off + i] - mean[bg]) * rstd[bg]);
                ab += gy[off + i];
            }
        }
        if (gg) gg[c] += (float)ag;
        if (gb) gb[c] += (float)ab;
    }
}

/* Softmax over the last axis (inner == 1: attention's rows): the row's exps in one simd loop (the
 * libmvec expf of vmath.h) and a simd double sum, instead of FOR_BLOCKS's one-lane blocks. y may be x
 * (bv_softmax_): every element is read before it is written at the same index. */
static void softmax_rows(float *y, const float *x, bv_axis_geom g, int log_out) {
    const int64_t n = g.n;
#pragma omp parallel for schedule(static) if (g.outer * n >= PAR_MIN)
    for (int64_t o = 0; o < g.outer; o++) {
        const float *px = x + o * n;
        float *py = y + o * n;
        float mx = -INFINITY;
        for (int64_t k = 0; k < n; k++) mx = px[k] > mx ? px[k] : mx;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < n; k++) {
            const float e = expf(px[k] - mx);
            s += e;
            if (!log_out) py[k] = e;
        }
        if (log_out) {
            const float ls = (float)log(s);
            for (int64_t k = 0; k < n; k++) py[k] = px[k] - mx - ls;
        } else {
#pragma omp simd
            for (int64_t k = 0; k < n; k++) py[k] = (float)(py[k] / s);
        }
    }
}

static void softmax_forward(float *y, const float *x, bv_axis_geom g, int log_out) { /* y may be x */
    if (g.inner == 1) {
        softmax_rows(y, x, g, log_out);
        return;
    }
    FOR_BLOCKS(g, {
        float mx[IBLOCK];
        double s[IBLOCK];
        for (int64_t i = 0; i < len; i++) {
            mx[i] = -INFINITY;
            s[i] = 0.0;
        }
        for (int64_t k = 0; k < g.n; k++) {
            const float *px = x + (o * g.n + k) * g.inner + i0;
            for (int64_t i = 0; i < len; i++) mx[i] = px[i] > mx[i] ? px[i] : mx[i];
        }
        for (int64_t k = 0; k < g.n; k++) {
            const int64_t off = (o * g.n + k) * g.inner + i0;
            for (int64_t i = 0; i < len; i++) {
                const float e = expf(x[off + i] - mx[i]);
                s[i] += e;
                if (!log_out) y[off + i] = e;
            }
        }
        for (int64_t k = 0; k < g.n; k++) {
            const int64_t off = (o * g.n + k) * g.inner + i0;
            for (int64_t i = 0; i < len; i++) {
                if (log_out) y[off + i] = x[off + i] - mx[i] - (float)log(s[i]);
                else y[off + i] = (float)(y[off + i] / s[i]);
            }
        }
    });
}

/* softmax_backward_kernel over the last axis (inner == 1: attention's rows): the row's sum in a
 * simd double reduction instead of FOR_BLOCKS's one-lane dependent chain (the flow's 2x2x431x431
 * maps: ~4x faster), then the row's update in one simd loop. */
static void softmax_backward_rows(float *restrict gx, const float *restrict gy, const float *restrict y,
                                  bv_axis_geom g, int log_out) {
    const int64_t n = g.n;
#pragma omp parallel for schedule(static) if (g.outer * n >= PAR_MIN)
    for (int64_t o = 0; o < g.outer; o++) {
        const float *py = y + o * n, *pg = gy + o * n;
        float *px = gx + o * n;
        double s = 0.0;
        if (log_out) {
#pragma omp simd reduction(+ : s)
            for (int64_t k = 0; k < n; k++) s += pg[k];
        } else {
#pragma omp simd reduction(+ : s)
            for (int64_t k = 0; k < n; k++) s += (double)pg[k] * py[k];
        }
        const float si = (float)s;
        if (log_out) {
#pragma omp simd
            for (int64_t k = 0; k < n; k++) px[k] += pg[k] - expf(py[k]) * si;
        } else {
#pragma omp simd
            for (int64_t k = 0; k < n; k++) px[k] += py[k] * (pg[k] - si);
        }
    }
}

/* softmax: gx += y * (gy - sum_k gy y); log_softmax: gx += gy - exp(y) * sum_k gy. */
static void softmax_backward_kernel(float *restrict gx, const float *restrict gy, const float *restrict y, bv_axis_geom g,
                                    int log_out) {
    if (g.inner == 1) {
        softmax_backward_rows(gx, gy, y, g, log_out);
        return;
    }
    FOR_BLOCKS(g, {
        double s[IBLOCK];
        for (int64_t i = 0; i < len; i++) s[i] = 0.0;
        for (int64_t k = 0; k < g.n; k++) {
            const int64_t off = (o * g.n + k) * g.inner + i0;
            for (int64_t i = 0; i < len; i++) s[i] += log_out ? gy[off + i] : (double)gy[off + i] * y[off + i];
        }
        for (int64_t k = 0; k < g.n; k++) {
            const int64_t off = (o * g.n + k) * g.inner + i0;
            for (int64_t i = 0; i < len; i++) {
                const float si = (float)s[i];
                if (log_out) gx[off + i] += gy[off + i] - expf(y[off + i]) * si;
                else gx[off + i] += y[off + i] * (gy[off + i] - si);
            }
        }
    });
}

/* weight_norm's g at creation: the norm of each output row of v. */
static void row_norm(float *g, const float *v, int64_t rows, int64_t cols) {
    for (int64_t o = 0; o < rows; o++) {
        double ss = 0;
        for (int64_t j = 0; j < cols; j++) ss += (double)v[o * cols + j] * v[o * cols + j];
        g[o] = (float)sqrt(ss);
    }
}

const bv_norm_kernels bv_cpu_norm = {
    .layer_norm = ln_forward,
    .layer_norm_grad_x = ln_backward_x,
    .layer_norm_grad_affine = ln_backward_affine,
    .group_norm = gn_forward,
    .group_norm_grad_x = gn_backward_x,
    .group_norm_grad_affine = gn_backward_affine,
    .softmax = softmax_forward,
    .softmax_grad = softmax_backward_kernel,
    .row_norm = row_norm,
};
