/* posterior_encoder.h - models.PosteriorEncoder (enc_q of SynthesizerTrn): the linear spectrogram
 * goes through a 1x1 conv, the speaker-conditioned WN stack and a 1x1 projection to the posterior's
 * mean and log-scale, and z is drawn from it with the reparameterisation trick.
 *
 *   x_mask  = sequence_mask(x_lengths, T)                         // [B, 1, T]
 *   x       = enc(pre(x) * x_mask, x_mask, g)                     // [B, H, T]
 *   m, logs = split(proj(x) * x_mask)                             // [B, out, T] each
 *   z       = (m + randn_like(m) * exp(logs)) * x_mask            // [B, out, T]
 *   returns z, m, logs, x_mask
 *
 * The draw goes through bv_randn_like, so golden noise replays and the context's seed decides it.
 *
 *   bv_posterior_encoder *enc = bv_posterior_encoder_new(ps, "enc_q.", &(bv_posterior_encoder_cfg){
 *       .in_channels = 1025, .out_channels = 192, .hidden_channels = 192, .kernel_size = 5,
 *       .dilation_rate = 1, .n_layers = 16, .gin_channels = 512});
 *   bv_tensor *m_q, *logs_q, *y_mask;
 *   bv_tensor *z = bv_posterior_encoder_forward(ctx, enc, y, y_lengths, g, training, &m_q, &logs_q, &y_mask);
 */
#ifndef BV_MODEL_POSTERIOR_ENCODER_H
#define BV_MODEL_POSTERIOR_ENCODER_H

#include "../core/ctx.h"
#include "../core/params.h"
#include "../core/rng.h"
#include "../nn/conv_layers.h"
#include "../nn/wn.h"

/* Upstream constructor arguments (the WN gets p_dropout 0, upstream's default). */
typedef struct bv_posterior_encoder_cfg {
    int in_channels, out_channels, hidden_channels, kernel_size, dilation_rate, n_layers;
    int gin_channels;   /* 0: no speaker conditioning */
} bv_posterior_encoder_cfg;

typedef struct bv_posterior_encoder {
    bv_posterior_encoder_cfg cfg;
    bv_conv1d_layer pre;    // pre.{weight,bias}  [H, in, 1], [H]
    bv_wn *enc;             // enc.* (modules.WN, weight-normed)
    bv_conv1d_layer proj;   // proj.{weight,bias} [2 * out, H, 1], [2 * out]
} bv_posterior_encoder;

/* Returns 0 if cfg can be built, else -1 with a message naming the bad field in err. */
int bv_posterior_encoder_cfg_check(const bv_posterior_encoder_cfg *cfg, char *err, int cap);
/* Creates "<prefix>pre.weight", ... in upstream state_dict order. Fatal on an invalid cfg. */
bv_posterior_encoder *bv_posterior_encoder_new(bv_params *ps, const char *prefix, const bv_posterior_encoder_cfg *cfg);
void bv_posterior_encoder_free(bv_posterior_encoder *m);
/* Upstream init: PyTorch Conv1d defaults everywhere (the WN's convs through weight norm). */
void bv_posterior_encoder_reset_parameters(const bv_posterior_encoder *m, bv_rng *rng);
/* x f32 [B, in, T], x_lengths I64 [B], g f32 [B, gin, 1] or NULL -> z [B, out, T]; m_q, logs_q
 * [B, out, T] and x_mask f32 [B, 1, T] through the out pointers (each may be NULL). training is
 * passed to the WN (whose dropout is 0 here). Consumes one randn_like draw. */
bv_tensor *bv_posterior_encoder_forward(bv_ctx *ctx, const bv_posterior_encoder *m, bv_tensor *x,
                                        bv_tensor *x_lengths, bv_tensor *g, int training, bv_tensor **m_q,
                                        bv_tensor **logs_q, bv_tensor **x_mask);

#endif
