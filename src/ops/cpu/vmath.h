/* vmath.h - glibc's vector math (libmvec) for the elementwise kernels. With these declarations an
 * `omp simd` loop that calls expf / erff / tanhf is compiled to the 8-lane AVX2 variants
 * (_ZGVdN8v_expf, _ZGVdN8v_erff, _ZGVdN8v_tanhf; glibc >= 2.35, linked with -lmvec) instead of one
 * scalar libm call per element: GELU, sigmoid, tanh and the WaveNet gate were ~4% of a train step's
 * CPU in scalar erff / expm1f (tanhf's core) / expf. Accuracy: glibc's libm-test-ulps gives these
 * variants at most 1-2 ulp, the size of the differences between glibc's scalar functions and
 * PyTorch's own vectorised exp/erf/tanh (Sleef-style polynomials) that the golden tolerances
 * already absorb. Only included by the CPU kernels that want it; the rest of the program keeps
 * scalar libm. */
#ifndef BV_OPS_CPU_VMATH_H
#define BV_OPS_CPU_VMATH_H

#include <math.h>

#if defined(_OPENMP) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#pragma omp declare simd notinbranch
float expf(float);
#pragma omp declare simd notinbranch
float erff(float);
#pragma omp declare simd notinbranch
float tanhf(float);
#endif

#endif
