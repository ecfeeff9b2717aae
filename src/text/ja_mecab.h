/* ja_mecab.h - MeCab (Debian's libmecab) over OpenJTalk's naist-jdic dictionary (Debian's
 * open-jtalk-mecab-naist-jdic), as pyopenjtalk's run_frontend calls it: text2mecab (ASCII to
 * full width, control characters dropped), then one NJD node per morpheme.
 *
 * The dictionary folder: $OPEN_JTALK_DICT_DIR (the variable pyopenjtalk reads), else
 * /var/lib/mecab/dic/open-jtalk/naist-jdic. Debian ships it without the dicrc file libmecab wants
 * (OpenJTalk's own MeCab needs none); we then open it through a private temporary folder of
 * symbolic links plus a one-line dicrc, removed as soon as MeCab has mapped the files. */
#ifndef BV_TEXT_JA_MECAB_H
#define BV_TEXT_JA_MECAB_H

#include <stddef.h>

#include "ja_njd.h"

typedef struct bv_ja_mecab bv_ja_mecab;

#define BV_JA_DIC_DEFAULT "/var/lib/mecab/dic/open-jtalk/naist-jdic"

/* dicdir NULL: the default above. NULL with a message in err on failure. */
bv_ja_mecab *bv_ja_mecab_open(const char *dicdir, char *err, size_t err_cap);
void bv_ja_mecab_free(bv_ja_mecab *m);

/* text2mecab + MeCab + mecab2njd: appends the morphemes of text to njd. -1 with err on failure. */
int bv_ja_mecab_parse(bv_ja_mecab *m, const char *text, bv_ja_njd *njd, char *err, size_t err_cap);

/* OpenJTalk's text2mecab: printable ASCII to its full-width form (" " -> "　", "~" -> "〜"), other
 * ASCII bytes dropped, half-width katakana to full width; anything else copied. malloc'ed. */
char *bv_ja_text2mecab(const char *text);

#endif
