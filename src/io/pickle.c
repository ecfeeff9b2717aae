/* pickle.c - the torch.save subset of Python pickle: value tree, reader VM and writer.
 *
 * The reader is Python's unpickler cut down to what torch emits (see pickle.h): a value stack, a
 * mark stack and a memo. Every read is bounds-checked against the buffer, every pop against the
 * current mark, and every callable is one we know (OrderedDict, _rebuild_tensor_v2, ...), so a
 * corrupt or hostile file is an error message, never a crash or an arbitrary allocation.
 * The writer emits what torch.save emits for the same objects (globals memoised, tensors as
 * persistent ids), so torch.load (also with weights_only=True) reads it back.
 */
#include "pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

/* ------------------------------------------------------------------------------------------ */
/* document: owns every value and buffer                                                       */

struct bv_pk_doc {
    bv_pk_value **vals;
    size_t nvals, capvals;
    void **bufs;
    size_t nbufs, capbufs;
};

bv_pk_doc *bv_pk_doc_new(void) { return bv_xcalloc(1, sizeof(bv_pk_doc)); }

static void value_release(bv_pk_value *v) {
    switch (v->kind) {
    case BV_PK_STR: free(v->str.s); break;
    case BV_PK_LIST:
    case BV_PK_TUPLE: free(v->seq.items); break;
    case BV_PK_DICT:
        free(v->dict.items);
        free(v->dict.hash);
        break;
    case BV_PK_GLOBAL:
        free(v->global.module);
        free(v->global.name);
        break;
    default: break;
    }
    free(v);
}

void bv_pk_doc_free(bv_pk_doc *doc) {
    if (!doc) return;
    for (size_t i = 0; i < doc->nvals; i++) value_release(doc->vals[i]);
    for (size_t i = 0; i < doc->nbufs; i++) free(doc->bufs[i]);
    free(doc->vals);
    free(doc->bufs);
    free(doc);
}

void *bv_pk_doc_alloc(bv_pk_doc *doc, size_t n) {
    size_t rounded = (n + 63) / 64 * 64;
    if (rounded < n) return NULL;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) return NULL;
    if (doc->nbufs == doc->capbufs) {
        doc->capbufs = doc->capbufs ? 2 * doc->capbufs : 16;
        doc->bufs = bv_xrealloc(doc->bufs, doc->capbufs * sizeof(void *));
    }
    doc->bufs[doc->nbufs++] = p;
    return p;
}

static bv_pk_value *new_value(bv_pk_doc *doc, bv_pk_kind kind) {
    bv_pk_value *v = bv_xcalloc(1, sizeof *v);
    v->kind = kind;
    if (doc->nvals == doc->capvals) {
        doc->capvals = doc->capvals ? 2 * doc->capvals : 256;
        doc->vals = bv_xrealloc(doc->vals, doc->capvals * sizeof(bv_pk_value *));
    }
    doc->vals[doc->nvals++] = v;
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* constructors                                                                                */

bv_pk_value *bv_pk_none(bv_pk_doc *doc) { return new_value(doc, BV_PK_NONE); }

bv_pk_value *bv_pk_bool(bv_pk_doc *doc, int b) {
    bv_pk_value *v = new_value(doc, BV_PK_BOOL);
    v->b = b != 0;
    return v;
}

bv_pk_value *bv_pk_int(bv_pk_doc *doc, int64_t i) {
    bv_pk_value *v = new_value(doc, BV_PK_INT);
    v->i = i;
    return v;
}

bv_pk_value *bv_pk_float(bv_pk_doc *doc, double f) {
    bv_pk_value *v = new_value(doc, BV_PK_FLOAT);
    v->f = f;
    return v;
}

bv_pk_value *bv_pk_strn(bv_pk_doc *doc, const char *s, size_t len) {
    bv_pk_value *v = new_value(doc, BV_PK_STR);
    v->str.s = bv_xmalloc(len + 1);
    memcpy(v->str.s, s, len);
    v->str.s[len] = 0;
    v->str.len = len;
    return v;
}

bv_pk_value *bv_pk_str(bv_pk_doc *doc, const char *s) { return bv_pk_strn(doc, s, strlen(s)); }
bv_pk_value *bv_pk_list(bv_pk_doc *doc) { return new_value(doc, BV_PK_LIST); }
bv_pk_value *bv_pk_tuple(bv_pk_doc *doc) { return new_value(doc, BV_PK_TUPLE); }

bv_pk_value *bv_pk_dict(bv_pk_doc *doc, int ordered) {
    bv_pk_value *v = new_value(doc, BV_PK_DICT);
    v->dict.ordered = ordered;
    return v;
}

static const struct {
    const char *name;
    bv_st_dtype dtype;
    int elsize;
} storage_types[] = {
    {"FloatStorage", BV_ST_F32, 4}, {"DoubleStorage", BV_ST_F64, 8}, {"LongStorage", BV_ST_I64, 8},
    {"IntStorage", BV_ST_I32, 4},   {"HalfStorage", BV_ST_F16, 2},   {"BFloat16Storage", BV_ST_BF16, 2},
    /* carried as raw bytes (dtype BV_ST_OTHER): nothing in Bert-VITS2 uses them */
    {"ShortStorage", BV_ST_OTHER, 2}, {"CharStorage", BV_ST_OTHER, 1}, {"ByteStorage", BV_ST_OTHER, 1},
    {"BoolStorage", BV_ST_OTHER, 1},  {"ComplexFloatStorage", BV_ST_OTHER, 8},
    {"ComplexDoubleStorage", BV_ST_OTHER, 16},
};

int bv_pk_storage_type(const char *name, bv_st_dtype *dtype, int *elsize, const char **static_name) {
    for (size_t i = 0; i < sizeof storage_types / sizeof storage_types[0]; i++)
        if (strcmp(name, storage_types[i].name) == 0) {
            *dtype = storage_types[i].dtype;
            *elsize = storage_types[i].elsize;
            if (static_name) *static_name = storage_types[i].name;
            return 0;
        }
    return -1;
}

const char *bv_pk_storage_name(bv_st_dtype dtype) {
    for (size_t i = 0; i < sizeof storage_types / sizeof storage_types[0]; i++)
        if (storage_types[i].dtype == dtype && dtype != BV_ST_OTHER) return storage_types[i].name;
    return NULL;
}

static int dtype_elsize(bv_st_dtype dtype) {
    for (size_t i = 0; i < sizeof storage_types / sizeof storage_types[0]; i++)
        if (storage_types[i].dtype == dtype && dtype != BV_ST_OTHER) return storage_types[i].elsize;
    return 0;
}

/* Element count of a shape, or -1 on a negative dim or overflow past 2^62 bytes. */
static int64_t checked_numel(int ndim, const int64_t *shape, int elsize) {
    int64_t n = 1, limit = ((int64_t)1 << 62) / (elsize > 0 ? elsize : 1);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return -1;
        if (shape[d] && n > limit / shape[d]) return -1;
        n *= shape[d];
    }
    return n;
}

static bv_pk_value *tensor_value(bv_pk_doc *doc, bv_st_dtype dtype, int ndim, const int64_t *shape) {
    int es = dtype_elsize(dtype);
    BV_ASSERT(es > 0 && ndim >= 0 && ndim <= BV_PK_MAX_DIMS);
    int64_t numel = checked_numel(ndim, shape, es);
    BV_ASSERT(numel >= 0);
    bv_pk_value *v = new_value(doc, BV_PK_TENSOR);
    bv_pk_tensor *t = &v->tensor;
    t->dtype = dtype;
    t->elsize = es;
    t->storage_type = bv_pk_storage_name(dtype);
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    t->numel = numel;
    return v;
}

bv_pk_value *bv_pk_tensor_new(bv_pk_doc *doc, bv_st_dtype dtype, int ndim, const int64_t *shape, const void *data) {
    bv_pk_value *v = tensor_value(doc, dtype, ndim, shape);
    size_t nb = (size_t)v->tensor.numel * (size_t)v->tensor.elsize;
    v->tensor.data = bv_pk_doc_alloc(doc, nb);
    if (!v->tensor.data) BV_FATAL("out of memory (%zu bytes for a tensor)", nb);
    if (data) memcpy(v->tensor.data, data, nb);
    else memset(v->tensor.data, 0, nb);
    return v;
}

bv_pk_value *bv_pk_tensor_ref(bv_pk_doc *doc, bv_st_dtype dtype, int ndim, const int64_t *shape, void *data) {
    bv_pk_value *v = tensor_value(doc, dtype, ndim, shape);
    v->tensor.data = data;
    return v;
}

bv_pk_value *bv_pk_storage_new(bv_pk_doc *doc, const char *type_name, int64_t numel) {
    bv_st_dtype dt;
    int es;
    const char *sname;
    if (bv_pk_storage_type(type_name, &dt, &es, &sname) != 0 || numel < 0) return NULL;
    if (numel > ((int64_t)1 << 62) / es) return NULL;
    void *data = bv_pk_doc_alloc(doc, (size_t)numel * (size_t)es);
    if (!data) return NULL;
    bv_pk_value *v = new_value(doc, BV_PK_STORAGE);
    v->storage = (bv_pk_storage){dt, es, sname, numel, data};
    return v;
}

void bv_pk_append(bv_pk_value *seq, bv_pk_value *v) {
    BV_ASSERT(seq && (seq->kind == BV_PK_LIST || seq->kind == BV_PK_TUPLE));
    if (seq->seq.n == seq->seq.cap) {
        seq->seq.cap = seq->seq.cap ? 2 * seq->seq.cap : 4;
        seq->seq.items = bv_xrealloc(seq->seq.items, (size_t)seq->seq.cap * sizeof(bv_pk_value *));
    }
    seq->seq.items[seq->seq.n++] = v;
}

/* ------------------------------------------------------------------------------------------ */
/* dict: insertion-ordered items plus an open-addressing index                                 */

static int hashable(const bv_pk_value *k) {
    return k && (k->kind == BV_PK_STR || k->kind == BV_PK_INT || k->kind == BV_PK_BOOL || k->kind == BV_PK_NONE);
}

/* Python: True == 1 and hash(True) == hash(1), so bool and int keys share a space. */
static uint64_t key_hash(const bv_pk_value *k) {
    if (k->kind == BV_PK_STR) {
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < k->str.len; i++) h = (h ^ (unsigned char)k->str.s[i]) * 1099511628211ull;
        return h;
    }
    if (k->kind == BV_PK_NONE) return 0x9e3779b97f4a7c15ull;
    uint64_t x = (uint64_t)(k->kind == BV_PK_INT ? k->i : k->b);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    return x ^ (x >> 33);
}

static int key_equal(const bv_pk_value *a, const bv_pk_value *b) {
    int an = a->kind == BV_PK_INT || a->kind == BV_PK_BOOL, bn = b->kind == BV_PK_INT || b->kind == BV_PK_BOOL;
    if (an && bn) return (a->kind == BV_PK_INT ? a->i : a->b) == (b->kind == BV_PK_INT ? b->i : b->b);
    if (a->kind != b->kind) return 0;
    if (a->kind == BV_PK_NONE) return 1;
    return a->kind == BV_PK_STR && a->str.len == b->str.len && memcmp(a->str.s, b->str.s, a->str.len) == 0;
}

static void dict_rehash(bv_pk_value *d) {
    int cap = 16;
    while (cap < 2 * d->dict.n + 2) cap *= 2;
    free(d->dict.hash);
    d->dict.hash = bv_xmalloc((size_t)cap * sizeof(int));
    for (int i = 0; i < cap; i++) d->dict.hash[i] = -1;
    d->dict.hcap = cap;
    for (int i = 0; i < d->dict.n; i++) {
        uint64_t h = key_hash(d->dict.items[i].key) & (uint64_t)(cap - 1);
        while (d->dict.hash[h] >= 0) h = (h + 1) & (uint64_t)(cap - 1);
        d->dict.hash[h] = i;
    }
}

/* Index of the item with this key, or -1. */
static int dict_find(const bv_pk_value *d, const bv_pk_value *key) {
    if (!d || d->kind != BV_PK_DICT || !d->dict.hcap || !hashable(key)) return -1;
    uint64_t mask = (uint64_t)d->dict.hcap - 1, h = key_hash(key) & mask;
    for (int idx; (idx = d->dict.hash[h]) >= 0; h = (h + 1) & mask)
        if (key_equal(d->dict.items[idx].key, key)) return idx;
    return -1;
}

int bv_pk_dict_set(bv_pk_value *dict, bv_pk_value *key, bv_pk_value *v) {
    BV_ASSERT(dict && dict->kind == BV_PK_DICT);
    if (!hashable(key)) return -1;
    int at = dict_find(dict, key);
    if (at >= 0) {
        dict->dict.items[at].val = v;
        return 0;
    }
    if (dict->dict.n == dict->dict.cap) {
        dict->dict.cap = dict->dict.cap ? 2 * dict->dict.cap : 8;
        dict->dict.items = bv_xrealloc(dict->dict.items, (size_t)dict->dict.cap * sizeof(bv_pk_item));
    }
    dict->dict.items[dict->dict.n++] = (bv_pk_item){key, v};
    if (2 * dict->dict.n + 2 > dict->dict.hcap) {
        dict_rehash(dict);
    } else {
        uint64_t mask = (uint64_t)dict->dict.hcap - 1, h = key_hash(key) & mask;
        while (dict->dict.hash[h] >= 0) h = (h + 1) & mask;
        dict->dict.hash[h] = dict->dict.n - 1;
    }
    return 0;
}

void bv_pk_dict_set_str(bv_pk_doc *doc, bv_pk_value *dict, const char *key, bv_pk_value *v) {
    bv_pk_dict_set(dict, bv_pk_str(doc, key), v);
}

/* ------------------------------------------------------------------------------------------ */
/* access                                                                                      */

bv_pk_value *bv_pk_get(const bv_pk_value *dict, const char *key) {
    bv_pk_value k = {.kind = BV_PK_STR};
    k.str.s = (char *)key;
    k.str.len = strlen(key);
    int at = dict_find(dict, &k);
    return at >= 0 ? dict->dict.items[at].val : NULL;
}

bv_pk_value *bv_pk_get_int(const bv_pk_value *dict, int64_t key) {
    bv_pk_value k = {.kind = BV_PK_INT, .i = key};
    int at = dict_find(dict, &k);
    return at >= 0 ? dict->dict.items[at].val : NULL;
}

int bv_pk_len(const bv_pk_value *v) {
    if (!v) return -1;
    if (v->kind == BV_PK_LIST || v->kind == BV_PK_TUPLE) return v->seq.n;
    if (v->kind == BV_PK_DICT) return v->dict.n;
    return -1;
}

bv_pk_value *bv_pk_at(const bv_pk_value *seq, int i) {
    if (!seq || (seq->kind != BV_PK_LIST && seq->kind != BV_PK_TUPLE) || i < 0 || i >= seq->seq.n) return NULL;
    return seq->seq.items[i];
}

int bv_pk_as_int(const bv_pk_value *v, int64_t *out) {
    if (!v) return -1;
    if (v->kind == BV_PK_INT) *out = v->i;
    else if (v->kind == BV_PK_BOOL) *out = v->b;
    else return -1;
    return 0;
}

int bv_pk_as_double(const bv_pk_value *v, double *out) {
    if (!v) return -1;
    int64_t i;
    if (bv_pk_as_int(v, &i) == 0) {
        *out = (double)i;
        return 0;
    }
    if (v->kind == BV_PK_FLOAT) {
        *out = v->f;
        return 0;
    }
    if (v->kind == BV_PK_TENSOR && v->tensor.numel == 1 && v->tensor.data) {
        const void *p = v->tensor.data;
        switch (v->tensor.dtype) {
        case BV_ST_F32: { float f; memcpy(&f, p, 4); *out = f; return 0; }
        case BV_ST_F64: { double d; memcpy(&d, p, 8); *out = d; return 0; }
        case BV_ST_I64: { int64_t x; memcpy(&x, p, 8); *out = (double)x; return 0; }
        case BV_ST_I32: { int32_t x; memcpy(&x, p, 4); *out = x; return 0; }
        default: return -1;
        }
    }
    return -1;
}

const char *bv_pk_as_str(const bv_pk_value *v) { return v && v->kind == BV_PK_STR ? v->str.s : NULL; }

const bv_pk_tensor *bv_pk_as_tensor(const bv_pk_value *v) {
    return v && v->kind == BV_PK_TENSOR ? &v->tensor : NULL;
}

const char *bv_pk_kind_name(bv_pk_kind k) {
    static const char *names[] = {"None", "bool", "int", "float", "str", "list", "tuple", "dict", "tensor",
                                  "global", "storage"};
    _Static_assert(sizeof names / sizeof names[0] == BV_PK_KIND_COUNT, "kind name table");
    return (unsigned)k < BV_PK_KIND_COUNT ? names[k] : "?";
}

static int equal_depth(const bv_pk_value *a, const bv_pk_value *b, int depth) {
    if (a == b) return 1;
    if (!a || !b || a->kind != b->kind || depth > 256) return 0;
    switch (a->kind) {
    case BV_PK_NONE: return 1;
    case BV_PK_BOOL: return a->b == b->b;
    case BV_PK_INT: return a->i == b->i;
    case BV_PK_FLOAT: return memcmp(&a->f, &b->f, sizeof(double)) == 0;
    case BV_PK_STR: return key_equal(a, b);
    case BV_PK_LIST:
    case BV_PK_TUPLE:
        if (a->seq.n != b->seq.n) return 0;
        for (int i = 0; i < a->seq.n; i++)
            if (!equal_depth(a->seq.items[i], b->seq.items[i], depth + 1)) return 0;
        return 1;
    case BV_PK_DICT:
        if (a->dict.n != b->dict.n || a->dict.ordered != b->dict.ordered) return 0;
        for (int i = 0; i < a->dict.n; i++)
            if (!equal_depth(a->dict.items[i].key, b->dict.items[i].key, depth + 1) ||
                !equal_depth(a->dict.items[i].val, b->dict.items[i].val, depth + 1))
                return 0;
        return (!a->dict.attrs && !b->dict.attrs) || equal_depth(a->dict.attrs, b->dict.attrs, depth + 1);
    case BV_PK_TENSOR: {
        const bv_pk_tensor *x = &a->tensor, *y = &b->tensor;
        if (x->dtype != y->dtype || x->elsize != y->elsize || x->ndim != y->ndim || x->numel != y->numel ||
            x->requires_grad != y->requires_grad)
            return 0;
        for (int d = 0; d < x->ndim; d++)
            if (x->shape[d] != y->shape[d]) return 0;
        return x->numel == 0 || memcmp(x->data, y->data, (size_t)x->numel * (size_t)x->elsize) == 0;
    }
    case BV_PK_GLOBAL:
        return strcmp(a->global.module, b->global.module) == 0 && strcmp(a->global.name, b->global.name) == 0;
    default: return 0;
    }
}

int bv_pk_equal(const bv_pk_value *a, const bv_pk_value *b) { return equal_depth(a, b, 0); }

/* ------------------------------------------------------------------------------------------ */
/* reader                                                                                      */

typedef struct vm {
    bv_pk_doc *doc;
    const unsigned char *start, *p, *end;
    size_t op_at;                 /* offset of the opcode being run, for messages */
    bv_pk_value **stack;
    int sp, scap;
    int *marks;
    int nmarks, mcap;
    bv_pk_value **memo;
    size_t memo_cap, memo_count;
    bv_pk_persistent_fn persistent_load;
    void *user;
    char *err;
    size_t errcap;
} vm;

__attribute__((format(printf, 2, 3))) static int vm_fail(vm *m, const char *fmt, ...) {
    int k = snprintf(m->err, m->errcap, "pickle byte %zu: ", m->op_at);
    if (k < 0 || (size_t)k >= m->errcap) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err + k, m->errcap - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

static int need(vm *m, size_t n) {
    if ((size_t)(m->end - m->p) < n) return vm_fail(m, "truncated (needs %zu more bytes, %zu left)", n,
                                                     (size_t)(m->end - m->p));
    return 0;
}

static uint64_t rd_le(vm *m, int n) {
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = (x << 8) | m->p[i];
    m->p += n;
    return x;
}

static void push(vm *m, bv_pk_value *v) {
    if (m->sp == m->scap) {
        m->scap = m->scap ? 2 * m->scap : 64;
        m->stack = bv_xrealloc(m->stack, (size_t)m->scap * sizeof(bv_pk_value *));
    }
    m->stack[m->sp++] = v;
}

static int fence(const vm *m) { return m->nmarks ? m->marks[m->nmarks - 1] : 0; }

static bv_pk_value *pop(vm *m) {
    if (m->sp <= fence(m)) {
        vm_fail(m, "stack underflow");
        return NULL;
    }
    return m->stack[--m->sp];
}

static bv_pk_value *top(vm *m) {
    if (m->sp <= fence(m)) {
        vm_fail(m, "stack underflow");
        return NULL;
    }
    return m->stack[m->sp - 1];
}

/* Pops the topmost mark; the items above it are stack[*base .. sp). */
static int pop_mark(vm *m, int *base) {
    if (!m->nmarks) return vm_fail(m, "no MARK on the stack");
    *base = m->marks[--m->nmarks];
    return 0;
}

static int memo_put(vm *m, uint64_t idx) {
    bv_pk_value *v = top(m);
    if (!v) return -1;
    /* picklers number memo entries 0, 1, 2, ...: an index far beyond the pickle's length is corrupt
     * (and must not make us allocate a huge memo) */
    if (idx > (uint64_t)(m->end - m->start) + 4096) return vm_fail(m, "memo index %llu out of range",
                                                                (unsigned long long)idx);
    if (idx >= m->memo_cap) {
        size_t ncap = m->memo_cap ? m->memo_cap : 64;
        while (ncap <= idx) ncap *= 2;
        m->memo = bv_xrealloc(m->memo, ncap * sizeof(bv_pk_value *));
        memset(m->memo + m->memo_cap, 0, (ncap - m->memo_cap) * sizeof(bv_pk_value *));
        m->memo_cap = ncap;
    }
    if (!m->memo[idx]) m->memo_count++;
    m->memo[idx] = v;
    return 0;
}

static int memo_get(vm *m, uint64_t idx) {
    if (idx >= m->memo_cap || !m->memo[idx]) return vm_fail(m, "memo key %llu was never stored",
                                                             (unsigned long long)idx);
    push(m, m->memo[idx]);
    return 0;
}

static int op_string(vm *m, int lenbytes) {
    if (need(m, (size_t)lenbytes)) return -1;
    uint64_t n = rd_le(m, lenbytes);
    if (need(m, n)) return -1;
    push(m, bv_pk_strn(m->doc, (const char *)m->p, (size_t)n));
    m->p += n;
    return 0;
}

/* LONG1 / LONG4: little-endian two's complement of n bytes; we hold 64 bits. */
static int op_long(vm *m, int lenbytes) {
    if (need(m, (size_t)lenbytes)) return -1;
    uint64_t n = rd_le(m, lenbytes);
    if (n > 8) return vm_fail(m, "integer of %llu bytes does not fit in 64 bits", (unsigned long long)n);
    if (need(m, n)) return -1;
    uint64_t x = n ? rd_le(m, (int)n) : 0;
    if (n && n < 8 && (x >> (8 * n - 1)) & 1) x |= ~0ull << (8 * n); /* sign-extend */
    push(m, bv_pk_int(m->doc, (int64_t)x));
    return 0;
}

static int op_binfloat(vm *m) {
    if (need(m, 8)) return -1;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x = (x << 8) | m->p[i]; /* big-endian */
    m->p += 8;
    double f;
    memcpy(&f, &x, 8);
    push(m, bv_pk_float(m->doc, f));
    return 0;
}

static int op_tuple_n(vm *m, int n) {
    bv_pk_value *t = bv_pk_tuple(m->doc);
    if (m->sp - fence(m) < n) return vm_fail(m, "stack underflow");
    for (int i = m->sp - n; i < m->sp; i++) bv_pk_append(t, m->stack[i]);
    m->sp -= n;
    push(m, t);
    return 0;
}

static int op_tuple_mark(vm *m) {
    int base = 0;
    if (pop_mark(m, &base)) return -1;
    bv_pk_value *t = bv_pk_tuple(m->doc);
    for (int i = base; i < m->sp; i++) bv_pk_append(t, m->stack[i]);
    m->sp = base;
    push(m, t);
    return 0;
}

static int set_items(vm *m, bv_pk_value *d, int from) {
    if (!d || d->kind != BV_PK_DICT) return vm_fail(m, "SETITEM(S) on a %s", d ? bv_pk_kind_name(d->kind) : "?");
    if ((m->sp - from) % 2) return vm_fail(m, "SETITEMS with an odd number of items");
    for (int i = from; i < m->sp; i += 2)
        if (bv_pk_dict_set(d, m->stack[i], m->stack[i + 1]) != 0)
            return vm_fail(m, "unhashable dict key of type %s", bv_pk_kind_name(m->stack[i]->kind));
    m->sp = from;
    return 0;
}

static int op_setitem(vm *m) {
    if (m->sp - fence(m) < 3) return vm_fail(m, "stack underflow");
    return set_items(m, m->stack[m->sp - 3], m->sp - 2);
}

static int op_setitems(vm *m) {
    int base = 0;
    if (pop_mark(m, &base)) return -1;
    if (base <= fence(m)) return vm_fail(m, "SETITEMS without a dict below its MARK");
    return set_items(m, m->stack[base - 1], base);
}

static int append_items(vm *m, bv_pk_value *l, int from) {
    if (!l || l->kind != BV_PK_LIST) return vm_fail(m, "APPEND(S) on a %s", l ? bv_pk_kind_name(l->kind) : "?");
    for (int i = from; i < m->sp; i++) bv_pk_append(l, m->stack[i]);
    m->sp = from;
    return 0;
}

static int op_append(vm *m) {
    if (m->sp - fence(m) < 2) return vm_fail(m, "stack underflow");
    return append_items(m, m->stack[m->sp - 2], m->sp - 1);
}

static int op_appends(vm *m) {
    int base = 0;
    if (pop_mark(m, &base)) return -1;
    if (base <= fence(m)) return vm_fail(m, "APPENDS without a list below its MARK");
    return append_items(m, m->stack[base - 1], base);
}

static int push_global(vm *m, const char *mod, size_t modlen, const char *name, size_t namelen) {
    bv_pk_value *g = new_value(m->doc, BV_PK_GLOBAL);
    g->global.module = strndup(mod, modlen);
    g->global.name = strndup(name, namelen);
    if (!g->global.module || !g->global.name) BV_FATAL("out of memory");
    push(m, g);
    return 0;
}

static int op_global(vm *m) {
    const unsigned char *nl1 = memchr(m->p, '\n', (size_t)(m->end - m->p));
    if (!nl1) return vm_fail(m, "GLOBAL: truncated module name");
    const unsigned char *nl2 = memchr(nl1 + 1, '\n', (size_t)(m->end - nl1 - 1));
    if (!nl2) return vm_fail(m, "GLOBAL: truncated class name");
    push_global(m, (const char *)m->p, (size_t)(nl1 - m->p), (const char *)nl1 + 1, (size_t)(nl2 - nl1 - 1));
    m->p = nl2 + 1;
    return 0;
}

static int op_stack_global(vm *m) {
    bv_pk_value *name = pop(m), *mod = name ? pop(m) : NULL;
    if (!mod) return -1;
    if (mod->kind != BV_PK_STR || name->kind != BV_PK_STR) return vm_fail(m, "STACK_GLOBAL needs two str");
    return push_global(m, mod->str.s, mod->str.len, name->str.s, name->str.len);
}

/* Reads an int tuple/list of at most BV_PK_MAX_DIMS entries into out. */
static int int_seq(vm *m, const bv_pk_value *v, const char *what, int64_t *out, int *n) {
    if (!v || (v->kind != BV_PK_TUPLE && v->kind != BV_PK_LIST))
        return vm_fail(m, "tensor %s is a %s, expected a tuple", what, v ? bv_pk_kind_name(v->kind) : "?");
    if (v->seq.n > BV_PK_MAX_DIMS) return vm_fail(m, "tensor %s has %d dims (max %d)", what, v->seq.n,
                                                  BV_PK_MAX_DIMS);
    for (int i = 0; i < v->seq.n; i++)
        if (bv_pk_as_int(v->seq.items[i], &out[i]) != 0) return vm_fail(m, "tensor %s[%d] is not an int", what, i);
    *n = v->seq.n;
    return 0;
}

static int is_contiguous(int ndim, const int64_t *size, const int64_t *stride) {
    int64_t expect = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        if (size[d] != 1 && stride[d] != expect) return 0; /* torch ignores strides of size-1 dims */
        expect *= size[d];
    }
    return 1;
}

/* dst[i] = src[offset + sum_d idx_d * stride_d] in row-major order of idx. */
static void strided_copy(unsigned char *dst, const unsigned char *src, int es, int ndim, const int64_t *size,
                         const int64_t *stride, int64_t offset, int64_t numel) {
    int64_t idx[BV_PK_MAX_DIMS] = {0}, at = offset;
    for (int64_t n = 0; n < numel; n++) {
        switch (es) {
        case 2: memcpy(dst + n * 2, src + at * 2, 2); break;
        case 4: memcpy(dst + n * 4, src + at * 4, 4); break;
        case 8: memcpy(dst + n * 8, src + at * 8, 8); break;
        default: memcpy(dst + n * es, src + at * es, (size_t)es); break;
        }
        for (int d = ndim - 1; d >= 0; d--) {
            at += stride[d];
            if (++idx[d] < size[d]) break;
            at -= stride[d] * size[d];
            idx[d] = 0;
        }
    }
}

/* torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...) as a contiguous tensor. */
static bv_pk_value *rebuild_tensor(vm *m, const bv_pk_value *st, const bv_pk_value *off, const bv_pk_value *sz,
                                   const bv_pk_value *sd, int requires_grad) {
    int64_t size[BV_PK_MAX_DIMS], stride[BV_PK_MAX_DIMS], offset;
    int nd, nstride;
    if (!st || st->kind != BV_PK_STORAGE) {
        vm_fail(m, "tensor storage is a %s, expected a persistent storage", st ? bv_pk_kind_name(st->kind) : "?");
        return NULL;
    }
    if (bv_pk_as_int(off, &offset) != 0 || offset < 0) {
        vm_fail(m, "tensor storage_offset is not a non-negative int");
        return NULL;
    }
    if (int_seq(m, sz, "size", size, &nd) || int_seq(m, sd, "stride", stride, &nstride)) return NULL;
    if (nd != nstride) {
        vm_fail(m, "tensor size has %d dims but stride %d", nd, nstride);
        return NULL;
    }
    const bv_pk_storage *s = &st->storage;
    int64_t numel = checked_numel(nd, size, s->elsize);
    if (numel < 0) {
        vm_fail(m, "tensor size is negative or too large");
        return NULL;
    }
    /* the last element read is offset + sum (size-1)*stride: it must lie inside the storage */
    int64_t last = offset;
    for (int d = 0; d < nd && numel > 0; d++) {
        if (stride[d] < 0 || (stride[d] && size[d] - 1 > (INT64_MAX - last) / stride[d])) {
            vm_fail(m, "tensor stride %lld invalid", (long long)stride[d]);
            return NULL;
        }
        last += (size[d] - 1) * stride[d];
    }
    if (numel > 0 ? last >= s->numel : offset > s->numel) {
        vm_fail(m, "tensor view (offset %lld, last element %lld) exceeds its %s of %lld elements", (long long)offset,
                (long long)last, s->storage_type, (long long)s->numel);
        return NULL;
    }
    /* overlapping strides (expand, as_strided) could make a huge tensor of a small storage */
    if (numel > 64 * s->numel + (1 << 20)) {
        vm_fail(m, "tensor view of %lld elements over %lld stored ones is implausible", (long long)numel,
                (long long)s->numel);
        return NULL;
    }
    bv_pk_value *v = new_value(m->doc, BV_PK_TENSOR);
    bv_pk_tensor *t = &v->tensor;
    t->dtype = s->dtype;
    t->elsize = s->elsize;
    t->storage_type = s->storage_type;
    t->ndim = nd;
    memcpy(t->shape, size, sizeof(int64_t) * (size_t)nd);
    t->numel = numel;
    t->requires_grad = requires_grad;
    if (numel == 0 || is_contiguous(nd, size, stride)) {
        t->data = (unsigned char *)s->data + (numel ? offset : 0) * s->elsize;
        return v;
    }
    t->data = bv_pk_doc_alloc(m->doc, (size_t)numel * (size_t)s->elsize);
    if (!t->data) {
        vm_fail(m, "out of memory materialising a strided tensor of %lld elements", (long long)numel);
        return NULL;
    }
    strided_copy(t->data, s->data, s->elsize, nd, size, stride, offset, numel);
    return v;
}

static int is_global(const bv_pk_value *f, const char *mod, const char *name) {
    return f->kind == BV_PK_GLOBAL && strcmp(f->global.module, mod) == 0 && strcmp(f->global.name, name) == 0;
}

static bv_pk_value *call_ordered_dict(vm *m, const bv_pk_value *args) {
    bv_pk_value *d = bv_pk_dict(m->doc, 1);
    if (args->seq.n == 0) return d;
    const bv_pk_value *pairs = args->seq.items[0];
    if (args->seq.n != 1 || (pairs->kind != BV_PK_LIST && pairs->kind != BV_PK_TUPLE)) {
        vm_fail(m, "OrderedDict(...) with unsupported arguments");
        return NULL;
    }
    for (int i = 0; i < pairs->seq.n; i++) {
        const bv_pk_value *kv = pairs->seq.items[i];
        if (bv_pk_len(kv) != 2 || bv_pk_dict_set(d, kv->seq.items[0], kv->seq.items[1]) != 0) {
            vm_fail(m, "OrderedDict item %d is not a (hashable key, value) pair", i);
            return NULL;
        }
    }
    return d;
}

static int op_reduce(vm *m) {
    bv_pk_value *args = pop(m), *f = args ? pop(m) : NULL, *r = NULL;
    if (!f) return -1;
    if (args->kind != BV_PK_TUPLE) return vm_fail(m, "REDUCE arguments are a %s", bv_pk_kind_name(args->kind));
    bv_pk_value **a = args->seq.items;
    int n = args->seq.n, rg = 0;
    if (is_global(f, "collections", "OrderedDict")) {
        r = call_ordered_dict(m, args);
    } else if (is_global(f, "torch._utils", "_rebuild_tensor_v2") || is_global(f, "torch._utils", "_rebuild_tensor")) {
        int v2 = strcmp(f->global.name, "_rebuild_tensor_v2") == 0;
        if (v2 ? (n != 6 && n != 7) : n != 4) return vm_fail(m, "%s with %d arguments", f->global.name, n);
        if (v2 && a[4]->kind == BV_PK_BOOL) rg = a[4]->b;
        r = rebuild_tensor(m, a[0], a[1], a[2], a[3], rg);
    } else if (is_global(f, "torch._utils", "_rebuild_parameter")) {
        /* nn.Parameter(data, requires_grad, hooks): keep the data tensor */
        if (n != 3 || a[0]->kind != BV_PK_TENSOR) return vm_fail(m, "_rebuild_parameter with bad arguments");
        r = a[0];
        if (a[1]->kind == BV_PK_BOOL) r->tensor.requires_grad = a[1]->b;
    } else if (f->kind == BV_PK_GLOBAL) {
        return vm_fail(m, "unsupported callable %s.%s", f->global.module, f->global.name);
    } else {
        return vm_fail(m, "REDUCE on a %s", bv_pk_kind_name(f->kind));
    }
    if (!r) return -1;
    push(m, r);
    return 0;
}

static int op_build(vm *m) {
    bv_pk_value *state = pop(m), *inst = state ? top(m) : NULL;
    if (!inst) return -1;
    if (inst->kind == BV_PK_DICT && state->kind == BV_PK_DICT) {
        inst->dict.attrs = state; /* a state_dict's {'_metadata': ...} */
        return 0;
    }
    return vm_fail(m, "BUILD of a %s with a %s state is not supported", bv_pk_kind_name(inst->kind),
                   bv_pk_kind_name(state->kind));
}

static int op_binpersid(vm *m) {
    bv_pk_value *pid = pop(m);
    if (!pid) return -1;
    if (!m->persistent_load) return vm_fail(m, "persistent id without a storage loader");
    char sub[256];
    bv_pk_value *s = m->persistent_load(m->user, m->doc, pid, sub, sizeof sub);
    if (!s) return vm_fail(m, "%s", sub);
    if (s->kind != BV_PK_STORAGE) return vm_fail(m, "persistent_load returned a %s", bv_pk_kind_name(s->kind));
    push(m, s);
    return 0;
}

/* One opcode; returns 1 at STOP, 0 to continue, -1 on error. */
static int step(vm *m) {
    m->op_at = (size_t)(m->p - m->start);
    if (need(m, 1)) return -1;
    unsigned op = *m->p++;
    switch (op) {
    case 0x80: /* PROTO */
        if (need(m, 1)) return -1;
        if (*m->p > 5) return vm_fail(m, "unsupported pickle protocol %u", *m->p);
        m->p++;
        return 0;
    case 0x95: /* FRAME: framing is only a read-ahead hint */
        if (need(m, 8)) return -1;
        m->p += 8;
        return 0;
    case '}': push(m, bv_pk_dict(m->doc, 0)); return 0;
    case ']': push(m, bv_pk_list(m->doc)); return 0;
    case ')': push(m, bv_pk_tuple(m->doc)); return 0;
    case '(':
        if (m->nmarks == m->mcap) {
            m->mcap = m->mcap ? 2 * m->mcap : 32;
            m->marks = bv_xrealloc(m->marks, (size_t)m->mcap * sizeof(int));
        }
        m->marks[m->nmarks++] = m->sp;
        return 0;
    case 'X': return op_string(m, 4);
    case 0x8c: return op_string(m, 1);
    case 0x8d: return op_string(m, 8);
    case 'J':
        if (need(m, 4)) return -1;
        push(m, bv_pk_int(m->doc, (int32_t)(uint32_t)rd_le(m, 4)));
        return 0;
    case 'K':
        if (need(m, 1)) return -1;
        push(m, bv_pk_int(m->doc, (int64_t)rd_le(m, 1)));
        return 0;
    case 'M':
        if (need(m, 2)) return -1;
        push(m, bv_pk_int(m->doc, (int64_t)rd_le(m, 2)));
        return 0;
    case 0x8a: return op_long(m, 1);
    case 0x8b: return op_long(m, 4);
    case 'G': return op_binfloat(m);
    case 0x88: push(m, bv_pk_bool(m->doc, 1)); return 0;
    case 0x89: push(m, bv_pk_bool(m->doc, 0)); return 0;
    case 'N': push(m, bv_pk_none(m->doc)); return 0;
    case 't': return op_tuple_mark(m);
    case 0x85: return op_tuple_n(m, 1);
    case 0x86: return op_tuple_n(m, 2);
    case 0x87: return op_tuple_n(m, 3);
    case 's': return op_setitem(m);
    case 'u': return op_setitems(m);
    case 'a': return op_append(m);
    case 'e': return op_appends(m);
    case 'q': return need(m, 1) ? -1 : memo_put(m, rd_le(m, 1));
    case 'r': return need(m, 4) ? -1 : memo_put(m, rd_le(m, 4));
    case 0x94: return memo_put(m, m->memo_count);
    case 'h': return need(m, 1) ? -1 : memo_get(m, rd_le(m, 1));
    case 'j': return need(m, 4) ? -1 : memo_get(m, rd_le(m, 4));
    case 'c': return op_global(m);
    case 0x93: return op_stack_global(m);
    case 'R': return op_reduce(m);
    case 'b': return op_build(m);
    case 'Q': return op_binpersid(m);
    case '.': return 1;
    default: return vm_fail(m, "unsupported opcode 0x%02x", op);
    }
}

int bv_pk_load(bv_pk_doc *doc, const unsigned char *buf, size_t len, bv_pk_persistent_fn persistent_load,
               void *user, bv_pk_value **out, char *err, size_t errcap) {
    vm m = {.doc = doc, .start = buf, .p = buf, .end = buf + len, .persistent_load = persistent_load,
            .user = user, .err = err, .errcap = errcap};
    int rc;
    while ((rc = step(&m)) == 0) {}
    *out = NULL;
    if (rc == 1) {
        m.op_at = (size_t)(m.p - m.start) - 1;
        if (m.sp < 1) rc = vm_fail(&m, "STOP with an empty stack");
        else *out = m.stack[m.sp - 1];
    }
    free(m.stack);
    free(m.marks);
    free(m.memo);
    return *out ? 0 : -1;
}

/* ------------------------------------------------------------------------------------------ */
/* writer                                                                                      */

typedef struct wr {
    unsigned char *buf;
    size_t len, cap;
    const bv_pk_tensor **tensors;
    int nt, tcap;
    struct { const char *mod, *name; int idx; } globals[32];
    int nglobals, memo_next;
    char *err;
    size_t errcap;
} wr;

static void w_bytes(wr *w, const void *p, size_t n) {
    if (w->len + n > w->cap) {
        while (w->len + n > w->cap) w->cap = w->cap ? 2 * w->cap : 4096;
        w->buf = bv_xrealloc(w->buf, w->cap);
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void w_byte(wr *w, unsigned char b) { w_bytes(w, &b, 1); }

static void w_le(wr *w, uint64_t x, int n) {
    unsigned char b[8];
    for (int i = 0; i < n; i++) b[i] = (unsigned char)(x >> (8 * i));
    w_bytes(w, b, (size_t)n);
}

static void w_str(wr *w, const char *s, size_t n) {
    w_byte(w, 'X'); /* BINUNICODE: protocol 2 has no shorter string opcode */
    w_le(w, n, 4);
    w_bytes(w, s, n);
}

static void w_int(wr *w, int64_t i) {
    if (i >= 0 && i < 256) {
        w_byte(w, 'K');
        w_le(w, (uint64_t)i, 1);
    } else if (i >= 0 && i < 65536) {
        w_byte(w, 'M');
        w_le(w, (uint64_t)i, 2);
    } else if (i >= INT32_MIN && i <= INT32_MAX) {
        w_byte(w, 'J');
        w_le(w, (uint64_t)i, 4);
    } else { /* LONG1: the shortest two's complement that keeps the sign */
        int n = 8;
        while (n > 1 && ((i >> (8 * (n - 1) - 1)) == 0 || (i >> (8 * (n - 1) - 1)) == -1)) n--;
        w_byte(w, 0x8a);
        w_byte(w, (unsigned char)n);
        w_le(w, (uint64_t)i, n);
    }
}

static void w_float(wr *w, double f) {
    uint64_t x;
    memcpy(&x, &f, 8);
    w_byte(w, 'G');
    for (int i = 7; i >= 0; i--) w_byte(w, (unsigned char)(x >> (8 * i)));
}

static void w_memo_put(wr *w) {
    int k = w->memo_next++;
    if (k < 256) {
        w_byte(w, 'q');
        w_le(w, (uint64_t)k, 1);
    } else {
        w_byte(w, 'r');
        w_le(w, (uint64_t)k, 4);
    }
}

/* GLOBAL 'mod name', memoised like Python's pickler so repeats cost two bytes. */
static void w_global(wr *w, const char *mod, const char *name) {
    for (int i = 0; i < w->nglobals; i++)
        if (strcmp(w->globals[i].mod, mod) == 0 && strcmp(w->globals[i].name, name) == 0) {
            int k = w->globals[i].idx;
            if (k < 256) {
                w_byte(w, 'h');
                w_le(w, (uint64_t)k, 1);
            } else {
                w_byte(w, 'j');
                w_le(w, (uint64_t)k, 4);
            }
            return;
        }
    w_byte(w, 'c');
    w_bytes(w, mod, strlen(mod));
    w_byte(w, '\n');
    w_bytes(w, name, strlen(name));
    w_byte(w, '\n');
    if (w->nglobals < (int)(sizeof w->globals / sizeof w->globals[0]))
        w->globals[w->nglobals++] = (typeof(w->globals[0])){mod, name, w->memo_next};
    w_memo_put(w);
}

static void w_int_tuple(wr *w, int n, const int64_t *v) {
    if (n == 0) {
        w_byte(w, ')');
        return;
    }
    if (n > 3) w_byte(w, '(');
    for (int i = 0; i < n; i++) w_int(w, v[i]);
    w_byte(w, n > 3 ? 't' : (unsigned char)(0x85 + n - 1));
}

static int w_tensor(wr *w, const bv_pk_tensor *t) {
    const char *stype = t->storage_type ? t->storage_type : bv_pk_storage_name(t->dtype);
    if (!stype) return snprintf(w->err, w->errcap, "tensor with an unknown dtype"), -1;
    if (t->numel && !t->data) return snprintf(w->err, w->errcap, "tensor without data"), -1;
    if (w->nt == w->tcap) {
        w->tcap = w->tcap ? 2 * w->tcap : 64;
        w->tensors = bv_xrealloc(w->tensors, (size_t)w->tcap * sizeof(*w->tensors));
    }
    int key = w->nt;
    w->tensors[w->nt++] = t;
    char keys[24];
    int kl = snprintf(keys, sizeof keys, "%d", key);
    int64_t stride[BV_PK_MAX_DIMS], s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= t->shape[d];
    }
    if (t->transposed && t->ndim == 2) stride[0] = 1, stride[1] = t->shape[0];
    w_global(w, "torch._utils", "_rebuild_tensor_v2");
    w_byte(w, '(');
    w_byte(w, '('); /* persistent id ('storage', torch.FloatStorage, '<key>', 'cpu', numel) */
    w_str(w, "storage", 7);
    w_global(w, "torch", stype);
    w_str(w, keys, (size_t)kl);
    w_str(w, "cpu", 3);
    w_int(w, t->numel);
    w_byte(w, 't');
    w_byte(w, 'Q');
    w_int(w, 0);
    w_int_tuple(w, t->ndim, t->shape);
    w_int_tuple(w, t->ndim, stride);
    w_byte(w, t->requires_grad ? 0x88 : 0x89);
    w_global(w, "collections", "OrderedDict"); /* backward_hooks */
    w_byte(w, ')');
    w_byte(w, 'R');
    w_byte(w, 't');
    w_byte(w, 'R');
    return 0;
}

static int w_value(wr *w, const bv_pk_value *v, int depth);

static int w_dict(wr *w, const bv_pk_value *v, int depth) {
    if (v->dict.attrs && !v->dict.ordered)
        return snprintf(w->err, w->errcap, "a plain dict cannot carry attributes"), -1;
    if (v->dict.ordered) {
        w_global(w, "collections", "OrderedDict");
        w_byte(w, ')');
        w_byte(w, 'R');
    } else {
        w_byte(w, '}');
    }
    for (int i = 0; i < v->dict.n; i += 1000) { /* batches of 1000, as Python's pickler */
        int end = i + 1000 < v->dict.n ? i + 1000 : v->dict.n;
        w_byte(w, '(');
        for (int j = i; j < end; j++)
            if (w_value(w, v->dict.items[j].key, depth + 1) || w_value(w, v->dict.items[j].val, depth + 1)) return -1;
        w_byte(w, 'u');
    }
    if (v->dict.attrs) {
        if (w_value(w, v->dict.attrs, depth + 1)) return -1;
        w_byte(w, 'b');
    }
    return 0;
}

static int w_seq(wr *w, const bv_pk_value *v, int depth) {
    int n = v->seq.n;
    if (v->kind == BV_PK_LIST) {
        w_byte(w, ']');
        for (int i = 0; i < n; i += 1000) {
            int end = i + 1000 < n ? i + 1000 : n;
            w_byte(w, '(');
            for (int j = i; j < end; j++)
                if (w_value(w, v->seq.items[j], depth + 1)) return -1;
            w_byte(w, 'e');
        }
        return 0;
    }
    if (n == 0) {
        w_byte(w, ')');
        return 0;
    }
    if (n > 3) w_byte(w, '(');
    for (int j = 0; j < n; j++)
        if (w_value(w, v->seq.items[j], depth + 1)) return -1;
    w_byte(w, n > 3 ? 't' : (unsigned char)(0x85 + n - 1));
    return 0;
}

static int w_value(wr *w, const bv_pk_value *v, int depth) {
    if (!v) return snprintf(w->err, w->errcap, "NULL value in the tree"), -1;
    if (depth > 200) return snprintf(w->err, w->errcap, "tree nested deeper than 200 (a cycle?)"), -1;
    switch (v->kind) {
    case BV_PK_NONE: w_byte(w, 'N'); return 0;
    case BV_PK_BOOL: w_byte(w, v->b ? 0x88 : 0x89); return 0;
    case BV_PK_INT: w_int(w, v->i); return 0;
    case BV_PK_FLOAT: w_float(w, v->f); return 0;
    case BV_PK_STR: w_str(w, v->str.s, v->str.len); return 0;
    case BV_PK_LIST:
    case BV_PK_TUPLE: return w_seq(w, v, depth);
    case BV_PK_DICT: return w_dict(w, v, depth);
    case BV_PK_TENSOR: return w_tensor(w, &v->tensor);
    case BV_PK_GLOBAL: w_global(w, v->global.module, v->global.name); return 0;
    default: return snprintf(w->err, w->errcap, "cannot pickle a %s", bv_pk_kind_name(v->kind)), -1;
    }
}

int bv_pk_dump(const bv_pk_value *root, unsigned char **out, size_t *outlen, const bv_pk_tensor ***tensors,
               int *n_tensors, char *err, size_t errcap) {
    wr w = {.err = err, .errcap = errcap};
    w_byte(&w, 0x80);
    w_byte(&w, 2);
    int rc = w_value(&w, root, 0);
    w_byte(&w, '.');
    if (rc) {
        free(w.buf);
        free(w.tensors);
        *out = NULL;
        *outlen = 0;
        *tensors = NULL;
        *n_tensors = 0;
        return -1;
    }
    *out = w.buf;
    *outlen = w.len;
    *tensors = w.tensors;
    *n_tensors = w.nt;
    return 0;
}
