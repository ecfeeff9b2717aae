/* stft.c - the magnitude spectrogram of mel_processing.spectrogram_torch (center=False), with its
 * gradient w.r.t. the waveform: constructor and backward rule. The FFTs, their plan cache and the
 * frame/overlap-add arithmetic are the device's stft slots (cpu/stft.c); the window is computed
 * here on the host (torch's float32 operation order) and copied to the device. */
#include <math.h>
#include <string.h>

#include "dispatch.h"
#include "ops.h"

void bv_hann_window_fill(float *w, int win) {
    if (win == 1) {
        w[0] = 1.0f;
        return;
    }
    /* the float32 operation order of torch's hamming_window: arange * (2 pi / win), cos, * -0.5, + 0.5 */
    const float step = (float)(2.0 * M_PI / (double)win);
    for (int i = 0; i < win; i++) w[i] = cosf((float)i * step) * -0.5f + 0.5f;
}

typedef struct {
    bv_stft_geom g;
    const float *win;       // [n_fft] device
    float *spec_c;          // [B*F rows of bv_stft_row(2K)] complex spectrum kept for backward
} stft_saved;

static void stft_backward(bv_ctx *ctx, bv_node *node) {
    bv_tensor *y = node->in[0], *S = node->out[0];
    if (!y->requires_grad) return;
    const stft_saved *s = node->saved;
    char err[BV_KERNEL_ERR_LEN];
    float *dy = bv_grad(ctx, y);
    if (BV_KERNEL(ctx, bv_ctx_kernels(ctx), stft, backward, "spectrogram")(ctx->be, bv_ctx_data_arena(ctx), dy, S->data, S->grad,
                                                                          s->spec_c, s->win, &s->g, err))
        bv_ctx_error(ctx, "spectrogram", "%s", err);
}

bv_tensor *bv_spectrogram(bv_ctx *ctx, bv_tensor *y, int n_fft, int hop, int win_size) {
    const char *op = "spectrogram";
    const bv_kernels *kt = bv_dispatch(ctx, op, 1, &y);
    bv_check_dtype(ctx, op, y, BV_F32);
    char b[96];
    if (y->ndim != 2) bv_ctx_error(ctx, op, "y must be [B, T], got shape %s", bv_shape_str(y, b, sizeof b));
    if (n_fft < 1 || hop < 1 || win_size < 1 || win_size > n_fft)
        bv_ctx_error(ctx, op, "bad sizes n_fft %d hop %d win_size %d (need 1 <= win_size <= n_fft, hop >= 1)", n_fft,
                     hop, win_size);
    if (hop > n_fft) /* upstream's pad int((n_fft-hop)/2) would turn negative and crop */
        bv_ctx_error(ctx, op, "hop %d larger than n_fft %d is not supported", hop, n_fft);
    int64_t B = y->shape[0], T = y->shape[1], pad = (n_fft - hop) / 2;
    if (pad >= T)
        bv_ctx_error(ctx, op, "reflect padding %lld needs more samples than y %s", (long long)pad,
                     bv_shape_str(y, b, sizeof b));
    if (T + 2 * pad < n_fft)
        bv_ctx_error(ctx, op, "y %s is shorter than one frame of n_fft %d after padding", bv_shape_str(y, b, sizeof b),
                     n_fft);
    stft_saved *s = bv_arena_calloc(&ctx->arena, sizeof *s);
    bv_stft_geom *g = &s->g;
    g->n_fft = n_fft;
    g->hop = hop;
    g->pad = (int)pad;
    g->B = B;
    g->T = T;
    g->F = (T + 2 * pad - n_fft) / hop + 1;
    g->K = n_fft / 2 + 1;
    /* the Hann window zero-padded to n_fft, centred as torch.stft places it: made on the host */
    const size_t wbytes = sizeof(float) * (size_t)n_fft;
    float *win = bv_ctx_scratch(ctx, wbytes);
    bv_arena_mark m = bv_arena_get_mark(&ctx->arena);
    float *host = bv_arena_calloc(&ctx->arena, wbytes);
    bv_hann_window_fill(host + (n_fft - win_size) / 2, win_size);
    ctx->be->mem.from_host(win, host, wbytes);
    bv_arena_reset_to(&ctx->arena, m);
    s->win = win;
    s->spec_c = bv_ctx_scratch(ctx, sizeof(float) * bv_stft_row(2 * g->K) * (size_t)(B * g->F));
    bv_tensor *out = bv_new(ctx, BV_F32, BV_SHAPE(B, g->K, g->F)); // [B, n_fft/2+1, frames]
    char err[BV_KERNEL_ERR_LEN];
    if (BV_KERNEL(ctx, kt, stft, forward, op)(ctx->be, bv_ctx_data_arena(ctx), out->data, s->spec_c, y->data, s->win, g, err))
        bv_ctx_error(ctx, op, "%s", err);
    if (bv_needs_grad(ctx, 1, &y)) {
        bv_node *n = bv_record(ctx, BV_OP_STFT_MAG, stft_backward, 1, &y, 1, &out);
        n->saved = s;
    }
    return out;
}
