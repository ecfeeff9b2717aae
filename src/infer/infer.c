/* infer.c - upstream infer.py in C (see infer.h): an inference-only net_g loaded from a checkpoint,
 * get_text's text -> ids steps, BERT features from a file or zeros, and net_g.infer over a batch. */
#include "infer.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../app/model_config.h"
#include "../io/pth.h"
#include "../io/safetensors_write.h"
#include "../io/tensor_import.h"
#include "../ops/align.h"
#include "../ops/ops.h"
#include "../text/chinese.h"
#include "../text/english.h"
#include "../text/japanese.h"
#include "../text/symbols.h"

#define ENC_Q_PREFIX "enc_q."

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* ---------------- model ---------------- */

/* Inference never reads enc_q: free its module and parameters, so neither memory nor the loader
 * sees them. */
static void drop_enc_q(bv_infer_model *m) {
    bv_params_remove_prefix(&m->ps, ENC_Q_PREFIX);
    bv_posterior_encoder_free(m->net_g->enc_q);
    m->net_g->enc_q = NULL;
}

/* No backward in inference: gradient buffers would double the model's memory. */
static void drop_grads(bv_infer_model *m) { bv_params_drop_grads(&m->ps); }

int bv_infer_model_init(bv_infer_model *m, bv_config *cfg, char *err, size_t errcap) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    m->iteration = -1;
    m->learning_rate = -1;
    char sub[512];
    if (bv_synth_config_check(&m->cfg, sub, sizeof sub)) {
        snprintf(err, errcap, "config: %s", sub);
        bv_config_free(&m->cfg);
        return -1;
    }
    bv_params_init(&m->ps);
    m->net_g = bv_synth_from_config(&m->ps, "", &m->cfg);
    drop_enc_q(m);
    drop_grads(m);
    return 0;
}

void bv_infer_model_free(bv_infer_model *m) {
    if (!m) return;
    bv_synth_free(m->net_g);
    bv_params_free(&m->ps);
    bv_config_free(&m->cfg);
    memset(m, 0, sizeof *m);
}

typedef struct {
    bv_import_src *t;  /* the weight file's tensors, whatever its format */
    int n, cap;
} src_list;

static void src_add(src_list *l, bv_import_src t) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->t = bv_xrealloc(l->t, sizeof *l->t * (size_t)l->cap);
    }
    l->t[l->n++] = t;
}

/* Keys under prefix, with the prefix (and a DataParallel "module." on every key) dropped. */
static void strip_prefixes(src_list *l, const char *prefix) {
    int k = 0, all_module = 1;
    for (int i = 0; i < l->n; i++) {
        if (!has_prefix(l->t[i].name, prefix)) continue;
        l->t[k] = l->t[i];
        l->t[k].name += strlen(prefix);
        all_module &= has_prefix(l->t[k].name, "module.");
        k++;
    }
    l->n = k;
    if (k && all_module)
        for (int i = 0; i < k; i++) l->t[i].name += strlen("module.");
}

static int param_index(const bv_params *ps, const char *name) {
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->items[i]->name, name)) return i;
    return -1;
}

static int fill_one(bv_infer_model *m, const char *path, const bv_import_src *s, char *loaded, char *err,
                    size_t errcap) {
    int i = param_index(&m->ps, s->name);
    if (i < 0)
        return snprintf(err, errcap,
                        "%s: '%s' is not a parameter of the SynthesizerTrn built from the config (does the config "
                        "belong to this checkpoint?)", path, s->name), -1;
    if (loaded[i]) return snprintf(err, errcap, "%s: '%s' appears twice", path, s->name), -1;
    if (bv_import_tensor(m->ps.items[i], s, path, "does the config belong to this checkpoint?", err, errcap))
        return -1;
    loaded[i] = 1;
    return 0;
}

static int fill_params(bv_infer_model *m, const char *path, src_list *l, const char *prefix, char *err,
                       size_t errcap) {
    strip_prefixes(l, prefix);
    char *loaded = bv_xcalloc((size_t)(m->ps.n ? m->ps.n : 1), 1);
    int rc = 0;
    m->n_skipped = 0;
    for (int i = 0; i < l->n && !rc; i++) {
        if (has_prefix(l->t[i].name, ENC_Q_PREFIX)) m->n_skipped++;
        else rc = fill_one(m, path, &l->t[i], loaded, err, errcap);
    }
    int missing = 0, first = -1;
    for (int i = 0; i < m->ps.n && !rc; i++)
        if (!loaded[i]) missing++, first = first < 0 ? i : first;
    if (!rc && missing)
        rc = -1, snprintf(err, errcap,
                          "%s: %d parameter%s of the model %s missing, the first '%s' (does the config belong to this "
                          "checkpoint?)", path, missing, missing > 1 ? "s" : "", missing > 1 ? "are" : "is",
                          m->ps.items[first]->name);
    free(loaded);
    return rc;
}

static int load_pth_weights(bv_infer_model *m, const char *path, const char *prefix, char *err, size_t errcap) {
    bv_pth f;
    if (bv_pth_open(&f, path, err, errcap)) return -1;
    const bv_pk_value *sd = bv_pk_get(f.root, "model");
    int64_t it;
    double lr;
    if (sd) {
        if (!bv_pk_as_int(bv_pk_get(f.root, "iteration"), &it)) m->iteration = it;
        if (!bv_pk_as_double(bv_pk_get(f.root, "learning_rate"), &lr)) m->learning_rate = lr;
    } else {
        sd = f.root; /* a bare state dict (torch.save(net_g.state_dict())) */
    }
    int rc = 0;
    src_list l = {0};
    if (!sd || sd->kind != BV_PK_DICT) {
        rc = -1, snprintf(err, errcap, "%s: neither a checkpoint with a 'model' state dict nor a state dict", path);
    }
    for (int i = 0; !rc && i < sd->dict.n; i++) {
        const char *key = bv_pk_as_str(sd->dict.items[i].key);
        const bv_pk_tensor *t = bv_pk_as_tensor(sd->dict.items[i].val);
        if (!key || !t) {
            rc = -1, snprintf(err, errcap, "%s: state dict entry %d%s%s%s is not a tensor", path, i, key ? " ('" : "",
                              key ? key : "", key ? "')" : "");
            break;
        }
        src_add(&l, (bv_import_src){key, t->dtype, t->ndim, t->shape, t->data});
    }
    if (!rc) rc = fill_params(m, path, &l, prefix, err, errcap);
    free(l.t);
    bv_pth_close(&f);
    return rc;
}

static int load_st_weights(bv_infer_model *m, const char *path, const char *prefix, char *err, size_t errcap) {
    bv_safetensors st;
    if (bv_st_open(&st, path, err, errcap)) return -1;
    src_list l = {0};
    for (int i = 0; i < st.n; i++) {
        const bv_st_entry *e = &st.entries[i];
        src_add(&l, (bv_import_src){e->name, e->dtype, e->ndim, e->shape, e->data});
    }
    int rc = fill_params(m, path, &l, prefix, err, errcap);
    free(l.t);
    bv_st_close(&st);
    return rc;
}

void bv_infer_model_prepare(bv_infer_model *m) {
    bv_ctx ctx;
    bv_ctx_init_on(&ctx, m->ps.be, (size_t)16 << 20, 0);
    bv_generator_fold(&ctx, m->net_g->dec);
    bv_ctx_free(&ctx);
}

static int load_weights_any(bv_infer_model *m, const char *path, const char *prefix, char *err, size_t errcap) {
    unsigned char magic[9] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(err, errcap, "%s: cannot open (no such file or not readable)", path), -1;
    size_t got = fread(magic, 1, sizeof magic, f);
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    if (read_errno) return snprintf(err, errcap, "%s: cannot read: %s", path, strerror(read_errno)), -1;
    if (got >= 4 && !memcmp(magic, "PK\x03\x04", 4)) return load_pth_weights(m, path, prefix ? prefix : "", err, errcap);
    /* safetensors: a little-endian header length, then the JSON header's '{' */
    if (got == 9 && magic[8] == '{') return load_st_weights(m, path, prefix ? prefix : "", err, errcap);
    return snprintf(err, errcap, "%s: neither a PyTorch checkpoint (.pth: a zip file) nor a .safetensors file (%s)",
                    path, got == 0 ? "it is empty" : "its first bytes are neither"), -1;
}

int bv_infer_model_load_weights(bv_infer_model *m, const char *path, const char *prefix, char *err, size_t errcap) {
    if (load_weights_any(m, path, prefix, err, errcap)) return -1;
    bv_infer_model_prepare(m);
    return 0;
}

int bv_infer_model_load(bv_infer_model *m, const char *model_path, const char *config_path, char *err,
                        size_t errcap) {
    memset(m, 0, sizeof *m);
    bv_config cfg;
    if (bv_config_load(&cfg, config_path, err, errcap)) return -1;
    if (bv_infer_model_init(m, &cfg, err, errcap)) return -1;
    if (bv_infer_model_load_weights(m, model_path, "", err, errcap)) {
        bv_infer_model_free(m);
        return -1;
    }
    return 0;
}

/* ---------------- export ---------------- */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The parameters as (dtype, data) for writing: f32 borrowed, or f16 copies (halves[i], malloc'ed). */
static uint16_t **half_copies(const bv_infer_model *m) {
    uint16_t **h = bv_xcalloc((size_t)(m->ps.n ? m->ps.n : 1), sizeof *h);
    for (int i = 0; i < m->ps.n; i++) {
        const bv_tensor *t = m->ps.items[i];
        h[i] = bv_xmalloc(sizeof(uint16_t) * (size_t)(t->numel ? t->numel : 1));
        for (int64_t j = 0; j < t->numel; j++) h[i][j] = bv_f32_to_f16(t->data[j]);
    }
    return h;
}

static int save_safetensors(const bv_infer_model *m, const char *path, uint16_t **halves, char *err, size_t errcap) {
    bv_st_write_entry *e = bv_xcalloc((size_t)(m->ps.n ? m->ps.n : 1), sizeof *e);
    for (int i = 0; i < m->ps.n; i++) {
        const bv_tensor *t = m->ps.items[i];
        e[i].name = t->name;
        e[i].dtype = halves ? BV_ST_F16 : BV_ST_F32;
        e[i].ndim = t->ndim;
        memcpy(e[i].shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
        e[i].data = halves ? (const void *)halves[i] : (const void *)t->data;
    }
    char it[32], lr[64];
    snprintf(it, sizeof it, "%lld", (long long)(m->iteration >= 0 ? m->iteration : 0));
    const double lr_v = m->learning_rate >= 0 ? m->learning_rate : m->cfg.train.learning_rate;
    for (int prec = 1; prec <= 17; prec++) { /* the shortest text that reads back exactly, as Python prints */
        snprintf(lr, sizeof lr, "%.*g", prec, lr_v);
        if (strtod(lr, NULL) == lr_v) break;
    }
    const char *meta[] = {"format", "pt", "content", "Bert-VITS2 2.3 net_g for inference (no enc_q)", "iteration", it,
                          "learning_rate", lr};
    int rc = bv_st_write(path, e, m->ps.n, meta, 4, err, errcap);
    free(e);
    return rc;
}

static int save_pth(const bv_infer_model *m, const char *path, uint16_t **halves, char *err, size_t errcap) {
    bv_pk_doc *doc = bv_pk_doc_new();
    bv_pk_value *ck = bv_pk_dict(doc, 0), *model = bv_pk_dict(doc, 1);
    for (int i = 0; i < m->ps.n; i++) {
        bv_tensor *t = m->ps.items[i];
        bv_pk_value *v = halves ? bv_pk_tensor_ref(doc, BV_ST_F16, t->ndim, t->shape, halves[i])
                                : bv_pk_tensor_ref(doc, BV_ST_F32, t->ndim, t->shape, t->data);
        bv_pk_dict_set_str(doc, model, t->name, v);
    }
    bv_pk_dict_set_str(doc, ck, "model", model);
    bv_pk_dict_set_str(doc, ck, "iteration", bv_pk_int(doc, m->iteration >= 0 ? m->iteration : 0));
    bv_pk_dict_set_str(doc, ck, "optimizer", bv_pk_none(doc));
    bv_pk_dict_set_str(doc, ck, "learning_rate",
                       bv_pk_float(doc, m->learning_rate >= 0 ? m->learning_rate : m->cfg.train.learning_rate));
    int rc = bv_pth_save(path, ck, err, errcap);
    bv_pk_doc_free(doc);
    return rc;
}

int bv_infer_model_save(const bv_infer_model *m, const char *path, int fp16, char *err, size_t errcap) {
    uint16_t **halves = fp16 ? half_copies(m) : NULL;
    int rc = ends_with(path, ".safetensors") ? save_safetensors(m, path, halves, err, errcap)
                                             : save_pth(m, path, halves, err, errcap);
    for (int i = 0; halves && i < m->ps.n; i++) free(halves[i]);
    free(halves);
    return rc;
}

int64_t bv_infer_speaker_id(const bv_infer_model *m, const char *name, char *err, size_t errcap) {
    const bv_config_data *d = &m->cfg.data;
    int64_t id = bv_config_speaker_id(&m->cfg, name);
    if (id >= 0 && id < d->n_speakers) return id;
    size_t k = 0;
    if (id >= 0)
        k = (size_t)snprintf(err, errcap, "speaker '%s' has id %lld in data.spk2id, but the model has %lld speakers",
                             name, (long long)id, (long long)d->n_speakers);
    else
        k = (size_t)snprintf(err, errcap, "unknown speaker '%s'; the config's data.spk2id has:", name);
    for (int i = 0; id < 0 && i < d->n_spk2id && k < errcap; i++) {
        if (i == 12) {
            snprintf(err + k, errcap - k, " ... (%d speakers)", d->n_spk2id);
            break;
        }
        k += (size_t)snprintf(err + k, errcap - k, "%s '%s'", i ? "," : "", d->spk2id[i].name);
    }
    return -1;
}

/* ---------------- utterances ---------------- */

void bv_infer_utt_free(bv_infer_utt *u) {
    if (!u) return;
    free(u->phones);
    free(u->tones);
    free(u->langs);
    free(u->word2ph);
    free(u->bert);
    free(u->norm_text);
    memset(u, 0, sizeof *u);
}

/* get_text after clean_text: cleaned_text_to_sequence, then add_blank's intersperse and word2ph
 * adjustment. word2ph may be NULL (not given). */
static int utt_from_cleaned(bv_infer_utt *u, const char *const *phones, const int64_t *tones, int n,
                            const int64_t *word2ph, int n_w, const char *language, int add_blank, char *err,
                            size_t errcap) {
    memset(u, 0, sizeof *u);
    if (n <= 0) return snprintf(err, errcap, "no phones"), -1;
    if (word2ph && bv_word2ph_check(word2ph, n_w, n, err, errcap)) return -1;
    int64_t *ph = bv_xmalloc(sizeof(int64_t) * (size_t)n * 3);
    if (bv_cleaned_text_to_sequence(phones, tones, n, language, ph, ph + n, ph + 2 * n, err, errcap)) {
        free(ph);
        return -1;
    }
    u->language = bv_language_id(language);
    u->n = add_blank ? 2 * n + 1 : n;
    u->phones = bv_xmalloc(sizeof(int64_t) * (size_t)u->n);
    u->tones = bv_xmalloc(sizeof(int64_t) * (size_t)u->n);
    u->langs = bv_xmalloc(sizeof(int64_t) * (size_t)u->n);
    if (add_blank) {
        /* commons.intersperse(x, 0) on all three: blanks get symbol 0, tone 0 and language 0 (ZH) */
        bv_intersperse(ph, n, 0, u->phones);
        bv_intersperse(ph + n, n, 0, u->tones);
        bv_intersperse(ph + 2 * n, n, 0, u->langs);
    } else {
        memcpy(u->phones, ph, sizeof(int64_t) * (size_t)n);
        memcpy(u->tones, ph + n, sizeof(int64_t) * (size_t)n);
        memcpy(u->langs, ph + 2 * n, sizeof(int64_t) * (size_t)n);
    }
    free(ph);
    if (word2ph && n_w > 0) {
        u->n_word2ph = n_w;
        u->word2ph = bv_xmalloc(sizeof(int64_t) * (size_t)n_w);
        for (int i = 0; i < n_w; i++) u->word2ph[i] = add_blank ? 2 * word2ph[i] : word2ph[i];
        if (add_blank) u->word2ph[0] += 1; /* upstream: the leading blank counts for the first word */
    }
    return 0;
}

/* Length of a sentence end starting at s (ASCII . ! ? ; or a CJK full-width end / ellipsis), else 0. */
static int sentence_end(const char *s) {
    static const char *const wide[] = {"\xe3\x80\x82", "\xef\xbc\x81", "\xef\xbc\x9f", "\xef\xbc\x9b",
                                       "\xe2\x80\xa6"}; /* 。！？；… */
    if (*s == '.' || *s == '!' || *s == '?' || *s == ';') return 1;
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        if (!strncmp(s, wide[i], 3)) return 3;
    return 0;
}

static void add_piece(const char *b, const char *e, char ***out, int *n, int *cap) {
    while (b < e && isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) e--;
    if (b == e) return;
    if (*n == *cap) *out = bv_xrealloc(*out, sizeof **out * (size_t)(*cap = *cap ? 2 * *cap : 8));
    char *p = bv_xmalloc((size_t)(e - b) + 1);
    memcpy(p, b, (size_t)(e - b));
    p[e - b] = 0;
    (*out)[(*n)++] = p;
}

int bv_infer_split_sentences(const char *text, char ***pieces) {
    int n = 0, cap = 0;
    *pieces = NULL;
    const char *start = text, *p = text;
    while (*p) {
        int k = sentence_end(p);
        if (*p == '\n') {
            add_piece(start, p, pieces, &n, &cap);
            start = ++p;
        } else if (k) {
            const char *q = p + k;
            while (sentence_end(q)) q += sentence_end(q); /* "?!", "..." stay with their sentence */
            if (*q == 0 || isspace((unsigned char)*q) || k == 3) {
                add_piece(start, q, pieces, &n, &cap);
                start = q;
            }
            p = q;
        } else {
            p++;
        }
    }
    add_piece(start, p, pieces, &n, &cap);
    return n;
}

void bv_infer_pieces_free(char **pieces, int n) {
    for (int i = 0; i < n; i++) free(pieces[i]);
    free(pieces);
}

static int blank_text(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

int bv_infer_utt_from_text(bv_infer_utt *u, const bv_lexicon *lex, const char *text, const char *language,
                           int add_blank, char *err, size_t errcap) {
    memset(u, 0, sizeof *u);
    if (bv_language_id(language) < 0)
        return snprintf(err, errcap, "unknown language '%s' (expected ZH, JP or EN)", language), -1;
    int zh = !strcmp(language, "ZH"), jp = !strcmp(language, "JP");
    if (!text || blank_text(text)) return snprintf(err, errcap, "empty text: nothing to say"), -1;
    bv_en_phones ph;
    char *norm = NULL;
    if (zh) { /* upstream text/chinese.py; tables from scripts/fetch-zh.sh, loaded once */
        const bv_zh_dict *d = bv_zh_dict_default(err, errcap);
        if (!d || bv_zh_clean_text(d, text, &norm, &ph, err, errcap)) return -1;
    } else if (jp) {
        bv_ja_frontend *ja = bv_ja_default(err, errcap);
        if (!ja || bv_ja_clean_text(ja, text, &norm, &ph, err, errcap)) return -1;
    } else if (bv_en_clean_text(lex, text, &norm, &ph, err, errcap)) {
        return -1;
    }
    int rc = 0;
    if (ph.n_phones <= 2)
        rc = -1, snprintf(err, errcap, "text \"%s\" has nothing the %s front-end can pronounce", text,
                          zh ? "Chinese" : jp ? "Japanese" : "English");
    else
        rc = utt_from_cleaned(u, ph.phones, ph.tones, ph.n_phones, ph.word2ph, ph.n_word2ph, language, add_blank,
                              err, errcap);
    bv_en_phones_free(&ph);
    if (rc) {
        free(norm);
        return -1;
    }
    u->norm_text = norm;
    return 0;
}

/* Splits s (modified in place) at sep; out[0..min(count, cap)) receives the fields. Returns the
 * field count. */
static int split(char *s, char sep, char **out, int cap) {
    int n = 0;
    for (;;) {
        char *p = strchr(s, sep);
        if (n < cap) out[n] = s;
        n++;
        if (!p) return n;
        *p = 0;
        s = p + 1;
    }
}

/* Whitespace-separated tokens of s (modified in place) into a malloc'ed array; returns the count. */
static int tokens(char *s, char ***out) {
    int n = 0, cap = 16;
    char **t = bv_xmalloc(sizeof *t * (size_t)cap);
    for (char *p = strtok(s, " \t\r\n"); p; p = strtok(NULL, " \t\r\n")) {
        if (n == cap) t = bv_xrealloc(t, sizeof *t * (size_t)(cap *= 2));
        t[n++] = p;
    }
    *out = t;
    return n;
}

static int parse_ints(char **tok, int n, int64_t *out, const char *what, char *err, size_t errcap) {
    for (int i = 0; i < n; i++) {
        char *end;
        long long v = strtoll(tok[i], &end, 10);
        if (*end || end == tok[i]) return snprintf(err, errcap, "%s %d: '%s' is not an integer", what, i + 1, tok[i]), -1;
        out[i] = v;
    }
    return 0;
}

int bv_infer_utt_from_phones(bv_infer_utt *u, const char *line, const char *language, int add_blank, char *err,
                             size_t errcap) {
    memset(u, 0, sizeof *u);
    char *buf = strdup(line ? line : ""), *field[3];
    char **ph = NULL, **tn = NULL, **w2 = NULL;
    int64_t *tones = NULL, *w2p = NULL;
    int rc = -1, nf = split(buf, '|', field, 3);
    if (nf < 2 || nf > 3) {
        snprintf(err, errcap, "expected \"phones|tones\" or \"phones|tones|word2ph\", got %d field%s", nf,
                 nf == 1 ? "" : "s");
        goto done;
    }
    int n = tokens(field[0], &ph), nt = tokens(field[1], &tn), nw = nf == 3 ? tokens(field[2], &w2) : 0;
    if (n == 0) {
        snprintf(err, errcap, "empty phones: nothing to say");
        goto done;
    }
    if (nt != n) {
        snprintf(err, errcap, "%d phones but %d tones", n, nt);
        goto done;
    }
    tones = bv_xmalloc(sizeof(int64_t) * (size_t)n);
    w2p = bv_xmalloc(sizeof(int64_t) * (size_t)(nw ? nw : 1));
    if (parse_ints(tn, n, tones, "tone", err, errcap) || parse_ints(w2, nw, w2p, "word2ph entry", err, errcap)) goto done;
    for (int i = 0; i < nw; i++)
        if (w2p[i] < 0) {
            snprintf(err, errcap, "word2ph entry %d is negative", i + 1);
            goto done;
        }
    rc = utt_from_cleaned(u, (const char *const *)ph, tones, n, nf == 3 ? w2p : NULL, nw, language, add_blank, err,
                          errcap);
done:
    free(ph);
    free(tn);
    free(w2);
    free(tones);
    free(w2p);
    free(buf);
    return rc;
}

int bv_infer_utt_load_bert(bv_infer_utt *u, const char *path, char *err, size_t errcap) {
    bv_pth_tensor t;
    if (bv_pth_load_tensor(path, &t, err, errcap)) return -1;
    int rc = 0;
    if (t.ndim != 2 || t.shape[0] != BV_INFER_BERT_DIM || t.shape[1] != u->n) {
        char got[128];
        bv_dims_str(got, sizeof got, t.ndim, t.shape);
        rc = -1, snprintf(err, errcap,
                          "%s: BERT features %s, expected [%d, %d] (one column per symbol after add_blank, as "
                          "bert_gen.py writes them)", path, got, BV_INFER_BERT_DIM, u->n);
    } else {
        float *b = bv_xmalloc(sizeof(float) * (size_t)BV_INFER_BERT_DIM * (size_t)u->n);
        if (bv_import_f32(b, t.data, t.dtype, (int64_t)BV_INFER_BERT_DIM * u->n)) {
            free(b);
            rc = -1, snprintf(err, errcap, "%s: BERT features of dtype %s, expected a float type", path,
                              bv_st_dtype_name(t.dtype));
        } else {
            free(u->bert);
            u->bert = b;
        }
    }
    bv_pth_tensor_free(&t);
    return rc;
}

/* ---------------- synthesis ---------------- */

bv_infer_opts bv_infer_default_opts(void) {
    return (bv_infer_opts){.noise_scale = 0.6f, .length_scale = 1.0f, .noise_scale_w = 0.9f, .sdp_ratio = 0.5f,
                           .max_len = 0, .dec_chunk = BV_INFER_DEC_CHUNK};
}

typedef struct {
    bv_tensor *x, *x_lengths, *sid, *tone, *language, *bert[BV_N_LANGUAGES];
} batch_inputs;

/* get_text's three feature sets for utterance b of the batch: its own language's from u->bert (or
 * zeros), torch.randn(1024, n) for the two others, drawn in upstream's order (ZH, JP, EN). */
static void fill_bert(bv_ctx *ctx, batch_inputs *in, int64_t b, const bv_infer_utt *u) {
    const int64_t T = in->x->shape[1], D = BV_INFER_BERT_DIM;
    for (int lang = 0; lang < BV_N_LANGUAGES; lang++) {
        float *dst = in->bert[lang]->data + b * D * T; // [1024, T] slice of [B, 1024, T]
        const float *src = NULL;
        if (lang != u->language) src = bv_randn(ctx, BV_SHAPE(D, u->n))->data; /* upstream: torch.randn(1024, len) */
        else if (u->bert) src = u->bert;
        for (int64_t c = 0; src && c < D; c++) memcpy(dst + c * T, src + c * u->n, sizeof(float) * (size_t)u->n);
    }
}

/* Pads the batch as a collate would: ids, tones and languages 0 after each utterance's end. */
static batch_inputs make_inputs(bv_ctx *ctx, const bv_infer_utt *utts, int n) {
    int64_t T = 0;
    for (int i = 0; i < n; i++) T = utts[i].n > T ? utts[i].n : T;
    batch_inputs in;
    in.x = bv_zeros(ctx, BV_I64, BV_SHAPE(n, T));        // [B, T_x]
    in.tone = bv_zeros(ctx, BV_I64, BV_SHAPE(n, T));     // [B, T_x]
    in.language = bv_zeros(ctx, BV_I64, BV_SHAPE(n, T)); // [B, T_x]
    in.x_lengths = bv_new(ctx, BV_I64, BV_SHAPE(n));      // [B]
    in.sid = bv_new(ctx, BV_I64, BV_SHAPE(n));            // [B]
    for (int l = 0; l < BV_N_LANGUAGES; l++) in.bert[l] = bv_zeros(ctx, BV_F32, BV_SHAPE(n, BV_INFER_BERT_DIM, T));
    for (int i = 0; i < n; i++) {
        const bv_infer_utt *u = &utts[i];
        memcpy(in.x->idata + i * T, u->phones, sizeof(int64_t) * (size_t)u->n);
        memcpy(in.tone->idata + i * T, u->tones, sizeof(int64_t) * (size_t)u->n);
        memcpy(in.language->idata + i * T, u->langs, sizeof(int64_t) * (size_t)u->n);
        in.x_lengths->idata[i] = u->n;
        in.sid->idata[i] = u->speaker;
        fill_bert(ctx, &in, i, u);
    }
    return in;
}

static int check_utts(const bv_infer_model *m, const bv_infer_utt *utts, int n, char *err, size_t errcap) {
    if (n <= 0) return snprintf(err, errcap, "nothing to synthesize"), -1;
    for (int i = 0; i < n; i++) {
        if (utts[i].n <= 0) return snprintf(err, errcap, "utterance %d is empty", i + 1), -1;
        if (utts[i].language < 0 || utts[i].language >= BV_N_LANGUAGES)
            return snprintf(err, errcap, "utterance %d: bad language id %d", i + 1, utts[i].language), -1;
        if (utts[i].speaker < 0 || utts[i].speaker >= m->cfg.data.n_speakers)
            return snprintf(err, errcap, "utterance %d: speaker id %lld is not in [0, %lld)", i + 1,
                            (long long)utts[i].speaker, (long long)m->cfg.data.n_speakers), -1;
    }
    return 0;
}

/* Utterance b's audio: o[b, 0, :y_length_b * hop]. The decoder saw min(T_y, max_len) frames; hop
 * (its total upsampling) follows from the shapes. */
static void cut_audio(const bv_synth_infer_out *r, int64_t b, int64_t max_len, float **audio, int64_t *n_samples) {
    const int64_t Ty = r->y_mask->shape[2], L = r->o->shape[2];
    const int64_t dec_frames = max_len > 0 && max_len < Ty ? max_len : Ty;
    const int64_t hop = L / dec_frames;
    int64_t frames = 0;
    for (int64_t t = 0; t < Ty; t++) frames += r->y_mask->data[b * Ty + t] > 0.5f;
    if (frames > dec_frames) frames = dec_frames;
    const int64_t n = frames * hop;
    *audio = bv_xmalloc(sizeof(float) * (size_t)(n ? n : 1));
    memcpy(*audio, r->o->data + b * L, sizeof(float) * (size_t)n);
    *n_samples = n;
}

int bv_infer_synthesize(bv_ctx *ctx, const bv_infer_model *m, const bv_infer_utt *utts, int n,
                        const bv_infer_opts *o, float **audio, int64_t *n_samples, bv_synth_infer_out *detail,
                        char *err, size_t errcap) {
    if (check_utts(m, utts, n, err, errcap)) return -1;
    for (int i = 0; i < n; i++) audio[i] = NULL, n_samples[i] = 0;
    jmp_buf jb, *prev = ctx->err_jmp;
    const int no_grad_depth = ctx->no_grad_depth;
    ctx->err_jmp = &jb;
    if (setjmp(jb)) { /* an op rejected the inputs: report instead of exiting */
        ctx->err_jmp = prev;
        ctx->no_grad_depth = no_grad_depth;
        snprintf(err, errcap, "%s", ctx->err_msg);
        for (int i = 0; i < n; i++) free(audio[i]), audio[i] = NULL;
        return -1;
    }
    batch_inputs in = make_inputs(ctx, utts, n);
    bv_synth_infer_out r;
    bv_synth_infer_full(ctx, m->net_g, in.x, in.x_lengths, in.sid, in.tone, in.language, in.bert[BV_LANG_ZH],
                        in.bert[BV_LANG_JP], in.bert[BV_LANG_EN], o, &r);
    for (int i = 0; i < n; i++) cut_audio(&r, i, o->max_len, &audio[i], &n_samples[i]);
    if (detail) *detail = r;
    ctx->err_jmp = prev;
    return 0;
}

/* ---------------- helpers for the commands ---------------- */

static int readable(const char *p) { return access(p, R_OK) == 0; }

bv_lexicon *bv_infer_lexicon_load(const char *path, char *err, size_t errcap) {
    if (path && *path) return bv_lexicon_load(path, err, errcap);
    const char *env = getenv(BV_LEXICON_ENV);
    if ((env && *env) || readable(BV_LEXICON_DEFAULT_PATH)) return bv_lexicon_load(NULL, err, errcap);
    char exe[4096], cand[4200];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(cand, sizeof cand, "%s/../%s", exe, BV_LEXICON_DEFAULT_PATH);
            if (readable(cand)) return bv_lexicon_load(cand, err, errcap);
        }
    }
    return bv_lexicon_load(NULL, err, errcap); /* its message says how to install the lexicon */
}

int bv_infer_noise_load(const char *path, bv_rng_draw **draws, char *err, size_t errcap) {
    *draws = NULL;
    bv_safetensors st;
    if (bv_st_open(&st, path, err, errcap)) return -1;
    int n = 0;
    for (int i = 0; i < st.n; i++) n += has_prefix(st.entries[i].name, "noise.");
    bv_rng_draw *d = bv_xcalloc((size_t)(n ? n : 1), sizeof *d);
    for (int i = 0; i < st.n; i++) {
        const bv_st_entry *e = &st.entries[i];
        if (!has_prefix(e->name, "noise.")) continue;
        char *end;
        long idx = strtol(e->name + 6, &end, 10);
        if (end == e->name + 6 || *end != '.' || idx < 0 || idx >= n || d[idx].data || e->dtype != BV_ST_F32 ||
            e->ndim > 6) {
            snprintf(err, errcap, "%s: '%s': expected f32 draws named noise.<index>.<fn>, indices 0..%d", path, e->name,
                     n - 1);
            bv_infer_noise_free(d, n);
            bv_st_close(&st);
            return -1;
        }
        float *copy = bv_xmalloc(sizeof(float) * (size_t)(e->numel ? e->numel : 1));
        memcpy(copy, e->data, e->nbytes); /* the entry may sit at any offset: copy, do not alias */
        d[idx].data = copy;
        d[idx].name = strdup(e->name);
        d[idx].ndim = e->ndim;
        memcpy(d[idx].shape, e->shape, sizeof(int64_t) * (size_t)e->ndim);
    }
    bv_st_close(&st);
    *draws = d;
    return n;
}

void bv_infer_noise_free(bv_rng_draw *draws, int n) {
    for (int i = 0; draws && i < n; i++) {
        free((void *)draws[i].data);
        free((void *)draws[i].name);
    }
    free(draws);
}
