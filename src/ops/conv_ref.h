/* conv_ref.h - the naive convolution oracle (conv_ref.c, the test oracle for bv_conv1d /
 * bv_conv_transpose1d / bv_conv2d) and the conv backend's test hooks (cache size, layout override).
 * The geometry is conv_types.h's. */
#ifndef BV_CONV_REF_H
#define BV_CONV_REF_H

#include <stdint.h>

#include "../core/backend.h"
#include "conv_types.h"

/* Naive double-accumulating oracle. y [N, OC, out...] = conv(x [N, IC, in...], w) + b.
 * b may be NULL (also when !has_bias). Overwrites y. */
void bv_conv_ref_forward(float *y, const float *x, const float *w, const float *b, const bv_conv_geom *g);
/* Gradients of sum(y * gy): gx [N, IC, in...], gw (w's layout), gb [OC]; each may be NULL.
 * OVERWRITES the ones given (unlike op backward functions, which accumulate). */
void bv_conv_ref_backward(float *gx, float *gw, float *gb, const float *gy, const float *x, const float *w,
                          const bv_conv_geom *g);

/* be's conv primitive cache: its capacity and how many entries are in use (tests, bench); 0 on a
 * device without conv kernels. */
int bv_conv_cache_capacity(bv_backend *be);
int bv_conv_cache_used(bv_backend *be);
/* The primitives of the inference post-op convs (bv_conv1d_post_op) in be's cache (tests). */
int bv_conv_post_cache_used(bv_backend *be);

/* Overrides be's layout choice (tests run every oracle check under each; bench A/B): AUTO (per
 * shape and pass, whichever measured faster), always PLAIN or always BLOCKED. */
void bv_conv_set_layout(bv_backend *be, bv_conv_layout layout);
/* Overrides be's bf16 implementation choice (tests check each against the oracle; bench A/B). */
void bv_conv_set_bf16_mode(bv_backend *be, bv_conv_bf16_mode mode);
/* Overrides the piece length (output rows; 0: whole convs) the bf16 synthesis path's long
 * channels-last convs run in, so that one primitive serves every utterance length (tests, A/B). */
void bv_conv_set_nwc_piece(bv_backend *be, int64_t rows);

#endif
