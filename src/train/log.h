/* log.h - <model_dir>/train.log as upstream's utils.get_logger writes it, echoed to stderr.
 *
 * Upstream: logging.getLogger(os.path.basename(model_dir)) with a FileHandler (append mode) and
 * the formatter "%(asctime)s\t%(name)s\t%(levelname)s\t%(message)s", so every line reads
 *   2024-05-01 13:02:11,345<TAB>mymodel<TAB>INFO<TAB>Train Epoch: 1 [0%]
 * (asctime: local time, milliseconds after a comma). We write the same lines, flushed one by
 * one, and echo each to stderr (upstream prints nothing there; set_echo(NULL) matches it),
 * clearing and redrawing a live progress bar around it. Safe to call from several threads.
 *
 * upstream's "logger.info([x.item() for x in losses] + [global_step, lr])" prints a Python list:
 * src/io/pyrepr.h gives the same text for each float, so train.log reads as upstream's does.
 *
 *   char err[512];
 *   bv_logger *lg = bv_logger_open(model_dir, NULL, err, sizeof err);   // creates model_dir
 *   if (!lg) { fprintf(stderr, "error: %s\n", err); return BV_EXIT_INPUT; }
 *   bv_logger_info(lg, "====> Epoch: %d", epoch);
 *   bv_logger_close(lg);
 * A NULL logger is allowed: the line then only goes to stderr.
 */
#ifndef BV_TRAIN_LOG_H
#define BV_TRAIN_LOG_H

#include <stddef.h>
#include <stdio.h>

typedef enum { BV_LOG_DEBUG, BV_LOG_INFO, BV_LOG_WARNING, BV_LOG_ERROR } bv_logger_level;

typedef struct bv_logger bv_logger;

/* Opens <model_dir>/<filename> (filename NULL: "train.log") for appending, creating model_dir.
 * NULL with err filled (naming the path) on failure. */
bv_logger *bv_logger_open(const char *model_dir, const char *filename, char *err, size_t errcap);
void bv_logger_close(bv_logger *l);

/* Where lines are echoed (default stderr); NULL: the file only. */
void bv_logger_set_echo(bv_logger *l, FILE *echo);
/* Path of the log file. */
const char *bv_logger_path(const bv_logger *l);

void bv_logger_msg(bv_logger *l, bv_logger_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void bv_logger_debug(bv_logger *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bv_logger_info(bv_logger *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bv_logger_warning(bv_logger *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bv_logger_error(bv_logger *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
