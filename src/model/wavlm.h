/* wavlm.h - WavLM as transformers' WavLMModel defines it (the "base" layout of
 * microsoft/wavlm-base-plus, which upstream's losses.WavLMLoss loads with AutoModel.from_pretrained),
 * run the way WavLMLoss runs it: eval mode (no dropout, no LayerDrop, no SpecAugment masking),
 * output_hidden_states=True, no attention mask.
 *
 *   feature_extractor   7 x [Conv1d(no bias) -> GroupNorm(C, C) on layer 0 only -> GELU]   [B, C, F]
 *   feature_projection  LayerNorm(C) -> Linear(C, E)                                       [B, F, E]
 *   encoder             x + GELU(weight-normed grouped pos_conv(x)) -> LayerNorm ->
 *                       N post-LN transformer layers with gated relative position bias
 *   hidden_states       N + 1 tensors [B, F, E]: 0 = after encoder.layer_norm, i = after layer i
 *
 * Parameters live in the model's own bv_params store under transformers' state_dict keys
 * ("encoder.layers.0.attention.q_proj.weight", ...), in state_dict order. The model is FROZEN, as
 * WavLMLoss freezes it: every parameter has requires_grad = false, so the forward records nodes only
 * for the waveform path and backward never touches the parameters' grad buffers; gradients flow to
 * the input waveform only.
 *
 *   char err[512];
 *   bv_wavlm *m = bv_wavlm_load("slm/wavlm-base-plus", err, sizeof err);   // config.json + weights
 *   if (!m) { fprintf(stderr, "error: %s\n", err); ... }
 *   bv_tensor *hs[BV_WAVLM_MAX_LAYERS + 1];
 *   bv_wavlm_forward(ctx, m, wav16k, hs);                                    // wav16k [B, T]
 */
#ifndef BV_MODEL_WAVLM_H
#define BV_MODEL_WAVLM_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "../core/ctx.h"
#include "../core/params.h"

#define BV_WAVLM_MAX_CONV 16
#define BV_WAVLM_MAX_LAYERS 64

/* The config.json keys the model reads (transformers.WavLMConfig names). Keys absent from the file
 * take WavLMConfig's defaults, as from_pretrained does. */
typedef struct bv_wavlm_cfg {
    int num_feat_extract_layers;                   /* len(conv_dim) */
    int conv_dim[BV_WAVLM_MAX_CONV];
    int conv_kernel[BV_WAVLM_MAX_CONV];
    int conv_stride[BV_WAVLM_MAX_CONV];
    int conv_bias;                                 /* bias in the feature-extractor convs */
    int hidden_size, num_attention_heads, intermediate_size, num_hidden_layers;
    int num_conv_pos_embeddings, num_conv_pos_embedding_groups;
    int num_buckets, max_bucket_distance;
    float layer_norm_eps;
    int has_masked_spec_embed;                     /* mask_time_prob > 0 or mask_feature_prob > 0 */
} bv_wavlm_cfg;

/* transformers.WavLMConfig() defaults (the wavlm-base-plus architecture). */
void bv_wavlm_cfg_default(bv_wavlm_cfg *cfg);
/* Fill cfg from a parsed config.json object (absent keys: defaults). Unsupported variants
 * (feat_extract_norm "layer", do_stable_layer_norm, activations other than gelu) and invalid values
 * are errors naming `src` and the key; returns 0 on success, -1 with err filled. */
int bv_wavlm_cfg_from_json(bv_wavlm_cfg *cfg, const cJSON *json, const char *src, char *err, size_t errcap);

/* ---- modules (one struct per transformers class; fields named after its state_dict keys) ---- */

typedef struct bv_wavlm_conv_layer {                 // feature_extractor.conv_layers.<i>.
    int stride;
    bv_tensor *conv_weight;                          // conv.weight [C_i, C_{i-1}, K_i]
    bv_tensor *conv_bias;                            // conv.bias [C_i] (conv_bias only, else NULL)
    bv_tensor *norm_weight, *norm_bias;              // layer_norm.{weight,bias} [C_i] (GroupNorm; layer 0 only)
} bv_wavlm_conv_layer;

typedef struct bv_wavlm_attention {                  // encoder.layers.<i>.attention.
    bv_tensor *gru_rel_pos_const;                    // gru_rel_pos_const [1, H, 1, 1]
    bv_tensor *k_proj_w, *k_proj_b;                  // k_proj.{weight [E, E], bias [E]}
    bv_tensor *v_proj_w, *v_proj_b;                  // v_proj.*
    bv_tensor *q_proj_w, *q_proj_b;                  // q_proj.*
    bv_tensor *out_proj_w, *out_proj_b;              // out_proj.*
    bv_tensor *gru_rel_pos_linear_w;                 // gru_rel_pos_linear.weight [8, E/H]
    bv_tensor *gru_rel_pos_linear_b;                 // gru_rel_pos_linear.bias [8]
    bv_tensor *rel_attn_embed;                       // rel_attn_embed.weight [num_buckets, H] (layer 0 only)
} bv_wavlm_attention;

typedef struct bv_wavlm_layer {                      // encoder.layers.<i>.
    bv_wavlm_attention attention;
    bv_tensor *layer_norm_w, *layer_norm_b;          // layer_norm.* [E]
    bv_tensor *ff_in_w, *ff_in_b;                    // feed_forward.intermediate_dense.{weight [I, E], bias [I]}
    bv_tensor *ff_out_w, *ff_out_b;                  // feed_forward.output_dense.{weight [E, I], bias [E]}
    bv_tensor *final_layer_norm_w, *final_layer_norm_b; // final_layer_norm.* [E]
} bv_wavlm_layer;

typedef struct bv_wavlm {
    bv_wavlm_cfg cfg;
    bv_params params;                                /* owned; frozen (requires_grad false) */
    bv_tensor *masked_spec_embed;                    // masked_spec_embed [E] (unused in eval; may be NULL)
    bv_wavlm_conv_layer conv_layers[BV_WAVLM_MAX_CONV];
    bv_tensor *fp_layer_norm_w, *fp_layer_norm_b;    // feature_projection.layer_norm.* [C_last]
    bv_tensor *fp_projection_w, *fp_projection_b;    // feature_projection.projection.{weight [E, C_last], bias [E]}
    bv_tensor *pos_conv_bias;                        // encoder.pos_conv_embed.conv.bias [E]
    bv_tensor *pos_conv_weight_g;                    // encoder.pos_conv_embed.conv.weight_g [1, 1, K] (norm dim=2)
    bv_tensor *pos_conv_weight_v;                    // encoder.pos_conv_embed.conv.weight_v [E, E/groups, K]
    bv_tensor *enc_layer_norm_w, *enc_layer_norm_b;  // encoder.layer_norm.* [E]
    bv_wavlm_layer *layers;                          /* num_hidden_layers */
} bv_wavlm;

/* Check a config the code can build (sizes positive, heads divide hidden, ...); 0 or -1 + err. */
int bv_wavlm_cfg_check(const bv_wavlm_cfg *cfg, const char *src, char *err, size_t errcap);
/* A model with zeroed parameters (fill them from a file or a golden case). Fatal on a config that
 * bv_wavlm_cfg_check rejects (a programming error: check user configs first). */
bv_wavlm *bv_wavlm_new(const bv_wavlm_cfg *cfg);
void bv_wavlm_free(bv_wavlm *m);

/* Load a transformers WavLMModel folder: dir/config.json and dir/model.safetensors or, if that does
 * not exist, dir/pytorch_model.bin. Tensor names are WavLMModel state_dict keys (a "wavlm." prefix,
 * as head models save them, is stripped; the pos-conv weight norm may be named
 * parametrizations.weight.original0/1 as newer torch saves it). Unknown, missing or wrongly shaped
 * tensors are errors naming the file, the tensor and both shapes; masked_spec_embed may be absent.
 * F32, F64, F16 and BF16 tensors are converted to f32. Returns NULL with err filled on failure. */
bv_wavlm *bv_wavlm_load(const char *dir, char *err, size_t errcap);

/* Frames the feature extractor makes from n_samples (0 when the input is shorter than its
 * receptive field). */
int64_t bv_wavlm_n_frames(const bv_wavlm *m, int64_t n_samples);

/* WavLMAttention._relative_positions_bucket of one relative position (key - query), evaluated in
 * float32 step by step as torch does: bidirectional, exact below num_buckets/4, log-spaced up to
 * max_distance, clipped. */
int64_t bv_wavlm_relative_position_bucket(int64_t rel, int num_buckets, int max_distance);

/* wav [B, T] f32 at 16 kHz (no normalisation, as WavLMLoss feeds it) -> hidden_states[0..N],
 * N = cfg.num_hidden_layers, each [B, F, E]. Differentiable w.r.t. wav only. */
void bv_wavlm_forward(bv_ctx *ctx, const bv_wavlm *m, bv_tensor *wav, bv_tensor **hidden_states);

#endif
