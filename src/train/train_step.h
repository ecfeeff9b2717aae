/* train_step.h - one iteration of train_ms.train_and_evaluate's batch loop (Bert-VITS2 2.3): the four
 * networks, their parameter stores, AdamW optimizers and ExponentialLR schedulers, and the step
 * that updates them in upstream's order:
 *
 *   net_g forward (noise-scaled MAS at max(initial - delta * global_step, 0))
 *   mel = spec_to_mel(spec); y_mel = slice(mel); y_hat_mel = mel_spectrogram(y_hat); y = slice(y)
 *   D:    net_d(y, y_hat.detach()) -> discriminator_loss
 *   DUR:  net_dur_disc x2 (DP and SDP durations, detached), probabilities ADDED, discriminator_loss
 *         over the batch dim -> zero_grad, backward, grad norm, optim_dur_disc.step
 *         (then D: zero_grad, backward, grad norm, optim_d.step)
 *   WD:   WavLMLoss.discriminator(y, y_hat.detach()) -> zero_grad, backward, grad norm, optim_wd.step
 *   G:    with the UPDATED discriminators: net_d(y, y_hat), net_dur_disc x2, loss_dur, loss_mel,
 *         loss_kl, loss_fm, loss_gen, loss_lm, loss_lm_gen, loss_dur_gen -> loss_gen_all ->
 *         zero_grad, backward, grad norm, optim_g.step
 *
 * Grad norms are commons.clip_grad_value_(params, None): measured, never clipped.
 *
 * train.bf16_run: true is upstream's CUDA recipe (torch.cuda.amp: autocast(bfloat16) over every forward
 * pass and loss, GradScaler, and clip_grad_norm_ of net_d to 200 and net_g to 500 before the measured
 * norm); on a CPU upstream's torch.cuda.amp does nothing, so we follow the CUDA semantics: the whole
 * step runs with ctx->autocast = BV_AUTOCAST_BF16 (matmul-class ops in bf16, see ctx.h), the two
 * clip_grad_norm_ calls, and GradScaler's one observable effect: an optimizer whose grads hold inf/NaN
 * skips its step (its scale is a power of two, so scaling and unscaling are exact and not modelled).
 * bv_train_state_init refuses bf16_run on a backend without native bf16 (bv_backend_bf16_check).
 *
 * Work the step does not need is skipped, values unchanged: during the G step the discriminators'
 * parameters are marked requires_grad = false (upstream's G backward fills their .grad, which the
 * next zero_grad discards), so their grads stay exactly as their optimizers used them; WavLM runs
 * once on y under no_grad and once on y_hat with grad, shared by WavLMLoss.discriminator, .forward
 * and .generator (upstream runs it four times on the same inputs with frozen weights).
 *
 *   bv_train_state st;
 *   if (bv_train_state_init(&st, &cfg, wavlm, NULL, err, sizeof err)) ...   // upstream MPD widths
 *   ... load checkpoints into st.ps_g / ps_d / ps_dur / ps_wd ...
 *   bv_train_state_start_schedulers(&st, epoch_str, err, sizeof err);
 *   for each epoch: for each batch:
 *       bv_ctx_reset(ctx); bv_train_step(&st, ctx, &batch, &res); log res; st.global_step++;
 *     bv_train_state_epoch_end(&st);
 */
#ifndef BV_TRAIN_STEP_H
#define BV_TRAIN_STEP_H

#include <stddef.h>
#include <stdint.h>

#include "../io/config.h"
#include "../model/discriminators.h"
#include "../model/duration.h"
#include "../model/synthesizer.h"
#include "../model/wavlm.h"
#include "optim.h"
#include "wavlm_loss.h"

/* MultiPeriodDiscriminator layout: upstream's by default; the golden data use reduced widths. */
typedef struct bv_mpd_layout {
    bv_disc_widths s, p;
    int n_periods;
    int periods[BV_MPD_MAX_DISCS - 1];
} bv_mpd_layout;

/* Upstream: DiscriminatorS + DiscriminatorP([2, 3, 5, 7, 11]) at their hard-coded widths. */
void bv_mpd_layout_upstream(bv_mpd_layout *l);

/* Optional tap: called with upstream-named intermediates ("fwd.y_hat", "dstep.net_d.y_d_hat_r.0",
 * "wdstep.wavlm_hidden.wav.1", "gstep.loss_gen", ... - the golden F01 names) while they are alive. */
typedef void (*bv_train_probe_fn)(void *user, const char *name, bv_tensor *t);

/* Optional gradient hook, called after each sub-step's backward and before its clip_grad_value_ /
 * AdamW with the store whose grads were just computed (DDP's all-reduce: dist.h). */
typedef void (*bv_train_grad_sync_fn)(void *user, bv_params *ps);

typedef struct bv_train_state {
    const bv_config *cfg;           /* not owned; must outlive the state */
    bv_params ps_g, ps_d, ps_dur, ps_wd;   /* net_g / net_d / net_dur_disc / net_wd state_dict keys */
    bv_synth *net_g;
    bv_mpd net_d;
    bv_dur_disc *net_dur_disc;      /* NULL unless model.use_duration_discriminator */
    bv_wavlm_disc net_wd;
    bv_wavlm_loss wl;               /* WavLM (not owned) + net_wd */
    bv_adamw optim_g, optim_d, optim_dur, optim_wd;   /* optim_dur unused without net_dur_disc */
    bv_exp_lr sched_g, sched_d, sched_dur, sched_wd;
    int schedulers_started;
    float *mel_basis;               /* [n_mel_channels, filter_length/2+1] for spec_to_mel (librosa) */
    uint8_t *has_grad_g;            /* per ps_g item: 0 for parameters frozen by train.freeze_*_bert */
    int64_t global_step;            /* the caller increments it after each step (upstream: after logging) */
    int bf16;                       /* train.bf16_run on a backend that can (see above) */
    int64_t skipped_steps;          /* optimizer steps GradScaler's rule skipped (bf16 only) */
    bv_train_probe_fn probe;        /* optional */
    void *probe_user;
    bv_train_grad_sync_fn grad_sync; /* optional */
    void *grad_sync_user;
    /* 0 (default): from the first step on, net_d's grads lie over the grads of every net_g module
     * but the flow (packed after the flow's in ps_g, from g_final_at on): net_d's are dead once
     * optim_d has stepped and those are written only by net_g's final backward, so one block serves
     * both (grads_zero in train_step.c). 1: every p.grad stays readable after the step, as upstream
     * leaves it (tests compare them); net_d's grads then have their own block. */
    int keep_grads;
    int64_t g_final_at;             /* ps_g's grad offset of its first parameter outside the flow */
    int overlay_checked;            /* the first overlaid step checked that promise (overlay_check) */
} bv_train_state;

/* Per-step results for logging (train_ms's scalar_dict and image_dict inputs). Arrays and tensors
 * live in the step's context arena: valid until that context is reset. */
typedef struct bv_train_result {
    double loss_disc, loss_dur_disc, loss_slm;                   /* loss/d/total, loss/dur_disc/total, loss/wd/total */
    double loss_gen, loss_fm, loss_mel, loss_dur, loss_kl, loss_lm, loss_lm_gen, loss_dur_gen, loss_gen_all;
    int n_disc;                                                  /* MPD discriminators */
    double losses_disc_r[BV_MPD_MAX_DISCS], losses_disc_g[BV_MPD_MAX_DISCS], losses_gen[BV_MPD_MAX_DISCS];
    int n_dur;                                                   /* batch size (0 without net_dur_disc) */
    double *losses_dur_disc_r, *losses_dur_disc_g, *losses_dur_gen;
    double grad_norm_d, grad_norm_g, grad_norm_dur, grad_norm_wd;
    double lr;                                                   /* optim_g's lr during the step */
    float mas_noise_scale;                                       /* current_mas_noise_scale used */
    /* mel [B, M, T_y], y_mel and y_hat_mel [B, M, seg], attn [B, 1, T_y, T_x] (image_dict) */
    bv_tensor *mel, *y_mel, *y_hat_mel, *attn;
} bv_train_result;

/* One collated batch (data_utils.TextAudioSpeakerCollate order). */
typedef struct bv_train_batch {
    bv_tensor *x, *x_lengths;           // I64 [B, T_x], [B]
    bv_tensor *spec, *spec_lengths;     // f32 [B, filter_length/2+1, T_y], I64 [B]
    bv_tensor *y, *y_lengths;           // f32 [B, 1, T_y * hop], I64 [B]
    bv_tensor *speakers, *tone, *language; // I64 [B], [B, T_x], [B, T_x]
    bv_tensor *bert, *ja_bert, *en_bert;   // f32 [B, 1024, T_x]
} bv_train_batch;

/* Builds net_g (bv_synth_from_config), net_d (layout NULL: upstream's), net_dur_disc (if configured; p_dropout
 * from cfg->model.dur_disc_p_dropout), net_wd over `wavlm`'s hidden states, and the four AdamW
 * (train.learning_rate, betas, eps, weight_decay 0.01) exactly as train_ms.run. Each store is packed
 * (bv_params_pack: one contiguous data and grad buffer per network). Parameters are zeroed:
 * fill them (reset_parameters or a checkpoint) before stepping. Returns 0, or -1 with err filled for
 * a config it cannot train (bf16_run, slm sizes that do not match the WavLM, bv_synth_config_check);
 * on failure there is nothing to free. */
int bv_train_state_init(bv_train_state *st, const bv_config *cfg, const bv_wavlm *wavlm, const bv_mpd_layout *layout,
                        char *err, size_t errcap);
void bv_train_state_free(bv_train_state *st);

/* The four ExponentialLR(optim, gamma=train.lr_decay, last_epoch=epoch_str - 2), as train_ms.run
 * creates them after loading checkpoints (a resumed optimizer must carry initial_lr). 0 or -1. */
int bv_train_state_start_schedulers(bv_train_state *st, int64_t epoch_str, char *err, size_t errcap);
/* End of an epoch: scheduler_g, _d, _wd, _dur_disc .step(). */
void bv_train_state_epoch_end(bv_train_state *st);

/* train_ms's noise-scaled MAS schedule: max(initial - delta * global_step, 0) (python floats). */
float bv_train_mas_noise_scale(double initial, double delta, int64_t global_step);

/* One training step on `batch` at st->global_step. The context's tape is restored to its length at
 * entry; the activations stay in its arena (results point into it) until the caller resets it.
 * Bad batch shapes are op errors (bv_ctx_error). */
void bv_train_step(bv_train_state *st, bv_ctx *ctx, const bv_train_batch *batch, bv_train_result *res);

#endif
