/* wav.h - audio files: read anything libsndfile reads (WAV, FLAC, OGG, ...) as float samples, and
 * write 16-bit PCM WAV from float samples to a file or to memory (TensorBoard audio, eval samples).
 *
 * Reading normalises integer PCM the way upstream's load_wav_to_torch + "audio / max_wav_value"
 * does for 16-bit files: sample / 32768 (libsndfile's float normalisation). Files that already hold
 * floats come back unchanged; `info.encoding` says which kind the file held, so the data loader can
 * reproduce upstream's handling of other encodings if it wants to.
 *
 * Writing clips to [-1, 1], scales by 32767 and rounds to nearest (torch's add_audio truncates
 * instead; the difference is below one LSB). A file is written to "<path>.tmp" and renamed, so a
 * kill never leaves a half-written sample under the real name.
 *
 *   float *x; bv_wav_info info; char err[512];
 *   if (bv_wav_read("a.wav", &x, &info, err, sizeof err)) { fprintf(stderr, "error: %s\n", err); ... }
 *   ... x[frame * info.channels + ch], info.frames, info.sample_rate ...
 *   free(x);
 *
 * Every function returns 0 on success, or -1 with err naming the file (or the buffer's name) and
 * the reason; nothing exits.
 */
#ifndef BV_IO_WAV_H
#define BV_IO_WAV_H

#include <stddef.h>
#include <stdint.h>

/* The longest mono 16-bit WAV: its data chunk size is a 32-bit field. */
#define BV_WAV_MAX_FRAMES_16BIT_MONO ((int64_t)((0xFFFFFFFFu - 44u) / 2u))

typedef enum {
    BV_WAV_PCM_U8,
    BV_WAV_PCM_S8,
    BV_WAV_PCM_16,
    BV_WAV_PCM_24,
    BV_WAV_PCM_32,
    BV_WAV_FLOAT,
    BV_WAV_DOUBLE,
    BV_WAV_OTHER, /* compressed or exotic: FLAC, Vorbis, ADPCM, ... (libsndfile decodes it) */
} bv_wav_encoding;

typedef struct bv_wav_info {
    int sample_rate;
    int channels;
    int64_t frames;            /* samples per channel */
    bv_wav_encoding encoding;  /* what the file stores */
} bv_wav_info;

/* Reads the whole file; *samples (malloc, interleaved [frames, channels]) is the caller's to free.
 * An empty file (0 frames) is not an error: *samples is then a valid 1-element allocation. */
int bv_wav_read(const char *path, float **samples, bv_wav_info *info, char *err, size_t errcap);

/* Same from a buffer in memory (e.g. a WAV produced by bv_wav_encode); `name` is used in errors. */
int bv_wav_read_mem(const void *data, size_t size, const char *name, float **samples, bv_wav_info *info,
                    char *err, size_t errcap);

/* Encodes interleaved float samples [frames, channels] as a 16-bit PCM WAV in memory.
 * *out (malloc) is the caller's to free. */
int bv_wav_encode(const float *samples, int64_t frames, int channels, int sample_rate, uint8_t **out,
                  size_t *out_size, char *err, size_t errcap);

/* Writes the same bytes to `path` (via "<path>.tmp" and rename). */
int bv_wav_write(const char *path, const float *samples, int64_t frames, int channels, int sample_rate,
                 char *err, size_t errcap);

const char *bv_wav_encoding_name(bv_wav_encoding e);

#endif
