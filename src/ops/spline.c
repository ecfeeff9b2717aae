/* spline.c - the monotonic rational-quadratic spline of transforms.piecewise_rational_quadratic_transform
 * with tails='linear' (Durkan et al. 2019), as ConvFlow in the stochastic duration predictor uses it.
 *
 * Constructor (checks, outputs, tape) and backward rule; the arithmetic (knots, the forward and
 * inverse maps and their analytic derivatives) is the device's spline slots (cpu/spline.c).
 * Backward ACCUMULATES (+=) into the grads of the inputs that require grad.
 */
#include <stdio.h>

#include "dispatch.h"
#include "ops.h"

static bv_spline_params params_of(const bv_node *n) {
    return (bv_spline_params){n->iattr[0], (int)n->iattr[1], (float)n->fattr[0], (float)n->fattr[1],
                              (float)n->fattr[2], (float)n->fattr[3]};
}

static void spline_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *uw = n->in[1], *uh = n->in[2], *ud = n->in[3];
    const bv_spline_params p = params_of(n);
    float *gx = x->requires_grad ? bv_grad(ctx, x) : NULL;
    float *guw = uw->requires_grad ? bv_grad(ctx, uw) : NULL;
    float *guh = uh->requires_grad ? bv_grad(ctx, uh) : NULL;
    float *gud = ud->requires_grad ? bv_grad(ctx, ud) : NULL;
    BV_KERNEL(ctx, bv_ctx_kernels(ctx), spline, backward, "rq_spline")
    (gx, guw, guh, gud, n->out[0]->grad, n->out[1]->grad, x->data, uw->data, uh->data, ud->data, x->numel, &p);
}

static void check_params(bv_ctx *ctx, const bv_tensor *x, const bv_tensor *p, const char *what, int64_t last) {
    char bx[96], bp[96];
    int ok = p->dtype == BV_F32 && p->ndim == x->ndim + 1 && p->shape[p->ndim - 1] == last;
    for (int i = 0; ok && i < x->ndim; i++) ok = p->shape[i] == x->shape[i];
    if (!ok)
        bv_ctx_error(ctx, "rq_spline", "%s %s (%s) does not fit inputs %s: expected f32 [..inputs dims.., %lld]", what,
                     bv_shape_str(p, bp, sizeof bp), bv_dtype_name(p->dtype), bv_shape_str(x, bx, sizeof bx),
                     (long long)last);
}

void bv_rq_spline(bv_ctx *ctx, bv_tensor *inputs, bv_tensor *uw, bv_tensor *uh, bv_tensor *ud, int inverse,
                  float tail_bound, float min_bin_width, float min_bin_height, float min_derivative,
                  bv_tensor **outputs, bv_tensor **logabsdet) {
    bv_tensor *ins[4] = {inputs, uw, uh, ud};
    const bv_kernels *kt = bv_dispatch(ctx, "rq_spline", 4, ins);
    bv_check_dtype(ctx, "rq_spline", inputs, BV_F32);
    char bx[96], bw[96];
    if (uw->ndim < 1 || uw->shape[uw->ndim - 1] < 1 || uw->shape[uw->ndim - 1] > BV_SPLINE_MAX_BINS)
        bv_ctx_error(ctx, "rq_spline", "unnormalized_widths %s must end in 1..%d bins (inputs %s)",
                     bv_shape_str(uw, bw, sizeof bw), BV_SPLINE_MAX_BINS, bv_shape_str(inputs, bx, sizeof bx));
    const int64_t K = uw->shape[uw->ndim - 1];
    check_params(ctx, inputs, uw, "unnormalized_widths", K);
    check_params(ctx, inputs, uh, "unnormalized_heights", K);
    check_params(ctx, inputs, ud, "unnormalized_derivatives", K - 1);
    if (min_bin_width * K > 1.0 || min_bin_height * K > 1.0)
        bv_ctx_error(ctx, "rq_spline", "minimal bin width/height (%g/%g) too large for %lld bins", min_bin_width,
                     min_bin_height, (long long)K);
    if (!(tail_bound > 0)) bv_ctx_error(ctx, "rq_spline", "tail_bound %g must be > 0", tail_bound);
    const bv_spline_params c = {K, inverse, tail_bound, min_bin_width, min_bin_height, min_derivative};
    bv_tensor *out = bv_new_like(ctx, inputs); // [...]
    bv_tensor *lad = bv_new_like(ctx, inputs); // [...]
    BV_KERNEL(ctx, kt, spline, forward, "rq_spline")(out->data, lad->data, inputs->data, uw->data, uh->data, ud->data,
                                                     inputs->numel, &c);
    if (bv_needs_grad(ctx, 4, ins)) {
        bv_tensor *outs[2] = {out, lad};
        bv_node *n = bv_record(ctx, BV_OP_RQ_SPLINE, spline_backward, 4, ins, 2, outs);
        n->iattr[0] = K, n->iattr[1] = inverse;
        n->fattr[0] = tail_bound, n->fattr[1] = min_bin_width, n->fattr[2] = min_bin_height;
        n->fattr[3] = min_derivative;
    }
    *outputs = out;
    *logabsdet = lad;
}
