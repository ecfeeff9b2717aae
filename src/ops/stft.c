/* stft.c - the magnitude spectrogram of mel_processing.spectrogram_torch (center=False), with its
 * gradient w.r.t. the waveform.
 *
 * Forward, per batch row b and frame f (N = n_fft, P = (N - hop) / 2, Tp = T + 2P):
 *   yp[i]      = reflect_pad(y[b], P)[i]                          // [Tp]
 *   X[k]       = sum_n w[n] yp[f*hop + n] exp(-2 pi i k n / N)    // k = 0 .. N/2 (FFTW r2c)
 *   S[b, k, f] = sqrt(re(X[k])^2 + im(X[k])^2 + 1e-6)
 * where w is torch.hann_window(win, periodic=True) centred in N samples as torch.stft pads it.
 *
 * Backward (gradients ACCUMULATE into dy): dre = g re/S, dim = g im/S, then the adjoint of the
 * onesided DFT, which is a c2r transform of Z with Z[k] = (dre, dim)/2 for the bins whose mirror
 * image the onesided output dropped (1 .. (N-1)/2) and Z[k] = (dre, dim) for DC and, for even N,
 * Nyquist (a c2r counts those once); times the window, overlap-added over frames, and the reflect
 * padding folded back onto the samples it copied.
 *
 * FFTW plans are created once per n_fft (creation is not thread-safe: a mutex guards the cache)
 * and executed with the new-array API on per-thread scratch, which FFTW allows from any thread. */
#include <fftw3.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cleanup.h"
#include "ops.h"

#define STFT_EPS 1e-6f
#define STFT_MAX_PLANS 16

typedef struct {
    int n;
    fftwf_plan r2c, c2r;
} stft_plans;

static stft_plans g_plans[STFT_MAX_PLANS];
static int g_n_plans;
static pthread_mutex_t g_plan_lock = PTHREAD_MUTEX_INITIALIZER;

/* Plans for size n, planned on 64-byte aligned out-of-place arrays so that arena scratch (also
 * 64-byte aligned) satisfies the new-array execute rules. */
static void plans_free(void) {
    pthread_mutex_lock(&g_plan_lock);
    for (int i = 0; i < g_n_plans; i++) {
        fftwf_destroy_plan(g_plans[i].r2c);
        fftwf_destroy_plan(g_plans[i].c2r);
    }
    g_n_plans = 0;
    fftwf_cleanup(); /* FFTW's own planner memory */
    pthread_mutex_unlock(&g_plan_lock);
}

static const stft_plans *plans_for(bv_ctx *ctx, int n) {
    pthread_mutex_lock(&g_plan_lock);
    for (int i = 0; i < g_n_plans; i++)
        if (g_plans[i].n == n) {
            pthread_mutex_unlock(&g_plan_lock);
            return &g_plans[i];
        }
    if (g_n_plans == STFT_MAX_PLANS) {
        pthread_mutex_unlock(&g_plan_lock);
        bv_ctx_error(ctx, "spectrogram", "more than %d different n_fft values in one process", STFT_MAX_PLANS);
    }
    float *re = fftwf_malloc(sizeof(float) * (size_t)n);
    fftwf_complex *cx = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(n / 2 + 1));
    stft_plans *p = &g_plans[g_n_plans];
    p->n = n;
    p->r2c = fftwf_plan_dft_r2c_1d(n, re, cx, FFTW_ESTIMATE);
    p->c2r = fftwf_plan_dft_c2r_1d(n, cx, re, FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
    fftwf_free(re);
    fftwf_free(cx);
    BV_ASSERT(p->r2c && p->c2r);
    g_n_plans++;
    pthread_mutex_unlock(&g_plan_lock);
    bv_cleanup_register(plans_free);
    return p;
}

void bv_hann_window_fill(float *w, int win) {
    if (win == 1) {
        w[0] = 1.0f;
        return;
    }
    /* the float32 operation order of torch's hamming_window: arange * (2 pi / win), cos, * -0.5, + 0.5 */
    const float step = (float)(2.0 * M_PI / (double)win);
    for (int i = 0; i < win; i++) w[i] = cosf((float)i * step) * -0.5f + 0.5f;
}

/* The Hann window zero-padded to n, centred as torch.stft places it. */
static void padded_window(float *w, int n, int win) {
    memset(w, 0, sizeof(float) * (size_t)n);
    bv_hann_window_fill(w + (n - win) / 2, win);
}

/* Index into y [T] of padded position i of a reflect pad by p on both sides (p < T). */
static inline int64_t reflect_index(int64_t i, int64_t p, int64_t T) {
    int64_t j = i - p;
    if (j < 0) return -j;
    if (j >= T) return 2 * (T - 1) - j;
    return j;
}

/* Rows of per-frame buffers start on 64-byte boundaries, as the plans' arrays did. */
static inline size_t row_stride(int64_t nfloats) { return ((size_t)nfloats + 15) & ~(size_t)15; }

typedef struct {
    int n_fft, hop, pad;
    int64_t B, T, F, K;     /* K = n_fft/2 + 1 bins, F frames */
    const float *win;       // [n_fft]
    float *spec_c;          // [B*F rows of row_stride(2K)] complex spectrum kept for backward
} stft_saved;

static void stft_forward_kernel(float *out, stft_saved *s, const float *y, const stft_plans *pl, float *scratch) {
    const int64_t N = s->n_fft, K = s->K, F = s->F, T = s->T;
    const size_t stride = row_stride(N), cstride = row_stride(2 * K);
#pragma omp parallel for schedule(static)
    for (int64_t bf = 0; bf < s->B * F; bf++) {
        int64_t b = bf / F, f = bf % F;
        float *in = scratch + stride * (size_t)omp_get_thread_num();
        fftwf_complex *cx = (fftwf_complex *)(s->spec_c + (size_t)bf * cstride);
        for (int64_t n = 0; n < N; n++) in[n] = s->win[n] * y[b * T + reflect_index(f * s->hop + n, s->pad, T)];
        fftwf_execute_dft_r2c(pl->r2c, in, cx);
        for (int64_t k = 0; k < K; k++) {
            float re = cx[k][0], im = cx[k][1];
            out[(b * K + k) * F + f] = sqrtf(re * re + im * im + STFT_EPS);
        }
    }
}

/* Frame grads dframes [B*F, N] from dS: the adjoint of |r2c| per frame, times the window. */
static void stft_frame_grads(float *dframes, const stft_saved *s, const float *S, const float *gS,
                             const stft_plans *pl, float *scratch) {
    const int64_t N = s->n_fft, K = s->K, F = s->F;
    const size_t stride = row_stride(2 * K), dstride = row_stride(N);
#pragma omp parallel for schedule(static)
    for (int64_t bf = 0; bf < s->B * F; bf++) {
        int64_t b = bf / F, f = bf % F;
        fftwf_complex *z = (fftwf_complex *)(scratch + stride * (size_t)omp_get_thread_num());
        const float *cx = s->spec_c + (size_t)bf * stride;
        for (int64_t k = 0; k < K; k++) {
            int64_t o = (b * K + k) * F + f;
            float g = gS[o] / S[o];
            /* bins 1..(N-1)/2 stand for themselves and their dropped mirror: the c2r sums both */
            float half = (k == 0 || 2 * k == N) ? 1.0f : 0.5f;
            z[k][0] = half * g * cx[2 * k];
            z[k][1] = half * g * cx[2 * k + 1];
        }
        float *d = dframes + (size_t)bf * dstride;
        fftwf_execute_dft_c2r(pl->c2r, z, d);
        for (int64_t n = 0; n < N; n++) d[n] *= s->win[n];
    }
}

/* Overlap-add of frame grads onto the padded signal, then fold the reflect pad back into dy. */
static void stft_fold(float *dy, const stft_saved *s, const float *dframes) {
    const int64_t N = s->n_fft, F = s->F, T = s->T, P = s->pad, Tp = T + 2 * P, hop = s->hop;
    const size_t dstride = row_stride(N);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < s->B; b++) {
        for (int64_t i = 0; i < Tp; i++) {
            int64_t f_lo = i >= N ? (i - N) / hop + 1 : 0, f_hi = i / hop < F - 1 ? i / hop : F - 1;
            double acc = 0;
            for (int64_t f = f_lo; f <= f_hi; f++)
                acc += dframes[(size_t)(b * F + f) * dstride + (size_t)(i - f * hop)];
            dy[b * T + reflect_index(i, P, T)] += (float)acc;
        }
    }
}

static void stft_backward(bv_ctx *ctx, bv_node *node) {
    bv_tensor *y = node->in[0], *S = node->out[0];
    if (!y->requires_grad) return;
    stft_saved *s = node->saved;
    const stft_plans *pl = plans_for(ctx, s->n_fft);
    float *dy = bv_grad(ctx, y);
    bv_arena_mark m = bv_arena_get_mark(&ctx->arena);
    float *scratch = bv_arena_alloc(&ctx->arena, sizeof(float) * row_stride(2 * s->K) * (size_t)omp_get_max_threads());
    float *dframes = bv_arena_alloc(&ctx->arena, sizeof(float) * row_stride(s->n_fft) * (size_t)(s->B * s->F));
    stft_frame_grads(dframes, s, S->data, S->grad, pl, scratch);
    stft_fold(dy, s, dframes);
    bv_arena_reset_to(&ctx->arena, m);
}

bv_tensor *bv_spectrogram(bv_ctx *ctx, bv_tensor *y, int n_fft, int hop, int win_size) {
    const char *op = "spectrogram";
    bv_check_cpu(ctx, op, y);
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
    s->n_fft = n_fft;
    s->hop = hop;
    s->pad = (int)pad;
    s->B = B;
    s->T = T;
    s->F = (T + 2 * pad - n_fft) / hop + 1;
    s->K = n_fft / 2 + 1;
    float *win = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)n_fft);
    padded_window(win, n_fft, win_size);
    s->win = win;
    s->spec_c = bv_arena_alloc(&ctx->arena, sizeof(float) * row_stride(2 * s->K) * (size_t)(B * s->F));
    bv_tensor *out = bv_new(ctx, BV_F32, BV_SHAPE(B, s->K, s->F)); // [B, n_fft/2+1, frames]
    const stft_plans *pl = plans_for(ctx, n_fft);
    bv_arena_mark m = bv_arena_get_mark(&ctx->arena);
    float *scratch = bv_arena_alloc(&ctx->arena, sizeof(float) * row_stride(n_fft) * (size_t)omp_get_max_threads());
    stft_forward_kernel(out->data, s, y->data, pl, scratch);
    bv_arena_reset_to(&ctx->arena, m);
    if (bv_needs_grad(ctx, 1, &y)) {
        bv_node *n = bv_record(ctx, BV_OP_STFT_MAG, stft_backward, 1, &y, 1, &out);
        n->saved = s;
    }
    return out;
}
