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
 * geometry, pass, layout choice and options, so the repeated shapes of a training step never
 * rebuild one. Calls come from one thread at a time (the model's thread); oneDNN parallelises
 * inside (OpenMP).
 *
 * For the Generator's ResBlocks, bv_conv1d_fused adds what they fuse: activations kept in the
 * direct kernels' own channel-blocked layout across a chain of convs (bv_conv_block /
 * bv_conv_unblock at its ends: no reorders per call), leaky_relu as a oneDNN post-op (only its
 * output is kept; backward reads its sign) and the residual add (no separate output). Bias
 * gradients come out of oneDNN's weight-gradient pass where it runs on all of gy.
 *
 * The naive oracle these kernels are tested against lives in conv_ref.c.
 */
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_ref.h"
#include "../core/cleanup.h"
#include "ops.h"

/* ---------------- oneDNN engine, stream, primitive cache ---------------- */

typedef enum { PASS_FWD = 0, PASS_BWD_DATA, PASS_BWD_WEIGHTS } conv_pass;

/* What a call asks beyond the geometry. */
typedef struct {
    int32_t act_blocked; /* the caller's activations are channel-blocked [N, C/16, T, 16] */
    int32_t lrelu;       /* forward: leaky_relu(conv + bias, slope) as a oneDNN post-op */
    float slope;
    int32_t diff_bias;   /* backward weights also writes the bias gradient */
} conv_opts;

typedef struct {
    bv_conv_geom g;
    int32_t pass;
    int32_t blocked;                  /* oneDNN picks the layouts (reorders around the primitive) */
    conv_opts o;
} prim_key;
/* hashed and compared as raw bytes: there must be no padding */
_Static_assert(sizeof(prim_key) == sizeof(bv_conv_geom) + 6 * sizeof(int32_t), "prim_key has padding");
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

static void conv_caches_free(void);

static dnnl_status_t engine_try_init(void) {
    if (g_stream) return dnnl_success;
    const char *lay = getenv("BV_CONV_LAYOUT"); /* plain | blocked: A/B the automatic choice */
    if (lay && !strcmp(lay, "plain")) g_layout = BV_CONV_LAYOUT_PLAIN;
    if (lay && !strcmp(lay, "blocked")) g_layout = BV_CONV_LAYOUT_BLOCKED;
    dnnl_status_t st = g_engine ? dnnl_success : dnnl_engine_create(&g_engine, dnnl_cpu, 0);
    if (st == dnnl_success) st = dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags);
    if (st == dnnl_success) bv_cleanup_register(conv_caches_free);
    return st;
}

static void engine_init(bv_ctx *ctx, const char *op) {
    if (!g_stream) DNNL_TRY(ctx, op, engine_try_init());
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

/* Activation [N, C, spatial...]: plain ncw / nchw, channel-blocked nCw16c (blk), or any. */
static void md_act(dnnl_memory_desc_t *md, const bv_conv_geom *g, int64_t C, const int64_t *sp, int any, int blk) {
    dnnl_dims_t d = {g->N, C, sp[0], sp[1]};
    dnnl_format_tag_t tag = any ? dnnl_format_tag_any : blk ? dnnl_aBc16b : g->nsp == 1 ? dnnl_abc : dnnl_abcd;
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

/* The caller's layout of one argument: PyTorch's, or channel-blocked activations. */
static void md_user(dnnl_memory_desc_t *md, const bv_conv_geom *g, const conv_opts *o, int arg) {
    if (arg == DNNL_ARG_SRC || arg == DNNL_ARG_DIFF_SRC) md_act(md, g, g->IC, g->in, 0, o->act_blocked);
    else if (arg == DNNL_ARG_DST || arg == DNNL_ARG_DIFF_DST) md_act(md, g, g->OC, g->out, 0, o->act_blocked);
    else if (arg == DNNL_ARG_BIAS || arg == DNNL_ARG_DIFF_BIAS) md_bias(md, g);
    else md_weights(md, g, 0);
}

/* The op descriptor of one pass. The conv's right padding is PyTorch's (oneDNN floors the output
 * size the same way); a transposed conv's output_padding is extra right padding removed. */
static dnnl_status_t make_op_desc(void *desc, const bv_conv_geom *g, conv_pass pass, int with_bias, int any) {
    dnnl_memory_desc_t src, wei, dst, bias;
    md_act(&src, g, g->IC, g->in, any, 0);
    md_act(&dst, g, g->OC, g->out, any, 0);
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
        return dnnl_dilated_convolution_backward_weights_desc_init(cd, dnnl_convolution_direct, &src, &wei, b, &dst,
                                                                   s, dil, pl, pr);
    }
    dnnl_deconvolution_desc_t *dd = desc;
    if (pass == PASS_FWD)
        return dnnl_dilated_deconvolution_forward_desc_init(dd, dnnl_forward_training, dnnl_deconvolution_direct, &src,
                                                            &wei, b, &dst, s, dil, pl, pr);
    if (pass == PASS_BWD_DATA)
        return dnnl_dilated_deconvolution_backward_data_desc_init(dd, dnnl_deconvolution_direct, &src, &wei, &dst, s,
                                                                  dil, pl, pr);
    return dnnl_dilated_deconvolution_backward_weights_desc_init(dd, dnnl_deconvolution_direct, &src, &wei, b, &dst,
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
    return arg == DNNL_ARG_DST || arg == DNNL_ARG_DIFF_SRC || arg == DNNL_ARG_DIFF_WEIGHTS ||
           arg == DNNL_ARG_DIFF_BIAS;
}

/* Argument order of each pass, matching the pointers conv_exec receives. Activation roles are
 * the same for conv and deconv: x is oneDNN's src, y its dst. */
static void entry_args(prim_entry *e, const bv_conv_geom *g, const conv_opts *o, conv_pass pass) {
    static const int fwd[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS};
    static const int bwd_d[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    static const int bwd_w[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS};
    const int *a = pass == PASS_FWD ? fwd : pass == PASS_BWD_DATA ? bwd_d : bwd_w;
    e->nargs = pass == PASS_FWD ? 3 + g->has_bias : pass == PASS_BWD_WEIGHTS ? 3 + o->diff_bias : 3;
    memcpy(e->arg, a, sizeof(int) * (size_t)e->nargs);
}

/* Memory objects of argument i; a reorder to/from the caller's layout where the primitive's differs. */
static dnnl_status_t entry_arg_build(prim_entry *e, int i, const bv_conv_geom *g, const conv_opts *o,
                                     const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, e->arg[i]);
    dnnl_memory_desc_t user;
    md_user(&user, g, o, e->arg[i]);
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

/* leaky_relu(slope) after the forward conv and its bias, inside oneDNN's kernel: its relu with
 * alpha computes x > 0 ? x : alpha * x, bit for bit bv_leaky_relu. */
static dnnl_status_t lrelu_attr(dnnl_primitive_attr_t *attr, float slope) {
    dnnl_post_ops_t po;
    dnnl_status_t st = dnnl_post_ops_create(&po);
    if (st != dnnl_success) return st;
    st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, slope, 0.0f);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(*attr, po);
    dnnl_post_ops_destroy(po);
    return st;
}

/* The primitive of one pass, and its arguments. Backward pds need the forward pd they belong to
 * as a hint. On failure everything made so far is released. */
static dnnl_status_t entry_build(prim_entry *e, const bv_conv_geom *g, const conv_opts *o, conv_pass pass,
                                 int blocked) {
    any_conv_desc desc, hint_desc;
    dnnl_primitive_desc_t pd = NULL, hint = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int with_bias = pass == PASS_FWD ? (int)g->has_bias : pass == PASS_BWD_WEIGHTS ? o->diff_bias : 0;
    dnnl_status_t st = make_op_desc(&desc, g, pass, with_bias, blocked);
    if (st == dnnl_success && pass != PASS_FWD) {
        st = make_op_desc(&hint_desc, g, PASS_FWD, 0, blocked);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&hint, &hint_desc, NULL, g_engine, NULL);
    }
    if (st == dnnl_success && pass == PASS_FWD && o->lrelu) st = lrelu_attr(&attr, o->slope);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &desc, attr, g_engine, hint);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (hint) dnnl_primitive_desc_destroy(hint);
    if (st == dnnl_success) st = dnnl_primitive_create(&e->prim, pd);
    entry_args(e, g, o, pass);
    for (int i = 0; i < e->nargs && st == dnnl_success; i++) st = entry_arg_build(e, i, g, o, pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) entry_destroy(e);
    return st;
}

/* The cached primitive for (geometry, options, pass), built on a miss (evicting the least
 * recently used). */
static prim_entry *prim_get(bv_ctx *ctx, const char *op, const bv_conv_geom *g, const conv_opts *o, conv_pass pass) {
    engine_init(ctx, op);
    prim_key key;
    memset(&key, 0, sizeof key);
    key.g = *g;
    key.pass = pass;
    key.o = *o;
    if (pass != PASS_FWD) { /* backward pds know no post-op */
        key.o.lrelu = 0;
        key.o.slope = 0.0f;
    }
    if (pass != PASS_BWD_WEIGHTS) key.o.diff_bias = 0;
    /* blocked activations: oneDNN's own layout choice is the one they are in */
    key.blocked = o->act_blocked || use_blocked(g, pass);
    /* oneDNN 2.6 has its depthwise JIT kernel for 2-d only: [N, C, T] is the same memory as
     * [N, C, T, 1] with a (K, 1) kernel (unused dims are already 1 in the geometry). */
    if (key.blocked && !o->act_blocked && g->nsp == 1 && is_depthwise(g)) key.g.nsp = 2;
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
    dnnl_status_t st = entry_build(victim, &key.g, &key.o, pass, key.blocked);
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
static void conv_exec(bv_ctx *ctx, const char *op, const bv_conv_geom *g, const conv_opts *o, conv_pass pass,
                      const float *p0, const float *p1, float *p2, const float *p3) {
    prim_entry *e = prim_get(ctx, op, g, o, pass);
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

/* Whether oneDNN's direct conv kernels on this CPU keep activations in 16-channel blocks (AVX-512;
 * AVX2 uses 8): asked once, from the layout oneDNN picks for a small conv. */
static int native_block16(void) {
    static int known = -1;
    if (known >= 0) return known;
    known = 0;
    if (engine_try_init() != dnnl_success) return 0;
    bv_conv_geom g = {.nsp = 1, .N = 1, .IC = 32, .OC = 32, .G = 1, .in = {64, 1}, .out = {64, 1}, .k = {3, 1},
                      .stride = {1, 1}, .pad = {1, 0}, .dil = {1, 1}};
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd;
    if (make_op_desc(&cd, &g, PASS_FWD, 0, 1) != dnnl_success) return 0;
    if (dnnl_primitive_desc_create(&pd, &cd, NULL, g_engine, NULL) != dnnl_success) return 0;
    dnnl_memory_desc_t blk;
    md_act(&blk, &g, g.IC, g.in, 0, 1);
    known = dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), &blk);
    dnnl_primitive_desc_destroy(pd);
    return known;
}

int bv_conv_blocked_ok(int64_t channels) {
    if (channels <= 0 || channels % BV_CONV_BLOCK || native_block16() == 0) return 0;
    return g_layout != BV_CONV_LAYOUT_PLAIN; /* read after native_block16 has seen BV_CONV_LAYOUT */
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
                              const bv_tensor *w, const bv_tensor *b, const conv_params *p, const conv_opts *o) {
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

/* sum(a[i]) in double, eight partial sums as dot_f64 (one running sum stays scalar). */
static double sum_f64(const float *a, int64_t n) {
    double acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j];
    for (; i < n; i++) acc[0] += a[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* Bias gradient: sum of gy over batch and positions, per output channel. gy is [N, OC, out...],
 * or [N, OC/16, T, 16] when blocked. */
static void bias_grad_acc(float *gb, const float *gy, const bv_conv_geom *g, int blocked) {
    int64_t plane = g->out[0] * g->out[1];
    if (blocked) {
        const int64_t CB = g->OC / BV_CONV_BLOCK;
#pragma omp parallel for if (g->OC * g->N * plane > 32768)
        for (int64_t cb = 0; cb < CB; cb++) {
            double s[BV_CONV_BLOCK] = {0};
            for (int64_t n = 0; n < g->N; n++) {
                const float *p = gy + (n * CB + cb) * plane * BV_CONV_BLOCK;
                for (int64_t t = 0; t < plane; t++)
                    for (int c = 0; c < BV_CONV_BLOCK; c++) s[c] += p[t * BV_CONV_BLOCK + c];
            }
            for (int c = 0; c < BV_CONV_BLOCK; c++) gb[cb * BV_CONV_BLOCK + c] += (float)s[c];
        }
        return;
    }
#pragma omp parallel for if (g->OC * g->N * plane > 32768)
    for (int64_t c = 0; c < g->OC; c++) {
        double s = 0;
        for (int64_t n = 0; n < g->N; n++) s += sum_f64(gy + (n * g->OC + c) * plane, plane);
        gb[c] += (float)s;
    }
}

static void add_into(float *dst, const float *src, int64_t n) {
#pragma omp parallel for simd if (n > 65536)
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

/* c ? a : b as a bitwise blend of two computed values (as in elementwise.c: a plain ?: makes GCC
 * branch around the multiply and leave the loop scalar). */
static inline float select_f(int c, float a, float b) {
    uint32_t ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    const uint32_t m = -(uint32_t)(c != 0), r = (ua & m) | (ub & ~m);
    float f;
    memcpy(&f, &r, sizeof f);
    return f;
}

/* gz = gy * leaky_relu'(z), read off the output y = leaky_relu(z): with slope > 0, y > 0 exactly
 * where z > 0 (and both are NaN together), so z need not be kept. */
static void lrelu_grad(float *gz, const float *gy, const float *y, int64_t n, float slope) {
#pragma omp parallel for simd if (n > 65536)
    for (int64_t i = 0; i < n; i++) gz[i] = gy[i] * select_f(y[i] > 0.0f, 1.0f, slope);
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
    conv_opts o;
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

/* The data and weight passes through oneDNN (everything but the depthwise special case). With
 * o->diff_bias the weight pass also writes the bias gradient. */
static void conv_backward_dnnl(bv_ctx *ctx, const conv_saved *sv, const conv_opts *o, bv_node *n, const float *gy,
                               int sx, int sw, int sb) {
    const bv_conv_geom *g = &sv->g, *ex = &sv->ex;
    bv_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    if (ex->out[0] != g->out[0]) { /* the bias-only tail has no gradient path to x or w */
        float *crop = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(g->N * g->OC * ex->out[0]));
        copy_rows(crop, ex->out[0], gy, g->out[0], g->N, g->OC, NULL);
        gy = crop;
    }
    if (x->requires_grad) {
        float *dst = sx ? bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)x->numel) : x->grad;
        conv_exec(ctx, sv->op, ex, o, PASS_BWD_DATA, gy, w->data, dst, NULL);
        if (sx) add_into(x->grad, dst, x->numel);
    }
    if (w->requires_grad) {
        float *dst = sw ? bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)w->numel) : w->grad;
        float *gb = !o->diff_bias ? NULL : sb ? bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)g->OC) : b->grad;
        conv_exec(ctx, sv->op, ex, o, PASS_BWD_WEIGHTS, x->data, gy, dst, gb);
        if (sw) add_into(w->grad, dst, w->numel);
        if (o->diff_bias && sb) add_into(b->grad, gb, g->OC);
    }
}

static void conv_backward(bv_ctx *ctx, bv_node *n) {
    const conv_saved *sv = n->saved;
    const bv_conv_geom *g = &sv->g;
    bv_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *r = n->in[3], *y = n->out[0];
    conv_opts o = sv->o;
    if (r && r->requires_grad) add_into(bv_grad(ctx, r), y->grad, y->numel);
    const int dw = g_layout == BV_CONV_LAYOUT_AUTO && g->nsp == 1 && !g->transposed && is_depthwise(g);
    /* oneDNN's weight pass sums the bias gradient on the way where it sees all of gy */
    o.diff_bias = b && b->requires_grad && w->requires_grad && !dw && sv->ex.out[0] == g->out[0];
    int sx = 0, sw = 0, sb = 0;
    if (x->requires_grad) sx = grad_needs_scratch(ctx, x);
    if (w->requires_grad) sw = grad_needs_scratch(ctx, w);
    if (o.diff_bias) sb = grad_needs_scratch(ctx, b);
    bv_arena_mark m = bv_arena_get_mark(&ctx->arena);
    const float *gy = y->grad;
    if (o.lrelu) { /* fused leaky_relu: the conv's own output gradient first */
        float *gz = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)y->numel);
        lrelu_grad(gz, gy, y->data, y->numel, o.slope);
        gy = gz;
    }
    if (b && b->requires_grad && !o.diff_bias) bias_grad_acc(bv_grad(ctx, b), gy, g, o.act_blocked);
    if (dw) {
        if (x->requires_grad) dw_bwd_data_acc(x->grad, gy, w->data, g);
        if (w->requires_grad) dw_bwd_weights_acc(w->grad, gy, x->data, g);
    } else {
        conv_backward_dnnl(ctx, sv, &o, n, gy, sx, sw, sb);
    }
    bv_arena_reset_to(&ctx->arena, m);
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

/* y = conv(x, w) + b (+ residual r: same shape as y, or NULL). */
static bv_tensor *conv_forward(bv_ctx *ctx, bv_op opid, const char *op, int nsp, int transposed, bv_tensor *x,
                               bv_tensor *w, bv_tensor *b, const conv_params *p, const conv_opts *o, bv_tensor *r) {
    bv_conv_geom g = make_geom(ctx, op, nsp, transposed, x, w, b, p, o), ex = exec_geom(&g);
    bv_tensor *y;
    if (o->act_blocked)
        y = bv_new(ctx, BV_F32, BV_SHAPE(g.N, g.OC / BV_CONV_BLOCK, g.out[0], BV_CONV_BLOCK)); // [N, OC/16, out, 16]
    else
        y = bv_new(ctx, BV_F32, 2 + nsp, (int64_t[]){g.N, g.OC, g.out[0], g.out[1]}); // [N, OC, out...]
    if (r) check_residual(ctx, op, y, r);
    if (ex.out[0] == g.out[0]) {
        conv_exec(ctx, op, &ex, o, PASS_FWD, x->data, w->data, y->data, b ? b->data : NULL);
    } else {
        BV_ASSERT(!o->act_blocked && !o->lrelu); /* transposed convs only: plain, no post-op */
        bv_arena_mark m = bv_arena_get_mark(&ctx->arena);
        float *part = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)(g.N * g.OC * ex.out[0])); // [N, OC, ex.out]
        conv_exec(ctx, op, &ex, o, PASS_FWD, x->data, w->data, part, b ? b->data : NULL);
        copy_rows(y->data, g.out[0], part, ex.out[0], g.N, g.OC, b ? b->data : NULL);
        bv_arena_reset_to(&ctx->arena, m);
    }
    if (r) add_into(y->data, r->data, y->numel); /* (conv + b) + r: bv_add's value of xt + r */
    bv_tensor *ins[4] = {x, w, b, r};
    if (bv_needs_grad(ctx, 4, ins)) {
        bv_node *n = bv_record(ctx, opid, conv_backward, 4, ins, 1, &y);
        conv_saved *sv = bv_arena_alloc(&ctx->arena, sizeof *sv);
        *sv = (conv_saved){g, ex, *o, op};
        n->saved = sv;
    }
    return y;
}

static const conv_opts k_plain = {0, 0, 0.0f, 0};

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
    const conv_opts o = {f->blocked != 0, f->lrelu != 0, f->lrelu ? f->slope : 0.0f, 0};
    return conv_forward(ctx, BV_OP_CONV1D, op, 1, 0, x, w, b, &p, &o, f->residual);
}

/* ---------------- channel blocking: [N, C, T] <-> [N, C/16, T, 16] ---------------- */

/* One oneDNN reorder per (shape, direction), cached like the convolutions (plain abc <-> aBc16b). */
typedef struct {
    int64_t N, C, T, to_blocked;
    uint64_t last_use;
    dnnl_primitive_t prim; /* NULL: free slot */
    dnnl_memory_t from, to;
} blk_entry;

#define BLK_CACHE_CAP 64
static blk_entry g_blk[BLK_CACHE_CAP];

static void blk_entry_destroy(blk_entry *e) {
    if (e->from) dnnl_memory_destroy(e->from);
    if (e->to) dnnl_memory_destroy(e->to);
    if (e->prim) dnnl_primitive_destroy(e->prim);
    memset(e, 0, sizeof *e);
}

/* Every cached primitive, reorder and memory descriptor, then the stream and engine (cleanup.h). */
static void conv_caches_free(void) {
    for (int i = 0; i < PRIM_CACHE_CAP; i++)
        if (g_cache[i].prim) entry_destroy(&g_cache[i]);
    for (int i = 0; i < BLK_CACHE_CAP; i++)
        if (g_blk[i].prim) blk_entry_destroy(&g_blk[i]);
    if (g_stream) dnnl_stream_destroy(g_stream);
    if (g_engine) dnnl_engine_destroy(g_engine);
    g_stream = NULL;
    g_engine = NULL;
    g_tick = 0;
}

static dnnl_status_t blk_entry_build(blk_entry *e, int64_t N, int64_t C, int64_t T, int to_blocked) {
    dnnl_dims_t d = {N, C, T};
    dnnl_memory_desc_t plain, blk;
    dnnl_memory_desc_init_by_tag(&plain, 3, d, dnnl_f32, dnnl_abc);
    dnnl_memory_desc_init_by_tag(&blk, 3, d, dnnl_f32, dnnl_aBc16b);
    const dnnl_memory_desc_t *from = to_blocked ? &plain : &blk, *to = to_blocked ? &blk : &plain;
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, from, g_engine, to, g_engine, NULL);
    if (st != dnnl_success) return st;
    st = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st == dnnl_success) st = dnnl_memory_create(&e->from, from, g_engine, DNNL_MEMORY_NONE);
    if (st == dnnl_success) st = dnnl_memory_create(&e->to, to, g_engine, DNNL_MEMORY_NONE);
    if (st != dnnl_success) {
        blk_entry_destroy(e);
        return st;
    }
    e->N = N;
    e->C = C;
    e->T = T;
    e->to_blocked = to_blocked;
    return st;
}

/* dst = src in the other layout; src [N, C, T] plain (to_blocked) or [N, C/16, T, 16]. */
static void blk_reorder(bv_ctx *ctx, const char *op, float *dst, const float *src, int64_t N, int64_t C, int64_t T,
                        int to_blocked) {
    engine_init(ctx, op);
    blk_entry *e = NULL, *victim = &g_blk[0];
    for (int i = 0; i < BLK_CACHE_CAP && !e; i++) {
        blk_entry *c = &g_blk[i];
        if (c->prim && c->N == N && c->C == C && c->T == T && c->to_blocked == to_blocked) {
            e = c;
        } else if (!c->prim) {
            if (victim->prim) victim = c;
        } else if (victim->prim && c->last_use < victim->last_use) {
            victim = c;
        }
    }
    if (!e) {
        e = victim;
        blk_entry_destroy(e);
        dnnl_status_t st = blk_entry_build(e, N, C, T, to_blocked);
        if (st != dnnl_success) bv_ctx_error(ctx, op, "oneDNN cannot build the layout reorder: status %d", (int)st);
    }
    e->last_use = ++g_tick;
    DNNL_TRY(ctx, op, dnnl_memory_set_data_handle(e->from, (void *)src));
    DNNL_TRY(ctx, op, dnnl_memory_set_data_handle(e->to, dst));
    run_reorder(ctx, op, e->prim, e->from, e->to);
    DNNL_TRY(ctx, op, dnnl_stream_wait(g_stream));
}

/* iattr: N, C, T, to_blocked (the forward's direction) */
static void blk_backward(bv_ctx *ctx, bv_node *n) {
    bv_tensor *x = n->in[0], *y = n->out[0];
    if (!x->requires_grad) return;
    const char *op = n->iattr[3] ? "conv_block" : "conv_unblock";
    int scratch = grad_needs_scratch(ctx, x);
    bv_arena_mark m = bv_arena_get_mark(&ctx->arena);
    float *dst = scratch ? bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)x->numel) : x->grad;
    blk_reorder(ctx, op, dst, y->grad, n->iattr[0], n->iattr[1], n->iattr[2], !n->iattr[3]);
    if (scratch) add_into(x->grad, dst, x->numel);
    bv_arena_reset_to(&ctx->arena, m);
}

static bv_tensor *blk_op(bv_ctx *ctx, const char *op, bv_tensor *x, int64_t N, int64_t C, int64_t T, int to_blocked) {
    bv_tensor *y;
    if (to_blocked)
        y = bv_new(ctx, BV_F32, BV_SHAPE(N, C / BV_CONV_BLOCK, T, BV_CONV_BLOCK)); // [N, C/16, T, 16]
    else
        y = bv_new(ctx, BV_F32, BV_SHAPE(N, C, T)); // [N, C, T]
    blk_reorder(ctx, op, y->data, x->data, N, C, T, to_blocked);
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
