/* wavlm_loss.h - upstream losses.WavLMLoss: the speech-language-model (WavLM) feature loss and the
 * WavLM-discriminator GAN losses of Bert-VITS2 2.3.
 *
 *   forward(wav, y_rec)        sum_l mean|WavLM(rs(wav))[l] - WavLM(rs(y_rec))[l]|   (wav side no_grad)
 *   generator(y_rec)           mean((1 - wd(emb(y_rec)))^2)
 *   discriminator(wav, y_rec)  mean((1 - wd(emb(wav)))^2) + mean(wd(emb(y_rec))^2)   (WavLM no_grad)
 *
 * rs = torchaudio Resample(model_sr -> slm_sr); WavLM is frozen (bv_wavlm), hidden_states N + 1 of
 * [B, F, E]; emb = stack(hidden_states, dim 1).transpose(-1, -2).flatten(1, 2) -> [B, (N+1)*E, F].
 *
 * Waveforms are [B, T] (train_ms passes y.squeeze() of [B, 1, T]; [B, 1, T] is accepted too and
 * read as [B, T]). Upstream squeezes the batch away when B == 1 and transformers' WavLM then fails
 * on the 1-d input; here batch 1 simply works.
 *
 * The *_hidden variants take WavLM hidden states computed once by bv_wavlm_loss_embed, so a
 * training step can share WavLM passes between the WD step and the G step (WavLM is frozen and
 * deterministic: same values, fewer passes).
 */
#ifndef BV_WAVLM_LOSS_H
#define BV_WAVLM_LOSS_H

#include "../model/discriminators.h"
#include "../model/wavlm.h"

#define BV_WAVLM_LOSS_MAX_HIDDEN (BV_WAVLM_MAX_LAYERS + 1)

typedef struct bv_wavlm_loss {
    const bv_wavlm *wavlm;     /* frozen SLM (not owned) */
    const bv_wavlm_disc *wd;   /* net_wd (not owned; its parameters live in the caller's store) */
    int model_sr, slm_sr;      /* Resample(model_sr, slm_sr) */
} bv_wavlm_loss;

void bv_wavlm_loss_init(bv_wavlm_loss *wl, const bv_wavlm *wavlm, const bv_wavlm_disc *wd, int model_sr,
                        int slm_sr);
/* Number of hidden states WavLM returns (num_hidden_layers + 1). */
int bv_wavlm_loss_n_hidden(const bv_wavlm_loss *wl);

/* self.wavlm(input_values=self.resample(wav), output_hidden_states=True).hidden_states:
 * wav [B, T] -> hs[0..n_hidden-1], each [B, F, E]. Records nodes (w.r.t. wav) when grad is on;
 * call inside bv_no_grad_begin/end for upstream's `with torch.no_grad()` parts.
 * If wav16 != NULL it receives the resampled waveform [B, T16]. */
void bv_wavlm_loss_embed(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *wav, bv_tensor **hs, bv_tensor **wav16);
/* stack(hs, 1).transpose(-1, -2).flatten(1, 2): n x [B, F, E] -> [B, n*E, F]. */
bv_tensor *bv_wavlm_loss_stack(bv_ctx *ctx, int n, bv_tensor *const *hs);

/* WavLMLoss.forward -> []. */
bv_tensor *bv_wavlm_loss_forward(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *wav, bv_tensor *y_rec);
/* WavLMLoss.generator -> []; y_df_hat_g (may be NULL) receives wd's output [B, F]. */
bv_tensor *bv_wavlm_loss_generator(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *y_rec, bv_tensor **y_df_hat_g);
/* WavLMLoss.discriminator -> []; y_d_rs / y_d_gs (may be NULL) receive wd's outputs [B, F]. */
bv_tensor *bv_wavlm_loss_discriminator(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *wav, bv_tensor *y_rec,
                                       bv_tensor **y_d_rs, bv_tensor **y_d_gs);

/* The same three losses from hidden states (n = bv_wavlm_loss_n_hidden each).
 * feature: sum_l mean|hs_r[l] - hs_g[l]| with hs_r used as a constant (upstream computes it under
 * no_grad). discriminator: both sides used as constants (upstream: no_grad). */
bv_tensor *bv_wavlm_loss_feature_hidden(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *const *hs_r,
                                        bv_tensor *const *hs_g);
bv_tensor *bv_wavlm_loss_generator_hidden(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *const *hs_g,
                                          bv_tensor **y_df_hat_g);
bv_tensor *bv_wavlm_loss_discriminator_hidden(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *const *hs_r,
                                              bv_tensor *const *hs_g, bv_tensor **y_d_rs, bv_tensor **y_d_gs);

#endif
