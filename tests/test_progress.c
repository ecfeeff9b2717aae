/* test_progress.c - the progress display (src/train/progress.c) and train.log (src/train/log.c).
 *
 * Progress: plain lines (every update with interval 0, only the first and the final line with a
 * long interval), unknown totals, and the terminal bar's control sequences, all written to a
 * temporary FILE*. Log: upstream's line format "<asctime>\t<name>\t<LEVEL>\t<message>", append on
 * reopen, the stderr echo, an unwritable folder naming the path, and Python's float repr.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/train/log.h"
#include "../src/train/progress.h"
#include "test.h"

/* Everything written to f, NUL-terminated (caller frees). */
static char *contents(FILE *f) {
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)(n > 0 ? n : 0) + 1, 1);
    if (n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = '\0';
    return s;
}

static int count_char(const char *s, char c) {
    int k = 0;
    for (; *s; s++) k += *s == c;
    return k;
}

/* the i-th line (0-based) into buf */
static const char *line_at(const char *s, int i, char *buf, size_t cap) {
    for (; i > 0 && s; i--) {
        s = strchr(s, '\n');
        if (s) s++;
    }
    buf[0] = '\0';
    if (!s) return buf;
    size_t n = strcspn(s, "\n");
    snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
    return buf;
}

BV_TEST(progress_plain_lines_every_update) {
    FILE *f = tmpfile();
    BV_CHECK(f != NULL, "tmpfile");
    if (!f) return;
    bv_progress_opts o = {f, BV_PROGRESS_PLAIN, 0, 0};
    bv_progress *p = bv_progress_start_opts(10, "epoch 1", &o);
    for (int i = 1; i <= 3; i++) bv_progress_update(p, i, "g=%.2f mel=%.1f", (double)i, 20.0 + i);
    bv_progress_finish(p);
    char *s = contents(f), l[512];
    BV_CHECK(count_char(s, '\n') == 4 && !strchr(s, '\r') && !strchr(s, '\033'), "4 plain lines:\n%s", s);
    line_at(s, 0, l, sizeof l);
    BV_CHECK(!strncmp(l, "epoch 1: 1/10 (10%) ", 20) && strstr(l, " it/s, elapsed 00:00, eta ") &&
                 strstr(l, " | g=1.00 mel=21.0"),
             "line 1: %s", l);
    line_at(s, 2, l, sizeof l);
    BV_CHECK(!strncmp(l, "epoch 1: 3/10 (30%) ", 20) && strstr(l, "| g=3.00 mel=23.0"), "line 3: %s", l);
    line_at(s, 3, l, sizeof l);
    BV_CHECK(!strncmp(l, "epoch 1: done 3/10 (30%) in 00:00, ", 35) && strstr(l, "it/s | g=3.00 mel=23.0"),
             "final: %s", l);
    free(s);
    fclose(f);
}

BV_TEST(progress_plain_lines_respect_interval) {
    FILE *f = tmpfile();
    if (!f) return;
    bv_progress_opts o = {f, BV_PROGRESS_PLAIN, 3600, 100}; /* resumed at 100 */
    bv_progress *p = bv_progress_start_opts(200, "train", &o);
    for (int i = 101; i <= 150; i++) bv_progress_update(p, i, NULL);
    bv_progress_finish(p);
    char *s = contents(f), l[512];
    BV_CHECK(count_char(s, '\n') == 2, "first update and the final line only:\n%s", s);
    line_at(s, 0, l, sizeof l);
    BV_CHECK(!strncmp(l, "train: 101/200 (50%) ", 21) && !strchr(l, '|'), "first: %s", l);
    line_at(s, 1, l, sizeof l);
    BV_CHECK(!strncmp(l, "train: done 150/200 (75%) in ", 29), "final: %s", l);
    free(s);

    /* unknown total: a count, no percentage, no ETA */
    rewind(f);
    if (ftruncate(fileno(f), 0) != 0) BV_CHECK(0, "ftruncate");
    bv_progress_opts o2 = {f, BV_PROGRESS_PLAIN, 0, 0};
    p = bv_progress_start_opts(0, "scan", &o2);
    bv_progress_update(p, 7, "n=%d", 7);
    bv_progress_finish(p);
    s = contents(f);
    line_at(s, 0, l, sizeof l);
    BV_CHECK(!strncmp(l, "scan: 7 ", 8) && !strchr(l, '%') && strstr(l, "eta ?") && strstr(l, "| n=7"), "unknown total: %s",
             l);
    free(s);
    fclose(f);
}

BV_TEST(progress_tty_bar_and_hide_show) {
    FILE *f = tmpfile();
    if (!f) return;
    bv_progress_opts o = {f, BV_PROGRESS_TTY, 0, 0};
    bv_progress *p = bv_progress_start_opts(4, "eval", &o);
    bv_progress_update(p, 1, "loss=%.1f", 1.5);
    bv_progress_hide();
    fputs("a log line\n", f);
    bv_progress_show();
    bv_progress_update(p, 4, "loss=%.1f", 0.5); /* the last item always draws */
    bv_progress_finish(p);
    char *s = contents(f);
    BV_CHECK(!strncmp(s, "\reval  25%|", 11) && strstr(s, "| 1/4 [00:00<") && strstr(s, "loss=1.5\033[K"),
             "first draw: %s", s);
    BV_CHECK(strstr(s, "\r\033[Ka log line\n\reval  25%|") != NULL, "hide clears, show redraws: %s", s);
    BV_CHECK(strstr(s, "eval 100%|") && strstr(s, "| 4/4 [") && strstr(s, "loss=0.5"), "full bar: %s", s);
    size_t n = strlen(s);
    BV_CHECK(n > 0 && s[n - 1] == '\n' && count_char(s, '\n') == 2, "finish ends the line: %s", s);
    /* hide/show with no live bar print nothing */
    long before = ftell(f);
    bv_progress_hide();
    bv_progress_show();
    BV_CHECK(ftell(f) == before, "no bar, no output");
    free(s);
    fclose(f);
}

/* ------------------------------------------------------------------------------------------ */
/* train.log                                                                                   */

/* "YYYY-MM-DD HH:MM:SS,mmm" */
static int is_asctime(const char *s) {
    static const char *pat = "dddd-dd-dd dd:dd:dd,ddd";
    for (int i = 0; pat[i]; i++)
        if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i]) return 0;
    return 1;
}

BV_TEST(log_lines_match_upstream_format) {
    char dir[] = "/tmp/bv_log_XXXXXX", model[600], path[700], err[512], l[512];
    BV_CHECK(mkdtemp(dir), "mkdtemp");
    snprintf(model, sizeof model, "%s/logs/mymodel/", dir); /* created; trailing slash ignored for the name */
    FILE *echo = tmpfile();
    bv_logger *lg = bv_logger_open(model, NULL, err, sizeof err);
    BV_CHECK(lg != NULL, "open: %s", err);
    if (!lg || !echo) return;
    bv_logger_set_echo(lg, echo);
    bv_logger_info(lg, "Train Epoch: %d [%.0f%%]", 1, 0.0);
    bv_logger_warning(lg, "kept fresh weights for %s", "emb_g.weight");
    snprintf(path, sizeof path, "%s", bv_logger_path(lg));
    bv_logger_close(lg);
    lg = bv_logger_open(model, NULL, err, sizeof err); /* a resumed run appends */
    bv_logger_set_echo(lg, NULL);
    bv_logger_error(lg, "loss is nan at step %d", 7);
    bv_logger_debug(lg, "x");
    bv_logger_close(lg);

    BV_CHECK(strstr(path, "/logs/mymodel/") && strstr(path, "train.log"), "path %s", path);
    FILE *f = fopen(path, "r");
    BV_CHECK(f != NULL, "%s exists", path);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    char *s = contents(f);
    fclose(f);
    BV_CHECK(count_char(s, '\n') == 4, "4 lines:\n%s", s);
    static const char *want[] = {"\tmymodel\tINFO\tTrain Epoch: 1 [0%]",
                                 "\tmymodel\tWARNING\tkept fresh weights for emb_g.weight",
                                 "\tmymodel\tERROR\tloss is nan at step 7", "\tmymodel\tDEBUG\tx"};
    for (int i = 0; i < 4; i++) {
        line_at(s, i, l, sizeof l);
        BV_CHECK(strlen(l) == 23 + strlen(want[i]) && is_asctime(l) && !strcmp(l + 23, want[i]), "line %d: %s", i, l);
    }
    free(s);
    s = contents(echo);
    BV_CHECK(count_char(s, '\n') == 2 && strstr(s, "\tmymodel\tINFO\tTrain Epoch: 1 [0%]\n"), "echo:\n%s", s);
    free(s);
    fclose(echo);
    unlink(path);
    snprintf(path, sizeof path, "%s/logs/mymodel", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/logs", dir);
    rmdir(path);
    rmdir(dir);
}

BV_TEST(log_open_errors_name_the_path) {
    char dir[] = "/tmp/bv_log_XXXXXX", file[600], model[700], err[512];
    BV_CHECK(mkdtemp(dir), "mkdtemp");
    snprintf(file, sizeof file, "%s/afile", dir);
    FILE *f = fopen(file, "w");
    if (f) fclose(f);
    snprintf(model, sizeof model, "%s/model", file);
    err[0] = '\0';
    BV_CHECK(bv_logger_open(model, NULL, err, sizeof err) == NULL && strstr(err, model), "model dir under a file: %s",
             err);
    /* train.log itself is a folder */
    char sub[800];
    snprintf(model, sizeof model, "%s/m2", dir);
    snprintf(sub, sizeof sub, "%s/train.log", model);
    BV_CHECK(mkdir(model, 0700) == 0 && mkdir(sub, 0700) == 0, "mkdir %s", sub);
    BV_CHECK(bv_logger_open(model, NULL, err, sizeof err) == NULL && strstr(err, "train.log"), "train.log a folder: %s",
             err);
    rmdir(sub);
    rmdir(model);
    unlink(file);
    rmdir(dir);
}
