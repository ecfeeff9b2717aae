/* params.h - the named parameter store: parameters, their gradients (and later optimizer state)
 * live here for the whole run, apart from the per-step arena.
 *
 * Names are exactly upstream state_dict keys ("enc_p.encoder.attn_layers.0.conv_q.weight"), so
 * checkpoint import/export is a loop over names (STYLE.md #6): create every parameter with its
 * expected shape first, then fill them from a file, rejecting unknown names and wrong shapes.
 *
 * Memory: values and gradients (and the packed buffers) come from the store's backend allocator
 * (backend.h), so on a device they are device memory; the tensor headers and names are host memory.
 * Fill or read values with bv_from_host / bv_to_host (tensor.h).
 */
#ifndef BV_PARAMS_H
#define BV_PARAMS_H

#include <stdint.h>

#include "tensor.h"

struct bv_backend;

typedef struct bv_params {
    struct bv_backend *be;   /* device of every parameter (bv_params_init: the CPU) */
    bv_tensor **items;       /* in creation order = upstream state_dict order */
    int n, cap;
    /* after bv_params_pack: every parameter's data (and grad) lies in ONE buffer, in item order,
     * so one all-reduce / copy / device transfer moves a whole network; NULL before */
    float *data, *grad;
    int64_t numel;           /* elements in data / grad (set by bv_params_pack) */
    void *bf16;              /* device block behind the items' ->bf16 copies (bv_linear_keep_bf16), or NULL */
} bv_params;

void bv_params_init(bv_params *p);
void bv_params_init_on(bv_params *p, struct bv_backend *be);
void bv_params_free(bv_params *p);
/* New f32 parameter (zeroed, requires_grad, persistent zeroed grad). Name is copied.
 * Fatal if the name exists already (a model-building bug). */
bv_tensor *bv_params_add(bv_params *p, const char *name, int ndim, const int64_t *shape);
/* printf-style name: bv_params_addf(p, BV_SHAPE(8, 8, 1), "attn_layers.%d.conv_q.weight", i) */
bv_tensor *bv_params_addf(bv_params *p, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bv_tensor *bv_params_get(const bv_params *p, const char *name);   /* NULL if absent */
/* Before packing only. Removes (and frees) every parameter whose name starts with prefix, keeping
 * the others' order; returns how many went. */
int bv_params_remove_prefix(bv_params *p, const char *prefix);
/* Before packing only. Frees every gradient buffer (inference needs none) and clears requires_grad. */
void bv_params_drop_grads(bv_params *p);
void bv_params_zero_grad(bv_params *p);
/* zero_grad that also gives the grads' memory back to the system where it can (a packed store in
 * host memory: the whole pages of its grad buffer, which read as zero again and come back when next
 * written); otherwise the same as bv_params_zero_grad. */
void bv_params_release_grad(bv_params *p);
/* Moves every parameter's data and grad into one 64-byte-aligned buffer each (p->data, p->grad;
 * item i at the running offset), keeping values and the tensors' identities (only ->data and
 * ->grad move). Call once the model is built and before anything keeps ->data pointers; adding
 * a parameter afterwards is fatal. Idempotent. */
void bv_params_pack(bv_params *p);
int64_t bv_params_numel(const bv_params *p);

#endif
