/* normalize.h - English text normalisation, upstream text/english.py text_normalize():
 *
 *   1. normalize_numbers: commas inside digit groups dropped; "£N" -> "N pounds"; "$D.C" -> dollars and
 *      cents; "A.B" -> "A point B"; "Nst/nd/rd/th" -> inflect ordinal words; every other digit run ->
 *      inflect cardinal words, 1001-2999 read like years ("nineteen oh five", "twenty-five hundred").
 *   2. replace_punctuation: upstream's rep_map (full-width punctuation to ASCII, quotes and brackets to
 *      "'", "…" to "...", "$" to ".", dashes to "-", newline to ".").
 *   3. A space after , ; . ? ! when a word character follows.
 *
 * Upstream's quirks are reproduced, not fixed (golden/text_en/README.md lists them): inflect's commas
 * stay ("twelve thousand, three hundred forty-five"), ordinals keep inflect's "and" ("one hundred and
 * first") while cardinals drop it, decimals read the fraction as an integer ("ten point five" for 10.05),
 * leading zeros vanish, the abbreviation table upstream defines is never applied, "£3.50" becomes
 * "three pounds. fifty". Numbers are read as words by a port of inflect's number_to_words (the exact
 * string operations, so its spacing and comma rules carry over); more than 36 digits is an error, as
 * inflect raises there.
 *
 * Input and output are UTF-8. Regular expressions with \w treat a non-ASCII code point as a word
 * character unless it is a space, punctuation or symbol from the common blocks (an approximation of
 * Python's Unicode \w; it only changes spacing next to characters the g2p step rejects anyway).
 */
#ifndef BV_TEXT_NORMALIZE_H
#define BV_TEXT_NORMALIZE_H

#include <stddef.h>

/* text_normalize(in) into out (NUL-terminated, at most cap bytes with the NUL). Returns 0, or -1 with
 * a message in err: invalid UTF-8 (byte offset), a number inflect cannot read (more than 36 digits), a
 * "$" amount upstream's int() would reject ("$,5"), or out too small (the size needed is named). */
int bv_en_normalize(const char *in, char *out, size_t cap, char *err, size_t err_cap);
/* The same into a malloc'ed string (free() it); NULL with err on failure. */
char *bv_en_normalize_alloc(const char *in, char *err, size_t err_cap);

/* Number words exactly as upstream produces them, for tests and tools (out as above):
 * digits: an ASCII digit string; ordinal: 0 -> _expand_number(int(digits)) (cardinal / year reading),
 * 1 -> _expand_ordinal (inflect number_to_words of "<digits>th", default "and"). */
int bv_en_number_words(const char *digits, int ordinal, char *out, size_t cap, char *err, size_t err_cap);

/* Python's str.isspace() for one code point (str.split() separators). */
int bv_en_is_space_cp(unsigned cp);

/* Decode one UTF-8 code point at s (NUL-terminated); returns its byte length (1..4), or 0 when the
 * bytes there are not valid UTF-8. */
int bv_en_utf8_decode(const char *s, unsigned *cp);

#endif
