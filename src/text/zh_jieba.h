/* zh_jieba.h - jieba 0.42.1's segmenters, as upstream's Chinese front-end uses them:
 *   bv_zh_posseg      jieba.posseg.lcut(sentence)          (HMM=True): words with POS tags
 *   bv_zh_cut         jieba.lcut(sentence)                 (HMM=True, accurate mode)
 *   bv_zh_cut_search  list(jieba.cut_for_search(sentence)) (tone_sandhi.py's _split_word)
 * Each splits the text into blocks as jieba's regular expressions do (re_han_internal / re_han_default),
 * finds the most probable route through the dictionary DAG (log frequencies, ties to the longer word), and
 * sends runs of single characters that do not form a dictionary word to the HMM: the (BMES x POS) Viterbi of
 * jieba.posseg (posseg) or the BMES Viterbi of jieba.finalseg (cut).
 */
#ifndef BV_TEXT_ZH_JIEBA_H
#define BV_TEXT_ZH_JIEBA_H

#include <stdint.h>

#include "zh_dict.h"

typedef struct {
    int off, len;             /* code points of the sentence */
    char tag[BV_ZH_TAG_MAX];  /* POS tag (posseg only) */
} bv_zh_tok;

typedef struct {
    bv_zh_tok *v;
    int n, cap;
} bv_zh_toks;

void bv_zh_toks_free(bv_zh_toks *t);

/* Each appends to out and returns 0, or -1 with err (text upstream cannot segment either). */
int bv_zh_posseg(const bv_zh_dict *d, const uint32_t *s, int n, bv_zh_toks *out, char *err, int errcap);
int bv_zh_cut(const bv_zh_dict *d, const uint32_t *s, int n, bv_zh_toks *out);
int bv_zh_cut_search(const bv_zh_dict *d, const uint32_t *s, int n, bv_zh_toks *out);

#endif
