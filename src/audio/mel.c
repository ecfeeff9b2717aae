/* mel.c - mel_processing.py: librosa 0.9.2's slaney mel filterbank, torch's periodic Hann window,
 * and spec_to_mel / mel_spectrogram built from differentiable ops (matmul, clamp, log, stft).
 *
 * The filterbank follows librosa's operation order in float64 (rfftfreq, slaney hz<->mel,
 * linspace, triangular ramps); like librosa it stores the weights as float32 first and then
 * scales them in place by the float64 slaney norm 2 / (f[i+2] - f[i]). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mel.h"

#include "../core/backend.h"

#define MEL_CLIP 1e-5f

/* librosa.hz_to_mel / mel_to_hz, htk=False (Slaney: linear below 1 kHz, log above). */
static const double F_SP = 200.0 / 3, MIN_LOG_HZ = 1000.0;

static double hz_to_mel(double f) {
    const double min_log_mel = MIN_LOG_HZ / F_SP, logstep = log(6.4) / 27.0;
    if (f >= MIN_LOG_HZ) return min_log_mel + log(f / MIN_LOG_HZ) / logstep;
    return f / F_SP;
}

static double mel_to_hz(double m) {
    const double min_log_mel = MIN_LOG_HZ / F_SP, logstep = log(6.4) / 27.0;
    if (m >= min_log_mel) return MIN_LOG_HZ * exp(logstep * (m - min_log_mel));
    return F_SP * m;
}

float *bv_mel_filterbank(int sr, int n_fft, int n_mels, double fmin, double fmax) {
    if (sr <= 0 || n_fft <= 0 || n_mels <= 0) return NULL;
    if (!(fmax > 0)) fmax = (double)sr / 2; /* upstream passes None */
    const int nf = n_fft / 2 + 1, nm = n_mels + 2;
    float *w = calloc((size_t)n_mels * (size_t)nf, sizeof(float)); // [n_mels, n_fft/2+1]
    double *fft_f = malloc(sizeof(double) * (size_t)nf), *mel_f = malloc(sizeof(double) * (size_t)nm);
    if (!w || !fft_f || !mel_f) {
        free(w);
        free(fft_f);
        free(mel_f);
        return NULL;
    }
    const double df = 1.0 / (n_fft * (1.0 / sr)); /* np.fft.rfftfreq(n_fft, 1/sr) */
    for (int k = 0; k < nf; k++) fft_f[k] = k * df;
    /* mel_frequencies: np.linspace(min_mel, max_mel, n_mels + 2) (last point exact), to Hz */
    const double lo = hz_to_mel(fmin), hi = hz_to_mel(fmax), step = (hi - lo) / (nm - 1);
    for (int i = 0; i < nm; i++) mel_f[i] = mel_to_hz(i == nm - 1 ? hi : i * step + lo);
    for (int i = 0; i < n_mels; i++) {
        const double d0 = mel_f[i + 1] - mel_f[i], d1 = mel_f[i + 2] - mel_f[i + 1];
        const double enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (int k = 0; k < nf; k++) {
            double lower = -(mel_f[i] - fft_f[k]) / d0, upper = (mel_f[i + 2] - fft_f[k]) / d1;
            double v = lower < upper ? lower : upper;
            float stored = (float)(v > 0 ? v : 0.0); /* librosa's float32 weights array */
            w[(size_t)i * (size_t)nf + (size_t)k] = (float)((double)stored * enorm);
        }
    }
    free(fft_f);
    free(mel_f);
    return w;
}

float *bv_hann_window(int win) {
    if (win <= 0) return NULL;
    float *w = malloc(sizeof(float) * (size_t)win);
    if (w) bv_hann_window_fill(w, win);
    return w;
}

bv_tensor *bv_spec_to_mel(bv_ctx *ctx, bv_tensor *spec, bv_tensor *mel_basis) {
    char a[96], b[96];
    if (spec->ndim != 3 || mel_basis->ndim != 2 || mel_basis->shape[1] != spec->shape[1])
        bv_ctx_error(ctx, "spec_to_mel", "need spec [B, F, T] and mel_basis [M, F], got spec %s and mel_basis %s",
                     bv_shape_str(spec, a, sizeof a), bv_shape_str(mel_basis, b, sizeof b));
    /* bv_matmul shares only a 2-d RIGHT operand: broadcast the basis over the batch */
    bv_tensor *basis = bv_expand(ctx, mel_basis, BV_SHAPE(spec->shape[0], mel_basis->shape[0], mel_basis->shape[1]));
    bv_tensor *mel = bv_matmul(ctx, basis, spec);                 // [B, M, T]
    return bv_log(ctx, bv_clamp(ctx, mel, MEL_CLIP, INFINITY));   // spectral_normalize_torch
}

/* ---- the mel basis cache (upstream's global mel_basis dict), in the backend's BV_CACHE_MEL slot ----
 * Bases are built on the host and kept in the backend's device memory until it shuts down. */

typedef struct mel_entry {
    int sr, n_fft, n_mels;
    double fmin, fmax;
    float *w;                  // [n_mels, n_fft/2+1] device memory
    struct mel_entry *next;
} mel_entry;

typedef struct {
    pthread_mutex_t lock;
    bv_allocator mem;          /* the backend's allocator the bases came from */
    mel_entry *head;
} mel_cache;

/* bv_backend_cache's make() takes no argument: the allocator is filled in by cached_basis. */
static void *mel_cache_make(void) {
    mel_cache *c = calloc(1, sizeof *c);
    if (c) pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void mel_cache_destroy(void *p) {
    mel_cache *c = p;
    for (mel_entry *e = c->head, *next; e; e = next) {
        next = e->next;
        c->mem.free(e->w);
        free(e);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static const float *cached_basis(bv_backend *be, int sr, int n_fft, int n_mels, double fmin, double fmax) {
    if (!(fmax > 0)) fmax = (double)sr / 2;
    mel_cache *c = bv_backend_cache(be, BV_CACHE_MEL, mel_cache_make, mel_cache_destroy);
    if (!c) return NULL;
    pthread_mutex_lock(&c->lock);
    c->mem = be->mem;
    mel_entry *e = c->head;
    while (e && !(e->sr == sr && e->n_fft == n_fft && e->n_mels == n_mels && e->fmin == fmin && e->fmax == fmax))
        e = e->next;
    if (!e) {
        float *host = bv_mel_filterbank(sr, n_fft, n_mels, fmin, fmax);
        const size_t bytes = sizeof(float) * (size_t)n_mels * (size_t)(n_fft / 2 + 1);
        float *w = host ? be->mem.alloc(bytes) : NULL;
        e = w ? calloc(1, sizeof *e) : NULL;
        if (e) {
            be->mem.from_host(w, host, bytes);
            *e = (mel_entry){sr, n_fft, n_mels, fmin, fmax, w, c->head};
            c->head = e;
        } else if (w) {
            be->mem.free(w);
        }
        free(host);
    }
    pthread_mutex_unlock(&c->lock);
    return e ? e->w : NULL;
}

bv_tensor *bv_mel_spectrogram(bv_ctx *ctx, bv_tensor *y, int n_fft, int num_mels, int sr, int hop, int win,
                              double fmin, double fmax) {
    if (sr <= 0 || num_mels <= 0 || n_fft <= 0)
        bv_ctx_error(ctx, "mel_spectrogram", "bad sizes: sr %d num_mels %d n_fft %d", sr, num_mels, n_fft);
    const float *w = cached_basis(ctx->be, sr, n_fft, num_mels, fmin, fmax);
    if (!w) bv_ctx_error(ctx, "mel_spectrogram", "out of memory building the mel basis");
    /* a constant view of the cached basis: no grad, never written */
    bv_tensor *basis = bv_arena_calloc(&ctx->arena, sizeof *basis); // [num_mels, n_fft/2+1]
    basis->dtype = BV_F32;
    basis->device = ctx->be->device;
    basis->ndim = 2;
    basis->shape[0] = num_mels;
    basis->shape[1] = n_fft / 2 + 1;
    basis->numel = basis->shape[0] * basis->shape[1];
    basis->data = (float *)w;
    basis->name = "mel_basis";
    bv_tensor *spec = bv_spectrogram(ctx, y, n_fft, hop, win); // [B, n_fft/2+1, frames]
    return bv_spec_to_mel(ctx, spec, basis);
}
