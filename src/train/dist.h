/* dist.h - data-parallel training across processes with MPI: what torch.distributed + DDP give
 * upstream's train_ms.py, on an existing distributed engine (OpenMPI).
 *
 * A process started by mpirun (OpenMPI's OMPI_COMM_WORLD_SIZE, or PMI_SIZE / PMIX_RANK of other
 * launchers in its environment) joins MPI_COMM_WORLD; any other process is rank 0 of 1 and never
 * touches MPI, so a plain `bv2 train` stays one process and a build without MPI (make MPI=0)
 * still trains. Every call below is a no-op (or a copy) on a world of one.
 *
 * DDP semantics reproduced (torch 1.13 reducer, train_ms.py's DDP(net, bucket_cap_mb=512)):
 *  - construction broadcasts rank 0's parameters: bv_dist_bcast over each store's contiguous
 *    buffer (bv_params_pack);
 *  - every backward averages each parameter's gradient: the reducer copies grad * (1 / world)
 *    into its bucket (a float32 multiply by the float32 value of the python double 1/world), then
 *    all-reduces the bucket with SUM; bv_dist_average_grads does exactly that on the store's one
 *    contiguous gradient buffer (one MPI_Allreduce per network and backward).
 *  - parameters that got no gradient on a rank contribute zeros (their grad is zeroed before the
 *    backward, as the reducer zeroes the bucket view of an unused parameter); v2.3 wraps no network
 *    with find_unused_parameters, so every trainable parameter has a grad on every rank anyway.
 *
 * Errors are MPI's default (MPI_ERRORS_ARE_FATAL): a failed collective ends the job, and mpirun
 * ends every rank when one exits non-zero or is killed. bv_dist_abort ends the job on purpose.
 */
#ifndef BV_TRAIN_DIST_H
#define BV_TRAIN_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "../core/params.h"

/* Joins MPI when launched by mpirun (idempotent; MPI_Init_thread FUNNELED: only the main thread
 * talks to MPI). Returns 0, or -1 with err when the environment says mpirun but this build has no
 * MPI (make MPI=0). */
int bv_dist_init(char *err, size_t errcap);
/* MPI_Finalize after a run that ended the same way on every rank (no-op on a world of one). */
void bv_dist_finalize(void);
/* Ends every rank of the job with `code` (MPI_Abort); returns only on a world of one. */
void bv_dist_abort(int code);

int bv_dist_rank(void);
int bv_dist_world(void);
/* 1 when this build links MPI. */
int bv_dist_compiled(void);

/* Rank 0's bytes into buf on every rank. */
void bv_dist_bcast(void *buf, size_t bytes);
/* Elementwise max of n int64 across ranks, in place. */
void bv_dist_max_i64(int64_t *v, int n);
/* Elementwise sum of n floats across ranks, in place (chunked below INT_MAX elements). */
void bv_dist_sum_f32(float *v, int64_t n);

/* DDP's gradient averaging for one network: g = sum_r fl(g_r * fl(1 / world)) over the store's
 * contiguous gradient buffer (bv_params_pack). Counts bytes and seconds (bv_dist_stats). */
void bv_dist_average_grads(bv_params *ps);

/* FNV-1a (over 64-bit words) of the bits of every parameter of the store, chained from h (the sync check). */
uint64_t bv_dist_params_hash(const bv_params *ps, uint64_t h);
#define BV_DIST_HASH_INIT 1469598103934665603ull
/* FNV-1a over 64-bit words then the tail bytes, chained from h. */
uint64_t bv_dist_hash_bytes(const void *p, size_t n, uint64_t h);
/* 1 when h is the same on every rank (one small all-reduce). */
int bv_dist_same_everywhere(uint64_t h);

/* Gradient all-reduce traffic since the last reset: calls, payload bytes (per rank, one way) and
 * wall seconds inside MPI_Allreduce. */
typedef struct bv_dist_stats {
    int64_t calls;
    double bytes;
    double seconds;
} bv_dist_stats;
bv_dist_stats bv_dist_get_stats(void);
void bv_dist_reset_stats(void);

#endif
