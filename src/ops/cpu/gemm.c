/* gemm.c - fp32 products through oneDNN's sgemm, and bf16 x bf16 -> fp32 products through oneDNN's
 * matmul primitive (gemm.h).
 *
 * fp32 operands are rounded to bf16 into scratch (bf16.h: nearest even, as torch's autocast casts),
 * keeping their layout; oneDNN then reads them through strides, so a transposed operand costs no
 * copy beyond the conversion. On this project's Xeon the primitive is oneDNN's brgemm matmul with
 * AMX tiles ("brg:avx512_core_amx_bf16"), on a Zen 4 its AVX512_BF16 brgemm; ONEDNN_VERBOSE=1 shows
 * which. Accumulation into C is a sum post-op, a bias the primitive's fp32 bias.
 *
 * The backend's BV_CACHE_MATMUL slot keeps one oneDNN engine and stream and up to CACHE_CAP
 * primitives keyed by shape, strides and flags (least recently used dropped first; oneDNN's own
 * primitive cache makes a rebuild cheap). The lock is held while a primitive runs: the kernels are
 * called from one thread, and oneDNN threads inside. */
#include "gemm.h"

#include <dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/error.h"
#include "bf16.h"

void bv_cpu_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float beta, float *C, int64_t ldc) {
    dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
    if (st != dnnl_success)
        BV_FATAL("dnnl_sgemm(%c%c, M %lld, N %lld, K %lld) failed with status %d", ta ? 'T' : 'N', tb ? 'T' : 'N',
                 (long long)M, (long long)N, (long long)K, (int)st);
}

#define CACHE_CAP 256

typedef struct {
    int64_t batch, M, N, K, ta, tb, sa, sb, sc, bias, acc;
} mm_key;

typedef struct {
    mm_key key;
    uint64_t last_use;
    dnnl_primitive_desc_t pd; /* NULL: free slot */
    dnnl_primitive_t prim;
} mm_entry;

typedef struct {
    pthread_mutex_t lock;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    uint64_t tick;
    mm_entry e[CACHE_CAP];
} mm_cache;

#define DNNL_TRY(err, call)                                                                      \
    do {                                                                                         \
        dnnl_status_t st_ = (call);                                                              \
        if (st_ != dnnl_success) {                                                               \
            snprintf(err, BV_KERNEL_ERR_LEN, "oneDNN call %s failed (status %d)", #call, (int)st_); \
            goto fail;                                                                           \
        }                                                                                        \
    } while (0)

static void entry_free(mm_entry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->pd) dnnl_primitive_desc_destroy(e->pd);
    memset(e, 0, sizeof *e);
}

static void cache_destroy(void *p) {
    mm_cache *c = p;
    for (int i = 0; i < CACHE_CAP; i++)
        if (c->e[i].pd) entry_free(&c->e[i]);
    if (c->stream) dnnl_stream_destroy(c->stream);
    if (c->engine) dnnl_engine_destroy(c->engine);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void *cache_make(void) {
    mm_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->lock, NULL);
    if (dnnl_engine_create(&c->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags) != dnnl_success) {
        cache_destroy(c);
        return NULL;
    }
    return c;
}

/* Row strides actually used: the dense ones where the caller passed 0. */
static int64_t lda_of(const bv_gemm_bf16 *g) { return g->lda ? g->lda : g->ta ? g->M : g->K; }
static int64_t ldb_of(const bv_gemm_bf16 *g) { return g->ldb ? g->ldb : g->tb ? g->K : g->N; }
static int64_t ldc_of(const bv_gemm_bf16 *g) { return g->ldc ? g->ldc : g->N; }

/* The strides oneDNN sees: the bf16 copies of A and B are dense. */
static mm_key key_of(const bv_gemm_bf16 *g) {
    mm_key k = {.batch = g->batch, .M = g->M, .N = g->N, .K = g->K, .ta = g->ta, .tb = g->tb,
                .sa = g->ta ? g->M : g->K, .sb = g->tb ? g->K : g->N, .sc = ldc_of(g), .bias = g->bias != NULL,
                .acc = g->accumulate};
    return k;
}

/* logical [batch,] rows x cols with element (r, c) at r * rs + c * cs */
static void md_init(dnnl_memory_desc_t *md, int64_t batch, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                    dnnl_data_type_t dt) {
    if (batch > 1) {
        dnnl_dims_t d = {batch, rows, cols}, s = {rows * cols, rs, cs};
        dnnl_memory_desc_init_by_strides(md, 3, d, dt, s);
    } else {
        dnnl_dims_t d = {rows, cols}, s = {rs, cs};
        dnnl_memory_desc_init_by_strides(md, 2, d, dt, s);
    }
}

static void mds_of(const mm_key *k, dnnl_memory_desc_t *src, dnnl_memory_desc_t *wei, dnnl_memory_desc_t *dst,
                   dnnl_memory_desc_t *bias) {
    md_init(src, k->batch, k->M, k->K, k->ta ? 1 : k->sa, k->ta ? k->sa : 1, dnnl_bf16);
    md_init(wei, k->batch, k->K, k->N, k->tb ? 1 : k->sb, k->tb ? k->sb : 1, dnnl_bf16);
    md_init(dst, k->batch, k->M, k->N, k->sc, 1, dnnl_f32);
    if (k->batch > 1) {
        dnnl_dims_t d = {1, 1, k->N};
        dnnl_memory_desc_init_by_tag(bias, 3, d, dnnl_f32, dnnl_abc);
    } else {
        dnnl_dims_t d = {1, k->N};
        dnnl_memory_desc_init_by_tag(bias, 2, d, dnnl_f32, dnnl_ab);
    }
}

/* The cached entry of k, made on a miss (cache lock held). */
static mm_entry *entry_get(mm_cache *c, const mm_key *k, char *err) {
    mm_entry *victim = &c->e[0];
    for (int i = 0; i < CACHE_CAP; i++) {
        mm_entry *e = &c->e[i];
        if (e->pd && !memcmp(&e->key, k, sizeof *k)) {
            e->last_use = ++c->tick;
            return e;
        }
        if (!e->pd) victim = e;
        else if (victim->pd && e->last_use < victim->last_use) victim = e;
    }
    if (victim->pd) entry_free(victim);
    dnnl_memory_desc_t src, wei, dst, bias;
    mds_of(k, &src, &wei, &dst, &bias);
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    DNNL_TRY(err, dnnl_matmul_desc_init(&md, &src, &wei, k->bias ? &bias : NULL, &dst));
    DNNL_TRY(err, dnnl_primitive_attr_create(&attr));
    if (k->acc) {
        DNNL_TRY(err, dnnl_post_ops_create(&po));
        DNNL_TRY(err, dnnl_post_ops_append_sum(po, 1.0f));
        DNNL_TRY(err, dnnl_primitive_attr_set_post_ops(attr, po));
    }
    DNNL_TRY(err, dnnl_primitive_desc_create(&victim->pd, &md, attr, c->engine, NULL));
    DNNL_TRY(err, dnnl_primitive_create(&victim->prim, victim->pd));
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    victim->key = *k;
    victim->last_use = ++c->tick;
    return victim;
fail:
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    entry_free(victim);
    return NULL;
}

static mm_cache *cache_of(bv_backend *be, char *err) {
    mm_cache *c = bv_backend_cache(be, BV_CACHE_MATMUL, cache_make, cache_destroy);
    if (!c) snprintf(err, BV_KERNEL_ERR_LEN, "oneDNN cannot create its CPU engine and stream");
    return c;
}

/* dst (dense rows x cols per batch item) = bf16(src rows of stride ld); batch > 1 only with ld ==
 * cols (gemm.h). A dense run goes to bv_cpu_f32_to_bf16 (threaded); strided rows thread over rows. */
static void to_bf16(uint16_t *dst, const float *src, int64_t batch, int64_t rows, int64_t cols, int64_t ld) {
    if (ld == cols) {
        bv_cpu_f32_to_bf16(dst, src, batch * rows * cols);
        return;
    }
    rows *= batch;
#pragma omp parallel for schedule(static) if (rows * cols >= 131072)
    for (int64_t r = 0; r < rows; r++) {
        uint16_t *d = dst + r * cols;
        const float *s = src + r * ld;
#pragma omp simd
        for (int64_t i = 0; i < cols; i++) d[i] = bv_f32_to_bf16(s[i]);
    }
}

/* An operand [batch,] rows x cols (stored cols x rows when t) in bf16: its kept copy (dense: the
 * caller's ld_given is 0), or src rounded into scratch. */
static const uint16_t *operand16(bv_arena *scratch, const uint16_t *kept, int64_t ld_given, const float *src,
                                 int64_t batch, int64_t rows, int64_t cols, int t, int64_t ld) {
    if (kept) {
        BV_ASSERT(ld_given == 0);
        return kept;
    }
    uint16_t *d = bv_arena_alloc(scratch, sizeof(uint16_t) * (size_t)(batch * rows * cols));
    if (t) to_bf16(d, src, batch, cols, rows, ld);
    else to_bf16(d, src, batch, rows, cols, ld);
    return d;
}

/* C = bias, 0, or C += bias: the product of a K == 0 gemm. */
static void empty_product(const bv_gemm_bf16 *g) {
    const int64_t ldc = ldc_of(g);
    for (int64_t i = 0; i < g->batch; i++)
        for (int64_t m = 0; m < g->M; m++) {
            float *row = g->C + i * g->M * g->N + m * ldc;
            for (int64_t n = 0; n < g->N; n++) row[n] = (g->accumulate ? row[n] : 0.0f) + (g->bias ? g->bias[n] : 0.0f);
        }
}

const char *bv_cpu_gemm_bf16_impl(bv_backend *be, const bv_gemm_bf16 *g, char *err) {
    mm_cache *c = cache_of(be, err);
    if (!c) return NULL;
    mm_key k = key_of(g);
    pthread_mutex_lock(&c->lock);
    mm_entry *e = entry_get(c, &k, err);
    const char *impl = NULL;
    if (e && dnnl_primitive_desc_query(e->pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success) {
        snprintf(err, BV_KERNEL_ERR_LEN, "oneDNN cannot name the matmul implementation");
        impl = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    return impl;
}

int bv_cpu_gemm_bf16(bv_backend *be, bv_arena *scratch, const bv_gemm_bf16 *g, char *err) {
    if (g->batch == 0 || g->M == 0 || g->N == 0) return 0;
    if (g->K == 0) {
        empty_product(g);
        return 0;
    }
    mm_cache *c = cache_of(be, err);
    if (!c) return -1;
    bv_arena_mark mk = bv_arena_get_mark(scratch);
    const uint16_t *a = operand16(scratch, g->A16, g->lda, g->A, g->batch, g->M, g->K, g->ta, lda_of(g));
    const uint16_t *b = operand16(scratch, g->B16, g->ldb, g->B, g->batch, g->K, g->N, g->tb, ldb_of(g));
    mm_key k = key_of(g);
    int rc = -1;
    dnnl_memory_t m[4] = {0};
    pthread_mutex_lock(&c->lock);
    mm_entry *e = entry_get(c, &k, err);
    if (e) {
        dnnl_memory_desc_t src, wei, dst, bias;
        mds_of(&k, &src, &wei, &dst, &bias);
        dnnl_exec_arg_t args[4];
        int n = 0;
        DNNL_TRY(err, dnnl_memory_create(&m[0], &src, c->engine, (void *)a));
        DNNL_TRY(err, dnnl_memory_create(&m[1], &wei, c->engine, (void *)b));
        DNNL_TRY(err, dnnl_memory_create(&m[2], &dst, c->engine, g->C));
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, m[0]};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, m[1]};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, m[2]};
        if (g->bias) {
            DNNL_TRY(err, dnnl_memory_create(&m[3], &bias, c->engine, (void *)g->bias));
            args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, m[3]};
        }
        DNNL_TRY(err, dnnl_primitive_execute(e->prim, c->stream, n, args));
        DNNL_TRY(err, dnnl_stream_wait(c->stream));
        rc = 0;
    }
fail:
    for (int i = 0; i < 4; i++)
        if (m[i]) dnnl_memory_destroy(m[i]);
    pthread_mutex_unlock(&c->lock);
    bv_arena_reset_to(scratch, mk);
    return rc;
}
