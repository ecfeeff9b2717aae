/* g2p.c - `bv2 g2p`: what the English front-end (upstream text/english.py clean_text) or the Chinese
 * one (text/chinese.py) makes of a text, printed in filelist form "phones|tones|word2ph", so the
 * front-end can be checked by eye and used to build filelists. One output line per input line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bert/bert_feature.h"
#include "../core/error.h"
#include "../infer/infer.h"
#include "../text/chinese.h"
#include "../text/english.h"
#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: bv2 g2p [--language EN|ZH] [--text TEXT] [--norm] [--lexicon PATH]\n"
            "\n"
            "Prints phones|tones|word2ph for each text, as upstream's clean_text(text, LANG) returns them\n"
            "and preprocess_text.py writes them into a filelist (before add_blank). Without --text, reads\n"
            "stdin and prints one line per input line (a blank input line gives a blank line).\n"
            "\n"
            "  --language LANG   EN (default) or ZH (upstream v2.3 text/chinese.py: jieba, pypinyin, tone sandhi;\n"
            "                    data from scripts/fetch-zh.sh in data/zh, or $BV2_ZH_DATA)\n"
            "  --text TEXT       the text (otherwise stdin)\n"
            "  --norm            print \"norm_text|phones|tones|word2ph\": the last four fields of a filelist line\n"
            "  --lexicon PATH    cmudict.rep (default $BV2_CMUDICT, else data/cmudict.rep here or beside the\n"
            "                    bv2 build folder)\n"
            "  --bert-dir DIR    split words with DIR/deberta-v3-large's tokenizer, as upstream's english.py\n"
            "                    text_to_words does (then word2ph matches that model's tokens exactly)\n"
            "  -h, --help        this text\n"
            "\n"
            "EN: words outside the lexicon get phones from flite's letter-to-sound rules (upstream uses g2p_en's\n"
            "neural model there). Without --bert-dir, word2ph assumes one tokenizer piece per run of letters or\n"
            "digits (upstream asks DeBERTa's tokenizer).\n"
            "\n"
            "exit status: 0 ok, %d bad command line, %d a text the front-end cannot handle (empty text,\n"
            "unsupported characters; with stdin, the other lines are still printed and a failed line\n"
            "prints as a blank line).\n",
            BV_EXIT_USAGE, BV_EXIT_INPUT);
}

/* One text -> one output line (EN when zh is NULL, else ZH). Returns 0, or -1 with err. */
static int g2p_line(const bv_lexicon *lex, const bv_zh_dict *zh, const char *text, int with_norm, char *err,
                    size_t cap) {
    const char *p = text;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) return snprintf(err, cap, "empty text"), -1;
    bv_en_phones ph;
    char *norm = NULL;
    if (zh ? bv_zh_clean_text(zh, text, &norm, &ph, err, cap) : bv_en_clean_text(lex, text, &norm, &ph, err, cap))
        return -1;
    size_t n = bv_en_format(&ph, NULL, 0);
    char *line = bv_xmalloc(n + 1);
    bv_en_format(&ph, line, n + 1);
    if (with_norm) printf("%s|", norm);
    printf("%s\n", line);
    free(line);
    free(norm);
    bv_en_phones_free(&ph);
    return 0;
}

static int g2p_stdin(const bv_lexicon *lex, const bv_zh_dict *zh, int with_norm) {
    char *line = NULL, err[1024];
    size_t cap = 0;
    int bad = 0, line_no = 0;
    for (ssize_t len; (len = getline(&line, &cap, stdin)) >= 0;) {
        line_no++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) {
            putchar('\n');
            continue;
        }
        if (g2p_line(lex, zh, line, with_norm, err, sizeof err)) {
            fprintf(stderr, "error: line %d: %s\n", line_no, err);
            putchar('\n'); /* keep output lines aligned with input lines */
            bad++;
        }
        fflush(stdout);
    }
    free(line);
    return bad ? BV_EXIT_INPUT : 0;
}

int bv_cli_g2p(int argc, char **argv) {
    static const struct option opts[] = {{"language", required_argument, 0, 'l'}, {"text", required_argument, 0, 't'},
                                         {"norm", no_argument, 0, 'n'},          {"lexicon", required_argument, 0, 'x'},
                                         {"bert-dir", required_argument, 0, 'b'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *language = "EN", *text = NULL, *lexicon = NULL, *bert_dir = NULL;
    int with_norm = 0;
    opterr = 0;
    optind = 0;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'l': language = optarg; break;
        case 't': text = optarg; break;
        case 'n': with_norm = 1; break;
        case 'x': lexicon = optarg; break;
        case 'b': bert_dir = optarg; break;
        case 'h': usage(stdout); return 0;
        case ':': fprintf(stderr, "error: %s needs a value (see bv2 g2p --help)\n", argv[optind - 1]); return BV_EXIT_USAGE;
        default: fprintf(stderr, "error: unknown option '%s' (see bv2 g2p --help)\n", argv[optind - 1]); return BV_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "error: unexpected argument '%s' (text goes after --text)\n", argv[optind]);
        return BV_EXIT_USAGE;
    }
    if (strcmp(language, "EN") && strcmp(language, "ZH")) {
        fprintf(stderr,
                "error: --language %s: bv2 has front-ends for EN and ZH (JP phones come from upstream's "
                "preprocess_text.py)\n", language);
        return BV_EXIT_USAGE;
    }
    char err[1024];
    bv_lexicon *lex = NULL;
    bv_zh_dict *zh = NULL;
    if (!strcmp(language, "ZH")) zh = bv_zh_dict_load(NULL, err, sizeof err);
    else lex = bv_infer_lexicon_load(lexicon, err, sizeof err);
    if (!lex && !zh) {
        fprintf(stderr, "error: %s\n", err);
        return BV_EXIT_INPUT;
    }
    bv_bert_set *bert = bert_dir ? bv_bert_set_new(bert_dir) : NULL;
    if (bert && lex && bv_bert_set_en_words(bert, lex, err, sizeof err)) { /* EN's word split */
        fprintf(stderr, "error: --bert-dir: %s\n", err);
        bv_bert_set_free(bert);
        bv_lexicon_free(lex);
        bv_zh_dict_free(zh);
        return BV_EXIT_INPUT;
    }
    int rc = 0;
    if (text) {
        if (g2p_line(lex, zh, text, with_norm, err, sizeof err)) fprintf(stderr, "error: %s\n", err), rc = BV_EXIT_INPUT;
    } else {
        rc = g2p_stdin(lex, zh, with_norm);
    }
    bv_lexicon_free(lex);
    bv_bert_set_free(bert);
    bv_zh_dict_free(zh);
    return rc;
}
