/* bench_linalg.c - `bv2-bench --linalg [reps]`: linear, matmul and the LSTM on the model's shapes,
 * forward and forward+backward, in fp32 and under BV_AUTOCAST_BF16 (core/ctx.h), through the public
 * ops. The two modes alternate run by run so that a shared machine's load hits both alike; each
 * cell is the minimum (and median) of `reps` runs. Prints the oneDNN implementation a bf16 product
 * of each shape runs. Not part of CI. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/ops/cpu/gemm.h"
#include "../src/ops/dispatch.h"
#include "../src/ops/ops.h"

typedef enum { L_LINEAR, L_MATMUL, L_LSTM } lkind;

/* linear: x [rows, a] -> [rows, b]; matmul: [z, m, a] @ [z, a, b]; lstm: x [z, m, In = a], H = b */
typedef struct {
    const char *name;
    lkind kind;
    int64_t z, m, a, b;
} lrow;

static const lrow k_rows[] = {
    /* WavLM-base+ encoder layer (768 wide, FFN 3072) over 2 x 50 and 2 x 125 frames */
    {"wavlm_linear_768x768_r100", L_LINEAR, 1, 100, 768, 768},
    {"wavlm_linear_768x3072_r100", L_LINEAR, 1, 100, 768, 3072},
    {"wavlm_linear_3072x768_r100", L_LINEAR, 1, 100, 3072, 768},
    {"wavlm_linear_768x768_r250", L_LINEAR, 1, 250, 768, 768},
    {"wavlm_linear_768x3072_r250", L_LINEAR, 1, 250, 768, 3072},
    {"wavlm_linear_3072x768_r250", L_LINEAR, 1, 250, 3072, 768},
    /* WavLM attention: 2 x 12 heads, T 125, head 64: q k^T and p v */
    {"wavlm_bmm_qk_24x125x64x125", L_MATMUL, 24, 125, 64, 125},
    {"wavlm_bmm_pv_24x125x125x64", L_MATMUL, 24, 125, 125, 64},
    /* flow TransformerCoupling attention: 2 x 2 heads of 96 over 400 frames */
    {"flow_bmm_qk_4x400x96x400", L_MATMUL, 4, 400, 96, 400},
    {"flow_bmm_pv_4x400x400x96", L_MATMUL, 4, 400, 400, 96},
    /* text-side projections at 192 / 768 channels over 2 x 200 rows */
    {"linear_192x768_r400", L_LINEAR, 1, 400, 192, 768},
    {"linear_768x192_r400", L_LINEAR, 1, 400, 768, 192},
    /* DurationDiscriminator: LSTM(512, 256, bidirectional) over 2 x 150 tokens */
    {"durdisc_lstm_2x150_512to256_bi", L_LSTM, 2, 150, 512, 256},
};
#define N_LROWS ((int)(sizeof k_rows / sizeof *k_rows))

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    bv_tensor *in[9];
    int n_in;
} lsetup;

static bv_tensor *rnd(bv_ctx *ctx, int nd, const int64_t *shape, float scale) {
    bv_tensor *t = bv_new(ctx, BV_F32, nd, shape);
    float *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) p[i] = scale * (float)((double)rand() / RAND_MAX - 0.5);
    t->requires_grad = 1;
    return t;
}

static void setup(bv_ctx *ctx, const lrow *r, lsetup *s) {
    memset(s, 0, sizeof *s);
    if (r->kind == L_LINEAR) {
        s->in[0] = rnd(ctx, BV_SHAPE(r->m, r->a), 1.0f);
        s->in[1] = rnd(ctx, BV_SHAPE(r->b, r->a), 0.05f);
        s->in[2] = rnd(ctx, BV_SHAPE(r->b), 0.1f);
        s->n_in = 3;
    } else if (r->kind == L_MATMUL) {
        s->in[0] = rnd(ctx, BV_SHAPE(r->z, r->m, r->a), 1.0f);
        s->in[1] = rnd(ctx, BV_SHAPE(r->z, r->a, r->b), 1.0f);
        s->n_in = 2;
    } else {
        const int64_t H = r->b;
        s->in[0] = rnd(ctx, BV_SHAPE(r->z, r->m, r->a), 1.0f);
        for (int d = 0; d < 2; d++) {
            s->in[1 + 4 * d] = rnd(ctx, BV_SHAPE(4 * H, r->a), 0.1f);
            s->in[2 + 4 * d] = rnd(ctx, BV_SHAPE(4 * H, H), 0.1f);
            s->in[3 + 4 * d] = rnd(ctx, BV_SHAPE(4 * H), 0.1f);
            s->in[4 + 4 * d] = rnd(ctx, BV_SHAPE(4 * H), 0.1f);
        }
        s->n_in = 9;
    }
}

static bv_tensor *apply(bv_ctx *ctx, const lrow *r, lsetup *s) {
    if (r->kind == L_LINEAR) return bv_linear(ctx, s->in[0], s->in[1], s->in[2]);
    if (r->kind == L_MATMUL) return bv_matmul(ctx, s->in[0], s->in[1]);
    bv_tensor *y, *hn, *cn;
    bv_lstm(ctx, s->in[0], s->in + 1, 1, &y, &hn, &cn);
    return y;
}

static double run_once(bv_ctx *ctx, const lrow *r, lsetup *s, bv_autocast mode, int backward) {
    bv_ctx_mark m = bv_ctx_get_mark(ctx);
    int64_t tape0 = ctx->tape_len;
    for (int i = 0; i < s->n_in; i++) s->in[i]->grad = NULL;
    double t0 = now_ms();
    ctx->autocast = mode;
    if (!backward) bv_no_grad_begin(ctx);
    bv_tensor *y = apply(ctx, r, s);
    if (!backward) bv_no_grad_end(ctx);
    ctx->autocast = BV_AUTOCAST_OFF;
    if (backward) bv_backward(ctx, y, bv_full(ctx, y->ndim, y->shape, 1.0f));
    double dt = now_ms() - t0;
    bv_tape_cut(ctx, tape0);
    bv_ctx_reset_to(ctx, m);
    return dt;
}

/* The bf16 product the forward of r runs, as gemm.c sees it. */
static const char *impl_of(bv_ctx *ctx, const lrow *r, char *err) {
    bv_gemm_bf16 g = {.batch = 1, .M = r->m, .N = r->b, .K = r->a, .tb = 1};
    if (r->kind == L_MATMUL) g = (bv_gemm_bf16){.batch = r->z, .M = r->m, .N = r->b, .K = r->a};
    if (r->kind == L_LSTM) g = (bv_gemm_bf16){.batch = 1, .M = r->z * r->m, .N = 4 * r->b, .K = r->a, .tb = 1,
                                               .accumulate = 1};
    return bv_cpu_gemm_bf16_impl(ctx->be, &g, err);
}

int bv_bench_linalg(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1 || reps > 1000) reps = 7;
    const char *filter = argc > 2 ? argv[2] : NULL;
    bv_ctx ctx;
    bv_ctx_init(&ctx, (size_t)64 << 20, 1);
    char why[256] = "";
    int bf16 = bv_backend_bf16_check(ctx.be, why, sizeof why) == 0;
    const char *thr = getenv("OMP_NUM_THREADS");
    printf("bv2-bench --linalg: OMP_NUM_THREADS=%s, %d alternating runs per mode, ms (min / median)%s%s\n",
           thr ? thr : "(unset)", reps, bf16 ? "" : "; bf16 skipped: ", bf16 ? "" : why);
    printf("%-32s %19s %19s %19s %19s  %s\n", "op", "fwd fp32", "fwd bf16", "fwd+bwd fp32", "fwd+bwd bf16",
           "oneDNN bf16 impl");
    for (int i = 0; i < N_LROWS; i++) {
        const lrow *r = &k_rows[i];
        if (filter && !strstr(r->name, filter)) continue;
        bv_ctx_mark m = bv_ctx_get_mark(&ctx);
        lsetup s;
        setup(&ctx, r, &s);
        double t[4][1000];
        for (int it = -1; it < reps; it++)
            for (int c = 0; c < 4; c++) {
                int mode = c & 1, bw = c >> 1;
                if (mode && !bf16) continue;
                double dt = run_once(&ctx, r, &s, mode ? BV_AUTOCAST_BF16 : BV_AUTOCAST_OFF, bw);
                if (it >= 0) t[c][it] = dt;
            }
        char cell[4][32];
        for (int c = 0; c < 4; c++) {
            if ((c & 1) && !bf16) {
                snprintf(cell[c], sizeof cell[c], "-");
                continue;
            }
            qsort(t[c], (size_t)reps, sizeof(double), cmp_d);
            snprintf(cell[c], sizeof cell[c], "%8.3f / %8.3f", t[c][0], t[c][reps / 2]);
        }
        char err[BV_KERNEL_ERR_LEN] = "";
        const char *impl = bf16 ? impl_of(&ctx, r, err) : "-";
        printf("%-32s %19s %19s %19s %19s  %s\n", r->name, cell[0], cell[1], cell[2], cell[3], impl ? impl : err);
        fflush(stdout);
        bv_ctx_reset_to(&ctx, m);
    }
    bv_ctx_free(&ctx);
    return 0;
}
