/* japanese.h - the Japanese front-end of upstream Bert-VITS2 v2.3 (text/japanese.py):
 * text_normalize(text) and g2p(norm_text) -> phones, tones, word2ph, as clean_text(text, "JP").
 *
 * text_normalize: NFKC (utf8proc), japanese_convert_numbers_to_words (digit-group commas removed,
 * "$12" -> "12ドル", every [0-9]+(.[0-9]+)? through num2words' Japanese cardinals: 2500 -> 二千五百,
 * 3.14 -> 三点一四), replace_punctuation (upstream's rep_map, then every character that is not
 * kana, CJK, 々 or one of ! ? … , . ' - is dropped), and removal of U+3099.
 *
 * g2p, as upstream:
 *  1. text2sep_kata (upstream v2.3, the version Bert-VITS2 2.3 ships; later commits changed
 *     kata2phoneme): pyopenjtalk's run_frontend (MeCab over OpenJTalk's dictionary, ja_mecab.h;
 *     the NJD passes, ja_njd.h) gives one word per node: the word is replace_punctuation(surface),
 *     its reading the pronunciation without ’ (hiragana made katakana); a pause node (、 ？ or a mark) reads as its own
 *     punctuation (a mark of several characters splits into one word per character, one that is
 *     no punctuation reads ","). get_accent: the A1/A2 marks of the labels (ja_label.h).
 *  2. kata2phoneme per word (v2.3: the reading in katakana goes through pyopenjtalk.g2p again -- a
 *     second front-end run on the katakana alone, whose label phonemes are the word's phones; so
 *     MeCab may re-read it: オモウ -> o m o o), handle_long (a leading ー repeats the phoneme
 *     before it), align_tones (each word's phones matched in order against the sentence's label
 *     phonemes; the running sum of the marks, shifted one phoneme later, +1 when a -1 occurs; after
 *     a re-read phone that no label matches, every later tone stays 0, as upstream).
 *  3. word2ph: each word's phones spread over its tokens by distribute_phone. The tokenizer is
 *     deberta-v2-large-japanese-char-wwm's (BertJapaneseTokenizer, basic words, character pieces):
 *     one token per character of the word, an unknown character being one [UNK] token, so only
 *     the character count matters; a punctuation word is one token.
 *  Phones, tones and word2ph get "_" / 0 / 1 at both ends.
 *
 * What upstream itself cannot handle is an error here (its asserts and crashes): a phoneme that is
 * not a symbol (a word MeCab cannot read, e.g. a rare kanji), a word without phonemes, phones
 * without a token to go to, a tone out of 0..1, an empty text, a number num2words overflows on.
 *
 *   char err[512];
 *   bv_ja_frontend *ja = bv_ja_open(NULL, err, sizeof err);
 *   char *norm = bv_ja_normalize("明日の会議は午後3時からです。", err, sizeof err); // ...午後三時からです.
 *   bv_en_phones ph;
 *   if (bv_ja_g2p(ja, norm, &ph, err, sizeof err)) ...
 *   bv_en_phones_free(&ph); free(norm); bv_ja_free(ja);
 */
#ifndef BV_TEXT_JAPANESE_H
#define BV_TEXT_JAPANESE_H

#include <stddef.h>

#include "english.h" /* bv_en_phones: the phones/tones/word2ph container all front-ends fill */
#include "ja_njd.h"

typedef struct bv_ja_frontend bv_ja_frontend;

/* Opens MeCab over the dictionary (dicdir NULL: $OPEN_JTALK_DICT_DIR, else Debian's folder). */
bv_ja_frontend *bv_ja_open(const char *dicdir, char *err, size_t err_cap);
void bv_ja_free(bv_ja_frontend *ja);
/* The process's front-end over the default dictionary, opened on first use and given back at exit
 * (src/core/cleanup.h): what preprocess and infer share. NULL with err when it cannot be opened. */
bv_ja_frontend *bv_ja_default(char *err, size_t err_cap);

/* text_normalize(text), malloc'ed; NULL with err for invalid UTF-8 or a number num2words refuses. */
char *bv_ja_normalize(const char *text, char *err, size_t err_cap);

/* g2p(norm_text). 0, or -1 with err (out left empty). */
int bv_ja_g2p(bv_ja_frontend *ja, const char *norm_text, bv_en_phones *out, char *err, size_t err_cap);

/* clean_text(text, "JP"): normalize then g2p; *norm_text (may be NULL) receives the normalized text. */
int bv_ja_clean_text(bv_ja_frontend *ja, const char *text, char **norm_text, bv_en_phones *out, char *err,
                     size_t err_cap);

/* The text japanese_bert.get_bert_feature feeds its tokenizer: "".join(text2sep_kata(norm_text)[0]),
 * the words of the front-end (one character per word2ph entry between the two pads). malloc'ed;
 * NULL with err. */
char *bv_ja_bert_text(bv_ja_frontend *ja, const char *norm_text, char *err, size_t err_cap);

/* pyopenjtalk's run_frontend(text): the NJD nodes after MeCab and the rule passes. 0 or -1. */
int bv_ja_run_frontend(bv_ja_frontend *ja, const char *text, bv_ja_njd *njd, char *err, size_t err_cap);

/* pieces, exposed for tests */
char *bv_ja_numbers_to_words(const char *text, char *err, size_t err_cap);   /* ja_numbers.c */
char *bv_ja_replace_punctuation(const char *text);

#endif
