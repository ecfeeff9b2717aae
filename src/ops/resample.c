/* resample.c - torchaudio.transforms.Resample(orig, new) (torchaudio 0.13, sinc_interpolation,
 * lowpass_filter_width 6, rolloff 0.99) as used by losses.WavLMLoss, differentiable in x.
 *
 * With o = orig/g, n = new/g (g = gcd) and a Hann-windowed sinc kernel [n, 1, K = 2*width + o],
 * torchaudio pads x by (width, width + o) zeros and runs conv1d(stride o): frame f of phase j is
 *   y[f*n + j] = sum_k kernel[j, k] * x[f*o + k - width]
 * and keeps the first ceil(n*T/o) samples. Here the frames are unfolded into U [B*Fr, K] and
 * multiplied by the kernel with one sgemm (Y = U K^T); backward is dU = dY K, folded back onto x
 * (gradients ACCUMULATE). Kernels are built once per (orig, new) and cached for the process. */
#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cleanup.h"
#include "ops.h"
#include "resample.h"

#define RS_LOWPASS_WIDTH 6
#define RS_ROLLOFF 0.99

typedef struct rs_kernel {
    int orig, new_, gcd, o, n, width, klen;
    float *w;                 // [n, 1, klen]
    struct rs_kernel *next;
} rs_kernel;

static rs_kernel *g_kernels;
static pthread_mutex_t g_kernel_lock = PTHREAD_MUTEX_INITIALIZER;

static int gcd_int(int a, int b) {
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* torchaudio's operation order in float64, including the float32 phase offsets: its
 * arange(0, -n, -1) is an int64 tensor and `/ new_freq` yields the default float32 dtype. */
static void build_kernel(rs_kernel *r) {
    const double lpw = RS_LOWPASS_WIDTH;
    double base = (double)(r->o < r->n ? r->o : r->n);
    base *= RS_ROLLOFF;
    r->width = (int)ceil(lpw * r->o / base);
    r->klen = 2 * r->width + r->o;
    r->w = malloc(sizeof(float) * (size_t)r->n * (size_t)r->klen);
    BV_ASSERT(r->w);
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
            r->w[(size_t)j * (size_t)r->klen + (size_t)k] = (float)(s * (window * scale));
        }
    }
}

static void kernels_free(void) {
    pthread_mutex_lock(&g_kernel_lock);
    for (rs_kernel *r = g_kernels, *next; r; r = next) {
        next = r->next;
        free(r->w);
        free(r);
    }
    g_kernels = NULL;
    pthread_mutex_unlock(&g_kernel_lock);
}

static const rs_kernel *kernel_for(int orig, int new_) {
    pthread_mutex_lock(&g_kernel_lock);
    rs_kernel *r = g_kernels;
    while (r && !(r->orig == orig && r->new_ == new_)) r = r->next;
    if (!r) {
        r = calloc(1, sizeof *r);
        BV_ASSERT(r);
        r->orig = orig;
        r->new_ = new_;
        r->gcd = gcd_int(orig, new_);
        r->o = orig / r->gcd;
        r->n = new_ / r->gcd;
        build_kernel(r);
        r->next = g_kernels;
        g_kernels = r;
        bv_cleanup_register(kernels_free);
    }
    pthread_mutex_unlock(&g_kernel_lock);
    return r;
}

const float *bv_resample_kernel(int orig_freq, int new_freq, int *gcd, int *width, int *kernel_len) {
    if (orig_freq <= 0 || new_freq <= 0 || orig_freq == new_freq) return NULL;
    const rs_kernel *r = kernel_for(orig_freq, new_freq);
    if (gcd) *gcd = r->gcd;
    if (width) *width = r->width;
    if (kernel_len) *kernel_len = r->klen;
    return r->w;
}

typedef struct {
    const rs_kernel *k;
    int64_t B, T, Fr, T_out;   /* Fr conv frames per row, T_out kept samples */
} rs_saved;

/* U [B*Fr, K]: U[b, f, k] = x[b, f*o + k - width] (zero outside [0, T)). */
static void unfold(float *U, const float *x, const rs_saved *s) {
    const int64_t K = s->k->klen, o = s->k->o, w = s->k->width, T = s->T;
#pragma omp parallel for schedule(static)
    for (int64_t bf = 0; bf < s->B * s->Fr; bf++) {
        int64_t b = bf / s->Fr, f = bf % s->Fr;
        for (int64_t k = 0; k < K; k++) {
            int64_t i = f * o + k - w;
            U[bf * K + k] = i >= 0 && i < T ? x[b * T + i] : 0.0f;
        }
    }
}

/* dx[b, i] += sum over frames f covering i of dU[b, f, i + width - f*o]. */
static void fold(float *dx, const float *dU, const rs_saved *s) {
    const int64_t K = s->k->klen, o = s->k->o, w = s->k->width, T = s->T, Fr = s->Fr;
#pragma omp parallel for schedule(static)
    for (int64_t bi = 0; bi < s->B * T; bi++) {
        int64_t b = bi / T, p = bi % T + w; /* position in the padded signal */
        int64_t f_lo = p >= K ? (p - K) / o + 1 : 0, f_hi = p / o < Fr - 1 ? p / o : Fr - 1;
        float acc = 0;
        for (int64_t f = f_lo; f <= f_hi; f++) acc += dU[(b * Fr + f) * K + (p - f * o)];
        dx[bi] += acc;
    }
}

static void resample_backward(bv_ctx *ctx, bv_node *node) {
    bv_tensor *x = node->in[0], *y = node->out[0];
    if (!x->requires_grad) return;
    const rs_saved *s = node->saved;
    const int64_t K = s->k->klen, n = s->k->n, rows = s->B * s->Fr;
    float *dx = bv_grad(ctx, x);
    bv_arena_mark m = bv_arena_get_mark(&ctx->arena);
    /* dY [B*Fr, n]: the kept samples' grads, zeros for the conv outputs torchaudio cut off */
    float *dY = bv_arena_calloc(&ctx->arena, sizeof(float) * (size_t)(rows * n));
    for (int64_t b = 0; b < s->B; b++)
        memcpy(dY + b * s->Fr * n, y->grad + b * s->T_out, sizeof(float) * (size_t)s->T_out);
    float *dU = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(rows * K));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)K, (int)n, 1.0f, dY, (int)n, s->k->w,
                (int)K, 0.0f, dU, (int)K);
    fold(dx, dU, s);
    bv_arena_reset_to(&ctx->arena, m);
}

bv_tensor *bv_resample(bv_ctx *ctx, bv_tensor *x, int orig_freq, int new_freq) {
    const char *op = "resample";
    bv_check_cpu(ctx, op, x);
    bv_check_dtype(ctx, op, x, BV_F32);
    char b[96];
    if (x->ndim != 2) bv_ctx_error(ctx, op, "x must be [B, T], got shape %s", bv_shape_str(x, b, sizeof b));
    if (orig_freq <= 0 || new_freq <= 0)
        bv_ctx_error(ctx, op, "sample rates must be positive, got %d -> %d", orig_freq, new_freq);
    if (orig_freq == new_freq) return x; /* torchaudio returns the waveform itself */
    rs_saved *s = bv_arena_calloc(&ctx->arena, sizeof *s);
    s->k = kernel_for(orig_freq, new_freq);
    const int64_t o = s->k->o, n = s->k->n, K = s->k->klen;
    s->B = x->shape[0];
    s->T = x->shape[1];
    s->Fr = s->T / o + 1;               /* conv1d frames over T + 2*width + o padded samples */
    s->T_out = (n * s->T + o - 1) / o;  /* ceil(n*T/o) */
    bv_tensor *y = bv_new(ctx, BV_F32, BV_SHAPE(s->B, s->T_out)); // [B, ceil(new*T/orig)]
    const int64_t rows = s->B * s->Fr;
    bv_arena_mark m = bv_arena_get_mark(&ctx->arena);
    float *U = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(rows * K));  // [B*Fr, K]
    float *Y = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(rows * n));  // [B*Fr, n]
    unfold(U, x->data, s);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)n, (int)K, 1.0f, U, (int)K, s->k->w, (int)K,
                0.0f, Y, (int)n);
    for (int64_t bb = 0; bb < s->B; bb++)
        memcpy(y->data + bb * s->T_out, Y + bb * s->Fr * n, sizeof(float) * (size_t)s->T_out);
    bv_arena_reset_to(&ctx->arena, m);
    if (bv_needs_grad(ctx, 1, &x)) {
        bv_node *nd = bv_record(ctx, BV_OP_RESAMPLE, resample_backward, 1, &x, 1, &y);
        nd->saved = s;
    }
    return y;
}
