/* loader.c - background batch loading with prefetch and in-order delivery (see loader.h).
 *
 * Batch j of a plan is built by whichever worker claims it and parked in slot j % prefetch; a
 * worker may claim j only while j < next_deliver + prefetch, so a slot is always free when claimed.
 * The consumer takes slot next_deliver % prefetch once it holds batch next_deliver. */
#include "loader.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/error.h"

#define LOADER_ARENA_CHUNK ((size_t)16 << 20)

typedef enum { SLOT_EMPTY = 0, SLOT_BUSY, SLOT_READY, SLOT_FAILED } slot_state;

typedef struct slot {
    slot_state state;
    int64_t j;            /* batch number it holds (READY / FAILED) or builds (BUSY) */
    bv_batch *batch;
    char err[1024];
} slot;

typedef struct worker {
    bv_loader *L;
    pthread_t thread;
    bv_ctx work;          /* scratch arena for spectrograms */
} worker;

struct bv_loader {
    const bv_dataset *ds;
    uint64_t seed;
    int n_workers, prefetch;
    worker *workers;
    slot *slots;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;   /* workers: a batch can be claimed, or stop */
    pthread_cond_t ready_cv;  /* consumer: a slot became READY / FAILED; start(): a worker went idle */
    int stop, busy, failed;
    /* the plan */
    int64_t *indices, n_batches, batch_size, epoch;
    int64_t next_claim, next_deliver;
    bv_loader_stats stats;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64 finaliser: independent streams per (seed, epoch, batch, row). */
static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Load and collate one batch; 0, or -1 with err. */
static int build_batch(worker *w, const int64_t *idx, int64_t bs, int64_t epoch, int64_t j, bv_batch **out,
                       char *err, size_t errcap) {
    bv_loader *L = w->L;
    bv_item *items = bv_xcalloc((size_t)bs, sizeof *items);
    int rc = 0;
    int64_t k;
    for (k = 0; k < bs && !rc; k++) {
        bv_rng rng;
        bv_rng_seed(&rng, mix(mix(mix(L->seed) ^ (uint64_t)epoch) ^ (uint64_t)j) ^ (uint64_t)k);
        rc = bv_dataset_get(L->ds, idx[k], &w->work, &rng, &items[k], err, errcap);
    }
    if (!rc) {
        *out = bv_xmalloc(sizeof **out);
        bv_collate(*out, items, bs);
    }
    for (int64_t i = 0; i < bs; i++) bv_item_free(&items[i]);
    free(items);
    return rc;
}

static int can_claim(const bv_loader *L) {
    return L->next_claim < L->n_batches && L->next_claim < L->next_deliver + L->prefetch && !L->failed;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    bv_loader *L = w->L;
    omp_set_num_threads(1);   /* this thread's FFTs stay on one core; the step owns the rest */
    int64_t *idx = bv_xmalloc(sizeof(int64_t));
    int64_t idx_cap = 1;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->stop && !can_claim(L)) pthread_cond_wait(&L->work_cv, &L->mu);
        if (L->stop) break;
        int64_t j = L->next_claim++, bs = L->batch_size, epoch = L->epoch;
        if (bs > idx_cap) idx = bv_xrealloc(idx, sizeof(int64_t) * (size_t)(idx_cap = bs));
        memcpy(idx, L->indices + j * bs, sizeof(int64_t) * (size_t)bs);
        slot *s = &L->slots[j % L->prefetch];
        s->state = SLOT_BUSY;
        s->j = j;
        L->busy++;
        pthread_mutex_unlock(&L->mu);

        bv_batch *b = NULL;
        char err[sizeof s->err];
        int rc = build_batch(w, idx, bs, epoch, j, &b, err, sizeof err);

        pthread_mutex_lock(&L->mu);
        if (rc) {
            s->state = SLOT_FAILED;
            snprintf(s->err, sizeof s->err, "%s", err);
        } else {
            s->state = SLOT_READY;
            s->batch = b;
        }
        L->busy--;
        pthread_cond_broadcast(&L->ready_cv);
    }
    pthread_mutex_unlock(&L->mu);
    free(idx);
    return NULL;
}

bv_loader *bv_loader_new(const bv_dataset *ds, const bv_loader_opts *opts) {
    bv_loader *L = bv_xcalloc(1, sizeof *L);
    L->ds = ds;
    L->seed = opts ? opts->seed : 0;
    L->n_workers = opts && opts->n_workers > 0 ? opts->n_workers : 1;
    L->prefetch = opts && opts->prefetch > 0 ? opts->prefetch : 4;
    L->slots = bv_xcalloc((size_t)L->prefetch, sizeof *L->slots);
    L->indices = bv_xmalloc(sizeof(int64_t));
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->work_cv, NULL);
    pthread_cond_init(&L->ready_cv, NULL);
    L->workers = bv_xcalloc((size_t)L->n_workers, sizeof *L->workers);
    for (int i = 0; i < L->n_workers; i++) {
        worker *w = &L->workers[i];
        w->L = L;
        bv_ctx_init(&w->work, LOADER_ARENA_CHUNK, 0);
        if (pthread_create(&w->thread, NULL, worker_main, w)) BV_FATAL("cannot start data loader thread %d", i);
    }
    return L;
}

/* Under the lock, with no worker busy: drop every parked batch. */
static void clear_slots(bv_loader *L) {
    for (int i = 0; i < L->prefetch; i++) {
        slot *s = &L->slots[i];
        if (s->batch) {
            bv_batch_free(s->batch);
            free(s->batch);
        }
        memset(s, 0, sizeof *s);
    }
}

void bv_loader_free(bv_loader *L) {
    if (!L) return;
    pthread_mutex_lock(&L->mu);
    L->stop = 1;
    pthread_cond_broadcast(&L->work_cv);
    pthread_mutex_unlock(&L->mu);
    for (int i = 0; i < L->n_workers; i++) {
        pthread_join(L->workers[i].thread, NULL);
        bv_ctx_free(&L->workers[i].work);
    }
    clear_slots(L);
    pthread_cond_destroy(&L->ready_cv);
    pthread_cond_destroy(&L->work_cv);
    pthread_mutex_destroy(&L->mu);
    free(L->workers);
    free(L->slots);
    free(L->indices);
    free(L);
}

void bv_loader_start(bv_loader *L, const int64_t *indices, int64_t n_batches, int64_t batch_size, int64_t epoch) {
    BV_ASSERT(n_batches >= 0 && (n_batches == 0 || batch_size >= 1));
    pthread_mutex_lock(&L->mu);
    L->n_batches = 0;   /* no new claims; let batches in progress finish */
    while (L->busy > 0) pthread_cond_wait(&L->ready_cv, &L->mu);
    clear_slots(L);
    free(L->indices);
    size_t n = (size_t)(n_batches * batch_size);
    L->indices = bv_xmalloc(sizeof(int64_t) * (n ? n : 1));
    if (n) memcpy(L->indices, indices, sizeof(int64_t) * n);
    L->n_batches = n_batches;
    L->batch_size = batch_size;
    L->epoch = epoch;
    L->next_claim = L->next_deliver = 0;
    L->failed = 0;
    pthread_cond_broadcast(&L->work_cv);
    pthread_mutex_unlock(&L->mu);
}

int bv_loader_next(bv_loader *L, bv_batch **out, char *err, size_t errcap) {
    *out = NULL;
    pthread_mutex_lock(&L->mu);
    if (L->next_deliver >= L->n_batches) {
        pthread_mutex_unlock(&L->mu);
        return 0;
    }
    slot *s = &L->slots[L->next_deliver % L->prefetch];
    double t0 = now_s();
    while (!((s->state == SLOT_READY || s->state == SLOT_FAILED) && s->j == L->next_deliver))
        pthread_cond_wait(&L->ready_cv, &L->mu);
    double waited = now_s() - t0;
    L->stats.wait_s += waited;
    L->stats.last_wait_s = waited;
    int rc = 1;
    if (s->state == SLOT_FAILED) {
        snprintf(err, errcap, "%s", s->err);
        L->failed = 1;   /* stop claiming; the slot keeps the error for repeated calls */
        rc = -1;
    } else {
        *out = s->batch;
        s->batch = NULL;
        s->state = SLOT_EMPTY;
        L->next_deliver++;
        L->stats.delivered++;
        pthread_cond_broadcast(&L->work_cv);
    }
    pthread_mutex_unlock(&L->mu);
    return rc;
}

void bv_loader_release(bv_loader *L, bv_batch *b) {
    (void)L;
    if (!b) return;
    bv_batch_free(b);
    free(b);
}

bv_loader_stats bv_loader_get_stats(bv_loader *L) {
    pthread_mutex_lock(&L->mu);
    bv_loader_stats s = L->stats;
    pthread_mutex_unlock(&L->mu);
    return s;
}
