/* dist.c - MPI data parallelism for training (see dist.h). Built against OpenMPI when the Makefile
 * finds it (BV_HAVE_MPI); otherwise a world of one. */
#include "dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/backend.h"
#include "../core/error.h"

#ifdef BV_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_world = 1, g_mpi = 0;
static bv_dist_stats g_stats;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Set by mpirun (OpenMPI), mpiexec.hydra (MPICH: PMI_SIZE) or a PMIx launcher (srun --mpi=pmix). */
static int launched_by_mpi(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int bv_dist_compiled(void) {
#ifdef BV_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int bv_dist_init(char *err, size_t errcap) {
    if (g_mpi || !launched_by_mpi()) return 0;
#ifdef BV_HAVE_MPI
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int provided;
        MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_world);
    g_mpi = 1;
    return 0;
#else
    snprintf(err, errcap, "started by mpirun, but this bv2 was built without MPI (make MPI=0 or no libopenmpi-dev): "
             "install libopenmpi-dev (scripts/install-deps.sh) and rebuild, or run bv2 train without mpirun");
    return -1;
#endif
}

void bv_dist_finalize(void) {
#ifdef BV_HAVE_MPI
    if (!g_mpi) return;
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
    g_mpi = 0;
    g_rank = 0;
    g_world = 1;
#endif
}

void bv_dist_abort(int code) {
#ifdef BV_HAVE_MPI
    if (g_mpi && g_world > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
#endif
    (void)code;
}

int bv_dist_rank(void) { return g_rank; }
int bv_dist_world(void) { return g_world; }

void bv_dist_bcast(void *buf, size_t bytes) {
#ifdef BV_HAVE_MPI
    if (g_world == 1) return;
    char *p = buf;
    while (bytes > 0) {
        size_t k = bytes < (size_t)INT_MAX ? bytes : (size_t)INT_MAX;
        MPI_Bcast(p, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD);
        p += k;
        bytes -= k;
    }
#else
    (void)buf;
    (void)bytes;
#endif
}

void bv_dist_max_i64(int64_t *v, int n) {
#ifdef BV_HAVE_MPI
    if (g_world == 1) return;
    MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
#else
    (void)v;
    (void)n;
#endif
}

void bv_dist_sum_f32(float *v, int64_t n) {
#ifdef BV_HAVE_MPI
    if (g_world == 1) return;
    double t0 = now_s();
    for (int64_t at = 0; at < n;) {
        int64_t k = n - at < (int64_t)INT_MAX ? n - at : (int64_t)INT_MAX;
        MPI_Allreduce(MPI_IN_PLACE, v + at, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        at += k;
    }
    g_stats.seconds += now_s() - t0;
    g_stats.bytes += (double)n * sizeof(float);
    g_stats.calls++;
#else
    (void)v;
    (void)n;
#endif
}

void bv_dist_average_grads(bv_params *ps) {
    if (g_world == 1 || ps->n == 0) return;
    BV_ASSERT(ps->grad != NULL); /* bv_params_pack: one buffer, one all-reduce */
    /* MPI moves host memory: a device store needs a device collective (NCCL) on ps->grad - not yet */
    BV_ASSERT(ps->be == NULL || ps->be->mem.host_visible);
    /* the reducer's copy into its bucket: grad * wrapped_scalar_tensor(1. / world) in float32 */
    const float f = (float)(1.0 / (double)g_world);
    float *g = ps->grad;
    int64_t n = ps->numel;
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; i++) g[i] *= f;
    bv_dist_sum_f32(g, n);
}

uint64_t bv_dist_hash_bytes(const void *p, size_t n, uint64_t h) {
    /* FNV-1a over 64-bit words (then the tail bytes): ~8x faster than per byte on big stores */
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h ^= w;
        h *= 1099511628211ull;
    }
    for (; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t bv_dist_params_hash(const bv_params *ps, uint64_t h) {
    if (ps->data) return bv_dist_hash_bytes(ps->data, sizeof(float) * (size_t)ps->numel, h);
    for (int i = 0; i < ps->n; i++)
        h = bv_dist_hash_bytes(ps->items[i]->data, sizeof(float) * (size_t)ps->items[i]->numel, h);
    return h;
}

int bv_dist_same_everywhere(uint64_t h) {
    if (g_world == 1) return 1;
    /* max of h and of ~h (= ~min h): equal everywhere iff max == min */
    int64_t v[4] = {(int64_t)(h >> 32), (int64_t)(h & 0xffffffffu), (int64_t)((~h) >> 32),
                    (int64_t)((~h) & 0xffffffffu)};
    bv_dist_max_i64(v, 4);
    uint64_t mx = ((uint64_t)v[0] << 32) | (uint64_t)v[1];
    uint64_t mn = ~(((uint64_t)v[2] << 32) | (uint64_t)v[3]);
    return mx == mn;
}

bv_dist_stats bv_dist_get_stats(void) { return g_stats; }
void bv_dist_reset_stats(void) { memset(&g_stats, 0, sizeof g_stats); }
