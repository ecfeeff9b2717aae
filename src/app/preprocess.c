/* preprocess.c - dataset preparation: resampling, transcript cleaning, train/val split, config
 * edit, zero BERT features, a random WavLM (see preprocess.h). */
#include "preprocess.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <soxr.h>

#include "../core/error.h"
#include "../core/mem.h"
#include "../core/rng.h"
#include "../data/dataset.h"
#include "../data/filelist.h"
#include "../io/pth.h"
#include "../io/safetensors_write.h"
#include "../io/wav.h"
#include "../model/wavlm.h"
#include "../text/chinese.h"
#include "../text/english.h"
#include "../text/japanese.h"
#include "../text/symbols.h"

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = bv_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

/* ------------------------------------------------------------------ resampling */

int64_t bv_prep_resampled_len(int64_t n, int in_sr, int out_sr) {
    /* librosa: int(np.ceil(n * target_sr / orig_sr)); exact in integers */
    return (n * (int64_t)out_sr + in_sr - 1) / in_sr;
}

int bv_prep_resample(const float *x, int64_t n, int in_sr, int out_sr, float **y, int64_t *ny, char *err,
                     size_t errcap) {
    if (in_sr <= 0 || out_sr <= 0) return bv_err_set(err, errcap, "resample: rates must be positive (%d -> %d)", in_sr,
                                                     out_sr);
    int64_t m = in_sr == out_sr ? n : bv_prep_resampled_len(n, in_sr, out_sr); /* n < 2^40, out_sr < 2^31 */
    /* the result must fit a 16-bit WAV (4 GiB of data) and this machine's memory: said per file */
    if (m > BV_WAV_MAX_FRAMES_16BIT_MONO)
        return bv_err_set(err, errcap, "%lld Hz -> %d Hz makes %lld samples, more than a 16-bit WAV holds (%lld)",
                          (long long)in_sr, out_sr, (long long)m, (long long)BV_WAV_MAX_FRAMES_16BIT_MONO);
    int64_t need = (m + 1) * (int64_t)sizeof(float) * 2, avail = bv_mem_available(); /* output + its encoding */
    if (need > avail) {
        char a[32], b[32];
        return bv_err_set(err, errcap, "%d Hz -> %d Hz needs %s for %lld samples, %s is available", in_sr, out_sr,
                          bv_mem_str(need, a, sizeof a), (long long)m, bv_mem_str(avail, b, sizeof b));
    }
    float *out = calloc((size_t)m + 1, sizeof(float));
    if (!out) return bv_err_set(err, errcap, "out of memory for %lld samples", (long long)m);
    if (in_sr == out_sr || n == 0) {
        if (n) memcpy(out, x, sizeof(float) * (size_t)n);
    } else {
        soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        soxr_runtime_spec_t rt = soxr_runtime_spec(1);   /* files are spread over threads instead */
        size_t idone = 0, odone = 0;
        soxr_error_t e = soxr_oneshot(in_sr, out_sr, 1, x, (size_t)n, &idone, out, (size_t)m, &odone, &io, &q, &rt);
        if (e) {
            free(out);
            return bv_err_set(err, errcap, "soxr: %s", e);
        }
        /* fix_length: anything soxr did not produce stays zero (calloc) */
    }
    *y = out;
    *ny = m;
    return 0;
}

int bv_prep_resample_file(const char *in, const char *out, int sr, int *in_sr, int64_t *out_frames, char *err,
                          size_t errcap) {
    float *x;
    bv_wav_info info;
    char sub[1024];
    if (bv_wav_read(in, &x, &info, sub, sizeof sub)) return bv_err_set(err, errcap, "%s", sub);
    if (info.channels > 1) { /* librosa to_mono: the mean over channels */
        for (int64_t i = 0; i < info.frames; i++) {
            double s = 0;
            for (int c = 0; c < info.channels; c++) s += x[i * info.channels + c];
            x[i] = (float)(s / info.channels);
        }
    }
    float *y;
    int64_t ny;
    int rc = bv_prep_resample(x, info.frames, info.sample_rate, sr, &y, &ny, sub, sizeof sub);
    free(x);
    if (rc) return bv_err_set(err, errcap, "%s: %s", in, sub);
    rc = bv_wav_write(out, y, ny, 1, sr, sub, sizeof sub);
    free(y);
    if (rc) return bv_err_set(err, errcap, "%s", sub);
    if (in_sr) *in_sr = info.sample_rate;
    if (out_frames) *out_frames = ny;
    return 0;
}

int bv_prep_is_audio_name(const char *name) {
    static const char *const ext[] = {"wav", "flac", "ogg", "oga", "opus", "mp3", "aif", "aiff", "aifc",
                                      "au", "snd", "caf", "w64", "rf64", "wv", "voc", "sd2", "nist", "sph"};
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (!strcasecmp(dot + 1, ext[i])) return 1;
    return 0;
}

/* ------------------------------------------------------------------ transcript cleaning */

/* Python's str.strip() for ASCII whitespace, in place; returns the start. */
static char *strip(char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* Split on '|' in place; returns the field count (fields beyond cap are counted, not stored). */
static int split_bar(char *s, char **f, int cap) {
    int n = 0;
    for (char *p = s;;) {
        if (n < cap) f[n] = p;
        n++;
        char *bar = strchr(p, '|');
        if (!bar) return n;
        *bar = '\0';
        p = bar + 1;
    }
}

static int check_cleaned(bv_prep_utt *u, const char *where, char *err, size_t errcap) {
    char **ph = NULL, sub[512];
    int64_t *tn = NULL, *w2p = NULL;
    int n = bv_split_spaces(u->phones, &ph), rc = -1;
    int nt = bv_parse_int_list(u->tones, "tones", &tn, sub, sizeof sub);
    int nw = nt < 0 ? 0 : bv_parse_int_list(u->word2ph, "word2ph", &w2p, sub, sizeof sub);
    if (nt < 0 || nw < 0) {
        bv_err_set(err, errcap, "%s: %s", where, sub);
        goto done;
    }
    if (nt != n) {
        bv_err_set(err, errcap, "%s: %d phones but %d tones", where, n, nt);
        goto done;
    }
    if (bv_word2ph_check(w2p, nw, n, sub, sizeof sub)) {
        bv_err_set(err, errcap, "%s: %s", where, sub);
        goto done;
    }
    int64_t *ids = bv_xmalloc(sizeof(int64_t) * 3 * (size_t)n + 8);
    int bad = bv_cleaned_text_to_sequence((const char *const *)ph, tn, n, u->language, ids, ids + n, ids + 2 * n,
                                          sub, sizeof sub);
    free(ids);
    if (bad) {
        bv_err_set(err, errcap, "%s: %s", where, sub);
        goto done;
    }
    u->n_phones = n;
    rc = 0;
done:
    bv_split_free(ph);
    free(tn);
    free(w2p);
    return rc;
}

/* A front-end's result (norm text, phones) into u->text / phones / tones / word2ph; takes norm. */
static int fill_cleaned(char *norm, bv_en_phones *ph, const char *text, bv_prep_utt *u, const char *where,
                        char *err, size_t errcap) {
    if (ph->n_phones <= 2) {
        bv_en_phones_free(ph);
        free(norm);
        return bv_err_set(err, errcap, "%s: the text \"%s\" gives no phones", where, text);
    }
    size_t need = bv_en_format(ph, NULL, 0) + 1;
    char *buf = bv_xmalloc(need);
    bv_en_format(ph, buf, need);
    char *f[3];
    split_bar(buf, f, 3);
    u->text = norm;
    u->phones = xstrdup(f[0]);
    u->tones = xstrdup(f[1]);
    u->word2ph = xstrdup(f[2]);
    u->n_phones = ph->n_phones;
    free(buf);
    bv_en_phones_free(ph);
    return 0;
}

/* English text through our front-end into u->text / phones / tones / word2ph. */
static int clean_english(const bv_lexicon *lex, const char *text, bv_prep_utt *u, const char *where, char *err,
                         size_t errcap) {
    if (!lex) return bv_err_set(err, errcap, "%s: English text needs the CMUdict lexicon (none loaded)", where);
    bv_en_phones ph;
    char *norm = NULL, sub[512];
    if (bv_en_clean_text(lex, text, &norm, &ph, sub, sizeof sub)) {
        free(norm);
        return bv_err_set(err, errcap, "%s: %s", where, sub);
    }
    return fill_cleaned(norm, &ph, text, u, where, err, errcap);
}

/* Chinese text through the ZH front-end (upstream text/chinese.py; tables from scripts/fetch-zh.sh). */
static int clean_chinese(const char *text, bv_prep_utt *u, const char *where, char *err, size_t errcap) {
    char sub[1024];
    const bv_zh_dict *d = bv_zh_dict_default(sub, sizeof sub);
    if (!d) return bv_err_set(err, errcap, "%s: %s", where, sub);
    bv_en_phones ph;
    char *norm = NULL;
    if (bv_zh_clean_text(d, text, &norm, &ph, sub, sizeof sub)) return bv_err_set(err, errcap, "%s: %s", where, sub);
    return fill_cleaned(norm, &ph, text, u, where, err, errcap);
}

/* Japanese text through the JP front-end (MeCab + OpenJTalk's dictionary; bv_ja_default, opened on
 * the first JP line). */
static int clean_japanese(const char *text, bv_prep_utt *u, const char *where, char *err, size_t errcap) {
    char sub[512];
    bv_ja_frontend *ja = bv_ja_default(sub, sizeof sub);
    if (!ja) return bv_err_set(err, errcap, "%s: %s", where, sub);
    bv_en_phones ph;
    char *norm = NULL;
    if (bv_ja_clean_text(ja, text, &norm, &ph, sub, sizeof sub)) return bv_err_set(err, errcap, "%s: %s", where, sub);
    return fill_cleaned(norm, &ph, text, u, where, err, errcap);
}

static char *join_dir(const char *dir, const char *path) {
    if (!dir || !*dir || path[0] == '/') return xstrdup(path);
    size_t n = strlen(dir) + strlen(path) + 2;
    char *s = bv_xmalloc(n);
    snprintf(s, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", path);
    return s;
}

int bv_prep_clean_line(const bv_lexicon *lex, const char *line, int lineno, const char *source,
                       const char *wav_dir, bv_prep_utt *u, char *err, size_t errcap) {
    memset(u, 0, sizeof *u);
    u->line = lineno;
    char where[1200];
    snprintf(where, sizeof where, "%s:%d", source, lineno);
    char *copy = xstrdup(line), *f[7];
    int nf = split_bar(strip(copy), f, 7);
    int rc = -1;
    if (nf != 4 && nf != 7) {
        bv_err_set(err, errcap, "%s: %d fields; expected wav|speaker|language|text (or the 7 fields of a cleaned line, "
                   "wav|speaker|language|text|phones|tones|word2ph)", where, nf);
        goto done;
    }
    if (!*f[0] || !*f[1]) {
        bv_err_set(err, errcap, "%s: empty %s field", where, *f[0] ? "speaker" : "wav");
        goto done;
    }
    if (bv_language_id(f[2]) < 0) {
        bv_err_set(err, errcap, "%s: unknown language '%s' (Bert-VITS2 2.3 knows ZH, JP and EN)", where, f[2]);
        goto done;
    }
    u->wav = join_dir(wav_dir, f[0]);
    u->speaker = xstrdup(f[1]);
    u->language = xstrdup(f[2]);
    if (nf == 7) {
        u->text = xstrdup(f[3]);
        u->phones = xstrdup(f[4]);
        u->tones = xstrdup(f[5]);
        u->word2ph = xstrdup(f[6]);
        rc = check_cleaned(u, where, err, errcap);
    } else if (!strcmp(f[2], "ZH")) {
        rc = clean_chinese(f[3], u, where, err, errcap);
    } else if (!strcmp(f[2], "JP")) {
        rc = clean_japanese(f[3], u, where, err, errcap);
    } else if (strcmp(f[2], "EN")) {
        bv_err_set(err, errcap, "%s: bv2 cleans EN, ZH and JP text; give %s lines already cleaned "
                   "(wav|speaker|language|text|phones|tones|word2ph, e.g. from upstream's preprocess_text.py)",
                   where, f[2]);
    } else {
        rc = clean_english(lex, f[3], u, where, err, errcap);
    }
done:
    free(copy);
    if (rc) bv_prep_utt_free(u);
    return rc;
}

void bv_prep_utt_free(bv_prep_utt *u) {
    free(u->wav);
    free(u->speaker);
    free(u->language);
    free(u->text);
    free(u->phones);
    free(u->tones);
    free(u->word2ph);
    int line = u->line;
    memset(u, 0, sizeof *u);
    u->line = line;
}

char *bv_prep_utt_line(const bv_prep_utt *u) {
    const char *f[7] = {u->wav, u->speaker, u->language, u->text, u->phones, u->tones, u->word2ph};
    size_t n = 8;
    for (int i = 0; i < 7; i++) n += strlen(f[i]);
    char *s = bv_xmalloc(n);
    snprintf(s, n, "%s|%s|%s|%s|%s|%s|%s\n", f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
    return s;
}

/* ------------------------------------------------------------------ split, speakers, config */

/* random.shuffle's Fisher-Yates order, on our seeded generator */
static void shuffle(int *a, int n, bv_rng *rng) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(bv_rng_u64(rng) % (uint64_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

void bv_prep_split(const bv_prep_utt *utts, int n, int val_per_lang, int max_val_total, uint64_t seed,
                   int *train_idx, int *n_train, int *val_idx, int *n_val) {
    bv_rng rng;
    bv_rng_seed(&rng, seed);
    int *group = bv_xmalloc(sizeof(int) * (size_t)n + 1);
    int nt = 0, nv = 0;
    char *done = bv_xcalloc((size_t)n + 1, 1);
    for (int i = 0; i < n; i++) { /* groups (languages) in order of first appearance */
        if (done[i]) continue;
        int g = 0;
        for (int k = i; k < n; k++)
            if (!done[k] && !strcmp(utts[k].language, utts[i].language)) {
                group[g++] = k;
                done[k] = 1;
            }
        shuffle(group, g, &rng);
        for (int k = 0; k < g; k++) {
            if (k < val_per_lang) val_idx[nv++] = group[k];
            else train_idx[nt++] = group[k];
        }
    }
    shuffle(val_idx, nv, &rng);
    if (max_val_total >= 0 && nv > max_val_total) {
        for (int k = max_val_total; k < nv; k++) train_idx[nt++] = val_idx[k];
        nv = max_val_total;
    }
    free(done);
    free(group);
    *n_train = nt;
    *n_val = nv;
}

int bv_prep_speakers(const bv_prep_utt *utts, int n, const char **names) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < k && !seen; j++) seen = !strcmp(names[j], utts[i].speaker);
        if (!seen) names[k++] = utts[i].speaker;
    }
    return k;
}

/* obj[key] = item, replacing an existing key in place (its position kept) */
static void set_item(cJSON *obj, const char *key, cJSON *item) {
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
    else cJSON_AddItemToObject(obj, key, item);
}

int bv_prep_config_update(cJSON *root, const char *source, const char *const *names, int n_speakers,
                          const char *train_path, const char *val_path, char *err, size_t errcap) {
    cJSON *data = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    if (!cJSON_IsObject(data)) return bv_err_set(err, errcap, "%s: data: expected an object", source);
    cJSON *spk = cJSON_CreateObject();
    for (int i = 0; i < n_speakers; i++) cJSON_AddItemToObject(spk, names[i], cJSON_CreateNumber(i));
    set_item(data, "spk2id", spk);
    set_item(data, "n_speakers", cJSON_CreateNumber(n_speakers));
    set_item(data, "training_files", cJSON_CreateString(train_path));
    set_item(data, "validation_files", cJSON_CreateString(val_path));
    set_item(root, "version", cJSON_CreateString("2.3"));
    return 0;
}

/* ------------------------------------------------------------------ BERT features */

char *bv_prep_bert_path(const char *wav) {
    const char *from = ".wav", *to = ".bert.pt";
    size_t n = 0, lf = strlen(from), lt = strlen(to);
    for (const char *p = strstr(wav, from); p; p = strstr(p + lf, from)) n++;
    if (!n) return NULL;
    char *out = bv_xmalloc(strlen(wav) + n * (lt - lf) + 1), *o = out;
    for (const char *p = wav;;) { /* str.replace: every occurrence */
        const char *q = strstr(p, from);
        if (!q) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, lt);
        o += lt;
        p = q + lf;
    }
    return out;
}

int64_t bv_prep_bert_cols(int n_phones, int add_blank) { return add_blank ? 2 * (int64_t)n_phones + 1 : n_phones; }

int bv_prep_write_zero_bert(const char *path, int64_t cols, char *err, size_t errcap) {
    bv_pk_doc *doc = bv_pk_doc_new();
    int64_t shape[2] = {BV_BERT_DIM, cols};
    bv_pk_value *t = bv_pk_tensor_new(doc, BV_ST_F32, 2, shape, NULL);   /* zeros */
    int rc = t ? bv_pth_save(path, t, err, errcap) : bv_err_set(err, errcap, "%s: out of memory", path);
    bv_pk_doc_free(doc);
    return rc;
}

int bv_prep_bert_ok(const char *path, int64_t cols, char *err, size_t errcap) {
    struct stat sb;
    if (stat(path, &sb)) return -1;
    bv_pth_tensor t;
    if (bv_pth_load_tensor(path, &t, err, errcap)) return 0;
    int ok = t.ndim == 2 && t.dtype == BV_ST_F32 && t.shape[0] == BV_BERT_DIM && t.shape[1] == cols;
    if (!ok)
        snprintf(err, errcap, "%s: holds a %dD tensor [%lld, %lld...], expected float32 [%d, %lld]", path, t.ndim,
                 (long long)(t.ndim > 0 ? t.shape[0] : 0), (long long)(t.ndim > 1 ? t.shape[1] : 0), BV_BERT_DIM,
                 (long long)cols);
    bv_pth_tensor_free(&t);
    return ok;
}

/* ------------------------------------------------------------------ random WavLM */

void bv_prep_wavlm_size_default(bv_prep_wavlm_size *s) {
    *s = (bv_prep_wavlm_size){.conv_dim = 32, .hidden_size = 64, .num_attention_heads = 2,
                              .intermediate_size = 128, .num_hidden_layers = 3};
}

static cJSON *int_array(const int *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

/* transformers' WavLMConfig keys, wavlm-base-plus's values except the sizes */
static cJSON *wavlm_config_json(const bv_prep_wavlm_size *s) {
    static const int kernel[7] = {10, 3, 3, 3, 3, 2, 2}, stride[7] = {5, 2, 2, 2, 2, 2, 2};
    int dim[7];
    for (int i = 0; i < 7; i++) dim[i] = s->conv_dim;
    cJSON *j = cJSON_CreateObject();
    cJSON *arch = cJSON_CreateArray();
    cJSON_AddItemToArray(arch, cJSON_CreateString("WavLMModel"));
    cJSON_AddItemToObject(j, "architectures", arch);
    cJSON_AddStringToObject(j, "model_type", "wavlm");
    cJSON_AddStringToObject(j, "_comment", "RANDOMLY INITIALISED by bv2 preprocess --make-random-wavlm: not a "
                                           "trained speech model (demo/test stand-in for wavlm-base-plus)");
    cJSON_AddBoolToObject(j, "conv_bias", 0);
    cJSON_AddItemToObject(j, "conv_dim", int_array(dim, 7));
    cJSON_AddItemToObject(j, "conv_kernel", int_array(kernel, 7));
    cJSON_AddItemToObject(j, "conv_stride", int_array(stride, 7));
    cJSON_AddBoolToObject(j, "do_stable_layer_norm", 0);
    cJSON_AddStringToObject(j, "feat_extract_activation", "gelu");
    cJSON_AddStringToObject(j, "feat_extract_norm", "group");
    cJSON_AddStringToObject(j, "hidden_act", "gelu");
    cJSON_AddNumberToObject(j, "hidden_size", s->hidden_size);
    cJSON_AddNumberToObject(j, "intermediate_size", s->intermediate_size);
    cJSON_AddNumberToObject(j, "layer_norm_eps", 1e-5);
    cJSON_AddNumberToObject(j, "mask_time_prob", 0.05);
    cJSON_AddNumberToObject(j, "mask_feature_prob", 0.0);
    cJSON_AddNumberToObject(j, "max_bucket_distance", 800);
    cJSON_AddNumberToObject(j, "num_attention_heads", s->num_attention_heads);
    cJSON_AddNumberToObject(j, "num_buckets", 320);
    cJSON_AddNumberToObject(j, "num_conv_pos_embedding_groups", 4);
    cJSON_AddNumberToObject(j, "num_conv_pos_embeddings", 16);
    cJSON_AddNumberToObject(j, "num_feat_extract_layers", 7);
    cJSON_AddNumberToObject(j, "num_hidden_layers", s->num_hidden_layers);
    return j;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* N(0, 1/fan_in) weights, unit norms, zero biases; weight_g = |weight_v| per kernel tap (norm dim 2),
 * so the weight-normed conv starts as its direction tensor. */
static void init_random(bv_wavlm *m, uint64_t seed) {
    bv_rng rng;
    bv_rng_seed(&rng, seed);
    for (int i = 0; i < m->params.n; i++) {
        bv_tensor *p = m->params.items[i];
        const char *nm = p->name;
        if (ends_with(nm, "norm.weight") || ends_with(nm, "gru_rel_pos_const")) {
            for (int64_t k = 0; k < p->numel; k++) p->data[k] = 1.0f;
        } else if (ends_with(nm, "masked_spec_embed")) {
            for (int64_t k = 0; k < p->numel; k++) p->data[k] = (float)bv_rng_uniform(&rng);
        } else if (p->ndim >= 2 && !ends_with(nm, "weight_g")) {
            double std = ends_with(nm, "rel_attn_embed.weight") ? 0.02 : 1.0 / sqrt((double)(p->numel / p->shape[0]));
            for (int64_t k = 0; k < p->numel; k++) p->data[k] = (float)(std * bv_rng_normal(&rng));
        } else {
            memset(p->data, 0, sizeof(float) * (size_t)p->numel);   /* biases (and weight_g, set below) */
        }
    }
    bv_tensor *g = m->pos_conv_weight_g, *v = m->pos_conv_weight_v;   // [1, 1, K], [E, E/groups, K]
    int64_t K = v->shape[2], rows = v->numel / K;
    for (int64_t k = 0; k < K; k++) {
        double s = 0;
        for (int64_t r = 0; r < rows; r++) s += (double)v->data[r * K + k] * v->data[r * K + k];
        g->data[k] = (float)sqrt(s);
    }
}

static int write_text_file(const char *path, const char *text, char *err, size_t errcap) {
    FILE *f = fopen(path, "w");
    if (!f) return bv_err_set(err, errcap, "%s: %s", path, strerror(errno));
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    return bad ? bv_err_set(err, errcap, "%s: write failed", path) : 0;
}

int bv_prep_write_random_wavlm(const char *dir, const bv_prep_wavlm_size *s, uint64_t seed, char *err,
                               size_t errcap) {
    if (mkdir(dir, 0777) && errno != EEXIST) return bv_err_set(err, errcap, "%s: %s", dir, strerror(errno));
    char path[4096];
    cJSON *j = wavlm_config_json(s);
    bv_wavlm_cfg cfg;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (bv_wavlm_cfg_from_json(&cfg, j, path, err, errcap) || bv_wavlm_cfg_check(&cfg, path, err, errcap)) {
        cJSON_Delete(j);
        return -1;
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    int rc = write_text_file(path, text, err, errcap);
    free(text);
    if (rc) return -1;
    bv_wavlm *m = bv_wavlm_new(&cfg);
    init_random(m, seed);
    bv_st_write_entry *e = bv_xcalloc((size_t)m->params.n, sizeof *e);
    for (int i = 0; i < m->params.n; i++) {
        bv_tensor *p = m->params.items[i];
        e[i].name = p->name;
        e[i].dtype = BV_ST_F32;
        e[i].ndim = p->ndim;
        for (int d = 0; d < p->ndim; d++) e[i].shape[d] = p->shape[d];
        e[i].data = p->data;
    }
    static const char *const meta[] = {"format", "pt", "note", "random weights (bv2 preprocess --make-random-wavlm)"};
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    rc = bv_st_write(path, e, m->params.n, meta, 2, err, errcap);
    free(e);
    bv_wavlm_free(m);
    return rc;
}
