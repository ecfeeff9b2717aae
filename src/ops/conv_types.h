/* conv_types.h - the convolution geometry and layout choice, shared by the conv constructors
 * (conv.c), the kernel table (kernels.h), the naive oracle (conv_ref.h) and the model's layout
 * query (ops.h: bv_conv_layout_for).
 *
 * One geometry describes all three ops: 1 or 2 spatial dims, PyTorch semantics (dilation >= 1,
 * symmetric zero padding `pad`, output_padding only for transposed convs). Weight layouts are
 * PyTorch's: conv [OC, IC/G, K...], transposed conv [IC, OC/G, K...]. */
#ifndef BV_CONV_TYPES_H
#define BV_CONV_TYPES_H

#include <stdint.h>

/* All fields are int64_t: no padding bytes, so a kernel can hash and memcmp it as a cache key. */
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

/* Channels per block of the channel-blocked activation layout [B, C/16, T, 16] (ops.h). */
#define BV_CONV_BLOCK 16

/* Which layouts a backend runs its convs in: AUTO (the default: per shape and pass, whichever
 * measured faster), or always PLAIN / always BLOCKED (channel-blocked, [N, C/16, T, 16]). */
typedef enum { BV_CONV_LAYOUT_AUTO = 0, BV_CONV_LAYOUT_PLAIN, BV_CONV_LAYOUT_BLOCKED } bv_conv_layout;

/* How a bf16 conv pass picks its implementation (BV_CONV_BF16, or bv_conv_set_bf16_mode): MEASURE (the
 * default: every candidate timed on the first call of a shape and pass, the fastest kept), RULE (a
 * fixed rule: the same choice on every run), NATIVE (oneDNN's bf16 primitive), EMULATE (its fp32
 * primitive on bf16-rounded inputs), MATMUL (each pass as one bf16 im2col matmul over the batch where
 * the geometry allows it, native elsewhere), SPLIT (the native primitive on parts of the batch at
 * once, one per thread, where the batch and the threads allow it, native elsewhere). */
typedef enum {
    BV_CONV_BF16_MEASURE = 0,
    BV_CONV_BF16_RULE,
    BV_CONV_BF16_NATIVE,
    BV_CONV_BF16_EMULATE,
    BV_CONV_BF16_MATMUL,
    BV_CONV_BF16_SPLIT
} bv_conv_bf16_mode;

#endif
