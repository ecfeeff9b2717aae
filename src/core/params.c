/* params.c - named parameter store. Lookup is linear: stores hold at most a few thousand tensors
 * and lookups happen at load time only; model code keeps the returned pointers. */
#include "params.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "error.h"

void bv_params_init(bv_params *p) { bv_params_init_on(p, bv_backend_get(BV_DEV_CPU)); }

void bv_params_init_on(bv_params *p, bv_backend *be) {
    BV_ASSERT(be != NULL);
    memset(p, 0, sizeof *p);
    p->be = be;
}

/* A zeroed block of n floats of the store's device. */
static float *dev_floats(const bv_params *p, int64_t n) {
    size_t bytes = sizeof(float) * (size_t)n;
    float *b = p->be->mem.alloc_zeroed(bytes);
    if (!b) BV_FATAL("out of memory (%zu bytes for a parameter store)", bytes);
    return b;
}

/* A zeroed store (memset, calloc'd owner) is a CPU store. */
static bv_backend *store_be(bv_params *p) {
    if (!p->be) p->be = bv_backend_get(BV_DEV_CPU);
    return p->be;
}

void bv_params_free(bv_params *p) {
    const bv_allocator *mem = &store_be(p)->mem;
    for (int i = 0; i < p->n; i++) {
        bv_tensor *t = p->items[i];
        if (!p->data) {
            mem->free(t->data);
            mem->free(t->grad);
        }
        free((char *)t->name);
        free(t);
    }
    free(p->items);
    mem->free(p->bf16);
    if (p->data) mem->free(p->data);
    if (p->grad && !p->grad_borrowed) mem->free(p->grad);
    memset(p, 0, sizeof *p);
}

bv_tensor *bv_params_add(bv_params *p, const char *name, int ndim, const int64_t *shape) {
    if (bv_params_get(p, name)) BV_FATAL("parameter '%s' defined twice", name);
    if (p->data) BV_FATAL("parameter '%s' added to a packed store", name);
    BV_ASSERT(ndim >= 0 && ndim <= BV_MAX_DIMS);
    bv_tensor *t = bv_xcalloc(1, sizeof *t);
    t->dtype = BV_F32;
    t->device = store_be(p)->device;
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    t->numel = bv_shape_numel(ndim, shape);
    t->data = dev_floats(p, t->numel);
    t->grad = dev_floats(p, t->numel);
    t->requires_grad = true;
    t->is_param = true;
    size_t len = strlen(name);
    char *nm = bv_xmalloc(len + 1);
    memcpy(nm, name, len + 1);
    t->name = nm;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->items = bv_xrealloc(p->items, sizeof(bv_tensor *) * (size_t)p->cap);
    }
    p->items[p->n++] = t;
    return t;
}

bv_tensor *bv_params_addf(bv_params *p, int ndim, const int64_t *shape, const char *fmt, ...) {
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return bv_params_add(p, name, ndim, shape);
}

bv_tensor *bv_params_get(const bv_params *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->items[i]->name, name) == 0) return p->items[i];
    return NULL;
}

int bv_params_remove_prefix(bv_params *p, const char *prefix) {
    BV_ASSERT(!p->data);
    const bv_allocator *mem = &store_be(p)->mem;
    size_t len = strlen(prefix);
    int k = 0;
    for (int i = 0; i < p->n; i++) {
        bv_tensor *t = p->items[i];
        if (strncmp(t->name, prefix, len) != 0) {
            p->items[k++] = t;
            continue;
        }
        mem->free(t->data);
        mem->free(t->grad);
        free((char *)t->name);
        free(t);
    }
    int gone = p->n - k;
    p->n = k;
    return gone;
}

void bv_params_drop_grads(bv_params *p) {
    BV_ASSERT(!p->data);
    const bv_allocator *mem = &store_be(p)->mem;
    for (int i = 0; i < p->n; i++) {
        mem->free(p->items[i]->grad);
        p->items[i]->grad = NULL;
        p->items[i]->requires_grad = false;
    }
}

void bv_params_zero_grad(bv_params *p) {
    const bv_allocator *mem = &store_be(p)->mem;
    if (p->grad) {
        mem->fill32(p->grad, 0, (size_t)p->numel);
        return;
    }
    for (int i = 0; i < p->n; i++) mem->fill32(p->items[i]->grad, 0, (size_t)p->items[i]->numel);
}

void bv_params_zero_grad_range(bv_params *p, int64_t at, int64_t n) {
    if (!p->grad || at < 0 || n < 0 || at + n > p->grad_cap)
        BV_FATAL("zero_grad_range: [%lld, %lld) outside a grad block of %lld floats", (long long)at,
                 (long long)(at + n), (long long)p->grad_cap);
    store_be(p)->mem.fill32(p->grad + at, 0, (size_t)n);
}

int64_t bv_params_numel(const bv_params *p) {
    int64_t n = 0;
    for (int i = 0; i < p->n; i++) n += p->items[i]->numel;
    return n;
}

/* host memory: transparent huge pages for the grads (hundreds of MiB written by scattered weight-grad
 * kernels every step: fewer TLB misses, and one fault per 2 MiB when first written) */
static void huge_pages_for(bv_params *p, float *grad, int64_t n) {
    long page = sysconf(_SC_PAGESIZE);
    if (store_be(p)->mem.host_visible && page > 0) {
        const uintptr_t huge = (uintptr_t)2 << 20;
        uintptr_t a = (uintptr_t)grad, e = a + sizeof(float) * (size_t)n;
        uintptr_t lo = (a + huge - 1) / huge * huge, hi = e / huge * huge;
        if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* advice only: may be refused */
    }
}

/* Packs the items in the given order (a permutation of 0..n-1) into one data and one grad block,
 * the grad block grad_cap floats (>= the total). */
static void pack_in_order(bv_params *p, const int *order, int64_t grad_cap) {
    int64_t n = bv_params_numel(p);
    const bv_allocator *mem = &store_be(p)->mem;
    if (grad_cap < n) grad_cap = n;
    float *data = dev_floats(p, n), *grad = dev_floats(p, grad_cap);
    int64_t at = 0;
    for (int k = 0; k < p->n; k++) {
        bv_tensor *t = p->items[order[k]];
        size_t bytes = sizeof(float) * (size_t)t->numel;
        mem->copy(data + at, t->data, bytes);
        if (t->grad) mem->copy(grad + at, t->grad, bytes);
        mem->free(t->data);
        mem->free(t->grad);
        t->data = data + at;
        t->grad = grad + at;
        at += t->numel;
    }
    p->data = data;
    p->grad = grad;
    p->numel = n;
    p->grad_cap = grad_cap;
    huge_pages_for(p, grad, grad_cap);
}

static int name_in(const char *name, const char *const *prefixes, int n) {
    for (int i = 0; i < n; i++)
        if (!strncmp(name, prefixes[i], strlen(prefixes[i]))) return 1;
    return 0;
}

void bv_params_pack(bv_params *p) {
    if (!p->data) bv_params_pack_first(p, NULL, 0, 0);
}

int64_t bv_params_pack_first(bv_params *p, const char *const *first, int n, int64_t rest_room) {
    if (p->data) BV_FATAL("bv_params_pack_first: the store is packed already");
    if (p->n == 0) return 0;
    int *order = bv_xmalloc(sizeof(int) * (size_t)p->n);
    int k = 0;
    int64_t at = 0;
    for (int i = 0; i < p->n; i++)
        if (name_in(p->items[i]->name, first, n)) order[k++] = i, at += p->items[i]->numel;
    for (int i = 0; i < p->n; i++)
        if (!name_in(p->items[i]->name, first, n)) order[k++] = i;
    pack_in_order(p, order, at + (rest_room > 0 ? rest_room : 0));
    free(order);
    return at;
}

/* Points q's items' grads into `grad`, in item order. */
static void regrad(bv_params *q, float *grad) {
    int64_t at = 0;
    for (int i = 0; i < q->n; i++) {
        q->items[i]->grad = grad + at;
        at += q->items[i]->numel;
    }
    q->grad = grad;
}

void bv_params_overlay_grad(bv_params *p, int64_t at, bv_params *q) {
    if (q->n == 0) return; /* an empty store has no grad block to move */
    BV_ASSERT(p->grad && q->grad && !q->grad_borrowed && p->be == q->be && p != q);
    if (at < 0 || at + q->numel > p->grad_cap)
        BV_FATAL("grad overlay: %lld + %lld floats past a block of %lld", (long long)at, (long long)q->numel,
                 (long long)p->grad_cap);
    const bv_allocator *mem = &store_be(q)->mem;
    float *own = q->grad;
    mem->copy(p->grad + at, own, sizeof(float) * (size_t)q->numel);
    regrad(q, p->grad + at);
    q->grad_borrowed = 1;
    q->grad_cap = q->numel;
    mem->free(own);
}

void bv_params_own_grad(bv_params *q) {
    if (!q->grad_borrowed) return;
    const bv_allocator *mem = &store_be(q)->mem;
    float *own = dev_floats(q, q->numel);
    mem->copy(own, q->grad, sizeof(float) * (size_t)q->numel);
    regrad(q, own);
    q->grad_borrowed = 0;
    q->grad_cap = q->numel;
}
