/* fuzz_btok.c - the BERT tokenizers of `bv2 bert-gen` on arbitrary bytes as text: WordPiece
 * (chinese-roberta-wwm-ext-large), SentencePiece (deberta-v3-large) and the Japanese character
 * tokenizer (deberta-v2-large-japanese-char-wwm), each loaded once from the golden set's tiny model
 * folders ($BV2_GOLDEN, default ../shared/golden: bert/bert/<name>). bv_btok_tokenize and
 * bv_btok_encode on every input, ids checked against the vocabulary. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/bert/tokenizer.h"

static const char *const g_names[] = {"chinese-roberta-wwm-ext-large", "deberta-v3-large",
                                      "deberta-v2-large-japanese-char-wwm"};
static bv_btok *g_tok[3];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *golden = getenv("BV2_GOLDEN") ? getenv("BV2_GOLDEN") : "../shared/golden";
    for (int i = 0; i < 3; i++) {
        char dir[1024], err[512];
        snprintf(dir, sizeof dir, "%s/bert/bert/%s", golden, g_names[i]);
        g_tok[i] = bv_btok_load(dir, err, sizeof err);
        if (!g_tok[i]) {
            fprintf(stderr, "fuzz_btok: %s\n", err);
            exit(1);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    char *text = fuzz_cstr(data, size);
    for (int i = 0; i < 3; i++) {
        int vocab = bv_btok_vocab_size(g_tok[i]);
        bv_btok_out o;
        if (bv_btok_tokenize(g_tok[i], text, &o, err, sizeof err) == 0) {
            for (int k = 0; k < o.n; k++)
                if (o.ids[k] < 0 || o.ids[k] >= vocab || !o.pieces[k]) abort();
            bv_btok_out_free(&o);
        }
        int *ids = NULL, n = 0;
        if (bv_btok_encode(g_tok[i], text, &ids, &n, err, sizeof err) == 0) {
            for (int k = 0; k < n; k++)
                if (ids[k] < 0 || ids[k] >= vocab) abort();
            free(ids);
        }
    }
    free(text);
    return 0;
}
