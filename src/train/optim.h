/* optim.h - the optimizer side of train_ms.py: torch.optim.AdamW, lr_scheduler.ExponentialLR and
 * commons.clip_grad_value_, reproducing torch 1.13's CPU arithmetic (float32 tensor ops driven by
 * python-float scalars) so that parameters after a step match upstream to the last bits.
 *
 * "Has grad": upstream skips a parameter whose .grad is None (AdamW does not touch it or create
 * its state; clip_grad_value_ leaves it out of the norm). Our store gives every parameter a
 * persistent zeroed grad, so callers pass a per-parameter flag array `has_grad` (1 = grad is set,
 * 0 = upstream's None); NULL means every parameter has a grad.
 *
 * State lives outside the per-step arena (allocated once at init from the parameter store's backend
 * allocator: device memory on a device): one block holds exp_avg and exp_avg_sq of every
 * parameter, in the store's order (= upstream param_groups[0]['params']). Read or write the moments
 * from the host through o->mem's to_host / from_host.
 */
#ifndef BV_OPTIM_H
#define BV_OPTIM_H

#include <stdint.h>

#include "../core/params.h"

/* torch.optim.AdamW(params, lr, betas, eps, weight_decay), amsgrad=False, maximize=False,
 * single-tensor path. One param group. */
typedef struct bv_adamw {
    bv_params *ps;           /* the parameters (count fixed at init) */
    int n;
    double lr;               /* param_groups[0]['lr']; the scheduler writes it */
    double beta1, beta2, eps, weight_decay;
    double initial_lr;       /* param_groups[0]['initial_lr'], meaningful when has_initial_lr */
    int has_initial_lr;
    const struct bv_allocator *mem; /* the store's allocator: block's memory */
    float *block;            /* 2 * numel(ps) floats */
    float **exp_avg;         /* [n] views into block, shape of param i */
    float **exp_avg_sq;      /* [n] */
    float *step;             /* [n] state['step']: a float32 tensor in torch 1.13; 0 = no state yet */
} bv_adamw;

void bv_adamw_init(bv_adamw *o, bv_params *ps, double lr, double beta1, double beta2, double eps,
                   double weight_decay);
void bv_adamw_free(bv_adamw *o);
/* optimizer.step(): updates every parameter i with has_grad[i] (or all if has_grad is NULL)
 * from its ->grad. */
void bv_adamw_step(bv_adamw *o, const uint8_t *has_grad);
/* Forget all moments and steps (a fresh optimizer, e.g. skip_optimizer on resume). */
void bv_adamw_reset_state(bv_adamw *o);

/* torch.optim.lr_scheduler.ExponentialLR(optim, gamma, last_epoch). */
typedef struct bv_exp_lr {
    bv_adamw *opt;
    double gamma;
    int64_t last_epoch;
    double base_lr;          /* = initial_lr */
} bv_exp_lr;

/* Construction as torch does it: last_epoch == -1 sets opt->initial_lr = opt->lr; otherwise
 * opt must already carry initial_lr (torch raises KeyError; we return -1 with a message in err).
 * Then the constructor's implicit step(). Returns 0 on success. */
int bv_exp_lr_init(bv_exp_lr *s, bv_adamw *opt, double gamma, int64_t last_epoch, char *err, int errcap);
/* scheduler.step() (no epoch argument): last_epoch += 1 and the RECURSIVE form
 * lr = lr * gamma (lr unchanged when last_epoch becomes 0). */
void bv_exp_lr_step(bv_exp_lr *s);

/* commons.clip_grad_value_(params, clip_value, norm_type=2): returns the total grad norm
 * (sum_p ||p.grad||_2 ** 2) ** 0.5 in double from per-tensor float32 norms; when clip_value is
 * non-NULL, clamps every counted grad in place to [-clip, clip] (after measuring it). Parameters
 * with has_grad[i] == 0 are skipped (has_grad NULL: all counted). */
double bv_clip_grad_value(bv_params *ps, const uint8_t *has_grad, const double *clip_value);
/* torch's float32 ||x||_2 on CPU (AVX2 kernel: 8 fused multiply-add lanes, then the tail). */
float bv_norm2_f32(const float *x, int64_t n);

/* torch.nn.utils.clip_grad_norm_(params, max_norm) (norm_type 2, torch 1.13 float32 arithmetic):
 * scales every counted grad by min(1, max_norm / (total + 1e-6)); returns the total norm. */
double bv_clip_grad_norm(bv_params *ps, const uint8_t *has_grad, double max_norm);

/* 1 when every counted grad is finite (GradScaler's found_inf test, negated). */
int bv_grads_finite(const bv_params *ps, const uint8_t *has_grad);

/* train_ms's bf16_run sequence in fewer passes over the grads, with the results of
 *     *finite = bv_grads_finite(); bv_clip_grad_norm(max_norm); return bv_clip_grad_value(NULL);
 * bit for bit: the per-tensor norms are taken once (a finite total proves every grad finite; only
 * a non-finite one scans), and when the grads are scaled, their new norms are summed in the same pass
 * (bv_norm2_f32's order), unscaled grads keep theirs. */
double bv_clip_grad_norm_then_value(bv_params *ps, const uint8_t *has_grad, double max_norm, int *finite);

#endif
