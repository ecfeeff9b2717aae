/* normalize.c - upstream english.py text_normalize() (see normalize.h).
 *
 * Each regular expression of upstream is one pass over a growable string, written to give what
 * Python's re.sub gives: a left-to-right scan, non-overlapping matches, greedy runs that backtrack
 * to the last digit where the pattern ends in [0-9]. Number words come from a port of the inflect
 * engine's number_to_words: it builds the same intermediate string (spaces and ", " separators
 * included) and applies the same clean-up substitutions, because upstream's output keeps some of
 * those artefacts (a comma after "thousand" unless the last group is a single word). */
#include "normalize.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

/* ---- a growable string ---- */

typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_addn(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        b->s = bv_xrealloc(b->s, cap);
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}
static void sb_add(sbuf *b, const char *s) { sb_addn(b, s, strlen(s)); }
static void sb_clear(sbuf *b) {
    b->len = 0;
    sb_addn(b, "", 0);   /* allocated and NUL-terminated even when nothing is added */
}
static void sb_free(sbuf *b) {
    free(b->s);
    *b = (sbuf){0};
}
/* Replace *dst by src, leaving src empty (for the next pass). */
static void sb_swap(sbuf *a, sbuf *b) {
    sbuf t = *a;
    *a = *b;
    *b = t;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* ---- UTF-8 and character classes ---- */

int bv_en_utf8_decode(const char *str, unsigned *cp) {
    const unsigned char *s = (const unsigned char *)str;
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    int n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (n == 0 || s[0] > 0xF4) return 0;
    unsigned c = s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min_cp[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;   /* overlong, surrogate */
    *cp = c;
    return n;
}

int bv_en_is_space_cp(unsigned cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

/* Python's \w: ASCII letters, digits, "_"; a non-ASCII code point counts unless it is a space or
 * lies in a block of punctuation and symbols (an approximation, see normalize.h). */
static int is_word_cp(unsigned cp) {
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '_';
    if (bv_en_is_space_cp(cp)) return 0;
    if (cp < 0xC0) return cp == 0xAA || cp == 0xB2 || cp == 0xB3 || cp == 0xB5 || cp == 0xB9 || cp == 0xBA ||
                          (cp >= 0xBC && cp <= 0xBE);
    if (cp == 0xD7 || cp == 0xF7) return 0;
    static const unsigned non_word[][2] = {
        {0x0300, 0x036F}, {0x2000, 0x206F}, {0x20A0, 0x20FF}, {0x2190, 0x245F}, {0x2500, 0x27BF},
        {0x2E00, 0x2E7F}, {0x3000, 0x3004}, {0x3008, 0x3020}, {0x30FB, 0x30FB}, {0xFE00, 0xFE0F},
        {0xFE30, 0xFE4F}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF20}, {0xFF3B, 0xFF40}, {0xFF5B, 0xFF65},
        {0x1F000, 0x1FAFF},
    };
    for (size_t i = 0; i < sizeof non_word / sizeof non_word[0]; i++)
        if (cp >= non_word[i][0] && cp <= non_word[i][1]) return 0;
    return 1;
}

/* ---- inflect number_to_words ---- */

static const char *const UNIT[10] = {"", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
static const char *const TEEN[10] = {"ten", "eleven", "twelve", "thirteen", "fourteen",
                                     "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
static const char *const TEN[10] = {"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};
#define N_MILL 12
static const char *const MILL[N_MILL] = {" ", " thousand", " million", " billion", " trillion", " quadrillion",
                                         " quintillion", " sextillion", " septillion", " octillion",
                                         " nonillion", " decillion"};
#define MAX_NUMBER_DIGITS (3 * N_MILL)   /* a longer number makes inflect raise NumOutOfRangeError */

/* inflect tenfn(tens, units, mindex). */
static void tenfn(sbuf *o, int t, int u, int mindex) {
    if (t != 1) {
        sb_add(o, TEN[t]);
        if (t && u) sb_add(o, "-");
        sb_add(o, UNIT[u]);
    } else {
        sb_add(o, TEEN[u]);
    }
    sb_add(o, MILL[mindex]);
}

/* inflect hundfn(hundreds, tens, units, mindex); tenfn is called with mindex 0, hence its " ". */
static void hundfn(sbuf *o, int h, int t, int u, int mindex, const char *andword) {
    if (h) {
        sb_add(o, UNIT[h]);
        sb_add(o, " hundred");
        if (t || u) {
            sb_add(o, " ");
            sb_add(o, andword);
            sb_add(o, " ");
        }
        tenfn(o, t, u, 0);
        sb_add(o, MILL[mindex]);
        sb_add(o, ", ");
    } else if (t || u) {
        tenfn(o, t, u, 0);
        sb_add(o, MILL[mindex]);
        sb_add(o, ", ");
    }
}

/* re.sub(r"\s+", " ", s) over inflect's space-only strings, then a plain strip(). */
static void collapse_spaces(sbuf *b) {
    size_t w = 0;
    for (size_t r = 0; r < b->len; r++) {
        if (b->s[r] == ' ' && w > 0 && b->s[w - 1] == ' ') continue;
        b->s[w++] = b->s[r];
    }
    size_t start = (w > 0 && b->s[0] == ' ') ? 1 : 0;
    if (w > start && b->s[w - 1] == ' ') w--;
    memmove(b->s, b->s + start, w - start);
    b->len = w - start;
    b->s[b->len] = '\0';
}

/* _handle_chunk's clean-up for the first chunk with group=0: drop a final ", ", re.sub(r"\s+,", ","),
 * re.sub(r", (\S+)\s+\Z", " <andword> \1") and collapse spaces. */
static void inflect_cleanup(sbuf *b, const char *andword) {
    if (b->len >= 2 && memcmp(b->s + b->len - 2, ", ", 2) == 0) b->len -= 2;
    b->s[b->len] = '\0';
    size_t w = 0;
    for (size_t r = 0; r < b->len; r++) {
        if (b->s[r] == ',')
            while (w > 0 && b->s[w - 1] == ' ') w--;
        b->s[w++] = b->s[r];
    }
    b->len = w;
    b->s[w] = '\0';
    size_t end = b->len;   /* ", (\S+)\s+\Z": trailing spaces, one token, ", " right before it */
    while (end > 0 && b->s[end - 1] == ' ') end--;
    if (end < b->len) {
        size_t tok = end;
        while (tok > 0 && b->s[tok - 1] != ' ') tok--;
        if (tok < end && tok >= 2 && b->s[tok - 2] == ',' && b->s[tok - 1] == ' ') {
            sbuf t = {0};
            sb_addn(&t, b->s, tok - 2);
            sb_add(&t, " ");
            sb_add(&t, andword);
            sb_add(&t, " ");
            sb_addn(&t, b->s + tok, end - tok);
            sb_swap(b, &t);
            sb_free(&t);
        }
    }
    collapse_spaces(b);
}

/* inflect _sub_ord on the last ", "-separated chunk. */
static void sub_ord(sbuf *b) {
    static const char *const from[] = {"ty", "one", "two", "three", "five", "eight", "nine", "twelve"};
    static const char *const to[] = {"tieth", "first", "second", "third", "fifth", "eighth", "ninth", "twelfth"};
    for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
        size_t n = strlen(from[i]);
        if (b->len >= n && memcmp(b->s + b->len - n, from[i], n) == 0) {
            b->len -= n;
            b->s[b->len] = '\0';
            sb_add(b, to[i]);
            return;
        }
    }
    sb_add(b, "th");
}

/* number_to_words(digits, andword=andword) (group 0, zero="zero", one="one"), with inflect's ordinal
 * ending when ordinal is set. Appends to out. */
static int inflect_words(sbuf *out, const char *digits, size_t n, const char *andword, int ordinal, char *err,
                         size_t err_cap) {
    while (n > 0 && digits[0] == '0') digits++, n--;            /* int(num) == 0 / 1, lstrip("0") */
    sbuf w = {0};
    if (n == 0 || (n == 1 && digits[0] == '1')) {
        sb_add(&w, n == 0 ? "zero" : "one");
    } else {
        if (n > MAX_NUMBER_DIGITS) {
            bv_err_set(err, err_cap, "number %.*s%s has %zu digits; upstream's inflect reads at most %d", 20, digits,
                       "...", n, MAX_NUMBER_DIGITS);
            return -1;
        }
        size_t k = n / 3, r = n % 3;                         /* groups of three from the right, r leading */
        if (r == 2) {
            tenfn(&w, digits[0] - '0', digits[1] - '0', (int)k);
            sb_add(&w, ", ");
        } else if (r == 1) {
            sb_add(&w, UNIT[digits[0] - '0']);
            sb_add(&w, MILL[k]);
            sb_add(&w, ", ");
        }
        for (size_t g = 0; g < k; g++) {
            const char *d = digits + r + 3 * g;
            hundfn(&w, d[0] - '0', d[1] - '0', d[2] - '0', (int)(k - 1 - g), andword);
        }
        inflect_cleanup(&w, andword);
    }
    if (ordinal) {
        char *last = w.s;                                     /* numchunks[-1] = _sub_ord(numchunks[-1]) */
        for (char *p = w.s; (p = strstr(p, ", ")) != NULL; p += 2) last = p + 2;
        sbuf tail = {0};
        sb_add(&tail, last);
        w.len = (size_t)(last - w.s);
        sub_ord(&tail);
        sb_addn(&w, tail.s, tail.len);
        sb_free(&tail);
    }
    sb_addn(out, w.s, w.len);
    sb_free(&w);
    return 0;
}

/* Two digits the way inflect's group=2 reading gives them (tenfn, or "oh" + unit). */
static void year_pair(sbuf *o, int t, int u) {
    if (t) {
        tenfn(o, t, u, 0);
        o->len--;                                             /* tenfn's trailing mill[0] " " */
        o->s[o->len] = '\0';
    } else {
        sb_add(o, "oh ");
        sb_add(o, UNIT[u]);
    }
}

/* upstream _expand_number(int(digits)). */
static int expand_number(sbuf *out, const char *digits, size_t n, char *err, size_t err_cap) {
    while (n > 1 && digits[0] == '0') digits++, n--;
    int v = 0;
    if (n <= 4)
        for (size_t i = 0; i < n; i++) v = 10 * v + (digits[i] - '0');
    if (n > 4 || v <= 1000 || v >= 3000) return inflect_words(out, digits, n, "", 0, err, err_cap);
    if (v == 2000) {
        sb_add(out, "two thousand");
    } else if (v > 2000 && v < 2010) {
        sb_add(out, "two thousand ");
        sb_add(out, UNIT[v % 100]);
    } else if (v % 100 == 0) {
        char h[3] = {(char)('0' + v / 1000), (char)('0' + v / 100 % 10), 0};
        inflect_words(out, h, 2, "and", 0, err, err_cap);
        sb_add(out, " hundred");
    } else {                                                  /* group=2, zero="oh", ", " -> " " */
        year_pair(out, v / 1000, v / 100 % 10);
        sb_add(out, " ");
        year_pair(out, v / 10 % 10, v % 10);
    }
    return 0;
}

int bv_en_number_words(const char *digits, int ordinal, char *out, size_t cap, char *err, size_t err_cap) {
    size_t n = strlen(digits);
    int ok = n > 0;
    for (size_t i = 0; i < n; i++) ok &= is_digit(digits[i]);
    if (!ok) {
        bv_err_set(err, err_cap, "number words: '%s' is not a digit string", digits);
        return -1;
    }
    sbuf b = {0};
    int rc = ordinal ? inflect_words(&b, digits, n, "and", 1, err, err_cap) : expand_number(&b, digits, n, err, err_cap);
    if (rc == 0 && b.len + 1 > cap) {
        bv_err_set(err, err_cap, "number words: %zu bytes needed, buffer has %zu", b.len + 1, cap);
        rc = -1;
    }
    if (rc == 0) memcpy(out, b.s, b.len + 1);
    sb_free(&b);
    return rc;
}

/* ---- normalize_numbers: one pass per upstream regular expression ---- */

/* End of the [0-9<extra>]* run starting at i, backed up to just after its last digit (i if none). */
static size_t run_to_last_digit(const char *s, size_t i, const char *extra) {
    size_t end = i, last = i;
    while (s[end] && (is_digit(s[end]) || strchr(extra, s[end]))) {
        end++;
        if (is_digit(s[end - 1])) last = end;
    }
    return last;
}

/* _comma_number_re ([0-9][0-9\,]+[0-9]) -> the match without commas. */
static int pass_commas(sbuf *o, const char *s, char *err, size_t err_cap) {
    for (size_t i = 0; s[i];) {
        size_t end = is_digit(s[i]) ? run_to_last_digit(s, i, ",") : i;
        if (end >= i + 3) {
            for (size_t j = i; j < end; j++)
                if (s[j] != ',') sb_addn(o, s + j, 1);
            i = end;
        } else {
            sb_addn(o, s + i, 1);
            i++;
        }
    }
    return 0;
}

/* _pounds_re £([0-9\,]*[0-9]+) -> r"\1 pounds". */
static int pass_pounds(sbuf *o, const char *s, char *err, size_t err_cap) {
    for (size_t i = 0; s[i];) {
        if ((unsigned char)s[i] == 0xC2 && (unsigned char)s[i + 1] == 0xA3) {
            size_t end = run_to_last_digit(s, i + 2, ",");
            if (end > i + 2) {
                sb_addn(o, s + i + 2, end - (i + 2));
                sb_add(o, " pounds");
                i = end;
                continue;
            }
        }
        sb_addn(o, s + i, 1);
        i++;
    }
    return 0;
}

/* int(part) of a "$" amount, as a digit string without leading zeros. */
static int dollar_int(const char *p, size_t n, sbuf *v, char *err, size_t err_cap) {
    for (size_t i = 0; i < n; i++)
        if (!is_digit(p[i])) {
            bv_err_set(err, err_cap, "cannot read the amount in \"$%.*s\" (upstream's int() rejects it)", (int)n, p);
            return -1;
        }
    while (n > 1 && p[0] == '0') p++, n--;
    sb_clear(v);
    sb_addn(v, p, n);
    return 0;
}

/* _expand_dollars on the text m[0..n) matched after "$". */
static int expand_dollars(sbuf *o, const char *m, size_t n, char *err, size_t err_cap) {
    const char *dot = memchr(m, '.', n);
    if (dot && memchr(dot + 1, '.', n - (size_t)(dot + 1 - m))) {   /* len(parts) > 2 */
        sb_addn(o, m, n);
        sb_add(o, " dollars");
        return 0;
    }
    size_t n0 = dot ? (size_t)(dot - m) : n;
    sbuf d = {0}, c = {0};
    sb_add(&d, "0");
    sb_add(&c, "0");
    int rc = 0;
    if (n0 > 0) rc = dollar_int(m, n0, &d, err, err_cap);
    if (rc == 0 && dot && n > n0 + 1) rc = dollar_int(dot + 1, n - n0 - 1, &c, err, err_cap);
    if (rc == 0) {
        int has_d = strcmp(d.s, "0") != 0, has_c = strcmp(c.s, "0") != 0;
        const char *du = strcmp(d.s, "1") == 0 ? "dollar" : "dollars";
        const char *cu = strcmp(c.s, "1") == 0 ? "cent" : "cents";
        if (has_d) {
            sb_add(o, d.s);
            sb_add(o, " ");
            sb_add(o, du);
            if (has_c) sb_add(o, ", ");
        }
        if (has_c) {
            sb_add(o, c.s);
            sb_add(o, " ");
            sb_add(o, cu);
        }
        if (!has_d && !has_c) sb_add(o, "zero dollars");
    }
    sb_free(&d);
    sb_free(&c);
    return rc;
}

/* _dollars_re \$([0-9\.\,]*[0-9]+) -> _expand_dollars. */
static int pass_dollars(sbuf *o, const char *s, char *err, size_t err_cap) {
    for (size_t i = 0; s[i];) {
        if (s[i] == '$') {
            size_t end = run_to_last_digit(s, i + 1, ".,");
            if (end > i + 1) {
                if (expand_dollars(o, s + i + 1, end - (i + 1), err, err_cap)) return -1;
                i = end;
                continue;
            }
        }
        sb_addn(o, s + i, 1);
        i++;
    }
    return 0;
}

/* _decimal_number_re ([0-9]+\.[0-9]+) -> "." replaced by " point ". */
static int pass_decimals(sbuf *o, const char *s, char *err, size_t err_cap) {
    for (size_t i = 0; s[i];) {
        if (!is_digit(s[i])) {
            sb_addn(o, s + i, 1);
            i++;
            continue;
        }
        size_t a = i;
        while (is_digit(s[a])) a++;
        sb_addn(o, s + i, a - i);
        i = a;
        if (s[a] == '.' && is_digit(s[a + 1])) {
            size_t b = a + 1;
            while (is_digit(s[b])) b++;
            sb_add(o, " point ");
            sb_addn(o, s + a + 1, b - a - 1);
            i = b;
        }
    }
    return 0;
}

/* _ordinal_re [0-9]+(st|nd|rd|th) -> ordinal words; then _number_re [0-9]+ -> _expand_number. */
static int pass_numbers(sbuf *o, const char *s, int ordinals, char *err, size_t err_cap) {
    for (size_t i = 0; s[i];) {
        if (!is_digit(s[i])) {
            sb_addn(o, s + i, 1);
            i++;
            continue;
        }
        size_t a = i;
        while (is_digit(s[a])) a++;
        if (ordinals) {
            const char *suf = s + a;
            int is_ord = (suf[0] == 's' && suf[1] == 't') || (suf[0] == 'n' && suf[1] == 'd') ||
                         (suf[0] == 'r' && suf[1] == 'd') || (suf[0] == 't' && suf[1] == 'h');
            if (is_ord) {
                if (inflect_words(o, s + i, a - i, "and", 1, err, err_cap)) return -1;
                i = a + 2;
            } else {
                sb_addn(o, s + i, a - i);
                i = a;
            }
        } else {
            if (expand_number(o, s + i, a - i, err, err_cap)) return -1;
            i = a;
        }
    }
    return 0;
}

static int pass_ordinals(sbuf *o, const char *s, char *err, size_t err_cap) {
    return pass_numbers(o, s, 1, err, err_cap);
}
static int pass_cardinals(sbuf *o, const char *s, char *err, size_t err_cap) {
    return pass_numbers(o, s, 0, err, err_cap);
}

/* ---- replace_punctuation and the space after punctuation ---- */

/* upstream rep_map, in its order: the first key that matches at a position wins. */
static const char *const REP_MAP[][2] = {
    {"\xEF\xBC\x9A", ","},  {"\xEF\xBC\x9B", ","},  {"\xEF\xBC\x8C", ","},  {"\xE3\x80\x82", "."},   /* ：；，。 */
    {"\xEF\xBC\x81", "!"},  {"\xEF\xBC\x9F", "?"},  {"\n", "."},            {"\xEF\xBC\x8E", "."},   /* ！？\n． */
    {"\xE2\x80\xA6", "..."},                                                                           /* … */
    {"\xC2\xB7\xC2\xB7\xC2\xB7", "..."}, {"\xE3\x83\xBB\xE3\x83\xBB\xE3\x83\xBB", "..."},              /* ··· ・・・ */
    {"\xC2\xB7", ","},      {"\xE3\x83\xBB", ","},  {"\xE3\x80\x81", ","},  {"$", "."},              /* · ・ 、 $ */
    {"\xE2\x80\x9C", "'"},  {"\xE2\x80\x9D", "'"},  {"\"", "'"},            {"\xE2\x80\x98", "'"},   /* “ ” " ‘ */
    {"\xE2\x80\x99", "'"},  {"\xEF\xBC\x88", "'"},  {"\xEF\xBC\x89", "'"},  {"(", "'"},              /* ’ （ ） ( */
    {")", "'"},             {"\xE3\x80\x8A", "'"},  {"\xE3\x80\x8B", "'"},  {"\xE3\x80\x90", "'"},   /* ) 《 》 【 */
    {"\xE3\x80\x91", "'"},  {"[", "'"},             {"]", "'"},             {"\xE2\x80\x94", "-"},   /* 】 [ ] — */
    {"\xE2\x88\x92", "-"},  {"\xEF\xBD\x9E", "-"},  {"~", "-"},             {"\xE3\x80\x8C", "'"},   /* − ～ ~ 「 */
    {"\xE3\x80\x8D", "'"},                                                                             /* 」 */
};

static int pass_punctuation(sbuf *o, const char *s, char *err, size_t err_cap) {
    for (size_t i = 0; s[i];) {
        size_t k = 0, nk = sizeof REP_MAP / sizeof REP_MAP[0];
        for (; k < nk; k++)
            if (strncmp(s + i, REP_MAP[k][0], strlen(REP_MAP[k][0])) == 0) break;
        if (k < nk) {
            sb_add(o, REP_MAP[k][1]);
            i += strlen(REP_MAP[k][0]);
        } else {
            sb_addn(o, s + i, 1);
            i++;
        }
    }
    return 0;
}

/* re.sub(r"([,;.\?\!])([\w])", r"\1 \2"). */
static int pass_space_after(sbuf *o, const char *s, char *err, size_t err_cap) {
    for (size_t i = 0; s[i];) {
        sb_addn(o, s + i, 1);
        if (strchr(",;.?!", s[i])) {
            unsigned cp;
            int n = bv_en_utf8_decode(s + i + 1, &cp);
            if (n > 0 && s[i + 1] && is_word_cp(cp)) {
                sb_add(o, " ");
                sb_addn(o, s + i + 1, (size_t)n);
                i += 1 + (size_t)n;
                continue;
            }
        }
        i++;
    }
    return 0;
}

typedef int (*pass_fn)(sbuf *o, const char *s, char *err, size_t err_cap);

/* text_normalize into a growable string; 0 or -1 with err. */
static int normalize(const char *in, sbuf *res, char *err, size_t err_cap) {
    for (size_t i = 0; in[i];) {
        unsigned cp;
        int n = bv_en_utf8_decode(in + i, &cp);
        if (n == 0) {
            bv_err_set(err, err_cap, "text is not valid UTF-8 (byte offset %zu)", i);
            return -1;
        }
        i += (size_t)n;
    }
    /* normalize_numbers, replace_punctuation, the space after punctuation: upstream's order */
    static const pass_fn passes[] = {pass_commas, pass_pounds, pass_dollars, pass_decimals,
                                     pass_ordinals, pass_cardinals, pass_punctuation, pass_space_after};
    sbuf tmp = {0};
    sb_clear(res);
    sb_add(res, in);
    int rc = 0;
    for (size_t p = 0; p < sizeof passes / sizeof passes[0] && rc == 0; p++) {
        sb_clear(&tmp);
        rc = passes[p](&tmp, res->s, err, err_cap);
        sb_swap(res, &tmp);
    }
    sb_free(&tmp);
    return rc;
}

int bv_en_normalize(const char *in, char *out, size_t cap, char *err, size_t err_cap) {
    sbuf r = {0};
    int rc = normalize(in, &r, err, err_cap);
    if (rc == 0 && r.len + 1 > cap) {
        bv_err_set(err, err_cap, "normalized text needs %zu bytes, the buffer has %zu", r.len + 1, cap);
        rc = -1;
    }
    if (rc == 0) memcpy(out, r.s, r.len + 1);
    sb_free(&r);
    return rc;
}

char *bv_en_normalize_alloc(const char *in, char *err, size_t err_cap) {
    sbuf r = {0};
    if (normalize(in, &r, err, err_cap)) {
        sb_free(&r);
        return NULL;
    }
    return r.s;
}
