/* shape.c - shape and data-movement ops: reshape, transpose/permute, slice, concat, split, pad,
 * flip, expand, cumsum, masked_fill, copy, slice_segments and the dtype casts: constructors, the
 * views they hand to the kernels, and backward rules. Kernels: the device's shape slots
 * (cpu/shape.c).
 *
 * Gradient convention: every backward ACCUMULATES (+=) into bv_grad(ctx, input), and only for
 * inputs with requires_grad set. Data movement works for f32 and i64 tensors alike; only f32 ones
 * ever record a node.
 *
 * Most ops here are one pattern: copy (or add) one N-d strided view into another (the shape.strided
 * kernel, bv_strided_view in kernels.h). Most backward rules are the same view with src and dst
 * swapped, in add mode.
 */
#include <string.h>

#include "dispatch.h"
#include "ops.h"

static void contig_strides(int nd, const int64_t *shape, int64_t *st) {
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= shape[i];
    }
}

/* ---------------- shared helpers ---------------- */

static void *tdata(const bv_tensor *t) { return t->dtype == BV_I64 ? (void *)t->idata : (void *)t->data; }
static bv_strided_kind copy_kind(const bv_tensor *t) { return t->dtype == BV_I64 ? BV_STRIDED_COPY64 : BV_STRIDED_COPY32; }
static size_t elem_size(const bv_tensor *t) { return t->dtype == BV_I64 ? sizeof(int64_t) : sizeof(float); }

/* Nodes are only recorded for f32 inputs: integer tensors never carry gradients. */
static int wants_grad(bv_ctx *ctx, bv_tensor *x) { return x->dtype == BV_F32 && bv_needs_grad(ctx, 1, &x); }

static int norm_dim(bv_ctx *ctx, const char *op, const bv_tensor *x, int dim) {
    int d = dim < 0 ? dim + x->ndim : dim;
    if (d < 0 || d >= x->ndim) {
        char b[96];
        bv_ctx_error(ctx, op, "dim %d out of range for shape %s", dim, bv_shape_str(x, b, sizeof b));
    }
    return d;
}

/* The kernel table for x (device checked), or an error naming op. */
static const bv_kernels *check_input(bv_ctx *ctx, const char *op, bv_tensor *x) {
    if (!x) bv_ctx_error(ctx, op, "input tensor is NULL");
    return bv_dispatch(ctx, op, 1, &x);
}

/* dst[view] (+)= src[view] through the device's strided kernel. */
static void strided(bv_ctx *ctx, const bv_kernels *k, const char *op, bv_strided_kind kind, void *dst,
                    const void *src, bv_strided_view v) {
    BV_KERNEL(ctx, k, shape, strided, op)(kind, dst, src, v);
}

/* ---------------- reshape ---------------- */

static void reshape_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    const bv_kernels *k = bv_ctx_kernels(ctx);
    BV_KERNEL(ctx, k, shape, accumulate, bv_op_name(n->op))(bv_grad(ctx, x), y->grad, x->numel);
}

bv_tensor *bv_reshape(bv_ctx *ctx, bv_tensor *x, int ndim, const int64_t *shape) {
    check_input(ctx, "reshape", x); /* a view: no kernel */
    char b[96];
    if (ndim < 0 || ndim > BV_MAX_DIMS)
        bv_ctx_error(ctx, "reshape", "%d dims requested for %s (max %d)", ndim, bv_shape_str(x, b, sizeof b),
                     BV_MAX_DIMS);
    int64_t sh[BV_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        sh[i] = shape[i];
        if (shape[i] == -1 && infer < 0) infer = i;
        else if (shape[i] < 0)
            bv_ctx_error(ctx, "reshape", "invalid size %lld in dim %d of the target shape for %s", (long long)shape[i],
                         i, bv_shape_str(x, b, sizeof b));
        else known *= shape[i];
    }
    if (infer >= 0) {
        if (known == 0 || x->numel % known != 0)
            bv_ctx_error(ctx, "reshape", "cannot infer dim %d: %s has %lld elements, not divisible by %lld", infer,
                         bv_shape_str(x, b, sizeof b), (long long)x->numel, (long long)known);
        sh[infer] = x->numel / known;
    }
    bv_tensor *y = bv_arena_calloc(&ctx->arena, sizeof *y);
    y->dtype = x->dtype;
    y->device = x->device;
    y->ndim = ndim;
    for (int i = 0; i < ndim; i++) y->shape[i] = sh[i];
    y->numel = bv_shape_numel(ndim, sh);
    if (y->numel != x->numel) {
        char c[96];
        bv_ctx_error(ctx, "reshape", "cannot view %s (%lld elements) as %s (%lld elements)",
                     bv_shape_str(x, b, sizeof b), (long long)x->numel, bv_shape_str(y, c, sizeof c),
                     (long long)y->numel);
    }
    y->data = x->data; /* aliases: same data, new shape */
    y->idata = x->idata;
    if (wants_grad(ctx, x)) bv_record(ctx, BV_OP_RESHAPE, reshape_backward, 1, &x, 1, &y);
    return y;
}

/* ---------------- permute / transpose ---------------- */

/* y[i0..] = x[...] with y dim i = x dim perm[i]: view in y order, x strides permuted. */
static bv_strided_view permute_view(const bv_tensor *x, const bv_tensor *y, const int64_t *perm, int dst_is_y) {
    int64_t xs[BV_MAX_DIMS], ys[BV_MAX_DIMS];
    contig_strides(x->ndim, x->shape, xs);
    contig_strides(y->ndim, y->shape, ys);
    bv_strided_view v = {.nd = y->ndim};
    for (int i = 0; i < y->ndim; i++) {
        v.n[i] = y->shape[i];
        v.sd[i] = dst_is_y ? ys[i] : xs[perm[i]];
        v.ss[i] = dst_is_y ? xs[perm[i]] : ys[i];
    }
    return v;
}

static void permute_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    strided(ctx, bv_ctx_kernels(ctx), bv_op_name(n->op), BV_STRIDED_ADD, bv_grad(ctx, x), y->grad,
            permute_view(x, y, n->iattr, 0));
}

static bv_tensor *permute_impl(bv_ctx *ctx, const bv_kernels *k, bv_op id, const char *name, bv_tensor *x,
                               const int64_t *perm) {
    int64_t shape[BV_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[perm[i]];
    bv_tensor *y = bv_new(ctx, x->dtype, x->ndim, shape);
    strided(ctx, k, name, copy_kind(x), tdata(y), tdata(x), permute_view(x, y, perm, 1));
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, id, permute_backward, 1, &x, 1, &y);
        for (int i = 0; i < x->ndim; i++) n->iattr[i] = perm[i];
    }
    return y;
}

bv_tensor *bv_transpose(bv_ctx *ctx, bv_tensor *x, int d0, int d1) {
    const bv_kernels *k = check_input(ctx, "transpose", x);
    int a = norm_dim(ctx, "transpose", x, d0), c = norm_dim(ctx, "transpose", x, d1);
    int64_t perm[BV_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[a] = c;
    perm[c] = a;
    return permute_impl(ctx, k, BV_OP_TRANSPOSE, "transpose", x, perm);
}

bv_tensor *bv_permute(bv_ctx *ctx, bv_tensor *x, const int *perm) {
    const bv_kernels *k = check_input(ctx, "permute", x);
    int64_t p[BV_MAX_DIMS];
    int seen[BV_MAX_DIMS] = {0};
    for (int i = 0; i < x->ndim; i++) {
        int d = perm[i] < 0 ? perm[i] + x->ndim : perm[i];
        if (d < 0 || d >= x->ndim || seen[d]) {
            char b[96];
            bv_ctx_error(ctx, "permute", "perm[%d] = %d is not a permutation entry for shape %s", i, perm[i],
                         bv_shape_str(x, b, sizeof b));
        }
        seen[d] = 1;
        p[i] = d;
    }
    return permute_impl(ctx, k, BV_OP_PERMUTE, "permute", x, p);
}

/* ---------------- slice / split ---------------- */

/* x viewed as y: x offset start*xs[dim], x stride along dim multiplied by step. */
static bv_strided_view slice_view(const bv_tensor *x, const bv_tensor *y, int dim, int64_t step, int dst_is_y) {
    int64_t xs[BV_MAX_DIMS], ys[BV_MAX_DIMS];
    contig_strides(x->ndim, x->shape, xs);
    contig_strides(y->ndim, y->shape, ys);
    xs[dim] *= step;
    bv_strided_view v = {.nd = y->ndim};
    for (int i = 0; i < y->ndim; i++) {
        v.n[i] = y->shape[i];
        v.sd[i] = dst_is_y ? ys[i] : xs[i];
        v.ss[i] = dst_is_y ? xs[i] : ys[i];
    }
    return v;
}

/* Element offset of index idx along dim in contiguous x. */
static int64_t dim_offset(const bv_tensor *x, int dim, int64_t idx) {
    int64_t stride = 1;
    for (int i = dim + 1; i < x->ndim; i++) stride *= x->shape[i];
    return idx * stride;
}

static void slice_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    int dim = (int)n->iattr[0];
    float *gx = bv_grad(ctx, x) + dim_offset(x, dim, n->iattr[1]);
    strided(ctx, bv_ctx_kernels(ctx), "slice", BV_STRIDED_ADD, gx, y->grad, slice_view(x, y, dim, n->iattr[2], 0));
}

bv_tensor *bv_slice(bv_ctx *ctx, bv_tensor *x, int dim, int64_t start, int64_t end, int64_t step) {
    const bv_kernels *k = check_input(ctx, "slice", x);
    int d = norm_dim(ctx, "slice", x, dim);
    if (step <= 0) {
        char b[96];
        bv_ctx_error(ctx, "slice", "step must be positive, got %lld (shape %s, dim %d)", (long long)step,
                     bv_shape_str(x, b, sizeof b), dim);
    }
    int64_t size = x->shape[d];
    if (start < 0) start += size;
    if (end < 0) end += size;
    start = start < 0 ? 0 : start > size ? size : start;
    end = end < 0 ? 0 : end > size ? size : end;
    int64_t len = end > start ? (end - start + step - 1) / step : 0;
    int64_t shape[BV_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[d] = len;
    bv_tensor *y = bv_new(ctx, x->dtype, x->ndim, shape);
    const char *src = (const char *)tdata(x) + dim_offset(x, d, start) * (int64_t)elem_size(x);
    strided(ctx, k, "slice", copy_kind(x), tdata(y), src, slice_view(x, y, d, step, 1));
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, BV_OP_SLICE, slice_backward, 1, &x, 1, &y);
        n->iattr[0] = d;
        n->iattr[1] = start;
        n->iattr[2] = step;
    }
    return y;
}

void bv_split(bv_ctx *ctx, bv_tensor *x, int dim, int n, const int64_t *sizes, bv_tensor **outs) {
    check_input(ctx, "split", x);
    int d = norm_dim(ctx, "split", x, dim);
    char b[96];
    if (n <= 0) bv_ctx_error(ctx, "split", "%d parts requested for %s", n, bv_shape_str(x, b, sizeof b));
    int64_t size = x->shape[d], total = 0;
    if (!sizes && size % n != 0)
        bv_ctx_error(ctx, "split", "dim %d of %s does not split into %d equal parts", dim, bv_shape_str(x, b, sizeof b),
                     n);
    for (int i = 0; i < n; i++) {
        int64_t s = sizes ? sizes[i] : size / n;
        if (s < 0) bv_ctx_error(ctx, "split", "negative size %lld for part %d of %s", (long long)s, i,
                                bv_shape_str(x, b, sizeof b));
        total += s;
    }
    if (total != size)
        bv_ctx_error(ctx, "split", "sizes sum to %lld but dim %d of %s is %lld", (long long)total, dim,
                     bv_shape_str(x, b, sizeof b), (long long)size);
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        int64_t s = sizes ? sizes[i] : size / n;
        outs[i] = bv_slice(ctx, x, d, off, off + s, 1);
        off += s;
    }
}

/* ---------------- concat ---------------- */

/* Input xi occupies [off, off + xi.shape[dim]) of y along dim. */
static bv_strided_view concat_view(const bv_tensor *xi, const bv_tensor *y, int dst_is_y) {
    int64_t xs[BV_MAX_DIMS], ys[BV_MAX_DIMS];
    contig_strides(xi->ndim, xi->shape, xs);
    contig_strides(y->ndim, y->shape, ys);
    bv_strided_view v = {.nd = y->ndim};
    for (int i = 0; i < y->ndim; i++) {
        v.n[i] = xi->shape[i];
        v.sd[i] = dst_is_y ? ys[i] : xs[i];
        v.ss[i] = dst_is_y ? xs[i] : ys[i];
    }
    return v;
}

static void concat_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *y = n->out[0];
    int dim = (int)n->iattr[0];
    int64_t off = 0;
    for (int i = 0; i < n->n_in; i++) {
        bv_tensor *xi = n->in[i];
        if (xi->requires_grad)
            strided(ctx, bv_ctx_kernels(ctx), "concat", BV_STRIDED_ADD, bv_grad(ctx, xi),
                    y->grad + dim_offset(y, dim, off), concat_view(xi, y, 0));
        off += xi->shape[dim];
    }
}

bv_tensor *bv_concat(bv_ctx *ctx, int n, bv_tensor *const *xs, int dim) {
    if (n <= 0) bv_ctx_error(ctx, "concat", "needs at least one input, got %d", n);
    for (int i = 0; i < n; i++)
        if (!xs[i]) bv_ctx_error(ctx, "concat", "input tensor is NULL");
    const bv_kernels *k = bv_dispatch(ctx, "concat", n, xs);
    const bv_tensor *x0 = xs[0];
    int d = norm_dim(ctx, "concat", x0, dim);
    int64_t shape[BV_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < n; i++) {
        const bv_tensor *xi = xs[i];
        int ok = xi->ndim == x0->ndim && xi->dtype == x0->dtype;
        for (int j = 0; ok && j < x0->ndim; j++) ok = j == d || xi->shape[j] == x0->shape[j];
        if (!ok) {
            char a[96], b[96];
            bv_ctx_error(ctx, "concat", "input %d %s %s does not match input 0 %s %s outside dim %d", i,
                         bv_dtype_name(xi->dtype), bv_shape_str(xi, a, sizeof a), bv_dtype_name(x0->dtype),
                         bv_shape_str(x0, b, sizeof b), dim);
        }
        shape[d] += xi->shape[d];
    }
    bv_tensor *y = bv_new(ctx, x0->dtype, x0->ndim, shape);
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        char *dst = (char *)tdata(y) + dim_offset(y, d, off) * (int64_t)elem_size(y);
        strided(ctx, k, "concat", copy_kind(y), dst, tdata(xs[i]), concat_view(xs[i], y, 1));
        off += xs[i]->shape[d];
    }
    if (x0->dtype == BV_F32 && bv_needs_grad(ctx, n, xs)) {
        bv_node *nd = bv_record(ctx, BV_OP_CONCAT, concat_backward, n, xs, 1, &y);
        nd->iattr[0] = d;
    }
    return y;
}

/* ---------------- pad ---------------- */

/* For every dim of the output, the source index of each output position (-1: the constant).
 * Reflect uses torch's own index formula, which also covers negative (cropping) pads:
 *   j < l: 2l - j;  j < W + l: j;  else 2(W + l - 1) - j;  then - l. */
static bv_pad_plan *pad_make_plan(bv_ctx *ctx, const bv_tensor *x, const bv_tensor *y, const int64_t *lefts,
                               bv_pad_mode mode, float value) {
    bv_pad_plan *p = bv_arena_calloc(&ctx->arena, sizeof *p);
    p->nd = x->ndim;
    memcpy(p->xshape, x->shape, sizeof p->xshape);
    memcpy(p->yshape, y->shape, sizeof p->yshape);
    p->ynumel = y->numel;
    p->value = value;
    p->first_padded = x->ndim;
    for (int d = x->ndim - 1; d >= 0; d--) {
        int64_t W = x->shape[d], O = y->shape[d], l = lefts[d];
        if (O != W || l != 0) p->first_padded = d;
        p->left[d] = l;
        p->lo[d] = l > 0 ? l : 0;
        p->hi[d] = W + l < O ? W + l : O;
        if (p->hi[d] < p->lo[d]) p->hi[d] = p->lo[d];
        p->map[d] = bv_arena_alloc(&ctx->arena, sizeof(int64_t) * (size_t)(O ? O : 1));
        for (int64_t j = 0; j < O; j++) {
            int64_t i;
            if (mode == BV_PAD_CONSTANT) i = (j - l >= 0 && j - l < W) ? j - l : -1;
            else {
                i = j < l ? 2 * l - j : j < W + l ? j : 2 * (W + l - 1) - j;
                i -= l;
                if (i < 0 || i >= W) {
                    char b[96];
                    bv_ctx_error(ctx, "pad", "reflect padding of dim %d of %s reaches outside the input", d,
                                 bv_shape_str(x, b, sizeof b));
                }
            }
            p->map[d][j] = i;
        }
    }
    return p;
}

static void pad_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    const bv_kernels *k = bv_ctx_kernels(ctx);
    BV_KERNEL(ctx, k, shape, pad_grad, "pad")(bv_grad(ctx, x), y->grad, n->saved, n->iattr[0] == BV_PAD_CONSTANT);
}

bv_tensor *bv_pad(bv_ctx *ctx, bv_tensor *x, int npad, const int64_t *pads, bv_pad_mode mode, float value) {
    const bv_kernels *k = check_input(ctx, "pad", x);
    char b[96];
    if (npad < 0 || npad % 2 || npad / 2 > x->ndim)
        bv_ctx_error(ctx, "pad", "%d pad values for %s: need an even count, at most 2 per dim", npad,
                     bv_shape_str(x, b, sizeof b));
    if (mode != BV_PAD_CONSTANT && mode != BV_PAD_REFLECT)
        bv_ctx_error(ctx, "pad", "unknown mode %d for %s", (int)mode, bv_shape_str(x, b, sizeof b));
    int64_t shape[BV_MAX_DIMS], lefts[BV_MAX_DIMS] = {0};
    memcpy(shape, x->shape, sizeof shape);
    for (int i = 0; i < npad / 2; i++) {
        int d = x->ndim - 1 - i;
        int64_t l = pads[2 * i], r = pads[2 * i + 1], W = x->shape[d];
        if (mode == BV_PAD_REFLECT && (l >= W || r >= W))
            bv_ctx_error(ctx, "pad", "reflect padding (%lld, %lld) of dim %d must be smaller than its size in %s",
                         (long long)l, (long long)r, d, bv_shape_str(x, b, sizeof b));
        shape[d] = W + l + r;
        lefts[d] = l;
        if (shape[d] < 0)
            bv_ctx_error(ctx, "pad", "padding (%lld, %lld) of dim %d leaves a negative size for %s", (long long)l,
                         (long long)r, d, bv_shape_str(x, b, sizeof b));
    }
    if (x->ndim == 0) return bv_copy(ctx, x); /* npad is 0: nothing to pad */
    bv_tensor *y = bv_new(ctx, x->dtype, x->ndim, shape);
    bv_pad_plan *p = pad_make_plan(ctx, x, y, lefts, mode, value);
    if (y->numel) BV_KERNEL(ctx, k, shape, pad, "pad")(tdata(y), tdata(x), p, x->dtype == BV_I64);
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, BV_OP_PAD, pad_backward, 1, &x, 1, &y);
        n->saved = p;
        n->iattr[0] = mode;
    }
    return y;
}

/* ---------------- flip ---------------- */

static bv_strided_view flip_view(const bv_tensor *x, int dim) {
    int64_t st[BV_MAX_DIMS];
    contig_strides(x->ndim, x->shape, st);
    bv_strided_view v = {.nd = x->ndim};
    for (int i = 0; i < x->ndim; i++) {
        v.n[i] = x->shape[i];
        v.sd[i] = st[i];
        v.ss[i] = i == dim ? -st[i] : st[i];
    }
    return v;
}

static void flip_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    int dim = (int)n->iattr[0];
    const float *src = y->grad + dim_offset(y, dim, y->shape[dim] - 1);
    strided(ctx, bv_ctx_kernels(ctx), "flip", BV_STRIDED_ADD, bv_grad(ctx, x), src, flip_view(y, dim));
}

bv_tensor *bv_flip(bv_ctx *ctx, bv_tensor *x, int dim) {
    const bv_kernels *k = check_input(ctx, "flip", x);
    int d = norm_dim(ctx, "flip", x, dim);
    bv_tensor *y = bv_new_like(ctx, x);
    if (x->shape[d] > 0) {
        const char *src = (const char *)tdata(x) + dim_offset(x, d, x->shape[d] - 1) * (int64_t)elem_size(x);
        strided(ctx, k, "flip", copy_kind(x), tdata(y), src, flip_view(x, d));
    }
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, BV_OP_FLIP, flip_backward, 1, &x, 1, &y);
        n->iattr[0] = d;
    }
    return y;
}

/* ---------------- expand ---------------- */

/* y contiguous, x read with stride 0 along broadcast dims (new leading dims included). */
static bv_strided_view expand_view(const bv_tensor *x, const bv_tensor *y, int dst_is_y) {
    int64_t xs[BV_MAX_DIMS], ys[BV_MAX_DIMS];
    contig_strides(x->ndim, x->shape, xs);
    contig_strides(y->ndim, y->shape, ys);
    int lead = y->ndim - x->ndim;
    bv_strided_view v = {.nd = y->ndim};
    for (int i = 0; i < y->ndim; i++) {
        int k = i - lead;
        int64_t sx = (k < 0 || x->shape[k] != y->shape[i]) ? 0 : xs[k];
        v.n[i] = y->shape[i];
        v.sd[i] = dst_is_y ? ys[i] : sx;
        v.ss[i] = dst_is_y ? sx : ys[i];
    }
    return v;
}

static void expand_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    strided(ctx, bv_ctx_kernels(ctx), "expand", BV_STRIDED_ADD, bv_grad(ctx, x), y->grad, expand_view(x, y, 0));
}

bv_tensor *bv_expand(bv_ctx *ctx, bv_tensor *x, int ndim, const int64_t *shape) {
    const bv_kernels *k = check_input(ctx, "expand", x);
    char b[96];
    if (ndim < x->ndim || ndim > BV_MAX_DIMS)
        bv_ctx_error(ctx, "expand", "cannot expand %s to %d dims", bv_shape_str(x, b, sizeof b), ndim);
    int64_t sh[BV_MAX_DIMS];
    int lead = ndim - x->ndim;
    for (int i = 0; i < ndim; i++) {
        int xd = i - lead;
        int64_t want = shape[i];
        if (want == -1 && xd >= 0) want = x->shape[xd];
        if (want < 0 || (xd >= 0 && x->shape[xd] != 1 && x->shape[xd] != want)) {
            char c[160];
            int m = snprintf(c, sizeof c, "[");
            for (int j = 0; j < ndim && m < (int)sizeof c; j++)
                m += snprintf(c + m, sizeof c - (size_t)m, j ? ", %lld" : "%lld", (long long)shape[j]);
            if (m < (int)sizeof c) snprintf(c + m, sizeof c - (size_t)m, "]");
            bv_ctx_error(ctx, "expand", "cannot broadcast %s to %s (dim %d)", bv_shape_str(x, b, sizeof b), c, i);
        }
        sh[i] = want;
    }
    bv_tensor *y = bv_new(ctx, x->dtype, ndim, sh);
    strided(ctx, k, "expand", copy_kind(x), tdata(y), tdata(x), expand_view(x, y, 1));
    if (wants_grad(ctx, x)) bv_record(ctx, BV_OP_EXPAND, expand_backward, 1, &x, 1, &y);
    return y;
}

/* ---------------- cumsum ---------------- */

/* Running sums along dim over x viewed as [outer, D, inner], accumulated in double as torch's CPU
 * kernel does (acc_type<float> is double); the backward sums from the end. */
static void cumsum_dims(const bv_tensor *x, int d, int64_t *outer, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < d; i++) *outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) *inner *= x->shape[i];
}

static void cumsum_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    int d = (int)n->iattr[0];
    int64_t outer, inner;
    cumsum_dims(x, d, &outer, &inner);
    const bv_kernels *k = bv_ctx_kernels(ctx);
    BV_KERNEL(ctx, k, shape, cumsum, "cumsum")(bv_grad(ctx, x), y->grad, outer, x->shape[d], inner, 1, 1);
}

bv_tensor *bv_cumsum(bv_ctx *ctx, bv_tensor *x, int dim) {
    const bv_kernels *k = check_input(ctx, "cumsum", x);
    bv_check_dtype(ctx, "cumsum", x, BV_F32);
    int d = norm_dim(ctx, "cumsum", x, dim);
    bv_tensor *y = bv_new_like(ctx, x);
    int64_t outer, inner;
    cumsum_dims(x, d, &outer, &inner);
    BV_KERNEL(ctx, k, shape, cumsum, "cumsum")(y->data, x->data, outer, x->shape[d], inner, 0, 0);
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, BV_OP_CUMSUM, cumsum_backward, 1, &x, 1, &y);
        n->iattr[0] = d;
    }
    return y;
}

/* ---------------- masked_fill ---------------- */

/* x's shape and the mask's strides aligned to x's dims (0 where the mask broadcasts). */
static bv_mask_layout *mask_layout(bv_ctx *ctx, const bv_tensor *x, const bv_tensor *mask, int fill_where_zero) {
    bv_mask_layout *l = bv_arena_calloc(&ctx->arena, sizeof *l);
    int64_t st[BV_MAX_DIMS];
    contig_strides(mask->ndim, mask->shape, st);
    int lead = x->ndim - mask->ndim;
    l->nd = x->ndim;
    l->numel = x->numel;
    for (int i = 0; i < x->ndim; i++) {
        int k = i - lead;
        l->shape[i] = x->shape[i];
        l->ms[i] = (k < 0 || mask->shape[k] == 1) ? 0 : st[k];
    }
    l->mask_i64 = mask->dtype == BV_I64;
    l->fill_where_zero = fill_where_zero;
    return l;
}

static void masked_fill_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0], *mask = n->saved;
    const bv_kernels *k = bv_ctx_kernels(ctx);
    BV_KERNEL(ctx, k, shape, masked_fill, bv_op_name(n->op))
    (bv_grad(ctx, x), y->grad, tdata(mask), mask_layout(ctx, x, mask, (int)n->iattr[0]), 0.0f, 1);
}

static bv_tensor *masked_fill_any(bv_ctx *ctx, const char *op, bv_tensor *x, bv_tensor *mask, float value,
                                  int fill_where_zero, int inplace) {
    if (!x || !mask) bv_ctx_error(ctx, op, "input tensor is NULL");
    bv_tensor *ins[2] = {x, mask};
    const bv_kernels *k = bv_dispatch(ctx, op, 2, ins);
    bv_check_dtype(ctx, op, x, BV_F32);
    int ok = mask->ndim <= x->ndim;
    for (int d = 0; ok && d < mask->ndim; d++) {
        int64_t ms = mask->shape[d], xs = x->shape[x->ndim - mask->ndim + d];
        ok = ms == 1 || ms == xs;
    }
    if (!ok) {
        char a[96], b[96];
        bv_ctx_error(ctx, op, "mask %s does not broadcast to x %s", bv_shape_str(mask, a, sizeof a),
                     bv_shape_str(x, b, sizeof b));
    }
    bv_tensor *y = inplace && wants_grad(ctx, x) ? bv_inplace_alias(ctx, x) : NULL;
    if (!y) y = bv_new_like(ctx, x);
    /* element-wise: the kernel reads in[i] before it writes out[i], so out may be in */
    BV_KERNEL(ctx, k, shape, masked_fill, op)
    (y->data, x->data, tdata(mask), mask_layout(ctx, x, mask, fill_where_zero), value, 0);
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, BV_OP_MASKED_FILL, masked_fill_backward, 1, &x, 1, &y);
        n->saved = mask;
        n->iattr[0] = fill_where_zero;
    }
    return y;
}

bv_tensor *bv_masked_fill(bv_ctx *ctx, bv_tensor *x, bv_tensor *mask, float value) {
    return masked_fill_any(ctx, "masked_fill", x, mask, value, 0, 0);
}

bv_tensor *bv_masked_fill_zero(bv_ctx *ctx, bv_tensor *x, bv_tensor *mask, float value) {
    return masked_fill_any(ctx, "masked_fill_zero", x, mask, value, 1, 0);
}

bv_tensor *bv_masked_fill_(bv_ctx *ctx, bv_tensor *x, bv_tensor *mask, float value) {
    return masked_fill_any(ctx, "masked_fill", x, mask, value, 0, 1);
}

bv_tensor *bv_masked_fill_zero_(bv_ctx *ctx, bv_tensor *x, bv_tensor *mask, float value) {
    return masked_fill_any(ctx, "masked_fill_zero", x, mask, value, 1, 1);
}

/* ---------------- copy ---------------- */

bv_tensor *bv_copy(bv_ctx *ctx, bv_tensor *x) {
    const bv_kernels *k = check_input(ctx, "copy", x);
    bv_tensor *y = bv_new_like(ctx, x);
    BV_KERNEL(ctx, k, shape, copy, "copy")(tdata(y), tdata(x), elem_size(x) * (size_t)x->numel);
    if (wants_grad(ctx, x)) bv_record(ctx, BV_OP_COPY, reshape_backward, 1, &x, 1, &y);
    return y;
}

/* ---------------- slice_segments ---------------- */

/* One batch item: [C, seg] of y against x[b, :, id:id+seg]. */
static bv_strided_view segment_view(int64_t C, int64_t T, int64_t seg, int dst_is_y) {
    bv_strided_view v = {.nd = 2, .n = {C, seg}};
    v.sd[0] = dst_is_y ? seg : T;
    v.ss[0] = dst_is_y ? T : seg;
    v.sd[1] = v.ss[1] = 1;
    return v;
}

static void slice_segments_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    const int64_t *ids = n->saved;
    int64_t B = x->shape[0], C = x->shape[1], T = x->shape[2], seg = y->shape[2];
    float *gx = bv_grad(ctx, x);
    const bv_kernels *k = bv_ctx_kernels(ctx);
    for (int64_t b = 0; b < B; b++)
        strided(ctx, k, "slice_segments", BV_STRIDED_ADD, gx + (b * C * T + ids[b]), y->grad + b * C * seg,
                segment_view(C, T, seg, 0));
}

bv_tensor *bv_slice_segments(bv_ctx *ctx, bv_tensor *x, bv_tensor *ids, int64_t segment_size) {
    if (!x || !ids) bv_ctx_error(ctx, "slice_segments", "input tensor is NULL");
    bv_tensor *ins[2] = {x, ids};
    const bv_kernels *k = bv_dispatch(ctx, "slice_segments", 2, ins);
    bv_check_ndim(ctx, "slice_segments", x, 3);
    bv_check_dtype(ctx, "slice_segments", ids, BV_I64);
    char a[96], b[96];
    int64_t B = x->shape[0], C = x->shape[1], T = x->shape[2];
    if (ids->numel != B)
        bv_ctx_error(ctx, "slice_segments", "ids %s must hold one start per batch item of x %s",
                     bv_shape_str(ids, a, sizeof a), bv_shape_str(x, b, sizeof b));
    if (segment_size < 0 || segment_size > T)
        bv_ctx_error(ctx, "slice_segments", "segment_size %lld does not fit x %s", (long long)segment_size,
                     bv_shape_str(x, b, sizeof b));
    /* the starts come to the host: they are checked here and become offsets of the kernel calls */
    int64_t *saved = bv_arena_alloc(&ctx->arena, sizeof(int64_t) * (size_t)(B ? B : 1));
    ctx->be->mem.to_host(saved, ids->idata, sizeof(int64_t) * (size_t)B);
    for (int64_t i = 0; i < B; i++) {
        int64_t s = saved[i];
        if (s < 0 || s + segment_size > T)
            bv_ctx_error(ctx, "slice_segments", "ids[%lld] = %lld: segment of %lld leaves x %s (ids %s)", (long long)i,
                         (long long)s, (long long)segment_size, bv_shape_str(x, b, sizeof b),
                         bv_shape_str(ids, a, sizeof a));
    }
    bv_tensor *y = bv_new(ctx, x->dtype, 3, (int64_t[]){B, C, segment_size}); // [B, C, seg]
    size_t es = elem_size(x);
    for (int64_t i = 0; i < B; i++)
        strided(ctx, k, "slice_segments", copy_kind(x), (char *)tdata(y) + (size_t)(i * C * segment_size) * es,
                (const char *)tdata(x) + (size_t)(i * C * T + saved[i]) * es, segment_view(C, T, segment_size, 1));
    if (wants_grad(ctx, x)) {
        bv_node *n = bv_record(ctx, BV_OP_GATHER_TIME, slice_segments_backward, 1, &x, 1, &y);
        n->saved = saved;
    }
    return y;
}

/* ---------------- dtype casts (no grad) ---------------- */

bv_tensor *bv_to_f32(bv_ctx *ctx, bv_tensor *x) {
    const bv_kernels *k = check_input(ctx, "to_f32", x);
    if (x->dtype == BV_F32) return x; /* like .float() on a float tensor: the same tensor */
    bv_tensor *y = bv_new(ctx, BV_F32, x->ndim, x->shape);
    BV_KERNEL(ctx, k, shape, i64_to_f32, "to_f32")(y->data, x->idata, x->numel);
    return y;
}

bv_tensor *bv_to_i64(bv_ctx *ctx, bv_tensor *x) {
    const bv_kernels *k = check_input(ctx, "to_i64", x);
    if (x->dtype == BV_I64) return x;
    bv_tensor *y = bv_new(ctx, BV_I64, x->ndim, x->shape);
    BV_KERNEL(ctx, k, shape, f32_to_i64, "to_i64")(y->idata, x->data, x->numel);
    return y;
}
