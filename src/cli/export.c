/* export.c - `bv2 export`: an inference-only generator checkpoint, as upstream's compress_model.py
 * makes it (enc_q and the optimizer state dropped, optionally fp16), in .pth or .safetensors. The
 * weights go through the inference loader first, so an export is known to load against its config. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/error.h"
#include "../infer/infer.h"
#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: bv2 export -m G_<step>.pth [-c config.json] -o OUT.pth|OUT.safetensors [--fp16]\n"
            "\n"
            "Writes the generator's inference weights: everything `bv2 infer` and upstream's infer.py read,\n"
            "without the posterior encoder (enc_q, used only in training) and without optimizer state -\n"
            "about a quarter of a training checkpoint's size (an eighth with --fp16). A .pth output is a\n"
            "torch.save file that upstream's utils.load_checkpoint reads ({'model', 'iteration',\n"
            "'optimizer': None, 'learning_rate'}); a .safetensors output holds the same state dict keys.\n"
            "Training cannot resume from an export (enc_q and the Adam moments are gone).\n"
            "\n"
            "  -m, --model PATH    G_*.pth (ours or upstream's) or an earlier export\n"
            "  -c, --config PATH   the model's config.json (default: config.json beside the model)\n"
            "  -o, --output PATH   the export; .safetensors selects that format, anything else .pth\n"
            "  --fp16              store float16 (as compress_model.py --half); bv2 infer converts back\n"
            "  -h, --help          this text\n"
            "\n"
            "exit status: 0 ok, %d bad command line, %d bad input (missing or mismatched model/config,\n"
            "unwritable output).\n",
            BV_EXIT_USAGE, BV_EXIT_INPUT);
}

static double file_mb(const char *path) {
    struct stat st;
    return stat(path, &st) ? 0 : (double)st.st_size / (1024.0 * 1024.0);
}

int bv_cli_export(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {"config", required_argument, 0, 'c'},
                                         {"output", required_argument, 0, 'o'}, {"fp16", no_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *model = NULL, *config = NULL, *output = NULL;
    int fp16 = 0;
    opterr = 0;
    optind = 0;
    for (int c; (c = getopt_long(argc, argv, "m:c:o:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'c': config = optarg; break;
        case 'o': output = optarg; break;
        case 'f': fp16 = 1; break;
        case 'h': usage(stdout); return 0;
        case ':': fprintf(stderr, "error: %s needs a value (see bv2 export --help)\n", argv[optind - 1]); return BV_EXIT_USAGE;
        default: fprintf(stderr, "error: unknown option '%s' (see bv2 export --help)\n", argv[optind - 1]); return BV_EXIT_USAGE;
        }
    }
    if (optind < argc) return fprintf(stderr, "error: unexpected argument '%s'\n", argv[optind]), BV_EXIT_USAGE;
    if (!model || !output) {
        fprintf(stderr, "error: give -m G_<step>.pth and -o OUT.pth|OUT.safetensors (see bv2 export --help)\n");
        return BV_EXIT_USAGE;
    }
    char cfg_path[4096], err[1024];
    const char *slash = strrchr(model, '/');
    if (config) snprintf(cfg_path, sizeof cfg_path, "%s", config);
    else if (slash) snprintf(cfg_path, sizeof cfg_path, "%.*s/config.json", (int)(slash - model), model);
    else snprintf(cfg_path, sizeof cfg_path, "config.json");
    if (!config && access(cfg_path, R_OK)) {
        fprintf(stderr, "error: no config: %s does not exist; give -c config.json\n", cfg_path);
        return BV_EXIT_INPUT;
    }
    bv_infer_model m;
    if (bv_infer_model_load(&m, model, cfg_path, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return BV_EXIT_INPUT;
    }
    int rc = 0;
    if (bv_infer_model_save(&m, output, fp16, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        rc = BV_EXIT_INPUT;
    } else {
        printf("%s: %d tensors, %.2f M parameters, %s, %.1f MB (from %s, %.1f MB: %d enc_q tensors and the optimizer "
               "state dropped)\n",
               output, m.ps.n, (double)bv_params_numel(&m.ps) / 1e6, fp16 ? "fp16" : "fp32", file_mb(output), model,
               file_mb(model), m.n_skipped);
    }
    bv_infer_model_free(&m);
    return rc;
}
