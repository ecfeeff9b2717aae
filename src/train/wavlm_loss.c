/* wavlm_loss.c - losses.WavLMLoss (forward / generator / discriminator), op by op as upstream.
 *
 * Upstream's `with torch.no_grad()` blocks become bv_no_grad scopes; outputs computed there carry
 * no tape, exactly like torch's. The *_hidden functions hold the loss arithmetic; the upstream-named
 * functions run resample + WavLM first and call them. */
#include "wavlm_loss.h"

#include "../ops/ops.h"

#define OP "WavLMLoss"

void bv_wavlm_loss_init(bv_wavlm_loss *wl, const bv_wavlm *wavlm, const bv_wavlm_disc *wd, int model_sr,
                        int slm_sr) {
    wl->wavlm = wavlm;
    wl->wd = wd;
    wl->model_sr = model_sr;
    wl->slm_sr = slm_sr;
}

int bv_wavlm_loss_n_hidden(const bv_wavlm_loss *wl) { return wl->wavlm->cfg.num_hidden_layers + 1; }

/* train_ms hands in y.squeeze() of [B, 1, T]: take [B, T] or [B, 1, T] as [B, T]. */
static bv_tensor *as_batch_time(bv_ctx *ctx, bv_tensor *wav, const char *what) {
    char b[96];
    bv_check_dtype(ctx, OP, wav, BV_F32);
    if (wav->ndim == 3 && wav->shape[1] == 1) return bv_reshape(ctx, wav, BV_SHAPE(wav->shape[0], wav->shape[2]));
    if (wav->ndim != 2)
        bv_ctx_error(ctx, OP, "%s must be [B, T] or [B, 1, T], got %s", what, bv_shape_str(wav, b, sizeof b));
    return wav;
}

static void check_pair(bv_ctx *ctx, const bv_tensor *wav, const bv_tensor *y_rec) {
    if (!bv_same_shape(wav, y_rec)) {
        char a[96], b[96];
        bv_ctx_error(ctx, OP, "wav %s and y_rec %s must have the same shape", bv_shape_str(wav, a, sizeof a),
                     bv_shape_str(y_rec, b, sizeof b));
    }
}

void bv_wavlm_loss_embed(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *wav, bv_tensor **hs, bv_tensor **wav16) {
    wav = as_batch_time(ctx, wav, "wav");
    bv_tensor *w16 = bv_resample(ctx, wav, wl->model_sr, wl->slm_sr); // [B, T16] self.resample(wav)
    if (wav16) *wav16 = w16;
    bv_wavlm_forward(ctx, wl->wavlm, w16, hs);                         // n_hidden x [B, F, E]
}

bv_tensor *bv_wavlm_loss_stack(bv_ctx *ctx, int n, bv_tensor *const *hs) {
    // stack(dim=1) [B, n, F, E] -> transpose(-1, -2) [B, n, E, F] -> flatten(1, 2) [B, n*E, F]
    // is the concatenation of the per-layer transposes along the channel dim.
    bv_tensor *t[BV_WAVLM_LOSS_MAX_HIDDEN];
    for (int l = 0; l < n; l++) {
        if (l > 0 && !bv_same_shape(hs[l], hs[0])) {
            char a[96], b[96];
            bv_ctx_error(ctx, OP, "hidden state %d is %s, hidden state 0 is %s", l, bv_shape_str(hs[l], a, sizeof a),
                         bv_shape_str(hs[0], b, sizeof b));
        }
        t[l] = bv_transpose(ctx, hs[l], 1, 2); // [B, E, F]
    }
    return n == 1 ? t[0] : bv_concat(ctx, n, t, 1);
}

bv_tensor *bv_wavlm_loss_feature_hidden(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *const *hs_r,
                                        bv_tensor *const *hs_g) {
    int n = bv_wavlm_loss_n_hidden(wl);
    bv_tensor *floss = NULL; // [] python `floss = 0; floss += ...` (0 + t is exact)
    for (int l = 0; l < n; l++) {
        bv_check_same_shape(ctx, OP, hs_r[l], hs_g[l]);
        bv_tensor *er = bv_detach(ctx, hs_r[l]);                                      // [B, F, E] no_grad side
        bv_tensor *m = bv_mean(ctx, bv_abs(ctx, bv_sub(ctx, er, hs_g[l])));           // []
        floss = floss ? bv_add(ctx, floss, m) : m;
    }
    return floss; // floss.mean() of a scalar is the scalar
}

bv_tensor *bv_wavlm_loss_generator_hidden(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *const *hs_g,
                                          bv_tensor **y_df_hat_g) {
    bv_tensor *emb = bv_wavlm_loss_stack(ctx, bv_wavlm_loss_n_hidden(wl), hs_g); // [B, n*E, F]
    bv_tensor *d = bv_wavlm_disc_forward(ctx, wl->wd, emb);                       // [B, F]
    if (y_df_hat_g) *y_df_hat_g = d;
    return bv_mean(ctx, bv_square(ctx, bv_rsub_scalar(ctx, 1.0f, d)));           // mean((1 - d) ** 2)
}

bv_tensor *bv_wavlm_loss_discriminator_hidden(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *const *hs_r,
                                              bv_tensor *const *hs_g, bv_tensor **y_d_rs, bv_tensor **y_d_gs) {
    int n = bv_wavlm_loss_n_hidden(wl);
    bv_no_grad_begin(ctx); // the embeddings are built under no_grad upstream: constants for wd
    bv_tensor *y_embeddings = bv_wavlm_loss_stack(ctx, n, hs_r);     // [B, n*E, F]
    bv_tensor *y_rec_embeddings = bv_wavlm_loss_stack(ctx, n, hs_g); // [B, n*E, F]
    bv_no_grad_end(ctx);
    bv_tensor *d_r = bv_wavlm_disc_forward(ctx, wl->wd, y_embeddings);     // [B, F]
    bv_tensor *d_g = bv_wavlm_disc_forward(ctx, wl->wd, y_rec_embeddings); // [B, F]
    if (y_d_rs) *y_d_rs = d_r;
    if (y_d_gs) *y_d_gs = d_g;
    bv_tensor *r_loss = bv_mean(ctx, bv_square(ctx, bv_rsub_scalar(ctx, 1.0f, d_r))); // []
    bv_tensor *g_loss = bv_mean(ctx, bv_square(ctx, d_g));                             // []
    return bv_add(ctx, r_loss, g_loss); // loss_disc_f.mean() of a scalar
}

bv_tensor *bv_wavlm_loss_forward(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *wav, bv_tensor *y_rec) {
    wav = as_batch_time(ctx, wav, "wav");
    y_rec = as_batch_time(ctx, y_rec, "y_rec");
    check_pair(ctx, wav, y_rec);
    bv_tensor *hs_r[BV_WAVLM_LOSS_MAX_HIDDEN], *hs_g[BV_WAVLM_LOSS_MAX_HIDDEN];
    bv_no_grad_begin(ctx);
    bv_wavlm_loss_embed(ctx, wl, wav, hs_r, NULL);
    bv_no_grad_end(ctx);
    bv_wavlm_loss_embed(ctx, wl, y_rec, hs_g, NULL);
    return bv_wavlm_loss_feature_hidden(ctx, wl, hs_r, hs_g);
}

bv_tensor *bv_wavlm_loss_generator(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *y_rec, bv_tensor **y_df_hat_g) {
    bv_tensor *hs_g[BV_WAVLM_LOSS_MAX_HIDDEN];
    bv_wavlm_loss_embed(ctx, wl, y_rec, hs_g, NULL);
    return bv_wavlm_loss_generator_hidden(ctx, wl, hs_g, y_df_hat_g);
}

bv_tensor *bv_wavlm_loss_discriminator(bv_ctx *ctx, const bv_wavlm_loss *wl, bv_tensor *wav, bv_tensor *y_rec,
                                       bv_tensor **y_d_rs, bv_tensor **y_d_gs) {
    wav = as_batch_time(ctx, wav, "wav");
    y_rec = as_batch_time(ctx, y_rec, "y_rec");
    check_pair(ctx, wav, y_rec);
    bv_tensor *hs_r[BV_WAVLM_LOSS_MAX_HIDDEN], *hs_g[BV_WAVLM_LOSS_MAX_HIDDEN];
    bv_no_grad_begin(ctx);
    bv_wavlm_loss_embed(ctx, wl, wav, hs_r, NULL);
    bv_wavlm_loss_embed(ctx, wl, y_rec, hs_g, NULL);
    bv_no_grad_end(ctx);
    return bv_wavlm_loss_discriminator_hidden(ctx, wl, hs_r, hs_g, y_d_rs, y_d_gs);
}
