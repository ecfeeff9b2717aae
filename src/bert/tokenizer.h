/* tokenizer.h - the three tokenizers of Bert-VITS2's BERT models, exact to what upstream gets from
 * transformers 4.30.2:
 *
 *   WORDPIECE  chinese-roberta-wwm-ext-large: AutoTokenizer -> BertTokenizerFast (tokenizer.json /
 *              vocab.txt). BertNormalizer (clean text: drop NUL, U+FFFD and control characters, any
 *              whitespace -> ' '; spaces around CJK ideographs; strip accents (NFD, drop Mn) when
 *              strip_accents, or when it is null and lowercase is on; lowercase), BertPreTokenizer
 *              (split on whitespace, every punctuation character alone), WordPiece (greedy longest
 *              match, "##" continuation, [UNK] for a word with no split or longer than
 *              max_input_chars_per_word characters).
 *   SPM        deberta-v3-large: DebertaV2Tokenizer (split_by_punct false, do_lower_case false):
 *              SentencePiece's own encoding of the whole text (spm.model through spm_shim.h).
 *   JP_CHAR    deberta-v2-large-japanese-char-wwm: BertJapaneseTokenizer with word_tokenizer_type
 *              "basic" (transformers' slow BasicTokenizer, tokenize_chinese_chars off) and
 *              subword_tokenizer_type "character" (each word NFKC-normalised, one token per
 *              character, [UNK] for a character not in vocab.txt).
 *
 * Unicode properties (categories, NFD/NFKC, lower case) come from utf8proc. Not reproduced: literal
 * special-token strings inside the text ("[MASK]" typed in a transcript is split like other text,
 * where transformers keeps it whole).
 *
 * Errors (a missing file, an unsupported tokenizer setting named by its key, text that is not
 * UTF-8) fill err and return -1.
 */
#ifndef BV_BERT_TOKENIZER_H
#define BV_BERT_TOKENIZER_H

#include <stddef.h>

typedef enum { BV_BTOK_WORDPIECE = 0, BV_BTOK_SPM, BV_BTOK_JP_CHAR, BV_BTOK_KIND_COUNT } bv_btok_kind;

typedef struct bv_btok bv_btok;

/* Tokens of one text, without [CLS]/[SEP]. */
typedef struct bv_btok_out {
    int n;
    int *ids;
    char **pieces;    /* the token strings (as tokenizer.tokenize returns them) */
} bv_btok_out;

/* Loads the tokenizer of a HuggingFace model folder: tokenizer_config.json's tokenizer_class
 * (or, without one, config.json's model_type and the files present), then vocab.txt /
 * tokenizer.json / spm.model. NULL with err filled. */
bv_btok *bv_btok_load(const char *dir, char *err, size_t errcap);
void bv_btok_free(bv_btok *t);
bv_btok_kind bv_btok_get_kind(const bv_btok *t);
int bv_btok_vocab_size(const bv_btok *t);
int bv_btok_cls_id(const bv_btok *t);
int bv_btok_sep_id(const bv_btok *t);

/* tokenizer.tokenize(text) with ids. 0, or -1 with err filled. Free with bv_btok_out_free. */
int bv_btok_tokenize(const bv_btok *t, const char *text, bv_btok_out *out, char *err, size_t errcap);
void bv_btok_out_free(bv_btok_out *o);

/* tokenizer(text)["input_ids"]: [CLS] tokens [SEP] into *ids (malloc), *n entries. */
int bv_btok_encode(const bv_btok *t, const char *text, int **ids, int *n, char *err, size_t errcap);

#endif
