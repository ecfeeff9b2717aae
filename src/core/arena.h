/* arena.h - bump allocator for per-step memory (activations, their gradients, tape nodes).
 *
 * Memory is taken from large chunks and given back all at once with bv_arena_reset (or back to a
 * mark). Chunks are kept after a reset, so a training loop reaches a steady state with no malloc
 * inside the step. Every allocation is 64-byte aligned (AVX-512 loads, oneDNN buffers).
 *
 * Holes: bv_arena_release gives back the memory allocated between two marks while what came after
 * stays (a sub-graph whose activations died before the ones above it, e.g. once its backward ran).
 * The released ranges (one per chunk they span) become holes that later allocations fill first, each
 * as a small bump allocator of its own; a mark records how far every hole is filled, so rewinding to
 * a mark taken after the release empties the holes back to that point. Rewinding to a mark taken
 * before the release (or a reset) forgets the holes. The memory of a hole is not given back to the
 * system: the point is that what comes next reuses it instead of growing the arena.
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

#define BV_ARENA_MAX_HOLES 8

typedef struct bv_arena_hole {
    unsigned char *base;
    size_t size, used;
} bv_arena_hole;

typedef struct bv_arena {
    bv_arena_chunk *head;   /* chunk in use; older chunks follow via ->next */
    size_t chunk_size;      /* default size of new chunks */
    size_t in_use;          /* bytes handed out since the last reset */
    size_t peak;            /* high-water mark of in_use */
    const struct bv_allocator *mem; /* where chunks come from */
    bv_arena_hole holes[BV_ARENA_MAX_HOLES]; /* released ranges, filled first (bv_arena_release) */
    int n_holes;
    unsigned holes_gen;     /* changes whenever the set of holes does */
} bv_arena;

typedef struct bv_arena_mark {
    bv_arena_chunk *chunk;
    size_t used;
    size_t in_use;
    unsigned holes_gen;
    size_t hole_used[BV_ARENA_MAX_HOLES];
} bv_arena_mark;

/* mem NULL: the host allocator. chunk_size 0: 64 MiB. */
void bv_arena_init(bv_arena *a, size_t chunk_size, const struct bv_allocator *mem);
void bv_arena_free(bv_arena *a);
void *bv_arena_alloc(bv_arena *a, size_t n);          /* uninitialised, 64-byte aligned */
void *bv_arena_calloc(bv_arena *a, size_t n);         /* zeroed; host-visible arenas only */
void bv_arena_reset(bv_arena *a);
bv_arena_mark bv_arena_get_mark(const bv_arena *a);
void bv_arena_reset_to(bv_arena *a, bv_arena_mark m);
/* The memory allocated between marks `from` and `to` (from taken first; nothing between them may be
 * used again) becomes holes for later allocations. Ranges under 64 KiB, and those beyond
 * BV_ARENA_MAX_HOLES, are left unused. Returns the bytes released into holes. */
size_t bv_arena_release(bv_arena *a, bv_arena_mark from, bv_arena_mark to);

#endif
