/* losses.c - Bert-VITS2's training losses as compositions of differentiable ops.
 *
 * Each function follows upstream's expression tree op by op (python's `loss = 0; loss += x`
 * starts from the first term exactly, so sums are left folds over the terms), which keeps the
 * float32 roundings where upstream has them. Shape errors name the loss and both shapes. */
#include "losses.h"

/* Left fold acc + t, starting from the first term (python's 0 + t is exact). */
static bv_tensor *accumulate(bv_ctx *ctx, bv_tensor *acc, bv_tensor *t) { return acc ? bv_add(ctx, acc, t) : t; }

/* A loss over an empty list is upstream's python 0 (times a constant): a zero scalar here. */
static bv_tensor *zero_if_null(bv_ctx *ctx, bv_tensor *t) { return t ? t : bv_scalar(ctx, 0.0f); }

bv_tensor *bv_feature_loss_term(bv_ctx *ctx, bv_tensor *fmap_r, bv_tensor *fmap_g) {
    bv_check_same_shape(ctx, "feature_loss", fmap_r, fmap_g);
    bv_tensor *rl = bv_detach(ctx, fmap_r);                 // [...] real features are a target
    bv_tensor *d = bv_abs(ctx, bv_sub(ctx, rl, fmap_g));    // [...]
    return bv_mean(ctx, d);                                 // []
}

bv_tensor *bv_feature_loss(bv_ctx *ctx, int n, bv_tensor *const *fmap_r, bv_tensor *const *fmap_g) {
    bv_tensor *loss = NULL; // []
    for (int k = 0; k < n; k++) loss = accumulate(ctx, loss, bv_feature_loss_term(ctx, fmap_r[k], fmap_g[k]));
    return bv_mul_scalar(ctx, zero_if_null(ctx, loss), 2.0f);
}

bv_tensor *bv_discriminator_loss(bv_ctx *ctx, int n, bv_tensor *const *real, bv_tensor *const *gen,
                                 double *r_losses, double *g_losses) {
    bv_tensor *loss = NULL; // []
    for (int i = 0; i < n; i++) {
        bv_tensor *r_loss = bv_mean(ctx, bv_square(ctx, bv_rsub_scalar(ctx, 1.0f, real[i]))); // []
        bv_tensor *g_loss = bv_mean(ctx, bv_square(ctx, gen[i]));                             // []
        loss = accumulate(ctx, loss, bv_add(ctx, r_loss, g_loss));
        if (r_losses) r_losses[i] = bv_tensor_item(r_loss); /* .item() of a float32 */
        if (g_losses) g_losses[i] = bv_tensor_item(g_loss);
    }
    return zero_if_null(ctx, loss);
}

bv_tensor *bv_generator_loss(bv_ctx *ctx, int n, bv_tensor *const *gen, bv_tensor **gen_losses) {
    bv_tensor *loss = NULL; // []
    for (int i = 0; i < n; i++) {
        bv_tensor *l = bv_mean(ctx, bv_square(ctx, bv_rsub_scalar(ctx, 1.0f, gen[i]))); // []
        if (gen_losses) gen_losses[i] = l;
        loss = accumulate(ctx, loss, l);
    }
    return zero_if_null(ctx, loss);
}

/* z_mask must broadcast onto x without growing it: same rank, each dim equal or 1. */
static void check_mask(bv_ctx *ctx, const char *op, const bv_tensor *x, const bv_tensor *mask) {
    int ok = mask->ndim == x->ndim;
    for (int d = 0; ok && d < x->ndim; d++) ok = mask->shape[d] == x->shape[d] || mask->shape[d] == 1;
    if (!ok) {
        char a[96], b[96];
        bv_ctx_error(ctx, op, "mask shape %s does not broadcast to %s", bv_shape_str(mask, b, sizeof b),
                     bv_shape_str(x, a, sizeof a));
    }
}

bv_tensor *bv_kl_loss(bv_ctx *ctx, bv_tensor *z_p, bv_tensor *logs_q, bv_tensor *m_p, bv_tensor *logs_p,
                      bv_tensor *z_mask) {
    const char *op = "kl_loss";
    bv_check_same_shape(ctx, op, z_p, logs_q);
    bv_check_same_shape(ctx, op, z_p, m_p);
    bv_check_same_shape(ctx, op, z_p, logs_p);
    check_mask(ctx, op, z_p, z_mask);
    // kl = logs_p - logs_q - 0.5
    bv_tensor *kl = bv_add_scalar(ctx, bv_sub(ctx, logs_p, logs_q), -0.5f);                  // [b, h, t]
    // kl += 0.5 * ((z_p - m_p) ** 2) * torch.exp(-2.0 * logs_p)
    bv_tensor *sq = bv_mul_scalar(ctx, bv_square(ctx, bv_sub(ctx, z_p, m_p)), 0.5f);         // [b, h, t]
    bv_tensor *e = bv_exp(ctx, bv_mul_scalar(ctx, logs_p, -2.0f));                          // [b, h, t]
    kl = bv_add(ctx, kl, bv_mul(ctx, sq, e));                                               // [b, h, t]
    bv_tensor *num = bv_sum(ctx, bv_mul(ctx, kl, z_mask));                                  // []
    return bv_div(ctx, num, bv_sum(ctx, z_mask));
}

bv_tensor *bv_mel_l1_loss(bv_ctx *ctx, bv_tensor *y_mel, bv_tensor *y_hat_mel, float c_mel) {
    bv_check_same_shape(ctx, "mel_l1_loss", y_mel, y_hat_mel);
    bv_tensor *l1 = bv_mean(ctx, bv_abs(ctx, bv_sub(ctx, y_mel, y_hat_mel))); // [] F.l1_loss, reduction mean
    return bv_mul_scalar(ctx, l1, c_mel);
}
