/* bench_train_step.c - times one whole train_ms training step (bv_train_step) at upstream's default
 * configs/config.json dimensions: hidden 192, filter 768, inter 192, gin 512, 6 layers, HiFi-GAN 512
 * [8,8,2,2,2] x [16,16,8,2,2] resblock "1", 44.1 kHz / hop 512 / segment 16384, 850 speakers,
 * transformer flow, duration discriminator, noise-scaled MAS, the real-width MultiPeriodDiscriminator
 * and WavLMDiscriminator (slm hidden 768, 13 states, 64 channels) over a random WavLM of
 * wavlm-base-plus's shape (WavLMConfig defaults: 12 layers, 768 wide, 12 heads, 3072, 7 convs of 512).
 *
 * The batch is random and collated as TextAudioSpeakerCollate pads it: batch 2, text of --tx phones
 * (blank-interspersed ids), spectrogram / waveform of --ty frames (default 431 and 388 frames, about
 * 5.0 s and 4.5 s at 44.1 kHz), BERT features N(0, 1). Weights random with PyTorch's default inits.
 * bench/train_step_torch.py builds the same shapes for upstream's PyTorch step (bench/step.sh runs both).
 *
 * Reports (all medians over the timed steps):
 *   - the step time (median, min), the arena's peak and the process's peak RSS (ru_maxrss);
 *   - a timeline of the step's sub-steps, read from bv_train_step's probe points;
 *   - backward time per network: every tape node's backward fn is timed (the node's fn pointer is
 *     swapped for a timing trampoline at the probe point before each backward runs: loss_kl's at net_g's
 *     prior hook, each sub-discriminator's, WavLM's G-step losses', each optimize()) and attributed to
 *     the network whose forward recorded it (the nodes recorded since the last such point; net_g split
 *     at its submodules' outputs) - plus the slowest backward ops;
 *   - forward time per network, measured apart on the last step's tensors (same inputs, tape on,
 *     faster of two runs);
 *   - grad-norm + AdamW time per optimizer.
 * The probes and trampolines cost two clock reads per node (well under 0.1% of a step).
 *
 *   bv2-bench --train-step [--steps N] [--config FILE] [--bf16] [--tx A,B] [--ty A,B]
 * (--bf16: train.bf16_run = true, as the config would set it)
 * (entry point int bv_bench_train_step(int argc, char **argv): the options, with or without a leading
 * "--train-step"; stand-alone with -DBV_BENCH_TRAIN_STEP_MAIN, as bench/step.sh builds it until
 * bench_ops.c dispatches --train-step). Threads: OMP_NUM_THREADS. Not part of CI.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "upstream_config.h"
#include "../src/audio/mel.h"
#include "../src/core/error.h"
#include "../src/text/symbols.h"
#include "../src/ops/align.h"
#include "../src/ops/conv_ref.h"
#include "../src/ops/ops.h"
#include "../src/train/train_step.h"

int bv_bench_train_step(int argc, char **argv);

#define MAX_B 8
#define MAX_STEPS 32




static double cpu_ms(void) { /* this process's CPU time, all threads: less load-sensitive than wall time */
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n) {
    double s[MAX_STEPS];
    memcpy(s, v, sizeof *v * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static double minimum(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
    return m;
}

/* ================================================================ random weights (PyTorch inits) */

static float uniform(bv_rng *r, float a) { return (float)((2.0 * bv_rng_uniform(r) - 1.0) * a); }

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* weight_g = ||weight_v|| as weight_norm sets it: per output channel (g [C, 1, ...]) or, for g
 * [1, 1, K] (WavLM's pos conv, dim=2), per kernel tap. */
static void weight_g_from_v(bv_tensor *g, const bv_tensor *v) {
    if (g->shape[0] == v->shape[0] && g->numel == v->shape[0]) {
        int64_t inner = v->numel / v->shape[0];
        for (int64_t o = 0; o < v->shape[0]; o++) {
            double s = 0;
            for (int64_t i = 0; i < inner; i++) s += (double)v->data[o * inner + i] * v->data[o * inner + i];
            g->data[o] = (float)sqrt(s);
        }
        return;
    }
    int64_t K = g->numel, outer = v->numel / K;
    for (int64_t k = 0; k < K; k++) {
        double s = 0;
        for (int64_t i = 0; i < outer; i++) s += (double)v->data[i * K + k] * v->data[i * K + k];
        g->data[k] = (float)sqrt(s);
    }
}

/* A store of weight-normed convs (MPD, WavLMDiscriminator): nn.Conv default init
 * (U(+-1/sqrt(fan_in)) for weight and bias), then weight_norm's g = ||v||. */
static void init_weight_normed_store(bv_params *ps, bv_rng *rng) {
    char name[512];
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *t = ps->items[i];
        if (!ends_with(t->name, "weight_v")) continue;
        float a = 1.0f / sqrtf((float)(t->numel / t->shape[0]));
        for (int64_t j = 0; j < t->numel; j++) t->data[j] = uniform(rng, a);
        size_t pre = strlen(t->name) - strlen("weight_v");
        snprintf(name, sizeof name, "%.*sweight_g", (int)pre, t->name);
        bv_tensor *g = bv_params_get(ps, name);
        if (g) weight_g_from_v(g, t);
        snprintf(name, sizeof name, "%.*sbias", (int)pre, t->name);
        bv_tensor *b = bv_params_get(ps, name);
        if (b)
            for (int64_t j = 0; j < b->numel; j++) b->data[j] = uniform(rng, a);
    }
}

/* transformers' WavLMPreTrainedModel._init_weights: Linear N(0, 0.02) with zero bias, norms 1/0,
 * feature convs kaiming_normal, feature projection U(+-1/sqrt(in)), pos conv N(0, 2/sqrt(K*in/groups)),
 * gru_rel_pos_const 1, rel_attn_embed N(0, 1) (nn.Embedding), masked_spec_embed U(0, 1). */
static void init_wavlm(bv_wavlm *m, bv_rng *rng) {
    const bv_wavlm_cfg *c = &m->cfg;
    bv_params *ps = &m->params;
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *t = ps->items[i];
        const char *n = t->name;
        float std = 0.02f, a = 0;
        int fill = 0; /* 0 normal(std), 1 constant a, 2 uniform(+-a), 3 uniform(0, 1) */
        if (strstr(n, "layer_norm.") || strstr(n, "gru_rel_pos_const")) fill = 1, a = ends_with(n, "bias") ? 0.f : 1.f;
        else if (!strcmp(n, "masked_spec_embed")) fill = 3;
        else if (strstr(n, "feature_projection.projection.")) fill = 2, a = 1.0f / sqrtf((float)t->shape[t->ndim - 1]);
        else if (!strcmp(n, "encoder.pos_conv_embed.conv.bias") || ends_with(n, "weight_g")) fill = 1, a = 0;
        else if (ends_with(n, "weight_v"))
            std = 2.0f * sqrtf(1.0f / (float)(c->num_conv_pos_embeddings * t->shape[1]));
        else if (strstr(n, "conv_layers.")) std = sqrtf(2.0f / (float)(t->numel / t->shape[0]));
        else if (strstr(n, "rel_attn_embed")) std = 1.0f;
        else if (ends_with(n, "bias")) fill = 1, a = 0;
        for (int64_t j = 0; j < t->numel; j++)
            t->data[j] = fill == 0 ? (float)(bv_rng_normal(rng) * std)
                         : fill == 1 ? a
                         : fill == 2 ? uniform(rng, a)
                                     : (float)bv_rng_uniform(rng);
    }
    weight_g_from_v(m->pos_conv_weight_g, m->pos_conv_weight_v);
}

/* ================================================================ the batch */

typedef struct batch_spec {
    int B;
    int64_t tx[MAX_B], ty[MAX_B];   /* text length (with blanks), spectrogram frames */
} batch_spec;

/* TextAudioSpeakerCollate's padded batch with random content (zero padding). */
static void make_batch(bv_ctx *ctx, const bv_config *cfg, const batch_spec *s, bv_train_batch *b) {
    bv_rng *r = &ctx->rng;
    const int64_t B = s->B, hop = cfg->data.hop_length, C = bv_config_spec_channels(cfg);
    int64_t TX = 0, TY = 0;
    for (int i = 0; i < B; i++) {
        TX = s->tx[i] > TX ? s->tx[i] : TX;
        TY = s->ty[i] > TY ? s->ty[i] : TY;
    }
    b->x = bv_zeros(ctx, BV_I64, BV_SHAPE(B, TX));                // [B, T_x]
    b->tone = bv_zeros(ctx, BV_I64, BV_SHAPE(B, TX));             // [B, T_x]
    b->language = bv_zeros(ctx, BV_I64, BV_SHAPE(B, TX));         // [B, T_x]
    b->x_lengths = bv_zeros(ctx, BV_I64, BV_SHAPE(B));            // [B]
    b->spec_lengths = bv_zeros(ctx, BV_I64, BV_SHAPE(B));         // [B]
    b->y_lengths = bv_zeros(ctx, BV_I64, BV_SHAPE(B));            // [B]
    b->speakers = bv_zeros(ctx, BV_I64, BV_SHAPE(B));             // [B]
    b->spec = bv_zeros(ctx, BV_F32, BV_SHAPE(B, C, TY));          // [B, 1025, T_y]
    b->y = bv_zeros(ctx, BV_F32, BV_SHAPE(B, 1, TY * hop));       // [B, 1, T_y * hop]
    bv_tensor **berts[3] = {&b->bert, &b->ja_bert, &b->en_bert};
    for (int k = 0; k < 3; k++) *berts[k] = bv_zeros(ctx, BV_F32, BV_SHAPE(B, 1024, TX)); // [B, 1024, T_x]
    for (int i = 0; i < B; i++) {
        int64_t lang = (int64_t)(bv_rng_u64(r) % BV_N_LANGUAGES);
        b->x_lengths->idata[i] = s->tx[i];
        b->spec_lengths->idata[i] = b->y_lengths->idata[i] = s->ty[i];
        b->y_lengths->idata[i] *= hop;
        b->speakers->idata[i] = (int64_t)(bv_rng_u64(r) % (uint64_t)cfg->data.n_speakers);
        for (int64_t t = 0; t < s->tx[i]; t++) { /* intersperse(blank): odd slots hold phones */
            b->x->idata[i * TX + t] = t % 2 ? 1 + (int64_t)(bv_rng_u64(r) % (BV_N_SYMBOLS - 1)) : BV_PAD_ID;
            b->tone->idata[i * TX + t] = t % 2 ? (int64_t)(bv_rng_u64(r) % BV_N_TONES) : 0;
            b->language->idata[i * TX + t] = lang;
        }
        for (int k = 0; k < 3; k++)
            for (int64_t c = 0; c < 1024; c++)
                for (int64_t t = 0; t < s->tx[i]; t++)
                    (*berts[k])->data[(i * 1024 + c) * TX + t] = (float)bv_rng_normal(r);
        for (int64_t c = 0; c < C; c++) /* a linear magnitude spectrogram: positive */
            for (int64_t t = 0; t < s->ty[i]; t++) b->spec->data[(i * C + c) * TY + t] = (float)fabs(bv_rng_normal(r));
        for (int64_t t = 0; t < s->ty[i] * hop; t++) b->y->data[i * TY * hop + t] = uniform(r, 0.5f);
    }
}

/* ================================================================ per-step instrumentation */

/* Networks a backward node is charged to (the forward that recorded it). */
typedef enum {
    R_ENC_P, R_ENC_Q, R_FLOW, R_SDP, R_DP, R_SDP_REV, R_DUR_LOSS, R_PRIOR, R_DEC, R_MEL,
    R_WAVLM, R_MPD_D, R_DUR_D, R_WD_D, R_MPD_G, R_DUR_G, R_LOSS_G, R_WD_G, R_COUNT
} region;
static const char *const region_names[R_COUNT] = {
    "net_g emb_g + enc_p (TextEncoder)", "net_g enc_q (PosteriorEncoder)", "net_g flow + loss_kl (before the dec)",
    "net_g sdp forward (nll)", "net_g dp", "net_g sdp reverse", "net_g duration losses", "net_g prior expansion",
    "net_g dec (Generator) + slice", "mel_spectrogram(y_hat)", "WavLM(resample(y_hat))", "D step: MPD (weights)",
    "D step: dur-disc (weights)", "WD step: net_wd (weights)", "G step: MPD (input grads)",
    "G step: dur-disc (input grads)", "G step: losses", "G step: net_wd + WavLM feature losses"};

/* Probe points whose time and tape length the timeline uses, in step order (bv_train_step: net_g's
 * forward runs loss_kl's backward through the flow at its prior hook; each sub-discriminator's
 * backward follows its forward at once, in the D step and in the G step; WavLM's G-step losses are
 * backpropagated to y_hat before the MPD's). */
enum { K_KL, K_FWD, K_DLOSS, K_DURLOSS, K_WLM, K_SLM, K_GLM, K_GMPD, K_GDUR, K_GALL, K_COUNT };
static const char *const key_names[K_COUNT] = {
    "sub.kl.loss_kl", "fwd.y_sliced", "dstep.loss_disc", "dstep.loss_dur_disc", "wdstep.wavlm_input.wav",
    "wdstep.loss_slm", "gstep.net_wd.y_df_hat_g", "gstep.net_d.y_d_hat_r.0", "gstep.net_dur_disc.call2.0",
    "gstep.loss_gen_all"};
#define N_PHASES (K_COUNT + 1)
static const char *const phase_names[N_PHASES] = {
    "net_g forward to the prior (enc_p, enc_q, flow, MAS)",
    "net_g loss_kl backward (flow); dp, sdp, dec forward; mel, slices",
    "D: MPD forward + backward, per sub-discriminator",
    "D: dur-disc forward x2",
    "D: dur-disc bwd/clip/AdamW, MPD clip/AdamW; WavLM(y), WavLM(y_hat)",
    "WD: net_wd forward + loss",
    "WD: bwd/clip/AdamW; G: WavLM feature + net_wd losses",
    "G: those losses' backward to y_hat; first MPD forward",
    "G: MPD forward + backward to y_hat (the rest); dur-disc x2",
    "G: mel/kl/dur/gen losses",
    "G: net_g backward + clip + AdamW"};

/* net_g tensors whose producing node ends a submodule's stretch of the tape, in tape order. */
static const char *const netg_ends[] = {"sub.enc_p.logs_p", "fwd.z", "fwd.z_p", "sub.sdp.forward_nll", "fwd.logw",
                                        "fwd.logw_sdp", "fwd.l_length", "fwd.logs_p", "fwd.y_hat"};
#define N_NETG_ENDS ((int)(sizeof netg_ends / sizeof *netg_ends))

typedef struct { bv_node *node; bv_backward_fn fn; region r; } wrap_entry;

typedef struct step_rec {
    double t0, t_end, key_t[K_COUNT];
    int64_t key_tape[K_COUNT];
    size_t key_arena[K_COUNT];     /* arena bytes in use at each probe point */
    bv_tensor *netg_t[N_NETG_ENDS];
    int64_t netg_end[N_NETG_ENDS];
    int64_t kl_from;       /* tape index of the flow's first node (loss_kl's backward runs from there) */
    double bw_ms[R_COUNT], op_ms[BV_OP_COUNT];
    int op_calls[BV_OP_COUNT];
} step_rec;

typedef struct bench {
    bv_ctx *ctx;
    bv_train_state *st;
    step_rec *cur;
    wrap_entry *map;       /* open addressing on the node pointer */
    size_t cap, used;
    /* the last step's tensors for the separate forward timings */
    bv_tensor *keep[32];
} bench;

static bench *g_bench; /* the trampoline's way back (bv_backward_fn has no user pointer) */

static size_t hash_ptr(const void *p, size_t cap) {
    return (size_t)((((uint64_t)(uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static wrap_entry *map_slot(bench *b, const bv_node *n) {
    size_t i = hash_ptr(n, b->cap);
    while (b->map[i].node && b->map[i].node != n) i = (i + 1) & (b->cap - 1);
    return &b->map[i];
}

static void map_reset(bench *b) {
    memset(b->map, 0, sizeof *b->map * b->cap);
    b->used = 0;
}

static void map_put(bench *b, bv_node *n, bv_backward_fn fn, region r) {
    if (2 * (b->used + 1) > b->cap) { /* grow and rehash */
        wrap_entry *old = b->map;
        size_t oc = b->cap;
        b->cap *= 2;
        b->map = bv_xcalloc(b->cap, sizeof *b->map);
        b->used = 0;
        for (size_t i = 0; i < oc; i++)
            if (old[i].node) *map_slot(b, old[i].node) = old[i], b->used++;
        free(old);
    }
    wrap_entry *e = map_slot(b, n);
    if (!e->node) b->used++;
    *e = (wrap_entry){n, fn, r};
}

static void timed_backward(bv_ctx *ctx, bv_node *n) {
    wrap_entry *e = map_slot(g_bench, n);
    BV_ASSERT(e->node == n);
    double t0 = bv_bench_now_ms();
    e->fn(ctx, n);
    double dt = bv_bench_now_ms() - t0;
    step_rec *r = g_bench->cur;
    r->bw_ms[e->r] += dt;
    r->op_ms[n->op] += dt;
    r->op_calls[n->op]++;
}

static int64_t node_index(const bv_ctx *ctx, const bv_tensor *t) {
    if (!t || !t->node) return -1;
    for (int64_t k = ctx->tape_len - 1; k >= 0; k--)
        if (ctx->tape[k] == t->node) return k;
    return -1;
}

/* Which network recorded tape node k: net_g's submodules before the end of its forward, else
 * `later` (the network whose forward ran since the last wrap point). */
static region region_of(const step_rec *r, int64_t k, region later) {
    if (r->key_t[K_FWD] == 0 || k >= r->key_tape[K_FWD]) return later;
    for (int i = 0; i < N_NETG_ENDS; i++)
        if (k <= r->netg_end[i]) return (region)(R_ENC_P + i);
    return R_MEL;
}

/* Route the backward of every tape node from index `from` on through the timer (at a wrap point:
 * before a backward runs). split >= 0: nodes from split on are charged to `after` instead. */
static void wrap_tape(bench *b, int64_t from, region later, int64_t split, region after) {
    bv_ctx *ctx = b->ctx;
    for (int64_t k = from < 0 ? 0 : from; k < ctx->tape_len; k++) {
        bv_node *n = ctx->tape[k];
        if (n->backward == timed_backward) continue;
        map_put(b, n, n->backward, region_of(b->cur, k, split >= 0 && k >= split ? after : later));
        n->backward = timed_backward;
    }
}

static int starts_with(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

/* The wrap points: before each backward of the step, the nodes recorded since the last one. */
static void wrap_at(bench *b, const char *name, int key) {
    step_rec *r = b->cur;
    if (key == K_KL) wrap_tape(b, r->kl_from, R_FLOW, -1, R_FLOW); /* what loss_kl's backward runs */
    else if (starts_with(name, "dstep.net_d.y_d_hat_g.")) wrap_tape(b, 0, R_MPD_D, -1, R_MPD_D);
    else if (key == K_DURLOSS) wrap_tape(b, 0, R_DUR_D, -1, R_DUR_D);
    else if (key == K_SLM) wrap_tape(b, 0, R_WAVLM, r->key_tape[K_WLM], R_WD_D);
    else if (key == K_GLM) wrap_tape(b, 0, R_WD_G, -1, R_WD_G);
    else if (starts_with(name, "gstep.net_d.y_d_hat_g.")) wrap_tape(b, 0, R_MPD_G, -1, R_MPD_G);
    else if (key == K_GALL) wrap_tape(b, 0, R_DUR_G, r->key_tape[K_GDUR], R_LOSS_G);
}

/* Tensors of the last step that the separate forward timings reuse. */
enum { T_G, T_HX, T_XMASK, T_Z, T_ZMASK, T_ATTN, T_IDS, T_Y, T_YHAT, T_NEGCENT, T_MASMASK, T_LOGW_, T_LOGW, T_COUNT };
static const char *const keep_names[T_COUNT] = {"fwd.g", "fwd.hidden_x", "fwd.x_mask", "fwd.z", "fwd.z_mask",
                                                "fwd.attn", "fwd.ids_slice", "fwd.y_sliced", "fwd.y_hat",
                                                "sub.mas.neg_cent", "sub.mas.mask", "fwd.logw_", "fwd.logw"};

static void on_probe(void *user, const char *name, bv_tensor *t) {
    bench *b = user;
    step_rec *r = b->cur;
    double now = bv_bench_now_ms();
    for (int i = 0; i < T_COUNT; i++)
        if (!strcmp(name, keep_names[i])) b->keep[i] = t;
    for (int i = 0; i < N_NETG_ENDS; i++)
        if (!strcmp(name, netg_ends[i])) r->netg_t[i] = t;
    if (!strcmp(name, "sub.kl.z")) r->kl_from = node_index(b->ctx, t) + 1; /* the flow's first node on */
    int key = -1;
    for (int k = 0; k < K_COUNT; k++)
        if (!strcmp(name, key_names[k])) key = k;
    if (key >= 0) {
        r->key_t[key] = now;
        r->key_tape[key] = b->ctx->tape_len;
        r->key_arena[key] = b->ctx->arena.in_use;
    }
    if (key == K_FWD) { /* net_g's submodule boundaries, made monotone where a tensor has no node */
        int64_t prev = -1;
        for (int i = 0; i < N_NETG_ENDS; i++) {
            int64_t at = node_index(b->ctx, r->netg_t[i]);
            r->netg_end[i] = prev = at > prev ? at : prev;
        }
    }
    wrap_at(b, name, key);
}

/* ================================================================ forward pieces, timed apart */

typedef struct piece { const char *name; double ms; } piece;

/* Fastest of two runs: the first may touch arena pages no step has touched yet (page faults). */
#define PIECE(list, n, label, ...)                                  \
    do {                                                            \
        double best_ = 1e300;                                       \
        for (int rep_ = 0; rep_ < 2; rep_++) {                      \
            bv_ctx_mark mark_ = bv_ctx_get_mark(ctx);               \
            int64_t tape_ = bv_tape_mark(ctx);                      \
            double t0_ = bv_bench_now_ms();                         \
            __VA_ARGS__;                                            \
            double dt_ = bv_bench_now_ms() - t0_;                   \
            best_ = dt_ < best_ ? dt_ : best_;                      \
            bv_tape_cut(ctx, tape_);                                \
            bv_ctx_reset_to(ctx, mark_);                            \
        }                                                           \
        list[n++] = (piece){label, best_};                          \
    } while (0)

/* Each network's forward on the last step's tensors, with the tape on (as in the step). */
static int time_pieces(bench *b, const bv_train_batch *bt, piece *p) {
    bv_ctx *ctx = b->ctx;
    bv_train_state *st = b->st;
    const bv_synth *s = st->net_g;
    const bv_config *cfg = st->cfg;
    bv_tensor **k = b->keep;
    int n = 0;
    for (int i = 0; i < T_COUNT; i++)
        if (!k[i]) return 0;
    bv_tensor *w = bv_detach(ctx, bv_sum_dim(ctx, k[T_ATTN], 2, 0)); // [B, 1, T_x]
    bv_tensor *hx = bv_detach(ctx, k[T_HX]), *g = bv_detach(ctx, k[T_G]), *z = bv_detach(ctx, k[T_Z]);
    bv_tensor *mo, *lo, *xm;
    PIECE(p, n, "net_g enc_p (TextEncoder)",
          bv_text_encoder_forward(ctx, s->enc_p, bt->x, bt->x_lengths, bt->tone, bt->language, bt->bert, bt->ja_bert,
                                  bt->en_bert, g, 1, &mo, &lo, &xm));
    PIECE(p, n, "net_g enc_q (PosteriorEncoder)",
          bv_posterior_encoder_forward(ctx, s->enc_q, bt->spec, bt->spec_lengths, g, 1, &mo, &lo, &xm));
    if (s->flow_tr)
        PIECE(p, n, "net_g flow (TransformerCoupling)",
              bv_transformer_coupling_block_forward(ctx, s->flow_tr, z, k[T_ZMASK], g, 0, 1));
    bv_no_grad_begin(ctx);
    PIECE(p, n, "net_g maximum_path (MAS, no grad)", bv_maximum_path(ctx, k[T_NEGCENT], k[T_MASMASK]));
    bv_no_grad_end(ctx);
    PIECE(p, n, "net_g sdp forward (nll)", bv_sdp_forward(ctx, s->sdp, hx, k[T_XMASK], w, g, 0, 1.0f, 1));
    PIECE(p, n, "net_g dp", bv_dp_forward(ctx, s->dp, hx, k[T_XMASK], g, 1));
    PIECE(p, n, "net_g sdp reverse", bv_sdp_forward(ctx, s->sdp, hx, k[T_XMASK], NULL, g, 1, 1.0f, 1));
    PIECE(p, n, "net_g dec (Generator)",
          bv_generator_forward(ctx, s->dec, bv_slice_segments(ctx, z, k[T_IDS], s->segment_size), g));
    bv_tensor *yh = bv_detach(ctx, k[T_YHAT]);
    yh->requires_grad = true; /* a leaf that wants grad: the ops record as for y_hat */
    bv_tensor *yh2 = bv_reshape(ctx, yh, BV_SHAPE(yh->shape[0], yh->shape[2]));
    const bv_config_data *d = &cfg->data;
    PIECE(p, n, "mel_spectrogram(y_hat)",
          bv_mel_spectrogram(ctx, yh2, (int)d->filter_length, (int)d->n_mel_channels, (int)d->sampling_rate,
                             (int)d->hop_length, (int)d->win_length, d->mel_fmin, d->has_mel_fmax ? d->mel_fmax : NAN));
    bv_tensor *dr[BV_MPD_MAX_DISCS], *dg[BV_MPD_MAX_DISCS];
    bv_tensor *fr[BV_MPD_MAX_DISCS][BV_DISC_MAX_CONVS + 1], *fg[BV_MPD_MAX_DISCS][BV_DISC_MAX_CONVS + 1];
    PIECE(p, n, "MPD (y, y_hat), fmaps", bv_mpd_forward(ctx, &st->net_d, k[T_Y], yh, dr, dg, fr, fg));
    if (st->net_dur_disc) {
        bv_tensor *probs[2];
        PIECE(p, n, "dur-disc (one call)",
              bv_dur_disc_forward(ctx, st->net_dur_disc, hx, k[T_XMASK], k[T_LOGW_], bv_detach(ctx, k[T_LOGW]), g, 1,
                                  probs));
    }
    bv_tensor *hs[BV_WAVLM_LOSS_MAX_HIDDEN];
    bv_no_grad_begin(ctx);
    PIECE(p, n, "WavLM(resample(y)), no grad", bv_wavlm_loss_embed(ctx, &st->wl, k[T_Y], hs, NULL));
    bv_no_grad_end(ctx);
    PIECE(p, n, "WavLM(resample(y_hat)), tape", bv_wavlm_loss_embed(ctx, &st->wl, yh, hs, NULL));
    bv_no_grad_begin(ctx);
    bv_wavlm_loss_embed(ctx, &st->wl, k[T_Y], hs, NULL);
    bv_no_grad_end(ctx);
    int nh = bv_wavlm_loss_n_hidden(&st->wl);
    PIECE(p, n, "net_wd (one call)", bv_wavlm_disc_forward(ctx, &st->net_wd, bv_wavlm_loss_stack(ctx, nh, hs)));
    return n;
}

/* grad norm + AdamW of each optimizer, on the grads the last step left (advances the optimizers). */
static int time_optimizers(bench *b, piece *p) {
    bv_train_state *st = b->st;
    struct { const char *name; bv_params *ps; bv_adamw *o; const uint8_t *hg; } os[] = {
        {"net_g clip + AdamW", &st->ps_g, &st->optim_g, st->has_grad_g},
        {"net_d clip + AdamW", &st->ps_d, &st->optim_d, NULL},
        {"net_dur_disc clip + AdamW", &st->ps_dur, &st->optim_dur, NULL},
        {"net_wd clip + AdamW", &st->ps_wd, &st->optim_wd, NULL}};
    int n = 0;
    for (size_t i = 0; i < sizeof os / sizeof *os; i++) {
        if (!os[i].o->block) continue;
        double t0 = bv_bench_now_ms();
        bv_clip_grad_value(os[i].ps, os[i].hg, NULL);
        bv_adamw_step(os[i].o, os[i].hg);
        p[n++] = (piece){os[i].name, bv_bench_now_ms() - t0};
    }
    return n;
}

/* ================================================================ report */

static long minor_faults(void) { /* first touches of fresh pages (kernel zeroes each one) */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static long max_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void print_timeline(const step_rec *rec, int n) {
    double col[MAX_STEPS];
    printf("\nstep timeline (probe points of bv_train_step; median ms over %d steps; arena in use at the end):\n", n);
    for (int ph = 0; ph < N_PHASES; ph++) {
        for (int s = 0; s < n; s++) {
            const step_rec *r = &rec[s];
            double a = ph == 0 ? r->t0 : r->key_t[ph - 1], e = ph == K_COUNT ? r->t_end : r->key_t[ph];
            col[s] = e - a;
        }
        printf("  %-62s %9.1f", phase_names[ph], median(col, n));
        if (ph < K_COUNT) printf(" %8.0f MiB", (double)rec[n - 1].key_arena[ph] / (1 << 20));
        printf("\n");
    }
}

static void print_backward(const step_rec *rec, int n) {
    double col[MAX_STEPS], sum = 0;
    printf("\nbackward by network (tape-node time, median ms over %d steps):\n", n);
    for (int g = 0; g < R_COUNT; g++) {
        for (int s = 0; s < n; s++) col[s] = rec[s].bw_ms[g];
        double m = median(col, n);
        sum += m;
        printf("  %-62s %9.1f\n", region_names[g], m);
    }
    printf("  %-62s %9.1f\n", "sum", sum);
    /* slowest ops over all backward passes */
    int idx[BV_OP_COUNT], k = 0;
    double ms[BV_OP_COUNT];
    for (int o = 0; o < BV_OP_COUNT; o++) {
        for (int s = 0; s < n; s++) col[s] = rec[s].op_ms[o];
        ms[o] = median(col, n);
        if (rec[0].op_calls[o]) idx[k++] = o;
    }
    for (int i = 1; i < k; i++) /* insertion sort, slowest first */
        for (int j = i; j > 0 && ms[idx[j]] > ms[idx[j - 1]]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    printf("  slowest backward ops (median ms, calls per step):\n");
    for (int i = 0; i < k && i < 12; i++)
        printf("    %-24s %9.1f %7d\n", bv_op_name((bv_op)idx[i]), ms[idx[i]], rec[0].op_calls[idx[i]]);
}

/* ================================================================ driver */

static int parse_pair(const char *s, int64_t *v, int *n) {
    int k = 0;
    char *end;
    while (*s && k < MAX_B) {
        v[k++] = strtoll(s, &end, 10);
        if (end == s) return -1;
        s = *end == ',' ? end + 1 : end;
    }
    *n = k;
    return 0;
}

typedef struct opts {
    int steps, bf16;
    const char *config;
    batch_spec bs;
} opts;

static int parse_opts(int argc, char **argv, opts *o) {
    int ntx = 2, nty = 2;
    *o = (opts){.steps = 3, .bs = {.B = 2, .tx = {147, 125}, .ty = {431, 388}}};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--steps") && v) o->steps = atoi(v), i++;
        else if (!strcmp(a, "--config") && v) o->config = v, i++;
        else if (!strcmp(a, "--bf16")) o->bf16 = 1; /* train.bf16_run: true */
        else if (!strcmp(a, "--tx") && v) {
            if (parse_pair(v, o->bs.tx, &ntx)) return -1;
            i++;
        } else if (!strcmp(a, "--ty") && v) {
            if (parse_pair(v, o->bs.ty, &nty)) return -1;
            i++;
        } else return -1;
    }
    if (ntx != nty || ntx < 1 || o->steps < 1 || o->steps > MAX_STEPS) return -1;
    o->bs.B = ntx;
    for (int i = 0; i < ntx; i++)
        if (o->bs.tx[i] < 1 || o->bs.ty[i] < o->bs.tx[i]) return -1; /* MAS needs T_y >= T_x */
    return 0;
}

static void print_header(const opts *o, const bv_config *cfg, const bv_train_state *st, const bv_wavlm *wl) {
    const char *thr = getenv("OMP_NUM_THREADS");
    double load = -1;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf", &load) != 1) load = -1;
        fclose(lf);
    }
    printf("bertvits2.c train step: %s, OMP_NUM_THREADS=%s, load average %.2f\n",
           o->config ? o->config : "built-in upstream configs/config.json", thr ? thr : "(unset)", load);
    printf("  batch %d: T_x", o->bs.B);
    for (int i = 0; i < o->bs.B; i++) printf(" %lld", (long long)o->bs.tx[i]);
    printf(", T_y");
    for (int i = 0; i < o->bs.B; i++)
        printf(" %lld (%.2f s)", (long long)o->bs.ty[i],
               (double)(o->bs.ty[i] * cfg->data.hop_length) / (double)cfg->data.sampling_rate);
    printf(", segment %lld samples\n", (long long)cfg->train.segment_size);
    printf("  precision: %s\n", st->bf16 ? "train.bf16_run (matmul-class ops in bf16, ctx->autocast)" : "fp32");
    printf("  parameters: net_g %lld, net_d %lld, net_dur_disc %lld, net_wd %lld, WavLM %lld (frozen)\n",
           (long long)bv_params_numel(&st->ps_g), (long long)bv_params_numel(&st->ps_d),
           (long long)bv_params_numel(&st->ps_dur), (long long)bv_params_numel(&st->ps_wd),
           (long long)bv_params_numel(&wl->params));
    fflush(stdout);
}

static void init_all(bv_train_state *st, bv_wavlm *wl, bv_rng *rng) {
    init_wavlm(wl, rng);
    bv_synth_reset_parameters(st->net_g, rng);
    init_weight_normed_store(&st->ps_d, rng);
    init_weight_normed_store(&st->ps_wd, rng);
    if (st->net_dur_disc) bv_dur_disc_reset_parameters(st->net_dur_disc, rng);
    if (st->bf16) bv_linear_keep_bf16(&wl->params); /* as bv2 train does: the frozen WavLM's bf16 copies */
}

static int run(const opts *o, const bv_config *cfg) {
    char err[512];
    bv_wavlm_cfg wcfg;
    bv_wavlm_cfg_default(&wcfg); /* wavlm-base-plus's architecture */
    bv_wavlm *wl = bv_wavlm_new(&wcfg);
    bv_train_state st;
    if (bv_train_state_init(&st, cfg, wl, NULL, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        bv_wavlm_free(wl);
        return 1;
    }
    if (bv_train_state_start_schedulers(&st, 1, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        bv_train_state_free(&st);
        bv_wavlm_free(wl);
        return 1;
    }
    bv_ctx ctx, bctx;
    bv_ctx_init(&ctx, (size_t)256 << 20, 1234);
    bv_ctx_init(&bctx, (size_t)64 << 20, 4321);
    init_all(&st, wl, &bctx.rng);
    print_header(o, cfg, &st, wl);
    bv_train_batch batch;
    make_batch(&bctx, cfg, &o->bs, &batch);

    bench b = {.ctx = &ctx, .st = &st, .cap = (size_t)1 << 18};
    b.map = bv_xcalloc(b.cap, sizeof *b.map);
    g_bench = &b;
    step_rec rec[MAX_STEPS + 1];
    double step_ms[MAX_STEPS], step_cpu[MAX_STEPS];
    size_t arena_peak = 0, grad_peak = 0;
    bv_train_result res;
    st.probe = on_probe;
    st.probe_user = &b;
    for (int s = -1; s < o->steps; s++) { /* s = -1: warm-up (oneDNN primitives, arena chunks) */
        step_rec *r = &rec[s < 0 ? MAX_STEPS : s];
        memset(r, 0, sizeof *r);
        memset(b.keep, 0, sizeof b.keep);
        b.cur = r;
        map_reset(&b);
        bv_ctx_reset(&ctx);
        double c0 = cpu_ms();
        long f0 = minor_faults();
        r->t0 = bv_bench_now_ms();
        bv_train_step(&st, &ctx, &batch, &res);
        r->t_end = bv_bench_now_ms();
        double dc = cpu_ms() - c0;
        st.global_step++;
        for (int k = 1; k < K_COUNT; k++) /* an absent probe (no dur-disc): zero-length phase */
            if (r->key_t[k] == 0) r->key_t[k] = r->key_t[k - 1], r->key_tape[k] = r->key_tape[k - 1];
        if (ctx.arena.peak > arena_peak) arena_peak = ctx.arena.peak;
        if (bv_ctx_grad_peak_bytes(&ctx) > grad_peak) grad_peak = bv_ctx_grad_peak_bytes(&ctx);
        if (s < 0) {
            printf("  warm-up step %.1f ms (loss_gen_all %.4g, loss_disc %.4g, grad_norm_g %.4g)\n",
                   r->t_end - r->t0, res.loss_gen_all, res.loss_disc, res.grad_norm_g);
            continue;
        }
        step_ms[s] = r->t_end - r->t0;
        step_cpu[s] = dc;
        printf("  step %d: %.1f ms (process CPU %.1f ms, %ld minor page faults)\n", s + 1, step_ms[s], dc,
               minor_faults() - f0);
        fflush(stdout);
    }
    long rss = max_rss_kib();
    double med = median(step_ms, o->steps);
    printf("\nfull step: median %.1f ms, min %.1f ms over %d steps (after 1 warm-up); process CPU median %.1f ms\n",
           med, minimum(step_ms, o->steps), o->steps, median(step_cpu, o->steps));
    printf("peak memory: arena %.1f MiB, activation-grad pool %.1f MiB, process max RSS %.1f MiB\n",
           (double)arena_peak / (1 << 20), (double)grad_peak / (1 << 20), rss / 1024.0);
    printf("conv primitive cache: %d of %d entries in use\n", bv_conv_cache_used(ctx.be),
           bv_conv_cache_capacity(ctx.be));
    print_timeline(rec, o->steps);
    print_backward(rec, o->steps);

    piece p[32];
    ctx.autocast = st.bf16 ? BV_AUTOCAST_BF16 : BV_AUTOCAST_OFF; /* the forwards as the step runs them */
    int np = time_pieces(&b, &batch, p);
    ctx.autocast = BV_AUTOCAST_OFF;
    printf("\nforward by network, timed apart on the last step's tensors (tape on; ms, faster of 2 runs):\n");
    for (int i = 0; i < np; i++) printf("  %-62s %9.1f\n", p[i].name, p[i].ms);
    np = time_optimizers(&b, p);
    printf("optimizers (grad norm + AdamW, ms):\n");
    for (int i = 0; i < np; i++) printf("  %-62s %9.1f\n", p[i].name, p[i].ms);
    /* machine-readable lines for bench/step.sh */
    printf("RESULT ours step_ms=%.1f min_ms=%.1f cpu_ms=%.1f max_rss_mib=%.1f arena_peak_mib=%.1f\n", med,
           minimum(step_ms, o->steps), median(step_cpu, o->steps), rss / 1024.0, (double)arena_peak / (1 << 20));

    g_bench = NULL;
    free(b.map);
    bv_ctx_free(&ctx);
    bv_ctx_free(&bctx);
    bv_train_state_free(&st);
    bv_wavlm_free(wl);
    return 0;
}

int bv_bench_train_step(int argc, char **argv) {
    opts o;
    if (argc > 0 && !strcmp(argv[0], "--train-step")) argc--, argv++; /* main may pass its own flag along */
    if (parse_opts(argc, argv, &o)) {
        fprintf(stderr, "usage: --train-step [--steps N (1..%d, default 3)] [--config config.json] [--bf16] "
                        "[--tx A,B (text lengths, default 147,125)] [--ty A,B (frames >= T_x, default 431,388)]\n",
                MAX_STEPS);
        return 2;
    }
    bv_config cfg;
    char err[512];
    int rc = o.config ? bv_config_load(&cfg, o.config, err, sizeof err)
                      : bv_config_parse(&cfg, bv_bench_upstream_config, "built-in config", err, sizeof err);
    if (rc) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    if (o.bf16) cfg.train.bf16_run = 1;
    rc = run(&o, &cfg);
    bv_config_free(&cfg);
    return rc;
}

#ifdef BV_BENCH_TRAIN_STEP_MAIN
int main(int argc, char **argv) { return bv_bench_train_step(argc - 1, argv + 1); }
#endif
