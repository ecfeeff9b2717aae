/* japanese.c - upstream Bert-VITS2 v2.3 text/japanese.py in C (see japanese.h). */
#include "japanese.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "../core/cleanup.h"
#include "../core/error.h"
#include "symbols.h"
#include "ja_label.h"
#include "ja_mecab.h"

/* kata2phoneme's second front-end run depends only on the reading: its phonemes are cached
 * (particles and common words recur in every sentence). Open addressing; cleared when full. */
#define G2P_CACHE 4096
typedef struct {
    char *key;   /* the katakana reading, NULL: empty slot */
    char *phones; /* its phonemes joined by '\n' */
} g2p_slot;

struct bv_ja_frontend {
    bv_ja_mecab *mecab;
    g2p_slot *cache; /* [G2P_CACHE] */
    int cached;
};

bv_ja_frontend *bv_ja_open(const char *dicdir, char *err, size_t err_cap) {
    bv_ja_mecab *m = bv_ja_mecab_open(dicdir, err, err_cap);
    if (!m) return NULL;
    bv_ja_frontend *ja = bv_xcalloc(1, sizeof *ja);
    ja->mecab = m;
    ja->cache = bv_xcalloc(G2P_CACHE, sizeof *ja->cache);
    return ja;
}

static void cache_clear(bv_ja_frontend *ja) {
    for (int i = 0; i < G2P_CACHE; i++) free(ja->cache[i].key), free(ja->cache[i].phones);
    memset(ja->cache, 0, G2P_CACHE * sizeof *ja->cache);
    ja->cached = 0;
}

void bv_ja_free(bv_ja_frontend *ja) {
    if (!ja) return;
    cache_clear(ja);
    free(ja->cache);
    bv_ja_mecab_free(ja->mecab);
    free(ja);
}

static bv_ja_frontend *g_default;

static void free_default(void) {
    bv_ja_free(g_default);
    g_default = NULL;
}

bv_ja_frontend *bv_ja_default(char *err, size_t err_cap) {
    if (!g_default && (g_default = bv_ja_open(NULL, err, err_cap))) bv_cleanup_register(free_default);
    return g_default;
}

static g2p_slot *cache_slot(bv_ja_frontend *ja, const char *key) {
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) h = (h ^ *p) * 16777619u;
    for (uint32_t i = h % G2P_CACHE;; i = (i + 1) % G2P_CACHE)
        if (!ja->cache[i].key || !strcmp(ja->cache[i].key, key)) return &ja->cache[i];
}

/* ---- strings of code points ---------------------------------------------------------------- */

static int utf8_next(const char *s, size_t n, size_t *at, int32_t *cp) {
    utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s + *at, (utf8proc_ssize_t)(n - *at), cp);
    if (l <= 0) return -1;
    *at += (size_t)l;
    return 0;
}

static size_t cp_count(const char *s) {
    size_t n = strlen(s), at = 0, k = 0;
    int32_t cp;
    while (at < n && !utf8_next(s, n, &at, &cp)) k++;
    return k;
}

/* byte length of the first code point of s (s non-empty, valid UTF-8) */
static size_t first_len(const char *s) {
    int32_t cp;
    size_t at = 0;
    if (utf8_next(s, strlen(s), &at, &cp)) return 1;
    return at;
}

static int32_t first_cp(const char *s) {
    int32_t cp = -1;
    size_t at = 0;
    if (!*s || utf8_next(s, strlen(s), &at, &cp)) return -1;
    return cp;
}

static char *xstrndup(const char *s, size_t n) {
    char *d = bv_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* a growable list of malloc'ed strings */
typedef struct {
    char **s;
    int n, cap;
} strlist;

static void sl_push(strlist *l, char *s) { /* takes s */
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->s = bv_xrealloc(l->s, (size_t)l->cap * sizeof *l->s);
    }
    l->s[l->n++] = s;
}
static void sl_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    l->s = NULL;
    l->n = l->cap = 0;
}

/* ---- text_normalize ------------------------------------------------------------------------ */

/* upstream's rep_map, in its order (the regex tries the keys in this order at each position) */
static const char *const rep_map[][2] = {
    {"：", ","}, {"；", ","}, {"，", ","}, {"。", "."}, {"！", "!"}, {"？", "?"}, {"\n", "."}, {"．", "."},
    {"…", "..."}, {"···", "..."}, {"・・・", "..."}, {"·", ","}, {"・", ","}, {"、", ","}, {"$", "."}, {"“", "'"},
    {"”", "'"}, {"\"", "'"}, {"‘", "'"}, {"’", "'"}, {"（", "'"}, {"）", "'"}, {"(", "'"}, {")", "'"},
    {"《", "'"}, {"》", "'"}, {"【", "'"}, {"】", "'"}, {"[", "'"}, {"]", "'"}, {"—", "-"}, {"−", "-"},
    {"～", "-"}, {"~", "-"}, {"「", "'"}, {"」", "'"},
};
#define N_REP ((int)(sizeof rep_map / sizeof rep_map[0]))

static int is_punct_symbol(int32_t c) { /* upstream's punctuation list: ! ? … , . ' - */
    return c == '!' || c == '?' || c == 0x2026 || c == ',' || c == '.' || c == '\'' || c == '-';
}

static int kept_char(int32_t c) {
    return (c >= 0x3040 && c <= 0x309F) || (c >= 0x30A0 && c <= 0x30FF) || (c >= 0x4E00 && c <= 0x9FFF) ||
           (c >= 0x3400 && c <= 0x4DBF) || c == 0x3005 || is_punct_symbol(c);
}

char *bv_ja_replace_punctuation(const char *text) {
    size_t n = strlen(text);
    char *mid = bv_xmalloc(3 * n + 1), *o = mid;
    for (size_t i = 0; i < n;) {
        int hit = -1;
        unsigned char b = (unsigned char)text[i];
        /* only these bytes start a key of rep_map */
        if (b >= 0xC2 || b == '\n' || b == '$' || b == '"' || b == '(' || b == ')' || b == '[' || b == ']' || b == '~')
            for (int k = 0; k < N_REP; k++)
            if ((unsigned char)rep_map[k][0][0] == b && !strncmp(text + i, rep_map[k][0], strlen(rep_map[k][0]))) {
                hit = k;
                break;
            }
        if (hit >= 0) {
            size_t l = strlen(rep_map[hit][1]);
            memcpy(o, rep_map[hit][1], l), o += l;
            i += strlen(rep_map[hit][0]);
        } else {
            *o++ = text[i++];
        }
    }
    *o = 0;
    size_t m = (size_t)(o - mid), at = 0;
    char *out = bv_xmalloc(m + 1);
    o = out;
    while (at < m) {
        size_t s = at;
        int32_t cp;
        if (utf8_next(mid, m, &at, &cp)) {
            at = s + 1;
            continue;
        }
        if (kept_char(cp)) memcpy(o, mid + s, at - s), o += at - s;
    }
    *o = 0;
    free(mid);
    return out;
}

char *bv_ja_normalize(const char *text, char *err, size_t err_cap) {
    utf8proc_uint8_t *nfkc = NULL;
    utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)text, 0, &nfkc,
                                        UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    if (len < 0) {
        snprintf(err, err_cap, "text is not valid UTF-8 (%s)", utf8proc_errmsg(len));
        return NULL;
    }
    char *num = bv_ja_numbers_to_words((const char *)nfkc, err, err_cap);
    free(nfkc);
    if (!num) return NULL;
    char *rep = bv_ja_replace_punctuation(num);
    free(num);
    /* drop U+3099 (combining voiced sound mark) */
    char *o = rep;
    for (char *p = rep; *p;) {
        if (!strncmp(p, "\xe3\x82\x99", 3)) p += 3;
        else *o++ = *p++;
    }
    *o = 0;
    return rep;
}

/* ---- the front-end ------------------------------------------------------------------------- */

int bv_ja_run_frontend(bv_ja_frontend *ja, const char *text, bv_ja_njd *njd, char *err, size_t err_cap) {
    /* pyopenjtalk's run_frontend converts the text into a char[8192]: longer texts are beyond it */
    char *wide = bv_ja_text2mecab(text);
    size_t wide_len = strlen(wide);
    free(wide);
    if (wide_len >= 8192)
        return snprintf(err, err_cap, "text too long for the front-end (%zu bytes for MeCab; pyopenjtalk takes "
                        "at most 8191): split it into sentences", wide_len), -1;
    if (bv_ja_mecab_parse(ja->mecab, text, njd, err, err_cap)) return -1;
    bv_ja_set_pronunciation(njd);
    bv_ja_set_digit(njd);
    bv_ja_set_accent_phrase(njd);
    bv_ja_set_accent_type(njd);
    /* njd_set_unvoiced_vowel only adds ’ marks that upstream strips from readings and lower-cases
     * away in labels; njd_set_long_vowel is a no-op in OpenJTalk 1.11: neither changes the output. */
    return 0;
}

/* upstream's _MARKS: a first character outside letters, digits, 々, kana, CJK and full-width
 * alphanumerics / half-width katakana */
static int is_mark(const char *s) {
    int32_t c = first_cp(s);
    if (c < 0) return 0;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == 0x3005 || (c >= 0x3040 && c <= 0x30FF) ||
        (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xFF11 && c <= 0xFF19) || (c >= 0xFF21 && c <= 0xFF3A) ||
        (c >= 0xFF41 && c <= 0xFF5A) || (c >= 0xFF66 && c <= 0xFF9D))
        return 0;
    if (utf8proc_category(c) == UTF8PROC_CATEGORY_ND) return 0; /* \d */
    return 1;
}

static int rep_key_or_value(const char *w) {
    for (int k = 0; k < N_REP; k++)
        if (!strcmp(w, rep_map[k][0]) || !strcmp(w, rep_map[k][1])) return 1;
    return 0;
}

/* text2sep_kata's loop: sep (words) and kata (readings) */
static void sep_kata(const bv_ja_njd *njd, strlist *sep, strlist *kata) {
    for (const bv_ja_node *n = njd->head; n; n = n->next) {
        char *word = bv_ja_replace_punctuation(bv_ja_str(n->string));
        const char *pron = bv_ja_str(n->pron);
        char *yomi = bv_xmalloc(strlen(pron) + 1), *o = yomi;
        for (const char *p = pron; *p;) {
            if (!strncmp(p, "’", 3)) p += 3;
            else *o++ = *p++;
        }
        *o = 0;
        if (*yomi) {
            if (is_mark(yomi)) {
                if (cp_count(word) > 1) { /* each character its own word and reading */
                    for (const char *p = word; *p;) {
                        size_t l = first_len(p);
                        char *ch = xstrndup(p, l);
                        sl_push(kata, bv_ja_replace_punctuation(ch));
                        sl_push(sep, bv_ja_replace_punctuation(ch));
                        free(ch);
                        p += l;
                    }
                    free(word), free(yomi);
                    continue;
                }
                if (!rep_key_or_value(word)) {
                    free(word);
                    word = xstrndup(",", 1);
                }
                free(yomi);
                yomi = xstrndup(word, strlen(word));
            }
            sl_push(kata, yomi);
        } else {
            free(yomi);
            static const char *const symbol_tokens[] = {"・", "、", "。", "？", "！", NULL};
            static const char *const no_yomi[] = {"「", "」", "『", "』", "―", "（", "）", "［", "］", "[", "]", NULL};
            int sym = 0, none = 0;
            for (int k = 0; symbol_tokens[k]; k++) sym |= !strcmp(word, symbol_tokens[k]);
            for (int k = 0; no_yomi[k]; k++) none |= !strcmp(word, no_yomi[k]);
            if (sym) sl_push(kata, xstrndup(word, strlen(word)));
            else if (!strcmp(word, "っ") || !strcmp(word, "ッ")) sl_push(kata, xstrndup("ッ", strlen("ッ")));
            else if (!none) sl_push(kata, xstrndup(word, strlen(word)));
        }
        sl_push(sep, word);
    }
}

static int py_space(int32_t c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* pyopenjtalk.g2p(text).lower().replace("cl", "q").split(" ") appended to out: the label phonemes
 * of the text's own front-end run ("pau" included; no phonemes give one empty string). */
static int g2p_split(bv_ja_frontend *ja, const char *text, strlist *out, char *err, size_t err_cap) {
    g2p_slot *slot = cache_slot(ja, text);
    if (!slot->key) {
        bv_ja_njd njd = {0};
        if (bv_ja_run_frontend(ja, text, &njd, err, err_cap)) return -1;
        const char **ph;
        int n = bv_ja_label_phonemes(&njd, &ph);
        size_t len = 1;
        for (int i = 0; i < n; i++) len += strlen(ph[i]) + 1;
        char *joined = bv_xmalloc(len), *o = joined;
        for (int i = 0; i < n; i++) {
            if (i) *o++ = '\n';
            size_t l = strlen(ph[i]);
            memcpy(o, ph[i], l);
            o += l;
        }
        *o = 0; /* no phonemes: "" (upstream's split gives one empty string) */
        free(ph);
        bv_ja_njd_free(&njd);
        if (ja->cached >= G2P_CACHE / 2) {
            cache_clear(ja);
            slot = cache_slot(ja, text);
        }
        slot->key = xstrndup(text, strlen(text));
        slot->phones = joined;
        ja->cached++;
    }
    for (const char *p = slot->phones;;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        sl_push(out, xstrndup(p, l));
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* jaconv.hira2kata: ぁ..ゖ and ゝゞ to katakana, in place (same UTF-8 length) */
static void hira2kata(char *s) {
    size_t n = strlen(s);
    for (size_t at = 0; at < n;) {
        size_t st = at;
        int32_t c;
        if (utf8_next(s, n, &at, &c)) {
            at = st + 1;
            continue;
        }
        if ((c >= 0x3041 && c <= 0x3096) || c == 0x309D || c == 0x309E) {
            utf8proc_uint8_t b[4];
            utf8proc_encode_char(c + 0x60, b);
            memcpy(s + st, b, 3);
        }
    }
}

/* upstream kata2phoneme(text) (v2.3: the remaining reading through pyopenjtalk.g2p) */
static int kata2phoneme(bv_ja_frontend *ja, const char *text, strlist *out, char *err, size_t err_cap) {
    /* strip Python whitespace */
    size_t n = strlen(text);
    size_t b = 0, e = n;
    for (;;) {
        size_t at = b;
        int32_t c;
        if (b >= e || utf8_next(text, n, &at, &c) || !py_space(c)) break;
        b = at;
    }
    while (e > b) {
        size_t s = e - 1;
        while (s > b && ((unsigned char)text[s] & 0xC0) == 0x80) s--;
        size_t at = s;
        int32_t c;
        if (utf8_next(text, n, &at, &c) || !py_space(c)) break;
        e = s;
    }
    char *t = xstrndup(text + b, e - b);
    char *p = t;
    while (!strncmp(p, "ー", 3)) { /* leading ー: kept as "ー" (handle_long replaces it) */
        sl_push(out, xstrndup("ー", 3));
        p += 3;
        if (!*p) {
            free(t);
            return 0;
        }
    }
    while (*p) {
        if (is_mark(p)) {
            sl_push(out, xstrndup(p, strlen(p)));
            p += first_len(p);
            continue;
        }
        if (!strncmp(p, "ー", 3)) { /* upstream's prev is never set: the ー is dropped */
            p += 3;
            continue;
        }
        int rc = g2p_split(ja, p, out, err, err_cap);
        free(t);
        return rc;
    }
    free(t);
    return 0;
}

/* last character of a phone string, as a new string (Python's s[-1]) */
static char *last_char(const char *s) {
    size_t n = strlen(s);
    if (!n) return xstrndup("", 0);
    size_t i = n - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    return xstrndup(s + i, n - i);
}

int bv_ja_g2p(bv_ja_frontend *ja, const char *norm_text, bv_en_phones *out, char *err, size_t err_cap) {
    memset(out, 0, sizeof *out);
    bv_ja_njd njd = {0};
    if (bv_ja_run_frontend(ja, norm_text, &njd, err, err_cap)) return -1;
    bv_ja_accent *acc;
    int n_acc;
    bv_ja_accents(&njd, &acc, &n_acc);
    strlist sep = {0}, kata = {0};
    sep_kata(&njd, &sep, &kata);
    bv_ja_njd_free(&njd);
    for (int i = 0; i < kata.n; i++) hira2kata(kata.s[i]);

    int rc = -1, nw = sep.n;
    strlist *ph = bv_xcalloc((size_t)(nw > 0 ? nw : 1), sizeof *ph);
    int *tok = bv_xcalloc((size_t)(nw > 0 ? nw : 1), sizeof *tok);
    int64_t *tones = NULL;
    if (kata.n != sep.n) { /* a reading-less bracket: upstream's zip would pair words and readings off */
        snprintf(err, err_cap, "a word without reading (bracket) in the text: upstream pairs words and readings wrongly");
        goto done;
    }
    for (int i = 0; i < nw; i++) {
        tok[i] = (int)cp_count(sep.s[i]);
        if (cp_count(sep.s[i]) == 1 && is_punct_symbol(first_cp(sep.s[i]))) tok[i] = 1;
        if (kata2phoneme(ja, kata.s[i], &ph[i], err, err_cap)) goto done;
    }
    /* handle_long */
    for (int i = 0; i < nw; i++) {
        if (ph[i].n == 0) {
            snprintf(err, err_cap, "word '%s' has no phonemes (upstream's handle_long fails on it)", sep.s[i]);
            goto done;
        }
        if (!strcmp(ph[i].s[0], "ー")) {
            strlist *prev = &ph[i > 0 ? i - 1 : nw - 1];
            if (prev->n == 0) {
                snprintf(err, err_cap, "word '%s' has no phonemes (upstream's handle_long fails on it)", sep.s[nw - 1]);
                goto done;
            }
            char *v = xstrndup(prev->s[prev->n - 1], strlen(prev->s[prev->n - 1]));
            free(ph[i].s[0]);
            ph[i].s[0] = v;
        }
        for (int j = 0; j < ph[i].n; j++)
            if (!strcmp(ph[i].s[j], "ー")) {
                char *v = last_char(ph[i].s[j > 0 ? j - 1 : ph[i].n - 1]);
                free(ph[i].s[j]);
                ph[i].s[j] = v;
            }
    }
    int total = 0;
    for (int i = 0; i < nw; i++)
        for (int j = 0; j < ph[i].n; j++, total++)
            if (bv_symbol_id(ph[i].s[j]) < 0) {
                snprintf(err, err_cap, "word '%s' reads '%s', whose phoneme '%s' is not a symbol (upstream asserts)",
                         sep.s[i], kata.s[i], ph[i].s[j]);
                goto done;
            }
    /* align_tones */
    tones = bv_xcalloc((size_t)total + 2, sizeof *tones);
    int t = 1, a = 0;
    for (int i = 0; i < nw; i++) {
        int m = ph[i].n;
        int *temp = bv_xcalloc((size_t)m + 1, sizeof *temp);
        for (int j = 0; j < m; j++) {
            if (a >= n_acc) break;
            if (!strcmp(ph[i].s[j], acc[a].phone)) {
                temp[j] = acc[a].accent;
                if (j > 0) temp[j] += temp[j - 1];
                a++;
            }
        }
        /* [0] + temp[:-1], +1 everywhere when a -1 occurs */
        int neg = 0;
        for (int j = m - 1; j >= 1; j--) temp[j] = temp[j - 1];
        temp[0] = 0;
        for (int j = 0; j < m; j++) neg |= temp[j] == -1;
        for (int j = 0; j < m; j++) {
            int v = temp[j] + neg;
            if (v < 0 || v > 1) {
                free(temp);
                snprintf(err, err_cap, "tone %d out of 0..1 at word '%s' (upstream asserts)", v, sep.s[i]);
                goto done;
            }
            tones[t++] = v;
        }
        free(temp);
    }
    /* phones, word2ph */
    out->n_phones = total + 2;
    out->phones = bv_xmalloc((size_t)out->n_phones * sizeof *out->phones);
    out->tones = tones;
    tones = NULL;
    int k = 0, nwp = 2;
    for (int i = 0; i < nw; i++) nwp += tok[i];
    out->word2ph = bv_xcalloc((size_t)nwp, sizeof *out->word2ph);
    out->phones[k++] = bv_symbols[0];
    int w = 0;
    out->word2ph[w++] = 1;
    for (int i = 0; i < nw; i++) {
        for (int j = 0; j < ph[i].n; j++) out->phones[k++] = bv_symbols[bv_symbol_id(ph[i].s[j])];
        if (tok[i] == 0 && ph[i].n > 0) {
            snprintf(err, err_cap, "word '%s' has phones but no token (upstream's distribute_phone fails)", sep.s[i]);
            bv_en_phones_free(out);
            goto done;
        }
        for (int j = 0; j < tok[i]; j++) out->word2ph[w++] = ph[i].n / tok[i] + (j < ph[i].n % tok[i]);
    }
    out->phones[k++] = bv_symbols[0];
    out->word2ph[w++] = 1;
    out->n_word2ph = w;
    rc = 0;
done:
    for (int i = 0; i < nw; i++) sl_free(&ph[i]);
    free(ph), free(tok), free(tones), free(acc);
    sl_free(&sep), sl_free(&kata);
    return rc;
}

char *bv_ja_bert_text(bv_ja_frontend *ja, const char *norm_text, char *err, size_t err_cap) {
    bv_ja_njd njd = {0};
    if (bv_ja_run_frontend(ja, norm_text, &njd, err, err_cap)) return NULL;
    strlist sep = {0}, kata = {0};
    sep_kata(&njd, &sep, &kata);
    bv_ja_njd_free(&njd);
    size_t n = 1;
    for (int i = 0; i < sep.n; i++) n += strlen(sep.s[i]);
    char *out = bv_xmalloc(n), *o = out;
    for (int i = 0; i < sep.n; i++) {
        size_t l = strlen(sep.s[i]);
        memcpy(o, sep.s[i], l);
        o += l;
    }
    *o = 0;
    sl_free(&sep), sl_free(&kata);
    return out;
}

int bv_ja_clean_text(bv_ja_frontend *ja, const char *text, char **norm_text, bv_en_phones *out, char *err,
                     size_t err_cap) {
    if (norm_text) *norm_text = NULL;
    if (strlen(text) > (1u << 20)) return snprintf(err, err_cap, "text too long (over 1 MiB)"), -1;
    char *norm = bv_ja_normalize(text, err, err_cap);
    if (!norm) return -1;
    if (!*norm) {
        free(norm);
        snprintf(err, err_cap, "nothing left of the text after normalization (no kana, kanji or punctuation)");
        return -1;
    }
    int rc = bv_ja_g2p(ja, norm, out, err, err_cap);
    if (norm_text && !rc) *norm_text = norm;
    else free(norm);
    return rc;
}
