/* bench_infer.c - inference speed: the real-time factor (synthesis time / audio time) of
 * SynthesizerTrn.infer at upstream's default configs/config.json dimensions (hidden 192, filter 768,
 * inter 192, gin 512, 6 layers, HiFi-GAN 512 [8,8,2,2,2] x [16,16,8,2,2] resblock "1", transformer
 * flow, 44.1 kHz / hop 512), random weights, one EN utterance of --phones phones (default 60, i.e. 121
 * symbols with blanks) stretched to --seconds of speech (default 5).
 *
 * Durations come from the random duration predictor, so the length is set by length_scale: one
 * calibration pass (sdp_ratio 0: the deterministic predictor) gives w, and the smallest
 * length_scale with sum(ceil(w * length_scale)) >= seconds * rate / hop frames is used. The timed
 * runs go through bv_infer_synthesize - exactly what `bv2 infer` runs - with sdp_ratio 0 (the SDP
 * still runs, as upstream's infer always runs both predictors), noise_scale 0.667, noise_scale_w 0.8.
 *
 * With --dir DIR it also writes what bench/infer_torch.py needs to run upstream's net_g.infer on the
 * same weights and inputs: DIR/config.json, DIR/G_bench.pth (a `bv2 export` file), DIR/input.txt
 * ("phones|tones", then the length_scale and options), DIR/bert_inactive.pt (the random BERT
 * stand-ins of the two inactive languages our runs draw, so durations - and the work - are equal). Both sides print
 *   INFER <side> <median ms> <min ms> <audio seconds> <frames>
 * for bench/infer.sh, which prints the ratio.
 *
 *   bv2-bench --infer [--dir DIR] [--reps N] [--phones N] [--seconds S] [--reference] [--bf16]
 * (--reference: without bv_infer_model_prepare, i.e. the decoder's unfused tape-free path, for A/B)
 * (entry point int bv_bench_infer(int argc, char **argv); stand-alone with -DBV_BENCH_INFER_MAIN, as
 * bench/infer.sh builds it). Threads: OMP_NUM_THREADS. Not part of CI.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "upstream_config.h"
#include "../src/core/error.h"
#include "../src/text/symbols.h"
#include "../src/infer/infer.h"
#include "../src/io/pth.h"

int bv_bench_infer(int argc, char **argv);




static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Random weights, N(0, 1/fan_in) for matrices and kernels (roughly PyTorch's default scale, so
 * activations stay in range through 6 layers and the flows), N(0, 0.1^2) for vectors. */
static void random_weights(bv_infer_model *m, uint64_t seed) {
    bv_rng rng;
    bv_rng_seed(&rng, seed);
    for (int i = 0; i < m->ps.n; i++) {
        bv_tensor *t = m->ps.items[i];
        double fan_in = t->ndim >= 2 ? (double)(t->numel / t->shape[0]) : 100.0;
        double s = 1.0 / sqrt(fan_in);
        if (strstr(t->name, "weight_g")) s = 1.0; /* weight norm: |w| = g per output channel */
        for (int64_t j = 0; j < t->numel; j++) t->data[j] = (float)(s * bv_rng_normal(&rng));
    }
}

/* n random EN phones (not pads or punctuation) with EN tones, "_" at both ends, one word each. */
static void random_phones(char *line, size_t cap, int n, uint64_t seed) {
    static const char *const ph[] = {"aa", "ae", "ah", "ao", "aw", "ay", "b", "ch", "d", "dh", "eh", "er", "ey", "f",
                                     "g", "hh", "ih", "iy", "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p", "r",
                                     "s", "sh", "t", "th", "uh", "uw", "V", "w", "y", "z", "zh"};
    const int nph = (int)(sizeof ph / sizeof ph[0]);
    bv_rng rng;
    bv_rng_seed(&rng, seed);
    size_t k = (size_t)snprintf(line, cap, "_");
    int *tones = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        k += (size_t)snprintf(line + k, cap - k, " %s", ph[bv_rng_u64(&rng) % (uint64_t)nph]);
        tones[i] = 1 + (int)(bv_rng_u64(&rng) % 3);
    }
    k += (size_t)snprintf(line + k, cap - k, " _|0");
    for (int i = 0; i < n; i++) k += (size_t)snprintf(line + k, cap - k, " %d", tones[i]);
    snprintf(line + k, cap - k, " 0");
    free(tones);
}

/* The smallest length_scale giving at least `frames` frames: sum(ceil(w0 * s)) is nondecreasing in s. */
static double calibrate(const bv_tensor *w0, int64_t frames) {
    double lo = 1e-4, hi = 1e4;
    for (int it = 0; it < 200; it++) {
        double mid = sqrt(lo * hi), sum = 0;
        for (int64_t i = 0; i < w0->numel; i++) sum += ceil((double)(float)(w0->data[i] * (float)mid));
        if (sum >= (double)frames) hi = mid;
        else lo = mid;
    }
    return hi;
}

/* The BERT stand-ins bv_infer_synthesize draws first after bv_rng_seed(7) for an EN utterance:
 * torch.randn(1024, n) for ZH, then for JP (bv_randn fills in order from the same generator), saved
 * as {"bert": ..., "ja_bert": ...} so the PyTorch side runs on the very same inputs. */
static int write_inactive_bert(const char *path, const bv_infer_utt *u, char *err, size_t cap) {
    bv_rng rng;
    bv_rng_seed(&rng, 7);
    const int64_t shape[2] = {BV_INFER_BERT_DIM, u->n}, n = BV_INFER_BERT_DIM * (int64_t)u->n;
    float *v = malloc(sizeof(float) * (size_t)n * 2);
    for (int64_t i = 0; i < 2 * n; i++) v[i] = (float)bv_rng_normal(&rng);
    bv_pk_doc *doc = bv_pk_doc_new();
    bv_pk_value *d = bv_pk_dict(doc, 0);
    bv_pk_dict_set_str(doc, d, "bert", bv_pk_tensor_ref(doc, BV_ST_F32, 2, shape, v));
    bv_pk_dict_set_str(doc, d, "ja_bert", bv_pk_tensor_ref(doc, BV_ST_F32, 2, shape, v + n));
    int rc = bv_pth_save(path, d, err, cap);
    bv_pk_doc_free(doc);
    free(v);
    return rc;
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

int bv_bench_infer(int argc, char **argv) {
    const char *dir = NULL, *dump = NULL;
    int reps = 5, n_phones = 60, fold = 1, bf16 = 0;
    double seconds = 5.0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--phones") && i + 1 < argc) n_phones = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--reference")) fold = 0;
        else if (!strcmp(argv[i], "--bf16")) bf16 = 1;
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump = argv[++i];
        else if (strcmp(argv[i], "--infer")) {
            fprintf(stderr, "usage: --infer [--dir DIR] [--reps N] [--phones N] [--seconds S] [--reference] [--bf16] "
                            "[--dump FILE]\n");
            return 2;
        }
    }
    reps = reps < 1 ? 1 : reps > 50 ? 50 : reps;
    char err[1024];
    bv_config cfg;
    bv_infer_model m;
    if (bv_config_parse(&cfg, bv_bench_upstream_config, "configs/config.json", err, sizeof err) ||
        bv_infer_model_init(&m, &cfg, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return 3;
    }
    random_weights(&m, 1234);
    if (fold) bv_infer_model_prepare(&m); /* what loading a checkpoint does; --reference: the unfused path */
    char *line = malloc((size_t)n_phones * 8 + 64);
    random_phones(line, (size_t)n_phones * 8 + 64, n_phones, 99);
    bv_infer_utt u;
    if (bv_infer_utt_from_phones(&u, line, "EN", 1, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return 3;
    }
    u.speaker = 0;
    bv_ctx ctx;
    bv_ctx_init(&ctx, (size_t)256 << 20, 1);
    if (bf16) ctx.autocast = BV_AUTOCAST_BF16; /* as bv2 infer --bf16 (the CLI checks the CPU first) */
    const int64_t rate = m.cfg.data.sampling_rate, hop = m.cfg.data.hop_length;
    const int64_t want_frames = (int64_t)ceil(seconds * (double)rate / (double)hop);

    /* calibration: w at length_scale 1, with the same draws as the timed runs (seed 7): the random
     * BERT stand-ins of the inactive languages change the durations too */
    bv_rng_seed(&ctx.rng, 7);
    bv_infer_opts o = {.noise_scale = 0.667f, .length_scale = 1.0f, .noise_scale_w = 0.8f, .sdp_ratio = 0.0f};
    float *audio = NULL;
    int64_t n = 0;
    bv_synth_infer_out r;
    if (bv_infer_synthesize(&ctx, &m, &u, 1, &o, &audio, &n, &r, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return 3;
    }
    o.length_scale = (float)calibrate(r.w, want_frames);
    free(audio);
    bv_ctx_reset(&ctx);

    if (dir) {
        char path[4200], text[512];
        mkdir(dir, 0777);
        snprintf(path, sizeof path, "%s/config.json", dir);
        int bad = write_file(path, bv_bench_upstream_config);
        snprintf(path, sizeof path, "%s/G_bench.pth", dir);
        if (!bad && bv_infer_model_save(&m, path, 0, err, sizeof err)) fprintf(stderr, "error: %s\n", err), bad = 1;
        snprintf(path, sizeof path, "%s/input.txt", dir);
        snprintf(text, sizeof text, "\nlength_scale %.9g\nsdp_ratio %.9g\nnoise_scale %.9g\nnoise_scale_w %.9g\n",
                 (double)o.length_scale, (double)o.sdp_ratio, (double)o.noise_scale, (double)o.noise_scale_w);
        FILE *f = fopen(path, "w");
        if (!f || fprintf(f, "%s%s", line, text) < 0 || fclose(f)) bad = 1;
        snprintf(path, sizeof path, "%s/bert_inactive.pt", dir);
        if (!bad && write_inactive_bert(path, &u, err, sizeof err)) fprintf(stderr, "error: %s\n", err), bad = 1;
        if (bad) {
            fprintf(stderr, "error: cannot write the files in %s\n", dir);
            return 3;
        }
    }

    double *t = malloc(sizeof(double) * (size_t)(reps + 1)), *cpu = malloc(sizeof(double) * (size_t)(reps + 1));
    size_t peak = 0;
    for (int it = -1; it < reps; it++) { /* one warm-up run (oneDNN primitive creation) */
        bv_rng_seed(&ctx.rng, 7);
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        double t0 = bv_bench_now_ms();
        if (bv_infer_synthesize(&ctx, &m, &u, 1, &o, &audio, &n, NULL, err, sizeof err)) {
            fprintf(stderr, "error: %s\n", err);
            return 3;
        }
        double dt = bv_bench_now_ms() - t0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        if (dump && it == reps - 1) { /* the last run's audio as raw float32 (A/B of synthesis paths) */
            FILE *f = fopen(dump, "wb");
            if (!f || fwrite(audio, sizeof *audio, (size_t)n, f) != (size_t)n || fclose(f))
                fprintf(stderr, "error: cannot write %s\n", dump);
        }
        free(audio);
        peak = ctx.arena.peak > peak ? ctx.arena.peak : peak;
        bv_ctx_reset(&ctx);
        if (it >= 0) t[it] = dt, cpu[it] = (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    qsort(cpu, (size_t)reps, sizeof *cpu, cmp_double);
    const double audio_s = (double)n / (double)rate, med = t[reps / 2];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const char *thr = getenv("OMP_NUM_THREADS");
    printf("bertvits2.c infer: %d phones + 2 pads (%d symbols), %lld frames = %.2f s of audio (length_scale %.4g), "
           "OMP_NUM_THREADS=%s\n", n_phones, u.n, (long long)(n / hop), audio_s, (double)o.length_scale,
           thr ? thr : "(unset)");
    printf("  median %.1f ms, min %.1f ms over %d runs: real-time factor %.4f (median), %.4f (min)\n", med, t[0],
           reps, med / 1e3 / audio_s, t[0] / 1e3 / audio_s);
    /* CPU time of all threads: on a shared machine less sensitive to the load than wall time */
    printf("  CPU time (all threads) median %.1f ms, min %.1f ms\n", cpu[reps / 2], cpu[0]);
    printf("  arena peak %.1f MB, process peak RSS %.1f MB, model %.2f M parameters (enc_q not loaded)\n",
           (double)peak / 1048576.0, (double)ru.ru_maxrss / 1024.0, (double)bv_params_numel(&m.ps) / 1e6);
    printf("INFER ours %.3f %.3f %.4f %lld\n", med, t[0], audio_s, (long long)(n / hop));
    free(t);
    free(cpu);
    free(line);
    bv_infer_utt_free(&u);
    bv_ctx_free(&ctx);
    bv_infer_model_free(&m);
    return 0;
}

#ifdef BV_BENCH_INFER_MAIN
int main(int argc, char **argv) { return bv_bench_infer(argc - 1, argv + 1); }
#endif
