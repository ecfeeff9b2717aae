/* tensor.h - the tensor: shape, dtype, device, data, and its autograd links.
 *
 * Tensors are contiguous and row-major in PyTorch's order (NCL for Conv1d activations). A transpose
 * or slice is an explicit copy op. f32 carries activations, parameters and gradients; i64 carries
 * ids, lengths and masks read from PyTorch files.
 *
 * Lifetime: tensors made by ops live in their context's arena (bv_ctx) and die at its reset;
 * parameters live in a bv_params store. A tensor never owns its memory.
 *
 * Host access: ->data / ->idata point into the memory of the tensor's device, which the host may not
 * be able to address (backend.h). Code outside the kernels reads and writes tensor data only through
 * the functions at the end of this file, which go through the device's allocator (a memcpy on the
 * CPU). Not yet through them: the checkpoint importers, the AdamW / clip-grad kernels and the MPI
 * all-reduce (those two assert a host-visible store).
 */
#ifndef BV_TENSOR_H
#define BV_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BV_MAX_DIMS 6

typedef enum { BV_F32 = 0, BV_I64, BV_DTYPE_COUNT } bv_dtype;

/* Every op dispatches on the device of its inputs; only the CPU backend exists so far. */
typedef enum { BV_DEV_CPU = 0, BV_DEV_CUDA, BV_DEV_COUNT } bv_device;

struct bv_node;

typedef struct bv_tensor {
    bv_dtype dtype;
    bv_device device;
    int ndim;
    int64_t shape[BV_MAX_DIMS];
    int64_t numel;
    float *data;             /* BV_F32 */
    int64_t *idata;          /* BV_I64 */
    float *grad;             /* d loss / d this; same shape, NULL until backward reaches it */
    struct bv_grad_block *grad_block; /* the context's pool block behind grad (non-parameters) */
    bool requires_grad;      /* leaf flag for inputs/params; propagated to op outputs */
    bool is_param;           /* grad buffer is persistent (owned by bv_params) */
    struct bv_node *node;    /* the tape node that produced it, NULL for leaves */
    const char *name;        /* optional, for messages (parameters: upstream state_dict key) */
    /* A frozen parameter's data rounded to bf16 once (bv_params_keep_bf16, owned by its store), which
     * the autocast products read instead of rounding data on every call; NULL for everything else. */
    const uint16_t *bf16;
    /* Its data was overwritten by an in-place op that consumed it (bv_inplace_alias, ops/dispatch.h):
     * any op given it as an input stops with an error instead of reading what is no longer there. */
    bool consumed;
} bv_tensor;

const char *bv_dtype_name(bv_dtype d);
const char *bv_device_name(bv_device d);

/* "[2, 6, 7]" into buf (returns buf) - used by every shape error message. */
char *bv_shape_str(const bv_tensor *t, char *buf, int cap);
bool bv_same_shape(const bv_tensor *a, const bv_tensor *b);
int64_t bv_shape_numel(int ndim, const int64_t *shape);
/* Size of dimension d, negative d counts from the end like PyTorch. */
int64_t bv_dim(const bv_tensor *t, int d);

/* ---- host access (any device; counts and offsets in elements of the tensor's dtype) ---- */
/* Bytes of one element: 4 (f32) or 8 (i64). */
size_t bv_elem_size(bv_dtype d);
/* All of t's data to / from host memory dst / src (numel elements). */
void bv_to_host(const bv_tensor *t, void *dst);
void bv_from_host(bv_tensor *t, const void *src);
/* Elements [off, off + n) only. */
void bv_to_host_at(const bv_tensor *t, int64_t off, int64_t n, void *dst);
void bv_from_host_at(bv_tensor *t, int64_t off, int64_t n, const void *src);
/* Element i as a double (f32 exactly; i64 exactly up to 2^53) - .item() when i == 0. */
double bv_tensor_item_at(const bv_tensor *t, int64_t i);
static inline double bv_tensor_item(const bv_tensor *t) { return bv_tensor_item_at(t, 0); }
/* A new host copy of t's data (malloc'd; the caller frees it). */
void *bv_host_copy(const bv_tensor *t);
/* Every element of an f32 tensor set to v. */
void bv_fill(bv_tensor *t, float v);
/* dst[doff .. doff+n) = src[soff .. soff+n): same dtype, same device, no overlap. */
void bv_copy_at(bv_tensor *dst, int64_t doff, const bv_tensor *src, int64_t soff, int64_t n);

#endif
