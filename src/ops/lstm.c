/* lstm.c - nn.LSTM(batch_first=True), one layer, uni- or bidirectional, as the
 * DurationDiscriminator uses it: zero initial state, no packing (padded steps are processed, the
 * reverse direction starts at the last padded step).
 *
 * Per direction, gates = x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh in PyTorch's row order i, f, g, o:
 *   i, f, o = sigmoid(.), g = tanh(.), c_t = f c_{t-1} + i g, h_t = o tanh(c_t).
 * Forward does the input projection for all steps in one sgemm and one small sgemm per step for the
 * recurrence. The activated gates and the cell states are kept for backward, which runs analytic
 * BPTT: per step an elementwise pass gives the pre-activation gate grads dG_t and one sgemm carries
 * dh back through W_hh; the weight, bias and input grads are then three sgemms over all steps.
 * Backward ACCUMULATES (+=) into the grads of the inputs that require grad.
 */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

typedef struct {
    float *acts[2];   /* per direction [B, T, 4H]: i, f, g, o after their nonlinearity */
    float *cells[2];  /* per direction [B, T, H]: c_t */
    int64_t B, T, In, H;
    int D;
} lstm_saved;

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

/* Time index of processing step s (the reverse direction walks T-1 .. 0). */
static inline int64_t step_time(int64_t s, int64_t T, int reverse) { return reverse ? T - 1 - s : s; }

/* One direction. y [B, T, D*H] gets h_t in columns d*H..; hn, cn [B, H]. */
static void lstm_dir_forward(float *y, float *hn, float *cn, float *acts, float *cells, const float *x,
                             const float *wih, const float *whh, const float *bih, const float *bhh, int64_t B,
                             int64_t T, int64_t In, int64_t H, int D, int d) {
    const int64_t G = 4 * H, ys = T * D * H;
    for (int64_t r = 0; r < B * T; r++)
        for (int64_t k = 0; k < G; k++) acts[r * G + k] = bih[k] + bhh[k];
    /* acts [B*T, 4H] += x [B*T, In] @ W_ih^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(B * T), (int)G, (int)In, 1.0f, x, (int)In, wih, (int)In,
                1.0f, acts, (int)G);
    for (int64_t s = 0; s < T; s++) {
        int64_t t = step_time(s, T, d), tp = step_time(s - 1, T, d);
        if (s > 0) /* acts[:, t] += h_{prev} [B, H] @ W_hh^T (rows strided through y and acts) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)G, (int)H, 1.0f, y + tp * D * H + d * H,
                        (int)ys, whh, (int)H, 1.0f, acts + t * G, (int)(T * G));
#pragma omp parallel for if (B * H > 8192)
        for (int64_t b = 0; b < B; b++) {
            float *a = acts + (b * T + t) * G;
            for (int64_t j = 0; j < H; j++) {
                float ig = sigmoidf(a[j]), fg = sigmoidf(a[H + j]), gg = tanhf(a[2 * H + j]),
                      og = sigmoidf(a[3 * H + j]);
                a[j] = ig, a[H + j] = fg, a[2 * H + j] = gg, a[3 * H + j] = og;
                float cprev = s > 0 ? cells[(b * T + tp) * H + j] : 0.0f;
                float c = fg * cprev + ig * gg;
                cells[(b * T + t) * H + j] = c;
                y[b * ys + t * D * H + d * H + j] = og * tanhf(c);
            }
        }
    }
    int64_t tl = step_time(T - 1, T, d);
    for (int64_t b = 0; b < B; b++) {
        memcpy(hn + b * H, y + b * ys + tl * D * H + d * H, sizeof(float) * (size_t)H);
        memcpy(cn + b * H, cells + (b * T + tl) * H, sizeof(float) * (size_t)H);
    }
}

/* BPTT for one direction: fills dG [B, T, 4H] (grads of the pre-activation gates) from the output
 * grads gy [B, T, D*H], ghn, gcn [B, H]. dh, dc are [B, H] scratch. */
static void lstm_dir_backward_gates(float *dG, float *dh, float *dc, const float *acts, const float *cells,
                                    const float *whh, const float *gy, const float *ghn, const float *gcn,
                                    int64_t B, int64_t T, int64_t H, int D, int d) {
    const int64_t G = 4 * H, ys = T * D * H;
    memcpy(dh, ghn, sizeof(float) * (size_t)(B * H));
    memcpy(dc, gcn, sizeof(float) * (size_t)(B * H));
    for (int64_t s = T - 1; s >= 0; s--) {
        int64_t t = step_time(s, T, d), tp = step_time(s - 1, T, d);
#pragma omp parallel for if (B * H > 8192)
        for (int64_t b = 0; b < B; b++) {
            const float *a = acts + (b * T + t) * G;
            float *g = dG + (b * T + t) * G;
            for (int64_t j = 0; j < H; j++) {
                float ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
                float tc = tanhf(cells[(b * T + t) * H + j]);
                float cprev = s > 0 ? cells[(b * T + tp) * H + j] : 0.0f;
                float dhv = dh[b * H + j] + gy[b * ys + t * D * H + d * H + j];
                float dcv = dc[b * H + j] + dhv * og * (1.0f - tc * tc);
                g[j] = dcv * gg * ig * (1.0f - ig);
                g[H + j] = dcv * cprev * fg * (1.0f - fg);
                g[2 * H + j] = dcv * ig * (1.0f - gg * gg);
                g[3 * H + j] = dhv * tc * og * (1.0f - og);
                dc[b * H + j] = dcv * fg;
            }
        }
        if (s > 0) /* dh [B, H] = dG[:, t] [B, 4H] @ W_hh [4H, H] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)H, (int)G, 1.0f, dG + t * G,
                        (int)(T * G), whh, (int)H, 0.0f, dh, (int)H);
    }
}

static void lstm_backward(bv_ctx *ctx, bv_node *n) {
    const lstm_saved *sv = n->saved;
    const int64_t B = sv->B, T = sv->T, In = sv->In, H = sv->H, G = 4 * H, BT = B * T;
    const int D = sv->D;
    bv_tensor *x = n->in[0], *y = n->out[0], *hn = n->out[1], *cn = n->out[2];
    /* input grads first: the scratch after the mark is rewound at the end */
    float *gx = x->requires_grad ? bv_grad(ctx, x) : NULL;
    for (int i = 1; i < n->n_in; i++)
        if (n->in[i]->requires_grad) bv_grad(ctx, n->in[i]);
    bv_arena_mark mk = bv_arena_get_mark(&ctx->arena);
    float *dG = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(BT * G));   // [B, T, 4H]
    float *dh = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(B * H));    // [B, H]
    float *dc = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(B * H));    // [B, H]
    float *hprev = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(BT * H)); // [B, T, H]
    for (int d = 0; d < D; d++) {
        bv_tensor *wih = n->in[1 + 4 * d], *whh = n->in[2 + 4 * d], *bih = n->in[3 + 4 * d], *bhh = n->in[4 + 4 * d];
        lstm_dir_backward_gates(dG, dh, dc, sv->acts[d], sv->cells[d], whh->data, y->grad, hn->grad + d * B * H,
                                cn->grad + d * B * H, B, T, H, D, d);
        if (gx) /* dx [BT, In] += dG [BT, 4H] @ W_ih [4H, In] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)BT, (int)In, (int)G, 1.0f, dG, (int)G,
                        wih->data, (int)In, 1.0f, gx, (int)In);
        if (wih->requires_grad) /* dW_ih [4H, In] += dG^T @ x */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)In, (int)BT, 1.0f, dG, (int)G, x->data,
                        (int)In, 1.0f, wih->grad, (int)In);
        if (whh->requires_grad) { /* dW_hh [4H, H] += dG^T @ h_prev, h_prev = 0 at the first step */
            for (int64_t b = 0; b < B; b++)
                for (int64_t s = 0; s < T; s++) {
                    float *dst = hprev + (b * T + step_time(s, T, d)) * H;
                    if (s == 0) memset(dst, 0, sizeof(float) * (size_t)H);
                    else memcpy(dst, y->data + (b * T + step_time(s - 1, T, d)) * D * H + d * H, sizeof(float) * (size_t)H);
                }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)H, (int)BT, 1.0f, dG, (int)G, hprev,
                        (int)H, 1.0f, whh->grad, (int)H);
        }
        for (int k = 0; k < 2; k++) {
            bv_tensor *bias = k ? bhh : bih;
            if (!bias->requires_grad) continue;
            for (int64_t r = 0; r < BT; r++)
                for (int64_t j = 0; j < G; j++) bias->grad[j] += dG[r * G + j];
        }
    }
    bv_arena_reset_to(&ctx->arena, mk);
}

static void check_weight(bv_ctx *ctx, const bv_tensor *x, const bv_tensor *w, const char *what, int64_t d0,
                         int64_t d1) {
    char bw[96], bx[96], want[64];
    if (!w) bv_ctx_error(ctx, "lstm", "%s is missing (x %s)", what, bv_shape_str(x, bx, sizeof bx));
    bv_check_cpu(ctx, "lstm", w);
    int ok = w->dtype == BV_F32 && w->ndim == (d1 < 0 ? 1 : 2) && w->shape[0] == d0 && (d1 < 0 || w->shape[1] == d1);
    if (d1 < 0) snprintf(want, sizeof want, "[%lld]", (long long)d0);
    else snprintf(want, sizeof want, "[%lld, %lld]", (long long)d0, (long long)d1);
    if (!ok)
        bv_ctx_error(ctx, "lstm", "%s %s (%s) does not fit x %s: expected f32 %s", what, bv_shape_str(w, bw, sizeof bw),
                     bv_dtype_name(w->dtype), bv_shape_str(x, bx, sizeof bx), want);
}

void bv_lstm(bv_ctx *ctx, bv_tensor *x, bv_tensor *const *w, int bidirectional, bv_tensor **y, bv_tensor **h_n,
             bv_tensor **c_n) {
    bv_check_cpu(ctx, "lstm", x);
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
    static const char *names[2][4] = {{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"},
                                      {"weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                                       "bias_hh_l0_reverse"}};
    for (int d = 0; d < D; d++) {
        check_weight(ctx, x, w[4 * d + 0], names[d][0], 4 * H, In);
        check_weight(ctx, x, w[4 * d + 1], names[d][1], 4 * H, H);
        check_weight(ctx, x, w[4 * d + 2], names[d][2], 4 * H, -1);
        check_weight(ctx, x, w[4 * d + 3], names[d][3], 4 * H, -1);
    }
    bv_tensor *yy = bv_new(ctx, BV_F32, BV_SHAPE(B, T, D * H));   // [B, T, D*H]
    bv_tensor *hn = bv_new(ctx, BV_F32, BV_SHAPE(D, B, H));       // [D, B, H]
    bv_tensor *cn = bv_new(ctx, BV_F32, BV_SHAPE(D, B, H));       // [D, B, H]
    bv_tensor *ins[9];
    ins[0] = x;
    for (int i = 0; i < 4 * D; i++) ins[1 + i] = w[i];
    const int record = bv_needs_grad(ctx, 1 + 4 * D, ins);
    bv_arena_mark mk = bv_arena_get_mark(&ctx->arena);
    lstm_saved *sv = bv_arena_calloc(&ctx->arena, sizeof *sv);
    *sv = (lstm_saved){.B = B, .T = T, .In = In, .H = H, .D = D};
    for (int d = 0; d < D; d++) {
        sv->acts[d] = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(B * T * 4 * H));
        sv->cells[d] = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(B * T * H));
        lstm_dir_forward(yy->data, hn->data + d * B * H, cn->data + d * B * H, sv->acts[d], sv->cells[d], x->data,
                         w[4 * d]->data, w[4 * d + 1]->data, w[4 * d + 2]->data, w[4 * d + 3]->data, B, T, In, H, D, d);
    }
    if (record) {
        bv_tensor *outs[3] = {yy, hn, cn};
        bv_node *nd = bv_record(ctx, BV_OP_LSTM, lstm_backward, 1 + 4 * D, ins, 3, outs);
        nd->saved = sv;
    } else {
        bv_arena_reset_to(&ctx->arena, mk); /* gates and cells were scratch */
    }
    *y = yy;
    *h_n = hn;
    *c_n = cn;
}
