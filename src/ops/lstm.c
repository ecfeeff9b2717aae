/* lstm.c - nn.LSTM(batch_first=True), one layer, uni- or bidirectional, as the
 * DurationDiscriminator uses it: zero initial state, no packing (padded steps are processed, the
 * reverse direction starts at the last padded step).
 *
 * Constructor (checks, outputs, the saved gates and cells) and backward rule; the arithmetic
 * (gates, recurrence, BPTT) is the device's lstm slots (cpu/lstm.c).
 * Backward ACCUMULATES (+=) into the grads of the inputs that require grad. Under BV_AUTOCAST_BF16
 * the gate products run in bf16 (the *_bf16 slots); the mode is recorded and backward uses the same.
 */
#include <stdio.h>
#include <string.h>

#include "dispatch.h"
#include "ops.h"

typedef struct {
    float *acts[2];   /* per direction [B, T, 4H]: i, f, g, o after their nonlinearity */
    float *cells[2];  /* per direction [B, T, H]: c_t */
    int64_t B, T, In, H;
    int D;
    bv_autocast autocast; /* of the forward */
} lstm_saved;

static void lstm_backward(bv_ctx *ctx, bv_node *n) {
    const lstm_saved *sv = n->saved;
    bv_tensor *x = n->in[0], *y = n->out[0], *hn = n->out[1], *cn = n->out[2];
    float *gx = x->requires_grad ? bv_grad(ctx, x) : NULL;
    float *gw[8] = {0};
    const float *w[8] = {0};
    for (int i = 1; i < n->n_in; i++) {
        w[i - 1] = n->in[i]->data;
        if (n->in[i]->requires_grad) gw[i - 1] = bv_grad(ctx, n->in[i]);
    }
    const bv_kernels *kt = bv_ctx_kernels(ctx);
    if (sv->autocast == BV_AUTOCAST_BF16) {
        char err[BV_KERNEL_ERR_LEN] = "";
        if (BV_KERNEL(ctx, kt, lstm, backward_bf16, "lstm")(ctx->be, bv_ctx_data_arena(ctx), gx, gw,
                      (const float *const *)sv->acts, (const float *const *)sv->cells, x->data, y->data, w, y->grad,
                      hn->grad, cn->grad, sv->B, sv->T, sv->In, sv->H, sv->D, err))
            bv_ctx_error(ctx, "lstm", "%s", err);
        return;
    }
    BV_KERNEL(ctx, kt, lstm, backward, "lstm")
    (bv_ctx_data_arena(ctx), gx, gw, (const float *const *)sv->acts, (const float *const *)sv->cells, x->data, y->data, w,
     y->grad, hn->grad, cn->grad, sv->B, sv->T, sv->In, sv->H, sv->D);
}

static void check_weight(bv_ctx *ctx, const bv_tensor *x, const bv_tensor *w, const char *what, int64_t d0,
                         int64_t d1) {
    char bw[96], bx[96], want[64];
    if (!w) bv_ctx_error(ctx, "lstm", "%s is missing (x %s)", what, bv_shape_str(x, bx, sizeof bx));
    int ok = w->dtype == BV_F32 && w->ndim == (d1 < 0 ? 1 : 2) && w->shape[0] == d0 && (d1 < 0 || w->shape[1] == d1);
    if (d1 < 0) snprintf(want, sizeof want, "[%lld]", (long long)d0);
    else snprintf(want, sizeof want, "[%lld, %lld]", (long long)d0, (long long)d1);
    if (!ok)
        bv_ctx_error(ctx, "lstm", "%s %s (%s) does not fit x %s: expected f32 %s", what, bv_shape_str(w, bw, sizeof bw),
                     bv_dtype_name(w->dtype), bv_shape_str(x, bx, sizeof bx), want);
}

void bv_lstm(bv_ctx *ctx, bv_tensor *x, bv_tensor *const *w, int bidirectional, bv_tensor **y, bv_tensor **h_n,
             bv_tensor **c_n) {
    const bv_kernels *kt = bv_dispatch(ctx, "lstm", 1, &x);
    bv_check_dtype(ctx, "lstm", x, BV_F32);
    bv_check_ndim(ctx, "lstm", x, 3);
    const int D = bidirectional ? 2 : 1;
    const int64_t B = x->shape[0], T = x->shape[1], In = x->shape[2];
    char bx[96];
    if (B < 1 || T < 1) bv_ctx_error(ctx, "lstm", "x %s has an empty batch or time dim", bv_shape_str(x, bx, sizeof bx));
    if (!w[1]) bv_ctx_error(ctx, "lstm", "weight_hh_l0 is missing (x %s)", bv_shape_str(x, bx, sizeof bx));
    char bw[96];
    if (w[1]->ndim != 2 || w[1]->shape[1] < 1)
        bv_ctx_error(ctx, "lstm", "weight_hh_l0 %s must be [4H, H] (x %s)", bv_shape_str(w[1], bw, sizeof bw),
                     bv_shape_str(x, bx, sizeof bx));
    const int64_t H = w[1]->shape[1];
    static const char *const names[2][4] = {{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"},
                                      {"weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                                       "bias_hh_l0_reverse"}};
    for (int d = 0; d < D; d++) {
        check_weight(ctx, x, w[4 * d + 0], names[d][0], 4 * H, In);
        check_weight(ctx, x, w[4 * d + 1], names[d][1], 4 * H, H);
        check_weight(ctx, x, w[4 * d + 2], names[d][2], 4 * H, -1);
        check_weight(ctx, x, w[4 * d + 3], names[d][3], 4 * H, -1);
    }
    bv_dispatch(ctx, "lstm", 4 * D, w);
    bv_tensor *yy = bv_new(ctx, BV_F32, BV_SHAPE(B, T, D * H));   // [B, T, D*H]
    bv_tensor *hn = bv_new(ctx, BV_F32, BV_SHAPE(D, B, H));       // [D, B, H]
    bv_tensor *cn = bv_new(ctx, BV_F32, BV_SHAPE(D, B, H));       // [D, B, H]
    bv_tensor *ins[9];
    ins[0] = x;
    for (int i = 0; i < 4 * D; i++) ins[1 + i] = w[i];
    const int record = bv_needs_grad(ctx, 1 + 4 * D, ins);
    bv_ctx_mark mk = bv_ctx_get_mark(ctx);
    lstm_saved *sv = bv_arena_calloc(&ctx->arena, sizeof *sv);
    *sv = (lstm_saved){.B = B, .T = T, .In = In, .H = H, .D = D, .autocast = ctx->autocast};
    const float *wd[8] = {0};
    for (int d = 0; d < D; d++) {
        sv->acts[d] = bv_ctx_scratch(ctx, sizeof(float) * (size_t)(B * T * 4 * H));
        sv->cells[d] = bv_ctx_scratch(ctx, sizeof(float) * (size_t)(B * T * H));
        for (int i = 0; i < 4; i++) wd[4 * d + i] = w[4 * d + i]->data;
    }
    if (ctx->autocast == BV_AUTOCAST_BF16) {
        char err[BV_KERNEL_ERR_LEN] = "";
        if (BV_KERNEL(ctx, kt, lstm, forward_bf16, "lstm")(ctx->be, bv_ctx_data_arena(ctx), yy->data, hn->data,
                      cn->data, sv->acts, sv->cells, x->data, wd, B, T, In, H, D, err))
            bv_ctx_error(ctx, "lstm", "%s", err);
    } else {
        BV_KERNEL(ctx, kt, lstm, forward, "lstm")(yy->data, hn->data, cn->data, sv->acts, sv->cells, x->data, wd, B, T,
                                                  In, H, D);
    }
    if (record) {
        bv_tensor *outs[3] = {yy, hn, cn};
        bv_node *nd = bv_record(ctx, BV_OP_LSTM, lstm_backward, 1 + 4 * D, ins, 3, outs);
        nd->saved = sv;
    } else {
        bv_ctx_reset_to(ctx, mk); /* gates and cells were scratch */
    }
    *y = yy;
    *h_n = hn;
    *c_n = cn;
}
