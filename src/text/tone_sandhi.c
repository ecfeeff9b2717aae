/* tone_sandhi.c - upstream's ToneSandhi (see tone_sandhi.h). Finals are Python strings in upstream; here
 * UTF-8 strings of up to BV_ZH_PY_MAX bytes, and `f[:-1] + "5"` drops the last code point. */
#include "tone_sandhi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "zh_jieba.h"
#include "zh_pinyin.h"

#define C_BU 0x4E0D  /* 不 */
#define C_YI 0x4E00  /* 一 */
#define C_GE 0x4E2A  /* 个 */
#define C_ER 0x513F  /* 儿 */
#define C_DI 0x7B2C  /* 第 */

void bv_zh_words_push(bv_zh_words *w, const uint32_t *cp, int n, const char *pos) {
    if (w->n == w->cap) w->cap = w->cap ? w->cap * 2 : 16, w->v = bv_xrealloc(w->v, (size_t)w->cap * sizeof *w->v);
    bv_zh_word *x = &w->v[w->n++];
    x->cp = bv_xmalloc(((size_t)n + 1) * sizeof *x->cp);
    memcpy(x->cp, cp, (size_t)n * sizeof *cp);
    x->n = n;
    snprintf(x->pos, sizeof x->pos, "%s", pos);
}

void bv_zh_words_free(bv_zh_words *w) {
    for (int i = 0; i < w->n; i++) free(w->v[i].cp);
    free(w->v);
    w->v = NULL, w->n = w->cap = 0;
}

static void word_append(bv_zh_word *x, const uint32_t *cp, int n) {
    x->cp = bv_xrealloc(x->cp, ((size_t)x->n + (size_t)n + 1) * sizeof *x->cp);
    memcpy(x->cp + x->n, cp, (size_t)n * sizeof *cp);
    x->n += n;
}

static int word_eq(const uint32_t *a, int na, const uint32_t *b, int nb) {
    return na == nb && !memcmp(a, b, (size_t)na * sizeof *a);
}

static int is_one(const bv_zh_word *x, uint32_t c) { return x->n == 1 && x->cp[0] == c; }

/* Python str.isnumeric over what text_normalize lets through (CJK ideographs U+4E00..U+9FA5 and
 * upstream's punctuation), plus the ASCII and full-width digits and 〇. */
int bv_zh_isnumeric(uint32_t c) {
    static const uint32_t cjk[] = {0x4E00, 0x4E03, 0x4E07, 0x4E09, 0x4E5D, 0x4E8C, 0x4E94, 0x4E96, 0x4EBF, 0x4EC0,
                                   0x4EDF, 0x4EE8, 0x4F0D, 0x4F70, 0x5104, 0x5146, 0x5169, 0x516B, 0x516D, 0x5341,
                                   0x5343, 0x5344, 0x5345, 0x534C, 0x53C1, 0x53C2, 0x53C3, 0x53C4, 0x56DB, 0x58F1,
                                   0x58F9, 0x5E7A, 0x5EFE, 0x5EFF, 0x5F0C, 0x5F0D, 0x5F0E, 0x5F10, 0x62FE, 0x634C,
                                   0x67D2, 0x6F06, 0x7396, 0x767E, 0x8086, 0x842C, 0x8CAE, 0x8CB3, 0x8D30, 0x9621,
                                   0x9646, 0x964C, 0x9678, 0x96F6};
    if ((c >= '0' && c <= '9') || (c >= 0xFF10 && c <= 0xFF19) || c == 0x3007) return 1;
    for (size_t i = 0; i < sizeof cjk / sizeof *cjk; i++)
        if (cjk[i] == c) return 1;
    return 0;
}

/* ---------------------------------------------------------------- final strings */

/* last code point of f, -1 when f is empty (where Python raises IndexError) */
static int32_t last_cp(const char *f) {
    size_t l = strlen(f);
    if (!l) return -1;
    size_t k = l - 1;
    while (k > 0 && ((unsigned char)f[k] & 0xC0) == 0x80) k--;
    uint32_t c;
    if (bv_zh_utf8_decode(f + k, l - k, &c, 1) != 1) return -2;
    return (int32_t)c;
}

/* f = f[:-1] + t */
static void set_tone(char *f, char t) {
    size_t l = strlen(f);
    if (l) {
        size_t k = l - 1;
        while (k > 0 && ((unsigned char)f[k] & 0xC0) == 0x80) k--;
        l = k;
    }
    f[l] = t, f[l + 1] = 0;
}

static int index_error(char *err, int errcap) {
    snprintf(err, (size_t)errcap, "tone sandhi met an empty pinyin final (upstream raises IndexError here)");
    return -1;
}

/* f[-1] == t, or -1 (error) on an empty f */
static int tone_is(const char *f, char t, char *err, int errcap) {
    int32_t c = last_cp(f);
    if (c == -1) return index_error(err, errcap);
    return c == (int32_t)(unsigned char)t;
}

/* _all_tone_three: all(x[-1] == "3" for x in finals), lazily as Python's all() */
static int all_tone_three(char (*fin)[BV_ZH_PY_MAX], int n, char *err, int errcap) {
    for (int i = 0; i < n; i++) {
        int r = tone_is(fin[i], '3', err, errcap);
        if (r <= 0) return r;
    }
    return 1;
}

static int in_set(const bv_zh_map *m, const uint32_t *w, int n) { return bv_zh_map_find(m, w, (uint32_t)n) >= 0; }

/* ---------------------------------------------------------------- _split_word */

/* word_list = [first, second] as upstream; returns len of word_list[0] and the two pieces as spans */
static void split_word(const bv_zh_dict *d, const uint32_t *w, int n, int *o0, int *l0, int *o1, int *l1) {
    bv_zh_toks t = {0};
    bv_zh_cut_search(d, w, n, &t);
    /* sorted(word_list, key=len): stable, so the first of the shortest */
    int best = 0;
    for (int i = 1; i < t.n; i++)
        if (t.v[i].len < t.v[best].len) best = i;
    const uint32_t *first = w + t.v[best].off;
    int fl = t.v[best].len;
    bv_zh_toks_free(&t);
    int idx = -1; /* word.find(first_subword) */
    for (int i = 0; i + fl <= n && idx < 0; i++)
        if (!memcmp(w + i, first, (size_t)fl * sizeof *w)) idx = i;
    int fo = (int)(first - w);
    if (idx == 0) {
        *o0 = fo, *l0 = fl; /* first_subword itself (equal text at 0) */
        *o0 = 0;
        *o1 = fl, *l1 = n - fl;
    } else {
        *o0 = 0, *l0 = n - fl; /* word[:-len(first)] */
        *o1 = fo, *l1 = fl;
    }
}

/* ---------------------------------------------------------------- the rules */

int bv_zh_bu_sandhi(const uint32_t *w, int n, char (*fin)[BV_ZH_PY_MAX], char *err, int errcap) {
    if (n == 3 && w[1] == C_BU) { /* e.g. 看不懂 */
        set_tone(fin[1], '5');
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (w[i] == C_BU && i + 1 < n) { /* 不 before tone 4 is bu2, e.g. 不怕 */
            int r = tone_is(fin[i + 1], '4', err, errcap);
            if (r < 0) return -1;
            if (r) set_tone(fin[i], '2');
        }
    }
    return 0;
}

static const char k_punc_utf8[] = "：，；。？！“”‘’':,;.?!"; /* ToneSandhi.punc */

static int in_punc(uint32_t c) {
    uint32_t cps[32];
    int n = bv_zh_utf8_decode(k_punc_utf8, sizeof k_punc_utf8 - 1, cps, 32);
    for (int i = 0; i < n; i++)
        if (cps[i] == c) return 1;
    return 0;
}

int bv_zh_yi_sandhi(const uint32_t *w, int n, char (*fin)[BV_ZH_PY_MAX], char *err, int errcap) {
    int has_yi = 0, all_num = 1;
    for (int i = 0; i < n; i++) {
        if (w[i] == C_YI) has_yi = 1;
        else all_num &= bv_zh_isnumeric(w[i]);
    }
    if (has_yi && all_num) return 0; /* 一 in a number sequence, e.g. 一零零, 二一零 */
    if (n == 3 && w[1] == C_YI && w[0] == w[2]) { /* between reduplications, e.g. 看一看 */
        set_tone(fin[1], '5');
        return 0;
    }
    if (n >= 2 && w[0] == C_DI && w[1] == C_YI) { /* ordinal: yi1 */
        set_tone(fin[1], '1');
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (w[i] != C_YI || i + 1 >= n) continue;
        int r = tone_is(fin[i + 1], '4', err, errcap);
        if (r < 0) return -1;
        if (r) set_tone(fin[i], '2');          /* before tone 4: yi2, e.g. 一段 */
        else if (!in_punc(w[i + 1])) set_tone(fin[i], '4'); /* else yi4 unless punctuation follows */
    }
    return 0;
}

static int ends_with_one_of(const uint32_t *w, int n, const char *utf8) {
    uint32_t cps[64];
    int k = bv_zh_utf8_decode(utf8, strlen(utf8), cps, 64);
    for (int i = 0; i < k; i++)
        if (n >= 1 && w[n - 1] == cps[i]) return 1;
    return 0;
}

static int char_in(uint32_t c, const char *utf8) {
    uint32_t cps[64];
    int k = bv_zh_utf8_decode(utf8, strlen(utf8), cps, 64);
    for (int i = 0; i < k; i++)
        if (c == cps[i]) return 1;
    return 0;
}

/* word in must_neural_tone_words or word[-2:] in it */
static int must_neural(const bv_zh_dict *d, const uint32_t *w, int n) {
    if (in_set(&d->must_neural, w, n)) return 1;
    int k = n < 2 ? n : 2;
    return in_set(&d->must_neural, w + n - k, k);
}

int bv_zh_neural_sandhi(const bv_zh_dict *d, const uint32_t *w, int n, const char *pos,
                        char (*fin)[BV_ZH_PY_MAX], char *err, int errcap) {
    /* reduplication of n./v./a., e.g. 奶奶, 试试, 旺旺 */
    for (int j = 1; j < n; j++)
        if (w[j] == w[j - 1] && pos[0] && strchr("nva", pos[0]) && !in_set(&d->must_not_neural, w, n))
            set_tone(fin[j], '5');
    int ge_idx = -1;
    for (int i = 0; i < n && ge_idx < 0; i++)
        if (w[i] == C_GE) ge_idx = i;
    int is_rn = !strcmp(pos, "r") || !strcmp(pos, "n");
    int is_slf = !strcmp(pos, "s") || !strcmp(pos, "l") || !strcmp(pos, "f");
    if (n >= 1 && ends_with_one_of(w, n, "吧呢啊呐噻嘛吖嗨呐哦哒额滴哩哟喽啰耶喔诶")) {
        set_tone(fin[n - 1], '5');
    } else if (n >= 1 && ends_with_one_of(w, n, "的地得")) {
        set_tone(fin[n - 1], '5');
    } else if (n > 1 && ends_with_one_of(w, n, "们子") && is_rn && !in_set(&d->must_not_neural, w, n)) {
        set_tone(fin[n - 1], '5');
    } else if (n > 1 && ends_with_one_of(w, n, "上下里") && is_slf) { /* e.g. 桌上, 地下, 家里 */
        set_tone(fin[n - 1], '5');
    } else if (n > 1 && ends_with_one_of(w, n, "来去") && char_in(w[n - 2], "上下进出回过起开")) { /* 上来 */
        set_tone(fin[n - 1], '5');
    } else if ((ge_idx >= 1 && (bv_zh_isnumeric(w[ge_idx - 1]) || char_in(w[ge_idx - 1], "几有两半多各整每做是"))) ||
               (n == 1 && w[0] == C_GE)) { /* 个 as a measure word */
        set_tone(fin[ge_idx], '5');
    } else if (must_neural(d, w, n)) {
        set_tone(fin[n - 1], '5');
    }
    int o0, l0, o1, l1;
    split_word(d, w, n, &o0, &l0, &o1, &l1);
    /* finals_list = [finals[:len(word_list[0])], finals[len(word_list[0]):]] */
    int lens[2] = {l0 < n ? l0 : n, n - (l0 < n ? l0 : n)};
    int starts[2] = {0, lens[0]};
    const uint32_t *pw[2] = {w + o0, w + o1};
    int pl[2] = {l0, l1};
    for (int i = 0; i < 2; i++) {
        if (!must_neural(d, pw[i], pl[i])) continue;
        if (!lens[i]) return snprintf(err, (size_t)errcap, "tone sandhi: empty sub-word finals (upstream raises IndexError)"), -1;
        set_tone(fin[starts[i] + lens[i] - 1], '5');
    }
    return 0;
}

int bv_zh_three_sandhi(const bv_zh_dict *d, const uint32_t *w, int n, char (*fin)[BV_ZH_PY_MAX], char *err,
                       int errcap) {
    if (n == 2) {
        int r = all_tone_three(fin, 2, err, errcap);
        if (r < 0) return -1;
        if (r) set_tone(fin[0], '2');
    } else if (n == 3) {
        int o0, l0, o1, l1;
        split_word(d, w, n, &o0, &l0, &o1, &l1);
        int r = all_tone_three(fin, 3, err, errcap);
        if (r < 0) return -1;
        if (r) {
            if (l0 == 2) set_tone(fin[0], '2'), set_tone(fin[1], '2'); /* 蒙古/包 */
            else if (l0 == 1) set_tone(fin[1], '2');                     /* 纸/老虎 */
        } else {
            int a = l0 < 3 ? l0 : 3;
            char (*sub[2])[BV_ZH_PY_MAX] = {fin, fin + a};
            int sl[2] = {a, 3 - a};
            for (int i = 0; i < 2; i++) {
                int t3 = all_tone_three(sub[i], sl[i], err, errcap);
                if (t3 < 0) return -1;
                if (t3 && sl[i] == 2) { /* 所有/人 */
                    set_tone(sub[i][0], '2');
                } else if (i == 1 && !t3) { /* 好/喜欢 */
                    if (!sl[1] || !sl[0]) return index_error(err, errcap);
                    int r1 = tone_is(sub[1][0], '3', err, errcap);
                    if (r1 < 0) return -1;
                    if (!r1) continue;
                    int r0 = tone_is(sub[0][sl[0] - 1], '3', err, errcap);
                    if (r0 < 0) return -1;
                    if (r0) set_tone(sub[0][sl[0] - 1], '2');
                }
            }
        }
    } else if (n == 4) { /* an idiom as two words of two */
        for (int h = 0; h < 2; h++) {
            int r = all_tone_three(fin + 2 * h, 2, err, errcap);
            if (r < 0) return -1;
            if (r) set_tone(fin[2 * h], '2');
        }
    }
    return 0;
}

int bv_zh_modified_tone(const bv_zh_dict *d, const uint32_t *w, int n, const char *pos,
                        char (*fin)[BV_ZH_PY_MAX], char *err, int errcap) {
    if (bv_zh_bu_sandhi(w, n, fin, err, errcap)) return -1;
    if (bv_zh_yi_sandhi(w, n, fin, err, errcap)) return -1;
    if (bv_zh_neural_sandhi(d, w, n, pos, fin, err, errcap)) return -1;
    return bv_zh_three_sandhi(d, w, n, fin, err, errcap);
}

/* ---------------------------------------------------------------- merges */

static void move_words(bv_zh_words *dst, bv_zh_words *src) {
    bv_zh_words_free(dst);
    *dst = *src;
    memset(src, 0, sizeof *src);
}

static void merge_bu(bv_zh_words *seg) {
    bv_zh_words out = {0};
    uint32_t *last = NULL;
    int nlast = 0;
    for (int i = 0; i < seg->n; i++) {
        bv_zh_word *x = &seg->v[i];
        uint32_t *word = bv_xmalloc(((size_t)x->n + 2) * sizeof *word);
        int nw = 0;
        if (nlast == 1 && last[0] == C_BU) word[nw++] = C_BU;
        memcpy(word + nw, x->cp, (size_t)x->n * sizeof *word);
        nw += x->n;
        if (!(nw == 1 && word[0] == C_BU)) bv_zh_words_push(&out, word, nw, x->pos);
        free(last);
        last = word, nlast = nw;
    }
    if (nlast == 1 && last[0] == C_BU) bv_zh_words_push(&out, last, 1, "d");
    free(last);
    move_words(seg, &out);
}

/* 1: merged, 0: upstream's try/except kept seg as it was, -1: upstream loops forever */
static int merge_yi(bv_zh_words *seg, char *err, int errcap) {
    bv_zh_words out = {0};
    int i = 0;
    while (i < seg->n) {
        bv_zh_word *x = &seg->v[i];
        if (i - 1 >= 0 && is_one(x, C_YI) && i + 1 < seg->n &&
            word_eq(seg->v[i - 1].cp, seg->v[i - 1].n, seg->v[i + 1].cp, seg->v[i + 1].n) &&
            !strcmp(seg->v[i - 1].pos, "v")) {
            if (i - 1 >= out.n) { /* new_seg[i - 1]: IndexError, caught upstream */
                bv_zh_words_free(&out);
                return 0;
            }
            bv_zh_word *p = &out.v[i - 1];
            int pn = p->n;
            uint32_t *copy = bv_xmalloc(((size_t)pn + 1) * sizeof *copy);
            memcpy(copy, p->cp, (size_t)pn * sizeof *copy);
            uint32_t yi = C_YI;
            word_append(p, &yi, 1);
            word_append(p, copy, pn);
            free(copy);
            i += 2;
        } else {
            if (i - 2 >= 0 && is_one(&seg->v[i - 1], C_YI) &&
                word_eq(seg->v[i - 2].cp, seg->v[i - 2].n, x->cp, x->n) && !strcmp(x->pos, "v")) {
                bv_zh_words_free(&out);
                snprintf(err, (size_t)errcap, "tone_sandhi._merge_yi never ends on this word sequence upstream");
                return -1;
            }
            bv_zh_words_push(&out, x->cp, x->n, x->pos);
            i++;
        }
    }
    bv_zh_words out2 = {0};
    for (int k = 0; k < out.n; k++) {
        bv_zh_word *x = &out.v[k];
        if (out2.n && is_one(&out2.v[out2.n - 1], C_YI)) word_append(&out2.v[out2.n - 1], x->cp, x->n);
        else bv_zh_words_push(&out2, x->cp, x->n, x->pos);
    }
    bv_zh_words_free(&out);
    move_words(seg, &out2);
    return 1;
}

static void merge_reduplication(bv_zh_words *seg) {
    bv_zh_words out = {0};
    for (int i = 0; i < seg->n; i++) {
        bv_zh_word *x = &seg->v[i];
        if (out.n && word_eq(x->cp, x->n, out.v[out.n - 1].cp, out.v[out.n - 1].n))
            word_append(&out.v[out.n - 1], x->cp, x->n);
        else bv_zh_words_push(&out, x->cp, x->n, x->pos);
    }
    move_words(seg, &out);
}

static int is_reduplication(const bv_zh_word *x) { return x->n == 2 && x->cp[0] == x->cp[1]; }

/* lazy_pinyin(word, FINALS_TONE3) of every word */
typedef struct {
    bv_zh_py *py;
    int *off, *cnt;
} finals_table;

static int finals_of_all(const bv_zh_dict *d, const bv_zh_words *seg, finals_table *t, char *err, int errcap) {
    int total = 0;
    for (int i = 0; i < seg->n; i++) total += seg->v[i].n;
    t->py = bv_xmalloc(((size_t)total + 1) * sizeof *t->py);
    t->off = bv_xmalloc(((size_t)seg->n + 1) * sizeof *t->off);
    t->cnt = bv_xmalloc(((size_t)seg->n + 1) * sizeof *t->cnt);
    int k = 0;
    for (int i = 0; i < seg->n; i++) {
        int c = bv_zh_lazy_pinyin(d, seg->v[i].cp, seg->v[i].n, t->py + k, total - k, err, errcap);
        if (c < 0) return -1;
        t->off[i] = k, t->cnt[i] = c;
        k += c;
    }
    return 0;
}

static void finals_free(finals_table *t) { free(t->py), free(t->off), free(t->cnt); }

static int all3_item(const finals_table *t, int i, char *err, int errcap) {
    for (int k = 0; k < t->cnt[i]; k++) {
        int r = tone_is(t->py[t->off[i] + k].fin, '3', err, errcap);
        if (r <= 0) return r;
    }
    return 1;
}

/* _merge_continuous_three_tones (variant 1) and _merge_continuous_three_tones_2 (variant 2) */
static int merge_three(const bv_zh_dict *d, bv_zh_words *seg, int variant, char *err, int errcap) {
    finals_table t;
    if (finals_of_all(d, seg, &t, err, errcap)) return finals_free(&t), -1;
    bv_zh_words out = {0};
    uint8_t *merged = bv_xcalloc((size_t)seg->n + 1, 1);
    int rc = 0;
    for (int i = 0; i < seg->n && !rc; i++) {
        bv_zh_word *x = &seg->v[i];
        int cond = 0;
        if (i - 1 >= 0) {
            if (variant == 1) {
                int a = all3_item(&t, i - 1, err, errcap);
                if (a < 0) { rc = -1; break; }
                if (a) {
                    int b = all3_item(&t, i, err, errcap);
                    if (b < 0) { rc = -1; break; }
                    cond = b && !merged[i - 1];
                }
            } else {
                if (!t.cnt[i - 1] || !t.cnt[i]) { rc = index_error(err, errcap); break; }
                int a = tone_is(t.py[t.off[i - 1] + t.cnt[i - 1] - 1].fin, '3', err, errcap);
                if (a < 0) { rc = -1; break; }
                if (a) {
                    int b = tone_is(t.py[t.off[i]].fin, '3', err, errcap);
                    if (b < 0) { rc = -1; break; }
                    cond = b && !merged[i - 1];
                }
            }
        }
        if (cond && !is_reduplication(&seg->v[i - 1]) && seg->v[i - 1].n + x->n <= 3) {
            word_append(&out.v[out.n - 1], x->cp, x->n);
            merged[i] = 1;
        } else {
            bv_zh_words_push(&out, x->cp, x->n, x->pos);
        }
    }
    free(merged);
    finals_free(&t);
    if (rc) return bv_zh_words_free(&out), -1;
    move_words(seg, &out);
    return 0;
}

static void merge_er(bv_zh_words *seg) {
    bv_zh_words out = {0};
    for (int i = 0; i < seg->n; i++) {
        bv_zh_word *x = &seg->v[i];
        if (i - 1 >= 0 && is_one(x, C_ER) && !is_one(&seg->v[i - 1], '#')) word_append(&out.v[out.n - 1], x->cp, x->n);
        else bv_zh_words_push(&out, x->cp, x->n, x->pos);
    }
    move_words(seg, &out);
}

int bv_zh_pre_merge(const bv_zh_dict *d, bv_zh_words *seg, char *err, int errcap) {
    merge_bu(seg);
    if (merge_yi(seg, err, errcap) < 0) return -1;
    merge_reduplication(seg);
    if (merge_three(d, seg, 1, err, errcap)) return -1;
    if (merge_three(d, seg, 2, err, errcap)) return -1;
    merge_er(seg);
    return 0;
}
