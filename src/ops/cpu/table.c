/* table.c - the CPU kernel table: one slot struct per op family, each defined beside its kernels. */
#include "../kernels.h"

extern const bv_elementwise_kernels bv_cpu_elementwise;
/* ops-b */
extern const bv_reduce_kernels bv_cpu_reduce;
extern const bv_norm_kernels bv_cpu_norm;
extern const bv_shape_kernels bv_cpu_shape;
extern const bv_random_kernels bv_cpu_random;
extern const bv_relpos_kernels bv_cpu_relpos;
extern const bv_gate_kernels bv_cpu_gate;

const bv_kernels bv_cpu_kernels = {
    .device = "cpu",
    .elementwise = &bv_cpu_elementwise,
    /* ops-b */
    .reduce = &bv_cpu_reduce,
    .norm = &bv_cpu_norm,
    .shape = &bv_cpu_shape,
    .random = &bv_cpu_random,
    .relpos = &bv_cpu_relpos,
    .gate = &bv_cpu_gate,
};
