/* cpu/elementwise.c - CPU kernels of the elementwise family: broadcasting binary ops and every
 * unary op, forward and gradient (constructors and the broadcast planning: ../elementwise.c).
 *
 * Binary kernels walk the coalesced layout in (row, chunk) tasks, so a fully coalesced [N] walk
 * still splits across threads. The gradient of a broadcast input is a gather reduction: one task per
 * element of that input, summing its stretched dims in double, so it parallelises without write
 * conflicts. Unary kernels come from one table: a macro writes each op's forward and gradient loop
 * from a forward expression f(x) and a derivative f'(x, y), y the forward result (cheaper for exp,
 * tanh, sigmoid). */
#include <math.h>
#include <string.h>

#include "../kernels.h"
#include "select.h"
#include "vmath.h"

/* Below this many elements an OpenMP region costs more than it saves. */
#define PAR_MIN 32768
/* Inner-dim chunk so a fully coalesced [N] walk still splits across threads. */
#define CHUNK 8192

/* Offsets into a and b of the first element of output row r (all dims but the last). */
static inline void row_offsets(const bv_bcast *bc, int64_t r, int64_t *oa, int64_t *ob) {
    int64_t xa = 0, xb = 0;
    for (int d = bc->nd - 2; d >= 0; d--) {
        int64_t i = r % bc->shape[d];
        r /= bc->shape[d];
        xa += i * bc->sa[d];
        xb += i * bc->sb[d];
    }
    *oa = xa;
    *ob = xb;
}

/* Walk every output element in (row, chunk) tasks; STMT sees j (index in the chunk), x = a value,
 * y = b value, and pointers o (output/grad chunk) and g (upstream grad chunk). The innermost
 * coalesced stride is 0 or 1 for each input, so the four cases below cover everything. Each loop
 * says "omp simd": at -O2 GCC's cheap cost model leaves a loop of unknown length scalar (it will
 * not add a remainder loop); the written output never aliases an input (fresh tensor or grad). */
#define ROW_LOOP(STMT)                                                                    \
    do {                                                                                  \
        if (ia && ib) {                                                                   \
            _Pragma("omp simd")                                                           \
            for (int64_t j = 0; j < len; j++) {                                           \
                const float x = pa[j], y = pb[j];                                         \
                STMT;                                                                     \
            }                                                                             \
        } else if (ia) {                                                                  \
            const float y = pb[0];                                                        \
            _Pragma("omp simd")                                                           \
            for (int64_t j = 0; j < len; j++) {                                           \
                const float x = pa[j];                                                    \
                STMT;                                                                     \
            }                                                                             \
        } else if (ib) {                                                                  \
            const float x = pa[0];                                                        \
            _Pragma("omp simd")                                                           \
            for (int64_t j = 0; j < len; j++) {                                           \
                const float y = pb[j];                                                    \
                STMT;                                                                     \
            }                                                                             \
        } else {                                                                          \
            const float x = pa[0], y = pb[0];                                             \
            _Pragma("omp simd")                                                           \
            for (int64_t j = 0; j < len; j++) { STMT; }                                   \
        }                                                                                 \
    } while (0)

#define FOR_EACH_CHUNK(...)                                                               \
    do {                                                                                  \
        const int64_t n_ = bc->shape[bc->nd - 1], nch_ = (n_ + CHUNK - 1) / CHUNK;        \
        const int64_t ntask_ = (bc->numel / n_) * nch_;                                   \
        const int64_t ia = bc->sa[bc->nd - 1], ib = bc->sb[bc->nd - 1];                   \
        const int par_ = bc->numel >= PAR_MIN;                                            \
        _Pragma("omp parallel for schedule(static) if (par_)")                            \
        for (int64_t t_ = 0; t_ < ntask_; t_++) {                                         \
            int64_t r_ = t_ / nch_, c0_ = (t_ % nch_) * CHUNK, oa_, ob_;                  \
            const int64_t len = n_ - c0_ < CHUNK ? n_ - c0_ : CHUNK;                      \
            row_offsets(bc, r_, &oa_, &ob_);                                              \
            const float *pa = A + oa_ + c0_ * ia, *pb = B + ob_ + c0_ * ib;               \
            const int64_t off = r_ * n_ + c0_;                                            \
            __VA_ARGS__;                                                                  \
        }                                                                                 \
    } while (0)

static void binary(bv_bin_kind k, float *restrict O, const float *A, const float *B, const bv_bcast *bc) {
    FOR_EACH_CHUNK({
        float *o = O + off;
        switch (k) {
        case BV_BIN_ADD: ROW_LOOP(o[j] = x + y); break;
        case BV_BIN_SUB: ROW_LOOP(o[j] = x - y); break;
        case BV_BIN_MUL: ROW_LOOP(o[j] = x * y); break;
        case BV_BIN_DIV: ROW_LOOP(o[j] = x / y); break;
        }
    });
}

static inline float grad_term(bv_grad_term k, float g, float x, float y) {
    switch (k) {
    case BV_TERM_G: return g;
    case BV_TERM_NEG_G: return -g;
    case BV_TERM_G_Y: return g * y;
    case BV_TERM_G_X: return g * x;
    case BV_TERM_G_DIV_Y: return g / y;
    case BV_TERM_DIVB: return -g * x / (y * y);
    }
    return 0.0f;
}

/* d[j] += E, or (ow) d[j] = 0 + E: the value the += gives on a zero-filled d (0 + -0 is +0), without
 * the fill or the read. */
#define ACC_LOOP(E)                                      \
    do {                                                 \
        if (ow) ROW_LOOP((void)x; (void)y; d[j] = 0.0f + (E)); \
        else ROW_LOOP((void)x; (void)y; d[j] += (E));          \
    } while (0)

/* Target input has the output's shape: one += per output element (ow: one store). */
static void binary_grad_full(bv_grad_term k, float *restrict D, const float *G, const float *A, const float *B,
                      const bv_bcast *bc, int ow) {
    FOR_EACH_CHUNK({
        float *d = D + off;
        const float *g = G + off;
        switch (k) {
        case BV_TERM_G: ACC_LOOP(g[j]); break;
        case BV_TERM_NEG_G: ACC_LOOP(-g[j]); break;
        case BV_TERM_G_Y: ACC_LOOP(g[j] * y); break;
        case BV_TERM_G_X: ACC_LOOP(g[j] * x); break;
        case BV_TERM_G_DIV_Y: ACC_LOOP(g[j] / y); break;
        case BV_TERM_DIVB: ACC_LOOP(-g[j] * x / (y * y)); break;
        }
    });
}
#undef ACC_LOOP

/* Target input is broadcast: each of its elements sums its stretched output dims (in double).
 * st = the target's strides in bc (bc->sa or bc->sb). */
static void binary_grad_reduce(bv_grad_term k, float *restrict D, const int64_t *st, const float *G, const float *A,
                        const float *B, const bv_bcast *bc) {
    int kd[BV_MAX_DIMS], rd[BV_MAX_DIMS], nk = 0, nr = 0;
    int64_t so[BV_MAX_DIMS]; /* contiguous output strides */
    int64_t s = 1;
    for (int d = bc->nd - 1; d >= 0; d--) {
        so[d] = s;
        s *= bc->shape[d];
    }
    for (int d = 0; d < bc->nd; d++) {
        if (st[d]) kd[nk++] = d;
        else rd[nr++] = d;
    }
    int64_t tn = 1, red = 1;
    for (int i = 0; i < nk; i++) tn *= bc->shape[kd[i]];
    for (int i = 0; i < nr; i++) red *= bc->shape[rd[i]];
    const int64_t *sa = bc->sa, *sb = bc->sb;
    const int inner = rd[nr - 1]; /* nr >= 1: the target is broadcast somewhere */
    const int64_t n_in = bc->shape[inner], so_in = so[inner], sa_in = sa[inner], sb_in = sb[inner];
#pragma omp parallel for schedule(static) if (bc->numel >= PAR_MIN)
    for (int64_t e = 0; e < tn; e++) {
        /* the kept dims enumerate the (contiguous) target in order */
        int64_t r = e, bo = 0, ba = 0, bb = 0;
        for (int i = nk - 1; i >= 0; i--) {
            int d = kd[i];
            int64_t idx = r % bc->shape[d];
            r /= bc->shape[d];
            bo += idx * so[d];
            ba += idx * sa[d];
            bb += idx * sb[d];
        }
        int64_t ctr[BV_MAX_DIMS] = {0};
        double acc = 0.0;
        for (int64_t m = 0; m < red; m += n_in) {
            int64_t o = bo, xa = ba, xb = bb;
            for (int i = 0; i < nr - 1; i++) {
                o += ctr[i] * so[rd[i]];
                xa += ctr[i] * sa[rd[i]];
                xb += ctr[i] * sb[rd[i]];
            }
            for (int64_t j = 0; j < n_in; j++)
                acc += grad_term(k, G[o + j * so_in], A[xa + j * sa_in], B[xb + j * sb_in]);
            for (int i = nr - 2; i >= 0; i--) { /* odometer over the outer reduced dims */
                if (++ctr[i] < bc->shape[rd[i]]) break;
                ctr[i] = 0;
            }
        }
        D[e] += (float)acc;
    }
}

static inline float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

/* torch's pow backward: exponent 0 has a zero gradient everywhere (not 0 * x^-1). */
static inline float pow_deriv(float x, float p) { return p == 0.0f ? 0.0f : p * powf(x, p - 1.0f); }

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT2PI 0.39894228040143267794f

/* X(name, OP, forward f(x; p0, p1), derivative f'(x, y; p0, p1)); every kind of BV_UNARY_OPS */
#define UNARY_MATH(X)                                                                              \
    X(neg, NEG, -x, -1.0f)                                                                        \
    X(exp, EXP, expf(x), y)                                                                       \
    X(log, LOG, logf(x), 1.0f / x)                                                                \
    X(sqrt, SQRT, sqrtf(x), 0.5f / y)                                                             \
    X(square, SQUARE, x * x, 2.0f * x)                                                            \
    X(abs, ABS, fabsf(x), (x > 0.0f) - (x < 0.0f))                                                \
    X(tanh, TANH, tanhf(x), 1.0f - y * y)                                                         \
    X(sigmoid, SIGMOID, sigmoidf_(x), y * (1.0f - y))                                             \
    X(relu, RELU, x > 0.0f ? x : 0.0f, select_f(x > 0.0f, 1.0f, 0.0f))                            \
    X(leaky_relu, LEAKY_RELU, select_f(x > 0.0f, x, x * p0), select_f(x > 0.0f, 1.0f, p0))        \
    X(gelu, GELU, 0.5f * x * (1.0f + erff(x * INV_SQRT2)),                                        \
      0.5f * (1.0f + erff(x * INV_SQRT2)) + x * INV_SQRT2PI * expf(-0.5f * x * x))                \
    X(silu, SILU, x * sigmoidf_(x), sigmoidf_(x) * (1.0f + x * (1.0f - sigmoidf_(x))))            \
    /* beta 1, threshold 20: above it torch returns x itself */                                   \
    X(softplus, SOFTPLUS, x > 20.0f ? x : log1pf(expf(x)), x > 20.0f ? 1.0f : sigmoidf_(x))       \
    /* log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): no overflow either side */                 \
    X(logsigmoid, LOGSIGMOID, fminf(x, 0.0f) - log1pf(expf(-fabsf(x))), sigmoidf_(-x))            \
    /* p0 = lo, p1 = hi; the gradient passes on the closed interval, as torch */                  \
    X(clamp, CLAMP, x < p0 ? p0 : (x > p1 ? p1 : x), select_f((x >= p0) & (x <= p1), 1.0f, 0.0f)) \
    X(add_scalar, ADD_SCALAR, x + p0, 1.0f)                                                       \
    X(mul_scalar, MUL_SCALAR, x * p0, p0)                                                         \
    X(rsub_scalar, RSUB_SCALAR, p0 - x, -1.0f)                                                    \
    X(pow_scalar, POW_SCALAR, powf(x, p0), pow_deriv(x, p0))

typedef void (*unary_fwd_fn)(float *restrict Y, const float *restrict X, int64_t n, float p0, float p1);
typedef void (*unary_bwd_fn)(float *restrict GX, const float *restrict GY, const float *restrict X,
                             const float *restrict Y, int64_t n, float p0, float p1, int ow);

#define UNARY_KERNELS(name, OP, FWD, DER)                                                         \
    static void name##_fwd(float *restrict Y, const float *restrict X, int64_t n, float p0, float p1) { \
        _Pragma("omp parallel for simd schedule(static) if (n >= PAR_MIN)")                      \
        for (int64_t i = 0; i < n; i++) {                                                         \
            const float x = X[i];                                                                 \
            Y[i] = (FWD);                                                                         \
        }                                                                                         \
    }                                                                                             \
    static void name##_bwd(float *restrict GX, const float *restrict GY, const float *restrict X, \
                           const float *restrict Y, int64_t n, float p0, float p1, int ow) {      \
        if (ow) {                                                                                 \
            _Pragma("omp parallel for simd schedule(static) if (n >= PAR_MIN)")                  \
            for (int64_t i = 0; i < n; i++) {                                                     \
                const float x = X[i], y = Y[i];                                                   \
                (void)x;                                                                          \
                (void)y;                                                                          \
                GX[i] = 0.0f + GY[i] * (DER);                                                     \
            }                                                                                     \
            return;                                                                               \
        }                                                                                         \
        _Pragma("omp parallel for simd schedule(static) if (n >= PAR_MIN)")                      \
        for (int64_t i = 0; i < n; i++) {                                                         \
            const float x = X[i], y = Y[i];                                                       \
            (void)x;                                                                              \
            (void)y;                                                                              \
            GX[i] += GY[i] * (DER);                                                               \
        }                                                                                         \
    }
UNARY_MATH(UNARY_KERNELS)
#undef UNARY_KERNELS

static const struct {
    unary_fwd_fn fwd;
    unary_bwd_fn bwd;
} unary_table[BV_U_COUNT] = {
#define UNARY_ROW(name, OP, FWD, DER) [BV_U_##OP] = {name##_fwd, name##_bwd},
    UNARY_MATH(UNARY_ROW)
#undef UNARY_ROW
};

static void unary(bv_unary_kind k, float *y, const float *x, int64_t n, float p0, float p1) {
    unary_table[k].fwd(y, x, n, p0, p1);
}

static void unary_grad(bv_unary_kind k, float *gx, const float *gy, const float *x, const float *y, int64_t n,
                       float p0, float p1, int overwrite) {
    unary_table[k].bwd(gx, gy, x, y, n, p0, p1, overwrite);
}

const bv_elementwise_kernels bv_cpu_elementwise = {
    .binary = binary,
    .binary_grad_full = binary_grad_full,
    .binary_grad_reduce = binary_grad_reduce,
    .unary = unary,
    .unary_grad = unary_grad,
};
