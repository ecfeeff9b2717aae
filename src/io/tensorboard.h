/* tensorboard.h - TensorBoard event files, written as torch.utils.tensorboard.SummaryWriter writes
 * them, so `tensorboard --logdir <model_dir>` shows bv2 runs exactly like upstream's.
 *
 * A folder gets one file events.out.tfevents.<10-digit unix time>.<host>.<pid>.<n> (SummaryWriter's
 * name). The file is a sequence of TFRecords:
 *     uint64 length | uint32 masked_crc32c(length) | data[length] | uint32 masked_crc32c(data)
 * (little-endian; CRC32C is Castagnoli's polynomial, masked as ((crc >> 15) | (crc << 17)) +
 * 0xa282ead8). Each record's data is a protobuf tensorflow.Event, encoded by hand here:
 *     Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *     Summary { repeated Value value = 1; }
 *     Value   { string tag = 1; float simple_value = 2; Image image = 4; Audio audio = 6; }
 *     Image   { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
 *     Audio   { float sample_rate = 1; int64 num_channels = 2; int64 length_frames = 3;
 *               bytes encoded_audio_string = 4; string content_type = 5; }
 * The first record is Event{wall_time, file_version: "brain.Event:2"}; then one Event per add,
 * like add_scalar / add_image(dataformats="HWC") / add_audio. The file is flushed after every add,
 * so a killed run loses at most the record being written (TensorBoard skips a torn last record).
 *
 * Upstream's tags (train_ms.py): scalars "loss/g/total", "loss/d/total", "learning_rate",
 * "grad_norm_g", ...; images "slice/mel_org", "slice/mel_gen", "all/mel", "all/attn" in model_dir;
 * "gen/mel_<i>", "gt/mel_<i>", audio "gen/audio_<i>_<True|False>", "gt/audio_<i>" in model_dir/eval.
 *
 *   char err[512];
 *   bv_tb_writer *tb = bv_tb_open(model_dir, err, sizeof err);   // creates the folder
 *   if (!tb) { fprintf(stderr, "warning: %s\n", err); ... }
 *   bv_tb_scalar(tb, "loss/g/total", step, loss);
 *   bv_tb_image_rgb(tb, "all/mel", step, h, w, rgb);          // see png_image.h for rendering
 *   bv_tb_audio(tb, "gen/audio_0_True", step, 44100, y, n);
 *   bv_tb_close(tb);
 *
 * Adds return 0, or -1 with the message in bv_tb_error(tb); nothing exits, so the trainer decides
 * whether a lost log is fatal. An image or audio that cannot be encoded is refused alone; after a
 * failed write (full disk, ...) the writer stops writing, since the file may end in a torn record.
 */
#ifndef BV_IO_TENSORBOARD_H
#define BV_IO_TENSORBOARD_H

#include <stddef.h>
#include <stdint.h>

typedef struct bv_tb_writer bv_tb_writer;

/* Creates `dir` (and parents) if needed and opens a new event file in it with the file_version
 * record written. NULL with err filled (naming the path) on failure. */
bv_tb_writer *bv_tb_open(const char *dir, char *err, size_t errcap);
/* Flushes and closes; NULL is fine. Returns 0, or -1 if the final write failed. */
int bv_tb_close(bv_tb_writer *w);

/* add_scalar(tag, value, step) (stored as float, as SummaryWriter does) */
int bv_tb_scalar(bv_tb_writer *w, const char *tag, int64_t step, double value);
/* add_image(tag, pixels, step, dataformats="HWC"): pixels [height, width] gray / [height, width, 3] RGB */
int bv_tb_image_gray(bv_tb_writer *w, const char *tag, int64_t step, int height, int width, const uint8_t *pixels);
int bv_tb_image_rgb(bv_tb_writer *w, const char *tag, int64_t step, int height, int width, const uint8_t *pixels);
/* add_audio(tag, samples, step, sample_rate): mono float samples in [-1, 1] (clipped) as 16-bit WAV */
int bv_tb_audio(bv_tb_writer *w, const char *tag, int64_t step, int sample_rate, const float *samples, int64_t n);

int bv_tb_flush(bv_tb_writer *w);
/* The event file's path, and the latest error ("" if none). */
const char *bv_tb_path(const bv_tb_writer *w);
const char *bv_tb_error(const bv_tb_writer *w);

/* The checksum pieces, exposed for tests and for readers of the format. */
uint32_t bv_crc32c(const void *data, size_t n);
uint32_t bv_crc32c_masked(const void *data, size_t n);

#endif
