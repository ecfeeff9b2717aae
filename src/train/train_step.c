/* train_step.c - train_ms.train_and_evaluate's per-batch body and the networks/optimizers it drives.
 *
 * One context carries the whole step. Each sub-step (duration discriminator, MPD, WavLM
 * discriminator, generator) runs its own backward; between them the tape is cut back to where the
 * sub-step's graph began, so a later backward never replays an earlier sub-step's nodes, and the
 * discriminator sub-graphs' activations are given back to the arena once their optimizer has
 * stepped. The generator forward (recorded first) stays on the tape for the final G backward; the
 * discriminator steps only ever see detached aliases of its outputs.
 *
 * Memory: the losses are sums, and the MPD's sub-discriminators (and WavLM + net_wd in the G step)
 * are independent graphs, so each is run forward, backpropagated and dropped (tape cut, arena
 * rewound) before the next one: the D step accumulates each sub-discriminator's weight gradients
 * in turn, and the G step collects d loss / d y_hat from them on a detached leaf (y_hat_leaf) that
 * seeds y_hat's gradient in the final backward through net_g. Only one sub-discriminator's
 * activations are alive at a time instead of all of them (and WavLM's taped activations are gone
 * before the MPD runs in the G step). Every gradient is the same sum as backpropagating the whole
 * loss at once (each term's upstream gradient is exactly 1, or exactly 2 for the feature-matching
 * terms); only the order in which y_hat's gradient adds its parts changes (last-bit differences).
 * The losses' values are folded from the same float32 terms in upstream's order, so they are
 * bit-identical. loss_kl is backpropagated through the flow inside net_g's forward (prior hook:
 * kl_before_decoder) and the flow's memory reused from then on; net_d's parameter grads share one
 * block of memory with net_g's grads outside the flow, which only net_g's final backward fills
 * (grads_zero; keep_grads keeps them apart and readable after the step). */
#include "train_step.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../app/model_config.h"
#include "../audio/mel.h"
#include "../core/error.h"
#include "../core/backend.h"
#include "../ops/align.h"
#include "../ops/dispatch.h"
#include "losses.h"

/* The net_g parameters whose grads loss_kl's backward writes inside net_g's forward (kl_before_decoder:
 * it runs through the flow only); the final backward writes all the others. */
static const char *const kl_backward_reaches[] = {"flow."};

#define ADAMW_WEIGHT_DECAY 0.01 /* torch.optim.AdamW default; train_ms does not pass one */

void bv_mpd_layout_upstream(bv_mpd_layout *l) {
    static const int periods[] = {2, 3, 5, 7, 11};
    memset(l, 0, sizeof *l);
    bv_disc_widths_upstream_s(&l->s);
    bv_disc_widths_upstream_p(&l->p);
    l->n_periods = 5;
    memcpy(l->periods, periods, sizeof periods);
}

/* ---------------------------------------------------------------- construction */

/* train.freeze_{ZH,JP,EN}_bert: requires_grad = False on enc_p.{bert,ja_bert,en_bert}_proj.*, which
 * also keeps them out of optim_g (upstream filters on requires_grad) and out of grad_norm_g. */
static void apply_bert_freezes(bv_train_state *st) {
    const bv_config_train *t = &st->cfg->train;
    const struct { int on; const char *prefix; } fr[] = {
        {t->freeze_ZH_bert, "enc_p.bert_proj."},
        {t->freeze_JP_bert, "enc_p.ja_bert_proj."},
        {t->freeze_EN_bert, "enc_p.en_bert_proj."},
    };
    for (int i = 0; i < st->ps_g.n; i++) {
        bv_tensor *p = st->ps_g.items[i];
        st->has_grad_g[i] = 1;
        for (size_t k = 0; k < sizeof fr / sizeof fr[0]; k++)
            if (fr[k].on && !strncmp(p->name, fr[k].prefix, strlen(fr[k].prefix))) {
                p->requires_grad = false;
                st->has_grad_g[i] = 0;
            }
    }
}

static void adamw_from_config(bv_adamw *o, bv_params *ps, const bv_config_train *t) {
    bv_adamw_init(o, ps, t->learning_rate, t->betas[0], t->betas[1], t->eps, ADAMW_WEIGHT_DECAY);
}

int bv_train_state_init(bv_train_state *st, const bv_config *cfg, const bv_wavlm *wavlm, const bv_mpd_layout *layout,
                        char *err, size_t errcap) {
    memset(st, 0, sizeof *st);
    const bv_config_model *mc = &cfg->model;
    if (cfg->train.bf16_run) {
        char why[256];
        if (bv_backend_bf16_check(bv_backend_get(BV_DEV_CPU), why, sizeof why))
            return snprintf(err, errcap, "train.bf16_run: true needs native bf16: %s; set it to false", why), -1;
        st->bf16 = 1;
    }
    if (mc->use_spectral_norm)
        return snprintf(err, errcap, "model.use_spectral_norm: true is not supported (spectral-norm discriminators); "
                                     "set it to false as upstream's configs do"),
               -1;
    if (mc->use_mel_posterior_encoder)
        return snprintf(err, errcap, "model.use_mel_posterior_encoder: true is not supported (the posterior encoder "
                                     "reads linear spectrograms); set it to false as upstream's configs do"),
               -1;
    if (bv_synth_config_check(cfg, err, (int)errcap)) return -1;
    if (mc->slm.hidden != wavlm->cfg.hidden_size || mc->slm.nlayers != wavlm->cfg.num_hidden_layers + 1)
        return snprintf(err, errcap,
                        "model.slm: hidden %lld / nlayers %lld do not match the WavLM model (hidden_size %d, %d "
                        "hidden states)",
                        (long long)mc->slm.hidden, (long long)mc->slm.nlayers, wavlm->cfg.hidden_size,
                        wavlm->cfg.num_hidden_layers + 1),
               -1;
    if (mc->slm.initial_channel <= 0 || mc->slm.sr <= 0 || cfg->data.sampling_rate <= 0)
        return snprintf(err, errcap, "model.slm.initial_channel, model.slm.sr and data.sampling_rate must be positive"),
               -1;
    bv_mpd_layout up;
    if (!layout) {
        bv_mpd_layout_upstream(&up);
        layout = &up;
    }
    if (layout->n_periods < 0 || layout->n_periods >= BV_MPD_MAX_DISCS)
        return snprintf(err, errcap, "MultiPeriodDiscriminator: %d periods (at most %d)", layout->n_periods,
                        BV_MPD_MAX_DISCS - 1),
               -1;
    st->cfg = cfg;
    bv_params_init(&st->ps_g);
    bv_params_init(&st->ps_d);
    bv_params_init(&st->ps_dur);
    bv_params_init(&st->ps_wd);
    st->net_g = bv_synth_from_config(&st->ps_g, "", cfg);
    bv_mpd_init(&st->net_d, &st->ps_d, "", layout->n_periods, layout->periods, &layout->s, &layout->p);
    if (mc->use_duration_discriminator)
        /* DurationDiscriminator(hidden, hidden, 3, 0.1, gin_channels=gin if n_speakers != 0 else 0) */
        st->net_dur_disc = bv_dur_disc_new(&st->ps_dur, "", &(bv_dur_disc_cfg){
            .in_channels = mc->hidden_channels, .filter_channels = mc->hidden_channels, .kernel_size = 3,
            .p_dropout = mc->dur_disc_p_dropout, .gin_channels = cfg->data.n_speakers != 0 ? mc->gin_channels : 0});
    bv_wavlm_disc_init(&st->net_wd, &st->ps_wd, "", (int)mc->slm.hidden, (int)mc->slm.nlayers,
                       (int)mc->slm.initial_channel);
    bv_wavlm_loss_init(&st->wl, wavlm, &st->net_wd, (int)cfg->data.sampling_rate, (int)mc->slm.sr);
    const bv_config_data *d = &cfg->data;
    st->mel_basis = bv_mel_filterbank((int)d->sampling_rate, (int)d->filter_length, (int)d->n_mel_channels,
                                      d->mel_fmin, d->has_mel_fmax ? d->mel_fmax : NAN);
    if (!st->mel_basis) {
        snprintf(err, errcap, "data: cannot build a mel filterbank (sampling_rate %lld, filter_length %lld, "
                 "n_mel_channels %lld)", (long long)d->sampling_rate, (long long)d->filter_length,
                 (long long)d->n_mel_channels);
        bv_train_state_free(st);
        return -1;
    }
    /* one buffer per network: DDP's all-reduce moves it in one call; net_g's flow first, with room
     * for net_d's grads over the rest (grads_zero) */
    st->g_final_at = bv_params_pack_first(&st->ps_g, kl_backward_reaches,
                                          (int)(sizeof kl_backward_reaches / sizeof *kl_backward_reaches),
                                          bv_params_numel(&st->ps_d));
    bv_params_pack(&st->ps_d);
    bv_params_pack(&st->ps_dur);
    bv_params_pack(&st->ps_wd);
    st->has_grad_g = bv_xcalloc((size_t)(st->ps_g.n + 1), 1);
    apply_bert_freezes(st);
    adamw_from_config(&st->optim_g, &st->ps_g, &cfg->train);
    adamw_from_config(&st->optim_d, &st->ps_d, &cfg->train);
    adamw_from_config(&st->optim_wd, &st->ps_wd, &cfg->train);
    if (st->net_dur_disc) adamw_from_config(&st->optim_dur, &st->ps_dur, &cfg->train);
    return 0;
}

void bv_train_state_free(bv_train_state *st) {
    if (st->optim_g.block) bv_adamw_free(&st->optim_g);
    if (st->optim_d.block) bv_adamw_free(&st->optim_d);
    if (st->optim_wd.block) bv_adamw_free(&st->optim_wd);
    if (st->optim_dur.block) bv_adamw_free(&st->optim_dur);
    free(st->mel_basis);
    bv_synth_free(st->net_g);
    bv_dur_disc_free(st->net_dur_disc);
    bv_params_free(&st->ps_g);
    bv_params_free(&st->ps_d);
    bv_params_free(&st->ps_dur);
    bv_params_free(&st->ps_wd);
    free(st->has_grad_g);
    memset(st, 0, sizeof *st);
}

int bv_train_state_start_schedulers(bv_train_state *st, int64_t epoch_str, char *err, size_t errcap) {
    double gamma = st->cfg->train.lr_decay;
    int64_t last = epoch_str - 2;
    if (bv_exp_lr_init(&st->sched_g, &st->optim_g, gamma, last, err, (int)errcap) ||
        bv_exp_lr_init(&st->sched_d, &st->optim_d, gamma, last, err, (int)errcap) ||
        bv_exp_lr_init(&st->sched_wd, &st->optim_wd, gamma, last, err, (int)errcap) ||
        (st->net_dur_disc && bv_exp_lr_init(&st->sched_dur, &st->optim_dur, gamma, last, err, (int)errcap)))
        return -1;
    st->schedulers_started = 1;
    return 0;
}

void bv_train_state_epoch_end(bv_train_state *st) {
    BV_ASSERT(st->schedulers_started);
    bv_exp_lr_step(&st->sched_g);
    bv_exp_lr_step(&st->sched_d);
    bv_exp_lr_step(&st->sched_wd);
    if (st->net_dur_disc) bv_exp_lr_step(&st->sched_dur);
}

/* ---------------------------------------------------------------- step helpers */

static void probe(const bv_train_state *st, const char *name, bv_tensor *t) {
    if (st->probe && t) st->probe(st->probe_user, name, t);
}

static void probef(const bv_train_state *st, bv_tensor *t, const char *fmt, int i, int j) {
    if (!st->probe) return;
    char name[128];
    snprintf(name, sizeof name, fmt, i, j);
    st->probe(st->probe_user, name, t);
}

/* A store's parameters in or out of autograd: the G step freezes the discriminators. */
/* train_ms under bf16_run: clip_grad_norm_(net_d.parameters(), max_norm=200), net_g's 500 */
enum { BF16_MAX_NORM_D = 200, BF16_MAX_NORM_G = 500 };

static void set_trainable(bv_params *ps, bool on) {
    for (int i = 0; i < ps->n; i++) ps->items[i]->requires_grad = on;
}

/* [bf16_run: clip_grad_norm_(params, bf16_max_norm) when > 0]; grad_norm = clip_grad_value_(params,
 * None); optim.step() (bf16_run: skipped on inf/NaN grads, as GradScaler.step does), on the
 * gradients already accumulated. */
static double optimizer_step(bv_train_state *st, bv_params *ps, bv_adamw *opt, const uint8_t *has_grad,
                             double bf16_max_norm) {
    if (st->grad_sync) st->grad_sync(st->grad_sync_user, ps); /* DDP: grads averaged across ranks */
    int finite = 1;
    double norm;
    if (st->bf16 && bf16_max_norm > 0) { /* found_inf, clip_grad_norm_, clip_grad_value_(None) */
        norm = bv_clip_grad_norm_then_value(ps, has_grad, bf16_max_norm, &finite);
    } else {
        finite = !st->bf16 || bv_grads_finite(ps, has_grad);
        norm = bv_clip_grad_value(ps, has_grad, NULL);
    }
    if (finite)
        bv_adamw_step(opt, has_grad);
    else
        st->skipped_steps++;
    return norm;
}

/* optim.zero_grad(); loss.backward(); then optimizer_step. The tape is cut back to `tape_from`
 * afterwards so no later backward replays this graph. */
static double optimize(bv_train_state *st, bv_ctx *ctx, bv_tensor *loss, int64_t tape_from, bv_params *ps,
                       bv_adamw *opt, const uint8_t *has_grad, double bf16_max_norm) {
    bv_params_zero_grad(ps);
    bv_backward_multi_to(ctx, 1, &loss, NULL, tape_from); /* the sub-step's graph only: net_g's stays */
    bv_tape_cut(ctx, tape_from);
    return optimizer_step(st, ps, opt, has_grad, bf16_max_norm);
}

/* python's `loss = 0; loss += t` over float32 scalar tensors (0 + t is exact). The G and D steps
 * refold their sums from constants holding the terms' values once the terms' graphs are gone
 * (their gradients flowed already): same terms, same order, same float32 sums. */
static bv_tensor *fold_add(bv_ctx *ctx, int n, bv_tensor *const *ts) {
    bv_tensor *acc = NULL;
    for (int i = 0; i < n; i++) acc = acc ? bv_add(ctx, acc, ts[i]) : ts[i];
    return acc ? acc : bv_scalar(ctx, 0.0f);
}

/* Python iterates a [B, T, 1] tensor over its first dim: one [T, 1] item per utterance. */
static void batch_items(bv_ctx *ctx, bv_tensor *t, bv_tensor **items) {
    for (int64_t b = 0; b < t->shape[0]; b++) items[b] = bv_slice(ctx, t, 0, b, b + 1, 1); // [1, T, 1]
}

/* The two net_dur_disc calls of train_ms (DP durations, then SDP durations), probabilities added:
 * y_dur_hat_r (may be NULL) and y_dur_hat_g, each [B, T_x, 1]. `call0` numbers the probe names. */
static void dur_disc_pair(bv_ctx *ctx, const bv_train_state *st, const char *stage, int call0, bv_tensor *hidden_x,
                          bv_tensor *x_mask, bv_tensor *logw_, bv_tensor *logw, bv_tensor *logw_sdp, bv_tensor *g,
                          bv_tensor **y_dur_hat_r, bv_tensor **y_dur_hat_g) {
    bv_tensor *p0[2], *p1[2];
    bv_dur_disc_forward(ctx, st->net_dur_disc, hidden_x, x_mask, logw_, logw, g, 1, p0);
    bv_dur_disc_forward(ctx, st->net_dur_disc, hidden_x, x_mask, logw_, logw_sdp, g, 1, p1);
    char fmt[96];
    snprintf(fmt, sizeof fmt, "%s.net_dur_disc.call%%d.%%d", stage);
    for (int k = 0; k < 2; k++) {
        probef(st, p0[k], fmt, call0, k);
        probef(st, p1[k], fmt, call0 + 1, k);
    }
    if (y_dur_hat_r) *y_dur_hat_r = bv_add(ctx, p0[0], p1[0]);
    *y_dur_hat_g = bv_add(ctx, p0[1], p1[1]);
}

static void probe_list(const bv_train_state *st, const char *fmt, int n, bv_tensor *const *ts) {
    for (int i = 0; i < n; i++) probef(st, ts[i], fmt, i, 0);
}

/* What the G forward hands to the discriminator and generator sub-steps. */
typedef struct fwd_parts {
    bv_synth_out o;
    bv_tensor *y;                 // [B, 1, segment_size] the real slice
    bv_tensor *y_mel, *y_hat_mel; // [B, M, seg]
    bv_tensor *hs_r[BV_WAVLM_LOSS_MAX_HIDDEN], *hs_g[BV_WAVLM_LOSS_MAX_HIDDEN]; // WavLM of y / y_hat_leaf
    bv_tensor *y_hat_leaf;        // y_hat detached, requiring grad: the G step's sub-graphs end here
    bv_ctx_mark wl_mark;          // before WavLM(y_hat_leaf): its graph is dropped back to here
    int64_t wl_tape;
    bv_train_state *st;
    float loss_kl;                // computed and backpropagated before the decoder (kl_before_decoder)
} fwd_parts;

/* grads_zero's promise, checked once: loss_kl's backward wrote no grad outside the flow's (those lie
 * over net_d's, which the D step is about to fill). */
static void overlay_check(bv_ctx *ctx, bv_train_state *st) {
    if (!st->ps_d.grad_borrowed || st->overlay_checked || !st->ps_g.be->mem.host_visible) return;
    for (int i = 0; i < st->ps_g.n; i++) {
        const bv_tensor *p = st->ps_g.items[i];
        if (p->grad - st->ps_g.grad < st->g_final_at) continue;
        for (int64_t k = 0; k < p->numel; k++)
            if (p->grad[k] != 0.0f)
                bv_ctx_error(ctx, "train_step",
                             "loss_kl's backward wrote a gradient of %s, outside the flow: its grads cannot lie over "
                             "net_d's (kl_backward_reaches)", p->name);
    }
    st->overlay_checked = 1;
}

/* SynthesizerTrn's prior hook (after the alignment, before the duration predictors and the decoder
 * run): loss_kl reaches net_g's graph only through z_p (the flow's output), logs_q and the expanded
 * prior, and nothing else reaches the flow, so loss_kl.backward() through the flow can run now (its
 * gradient is exactly 1 in loss_gen_all; G's grads were zeroed at the start of the step). What it
 * leaves on enc_q's and enc_p's outputs waits there for the final backward. The flow's nodes then
 * leave the tape and its activations (over half of net_g's) become holes that the duration
 * predictors, the decoder and the discriminator steps fill instead of growing the arena. */
static void kl_before_decoder(void *user, bv_ctx *ctx, bv_synth_out *o) {
    fwd_parts *f = user;
    bv_tensor *z_p = bv_new_like(ctx, o->z_p); /* outlives the flow's memory (probes) */
    bv_copy_at(z_p, 0, o->z_p, 0, z_p->numel);
    bv_ctx_mark mark = bv_ctx_get_mark(ctx);
    int64_t tape = bv_tape_mark(ctx);
    bv_tensor *loss_kl = bv_mul_scalar(ctx, bv_kl_loss(ctx, o->z_p, o->logs_q, o->m_p, o->logs_p, o->z_mask),
                                       (float)f->st->cfg->train.c_kl); // []
    f->loss_kl = (float)bv_tensor_item(loss_kl);
    probe(f->st, "sub.kl.z", o->z); /* the flow's input (bench/: what this backward runs) */
    probe(f->st, "sub.kl.loss_kl", loss_kl);
    bv_backward_multi_to(ctx, 1, &loss_kl, NULL, o->flow_tape_from);
    overlay_check(ctx, f->st);
    bv_tape_cut(ctx, tape);
    bv_ctx_reset_to(ctx, mark);
    bv_tape_remove(ctx, o->flow_tape_from, o->flow_tape_to);
    bv_ctx_release(ctx, o->flow_from, o->flow_to);
    o->z_p = z_p;
}

/* net_g forward, the mel targets and the real slice (train_ms lines before "# Discriminator"). */
static void generator_forward(bv_train_state *st, bv_ctx *ctx, const bv_train_batch *b, fwd_parts *f,
                              bv_train_result *res) {
    const bv_config_data *d = &st->cfg->data;
    bv_synth_out *o = &f->o;
    f->st = st;
    st->net_g->prior_hook = kl_before_decoder;
    st->net_g->prior_hook_user = f;
    bv_synth_forward(ctx, st->net_g, b->x, b->x_lengths, b->spec, b->spec_lengths, b->speakers, b->tone, b->language,
                     b->bert, b->ja_bert, b->en_bert, 1, o);
    st->net_g->prior_hook = NULL;
    st->net_g->prior_hook_user = NULL;
    double fmax = d->has_mel_fmax ? d->mel_fmax : NAN;
    /* the state's basis as a constant of this step (no grad; on the context's device) */
    bv_tensor *mel_basis = bv_from_f32(ctx, BV_SHAPE(d->n_mel_channels, d->filter_length / 2 + 1),
                                       st->mel_basis); // [M, n_fft/2+1]
    bv_tensor *mel = bv_spec_to_mel(ctx, b->spec, mel_basis);                                  // [B, M, T_y]
    int64_t seg_frames = st->cfg->train.segment_size / d->hop_length;
    f->y_mel = bv_slice_segments(ctx, mel, o->ids_slice, seg_frames);                          // [B, M, seg]
    bv_tensor *y_hat = o->y_hat;                                                               // [B, 1, T]
    f->y_hat_mel = bv_mel_spectrogram(ctx, bv_reshape(ctx, y_hat, BV_SHAPE(y_hat->shape[0], y_hat->shape[2])),
                                      (int)d->filter_length, (int)d->n_mel_channels, (int)d->sampling_rate,
                                      (int)d->hop_length, (int)d->win_length, d->mel_fmin, fmax);
    bv_tensor *ids_wav = bv_new(ctx, BV_I64, 1, o->ids_slice->shape);                         // [B]
    int64_t *ids = bv_host_copy(o->ids_slice);                                                 /* B values */
    for (int64_t i = 0; i < ids_wav->numel; i++) ids[i] *= d->hop_length;
    bv_from_host(ids_wav, ids);
    free(ids);
    f->y = bv_slice_segments(ctx, b->y, ids_wav, st->cfg->train.segment_size);                 // [B, 1, seg]
    res->mel = mel;
    res->y_mel = f->y_mel;
    res->y_hat_mel = f->y_hat_mel;
    res->attn = o->attn;

    static const char *const names[] = {"fwd.y_hat", "fwd.l_length", "fwd.attn", "fwd.ids_slice", "fwd.x_mask",
                                        "fwd.z_mask", "fwd.z", "fwd.z_p", "fwd.m_p", "fwd.logs_p", "fwd.m_q",
                                        "fwd.logs_q", "fwd.hidden_x", "fwd.logw", "fwd.logw_", "fwd.logw_sdp",
                                        "fwd.g", "sub.enc_p.m_p", "sub.enc_p.logs_p", "sub.sdp.forward_nll",
                                        "sub.mas.neg_cent", "sub.mas.mask"};
    bv_tensor *vals[] = {o->y_hat, o->l_length, o->attn, o->ids_slice, o->x_mask, o->z_mask, o->z, o->z_p,
                         o->m_p, o->logs_p, o->m_q, o->logs_q, o->hidden_x, o->logw, o->logw_, o->logw_sdp, o->g,
                         o->enc_p_m_p, o->enc_p_logs_p, o->sdp_forward_nll, o->neg_cent, o->mas_mask};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) probe(st, names[i], vals[i]);
    probe(st, "fwd.mel", mel);
    probe(st, "fwd.y_mel", f->y_mel);
    probe(st, "fwd.y_hat_mel", f->y_hat_mel);
    probe(st, "fwd.y_sliced", f->y);
}

/* ---------------------------------------------------------------- the discriminator sub-steps */

/* net_d(y, y_hat.detach()) + discriminator_loss, then the duration discriminator's own update, then
 * optim_d's (upstream computes loss_disc before the dur-disc step and backpropagates it after). */
static void discriminator_steps(bv_train_state *st, bv_ctx *ctx, fwd_parts *f, bv_train_result *res) {
    bv_synth_out *o = &f->o;
    bv_ctx_mark mark = bv_ctx_get_mark(ctx);
    bv_tensor *y_hat_d = bv_detach(ctx, o->y_hat); // [B, 1, seg]
    int nd = st->net_d.n;
    res->n_disc = nd;
    /* loss_disc.backward() one sub-discriminator at a time (each term's gradient is 1; each has its
     * own weights, so every weight gradient is what the whole backward gives); optim_d.zero_grad()
     * ran at the start of the step (bv_train_step: grads_zero) */
    bv_tensor *terms[BV_MPD_MAX_DISCS];
    for (int i = 0; i < nd; i++) {
        bv_ctx_mark mi = bv_ctx_get_mark(ctx);
        int64_t ti = bv_tape_mark(ctx);
        bv_tensor *d_r, *d_g; // [B, *] each
        bv_disc_forward_pair(ctx, &st->net_d.discs[i], f->y, y_hat_d, &d_r, &d_g, NULL, NULL);
        probef(st, d_r, "dstep.net_d.y_d_hat_r.%d", i, 0);
        probef(st, d_g, "dstep.net_d.y_d_hat_g.%d", i, 0);
        bv_tensor *term = bv_discriminator_loss(ctx, 1, &d_r, &d_g, res->losses_disc_r + i,
                                                res->losses_disc_g + i);                        // []
        float v = (float)bv_tensor_item(term);
        bv_backward_multi_to(ctx, 1, &term, NULL, ti);
        bv_tape_cut(ctx, ti);
        bv_ctx_reset_to(ctx, mi);
        terms[i] = bv_scalar(ctx, v);
    }
    bv_tensor *loss_disc = fold_add(ctx, nd, terms); // []
    res->loss_disc = bv_tensor_item(loss_disc);
    probe(st, "dstep.loss_disc", loss_disc);

    if (st->net_dur_disc) {
        int64_t tape_dur = bv_tape_mark(ctx);
        bv_tensor *r, *g;
        dur_disc_pair(ctx, st, "dstep", 0, bv_detach(ctx, o->hidden_x), bv_detach(ctx, o->x_mask),
                      bv_detach(ctx, o->logw_), bv_detach(ctx, o->logw), bv_detach(ctx, o->logw_sdp),
                      bv_detach(ctx, o->g), &r, &g);                                            // [B, T_x, 1]
        int B = (int)r->shape[0];
        bv_tensor **ri = bv_arena_alloc(&ctx->arena, sizeof *ri * (size_t)B);
        bv_tensor **gi = bv_arena_alloc(&ctx->arena, sizeof *gi * (size_t)B);
        batch_items(ctx, r, ri);
        batch_items(ctx, g, gi);
        bv_tensor *loss_dur_disc = bv_discriminator_loss(ctx, B, ri, gi, res->losses_dur_disc_r,
                                                         res->losses_dur_disc_g);              // []
        res->loss_dur_disc = bv_tensor_item(loss_dur_disc);
        probe(st, "dstep.loss_dur_disc", loss_dur_disc);
        res->grad_norm_dur = optimize(st, ctx, loss_dur_disc, tape_dur, &st->ps_dur, &st->optim_dur, NULL, 0);
    }
    res->grad_norm_d = optimizer_step(st, &st->ps_d, &st->optim_d, NULL, BF16_MAX_NORM_D);
    bv_ctx_reset_to(ctx, mark);
}

/* WavLM once on y (no_grad) and once on y_hat WITH grad (on y_hat_leaf): the G step reuses the
 * latter, backpropagates its losses to y_hat_leaf and drops its graph; the WD step uses its values
 * only, as upstream's no_grad pass on y_hat.detach() would compute them. */
static void wavlm_embeddings(bv_train_state *st, bv_ctx *ctx, fwd_parts *f) {
    bv_tensor *w16_r, *w16_g;
    int n = bv_wavlm_loss_n_hidden(&st->wl);
    bv_ctx_mark before = bv_ctx_get_mark(ctx);
    bv_no_grad_begin(ctx);
    bv_wavlm_loss_embed(ctx, &st->wl, f->y, f->hs_r, &w16_r);
    /* no tape here: of WavLM(y)'s ~75 MiB (its CNN and transformer activations at upstream's sizes)
     * only the hidden states (and the resampled input, for the probes) live on */
    bv_tensor *keep[BV_WAVLM_LOSS_MAX_HIDDEN + 1];
    for (int l = 0; l < n; l++) keep[l] = f->hs_r[l];
    keep[n] = w16_r;
    bv_ctx_keep_only(ctx, before, n + 1, keep);
    for (int l = 0; l < n; l++) f->hs_r[l] = keep[l];
    w16_r = keep[n];
    bv_no_grad_end(ctx);
    f->y_hat_leaf = bv_detach(ctx, f->o.y_hat);
    f->y_hat_leaf->requires_grad = true;
    f->wl_mark = bv_ctx_get_mark(ctx);
    f->wl_tape = bv_tape_mark(ctx);
    bv_wavlm_loss_embed(ctx, &st->wl, f->y_hat_leaf, f->hs_g, &w16_g);
    probe(st, "wdstep.wavlm_input.wav", w16_r);
    probe(st, "wdstep.wavlm_input.y_rec", w16_g);
    probe_list(st, "wdstep.wavlm_hidden.wav.%d", n, f->hs_r);
    probe_list(st, "wdstep.wavlm_hidden.y_rec.%d", n, f->hs_g);
}

static void wavlm_discriminator_step(bv_train_state *st, bv_ctx *ctx, fwd_parts *f, bv_train_result *res) {
    bv_ctx_mark mark = bv_ctx_get_mark(ctx);
    int64_t tape_wd = bv_tape_mark(ctx);
    bv_tensor *d_r, *d_g;
    bv_tensor *loss_slm = bv_wavlm_loss_discriminator_hidden(ctx, &st->wl, f->hs_r, f->hs_g, &d_r, &d_g); // []
    probe(st, "wdstep.net_wd.y_d_rs", d_r);
    probe(st, "wdstep.net_wd.y_d_gs", d_g);
    probe(st, "wdstep.loss_slm", loss_slm);
    res->loss_slm = bv_tensor_item(loss_slm);
    res->grad_norm_wd = optimize(st, ctx, loss_slm, tape_wd, &st->ps_wd, &st->optim_wd, NULL, 0);

    bv_ctx_reset_to(ctx, mark);
}

/* ---------------------------------------------------------------- the generator sub-step */

/* loss_lm + loss_lm_gen (WavLM feature matching and net_wd's generator loss) backpropagated to
 * y_hat_leaf now; WavLM(y_hat)'s graph is dropped. Returns the two values as constants. */
static void wavlm_generator_losses(bv_train_state *st, bv_ctx *ctx, fwd_parts *f, bv_tensor **lm,
                                   bv_tensor **lm_gen) {
    bv_tensor *y_df_hat_g;
    bv_tensor *loss_lm = bv_wavlm_loss_feature_hidden(ctx, &st->wl, f->hs_r, f->hs_g);        // []
    bv_tensor *loss_lm_gen = bv_wavlm_loss_generator_hidden(ctx, &st->wl, f->hs_g, &y_df_hat_g); // []
    probe(st, "gstep.net_wd.y_df_hat_g", y_df_hat_g);
    float v_lm = (float)bv_tensor_item(loss_lm), v_gen = (float)bv_tensor_item(loss_lm_gen);
    bv_tensor *roots[2] = {loss_lm, loss_lm_gen};
    bv_backward_multi_to(ctx, 2, roots, NULL, f->wl_tape);
    bv_tape_cut(ctx, f->wl_tape);
    bv_ctx_reset_to(ctx, f->wl_mark);
    memset(f->hs_g, 0, sizeof f->hs_g); /* gone with the graph */
    *lm = bv_scalar(ctx, v_lm);
    *lm_gen = bv_scalar(ctx, v_gen);
}

/* net_d(y, y_hat): loss_gen and loss_fm, one sub-discriminator at a time, backpropagated to
 * y_hat_leaf (the discriminators are constants here). Returns both sums as constants. */
static void mpd_generator_losses(bv_train_state *st, bv_ctx *ctx, fwd_parts *f, bv_train_result *res,
                                 bv_tensor **loss_gen, bv_tensor **loss_fm) {
    const bv_mpd *m = &st->net_d;
    int nd = m->n, nfm = 0;
    bv_tensor *fm_vals[BV_MPD_MAX_DISCS * (BV_DISC_MAX_CONVS + 1)], *gen_vals[BV_MPD_MAX_DISCS];
    for (int i = 0; i < nd; i++) {
        bv_ctx_mark mi = bv_ctx_get_mark(ctx);
        int64_t ti = bv_tape_mark(ctx);
        bv_tensor *fr[BV_DISC_MAX_CONVS + 1], *fg[BV_DISC_MAX_CONVS + 1];
        bv_tensor *d_r, *d_g; // [B, *] each (d_r: no tape)
        bv_disc_forward_pair(ctx, &m->discs[i], f->y, f->y_hat_leaf, &d_r, &d_g, fr, fg);
        probef(st, d_r, "gstep.net_d.y_d_hat_r.%d", i, 0);
        probef(st, d_g, "gstep.net_d.y_d_hat_g.%d", i, 0);
        int nl = bv_mpd_n_fmaps(m, i);
        bv_tensor *roots[BV_DISC_MAX_CONVS + 2];
        const bv_tensor *gouts[BV_DISC_MAX_CONVS + 2];
        float v[BV_DISC_MAX_CONVS + 2];
        bv_tensor *two = bv_scalar(ctx, 2.0f); /* d loss_fm / d term: 2 * (1 through the sum) */
        for (int l = 0; l < nl; l++) {
            roots[l] = bv_feature_loss_term(ctx, fr[l], fg[l]); // []
            gouts[l] = two;
            v[l] = (float)bv_tensor_item(roots[l]);
        }
        bv_tensor *gl;
        bv_generator_loss(ctx, 1, &d_g, &gl);                   // [] mean((1 - d_g)^2)
        roots[nl] = gl;
        gouts[nl] = NULL;
        v[nl] = (float)bv_tensor_item(gl);
        bv_backward_multi_to(ctx, nl + 1, roots, gouts, ti);
        bv_tape_cut(ctx, ti);
        bv_ctx_reset_to(ctx, mi);
        for (int l = 0; l < nl; l++) fm_vals[nfm++] = bv_scalar(ctx, v[l]);
        gen_vals[i] = bv_scalar(ctx, v[nl]);
        res->losses_gen[i] = bv_tensor_item(gen_vals[i]);
        probef(st, gen_vals[i], "gstep.losses_gen.%d", i, 0);
    }
    *loss_fm = bv_mul_scalar(ctx, fold_add(ctx, nfm, fm_vals), 2.0f);
    *loss_gen = fold_add(ctx, nd, gen_vals);
}

/* Sum of the G losses in upstream's order (python left fold). The terms that depend on y_hat only
 * through a discriminator or WavLM are constants here: their gradient already sits in
 * y_hat_leaf's grad, which generator_step seeds into y_hat. */
static bv_tensor *generator_losses(bv_train_state *st, bv_ctx *ctx, fwd_parts *f, bv_train_result *res) {
    const bv_config_train *t = &st->cfg->train;
    bv_synth_out *o = &f->o;
    bv_tensor *loss_lm, *loss_lm_gen, *loss_gen, *loss_fm;
    wavlm_generator_losses(st, ctx, f, &loss_lm, &loss_lm_gen);
    mpd_generator_losses(st, ctx, f, res, &loss_gen, &loss_fm);
    bv_tensor *y_dur_hat_g = NULL;
    if (st->net_dur_disc)
        dur_disc_pair(ctx, st, "gstep", 2, o->hidden_x, o->x_mask, o->logw_, o->logw, o->logw_sdp, o->g, NULL,
                      &y_dur_hat_g);                                                           // [B, T_x, 1]

    bv_tensor *loss_dur = bv_sum(ctx, o->l_length);                                            // []
    bv_tensor *loss_mel = bv_mel_l1_loss(ctx, f->y_mel, f->y_hat_mel, (float)t->c_mel);        // []
    bv_tensor *loss_kl = bv_scalar(ctx, f->loss_kl); /* backpropagated before the decoder ran */

    bv_tensor *all = bv_add(ctx, loss_gen, loss_fm);
    all = bv_add(ctx, all, loss_mel);
    all = bv_add(ctx, all, loss_dur);
    all = bv_add(ctx, all, loss_kl);
    all = bv_add(ctx, all, loss_lm);
    all = bv_add(ctx, all, loss_lm_gen);
    if (y_dur_hat_g) {
        int B = (int)y_dur_hat_g->shape[0];
        bv_tensor **gi = bv_arena_alloc(&ctx->arena, sizeof *gi * (size_t)B);
        bv_tensor **li = bv_arena_alloc(&ctx->arena, sizeof *li * (size_t)B);
        batch_items(ctx, y_dur_hat_g, gi);
        bv_tensor *loss_dur_gen = bv_generator_loss(ctx, B, gi, li);                          // []
        all = bv_add(ctx, all, loss_dur_gen); // loss_gen_all += loss_dur_gen
        res->loss_dur_gen = bv_tensor_item(loss_dur_gen);
        for (int b = 0; b < B; b++) {
            res->losses_dur_gen[b] = bv_tensor_item(li[b]);
            probef(st, li[b], "gstep.losses_dur_gen.%d", b, 0);
        }
        probe(st, "gstep.loss_dur_gen", loss_dur_gen);
    }
    const char *const names[] = {"gstep.loss_dur", "gstep.loss_mel", "gstep.loss_kl", "gstep.loss_fm",
                                 "gstep.loss_gen", "gstep.loss_lm", "gstep.loss_lm_gen", "gstep.loss_gen_all"};
    bv_tensor *vals[] = {loss_dur, loss_mel, loss_kl, loss_fm, loss_gen, loss_lm, loss_lm_gen, all};
    double *dst[] = {&res->loss_dur, &res->loss_mel, &res->loss_kl, &res->loss_fm,
                     &res->loss_gen, &res->loss_lm,  &res->loss_lm_gen, &res->loss_gen_all};
    for (int i = 0; i < 8; i++) {
        *dst[i] = bv_tensor_item(vals[i]);
        probe(st, names[i], vals[i]);
    }
    return all;
}

static void generator_step(bv_train_state *st, bv_ctx *ctx, int64_t tape_start, fwd_parts *f, bv_train_result *res) {
    /* the discriminators are constants here: no weight-grad work for them (upstream computes those
     * grads and never uses them) */
    set_trainable(&st->ps_d, false);
    set_trainable(&st->ps_dur, false);
    set_trainable(&st->ps_wd, false);
    bv_tensor *loss_gen_all = generator_losses(st, ctx, f, res);
    /* net_d's grads are not needed again before the next step: their memory becomes the grads of
     * net_g outside the flow, zeroed for net_g's final backward (grads_zero) */
    if (st->ps_d.grad_borrowed)
        bv_params_zero_grad_range(&st->ps_g, st->g_final_at, st->ps_g.numel - st->g_final_at);
    /* loss_gen_all.backward(): the graph on the tape plus y_hat_leaf's gradient into y_hat (G's
     * grads were zeroed at the start of the step: loss_kl's part is in them already) */
    bv_tensor *roots[2] = {loss_gen_all, f->o.y_hat};
    const bv_tensor *gouts[2] = {NULL, NULL};
    int nr = 1;
    if (f->y_hat_leaf->grad) {
        bv_tensor *g = bv_detach(ctx, f->y_hat_leaf); /* a view of the leaf's gradient as a tensor */
        g->data = f->y_hat_leaf->grad;
        gouts[nr++] = g;
    }
    bv_backward_multi(ctx, nr, roots, gouts);
    bv_tape_cut(ctx, tape_start);
    res->grad_norm_g = optimizer_step(st, &st->ps_g, &st->optim_g, st->has_grad_g, BF16_MAX_NORM_G);
    set_trainable(&st->ps_d, true);
    set_trainable(&st->ps_dur, true);
    set_trainable(&st->ps_wd, true);
}

/* ---------------------------------------------------------------- the step */

float bv_train_mas_noise_scale(double initial, double delta, int64_t global_step) {
    /* python: net_g.mas_noise_scale_initial - net_g.noise_scale_delta * global_step, in doubles. The
     * product is rounded on its own (volatile: no fused multiply-add), as python rounds it: at step
     * 5000 python gets exactly 0.0 where an FMA would leave 6.6e-19. */
    volatile double dec = delta * (double)global_step;
    double s = initial - dec;
    return (float)(s > 0.0 ? s : 0.0);
}

/* optim_g.zero_grad() and optim_d.zero_grad(), both at the start of the step (loss_kl backpropagates
 * during net_g's forward; nothing writes net_d's grads before the D step). Unless keep_grads, net_d's
 * grads lie over all of net_g's but the flow's (bv_params_overlay_grad at the first step): loss_kl's
 * backward in the prior hook stops at the flow's input (kl_before_decoder), so every other net_g
 * grad is written by net_g's final backward alone; net_d's live from the D step to optim_d's step,
 * those from that final backward (generator_step zeroes them there) to optim_g's. The two never meet,
 * and one block of memory, resident all along, holds both; one memset zeroes it all here (~13 ms).
 * This replaced giving each block back to the system between its uses (madvise), whose pages faulted
 * in again every step (~1650 faults; on this project's VMs the host reclaims free guest pages after
 * a delay, so a refault can cost ~3 ms per MiB). bv2-bench --train-step, upstream's config, three
 * A/B rounds (Xeon model 207, 2 threads): median step 4305-4446 -> 4284-4374 ms, process CPU
 * 7597-7766 -> 7503-7648 ms, max RSS 2815 -> 2796 MiB, no page faults in steady steps. */
static void grads_zero(bv_train_state *st) {
    if (st->keep_grads) {
        bv_params_own_grad(&st->ps_d);
        bv_params_zero_grad(&st->ps_g);
        bv_params_zero_grad(&st->ps_d);
        return;
    }
    if (!st->ps_d.grad_borrowed) bv_params_overlay_grad(&st->ps_g, st->g_final_at, &st->ps_d);
    /* the whole block: net_g's grads and net_d's over them (bv_params_pack_first sized it for both) */
    bv_params_zero_grad_range(&st->ps_g, 0, st->ps_g.grad_cap);
}

void bv_train_step(bv_train_state *st, bv_ctx *ctx, const bv_train_batch *batch, bv_train_result *res) {
    memset(res, 0, sizeof *res);
    int64_t tape_start = bv_tape_mark(ctx);
    bv_synth *net_g = st->net_g;
    if (net_g->use_noise_scaled_mas)
        bv_synth_set_mas_noise_scale(net_g, bv_train_mas_noise_scale(bv_synth_mas_noise_scale_initial(net_g),
                                                                     bv_synth_noise_scale_delta(net_g),
                                                                     st->global_step));
    res->mas_noise_scale = net_g->current_mas_noise_scale;
    res->lr = st->optim_g.lr;
    int64_t B = batch->x->shape[0];
    if (st->net_dur_disc) {
        res->n_dur = (int)B;
        res->losses_dur_disc_r = bv_arena_calloc(&ctx->arena, sizeof(double) * (size_t)(3 * B));
        res->losses_dur_disc_g = res->losses_dur_disc_r + B;
        res->losses_dur_gen = res->losses_dur_disc_r + 2 * B;
    }
    fwd_parts f;
    memset(&f, 0, sizeof f);
    grads_zero(st);
    /* upstream wraps every forward pass and loss of the step in autocast(enabled=bf16_run) */
    bv_autocast saved = ctx->autocast;
    ctx->autocast = st->bf16 ? BV_AUTOCAST_BF16 : BV_AUTOCAST_OFF;
    generator_forward(st, ctx, batch, &f, res);
    discriminator_steps(st, ctx, &f, res);
    wavlm_embeddings(st, ctx, &f);
    wavlm_discriminator_step(st, ctx, &f, res);
    generator_step(st, ctx, tape_start, &f, res);
    ctx->autocast = saved;
}
