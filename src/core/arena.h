/* arena.h - bump allocator for per-step memory (activations, their gradients, tape nodes).
 *
 * Memory is taken from large chunks and given back all at once with bv_arena_reset (or back to a
 * mark). Chunks are kept after a reset, so a training loop reaches a steady state with no malloc
 * inside the step. Every allocation is 64-byte aligned (AVX-512 loads, oneDNN buffers).
 *
 * Chunks come from an allocator (backend.h): a context's data arena takes its backend's, so on a
 * device the chunks are device memory; the chunk list itself is host memory. bv_arena_calloc zeroes
 * through the host and is for host-visible arenas only (host bookkeeping); device data is zeroed by
 * its tensor constructor (bv_zeros) through the allocator.
 */
#ifndef BV_ARENA_H
#define BV_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct bv_allocator;

typedef struct bv_arena_chunk bv_arena_chunk;

typedef struct bv_arena {
    bv_arena_chunk *head;   /* chunk in use; older chunks follow via ->next */
    size_t chunk_size;      /* default size of new chunks */
    size_t in_use;          /* bytes handed out since the last reset */
    size_t peak;            /* high-water mark of in_use */
    const struct bv_allocator *mem; /* where chunks come from */
} bv_arena;

typedef struct bv_arena_mark {
    bv_arena_chunk *chunk;
    size_t used;
    size_t in_use;
} bv_arena_mark;

/* mem NULL: the host allocator. chunk_size 0: 64 MiB. */
void bv_arena_init(bv_arena *a, size_t chunk_size, const struct bv_allocator *mem);
void bv_arena_free(bv_arena *a);
void *bv_arena_alloc(bv_arena *a, size_t n);          /* uninitialised, 64-byte aligned */
void *bv_arena_calloc(bv_arena *a, size_t n);         /* zeroed; host-visible arenas only */
void bv_arena_reset(bv_arena *a);
bv_arena_mark bv_arena_get_mark(const bv_arena *a);
void bv_arena_reset_to(bv_arena *a, bv_arena_mark m);

#endif
