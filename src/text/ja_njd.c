/* ja_njd.c - OpenJTalk's word list (NJD) and the passes njd_set_pronunciation,
 * njd_set_accent_phrase and njd_set_accent_type, written from OpenJTalk 1.11's public source. */
#include "ja_njd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

const char *bv_ja_str(const char *field) { return field ? field : "*"; }

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = bv_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

void bv_ja_set(char **field, const char *value) {
    char *v = value && *value ? xstrdup(value) : NULL; /* value may alias *field */
    free(*field);
    *field = v;
}

void bv_ja_add(char **field, const char *value) {
    if (!*field) {
        bv_ja_set(field, value);
        return;
    }
    size_t a = strlen(*field), b = strlen(value);
    *field = bv_xrealloc(*field, a + b + 1);
    memcpy(*field + a, value, b + 1);
}

bv_ja_node *bv_ja_node_new(void) {
    bv_ja_node *n = bv_xcalloc(1, sizeof *n);
    n->chain_flag = -1;
    return n;
}

static void node_clear(bv_ja_node *n) {
    char **f[] = {&n->string, &n->pos,  &n->pos1, &n->pos2, &n->pos3,      &n->ctype,
                  &n->cform,  &n->orig, &n->read, &n->pron, &n->chain_rule};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) free(*f[i]), *f[i] = NULL;
    n->acc = n->mora_size = 0;
    n->chain_flag = -1;
}

void bv_ja_node_free(bv_ja_node *n) {
    if (!n) return;
    node_clear(n);
    free(n);
}

static void node_copy(bv_ja_node *d, const bv_ja_node *s) {
    bv_ja_set(&d->string, s->string);
    bv_ja_set(&d->pos, s->pos);
    bv_ja_set(&d->pos1, s->pos1);
    bv_ja_set(&d->pos2, s->pos2);
    bv_ja_set(&d->pos3, s->pos3);
    bv_ja_set(&d->ctype, s->ctype);
    bv_ja_set(&d->cform, s->cform);
    bv_ja_set(&d->orig, s->orig);
    bv_ja_set(&d->read, s->read);
    bv_ja_set(&d->pron, s->pron);
    bv_ja_set(&d->chain_rule, s->chain_rule);
    d->acc = s->acc;
    d->mora_size = s->mora_size;
    d->chain_flag = s->chain_flag;
}

/* Next token of s from *at up to delimiter d (or the end) into buf; as OpenJTalk's tokenizer, an
 * exhausted string gives "". */
static void token(const char *s, size_t *at, char d, char *buf, size_t cap) {
    size_t i = 0;
    while (s[*at] && s[*at] != d) {
        if (i + 1 < cap) buf[i++] = s[*at];
        (*at)++;
    }
    if (s[*at] == d) (*at)++;
    buf[i] = 0;
}

#define FIELD 1024

bv_ja_node *bv_ja_node_load(bv_ja_node *node, const char *str) {
    char string[FIELD], buf[FIELD], orig[FIELD], read[FIELD], pron[FIELD], acc[FIELD];
    size_t at = 0;
    int keep_flag = node->chain_flag; /* OpenJTalk's load leaves the flag alone unless the feature has one */
    node_clear(node);
    node->chain_flag = keep_flag;
    token(str, &at, ',', string, FIELD);
    token(str, &at, ',', buf, FIELD), bv_ja_set(&node->pos, buf);
    token(str, &at, ',', buf, FIELD), bv_ja_set(&node->pos1, buf);
    token(str, &at, ',', buf, FIELD), bv_ja_set(&node->pos2, buf);
    token(str, &at, ',', buf, FIELD), bv_ja_set(&node->pos3, buf);
    token(str, &at, ',', buf, FIELD), bv_ja_set(&node->ctype, buf);
    token(str, &at, ',', buf, FIELD), bv_ja_set(&node->cform, buf);
    token(str, &at, ',', orig, FIELD);
    token(str, &at, ',', read, FIELD);
    token(str, &at, ',', pron, FIELD);
    token(str, &at, ',', acc, FIELD);
    token(str, &at, ',', buf, FIELD), bv_ja_set(&node->chain_rule, buf);
    token(str, &at, ',', buf, FIELD);
    if (!strcmp(buf, "1")) node->chain_flag = 1;
    else if (!strcmp(buf, "0")) node->chain_flag = 0;

    if (strchr(acc, '*') || !strchr(acc, '/')) { /* a symbol */
        bv_ja_set(&node->string, string);
        bv_ja_set(&node->orig, orig);
        bv_ja_set(&node->read, read);
        bv_ja_set(&node->pron, pron);
        return node;
    }
    int count = 0;
    for (const char *p = acc; *p; p++) count += *p == '/';
    size_t ia = 0;
    if (count == 1) {
        bv_ja_set(&node->string, string);
        bv_ja_set(&node->orig, orig);
        bv_ja_set(&node->read, read);
        bv_ja_set(&node->pron, pron);
        token(acc, &ia, '/', buf, FIELD), node->acc = atoi(buf);
        token(acc, &ia, ':', buf, FIELD), node->mora_size = atoi(buf);
        if (node->mora_size < 0) node->mora_size = 0;
        return node;
    }
    /* a chained entry: orig/read/pron/acc hold one part per word, separated by ':' */
    size_t is = 0, io = 0, ir = 0, ip = 0;
    bv_ja_node *prev = NULL;
    for (int i = 0; i < count; i++) {
        if (i > 0) {
            bv_ja_node *n = bv_ja_node_new();
            node_copy(n, prev);
            n->chain_flag = 0;
            n->prev = prev;
            n->next = prev->next;
            prev->next = n;
            node = n;
        }
        token(orig, &io, ':', buf, FIELD), bv_ja_set(&node->orig, buf);
        if (i + 1 < count) {
            bv_ja_set(&node->string, buf);
            is += strlen(buf);
        } else {
            bv_ja_set(&node->string, is <= strlen(string) ? string + is : "");
        }
        token(read, &ir, ':', buf, FIELD), bv_ja_set(&node->read, buf);
        token(pron, &ip, ':', buf, FIELD), bv_ja_set(&node->pron, buf);
        token(acc, &ia, '/', buf, FIELD), node->acc = atoi(buf);
        token(acc, &ia, ':', buf, FIELD), node->mora_size = atoi(buf);
        if (node->mora_size < 0) node->mora_size = 0;
        prev = node;
    }
    return node;
}

void bv_ja_njd_push(bv_ja_njd *njd, bv_ja_node *node) {
    if (!njd->head) {
        njd->head = node;
        node->prev = NULL;
    } else {
        njd->tail->next = node;
        node->prev = njd->tail;
    }
    while (node->next) node = node->next;
    njd->tail = node;
}

void bv_ja_njd_push_feature(bv_ja_njd *njd, const char *feature) {
    bv_ja_node *n = bv_ja_node_new();
    bv_ja_node_load(n, feature);
    bv_ja_njd_push(njd, n);
}

bv_ja_node *bv_ja_njd_remove(bv_ja_njd *njd, bv_ja_node *node) {
    bv_ja_node *next = node->next;
    if (node->prev) node->prev->next = node->next;
    else njd->head = node->next;
    if (node->next) node->next->prev = node->prev;
    else njd->tail = node->prev;
    bv_ja_node_free(node);
    return next;
}

void bv_ja_njd_insert_after(bv_ja_njd *njd, bv_ja_node *prev, bv_ja_node *node) {
    node->prev = prev;
    node->next = prev->next;
    if (prev->next) prev->next->prev = node;
    else njd->tail = node;
    prev->next = node;
}

void bv_ja_njd_remove_silent(bv_ja_njd *njd) {
    for (bv_ja_node *n = njd->head; n;) n = strcmp(bv_ja_str(n->pron), "*") ? n->next : bv_ja_njd_remove(njd, n);
}

void bv_ja_njd_free(bv_ja_njd *njd) {
    for (bv_ja_node *n = njd->head; n;) {
        bv_ja_node *next = n->next;
        bv_ja_node_free(n);
        n = next;
    }
    njd->head = njd->tail = NULL;
}

/* ---- njd_set_pronunciation ---------------------------------------------------------------- */

/* Small kana that OpenJTalk's filler table joins to the kana before them, by that kana
 * (katakana; hiragana uses the same pairs). */
static const char *const filler_pairs[][2] = {
    {"ヴ", "ョュャォェィァ"}, {"リ", "ョュャェ"}, {"ミ", "ョュャェ"}, {"フ", "ォェィァ"}, {"ピ", "ョュャェ"},
    {"ビ", "ョュャェ"},       {"ヒ", "ョュャェ"}, {"ニ", "ョュャェ"}, {"ド", "ゥ"},       {"ト", "ゥ"},
    {"デ", "ョュャィ"},       {"テ", "ョュャィ"}, {"ツ", "ォェィァ"}, {"ズ", "ィ"},       {"ス", "ィ"},
    {"ジ", "ョュャェ"},       {"シ", "ョュャェ"}, {"ギ", "ョュャェ"}, {"キ", "ョュャェ"}, {"チ", "ョュャェ"},
    {"ウ", "ォェィ"},         {"イ", "ェ"},
};

/* Names of the full-width letters, as OpenJTalk reads a letter without a dictionary entry. */
static const char *const letter_names[26] = {
    "エー",   "ビー",       "シー", "ディー", "イー", "エフ", "ジー", "エイチ", "アイ",
    "ジェー", "ケー",       "エル", "エム",   "エヌ", "オー", "ピー", "キュー", "アール",
    "エス",   "ティー",     "ユー", "ブイ",   "ダブリュー", "エックス", "ワイ", "ズィー"};
static const int letter_moras[26] = {2, 2, 2, 2, 2, 2, 2, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 2, 2, 2, 4, 4, 2, 2};

static unsigned utf8_cp(const char *s, int *len) {
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80) return *len = 1, u[0];
    if ((u[0] & 0xE0) == 0xC0 && u[1]) return *len = 2, ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu);
    if ((u[0] & 0xF0) == 0xE0 && u[1] && u[2])
        return *len = 3, ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
    if ((u[0] & 0xF8) == 0xF0 && u[1] && u[2] && u[3])
        return *len = 4, ((u[0] & 0x07u) << 18) | ((u[1] & 0x3Fu) << 12) | ((u[2] & 0x3Fu) << 6) | (u[3] & 0x3Fu);
    return *len = 1, 0xFFFD;
}

static void utf8_put(unsigned cp, char *out) { /* 3-byte code points only (kana) */
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    out[3] = 0;
}

/* katakana of a kana the filler table lists as a single unit, or 0 */
static unsigned filler_kana(unsigned cp) {
    if (cp >= 0x3041 && cp <= 0x3094 && cp != 0x308E) return cp + 0x60; /* hiragana (not ゎ) */
    if (cp >= 0x30A1 && cp <= 0x30F4 && cp != 0x30EE) return cp;        /* katakana (not ヮ) */
    if (cp == 0x30FC) return cp;                                        /* ー */
    return 0;
}

int bv_ja_filler_unit(const char *s, const char **pron, int *moras) {
    static char buf[16]; /* katakana of the unit (not thread-safe; the front-end is single-threaded) */
    int l1, l2;
    unsigned c1 = utf8_cp(s, &l1);
    if (c1 >= 0xFF21 && c1 <= 0xFF3A) return *pron = letter_names[c1 - 0xFF21], *moras = letter_moras[c1 - 0xFF21], l1;
    if (c1 >= 0xFF41 && c1 <= 0xFF5A) return *pron = letter_names[c1 - 0xFF41], *moras = letter_moras[c1 - 0xFF41], l1;
    unsigned k1 = filler_kana(c1);
    if (!k1) return 0;
    utf8_put(k1, buf);
    *moras = 1;
    *pron = buf;
    if (k1 == 0x30FC || !s[l1]) return l1;
    unsigned c2 = utf8_cp(s + l1, &l2);
    unsigned k2 = filler_kana(c2);
    /* a pair is hiragana+hiragana or katakana+katakana */
    if (!k2 || (c1 < 0x30A0) != (c2 < 0x30A0)) return l1;
    for (size_t i = 0; i < sizeof filler_pairs / sizeof filler_pairs[0]; i++) {
        if (strcmp(filler_pairs[i][0], buf)) continue;
        char small[4];
        utf8_put(k2, small);
        if (strstr(filler_pairs[i][1], small)) {
            strcat(buf, small);
            return l1 + l2;
        }
        break;
    }
    return l1;
}

/* is the whole string one filler-table unit? */
static int is_filler_unit(const char *s) {
    const char *p;
    int m;
    int n = bv_ja_filler_unit(s, &p, &m);
    return n > 0 && s[n] == 0;
}

void bv_ja_set_pronunciation(bv_ja_njd *njd) {
    for (bv_ja_node *node = njd->head; node; node = node->next) {
        if (node->mora_size != 0) continue;
        bv_ja_set(&node->read, NULL);
        bv_ja_set(&node->pron, NULL);
        /* kana without a dictionary entry: read it as a filler */
        const char *str = BV_JA_GET(node, string);
        for (size_t at = 0, len = strlen(str); at < len;) {
            const char *p;
            int m, n = bv_ja_filler_unit(str + at, &p, &m);
            if (n > 0) {
                bv_ja_add(&node->read, p);
                bv_ja_add(&node->pron, p);
                node->mora_size += m;
                at += (size_t)n;
            } else {
                at++;
            }
        }
        if (node->mora_size != 0) {
            bv_ja_set(&node->pos, "フィラー");
            bv_ja_set(&node->pos1, NULL);
            bv_ja_set(&node->pos2, NULL);
            bv_ja_set(&node->pos3, NULL);
        }
        if (!strcmp(BV_JA_GET(node, orig), "*")) bv_ja_set(&node->orig, node->string);
        if (!strcmp(BV_JA_GET(node, pron), "*") && !strcmp(BV_JA_GET(node, string), "？")) {
            bv_ja_set(&node->read, "？");
            bv_ja_set(&node->pron, "？");
        }
        if (!strcmp(BV_JA_GET(node, pron), "*")) { /* anything else without a reading is a pause */
            bv_ja_set(&node->read, "、");
            bv_ja_set(&node->pron, "、");
            bv_ja_set(&node->pos, "記号");
        }
    }
    bv_ja_njd_remove_silent(njd);

    /* a run of single-unit kana fillers becomes one word */
    bv_ja_node *head = NULL;
    for (bv_ja_node *node = njd->head; node; node = node->next) {
        if (!strcmp(BV_JA_GET(node, pos), "フィラー") && is_filler_unit(BV_JA_GET(node, string))) {
            if (!head) {
                head = node;
            } else {
                bv_ja_add(&head->string, BV_JA_GET(node, string));
                bv_ja_add(&head->orig, BV_JA_GET(node, orig));
                bv_ja_add(&head->read, BV_JA_GET(node, read));
                bv_ja_add(&head->pron, BV_JA_GET(node, pron));
                head->mora_size += node->mora_size;
                bv_ja_set(&node->pron, NULL);
            }
        } else {
            head = NULL;
        }
    }
    bv_ja_njd_remove_silent(njd);

    for (bv_ja_node *node = njd->head; node; node = node->next) {
        bv_ja_node *nx = node->next;
        if (!nx) continue;
        /* auxiliary ウ after a verb or auxiliary is a long vowel (行こう) */
        if (!strcmp(BV_JA_GET(nx, pron), "ウ") && !strcmp(BV_JA_GET(nx, pos), "助動詞") &&
            (!strcmp(BV_JA_GET(node, pos), "動詞") || !strcmp(BV_JA_GET(node, pos), "助動詞")) && node->mora_size > 0)
            bv_ja_set(&nx->pron, "ー");
        /* です/ます before ？ keep their vowel */
        if (!strcmp(BV_JA_GET(node, pos), "助動詞") && !strcmp(BV_JA_GET(nx, string), "？")) {
            if (!strcmp(BV_JA_GET(node, string), "です")) bv_ja_set(&node->pron, "デス");
            else if (!strcmp(BV_JA_GET(node, string), "ます")) bv_ja_set(&node->pron, "マス");
        }
    }
}

/* ---- njd_set_accent_phrase ---------------------------------------------------------------- */

static int eq(const char *field, const char *s) { return !strcmp(bv_ja_str(field), s); }
static int starts(const char *field, const char *s) { return !strncmp(bv_ja_str(field), s, strlen(s)); }

void bv_ja_set_accent_phrase(bv_ja_njd *njd) {
    if (!njd->head) return;
    for (bv_ja_node *n = njd->head->next; n; n = n->next) {
        if (n->chain_flag >= 0) continue;
        const bv_ja_node *p = n->prev;
        int f = 1; /* by default a word joins the phrase before it */
        if (eq(p->pos, "形容詞") && eq(n->pos, "名詞")) f = 0;
        if (eq(p->pos, "名詞") && eq(p->pos1, "形容動詞語幹") && eq(n->pos, "名詞")) f = 0;
        if (eq(p->pos, "動詞") && (eq(n->pos, "形容詞") || eq(n->pos, "名詞"))) f = 0;
        if (eq(n->pos, "副詞") || eq(p->pos, "副詞") || eq(n->pos, "接続詞") || eq(p->pos, "接続詞") ||
            eq(n->pos, "連体詞") || eq(p->pos, "連体詞"))
            f = 0;
        if (eq(p->pos, "名詞") && eq(p->pos1, "副詞可能")) f = 0;
        if (eq(n->pos, "名詞") && eq(n->pos1, "副詞可能")) f = 0;
        if (eq(n->pos, "助動詞") || eq(n->pos, "助詞")) f = 1;
        if ((eq(p->pos, "助動詞") || eq(p->pos, "助詞")) && !eq(n->pos, "助動詞") && !eq(n->pos, "助詞")) f = 0;
        if (eq(p->pos1, "接尾") && eq(n->pos, "名詞")) f = 0;
        if (eq(n->pos, "形容詞") && eq(n->pos1, "非自立")) {
            if (eq(p->pos, "動詞") || eq(p->pos, "形容詞")) {
                if (starts(p->cform, "連用")) f = 1;
            } else if (eq(p->pos, "助詞") && eq(p->pos1, "接続助詞") && (eq(p->string, "て") || eq(p->string, "で"))) {
                f = 1;
            }
        }
        if (eq(n->pos, "動詞") && eq(n->pos1, "非自立")) {
            if (eq(p->pos, "動詞")) {
                if (starts(p->cform, "連用")) f = 1;
            } else if (eq(p->pos, "名詞") && eq(p->pos1, "サ変接続")) {
                f = 1;
            }
        }
        if (eq(p->pos, "名詞") && (eq(n->pos, "動詞") || eq(n->pos, "形容詞") || eq(n->pos1, "形容動詞語幹"))) f = 0;
        if (eq(n->pos, "記号") || eq(p->pos, "記号")) f = 0;
        if (eq(n->pos, "接頭詞")) f = 0;
        if (eq(p->pos3, "姓") && eq(n->pos, "名詞")) f = 0;
        if (eq(p->pos, "名詞") && eq(n->pos3, "名")) f = 0;
        if (eq(n->pos1, "接尾")) f = 1;
        n->chain_flag = f;
    }
}

/* ---- njd_set_accent_type ------------------------------------------------------------------ */

/* The chain rule of the dictionary: "pos%RULE[@add]/pos%RULE.../RULE" -- the first entry whose pos
 * occurs in the previous word's pos, or an entry without a pos. */
static void chain_rule(const char *input, const char *prev_pos, char *rule, size_t cap, int *add) {
    *add = 0;
    snprintf(rule, cap, "*");
    if (!input) return;
    size_t at = 0;
    char buf[FIELD];
    for (;;) {
        size_t i = 0;
        char c;
        while ((c = input[at]) && c != '%' && c != '@' && c != '/') {
            if (i + 1 < sizeof buf) buf[i++] = c;
            at++;
        }
        buf[i] = 0;
        if (c) at++;
        if ((c == '%' && strstr(prev_pos, buf)) || c == '@' || c == '/' || c == 0) {
            if (c == '%') {
                i = 0;
                while ((c = input[at]) && c != '%' && c != '@' && c != '/') {
                    if (i + 1 < cap) rule[i++] = c;
                    at++;
                }
                rule[i] = 0;
                if (c) at++;
            } else {
                snprintf(rule, cap, "%s", buf);
            }
            if (c == '@') {
                i = 0;
                while ((c = input[at]) && c != '%' && c != '@' && c != '/') {
                    if (i + 1 < sizeof buf) buf[i++] = c;
                    at++;
                }
                buf[i] = 0;
                *add = atoi(buf);
            }
            return;
        }
        while (c == '%' || c == '@') { /* skip this entry's rule and add */
            while ((c = input[at]) && c != '%' && c != '@' && c != '/') at++;
            if (c) at++;
        }
        if (!c) break;
    }
    snprintf(rule, cap, "*");
}

static int one_of(const char *field, const char *const *list) {
    for (; *list; list++)
        if (eq(field, *list)) return 1;
    return 0;
}

void bv_ja_set_accent_type(bv_ja_njd *njd) {
    static const char *const k_5_6_8[] = {"五", "六", "八", NULL};
    static const char *const k_units[] = {"一", "二", "三", "四", "五", "六", "七", "八", "九", NULL};
    static const char *const k_hyaku1[] = {"三", "四", "九", "何", NULL};
    static const char *const k_oku2[] = {"一", "六", "七", "八", "幾", NULL};
    static const char *const k_chou2[] = {"六", "七", NULL};
    bv_ja_node *top = NULL;
    int mora = 0;
    char rule[FIELD];
    int add;
    for (bv_ja_node *n = njd->head; n; n = n->next) {
        if (n == njd->head || n->chain_flag != 1) {
            top = n;
            mora = 0;
        } else if (n->prev && n->chain_flag == 1) {
            chain_rule(n->chain_rule, BV_JA_GET(n->prev, pos), rule, sizeof rule, &add);
            if (!strcmp(rule, "F2")) {
                if (top->acc == 0) top->acc = mora + add;
            } else if (!strcmp(rule, "F3")) {
                if (top->acc != 0) top->acc = mora + add;
            } else if (!strcmp(rule, "F4")) {
                top->acc = mora + add;
            } else if (!strcmp(rule, "F5")) {
                top->acc = 0;
            } else if (!strcmp(rule, "C1")) {
                top->acc = mora + n->acc;
            } else if (!strcmp(rule, "C2")) {
                top->acc = mora + 1;
            } else if (!strcmp(rule, "C3")) {
                top->acc = mora;
            } else if (!strcmp(rule, "C4")) {
                top->acc = 0;
            } else if (!strcmp(rule, "P1")) {
                top->acc = n->acc == 0 ? 0 : mora + n->acc;
            } else if (!strcmp(rule, "P2")) {
                top->acc = n->acc == 0 ? mora + 1 : mora + n->acc;
            } else if (!strcmp(rule, "P6")) {
                top->acc = 0;
            } else if (!strcmp(rule, "P14")) {
                if (n->acc != 0) top->acc = mora + n->acc;
            } /* "*", F1, C5 and unknown rules: no change */
        }

        /* numerals: the accent of a digit before its place word */
        bv_ja_node *p = n->prev;
        if (p && n->chain_flag == 1 && eq(p->pos1, "数") && eq(n->pos1, "数")) {
            if (eq(n->string, "十")) {
                p->acc = 1; /* OpenJTalk tests for 三/四/九/何/数 here, but both of its branches give 1 */
                if (one_of(p->string, k_5_6_8) && n->next && one_of(n->next->string, k_units)) p->acc = 0;
            } else if (eq(n->string, "百")) {
                if (eq(p->string, "七")) p->acc = 2;
                else if (one_of(p->string, k_hyaku1)) p->acc = 1;
                else p->acc = p->mora_size + n->mora_size;
            } else if (eq(n->string, "千") || eq(n->string, "万")) {
                p->acc = p->mora_size + 1;
            } else if (eq(n->string, "億")) {
                p->acc = one_of(p->string, k_oku2) ? 2 : 1;
            } else if (eq(n->string, "兆")) {
                p->acc = one_of(p->string, k_chou2) ? 2 : 1;
            }
        }
        if (eq(n->string, "十") && n->chain_flag != 1 && n->next && eq(n->next->pos1, "数")) n->acc = 0;
        mora += n->mora_size;
    }
}
