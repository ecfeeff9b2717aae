/* cpu/conv.c - CPU kernels of conv1d, conv_transpose1d, conv2d (forward, backward data, backward
 * weights through oneDNN), the channel-blocking reorders and weight_norm (constructors, geometry
 * checks and backward rules: ../conv.c).
 *
 * Gradient convention: gradients ACCUMULATE (+=) into the buffers given (oneDNN overwrites its
 * outputs, so a result is written straight into a grad buffer only when the caller says it holds
 * no gradient yet, bv_conv_grads.s* == 0; otherwise into scratch and added). gx is then not even
 * zeroed: every path writes all of it (the depthwise loops, which add, zero it first).
 *
 * oneDNN use: one CPU engine and stream per backend, made with the backend's BV_CACHE_CONV slot;
 * fp32, or bf16 where the op says so (bv_conv_opts.bf16, ctx->autocast at forward time: see bf16
 * below). Tensors stay in PyTorch's plain layouts (ncw/nchw activations, oiw/goiw weights; the
 * transposed-conv weight [IC, OC/G, K] is described to oneDNN's deconvolution as a permuted
 * layout, so nothing is copied). Per shape and pass, use_blocked() decides whether oneDNN runs on
 * those plain buffers (its sgemm kernels) or on blocked copies made by reorders around the call
 * (its direct kernels), whichever measured faster. Primitives (and their reorders) are kept in a
 * bounded LRU cache keyed by the full geometry, pass, layout choice and options, so the repeated
 * shapes of a training step never rebuild one. The cache's mutex is held from the lookup to the
 * end of the execution (a cached entry's memory objects get the call's data handles), so calls
 * from several threads run one at a time; oneDNN parallelises inside (OpenMP).
 *
 * The layout choice is the backend's: layout_for() tells model code (the Generator's ResBlocks)
 * whether to keep activations channel-blocked across a chain of convs, and the BV_CONV_LAYOUT
 * environment variable (plain | blocked), read when the cache is made, or set_layout() (tests)
 * override the automatic choice.
 *
 * bf16 (opts.bf16): every pass reads its inputs (x, w, gy) as bf16 and writes fp32: forward src/wei
 * bf16, bias and dst f32; backward data diff_dst/wei bf16, diff_src f32; backward weights src/
 * diff_dst bf16, diff_weights/diff_bias f32 (all oneDNN-supported combinations). oneDNN picks every
 * layout (format_tag_any: on AMX its brgemm kernels take nwc/nhwc, on AVX512_BF16 its direct
 * kernels blocked ones), and the reorders around the primitive convert the caller's fp32 plain (or
 * channel-blocked) buffers to bf16 in the same pass, per call - except the weights where the caller
 * has their bf16 copy (w16: weight_norm makes one under autocast), handed to oneDNN as bf16
 * (o->w_bf16). The depthwise backward loops below run in fp32 on copies of their inputs rounded to
 * bf16, which is the same arithmetic (bf16 products are exact in fp32); so do the passes where
 * oneDNN 2.6's bf16 kernel is slower than its fp32 one; one bf16 matmul over an im2col copy of the
 * whole batch (V_MATMUL) and the batch in parts, one per thread (V_SPLIT) are the other two
 * candidates: all are timed on the first call of each shape and pass (bf16_pick, bf16_measure).
 * oneDNN's MPD (K, 1) conv2d runs as a conv1d over N*W columns (is_col1d).
 */
#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/error.h"
#include "../kernels.h"
#include "bf16.h"
#include "isa.h"
#include "gemm.h"
#include "select.h"

typedef enum { PASS_FWD = 0, PASS_BWD_DATA, PASS_BWD_WEIGHTS } conv_pass;

typedef struct {
    bv_conv_geom g;
    int32_t pass;
    int32_t blocked;                  /* LAY_*: who picks the layouts */
    bv_conv_opts o;                   /* o.bf16: the precision is part of the key */
    int32_t part;                     /* V_SPLIT: 1 + the batch part this entry runs (built for one thread) */
    int32_t unused_;
} prim_key;
/* hashed and compared as raw bytes: there must be no padding */
_Static_assert(sizeof(prim_key) == sizeof(bv_conv_geom) + 10 * sizeof(int32_t), "prim_key has padding");
_Static_assert(sizeof(bv_conv_geom) == 21 * sizeof(int64_t), "bv_conv_geom has padding");

#define PRIM_MAX_ARGS 4
typedef struct {
    prim_key key;
    uint64_t last_use;                /* its hash: conv_cache.prim_hash */
    dnnl_primitive_t prim;            /* NULL: free slot */
    int nargs;
    int arg[PRIM_MAX_ARGS];           /* DNNL_ARG_* in conv_exec's pointer order */
    dnnl_memory_t mem[PRIM_MAX_ARGS]; /* the primitive's argument; data handle set per call */
    /* Where the primitive wants a blocked layout: the caller's plain buffer, the reorder between
     * the two (plain -> blocked for inputs, blocked -> plain for the output), the blocked size. */
    dnnl_memory_t user[PRIM_MAX_ARGS];
    dnnl_memory_t view[PRIM_MAX_ARGS]; /* col1d: mem[i]'s buffer seen as the caller's 4-d tensor (else NULL) */
    dnnl_primitive_t reorder[PRIM_MAX_ARGS];
    size_t bytes[PRIM_MAX_ARGS];
    /* A V_SPLIT part's entry runs beside the other parts': oneDNN's own scratchpad is one per
     * process in this build, so it brings its own (scratchpad mode user; sp_bytes 0: none needed),
     * for the primitive (index PRIM_MAX_ARGS) and each reorder. */
    dnnl_memory_t sp[PRIM_MAX_ARGS + 1];
    size_t sp_bytes[PRIM_MAX_ARGS + 1];
} prim_entry;

/* One oneDNN reorder per (shape, direction) between plain abc and blocked aBc16b. */
typedef struct {
    int64_t N, C, T, to_blocked;
    uint64_t last_use;
    dnnl_primitive_t prim; /* NULL: free slot */
    dnnl_memory_t from, to;
} blk_entry;

/* A training step of the full model has a few hundred distinct (shape, pass) pairs (a bf16 step of
 * upstream's default config ~480, an fp32 one ~380), and new text and spectrogram lengths add more;
 * beyond this, the least recently used primitive is destroyed. */
#define PRIM_CACHE_CAP 1024
/* forward_post's piece for long channels-last convs (post_pieces), in output rows. oneDNN's brgconv
 * takes time to build that grows with the rows (fp32, Xeon model 207: 8.5 ms per 2048-row primitive,
 * 2.3 per 512-row one), and a process's first synthesis builds ~70 of each size: `bv2 infer` of one
 * 5 s sentence spent 0.79-0.93 s building them with 2048 (then 512), 0.25-0.29 s with 512 (then
 * 128). Steady synthesis ran level within the VM's drift (1148-1192 against 1150-1460 ms per 5 s of
 * speech, alternated); 2048 had been measured level with 1024-8192 for bf16 on Zen 4. */
#define NWC_PIECE_ROWS 512
#define BLK_CACHE_CAP 64

/* How a bf16 pass chooses between oneDNN's bf16 primitive (native), its fp32 one on bf16-rounded
 * copies of the inputs (emulated; the same arithmetic, see bf16_native), one bf16 matmul over an
 * im2col copy of the whole batch (V_MATMUL, where matmul_ok) and the native primitive on parts of
 * the batch at once, one per thread (V_SPLIT, where split_ok): BV_CONV_BF16 = measure (default:
 * every candidate timed on the first call of each shape, the fastest kept), rule (bf16_native's
 * fixed rule: the same choice on every run), native, emulate, matmul, split (A/B); bv_conv_bf16_mode. */
enum { BF16_MEASURE = BV_CONV_BF16_MEASURE, BF16_RULE = BV_CONV_BF16_RULE, BF16_NATIVE = BV_CONV_BF16_NATIVE,
       BF16_EMULATE = BV_CONV_BF16_EMULATE, BF16_MATMUL = BV_CONV_BF16_MATMUL, BF16_SPLIT = BV_CONV_BF16_SPLIT };
/* The implementations a bf16 pass can run (a pick's value). */
enum { V_EMULATE = 0, V_NATIVE = 1, V_MATMUL = 2, V_SPLIT = 3, V_COUNT };

/* V_SPLIT runs at most this many batch parts at once (one per OpenMP thread). */
#define SPLIT_MAX 8
/* Threads that run parts of one conv at once, each on its own stream (V_SPLIT's, post_pieces'). */
#define PARTS_MAX 64

typedef struct {
    prim_key key;
    uint64_t hash;
    int32_t used, variant; /* V_* */
} pick_entry;
/* distinct bf16 (shape, pass) triples of a training step: a few hundred; a power of two */
#define PICK_CAP 1024

/* The backend's BV_CACHE_CONV slot. Everything below `lock` is guarded by it. */
typedef struct {
    pthread_mutex_t lock;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_stream_t part_stream[PARTS_MAX]; /* V_SPLIT, post_pieces: one per part (a stream is one thread's); lazily */
    bv_conv_layout layout;
    int col1d;                        /* conv2d (K, 1) as conv1d (is_col1d); BV_CONV_COL1D=0 turns it off (A/B) */
    int split;                        /* V_SPLIT a candidate of the measured pick; BV_CONV_SPLIT=0: not (A/B) */
    int bf16_mode;                    /* BF16_*: how a bf16 pass picks its implementation (BV_CONV_BF16) */
    int npicks;
    int bf16_log;                     /* BV_CONV_BF16_LOG=1: each measured pick on stderr */
    int64_t nwc_piece;                /* forward_post's nwc convs run in pieces of this many output rows
                                         (0: whole); BV_CONV_NWC_PIECE, bv_conv_set_nwc_piece */
    pick_entry picks[PICK_CAP];       /* BF16_MEASURE: the measured choice per (geometry, options, pass) */
    int native16;                     /* -1 unknown, else whether direct kernels block by 16 */
    int nwc_brgemm;                   /* -1 unknown, else whether channels-last fp32 convs get brgconv */
    int post_emulate;                 /* -1 unknown, else whether bf16 post-op convs run emulated (post_emulates) */
    uint64_t tick;
    prim_entry prims[PRIM_CACHE_CAP];
    uint64_t prim_hash[PRIM_CACHE_CAP]; /* prims[i]'s key hash while it holds a primitive, else 0: scanned
                                           by every lookup, 8 KiB instead of every entry's cache lines */
    blk_entry blks[BLK_CACHE_CAP];
} conv_cache;

/* On failure: the message into err (BV_KERNEL_ERR_LEN bytes) and return -1 from the function. */
#define DNNL_TRY(err, call)                                                                      \
    do {                                                                                         \
        dnnl_status_t st_ = (call);                                                              \
        if (st_ != dnnl_success) {                                                               \
            snprintf(err, BV_KERNEL_ERR_LEN, "oneDNN call %s failed (status %d)", #call, (int)st_); \
            return -1;                                                                           \
        }                                                                                        \
    } while (0)

static void entry_destroy(prim_entry *e);
static void blk_entry_destroy(blk_entry *e);

static void cache_destroy(void *p) {
    conv_cache *c = p;
    for (int i = 0; i < PRIM_CACHE_CAP; i++)
        if (c->prims[i].prim) entry_destroy(&c->prims[i]);
    for (int i = 0; i < BLK_CACHE_CAP; i++)
        if (c->blks[i].prim) blk_entry_destroy(&c->blks[i]);
    if (c->stream) dnnl_stream_destroy(c->stream);
    for (int i = 0; i < PARTS_MAX; i++)
        if (c->part_stream[i]) dnnl_stream_destroy(c->part_stream[i]);
    if (c->engine) dnnl_engine_destroy(c->engine);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* The engine, the stream and an empty cache; NULL when oneDNN has no CPU engine (asked again on
 * the next call). */
static void *cache_make(void) {
    conv_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->native16 = -1;
    c->nwc_brgemm = -1;
    c->post_emulate = -1;
    const char *col = getenv("BV_CONV_COL1D");
    c->col1d = !(col && !strcmp(col, "0"));
    const char *spl = getenv("BV_CONV_SPLIT");
    c->split = !(spl && !strcmp(spl, "0"));
    const char *nat = getenv("BV_CONV_BF16");
    c->bf16_mode = !nat                       ? BF16_MEASURE
                   : !strcmp(nat, "native")  ? BF16_NATIVE
                   : !strcmp(nat, "emulate") ? BF16_EMULATE
                   : !strcmp(nat, "rule")    ? BF16_RULE
                   : !strcmp(nat, "matmul")  ? BF16_MATMUL
                   : !strcmp(nat, "split")   ? BF16_SPLIT
                                             : BF16_MEASURE;
    const char *plog = getenv("BV_CONV_BF16_LOG");
    c->bf16_log = plog && !strcmp(plog, "1");
    const char *piece = getenv("BV_CONV_NWC_PIECE"); /* rows; 0: whole convs (A/B) */
    c->nwc_piece = piece ? atoll(piece) : NWC_PIECE_ROWS;
    if (c->nwc_piece < 0) c->nwc_piece = 0;
    const char *lay = getenv("BV_CONV_LAYOUT"); /* plain | blocked: A/B the automatic choice */
    if (lay && !strcmp(lay, "plain")) c->layout = BV_CONV_LAYOUT_PLAIN;
    if (lay && !strcmp(lay, "blocked")) c->layout = BV_CONV_LAYOUT_BLOCKED;
    if (dnnl_engine_create(&c->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags) != dnnl_success) {
        cache_destroy(c);
        return NULL;
    }
    return c;
}

static conv_cache *cache_of(bv_backend *be, char *err) {
    conv_cache *c = bv_backend_cache(be, BV_CACHE_CONV, cache_make, cache_destroy);
    if (!c && err) snprintf(err, BV_KERNEL_ERR_LEN, "oneDNN cannot create its CPU engine and stream");
    return c;
}

/* Plain layouts run oneDNN's im2col + sgemm kernels, blocked ones (nCw16c...) its direct JIT
 * kernels. Measured with bench/ (2 threads, AVX-512): direct wins 1.3-5x when channels per group
 * are few (the Generator's late stages, the grouped DiscriminatorS convs, WN layers); sgemm wins
 * for the wide, short convs of the discriminators (512-1024 channels) and for single-channel
 * inputs. Weight gradients flip sooner (direct loses from ~256 channels). Deterministic per shape,
 * so a run is reproducible. */
static int is_depthwise(const bv_conv_geom *g) { return g->G > 1 && g->IC == g->G && g->OC == g->G; }

static int use_blocked(const conv_cache *c, const bv_conv_geom *g, conv_pass pass) {
    if (c->layout != BV_CONV_LAYOUT_AUTO) return c->layout == BV_CONV_LAYOUT_BLOCKED;
    if (is_depthwise(g)) return 1; /* DDSConv: oneDNN's depthwise kernel, 4-8x the sgemm path */
    /* Narrowing convs (the FFNs' filter -> hidden, 768 -> 192): the direct kernels' backward passes
     * beat sgemm's by ~15% with the reorders (bv2-bench ffn, alternating BV_CONV_LAYOUT: flow k5
     * fwd+bwd 34.2-35.2 -> 30.0-31.4 ms, enc_p k3 7.7-8.2 -> 6.6-6.8 ms); not the widening ones */
    if (g->G == 1 && g->nsp == 1 && g->k[0] > 1 && g->OC >= 64 && g->IC >= 4 * g->OC) return 1;
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

/* How a primitive's layouts are chosen: the caller's plain ones (oneDNN's sgemm kernels), oneDNN's
 * own (format_tag_any: blocked, reorders around the call), or LAY_COL1D (see is_col1d). */
enum { LAY_PLAIN = 0, LAY_ANY = 1, LAY_COL1D = 2 };

/* Activation [N, C, spatial...]: plain ncw / nchw, channel-blocked nCw16c (blk), nwc, or any. */
static void md_act(dnnl_memory_desc_t *md, const bv_conv_geom *g, int64_t C, const int64_t *sp, int lay, int blk,
                   dnnl_data_type_t dt) {
    dnnl_dims_t d = {g->N, C, sp[0], sp[1]};
    dnnl_format_tag_t tag = lay == LAY_COL1D ? dnnl_acb
                            : lay == LAY_ANY ? dnnl_format_tag_any
                            : blk            ? dnnl_aBc16b
                            : g->nsp == 1    ? dnnl_abc
                                             : dnnl_abcd;
    dnnl_memory_desc_init_by_tag(md, 2 + g->nsp, d, dt, tag);
}

/* A conv2d with a (K, 1) kernel, stride 1 and no padding along W (the MultiPeriodDiscriminator's,
 * W = the period) is a conv1d over H with batch N*W; oneDNN's bf16 2-d kernels run W = 2..11
 * columns of 1 tap poorly (forward 1.5-4x, backward data 3-7x slower than the same work as a
 * conv1d). In bf16 it runs as that conv1d in nwc layout: [N*W, H, C] is the [N, C, H, W] tensor
 * stored [N, W, H, C], which the reorders around the call make from (and back to) the caller's
 * nchw. Not in fp32: there oneDNN's nwc conv1d kernels lost to its 2-d sgemm path (whole train
 * step, MPD backward 2x slower). */
static int is_col1d(const bv_conv_geom *g, const bv_conv_opts *o) {
    return o->bf16 && g->nsp == 2 && !g->transposed && !o->act_blocked && g->k[1] == 1 && g->stride[1] == 1 && g->pad[1] == 0 &&
           g->in[1] > 1;
}

static bv_conv_geom col1d_geom(const bv_conv_geom *g) {
    bv_conv_geom c = *g;
    c.nsp = 1;
    c.N = g->N * g->in[1];
    c.in[1] = c.out[1] = c.k[1] = c.stride[1] = c.dil[1] = 1;
    c.pad[1] = c.out_pad[1] = 0;
    return c;
}

/* The caller's [N, C, H, W] as the col1d primitive stores it, [N, W, H, C]. */
static void md_col1d_view(dnnl_memory_desc_t *md, const bv_conv_geom *g, int64_t C, const int64_t *sp,
                          dnnl_data_type_t dt) {
    dnnl_dims_t d = {g->N, C, sp[0], sp[1]}, st = {sp[1] * sp[0] * C, 1, C, sp[0] * C};
    dnnl_memory_desc_init_by_strides(md, 4, d, dt, st);
}

/* Weights in PyTorch's layout. oneDNN's logical order is always [(G,) OC/G, IC/G, K...]; a conv
 * stores it in that order, a transposed conv stores [IC/G, OC/G] swapped (PyTorch [IC, OC/G, K]). */
static void md_weights(dnnl_memory_desc_t *md, const bv_conv_geom *g, int any, dnnl_data_type_t dt) { /* any: LAY_* != 0 */
    dnnl_dims_t d;
    int nd = 0;
    if (g->G > 1) d[nd++] = g->G;
    d[nd++] = g->OC / g->G;
    d[nd++] = g->IC / g->G;
    for (int i = 0; i < g->nsp; i++) d[nd++] = g->k[i];
    static const dnnl_format_tag_t plain[2][2] = {{dnnl_abc, dnnl_abcd}, {dnnl_abcd, dnnl_abcde}};
    static const dnnl_format_tag_t swapped[2][2] = {{dnnl_bac, dnnl_bacd}, {dnnl_acbd, dnnl_acbde}};
    dnnl_format_tag_t tag = (g->transposed ? swapped : plain)[g->G > 1][g->nsp - 1];
    dnnl_memory_desc_init_by_tag(md, nd, d, dt, any ? dnnl_format_tag_any : tag);
}

static void md_bias(dnnl_memory_desc_t *md, const bv_conv_geom *g) {
    dnnl_dims_t d = {g->OC};
    dnnl_memory_desc_init_by_tag(md, 1, d, dnnl_f32, dnnl_a);
}

/* The caller's layout of one argument: PyTorch's, or channel-blocked activations. */
static void md_user(dnnl_memory_desc_t *md, const bv_conv_geom *g, const bv_conv_opts *o, int arg) {
    if (arg == DNNL_ARG_SRC || arg == DNNL_ARG_DIFF_SRC) md_act(md, g, g->IC, g->in, 0, o->act_blocked, dnnl_f32);
    else if (arg == DNNL_ARG_DST || arg == DNNL_ARG_DIFF_DST) md_act(md, g, g->OC, g->out, 0, o->act_blocked, dnnl_f32);
    else if (arg == DNNL_ARG_BIAS || arg == DNNL_ARG_DIFF_BIAS) md_bias(md, g);
    else md_weights(md, g, 0, o->w_bf16 && arg == DNNL_ARG_WEIGHTS ? dnnl_bf16 : dnnl_f32);
}

/* The op descriptor of one pass. The conv's right padding is PyTorch's (oneDNN floors the output
 * size the same way); a transposed conv's output_padding is extra right padding removed. With
 * bf16, the pass's inputs are bf16 and its outputs f32 (the bias stays f32). */
static dnnl_status_t make_op_desc(void *desc, const bv_conv_geom *g, conv_pass pass, int with_bias, int lay,
                                  int bf16) {
    const dnnl_data_type_t in_src = bf16 && pass != PASS_BWD_DATA ? dnnl_bf16 : dnnl_f32;
    const dnnl_data_type_t in_dst = bf16 && pass != PASS_FWD ? dnnl_bf16 : dnnl_f32;
    const dnnl_data_type_t in_wei = bf16 && pass != PASS_BWD_WEIGHTS ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src, wei, dst, bias;
    md_act(&src, g, g->IC, g->in, lay, 0, in_src);
    md_act(&dst, g, g->OC, g->out, lay, 0, in_dst);
    md_weights(&wei, g, lay != LAY_PLAIN, in_wei);
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
    for (int i = 0; i <= PRIM_MAX_ARGS; i++)
        if (e->sp[i]) dnnl_memory_destroy(e->sp[i]);
    for (int i = 0; i < e->nargs; i++) {
        if (e->mem[i]) dnnl_memory_destroy(e->mem[i]);
        if (e->user[i]) dnnl_memory_destroy(e->user[i]);
        if (e->view[i]) dnnl_memory_destroy(e->view[i]);
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
static void entry_args(prim_entry *e, const bv_conv_geom *g, const bv_conv_opts *o, conv_pass pass) {
    static const int fwd[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS};
    static const int bwd_d[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    static const int bwd_w[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS};
    const int *a = pass == PASS_FWD ? fwd : pass == PASS_BWD_DATA ? bwd_d : bwd_w;
    e->nargs = pass == PASS_FWD ? 3 + g->has_bias : pass == PASS_BWD_WEIGHTS ? 3 + o->diff_bias : 3;
    memcpy(e->arg, a, sizeof(int) * (size_t)e->nargs);
}

static int is_act_arg(int arg) {
    return arg == DNNL_ARG_SRC || arg == DNNL_ARG_DST || arg == DNNL_ARG_DIFF_SRC || arg == DNNL_ARG_DIFF_DST;
}

/* With a scratchpad of its own (own_sp: a V_SPLIT part), its memory object sp[k] for pd. */
static dnnl_status_t entry_sp_build(dnnl_engine_t eng, prim_entry *e, int k, const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    e->sp_bytes[k] = md ? dnnl_memory_desc_get_size(md) : 0;
    return e->sp_bytes[k] ? dnnl_memory_create(&e->sp[k], md, eng, DNNL_MEMORY_NONE) : dnnl_success;
}

/* An attribute asking for the user's scratchpad (own_sp), else none (NULL). */
static dnnl_status_t own_sp_attr(dnnl_primitive_attr_t *attr, int own_sp) {
    *attr = NULL;
    if (!own_sp) return dnnl_success;
    dnnl_status_t st = dnnl_primitive_attr_create(attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    return st;
}

/* Memory objects of argument i; a reorder to/from the caller's layout where the primitive's differs.
 * g is the caller's geometry, run the one the primitive runs (col1d: the folded conv1d). */
static dnnl_status_t entry_arg_build(dnnl_engine_t eng, prim_entry *e, int i, const bv_conv_geom *g,
                                     const bv_conv_geom *run, const bv_conv_opts *o, const_dnnl_primitive_desc_t pd,
                                     int own_sp) {
    const int arg = e->arg[i], col1d = run->nsp != g->nsp && is_act_arg(arg);
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
    dnnl_memory_desc_t user, view;
    md_user(&user, col1d ? g : run, o, arg);
    dnnl_status_t st = dnnl_memory_create(&e->mem[i], md, eng, DNNL_MEMORY_NONE);
    if (st != dnnl_success || (!col1d && dnnl_memory_desc_equal(md, &user))) return st;
    if ((st = dnnl_memory_create(&e->user[i], &user, eng, DNNL_MEMORY_NONE)) != dnnl_success) return st;
    if (col1d) { /* the reorder writes (reads) mem[i]'s buffer through its 4-d view */
        const int dst_side = arg == DNNL_ARG_DST || arg == DNNL_ARG_DIFF_DST;
        md_col1d_view(&view, g, dst_side ? g->OC : g->IC, dst_side ? g->out : g->in, md->data_type);
        if ((st = dnnl_memory_create(&e->view[i], &view, eng, DNNL_MEMORY_NONE)) != dnnl_success) return st;
        md = &view;
    }
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_attr_t attr;
    int out = is_output_arg(arg);
    if ((st = own_sp_attr(&attr, own_sp)) != dnnl_success) return st;
    st = dnnl_reorder_primitive_desc_create(&rpd, out ? md : &user, eng, out ? &user : md, eng, attr);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return st;
    st = dnnl_primitive_create(&e->reorder[i], rpd);
    if (st == dnnl_success && own_sp) st = entry_sp_build(eng, e, i, rpd);
    dnnl_primitive_desc_destroy(rpd);
    e->bytes[i] = dnnl_memory_desc_get_size(md);
    return st;
}

/* leaky_relu(slope) after the forward conv and its bias, inside oneDNN's kernel: its relu with
 * alpha computes x > 0 ? x : alpha * x, bit for bit bv_leaky_relu. Into attr (made if NULL). */
static dnnl_status_t lrelu_attr(dnnl_primitive_attr_t *attr, float slope) {
    dnnl_post_ops_t po;
    dnnl_status_t st = dnnl_post_ops_create(&po);
    if (st != dnnl_success) return st;
    st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, slope, 0.0f);
    if (st == dnnl_success && !*attr) st = dnnl_primitive_attr_create(attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(*attr, po);
    dnnl_post_ops_destroy(po);
    return st;
}

/* The primitive of one pass, and its arguments (own_sp: scratchpads of its own, see prim_entry).
 * Backward pds need the forward pd they belong to as a hint. On failure everything made so far is
 * released. */
static dnnl_status_t entry_build(dnnl_engine_t eng, prim_entry *e, const bv_conv_geom *g, const bv_conv_opts *o,
                                 conv_pass pass, int lay, int own_sp) {
    any_conv_desc desc, hint_desc;
    dnnl_primitive_desc_t pd = NULL, hint = NULL;
    dnnl_primitive_attr_t attr = NULL;
    const bv_conv_geom run = lay == LAY_COL1D ? col1d_geom(g) : *g;
    int with_bias = pass == PASS_FWD ? (int)g->has_bias : pass == PASS_BWD_WEIGHTS ? o->diff_bias : 0;
    dnnl_status_t st = make_op_desc(&desc, &run, pass, with_bias, lay, o->bf16);
    if (st == dnnl_success && pass != PASS_FWD) {
        st = make_op_desc(&hint_desc, &run, PASS_FWD, 0, lay, o->bf16);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&hint, &hint_desc, NULL, eng, NULL);
    }
    if (st == dnnl_success) st = own_sp_attr(&attr, own_sp);
    if (st == dnnl_success && pass == PASS_FWD && o->lrelu) st = lrelu_attr(&attr, o->slope);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &desc, attr, eng, hint);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (hint) dnnl_primitive_desc_destroy(hint);
    if (st == dnnl_success) st = dnnl_primitive_create(&e->prim, pd);
    if (st == dnnl_success && own_sp) st = entry_sp_build(eng, e, PRIM_MAX_ARGS, pd);
    entry_args(e, g, o, pass);
    for (int i = 0; i < e->nargs && st == dnnl_success; i++) st = entry_arg_build(eng, e, i, g, &run, o, pd, own_sp);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) entry_destroy(e);
    return st;
}

static void blk_entry_destroy(blk_entry *e) {
    if (e->from) dnnl_memory_destroy(e->from);
    if (e->to) dnnl_memory_destroy(e->to);
    if (e->prim) dnnl_primitive_destroy(e->prim);
    memset(e, 0, sizeof *e);
}

static dnnl_status_t blk_entry_build(dnnl_engine_t eng, blk_entry *e, int64_t N, int64_t C, int64_t T, int to_blocked) {
    dnnl_dims_t d = {N, C, T};
    dnnl_memory_desc_t plain, blk;
    dnnl_memory_desc_init_by_tag(&plain, 3, d, dnnl_f32, dnnl_abc);
    dnnl_memory_desc_init_by_tag(&blk, 3, d, dnnl_f32, dnnl_aBc16b);
    const dnnl_memory_desc_t *from = to_blocked ? &plain : &blk, *to = to_blocked ? &blk : &plain;
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, NULL);
    if (st != dnnl_success) return st;
    st = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st == dnnl_success) st = dnnl_memory_create(&e->from, from, eng, DNNL_MEMORY_NONE);
    if (st == dnnl_success) st = dnnl_memory_create(&e->to, to, eng, DNNL_MEMORY_NONE);
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

/* ---------------- loops beside oneDNN ---------------- */

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

/* Output range [o0, o1) whose input index o*s + off lies in [0, T) (a tap at offset off; also the
 * matmul candidate's im2col / col2im, below). */
static void tap_range(int64_t off, int64_t s, int64_t T, int64_t To, int64_t *o0, int64_t *o1) {
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
            tap_range(off, s, T, To, &o0, &o1);
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
            tap_range(off, s, T, To, &o0, &o1);
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

/* ---- grouped conv1d weight gradient, few input channels per group (the DiscriminatorS: 4 per
 * group, kernel 41, stride 4, 4 to 256 groups) ----
 * oneDNN 2.6 runs these weight passes through its gemm path at 6-20 GFLOP/s (2 threads, fp32).
 * Per group the gradient is one product, gw_g [ocg, icg*K] = sum over n of gy_g[n] [ocg, To] times
 * the im2col of the group's inputs [To, icg*K]. Each input row is first split into its stride
 * phases (xp[r][u] = x[u*s + r], zero outside the row), where every tap's inputs for consecutive
 * outputs are consecutive: the im2col, built transposed ([icg*K, piece]) in pieces of GW_PIECE
 * outputs that stay in cache, is then one memcpy per row. Groups are spread over the threads, each
 * product on its own thread (bv_cpu_sgemm inside a parallel region). */
#define GW_PIECE 512
#define GW_MAX_ICG 16

static int grouped_few(const bv_conv_geom *g) {
    return g->nsp == 1 && !g->transposed && g->G > 1 && !is_depthwise(g) && g->IC / g->G <= GW_MAX_ICG;
}

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Tap k reads phase r at u = o + q for output o (x[o*s + k*d - p] = xp[r][o + q]). */
static void gw_tap(const bv_conv_geom *g, int64_t k, int64_t *r, int64_t *q) {
    const int64_t off = k * g->dil[0] - g->pad[0];
    *q = floor_div(off, g->stride[0]);
    *r = off - *q * g->stride[0];
}

/* The phases' u range [qmin, qmin + U) covers every tap of every output. */
static void gw_span(const bv_conv_geom *g, int64_t *qmin, int64_t *U) {
    int64_t r, q0, q1;
    gw_tap(g, 0, &r, &q0);
    gw_tap(g, g->k[0] - 1, &r, &q1);
    *qmin = q0;
    *U = g->out[0] + q1 - q0;
}

/* Floats of scratch per thread: the im2col piece and the group's input phases. */
static int64_t grouped_scratch_one(const bv_conv_geom *g) {
    int64_t qmin, U;
    gw_span(g, &qmin, &U);
    const int64_t icg = g->IC / g->G;
    return icg * g->k[0] * GW_PIECE + icg * g->stride[0] * U;
}

static int64_t grouped_scratch(const bv_conv_geom *g) { return omp_get_max_threads() * grouped_scratch_one(g); }

/* gw = the weight gradient (overwritten); scratch = grouped_scratch(g) floats. */
static void grouped_bwd_weights(float *gw, const float *gy, const float *x, const bv_conv_geom *g, float *scratch) {
    const int64_t G = g->G, icg = g->IC / G, ocg = g->OC / G, K = g->k[0], R = icg * K, To = g->out[0];
    const int64_t T = g->in[0], s = g->stride[0], per_thread = grouped_scratch_one(g);
    int64_t qmin, U;
    gw_span(g, &qmin, &U);
    if (g->N == 0 || To == 0) {
        memset(gw, 0, sizeof(float) * (size_t)(g->OC * R));
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t gi = 0; gi < G; gi++) {
        float *c = scratch + (int64_t)omp_get_thread_num() * per_thread, *xp = c + R * GW_PIECE;
        float *gwg = gw + gi * ocg * R;
        for (int64_t n = 0; n < g->N; n++) {
            for (int64_t i = 0; i < icg; i++) {
                const float *xr = x + (n * g->IC + gi * icg + i) * T;
                for (int64_t r = 0; r < s; r++)
                    for (int64_t u = 0; u < U; u++) {
                        const int64_t v = (u + qmin) * s + r;
                        xp[(i * s + r) * U + u] = v >= 0 && v < T ? xr[v] : 0.0f;
                    }
            }
            for (int64_t t0 = 0; t0 < To; t0 += GW_PIECE) {
                const int64_t len = To - t0 < GW_PIECE ? To - t0 : GW_PIECE;
                for (int64_t i = 0; i < icg; i++)
                    for (int64_t k = 0; k < K; k++) {
                        int64_t r, q;
                        gw_tap(g, k, &r, &q);
                        memcpy(c + (i * K + k) * len, xp + (i * s + r) * U + t0 + q - qmin, sizeof(float) * (size_t)len);
                    }
                bv_cpu_sgemm(0, 1, ocg, R, len, gy + (n * g->OC + gi * ocg) * To + t0, To, c, len,
                             n == 0 && t0 == 0 ? 0.0f : 1.0f, gwg, R);
            }
        }
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

/* gz = gy * leaky_relu'(z), read off the output y = leaky_relu(z): with slope > 0, y > 0 exactly
 * where z > 0 (and both are NaN together), so z need not be kept. */
static void lrelu_grad(float *gz, const float *gy, const float *y, int64_t n, float slope) {
#pragma omp parallel for simd if (n > 65536)
    for (int64_t i = 0; i < n; i++) gz[i] = gy[i] * select_f(y[i] > 0.0f, 1.0f, slope);
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

/* The cached primitive for (geometry, options, pass), built on a miss (evicting the least
 * recently used). part > 0: batch part part - 1 of a V_SPLIT pass, an entry of its own (its memory
 * objects take that part's pointers while the other parts run) built for one thread, as it runs
 * (oneDNN sizes its work split by the threads it sees at creation). Under c->lock. NULL (and a
 * message) when oneDNN cannot build it. */
static prim_entry *prim_get(conv_cache *c, const bv_conv_geom *g, const bv_conv_opts *o, conv_pass pass, int part,
                            char *err) {
    prim_key key;
    memset(&key, 0, sizeof key);
    key.g = *g;
    key.pass = pass;
    key.o = *o;
    key.part = part;
    if (pass != PASS_FWD) { /* backward pds know no post-op */
        key.o.lrelu = 0;
        key.o.slope = 0.0f;
    }
    if (pass != PASS_BWD_WEIGHTS) key.o.diff_bias = 0;
    else key.o.w_bf16 = 0; /* no weights read */
    /* blocked activations: oneDNN's own layout choice is the one they are in; bf16 always lets
     * oneDNN choose (its inputs are converted by a reorder anyway) */
    key.blocked = o->act_blocked || o->bf16 || use_blocked(c, g, pass) ? LAY_ANY : LAY_PLAIN;
    if (c->layout == BV_CONV_LAYOUT_AUTO && c->col1d && is_col1d(g, o)) key.blocked = LAY_COL1D;
    /* oneDNN 2.6 has its depthwise JIT kernel for 2-d only: [N, C, T] is the same memory as
     * [N, C, T, 1] with a (K, 1) kernel (unused dims are already 1 in the geometry). */
    if (key.blocked && !o->act_blocked && g->nsp == 1 && is_depthwise(g)) key.g.nsp = 2;
    const uint64_t h = key_hash(&key) | 1; /* never 0, prim_hash's free mark */
    for (int i = 0; i < PRIM_CACHE_CAP; i++) {
        prim_entry *e = &c->prims[i];
        if (c->prim_hash[i] == h && !memcmp(&e->key, &key, sizeof key)) {
            e->last_use = ++c->tick;
            return e;
        }
    }
    int vi = 0; /* a free slot, else the least recently used */
    for (int i = 0; i < PRIM_CACHE_CAP && c->prims[vi].prim; i++)
        if (!c->prims[i].prim || c->prims[i].last_use < c->prims[vi].last_use) vi = i;
    prim_entry *victim = &c->prims[vi];
    entry_destroy(victim);
    c->prim_hash[vi] = 0;
    const int threads = omp_get_max_threads();
    if (part) omp_set_num_threads(1);
    dnnl_status_t st = entry_build(c->engine, victim, &key.g, &key.o, pass, key.blocked, part > 0);
    if (part) omp_set_num_threads(threads);
    if (st != dnnl_success) {
        snprintf(err, BV_KERNEL_ERR_LEN, "oneDNN cannot build this convolution (pass %d, %s layouts%s): status %d",
                 (int)pass, key.blocked == LAY_PLAIN ? "plain" : key.blocked == LAY_ANY ? "its own" : "conv1d nwc",
                 o->bf16 ? ", bf16" : "", (int)st);
        return NULL;
    }
    victim->key = key;
    victim->last_use = ++c->tick;
    c->prim_hash[vi] = h;
    return victim;
}

static int run_reorder(dnnl_stream_t s, dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to, char *err) {
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DNNL_TRY(err, dnnl_primitive_execute(r, s, 2, a));
    return 0;
}

/* A reorder with its own scratchpad sp (NULL: oneDNN's). */
static int run_reorder_sp(dnnl_stream_t s, dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to, dnnl_memory_t sp,
                          char *err) {
    if (!sp) return run_reorder(s, r, from, to, err);
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, sp}};
    DNNL_TRY(err, dnnl_primitive_execute(r, s, 3, a));
    return 0;
}

/* The memory a reorder of argument i reads or writes: the primitive's, or its 4-d view. */
static dnnl_memory_t side(const prim_entry *e, int i) { return e->view[i] ? e->view[i] : e->mem[i]; }

/* The output gradient as the backward passes' primitives read it (bf16, their layout): converted by
 * the first pass into buf, reused by the second where it wants the same layout (backward_dnnl). */
typedef struct {
    const float *src;      /* the caller's buffer converted into buf; NULL: none yet */
    dnnl_memory_desc_t md; /* buf's layout */
    void *buf;             /* NULL: no sharing */
    size_t cap;            /* buf's bytes */
} gy_share;

/* Entry e on the caller's pointers ptr (the entry's argument order), on stream s: where the primitive
 * wants another layout, argument i lives in buf[i] (reordered from the caller's buffer first, unless
 * ready[i]: converted there already; outputs reordered back after). Touches nothing but e and the
 * buffers, so entries of one V_SPLIT pass run at once, each on its own stream. */
static int exec_entry(const prim_entry *e, dnnl_stream_t s, const float *const *ptr, void *const *buf,
                      const int *ready, void *const *sp, char *err) {
    dnnl_exec_arg_t args[PRIM_MAX_ARGS + 1];
    for (int k = 0; k <= PRIM_MAX_ARGS; k++)
        if (e->sp[k]) DNNL_TRY(err, dnnl_memory_set_data_handle(e->sp[k], sp[k]));
    for (int i = 0; i < e->nargs; i++) {
        if (!e->reorder[i]) {
            DNNL_TRY(err, dnnl_memory_set_data_handle(e->mem[i], (void *)ptr[i]));
        } else {
            DNNL_TRY(err, dnnl_memory_set_data_handle(e->mem[i], buf[i]));
            if (!ready[i]) {
                DNNL_TRY(err, dnnl_memory_set_data_handle(e->user[i], (void *)ptr[i]));
                if (e->view[i]) DNNL_TRY(err, dnnl_memory_set_data_handle(e->view[i], buf[i]));
                if (!is_output_arg(e->arg[i]) &&
                    run_reorder_sp(s, e->reorder[i], e->user[i], side(e, i), e->sp[i], err))
                    return -1;
            }
        }
        args[i] = (dnnl_exec_arg_t){e->arg[i], e->mem[i]};
    }
    int nargs = e->nargs;
    if (e->sp[PRIM_MAX_ARGS]) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->sp[PRIM_MAX_ARGS]};
    DNNL_TRY(err, dnnl_primitive_execute(e->prim, s, nargs, args));
    for (int i = 0; i < e->nargs; i++)
        if (e->reorder[i] && is_output_arg(e->arg[i]) &&
            run_reorder_sp(s, e->reorder[i], side(e, i), e->user[i], e->sp[i], err))
            return -1;
    DNNL_TRY(err, dnnl_stream_wait(s));
    return 0;
}

/* conv_exec under the lock; blocked arguments live in scratch (the caller rewinds it). */
static int conv_exec_locked(conv_cache *c, bv_arena *scratch, const bv_conv_geom *g, const bv_conv_opts *o,
                            conv_pass pass, const float *p0, const float *p1, float *p2, const float *p3,
                            gy_share *sh, char *err) {
    prim_entry *e = prim_get(c, g, o, pass, 0, err);
    if (!e) return -1;
    const float *ptr[PRIM_MAX_ARGS] = {p0, p1, p2, p3};
    void *buf[PRIM_MAX_ARGS] = {0};
    int ready[PRIM_MAX_ARGS] = {0}, shared = -1;
    for (int i = 0; i < e->nargs; i++) {
        if (!e->reorder[i]) continue;
        const dnnl_memory_desc_t *md = NULL;
        const int share = sh && sh->buf && e->arg[i] == DNNL_ARG_DIFF_DST && e->bytes[i] <= sh->cap &&
                          dnnl_memory_get_memory_desc(e->mem[i], &md) == dnnl_success;
        ready[i] = share && sh->src == ptr[i] && dnnl_memory_desc_equal(md, &sh->md);
        buf[i] = share ? sh->buf : bv_arena_alloc(scratch, e->bytes[i]);
        if (share && !ready[i]) shared = i;
    }
    if (exec_entry(e, c->stream, ptr, buf, ready, NULL, err)) return -1;
    if (shared >= 0) { /* gy now sits converted in sh->buf */
        const dnnl_memory_desc_t *md = NULL;
        dnnl_memory_get_memory_desc(e->mem[shared], &md);
        sh->src = ptr[shared];
        sh->md = *md;
    }
    return 0;
}

/* Run one pass on caller buffers, given in the entry's argument order (see entry_args). */
static int conv_exec(conv_cache *c, bv_arena *scratch, const bv_conv_geom *g, const bv_conv_opts *o, conv_pass pass,
                     const float *p0, const float *p1, float *p2, const float *p3, gy_share *sh, char *err) {
    bv_arena_mark m = bv_arena_get_mark(scratch);
    pthread_mutex_lock(&c->lock);
    int rc = conv_exec_locked(c, scratch, g, o, pass, p0, p1, p2, p3, sh, err);
    pthread_mutex_unlock(&c->lock);
    bv_arena_reset_to(scratch, m);
    return rc;
}

/* ---- V_SPLIT: the batch in parts, each part's primitive on one thread, the parts at once ----
 * oneDNN 2.6 splits one conv's work over the threads poorly at this model's shapes: run alone, a
 * bf16 primitive is often as fast on one thread as on two (the flow's 768 -> 192 k5 forward twice
 * as fast). Batch items are independent in every pass but the weight gradient, which each part
 * writes apart and which is then summed. */

/* The first item of part s of N items in parts parts. */
static int64_t part_start(int64_t N, int parts, int s) { return N * s / parts; }

/* How many parts a V_SPLIT pass of g runs: one per thread and at least one item each; 0 where it
 * does not apply (fp32, one thread or item, inside a parallel region, transposed convs). */
static int split_parts(const bv_conv_geom *g, const bv_conv_opts *o) {
    if (!o->bf16 || g->transposed || omp_in_parallel()) return 0;
    int64_t p = omp_get_max_threads();
    if (p > g->N) p = g->N;
    if (p > SPLIT_MAX) p = SPLIT_MAX;
    return p >= 2 ? (int)p : 0;
}

/* Under c->lock: part s's stream, made on first use. */
static dnnl_stream_t part_stream(conv_cache *c, int s) { /* s < PARTS_MAX */
    if (!c->part_stream[s] && dnnl_stream_create(&c->part_stream[s], c->engine, dnnl_stream_default_flags) != dnnl_success)
        c->part_stream[s] = NULL;
    return c->part_stream[s];
}

/* An input every part reads whole (the weights) and wants in the same layout: reordered once, by
 * part 0's reorder on the calling thread's stream (all threads), into the buffer every part then
 * reads (ready), instead of by each part on its own thread. */
static int split_share_input(conv_cache *c, prim_entry *const *e, int parts, const float *const ptr[][PRIM_MAX_ARGS],
                             void *buf[][PRIM_MAX_ARGS], void *const sp[][PRIM_MAX_ARGS + 1],
                             int ready[][PRIM_MAX_ARGS], int i, char *err) {
    const dnnl_memory_desc_t *md0 = NULL, *md = NULL;
    if (!e[0]->reorder[i] || is_output_arg(e[0]->arg[i]) || e[0]->view[i] ||
        dnnl_memory_get_memory_desc(e[0]->mem[i], &md0) != dnnl_success)
        return 0;
    for (int s = 1; s < parts; s++)
        if (!e[s]->reorder[i] || ptr[s][i] != ptr[0][i] || dnnl_memory_get_memory_desc(e[s]->mem[i], &md) ||
            !dnnl_memory_desc_equal(md, md0))
            return 0;
    DNNL_TRY(err, dnnl_memory_set_data_handle(e[0]->user[i], (void *)ptr[0][i]));
    DNNL_TRY(err, dnnl_memory_set_data_handle(e[0]->mem[i], buf[0][i]));
    if (e[0]->sp[i]) DNNL_TRY(err, dnnl_memory_set_data_handle(e[0]->sp[i], sp[0][i]));
    if (run_reorder_sp(c->stream, e[0]->reorder[i], e[0]->user[i], e[0]->mem[i], e[0]->sp[i], err)) return -1;
    DNNL_TRY(err, dnnl_stream_wait(c->stream));
    for (int s = 0; s < parts; s++) buf[s][i] = buf[0][i], ready[s][i] = 1;
    return 0;
}

/* One pass over the batch of g in parts parts at once: ptr[s] is part s's pointers (the entry's
 * argument order, as conv_exec). The entries, streams and layout buffers are all got under the
 * lock first, and the weights converted once (split_share_input); the parts then run on one OpenMP
 * thread each (oneDNN runs a primitive called inside a parallel region on the calling thread alone). */
static int conv_exec_split(conv_cache *c, bv_arena *scratch, const bv_conv_geom *g, const bv_conv_opts *o,
                           conv_pass pass, int parts, const float *const ptr[][PRIM_MAX_ARGS], char *err) {
    int ready[SPLIT_MAX][PRIM_MAX_ARGS] = {{0}};
    prim_entry *e[SPLIT_MAX];
    dnnl_stream_t st[SPLIT_MAX];
    void *buf[SPLIT_MAX][PRIM_MAX_ARGS], *sp[SPLIT_MAX][PRIM_MAX_ARGS + 1];
    int rc = 0;
    bv_arena_mark m = bv_arena_get_mark(scratch);
    pthread_mutex_lock(&c->lock);
    for (int s = 0; s < parts && !rc; s++) {
        bv_conv_geom gs = *g;
        gs.N = part_start(g->N, parts, s + 1) - part_start(g->N, parts, s);
        e[s] = prim_get(c, &gs, o, pass, s + 1, err); /* the most recent use: no later get evicts it */
        st[s] = e[s] ? part_stream(c, s) : NULL;
        if (!e[s]) rc = -1;
        else if (!st[s]) rc = -1, snprintf(err, BV_KERNEL_ERR_LEN, "oneDNN cannot create a stream");
        for (int i = 0; !rc && i < PRIM_MAX_ARGS; i++)
            buf[s][i] = i < e[s]->nargs && e[s]->reorder[i] ? bv_arena_alloc(scratch, e[s]->bytes[i]) : NULL;
        for (int k = 0; !rc && k <= PRIM_MAX_ARGS; k++)
            sp[s][k] = e[s]->sp_bytes[k] ? bv_arena_alloc(scratch, e[s]->sp_bytes[k]) : NULL;
    }
    for (int i = 0; !rc && i < e[0]->nargs; i++) rc = split_share_input(c, e, parts, ptr, buf, sp, ready, i, err);
    if (!rc) {
        int rcs[SPLIT_MAX] = {0};
        char errs[SPLIT_MAX][BV_KERNEL_ERR_LEN];
#pragma omp parallel for num_threads(parts) schedule(static, 1)
        for (int s = 0; s < parts; s++) rcs[s] = exec_entry(e[s], st[s], ptr[s], buf[s], ready[s], sp[s], errs[s]);
        for (int s = 0; s < parts && !rc; s++)
            if (rcs[s]) rc = -1, snprintf(err, BV_KERNEL_ERR_LEN, "%s", errs[s]);
    }
    pthread_mutex_unlock(&c->lock);
    bv_arena_reset_to(scratch, m);
    return rc;
}

/* Whether oneDNN's direct conv kernels on this CPU keep activations in 16-channel blocks (AVX-512;
 * AVX2 uses 8): asked once per cache, from the layout oneDNN picks for a small conv. Under c->lock. */
static int native_block16(conv_cache *c) {
    if (c->native16 >= 0) return c->native16;
    c->native16 = 0;
    bv_conv_geom g = {.nsp = 1, .N = 1, .IC = 32, .OC = 32, .G = 1, .in = {64, 1}, .out = {64, 1}, .k = {3, 1},
                      .stride = {1, 1}, .pad = {1, 0}, .dil = {1, 1}};
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd;
    if (make_op_desc(&cd, &g, PASS_FWD, 0, LAY_ANY, 0) != dnnl_success) return 0;
    if (dnnl_primitive_desc_create(&pd, &cd, NULL, c->engine, NULL) != dnnl_success) return 0;
    dnnl_memory_desc_t blk;
    md_act(&blk, &g, g.IC, g.in, LAY_PLAIN, 1, dnnl_f32);
    c->native16 = dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), &blk);
    dnnl_primitive_desc_destroy(pd);
    return c->native16;
}

/* Whether oneDNN runs a channels-last fp32 conv with its brgemm kernel (brgconv) on this CPU: asked
 * once per cache, from the kernel it picks for one of the Generator's ResBlock convs (128 channels,
 * kernel 11, a piece of post_pieces' length). Under c->lock. */
static int nwc_brgemm(conv_cache *c) {
    if (c->nwc_brgemm >= 0) return c->nwc_brgemm;
    c->nwc_brgemm = 0;
    bv_conv_geom g = {.nsp = 1, .N = 1, .IC = 128, .OC = 128, .G = 1, .in = {NWC_PIECE_ROWS + 10, 1},
                      .out = {NWC_PIECE_ROWS, 1}, .k = {11, 1}, .stride = {1, 1}, .dil = {1, 1}};
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd;
    const char *impl = NULL;
    if (make_op_desc(&cd, &g, PASS_FWD, 1, LAY_COL1D, 0) != dnnl_success) return 0;
    if (dnnl_primitive_desc_create(&pd, &cd, NULL, c->engine, NULL) != dnnl_success) return 0;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        c->nwc_brgemm = !strncmp(impl, "brg", 3);
    dnnl_primitive_desc_destroy(pd);
    return c->nwc_brgemm;
}

/* The fp32 synthesis path runs channels-last where oneDNN has its brgemm kernels for it: on the Xeon
 * (model 207) they ran the Generator's convs at 300-350 GFLOP/s on 2 threads against 210-265 for its
 * direct kernels on channel-blocked activations (jit:avx512_core; ~335 is this CPU's fp32 peak). */
static int infer_nwc(bv_backend *be) {
    conv_cache *c = cache_of(be, NULL);
    if (!c) return 0;
    pthread_mutex_lock(&c->lock);
    const int nwc = nwc_brgemm(c);
    pthread_mutex_unlock(&c->lock);
    return nwc;
}

static bv_conv_layout layout_for(bv_backend *be, int64_t channels) {
    if (channels <= 0 || channels % BV_CONV_BLOCK) return BV_CONV_LAYOUT_PLAIN;
    conv_cache *c = cache_of(be, NULL);
    if (!c) return BV_CONV_LAYOUT_PLAIN;
    pthread_mutex_lock(&c->lock);
    const int blocked = native_block16(c) && c->layout != BV_CONV_LAYOUT_PLAIN;
    pthread_mutex_unlock(&c->lock);
    return blocked ? BV_CONV_LAYOUT_BLOCKED : BV_CONV_LAYOUT_PLAIN;
}

static void set_layout(bv_backend *be, bv_conv_layout layout) {
    conv_cache *c = cache_of(be, NULL);
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->layout = layout;
    pthread_mutex_unlock(&c->lock);
}

static void set_nwc_piece(bv_backend *be, int64_t rows) {
    conv_cache *c = cache_of(be, NULL);
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->nwc_piece = rows > 0 ? rows : 0;
    pthread_mutex_unlock(&c->lock);
}

static void set_bf16_mode(bv_backend *be, bv_conv_bf16_mode mode) {
    conv_cache *c = cache_of(be, NULL);
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->bf16_mode = (int)mode;
    c->post_emulate = -1; /* post_emulates asks again */
    pthread_mutex_unlock(&c->lock);
}

/* ---------------- the conv kernels ---------------- */

/* Whether a bf16 pass runs oneDNN's bf16 primitive, or its fp32 one on copies of the inputs rounded
 * to bf16: the same arithmetic (bf16 products are exact in fp32, both accumulate in fp32; only the
 * order of the sums differs). This fixed rule (BV_CONV_BF16=rule, and the fallback when the pick
 * table is full) came from a few shapes (2 threads, AMX Xeon): dense weight gradients emulated (a 1x1
 * 192->192 conv over 2x147 positions 5 ms in AMX; 1024 -> 1 k3 80 ms), grouped convs with few
 * channels per group native only for their weight gradients. By default each (shape, pass) is timed
 * against every candidate instead (bf16_pick). */
static int bf16_native(const bv_conv_geom *g, conv_pass pass) {
    if (is_depthwise(g)) return pass == PASS_FWD;
    if (g->G > 1) return pass == PASS_BWD_WEIGHTS;
    return pass != PASS_BWD_WEIGHTS;
}

/* The pick's key: the geometry with the first spatial length rounded up to a power of two (the
 * text and spectrogram lengths change every batch; a choice measured at one length holds for its
 * neighbours, and the measuring stays a one-off), the pass and the options. */
static prim_key pick_key(const bv_conv_geom *g, const bv_conv_opts *o, conv_pass pass) {
    prim_key k;
    memset(&k, 0, sizeof k);
    k.g = *g;
    int64_t len = 1;
    while (len < g->in[0]) len *= 2;
    k.g.in[0] = len;
    k.g.out[0] = 0;
    k.pass = pass;
    k.o = *o;
    return k;
}

/* The slot of key k in the open-addressed pick table: its entry, or the free slot it would take. */
static pick_entry *pick_slot(conv_cache *c, const prim_key *k, uint64_t h) {
    for (uint64_t i = h;; i++) {
        pick_entry *e = &c->picks[i & (PICK_CAP - 1)];
        if (!e->used || (e->hash == h && !memcmp(&e->key, k, sizeof *k))) return e;
    }
}

/* Any pass as one bf16 matmul (V_MATMUL: matmul_forward, matmul_weights, matmul_data) applies:
 * ungrouped (tried per group for the DiscriminatorS: never faster), not transposed, plain layout, a
 * kernel along the first spatial dim only (conv1d; the MPD's (K, 1) conv2d). */
static int matmul_geom_ok(const bv_conv_geom *g, const bv_conv_opts *o) {
    return !o->act_blocked && !g->transposed && g->G == 1 && g->k[1] == 1 && g->stride[1] == 1 && g->pad[1] == 0 &&
           g->dil[1] == 1 && g->out[1] == g->in[1];
}

static int matmul_ok(const bv_conv_geom *g, const bv_conv_opts *o) { return o->bf16 && matmul_geom_ok(g, o); }

/* For a bf16 pass: the V_* to run, or -1 when not known yet (measure it: bf16_measure). */
static int bf16_pick(conv_cache *c, const bv_conv_geom *g, const bv_conv_opts *o, conv_pass pass) {
    const prim_key k = pick_key(g, o, pass);
    pthread_mutex_lock(&c->lock);
    const int mode = c->bf16_mode;
    const pick_entry *e = mode == BF16_MEASURE ? pick_slot(c, &k, key_hash(&k)) : NULL;
    const int r = mode == BF16_NATIVE    ? V_NATIVE
                  : mode == BF16_EMULATE ? V_EMULATE
                  : mode == BF16_MATMUL  ? (matmul_ok(g, o) ? V_MATMUL : V_NATIVE)
                  : mode == BF16_SPLIT   ? (split_parts(g, o) ? V_SPLIT : V_NATIVE)
                  : mode == BF16_RULE    ? bf16_native(g, pass)
                  : e->used              ? e->variant
                  : c->npicks >= PICK_CAP / 2 ? bf16_native(g, pass)
                                              : -1;
    pthread_mutex_unlock(&c->lock);
    return r;
}

static void bf16_remember(conv_cache *c, const bv_conv_geom *g, const bv_conv_opts *o, conv_pass pass, int variant) {
    const prim_key k = pick_key(g, o, pass);
    const uint64_t h = key_hash(&k);
    pthread_mutex_lock(&c->lock);
    pick_entry *e = pick_slot(c, &k, h);
    if (!e->used && c->npicks < PICK_CAP / 2) {
        *e = (pick_entry){.key = k, .hash = h, .used = 1, .variant = variant};
        c->npicks++;
    }
    pthread_mutex_unlock(&c->lock);
}

/* Process CPU time (all threads): on a loaded machine a preempted run inflates it far less than the
 * wall clock, and on a quiet one it follows the wall clock (the team's threads spin at barriers). */
static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static uint64_t cache_tick(conv_cache *c) {
    pthread_mutex_lock(&c->lock);
    const uint64_t t = c->tick;
    pthread_mutex_unlock(&c->lock);
    return t;
}

/* After a measurement: the primitives only the losing candidates used, destroyed. Each candidate's
 * last run got its entries in the tick range (from[v], to[v]] (prim_get stamps every use, and the
 * variants' keys differ: fp32, bf16, per part), so an entry last stamped there is that loser's.
 * Left in the LRU they would push the winners of the passes measured next out of it: the first
 * step after the measuring one then rebuilt hundreds of primitives (~1.2 s of a 4 s bf16 step). */
static void drop_losers(conv_cache *c, const uint64_t *from, const uint64_t *to, int win) {
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < PRIM_CACHE_CAP; i++) {
        prim_entry *e = &c->prims[i];
        for (int v = 0; e->prim && v < V_COUNT; v++)
            if (v != win && e->last_use > from[v] && e->last_use <= to[v]) {
                entry_destroy(e);
                c->prim_hash[i] = 0;
            }
    }
    pthread_mutex_unlock(&c->lock);
}

/* The first call of a bf16 (shape, pass): run(arg, variant) for each candidate (emulated, native,
 * the matmul where matmul_ok, the batch split where split_parts), cold (primitive creation, first touch) then warm and timed
 * (process CPU time, now_ms), a third round unless the fastest leads every other by 25%; the fastest
 * is remembered. All compute the same (outputs are overwritten, not accumulated), so the last run's
 * result stands. The choice can differ between processes where two are close: BV_CONV_BF16=rule
 * gives the same choice on every run. */
static int bf16_measure(conv_cache *c, const bv_conv_geom *g, const bv_conv_opts *o, conv_pass pass,
                        int (*run)(void *arg, int variant), void *arg) {
    static const char *const names[V_COUNT] = {"emulated", "native", "matmul", "split"};
    int cand[V_COUNT], nv = 0;
    cand[nv++] = V_EMULATE;
    cand[nv++] = V_NATIVE;
    if (matmul_ok(g, o)) cand[nv++] = V_MATMUL;
    if (c->split && split_parts(g, o)) cand[nv++] = V_SPLIT;
    double best[V_COUNT] = {INFINITY, INFINITY, INFINITY, INFINITY};
    uint64_t from[V_COUNT] = {0}, to[V_COUNT] = {0};
    int win = V_NATIVE;
    for (int rep = 0; rep < 3; rep++) {
        for (int i = 0; i < nv; i++) {
            from[cand[i]] = cache_tick(c);
            const double t0 = now_ms();
            if (run(arg, cand[i])) return -1;
            const double t = now_ms() - t0;
            to[cand[i]] = cache_tick(c);
            if (rep > 0 && t < best[cand[i]]) best[cand[i]] = t;
        }
        int clear = 1;
        for (int v = 0; v < V_COUNT; v++)
            if (best[v] < best[win] || (best[v] == best[win] && v == V_NATIVE)) win = v;
        for (int v = 0; v < V_COUNT; v++) clear &= v == win || best[v] > 1.25 * best[win];
        if (rep == 1 && clear) break;
    }
    bf16_remember(c, g, o, pass, win);
    drop_losers(c, from, to, win);
    char mm[32] = "n/a (geometry)", sp[32] = "n/a";
    if (isfinite(best[V_MATMUL])) snprintf(mm, sizeof mm, "%.3f ms", best[V_MATMUL]);
    if (isfinite(best[V_SPLIT])) snprintf(sp, sizeof sp, "%.3f ms", best[V_SPLIT]);
    if (c->bf16_log)
        fprintf(stderr, "conv bf16 pick: pass %d N %lld IC %lld OC %lld G %lld in %lldx%lld k %lldx%lld s %lld d %lld%s: "
                        "native %.3f ms, emulated %.3f ms, matmul %s, split %s -> %s\n",
                (int)pass, (long long)g->N, (long long)g->IC, (long long)g->OC, (long long)g->G, (long long)g->in[0],
                (long long)g->in[1], (long long)g->k[0], (long long)g->k[1], (long long)g->stride[0],
                (long long)g->dil[0], g->transposed ? " transposed" : "", best[V_NATIVE], best[V_EMULATE], mm, sp,
                names[win]);
    return 0;
}

/* A scratch copy of src[n] rounded to bf16 (kept as fp32). */
static const float *rounded_copy(bv_arena *scratch, const float *src, int64_t n) {
    float *d = bv_arena_alloc(scratch, sizeof(float) * (size_t)n);
    bv_cpu_round_bf16_copy(d, src, n);
    return d;
}

static int64_t in_numel(const bv_conv_geom *g) { return g->N * g->IC * g->in[0] * g->in[1]; }
static int64_t w_numel(const bv_conv_geom *g) { return g->OC * (g->IC / g->G) * g->k[0] * g->k[1]; }

static int64_t out_numel(const bv_conv_geom *g) { return g->N * g->OC * g->out[0] * g->out[1]; }

static int forward_exec(conv_cache *c, bv_arena *scratch, const bv_conv_geom *g, const bv_conv_geom *ex,
                        const bv_conv_opts *o, float *y, const float *x, const float *w, const float *b, char *err);

/* One pass's arguments, for the bf16 variants (bf16_measure's run). */
typedef struct {
    bv_backend *be; /* the matmul variant's bf16 products (gemm.c) */
    conv_cache *c;
    bv_arena *scratch;
    const bv_conv_geom *g, *ex;
    const bv_conv_opts *o;
    const float *x, *w, *b, *gy;
    const uint16_t *w16; /* w rounded to bf16 already (the weight_norm's copy), or NULL */
    float *y, *dst, *gb; /* forward: y; backward: the pass's output(s) */
    const float *gyr;    /* backward: gy rounded to bf16, made once for both passes (NULL: not yet) */
    int timing;          /* bf16_measure runs: each emulated run rounds its own gy, no gy_share */
    gy_share sh;         /* backward, bf16: gy converted once for both passes */
    char *err;
} pass_args;

/* The weights a native bf16 pass hands oneDNN: their bf16 copy where there is one (and oe->w_bf16
 * says so: oneDNN's reorder then reads half the bytes and rounds nothing), else the fp32 ones. */
static const float *native_weights(const pass_args *a, bv_conv_opts *oe) {
    if (!a->w16 || !a->o->bf16) return a->w;
    oe->w_bf16 = 1;
    return (const float *)a->w16;
}

/* V_SPLIT's forward: items of x into the same items of y. */
static int split_forward(pass_args *a) {
    const bv_conv_geom *g = a->ex;
    const int parts = split_parts(g, a->o);
    const int64_t xs = in_numel(g) / g->N, ys = out_numel(g) / g->N;
    bv_conv_opts oe = *a->o;
    const float *w = native_weights(a, &oe);
    const float *ptr[SPLIT_MAX][PRIM_MAX_ARGS];
    for (int s = 0; s < parts; s++) {
        const int64_t n0 = part_start(g->N, parts, s);
        const float *p[PRIM_MAX_ARGS] = {a->x + n0 * xs, w, a->y + n0 * ys, a->b};
        memcpy(ptr[s], p, sizeof p);
    }
    return conv_exec_split(a->c, a->scratch, g, &oe, PASS_FWD, parts, ptr, a->err);
}

/* V_SPLIT's backward passes: the data pass maps items of gy to the same items of dst; the weight
 * pass gives a gradient per part (the first into dst and gb, the others into scratch), summed in
 * part order. */
static int split_backward(pass_args *a, conv_pass pass) {
    const bv_conv_geom *g = a->ex;
    const int parts = split_parts(g, a->o);
    const int64_t xs = in_numel(g) / g->N, ys = out_numel(g) / g->N, nw = w_numel(g);
    bv_arena_mark m = bv_arena_get_mark(a->scratch);
    bv_conv_opts oe = *a->o;
    const float *w = pass == PASS_BWD_DATA ? native_weights(a, &oe) : a->w;
    const float *ptr[SPLIT_MAX][PRIM_MAX_ARGS];
    float *gw[SPLIT_MAX], *gb[SPLIT_MAX];
    for (int s = 0; s < parts; s++) {
        const int64_t n0 = part_start(g->N, parts, s);
        if (pass == PASS_BWD_DATA) {
            const float *p[PRIM_MAX_ARGS] = {a->gy + n0 * ys, w, a->dst + n0 * xs, NULL};
            memcpy(ptr[s], p, sizeof p);
            continue;
        }
        gw[s] = s ? bv_arena_alloc(a->scratch, sizeof(float) * (size_t)nw) : a->dst;
        gb[s] = !a->gb ? NULL : s ? bv_arena_alloc(a->scratch, sizeof(float) * (size_t)g->OC) : a->gb;
        const float *p[PRIM_MAX_ARGS] = {a->x + n0 * xs, a->gy + n0 * ys, gw[s], gb[s]};
        memcpy(ptr[s], p, sizeof p);
    }
    int rc = conv_exec_split(a->c, a->scratch, g, &oe, pass, parts, ptr, a->err);
    for (int s = 1; !rc && pass == PASS_BWD_WEIGHTS && s < parts; s++) {
        add_into(a->dst, gw[s], nw);
        if (a->gb) add_into(a->gb, gb[s], g->OC);
    }
    bv_arena_reset_to(a->scratch, m);
    return rc;
}

/* The forward, native (oneDNN's bf16 primitive) or emulated (fp32 kernel on bf16-rounded inputs). */
static int matmul_forward(pass_args *a);

static int fwd_variant(void *p, int variant) {
    pass_args *a = p;
    if (variant == V_MATMUL) return matmul_forward(a);
    if (variant == V_SPLIT) return split_forward(a);
    const int native = variant == V_NATIVE;
    bv_arena_mark m = bv_arena_get_mark(a->scratch);
    const float *x = a->x, *w = a->w;
    bv_conv_opts oe = *a->o;
    if (!native) {
        x = rounded_copy(a->scratch, x, in_numel(a->g));
        w = rounded_copy(a->scratch, w, w_numel(a->g));
        oe.bf16 = 0;
    } else {
        w = native_weights(a, &oe);
    }
    int rc = forward_exec(a->c, a->scratch, a->g, a->ex, &oe, a->y, x, w, a->b, a->err);
    bv_arena_reset_to(a->scratch, m);
    return rc;
}

static int forward(bv_backend *be, bv_arena *scratch, const bv_conv_geom *g, const bv_conv_geom *ex,
                   const bv_conv_opts *o, float *y, const float *x, const float *w, const uint16_t *w16, const float *b,
                   const float *r, char *err) {
    conv_cache *c = cache_of(be, err);
    if (!c) return -1;
    int rc;
    if (!o->bf16) {
        rc = forward_exec(c, scratch, g, ex, o, y, x, w, b, err);
    } else {
        pass_args a = {.be = be, .c = c, .scratch = scratch, .g = g, .ex = ex, .o = o, .x = x, .w = w, .w16 = w16,
                       .b = b, .y = y, .err = err};
        const int nat = bf16_pick(c, g, o, PASS_FWD);
        rc = nat < 0 ? bf16_measure(c, g, o, PASS_FWD, fwd_variant, &a) : fwd_variant(&a, nat);
    }
    if (rc) return -1;
    if (r) add_into(y, r, out_numel(g)); /* (conv + b) + r: bv_add's value of xt + r */
    return 0;
}

static int forward_exec(conv_cache *c, bv_arena *scratch, const bv_conv_geom *g, const bv_conv_geom *ex,
                        const bv_conv_opts *o, float *y, const float *x, const float *w, const float *b, char *err) {
    if (ex->out[0] == g->out[0]) {
        if (conv_exec(c, scratch, ex, o, PASS_FWD, x, w, y, b, NULL, err)) return -1;
    } else {
        BV_ASSERT(!o->act_blocked && !o->lrelu); /* transposed convs only: plain, no post-op */
        bv_arena_mark m = bv_arena_get_mark(scratch);
        float *part = bv_arena_alloc(scratch, sizeof(float) * (size_t)(g->N * g->OC * ex->out[0])); // [N, OC, ex.out]
        int rc = conv_exec(c, scratch, ex, o, PASS_FWD, x, w, part, b, NULL, err);
        if (!rc) copy_rows(y, g->out[0], part, ex->out[0], g->N, g->OC, b);
        bv_arena_reset_to(scratch, m);
        if (rc) return -1;
    }
    return 0;
}

/* gy rounded to bf16 for an emulated backward pass: made once per backward call and kept (while
 * timing, per run, so that each emulated run pays for its own). */
static const float *bwd_gyr(pass_args *a) {
    if (a->gyr) return a->gyr;
    const float *r = rounded_copy(a->scratch, a->gy, a->g->N * a->g->OC * a->ex->out[0] * a->ex->out[1]);
    if (!a->timing) a->gyr = r;
    return r;
}

/* ---- V_MATMUL: a conv pass as one bf16 matmul over the whole batch ----
 * With output positions p = (ho, w) of P = Ho * W per item, L = N * P in all, and the im2col rows
 *     X[(ic, k), (n, p)] = x[n, ic, ho * s + k * d - pad, w]     (0 outside),
 * the output is  y = [lrelu](W X + b),  the weight gradient  dW [OC, IC*K] = G X^T  and the data
 * gradient  dX = col2im(W^T G),  with G [OC, L] the output gradient gy[n, oc, p]. Operands are built in bf16 directly (nearest even, as
 * every bf16 pass rounds); oneDNN's matmul (AMX brgemm on the Xeon) sums in fp32. oneDNN 2.6's own
 * bf16 kernels split tiny spatial extents (the MPD's 19-102 rows of 1024 channels) poorly;
 * one product over all N * P positions keeps the tiles full. */

typedef struct {
    int64_t N, IC, OC, K, H, W, Ho, P, L, s, d, pad;
} mm_geom;

static mm_geom mm_geom_of(const bv_conv_geom *g) {
    mm_geom m = {.N = g->N, .IC = g->IC, .OC = g->OC, .K = g->k[0], .H = g->in[0], .W = g->in[1], .Ho = g->out[0],
                 .s = g->stride[0], .d = g->dil[0], .pad = g->pad[0]};
    m.P = m.Ho * m.W;
    m.L = m.N * m.P;
    return m;
}

/* input row h of im2col row k at output row ho, or -1 outside the input */
static int64_t mm_h(const mm_geom *m, int64_t ho, int64_t k) {
    const int64_t h = ho * m->s + k * m->d - m->pad;
    return h >= 0 && h < m->H ? h : -1;
}

/* dst[at, at + n) = src[0, n), in bf16 (es 2: nearest even) or fp32 (es 4) */
static void mm_put(void *dst, size_t es, int64_t at, const float *src, int64_t n) {
    if (es == sizeof(float)) {
        memcpy((float *)dst + at, src, sizeof(float) * (size_t)n);
        return;
    }
    uint16_t *d = (uint16_t *)dst + at;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) d[i] = bv_f32_to_bf16(src[i]);
}

static void mm_zero(void *dst, size_t es, int64_t at, int64_t n) { memset((char *)dst + es * (size_t)at, 0, es * (size_t)n); }

/* G [OC, L] from gy [N, OC, P], elements of es bytes (mm_put) */
static void *mm_gy(bv_arena *scratch, size_t es, const float *gy, const mm_geom *m) {
    void *G = bv_arena_alloc(scratch, es * (size_t)(m->OC * m->L));
#pragma omp parallel for collapse(2) schedule(static) if (m->OC * m->L >= 32768)
    for (int64_t oc = 0; oc < m->OC; oc++)
        for (int64_t n = 0; n < m->N; n++) mm_put(G, es, oc * m->L + n * m->P, gy + (n * m->OC + oc) * m->P, m->P);
    return G;
}

static uint16_t *mm_gy16(bv_arena *scratch, const float *gy, const mm_geom *m) {
    return mm_gy(scratch, sizeof(uint16_t), gy, m);
}

/* the im2col rows X [(ic, k), L] from x [N, IC, H, W], elements of es bytes (mm_put) */
static void *mm_x(bv_arena *scratch, size_t es, const float *x, const mm_geom *m) {
    void *X = bv_arena_alloc(scratch, es * (size_t)(m->IC * m->K * m->L));
#pragma omp parallel for collapse(2) schedule(static) if (m->IC * m->K * m->L >= 32768)
    for (int64_t ic = 0; ic < m->IC; ic++)
        for (int64_t k = 0; k < m->K; k++) {
            const int64_t row = (ic * m->K + k) * m->L;
            if (m->s == 1) { /* rows ho0..ho1 read one contiguous run of x */
                const int64_t off = k * m->d - m->pad;
                int64_t ho0, ho1;
                tap_range(off, 1, m->H, m->Ho, &ho0, &ho1);
                for (int64_t n = 0; n < m->N; n++) {
                    const int64_t at = row + n * m->P;
                    const float *src = x + (n * m->IC + ic) * m->H * m->W;
                    if (ho1 <= ho0) { /* the tap reaches no input row (ho0 may lie past Ho) */
                        mm_zero(X, es, at, m->P);
                        continue;
                    }
                    mm_zero(X, es, at, ho0 * m->W);
                    mm_put(X, es, at + ho0 * m->W, src + (ho0 + off) * m->W, (ho1 - ho0) * m->W);
                    mm_zero(X, es, at + ho1 * m->W, (m->Ho - ho1) * m->W);
                }
                continue;
            }
            for (int64_t n = 0; n < m->N; n++)
                for (int64_t ho = 0; ho < m->Ho; ho++) {
                    const int64_t h = mm_h(m, ho, k), at = row + n * m->P + ho * m->W;
                    if (h < 0) mm_zero(X, es, at, m->W);
                    else mm_put(X, es, at, x + ((n * m->IC + ic) * m->H + h) * m->W, m->W);
                }
        }
    return X;
}

static uint16_t *mm_x16(bv_arena *scratch, const float *x, const mm_geom *m) { return mm_x(scratch, sizeof(uint16_t), x, m); }

/* y = [lrelu](W X + b), written into a->y [N, OC, Ho, W]: the forward as one product. */
static int matmul_forward(pass_args *a) {
    const mm_geom m = mm_geom_of(a->g);
    bv_arena_mark mk = bv_arena_get_mark(a->scratch);
    uint16_t *X = mm_x16(a->scratch, a->x, &m);
    float *C = bv_arena_alloc(a->scratch, sizeof(float) * (size_t)(m.OC * m.L));
    /* A = W [OC, IC*K] (its bf16 copy, or rounded by gemm.c), B = X [IC*K, L] */
    bv_gemm_bf16 mm = {.batch = 1, .M = m.OC, .N = m.L, .K = m.IC * m.K, .A = a->w, .A16 = a->w16, .B16 = X, .C = C};
    const int rc = bv_cpu_gemm_bf16(a->be, a->scratch, &mm, a->err);
    if (rc) {
        bv_arena_reset_to(a->scratch, mk);
        return rc;
    }
    const float *b = a->b, slope = a->o->slope;
    const int lrelu = a->o->lrelu;
    float *y = a->y;
#pragma omp parallel for collapse(2) schedule(static) if (m.OC * m.L >= 32768)
    for (int64_t n = 0; n < m.N; n++)
        for (int64_t oc = 0; oc < m.OC; oc++) {
            const float *src = C + oc * m.L + n * m.P;
            float *dst = y + (n * m.OC + oc) * m.P;
            const float bias = b ? b[oc] : 0.0f;
            for (int64_t p = 0; p < m.P; p++) {
                const float v = src[p] + bias;
                dst[p] = lrelu && v < 0.0f ? v * slope : v;
            }
        }
    bv_arena_reset_to(a->scratch, mk);
    return 0;
}

/* dW (and the bias gradient when a->gb), written (not accumulated) into a->dst in the weight's own
 * [OC, IC, K] layout. */
static int matmul_weights(pass_args *a) {
    const mm_geom m = mm_geom_of(a->ex);
    bv_arena_mark mk = bv_arena_get_mark(a->scratch);
    uint16_t *G = mm_gy16(a->scratch, a->gy, &m);
    uint16_t *X = mm_x16(a->scratch, a->x, &m);
    if (a->gb) { /* from the rounded gy, as the native pass sums its bf16 diff_dst */
#pragma omp parallel for schedule(static) if (m.OC * m.L >= 32768)
        for (int64_t oc = 0; oc < m.OC; oc++) {
            double acc = 0;
            for (int64_t l = 0; l < m.L; l++) acc += bv_bf16_to_f32_bits(G[oc * m.L + l]);
            a->gb[oc] = (float)acc;
        }
    }
    bv_gemm_bf16 mm = {.batch = 1, .M = m.OC, .N = m.IC * m.K, .K = m.L, .tb = 1, .A16 = G, .B16 = X, .C = a->dst};
    int rc = bv_cpu_gemm_bf16(a->be, a->scratch, &mm, a->err);
    bv_arena_reset_to(a->scratch, mk);
    return rc;
}

/* gx [N, IC, H, W] = col2im(C), C [(ic, k), L] the product W^T G: each input element sums its im2col
 * entries over k in a fixed order (written, not accumulated). */
static void mm_col2im(float *gx, const float *C, const mm_geom *mp) {
    const mm_geom m = *mp;
#pragma omp parallel for collapse(2) schedule(static) if (m.IC * m.K * m.L >= 32768)
    for (int64_t n = 0; n < m.N; n++)
        for (int64_t ic = 0; ic < m.IC; ic++) {
            float *out = gx + (n * m.IC + ic) * m.H * m.W;
            memset(out, 0, sizeof(float) * (size_t)(m.H * m.W));
            if (m.s == 1) { /* tap k adds one contiguous run (the same adds, in the same order) */
                for (int64_t k = 0; k < m.K; k++) {
                    const int64_t off = k * m.d - m.pad;
                    int64_t ho0, ho1;
                    tap_range(off, 1, m.H, m.Ho, &ho0, &ho1);
                    if (ho1 <= ho0) continue;
                    const float *src = C + (ic * m.K + k) * m.L + n * m.P + ho0 * m.W;
                    float *o = out + (ho0 + off) * m.W;
#pragma omp simd
                    for (int64_t e = 0; e < (ho1 - ho0) * m.W; e++) o[e] += src[e];
                }
                continue;
            }
            for (int64_t k = 0; k < m.K; k++)
                for (int64_t ho = 0; ho < m.Ho; ho++) {
                    const int64_t h = mm_h(&m, ho, k);
                    if (h < 0) continue;
                    const float *src = C + (ic * m.K + k) * m.L + n * m.P + ho * m.W;
                    for (int64_t w = 0; w < m.W; w++) out[h * m.W + w] += src[w];
                }
        }
}

/* dX = col2im(W^T G), written (not accumulated) into a->dst [N, IC, H, W]: each input element sums
 * its im2col entries over k in a fixed order. */
static int matmul_data(pass_args *a) {
    const mm_geom m = mm_geom_of(a->ex);
    bv_arena_mark mk = bv_arena_get_mark(a->scratch);
    uint16_t *G = mm_gy16(a->scratch, a->gy, &m);
    float *C = bv_arena_alloc(a->scratch, sizeof(float) * (size_t)(m.IC * m.K * m.L));
    /* A = W stored [OC, IC*K] = [K_gemm, M]: ta; its bf16 copy, or rounded by gemm.c */
    bv_gemm_bf16 mm = {.batch = 1, .M = m.IC * m.K, .N = m.L, .K = m.OC, .ta = 1, .A = a->w, .A16 = a->w16, .B16 = G,
                       .C = C};
    const int rc = bv_cpu_gemm_bf16(a->be, a->scratch, &mm, a->err);
    if (!rc) mm_col2im(a->dst, C, &m);
    bv_arena_reset_to(a->scratch, mk);
    return rc;
}

/* ---- the fp32 weight pass of a wide plain conv as one sgemm over the whole batch ----
 * dW [OC, IC*K] (+)= G X^T with mm_gy / mm_x in fp32, where oneDNN 2.6 runs its gemm path (plain
 * layouts: the MPD's and DiscriminatorS's wide convs, the widening FFN and WN convs): that splits
 * the batch over the threads, each with its own im2col and single-threaded sgemm, then sums the
 * threads' partial weight gradients, the im2col and the sum in scalar loops of Debian's libdnnl
 * (perf: ~5% of a fp32 train step's samples there). Here the im2col is copies of contiguous runs,
 * in parallel, and one sgemm threaded inside accumulates straight into the gradient. */
static int wide_weights_ok(const conv_cache *c, const bv_conv_geom *g, const bv_conv_opts *o) {
    return c->layout == BV_CONV_LAYOUT_AUTO && !o->bf16 && matmul_geom_ok(g, o) && !use_blocked(c, g, PASS_BWD_WEIGHTS);
}

/* The data pass the same way where oneDNN would run its gemm path for it: C = W^T G in one sgemm,
 * then col2im (mm_col2im; oneDNN's col2im is scalar too). */
static int wide_data_ok(const conv_cache *c, const bv_conv_geom *g, const bv_conv_opts *o) {
    return c->layout == BV_CONV_LAYOUT_AUTO && !o->bf16 && matmul_geom_ok(g, o) && !use_blocked(c, g, PASS_BWD_DATA);
}

/* gx (+)= the input gradient (accumulate: gx holds one already) */
static void wide_bwd_data(float *gx, int accumulate, const float *gy, const float *w, const bv_conv_geom *g,
                          bv_arena *scratch) {
    const mm_geom m = mm_geom_of(g);
    bv_arena_mark mk = bv_arena_get_mark(scratch);
    const float *G = m.N == 1 ? gy : mm_gy(scratch, sizeof(float), gy, &m);
    float *C = bv_arena_alloc(scratch, sizeof(float) * (size_t)(m.IC * m.K * m.L));
    /* A = W stored [OC, IC*K] = [K_gemm, M]: transposed */
    bv_cpu_sgemm(1, 0, m.IC * m.K, m.L, m.OC, w, m.IC * m.K, G, m.L, 0.0f, C, m.L);
    const int64_t nx = m.N * m.IC * m.H * m.W;
    float *dst = accumulate ? bv_arena_alloc(scratch, sizeof(float) * (size_t)nx) : gx;
    mm_col2im(dst, C, &m);
    if (accumulate) add_into(gx, dst, nx);
    bv_arena_reset_to(scratch, mk);
}

/* gw (+)= the weight gradient (accumulate: gw holds one already), in the weight's [OC, IC, K] layout */
static void wide_bwd_weights(float *gw, int accumulate, const float *gy, const float *x, const bv_conv_geom *g,
                             bv_arena *scratch) {
    const mm_geom m = mm_geom_of(g);
    bv_arena_mark mk = bv_arena_get_mark(scratch);
    const float *G = m.N == 1 ? gy : mm_gy(scratch, sizeof(float), gy, &m); /* one item: gy is G */
    const float *X = mm_x(scratch, sizeof(float), x, &m);
    bv_cpu_sgemm(0, 1, m.OC, m.IC * m.K, m.L, G, m.L, X, m.L, accumulate ? 1.0f : 0.0f, gw, m.IC * m.K);
    bv_arena_reset_to(scratch, mk);
}

/* The data pass (into a->dst) or the weight pass (into a->dst, and the bias gradient into a->gb
 * when o->diff_bias): native, emulated (see fwd_variant) or the matmul. */
static int bwd_variant(pass_args *a, conv_pass pass, int variant) {
    if (variant == V_MATMUL) return pass == PASS_BWD_WEIGHTS ? matmul_weights(a) : matmul_data(a);
    if (variant == V_SPLIT) return split_backward(a, pass);
    const int native = variant == V_NATIVE;
    const float *gy = native ? a->gy : a->timing ? NULL : bwd_gyr(a); /* kept: made before the mark */
    bv_arena_mark m = bv_arena_get_mark(a->scratch);
    if (!gy) gy = bwd_gyr(a);
    bv_conv_opts oe = *a->o;
    oe.bf16 = native && a->o->bf16;
    /* emulated where the fp32 pass is one of conv.c's wide ones: the same on the rounded copies */
    pthread_mutex_lock(&a->c->lock);
    const int wide = !native && (pass == PASS_BWD_DATA ? wide_data_ok(a->c, a->ex, &oe) : wide_weights_ok(a->c, a->ex, &oe));
    pthread_mutex_unlock(&a->c->lock);
    int rc = 0;
    if (pass == PASS_BWD_DATA) {
        const float *w = native ? native_weights(a, &oe) : rounded_copy(a->scratch, a->w, w_numel(a->g));
        if (wide) wide_bwd_data(a->dst, 0, gy, w, a->ex, a->scratch);
        else rc = conv_exec(a->c, a->scratch, a->ex, &oe, pass, gy, w, a->dst, NULL, &a->sh, a->err);
    } else {
        const float *x = native ? a->x : rounded_copy(a->scratch, a->x, in_numel(a->g));
        if (wide) {
            wide_bwd_weights(a->dst, 0, gy, x, a->ex, a->scratch);
            if (a->gb) { /* written, from the rounded gy, as the native pass sums its bf16 diff_dst */
                memset(a->gb, 0, sizeof(float) * (size_t)a->ex->OC);
                bias_grad_acc(a->gb, gy, a->ex, 0);
            }
        } else {
            rc = conv_exec(a->c, a->scratch, a->ex, &oe, pass, x, gy, a->dst, a->gb, &a->sh, a->err);
        }
    }
    bv_arena_reset_to(a->scratch, m);
    return rc;
}

static int bwd_data_variant(void *p, int variant) { return bwd_variant(p, PASS_BWD_DATA, variant); }
static int bwd_weights_variant(void *p, int variant) { return bwd_variant(p, PASS_BWD_WEIGHTS, variant); }

/* One backward pass: fp32, or bf16 native / emulated as picked (measured on first use). */
static int bwd_pass(pass_args *a, conv_pass pass) {
    int (*run)(void *, int) = pass == PASS_BWD_DATA ? bwd_data_variant : bwd_weights_variant;
    if (!a->o->bf16) return run(a, 1);
    const int nat = bf16_pick(a->c, a->g, a->o, pass);
    if (nat >= 0) return run(a, nat);
    a->timing = 1;
    gy_share keep = a->sh;
    a->sh.buf = NULL;
    int rc = bf16_measure(a->c, a->g, a->o, pass, run, a);
    a->sh = keep;
    a->timing = 0;
    return rc;
}

/* The data and weight passes through oneDNN (everything but the depthwise special case). With
 * o->diff_bias the weight pass also writes the bias gradient. Scratch is rewound by the caller. */
static int backward_dnnl(bv_backend *be, conv_cache *c, bv_arena *scratch, const bv_conv_geom *g, const bv_conv_geom *ex,
                         const bv_conv_opts *o, const bv_conv_grads *gr, const float *gy, const float *x,
                         const float *w, const uint16_t *w16, char *err) {
    if (ex->out[0] != g->out[0]) { /* the bias-only tail has no gradient path to x or w */
        float *crop = bv_arena_alloc(scratch, sizeof(float) * (size_t)(g->N * g->OC * ex->out[0]));
        copy_rows(crop, ex->out[0], gy, g->out[0], g->N, g->OC, NULL);
        gy = crop;
    }
    pass_args a = {.be = be, .c = c, .scratch = scratch, .g = g, .ex = ex, .o = o, .x = x, .w = w, .w16 = w16, .gy = gy,
                   .err = err};
    if (o->bf16 && gr->gx && gr->gw) { /* room for gy in bf16, channels padded to a block of 64 at most */
        a.sh.cap = sizeof(uint16_t) * (size_t)(g->N * ((g->OC + 63) / 64 * 64) * ex->out[0] * ex->out[1]);
        a.sh.buf = bv_arena_alloc(scratch, a.sh.cap);
    }
    if (gr->gx) {
        const int64_t n = in_numel(g);
        a.dst = gr->sx ? bv_arena_alloc(scratch, sizeof(float) * (size_t)n) : gr->gx;
        if (bwd_pass(&a, PASS_BWD_DATA)) return -1;
        if (gr->sx) add_into(gr->gx, a.dst, n);
    }
    if (gr->gw) {
        const int64_t n = w_numel(g);
        a.dst = gr->sw ? bv_arena_alloc(scratch, sizeof(float) * (size_t)n) : gr->gw;
        a.gb = !o->diff_bias ? NULL : gr->sb ? bv_arena_alloc(scratch, sizeof(float) * (size_t)g->OC) : gr->gb;
        if (bwd_pass(&a, PASS_BWD_WEIGHTS)) return -1;
        if (gr->sw) add_into(gr->gw, a.dst, n);
        if (o->diff_bias && gr->sb) add_into(gr->gb, a.gb, g->OC);
    }
    return 0;
}

static int backward(bv_backend *be, bv_arena *scratch, const bv_conv_geom *g, const bv_conv_geom *ex,
                    const bv_conv_opts *opts, const bv_conv_grads *gr, const float *gy, const float *y, const float *x,
                    const float *w, const uint16_t *w16, char *err) {
    conv_cache *c = cache_of(be, err);
    if (!c) return -1;
    bv_conv_opts o = *opts;
    const int64_t ny = out_numel(g);
    if (gr->gr) add_into(gr->gr, gy, ny);
    pthread_mutex_lock(&c->lock);
    const bv_conv_layout layout = c->layout;
    const int wide_w_ok = wide_weights_ok(c, g, &o), wide_d_ok = wide_data_ok(c, g, &o);
    pthread_mutex_unlock(&c->lock);
    const int dw = layout == BV_CONV_LAYOUT_AUTO && g->nsp == 1 && !g->transposed && is_depthwise(g);
    /* fp32 grouped weight gradients with few channels per group: grouped_bwd_weights (bf16 keeps its
     * measured candidates) */
    const int few = layout == BV_CONV_LAYOUT_AUTO && !o.bf16 && gr->gw && grouped_few(g) && ex->out[0] == g->out[0];
    const int wide = !dw && !few && gr->gw && ex->out[0] == g->out[0] && wide_w_ok;
    const int wide_data = !dw && !few && gr->gx && ex->out[0] == g->out[0] && wide_d_ok;
    /* oneDNN's weight pass sums the bias gradient on the way where it sees all of gy */
    o.diff_bias = gr->gb && gr->gw && !dw && !few && !wide && ex->out[0] == g->out[0];
    bv_arena_mark m = bv_arena_get_mark(scratch);
    if (o.lrelu) { /* fused leaky_relu: the conv's own output gradient first */
        float *gz = bv_arena_alloc(scratch, sizeof(float) * (size_t)ny);
        lrelu_grad(gz, gy, y, ny, o.slope);
        gy = gz;
    }
    if (gr->gb && !o.diff_bias) bias_grad_acc(gr->gb, gy, g, o.act_blocked);
    int rc = 0;
    if (dw) {
        if (o.bf16) { /* the same loops on bf16-rounded copies: bf16 inputs, fp32 accumulation */
            gy = rounded_copy(scratch, gy, ny);
            if (gr->gx) w = rounded_copy(scratch, w, g->OC * g->k[0]);
            if (gr->gw) x = rounded_copy(scratch, x, g->N * g->IC * g->in[0]);
        }
        if (gr->gx && !gr->sx) memset(gr->gx, 0, sizeof(float) * (size_t)in_numel(g)); /* not zeroed */
        if (gr->gx) dw_bwd_data_acc(gr->gx, gy, w, g);
        if (gr->gw) dw_bwd_weights_acc(gr->gw, gy, x, g);
    } else if (few) {
        bv_conv_grads data = *gr;
        data.gw = NULL; /* the data pass alone through oneDNN */
        rc = backward_dnnl(be, c, scratch, g, ex, &o, &data, gy, x, w, w16, err);
        const int64_t n = w_numel(g);
        float *dst = gr->sw ? bv_arena_alloc(scratch, sizeof(float) * (size_t)n) : gr->gw;
        float *cols = bv_arena_alloc(scratch, sizeof(float) * (size_t)grouped_scratch(g));
        if (!rc) grouped_bwd_weights(dst, gy, x, g, cols);
        if (!rc && gr->sw) add_into(gr->gw, dst, n);
    } else if (wide || wide_data) {
        bv_conv_grads rest = *gr; /* the pass not done here, through oneDNN */
        if (wide) rest.gw = NULL;
        if (wide_data) rest.gx = NULL;
        if (rest.gx || rest.gw) rc = backward_dnnl(be, c, scratch, g, ex, &o, &rest, gy, x, w, w16, err);
        if (!rc && wide_data) wide_bwd_data(gr->gx, gr->sx, gy, w, g, scratch);
        if (!rc && wide) wide_bwd_weights(gr->gw, gr->sw, gy, x, g, scratch);
    } else {
        rc = backward_dnnl(be, c, scratch, g, ex, &o, gr, gy, x, w, w16, err);
    }
    bv_arena_reset_to(scratch, m);
    return rc;
}

/* ---------------- channel blocking: [N, C, T] <-> [N, C/16, T, 16] ---------------- */

/* dst = src in the other layout, under c->lock. */
static int blk_reorder_locked(conv_cache *c, float *dst, const float *src, int64_t N, int64_t C, int64_t T,
                              int to_blocked, char *err) {
    blk_entry *e = NULL, *victim = &c->blks[0];
    for (int i = 0; i < BLK_CACHE_CAP && !e; i++) {
        blk_entry *b = &c->blks[i];
        if (b->prim && b->N == N && b->C == C && b->T == T && b->to_blocked == to_blocked) {
            e = b;
        } else if (!b->prim) {
            if (victim->prim) victim = b;
        } else if (victim->prim && b->last_use < victim->last_use) {
            victim = b;
        }
    }
    if (!e) {
        e = victim;
        blk_entry_destroy(e);
        dnnl_status_t st = blk_entry_build(c->engine, e, N, C, T, to_blocked);
        if (st != dnnl_success) {
            snprintf(err, BV_KERNEL_ERR_LEN, "oneDNN cannot build the layout reorder: status %d", (int)st);
            return -1;
        }
    }
    e->last_use = ++c->tick;
    DNNL_TRY(err, dnnl_memory_set_data_handle(e->from, (void *)src));
    DNNL_TRY(err, dnnl_memory_set_data_handle(e->to, dst));
    if (run_reorder(c->stream, e->prim, e->from, e->to, err)) return -1;
    DNNL_TRY(err, dnnl_stream_wait(c->stream));
    return 0;
}

static int reorder(bv_backend *be, bv_arena *scratch, float *dst, const float *src, int64_t N, int64_t C, int64_t T,
                   int to_blocked, int accumulate, char *err) {
    conv_cache *c = cache_of(be, err);
    if (!c) return -1;
    bv_arena_mark m = bv_arena_get_mark(scratch);
    const int64_t n = N * C * T;
    float *out = accumulate ? bv_arena_alloc(scratch, sizeof(float) * (size_t)n) : dst;
    pthread_mutex_lock(&c->lock);
    int rc = blk_reorder_locked(c, out, src, N, C, T, to_blocked, err);
    pthread_mutex_unlock(&c->lock);
    if (!rc && accumulate) add_into(dst, out, n);
    bv_arena_reset_to(scratch, m);
    return rc;
}

/* ---------------- weight_norm ---------------- */

/* dot[d] = sum over the [outer, inner] slice d of a * b. */
static void wn_slice_dots(double *dot, const float *a, const float *b, bv_wn_view s) {
#pragma omp parallel for if (s.outer * s.D * s.inner > 65536)
    for (int64_t d = 0; d < s.D; d++) {
        double acc = 0;
        for (int64_t o = 0; o < s.outer; o++) acc += dot_f64(a + (o * s.D + d) * s.inner, b + (o * s.D + d) * s.inner, s.inner);
        dot[d] = acc;
    }
}

/* w = v * (g / norm), as torch._weight_norm computes it. */
static void wn_forward(float *w, const float *v, const float *g, const double *norm, bv_wn_view s) {
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
                            const double *dot, bv_wn_view s) {
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

/* dim 0 (outer == 1, every conv's weight_norm): each output channel's slice is contiguous and small
 * (Cin/G * K floats), so its norm and its scaling run back to back while it is in cache: v is read
 * from memory once instead of twice. The same dot_f64 and the same float scale as the two-pass form,
 * so the same bits. */
static void weight_norm_rows(float *w, double *norm, const float *v, const float *g, bv_wn_view s) {
#pragma omp parallel for if (s.D * s.inner > 65536)
    for (int64_t d = 0; d < s.D; d++) {
        const float *vd = v + d * s.inner;
        float *wd = w + d * s.inner;
        norm[d] = sqrt(dot_f64(vd, vd, s.inner));
        const float scale = (float)(g[d] / norm[d]);
        for (int64_t i = 0; i < s.inner; i++) wd[i] = vd[i] * scale;
    }
}

/* dim = last (inner == 1: WavLM's pos_conv, norm over its kernel axis): the slices are strided, one
 * element per row of D. Walk the rows in order, D norms at a time: each norm still sums its
 * elements in row order, as wn_slice_dots does, so the same bits, without a length-1 dot per element. */
static void wn_col_dots(double *dot, const float *a, const float *b, bv_wn_view s) {
    for (int64_t d = 0; d < s.D; d++) dot[d] = 0;
    for (int64_t o = 0; o < s.outer; o++) {
        const float *ar = a + o * s.D, *br = b + o * s.D;
        for (int64_t d = 0; d < s.D; d++) dot[d] += (double)ar[d] * br[d];
    }
}

static void weight_norm_cols(float *w, double *norm, const float *v, const float *g, bv_wn_view s) {
    wn_col_dots(norm, v, v, s);
    for (int64_t d = 0; d < s.D; d++) norm[d] = sqrt(norm[d]);
    enum { CHUNK = 256 }; /* the scales of CHUNK columns at a time, on the stack */
    for (int64_t d0 = 0; d0 < s.D; d0 += CHUNK) {
        const int64_t nd = s.D - d0 < CHUNK ? s.D - d0 : CHUNK;
        float scale[CHUNK];
        for (int64_t d = 0; d < nd; d++) scale[d] = (float)(g[d0 + d] / norm[d0 + d]);
#pragma omp parallel for if (s.outer * nd > 65536)
        for (int64_t o = 0; o < s.outer; o++)
            for (int64_t d = 0; d < nd; d++) w[o * s.D + d0 + d] = v[o * s.D + d0 + d] * scale[d];
    }
}

static void weight_norm(float *w, double *norm, const float *v, const float *g, bv_wn_view s) {
    if (s.outer == 1) {
        weight_norm_rows(w, norm, v, g, s);
        return;
    }
    if (s.inner == 1) {
        weight_norm_cols(w, norm, v, g, s);
        return;
    }
    wn_slice_dots(norm, v, v, s);
    for (int64_t d = 0; d < s.D; d++) norm[d] = sqrt(norm[d]);
    wn_forward(w, v, g, norm, s);
}

/* weight_norm_grad for outer == 1, one channel's slice at a time (as weight_norm_rows): gw and v
 * are read from memory once. The same arithmetic as wn_slice_dots + wn_backward_acc. */
static void weight_norm_grad_rows(float *gg, float *gv, const float *gw, const float *v, const float *g,
                                  const double *norm, bv_wn_view s) {
#pragma omp parallel for if (s.D * s.inner > 65536)
    for (int64_t d = 0; d < s.D; d++) {
        const float *gwd = gw + d * s.inner, *vd = v + d * s.inner;
        const double nrm = norm[d], dot = dot_f64(gwd, vd, s.inner);
        if (gg) gg[d] += (float)(dot / nrm);
        if (!gv) continue;
        const float a = (float)(g[d] / nrm), c = (float)(g[d] * dot / (nrm * nrm * nrm));
        float *gvd = gv + d * s.inner;
        for (int64_t i = 0; i < s.inner; i++) gvd[i] += a * gwd[i] - c * vd[i];
    }
}

static void weight_norm_grad(bv_arena *scratch, float *gg, float *gv, const float *gw, const float *v, const float *g,
                             const double *norm, bv_wn_view s) {
    if (s.outer == 1) {
        weight_norm_grad_rows(gg, gv, gw, v, g, norm, s);
        return;
    }
    bv_arena_mark m = bv_arena_get_mark(scratch);
    double *dot = bv_arena_alloc(scratch, sizeof(double) * (size_t)s.D); // [D]
    wn_slice_dots(dot, gw, v, s);
    wn_backward_acc(gg, gv, gw, v, g, norm, dot, s);
    bv_arena_reset_to(scratch, m);
}


/* ======== inference convs with post-ops (helper "infer"; a separate block: nothing above uses it) ========
 * forward_post: y = post(conv(x, w) + b) for the synthesis path (no backward, no tape), where post
 * is oneDNN's post-op chain, in this order: + r (binary add of a tensor of y's shape and layout),
 * + y's previous content (sum), / divisor (binary div by a scalar), leaky_relu(slope) (eltwise).
 * The Generator at inference keeps its running resblock sum, the residual adds, the division by
 * the number of kernels and the next stage's leaky_relu inside the convs that produce them.
 * Activations are in the caller's layout (plain, channel-blocked o->act_blocked, or channels-last
 * p->nwc: the layout of oneDNN's brgconv kernels, which the synthesis path uses in bf16 and, where
 * they exist, in fp32) for x and y:
 * the primitive is made for exactly those layouts, the weights' layout is oneDNN's (reordered per
 * call into scratch). Primitives live in their own bounded LRU cache, in the backend's
 * BV_CACHE_CONV_POST slot; executions hold the conv cache's lock (one oneDNN stream). */

#define POST_CACHE_CAP 512 /* the bench Generator: ~140 whole-team entries, and one per piece thread */
enum { POST_SRC, POST_WEI, POST_DST, POST_BIAS, POST_R, POST_DIV, POST_NARGS };

typedef struct {
    bv_conv_geom g;
    bv_conv_opts o;
    bv_conv_post p;
    int32_t part;    /* 0: the team's entry; s + 1: piece thread s's (post_pieces: built for one thread,
                        its own scratchpad) */
    int32_t emulate; /* bf16 on the fp32 kernel (post_emulates; set by post_get) */
    int32_t zero;    /* explicit tail padding (always 0) */
} post_key;
_Static_assert(sizeof(post_key) == sizeof(bv_conv_geom) + sizeof(bv_conv_opts) + sizeof(bv_conv_post) + 12,
               "post_key has padding");

typedef struct {
    post_key key;
    uint64_t hash, last_use;
    dnnl_primitive_t prim; /* NULL: free slot */
    int arg[POST_NARGS];   /* DNNL_ARG_* of each argument; 0: unused */
    dnnl_memory_t mem[POST_NARGS];
    dnnl_memory_t wei_user; /* the caller's weights, and their reorder into mem[POST_WEI] */
    dnnl_primitive_t wei_reorder;
    size_t wei_bytes;
    int emulate;        /* bf16 autocast on the fp32 primitive: x and w rounded to bf16 first */
    int64_t wei_n;      /* weights' values (for the rounded copy) */
    int64_t src_bf16_n; /* > 0: bf16 autocast, the f32 input converted into a bf16 copy of this many values */
    int64_t dst_n;      /* the output's values */
    float divisor;      /* POST_DIV's one element */
    dnnl_memory_t sp;   /* a piece thread's entry (key.part): its scratchpad (data handle set per run) */
    size_t sp_bytes;
} post_entry;

typedef struct {
    uint64_t tick;
    post_entry e[POST_CACHE_CAP];
    bv_arena part_scratch[PARTS_MAX]; /* post_pieces: each thread's scratch (kept between calls) */
    int part_scratch_init[PARTS_MAX];
} post_cache;

static void post_entry_destroy(post_entry *e) {
    for (int i = 0; i < POST_NARGS; i++)
        if (e->mem[i]) dnnl_memory_destroy(e->mem[i]);
    if (e->wei_user) dnnl_memory_destroy(e->wei_user);
    if (e->wei_reorder) dnnl_primitive_destroy(e->wei_reorder);
    if (e->sp) dnnl_memory_destroy(e->sp);
    if (e->prim) dnnl_primitive_destroy(e->prim);
    memset(e, 0, sizeof *e);
}

static void post_cache_destroy(void *p) {
    post_cache *pc = p;
    for (int i = 0; i < POST_CACHE_CAP; i++)
        if (pc->e[i].prim) post_entry_destroy(&pc->e[i]);
    for (int s = 0; s < PARTS_MAX; s++)
        if (pc->part_scratch_init[s]) bv_arena_free(&pc->part_scratch[s]);
    free(pc);
}

static void *post_cache_make(void) { return calloc(1, sizeof(post_cache)); }

/* The attribute with the post-op chain of p; y_md is the layout of y (and r). */
static dnnl_status_t post_attr(dnnl_primitive_attr_t *attr, const bv_conv_post *p, const dnnl_memory_desc_t *y_md,
                               const dnnl_memory_desc_t *scalar_md) {
    dnnl_post_ops_t po;
    dnnl_status_t st = dnnl_post_ops_create(&po);
    if (st != dnnl_success) return st;
    if (p->residual) st = dnnl_post_ops_append_binary(po, dnnl_binary_add, y_md);
    if (st == dnnl_success && p->accumulate) st = dnnl_post_ops_append_sum(po, 1.0f);
    if (st == dnnl_success && p->divisor != 0.0f && p->divisor != 1.0f)
        st = dnnl_post_ops_append_binary(po, dnnl_binary_div, scalar_md);
    if (st == dnnl_success && p->lrelu) st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, p->slope, 0.0f);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(*attr, po);
    dnnl_post_ops_destroy(po);
    return st;
}

/* emulate: under bf16 autocast, build the fp32 primitive and feed it bf16-rounded x and w (the same
 * arithmetic), used where oneDNN 2.6 has only its reference kernel for the bf16 form (e.g. eltwise
 * post-ops on dilated kernel-11 convs: ~1000x slower). */
static dnnl_status_t post_entry_build_as(dnnl_engine_t eng, post_entry *e, const post_key *k, int emulate) {
    const bv_conv_geom *g = &k->g;
    dnnl_memory_desc_t src, wei, wei_user, dst, bias, scalar;
    /* bf16 autocast: x and w read as bf16 (x converted in place of layout, w by the weight reorder),
     * bias, residual, sum and output stay fp32 */
    const dnnl_data_type_t dt = k->o.bf16 && !emulate ? dnnl_bf16 : dnnl_f32;
    const int lay = k->p.nwc ? LAY_COL1D : LAY_PLAIN; /* LAY_COL1D's conv1d tag: acb, i.e. nwc */
    md_act(&src, g, g->IC, g->in, lay, k->o.act_blocked, dt);
    md_act(&dst, g, g->OC, g->out, lay, k->o.act_blocked, k->p.dst_bf16 ? dt : dnnl_f32);
    e->dst_n = g->N * g->OC * g->out[0] * g->out[1];
    md_weights(&wei, g, 1, dt);
    md_weights(&wei_user, g, 0, dnnl_f32);
    e->src_bf16_n = k->o.bf16 ? g->N * g->IC * g->in[0] * g->in[1] : 0;
    e->emulate = k->o.bf16 && emulate;
    md_bias(&bias, g);
    dnnl_dims_t one = {1, 1, 1, 1};
    dnnl_memory_desc_init_by_tag(&scalar, 2 + g->nsp, one, dnnl_f32, g->nsp == 1 ? dnnl_abc : dnnl_abcd);
    dnnl_dims_t s, dil, pl, pr;
    for (int i = 0; i < g->nsp; i++) {
        s[i] = g->stride[i];
        dil[i] = g->dil[i] - 1;
        pl[i] = g->pad[i];
        pr[i] = g->pad[i] - (g->transposed ? g->out_pad[i] : 0);
    }
    any_conv_desc desc;
    const dnnl_memory_desc_t *b = g->has_bias ? &bias : NULL;
    dnnl_status_t st =
        g->transposed ? dnnl_dilated_deconvolution_forward_desc_init(&desc.d, dnnl_forward_inference,
                                                                     dnnl_deconvolution_direct, &src, &wei, b, &dst, s,
                                                                     dil, pl, pr)
                      : dnnl_dilated_convolution_forward_desc_init(&desc.c, dnnl_forward_inference,
                                                                   dnnl_convolution_direct, &src, &wei, b, &dst, s, dil,
                                                                   pl, pr);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    if (st == dnnl_success) st = post_attr(&attr, &k->p, &dst, &scalar);
    if (st == dnnl_success && k->part) st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &desc, attr, eng, NULL);
    if (attr) dnnl_primitive_attr_destroy(attr);
    const char *impl = NULL;
    if (st == dnnl_success && dt == dnnl_bf16 &&
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl &&
        !strncmp(impl, "ref", 3)) {
        dnnl_primitive_desc_destroy(pd);
        return post_entry_build_as(eng, e, k, 1);
    }
    if (st == dnnl_success) st = dnnl_primitive_create(&e->prim, pd);
    if (st == dnnl_success && k->part) { /* runs beside the other threads' entries: its own scratchpad */
        const dnnl_memory_desc_t *spmd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        e->sp_bytes = spmd ? dnnl_memory_desc_get_size(spmd) : 0;
        if (e->sp_bytes) st = dnnl_memory_create(&e->sp, spmd, eng, DNNL_MEMORY_NONE);
    }
    /* the arguments, their memory objects (data handles set per call) */
    int po_idx = 0;
    e->arg[POST_SRC] = DNNL_ARG_SRC;
    e->arg[POST_WEI] = DNNL_ARG_WEIGHTS;
    e->arg[POST_DST] = DNNL_ARG_DST;
    e->arg[POST_BIAS] = g->has_bias ? DNNL_ARG_BIAS : 0;
    e->arg[POST_R] = k->p.residual ? DNNL_ARG_ATTR_MULTIPLE_POST_OP(po_idx++) | DNNL_ARG_SRC_1 : 0;
    if (k->p.accumulate) po_idx++;
    e->arg[POST_DIV] =
        k->p.divisor != 0.0f && k->p.divisor != 1.0f ? DNNL_ARG_ATTR_MULTIPLE_POST_OP(po_idx++) | DNNL_ARG_SRC_1 : 0;
    const dnnl_memory_desc_t *mds[POST_NARGS] = {&src, NULL, &dst, &bias, &dst, &scalar};
    for (int i = 0; i < POST_NARGS && st == dnnl_success; i++) {
        if (!e->arg[i]) continue;
        const dnnl_memory_desc_t *md = i == POST_WEI ? dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0) : mds[i];
        st = dnnl_memory_create(&e->mem[i], md, eng, DNNL_MEMORY_NONE);
    }
    if (st == dnnl_success) {
        const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        if (!dnnl_memory_desc_equal(wmd, &wei_user)) {
            dnnl_primitive_desc_t rpd;
            st = dnnl_memory_create(&e->wei_user, &wei_user, eng, DNNL_MEMORY_NONE);
            if (st == dnnl_success) st = dnnl_reorder_primitive_desc_create(&rpd, &wei_user, eng, wmd, eng, NULL);
            if (st == dnnl_success) {
                st = dnnl_primitive_create(&e->wei_reorder, rpd);
                dnnl_primitive_desc_destroy(rpd);
            }
            e->wei_bytes = dnnl_memory_desc_get_size(wmd);
        }
    }
    e->divisor = k->p.divisor;
    e->wei_n = (int64_t)(dnnl_memory_desc_get_size(&wei_user) / sizeof(float));
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) post_entry_destroy(e);
    return st;
}

/* Whether the bf16 post-op convs (the bf16 synthesis path's) run oneDNN's fp32 kernels on bf16-rounded
 * inputs (the same products, fp32 sums: 'emulate') rather than its bf16 kernels: where bf16 computes no
 * faster than fp32 (bv_cpu_bf16_note: an Intel CPU with AVX512_BF16 and no usable AMX). There, on the
 * Xeon model 207, `bv2-bench --infer --bf16` took 1290-1330 ms emulated against 2066-2091 native per
 * 5 s of speech (alternated; the audio 0.70% rms apart with BV_CONV_BF16=rule, as bf16 variants are).
 * BV_CONV_BF16=native / emulate decide it instead (A/B). Under c->lock. */
static int post_emulates(conv_cache *c) {
    if (c->post_emulate < 0)
        c->post_emulate = c->bf16_mode == BF16_NATIVE    ? 0
                          : c->bf16_mode == BF16_EMULATE ? 1
                                                         : bv_cpu_bf16_note(NULL, 0) == 1;
    return c->post_emulate;
}

static post_entry *post_get(conv_cache *c, post_cache *pc, const post_key *want, char *err) {
    post_key key = *want;
    key.emulate = key.o.bf16 && post_emulates(c);
    const post_key *k = &key;
    const unsigned char *bytes = (const unsigned char *)k;
    uint64_t hash = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof *k; i++) hash = (hash ^ bytes[i]) * 1099511628211ull;
    post_entry *victim = &pc->e[0];
    for (int i = 0; i < POST_CACHE_CAP; i++) {
        post_entry *e = &pc->e[i];
        if (e->prim && e->hash == hash && !memcmp(&e->key, k, sizeof *k)) {
            e->last_use = ++pc->tick;
            return e;
        }
        if (!e->prim) {
            if (victim->prim) victim = e;
        } else if (victim->prim && e->last_use < victim->last_use) {
            victim = e;
        }
    }
    post_entry_destroy(victim);
    const int threads = omp_get_max_threads();
    if (k->part) omp_set_num_threads(1); /* oneDNN sizes its work split by the threads it sees now */
    dnnl_status_t st = post_entry_build_as(c->engine, victim, k, k->emulate);
    if (k->part) omp_set_num_threads(threads);
    if (st != dnnl_success) {
        snprintf(err, BV_KERNEL_ERR_LEN, "oneDNN cannot build this convolution with post-ops: status %d", (int)st);
        return NULL;
    }
    victim->key = *k;
    victim->hash = hash;
    victim->last_use = ++pc->tick;
    return victim;
}

/* dst[i] = leaky_relu(src[i], slope) as bf16 (to_bf16) or as fp32 rounded to bf16 (round) or
 * fp32 (neither): the separate ops' values, in one pass. */
/* leaky_relu(x, slope) as bits, branch-free (the sign bit picks x or x * slope: x > 0 ? x : x * slope
 * for every x, -0 and NaN included), and its bf16 rounded to nearest even (NaN stays a quiet NaN):
 * bv_f32_to_bf16's result, written with masks so that -O2 vectorises the loops below. */
static inline uint32_t lrelu_bits(float x, float slope) {
    uint32_t a, b;
    const float xs = x * slope;
    memcpy(&a, &x, sizeof a);
    memcpy(&b, &xs, sizeof b);
    const uint32_t neg = 0u - (a >> 31);
    return (a & ~neg) | (b & neg);
}
static inline uint16_t bits_to_bf16(uint32_t u) {
    const uint32_t nan = 0u - (uint32_t)((u & 0x7fffffffu) > 0x7f800000u);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, quiet = (u >> 16) | 0x40u;
    return (uint16_t)((rounded & ~nan) | (quiet & nan));
}

/* dst[i] = leaky_relu(src[i], slope) as bf16 (to_bf16) or as fp32 rounded to bf16 (round) or
 * fp32 (neither): the separate ops' values, in one pass. */
__attribute__((optimize("vect-cost-model=dynamic"))) /* -O2's very-cheap model refuses these loops */
static void lrelu_convert(void *dst, const float *src, int64_t n, float slope, int to_bf16, int round) {
    if (to_bf16) {
        uint16_t *d = dst;
#pragma omp parallel for schedule(static) if (n >= 32768)
        for (int64_t i = 0; i < n; i++) d[i] = bits_to_bf16(lrelu_bits(src[i], slope));
    } else {
        uint32_t *d = dst; /* fp32 bits */
#pragma omp parallel for schedule(static) if (n >= 32768)
        for (int64_t i = 0; i < n; i++) {
            const uint32_t v = lrelu_bits(src[i], slope);
            d[i] = round ? (uint32_t)bits_to_bf16(v) << 16 : v;
        }
    }
}

/* The weights as e's primitive reads them, into mem[POST_WEI]: reordered into oneDNN's layout in
 * scratch (rounded to bf16 first when e emulates), or the caller's own. Once per forward_post call,
 * however many pieces it runs. */
static int post_weights(conv_cache *c, post_entry *e, bv_arena *scratch, const float *w, char *err) {
    if (e->emulate) w = rounded_copy(scratch, w, e->wei_n);
    if (e->wei_reorder) {
        DNNL_TRY(err, dnnl_memory_set_data_handle(e->wei_user, (void *)w));
        DNNL_TRY(err, dnnl_memory_set_data_handle(e->mem[POST_WEI], bv_arena_alloc(scratch, e->wei_bytes)));
        return run_reorder(c->stream, e->wei_reorder, e->wei_user, e->mem[POST_WEI], err);
    }
    DNNL_TRY(err, dnnl_memory_set_data_handle(e->mem[POST_WEI], (void *)w));
    return 0;
}

/* One execution of e over x -> y (r: the residual) on stream s, its weights set by post_weights. */
static int post_run(dnnl_stream_t s, post_entry *e, bv_arena *scratch, float *y, const float *x, const float *b,
                    const float *r, char *err) {
    const post_key *k = &e->key;
    const int64_t nx = k->g.N * k->g.IC * k->g.in[0] * k->g.in[1];
    const void *ptr[POST_NARGS] = {x, NULL, y, b, r, &e->divisor};
    if (k->p.src_bf16) { /* x holds bf16 already: as is, or widened for the fp32 kernel (exact) */
        if (e->emulate) {
            float *xf = bv_arena_alloc(scratch, sizeof(float) * (size_t)nx);
            bv_cpu_bf16_to_f32(xf, (const uint16_t *)x, nx);
            ptr[POST_SRC] = xf;
        }
    } else if (e->src_bf16_n && !e->emulate) { /* same layout, half the bytes: an elementwise conversion */
        uint16_t *xb = bv_arena_alloc(scratch, (size_t)nx * sizeof(uint16_t));
        if (k->p.in_slope > 0.0f) lrelu_convert(xb, x, nx, k->p.in_slope, 1, 0);
        else bv_cpu_f32_to_bf16(xb, x, nx);
        ptr[POST_SRC] = xb;
    } else if (e->emulate || k->p.in_slope > 0.0f) {
        float *xf = bv_arena_alloc(scratch, sizeof(float) * (size_t)nx);
        lrelu_convert(xf, x, nx, k->p.in_slope > 0.0f ? k->p.in_slope : 1.0f, 0, e->emulate);
        ptr[POST_SRC] = xf;
    }
    float *y_emul = NULL; /* dst_bf16 on the fp32 kernel: fp32 into scratch, converted after */
    if (e->emulate && k->p.dst_bf16) ptr[POST_DST] = y_emul = bv_arena_alloc(scratch, sizeof(float) * (size_t)e->dst_n);
    dnnl_exec_arg_t args[POST_NARGS + 1];
    int n = 0;
    for (int i = 0; i < POST_NARGS; i++) {
        if (!e->arg[i]) continue;
        if (i != POST_WEI) DNNL_TRY(err, dnnl_memory_set_data_handle(e->mem[i], (void *)ptr[i]));
        args[n++] = (dnnl_exec_arg_t){e->arg[i], e->mem[i]};
    }
    if (e->sp) {
        DNNL_TRY(err, dnnl_memory_set_data_handle(e->sp, bv_arena_alloc(scratch, e->sp_bytes)));
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->sp};
    }
    DNNL_TRY(err, dnnl_primitive_execute(e->prim, s, n, args));
    DNNL_TRY(err, dnnl_stream_wait(s));
    if (y_emul) bv_cpu_f32_to_bf16((uint16_t *)y, y_emul, e->dst_n);
    return 0;
}

/* Long channels-last convs in pieces. oneDNN 2.6 builds its brgconv kernels for one exact length,
 * and building one for the Generator's late stages takes time that grows with it (bf16 on AMD Zen 4,
 * 16-64 channels over 48k-193k samples: 0.15-0.53 s each, ~13 s for one 4 s utterance that then
 * synthesizes in ~0.8 s; fp32 on the Xeon: 170-285 ms each), and every new utterance length paid it
 * again. Here the primitives are made for pieces of L = c->nwc_piece output rows, then L / 4 for the
 * rest (no padding, piece + halo input rows), whatever the length: built once per process, every
 * length reuses them. The rows are split evenly over the OpenMP threads (as many as get a small
 * piece's rows each: piece_parts), each running its pieces one after the other on primitives built
 * for one thread: one parallel region per conv, not one per piece (a region per piece left the
 * threads waiting at its barriers, and under OMP_WAIT_POLICY=PASSIVE woke a sleeping thread per
 * piece: 1.68 s against 1.22 s per 5 s of speech, Xeon, fp32). Shorter convs run their pieces one
 * after the other on the whole team's primitives. A piece reads the input in place where its rows all lie inside it and need
 * no conversion (bf16 under autocast, fp32 without .in_slope otherwise); else (an fp32 input under
 * autocast, .in_slope, or the edges) its rows go into the thread's scratch, zero-padded and
 * converted as post_run would (leaky_relu, bf16): the input's leaky_relu is applied there, on rows
 * about to be read. An input the conv also writes (ResBlock2's stream) is converted whole first
 * (pieces_unalias). Full pieces write the caller's buffers in place, the last partial one of a
 * thread goes through scratch (y's rows in for the sum, r's for the residual, the valid rows back:
 * at most L / 4 - 1 rows computed for nothing per thread). The values are the whole conv's up to
 * fp32 summation order: oneDNN may block a piece's sums otherwise than the whole length's (exact
 * at the test's sizes but for a bf16 output's rare one-ulp flips; on the bench model, Zen 4,
 * BV_CONV_BF16=rule, the synthesized audio differs from the whole convs' by 0.68% rms, as the
 * whole nwc path differs from the ops path: 0.70%). */
static int64_t nwc_small_piece(const conv_cache *c) { return c->nwc_piece >= 4 ? c->nwc_piece / 4 : c->nwc_piece; }

static int nwc_pieceable(const conv_cache *c, const post_key *k) {
    const bv_conv_geom *g = &k->g;
    return c->nwc_piece > 0 && k->p.nwc && g->nsp == 1 && !g->transposed && g->stride[0] == 1 &&
           g->out[0] > nwc_small_piece(c);
}

/* Whether a piece reads k's input values as they are (bf16 under autocast, fp32 otherwise, no
 * .in_slope; .src_bf16 takes none), rather than converted. */
static int nwc_input_as_is(const post_key *k) {
    return (k->o.bf16 != 0) == (k->p.src_bf16 != 0) && !(k->p.in_slope > 0.0f);
}

/* Bytes of one output row (all channels) of k. */
static size_t nwc_row_bytes(const post_key *k) {
    return (k->p.dst_bf16 ? sizeof(uint16_t) : sizeof(float)) * (size_t)k->g.OC;
}

/* rows input rows of k from xr (x's element type) into d as a piece's primitive reads them: bf16
 * under autocast, else fp32, through the input's leaky_relu (.in_slope) where there is one. */
static void nwc_rows_convert(void *d, const post_key *k, const void *xr, int64_t rows) {
    const int64_t n = rows * k->g.IC;
    if (nwc_input_as_is(k))
        memcpy(d, xr, (k->p.src_bf16 ? sizeof(uint16_t) : sizeof(float)) * (size_t)n);
    else
        lrelu_convert(d, xr, n, k->p.in_slope > 0.0f ? k->p.in_slope : 1.0f, k->o.bf16 != 0, 0);
}

/* The input rows of the piece [t0, t0 + P) of item n as the piece's primitive reads them (bf16 under
 * autocast, else fp32): x's own where they all lie in it and need no conversion (a bf16 x under
 * autocast; an fp32 x without .in_slope in fp32), else a scratch copy of those that do, converted as
 * post_run would (leaky_relu, bf16), zeros around. */
static const void *nwc_piece_input(bv_arena *scratch, const post_key *k, const float *x, int64_t n, int64_t t0,
                                   int64_t P) {
    const bv_conv_geom *g = &k->g;
    const int64_t IC = g->IC, Tin = g->in[0], lo = t0 - g->pad[0], need = P + (g->k[0] - 1) * g->dil[0];
    const int64_t a = lo > 0 ? lo : 0, e = lo + need < Tin ? lo + need : Tin; /* x's rows [a, e) */
    const size_t row = (k->o.bf16 ? sizeof(uint16_t) : sizeof(float)) * (size_t)IC; /* a row as the piece reads it */
    const char *xr = (const char *)x + (size_t)(n * Tin + a) * (k->p.src_bf16 ? sizeof(uint16_t) : sizeof(float)) * IC;
    if (nwc_input_as_is(k) && a == lo && e == lo + need) return xr;
    char *d = bv_arena_alloc(scratch, row * (size_t)need);
    if (e <= a) return memset(d, 0, row * (size_t)need);
    memset(d, 0, row * (size_t)(a - lo));
    memset(d + (e - lo) * row, 0, row * (size_t)(lo + need - e));
    nwc_rows_convert(d + (a - lo) * row, k, xr, e - a);
    return d;
}

/* The primitive for pieces of L output rows of k (one item, no padding, the prepared input read as
 * is: bf16 under autocast, else fp32): piece thread s's (s >= 0), or the whole team's (s < 0). */
static post_entry *nwc_piece_entry(conv_cache *c, post_cache *pc, const post_key *k, int64_t L, int s, char *err) {
    post_key kp = *k;
    kp.g.N = 1;
    kp.g.in[0] = L + (k->g.k[0] - 1) * k->g.dil[0];
    kp.g.out[0] = L;
    kp.g.pad[0] = 0;
    kp.p.in_slope = 0.0f;
    kp.p.src_bf16 = k->o.bf16 != 0;
    kp.part = s >= 0 ? s + 1 : 0;
    return post_get(c, pc, &kp, err);
}

/* Output rows [t0, t0 + m) of item n by e, whose pieces are L rows, on stream st: in place, or
 * through scratch. */
static int nwc_piece_run(dnnl_stream_t st, post_entry *e, bv_arena *scratch, const post_key *k, int64_t L, int64_t m,
                         char *yp, const void *xs, const float *b, const float *rp, char *err) {
    if (m == L) return post_run(st, e, scratch, (float *)(void *)yp, xs, b, rp, err);
    const size_t yrow = nwc_row_bytes(k);
    char *yb = bv_arena_alloc(scratch, yrow * (size_t)L);
    float *rb = rp ? bv_arena_alloc(scratch, sizeof(float) * (size_t)(L * k->g.OC)) : NULL;
    memset(yb, 0, yrow * (size_t)L);
    if (k->p.accumulate) memcpy(yb, yp, yrow * (size_t)m);
    if (rb) {
        memset(rb, 0, sizeof(float) * (size_t)(L * k->g.OC));
        memcpy(rb, rp, sizeof(float) * (size_t)(m * k->g.OC));
    }
    if (post_run(st, e, scratch, (float *)(void *)yb, xs, b, rb, err)) return -1;
    memcpy(yp, yb, yrow * (size_t)m);
    return 0;
}

/* How many threads run a conv of T output rows in pieces, each its own rows on primitives built for
 * one thread: one per OpenMP thread, as long as each gets a small piece's rows (Ls). 0: too few rows
 * to share out that way (or one thread): the pieces run one after the other on the whole team's
 * primitives. (At least a full piece's rows each, 2048, sent the first stage's 3448 rows to the
 * team's primitives: 1244-1282 ms against 1150-1261 per 5 s of speech, Xeon, alternated.) */
static int piece_parts(int64_t T, int64_t Ls) {
    int64_t p = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (p > T / Ls) p = T / Ls;
    if (p > PARTS_MAX) p = PARTS_MAX;
    return p >= 2 ? (int)p : 0;
}

/* What piece thread s needs, got under the lock before the threads start. */
typedef struct {
    post_entry *eb, *es; /* its entries for L- and L/4-row pieces */
    dnnl_stream_t st;
    bv_arena *scratch;
} piece_part;

/* 1 when e reads its weights as src does (same layout and rounding): src's prepared weights then
 * serve e too. */
static int share_weights(post_entry *e, const post_entry *src) {
    const dnnl_memory_desc_t *a = NULL, *b = NULL;
    void *h = NULL;
    return !e->emulate == !src->emulate && dnnl_memory_get_memory_desc(e->mem[POST_WEI], &a) == dnnl_success &&
           dnnl_memory_get_memory_desc(src->mem[POST_WEI], &b) == dnnl_success && dnnl_memory_desc_equal(a, b) &&
           dnnl_memory_get_data_handle(src->mem[POST_WEI], &h) == dnnl_success &&
           dnnl_memory_set_data_handle(e->mem[POST_WEI], h) == dnnl_success;
}

/* Piece thread s's entries, stream and scratch (s < 0: the whole team's, in thread 0's scratch).
 * The weights are prepared (post_weights) into the caller's scratch once per layout: the
 * small-piece entry and every later thread's take the first entry's where they read the same. */
static int piece_part_get(conv_cache *c, post_cache *pc, bv_arena *scratch, const post_key *k, int64_t L, int64_t Ls,
                          const float *w, int s, piece_part *pp, const piece_part *first, char *err) {
    pp->eb = nwc_piece_entry(c, pc, k, L, s, err);
    pp->es = pp->eb ? nwc_piece_entry(c, pc, k, Ls, s, err) : NULL;
    if (!pp->es) return -1;
    if (s < 0) s = 0;
    pp->st = s ? part_stream(c, s) : c->stream;
    if (!pp->st) return snprintf(err, BV_KERNEL_ERR_LEN, "oneDNN cannot create a stream"), -1;
    if (!pc->part_scratch_init[s]) bv_arena_init(&pc->part_scratch[s], (size_t)16 << 20, NULL);
    pc->part_scratch_init[s] = 1;
    pp->scratch = &pc->part_scratch[s];
    if (!(first && share_weights(pp->eb, first->eb)) && post_weights(c, pp->eb, scratch, w, err)) return -1;
    if (!share_weights(pp->es, first ? first->es : pp->eb) && post_weights(c, pp->es, scratch, w, err)) return -1;
    return 0;
}

/* Rows [r0, r1) of item n on piece thread pp: pieces of L rows while L remain, then of Ls. */
static int piece_rows(const piece_part *pp, const post_key *k, int64_t L, int64_t Ls, int64_t n, int64_t r0,
                      int64_t r1, float *y, const float *x, const float *b, const float *r, char *err) {
    const int64_t T = k->g.out[0], OC = k->g.OC;
    const size_t yrow = nwc_row_bytes(k);
    const bv_arena_mark mark = bv_arena_get_mark(pp->scratch);
    for (int64_t t0 = r0; t0 < r1;) {
        const int64_t P = r1 - t0 >= L ? L : Ls, m = r1 - t0 < P ? r1 - t0 : P;
        const void *xs = nwc_piece_input(pp->scratch, k, x, n, t0, P);
        const int rc = nwc_piece_run(pp->st, P == L ? pp->eb : pp->es, pp->scratch, k, P, m,
                                     (char *)y + (size_t)(n * T + t0) * yrow, xs, b, r ? r + (n * T + t0) * OC : NULL,
                                     err);
        bv_arena_reset_to(pp->scratch, mark);
        if (rc) return -1;
        t0 += m;
    }
    return 0;
}

/* Whether the input x of a channels-last conv k shares memory with its output y. */
static int post_input_overlaps(const post_key *k, const float *x, const float *y) {
    const bv_conv_geom *g = &k->g;
    const size_t nx = (size_t)(g->N * g->IC * g->in[0]) * (k->p.src_bf16 ? sizeof(uint16_t) : sizeof(float));
    const size_t ny = (size_t)(g->N * g->out[0]) * nwc_row_bytes(k);
    const char *xb = (const char *)x, *yb = (const char *)y;
    return xb < yb + ny && yb < xb + nx;
}

/* x read where y is written (ResBlock2's residual stream: s += conv(leaky_relu(s))): the pieces
 * would read halo rows that earlier pieces (or another thread's) already wrote. *xp becomes a copy of
 * the whole input converted as the pieces read it (post_run's copy of a whole conv), and *kp the key
 * for reading it as is. */
static void pieces_unalias(bv_arena *scratch, const post_key **kp, post_key *k2, const float **xp, const float *y) {
    const post_key *k = *kp;
    if (!post_input_overlaps(k, *xp, y)) return;
    const int64_t rows = k->g.N * k->g.in[0];
    void *d = bv_arena_alloc(scratch, (k->o.bf16 ? sizeof(uint16_t) : sizeof(float)) * (size_t)(rows * k->g.IC));
    nwc_rows_convert(d, k, *xp, rows);
    *k2 = *k;
    k2->p.in_slope = 0.0f;
    k2->p.src_bf16 = k->o.bf16 != 0;
    *kp = k2;
    *xp = d;
}

static int post_pieces(conv_cache *c, post_cache *pc, bv_arena *scratch, const post_key *k, float *y, const float *x,
                       const float *w, const float *b, const float *r, char *err) {
    post_key k2;
    pieces_unalias(scratch, &k, &k2, &x, y);
    const int64_t L = c->nwc_piece, Ls = nwc_small_piece(c), T = k->g.out[0];
    const int threaded = piece_parts(T, Ls), parts = threaded ? threaded : 1;
    piece_part pp[PARTS_MAX];
    for (int s = 0; s < parts; s++)
        if (piece_part_get(c, pc, scratch, k, L, Ls, w, threaded ? s : -1, &pp[s], s ? &pp[0] : NULL, err)) return -1;
    int rcs[PARTS_MAX] = {0};
    char errs[PARTS_MAX][BV_KERNEL_ERR_LEN];
#pragma omp parallel for num_threads(parts) schedule(static, 1) if (parts > 1)
    for (int s = 0; s < parts; s++)
        for (int64_t n = 0; n < k->g.N && !rcs[s]; n++)
            rcs[s] = piece_rows(&pp[s], k, L, Ls, n, T * s / parts, T * (s + 1) / parts, y, x, b, r, errs[s]);
    for (int s = 0; s < parts; s++)
        if (rcs[s]) return snprintf(err, BV_KERNEL_ERR_LEN, "%s", errs[s]), -1;
    return 0;
}

static int forward_post(bv_backend *be, bv_arena *scratch, const bv_conv_geom *g, const bv_conv_opts *o,
                        const bv_conv_post *p, float *y, const float *x, const float *w, const float *b,
                        const float *r, char *err) {
    conv_cache *c = cache_of(be, err);
    if (!c) return -1;
    post_cache *pc = bv_backend_cache(be, BV_CACHE_CONV_POST, post_cache_make, post_cache_destroy);
    if (!pc) return snprintf(err, BV_KERNEL_ERR_LEN, "out of memory for the post-op primitive cache"), -1;
    post_key k;
    memset(&k, 0, sizeof k);
    k.g = *g;
    k.o = *o;
    k.o.lrelu = 0;
    k.o.slope = 0.0f;
    k.o.diff_bias = 0;
    k.p = *p;
    if (!k.p.residual) r = NULL;
    /* The residual as y's content and the sum post-op instead of a binary add ((conv + b) + r: the
     * same up to rounding): with accumulate, oneDNN 2.6 runs binary + sum only in its reference
     * kernel (~1000x slower), so y += r first; channels-last, its gemm kernel (which it picks for
     * short fp32 convs, e.g. 13 rows, kernel 11, dilation 3) adds a binary post-op's tensor wrongly
     * (0.65 relative off; infer_fast_nwc_pieces_match_whole_convs), so y = r, where y is not the input. */
    if (k.p.residual && (k.p.accumulate || (k.p.nwc && !post_input_overlaps(&k, x, y)))) {
        const int64_t ny = g->N * g->OC * g->out[0] * g->out[1];
        if (k.p.accumulate) add_into(y, r, ny);
        else if (y != r) memcpy(y, r, sizeof(float) * (size_t)ny);
        k.p.residual = 0;
        k.p.accumulate = 1;
        r = NULL;
    }
    if (!k.p.lrelu) k.p.slope = 0.0f;
    bv_arena_mark m = bv_arena_get_mark(scratch);
    pthread_mutex_lock(&c->lock);
    int rc;
    if (nwc_pieceable(c, &k)) {
        rc = post_pieces(c, pc, scratch, &k, y, x, w, b, r, err);
    } else {
        post_entry *e = post_get(c, pc, &k, err);
        rc = e && !post_weights(c, e, scratch, w, err) ? post_run(c->stream, e, scratch, y, x, b, r, err) : -1;
    }
    pthread_mutex_unlock(&c->lock);
    bv_arena_reset_to(scratch, m);
    return rc;
}
/* ======== end of the inference post-op block ======== */

/* Entries in use in the conv cache and in the post-op one. */
static void cache_stats(bv_backend *be, int *capacity, int *used, int *post_used) {
    conv_cache *c = cache_of(be, NULL);
    /* got as forward_post gets it, before the conv lock (which guards its entries) */
    const post_cache *pc = c ? bv_backend_cache(be, BV_CACHE_CONV_POST, post_cache_make, post_cache_destroy) : NULL;
    int n = 0, np = 0;
    if (c) {
        pthread_mutex_lock(&c->lock);
        for (int i = 0; i < PRIM_CACHE_CAP; i++) n += c->prims[i].prim != NULL;
        for (int i = 0; pc && i < POST_CACHE_CAP; i++) np += pc->e[i].prim != NULL;
        pthread_mutex_unlock(&c->lock);
    }
    *capacity = PRIM_CACHE_CAP;
    *used = n;
    *post_used = np;
}

const bv_conv_kernels bv_cpu_conv = {
    .forward = forward,
    .backward = backward,
    .reorder = reorder,
    .weight_norm = weight_norm,
    .weight_norm_grad = weight_norm_grad,
    .layout_for = layout_for,
    .infer_nwc = infer_nwc,
    .set_layout = set_layout,
    .set_bf16_mode = set_bf16_mode,
    .set_nwc_piece = set_nwc_piece,
    .cache_stats = cache_stats,
    .forward_post = forward_post, /* the inference post-op block above */
};
