/* main.c - the bv2 command: dispatches to one function per subcommand (src/cli/<command>.c). */
#include <stdio.h>
#include <string.h>

#include "../core/error.h"
#include "../core/cleanup.h"
#include "cli.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);   /* argv[0] is the command name */
    const char *summary;
} bv_command;

static const bv_command commands[] = {
    {"train", bv_cli_train, "train a model as upstream train_ms.py does (-c config.json -m model_dir)"},
    {"infer", bv_cli_infer, "synthesize speech from text or phones with a trained G_*.pth"},
    {"g2p", bv_cli_g2p, "print phones|tones|word2ph for English text, in filelist form"},
    {"export", bv_cli_export, "write an inference-only checkpoint (.pth or .safetensors)"},
    {"resample", bv_cli_resample, "resample a folder of audio to the config's sample rate"},
    {"preprocess", bv_cli_preprocess, "transcript + wavs -> filelists, zero *.bert.pt, config.json"},
};

static void usage(FILE *f) {
    fprintf(f,
            "bv2 %s - Bert-VITS2 (v2.3) training and inference in C\n"
            "\n"
            "usage: bv2 <command> [options]     (bv2 <command> --help for a command's options)\n"
            "\n"
            "commands:\n",
            BV2_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-10s %s\n  %-10s %s\n", "version", "print the version", "help", "print this text");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return BV_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("bv2 %s\n", BV2_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) {
            int rc = commands[i].run(argc - 1, argv + 1);
            bv_cleanup_run(); /* the process-wide caches, so nothing is left for LeakSanitizer */
            return rc;
        }
    fprintf(stderr, "error: unknown command '%s' (try 'bv2 help')\n", cmd);
    return BV_EXIT_USAGE;
}
