/* bert_feature.c - get_bert_feature for the three languages and bert_gen.py's process_line
 * (bert_feature.h). */
#include "bert_feature.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/error.h"
#include "bert_util.h"
#include "../data/filelist.h"
#include "../text/symbols.h"
#include "../io/pickle.h"
#include "../io/pth.h"
#include "../text/lexicon.h"

enum { LANG_ZH, LANG_EN, LANG_JP, LANG_COUNT };
static const char *const lang_names[LANG_COUNT] = {"ZH", "EN", "JP"};
static const char *const folders[LANG_COUNT] = {"chinese-roberta-wwm-ext-large", "deberta-v3-large",
                                                "deberta-v2-large-japanese-char-wwm"};

/* The Japanese front-end (src/text/japanese.h), when the build has it: weak references, so this file
 * links with or without it. With it, JP text goes through its text2sep_kata as japanese_bert.py does
 * (bv_ja_bert_text: "".join(text2sep_kata(text)[0])); without it, JP features are an error. */
struct bv_ja_frontend;
struct bv_ja_frontend *bv_ja_open(const char *dicdir, char *err, size_t err_cap) __attribute__((weak));
void bv_ja_free(struct bv_ja_frontend *ja) __attribute__((weak));
char *bv_ja_bert_text(struct bv_ja_frontend *ja, const char *norm_text, char *err, size_t err_cap)
    __attribute__((weak));

struct bv_bert_set {
    char *dir;
    bv_btok *tok[LANG_COUNT];
    bv_bert_model *model[LANG_COUNT];
    bv_bert_ja_sep_fn ja_sep;   /* text2sep_kata's words joined (the Japanese front-end), NULL: none */
    void *ja_user;
    struct bv_ja_frontend *ja;  /* opened here when the build has the front-end and none was installed */
    pthread_mutex_t ja_lock;    /* the front-end keeps per-instance caches: one caller at a time */
};

static int ja_builtin_sep(void *user, const char *text, char **joined, char *err, size_t errcap) {
    bv_bert_set *s = user;
    pthread_mutex_lock(&s->ja_lock);
    *joined = bv_ja_bert_text(s->ja, text, err, errcap);
    pthread_mutex_unlock(&s->ja_lock);
    return *joined ? 0 : -1;
}

void bv_bert_set_ja_sep(bv_bert_set *s, bv_bert_ja_sep_fn fn, void *user) {
    s->ja_sep = fn;
    s->ja_user = user;
}


static int lang_index(const char *language) {
    for (int i = 0; i < LANG_COUNT; i++)
        if (language && !strcmp(language, lang_names[i])) return i;
    return -1;
}

const char *bv_bert_model_folder(const char *language) {
    int l = lang_index(language);
    return l < 0 ? NULL : folders[l];
}

bv_bert_set *bv_bert_set_new(const char *bert_dir) {
    bv_bert_set *s = bv_xcalloc(1, sizeof *s);
    s->dir = strdup(bert_dir);
    pthread_mutex_init(&s->ja_lock, NULL);
    return s;
}

void bv_bert_set_free(bv_bert_set *s) {
    if (!s) return;
    for (int i = 0; i < LANG_COUNT; i++) {
        bv_btok_free(s->tok[i]);
        bv_bert_model_free(s->model[i]);
    }
    if (s->ja && bv_ja_free) bv_ja_free(s->ja);
    pthread_mutex_destroy(&s->ja_lock);
    free(s->dir);
    free(s);
}

int bv_bert_set_prepare(bv_bert_set *s, const char *language, char *err, size_t errcap) {
    int l = lang_index(language);
    if (l < 0) return bv_err_set(err, errcap, "language \"%s\" has no BERT model (ZH, EN, JP)",
                                 language ? language : "");
    if (s->model[l]) return 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", s->dir, folders[l]);
    struct stat sb;
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode))
        return bv_err_set(err, errcap, "%s: no such folder (the %s BERT model: HuggingFace folder of %s)", dir,
                          language,
                          folders[l]);
    char sub[1024];
    if (!(s->tok[l] = bv_btok_load(dir, sub, sizeof sub))) return bv_err_set(err, errcap, "%s tokenizer: %s", language,
                                                                             sub);
    if (!(s->model[l] = bv_bert_model_load(dir, sub, sizeof sub))) {
        bv_btok_free(s->tok[l]);
        s->tok[l] = NULL;
        return bv_err_set(err, errcap, "%s model: %s", language, sub);
    }
    if (l == LANG_JP && !s->ja_sep && bv_ja_open && bv_ja_bert_text) { /* the build's Japanese front-end */
        if (!(s->ja = bv_ja_open(NULL, sub, sizeof sub))) return bv_err_set(err, errcap, "JP front-end: %s", sub);
        bv_bert_set_ja_sep(s, ja_builtin_sep, s);
    }
    return 0;
}

const bv_btok *bv_bert_set_tokenizer(const bv_bert_set *s, const char *language) {
    int l = lang_index(language);
    return l < 0 ? NULL : s->tok[l];
}

const bv_bert_model *bv_bert_set_model(const bv_bert_set *s, const char *language) {
    int l = lang_index(language);
    return l < 0 ? NULL : s->model[l];
}

/* hidden_states[-3] of the text: *res [n, hidden] (malloc). */
static int run_text(bv_bert_set *s, int l, const char *text, float **res, int *n, char *err, size_t errcap) {
    int *ids = NULL, T = 0;
    char sub[512];
    if (bv_btok_encode(s->tok[l], text, &ids, &T, sub, sizeof sub)) return bv_err_set(err, errcap, "tokenizer: %s",
                                                                                      sub);
    int H = bv_bert_model_hidden_size(s->model[l]);
    *res = bv_xmalloc((size_t)T * H * sizeof(float));
    int rc = bv_bert_model_hidden_states(s->model[l], ids, T, -3, *res, sub, sizeof sub);
    free(ids);
    if (rc) {
        free(*res);
        *res = NULL;
        return bv_err_set(err, errcap, "%s model: %s", lang_names[l], sub);
    }
    *n = T;
    return 0;
}

static int bv_bert_feature_text(bv_bert_set *s, int l, const char *text, const int64_t *word2ph, int n_word2ph,
                                const char *style_text, float style_weight, float **feat, int *hidden,
                                int64_t *n_phones, char *err, size_t errcap);

int bv_bert_feature(bv_bert_set *s, const char *language, const char *text, const int64_t *word2ph, int n_word2ph,
                    const char *style_text, float style_weight, float **feat, int *hidden, int64_t *n_phones,
                    char *err, size_t errcap) {
    *feat = NULL;
    int l = lang_index(language);
    if (l < 0 || !s->model[l]) return bv_err_set(err, errcap, "the %s BERT model is not loaded",
                                                 language ? language : "?");
    char *ja_text = NULL, *ja_style = NULL;
    if (l == LANG_JP) {
        /* japanese_bert.py runs text2sep_kata (pyopenjtalk) on the text first: without the Japanese
         * front-end the tokens would differ from upstream's, so no JP feature is made then. */
        if (!s->ja_sep)
            return bv_err_set(err, errcap,
                              "JP BERT features need the Japanese front-end (text2sep_kata), which this build "
                              "does not have yet");
        char sub[512];
        if (s->ja_sep(s->ja_user, text, &ja_text, sub, sizeof sub) ||
            (style_text && *style_text && s->ja_sep(s->ja_user, style_text, &ja_style, sub, sizeof sub))) {
            free(ja_text);
            return bv_err_set(err, errcap, "text2sep_kata: %s", sub);
        }
        int rc = bv_bert_feature_text(s, l, ja_text, word2ph, n_word2ph, ja_style ? ja_style : style_text,
                                      style_weight, feat, hidden, n_phones, err, errcap);
        free(ja_text);
        free(ja_style);
        return rc;
    }
    return bv_bert_feature_text(s, l, text, word2ph, n_word2ph, style_text, style_weight, feat, hidden, n_phones,
                                err, errcap);
}

/* get_bert_feature after the language's text preparation. */
static int bv_bert_feature_text(bv_bert_set *s, int l, const char *text, const int64_t *word2ph, int n_word2ph,
                                const char *style_text, float style_weight, float **feat, int *hidden,
                                int64_t *n_phones, char *err, size_t errcap) {
    int64_t P = 0;
    for (int i = 0; i < n_word2ph; i++) {
        if (word2ph[i] < 0 || word2ph[i] > (1 << 20)) return bv_err_set(err, errcap, "word2ph[%d] = %lld", i,
                                                                        (long long)word2ph[i]);
        P += word2ph[i];
    }
    if (l != LANG_EN) { /* assert len(word2ph) == len(text) + 2 */
        int64_t nc = bv_utf8_len(text);
        if (n_word2ph != nc + 2)
            return bv_err_set(err, errcap,
                              "word2ph has %d entries, but the text has %lld characters (+2 expected: upstream's "
                              "assert len(word2ph) == len(text) + 2)", n_word2ph, (long long)nc);
    }
    float *res = NULL, *sres = NULL;
    int T = 0, ST = 0, H = bv_bert_model_hidden_size(s->model[l]);
    if (run_text(s, l, text, &res, &T, err, errcap)) return -1;
    if (l == LANG_EN && T != n_word2ph) {
        free(res);
        return bv_err_set(err, errcap,
                          "word2ph has %d entries, but the DeBERTa tokenizer gives %d tokens with [CLS] and "
                          "[SEP] (upstream's assert len(word2ph) == res.shape[0]; the phones were not made with this "
                          "tokenizer)", n_word2ph, T);
    }
    if (T < n_word2ph) {
        free(res);
        return bv_err_set(err, errcap, "the tokenizer gives %d tokens with [CLS] and [SEP], fewer than the %d word2ph "
                          "entries (upstream fails with an IndexError)", T, n_word2ph);
    }
    float *mean = NULL;
    int style = style_text && *style_text;
    if (style) {
        if (run_text(s, l, style_text, &sres, &ST, err, errcap)) {
            free(res);
            return -1;
        }
        mean = bv_xcalloc((size_t)H, sizeof(float));
        for (int h = 0; h < H; h++) {
            double a = 0;
            for (int t = 0; t < ST; t++) a += sres[(size_t)t * H + h];
            mean[h] = (float)(a / ST);
        }
        free(sres);
    }
    float *f = bv_xmalloc((size_t)(P ? P : 1) * H * sizeof(float));
    int64_t row = 0;
    for (int i = 0; i < n_word2ph; i++)
        for (int64_t r = 0; r < word2ph[i]; r++, row++) {
            float *o = f + (size_t)row * H;
            const float *x = res + (size_t)i * H;
            if (style)
                for (int h = 0; h < H; h++) o[h] = x[h] * (1 - style_weight) + mean[h] * style_weight;
            else
                memcpy(o, x, (size_t)H * sizeof(float));
        }
    free(res);
    free(mean);
    *feat = f;
    *hidden = H;
    *n_phones = P;
    return 0;
}

int bv_bert_save(const char *path, const float *feat, int hidden, int64_t n_phones, char *err, size_t errcap) {
    bv_pk_doc *doc = bv_pk_doc_new();
    int64_t shape[2] = {hidden, n_phones};
    bv_pk_value *t = bv_pk_tensor_ref(doc, BV_ST_F32, 2, shape, (void *)feat);
    t->tensor.transposed = 1; /* upstream saves phone_level_feature.T */
    int rc = bv_pth_save(path, t, err, errcap);
    bv_pk_doc_free(doc);
    return rc;
}

int bv_bert_tokenize_pieces(void *user, const char *text, char ***pieces, char *err, size_t errcap) {
    bv_btok_out o;
    if (bv_btok_tokenize((const bv_btok *)user, text, &o, err, errcap)) return -1;
    *pieces = o.pieces ? o.pieces : bv_xcalloc(1, sizeof(char *));
    free(o.ids);
    return o.n;
}

int bv_bert_set_en_words(bv_bert_set *s, struct bv_lexicon *lex, char *err, size_t errcap) {
    if (bv_bert_set_prepare(s, "EN", err, errcap)) return -1;
    bv_lexicon_set_tokenizer(lex, bv_bert_tokenize_pieces, s->tok[LANG_EN]);
    return 0;
}

int bv_bert_feature_hp(bv_bert_set *s, const char *language, const char *text, const int64_t *word2ph,
                       int n_word2ph, const char *style_text, float style_weight, float **feat, int *hidden,
                       int64_t *n_phones, char *err, size_t errcap) {
    float *f;
    if (bv_bert_feature(s, language, text, word2ph, n_word2ph, style_text, style_weight, &f, hidden, n_phones, err,
                        errcap))
        return -1;
    int H = *hidden;
    int64_t P = *n_phones;
    float *t = bv_xmalloc((size_t)(P ? P : 1) * H * sizeof(float));
    for (int64_t p = 0; p < P; p++)
        for (int h = 0; h < H; h++) t[(size_t)h * P + p] = f[(size_t)p * H + h];
    free(f);
    *feat = t;
    return 0;
}

/* ------------------------------------------------------------------ bert_gen.py */

static char *bert_path_of(const char *wav, const char *base_dir) {
    /* wav_path.replace(".WAV", ".wav").replace(".wav", ".bert.pt") */
    size_t n = strlen(wav);
    char *a = bv_xmalloc(n + 1), *out = bv_xmalloc(2 * n + 16), *o = out;
    strcpy(a, wav);
    for (char *p = strstr(a, ".WAV"); p; p = strstr(p + 4, ".WAV")) memcpy(p, ".wav", 4);
    int hit = 0;
    for (const char *p = a;;) {
        const char *q = strstr(p, ".wav");
        if (!q) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, ".bert.pt", 8);
        o += 8;
        p = q + 4;
        hit = 1;
    }
    free(a);
    if (!hit) {
        free(out);
        return NULL;
    }
    if (base_dir && *base_dir && out[0] != '/') {
        char *j = bv_xmalloc(strlen(base_dir) + strlen(out) + 2);
        sprintf(j, "%s/%s", base_dir, out);
        free(out);
        out = j;
    }
    return out;
}

/* An existing file to keep: a tensor whose last dim is n (upstream's only check), not all zeros. */
static int keep_existing(const char *path, int64_t n) {
    struct stat sb;
    if (stat(path, &sb)) return 0;
    bv_pth_tensor t;
    char err[256];
    if (bv_pth_load_tensor(path, &t, err, sizeof err)) return 0;
    int ok = t.ndim >= 1 && t.shape[t.ndim - 1] == n;
    if (ok && t.dtype == BV_ST_F32) {
        int64_t numel = 1;
        for (int d = 0; d < t.ndim; d++) numel *= t.shape[d];
        int nz = 0;
        for (int64_t i = 0; i < numel && !nz; i++) nz = ((const float *)t.data)[i] != 0.0f;
        ok = nz;
    }
    bv_pth_tensor_free(&t);
    return ok;
}

bv_bert_line_result bv_bert_gen_line(bv_bert_set *s, const char *line, int add_blank, const char *base_dir,
                                     int overwrite, const char *where, char *err, size_t errcap) {
    bv_filelist fl;
    char sub[1024];
    if (bv_filelist_parse(&fl, line, strlen(line), where, sub, sizeof sub)) {
        bv_err_set(err, errcap, "%s", sub);
        return BV_BERT_LINE_FAILED;
    }
    if (fl.n != 1) {
        bv_filelist_free(&fl);
        bv_err_set(err, errcap, "%s: expected one filelist line", where);
        return BV_BERT_LINE_FAILED;
    }
    const bv_filelist_entry *e = &fl.items[0];
    bv_bert_line_result r = BV_BERT_LINE_FAILED;
    char **ph = NULL;
    int64_t *tones = NULL, *w2p = NULL, *ids = NULL;
    float *feat = NULL;
    char *path = NULL;
    int np = bv_split_spaces(e->phones, &ph);
    int nt = bv_parse_int_list(e->tones, "tones", &tones, sub, sizeof sub);
    if (nt < 0) {
        bv_err_set(err, errcap, "%s: %s", where, sub);
        goto out;
    }
    int nw = bv_parse_int_list(e->word2ph, "word2ph", &w2p, sub, sizeof sub);
    if (nw < 0) {
        bv_err_set(err, errcap, "%s: %s", where, sub);
        goto out;
    }
    if (nt != np || nw < 1) {
        bv_err_set(err, errcap, "%s: %d phones but %d tones, %d word2ph entries", where, np, nt, nw);
        goto out;
    }
    ids = bv_xmalloc((size_t)np * 3 * sizeof(int64_t));
    if (bv_cleaned_text_to_sequence((const char *const *)ph, tones, np, e->language, ids, ids + np, ids + 2 * np, sub,
                                    sizeof sub)) {
        bv_err_set(err, errcap, "%s: %s", where, sub);
        goto out;
    }
    int64_t cols = add_blank ? 2 * (int64_t)np + 1 : np;
    if (add_blank) {
        for (int i = 0; i < nw; i++) w2p[i] *= 2;
        w2p[0] += 1; /* upstream's word2ph[0] += 1 for the leading blank */
    }
    if (!(path = bert_path_of(e->wav, base_dir))) {
        bv_err_set(err, errcap, "%s: audio path \"%s\" has no \".wav\" (upstream names <wav>.bert.pt by replacing it)",
                   where,
                   e->wav);
        goto out;
    }
    if (!overwrite && keep_existing(path, cols)) {
        r = BV_BERT_LINE_KEPT;
        goto out;
    }
    int H;
    int64_t P;
    if (bv_bert_feature(s, e->language, e->text, w2p, nw, NULL, 0.7f, &feat, &H, &P, sub, sizeof sub)) {
        bv_err_set(err, errcap, "%s: %s", where, sub);
        goto out;
    }
    if (P != cols) { /* assert bert.shape[-1] == len(phone) */
        bv_err_set(err, errcap, "%s: word2ph sums to %lld phones, but the line has %lld%s (upstream's assert "
                   "bert.shape[-1] == len(phone))", where, (long long)P, (long long)cols, add_blank ? " with blanks" : "");
        goto out;
    }
    if (bv_bert_save(path, feat, H, P, sub, sizeof sub)) {
        bv_err_set(err, errcap, "%s: %s", where, sub);
        goto out;
    }
    r = BV_BERT_LINE_WRITTEN;
out:
    bv_split_free(ph);
    free(tones);
    free(w2p);
    free(ids);
    free(feat);
    free(path);
    bv_filelist_free(&fl);
    return r;
}
