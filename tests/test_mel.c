/* test_mel.c - mel filterbank and Hann window against their definitions and golden C01/C02;
 * spec_to_mel and mel_spectrogram: gradients, shape errors, golden C04/C05 (mel and d mel / d y). */
#include <stdlib.h>
#include <string.h>

#include "../src/audio/mel.h"
#include "golden.h"

/* Optional float config ("fmax": null means sr/2 upstream): NAN when absent or null. */
static double cfg_num_or_nan(bv_golden *g, const char *key) {
    const cJSON *cfg = bv_golden_config(g);
    const cJSON *v = cfg ? cJSON_GetObjectItem(cfg, key) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double slaney_mel(double f) { return f < 1000 ? f * 3 / 200 : 15 + log(f / 1000) / (log(6.4) / 27); }

/* Every filter is a triangle over the slaney mel grid: zero outside its two neighbours' centre
 * frequencies, peaks near its own, and is area-normalised (2 / bandwidth in Hz). */
BV_TEST(mel_filterbank_shape_properties) {
    const int sr = 16000, n_fft = 64, n_mels = 10, nf = n_fft / 2 + 1;
    float *w = bv_mel_filterbank(sr, n_fft, n_mels, 0.0, NAN);
    float *w2 = bv_mel_filterbank(sr, n_fft, n_mels, 0.0, 8000.0);
    BV_CHECK(w && w2 && !memcmp(w, w2, sizeof(float) * n_mels * nf), "fmax NAN must mean sr/2");
    const double mmax = slaney_mel(sr / 2.0);
    for (int i = 0; w && i < n_mels; i++) {
        double lo_m = mmax * i / (n_mels + 1), hi_m = mmax * (i + 2) / (n_mels + 1), peak = 0;
        for (int k = 0; k < nf; k++) {
            double f = (double)k * sr / n_fft, m = slaney_mel(f), v = w[i * nf + k];
            if (m <= lo_m - 1e-9 || m >= hi_m + 1e-9) BV_CHECK(v == 0, "filter %d bin %d outside its band: %g", i, k, v);
            if (v < 0) BV_CHECK(0, "negative weight");
            if (v > peak) peak = v;
        }
        BV_CHECK(peak > 0, "filter %d is empty", i);
    }
    float *w3 = bv_mel_filterbank(sr, n_fft, n_mels, 300.0, 4000.0);
    for (int k = 0; w3 && k < nf; k++) {
        double f = (double)k * sr / n_fft;
        if (f < 300 || f > 4000)
            for (int i = 0; i < n_mels; i++) BV_CHECK(w3[i * nf + k] == 0, "bin %d (%g Hz) outside [fmin, fmax]", k, f);
    }
    BV_CHECK(bv_mel_filterbank(0, n_fft, n_mels, 0, NAN) == NULL, "sr 0 must be refused");
    free(w);
    free(w2);
    free(w3);
}

BV_TEST(mel_hann_window_periodic) {
    const int win = 20;
    float *w = bv_hann_window(win);
    double worst = 0;
    for (int i = 0; i < win; i++) worst = fmax(worst, fabs(w[i] - (0.5 - 0.5 * cos(2 * M_PI * i / win))));
    BV_CHECK(worst < 2e-7 && w[0] == 0 && w[win / 2] == 1, "periodic hann off by %g", worst);
    free(w);
}

typedef struct {
    bv_tensor *basis;
    int n_fft, n_mels, sr, hop, win;
} mel_args;

static bv_tensor *spec_to_mel_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    return bv_spec_to_mel(ctx, in[0], ((mel_args *)user)->basis);
}

static bv_tensor *mel_spec_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    const mel_args *a = user;
    return bv_mel_spectrogram(ctx, in[0], a->n_fft, a->n_mels, a->sr, a->hop, a->win, 0.0, NAN);
}

BV_TEST(mel_spec_to_mel_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    mel_args a = {0};
    float *w = bv_mel_filterbank(16000, 16, 4, 0.0, NAN);
    a.basis = bv_from_f32(ctx, BV_SHAPE(4, 9), w);
    free(w);
    bv_tensor *spec = bv_test_input(ctx, BV_SHAPE(2, 9, 5), 1.0f);
    for (int64_t i = 0; i < spec->numel; i++) spec->data[i] = fabsf(spec->data[i]) + 0.1f; /* a magnitude */
    bv_gradcheck(ts, "spec_to_mel", spec_to_mel_fn, 1, &spec, &a, 1e-3, 1e-3, 1e-2, 90);
}

BV_TEST(mel_spectrogram_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    mel_args a = {NULL, 16, 4, 16000, 4, 16};
    bv_tensor *y = bv_test_input(ctx, BV_SHAPE(2, 30), 0.5f);
    bv_gradcheck(ts, "mel_spectrogram", mel_spec_fn, 1, &y, &a, 1e-3, 1e-3, 1e-2, 60);
}

BV_TEST(mel_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    char msg[512];
    bv_tensor *spec = bv_zeros(ctx, BV_F32, BV_SHAPE(1, 9, 5)), *basis = bv_zeros(ctx, BV_F32, BV_SHAPE(4, 8));
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_spec_to_mel(ctx, spec, basis));
    BV_CHECK(raised && strstr(msg, "spec_to_mel") && strstr(msg, "[1, 9, 5]") && strstr(msg, "[4, 8]"), "%s", msg);
    bv_tensor *spec2 = bv_zeros(ctx, BV_F32, BV_SHAPE(9, 5));
    bv_tensor *basis2 = bv_zeros(ctx, BV_F32, BV_SHAPE(4, 9));
    raised = BV_EXPECT_ERROR(ctx, msg, bv_spec_to_mel(ctx, spec2, basis2));
    BV_CHECK(raised && strstr(msg, "spec_to_mel") && strstr(msg, "[9, 5]") && strstr(msg, "[4, 9]"), "%s", msg);
    bv_tensor *y = bv_zeros(ctx, BV_F32, BV_SHAPE(1, 2, 30));
    raised = BV_EXPECT_ERROR(ctx, msg, bv_mel_spectrogram(ctx, y, 16, 4, 16000, 4, 16, 0.0, NAN));
    BV_CHECK(raised && strstr(msg, "[1, 2, 30]"), "%s", msg);
}

BV_GOLDEN_TEST(C01_mel_basis) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "C01_mel_basis");
    if (!g) return;
    int sr = (int)bv_golden_cfg_int(g, "sr"), n_fft = (int)bv_golden_cfg_int(g, "n_fft");
    int n_mels = (int)bv_golden_cfg_int(g, "n_mels");
    BV_CHECK(bv_golden_cfg_int_or(g, "htk", 0) == 0, "only htk=False is implemented");
    float *w = bv_mel_filterbank(sr, n_fft, n_mels, bv_golden_cfg_num(g, "fmin"), cfg_num_or_nan(g, "fmax"));
    BV_CHECK(w != NULL, "no filterbank");
    if (w) bv_golden_output(g, "mel_basis", bv_from_f32(ctx, BV_SHAPE(n_mels, n_fft / 2 + 1), w));
    free(w);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(C02_hann_window) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "C02_hann_window");
    if (!g) return;
    int win = (int)bv_golden_cfg_int(g, "win_length");
    BV_CHECK(bv_golden_cfg_int_or(g, "periodic", 1) == 1, "only the periodic window is implemented");
    float *w = bv_hann_window(win);
    BV_CHECK(w != NULL, "no window");
    if (w) bv_golden_output(g, "window", bv_from_f32(ctx, BV_SHAPE(win), w));
    free(w);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(C04_spec_to_mel_torch) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "C04_spec_to_mel_torch");
    if (!g) return;
    int n_fft = (int)bv_golden_cfg_int(g, "n_fft"), n_mels = (int)bv_golden_cfg_int(g, "num_mels");
    int sr = (int)bv_golden_cfg_int(g, "sampling_rate");
    float *w = bv_mel_filterbank(sr, n_fft, n_mels, bv_golden_cfg_num(g, "fmin"), cfg_num_or_nan(g, "fmax"));
    BV_CHECK(w != NULL, "no filterbank");
    if (w) {
        bv_tensor *basis = bv_from_f32(ctx, BV_SHAPE(n_mels, n_fft / 2 + 1), w); // [num_mels, n_fft/2+1]
        bv_tensor *spec = bv_golden_input(g, "in.spec");                         // [B, n_fft/2+1, T]
        bv_golden_output(g, "mel", bv_spec_to_mel(ctx, spec, basis));
        bv_golden_backward(g);
        bv_golden_check_grads(g, NULL, "param.");
    }
    free(w);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(C05_mel_spectrogram_torch) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "C05_mel_spectrogram_torch");
    if (!g) return;
    int n_fft = (int)bv_golden_cfg_int(g, "n_fft"), n_mels = (int)bv_golden_cfg_int(g, "num_mels");
    int sr = (int)bv_golden_cfg_int(g, "sampling_rate"), hop = (int)bv_golden_cfg_int(g, "hop_size");
    int win = (int)bv_golden_cfg_int(g, "win_size");
    BV_CHECK(bv_golden_cfg_int_or(g, "center", 0) == 0, "only center=False is implemented");
    bv_tensor *y = bv_golden_input(g, "in.y"); // [B, T]
    bv_tensor *mel = bv_mel_spectrogram(ctx, y, n_fft, n_mels, sr, hop, win, bv_golden_cfg_num(g, "fmin"),
                                        cfg_num_or_nan(g, "fmax"));
    bv_golden_output(g, "mel", mel);
    bv_golden_backward(g);
    bv_golden_check_grads(g, NULL, "param.");
    bv_golden_close(g);
}
