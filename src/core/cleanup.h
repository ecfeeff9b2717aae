/* cleanup.h - giving back what process-wide caches hold (oneDNN primitives and engine, FFTW plans,
 * resampler kernels, mel filterbanks), so a run ends with nothing leaked and LeakSanitizer can stay
 * on. A cache registers its free function when it first fills; bv2's main() and the test runner call
 * bv_cleanup_run() last. (Owning these caches in a backend object, with no process-wide state at
 * all, is the backend-boundary redesign; this is the shutdown half of it.) */
#ifndef BV_CORE_CLEANUP_H
#define BV_CORE_CLEANUP_H

/* Registers fn once (a second registration of the same fn is ignored); thread-safe. */
void bv_cleanup_register(void (*fn)(void));
/* Calls every registered fn, newest first, and forgets them. Caches fill again if used later. */
void bv_cleanup_run(void);

#endif
