/* fuzz_filelist.c - filelists (wav|speaker|language|text|phones|tones|word2ph) on arbitrary bytes:
 * bv_filelist_parse, the field helpers callers use (bv_split_spaces, bv_parse_int_list,
 * bv_utf8_len), and bv_dataset_open on the same bytes as a file - the per-line checks of every
 * kept line (speaker, language, symbols, tones, word2ph sum, files). A scratch folder holds an
 * a.wav and a.bert.pt (empty) so lines naming them get past the file checks. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/data/dataset.h"
#include "../src/data/filelist.h"

static char g_dir[64];
static bv_config g_cfg;
static bv_config_speaker g_spk[2];

static void touch(const char *name) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(g_dir, sizeof g_dir, "/tmp/bv2-fuzz-filelist-XXXXXX");
    if (!mkdtemp(g_dir)) abort();
    touch("a.wav");
    touch("a.bert.pt");
    g_spk[0] = (bv_config_speaker){"spk", 0};
    g_spk[1] = (bv_config_speaker){"other", 1};
    g_cfg.data.sampling_rate = 22050;
    g_cfg.data.filter_length = 1024;
    g_cfg.data.hop_length = 256;
    g_cfg.data.win_length = 1024;
    g_cfg.data.max_wav_value = 32768;
    g_cfg.data.add_blank = 1;
    g_cfg.data.min_text_len = 1;
    g_cfg.data.max_text_len = 384;
    g_cfg.data.spk2id = g_spk;
    g_cfg.data.n_spk2id = 2;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[1024];
    bv_filelist fl;
    if (bv_filelist_parse(&fl, (const char *)data, size, "fuzz.list", err, sizeof err) == 0) {
        for (int i = 0; i < fl.n; i++) {
            const bv_filelist_entry *e = &fl.items[i];
            char **tok;
            int n = bv_split_spaces(e->phones, &tok);
            for (int k = 0; k < n; k++) (void)bv_utf8_len(tok[k]);
            bv_split_free(tok);
            int64_t *v;
            if (bv_parse_int_list(e->tones, "tones", &v, err, sizeof err) >= 0) free(v);
            if (bv_parse_int_list(e->word2ph, "word2ph", &v, err, sizeof err) >= 0) free(v);
        }
        bv_filelist_free(&fl);
    }
    char path[64];
    int fd = fuzz_memfd(data, size, path);
    bv_dataset ds;
    bv_dataset_opts o = {.base_dir = g_dir, .skip_audio_check = 1};
    if (bv_dataset_open(&ds, path, &g_cfg, &o, err, sizeof err) == 0) bv_dataset_free(&ds);
    close(fd);
    return 0;
}
