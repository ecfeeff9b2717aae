/* cpu/stft.c - CPU kernels of the magnitude spectrogram of mel_processing.spectrogram_torch
 * (center=False) and its gradient w.r.t. the waveform (constructor and backward rule: ../stft.c).
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
 * FFTW plans are created once per n_fft and kept in the backend's BV_CACHE_FFT slot and executed
 * with the new-array API on per-thread scratch, which FFTW allows from any thread. Plan creation
 * is not thread-safe and FFTW's planner is process-wide: the slot's own mutex serialises it, which
 * is enough because a process has one CPU backend (bv_backend_get); a second one (tests) must not
 * plan from another thread at the same time. */
#include <fftw3.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels.h"

#define STFT_EPS 1e-6f
#define STFT_MAX_PLANS 16

typedef struct {
    int n;
    fftwf_plan r2c, c2r;
} stft_plans;

typedef struct {
    pthread_mutex_t lock;
    int n_plans;
    stft_plans plans[STFT_MAX_PLANS];
} fft_cache;

static void *cache_make(void) {
    fft_cache *c = calloc(1, sizeof *c);
    if (c) pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void cache_destroy(void *p) {
    fft_cache *c = p;
    for (int i = 0; i < c->n_plans; i++) {
        fftwf_destroy_plan(c->plans[i].r2c);
        fftwf_destroy_plan(c->plans[i].c2r);
    }
    /* no fftwf_cleanup(): FFTW's planner is process-wide and it would invalidate the plans of every
     * other backend's cache; what the planner keeps stays reachable from FFTW's own state */
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Plans for size n, planned on 64-byte aligned out-of-place arrays so that arena scratch (also
 * 64-byte aligned) satisfies the new-array execute rules. NULL (and a message) on failure. */
static const stft_plans *plans_for(bv_backend *be, int n, char *err) {
    fft_cache *c = bv_backend_cache(be, BV_CACHE_FFT, cache_make, cache_destroy);
    if (!c) {
        snprintf(err, BV_KERNEL_ERR_LEN, "out of memory for the FFT plan cache");
        return NULL;
    }
    pthread_mutex_lock(&c->lock);
    const stft_plans *found = NULL;
    for (int i = 0; i < c->n_plans && !found; i++)
        if (c->plans[i].n == n) found = &c->plans[i];
    if (!found && c->n_plans == STFT_MAX_PLANS) {
        snprintf(err, BV_KERNEL_ERR_LEN, "more than %d different n_fft values in one process", STFT_MAX_PLANS);
    } else if (!found) {
        float *re = fftwf_malloc(sizeof(float) * (size_t)n);
        fftwf_complex *cx = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(n / 2 + 1));
        stft_plans *p = &c->plans[c->n_plans];
        p->n = n;
        p->r2c = re && cx ? fftwf_plan_dft_r2c_1d(n, re, cx, FFTW_ESTIMATE) : NULL;
        p->c2r = re && cx ? fftwf_plan_dft_c2r_1d(n, cx, re, FFTW_ESTIMATE | FFTW_DESTROY_INPUT) : NULL;
        fftwf_free(re);
        fftwf_free(cx);
        if (p->r2c && p->c2r) {
            c->n_plans++;
            found = p;
        } else {
            if (p->r2c) fftwf_destroy_plan(p->r2c);
            if (p->c2r) fftwf_destroy_plan(p->c2r);
            snprintf(err, BV_KERNEL_ERR_LEN, "FFTW cannot plan a transform of size %d", n);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

/* Index into y [T] of padded position i of a reflect pad by p on both sides (p < T). */
static inline int64_t reflect_index(int64_t i, int64_t p, int64_t T) {
    int64_t j = i - p;
    if (j < 0) return -j;
    if (j >= T) return 2 * (T - 1) - j;
    return j;
}

static void stft_forward_kernel(float *out, float *spec_c, const bv_stft_geom *s, const float *win, const float *y,
                                const stft_plans *pl, float *scratch) {
    const int64_t N = s->n_fft, K = s->K, F = s->F, T = s->T;
    const size_t stride = bv_stft_row(N), cstride = bv_stft_row(2 * K);
#pragma omp parallel for schedule(static)
    for (int64_t bf = 0; bf < s->B * F; bf++) {
        int64_t b = bf / F, f = bf % F;
        float *in = scratch + stride * (size_t)omp_get_thread_num();
        fftwf_complex *cx = (fftwf_complex *)(spec_c + (size_t)bf * cstride);
        for (int64_t n = 0; n < N; n++) in[n] = win[n] * y[b * T + reflect_index(f * s->hop + n, s->pad, T)];
        fftwf_execute_dft_r2c(pl->r2c, in, cx);
        for (int64_t k = 0; k < K; k++) {
            float re = cx[k][0], im = cx[k][1];
            out[(b * K + k) * F + f] = sqrtf(re * re + im * im + STFT_EPS);
        }
    }
}

/* Frame grads dframes [B*F, N] from dS: the adjoint of |r2c| per frame, times the window. */
static void stft_frame_grads(float *dframes, const bv_stft_geom *s, const float *spec_c, const float *win,
                             const float *S, const float *gS, const stft_plans *pl, float *scratch) {
    const int64_t N = s->n_fft, K = s->K, F = s->F;
    const size_t stride = bv_stft_row(2 * K), dstride = bv_stft_row(N);
#pragma omp parallel for schedule(static)
    for (int64_t bf = 0; bf < s->B * F; bf++) {
        int64_t b = bf / F, f = bf % F;
        fftwf_complex *z = (fftwf_complex *)(scratch + stride * (size_t)omp_get_thread_num());
        const float *cx = spec_c + (size_t)bf * stride;
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
        for (int64_t n = 0; n < N; n++) d[n] *= win[n];
    }
}

/* Overlap-add of frame grads onto the padded signal, then fold the reflect pad back into dy. */
static void stft_fold(float *dy, const bv_stft_geom *s, const float *dframes) {
    const int64_t N = s->n_fft, F = s->F, T = s->T, P = s->pad, Tp = T + 2 * P, hop = s->hop;
    const size_t dstride = bv_stft_row(N);
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

static int forward(bv_backend *be, bv_arena *scratch, float *S, float *spec_c, const float *y, const float *win,
                   const bv_stft_geom *g, char *err) {
    const stft_plans *pl = plans_for(be, g->n_fft, err);
    if (!pl) return -1;
    bv_arena_mark m = bv_arena_get_mark(scratch);
    float *tmp = bv_arena_alloc(scratch, sizeof(float) * bv_stft_row(g->n_fft) * (size_t)omp_get_max_threads());
    stft_forward_kernel(S, spec_c, g, win, y, pl, tmp);
    bv_arena_reset_to(scratch, m);
    return 0;
}

static int backward(bv_backend *be, bv_arena *scratch, float *dy, const float *S, const float *gS, const float *spec_c,
                    const float *win, const bv_stft_geom *g, char *err) {
    const stft_plans *pl = plans_for(be, g->n_fft, err);
    if (!pl) return -1;
    bv_arena_mark m = bv_arena_get_mark(scratch);
    float *tmp = bv_arena_alloc(scratch, sizeof(float) * bv_stft_row(2 * g->K) * (size_t)omp_get_max_threads());
    float *dframes = bv_arena_alloc(scratch, sizeof(float) * bv_stft_row(g->n_fft) * (size_t)(g->B * g->F));
    stft_frame_grads(dframes, g, spec_c, win, S, gS, pl, tmp);
    stft_fold(dy, g, dframes);
    bv_arena_reset_to(scratch, m);
    return 0;
}

const bv_stft_kernels bv_cpu_stft = {.forward = forward, .backward = backward};
