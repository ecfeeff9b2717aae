/* test_tensorboard.c - TensorBoard event files (src/io/tensorboard.c) and the PNG images they carry
 * (src/io/png_image.c).
 *
 * CRC32C and its mask against published vectors and TensorBoard's own masked_crc32c; an event
 * file written with scalars, images and audio is parsed back record by record (length, both
 * CRCs, then every protobuf field of every Event decoded and compared with what was written,
 * the PNGs decoded by libpng, the WAV by libsndfile); bad input and unwritable folders give
 * errors naming the path. PNG: signature, IHDR dimensions, pixels through a libpng decode;
 * heatmaps: viridis endpoints, origin lower, the alignment's transpose.
 *
 * Set BV_TB_KEEP_DIR=<dir> to keep the event file written by tb_event_file_roundtrip (in <dir>
 * and <dir>/eval) for tests/ref/read_events_with_tensorboard.py.
 */
#include <dirent.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../src/io/png_image.h"
#include "../src/io/tensorboard.h"
#include "../src/io/wav.h"
#include "fixtures.h"
#include "test.h"

/* ------------------------------------------------------------------------------------------ */
/* a minimal protobuf reader and the record parser                                             */

typedef struct pbf {
    int wire;
    uint64_t v;          /* varint, fixed32 or fixed64 value */
    const uint8_t *p;    /* length-delimited payload */
    size_t n;
} pbf;

static int rd_varint(const uint8_t *m, size_t n, size_t *i, uint64_t *v) {
    *v = 0;
    for (int s = 0; s < 64; s += 7) {
        if (*i >= n) return -1;
        uint8_t b = m[(*i)++];
        *v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

/* Finds the k-th occurrence of `field` in message m; 1 if found, 0 if not, -1 if m is malformed. */
static int pb_find(const uint8_t *m, size_t n, int field, int k, pbf *out) {
    size_t i = 0;
    while (i < n) {
        uint64_t key, v = 0;
        if (rd_varint(m, n, &i, &key)) return -1;
        pbf f = {(int)(key & 7), 0, NULL, 0};
        switch (f.wire) {
        case 0:
            if (rd_varint(m, n, &i, &v)) return -1;
            f.v = v;
            break;
        case 1:
        case 5: {
            size_t w = f.wire == 1 ? 8 : 4;
            if (i + w > n) return -1;
            for (size_t b = 0; b < w; b++) f.v |= (uint64_t)m[i + b] << (8 * b);
            i += w;
            break;
        }
        case 2:
            if (rd_varint(m, n, &i, &v) || v > n - i) return -1;
            f.p = m + i;
            f.n = (size_t)v;
            i += (size_t)v;
            break;
        default: return -1;
        }
        if ((int)(key >> 3) == field && k-- == 0) {
            *out = f;
            return 1;
        }
    }
    return 0;
}

static double pbf_double(const pbf *f) {
    double d;
    memcpy(&d, &f->v, 8);
    return d;
}

static float pbf_float(const pbf *f) {
    uint32_t u = (uint32_t)f->v;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static int pbf_streq(const pbf *f, const char *s) { return f->wire == 2 && f->n == strlen(s) && !memcmp(f->p, s, f->n); }

static uint64_t rd_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

typedef struct record {
    const uint8_t *data;
    size_t n;
} record;

/* Splits a TFRecord file, verifying every length and both masked CRCs. Returns the count, -1 on a defect. */
static int parse_records(bv_test_state *ts, const uint8_t *buf, size_t size, record *out, int cap) {
    size_t i = 0;
    int k = 0;
    while (i < size) {
        BV_CHECK(size - i >= 12, "record %d: truncated header (%zu bytes left)", k, size - i);
        if (size - i < 12) return -1;
        uint64_t len = rd_le(buf + i, 8);
        uint32_t lcrc = (uint32_t)rd_le(buf + i + 8, 4);
        BV_CHECK(lcrc == bv_crc32c_masked(buf + i, 8), "record %d: length CRC %08x", k, lcrc);
        BV_CHECK(len <= size - i - 16, "record %d: length %llu past the end", k, (unsigned long long)len);
        if (lcrc != bv_crc32c_masked(buf + i, 8) || len > size - i - 16) return -1;
        uint32_t dcrc = (uint32_t)rd_le(buf + i + 12 + len, 4);
        BV_CHECK(dcrc == bv_crc32c_masked(buf + i + 12, len), "record %d: data CRC %08x", k, dcrc);
        if (k < cap) out[k] = (record){buf + i + 12, (size_t)len};
        k++;
        i += 16 + len;
    }
    return k;
}

/* The one event file in dir ("" if not exactly one). */
static void find_event_file(const char *dir, char *path, size_t cap) {
    DIR *d = opendir(dir);
    int found = 0;
    path[0] = '\0';
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, "events.out.tfevents.", 20)) {
            if (!found++) snprintf(path, cap, "%s/%s", dir, e->d_name);
        }
    closedir(d);
    if (found != 1) path[0] = '\0';
}

/* PNG -> pixels through libpng's simplified reader (format: PNG_FORMAT_GRAY or _RGB). */
static uint8_t *png_decode(const uint8_t *png, size_t n, int *h, int *w, uint32_t format) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, png, n)) return NULL;
    im.format = format;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(im));
    if (!png_image_finish_read(&im, NULL, px, 0, NULL)) {
        free(px);
        return NULL;
    }
    *h = (int)im.height;
    *w = (int)im.width;
    return px;
}

/* ------------------------------------------------------------------------------------------ */
/* CRC32C                                                                                      */

BV_TEST(tb_crc32c_known_vectors) {
    BV_CHECK(bv_crc32c("123456789", 9) == 0xE3069283u, "crc32c(123456789) = %08x", bv_crc32c("123456789", 9));
    BV_CHECK(bv_crc32c("", 0) == 0, "crc32c('') = %08x", bv_crc32c("", 0));
    /* RFC 3720 (iSCSI) B.4 vectors */
    uint8_t b[32];
    memset(b, 0, 32);
    BV_CHECK(bv_crc32c(b, 32) == 0x8A9136AAu, "32 zeros: %08x", bv_crc32c(b, 32));
    memset(b, 0xff, 32);
    BV_CHECK(bv_crc32c(b, 32) == 0x62A8AB43u, "32 x 0xff: %08x", bv_crc32c(b, 32));
    for (int i = 0; i < 32; i++) b[i] = (uint8_t)i;
    BV_CHECK(bv_crc32c(b, 32) == 0x46DD794Eu, "0..31: %08x", bv_crc32c(b, 32));
    /* TensorBoard's masked_crc32c (tensorboard.compat.tensorflow_stub) on the same inputs */
    BV_CHECK(bv_crc32c_masked("123456789", 9) == 0xC78AB0E5u, "masked: %08x", bv_crc32c_masked("123456789", 9));
    BV_CHECK(bv_crc32c_masked("", 0) == 0xA282EAD8u, "masked(''): %08x", bv_crc32c_masked("", 0));
    memset(b, 0, 8);
    BV_CHECK(bv_crc32c_masked(b, 8) == 0x07980329u, "masked(8 zeros): %08x", bv_crc32c_masked(b, 8));
}

/* ------------------------------------------------------------------------------------------ */
/* event files                                                                                 */

#define N_AUDIO 1000
#define AUDIO_SR 44100

typedef struct written {
    const char *tag;
    int64_t step;
    double value;
} written;

static const written scalars[] = {
    {"loss/g/total", 0, 31.25}, {"loss/d/total", 0, 2.7146239280700684},
    {"learning_rate", 200, 0.0002}, {"grad_norm_g", (int64_t)1 << 40, -1e-30}, {"loss/g/mel", -3, 1e30},
};
#define N_SCALARS ((int)(sizeof scalars / sizeof scalars[0]))

static void check_scalar_event(bv_test_state *ts, const record *r, const written *w) {
    pbf f, summary, value;
    BV_CHECK(pb_find(r->data, r->n, 1, 0, &f) == 1 && f.wire == 1, "%s: wall_time", w->tag);
    BV_CHECK(pb_find(r->data, r->n, 2, 0, &f) == 1 && f.wire == 0 && (int64_t)f.v == w->step, "%s: step %lld",
             w->tag, (long long)f.v);
    BV_CHECK(pb_find(r->data, r->n, 5, 0, &summary) == 1 && summary.wire == 2, "%s: summary", w->tag);
    BV_CHECK(pb_find(summary.p, summary.n, 1, 0, &value) == 1 && pb_find(summary.p, summary.n, 1, 1, &f) == 0,
             "%s: one value", w->tag);
    BV_CHECK(pb_find(value.p, value.n, 1, 0, &f) == 1 && pbf_streq(&f, w->tag), "%s: tag", w->tag);
    BV_CHECK(pb_find(value.p, value.n, 2, 0, &f) == 1 && f.wire == 5 && pbf_float(&f) == (float)w->value,
             "%s: simple_value %g, wrote %g", w->tag, (double)pbf_float(&f), w->value);
}

/* Returns the value's payload (Image = field 4, Audio = field 6) after checking tag and step. */
static int value_payload(bv_test_state *ts, const record *r, const char *tag, int64_t step, int field, pbf *out) {
    pbf f, summary, value;
    if (pb_find(r->data, r->n, 5, 0, &summary) != 1 || pb_find(summary.p, summary.n, 1, 0, &value) != 1) {
        BV_CHECK(0, "%s: no summary value", tag);
        return 0;
    }
    BV_CHECK(pb_find(r->data, r->n, 2, 0, &f) == 1 && (int64_t)f.v == step, "%s: step", tag);
    BV_CHECK(pb_find(value.p, value.n, 1, 0, &f) == 1 && pbf_streq(&f, tag), "%s: tag", tag);
    int ok = pb_find(value.p, value.n, field, 0, out) == 1 && out->wire == 2;
    BV_CHECK(ok, "%s: field %d", tag, field);
    return ok;
}

static void check_image_event(bv_test_state *ts, const record *r, const char *tag, int64_t step, int h, int w,
                              int channels, const uint8_t *pixels) {
    pbf img, f;
    if (!value_payload(ts, r, tag, step, 4, &img)) return;
    BV_CHECK(pb_find(img.p, img.n, 1, 0, &f) == 1 && (int)f.v == h, "%s: height %d", tag, (int)f.v);
    BV_CHECK(pb_find(img.p, img.n, 2, 0, &f) == 1 && (int)f.v == w, "%s: width %d", tag, (int)f.v);
    BV_CHECK(pb_find(img.p, img.n, 3, 0, &f) == 1 && (int)f.v == channels, "%s: colorspace %d", tag, (int)f.v);
    if (pb_find(img.p, img.n, 4, 0, &f) != 1) {
        BV_CHECK(0, "%s: no encoded_image_string", tag);
        return;
    }
    BV_CHECK(f.n > 8 && !memcmp(f.p, "\x89PNG\r\n\x1a\n", 8), "%s: PNG signature", tag);
    int dh = 0, dw = 0;
    uint8_t *px = png_decode(f.p, f.n, &dh, &dw, channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB);
    BV_CHECK(px && dh == h && dw == w, "%s: PNG decodes to %d x %d", tag, dh, dw);
    if (px && dh == h && dw == w)
        BV_CHECK(!memcmp(px, pixels, (size_t)h * w * channels), "%s: PNG pixels differ from the input", tag);
    free(px);
}

static void check_audio_event(bv_test_state *ts, const record *r, const char *tag, int64_t step,
                              const float *samples, int64_t n) {
    pbf au, f;
    if (!value_payload(ts, r, tag, step, 6, &au)) return;
    BV_CHECK(pb_find(au.p, au.n, 1, 0, &f) == 1 && f.wire == 5 && pbf_float(&f) == (float)AUDIO_SR, "%s: sample_rate",
             tag);
    BV_CHECK(pb_find(au.p, au.n, 2, 0, &f) == 1 && f.v == 1, "%s: num_channels", tag);
    BV_CHECK(pb_find(au.p, au.n, 3, 0, &f) == 1 && (int64_t)f.v == n, "%s: length_frames %lld", tag, (long long)f.v);
    BV_CHECK(pb_find(au.p, au.n, 5, 0, &f) == 1 && pbf_streq(&f, "audio/wav"), "%s: content_type", tag);
    if (pb_find(au.p, au.n, 4, 0, &f) != 1) {
        BV_CHECK(0, "%s: no encoded_audio_string", tag);
        return;
    }
    float *back = NULL;
    bv_wav_info info;
    char err[512];
    int rc = bv_wav_read_mem(f.p, f.n, tag, &back, &info, err, sizeof err);
    BV_CHECK(rc == 0, "%s: WAV does not decode: %s", tag, err);
    if (rc == 0) {
        BV_CHECK(info.sample_rate == AUDIO_SR && info.channels == 1 && info.frames == n, "%s: WAV format", tag);
        double worst = 0;
        for (int64_t i = 0; i < n && info.frames == n; i++) {
            double d = fabs(back[i] - samples[i]);
            if (d > worst) worst = d;
        }
        BV_CHECK(worst < 1.5 / 32768, "%s: WAV samples off by %g", tag, worst);
    }
    free(back);
}

BV_TEST(tb_event_file_roundtrip) {
    const char *keep = getenv("BV_TB_KEEP_DIR");
    char tmp[] = "/tmp/bv_tb_XXXXXX", dir[600], evdir[700];
    const char *root = keep;
    if (!root) {
        BV_CHECK(mkdtemp(tmp), "mkdtemp");
        root = tmp;
    }
    snprintf(dir, sizeof dir, "%s/model", root);
    snprintf(evdir, sizeof evdir, "%s/eval", dir); /* as train_ms: model_dir and model_dir/eval */
    char err[512];
    bv_tb_writer *w = bv_tb_open(dir, err, sizeof err), *we = bv_tb_open(evdir, err, sizeof err);
    BV_CHECK(w && we, "bv_tb_open: %s", err);
    if (!w || !we) return;
    BV_CHECK(strstr(bv_tb_path(w), "/events.out.tfevents.") != NULL, "file name %s", bv_tb_path(w));

    /* what train_ms logs: scalars and mel / alignment images in model_dir, audio in eval */
    for (int i = 0; i < N_SCALARS; i++)
        BV_CHECK(bv_tb_scalar(w, scalars[i].tag, scalars[i].step, scalars[i].value) == 0, "scalar: %s",
                 bv_tb_error(w));
    enum { C = 20, T = 37, TE = 9 };
    float mel[C * T], attn[T * TE];
    for (int i = 0; i < C * T; i++) mel[i] = sinf(0.37f * i) - 0.01f * (float)i;
    for (int t = 0; t < T; t++)
        for (int e = 0; e < TE; e++) attn[t * TE + e] = e == t * TE / T;
    int mh, mw, ah, aw;
    uint8_t *mel_rgb = bv_plot_spectrogram_rgb(mel, C, T, &mh, &mw);
    uint8_t *attn_rgb = bv_plot_alignment_rgb(attn, T, TE, &ah, &aw);
    uint8_t gray[6 * 5];
    for (int i = 0; i < 30; i++) gray[i] = (uint8_t)(i * 8);
    BV_CHECK(bv_tb_image_rgb(w, "all/mel", 200, mh, mw, mel_rgb) == 0, "image: %s", bv_tb_error(w));
    BV_CHECK(bv_tb_image_rgb(w, "all/attn", 200, ah, aw, attn_rgb) == 0, "image: %s", bv_tb_error(w));
    BV_CHECK(bv_tb_image_gray(w, "slice/gray", 201, 6, 5, gray) == 0, "image: %s", bv_tb_error(w));
    float audio[N_AUDIO];
    for (int i = 0; i < N_AUDIO; i++) audio[i] = 0.8f * sinf(2 * 3.14159265f * 440.0f * (float)i / AUDIO_SR);
    audio[7] = 1.7f; /* clipped to 1 */
    BV_CHECK(bv_tb_audio(we, "gen/audio_0_True", 200, AUDIO_SR, audio, N_AUDIO) == 0, "audio: %s", bv_tb_error(we));
    BV_CHECK(bv_tb_image_rgb(we, "gen/mel_0", 200, mh, mw, mel_rgb) == 0, "image: %s", bv_tb_error(we));
    BV_CHECK(bv_tb_close(w) == 0 && bv_tb_close(we) == 0, "close");
    audio[7] = 1.0f;

    char path[1024];
    find_event_file(dir, path, sizeof path);
    BV_CHECK(path[0], "exactly one event file in %s", dir);
    size_t size = 0;
    uint8_t *buf = path[0] ? (uint8_t *)bv_test_read_file(path, &size) : NULL;
    record r[16];
    int n = buf ? parse_records(ts, buf, size, r, 16) : -1;
    BV_CHECK(n == 1 + N_SCALARS + 3, "%d records in %s", n, path);
    if (n == 1 + N_SCALARS + 3) {
        pbf f;
        BV_CHECK(pb_find(r[0].data, r[0].n, 3, 0, &f) == 1 && pbf_streq(&f, "brain.Event:2"), "file_version");
        BV_CHECK(pb_find(r[0].data, r[0].n, 1, 0, &f) == 1 && fabs(pbf_double(&f) - (double)time(NULL)) < 60,
                 "wall_time %f", pbf_double(&f));
        for (int i = 0; i < N_SCALARS; i++) check_scalar_event(ts, &r[1 + i], &scalars[i]);
        check_image_event(ts, &r[1 + N_SCALARS], "all/mel", 200, mh, mw, 3, mel_rgb);
        check_image_event(ts, &r[2 + N_SCALARS], "all/attn", 200, ah, aw, 3, attn_rgb);
        check_image_event(ts, &r[3 + N_SCALARS], "slice/gray", 201, 6, 5, 1, gray);
    }
    free(buf);

    find_event_file(evdir, path, sizeof path);
    BV_CHECK(path[0], "exactly one event file in %s", evdir);
    buf = path[0] ? (uint8_t *)bv_test_read_file(path, &size) : NULL;
    n = buf ? parse_records(ts, buf, size, r, 16) : -1;
    BV_CHECK(n == 3, "%d records in %s", n, path);
    if (n == 3) {
        check_audio_event(ts, &r[1], "gen/audio_0_True", 200, audio, N_AUDIO);
        check_image_event(ts, &r[2], "gen/mel_0", 200, mh, mw, 3, mel_rgb);
    }
    free(buf);
    free(mel_rgb);
    free(attn_rgb);
    if (!keep) bv_test_rm_rf(tmp);
}

BV_TEST(tb_errors_name_the_path) {
    char tmp[] = "/tmp/bv_tb_XXXXXX", file[600], dir[700], err[512];
    BV_CHECK(mkdtemp(tmp), "mkdtemp");
    snprintf(file, sizeof file, "%s/plain_file", tmp);
    FILE *f = fopen(file, "w");
    BV_CHECK(f != NULL, "fopen");
    if (f) fclose(f);
    /* a folder below a regular file cannot be made */
    snprintf(dir, sizeof dir, "%s/sub", file);
    err[0] = '\0';
    bv_tb_writer *w = bv_tb_open(dir, err, sizeof err);
    BV_CHECK(!w && strstr(err, dir), "open under a file: %s", err);
    bv_tb_close(w);

    /* an image that cannot be encoded is refused alone; the writer goes on */
    w = bv_tb_open(tmp, err, sizeof err);
    BV_CHECK(w != NULL, "open: %s", err);
    if (!w) return;
    uint8_t px[4] = {0};
    BV_CHECK(bv_tb_image_rgb(w, "bad/image", 1, 0, 2, px) == -1 && strstr(bv_tb_error(w), "bad/image"),
             "empty image: %s", bv_tb_error(w));
    BV_CHECK(bv_tb_audio(w, "bad/audio", 1, 0, NULL, 0) == -1 && strstr(bv_tb_error(w), "bad/audio"),
             "sample rate 0: %s", bv_tb_error(w));
    BV_CHECK(bv_tb_scalar(w, "ok", 2, 1.0) == 0, "scalar after refused image: %s", bv_tb_error(w));
    BV_CHECK(bv_tb_close(w) == 0, "close");
    BV_CHECK(bv_tb_scalar(NULL, "x", 0, 0) == -1, "NULL writer");
    bv_test_rm_rf(tmp);
}

/* ------------------------------------------------------------------------------------------ */
/* PNG and heatmaps                                                                            */

BV_TEST(png_signature_ihdr_and_pixels) {
    enum { H = 7, W = 13 };
    uint8_t rgb[H * W * 3];
    for (int i = 0; i < H * W * 3; i++) rgb[i] = (uint8_t)(i * 37 + 11);
    uint8_t *png = NULL;
    size_t n = 0;
    char err[256];
    BV_CHECK(bv_png_encode(rgb, H, W, 3, &png, &n, err, sizeof err) == 0, "encode: %s", err);
    if (!png) return;
    BV_CHECK(n > 33 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8), "signature");
    /* the first chunk is IHDR: length 13, width and height big-endian, depth 8, colour type 2 */
    BV_CHECK(!memcmp(png + 8, "\0\0\0\x0dIHDR", 8), "IHDR first");
    uint32_t w = (uint32_t)png[16] << 24 | (uint32_t)png[17] << 16 | (uint32_t)png[18] << 8 | png[19];
    uint32_t h = (uint32_t)png[20] << 24 | (uint32_t)png[21] << 16 | (uint32_t)png[22] << 8 | png[23];
    BV_CHECK(w == W && h == H && png[24] == 8 && png[25] == 2, "IHDR %u x %u depth %d type %d", w, h, png[24], png[25]);
    int dh, dw;
    uint8_t *px = png_decode(png, n, &dh, &dw, PNG_FORMAT_RGB);
    BV_CHECK(px && dh == H && dw == W && !memcmp(px, rgb, sizeof rgb), "decoded pixels");
    free(px);
    free(png);
    BV_CHECK(bv_png_encode(rgb, H, W, 2, &png, &n, err, sizeof err) == -1 && strstr(err, "channels"),
             "2 channels refused: %s", err);
    BV_CHECK(png == NULL, "no output on error");
}

static uint32_t px_at(const uint8_t *img, int w, int y, int x) {
    const uint8_t *p = img + ((size_t)y * w + x) * 3;
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

BV_TEST(png_heatmap_viridis_origin_lower) {
    uint8_t c[3];
    bv_viridis(0, c);
    BV_CHECK(c[0] == 0x44 && c[1] == 0x01 && c[2] == 0x54, "viridis(0) = %02x%02x%02x", c[0], c[1], c[2]);
    bv_viridis(1, c);
    BV_CHECK(c[0] == 0xfd && c[1] == 0xe7 && c[2] == 0x25, "viridis(1) = %02x%02x%02x", c[0], c[1], c[2]);
    bv_viridis(0.5, c); /* matplotlib: int(0.5 * 256) = entry 128 */
    BV_CHECK(c[0] == 0x21 && c[1] == 0x91 && c[2] == 0x8c, "viridis(0.5) = %02x%02x%02x", c[0], c[1], c[2]);

    /* spec [2 channels, 3 frames]: min at (0, 0) bottom-left, max at (1, 2) top-right, NaN white */
    float spec[6] = {-4, 0, 1, NAN, 2, 6};
    int h, w;
    uint8_t *img = bv_plot_spectrogram_rgb(spec, 2, 3, &h, &w);
    BV_CHECK(img && h == 200 && w == 1000, "spectrogram image %d x %d", h, w);
    if (img) {
        BV_CHECK(px_at(img, w, h - 1, 0) == 0x440154, "bottom-left %06x", px_at(img, w, h - 1, 0));
        BV_CHECK(px_at(img, w, 0, w - 1) == 0xfde725, "top-right %06x", px_at(img, w, 0, w - 1));
        BV_CHECK(px_at(img, w, 0, 0) == 0xffffff, "NaN cell top-left %06x", px_at(img, w, 0, 0));
        bv_viridis(0.4, c); /* (0 - -4) / 10 */
        uint32_t want = (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
        BV_CHECK(px_at(img, w, h - 1, w / 2) == want, "bottom-middle %06x want %06x", px_at(img, w, h - 1, w / 2), want);
    }
    free(img);

    /* alignment [t_dec 3, t_enc 2]: upstream plots the transpose, x = decoder step, y = encoder step */
    float attn[6] = {1, 0, 0, 0, 0, 1}; /* dec 0 -> enc 0, dec 2 -> enc 1 */
    img = bv_plot_alignment_rgb(attn, 3, 2, &h, &w);
    BV_CHECK(img && h == 400 && w == 600, "alignment image %d x %d", h, w);
    if (img) {
        BV_CHECK(px_at(img, w, h - 1, 0) == 0xfde725, "dec 0 / enc 0 (bottom-left) is max");
        BV_CHECK(px_at(img, w, 0, w - 1) == 0xfde725, "dec 2 / enc 1 (top-right) is max");
        BV_CHECK(px_at(img, w, 0, 0) == 0x440154, "dec 0 / enc 1 (top-left) is min");
        BV_CHECK(px_at(img, w, h - 1, w / 2) == 0x440154, "dec 1 / enc 0 is min");
    }
    free(img);
    /* flat data: everything maps to the bottom of the colormap, as matplotlib's Normalize does */
    float flat[4] = {3, 3, 3, 3};
    img = bv_heatmap_rgb(flat, 2, 2, 2, 1, 4, 4);
    BV_CHECK(img && px_at(img, 4, 1, 1) == 0x440154, "flat data");
    free(img);
}
