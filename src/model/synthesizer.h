/* synthesizer.h - models.SynthesizerTrn of Bert-VITS2 2.3 (net_g): the text encoder (prior), the
 * posterior encoder, the normalising flow between them, the two duration predictors and the HiFi-GAN
 * decoder, with the speaker embedding that conditions them all.
 *
 *   forward (training):                              infer:
 *     g = emb_g(sid)                                   g = emb_g(sid)
 *     x, m_p, logs_p, x_mask = enc_p(text, g)          x, m_p, logs_p, x_mask = enc_p(text, g)
 *     z, m_q, logs_q, y_mask = enc_q(spec, g)          logw = sdp(reverse) * r + dp(x) * (1 - r)
 *     z_p = flow(z)                                    w = exp(logw) * x_mask * length_scale
 *     attn = MAS(neg_cent(z_p; m_p, logs_p) + noise)   attn = generate_path(ceil(w))
 *     l_length = sdp nll + dp / sdp-reverse MSE        z_p = expand(m_p) + eps * exp(expand(logs_p)) * ns
 *     m_p, logs_p expanded by attn                     z = flow^-1(z_p)
 *     y_hat = dec(rand_slice(z))                       o = dec(z * y_mask)
 *
 * Built from its hyper-parameters (hparams.h; the application fills them from config.json with
 * src/app/model_config.h) exactly as train_ms / infer.py build it: spec_channels = filter_length/2+1,
 * segment_size = train.segment_size / hop_length, n_vocab = len(symbols). Parameters are created
 * in upstream state_dict order under "<prefix>" ("" for a G_*.pth 'model' dict): enc_p.*, dec.*,
 * enc_q.*, flow.*, sdp.*, dp.*, emb_g.weight. Only n_speakers >= 1 (emb_g) is supported; upstream's
 * ReferenceEncoder branch (n_speakers == 0) is rejected by bv_synth_hparams_check.
 *
 * Random draws, in upstream order (golden replay depends on it): forward: enc_q z, MAS epsilon
 * (only with use_noise_scaled_mas), SDP forward e_q, SDP reverse z, rand_slice_segments; infer: SDP
 * reverse z, z_p.
 *
 *   bv_synth *net_g = bv_synth_new(&ps, "", &hp);             // or bv_synth_from_config(&ps, "", &cfg)
 *   bv_synth_reset_parameters(net_g, &ctx->rng);
 *   bv_synth_out o;
 *   bv_synth_forward(ctx, net_g, x, x_lengths, spec, spec_lengths, sid, tone, language, bert, ja_bert,
 *                    en_bert, 1, &o);                        // o.y_hat [B, 1, segment_size]
 */
#ifndef BV_MODEL_SYNTHESIZER_H
#define BV_MODEL_SYNTHESIZER_H

#include "duration.h"
#include "flow_blocks.h"
#include "generator.h"
#include "hparams.h"
#include "posterior_encoder.h"
#include "text_encoder.h"

struct bv_synth_out;
/* Training only: called by bv_synth_forward once the prior is expanded (after the alignment, before
 * the duration predictors and the decoder run); train_step.c backpropagates the KL loss through the
 * flow there and releases the flow's memory (out->flow_*). */
typedef void (*bv_synth_prior_hook)(void *user, bv_ctx *ctx, struct bv_synth_out *out);

typedef struct bv_synth {
    /* sizes, from the config */
    int n_speakers, gin_channels, inter_channels, hidden_channels;
    int64_t spec_channels;         /* data.filter_length / 2 + 1 */
    int64_t segment_size;          /* frames: train.segment_size / data.hop_length */
    int use_noise_scaled_mas, use_transformer_flow;
    double mas_noise_scale_initial, noise_scale_delta; /* python floats */
    float current_mas_noise_scale; /* train_ms lowers it every step (bv_synth_set_mas_noise_scale) */
    /* submodules, in state_dict order */
    bv_text_encoder *enc_p;                  // enc_p.*
    bv_generator *dec;                       // dec.*
    bv_posterior_encoder *enc_q;             // enc_q.*
    bv_transformer_coupling_block *flow_tr;  // flow.* (use_transformer_flow)
    bv_residual_coupling_block *flow_rc;     // flow.* (otherwise)
    bv_sdp *sdp;                             // sdp.*
    bv_dp *dp;                               // dp.*
    bv_tensor *emb_g;                        // emb_g.weight [n_speakers, gin]
    bv_synth_prior_hook prior_hook;          /* NULL: none */
    void *prior_hook_user;
} bv_synth;

/* Returns 0 if SynthesizerTrn can be built from hp, else -1 with a message naming the config key
 * in err (e.g. data.n_speakers 0: the ReferenceEncoder branch is not supported). */
int bv_synth_hparams_check(const bv_synth_hparams *hp, char *err, int cap);
/* Creates the parameters (zeroed). Fatal on hparams bv_synth_hparams_check rejects. */
bv_synth *bv_synth_new(bv_params *ps, const char *prefix, const bv_synth_hparams *hp);
void bv_synth_free(bv_synth *m);
/* Upstream init: each submodule's own, emb_g ~ N(0, 1) (nn.Embedding). */
void bv_synth_reset_parameters(const bv_synth *m, bv_rng *rng);
void bv_synth_set_mas_noise_scale(bv_synth *m, float s);
double bv_synth_mas_noise_scale_initial(const bv_synth *m);
double bv_synth_noise_scale_delta(const bv_synth *m);

/* Everything SynthesizerTrn.forward returns (train_ms's names), plus sub-results for tests. */
typedef struct bv_synth_out {
    bv_tensor *y_hat;      // [B, 1, segment_size * hop]   dec(z_slice, g)
    bv_tensor *l_length;   // [B]                          l_length_dp + l_length_sdp
    bv_tensor *attn;       // [B, 1, T_y, T_x]             MAS path (no grad)
    bv_tensor *ids_slice;  // [B] I64                      rand_slice_segments starts (frames)
    bv_tensor *x_mask;     // [B, 1, T_x]
    bv_tensor *z_mask;     // [B, 1, T_y]                  y_mask
    bv_tensor *z;          // [B, inter, T_y]              posterior sample
    bv_tensor *z_p;        // [B, inter, T_y]              flow(z)
    bv_tensor *m_p;        // [B, inter, T_y]              prior mean expanded by attn
    bv_tensor *logs_p;     // [B, inter, T_y]              prior log-scale expanded by attn
    bv_tensor *m_q;        // [B, inter, T_y]
    bv_tensor *logs_q;     // [B, inter, T_y]
    bv_tensor *hidden_x;   // [B, hidden, T_x]             enc_p's encoder output
    bv_tensor *logw;       // [B, 1, T_x]                  dp(x)
    bv_tensor *logw_;      // [B, 1, T_x]                  log(w + 1e-6) * x_mask
    bv_tensor *logw_sdp;   // [B, 1, T_x]                  sdp reverse, noise_scale 1
    bv_tensor *g;          // [B, gin, 1]                  emb_g(sid)
    /* sub-results for tests */
    bv_tensor *enc_p_m_p;        // [B, inter, T_x]  enc_p's m_p before expansion
    bv_tensor *enc_p_logs_p;     // [B, inter, T_x]
    bv_tensor *sdp_forward_nll;  // [B]              sdp(x, x_mask, w, g) before / sum(x_mask)
    bv_tensor *neg_cent;         // [B, T_y, T_x]    maximum_path's input (epsilon included)
    bv_tensor *mas_mask;         // [B, T_y, T_x]    maximum_path's mask
    /* the flow's graph, for the prior hook: its memory between two marks, its nodes on the tape */
    bv_ctx_mark flow_from, flow_to;
    int64_t flow_tape_from, flow_tape_to;
} bv_synth_out;

/* x, tone, language I64 [B, T_x]; x_lengths, spec_lengths, sid I64 [B]; spec f32
 * [B, spec_channels, T_y]; bert, ja_bert, en_bert f32 [B, 1024, T_x]. training enables dropout. */
void bv_synth_forward(bv_ctx *ctx, const bv_synth *m, bv_tensor *x, bv_tensor *x_lengths, bv_tensor *spec,
                      bv_tensor *spec_lengths, bv_tensor *sid, bv_tensor *tone, bv_tensor *language, bv_tensor *bert,
                      bv_tensor *ja_bert, bv_tensor *en_bert, int training, bv_synth_out *out);

/* SynthesizerTrn.infer's keyword arguments (upstream defaults: 0.667, 1, 0.8, 0, None). */
typedef struct bv_infer_opts {
    float noise_scale, length_scale, noise_scale_w, sdp_ratio;
    int64_t max_len;       /* <= 0: none */
    int64_t dec_chunk;     /* frames per decoder chunk (bv_generator_forward_chunked); <= 0: one pass */
} bv_infer_opts;

/* What bv_synth_infer_full is expected to need at most, in bytes, for B utterances of T_x phones
 * (after add_blank) becoming T_y frames: the attention score matrices of the text encoder (T_x^2)
 * and of the transformer flow (T_y^2), the monotonic path [T_y, T_x], the frame-rate tensors, the
 * decoder's working set (bounded by dec_chunk), and the audio. A planning estimate (within ~2x),
 * for refusing what cannot fit before it is allocated. T_y <= 0: the text side only. */
int64_t bv_synth_infer_bytes(const bv_synth *m, int64_t B, int64_t T_x, int64_t T_y, int64_t dec_chunk);

/* Everything infer returns: o, attn, y_mask, (z, z_p, m_p, logs_p), plus w (ceil's argument). */
typedef struct bv_synth_infer_out {
    bv_tensor *o;          // [B, 1, min(T_y, max_len) * hop]
    bv_tensor *attn;       // [B, 1, T_y, T_x]
    bv_tensor *y_mask;     // [B, 1, T_y]
    bv_tensor *z;          // [B, inter, T_y]
    bv_tensor *z_p;        // [B, inter, T_y]
    bv_tensor *m_p;        // [B, inter, T_y]
    bv_tensor *logs_p;     // [B, inter, T_y]
    bv_tensor *w;          // [B, 1, T_x]  exp(logw) * x_mask * length_scale
} bv_synth_infer_out;

/* Eval-mode inference under no_grad. Inputs as bv_synth_forward (no spec). Returns o; *w_out (may
 * be NULL) gets w. */
bv_tensor *bv_synth_infer(bv_ctx *ctx, const bv_synth *m, bv_tensor *x, bv_tensor *x_lengths, bv_tensor *sid,
                          bv_tensor *tone, bv_tensor *language, bv_tensor *bert, bv_tensor *ja_bert,
                          bv_tensor *en_bert, const bv_infer_opts *o, bv_tensor **w_out);
/* The same, filling every returned tensor into out. */
void bv_synth_infer_full(bv_ctx *ctx, const bv_synth *m, bv_tensor *x, bv_tensor *x_lengths, bv_tensor *sid,
                         bv_tensor *tone, bv_tensor *language, bv_tensor *bert, bv_tensor *ja_bert, bv_tensor *en_bert,
                         const bv_infer_opts *o, bv_synth_infer_out *out);

#endif
