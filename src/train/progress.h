/* progress.h - progress display for long work (training epochs, evaluation, preprocessing), in the
 * spirit of the tqdm bar train_ms.py shows.
 *
 * On a terminal: one line redrawn in place (at most every 0.1 s), e.g.
 *   epoch 3  42%|########----------| 420/1000 [01:10<01:37, 5.97it/s] g=32.1 d=2.71 mel=21.4
 * Not on a terminal (a log file, CI): a plain line every interval_s seconds (default 10), e.g.
 *   epoch 3: 420/1000 (42%) 5.97 it/s, elapsed 01:10, eta 01:37 | g=32.1 d=2.71 mel=21.4
 * The rate is an exponential moving average over updates (tqdm's smoothing 0.3); with it
 * below 1 it/s the rate shows as s/it. total <= 0 means unknown: no bar, no percentage, no ETA.
 *
 *   bv_progress *p = bv_progress_start(len, "epoch 3");
 *   for (...) { ...; bv_progress_update(p, i + 1, "g=%.3g d=%.3g", loss_g, loss_d); }
 *   bv_progress_finish(p);
 *
 * Other output while a bar is drawn (the logger does this) goes between bv_progress_hide() and
 * bv_progress_show(), which clear and redraw the bar; the pair also serialises writers across
 * threads. Only one terminal bar is live at a time (the latest started).
 */
#ifndef BV_TRAIN_PROGRESS_H
#define BV_TRAIN_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef enum {
    BV_PROGRESS_AUTO,   /* a bar if `out` is a terminal, plain lines otherwise */
    BV_PROGRESS_TTY,
    BV_PROGRESS_PLAIN,
} bv_progress_mode;

typedef struct bv_progress_opts {
    FILE *out;              /* NULL: stderr */
    bv_progress_mode mode;
    double interval_s;      /* plain mode: seconds between lines; <= 0 prints every update */
    int64_t initial;        /* count already done at start (a resumed run): the rate counts from it */
} bv_progress_opts;

typedef struct bv_progress bv_progress;

/* Defaults: stderr, AUTO, 10 s, initial 0. Never NULL (aborts only if out of memory). */
bv_progress *bv_progress_start(int64_t total, const char *label);
bv_progress *bv_progress_start_opts(int64_t total, const char *label, const bv_progress_opts *opts);

/* `done` items finished so far; fmt (printf, may be NULL) the named values shown after the bar. */
void bv_progress_update(bv_progress *p, int64_t done, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Draws the final state (a last plain line, or the bar and a newline) and frees p; NULL is fine. */
void bv_progress_finish(bv_progress *p);

/* Clear the live terminal bar so other lines can be printed; always paired with show. */
void bv_progress_hide(void);
void bv_progress_show(void);

#endif
