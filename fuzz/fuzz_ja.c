/* fuzz_ja.c - the Japanese front-end on arbitrary bytes as text: bv_ja_normalize, bv_ja_g2p on the raw
 * bytes and bv_ja_clean_text (what `bv2 infer/preprocess --language JP` run), formatted as a
 * filelist field. MeCab over OpenJTalk's dictionary is opened once (bv_ja_open(NULL)). */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/text/japanese.h"

static bv_ja_frontend *g_ja;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[512];
    g_ja = bv_ja_open(NULL, err, sizeof err);
    if (!g_ja) {
        fprintf(stderr, "fuzz_ja: %s\n", err);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512], line[256];
    char *text = fuzz_cstr(data, size);
    free(bv_ja_normalize(text, err, sizeof err));
    bv_en_phones ph;
    if (bv_ja_g2p(g_ja, text, &ph, err, sizeof err) == 0) {
        (void)bv_en_format(&ph, line, sizeof line);
        bv_en_phones_free(&ph);
    }
    char *norm = NULL;
    if (bv_ja_clean_text(g_ja, text, &norm, &ph, err, sizeof err) == 0) {
        (void)bv_en_format(&ph, line, sizeof line);
        bv_en_phones_free(&ph);
    }
    free(norm);
    free(text);
    return 0;
}
