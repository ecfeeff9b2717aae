/* generator.h - models.Generator of upstream Bert-VITS2: the HiFi-GAN decoder (net_g.dec) that turns a
 * latent segment z [B, inter_channels, T] into a waveform [B, 1, T * prod(upsample_rates)].
 *
 *   x = conv_pre(x)                           Conv1d(initial -> U, 7, padding 3)
 *   x = x + cond(g)                           when g is given (Conv1d(gin -> U, 1))
 *   for i in stages:
 *       x = ups[i](leaky_relu(x, 0.1))        weight-normed ConvTranspose1d(U/2^i -> U/2^(i+1), k_i, u_i,
 *                                             padding (k_i - u_i) / 2)
 *       x = sum_j resblocks[i*nk + j](x) / nk ResBlock1 or ResBlock2 per kernel size j
 *   x = tanh(conv_post(leaky_relu(x)))        DEFAULT slope 0.01 here; Conv1d(ch -> 1, 7, padding 3, no bias)
 *
 * Parameters are created in upstream state_dict order under "<prefix>" ("dec." inside the
 * synthesizer): conv_pre.{weight,bias}, ups.<i>.{bias,weight_g,weight_v}, resblocks.<n>.*,
 * conv_post.weight, cond.{weight,bias}.
 */
#ifndef BV_MODEL_GENERATOR_H
#define BV_MODEL_GENERATOR_H

#include "../nn/resblock.h"

#define BV_GEN_MAX_UPS 8
#define BV_GEN_MAX_KERNELS 8

typedef struct bv_generator_cfg {
    int initial_channel;                                  /* inter_channels of the synthesizer */
    int resblock;                                         /* 1 or 2: upstream's "1" / "2" */
    int n_kernels;                                        /* len(resblock_kernel_sizes) */
    int resblock_kernel_sizes[BV_GEN_MAX_KERNELS];
    int resblock_dilation_sizes[BV_GEN_MAX_KERNELS][3];   /* ResBlock1: 3 used, ResBlock2: 2 used */
    int n_upsamples;                                      /* len(upsample_rates) */
    int upsample_rates[BV_GEN_MAX_UPS];
    int upsample_kernel_sizes[BV_GEN_MAX_UPS];
    int upsample_initial_channel;
    int gin_channels;                                     /* 0: no cond layer */
} bv_generator_cfg;

/* weight_norm(ConvTranspose1d(cin, cout, k, u, padding (k - u) / 2)): weight [cin, cout, k], so
 * weight_norm's dim 0 normalises each INPUT channel's slice and weight_g is [cin, 1, 1]. */
typedef struct bv_gen_up {
    int in_channels, out_channels, kernel_size, stride, padding;
    bv_tensor *bias;      // ups.<i>.bias     [cout]
    bv_tensor *weight_g;  // ups.<i>.weight_g [cin, 1, 1]
    bv_tensor *weight_v;  // ups.<i>.weight_v [cin, cout, k]
} bv_gen_up;

typedef struct bv_generator {
    bv_generator_cfg cfg;
    bv_conv1d_layer conv_pre;                                   // conv_pre.{weight,bias} [U, initial, 7]
    bv_gen_up ups[BV_GEN_MAX_UPS];                              // ups.<i>.*
    bv_resblock1 *resblocks1[BV_GEN_MAX_UPS * BV_GEN_MAX_KERNELS]; // resblocks.<n>.* (resblock 1)
    bv_resblock2 *resblocks2[BV_GEN_MAX_UPS * BV_GEN_MAX_KERNELS]; // resblocks.<n>.* (resblock 2)
    bv_conv1d_layer conv_post;                                  // conv_post.weight [1, ch, 7]
    bv_conv1d_layer cond;                                       // cond.{weight,bias} [U, gin, 1]
    /* inference only: the weight-normed weights computed once (bv_generator_fold); NULL in training */
    struct bv_generator_folded *folded;
} bv_generator;

/* Checks a config the user supplies (config.json "model" section): returns 0 and fills err (cap
 * bytes) with what is wrong, or 1 when bv_generator_new can build it. */
int bv_generator_cfg_valid(const bv_generator_cfg *cfg, char *err, int cap);
/* Fatal on an invalid config (a model-building bug: validate user configs first). */
bv_generator *bv_generator_new(bv_params *ps, const char *prefix, const bv_generator_cfg *cfg);
void bv_generator_free(bv_generator *m);
/* Upstream init: PyTorch's Conv1d / ConvTranspose1d defaults (weight norm: v = that weight,
 * g = ||v||). commons.init_weights, applied to ups and resblocks upstream, only writes the derived
 * .weight that the weight-norm pre-hook recomputes: no lasting effect. */
void bv_generator_reset_parameters(const bv_generator *m, bv_rng *rng);
/* x [B, initial_channel, T], g [B, gin_channels, 1] or NULL -> [B, 1, T * prod(upsample_rates)].
 * No dropout or train/eval difference upstream, hence no training flag. */
bv_tensor *bv_generator_forward(bv_ctx *ctx, const bv_generator *m, bv_tensor *x, bv_tensor *g);

/* How far, in input frames, one output sample can see on either side (every conv, transposed conv
 * and resblock chain summed, rounded up): chunks overlapping by this much give the samples of one
 * whole pass. */
int64_t bv_generator_receptive_frames(const bv_generator_cfg *cfg);

/* Inference (grad off) in chunks of `chunk` frames, each computed with bv_generator_receptive_frames
 * of context on both sides and its context trimmed: the same samples as bv_generator_forward (up to
 * float rounding of differently sized convolutions), with the network's working memory bounded by
 * the chunk instead of the utterance. chunk <= 0, T <= chunk, or grad on: one whole pass. */
/* ---- inference: weight norm folded once, channels-last or channel-blocked stages, fused convs ----
 * bv_generator_fold computes w = g * v / ||v|| of every weight-normed conv (ups, resblocks) once,
 * into the generator's own store (m->folded), from the parameters' current values: call it again
 * after changing them (bv_generator_unfold drops it; bv_generator_free frees it). With m->folded
 * set and grad off, bv_generator_forward_chunked runs bv_generator_infer: the same network with
 * every stage's activations kept in one conv layout from the first upsample to conv_post, each
 * ResBlock's residual add, the running sum over the resblocks, its division by their number and
 * the next stage's leaky_relu computed inside the convs (bv_conv1d_post_op), and no copies between
 * stages. The values are those of bv_generator_forward up to float rounding
 * (tests/test_infer_fast.c). The layout: channels-last ([B, T, C], any channel count) under bf16
 * autocast, and in fp32 where the backend runs channels-last convs fastest (bv_conv_infer_nwc):
 * residual streams summed in place, each layer's leaky_relu applied as its first conv reads its
 * input, and the upsampling transposed convs as stride-1 convs with u*cout phase outputs (weights
 * rearranged by bv_generator_fold); under bf16 the activations pass between convs as bf16. Else
 * fp32 runs channel-blocked, which needs every stage's channels blocked
 * (bv_generator_infer_supported), or it is bv_generator_forward. BV_INFER_NWC in the environment
 * (A/B): 0 sends bf16 to bv_generator_forward and fp32 to the blocked form, 1 makes fp32
 * channels-last. */
typedef struct bv_generator_folded bv_generator_folded;
void bv_generator_fold(bv_ctx *ctx, bv_generator *m);
void bv_generator_unfold(bv_generator *m);
int bv_generator_infer_supported(bv_ctx *ctx, const bv_generator *m);
bv_tensor *bv_generator_infer(bv_ctx *ctx, const bv_generator *m, bv_tensor *x, bv_tensor *g);
bv_tensor *bv_generator_forward_chunked(bv_ctx *ctx, const bv_generator *m, bv_tensor *x, bv_tensor *g, int64_t chunk);

#endif
