/* resample.c - torchaudio.transforms.Resample(orig, new) (torchaudio 0.13, sinc_interpolation,
 * lowpass_filter_width 6, rolloff 0.99) as used by losses.WavLMLoss, differentiable in x:
 * constructor and backward rule. The sinc kernel, its cache and the unfold-sgemm-fold arithmetic
 * are the device's resample slots (cpu/resample.c). Gradients ACCUMULATE. */
#include "dispatch.h"
#include "ops.h"
#include "resample.h"

const float *bv_resample_kernel(bv_backend *be, int orig_freq, int new_freq, int *gcd, int *width, int *kernel_len) {
    if (orig_freq <= 0 || new_freq <= 0 || orig_freq == new_freq) return NULL;
    if (!be->kernels->resample || !be->kernels->resample->plan) return NULL;
    const bv_resample_plan *p = be->kernels->resample->plan(be, orig_freq, new_freq);
    if (!p) return NULL;
    if (gcd) *gcd = p->gcd;
    if (width) *width = p->width;
    if (kernel_len) *kernel_len = p->klen;
    return p->w;
}

typedef struct {
    const bv_resample_plan *p;
    int64_t B, T, Fr, T_out;   /* Fr conv frames per row, T_out kept samples */
} rs_saved;

static void resample_backward(bv_ctx *ctx, bv_node *node) {
    bv_tensor *x = node->in[0], *y = node->out[0];
    if (!x->requires_grad) return;
    const rs_saved *s = node->saved;
    BV_KERNEL(ctx, bv_ctx_kernels(ctx), resample, backward, "resample")
    (bv_ctx_data_arena(ctx), bv_grad(ctx, x), y->grad, s->p, s->B, s->T, s->Fr, s->T_out);
}

bv_tensor *bv_resample(bv_ctx *ctx, bv_tensor *x, int orig_freq, int new_freq) {
    const char *op = "resample";
    const bv_kernels *kt = bv_dispatch(ctx, op, 1, &x);
    bv_check_dtype(ctx, op, x, BV_F32);
    char b[96];
    if (x->ndim != 2) bv_ctx_error(ctx, op, "x must be [B, T], got shape %s", bv_shape_str(x, b, sizeof b));
    if (orig_freq <= 0 || new_freq <= 0)
        bv_ctx_error(ctx, op, "sample rates must be positive, got %d -> %d", orig_freq, new_freq);
    if (orig_freq == new_freq) return x; /* torchaudio returns the waveform itself */
    rs_saved *s = bv_arena_calloc(&ctx->arena, sizeof *s);
    s->p = BV_KERNEL(ctx, kt, resample, plan, op)(ctx->be, orig_freq, new_freq);
    if (!s->p) bv_ctx_error(ctx, op, "out of memory building the %d -> %d Hz kernel", orig_freq, new_freq);
    const int64_t o = s->p->o, n = s->p->n;
    s->B = x->shape[0];
    s->T = x->shape[1];
    s->Fr = s->T / o + 1;               /* conv1d frames over T + 2*width + o padded samples */
    s->T_out = (n * s->T + o - 1) / o;  /* ceil(n*T/o) */
    bv_tensor *y = bv_new(ctx, BV_F32, BV_SHAPE(s->B, s->T_out)); // [B, ceil(new*T/orig)]
    BV_KERNEL(ctx, kt, resample, forward, op)(bv_ctx_data_arena(ctx), y->data, x->data, s->p, s->B, s->T, s->Fr, s->T_out);
    if (bv_needs_grad(ctx, 1, &x)) {
        bv_node *nd = bv_record(ctx, BV_OP_RESAMPLE, resample_backward, 1, &x, 1, &y);
        nd->saved = s;
    }
    return y;
}
