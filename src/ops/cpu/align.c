/* cpu/align.c - CPU kernels of the exact alignment helpers (constructors: ../align.c): the
 * monotonic alignment search, generate_path, sequence_mask and the starts of rand_slice_segments.
 * They must match upstream bit for bit (alignments are compared exactly), so each one follows the
 * upstream arithmetic, including its float32/float64 mix. */
#include <math.h>
#include <string.h>

#include "../kernels.h"

/* ---------------- monotonic_align.maximum_path ---------------- */

/* numba's negative indices wrap around (value[y - 1] at y == 0 reads the last row). */
static inline int64_t wrap(int64_t i, int64_t n) { return i < 0 ? i + n : i; }

/* One batch item of maximum_path_jit, in place on value [Ty, Tx]. The locals are float64 in numba
 * (v_prev = v_cur = 0.0), so each update is float32 + float64 rounded back to float32. */
static void mas_one(float *path, float *value, int64_t Ty, int64_t Tx, int64_t t_y, int64_t t_x) {
    const double max_neg_val = -1e9;
    for (int64_t y = 0; y < t_y; y++) {
        int64_t x0 = t_x + y - t_y > 0 ? t_x + y - t_y : 0, x1 = t_x < y + 1 ? t_x : y + 1;
        for (int64_t x = x0; x < x1; x++) {
            double v_cur = x == y ? max_neg_val : (double)value[(y - 1) * Tx + x];
            double v_prev = x == 0 ? (y == 0 ? 0.0 : max_neg_val) : (double)value[(y - 1) * Tx + x - 1];
            double m = v_cur > v_prev ? v_cur : v_prev; /* python max(v_prev, v_cur) */
            value[y * Tx + x] = (float)((double)value[y * Tx + x] + m);
        }
    }
    int64_t index = t_x - 1;
    for (int64_t y = t_y - 1; y >= 0; y--) {
        path[y * Tx + index] = 1.0f;
        const float *prev = value + wrap(y - 1, Ty) * Tx;
        if (index != 0 && (index == y || prev[index] < prev[index - 1])) index--;
    }
}

static void mas_lengths(int64_t *ty, int64_t *tx, const float *mask, int64_t B, int64_t Ty, int64_t Tx) {
    for (int64_t b = 0; b < B; b++) {
        /* t_t_max = mask.sum(1)[:, 0], t_s_max = mask.sum(2)[:, 0], float sums cast to int32 */
        const float *m = mask + b * Ty * Tx;
        float sy = 0, sx = 0;
        for (int64_t y = 0; y < Ty; y++) sy += m[y * Tx];
        for (int64_t x = 0; x < Tx; x++) sx += m[x];
        ty[b] = (int32_t)sy;
        tx[b] = (int32_t)sx;
    }
}

static void maximum_path(float *path, float *value, const float *neg_cent, const int64_t *ty, const int64_t *tx,
                         int64_t B, int64_t Ty, int64_t Tx) {
    const int64_t numel = B * Ty * Tx;
    memcpy(value, neg_cent, sizeof(float) * (size_t)numel);
#pragma omp parallel for schedule(dynamic) if (B > 1 && numel >= 4096)
    for (int64_t b = 0; b < B; b++) mas_one(path + b * Ty * Tx, value + b * Ty * Tx, Ty, Tx, ty[b], tx[b]);
}

/* ---------------- commons.generate_path ---------------- */

static void generate_path(float *path, float *cum, const float *duration, const float *mask, int64_t B, int64_t Ty,
                          int64_t Tx) {
    for (int64_t b = 0; b < B; b++) {
        double acc = 0; /* torch's CPU cumsum accumulates float in double */
        for (int64_t x = 0; x < Tx; x++) {
            acc += duration[b * Tx + x];
            cum[b * Tx + x] = (float)acc;
        }
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t y = 0; y < Ty; y++)
            for (int64_t x = 0; x < Tx; x++) {
                /* sequence_mask(cum, t_y) compares arange(t_y) in the float dtype of cum */
                float cur = (float)y < cum[b * Tx + x] ? 1.0f : 0.0f;
                float prev = x > 0 && (float)y < cum[b * Tx + x - 1] ? 1.0f : 0.0f;
                int64_t i = (b * Ty + y) * Tx + x;
                path[i] = (cur - prev) * mask[i];
            }
}

/* ---------------- commons.sequence_mask ---------------- */

static int64_t max_length(const int64_t *idata, const float *fdata, int64_t B) {
    int64_t max = 0; /* upstream None: length.max() (arange of a float max rounds up) */
    for (int64_t b = 0; b < B; b++) {
        int64_t l = idata ? idata[b] : (int64_t)ceilf(fdata[b]);
        if (l > max) max = l;
    }
    return max;
}

static void sequence_mask(int64_t *m, const int64_t *idata, const float *fdata, int64_t B, int64_t L) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < L; t++) m[b * L + t] = idata ? t < idata[b] : (float)t < fdata[b];
}

/* ---------------- commons.rand_slice_segments ---------------- */

static void slice_starts(int64_t *ids, const float *r, const int64_t *lengths, int64_t B, int64_t T, int64_t seg) {
    for (int64_t b = 0; b < B; b++) {
        int64_t len = lengths ? lengths[b] : T;
        int64_t hi = len - seg + 1 > 0 ? len - seg + 1 : 0;
        /* float tensor * long tensor is computed in float32, then .long() truncates */
        ids[b] = (int64_t)(r[b] * (float)hi);
    }
}

const bv_align_kernels bv_cpu_align = {
    .mas_lengths = mas_lengths,
    .maximum_path = maximum_path,
    .generate_path = generate_path,
    .max_length = max_length,
    .sequence_mask = sequence_mask,
    .slice_starts = slice_starts,
};
