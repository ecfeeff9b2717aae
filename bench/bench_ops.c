/* bench_ops.c - main() of build/bv2-bench: times the heaviest ops of the real Bert-VITS2 model
 * (default config: upsample_initial_channel 512, upsample_rates [8,8,2,2,2], resblock kernels
 * [3,7,11] x dilations [1,3,5], segment_size 16384 samples = 32 frames; upstream discriminator
 * widths), forward and forward+backward, through the public bv_* ops exactly as the model calls
 * them (arena allocation, tape, grad accumulation into persistent parameter grads included).
 * Batch 1 keeps the whole run short; per-sample work is what the ratio to PyTorch measures.
 *
 *   bv2-bench               table: median ms, GFLOP/s, % of the measured sgemm peak; plus one line
 *                           "ROW <name> <fwd> <fwd+bwd> <min fwd> <min fwd+bwd>" (ms) per op for
 *                           bench/run.sh
 *   bv2-bench --specs       the shape table (key=value lines) that bench/ops_torch.py replays
 *   bv2-bench [substring]   only rows whose name contains it (the sgemm peak row always runs)
 *   bv2-bench --generator [reps]   the whole Generator (bench/bench_generator.c, when linked in)
 *   bv2-bench --linalg [reps [substring]]   linear/matmul/LSTM fp32 vs bf16 (bench/bench_linalg.c)
 *
 * Threads: OMP_NUM_THREADS (bench/run.sh sets it to the count PyTorch is given). Not part of CI.
 * BV_BENCH_AUTOCAST=bf16 runs every row under BV_AUTOCAST_BF16 (train.bf16_run's precision). The sgemm
 * peak row is OpenBLAS's cblas_sgemm: without OPENBLAS_CORETYPE it runs Prescott kernels on CPUs newer
 * than OpenBLAS 0.3.21 (the model 207 Xeon), so its "peak" is 4-5x low there (bench/lib.sh sets it for bench/run.sh).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/core/params.h"
#include "../src/ops/ops.h"

typedef enum { K_SGEMM, K_MATMUL, K_CONV1D, K_CONVT1D, K_CONV2D, K_WEIGHT_NORM } row_kind;
static const char *const kind_names[] = {"sgemm", "matmul", "conv1d", "conv_transpose1d", "conv2d", "weight_norm"};

/* One benchmark row. conv: x [B, Cin, T] (conv2d [B, Cin, T, W], kernel (K, 1), stride (S, 1),
 * padding (P, 0), dilation (D, 1)); matmul/sgemm: [B, M, Kd] @ [B, Kd, N]; weight_norm:
 * v [Cout, Cin, K, W] with g [Cout, 1, 1, 1]. */
typedef struct {
    const char *name;
    row_kind kind;
    int64_t B, Cin, Cout, T, W, K, S, P, D, G;
    int64_t M, Kd, N;
} row_spec;

#define CONV1D(nm, b, ci, co, t, k, s, p, d, g) {nm, K_CONV1D, b, ci, co, t, 1, k, s, p, d, g, 0, 0, 0}
#define CONVT1D(nm, b, ci, co, t, k, s, p) {nm, K_CONVT1D, b, ci, co, t, 1, k, s, p, 1, 1, 0, 0, 0}
#define CONV2D(nm, b, ci, co, t, w, k, s, p) {nm, K_CONV2D, b, ci, co, t, w, k, s, p, 1, 1, 0, 0, 0}
#define MATMUL(nm, kind, b, m, kd, n) {nm, kind, b, 0, 0, 0, 0, 0, 0, 0, 0, 0, m, kd, n}

static const row_spec rows[] = {
    /* the machine's sgemm peak (OpenBLAS, same threads): the reference for every % below */
    MATMUL("sgemm_peak_1024", K_SGEMM, 1, 1024, 1024, 1024),
    MATMUL("matmul_1024x1024x1024", K_MATMUL, 1, 1024, 1024, 1024),
    MATMUL("matmul_attn_8x192x768x192", K_MATMUL, 8, 192, 768, 192),
    /* Generator: ups[0] 512 -> 256 (k16 s8), resblocks at 256 ch x 256 frames and 128 ch x 2048 */
    CONVT1D("convT_ups0_512to256_k16s8", 1, 512, 256, 32, 16, 8, 4),
    CONVT1D("convT_ups1_256to128_k16s8", 1, 256, 128, 256, 16, 8, 4),
    CONV1D("conv1d_res_256x256_k3d1", 1, 256, 256, 256, 3, 1, 1, 1, 1),
    CONV1D("conv1d_res_256x256_k7d3", 1, 256, 256, 256, 7, 1, 9, 3, 1),
    CONV1D("conv1d_res_256x256_k11d5", 1, 256, 256, 256, 11, 1, 25, 5, 1),
    CONV1D("conv1d_res_128x2048_k3d1", 1, 128, 128, 2048, 3, 1, 1, 1, 1),
    CONV1D("conv1d_res_128x2048_k11d5", 1, 128, 128, 2048, 11, 1, 25, 5, 1),
    CONV1D("conv1d_res_16x16384_k11d5", 1, 16, 16, 16384, 11, 1, 25, 5, 1),
    /* text side: WN in_layer (hidden 192 -> 2*192, k5) over 800 frames; DDSConv depthwise k3 d9 */
    CONV1D("conv1d_wn_192to384_k5", 1, 192, 384, 800, 5, 1, 2, 1, 1),
    CONV1D("conv1d_dds_dw192_k3d9", 1, 192, 192, 400, 3, 1, 9, 9, 192),
    /* the transformer flow's FFN convs (hidden 192, filter 768, k5) and enc_q's WN at upstream's
     * default batch 2 x 431 frames */
    CONV1D("conv1d_flow_ffn_192to768_k5", 2, 192, 768, 431, 5, 1, 2, 1, 1),
    CONV1D("conv1d_flow_ffn_768to192_k5", 2, 768, 192, 431, 5, 1, 2, 1, 1),
    CONV1D("conv1d_encq_wn_192to384_k5", 2, 192, 384, 431, 5, 1, 2, 1, 1),
    /* enc_p's FFN second conv (filter 768 -> hidden 192, k3) over 147 phonemes */
    CONV1D("conv1d_encp_ffn_768to192_k3", 2, 768, 192, 147, 3, 1, 1, 1, 1),
    /* MultiPeriodDiscriminator, DiscriminatorP(3) on 16384 samples: [B, C, T/3, 3] */
    CONV2D("conv2d_mpd_128to512_k5s3", 1, 128, 512, 607, 3, 5, 3, 2),
    CONV2D("conv2d_mpd_512to1024_k5s3", 1, 512, 1024, 203, 3, 5, 3, 2),
    CONV2D("conv2d_mpd_1024to1024_k5s1", 1, 1024, 1024, 68, 3, 5, 1, 2),
    /* DiscriminatorS: grouped 41-tap strided convs, then the 1024-channel k5 conv */
    CONV1D("conv1d_ds_64to256_k41s4g16", 1, 64, 256, 4096, 41, 4, 20, 1, 16),
    CONV1D("conv1d_ds_256to1024_k41s4g64", 1, 256, 1024, 1024, 41, 4, 20, 1, 64),
    CONV1D("conv1d_ds_1024to1024_k41s4g256", 1, 1024, 1024, 256, 41, 4, 20, 1, 256),
    CONV1D("conv1d_ds_1024to1024_k5", 1, 1024, 1024, 64, 5, 1, 2, 1, 1),
    /* weight_norm of the largest MPD weight, recomputed every step */
    {"weight_norm_1024x1024x5x1", K_WEIGHT_NORM, 1, 1024, 1024, 0, 1, 5, 1, 0, 1, 1, 0, 0, 0},
};
#define N_ROWS ((int)(sizeof rows / sizeof *rows))

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int64_t conv_out(const row_spec *r) {
    if (r->kind == K_CONVT1D) return (r->T - 1) * r->S - 2 * r->P + r->D * (r->K - 1) + 1;
    return (r->T + 2 * r->P - r->D * (r->K - 1) - 1) / r->S + 1;
}

/* Forward FLOPs (multiply-add = 2); forward+backward counts 3x (data and weight gradients). */
static double fwd_flops(const row_spec *r) {
    switch (r->kind) {
    case K_SGEMM:
    case K_MATMUL: return 2.0 * r->B * r->M * r->Kd * r->N;
    case K_CONVT1D: return 2.0 * r->B * r->Cin * r->T * (r->Cout / r->G) * r->K;
    case K_CONV1D:
    case K_CONV2D: return 2.0 * r->B * r->Cout * conv_out(r) * r->W * (r->Cin / r->G) * r->K;
    case K_WEIGHT_NORM: return 3.0 * r->Cout * r->Cin * r->K * r->W;
    }
    return 0;
}

static void fill(bv_tensor *t, uint64_t seed) {
    for (int64_t i = 0; i < t->numel; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        t->data[i] = (float)((double)(seed >> 40) / (double)(1ull << 24) - 0.5) * 0.2f;
    }
}

/* Inputs of a row: in[0] activation (requires grad), in[1..] parameters in ps. */
static void setup(bv_ctx *ctx, bv_params *ps, const row_spec *r, bv_tensor **in) {
    switch (r->kind) {
    case K_SGEMM:
    case K_MATMUL:
        in[0] = bv_new(ctx, BV_F32, BV_SHAPE(r->B, r->M, r->Kd)); // [B, M, K]
        in[1] = bv_new(ctx, BV_F32, BV_SHAPE(r->B, r->Kd, r->N)); // [B, K, N]
        in[1]->requires_grad = true;
        break;
    case K_WEIGHT_NORM:
        in[0] = bv_params_add(ps, "weight_g", BV_SHAPE(r->Cout, 1, 1, 1));               // weight_g
        in[1] = bv_params_add(ps, "weight_v", BV_SHAPE(r->Cout, r->Cin, r->K, r->W)); // weight_v
        break;
    default: {
        int nd = r->kind == K_CONV2D ? 4 : 3;
        int64_t wo = r->kind == K_CONVT1D ? r->Cin : r->Cout, wi = r->kind == K_CONVT1D ? r->Cout / r->G : r->Cin / r->G;
        in[0] = bv_new(ctx, BV_F32, nd, (int64_t[]){r->B, r->Cin, r->T, r->W}); // [B, Cin, T(, W)]
        in[1] = bv_params_add(ps, "weight", nd, (int64_t[]){wo, wi, r->K, 1});  // weight
        in[2] = bv_params_add(ps, "bias", BV_SHAPE(r->Cout));                   // bias
    }
    }
    for (int i = 0; i < 3; i++)
        if (in[i]) fill(in[i], 17 + (uint64_t)i);
    in[0]->requires_grad = true;
}

static bv_tensor *apply(bv_ctx *ctx, const row_spec *r, bv_tensor **in) {
    switch (r->kind) {
    case K_SGEMM: {
        const float *a = in[0]->data, *b = in[1]->data;
        bv_tensor *c = bv_new(ctx, BV_F32, BV_SHAPE(r->M, r->N));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r->M, (int)r->N, (int)r->Kd, 1.0f, a, (int)r->Kd, b,
                    (int)r->N, 0.0f, c->data, (int)r->N);
        return c;
    }
    case K_MATMUL: return bv_matmul(ctx, in[0], in[1]);
    case K_CONV1D: return bv_conv1d(ctx, in[0], in[1], in[2], (int)r->S, (int)r->P, (int)r->D, (int)r->G);
    case K_CONVT1D: return bv_conv_transpose1d(ctx, in[0], in[1], in[2], (int)r->S, (int)r->P, 0, (int)r->G, (int)r->D);
    case K_CONV2D:
        return bv_conv2d(ctx, in[0], in[1], in[2], (int)r->S, 1, (int)r->P, 0, (int)r->D, 1, (int)r->G);
    case K_WEIGHT_NORM: return bv_weight_norm(ctx, in[0], in[1], 0);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* BV_BENCH_AUTOCAST=bf16: every row's op under BV_AUTOCAST_BF16, as train.bf16_run runs it. */
static bv_autocast bench_autocast(void) {
    const char *v = getenv("BV_BENCH_AUTOCAST");
    return v && !strcmp(v, "bf16") ? BV_AUTOCAST_BF16 : BV_AUTOCAST_OFF;
}

/* Median wall time of one forward (backward = 0) or forward+backward, after one warm-up run;
 * at least 3 and at most 9 runs, fewer when a run is slow. *min_ms: the fastest run (on a busy
 * machine the less disturbed estimate). */
static double time_row(bv_ctx *ctx, const row_spec *r, bv_tensor **in, int backward, double *min_ms) {
    double t[9];
    int n = 0;
    double spent = 0;
    for (int it = -1; it < 9 && (n < 3 || spent < 1500); it++) {
        bv_ctx_mark m = bv_ctx_get_mark(ctx);
        int64_t tape0 = ctx->tape_len;
        for (int i = 0; i < 3; i++)
            if (in[i] && !in[i]->is_param) in[i]->grad = NULL;
        double t0 = now_ms();
        if (!backward) bv_no_grad_begin(ctx);
        ctx->autocast = bench_autocast(); /* the backward runs in the mode its forward recorded */
        bv_tensor *y = apply(ctx, r, in);
        ctx->autocast = BV_AUTOCAST_OFF;
        if (!backward) bv_no_grad_end(ctx);
        if (backward && y->requires_grad) bv_backward(ctx, y, bv_full(ctx, y->ndim, y->shape, 1.0f));
        double dt = now_ms() - t0;
        bv_tape_cut(ctx, tape0);
        bv_ctx_reset_to(ctx, m);
        if (it < 0) continue;
        t[n++] = dt;
        spent += dt;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    *min_ms = t[0];
    return t[n / 2];
}

/* Whole-Generator timing (bench/bench_generator.c); weak so this file links without it. */
__attribute__((weak)) int bv_bench_generator(int reps);
/* Inference timing (bench/bench_infer.c); weak like the generator hook. */
__attribute__((weak)) int bv_bench_infer(int argc, char **argv);
/* Full train_ms step timing (bench/bench_train_step.c); weak like the others. */
__attribute__((weak)) int bv_bench_train_step(int argc, char **argv);
/* linear / matmul / LSTM in fp32 and bf16 (bench/bench_linalg.c); weak like the others. */
__attribute__((weak)) int bv_bench_linalg(int argc, char **argv);
/* fp32 / bf16 / fp16 multiply-add rates of one core (bench/bench_isa.c); weak like the others. */
__attribute__((weak)) int bv_bench_isa(void);

/* HOOK for lstm.c's owner: time bv_lstm at DurationDiscriminator sizes here (append rows through
 * bench_report like the ones in main, and mirror them in ops_torch.py's bench_lstm hook). */
static void bench_lstm(bv_ctx *ctx, double peak_gflops) { (void)ctx, (void)peak_gflops; }

static void bench_report(const row_spec *r, double f_ms, double fb_ms, double peak) {
    double gf = fwd_flops(r) / (f_ms * 1e6), gfb = 3 * fwd_flops(r) / (fb_ms * 1e6);
    if (r->kind == K_SGEMM) fb_ms = 0, gfb = 0;
    printf("%-34s %9.3f %8.1f %6.1f%% %10.3f %8.1f %6.1f%%\n", r->name, f_ms, gf, 100 * gf / peak, fb_ms, gfb,
           100 * gfb / peak);
    fflush(stdout);
}

static void print_specs(void) {
    for (int i = 0; i < N_ROWS; i++) {
        const row_spec *r = &rows[i];
        printf("name=%s kind=%s B=%lld Cin=%lld Cout=%lld T=%lld W=%lld K=%lld S=%lld P=%lld D=%lld G=%lld M=%lld "
               "Kd=%lld N=%lld flops=%.0f\n",
               r->name, kind_names[r->kind], (long long)r->B, (long long)r->Cin, (long long)r->Cout, (long long)r->T,
               (long long)r->W, (long long)r->K, (long long)r->S, (long long)r->P, (long long)r->D, (long long)r->G,
               (long long)r->M, (long long)r->Kd, (long long)r->N, fwd_flops(r));
    }
}

/* One row: setup, time, report; an op error (e.g. an op not implemented yet) skips the row.
 * rows_ms: median fwd, median fwd+bwd, min fwd, min fwd+bwd (-1: skipped). */
static double run_row(bv_ctx *ctx, const row_spec *r, double peak, double *rows_ms) {
    jmp_buf jb;
    bv_params ps;
    bv_params_init(&ps);
    bv_ctx_mark m = bv_ctx_get_mark(ctx);
    ctx->err_jmp = &jb;
    double f_ms = -1, fb_ms = -1, f_min = -1, fb_min = -1;
    if (setjmp(jb) == 0) {
        bv_tensor *in[3] = {0};
        setup(ctx, &ps, r, in);
        f_ms = time_row(ctx, r, in, 0, &f_min);
        fb_ms = f_ms, fb_min = f_min;
        if (r->kind != K_SGEMM) fb_ms = time_row(ctx, r, in, 1, &fb_min);
        bench_report(r, f_ms, fb_ms, peak > 0 ? peak : fwd_flops(r) / (f_ms * 1e6));
    } else {
        printf("%-34s skipped: %s\n", r->name, ctx->err_msg);
    }
    ctx->err_jmp = NULL;
    bv_tape_cut(ctx, 0);
    bv_ctx_reset_to(ctx, m);
    bv_params_free(&ps);
    rows_ms[0] = f_ms;
    rows_ms[1] = fb_ms;
    rows_ms[2] = f_min;
    rows_ms[3] = fb_min;
    return f_ms;
}

int main(int argc, char **argv) {
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--specs")) {
            print_specs();
            return 0;
        }
        if (!strcmp(argv[i], "--infer") && bv_bench_infer) return bv_bench_infer(argc - i, argv + i);
        if (!strcmp(argv[i], "--train-step") && bv_bench_train_step) return bv_bench_train_step(argc - i, argv + i);
        if (!strcmp(argv[i], "--linalg") && bv_bench_linalg) return bv_bench_linalg(argc - i, argv + i);
        if (!strcmp(argv[i], "--isa") && bv_bench_isa) return bv_bench_isa();
        if (!strcmp(argv[i], "--generator")) {
            if (!bv_bench_generator) {
                fprintf(stderr, "error: bench_generator.c is not linked into this binary\n");
                return 2;
            }
            return bv_bench_generator(i + 1 < argc ? atoi(argv[i + 1]) : 0);
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--specs] [--isa] [--generator [reps]] [name-substring]\n", argv[0]);
            return 2;
        }
        filter = argv[i];
    }
    bv_ctx ctx;
    bv_ctx_init(&ctx, (size_t)64 << 20, 1);
    const char *thr = getenv("OMP_NUM_THREADS");
    double load = -1;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf", &load) != 1) load = -1;
        fclose(lf);
    }
    /* other processes on the cores make OpenMP barriers wait whole scheduler ticks */
    printf("bv2-bench: OMP_NUM_THREADS=%s, batch 1, median of 3-9 runs, load average %.2f%s\n",
           thr ? thr : "(unset: all cores)", load, load > 0.5 ? " (busy machine: timings are noisy)" : "");
    printf("%-34s %9s %8s %7s %10s %8s %7s\n", "op", "fwd ms", "GFLOP/s", "%peak", "fwd+bwd ms", "GFLOP/s", "%peak");
    double peak = 0, ms[N_ROWS][4];
    for (int i = 0; i < N_ROWS; i++) {
        ms[i][0] = -1;
        if (rows[i].kind != K_SGEMM && filter && !strstr(rows[i].name, filter)) continue;
        double f = run_row(&ctx, &rows[i], peak, ms[i]);
        if (rows[i].kind == K_SGEMM && f > 0) peak = fwd_flops(&rows[i]) / (f * 1e6);
    }
    bench_lstm(&ctx, peak);
    for (int i = 0; i < N_ROWS; i++)
        if (ms[i][0] > 0) printf("ROW %s %.4f %.4f %.4f %.4f\n", rows[i].name, ms[i][0], ms[i][1], ms[i][2], ms[i][3]);
    bv_ctx_free(&ctx);
    return 0;
}
