/* test_pyrepr.c - src/io/pyrepr.c: Python's repr() of floats and of json.loads documents, as
 * upstream's train.log prints them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/io/pyrepr.h"
#include "test.h"

BV_TEST(pyrepr_float_matches_python_repr) {
    /* expected strings printed by CPython 3.11's repr() */
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {0.0002, "0.0002"},
        {(double)2.714624f, "2.7146239280700684"},
        {1e-05, "1e-05"},
        {1e16, "1e+16"},
        {123.0, "123.0"},
        {-1.5, "-1.5"},
        {0.1, "0.1"},
        {1.0 / 3, "0.3333333333333333"},
        {1e-4, "0.0001"},
        {1.5e-7, "1.5e-07"},
        {12345678901234567.0, "1.2345678901234568e+16"},
        {1e15, "1000000000000000.0"},
        {100.0, "100.0"},
        {1e-300, "1e-300"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {27.93, "27.93"},
        {-0.0, "-0.0"},
        {0.0, "0.0"},
        {NAN, "nan"},
        {-INFINITY, "-inf"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        BV_CHECK(!strcmp(bv_py_float_repr(buf, cases[i].v), cases[i].s), "repr(%.17g): got %s, want %s", cases[i].v,
                 buf, cases[i].s);
}

BV_TEST(pyrepr_json_as_python_prints_the_dict) {
    /* what print(json.loads(text)) gives in CPython 3.11 */
    const char *text = "{\"train\": {\"log_interval\": 200, \"learning_rate\": 0.0002, \"eps\": 1e-09,"
                       " \"betas\": [0.8, 0.99], \"c_mel\": 45, \"big\": 1.0, \"neg\": -3},"
                       " \"data\": {\"mel_fmax\": null, \"add_blank\": true, \"cleaned\": false,"
                       " \"name\": \"it's\", \"quote\": \"say \\\"hi\\\"\", \"both\": \"a'b\\\"c\","
                       " \"nl\": \"a\\nb\", \"spk2id\": {}, \"list\": []}, \"version\": \"2.3\"}";
    const char *want = "{'train': {'log_interval': 200, 'learning_rate': 0.0002, 'eps': 1e-09, 'betas': [0.8, 0.99], "
                       "'c_mel': 45, 'big': 1.0, 'neg': -3}, 'data': {'mel_fmax': None, 'add_blank': True, "
                       "'cleaned': False, 'name': \"it's\", 'quote': 'say \"hi\"', 'both': 'a\\'b\"c', "
                       "'nl': 'a\\nb', 'spk2id': {}, 'list': []}, 'version': '2.3', 'model_dir': 'models/x'}";
    cJSON *j = cJSON_Parse(text);
    BV_CHECK(j != NULL, "parse");
    if (!j) return;
    cJSON_AddStringToObject(j, "model_dir", "models/x"); /* as train_ms adds it to hps */
    char *got = bv_py_repr_json(j, text);
    BV_CHECK(!strcmp(got, want), "got  %s\nwant %s", got, want);
    free(got);
    cJSON_Delete(j);
    cJSON *n = cJSON_Parse("[1, 2.5, \"x\"]");
    got = bv_py_repr_json(n, "[1, 2.5, \"x\"]");
    BV_CHECK(!strcmp(got, "[1, 2.5, 'x']"), "list: %s", got);
    free(got);
    cJSON_Delete(n);
}
