/* isa.h - whether this CPU computes bf16 natively, and whether that gains anything (isa.c). */
#ifndef BV_OPS_CPU_ISA_H
#define BV_OPS_CPU_ISA_H

#include <stddef.h>

/* 0 when oneDNN runs bf16 natively here, else -1 and why (bv_kernels.bf16_check). */
int bv_cpu_bf16_check(char *why, size_t cap);
/* 1 and a sentence when bf16 runs natively but no faster than fp32 here (bv_kernels.bf16_note). */
int bv_cpu_bf16_note(char *note, size_t cap);
/* The rule behind bv_cpu_bf16_note, from the CPU's facts: an Intel core with AVX512_BF16 and no
 * usable AMX. */
int bv_cpu_bf16_gains_nothing(int intel, int avx512_bf16, int amx_usable);

#endif /* BV_OPS_CPU_ISA_H */
