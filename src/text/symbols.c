/* symbols.c - the 112-entry symbol table and cleaned_text_to_sequence (see symbols.h). */
#include "symbols.h"

#include <stdio.h>
#include <string.h>

/* text/symbols.py: pad, then sorted(set(zh + ja + en)) (Python sorts by code point, which for these
 * ASCII names is strcmp order), then punctuation + ["SP", "UNK"]. */
const char *const bv_symbols[BV_N_SYMBOLS] = {
    "_", "AA", "E", "EE", "En", "N", "OO", "V", "a", "a:", "aa", "ae", "ah", "ai", "an", "ang",
    "ao", "aw", "ay", "b", "by", "c", "ch", "d", "dh", "dy", "e", "e:", "eh", "ei", "en", "eng",
    "er", "ey", "f", "g", "gy", "h", "hh", "hy", "i", "i0", "i:", "ia", "ian", "iang", "iao", "ie",
    "ih", "in", "ing", "iong", "ir", "iu", "iy", "j", "jh", "k", "ky", "l", "m", "my", "n", "ng",
    "ny", "o", "o:", "ong", "ou", "ow", "oy", "p", "py", "q", "r", "ry", "s", "sh", "t", "th", "ts",
    "ty", "u", "u:", "ua", "uai", "uan", "uang", "uh", "ui", "un", "uo", "uw", "v", "van", "ve",
    "vn", "w", "x", "y", "z", "zh", "zy", "!", "?", "\xe2\x80\xa6" /* U+2026 "…" */, ",", ".", "'", "-",
    "SP", "UNK",
};

/* The sorted block is ids [1, 1 + BV_N_NORMAL). */
#define BV_N_NORMAL 102

int bv_symbol_id(const char *symbol) {
    int lo = 1, hi = 1 + BV_N_NORMAL;   /* binary search over the sorted block */
    while (lo < hi) {
        int mid = (lo + hi) / 2, c = strcmp(bv_symbols[mid], symbol);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    if (strcmp(symbol, bv_symbols[0]) == 0) return 0;
    for (int i = 1 + BV_N_NORMAL; i < BV_N_SYMBOLS; i++)
        if (strcmp(symbol, bv_symbols[i]) == 0) return i;
    return -1;
}

static const char *const lang_names[BV_N_LANGUAGES] = {"ZH", "JP", "EN"};
static const int lang_tone_start[BV_N_LANGUAGES] = {0, 6, 8};
static const int lang_num_tones[BV_N_LANGUAGES] = {6, 2, 4};

int bv_language_id(const char *language) {
    for (int i = 0; i < BV_N_LANGUAGES; i++)
        if (strcmp(language, lang_names[i]) == 0) return i;
    return -1;
}

const char *bv_language_name(int id) { return id >= 0 && id < BV_N_LANGUAGES ? lang_names[id] : "?"; }
int bv_language_tone_start(int id) { return lang_tone_start[id]; }
int bv_language_num_tones(int id) { return lang_num_tones[id]; }

int bv_cleaned_text_to_sequence(const char *const *phones, const int64_t *tones, int n, const char *language,
                                int64_t *phone_ids, int64_t *tone_ids, int64_t *lang_ids, char *err, size_t errcap) {
    int lang = bv_language_id(language);
    if (lang < 0) {
        snprintf(err, errcap, "unknown language \"%s\" (expected ZH, JP or EN)", language);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int id = bv_symbol_id(phones[i]);
        if (id < 0) {
            snprintf(err, errcap, "unknown phone symbol \"%s\" (phone %d of %d)", phones[i], i + 1, n);
            return -1;
        }
        /* upstream does not check this; an out-of-range tone silently reads another language's
         * tone embedding (or indexes past the table) */
        if (tones[i] < 0 || tones[i] >= lang_num_tones[lang]) {
            snprintf(err, errcap, "tone %lld of phone %d (\"%s\") is out of range for %s (0..%d)",
                     (long long)tones[i], i + 1, phones[i], language, lang_num_tones[lang] - 1);
            return -1;
        }
        phone_ids[i] = id;
        tone_ids[i] = tones[i] + lang_tone_start[lang];
        lang_ids[i] = lang;
    }
    return 0;
}

int bv_word2ph_check(const int64_t *word2ph, int n_word2ph, int n_phones, char *err, size_t errcap) {
    int64_t sum = 0;
    for (int i = 0; i < n_word2ph; i++) {
        if (word2ph[i] < 0 || word2ph[i] > n_phones)
            return snprintf(err, errcap, "word2ph[%d] = %lld is outside [0, %d] (the phone count)", i,
                            (long long)word2ph[i], n_phones), -1;
        sum += word2ph[i]; /* <= n_word2ph * n_phones: no overflow */
    }
    if (sum != n_phones)
        return snprintf(err, errcap, "word2ph sums to %lld, but there are %d phones", (long long)sum, n_phones), -1;
    return 0;
}
