/* test_chinese.c - the Chinese front-end (src/text/chinese.c and the files under it).
 *
 * Golden: golden/text_zh/cases.jsonl (upstream v2.3 text_normalize + g2p with jieba 0.42.1, pypinyin
 * 0.53.0, cn2an 0.5.22): norm_text, phones, tones, word2ph all exact.
 * Unit tests: each tone sandhi rule on its upstream example (expected finals worked out from upstream's
 * code), jieba's HMM path (words the dictionary does not have), cn2an's an2cn, replace_punctuation, and the
 * pinyin style conversion. They need the data scripts/fetch-zh.sh installs (data/zh or $BV2_ZH_DATA); when
 * it is absent they report it as missing and fail, since `make test` installs it first.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../src/text/chinese.h"
#include "../src/text/tone_sandhi.h"
#include "../src/text/zh_jieba.h"
#include "../src/text/zh_number.h"
#include "../src/text/zh_pinyin.h"
#include "test.h"

static bv_zh_dict *g_dict;
static int g_tried;

static const bv_zh_dict *zh_dict(bv_test_state *ts) {
    if (!g_tried) {
        char err[1024];
        g_tried = 1;
        g_dict = bv_zh_dict_load(NULL, err, sizeof err);
        if (!g_dict) fprintf(stderr, "  missing Chinese front-end data: %s\n", err);
    }
    BV_CHECK(g_dict != NULL, "Chinese front-end data not loaded (run scripts/fetch-zh.sh)");
    return g_dict;
}

static int u32(const char *s, uint32_t *out, int cap) { return bv_zh_utf8_decode(s, strlen(s), out, (size_t)cap); }

/* ---- golden ---- */

static void join_json(const cJSON *a, int strings, char *out, size_t cap) {
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < cJSON_GetArraySize(a) && len + 24 < cap; i++) {
        const cJSON *x = cJSON_GetArrayItem(a, i);
        if (strings) len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", x->valuestring);
        else len += (size_t)snprintf(out + len, cap - len, "%s%lld", i ? " " : "", (long long)x->valuedouble);
    }
}

BV_GOLDEN_TEST(chinese_golden_text_zh) {
    char path[1024];
    snprintf(path, sizeof path, "%s/text_zh/cases.jsonl", bv_test_golden_dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "  skipped/missing %s\n", path);
        return;
    }
    const bv_zh_dict *d = zh_dict(ts);
    if (!d) return fclose(f), (void)0;
    static char line[1 << 17], want[1 << 16], got[1 << 16], tmp[1 << 15];
    int n = 0, bad = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        cJSON *c = cJSON_Parse(line);
        BV_CHECK(c != NULL, "%s:%d: not JSON", path, lineno);
        if (!c) continue;
        n++;
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        const char *wnorm = cJSON_GetObjectItem(c, "norm_text")->valuestring;
        size_t wl = 0;
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s|", wnorm);
        join_json(cJSON_GetObjectItem(c, "phones"), 1, tmp, sizeof tmp);
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s|", tmp);
        join_json(cJSON_GetObjectItem(c, "tones"), 0, tmp, sizeof tmp);
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s|", tmp);
        join_json(cJSON_GetObjectItem(c, "word2ph"), 0, tmp, sizeof tmp);
        snprintf(want + wl, sizeof want - wl, "%s", tmp);
        char err[512], *norm = NULL;
        bv_en_phones ph;
        if (bv_zh_clean_text(d, text, &norm, &ph, err, sizeof err)) {
            snprintf(got, sizeof got, "error: %s", err);
        } else {
            size_t gl = (size_t)snprintf(got, sizeof got, "%s|", norm);
            bv_en_format(&ph, got + gl, sizeof got - gl);
            bv_en_phones_free(&ph);
            free(norm);
        }
        if (strcmp(got, want)) {
            if (bad < 10) fprintf(stderr, "  case %d: %s\n    got  %s\n    want %s\n", lineno, text, got, want);
            bad++;
        }
        cJSON_Delete(c);
    }
    fclose(f);
    BV_CHECK(n > 0, "%s: no cases", path);
    BV_CHECK(bad == 0, "%d of %d cases differ", bad, n);
    if (bv_test_verbose) fprintf(stderr, "  text_zh: %d cases, %d differ\n", n, bad);
}
