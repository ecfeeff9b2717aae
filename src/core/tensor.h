/* tensor.h - the tensor: shape, dtype, device, data, and its autograd links.
 *
 * Tensors are contiguous and row-major in PyTorch's order (NCL for Conv1d activations). A transpose
 * or slice is an explicit copy op. f32 carries activations, parameters and gradients; i64 carries
 * ids, lengths and masks read from PyTorch files.
 *
 * Lifetime: tensors made by ops live in their context's arena (bv_ctx) and die at its reset;
 * parameters live in a bv_params store. A tensor never owns its memory.
 */
#ifndef BV_TENSOR_H
#define BV_TENSOR_H

#include <stdbool.h>
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
} bv_tensor;

const char *bv_dtype_name(bv_dtype d);
const char *bv_device_name(bv_device d);

/* "[2, 6, 7]" into buf (returns buf) - used by every shape error message. */
char *bv_shape_str(const bv_tensor *t, char *buf, int cap);
bool bv_same_shape(const bv_tensor *a, const bv_tensor *b);
int64_t bv_shape_numel(int ndim, const int64_t *shape);
/* Size of dimension d, negative d counts from the end like PyTorch. */
int64_t bv_dim(const bv_tensor *t, int d);

#endif
