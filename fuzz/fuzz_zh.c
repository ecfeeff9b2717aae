/* fuzz_zh.c - the Chinese front-end on arbitrary bytes as text: bv_zh_normalize, bv_zh_g2p on the raw
 * bytes and bv_zh_clean_text (what `bv2 infer/preprocess --language ZH` run), formatted as a
 * filelist field. The tables (data/zh, scripts/fetch-zh.sh) are loaded once and kept, as bv2 does. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/text/chinese.h"

static const bv_zh_dict *g_dict;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[512];
    g_dict = bv_zh_dict_default(err, sizeof err);
    if (!g_dict) {
        fprintf(stderr, "fuzz_zh: %s\n", err);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512], line[256];
    char *text = fuzz_cstr(data, size), *norm = NULL;
    if (bv_zh_normalize(text, &norm, err, sizeof err) == 0) free(norm);
    bv_en_phones ph;
    if (bv_zh_g2p(g_dict, text, &ph, err, sizeof err) == 0) {
        (void)bv_en_format(&ph, line, sizeof line);
        bv_en_phones_free(&ph);
    }
    norm = NULL;
    if (bv_zh_clean_text(g_dict, text, &norm, &ph, err, sizeof err) == 0) {
        (void)bv_en_format(&ph, line, sizeof line);
        bv_en_phones_free(&ph);
    }
    free(norm);
    free(text);
    return 0;
}
