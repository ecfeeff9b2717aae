/* backend.h - a device backend: its allocator, its kernel table and the caches its kernels keep.
 *
 * One backend object per device in use. bv_backend_get(dev) makes it on first use (thread-safe) and
 * bv_backend_shutdown_all() gives back everything every backend holds (bv2's main and the test runner
 * call it through bv_cleanup_run). Nothing else in the library keeps process-wide mutable state for a
 * device: a kernel that wants a cache (oneDNN primitives, FFTW plans, resampler kernels, mel bases)
 * asks its backend for the slot with bv_backend_cache and keeps its entries there, under its own lock.
 *
 * Contexts (ctx.h) are bound to one backend: every tensor a context makes lives on its device, and an
 * op given a tensor from another device fails naming the op (src/ops/dispatch.c).
 *
 * The kernel table (struct bv_kernels) is defined by the ops layer (src/ops/kernels.h); core only
 * carries the pointer. See docs/ARCHITECTURE.md for adding a device.
 */
#ifndef BV_CORE_BACKEND_H
#define BV_CORE_BACKEND_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

struct bv_kernels;

/* Device memory. alloc returns BV_BACKEND_ALIGN-aligned memory or NULL (never for 0 bytes: it
 * returns a valid block then); alloc_zeroed the same, zeroed (on the CPU: calloc's untouched zero pages,
 * so a zeroed buffer nothing writes costs no resident memory); free(NULL) does nothing. The rest
 * move or set bytes of device memory:
 *   to_host / from_host  between device memory and host memory (plain memcpy on the CPU);
 *   copy                 device to device (regions must not overlap);
 *   fill32               n 32-bit words at dev set to `pattern` (0 zeroes; a float's bits fill with it).
 * host_visible says whether the host may dereference device pointers (the CPU: yes; a discrete GPU:
 * no).
 *
 * The memory rule (see also ctx.h, params.h): everything that holds tensor DATA - tensor values,
 * activation gradients, parameters, their gradients, optimizer moments, kernel scratch - comes from
 * the backend's allocator, through the context's data arena, its gradient pool or the parameter
 * store. Host-side bookkeeping - tensor headers, tape nodes, saved structs holding pointers or
 * shapes, index tables read by host code - lives in host memory (the context's host arena, malloc).
 * Host code never dereferences tensor data: it reads and writes it through bv_to_host / bv_from_host /
 * bv_tensor_item / bv_fill / bv_copy_at (tensor.h). Kernels (src/ops/<device>/) are the only code that
 * touches ->data directly. On a host_visible backend the host and data arenas are one arena, so the
 * CPU pays nothing for the split. */
#define BV_BACKEND_ALIGN 64
typedef struct bv_allocator {
    void *(*alloc)(size_t bytes);
    void *(*alloc_zeroed)(size_t bytes);
    void (*free)(void *p);
    void (*to_host)(void *host, const void *dev, size_t bytes);
    void (*from_host)(void *dev, const void *host, size_t bytes);
    void (*copy)(void *dst_dev, const void *src_dev, size_t bytes);
    void (*fill32)(void *dev, uint32_t pattern, size_t n_words);
    int host_visible;
} bv_allocator;

/* The host's allocator (aligned malloc + memcpy): the CPU backend's, and what host-only arenas use. */
const bv_allocator *bv_host_allocator(void);

/* The caches a backend owns, one slot each. */
typedef enum {
    BV_CACHE_CONV = 0,   /* oneDNN engine, stream and primitives (src/ops/cpu/conv*.c) */
    BV_CACHE_FFT,        /* FFTW plans per size (stft) */
    BV_CACHE_RESAMPLE,   /* windowed-sinc kernels per rate pair */
    BV_CACHE_MEL,        /* mel filterbanks per (sr, n_fft, n_mels, fmin, fmax) */
    BV_CACHE_MATMUL,     /* oneDNN engine, stream and bf16 matmul primitives (src/ops/cpu/gemm.c) */
    BV_CACHE_CONV_POST,  /* oneDNN primitives of the inference convs with post-ops (src/ops/cpu/conv.c) */
    BV_CACHE_COUNT
} bv_cache_id;

typedef struct bv_backend_cache_slot {
    void *p;
    void (*destroy)(void *p);
} bv_backend_cache_slot;

typedef struct bv_backend {
    bv_device device;
    const char *name;
    const struct bv_kernels *kernels;
    bv_allocator mem;
    pthread_mutex_t lock;                        /* guards the cache slots (not their contents) */
    bv_backend_cache_slot cache[BV_CACHE_COUNT];
} bv_backend;

/* The backend of dev, made on first use; NULL when this build has no backend for dev. */
bv_backend *bv_backend_get(bv_device dev);
/* The cache in slot id: made by make() on the first call (under the backend's lock; make may return
 * NULL on failure and is asked again next time), given to destroy() at shutdown. */
void *bv_backend_cache(bv_backend *be, bv_cache_id id, void *(*make)(void), void (*destroy)(void *));
/* Gives back every cache of be (destroy newest slot first). */
void bv_backend_shutdown(bv_backend *be);
/* Gives back every cache of every backend made so far. Backends stay usable: caches fill again. */
void bv_backend_shutdown_all(void);

#endif
