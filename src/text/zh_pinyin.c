/* zh_pinyin.c - pypinyin's lazy_pinyin, Style.INITIALS / Style.FINALS_TONE3 (see zh_pinyin.h).
 *
 * Style conversion follows pypinyin.style: the tone marks become digits (phonetic_symbol table, 'ü' -> 'v'),
 * the digits are dropped and 'v' read as 'ü', the spelling is restored to the scheme's finals
 * (standard.convert_finals: zero-initial y/w, j/q/x + u = ü, iu/ui/un = iou/uei/uen), the strict initial is
 * cut off and the rest kept only if it is one of the scheme's finals (else the non-strict initial y/w is
 * tried), 'ü' is written 'v', and the first tone digit, or 5, is appended. Internally 'V' stands for ü and
 * 'E' for ê. */
#include "zh_pinyin.h"

#include <stdio.h>
#include <string.h>

int bv_zh_is_hans(uint32_t c) {
    return c == 0x3007 || (c >= 0xE815 && c <= 0xE864) || c == 0xFA18 || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A703 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81D) || (c >= 0x2B825 && c <= 0x2BF6E) ||
           (c >= 0x2C029 && c <= 0x2CE93) || c == 0x2D016 || (c >= 0x2D11B && c <= 0x2EBD9) ||
           (c >= 0x2F80A && c <= 0x2FA1F) || (c >= 0x300F7 && c <= 0x31288) || c == 0x30EDD || c == 0x30EDE;
}

static const char *const k_initials[] = {"b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h",
                                         "j", "q", "x", "zh", "ch", "sh", "r", "z", "c", "s", "y", "w"};
#define N_STRICT_INITIALS 21
static const char *const k_finals[] = {"i",   "u",   "V",  "a",   "ia",   "ua",   "o",   "uo",  "e",
                                       "ie",  "Ve",  "ai", "uai", "ei",   "uei",  "ao",  "iao", "ou",
                                       "iou", "an",  "ian", "uan", "Van", "en",   "in",  "uen", "Vn",
                                       "ang", "iang", "uang", "eng", "ing", "ueng", "ong", "iong", "er", "E"};

static int is_final(const char *s) {
    for (size_t i = 0; i < sizeof k_finals / sizeof *k_finals; i++)
        if (!strcmp(k_finals[i], s)) return 1;
    return 0;
}

/* get_initials over an ASCII-ish string: length of the matched initial, 0 for none */
static size_t initial_len(const char *s, int strict) {
    int n = strict ? N_STRICT_INITIALS : (int)(sizeof k_initials / sizeof *k_initials);
    for (int i = 0; i < n; i++) {
        size_t l = strlen(k_initials[i]);
        if (!strncmp(s, k_initials[i], l)) return l;
    }
    return 0;
}

/* One code point of a tone-marked reading -> base letter (ASCII, 'V' for ü) and tone digit (0: none).
 * Returns 0 when c is not a phonetic symbol. */
static int symbol(uint32_t c, char *base, int *tone) {
    static const struct {
        uint32_t c;
        char b;
        int t;
    } tab[] = {{0x101, 'a', 1}, {0xE1, 'a', 2},  {0x1CE, 'a', 3}, {0xE0, 'a', 4},  {0x113, 'e', 1},
               {0xE9, 'e', 2},  {0x11B, 'e', 3}, {0xE8, 'e', 4},  {0x14D, 'o', 1}, {0xF3, 'o', 2},
               {0x1D2, 'o', 3}, {0xF2, 'o', 4},  {0x12B, 'i', 1}, {0xED, 'i', 2},  {0x1D0, 'i', 3},
               {0xEC, 'i', 4},  {0x16B, 'u', 1}, {0xFA, 'u', 2},  {0x1D4, 'u', 3}, {0xF9, 'u', 4},
               {0xFC, 'V', 0},  {0x1D6, 'V', 1}, {0x1D8, 'V', 2}, {0x1DA, 'V', 3}, {0x1DC, 'V', 4},
               {0x144, 'n', 2}, {0x148, 'n', 3}, {0x1F9, 'n', 4}, {0x1E3F, 'm', 2}, {0x1EBF, 'E', 2},
               {0x1EC1, 'E', 4}};
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (tab[i].c == c) return *base = tab[i].b, *tone = tab[i].t, 1;
    return 0;
}

int bv_zh_pinyin_style(const uint32_t *py, int n, char *ini, char *fin, int cap) {
    /* INITIALS: get_initials(raw reading, strict) */
    char raw[128];
    size_t rl = 0;
    for (int i = 0; i < n; i++) {
        if (rl + 4 >= sizeof raw) return -1;
        rl += bv_zh_utf8_put(raw + rl, py[i]);
    }
    raw[rl] = 0;
    size_t il = initial_len(raw, 1);
    if ((int)il >= cap) return -1;
    memcpy(ini, raw, il), ini[il] = 0;

    /* replace_symbol_to_number, then drop digits ('v' -> 'ü'): letters in s, first digit in tone */
    char s[128];
    size_t sl = 0;
    int tone = 0;
    for (int i = 0; i < n; i++) {
        uint32_t c = py[i];
        char b = 0;
        int t = 0;
        if (i + 1 < n && (c == 'm' || c == 0xEA) && (py[i + 1] == 0x304 || py[i + 1] == 0x300 || py[i + 1] == 0x30C)) {
            uint32_t m = py[i + 1];
            int ok = c == 'm' ? (m == 0x304 || m == 0x300) : (m == 0x304 || m == 0x30C);
            if (ok) {
                b = c == 'm' ? 'm' : 'E';
                t = m == 0x304 ? 1 : m == 0x300 ? 4 : 3;
                i++;
            }
        }
        if (!b && !symbol(c, &b, &t)) {
            if (c == '5') continue; /* pinyin.replace('5', '') */
            if (c >= '0' && c <= '9') {
                if (!tone) tone = (int)(c - '0') ? (int)(c - '0') : -1;
                continue;
            }
            if (c == 'v') b = 'V';
            else if (c == 0xEA) b = 'E';
            else if (c < 0x80) b = (char)c;
            else b = '?'; /* a character no final contains: the final check below rejects it */
        }
        if (t && !tone) tone = t;
        if (sl + 2 >= sizeof s) return -1;
        s[sl++] = b;
    }
    s[sl] = 0;
    /* convert_zero_consonant */
    char p[140];
    snprintf(p, sizeof p, "%s", s);
    if (s[0] == 'y') {
        const char *no_y = s + 1;
        if (no_y[0] == 'u') snprintf(p, sizeof p, "V%s", s + 2);
        else if (no_y[0] == 'i') snprintf(p, sizeof p, "%s", no_y);
        else snprintf(p, sizeof p, "i%s", no_y);
    }
    if (s[0] == 'w') {
        char q[140];
        if (p[1] == 'u') snprintf(q, sizeof q, "%s", p + 1);
        else snprintf(q, sizeof q, "u%s", p + 1);
        snprintf(p, sizeof p, "%s", q);
    }
    if (!is_final(p)) snprintf(p, sizeof p, "%s", s);
    /* convert_uv: ^(j|q|x)u -> ü */
    if ((p[0] == 'j' || p[0] == 'q' || p[0] == 'x') && p[1] == 'u') p[1] = 'V';
    size_t pl = strlen(p);
    /* convert_iou: ^([a-z]+)iu$ */
    if (pl >= 3 && !strcmp(p + pl - 2, "iu")) {
        int all = 1;
        for (size_t i = 0; i + 2 < pl; i++) all &= p[i] >= 'a' && p[i] <= 'z';
        if (all && pl + 1 < sizeof p) p[pl - 1] = 'o', p[pl] = 'u', p[++pl] = 0;
    }
    /* convert_uei / convert_uen: ([a-z]+)(ui|un)$ anywhere */
    if (pl >= 3 && (!strcmp(p + pl - 2, "ui") || !strcmp(p + pl - 2, "un")) && p[pl - 3] >= 'a' && p[pl - 3] <= 'z' &&
        pl + 1 < sizeof p) {
        char last = p[pl - 1];
        p[pl - 1] = 'e', p[pl] = last, p[++pl] = 0;
    }
    /* get_finals(strict) */
    const char *f = p + initial_len(p, 1);
    if (!is_final(f)) {
        f = p + initial_len(p, 0);
        if (!is_final(f)) f = "";
    }
    if (!*f) return fin[0] = 0, 0;
    char out[64];
    size_t ol = 0;
    for (const char *c = f; *c; c++) {
        if (*c == 'V') out[ol++] = 'v';
        else if (*c == 'E') ol += bv_zh_utf8_put(out + ol, 0xEA);
        else out[ol++] = *c;
    }
    out[ol++] = (char)('0' + (tone > 0 ? tone : tone < 0 ? 0 : 5));
    out[ol] = 0;
    if ((int)ol >= cap) return -1;
    memcpy(fin, out, ol + 1);
    return 0;
}

/* A reading for one item: syllable id, or none (''/'') */
static void put_syl(const bv_zh_dict *d, int id, bv_zh_py *o) {
    if (id < 0) o->ini[0] = o->fin[0] = 0;
    else *o = d->syl[id];
}

int bv_zh_lazy_pinyin(const bv_zh_dict *d, const uint32_t *w, int n, bv_zh_py *out, int cap, char *err, int errcap) {
    int k = 0;
    for (int i = 0; i < n;) {
        int j = i;
        int hans = bv_zh_is_hans(w[i]);
        while (j < n && bv_zh_is_hans(w[j]) == hans) j++;
        if (!hans) { /* handle_nopinyin, errors='default': the run itself, for both styles */
            if (k >= cap) return snprintf(err, (size_t)errcap, "too many pinyin items"), -1;
            char buf[BV_ZH_PY_MAX + 4];
            size_t bl = 0;
            for (int t = i; t < j; t++) {
                if (bl + 4 >= BV_ZH_PY_MAX) return snprintf(err, (size_t)errcap, "a run of %d non-Chinese characters is too long", j - i), -1;
                bl += bv_zh_utf8_put(buf + bl, w[t]);
            }
            buf[bl] = 0;
            memcpy(out[k].ini, buf, bl + 1);
            memcpy(out[k].fin, buf, bl + 1);
            k++;
            i = j;
            continue;
        }
        /* mmseg.Seg.cut(text) with no_non_phrases=True, over w[i..j) */
        int r = i;
        while (r < j) {
            int plen = 0; /* length of `matched` */
            int piece = 0, single = 0, whole = 1;
            for (int idx = r; idx < j; idx++) {
                int l = idx - r + 1;
                int64_t e = bv_zh_map_find(&d->phrases, w + r, (uint32_t)l);
                if (e >= 0) {
                    plen = l;
                } else {
                    int64_t me = plen ? bv_zh_map_find(&d->phrases, w + r, (uint32_t)plen) : -1;
                    if (plen && d->phrase_off[me] != UINT32_MAX) piece = plen;
                    else single = 1;
                    whole = 0;
                    break;
                }
            }
            int emit_len = whole ? j - r : single ? 1 : piece;
            if (k + emit_len > cap) return snprintf(err, (size_t)errcap, "too many pinyin items"), -1;
            int64_t e = bv_zh_map_find(&d->phrases, w + r, (uint32_t)emit_len);
            if (e >= 0 && d->phrase_off[e] != UINT32_MAX) { /* _phrase_pinyin: the phrase's readings */
                for (int t = 0; t < emit_len; t++) put_syl(d, d->phrase_syl[d->phrase_off[e] + (uint32_t)t], &out[k++]);
            } else { /* whole remain not a phrase: each character is its own piece */
                for (int t = 0; t < emit_len; t++) {
                    uint32_t c = w[r + t];
                    int64_t e1 = emit_len > 1 ? bv_zh_map_find(&d->phrases, &c, 1) : -1;
                    if (e1 >= 0 && d->phrase_off[e1] != UINT32_MAX) {
                        put_syl(d, d->phrase_syl[d->phrase_off[e1]], &out[k++]);
                        continue;
                    }
                    int id = c < d->pinyin_max_cp && d->pinyin_of[c] ? d->pinyin_of[c] - 1 : -1;
                    put_syl(d, id, &out[k++]);
                }
            }
            r += emit_len;
        }
        i = j;
    }
    return k;
}
