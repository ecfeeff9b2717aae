/* bert_gen.c - `bv2 bert-gen`: upstream's bert_gen.py. Every line of data.training_files and
 * data.validation_files gets <wav>.bert.pt (the BERT feature of its text, bert_feature.h); lines run
 * in parallel, each on one thread. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bert/bert_feature.h"
#include "../core/error.h"
#include "../train/progress.h"
#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: bv2 bert-gen -c config.json [--bert-dir DIR] [--threads N] [--overwrite]\n"
            "\n"
            "Upstream's bert_gen.py: for every line of data.training_files and data.validation_files\n"
            "(wav|speaker|language|text|phones|tones|word2ph) writes <wav>.bert.pt (\".wav\" replaced), the\n"
            "BERT feature of the text expanded to its phones (with data.add_blank's blanks), as torch.save\n"
            "of a [hidden, phones] tensor. Wavs are not read. Paths are relative to the current folder, as\n"
            "upstream's.\n"
            "\n"
            "  -c, --config PATH   config.json (data.training_files, data.validation_files, data.add_blank)\n"
            "  --bert-dir DIR      the model folders (default: bert): chinese-roberta-wwm-ext-large (ZH),\n"
            "                      deberta-v3-large (EN), deberta-v2-large-japanese-char-wwm (JP)\n"
            "  --threads N         lines processed at once (default: every core)\n"
            "  --overwrite         regenerate files that exist (default: keep a file with the right phone\n"
            "                      count, as upstream; files of zeros from bv2 preprocess are regenerated)\n"
            "  -h, --help          this text\n"
            "\n"
            "exit status: 0 ok, %d bad command line, %d a bad config, filelist line or model (each failed line\n"
            "is reported with its file and line number; the others are still written).\n",
            BV_EXIT_USAGE, BV_EXIT_INPUT);
}

typedef struct gen_line {
    char *text;
    char where[300];
} gen_line;

/* Appends the non-blank lines of path (stripped) to *lines. */
static int read_lines(const char *path, gen_line **lines, int *n, int *cap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "error: bert-gen: %s: cannot open the filelist\n", path);
        return -1;
    }
    char *buf = NULL;
    size_t bcap = 0;
    int no = 0;
    for (ssize_t len; (len = getline(&buf, &bcap, f)) >= 0;) {
        no++;
        char *s = buf, *e = buf + len;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
        if (s == e) continue; /* upstream would fail on a blank line; it carries nothing */
        if (*n == *cap) *lines = bv_xrealloc(*lines, (size_t)(*cap = *cap ? 2 * *cap : 256) * sizeof(gen_line));
        gen_line *g = &(*lines)[(*n)++];
        g->text = strndup(s, (size_t)(e - s));
        snprintf(g->where, sizeof g->where, "%s:%d", path, no);
    }
    free(buf);
    fclose(f);
    return 0;
}

static const char *language_of(const char *line, char *out, size_t cap) {
    const char *a = strchr(line, '|'), *b = a ? strchr(a + 1, '|') : NULL, *c = b ? strchr(b + 1, '|') : NULL;
    if (!c) return NULL;
    snprintf(out, cap, "%.*s", (int)(c - b - 1), b + 1);
    return out;
}

int bv_cli_bert_gen(int argc, char **argv) {
    const char *config = NULL, *bert_dir = "bert";
    int threads = omp_get_num_procs(), overwrite = 0;
    static const struct option opts[] = {{"config", required_argument, 0, 'c'}, {"bert-dir", required_argument, 0, 'b'},
                                         {"threads", required_argument, 0, 't'}, {"overwrite", no_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'b': bert_dir = optarg; break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1024) {
                fprintf(stderr, "error: bert-gen: --threads must be an integer in [1, 1024], got '%s'\n", optarg);
                return BV_EXIT_USAGE;
            }
            threads = (int)v;
            break;
        }
        case 'o': overwrite = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return BV_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "error: bert-gen: unexpected argument '%s'\n", argv[optind]);
        return BV_EXIT_USAGE;
    }
    if (!config) {
        fprintf(stderr, "error: bert-gen: -c config.json is required\n");
        usage(stderr);
        return BV_EXIT_USAGE;
    }
    /* config.json: only the data keys bert_gen.py reads */
    FILE *f = fopen(config, "rb");
    if (!f) {
        fprintf(stderr, "error: bert-gen: %s: cannot open\n", config);
        return BV_EXIT_INPUT;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    for (int ch; (ch = fgetc(f)) != EOF;) fputc(ch, mem);
    fclose(mem);
    fclose(f);
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    const cJSON *data = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    const cJSON *tf = cJSON_GetObjectItemCaseSensitive(data, "training_files"),
                *vf = cJSON_GetObjectItemCaseSensitive(data, "validation_files"),
                *ab = cJSON_GetObjectItemCaseSensitive(data, "add_blank");
    const char *bad = !root ? "is not valid JSON" : !cJSON_IsObject(data) ? "has no \"data\" object"
                      : !cJSON_IsString(tf) ? ": data.training_files must be a string"
                      : !cJSON_IsString(vf) ? ": data.validation_files must be a string"
                      : !cJSON_IsBool(ab) ? ": data.add_blank must be true or false" : NULL;
    if (bad) {
        fprintf(stderr, "error: bert-gen: %s%s%s\n", config, bad[0] == ':' ? "" : " ", bad);
        cJSON_Delete(root);
        return BV_EXIT_INPUT;
    }
    int add_blank = cJSON_IsTrue(ab);
    gen_line *lines = NULL;
    int n = 0, cap = 0;
    if (read_lines(tf->valuestring, &lines, &n, &cap) || read_lines(vf->valuestring, &lines, &n, &cap)) {
        cJSON_Delete(root);
        for (int i = 0; i < n; i++) free(lines[i].text);
        free(lines);
        return BV_EXIT_INPUT;
    }
    if (!n)
        fprintf(stderr, "warning: bert-gen: %s and %s hold no lines: nothing to do\n", tf->valuestring, vf->valuestring);
    cJSON_Delete(root);

    /* models of the languages present, loaded once before the threads start */
    bv_bert_set *set = bv_bert_set_new(bert_dir);
    char err[2048], lang[64];
    int lang_bad[3] = {0, 0, 0}, failed = 0, written = 0, kept = 0;
    static const char *const langs[3] = {"ZH", "EN", "JP"};
    for (int l = 0; l < 3; l++) {
        int used = 0;
        for (int i = 0; i < n && !used; i++) used = language_of(lines[i].text, lang, sizeof lang) && !strcmp(lang, langs[l]);
        if (used && bv_bert_set_prepare(set, langs[l], err, sizeof err)) {
            fprintf(stderr, "error: bert-gen: %s\n", err);
            lang_bad[l] = 1;
        }
    }
    bv_progress *p = bv_progress_start(n, "bert-gen");
    int done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && n > 1)
    for (int i = 0; i < n; i++) {
        char e2[2048], lg[64];
        bv_bert_line_result r;
        const char *li = language_of(lines[i].text, lg, sizeof lg);
        int skip = 0;
        for (int l = 0; l < 3 && li; l++) skip |= lang_bad[l] && !strcmp(li, langs[l]);
        if (skip) {
            r = BV_BERT_LINE_FAILED;
            snprintf(e2, sizeof e2, "%s: no %s model (see above)", lines[i].where, li);
        } else {
            r = bv_bert_gen_line(set, lines[i].text, add_blank, NULL, overwrite, lines[i].where, e2, sizeof e2);
        }
#pragma omp critical(bert_gen_report)
        {
            if (r == BV_BERT_LINE_FAILED) {
                bv_progress_hide();
                fprintf(stderr, "error: bert-gen: %s\n", e2);
                bv_progress_show();
                failed++;
            } else if (r == BV_BERT_LINE_KEPT) {
                kept++;
            } else {
                written++;
            }
            bv_progress_update(p, ++done, NULL);
        }
    }
    bv_progress_finish(p);
    printf("bert-gen: %d lines: %d *.bert.pt written, %d kept (already there), %d failed\n", n, written, kept, failed);
    for (int i = 0; i < n; i++) free(lines[i].text);
    free(lines);
    bv_bert_set_free(set);
    return failed ? BV_EXIT_INPUT : 0;
}
