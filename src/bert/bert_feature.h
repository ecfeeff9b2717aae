/* bert_feature.h - Bert-VITS2's BERT features: upstream text/chinese_bert.py, english_bert_mock.py,
 * japanese_bert.py get_bert_feature and bert_gen.py's process_line.
 *
 * The models live under one folder (--bert-dir, default ./bert as upstream's relative paths), in
 * upstream's folder names:
 *   ZH  chinese-roberta-wwm-ext-large        BERT + BertTokenizerFast
 *   EN  deberta-v3-large                     DeBERTa-v2 (v3 settings) + DebertaV2Tokenizer (spm.model)
 *   JP  deberta-v2-large-japanese-char-wwm   DeBERTa-v2 + BertJapaneseTokenizer (character)
 * A language's model is loaded the first time it is needed (bv_bert_set_prepare before threads).
 *
 * The feature of a text: hidden_states[-3] of the model on [CLS] tokens [SEP], row i repeated
 * word2ph[i] times, so one row per phone; with a style text, every row is
 * res[i] * (1 - w) + mean(style_res) * w (v2.3's style mixing). Upstream's checks become errors:
 * ZH/JP need len(word2ph) == len(text) + 2 (characters), EN len(word2ph) == number of tokens + 2, and
 * every language needs at least len(word2ph) tokens.
 * JP text first goes through the Japanese front-end's text2sep_kata, as japanese_bert.py does
 * ("".join(text2sep_kata(text)[0])): bv_bert_set_prepare("JP") installs the build's Japanese front-end
 * (src/text/japanese.h, bv_ja_bert_text) when it is linked in, bv_bert_set_ja_sep another; without
 * either, JP features are an error saying so.
 */
#ifndef BV_BERT_FEATURE_H
#define BV_BERT_FEATURE_H

#include <stddef.h>
#include <stdint.h>

#include "bert_model.h"
#include "tokenizer.h"

typedef struct bv_bert_set bv_bert_set;

/* Upstream's folder name of a language's model ("ZH", "EN", "JP"), NULL for another. */
const char *bv_bert_model_folder(const char *language);

bv_bert_set *bv_bert_set_new(const char *bert_dir);
void bv_bert_set_free(bv_bert_set *s);
/* Loads the language's tokenizer and model if not yet loaded. 0, or -1 with err (the folder, what
 * is wrong). Not thread-safe: call before running features from several threads. */
int bv_bert_set_prepare(bv_bert_set *s, const char *language, char *err, size_t errcap);
/* The loaded pieces (after a successful prepare), for tools and tests. */
const bv_btok *bv_bert_set_tokenizer(const bv_bert_set *s, const char *language);
const bv_bert_model *bv_bert_set_model(const bv_bert_set *s, const char *language);

/* get_bert_feature(text, word2ph, style_text, style_weight) of `language`: *feat (malloc) receives
 * [n_phones, hidden] row-major - the storage of upstream's returned [hidden, n_phones] .T view -
 * with n_phones = sum(word2ph). style_text NULL or "": none. Thread-safe once prepared.
 * 0, or -1 with err. */
int bv_bert_feature(bv_bert_set *s, const char *language, const char *text, const int64_t *word2ph, int n_word2ph,
                    const char *style_text, float style_weight, float **feat, int *hidden, int64_t *n_phones,
                    char *err, size_t errcap);

/* torch.save(feature) as upstream writes it: a [hidden, n_phones] transposed view of feat
 * ([n_phones, hidden] storage). Written to a temporary name and renamed. */
int bv_bert_save(const char *path, const float *feat, int hidden, int64_t n_phones, char *err, size_t errcap);

/* A bv_en_tokenize_fn (text/lexicon.h) over a tokenizer (user: the const bv_btok *): its
 * tokenize(text) pieces, for English g2p's text_to_words as upstream's english.py splits words. */
int bv_bert_tokenize_pieces(void *user, const char *text, char ***pieces, char *err, size_t errcap);

/* Installs the EN tokenizer of the set (prepared) on lex (bv_lexicon_set_tokenizer). */
struct bv_lexicon;
int bv_bert_set_en_words(bv_bert_set *s, struct bv_lexicon *lex, char *err, size_t errcap);

/* The feature as bv_infer_utt.bert wants it: [hidden, n_phones] row-major (malloc), from
 * bv_bert_feature. */
int bv_bert_feature_hp(bv_bert_set *s, const char *language, const char *text, const int64_t *word2ph,
                       int n_word2ph, const char *style_text, float style_weight, float **feat, int *hidden,
                       int64_t *n_phones, char *err, size_t errcap);

/* japanese_bert.py's first step: *joined (malloc) = "".join(text2sep_kata(text)[0]), or -1 with err. */
typedef int (*bv_bert_ja_sep_fn)(void *user, const char *text, char **joined, char *err, size_t errcap);
/* Installs it (the Japanese front-end's; user is passed back). Calls may come from several threads. */
void bv_bert_set_ja_sep(bv_bert_set *s, bv_bert_ja_sep_fn fn, void *user);

/* ---- bert_gen.py ---- */

/* The result of one filelist line. */
typedef enum {
    BV_BERT_LINE_WRITTEN = 0,
    BV_BERT_LINE_KEPT,       /* an existing <wav>.bert.pt with len(phones) columns (not all zeros) */
    BV_BERT_LINE_FAILED,
} bv_bert_line_result;

/* process_line(line, add_blank): parses "wav|speaker|lang|text|phones|tones|word2ph" (already
 * stripped), checks the phones against the symbol table, doubles word2ph with word2ph[0] += 1 when
 * add_blank, and writes <wav>.bert.pt (wav ".WAV"/".wav" -> ".bert.pt"; base_dir joined in front of
 * a relative path, NULL for none) unless a good one exists and !overwrite. An existing file that
 * holds only zeros (bv2 preprocess's stand-in) is regenerated. `where` ("file:line") prefixes
 * errors. */
bv_bert_line_result bv_bert_gen_line(bv_bert_set *s, const char *line, int add_blank, const char *base_dir,
                                     int overwrite, const char *where, char *err, size_t errcap);

#endif
