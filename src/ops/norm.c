/* norm.c - layer norm (over channels of [B, C, T] as modules.LayerNorm, and over the last dim as
 * nn.LayerNorm), group norm, softmax and log-softmax, forward and analytic backward. Backward
 * functions ACCUMULATE (+=) into input grads.
 *
 * Every op here normalises over one axis of a tensor viewed as [outer, n, inner]: channel layer
 * norm is [B, C, T], last-dim layer norm and softmax(-1) are [rows, C, 1]. Kernels walk one block
 * of up to IBLOCK inner positions at a time, so the reduction over n reads contiguous rows even
 * when n is the strided middle axis. Statistics accumulate in double; variances are two-pass.
 *
 * Normalisation backward, with xhat = (x - mean) * rstd and dxhat = gy * gamma:
 *   gx = rstd * (dxhat - mean_n(dxhat) - xhat * mean_n(dxhat * xhat)). */
#include <string.h>

#include "ops.h"

#define PAR_MIN 32768
#define IBLOCK 64

typedef struct {
    int64_t outer, n, inner;
} ngeom;

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

static int norm_dim(bv_ctx *ctx, const char *op, const bv_tensor *x, int dim) {
    int d = dim < 0 ? dim + x->ndim : dim;
    if (d < 0 || d >= x->ndim) {
        char b[96];
        bv_ctx_error(ctx, op, "dim %d out of range for shape %s", dim, bv_shape_str(x, b, sizeof b));
    }
    return d;
}

static ngeom geom_at(const bv_tensor *x, int d) {
    ngeom g = {bv_shape_numel(d, x->shape), x->shape[d], bv_shape_numel(x->ndim - d - 1, x->shape + d + 1)};
    return g;
}

/* gamma / beta must be f32 [C] (or NULL). */
static void check_affine(bv_ctx *ctx, const char *op, const bv_tensor *x, const bv_tensor *p, int64_t C) {
    if (!p) return;
    bv_check_cpu(ctx, op, p);
    bv_check_dtype(ctx, op, p, BV_F32);
    if (p->ndim != 1 || p->shape[0] != C) {
        char a[96], b[96];
        bv_ctx_error(ctx, op, "affine parameter %s does not match %lld channels of input %s", bv_shape_str(p, b, sizeof b),
                     (long long)C, bv_shape_str(x, a, sizeof a));
    }
}

/* ------------------------------------------------------------------------------------------ */
/* layer norm over the middle axis of [outer, C, inner]                                         */

typedef struct {
    ngeom g;
    bv_tensor *gamma, *beta;       /* may be NULL */
    float *mean, *rstd;            /* [outer, inner] */
} ln_saved;

static void ln_forward(float *restrict y, float *restrict mean, float *restrict rstd, const float *restrict x,
                       const float *gamma, const float *beta, ngeom g, float eps) {
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
                          const float *rstd, const float *gamma, ngeom g) {
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
                               const float *mean, const float *rstd, ngeom g) {
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

static void ln_backward(bv_ctx *ctx, bv_node *n) {
    const ln_saved *s = n->saved;
    bv_tensor *x = n->in[0], *y = n->out[0], *gamma = s->gamma, *beta = s->beta;
    if (x->requires_grad)
        ln_backward_x(bv_grad(ctx, x), y->grad, x->data, s->mean, s->rstd, gamma ? gamma->data : NULL, s->g);
    float *gg = gamma && gamma->requires_grad ? bv_grad(ctx, gamma) : NULL;
    float *gb = beta && beta->requires_grad ? bv_grad(ctx, beta) : NULL;
    if (gg || gb) ln_backward_affine(gg, gb, y->grad, x->data, s->mean, s->rstd, s->g);
}

/* Shared by both layer norms: normalise x over axis d. */
static bv_tensor *layer_norm_at(bv_ctx *ctx, bv_op op, const char *name, bv_tensor *x, int d, bv_tensor *gamma,
                                bv_tensor *beta, float eps) {
    ngeom g = geom_at(x, d);
    check_affine(ctx, name, x, gamma, g.n);
    check_affine(ctx, name, x, beta, g.n);
    bv_tensor *y = bv_new_like(ctx, x);
    const size_t nstat = sizeof(float) * (size_t)(g.outer * g.inner > 0 ? g.outer * g.inner : 1);
    float *mean = bv_arena_alloc(&ctx->arena, nstat), *rstd = bv_arena_alloc(&ctx->arena, nstat);
    ln_forward(y->data, mean, rstd, x->data, gamma ? gamma->data : NULL, beta ? beta->data : NULL, g, eps);
    bv_tensor *ins[3] = {x, gamma, beta};
    if (bv_needs_grad(ctx, 3, ins)) {
        int k = 1; /* the tape gets only the inputs that exist; the saved state knows which is which */
        if (gamma) ins[k++] = gamma;
        if (beta) ins[k++] = beta;
        ln_saved *s = bv_arena_alloc(&ctx->arena, sizeof *s);
        *s = (ln_saved){g, gamma, beta, mean, rstd};
        bv_node *node = bv_record(ctx, op, ln_backward, k, ins, 1, &y);
        node->saved = s;
        node->fattr[0] = eps;
    }
    return y;
}

bv_tensor *bv_layer_norm_ch(bv_ctx *ctx, bv_tensor *x, bv_tensor *gamma, bv_tensor *beta, float eps) {
    bv_check_cpu(ctx, "layer_norm_ch", x);
    bv_check_dtype(ctx, "layer_norm_ch", x, BV_F32);
    if (x->ndim < 2) {
        char b[96];
        bv_ctx_error(ctx, "layer_norm_ch", "expected [B, C, ...], got shape %s", bv_shape_str(x, b, sizeof b));
    }
    return layer_norm_at(ctx, BV_OP_LAYER_NORM_CH, "layer_norm_ch", x, 1, gamma, beta, eps);
}

bv_tensor *bv_layer_norm(bv_ctx *ctx, bv_tensor *x, bv_tensor *gamma, bv_tensor *beta, float eps) {
    bv_check_cpu(ctx, "layer_norm", x);
    bv_check_dtype(ctx, "layer_norm", x, BV_F32);
    if (x->ndim < 1) bv_ctx_error(ctx, "layer_norm", "expected [..., C], got a 0-d tensor");
    return layer_norm_at(ctx, BV_OP_LAYER_NORM_LAST, "layer_norm", x, x->ndim - 1, gamma, beta, eps);
}

/* ------------------------------------------------------------------------------------------ */
/* group norm: x [B, C, S...] viewed as [B*G, C/G * S]; each group is one contiguous chunk        */

typedef struct {
    int64_t B, C, G, S;            /* S = product of the dims after C */
    bv_tensor *gamma, *beta;
    float *mean, *rstd;            /* [B * G] */
} gn_saved;

static void gn_forward(float *restrict y, float *mean, float *rstd, const float *restrict x, const float *gamma,
                       const float *beta, const gn_saved *s, float eps) {
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

static void gn_backward_x(float *restrict gx, const float *restrict gy, const float *restrict x, const float *gamma,
                          const gn_saved *s) {
    const int64_t cpg = s->C / s->G, L = cpg * s->S;
#pragma omp parallel for schedule(static) if (s->B * s->C * s->S >= PAR_MIN)
    for (int64_t bg = 0; bg < s->B * s->G; bg++) {
        const float m = s->mean[bg], rs = s->rstd[bg];
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

static void gn_backward(bv_ctx *ctx, bv_node *n) {
    const gn_saved *s = n->saved;
    bv_tensor *x = n->in[0], *y = n->out[0];
    const float *gy = y->grad;
    if (x->requires_grad) gn_backward_x(bv_grad(ctx, x), gy, x->data, s->gamma ? s->gamma->data : NULL, s);
    float *gg = s->gamma && s->gamma->requires_grad ? bv_grad(ctx, s->gamma) : NULL;
    float *gb = s->beta && s->beta->requires_grad ? bv_grad(ctx, s->beta) : NULL;
    if (!gg && !gb) return;
    const int64_t cpg = s->C / s->G;
#pragma omp parallel for schedule(static) if (s->B * s->C * s->S >= PAR_MIN)
    for (int64_t c = 0; c < s->C; c++) {
        double ag = 0.0, ab = 0.0;
        for (int64_t b = 0; b < s->B; b++) {
            const int64_t bg = b * s->G + c / cpg, off = (b * s->C + c) * s->S;
            for (int64_t i = 0; i < s->S; i++) {
                ag += (double)gy[off + i] * ((x->data[off + i] - s->mean[bg]) * s->rstd[bg]);
                ab += gy[off + i];
            }
        }
        if (gg) gg[c] += (float)ag;
        if (gb) gb[c] += (float)ab;
    }
}

bv_tensor *bv_group_norm(bv_ctx *ctx, bv_tensor *x, int groups, bv_tensor *gamma, bv_tensor *beta, float eps) {
    char b[96];
    bv_check_cpu(ctx, "group_norm", x);
    bv_check_dtype(ctx, "group_norm", x, BV_F32);
    if (x->ndim < 2) bv_ctx_error(ctx, "group_norm", "expected [B, C, ...], got shape %s", bv_shape_str(x, b, sizeof b));
    const int64_t C = x->shape[1];
    if (groups <= 0 || C % groups != 0)
        bv_ctx_error(ctx, "group_norm", "%d groups do not divide the %lld channels of input %s", groups, (long long)C,
                     bv_shape_str(x, b, sizeof b));
    check_affine(ctx, "group_norm", x, gamma, C);
    check_affine(ctx, "group_norm", x, beta, C);
    gn_saved *s = bv_arena_alloc(&ctx->arena, sizeof *s);
    *s = (gn_saved){x->shape[0], C, groups, bv_shape_numel(x->ndim - 2, x->shape + 2), gamma, beta, NULL, NULL};
    const size_t nstat = sizeof(float) * (size_t)(s->B * s->G > 0 ? s->B * s->G : 1);
    s->mean = bv_arena_alloc(&ctx->arena, nstat);
    s->rstd = bv_arena_alloc(&ctx->arena, nstat);
    bv_tensor *y = bv_new_like(ctx, x);
    gn_forward(y->data, s->mean, s->rstd, x->data, gamma ? gamma->data : NULL, beta ? beta->data : NULL, s, eps);
    bv_tensor *ins[3] = {x, gamma, beta};
    if (bv_needs_grad(ctx, 3, ins)) {
        int k = 1;
        if (gamma) ins[k++] = gamma;
        if (beta) ins[k++] = beta;
        bv_node *node = bv_record(ctx, BV_OP_GROUP_NORM, gn_backward, k, ins, 1, &y);
        node->saved = s;
        node->iattr[0] = groups;
        node->fattr[0] = eps;
    }
    return y;
}

/* ------------------------------------------------------------------------------------------ */
/* softmax / log_softmax over any dim (max subtracted first)                                    */

static void softmax_forward(float *restrict y, const float *restrict x, ngeom g, int log_out) {
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

/* softmax: gx += y * (gy - sum_k gy y); log_softmax: gx += gy - exp(y) * sum_k gy. */
static void softmax_backward_kernel(float *restrict gx, const float *restrict gy, const float *restrict y, ngeom g,
                                    int log_out) {
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

static void softmax_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    if (!x->requires_grad) return;
    ngeom g = {n->iattr[0], n->iattr[1], n->iattr[2]};
    softmax_backward_kernel(bv_grad(ctx, x), y->grad, y->data, g, (int)n->iattr[3]);
}

static bv_tensor *softmax_any(bv_ctx *ctx, bv_op op, const char *name, bv_tensor *x, int dim, int log_out) {
    bv_check_cpu(ctx, name, x);
    bv_check_dtype(ctx, name, x, BV_F32);
    ngeom g = geom_at(x, norm_dim(ctx, name, x, dim));
    bv_tensor *y = bv_new_like(ctx, x);
    softmax_forward(y->data, x->data, g, log_out);
    if (bv_needs_grad(ctx, 1, &x)) {
        bv_node *node = bv_record(ctx, op, softmax_backward, 1, &x, 1, &y);
        node->iattr[0] = g.outer;
        node->iattr[1] = g.n;
        node->iattr[2] = g.inner;
        node->iattr[3] = log_out;
    }
    return y;
}

bv_tensor *bv_softmax(bv_ctx *ctx, bv_tensor *x, int dim) {
    return softmax_any(ctx, BV_OP_SOFTMAX, "softmax", x, dim, 0);
}
bv_tensor *bv_log_softmax(bv_ctx *ctx, bv_tensor *x, int dim) {
    return softmax_any(ctx, BV_OP_LOG_SOFTMAX, "log_softmax", x, dim, 1);
}
