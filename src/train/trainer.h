/* trainer.h - train_ms.py's run() and train_and_evaluate() (Bert-VITS2 2.3): the whole training
 * system behind `bv2 train`.
 *
 *   run:   config.json (+ config.yml's train_ms section) -> model dir, train.log, TensorBoard writers
 *          in model_dir and model_dir/eval -> seed -> datasets, DistributedBucketSampler, loader ->
 *          SynthesizerTrn, MultiPeriodDiscriminator, DurationDiscriminator, WavLMDiscriminator,
 *          WavLM, four AdamW -> base model (copied in when the model dir has no G_*.pth) -> resume
 *          from the latest checkpoints (checkpoint.h) -> ExponentialLR(last_epoch = epoch_str - 2)
 *          -> for epoch in [epoch_str, train.epochs]: train_and_evaluate, schedulers step.
 *   train_and_evaluate: sampler.set_epoch(epoch); per batch: the step (train_step.h) at global_step;
 *          every log_interval steps the train.log lines and TensorBoard scalars / images with
 *          upstream's tags; every eval_interval steps evaluate() (validation synthesis with
 *          sdp_ratio 1 and 0, images and audio into model_dir/eval) and G_/D_/WD_/DUR_<step>.pth,
 *          then keep_ckpts pruning; global_step += 1.
 *
 * bv2 additions: a NaN/Inf loss or gradient stops the run with an error naming the step (no
 * checkpoint of that state is ever written); SIGINT/SIGTERM finish the current step, save it and
 * exit 0; --max-steps / --max-minutes bound a run the same way; a progress display with step rate,
 * ETA and the main losses; the fraction of step time spent waiting for data is logged at the end.
 *
 *   bv_train_opts o;
 *   bv_train_opts_default(&o);
 *   o.config_path = "configs/config.json"; o.model_dir = "Data/x/models";
 *   int code = bv_train_run(&o);      // a process exit code (BV_EXIT_*), messages already printed
 */
#ifndef BV_TRAIN_TRAINER_H
#define BV_TRAIN_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#define BV_EXIT_DIVERGED 4   /* a loss or gradient became NaN/Inf */

typedef enum {
    BV_DISC_WIDTHS_UPSTREAM = 0,   /* models.MultiPeriodDiscriminator as upstream hard-codes it (~46.7 M params) */
    BV_DISC_WIDTHS_SMALL,          /* the reduced widths of the golden data (fast CPU demos and tests) */
} bv_disc_widths_choice;

typedef struct bv_train_opts {
    const char *config_path;      /* -c; NULL: config.yml's train_ms.config_path (under dataset_path) */
    const char *model_dir;        /* -m: the model folder; with a config.yml, the dataset folder that
                                     train_ms.model is joined to (NULL: config.yml's dataset_path) */
    const char *yml_path;         /* -y: upstream's config.yml; NULL: none */
    const char *base_model;       /* folder with G_0/D_0/DUR_0/WD_0.pth (overrides config.yml) */
    int64_t max_steps;            /* > 0: stop (and save) after this many steps of this run */
    double max_minutes;           /* > 0: stop (and save) after the step that passes this wall time */
    int num_workers;              /* < 0: config.yml's train_ms.num_workers, else 2; capped at cores - 1 */
    int spec_cache;               /* < 0: config.yml's train_ms.spec_cache, else off */
    int keep_ckpts;               /* < 0: config.yml's, else train.keep_ckpts of config.json (8) */
    bv_disc_widths_choice disc_widths; /* for a new run; a resumed D_*.pth decides by its shapes */
    int progress;                 /* 0 auto, 1 terminal bar, 2 plain lines, 3 none */
} bv_train_opts;

void bv_train_opts_default(bv_train_opts *o);

/* Runs training; returns 0 when the epochs are done or a bound/signal stopped the run after saving,
 * BV_EXIT_INPUT for bad configs, datasets, checkpoints or an unusable model dir (the message names
 * the file and the line or key), BV_EXIT_DIVERGED for a non-finite loss. */
int bv_train_run(const bv_train_opts *o);

#endif
