/* attention.h - upstream attentions.py: relative-position multi-head attention (MultiHeadAttention),
 * the convolutional feed-forward block (FFN) and the post-LayerNorm transformer Encoder with optional
 * speaker conditioning (used by models.TextEncoder and modules.TransformerCouplingLayer).
 *
 * Modules are built from ops (src/ops/ops.h), so autograd comes for free. Every parameter is created
 * in a bv_params store under its upstream state_dict key, prefixed by the caller's prefix
 * ("" for a stand-alone module, "enc_p.encoder." inside the synthesizer), in state_dict order.
 *
 * Layout: activations are [B, C, T] like upstream; masks are f32 0/1 tensors.
 */
#ifndef BV_NN_ATTENTION_H
#define BV_NN_ATTENTION_H

#include "../core/ctx.h"
#include "../core/params.h"
#include "../core/rng.h"

/* ---------------- MultiHeadAttention ---------------- */
typedef struct bv_mha_cfg {
    int channels, out_channels, n_heads;
    float p_dropout;
    int window_size;         /* relative position window; 0 = None (no emb_rel_k / emb_rel_v) */
    int heads_share;         /* 1: emb_rel_* are [1, 2w+1, k]; 0: [n_heads, 2w+1, k] */
    int block_length;        /* local band mask |i - j| <= block_length; 0 = None */
    int proximal_bias;       /* add -log1p(|i - j|) to the scores */
    int proximal_init;       /* bv_mha_reset_parameters copies conv_q into conv_k */
} bv_mha_cfg;

typedef struct bv_mha {
    bv_mha_cfg cfg;
    int k_channels;                                  /* channels / n_heads */
    bv_tensor *emb_rel_k, *emb_rel_v;                // emb_rel_k, emb_rel_v [h or 1, 2w+1, k] (NULL w/o window)
    bv_tensor *conv_q_w, *conv_q_b;                  // conv_q.weight [C, C, 1], conv_q.bias [C]
    bv_tensor *conv_k_w, *conv_k_b;                  // conv_k.weight [C, C, 1], conv_k.bias [C]
    bv_tensor *conv_v_w, *conv_v_b;                  // conv_v.weight [C, C, 1], conv_v.bias [C]
    bv_tensor *conv_o_w, *conv_o_b;                  // conv_o.weight [Cout, C, 1], conv_o.bias [Cout]
} bv_mha;

/* Fill an embedded struct (parameters created in ps under prefix). Fatal on an invalid config
 * (channels not divisible by n_heads, non-positive sizes): check configs before building. */
void bv_mha_init(bv_mha *m, bv_params *ps, const char *prefix, const bv_mha_cfg *cfg);
bv_mha *bv_mha_new(bv_params *ps, const char *prefix, const bv_mha_cfg *cfg);
void bv_mha_free(bv_mha *m);
/* Upstream initialisation: xavier_uniform q/k/v weights, PyTorch Conv1d default for the rest,
 * emb_rel_* = randn * k^-0.5, then conv_k = conv_q when proximal_init. */
void bv_mha_reset_parameters(const bv_mha *m, bv_rng *rng);
/* x [B, C, T_t] (queries), c [B, C, T_s] (keys/values; pass x for self-attention),
 * attn_mask [B or 1, 1, T_t, T_s] f32 0/1 or NULL -> [B, Cout, T_t].
 * p_attn (may be NULL) receives the attention weights [B, n_heads, T_t, T_s] after dropout. */
bv_tensor *bv_mha_forward(bv_ctx *ctx, const bv_mha *m, bv_tensor *x, bv_tensor *c, bv_tensor *attn_mask,
                          int training, bv_tensor **p_attn);

/* ---------------- FFN ---------------- */
typedef enum { BV_FFN_RELU = 0, BV_FFN_GELU } bv_ffn_act;   /* GELU here = x * sigmoid(1.702 x) as upstream */

typedef struct bv_ffn_cfg {
    int in_channels, out_channels, filter_channels, kernel_size;
    float p_dropout;
    bv_ffn_act activation;
    int causal;              /* 1: pad (k-1, 0); 0: "same" pad ((k-1)/2, k/2) */
} bv_ffn_cfg;

typedef struct bv_ffn {
    bv_ffn_cfg cfg;
    bv_tensor *conv_1_w, *conv_1_b;                  // conv_1.weight [F, Cin, K], conv_1.bias [F]
    bv_tensor *conv_2_w, *conv_2_b;                  // conv_2.weight [Cout, F, K], conv_2.bias [Cout]
} bv_ffn;

void bv_ffn_init(bv_ffn *f, bv_params *ps, const char *prefix, const bv_ffn_cfg *cfg);
bv_ffn *bv_ffn_new(bv_params *ps, const char *prefix, const bv_ffn_cfg *cfg);
void bv_ffn_free(bv_ffn *f);
void bv_ffn_reset_parameters(const bv_ffn *f, bv_rng *rng);       /* PyTorch Conv1d default init */
/* x [B, Cin, T], x_mask [B, 1, T] -> [B, Cout, T] (masked). */
bv_tensor *bv_ffn_forward(bv_ctx *ctx, const bv_ffn *f, bv_tensor *x, bv_tensor *x_mask, int training);

/* ---------------- Encoder ---------------- */
/* cond_layer_idx < 0 means upstream's default: 2 when gin_channels != 0 (vits2's "3rd block").
 * Upstream requires cond_layer_idx < n_layers when gin_channels != 0. isflow has no effect in this
 * upstream revision (its cond layers are commented out); kept for config fidelity. */
#define BV_ENCODER_COND_DEFAULT (-1)

typedef struct bv_encoder_cfg {
    int hidden_channels, filter_channels, n_heads, n_layers, kernel_size;
    float p_dropout;
    int window_size;         /* 0 = none */
    int isflow;
    int gin_channels;        /* 0 = none */
    int cond_layer_idx;      /* BV_ENCODER_COND_DEFAULT (-1) = upstream default */
} bv_encoder_cfg;

typedef struct bv_layer_norm_p {
    bv_tensor *gamma, *beta; // norm_layers_*.%d.gamma [H], .beta [H]
} bv_layer_norm_p;

typedef struct bv_encoder {
    bv_encoder_cfg cfg;
    int cond_layer_idx;      /* resolved: n_layers when unconditioned */
    bv_tensor *spk_w, *spk_b;                         // spk_emb_linear.weight [H, gin], .bias [H] (gin != 0)
    bv_mha *attn;            /* [n_layers] attn_layers.%d. */
    bv_layer_norm_p *norm1;  /* [n_layers] norm_layers_1.%d. */
    bv_ffn *ffn;             /* [n_layers] ffn_layers.%d. */
    bv_layer_norm_p *norm2;  /* [n_layers] norm_layers_2.%d. */
} bv_encoder;

/* Returns 0 if cfg is valid, else -1 with a message naming the bad field in err. */
int bv_encoder_cfg_check(const bv_encoder_cfg *cfg, char *err, int cap);
/* creates every parameter as "<prefix>attn_layers.0.conv_q.weight" etc. (prefix may be "" or "enc.").
 * LayerNorm gammas start at 1 (upstream); call bv_encoder_reset_parameters for the random init.
 * Fatal on an invalid cfg (validate user configs with bv_encoder_cfg_check first). */
bv_encoder *bv_encoder_new(bv_params *ps, const char *prefix, const bv_encoder_cfg *cfg);
void bv_encoder_free(bv_encoder *e);
void bv_encoder_reset_parameters(const bv_encoder *e, bv_rng *rng);
/* x [B,H,T], x_mask [B,1,T], g [B,gin,1] or NULL -> [B,H,T]; training flag for dropout */
bv_tensor *bv_encoder_forward(bv_ctx *ctx, const bv_encoder *e, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g,
                              int training);

#endif
