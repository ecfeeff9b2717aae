/* infer.c - `bv2 infer`: speech from a trained generator, as upstream infer.py / webui.py make it.
 * One utterance (--text or --phones) into a WAV file, or many (--batch) into numbered WAVs in a
 * folder. The work is in src/infer/infer.h; this file is the command line. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../bert/bert_feature.h"
#include "../core/backend.h"
#include "../core/error.h"
#include "../infer/infer.h"
#include "../io/wav.h"
#include "../ops/dispatch.h"
#include "../text/symbols.h"
#include "cli.h"

#define DEFAULT_SEED 1234
#define DEFAULT_PAUSE 0.2 /* upstream webui's interval_between_sent */

typedef struct infer_args {
    const char *model, *config, *speaker, *text, *phones, *bert, *batch, *output, *language, *lexicon, *noise_file;
    int phones_batch, batch_size, quiet, no_split, bf16;
    double pause;                       /* seconds of silence between sentences */
    const char *bert_dir, *style_text;   /* --bert-dir: real BERT features (bert_feature.h) */
    float style_weight;
    bv_bert_set *bset;                   /* the models under bert_dir, loaded per language on first use */
    uint64_t seed;
    bv_infer_opts opts;
} infer_args;

static void usage(FILE *f) {
    bv_infer_opts d = bv_infer_default_opts();
    fprintf(f,
            "usage: bv2 infer -m G_<step>.pth [-c config.json] [--speaker NAME]\n"
            "                 (--text TEXT | --phones LINE [--bert FILE] | --batch FILE) [options]\n"
            "\n"
            "Synthesizes speech with a trained Bert-VITS2 2.3 generator, as upstream's infer.py does.\n"
            "\n"
            "model:\n"
            "  -m, --model PATH       generator weights: G_*.pth (ours or upstream's), a `bv2 export` file\n"
            "                         (.pth or .safetensors); enc_q and optimizer state are not read\n"
            "  -c, --config PATH      the model's config.json (default: config.json beside the model)\n"
            "  --speaker NAME         a speaker of the config's data.spk2id (default: the only one)\n"
            "input (exactly one):\n"
            "  --text TEXT            text in --language: EN, ZH or JP (upstream's front-ends, in C; ZH reads\n"
            "                         data/zh, JP OpenJTalk's dictionary).\n"
            "                         Spoken a sentence at a time (split after . ! ? ; and at line\n"
            "                         breaks, as upstream's web UI), joined by --sentence-pause of silence;\n"
            "                         memory is bounded by the longest sentence\n"
            "  --phones LINE          cleaned \"phones|tones|word2ph\" as in a filelist, any language\n"
            "  --batch FILE           one utterance per line (FILE - reads stdin); blank lines are skipped;\n"
            "                         line k becomes <output>/<k>.wav (0007.wav)\n"
            "  --phones-batch         --batch lines are phones lines, or whole filelist lines\n"
            "                         wav|speaker|language|text|phones|tones|word2ph that bring their own\n"
            "                         speaker, language and BERT file (<wav>.bert.pt when it exists)\n"
            "  --language LANG        ZH, JP or EN (default EN)\n"
            "  --bert FILE            BERT features for --phones: the [1024, n] *.bert.pt of bert_gen.py\n"
            "  --bert-dir DIR         run the BERT model of the text's language from DIR (upstream's folder\n"
            "                         names, as bv2 bert-gen): real features for --text, --batch text lines and\n"
            "                         filelist lines without a <wav>.bert.pt; EN words split by its tokenizer\n"
            "  --style-text TEXT      v2.3's style mixing (with --bert-dir): every feature row becomes\n"
            "  --style-weight W         row * (1 - W) + mean(features of TEXT) * W (default W 0.7)\n"
            "controls (upstream's names; defaults as upstream's webui):\n"
            "  --sdp-ratio R          share of the stochastic duration predictor, 0..1 (default %g)\n"
            "  --noise-scale S        prior noise: expressiveness (default %g)\n"
            "  --noise-scale-w S      duration noise: rhythm variation (default %g)\n"
            "  --length-scale S       speaking time, > 1 slower (default %g)\n"
            "  --seed N               random seed (default %d); in --batch mode line k uses N + k - 1\n"
            "  --sentence-pause SEC   silence between the sentences of --text (default %g)\n"
            "  --no-split             speak --text in one pass (memory grows with its length; a text\n"
            "                         that would not fit is refused before synthesis, exit 3)\n"
            "output:\n"
            "  -o, --output PATH      16-bit WAV at the config's sampling rate (default out.wav);\n"
            "                         with --batch a folder, created if needed (default out)\n"
            "  --batch-size N         utterances per forward pass with --batch (default 1). N > 1 pads\n"
            "                         them into one batch: faster on many cores, but the random draws\n"
            "                         and the last frames of shorter lines differ from N = 1\n"
            "other:\n"
            "  --lexicon PATH         cmudict.rep for the English front-end (default $BV2_CMUDICT, else\n"
            "                         data/cmudict.rep here or beside the bv2 build folder)\n"
            "  --noise-file FILE      parity tests: every random draw (the BERT stand-ins, the duration\n"
            "                         noise, the prior noise) comes from FILE's noise.NNN.* tensors in order\n"
            "  --bf16                 convolutions, linear layers and LSTMs compute in bf16 (fp32 storage and\n"
            "                         accumulation, like torch.autocast), on CPUs with AVX512_BF16 or AMX\n"
            "                         (refused elsewhere); the audio differs slightly from fp32\n"
            "  -q, --quiet            no progress lines on stderr\n"
            "  -h, --help             this text\n"
            "\n"
            "BERT features: with --bert-dir the text's language gets the BERT model's features, as upstream's\n"
            "infer.py. Without --bert-dir / --bert it gets ZERO features (the other two languages get random\n"
            "normal ones, exactly as upstream's get_text). With zeros the BERT projection adds only its bias:\n"
            "pronunciation is unchanged, but prosody - phrasing, pauses, emphasis - is flatter.\n"
            "\n"
            "exit status: 0 ok, %d bad command line, %d bad input (missing or mismatched model/config,\n"
            "unknown speaker, empty text, characters the front-end cannot handle, bad phones).\n",
            (double)d.sdp_ratio, (double)d.noise_scale, (double)d.noise_scale_w, (double)d.length_scale, DEFAULT_SEED, DEFAULT_PAUSE,
            BV_EXIT_USAGE, BV_EXIT_INPUT);
}

/* ---------------- command line ---------------- */

static int parse_float(const char *opt, const char *s, float lo, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo) {
        fprintf(stderr, "error: %s: expected a number >= %g, got '%s'\n", opt, (double)lo, s);
        return -1;
    }
    *out = (float)v;
    return 0;
}

static int parse_count(const char *opt, const char *s, long long lo, long long *out) {
    if (bv_cli_parse_int(s, lo, LLONG_MAX, out) == 0) return 0;
    fprintf(stderr, "error: %s: expected an integer >= %lld, got '%s'\n", opt, lo, s);
    return -1;
}

enum { O_SPEAKER = 256, O_TEXT, O_PHONES, O_BERT, O_BATCH, O_PHONES_BATCH, O_LANGUAGE, O_SDP, O_NS, O_NSW, O_LS,
       O_SEED, O_BATCH_SIZE, O_LEXICON, O_NOISE, O_NO_SPLIT, O_PAUSE, O_BERT_DIR, O_STYLE_TEXT, O_STYLE_WEIGHT,
       O_BF16 };

/* Returns 0, 1 for --help, or -1 (message printed). */
static int parse_args(int argc, char **argv, infer_args *a) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},       {"config", required_argument, 0, 'c'},
        {"output", required_argument, 0, 'o'},      {"speaker", required_argument, 0, O_SPEAKER},
        {"text", required_argument, 0, O_TEXT},     {"phones", required_argument, 0, O_PHONES},
        {"bert", required_argument, 0, O_BERT},     {"batch", required_argument, 0, O_BATCH},
        {"phones-batch", no_argument, 0, O_PHONES_BATCH}, {"language", required_argument, 0, O_LANGUAGE},
        {"sdp-ratio", required_argument, 0, O_SDP}, {"noise-scale", required_argument, 0, O_NS},
        {"noise-scale-w", required_argument, 0, O_NSW}, {"length-scale", required_argument, 0, O_LS},
        {"seed", required_argument, 0, O_SEED},     {"batch-size", required_argument, 0, O_BATCH_SIZE},
        {"lexicon", required_argument, 0, O_LEXICON}, {"noise-file", required_argument, 0, O_NOISE},
        {"bert-dir", required_argument, 0, O_BERT_DIR}, {"style-text", required_argument, 0, O_STYLE_TEXT},
        {"style-weight", required_argument, 0, O_STYLE_WEIGHT}, {"bf16", no_argument, 0, O_BF16},
        {"no-split", no_argument, 0, O_NO_SPLIT},   {"sentence-pause", required_argument, 0, O_PAUSE},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->language = "EN";
    a->seed = DEFAULT_SEED;
    a->batch_size = 1;
    a->style_weight = 0.7f;
    a->pause = DEFAULT_PAUSE;
    a->opts = bv_infer_default_opts();
    long long v;
    opterr = 0;
    optind = 0;
    for (int c; (c = getopt_long(argc, argv, "m:c:o:qh", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'c': a->config = optarg; break;
        case 'o': a->output = optarg; break;
        case 'q': a->quiet = 1; break;
        case 'h': return 1;
        case O_SPEAKER: a->speaker = optarg; break;
        case O_TEXT: a->text = optarg; break;
        case O_PHONES: a->phones = optarg; break;
        case O_BERT: a->bert = optarg; break;
        case O_BATCH: a->batch = optarg; break;
        case O_PHONES_BATCH: a->phones_batch = 1; break;
        case O_LANGUAGE: a->language = optarg; break;
        case O_LEXICON: a->lexicon = optarg; break;
        case O_NOISE: a->noise_file = optarg; break;
        case O_BF16: a->bf16 = 1; break;
        case O_BERT_DIR: a->bert_dir = optarg; break;
        case O_STYLE_TEXT: a->style_text = optarg; break;
        case O_STYLE_WEIGHT:
            if (parse_float("--style-weight", optarg, 0, &a->style_weight)) return -1;
            if (a->style_weight > 1) return fprintf(stderr, "error: --style-weight: expected 0..1, got %s\n", optarg), -1;
            break;
        case O_NO_SPLIT: a->no_split = 1; break;
        case O_PAUSE: {
            float f;
            if (parse_float("--sentence-pause", optarg, 0, &f)) return -1;
            if (f > 60) return fprintf(stderr, "error: --sentence-pause: at most 60 s, got %s\n", optarg), -1;
            a->pause = f;
            break;
        }
        case O_SDP:
            if (parse_float("--sdp-ratio", optarg, 0, &a->opts.sdp_ratio)) return -1;
            if (a->opts.sdp_ratio > 1) return fprintf(stderr, "error: --sdp-ratio: expected 0..1, got %s\n", optarg), -1;
            break;
        case O_NS:
            if (parse_float("--noise-scale", optarg, 0, &a->opts.noise_scale)) return -1;
            break;
        case O_NSW:
            if (parse_float("--noise-scale-w", optarg, 0, &a->opts.noise_scale_w)) return -1;
            break;
        case O_LS:
            if (parse_float("--length-scale", optarg, 0, &a->opts.length_scale)) return -1;
            if (a->opts.length_scale <= 0) return fprintf(stderr, "error: --length-scale must be > 0\n"), -1;
            break;
        case O_SEED:
            if (parse_count("--seed", optarg, 0, &v)) return -1;
            a->seed = (uint64_t)v;
            break;
        case O_BATCH_SIZE:
            if (parse_count("--batch-size", optarg, 1, &v)) return -1;
            if (v > 256) return fprintf(stderr, "error: --batch-size: at most 256, got %s\n", optarg), -1;
            a->batch_size = (int)v;
            break;
        case ':': return fprintf(stderr, "error: %s needs a value (see bv2 infer --help)\n", argv[optind - 1]), -1;
        default: return fprintf(stderr, "error: unknown option '%s' (see bv2 infer --help)\n", argv[optind - 1]), -1;
        }
    }
    if (optind < argc)
        return fprintf(stderr, "error: unexpected argument '%s' (text goes after --text)\n", argv[optind]), -1;
    if (!a->model) return fprintf(stderr, "error: no model: give -m G_<step>.pth (see bv2 infer --help)\n"), -1;
    int inputs = !!a->text + !!a->phones + !!a->batch;
    if (inputs != 1)
        return fprintf(stderr, "error: give exactly one of --text, --phones, --batch (got %d)\n", inputs), -1;
    if (a->bert && !a->phones)
        return fprintf(stderr, "error: --bert goes with --phones (its columns must match the phones)\n"), -1;
    if (a->phones_batch && !a->batch) return fprintf(stderr, "error: --phones-batch goes with --batch\n"), -1;
    if (a->bert && a->bert_dir) return fprintf(stderr, "error: give --bert or --bert-dir, not both\n"), -1;
    if (a->style_text && !a->bert_dir) return fprintf(stderr, "error: --style-text goes with --bert-dir\n"), -1;
    if (a->bert_dir && a->phones)
        return fprintf(stderr, "error: --bert-dir needs the text: use --text, or --batch with --phones-batch "
                       "filelist lines (their 4th field is the text)\n"), -1;
    if (bv_language_id(a->language) < 0)
        return fprintf(stderr, "error: --language: expected ZH, JP or EN, got '%s'\n", a->language), -1;
    return 0;
}

/* ---------------- shared steps ---------------- */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* config.json beside the model file. */
static void default_config(const char *model, char *out, size_t cap) {
    const char *slash = strrchr(model, '/');
    if (slash) snprintf(out, cap, "%.*s/config.json", (int)(slash - model), model);
    else snprintf(out, cap, "config.json");
}

static int load_model(const infer_args *a, bv_infer_model *m) {
    char cfg_path[4096], err[1024];
    if (a->config) snprintf(cfg_path, sizeof cfg_path, "%s", a->config);
    else default_config(a->model, cfg_path, sizeof cfg_path);
    if (access(a->model, R_OK))
        return fprintf(stderr, "error: %s: cannot read the model (%s)\n", a->model, strerror(errno)), -1;
    if (!a->config && access(cfg_path, R_OK))
        return fprintf(stderr, "error: no config: %s does not exist; give -c config.json\n", cfg_path), -1;
    double t0 = now_s();
    if (bv_infer_model_load(m, a->model, cfg_path, err, sizeof err))
        return fprintf(stderr, "error: %s\n", err), -1;
    if (!a->quiet)
        fprintf(stderr, "loaded %s (%lld parameters, %d unused enc_q tensors skipped) in %.2f s\n", a->model,
                (long long)bv_params_numel(&m->ps), m->n_skipped, now_s() - t0);
    return 0;
}

/* "'a', 'b', 'c'" (the first 12 names of data.spk2id). */
static void speaker_names(const bv_infer_model *m, char *out, size_t cap) {
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < m->cfg.data.n_spk2id && k < cap; i++) {
        if (i == 12) {
            snprintf(out + k, cap - k, " ... (%d in all)", m->cfg.data.n_spk2id);
            break;
        }
        k += (size_t)snprintf(out + k, cap - k, "%s'%s'", i ? ", " : "", m->cfg.data.spk2id[i].name);
    }
}

/* The --speaker id, or the only speaker when none is given; -1 (message printed) otherwise. */
static int64_t resolve_speaker(const infer_args *a, const bv_infer_model *m) {
    char err[1024];
    const char *name = a->speaker;
    if (!name && m->cfg.data.n_spk2id == 1) name = m->cfg.data.spk2id[0].name;
    if (!name) {
        speaker_names(m, err, sizeof err);
        fprintf(stderr, "error: no --speaker given and the model has several: %s\n", err);
        return -1;
    }
    int64_t id = bv_infer_speaker_id(m, name, err, sizeof err);
    if (id < 0) fprintf(stderr, "error: %s\n", err);
    return id;
}

static bv_lexicon *load_lexicon(const infer_args *a) {
    char err[1024];
    bv_lexicon *lex = bv_infer_lexicon_load(a->lexicon, err, sizeof err);
    if (!lex) fprintf(stderr, "error: %s\n", err);
    if (lex && a->bset && bv_bert_set_en_words(a->bset, lex, err, sizeof err)) { /* words as DeBERTa splits them */
        fprintf(stderr, "error: --bert-dir: %s\n", err);
        bv_lexicon_free(lex);
        lex = NULL;
    }
    return lex;
}

/* --bert-dir: the features of the utterance's own language from its text (get_text's get_bert). */
static int add_bert(const infer_args *a, bv_infer_utt *u, const char *text, char *err, size_t cap) {
    const char *lang = bv_language_name(u->language);
    char sub[900];
    if (!u->word2ph) return snprintf(err, cap, "--bert-dir needs word2ph (the phones line has none)"), -1;
    if (bv_bert_set_prepare(a->bset, lang, sub, sizeof sub)) return snprintf(err, cap, "--bert-dir: %s", sub), -1;
    float *f;
    int H;
    int64_t P;
    if (bv_bert_feature_hp(a->bset, lang, text, u->word2ph, u->n_word2ph, a->style_text, a->style_weight, &f, &H, &P,
                           sub, sizeof sub))
        return snprintf(err, cap, "BERT features: %s", sub), -1;
    if (H != BV_INFER_BERT_DIM || P != u->n) {
        free(f);
        return snprintf(err, cap, "BERT features: the %s model gives [%d, %lld], the text encoder takes [%d, %d]",
                        lang, H, (long long)P, BV_INFER_BERT_DIM, u->n), -1;
    }
    free(u->bert);
    u->bert = f;
    return 0;
}

typedef struct {
    bv_rng_draw *draws;
    int n;
} noise_replay;

static int setup_noise(const infer_args *a, bv_ctx *ctx, noise_replay *nr) {
    memset(nr, 0, sizeof *nr);
    if (!a->noise_file) return 0;
    char err[1024];
    nr->n = bv_infer_noise_load(a->noise_file, &nr->draws, err, sizeof err);
    if (nr->n < 0) return fprintf(stderr, "error: %s\n", err), -1;
    bv_rng_set_replay(&ctx->rng, nr->draws, nr->n);
    return 0;
}

static int write_wav(const char *path, const float *audio, int64_t n, const bv_infer_model *m) {
    char err[1024];
    if (bv_wav_write(path, audio, n, 1, (int)m->cfg.data.sampling_rate, err, sizeof err))
        return fprintf(stderr, "error: %s\n", err), -1;
    return 0;
}

/* Synthesizes utts[0..n) in one pass and writes paths[i]. */
static int synth_and_write(const infer_args *a, bv_ctx *ctx, const bv_infer_model *m, const bv_infer_utt *utts,
                           int n, char **paths) {
    float **audio = bv_xcalloc((size_t)n, sizeof *audio);
    int64_t *len = bv_xcalloc((size_t)n, sizeof *len);
    char err[1024];
    double t0 = now_s();
    int rc = bv_infer_synthesize(ctx, m, utts, n, &a->opts, audio, len, NULL, err, sizeof err);
    double dt = now_s() - t0;
    if (rc) fprintf(stderr, "error: %s\n", err);
    for (int i = 0; !rc && i < n; i++) {
        rc = write_wav(paths[i], audio[i], len[i], m);
        double secs = (double)len[i] / (double)m->cfg.data.sampling_rate;
        if (!rc && !a->quiet)
            fprintf(stderr, "%s: %.2f s of audio (%lld samples at %lld Hz)%s", paths[i], secs, (long long)len[i],
                    (long long)m->cfg.data.sampling_rate, n == 1 ? "" : "\n");
        if (!rc && !a->quiet && n == 1) fprintf(stderr, " in %.2f s, real-time factor %.3f\n", dt, dt / (secs > 0 ? secs : 1));
    }
    if (!rc && !a->quiet && n > 1) fprintf(stderr, "  (%d utterances in one pass: %.2f s)\n", n, dt);
    for (int i = 0; i < n; i++) free(audio[i]);
    free(audio);
    free(len);
    bv_ctx_reset(ctx);
    return rc;
}

/* ---------------- one utterance ---------------- */

/* --text: one sentence at a time into one WAV, --sentence-pause of silence between. */
static int run_text(const infer_args *a, bv_ctx *ctx, const bv_infer_model *m) {
    bv_lexicon *lex = strcmp(a->language, "EN") ? NULL : load_lexicon(a);
    if (!strcmp(a->language, "EN") && !lex) return BV_EXIT_INPUT;
    const int64_t speaker = resolve_speaker(a, m);
    if (speaker < 0) return bv_lexicon_free(lex), BV_EXIT_INPUT;
    char **pieces = NULL, *whole = (char *)a->text;
    int n = a->no_split ? 0 : bv_infer_split_sentences(a->text, &pieces);
    char **list = n ? pieces : &whole; /* no split, or nothing but spaces: the front-end says why */
    const int count = n ? n : 1;
    const int64_t sr = m->cfg.data.sampling_rate, gap = (int64_t)llround(a->pause * (double)sr);
    float *all = NULL;
    int64_t total = 0;
    int rc = 0;
    double t0 = now_s();
    for (int k = 0; k < count && !rc; k++) {
        char err[1024];
        bv_infer_utt u;
        if (bv_infer_utt_from_text(&u, lex, list[k], a->language, m->cfg.data.add_blank, err, sizeof err)) {
            if (count > 1) fprintf(stderr, "error: --text: sentence %d (\"%.60s\"): %s\n", k + 1, list[k], err);
            else fprintf(stderr, "error: --text: %s\n", err);
            rc = BV_EXIT_INPUT;
            break;
        }
        if (a->bset && add_bert(a, &u, u.norm_text ? u.norm_text : list[k], err, sizeof err)) {
            fprintf(stderr, "error: --text: %s\n", err);
            bv_infer_utt_free(&u);
            rc = BV_EXIT_INPUT;
            break;
        }
        u.speaker = speaker;
        float *audio = NULL;
        int64_t len = 0;
        if (bv_infer_synthesize(ctx, m, &u, 1, &a->opts, &audio, &len, NULL, err, sizeof err)) {
            fprintf(stderr, "error: %s%s\n", count > 1 ? "a sentence of --text: " : "", err);
            rc = BV_EXIT_INPUT;
        } else {
            const int64_t add = (k ? gap : 0) + len;
            all = bv_xrealloc(all, sizeof(float) * (size_t)(total + add + 1));
            if (k) memset(all + total, 0, sizeof(float) * (size_t)gap);
            memcpy(all + total + (k ? gap : 0), audio, sizeof(float) * (size_t)len);
            total += add;
            if (!a->quiet && count > 1)
                fprintf(stderr, "\rsentence %d of %d: %.2f s of audio so far", k + 1, count, (double)total / (double)sr);
        }
        free(audio);
        bv_infer_utt_free(&u);
        bv_ctx_reset(ctx); /* each sentence's activations go before the next */
    }
    if (!a->quiet && count > 1) fputc('\n', stderr);
    const char *path = a->output ? a->output : "out.wav";
    if (!rc && write_wav(path, all, total, m)) rc = BV_EXIT_INPUT;
    double dt = now_s() - t0, secs = (double)total / (double)sr;
    if (!rc && !a->quiet)
        fprintf(stderr, "%s: %.2f s of audio (%lld samples at %lld Hz) in %.2f s, real-time factor %.3f\n", path, secs,
                (long long)total, (long long)sr, dt, dt / (secs > 0 ? secs : 1));
    free(all);
    bv_infer_pieces_free(pieces, n);
    bv_lexicon_free(lex);
    return rc;
}

static int run_single(const infer_args *a, bv_ctx *ctx, const bv_infer_model *m) {
    char err[1024];
    bv_infer_utt u;
    int add_blank = m->cfg.data.add_blank;
    if (a->text) {
        return run_text(a, ctx, m);
    } else {
        if (bv_infer_utt_from_phones(&u, a->phones, a->language, add_blank, err, sizeof err))
            return fprintf(stderr, "error: --phones: %s\n", err), BV_EXIT_INPUT;
        if (a->bert && bv_infer_utt_load_bert(&u, a->bert, err, sizeof err)) {
            bv_infer_utt_free(&u);
            return fprintf(stderr, "error: --bert: %s\n", err), BV_EXIT_INPUT;
        }
    }
    u.speaker = resolve_speaker(a, m);
    int rc = u.speaker < 0 ? BV_EXIT_INPUT : 0;
    char *path = (char *)(a->output ? a->output : "out.wav");
    if (!rc && synth_and_write(a, ctx, m, &u, 1, &path)) rc = BV_EXIT_INPUT;
    bv_infer_utt_free(&u);
    return rc;
}

/* ---------------- batch ---------------- */

typedef struct {
    bv_infer_utt *utts;
    int *line_no;
    int n, cap;
} utt_list;

static void list_add(utt_list *l, const bv_infer_utt *u, int line) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->utts = bv_xrealloc(l->utts, sizeof *l->utts * (size_t)l->cap);
        l->line_no = bv_xrealloc(l->line_no, sizeof *l->line_no * (size_t)l->cap);
    }
    l->utts[l->n] = *u;
    l->line_no[l->n++] = line;
}

static void list_free(utt_list *l) {
    for (int i = 0; i < l->n; i++) bv_infer_utt_free(&l->utts[i]);
    free(l->utts);
    free(l->line_no);
}

/* A filelist line wav|speaker|language|text|phones|tones|word2ph: its own speaker, language and
 * BERT file (data_utils: the wav path with .wav -> .bert.pt), if that file exists. */
static int utt_from_filelist_line(const infer_args *a, bv_infer_utt *u, const bv_infer_model *m, char **f, char *err,
                                  size_t cap) {
    size_t n = strlen(f[4]) + strlen(f[5]) + strlen(f[6]) + 3;
    char *line = bv_xmalloc(n), *bert = bv_xmalloc(strlen(f[0]) + 16);
    snprintf(line, n, "%s|%s|%s", f[4], f[5], f[6]);
    int rc = bv_infer_utt_from_phones(u, line, f[2], m->cfg.data.add_blank, err, cap);
    if (!rc && (u->speaker = bv_infer_speaker_id(m, f[1], err, cap)) < 0) rc = -1;
    const char *dot = strrchr(f[0], '.');
    if (dot && !strcmp(dot, ".wav")) sprintf(bert, "%.*s.bert.pt", (int)(dot - f[0]), f[0]);
    else sprintf(bert, "%s.bert.pt", f[0]);
    if (!rc && !access(bert, R_OK)) rc = bv_infer_utt_load_bert(u, bert, err, cap);
    else if (!rc && a->bset) rc = add_bert(a, u, f[3], err, cap);
    if (rc) bv_infer_utt_free(u);
    free(line);
    free(bert);
    return rc;
}

static int utt_from_batch_line(const infer_args *a, const bv_infer_model *m, const bv_lexicon *lex, char *line,
                               int64_t speaker, bv_infer_utt *u, char *err, size_t cap) {
    if (a->phones_batch) {
        int nf = 1;
        for (const char *p = line; *p; p++) nf += *p == '|';
        if (nf == 7) {
            char *f[7];
            f[0] = line;
            for (int i = 1; i < 7; i++) *(f[i] = strchr(f[i - 1], '|')) = 0, f[i]++;
            return utt_from_filelist_line(a, u, m, f, err, cap);
        }
        if (bv_infer_utt_from_phones(u, line, a->language, m->cfg.data.add_blank, err, cap)) return -1;
    } else if (bv_infer_utt_from_text(u, lex, line, a->language, m->cfg.data.add_blank, err, cap)) {
        return -1;
    } else if (a->bset && add_bert(a, u, u->norm_text ? u->norm_text : line, err, cap)) {
        bv_infer_utt_free(u);
        return -1;
    }
    if (speaker < 0) {
        bv_infer_utt_free(u);
        return snprintf(err, cap, "no --speaker given and the model has %d speakers", m->cfg.data.n_spk2id), -1;
    }
    u->speaker = speaker;
    return 0;
}

/* Every line is turned into ids before anything is synthesized: a bad line stops the run early
 * and every bad line is reported. */
static int read_batch(const infer_args *a, const bv_infer_model *m, utt_list *l) {
    /* without --speaker, lines must be filelist lines (their own speaker) unless the model has one */
    int64_t speaker = a->speaker || m->cfg.data.n_spk2id == 1 ? resolve_speaker(a, m) : -1;
    if (a->speaker && speaker < 0) return -1;
    FILE *f = strcmp(a->batch, "-") ? fopen(a->batch, "r") : stdin;
    const char *name = f == stdin ? "<stdin>" : a->batch;
    if (!f) return fprintf(stderr, "error: %s: cannot open (%s)\n", a->batch, strerror(errno)), -1;
    bv_lexicon *lex = NULL;
    if (!a->phones_batch && !strcmp(a->language, "EN") && !(lex = load_lexicon(a))) {
        if (f != stdin) fclose(f);
        return -1;
    }
    char *line = NULL, err[1024];
    size_t lcap = 0;
    int bad = 0, line_no = 0;
    for (ssize_t len; (len = getline(&line, &lcap, f)) >= 0;) {
        line_no++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        int blank = 1;
        for (ssize_t i = 0; i < len && blank; i++) blank = line[i] == ' ' || line[i] == '\t';
        if (blank) continue;
        bv_infer_utt u;
        if (utt_from_batch_line(a, m, lex, line, speaker, &u, err, sizeof err)) {
            if (bad++ < 20) fprintf(stderr, "error: %s:%d: %s\n", name, line_no, err);
            continue;
        }
        list_add(l, &u, line_no);
    }
    free(line);
    bv_lexicon_free(lex);
    if (f != stdin) fclose(f);
    if (bad > 20) fprintf(stderr, "error: %d bad lines in all\n", bad);
    if (!bad && !l->n) fprintf(stderr, "error: %s: no lines to synthesize\n", name), bad = 1;
    return bad ? -1 : 0;
}

static int make_folder(const char *dir) {
    struct stat st;
    if (!stat(dir, &st)) {
        if (S_ISDIR(st.st_mode)) return 0;
        return fprintf(stderr, "error: %s exists and is not a folder (--batch writes a folder of WAVs)\n", dir), -1;
    }
    if (mkdir(dir, 0777)) return fprintf(stderr, "error: %s: cannot create folder (%s)\n", dir, strerror(errno)), -1;
    return 0;
}

static int run_batch(const infer_args *a, bv_ctx *ctx, const bv_infer_model *m) {
    utt_list l = {0};
    const char *dir = a->output ? a->output : "out";
    if (read_batch(a, m, &l) || make_folder(dir)) {
        list_free(&l);
        return BV_EXIT_INPUT;
    }
    int width = 4;
    for (int k = l.line_no[l.n - 1]; k >= 10000; k /= 10) width++;
    int rc = 0;
    for (int i = 0; i < l.n && !rc; i += a->batch_size) {
        int nb = l.n - i < a->batch_size ? l.n - i : a->batch_size;
        char **paths = bv_xcalloc((size_t)nb, sizeof *paths);
        for (int j = 0; j < nb; j++) {
            paths[j] = bv_xmalloc(strlen(dir) + 32);
            sprintf(paths[j], "%s/%0*d.wav", dir, width, l.line_no[i + j]);
        }
        if (!a->noise_file) bv_rng_seed(&ctx->rng, a->seed + (uint64_t)l.line_no[i] - 1);
        rc = synth_and_write(a, ctx, m, &l.utts[i], nb, paths) ? BV_EXIT_INPUT : 0;
        for (int j = 0; j < nb; j++) free(paths[j]);
        free(paths);
    }
    list_free(&l);
    return rc;
}

/* ---------------- entry ---------------- */

int bv_cli_infer(int argc, char **argv) {
    infer_args a;
    int p = parse_args(argc, argv, &a);
    if (p == 1) {
        usage(stdout);
        return 0;
    }
    if (p < 0) return BV_EXIT_USAGE;
    if (a.bf16) {
        char why[256];
        if (bv_backend_bf16_check(bv_backend_get(BV_DEV_CPU), why, sizeof why))
            return fprintf(stderr, "error: --bf16: %s; run without --bf16\n", why), BV_EXIT_USAGE;
        if (bv_backend_bf16_note(bv_backend_get(BV_DEV_CPU), why, sizeof why))
            fprintf(stderr, "warning: --bf16: %s\n", why);
    }
    bv_infer_model m;
    if (load_model(&a, &m)) return BV_EXIT_INPUT;
    if (a.bert_dir) a.bset = bv_bert_set_new(a.bert_dir);
    bv_ctx ctx;
    bv_ctx_init(&ctx, (size_t)64 << 20, a.seed);
    if (a.bf16) ctx.autocast = BV_AUTOCAST_BF16;
    noise_replay nr;
    int rc = setup_noise(&a, &ctx, &nr) ? BV_EXIT_INPUT : a.batch ? run_batch(&a, &ctx, &m) : run_single(&a, &ctx, &m);
    if (!rc && nr.n && ctx.rng.next_replay != nr.n)
        fprintf(stderr, "warning: %s: %d of %d recorded draws were used\n", a.noise_file, ctx.rng.next_replay, nr.n);
    bv_infer_noise_free(nr.draws, nr.n);
    bv_ctx_free(&ctx);
    bv_infer_model_free(&m);
    bv_bert_set_free(a.bset);
    return rc;
}
