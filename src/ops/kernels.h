/* kernels.h - the per-device kernel table: what an op constructor calls once it has checked its
 * inputs (src/ops/<family>.c) and what a device implements (src/ops/cpu/<family>.c today,
 * src/ops/cuda/ beside it later).
 *
 * One struct of typed slots per op family; a device fills the slots it has. Constructors and
 * backward rules reach a slot only through BV_KERNEL (dispatch.h), which fails with the op's name
 * and the device when the slot is empty. Kernels see flat device pointers and sizes, never a
 * context: shape checks, output allocation and tape recording stay in the constructor, so a new
 * device writes arithmetic only. A kernel that needs a cache takes the backend (core/backend.h).
 *
 * Conventions: outputs first; gradient kernels ACCUMULATE (+=) into what they are given.
 */
#ifndef BV_OPS_KERNELS_H
#define BV_OPS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/arena.h"
#include "../core/backend.h"
#include "../core/rng.h"
#include "../core/tensor.h"
#include "conv_types.h"

/* ---------------- elementwise (constructors: elementwise.c) ---------------- */

/* Broadcast layout of `a op b`, coalesced (elementwise.c): output dims of size 1 dropped, adjacent
 * dims laid out alike in both inputs merged; the innermost stride of each input is 0 or 1. */
typedef struct bv_bcast {
    int nd;                          /* coalesced dims, >= 1 */
    int64_t shape[BV_MAX_DIMS];      /* coalesced output shape */
    int64_t sa[BV_MAX_DIMS];         /* element strides of a per coalesced dim (0: broadcast) */
    int64_t sb[BV_MAX_DIMS];
    int64_t numel;
} bv_bcast;

typedef enum { BV_BIN_ADD, BV_BIN_SUB, BV_BIN_MUL, BV_BIN_DIV } bv_bin_kind;

/* d out / d a (or b) per element, times the upstream grad g: g, -g, g*y, g*x, g/y, -g*x/y^2. */
typedef enum { BV_TERM_G, BV_TERM_NEG_G, BV_TERM_G_Y, BV_TERM_G_X, BV_TERM_G_DIV_Y, BV_TERM_DIVB } bv_grad_term;

/* Unary ops: X(name, OP) - name is the op's name in messages, OP its bv_op and unary kind. Scalar
 * parameters p0, p1: leaky_relu slope; clamp lo, hi; add/mul/rsub/pow scalar. */
#define BV_UNARY_OPS(X)                                                                            \
    X(neg, NEG) X(exp, EXP) X(log, LOG) X(sqrt, SQRT) X(square, SQUARE) X(abs, ABS) X(tanh, TANH) \
    X(sigmoid, SIGMOID) X(relu, RELU) X(leaky_relu, LEAKY_RELU) X(gelu, GELU) X(silu, SILU)        \
    X(softplus, SOFTPLUS) X(logsigmoid, LOGSIGMOID) X(clamp, CLAMP) X(add_scalar, ADD_SCALAR)      \
    X(mul_scalar, MUL_SCALAR) X(rsub_scalar, RSUB_SCALAR) X(pow_scalar, POW_SCALAR)

typedef enum {
#define BV_UNARY_ENUM(name, OP) BV_U_##OP,
    BV_UNARY_OPS(BV_UNARY_ENUM)
#undef BV_UNARY_ENUM
    BV_U_COUNT
} bv_unary_kind;

typedef struct bv_elementwise_kernels {
    /* out = a op b over the layout */
    void (*binary)(bv_bin_kind k, float *out, const float *a, const float *b, const bv_bcast *bc);
    /* d += term(g, a, b) where the target has the output's shape; overwrite: d = 0 + term, d's old
     * contents never read (a fresh gradient: no zero fill first; the same bits, -0 included) */
    void (*binary_grad_full)(bv_grad_term k, float *d, const float *g, const float *a, const float *b,
                             const bv_bcast *bc, int overwrite);
    /* d += sum over the target's stretched dims of term(g, a, b); st = its strides (bc->sa or ->sb) */
    void (*binary_grad_reduce)(bv_grad_term k, float *d, const int64_t *st, const float *g, const float *a,
                               const float *b, const bv_bcast *bc);
    /* y = f(x); gx += gy * f'(x, y) (overwrite: gx = 0 + gy * f'(x, y), as binary_grad_full) */
    void (*unary)(bv_unary_kind k, float *y, const float *x, int64_t n, float p0, float p1);
    void (*unary_grad)(bv_unary_kind k, float *gx, const float *gy, const float *x, const float *y, int64_t n,
                       float p0, float p1, int overwrite);
} bv_elementwise_kernels;

/* =================== reduce, norm, shape, random, relpos,
 * gate; the parameter initialisers (init.c) use random, shape.fill/copy and norm.row_norm
 * ======================= */

/* A tensor seen as [outer, n, inner] around one axis: reductions and normalisations over n. */
typedef struct bv_axis_geom {
    int64_t outer, n, inner;
} bv_axis_geom;

/* ---------------- reduce (constructors: reduce.c) ---------------- */
typedef struct bv_reduce_kernels {
    /* y[o, i] = scale * sum_k x[o, k, i], summed in double; every y is `empty` when n == 0 */
    void (*sum)(float *y, const float *x, bv_axis_geom g, double scale, float empty);
    /* gx[o, k, i] += scale * gy[o, i] */
    void (*sum_grad)(float *gx, const float *gy, bv_axis_geom g, float scale);
    /* y[o, i] = sqrt(sum_k (x - mean)^2 / (n - ddof)), two passes in double; mean[o, i] kept */
    void (*std)(float *y, float *mean, const float *x, bv_axis_geom g, int ddof);
    /* gx += gy * (x - mean) / ((n - ddof) * y) */
    void (*std_grad)(float *gx, const float *gy, const float *x, const float *y, const float *mean, bv_axis_geom g,
                     int ddof);
} bv_reduce_kernels;

/* ---------------- norm (constructors: norm.c) ---------------- */
/* Group norm of x [B, C, S...]: S = product of the dims after C, G groups of C/G channels. */
typedef struct bv_group_geom {
    int64_t B, C, G, S;
} bv_group_geom;

typedef struct bv_norm_kernels {
    /* layer norm over n of [outer, n, inner]: y = (x - mean) * rstd * gamma + beta (gamma, beta [n]
     * or NULL); mean, rstd [outer, inner] kept for the gradient */
    void (*layer_norm)(float *y, float *mean, float *rstd, const float *x, const float *gamma, const float *beta,
                       bv_axis_geom g, float eps);
    void (*layer_norm_grad_x)(float *gx, const float *gy, const float *x, const float *mean, const float *rstd,
                              const float *gamma, bv_axis_geom g);
    /* ggamma[c] += sum gy * xhat, gbeta[c] += sum gy (either may be NULL) */
    void (*layer_norm_grad_affine)(float *ggamma, float *gbeta, const float *gy, const float *x, const float *mean,
                                   const float *rstd, bv_axis_geom g);
    /* group norm: mean, rstd [B * G] */
    void (*group_norm)(float *y, float *mean, float *rstd, const float *x, const float *gamma, const float *beta,
                       bv_group_geom gg, float eps);
    void (*group_norm_grad_x)(float *gx, const float *gy, const float *x, const float *mean, const float *rstd,
                              const float *gamma, bv_group_geom gg);
    void (*group_norm_grad_affine)(float *ggamma, float *gbeta, const float *gy, const float *x, const float *mean,
                                   const float *rstd, bv_group_geom gg);
    /* softmax (log_out 0) or log_softmax (1) over n; grad from the output y. y may be x (in place). */
    void (*softmax)(float *y, const float *x, bv_axis_geom g, int log_out);
    void (*softmax_grad)(float *gx, const float *gy, const float *y, bv_axis_geom g, int log_out);
    /* g[o] = sqrt(sum_j v[o, j]^2) over rows of cols elements, summed in double */
    void (*row_norm)(float *g, const float *v, int64_t rows, int64_t cols);
} bv_norm_kernels;

/* ---------------- shape (constructors: shape.c) ---------------- */
typedef enum { BV_STRIDED_COPY32, BV_STRIDED_COPY64, BV_STRIDED_ADD } bv_strided_kind;

/* One view pair, listed in dst iteration order. Strides are in elements; src strides may be 0
 * (broadcast) or negative (flip); dst strides may be 0 only in add mode (a reduction). */
typedef struct bv_strided_view {
    int nd;
    int64_t n[BV_MAX_DIMS];
    int64_t sd[BV_MAX_DIMS];
    int64_t ss[BV_MAX_DIMS];
} bv_strided_view;

/* F.pad, planned by the constructor: for every output dim the source index of each output position
 * (-1: the constant), map[d] in the context's arena. */
typedef struct bv_pad_plan {
    int nd;
    int64_t xshape[BV_MAX_DIMS], yshape[BV_MAX_DIMS], ynumel;
    int64_t *map[BV_MAX_DIMS];
    int64_t lo[BV_MAX_DIMS], hi[BV_MAX_DIMS]; /* output range where map[j] == j - left */
    int64_t left[BV_MAX_DIMS];
    int first_padded;                          /* first dim with a non-zero pad (nd if none) */
    float value;
} bv_pad_plan;

/* masked_fill: x's shape, and the mask's strides aligned to x's dims (0 where it broadcasts). */
typedef struct bv_mask_layout {
    int nd;
    int64_t shape[BV_MAX_DIMS], ms[BV_MAX_DIMS], numel;
    int mask_i64;        /* mask dtype: i64 (1) or f32 (0) */
    int fill_where_zero; /* fill where mask == 0 instead of mask != 0 */
} bv_mask_layout;

typedef struct bv_shape_kernels {
    /* dst[view] = src[view] (copy kinds, f32 or i64) or dst[view] += src[view] (BV_STRIDED_ADD, f32) */
    void (*strided)(bv_strided_kind k, void *dst, const void *src, bv_strided_view v);
    /* gx += gy over n elements */
    void (*accumulate)(float *gx, const float *gy, int64_t n);
    void (*copy)(void *dst, const void *src, size_t bytes);
    /* y = pad(x) (i64: int64 elements, else f32); gx += pad^T(gy), parallel_all for constant pads */
    void (*pad)(void *y, const void *x, const bv_pad_plan *p, int i64);
    void (*pad_grad)(float *gx, const float *gy, const bv_pad_plan *p, int parallel_all);
    /* running sums over D of [outer, D, inner] in double; reverse sums from the end; accumulate: y += */
    void (*cumsum)(float *y, const float *x, int64_t outer, int64_t D, int64_t inner, int reverse, int accumulate);
    /* backward 0: out = fill ? value : in; backward 1: out += fill ? 0 : in */
    void (*masked_fill)(float *out, const float *in, const void *mask, const bv_mask_layout *l, float value,
                        int backward);
    void (*i64_to_f32)(float *y, const int64_t *x, int64_t n);
    void (*f32_to_i64)(int64_t *y, const float *x, int64_t n); /* truncation as .long() */
    void (*fill)(float *t, int64_t n, float v);
} bv_shape_kernels;

/* ---------------- random (constructors: random.c; parameter initialisers: init.c) ---------------- */
/* Draws come from the host-side rng in element order (a replayable sequence), whatever the device. */
typedef struct bv_random_kernels {
    /* t[i] = (float)(normal * sd) */
    void (*normal)(float *t, int64_t n, bv_rng *rng, double sd);
    /* t[i] = (float)uniform, in [0, 1) */
    void (*uniform)(float *t, int64_t n, bv_rng *rng);
    /* t[i] = (float)((2 * uniform - 1) * bound): U(-bound, bound) as the parameter initialisers draw it */
    void (*uniform_sym)(float *t, int64_t n, bv_rng *rng, double bound);
    /* y[i] = x[i] * keep_i, keep_i = (u_i >= p ? 1 / (1 - p) : 0) with u_i a function of (key, i) alone,
     * so backward draws the same factors again instead of keeping a mask */
    void (*dropout)(float *y, const float *x, int64_t n, uint64_t key, float p);
    /* gx[i] += g[i] * keep_i (ow: gx[i] = 0 + g[i] * keep_i), keep_i as dropout's for the same key */
    void (*dropout_grad)(float *gx, const float *g, int64_t n, uint64_t key, float p, int ow);
    /* The FFN's x_mask * dropout(relu(h)) over h [B, C, T], m [B, T]: y = (relu(h) * keep) * m, keep_i
     * as dropout's for the key (keep = 1 when p == 0). Backward: gh (+)= ((0 + (0 + g m) keep) (h > 0)),
     * the bits the three ops' rules give in turn (ow: gh = 0 + that; p == 0: no keep term). */
    void (*relu_dropout_mask)(float *y, const float *h, const float *m, int64_t B, int64_t C, int64_t T,
                              uint64_t key, float p);
    void (*relu_dropout_mask_grad)(float *gh, const float *g, const float *h, const float *m, int64_t B, int64_t C,
                                   int64_t T, uint64_t key, float p, int ow);
} bv_random_kernels;

/* ---------------- relpos (constructors: relpos.c) ---------------- */
/* BH = B * h rows of L positions, H heads, hs = 1 when emb is shared by the heads (emb [1, 2w+1, K],
 * else [H, 2w+1, K]); band |j - i| <= w, emb row j - i + w. */
typedef struct bv_relpos_kernels {
    /* out[bh, i, j] = q[bh, i, :] . emb[., j - i + w, :] inside the band (out pre-zeroed), or
     * (accumulate) out[bh, i, j] += that: the band added to attention scores in place */
    void (*logits)(float *out, const float *q, const float *emb, int64_t BH, int64_t H, int64_t hs, int64_t L,
                   int64_t K, int64_t w, int accumulate);
    /* dst[bh, i, :] += sum_j band[bh, i, j] emb[., j - i + w, :] (rel_values forward; d q of logits) */
    void (*band_times_emb)(float *dst, const float *band, const float *emb, int64_t BH, int64_t H, int64_t hs,
                           int64_t L, int64_t K, int64_t w);
    /* demb[., r, :] += sum_{bh, i; j = i + r - w} band[bh, i, j] * rows[bh, i, :] */
    void (*band_outer_rows)(float *demb, const float *band, const float *rows, int64_t BH, int64_t H, int64_t hs,
                            int64_t L, int64_t K, int64_t w);
    /* dp[bh, i, j] += g[bh, i, :] . emb[., j - i + w, :] inside the band */
    void (*values_grad_p)(float *dp, const float *g, const float *emb, int64_t BH, int64_t H, int64_t hs, int64_t L,
                          int64_t K, int64_t w);
    /* b [T, T] = -log1p(|i - j|) */
    void (*proximal_bias)(float *b, int64_t T);
    /* b [T, T] = 1 outside |j - i| <= bl, else 0 */
    void (*local_mask)(float *b, int64_t T, int64_t bl);
} bv_relpos_kernels;

/* ---------------- gate (constructor: gate.c) ---------------- */
/* a [B, 2n, T], b [B, 2n, Tb] (Tb == T, or 1: broadcast over time) or NULL (zeros). */
typedef struct bv_gate_kernels {
    /* out [B, n, T] = tanh(a + b)[:, :n] * sigmoid(a + b)[:, n:] */
    void (*fwd)(float *out, const float *a, const float *b, int64_t B, int64_t n, int64_t T, int64_t Tb);
    /* ga += d a, gb += d b (summed over time when Tb == 1); either may be NULL; din [B, 2n, T] scratch */
    void (*grad)(float *ga, float *gb, float *din, const float *gout, const float *a, const float *b, int64_t B,
                 int64_t n, int64_t T, int64_t Tb);
} bv_gate_kernels;

/* ================= linalg, lstm, spline, align, resample, stft, mel, conv ================= */
/* Kernels that need temporary device memory take `scratch`, an arena they may allocate from and
 * rewind to where they found it before returning (the constructor passes its context's arena). */

/* ---------------- linalg (constructors: linalg.c) ---------------- */

typedef struct bv_linalg_kernels {
    /* out [batch, M, N] = a [batch, M, K] @ b [batch, K, N] (shared: b [K, N] for every item) */
    void (*matmul)(float *out, const float *a, const float *b, int64_t batch, int64_t M, int64_t K, int64_t N,
                   int shared);
    /* ga += g b^T, gb += a^T g (either may be NULL) */
    void (*matmul_grad)(float *ga, float *gb, const float *g, const float *a, const float *b, int64_t batch,
                        int64_t M, int64_t K, int64_t N, int shared);
    /* y [rows, Dout] = x [rows, Din] W^T + b (b may be NULL) */
    void (*linear)(float *y, const float *x, const float *w, const float *b, int64_t rows, int64_t Din, int64_t Dout);
    /* gx += g W, gw += g^T x, gb += column sums of g (each may be NULL) */
    void (*linear_grad)(float *gx, float *gw, float *gb, const float *g, const float *x, const float *w, int64_t rows,
                        int64_t Din, int64_t Dout);
    /* y [n, D] = rows ids[i] of w [V, D] (ids checked by the constructor); gw[ids[i]] += gy[i] */
    void (*embedding)(float *y, const float *w, const int64_t *ids, int64_t n, int64_t D);
    void (*embedding_grad)(float *gw, const float *gy, const int64_t *ids, int64_t n, int64_t D);
    /* The same products under BV_AUTOCAST_BF16 (core/ctx.h): inputs read as bf16, fp32 accumulation
     * and output, gradients accumulated (+=) in fp32. 0, or -1 with a message in err
     * (BV_KERNEL_ERR_LEN). NULL: the device has no bf16 matmul. */
    int (*matmul_bf16)(bv_backend *be, bv_arena *scratch, float *out, const float *a, const float *b, int64_t batch,
                       int64_t M, int64_t K, int64_t N, int shared, char *err);
    int (*matmul_grad_bf16)(bv_backend *be, bv_arena *scratch, float *ga, float *gb, const float *g, const float *a,
                            const float *b, int64_t batch, int64_t M, int64_t K, int64_t N, int shared, char *err);
    /* linear's w16: the weight's kept bf16 copy (tensor.h: frozen parameters), or NULL (round w). */
    void (*to_bf16)(uint16_t *dst, const float *src, int64_t n); /* rounded to nearest even */
    int (*linear_bf16)(bv_backend *be, bv_arena *scratch, float *y, const float *x, const float *w,
                       const uint16_t *w16, const float *b, int64_t rows, int64_t Din, int64_t Dout, char *err);
    int (*linear_grad_bf16)(bv_backend *be, bv_arena *scratch, float *gx, float *gw, float *gb, const float *g,
                            const float *x, const float *w, const uint16_t *w16, int64_t rows, int64_t Din,
                            int64_t Dout, char *err);
} bv_linalg_kernels;

/* ---------------- lstm (constructor: lstm.c) ---------------- */

/* nn.LSTM(batch_first) of one layer, D = 1 or 2 directions, H hidden. Weights per direction d:
 * w[4d + 0..3] = W_ih [4H, In], W_hh [4H, H], b_ih [4H], b_hh [4H]. */
typedef struct bv_lstm_kernels {
    /* y [B, T, D*H], hn, cn [D, B, H]; acts[d] [B, T, 4H] (activated gates) and cells[d] [B, T, H]
     * are kept for backward. */
    void (*forward)(float *y, float *hn, float *cn, float *const *acts, float *const *cells, const float *x,
                    const float *const *w, int64_t B, int64_t T, int64_t In, int64_t H, int D);
    /* BPTT: gx [B, T, In] and gw[i] (each may be NULL) += the grads from gy [B, T, D*H], ghn, gcn [D, B, H]. */
    void (*backward)(bv_arena *scratch, float *gx, float *const *gw, const float *const *acts,
                     const float *const *cells, const float *x, const float *y, const float *const *w,
                     const float *gy, const float *ghn, const float *gcn, int64_t B, int64_t T, int64_t In, int64_t H,
                     int D);
    /* The same under BV_AUTOCAST_BF16: the gate products (input projection, recurrence, and in backward
     * dx, dW_ih, dW_hh, dh) read bf16 inputs and accumulate in fp32; gates, cells and every
     * elementwise step stay fp32. 0, or -1 with a message in err. NULL: no bf16 LSTM. */
    int (*forward_bf16)(bv_backend *be, bv_arena *scratch, float *y, float *hn, float *cn, float *const *acts,
                        float *const *cells, const float *x, const float *const *w, int64_t B, int64_t T, int64_t In,
                        int64_t H, int D, char *err);
    int (*backward_bf16)(bv_backend *be, bv_arena *scratch, float *gx, float *const *gw, const float *const *acts,
                         const float *const *cells, const float *x, const float *y, const float *const *w,
                         const float *gy, const float *ghn, const float *gcn, int64_t B, int64_t T, int64_t In,
                         int64_t H, int D, char *err);
} bv_lstm_kernels;

/* ---------------- spline (constructor: spline.c) ---------------- */

/* The rational-quadratic spline's settings; n elements, each with K bins of logits. */
#define BV_SPLINE_MAX_BINS 1024 /* the CPU kernel keeps per-element knots on the stack */
typedef struct bv_spline_params {
    int64_t bins;
    int inverse;
    float tail_bound, min_bin_width, min_bin_height, min_derivative;
} bv_spline_params;

typedef struct bv_spline_kernels {
    /* y, logabsdet [n] from x [n], uw, uh [n, K], ud [n, K-1] */
    void (*forward)(float *y, float *logabsdet, const float *x, const float *uw, const float *uh, const float *ud,
                    int64_t n, const bv_spline_params *p);
    /* gx, guw, guh, gud (each may be NULL) += grads of sum(gy * y + gl * logabsdet) */
    void (*backward)(float *gx, float *guw, float *guh, float *gud, const float *gy, const float *gl, const float *x,
                     const float *uw, const float *uh, const float *ud, int64_t n, const bv_spline_params *p);
} bv_spline_kernels;

/* ---------------- align (constructors: align.c) ---------------- */

typedef struct bv_align_kernels {
    /* t_y[b], t_x[b] (host arrays) = mask.sum(1)[b, 0], mask.sum(2)[b, 0] as int32, mask [B, Ty, Tx] */
    void (*mas_lengths)(int64_t *t_y, int64_t *t_x, const float *mask, int64_t B, int64_t Ty, int64_t Tx);
    /* path [B, Ty, Tx] (zeroed by the caller) of maximum_path; value [B*Ty*Tx] is scratch the kernel
     * overwrites with neg_cent and its running maxima */
    void (*maximum_path)(float *path, float *value, const float *neg_cent, const int64_t *t_y, const int64_t *t_x,
                         int64_t B, int64_t Ty, int64_t Tx);
    /* path [B, 1, Ty, Tx] from duration [B, 1, Tx] and mask [B, 1, Ty, Tx]; cum [B*Tx] is scratch */
    void (*generate_path)(float *path, float *cum, const float *duration, const float *mask, int64_t B, int64_t Ty,
                          int64_t Tx);
    /* the largest length of [B] (I64 ids when idata, else f32 rounded up) */
    int64_t (*max_length)(const int64_t *idata, const float *fdata, int64_t B);
    /* m [B, L] I64 = t < length[b] */
    void (*sequence_mask)(int64_t *m, const int64_t *idata, const float *fdata, int64_t B, int64_t L);
    /* ids[b] = (int64)(r[b] * max(len[b] - seg + 1, 0)), len = lengths[b] or T when lengths is NULL */
    void (*slice_starts)(int64_t *ids, const float *r, const int64_t *lengths, int64_t B, int64_t T, int64_t seg);
} bv_align_kernels;

/* ---------------- resample (constructor: resample.c) ---------------- */

/* torchaudio's sinc kernel for one rate pair: o = orig/gcd, n = new/gcd, w [n, 1, klen] in device
 * memory, klen = 2*width + o. Kept in the backend's BV_CACHE_RESAMPLE slot until shutdown. */
typedef struct bv_resample_plan {
    int orig, new_, gcd, o, n, width, klen;
    const float *w;
} bv_resample_plan;

typedef struct bv_resample_kernels {
    /* The cached plan of orig -> new (rates > 0 and different); NULL when out of memory. */
    const bv_resample_plan *(*plan)(bv_backend *be, int orig, int new_);
    /* y [B, T_out] from x [B, T] over Fr conv frames per row */
    void (*forward)(bv_arena *scratch, float *y, const float *x, const bv_resample_plan *p, int64_t B, int64_t T,
                    int64_t Fr, int64_t T_out);
    /* dx [B, T] += the grad from gy [B, T_out] */
    void (*backward)(bv_arena *scratch, float *dx, const float *gy, const bv_resample_plan *p, int64_t B, int64_t T,
                     int64_t Fr, int64_t T_out);
} bv_resample_kernels;

/* ---------------- stft (constructor: stft.c) ---------------- */

/* Kernels that call a library which can fail return 0, or write a message of at most
 * BV_KERNEL_ERR_LEN bytes into err and return -1; the constructor reports it with the op's name. */
#define BV_KERNEL_ERR_LEN 192

/* spectrogram_torch(center=False) of y [B, T]: n_fft, hop, reflect pad; F frames, K = n_fft/2+1 bins. */
typedef struct bv_stft_geom {
    int n_fft, hop, pad;
    int64_t B, T, F, K;
} bv_stft_geom;

/* Rows of the kept complex spectrum start every bv_stft_row(2K) floats (64-byte aligned rows). */
static inline size_t bv_stft_row(int64_t nfloats) { return ((size_t)nfloats + 15) & ~(size_t)15; }

typedef struct bv_stft_kernels {
    /* S [B, K, F] = |STFT(y)| (+eps under the sqrt) with the window win [n_fft]; spec_c
     * [B*F rows of bv_stft_row(2K)] keeps the complex spectrum for backward */
    int (*forward)(bv_backend *be, bv_arena *scratch, float *S, float *spec_c, const float *y, const float *win,
                   const bv_stft_geom *g, char *err);
    /* dy [B, T] += the grad from gS [B, K, F] */
    int (*backward)(bv_backend *be, bv_arena *scratch, float *dy, const float *S, const float *gS, const float *spec_c,
                    const float *win, const bv_stft_geom *g, char *err);
} bv_stft_kernels;

/* ---------------- conv (constructors: conv.c) ---------------- */

/* What a conv call asks beyond the geometry. Hashed as raw bytes by the CPU kernels' primitive
 * cache: six 4-byte fields, no padding. */
typedef struct bv_conv_opts {
    int32_t act_blocked; /* the caller's activations are channel-blocked [N, C/16, T, 16] */
    int32_t lrelu;       /* forward: leaky_relu(conv + bias, slope) fused after the conv */
    float slope;
    int32_t diff_bias;   /* set by the backward kernel: its weight pass also writes the bias gradient */
    int32_t bf16;        /* BV_AUTOCAST_BF16 at forward time: x, w, gy read as bf16, fp32 accumulation and
                          * outputs (the backward of a bf16 forward is bf16 too: the op saves its opts) */
    int32_t w_bf16;      /* 0 from callers; inside the CPU kernels: the weight pointer holds bf16 values (its
                          * rounded copy, handed to oneDNN as such) */
} bv_conv_opts;

/* The gradient buffers a conv backward fills (NULL: not wanted). s* = 1 when the buffer already
 * holds a gradient (the kernel adds to it), 0 when it holds none yet: gw, gb are then zero, gx
 * may hold anything (not zeroed): the kernel writes every element of it. */
typedef struct bv_conv_grads {
    float *gx, *gw, *gb, *gr;
    int sx, sw, sb;
} bv_conv_grads;

/* weight_norm's view of v: [outer, D, inner], one norm per d. */
typedef struct bv_wn_view {
    int64_t outer, D, inner;
} bv_wn_view;

/* Inference only (helper "infer"): what forward_post applies after conv + bias, in this order
 * (zero = off): + r (a tensor of y's shape and layout), + y's previous content, / divisor,
 * leaky_relu(slope). nwc: x, y and r are channels-last [N, T, C] (instead of o->act_blocked's or
 * the plain layout). in_slope > 0: the conv reads leaky_relu(x, in_slope) (applied while x is
 * converted). Under o->bf16 only: src_bf16: x's buffer holds bf16 values (N*C*T of them, in its
 * first half); dst_bf16: y's buffer receives bf16 values the same way (no residual, accumulate or
 * divisor then). Hashed as raw bytes: nine 4-byte fields, no padding. */
typedef struct bv_conv_post {
    int32_t residual, accumulate;
    float divisor; /* 0 or 1: none */
    int32_t lrelu;
    float slope;
    int32_t nwc;
    float in_slope;
    int32_t src_bf16, dst_bf16;
} bv_conv_post;

typedef struct bv_conv_kernels {
    /* y = conv(x, w) + b (+ r, same shape as y; NULL: none) over g; ex is the geometry the kernel
     * runs (differs from g only for a transposed conv whose output_padding exceeds its padding:
     * the tail past ex.out[0] then holds only the bias). w16: w already rounded to bf16 (tensor.h
     * bf16; a bf16 weight_norm makes it), or NULL; read by bf16 passes only */
    int (*forward)(bv_backend *be, bv_arena *scratch, const bv_conv_geom *g, const bv_conv_geom *ex,
                   const bv_conv_opts *o, float *y, const float *x, const float *w, const uint16_t *w16, const float *b,
                   const float *r, char *err);
    /* the grads of the forward above from gy (y: the forward's output, read for a fused leaky_relu) */
    int (*backward)(bv_backend *be, bv_arena *scratch, const bv_conv_geom *g, const bv_conv_geom *ex,
                    const bv_conv_opts *o, const bv_conv_grads *gr, const float *gy, const float *y, const float *x,
                    const float *w, const uint16_t *w16, char *err);
    /* dst (+)= src in the other layout: [N, C, T] -> [N, C/16, T, 16] (to_blocked) or back */
    int (*reorder)(bv_backend *be, bv_arena *scratch, float *dst, const float *src, int64_t N, int64_t C, int64_t T,
                   int to_blocked, int accumulate, char *err);
    /* norm [D] (double) = ||v|| per d; w = v * (g / norm) */
    void (*weight_norm)(float *w, double *norm, const float *v, const float *g, bv_wn_view s);
    /* gg += sum(gw*v)/n, gv += (g/n) gw - (g sum(gw*v) / n^3) v (gg or gv may be NULL) */
    void (*weight_norm_grad)(bv_arena *scratch, float *gg, float *gv, const float *gw, const float *v, const float *g,
                             const double *norm, bv_wn_view s);
    /* the layout this backend runs a chain of convs over `channels` channels in (PLAIN or BLOCKED),
     * and the override (BV_CONV_LAYOUT env at first use, or tests) */
    bv_conv_layout (*layout_for)(bv_backend *be, int64_t channels);
    void (*set_layout)(bv_backend *be, bv_conv_layout layout);
    /* 1 when the synthesis path's fp32 chains of convs run channels-last (nwc) on this backend */
    int (*infer_nwc)(bv_backend *be);
    /* the bf16 implementation choice's override (BV_CONV_BF16 env at first use, or tests) */
    void (*set_bf16_mode)(bv_backend *be, bv_conv_bf16_mode mode);
    /* forward_post's piece length for long nwc convs, in output rows (0: whole; BV_CONV_NWC_PIECE
     * env at first use, or tests) */
    void (*set_nwc_piece)(bv_backend *be, int64_t rows);
    /* the primitive cache's capacity and entries in use, and the inference post-op cache's entries
     * in use (tests, bench) */
    void (*cache_stats)(bv_backend *be, int *capacity, int *used, int *post_used);
    /* inference (no backward): y = post(conv(x, w) + b) with bv_conv_post's chain; x and y in the
     * layout o->act_blocked says (both the same); r (or NULL) in y's. y is read first when
     * p->accumulate. */
    int (*forward_post)(bv_backend *be, bv_arena *scratch, const bv_conv_geom *g, const bv_conv_opts *o,
                        const bv_conv_post *p, float *y, const float *x, const float *w, const float *b,
                        const float *r, char *err);
} bv_conv_kernels;

/* ---------------- the table ---------------- */
/* Every op family; a device leaves NULL what it does not implement (its ops then fail by name). */
typedef struct bv_kernels {
    const char *device;
    /* 0 when the device computes bf16 matmul-class ops natively (BV_AUTOCAST_BF16), else -1 and why
     * (a sentence naming what the device lacks); NULL: never. */
    int (*bf16_check)(char *why, size_t cap);
    /* 1 and a sentence when bf16 runs natively but no faster than fp32 on this device (a warning to
     * print, not a refusal), else 0; NULL: never */
    int (*bf16_note)(char *note, size_t cap);
    const bv_elementwise_kernels *elementwise;
    /* reduce, norm, shape, random, relpos, gate */
    const bv_reduce_kernels *reduce;
    const bv_norm_kernels *norm;
    const bv_shape_kernels *shape;
    const bv_random_kernels *random;
    const bv_relpos_kernels *relpos;
    const bv_gate_kernels *gate;
    /* linalg, lstm, spline, align, resample, stft, conv */
    const bv_linalg_kernels *linalg;
    const bv_lstm_kernels *lstm;
    const bv_spline_kernels *spline;
    const bv_align_kernels *align;
    const bv_resample_kernels *resample;
    const bv_stft_kernels *stft;
    const bv_conv_kernels *conv;
} bv_kernels;

extern const bv_kernels bv_cpu_kernels;

#endif
