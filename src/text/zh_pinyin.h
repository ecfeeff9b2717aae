/* zh_pinyin.h - pypinyin 0.53.0's lazy_pinyin as upstream's text/chinese.py calls it:
 *   lazy_pinyin(word, neutral_tone_with_five=True, style=Style.INITIALS)      and
 *   lazy_pinyin(word, neutral_tone_with_five=True, style=Style.FINALS_TONE3)  (strict=True, errors='default')
 * Both come out of one pass here, since both segment the word the same way: runs of characters with
 * readings (pypinyin's RE_HANS) are cut by pypinyin's forward maximum matching (mmseg, no_non_phrases=True)
 * over PHRASES_DICT; a phrase takes its phrase reading, any other character its first single reading. A run
 * of other characters stays one item whose initials and finals are the run itself.
 */
#ifndef BV_TEXT_ZH_PINYIN_H
#define BV_TEXT_ZH_PINYIN_H

#include <stdint.h>

#include "zh_dict.h"

typedef bv_zh_syllable bv_zh_py; /* ini: Style.INITIALS, fin: Style.FINALS_TONE3 */

/* Style.INITIALS and Style.FINALS_TONE3 (with 5 for the neutral tone) of one toned reading such as
 * "zhōng". Either may be "" (pypinyin returns '' for readings like "ń"). Returns -1 when a result does not
 * fit cap bytes. */
int bv_zh_pinyin_style(const uint32_t *py, int n, char *ini, char *fin, int cap);

/* 1 when pypinyin counts c as a character with a reading (RE_HANS). */
int bv_zh_is_hans(uint32_t c);

/* lazy_pinyin of word[0..n): fills out[0..k) and returns k, or -1 with err (an item too long, or more
 * than cap items). */
int bv_zh_lazy_pinyin(const bv_zh_dict *d, const uint32_t *word, int n, bv_zh_py *out, int cap, char *err,
                      int errcap);

#endif
