/* log.c - train.log lines in upstream's logging format (see log.h), plus Python's float repr. */
#include "log.h"
#include "../io/fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/error.h"
#include "progress.h"

struct bv_logger {
    FILE *f;
    FILE *echo;
    char *path;
    char name[128];          /* the logger's name: basename(model_dir) */
    pthread_mutex_t mu;
};

static const char *level_name[] = {"DEBUG", "INFO", "WARNING", "ERROR"};


bv_logger *bv_logger_open(const char *model_dir, const char *filename, char *err, size_t errcap) {
    if (!model_dir || !model_dir[0]) return snprintf(err, errcap, "log: empty model folder name"), NULL;
    if (bv_mkdir_p(model_dir, err, errcap)) return NULL;
    if (!filename) filename = "train.log";
    size_t cap = strlen(model_dir) + strlen(filename) + 2;
    char *path = bv_xmalloc(cap);
    snprintf(path, cap, "%s/%s", model_dir, filename);
    FILE *f = fopen(path, "a"); /* FileHandler's default mode: a resumed run appends */
    if (!f) {
        snprintf(err, errcap, "%s: cannot open for writing: %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    bv_logger *l = bv_xcalloc(1, sizeof *l);
    l->f = f;
    l->echo = stderr;
    l->path = path;
    /* os.path.basename; trailing slashes are dropped first (Python would name the logger "root") */
    size_t n = strlen(model_dir);
    while (n > 1 && model_dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && model_dir[b - 1] != '/') b--;
    snprintf(l->name, sizeof l->name, "%.*s", (int)(n - b), model_dir + b);
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void bv_logger_close(bv_logger *l) {
    if (!l) return;
    fclose(l->f);
    pthread_mutex_destroy(&l->mu);
    free(l->path);
    free(l);
}

void bv_logger_set_echo(bv_logger *l, FILE *echo) {
    if (l) l->echo = echo;
}

const char *bv_logger_path(const bv_logger *l) { return l ? l->path : ""; }

/* logging's default asctime: "%Y-%m-%d %H:%M:%S" local time, then ",%03d" truncated milliseconds */
static void asctime_now(char buf[32]) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    time_t sec = ts.tv_sec;
    localtime_r(&sec, &tm);
    size_t k = strftime(buf, 24, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + k, 32 - k, ",%03d", (int)(ts.tv_nsec / 1000000));
}

static void vlog(bv_logger *l, bv_logger_level level, const char *fmt, va_list ap) {
    char msg[4096], when[32];
    vsnprintf(msg, sizeof msg, fmt, ap);
    asctime_now(when);
    const char *lv = level_name[level >= BV_LOG_DEBUG && level <= BV_LOG_ERROR ? level : BV_LOG_INFO];
    if (l) {
        pthread_mutex_lock(&l->mu);
        fprintf(l->f, "%s\t%s\t%s\t%s\n", when, l->name, lv, msg);
        fflush(l->f);
        pthread_mutex_unlock(&l->mu);
    }
    FILE *echo = l ? l->echo : stderr;
    if (echo) {
        bv_progress_hide();
        if (l)
            fprintf(echo, "%s\t%s\t%s\t%s\n", when, l->name, lv, msg);
        else
            fprintf(echo, "%s\t%s\t%s\n", when, lv, msg);
        fflush(echo);
        bv_progress_show();
    }
}

void bv_logger_msg(bv_logger *l, bv_logger_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(l, level, fmt, ap);
    va_end(ap);
}

#define LOG_AT(fn, level)                           \
    void fn(bv_logger *l, const char *fmt, ...) {      \
        va_list ap;                                 \
        va_start(ap, fmt);                          \
        vlog(l, level, fmt, ap);                    \
        va_end(ap);                                 \
    }
LOG_AT(bv_logger_debug, BV_LOG_DEBUG)
LOG_AT(bv_logger_info, BV_LOG_INFO)
LOG_AT(bv_logger_warning, BV_LOG_WARNING)
LOG_AT(bv_logger_error, BV_LOG_ERROR)
