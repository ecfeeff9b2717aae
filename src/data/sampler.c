/* sampler.c - MT19937, CPython's shuffle, torch's randperm and DistributedBucketSampler
 * (see sampler.h). */
#include "sampler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

/* ---------------- MT19937 (Matsumoto & Nishimura, mt19937ar.c) ---------------- */

void bv_mt_seed(bv_mt19937 *m, uint32_t seed) {
    m->mt[0] = seed;
    for (int i = 1; i < 624; i++) m->mt[i] = 1812433253u * (m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) + (uint32_t)i;
    m->mti = 624;
}

void bv_mt_seed_array(bv_mt19937 *m, const uint32_t *key, int n) {
    bv_mt_seed(m, 19650218u);
    int i = 1, j = 0;
    for (int k = 624 > n ? 624 : n; k; k--) {
        m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= 624) {
            m->mt[0] = m->mt[623];
            i = 1;
        }
        if (j >= n) j = 0;
    }
    for (int k = 623; k; k--) {
        m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) {
            m->mt[0] = m->mt[623];
            i = 1;
        }
    }
    m->mt[0] = 0x80000000u;
}

static void mt_generate(bv_mt19937 *m) {
    static const uint32_t mag01[2] = {0u, 0x9908b0dfu};
    int k;
    uint32_t y;
    for (k = 0; k < 624 - 397; k++) {
        y = (m->mt[k] & 0x80000000u) | (m->mt[k + 1] & 0x7fffffffu);
        m->mt[k] = m->mt[k + 397] ^ (y >> 1) ^ mag01[y & 1u];
    }
    for (; k < 623; k++) {
        y = (m->mt[k] & 0x80000000u) | (m->mt[k + 1] & 0x7fffffffu);
        m->mt[k] = m->mt[k + (397 - 624)] ^ (y >> 1) ^ mag01[y & 1u];
    }
    y = (m->mt[623] & 0x80000000u) | (m->mt[0] & 0x7fffffffu);
    m->mt[623] = m->mt[396] ^ (y >> 1) ^ mag01[y & 1u];
    m->mti = 0;
}

uint32_t bv_mt_u32(bv_mt19937 *m) {
    if (m->mti >= 624) mt_generate(m);
    uint32_t y = m->mt[m->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* ---------------- CPython random ---------------- */

void bv_py_random_seed(bv_mt19937 *m, uint64_t seed) {
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    bv_mt_seed_array(m, key, key[1] ? 2 : 1);   /* as many 32-bit words as the int needs, at least 1 */
}

/* Random._randbelow_with_getrandbits(n): k = n.bit_length(); draw getrandbits(k) until < n. */
static uint64_t py_randbelow(bv_mt19937 *m, uint64_t n) {
    int k = 0;
    while (k < 64 && (n >> k)) k++;
    BV_ASSERT(k <= 32);   /* getrandbits(k) for k <= 32 is one word; lists here are far shorter */
    uint64_t r;
    do r = bv_mt_u32(m) >> (32 - k);
    while (r >= n);
    return r;
}

void bv_py_shuffle(bv_mt19937 *m, void *x, int64_t n, size_t elsize) {
    unsigned char *b = x, tmp[256];
    BV_ASSERT(elsize <= sizeof tmp);
    for (int64_t i = n - 1; i >= 1; i--) {   /* for i in reversed(range(1, len(x))) */
        int64_t j = (int64_t)py_randbelow(m, (uint64_t)i + 1);
        memcpy(tmp, b + (size_t)i * elsize, elsize);
        memcpy(b + (size_t)i * elsize, b + (size_t)j * elsize, elsize);
        memcpy(b + (size_t)j * elsize, tmp, elsize);
    }
}

/* ---------------- torch CPU generator ---------------- */

void bv_torch_generator_seed(bv_mt19937 *m, uint64_t seed) { bv_mt_seed(m, (uint32_t)(seed & 0xffffffffu)); }

void bv_torch_randperm(bv_mt19937 *g, int64_t n, int64_t *out) {
    BV_ASSERT(n < (int64_t)(UINT32_MAX / 20));   /* torch switches algorithm above this */
    for (int64_t i = 0; i < n; i++) out[i] = i;
    for (int64_t i = 0; i < n - 1; i++) {
        int64_t z = (int64_t)(bv_mt_u32(g) % (uint64_t)(n - i));
        int64_t t = out[i];
        out[i] = out[z + i];
        out[z + i] = t;
    }
}

/* ---------------- DistributedBucketSampler ---------------- */

const int64_t bv_default_bucket_boundaries[9] = {32, 300, 400, 500, 600, 700, 800, 900, 1000};

/* _bisect: the bucket k with b[k] < x <= b[k+1], or -1. (Upstream recurses; same result.) */
static int bisect_bucket(const int64_t *b, int nb, int64_t x) {
    int lo = 0, hi = nb - 1;
    while (hi > lo) {
        int mid = (hi + lo) / 2;
        if (b[mid] < x && x <= b[mid + 1]) return mid;
        if (x <= b[mid]) hi = mid;
        else lo = mid + 1;
    }
    return -1;
}

static int check_args(int64_t batch_size, const int64_t *b, int nb, int num_replicas, int rank, char *err,
                      size_t errcap) {
    if (batch_size < 1) return snprintf(err, errcap, "bucket sampler: batch_size %lld < 1", (long long)batch_size), -1;
    if (num_replicas < 1 || rank < 0 || rank >= num_replicas)
        return snprintf(err, errcap, "bucket sampler: rank %d is not in [0, num_replicas = %d)", rank, num_replicas), -1;
    if (nb < 2 || nb > BV_BUCKET_MAX_BOUNDARIES)
        return snprintf(err, errcap, "bucket sampler: %d boundaries (need 2..%d)", nb, BV_BUCKET_MAX_BOUNDARIES), -1;
    for (int i = 1; i < nb; i++)
        if (b[i] <= b[i - 1])
            return snprintf(err, errcap, "bucket sampler: boundaries must increase (%lld after %lld)", (long long)b[i],
                            (long long)b[i - 1]),
                   -1;
    return 0;
}

int bv_bucket_sampler_init(bv_bucket_sampler *s, const int64_t *lengths, int64_t n, int64_t batch_size,
                           const int64_t *boundaries, int n_boundaries, int num_replicas, int rank, int shuffle,
                           char *err, size_t errcap) {
    memset(s, 0, sizeof *s);
    if (!boundaries) {
        boundaries = bv_default_bucket_boundaries;
        n_boundaries = 9;
    }
    if (check_args(batch_size, boundaries, n_boundaries, num_replicas, rank, err, errcap)) return -1;
    int nbk = n_boundaries - 1;
    int64_t *count = bv_xcalloc((size_t)nbk, sizeof(int64_t));
    int *which = bv_xmalloc(sizeof(int) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) {
        which[i] = bisect_bucket(boundaries, n_boundaries, lengths[i]);
        if (which[i] >= 0) count[which[i]]++;
        else s->n_dropped++;
    }
    if (n == 0) {
        snprintf(err, errcap, "bucket sampler: the dataset has no utterances");
        free(count);
        free(which);
        return -1;
    }
    if (s->n_dropped == n) {
        snprintf(err, errcap,
                 "bucket sampler: none of the %lld utterances has a length estimate in (%lld, %lld] frames "
                 "(estimate = wav file bytes / (2 * hop_length)); all are too short or too long",
                 (long long)n, (long long)boundaries[0], (long long)boundaries[n_boundaries - 1]);
        free(count);
        free(which);
        return -1;
    }
    /* Empty buckets are removed together with their upper boundary (upstream pops both; with its
     * try/except the first bucket goes too when it is empty). */
    int *slot = bv_xmalloc(sizeof(int) * (size_t)nbk);
    s->boundaries[s->n_boundaries++] = boundaries[0];
    for (int k = 0; k < nbk; k++) {
        slot[k] = count[k] ? s->n_buckets++ : -1;
        if (count[k]) s->boundaries[s->n_boundaries++] = boundaries[k + 1];
    }
    s->batch_size = batch_size;
    s->num_replicas = num_replicas;
    s->rank = rank;
    s->shuffle = shuffle;
    s->buckets = bv_xcalloc((size_t)s->n_buckets, sizeof(int64_t *));
    s->bucket_len = bv_xcalloc((size_t)s->n_buckets, sizeof(int64_t));
    s->num_samples_per_bucket = bv_xcalloc((size_t)s->n_buckets, sizeof(int64_t));
    for (int k = 0; k < nbk; k++)
        if (slot[k] >= 0) s->buckets[slot[k]] = bv_xmalloc(sizeof(int64_t) * (size_t)count[k]);
    for (int64_t i = 0; i < n; i++)
        if (which[i] >= 0) {
            int b = slot[which[i]];
            s->buckets[b][s->bucket_len[b]++] = i;
        }
    int64_t total_batch = (int64_t)num_replicas * batch_size;
    for (int b = 0; b < s->n_buckets; b++) {
        int64_t len = s->bucket_len[b], rem = (total_batch - len % total_batch) % total_batch;
        s->num_samples_per_bucket[b] = len + rem;
        s->total_size += len + rem;
    }
    s->num_samples = s->total_size / num_replicas;
    free(slot);
    free(count);
    free(which);
    return 0;
}

void bv_bucket_sampler_free(bv_bucket_sampler *s) {
    for (int b = 0; b < s->n_buckets; b++) free(s->buckets[b]);
    free(s->buckets);
    free(s->bucket_len);
    free(s->num_samples_per_bucket);
    free(s->batches);
    memset(s, 0, sizeof *s);
}

/* One bucket's batches for this rank: pad the (shuffled) order by repetition to the padded size,
 * take every num_replicas-th element from rank, cut into whole batches. Appends to out. */
static int64_t bucket_batches(const bv_bucket_sampler *s, int b, const int64_t *perm, int64_t *out) {
    int64_t len = s->bucket_len[b], padded = s->num_samples_per_bucket[b];
    /* ids_bucket + ids_bucket * (rem // len) + ids_bucket[:rem % len] is perm repeated cyclically */
    int64_t n_rank = 0;
    for (int64_t p = s->rank; p < padded; p += s->num_replicas) n_rank++;
    int64_t n_batches = n_rank / s->batch_size, k = 0;
    for (int64_t p = s->rank; k < n_batches * s->batch_size; p += s->num_replicas)
        out[k++] = s->buckets[b][perm[p % len]];
    return n_batches;
}

int64_t bv_bucket_sampler_iter(bv_bucket_sampler *s) {
    bv_mt19937 g;
    bv_torch_generator_seed(&g, (uint64_t)s->epoch);
    int64_t **perm = bv_xcalloc((size_t)s->n_buckets, sizeof(int64_t *));
    for (int b = 0; b < s->n_buckets; b++) {   /* all bucket permutations first, as upstream */
        perm[b] = bv_xmalloc(sizeof(int64_t) * (size_t)s->bucket_len[b]);
        if (s->shuffle) bv_torch_randperm(&g, s->bucket_len[b], perm[b]);
        else
            for (int64_t i = 0; i < s->bucket_len[b]; i++) perm[b][i] = i;
    }
    int64_t cap = s->num_samples / s->batch_size + s->n_buckets;
    int64_t *all = bv_xmalloc(sizeof(int64_t) * (size_t)(cap * s->batch_size));
    int64_t nb = 0;
    for (int b = 0; b < s->n_buckets; b++) {
        nb += bucket_batches(s, b, perm[b], all + nb * s->batch_size);
        free(perm[b]);
    }
    free(perm);
    free(s->batches);
    s->batches = bv_xmalloc(sizeof(int64_t) * (size_t)((nb ? nb : 1) * s->batch_size));
    if (s->shuffle) {
        int64_t *order = bv_xmalloc(sizeof(int64_t) * (size_t)(nb ? nb : 1));
        bv_torch_randperm(&g, nb, order);
        for (int64_t j = 0; j < nb; j++)
            memcpy(s->batches + j * s->batch_size, all + order[j] * s->batch_size, sizeof(int64_t) * (size_t)s->batch_size);
        free(order);
    } else {
        memcpy(s->batches, all, sizeof(int64_t) * (size_t)(nb * s->batch_size));
    }
    free(all);
    s->n_batches = nb;
    /* upstream asserts len(batches) * batch_size == num_samples; padding guarantees it */
    BV_ASSERT(nb * s->batch_size == s->num_samples);
    return nb;
}
