/* helpers.c - shared test helpers: random fills and the finite-difference gradient check. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

void bv_test_randn(bv_ctx *ctx, bv_tensor *t, float scale) {
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = (float)bv_rng_normal(&ctx->rng) * scale;
}

bv_tensor *bv_test_input(bv_ctx *ctx, int ndim, const int64_t *shape, float scale) {
    bv_tensor *t = bv_new(ctx, BV_F32, ndim, shape);
    bv_test_randn(ctx, t, scale);
    t->requires_grad = true;
    return t;
}

/* L(x) = sum(f(x) * r), accumulated in double, forward only (no tape). */
static double eval_loss(bv_ctx *ctx, bv_gradcheck_fn f, bv_tensor **inputs, void *user, const float *r) {
    bv_ctx_mark m = bv_ctx_get_mark(ctx);
    bv_no_grad_begin(ctx);
    bv_tensor *out = f(ctx, inputs, user);
    double L = 0;
    for (int64_t i = 0; i < out->numel; i++) L += (double)out->data[i] * r[i];
    bv_no_grad_end(ctx);
    bv_ctx_reset_to(ctx, m);
    return L;
}

int bv_gradcheck(bv_test_state *ts, const char *what, bv_gradcheck_fn f, int n_inputs, bv_tensor **inputs,
                 void *user, double eps, double atol, double rtol, int max_elems) {
    bv_ctx *ctx = (bv_ctx *)ts->ctx;
    int64_t tape0 = ctx->tape_len;
    for (int i = 0; i < n_inputs; i++) {
        if (inputs[i]->is_param) memset(inputs[i]->grad, 0, sizeof(float) * (size_t)inputs[i]->numel);
        else inputs[i]->grad = NULL;
    }
    /* analytic: one backward with a fixed random cotangent r */
    bv_tensor *out = f(ctx, inputs, user);
    bv_tensor *r = bv_new_like(ctx, out);
    bv_test_randn(ctx, r, 1.0f);
    bv_backward(ctx, out, r);
    bv_tape_cut(ctx, tape0); /* the nodes stay in the arena but are no longer walked */

    int ok = 1, checked = 0, skipped = 0;
    for (int i = 0; i < n_inputs; i++) {
        bv_tensor *x = inputs[i];
        if (x->dtype != BV_F32 || !x->requires_grad) continue;
        float *ga = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)x->numel);
        if (x->grad) memcpy(ga, x->grad, sizeof(float) * (size_t)x->numel);
        else memset(ga, 0, sizeof(float) * (size_t)x->numel);
        int64_t n = x->numel < max_elems ? x->numel : max_elems;
        double worst = 0, worst_a = 0, worst_n = 0;
        int64_t worst_j = -1;
        for (int64_t k = 0; k < n; k++) {
            int64_t j = x->numel <= max_elems ? k : (int64_t)(bv_rng_u64(&ctx->rng) % (uint64_t)x->numel);
            float x0 = x->data[j];
            double h = eps * (fabs(x0) > 1 ? fabs(x0) : 1.0);
            x->data[j] = (float)(x0 + h);
            double hp = (double)x->data[j] - x0;
            double Lp = eval_loss(ctx, f, inputs, user, r->data);
            x->data[j] = (float)(x0 - h);
            double hm = x0 - (double)x->data[j];
            double Lm = eval_loss(ctx, f, inputs, user, r->data);
            x->data[j] = x0;
            double L0 = eval_loss(ctx, f, inputs, user, r->data);
            double dp = (Lp - L0) / hp, dm = (L0 - Lm) / hm, num = (Lp - Lm) / (hp + hm);
            double tol = atol + rtol * fabs(num);
            /* a kink (relu, abs, clamp, a masked branch) inside [x-h, x+h]: the one-sided slopes
             * disagree far more than smooth curvature explains; the element is not checkable. */
            if (fabs(dp - dm) > 4 * tol && fabs(dp - dm) > 0.1 * (fabs(dp) + fabs(dm))) {
                skipped++;
                continue;
            }
            checked++;
            double err = fabs((double)ga[j] - num);
            if (err - tol > worst) {
                worst = err - tol;
                worst_a = ga[j];
                worst_n = num;
                worst_j = j;
            }
        }
        if (worst_j >= 0) {
            ok = 0;
            char b[96];
            fprintf(stderr, "  gradcheck %s: input %d %s elem %lld: analytic %.6g numeric %.6g (atol %g rtol %g)\n",
                    what, i, bv_shape_str(x, b, sizeof b), (long long)worst_j, worst_a, worst_n, atol, rtol);
        }
    }
    if (checked == 0 || skipped > checked) {
        fprintf(stderr, "  gradcheck %s: only %d elements checkable (%d at kinks)\n", what, checked, skipped);
        ok = 0;
    }
    if (!ok) ts->failed = 1;
    return ok;
}
