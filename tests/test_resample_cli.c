/* test_resample_cli.c - `bv2 resample` (src/cli/resample.c over src/app/preprocess.c): a 16 kHz
 * sine brought to 22050 Hz keeps its frequency (zero crossings) and gets librosa's length; stereo is
 * averaged; the rate can come from a config.json; bad inputs give errors naming the file and a
 * non-zero exit while the good files are still written. Runs the bv2 built beside the test binary. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/app/preprocess.h"
#include "../src/io/wav.h"
#include "fixtures.h"
#include "test.h"

/* A sine of `hz` at `sr`, amplitude 0.5, n frames, `ch` identical channels. */
static int write_sine(const char *path, int sr, int64_t n, double hz, int ch) {
    float *x = malloc(sizeof(float) * (size_t)(n * ch));
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < ch; c++) x[i * ch + c] = (float)(0.5 * sin(2 * M_PI * hz * (double)i / sr));
    char err[512];
    int rc = bv_wav_write(path, x, n, ch, sr, err, sizeof err);
    free(x);
    return rc;
}

/* Frequency from upward zero crossings over the middle 80% (edges carry the filter's ramp). */
static double zero_cross_hz(const float *x, int64_t n, int sr) {
    int64_t a = n / 10, b = n - n / 10, first = -1, last = -1, count = 0;
    for (int64_t i = a + 1; i < b; i++)
        if (x[i - 1] < 0 && x[i] >= 0) {
            if (first < 0) first = i;
            else count++;
            last = i;
        }
    return count > 0 ? (double)count * sr / (double)(last - first) : 0;
}

static int bv2_built(bv_test_state *ts) {
    int ok = access(bv_test_bv2_path, X_OK) == 0;
    BV_CHECK(ok, "%s is not built", bv_test_bv2_path);
    return ok;
}

BV_TEST(resample_lib_lengths) {
    BV_CHECK(bv_prep_resampled_len(16000, 16000, 22050) == 22050, "1 s");
    BV_CHECK(bv_prep_resampled_len(45200, 16000, 22050) == 62292, "ceil(62291.25)");
    BV_CHECK(bv_prep_resampled_len(3, 44100, 22050) == 2, "ceil(1.5)");
    float x[5] = {0.1f, -0.2f, 0.3f, 0, 1}, *y;
    int64_t ny;
    char err[256];
    BV_CHECK(bv_prep_resample(x, 5, 22050, 22050, &y, &ny, err, sizeof err) == 0 && ny == 5 && !memcmp(x, y, sizeof x),
             "equal rates copy");
    free(y);
    BV_CHECK(bv_prep_resample(x, 5, 0, 22050, &y, &ny, err, sizeof err) == -1 && strstr(err, "positive"), "%s", err);
    BV_CHECK(bv_prep_is_audio_name("a.WAV") && bv_prep_is_audio_name("b.flac") && !bv_prep_is_audio_name("c.txt") &&
                 !bv_prep_is_audio_name("wav"),
             "audio names");
}

BV_TEST(resample_cli_sine_16k_to_22k) {
    if (!bv2_built(ts)) return;
    char dir[] = "/tmp/bv_rs_XXXXXX", in[128], out[128], path[256], err[512];
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    mkdir(in, 0777);
    snprintf(path, sizeof path, "%s/spk", in);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/spk/sine.wav", in);
    BV_CHECK(write_sine(path, 16000, 16000, 440.0, 1) == 0, "write sine");
    snprintf(path, sizeof path, "%s/stereo.wav", in);
    BV_CHECK(write_sine(path, 16000, 8000, 1000.0, 2) == 0, "write stereo");
    snprintf(path, sizeof path, "%s/notes.txt", in);
    bv_test_write_text(path, "not audio\n");
    char *text;
    int code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", out, "--sr", "22050", "--progress", "none",
                                             NULL}, &text);
    BV_CHECK(code == 0, "exit %d: %s", code, text);
    BV_CHECK(strstr(text, "2 of 2 files") && strstr(text, "1 non-audio"), "summary: %s", text);
    free(text);

    float *y;
    bv_wav_info info;
    snprintf(path, sizeof path, "%s/spk/sine.wav", out);   /* sub-folder kept */
    if (bv_wav_read(path, &y, &info, err, sizeof err) == 0) {
        BV_CHECK(info.sample_rate == 22050 && info.channels == 1 && info.encoding == BV_WAV_PCM_16, "%d Hz %d ch %s",
                 info.sample_rate, info.channels, bv_wav_encoding_name(info.encoding));
        BV_CHECK(info.frames == 22050, "length %lld, want ceil(16000 * 22050 / 16000)", (long long)info.frames);
        double hz = zero_cross_hz(y, info.frames, 22050);
        BV_CHECK(fabs(hz - 440.0) < 0.5, "frequency %.3f Hz, want 440", hz);
        double ss = 0;
        for (int64_t i = info.frames / 10; i < info.frames - info.frames / 10; i++) ss += (double)y[i] * y[i];
        double rms = sqrt(ss / (double)(info.frames - 2 * (info.frames / 10)));
        BV_CHECK(fabs(rms - 0.5 / sqrt(2.0)) < 0.005, "rms %.4f, want %.4f", rms, 0.5 / sqrt(2.0));
        free(y);
    } else {
        BV_CHECK(0, "%s", err);
    }
    snprintf(path, sizeof path, "%s/stereo.wav", out);
    if (bv_wav_read(path, &y, &info, err, sizeof err) == 0) {
        BV_CHECK(info.channels == 1 && info.frames == 11025, "stereo -> %d ch, %lld frames", info.channels,
                 (long long)info.frames);
        double hz = zero_cross_hz(y, info.frames, 22050);
        BV_CHECK(fabs(hz - 1000.0) < 1.0, "stereo frequency %.3f Hz", hz);
        free(y);
    } else {
        BV_CHECK(0, "%s", err);
    }
    snprintf(path, sizeof path, "%s/notes.wav", out);
    BV_CHECK(access(path, F_OK) != 0, "a text file was converted");

    /* the rate from a config.json; --skip-existing leaves up-to-date outputs alone */
    snprintf(path, sizeof path, "%s/config.json", dir);
    bv_test_write_text(path, "{\"data\": {\"sampling_rate\": 24000}}");
    char out2[160];
    snprintf(out2, sizeof out2, "%s/out24", dir);
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in_dir", in, "--out_dir", out2, "-c", path, "--progress",
                                         "none", NULL}, &text);
    BV_CHECK(code == 0, "exit %d: %s", code, text);
    free(text);
    snprintf(path, sizeof path, "%s/spk/sine.wav", out2);
    if (bv_wav_read(path, &y, &info, err, sizeof err) == 0) {
        BV_CHECK(info.sample_rate == 24000 && info.frames == 24000, "%d Hz, %lld frames", info.sample_rate,
                 (long long)info.frames);
        free(y);
    } else {
        BV_CHECK(0, "%s", err);
    }
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", out2, "--sr", "24000", "--skip-existing",
                                         "--progress", "none", NULL}, &text);
    BV_CHECK(code == 0 && strstr(text, "0 of 2 files") && strstr(text, "2 up to date"), "exit %d: %s", code, text);
    free(text);
    bv_test_rm_rf(dir);
}

BV_TEST(resample_cli_errors) {
    if (!bv2_built(ts)) return;
    char dir[] = "/tmp/bv_rs_XXXXXX", in[128], out[128], path[256];
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    mkdir(in, 0777);
    char *text;

    /* an empty folder */
    int code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", out, "--sr", "22050", NULL}, &text);
    BV_CHECK(code == 3 && strstr(text, "no audio files") && strstr(text, in), "exit %d: %s", code, text);
    free(text);

    /* a corrupt file is named; the good one is still written */
    snprintf(path, sizeof path, "%s/good.wav", in);
    write_sine(path, 16000, 4000, 300.0, 1);
    snprintf(path, sizeof path, "%s/broken.wav", in);
    bv_test_write_text(path, "RIFF....WAVEjunk that is no audio");
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", out, "--sr", "22050", "--progress", "none",
                                         NULL}, &text);
    BV_CHECK(code == 3 && strstr(text, "broken.wav") && strstr(text, "1 file failed"), "exit %d: %s", code, text);
    free(text);
    snprintf(path, sizeof path, "%s/good.wav", out);
    BV_CHECK(access(path, F_OK) == 0, "the good file was not written");

    /* a 1 Hz file at 768 kHz would be 4.6e9 samples: refused by name, the batch goes on (finding 4) */
    remove(path);
    snprintf(path, sizeof path, "%s/broken.wav", in);
    write_sine(path, 1, 6000, 0.1, 1);
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", out, "--sr", "768000", "--progress", "none",
                                         NULL}, &text);
    BV_CHECK(code == 3 && strstr(text, "broken.wav") && strstr(text, "more than a 16-bit WAV holds") &&
                 strstr(text, "1 file failed"), "1 Hz file: exit %d: %s", code, text);
    free(text);
    snprintf(path, sizeof path, "%s/good.wav", out);
    BV_CHECK(access(path, F_OK) == 0, "the good file was not written beside the refused one");
    /* ... and one that would not fit in memory */
    snprintf(path, sizeof path, "%s/broken.wav", in);
    write_sine(path, 1, 600, 0.1, 1);
    setenv("BV_MEM_LIMIT_MB", "64", 1);
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", out, "--sr", "768000", "--progress", "none",
                                         NULL}, &text);
    unsetenv("BV_MEM_LIMIT_MB");
    BV_CHECK(code == 3 && strstr(text, "broken.wav") && strstr(text, "is available"), "memory: exit %d: %s", code, text);
    free(text);
    snprintf(path, sizeof path, "%s/broken.wav", in);
    remove(path);
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", out, "--sr", "10000000", NULL}, &text);
    BV_CHECK(code == 2 && strstr(text, "768000"), "--sr 1e7: exit %d: %s", code, text);
    free(text);

    /* a.wav and a.flac would collide */
    snprintf(path, sizeof path, "%s/good.flac", in);
    bv_test_write_text(path, "x");
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", out, "--sr", "22050", NULL}, &text);
    BV_CHECK(code == 3 && strstr(text, "good.flac") && strstr(text, "both be written"), "exit %d: %s", code, text);
    free(text);
    remove(path);

    /* command-line mistakes */
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", out, NULL}, &text);
    BV_CHECK(code == 2 && strstr(text, "--sr"), "no rate: exit %d: %s", code, text);
    free(text);
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", in, "--sr", "22050", NULL}, &text);
    BV_CHECK(code == 2 && strstr(text, "overwritten"), "out == in: exit %d: %s", code, text);
    free(text);
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", out, "--sr", "fast", NULL}, &text);
    BV_CHECK(code == 2 && strstr(text, "'fast'"), "bad rate: exit %d: %s", code, text);
    free(text);
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", "/nonexistent/bv_audio", "--out", out, "--sr", "8000",
                                         NULL}, &text);
    BV_CHECK(code == 3 && strstr(text, "/nonexistent/bv_audio"), "missing folder: exit %d: %s", code, text);
    free(text);
    snprintf(path, sizeof path, "%s/config.json", dir);
    bv_test_write_text(path, "{\"data\": {\"hop_length\": 256}}");
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", out, "-c", path, NULL}, &text);
    BV_CHECK(code == 3 && strstr(text, "data.sampling_rate") && strstr(text, path), "config: exit %d: %s", code, text);
    free(text);
    bv_test_write_text(path, "{\"data\": {\"sampling_rate\": 4294989346}}"); /* once wrapped to 22050 */
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--in", in, "--out", out, "-c", path, NULL}, &text);
    BV_CHECK(code == 3 && strstr(text, "data.sampling_rate") && strstr(text, "768000"), "rate 2^32+22050: exit %d: %s",
             code, text);
    free(text);
    code = bv_test_run_bv2(NULL, (const char *const[]){"resample", "--help", NULL}, &text);
    BV_CHECK(code == 0 && strstr(text, "soxr"), "help: exit %d", code);
    free(text);
    bv_test_rm_rf(dir);
}
