/* test_fs.c - src/io/fs.h's whole-file writer as every output path uses it (issue 14 finding 6):
 * a regular file is replaced atomically with no temporary left; a symbolic link is followed and
 * stays a link; a FIFO and a device are written through, never replaced (/dev/full reports its
 * ENOSPC); a folder and a dangling link are refused. Driven through bv_wav_write and bv_pth_save,
 * two of the writers built on it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/io/fs.h"
#include "../src/io/pickle.h"
#include "../src/io/pth.h"
#include "../src/io/wav.h"
#include "fixtures.h"
#include "test.h"

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static int is_mode(const char *path, mode_t kind, int follow) {
    struct stat st;
    return (follow ? stat(path, &st) : lstat(path, &st)) == 0 && (st.st_mode & S_IFMT) == kind;
}

BV_TEST(fs_out_regular_symlink_folder) {
    char dir[] = "/tmp/bv_fs_XXXXXX", path[256], link[256], target[256], err[512];
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    float x[64] = {0.5f};
    snprintf(path, sizeof path, "%s/a.wav", dir);
    BV_CHECK(bv_wav_write(path, x, 64, 1, 16000, err, sizeof err) == 0, "%s", err);
    BV_CHECK(bv_wav_write(path, x, 32, 1, 16000, err, sizeof err) == 0, "rewrite: %s", err);
    BV_CHECK(is_mode(path, S_IFREG, 0) && count_entries(dir) == 1, "regular file not replaced cleanly");
    /* a link is followed: the file it names changes, the link stays */
    snprintf(target, sizeof target, "%s/real.wav", dir);
    snprintf(link, sizeof link, "%s/link.wav", dir);
    BV_CHECK(bv_wav_write(target, x, 64, 1, 16000, err, sizeof err) == 0, "%s", err);
    BV_CHECK(symlink(target, link) == 0, "symlink");
    BV_CHECK(bv_wav_write(link, x, 16, 1, 16000, err, sizeof err) == 0, "through link: %s", err);
    struct stat st;
    BV_CHECK(is_mode(link, S_IFLNK, 0), "the link was replaced by a regular file");
    BV_CHECK(stat(target, &st) == 0 && st.st_size == 44 + 32, "target not rewritten (%lld bytes)", (long long)st.st_size);
    BV_CHECK(count_entries(dir) == 3, "a temporary was left: %d entries", count_entries(dir));
    /* refused: a folder, a link to nothing */
    BV_CHECK(bv_wav_write(dir, x, 16, 1, 16000, err, sizeof err) == -1 && strstr(err, "is a folder"), "folder: %s", err);
    snprintf(link, sizeof link, "%s/dangling.pth", dir);
    BV_CHECK(symlink("/nonexistent/x", link) == 0, "symlink");
    bv_pk_doc *doc = bv_pk_doc_new();
    bv_pk_value *v = bv_pk_int(doc, 7);
    BV_CHECK(bv_pth_save(link, v, err, sizeof err) == -1 && strstr(err, "link to nothing"), "dangling: %s", err);
    BV_CHECK(is_mode(link, S_IFLNK, 0), "dangling link replaced");
    /* a .pth through a link */
    snprintf(target, sizeof target, "%s/ck.pth", dir);
    snprintf(link, sizeof link, "%s/ck_link.pth", dir);
    BV_CHECK(bv_pth_save(target, v, err, sizeof err) == 0 && symlink(target, link) == 0, "%s", err);
    BV_CHECK(bv_pth_save(link, v, err, sizeof err) == 0 && is_mode(link, S_IFLNK, 0), "pth through link: %s", err);
    bv_pk_doc_free(doc);
    bv_test_rm_rf(dir);
    BV_CHECK(access(dir, F_OK) != 0, "%s not removed", dir);
}

BV_TEST(fs_out_fifo_and_devices_written_through) {
    char dir[] = "/tmp/bv_fs_XXXXXX", fifo[256], err[512];
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(fifo, sizeof fifo, "%s/out.wav", dir);
    BV_CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    pid_t pid = fork();
    if (pid == 0) { /* the reader: count the bytes that arrive */
        int fd = open(fifo, O_RDONLY);
        char buf[4096];
        ssize_t n, total = 0;
        while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
        _exit(total == 44 + 2 * 100 ? 0 : 1);
    }
    float x[100] = {0};
    BV_CHECK(bv_wav_write(fifo, x, 100, 1, 16000, err, sizeof err) == 0, "fifo: %s", err);
    int status = 0;
    waitpid(pid, &status, 0);
    BV_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the reader did not get the whole wav");
    BV_CHECK(is_mode(fifo, S_IFIFO, 0), "the FIFO was replaced");
    BV_CHECK(bv_wav_write("/dev/null", x, 100, 1, 16000, err, sizeof err) == 0, "/dev/null: %s", err);
    BV_CHECK(is_mode("/dev/null", S_IFCHR, 0), "/dev/null replaced");
    if (access("/dev/full", W_OK) == 0) {
        BV_CHECK(bv_wav_write("/dev/full", x, 100, 1, 16000, err, sizeof err) == -1 && strstr(err, "/dev/full"),
                 "/dev/full accepted: %s", err);
        BV_CHECK(is_mode("/dev/full", S_IFCHR, 0), "/dev/full replaced");
    }
    unlink(fifo);
    rmdir(dir);
}
