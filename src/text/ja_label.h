/* ja_label.h - the part of OpenJTalk's full-context labels (JPCommon, jpcommon_label.c of OpenJTalk
 * 1.11, written anew from its public source) that upstream Bert-VITS2 reads: each phoneme of the
 * utterance with the A1 and A2 fields of its label, turned into upstream get_accent's marks.
 *
 * JPCommon splits each word's pronunciation into morae (katakana -> consonant + vowel phonemes;
 * ー repeats the phoneme before it; ’ marks an unvoiced vowel, which only changes case), groups
 * words into accent phrases (a word with chain flag 1 joins the phrase before it), and puts a
 * pause "pau" where a word reads 、 or ？. For a phoneme in mora number i (1-based) of an accent
 * phrase of accent type t (0: the number of morae in the phrase) A1 = i - t and A2 = i (both
 * clipped to ±49 / 1..49 as OpenJTalk does). Upstream's get_accent then marks a phoneme -1
 * (falling) when A1 = 0 and the next label's A2 is A2 + 1, +1 (rising) when A2 = 1 and the next
 * A2 is 2, 0 otherwise; the next label counts as A2 = -1 when it is a pause or silence. */
#ifndef BV_TEXT_JA_LABEL_H
#define BV_TEXT_JA_LABEL_H

#include "ja_njd.h"

typedef struct bv_ja_accent {
    const char *phone; /* lower case, "cl" as "q" (static string) */
    int accent;        /* -1, 0, 1 */
    int a1, a2;        /* the label fields, for tests */
    int pause_after;   /* a pau label follows (tests) */
} bv_ja_accent;

/* The phonemes of njd's labels (no sil/pau) with their marks: *out malloc'ed, *n entries. */
void bv_ja_accents(const bv_ja_njd *njd, bv_ja_accent **out, int *n);

/* The phonemes of njd's labels between the two sil, "pau" included, as pyopenjtalk.g2p lists them
 * (but lower case and "cl" as "q"): *out malloc'ed (static strings), returns the count. */
int bv_ja_label_phonemes(const bv_ja_njd *njd, const char ***out);

/* The first mora of a katakana pronunciation as JPCommon reads it: bytes used (0: not a mora) and
 * its one or two phonemes, lower case (ア: "a"; カ: "k" "a"; ン: "n"; ッ: "q"; *p2 NULL for one). */
int bv_ja_mora(const char *s, const char **p1, const char **p2);

#endif
