/* fixtures.c - shared test fixtures (fixtures.h). */
#define _GNU_SOURCE
#include "fixtures.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

bv_tensor *bv_test_mask(bv_ctx *ctx, int64_t B, int64_t T, const int64_t *lengths) {
    bv_tensor *m = bv_zeros(ctx, BV_F32, BV_SHAPE(B, 1, T));
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < lengths[b] && t < T; t++) m->data[b * T + t] = 1.0f;
    return m;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

void bv_test_randomize_params(bv_ctx *ctx, bv_params *ps, float scale, float gamma_spread) {
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *p = ps->items[i];
        bv_test_randn(ctx, p, scale);
        float spread = ends_with(p->name, "weight_g") ? 0.5f : ends_with(p->name, "gamma") ? gamma_spread : 0;
        if (spread)
            for (int64_t j = 0; j < p->numel; j++) p->data[j] = 1.0f + spread * p->data[j];
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void bv_test_rm_rf(const char *path) {
    if (!path || !path[0] || !strcmp(path, "/")) return;
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int bv_test_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

char *bv_test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) {
        fclose(f);
        return NULL;
    }
    rewind(f);
    size_t got = fread(s, 1, (size_t)n, f);
    fclose(f);
    s[got] = 0;
    if (len) *len = got;
    return s;
}

char *bv_test_read_text(const char *path) {
    char *s = bv_test_read_file(path, NULL);
    return s ? s : calloc(1, 1);
}

/* In the child: fd <- path opened with flags, or exit 126. */
static void redirect(int fd, const char *path, int flags) {
    int f = open(path, flags, 0644);
    if (f < 0) _exit(126);
    dup2(f, fd);
    close(f);
}

pid_t bv_test_spawn_bv2(const char *dir, const char *const *args, const char *in_path, const char *out_path,
                        const char *err_path) {
    char bv2[PATH_MAX]; /* absolute, for a child that changes folder */
    if (!realpath(bv_test_bv2_path, bv2)) snprintf(bv2, sizeof bv2, "%s", bv_test_bv2_path);
    const char *argv[128] = {"bv2"};
    int n = 1;
    for (int i = 0; args[i] && n < 127; i++) argv[n++] = args[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) return pid;
    redirect(0, in_path ? in_path : "/dev/null", O_RDONLY);
    redirect(1, out_path, O_WRONLY | O_CREAT | O_TRUNC);
    if (err_path) redirect(2, err_path, O_WRONLY | O_CREAT | O_TRUNC);
    else dup2(1, 2);
    if (dir && chdir(dir)) _exit(126);
    setenv("OMP_NUM_THREADS", "1", 1);
    execv(bv2, (char *const *)argv);
    _exit(127);
}

int bv_test_wait(pid_t pid, int *signaled) {
    int status = 0;
    if (signaled) *signaled = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
    if (signaled) *signaled = WIFSIGNALED(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int bv_test_run_bv2(const char *dir, const char *const *args, char **out) {
    char log[64];
    snprintf(log, sizeof log, "/tmp/bv_test_bv2_%d.out", (int)getpid());
    int code = bv_test_wait(bv_test_spawn_bv2(dir, args, NULL, log, NULL), NULL);
    *out = bv_test_read_text(log);
    remove(log);
    return code;
}
