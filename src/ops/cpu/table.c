/* table.c - the CPU kernel table: one slot struct per op family, each defined beside its kernels. */
#include "../kernels.h"
#include "isa.h"

extern const bv_elementwise_kernels bv_cpu_elementwise;
/* reduce, norm, shape, random, relpos, gate */
extern const bv_reduce_kernels bv_cpu_reduce;
extern const bv_norm_kernels bv_cpu_norm;
extern const bv_shape_kernels bv_cpu_shape;
extern const bv_random_kernels bv_cpu_random;
extern const bv_relpos_kernels bv_cpu_relpos;
extern const bv_gate_kernels bv_cpu_gate;
/* linalg, lstm, spline, align, resample, stft, conv */
extern const bv_linalg_kernels bv_cpu_linalg;
extern const bv_lstm_kernels bv_cpu_lstm;
extern const bv_spline_kernels bv_cpu_spline;
extern const bv_align_kernels bv_cpu_align;
extern const bv_resample_kernels bv_cpu_resample;
extern const bv_stft_kernels bv_cpu_stft;
extern const bv_conv_kernels bv_cpu_conv;

const bv_kernels bv_cpu_kernels = {
    .device = "cpu",
    .bf16_check = bv_cpu_bf16_check,
    .bf16_note = bv_cpu_bf16_note,
    .elementwise = &bv_cpu_elementwise,
    /* reduce, norm, shape, random, relpos, gate */
    .reduce = &bv_cpu_reduce,
    .norm = &bv_cpu_norm,
    .shape = &bv_cpu_shape,
    .random = &bv_cpu_random,
    .relpos = &bv_cpu_relpos,
    .gate = &bv_cpu_gate,
    /* linalg, lstm, spline, align, resample, stft, conv */
    .linalg = &bv_cpu_linalg,
    .lstm = &bv_cpu_lstm,
    .spline = &bv_cpu_spline,
    .align = &bv_cpu_align,
    .resample = &bv_cpu_resample,
    .stft = &bv_cpu_stft,
    .conv = &bv_cpu_conv,
};
