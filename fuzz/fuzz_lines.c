/* fuzz_lines.c - the one-line inputs of `bv2 preprocess` and `bv2 infer` on arbitrary bytes, each
 * line of the input in turn:
 *  - a transcript line "wav|speaker|language|text" (or a 7-field cleaned line), bv_prep_clean_line;
 *  - a cleaned "phones|tones[|word2ph]" line as --phones / --phones-batch give it, in every
 *    language, with and without add_blank (bv_infer_utt_from_phones);
 *  - English text as --text / --batch give it (bv_infer_utt_from_text: clean_text + get_text ids).
 * The lexicon is CMUdict 0.6 (data/cmudict.rep, or $BV2_CMUDICT), read once. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/app/preprocess.h"
#include "../src/infer/infer.h"
#include "../src/text/lexicon.h"

static bv_lexicon *g_lex;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    g_lex = fuzz_lexicon("fuzz_lines");
    return 0;
}

static void one_line(const char *line, int lineno) {
    char err[1024];
    bv_prep_utt u;
    if (bv_prep_clean_line(g_lex, line, lineno, "fuzz.list", lineno & 1 ? "wavs" : NULL, &u, err, sizeof err) == 0) {
        char *out = bv_prep_utt_line(&u);
        free(out);
        bv_prep_utt_free(&u);
    }
    static const char *const langs[] = {"ZH", "JP", "EN"};
    for (int k = 0; k < 3; k++) {
        bv_infer_utt iu;
        memset(&iu, 0, sizeof iu);
        if (bv_infer_utt_from_phones(&iu, line, langs[k], (lineno + k) & 1, err, sizeof err) == 0)
            bv_infer_utt_free(&iu);
    }
    bv_infer_utt tu;
    memset(&tu, 0, sizeof tu);
    if (bv_infer_utt_from_text(&tu, g_lex, line, "EN", lineno & 1, err, sizeof err) == 0) bv_infer_utt_free(&tu);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_cstr(data, size);
    int lineno = 0;
    for (char *p = text, *nl; p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl) *nl = 0;
        one_line(p, ++lineno);
        if (lineno == 16) break;
    }
    free(text);
    return 0;
}
