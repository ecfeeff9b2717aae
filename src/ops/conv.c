/* conv.c - conv1d, conv_transpose1d, conv2d, the channel-blocking reorders and weight_norm, the
 * way Bert-VITS2 builds every conv layer: constructors (checks, geometry, output, tape), backward
 * rules, and the backend's layout query. The arithmetic (oneDNN on the CPU, its primitive cache,
 * the depthwise and bias loops) is the device's conv slots (cpu/conv.c).
 *
 * Gradient convention: backward rules ACCUMULATE (+=) into the grads of inputs that require grad.
 * A kernel that overwrites its outputs (oneDNN) writes straight into a grad buffer only on that
 * buffer's first touch: the rule says which (bv_conv_grads.s*). x's buffer is not even zeroed then
 * (bv_grad_for_overwrite: the data pass writes every element; a zero fill was ~1% of a step).
 *
 * For the Generator's ResBlocks, bv_conv1d_fused adds what they fuse: activations kept in the
 * direct kernels' own channel-blocked layout across a chain of convs (bv_conv_block /
 * bv_conv_unblock at its ends: no reorders per call), leaky_relu as a post-op (only its output
 * is kept; backward reads its sign) and the residual add (no separate output). Whether a chain
 * runs blocked is the backend's decision (bv_conv_layout_for).
 *
 * Precision: a conv made while ctx->autocast is BV_AUTOCAST_BF16 runs in bf16 (bv_conv_opts.bf16:
 * x, w and the output gradient read as bf16, fp32 accumulation, fp32 outputs and gradients), and
 * its backward too, whatever the context says by then: the mode is saved with the node's opts.
 *
 * The naive oracle these kernels are tested against lives in conv_ref.c.
 */
#include <stdio.h>
#include <string.h>

#include "conv_ref.h"
#include "dispatch.h"
#include "ops.h"

int64_t bv_conv_out_size(const bv_conv_geom *g, int d) {
    int64_t ext = g->dil[d] * (g->k[d] - 1) + 1; /* receptive field of one output */
    if (g->transposed) return (g->in[d] - 1) * g->stride[d] - 2 * g->pad[d] + ext + g->out_pad[d];
    int64_t num = g->in[d] + 2 * g->pad[d] - ext;
    return num < 0 ? 0 : num / g->stride[d] + 1; /* C division truncates; floor needs num >= 0 */
}

/* ---------------- the backend's layout choice and cache (conv slots) ---------------- */

static const bv_conv_kernels *conv_slots(const bv_backend *be) { return be->kernels->conv; }

bv_conv_layout bv_conv_layout_for(bv_backend *be, int64_t channels) {
    const bv_conv_kernels *k = conv_slots(be);
    return k && k->layout_for ? k->layout_for(be, channels) : BV_CONV_LAYOUT_PLAIN;
}

int bv_conv_infer_nwc(bv_backend *be) {
    const bv_conv_kernels *k = conv_slots(be);
    return k && k->infer_nwc ? k->infer_nwc(be) : 0;
}

void bv_conv_set_layout(bv_backend *be, bv_conv_layout layout) {
    const bv_conv_kernels *k = conv_slots(be);
    if (k && k->set_layout) k->set_layout(be, layout);
}

void bv_conv_set_bf16_mode(bv_backend *be, bv_conv_bf16_mode mode) {
    const bv_conv_kernels *k = conv_slots(be);
    if (k && k->set_bf16_mode) k->set_bf16_mode(be, mode);
}

void bv_conv_set_nwc_piece(bv_backend *be, int64_t rows) {
    const bv_conv_kernels *k = conv_slots(be);
    if (k && k->set_nwc_piece) k->set_nwc_piece(be, rows);
}

/* be's cache statistics: [0] capacity, [1] entries in use, [2] post-op entries in use. */
static int conv_cache_stat(bv_backend *be, int which) {
    const bv_conv_kernels *k = conv_slots(be);
    int v[3] = {0, 0, 0};
    if (k && k->cache_stats) k->cache_stats(be, &v[0], &v[1], &v[2]);
    return v[which];
}

int bv_conv_cache_capacity(bv_backend *be) { return conv_cache_stat(be, 0); }
int bv_conv_cache_used(bv_backend *be) { return conv_cache_stat(be, 1); }
int bv_conv_post_cache_used(bv_backend *be) { return conv_cache_stat(be, 2); }

/* ---------------- constructors: checks and geometry ---------------- */

typedef struct {
    int64_t stride[2], pad[2], dil[2], out_pad[2];
    int64_t groups;
} conv_params;

static void check_tensor(bv_ctx *ctx, const char *op, const bv_tensor *t, int ndim) {
    bv_check_dtype(ctx, op, t, BV_F32);
    bv_check_ndim(ctx, op, t, ndim);
}

static void check_params(bv_ctx *ctx, const char *op, int nsp, int transposed, const conv_params *p) {
    if (p->groups < 1) bv_ctx_error(ctx, op, "groups must be >= 1, got %lld", (long long)p->groups);
    for (int i = 0; i < nsp; i++) {
        if (p->stride[i] < 1 || p->dil[i] < 1 || p->pad[i] < 0 || p->out_pad[i] < 0)
            bv_ctx_error(ctx, op, "need stride >= 1, dilation >= 1, padding >= 0, got stride %lld dilation %lld padding %lld",
                         (long long)p->stride[i], (long long)p->dil[i], (long long)p->pad[i]);
        /* PyTorch's rule; a larger output_padding would add outputs no input reaches */
        if (transposed && p->out_pad[i] >= (p->stride[i] > p->dil[i] ? p->stride[i] : p->dil[i]))
            bv_ctx_error(ctx, op, "output_padding %lld must be smaller than stride %lld or dilation %lld",
                         (long long)p->out_pad[i], (long long)p->stride[i], (long long)p->dil[i]);
    }
}

/* Channel bookkeeping: conv w [OC, IC/G, K...], transposed w [IC, OC/G, K...]; x has ic channels. */
static void check_channels(bv_ctx *ctx, const char *op, int transposed, const bv_tensor *x, int64_t ic,
                           const bv_tensor *w, int64_t G, int64_t *oc) {
    char bx[96], bw[96];
    bv_shape_str(x, bx, sizeof bx);
    bv_shape_str(w, bw, sizeof bw);
    if (ic % G)
        bv_ctx_error(ctx, op, "groups %lld does not divide the %lld input channels of x %s (w %s)", (long long)G,
                     (long long)ic, bx, bw);
    if (!transposed) {
        *oc = w->shape[0];
        if (*oc % G)
            bv_ctx_error(ctx, op, "groups %lld does not divide the %lld output channels of w %s (x %s)", (long long)G,
                         (long long)*oc, bw, bx);
        if (w->shape[1] * G != ic)
            bv_ctx_error(ctx, op, "x %s has %lld input channels but w %s expects %lld (w.shape[1] x groups %lld)", bx,
                         (long long)ic, bw, (long long)(w->shape[1] * G), (long long)G);
    } else {
        *oc = w->shape[1] * G;
        if (w->shape[0] != ic)
            bv_ctx_error(ctx, op, "x %s has %lld input channels but w %s has %lld (w.shape[0])", bx, (long long)ic, bw,
                         (long long)w->shape[0]);
    }
}

/* Blocked x [N, C/16, T, 16] must have 16 as its last dim; returns C. */
static int64_t blocked_channels(bv_ctx *ctx, const char *op, const bv_tensor *x, const bv_tensor *w) {
    char bx[96], bw[96];
    if (x->shape[3] != BV_CONV_BLOCK)
        bv_ctx_error(ctx, op, "blocked x %s must be [B, C/%d, T, %d] (w %s)", bv_shape_str(x, bx, sizeof bx),
                     BV_CONV_BLOCK, BV_CONV_BLOCK, bv_shape_str(w, bw, sizeof bw));
    return x->shape[1] * BV_CONV_BLOCK;
}

static bv_conv_geom make_geom(bv_ctx *ctx, const char *op, int nsp, int transposed, const bv_tensor *x,
                              const bv_tensor *w, const bv_tensor *b, const conv_params *p, const bv_conv_opts *o) {
    check_tensor(ctx, op, x, 2 + nsp + o->act_blocked);
    check_tensor(ctx, op, w, 2 + nsp);
    check_params(ctx, op, nsp, transposed, p);
    bv_conv_geom g;
    memset(&g, 0, sizeof g); /* the geometry is a cache key: no stray bytes */
    g.nsp = nsp;
    g.transposed = transposed;
    g.has_bias = b != NULL;
    g.N = x->shape[0];
    g.IC = o->act_blocked ? blocked_channels(ctx, op, x, w) : x->shape[1];
    g.G = p->groups;
    check_channels(ctx, op, transposed, x, g.IC, w, g.G, &g.OC);
    char bx[96], bw[96], bb[96];
    bv_shape_str(x, bx, sizeof bx);
    bv_shape_str(w, bw, sizeof bw);
    if (o->act_blocked && g.OC % BV_CONV_BLOCK)
        bv_ctx_error(ctx, op, "w %s: %lld output channels cannot be blocked by %d (x %s)", bw, (long long)g.OC,
                     BV_CONV_BLOCK, bx);
    if (b) {
        check_tensor(ctx, op, b, 1);
        if (b->shape[0] != g.OC)
            bv_ctx_error(ctx, op, "bias %s must have the %lld output channels of w %s", bv_shape_str(b, bb, sizeof bb),
                         (long long)g.OC, bw);
    }
    for (int i = 0; i < 2; i++) {
        int sp = i < nsp;
        g.in[i] = sp ? x->shape[2 + i] : 1;
        g.k[i] = sp ? w->shape[2 + i] : 1;
        g.stride[i] = sp ? p->stride[i] : 1;
        g.pad[i] = sp ? p->pad[i] : 0;
        g.dil[i] = sp ? p->dil[i] : 1;
        g.out_pad[i] = sp && transposed ? p->out_pad[i] : 0;
        g.out[i] = bv_conv_out_size(&g, i);
        if (g.k[i] < 1 || g.out[i] < 1)
            bv_ctx_error(ctx, op, "x %s and w %s give an empty output (spatial dim %d: size %lld, kernel %lld, stride %lld, padding %lld, dilation %lld)",
                         bx, bw, i, (long long)g.in[i], (long long)g.k[i], (long long)g.stride[i], (long long)g.pad[i],
                         (long long)g.dil[i]);
    }
    if (g.N < 1 || g.IC < 1 || g.OC < 1)
        bv_ctx_error(ctx, op, "x %s and w %s: empty batch or channels", bx, bw);
    return g;
}

/* ---------------- forward / backward shared by the three ops ---------------- */

/* Makes sure t's grad exists and says where a oneDNN result for it must go: straight into the grad
 * on its first touch (zero, so overwriting == accumulating; returns 0), else into arena scratch
 * that the caller adds (returns 1). */
static int grad_needs_scratch(bv_ctx *ctx, bv_tensor *t) {
    int scratch = t->grad != NULL || t->is_param;
    bv_grad(ctx, t);
    return scratch;
}

/* What backward needs. `ex` is the geometry oneDNN runs; it differs from `g` only for a transposed
 * conv whose output_padding exceeds its padding (oneDNN takes no negative right padding): oneDNN
 * then computes the first ex.out[0] positions and the remaining tail, which no input reaches,
 * holds only the bias. */
typedef struct {
    bv_conv_geom g, ex;
    bv_conv_opts o;
    const char *op;
} conv_saved;

static bv_conv_geom exec_geom(const bv_conv_geom *g) {
    bv_conv_geom ex = *g;
    if (g->transposed && g->out_pad[0] > g->pad[0]) {
        BV_ASSERT(g->nsp == 1);
        ex.out_pad[0] = g->pad[0];
        ex.out[0] = bv_conv_out_size(&ex, 0);
    }
    return ex;
}

/* The residual must have the output's shape. */
static void check_residual(bv_ctx *ctx, const char *op, const bv_tensor *y, const bv_tensor *r) {
    check_tensor(ctx, op, r, y->ndim);
    if (!bv_same_shape(y, r)) {
        char br[96], by[96];
        bv_ctx_error(ctx, op, "residual %s must have the output's shape %s", bv_shape_str(r, br, sizeof br),
                     bv_shape_str(y, by, sizeof by));
    }
}

static void conv_backward(bv_ctx *ctx, bv_node *n) {
    const conv_saved *sv = n->saved;
    bv_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *r = n->in[3], *y = n->out[0];
    bv_conv_grads gr = {0};
    if (r && r->requires_grad) gr.gr = bv_grad(ctx, r);
    if (x->requires_grad) {
        int fresh;
        gr.gx = bv_grad_for_overwrite(ctx, x, &fresh);
        gr.sx = !fresh;
    }
    if (w->requires_grad) gr.sw = grad_needs_scratch(ctx, w), gr.gw = w->grad;
    if (b && b->requires_grad) gr.sb = grad_needs_scratch(ctx, b), gr.gb = b->grad;
    char err[BV_KERNEL_ERR_LEN];
    if (BV_KERNEL(ctx, bv_ctx_kernels(ctx), conv, backward, sv->op)(ctx->be, bv_ctx_data_arena(ctx), &sv->g, &sv->ex, &sv->o, &gr,
                                                                   y->grad, y->data, x->data, w->data, w->bf16, err))
        bv_ctx_error(ctx, sv->op, "%s", err);
}

/* y = conv(x, w) + b (+ residual r: same shape as y, or NULL). */
static bv_tensor *conv_forward(bv_ctx *ctx, bv_op opid, const char *op, int nsp, int transposed, bv_tensor *x,
                               bv_tensor *w, bv_tensor *b, const conv_params *p, const bv_conv_opts *o, bv_tensor *r) {
    bv_tensor *ins[4] = {x, w, b, r};
    const bv_kernels *kt = bv_dispatch(ctx, op, 4, ins);
    bv_conv_opts oc = *o; /* the precision is the context's at forward time; backward reuses it */
    oc.bf16 = ctx->autocast == BV_AUTOCAST_BF16;
    o = &oc;
    bv_conv_geom g = make_geom(ctx, op, nsp, transposed, x, w, b, p, o), ex = exec_geom(&g);
    bv_tensor *y;
    if (o->act_blocked)
        y = bv_new(ctx, BV_F32, BV_SHAPE(g.N, g.OC / BV_CONV_BLOCK, g.out[0], BV_CONV_BLOCK)); // [N, OC/16, out, 16]
    else
        y = bv_new(ctx, BV_F32, 2 + nsp, (int64_t[]){g.N, g.OC, g.out[0], g.out[1]}); // [N, OC, out...]
    if (r) check_residual(ctx, op, y, r);
    char err[BV_KERNEL_ERR_LEN];
    if (BV_KERNEL(ctx, kt, conv, forward, op)(ctx->be, bv_ctx_data_arena(ctx), &g, &ex, o, y->data, x->data, w->data,
                                              w->bf16, b ? b->data : NULL, r ? r->data : NULL, err))
        bv_ctx_error(ctx, op, "%s", err);
    if (bv_needs_grad(ctx, 4, ins)) {
        bv_node *n = bv_record(ctx, opid, conv_backward, 4, ins, 1, &y);
        conv_saved *sv = bv_arena_alloc(&ctx->arena, sizeof *sv);
        *sv = (conv_saved){g, ex, *o, op};
        n->saved = sv;
    }
    return y;
}

static const bv_conv_opts k_plain = {0, 0, 0.0f, 0, 0, 0};

bv_tensor *bv_conv1d(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b, int stride, int padding, int dilation,
                     int groups) {
    conv_params p = {{stride, 1}, {padding, 0}, {dilation, 1}, {0, 0}, groups};
    return conv_forward(ctx, BV_OP_CONV1D, "conv1d", 1, 0, x, w, b, &p, &k_plain, NULL);
}

bv_tensor *bv_conv_transpose1d(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b, int stride, int padding,
                               int output_padding, int groups, int dilation) {
    conv_params p = {{stride, 1}, {padding, 0}, {dilation, 1}, {output_padding, 0}, groups};
    return conv_forward(ctx, BV_OP_CONV_TRANSPOSE1D, "conv_transpose1d", 1, 1, x, w, b, &p, &k_plain, NULL);
}

bv_tensor *bv_conv2d(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b, int stride_h, int stride_w, int pad_h,
                     int pad_w, int dil_h, int dil_w, int groups) {
    conv_params p = {{stride_h, stride_w}, {pad_h, pad_w}, {dil_h, dil_w}, {0, 0}, groups};
    return conv_forward(ctx, BV_OP_CONV2D, "conv2d", 2, 0, x, w, b, &p, &k_plain, NULL);
}

bv_tensor *bv_conv1d_fused(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b, int stride, int padding,
                           int dilation, int groups, const bv_conv1d_fusion *f) {
    const char *op = f->blocked ? "conv1d_fused (blocked)" : "conv1d_fused";
    if (f->lrelu && !(f->slope > 0.0f)) bv_ctx_error(ctx, op, "leaky_relu slope %g must be > 0", (double)f->slope);
    if (f->lrelu && f->residual)
        bv_ctx_error(ctx, op, "leaky_relu and a residual together: the output's sign would not be the activation's");
    if (f->blocked && groups != 1) bv_ctx_error(ctx, op, "blocked convs take groups 1, got %d", groups);
    conv_params p = {{stride, 1}, {padding, 0}, {dilation, 1}, {0, 0}, groups};
    const bv_conv_opts o = {f->blocked != 0, f->lrelu != 0, f->lrelu ? f->slope : 0.0f, 0, 0, 0};
    return conv_forward(ctx, BV_OP_CONV1D, op, 1, 0, x, w, b, &p, &o, f->residual);
}

/* ---------------- inference: conv1d with post-ops into y (helper "infer"; ops.h) ---------------- */

bv_tensor *bv_conv1d_post_op(bv_ctx *ctx, bv_tensor *y, bv_tensor *x, bv_tensor *w, bv_tensor *b,
                             const bv_conv1d_post *p) {
    const char *op = p->transposed ? "conv_transpose1d_post" : "conv1d_post";
    bv_tensor *ins[5] = {x, w, b, p->residual, y};
    const bv_kernels *kt = bv_dispatch(ctx, op, 5, ins);
    if (bv_needs_grad(ctx, 4, ins))
        bv_ctx_error(ctx, op, "inference only: an input needs a gradient (run it under bv_no_grad_begin)");
    if (p->lrelu && !(p->slope > 0.0f)) bv_ctx_error(ctx, op, "leaky_relu slope %g must be > 0", (double)p->slope);
    if (p->accumulate && !y) bv_ctx_error(ctx, op, "accumulate needs an output to add to");
    if (p->divisor != p->divisor) bv_ctx_error(ctx, op, "divisor is NaN");
    if (p->nwc && p->blocked) bv_ctx_error(ctx, op, "nwc and blocked layouts are exclusive");
    if ((p->src_bf16 || p->dst_bf16) && ctx->autocast != BV_AUTOCAST_BF16)
        bv_ctx_error(ctx, op, "bf16 input or output buffers need bf16 autocast");
    if (p->dst_bf16 && (p->residual || p->accumulate || (p->divisor != 0.0f && p->divisor != 1.0f)))
        bv_ctx_error(ctx, op, "a bf16 output takes no residual, accumulate or divisor");
    if (p->in_slope < 0.0f || p->in_slope != p->in_slope)
        bv_ctx_error(ctx, op, "input leaky_relu slope %g must be > 0 (0: none)", (double)p->in_slope);
    if (p->src_bf16 && p->in_slope > 0.0f) bv_ctx_error(ctx, op, "the input leaky_relu reads an fp32 input, not bf16");
    bv_tensor xv; /* nwc: the geometry is read off x's [B, C, T] view of the same buffer */
    if (p->nwc) {
        check_tensor(ctx, op, x, 3);
        xv = *x;
        xv.shape[1] = x->shape[2];
        xv.shape[2] = x->shape[1];
        x = &xv;
    }
    const int stride = p->stride ? p->stride : 1, dilation = p->dilation ? p->dilation : 1;
    conv_params cp = {{stride, 1}, {p->padding, 0}, {dilation, 1}, {0, 0}, 1};
    const bv_conv_opts o = {p->blocked != 0, 0, 0.0f, 0, ctx->autocast == BV_AUTOCAST_BF16, 0};
    bv_conv_geom g = make_geom(ctx, op, 1, p->transposed != 0, x, w, b, &cp, &o);
    int64_t shape[4] = {g.N, p->blocked ? g.OC / BV_CONV_BLOCK : g.OC, g.out[0], BV_CONV_BLOCK};
    if (p->nwc) shape[1] = g.out[0], shape[2] = g.OC; // [B, T_out, OC]
    const int ndim = p->blocked ? 4 : 3;
    if (!y) {
        y = bv_new(ctx, BV_F32, ndim, shape);
    } else {
        check_tensor(ctx, op, y, ndim);
        int ok = 1;
        for (int i = 0; i < ndim; i++) ok &= y->shape[i] == shape[i];
        if (!ok) {
            char by[96];
            bv_ctx_error(ctx, op, "output %s does not have the conv's output shape", bv_shape_str(y, by, sizeof by));
        }
    }
    if (p->residual) check_residual(ctx, op, y, p->residual);
    const bv_conv_post post = {p->residual != NULL, p->accumulate != 0, p->divisor, p->lrelu != 0,
                               p->lrelu ? p->slope : 0.0f, p->nwc != 0, p->in_slope, p->src_bf16 != 0,
                               p->dst_bf16 != 0};
    char err[BV_KERNEL_ERR_LEN];
    if (BV_KERNEL(ctx, kt, conv, forward_post, op)(ctx->be, bv_ctx_data_arena(ctx), &g, &o, &post, y->data, x->data,
                                                   w->data, b ? b->data : NULL,
                                                   p->residual ? p->residual->data : NULL, err))
        bv_ctx_error(ctx, op, "%s", err);
    return y;
}

/* ---------------- channel blocking: [N, C, T] <-> [N, C/16, T, 16] ---------------- */

/* iattr: N, C, T, to_blocked (the forward's direction) */
static void blk_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    if (!x->requires_grad) return;
    const char *op = n->iattr[3] ? "conv_block" : "conv_unblock";
    int fresh;
    bv_grad_for_overwrite(ctx, x, &fresh); /* the reorder writes every element */
    const int accumulate = !fresh;
    char err[BV_KERNEL_ERR_LEN];
    if (BV_KERNEL(ctx, bv_ctx_kernels(ctx), conv, reorder, op)(ctx->be, bv_ctx_data_arena(ctx), x->grad, y->grad, n->iattr[0],
                                                              n->iattr[1], n->iattr[2], !n->iattr[3], accumulate, err))
        bv_ctx_error(ctx, op, "%s", err);
}

static bv_tensor *blk_op(bv_ctx *ctx, const char *op, bv_tensor *x, int64_t N, int64_t C, int64_t T, int to_blocked) {
    const bv_kernels *kt = bv_dispatch(ctx, op, 1, &x);
    bv_tensor *y;
    if (to_blocked)
        y = bv_new(ctx, BV_F32, BV_SHAPE(N, C / BV_CONV_BLOCK, T, BV_CONV_BLOCK)); // [N, C/16, T, 16]
    else
        y = bv_new(ctx, BV_F32, BV_SHAPE(N, C, T)); // [N, C, T]
    char err[BV_KERNEL_ERR_LEN];
    if (BV_KERNEL(ctx, kt, conv, reorder, op)(ctx->be, bv_ctx_data_arena(ctx), y->data, x->data, N, C, T, to_blocked, 0, err))
        bv_ctx_error(ctx, op, "%s", err);
    if (bv_needs_grad(ctx, 1, &x)) {
        bv_node *n = bv_record(ctx, to_blocked ? BV_OP_CONV_BLOCK : BV_OP_CONV_UNBLOCK, blk_backward, 1, &x, 1, &y);
        n->iattr[0] = N;
        n->iattr[1] = C;
        n->iattr[2] = T;
        n->iattr[3] = to_blocked;
    }
    return y;
}

bv_tensor *bv_conv_block(bv_ctx *ctx, bv_tensor *x) {
    const char *op = "conv_block";
    check_tensor(ctx, op, x, 3);
    char bx[96];
    if (x->shape[1] % BV_CONV_BLOCK || x->numel == 0)
        bv_ctx_error(ctx, op, "x %s: need a non-empty [B, C, T] with C a multiple of %d",
                     bv_shape_str(x, bx, sizeof bx), BV_CONV_BLOCK);
    return blk_op(ctx, op, x, x->shape[0], x->shape[1], x->shape[2], 1);
}

bv_tensor *bv_conv_unblock(bv_ctx *ctx, bv_tensor *xb) {
    const char *op = "conv_unblock";
    check_tensor(ctx, op, xb, 4);
    char bx[96];
    if (xb->shape[3] != BV_CONV_BLOCK || xb->numel == 0)
        bv_ctx_error(ctx, op, "x %s: need a non-empty [B, C/%d, T, %d]", bv_shape_str(xb, bx, sizeof bx), BV_CONV_BLOCK,
                     BV_CONV_BLOCK);
    return blk_op(ctx, op, xb, xb->shape[0], xb->shape[1] * BV_CONV_BLOCK, xb->shape[2], 0);
}

/* ---------------- weight_norm ---------------- */

/* v viewed as [outer, D, inner] with D = v.shape[dim]; one norm per d. */
static bv_wn_view wn_split(const bv_tensor *v, int dim) {
    bv_wn_view s = {1, v->shape[dim], 1};
    for (int i = 0; i < dim; i++) s.outer *= v->shape[i];
    for (int i = dim + 1; i < v->ndim; i++) s.inner *= v->shape[i];
    return s;
}

static void weight_norm_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *g = n->in[0], *v = n->in[1], *w = n->out[0];
    bv_wn_view s = wn_split(v, (int)n->iattr[0]);
    float *gg = g->requires_grad ? bv_grad(ctx, g) : NULL;
    float *gv = v->requires_grad ? bv_grad(ctx, v) : NULL;
    BV_KERNEL(ctx, bv_ctx_kernels(ctx), conv, weight_norm_grad, "weight_norm")
    (bv_ctx_data_arena(ctx), gg, gv, w->grad, v->data, g->data, n->saved, s);
}

static void wn_check(bv_ctx *ctx, const bv_tensor *g, const bv_tensor *v, int dim) {
    const char *op = "weight_norm";
    bv_check_dtype(ctx, op, g, BV_F32);
    bv_check_dtype(ctx, op, v, BV_F32);
    char bg[96], bvs[96];
    bv_shape_str(g, bg, sizeof bg);
    bv_shape_str(v, bvs, sizeof bvs);
    if (dim < 0 || dim >= v->ndim)
        bv_ctx_error(ctx, op, "dim %d out of range for v %s (g %s)", dim, bvs, bg);
    int ok = g->ndim == v->ndim;
    for (int i = 0; ok && i < v->ndim; i++) ok = g->shape[i] == (i == dim ? v->shape[i] : 1);
    if (!ok)
        bv_ctx_error(ctx, op, "g %s must be v %s reduced to size 1 on every dim except dim %d", bg, bvs, dim);
}

bv_tensor *bv_weight_norm(bv_ctx *ctx, bv_tensor *g, bv_tensor *v, int dim) {
    bv_tensor *ins[2] = {g, v};
    const bv_kernels *kt = bv_dispatch(ctx, "weight_norm", 2, ins);
    wn_check(ctx, g, v, dim);
    bv_wn_view s = wn_split(v, dim);
    double *norm = bv_ctx_scratch(ctx, sizeof(double) * (size_t)s.D); // [D]
    bv_tensor *w = bv_new_like(ctx, v); // v's shape
    BV_KERNEL(ctx, kt, conv, weight_norm, "weight_norm")(w->data, norm, v->data, g->data, s);
    /* under bf16 autocast every conv that reads w rounds it to bf16 (several passes of a step: the
     * MPD's y and y_hat forwards and data passes): round it once, here, for all of them */
    if (ctx->autocast == BV_AUTOCAST_BF16 && kt->linalg && kt->linalg->to_bf16) {
        uint16_t *w16 = bv_arena_alloc(bv_ctx_data_arena(ctx), sizeof(uint16_t) * (size_t)w->numel);
        kt->linalg->to_bf16(w16, w->data, w->numel);
        w->bf16 = w16;
    }
    if (bv_needs_grad(ctx, 2, ins)) {
        bv_node *n = bv_record(ctx, BV_OP_WEIGHT_NORM, weight_norm_backward, 2, ins, 1, &w);
        n->saved = norm;
        n->iattr[0] = dim;
    }
    return w;
}
