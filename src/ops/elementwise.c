/* elementwise.c - broadcasting binary ops (add, sub, mul, div) and every unary op, forward and
 * backward. Backward functions ACCUMULATE (+=) into input grads.
 *
 * Binary ops broadcast numpy-style. Shapes are first "coalesced": output dims of size 1 are
 * dropped and adjacent dims that are laid out alike in both inputs are merged, so the common
 * patterns become cheap 1-d or 2-d walks: same shape -> [N]; [B,C,T] op [B,C,1] -> [B*C, T] with a
 * constant right operand per row; [B,C,T] op [B,1,T] -> [B, C, T] with b's row reused for each c.
 * The gradient of a broadcast input is a gather reduction: one task per element of that input,
 * summing its stretched dims in double, so it parallelises without write conflicts.
 *
 * Unary ops (and the scalar forms) come from one table: a macro writes each op's forward and
 * backward loop from a forward expression f(x) and a derivative expression f'(x, y), where y is
 * the forward result (cheaper for exp, tanh, sigmoid). */
#include <string.h>

#include "ops.h"

/* Below this many elements an OpenMP region costs more than it saves. */
#define PAR_MIN 32768
/* Inner-dim chunk so a fully coalesced [N] walk still splits across threads. */
#define CHUNK 8192

/* ------------------------------------------------------------------------------------------ */
/* broadcasting layout                                                                          */

typedef struct {
    int nd;                          /* coalesced dims, >= 1 */
    int64_t shape[BV_MAX_DIMS];      /* coalesced output shape */
    int64_t sa[BV_MAX_DIMS];         /* element strides of a per coalesced dim (0: broadcast) */
    int64_t sb[BV_MAX_DIMS];
    int64_t numel;
} bcast;

/* Output shape of a op b into out_shape (returns ndim); error naming op and both shapes. */
static int bcast_shape(bv_ctx *ctx, const char *op, const bv_tensor *a, const bv_tensor *b, int64_t *out_shape) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char x[96], y[96];
            bv_ctx_error(ctx, op, "shapes %s and %s are not broadcastable (dim %d: %lld vs %lld)",
                         bv_shape_str(a, x, sizeof x), bv_shape_str(b, y, sizeof y), i, (long long)da,
                         (long long)db);
        }
        out_shape[i] = da == 1 ? db : da;
    }
    return nd;
}

/* Strides (elements) of t seen through the output shape: 0 where t is stretched or absent. */
static void bcast_strides(const bv_tensor *t, int nd, int64_t *st) {
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int it = i - (nd - t->ndim);
        int64_t d = it >= 0 ? t->shape[it] : 1;
        st[i] = (d == 1) ? 0 : s;
        s *= d;
    }
}

static void bcast_init(bcast *bc, const bv_tensor *a, const bv_tensor *b, int nd, const int64_t *out_shape) {
    int64_t sa[BV_MAX_DIMS], sb[BV_MAX_DIMS];
    bcast_strides(a, nd, sa);
    bcast_strides(b, nd, sb);
    int k = 0;
    bc->numel = 1;
    for (int i = 0; i < nd; i++) {
        if (out_shape[i] == 1) continue; /* size-1 output dims carry no index */
        bc->numel *= out_shape[i];
        if (k > 0 && bc->sa[k - 1] == sa[i] * out_shape[i] && bc->sb[k - 1] == sb[i] * out_shape[i]) {
            /* merge with the previous dim: it steps over exactly this dim in both inputs */
            bc->shape[k - 1] *= out_shape[i];
            bc->sa[k - 1] = sa[i];
            bc->sb[k - 1] = sb[i];
            continue;
        }
        bc->shape[k] = out_shape[i];
        bc->sa[k] = sa[i];
        bc->sb[k] = sb[i];
        k++;
    }
    if (k == 0) { /* every dim is 1 (or there are none): one element */
        bc->shape[0] = 1;
        bc->sa[0] = bc->sb[0] = 0;
        k = 1;
    }
    bc->nd = k;
}

/* Offsets into a and b of the first element of output row r (all dims but the last). */
static inline void row_offsets(const bcast *bc, int64_t r, int64_t *oa, int64_t *ob) {
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

typedef enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV } bin_kind;

static void bin_forward(bin_kind k, float *restrict O, const float *A, const float *B, const bcast *bc) {
    FOR_EACH_CHUNK({
        float *o = O + off;
        switch (k) {
        case BIN_ADD: ROW_LOOP(o[j] = x + y); break;
        case BIN_SUB: ROW_LOOP(o[j] = x - y); break;
        case BIN_MUL: ROW_LOOP(o[j] = x * y); break;
        case BIN_DIV: ROW_LOOP(o[j] = x / y); break;
        }
    });
}

/* d out / d a or d b per output element, times the upstream grad g. */
typedef enum { T_G, T_NEG_G, T_G_Y, T_G_X, T_G_DIV_Y, T_DIVB } term_kind;

static inline float grad_term(term_kind k, float g, float x, float y) {
    switch (k) {
    case T_G: return g;
    case T_NEG_G: return -g;
    case T_G_Y: return g * y;
    case T_G_X: return g * x;
    case T_G_DIV_Y: return g / y;
    case T_DIVB: return -g * x / (y * y);
    }
    return 0.0f;
}

/* Target input has the output's shape: one += per output element. */
static void grad_full(term_kind k, float *restrict D, const float *G, const float *A, const float *B,
                      const bcast *bc) {
    FOR_EACH_CHUNK({
        float *d = D + off;
        const float *g = G + off;
        switch (k) {
        case T_G: ROW_LOOP((void)x; (void)y; d[j] += g[j]); break;
        case T_NEG_G: ROW_LOOP((void)x; (void)y; d[j] -= g[j]); break;
        case T_G_Y: ROW_LOOP((void)x; d[j] += g[j] * y); break;
        case T_G_X: ROW_LOOP((void)y; d[j] += g[j] * x); break;
        case T_G_DIV_Y: ROW_LOOP((void)x; d[j] += g[j] / y); break;
        case T_DIVB: ROW_LOOP(d[j] += -g[j] * x / (y * y)); break;
        }
    });
}

/* Target input is broadcast: each of its elements sums its stretched output dims (in double).
 * st = the target's strides in bc (bc->sa or bc->sb). */
static void grad_reduce(term_kind k, float *restrict D, const int64_t *st, const float *G, const float *A,
                        const float *B, const bcast *bc) {
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

static void grad_to(bv_ctx *ctx, bv_tensor *t, term_kind k, const int64_t *st, const float *G, const bv_tensor *a,
                    const bv_tensor *b, const bcast *bc) {
    if (!t->requires_grad) return;
    float *D = bv_grad(ctx, t);
    if (t->numel == bc->numel) grad_full(k, D, G, a->data, b->data, bc);
    else grad_reduce(k, D, st, G, a->data, b->data, bc);
}

static void bin_backward(bv_ctx *ctx, bv_node *n) {
    static const term_kind ka[] = {T_G, T_G, T_G_Y, T_G_DIV_Y};
    static const term_kind kb[] = {T_G, T_NEG_G, T_G_X, T_DIVB};
    bv_tensor *a = n->in[0], *b = n->in[1], *out = n->out[0];
    const bcast *bc = n->saved;
    bin_kind k = (bin_kind)n->iattr[0];
    if (bc->numel == 0) return;
    grad_to(ctx, a, ka[k], bc->sa, out->grad, a, b, bc);
    grad_to(ctx, b, kb[k], bc->sb, out->grad, a, b, bc);
}

static bv_tensor *binary(bv_ctx *ctx, bin_kind k, bv_op op, const char *name, bv_tensor *a, bv_tensor *b) {
    bv_check_cpu(ctx, name, a);
    bv_check_cpu(ctx, name, b);
    if (a->dtype != BV_F32 || b->dtype != BV_F32) {
        char x[96], y[96];
        bv_ctx_error(ctx, name, "expected f32 inputs, got %s %s and %s %s", bv_dtype_name(a->dtype),
                     bv_shape_str(a, x, sizeof x), bv_dtype_name(b->dtype), bv_shape_str(b, y, sizeof y));
    }
    int64_t shape[BV_MAX_DIMS];
    int nd = bcast_shape(ctx, name, a, b, shape);
    bcast local, *bc = &local;
    bv_tensor *ins[2] = {a, b};
    int rec = bv_needs_grad(ctx, 2, ins);
    if (rec) bc = bv_arena_alloc(&ctx->arena, sizeof *bc);
    bcast_init(bc, a, b, nd, shape);
    bv_tensor *out = bv_new(ctx, BV_F32, nd, shape);
    if (bc->numel > 0) bin_forward(k, out->data, a->data, b->data, bc);
    if (rec) {
        bv_node *node = bv_record(ctx, op, bin_backward, 2, ins, 1, &out);
        node->saved = bc;
        node->iattr[0] = k;
    }
    return out;
}

bv_tensor *bv_add(bv_ctx *ctx, bv_tensor *a, bv_tensor *b) { return binary(ctx, BIN_ADD, BV_OP_ADD, "add", a, b); }
bv_tensor *bv_sub(bv_ctx *ctx, bv_tensor *a, bv_tensor *b) { return binary(ctx, BIN_SUB, BV_OP_SUB, "sub", a, b); }
bv_tensor *bv_mul(bv_ctx *ctx, bv_tensor *a, bv_tensor *b) { return binary(ctx, BIN_MUL, BV_OP_MUL, "mul", a, b); }
bv_tensor *bv_div(bv_ctx *ctx, bv_tensor *a, bv_tensor *b) { return binary(ctx, BIN_DIV, BV_OP_DIV, "div", a, b); }

/* ------------------------------------------------------------------------------------------ */
/* unary ops                                                                                    */

static inline float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

/* c ? a : b as a bitwise blend of two values both computed. Written as a plain ?: GCC sinks a
 * multiply into the arm that needs it (x * slope only when x <= 0, since under -ftrapping-math it
 * may not evaluate it otherwise), which is a branch, and the loop stays scalar: leaky_relu ran at
 * a tenth of memory speed. Same values bit for bit. */
static inline float select_f(int c, float a, float b) {
    uint32_t ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    const uint32_t m = -(uint32_t)(c != 0), r = (ua & m) | (ub & ~m);
    float f;
    memcpy(&f, &r, sizeof f);
    return f;
}

/* torch's pow backward: exponent 0 has a zero gradient everywhere (not 0 * x^-1). */
static inline float pow_deriv(float x, float p) { return p == 0.0f ? 0.0f : p * powf(x, p - 1.0f); }

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT2PI 0.39894228040143267794f

/* X(name, op, forward f(x; p0, p1), derivative f'(x, y; p0, p1)) */
#define UNARY_OPS(X)                                                                              \
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
                             const float *restrict Y, int64_t n, float p0, float p1);

#define UNARY_KERNELS(name, OP, FWD, DER)                                                         \
    static void name##_fwd(float *restrict Y, const float *restrict X, int64_t n, float p0, float p1) { \
        _Pragma("omp parallel for simd schedule(static) if (n >= PAR_MIN)")                      \
        for (int64_t i = 0; i < n; i++) {                                                         \
            const float x = X[i];                                                                 \
            Y[i] = (FWD);                                                                         \
        }                                                                                         \
    }                                                                                             \
    static void name##_bwd(float *restrict GX, const float *restrict GY, const float *restrict X, \
                           const float *restrict Y, int64_t n, float p0, float p1) {              \
        _Pragma("omp parallel for simd schedule(static) if (n >= PAR_MIN)")                      \
        for (int64_t i = 0; i < n; i++) {                                                         \
            const float x = X[i], y = Y[i];                                                       \
            (void)x;                                                                              \
            (void)y;                                                                              \
            GX[i] += GY[i] * (DER);                                                               \
        }                                                                                         \
    }
UNARY_OPS(UNARY_KERNELS)
#undef UNARY_KERNELS

typedef enum {
#define UNARY_ENUM(name, OP, FWD, DER) U_##OP,
    UNARY_OPS(UNARY_ENUM)
#undef UNARY_ENUM
    U_COUNT
} unary_kind;

typedef struct {
    const char *name;
    bv_op op;
    unary_fwd_fn fwd;
    unary_bwd_fn bwd;
} unary_def;

static const unary_def unary_table[U_COUNT] = {
#define UNARY_ROW(name, OP, FWD, DER) {#name, BV_OP_##OP, name##_fwd, name##_bwd},
    UNARY_OPS(UNARY_ROW)
#undef UNARY_ROW
};

static void unary_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    if (!x->requires_grad) return;
    const unary_def *u = &unary_table[n->iattr[0]];
    u->bwd(bv_grad(ctx, x), y->grad, x->data, y->data, x->numel, (float)n->fattr[0], (float)n->fattr[1]);
}

static bv_tensor *unary(bv_ctx *ctx, unary_kind k, bv_tensor *x, float p0, float p1) {
    const unary_def *u = &unary_table[k];
    bv_check_cpu(ctx, u->name, x);
    bv_check_dtype(ctx, u->name, x, BV_F32);
    bv_tensor *y = bv_new_like(ctx, x);
    u->fwd(y->data, x->data, x->numel, p0, p1);
    if (bv_needs_grad(ctx, 1, &x)) {
        bv_node *node = bv_record(ctx, u->op, unary_backward, 1, &x, 1, &y);
        node->iattr[0] = k;
        node->fattr[0] = p0;
        node->fattr[1] = p1;
    }
    return y;
}

bv_tensor *bv_add_scalar(bv_ctx *ctx, bv_tensor *a, float s) { return unary(ctx, U_ADD_SCALAR, a, s, 0); }
bv_tensor *bv_mul_scalar(bv_ctx *ctx, bv_tensor *a, float s) { return unary(ctx, U_MUL_SCALAR, a, s, 0); }
bv_tensor *bv_rsub_scalar(bv_ctx *ctx, float s, bv_tensor *a) { return unary(ctx, U_RSUB_SCALAR, a, s, 0); }
bv_tensor *bv_pow_scalar(bv_ctx *ctx, bv_tensor *a, float p) { return unary(ctx, U_POW_SCALAR, a, p, 0); }
bv_tensor *bv_neg(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_NEG, a, 0, 0); }
bv_tensor *bv_exp(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_EXP, a, 0, 0); }
bv_tensor *bv_log(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_LOG, a, 0, 0); }
bv_tensor *bv_sqrt(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_SQRT, a, 0, 0); }
bv_tensor *bv_square(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_SQUARE, a, 0, 0); }
bv_tensor *bv_abs(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_ABS, a, 0, 0); }
bv_tensor *bv_tanh(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_TANH, a, 0, 0); }
bv_tensor *bv_sigmoid(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_SIGMOID, a, 0, 0); }
bv_tensor *bv_relu(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_RELU, a, 0, 0); }
bv_tensor *bv_leaky_relu(bv_ctx *ctx, bv_tensor *a, float slope) { return unary(ctx, U_LEAKY_RELU, a, slope, 0); }
bv_tensor *bv_gelu(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_GELU, a, 0, 0); }
bv_tensor *bv_silu(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_SILU, a, 0, 0); }
bv_tensor *bv_softplus(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_SOFTPLUS, a, 0, 0); }
bv_tensor *bv_logsigmoid(bv_ctx *ctx, bv_tensor *a) { return unary(ctx, U_LOGSIGMOID, a, 0, 0); }
bv_tensor *bv_clamp(bv_ctx *ctx, bv_tensor *a, float lo, float hi) { return unary(ctx, U_CLAMP, a, lo, hi); }
