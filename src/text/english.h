/* english.h - the English front-end of upstream text/english.py: g2p(norm_text) -> phones, tones,
 * word2ph, and clean_text (text_normalize then g2p). Normalisation is in normalize.h, the CMUdict
 * lexicon in lexicon.h.
 *
 * g2p, step by step as upstream does it:
 *  1. Tokens. Upstream asks the DeBERTa-v3 tokenizer; we use the word-level rule the golden set was
 *     produced with (golden/text_en/README.md): split on whitespace; in each chunk every maximal run
 *     of ASCII letters/digits is one piece and every other character a piece of its own; the first
 *     piece of a chunk starts a word. text_to_words then groups pieces into words exactly as upstream
 *     (a punctuation piece joins the word before it only when a non-punctuation, non-word-start piece
 *     follows it).
 *  2. A word of several pieces that contains a "'" piece is joined into one string ("can't", "'Tis").
 *  3. Each piece (or joined word): a punctuation symbol (! ? … , . ' -) is its own phone with tone 0;
 *     a key of the lexicon (upper-cased) gives its phones, each through refine_ph (stress digit d ->
 *     tone d + 1, no digit -> tone 3, lower case) and post_replace_ph ("v" -> "V", anything that is
 *     not a symbol -> "UNK"); anything else goes to letter-to-sound (below).
 *  4. word2ph: the word's phone count spread over its ORIGINAL pieces by distribute_phone (the first
 *     n % k pieces get one more), so entries can be 0. Then "_" is added at both ends, with tone 0
 *     and word2ph 1.
 *
 * Letter-to-sound, for words the lexicon lacks (upstream uses the g2p_en neural model there, whose
 * results we cannot reproduce; we follow its text handling and use flite instead):
 *  - like g2p_en, lower-case the word and drop ASCII characters other than letters and ' . , ? ! -
 *    (so a piece such as ";", "%", "&", ":" or "/" gives no phones, as it does upstream);
 *  - split it into letter runs (with apostrophes inside, "blorp's") and single other characters;
 *    a character of upstream's punctuation becomes that phone with tone 0;
 *  - a letter run is looked up in the lexicon (upstream's g2p_en looks in its own CMUdict first),
 *    else in flite's cmulex lexicon with its letter-to-sound rules (lex_lookup);
 *  - flite phones are CMUdict 0.4 style, mapped to upstream's: "ax" (schwa) -> "ah", "axr" -> "er"
 *    (stress 0 when none), "pau" dropped, multi-phone LTS outputs ("k-s") split; then refine_ph and
 *    post_replace_ph as for lexicon phones. flite marks only primary stress (1) and unstressed (0),
 *    so its vowels get tones 2 or 1 (never 3, secondary stress); consonants get 3.
 *
 * Characters g2p cannot handle are errors that name the character and its position (0-based code
 * point index in norm_text): any non-ASCII character other than whitespace and "…" (upstream's g2p_en
 * would strip accents or drop it silently; we refuse rather than guess), ASCII control characters, and
 * digits (text_normalize spells every ASCII digit out, so a digit means the text was not normalized).
 * An empty or all-space text gives just the two pads, as upstream; callers that need speech check it.
 *
 *   bv_en_phones ph;
 *   char err[512];
 *   if (bv_en_g2p(lex, "Hello, world.", &ph, err, sizeof err)) { fprintf(stderr, "error: %s\n", err); ... }
 *   // ph.phones = _ hh ah l ow , w er l d . _   ph.tones = 0 3 1 3 2 0 3 2 3 3 0 0   ph.word2ph = 1 4 1 4 1 1
 *   bv_en_phones_free(&ph);
 */
#ifndef BV_TEXT_ENGLISH_H
#define BV_TEXT_ENGLISH_H

#include <stddef.h>
#include <stdint.h>

#include "lexicon.h"
#include "normalize.h"

typedef struct bv_en_phones {
    const char **phones;   /* [n_phones] entries of bv_symbols (static strings), "_" at both ends */
    int64_t *tones;        /* [n_phones] 0..3, before the language's tone offset */
    int n_phones;
    int64_t *word2ph;      /* [n_word2ph] one per tokenizer piece, plus 1 at both ends; sums to n_phones */
    int n_word2ph;
} bv_en_phones;

/* upstream english.g2p(norm_text). Returns 0 (out filled; free with bv_en_phones_free), or -1 with a
 * message in err (out left empty). */
int bv_en_g2p(const bv_lexicon *lex, const char *norm_text, bv_en_phones *out, char *err, size_t err_cap);
void bv_en_phones_free(bv_en_phones *p);

/* clean_text(text, "EN"): bv_en_normalize then bv_en_g2p. *norm_text (malloc'ed, may be NULL if not
 * wanted) receives the normalized text. Returns 0 or -1 with err. */
int bv_en_clean_text(const bv_lexicon *lex, const char *text, char **norm_text, bv_en_phones *out, char *err,
                     size_t err_cap);

/* Filelist form, as preprocess_text.py writes it: "phones|tones|word2ph", each space separated
 * ("_ hh ah l ow _|0 3 1 3 2 0|1 4 1"). Writes at most cap bytes (NUL included, truncated if short)
 * and returns the length the whole line needs, without the NUL (snprintf style). */
size_t bv_en_format(const bv_en_phones *p, char *out, size_t cap);

/* The letter-to-sound step alone, for a lower- or upper-case ASCII word (tests, tools): phones and
 * tones appended to out as bv_en_g2p's OOV path gives them (no pads, no word2ph). */
int bv_en_letter_to_sound(const bv_lexicon *lex, const char *word, bv_en_phones *out, char *err, size_t err_cap);

#endif
