/* test_sampler.c - src/data/sampler.c: MT19937 against its reference output; CPython's
 * random.seed(1234) + shuffle and torch's Generator.manual_seed + randperm against values those
 * printed (CPython 3.11, torch 1.13); DistributedBucketSampler against batches upstream's class
 * produced (torch 1.13) for 2 ranks and for 2 epochs; and its properties on random lengths: bucket
 * membership, batch count and size, padding by repetition, disjoint rank slices, epoch seeding. */
#include <stdlib.h>
#include <string.h>

#include "../src/data/sampler.h"
#include "test.h"

static int same_i64(const int64_t *a, const int64_t *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

BV_TEST(sampler_mt19937_reference) {
    bv_mt19937 m;
    bv_mt_seed(&m, 5489);   /* std::mt19937's default seed: first outputs are published */
    BV_CHECK(bv_mt_u32(&m) == 3499211612u, "first output");
    BV_CHECK(bv_mt_u32(&m) == 581869302u, "second output");
    bv_mt_seed(&m, 5489);
    uint32_t x = 0;
    for (int i = 0; i < 10000; i++) x = bv_mt_u32(&m);
    BV_CHECK(x == 4123659995u, "10000th output %u (C++ [rand.predef])", x);
}

BV_TEST(sampler_python_shuffle_seed_1234) {
    /* python3: random.seed(1234); l = list(range(n)); random.shuffle(l) */
    static const int64_t want10[10] = {2, 8, 3, 5, 6, 4, 9, 0, 1, 7};
    static const int64_t want3[3] = {2, 0, 1};
    static const int64_t want100_head[16] = {71, 80, 18, 26, 55, 51, 27, 98, 6, 75, 83, 7, 84, 20, 53, 25};
    static const int64_t want100_tail[7] = {4, 74, 11, 0, 14, 56, 99};
    int64_t v[100];
    bv_mt19937 m;
    for (int i = 0; i < 10; i++) v[i] = i;
    bv_py_random_seed(&m, 1234);
    bv_py_shuffle(&m, v, 10, sizeof v[0]);
    BV_CHECK(same_i64(v, want10, 10), "shuffle(range(10)) differs from CPython");
    for (int i = 0; i < 3; i++) v[i] = i;
    bv_py_random_seed(&m, 1234);
    bv_py_shuffle(&m, v, 3, sizeof v[0]);
    BV_CHECK(same_i64(v, want3, 3), "shuffle(range(3))");
    for (int i = 0; i < 100; i++) v[i] = i;
    bv_py_random_seed(&m, 1234);
    bv_py_shuffle(&m, v, 100, sizeof v[0]);
    BV_CHECK(same_i64(v, want100_head, 16) && same_i64(v + 93, want100_tail, 7), "shuffle(range(100))");
}

BV_TEST(sampler_torch_randperm) {
    /* g = torch.Generator(); g.manual_seed(s); torch.randperm(n, generator=g) (torch 1.13) */
    static const int64_t s0_10[10] = {4, 1, 7, 5, 3, 9, 0, 8, 6, 2};
    static const int64_t s0_then5[5] = {3, 2, 4, 0, 1};
    static const int64_t s3_17[17] = {16, 9, 1, 14, 4, 5, 6, 12, 15, 7, 0, 3, 2, 11, 13, 10, 8};
    int64_t p[17];
    bv_mt19937 g;
    bv_torch_generator_seed(&g, 0);
    bv_torch_randperm(&g, 10, p);
    BV_CHECK(same_i64(p, s0_10, 10), "randperm(10) seed 0");
    bv_torch_randperm(&g, 5, p);   /* the generator continues */
    BV_CHECK(same_i64(p, s0_then5, 5), "second randperm(5)");
    bv_torch_generator_seed(&g, 3);
    bv_torch_randperm(&g, 17, p);
    BV_CHECK(same_i64(p, s3_17, 17), "randperm(17) seed 3");
    bv_torch_randperm(&g, 1, p);
    BV_CHECK(p[0] == 0, "randperm(1)");
}

/* Lengths used with upstream's class to produce the expected batches below. */
static const int64_t LENGTHS[23] = {40, 310, 35, 520, 33, 10,  305, 999, 1200, 45, 301, 50,
                                    515, 36, 350, 60, 380, 390, 510, 70,  32,  33,  700};

BV_TEST(sampler_matches_upstream_two_ranks) {
    /* DistributedBucketSampler(ds, 3, [32, 300, ..., 1000], num_replicas=2, rank=r); set_epoch(5) */
    static const int64_t want[2][6][3] = {
        {{21, 11, 13}, {22, 22, 22}, {1, 6, 10}, {7, 7, 7}, {18, 3, 12}, {4, 9, 19}},
        {{19, 15, 2}, {22, 22, 22}, {17, 14, 16}, {7, 7, 7}, {12, 18, 3}, {0, 21, 11}},
    };
    static const int64_t want_bounds[6] = {32, 300, 400, 600, 700, 1000};
    static const int64_t want_nspb[5] = {12, 6, 6, 6, 6};
    char err[256];
    for (int rank = 0; rank < 2; rank++) {
        bv_bucket_sampler s;
        BV_CHECK(bv_bucket_sampler_init(&s, LENGTHS, 23, 3, NULL, 0, 2, rank, 1, err, sizeof err) == 0, "%s", err);
        if (ts->failed) return;
        BV_CHECK(s.n_boundaries == 6 && same_i64(s.boundaries, want_bounds, 6), "boundaries after removal");
        BV_CHECK(s.n_buckets == 5 && same_i64(s.num_samples_per_bucket, want_nspb, 5), "padded bucket sizes");
        BV_CHECK(s.n_dropped == 3 && bv_bucket_sampler_len(&s) == 6, "dropped %lld len %lld", (long long)s.n_dropped,
                 (long long)bv_bucket_sampler_len(&s));
        bv_bucket_sampler_set_epoch(&s, 5);
        int64_t nb = bv_bucket_sampler_iter(&s);
        BV_CHECK(nb == 6, "batches %lld", (long long)nb);
        for (int64_t j = 0; j < nb && j < 6; j++)
            BV_CHECK(same_i64(bv_bucket_sampler_batch(&s, j), want[rank][j], 3), "rank %d batch %lld", rank,
                     (long long)j);
        bv_bucket_sampler_free(&s);
    }
}

BV_TEST(sampler_matches_upstream_epochs) {
    /* num_replicas=1, batch 2: epochs 1 and 2 */
    static const int64_t want1[12][2] = {{11, 0}, {15, 13}, {21, 9}, {17, 14}, {18, 3}, {2, 11},
                                         {12, 18}, {19, 4}, {16, 1}, {10, 6}, {22, 22}, {7, 7}};
    static const int64_t want2[12][2] = {{7, 7}, {0, 21}, {3, 12}, {10, 1}, {12, 18}, {11, 0},
                                         {16, 6}, {22, 22}, {15, 9}, {17, 14}, {19, 2}, {4, 13}};
    char err[256];
    bv_bucket_sampler s;
    BV_CHECK(bv_bucket_sampler_init(&s, LENGTHS, 23, 2, NULL, 0, 1, 0, 1, err, sizeof err) == 0, "%s", err);
    if (ts->failed) return;
    bv_bucket_sampler_set_epoch(&s, 1);
    BV_CHECK(bv_bucket_sampler_iter(&s) == 12, "epoch 1 count");
    BV_CHECK(same_i64(s.batches, &want1[0][0], 24), "epoch 1 batches");
    bv_bucket_sampler_set_epoch(&s, 2);
    BV_CHECK(bv_bucket_sampler_iter(&s) == 12, "epoch 2 count");
    BV_CHECK(same_i64(s.batches, &want2[0][0], 24), "epoch 2 batches");
    bv_bucket_sampler_set_epoch(&s, 1);
    bv_bucket_sampler_iter(&s);
    BV_CHECK(same_i64(s.batches, &want1[0][0], 24), "epoch 1 again: same order");
    bv_bucket_sampler_free(&s);
}

/* Which bucket of the ORIGINAL boundaries holds length x (-1: none). */
static int bucket_of(const int64_t *b, int nb, int64_t x) {
    for (int k = 0; k + 1 < nb; k++)
        if (b[k] < x && x <= b[k + 1]) return k;
    return -1;
}

BV_TEST(sampler_properties_random_lengths) {
    static const int64_t bounds[5] = {10, 20, 40, 80, 160};
    enum { N = 97, R = 3, BS = 4 };
    int64_t len[N];
    bv_rng rng;
    bv_rng_seed(&rng, 7);
    for (int i = 0; i < N; i++) len[i] = 1 + (int64_t)(bv_rng_uniform(&rng) * 170);   /* some out of range */
    int expected_in = 0;
    for (int i = 0; i < N; i++) expected_in += bucket_of(bounds, 5, len[i]) >= 0;
    int seen_by_rank[R][N];
    memset(seen_by_rank, 0, sizeof seen_by_rank);
    int64_t total = 0;
    char err[256];
    for (int r = 0; r < R; r++) {
        bv_bucket_sampler s;
        BV_CHECK(bv_bucket_sampler_init(&s, len, N, BS, bounds, 5, R, r, 1, err, sizeof err) == 0, "%s", err);
        if (ts->failed) return;
        BV_CHECK(s.n_dropped == N - expected_in, "dropped");
        BV_CHECK(s.total_size % (R * BS) == 0 && s.num_samples * R == s.total_size, "padding to replicas*batch");
        bv_bucket_sampler_set_epoch(&s, 11);
        int64_t nb = bv_bucket_sampler_iter(&s);
        BV_CHECK(nb == bv_bucket_sampler_len(&s) && nb * BS == s.num_samples, "batch count");
        for (int64_t j = 0; j < nb; j++) {
            const int64_t *b = bv_bucket_sampler_batch(&s, j);
            int k0 = bucket_of(bounds, 5, len[b[0]]);
            for (int k = 0; k < BS; k++) {
                BV_CHECK(b[k] >= 0 && b[k] < N, "index range");
                BV_CHECK(bucket_of(bounds, 5, len[b[k]]) == k0 && k0 >= 0, "batch %lld mixes buckets", (long long)j);
                seen_by_rank[r][b[k]]++;
            }
        }
        total += nb * BS;
        bv_bucket_sampler_free(&s);
    }
    /* every in-range index appears; padding repeats at most replicas*batch-1 extra per bucket */
    int64_t extra = 0;
    for (int i = 0; i < N; i++) {
        int c = 0;
        for (int r = 0; r < R; r++) c += seen_by_rank[r][i];
        int in = bucket_of(bounds, 5, len[i]) >= 0;
        BV_CHECK(in ? c >= 1 : c == 0, "index %d (length %lld) seen %d times", i, (long long)len[i], c);
        if (in) extra += c - 1;
    }
    BV_CHECK(total == expected_in + extra && extra < 4 * R * BS, "total %lld", (long long)total);
}

BV_TEST(sampler_rank_slices_disjoint) {
    /* bucket sizes multiples of replicas * batch: no padding, so ranks split every bucket exactly */
    enum { N = 48, R = 2, BS = 3 };
    static const int64_t bounds[3] = {0, 100, 200};
    int64_t len[N];
    for (int i = 0; i < N; i++) len[i] = i < 24 ? 50 : 150;
    int owner[N];
    for (int i = 0; i < N; i++) owner[i] = -1;
    char err[256];
    for (int r = 0; r < R; r++) {
        bv_bucket_sampler s;
        BV_CHECK(bv_bucket_sampler_init(&s, len, N, BS, bounds, 3, R, r, 1, err, sizeof err) == 0, "%s", err);
        if (ts->failed) return;
        bv_bucket_sampler_set_epoch(&s, 3);
        int64_t nb = bv_bucket_sampler_iter(&s);
        BV_CHECK(nb == N / (R * BS), "batches per rank");
        for (int64_t k = 0; k < nb * BS; k++) {
            int64_t i = s.batches[k];
            BV_CHECK(owner[i] == -1, "index %lld given to ranks %d and %d", (long long)i, owner[i], r);
            owner[i] = r;
        }
        bv_bucket_sampler_free(&s);
    }
    for (int i = 0; i < N; i++) BV_CHECK(owner[i] >= 0, "index %d not given to any rank", i);
}

BV_TEST(sampler_no_shuffle_and_epochs) {
    static const int64_t bounds[2] = {0, 100};
    int64_t len[5] = {1, 2, 3, 4, 5};
    char err[256];
    bv_bucket_sampler s;
    BV_CHECK(bv_bucket_sampler_init(&s, len, 5, 2, bounds, 2, 1, 0, 0, err, sizeof err) == 0, "%s", err);
    if (ts->failed) return;
    /* shuffle=False: range order, padded by repetition from the start: 0 1 2 3 4 0 */
    static const int64_t want[6] = {0, 1, 2, 3, 4, 0};
    BV_CHECK(bv_bucket_sampler_iter(&s) == 3 && same_i64(s.batches, want, 6), "unshuffled order");
    bv_bucket_sampler_free(&s);
}

BV_TEST(sampler_errors) {
    char err[256];
    bv_bucket_sampler s;
    int64_t len[3] = {5, 2000, 20};
    BV_CHECK(bv_bucket_sampler_init(&s, len, 3, 2, NULL, 0, 1, 0, 1, err, sizeof err) == -1, "all out of range");
    BV_CHECK(strstr(err, "none of the 3 utterances") && strstr(err, "(32, 1000]"), "message: %s", err);
    BV_CHECK(bv_bucket_sampler_init(&s, len, 3, 2, NULL, 0, 2, 2, 1, err, sizeof err) == -1 && strstr(err, "rank 2"),
             "bad rank: %s", err);
    BV_CHECK(bv_bucket_sampler_init(&s, len, 3, 0, NULL, 0, 1, 0, 1, err, sizeof err) == -1 && strstr(err, "batch_size"),
             "bad batch size: %s", err);
    BV_CHECK(bv_bucket_sampler_init(&s, len, 0, 2, NULL, 0, 1, 0, 1, err, sizeof err) == -1 &&
                 strstr(err, "no utterances"),
             "empty dataset: %s", err);
    int64_t bad_bounds[3] = {10, 5, 20};
    BV_CHECK(bv_bucket_sampler_init(&s, len, 3, 1, bad_bounds, 3, 1, 0, 1, err, sizeof err) == -1 &&
                 strstr(err, "increase"),
             "unsorted boundaries: %s", err);
}
