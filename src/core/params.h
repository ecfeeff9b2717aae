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
    int64_t grad_cap;        /* floats in the grad block (>= numel: bv_params_pack_first's room) */
    int grad_borrowed;       /* grad lies in another store's block (bv_params_overlay_grad): not freed here */
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
/* Zeroes n floats of a packed store's grad block from element `at` on (up to p->grad_cap). */
void bv_params_zero_grad_range(bv_params *p, int64_t at, int64_t n);
/* Moves every parameter's data and grad into one 64-byte-aligned buffer each (p->data, p->grad;
 * item i at the running offset), keeping values and the tensors' identities (only ->data and
 * ->grad move). Call once the model is built and before anything keeps ->data pointers; adding
 * a parameter afterwards is fatal. Idempotent. */
void bv_params_pack(bv_params *p);
/* bv_params_pack, but the parameters whose names start with one of the n prefixes in `first` are
 * packed before all the others (data and grad alike; the items keep their order, and each item's
 * grad sits at its data's offset), and the grad block has room for at least `rest_room` floats from
 * the first of the others on (untouched pages: no memory until written). Returns that offset (p->numel
 * when every name matches). For bv_params_overlay_grad. */
int64_t bv_params_pack_first(bv_params *p, const char *const *first, int n, int64_t rest_room);
/* Moves q's grads (packed q) into p's grad block from element `at` on (p->grad_cap must hold
 * at + q->numel) and frees q's own block: q->grad and its items' grads then alias p's from `at`.
 * For two sets of gradients that are never live at the same time (the training step: net_d's,
 * dead once optim_d has stepped, and all of net_g's but the flow's, written only by its final
 * backward): one block of memory stays resident for both instead of one given back and faulted in
 * again every step. Zeroing either zeroes the other's overlapping part. */
void bv_params_overlay_grad(bv_params *p, int64_t at, bv_params *q);
/* Undoes bv_params_overlay_grad for q: a grad block of its own again, holding q's current grads. */
void bv_params_own_grad(bv_params *q);
int64_t bv_params_numel(const bv_params *p);

#endif
