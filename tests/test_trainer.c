/* test_trainer.c - src/train/trainer.c and `bv2 train` (src/cli/train.c), run as a user runs them.
 *
 * A tiny dataset is generated in a temporary folder with the project's own writers (16 kHz wavs,
 * *.bert.pt, filelists, a config.json with golden-sized dimensions and a tiny random WavLM folder),
 * so a training step takes a fraction of a second. Then:
 *  - a bounded run (--max-steps) writes train.log lines in upstream's format, TensorBoard events in
 *    the model folder and in eval/, evaluation WAVs, G_/D_/WD_/DUR_ checkpoints that bv2 loads, and
 *    prunes to keep_ckpts; a second run resumes at the saved step;
 *  - SIGKILL at several random moments (checkpoints are written every step): every checkpoint on
 *    disk loads, stale *.tmp files are removed, and each restart resumes at the newest step;
 *  - SIGINT finishes the step, saves it and exits 0 with "interrupted, saved step N";
 *  - a diverging run (huge learning rate) stops with exit 4 naming the step, and saves nothing of it;
 *  - every bad input of the issue gives exit code != 0, no crash, and a message naming the file and
 *    the line or key: missing wav, wrong sample rate, malformed filelist line, unknown phone,
 *    unknown speaker, phones/tones/word2ph mismatch, BERT shape mismatch, truncated or corrupt .pth,
 *    missing or mistyped config key, unwritable model folder;
 *  - the command line (--help documents every option, usage errors exit 2) and config.yml reading. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/io/pth.h"
#include "../src/io/wav.h"
#include "../src/model/wavlm.h"
#include "../src/ops/dispatch.h"
#include "../src/train/checkpoint.h"
#include "../src/train/trainer.h"
#include "fixtures.h"
#include "test.h"

/* ------------------------------------------------------------------ fixture */

typedef struct fixture {
    char dir[256];
    char config[512], model[512], train_list[512], val_list[512];
} fixture;

static uint64_t g_lcg = 88172645463325252ull;
static float frand(void) { /* uniform [-1, 1), deterministic */
    g_lcg = g_lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(g_lcg >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static const char *WAVLM_CONFIG =
    "{\"architectures\": [\"WavLMModel\"], \"model_type\": \"wavlm\", \"conv_bias\": false,"
    " \"conv_dim\": [8, 8, 8, 8, 8, 8, 8], \"conv_kernel\": [10, 3, 3, 3, 3, 2, 2],"
    " \"conv_stride\": [5, 2, 2, 2, 2, 2, 2], \"do_stable_layer_norm\": false, \"feat_extract_activation\": \"gelu\","
    " \"feat_extract_norm\": \"group\", \"hidden_act\": \"gelu\", \"hidden_size\": 16, \"intermediate_size\": 32,"
    " \"layer_norm_eps\": 1e-05, \"mask_time_prob\": 0.0, \"mask_feature_prob\": 0.0, \"max_bucket_distance\": 64,"
    " \"num_attention_heads\": 2, \"num_buckets\": 16, \"num_conv_pos_embedding_groups\": 2,"
    " \"num_conv_pos_embeddings\": 8, \"num_feat_extract_layers\": 7, \"num_hidden_layers\": 2}";

/* A random WavLM in transformers' folder layout (config.json + pytorch_model.bin). */
static int write_wavlm(const char *dir, char *err, size_t errcap) {
    char path[700];
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/config.json", dir);
    bv_test_write_text(path, WAVLM_CONFIG);
    cJSON *j = cJSON_Parse(WAVLM_CONFIG);
    bv_wavlm_cfg cfg;
    int rc = bv_wavlm_cfg_from_json(&cfg, j, path, err, errcap);
    cJSON_Delete(j);
    if (rc) return -1;
    bv_wavlm *m = bv_wavlm_new(&cfg);
    bv_pk_doc *doc = bv_pk_doc_new();
    bv_pk_value *sd = bv_pk_dict(doc, 1);
    for (int i = 0; i < m->params.n; i++) {
        bv_tensor *p = m->params.items[i];
        size_t n = strlen(p->name);
        int norm_w = n > 11 && !strcmp(p->name + n - 11, "norm.weight");
        int gain = n > 8 && !strcmp(p->name + n - 8, "weight_g");
        for (int64_t k = 0; k < p->numel; k++) p->data[k] = norm_w || gain ? 1.0f : 0.3f * frand();
        bv_pk_dict_set_str(doc, sd, p->name, bv_pk_tensor_ref(doc, BV_ST_F32, p->ndim, p->shape, p->data));
    }
    snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
    rc = bv_pth_save(path, sd, err, errcap);
    bv_pk_doc_free(doc);
    bv_wavlm_free(m);
    return rc;
}

/* English utterances: phones (with the boundary "_"), tones, word2ph. */
static const char *const PHONES[4] = {"_ hh ah l ow _", "_ w er l d _", "_ s iy _", "_ t ey k ih t _"};
static const char *const TONES[4] = {"0 0 2 0 1 0", "0 0 2 0 0 0", "0 0 2 0", "0 0 2 0 1 0 0"};
static const char *const W2P[4] = {"1 4 1", "1 4 1", "1 2 1", "1 2 3 1"};
static const int NPH[4] = {6, 6, 4, 7};

static int write_wav(const char *path, int sr, int64_t n, int seed, char *err, size_t errcap) {
    float *x = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        x[i] = 0.3f * sinf(0.03f * (float)(i * (seed + 2))) + 0.2f * sinf(0.011f * (float)i) + 0.02f * frand();
    int rc = bv_wav_write(path, x, n, 1, sr, err, errcap);
    free(x);
    return rc;
}

static int write_bert(const char *path, int64_t cols, char *err, size_t errcap) {
    float *d = malloc(sizeof(float) * 1024 * (size_t)cols);
    for (int64_t i = 0; i < 1024 * cols; i++) d[i] = 0.5f * frand();
    bv_pk_doc *doc = bv_pk_doc_new();
    int rc = bv_pth_save(path, bv_pk_tensor_ref(doc, BV_ST_F32, 2, (int64_t[]){1024, cols}, d), err, errcap);
    bv_pk_doc_free(doc);
    free(d);
    return rc;
}

/* Utterance k: u<k>.wav at 16 kHz (2600 + 300 k samples: 40-70 frames of hop 64) + u<k>.bert.pt. */
static int write_utt(const fixture *fx, int k, char *line, size_t cap, char *err, size_t errcap) {
    char wav[600], bert[600];
    snprintf(wav, sizeof wav, "%s/u%d.wav", fx->dir, k);
    snprintf(bert, sizeof bert, "%s/u%d.bert.pt", fx->dir, k);
    if (write_wav(wav, 16000, 2600 + 300 * k, k, err, errcap) || write_bert(bert, 2 * NPH[k % 4] + 1, err, errcap))
        return -1;
    snprintf(line, cap, "%s|%s|EN|text %d|%s|%s|%s\n", wav, k % 2 ? "B" : "A", k, PHONES[k % 4], TONES[k % 4], W2P[k % 4]);
    return 0;
}

static const char *CONFIG_FMT =
    "{\"train\": {\"log_interval\": %d, \"eval_interval\": %d, \"seed\": 1234, \"epochs\": 1000,"
    " \"learning_rate\": %s, \"betas\": [0.8, 0.99], \"eps\": 1e-09, \"batch_size\": 2, \"bf16_run\": false,"
    " \"lr_decay\": 0.99995, \"segment_size\": 1024, \"init_lr_ratio\": 1, \"warmup_epochs\": 0, \"c_mel\": 45,"
    " \"c_kl\": 1.0, \"skip_optimizer\": false, \"keep_ckpts\": 3},"
    " \"data\": {\"training_files\": \"%s\", \"validation_files\": \"%s\", \"max_wav_value\": 32768.0,"
    " \"sampling_rate\": 16000, \"filter_length\": 256, \"hop_length\": 64, \"win_length\": 256,"
    " \"n_mel_channels\": 20, \"mel_fmin\": 0.0, \"mel_fmax\": null, \"add_blank\": true, \"n_speakers\": 2,"
    " \"cleaned_text\": true, \"spk2id\": {\"A\": 0, \"B\": 1}},"
    " \"model\": {\"use_spk_conditioned_encoder\": true, \"use_noise_scaled_mas\": true,"
    " \"use_mel_posterior_encoder\": false, \"use_duration_discriminator\": true, \"inter_channels\": 8,"
    " \"hidden_channels\": 16, \"filter_channels\": 32, \"n_heads\": 2, \"n_layers\": 3, \"kernel_size\": 3,"
    " \"p_dropout\": 0.1, \"resblock\": \"2\", \"resblock_kernel_sizes\": [3], \"resblock_dilation_sizes\": [[1, 3]],"
    " \"upsample_rates\": [4, 4, 4], \"upsample_initial_channel\": 16, \"upsample_kernel_sizes\": [8, 8, 8],"
    " \"n_layers_q\": 3, \"n_layers_trans_flow\": 3, \"use_transformer_flow\": true, \"use_spectral_norm\": false,"
    " \"gin_channels\": 8, \"slm\": {\"model\": \"%s/wavlm\", \"sr\": 16000, \"hidden\": 16, \"nlayers\": 3,"
    " \"initial_channel\": 8}}, \"version\": \"2.3\"}";

static void write_config(const fixture *fx, const char *path, int log_interval, int eval_interval, const char *lr) {
    char buf[8192];
    snprintf(buf, sizeof buf, CONFIG_FMT, log_interval, eval_interval, lr, fx->train_list, fx->val_list, fx->dir);
    bv_test_write_text(path, buf);
}

/* Six training utterances (speakers A/B), one validation utterance, config (eval every step). */
static int fixture_open(bv_test_state *ts, fixture *fx) {
    memset(fx, 0, sizeof *fx);
    char err[1024], line[1024], wdir[600];
    snprintf(fx->dir, sizeof fx->dir, "/tmp/bv_train_XXXXXX");
    if (!mkdtemp(fx->dir)) {
        BV_CHECK(0, "mkdtemp");
        return -1;
    }
    snprintf(fx->config, sizeof fx->config, "%s/config.json", fx->dir);
    snprintf(fx->model, sizeof fx->model, "%s/model", fx->dir);
    snprintf(fx->train_list, sizeof fx->train_list, "%s/train.list", fx->dir);
    snprintf(fx->val_list, sizeof fx->val_list, "%s/val.list", fx->dir);
    snprintf(wdir, sizeof wdir, "%s/wavlm", fx->dir);
    if (write_wavlm(wdir, err, sizeof err)) {
        BV_CHECK(0, "wavlm: %s", err);
        return -1;
    }
    char *list = calloc(1, 8192);
    for (int k = 0; k < 7; k++) {
        if (write_utt(fx, k, line, sizeof line, err, sizeof err)) {
            free(list);
            BV_CHECK(0, "utterance %d: %s", k, err);
            return -1;
        }
        if (k < 6) strcat(list, line);
        else bv_test_write_text(fx->val_list, line);
    }
    bv_test_write_text(fx->train_list, list);
    free(list);
    write_config(fx, fx->config, 1, 1, "0.0002");
    return 0;
}

/* BV_TRAINER_KEEP=1 keeps the folders (for tests/ref/check_ckpt_with_upstream.py by hand). */
static void fixture_close(fixture *fx) {
    if (getenv("BV_TRAINER_KEEP")) fprintf(stderr, "  kept %s\n", fx->dir);
    else bv_test_rm_rf(fx->dir);
}

/* ------------------------------------------------------------------ running bv2 */

/* Starts `bv2 train <args>` with stdout+stderr into out_path; returns the pid. */
static pid_t spawn_bv2(const char *const *args, const char *out_path) {
    const char *argv[64] = {"train"};
    int n = 1;
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    return bv_test_spawn_bv2(NULL, argv, NULL, out_path, NULL);
}

typedef struct run_result {
    int exited, code, signaled;
    char *out;     /* stdout + stderr */
} run_result;

static run_result wait_bv2(pid_t pid, const char *out_path) {
    int signaled;
    int code = bv_test_wait(pid, &signaled);
    return (run_result){code >= 0, code, signaled, bv_test_read_text(out_path)};
}

static run_result run_bv2(const fixture *fx, const char *const *args) {
    char out[600];
    snprintf(out, sizeof out, "%s/bv2.out", fx->dir);
    return wait_bv2(spawn_bv2(args, out), out);
}

static int have_bv2(bv_test_state *ts) {
    int ok = access(bv_test_bv2_path, X_OK) == 0;
    BV_CHECK(ok, "%s is not built", bv_test_bv2_path);
    return ok;
}

/* Every checkpoint file in dir loads as a training checkpoint (zip, pickle and storages whole). */
static int all_checkpoints_load(bv_test_state *ts, const char *dir, int64_t *latest_g) {
    int n = 0;
    *latest_g = -1;
    for (int k = 0; k < BV_NET_COUNT; k++) {
        int64_t *steps;
        int m = bv_ckpt_list_steps(dir, (bv_net_kind)k, &steps);
        for (int i = 0; i < m; i++) {
            char path[600], err[1024];
            bv_ckpt_path(path, sizeof path, dir, (bv_net_kind)k, steps[i]);
            bv_pth f;
            int rc = bv_pth_open(&f, path, err, sizeof err);
            BV_CHECK(rc == 0, "checkpoint on disk does not load: %s", err);
            if (rc == 0) {
                BV_CHECK(bv_pk_len(bv_pk_get(f.root, "model")) > 0 && bv_pk_get(f.root, "optimizer"), "%s incomplete",
                         path);
                bv_pth_close(&f);
            }
            n++;
        }
        if (k == BV_NET_G && m > 0) *latest_g = steps[m - 1];
        free(steps);
    }
    return n;
}

/* dst = the first 1/div of src (div < 0: all of it). */
static void copy_head(const char *src, const char *dst, int div) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    if (in && out) {
        fseek(in, 0, SEEK_END);
        long n = ftell(in);
        fseek(in, 0, SEEK_SET);
        char *buf = malloc((size_t)n + 1);
        size_t got = fread(buf, 1, (size_t)n, in);
        fwrite(buf, 1, div > 0 ? got / (size_t)div : got, out);
        free(buf);
    }
    if (in) fclose(in);
    if (out) fclose(out);
}

/* Entries of dir whose name contains `part` (".tmp": every temporary of src/io/fs.h's writer). */
static int count_containing(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) n += strstr(e->d_name, part) != NULL;
    if (d) closedir(d);
    return n;
}

/* ------------------------------------------------------------------ tests: runs */

BV_TEST(trainer_bounded_run_writes_upstream_outputs_and_resumes) {
    if (!have_bv2(ts)) return;
    fixture fx;
    if (fixture_open(ts, &fx)) return fixture_close(&fx);
    const char *args[] = {"-c", fx.config, "-m", fx.model, "--max-steps", "5", "--disc-widths", "small", "--progress",
                          "plain", NULL};
    run_result r = run_bv2(&fx, args);
    BV_CHECK(r.exited && r.code == 0, "exit %d: %s", r.code, r.out);
    BV_CHECK(strstr(r.out, "stopped after --max-steps, saved step 4"), "no stop message:\n%s", r.out);
    char path[700];
    snprintf(path, sizeof path, "%s/train.log", fx.model);
    char *log = bv_test_read_text(path);
    BV_CHECK(strstr(log, "\tmodel\tINFO\tTrain Epoch: 1 [0%]") && strstr(log, "\tINFO\t[") &&
             strstr(log, "Saving model and optimizer state at iteration 1 to") && strstr(log, "====> Epoch: 1") &&
             strstr(log, "'model_dir': '") && strstr(log, "waiting for data"), "train.log lacks upstream lines:\n%s", log);
    free(log);
    BV_CHECK(count_containing(fx.model, "config.json") == 1, "no config.json copy in the model folder");
    snprintf(path, sizeof path, "%s/eval", fx.model);
    int ev_main = 0, ev_eval = 0;
    DIR *d = opendir(fx.model);
    struct dirent *e;
    while (d && (e = readdir(d))) ev_main += !strncmp(e->d_name, "events.out.tfevents.", 20);
    if (d) closedir(d);
    d = opendir(path);
    while (d && (e = readdir(d))) ev_eval += !strncmp(e->d_name, "events.out.tfevents.", 20);
    if (d) closedir(d);
    BV_CHECK(ev_main == 1 && ev_eval == 1, "event files: %d in the model folder, %d in eval", ev_main, ev_eval);
    BV_CHECK(count_containing(path, "_sdp.wav") == 1 && count_containing(path, "_nosdp.wav") == 1, "eval wavs");
    int64_t latest;
    int n = all_checkpoints_load(ts, fx.model, &latest);
    /* steps 0-4 saved (eval every step), keep_ckpts 3 of each net plus *_0 */
    BV_CHECK(latest == 4 && n == 16, "%d checkpoint files, latest G_%lld", n, (long long)latest);
    free(r.out);
    /* a second run resumes at the saved step (upstream: global_step = the G_ file's step) */
    const char *args2[] = {"-c", fx.config, "-m", fx.model, "--max-steps", "1", "--progress", "none", NULL};
    r = run_bv2(&fx, args2);
    BV_CHECK(r.exited && r.code == 0 && strstr(r.out, ", global step 4") &&
             strstr(r.out, "small (bv2 --disc-widths small) discriminator widths: using them") &&
             strstr(r.out, "saved step 4"), "resume: exit %d:\n%s", r.code, r.out);
    free(r.out);
    fixture_close(&fx);
}

BV_TEST(trainer_sigkill_at_random_moments_never_corrupts) {
    if (!have_bv2(ts)) return;
    fixture fx;
    if (fixture_open(ts, &fx)) return fixture_close(&fx);
    char out[600];
    snprintf(out, sizeof out, "%s/bv2.out", fx.dir);
    const char *args[] = {"-c", fx.config, "-m", fx.model, "--max-steps", "1000", "--disc-widths", "small",
                          "--progress", "none", NULL};
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    int64_t prev = -1;
    /* 3 rounds in make test; BV_KILL_ROUNDS=50 for the reliability campaign (README) */
    const int rounds = getenv("BV_KILL_ROUNDS") ? atoi(getenv("BV_KILL_ROUNDS")) : 3;
    for (int round = 0; round < rounds; round++) {
        pid_t pid = spawn_bv2(args, out);
        /* round 0 at a random moment of the first 0.6 s (startup, step 0, its save); later rounds
         * once the run has saved a newer step, then 0 - 0.4 s on (mid-step or mid-save: every step
         * saves four files) */
        int ms = round == 0 ? 100 + rand() % 500 : rand() % 400;
        for (int w = 0; round > 0 && w < 500 && bv_ckpt_latest_step(fx.model, BV_NET_G) <= prev; w++) usleep(10000);
        usleep((useconds_t)ms * 1000);
        kill(pid, SIGKILL);
        run_result r = wait_bv2(pid, out);
        BV_CHECK(r.signaled, "round %d: bv2 ended before the kill (exit %d):\n%s", round, r.code, r.out);
        if (prev >= 0)
            BV_CHECK(strstr(r.out, "resuming at epoch") != NULL || strstr(r.out, "Loaded checkpoint") == NULL,
                     "round %d: no resume message:\n%s", round, r.out);
        int64_t latest;
        int n_tmp = count_containing(fx.model, ".tmp");
        all_checkpoints_load(ts, fx.model, &latest);
        if (bv_test_verbose)
            fprintf(stderr, "  round %d: killed %d ms after %s, latest G_%lld, %d unfinished .tmp file(s)\n", round, ms,
                    round ? "a new save" : "the start", (long long)latest, n_tmp);
        BV_CHECK(latest >= prev, "round %d (kill after %d ms, seed %u): latest G_%lld < previous G_%lld", round, ms,
                 seed, (long long)latest, (long long)prev);
        if (prev >= 0) {
            char want[96];
            snprintf(want, sizeof want, "global step %lld", (long long)prev);
            BV_CHECK(strstr(r.out, want) || !strstr(r.out, "resuming at"), "round %d did not resume at step %lld:\n%s",
                     round, (long long)prev, r.out);
        }
        prev = latest;
        free(r.out);
    }
    /* what a kill inside a save leaves (the saves above are too quick to be hit reliably): a torn
     * G_<n>.pth.tmp and the first files of a set whose G_ never came (D_ is written before G_) */
    char src[700], dst[700], want[800];
    int64_t torn = prev + 50;
    if (prev >= 0) {
        bv_ckpt_path(src, sizeof src, fx.model, BV_NET_D, prev);
        bv_ckpt_path(dst, sizeof dst, fx.model, BV_NET_D, torn);
        copy_head(src, dst, -1);
        bv_ckpt_path(src, sizeof src, fx.model, BV_NET_G, prev);
        snprintf(dst, sizeof dst, "%s/G_%lld.pth.tmp", fx.model, (long long)torn);
        copy_head(src, dst, 2);
    }
    /* a clean run afterwards: resumes from the last whole set, removes the temporaries, goes on */
    const char *fin[] = {"-c", fx.config, "-m", fx.model, "--max-steps", "2", "--progress", "none", NULL};
    run_result r = run_bv2(&fx, fin);
    int64_t latest;
    all_checkpoints_load(ts, fx.model, &latest);
    BV_CHECK(r.exited && r.code == 0, "final run: exit %d:\n%s", r.code, r.out);
    if (prev >= 0) {
        bv_ckpt_path(want, sizeof want, fx.model, BV_NET_D, prev);
        BV_CHECK(strstr(r.out, want) && strstr(r.out, ".pth.tmp (an unfinished checkpoint"),
                 "final run did not resume from D_%lld or left the torn G_%lld.pth.tmp:\n%s", (long long)prev,
                 (long long)torn, r.out);
    }
    BV_CHECK(count_containing(fx.model, ".tmp") == 0, "temporary files left in %s", fx.model);
    BV_CHECK(latest >= prev + 1 && latest >= 1, "final latest G_%lld after G_%lld", (long long)latest, (long long)prev);
    free(r.out);
    fixture_close(&fx);
}

/* Two runs on one model folder would interleave their checkpoints (issue 14 finding 5): the second
 * is refused while the first lives, and a SIGKILLed first leaves no stale lock behind. */
BV_TEST(trainer_second_run_on_one_folder_refused) {
    if (!have_bv2(ts)) return;
    fixture fx;
    if (fixture_open(ts, &fx)) return fixture_close(&fx);
    char out1[600], log[700];
    snprintf(out1, sizeof out1, "%s/first.out", fx.dir);
    snprintf(log, sizeof log, "%s/train.log", fx.model);
    const char *args[] = {"-c", fx.config, "-m", fx.model, "--max-steps", "1000", "--disc-widths", "small",
                          "--progress", "none", NULL};
    pid_t first = spawn_bv2(args, out1);
    for (int w = 0; w < 1000 && access(log, F_OK) != 0; w++) usleep(10000); /* holds the lock by then */
    run_result r = run_bv2(&fx, args);
    BV_CHECK(r.exited && r.code == BV_EXIT_INPUT && strstr(r.out, "another process") && strstr(r.out, fx.model),
             "second run: exit %d:\n%s", r.code, r.out);
    free(r.out);
    kill(first, SIGKILL);
    free(wait_bv2(first, out1).out);
    const char *again[] = {"-c", fx.config, "-m", fx.model, "--max-steps", "1", "--disc-widths", "small",
                           "--progress", "none", NULL};
    r = run_bv2(&fx, again);
    BV_CHECK(r.exited && r.code == 0, "after the holder was killed: exit %d:\n%s", r.code, r.out);
    free(r.out);
    fixture_close(&fx);
}

BV_TEST(trainer_sigint_saves_and_exits_cleanly) {
    if (!have_bv2(ts)) return;
    fixture fx;
    if (fixture_open(ts, &fx)) return fixture_close(&fx);
    write_config(&fx, fx.config, 1, 1000, "0.0002"); /* only step 0 is an eval step */
    char out[600];
    snprintf(out, sizeof out, "%s/bv2.out", fx.dir);
    const char *args[] = {"-c", fx.config, "-m", fx.model, "--disc-widths", "small", "--progress", "none", NULL};
    pid_t pid = spawn_bv2(args, out);
    for (int i = 0; i < 300 && bv_ckpt_latest_step(fx.model, BV_NET_G) < 0; i++) usleep(20000);
    usleep(300000); /* a few more steps */
    kill(pid, SIGINT);
    run_result r = wait_bv2(pid, out);
    BV_CHECK(r.exited && r.code == 0, "exit %d (signaled %d):\n%s", r.code, r.signaled, r.out);
    const char *m = strstr(r.out, "interrupted, saved step ");
    BV_CHECK(m != NULL, "no 'interrupted, saved step N':\n%s", r.out);
    if (m) {
        long long n = atoll(m + strlen("interrupted, saved step "));
        BV_CHECK(n >= 1 && bv_ckpt_latest_step(fx.model, BV_NET_G) == n, "saved step %lld, latest G_%lld", n,
                 (long long)bv_ckpt_latest_step(fx.model, BV_NET_G));
    }
    free(r.out);
    fixture_close(&fx);
}

BV_TEST(trainer_nan_loss_stops_without_saving) {
    if (!have_bv2(ts)) return;
    fixture fx;
    if (fixture_open(ts, &fx)) return fixture_close(&fx);
    write_config(&fx, fx.config, 1, 1, "1e30"); /* the first update sends every weight to +-inf */
    const char *args[] = {"-c", fx.config, "-m", fx.model, "--max-steps", "20", "--disc-widths", "small",
                          "--progress", "none", NULL};
    run_result r = run_bv2(&fx, args);
    BV_CHECK(r.exited && r.code == BV_EXIT_DIVERGED, "exit %d:\n%s", r.code, r.out);
    const char *m = strstr(r.out, "error: step ");
    BV_CHECK(m && strstr(m, "non-finite loss or gradient"), "no error naming the step:\n%s", r.out);
    if (m) {
        long long bad = atoll(m + strlen("error: step "));
        char name[64];
        snprintf(name, sizeof name, "G_%lld.pth", bad);
        BV_CHECK(bv_ckpt_latest_step(fx.model, BV_NET_G) < bad, "step %lld was saved", bad);
    }
    free(r.out);
    fixture_close(&fx);
}

/* train.bf16_run end to end (the only test that runs the bf16 optimizer step: found_inf, clip_grad_norm_
 * 500 / 200, the WavLM's kept bf16 weights): a few steps train, every logged loss is finite, the fp32
 * checkpoints it writes load. Skipped where the CPU has no native bf16 (bv2 refuses the config there). */
BV_TEST(trainer_bf16_run_trains_and_saves) {
    if (!have_bv2(ts)) return;
    char why[256];
    if (bv_backend_bf16_check(bv_backend_get(BV_DEV_CPU), why, sizeof why)) {
        bv_test_skip(ts, "no native bf16 here: %s", why);
        return;
    }
    fixture fx;
    if (fixture_open(ts, &fx)) return fixture_close(&fx);
    write_config(&fx, fx.config, 1, 100, "0.0002");
    char *cfg = bv_test_read_text(fx.config), *at = strstr(cfg, "\"bf16_run\": false");
    BV_CHECK(at != NULL, "config template lost its bf16_run key");
    if (at) {
        memcpy(at, "\"bf16_run\": true ", strlen("\"bf16_run\": false"));
        bv_test_write_text(fx.config, cfg);
    }
    free(cfg);
    const char *args[] = {"-c", fx.config, "-m", fx.model, "--max-steps", "4", "--disc-widths", "small", "--progress",
                          "none", NULL};
    run_result r = run_bv2(&fx, args);
    BV_CHECK(r.exited && r.code == 0 && strstr(r.out, "saved step 3"), "exit %d:\n%s", r.code, r.out);
    char path[700];
    snprintf(path, sizeof path, "%s/train.log", fx.model);
    char *log = bv_test_read_text(path);
    int lines = 0, finite = 1;
    for (const char *l = log ? strstr(log, "\tINFO\t[") : NULL; l; l = strstr(l + 1, "\tINFO\t[")) {
        const char *end = strchr(l, ']');
        char *num = (char *)l + strlen("\tINFO\t[");
        while (end && num < end) { /* [losses..., step, lr] */
            char *next;
            double v = strtod(num, &next);
            if (next == num) break;
            finite &= isfinite(v);
            num = next + strspn(next, ", ");
        }
        lines++;
    }
    BV_CHECK(lines >= 4 && finite, "%d loss lines, all finite: %d\n%s", lines, finite, log ? log : "(no train.log)");
    free(log);
    int64_t latest;
    all_checkpoints_load(ts, fx.model, &latest);
    BV_CHECK(latest == 3, "latest G_%lld", (long long)latest);
    free(r.out);
    fixture_close(&fx);
}

/* ------------------------------------------------------------------ tests: bad inputs */

/* bv2 train with `args` fails cleanly: exit code `code` (not a signal), and its output holds every
 * fragment (file names, line numbers, keys). */
static void expect_failure(bv_test_state *ts, const fixture *fx, const char *what, const char *const *args, int code,
                           const char *f1, const char *f2) {
    run_result r = run_bv2(fx, args);
    BV_CHECK(r.exited && r.code == code, "%s: exit %d (signaled %d), want %d:\n%s", what, r.code, r.signaled, code, r.out);
    BV_CHECK(strstr(r.out, "error: "), "%s: no 'error:' line:\n%s", what, r.out);
    BV_CHECK(!f1 || strstr(r.out, f1), "%s: message lacks '%s':\n%s", what, f1, r.out);
    BV_CHECK(!f2 || strstr(r.out, f2), "%s: message lacks '%s':\n%s", what, f2, r.out);
    const char *e = strstr(r.out, "error: ");
    if (bv_test_verbose && e) fprintf(stderr, "  %-22s exit %d: %.*s\n", what, r.code, (int)strcspn(e, "\n"), e);
    free(r.out);
}

/* The training filelist with line 3 replaced by `line`. */
static void list_with_line3(const fixture *fx, const char *line) {
    char *orig = bv_test_read_text(fx->train_list), *out = calloc(1, strlen(orig) + strlen(line) + 4);
    char *p = orig;
    for (int i = 1; *p; i++) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (i == 3) strcat(out, line);
        else strncat(out, p, n);
        p += n;
    }
    bv_test_write_text(fx->train_list, out);
    free(orig);
    free(out);
}

BV_TEST(trainer_bad_dataset_inputs_name_file_and_line) {
    if (!have_bv2(ts)) return;
    fixture fx;
    if (fixture_open(ts, &fx)) return fixture_close(&fx);
    char *good = bv_test_read_text(fx.train_list), line[1024], err[512], wav[600];
    const char *args[] = {"-c", fx.config, "-m", fx.model, "--disc-widths", "small", "--progress", "none",
                          "--max-steps", "3", NULL};
    struct { const char *what, *fmt, *frag; } cases[] = {
        {"missing wav", "%s/missing.wav|A|EN|t|_ s iy _|0 0 2 0|1 2 1\n", "missing.wav"},
        {"malformed line", "%s/u2.wav|A|EN|only four fields\n", NULL},
        {"unknown phone", "%s/u2.wav|A|EN|t|_ s xq9 _|0 0 2 0|1 2 1\n", "xq9"},
        {"unknown speaker", "%s/u2.wav|Zed|EN|t|_ s iy _|0 0 2 0|1 2 1\n", "Zed"},
        {"phones/tones mismatch", "%s/u2.wav|A|EN|t|_ s iy _|0 0 2|1 2 1\n", NULL},
        {"word2ph mismatch", "%s/u2.wav|A|EN|t|_ s iy _|0 0 2 0|1 1 1\n", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(line, sizeof line, cases[i].fmt, fx.dir);
        list_with_line3(&fx, line);
        expect_failure(ts, &fx, cases[i].what, args, BV_EXIT_INPUT, "train.list:3", cases[i].frag);
        bv_test_write_text(fx.train_list, good);
    }
    /* a wav at another sample rate */
    snprintf(wav, sizeof wav, "%s/u2.wav", fx.dir);
    BV_CHECK(write_wav(wav, 22050, 3000, 2, err, sizeof err) == 0, "%s", err);
    expect_failure(ts, &fx, "wrong sample rate", args, BV_EXIT_INPUT, "u2.wav", "22050");
    BV_CHECK(write_wav(wav, 16000, 3200, 2, err, sizeof err) == 0, "%s", err);
    /* BERT features of the wrong length (found when the item is loaded) */
    snprintf(wav, sizeof wav, "%s/u1.bert.pt", fx.dir);
    BV_CHECK(write_bert(wav, 5, err, sizeof err) == 0, "%s", err);
    expect_failure(ts, &fx, "bert shape", args, BV_EXIT_INPUT, "u1.bert.pt", "1024");
    free(good);
    fixture_close(&fx);
}

/* `-c <the fixture's config> -m <model>` for one bounded step. */
static const char *const *a_good_cfg(const fixture *fx) {
    static const char *a[12];
    const char *v[] = {"-c", fx->config, "-m", fx->model, "--disc-widths", "small", "--progress", "none",
                       "--max-steps", "1", NULL};
    memcpy(a, v, sizeof v);
    return a;
}

BV_TEST(trainer_bad_config_checkpoint_and_model_dir) {
    if (!have_bv2(ts)) return;
    fixture fx;
    if (fixture_open(ts, &fx)) return fixture_close(&fx);
    char bad_cfg[600], path[700];
    snprintf(bad_cfg, sizeof bad_cfg, "%s/bad.json", fx.dir);
    const char *args[] = {"-c", bad_cfg, "-m", fx.model, "--disc-widths", "small", "--progress", "none",
                          "--max-steps", "1", NULL};
    /* a missing key and a mistyped one */
    char *cfg = bv_test_read_text(fx.config), *p = strstr(cfg, "\"seed\": 1234, ");
    char *edited = calloc(1, strlen(cfg) + 64);
    if (p) {
        memcpy(edited, cfg, (size_t)(p - cfg));
        strcat(edited, p + strlen("\"seed\": 1234, "));
    }
    bv_test_write_text(bad_cfg, edited);
    expect_failure(ts, &fx, "missing config key", args, BV_EXIT_INPUT, "bad.json", "train.seed");
    if (p) {
        memcpy(edited, cfg, (size_t)(p - cfg));
        edited[p - cfg] = 0;
        strcat(edited, "\"seed\": \"x\", ");
        strcat(edited, p + strlen("\"seed\": 1234, "));
    }
    bv_test_write_text(bad_cfg, edited);
    expect_failure(ts, &fx, "mistyped config key", args, BV_EXIT_INPUT, "bad.json", "train.seed");
    bv_test_write_text(bad_cfg, "{\"train\": ");
    expect_failure(ts, &fx, "malformed json", args, BV_EXIT_INPUT, "bad.json", NULL);
    /* a segment longer than every utterance (utterances here are about 3200 samples) */
    char *seg = strstr(cfg, "\"segment_size\": 1024");
    if (seg) {
        memcpy(edited, cfg, (size_t)(seg - cfg));
        edited[seg - cfg] = 0;
        strcat(edited, "\"segment_size\": 64000");
        strcat(edited, seg + strlen("\"segment_size\": 1024"));
    }
    bv_test_write_text(bad_cfg, edited);
    expect_failure(ts, &fx, "segment too long", args, BV_EXIT_INPUT, "train.segment_size 64000", "longer than every");
    /* an empty training filelist is named */
    char *good_list = bv_test_read_text(fx.train_list);
    bv_test_write_text(fx.train_list, "\n");
    expect_failure(ts, &fx, "empty filelist", a_good_cfg(&fx), BV_EXIT_INPUT, fx.train_list, "no utterances");
    bv_test_write_text(fx.train_list, good_list);
    free(good_list);
    free(edited);
    free(cfg);
    /* an unwritable model folder (below a regular file: fails even for root) */
    char under_file[700];
    snprintf(under_file, sizeof under_file, "%s/model", fx.train_list);
    const char *a2[] = {"-c", fx.config, "-m", under_file, "--progress", "none", NULL};
    expect_failure(ts, &fx, "unwritable model dir", a2, BV_EXIT_INPUT, under_file, NULL);
    /* truncated and corrupt checkpoints in the model folder */
    mkdir(fx.model, 0777);
    snprintf(path, sizeof path, "%s/G_7.pth", fx.model);
    bv_test_write_text(path, "PK\003\004 this is not a zip");
    const char *a3[] = {"-c", fx.config, "-m", fx.model, "--disc-widths", "small", "--progress", "none",
                        "--max-steps", "1", NULL};
    expect_failure(ts, &fx, "corrupt G_7.pth", a3, BV_EXIT_INPUT, "G_7.pth", NULL);
    remove(path);
    run_result r = run_bv2(&fx, a3); /* a good G_0.pth ... */
    BV_CHECK(r.exited && r.code == 0, "good run: exit %d:\n%s", r.code, r.out);
    free(r.out);
    snprintf(path, sizeof path, "%s/G_0.pth", fx.model);
    char *whole = NULL;
    FILE *f = fopen(path, "rb");
    long n = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        whole = malloc((size_t)n);
        n = (long)fread(whole, 1, (size_t)n, f);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/G_9.pth", fx.model); /* ... truncated to half as the newest */
    f = fopen(path, "wb");
    if (f && whole) fwrite(whole, 1, (size_t)n / 2, f);
    if (f) fclose(f);
    free(whole);
    expect_failure(ts, &fx, "truncated G_9.pth", a3, BV_EXIT_INPUT, "G_9.pth", NULL);
    fixture_close(&fx);
}

/* config.yml's train_ms section end to end: model folder = -m (dataset) / train_ms.model, config from
 * train_ms.config_path under dataset_path, keep_ckpts, and a base model (a folder of *_0.pth) trained
 * for another speaker count: copied in, emb_g kept fresh with a warning, as upstream's loader does. */
BV_TEST(trainer_config_yml_and_base_model) {
    if (!have_bv2(ts)) return;
    fixture fx;
    if (fixture_open(ts, &fx)) return fixture_close(&fx);
    char base[600], yml[600], cfg3[600], models[700], path[800];
    snprintf(base, sizeof base, "%s/base", fx.dir);
    const char *a1[] = {"-c", fx.config, "-m", base, "--max-steps", "1", "--disc-widths", "small", "--progress",
                        "none", NULL};
    run_result r = run_bv2(&fx, a1);
    BV_CHECK(r.exited && r.code == 0 && bv_ckpt_latest_step(base, BV_NET_G) == 0, "base run: exit %d:\n%s", r.code,
             r.out);
    free(r.out);
    /* the same data with a third speaker in the config */
    snprintf(cfg3, sizeof cfg3, "%s/cfg3.json", fx.dir);
    char *cfg = bv_test_read_text(fx.config), *out = calloc(1, strlen(cfg) + 64), *p = strstr(cfg, "\"n_speakers\": 2");
    if (p) {
        memcpy(out, cfg, (size_t)(p - cfg));
        strcat(out, "\"n_speakers\": 3");
        p += strlen("\"n_speakers\": 2");
        char *q = strstr(p, "\"B\": 1}");
        strncat(out, p, (size_t)(q - p));
        strcat(out, "\"B\": 1, \"C\": 2}");
        strcat(out, q + strlen("\"B\": 1}"));
    }
    bv_test_write_text(cfg3, out);
    /* with skip_optimizer false the base model's optimizer state does not fit emb_g: a clear error */
    snprintf(yml, sizeof yml, "%s/config.yml", fx.dir);
    free(cfg);
    FILE *f = fopen(yml, "w");
    if (f) {
        fprintf(f, "dataset_path: \"%s\"\ntrain_ms:\n  base:\n    use_base_model: %s  # a folder\n"
                   "  model: \"models\"\n  config_path: \"cfg3.json\"\n  num_workers: 1\n  keep_ckpts: 1\n",
                fx.dir, base);
        fclose(f);
    }
    const char *a2[] = {"-y", yml, "--max-steps", "2", "--progress", "none", NULL};
    expect_failure(ts, &fx, "base optimizer state", a2, BV_EXIT_INPUT, "emb_g.weight", "skip_optimizer");
    /* as upstream's configs do for base models */
    char *so = strstr(out, "\"skip_optimizer\": false");
    if (so) memcpy(so, "\"skip_optimizer\": true ", strlen("\"skip_optimizer\": false"));
    bv_test_write_text(cfg3, out);
    free(out);
    char stale[800];
    snprintf(stale, sizeof stale, "%s/models", fx.dir);
    bv_test_rm_rf(stale); /* the failed run copied the base model already; start over */
    r = run_bv2(&fx, a2);
    snprintf(models, sizeof models, "%s/models", fx.dir);
    BV_CHECK(r.exited && r.code == 0, "yml run: exit %d:\n%s", r.code, r.out);
    BV_CHECK(strstr(r.out, "base model: copied") && strstr(r.out, "emb_g.weight is F32 [2, 8] in the checkpoint, the "
                                                             "model has [3, 8]; keeping its fresh value"),
             "no base-model copy / emb_g warning:\n%s", r.out);
    BV_CHECK(bv_ckpt_latest_step(models, BV_NET_G) == 1, "model folder %s: latest G_%lld", models,
             (long long)bv_ckpt_latest_step(models, BV_NET_G));
    snprintf(path, sizeof path, "%s/G_0.pth", models); /* *_0.pth is never pruned (keep_ckpts 1) */
    BV_CHECK(access(path, F_OK) == 0, "G_0.pth pruned");
    free(r.out);
    fixture_close(&fx);
}

/* ------------------------------------------------------------------ tests: command line, config.yml */

BV_TEST(trainer_cli_help_and_usage_errors) {
    if (!have_bv2(ts)) return;
    fixture fx;
    snprintf(fx.dir, sizeof fx.dir, "/tmp/bv_train_XXXXXX");
    BV_CHECK(mkdtemp(fx.dir) != NULL, "mkdtemp");
    const char *help[] = {"--help", NULL};
    run_result r = run_bv2(&fx, help);
    BV_CHECK(r.exited && r.code == 0, "--help exit %d", r.code);
    const char *opts[] = {"--config", "--model", "--yml_config", "--base-model", "--max-steps", "--max-minutes",
                          "--num-workers", "--spec-cache", "--no-spec-cache", "--keep-ckpts", "--disc-widths",
                          "--progress", "--help", "exit status"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) BV_CHECK(strstr(r.out, opts[i]), "--help lacks %s", opts[i]);
    free(r.out);
    const char *none[] = {NULL};
    const char *unknown[] = {"-c", "x.json", "-m", "d", "--frobnicate", NULL};
    const char *noval[] = {"-c", "x.json", "-m", NULL};
    const char *badnum[] = {"-c", "x.json", "-m", "d", "--max-steps", "-3", NULL};
    const char *const *bad[] = {none, unknown, noval, badnum};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = run_bv2(&fx, bad[i]);
        BV_CHECK(r.exited && r.code == 2 && strstr(r.out, "error: train: "), "usage error %zu: exit %d: %s", i, r.code,
                 r.out);
        free(r.out);
    }
    bv_test_rm_rf(fx.dir);
}

/* ------------------------------------------------------------------ shared with tests/test_ddp.c */

/* The fixture above with n_train >= 6 training utterances (u6 stays the validation one; u7.. are
 * added). dir and config receive the folder and its config.json. 0, or -1 after a failed check. */
int bv_test_train_fixture(bv_test_state *ts, int n_train, char *dir, size_t dcap, char *config, size_t ccap) {
    fixture fx;
    if (fixture_open(ts, &fx)) return -1;
    FILE *f = fopen(fx.train_list, "a");
    char line[1024], err[1024];
    for (int k = 7; f && k <= n_train; k++) {
        if (write_utt(&fx, k, line, sizeof line, err, sizeof err)) {
            BV_CHECK(0, "utterance %d: %s", k, err);
            fclose(f);
            return -1;
        }
        fputs(line, f);
    }
    if (f) fclose(f);
    snprintf(dir, dcap, "%s", fx.dir);
    snprintf(config, ccap, "%s", fx.config);
    return 0;
}

void bv_test_train_fixture_close(const char *dir) {
    fixture fx;
    memset(&fx, 0, sizeof fx);
    snprintf(fx.dir, sizeof fx.dir, "%s", dir);
    fixture_close(&fx);
}

int bv_test_train_checkpoints_load(bv_test_state *ts, const char *dir, int64_t *latest_g) {
    return all_checkpoints_load(ts, dir, latest_g);
}

