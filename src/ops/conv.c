/* conv.c - conv1d, conv_transpose1d, conv2d (forward, backward data, backward weights through
 * oneDNN) and weight_norm, the way Bert-VITS2 builds every conv layer.
 *
 * Gradient convention: backward functions ACCUMULATE (+=) into the grads of inputs that require
 * grad (oneDNN overwrites its outputs, so a result is written straight into a grad buffer only on
 * that buffer's first touch, when it is known to be zero; otherwise into scratch and added).
 *
 * oneDNN use: one CPU engine and stream, created on first use; fp32. Tensors stay in PyTorch's
 * plain layouts (ncw/nchw activations, oiw/goiw weights; the transposed-conv weight [IC, OC/G, K]
 * is described to oneDNN's deconvolution as a permuted layout, so nothing is copied). Per shape and
 * pass, use_blocked() decides whether oneDNN runs on those plain buffers (its sgemm kernels) or
 * on blocked copies made by reorders around the call (its direct kernels), whichever measured
 * faster. Primitives (and their reorders) are kept in a bounded LRU cache keyed by the full
 * geometry, pass and layout choice, so the repeated shapes of a training step never rebuild one.
 * Calls come from one thread at a time (the model's thread); oneDNN parallelises inside (OpenMP).
 *
 * The naive oracle these kernels are tested against lives in conv_ref.c.
 */
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_ref.h"
#include "ops.h"

/* ---------------- oneDNN engine, stream, primitive cache ---------------- */

typedef enum { PASS_FWD = 0, PASS_BWD_DATA, PASS_BWD_WEIGHTS } conv_pass;

typedef struct {
    bv_conv_geom g;
    int32_t pass;
    int32_t blocked;                  /* oneDNN picks the layouts (reorders around the primitive) */
} prim_key;
/* hashed and compared as raw bytes: there must be no padding */
_Static_assert(sizeof(prim_key) == sizeof(bv_conv_geom) + 2 * sizeof(int32_t), "prim_key has padding");
_Static_assert(sizeof(bv_conv_geom) == 21 * sizeof(int64_t), "bv_conv_geom has padding");

#define PRIM_MAX_ARGS 4
typedef struct {
    prim_key key;
    uint64_t hash, last_use;
    dnnl_primitive_t prim;            /* NULL: free slot */
    int nargs;
    int arg[PRIM_MAX_ARGS];           /* DNNL_ARG_* in conv_exec's pointer order */
    dnnl_memory_t mem[PRIM_MAX_ARGS]; /* the primitive's argument; data handle set per call */
    /* Where the primitive wants a blocked layout: the caller's plain buffer, the reorder between
     * the two (plain -> blocked for inputs, blocked -> plain for the output), the blocked size. */
    dnnl_memory_t user[PRIM_MAX_ARGS];
    dnnl_primitive_t reorder[PRIM_MAX_ARGS];
    size_t bytes[PRIM_MAX_ARGS];
} prim_entry;

/* A training step of the full model has a few hundred distinct (shape, pass) pairs; beyond this,
 * the least recently used primitive is destroyed (oneDNN's own cache then makes a rebuild cheap). */
#define PRIM_CACHE_CAP 512
static prim_entry g_cache[PRIM_CACHE_CAP];
static uint64_t g_tick;
static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static bv_conv_layout g_layout = BV_CONV_LAYOUT_AUTO;

#define DNNL_TRY(ctx, op, call)                                                                         \
    do {                                                                                                \
        dnnl_status_t st_ = (call);                                                                     \
        if (st_ != dnnl_success) bv_ctx_error(ctx, op, "oneDNN call %s failed (status %d)", #call, (int)st_); \
    } while (0)

static void engine_init(bv_ctx *ctx, const char *op) {
    if (g_engine) return;
    const char *lay = getenv("BV_CONV_LAYOUT"); /* plain | blocked: A/B the automatic choice */
    if (lay && !strcmp(lay, "plain")) g_layout = BV_CONV_LAYOUT_PLAIN;
    if (lay && !strcmp(lay, "blocked")) g_layout = BV_CONV_LAYOUT_BLOCKED;
    DNNL_TRY(ctx, op, dnnl_engine_create(&g_engine, dnnl_cpu, 0));
    DNNL_TRY(ctx, op, dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags));
}

void bv_conv_set_layout(bv_conv_layout layout) { g_layout = layout; }

/* Plain layouts run oneDNN's im2col + sgemm kernels, blocked ones (nCw16c...) its direct JIT
 * kernels. Measured with bench/ (2 threads, AVX-512): direct wins 1.3-5x when channels per group
 * are few (the Generator's late stages, the grouped DiscriminatorS convs, WN layers); sgemm wins
 * for the wide, short convs of the discriminators (512-1024 channels) and for single-channel
 * inputs. Weight gradients flip sooner (direct loses from ~256 channels). Deterministic per shape,
 * so a run is reproducible. */
static int is_depthwise(const bv_conv_geom *g) { return g->G > 1 && g->IC == g->G && g->OC == g->G; }

static int use_blocked(const bv_conv_geom *g, conv_pass pass) {
    if (g_layout != BV_CONV_LAYOUT_AUTO) return g_layout == BV_CONV_LAYOUT_BLOCKED;
    if (is_depthwise(g)) return 1; /* DDSConv: oneDNN's depthwise kernel, 4-8x the sgemm path */
    int64_t icg = g->IC / g->G, ocg = g->OC / g->G, cmax = icg > ocg ? icg : ocg;
    if (pass == PASS_BWD_WEIGHTS) return cmax <= 128;
    return cmax <= 256 && icg >= 2;
}

static uint64_t key_hash(const prim_key *k) {
    const unsigned char *p = (const unsigned char *)k;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < sizeof *k; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Activation [N, C, spatial...], plain ncw / nchw (or any). */
static void md_act(dnnl_memory_desc_t *md, const bv_conv_geom *g, int64_t C, const int64_t *sp, int any) {
    dnnl_dims_t d = {g->N, C, sp[0], sp[1]};
    dnnl_format_tag_t tag = any ? dnnl_format_tag_any : g->nsp == 1 ? dnnl_abc : dnnl_abcd;
    dnnl_memory_desc_init_by_tag(md, 2 + g->nsp, d, dnnl_f32, tag);
}

/* Weights in PyTorch's layout. oneDNN's logical order is always [(G,) OC/G, IC/G, K...]; a conv
 * stores it in that order, a transposed conv stores [IC/G, OC/G] swapped (PyTorch [IC, OC/G, K]). */
static void md_weights(dnnl_memory_desc_t *md, const bv_conv_geom *g, int any) {
    dnnl_dims_t d;
    int nd = 0;
    if (g->G > 1) d[nd++] = g->G;
    d[nd++] = g->OC / g->G;
    d[nd++] = g->IC / g->G;
    for (int i = 0; i < g->nsp; i++) d[nd++] = g->k[i];
    static const dnnl_format_tag_t plain[2][2] = {{dnnl_abc, dnnl_abcd}, {dnnl_abcd, dnnl_abcde}};
    static const dnnl_format_tag_t swapped[2][2] = {{dnnl_bac, dnnl_bacd}, {dnnl_acbd, dnnl_acbde}};
    dnnl_format_tag_t tag = (g->transposed ? swapped : plain)[g->G > 1][g->nsp - 1];
    dnnl_memory_desc_init_by_tag(md, nd, d, dnnl_f32, any ? dnnl_format_tag_any : tag);
}

static void md_bias(dnnl_memory_desc_t *md, const bv_conv_geom *g) {
    dnnl_dims_t d = {g->OC};
    dnnl_memory_desc_init_by_tag(md, 1, d, dnnl_f32, dnnl_a);
}

/* The caller's (plain, PyTorch) layout of one argument. */
static void md_user(dnnl_memory_desc_t *md, const bv_conv_geom *g, int arg) {
    if (arg == DNNL_ARG_SRC || arg == DNNL_ARG_DIFF_SRC) md_act(md, g, g->IC, g->in, 0);
    else if (arg == DNNL_ARG_DST || arg == DNNL_ARG_DIFF_DST) md_act(md, g, g->OC, g->out, 0);
    else if (arg == DNNL_ARG_BIAS) md_bias(md, g);
    else md_weights(md, g, 0);
}

/* The op descriptor of one pass. The conv's right padding is PyTorch's (oneDNN floors the output
 * size the same way); a transposed conv's output_padding is extra right padding removed. */
static dnnl_status_t make_op_desc(void *desc, const bv_conv_geom *g, conv_pass pass, int with_bias, int any) {
    dnnl_memory_desc_t src, wei, dst, bias;
    md_act(&src, g, g->IC, g->in, any);
    md_act(&dst, g, g->OC, g->out, any);
    md_weights(&wei, g, any);
    md_bias(&bias, g);
    dnnl_dims_t s, dil, pl, pr;
    for (int i = 0; i < g->nsp; i++) {
        s[i] = g->stride[i];
        dil[i] = g->dil[i] - 1; /* oneDNN counts the gaps, PyTorch the step */
        pl[i] = g->pad[i];
        pr[i] = g->pad[i] - (g->transposed ? g->out_pad[i] : 0);
    }
    const dnnl_memory_desc_t *b = with_bias ? &bias : NULL;
    if (!g->transposed) {
        dnnl_convolution_desc_t *cd = desc;
        if (pass == PASS_FWD)
            return dnnl_dilated_convolution_forward_desc_init(cd, dnnl_forward_training, dnnl_convolution_direct, &src,
                                                              &wei, b, &dst, s, dil, pl, pr);
        if (pass == PASS_BWD_DATA)
            return dnnl_dilated_convolution_backward_data_desc_init(cd, dnnl_convolution_direct, &src, &wei, &dst, s,
                                                                    dil, pl, pr);
        return dnnl_dilated_convolution_backward_weights_desc_init(cd, dnnl_convolution_direct, &src, &wei, NULL, &dst,
                                                                   s, dil, pl, pr);
    }
    dnnl_deconvolution_desc_t *dd = desc;
    if (pass == PASS_FWD)
        return dnnl_dilated_deconvolution_forward_desc_init(dd, dnnl_forward_training, dnnl_deconvolution_direct, &src,
                                                            &wei, b, &dst, s, dil, pl, pr);
    if (pass == PASS_BWD_DATA)
        return dnnl_dilated_deconvolution_backward_data_desc_init(dd, dnnl_deconvolution_direct, &src, &wei, &dst, s,
                                                                  dil, pl, pr);
    return dnnl_dilated_deconvolution_backward_weights_desc_init(dd, dnnl_deconvolution_direct, &src, &wei, NULL, &dst,
                                                                 s, dil, pl, pr);
}

typedef union {
    dnnl_convolution_desc_t c;
    dnnl_deconvolution_desc_t d;
} any_conv_desc;

static void entry_destroy(prim_entry *e) {
    for (int i = 0; i < e->nargs; i++) {
        if (e->mem[i]) dnnl_memory_destroy(e->mem[i]);
        if (e->user[i]) dnnl_memory_destroy(e->user[i]);
        if (e->reorder[i]) dnnl_primitive_destroy(e->reorder[i]);
    }
    if (e->prim) dnnl_primitive_destroy(e->prim);
    memset(e, 0, sizeof *e);
}

static int is_output_arg(int arg) {
    return arg == DNNL_ARG_DST || arg == DNNL_ARG_DIFF_SRC || arg == DNNL_ARG_DIFF_WEIGHTS;
}

/* Argument order of each pass, matching the pointers conv_exec receives. Activation roles are
 * the same for conv and deconv: x is oneDNN's src, y its dst. */
static void entry_args(prim_entry *e, const bv_conv_geom *g, conv_pass pass) {
    static const int fwd[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS};
    static const int bwd_d[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    static const int bwd_w[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS};
    const int *a = pass == PASS_FWD ? fwd : pass == PASS_BWD_DATA ? bwd_d : bwd_w;
    e->nargs = pass == PASS_FWD ? 3 + g->has_bias : 3;
    memcpy(e->arg, a, sizeof(int) * (size_t)e->nargs);
}

/* Memory objects of argument i; a reorder to/from the caller's layout where the primitive's differs. */
static dnnl_status_t entry_arg_build(prim_entry *e, int i, const bv_conv_geom *g, const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, e->arg[i]);
    dnnl_memory_desc_t user;
    md_user(&user, g, e->arg[i]);
    dnnl_status_t st = dnnl_memory_create(&e->mem[i], md, g_engine, DNNL_MEMORY_NONE);
    if (st != dnnl_success || dnnl_memory_desc_equal(md, &user)) return st;
    if ((st = dnnl_memory_create(&e->user[i], &user, g_engine, DNNL_MEMORY_NONE)) != dnnl_success) return st;
    dnnl_primitive_desc_t rpd;
    int out = is_output_arg(e->arg[i]);
    st = dnnl_reorder_primitive_desc_create(&rpd, out ? md : &user, g_engine, out ? &user : md, g_engine, NULL);
    if (st != dnnl_success) return st;
    st = dnnl_primitive_create(&e->reorder[i], rpd);
    dnnl_primitive_desc_destroy(rpd);
    e->bytes[i] = dnnl_memory_desc_get_size(md);
    return st;
}

/* The primitive of one pass, and its arguments. Backward pds need the forward pd they belong to
 * as a hint. On failure everything made so far is released. */
static dnnl_status_t entry_build(prim_entry *e, const bv_conv_geom *g, conv_pass pass, int blocked) {
    any_conv_desc desc, hint_desc;
    dnnl_primitive_desc_t pd = NULL, hint = NULL;
    dnnl_status_t st = make_op_desc(&desc, g, pass, pass == PASS_FWD && g->has_bias, blocked);
    if (st == dnnl_success && pass != PASS_FWD) {
        st = make_op_desc(&hint_desc, g, PASS_FWD, 0, blocked);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&hint, &hint_desc, NULL, g_engine, NULL);
    }
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &desc, NULL, g_engine, hint);
    if (hint) dnnl_primitive_desc_destroy(hint);
    if (st == dnnl_success) st = dnnl_primitive_create(&e->prim, pd);
    entry_args(e, g, pass);
    for (int i = 0; i < e->nargs && st == dnnl_success; i++) st = entry_arg_build(e, i, g, pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) entry_destroy(e);
    return st;
}

/* The cached primitive for (geometry, pass), built on a miss (evicting the least recently used). */
static prim_entry *prim_get(bv_ctx *ctx, const char *op, const bv_conv_geom *g, conv_pass pass) {
    engine_init(ctx, op);
    prim_key key;
    memset(&key, 0, sizeof key);
    key.g = *g;
    key.pass = pass;
    key.blocked = use_blocked(g, pass);
    /* oneDNN 2.6 has its depthwise JIT kernel for 2-d only: [N, C, T] is the same memory as
     * [N, C, T, 1] with a (K, 1) kernel (unused dims are already 1 in the geometry). */
    if (key.blocked && g->nsp == 1 && is_depthwise(g)) key.g.nsp = 2;
    uint64_t h = key_hash(&key);
    prim_entry *victim = &g_cache[0];
    for (int i = 0; i < PRIM_CACHE_CAP; i++) {
        prim_entry *e = &g_cache[i];
        if (e->prim && e->hash == h && !memcmp(&e->key, &key, sizeof key)) {
            e->last_use = ++g_tick;
            return e;
        }
        if (!e->prim) {
            if (victim->prim) victim = e;
        } else if (victim->prim && e->last_use < victim->last_use) {
            victim = e;
        }
    }
    entry_destroy(victim);
    dnnl_status_t st = entry_build(victim, &key.g, pass, key.blocked);
    if (st != dnnl_success)
        bv_ctx_error(ctx, op, "oneDNN cannot build this convolution (pass %d, %s layouts): status %d", (int)pass,
                     key.blocked ? "blocked" : "plain", (int)st);
    victim->key = key;
    victim->hash = h;
    victim->last_use = ++g_tick;
    return victim;
}

int bv_conv_cache_capacity(void) { return PRIM_CACHE_CAP; }

int bv_conv_cache_used(void) {
    int n = 0;
    for (int i = 0; i < PRIM_CACHE_CAP; i++) n += g_cache[i].prim != NULL;
    return n;
}

static void run_reorder(bv_ctx *ctx, const char *op, dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DNNL_TRY(ctx, op, dnnl_primitive_execute(r, g_stream, 2, a));
}

/* Run one pass on caller buffers, given in the entry's argument order (see entry_args). Blocked
 * arguments live in arena scratch for the duration of the call. */
static void conv_exec(bv_ctx *ctx, const char *op, const bv_conv_geom *g, conv_pass pass, const float *p0,
                      const float *p1, float *p2, const float *p3) {
    prim_entry *e = prim_get(ctx, op, g, pass);
    const float *ptr[PRIM_MAX_ARGS] = {p0, p1, p2, p3};
    dnnl_exec_arg_t args[PRIM_MAX_ARGS];
    bv_arena_mark m = bv_arena_get_mark(&ctx->arena);
    for (int i = 0; i < e->nargs; i++) {
        if (!e->reorder[i]) {
            DNNL_TRY(ctx, op, dnnl_memory_set_data_handle(e->mem[i], (void *)ptr[i]));
        } else {
            DNNL_TRY(ctx, op, dnnl_memory_set_data_handle(e->user[i], (void *)ptr[i]));
            DNNL_TRY(ctx, op, dnnl_memory_set_data_handle(e->mem[i], bv_arena_alloc(&ctx->arena, e->bytes[i])));
            if (!is_output_arg(e->arg[i])) run_reorder(ctx, op, e->reorder[i], e->user[i], e->mem[i]);
        }
        args[i] = (dnnl_exec_arg_t){e->arg[i], e->mem[i]};
    }
    DNNL_TRY(ctx, op, dnnl_primitive_execute(e->prim, g_stream, e->nargs, args));
    for (int i = 0; i < e->nargs; i++)
        if (e->reorder[i] && is_output_arg(e->arg[i])) run_reorder(ctx, op, e->reorder[i], e->mem[i], e->user[i]);
    DNNL_TRY(ctx, op, dnnl_stream_wait(g_stream));
    bv_arena_reset_to(&ctx->arena, m);
}

/* ---------------- constructors: checks and geometry ---------------- */

typedef struct {
    int64_t stride[2], pad[2], dil[2], out_pad[2];
    int64_t groups;
} conv_params;

static void check_tensor(bv_ctx *ctx, const char *op, const bv_tensor *t, int ndim) {
    bv_check_dtype(ctx, op, t, BV_F32);
    bv_check_cpu(ctx, op, t);
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

/* Channel bookkeeping: conv w [OC, IC/G, K...], transposed w [IC, OC/G, K...]. */
static void check_channels(bv_ctx *ctx, const char *op, int transposed, const bv_tensor *x, const bv_tensor *w,
                           int64_t G, int64_t *oc) {
    char bx[96], bw[96];
    bv_shape_str(x, bx, sizeof bx);
    bv_shape_str(w, bw, sizeof bw);
    int64_t ic = x->shape[1];
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

static bv_conv_geom make_geom(bv_ctx *ctx, const char *op, int nsp, int transposed, const bv_tensor *x,
                              const bv_tensor *w, const bv_tensor *b, const conv_params *p) {
    check_tensor(ctx, op, x, 2 + nsp);
    check_tensor(ctx, op, w, 2 + nsp);
    check_params(ctx, op, nsp, transposed, p);
    bv_conv_geom g;
    memset(&g, 0, sizeof g); /* the geometry is a cache key: no stray bytes */
    g.nsp = nsp;
    g.transposed = transposed;
    g.has_bias = b != NULL;
    g.N = x->shape[0];
    g.IC = x->shape[1];
    g.G = p->groups;
    check_channels(ctx, op, transposed, x, w, g.G, &g.OC);
    char bx[96], bw[96], bb[96];
    bv_shape_str(x, bx, sizeof bx);
    bv_shape_str(w, bw, sizeof bw);
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

/* sum(a[i] * b[i]) in double. Eight independent partial sums: a single running double sum is one
 * long dependency chain that the compiler may not reorder (no fast-math), eight vectorise. */
static double dot_f64(const float *a, const float *b, int64_t n) {
    double acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += (double)a[i + j] * b[i + j];
    for (; i < n; i++) acc[0] += (double)a[i] * b[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* ---- depthwise conv1d backward (DDSConv: groups = channels, dilations 1, 3, 9) ----
 * oneDNN 2.6 runs these through per-channel sgemm calls (its depthwise kernels take no dilation
 * in backward): 3x slower than PyTorch. Per channel they are a few axpys and dot products. */

/* Output range [o0, o1) whose input index o*s + off lies in [0, T). */
static void dw_range(int64_t off, int64_t s, int64_t T, int64_t To, int64_t *o0, int64_t *o1) {
    *o0 = off >= 0 ? 0 : (-off + s - 1) / s;
    *o1 = T - off <= 0 ? 0 : (T - off + s - 1) / s;
    if (*o1 > To) *o1 = To;
}

/* gx[n, c, o*s + k*d - p] += w[c, k] * gy[n, c, o] */
static void dw_bwd_data_acc(float *gx, const float *gy, const float *w, const bv_conv_geom *g) {
    const int64_t C = g->IC, T = g->in[0], To = g->out[0], K = g->k[0], s = g->stride[0];
#pragma omp parallel for if (g->N * C * To * K > 32768)
    for (int64_t r = 0; r < g->N * C; r++) {
        const float *gyr = gy + r * To;
        float *gxr = gx + r * T;
        for (int64_t k = 0; k < K; k++) {
            const float wk = w[(r % C) * K + k];
            int64_t off = k * g->dil[0] - g->pad[0], o0, o1;
            dw_range(off, s, T, To, &o0, &o1);
            for (int64_t o = o0; o < o1; o++) gxr[o * s + off] += wk * gyr[o];
        }
    }
}

/* gw[c, k] += sum over n, o of gy[n, c, o] * x[n, c, o*s + k*d - p] */
static void dw_bwd_weights_acc(float *gw, const float *gy, const float *x, const bv_conv_geom *g) {
    const int64_t C = g->IC, T = g->in[0], To = g->out[0], K = g->k[0], s = g->stride[0];
#pragma omp parallel for if (g->N * C * To * K > 32768)
    for (int64_t c = 0; c < C; c++)
        for (int64_t k = 0; k < K; k++) {
            int64_t off = k * g->dil[0] - g->pad[0], o0, o1;
            dw_range(off, s, T, To, &o0, &o1);
            double acc = 0;
            for (int64_t n = 0; n < g->N; n++) {
                const float *gyr = gy + (n * C + c) * To, *xr = x + (n * C + c) * T;
                if (s == 1) {
                    if (o1 > o0) acc += dot_f64(gyr + o0, xr + o0 + off, o1 - o0);
                } else {
                    for (int64_t o = o0; o < o1; o++) acc += (double)gyr[o] * xr[o * s + off];
                }
            }
            gw[c * K + k] += (float)acc;
        }
}

/* Bias gradient: sum of gy over batch and positions, per output channel. */
static void bias_grad_acc(float *gb, const float *gy, const bv_conv_geom *g) {
    int64_t plane = g->out[0] * g->out[1];
#pragma omp parallel for if (g->OC * g->N * plane > 32768)
    for (int64_t c = 0; c < g->OC; c++) {
        double s = 0;
        for (int64_t n = 0; n < g->N; n++) {
            const float *p = gy + (n * g->OC + c) * plane;
            for (int64_t i = 0; i < plane; i++) s += p[i];
        }
        gb[c] += (float)s;
    }
}

static void add_into(float *dst, const float *src, int64_t n) {
#pragma omp parallel for simd if (n > 65536)
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

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

/* Rows of length ls into rows of length ld (crop, or extend with fill[channel] or 0). */
static void copy_rows(float *dst, int64_t ld, const float *src, int64_t ls, int64_t N, int64_t C, const float *fill) {
#pragma omp parallel for if (N * C * ld > 65536)
    for (int64_t r = 0; r < N * C; r++) {
        int64_t m = ld < ls ? ld : ls;
        memcpy(dst + r * ld, src + r * ls, sizeof(float) * (size_t)m);
        for (int64_t i = m; i < ld; i++) dst[r * ld + i] = fill ? fill[r % C] : 0.0f;
    }
}

static void conv_backward(bv_ctx *ctx, bv_node *n) {
    const conv_saved *sv = n->saved;
    const bv_conv_geom *g = &sv->g, *ex = &sv->ex;
    bv_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *y = n->out[0];
    const float *gy = y->grad;
    int sx = 0, sw = 0;
    /* every grad buffer exists before the scratch mark, so resetting to it frees scratch only */
    if (x->requires_grad) sx = grad_needs_scratch(ctx, x);
    if (w->requires_grad) sw = grad_needs_scratch(ctx, w);
    if (b && b->requires_grad) bias_grad_acc(bv_grad(ctx, b), gy, g);
    bv_arena_mark m = bv_arena_get_mark(&ctx->arena);
    if (g_layout == BV_CONV_LAYOUT_AUTO && g->nsp == 1 && !g->transposed && is_depthwise(g)) {
        if (x->requires_grad) dw_bwd_data_acc(x->grad, gy, w->data, g);
        if (w->requires_grad) dw_bwd_weights_acc(w->grad, gy, x->data, g);
        return;
    }
    if (ex->out[0] != g->out[0]) { /* the bias-only tail has no gradient path to x or w */
        float *crop = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(g->N * g->OC * ex->out[0]));
        copy_rows(crop, ex->out[0], gy, g->out[0], g->N, g->OC, NULL);
        gy = crop;
    }
    if (x->requires_grad) {
        float *dst = sx ? bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)x->numel) : x->grad;
        conv_exec(ctx, sv->op, ex, PASS_BWD_DATA, gy, w->data, dst, NULL);
        if (sx) add_into(x->grad, dst, x->numel);
    }
    if (w->requires_grad) {
        float *dst = sw ? bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)w->numel) : w->grad;
        conv_exec(ctx, sv->op, ex, PASS_BWD_WEIGHTS, x->data, gy, dst, NULL);
        if (sw) add_into(w->grad, dst, w->numel);
    }
    bv_arena_reset_to(&ctx->arena, m);
}

static bv_tensor *conv_forward(bv_ctx *ctx, bv_op opid, const char *op, int nsp, int transposed, bv_tensor *x,
                               bv_tensor *w, bv_tensor *b, const conv_params *p) {
    bv_conv_geom g = make_geom(ctx, op, nsp, transposed, x, w, b, p), ex = exec_geom(&g);
    int64_t shape[4] = {g.N, g.OC, g.out[0], g.out[1]};
    bv_tensor *y = bv_new(ctx, BV_F32, 2 + nsp, shape); // [N, OC, out...]
    if (ex.out[0] == g.out[0]) {
        conv_exec(ctx, op, &ex, PASS_FWD, x->data, w->data, y->data, b ? b->data : NULL);
    } else {
        bv_arena_mark m = bv_arena_get_mark(&ctx->arena);
        float *part = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(g.N * g.OC * ex.out[0])); // [N, OC, ex.out]
        conv_exec(ctx, op, &ex, PASS_FWD, x->data, w->data, part, b ? b->data : NULL);
        copy_rows(y->data, g.out[0], part, ex.out[0], g.N, g.OC, b ? b->data : NULL);
        bv_arena_reset_to(&ctx->arena, m);
    }
    bv_tensor *ins[3] = {x, w, b};
    if (bv_needs_grad(ctx, 3, ins)) {
        bv_node *n = bv_record(ctx, opid, conv_backward, 3, ins, 1, &y);
        conv_saved *sv = bv_arena_alloc(&ctx->arena, sizeof *sv);
        *sv = (conv_saved){g, ex, op};
        n->saved = sv;
    }
    return y;
}

bv_tensor *bv_conv1d(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b, int stride, int padding, int dilation,
                     int groups) {
    conv_params p = {{stride, 1}, {padding, 0}, {dilation, 1}, {0, 0}, groups};
    return conv_forward(ctx, BV_OP_CONV1D, "conv1d", 1, 0, x, w, b, &p);
}

bv_tensor *bv_conv_transpose1d(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b, int stride, int padding,
                               int output_padding, int groups, int dilation) {
    conv_params p = {{stride, 1}, {padding, 0}, {dilation, 1}, {output_padding, 0}, groups};
    return conv_forward(ctx, BV_OP_CONV_TRANSPOSE1D, "conv_transpose1d", 1, 1, x, w, b, &p);
}

bv_tensor *bv_conv2d(bv_ctx *ctx, bv_tensor *x, bv_tensor *w, bv_tensor *b, int stride_h, int stride_w, int pad_h,
                     int pad_w, int dil_h, int dil_w, int groups) {
    conv_params p = {{stride_h, stride_w}, {pad_h, pad_w}, {dil_h, dil_w}, {0, 0}, groups};
    return conv_forward(ctx, BV_OP_CONV2D, "conv2d", 2, 0, x, w, b, &p);
}

/* ---------------- weight_norm ---------------- */

/* v viewed as [outer, D, inner] with D = v.shape[dim]; one norm per d. */
typedef struct {
    int64_t outer, D, inner;
} wn_view;

static wn_view wn_split(const bv_tensor *v, int dim) {
    wn_view s = {1, v->shape[dim], 1};
    for (int i = 0; i < dim; i++) s.outer *= v->shape[i];
    for (int i = dim + 1; i < v->ndim; i++) s.inner *= v->shape[i];
    return s;
}

/* dot[d] = sum over the [outer, inner] slice d of a * b. */
static void wn_slice_dots(double *dot, const float *a, const float *b, wn_view s) {
#pragma omp parallel for if (s.outer * s.D * s.inner > 65536)
    for (int64_t d = 0; d < s.D; d++) {
        double acc = 0;
        for (int64_t o = 0; o < s.outer; o++) acc += dot_f64(a + (o * s.D + d) * s.inner, b + (o * s.D + d) * s.inner, s.inner);
        dot[d] = acc;
    }
}

/* w = v * (g / norm), as torch._weight_norm computes it. */
static void wn_forward(float *w, const float *v, const float *g, const double *norm, wn_view s) {
#pragma omp parallel for if (s.outer * s.D * s.inner > 65536)
    for (int64_t d = 0; d < s.D; d++) {
        float scale = (float)(g[d] / norm[d]);
        for (int64_t o = 0; o < s.outer; o++) {
            int64_t base = (o * s.D + d) * s.inner;
            for (int64_t i = 0; i < s.inner; i++) w[base + i] = v[base + i] * scale;
        }
    }
}

/* gg[d] += sum(gw*v)/n; gv += (g/n) * gw - (g * sum(gw*v) / n^3) * v  (gg or gv may be NULL). */
static void wn_backward_acc(float *gg, float *gv, const float *gw, const float *v, const float *g, const double *norm,
                            const double *dot, wn_view s) {
#pragma omp parallel for if (s.outer * s.D * s.inner > 65536)
    for (int64_t d = 0; d < s.D; d++) {
        double nrm = norm[d];
        if (gg) gg[d] += (float)(dot[d] / nrm);
        if (!gv) continue;
        float a = (float)(g[d] / nrm), c = (float)(g[d] * dot[d] / (nrm * nrm * nrm));
        for (int64_t o = 0; o < s.outer; o++) {
            int64_t base = (o * s.D + d) * s.inner;
            for (int64_t i = 0; i < s.inner; i++) gv[base + i] += a * gw[base + i] - c * v[base + i];
        }
    }
}

static void weight_norm_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *g = n->in[0], *v = n->in[1], *w = n->out[0];
    wn_view s = wn_split(v, (int)n->iattr[0]);
    float *gg = g->requires_grad ? bv_grad(ctx, g) : NULL;
    float *gv = v->requires_grad ? bv_grad(ctx, v) : NULL;
    bv_arena_mark m = bv_arena_get_mark(&ctx->arena);
    double *dot = bv_arena_alloc(&ctx->arena, sizeof(double) * (size_t)s.D); // [D]
    wn_slice_dots(dot, w->grad, v->data, s);
    wn_backward_acc(gg, gv, w->grad, v->data, g->data, n->saved, dot, s);
    bv_arena_reset_to(&ctx->arena, m);
}

static void wn_check(bv_ctx *ctx, const bv_tensor *g, const bv_tensor *v, int dim) {
    const char *op = "weight_norm";
    bv_check_dtype(ctx, op, g, BV_F32);
    bv_check_dtype(ctx, op, v, BV_F32);
    bv_check_cpu(ctx, op, g);
    bv_check_cpu(ctx, op, v);
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
    wn_check(ctx, g, v, dim);
    wn_view s = wn_split(v, dim);
    double *norm = bv_arena_alloc(&ctx->arena, sizeof(double) * (size_t)s.D); // [D]
    wn_slice_dots(norm, v->data, v->data, s);
    for (int64_t d = 0; d < s.D; d++) norm[d] = sqrt(norm[d]);
    bv_tensor *w = bv_new_like(ctx, v); // v's shape
    wn_forward(w->data, v->data, g->data, norm, s);
    bv_tensor *ins[2] = {g, v};
    if (bv_needs_grad(ctx, 2, ins)) {
        bv_node *n = bv_record(ctx, BV_OP_WEIGHT_NORM, weight_norm_backward, 2, ins, 1, &w);
        n->saved = norm;
        n->iattr[0] = dim;
    }
    return w;
}
