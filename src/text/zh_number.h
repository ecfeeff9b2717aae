/* zh_number.h - the number step of upstream v2.3's text/chinese.py text_normalize:
 *   for number in re.findall(r"\d+(?:\.?\d+)?", text): text = text.replace(number, cn2an.an2cn(number), 1)
 * with cn2an 0.5.22's an2cn in its default "low" mode (0-9 as 零一二三四五六七八九, units 十百千万亿,
 * at most 16 integer digits, at most 16 decimals kept). */
#ifndef BV_TEXT_ZH_NUMBER_H
#define BV_TEXT_ZH_NUMBER_H

#include <stdint.h>

/* cn2an.an2cn(digits): digits are ASCII or full-width digits with at most one '.'. Writes code points to
 * out (cap) and returns their count, or -1 with err (what cn2an raises on). */
int bv_zh_an2cn(const uint32_t *digits, int n, uint32_t *out, int cap, char *err, int errcap);

/* The replacement loop over text[0..n); returns the new length in out, or -1 with err. */
int bv_zh_numbers_to_chinese(const uint32_t *text, int n, uint32_t *out, int cap, char *err, int errcap);

/* Python's \d: Unicode decimal digit (category Nd). */
int bv_zh_is_decimal(uint32_t c);

#endif
