/* symbols.h - upstream's symbol table (text/symbols.py) and cleaned_text_to_sequence
 * (text/__init__.py), Bert-VITS2 2.3.
 *
 * symbols = ["_"] + sorted(set(zh_symbols + ja_symbols + en_symbols)) + punctuation + ["SP", "UNK"]:
 * 112 entries, id = position. Tones are shifted by the language's start (ZH 0, JP 6, EN 8) into
 * one table of 12; languages are ZH 0, JP 1, EN 2. TextEncoder's embeddings are indexed by these
 * ids, so the order here IS the checkpoint format.
 *
 *   int64_t ph[n], tn[n], lg[n];
 *   if (bv_cleaned_text_to_sequence(phones, tones, n, "EN", ph, tn, lg, err, sizeof err)) ...
 */
#ifndef BV_TEXT_SYMBOLS_H
#define BV_TEXT_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#define BV_N_SYMBOLS 112     /* len(symbols) */
#define BV_N_TONES 12        /* num_tones = 6 (ZH) + 2 (JP) + 4 (EN) */
#define BV_N_LANGUAGES 3     /* len(language_id_map) */
#define BV_PAD_ID 0          /* symbols[0] = "_", also the blank that add_blank intersperses */

typedef enum { BV_LANG_ZH = 0, BV_LANG_JP = 1, BV_LANG_EN = 2 } bv_language;

extern const char *const bv_symbols[BV_N_SYMBOLS];

/* Id of a symbol (exact, case-sensitive: "E" and "e" differ), or -1. */
int bv_symbol_id(const char *symbol);

/* language_id_map: "ZH" -> 0, "JP" -> 1, "EN" -> 2; -1 for anything else. */
int bv_language_id(const char *language);
/* "ZH" / "JP" / "EN" for an id in [0, BV_N_LANGUAGES). */
const char *bv_language_name(int language_id);
/* language_tone_start_map: 0, 6, 8. */
int bv_language_tone_start(int language_id);
/* Tones a language uses (num_zh_tones 6, num_ja_tones 2, num_en_tones 4): a tone t of that
 * language must satisfy 0 <= t < this, else it would index another language's tone embedding. */
int bv_language_num_tones(int language_id);

/* cleaned_text_to_sequence(phones, tones, language): phone_ids[i] = symbol id of phones[i],
 * tone_ids[i] = tones[i] + tone start, lang_ids[i] = language id. Returns 0, or -1 with err
 * naming the offending phone (and its position) / tone / language. */
int bv_cleaned_text_to_sequence(const char *const *phones, const int64_t *tones, int n, const char *language,
                                int64_t *phone_ids, int64_t *tone_ids, int64_t *lang_ids, char *err, size_t errcap);

/* The word2ph check every reader of a filelist line or a text makes: each entry in [0, n_phones]
 * (so the sum cannot overflow) and the entries summing to n_phones. Returns 0, or -1 with err saying
 * which entry or what the sum is. */
int bv_word2ph_check(const int64_t *word2ph, int n_word2ph, int n_phones, char *err, size_t errcap);

#endif
