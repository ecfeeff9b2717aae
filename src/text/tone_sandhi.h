/* tone_sandhi.h - upstream v2.3 text/tone_sandhi.py (ToneSandhi, from PaddleSpeech): the word merges run
 * on jieba's segmentation before pinyin (pre_merge_for_modify) and the tone changes run on each word's
 * finals (modified_tone). The word sets must_neural_tone_words / must_not_neural_tone_words are read from
 * the tone_sandhi.py that scripts/fetch-zh.sh installs (zh_dict.h).
 *
 * Where upstream raises (IndexError on an empty final, the caught failure of _merge_yi), this code returns
 * the same outcome: an error, or for _merge_yi the unmerged words as upstream's try/except leaves them.
 */
#ifndef BV_TEXT_TONE_SANDHI_H
#define BV_TEXT_TONE_SANDHI_H

#include <stdint.h>

#include "zh_dict.h"

typedef struct {
    uint32_t *cp;
    int n;
    char pos[BV_ZH_TAG_MAX];
} bv_zh_word;

typedef struct {
    bv_zh_word *v;
    int n, cap;
} bv_zh_words;

void bv_zh_words_push(bv_zh_words *w, const uint32_t *cp, int n, const char *pos);
void bv_zh_words_free(bv_zh_words *w);

/* pre_merge_for_modify: _merge_bu, _merge_yi, _merge_reduplication, _merge_continuous_three_tones(_2),
 * _merge_er. Replaces *seg. Returns 0 or -1 with err. */
int bv_zh_pre_merge(const bv_zh_dict *d, bv_zh_words *seg, char *err, int errcap);

/* modified_tone(word, pos, finals): _bu_sandhi, _yi_sandhi, _neural_sandhi, _three_sandhi, in place on
 * fin[0..n) (one final per code point of the word). Returns 0 or -1 with err. */
int bv_zh_modified_tone(const bv_zh_dict *d, const uint32_t *word, int n, const char *pos,
                        char (*fin)[BV_ZH_PY_MAX], char *err, int errcap);

/* The single rules, for tests (same conventions as bv_zh_modified_tone). */
int bv_zh_bu_sandhi(const uint32_t *word, int n, char (*fin)[BV_ZH_PY_MAX], char *err, int errcap);
int bv_zh_yi_sandhi(const uint32_t *word, int n, char (*fin)[BV_ZH_PY_MAX], char *err, int errcap);
int bv_zh_neural_sandhi(const bv_zh_dict *d, const uint32_t *word, int n, const char *pos,
                        char (*fin)[BV_ZH_PY_MAX], char *err, int errcap);
int bv_zh_three_sandhi(const bv_zh_dict *d, const uint32_t *word, int n, char (*fin)[BV_ZH_PY_MAX], char *err,
                       int errcap);

/* Python's str.isnumeric for one code point (the Chinese numerals among CJK ideographs, digits). */
int bv_zh_isnumeric(uint32_t c);

#endif
