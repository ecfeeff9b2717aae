/* g2p.c - `bv2 g2p`: what the English, Chinese or Japanese front-end (upstream text/english.py,
 * text/chinese.py, text/japanese.py clean_text) makes of a text, printed in filelist form
 * "phones|tones|word2ph", so the front-end can be checked by eye and used to build filelists. One
 * output line per input line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bert/bert_feature.h"
#include "../core/error.h"
#include "../infer/infer.h"
#include "../text/chinese.h"
#include "../text/english.h"
#include "../text/ja_label.h"
#include "../text/ja_mecab.h"
#include "../text/japanese.h"
#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: bv2 g2p [--language EN|ZH|JP] [--text TEXT] [--norm] [--lexicon PATH] [--bert-dir DIR]\n"
            "               [--jdic DIR] [--frontend]\n"
            "\n"
            "Prints phones|tones|word2ph for each text, as upstream's clean_text(text, LANG) returns them\n"
            "and preprocess_text.py writes them into a filelist (before add_blank). Without --text, reads\n"
            "stdin and prints one line per input line (a blank input line gives a blank line).\n"
            "\n"
            "  --language LANG   EN (default), ZH (upstream v2.3 text/chinese.py: jieba, pypinyin, tone sandhi;\n"
            "                    data from scripts/fetch-zh.sh in data/zh, or $BV2_ZH_DATA) or JP\n"
            "  --text TEXT       the text (otherwise stdin)\n"
            "  --norm            print \"norm_text|phones|tones|word2ph\": the last four fields of a filelist line\n"
            "  --lexicon PATH    cmudict.rep (default $BV2_CMUDICT, else data/cmudict.rep here or beside the\n"
            "                    bv2 build folder)\n"
            "  --bert-dir DIR    EN: split words with DIR/deberta-v3-large's tokenizer, as upstream's english.py\n"
            "                    text_to_words does (then word2ph matches that model's tokens exactly)\n"
            "  --jdic DIR        JP: OpenJTalk's MeCab dictionary (default $OPEN_JTALK_DICT_DIR, else\n"
            "                    " BV_JA_DIC_DEFAULT ")\n"
            "  --frontend        JP: print what pyopenjtalk's run_frontend and make_label give for the\n"
            "                    normalized text instead (one line per word: string,pos,pos1,pron,\n"
            "                    chain_rule,acc/mora,chain_flag; then phone:mark:A1:A2 per label phoneme)\n"
            "  -h, --help        this text\n"
            "\n"
            "EN: words outside the lexicon get phones from flite's letter-to-sound rules (upstream uses g2p_en's\n"
            "neural model there). Without --bert-dir, word2ph assumes one tokenizer piece per run of letters or\n"
            "digits (upstream asks DeBERTa's tokenizer).\n"
            "JP: MeCab over OpenJTalk's dictionary and OpenJTalk's rules written in C, as pyopenjtalk 0.3.0;\n"
            "word2ph counts one token per character (deberta-v2-large-japanese-char-wwm's tokenizer).\n"
            "\n"
            "exit status: 0 ok, %d bad command line, %d a text the front-end cannot handle (empty text,\n"
            "unsupported characters; with stdin, the other lines are still printed and a failed line\n"
            "prints as a blank line).\n",
            BV_EXIT_USAGE, BV_EXIT_INPUT);
}

typedef struct {
    const bv_lexicon *lex; /* EN */
    const bv_zh_dict *zh;  /* ZH */
    bv_ja_frontend *ja;    /* JP */
    int frontend;          /* JP: print run_frontend / labels */
} g2p_ctx;

/* --frontend: the NJD words and label accents of the normalized text */
static int print_frontend(bv_ja_frontend *ja, const char *text, char *err, size_t cap) {
    char *norm = bv_ja_normalize(text, err, cap);
    if (!norm) return -1;
    bv_ja_njd njd = {0};
    if (bv_ja_run_frontend(ja, norm, &njd, err, cap)) return free(norm), -1;
    printf("%s\n", norm);
    for (const bv_ja_node *n = njd.head; n; n = n->next)
        printf("  %s,%s,%s,%s,%s,%d/%d,%d\n", bv_ja_str(n->string), bv_ja_str(n->pos), bv_ja_str(n->pos1),
               bv_ja_str(n->pron), bv_ja_str(n->chain_rule), n->acc, n->mora_size, n->chain_flag);
    bv_ja_accent *acc;
    int n_acc;
    bv_ja_accents(&njd, &acc, &n_acc);
    printf(" ");
    for (int i = 0; i < n_acc; i++) printf(" %s:%d:%d:%d", acc[i].phone, acc[i].accent, acc[i].a1, acc[i].a2);
    printf("\n");
    free(acc);
    bv_ja_njd_free(&njd);
    free(norm);
    return 0;
}

/* One text -> one output line. Returns 0, or -1 with err. */
static int g2p_line(const g2p_ctx *ctx, const char *text, int with_norm, char *err, size_t cap) {
    const char *p = text;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) return snprintf(err, cap, "empty text"), -1;
    if (ctx->ja && ctx->frontend) return print_frontend(ctx->ja, text, err, cap);
    bv_en_phones ph;
    char *norm = NULL;
    if (ctx->ja ? bv_ja_clean_text(ctx->ja, text, &norm, &ph, err, cap)
        : ctx->zh ? bv_zh_clean_text(ctx->zh, text, &norm, &ph, err, cap)
                  : bv_en_clean_text(ctx->lex, text, &norm, &ph, err, cap))
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

static int g2p_stdin(const g2p_ctx *ctx, int with_norm) {
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
        if (g2p_line(ctx, line, with_norm, err, sizeof err)) {
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
                                         {"jdic", required_argument, 0, 'j'},    {"frontend", no_argument, 0, 'f'},
                                         {"bert-dir", required_argument, 0, 'b'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *language = "EN", *text = NULL, *lexicon = NULL, *jdic = NULL, *bert_dir = NULL;
    int with_norm = 0, frontend = 0;
    opterr = 0;
    optind = 0;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'l': language = optarg; break;
        case 't': text = optarg; break;
        case 'n': with_norm = 1; break;
        case 'x': lexicon = optarg; break;
        case 'j': jdic = optarg; break;
        case 'f': frontend = 1; break;
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
    if (strcmp(language, "EN") && strcmp(language, "ZH") && strcmp(language, "JP")) {
        fprintf(stderr, "error: --language %s: expected EN, ZH or JP\n", language);
        return BV_EXIT_USAGE;
    }
    if (frontend && strcmp(language, "JP")) {
        fprintf(stderr, "error: --frontend is for --language JP\n");
        return BV_EXIT_USAGE;
    }
    char err[1024];
    g2p_ctx ctx = {.frontend = frontend};
    bv_lexicon *lex = NULL;
    bv_zh_dict *zh = NULL;
    bv_bert_set *bert = NULL;
    if (!strcmp(language, "JP")) {
        ctx.ja = bv_ja_open(jdic, err, sizeof err);
        if (!ctx.ja) {
            fprintf(stderr, "error: %s\n", err);
            return BV_EXIT_INPUT;
        }
    } else if (!strcmp(language, "ZH")) {
        ctx.zh = zh = bv_zh_dict_load(NULL, err, sizeof err);
        if (!zh) {
            fprintf(stderr, "error: %s\n", err);
            return BV_EXIT_INPUT;
        }
    } else {
        lex = bv_infer_lexicon_load(lexicon, err, sizeof err);
        if (!lex) {
            fprintf(stderr, "error: %s\n", err);
            return BV_EXIT_INPUT;
        }
        ctx.lex = lex;
        bert = bert_dir ? bv_bert_set_new(bert_dir) : NULL;
        if (bert && bv_bert_set_en_words(bert, lex, err, sizeof err)) { /* EN's word split */
            fprintf(stderr, "error: --bert-dir: %s\n", err);
            bv_bert_set_free(bert);
            bv_lexicon_free(lex);
            return BV_EXIT_INPUT;
        }
    }
    int rc = 0;
    if (text) {
        if (g2p_line(&ctx, text, with_norm, err, sizeof err)) fprintf(stderr, "error: %s\n", err), rc = BV_EXIT_INPUT;
    } else {
        rc = g2p_stdin(&ctx, with_norm);
    }
    bv_ja_free(ctx.ja);
    bv_zh_dict_free(zh);
    bv_bert_set_free(bert);
    bv_lexicon_free(lex);
    return rc;
}
