/* ctx.h - the execution context: arena, autograd tape, RNG, grad mode and the error path.
 *
 * Autograd is an eager tape. Every op called with grad enabled and at least one input that
 * requires grad appends a node {op, inputs, outputs, saved state, backward fn}. bv_backward walks
 * the tape in reverse; each backward fn ACCUMULATES (+=) into the grads of its inputs, allocating
 * them (zeroed) on first touch. Nothing is freed until bv_ctx_reset, a rewind to a mark, or a
 * release of a dead range (bv_ctx_release).
 *
 * Memory (the rule is in backend.h): a context has a HOST arena (ctx->arena: tensor headers, tape
 * nodes, saved structs, host-side scratch) and a DATA arena for tensor data, fed by its backend's
 * allocator (bv_ctx_data_arena). On a host-visible backend (the CPU) both are the same arena, so
 * CPU memory use and speed are those of one arena. A mark of the context's memory (bv_ctx_get_mark)
 * covers both; kernel scratch comes from bv_ctx_scratch.
 *
 * Errors a caller can provoke (shape/dtype mismatch, unsupported device) go through bv_ctx_error:
 * by default the message is printed as "error: <op>: ..." and the process exits with
 * BV_EXIT_INPUT; a test may install a jmp_buf to catch the error instead.
 */
#ifndef BV_CTX_H
#define BV_CTX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include "arena.h"
#include "backend.h"
#include "error.h"
#include "ops_list.h"
#include "rng.h"
#include "tensor.h"

typedef struct bv_ctx bv_ctx;

/* Compute precision of the matmul-class ops (convolutions, linear, matmul, LSTM), like
 * torch.autocast(dtype=torch.bfloat16): BV_AUTOCAST_BF16 makes them read their fp32 inputs and
 * weights as bf16 and accumulate in fp32; every tensor stays fp32 in memory, and every other op
 * (norms, softmax, reductions, losses, the STFT, MAS) computes in fp32 as it always does (the mel
 * projection is a matmul, in bf16 as under upstream's CUDA autocast). An op
 * records the mode it ran its forward in, and its backward uses the same (autocast's rule: the
 * backward of a bf16 matmul is a bf16 matmul). Set by train.bf16_run around the forward passes and by
 * `bv2 infer --bf16`; ask the backend first (bv_backend_bf16_check in ops/dispatch.h). */
typedef enum bv_autocast { BV_AUTOCAST_OFF = 0, BV_AUTOCAST_BF16 = 1 } bv_autocast;
typedef struct bv_node bv_node;

typedef void (*bv_backward_fn)(bv_ctx *ctx, bv_node *n);

#define BV_NODE_MAX_ATTR 12

struct bv_node {
    bv_op op;
    bv_backward_fn backward;
    int n_in, n_out;
    bv_tensor **in;          /* inputs (arena array) */
    bv_tensor **out;         /* outputs (arena array) */
    void *saved;             /* op-specific state kept for backward (arena) */
    int64_t iattr[BV_NODE_MAX_ATTR];
    double fattr[BV_NODE_MAX_ATTR];
};

/* Gradients of activations live in a pool of reusable blocks, not in the arena: once the node that
 * produced a tensor has run its backward, nothing reads that tensor's grad again, so the block goes
 * back to the pool and the next grad of the same size reuses it. Peak memory during backward is then
 * the activations plus the grads in flight, instead of every grad of the step. Blocks are kept
 * across steps (a training loop reaches a steady state with no malloc). */
typedef struct bv_grad_block bv_grad_block;
typedef struct bv_grad_pool {
    struct bv_grad_bucket *buckets;   /* free blocks, one list per exact byte size */
    int n_buckets, cap_buckets;
    bv_grad_block *live;              /* handed out and not yet released (leaves, cut tapes) */
    size_t live_bytes, peak_bytes, total_bytes;
} bv_grad_pool;

struct bv_ctx {
    bv_backend *be;          /* the device every tensor of this context lives on (backend.h) */
    bv_arena arena;          /* host arena: tensor headers, saved state, nodes; reset per step */
    bv_arena data_arena;     /* tensor data when be->mem is not host_visible (else unused: data goes
                              * to `arena`); use bv_ctx_data_arena, never this field */
    bv_grad_pool grads;      /* gradients of non-parameter tensors */
    bv_node **tape;
    int64_t tape_len, tape_cap;
    int no_grad_depth;       /* > 0: ops record nothing */
    bv_autocast autocast;    /* precision of the matmul-class ops recorded from now on (above) */
    bv_rng rng;
    jmp_buf *err_jmp;        /* if set, bv_ctx_error longjmps here instead of exiting */
    char err_msg[512];
};

/* A context on the CPU backend; bv_ctx_init_on binds it to another backend. arena_chunk sizes the
 * chunks of both arenas (0: 64 MiB). */
void bv_ctx_init(bv_ctx *ctx, size_t arena_chunk, uint64_t seed);
void bv_ctx_init_on(bv_ctx *ctx, bv_backend *be, size_t arena_chunk, uint64_t seed);
void bv_ctx_free(bv_ctx *ctx);
/* Drop every activation, grad and tape node made since init (or the last reset). */
void bv_ctx_reset(bv_ctx *ctx);
/* Bytes of activation gradients alive now and at most (since init) - add to the arena's numbers. */
size_t bv_ctx_grad_bytes(const bv_ctx *ctx);
size_t bv_ctx_grad_peak_bytes(const bv_ctx *ctx);

/* The arena tensor data comes from: the host arena itself on a host-visible backend. */
static inline bv_arena *bv_ctx_data_arena(bv_ctx *ctx) {
    return ctx->be->mem.host_visible ? &ctx->arena : &ctx->data_arena;
}
/* Uninitialised, 64-byte-aligned kernel scratch in device memory (the data arena); give it back by
 * rewinding to a mark taken before. */
static inline void *bv_ctx_scratch(bv_ctx *ctx, size_t bytes) { return bv_arena_alloc(bv_ctx_data_arena(ctx), bytes); }

/* A point in the context's memory, both arenas (the tape is marked apart: bv_tape_mark). Rewinding
 * frees everything allocated after it; tensors made after it must no longer be used. */
typedef struct bv_ctx_mark {
    bv_arena_mark host, data;
} bv_ctx_mark;
bv_ctx_mark bv_ctx_get_mark(bv_ctx *ctx);
void bv_ctx_reset_to(bv_ctx *ctx, bv_ctx_mark m);

/* The memory allocated between marks `from` and `to` is dead (nothing made between them is used
 * again, and no node on the tape refers to it: see bv_tape_remove) while what came after lives on:
 * it becomes holes that later allocations fill first (arena.h). Returns the bytes released. */
size_t bv_ctx_release(bv_ctx *ctx, bv_ctx_mark from, bv_ctx_mark to);

/* The tape as a stack: bv_tape_cut(ctx, bv_tape_mark(ctx)) after a backward makes a later backward
 * walk none of the nodes recorded since the mark (their memory stays until the arena is rewound).
 * Cutting to a mark beyond the tape's end is a programming error. */
static inline int64_t bv_tape_mark(const bv_ctx *ctx) { return ctx->tape_len; }
void bv_tape_cut(bv_ctx *ctx, int64_t mark);
/* Takes the nodes [lo, hi) off the tape (those above move down): a sub-graph whose backward ran
 * already, so that a later backward walks past it (its memory can then be released). */
void bv_tape_remove(bv_ctx *ctx, int64_t lo, int64_t hi);

_Noreturn void bv_ctx_error(bv_ctx *ctx, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* no_grad scope: bv_no_grad_begin(ctx); ... bv_no_grad_end(ctx); (nestable) */
static inline void bv_no_grad_begin(bv_ctx *ctx) { ctx->no_grad_depth++; }
static inline void bv_no_grad_end(bv_ctx *ctx) { ctx->no_grad_depth--; }
static inline int bv_grad_enabled(const bv_ctx *ctx) { return ctx->no_grad_depth == 0; }

/* ---- tensor creation (header in the host arena, data in the data arena) ---- */
bv_tensor *bv_new(bv_ctx *ctx, bv_dtype dt, int ndim, const int64_t *shape);      /* uninitialised */
bv_tensor *bv_zeros(bv_ctx *ctx, bv_dtype dt, int ndim, const int64_t *shape);
bv_tensor *bv_new_like(bv_ctx *ctx, const bv_tensor *t);                            /* same dtype+shape */
bv_tensor *bv_zeros_like(bv_ctx *ctx, const bv_tensor *t);
bv_tensor *bv_full(bv_ctx *ctx, int ndim, const int64_t *shape, float v);
bv_tensor *bv_from_f32(bv_ctx *ctx, int ndim, const int64_t *shape, const float *src);
bv_tensor *bv_scalar(bv_ctx *ctx, float v);                                         /* shape [] */
/* Shape literal helper: BV_SHAPE(2, 3, 4) -> ndim, (int64_t[]){2,3,4} */
#define BV_SHAPE(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

/* Inference memory: drop everything allocated since `mark` except the tensors in ts (replaced by
 * fresh copies allocated at the mark). Only valid with grad off (no node may point at what goes). */
void bv_ctx_keep_only(bv_ctx *ctx, bv_ctx_mark mark, int n, bv_tensor **ts);

/* Detached alias: shares data, no node, requires_grad false. */
bv_tensor *bv_detach(bv_ctx *ctx, bv_tensor *t);

/* ---- autograd ---- */
/* Returns t->grad, allocating it zeroed from the grad pool on first use (params own theirs). */
float *bv_grad(bv_ctx *ctx, bv_tensor *t);
/* t->grad for a backward that can overwrite it: *fresh = 1 when the buffer was taken just now and
 * NOT zeroed (the caller must write every element), 0 when it holds a gradient (add to it). */
float *bv_grad_for_overwrite(bv_ctx *ctx, bv_tensor *t, int *fresh);
/* True when any input requires grad and grad mode is on: the op must record a node. */
int bv_needs_grad(const bv_ctx *ctx, int n, bv_tensor *const *ins);
/* Append a node for op with the given inputs/outputs; marks outputs requires_grad. */
bv_node *bv_record(bv_ctx *ctx, bv_op op, bv_backward_fn bw, int n_in, bv_tensor *const *ins, int n_out,
                   bv_tensor *const *outs);
/* Seed d loss / d root = gout (or 1 for a scalar when gout == NULL) and run the tape backwards. */
void bv_backward(bv_ctx *ctx, bv_tensor *root, const bv_tensor *gout);
/* Backward from several roots at once: L = sum_k sum(roots[k] * gouts[k]). */
void bv_backward_multi(bv_ctx *ctx, int n, bv_tensor *const *roots, const bv_tensor *const *gouts);
/* The same, walking only the nodes at tape index >= tape_lo: the gradients that reach tensors made
 * below tape_lo stay on them (accumulated), for a later backward to carry on from. */
void bv_backward_multi_to(bv_ctx *ctx, int n, bv_tensor *const *roots, const bv_tensor *const *gouts,
                          int64_t tape_lo);

/* ---- shape/dtype checks used by every op constructor ---- */
void bv_check_dtype(bv_ctx *ctx, const char *op, const bv_tensor *t, bv_dtype want);
void bv_check_ndim(bv_ctx *ctx, const char *op, const bv_tensor *t, int ndim);
void bv_check_same_shape(bv_ctx *ctx, const char *op, const bv_tensor *a, const bv_tensor *b);

#endif
