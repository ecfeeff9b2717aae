/* conv_ref.h - convolution internals shared by the oneDNN kernels (conv.c), the naive reference
 * (conv_ref.c, the test oracle for bv_conv1d / bv_conv_transpose1d / bv_conv2d) and the tests.
 *
 * One geometry describes all three ops: 1 or 2 spatial dims, PyTorch semantics (dilation >= 1,
 * symmetric zero padding `pad`, output_padding only for transposed convs). Weight layouts are
 * PyTorch's: conv [OC, IC/G, K...], transposed conv [IC, OC/G, K...].
 */
#ifndef BV_CONV_REF_H
#define BV_CONV_REF_H

#include <stdint.h>

/* All fields are int64_t: no padding bytes, so conv.c can hash and memcmp it as a cache key. */
typedef struct bv_conv_geom {
    int64_t nsp;                             /* spatial dims: 1 (conv1d, conv_transpose1d) or 2 (conv2d) */
    int64_t transposed;                      /* ConvTranspose: x is the "dst" side of a convolution */
    int64_t has_bias;
    int64_t N, IC, OC, G;                    /* batch, input channels, output channels, groups */
    int64_t in[2], out[2], k[2];             /* spatial sizes (unused dims are 1) */
    int64_t stride[2], pad[2], dil[2], out_pad[2];
} bv_conv_geom;

/* Output size of one spatial dim (PyTorch's formula); may be < 1 for impossible geometries. */
int64_t bv_conv_out_size(const bv_conv_geom *g, int d);

/* Naive double-accumulating oracle. y [N, OC, out...] = conv(x [N, IC, in...], w) + b.
 * b may be NULL (also when !has_bias). Overwrites y. */
void bv_conv_ref_forward(float *y, const float *x, const float *w, const float *b, const bv_conv_geom *g);
/* Gradients of sum(y * gy): gx [N, IC, in...], gw (w's layout), gb [OC]; each may be NULL.
 * OVERWRITES the ones given (unlike op backward functions, which accumulate). */
void bv_conv_ref_backward(float *gx, float *gw, float *gb, const float *gy, const float *x, const float *w,
                          const bv_conv_geom *g);

/* conv.c's oneDNN primitive cache: its capacity and how many entries are in use (tests, bench). */
int bv_conv_cache_capacity(void);
int bv_conv_cache_used(void);

/* Which layouts conv.c hands oneDNN: AUTO (the default: per shape and pass, whichever measured
 * faster), or always PLAIN / always BLOCKED (tests run every oracle check under each). */
typedef enum { BV_CONV_LAYOUT_AUTO = 0, BV_CONV_LAYOUT_PLAIN, BV_CONV_LAYOUT_BLOCKED } bv_conv_layout;
void bv_conv_set_layout(bv_conv_layout layout);

#endif
