/* sampler.h - the order in which upstream visits a dataset: data_utils.DistributedBucketSampler,
 * plus the two random permutations upstream's data path makes, reproduced bit for bit:
 *
 *  - TextAudioSpeakerLoader.__init__: random.seed(1234); random.shuffle(lines) - CPython's
 *    Mersenne Twister (init_by_array) and Fisher-Yates with _randbelow (getrandbits + rejection).
 *  - DistributedBucketSampler.__iter__: g = torch.Generator(); g.manual_seed(epoch);
 *    torch.randperm(n, generator=g) per bucket, then over the batches - torch's CPU mt19937
 *    (seeded with the 32-bit seed) and randperm_cpu's swap loop (z = random() % (n - i)), the
 *    algorithm torch keeps for n < 2^32 / 20. Checked against torch 1.13 (tests/test_sampler.c
 *    holds permutations torch printed).
 *
 * With the same filelist and epoch, bv2 therefore trains on the same batches in the same order as
 * upstream. (DataLoader workers do not change the order: the batch sampler decides it.)
 *
 *   bv_bucket_sampler s;
 *   if (bv_bucket_sampler_init(&s, ds.lengths, ds.n, batch_size, NULL, 0, n_gpus, rank, 1, err, sizeof err)) ...
 *   bv_bucket_sampler_set_epoch(&s, epoch);
 *   int64_t nb = bv_bucket_sampler_iter(&s);          // batches of this epoch
 *   for (j < nb) ... bv_bucket_sampler_batch(&s, j) -> batch_size dataset indices
 */
#ifndef BV_DATA_SAMPLER_H
#define BV_DATA_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

/* ---- MT19937 (the engine of CPython's random and of torch's CPU generator) ---- */
typedef struct bv_mt19937 {
    uint32_t mt[624];
    int mti;
} bv_mt19937;

void bv_mt_seed(bv_mt19937 *m, uint32_t seed);                               /* init_genrand */
void bv_mt_seed_array(bv_mt19937 *m, const uint32_t *key, int n);           /* init_by_array */
uint32_t bv_mt_u32(bv_mt19937 *m);                                           /* genrand_uint32 */

/* random.seed(seed) for a non-negative int seed < 2^64 (CPython: init_by_array of its 32-bit
 * little-endian words). */
void bv_py_random_seed(bv_mt19937 *m, uint64_t seed);
/* random.shuffle(x) on n elements of `elsize` bytes. */
void bv_py_shuffle(bv_mt19937 *m, void *x, int64_t n, size_t elsize);

/* torch.Generator().manual_seed(seed) (CPU: mt19937 seeded with the low 32 bits). */
void bv_torch_generator_seed(bv_mt19937 *m, uint64_t seed);
/* torch.randperm(n, generator=g) into out[n] (n < 2^32 / 20). */
void bv_torch_randperm(bv_mt19937 *g, int64_t n, int64_t *out);

/* ---- DistributedBucketSampler ---- */
#define BV_BUCKET_MAX_BOUNDARIES 64

/* train_ms.py's boundaries. */
extern const int64_t bv_default_bucket_boundaries[9];   /* 32, 300, 400, ..., 1000 */

typedef struct bv_bucket_sampler {
    int64_t batch_size;
    int num_replicas, rank, shuffle;
    int64_t epoch;
    /* boundaries after upstream removed the upper boundary of every empty bucket */
    int n_boundaries;
    int64_t boundaries[BV_BUCKET_MAX_BOUNDARIES];
    int n_buckets;
    int64_t **buckets;                 /* dataset indices per non-empty bucket, ascending */
    int64_t *bucket_len;
    int64_t *num_samples_per_bucket;   /* bucket_len padded up to a multiple of num_replicas * batch_size */
    int64_t total_size, num_samples;   /* sum of the padded sizes; total_size / num_replicas */
    int64_t n_dropped;                 /* lengths outside (boundaries[0], boundaries[last]] */
    /* filled by bv_bucket_sampler_iter */
    int64_t n_batches;
    int64_t *batches;                  /* [n_batches, batch_size] dataset indices */
} bv_bucket_sampler;

/* boundaries NULL: bv_default_bucket_boundaries. Each index i in [0, n) whose lengths[i] lies in
 * (b[k], b[k+1]] joins bucket k; others are dropped (upstream drops them silently; n_dropped
 * counts them). Returns 0, or -1 with err (no utterance in any bucket, bad sizes/rank). */
int bv_bucket_sampler_init(bv_bucket_sampler *s, const int64_t *lengths, int64_t n, int64_t batch_size,
                           const int64_t *boundaries, int n_boundaries, int num_replicas, int rank, int shuffle,
                           char *err, size_t errcap);
void bv_bucket_sampler_free(bv_bucket_sampler *s);

/* DistributedSampler.set_epoch: the epoch seeds the next iteration's shuffle. */
static inline void bv_bucket_sampler_set_epoch(bv_bucket_sampler *s, int64_t epoch) { s->epoch = epoch; }
/* __iter__: this rank's batches for the current epoch; returns their count (= len(sampler)). */
int64_t bv_bucket_sampler_iter(bv_bucket_sampler *s);
static inline const int64_t *bv_bucket_sampler_batch(const bv_bucket_sampler *s, int64_t j) {
    return s->batches + j * s->batch_size;
}
/* __len__: num_samples // batch_size. */
static inline int64_t bv_bucket_sampler_len(const bv_bucket_sampler *s) { return s->num_samples / s->batch_size; }

#endif
