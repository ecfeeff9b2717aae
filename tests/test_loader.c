/* test_loader.c - src/data/loader.c: the background loader delivers every planned batch in plan
 * order with the planned items (compared with a direct bv_dataset_get + bv_collate), gives the
 * same batches - random BERT features included - for 1 and 3 workers, survives a new plan in the
 * middle of an epoch and being freed with batches pending, reports a failing item as an error
 * naming the filelist line and file (then recovers with the next plan), and counts the time the
 * consumer waited. Datasets come from test_dataset.c's fixture helpers. */
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/data/loader.h"
#include "../src/data/sampler.h"
#include "fixtures.h"
#include "test.h"

/* fixture helpers defined in test_dataset.c */
int bv_test_data_config(bv_config *cfg, int add_blank, char *err, size_t errcap);
int bv_test_data_mkdir(char *dir, size_t cap);
int bv_test_data_make(const char *dir, int n, int add_blank, char *list, size_t cap);

typedef struct lfx {
    char dir[64], list[256];
    bv_config cfg;
    bv_dataset ds;
} lfx;

static int lfx_open(bv_test_state *ts, lfx *f, int n) {
    char err[512];
    BV_CHECK(bv_test_data_mkdir(f->dir, sizeof f->dir) == 0, "mkdtemp");
    BV_CHECK(!ts->failed && bv_test_data_make(f->dir, n, 1, f->list, sizeof f->list) == 0, "fixture");
    BV_CHECK(!ts->failed && bv_test_data_config(&f->cfg, 1, err, sizeof err) == 0, "config: %s", err);
    bv_dataset_opts o = {.base_dir = f->dir};
    BV_CHECK(!ts->failed && bv_dataset_open(&f->ds, f->list, &f->cfg, &o, err, sizeof err) == 0, "open: %s", err);
    if (ts->failed) bv_test_rm_rf(f->dir);
    return ts->failed ? -1 : 0;
}

static void lfx_close(lfx *f) {
    bv_dataset_free(&f->ds);
    bv_config_free(&f->cfg);
    bv_test_rm_rf(f->dir);
}

/* Same batch contents, random features excluded unless `all`. */
static int same_batch(const bv_batch *a, const bv_batch *b, int all) {
    if (a->B != b->B || a->max_text != b->max_text || a->max_spec != b->max_spec || a->max_wav != b->max_wav) return 0;
    int64_t B = a->B, T = a->max_text;
    size_t ni = sizeof(int64_t) * (size_t)(B * 7 + 3 * B * T);
    size_t nbert = sizeof(float) * (size_t)(B * BV_BERT_DIM * T);
    if (memcmp(a->index, b->index, ni) || memcmp(a->spec, b->spec, sizeof(float) * (size_t)(B * a->spec_channels * a->max_spec)) ||
        memcmp(a->wav, b->wav, sizeof(float) * (size_t)(B * a->max_wav)))
        return 0;
    return !all || !memcmp(a->bert, b->bert, 3 * nbert);
}

/* A plan: batches of 2 from the bucket sampler (one bucket holding everything). */
static int64_t make_plan(lfx *f, int64_t epoch, bv_bucket_sampler *s, char *err, size_t errcap) {
    static const int64_t bounds[2] = {0, 1000000};
    if (bv_bucket_sampler_init(s, f->ds.lengths, f->ds.n, 2, bounds, 2, 1, 0, 1, err, errcap)) return -1;
    bv_bucket_sampler_set_epoch(s, epoch);
    return bv_bucket_sampler_iter(s);
}

BV_TEST(loader_delivers_plan_in_order) {
    lfx f;
    if (lfx_open(ts, &f, 7)) return;
    char err[1024];
    bv_bucket_sampler s;
    int64_t nb = make_plan(&f, 4, &s, err, sizeof err);
    BV_CHECK(nb == 4, "plan of %lld batches: %s", (long long)nb, err);
    if (ts->failed) return lfx_close(&f);
    bv_loader *L = bv_loader_new(&f.ds, &(bv_loader_opts){.n_workers = 2, .prefetch = 2, .seed = 9});
    for (int epoch_pass = 0; epoch_pass < 2; epoch_pass++) {   /* the same loader runs two epochs */
        bv_loader_start(L, s.batches, nb, 2, 4);
        bv_batch *b;
        int64_t j = 0;
        int rc;
        while ((rc = bv_loader_next(L, &b, err, sizeof err)) == 1) {
            const int64_t *want = bv_bucket_sampler_batch(&s, j);
            /* rows are sorted by spectrogram length; the batch holds exactly the planned items */
            bv_item it[2];
            bv_rng rng;
            bv_rng_seed(&rng, 1);
            for (int k = 0; k < 2; k++) BV_CHECK(bv_dataset_get(&f.ds, want[k], ts->ctx, &rng, &it[k], err, sizeof err) == 0, "%s", err);
            bv_batch ref;
            bv_collate(&ref, it, 2);
            BV_CHECK(same_batch(b, &ref, 0), "batch %lld differs from a direct collate of its items", (long long)j);
            bv_batch_free(&ref);
            bv_item_free(&it[0]);
            bv_item_free(&it[1]);
            bv_loader_release(L, b);
            j++;
        }
        BV_CHECK(rc == 0 && j == nb, "rc %d after %lld batches: %s", rc, (long long)j, rc < 0 ? err : "");
        BV_CHECK(bv_loader_next(L, &b, err, sizeof err) == 0 && !b, "end of plan is sticky");
    }
    bv_loader_stats st = bv_loader_get_stats(L);
    BV_CHECK(st.delivered == 2 * nb && st.wait_s >= 0 && st.last_wait_s >= 0 && st.last_wait_s <= st.wait_s, "stats");
    bv_loader_free(L);
    bv_bucket_sampler_free(&s);
    lfx_close(&f);
}

/* All batches of one plan, collected. */
static int collect(bv_loader *L, const int64_t *idx, int64_t nb, int64_t epoch, bv_batch **out) {
    char err[1024];
    bv_loader_start(L, idx, nb, 2, epoch);
    for (int64_t j = 0; j < nb; j++)
        if (bv_loader_next(L, &out[j], err, sizeof err) != 1) return -1;
    return 0;
}

BV_TEST(loader_deterministic_across_workers) {
    lfx f;
    if (lfx_open(ts, &f, 6)) return;
    char err[512];
    bv_bucket_sampler s;
    int64_t nb = make_plan(&f, 2, &s, err, sizeof err);
    BV_CHECK(nb == 3, "plan: %s", err);
    if (ts->failed) return lfx_close(&f);
    bv_batch *a[3] = {0}, *b[3] = {0}, *c[3] = {0};
    bv_loader *L1 = bv_loader_new(&f.ds, &(bv_loader_opts){.n_workers = 1, .prefetch = 1, .seed = 5});
    bv_loader *L3 = bv_loader_new(&f.ds, &(bv_loader_opts){.n_workers = 3, .prefetch = 3, .seed = 5});
    BV_CHECK(collect(L1, s.batches, nb, 2, a) == 0 && collect(L3, s.batches, nb, 2, b) == 0, "loading");
    BV_CHECK(collect(L1, s.batches, nb, 3, c) == 0, "loading epoch 3");
    for (int j = 0; j < 3 && !ts->failed; j++) {
        BV_CHECK(same_batch(a[j], b[j], 1), "batch %d: 1 and 3 workers differ", j);
        BV_CHECK(same_batch(a[j], c[j], 0) && !same_batch(a[j], c[j], 1), "batch %d: another epoch redraws only the random features", j);
    }
    for (int j = 0; j < 3; j++) {
        bv_loader_release(L1, a[j]);
        bv_loader_release(L3, b[j]);
        bv_loader_release(L1, c[j]);
    }
    bv_loader_free(L1);
    bv_loader_free(L3);
    bv_bucket_sampler_free(&s);
    lfx_close(&f);
}

BV_TEST(loader_restart_and_free_midway) {
    lfx f;
    if (lfx_open(ts, &f, 6)) return;
    char err[512];
    bv_bucket_sampler s;
    int64_t nb = make_plan(&f, 0, &s, err, sizeof err);
    BV_CHECK(nb == 3, "plan: %s", err);
    if (ts->failed) return lfx_close(&f);
    bv_loader *L = bv_loader_new(&f.ds, &(bv_loader_opts){.n_workers = 2, .prefetch = 4, .seed = 1});
    bv_loader_start(L, s.batches, nb, 2, 0);
    bv_batch *b;
    BV_CHECK(bv_loader_next(L, &b, err, sizeof err) == 1, "first batch");
    bv_loader_release(L, b);
    /* a new plan while batches 1 and 2 are pending: they are dropped, the new plan starts at 0 */
    bv_loader_start(L, s.batches + 2 * 2, 1, 2, 0);
    BV_CHECK(bv_loader_next(L, &b, err, sizeof err) == 1, "restarted batch");
    if (b) {
        int64_t want0 = s.batches[4], want1 = s.batches[5];
        BV_CHECK((b->index[0] == want0 && b->index[1] == want1) || (b->index[0] == want1 && b->index[1] == want0),
                 "restarted plan delivers its own batch");
        bv_loader_release(L, b);
    }
    BV_CHECK(bv_loader_next(L, &b, err, sizeof err) == 0, "restarted plan has one batch");
    /* freed with a full plan pending: workers stop, nothing leaks or hangs */
    bv_loader_start(L, s.batches, nb, 2, 1);
    BV_CHECK(bv_loader_next(L, &b, err, sizeof err) == 1, "batch before free");
    bv_loader_free(L);
    bv_loader_release(NULL, b);   /* a batch held by the consumer outlives the loader */
    /* freed before any plan */
    bv_loader_free(bv_loader_new(&f.ds, NULL));
    bv_bucket_sampler_free(&s);
    lfx_close(&f);
}

BV_TEST(loader_reports_item_errors) {
    lfx f;
    if (lfx_open(ts, &f, 4)) return;
    /* dataset index 1's BERT file disappears after the dataset was opened */
    char p[512], err[1024];
    snprintf(p, sizeof p, "%s", f.ds.utts[1].bert_path);
    unlink(p);
    int64_t plan[6] = {0, 2, 1, 3, 2, 0};
    bv_loader *L = bv_loader_new(&f.ds, &(bv_loader_opts){.n_workers = 2, .prefetch = 2, .seed = 1});
    bv_loader_start(L, plan, 3, 2, 0);
    bv_batch *b;
    BV_CHECK(bv_loader_next(L, &b, err, sizeof err) == 1, "batch 0 is fine");
    bv_loader_release(L, b);
    BV_CHECK(bv_loader_next(L, &b, err, sizeof err) == -1 && !b, "batch 1 fails");
    char line[32];
    snprintf(line, sizeof line, ":%d: ", f.ds.utts[1].line);
    BV_CHECK(strstr(err, f.list) && strstr(err, line) && strstr(err, p), "message: %s", err);
    BV_CHECK(bv_loader_next(L, &b, err, sizeof err) == -1, "the failure persists");
    /* the next plan (without the bad item) loads again */
    int64_t good[2] = {3, 0};
    bv_loader_start(L, good, 1, 2, 1);
    BV_CHECK(bv_loader_next(L, &b, err, sizeof err) == 1, "recovered: %s", err);
    bv_loader_release(L, b);
    bv_loader_free(L);
    lfx_close(&f);
}
