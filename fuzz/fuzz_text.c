/* fuzz_text.c - the English front-end on arbitrary bytes as text: bv_en_normalize (numbers,
 * punctuation, UTF-8), bv_en_g2p on the raw bytes (as `bv2 g2p`/--phones callers may pass
 * unnormalised text) and bv_en_clean_text (normalise then g2p, what `bv2 infer --text` does),
 * with the result formatted as a filelist field. The lexicon is CMUdict 0.6 (data/cmudict.rep, or
 * $BV2_CMUDICT), read once. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/text/english.h"

static bv_lexicon *g_lex;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    g_lex = fuzz_lexicon("fuzz_text");
    return 0;
}

static void use(const bv_en_phones *p) {
    char line[256];
    size_t need = bv_en_format(p, line, sizeof line);
    char *big = malloc(need + 1);
    if (!big) abort();
    if (bv_en_format(p, big, need + 1) != need || strlen(big) != need) abort();
    free(big);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    char *text = fuzz_cstr(data, size);
    char *norm = bv_en_normalize_alloc(text, err, sizeof err);
    free(norm);
    bv_en_phones ph;
    if (bv_en_g2p(g_lex, text, &ph, err, sizeof err) == 0) {
        use(&ph);
        bv_en_phones_free(&ph);
    }
    char *n2 = NULL;
    if (bv_en_clean_text(g_lex, text, &n2, &ph, err, sizeof err) == 0) {
        use(&ph);
        bv_en_phones_free(&ph);
    }
    free(n2);
    free(text);
    return 0;
}
