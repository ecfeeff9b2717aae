/* png_image.c - PNG in memory through libpng's write callbacks, and matplotlib-like heatmaps
 * (see png_image.h for what is drawn and what is left out). */
#include "png_image.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_H 200 /* figsize=(10, 2) at 100 dpi */
#define SPEC_W 1000
#define ALIGN_H 400 /* figsize=(6, 4) */
#define ALIGN_W 600

/* matplotlib's _viridis_data (CC0), each channel rounded to 8 bits: 0xRRGGBB */
static const uint32_t viridis_lut[256] = {
    0x440154, 0x440256, 0x450457, 0x450559, 0x46075a, 0x46085c, 0x460a5d, 0x460b5e,
    0x470d60, 0x470e61, 0x471063, 0x471164, 0x471365, 0x481467, 0x481668, 0x481769,
    0x48186a, 0x481a6c, 0x481b6d, 0x481c6e, 0x481d6f, 0x481f70, 0x482071, 0x482173,
    0x482374, 0x482475, 0x482576, 0x482677, 0x482878, 0x482979, 0x472a7a, 0x472c7a,
    0x472d7b, 0x472e7c, 0x472f7d, 0x46307e, 0x46327e, 0x46337f, 0x463480, 0x453581,
    0x453781, 0x453882, 0x443983, 0x443a83, 0x443b84, 0x433d84, 0x433e85, 0x423f85,
    0x424086, 0x424186, 0x414287, 0x414487, 0x404588, 0x404688, 0x3f4788, 0x3f4889,
    0x3e4989, 0x3e4a89, 0x3e4c8a, 0x3d4d8a, 0x3d4e8a, 0x3c4f8a, 0x3c508b, 0x3b518b,
    0x3b528b, 0x3a538b, 0x3a548c, 0x39558c, 0x39568c, 0x38588c, 0x38598c, 0x375a8c,
    0x375b8d, 0x365c8d, 0x365d8d, 0x355e8d, 0x355f8d, 0x34608d, 0x34618d, 0x33628d,
    0x33638d, 0x32648e, 0x32658e, 0x31668e, 0x31678e, 0x31688e, 0x30698e, 0x306a8e,
    0x2f6b8e, 0x2f6c8e, 0x2e6d8e, 0x2e6e8e, 0x2e6f8e, 0x2d708e, 0x2d718e, 0x2c718e,
    0x2c728e, 0x2c738e, 0x2b748e, 0x2b758e, 0x2a768e, 0x2a778e, 0x2a788e, 0x29798e,
    0x297a8e, 0x297b8e, 0x287c8e, 0x287d8e, 0x277e8e, 0x277f8e, 0x27808e, 0x26818e,
    0x26828e, 0x26828e, 0x25838e, 0x25848e, 0x25858e, 0x24868e, 0x24878e, 0x23888e,
    0x23898e, 0x238a8d, 0x228b8d, 0x228c8d, 0x228d8d, 0x218e8d, 0x218f8d, 0x21908d,
    0x21918c, 0x20928c, 0x20928c, 0x20938c, 0x1f948c, 0x1f958b, 0x1f968b, 0x1f978b,
    0x1f988b, 0x1f998a, 0x1f9a8a, 0x1e9b8a, 0x1e9c89, 0x1e9d89, 0x1f9e89, 0x1f9f88,
    0x1fa088, 0x1fa188, 0x1fa187, 0x1fa287, 0x20a386, 0x20a486, 0x21a585, 0x21a685,
    0x22a785, 0x22a884, 0x23a983, 0x24aa83, 0x25ab82, 0x25ac82, 0x26ad81, 0x27ad81,
    0x28ae80, 0x29af7f, 0x2ab07f, 0x2cb17e, 0x2db27d, 0x2eb37c, 0x2fb47c, 0x31b57b,
    0x32b67a, 0x34b679, 0x35b779, 0x37b878, 0x38b977, 0x3aba76, 0x3bbb75, 0x3dbc74,
    0x3fbc73, 0x40bd72, 0x42be71, 0x44bf70, 0x46c06f, 0x48c16e, 0x4ac16d, 0x4cc26c,
    0x4ec36b, 0x50c46a, 0x52c569, 0x54c568, 0x56c667, 0x58c765, 0x5ac864, 0x5cc863,
    0x5ec962, 0x60ca60, 0x63cb5f, 0x65cb5e, 0x67cc5c, 0x69cd5b, 0x6ccd5a, 0x6ece58,
    0x70cf57, 0x73d056, 0x75d054, 0x77d153, 0x7ad151, 0x7cd250, 0x7fd34e, 0x81d34d,
    0x84d44b, 0x86d549, 0x89d548, 0x8bd646, 0x8ed645, 0x90d743, 0x93d741, 0x95d840,
    0x98d83e, 0x9bd93c, 0x9dd93b, 0xa0da39, 0xa2da37, 0xa5db36, 0xa8db34, 0xaadc32,
    0xaddc30, 0xb0dd2f, 0xb2dd2d, 0xb5de2b, 0xb8de29, 0xbade28, 0xbddf26, 0xc0df25,
    0xc2df23, 0xc5e021, 0xc8e020, 0xcae11f, 0xcde11d, 0xd0e11c, 0xd2e21b, 0xd5e21a,
    0xd8e219, 0xdae319, 0xdde318, 0xdfe318, 0xe2e418, 0xe5e419, 0xe7e419, 0xeae51a,
    0xece51b, 0xefe51c, 0xf1e51d, 0xf4e61e, 0xf6e620, 0xf8e621, 0xfbe723, 0xfde725,
};

void bv_viridis(double t, uint8_t rgb[3]) {
    /* matplotlib Colormap.__call__: index = int(t * N), t == 1 -> N - 1, out of range clamped */
    int i = t > 0 ? (int)(t * 256.0) : 0;
    if (i > 255) i = 255;
    uint32_t c = viridis_lut[i];
    rgb[0] = (uint8_t)(c >> 16);
    rgb[1] = (uint8_t)(c >> 8);
    rgb[2] = (uint8_t)c;
}

/* ---- PNG ---- */
typedef struct pngbuf {
    uint8_t *data;
    size_t size, cap;
    int oom;
    char msg[200]; /* libpng's error text */
} pngbuf;

static void png_write_cb(png_structp png, png_bytep bytes, png_size_t n) {
    pngbuf *b = png_get_io_ptr(png);
    if (b->oom) return;
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->size + n) cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->size, bytes, n);
    b->size += n;
}

static void png_flush_cb(png_structp png) { (void)png; }

static void png_error_cb(png_structp png, png_const_charp msg) {
    pngbuf *b = png_get_error_ptr(png);
    snprintf(b->msg, sizeof b->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

int bv_png_encode(const uint8_t *pixels, int height, int width, int channels, uint8_t **out, size_t *out_size,
                  char *err, size_t errcap) {
    *out = NULL;
    *out_size = 0;
    static const int color_type[5] = {-1, PNG_COLOR_TYPE_GRAY, -1, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA};
    if (height < 1 || width < 1 || height > 1000000 || width > 1000000 || channels < 1 || channels > 4 ||
        color_type[channels] < 0) {
        snprintf(err, errcap, "png encode: invalid image %d x %d x %d (channels must be 1, 3 or 4)", height, width,
                 channels);
        return -1;
    }
    pngbuf *b = calloc(1, sizeof *b); /* on the heap: it must survive libpng's longjmp unchanged */
    png_structp png = b ? png_create_write_struct(PNG_LIBPNG_VER_STRING, b, png_error_cb, png_warning_cb) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        snprintf(err, errcap, "png encode: out of memory");
        if (png) png_destroy_write_struct(&png, NULL);
        free(b);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(err, errcap, "png encode: %s", b->msg[0] ? b->msg : "libpng error");
        png_destroy_write_struct(&png, &info);
        free(b->data);
        free(b);
        return -1;
    }
    png_set_write_fn(png, b, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color_type[channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t row_bytes = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * row_bytes));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (b->oom) {
        snprintf(err, errcap, "png encode: out of memory");
        free(b->data);
        free(b);
        return -1;
    }
    *out = b->data;
    *out_size = b->size;
    free(b);
    return 0;
}

/* ---- heatmaps ---- */
uint8_t *bv_heatmap_rgb(const float *data, int rows, int cols, int64_t row_stride, int64_t col_stride,
                        int out_h, int out_w) {
    if (rows < 1 || cols < 1 || out_h < 1 || out_w < 1) return NULL;
    /* auto-scaled colour range, as imshow's default Normalize over the finite values */
    double lo = INFINITY, hi = -INFINITY;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double v = data[r * row_stride + c * col_stride];
            if (isfinite(v)) {
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
        }
    double scale = hi > lo ? 1.0 / (hi - lo) : 0.0; /* flat data: Normalize maps everything to 0 */
    uint8_t *img = malloc((size_t)out_h * (size_t)out_w * 3);
    if (!img) return NULL;
    for (int y = 0; y < out_h; y++) {
        int r = (int)((int64_t)(out_h - 1 - y) * rows / out_h); /* origin="lower": row 0 at the bottom */
        uint8_t *px = img + (size_t)y * (size_t)out_w * 3;
        for (int x = 0; x < out_w; x++, px += 3) {
            int c = (int)((int64_t)x * cols / out_w);
            double v = data[r * row_stride + c * col_stride];
            if (isfinite(v))
                bv_viridis((v - lo) * scale, px);
            else
                px[0] = px[1] = px[2] = 255;
        }
    }
    return img;
}

uint8_t *bv_plot_spectrogram_rgb(const float *spec, int channels, int frames, int *h, int *w) {
    *h = SPEC_H;
    *w = SPEC_W;
    return bv_heatmap_rgb(spec, channels, frames, frames, 1, SPEC_H, SPEC_W);
}

uint8_t *bv_plot_alignment_rgb(const float *attn, int t_dec, int t_enc, int *h, int *w) {
    *h = ALIGN_H;
    *w = ALIGN_W;
    /* upstream plots alignment.transpose(): rows are encoder steps, columns decoder steps */
    return bv_heatmap_rgb(attn, t_enc, t_dec, 1, t_enc, ALIGN_H, ALIGN_W);
}
