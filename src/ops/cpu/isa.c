/* isa.c - can this CPU compute bf16 matmul-class ops natively (BV_AUTOCAST_BF16)?
 *
 * The bf16 kernels are oneDNN's, and oneDNN decides which instruction set it runs (its effective
 * ISA also honours ONEDNN_MAX_CPU_ISA). bf16 is worth running only where the hardware has bf16 dot
 * products: AVX512_BF16 (Intel Cooper Lake and later, AMD Zen 4) or AMX-BF16 (Intel Sapphire Rapids
 * and later). Elsewhere oneDNN would emulate bf16 slower than fp32, so we refuse and say why. */
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
