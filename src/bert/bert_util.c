/* bert_util.c - helpers of the src/bert files (bert_util.h). */
#include "bert_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "../core/error.h"

char *bv_bert_read_file(const char *path, size_t max_bytes, size_t *len, char *err, size_t errcap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        bv_err_set(err, errcap, "%s: cannot open", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (sz < 0 || (unsigned long)sz > max_bytes) {
        fclose(f);
        bv_err_set(err, errcap, "%s: size %ld outside [0, %zu]", path, sz, max_bytes);
        return NULL;
    }
    char *buf = bv_xmalloc((size_t)sz + 1);
    size_t got = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    if (got != (size_t)sz) {
        free(buf);
        bv_err_set(err, errcap, "%s: read error", path);
        return NULL;
    }
    buf[sz] = 0;
    if (len) *len = (size_t)sz;
    return buf;
}

cJSON *bv_bert_read_json(const char *path, char *err, size_t errcap) {
    char *buf = bv_bert_read_file(path, (size_t)256 << 20, NULL, err, errcap);
    if (!buf) return NULL;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!j) bv_err_set(err, errcap, "%s: not valid JSON", path);
    return j;
}

int bv_bert_json_bool(const cJSON *o, const char *key, int dflt, int *out, const char *path, char *err, size_t errcap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) *out = dflt;
    else if (cJSON_IsBool(v)) *out = cJSON_IsTrue(v);
    else return bv_err_set(err, errcap, "%s: \"%s\" must be true, false or null", path, key);
    return 0;
}

const char *bv_bert_json_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
