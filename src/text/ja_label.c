/* ja_label.c - phonemes, morae and accent phrases of OpenJTalk's JPCommon labels, and the A1/A2
 * marks upstream's get_accent reads from them (see ja_label.h). */
#include "ja_label.h"

#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include "../core/error.h"

/* One-kana morae: katakana, consonant ("" none), vowel ("" none: ン, ッ). */
static const char *const single[][3] = {
    {"ア", "", "a"},   {"イ", "", "i"},   {"ウ", "", "u"},   {"エ", "", "e"},   {"オ", "", "o"},   {"ァ", "", "a"},
    {"ィ", "", "i"},   {"ゥ", "", "u"},   {"ェ", "", "e"},   {"ォ", "", "o"},   {"カ", "k", "a"},  {"キ", "k", "i"},
    {"ク", "k", "u"},  {"ケ", "k", "e"},  {"コ", "k", "o"},  {"ガ", "g", "a"},  {"ギ", "g", "i"},  {"グ", "g", "u"},
    {"ゲ", "g", "e"},  {"ゴ", "g", "o"},  {"サ", "s", "a"},  {"シ", "sh", "i"}, {"ス", "s", "u"},  {"セ", "s", "e"},
    {"ソ", "s", "o"},  {"ザ", "z", "a"},  {"ジ", "j", "i"},  {"ズ", "z", "u"},  {"ゼ", "z", "e"},  {"ゾ", "z", "o"},
    {"タ", "t", "a"},  {"チ", "ch", "i"}, {"ツ", "ts", "u"}, {"テ", "t", "e"},  {"ト", "t", "o"},  {"ダ", "d", "a"},
    {"ヂ", "j", "i"},  {"ヅ", "z", "u"},  {"デ", "d", "e"},  {"ド", "d", "o"},  {"ナ", "n", "a"},  {"ニ", "n", "i"},
    {"ヌ", "n", "u"},  {"ネ", "n", "e"},  {"ノ", "n", "o"},  {"ハ", "h", "a"},  {"ヒ", "h", "i"},  {"フ", "f", "u"},
    {"ヘ", "h", "e"},  {"ホ", "h", "o"},  {"バ", "b", "a"},  {"ビ", "b", "i"},  {"ブ", "b", "u"},  {"ベ", "b", "e"},
    {"ボ", "b", "o"},  {"パ", "p", "a"},  {"ピ", "p", "i"},  {"プ", "p", "u"},  {"ペ", "p", "e"},  {"ポ", "p", "o"},
    {"マ", "m", "a"},  {"ミ", "m", "i"},  {"ム", "m", "u"},  {"メ", "m", "e"},  {"モ", "m", "o"},  {"ヤ", "y", "a"},
    {"ユ", "y", "u"},  {"ヨ", "y", "o"},  {"ャ", "y", "a"},  {"ュ", "y", "u"},  {"ョ", "y", "o"},  {"ラ", "r", "a"},
    {"リ", "r", "i"},  {"ル", "r", "u"},  {"レ", "r", "e"},  {"ロ", "r", "o"},  {"ワ", "w", "a"},  {"ヮ", "w", "a"},
    {"ヰ", "", "i"},   {"ヱ", "", "e"},   {"ヲ", "", "o"},   {"ン", "", "n"},   {"ッ", "", "q"},   {"ヴ", "v", "u"},
    {"ヶ", "k", "e"},
};

/* Two-kana morae: the first kana, the small kana that may follow, the consonant for each, and the
 * vowel comes from the small kana (ャ a, ュ u, ョ o, ァ a, ィ i, ゥ u, ェ e, ォ o, ヮ a). */
static const char *const pairs[][3] = {
    {"キ", "ャュョェ", "ky"}, {"ギ", "ャュョェ", "gy"}, {"シ", "ャュョェ", "sh"}, {"ジ", "ャュョェ", "j"},
    {"チ", "ャュョェ", "ch"}, {"ニ", "ャュョェ", "ny"}, {"ヒ", "ャュョェ", "hy"}, {"ビ", "ャュョェ", "by"},
    {"ピ", "ャュョェ", "py"}, {"ミ", "ャュョェ", "my"}, {"リ", "ャュョェ", "ry"}, {"デ", "ャュョ", "dy"},
    {"デ", "ィ", "d"},        {"テ", "ャュョ", "ty"}, {"テ", "ィ", "t"},        {"ド", "ゥ", "d"},
    {"ト", "ゥ", "t"},        {"ツ", "ァィェォ", "ts"}, {"ズ", "ィ", "z"},      {"ス", "ィ", "s"},
    {"フ", "ァィェォ", "f"},  {"ウ", "ィェォ", "w"},  {"イ", "ェ", "y"},        {"ヴ", "ァィェォ", "v"},
    {"ヴ", "ャュョ", "by"},   {"グ", "ヮ", "gw"},     {"ク", "ヮ", "kw"},
};

static const char *small_vowel(const char *k) {
    static const char *const v[][2] = {{"ャ", "a"}, {"ュ", "u"}, {"ョ", "o"}, {"ァ", "a"}, {"ィ", "i"},
                                       {"ゥ", "u"}, {"ェ", "e"}, {"ォ", "o"}, {"ヮ", "a"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!strncmp(k, v[i][0], 3)) return v[i][1];
    return NULL;
}

static unsigned kana_cp(const char *s) { /* a 3-byte UTF-8 katakana code point, else 0 */
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] != 0xE3 || !u[1] || !u[2]) return 0;
    unsigned c = ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
    return c >= 0x30A0 && c <= 0x30FF ? c : 0;
}

/* index of each table's first kana by code point (built once; -1 none) */
static signed char single_at[0x60], pair_at[0x60];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT; /* two threads may g2p at once */

static void build_tables(void) {
    memset(single_at, -1, sizeof single_at);
    memset(pair_at, -1, sizeof pair_at);
    for (size_t i = 0; i < sizeof single / sizeof single[0]; i++) single_at[kana_cp(single[i][0]) - 0x30A0] = (signed char)i;
    for (size_t i = sizeof pairs / sizeof pairs[0]; i-- > 0;) pair_at[kana_cp(pairs[i][0]) - 0x30A0] = (signed char)i;
}

int bv_ja_mora(const char *s, const char **p1, const char **p2) {
    *p1 = *p2 = NULL;
    pthread_once(&tables_once, build_tables);
    unsigned c = kana_cp(s);
    if (!c) return 0;
    int pi = pair_at[c - 0x30A0];
    if (pi >= 0 && kana_cp(s + 3)) {
        /* the pairs of one first kana are adjacent in the table */
        for (size_t i = (size_t)pi; i < sizeof pairs / sizeof pairs[0] && kana_cp(pairs[i][0]) == c; i++)
            for (const char *k = pairs[i][1]; *k; k += 3)
                if (!strncmp(s + 3, k, 3)) {
                    *p1 = pairs[i][2];
                    *p2 = small_vowel(k);
                    return 6;
                }
    }
    int si = single_at[c - 0x30A0];
    if (si < 0) return 0;
    if (*single[si][1]) *p1 = single[si][1], *p2 = single[si][2];
    else *p1 = single[si][2];
    return 3;
}

/* JPCommon's structure, as arrays: a phoneme belongs to a mora (-1 for a pause), a mora to a word,
 * a word to an accent phrase. */
typedef struct {
    const char **ph;
    int *ph_mora;
    int n_ph, cap_ph;
    int *mora_word;
    int n_mora, cap_mora;
    int *word_head, *word_tail, *word_ap; /* first/last mora, accent phrase */
    int n_word, cap_word;
    int *ap_acc, *ap_head, *ap_tail; /* accent type, first/last word */
    int n_ap, cap_ap;
    int pause; /* a 、 or ？ is waiting for the next mora */
} labels;

#define GROW(arr, n, cap, type)                                                                                        \
    do {                                                                                                               \
        if ((n) == (cap)) {                                                                                            \
            (cap) = (cap) ? 2 * (cap) : 16;                                                                            \
            (arr) = bv_xrealloc((arr), (size_t)(cap) * sizeof(type));                                                  \
        }                                                                                                              \
    } while (0)

static void add_phoneme(labels *L, const char *p, int mora) {
    if (L->n_ph == L->cap_ph) {
        L->cap_ph = L->cap_ph ? 2 * L->cap_ph : 32;
        L->ph = bv_xrealloc(L->ph, (size_t)L->cap_ph * sizeof *L->ph);
        L->ph_mora = bv_xrealloc(L->ph_mora, (size_t)L->cap_ph * sizeof *L->ph_mora);
    }
    L->ph[L->n_ph] = p;
    L->ph_mora[L->n_ph++] = mora;
}

static int add_mora(labels *L, int word) {
    GROW(L->mora_word, L->n_mora, L->cap_mora, int);
    L->mora_word[L->n_mora] = word;
    return L->n_mora++;
}

static int add_word(labels *L, int mora) {
    if (L->n_word == L->cap_word) {
        L->cap_word = L->cap_word ? 2 * L->cap_word : 16;
        L->word_head = bv_xrealloc(L->word_head, (size_t)L->cap_word * sizeof(int));
        L->word_tail = bv_xrealloc(L->word_tail, (size_t)L->cap_word * sizeof(int));
        L->word_ap = bv_xrealloc(L->word_ap, (size_t)L->cap_word * sizeof(int));
    }
    L->word_head[L->n_word] = L->word_tail[L->n_word] = mora;
    L->word_ap[L->n_word] = -1;
    return L->n_word++;
}

static void add_ap(labels *L, int acc, int word) {
    if (L->n_ap == L->cap_ap) {
        L->cap_ap = L->cap_ap ? 2 * L->cap_ap : 16;
        L->ap_acc = bv_xrealloc(L->ap_acc, (size_t)L->cap_ap * sizeof(int));
        L->ap_head = bv_xrealloc(L->ap_head, (size_t)L->cap_ap * sizeof(int));
        L->ap_tail = bv_xrealloc(L->ap_tail, (size_t)L->cap_ap * sizeof(int));
    }
    L->ap_acc[L->n_ap] = acc;
    L->ap_head[L->n_ap] = L->ap_tail[L->n_ap] = word;
    L->word_ap[word] = L->n_ap++;
}

static void insert_pause(labels *L) {
    if (!L->pause) return;
    if (L->n_ph > 0) {
        if (L->ph_mora[L->n_ph - 1] < 0) return; /* never two pauses in a row (the flag stays) */
        add_phoneme(L, "pau", -1);
    }
    L->pause = 0;
}

static void push_word(labels *L, const char *pron, int acc, int chain_flag) {
    if (!strcmp(pron, "、") || !strcmp(pron, "？")) {
        L->pause = 1;
        return;
    }
    int first = 1;
    while (*pron) {
        if (!strncmp(pron, "ー", 3)) { /* long vowel: repeat the last phoneme in a new mora */
            if (L->n_ph > 0 && !L->pause) {
                int w = L->mora_word[L->n_mora - 1];
                int m = add_mora(L, w);
                add_phoneme(L, L->ph[L->n_ph - 1], m);
                L->word_tail[w] = m;
            }
            pron += 3;
        } else if (!strncmp(pron, "’", 3)) { /* unvoiced: only the case of the vowel changes */
            pron += 3;
        } else {
            const char *p1, *p2;
            int len = bv_ja_mora(pron, &p1, &p2);
            if (!len) break; /* OpenJTalk drops the rest of a pronunciation it cannot read */
            insert_pause(L);
            int m;
            if (L->n_ph == 0 || first) {
                m = add_mora(L, L->n_word);
                add_word(L, m);
                first = 0;
            } else {
                int w = L->mora_word[L->n_mora - 1];
                m = add_mora(L, w);
                L->word_tail[w] = m;
            }
            add_phoneme(L, p1, m);
            if (p2) add_phoneme(L, p2, m);
            pron += len;
        }
    }
    if (first) return;
    int w = L->n_word - 1;
    if (w == 0 || chain_flag != 1) {
        add_ap(L, acc, w);
    } else {
        L->word_ap[w] = L->n_ap - 1;
        L->ap_tail[L->n_ap - 1] = w;
    }
}

static int clip(int v, int lo, int hi) { return v <= lo ? lo : v >= hi ? hi : v; }

static void labels_free(labels *L) {
    free(L->ph), free(L->ph_mora), free(L->mora_word), free(L->word_head), free(L->word_tail), free(L->word_ap);
    free(L->ap_acc), free(L->ap_head), free(L->ap_tail);
}

static void build(const bv_ja_njd *njd, labels *L) {
    memset(L, 0, sizeof *L);
    for (const bv_ja_node *node = njd->head; node; node = node->next)
        push_word(L, bv_ja_str(node->pron), node->acc, node->chain_flag);
}

int bv_ja_label_phonemes(const bv_ja_njd *njd, const char ***out) {
    labels L;
    build(njd, &L);
    const char **ph = bv_xmalloc((size_t)(L.n_ph + 1) * sizeof *ph);
    for (int i = 0; i < L.n_ph; i++) ph[i] = L.ph[i];
    int n = L.n_ph;
    labels_free(&L);
    *out = ph;
    return n;
}

void bv_ja_accents(const bv_ja_njd *njd, bv_ja_accent **out, int *n) {
    labels L;
    build(njd, &L);
    int *a1 = bv_xmalloc((size_t)(L.n_ph + 1) * sizeof(int)), *a2 = bv_xmalloc((size_t)(L.n_ph + 1) * sizeof(int));
    for (int i = 0; i < L.n_ph; i++) {
        int m = L.ph_mora[i];
        if (m < 0) {
            a1[i] = a2[i] = -1000;
            continue;
        }
        int ap = L.word_ap[L.mora_word[m]];
        int head = L.word_head[L.ap_head[ap]], tail = L.word_tail[L.ap_tail[ap]];
        int idx = m - head + 1, count = tail - head + 1;
        int t = L.ap_acc[ap] == 0 ? count : L.ap_acc[ap];
        a1[i] = clip(idx - t, -49, 49);
        a2[i] = clip(idx, 1, 49);
    }
    bv_ja_accent *acc = bv_xmalloc((size_t)(L.n_ph + 1) * sizeof *acc);
    int k = 0;
    for (int i = 0; i < L.n_ph; i++) {
        if (L.ph_mora[i] < 0) continue;
        int next = i + 1 < L.n_ph && L.ph_mora[i + 1] >= 0 ? a2[i + 1] : -1;
        acc[k].phone = L.ph[i];
        acc[k].a1 = a1[i];
        acc[k].a2 = a2[i];
        acc[k].pause_after = i + 1 < L.n_ph && L.ph_mora[i + 1] < 0;
        acc[k].accent = a1[i] == 0 && next == a2[i] + 1 ? -1 : a2[i] == 1 && next == 2 ? 1 : 0;
        k++;
    }
    *out = acc;
    *n = k;
    free(a1), free(a2);
    labels_free(&L);
}
