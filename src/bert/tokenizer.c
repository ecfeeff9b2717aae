/* tokenizer.c - WordPiece, SentencePiece and Japanese character tokenizers (tokenizer.h). */
#include "tokenizer.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "../core/error.h"
#include "bert_util.h"
#include "spm_shim.h"

#define BTOK_MAX_VOCAB (1 << 22)
#define BTOK_MAX_FILE (256u << 20)

struct bv_btok {
    bv_btok_kind kind;
    /* vocabulary (WORDPIECE, JP_CHAR): strings, and an open-addressing index over them */
    char **vocab;
    int n_vocab;
    int *slot;        /* vocab index or -1, hcap slots */
    size_t hcap;
    int lowercase, strip_accents; /* strip_accents: -1 null (follows lowercase), 0, 1 */
    int chinese_chars;            /* spaces around CJK ideographs */
    int max_chars;                /* WordPiece max_input_chars_per_word */
    char prefix[16];              /* WordPiece continuing_subword_prefix */
    char unk[32];
    bv_spm *spm;
    int cls_id, sep_id, unk_id;
};


static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* ------------------------------------------------------------------ vocabulary */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int vocab_find(const bv_btok *t, const char *s, size_t n) {
    if (!t->hcap) return -1;
    for (size_t i = hash_bytes(s, n) & (t->hcap - 1);; i = (i + 1) & (t->hcap - 1)) {
        int v = t->slot[i];
        if (v < 0) return -1;
        if (strlen(t->vocab[v]) == n && !memcmp(t->vocab[v], s, n)) return v;
    }
}

/* Indexes vocab[0..n): a repeated token maps to its LAST index, as a Python dict built in order. */
static void vocab_index(bv_btok *t) {
    t->hcap = 16;
    while (t->hcap < 2 * (size_t)t->n_vocab) t->hcap <<= 1;
    t->slot = bv_xmalloc(t->hcap * sizeof(int));
    for (size_t i = 0; i < t->hcap; i++) t->slot[i] = -1;
    for (int v = 0; v < t->n_vocab; v++) {
        size_t n = strlen(t->vocab[v]);
        for (size_t i = hash_bytes(t->vocab[v], n) & (t->hcap - 1);; i = (i + 1) & (t->hcap - 1)) {
            int w = t->slot[i];
            if (w < 0 || (strlen(t->vocab[w]) == n && !memcmp(t->vocab[w], t->vocab[v], n))) {
                t->slot[i] = v;
                break;
            }
        }
    }
}

/* vocab.txt: one token per line, the line number is the id (transformers' load_vocab). */
static int load_vocab_txt(bv_btok *t, const char *path, char *err, size_t errcap) {
    size_t len;
    char *buf = bv_bert_read_file(path, BTOK_MAX_FILE, &len, err, errcap);
    if (!buf) return -1;
    int cap = 1024;
    t->vocab = bv_xmalloc((size_t)cap * sizeof(char *));
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && buf[j] != '\n') j++;
        if (t->n_vocab >= BTOK_MAX_VOCAB) {
            free(buf);
            return bv_err_set(err, errcap, "%s: more than %d tokens", path, BTOK_MAX_VOCAB);
        }
        if (t->n_vocab == cap) t->vocab = bv_xrealloc(t->vocab, (size_t)(cap *= 2) * sizeof(char *));
        char *s = bv_xmalloc(j - i + 1);
        memcpy(s, buf + i, j - i);
        s[j - i] = 0;
        t->vocab[t->n_vocab++] = s;
        i = j + 1;
    }
    free(buf);
    if (!t->n_vocab) return bv_err_set(err, errcap, "%s: empty vocabulary", path);
    vocab_index(t);
    return 0;
}

/* tokenizer.json's model.vocab {token: id}. */
static int load_vocab_json(bv_btok *t, const cJSON *vocab, const char *path, char *err, size_t errcap) {
    int n = cJSON_GetArraySize(vocab);
    if (n <= 0 || n > BTOK_MAX_VOCAB) return bv_err_set(err, errcap, "%s: model.vocab has %d entries", path, n);
    t->vocab = bv_xcalloc((size_t)n, sizeof(char *));
    t->n_vocab = n;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= n || t->vocab[(int)e->valuedouble])
            return bv_err_set(err, errcap, "%s: model.vocab[\"%s\"]: ids must be 0..%d, each once", path, e->string,
                              n - 1);
        t->vocab[(int)e->valuedouble] = strdup(e->string);
    }
    vocab_index(t);
    return 0;
}

static int special_id(bv_btok *t, const char *tok, int *id, const char *dir, char *err, size_t errcap) {
    *id = t->spm ? bv_spm_piece_to_id(t->spm, tok) : vocab_find(t, tok, strlen(tok));
    if (*id < 0 || (t->spm && strcmp(tok, "[UNK]") && *id == t->unk_id && t->unk_id >= 0))
        return bv_err_set(err, errcap, "%s: the vocabulary has no %s token", dir, tok);
    return 0;
}

/* tokenizer.json (BertTokenizerFast): normalizer, pre_tokenizer and model settings. */
static int load_tokenizer_json(bv_btok *t, const char *path, char *err, size_t errcap) {
    cJSON *j = bv_bert_read_json(path, err, errcap);
    if (!j) return -1;
    int rc = -1;
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(j, "normalizer");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const char *nt = bv_bert_json_str(norm, "type"), *pt = bv_bert_json_str(pre, "type"), *mt = bv_bert_json_str(model, "type");
    if (!nt || strcmp(nt, "BertNormalizer")) {
        bv_err_set(err, errcap, "%s: normalizer.type \"%s\" is not supported (BertNormalizer)", path, nt ? nt : "?");
        goto out;
    }
    if (!pt || strcmp(pt, "BertPreTokenizer")) {
        bv_err_set(err, errcap, "%s: pre_tokenizer.type \"%s\" is not supported (BertPreTokenizer)", path,
                   pt ? pt : "?");
        goto out;
    }
    if (!mt || strcmp(mt, "WordPiece")) {
        bv_err_set(err, errcap, "%s: model.type \"%s\" is not supported (WordPiece)", path, mt ? mt : "?");
        goto out;
    }
    int clean;
    if (bv_bert_json_bool(norm, "clean_text", 1, &clean, path, err, errcap) ||
        bv_bert_json_bool(norm, "handle_chinese_chars", 1, &t->chinese_chars, path, err, errcap) ||
        bv_bert_json_bool(norm, "lowercase", 1, &t->lowercase, path, err, errcap))
        goto out;
    if (!clean) {
        bv_err_set(err, errcap, "%s: normalizer.clean_text false is not supported", path);
        goto out;
    }
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(norm, "strip_accents");
    t->strip_accents = !sa || cJSON_IsNull(sa) ? -1 : cJSON_IsTrue(sa);
    const char *unk = bv_bert_json_str(model, "unk_token"), *pfx = bv_bert_json_str(model, "continuing_subword_prefix");
    if (unk) snprintf(t->unk, sizeof t->unk, "%s", unk);
    if (pfx) {
        if (strlen(pfx) >= sizeof t->prefix) {
            bv_err_set(err, errcap, "%s: model.continuing_subword_prefix too long", path);
            goto out;
        }
        snprintf(t->prefix, sizeof t->prefix, "%s", pfx);
    }
    const cJSON *mc = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word");
    if (cJSON_IsNumber(mc)) {
        if (mc->valuedouble < 1 || mc->valuedouble > 1e6) {
            bv_err_set(err, errcap, "%s: model.max_input_chars_per_word %g outside [1, 1e6]", path, mc->valuedouble);
            goto out;
        }
        t->max_chars = (int)mc->valuedouble;
    }
    rc = load_vocab_json(t, cJSON_GetObjectItemCaseSensitive(model, "vocab"), path, err, errcap);
out:
    cJSON_Delete(j);
    return rc;
}

bv_btok *bv_btok_load(const char *dir, char *err, size_t errcap) {
    char path[4096];
    bv_btok *t = bv_xcalloc(1, sizeof *t);
    t->lowercase = 1;
    t->strip_accents = -1;
    t->chinese_chars = 1;
    t->max_chars = 100;
    snprintf(t->prefix, sizeof t->prefix, "##");
    snprintf(t->unk, sizeof t->unk, "[UNK]");
    t->unk_id = -1;
    cJSON *tc = NULL, *cfg = NULL;
    const char *cls = NULL;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (file_exists(path)) {
        if (!(tc = bv_bert_read_json(path, err, errcap))) goto fail_;
        cls = bv_bert_json_str(tc, "tokenizer_class");
    }
    if (!cls) { /* AutoTokenizer without a class: from config.json's model_type */
        snprintf(path, sizeof path, "%s/config.json", dir);
        if (!(cfg = bv_bert_read_json(path, err, errcap))) goto fail_;
        const char *mt = bv_bert_json_str(cfg, "model_type");
        char spm[4096];
        snprintf(spm, sizeof spm, "%s/spm.model", dir);
        cls = mt && !strcmp(mt, "bert") ? "BertTokenizerFast"
              : mt && !strcmp(mt, "deberta-v2") && file_exists(spm) ? "DebertaV2Tokenizer" : NULL;
        if (!cls) {
            bv_err_set(err, errcap,
                       "%s/tokenizer_config.json: no tokenizer_class, and model_type \"%s\" names no tokenizer "
                       "bv2 has", dir, mt ? mt : "?");
            goto fail_;
        }
    }
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (!strcmp(cls, "BertTokenizer") || !strcmp(cls, "BertTokenizerFast")) {
        t->kind = BV_BTOK_WORDPIECE;
        char tj[4096];
        snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
        if (file_exists(tj)) { /* the fast tokenizer's own settings */
            if (load_tokenizer_json(t, tj, err, errcap)) goto fail_;
        } else {
            if (tc && (bv_bert_json_bool(tc, "do_lower_case", 1, &t->lowercase, path, err, errcap) ||
                       bv_bert_json_bool(tc, "tokenize_chinese_chars", 1, &t->chinese_chars, path, err, errcap)))
                goto fail_;
            const cJSON *sa = tc ? cJSON_GetObjectItemCaseSensitive(tc, "strip_accents") : NULL;
            t->strip_accents = !sa || cJSON_IsNull(sa) ? -1 : cJSON_IsTrue(sa);
            int basic = 1;
            if (tc && bv_bert_json_bool(tc, "do_basic_tokenize", 1, &basic, path, err, errcap)) goto fail_;
            if (!basic) {
                bv_err_set(err, errcap, "%s: \"do_basic_tokenize\" false is not supported", path);
                goto fail_;
            }
            snprintf(path, sizeof path, "%s/vocab.txt", dir);
            if (load_vocab_txt(t, path, err, errcap)) goto fail_;
        }
    } else if (!strcmp(cls, "DebertaV2Tokenizer") || !strcmp(cls, "DebertaV2TokenizerFast")) {
        t->kind = BV_BTOK_SPM;
        int v = 0;
        if (tc && (bv_bert_json_bool(tc, "split_by_punct", 0, &v, path, err, errcap))) goto fail_;
        if (v) {
            bv_err_set(err, errcap, "%s: \"split_by_punct\" true is not supported", path);
            goto fail_;
        }
        if (tc && (bv_bert_json_bool(tc, "do_lower_case", 0, &v, path, err, errcap))) goto fail_;
        if (v) {
            bv_err_set(err, errcap, "%s: \"do_lower_case\" true is not supported for DeBERTa", path);
            goto fail_;
        }
        snprintf(path, sizeof path, "%s/spm.model", dir);
        if (!(t->spm = bv_spm_load(path, err, errcap))) goto fail_;
        t->n_vocab = bv_spm_piece_count(t->spm);
        t->unk_id = bv_spm_piece_to_id(t->spm, "[UNK]");
    } else if (!strcmp(cls, "BertJapaneseTokenizer")) {
        t->kind = BV_BTOK_JP_CHAR;
        const char *wt = bv_bert_json_str(tc, "word_tokenizer_type"), *st = bv_bert_json_str(tc, "subword_tokenizer_type");
        if (wt && strcmp(wt, "basic")) {
            bv_err_set(err, errcap, "%s: \"word_tokenizer_type\" \"%s\" is not supported (basic)", path, wt);
            goto fail_;
        }
        if (!st || strcmp(st, "character")) {
            bv_err_set(err, errcap, "%s: \"subword_tokenizer_type\" \"%s\" is not supported (character)", path,
                       st ? st : "wordpiece");
            goto fail_;
        }
        int w = 1, s = 1;
        if (bv_bert_json_bool(tc, "do_word_tokenize", 1, &w, path, err, errcap) ||
            bv_bert_json_bool(tc, "do_subword_tokenize", 1, &s, path, err, errcap) ||
            bv_bert_json_bool(tc, "do_lower_case", 0, &t->lowercase, path, err, errcap))
            goto fail_;
        if (!w || !s) {
            bv_err_set(err, errcap, "%s: \"%s\" false is not supported", path,
                       !w ? "do_word_tokenize" : "do_subword_tokenize");
            goto fail_;
        }
        t->chinese_chars = 0;
        const char *unk = bv_bert_json_str(tc, "unk_token");
        if (unk) snprintf(t->unk, sizeof t->unk, "%s", unk);
        snprintf(path, sizeof path, "%s/vocab.txt", dir);
        if (load_vocab_txt(t, path, err, errcap)) goto fail_;
    } else {
        bv_err_set(err, errcap,
                   "%s: \"tokenizer_class\" \"%s\" is not supported (BertTokenizer[Fast], DebertaV2Tokenizer, "
                   "BertJapaneseTokenizer)", path, cls);
        goto fail_;
    }
    if (t->kind != BV_BTOK_SPM && special_id(t, t->unk, &t->unk_id, dir, err, errcap)) goto fail_;
    if (special_id(t, "[CLS]", &t->cls_id, dir, err, errcap) || special_id(t, "[SEP]", &t->sep_id, dir, err, errcap))
        goto fail_;
    cJSON_Delete(tc);
    cJSON_Delete(cfg);
    return t;
fail_:
    cJSON_Delete(tc);
    cJSON_Delete(cfg);
    bv_btok_free(t);
    return NULL;
}

void bv_btok_free(bv_btok *t) {
    if (!t) return;
    for (int i = 0; i < t->n_vocab && t->vocab; i++) free(t->vocab[i]);
    free(t->vocab);
    free(t->slot);
    if (t->spm) bv_spm_free(t->spm);
    free(t);
}

bv_btok_kind bv_btok_get_kind(const bv_btok *t) { return t->kind; }
int bv_btok_vocab_size(const bv_btok *t) { return t->n_vocab; }
int bv_btok_cls_id(const bv_btok *t) { return t->cls_id; }
int bv_btok_sep_id(const bv_btok *t) { return t->sep_id; }

/* ------------------------------------------------------------------ Unicode helpers */

typedef struct cps {
    int32_t *v;
    size_t n, cap;
} cps;

static void cps_push(cps *c, int32_t cp) {
    if (c->n == c->cap) c->v = bv_xrealloc(c->v, (c->cap = c->cap ? 2 * c->cap : 64) * sizeof(int32_t));
    c->v[c->n++] = cp;
}

static int decode_utf8(const char *s, cps *out, char *err, size_t errcap) {
    const uint8_t *p = (const uint8_t *)s;
    size_t len = strlen(s);
    while (len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, (utf8proc_ssize_t)len, &cp);
        if (k <= 0) return bv_err_set(err, errcap, "text is not valid UTF-8 (at byte %zu)",
                                      (size_t)(p - (const uint8_t *)s));
        cps_push(out, cp);
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

static size_t encode_utf8(const int32_t *v, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += (size_t)utf8proc_encode_char(v[i], (utf8proc_uint8_t *)out + k);
    out[k] = 0;
    return k;
}

static int is_control(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CN ||
           k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CS;
}

static int is_space(int32_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}

/* Python's str.split() separators that survive cleaning (Zl, Zp, and the spaces above). */
static int is_split_space(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return is_space(c) || c == 0x0B || c == 0x0C || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

static int is_punct(int32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return 1;
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

static int is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* unicodedata.normalize(NFD or NFKC) over v[0..n) into out (appended). */
static int normalize(const int32_t *v, size_t n, int nfkc, cps *out, char *err, size_t errcap) {
    char *s = bv_xmalloc(4 * n + 1);
    encode_utf8(v, n, s);
    utf8proc_uint8_t *r = nfkc ? utf8proc_NFKC((const utf8proc_uint8_t *)s) : utf8proc_NFD((const utf8proc_uint8_t *)s);
    free(s);
    if (!r) return bv_err_set(err, errcap, "Unicode normalisation failed");
    int rc = decode_utf8((const char *)r, out, err, errcap);
    free(r);
    return rc;
}

/* ------------------------------------------------------------------ tokenizing */

/* Room for one more token. A bv_btok_out's arrays grow only here (bv_btok_tokenize starts them
 * empty), so their capacity follows from n: the power of two at or above it. Doubling keeps a long
 * text linear; growing by one token per realloc was quadratic under ASan's copying realloc (a fuzz
 * timeout, fuzz/corpus/btok/regress-many-specials.txt). */
static void out_grow(bv_btok_out *o) {
    const int n = o->n;
    if (n & (n - 1)) return; /* not a power of two (nor 0): there is room */
    const size_t cap = n ? (size_t)n * 2 : 1;
    o->ids = bv_xrealloc(o->ids, cap * sizeof(int));
    o->pieces = bv_xrealloc(o->pieces, cap * sizeof(char *));
}

static void out_push(bv_btok_out *o, const char *piece, size_t len, int id) {
    out_grow(o);
    char *p = bv_xmalloc(len + 1);
    memcpy(p, piece, len);
    p[len] = 0;
    o->ids[o->n] = id;
    o->pieces[o->n++] = p;
}

/* WordPiece of one word (v[0..n)): greedy longest match from the left. */
static void wordpiece(const bv_btok *t, const int32_t *v, size_t n, bv_btok_out *o) {
    if (n > (size_t)t->max_chars) {
        out_push(o, t->unk, strlen(t->unk), t->unk_id);
        return;
    }
    size_t plen = strlen(t->prefix);
    char *buf = bv_xmalloc(plen + 4 * n + 1);
    size_t *off = bv_xmalloc((n + 1) * sizeof(size_t)); /* byte offset of each char after the prefix */
    memcpy(buf, t->prefix, plen);
    off[0] = 0;
    for (size_t i = 0; i < n; i++) off[i + 1] = off[i] + (size_t)utf8proc_encode_char(v[i], (utf8proc_uint8_t *)buf + plen + off[i]);
    int first = o->n;
    size_t start = 0;
    while (start < n) {
        size_t end = n;
        int id = -1;
        const char *s = NULL;
        size_t sl = 0;
        for (; end > start; end--) {
            /* "##" + chars[start:end] sits just before chars[start] when the prefix is copied there */
            if (start > 0) {
                char save[16];
                memcpy(save, buf + plen + off[start] - plen, plen);
                memcpy(buf + plen + off[start] - plen, t->prefix, plen);
                s = buf + plen + off[start] - plen;
                sl = plen + off[end] - off[start];
                id = vocab_find(t, s, sl);
                if (id >= 0) {
                    out_push(o, s, sl, id);
                    memcpy(buf + plen + off[start] - plen, save, plen);
                    break;
                }
                memcpy(buf + plen + off[start] - plen, save, plen);
            } else {
                s = buf + plen;
                sl = off[end];
                id = vocab_find(t, s, sl);
                if (id >= 0) {
                    out_push(o, s, sl, id);
                    break;
                }
            }
        }
        if (id < 0) { /* no split: the whole word is [UNK] */
            while (o->n > first) free(o->pieces[--o->n]);
            out_push(o, t->unk, strlen(t->unk), t->unk_id);
            break;
        }
        start = end;
    }
    free(off);
    free(buf);
}

static void char_tokens(const bv_btok *t, const int32_t *v, size_t n, bv_btok_out *o, char *err,
                        size_t errcap, int *rc) {
    cps nk = {0};
    if (normalize(v, n, 1, &nk, err, errcap)) {
        *rc = -1;
        return;
    }
    for (size_t i = 0; i < nk.n; i++) {
        char s[8];
        size_t k = encode_utf8(&nk.v[i], 1, s);
        int id = vocab_find(t, s, k);
        if (id < 0) out_push(o, t->unk, strlen(t->unk), t->unk_id);
        else out_push(o, s, k, id);
    }
    free(nk.v);
}

/* BasicTokenizer + WordPiece or character subwords. */
static int bert_tokenize(const bv_btok *t, const char *text, bv_btok_out *o, char *err, size_t errcap) {
    cps in = {0}, a = {0}, b = {0};
    int rc = decode_utf8(text, &in, err, errcap);
    if (rc) goto out;
    for (size_t i = 0; i < in.n; i++) { /* clean text, CJK spacing */
        int32_t c = in.v[i];
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_space(c)) c = ' ';
        if (t->chinese_chars && is_cjk(c)) {
            cps_push(&a, ' ');
            cps_push(&a, c);
            cps_push(&a, ' ');
        } else {
            cps_push(&a, c);
        }
    }
    int strip = t->strip_accents < 0 ? t->lowercase : t->strip_accents;
    size_t i = 0;
    while (i < a.n) { /* whitespace words */
        while (i < a.n && is_split_space(a.v[i])) i++;
        size_t j = i;
        while (j < a.n && !is_split_space(a.v[j])) j++;
        if (j == i) break;
        b.n = 0;
        if (strip) { /* NFD, drop Mn (before lowercasing, as the fast normalizer) */
            cps d = {0};
            if ((rc = normalize(a.v + i, j - i, 0, &d, err, errcap))) goto out;
            for (size_t k = 0; k < d.n; k++)
                if (utf8proc_category(d.v[k]) != UTF8PROC_CATEGORY_MN) cps_push(&b, d.v[k]);
            free(d.v);
        } else {
            for (size_t k = i; k < j; k++) cps_push(&b, a.v[k]);
        }
        if (t->lowercase)
            for (size_t k = 0; k < b.n; k++) b.v[k] = utf8proc_tolower(b.v[k]);
        size_t s = 0; /* punctuation alone */
        for (size_t k = 0; k <= b.n; k++) {
            int p = k < b.n && is_punct(b.v[k]);
            if (k == b.n || p) {
                if (k > s) {
                    if (t->kind == BV_BTOK_WORDPIECE) wordpiece(t, b.v + s, k - s, o);
                    else char_tokens(t, b.v + s, k - s, o, err, errcap, &rc);
                }
                if (p) {
                    if (t->kind == BV_BTOK_WORDPIECE) wordpiece(t, b.v + k, 1, o);
                    else char_tokens(t, b.v + k, 1, o, err, errcap, &rc);
                }
                s = k + 1;
            }
            if (rc) goto out;
        }
        i = j;
    }
out:
    free(in.v);
    free(a.v);
    free(b.v);
    return rc;
}

/* One stretch of text without special tokens, appended to out. */
static int tokenize_plain(const bv_btok *t, const char *text, bv_btok_out *out, char *err, size_t errcap) {
    if (t->kind != BV_BTOK_SPM) return bert_tokenize(t, text, out, err, errcap);
    bv_btok_out o;
    if (bv_spm_encode(t->spm, text, strlen(text), &o.pieces, &o.ids, &o.n, err, errcap)) return -1;
    for (int i = 0; i < o.n; i++) {
        out_grow(out);
        out->pieces[out->n] = o.pieces[i];
        out->ids[out->n++] = o.ids[i];
        o.pieces[i] = NULL;
    }
    bv_spm_pieces_free(o.pieces, o.ids, o.n);
    return 0;
}

static int is_ws_byte(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* tokenizer.tokenize: the special tokens written literally in the text ([UNK], [CLS], [SEP], [PAD],
 * [MASK]) stay whole, as transformers' added-token split keeps them (the slow tokenizers also strip
 * the whitespace next to them); the stretches between are tokenized as text. */
int bv_btok_tokenize(const bv_btok *t, const char *text, bv_btok_out *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    cps chk = {0};
    int rc = decode_utf8(text, &chk, err, errcap);
    free(chk.v);
    if (rc) return -1;
    static const char *const specials[] = {"[PAD]", "[CLS]", "[SEP]", "[MASK]"};
    size_t n = strlen(text);
    char *seg = bv_xmalloc(n + 1);
    const char *p = text;
    int left_special = 0;
    while (!rc) {
        const char *hit = NULL, *tok = NULL;
        for (const char *q = strchr(p, '['); q && !hit; q = strchr(q + 1, '[')) {
            if (!strncmp(q, t->unk, strlen(t->unk))) hit = q, tok = t->unk;
            for (int k = 0; k < 4 && !hit; k++)
                if (!strncmp(q, specials[k], strlen(specials[k]))) hit = q, tok = specials[k];
        }
        const char *e = hit ? hit : p + strlen(p), *s = p;
        if (left_special) /* the slow tokenizers strip around a special token; WordPiece/JP drop spaces anyway */
            while (s < e && is_ws_byte(*s)) s++;
        if (hit)
            while (e > s && is_ws_byte(e[-1])) e--;
        memcpy(seg, s, (size_t)(e - s));
        seg[e - s] = 0;
        if (*seg) rc = tokenize_plain(t, seg, out, err, errcap);
        if (!hit || rc) break;
        int id = t->spm ? bv_spm_piece_to_id(t->spm, tok) : vocab_find(t, tok, strlen(tok));
        out_grow(out);
        out->pieces[out->n] = strdup(tok);
        out->ids[out->n++] = id < 0 ? t->unk_id : id;
        p = hit + strlen(tok);
        left_special = 1;
    }
    free(seg);
    if (rc) bv_btok_out_free(out);
    return rc;
}

void bv_btok_out_free(bv_btok_out *o) {
    if (o->pieces) bv_spm_pieces_free(o->pieces, o->ids, o->n); /* free() of each piece and both arrays */
    else free(o->ids);
    memset(o, 0, sizeof *o);
}

int bv_btok_encode(const bv_btok *t, const char *text, int **ids, int *n, char *err, size_t errcap) {
    bv_btok_out o;
    if (bv_btok_tokenize(t, text, &o, err, errcap)) return -1;
    *ids = bv_xmalloc((size_t)(o.n + 2) * sizeof(int));
    (*ids)[0] = t->cls_id;
    for (int i = 0; i < o.n; i++) (*ids)[i + 1] = o.ids[i];
    (*ids)[o.n + 1] = t->sep_id;
    *n = o.n + 2;
    bv_btok_out_free(&o);
    return 0;
}
