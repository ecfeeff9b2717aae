/* table.c - the CPU kernel table: one slot struct per op family, each defined beside its kernels. */
#include "../kernels.h"

extern const bv_elementwise_kernels bv_cpu_elementwise;

const bv_kernels bv_cpu_kernels = {
    .device = "cpu",
    .elementwise = &bv_cpu_elementwise,
};
