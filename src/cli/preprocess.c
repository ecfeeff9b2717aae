/* preprocess.c - `bv2 preprocess`: upstream's preprocess_text.py for a folder of WAVs and a transcript
 * (wav|speaker|language|text): English cleaned by our front-end, the cleaned list, the train/val
 * filelists, config.json's speakers and filelist paths, and zero *.bert.pt files where no BERT
 * features exist (the work lives in src/app/preprocess.h). */
#include "cli.h"
#include "../io/fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <sndfile.h>

#include "../app/preprocess.h"
#include "../core/error.h"
#include "../infer/infer.h"
#include "../bert/bert_feature.h"
#include "../text/lexicon.h"
#include "../train/progress.h"

#define bad_usage(...) bv_cli_usage_error("preprocess", __VA_ARGS__)

static void usage(FILE *f) {
    fprintf(f,
        "usage: bv2 preprocess -i <transcript.list> -c <config.json> [options]\n"
        "\n"
        "Turns a transcript and its WAVs into what `bv2 train` reads, as upstream's preprocess_text.py does:\n"
        "  1. each transcript line wav|speaker|language|text is cleaned into the filelist line\n"
        "     wav|speaker|language|norm_text|phones|tones|word2ph. English (EN) goes through bv2's front-end\n"
        "     (upstream's text_normalize + g2p on CMUdict 0.6; scripts/fetch-cmudict.sh installs it), Chinese\n"
        "     (ZH) through bv2's port of text/chinese.py (jieba, pypinyin, tone sandhi; scripts/fetch-zh.sh\n"
        "     installs data/zh), Japanese (JP) through bv2's port of upstream's japanese.py (MeCab over\n"
        "     OpenJTalk's dictionary, $OPEN_JTALK_DICT_DIR or Debian's). 7-field lines of any language are\n"
        "     checked and kept as they are.\n"
        "  2. the cleaned list (--cleaned-path) and the train/val filelists are written: lines grouped by\n"
        "     language, each group shuffled, --val-per-lang of each to val, val cut to --max-val-total (the\n"
        "     rest back to train). The shuffle is seeded (--seed), so reruns give the same lists.\n"
        "  3. config.json gets data.spk2id (speakers in order of first appearance), data.n_speakers,\n"
        "     data.training_files, data.validation_files and version \"2.3\" (written to --out-config, default\n"
        "     over -c itself, as upstream).\n"
        "  4. BERT features: every <wav>.bert.pt that does not exist is written as ZEROS of shape\n"
        "     [1024, len(phones)] (2 len + 1 with data.add_blank), in torch.save format. Real features need\n"
        "     upstream's bert_gen.py (DeBERTa / BERT models, PyTorch); it overwrites these files. A model\n"
        "     trained on zeros learns no prosody from BERT: it reads everything from the phones and tones.\n"
        "     With --bert-dir DIR the real features are written instead, as `bv2 bert-gen` does, and English\n"
        "     words are split by DIR/deberta-v3-large's tokenizer (upstream's text_to_words).\n"
        "\n"
        "Wav paths are used as written (relative to the folder `bv2 train` runs in, as upstream), after\n"
        "--wav-dir for relative ones. Every wav must exist and be mono at data.sampling_rate (bv2 resample).\n"
        "\n"
        "options (upstream's preprocess_text.py names; defaults in brackets):\n"
        "  -i, --transcription-path PATH  the transcript (required). Blank lines are skipped.\n"
        "  -c, --config-path PATH    config.json to read (data.add_blank, data.sampling_rate) and update (required).\n"
        "  --out-config PATH         write the updated config here instead. [-c]\n"
        "  --cleaned-path PATH       the cleaned list. [<transcript>.cleaned]\n"
        "  --train-path PATH         training filelist. [train.list beside the transcript]\n"
        "  --val-path PATH           validation filelist. [val.list beside the transcript]\n"
        "  --val-per-lang N          validation lines per language. [4]\n"
        "  --max-val-total N         at most this many validation lines. [12]\n"
        "  --seed N                  seed of the split's shuffle. [1234]\n"
        "  --wav-dir DIR             folder that relative wav paths of the transcript are in. [as written]\n"
        "  --bert MODE               missing: write zeros where no <wav>.bert.pt exists, keep files of the right\n"
        "                            shape, fail on others; overwrite: write zeros everywhere; none: write\n"
        "                            nothing. [missing]\n"
        "  --bert-dir DIR            BERT model folders (upstream's names, see bv2 bert-gen): real features\n"
        "                            instead of zeros (--bert missing keeps good existing files, overwrite\n"
        "                            regenerates all). [none: zeros]\n"
        "  --skip-errors             drop bad lines (each reported) instead of failing, as upstream does.\n"
        "  --cmudict PATH            the lexicon. [$BV2_CMUDICT, else data/cmudict.rep here or beside the\n"
        "                            bv2 build folder]\n"
        "  --make-random-wavlm DIR   also write a small RANDOMLY INITIALISED WavLM (config.json +\n"
        "                            model.safetensors) into DIR and point model.slm at it (model, hidden,\n"
        "                            nlayers). For demos and tests without microsoft/wavlm-base-plus: it is no\n"
        "                            speech model, so the WavLM discriminator loss is only a regulariser.\n"
        "  --progress MODE           auto, bar, plain or none. [auto]\n"
        "  -h, --help                this text.\n"
        "\n"
        "exit status: 0 done; 2 bad command line; 3 bad transcript line (named as <file>:<line>), missing or\n"
        "unusable wav, unreadable config, unwritable output. Nothing is written when a line is bad (unless\n"
        "--skip-errors).\n");
}

typedef struct prep_opts {
    const char *transcript, *config, *out_config, *cleaned, *train, *val, *wav_dir, *cmudict, *wavlm_dir;
    const char *bert_dir;   /* --bert-dir: real features (bert_feature.h), EN words split by DeBERTa */
    bv_bert_set *bset;
    int val_per_lang, max_val_total, skip_errors, progress;
    int bert_mode;   /* 0 missing, 1 overwrite, 2 none */
    unsigned long long seed;
} prep_opts;

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = bv_xmalloc(cap + 1);
    for (size_t got; (got = fread(s + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) s = bv_xrealloc(s, (cap *= 2) + 1);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    if (len) *len = n;
    return s;
}


/* Writes n strings to path as a whole (src/io/fs.h): a kill never leaves half a filelist. */
static int write_lines(const char *path, char *const *lines, const int *idx, int n) {
    char merr[512];
    bv_out_file o;
    if (bv_mkdir_parents(path, merr, sizeof merr) || bv_out_begin(&o, path, merr, sizeof merr)) {
        fprintf(stderr, "error: preprocess: %s\n", merr);
        return -1;
    }
    FILE *f = fopen(o.tmp, "w");
    int bad = !f;
    for (int i = 0; i < n && !bad; i++) bad = fputs(lines[idx ? idx[i] : i], f) < 0;
    if (f) bad |= fclose(f) != 0;
    if (bad) {
        fprintf(stderr, "error: preprocess: cannot write %s: %s\n", o.tmp, strerror(errno));
        bv_out_abort(&o);
        return -1;
    }
    if (bv_out_commit(&o, merr, sizeof merr)) {
        fprintf(stderr, "error: preprocess: %s\n", merr);
        return -1;
    }
    return 0;
}

static int64_t config_int(const cJSON *data, const char *key, int64_t dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

/* The wav exists, is audio, is mono at the config's rate. */
static int check_wav(const char *wav, const char *where, int64_t want_sr, const char *lvl) {
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(wav, SFM_READ, &info);
    if (!sf) {
        struct stat sb;
        fprintf(stderr, "%s: preprocess: %s: %s: %s\n", lvl, where, wav,
                stat(wav, &sb) ? "no such file" : sf_strerror(NULL));
        return -1;
    }
    sf_close(sf);
    if (info.channels != 1) {
        fprintf(stderr, "%s: preprocess: %s: %s has %d channels; training needs mono (bv2 resample makes it)\n",
                lvl, where, wav, info.channels);
        return -1;
    }
    if (want_sr > 0 && info.samplerate != want_sr) {
        fprintf(stderr, "%s: preprocess: %s: %s is %d Hz but data.sampling_rate is %lld: run bv2 resample first\n",
                lvl, where, wav, info.samplerate, (long long)want_sr);
        return -1;
    }
    return 0;
}

typedef struct utt_set {
    bv_prep_utt *u;
    int n, cap;
} utt_set;

static int needs_lexicon(const char *text) {
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        int bars = 0;
        size_t lang = 0; /* start of the language field */
        for (size_t i = 0; i < len; i++)
            if (line[i] == '|' && ++bars == 2) lang = i + 1;
        if (bars == 3 && len - lang >= 3 && !strncmp(line + lang, "EN|", 3)) return 1; /* an EN line to clean */
        line = end ? end + 1 : NULL;
    }
    return 0;
}

/* Cleans every line; returns the number of bad lines (each reported). */
static int clean_all(const prep_opts *o, const bv_lexicon *lex, char *text, int64_t sr, utt_set *s) {
    int bad = 0, lineno = 0;
    const char *lvl = o->skip_errors ? "warning" : "error";   /* --skip-errors: the line is dropped */
    for (char *line = text; line;) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r') p++;
        if (*p) {
            bv_prep_utt u;
            char err[2048], where[1100];
            snprintf(where, sizeof where, "%s:%d", o->transcript, lineno);
            int dup = 0;
            if (bv_prep_clean_line(lex, line, lineno, o->transcript, o->wav_dir, &u, err, sizeof err)) {
                fprintf(stderr, "%s: preprocess: %s\n", lvl, err);
                bad++;
            } else if (check_wav(u.wav, where, sr, lvl)) {
                bv_prep_utt_free(&u);
                bad++;
            } else {
                for (int k = 0; k < s->n && !dup; k++) dup = !strcmp(s->u[k].wav, u.wav);
                if (dup) { /* upstream: "重复音频文本" - the first line with that wav wins */
                    fprintf(stderr, "warning: preprocess: %s: %s already has a line; this one is skipped\n", where,
                            u.wav);
                    bv_prep_utt_free(&u);
                } else {
                    if (s->n == s->cap) s->u = bv_xrealloc(s->u, sizeof(bv_prep_utt) * (size_t)(s->cap = s->cap * 2 + 64));
                    s->u[s->n++] = u;
                }
            }
        }
        line = end ? end + 1 : NULL;
    }
    return bad;
}

/* Zero *.bert.pt files per --bert; returns the number of failures. */
static int write_berts(const prep_opts *o, const utt_set *s, int add_blank, int *n_written, int *n_kept) {
    int bad = 0;
    *n_written = *n_kept = 0;
    if (o->bert_mode == 2) return 0;
    bv_progress *p = NULL;
    if (o->progress != 3)
        p = bv_progress_start_opts(s->n, "bert.pt", &(bv_progress_opts){
            .mode = o->progress == 1 ? BV_PROGRESS_TTY : o->progress == 2 ? BV_PROGRESS_PLAIN : BV_PROGRESS_AUTO,
            .interval_s = 10});
    for (int i = 0; i < s->n; i++) {
        const bv_prep_utt *u = &s->u[i];
        char err[2048];
        char *path = bv_prep_bert_path(u->wav);
        int64_t cols = bv_prep_bert_cols(u->n_phones, add_blank);
        int state = !path || o->bset ? 0 : o->bert_mode == 1 ? -1 : bv_prep_bert_ok(path, cols, err, sizeof err);
        bv_progress_hide();
        if (path && o->bset) { /* real features, as bv2 bert-gen */
            char *line = bv_prep_utt_line(u), where[4300];
            line[strcspn(line, "\n")] = 0;
            snprintf(where, sizeof where, "%s:%d", o->transcript, u->line);
            bv_bert_line_result r = bv_bert_set_prepare(o->bset, u->language, err, sizeof err)
                                        ? BV_BERT_LINE_FAILED
                                        : bv_bert_gen_line(o->bset, line, add_blank, NULL, o->bert_mode == 1, where, err,
                                                           sizeof err);
            if (r == BV_BERT_LINE_FAILED) fprintf(stderr, "error: preprocess: %s\n", err), bad++;
            else if (r == BV_BERT_LINE_KEPT) ++*n_kept;
            else ++*n_written;
            free(line);
        } else if (!path) {
            fprintf(stderr, "error: preprocess: %s:%d: %s has no \".wav\" in its path (upstream names the features "
                    "<wav>.bert.pt by replacing it)\n", o->transcript, u->line, u->wav);
            bad++;
        } else if (state == 0) {
            fprintf(stderr, "error: preprocess: %s:%d: %s (remove it, rerun bert_gen.py, or use --bert overwrite)\n",
                    o->transcript, u->line, err);
            bad++;
        } else if (state == 1) {
            ++*n_kept;
        } else if (bv_prep_write_zero_bert(path, cols, err, sizeof err)) {
            fprintf(stderr, "error: preprocess: %s\n", err);
            bad++;
        } else {
            ++*n_written;
        }
        bv_progress_show();
        free(path);
        if (p) bv_progress_update(p, i + 1, NULL);
    }
    bv_progress_finish(p);
    return bad;
}

/* obj[key] = item, in place when the key exists (the file keeps its order) */
static void set_item(cJSON *obj, const char *key, cJSON *item) {
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
    else cJSON_AddItemToObject(obj, key, item);
}

/* --make-random-wavlm: the folder, and model.slm pointing at it */
static int random_wavlm(const prep_opts *o, cJSON *cfg) {
    bv_prep_wavlm_size ws;
    bv_prep_wavlm_size_default(&ws);
    char err[2048];
    if (bv_prep_write_random_wavlm(o->wavlm_dir, &ws, o->seed, err, sizeof err)) {
        fprintf(stderr, "error: preprocess: %s\n", err);
        return -1;
    }
    cJSON *model = cJSON_GetObjectItemCaseSensitive(cfg, "model");
    if (!cJSON_IsObject(model)) {
        fprintf(stderr, "error: preprocess: %s: model: expected an object\n", o->config);
        return -1;
    }
    cJSON *slm = cJSON_GetObjectItemCaseSensitive(model, "slm");
    if (!cJSON_IsObject(slm)) {
        cJSON_DeleteItemFromObjectCaseSensitive(model, "slm");
        slm = cJSON_AddObjectToObject(model, "slm");
        cJSON_AddNumberToObject(slm, "sr", 16000);
        cJSON_AddNumberToObject(slm, "initial_channel", 64);
    }
    set_item(slm, "model", cJSON_CreateString(o->wavlm_dir));
    set_item(slm, "hidden", cJSON_CreateNumber(ws.hidden_size));
    set_item(slm, "nlayers", cJSON_CreateNumber(ws.num_hidden_layers + 1));
    printf("preprocess: wrote a RANDOMLY INITIALISED WavLM to %s (not a speech model: the WavLM loss is only a "
           "regulariser)\n", o->wavlm_dir);
    return 0;
}

static int write_config(const prep_opts *o, cJSON *cfg) {
    char *text = cJSON_Print(cfg);
    size_t n = strlen(text);
    char *with_nl = bv_xmalloc(n + 2);
    memcpy(with_nl, text, n);
    memcpy(with_nl + n, "\n", 2);
    free(text);
    int rc = write_lines(o->out_config, &with_nl, NULL, 1);
    free(with_nl);
    return rc;
}

static void default_paths(prep_opts *o, char *cleaned, char *train, char *val, size_t cap) {
    const char *slash = strrchr(o->transcript, '/');
    int dir = slash ? (int)(slash - o->transcript) + 1 : 0;
    if (!o->cleaned) o->cleaned = (snprintf(cleaned, cap, "%s.cleaned", o->transcript), cleaned);
    if (!o->train) o->train = (snprintf(train, cap, "%.*strain.list", dir, o->transcript), train);
    if (!o->val) o->val = (snprintf(val, cap, "%.*sval.list", dir, o->transcript), val);
    if (!o->out_config) o->out_config = o->config;
}

static int load_inputs(const prep_opts *o, char **text, cJSON **cfg, bv_lexicon **lex) {
    char *cfg_text = read_file(o->config, NULL);
    if (!cfg_text) {
        fprintf(stderr, "error: preprocess: cannot read config %s: %s\n", o->config, strerror(errno));
        return -1;
    }
    *cfg = cJSON_Parse(cfg_text);
    free(cfg_text);
    if (!cJSON_IsObject(*cfg) || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(*cfg, "data"))) {
        fprintf(stderr, "error: preprocess: %s: %s\n", o->config, *cfg ? "data: expected an object" : "not valid JSON");
        return -1;
    }
    *text = read_file(o->transcript, NULL);
    if (!*text) {
        fprintf(stderr, "error: preprocess: cannot read transcript %s: %s\n", o->transcript, strerror(errno));
        return -1;
    }
    if (needs_lexicon(*text)) {
        char err[2048];
        *lex = bv_infer_lexicon_load(o->cmudict, err, sizeof err);
        if (!*lex) {
            fprintf(stderr, "error: preprocess: %s\n", err);
            return -1;
        }
        if (o->bset && bv_bert_set_en_words(o->bset, *lex, err, sizeof err)) {
            fprintf(stderr, "error: preprocess: --bert-dir: %s\n", err);
            return -1;
        }
    }
    return 0;
}

static int preprocess(prep_opts *o) {
    char cleaned[4200], train[4200], val[4200];
    default_paths(o, cleaned, train, val, sizeof cleaned);
    char *text = NULL;
    cJSON *cfg = NULL;
    bv_lexicon *lex = NULL;
    utt_set s = {0};
    char **lines = NULL;
    int *tr = NULL, *va = NULL, rc = BV_EXIT_INPUT;
    if (load_inputs(o, &text, &cfg, &lex)) goto done;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(cfg, "data");
    int add_blank = (int)config_int(data, "add_blank", 1);
    int bad = clean_all(o, lex, text, config_int(data, "sampling_rate", 0), &s);
    if (bad && !o->skip_errors) {
        fprintf(stderr, "error: preprocess: %d bad line%s in %s (named above); nothing written\n", bad,
                bad > 1 ? "s" : "", o->transcript);
        goto done;
    }
    if (!s.n) {
        fprintf(stderr, "error: preprocess: %s holds no usable line\n", o->transcript);
        goto done;
    }
    lines = bv_xmalloc(sizeof(char *) * (size_t)s.n);
    for (int i = 0; i < s.n; i++) lines[i] = bv_prep_utt_line(&s.u[i]);
    tr = bv_xmalloc(sizeof(int) * (size_t)s.n);
    va = bv_xmalloc(sizeof(int) * (size_t)s.n);
    int n_tr, n_va;
    bv_prep_split(s.u, s.n, o->val_per_lang, o->max_val_total, o->seed, tr, &n_tr, va, &n_va);
    const char **spk = bv_xmalloc(sizeof(char *) * (size_t)s.n);
    int n_spk = bv_prep_speakers(s.u, s.n, spk);
    char err[2048];
    int n_written = 0, n_kept = 0;
    /* BERT files first: a mismatched existing one stops the run before any list or config changes */
    int fail = write_berts(o, &s, add_blank, &n_written, &n_kept) || write_lines(o->cleaned, lines, NULL, s.n) ||
               write_lines(o->train, lines, tr, n_tr) || write_lines(o->val, lines, va, n_va);
    if (!fail && bv_prep_config_update(cfg, o->config, spk, n_spk, o->train, o->val, err, sizeof err)) {
        fprintf(stderr, "error: preprocess: %s\n", err);
        fail = 1;
    }
    if (!fail) fail = (o->wavlm_dir && random_wavlm(o, cfg)) || write_config(o, cfg);
    free(spk);
    if (fail) goto done;
    printf("preprocess: %d utterances (%d skipped), %d speakers: %s %d lines, %s %d lines, %s; config %s\n", s.n, bad,
           n_spk, o->train, n_tr, o->val, n_va, o->cleaned, o->out_config);
    if (o->bert_mode != 2 && o->bset)
        printf("preprocess: %d *.bert.pt written (BERT features from %s), %d existing kept\n", n_written, o->bert_dir,
               n_kept);
    else if (o->bert_mode != 2)
        printf("preprocess: %d *.bert.pt written as ZEROS, %d existing kept. Real BERT features need upstream's "
               "bert_gen.py; with zeros the model learns no prosody from BERT.\n", n_written, n_kept);
    if (!n_va) fprintf(stderr, "warning: preprocess: the validation list is empty; bv2 train evaluates on it\n");
    rc = 0;
done:
    for (int i = 0; lines && i < s.n; i++) free(lines[i]);
    free(lines);
    for (int i = 0; i < s.n; i++) bv_prep_utt_free(&s.u[i]);
    free(s.u);
    free(tr);
    free(va);
    free(text);
    cJSON_Delete(cfg);
    bv_lexicon_free(lex);
    return rc;
}

/* One option at argv[*i]; 0 handled, 1 help printed, else an exit code. */
static int parse_opt(prep_opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    int missing = 0;
    long long n;
    const char **str_opt[] = {&o->transcript, &o->config, &o->out_config, &o->cleaned, &o->train, &o->val,
                              &o->wav_dir, &o->cmudict, &o->wavlm_dir, &o->bert_dir};
    const char *const *str_names[] = {BV_CLI_NAMES("--transcription-path", "-i"), BV_CLI_NAMES("--config-path", "-c", "--config"),
                                      BV_CLI_NAMES("--out-config"), BV_CLI_NAMES("--cleaned-path"), BV_CLI_NAMES("--train-path"),
                                      BV_CLI_NAMES("--val-path"), BV_CLI_NAMES("--wav-dir"), BV_CLI_NAMES("--cmudict"),
                                      BV_CLI_NAMES("--make-random-wavlm"), BV_CLI_NAMES("--bert-dir")};
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout), 1;
    if (!strcmp(a, "--skip-errors")) return o->skip_errors = 1, 0;
    for (size_t k = 0; k < sizeof str_opt / sizeof str_opt[0]; k++)
        if ((v = bv_cli_opt_value(argc, argv, i, str_names[k], &missing))) return *str_opt[k] = v, 0;
    if ((v = bv_cli_opt_value(argc, argv, i, BV_CLI_NAMES("--val-per-lang"), &missing)))
        return bv_cli_parse_int(v, 0, 1000000000, &n) ? bad_usage("--val-per-lang needs an integer >= 0, got '%s'", v)
                                                      : (o->val_per_lang = (int)n, 0);
    if ((v = bv_cli_opt_value(argc, argv, i, BV_CLI_NAMES("--max-val-total"), &missing)))
        return bv_cli_parse_int(v, 0, 1000000000, &n) ? bad_usage("--max-val-total needs an integer >= 0, got '%s'", v)
                                                      : (o->max_val_total = (int)n, 0);
    if ((v = bv_cli_opt_value(argc, argv, i, BV_CLI_NAMES("--seed"), &missing)))
        return bv_cli_parse_int(v, 0, 1000000000, &n) ? bad_usage("--seed needs an integer >= 0, got '%s'", v)
                                                      : (o->seed = (unsigned long long)n, 0);
    if ((v = bv_cli_opt_value(argc, argv, i, BV_CLI_NAMES("--bert"), &missing))) {
        o->bert_mode = !strcmp(v, "missing") ? 0 : !strcmp(v, "overwrite") ? 1 : !strcmp(v, "none") ? 2 : -1;
        return o->bert_mode < 0 ? bad_usage("--bert is missing, overwrite or none, got '%s'", v) : 0;
    }
    if ((v = bv_cli_opt_value(argc, argv, i, BV_CLI_NAMES("--progress"), &missing)))
        return (o->progress = bv_cli_progress_mode(v)) < 0
                   ? bad_usage("--progress is auto, bar, plain or none, got '%s'", v)
                   : 0;
    return missing ? bad_usage("%s needs a value", a) : bad_usage("unknown option '%s'", a);
}

int bv_cli_preprocess(int argc, char **argv) {
    prep_opts o = {.val_per_lang = 4, .max_val_total = 12, .seed = 1234};
    for (int i = 1; i < argc; i++) {
        int rc = parse_opt(&o, argc, argv, &i);
        if (rc) return rc == 1 ? 0 : rc;
    }
    if (!o.transcript) return bad_usage("%s is required", "-i/--transcription-path");
    if (!o.config) return bad_usage("%s is required", "-c/--config-path");
    if (o.bert_dir) o.bset = bv_bert_set_new(o.bert_dir);
    int rc = preprocess(&o);
    bv_bert_set_free(o.bset);
    return rc;
}
