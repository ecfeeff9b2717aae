/* train.c - `bv2 train`: train_ms.py's command line (-c config.json -m model_dir, -y config.yml)
 * plus bv2's options, parsed into bv_train_opts for the trainer (src/train/trainer.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../train/trainer.h"
#include "cli.h"

#define bad_usage(...) bv_cli_usage_error("train", __VA_ARGS__)

static void usage(FILE *f) {
    fprintf(f,
        "usage: bv2 train -c <config.json> -m <model_dir> [options]\n"
        "\n"
        "Trains Bert-VITS2 (v2.3) as upstream's train_ms.py does: SynthesizerTrn with the multi-period,\n"
        "duration and WavLM discriminators, AdamW + ExponentialLR, on the filelists, wavs and *.bert.pt\n"
        "files the config names. Resumes from the newest G_/D_/DUR_/WD_<step>.pth in the model folder\n"
        "(written by bv2 or by upstream); a folder without them starts a new run (or from the base model).\n"
        "\n"
        "upstream options:\n"
        "  -c, --config PATH        config.json (train.*, data.*, model.* as upstream's configs/config.json).\n"
        "                           Default with -y: config.yml's train_ms.config_path under dataset_path.\n"
        "  -m, --model DIR          the model folder: checkpoints, train.log, config.json, TensorBoard events\n"
        "                           (DIR and DIR/eval). With -y, DIR is the dataset folder and the model\n"
        "                           folder is DIR/<train_ms.model>, as train_ms.py joins them (default DIR:\n"
        "                           config.yml's dataset_path).\n"
        "  -y, --yml_config PATH    upstream's config.yml; bv2 reads dataset_path and train_ms.{model,\n"
        "                           config_path, num_workers, spec_cache, keep_ckpts, base.use_base_model}.\n"
        "                           Not read unless given.\n"
        "\n"
        "bv2 options (defaults in brackets):\n"
        "  --base-model DIR         start a NEW run (model folder without G_*.pth) from DIR's G_0.pth, D_0.pth,\n"
        "                           DUR_0.pth, WD_0.pth (copied into the model folder; tensors whose shape\n"
        "                           differs, e.g. emb_g for another speaker count, keep fresh weights with a\n"
        "                           warning). Overrides train_ms.base.use_base_model, which bv2 takes as such a\n"
        "                           folder (it downloads nothing). [none]\n"
        "  --max-steps N            stop after N steps of this run, save the last step and exit 0. [none]\n"
        "  --max-minutes M          stop after the step that passes M minutes of wall time, save, exit 0. [none]\n"
        "  --num-workers N          data loading threads, capped at cores - 1. [train_ms.num_workers, else 2]\n"
        "  --spec-cache             save computed spectrograms as <wav>.spec.pt for later runs.\n"
        "  --no-spec-cache          do not. [train_ms.spec_cache, else off]\n"
        "  --keep-ckpts N           keep the N newest checkpoints of each network (never *_0.pth); 0 keeps\n"
        "                           all. [train_ms.keep_ckpts, else train.keep_ckpts of config.json, else 8]\n"
        "  --disc-widths W          multi-period discriminator widths for a new run: 'upstream' (upstream's\n"
        "                           hard-coded 1024-channel layers, ~46.7 M parameters) or 'small' (the\n"
        "                           reduced widths of the golden test data; fast CPU demos). A resumed\n"
        "                           D_*.pth decides by its own shapes. [upstream]\n"
        "  --progress MODE          auto, bar, plain (a line every 10 s) or none. [auto: a bar on a terminal]\n"
        "  -h, --help               this text.\n"
        "\n"
        "What it writes, as train_ms.py: every train.log_interval steps two train.log lines and TensorBoard\n"
        "scalars (loss/g/total, loss/d/total, loss/wd/total, learning_rate, grad_norm_*, loss/g/*, loss/d_r/*,\n"
        "loss/d_g/*, loss/dur_disc*) and images (slice/mel_org, slice/mel_gen, all/mel, all/attn); every\n"
        "train.eval_interval steps (step 0 included) an evaluation of the validation filelist with sdp_ratio 1\n"
        "and 0 (TensorBoard gen/mel_<i>, gt/mel_<i>, gen/audio_<i>_<True|False>, gt/audio_<i> in DIR/eval; the\n"
        "latest synthesis also as DIR/eval/<i>_sdp.wav and <i>_nosdp.wav) and G_/D_/WD_/DUR_<step>.pth, then\n"
        "pruning to --keep-ckpts. Checkpoints are written to a temporary name and renamed: a kill at any\n"
        "moment leaves the previous ones intact. bv2 also saves the last step when the run ends or stops.\n"
        "\n"
        "Ctrl-C (SIGINT) or SIGTERM: the current step is finished and saved, then bv2 exits 0 (\"interrupted,\n"
        "saved step N\"); a second one quits at once. A NaN/Inf loss or gradient stops training with an error\n"
        "naming the step; that state is never saved. Resuming repeats the epoch from its first batch and the\n"
        "saved step's number, as upstream (epoch_str = iteration, global_step = the G_ file's step).\n"
        "\n"
        "Started by mpirun (mpirun -np N bv2 train ...): data-parallel as upstream's DDP - rank r trains on its\n"
        "DistributedBucketSampler shard, gradients are averaged across ranks, rank 0 alone writes the model\n"
        "folder; every rank needs the dataset, config and WavLM (README \"Data-parallel training\").\n"
        "\n"
        "exit status: 0 done or stopped after saving; 2 bad command line; 3 bad config, dataset, checkpoint\n"
        "or model folder (the message names the file and the line or key); 4 non-finite loss or gradient\n"
        "(or, under mpirun, parameters out of sync across ranks).\n");
}

int bv_cli_train(int argc, char **argv) {
    bv_train_opts o;
    bv_train_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int missing = 0;
        long long n;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, BV_CLI_NAMES("--config", "-c"), &missing))) {
            o.config_path = v;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, BV_CLI_NAMES("--model", "-m"), &missing))) {
            o.model_dir = v;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, BV_CLI_NAMES("--yml_config", "-y"), &missing))) {
            o.yml_path = v;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, BV_CLI_NAMES("--base-model"), &missing))) {
            o.base_model = v;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, BV_CLI_NAMES("--max-steps"), &missing))) {
            if (bv_cli_parse_int(v, 1, LLONG_MAX, &n)) return bad_usage("--max-steps needs a positive integer, got '%s'", v);
            o.max_steps = n;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, BV_CLI_NAMES("--max-minutes"), &missing))) {
            char *end;
            o.max_minutes = strtod(v, &end);
            if (end == v || *end || !(o.max_minutes > 0))
                return bad_usage("--max-minutes needs a positive number, got '%s'", v);
        } else if ((v = bv_cli_opt_value(argc, argv, &i, BV_CLI_NAMES("--num-workers"), &missing))) {
            if (bv_cli_parse_int(v, 0, 1024, &n)) return bad_usage("--num-workers needs an integer >= 0, got '%s'", v);
            o.num_workers = (int)n;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, BV_CLI_NAMES("--keep-ckpts"), &missing))) {
            if (bv_cli_parse_int(v, 0, 1000000, &n)) return bad_usage("--keep-ckpts needs an integer >= 0, got '%s'", v);
            o.keep_ckpts = (int)n;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, BV_CLI_NAMES("--disc-widths"), &missing))) {
            if (!strcmp(v, "upstream")) o.disc_widths = BV_DISC_WIDTHS_UPSTREAM;
            else if (!strcmp(v, "small")) o.disc_widths = BV_DISC_WIDTHS_SMALL;
            else return bad_usage("--disc-widths is 'upstream' or 'small', got '%s'", v);
        } else if ((v = bv_cli_opt_value(argc, argv, &i, BV_CLI_NAMES("--progress"), &missing))) {
            if ((o.progress = bv_cli_progress_mode(v)) < 0)
                return bad_usage("--progress is auto, bar, plain or none, got '%s'", v);
        } else if (!strcmp(a, "--spec-cache")) {
            o.spec_cache = 1;
        } else if (!strcmp(a, "--no-spec-cache")) {
            o.spec_cache = 0;
        } else if (missing) {
            return bad_usage("%s needs a value", a);
        } else {
            return bad_usage("unknown option '%s'", a);
        }
        if (missing) return bad_usage("%s needs a value", a);
    }
    if (!o.config_path && !o.yml_path) return bad_usage("%s", "-c <config.json> is required");
    if (!o.model_dir && !o.yml_path) return bad_usage("%s", "-m <model_dir> is required");
    return bv_train_run(&o);
}
