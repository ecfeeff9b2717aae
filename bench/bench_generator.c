/* bench_generator.c - times models.Generator (net_g.dec, the hottest network of a training step) at
 * upstream's real config: inter_channels 192, upsample_initial_channel 512, rates [8,8,2,2,2],
 * kernels [16,16,8,2,2], resblock "1" kernels [3,7,11] x dilations [1,3,5], gin 512, batch 2,
 * segment 32 frames -> 16384 samples. Reports, as min and median over repeated runs:
 *   - forward without tape (inference), forward with tape, backward, forward+backward;
 *   - the arena's peak bytes for one forward+backward;
 *   - a per-op breakdown: the forward re-run through the same public ops with a timer around each
 *     call (checked equal to bv_generator_forward), and the backward tape walked node by node.
 *
 * Entry point for bench_ops.c's main: int bv_bench_generator(int reps) (reps <= 0: default 5;
 * returns non-zero if the instrumented forward differs from the module's). Stand-alone:
 *   cc $(CFLAGS) -DBV_BENCH_GENERATOR_MAIN bench/bench_generator.c <build/src/ objects but cli/> $(LDLIBS)
 * then `bench_generator [reps]`. Threads: OMP_NUM_THREADS. BV_CONV_LAYOUT=plain|blocked overrides
 * conv.c's per-shape layout choice. Not part of CI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/model/generator.h"
#include "../src/ops/conv_ref.h"

int bv_bench_generator(int reps);

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Smallest value: on a shared machine the run least disturbed by other processes. */
static double minimum(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
    return m;
}

static bv_generator_cfg upstream_cfg(void) {
    bv_generator_cfg c = {.initial_channel = 192, .resblock = 1, .n_kernels = 3,
                          .resblock_kernel_sizes = {3, 7, 11},
                          .resblock_dilation_sizes = {{1, 3, 5}, {1, 3, 5}, {1, 3, 5}},
                          .n_upsamples = 5, .upsample_rates = {8, 8, 2, 2, 2},
                          .upsample_kernel_sizes = {16, 16, 8, 2, 2}, .upsample_initial_channel = 512,
                          .gin_channels = 512};
    return c;
}

/* ---------------- per-op timers for the instrumented forward ---------------- */

/* leaky_relu is split by site: on a conv1d output (a oneDNN eltwise post-op could do it inside the
 * conv), a resblock repeating lrelu(x) on the stage input another resblock computed already
 * (shareable), and the rest. */
typedef enum {
    P_CONV1D, P_CONVT1D, P_WEIGHT_NORM, P_LRELU_CONV, P_LRELU_DUP, P_LRELU, P_ADD, P_DIV, P_TANH, P_COUNT
} prof_kind;
static const char *const prof_names[P_COUNT] = {"conv1d", "conv_transpose1d", "weight_norm", "lrelu(conv out)",
                                                "lrelu(x) repeat", "lrelu other", "add", "div", "tanh"};
static double prof_ms[P_COUNT];
static int prof_calls[P_COUNT];

#define TIMED(kind, expr)                                                                 \
    ({                                                                                    \
        double t0_ = now_ms();                                                            \
        bv_tensor *r_ = (expr);                                                           \
        prof_ms[kind] += now_ms() - t0_;                                                  \
        prof_calls[kind]++;                                                               \
        r_;                                                                               \
    })

/* Conv1d time per channel count (= upsampling stage for the resblock convs), forward and backward. */
#define N_CH_ROWS 16
typedef struct {
    int64_t cin, cout;
    int calls;
    double flops, fwd_ms, bwd_ms;
} ch_row;
static ch_row ch_rows[N_CH_ROWS];
static int n_ch_rows;

static ch_row *ch_row_of(int64_t cin, int64_t cout) {
    for (int i = 0; i < n_ch_rows; i++)
        if (ch_rows[i].cin == cin && ch_rows[i].cout == cout) return &ch_rows[i];
    if (n_ch_rows == N_CH_ROWS) return &ch_rows[N_CH_ROWS - 1];
    ch_rows[n_ch_rows] = (ch_row){.cin = cin, .cout = cout};
    return &ch_rows[n_ch_rows++];
}

static bv_tensor *p_conv(bv_ctx *ctx, const bv_conv1d_layer *c, bv_tensor *x) {
    const bv_conv1d_cfg *k = &c->cfg;
    bv_tensor *w = k->weight_norm ? TIMED(P_WEIGHT_NORM, bv_weight_norm(ctx, c->weight_g, c->weight_v, 0)) : c->weight;
    double t0 = now_ms();
    bv_tensor *y = TIMED(P_CONV1D, bv_conv1d(ctx, x, w, c->bias, k->stride, k->padding, k->dilation, k->groups));
    ch_row *r = ch_row_of(x->shape[1], y->shape[1]);
    r->fwd_ms += now_ms() - t0;
    r->calls++;
    r->flops += 2.0 * (double)y->numel * (double)(w->shape[1] * w->shape[2]);
    return y;
}

/* dup: not the stage's first resblock, so its first lrelu(x) repeats one computed already */
static bv_tensor *p_resblock1(bv_ctx *ctx, const bv_resblock1 *m, bv_tensor *x, int dup) {
    for (int j = 0; j < 3; j++) {
        prof_kind first = dup && j == 0 ? P_LRELU_DUP : P_LRELU;
        bv_tensor *xt = p_conv(ctx, &m->convs1[j], TIMED(first, bv_leaky_relu(ctx, x, BV_LRELU_SLOPE)));
        xt = p_conv(ctx, &m->convs2[j], TIMED(P_LRELU_CONV, bv_leaky_relu(ctx, xt, BV_LRELU_SLOPE)));
        x = TIMED(P_ADD, bv_add(ctx, xt, x));
    }
    return x;
}

static bv_tensor *p_resblock2(bv_ctx *ctx, const bv_resblock2 *m, bv_tensor *x, int dup) {
    for (int j = 0; j < 2; j++) {
        prof_kind first = dup && j == 0 ? P_LRELU_DUP : P_LRELU;
        bv_tensor *xt = p_conv(ctx, &m->convs[j], TIMED(first, bv_leaky_relu(ctx, x, BV_LRELU_SLOPE)));
        x = TIMED(P_ADD, bv_add(ctx, xt, x));
    }
    return x;
}

/* bv_generator_forward (src/model/generator.c) with a timer around every op call. */
static bv_tensor *p_generator(bv_ctx *ctx, const bv_generator *m, bv_tensor *x, bv_tensor *g) {
    const int nk = m->cfg.n_kernels;
    x = p_conv(ctx, &m->conv_pre, x);
    if (g) {
        bv_tensor *c = p_conv(ctx, &m->cond, g);
        x = TIMED(P_ADD, bv_add(ctx, x, c));
    }
    bv_tensor *num_kernels = bv_scalar(ctx, (float)nk);
    for (int i = 0; i < m->cfg.n_upsamples; i++) {
        const bv_gen_up *u = &m->ups[i];
        x = TIMED(P_LRELU, bv_leaky_relu(ctx, x, BV_LRELU_SLOPE));
        bv_tensor *w = TIMED(P_WEIGHT_NORM, bv_weight_norm(ctx, u->weight_g, u->weight_v, 0));
        x = TIMED(P_CONVT1D, bv_conv_transpose1d(ctx, x, w, u->bias, u->stride, u->padding, 0, 1, 1));
        bv_tensor *xs = NULL;
        for (int j = 0; j < nk; j++) {
            int n = i * nk + j;
            bv_tensor *r = m->resblocks1[n] ? p_resblock1(ctx, m->resblocks1[n], x, j > 0)
                                            : p_resblock2(ctx, m->resblocks2[n], x, j > 0);
            xs = xs ? TIMED(P_ADD, bv_add(ctx, xs, r)) : r;
        }
        x = TIMED(P_DIV, bv_div(ctx, xs, num_kernels));
    }
    x = TIMED(P_LRELU, bv_leaky_relu(ctx, x, 0.01f));
    x = p_conv(ctx, &m->conv_post, x);
    return TIMED(P_TANH, bv_tanh(ctx, x));
}

/* Backward leaky_relu time by what produced its input: conv1d (post-op fusable), conv_transpose1d
 * (the stage input, one lrelu per resblock), other. */
static double lrelu_bwd_ms[3];
static int lrelu_bwd_calls[3];

/* bv_backward's tape walk (src/core/ctx.c run_tape) with a timer per node, summed per op. */
static void timed_backward(bv_ctx *ctx, bv_tensor *y, const bv_tensor *gout, double *op_ms, int *op_calls) {
    float *gy = bv_grad(ctx, y);
    for (int64_t i = 0; i < y->numel; i++) gy[i] += gout->data[i];
    bv_no_grad_begin(ctx);
    for (int64_t k = ctx->tape_len - 1; k >= 0; k--) {
        bv_node *n = ctx->tape[k];
        int live = 0;
        for (int i = 0; i < n->n_out; i++) live |= n->out[i]->grad != NULL;
        if (!live) continue;
        double t0 = now_ms();
        for (int i = 0; i < n->n_out; i++) bv_grad(ctx, n->out[i]);
        n->backward(ctx, n);
        double dt = now_ms() - t0;
        op_ms[n->op] += dt;
        op_calls[n->op]++;
        if (n->op == BV_OP_CONV1D) ch_row_of(n->in[0]->shape[1], n->out[0]->shape[1])->bwd_ms += dt;
        if (n->op == BV_OP_LEAKY_RELU) {
            const bv_node *src = n->in[0]->node;
            int site = src && src->op == BV_OP_CONV1D ? 0 : src && src->op == BV_OP_CONV_TRANSPOSE1D ? 1 : 2;
            lrelu_bwd_ms[site] += dt;
            lrelu_bwd_calls[site]++;
        }
    }
    bv_no_grad_end(ctx);
}

/* Forward FLOPs of the convolutions (multiply-add = 2): the work a perfect conv library does. */
static double conv_flops(const bv_generator_cfg *c, int64_t B, int64_t T) {
    double f = 2.0 * B * T * c->upsample_initial_channel * c->initial_channel * 7;   /* conv_pre */
    f += 2.0 * B * c->upsample_initial_channel * c->gin_channels;                   /* cond (T = 1) */
    int64_t ch = c->upsample_initial_channel;
    for (int i = 0; i < c->n_upsamples; i++) {
        f += 2.0 * B * T * ch * (ch / 2) * c->upsample_kernel_sizes[i];            /* ups[i] */
        ch /= 2;
        T *= c->upsample_rates[i];
        for (int j = 0; j < c->n_kernels; j++)
            f += 2.0 * B * T * ch * ch * c->resblock_kernel_sizes[j] * (c->resblock == 1 ? 6 : 2);
    }
    return f + 2.0 * B * T * ch * 7;                                                /* conv_post */
}

/* Everything one run needs: the module at upstream's config, its inputs, a fixed grad_output. */
typedef struct {
    bv_generator_cfg cfg;
    bv_params ps;
    bv_generator *gen;
    bv_ctx ctx;
    bv_tensor *x, *g, *gout; // [B, 192, T], [B, 512, 1], [B, 1, T_wav]
    bv_ctx_mark base;        /* arena state with only the inputs allocated */
    int64_t tape0, B, T;
} bench_setup;

static void setup_init(bench_setup *s) {
    s->B = 2;
    s->T = 32;
    s->cfg = upstream_cfg();
    bv_params_init(&s->ps);
    s->gen = bv_generator_new(&s->ps, "dec.", &s->cfg);
    bv_ctx_init(&s->ctx, (size_t)256 << 20, 1);
    bv_generator_reset_parameters(s->gen, &s->ctx.rng);
    s->x = bv_randn(&s->ctx, BV_SHAPE(s->B, s->cfg.initial_channel, s->T));
    s->g = bv_randn(&s->ctx, BV_SHAPE(s->B, s->cfg.gin_channels, 1));
    s->x->requires_grad = s->g->requires_grad = true;
    int64_t T_wav = s->T;
    for (int i = 0; i < s->cfg.n_upsamples; i++) T_wav *= s->cfg.upsample_rates[i];
    s->gout = bv_randn(&s->ctx, BV_SHAPE(s->B, 1, T_wav));
    s->base = bv_ctx_get_mark(&s->ctx);
    s->tape0 = s->ctx.tape_len;
}

static void setup_free(bench_setup *s) {
    bv_ctx_free(&s->ctx);
    bv_generator_free(s->gen);
    bv_params_free(&s->ps);
}

/* Back to "inputs only": drop the tape, activations and grads of one step. */
static void setup_rewind(bench_setup *s) {
    bv_tape_cut(&s->ctx, s->tape0);
    s->x->grad = s->g->grad = NULL;
    bv_params_zero_grad(&s->ps);
    bv_ctx_reset_to(&s->ctx, s->base);
}

/* Whole-module timings through the public API (bv_generator_forward + bv_backward). */
static void bench_totals(bench_setup *s, int reps) {
    bv_ctx *ctx = &s->ctx;
    double t_inf[64], t_fwd[64], t_bwd[64], t_fb[64];
    size_t peak = 0, fwd_bytes = 0;
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up (oneDNN primitive creation, arena growth) */
        double t0 = now_ms();
        bv_no_grad_begin(ctx);
        bv_generator_forward(ctx, s->gen, s->x, s->g);
        bv_no_grad_end(ctx);
        double t1 = now_ms();
        setup_rewind(s);
        ctx->arena.peak = 0;
        double t2 = now_ms();
        bv_tensor *y = bv_generator_forward(ctx, s->gen, s->x, s->g);
        double t3 = now_ms();
        fwd_bytes = ctx->arena.in_use - s->base.host.in_use;
        bv_backward(ctx, y, s->gout);
        double t4 = now_ms();
        if (ctx->arena.peak > peak) peak = ctx->arena.peak;
        setup_rewind(s);
        if (r < 0) continue;
        t_inf[r] = t1 - t0;
        t_fwd[r] = t3 - t2;
        t_bwd[r] = t4 - t3;
        t_fb[r] = t4 - t2;
    }
    double flops = conv_flops(&s->cfg, s->B, s->T), fb = minimum(t_fb, reps);
    printf("                                   min ms  median ms\n");
    printf("  forward, no tape (inference)  %9.1f  %9.1f\n", minimum(t_inf, reps), median(t_inf, reps));
    printf("  forward, with tape            %9.1f  %9.1f\n", minimum(t_fwd, reps), median(t_fwd, reps));
    printf("  backward                      %9.1f  %9.1f\n", minimum(t_bwd, reps), median(t_bwd, reps));
    printf("  forward + backward            %9.1f  %9.1f   conv work %.1f GFLOP (fwd x3): %.1f GFLOP/s at min\n",
           fb, median(t_fb, reps), 3 * flops * 1e-9, 3 * flops / (fb * 1e6));
    printf("  arena: %.1f MiB after the forward (activations + tape), peak %.1f MiB with the backward's grads\n",
           (double)fwd_bytes / (1 << 20), (double)(peak - s->base.host.in_use) / (1 << 20));
}

/* Per-op minima over the profiled runs. */
typedef struct {
    double fwd[P_COUNT], bwd[BV_OP_COUNT], lrelu_bwd[3];
    int fwd_calls[P_COUNT], bwd_calls[BV_OP_COUNT], lrelu_bwd_calls[3];
    ch_row ch[N_CH_ROWS];     /* per channel row, the fastest run's forward + backward */
    int n_ch;
} op_profile;

static void keep_min(double *best, const double *now, int n, int first) {
    for (int i = 0; i < n; i++) best[i] = first || now[i] < best[i] ? now[i] : best[i];
}

/* Instrumented forward + timed tape walk, reps times; returns 0 if the instrumented forward is
 * not bit-identical to bv_generator_forward (the profile would then describe another network). */
static int profile_ops(bench_setup *s, int reps, op_profile *p) {
    bv_ctx *ctx = &s->ctx;
    bv_no_grad_begin(ctx);
    bv_tensor *y_ref = bv_generator_forward(ctx, s->gen, s->x, s->g);
    bv_tensor *y_chk = p_generator(ctx, s->gen, s->x, s->g);
    bv_no_grad_end(ctx);
    int same = !memcmp(y_ref->data, y_chk->data, sizeof(float) * (size_t)y_ref->numel);
    setup_rewind(s);
    memset(p, 0, sizeof *p);
    for (int r = 0; r < reps; r++) {
        double bwd[BV_OP_COUNT] = {0};
        n_ch_rows = 0;
        memset(prof_ms, 0, sizeof prof_ms);
        memset(prof_calls, 0, sizeof prof_calls);
        memset(lrelu_bwd_ms, 0, sizeof lrelu_bwd_ms);
        memset(lrelu_bwd_calls, 0, sizeof lrelu_bwd_calls);
        memset(p->bwd_calls, 0, sizeof p->bwd_calls);
        bv_tensor *y = p_generator(ctx, s->gen, s->x, s->g);
        timed_backward(ctx, y, s->gout, bwd, p->bwd_calls);
        keep_min(p->fwd, prof_ms, P_COUNT, r == 0);
        keep_min(p->bwd, bwd, BV_OP_COUNT, r == 0);
        keep_min(p->lrelu_bwd, lrelu_bwd_ms, 3, r == 0);
        memcpy(p->fwd_calls, prof_calls, sizeof prof_calls);
        memcpy(p->lrelu_bwd_calls, lrelu_bwd_calls, sizeof lrelu_bwd_calls);
        for (int i = 0; i < n_ch_rows; i++)
            if (r == 0 || ch_rows[i].fwd_ms + ch_rows[i].bwd_ms < p->ch[i].fwd_ms + p->ch[i].bwd_ms) p->ch[i] = ch_rows[i];
        p->n_ch = n_ch_rows;
        setup_rewind(s);
    }
    return same;
}

static void print_profile(const op_profile *p, int same) {
    printf("  per-op (instrumented forward %s bv_generator_forward; min per op over the runs):\n",
           same ? "bit-identical to" : "DIFFERS FROM");
    printf("    %-18s %6s %10s   %-18s %6s %10s\n", "forward op", "calls", "ms", "backward op", "calls", "ms");
    double fsum = 0, bsum = 0;
    int bwd_ops[BV_OP_COUNT], nb = 0;
    for (int o = 0; o < BV_OP_COUNT; o++)
        if (p->bwd_calls[o]) bwd_ops[nb++] = o;
    for (int k = 0; k < (P_COUNT > nb ? P_COUNT : nb); k++) {
        char left[64] = "", right[64] = "";
        if (k < P_COUNT) {
            fsum += p->fwd[k];
            snprintf(left, sizeof left, "%-18s %6d %10.1f", prof_names[k], p->fwd_calls[k], p->fwd[k]);
        }
        if (k < nb) {
            bsum += p->bwd[bwd_ops[k]];
            snprintf(right, sizeof right, "%-18s %6d %10.1f", bv_op_name((bv_op)bwd_ops[k]), p->bwd_calls[bwd_ops[k]],
                     p->bwd[bwd_ops[k]]);
        }
        printf("    %-36s   %s\n", left, right);
    }
    printf("    %-18s %6s %10.1f   %-18s %6s %10.1f\n", "sum", "", fsum, "sum", "", bsum);
    static const char *const site[3] = {"on conv1d out", "on stage input", "other"};
    printf("    backward LEAKY_RELU by input:");
    for (int i = 0; i < 3; i++) printf("  %s %d calls %.1f ms%s", site[i], p->lrelu_bwd_calls[i], p->lrelu_bwd[i], i < 2 ? "," : "\n");
    printf("  conv1d by channels (resblock convs: one row per stage; fastest run per row):\n");
    printf("    %-12s %6s %8s %10s %8s %10s %8s\n", "cin->cout", "calls", "GFLOP", "fwd ms", "GFLOP/s", "bwd ms",
           "GFLOP/s");
    for (int i = 0; i < p->n_ch; i++) {
        const ch_row *c = &p->ch[i];
        char nm[32];
        snprintf(nm, sizeof nm, "%lld->%lld", (long long)c->cin, (long long)c->cout);
        printf("    %-12s %6d %8.2f %10.1f %8.1f %10.1f %8.1f\n", nm, c->calls, c->flops * 1e-9, c->fwd_ms,
               c->flops / (c->fwd_ms * 1e6), c->bwd_ms, 2 * c->flops / (c->bwd_ms * 1e6));
    }
}

int bv_bench_generator(int reps) {
    if (reps <= 0) reps = 5;
    if (reps > 64) reps = 64;
    /* BV_CONV_LAYOUT=plain|blocked forces conv.c's layout choice, to compare with its per-shape auto */
    const char *lay = getenv("BV_CONV_LAYOUT");
    if (lay) bv_conv_set_layout(bv_backend_get(BV_DEV_CPU), !strcmp(lay, "plain") ? BV_CONV_LAYOUT_PLAIN : !strcmp(lay, "blocked") ? BV_CONV_LAYOUT_BLOCKED : BV_CONV_LAYOUT_AUTO);
    static bench_setup s;
    setup_init(&s);
    const char *thr = getenv("OMP_NUM_THREADS");
    printf("Generator bench: upstream config, x [%lld, %d, %lld] -> y [%lld, 1, %lld], %lld params, "
           "OMP_NUM_THREADS=%s, conv layout %s, %d runs\n",
           (long long)s.B, s.cfg.initial_channel, (long long)s.T, (long long)s.B, (long long)s.gout->shape[2],
           (long long)bv_params_numel(&s.ps), thr ? thr : "(unset)", lay ? lay : "auto", reps);
    bench_totals(&s, reps);
    static op_profile p;
    int same = profile_ops(&s, reps, &p);
    print_profile(&p, same);
    setup_free(&s);
    return same ? 0 : 1;
}

#ifdef BV_BENCH_GENERATOR_MAIN
int main(int argc, char **argv) { return bv_bench_generator(argc > 1 ? atoi(argv[1]) : 0); }
#endif
