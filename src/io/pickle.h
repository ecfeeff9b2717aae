/* pickle.h - the subset of Python's pickle that torch.save emits (protocol 2; the protocol-4
 * opcodes FRAME, SHORT_BINUNICODE, BINUNICODE8, STACK_GLOBAL and MEMOIZE are read too): a reader
 * (a small stack machine) and a writer, over a tree of values.
 *
 * Values: None, bool, int (64-bit), float (double), str, list, tuple, dict (insertion-ordered, keys
 * str / int / bool; `ordered` marks a collections.OrderedDict) and tensors. A tensor in a torch
 * pickle is
 *     torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks)
 * where `storage` comes from BINPERSID with the persistent id
 *     ('storage', torch.FloatStorage, '<key>', 'cpu', numel)
 * and the bytes live outside the pickle (pth.c reads them from the zip entry data/<key>). The
 * reader hands each persistent id to a callback that returns the storage, then materialises the
 * tensor as a CONTIGUOUS row-major copy honouring offset and strides (Bert-VITS2's *.bert.pt holds a
 * transposed view); a tensor that already is a contiguous run of its storage points into it.
 *
 * Memory: every value belongs to a bv_pk_doc and dies with it (values may be shared: the pickle
 * memo lets one object appear several times). Writers build trees with the constructors below;
 * a tensor may borrow its data (bv_pk_tensor_ref) so saving a model copies nothing.
 *
 * Errors: malformed input never crashes; every function that reads input returns -1 and writes a
 * message into err (the caller prefixes the file name).
 */
#ifndef BV_PICKLE_H
#define BV_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "safetensors.h"

#define BV_PK_MAX_DIMS 8

typedef enum {
    BV_PK_NONE = 0,
    BV_PK_BOOL,
    BV_PK_INT,
    BV_PK_FLOAT,
    BV_PK_STR,
    BV_PK_LIST,
    BV_PK_TUPLE,
    BV_PK_DICT,
    BV_PK_TENSOR,
    BV_PK_GLOBAL,   /* a class/function reference ("torch", "FloatStorage"), only inside the VM */
    BV_PK_STORAGE,  /* a persistent-loaded storage, only inside the VM */
    BV_PK_KIND_COUNT
} bv_pk_kind;

typedef struct bv_pk_value bv_pk_value;
typedef struct bv_pk_doc bv_pk_doc;

typedef struct bv_pk_tensor {
    bv_st_dtype dtype;         /* BV_ST_OTHER for storages we carry but do not interpret (Bool, Byte...) */
    int elsize;                /* bytes per element */
    const char *storage_type;  /* "FloatStorage", ... (static string) */
    int ndim;
    int64_t shape[BV_PK_MAX_DIMS];
    int64_t numel;
    void *data;                /* contiguous row-major; owned by the doc, or borrowed (bv_pk_tensor_ref) */
    int requires_grad;
    int transposed;            /* writing only: a 2-d tensor whose data holds its transpose ([shape[1], shape[0]]
                                * row-major), saved as torch saves x.T - strides (1, shape[0]) */
} bv_pk_tensor;

typedef struct bv_pk_storage {
    bv_st_dtype dtype;
    int elsize;
    const char *storage_type;
    int64_t numel;
    void *data;                /* numel * elsize bytes, owned by the doc */
} bv_pk_storage;

typedef struct bv_pk_item {
    bv_pk_value *key, *val;
} bv_pk_item;

struct bv_pk_value {
    bv_pk_kind kind;
    union {
        int b;
        int64_t i;
        double f;
        struct { char *s; size_t len; } str;
        struct { bv_pk_value **items; int n, cap; } seq;         /* list, tuple */
        struct {
            bv_pk_item *items;
            int n, cap;
            int ordered;         /* collections.OrderedDict */
            bv_pk_value *attrs;  /* BUILD state (a state_dict's {'_metadata': ...}), or NULL */
            int *hash;           /* index of items by key (-1 empty), hcap slots */
            int hcap;
        } dict;
        struct { char *module, *name; } global;
        bv_pk_tensor tensor;
        bv_pk_storage storage;
    };
};

bv_pk_doc *bv_pk_doc_new(void);
void bv_pk_doc_free(bv_pk_doc *doc);
/* A buffer of n bytes (64-byte aligned, uninitialised) owned by the doc; NULL when out of memory. */
void *bv_pk_doc_alloc(bv_pk_doc *doc, size_t n);

/* ---- constructors (values belong to doc) ---- */
bv_pk_value *bv_pk_none(bv_pk_doc *doc);
bv_pk_value *bv_pk_bool(bv_pk_doc *doc, int b);
bv_pk_value *bv_pk_int(bv_pk_doc *doc, int64_t i);
bv_pk_value *bv_pk_float(bv_pk_doc *doc, double f);
bv_pk_value *bv_pk_str(bv_pk_doc *doc, const char *s);
bv_pk_value *bv_pk_strn(bv_pk_doc *doc, const char *s, size_t len);
bv_pk_value *bv_pk_list(bv_pk_doc *doc);
bv_pk_value *bv_pk_tuple(bv_pk_doc *doc);
bv_pk_value *bv_pk_dict(bv_pk_doc *doc, int ordered);
/* A tensor whose data is copied into the doc (data NULL: zeros). */
bv_pk_value *bv_pk_tensor_new(bv_pk_doc *doc, bv_st_dtype dtype, int ndim, const int64_t *shape, const void *data);
/* A tensor that borrows `data` (must outlive every use of the doc); for saving without a copy. */
bv_pk_value *bv_pk_tensor_ref(bv_pk_doc *doc, bv_st_dtype dtype, int ndim, const int64_t *shape, void *data);

/* Append to a list or tuple. */
void bv_pk_append(bv_pk_value *seq, bv_pk_value *v);
/* d[key] = v (replaces an equal key in place, keeping its position, like Python). Returns -1 for
 * an unhashable key (anything but str, int, bool, None). */
int bv_pk_dict_set(bv_pk_value *dict, bv_pk_value *key, bv_pk_value *v);
void bv_pk_dict_set_str(bv_pk_doc *doc, bv_pk_value *dict, const char *key, bv_pk_value *v);

/* ---- access (all return NULL / -1 / 0 on a kind mismatch, never crash on NULL) ---- */
bv_pk_value *bv_pk_get(const bv_pk_value *dict, const char *key);
bv_pk_value *bv_pk_get_int(const bv_pk_value *dict, int64_t key);
int bv_pk_len(const bv_pk_value *v);                      /* list/tuple/dict size, -1 otherwise */
bv_pk_value *bv_pk_at(const bv_pk_value *seq, int i);     /* list/tuple element */
/* Number from int, bool or float (and a one-element tensor of a float or int dtype). */
int bv_pk_as_double(const bv_pk_value *v, double *out);
int bv_pk_as_int(const bv_pk_value *v, int64_t *out);    /* int or bool only */
const char *bv_pk_as_str(const bv_pk_value *v);           /* NULL unless str */
const bv_pk_tensor *bv_pk_as_tensor(const bv_pk_value *v);
const char *bv_pk_kind_name(bv_pk_kind k);

/* Deep equality (tensors: dtype, shape and bytes; floats bitwise). */
int bv_pk_equal(const bv_pk_value *a, const bv_pk_value *b);

/* Storage class name ("FloatStorage") -> dtype and element size; -1 for an unknown class. */
int bv_pk_storage_type(const char *name, bv_st_dtype *dtype, int *elsize, const char **static_name);
/* dtype -> storage class name ("FloatStorage"), NULL for BV_ST_OTHER. */
const char *bv_pk_storage_name(bv_st_dtype dtype);

/* ---- reading ---- */
/* Persistent-id callback: given the pid (a tuple), return a BV_PK_STORAGE value made with
 * bv_pk_storage_new (or NULL with err filled). */
typedef bv_pk_value *(*bv_pk_persistent_fn)(void *user, bv_pk_doc *doc, const bv_pk_value *pid, char *err,
                                            size_t errcap);
bv_pk_value *bv_pk_storage_new(bv_pk_doc *doc, const char *type_name, int64_t numel);
/* Unpickle buf[0..len) into *out. Returns 0, or -1 with err filled. */
int bv_pk_load(bv_pk_doc *doc, const unsigned char *buf, size_t len, bv_pk_persistent_fn persistent_load,
               void *user, bv_pk_value **out, char *err, size_t errcap);

/* ---- writing ---- */
/* Pickle `root` (protocol 2, as torch.save). Every tensor becomes persistent id
 * ('storage', torch.<Type>Storage, '<k>', 'cpu', numel) with k = 0, 1, ... in order of appearance;
 * tensors[k] receives those tensors (caller frees the array with free()). *out is malloc'ed. */
int bv_pk_dump(const bv_pk_value *root, unsigned char **out, size_t *outlen, const bv_pk_tensor ***tensors,
               int *n_tensors, char *err, size_t errcap);

#endif
