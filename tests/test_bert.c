/* test_bert.c - BERT features (src/bert): the golden set through `bv2 bert-gen` exactly as the
 * acceptance runs it (cd SET && bv2 bert-gen -c config.json --bert-dir bert, every written file
 * against upstream's expected .bert.pt files), the tokenizers and encoders against transformers 4.30.2
 * directly (tests/data/bert_ref_cases.json from tests/ref/bert_ref_cases.py: edge-case texts, inputs
 * far past the position buckets), the saved file's layout, and errors for bad input. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/bert/bert_feature.h"
#include "../src/bert/bert_model.h"
#include "../src/bert/tokenizer.h"
#include "../src/data/filelist.h"
#include "../src/infer/infer.h"
#include "../src/io/pth.h"
#include "../src/io/safetensors_write.h"
#include "../src/io/wav.h"
#include "../src/text/english.h"
#include "fixtures.h"
#include "test.h"

#define REF_CASES "tests/data/bert_ref_cases.json"
#define REBUILT_LISTS "tests/data/bert_golden_filelists"

static int sh(const char *cmd) { return system(cmd); }

static int file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) ? -1 : (int)sb.st_size;
}

/* |a-e| <= 1e-4 * max(1, max|e|) + 1e-3 * |e| (golden/bert/README.md). Returns the worst ratio. */
static double compare_feature(const bv_pth_tensor *a, const bv_pth_tensor *e) {
    int64_t n = 1;
    for (int d = 0; d < e->ndim; d++) n *= e->shape[d];
    const float *x = a->data, *y = e->data;
    double mx = 0, worst = 0;
    for (int64_t i = 0; i < n; i++) mx = fmax(mx, fabs(y[i]));
    for (int64_t i = 0; i < n; i++) {
        double tol = 1e-4 * fmax(1.0, mx) + 1e-3 * fabs(y[i]);
        double r = fabs((double)x[i] - y[i]) / tol;
        if (!(r <= worst)) worst = isnan(r) ? INFINITY : r;
    }
    return worst;
}

/* ------------------------------------------------------------------ golden set through the CLI */

/* The set's filelists, or (the generator truncates them) the ones rebuilt from its seed. */
static int set_lists(const char *set, char *src, size_t cap) {
    char p[4200];
    snprintf(p, sizeof p, "%s/filelists/train.list", set);
    if (file_size(p) > 0) {
        snprintf(src, cap, "%s/filelists", set);
        return 0;
    }
    snprintf(p, sizeof p, "%s/train.list", REBUILT_LISTS);
    if (file_size(p) > 0 && !strcmp(set + strlen(set) - 5, "/bert")) {
        snprintf(src, cap, "%s", REBUILT_LISTS);
        return 0;
    }
    return -1;
}

BV_GOLDEN_TEST(bert_gen_golden) {
    char set[4096], lists[4200], tmp[256], cmd[30000];
    snprintf(set, sizeof set, "%s/bert", bv_test_golden_dir);
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/config.json", set);
    if (file_size(cfg) < 0) {
        bv_test_skip(ts, "this golden set has no bert/config.json");
        return;
    }
    if (set_lists(set, lists, sizeof lists)) {
        bv_test_skip(ts, "this golden set's bert/filelists are empty and the rebuilt ones are not for it");
        return;
    }
    char aset[PATH_MAX], alists[PATH_MAX];
    BV_CHECK(realpath(set, aset) && realpath(lists, alists), "realpath %s", set);
    snprintf(tmp, sizeof tmp, "/tmp/bv_bert_gen_%d", (int)getpid());
    bv_test_rm_rf(tmp);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/filelists' && ln -s '%s/bert' '%s/bert' && cp '%s/config.json' '%s/' && "
             "cp '%s/train.list' '%s/val.list' '%s/filelists/' && mkdir -p '%s/wavs'",
             tmp, aset, tmp, aset, tmp, alists, alists, tmp, tmp);
    BV_CHECK(sh(cmd) == 0, "%s", cmd);
    char *out = NULL;
    int code = bv_test_run_bv2(tmp, (const char *const[]){"bert-gen", "-c", "config.json", "--bert-dir", "bert", NULL}, &out);
    /* every line of both lists: its expected file against what bv2 wrote */
    int n = 0, ok = 0, jp_pending = 0, bad = 0;
    double worst = 0;
    const char *names[2] = {"train.list", "val.list"};
    for (int k = 0; k < 2; k++) {
        char lp[4300];
        snprintf(lp, sizeof lp, "%s/filelists/%s", tmp, names[k]);
        char *text = bv_test_read_file(lp, NULL);
        for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
            char wav[512], lang[16];
            if (sscanf(line, "%511[^|]|%*[^|]|%15[^|]|", wav, lang) != 2) continue;
            char *dot = strstr(wav, ".wav");
            if (!dot) continue;
            *dot = 0;
            const char *base = strrchr(wav, '/') ? strrchr(wav, '/') + 1 : wav;
            char got[1024], want[4700];
            snprintf(got, sizeof got, "%s/%s.bert.pt", tmp, wav);
            snprintf(want, sizeof want, "%s/expected/%s.bert.pt", set, base);
            n++;
            if (!strcmp(lang, "JP") && file_size(got) < 0 && strstr(out, "need the Japanese front-end")) {
                jp_pending++; /* not yet covered: JP needs text2sep_kata from the Japanese front-end */
                continue;
            }
            bv_pth_tensor a, e;
            char err[512];
            if (bv_pth_load_tensor(want, &e, err, sizeof err)) {
                BV_CHECK(0, "%s", err);
                bad++;
                continue;
            }
            if (bv_pth_load_tensor(got, &a, err, sizeof err)) {
                BV_CHECK(0, "%s (bv2 wrote no feature for %s)", err, base);
                bv_pth_tensor_free(&e);
                bad++;
                continue;
            }
            int same = a.ndim == 2 && e.ndim == 2 && a.shape[0] == e.shape[0] && a.shape[1] == e.shape[1];
            BV_CHECK(same, "%s: shape [%lld, %lld], expected [%lld, %lld]", base, (long long)a.shape[0],
                     (long long)a.shape[1], (long long)e.shape[0], (long long)e.shape[1]);
            if (same) {
                double r = compare_feature(&a, &e);
                worst = fmax(worst, r);
                BV_CHECK(r <= 1.0, "%s: error %.3g x the tolerance", base, r);
                ok += r <= 1.0;
                bad += !(r <= 1.0);
            } else {
                bad++;
            }
            bv_pth_tensor_free(&a);
            bv_pth_tensor_free(&e);
        }
        free(text);
    }
    BV_CHECK(n > 0, "no lines in %s", lists);
    BV_CHECK(code == 0 || (code == 3 && jp_pending > 0), "bv2 bert-gen exited %d:\n%s", code, out);
    BV_CHECK(strstr(out, "bert-gen: ") != NULL, "no summary:\n%s", out);
    fprintf(stderr, "  bert-gen golden: %d lines, %d within tolerance (worst %.3g x tol), %d differ, %d JP not yet "
            "covered (no Japanese front-end)\n", n, ok, worst, bad, jp_pending);
    /* a second run keeps every file (right phone count), as upstream's torch.load check */
    free(out);
    code = bv_test_run_bv2(tmp, (const char *const[]){"bert-gen", "-c", "config.json", "--bert-dir", "bert", NULL}, &out);
    char kept[64];
    snprintf(kept, sizeof kept, "%d kept", ok);
    BV_CHECK(strstr(out, kept) != NULL, "rerun should keep %d files:\n%s", ok, out);
    free(out);
    bv_test_rm_rf(tmp);
}

/* ------------------------------------------------------------------ against transformers */

static cJSON *ref_cases(void) {
    char *s = bv_test_read_file(REF_CASES, NULL);
    if (!s) return NULL;
    cJSON *j = cJSON_Parse(s);
    free(s);
    return j;
}

static const char *dir_of(const char *lang) { return bv_bert_model_folder(lang); }

BV_GOLDEN_TEST(bert_tokenizers_vs_transformers) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bert/bert", bv_test_golden_dir);
    cJSON *j = ref_cases();
    if (!j) {
        bv_test_skip(ts, "no %s", REF_CASES);
        return;
    }
    bv_bert_set *set = bv_bert_set_new(dir);
    char err[1024];
    int n = 0, bad = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "tokenizer")) {
        const char *lang = cJSON_GetObjectItem(c, "lang")->valuestring, *text = cJSON_GetObjectItem(c, "text")->valuestring;
        if (bv_bert_set_prepare(set, lang, err, sizeof err)) {
            bv_test_skip(ts, "this golden set has no usable bert/bert/%s: %s", dir_of(lang), err);
            break;
        }
        const bv_btok *t = bv_bert_set_tokenizer(set, lang);
        int *ids = NULL, nid = 0;
        bv_btok_out o;
        int rc = bv_btok_encode(t, text, &ids, &nid, err, sizeof err) || bv_btok_tokenize(t, text, &o, err, sizeof err);
        BV_CHECK(rc == 0, "%s %s: %s", lang, text, err);
        if (rc) continue;
        const cJSON *want = cJSON_GetObjectItem(c, "ids"), *wp = cJSON_GetObjectItem(c, "pieces");
        int same = cJSON_GetArraySize(want) == nid && cJSON_GetArraySize(wp) == o.n;
        for (int i = 0; same && i < nid; i++) same = cJSON_GetArrayItem(want, i)->valueint == ids[i];
        for (int i = 0; same && i < o.n; i++) same = !strcmp(cJSON_GetArrayItem(wp, i)->valuestring, o.pieces[i]);
        if (!same) {
            char g[2048] = "", w[2048] = "";
            for (int i = 0; i < o.n && strlen(g) < 1900; i++) snprintf(g + strlen(g), sizeof g - strlen(g), "%s ", o.pieces[i]);
            const cJSON *x;
            cJSON_ArrayForEach(x, wp) if (strlen(w) < 1900) snprintf(w + strlen(w), sizeof w - strlen(w), "%s ", x->valuestring);
            BV_CHECK(0, "%s \"%s\":\n    got  %s\n    want %s", lang, text, g, w);
        }
        bad += !same;
        n++;
        free(ids);
        bv_btok_out_free(&o);
    }
    if (bv_test_verbose) fprintf(stderr, "  tokenizers: %d cases, %d differ\n", n, bad);
    bv_bert_set_free(set);
    cJSON_Delete(j);
}

BV_GOLDEN_TEST(bert_encoders_vs_transformers) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bert/bert", bv_test_golden_dir);
    cJSON *j = ref_cases();
    if (!j) {
        bv_test_skip(ts, "no %s", REF_CASES);
        return;
    }
    bv_bert_set *set = bv_bert_set_new(dir);
    char err[1024];
    int n = 0;
    double worst = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "model")) {
        const char *lang = cJSON_GetObjectItem(c, "lang")->valuestring;
        if (bv_bert_set_prepare(set, lang, err, sizeof err)) {
            bv_test_skip(ts, "this golden set has no usable bert/bert/%s: %s", dir_of(lang), err);
            break;
        }
        const bv_bert_model *m = bv_bert_set_model(set, lang);
        const cJSON *jids = cJSON_GetObjectItem(c, "ids"), *rows = cJSON_GetObjectItem(c, "rows"),
                    *vals = cJSON_GetObjectItem(c, "values");
        int T = cJSON_GetArraySize(jids), H = bv_bert_model_hidden_size(m), which = cJSON_GetObjectItem(c, "which")->valueint;
        int *ids = malloc(sizeof(int) * (size_t)T);
        for (int i = 0; i < T; i++) ids[i] = cJSON_GetArrayItem(jids, i)->valueint;
        float *h = malloc(sizeof(float) * (size_t)T * (size_t)H);
        int rc = bv_bert_model_hidden_states(m, ids, T, which, h, err, sizeof err);
        BV_CHECK(rc == 0, "%s T=%d: %s", lang, T, err);
        if (!rc) {
            double mx = 0, w = 0;
            for (int r = 0; r < cJSON_GetArraySize(rows); r++) {
                const cJSON *row = cJSON_GetArrayItem(vals, r);
                for (int k = 0; k < H; k++) mx = fmax(mx, fabs(cJSON_GetArrayItem(row, k)->valuedouble));
            }
            for (int r = 0; r < cJSON_GetArraySize(rows); r++) {
                int t = cJSON_GetArrayItem(rows, r)->valueint;
                const cJSON *row = cJSON_GetArrayItem(vals, r);
                for (int k = 0; k < H; k++) {
                    double e = cJSON_GetArrayItem(row, k)->valuedouble;
                    double tol = 1e-4 * fmax(1, mx) + 1e-3 * fabs(e);
                    w = fmax(w, fabs(h[(size_t)t * H + k] - e) / tol);
                }
            }
            BV_CHECK(w <= 1, "%s T=%d hidden_states[%d]: error %.3g x tolerance", lang, T, which, w);
            worst = fmax(worst, w);
        }
        free(ids);
        free(h);
        n++;
    }
    if (bv_test_verbose) fprintf(stderr, "  encoders: %d cases, worst %.3g x tolerance\n", n, worst);
    bv_bert_set_free(set);
    cJSON_Delete(j);
}

/* ------------------------------------------------------------------ units */

BV_TEST(bert_log_bucket) {
    /* transformers' make_log_bucket_position(rel, 256, 512) and (rel, 32, 512): |rel| <= mid kept,
     * beyond it log-spaced up to mid + mid - 1 at max_position - 1, odd in rel */
    BV_CHECK(bv_bert_log_bucket(0, 256, 512) == 0, "0");
    BV_CHECK(bv_bert_log_bucket(128, 256, 512) == 128 && bv_bert_log_bucket(-128, 256, 512) == -128, "mid");
    BV_CHECK(bv_bert_log_bucket(511, 256, 512) == 255 && bv_bert_log_bucket(-511, 256, 512) == -255, "511 -> %d",
             bv_bert_log_bucket(511, 256, 512));
    BV_CHECK(bv_bert_log_bucket(16, 32, 512) == 16, "16");
    int prev = 16;
    for (int r = 17; r < 2000; r++) {
        int b = bv_bert_log_bucket(r, 32, 512);
        BV_CHECK(b >= prev && b == -bv_bert_log_bucket(-r, 32, 512), "r %d -> %d", r, b);
        prev = b;
    }
    BV_CHECK(bv_bert_log_bucket(511, 32, 512) == 31, "511 -> %d", bv_bert_log_bucket(511, 32, 512));
}

/* A tiny model folder of our own: config.json plus weights written as a safetensors file. */
static int write_tiny(const char *dir, const char *config) {
    char p[4200];
    snprintf(p, sizeof p, "mkdir -p '%s'", dir);
    if (sh(p)) return -1;
    snprintf(p, sizeof p, "%s/config.json", dir);
    bv_test_write_text(p, config);
    return 0;
}

BV_TEST(bert_config_refused_by_key) {
    char dir[256], err[1024];
    snprintf(dir, sizeof dir, "/tmp/bv_bert_cfg_%d", (int)getpid());
    static const struct { const char *cfg, *key; } cases[] = {
        {"{\"model_type\":\"bert\",\"hidden_act\":\"relu\",\"hidden_size\":8,\"num_hidden_layers\":1,"
         "\"num_attention_heads\":2,\"intermediate_size\":16,\"vocab_size\":10}", "hidden_act"},
        {"{\"model_type\":\"bert\",\"position_embedding_type\":\"relative_key\",\"hidden_size\":8,"
         "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"intermediate_size\":16,\"vocab_size\":10}",
         "position_embedding_type"},
        {"{\"model_type\":\"deberta-v2\",\"conv_kernel_size\":3,\"hidden_size\":8,\"num_hidden_layers\":1,"
         "\"num_attention_heads\":2,\"intermediate_size\":16,\"vocab_size\":10}", "conv_kernel_size"},
        {"{\"model_type\":\"deberta-v2\",\"pos_att_type\":[\"p2c\",\"p2p\"],\"relative_attention\":true,"
         "\"hidden_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2,\"intermediate_size\":16,"
         "\"vocab_size\":10}", "pos_att_type"},
        {"{\"model_type\":\"roberta\",\"hidden_size\":8}", "model_type"},
        {"{\"model_type\":\"bert\",\"hidden_size\":9,\"num_hidden_layers\":1,\"num_attention_heads\":2,"
         "\"intermediate_size\":16,\"vocab_size\":10}", "num_attention_heads"},
        {"{\"model_type\":\"bert\",\"num_hidden_layers\":1}", "hidden_size"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_tiny(dir, cases[i].cfg);
        bv_bert_model *m = bv_bert_model_load(dir, err, sizeof err);
        BV_CHECK(m == NULL && strstr(err, cases[i].key) && strstr(err, "config.json"), "case %zu: %s", i,
                 m ? "loaded" : err);
        bv_bert_model_free(m);
    }
    /* a good config without weights names the files it looked for */
    write_tiny(dir, "{\"model_type\":\"bert\",\"hidden_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2,"
                    "\"intermediate_size\":16,\"vocab_size\":10}");
    bv_bert_model *m = bv_bert_model_load(dir, err, sizeof err);
    BV_CHECK(m == NULL && strstr(err, "pytorch_model.bin"), "%s", m ? "loaded" : err);
    bv_bert_model_free(m);
    bv_test_rm_rf(dir);
}

BV_TEST(bert_save_is_transposed_view) {
    char path[256], err[512];
    snprintf(path, sizeof path, "/tmp/bv_bert_save_%d.bert.pt", (int)getpid());
    float feat[3 * 4]; /* [phones 3, hidden 4] storage */
    for (int i = 0; i < 12; i++) feat[i] = (float)i;
    BV_CHECK(bv_bert_save(path, feat, 4, 3, err, sizeof err) == 0, "%s", err);
    bv_pth_tensor t;
    BV_CHECK(bv_pth_load_tensor(path, &t, err, sizeof err) == 0, "%s", err);
    BV_CHECK(t.ndim == 2 && t.shape[0] == 4 && t.shape[1] == 3, "shape");
    const float *x = t.data;
    int ok = 1;
    for (int h = 0; h < 4; h++)
        for (int p = 0; p < 3; p++) ok &= x[h * 3 + p] == feat[p * 4 + h];
    BV_CHECK(ok, "values of the [hidden, phones] view");
    bv_pth_tensor_free(&t);
    remove(path);
}

BV_GOLDEN_TEST(bert_gen_errors) {
    char set[4096];
    snprintf(set, sizeof set, "%s/bert/bert", bv_test_golden_dir);
    struct stat sb;
    if (stat(set, &sb)) {
        bv_test_skip(ts, "this golden set has no bert/bert");
        return;
    }
    char aset[PATH_MAX], tmp[256], cmd[9000], p[4300];
    BV_CHECK(realpath(set, aset) != NULL, "realpath");
    snprintf(tmp, sizeof tmp, "/tmp/bv_bert_err_%d", (int)getpid());
    bv_test_rm_rf(tmp);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/wavs' && ln -s '%s' '%s/bert'", tmp, aset, tmp);
    BV_CHECK(sh(cmd) == 0, "%s", cmd);
    snprintf(p, sizeof p, "%s/config.json", tmp);
    bv_test_write_text(p, "{\"data\": {\"training_files\": \"t.list\", \"validation_files\": \"v.list\", \"add_blank\": true}}");
    snprintf(p, sizeof p, "%s/t.list", tmp);
    /* line 1 good; line 2 word2ph one short of len(text) + 2; line 3 an unknown phone; line 4 no .wav */
    bv_test_write_text(p, "wavs/a.wav|s|ZH|你好.|_ n i h ao . _|0 3 3 3 3 0 0|1 2 2 1 1\n"
                "wavs/b.wav|s|ZH|你好.|_ n i h ao . _|0 3 3 3 3 0 0|1 4 1 1\n"
                "wavs/c.wav|s|ZH|你好.|_ n i h qq . _|0 3 3 3 3 0 0|1 2 2 1 1\n"
                "wavs/d.flac|s|ZH|你好.|_ n i h ao . _|0 3 3 3 3 0 0|1 2 2 1 1\n");
    snprintf(p, sizeof p, "%s/v.list", tmp);
    bv_test_write_text(p, "\n");
    char *out = NULL;
    int code = bv_test_run_bv2(tmp, (const char *const[]){"bert-gen", "-c", "config.json", "--threads", "1", NULL}, &out);
    BV_CHECK(code == 3, "exit %d", code);
    BV_CHECK(strstr(out, "t.list:2:") && strstr(out, "len(word2ph) == len(text) + 2"), "%s", out);
    BV_CHECK(strstr(out, "t.list:3:") && strstr(out, "qq"), "%s", out);
    BV_CHECK(strstr(out, "t.list:4:") && strstr(out, ".wav"), "%s", out);
    BV_CHECK(strstr(out, "1 *.bert.pt written") && strstr(out, "3 failed"), "%s", out);
    snprintf(p, sizeof p, "%s/wavs/a.bert.pt", tmp);
    BV_CHECK(file_size(p) > 0, "a.bert.pt not written");
    free(out);
    /* a missing model folder, a bad command line */
    code = bv_test_run_bv2(tmp, (const char *const[]){"bert-gen", "-c", "config.json", "--bert-dir", "nowhere", NULL}, &out);
    BV_CHECK(code == 3 && strstr(out, "nowhere/chinese-roberta-wwm-ext-large"), "exit %d: %s", code, out);
    free(out);
    code = bv_test_run_bv2(tmp, (const char *const[]){"bert-gen", "--threads", "0", "-c", "config.json", NULL}, &out);
    BV_CHECK(code == 2, "exit %d: %s", code, out);
    free(out);
    bv_test_rm_rf(tmp);
}

/* ------------------------------------------------------------------ infer --bert-dir */

static uint64_t lcg_state;
static float lcg_normalish(void) { /* sum of 4 uniforms, centred: mean 0, sd ~0.58 */
    float s = 0;
    for (int k = 0; k < 4; k++) {
        lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
        s += (float)((lcg_state >> 40) & 0xFFFFFF) / 16777216.0f;
    }
    return s - 2.0f;
}

/* A random deberta-v3-large-shaped model, 1024 wide as the text encoder takes it, 3 layers (so
 * hidden_states[-3] runs one), over the golden set's spm.model: dir/deberta-v3-large. */
static int write_wide_deberta(const char *golden_en, const char *dir, int vocab, char *err, size_t cap) {
    const int H = 1024, In = 64, L = 3, B = 32;
    char p[16384];
    snprintf(p, sizeof p, "mkdir -p '%s' && cp '%s/spm.model' '%s/tokenizer_config.json' '%s/'", dir, golden_en,
             golden_en, dir);
    if (sh(p)) return snprintf(err, cap, "copying the tokenizer into %s failed", dir), -1;
    snprintf(p, sizeof p, "%s/config.json", dir);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"deberta-v2\", \"hidden_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": 16,"
             " \"intermediate_size\": %d, \"vocab_size\": %d, \"max_position_embeddings\": 512, \"relative_attention\": true,"
             " \"position_buckets\": %d, \"max_relative_positions\": -1, \"pos_att_type\": [\"p2c\", \"c2p\"],"
             " \"norm_rel_ebd\": \"layer_norm\", \"share_att_key\": true, \"position_biased_input\": false,"
             " \"type_vocab_size\": 0, \"layer_norm_eps\": 1e-7, \"hidden_act\": \"gelu\"}",
             H, L, In, vocab, B);
    bv_test_write_text(p, cfg);
    enum { MAXE = 64 };
    bv_st_write_entry e[MAXE];
    char names[MAXE][96];
    float *bufs[MAXE];
    int n = 0;
    lcg_state = 12345;
#define ADD(nm, d0, d1, scale, one)                                                                  \
    do {                                                                                             \
        snprintf(names[n], sizeof names[n], "%s", nm);                                               \
        int64_t numel = (int64_t)(d0) * ((d1) ? (d1) : 1);                                           \
        bufs[n] = malloc(sizeof(float) * (size_t)numel);                                             \
        for (int64_t i = 0; i < numel; i++) bufs[n][i] = (one) + (scale) * lcg_normalish();          \
        e[n] = (bv_st_write_entry){names[n], BV_ST_F32, (d1) ? 2 : 1, {(d0), (d1)}, bufs[n]};        \
        n++;                                                                                         \
    } while (0)
    ADD("embeddings.word_embeddings.weight", vocab, H, 0.5f, 0.0f);
    ADD("embeddings.LayerNorm.weight", H, 0, 0.1f, 1.0f);
    ADD("embeddings.LayerNorm.bias", H, 0, 0.1f, 0.0f);
    ADD("encoder.rel_embeddings.weight", 2 * B, H, 0.5f, 0.0f);
    ADD("encoder.LayerNorm.weight", H, 0, 0.1f, 1.0f);
    ADD("encoder.LayerNorm.bias", H, 0, 0.1f, 0.0f);
    for (int l = 0; l < L; l++) {
        char nm[96];
        static const char *const sq[] = {"attention.self.query_proj", "attention.self.key_proj",
                                         "attention.self.value_proj", "attention.output.dense"};
        for (int k = 0; k < 4; k++) {
            snprintf(nm, sizeof nm, "encoder.layer.%d.%s.weight", l, sq[k]);
            ADD(nm, H, H, 0.05f, 0.0f);
            snprintf(nm, sizeof nm, "encoder.layer.%d.%s.bias", l, sq[k]);
            ADD(nm, H, 0, 0.05f, 0.0f);
        }
        snprintf(nm, sizeof nm, "encoder.layer.%d.attention.output.LayerNorm.weight", l);
        ADD(nm, H, 0, 0.1f, 1.0f);
        snprintf(nm, sizeof nm, "encoder.layer.%d.attention.output.LayerNorm.bias", l);
        ADD(nm, H, 0, 0.1f, 0.0f);
        snprintf(nm, sizeof nm, "encoder.layer.%d.intermediate.dense.weight", l);
        ADD(nm, In, H, 0.05f, 0.0f);
        snprintf(nm, sizeof nm, "encoder.layer.%d.intermediate.dense.bias", l);
        ADD(nm, In, 0, 0.05f, 0.0f);
        snprintf(nm, sizeof nm, "encoder.layer.%d.output.dense.weight", l);
        ADD(nm, H, In, 0.05f, 0.0f);
        snprintf(nm, sizeof nm, "encoder.layer.%d.output.dense.bias", l);
        ADD(nm, H, 0, 0.05f, 0.0f);
        snprintf(nm, sizeof nm, "encoder.layer.%d.output.LayerNorm.weight", l);
        ADD(nm, H, 0, 0.1f, 1.0f);
        snprintf(nm, sizeof nm, "encoder.layer.%d.output.LayerNorm.bias", l);
        ADD(nm, H, 0, 0.1f, 0.0f);
    }
#undef ADD
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    const char *meta[] = {"format", "pt"};
    int rc = bv_st_write(p, e, n, meta, 1, err, cap);
    for (int i = 0; i < n; i++) free(bufs[i]);
    return rc;
}

static int wav_differs(const char *a, const char *b) {
    size_t la, lb;
    char *x = bv_test_read_file(a, &la), *y = bv_test_read_file(b, &lb);
    int d = !x || !y || la != lb || memcmp(x, y, la);
    free(x);
    free(y);
    return d;
}

BV_GOLDEN_TEST(bert_infer_with_bert_dir) {
    char model[4200], cfg[4200], golden_en[4200], err[1024];
    snprintf(model, sizeof model, "%s/checkpoints/G_0.pth", bv_test_golden_dir);
    snprintf(cfg, sizeof cfg, "%s/checkpoints/config.json", bv_test_golden_dir);
    snprintf(golden_en, sizeof golden_en, "%s/bert/bert/deberta-v3-large", bv_test_golden_dir);
    if (file_size(model) < 0 || file_size(golden_en) < 0) {
        bv_test_skip(ts, "this golden set has no checkpoints/G_0.pth or bert/bert/deberta-v3-large");
        return;
    }
    bv_btok *tok = bv_btok_load(golden_en, err, sizeof err);
    BV_CHECK(tok != NULL, "%s", err);
    if (!tok) return;
    int vocab = bv_btok_vocab_size(tok);
    bv_btok_free(tok);
    char tmp[256], bdir[512], amodel[PATH_MAX], acfg[PATH_MAX], lex[PATH_MAX];
    snprintf(tmp, sizeof tmp, "/tmp/bv_bert_inf_%d", (int)getpid());
    bv_test_rm_rf(tmp);
    snprintf(bdir, sizeof bdir, "%s/bert/deberta-v3-large", tmp);
    BV_CHECK(write_wide_deberta(golden_en, bdir, vocab, err, sizeof err) == 0, "%s", err);
    BV_CHECK(realpath(model, amodel) && realpath(cfg, acfg), "realpath");
    const char *lexp = realpath("data/cmudict.rep", lex) ? lex : "data/cmudict.rep";
    if (ts->failed) return;
    const char *text = "Hello, world.";
    char *out = NULL;
    /* the checkpoint's EN speaker is its last */
    bv_infer_model m;
    BV_CHECK(bv_infer_model_load(&m, amodel, acfg, err, sizeof err) == 0, "%s", err);
    if (ts->failed) return;
    char spk[128];
    snprintf(spk, sizeof spk, "%s", m.cfg.data.spk2id[m.cfg.data.n_spk2id - 1].name);
    bv_infer_model_free(&m);
    int code = bv_test_run_bv2(tmp, (const char *const[]){"infer", "-m", amodel, "-c", acfg, "--speaker", spk, "--lexicon",
                                                     lexp, "--text", text, "--bert-dir", "bert", "-o", "real.wav", "-q", NULL},
                          &out);
    BV_CHECK(code == 0, "infer --bert-dir exited %d: %s", code, out);
    free(out);
    code = bv_test_run_bv2(tmp, (const char *const[]){"infer", "-m", amodel, "-c", acfg, "--speaker", spk, "--lexicon", lexp,
                                                 "--text", text, "-o", "zeros.wav", "-q", NULL},
                      &out);
    BV_CHECK(code == 0, "infer exited %d: %s", code, out);
    free(out);
    code = bv_test_run_bv2(tmp, (const char *const[]){"infer", "-m", amodel, "-c", acfg, "--speaker", spk, "--lexicon", lexp,
                                                 "--text", text, "--bert-dir", "bert", "--style-text", "Wait... what?!",
                                                 "--style-weight", "0.5", "-o", "style.wav", "-q", NULL},
                      &out);
    BV_CHECK(code == 0, "infer --style-text exited %d: %s", code, out);
    free(out);
    char a[600], b[600], c[600];
    snprintf(a, sizeof a, "%s/real.wav", tmp);
    snprintf(b, sizeof b, "%s/zeros.wav", tmp);
    snprintf(c, sizeof c, "%s/style.wav", tmp);
    BV_CHECK(file_size(a) > 44 && file_size(c) > 44, "no wav written");
    BV_CHECK(wav_differs(a, b) && wav_differs(a, c), "BERT features / style mixing change nothing in the audio");
    /* a model of the wrong width is refused with both shapes named */
    code = bv_test_run_bv2(tmp, (const char *const[]){"infer", "-m", amodel, "-c", acfg, "--speaker", spk, "--lexicon", lexp,
                                                 "--text", text, "--bert-dir", bv_test_golden_dir, "-o", "x.wav", NULL},
                      &out);
    BV_CHECK(code == 3 && strstr(out, "deberta-v3-large"), "exit %d: %s", code, out);
    free(out);
    bv_test_rm_rf(tmp);
}

/* The lines of a set's two lists in `lang`, split into their 7 fields: *out[i][0..7) point into
 * *buf (free both with free()). Returns the count. */
static int lang_lines(const char *lists, const char *lang, char *(**out)[7], char **buf) {
    char a[4300], b[4300];
    snprintf(a, sizeof a, "%s/train.list", lists);
    snprintf(b, sizeof b, "%s/val.list", lists);
    char *x = bv_test_read_file(a, NULL), *y = bv_test_read_file(b, NULL);
    size_t nx = x ? strlen(x) : 0, ny = y ? strlen(y) : 0;
    *buf = malloc(nx + ny + 2);
    snprintf(*buf, nx + ny + 2, "%s\n%s", x ? x : "", y ? y : "");
    free(x);
    free(y);
    int n = 0;
    *out = NULL;
    for (char *line = strtok(*buf, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[7];
        int nf = 0;
        for (char *q = line; nf < 7; nf++) {
            f[nf] = q;
            char *bar = strchr(q, '|');
            if (!bar) break;
            *bar = 0;
            q = bar + 1;
        }
        if (nf != 6 || strcmp(f[2], lang)) continue;
        *out = realloc(*out, sizeof **out * (size_t)(n + 1));
        memcpy((*out)[n++], f, sizeof f);
    }
    return n;
}

/* EN filelist lines of the golden set: bv2's g2p with the set's DeBERTa tokenizer splits words as
 * upstream's english.py did for them (word2ph has one entry per token), so their features can be
 * made from our own g2p. Phones differ where upstream's OOV stand-in was used. */
BV_GOLDEN_TEST(bert_en_words_split_by_deberta) {
    char dir[4096], lists[4200], err[1024];
    snprintf(dir, sizeof dir, "%s/bert", bv_test_golden_dir);
    if (set_lists(dir, lists, sizeof lists)) {
        bv_test_skip(ts, "this golden set's bert/filelists are empty and the rebuilt ones are not for it");
        return;
    }
    bv_lexicon *lex = bv_infer_lexicon_load(NULL, err, sizeof err);
    if (!lex) {
        bv_test_skip(ts, "no lexicon: %s", err);
        return;
    }
    char bdir[4200];
    snprintf(bdir, sizeof bdir, "%s/bert", dir);
    bv_bert_set *set = bv_bert_set_new(bdir);
    BV_CHECK(bv_bert_set_en_words(set, lex, err, sizeof err) == 0, "%s", err);
    int n = 0, same_len = 0, exact = 0;
    char *(*lines)[7], *buf;
    int nl = lang_lines(lists, "EN", &lines, &buf);
    {
        for (int li = 0; li < nl && !ts->failed; li++) {
            char **f = lines[li];
            bv_en_phones ph;
            BV_CHECK(bv_en_g2p(lex, f[3], &ph, err, sizeof err) == 0, "%s: %s", f[3], err);
            if (ts->failed) break;
            int want = 1;
            for (const char *q = f[6]; *q; q++) want += *q == ' ';
            n++;
            same_len += ph.n_word2ph == want;
            BV_CHECK(ph.n_word2ph == want, "%s: %d word2ph entries, upstream %d", f[3], ph.n_word2ph, want);
            size_t len = bv_en_format(&ph, NULL, 0);
            char *got = malloc(len + 1);
            bv_en_format(&ph, got, len + 1);
            char wantl[8192];
            snprintf(wantl, sizeof wantl, "%s|%s|%s", f[4], f[5], f[6]);
            exact += !strcmp(got, wantl);
            free(got);
            /* and the feature path accepts it: one token per word2ph entry */
            int64_t *w2p = ph.word2ph;
            float *feat;
            int H;
            int64_t P;
            int rc = bv_bert_feature(set, "EN", f[3], w2p, ph.n_word2ph, NULL, 0.7f, &feat, &H, &P, err, sizeof err);
            BV_CHECK(rc == 0, "%s: %s", f[3], err);
            if (!rc) free(feat);
            bv_en_phones_free(&ph);
        }
    }
    free(lines);
    free(buf);
    BV_CHECK(n > 0, "no EN lines");
    fprintf(stderr, "  EN lines: %d, word2ph length as upstream: %d, phones identical: %d (others: upstream's OOV stand-in)\n",
            n, same_len, exact);
    bv_bert_set_free(set);
    bv_lexicon_free(lex);
}

/* bv2 preprocess --bert-dir: an English transcript to filelists with real features in one command;
 * the words are split by the DeBERTa tokenizer, so the features' phone count matches. */
BV_GOLDEN_TEST(bert_preprocess_with_bert_dir) {
    char set[4096];
    snprintf(set, sizeof set, "%s/bert/bert", bv_test_golden_dir);
    struct stat sb;
    if (stat(set, &sb)) {
        bv_test_skip(ts, "this golden set has no bert/bert");
        return;
    }
    char aset[PATH_MAX], tmp[256], cmd[9000], p[4300], err[512], lex[PATH_MAX];
    BV_CHECK(realpath(set, aset) != NULL, "realpath");
    const char *lexp = realpath("data/cmudict.rep", lex) ? lex : "data/cmudict.rep";
    snprintf(tmp, sizeof tmp, "/tmp/bv_bert_pre_%d", (int)getpid());
    bv_test_rm_rf(tmp);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/wavs' && ln -s '%s' '%s/bert'", tmp, aset, tmp);
    BV_CHECK(sh(cmd) == 0, "%s", cmd);
    float x[1600] = {0};
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/wavs/%c.wav", tmp, 'a' + k);
        BV_CHECK(bv_wav_write(p, x, 1600, 1, 16000, err, sizeof err) == 0, "%s", err);
    }
    snprintf(p, sizeof p, "%s/config.json", tmp);
    bv_test_write_text(p, "{\"data\": {\"sampling_rate\": 16000, \"add_blank\": true}}");
    snprintf(p, sizeof p, "%s/t.list", tmp);
    bv_test_write_text(p, "wavs/a.wav|spk|EN|The kitchen floor was warm.\nwavs/b.wav|spk|EN|Wait, what? No - really!\n");
    char *out = NULL;
    int code = bv_test_run_bv2(tmp, (const char *const[]){"preprocess", "-i", "t.list", "-c", "config.json", "--cmudict", lexp,
                                                     "--bert-dir", "bert", "--val-per-lang", "1", "--progress", "none",
                                                     NULL},
                          &out);
    BV_CHECK(code == 0 && strstr(out, "2 *.bert.pt written (BERT features"), "exit %d: %s", code, out);
    free(out);
    for (int k = 0; k < 2 && !ts->failed; k++) {
        bv_pth_tensor t;
        snprintf(p, sizeof p, "%s/wavs/%c.bert.pt", tmp, 'a' + k);
        BV_CHECK(bv_pth_load_tensor(p, &t, err, sizeof err) == 0, "%s", err);
        if (ts->failed) break;
        int nz = 0;
        for (int64_t i = 0; i < t.shape[0] * t.shape[1]; i++) nz += ((float *)t.data)[i] != 0;
        BV_CHECK(t.ndim == 2 && t.shape[0] == 48 && nz > 0, "%s: [%lld, %lld], %d non-zero", p, (long long)t.shape[0],
                 (long long)t.shape[1], nz);
        bv_pth_tensor_free(&t);
    }
    /* and bert-gen over the lists preprocess wrote keeps every file */
    code = bv_test_run_bv2(tmp, (const char *const[]){"bert-gen", "-c", "config.json", NULL}, &out);
    BV_CHECK(code == 0 && strstr(out, "2 kept"), "exit %d: %s", code, out);
    free(out);
    bv_test_rm_rf(tmp);
}

/* The JP model and tokenizer through the feature path, with text2sep_kata stood in by the identity:
 * the golden JP lines' norm_text is already replace_punctuation'ed, so "".join(sep_text) equals it
 * wherever pyopenjtalk keeps every character in a word. Real JP support needs the front-end's step. */
static int identity_sep(void *user, const char *text, char **joined, char *err, size_t errcap) {
    (void)user, (void)err, (void)errcap;
    *joined = strdup(text);
    return 0;
}

BV_GOLDEN_TEST(bert_jp_model_with_identity_sep) {
    char dir[4096], lists[4200], err[1024];
    snprintf(dir, sizeof dir, "%s/bert", bv_test_golden_dir);
    if (set_lists(dir, lists, sizeof lists)) {
        bv_test_skip(ts, "this golden set's bert/filelists are empty and the rebuilt ones are not for it");
        return;
    }
    char bdir[4200];
    snprintf(bdir, sizeof bdir, "%s/bert", dir);
    bv_bert_set *set = bv_bert_set_new(bdir);
    BV_CHECK(bv_bert_set_prepare(set, "JP", err, sizeof err) == 0, "%s", err);
    if (ts->failed) {
        bv_bert_set_free(set);
        return;
    }
    bv_bert_set_ja_sep(set, identity_sep, NULL);
    int n = 0, ok = 0;
    double worst = 0;
    char *(*lines)[7], *buf;
    int nl = lang_lines(lists, "JP", &lines, &buf);
    {
        for (int li = 0; li < nl; li++) {
            char **f = lines[li];
            int64_t *w2p;
            int nw = bv_parse_int_list(f[6], "word2ph", &w2p, err, sizeof err);
            for (int i = 0; i < nw; i++) w2p[i] *= 2;
            w2p[0] += 1;
            float *feat;
            int H;
            int64_t P;
            n++;
            if (bv_bert_feature(set, "JP", f[3], w2p, nw, NULL, 0.7f, &feat, &H, &P, err, sizeof err) == 0) {
                const char *base = strrchr(f[0], '/') ? strrchr(f[0], '/') + 1 : f[0];
                char want[4700];
                snprintf(want, sizeof want, "%s/expected/%.*s.bert.pt", dir, (int)(strlen(base) - 4), base);
                bv_pth_tensor e, a = {.ndim = 2, .shape = {H, P}};
                if (bv_pth_load_tensor(want, &e, err, sizeof err) == 0) {
                    float *t = malloc(sizeof(float) * (size_t)(H * P));
                    for (int64_t p = 0; p < P; p++)
                        for (int h = 0; h < H; h++) t[h * P + p] = feat[p * H + h];
                    a.data = t;
                    double r = e.shape[1] == P ? compare_feature(&a, &e) : INFINITY;
                    worst = fmax(worst, r);
                    ok += r <= 1;
                    free(t);
                    bv_pth_tensor_free(&e);
                }
                free(feat);
            }
            free(w2p);
        }
    }
    free(lines);
    free(buf);
    fprintf(stderr, "  JP with identity text2sep_kata: %d of %d lines match upstream (worst %.3g x tol)\n", ok, n, worst);
    BV_CHECK(n > 0 && 2 * ok >= n, "%d of %d JP lines match (the identity stand-in holds for most lines)", ok, n);
    bv_bert_set_free(set);
}

/* Tokens accumulate by doubling (a per-token realloc was a fuzz timeout): a text of 5000 special
 * tokens and 5000 plain words gives 10000 tokens in order, on each of the three tokenizer kinds,
 * and the fuzzer's input (fuzz/corpus/btok/regress-many-specials.txt) tokenizes cleanly. */
BV_GOLDEN_TEST(bert_tokenizers_long_outputs) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bert/bert", bv_test_golden_dir);
    bv_bert_set *set = bv_bert_set_new(dir);
    static const char *const langs[] = {"ZH", "EN", "JP"};
    char *text = bv_xmalloc(5000 * 8 + 1), *p = text;
    for (int i = 0; i < 5000; i++) p += sprintf(p, "[SEP] a ");
    size_t rlen = 0;
    char *regress = bv_test_read_file("fuzz/corpus/btok/regress-many-specials.txt", &rlen);
    for (int l = 0; l < 3; l++) {
        char err[1024];
        if (bv_bert_set_prepare(set, langs[l], err, sizeof err)) {
            bv_test_skip(ts, "this golden set has no usable bert/bert/%s: %s", dir_of(langs[l]), err);
            break;
        }
        const bv_btok *t = bv_bert_set_tokenizer(set, langs[l]);
        bv_btok_out o;
        int rc = bv_btok_tokenize(t, text, &o, err, sizeof err);
        BV_CHECK(rc == 0 && o.n == 10000, "%s: rc %d, %d tokens: %s", langs[l], rc, rc ? 0 : o.n, err);
        if (rc) continue;
        int in_order = 1;
        for (int i = 0; i + 1 < o.n && in_order; i += 2)
            in_order = !strcmp(o.pieces[i], "[SEP]") && strcmp(o.pieces[i + 1], "[SEP]") != 0;
        BV_CHECK(in_order, "%s: tokens out of order", langs[l]);
        bv_btok_out_free(&o);
        if (regress) {
            rc = bv_btok_tokenize(t, regress, &o, err, sizeof err);
            BV_CHECK(rc == 0 && o.n > 0, "%s: fuzz input: %s", langs[l], err);
            if (!rc) bv_btok_out_free(&o);
        }
    }
    BV_CHECK(regress != NULL, "cannot read fuzz/corpus/btok/regress-many-specials.txt");
    free(regress);
    free(text);
    bv_bert_set_free(set);
}
