/* optim.c - AdamW, ExponentialLR and clip_grad_value_ as torch 1.13 computes them on CPU.
 *
 * Rounding model (checked bit for bit against torch 1.13 with AVX2 kernels): each upstream tensor
 * op rounds to float32 once; python-float scalars are computed in double and rounded to float32
 * where they enter a tensor op. torch's add_(x, alpha) and addcmul_ kernels are compiled to fused
 * multiply-adds, so those two use fmaf; everything else must NOT be contracted, hence
 * fp-contract=off for this file (our build is gnu11, where GCC contracts by default).
 */
#pragma GCC optimize("fp-contract=off")

#include "optim.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/backend.h"
#include "../core/error.h"

/* ---------------- AdamW ---------------- */

void bv_adamw_init(bv_adamw *o, bv_params *ps, double lr, double beta1, double beta2, double eps,
                   double weight_decay) {
    memset(o, 0, sizeof *o);
    o->ps = ps;
    o->n = ps->n;
    o->lr = lr;
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->weight_decay = weight_decay;
    int64_t total = bv_params_numel(ps);
    if (!ps->be) ps->be = bv_backend_get(BV_DEV_CPU); /* a zeroed store is a CPU store (params.c) */
    const bv_allocator *mem = &ps->be->mem;
    o->mem = mem;
    o->block = mem->alloc_zeroed(sizeof(float) * (size_t)(2 * total + 1)); /* the moments: device memory */
    if (!o->block) BV_FATAL("out of memory: AdamW state for %lld parameters", (long long)total);
    o->exp_avg = bv_xcalloc((size_t)(o->n + 1), sizeof(float *));
    o->exp_avg_sq = bv_xcalloc((size_t)(o->n + 1), sizeof(float *));
    o->step = bv_xcalloc((size_t)(o->n + 1), sizeof(float));
    float *at = o->block;
    for (int i = 0; i < o->n; i++) {
        int64_t k = ps->items[i]->numel;
        o->exp_avg[i] = at;
        o->exp_avg_sq[i] = at + k;
        at += 2 * k;
    }
}

void bv_adamw_free(bv_adamw *o) {
    if (o->block) o->mem->free(o->block);
    free(o->exp_avg);
    free(o->exp_avg_sq);
    free(o->step);
    memset(o, 0, sizeof *o);
}

void bv_adamw_reset_state(bv_adamw *o) {
    o->mem->fill32(o->block, 0, (size_t)(2 * bv_params_numel(o->ps)));
    memset(o->step, 0, sizeof(float) * (size_t)o->n);
}

/* The update and clip kernels below run on the host over ->data / ->grad / the moments: CPU only for
 * now. A device backend gives them a kernel slot (src/ops/<device>/) - not done yet (issue 8).
 *
 * One tensor of torch 1.13 _single_tensor_adamw, in upstream's op order:
 *   p.mul_(1 - lr*wd); m.mul_(b1).add_(g, alpha=1-b1); v.mul_(b2).addcmul_(g, g, value=1-b2);
 *   denom = (v.sqrt() / sqrt(bc2)).add_(eps); p.addcdiv_(m, denom, value=-lr/bc1). */
typedef struct {
    float decay, b1, one_m_b1, b2, one_m_b2, bc2_sqrt, eps, neg_step;
} adamw_coef;

static inline void adamw_elems(float *p, float *m, float *v, const float *g, int64_t lo, int64_t hi,
                               const adamw_coef *c) {
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) {
        float pi = p[i] * c->decay;
        float mi = fmaf(g[i], c->one_m_b1, m[i] * c->b1);
        float vi = fmaf(c->one_m_b2 * g[i], g[i], v[i] * c->b2);
        float denom = sqrtf(vi) / c->bc2_sqrt + c->eps;
        p[i] = pi + (c->neg_step * mi) / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

void bv_adamw_step(bv_adamw *o, const uint8_t *has_grad) {
    BV_ASSERT(o->ps->n == o->n); /* parameters were added after the optimizer was built */
    BV_ASSERT(o->mem->host_visible); /* host kernel (see above) */
    adamw_coef *coef = malloc(sizeof *coef * (size_t)(o->n > 0 ? o->n : 1));
    BV_ASSERT(coef);
    for (int i = 0; i < o->n; i++) {
        if (has_grad && !has_grad[i]) continue;
        o->step[i] += 1.0f;
        double step = o->step[i];
        double bc1 = 1.0 - pow(o->beta1, step);
        double bc2 = 1.0 - pow(o->beta2, step);
        double step_size = o->lr / bc1;
        coef[i] = (adamw_coef){(float)(1.0 - o->lr * o->weight_decay), (float)o->beta1, (float)(1.0 - o->beta1),
                               (float)o->beta2, (float)(1.0 - o->beta2), (float)sqrt(bc2), (float)o->eps,
                               (float)(-step_size)};
    }
    /* every tensor in one parallel region: each thread takes its static share of every tensor with
     * no barrier between tensors (one wake-up per step instead of one per large tensor; the small
     * ones, which ran on the main thread alone, are shared too). Element-wise: the same values. */
    int64_t total = 0;
    for (int i = 0; i < o->n; i++) total += o->ps->items[i]->numel;
#pragma omp parallel if (total > 65536)
    {
        const int nt = omp_get_num_threads(), me = omp_get_thread_num();
        for (int i = 0; i < o->n; i++) {
            if (has_grad && !has_grad[i]) continue;
            bv_tensor *p = o->ps->items[i];
            const int64_t n = p->numel, lo = n * me / nt, hi = n * (me + 1) / nt;
            adamw_elems(p->data, o->exp_avg[i], o->exp_avg_sq[i], p->grad, lo, hi, &coef[i]);
        }
    }
    free(coef);
}

/* ---------------- ExponentialLR ---------------- */

int bv_exp_lr_init(bv_exp_lr *s, bv_adamw *opt, double gamma, int64_t last_epoch, char *err, int errcap) {
    if (last_epoch == -1) {
        opt->initial_lr = opt->lr;
        opt->has_initial_lr = 1;
    } else if (!opt->has_initial_lr) {
        /* torch: KeyError "param 'initial_lr' is not specified in param_groups[0] when resuming" */
        if (err)
            snprintf(err, (size_t)errcap,
                     "ExponentialLR: param 'initial_lr' is not specified in param_groups[0] when resuming an "
                     "optimizer (last_epoch %lld)",
                     (long long)last_epoch);
        return -1;
    }
    s->opt = opt;
    s->gamma = gamma;
    s->base_lr = opt->initial_lr;
    s->last_epoch = last_epoch;
    bv_exp_lr_step(s); /* _LRScheduler.__init__ -> _initial_step() */
    return 0;
}

void bv_exp_lr_step(bv_exp_lr *s) {
    /* step() without an epoch uses get_lr(), the recursive form; the closed form base_lr *
     * gamma**last_epoch is only used by step(epoch). On resume this multiplies the CURRENT lr
     * once, so decay restarts from the optimizer's lr (upstream quirk, kept). */
    s->last_epoch += 1;
    if (s->last_epoch != 0) s->opt->lr = s->opt->lr * s->gamma;
}

/* ---------------- clip_grad_value_ ---------------- */

float bv_norm2_f32(const float *x, int64_t n) {
    /* torch's norm_two fast path for a contiguous reduction (Vectorized<float> = 8 lanes, fmadd),
     * lanes summed left to right, then the tail; sqrt in float32. */
    enum { L = 8 };
    float acc[L] = {0};
    int64_t k = n - n % L;
    for (int64_t i = 0; i < k; i += L)
        for (int j = 0; j < L; j++) acc[j] = fmaf(x[i + j], x[i + j], acc[j]);
    float s = acc[0];
    for (int j = 1; j < L; j++) s = s + acc[j];
    for (int64_t i = k; i < n; i++) s = s + x[i] * x[i];
    return sqrtf(s);
}

/* norms[i] = ||grad i|| (bv_norm2_f32) for every parameter with a grad, 0 for the others: one
 * tensor per thread at a time (each norm in its own fixed order, so the same bits), largest first
 * in effect through dynamic scheduling. Returns a malloc'd array of ps->n. */
static float *grad_norms(const bv_params *ps, const uint8_t *has_grad) {
    float *norms = calloc((size_t)(ps->n > 0 ? ps->n : 1), sizeof(float));
    BV_ASSERT(norms);
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < ps->n; i++)
        if (!has_grad || has_grad[i]) norms[i] = bv_norm2_f32(ps->items[i]->grad, ps->items[i]->numel);
    return norms;
}

/* python: total_norm = 0; total_norm += param_norm.item() ** 2 (per counted tensor), ** (1. / 2) */
static double value_total(const bv_params *ps, const uint8_t *has_grad, const float *norms) {
    double total = 0;
    for (int i = 0; i < ps->n; i++)
        if (!has_grad || has_grad[i]) total += pow((double)norms[i], 2.0);
    return pow(total, 1.0 / 2.0);
}

double bv_clip_grad_value(bv_params *ps, const uint8_t *has_grad, const double *clip_value) {
    float clip = clip_value ? (float)*clip_value : 0.0f;
    BV_ASSERT(ps->be == NULL || ps->be->mem.host_visible); /* host kernel (see adamw_kernel) */
    float *norms = grad_norms(ps, has_grad);
    const double total = value_total(ps, has_grad, norms);
    for (int i = 0; i < ps->n; i++) {
        if (has_grad && !has_grad[i]) continue;
        bv_tensor *p = ps->items[i];
        if (clip_value) {
            float *g = p->grad;
            /* clamp_ propagates NaN (fminf/fmaxf would drop it) */
            for (int64_t j = 0; j < p->numel; j++) g[j] = g[j] < -clip ? -clip : g[j] > clip ? clip : g[j];
        }
    }
    free(norms);
    return total;
}

/* The norm of the stack of the counted tensors' norms (clip_grad_norm_'s total_norm). */
static float stack_total(const bv_params *ps, const uint8_t *has_grad, const float *norms) {
    float *stack = malloc(sizeof(float) * (size_t)(ps->n > 0 ? ps->n : 1));
    BV_ASSERT(stack);
    int n = 0;
    for (int i = 0; i < ps->n; i++)
        if (!has_grad || has_grad[i]) stack[n++] = norms[i];
    const float total = bv_norm2_f32(stack, n);
    free(stack);
    return total;
}

/* clip_coef = max_norm / (total + 1e-6) (Tensor.__rtruediv__: reciprocal, then times max_norm) */
static float clip_coef(float total, double max_norm) { return (1.0f / (total + 1e-6f)) * (float)max_norm; }

/* torch 1.13's clip_grad_norm_(params, max_norm) in float32: per-tensor norms, the norm of their
 * stack, clip_coef clamped to at most 1, and every grad multiplied by it (also by 1.0, which is
 * exact). */
double bv_clip_grad_norm(bv_params *ps, const uint8_t *has_grad, double max_norm) {
    BV_ASSERT(ps->be == NULL || ps->be->mem.host_visible); /* host kernel (see adamw_kernel) */
    float *norms = grad_norms(ps, has_grad);
    float total = stack_total(ps, has_grad, norms);
    free(norms);
    float coef = clip_coef(total, max_norm);
    if (coef < 1.0f || coef != coef) /* clamp(max=1) keeps NaN; a factor of 1.0 changes nothing */
        for (int i = 0; i < ps->n; i++) {
            if (has_grad && !has_grad[i]) continue;
            float *g = ps->items[i]->grad;
            const int64_t m = ps->items[i]->numel;
#pragma omp parallel for schedule(static) if (m > 65536)
            for (int64_t j = 0; j < m; j++) g[j] *= coef;
        }
    return total;
}

/* One tensor per thread; within a tensor the sum runs in SIMD lanes (omp simd may reassociate it:
 * any order gives NaN exactly when some element is inf or NaN, as inf * 0 and NaN + x are NaN). */
/* g *= coef, and the norm of the result in bv_norm2_f32's order (same lanes, same fmaf, same tail). */
static float scale_and_norm(float *g, int64_t n, float coef) {
    enum { L = 8 };
    float acc[L] = {0};
    int64_t k = n - n % L;
    for (int64_t i = 0; i < k; i += L)
        for (int j = 0; j < L; j++) {
            g[i + j] *= coef;
            acc[j] = fmaf(g[i + j], g[i + j], acc[j]);
        }
    float s = acc[0];
    for (int j = 1; j < L; j++) s = s + acc[j];
    for (int64_t i = k; i < n; i++) {
        g[i] *= coef;
        s = s + g[i] * g[i];
    }
    return sqrtf(s);
}

double bv_clip_grad_norm_then_value(bv_params *ps, const uint8_t *has_grad, double max_norm, int *finite) {
    BV_ASSERT(ps->be == NULL || ps->be->mem.host_visible);
    float *norms = grad_norms(ps, has_grad);
    const float total = stack_total(ps, has_grad, norms);
    /* a finite sum of squares has only finite terms; inf or NaN may also be an overflow: scan */
    *finite = isfinite(total) || bv_grads_finite(ps, has_grad);
    const float coef = clip_coef(total, max_norm);
    if (coef < 1.0f || coef != coef) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < ps->n; i++)
            if (!has_grad || has_grad[i]) norms[i] = scale_and_norm(ps->items[i]->grad, ps->items[i]->numel, coef);
    }
    const double norm = value_total(ps, has_grad, norms);
    free(norms);
    return norm;
}

int bv_grads_finite(const bv_params *ps, const uint8_t *has_grad) {
    BV_ASSERT(ps->be == NULL || ps->be->mem.host_visible);
    int bad = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(|| : bad)
    for (int i = 0; i < ps->n; i++) {
        if (bad || (has_grad && !has_grad[i])) continue;
        const float *g = ps->items[i]->grad;
        const int64_t n = ps->items[i]->numel;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < n; j++) acc += g[j] * 0.0f;
        bad = acc != acc;
    }
    return !bad;
}
