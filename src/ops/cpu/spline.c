/* cpu/spline.c - CPU kernels of the monotonic rational-quadratic spline of transforms.piecewise_rational_quadratic_transform
 * with tails='linear' (Durkan et al. 2019), as ConvFlow in the stochastic duration predictor uses it.
 *
 * Per element (all in double, rounded to f32 at the end):
 *   widths  = min_bin_width  + (1 - min_bin_width  * K) * softmax(uw)     (K = number of bins)
 *   heights = min_bin_height + (1 - min_bin_height * K) * softmax(uh)
 *   knots cw, ch [K+1] = cumsum padded with a leading 0, mapped to [-B, B], ends forced to -B and B
 *   d [K+1] = min_derivative + softplus([c, ud, c]) with c = log(exp(1 - min_derivative) - 1) rounded
 *             to f32 (upstream assigns the float64 constant into an f32 tensor): boundary slope 1
 *   bin k = #(x >= knots) - 1 with 1e-6 added to the last knot (upstream searchsorted)
 *   forward: theta = (x - cw_k)/w_k, y = ch_k + h_k (s theta^2 + d_k theta(1-theta)) / den,
 *            den = s + (d_k + d_k+1 - 2 s) theta(1-theta), s = h_k / w_k,
 *            logabsdet = log(s^2 (d_k+1 theta^2 + 2 s theta(1-theta) + d_k (1-theta)^2)) - 2 log(den)
 *   inverse: theta is the root 2c / (-b - sqrt(b^2 - 4ac)) of a theta^2 + b theta + c = 0, y = cw_k + theta w_k,
 *            logabsdet = -(the forward logabsdet at theta)
 * Outside [-B, B] the map is the identity with logabsdet 0 (inputs at exactly +-B are inside).
 *
 * Backward is analytic and recomputes the knots from the inputs (nothing is saved): the local
 * derivatives w.r.t. x, cw_k, w_k, ch_k, h_k, d_k, d_k+1 go through the knot differences, the cumsum,
 * the softmax and the softplus (threshold 20: slope exactly 1 above it, as torch). The inverse root
 * is differentiated implicitly: d theta = -(theta^2 da + theta db + dc) / sqrt(b^2 - 4ac).
 * Gradients ACCUMULATE (+=). Constructor and backward rule: ../spline.c.
 */
#include <math.h>
#include <string.h>

#include "../kernels.h"

#define SPLINE_MAX_BINS BV_SPLINE_MAX_BINS /* per-element scratch lives on the stack */

typedef struct {
    int nb, inverse;
    double tb, mbw, mbh, md;
    double dconst; /* f32-rounded boundary pre-softplus value */
} spline_cfg;

/* Knots of one element; everything [K+1] except the softmaxes [K]. */
typedef struct {
    double *cw, *ch, *d, *smw, *smh;
} spline_knots;

static double softplus_d(double v) { return v > 20.0 ? v : log1p(exp(v)); }
static double softplus_grad(double v) { return v > 20.0 ? 1.0 : 1.0 / (1.0 + exp(-v)); }

static void softmax_d(double *p, const float *u, int n) {
    double mx = u[0], s = 0;
    for (int j = 1; j < n; j++) mx = u[j] > mx ? u[j] : mx;
    for (int j = 0; j < n; j++) s += (p[j] = exp((double)u[j] - mx));
    for (int j = 0; j < n; j++) p[j] /= s;
}

/* knots[0..n] from a softmax: min_bin + (1 - min_bin n) sm, cumsum, scaled to [lo, hi], ends forced. */
static void cum_knots(double *k, const double *sm, int n, double min_bin, double lo, double hi) {
    double cum = 0;
    k[0] = lo;
    for (int j = 0; j < n; j++) {
        cum += min_bin + (1.0 - min_bin * n) * sm[j];
        k[j + 1] = (hi - lo) * cum + lo;
    }
    k[n] = hi;
}

static void make_knots(const spline_cfg *c, const float *uw, const float *uh, const float *ud, spline_knots *kn) {
    const int K = c->nb;
    softmax_d(kn->smw, uw, K);
    softmax_d(kn->smh, uh, K);
    cum_knots(kn->cw, kn->smw, K, c->mbw, -c->tb, c->tb);
    cum_knots(kn->ch, kn->smh, K, c->mbh, -c->tb, c->tb);
    kn->d[0] = kn->d[K] = c->md + softplus_d(c->dconst);
    for (int j = 1; j < K; j++) kn->d[j] = c->md + softplus_d(ud[j - 1]);
}

/* searchsorted with upstream's in-place eps on the last knot. */
static int find_bin(const double *knots, int K, double x) {
    int cnt = 0;
    for (int j = 0; j < K; j++) cnt += x >= knots[j];
    cnt += x >= knots[K] + 1e-6;
    int k = cnt - 1;
    return k < 0 ? 0 : k > K - 1 ? K - 1 : k;
}

/* The bin's quantities: X0 = cw_k, W = w_k, Y0 = ch_k, Hh = h_k, D0 = d_k, D1 = d_k+1. */
typedef struct {
    double X0, W, Y0, Hh, D0, D1;
} bin_q;

static bin_q bin_of(const spline_knots *kn, int k) {
    return (bin_q){kn->cw[k], kn->cw[k + 1] - kn->cw[k], kn->ch[k], kn->ch[k + 1] - kn->ch[k], kn->d[k], kn->d[k + 1]};
}

static void rq_forward(const bin_q *q, double x, double *y, double *lad) {
    double s = q->Hh / q->W, th = (x - q->X0) / q->W, t1 = th * (1 - th);
    double num = q->Hh * (s * th * th + q->D0 * t1);
    double den = s + (q->D0 + q->D1 - 2 * s) * t1;
    double dnum = s * s * (q->D1 * th * th + 2 * s * t1 + q->D0 * (1 - th) * (1 - th));
    *y = q->Y0 + num / den;
    *lad = log(dnum) - 2 * log(den);
}

/* Quadratic a r^2 + b r + c = 0 of the inverse; returns the root and sqrt(discriminant). */
static double rq_inverse_root(const bin_q *q, double x, double *a, double *b, double *c, double *sq) {
    double s = q->Hh / q->W, A = q->D0 + q->D1 - 2 * s, dl = x - q->Y0;
    *a = dl * A + q->Hh * (s - q->D0);
    *b = q->Hh * q->D0 - dl * A;
    *c = -s * dl;
    double disc = *b * *b - 4 * *a * *c;
    *sq = sqrt(disc > 0 ? disc : 0); /* rounding can push an exact double root below 0 */
    return 2 * *c / (-*b - *sq);
}

static void rq_inverse(const bin_q *q, double x, double *y, double *lad) {
    double a, b, c, sq, r = rq_inverse_root(q, x, &a, &b, &c, &sq);
    double s = q->Hh / q->W, t1 = r * (1 - r);
    double den = s + (q->D0 + q->D1 - 2 * s) * t1;
    double dnum = s * s * (q->D1 * r * r + 2 * s * t1 + q->D0 * (1 - r) * (1 - r));
    *y = r * q->W + q->X0;
    *lad = -(log(dnum) - 2 * log(den));
}

/* d/d(bin quantities and x) of L = gy * y + gl * logabsdet; gq gets the grads of X0, W, Y0, Hh, D0, D1. */
static double rq_forward_grad(const bin_q *q, double x, double gy, double gl, bin_q *gq) {
    double s = q->Hh / q->W, th = (x - q->X0) / q->W, t1 = th * (1 - th), A = q->D0 + q->D1 - 2 * s;
    double P = s * th * th + q->D0 * t1, num = q->Hh * P, den = s + A * t1;
    double Q = q->D1 * th * th + 2 * s * t1 + q->D0 * (1 - th) * (1 - th), dnum = s * s * Q;
    double g_num = gy / den, g_den = -gy * num / (den * den) - 2 * gl / den, g_dnum = gl / dnum;
    double g_s = 0, g_th = 0, g_t1 = 0, g_A, g_P, g_Q;
    *gq = (bin_q){0};
    gq->Y0 = gy;
    gq->Hh += g_num * P; /* num = Hh P */
    g_P = g_num * q->Hh;
    g_s += g_P * th * th, g_th += g_P * 2 * s * th, gq->D0 += g_P * t1, g_t1 += g_P * q->D0;
    g_s += g_den, g_A = g_den * t1, g_t1 += g_den * A; /* den = s + A t1 */
    gq->D0 += g_A, gq->D1 += g_A, g_s -= 2 * g_A;
    g_s += g_dnum * 2 * s * Q, g_Q = g_dnum * s * s; /* dnum = s^2 Q */
    gq->D1 += g_Q * th * th, gq->D0 += g_Q * (1 - th) * (1 - th);
    g_th += g_Q * (2 * q->D1 * th - 2 * q->D0 * (1 - th)), g_s += g_Q * 2 * t1, g_t1 += g_Q * 2 * s;
    g_th += g_t1 * (1 - 2 * th);
    gq->X0 -= g_th / q->W, gq->W -= g_th * th / q->W; /* theta = (x - X0) / W */
    gq->Hh += g_s / q->W, gq->W -= g_s * s / q->W;    /* s = Hh / W */
    return g_th / q->W;
}

static double rq_inverse_grad(const bin_q *q, double x, double gy, double gl, bin_q *gq) {
    double a, b, c, sq, r = rq_inverse_root(q, x, &a, &b, &c, &sq);
    double s = q->Hh / q->W, A = q->D0 + q->D1 - 2 * s, dl = x - q->Y0, t1 = r * (1 - r);
    double den = s + A * t1, Q = q->D1 * r * r + 2 * s * t1 + q->D0 * (1 - r) * (1 - r), dnum = s * s * Q;
    double g_den = 2 * gl / den, g_dnum = -gl / dnum, g_s = 0, g_r, g_t1 = 0, g_A = 0, g_Q, g_dl = 0;
    *gq = (bin_q){0};
    g_r = gy * q->W, gq->W += gy * r, gq->X0 += gy; /* y = r W + X0 */
    g_s += g_dnum * 2 * s * Q, g_Q = g_dnum * s * s;
    gq->D1 += g_Q * r * r, gq->D0 += g_Q * (1 - r) * (1 - r);
    g_r += g_Q * (2 * q->D1 * r - 2 * q->D0 * (1 - r)), g_s += g_Q * 2 * t1, g_t1 += g_Q * 2 * s;
    g_s += g_den, g_A += g_den * t1, g_t1 += g_den * A;
    g_r += g_t1 * (1 - 2 * r);
    /* implicit root derivative (2 a r + b = sqrt(disc) for this root) */
    double g_a = -g_r * r * r / sq, g_b = -g_r * r / sq, g_c = -g_r / sq;
    g_dl += g_a * A, g_A += g_a * dl, gq->Hh += g_a * (s - q->D0), g_s += g_a * q->Hh, gq->D0 -= g_a * q->Hh;
    gq->Hh += g_b * q->D0, gq->D0 += g_b * q->Hh, g_dl -= g_b * A, g_A -= g_b * dl;
    g_s -= g_c * dl, g_dl -= g_c * s;
    gq->D0 += g_A, gq->D1 += g_A, g_s -= 2 * g_A;
    gq->Y0 -= g_dl;
    gq->Hh += g_s / q->W, gq->W -= g_s * s / q->W;
    return g_dl;
}

/* Grads of one knot vector [K+1] back to the unnormalised logits [K]: ends are constants, knot j
 * (1..K-1) is (hi - lo) * cumsum_{j-1} + lo, then the min-bin affine map and the softmax. */
static void knots_to_logits(float *gu, const double *gk, const double *sm, int K, double min_bin, double span) {
    double gwn[SPLINE_MAX_BINS], acc = 0, dot = 0;
    for (int i = K - 1; i >= 0; i--) {
        if (i + 1 <= K - 1) acc += span * gk[i + 1];
        gwn[i] = (1.0 - min_bin * K) * acc; /* grad of softmax output i */
        dot += gwn[i] * sm[i];
    }
    for (int i = 0; i < K; i++) gu[i] += (float)(sm[i] * (gwn[i] - dot));
}

static spline_cfg cfg_of(int nb, int inverse, float tail_bound, float mbw, float mbh, float md) {
    return (spline_cfg){nb, inverse, tail_bound, mbw, mbh, md, (double)(float)log(exp(1.0 - (double)md) - 1.0)};
}

static void forward(float *y_out, float *lad_out, const float *x, const float *uw, const float *uh, const float *ud,
                    int64_t numel, const bv_spline_params *p) {
    const int64_t K = p->bins;
    const int inverse = p->inverse;
    const float tail_bound = p->tail_bound;
    const spline_cfg c = cfg_of((int)K, inverse, tail_bound, p->min_bin_width, p->min_bin_height, p->min_derivative);
#pragma omp parallel for if (numel > 4096)
    for (int64_t e = 0; e < numel; e++) {
        float xv = x[e];
        if (!(xv >= -tail_bound && xv <= tail_bound)) {
            y_out[e] = xv;
            lad_out[e] = 0.0f;
            continue;
        }
        double cw[K + 1], ch[K + 1], d[K + 1], smw[K], smh[K], y, l;
        spline_knots kn = {cw, ch, d, smw, smh};
        make_knots(&c, uw + e * K, uh + e * K, ud + e * (K - 1), &kn);
        bin_q q = bin_of(&kn, find_bin(inverse ? ch : cw, (int)K, xv));
        if (inverse) rq_inverse(&q, xv, &y, &l);
        else rq_forward(&q, xv, &y, &l);
        y_out[e] = (float)y;
        lad_out[e] = (float)l;
    }
}

static void backward(float *gx, float *guw, float *guh, float *gud, const float *gy, const float *gl, const float *x,
                     const float *uw, const float *uh, const float *ud, int64_t numel, const bv_spline_params *p) {
    const spline_cfg c = cfg_of((int)p->bins, p->inverse, p->tail_bound, p->min_bin_width, p->min_bin_height,
                                p->min_derivative);
    const int K = c.nb;
    const float tb = (float)c.tb;
#pragma omp parallel for if (numel > 4096)
    for (int64_t e = 0; e < numel; e++) {
        float xv = x[e];
        if (!(xv >= -tb && xv <= tb)) { /* identity tail */
            if (gx) gx[e] += gy[e];
            continue;
        }
        double cw[K + 1], ch[K + 1], d[K + 1], smw[K], smh[K], gcw[K + 1], gch[K + 1];
        spline_knots kn = {cw, ch, d, smw, smh};
        make_knots(&c, uw + e * K, uh + e * K, ud + e * (K - 1), &kn);
        int k = find_bin(c.inverse ? ch : cw, K, xv);
        bin_q q = bin_of(&kn, k), gq;
        double g_x = c.inverse ? rq_inverse_grad(&q, xv, gy[e], gl[e], &gq) : rq_forward_grad(&q, xv, gy[e], gl[e], &gq);
        if (gx) gx[e] += (float)g_x;
        if (guw) {
            memset(gcw, 0, sizeof gcw);
            gcw[k] += gq.X0 - gq.W, gcw[k + 1] += gq.W;
            knots_to_logits(guw + e * K, gcw, smw, K, c.mbw, 2 * c.tb);
        }
        if (guh) {
            memset(gch, 0, sizeof gch);
            gch[k] += gq.Y0 - gq.Hh, gch[k + 1] += gq.Hh;
            knots_to_logits(guh + e * K, gch, smh, K, c.mbh, 2 * c.tb);
        }
        if (gud) { /* d_0 and d_K are the constant boundary slopes */
            if (k >= 1) gud[e * (K - 1) + k - 1] += (float)(gq.D0 * softplus_grad(ud[e * (K - 1) + k - 1]));
            if (k + 1 <= K - 1) gud[e * (K - 1) + k] += (float)(gq.D1 * softplus_grad(ud[e * (K - 1) + k]));
        }
    }
}

const bv_spline_kernels bv_cpu_spline = {.forward = forward, .backward = backward};
