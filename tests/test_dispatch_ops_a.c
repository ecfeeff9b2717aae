/* test_dispatch_ops_a.c - each op family moved behind the kernel table by the ops-a work (linalg,
 * lstm, spline, align, resample, stft, mel, conv) fails naming the op, the slot and the device on a
 * device whose table lacks the family. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../src/ops/align.h"
#include "../src/ops/conv_ref.h"
#include "../src/ops/dispatch.h"
#include "../src/ops/ops.h"
#include "../src/ops/resample.h"
#include "../src/audio/mel.h"
#include "test.h"

/* A device with CPU memory and an empty kernel table. */
static const bv_kernels k_none = {.device = "test-device"};

typedef struct {
    bv_backend be;
    bv_ctx ctx;
} fake_dev;

static void fake_init(fake_dev *f) {
    f->be = *bv_backend_get(BV_DEV_CPU);
    f->be.kernels = &k_none;
    f->be.name = "test-device";
    memset(f->be.cache, 0, sizeof f->be.cache);
    pthread_mutex_init(&f->be.lock, NULL);
    bv_ctx_init_on(&f->ctx, &f->be, 1 << 20, 1);
}

static void fake_free(fake_dev *f) {
    bv_ctx_free(&f->ctx);
    bv_backend_shutdown(&f->be);
    pthread_mutex_destroy(&f->be.lock);
}

#define EXPECT_MISSING(f, call, op, slot)                                                                   \
    do {                                                                                                    \
        char msg_[512];                                                                                     \
        BV_CHECK(BV_EXPECT_ERROR(&(f)->ctx, msg_, call), "%s: no error", op);                              \
        BV_CHECK(strstr(msg_, op) && strstr(msg_, "no " slot " kernel on device test-device"), "%s", msg_); \
    } while (0)

BV_TEST(dispatch_ops_a_linalg_missing) {
    fake_dev f;
    fake_init(&f);
    bv_tensor *a = bv_full(&f.ctx, BV_SHAPE(2, 3), 1.0f), *b = bv_full(&f.ctx, BV_SHAPE(3, 4), 1.0f);
    EXPECT_MISSING(&f, bv_matmul(&f.ctx, a, b), "matmul", "linalg.matmul");
    bv_tensor *w = bv_full(&f.ctx, BV_SHAPE(4, 3), 1.0f);
    EXPECT_MISSING(&f, bv_linear(&f.ctx, a, w, NULL), "linear", "linalg.linear");
    bv_tensor *ids = bv_zeros(&f.ctx, BV_I64, 1, (int64_t[]){2});
    EXPECT_MISSING(&f, bv_embedding(&f.ctx, w, ids), "embedding", "linalg.embedding");
    fake_free(&f);
}

BV_TEST(dispatch_ops_a_lstm_missing) {
    fake_dev f;
    fake_init(&f);
    const int64_t H = 2, In = 3;
    bv_tensor *x = bv_full(&f.ctx, BV_SHAPE(1, 4, In), 0.1f);
    bv_tensor *w[4] = {bv_full(&f.ctx, BV_SHAPE(4 * H, In), 0.1f), bv_full(&f.ctx, BV_SHAPE(4 * H, H), 0.1f),
                       bv_full(&f.ctx, BV_SHAPE(4 * H), 0.0f), bv_full(&f.ctx, BV_SHAPE(4 * H), 0.0f)};
    bv_tensor *y, *hn, *cn;
    EXPECT_MISSING(&f, bv_lstm(&f.ctx, x, w, 0, &y, &hn, &cn), "lstm", "lstm.forward");
    fake_free(&f);
}

BV_TEST(dispatch_ops_a_spline_missing) {
    fake_dev f;
    fake_init(&f);
    const int64_t K = 4;
    bv_tensor *x = bv_full(&f.ctx, BV_SHAPE(3), 0.1f), *uw = bv_full(&f.ctx, BV_SHAPE(3, K), 0.0f);
    bv_tensor *uh = bv_full(&f.ctx, BV_SHAPE(3, K), 0.0f), *ud = bv_full(&f.ctx, BV_SHAPE(3, K - 1), 0.0f);
    bv_tensor *y, *lad;
    EXPECT_MISSING(&f, bv_rq_spline(&f.ctx, x, uw, uh, ud, 0, 5.0f, 1e-3f, 1e-3f, 1e-3f, &y, &lad), "rq_spline",
                   "spline.forward");
    fake_free(&f);
}

BV_TEST(dispatch_ops_a_align_missing) {
    fake_dev f;
    fake_init(&f);
    bv_tensor *nc = bv_full(&f.ctx, BV_SHAPE(1, 3, 2), 0.0f), *m = bv_full(&f.ctx, BV_SHAPE(1, 3, 2), 1.0f);
    EXPECT_MISSING(&f, bv_maximum_path(&f.ctx, nc, m), "maximum_path", "align.mas_lengths");
    bv_tensor *dur = bv_full(&f.ctx, BV_SHAPE(1, 1, 2), 1.0f), *m4 = bv_full(&f.ctx, BV_SHAPE(1, 1, 3, 2), 1.0f);
    EXPECT_MISSING(&f, bv_generate_path(&f.ctx, dur, m4), "generate_path", "align.generate_path");
    bv_tensor *len = bv_zeros(&f.ctx, BV_I64, 1, (int64_t[]){2});
    EXPECT_MISSING(&f, bv_sequence_mask(&f.ctx, len, 0), "sequence_mask", "align.max_length");
    fake_free(&f);
}

BV_TEST(dispatch_ops_a_resample_missing) {
    fake_dev f;
    fake_init(&f);
    bv_tensor *x = bv_full(&f.ctx, BV_SHAPE(1, 64), 0.1f);
    EXPECT_MISSING(&f, bv_resample(&f.ctx, x, 3, 2), "resample", "resample.plan");
    BV_CHECK(bv_resample_kernel(&f.be, 3, 2, NULL, NULL, NULL) == NULL, "a device without resample kernels has none");
    fake_free(&f);
}

BV_TEST(dispatch_ops_a_stft_missing) {
    fake_dev f;
    fake_init(&f);
    bv_tensor *y = bv_full(&f.ctx, BV_SHAPE(1, 64), 0.1f);
    EXPECT_MISSING(&f, bv_spectrogram(&f.ctx, y, 16, 4, 16), "spectrogram", "stft.forward");
    fake_free(&f);
}

/* The caches of the stft, resample and mel code live in the context's backend (not process-wide):
 * made on first use, reused, and given back by bv_backend_shutdown. */
BV_TEST(dispatch_ops_a_caches_live_in_the_backend) {
    fake_dev f;
    fake_init(&f);
    f.be.kernels = bv_backend_get(BV_DEV_CPU)->kernels; /* a second CPU backend with its own caches */
    bv_tensor *y = bv_full(&f.ctx, BV_SHAPE(1, 256), 0.25f);
    bv_tensor *m1 = bv_mel_spectrogram(&f.ctx, y, 64, 8, 16000, 16, 64, 0.0, 0.0);
    void *mel = f.be.cache[BV_CACHE_MEL].p, *fft = f.be.cache[BV_CACHE_FFT].p;
    BV_CHECK(mel && fft, "mel %p fft %p: caches must be made in the context's backend", mel, fft);
    bv_tensor *m2 = bv_mel_spectrogram(&f.ctx, y, 64, 8, 16000, 16, 64, 0.0, 0.0);
    BV_CHECK(f.be.cache[BV_CACHE_MEL].p == mel && f.be.cache[BV_CACHE_FFT].p == fft, "%s", "caches must be reused");
    BV_CHECK(!memcmp(m1->data, m2->data, sizeof(float) * (size_t)m1->numel), "%s", "same input, other mel");
    BV_CHECK(bv_resample(&f.ctx, y, 3, 2) && f.be.cache[BV_CACHE_RESAMPLE].p, "%s", "resample cache not made");
    bv_backend_shutdown(&f.be);
    for (int i = 0; i < BV_CACHE_COUNT; i++) BV_CHECK(f.be.cache[i].p == NULL, "slot %d not given back", i);
    fake_free(&f);
}

BV_TEST(dispatch_ops_a_conv_missing) {
    fake_dev f;
    fake_init(&f);
    bv_tensor *x = bv_full(&f.ctx, BV_SHAPE(1, 2, 8), 0.1f), *w = bv_full(&f.ctx, BV_SHAPE(4, 2, 3), 0.1f);
    EXPECT_MISSING(&f, bv_conv1d(&f.ctx, x, w, NULL, 1, 1, 1, 1), "conv1d", "conv.forward");
    bv_tensor *x16 = bv_full(&f.ctx, BV_SHAPE(1, 16, 8), 0.1f);
    EXPECT_MISSING(&f, bv_conv_block(&f.ctx, x16), "conv_block", "conv.reorder");
    bv_tensor *g = bv_full(&f.ctx, BV_SHAPE(4, 1, 1), 1.0f);
    EXPECT_MISSING(&f, bv_weight_norm(&f.ctx, g, w, 0), "weight_norm", "conv.weight_norm");
    /* a device without conv kernels runs nothing blocked and has no primitive cache */
    BV_CHECK(bv_conv_layout_for(&f.be, 64) == BV_CONV_LAYOUT_PLAIN, "%s", "layout must be plain");
    BV_CHECK(bv_conv_cache_capacity(&f.be) == 0 && bv_conv_cache_used(&f.be) == 0, "%s", "no cache expected");
    fake_free(&f);
}

/* The layout is the backend's: a second CPU backend has its own choice and override, the override
 * of one does not change the other, and BV_CONV_LAYOUT is read when a backend's conv cache is made. */
BV_TEST(dispatch_ops_a_conv_layout_is_the_backends) {
    bv_backend *cpu = bv_backend_get(BV_DEV_CPU);
    fake_dev f;
    fake_init(&f);
    f.be.kernels = cpu->kernels;
    const bv_conv_layout mine = bv_conv_layout_for(cpu, 64);
    bv_conv_set_layout(&f.be, BV_CONV_LAYOUT_PLAIN);
    BV_CHECK(bv_conv_layout_for(&f.be, 64) == BV_CONV_LAYOUT_PLAIN, "%s", "override ignored");
    BV_CHECK(bv_conv_layout_for(cpu, 64) == mine, "%s", "one backend's override changed another's choice");
    BV_CHECK(bv_conv_layout_for(cpu, 24) == BV_CONV_LAYOUT_PLAIN, "%s", "24 channels cannot be blocked by 16");
    bv_backend_shutdown(&f.be);
    setenv("BV_CONV_LAYOUT", "plain", 1);
    BV_CHECK(bv_conv_layout_for(&f.be, 64) == BV_CONV_LAYOUT_PLAIN, "%s", "BV_CONV_LAYOUT=plain ignored");
    unsetenv("BV_CONV_LAYOUT");
    bv_backend_shutdown(&f.be);
    BV_CHECK(bv_conv_layout_for(&f.be, 64) == mine, "%s", "a fresh cache must choose as the CPU backend does");
    fake_free(&f);
}

/* Two threads, each with its own context, running convs (forward and backward) on the one CPU
 * backend at once: the primitive cache's lock keeps them apart; results equal a lone run's. */
typedef struct {
    int reps;
    float out[4 * 32];
    float gx[2 * 16 * 32];
} conv_job;

static void *conv_worker(void *arg) {
    conv_job *j = arg;
    bv_ctx c;
    bv_ctx_init(&c, 1 << 20, 7);
    for (int r = 0; r < j->reps; r++) {
        bv_tensor *x = bv_full(&c, BV_SHAPE(2, 16, 32), 0.0f);
        for (int64_t i = 0; i < x->numel; i++) x->data[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
        x->requires_grad = 1;
        bv_tensor *w = bv_full(&c, BV_SHAPE(4, 16, 5), 0.05f), *b = bv_full(&c, BV_SHAPE(4), 0.1f);
        bv_tensor *y = bv_conv1d(&c, x, w, b, 1, 2, 2, 1);
        bv_backward(&c, bv_sum(&c, bv_square(&c, y)), NULL);
        memcpy(j->out, y->data, sizeof j->out);
        memcpy(j->gx, x->grad, sizeof j->gx);
        bv_ctx_reset(&c);
    }
    bv_ctx_free(&c);
    return NULL;
}

BV_TEST(dispatch_ops_a_conv_from_two_threads) {
    static conv_job lone, a, b;
    lone.reps = 1;
    conv_worker(&lone);
    a.reps = b.reps = 20;
    pthread_t ta, tb;
    const int ra = pthread_create(&ta, NULL, conv_worker, &a), rb = pthread_create(&tb, NULL, conv_worker, &b);
    BV_CHECK(ra == 0 && rb == 0, "pthread_create: %d %d", ra, rb);
    if (ra == 0) pthread_join(ta, NULL);
    if (rb == 0) pthread_join(tb, NULL);
    if (ra || rb) return;
    BV_CHECK(!memcmp(a.out, lone.out, sizeof lone.out) && !memcmp(b.out, lone.out, sizeof lone.out), "%s",
             "threaded forward differs");
    BV_CHECK(!memcmp(a.gx, lone.gx, sizeof lone.gx) && !memcmp(b.gx, lone.gx, sizeof lone.gx), "%s",
             "threaded backward differs");
}
