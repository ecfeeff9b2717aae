/* table.c - the CPU kernel table: one slot struct per op family, each defined beside its kernels. */
#include "../kernels.h"

extern const bv_elementwise_kernels bv_cpu_elementwise;
/* ops-a families */
extern const bv_linalg_kernels bv_cpu_linalg;
extern const bv_lstm_kernels bv_cpu_lstm;
extern const bv_spline_kernels bv_cpu_spline;
extern const bv_align_kernels bv_cpu_align;
extern const bv_resample_kernels bv_cpu_resample;
extern const bv_stft_kernels bv_cpu_stft;
extern const bv_conv_kernels bv_cpu_conv;

const bv_kernels bv_cpu_kernels = {
    .device = "cpu",
    .elementwise = &bv_cpu_elementwise,
    /* ops-a families */
    .linalg = &bv_cpu_linalg,
    .lstm = &bv_cpu_lstm,
    .spline = &bv_cpu_spline,
    .align = &bv_cpu_align,
    .resample = &bv_cpu_resample,
    .stft = &bv_cpu_stft,
    .conv = &bv_cpu_conv,
};
