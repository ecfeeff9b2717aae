/* resample.c - `bv2 resample`: upstream's resample.py. Every audio file under --in (walked
 * recursively, sub-folders kept) becomes a mono 16-bit WAV at the target rate under --out, resampled
 * with soxr at 'HQ' quality (src/app/preprocess.h), files spread over OpenMP threads. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <omp.h>

#include "../core/error.h"
#include "../app/preprocess.h"
#include "../io/config.h"
#include "../train/progress.h"
#include "cli.h"
#include "../io/fs.h"

#define bad_usage(...) bv_cli_usage_error("resample", __VA_ARGS__)

static void usage(FILE *f) {
    fprintf(f,
        "usage: bv2 resample --in <dir> --out <dir> (--sr <rate> | -c <config.json>) [options]\n"
        "\n"
        "Brings a folder of audio to the training sample rate, as upstream's resample.py does: every audio\n"
        "file under --in (any format libsndfile reads: wav, flac, ogg, mp3, aiff, ...; sub-folders walked and\n"
        "kept) is read, averaged to mono, resampled with soxr at 'HQ' quality and written to --out as a 16-bit\n"
        "PCM WAV with the same relative path and a .wav extension. The output has ceil(n * sr_out / sr_in)\n"
        "samples, as librosa.load(sr=...) gives; a file already at the rate is only converted. Other files\n"
        "(transcripts, ...) are left alone.\n"
        "\n"
        "options:\n"
        "  --in, --in_dir DIR       folder of source audio (required).\n"
        "  --out, --out_dir DIR     folder for the WAVs (created; must not be --in itself; may lie inside it).\n"
        "  --sr RATE                target sample rate in Hz.\n"
        "  -c, --config PATH        take the rate from a config.json's data.sampling_rate instead.\n"
        "  -j, --processes N        files resampled in parallel. [all cores]\n"
        "  --skip-existing          leave outputs that exist and are newer than their source (resumable).\n"
        "  --progress MODE          auto, bar, plain or none. [auto: a bar on a terminal]\n"
        "  -h, --help               this text.\n"
        "\n"
        "exit status: 0 all files written; 2 bad command line; 3 a missing folder, an unreadable config,\n"
        "no audio found, or files that could not be read or written (each named on stderr; the others are\n"
        "still written).\n");
}

typedef struct file_list {
    char **rel;     /* paths relative to the input folder */
    int n, cap;
} file_list;

static void list_add(file_list *l, const char *rel) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->rel = bv_xrealloc(l->rel, sizeof(char *) * (size_t)l->cap);
    }
    size_t n = strlen(rel) + 1;
    l->rel[l->n] = bv_xmalloc(n);
    memcpy(l->rel[l->n++], rel, n);
}

/* Audio files under root/rel, recursively, skipping the output folder (by real path). */
static int walk(const char *root, const char *rel, const char *skip_real, file_list *l, int *n_other) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "error: resample: cannot open folder %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) && !rc) {
        if (e->d_name[0] == '.') continue;   /* ".", "..", hidden files and our own ".tmp" files */
        char sub[PATH_MAX], full[PATH_MAX + 256];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat sb;
        if (stat(full, &sb)) continue;
        if (S_ISDIR(sb.st_mode)) {
            char real[PATH_MAX];
            if (skip_real && realpath(full, real) && !strcmp(real, skip_real)) continue;
            rc = walk(root, sub, skip_real, l, n_other);
        } else if (S_ISREG(sb.st_mode)) {
            if (bv_prep_is_audio_name(e->d_name)) list_add(l, sub);
            else ++*n_other;
        }
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }


/* out/<rel with its extension replaced by .wav> */
static void out_path(char *dst, size_t cap, const char *out_dir, const char *rel) {
    const char *dot = strrchr(rel, '.'), *slash = strrchr(rel, '/');
    int stem = dot && (!slash || dot > slash) ? (int)(dot - rel) : (int)strlen(rel);
    snprintf(dst, cap, "%s/%.*s.wav", out_dir, stem, rel);
}

/* a.wav and a.flac would both become a.wav: an error naming both */
static int same_output(const char *in_dir, const file_list *l) {
    char **stem = bv_xmalloc(sizeof(char *) * (size_t)l->n + 1);
    for (int i = 0; i < l->n; i++) {
        size_t n = (size_t)(strrchr(l->rel[i], '.') - l->rel[i]);   /* audio names always have one */
        stem[i] = bv_xmalloc(n + 2 + strlen(l->rel[i]));
        memcpy(stem[i], l->rel[i], n);
        stem[i][n] = '\0';   /* "<stem>\0<rel>": sorted by stem, the source kept for the message */
        strcpy(stem[i] + n + 1, l->rel[i]);
    }
    qsort(stem, (size_t)l->n, sizeof(char *), cmp_str);
    int dup = 0;
    for (int i = 1; i < l->n && !dup; i++)
        if (!strcmp(stem[i - 1], stem[i])) {
            fprintf(stderr, "error: resample: %s/%s and %s/%s would both be written as %s.wav\n", in_dir,
                    stem[i - 1] + strlen(stem[i - 1]) + 1, in_dir, stem[i] + strlen(stem[i]) + 1, stem[i]);
            dup = 1;
        }
    for (int i = 0; i < l->n; i++) free(stem[i]);
    free(stem);
    return dup;
}

static int config_rate(const char *path, long *sr) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "error: resample: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = bv_xmalloc((size_t)(n > 0 ? n : 0) + 1);
    size_t got = fread(text, 1, (size_t)(n > 0 ? n : 0), f);
    text[got] = '\0';
    fclose(f);
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(data, "sampling_rate");
    int ok = cJSON_IsNumber(r) && r->valuedouble >= 1 && r->valuedouble <= BV_CONFIG_MAX_RATE &&
             r->valuedouble == (double)(long)r->valuedouble;
    if (ok) *sr = (long)r->valuedouble;
    else if (!j) fprintf(stderr, "error: resample: %s: not valid JSON\n", path);
    else fprintf(stderr, "error: resample: %s: data.sampling_rate: expected an integer in [1, %d]\n", path,
                 BV_CONFIG_MAX_RATE);
    cJSON_Delete(j);
    return ok ? 0 : -1;
}

static int up_to_date(const char *src, const char *dst) {
    struct stat a, b;
    if (stat(src, &a) || stat(dst, &b)) return 0;
    return b.st_mtim.tv_sec > a.st_mtim.tv_sec ||
           (b.st_mtim.tv_sec == a.st_mtim.tv_sec && b.st_mtim.tv_nsec >= a.st_mtim.tv_nsec);
}

typedef struct resample_opts {
    const char *in_dir, *out_dir, *config;
    long sr;
    int jobs, skip_existing, progress;   /* progress: 0 auto, 1 bar, 2 plain, 3 none */
} resample_opts;

/* Resamples every listed file; returns the number of failures (each reported on stderr). */
static int run_files(const resample_opts *o, const file_list *l, int *n_skipped) {
    int failures = 0, done = 0, skipped = 0;
    bv_progress *p = NULL;
    if (o->progress != 3) {
        bv_progress_opts po = {.mode = o->progress == 1 ? BV_PROGRESS_TTY : o->progress == 2 ? BV_PROGRESS_PLAIN
                                                                                              : BV_PROGRESS_AUTO,
                               .interval_s = 10};
        p = bv_progress_start_opts(l->n, "resample", &po);
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(o->jobs) reduction(+ : failures, skipped)
    for (int i = 0; i < l->n; i++) {
        char src[PATH_MAX + 256], dst[PATH_MAX + 256], err[2048];
        snprintf(src, sizeof src, "%s/%s", o->in_dir, l->rel[i]);
        out_path(dst, sizeof dst, o->out_dir, l->rel[i]);
        int rc = 0;
        if (o->skip_existing && up_to_date(src, dst)) skipped++;
        else if (bv_mkdir_parents(dst, err, sizeof err)) rc = -1;
        else rc = bv_prep_resample_file(src, dst, (int)o->sr, NULL, NULL, err, sizeof err) ? 1 : 0;
#pragma omp critical(bv_resample_report)
        {
            if (rc) {
                bv_progress_hide();
                fprintf(stderr, "error: resample: %s\n", err);
                bv_progress_show();
            }
            done++;
            if (p) bv_progress_update(p, done, NULL);
        }
        failures += rc != 0;
    }
    bv_progress_finish(p);
    *n_skipped = skipped;
    return failures;
}

static int resample(const resample_opts *o) {
    struct stat sb;
    if (stat(o->in_dir, &sb) || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "error: resample: --in %s is not a folder\n", o->in_dir);
        return BV_EXIT_INPUT;
    }
    if (mkdir(o->out_dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "error: resample: cannot create --out %s: %s\n", o->out_dir, strerror(errno));
        return BV_EXIT_INPUT;
    }
    char in_real[PATH_MAX], out_real[PATH_MAX];
    if (!realpath(o->in_dir, in_real) || !realpath(o->out_dir, out_real) || stat(out_real, &sb) ||
        !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "error: resample: --out %s is not a usable folder\n", o->out_dir);
        return BV_EXIT_INPUT;
    }
    if (!strcmp(in_real, out_real)) {
        fprintf(stderr, "error: resample: --out is the --in folder (%s): the sources would be overwritten\n", in_real);
        return BV_EXIT_USAGE;
    }
    file_list l = {0};
    int n_other = 0;
    if (walk(o->in_dir, "", out_real, &l, &n_other)) return BV_EXIT_INPUT;
    if (l.n) qsort(l.rel, (size_t)l.n, sizeof(char *), cmp_str); /* an empty list has no array */
    int rc = 0;
    if (same_output(o->in_dir, &l)) rc = BV_EXIT_INPUT;
    if (!rc && !l.n) {
        fprintf(stderr, "error: resample: no audio files under %s\n", o->in_dir);
        rc = BV_EXIT_INPUT;
    }
    if (!rc) {
        int skipped = 0, failures = run_files(o, &l, &skipped);
        printf("resample: %d of %d files written to %s at %ld Hz", l.n - failures - skipped, l.n, o->out_dir, o->sr);
        if (skipped) printf(", %d up to date", skipped);
        if (n_other) printf(", %d non-audio files ignored", n_other);
        printf("\n");
        if (failures) {
            fprintf(stderr, "error: resample: %d file%s failed (named above)\n", failures, failures > 1 ? "s" : "");
            rc = BV_EXIT_INPUT;
        }
    }
    for (int i = 0; i < l.n; i++) free(l.rel[i]);
    free(l.rel);
    return rc;
}

int bv_cli_resample(int argc, char **argv) {
    resample_opts o = {.jobs = 0, .progress = 0};
    static const char *const o_in[] = {"--in", "--in_dir", "--in-dir", NULL};
    static const char *const o_out[] = {"--out", "--out_dir", "--out-dir", NULL};
    static const char *const o_sr[] = {"--sr", NULL}, *const o_cfg[] = {"--config", "-c", NULL};
    static const char *const o_jobs[] = {"--processes", "-j", NULL}, *const o_prog[] = {"--progress", NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int missing = 0;
        long long n;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, o_in, &missing))) {
            o.in_dir = v;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, o_out, &missing))) {
            o.out_dir = v;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, o_sr, &missing))) {
            if (bv_cli_parse_int(v, 1, BV_CONFIG_MAX_RATE, &n)) /* the message's 768000 is BV_CONFIG_MAX_RATE */
                return bad_usage("--sr needs an integer rate in Hz in [1, 768000], got '%s'", v);
            o.sr = n;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, o_cfg, &missing))) {
            o.config = v;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, o_jobs, &missing))) {
            if (bv_cli_parse_int(v, 0, 1024, &n)) return bad_usage("--processes needs an integer >= 0, got '%s'", v);
            o.jobs = (int)n;
        } else if ((v = bv_cli_opt_value(argc, argv, &i, o_prog, &missing))) {
            if ((o.progress = bv_cli_progress_mode(v)) < 0)
                return bad_usage("--progress is auto, bar, plain or none, got '%s'", v);
        } else if (!strcmp(a, "--skip-existing")) {
            o.skip_existing = 1;
        } else if (missing) {
            return bad_usage("%s needs a value", a);
        } else {
            return bad_usage("unknown option '%s'", a);
        }
    }
    if (!o.in_dir || !o.out_dir) return bad_usage("%s is required", !o.in_dir ? "--in" : "--out");
    if (o.sr && o.config) return bad_usage("%s", "give --sr or -c, not both");
    if (!o.sr && !o.config) return bad_usage("%s", "the target rate is needed: --sr RATE or -c config.json");
    if (o.config && config_rate(o.config, &o.sr)) return BV_EXIT_INPUT;
    if (o.jobs <= 0) o.jobs = omp_get_num_procs();
    return resample(&o);
}
