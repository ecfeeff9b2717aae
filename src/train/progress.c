/* progress.c - terminal bar / plain progress lines (see progress.h). One mutex guards the live bar
 * so that log lines from any thread can be printed above it without tearing. */
#include "progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../core/error.h"

#define TTY_REFRESH_S 0.1
#define EMA_ALPHA 0.3 /* tqdm's default smoothing */
#define BAR_MIN 5
#define BAR_MAX 30

struct bv_progress {
    FILE *out;
    int tty;
    double interval_s;
    char label[96];
    int64_t total, initial, done;
    double t0, t_render;      /* start; last time drawn (tty) or printed (plain) */
    double t_sample;          /* time of the previous update, for the rate */
    int64_t d_sample;
    double rate;              /* items per second, smoothed; 0 until known */
    int rendered, shown;      /* drawn at least once; the bar is on screen now (tty) */
    char values[256];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bv_progress *active; /* the live terminal bar, if any */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* tqdm's clock: MM:SS, or H:MM:SS from an hour on */
static void fmt_time(char *buf, size_t cap, double s) {
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, cap, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%02ld:%02ld", t / 60, t % 60);
}

/* "5.97it/s" or "3.20s/it" (sep between the number and the unit) */
static void fmt_rate(char *buf, size_t cap, double rate, const char *sep) {
    if (rate <= 0)
        snprintf(buf, cap, "?%sit/s", sep);
    else if (rate >= 1)
        snprintf(buf, cap, "%.2f%sit/s", rate, sep);
    else
        snprintf(buf, cap, "%.2f%ss/it", 1.0 / rate, sep);
}

static double eta_s(const bv_progress *p, double rate) {
    if (p->total <= 0 || rate <= 0) return -1;
    return p->done >= p->total ? 0 : (double)(p->total - p->done) / rate;
}

static int term_cols(FILE *out) {
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
    return 80;
}

static void draw_tty(bv_progress *p, double t, double rate) {
    char el[32], eta[32], rt[32], line[800];
    fmt_time(el, sizeof el, t - p->t0);
    fmt_time(eta, sizeof eta, eta_s(p, rate));
    fmt_rate(rt, sizeof rt, rate, "");
    int cols = term_cols(p->out);
    if (p->total > 0) {
        double frac = p->done >= p->total ? 1.0 : p->done <= 0 ? 0.0 : (double)p->done / (double)p->total;
        char head[160], tail[420];
        snprintf(head, sizeof head, "%s %3d%%|", p->label, (int)(frac * 100));
        snprintf(tail, sizeof tail, "| %lld/%lld [%s<%s, %s] %s", (long long)p->done, (long long)p->total, el, eta,
                 rt, p->values);
        /* the bar takes what the numbers leave of the line, so the values stay visible */
        int bar_w = cols - 1 - (int)strlen(head) - (int)strlen(tail);
        bar_w = bar_w < BAR_MIN ? BAR_MIN : bar_w > BAR_MAX ? BAR_MAX : bar_w;
        char bar[BAR_MAX + 1];
        int fill = (int)(frac * bar_w);
        for (int i = 0; i < bar_w; i++) bar[i] = i < fill ? '#' : '-';
        bar[bar_w] = '\0';
        snprintf(line, sizeof line, "%s%s%s", head, bar, tail);
    } else {
        snprintf(line, sizeof line, "%s %lld [%s, %s] %s", p->label, (long long)p->done, el, rt, p->values);
    }
    /* never wrap: a wrapped line cannot be redrawn with \r */
    if ((int)strlen(line) > cols - 1) line[cols - 1] = '\0';
    fprintf(p->out, "\r%s\033[K", line);
    fflush(p->out);
    p->shown = p->rendered = 1;
    p->t_render = t;
}

static void print_plain(bv_progress *p, double t, double rate, int final) {
    char el[32], eta[32], rt[32], pos[96];
    fmt_time(el, sizeof el, t - p->t0);
    fmt_time(eta, sizeof eta, eta_s(p, rate));
    fmt_rate(rt, sizeof rt, rate, " ");
    if (p->total > 0)
        snprintf(pos, sizeof pos, "%lld/%lld (%d%%)", (long long)p->done, (long long)p->total,
                 (int)(100.0 * (double)(p->done < p->total ? p->done : p->total) / (double)p->total));
    else
        snprintf(pos, sizeof pos, "%lld", (long long)p->done);
    if (final)
        fprintf(p->out, "%s: done %s in %s, %s%s%s\n", p->label, pos, el, rt, p->values[0] ? " | " : "", p->values);
    else
        fprintf(p->out, "%s: %s %s, elapsed %s, eta %s%s%s\n", p->label, pos, rt, el, eta, p->values[0] ? " | " : "",
                p->values);
    fflush(p->out);
    p->rendered = 1;
    p->t_render = t;
}

bv_progress *bv_progress_start_opts(int64_t total, const char *label, const bv_progress_opts *opts) {
    bv_progress *p = bv_xcalloc(1, sizeof *p);
    p->out = opts && opts->out ? opts->out : stderr;
    bv_progress_mode mode = opts ? opts->mode : BV_PROGRESS_AUTO;
    p->tty = mode == BV_PROGRESS_TTY || (mode == BV_PROGRESS_AUTO && isatty(fileno(p->out)));
    p->interval_s = opts ? opts->interval_s : 10.0;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total;
    p->initial = p->done = p->d_sample = opts ? opts->initial : 0;
    p->t0 = p->t_sample = now_s();
    if (p->tty) {
        pthread_mutex_lock(&lock);
        active = p;
        pthread_mutex_unlock(&lock);
    }
    return p;
}

bv_progress *bv_progress_start(int64_t total, const char *label) {
    bv_progress_opts o = {NULL, BV_PROGRESS_AUTO, 10.0, 0};
    return bv_progress_start_opts(total, label, &o);
}

void bv_progress_update(bv_progress *p, int64_t done, const char *fmt, ...) {
    if (!p) return;
    double t = now_s();
    pthread_mutex_lock(&lock);
    if (t > p->t_sample && done > p->d_sample) {
        double inst = (double)(done - p->d_sample) / (t - p->t_sample);
        p->rate = p->rate > 0 ? EMA_ALPHA * inst + (1 - EMA_ALPHA) * p->rate : inst;
        p->t_sample = t;
        p->d_sample = done;
    }
    p->done = done;
    p->values[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->values, sizeof p->values, fmt, ap);
        va_end(ap);
    }
    if (p->tty) {
        int due = !p->rendered || !p->shown || t - p->t_render >= TTY_REFRESH_S || (p->total > 0 && done >= p->total);
        if (due && active == p) draw_tty(p, t, p->rate);
    } else if (!p->rendered || t - p->t_render >= p->interval_s) {
        print_plain(p, t, p->rate, 0);
    }
    pthread_mutex_unlock(&lock);
}

void bv_progress_finish(bv_progress *p) {
    if (!p) return;
    double t = now_s();
    pthread_mutex_lock(&lock);
    double avg = t > p->t0 ? (double)(p->done - p->initial) / (t - p->t0) : 0;
    if (p->tty) {
        if (active == p) {
            draw_tty(p, t, avg);
            fputc('\n', p->out);
            fflush(p->out);
            active = NULL;
        }
    } else {
        print_plain(p, t, avg, 1);
    }
    pthread_mutex_unlock(&lock);
    free(p);
}

void bv_progress_hide(void) {
    pthread_mutex_lock(&lock);
    if (active && active->shown) {
        fputs("\r\033[K", active->out);
        fflush(active->out);
        active->shown = 0;
    }
}

void bv_progress_show(void) {
    if (active && active->rendered && !active->shown) draw_tty(active, now_s(), active->rate);
    pthread_mutex_unlock(&lock);
}
