/* isa.c - can this CPU compute bf16 matmul-class ops natively (BV_AUTOCAST_BF16)?
 *
 * The bf16 kernels are oneDNN's, and oneDNN decides which instruction set it runs (its effective
 * ISA also honours ONEDNN_MAX_CPU_ISA). bf16 is worth running only where the hardware has bf16 dot
 * products: AVX512_BF16 (Intel Cooper Lake and later, AMD Zen 4) or AMX-BF16 (Intel Sapphire Rapids
 * and later). Elsewhere oneDNN would emulate bf16 slower than fp32, so we refuse and say why.
 * Where it runs but gains nothing, bv_cpu_bf16_note says so (a warning, not a refusal). */
#include "isa.h"

#include <cpuid.h>
#include <dnnl.h>
#include <stdio.h>

/* CPUID leaf 7: subleaf 1 EAX bit 5 is AVX512_BF16, subleaf 0 EDX bit 22 is AMX-BF16. */
static void cpu_bf16_flags(int *avx512_bf16, int *amx_bf16) {
    unsigned a, b, c, d;
    *avx512_bf16 = *amx_bf16 = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    *amx_bf16 = (d >> 22) & 1;
    unsigned max_sub = a;
    if (max_sub >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) *avx512_bf16 = (a >> 5) & 1;
}

/* CPUID leaf 0: the vendor string is EBX, EDX, ECX. */
static int cpu_is_intel(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    return b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu; /* "Genu" "ineI" "ntel" */
}

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx2: return "avx2";
    default: return "older than avx2";
    }
}

int bv_cpu_bf16_check(char *why, size_t cap) {
    int avx512_bf16, amx_bf16;
    cpu_bf16_flags(&avx512_bf16, &amx_bf16);
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    /* oneDNN's ISA values are cumulative bit sets: avx512_core_amx contains avx512_core_bf16 */
    int dnnl_bf16 = ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16;
    if ((avx512_bf16 || amx_bf16) && dnnl_bf16) return 0;
    if (!avx512_bf16 && !amx_bf16)
        snprintf(why, cap, "this CPU has neither AVX512_BF16 nor AMX-BF16 (oneDNN runs %s here), so bf16 would be "
                           "emulated and slower than fp32",
                 isa_name(isa));
    else
        snprintf(why, cap, "oneDNN is limited to %s here (ONEDNN_MAX_CPU_ISA?), below avx512_core_bf16", isa_name(isa));
    return -1;
}

int bv_cpu_bf16_gains_nothing(int intel, int avx512_bf16, int amx_usable) { return intel && avx512_bf16 && !amx_usable; }

/* On an Intel core without usable AMX (Cooper Lake; a Sapphire / Emerald Rapids whose hypervisor
 * hides AMX) oneDNN's AVX512_BF16 kernels compute no faster than its fp32 ones, and the conversions
 * cost extra. Measured on a Xeon model 207 without AMX (2 threads): oneDNN's avx512_core_bf16 conv
 * kernels took 1.45x the CPU time of its fp32 ones on the same rounded inputs over a train step's
 * 445 passes; make bench: our bf16 synthesis 1.52x and bf16 step 1.09x our fp32 times, PyTorch's
 * autocast 1.58x and 1.16x its fp32. Zen 4 doubles its bf16 rate over fp32; AMX multiplies it. The
 * synthesis path's bf16 convs therefore run oneDNN's fp32 kernels on rounded inputs where this says
 * so (conv.c, post_emulates): bf16 synthesis ~1.1x the fp32 time instead of 1.5-1.8x. */
int bv_cpu_bf16_note(char *note, size_t cap) {
    char why[256];
    if (bv_cpu_bf16_check(why, sizeof why)) return 0; /* refused (ONEDNN_MAX_CPU_ISA too): no note */
    int avx512_bf16, amx_bf16;
    cpu_bf16_flags(&avx512_bf16, &amx_bf16);
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    const unsigned amx = (unsigned)dnnl_cpu_isa_avx512_core_amx;
    const int amx_usable = amx_bf16 && ((unsigned)isa & amx) == amx;
    if (!bv_cpu_bf16_gains_nothing(cpu_is_intel(), avx512_bf16, amx_usable)) return 0;
    snprintf(note, cap, "this Intel CPU has AVX512_BF16 but no usable AMX (oneDNN runs %s): bf16 computes no "
                        "faster than fp32 here and its conversions make it slower (measured on a Xeon without AMX: "
                        "synthesis and train step 1.1x the fp32 time, most convolutions running fp32 kernels on "
                        "bf16-rounded inputs)",
             isa_name(isa));
    return 1;
}
