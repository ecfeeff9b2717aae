/* cpu/lstm.c - CPU kernels of nn.LSTM(batch_first=True), one layer, uni- or bidirectional
 * (constructor and backward rule: ../lstm.c).
 *
 * Per direction, gates = x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh in PyTorch's row order i, f, g, o:
 *   i, f, o = sigmoid(.), g = tanh(.), c_t = f c_{t-1} + i g, h_t = o tanh(c_t).
 * Forward does the input projection for all steps in one sgemm and one small sgemm per step for the
 * recurrence. The activated gates and the cell states are kept for backward, which runs analytic
 * BPTT: per step an elementwise pass gives the pre-activation gate grads dG_t and one sgemm carries
 * dh back through W_hh; the weight, bias and input grads are then three sgemms over all steps.
 * Gradients ACCUMULATE (+=).
 *
 * Under BV_AUTOCAST_BF16 (the *_bf16 slots) every one of those products reads bf16 inputs and
 * accumulates in fp32: the all-step ones through oneDNN's bf16 matmul (gemm.c), the two-row
 * per-step ones as an fp32 sgemm of bf16-rounded operands (step_mm: the same arithmetic, less
 * overhead; W_hh is rounded once per direction). Gates, cells and hidden states stay fp32.
 *
 * The per-step gate loops run on one thread (B * H is a few hundred: a parallel region per step
 * costs more than it splits) in 8-lane simd with libmvec's expf / tanhf (vmath.h): scalar libm calls
 * here were ~2% of a train step's CPU. A bidirectional layer's two directions run their recurrences
 * side by side, one thread each (directions_side_by_side).
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "../kernels.h"
#include "bf16.h"
#include "gemm.h"
#include "vmath.h"

/* Where the products go: NULL, fp32 sgemm (gemm.h); else oneDNN bf16 with this state. */
typedef struct {
    bv_backend *be;
    bv_arena *scratch;
    char *err;
    int rc; /* -1 once a product failed: the rest is skipped */
} mm16;

/* C [M, N] (beta: 0 or 1)= op(A) op(B), row-major with row strides lda, ldb, ldc: the products over
 * all steps at once (fp32 sgemm, or oneDNN's bf16 matmul). */
static void mm(mm16 *h, int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
               int64_t ldb, float beta, float *C, int64_t ldc) {
    if (!h) {
        bv_cpu_sgemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (h->rc) return;
    bv_gemm_bf16 g = {.batch = 1, .M = M, .N = N, .K = K, .ta = ta, .tb = tb, .A = A, .lda = lda, .B = B,
                      .ldb = ldb, .accumulate = beta != 0.0f, .C = C, .ldc = ldc};
    h->rc = bv_cpu_gemm_bf16(h->be, h->scratch, &g, h->err);
}

/* The per-step recurrence product C [B, N] (beta)= A [B, K] (row stride lda) @ op(W), W = W_hh as
 * prepared by steps_prepare. In bf16 (abuf: room for the M rows) the rows of A are rounded to bf16
 * first and the product is an fp32 sgemm: products of bf16 values are exact in fp32 and the sum is
 * fp32, which is what a bf16 matmul with fp32 accumulation computes, without a oneDNN primitive call
 * and two conversions for each of the T two-row steps (3x faster here). */
static void step_mm(float *abuf, int tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *W,
                    int64_t ldb, float beta, float *C, int64_t ldc) {
    if (abuf) {
        for (int64_t r = 0; r < M; r++)
            for (int64_t k = 0; k < K; k++) abuf[r * K + k] = bv_bf16_to_f32_bits(bv_f32_to_bf16(A[r * lda + k]));
        A = abuf, lda = K;
    }
    bv_cpu_sgemm(0, tb, M, N, K, A, lda, W, ldb, beta, C, ldc);
}

/* What one direction's recurrence reads besides its tensors: W_hh for step_mm (itself in fp32, a
 * copy rounded to bf16 values in bf16) and step_mm's row buffer (bf16 only; [B, 4H]). Taken from
 * scratch before the directions run, so that they can run side by side (no arena use inside). */
typedef struct {
    const float *whh;
    float *abuf;
} dir_steps;

static dir_steps steps_prepare(mm16 *h, const float *whh, int64_t B, int64_t H) {
    dir_steps st = {whh, NULL};
    if (!h) return st;
    float *t = bv_arena_alloc(h->scratch, sizeof(float) * (size_t)(4 * H * H));
    bv_cpu_round_bf16_copy(t, whh, 4 * H * H);
    st.whh = t;
    st.abuf = bv_arena_alloc(h->scratch, sizeof(float) * (size_t)(4 * B * H));
    return st;
}

/* The two directions' recurrences are independent chains of T small steps (a [B, H] x [H, 4H] product
 * and the gate loop each): with two threads they run side by side, one thread each with
 * single-threaded products inside (OpenMP does not nest), instead of one after the other with both
 * threads joining every step's tiny product (fp32 ~1.2-3x faster at the DurationDiscriminator's
 * sizes, depending on the OpenMP wait policy). Otherwise no parallel region at all, not even an
 * inactive one: oneDNN runs its products single-threaded inside any region (omp_get_level() > 0). */
static int directions_side_by_side(int D) { return D == 2 && omp_get_max_threads() >= 2; }

/* The body once per direction d: side by side where directions_side_by_side, else in turn. */
#define FOR_EACH_DIRECTION(D, d, ...)                                            \
    do {                                                                         \
        if (directions_side_by_side(D)) {                                        \
            _Pragma("omp parallel for num_threads(2) schedule(static, 1)")       \
            for (int d = 0; d < 2; d++) { __VA_ARGS__; }                         \
        } else {                                                                 \
            for (int d = 0; d < (D); d++) { __VA_ARGS__; }                       \
        }                                                                        \
    } while (0)

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

/* Time index of processing step s (the reverse direction walks T-1 .. 0). */
static inline int64_t step_time(int64_t s, int64_t T, int reverse) { return reverse ? T - 1 - s : s; }

/* One direction's input projection: acts [B*T, 4H] = x [B*T, In] @ W_ih^T + b_ih + b_hh. */
static void lstm_dir_project(mm16 *h16, float *acts, const float *x, const float *wih, const float *bih,
                             const float *bhh, int64_t B, int64_t T, int64_t In, int64_t H) {
    const int64_t G = 4 * H;
    for (int64_t r = 0; r < B * T; r++)
        for (int64_t k = 0; k < G; k++) acts[r * G + k] = bih[k] + bhh[k];
    mm(h16, 0, 1, B * T, G, In, x, In, wih, In, 1.0f, acts, G);
}

/* One direction's recurrence over the projected acts. y [B, T, D*H] gets h_t in columns d*H..;
 * hn, cn [B, H]. */
static void lstm_dir_forward(const dir_steps *st, float *y, float *hn, float *cn, float *acts, float *cells,
                             int64_t B, int64_t T, int64_t H, int D, int d) {
    const int64_t G = 4 * H, ys = T * D * H;
    for (int64_t s = 0; s < T; s++) {
        int64_t t = step_time(s, T, d), tp = step_time(s - 1, T, d);
        if (s > 0) /* acts[:, t] += h_{prev} [B, H] @ W_hh^T (rows strided through y and acts) */
            step_mm(st->abuf, 1, B, G, H, y + tp * D * H + d * H, ys, st->whh, H, 1.0f, acts + t * G, T * G);
#pragma omp parallel for if (B * H > 8192)
        for (int64_t b = 0; b < B; b++) {
            float *a = acts + (b * T + t) * G;
#pragma omp simd
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
static void lstm_dir_backward_gates(const dir_steps *st, float *dG, float *dh, float *dc, const float *acts,
                                    const float *cells, const float *gy, const float *ghn, const float *gcn,
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
#pragma omp simd
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
            step_mm(st->abuf, 0, B, H, G, dG + t * G, T * G, st->whh, H, 0.0f, dh, H);
    }
}

/* Both directions' input projections (threaded products), then their recurrences. In bf16 the caller
 * rewinds the scratch arena (steps_prepare takes from it). */
static void forward_mm(mm16 *h16, float *y, float *hn, float *cn, float *const *acts, float *const *cells,
                       const float *x, const float *const *w, int64_t B, int64_t T, int64_t In, int64_t H, int D) {
    dir_steps st[2];
    for (int d = 0; d < D; d++) {
        lstm_dir_project(h16, acts[d], x, w[4 * d], w[4 * d + 2], w[4 * d + 3], B, T, In, H);
        st[d] = steps_prepare(h16, w[4 * d + 1], B, H);
    }
    FOR_EACH_DIRECTION(D, d,
                       lstm_dir_forward(&st[d], y, hn + d * B * H, cn + d * B * H, acts[d], cells[d], B, T, H, D, d));
}

static void forward(float *y, float *hn, float *cn, float *const *acts, float *const *cells, const float *x,
                    const float *const *w, int64_t B, int64_t T, int64_t In, int64_t H, int D) {
    forward_mm(NULL, y, hn, cn, acts, cells, x, w, B, T, In, H, D);
}

static void backward_mm(mm16 *h16, bv_arena *scratch, float *gx, float *const *gw, const float *const *acts,
                        const float *const *cells, const float *x, const float *y, const float *const *w,
                        const float *gy, const float *ghn, const float *gcn, int64_t B, int64_t T, int64_t In,
                        int64_t H, int D) {
    const int64_t G = 4 * H, BT = B * T;
    bv_arena_mark mk = bv_arena_get_mark(scratch);
    float *dGs = bv_arena_alloc(scratch, sizeof(float) * (size_t)(D * BT * G)); // [D][B, T, 4H]
    float *dhs = bv_arena_alloc(scratch, sizeof(float) * (size_t)(D * B * H));  // [D][B, H]
    float *dcs = bv_arena_alloc(scratch, sizeof(float) * (size_t)(D * B * H));  // [D][B, H]
    float *hprev = bv_arena_alloc(scratch, sizeof(float) * (size_t)(BT * H));   // [B, T, H]
    dir_steps st[2];
    for (int d = 0; d < D; d++) st[d] = steps_prepare(h16, w[4 * d + 1], B, H);
    FOR_EACH_DIRECTION(D, d, lstm_dir_backward_gates(&st[d], dGs + d * BT * G, dhs + d * B * H, dcs + d * B * H,
                                                     acts[d], cells[d], gy, ghn + d * B * H, gcn + d * B * H, B, T,
                                                     H, D, d)); /* as forward_mm's recurrences */
    for (int d = 0; d < D; d++) {
        const float *wih = w[4 * d], *dG = dGs + d * BT * G;
        float *gwih = gw[4 * d], *gwhh = gw[4 * d + 1];
        if (gx) /* dx [BT, In] += dG [BT, 4H] @ W_ih [4H, In] */
            mm(h16, 0, 0, BT, In, G, dG, G, wih, In, 1.0f, gx, In);
        if (gwih) /* dW_ih [4H, In] += dG^T @ x */
            mm(h16, 1, 0, G, In, BT, dG, G, x, In, 1.0f, gwih, In);
        if (gwhh) { /* dW_hh [4H, H] += dG^T @ h_prev, h_prev = 0 at the first step */
            for (int64_t b = 0; b < B; b++)
                for (int64_t s = 0; s < T; s++) {
                    float *dst = hprev + (b * T + step_time(s, T, d)) * H;
                    if (s == 0) memset(dst, 0, sizeof(float) * (size_t)H);
                    else memcpy(dst, y + (b * T + step_time(s - 1, T, d)) * D * H + d * H, sizeof(float) * (size_t)H);
                }
            mm(h16, 1, 0, G, H, BT, dG, G, hprev, H, 1.0f, gwhh, H);
        }
        for (int k = 0; k < 2; k++) {
            float *gbias = gw[4 * d + 2 + k];
            if (!gbias) continue;
            for (int64_t r = 0; r < BT; r++)
                for (int64_t j = 0; j < G; j++) gbias[j] += dG[r * G + j];
        }
    }
    bv_arena_reset_to(scratch, mk);
}

#undef FOR_EACH_DIRECTION

static void backward(bv_arena *scratch, float *gx, float *const *gw, const float *const *acts,
                     const float *const *cells, const float *x, const float *y, const float *const *w,
                     const float *gy, const float *ghn, const float *gcn, int64_t B, int64_t T, int64_t In, int64_t H,
                     int D) {
    backward_mm(NULL, scratch, gx, gw, acts, cells, x, y, w, gy, ghn, gcn, B, T, In, H, D);
}

static int forward_bf16(bv_backend *be, bv_arena *scratch, float *y, float *hn, float *cn, float *const *acts,
                        float *const *cells, const float *x, const float *const *w, int64_t B, int64_t T, int64_t In,
                        int64_t H, int D, char *err) {
    mm16 h = {.be = be, .scratch = scratch, .err = err};
    bv_arena_mark mk = bv_arena_get_mark(scratch);
    forward_mm(&h, y, hn, cn, acts, cells, x, w, B, T, In, H, D);
    bv_arena_reset_to(scratch, mk);
    return h.rc;
}

static int backward_bf16(bv_backend *be, bv_arena *scratch, float *gx, float *const *gw, const float *const *acts,
                         const float *const *cells, const float *x, const float *y, const float *const *w,
                         const float *gy, const float *ghn, const float *gcn, int64_t B, int64_t T, int64_t In,
                         int64_t H, int D, char *err) {
    mm16 h = {.be = be, .scratch = scratch, .err = err};
    backward_mm(&h, scratch, gx, gw, acts, cells, x, y, w, gy, ghn, gcn, B, T, In, H, D);
    return h.rc;
}

const bv_lstm_kernels bv_cpu_lstm = {
    .forward = forward, .backward = backward, .forward_bf16 = forward_bf16, .backward_bf16 = backward_bf16};
