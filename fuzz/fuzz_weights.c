/* fuzz_weights.c - the model-folder weight loader of `bv2 infer` / `bv2 export`
 * (bv_infer_model_load_weights: a .pth checkpoint or state dict, or a .safetensors file, chosen by
 * content) on arbitrary bytes, against the SynthesizerTrn that demo/config.json builds (made once).
 * Every tensor of the file is matched with the model's parameter table: unknown names, wrong
 * shapes, duplicates, non-float dtypes, F16/BF16/F64 conversion, "module." prefixes, enc_q.*
 * skipping, missing parameters. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/infer/infer.h"

static bv_infer_model g_model;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[512];
    bv_config cfg;
    if (bv_config_load(&cfg, "demo/config.json", err, sizeof err) || bv_infer_model_init(&g_model, &cfg, err, sizeof err)) {
        fprintf(stderr, "fuzz_weights: %s (run from the repository root)\n", err);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64], err[1024];
    int fd = fuzz_memfd(data, size, path);
    (void)bv_infer_model_load_weights(&g_model, path, "", err, sizeof err);
    close(fd);
    return 0;
}
