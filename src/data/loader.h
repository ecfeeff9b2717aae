/* loader.h - torch's DataLoader as train_ms.py uses it (batch_sampler + collate_fn, workers,
 * prefetch), on pthreads: worker threads load items (bv_dataset_get) and collate whole batches
 * ahead of the training step, and the consumer receives them in the sampler's order.
 *
 * Up to `prefetch` batches are prepared ahead of the one the consumer asks for next, so a step
 * waits only if loading is slower than training; the time it did wait is measured (the "fraction
 * of step time waiting for data"). Workers run their spectrogram FFTs single-threaded, leaving the
 * OpenMP cores to the step.
 *
 * Random BERT features are drawn from an rng seeded per (seed, epoch, batch, row), so batches do
 * not depend on the number of workers or on thread timing.
 *
 *   bv_loader *L = bv_loader_new(&ds, &(bv_loader_opts){.n_workers = 2, .prefetch = 4, .seed = 1234});
 *   bv_bucket_sampler_set_epoch(&s, epoch);
 *   int64_t nb = bv_bucket_sampler_iter(&s);
 *   bv_loader_start(L, s.batches, nb, s.batch_size, epoch);
 *   bv_batch *b;
 *   while ((rc = bv_loader_next(L, &b, err, sizeof err)) == 1) { ... step ...; bv_loader_release(L, b); }
 *   if (rc < 0) { error: err names the filelist line and file }
 *   bv_loader_free(L);
 */
#ifndef BV_DATA_LOADER_H
#define BV_DATA_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"

typedef struct bv_loader bv_loader;

typedef struct bv_loader_opts {
    int n_workers;    /* threads preparing batches (config.yml train_ms.num_workers); < 1 means 1 */
    int prefetch;     /* batches prepared ahead; < 1 means 4 (train_ms: prefetch_factor=4) */
    uint64_t seed;    /* seeds the random BERT features */
} bv_loader_opts;

typedef struct bv_loader_stats {
    int64_t delivered;    /* batches handed to the consumer since bv_loader_new */
    double wait_s;        /* total time bv_loader_next blocked waiting for a batch */
    double last_wait_s;   /* ... in its latest call */
} bv_loader_stats;

/* The dataset must outlive the loader. Starts the worker threads (idle until bv_loader_start). */
bv_loader *bv_loader_new(const bv_dataset *ds, const bv_loader_opts *opts);
/* Stops the workers (a batch being loaded is finished first) and frees undelivered batches.
 * Batches the consumer still holds stay valid; release them before or after. */
void bv_loader_free(bv_loader *L);

/* Plan an epoch: n_batches batches of batch_size dataset indices each, indices[j * batch_size + k].
 * The list is copied. Batches of an unfinished previous plan are dropped. */
void bv_loader_start(bv_loader *L, const int64_t *indices, int64_t n_batches, int64_t batch_size, int64_t epoch);

/* The next batch in plan order: 1 (*out set; give it back with bv_loader_release), 0 at the end of
 * the plan, -1 when loading one of its items failed (err names the filelist line and the file; the
 * loader stays failed until the next bv_loader_start). */
int bv_loader_next(bv_loader *L, bv_batch **out, char *err, size_t errcap);
void bv_loader_release(bv_loader *L, bv_batch *b);

bv_loader_stats bv_loader_get_stats(bv_loader *L);

#endif
