/* lexicon.h - the English pronouncing dictionary: CMUdict 0.6 `cmudict.rep`, read as upstream's
 * text/english.py read_dict() reads it.
 *
 * Upstream builds eng_dict from text/cmudict.rep: lines before line 49 (the "##" header) are skipped;
 * every later line is stripped, split at the first two-space gap into WORD and pronunciation (text
 * after a second two-space gap is ignored), the pronunciation is split into syllables at " - " and
 * each syllable into phones at " ". A key that appears twice keeps its LAST pronunciation.
 * Variants such as "READ(2)" stay separate keys that no word lookup reaches. g2p only ever uses the
 * flattened phone list, so that is what we keep (syllable boundaries are dropped).
 *
 * The file is not in this repository: scripts/fetch-cmudict.sh installs it (from the PyPI wheel of
 * style-bert-vits2 2.5.0, sha256-checked) at data/cmudict.rep; BV2_CMUDICT overrides the path.
 *
 *   char err[512];
 *   bv_lexicon *lex = bv_lexicon_load(NULL, err, sizeof err);    // NULL: BV2_CMUDICT or data/cmudict.rep
 *   if (!lex) { fprintf(stderr, "error: %s\n", err); ... }
 *   const char *ph[BV_LEXICON_MAX_PRON];
 *   int n = bv_lexicon_lookup(lex, "hello", ph, BV_LEXICON_MAX_PRON);   // "HH" "AH0" "L" "OW1"; -1 if absent
 *   bv_lexicon_free(lex);
 */
#ifndef BV_TEXT_LEXICON_H
#define BV_TEXT_LEXICON_H

#include <stddef.h>

#define BV_LEXICON_DEFAULT_PATH "data/cmudict.rep"
#define BV_LEXICON_ENV "BV2_CMUDICT"
#define BV_LEXICON_HEADER_LINES 48   /* read_dict(): start_line = 49 (1-based) */
#define BV_LEXICON_MAX_PRON 64       /* longest pronunciation accepted (cmudict 0.6: 32 phones) */

typedef struct bv_lexicon bv_lexicon;

/* The path bv_lexicon_load(NULL, ...) reads: $BV2_CMUDICT when set and non-empty, else
 * BV_LEXICON_DEFAULT_PATH (relative to the working directory). */
const char *bv_lexicon_default_path(void);

/* Read a cmudict.rep file. Returns NULL and a message in err on failure: a missing file names the
 * path and tells the user to run scripts/fetch-cmudict.sh; a malformed line names its number. */
bv_lexicon *bv_lexicon_load(const char *path, char *err, size_t err_cap);
void bv_lexicon_free(bv_lexicon *lex);

/* The word pieces English g2p splits a text into (english.h step 1): by default the built-in rule;
 * `bv2 ... --bert-dir` installs the DeBERTa-v3 tokenizer here, as upstream's text_to_words asks it.
 * fn returns the number of pieces put in *pieces (a malloc'ed array of malloc'ed strings, "\u2581"
 * marking a word's first piece, as tokenizer.tokenize gives them), or -1 with err filled. */
typedef int (*bv_en_tokenize_fn)(void *user, const char *text, char ***pieces, char *err, size_t errcap);
void bv_lexicon_set_tokenizer(bv_lexicon *lex, bv_en_tokenize_fn fn, void *user);
bv_en_tokenize_fn bv_lexicon_tokenizer(const bv_lexicon *lex, void **user);

/* Number of keys (after duplicates collapsed). */
int bv_lexicon_size(const bv_lexicon *lex);

/* Pronunciation of word[0..len) looked up as upstream does (`word.upper() in eng_dict`; ASCII letters
 * are upper-cased, other bytes compared as they are). Fills phones[0..n) with ARPAbet strings as in
 * the file ("AH0", "HH") owned by the lexicon, and returns n; returns -1 when the word is absent, or
 * -2 when the pronunciation has more than cap phones. */
int bv_lexicon_lookup_n(const bv_lexicon *lex, const char *word, size_t len, const char **phones, int cap);
int bv_lexicon_lookup(const bv_lexicon *lex, const char *word, const char **phones, int cap);

#endif
