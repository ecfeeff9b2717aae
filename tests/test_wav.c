/* test_wav.c - audio files (src/io/wav.c).
 *
 * Our 16-bit WAV (file and memory bytes identical, header fields as the RIFF spec says) read back
 * through libsndfile sample-exact (mono and stereo, clipping, NaN as silence); a float WAV written
 * by libsndfile read unchanged; missing, garbage and truncated files and bad arguments give
 * errors naming the file.
 */
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/io/wav.h"
#include "test.h"

static uint32_t le32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t le16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }

/* the int16 our writer stores for x */
static int expected_pcm(float x) {
    if (isnan(x)) return 0;
    x = x > 1 ? 1 : x < -1 ? -1 : x;
    return (int)lrintf(x * 32767.0f);
}

static void fill(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = 0.9f * sinf(0.05f * (float)i) * cosf(0.0031f * (float)i);
}

BV_TEST(wav_write_read_roundtrip_libsndfile) {
    char dir[] = "/tmp/bv_wav_XXXXXX", path[600], err[512];
    BV_CHECK(mkdtemp(dir), "mkdtemp");
    for (int channels = 1; channels <= 2; channels++) {
        enum { FRAMES = 3001 };
        float x[FRAMES * 2];
        fill(x, FRAMES * channels);
        x[5] = 1.5f;
        x[6] = -7.0f;
        x[7] = NAN;
        x[8] = 1.0f;
        x[9] = -1.0f;
        snprintf(path, sizeof path, "%s/rt%d.wav", dir, channels);
        BV_CHECK(bv_wav_write(path, x, FRAMES, channels, 22050, err, sizeof err) == 0, "write: %s", err);
        BV_CHECK(access(path, F_OK) == 0, "%s written", path);
        char tmp[700];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        BV_CHECK(access(tmp, F_OK) != 0, "temporary file renamed away");

        float *y = NULL;
        bv_wav_info info;
        BV_CHECK(bv_wav_read(path, &y, &info, err, sizeof err) == 0, "read: %s", err);
        if (!y) continue;
        BV_CHECK(info.sample_rate == 22050 && info.channels == channels && info.frames == FRAMES &&
                     info.encoding == BV_WAV_PCM_16,
                 "info: %d Hz, %d ch, %lld frames, %s", info.sample_rate, info.channels, (long long)info.frames,
                 bv_wav_encoding_name(info.encoding));
        int bad = 0;
        for (int64_t i = 0; i < (int64_t)FRAMES * channels; i++) {
            /* libsndfile normalises 16-bit PCM by 1/32768, exactly like upstream's / max_wav_value */
            float want = (float)expected_pcm(x[i]) / 32768.0f;
            if (y[i] != want && bad++ < 3) BV_CHECK(0, "sample %lld: read %.9g, want %.9g", (long long)i, y[i], want);
        }
        BV_CHECK(bad == 0, "%d samples differ (%d channels)", bad, channels);
        free(y);
        unlink(path);
    }
    rmdir(dir);
}

BV_TEST(wav_encode_header_and_memory_read) {
    float x[6] = {0, 0.25f, -0.25f, 1, -1, 0.1f};
    uint8_t *b = NULL;
    size_t n = 0;
    char err[512];
    BV_CHECK(bv_wav_encode(x, 3, 2, 16000, &b, &n, err, sizeof err) == 0, "encode: %s", err);
    if (!b) return;
    BV_CHECK(n == 44 + 12, "size %zu", n);
    BV_CHECK(!memcmp(b, "RIFF", 4) && le32(b + 4) == n - 8 && !memcmp(b + 8, "WAVEfmt ", 8), "RIFF header");
    BV_CHECK(le32(b + 16) == 16 && le16(b + 20) == 1 && le16(b + 22) == 2 && le32(b + 24) == 16000 &&
                 le32(b + 28) == 16000 * 4 && le16(b + 32) == 4 && le16(b + 34) == 16,
             "fmt chunk");
    BV_CHECK(!memcmp(b + 36, "data", 4) && le32(b + 40) == 12, "data chunk");
    BV_CHECK((int16_t)le16(b + 44 + 2) == 8192 && (int16_t)le16(b + 44 + 8) == -32767, "samples");

    float *y = NULL;
    bv_wav_info info;
    BV_CHECK(bv_wav_read_mem(b, n, "mem.wav", &y, &info, err, sizeof err) == 0, "read_mem: %s", err);
    BV_CHECK(y && info.frames == 3 && info.channels == 2 && info.sample_rate == 16000, "mem info");
    if (y) BV_CHECK(y[1] == 8192.0f / 32768 && y[3] == 32767.0f / 32768, "mem samples");
    free(y);

    /* the file holds exactly the memory bytes */
    char dir[] = "/tmp/bv_wav_XXXXXX", path[600];
    BV_CHECK(mkdtemp(dir), "mkdtemp");
    snprintf(path, sizeof path, "%s/m.wav", dir);
    BV_CHECK(bv_wav_write(path, x, 3, 2, 16000, err, sizeof err) == 0, "write: %s", err);
    FILE *f = fopen(path, "rb");
    uint8_t fb[128];
    size_t got = f ? fread(fb, 1, sizeof fb, f) : 0;
    if (f) fclose(f);
    BV_CHECK(got == n && !memcmp(fb, b, n), "file bytes equal memory bytes (%zu vs %zu)", got, n);
    unlink(path);
    rmdir(dir);
    free(b);

    /* garbage in memory: an error with the buffer's name */
    y = NULL;
    BV_CHECK(bv_wav_read_mem("not audio at all", 16, "junk-buffer", &y, &info, err, sizeof err) == -1 &&
                 strstr(err, "junk-buffer") && y == NULL,
             "junk: %s", err);
}

BV_TEST(wav_reads_float_files_unchanged) {
    char dir[] = "/tmp/bv_wav_XXXXXX", path[600], err[512];
    BV_CHECK(mkdtemp(dir), "mkdtemp");
    snprintf(path, sizeof path, "%s/f.wav", dir);
    SF_INFO si = {.samplerate = 44100, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &si);
    BV_CHECK(sf != NULL, "sf_open: %s", sf_strerror(NULL));
    if (!sf) return;
    float x[100];
    fill(x, 100);
    x[3] = 1.75f; /* floats are not clipped or rescaled by the reader */
    BV_CHECK(sf_writef_float(sf, x, 100) == 100, "sf_writef_float");
    sf_close(sf);
    float *y = NULL;
    bv_wav_info info;
    BV_CHECK(bv_wav_read(path, &y, &info, err, sizeof err) == 0, "read: %s", err);
    BV_CHECK(y && info.encoding == BV_WAV_FLOAT && info.frames == 100 && info.sample_rate == 44100, "info %s",
             bv_wav_encoding_name(info.encoding));
    if (y) BV_CHECK(!memcmp(x, y, sizeof x), "float samples unchanged");
    free(y);
    /* NaN in a float WAV: named by file and sample at load, not a non-finite loss at step 1 */
    sf = sf_open(path, SFM_WRITE, &si);
    x[41] = NAN;
    if (sf) sf_writef_float(sf, x, 100), sf_close(sf);
    y = NULL;
    BV_CHECK(bv_wav_read(path, &y, &info, err, sizeof err) == -1 && strstr(err, path) && strstr(err, "sample 41") &&
                 strstr(err, "NaN") && y == NULL, "NaN accepted: %s", err);
    unlink(path);
    rmdir(dir);
}

BV_TEST(wav_errors_name_the_file) {
    char dir[] = "/tmp/bv_wav_XXXXXX", path[600], err[512];
    BV_CHECK(mkdtemp(dir), "mkdtemp");
    float *y = (float *)1;
    bv_wav_info info;

    snprintf(path, sizeof path, "%s/missing.wav", dir);
    BV_CHECK(bv_wav_read(path, &y, &info, err, sizeof err) == -1 && strstr(err, path) && y == NULL, "missing: %s", err);

    snprintf(path, sizeof path, "%s/garbage.wav", dir);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs("this is a text file, not audio\n", f);
        fclose(f);
    }
    BV_CHECK(bv_wav_read(path, &y, &info, err, sizeof err) == -1 && strstr(err, path), "garbage: %s", err);

    /* a WAV cut inside its header */
    float x[64] = {0};
    uint8_t *b;
    size_t n;
    BV_CHECK(bv_wav_encode(x, 64, 1, 8000, &b, &n, err, sizeof err) == 0, "encode");
    snprintf(path, sizeof path, "%s/cut.wav", dir);
    f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, 30, f);
        fclose(f);
    }
    free(b);
    BV_CHECK(bv_wav_read(path, &y, &info, err, sizeof err) == -1 && strstr(err, path), "cut header: %s", err);

    /* sample rate 0 / 0 channels in the fmt chunk: said plainly, not as "SF_INFO struct incomplete" */
    BV_CHECK(bv_wav_encode(x, 64, 1, 8000, &b, &n, err, sizeof err) == 0, "encode");
    snprintf(path, sizeof path, "%s/rate0.wav", dir);
    memset(b + 24, 0, 4);
    f = fopen(path, "wb");
    if (f) fwrite(b, 1, n, f), fclose(f);
    BV_CHECK(bv_wav_read(path, &y, &info, err, sizeof err) == -1 && strstr(err, path) && strstr(err, "sample rate 0"),
             "rate 0: %s", err);
    free(b);

    /* writing into a folder that does not exist */
    snprintf(path, sizeof path, "%s/no/such/dir/out.wav", dir);
    BV_CHECK(bv_wav_write(path, x, 64, 1, 8000, err, sizeof err) == -1 && strstr(err, "out.wav.tmp") && strstr(err, "No such file"),
             "unwritable: %s", err);
    BV_CHECK(bv_wav_encode(x, 64, 0, 8000, &b, &n, err, sizeof err) == -1 && strstr(err, "0 channels"),
             "0 channels: %s", err);
    BV_CHECK(bv_wav_encode(x, -1, 1, 8000, &b, &n, err, sizeof err) == -1, "negative frames");

    char cmd[700];
    snprintf(cmd, sizeof cmd, "%s/garbage.wav", dir);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/cut.wav", dir);
    unlink(cmd);
    rmdir(dir);
}
