/* tensorboard.c - TFRecord framing with CRC32C and hand-encoded protobuf Event messages (the format
 * is in tensorboard.h). Protobuf wire format: each field is a varint key (field << 3 | wire type)
 * then a varint (type 0), 8 little-endian bytes (type 1), a varint length and bytes (type 2), or
 * 4 little-endian bytes (type 5). Nested messages are built in their own buffer, then copied in as
 * bytes. A writer is meant to be used by one thread at a time. */
#include "tensorboard.h"
#include "fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "png_image.h"
#include "wav.h"

struct bv_tb_writer {
    FILE *f;
    char *path;
    char err[512];  /* the latest error */
    int broken;     /* a write failed: nothing more is written (a torn record may precede) */
};

/* ---- CRC32C (Castagnoli, reflected polynomial 0x82f63b78), table-driven ---- */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
        crc_table[i] = c;
    }
}

uint32_t bv_crc32c(const void *data, size_t n) {
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

uint32_t bv_crc32c_masked(const void *data, size_t n) {
    uint32_t c = bv_crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

/* ---- protobuf encoding into a growable buffer ---- */
typedef struct pb {
    uint8_t *d;
    size_t n, cap;
    int oom;
} pb;

static void pb_raw(pb *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->d, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->d = p;
        b->cap = cap;
    }
    if (n) memcpy(b->d + b->n, src, n);
    b->n += n;
}

static void pb_varint(pb *b, uint64_t v) {
    uint8_t tmp[10];
    int k = 0;
    do {
        tmp[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_raw(b, tmp, (size_t)k);
}

static void pb_key(pb *b, int field, int wire) { pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

/* int32 / int64 fields: negative values are their 64-bit two's complement, as protobuf encodes them */
static void pb_int(pb *b, int field, int64_t v) {
    pb_key(b, field, 0);
    pb_varint(b, (uint64_t)v);
}

static void pb_le(pb *b, uint64_t v, int nbytes) {
    uint8_t tmp[8];
    for (int i = 0; i < nbytes; i++) tmp[i] = (uint8_t)(v >> (8 * i));
    pb_raw(b, tmp, (size_t)nbytes);
}

static void pb_double(pb *b, int field, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    pb_key(b, field, 1);
    pb_le(b, u, 8);
}

static void pb_float(pb *b, int field, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    pb_key(b, field, 5);
    pb_le(b, u, 4);
}

static void pb_bytes(pb *b, int field, const void *data, size_t n) {
    pb_key(b, field, 2);
    pb_varint(b, n);
    pb_raw(b, data, n);
}

static void pb_str(pb *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

static void pb_msg(pb *b, int field, const pb *inner) {
    if (inner->oom) b->oom = 1;
    pb_bytes(b, field, inner->d, inner->n);
}

static void pb_free(pb *b) { free(b->d); }

/* ---- records ---- */
static double wall_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A failed write: the file may now end in a torn record, so the writer stops. */
static int fail(bv_tb_writer *w, const char *what) {
    if (!w->broken) snprintf(w->err, sizeof w->err, "%s: %s", w->path, what);
    w->broken = 1;
    return -1;
}

/* Bad input (an image or audio that cannot be encoded): reported, the writer stays usable. */
static int reject(bv_tb_writer *w, const char *kind, const char *tag, const char *why) {
    snprintf(w->err, sizeof w->err, "%s: %s %s: %s", w->path, kind, tag, why);
    return -1;
}

static int write_record(bv_tb_writer *w, const uint8_t *data, size_t n) {
    if (w->broken) return -1;
    uint8_t head[12], foot[4];
    for (int i = 0; i < 8; i++) head[i] = (uint8_t)((uint64_t)n >> (8 * i));
    uint32_t c = bv_crc32c_masked(head, 8);
    for (int i = 0; i < 4; i++) head[8 + i] = (uint8_t)(c >> (8 * i));
    c = bv_crc32c_masked(data, n);
    for (int i = 0; i < 4; i++) foot[i] = (uint8_t)(c >> (8 * i));
    errno = 0;
    if (fwrite(head, 1, 12, w->f) != 12 || fwrite(data, 1, n, w->f) != n || fwrite(foot, 1, 4, w->f) != 4 ||
        fflush(w->f) != 0) {
        char why[300];
        snprintf(why, sizeof why, "write failed: %s", errno ? strerror(errno) : "short write");
        return fail(w, why);
    }
    return 0;
}

/* Event{wall_time, step, summary{value}} around one encoded Summary.Value. */
static int write_value_event(bv_tb_writer *w, int64_t step, const pb *value) {
    pb summary = {0}, event = {0};
    pb_msg(&summary, 1, value);
    pb_double(&event, 1, wall_time());
    pb_int(&event, 2, step);
    pb_msg(&event, 5, &summary);
    int rc = event.oom ? fail(w, "out of memory encoding an event") : write_record(w, event.d, event.n);
    pb_free(&summary);
    pb_free(&event);
    return rc;
}

int bv_tb_scalar(bv_tb_writer *w, const char *tag, int64_t step, double value) {
    if (!w || w->broken) return -1;
    pb v = {0};
    pb_str(&v, 1, tag);
    pb_float(&v, 2, (float)value);
    int rc = write_value_event(w, step, &v);
    pb_free(&v);
    return rc;
}

static int image_event(bv_tb_writer *w, const char *tag, int64_t step, int height, int width, int channels,
                       const uint8_t *pixels) {
    if (!w || w->broken) return -1;
    uint8_t *png;
    size_t png_n;
    char why[300];
    if (bv_png_encode(pixels, height, width, channels, &png, &png_n, why, sizeof why))
        return reject(w, "image", tag, why);
    pb img = {0}, v = {0};
    pb_int(&img, 1, height);
    pb_int(&img, 2, width);
    pb_int(&img, 3, channels);
    pb_bytes(&img, 4, png, png_n);
    pb_str(&v, 1, tag);
    pb_msg(&v, 4, &img);
    int rc = write_value_event(w, step, &v);
    pb_free(&img);
    pb_free(&v);
    free(png);
    return rc;
}

int bv_tb_image_gray(bv_tb_writer *w, const char *tag, int64_t step, int height, int width, const uint8_t *pixels) {
    return image_event(w, tag, step, height, width, 1, pixels);
}

int bv_tb_image_rgb(bv_tb_writer *w, const char *tag, int64_t step, int height, int width, const uint8_t *pixels) {
    return image_event(w, tag, step, height, width, 3, pixels);
}

int bv_tb_audio(bv_tb_writer *w, const char *tag, int64_t step, int sample_rate, const float *samples, int64_t n) {
    if (!w || w->broken) return -1;
    uint8_t *wav;
    size_t wav_n;
    char why[300];
    if (bv_wav_encode(samples, n, 1, sample_rate, &wav, &wav_n, why, sizeof why))
        return reject(w, "audio", tag, why);
    pb au = {0}, v = {0};
    pb_float(&au, 1, (float)sample_rate);
    pb_int(&au, 2, 1);
    pb_int(&au, 3, n);
    pb_bytes(&au, 4, wav, wav_n);
    pb_str(&au, 5, "audio/wav");
    pb_str(&v, 1, tag);
    pb_msg(&v, 6, &au);
    int rc = write_value_event(w, step, &v);
    pb_free(&au);
    pb_free(&v);
    free(wav);
    return rc;
}

/* ---- files ---- */

static atomic_int global_uid; /* SummaryWriter's per-process counter in the file name */

bv_tb_writer *bv_tb_open(const char *dir, char *err, size_t errcap) {
    if (!dir || !dir[0]) return snprintf(err, errcap, "tensorboard: empty log folder name"), NULL;
    if (bv_mkdir_p(dir, err, errcap)) return NULL;
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    bv_tb_writer *w = calloc(1, sizeof *w);
    size_t cap = strlen(dir) + strlen(host) + 96;
    char *path = malloc(cap);
    if (!w || !path) {
        free(w);
        free(path);
        return snprintf(err, errcap, "%s: out of memory", dir), NULL;
    }
    double now = wall_time();
    snprintf(path, cap, "%s/events.out.tfevents.%010lld.%s.%d.%d", dir, (long long)now, host, (int)getpid(),
             atomic_fetch_add(&global_uid, 1));
    w->path = path;
    w->f = fopen(path, "wbx");
    if (!w->f) {
        snprintf(err, errcap, "%s: cannot create event file: %s", path, strerror(errno));
        free(path);
        free(w);
        return NULL;
    }
    pb event = {0};
    pb_double(&event, 1, now);
    pb_str(&event, 3, "brain.Event:2");
    int rc = event.oom ? fail(w, "out of memory") : write_record(w, event.d, event.n);
    pb_free(&event);
    if (rc) {
        snprintf(err, errcap, "%s", w->err);
        fclose(w->f);
        free(path);
        free(w);
        return NULL;
    }
    return w;
}

int bv_tb_flush(bv_tb_writer *w) {
    if (!w || w->broken) return -1;
    if (fflush(w->f) != 0) return fail(w, strerror(errno));
    return 0;
}

int bv_tb_close(bv_tb_writer *w) {
    if (!w) return 0;
    int rc = w->broken ? -1 : 0;
    if (fclose(w->f) != 0 && rc == 0) rc = -1;
    free(w->path);
    free(w);
    return rc;
}

const char *bv_tb_path(const bv_tb_writer *w) { return w ? w->path : ""; }

const char *bv_tb_error(const bv_tb_writer *w) { return w ? w->err : "no writer"; }
