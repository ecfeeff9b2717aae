/* test_preprocess.c - src/app/preprocess.c (behind `bv2 preprocess`): transcript lines cleaned
 * into filelist lines that filelist.h parses, errors that name the line, upstream's split, the config
 * edit, zero *.bert.pt files of the right shape, the whole chain accepted by the training dataset
 * with demo/config.json, and the random WavLM loading and running. The `bv2 preprocess` command
 * itself is run end to end when the bv2 beside the test binary has it. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../src/data/dataset.h"
#include "../src/data/filelist.h"
#include "../src/app/preprocess.h"
#include "../src/io/config.h"
#include "../src/io/pth.h"
#include "../src/io/wav.h"
#include "../src/model/wavlm.h"
#include "../src/text/lexicon.h"
#include "fixtures.h"
#include "test.h"

static bv_lexicon *g_lex;
static char g_lex_err[1024];
__attribute__((destructor)) static void free_lex(void) { bv_lexicon_free(g_lex); }

static const bv_lexicon *lexicon(bv_test_state *ts) {
    if (!g_lex && !g_lex_err[0]) g_lex = bv_lexicon_load(NULL, g_lex_err, sizeof g_lex_err);
    BV_CHECK(g_lex != NULL, "lexicon: %s (run scripts/fetch-cmudict.sh)", g_lex_err);
    return g_lex;
}

BV_TEST(preprocess_clean_english_line) {
    const bv_lexicon *lex = lexicon(ts);
    if (!lex) return;
    bv_prep_utt u;
    char err[1024];
    int rc = bv_prep_clean_line(lex, "  spk/a.wav|alice|EN|Hello, world.\r", 7, "t.list", "/data/x", &u, err, sizeof err);
    BV_CHECK(rc == 0, "%s", err);
    if (rc) return;
    BV_CHECK(!strcmp(u.wav, "/data/x/spk/a.wav"), "wav %s", u.wav);
    BV_CHECK(!strcmp(u.speaker, "alice") && !strcmp(u.language, "EN") && u.line == 7, "fields");
    BV_CHECK(!strcmp(u.text, "Hello, world."), "norm text '%s'", u.text);
    BV_CHECK(!strcmp(u.phones, "_ hh ah l ow , w er l d . _"), "phones '%s'", u.phones);
    BV_CHECK(!strcmp(u.tones, "0 3 1 3 2 0 3 2 3 3 0 0"), "tones '%s'", u.tones);
    BV_CHECK(!strcmp(u.word2ph, "1 4 1 4 1 1"), "word2ph '%s'", u.word2ph);
    BV_CHECK(u.n_phones == 12, "n_phones %d", u.n_phones);

    /* the line parses as a filelist line with the same fields */
    char *line = bv_prep_utt_line(&u);
    bv_filelist fl;
    rc = bv_filelist_parse(&fl, line, strlen(line), "mem", err, sizeof err);
    BV_CHECK(rc == 0 && fl.n == 1, "%s", err);
    if (!rc) {
        const bv_filelist_entry *e = &fl.items[0];
        BV_CHECK(!strcmp(e->wav, u.wav) && !strcmp(e->speaker, "alice") && !strcmp(e->language, "EN") &&
                     !strcmp(e->text, u.text) && !strcmp(e->phones, u.phones) && !strcmp(e->tones, u.tones) &&
                     !strcmp(e->word2ph, u.word2ph),
                 "filelist fields differ: %s", line);
        bv_filelist_free(&fl);
    }
    free(line);
    bv_prep_utt_free(&u);

    /* an absolute wav path ignores --wav-dir; numbers are normalised */
    rc = bv_prep_clean_line(lex, "/abs/b.wav|bob|EN|I have 2 cats.", 1, "t.list", "/data/x", &u, err, sizeof err);
    BV_CHECK(rc == 0 && !strcmp(u.wav, "/abs/b.wav") && strstr(u.text, "two"), "%s", rc ? err : u.text);
    if (!rc) bv_prep_utt_free(&u);
}

BV_TEST(preprocess_line_errors_name_the_line) {
    const bv_lexicon *lex = lexicon(ts);
    if (!lex) return;
    bv_prep_utt u;
    char err[1024];
    struct {
        const char *line, *want1, *want2;
    } cases[] = {
        {"a.wav|s|EN|Caf\xc3\xa9 au lait.", "t.list:3:", "\xc3\xa9"},                 /* a character g2p refuses */
        {"a.wav|s|EN|Snow \xe2\x98\x83 falls.", "t.list:3:", "\xe2\x98\x83"},
        {"a.wav|s|EN", "t.list:3:", "3 fields"},
        {"a.wav|s|EN|x|y", "t.list:3:", "5 fields"},
        {"a.wav|s|JP|鬱鬯鬲", "t.list:3:", "not a symbol"},                             /* upstream asserts */
        {"a.wav|s|FR|bonjour", "t.list:3:", "'FR'"},
        {"|s|EN|hello", "t.list:3:", "empty wav"},
        {"a.wav|s|EN|", "t.list:3:", "no phones"},                                       /* only the pads */
        {"a.wav|s|ZH|你好|_ n i h qq _|0 3 3 3 3 0|1 2 2 1", "t.list:3:", "qq"},       /* unknown phone */
        {"a.wav|s|ZH|你好|_ n i h ao _|0 3 3 3 0|1 2 2 1", "t.list:3:", "5 tones"},
        {"a.wav|s|ZH|你好|_ n i h ao _|0 3 3 3 3 0|1 2 2 2", "t.list:3:", "word2ph sums to 7"},
        /* entries near 2^63 once wrapped their sum to the phone count (issue 14 finding 3) */
        {"a.wav|s|ZH|你好|_ n i h ao _|0 3 3 3 3 0|9223372036854775807 9223372036854775807 2 2 2",
         "t.list:3:", "word2ph[0] = 9223372036854775807 is outside [0, 6]"},
        {"a.wav|s|ZH|你好|_ n i h ao _|0 3 3 3 3 0|-2 4 2 2", "t.list:3:", "word2ph[0] = -2"},
        {"a.wav|s|EN|x|_ hh ah _|0 3 9 0|1 2 1", "t.list:3:", "tone"},                  /* EN tones are 0..3 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        int rc = bv_prep_clean_line(lex, cases[i].line, 3, "t.list", NULL, &u, err, sizeof err);
        BV_CHECK(rc == -1, "case %zu accepted: %s", i, cases[i].line);
        if (rc == 0) bv_prep_utt_free(&u);
        BV_CHECK(strstr(err, cases[i].want1) && strstr(err, cases[i].want2), "case %zu: '%s' lacks '%s' / '%s'", i,
                 err, cases[i].want1, cases[i].want2);
    }
    /* a cleaned line of any language passes through unchanged */
    int rc = bv_prep_clean_line(NULL, "a.wav|s|ZH|你好|_ n i h ao _|0 3 3 3 3 0|1 2 2 1", 1, "t", NULL, &u, err,
                                sizeof err);
    BV_CHECK(rc == 0 && u.n_phones == 6 && !strcmp(u.text, "你好"), "%s", err);
    if (!rc) bv_prep_utt_free(&u);
    /* Chinese text is cleaned by the ZH front-end, as upstream's preprocess_text.py writes it */
    rc = bv_prep_clean_line(NULL, "a.wav|s|ZH|你好，世界！", 1, "t", NULL, &u, err, sizeof err);
    BV_CHECK(rc == 0 && !strcmp(u.text, "你好,世界!") && !strcmp(u.phones, "_ n i h ao , sh ir j ie ! _") &&
                 !strcmp(u.tones, "0 2 2 3 3 0 4 4 4 4 0 0") && !strcmp(u.word2ph, "1 2 2 1 2 2 1 1"),
             "%s", rc ? err : u.phones);
    if (!rc) bv_prep_utt_free(&u);
    /* English text without a lexicon is an error, not a crash */
    rc = bv_prep_clean_line(NULL, "a.wav|s|EN|hello", 1, "t", NULL, &u, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, "lexicon"), "%s", err);
}

static bv_prep_utt fake_utt(const char *wav, const char *spk, const char *lang) {
    bv_prep_utt u = {0};
    u.wav = (char *)wav;
    u.speaker = (char *)spk;
    u.language = (char *)lang;
    return u;
}

BV_TEST(preprocess_split_and_speakers) {
    bv_prep_utt u[13];
    char names[13][16];
    for (int i = 0; i < 13; i++) {
        snprintf(names[i], sizeof names[i], "%d.wav", i);
        u[i] = fake_utt(names[i], i % 3 == 0 ? "B" : i % 3 == 1 ? "A" : "C", i < 10 ? "EN" : "ZH");
    }
    int tr[13], va[13], nt, nv;
    bv_prep_split(u, 13, 2, 3, 1234, tr, &nt, va, &nv);
    BV_CHECK(nt == 10 && nv == 3, "train %d val %d (2 per language = 4, cut to 3)", nt, nv);
    int seen[13] = {0};
    for (int i = 0; i < nt; i++) seen[tr[i]]++;
    for (int i = 0; i < nv; i++) seen[va[i]]++;
    for (int i = 0; i < 13; i++) BV_CHECK(seen[i] == 1, "utterance %d used %d times", i, seen[i]);
    int tr2[13], va2[13], nt2, nv2;
    bv_prep_split(u, 13, 2, 3, 1234, tr2, &nt2, va2, &nv2);
    BV_CHECK(nt2 == nt && !memcmp(tr, tr2, sizeof(int) * (size_t)nt) && !memcmp(va, va2, sizeof(int) * (size_t)nv),
             "same seed, different split");
    bv_prep_split(u, 13, 0, 12, 1, tr2, &nt2, va2, &nv2);
    BV_CHECK(nt2 == 13 && nv2 == 0, "val_per_lang 0: %d / %d", nt2, nv2);
    bv_prep_split(u, 13, 5, 100, 1, tr2, &nt2, va2, &nv2);
    BV_CHECK(nv2 == 8 && nt2 == 5, "5 per language: EN 5 + ZH all 3: %d / %d", nv2, nt2);

    const char *spk[13];
    int n = bv_prep_speakers(u, 13, spk);
    BV_CHECK(n == 3 && !strcmp(spk[0], "B") && !strcmp(spk[1], "A") && !strcmp(spk[2], "C"), "speakers in order");

    cJSON *cfg = cJSON_Parse("{\"train\": {}, \"data\": {\"training_files\": \"old\", \"spk2id\": {\"x\": 7},"
                             " \"n_speakers\": 99, \"sampling_rate\": 22050}, \"version\": \"2.1\"}");
    char err[256];
    BV_CHECK(bv_prep_config_update(cfg, "c.json", spk, n, "f/train.list", "f/val.list", err, sizeof err) == 0, "%s", err);
    char *text = cJSON_PrintUnformatted(cfg);
    BV_CHECK(!strcmp(text, "{\"train\":{},\"data\":{\"training_files\":\"f/train.list\",\"spk2id\":{\"B\":0,\"A\":1,"
                           "\"C\":2},\"n_speakers\":3,\"sampling_rate\":22050,\"validation_files\":\"f/val.list\"},"
                           "\"version\":\"2.3\"}"),
             "config: %s", text);
    free(text);
    cJSON_Delete(cfg);
    cfg = cJSON_Parse("{\"data\": 3}");
    BV_CHECK(bv_prep_config_update(cfg, "c.json", spk, n, "a", "b", err, sizeof err) == -1 && strstr(err, "c.json"),
             "%s", err);
    cJSON_Delete(cfg);
}

BV_TEST(preprocess_zero_bert_files) {
    char dir[] = "/tmp/bv_pp_XXXXXX", path[128], err[512];
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char *bp = bv_prep_bert_path("d/x.wav.d/a.wav");
    BV_CHECK(bp && !strcmp(bp, "d/x.bert.pt.d/a.bert.pt"), "str.replace of every .wav: %s", bp ? bp : "NULL");
    free(bp);
    BV_CHECK(bv_prep_bert_path("a.flac") == NULL, "no .wav");
    BV_CHECK(bv_prep_bert_cols(12, 1) == 25 && bv_prep_bert_cols(12, 0) == 12, "cols");

    snprintf(path, sizeof path, "%s/a.bert.pt", dir);
    BV_CHECK(bv_prep_bert_ok(path, 25, err, sizeof err) == -1, "missing file");
    BV_CHECK(bv_prep_write_zero_bert(path, 25, err, sizeof err) == 0, "%s", err);
    bv_pth_tensor t;
    if (bv_pth_load_tensor(path, &t, err, sizeof err) == 0) {
        BV_CHECK(t.ndim == 2 && t.shape[0] == 1024 && t.shape[1] == 25 && t.dtype == BV_ST_F32, "shape [%lld, %lld]",
                 (long long)t.shape[0], (long long)t.shape[1]);
        int zeros = 1;
        for (int64_t i = 0; i < 1024 * 25; i++) zeros &= ((float *)t.data)[i] == 0.0f;
        BV_CHECK(zeros, "not all zeros");
        bv_pth_tensor_free(&t);
    } else {
        BV_CHECK(0, "%s", err);
    }
    BV_CHECK(bv_prep_bert_ok(path, 25, err, sizeof err) == 1, "right shape: %s", err);
    BV_CHECK(bv_prep_bert_ok(path, 24, err, sizeof err) == 0 && strstr(err, path) && strstr(err, "24"), "%s", err);
    snprintf(path, sizeof path, "%s/bad.bert.pt", dir);
    bv_test_write_text(path, "garbage");
    BV_CHECK(bv_prep_bert_ok(path, 5, err, sizeof err) == 0 && strstr(err, path), "corrupt: %s", err);
    bv_test_rm_rf(dir);
}

/* Writes three utterances (two speakers) at sr; fills the transcript text. */
static int make_corpus(const char *dir, int sr, char *transcript, size_t cap) {
    static const char *const text[3] = {"The cat sat down.", "A bright red kite.", "We sang all night."};
    transcript[0] = '\0';
    for (int k = 0; k < 3; k++) {
        char wav[256], err[512];
        snprintf(wav, sizeof wav, "%s/u%d.wav", dir, k);
        int64_t n = sr + 2000 * k;
        float *x = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) x[i] = 0.2f * sinf(0.05f * (float)i * (float)(k + 1));
        int rc = bv_wav_write(wav, x, n, 1, sr, err, sizeof err);
        free(x);
        if (rc) return -1;
        size_t len = strlen(transcript);
        snprintf(transcript + len, cap - len, "u%d.wav|%s|EN|%s\n", k, k == 1 ? "bob" : "amy", text[k]);
    }
    return 0;
}

BV_TEST(preprocess_chain_feeds_the_dataset) {
    const bv_lexicon *lex = lexicon(ts);
    if (!lex) return;
    char *demo = bv_test_read_file("demo/config.json", NULL);
    BV_CHECK(demo != NULL, "demo/config.json not found (run the tests from the repository root)");
    if (!demo) return;
    cJSON *root = cJSON_Parse(demo);
    free(demo);
    BV_CHECK(root != NULL, "demo/config.json is not JSON");
    if (!root) return;
    char dir[] = "/tmp/bv_pp_XXXXXX", transcript[2048], err[1024], train[256], val[256];
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    BV_CHECK(make_corpus(dir, 22050, transcript, sizeof transcript) == 0, "corpus");
    bv_prep_utt u[3];
    int n = 0, lineno = 0;
    for (char *line = strtok(transcript, "\n"); line; line = strtok(NULL, "\n")) {
        if (bv_prep_clean_line(lex, line, ++lineno, "t.list", dir, &u[n], err, sizeof err)) BV_CHECK(0, "%s", err);
        else n++;
    }
    BV_CHECK(n == 3, "%d lines cleaned", n);
    snprintf(train, sizeof train, "%s/train.list", dir);
    snprintf(val, sizeof val, "%s/val.list", dir);
    FILE *ft = fopen(train, "w"), *fv = fopen(val, "w");
    for (int i = 0; i < n; i++) {
        char *line = bv_prep_utt_line(&u[i]);
        fputs(line, i < 2 ? ft : fv);
        free(line);
        char *bp = bv_prep_bert_path(u[i].wav);
        BV_CHECK(bv_prep_write_zero_bert(bp, bv_prep_bert_cols(u[i].n_phones, 1), err, sizeof err) == 0, "%s", err);
        free(bp);
    }
    fclose(ft);
    fclose(fv);
    const char *spk[3];
    int n_spk = bv_prep_speakers(u, n, spk);
    BV_CHECK(bv_prep_config_update(root, "demo/config.json", spk, n_spk, train, val, err, sizeof err) == 0, "%s", err);
    bv_config cfg;
    int rc = bv_config_from_json(&cfg, root, "demo/config.json", err, sizeof err);
    BV_CHECK(rc == 0, "the demo config does not load: %s", err);
    if (rc == 0) {
        BV_CHECK(cfg.data.n_speakers == 2 && cfg.data.n_spk2id == 2 && !strcmp(cfg.data.spk2id[1].name, "bob"),
                 "speakers");
        bv_dataset ds;
        rc = bv_dataset_open(&ds, train, &cfg, &(bv_dataset_opts){0}, err, sizeof err);
        BV_CHECK(rc == 0 && ds.n == 2, "dataset: %s", err);
        if (rc == 0) {
            bv_rng rng;
            bv_rng_seed(&rng, 1);
            bv_item it;
            rc = bv_dataset_get(&ds, 0, ts->ctx, &rng, &it, err, sizeof err);
            BV_CHECK(rc == 0, "%s", err);
            if (rc == 0) {
                const bv_utterance *ut = &ds.utts[0];
                BV_CHECK(it.n_text == 2 * ut->n_phones + 1, "n_text %lld", (long long)it.n_text);
                float mx = 0;
                for (int64_t i = 0; i < 1024 * it.n_text; i++) mx = fmaxf(mx, fabsf(it.en_bert[i]));
                BV_CHECK(mx == 0.0f, "EN BERT features not zero (max %g)", mx);
                bv_item_free(&it);
            }
            bv_dataset_free(&ds);
        }
        bv_config_free(&cfg);
    }
    for (int i = 0; i < n; i++) bv_prep_utt_free(&u[i]);
    cJSON_Delete(root);
    bv_test_rm_rf(dir);
}

BV_TEST(preprocess_random_wavlm_loads_and_runs) {
    char dir[] = "/tmp/bv_pp_XXXXXX", sub[128], err[1024];
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(sub, sizeof sub, "%s/wavlm", dir);
    bv_prep_wavlm_size s;
    bv_prep_wavlm_size_default(&s);
    s.num_hidden_layers = 2;
    BV_CHECK(bv_prep_write_random_wavlm(sub, &s, 7, err, sizeof err) == 0, "%s", err);
    bv_wavlm *m = bv_wavlm_load(sub, err, sizeof err);
    BV_CHECK(m != NULL, "%s", err);
    if (m) {
        BV_CHECK(m->cfg.hidden_size == 64 && m->cfg.num_hidden_layers == 2 && m->cfg.conv_dim[6] == 32, "config");
        bv_ctx *ctx = ts->ctx;
        int64_t T = 3200;
        bv_tensor *wav = bv_new(ctx, BV_F32, 2, (int64_t[]){1, T});   // [1, T]
        for (int64_t i = 0; i < T; i++) wav->data[i] = 0.3f * sinf(0.02f * (float)i);
        bv_tensor *hs[BV_WAVLM_MAX_LAYERS + 1];
        bv_wavlm_forward(ctx, m, wav, hs);
        for (int l = 0; l <= 2; l++) {
            bv_tensor *h = hs[l];   // [1, F, 64]
            BV_CHECK(h->shape[1] == bv_wavlm_n_frames(m, T) && h->shape[2] == 64, "layer %d shape", l);
            double sum = 0, sq = 0;
            int finite = 1;
            for (int64_t i = 0; i < h->numel; i++) {
                finite &= isfinite(h->data[i]);
                sum += h->data[i];
                sq += (double)h->data[i] * h->data[i];
            }
            double var = sq / (double)h->numel - (sum / (double)h->numel) * (sum / (double)h->numel);
            BV_CHECK(finite && var > 0.1 && var < 10, "layer %d: finite %d, variance %g", l, finite, var);
        }
        bv_wavlm_free(m);
    }
    bv_test_rm_rf(dir);
}

BV_TEST(preprocess_cli_end_to_end) {
    char *text;
    int code = bv_test_run_bv2(NULL, (const char *const[]){"preprocess", "--help", NULL}, &text);
    if (code != 0 || !strstr(text, "bert_gen.py")) {
        fprintf(stderr, "  (skipped: %s has no preprocess command)\n", bv_test_bv2_path);
        free(text);
        return;
    }
    free(text);
    if (!lexicon(ts)) return;
    char dir[] = "/tmp/bv_pp_XXXXXX", transcript[2048], path[256], cfg[256], outcfg[256], lst[256];
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    BV_CHECK(make_corpus(dir, 22050, transcript, sizeof transcript) == 0, "corpus");
    snprintf(path, sizeof path, "%s/t.list", dir);
    bv_test_write_text(path, transcript);
    snprintf(cfg, sizeof cfg, "%s/in.json", dir);
    bv_test_write_text(cfg, "{\"data\": {\"sampling_rate\": 22050, \"add_blank\": true}, \"model\": {\"slm\": {\"sr\": 16000,"
                    " \"initial_channel\": 64}}}");
    snprintf(outcfg, sizeof outcfg, "%s/out.json", dir);
    snprintf(lst, sizeof lst, "%s/wavlm", dir);
    code = bv_test_run_bv2(NULL, (const char *const[]){"preprocess", "-i", path, "-c", cfg, "--out-config", outcfg, "--wav-dir", dir,
                                         "--val-per-lang", "1", "--make-random-wavlm", lst, "--progress", "none", NULL},
                   &text);
    BV_CHECK(code == 0, "exit %d: %s", code, text);
    BV_CHECK(strstr(text, "ZEROS") && strstr(text, "RANDOMLY"), "output says what it made: %s", text);
    free(text);
    snprintf(lst, sizeof lst, "%s/train.list", dir);
    bv_filelist fl;
    char err[1024];
    if (bv_filelist_load(&fl, lst, err, sizeof err) == 0) {
        BV_CHECK(fl.n == 2, "train lines %d", fl.n);
        bv_filelist_free(&fl);
    } else {
        BV_CHECK(0, "%s", err);
    }
    char *out = bv_test_read_file(outcfg, NULL);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    const cJSON *slm = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "model"), "slm");
    BV_CHECK(cJSON_GetObjectItemCaseSensitive(data, "n_speakers") &&
                 cJSON_GetObjectItemCaseSensitive(data, "n_speakers")->valueint == 2 &&
                 cJSON_GetObjectItemCaseSensitive(slm, "nlayers")->valueint == 4,
             "config: %s", out ? out : "(none)");
    cJSON_Delete(j);
    free(out);
    snprintf(path, sizeof path, "%s/u0.bert.pt", dir);
    BV_CHECK(access(path, F_OK) == 0, "no %s", path);

    /* a bad line fails the run, names the line, writes nothing */
    snprintf(path, sizeof path, "%s/bad.list", dir);
    bv_test_write_text(path, "u0.wav|amy|EN|fine text\n\nu1.wav|bob|EN|na\xc3\xafve text\n");
    snprintf(lst, sizeof lst, "%s/bad_train.list", dir);
    code = bv_test_run_bv2(NULL, (const char *const[]){"preprocess", "-i", path, "-c", cfg, "--out-config", outcfg, "--wav-dir", dir,
                                         "--train-path", lst, NULL}, &text);
    char want[300];
    snprintf(want, sizeof want, "%s:3:", path);
    BV_CHECK(code == 3 && strstr(text, want), "exit %d, want '%s': %s", code, want, text);
    BV_CHECK(access(lst, F_OK) != 0, "a filelist was written despite the bad line");
    free(text);
    /* a missing wav and a wrong rate name the file */
    bv_test_write_text(path, "nowhere.wav|amy|EN|fine text\n");
    code = bv_test_run_bv2(NULL, (const char *const[]){"preprocess", "-i", path, "-c", cfg, "--wav-dir", dir, NULL}, &text);
    BV_CHECK(code == 3 && strstr(text, "nowhere.wav") && strstr(text, ":1:"), "missing wav: exit %d: %s", code, text);
    free(text);
    bv_test_write_text(cfg, "{\"data\": {\"sampling_rate\": 44100}}");
    bv_test_write_text(path, "u0.wav|amy|EN|fine text\n");
    code = bv_test_run_bv2(NULL, (const char *const[]){"preprocess", "-i", path, "-c", cfg, "--wav-dir", dir, NULL}, &text);
    BV_CHECK(code == 3 && strstr(text, "u0.wav") && strstr(text, "44100"), "rate: exit %d: %s", code, text);
    free(text);
    bv_test_rm_rf(dir);
}
