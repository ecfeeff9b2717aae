/* bert_util.h - small helpers shared by the src/bert files (not a public API): the JSON
 * files of a HuggingFace model folder (config.json, tokenizer_config.json, tokenizer.json). */
#ifndef BV_BERT_UTIL_H
#define BV_BERT_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* The whole file (malloc, NUL-terminated; *len may be NULL), at most max_bytes; NULL with err. */
char *bv_bert_read_file(const char *path, size_t max_bytes, size_t *len, char *err, size_t errcap);
/* A parsed JSON file (at most 256 MiB); NULL with err naming the file. */
cJSON *bv_bert_read_json(const char *path, char *err, size_t errcap);
/* o[key] as a boolean: dflt when absent or null; -1 with err ("<path>: \"key\" ...") for another type. */
int bv_bert_json_bool(const cJSON *o, const char *key, int dflt, int *out, const char *path, char *err, size_t errcap);
/* o[key] when it is a string, else NULL. */
const char *bv_bert_json_str(const cJSON *o, const char *key);

#endif
