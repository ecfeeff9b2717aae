/* chinese.c - text_normalize and g2p of upstream v2.3 text/chinese.py (see chinese.h). */
#include "chinese.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cleanup.h"
#include "../core/error.h"
#include "symbols.h"
#include "tone_sandhi.h"
#include "zh_jieba.h"
#include "zh_number.h"
#include "zh_pinyin.h"

#define ZH_MAX_TEXT 100000 /* code points of one text */

static const char *const k_punct[] = {"!", "?", "\xE2\x80\xA6", ",", ".", "'", "-"}; /* symbols.punctuation */

static int is_punct_cp(uint32_t c) { return c == '!' || c == '?' || c == 0x2026 || c == ',' || c == '.' || c == '\'' || c == '-'; }

static char *to_utf8(const uint32_t *cp, int n) {
    char *s = bv_xmalloc((size_t)n * 4 + 1);
    size_t k = 0;
    for (int i = 0; i < n; i++) k += bv_zh_utf8_put(s + k, cp[i]);
    s[k] = 0;
    return s;
}

static uint32_t *decode(const char *text, int *n, char *err, size_t errcap) {
    size_t len = strlen(text);
    if (len > (size_t)ZH_MAX_TEXT * 4) return snprintf(err, errcap, "text longer than %d characters", ZH_MAX_TEXT), NULL;
    uint32_t *cp = bv_xmalloc((len + 1) * sizeof *cp);
    int k = bv_zh_utf8_decode(text, len, cp, len + 1);
    if (k < 0) return free(cp), snprintf(err, errcap, "text is not valid UTF-8"), NULL;
    *n = k;
    return cp;
}

/* rep_map of chinese.py, by code point ("..." handled apart) */
static uint32_t rep_one(uint32_t c) {
    switch (c) {
    case 0xFF1A: case 0xFF1B: case 0xFF0C: case 0x00B7: case 0x3001: return ','; /* ： ； ， · 、 */
    case 0x3002: case '\n': case '$': return '.';                            /* 。 \n $ */
    case 0xFF01: return '!';                                                  /* ！ */
    case 0xFF1F: return '?';                                                  /* ？ */
    case 0x201C: case 0x201D: case '"': case 0x2018: case 0x2019: case 0xFF08: case 0xFF09: case '(': case ')':
    case 0x300A: case 0x300B: case 0x3010: case 0x3011: case '[': case ']': case 0x300C: case 0x300D:
        return '\''; /* “ ” " ‘ ’ （ ） ( ) 《 》 【 】 [ ] 「 」 */
    case 0x2014: case 0xFF5E: case '~': return '-'; /* — ～ ~ */
    default: return 0;
    }
}

int bv_zh_normalize(const char *text, char **norm, char *err, size_t errcap) {
    int n;
    uint32_t *cp = decode(text, &n, err, errcap);
    if (!cp) return -1;
    size_t cap = (size_t)n * 8 + 16; /* an2cn writes at most ~3 characters per digit */
    uint32_t *a = bv_xmalloc(cap * sizeof *a);
    int m = bv_zh_numbers_to_chinese(cp, n, a, (int)cap, err, (int)errcap);
    free(cp);
    if (m < 0) return free(a), -1;
    int k = 0;
    for (int i = 0; i < m; i++) {
        uint32_t c = a[i];
        if (c == 0x55EF) c = 0x6069;      /* 嗯 -> 恩 */
        else if (c == 0x5463) c = 0x6BCD; /* 呣 -> 母 */
        if (c == '.' && i + 2 < m && a[i + 1] == '.' && a[i + 2] == '.') {
            c = 0x2026, i += 2; /* "..." -> "…" */
        } else if (rep_one(c)) {
            c = rep_one(c);
        }
        if ((c >= 0x4E00 && c <= 0x9FA5) || is_punct_cp(c)) a[k++] = c;
    }
    *norm = to_utf8(a, k);
    free(a);
    return 0;
}

static int push_phone(bv_en_phones *o, int *cap, const char *ph, int tone, char *err, size_t errcap) {
    int id = bv_symbol_id(ph);
    if (id < 0) return snprintf(err, errcap, "phone '%s' is not a Bert-VITS2 symbol", ph), -1;
    if (o->n_phones == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        o->phones = bv_xrealloc(o->phones, (size_t)*cap * sizeof *o->phones);
        o->tones = bv_xrealloc(o->tones, (size_t)*cap * sizeof *o->tones);
    }
    o->phones[o->n_phones] = bv_symbols[id];
    o->tones[o->n_phones++] = tone;
    return 0;
}

static void push_w2p(bv_en_phones *o, int *cap, int v) {
    if (o->n_word2ph == *cap) *cap = *cap ? *cap * 2 : 64, o->word2ph = bv_xrealloc(o->word2ph, (size_t)*cap * sizeof *o->word2ph);
    o->word2ph[o->n_word2ph++] = v;
}

/* One (initial, final) pair -> phones, as _g2p's loop body */
static int map_pinyin(const bv_zh_dict *d, const char *c, const char *v, bv_en_phones *o, int *pcap, int *wcap,
                      char *err, size_t errcap) {
    if (!strcmp(c, v)) {
        int ok = 0;
        for (size_t i = 0; i < sizeof k_punct / sizeof *k_punct; i++) ok |= !strcmp(c, k_punct[i]);
        if (!ok) return snprintf(err, errcap, "'%s' has no pinyin (upstream's assert c in punctuation fails)", c), -1;
        if (push_phone(o, pcap, c, 0, err, errcap)) return -1;
        push_w2p(o, wcap, 1);
        return 0;
    }
    size_t vl = strlen(v);
    if (!vl) return snprintf(err, errcap, "pinyin with initial '%s' has an empty final (upstream raises IndexError)", c), -1;
    /* v[:-1], v[-1] by code point */
    size_t cut = vl - 1;
    while (cut > 0 && ((unsigned char)v[cut] & 0xC0) == 0x80) cut--;
    char tone = v[cut];
    if (vl - cut != 1 || tone < '1' || tone > '5')
        return snprintf(err, errcap, "pinyin final '%s' does not end in a tone 1-5", v), -1;
    char vt[BV_ZH_PY_MAX], pinyin[2 * BV_ZH_PY_MAX + 4];
    memcpy(vt, v, cut), vt[cut] = 0;
    snprintf(pinyin, sizeof pinyin, "%s%s", c, vt);
    if (*c) { /* 多音节: uei iou uen -> ui iu un */
        if (!strcmp(vt, "uei")) snprintf(pinyin, sizeof pinyin, "%sui", c);
        else if (!strcmp(vt, "iou")) snprintf(pinyin, sizeof pinyin, "%siu", c);
        else if (!strcmp(vt, "uen")) snprintf(pinyin, sizeof pinyin, "%sun", c);
    } else { /* 单音节 */
        if (!strcmp(pinyin, "ing")) snprintf(pinyin, sizeof pinyin, "ying");
        else if (!strcmp(pinyin, "i")) snprintf(pinyin, sizeof pinyin, "yi");
        else if (!strcmp(pinyin, "in")) snprintf(pinyin, sizeof pinyin, "yin");
        else if (!strcmp(pinyin, "u")) snprintf(pinyin, sizeof pinyin, "wu");
        else {
            if (!pinyin[0]) return snprintf(err, errcap, "empty pinyin (upstream raises IndexError)"), -1;
            const char *rep = pinyin[0] == 'v' ? "yu" : pinyin[0] == 'e' ? "e" : pinyin[0] == 'i' ? "y" : pinyin[0] == 'u' ? "w" : NULL;
            if (rep) {
                char t[sizeof pinyin + 4];
                snprintf(t, sizeof t, "%s%s", rep, pinyin + 1);
                snprintf(pinyin, sizeof pinyin, "%.*s", (int)(sizeof pinyin - 1), t);
            }
        }
    }
    const char *ph = bv_zh_opencpop_find(d, pinyin);
    if (!ph) return snprintf(err, errcap, "pinyin '%s' (from '%s' + '%s') is not in opencpop-strict.txt", pinyin, c, v), -1;
    char buf[32];
    snprintf(buf, sizeof buf, "%s", ph);
    int count = 0;
    for (char *s = buf, *save = NULL, *tok; (tok = strtok_r(s, " ", &save)); s = NULL) {
        if (push_phone(o, pcap, tok, tone - '0', err, errcap)) return -1;
        count++;
    }
    push_w2p(o, wcap, count);
    return 0;
}

/* _g2p over one sentence piece seg[0..n) */
static int g2p_piece(const bv_zh_dict *d, const uint32_t *seg0, int n0, bv_en_phones *o, int *pcap, int *wcap,
                     char *err, size_t errcap) {
    /* re.sub("[a-zA-Z]+", "", seg) */
    uint32_t *seg = bv_xmalloc(((size_t)n0 + 1) * sizeof *seg);
    int n = 0;
    for (int i = 0; i < n0; i++)
        if (!((seg0[i] >= 'a' && seg0[i] <= 'z') || (seg0[i] >= 'A' && seg0[i] <= 'Z'))) seg[n++] = seg0[i];
    bv_zh_toks toks = {0};
    bv_zh_words words = {0};
    int rc = bv_zh_posseg(d, seg, n, &toks, err, (int)errcap);
    for (int i = 0; !rc && i < toks.n; i++) bv_zh_words_push(&words, seg + toks.v[i].off, toks.v[i].len, toks.v[i].tag);
    bv_zh_toks_free(&toks);
    if (!rc) rc = bv_zh_pre_merge(d, &words, err, (int)errcap);
    /* initials/finals of all words, then the mapping */
    bv_zh_py *py = NULL;
    int npy = 0, cappy = 0;
    for (int i = 0; !rc && i < words.n; i++) {
        bv_zh_word *w = &words.v[i];
        if (!strcmp(w->pos, "eng")) continue;
        if (npy + w->n + 4 > cappy) cappy = (npy + w->n + 4) * 2, py = bv_xrealloc(py, (size_t)cappy * sizeof *py);
        int c = bv_zh_lazy_pinyin(d, w->cp, w->n, py + npy, cappy - npy, err, (int)errcap);
        if (c < 0) {
            rc = -1;
            break;
        }
        if (c != w->n) {
            snprintf(err, errcap, "pinyin items (%d) do not match the characters (%d) of a word", c, w->n);
            rc = -1;
            break;
        }
        char(*fin)[BV_ZH_PY_MAX] = bv_xmalloc((size_t)c * sizeof *fin);
        for (int k = 0; k < c; k++) memcpy(fin[k], py[npy + k].fin, BV_ZH_PY_MAX);
        rc = bv_zh_modified_tone(d, w->cp, w->n, w->pos, fin, err, (int)errcap);
        for (int k = 0; k < c; k++) memcpy(py[npy + k].fin, fin[k], BV_ZH_PY_MAX);
        free(fin);
        npy += c;
    }
    for (int i = 0; !rc && i < npy; i++) rc = map_pinyin(d, py[i].ini, py[i].fin, o, pcap, wcap, err, errcap);
    free(py);
    bv_zh_words_free(&words);
    free(seg);
    return rc;
}

static int is_space(uint32_t c) {
    return (c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

int bv_zh_g2p(const bv_zh_dict *d, const char *norm_text, bv_en_phones *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    int n;
    uint32_t *t = decode(norm_text, &n, err, errcap);
    if (!t) return -1;
    int pcap = 0, wcap = 0, rc = 0;
    if (push_phone(out, &pcap, "_", 0, err, errcap)) rc = -1;
    push_w2p(out, &wcap, 1);
    /* re.split(r"(?<=[punctuation])\s*", text), pieces that are only whitespace dropped */
    for (int i = 0; !rc && i < n;) {
        int j = i;
        while (j < n && !is_punct_cp(t[j])) j++;
        if (j < n) j++; /* the piece ends after its punctuation mark */
        int blank = 1;
        for (int k = i; k < j; k++) blank &= is_space(t[k]);
        if (!blank) rc = g2p_piece(d, t + i, j - i, out, &pcap, &wcap, err, errcap);
        i = j;
        if (i > 0 && is_punct_cp(t[i - 1]))
            while (i < n && is_space(t[i])) i++;
    }
    if (!rc && out->n_word2ph - 1 != n) {
        snprintf(err, errcap, "%d characters gave %d word2ph entries (upstream's assert len(word2ph) == len(text) fails)",
                 n, out->n_word2ph - 1);
        rc = -1;
    }
    if (!rc && push_phone(out, &pcap, "_", 0, err, errcap)) rc = -1;
    if (!rc) push_w2p(out, &wcap, 1);
    free(t);
    if (rc) bv_en_phones_free(out);
    return rc;
}

int bv_zh_clean_text(const bv_zh_dict *d, const char *text, char **norm, bv_en_phones *out, char *err,
                     size_t errcap) {
    memset(out, 0, sizeof *out);
    char *nt = NULL;
    if (bv_zh_normalize(text, &nt, err, errcap)) return -1;
    if (!*nt) {
        free(nt);
        return snprintf(err, errcap, "no Chinese text left after normalization (only CJK ideographs and "
                                     "punctuation are kept)"), -1;
    }
    int rc = bv_zh_g2p(d, nt, out, err, errcap);
    if (!rc && norm) *norm = nt;
    else free(nt);
    return rc;
}

static bv_zh_dict *g_default;

static void free_default(void) {
    bv_zh_dict_free(g_default);
    g_default = NULL;
}

const bv_zh_dict *bv_zh_dict_default(char *err, size_t errcap) {
    if (!g_default) {
        g_default = bv_zh_dict_load(NULL, err, errcap);
        if (g_default) bv_cleanup_register(free_default); /* given back at exit (src/core/cleanup.h) */
    }
    return g_default;
}
