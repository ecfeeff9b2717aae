/* checkpoint.h - Bert-VITS2's training checkpoints G_/D_/DUR_/WD_<step>.pth: utils.save_checkpoint,
 * utils.load_checkpoint, latest_checkpoint_path, get_steps, clean_checkpoints, and the resume block
 * of train_ms.run() on top of them.
 *
 * A file holds what upstream's torch.save writes:
 *   {'model': OrderedDict(state_dict, upstream key order, with torch's _metadata),
 *    'iteration': epoch (int),
 *    'optimizer': AdamW.state_dict() in torch 1.13's layout:
 *        {'state': {i: {'step': float32 scalar tensor, 'exp_avg': ..., 'exp_avg_sq': ...}},
 *         'param_groups': [{'lr', 'betas', 'eps', 'weight_decay', 'amsgrad', 'foreach', 'maximize',
 *                           'capturable', 'initial_lr', 'params': [0 .. n-1]}]},
 *    'learning_rate': train.learning_rate (the CONFIG value, not the decayed lr - as upstream)}
 * Optimizer ids count only trainable parameters, as optim_g is built from
 * filter(lambda p: p.requires_grad, net_g.parameters()) (train.freeze_*_bert leaves gaps), and
 * 'state' holds only parameters that have been stepped. Files are written to "<path>.tmp" and
 * renamed (pth.h), so a kill at any moment leaves the previous checkpoints intact.
 *
 * Loading follows utils.load_checkpoint: every model key is taken from the file when present with
 * the same shape; a missing key or a shape mismatch (e.g. emb_g of a base model trained on another
 * number of speakers) keeps the fresh weights and is logged (ja_bert_proj.* become zeros instead,
 * upstream's upgrade path for pre-2.0 models); keys the model does not have are ignored. The
 * optimizer state is read unless skip_optimizer (or the file's optimizer is None).
 *
 *   char err[512];
 *   if (bv_ckpt_save_all(&st, model_dir, global_step, epoch, err, sizeof err)) ...
 *   bv_resume_info ri;
 *   if (bv_ckpt_resume(&st, model_dir, cfg.train.skip_optimizer, log, &ri, err, sizeof err)) ...
 *   ... ri.epoch_str, ri.global_step; the four schedulers are started ...
 *
 * Errors (unreadable, truncated or corrupt files, a checkpoint that is not a Bert-VITS2 training
 * checkpoint, optimizer state that does not fit the network) return -1 with a message naming the
 * file and what is wrong; nothing exits.
 */
#ifndef BV_TRAIN_CHECKPOINT_H
#define BV_TRAIN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "../core/params.h"
#include "optim.h"

struct bv_logger;          /* log.h */
struct bv_train_state;     /* train_step.h */

/* The four networks of a training run, in the order train_ms saves them. */
typedef enum { BV_NET_G = 0, BV_NET_D, BV_NET_WD, BV_NET_DUR, BV_NET_COUNT } bv_net_kind;

/* "G", "D", "WD", "DUR": file name prefixes (<prefix>_<step>.pth). */
const char *bv_ckpt_prefix(bv_net_kind k);

/* "<dir>/<prefix>_<step>.pth" into buf; -1 if it does not fit. */
int bv_ckpt_path(char *buf, size_t cap, const char *dir, bv_net_kind k, int64_t step);

/* utils.get_steps: the last run of digits in path as a number; -1 when there is none. */
int64_t bv_ckpt_get_steps(const char *path);

/* utils.latest_checkpoint_path(dir, "<prefix>_*.pth") by step number: the largest <step> among
 * files named exactly <prefix>_<digits>.pth (so "D" never picks DUR_ files, and "*.pth.tmp" left
 * by a kill never counts). -1 when there is none (or dir cannot be read). */
int64_t bv_ckpt_latest_step(const char *dir, bv_net_kind k);

/* Steps of every <prefix>_<digits>.pth in dir, ascending, into a malloc'ed array (*steps; free()).
 * Returns the count (0 with *steps NULL when none), -1 if dir cannot be read. */
int bv_ckpt_list_steps(const char *dir, bv_net_kind k, int64_t **steps);

/* utils.clean_checkpoints(dir, n_ckpts_to_keep=keep): for each of G_, D_, WD_ and DUR_ delete all
 * but the `keep` newest (by step) checkpoints, never a *_0.pth. keep <= 0 keeps everything. Each
 * deletion is logged (lg may be NULL). Returns the number of files deleted, -1 on an error (err). */
int bv_ckpt_clean(const char *dir, int keep, struct bv_logger *lg, char *err, size_t errcap);

/* Deletes "<prefix>_<digits>.pth.tmp" files a killed run left in dir (they are never read; this
 * only frees the space). Returns how many were removed. */
#define BV_CKPT_MAX_ITERATION 1000000000000LL /* epochs: far beyond any run */
int bv_ckpt_remove_stale_tmp(const char *dir, struct bv_logger *lg);

/* ---- one network ---- */

/* utils.save_checkpoint(model, optimizer, learning_rate, iteration, path) for the store `ps` and its
 * optimizer (opt may be NULL: 'optimizer' is None). trainable[i] == 0 marks a parameter that is not
 * in the optimizer (frozen; NULL: all are). */
int bv_ckpt_save(const char *path, const bv_params *ps, const bv_adamw *opt, const uint8_t *trainable,
                 double learning_rate, int64_t iteration, char *err, size_t errcap);

/* What a load found. */
typedef struct bv_ckpt_info {
    int64_t iteration;          /* checkpoint_dict['iteration'] */
    double learning_rate;       /* checkpoint_dict['learning_rate'] */
    int optimizer_loaded;       /* the optimizer state was read (not skipped, not None) */
    int n_loaded;               /* model tensors taken from the file */
    int n_kept;                 /* model tensors missing or mis-shaped in the file: fresh values kept */
    int n_zeroed;               /* ja_bert_proj.* set to zeros (upstream's old-model path) */
    int n_unused;               /* tensors in the file the model does not have */
} bv_ckpt_info;

/* utils.load_checkpoint(path, model, optimizer, skip_optimizer). Warnings go to lg (may be NULL).
 * On error (-1) the store and optimizer may be partly filled: callers stop. */
int bv_ckpt_load(const char *path, bv_params *ps, bv_adamw *opt, const uint8_t *trainable, int skip_optimizer,
                 struct bv_logger *lg, bv_ckpt_info *info, char *err, size_t errcap);

/* ---- a training run's set ---- */

/* The stores of net_g, net_d, net_wd and net_dur_disc (NULL without a duration discriminator) and
 * their optimizers / trainable flags, in bv_net_kind order. */
bv_params *bv_ckpt_net_params(struct bv_train_state *st, bv_net_kind k);
bv_adamw *bv_ckpt_net_optim(struct bv_train_state *st, bv_net_kind k);
const uint8_t *bv_ckpt_net_trainable(const struct bv_train_state *st, bv_net_kind k);

/* train_and_evaluate's save block: G_, D_, WD_ and (with a duration discriminator) DUR_<step>.pth
 * with iteration = epoch and learning_rate = train.learning_rate. G is written LAST, so a G_<step>
 * on disk means its whole set is (the others of a set cut short by a kill are overwritten at the
 * next save of that step). */
int bv_ckpt_save_all(const struct bv_train_state *st, const char *dir, int64_t step, int64_t epoch, char *err,
                     size_t errcap);

typedef struct bv_resume_info {
    int64_t epoch_str;          /* first epoch to run */
    int64_t global_step;        /* first step number to run */
    int64_t step[BV_NET_COUNT]; /* step of the file each net was loaded from, -1 = fresh */
    double learning_rate[BV_NET_COUNT]; /* that file's 'learning_rate' (the *_resume_lr), NAN if fresh */
} bv_resume_info;

/* train_ms.run()'s resume block, then its four ExponentialLR(last_epoch = epoch_str - 2):
 *  - DUR_, G_ + D_, WD_ from their latest checkpoints in dir (D_, WD_, DUR_ from G's step when that
 *    file exists, else their own latest: a set cut short by a kill is never mixed in);
 *  - optimizers loaded unless skip_optimizer; a resumed optimizer without initial_lr gets the file's
 *    learning_rate;
 *  - epoch_str = max(G's iteration, 1), then WD's iteration when WD_ was loaded (upstream assigns it
 *    last and without the max); global_step = get_steps(G's path); both 1 and 0 without G_.
 * A missing file means a fresh network (as upstream's try/except); an unreadable one is an error.
 * Upstream restarts at epoch 1, step 0 when G_ exists but D_ does not; we keep G's step and warn. */
int bv_ckpt_resume(struct bv_train_state *st, const char *dir, int skip_optimizer, struct bv_logger *lg,
                   bv_resume_info *ri, char *err, size_t errcap);

#endif
