/* mel.h - mel_processing.py: mel filterbank (librosa 0.9.2), Hann window, and the differentiable
 * spec_to_mel / mel_spectrogram composites the training loss uses. */
#ifndef BV_MEL_H
#define BV_MEL_H

#include "../ops/ops.h"

/* librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm='slaney') as float32
 * [n_mels, n_fft/2+1] (malloc'd; the caller frees). fmax <= 0 or NAN means sr/2 (upstream None).
 * NULL for non-positive sizes. */
float *bv_mel_filterbank(int sr, int n_fft, int n_mels, double fmin, double fmax);

/* torch.hann_window(win) (periodic=True), float32 [win] (malloc'd; the caller frees). */
float *bv_hann_window(int win);

/* spec_to_mel_torch: log(clamp(mel_basis @ spec, min=1e-5)).
 * spec [B, F, T], mel_basis [M, F] -> [B, M, T]. Differentiable in spec (and mel_basis). */
bv_tensor *bv_spec_to_mel(bv_ctx *ctx, bv_tensor *spec, bv_tensor *mel_basis);

/* mel_spectrogram_torch(y, n_fft, num_mels, sr, hop, win, fmin, fmax, center=False):
 * y [B, T] -> [B, num_mels, frames], differentiable in y. The mel basis is built once per
 * (sr, n_fft, num_mels, fmin, fmax) and cached by the context's backend (its BV_CACHE_MEL slot, until
 * the backend shuts down), as upstream caches it. */
bv_tensor *bv_mel_spectrogram(bv_ctx *ctx, bv_tensor *y, int n_fft, int num_mels, int sr, int hop, int win,
                              double fmin, double fmax);

#endif
