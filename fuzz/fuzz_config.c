/* fuzz_config.c - bv_config_parse (upstream's config.json through cJSON into bv_config) on
 * arbitrary text. A config that parses is then asked what callers ask: derived sizes and every
 * speaker's id by name. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/io/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    char *text = fuzz_cstr(data, size);
    bv_config cfg;
    if (bv_config_parse(&cfg, text, "fuzz.json", err, sizeof err) == 0) {
        for (int i = 0; i < cfg.data.n_spk2id; i++) (void)bv_config_speaker_id(&cfg, cfg.data.spk2id[i].name);
        (void)bv_config_spec_channels(&cfg);
        if (cfg.data.hop_length != 0) (void)bv_config_segment_frames(&cfg);
        bv_config_free(&cfg);
    }
    free(text);
    return 0;
}
