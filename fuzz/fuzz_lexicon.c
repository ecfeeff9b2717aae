/* fuzz_lexicon.c - bv_lexicon_load (a cmudict.rep, as given to --lexicon / $BV2_CMUDICT) on
 * arbitrary bytes; a lexicon that loads is looked up with a few words and each of its own
 * first-field words. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/text/lexicon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64], err[512];
    int fd = fuzz_memfd(data, size, path);
    bv_lexicon *lex = bv_lexicon_load(path, err, sizeof err);
    if (lex) {
        const char *ph[BV_LEXICON_MAX_PRON];
        static const char *const words[] = {"hello", "a", "", "READ(2)", "x"};
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            (void)bv_lexicon_lookup(lex, words[i], ph, BV_LEXICON_MAX_PRON);
        /* words of the input itself: every run of non-space bytes, by length */
        for (size_t i = 0; i < size;) {
            size_t j = i;
            while (j < size && data[j] != ' ' && data[j] != '\n') j++;
            if (j > i) (void)bv_lexicon_lookup_n(lex, (const char *)data + i, j - i, ph, BV_LEXICON_MAX_PRON);
            i = j + 1;
        }
        (void)bv_lexicon_size(lex);
        bv_lexicon_free(lex);
    }
    close(fd);
    return 0;
}
