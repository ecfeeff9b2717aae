/* arena.c - chunked bump allocator. Chunks form a list; a reset rewinds to the first chunk and
 * keeps every chunk for reuse. */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "error.h"

#define BV_ARENA_ALIGN 64

struct bv_arena_chunk {
    bv_arena_chunk *next;   /* next chunk to use after this one (towards newer) */
    bv_arena_chunk *prev;
    size_t size;
    size_t used;
    unsigned char *base;
};

_Static_assert(BV_ARENA_ALIGN <= BV_BACKEND_ALIGN, "allocators align less than the arena promises");

static bv_arena_chunk *chunk_new(const bv_allocator *mem, size_t size) {
    bv_arena_chunk *c = bv_xcalloc(1, sizeof *c);
    c->size = size;
    c->base = mem->alloc(size);
    if (!c->base) BV_FATAL("out of memory: arena chunk of %zu bytes", size);
    return c;
}

void bv_arena_init(bv_arena *a, size_t chunk_size, const bv_allocator *mem) {
    memset(a, 0, sizeof *a);
    a->chunk_size = chunk_size ? chunk_size : (size_t)64 << 20;
    a->mem = mem ? mem : bv_host_allocator();
}

void bv_arena_free(bv_arena *a) {
    bv_arena_chunk *c = a->head;
    while (c && c->prev) c = c->prev;
    while (c) {
        bv_arena_chunk *n = c->next;
        a->mem->free(c->base);
        free(c);
        c = n;
    }
    memset(a, 0, sizeof *a);
}

void *bv_arena_alloc(bv_arena *a, size_t n) {
    n = (n + BV_ARENA_ALIGN - 1) / BV_ARENA_ALIGN * BV_ARENA_ALIGN;
    if (n == 0) n = BV_ARENA_ALIGN;
    for (int i = 0; i < a->n_holes; i++) { /* first fit; each hole fills like a little arena */
        bv_arena_hole *h = &a->holes[i];
        if (h->size - h->used >= n) {
            void *p = h->base + h->used;
            h->used += n;
            return p;
        }
    }
    for (;;) {
        bv_arena_chunk *c = a->head;
        if (c && c->size - c->used >= n) {
            void *p = c->base + c->used;
            c->used += n;
            a->in_use += n;
            if (a->in_use > a->peak) a->peak = a->in_use;
            return p;
        }
        /* advance to a following chunk that fits (kept from before a reset), or add one */
        if (c && c->next && c->next->size >= n) {
            a->head = c->next;
            a->head->used = 0;
            continue;
        }
        size_t sz = n > a->chunk_size ? n : a->chunk_size;
        bv_arena_chunk *nc = chunk_new(a->mem, sz);
        if (c) {
            /* splice the new chunk right after the current one */
            nc->next = c->next;
            if (c->next) c->next->prev = nc;
            nc->prev = c;
            c->next = nc;
        }
        a->head = nc;
    }
}

void *bv_arena_calloc(bv_arena *a, size_t n) {
    BV_ASSERT(a->mem->host_visible);
    void *p = bv_arena_alloc(a, n);
    a->mem->fill32(p, 0, n / sizeof(uint32_t)); /* the host allocator's zeroing (parallel when large) */
    memset((char *)p + n / sizeof(uint32_t) * sizeof(uint32_t), 0, n % sizeof(uint32_t));
    return p;
}

static void forget_holes(bv_arena *a) {
    if (a->n_holes) a->holes_gen++;
    a->n_holes = 0;
}

void bv_arena_reset(bv_arena *a) {
    forget_holes(a);
    bv_arena_chunk *c = a->head;
    if (!c) return;
    while (c->prev) c = c->prev;
    c->used = 0;
    a->head = c;
    a->in_use = 0;
}

bv_arena_mark bv_arena_get_mark(const bv_arena *a) {
    bv_arena_mark m = {a->head, a->head ? a->head->used : 0, a->in_use, a->holes_gen, {0}};
    for (int i = 0; i < a->n_holes; i++) m.hole_used[i] = a->holes[i].used;
    return m;
}

size_t bv_arena_release(bv_arena *a, bv_arena_mark from, bv_arena_mark to) {
    BV_ASSERT(from.chunk && to.chunk);
    size_t total = 0;
    /* from's chunk from its mark to its end (or to `to` in the same chunk), the chunks between
     * whole, to's chunk up to its mark (the chunk list runs from older to newer through ->next) */
    for (bv_arena_chunk *c = from.chunk;; c = c->next) {
        BV_ASSERT(c != NULL); /* `to` must come after `from` */
        size_t lo = c == from.chunk ? from.used : 0, hi = c == to.chunk ? to.used : c->used;
        if (hi > lo + ((size_t)64 << 10) && a->n_holes < BV_ARENA_MAX_HOLES) {
            a->holes[a->n_holes++] = (bv_arena_hole){c->base + lo, hi - lo, 0};
            total += hi - lo;
        }
        if (c == to.chunk) break;
    }
    a->holes_gen++;
    return total;
}

void bv_arena_reset_to(bv_arena *a, bv_arena_mark m) {
    if (m.holes_gen == a->holes_gen)
        for (int i = 0; i < a->n_holes; i++) a->holes[i].used = m.hole_used[i];
    else
        forget_holes(a); /* the mark is older than the holes: what they held goes too */
    if (!m.chunk) {
        bv_arena_reset(a);
        return;
    }
    a->head = m.chunk;
    a->head->used = m.used;
    a->in_use = m.in_use;
}
