/* fuzz_golden.c - the golden-data reader of the test suite (tests/golden.c) on arbitrary bytes.
 *
 * Input: a manifest.json, then (after the first NUL byte, if any) the bytes of a case file. Both
 * are written into a scratch folder (manifest.json, case.safetensors) that becomes the golden
 * folder; every case the manifest names (up to 4) is opened and read the way tests read it:
 * config values, every stored tensor as a context tensor and as doubles, a comparison of each
 * against zeros (tolerances and groups from the manifest), the noise replay, and the backward
 * pass over differentiated_outputs (none registered). A tensor the context refuses (too many
 * dims) ends the case through the context's error jump, as in the test runner. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <setjmp.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../tests/golden.h"

/* What tests/runner.c defines for the suite. */
const char *bv_test_golden_dir;
int bv_test_verbose;
char bv_test_bv2_path[4096];

static char g_dir[64];

static void put(const char *name, const uint8_t *data, size_t size) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f)) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(g_dir, sizeof g_dir, "/tmp/bv2-fuzz-golden-XXXXXX");
    if (!mkdtemp(g_dir)) abort();
    bv_test_golden_dir = g_dir;
    return 0;
}

static void read_case(bv_test_state *ts, bv_ctx *ctx, const char *name) {
    bv_golden *volatile g = NULL;
    jmp_buf jb;
    ctx->err_jmp = &jb;
    if (setjmp(jb) == 0) {
        g = bv_golden_open(ts, ctx, name);
        if (g) {
            const cJSON *cfg = bv_golden_config(g), *it;
            long long ints[8];
            if (cJSON_IsObject(cfg))
                cJSON_ArrayForEach(it, cfg) {
                    if (!it->string) continue;
                    (void)bv_golden_cfg_int(g, it->string);
                    (void)bv_golden_cfg_num(g, it->string);
                    (void)bv_golden_cfg_int_or(g, it->string, -1);
                    (void)bv_golden_cfg_ints(g, it->string, ints, 8);
                }
            (void)bv_golden_cfg_int(g, "absent_key");
            /* the case file's own entries, through the public API */
            bv_safetensors st;
            char path[160], err[512];
            const cJSON *file = cJSON_GetObjectItem(bv_golden_case_json(g), "file");
            snprintf(path, sizeof path, "%s/%s", g_dir, cJSON_IsString(file) ? file->valuestring : "");
            if (bv_st_open(&st, path, err, sizeof err) == 0) {
                for (int i = 0; i < st.n && i < 64; i++) {
                    const char *nm = st.entries[i].name;
                    if (!bv_golden_has(g, nm)) abort();
                    const double *d;
                    (void)bv_golden_f64(g, nm, &d);
                    bv_tensor *t = bv_golden_input(g, nm);
                    if (t) bv_golden_check(g, nm, t);
                    int64_t n = st.entries[i].numel;
                    if (n >= 0 && n <= (1 << 16)) {
                        double *z = calloc((size_t)(n ? n : 1), sizeof *z);
                        bv_golden_check_f64(g, nm, z, n);
                        free(z);
                    }
                }
                bv_st_close(&st);
            }
            bv_golden_replay_noise(g);
            bv_golden_backward(g);
        }
    }
    bv_golden_close(g);
    ctx->err_jmp = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t mlen = nul ? (size_t)(nul - data) : size;
    put("manifest.json", data, mlen);
    put("case.safetensors", nul ? nul + 1 : data, nul ? size - mlen - 1 : 0);
    bv_golden_manifest_reset();

    char *text = fuzz_cstr(data, mlen);
    cJSON *m = cJSON_Parse(text);
    free(text);
    const cJSON *c;
    int k = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(m, "cases")) {
        const cJSON *nm = cJSON_GetObjectItem(c, "name");
        if (!cJSON_IsString(nm) || k++ == 4) continue;
        bv_ctx ctx;
        bv_ctx_init(&ctx, 1 << 16, 1);
        bv_test_state ts = {.name = "fuzz", .ctx = &ctx};
        read_case(&ts, &ctx, nm->valuestring);
        bv_ctx_free(&ctx);
    }
    cJSON_Delete(m);
    return 0;
}
