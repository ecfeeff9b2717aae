/* ja_numbers.c - upstream's japanese_convert_numbers_to_words with num2words 0.5.13's Japanese
 * cardinals (lang_JA): digit separators removed, currency symbols moved after the amount as a word,
 * then every [0-9]+(\.[0-9]+)? spelled in kanji (see japanese.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "japanese.h"

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = 2 * (b->n + n + 1) + 32;
        b->p = bv_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

static int isdig(char c) { return c >= '0' && c <= '9'; }

static const char *const digit_kanji[10] = {"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"};
/* 10^(4k), k = 1..12 (num2words stops at 極; 10^52 and up overflow) */
static const char *const myriad_kanji[13] = {"", "万", "億", "兆", "京", "垓", "秭", "穣", "溝", "澗", "正", "載", "極"};

/* num2words(int, lang="ja") for a string of digits (leading zeros allowed). -1 when num2words
 * overflows (10^52 and above). */
static int cardinal(sbuf *b, const char *d, size_t n) {
    while (n > 1 && *d == '0') d++, n--;
    if (n > 52) return -1;
    if (n == 1 && *d == '0') {
        puts_(b, digit_kanji[0]);
        return 0;
    }
    int groups = (int)((n + 3) / 4);
    for (int g = groups - 1; g >= 0; g--) {
        /* digits of this group of four (thousands, hundreds, tens, units) */
        int v[4] = {0, 0, 0, 0};
        for (int k = 0; k < 4; k++) {
            long pos = (long)n - 1 - (g * 4 + (3 - k)); /* index in d */
            v[k] = pos >= 0 ? d[pos] - '0' : 0;
        }
        if (!v[0] && !v[1] && !v[2] && !v[3]) continue;
        static const char *const place[3] = {"千", "百", "十"};
        for (int k = 0; k < 3; k++) {
            if (!v[k]) continue;
            if (v[k] > 1) puts_(b, digit_kanji[v[k]]);
            puts_(b, place[k]);
        }
        /* the units digit; a lone 一 is written before 万 and above (一万), not before 千/百/十 */
        if (v[3]) puts_(b, digit_kanji[v[3]]);
        if (g > 0) puts_(b, myriad_kanji[g]);
    }
    return 0;
}

/* num2words("I.F", lang="ja"): Decimal -> float -> pre 点 digit by digit, as num2words'
 * to_cardinal_float (integral values such as "2.0" read as integers). */
static int decimal(sbuf *b, const char *s, size_t n) {
    const char *dot = memchr(s, '.', n);
    size_t ni = (size_t)(dot - s);
    int frac_zero = 1;
    for (const char *p = dot + 1; p < s + n; p++) frac_zero &= *p == '0';
    if (frac_zero) return cardinal(b, s, ni);
    char tmp[128];
    if (n >= sizeof tmp) return -1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    double x = strtod(tmp, NULL);
    if (!isfinite(x) || x >= 1e15) return -1; /* float precision: not reproducible, refuse */
    /* repr(x): the shortest digits that read back as x */
    char rep[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(rep, sizeof rep, "%.*g", prec, x);
        if (strtod(rep, NULL) == x) break;
    }
    if (strchr(rep, 'e')) return -1;
    const char *rd = strchr(rep, '.');
    double pre = floor(x);
    char pre_s[64];
    snprintf(pre_s, sizeof pre_s, "%.0f", pre);
    if (cardinal(b, pre_s, strlen(pre_s))) return -1;
    puts_(b, "点");
    if (!rd) return 0;
    int precision = (int)strlen(rd + 1);
    double post = fabs(x - pre) * pow(10.0, precision);
    long long ip = fabs(round(post) - post) < 0.01 ? (long long)llround(post) : (long long)floor(post);
    char post_s[64];
    snprintf(post_s, sizeof post_s, "%0*lld", precision, ip);
    for (int i = 0; i < precision && post_s[i]; i++) puts_(b, digit_kanji[post_s[i] - '0']);
    return 0;
}

char *bv_ja_numbers_to_words(const char *text, char *err, size_t err_cap) {
    size_t n = strlen(text);
    /* 1. [0-9]{1,3}(,[0-9]{3})+ -> without commas */
    sbuf a = {0};
    put(&a, "", 0);
    for (size_t i = 0; i < n;) {
        size_t best = 0;
        if (isdig(text[i])) {
            for (size_t lead = 3; lead >= 1 && !best; lead--) {
                size_t k;
                for (k = 0; k < lead; k++)
                    if (i + k >= n || !isdig(text[i + k])) break;
                if (k < lead) continue;
                size_t end = i + lead, groups = 0;
                while (end + 4 <= n && text[end] == ',' && isdig(text[end + 1]) && isdig(text[end + 2]) &&
                       isdig(text[end + 3]))
                    end += 4, groups++;
                if (groups) best = end - i;
            }
        }
        if (best) {
            for (size_t k = i; k < i + best; k++)
                if (text[k] != ',') put(&a, text + k, 1);
            i += best;
        } else {
            put(&a, text + i, 1);
            i++;
        }
    }
    /* 2. ([$¥£€])([0-9.]*[0-9]) -> amount + currency word */
    static const char *const cur[4][2] = {{"$", "ドル"}, {"¥", "円"}, {"£", "ポンド"}, {"€", "ユーロ"}};
    sbuf c = {0};
    put(&c, "", 0);
    for (size_t i = 0; i < a.n;) {
        int hit = -1;
        size_t sl = 0;
        for (int k = 0; k < 4; k++) {
            sl = strlen(cur[k][0]);
            if (!strncmp(a.p + i, cur[k][0], sl)) {
                hit = k;
                break;
            }
        }
        if (hit >= 0) {
            size_t j = i + sl, last = 0;
            while (j < a.n && (isdig(a.p[j]) || a.p[j] == '.')) {
                if (isdig(a.p[j])) last = j + 1;
                j++;
            }
            if (last) {
                put(&c, a.p + i + sl, last - (i + sl));
                puts_(&c, cur[hit][1]);
                i = last;
                continue;
            }
        }
        put(&c, a.p + i, 1);
        i++;
    }
    free(a.p);
    /* 3. [0-9]+(\.[0-9]+)? -> num2words */
    sbuf o = {0};
    put(&o, "", 0);
    for (size_t i = 0; i < c.n;) {
        if (!isdig(c.p[i])) {
            put(&o, c.p + i, 1);
            i++;
            continue;
        }
        size_t j = i;
        while (j < c.n && isdig(c.p[j])) j++;
        size_t end = j;
        if (j + 1 < c.n && c.p[j] == '.' && isdig(c.p[j + 1])) {
            end = j + 1;
            while (end < c.n && isdig(c.p[end])) end++;
        }
        int rc = end > j ? decimal(&o, c.p + i, end - i) : cardinal(&o, c.p + i, end - i);
        if (rc) {
            snprintf(err, err_cap, "number '%.*s' is out of the range upstream's num2words reads", (int)(end - i > 60 ? 60 : end - i),
                     c.p + i);
            free(c.p), free(o.p);
            return NULL;
        }
        i = end;
    }
    free(c.p);
    return o.p;
}
