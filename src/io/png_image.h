/* png_image.h - PNG encoding in memory (libpng) and heatmap rendering of 2-d arrays, for the
 * TensorBoard images train_ms.py logs (mel spectrograms, the MAS alignment).
 *
 * Upstream draws them with matplotlib (utils.plot_spectrogram_to_numpy / plot_alignment_to_numpy:
 * imshow with the viridis colormap, origin="lower", aspect="auto", colour range auto-scaled to the
 * data, interpolation="none", on a 10x2 in / 6x4 in figure at 100 dpi). We draw the same picture
 * without the figure furniture: a plain heatmap filling the whole image (no axes, tick labels,
 * axis titles or colorbar), nearest-neighbour scaled to upstream's figure size, row 0 at the
 * bottom, values mapped linearly from [min, max] of the finite data onto viridis. NaN/Inf cells
 * are drawn white (matplotlib leaves them transparent on a white figure).
 *
 *   int h, w;
 *   uint8_t *rgb = bv_plot_spectrogram_rgb(mel, n_mels, frames, &h, &w);   // [h, w, 3]
 *   uint8_t *png; size_t n;
 *   if (bv_png_encode(rgb, h, w, 3, &png, &n, err, sizeof err) == 0) { ... free(png); }
 *   free(rgb);
 */
#ifndef BV_IO_PNG_IMAGE_H
#define BV_IO_PNG_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Encodes 8-bit pixels [height, width, channels] (channels 1 gray, 3 RGB, 4 RGBA) as PNG.
 * *out (malloc) is the caller's to free. 0, or -1 with err filled. */
int bv_png_encode(const uint8_t *pixels, int height, int width, int channels, uint8_t **out, size_t *out_size,
                  char *err, size_t errcap);

/* matplotlib's viridis: t in [0, 1] (clamped) -> rgb, t*256 truncated to one of its 256 entries. */
void bv_viridis(double t, uint8_t rgb[3]);

/* Heatmap of a 2-d array into an [out_h, out_w, 3] RGB image (malloc; caller frees).
 * Element (r, c) is data[r * row_stride + c * col_stride]; r = 0..rows-1 runs bottom to top,
 * c = 0..cols-1 left to right, each cell stretched (nearest neighbour) over the image. */
uint8_t *bv_heatmap_rgb(const float *data, int rows, int cols, int64_t row_stride, int64_t col_stride,
                        int out_h, int out_w);

/* utils.plot_spectrogram_to_numpy: spec [channels, frames] -> a 200 x 1000 image
 * (x: frames, y: channels from the bottom). Sets *h, *w. */
uint8_t *bv_plot_spectrogram_rgb(const float *spec, int channels, int frames, int *h, int *w);

/* utils.plot_alignment_to_numpy(attn[0, 0]): attn [t_dec, t_enc] (spectrogram frames x text
 * tokens, as SynthesizerTrn returns it) -> a 400 x 600 image, x: decoder step, y: encoder step. */
uint8_t *bv_plot_alignment_rgb(const float *attn, int t_dec, int t_enc, int *h, int *w);

#endif
