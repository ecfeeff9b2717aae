/* main.c - the bv2 command. At this stage it only reports its version and usage: the training,
 * inference and tooling commands arrive with their issues (see README "Status"). */
#include <stdio.h>
#include <string.h>

#include "../core/error.h"

#define BV2_VERSION "0.1.0"

static void usage(FILE *f) {
    fprintf(f,
            "bv2 %s - Bert-VITS2 (v2.3) training and inference in C\n"
            "\n"
            "usage: bv2 <command> [options]\n"
            "\n"
            "commands:\n"
            "  version      print the version\n"
            "  help         print this text\n"
            "\n"
            "Training (bv2 train) and synthesis (bv2 infer) are not implemented yet; see README.md.\n",
            BV2_VERSION);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return argc < 2 ? BV_EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("bv2 %s\n", BV2_VERSION);
        return 0;
    }
    fprintf(stderr, "error: unknown command '%s' (try 'bv2 help')\n", argv[1]);
    return BV_EXIT_USAGE;
}
