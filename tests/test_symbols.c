/* test_symbols.c - src/text/symbols.c: the 112-symbol table (size, order at the block borders,
 * every id round trip), the language and tone maps, cleaned_text_to_sequence against the upstream
 * English front-end's phone_ids / tone_ids / lang_ids (../shared/golden/text_en/cases.jsonl) and
 * hand-checked ZH / JP values, and its errors (unknown phone, unknown language, tone out of range). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../src/text/symbols.h"
#include "test.h"

BV_TEST(symbols_table) {
    BV_CHECK(BV_N_SYMBOLS == 112, "size");
    BV_CHECK(!strcmp(bv_symbols[0], "_") && !strcmp(bv_symbols[1], "AA") && !strcmp(bv_symbols[7], "V"), "head");
    BV_CHECK(!strcmp(bv_symbols[102], "zy") && !strcmp(bv_symbols[103], "!") && !strcmp(bv_symbols[105], "\xe2\x80\xa6"),
             "sorted block end / punctuation");
    BV_CHECK(!strcmp(bv_symbols[110], "SP") && !strcmp(bv_symbols[111], "UNK"), "tail");
    for (int i = 0; i < BV_N_SYMBOLS; i++)
        BV_CHECK(bv_symbol_id(bv_symbols[i]) == i, "round trip of %s: %d", bv_symbols[i], bv_symbol_id(bv_symbols[i]));
    for (int i = 2; i <= 102; i++) BV_CHECK(strcmp(bv_symbols[i - 1], bv_symbols[i]) < 0, "sorted at %d", i);
    /* ids the English golden cases use: dh 24, ah 12, k 57, "." 107 */
    BV_CHECK(bv_symbol_id("dh") == 24 && bv_symbol_id("ah") == 12 && bv_symbol_id("k") == 57 && bv_symbol_id(".") == 107,
             "english ids");
    BV_CHECK(bv_symbol_id("") == -1 && bv_symbol_id("AH") == -1 && bv_symbol_id("zz") == -1 && bv_symbol_id("0") == -1,
             "unknown symbols");
}

BV_TEST(symbols_languages_and_tones) {
    BV_CHECK(bv_language_id("ZH") == 0 && bv_language_id("JP") == 1 && bv_language_id("EN") == 2, "ids");
    BV_CHECK(bv_language_id("zh") == -1 && bv_language_id("KR") == -1 && bv_language_id("") == -1, "unknown");
    BV_CHECK(bv_language_tone_start(0) == 0 && bv_language_tone_start(1) == 6 && bv_language_tone_start(2) == 8, "starts");
    BV_CHECK(bv_language_num_tones(0) + bv_language_num_tones(1) + bv_language_num_tones(2) == BV_N_TONES, "num_tones");
    BV_CHECK(!strcmp(bv_language_name(2), "EN"), "name");
}

BV_TEST(symbols_sequence_zh_jp) {
    /* the golden dataset line: ZH "_ n i h ao _" tones "0 3 3 3 3 0" (F01 in.x row 0 without blanks) */
    const char *zh[6] = {"_", "n", "i", "h", "ao", "_"};
    int64_t zt[6] = {0, 3, 3, 3, 3, 0}, p[6], t[6], l[6];
    char err[256];
    BV_CHECK(bv_cleaned_text_to_sequence(zh, zt, 6, "ZH", p, t, l, err, sizeof err) == 0, "%s", err);
    static const int64_t wp[6] = {0, 62, 40, 37, 16, 0}, wt[6] = {0, 3, 3, 3, 3, 0};
    for (int i = 0; i < 6; i++) BV_CHECK(p[i] == wp[i] && t[i] == wt[i] && l[i] == 0, "ZH %d: %lld %lld", i, (long long)p[i], (long long)t[i]);
    const char *jp[3] = {"k", "o:", "N"};
    int64_t jt[3] = {0, 1, 0};
    BV_CHECK(bv_cleaned_text_to_sequence(jp, jt, 3, "JP", p, t, l, err, sizeof err) == 0, "%s", err);
    BV_CHECK(p[0] == 57 && p[1] == 66 && p[2] == 5 && t[0] == 6 && t[1] == 7 && l[2] == 1, "JP ids");
}

BV_GOLDEN_TEST(symbols_sequence_text_en_cases) {
    if (!bv_golden_need(ts, "text_en/cases.jsonl", NULL)) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/text_en/cases.jsonl", bv_test_golden_dir);
    FILE *f = fopen(path, "r");
    BV_CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    static char line[1 << 16];
    int n_cases = 0;
    while (n_cases < 40 && fgets(line, sizeof line, f)) {   /* the first 40 cases: fast, every category early on */
        cJSON *c = cJSON_Parse(line);
        if (!c) continue;
        const cJSON *ph = cJSON_GetObjectItem(c, "phones"), *tn = cJSON_GetObjectItem(c, "tones");
        const cJSON *pi = cJSON_GetObjectItem(c, "phone_ids"), *ti = cJSON_GetObjectItem(c, "tone_ids");
        const cJSON *li = cJSON_GetObjectItem(c, "lang_ids");
        int n = cJSON_GetArraySize(ph);
        const char **phones = malloc(sizeof(char *) * (size_t)n);
        int64_t *tones = malloc(sizeof(int64_t) * 4 * (size_t)n), *p = tones + n, *t = p + n, *l = t + n;
        for (int i = 0; i < n; i++) {
            phones[i] = cJSON_GetArrayItem(ph, i)->valuestring;
            tones[i] = (int64_t)cJSON_GetArrayItem(tn, i)->valuedouble;
        }
        char err[256];
        const char *id = cJSON_GetObjectItem(c, "id")->valuestring;
        BV_CHECK(bv_cleaned_text_to_sequence(phones, tones, n, "EN", p, t, l, err, sizeof err) == 0, "%s: %s", id, err);
        int bad = 0;
        for (int i = 0; i < n && !ts->failed; i++)
            bad += p[i] != (int64_t)cJSON_GetArrayItem(pi, i)->valuedouble ||
                   t[i] != (int64_t)cJSON_GetArrayItem(ti, i)->valuedouble ||
                   l[i] != (int64_t)cJSON_GetArrayItem(li, i)->valuedouble;
        BV_CHECK(bad == 0, "%s: %d of %d ids differ", id, bad, n);
        free(phones);
        free(tones);
        cJSON_Delete(c);
        n_cases++;
    }
    fclose(f);
    BV_CHECK(n_cases == 40, "read %d cases", n_cases);
}

BV_TEST(symbols_sequence_errors) {
    int64_t p[3], t[3], l[3];
    char err[256];
    const char *bad_phone[3] = {"_", "qq", "_"};
    int64_t tones[3] = {0, 1, 0};
    BV_CHECK(bv_cleaned_text_to_sequence(bad_phone, tones, 3, "EN", p, t, l, err, sizeof err) == -1, "unknown phone");
    BV_CHECK(strstr(err, "unknown phone symbol \"qq\"") && strstr(err, "phone 2 of 3"), "message: %s", err);
    const char *ok[3] = {"_", "a", "_"};
    BV_CHECK(bv_cleaned_text_to_sequence(ok, tones, 3, "FR", p, t, l, err, sizeof err) == -1, "unknown language");
    BV_CHECK(strstr(err, "unknown language \"FR\""), "message: %s", err);
    int64_t bad_tone[3] = {0, 2, 0};   /* JP has tones 0..1 */
    BV_CHECK(bv_cleaned_text_to_sequence(ok, bad_tone, 3, "JP", p, t, l, err, sizeof err) == -1, "tone range");
    BV_CHECK(strstr(err, "tone 2") && strstr(err, "JP (0..1)"), "message: %s", err);
}
