/* wav.c - audio in through libsndfile (files and memory via its virtual I/O), 16-bit PCM WAV out
 * by hand (a 44-byte header and little-endian samples: no library needed to write it, and the
 * same bytes go to files and to TensorBoard). */
#include "wav.h"
#include "fs.h"

#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAV_HEADER_BYTES 44

const char *bv_wav_encoding_name(bv_wav_encoding e) {
    switch (e) {
    case BV_WAV_PCM_U8: return "8-bit unsigned PCM";
    case BV_WAV_PCM_S8: return "8-bit PCM";
    case BV_WAV_PCM_16: return "16-bit PCM";
    case BV_WAV_PCM_24: return "24-bit PCM";
    case BV_WAV_PCM_32: return "32-bit PCM";
    case BV_WAV_FLOAT: return "32-bit float";
    case BV_WAV_DOUBLE: return "64-bit float";
    case BV_WAV_OTHER: return "other";
    }
    return "other";
}

static bv_wav_encoding encoding_of(int format) {
    switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_U8: return BV_WAV_PCM_U8;
    case SF_FORMAT_PCM_S8: return BV_WAV_PCM_S8;
    case SF_FORMAT_PCM_16: return BV_WAV_PCM_16;
    case SF_FORMAT_PCM_24: return BV_WAV_PCM_24;
    case SF_FORMAT_PCM_32: return BV_WAV_PCM_32;
    case SF_FORMAT_FLOAT: return BV_WAV_FLOAT;
    case SF_FORMAT_DOUBLE: return BV_WAV_DOUBLE;
    default: return BV_WAV_OTHER;
    }
}

/* Reads every frame of an open file; closes it. */
static int read_all(SNDFILE *sf, const SF_INFO *si, const char *name, float **samples, bv_wav_info *info,
                    char *err, size_t errcap) {
    *samples = NULL;
    if (si->channels < 1 || si->samplerate < 1) {
        snprintf(err, errcap, "%s: invalid audio header (%d channels, sample rate %d)", name, si->channels,
                 si->samplerate);
        sf_close(sf);
        return -1;
    }
    /* a file larger than memory could ever hold is corrupt, not big */
    if (si->frames < 0 || si->frames > (sf_count_t)(((int64_t)1 << 40) / si->channels)) {
        snprintf(err, errcap, "%s: implausible length (%lld frames)", name, (long long)si->frames);
        sf_close(sf);
        return -1;
    }
    size_t n = (size_t)si->frames * (size_t)si->channels;
    float *buf = malloc((n ? n : 1) * sizeof *buf);
    if (!buf) {
        snprintf(err, errcap, "%s: out of memory for %lld frames", name, (long long)si->frames);
        sf_close(sf);
        return -1;
    }
    sf_count_t got = si->frames ? sf_readf_float(sf, buf, si->frames) : 0;
    if (got != si->frames) {
        snprintf(err, errcap, "%s: truncated or corrupt audio: read %lld of %lld frames (%s)", name,
                 (long long)got, (long long)si->frames, sf_strerror(sf));
        free(buf);
        sf_close(sf);
        return -1;
    }
    sf_close(sf);
    /* a float WAV can hold NaN/Inf; said here, by file and sample, not as a non-finite loss later */
    for (size_t i = 0; i < n; i++)
        if (!isfinite(buf[i])) {
            snprintf(err, errcap, "%s: sample %zu (frame %zu) is %s; audio must be finite", name, i,
                     i / (size_t)si->channels, isnan(buf[i]) ? "NaN" : "infinite");
            free(buf);
            return -1;
        }
    info->sample_rate = si->samplerate;
    info->channels = si->channels;
    info->frames = si->frames;
    info->encoding = encoding_of(si->format);
    *samples = buf;
    return 0;
}

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* When libsndfile refuses a RIFF/WAVE file, its own words ("SF_INFO struct incomplete") rarely help:
 * look at the fmt chunk and say what is wrong with it, when it is one of the plain cases. */
static int riff_fmt_problem(const char *path, char *why, size_t cap) {
    unsigned char h[4096];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    if (n < 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) return 0;
    for (size_t at = 12; at + 8 <= n;) {
        uint32_t len = le32(h + at + 4);
        if (!memcmp(h + at, "fmt ", 4)) {
            if (len < 16 || at + 8 + 16 > n) return snprintf(why, cap, "WAV fmt chunk too short (%u bytes)", len), 1;
            const unsigned char *c = h + at + 8;
            unsigned channels = c[2] | c[3] << 8, bits = c[14] | c[15] << 8;
            uint32_t rate = le32(c + 4);
            if (channels == 0) return snprintf(why, cap, "WAV header says 0 channels"), 1;
            if (rate == 0) return snprintf(why, cap, "WAV header says sample rate 0"), 1;
            if (bits == 0) return snprintf(why, cap, "WAV header says 0 bits per sample"), 1;
            return 0;
        }
        if (len > n) break;
        at += 8 + (size_t)len + (len & 1);
    }
    return 0;
}

int bv_wav_read(const char *path, float **samples, bv_wav_info *info, char *err, size_t errcap) {
    SF_INFO si;
    memset(&si, 0, sizeof si);
    SNDFILE *sf = sf_open(path, SFM_READ, &si);
    if (!sf) {
        *samples = NULL;
        char why[160];
        if (riff_fmt_problem(path, why, sizeof why)) snprintf(err, errcap, "%s: %s", path, why);
        else snprintf(err, errcap, "%s: cannot read audio: %s", path, sf_strerror(NULL));
        return -1;
    }
    return read_all(sf, &si, path, samples, info, err, errcap);
}

/* ---- reading from memory through libsndfile's virtual I/O ---- */
typedef struct membuf {
    const unsigned char *data;
    sf_count_t size, pos;
} membuf;

static sf_count_t mem_len(void *user) { return ((membuf *)user)->size; }

static sf_count_t mem_seek(sf_count_t off, int whence, void *user) {
    membuf *m = user;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
    sf_count_t to = base + off;
    if (to < 0 || to > m->size) return -1;
    m->pos = to;
    return to;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *user) {
    membuf *m = user;
    sf_count_t k = m->size - m->pos < count ? m->size - m->pos : count;
    if (k <= 0) return 0;
    memcpy(ptr, m->data + m->pos, (size_t)k);
    m->pos += k;
    return k;
}

static sf_count_t mem_write(const void *ptr, sf_count_t count, void *user) { return 0; }

static sf_count_t mem_tell(void *user) { return ((membuf *)user)->pos; }

int bv_wav_read_mem(const void *data, size_t size, const char *name, float **samples, bv_wav_info *info,
                    char *err, size_t errcap) {
    SF_VIRTUAL_IO io = {mem_len, mem_seek, mem_read, mem_write, mem_tell};
    membuf m = {data, (sf_count_t)size, 0};
    SF_INFO si;
    memset(&si, 0, sizeof si);
    SNDFILE *sf = sf_open_virtual(&io, SFM_READ, &si, &m);
    if (!sf) {
        *samples = NULL;
        snprintf(err, errcap, "%s: cannot read audio: %s", name, sf_strerror(NULL));
        return -1;
    }
    return read_all(sf, &si, name, samples, info, err, errcap);
}

/* ---- writing ---- */
static void put_u16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v) {
    put_u16(p, v & 0xffff);
    put_u16(p + 2, v >> 16);
}

/* float in [-1, 1] -> int16; NaN becomes silence rather than an arbitrary value */
static int16_t to_pcm16(float x) {
    if (!(x == x)) return 0;
    if (x > 1.0f) x = 1.0f;
    if (x < -1.0f) x = -1.0f;
    return (int16_t)lrintf(x * 32767.0f);
}

int bv_wav_encode(const float *samples, int64_t frames, int channels, int sample_rate, uint8_t **out,
                  size_t *out_size, char *err, size_t errcap) {
    *out = NULL;
    *out_size = 0;
    if (channels < 1 || channels > 255 || sample_rate < 1 || frames < 0) {
        snprintf(err, errcap, "wav encode: invalid format (%d channels, sample rate %d, %lld frames)", channels,
                 sample_rate, (long long)frames);
        return -1;
    }
    uint64_t data_bytes = (uint64_t)frames * (uint64_t)channels * 2;
    if (data_bytes > 0xffffffffu - WAV_HEADER_BYTES) { /* RIFF sizes are 32-bit */
        snprintf(err, errcap, "wav encode: %lld frames do not fit in a WAV file (4 GiB limit)", (long long)frames);
        return -1;
    }
    uint8_t *buf = malloc(WAV_HEADER_BYTES + data_bytes);
    if (!buf) {
        snprintf(err, errcap, "wav encode: out of memory for %lld frames", (long long)frames);
        return -1;
    }
    memcpy(buf, "RIFF", 4);
    put_u32(buf + 4, (uint32_t)(36 + data_bytes));
    memcpy(buf + 8, "WAVEfmt ", 8);
    put_u32(buf + 16, 16);                                    /* fmt chunk size */
    put_u16(buf + 20, 1);                                     /* PCM */
    put_u16(buf + 22, (uint32_t)channels);
    put_u32(buf + 24, (uint32_t)sample_rate);
    put_u32(buf + 28, (uint32_t)sample_rate * (uint32_t)channels * 2); /* byte rate */
    put_u16(buf + 32, (uint32_t)channels * 2);                /* block align */
    put_u16(buf + 34, 16);                                    /* bits per sample */
    memcpy(buf + 36, "data", 4);
    put_u32(buf + 40, (uint32_t)data_bytes);
    uint8_t *p = buf + WAV_HEADER_BYTES;
    int64_t n = frames * channels;
    for (int64_t i = 0; i < n; i++) put_u16(p + 2 * i, (uint16_t)to_pcm16(samples[i]));
    *out = buf;
    *out_size = WAV_HEADER_BYTES + data_bytes;
    return 0;
}

int bv_wav_write(const char *path, const float *samples, int64_t frames, int channels, int sample_rate,
                 char *err, size_t errcap) {
    uint8_t *buf;
    size_t size;
    char why[256];
    if (bv_wav_encode(samples, frames, channels, sample_rate, &buf, &size, why, sizeof why)) {
        snprintf(err, errcap, "%s: %s", path, why);
        return -1;
    }
    bv_out_file o;
    if (bv_out_begin(&o, path, err, errcap)) {
        free(buf);
        return -1;
    }
    int rc = -1;
    FILE *f = fopen(o.tmp, "wb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot create: %s", o.tmp, strerror(errno));
    } else {
        int ok = fwrite(buf, 1, size, f) == size;
        int e = errno;
        ok = (fclose(f) == 0) && ok;
        if (!ok) {
            snprintf(err, errcap, "%s: write failed: %s", o.tmp, strerror(e ? e : errno));
            bv_out_abort(&o);
        } else {
            rc = bv_out_commit(&o, err, errcap);
        }
    }
    free(buf);
    return rc;
}
