/* losses.h - the training losses of Bert-VITS2 (upstream losses.py and train_ms.py's mel loss),
 * written as differentiable composites of ops (src/ops/ops.h), in upstream's float32 op order.
 *
 * Lists of tensors (one per discriminator output or feature-map layer) are passed flat, in
 * upstream's iteration order (discriminator-major, then layer). Every loss returns a scalar [].
 */
#ifndef BV_LOSSES_H
#define BV_LOSSES_H

#include "../ops/ops.h"

/* losses.feature_loss: 2 * sum_k mean|fmap_r[k].detach() - fmap_g[k]|; pairs must have equal shapes. */
bv_tensor *bv_feature_loss(bv_ctx *ctx, int n, bv_tensor *const *fmap_r, bv_tensor *const *fmap_g);

/* One term of feature_loss (without the factor 2): mean|fmap_r.detach() - fmap_g|. A caller that
 * backpropagates feature_loss piecewise seeds each term's gradient with 2 (exact: the sum and the
 * factor pass 2 down unchanged) and folds the terms' values itself. */
bv_tensor *bv_feature_loss_term(bv_ctx *ctx, bv_tensor *fmap_r, bv_tensor *fmap_g);

/* losses.discriminator_loss: sum_i mean((1 - real_i)^2) + mean(gen_i^2). r_losses / g_losses
 * (n doubles each, may be NULL) receive the per-item terms as python floats (.item() of float32). */
bv_tensor *bv_discriminator_loss(bv_ctx *ctx, int n, bv_tensor *const *real, bv_tensor *const *gen,
                                 double *r_losses, double *g_losses);

/* losses.generator_loss: sum_i mean((1 - gen_i)^2); gen_losses (n tensors, may be NULL) receive
 * the per-item terms (still on the tape, like upstream's list of tensors). */
bv_tensor *bv_generator_loss(bv_ctx *ctx, int n, bv_tensor *const *gen, bv_tensor **gen_losses);

/* losses.kl_loss: z_p, logs_q, m_p, logs_p [b, h, t]; z_mask [b, 1, t] (or [b, h, t]).
 * sum((logs_p - logs_q - 0.5 + 0.5 * (z_p - m_p)^2 * exp(-2 logs_p)) * z_mask) / sum(z_mask). */
bv_tensor *bv_kl_loss(bv_ctx *ctx, bv_tensor *z_p, bv_tensor *logs_q, bv_tensor *m_p, bv_tensor *logs_p,
                      bv_tensor *z_mask);

/* train_ms: F.l1_loss(y_mel, y_hat_mel) * c_mel; y_mel, y_hat_mel [b, n_mels, t], equal shapes. */
bv_tensor *bv_mel_l1_loss(bv_ctx *ctx, bv_tensor *y_mel, bv_tensor *y_hat_mel, float c_mel);

#endif
