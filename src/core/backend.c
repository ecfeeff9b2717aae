/* backend.c - the backend registry, cache slots, and the CPU backend's allocator (see backend.h). */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"

/* The CPU kernel table, defined by the ops layer (src/ops/cpu/table.c). */
extern const struct bv_kernels bv_cpu_kernels;

/* malloc / calloc plus up to BV_BACKEND_ALIGN bytes, the pointer rounded up to the alignment and the
 * distance back to the block kept in the byte before it. calloc (not aligned_alloc + memset) so that
 * a big zeroed buffer stays untouched zero pages until written, as calloc'd parameter stores were. */
static void *cpu_alloc_impl(size_t bytes, int zeroed) {
    if (bytes > SIZE_MAX - 2 * BV_BACKEND_ALIGN) return NULL;
    size_t n = (bytes ? bytes : 1) + BV_BACKEND_ALIGN;
    unsigned char *raw = zeroed ? calloc(1, n) : malloc(n);
    if (!raw) return NULL;
    unsigned char *p = (unsigned char *)(((uintptr_t)raw + BV_BACKEND_ALIGN) & ~(uintptr_t)(BV_BACKEND_ALIGN - 1));
    p[-1] = (unsigned char)(p - raw); /* 1 .. BV_BACKEND_ALIGN */
    return p;
}
static void *cpu_alloc(size_t bytes) { return cpu_alloc_impl(bytes, 0); }
static void *cpu_alloc_zeroed(size_t bytes) { return cpu_alloc_impl(bytes, 1); }
static void cpu_free(void *p) {
    if (p) free((unsigned char *)p - ((unsigned char *)p)[-1]);
}
_Static_assert(BV_BACKEND_ALIGN <= 255, "the distance to the block must fit in a byte");
static void cpu_copy(void *dst, const void *src, size_t bytes) {
    if (bytes) memcpy(dst, src, bytes);
}
static void cpu_fill32(void *dst, uint32_t pattern, size_t n) {
    if (pattern == 0) {
        /* zeroed gradients and activation-grad buffers run to hundreds of MiB a step: both cores
         * write (in 1 MiB pieces) when there is more than a few MiB */
        const size_t bytes = n * sizeof(uint32_t), piece = (size_t)1 << 20;
        const int64_t pieces = (int64_t)((bytes + piece - 1) / piece);
#pragma omp parallel for schedule(static) if (bytes >= 8 * piece)
        for (int64_t i = 0; i < pieces; i++) {
            const size_t at = (size_t)i * piece, len = bytes - at < piece ? bytes - at : piece;
            memset((char *)dst + at, 0, len);
        }
        return;
    }
    uint32_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = pattern;
}

static bv_backend g_cpu = {
    .device = BV_DEV_CPU,
    .name = "cpu",
    .kernels = &bv_cpu_kernels,
    .mem = {cpu_alloc, cpu_alloc_zeroed, cpu_free, cpu_copy, cpu_copy, cpu_copy, cpu_fill32, 1},
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

const bv_allocator *bv_host_allocator(void) { return &g_cpu.mem; }

bv_backend *bv_backend_get(bv_device dev) {
    return dev == BV_DEV_CPU ? &g_cpu : NULL; /* a CUDA build adds its backend here */
}

static void shutdown_all(void) { bv_backend_shutdown_all(); }

void *bv_backend_cache(bv_backend *be, bv_cache_id id, void *(*make)(void), void (*destroy)(void *)) {
    BV_ASSERT(id >= 0 && id < BV_CACHE_COUNT);
    pthread_mutex_lock(&be->lock);
    bv_backend_cache_slot *s = &be->cache[id];
    if (!s->p && (s->p = make())) s->destroy = destroy;
    void *p = s->p;
    pthread_mutex_unlock(&be->lock);
    if (p) bv_cleanup_register(shutdown_all);
    return p;
}

void bv_backend_shutdown(bv_backend *be) {
    pthread_mutex_lock(&be->lock);
    bv_backend_cache_slot slots[BV_CACHE_COUNT];
    memcpy(slots, be->cache, sizeof slots);
    memset(be->cache, 0, sizeof be->cache);
    pthread_mutex_unlock(&be->lock);
    for (int i = BV_CACHE_COUNT - 1; i >= 0; i--)
        if (slots[i].p) slots[i].destroy(slots[i].p);
}

void bv_backend_shutdown_all(void) { bv_backend_shutdown(&g_cpu); }
