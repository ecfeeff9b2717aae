/* resample.h - the sinc kernel behind bv_resample (ops.h), exposed for tests and callers that
 * need its geometry. */
#ifndef BV_RESAMPLE_H
#define BV_RESAMPLE_H

#include "../core/backend.h"

/* torchaudio 0.13 _get_sinc_resample_kernel(orig, new, gcd, lowpass_filter_width 6, rolloff 0.99,
 * "sinc_interpolation") as float32: returns be's cached kernel [new/g, 1, 2*width + orig/g]
 * (g = gcd(orig, new), in be's device memory), or NULL for non-positive or equal rates, a device
 * without resample kernels, or no memory. Any of the out pointers may be NULL. The kernel lives
 * until the backend shuts down (bv_backend_shutdown). */
const float *bv_resample_kernel(bv_backend *be, int orig_freq, int new_freq, int *gcd, int *width, int *kernel_len);

#endif
