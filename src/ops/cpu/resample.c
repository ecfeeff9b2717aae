/* cpu/resample.c - CPU kernels of torchaudio.transforms.Resample (torchaudio 0.13,
 * sinc_interpolation, lowpass_filter_width 6, rolloff 0.99); constructor and backward rule:
 * ../resample.c.
 *
 * With o = orig/g, n = new/g (g = gcd) and a Hann-windowed sinc kernel [n, 1, K = 2*width + o],
 * torchaudio pads x by (width, width + o) zeros and runs conv1d(stride o): frame f of phase j is
 *   y[f*n + j] = sum_k kernel[j, k] * x[f*o + k - width]
 * and keeps the first ceil(n*T/o) samples. Here the frames are unfolded into U [B*Fr, K] and
 * multiplied by the kernel with one sgemm (Y = U K^T); backward is dU = dY K, folded back onto x
 * (gradients ACCUMULATE). Kernels are built once per (orig, new) and kept in the backend's
 * BV_CACHE_RESAMPLE slot (a list under its own lock) until the backend shuts down. */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/error.h"
#include "../kernels.h"

#define RS_LOWPASS_WIDTH 6
#define RS_ROLLOFF 0.99

typedef struct rs_entry {
    bv_resample_plan p;
    float *w;                 // [n, 1, klen]
    struct rs_entry *next;
} rs_entry;

typedef struct {
    pthread_mutex_t lock;
    rs_entry *head;
} rs_cache;

static int gcd_int(int a, int b) {
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* torchaudio's operation order in float64, including the float32 phase offsets: its
 * arange(0, -n, -1) is an int64 tensor and `/ new_freq` yields the default float32 dtype.
 * Returns 0 when out of memory. */
static int build_kernel(rs_entry *e) {
    bv_resample_plan *r = &e->p;
    const double lpw = RS_LOWPASS_WIDTH;
    double base = (double)(r->o < r->n ? r->o : r->n);
    base *= RS_ROLLOFF;
    r->width = (int)ceil(lpw * r->o / base);
    r->klen = 2 * r->width + r->o;
    e->w = malloc(sizeof(float) * (size_t)r->n * (size_t)r->klen);
    if (!e->w) return 0;
    const double scale = base / r->o;
    for (int j = 0; j < r->n; j++) {
        double phase = (double)((float)(-j) / (float)r->n);
        for (int k = 0; k < r->klen; k++) {
            double t = phase + (double)(k - r->width) / r->o;
            t *= base;
            t = t < -lpw ? -lpw : t > lpw ? lpw : t;
            double c = cos(t * M_PI / lpw / 2);
            double window = c * c;
            t *= M_PI;
            double s = t == 0 ? 1.0 : sin(t) / t;
            e->w[(size_t)j * (size_t)r->klen + (size_t)k] = (float)(s * (window * scale));
        }
    }
    r->w = e->w;
    return 1;
}

static void *cache_make(void) {
    rs_cache *c = calloc(1, sizeof *c);
    if (c) pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void cache_destroy(void *p) {
    rs_cache *c = p;
    for (rs_entry *e = c->head, *next; e; e = next) {
        next = e->next;
        free(e->w);
        free(e);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static const bv_resample_plan *plan(bv_backend *be, int orig, int new_) {
    rs_cache *c = bv_backend_cache(be, BV_CACHE_RESAMPLE, cache_make, cache_destroy);
    if (!c) return NULL;
    pthread_mutex_lock(&c->lock);
    rs_entry *e = c->head;
    while (e && !(e->p.orig == orig && e->p.new_ == new_)) e = e->next;
    if (!e && (e = calloc(1, sizeof *e))) {
        const int g = gcd_int(orig, new_);
        e->p = (bv_resample_plan){.orig = orig, .new_ = new_, .gcd = g, .o = orig / g, .n = new_ / g};
        if (build_kernel(e)) {
            e->next = c->head;
            c->head = e;
        } else {
            free(e);
            e = NULL;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return e ? &e->p : NULL;
}

/* U [B*Fr, K]: U[b, f, k] = x[b, f*o + k - width] (zero outside [0, T)). */
static void unfold(float *U, const float *x, const bv_resample_plan *p, int64_t B, int64_t T, int64_t Fr) {
    const int64_t K = p->klen, o = p->o, w = p->width;
#pragma omp parallel for schedule(static)
    for (int64_t bf = 0; bf < B * Fr; bf++) {
        int64_t b = bf / Fr, f = bf % Fr;
        for (int64_t k = 0; k < K; k++) {
            int64_t i = f * o + k - w;
            U[bf * K + k] = i >= 0 && i < T ? x[b * T + i] : 0.0f;
        }
    }
}

/* dx[b, i] += sum over frames f covering i of dU[b, f, i + width - f*o]. */
static void fold(float *dx, const float *dU, const bv_resample_plan *p, int64_t B, int64_t T, int64_t Fr) {
    const int64_t K = p->klen, o = p->o, w = p->width;
#pragma omp parallel for schedule(static)
    for (int64_t bi = 0; bi < B * T; bi++) {
        int64_t b = bi / T, q = bi % T + w; /* position in the padded signal */
        int64_t f_lo = q >= K ? (q - K) / o + 1 : 0, f_hi = q / o < Fr - 1 ? q / o : Fr - 1;
        float acc = 0;
        for (int64_t f = f_lo; f <= f_hi; f++) acc += dU[(b * Fr + f) * K + (q - f * o)];
        dx[bi] += acc;
    }
}

static void forward(bv_arena *scratch, float *y, const float *x, const bv_resample_plan *p, int64_t B, int64_t T,
                    int64_t Fr, int64_t T_out) {
    const int64_t n = p->n, K = p->klen, rows = B * Fr;
    bv_arena_mark m = bv_arena_get_mark(scratch);
    float *U = bv_arena_alloc(scratch, sizeof(float) * (size_t)(rows * K));  // [B*Fr, K]
    float *Y = bv_arena_alloc(scratch, sizeof(float) * (size_t)(rows * n));  // [B*Fr, n]
    unfold(U, x, p, B, T, Fr);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)n, (int)K, 1.0f, U, (int)K, p->w, (int)K,
                0.0f, Y, (int)n);
    for (int64_t bb = 0; bb < B; bb++) memcpy(y + bb * T_out, Y + bb * Fr * n, sizeof(float) * (size_t)T_out);
    bv_arena_reset_to(scratch, m);
}

static void backward(bv_arena *scratch, float *dx, const float *gy, const bv_resample_plan *p, int64_t B, int64_t T,
                     int64_t Fr, int64_t T_out) {
    const int64_t K = p->klen, n = p->n, rows = B * Fr;
    bv_arena_mark m = bv_arena_get_mark(scratch);
    /* dY [B*Fr, n]: the kept samples' grads, zeros for the conv outputs torchaudio cut off */
    float *dY = bv_arena_calloc(scratch, sizeof(float) * (size_t)(rows * n));
    for (int64_t b = 0; b < B; b++) memcpy(dY + b * Fr * n, gy + b * T_out, sizeof(float) * (size_t)T_out);
    float *dU = bv_arena_alloc(scratch, sizeof(float) * (size_t)(rows * K));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)K, (int)n, 1.0f, dY, (int)n, p->w, (int)K,
                0.0f, dU, (int)K);
    fold(dx, dU, p, B, T, Fr);
    bv_arena_reset_to(scratch, m);
}

const bv_resample_kernels bv_cpu_resample = {.plan = plan, .forward = forward, .backward = backward};
