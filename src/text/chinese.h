/* chinese.h - upstream Bert-VITS2 v2.3's Chinese front-end (text/chinese.py), in C:
 *
 *   text_normalize(text): numbers -> cn2an.an2cn (zh_number.h), then replace_punctuation (嗯 -> 恩,
 *       呣 -> 母, the punctuation map, then everything but CJK U+4E00..U+9FA5 and ! ? … , . ' - removed)
 *   g2p(norm_text): split after each punctuation mark; per piece: ASCII letters removed, jieba.posseg
 *       (zh_jieba.h), tone_sandhi pre-merge, per word (POS "eng" skipped) pypinyin initials and finals
 *       (zh_pinyin.h) with the tone sandhi (tone_sandhi.h), then the pinyin -> opencpop-strict mapping with
 *       upstream's spelling fixes; "_" at both ends, word2ph 1 per punctuation mark, else the phone count.
 *
 *   char err[512];
 *   bv_zh_dict *d = bv_zh_dict_load(NULL, err, sizeof err);
 *   char *norm; bv_en_phones ph;
 *   if (bv_zh_clean_text(d, "你好，世界！", &norm, &ph, err, sizeof err)) ... // phones "_ n i h ao , ..."
 *
 * Text upstream cannot handle (its assertions and exceptions), and text that is empty after cleaning, is
 * an error here with a message saying which.
 */
#ifndef BV_TEXT_CHINESE_H
#define BV_TEXT_CHINESE_H

#include <stddef.h>

#include "english.h" /* bv_en_phones: the phones|tones|word2ph triple every front-end returns */
#include "zh_dict.h"

/* text_normalize(text) of a UTF-8 text: malloc'ed UTF-8 in *norm. Returns 0 or -1 with err. */
int bv_zh_normalize(const char *text, char **norm, char *err, size_t errcap);

/* g2p(norm_text). Phones are bv_symbols entries. Returns 0 (out filled; bv_en_phones_free) or -1 with err. */
int bv_zh_g2p(const bv_zh_dict *d, const char *norm_text, bv_en_phones *out, char *err, size_t errcap);

/* clean_text(text, "ZH"): normalize then g2p; an empty normalized text is an error. *norm may be NULL. */
int bv_zh_clean_text(const bv_zh_dict *d, const char *text, char **norm, bv_en_phones *out, char *err,
                     size_t errcap);

/* The tables from bv_zh_data_dir(), loaded on the first call and kept until exit (for callers such as
 * preprocess and infer that meet Chinese text only now and then). NULL with err when they cannot load. */
const bv_zh_dict *bv_zh_dict_default(char *err, size_t errcap);

#endif
