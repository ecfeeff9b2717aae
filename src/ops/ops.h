/* ops.h - every differentiable op of bertvits2.c: the public API.
 *
 * An op is four pieces, added together (STYLE.md #3): a constructor here that checks dtypes and
 * shapes (errors name the op and both shapes, via bv_ctx_error) and records a tape node, a CPU
 * kernel, the backward rule (ACCUMULATES into input grads), and a test (finite differences plus
 * golden data where it exists). Inputs are f32 unless noted; outputs are new arena tensors.
 * Layout is PyTorch's. Shapes are given in the comments as [dims].
 *
 * Implementation files: elementwise.c, reduce.c, linalg.c, norm.c, shape.c, conv.c, lstm.c,
 * spline.c, stft.c, resample.c, random.c, relpos.c, gate.c, init.c (parameter initialisers),
 * align.c (non-differentiable helpers).
 */
#ifndef BV_OPS_H
#define BV_OPS_H

#include <math.h>

#include "../core/ctx.h"
#include "../core/params.h"
#include "conv_types.h"

/* ---------------- elementwise.c ---------------- */
/* Binary ops broadcast numpy-style (trailing dims aligned, size-1 dims stretch); the gradient of a
 * broadcast input is summed over the stretched dims. */
bv_tensor *bv_add(bv_ctx *ctx, bv_tensor *a, bv_tensor *b);
bv_tensor *bv_sub(bv_ctx *ctx, bv_tensor *a, bv_tensor *b);
bv_tensor *bv_mul(bv_ctx *ctx, bv_tensor *a, bv_tensor *b);
bv_tensor *bv_div(bv_ctx *ctx, bv_tensor *a, bv_tensor *b);
bv_tensor *bv_add_scalar(bv_ctx *ctx, bv_tensor *a, float s);      /* a + s */
bv_tensor *bv_mul_scalar(bv_ctx *ctx, bv_tensor *a, float s);      /* a * s */
bv_tensor *bv_rsub_scalar(bv_ctx *ctx, float s, bv_tensor *a);     /* s - a */
bv_tensor *bv_pow_scalar(bv_ctx *ctx, bv_tensor *a, float p);      /* a ** p */
bv_tensor *bv_neg(bv_ctx *ctx, bv_tensor *a);
bv_tensor *bv_exp(bv_ctx *ctx, bv_tensor *a);
bv_tensor *bv_log(bv_ctx *ctx, bv_tensor *a);
bv_tensor *bv_sqrt(bv_ctx *ctx, bv_tensor *a);
bv_tensor *bv_square(bv_ctx *ctx, bv_tensor *a);
bv_tensor *bv_abs(bv_ctx *ctx, bv_tensor *a);                      /* grad 0 at 0, as torch */
bv_tensor *bv_tanh(bv_ctx *ctx, bv_tensor *a);
bv_tensor *bv_sigmoid(bv_ctx *ctx, bv_tensor *a);
bv_tensor *bv_relu(bv_ctx *ctx, bv_tensor *a);
bv_tensor *bv_leaky_relu(bv_ctx *ctx, bv_tensor *a, float slope);
bv_tensor *bv_gelu(bv_ctx *ctx, bv_tensor *a);                     /* exact erf form */
bv_tensor *bv_silu(bv_ctx *ctx, bv_tensor *a);
bv_tensor *bv_softplus(bv_ctx *ctx, bv_tensor *a);                 /* beta 1, threshold 20 as torch */
bv_tensor *bv_logsigmoid(bv_ctx *ctx, bv_tensor *a);
/* clamp(a, lo, hi); pass -INFINITY / INFINITY for no bound. Grad passes where lo <= a <= hi. */
bv_tensor *bv_clamp(bv_ctx *ctx, bv_tensor *a, float lo, float hi);

/* ---------------- reduce.c ---------------- */
#define BV_ALL_DIMS 99
bv_tensor *bv_sum(bv_ctx *ctx, bv_tensor *a);                                  /* -> [] */
bv_tensor *bv_mean(bv_ctx *ctx, bv_tensor *a);                                 /* -> [] */
bv_tensor *bv_sum_dim(bv_ctx *ctx, bv_tensor *a, int dim, int keepdim);
bv_tensor *bv_mean_dim(bv_ctx *ctx, bv_tensor *a, int dim, int keepdim);
/* torch.std: unbiased (n-1) by default; dim = BV_ALL_DIMS reduces everything to []. */
bv_tensor *bv_std_dim(bv_ctx *ctx, bv_tensor *a, int dim, int keepdim, int unbiased);

/* ---------------- linalg.c (BLAS) ---------------- */
/* a [..., M, K] @ b [..., K, N] -> [..., M, N]; batch dims equal, or b 2-d (shared). */
bv_tensor *bv_matmul(bv_ctx *ctx, bv_tensor *a, bv_tensor *b);
/* nn.Linear: x [..., in] @ w[out, in]^T + b[out] (b may be NULL). */
bv_tensor *bv_linear(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b);
/* For a store that never changes again (the frozen WavLM): every 2-d parameter gets a bf16 copy
 * (tensor.h ->bf16, owned by the store) that bv_linear under BV_AUTOCAST_BF16 reads instead of
 * rounding the fp32 weight on every call (the same bf16 values). Calling it again refreshes the
 * copies; anything that writes the store's data afterwards must call it again. */
void bv_linear_keep_bf16(bv_params *ps);
/* nn.Embedding: weight [V, D], ids I64 [...] -> [..., D]; an id outside [0, V) is an error. */
bv_tensor *bv_embedding(bv_ctx *ctx, bv_tensor *weight, bv_tensor *ids);

/* ---------------- conv.c (oneDNN) ---------------- */
/* x [B, Cin, T], w [Cout, Cin/groups, K], b [Cout] or NULL. */
bv_tensor *bv_conv1d(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b, int stride, int padding, int dilation,
                     int groups);
/* x [B, Cin, T], w [Cin, Cout/groups, K] (PyTorch layout), b [Cout] or NULL.
 * T_out = (T-1)*stride - 2*padding + dilation*(K-1) + output_padding + 1. */
bv_tensor *bv_conv_transpose1d(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b, int stride, int padding,
                               int output_padding, int groups, int dilation);
/* x [B, Cin, H, W], w [Cout, Cin/groups, KH, KW], b [Cout] or NULL. */
bv_tensor *bv_conv2d(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b, int stride_h, int stride_w, int pad_h,
                     int pad_w, int dil_h, int dil_w, int groups);
/* torch.nn.utils.weight_norm: w = g * v / ||v||, norm over every dim except `dim`
 * (dim 0: g [out, 1, ...]; dim 2 for WavLM's pos_conv: g [1, 1, K]). */
bv_tensor *bv_weight_norm(bv_ctx *ctx, bv_tensor *g, bv_tensor *v, int dim);
/* conv1d with what the Generator's ResBlocks fuse into it (designated initialisers; zero = off):
 *   .blocked   x and the output are channel-blocked (below); groups 1, Cin and Cout multiples of 16;
 *   .lrelu     leaky_relu(conv + b, .slope) computed inside oneDNN's kernel; slope > 0 (backward
 *              reads the output's sign, so the pre-activation is never stored);
 *   .residual  + residual, a tensor of the output's shape (the residual connection as one op; not
 *              with .lrelu).
 * The values are those of the separate ops, bit for bit. */
typedef struct bv_conv1d_fusion {
    int blocked, lrelu;
    float slope;
    bv_tensor *residual;
} bv_conv1d_fusion;
bv_tensor *bv_conv1d_fused(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b, int stride, int padding,
                           int dilation, int groups, const bv_conv1d_fusion *f);
/* Channel-blocked activations, the layout oneDNN's direct conv kernels work in (AVX-512): element
 * (b, c, t) of [B, C, T] at [b, c/16, t, c%16] of [B, C/16, T, 16]. A chain of blocked convs and
 * elementwise ops between them (same-shape operands) skips the two reorders every plain-layout
 * conv call pays. C must be a multiple of BV_CONV_BLOCK (conv_types.h). */
bv_tensor *bv_conv_block(bv_ctx *ctx, bv_tensor *x);    /* [B, C, T] -> [B, C/16, T, 16] */
bv_tensor *bv_conv_unblock(bv_ctx *ctx, bv_tensor *xb); /* [B, C/16, T, 16] -> [B, C, T] */
/* The layout backend be runs a chain of convs over `channels` channels in: BV_CONV_LAYOUT_BLOCKED
 * when blocked convs run there without any reorder (on the CPU: a multiple of 16, oneDNN kernels
 * that block by 16, and no BV_CONV_LAYOUT=plain / bv_conv_set_layout(PLAIN)), else
 * BV_CONV_LAYOUT_PLAIN (also for a device without conv kernels). The backend decides; model code
 * asks (the Generator's ResBlocks). */
bv_conv_layout bv_conv_layout_for(bv_backend *be, int64_t channels);
/* 1 when the fp32 synthesis path (bv_generator_infer) runs its convs channels-last (.nwc) on be: on
 * the CPU, where oneDNN has its brgemm kernels for channels-last fp32 convs (AVX-512); else 0. */
int bv_conv_infer_nwc(bv_backend *be);
/* Inference only (grad off; an input that needs a gradient is an error): conv1d, or
 * conv_transpose1d (.transposed: w [Cin, Cout, K]), with what follows it computed inside the conv
 * kernel (oneDNN post-ops), in this order: + residual (y's shape), + y's previous content
 * (.accumulate), / divisor (0: none), leaky_relu(slope) (.lrelu). x and y are plain [B, C, T] or,
 * with .blocked, channel-blocked [B, C/16, T, 16], or with .nwc channels-last [B, T, C]. y NULL: a new output (no .accumulate then);
 * else the result is written into y, which is returned. The Generator's inference path
 * (bv_generator_infer) keeps its running resblock sum, residual adds, division and the next
 * leaky_relu in the convs this way. */
typedef struct bv_conv1d_post {
    int blocked, transposed;
    int nwc; /* x, y, residual channels-last [B, T, C] (not with .blocked): the synthesis path's */
    /* .in_slope > 0: the conv reads leaky_relu(x, in_slope) of an fp32 x, applied as the conv's
     * input is prepared (converted to bf16 under autocast); bf16 autocast only: .src_bf16: x's
     * buffer holds its values as bf16 (in its first half), as a .dst_bf16 conv wrote them (no
     * residual, accumulate or divisor; no .in_slope). */
    float in_slope;
    int src_bf16, dst_bf16;
    int stride, padding, dilation; /* 0: 1, 0, 1 */
    bv_tensor *residual;
    int accumulate;
    float divisor;
    int lrelu;
    float slope;
} bv_conv1d_post;
bv_tensor *bv_conv1d_post_op(bv_ctx *ctx, bv_tensor *y, bv_tensor *x, bv_tensor *w, bv_tensor *b,
                             const bv_conv1d_post *p);

/* ---------------- norm.c ---------------- */
/* modules.LayerNorm: x [B, C, T] normalised over C per (b, t); gamma, beta [C]. */
bv_tensor *bv_layer_norm_ch(bv_ctx *ctx, bv_tensor *x, bv_tensor *gamma, bv_tensor *beta, float eps);
/* nn.LayerNorm over the last dim: x [..., C]; gamma, beta [C] (may be NULL: no affine). */
bv_tensor *bv_layer_norm(bv_ctx *ctx, bv_tensor *x, bv_tensor *gamma, bv_tensor *beta, float eps);
/* nn.GroupNorm: x [B, C, ...]; gamma, beta [C]. */
bv_tensor *bv_group_norm(bv_ctx *ctx, bv_tensor *x, int groups, bv_tensor *gamma, bv_tensor *beta, float eps);
bv_tensor *bv_softmax(bv_ctx *ctx, bv_tensor *x, int dim);
/* The same, written over x where the tape allows it (bv_inplace_alias, dispatch.h: x is then
 * consumed; the caller guarantees this is x's only use). */
bv_tensor *bv_softmax_(bv_ctx *ctx, bv_tensor *x, int dim);
bv_tensor *bv_log_softmax(bv_ctx *ctx, bv_tensor *x, int dim);

/* ---------------- shape.c ---------------- */
/* Same data, new shape (numel must match; one -1 dim is inferred). */
bv_tensor *bv_reshape(bv_ctx *ctx, bv_tensor *x, int ndim, const int64_t *shape);
bv_tensor *bv_transpose(bv_ctx *ctx, bv_tensor *x, int d0, int d1);          /* copy */
bv_tensor *bv_permute(bv_ctx *ctx, bv_tensor *x, const int *perm);           /* copy */
/* x[..., start:end:step, ...] along dim (end clipped to the size; negative start/end from end). */
bv_tensor *bv_slice(bv_ctx *ctx, bv_tensor *x, int dim, int64_t start, int64_t end, int64_t step);
bv_tensor *bv_concat(bv_ctx *ctx, int n, bv_tensor *const *xs, int dim);
/* torch.split into equal or given sizes along dim: outs[i] = slice. */
void bv_split(bv_ctx *ctx, bv_tensor *x, int dim, int n, const int64_t *sizes, bv_tensor **outs);
typedef enum { BV_PAD_CONSTANT = 0, BV_PAD_REFLECT } bv_pad_mode;
/* F.pad: pads[] in PyTorch order (last dim first: left, right, then the dim before, ...),
 * npad = 2 * number of padded dims; negative pads crop. */
bv_tensor *bv_pad(bv_ctx *ctx, bv_tensor *x, int npad, const int64_t *pads, bv_pad_mode mode, float value);
bv_tensor *bv_flip(bv_ctx *ctx, bv_tensor *x, int dim);
/* Broadcast to shape (materialised). */
bv_tensor *bv_expand(bv_ctx *ctx, bv_tensor *x, int ndim, const int64_t *shape);
bv_tensor *bv_cumsum(bv_ctx *ctx, bv_tensor *x, int dim);
/* where mask != 0 (mask f32 or i64, broadcast to x): value, else x. No grad where masked. */
bv_tensor *bv_masked_fill(bv_ctx *ctx, bv_tensor *x, bv_tensor *mask, float value);
/* where mask == 0: value, else x (torch's x.masked_fill(mask == 0, value) without the temporary). */
bv_tensor *bv_masked_fill_zero(bv_ctx *ctx, bv_tensor *x, bv_tensor *mask, float value);
/* The same, written over x where the tape allows it (bv_inplace_alias, dispatch.h: x is then
 * consumed; the caller guarantees this is x's only use). Same values and gradients. */
bv_tensor *bv_masked_fill_(bv_ctx *ctx, bv_tensor *x, bv_tensor *mask, float value);
bv_tensor *bv_masked_fill_zero_(bv_ctx *ctx, bv_tensor *x, bv_tensor *mask, float value);
bv_tensor *bv_copy(bv_ctx *ctx, bv_tensor *x);
/* commons.slice_segments: x [B, C, T], ids I64 [B] -> [B, C, seg] (x[b, :, ids[b]:ids[b]+seg]). */
bv_tensor *bv_slice_segments(bv_ctx *ctx, bv_tensor *x, bv_tensor *ids, int64_t segment_size);
/* Convert i64 -> f32 (no grad) and f32 -> i64 (truncation like .long()). */
bv_tensor *bv_to_f32(bv_ctx *ctx, bv_tensor *x);
bv_tensor *bv_to_i64(bv_ctx *ctx, bv_tensor *x);

/* ---------------- random.c ---------------- */
/* torch.randn / rand with the context's rng; in replay mode the next recorded draw (its shape
 * must match). Never differentiable. */
bv_tensor *bv_randn(bv_ctx *ctx, int ndim, const int64_t *shape);
bv_tensor *bv_rand(bv_ctx *ctx, int ndim, const int64_t *shape);
bv_tensor *bv_randn_like(bv_ctx *ctx, const bv_tensor *t);
bv_tensor *bv_rand_like(bv_ctx *ctx, const bv_tensor *t);
/* nn.Dropout in train mode: zero with prob p, scale kept ones by 1/(1-p). p == 0 returns x. */
bv_tensor *bv_dropout(bv_ctx *ctx, bv_tensor *x, float p, int training);
/* bv_mul(bv_dropout(bv_relu(h), p, training), x_mask) for h [B, C, T], x_mask [B, 1, T] as one op:
 * the same values, gradients and rng draw, one output map kept for the tape instead of three (the
 * FFN's activation). */
bv_tensor *bv_relu_dropout_mask(bv_ctx *ctx, bv_tensor *h, bv_tensor *x_mask, float p, int training);

/* ---------------- relpos.c (MultiHeadAttention's relative positions) ----------------
 * The relative terms of upstream's attention as a band |j - i| <= w with emb row r = j - i + w
 * (rows outside the window are upstream's zero padding), in O(L * (2w+1) * k).
 * emb [1 or n_heads, 2w+1, k]; w is read from emb's shape. */
/* q [B, h, L, k] -> logits [B, h, L, L]: out[b,h,i,j] = q[b,h,i,:] . emb[., j-i+w, :] */
bv_tensor *bv_mha_rel_logits(bv_ctx *ctx, bv_tensor *q, bv_tensor *emb);
/* scores + bv_mha_rel_logits(q, emb) (scores [B, h, L, L]) with no [L, L] temporary: the band is
 * added over scores in place where the tape allows (bv_inplace_alias: scores is then consumed; the
 * caller guarantees this is its only use), else into a copy. Bit-identical to the two ops. */
bv_tensor *bv_mha_rel_logits_add(bv_ctx *ctx, bv_tensor *scores, bv_tensor *q, bv_tensor *emb);
/* p [B, h, L, L] -> [B, h, L, k]: out[b,h,i,:] = sum_j p[b,h,i,j] * emb[., j-i+w, :] */
bv_tensor *bv_mha_rel_values(bv_ctx *ctx, bv_tensor *p, bv_tensor *emb);
/* matmul(dropout(p), v) (+ bv_mha_rel_values(dropout(p), emb) when emb) as one op: the same values,
 * gradients and rng draw, without keeping the dropped [B, h, L, L] map (backward draws it again from
 * the key). p [B, h, L, L], v [B, h, L, k]; emb may be NULL. */
bv_tensor *bv_mha_dropout_values(bv_ctx *ctx, bv_tensor *p, bv_tensor *v, bv_tensor *emb, float p_drop, int training);
/* _attention_bias_proximal: -log1p(|i - j|) as [1, 1, T, T] (no grad). */
bv_tensor *bv_attn_proximal_bias(bv_ctx *ctx, int64_t T);
/* 1 outside the band |j - i| <= block_length, else 0, as [1, 1, T, T] (no grad): the positions
 * upstream's local attention fills with -1e4. */
bv_tensor *bv_attn_local_mask(bv_ctx *ctx, int64_t T, int64_t block_length);

/* ---------------- gate.c ---------------- */
/* commons.fused_add_tanh_sigmoid_multiply(a, b, [n_channels]):
 * a [B, 2n, T], b [B, 2n, T] or [B, 2n, 1] (broadcast over time) or NULL (zeros)
 * -> tanh(a + b)[:, :n] * sigmoid(a + b)[:, n:]  [B, n, T]. */
bv_tensor *bv_fused_add_tanh_sigmoid_multiply(bv_ctx *ctx, bv_tensor *a, bv_tensor *b, int n_channels);

/* ---------------- init.c: in-place parameter initialisers (upstream's reset_parameters) -------
 * No context and no tape: each writes an f32 tensor on its own device through that backend's
 * kernels (a missing kernel is a fatal error naming the initialiser). Draws come from rng one per
 * element in order, the same sequence on every device. */
void bv_init_uniform(bv_tensor *t, bv_rng *rng, double bound); /* (float)((2u - 1) * bound): U(-bound, bound) */
void bv_init_normal(bv_tensor *t, bv_rng *rng, double sd);     /* (float)(N(0, 1) * sd) */
void bv_init_fill(bv_tensor *t, float v);
void bv_init_copy(bv_tensor *dst, const bv_tensor *src);        /* same numel */
/* weight_norm at creation: g[o] = ||v[o, ...]|| over everything but dim 0 (g has v.shape[0] elements). */
void bv_init_weight_norm_g(bv_tensor *g, const bv_tensor *v);

/* ---------------- lstm.c ---------------- */
/* nn.LSTM(batch_first=True), one layer, gate order i,f,g,o, zero initial state, no packing.
 * x [B, T, I]; w = {weight_ih [4H, I], weight_hh [4H, H], bias_ih [4H], bias_hh [4H]} and, if
 * bidirectional, the *_reverse four after them. y [B, T, D*H], h_n and c_n [D, B, H]. */
void bv_lstm(bv_ctx *ctx, bv_tensor *x, bv_tensor *const *w, int bidirectional, bv_tensor **y, bv_tensor **h_n,
             bv_tensor **c_n);

/* ---------------- spline.c ---------------- */
/* transforms.piecewise_rational_quadratic_transform(tails='linear'):
 * inputs [...], unnormalized_{widths,heights} [..., nbins], unnormalized_derivatives [..., nbins-1]
 * (linear tails pad them to nbins+1 with the constant that makes the boundary derivative 1).
 * outputs [...] and logabsdet [...]. */
void bv_rq_spline(bv_ctx *ctx, bv_tensor *inputs, bv_tensor *uw, bv_tensor *uh, bv_tensor *ud, int inverse,
                  float tail_bound, float min_bin_width, float min_bin_height, float min_derivative,
                  bv_tensor **outputs, bv_tensor **logabsdet);

/* ---------------- stft.c (FFTW) ---------------- */
/* |STFT| as mel_processing.spectrogram_torch computes it, center=False: y [B, T] is reflect
 * padded by (n_fft-hop)/2 on both sides, framed with the periodic Hann window of win_size,
 * onesided FFT, sqrt(re^2 + im^2 + 1e-6). -> [B, n_fft/2+1, frames]. Differentiable in y. */
bv_tensor *bv_spectrogram(bv_ctx *ctx, bv_tensor *y, int n_fft, int hop, int win_size);
/* torch.hann_window(win, periodic=True) in torch's float32 operation order, into w [win]. */
void bv_hann_window_fill(float *w, int win);

/* ---------------- resample.c ---------------- */
/* torchaudio.transforms.Resample(orig, new) (sinc_interpolation, lowpass_filter_width 6, rolloff
 * 0.99): x [B, T] -> [B, ceil(new*T/orig)]. Differentiable in x. */
bv_tensor *bv_resample(bv_ctx *ctx, bv_tensor *x, int orig_freq, int new_freq);

#endif
