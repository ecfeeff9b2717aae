/* trainer.c - train_ms.run() and train_and_evaluate() (see trainer.h): setup, resume, the epoch
 * loop with logging, evaluation and checkpoints, and bv2's stop conditions (signals, bounds, NaN). */
#include "../audio/mel.h"
#include "../data/dataset.h"
#include "../data/loader.h"
#include "../data/sampler.h"
#include "../io/config.h"
#include "../io/fs.h"
#include "../io/png_image.h"
#include "../io/pth.h"
#include "../io/pyrepr.h"
#include "../io/tensorboard.h"
#include "../io/wav.h"
#include "../io/yml_config.h"
#include "../ops/dispatch.h"
#include "../ops/ops.h"
#include "train_step.h"
#include "checkpoint.h"
#include "dist.h"
#include "log.h"
#include "progress.h"
#include "trainer.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <omp.h>

#include "../core/error.h"

#define ARENA_CHUNK ((size_t)64 << 20)
#define EVAL_MAX_LEN 1000           /* evaluate(): infer(..., max_len=1000) */
#define SMALL_D_PROBE_BYTES ((off_t)64 << 20)

void bv_train_opts_default(bv_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->num_workers = -1;
    o->spec_cache = -1;
    o->keep_ckpts = -1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* os.path.join(a, b) for two parts. */
static void path_join(char *out, size_t cap, const char *a, const char *b) {
    if (!a || !a[0] || b[0] == '/') snprintf(out, cap, "%s", b);
    else snprintf(out, cap, "%s%s%s", a, a[strlen(a) - 1] == '/' ? "" : "/", b);
}

/* ------------------------------------------------------------------------------------------ */
/* the run's state                                                                              */

typedef struct trainer {
    const bv_train_opts *o;
    char config_path[4096], model_dir[4096], base_model[4096];
    int num_workers, spec_cache, keep_ckpts;
    bv_disc_widths_choice widths;
    bv_config cfg;
    int cfg_ok;
    bv_logger *lg;
    bv_tb_writer *tb, *tb_eval;
    bv_dataset train_ds, eval_ds;
    int train_ok, eval_ok, sampler_ok, st_ok, ctx_ok;
    bv_bucket_sampler sampler;
    bv_loader *loader;
    bv_wavlm *wavlm;
    bv_train_state st;
    bv_ctx ctx;
    int64_t epoch_str, steps_done;
    int64_t last_saved;             /* step saved by this run, -1 = none yet */
    int64_t latest_ckpt;            /* newest G_ step on disk (resumed or saved), -1 = none */
    double t0, t_steps;
    int progress_on;
    int lock_fd;                    /* the model folder's lock (bv_dir_lock), -1 = not held */
    int rank, world;                /* MPI (dist.h); 0 of 1 without mpirun */
    int collective_rc;              /* the error code was agreed by every rank (exit together) */
} trainer;

/* An error for the user: "error: ..." on stderr, and into train.log once it is open. */
static void report(trainer *T, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(trainer *T, const char *fmt, ...) {
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (T->lg) {
        bv_logger_set_echo(T->lg, NULL);
        bv_logger_error(T->lg, "%s", msg);
        bv_logger_set_echo(T->lg, stderr);
    }
    bv_progress_hide();
    if (T->world > 1) fprintf(stderr, "error: rank %d of %d: %s\n", T->rank, T->world, msg);
    else fprintf(stderr, "error: %s\n", msg);
    fflush(stderr);
    bv_progress_show();
}

/* ---- signals: finish the step, save, exit ---- */

static volatile sig_atomic_t g_stop_signal;

static void on_signal(int sig) {
    if (g_stop_signal) { /* a second one: quit now (checkpoints on disk are always whole) */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_stop_signal = sig;
    static const char msg[] =
        "\ninterrupt: finishing the current step, then saving (interrupt again to quit at once)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
}

static void install_signals(struct sigaction *old_int, struct sigaction *old_term) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    g_stop_signal = 0;
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
}

/* ---- setup ---- */

/* Paths and options from the command line and config.yml. Returns an exit code. */
static int resolve_paths(trainer *T, char *err, size_t errcap) {
    const bv_train_opts *o = T->o;
    bv_yml_train_ms y;
    int have_yml = o->yml_path != NULL;
    if (have_yml && bv_yml_read_train_ms(o->yml_path, &y, err, errcap)) return BV_EXIT_INPUT;
    if (o->config_path) snprintf(T->config_path, sizeof T->config_path, "%s", o->config_path);
    else if (have_yml && y.config_path[0])
        path_join(T->config_path, sizeof T->config_path, y.dataset_path, y.config_path);
    else
        return bv_err_set(err, errcap, "no config: pass -c <config.json>%s",
                          have_yml ? " or set train_ms.config_path" : ""), BV_EXIT_USAGE;
    if (have_yml) { /* train_ms: model_dir = os.path.join(args.model or dataset_path, train_ms.model) */
        path_join(T->model_dir, sizeof T->model_dir, o->model_dir ? o->model_dir : y.dataset_path, y.model);
    } else if (o->model_dir) {
        snprintf(T->model_dir, sizeof T->model_dir, "%s", o->model_dir);
    } else {
        return bv_err_set(err, errcap, "no model folder: pass -m <model_dir>"), BV_EXIT_USAGE;
    }
    if (!T->model_dir[0]) return bv_err_set(err, errcap, "the model folder name is empty"), BV_EXIT_USAGE;
    const char *base = o->base_model ? o->base_model : have_yml && y.base_model[0] ? y.base_model : NULL;
    if (base) snprintf(T->base_model, sizeof T->base_model, "%s", base);
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    int nw = o->num_workers >= 0 ? o->num_workers : have_yml && y.num_workers >= 0 ? y.num_workers : 2;
    T->num_workers = nw < ncpu - 1 ? nw : ncpu - 1; /* min(num_workers, os.cpu_count() - 1) */
    if (T->num_workers < 1) T->num_workers = 1;
    T->spec_cache = o->spec_cache >= 0 ? o->spec_cache : have_yml && y.spec_cache >= 0 ? y.spec_cache : 0;
    T->keep_ckpts = o->keep_ckpts >= 0 ? o->keep_ckpts : have_yml && y.keep_ckpts >= 0 ? y.keep_ckpts : -1;
    return 0;
}

static void log_hps(trainer *T) {
    FILE *f = fopen(T->config_path, "rb");
    if (!f) return;
    char *text = NULL;
    size_t n = 0, got;
    char chunk[8192];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        text = bv_xrealloc(text, n + got + 1);
        memcpy(text + n, chunk, got);
        n += got;
    }
    fclose(f);
    if (!text) return;
    text[n] = 0;
    cJSON *j = cJSON_Parse(text);
    if (j) { /* logger.info(hps): the HParams tree, with the model_dir train_ms adds */
        cJSON_AddStringToObject(j, "model_dir", T->model_dir);
        char *r = bv_py_repr_json(j, text);
        bv_logger_info(T->lg, "%s", r);
        free(r);
        cJSON_Delete(j);
    }
    free(text);
}

/* Copies src to dst as a whole (src/io/fs.h: a temporary moved into place). */
static int copy_file(const char *src, const char *dst, char *err, size_t errcap) {
    bv_out_file o;
    if (bv_out_begin(&o, dst, err, errcap)) return -1;
    FILE *in = fopen(src, "rb");
    if (!in) return bv_err_set(err, errcap, "%s: cannot open: %s", src, strerror(errno));
    FILE *out = fopen(o.tmp, "wb");
    if (!out) {
        fclose(in);
        return bv_err_set(err, errcap, "%s: cannot write: %s", o.tmp, strerror(errno));
    }
    char buf[1 << 16];
    size_t k;
    int bad = 0;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, k, out) != k) bad = 1;
    bad |= ferror(in);
    fclose(in);
    if (fclose(out)) bad = 1;
    if (bad) {
        int e = errno;
        bv_out_abort(&o);
        return bv_err_set(err, errcap, "%s: cannot copy to %s: %s", src, dst, strerror(e));
    }
    return bv_out_commit(&o, err, errcap);
}

/* Keeps model_dir/config.json equal to the config used (upstream keeps a copy beside its models). */
static int save_config_copy(trainer *T, char *err, size_t errcap) {
    char dst[4200], a[PATH_MAX], b[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/config.json", T->model_dir);
    if (realpath(T->config_path, a) && realpath(dst, b) && !strcmp(a, b)) return 0;
    return copy_file(T->config_path, dst, err, errcap);
}

/* utils.download_checkpoint, offline: a model dir without G_*.pth starts from the base folder. */
static int copy_base_model(trainer *T, char *err, size_t errcap) {
    if (!T->base_model[0] || bv_ckpt_latest_step(T->model_dir, BV_NET_G) >= 0) return 0;
    int copied = 0;
    for (int k = 0; k < BV_NET_COUNT; k++) {
        char src[4200], dst[4200];
        bv_ckpt_path(src, sizeof src, T->base_model, (bv_net_kind)k, 0);
        bv_ckpt_path(dst, sizeof dst, T->model_dir, (bv_net_kind)k, 0);
        if (access(src, F_OK) != 0) continue;
        if (copy_file(src, dst, err, errcap)) return -1;
        bv_logger_info(T->lg, "base model: copied %s to %s", src, dst);
        copied++;
    }
    char g0[4200];
    bv_ckpt_path(g0, sizeof g0, T->base_model, BV_NET_G, 0);
    if (!copied || access(g0, F_OK) != 0)
        return bv_err_set(err, errcap, "base model folder %s has no G_0.pth (expected G_0.pth, D_0.pth, DUR_0.pth, "
                          "WD_0.pth)", T->base_model);
    return 0;
}

/* The golden data's reduced MultiPeriodDiscriminator widths (README "Discriminators"). */
static void small_layout(bv_mpd_layout *l) {
    static const int s_ch[6] = {16, 32, 32, 32, 32, 32}, s_g[6] = {1, 4, 8, 8, 8, 1}, s_k[6] = {15, 41, 41, 41, 41, 5},
                     s_st[6] = {1, 4, 4, 4, 4, 1}, s_pad[6] = {7, 20, 20, 20, 20, 2};
    static const int p_ch[5] = {4, 8, 16, 32, 32}, periods[5] = {2, 3, 5, 7, 11};
    memset(l, 0, sizeof *l);
    l->s.n_convs = 6;
    for (int i = 0; i < 6; i++)
        l->s.convs[i] = (bv_disc_layer){i ? s_ch[i - 1] : 1, s_ch[i], s_k[i], s_st[i], s_g[i], s_pad[i]};
    l->s.post = (bv_disc_layer){32, 1, 3, 1, 1, 1};
    l->p.n_convs = 5;
    for (int i = 0; i < 5; i++) l->p.convs[i] = (bv_disc_layer){i ? p_ch[i - 1] : 1, p_ch[i], 5, i < 4 ? 3 : 1, 1, 2};
    l->p.post = (bv_disc_layer){32, 1, 3, 1, 1, 1};
    l->n_periods = 5;
    memcpy(l->periods, periods, sizeof periods);
}

/* The widths a resumed D_*.pth was trained with (its DiscriminatorS conv 1 has 32 outputs at the
 * small widths, 64 at upstream's); a file too big for the small widths is upstream's. */
static int detect_widths(trainer *T, char *err, size_t errcap) {
    int64_t g = bv_ckpt_latest_step(T->model_dir, BV_NET_G), s = -1;
    char path[4200];
    if (g >= 0 && bv_ckpt_path(path, sizeof path, T->model_dir, BV_NET_D, g) == 0 && access(path, F_OK) == 0) s = g;
    if (s < 0) s = bv_ckpt_latest_step(T->model_dir, BV_NET_D);
    if (s < 0) return 0;
    bv_ckpt_path(path, sizeof path, T->model_dir, BV_NET_D, s);
    struct stat sb;
    if (stat(path, &sb) != 0 || sb.st_size >= SMALL_D_PROBE_BYTES) {
        T->widths = BV_DISC_WIDTHS_UPSTREAM;
        return 0;
    }
    bv_pth_dict d;
    if (bv_pth_load_state_dict(path, "model", &d, err, errcap)) return -1;
    const bv_pth_tensor *t = bv_pth_dict_find(&d, "discriminators.0.convs.1.weight_v");
    bv_disc_widths_choice w = t && t->ndim == 3 && t->shape[0] == 32 ? BV_DISC_WIDTHS_SMALL : BV_DISC_WIDTHS_UPSTREAM;
    if (w != T->widths)
        bv_logger_info(T->lg, "%s holds the %s discriminator widths: using them", path,
                    w == BV_DISC_WIDTHS_SMALL ? "small (bv2 --disc-widths small)" : "upstream");
    T->widths = w;
    bv_pth_dict_free(&d);
    return 0;
}

static int open_data(trainer *T, char *err, size_t errcap) {
    const bv_config *c = &T->cfg;
    bv_dataset_opts dopts = {.spec_cache = T->spec_cache};
    if (bv_dataset_open(&T->train_ds, c->data.training_files, c, &dopts, err, errcap)) return -1;
    T->train_ok = 1;
    if (T->rank == 0) { /* upstream: the eval loader exists on rank 0 only */
        if (bv_dataset_open(&T->eval_ds, c->data.validation_files, c, &dopts, err, errcap)) return -1;
        T->eval_ok = 1;
    }
    if (T->train_ds.n == 0 || (T->eval_ok && T->eval_ds.n == 0))
        return bv_err_set(err, errcap, "%s (data.%s): no utterances: the filelist is empty, or data.min_text_len / "
                          "max_text_len filtered every line", T->train_ds.n ? c->data.validation_files : c->data.training_files,
                          T->train_ds.n ? "validation_files" : "training_files");
    /* upstream slices segment_size / hop frames from every item; longer than every utterance, every
     * step fails inside rand_slice_segments */
    int64_t seg = bv_config_segment_frames(c), longest = 0;
    for (int64_t i = 0; i < T->train_ds.n; i++) longest = T->train_ds.lengths[i] > longest ? T->train_ds.lengths[i] : longest;
    if (longest < seg)
        return bv_err_set(err, errcap,
                          "train.segment_size %lld samples (%lld frames) is longer than every utterance of %s "
                          "(the longest has about %lld frames)", (long long)c->train.segment_size, (long long)seg,
                          c->data.training_files, (long long)longest);
    /* DistributedBucketSampler(num_replicas = world, rank = rank, shuffle = True) */
    if (bv_bucket_sampler_init(&T->sampler, T->train_ds.lengths, T->train_ds.n, c->train.batch_size, NULL, 0,
                               T->world, T->rank, 1, err, errcap))
        return -1;
    T->sampler_ok = 1;
    if (T->world > 1) {
        /* upstream pads each bucket by repeating utterances, so any world "works" - but a step that
         * needs more distinct utterances than the training set has is a mistake, not a setting */
        int64_t usable = T->train_ds.n - T->sampler.n_dropped;
        int64_t batches = usable / c->train.batch_size;
        if ((int64_t)T->world > batches)
            return bv_err_set(err, errcap, "%d ranks but only %lld batches of train.batch_size %lld in %s (%lld usable "
                              "utterances): one step needs world x batch_size = %lld utterances; use at most %lld ranks "
                              "or a smaller batch_size", T->world, (long long)batches, (long long)c->train.batch_size,
                              c->data.training_files, (long long)usable, (long long)T->world * c->train.batch_size,
                              (long long)(batches > 0 ? batches : 0));
    }
    if (T->sampler.n_dropped)
        bv_logger_info(T->lg, "%lld of %lld utterances are outside the bucket boundaries (32, 1000] frames and are not "
                    "used (as upstream)", (long long)T->sampler.n_dropped, (long long)T->train_ds.n);
    T->loader = bv_loader_new(&T->train_ds, &(bv_loader_opts){.n_workers = T->num_workers, .prefetch = 4,
                                                              .seed = (uint64_t)c->train.seed});
    return 0;
}

static int build_model(trainer *T, char *err, size_t errcap) {
    const bv_config *c = &T->cfg;
    char sub[2048];
    T->wavlm = bv_wavlm_load(c->model.slm.model, sub, sizeof sub);
    if (!T->wavlm) return bv_err_set(err, errcap, "model.slm.model: %s", sub);
    bv_mpd_layout layout;
    if (T->widths == BV_DISC_WIDTHS_SMALL) small_layout(&layout);
    else bv_mpd_layout_upstream(&layout);
    if (bv_train_state_init(&T->st, c, T->wavlm, &layout, err, errcap)) return -1;
    T->st_ok = 1;
    /* bf16_run: the frozen WavLM's linear weights rounded once, not on each of its ~5 passes a step */
    if (T->st.bf16) bv_linear_keep_bf16(&T->wavlm->params);
    bv_rng *rng = &T->ctx.rng;
    bv_synth_reset_parameters(T->st.net_g, rng);
    bv_mpd_reset_parameters(&T->st.net_d, rng);
    if (T->st.net_dur_disc) bv_dur_disc_reset_parameters(T->st.net_dur_disc, rng);
    bv_wavlm_disc_reset_parameters(&T->st.net_wd, rng);
    bv_logger_info(T->lg, "net_g %lld parameters, net_d %lld (%s widths), net_wd %lld, net_dur_disc %lld",
                (long long)bv_params_numel(&T->st.ps_g), (long long)bv_params_numel(&T->st.ps_d),
                T->widths == BV_DISC_WIDTHS_SMALL ? "small" : "upstream", (long long)bv_params_numel(&T->st.ps_wd),
                (long long)bv_params_numel(&T->st.ps_dur));
    if (T->st.bf16)
        bv_logger_info(T->lg, "train.bf16_run: convolutions, linear layers, matmuls and LSTMs compute in bf16 "
                              "(fp32 parameters, optimizer state and checkpoints; clip_grad_norm_ 200 / 500)");
    char note[512];
    if (T->st.bf16 && bv_backend_bf16_note(bv_backend_get(BV_DEV_CPU), note, sizeof note))
        bv_logger_warning(T->lg, "train.bf16_run: %s", note);
    return 0;
}

/* ---- data parallelism (dist.h): the collective parts of setup and of the loop ---- */

/* Every rank's error code, agreed: the largest. A rank that failed has said why; the others stop
 * with the same code, so every rank leaves together (MPI_Finalize, not MPI_Abort). */
static int agree(trainer *T, int rc) {
    if (T->world == 1) return rc;
    int64_t v = rc;
    bv_dist_max_i64(&v, 1);
    if (v) T->collective_rc = 1;
    return (int)v;
}

static uint64_t hash_file(const char *path, uint64_t h) {
    FILE *f = fopen(path, "rb");
    if (!f) return h;
    char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) h = bv_dist_hash_bytes(buf, k, h);
    fclose(f);
    return h;
}

/* Rank 0's config wins by refusal: every rank compares the bytes of its config.json (before
 * anything is written) and then the lengths of its training set with rank 0's; any difference
 * stops the job (exit 3) with a message from each differing rank. */
static int same_as_rank0(trainer *T, uint64_t mine, const char *what, int is_config) {
    if (T->world == 1) return 0;
    uint64_t r0 = mine;
    bv_dist_bcast(&r0, sizeof r0);
    if (mine != r0)
        report(T, "%s differs from rank 0's (hash %016llx, rank 0 %016llx): start every rank with the same %s", what,
               (unsigned long long)mine, (unsigned long long)r0, is_config ? "config.json" : "filelist and audio");
    int rc = agree(T, mine != r0 ? BV_EXIT_INPUT : 0);
    if (rc && T->rank == 0)
        report(T, "ranks were started with a different %s (see the other ranks' errors); nothing was trained",
               is_config ? "config" : "training set");
    return rc;
}

static int check_same_config(trainer *T) {
    char what[4200];
    snprintf(what, sizeof what, "the config %s", T->config_path);
    return same_as_rank0(T, hash_file(T->config_path, BV_DIST_HASH_INIT), what, 1);
}

static int check_same_dataset(trainer *T) {
    char what[4200];
    snprintf(what, sizeof what, "the training set %s (%lld utterances here)", T->cfg.data.training_files,
             (long long)T->train_ds.n);
    uint64_t h = bv_dist_hash_bytes(&T->train_ds.n, sizeof T->train_ds.n, BV_DIST_HASH_INIT);
    return same_as_rank0(T, bv_dist_hash_bytes(T->train_ds.lengths, sizeof(int64_t) * (size_t)T->train_ds.n, h),
                         what, 0);
}

/* What DDP's construction and every rank's own load give upstream: rank 0's parameters (fresh or
 * resumed), optimizer state, learning rates and step counters on every rank. Only rank 0 reads the
 * checkpoints, so the other machines need no copy of the model folder. */
static void broadcast_state(trainer *T) {
    if (T->world == 1) return;
    int64_t v[3] = {T->epoch_str, T->st.global_step, T->latest_ckpt};
    bv_dist_bcast(v, sizeof v);
    T->epoch_str = v[0];
    T->st.global_step = v[1];
    T->latest_ckpt = v[2];
    for (int k = 0; k < BV_NET_COUNT; k++) {
        bv_params *ps = bv_ckpt_net_params(&T->st, (bv_net_kind)k);
        bv_adamw *o = bv_ckpt_net_optim(&T->st, (bv_net_kind)k);
        if (!ps || ps->n == 0) continue;
        bv_dist_bcast(ps->data, sizeof(float) * (size_t)ps->numel);
        if (!o || !o->block) continue;
        bv_dist_bcast(o->block, 2 * sizeof(float) * (size_t)ps->numel);
        bv_dist_bcast(o->step, sizeof(float) * (size_t)o->n);
        double d[2] = {o->lr, o->initial_lr};
        int hi = o->has_initial_lr;
        bv_dist_bcast(d, sizeof d);
        bv_dist_bcast(&hi, sizeof hi);
        o->lr = d[0];
        o->initial_lr = d[1];
        o->has_initial_lr = hi;
    }
    bv_exp_lr *sch[] = {&T->st.sched_g, &T->st.sched_d, &T->st.sched_wd, &T->st.sched_dur};
    for (size_t i = 0; i < sizeof sch / sizeof sch[0]; i++) {
        int64_t le = sch[i]->last_epoch;
        double base = sch[i]->base_lr;
        bv_dist_bcast(&le, sizeof le);
        bv_dist_bcast(&base, sizeof base);
        sch[i]->last_epoch = le;
        sch[i]->base_lr = base;
    }
}

/* train_step's gradient hook: DDP's averaged gradients. */
static void average_grads(void *user, bv_params *ps) {
    (void)user;
    bv_dist_average_grads(ps);
}

/* Every log_interval: rank 0 checks that all ranks hold bit-identical parameters. Exit 4 on a
 * mismatch (every rank knows: the check is one all-reduce). */
static int check_in_sync(trainer *T) {
    if (T->world == 1) return 0;
    uint64_t h = BV_DIST_HASH_INIT;
    for (int k = 0; k < BV_NET_COUNT; k++) {
        bv_params *ps = bv_ckpt_net_params(&T->st, (bv_net_kind)k);
        if (ps) h = bv_dist_params_hash(ps, h);
    }
    if (bv_dist_same_everywhere(h)) {
        bv_logger_info(T->lg, "parameters in sync across %d ranks", T->world);
        return 0;
    }
    T->collective_rc = 1;
    if (T->rank == 0)
        report(T, "step %lld: parameters differ across the %d ranks (checksum mismatch). Training stopped; nothing of "
               "this step was saved (the latest checkpoint is step %lld).", (long long)T->st.global_step, T->world,
               (long long)T->latest_ckpt);
    return BV_EXIT_DIVERGED;
}

/* Outputs (rank 0 alone writes train.log, TensorBoard, the config copy), the data, the base model. */
static int setup_outputs_and_data(trainer *T) {
    char err[4096];
    if (T->keep_ckpts < 0) T->keep_ckpts = (int)T->cfg.train.keep_ckpts;
    if (T->rank == 0) {
        /* one run per model folder (rank 0 writes it): taken before anything in it is written or cleaned up */
        if (bv_mkdir_p(T->model_dir, err, sizeof err)) return report(T, "model folder: %s", err), BV_EXIT_INPUT;
        T->lock_fd = bv_dir_lock(T->model_dir, ".bv2-train.lock", err, sizeof err);
        if (T->lock_fd < 0) return report(T, "%s", err), BV_EXIT_INPUT;
        T->lg = bv_logger_open(T->model_dir, NULL, err, sizeof err);
        if (!T->lg) return report(T, "model folder: %s", err), BV_EXIT_INPUT;
        log_hps(T);
        if (save_config_copy(T, err, sizeof err)) return report(T, "%s", err), BV_EXIT_INPUT;
        T->tb = bv_tb_open(T->model_dir, err, sizeof err);
        char eval_dir[4200];
        snprintf(eval_dir, sizeof eval_dir, "%s/eval", T->model_dir);
        if (T->tb) T->tb_eval = bv_tb_open(eval_dir, err, sizeof err);
        if (!T->tb || !T->tb_eval) return report(T, "TensorBoard: %s", err), BV_EXIT_INPUT;
    } else { /* the other ranks log nowhere (errors still reach stderr through report) */
        T->lg = bv_logger_open("/dev", "null", err, sizeof err);
        bv_logger_set_echo(T->lg, NULL);
    }
    bv_ctx_init(&T->ctx, ARENA_CHUNK, (uint64_t)T->cfg.train.seed); /* torch.manual_seed(hps.train.seed): every rank */
    T->ctx_ok = 1;
    if (open_data(T, err, sizeof err)) return report(T, "%s", err), BV_EXIT_INPUT;
    if (T->rank == 0) {
        if (copy_base_model(T, err, sizeof err)) return report(T, "%s", err), BV_EXIT_INPUT;
        bv_ckpt_remove_stale_tmp(T->model_dir, T->lg);
    }
    return 0;
}

/* Everything run() does before its epoch loop. Returns an exit code. With several ranks every
 * failure is agreed (agree) so that all ranks leave setup together. */
static int setup(trainer *T) {
    char err[4096];
    int rc = resolve_paths(T, err, sizeof err);
    if (rc) report(T, "%s", err);
    else if (bv_config_load(&T->cfg, T->config_path, err, sizeof err)) rc = (report(T, "%s", err), BV_EXIT_INPUT);
    else T->cfg_ok = 1;
    if ((rc = agree(T, rc))) return rc;
    if ((rc = check_same_config(T))) return rc;
    if ((rc = agree(T, setup_outputs_and_data(T)))) return rc;
    if ((rc = check_same_dataset(T))) return rc;
    /* the discriminator widths: from rank 0's checkpoint, for every rank */
    T->widths = T->o->disc_widths;
    rc = T->rank == 0 && detect_widths(T, err, sizeof err) ? report(T, "%s", err), BV_EXIT_INPUT : 0;
    if ((rc = agree(T, rc))) return rc;
    int w = (int)T->widths;
    bv_dist_bcast(&w, sizeof w);
    T->widths = (bv_disc_widths_choice)w;
    rc = build_model(T, err, sizeof err) ? report(T, "%s", err), BV_EXIT_INPUT : 0;
    if ((rc = agree(T, rc))) return rc;
    bv_resume_info ri;
    memset(&ri, 0, sizeof ri);
    if (T->rank == 0) {
        if (bv_ckpt_resume(&T->st, T->model_dir, T->cfg.train.skip_optimizer, T->lg, &ri, err, sizeof err))
            rc = (report(T, "%s", err), BV_EXIT_INPUT);
    } else if (bv_train_state_start_schedulers(&T->st, 1, err, sizeof err)) { /* overwritten by rank 0's below */
        rc = (report(T, "%s", err), BV_EXIT_INPUT);
    }
    if ((rc = agree(T, rc))) return rc;
    T->epoch_str = ri.epoch_str;
    T->st.global_step = ri.global_step;
    T->latest_ckpt = ri.step[BV_NET_G];
    broadcast_state(T);
    if (T->world > 1) {
        T->st.grad_sync = average_grads;
        int64_t nb = bv_bucket_sampler_len(&T->sampler);
        bv_logger_info(T->lg, "data parallel: %d ranks (MPI), %lld batches of %lld per rank and epoch, %d threads per "
                       "rank; gradients averaged over %.1f MB per step", T->world, (long long)nb,
                       (long long)T->cfg.train.batch_size, omp_get_max_threads(),
                       4e-6 * (double)(T->st.ps_g.numel + T->st.ps_d.numel + T->st.ps_dur.numel + T->st.ps_wd.numel));
    }
    return 0;
}

static void teardown(trainer *T) {
    bv_loader_free(T->loader);
    if (T->st_ok) bv_train_state_free(&T->st);
    bv_wavlm_free(T->wavlm);
    if (T->sampler_ok) bv_bucket_sampler_free(&T->sampler);
    if (T->eval_ok) bv_dataset_free(&T->eval_ds);
    if (T->train_ok) bv_dataset_free(&T->train_ds);
    if (T->ctx_ok) bv_ctx_free(&T->ctx);
    bv_tb_close(T->tb_eval);
    bv_tb_close(T->tb);
    bv_logger_close(T->lg);
    if (T->lock_fd >= 0) close(T->lock_fd);
    if (T->cfg_ok) bv_config_free(&T->cfg);
}

/* ------------------------------------------------------------------------------------------ */
/* logging                                                                                      */

static double as_f32(double v) { return (double)(float)v; } /* tensor.item() of a float32 loss */

typedef struct named_value {
    const char *name;
    double v;
} named_value;

/* The losses and grad norms of a step; NULL when all are finite, else a description. */
static const char *non_finite(const bv_train_result *r, char *buf, size_t cap) {
    const named_value v[] = {
        {"loss/g/total", r->loss_gen_all}, {"loss/d/total", r->loss_disc}, {"loss/wd/total", r->loss_slm},
        {"loss/dur_disc/total", r->loss_dur_disc}, {"loss/g/mel", r->loss_mel}, {"loss/g/kl", r->loss_kl},
        {"loss/g/dur", r->loss_dur}, {"loss/g/fm", r->loss_fm}, {"loss/g/lm", r->loss_lm},
        {"loss/g/lm_gen", r->loss_lm_gen}, {"loss/g/gen", r->loss_gen}, {"loss/g/dur_gen", r->loss_dur_gen},
        {"grad_norm_g", r->grad_norm_g}, {"grad_norm_d", r->grad_norm_d}, {"grad_norm_wd", r->grad_norm_wd},
        {"grad_norm_dur", r->grad_norm_dur},
    };
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!isfinite(v[i].v) && at < cap)
            at += (size_t)snprintf(buf + at, cap - at, "%s%s = %g", at ? ", " : "", v[i].name, v[i].v);
    return at ? buf : NULL;
}

static void scalar(trainer *T, const char *tag, double v) { bv_tb_scalar(T->tb, tag, T->st.global_step, v); }

static void scalar_list(trainer *T, const char *fmt, const double *v, int n) {
    char tag[96];
    for (int i = 0; i < n; i++) {
        snprintf(tag, sizeof tag, fmt, i);
        scalar(T, tag, v[i]);
    }
}

/* utils.summarize(scalars=scalar_dict): upstream's tags in upstream's order. */
static void log_scalars(trainer *T, const bv_train_result *r) {
    scalar(T, "loss/g/total", r->loss_gen_all);
    scalar(T, "loss/d/total", r->loss_disc);
    scalar(T, "loss/wd/total", r->loss_slm);
    scalar(T, "learning_rate", r->lr);
    scalar(T, "grad_norm_d", r->grad_norm_d);
    scalar(T, "grad_norm_g", r->grad_norm_g);
    if (T->st.net_dur_disc) scalar(T, "grad_norm_dur", r->grad_norm_dur);
    scalar(T, "grad_norm_wd", r->grad_norm_wd);
    scalar(T, "loss/g/fm", r->loss_fm);
    scalar(T, "loss/g/mel", r->loss_mel);
    scalar(T, "loss/g/dur", r->loss_dur);
    scalar(T, "loss/g/kl", r->loss_kl);
    scalar(T, "loss/g/lm", r->loss_lm);
    scalar(T, "loss/g/lm_gen", r->loss_lm_gen);
    scalar_list(T, "loss/g/%d", r->losses_gen, r->n_disc);
    scalar_list(T, "loss/d_r/%d", r->losses_disc_r, r->n_disc);
    scalar_list(T, "loss/d_g/%d", r->losses_disc_g, r->n_disc);
    if (T->st.net_dur_disc) {
        scalar(T, "loss/dur_disc/total", r->loss_dur_disc);
        scalar_list(T, "loss/dur_disc_g/%d", r->losses_dur_disc_g, r->n_dur);
        scalar_list(T, "loss/dur_disc_r/%d", r->losses_dur_disc_r, r->n_dur);
        scalar(T, "loss/g/dur_gen", r->loss_dur_gen);
        scalar_list(T, "loss/g/dur_gen_%d", r->losses_dur_gen, r->n_dur);
    }
}

/* The first n elements of t (item 0 of a batch) in a new host buffer (free it). */
static float *host_head(const bv_tensor *t, int64_t n) {
    float *h = bv_xmalloc(sizeof(float) * (size_t)(n ? n : 1));
    bv_to_host_at(t, 0, n, h);
    return h;
}

/* spec [B, ch, frames]: item 0 as an image. */
static void spectrogram_image(bv_tb_writer *tb, const char *tag, int64_t step, const bv_tensor *spec) {
    int h, w;
    const int64_t ch = spec->shape[1], frames = spec->shape[2];
    float *host = host_head(spec, ch * frames);
    uint8_t *rgb = bv_plot_spectrogram_rgb(host, (int)ch, (int)frames, &h, &w);
    if (rgb) bv_tb_image_rgb(tb, tag, step, h, w, rgb);
    free(rgb);
    free(host);
}

/* image_dict: y_mel[0], y_hat_mel[0], mel[0], attn[0, 0]. */
static void log_images(trainer *T, const bv_train_result *r) {
    int64_t s = T->st.global_step;
    if (r->y_mel) spectrogram_image(T->tb, "slice/mel_org", s, r->y_mel);
    if (r->y_hat_mel) spectrogram_image(T->tb, "slice/mel_gen", s, r->y_hat_mel);
    if (r->mel) spectrogram_image(T->tb, "all/mel", s, r->mel);
    if (r->attn) { // [B, 1, T_y, T_x]
        int h, w;
        float *host = host_head(r->attn, r->attn->shape[2] * r->attn->shape[3]);
        uint8_t *rgb = bv_plot_alignment_rgb(host, (int)r->attn->shape[2], (int)r->attn->shape[3], &h, &w);
        if (rgb) bv_tb_image_rgb(T->tb, "all/attn", s, h, w, rgb);
        free(rgb);
        free(host);
    }
}

/* The log_interval block of train_and_evaluate. */
static void log_step(trainer *T, const bv_train_result *r, int64_t epoch, int64_t batch_idx, int64_t n_batches) {
    char f[8][32];
    bv_logger_info(T->lg, "Train Epoch: %lld [%.0f%%]", (long long)epoch,
                n_batches ? 100.0 * (double)batch_idx / (double)n_batches : 0.0);
    bv_logger_info(T->lg, "[%s, %s, %s, %s, %s, %s, %lld, %s]", bv_py_float_repr(f[0], as_f32(r->loss_disc)),
                bv_py_float_repr(f[1], as_f32(r->loss_gen)), bv_py_float_repr(f[2], as_f32(r->loss_fm)),
                bv_py_float_repr(f[3], as_f32(r->loss_mel)), bv_py_float_repr(f[4], as_f32(r->loss_dur)),
                bv_py_float_repr(f[5], as_f32(r->loss_kl)), (long long)T->st.global_step, bv_py_float_repr(f[6], r->lr));
    log_scalars(T, r);
    log_images(T, r);
}

/* ------------------------------------------------------------------------------------------ */
/* evaluate()                                                                                   */

/* One validation utterance, synthesised with sdp_ratio 1 then 0 (upstream's use_sdp True/False). */
static void eval_item(trainer *T, int64_t i, const bv_batch *b) {
    bv_ctx *ctx = &T->ctx;
    const bv_config *c = &T->cfg;
    int64_t step = T->st.global_step;
    bv_batch_tensors t;
    bv_batch_as_tensors(ctx, b, &t);
    char tag[96], path[4300];
    bv_no_grad_begin(ctx);
    for (int use_sdp = 1; use_sdp >= 0; use_sdp--) {
        bv_infer_opts io = {.noise_scale = 0.667f, .length_scale = 1, .noise_scale_w = 0.8f,
                            .sdp_ratio = use_sdp ? 1.0f : 0.0f, .max_len = EVAL_MAX_LEN};
        bv_synth_infer_out out;
        bv_synth_infer_full(ctx, T->st.net_g, t.x, t.x_lengths, t.sid, t.tone, t.language, t.bert, t.ja_bert, t.en_bert,
                            &io, &out);
        double frames = 0;
        float *mask = bv_host_copy(out.y_mask);
        for (int64_t k = 0; k < out.y_mask->numel; k++) frames += mask[k];
        free(mask);
        int64_t n = (int64_t)frames * c->data.hop_length;
        if (n > out.o->numel) n = out.o->numel;
        float *wav = host_head(out.o, n);
        snprintf(tag, sizeof tag, "gen/audio_%lld_%s", (long long)i, use_sdp ? "True" : "False");
        bv_tb_audio(T->tb_eval, tag, step, (int)c->data.sampling_rate, wav, n);
        snprintf(path, sizeof path, "%s/eval/%lld_%s.wav", T->model_dir, (long long)i, use_sdp ? "sdp" : "nosdp");
        char err[512];
        if (bv_wav_write(path, wav, n, 1, (int)c->data.sampling_rate, err, sizeof err))
            bv_logger_warning(T->lg, "%s", err);
        free(wav);
        if (!use_sdp) { /* image_dict keeps the last pass's gen/mel */
            bv_tensor *y2 = bv_reshape(ctx, out.o, BV_SHAPE(1, out.o->numel)); // [1, T]
            bv_tensor *ym = bv_mel_spectrogram(ctx, y2, (int)c->data.filter_length, (int)c->data.n_mel_channels,
                                               (int)c->data.sampling_rate, (int)c->data.hop_length,
                                               (int)c->data.win_length, c->data.mel_fmin,
                                               c->data.has_mel_fmax ? c->data.mel_fmax : NAN); // [1, M, frames]
            snprintf(tag, sizeof tag, "gen/mel_%lld", (long long)i);
            spectrogram_image(T->tb_eval, tag, step, ym);
        }
    }
    int64_t F = bv_config_spec_channels(c), M = c->data.n_mel_channels;
    bv_tensor *basis = bv_from_f32(ctx, BV_SHAPE(M, F), T->st.mel_basis);    // [M, F]
    bv_tensor *mel = bv_spec_to_mel(ctx, t.spec, basis);                      // [1, M, T_y]
    snprintf(tag, sizeof tag, "gt/mel_%lld", (long long)i);
    spectrogram_image(T->tb_eval, tag, step, mel);
    snprintf(tag, sizeof tag, "gt/audio_%lld", (long long)i);
    bv_tb_audio(T->tb_eval, tag, step, (int)c->data.sampling_rate, b->wav, b->wav_lengths[0]);
    bv_no_grad_end(ctx);
}

/* evaluate(hps, net_g, eval_loader, writer_eval): every validation utterance. An op error on one
 * (e.g. a synthesis too short for an STFT) skips it with a warning instead of ending training. */
static void evaluate(trainer *T) {
    bv_ctx *ctx = &T->ctx;
    bv_logger_info(T->lg, "Evaluating ...");
    for (int64_t i = 0; i < T->eval_ds.n; i++) {
        bv_item item;
        char err[2048];
        bv_ctx_reset(ctx);
        if (bv_dataset_get(&T->eval_ds, i, ctx, &ctx->rng, &item, err, sizeof err)) {
            bv_logger_warning(T->lg, "evaluation: %s", err);
            continue;
        }
        bv_batch b;
        bv_collate(&b, &item, 1);
        bv_item_free(&item);
        jmp_buf jb;
        jmp_buf *prev = ctx->err_jmp;
        int depth = ctx->no_grad_depth;
        ctx->err_jmp = &jb;
        if (setjmp(jb) == 0) eval_item(T, i, &b);
        else bv_logger_warning(T->lg, "evaluation of validation item %lld skipped: %s", (long long)i, ctx->err_msg);
        ctx->err_jmp = prev;
        ctx->no_grad_depth = depth;
        bv_batch_free(&b);
    }
    bv_ctx_reset(ctx);
    bv_tb_flush(T->tb_eval);
}

/* ------------------------------------------------------------------------------------------ */
/* the loop                                                                                     */

static int save(trainer *T, int64_t step, int64_t epoch) {
    char err[4096];
    for (int k = 0; k < BV_NET_COUNT; k++) {
        char path[4200];
        if (k == BV_NET_DUR && !T->st.net_dur_disc) continue;
        bv_ckpt_path(path, sizeof path, T->model_dir, (bv_net_kind)k, step);
        bv_logger_info(T->lg, "Saving model and optimizer state at iteration %lld to %s", (long long)epoch, path);
    }
    if (bv_ckpt_save_all(&T->st, T->model_dir, step, epoch, err, sizeof err)) {
        report(T, "%s", err);
        return BV_EXIT_INPUT;
    }
    T->last_saved = T->latest_ckpt = step;
    if (T->keep_ckpts > 0 && bv_ckpt_clean(T->model_dir, T->keep_ckpts, T->lg, err, sizeof err) < 0)
        bv_logger_warning(T->lg, "%s", err);
    return 0;
}

typedef enum { RUN_ON = 0, STOP_SIGNAL, STOP_STEPS, STOP_TIME } stop_reason;

/* With several ranks the signal and the clock are agreed (a signal may reach one rank only, clocks
 * differ): every rank stops after the same step. */
static stop_reason should_stop(const trainer *T) {
    int64_t f[2] = {g_stop_signal != 0, T->o->max_minutes > 0 && now_s() - T->t0 >= 60.0 * T->o->max_minutes};
    bv_dist_max_i64(f, 2);
    if (f[0]) return STOP_SIGNAL;
    if (T->o->max_steps > 0 && T->steps_done >= T->o->max_steps) return STOP_STEPS;
    if (f[1]) return STOP_TIME;
    return RUN_ON;
}

/* One step on batch b; returns an exit code (0 to go on). */
static int step_batch(trainer *T, bv_batch *b, int64_t epoch, int64_t batch_idx, int64_t n_batches,
                      bv_train_result *r) {
    bv_ctx *ctx = &T->ctx;
    bv_batch_tensors t;
    bv_ctx_reset(ctx);
    bv_batch_as_tensors(ctx, b, &t);
    bv_train_batch tb = {t.x, t.x_lengths, t.spec, t.spec_lengths, t.wav, t.wav_lengths, t.sid,
                         t.tone, t.language, t.bert, t.ja_bert, t.en_bert};
    bv_train_step(&T->st, ctx, &tb, r);
    char why[1024];
    const char *bad = non_finite(r, why, sizeof why);
    int64_t any_bad = bad != NULL; /* losses are each rank's own: agree, so every rank stops */
    bv_dist_max_i64(&any_bad, 1);
    if (any_bad) {
        if (T->world > 1) T->collective_rc = 1;
        if (bad || T->rank == 0)
            report(T, "step %lld (epoch %lld): non-finite loss or gradient: %s. Training stopped; nothing of this "
                   "step was saved (the latest checkpoint is step %lld).", (long long)T->st.global_step,
                   (long long)epoch, bad ? why : "on another rank", (long long)T->latest_ckpt);
        return BV_EXIT_DIVERGED;
    }
    if (T->st.global_step % T->cfg.train.log_interval == 0) {
        if (T->rank == 0) log_step(T, r, epoch, batch_idx, n_batches); /* rank 0's own losses, as upstream */
        int rc = check_in_sync(T);
        if (rc) return rc;
    }
    return 0;
}

/* train_and_evaluate for one epoch. *stop is set when a signal or a bound ends the run. */
static int train_epoch(trainer *T, int64_t epoch, stop_reason *stop) {
    const bv_config *c = &T->cfg;
    bv_bucket_sampler_set_epoch(&T->sampler, epoch);
    int64_t nb = bv_bucket_sampler_iter(&T->sampler);
    bv_loader_start(T->loader, T->sampler.batches, nb, T->sampler.batch_size, epoch);
    char label[64];
    snprintf(label, sizeof label, "epoch %lld", (long long)epoch);
    bv_progress *p = NULL;
    bv_progress_opts po = {.mode = T->o->progress == 1   ? BV_PROGRESS_TTY
                                   : T->o->progress == 2 ? BV_PROGRESS_PLAIN
                                                         : BV_PROGRESS_AUTO,
                           .interval_s = 10};
    if (T->progress_on) p = bv_progress_start_opts(nb, label, &po);
    for (int64_t batch_idx = 0;; batch_idx++) {
        double t0 = now_s();
        bv_batch *b;
        char err[4096];
        int rc = bv_loader_next(T->loader, &b, err, sizeof err);
        if (rc == 0) break;
        if (rc < 0) {
            bv_progress_finish(p);
            report(T, "%s", err);
            return BV_EXIT_INPUT;
        }
        bv_train_result r;
        rc = step_batch(T, b, epoch, batch_idx, nb, &r);
        bv_loader_release(T->loader, b);
        T->t_steps += now_s() - t0;
        if (rc) {
            bv_progress_finish(p);
            return rc;
        }
        double g = r.loss_gen_all, d = r.loss_disc, mel = r.loss_mel;
        if (T->rank == 0 && T->st.global_step % c->train.eval_interval == 0) {
            evaluate(T);
            if ((rc = save(T, T->st.global_step, epoch))) {
                bv_progress_finish(p);
                return rc;
            }
        }
        T->st.global_step++;
        T->steps_done++;
        if (p) bv_progress_update(p, batch_idx + 1, "step %lld g=%.3f d=%.3f mel=%.3f", (long long)T->st.global_step,
                                  g, d, mel);
        if ((*stop = should_stop(T)) != RUN_ON) break;
    }
    bv_progress_finish(p);
    if (*stop == RUN_ON) bv_logger_info(T->lg, "====> Epoch: %lld", (long long)epoch);
    return 0;
}

/* After a stop or the last epoch: save the last completed step unless its eval save did. */
static int save_last(trainer *T, int64_t epoch) {
    int64_t done = T->st.global_step - 1;
    if (T->rank != 0 || T->steps_done == 0 || done == T->last_saved) return 0;
    return save(T, done, epoch);
}

static void report_data_wait(trainer *T) {
    bv_loader_stats ls = bv_loader_get_stats(T->loader);
    if (T->t_steps > 0)
        bv_logger_info(T->lg, "%lld steps in %.1f s (%.2f steps/s); waiting for data: %.2f s = %.1f%% of step time",
                    (long long)T->steps_done, T->t_steps, (double)T->steps_done / T->t_steps, ls.wait_s,
                    100.0 * ls.wait_s / T->t_steps);
    bv_dist_stats ds = bv_dist_get_stats();
    if (T->world > 1 && T->t_steps > 0 && T->steps_done > 0)
        bv_logger_info(T->lg, "data parallel: %d ranks, %.2f samples/s; gradient all-reduce %.2f MB per step in %lld "
                       "calls, %.3f s = %.1f%% of step time (rank 0)", T->world,
                       (double)T->steps_done * (double)T->cfg.train.batch_size * T->world / T->t_steps,
                       1e-6 * ds.bytes / (double)T->steps_done, (long long)ds.calls, ds.seconds,
                       100.0 * ds.seconds / T->t_steps);
}

static int train_loop(trainer *T) {
    stop_reason stop = RUN_ON;
    int64_t epoch = T->epoch_str;
    for (; epoch <= T->cfg.train.epochs; epoch++) {
        int rc = train_epoch(T, epoch, &stop);
        if (rc) return rc;
        if (stop != RUN_ON) break;
        bv_train_state_epoch_end(&T->st);
    }
    if (stop == RUN_ON) epoch = T->cfg.train.epochs < T->epoch_str ? T->epoch_str : T->cfg.train.epochs;
    int rc = save_last(T, epoch);
    if (rc) return rc;
    report_data_wait(T);
    static const char *const why[] = {"training finished", "interrupted", "stopped after --max-steps",
                                      "stopped after --max-minutes"};
    if (T->steps_done == 0) bv_logger_info(T->lg, "%s: no step was run", why[stop]);
    else bv_logger_info(T->lg, "%s, saved step %lld", why[stop], (long long)T->last_saved);
    return 0;
}

int bv_train_run(const bv_train_opts *o) {
    trainer T;
    memset(&T, 0, sizeof T);
    T.o = o;
    T.last_saved = -1;
    T.lock_fd = -1;
    T.progress_on = o->progress != 3;
    char err[512];
    if (bv_dist_init(err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return BV_EXIT_USAGE;
    }
    T.rank = bv_dist_rank();
    T.world = bv_dist_world();
    bv_dist_reset_stats();
    if (T.rank != 0) T.progress_on = 0;
    struct sigaction old_int, old_term;
    install_signals(&old_int, &old_term);
    T.t0 = now_s();
    int rc = setup(&T);
    if (rc == 0) rc = train_loop(&T);
    teardown(&T);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    /* an error every rank agreed on ends the job together; one rank's own error ends it for all */
    if (rc != 0 && T.world > 1 && !T.collective_rc) bv_dist_abort(rc);
    bv_dist_finalize();
    return rc;
}
