/* fs.c - file-system helpers (see fs.h). */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/error.h"

int bv_mkdir_p(const char *dir, char *err, size_t errcap) {
    size_t n = strlen(dir);
    char *p = bv_xmalloc(n + 1);
    memcpy(p, dir, n + 1);
    int rc = 0;
    /* each prefix ending at a '/' (and the whole path) in turn */
    for (size_t i = 1; i <= n && rc == 0; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char keep = p[i];
        p[i] = '\0';
        struct stat st;
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            rc = -1, snprintf(err, errcap, "%s: cannot create folder %s: %s", dir, p, strerror(errno));
        else if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = -1, snprintf(err, errcap, "%s: %s is not a folder", dir, p);
        p[i] = keep;
    }
    free(p);
    return rc;
}

int bv_mkdir_parents(const char *path, char *err, size_t errcap) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0; /* a bare name, or a file in the root */
    size_t n = (size_t)(slash - path);
    char *dir = bv_xmalloc(n + 1);
    memcpy(dir, path, n);
    dir[n] = '\0';
    int rc = bv_mkdir_p(dir, err, errcap);
    free(dir);
    return rc;
}

/* ---------------- whole-file outputs ---------------- */

static int fsync_path(const char *path, int flags) {
    int fd = open(path, O_RDONLY | flags);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int bv_out_begin(bv_out_file *o, const char *path, char *err, size_t errcap) {
    static atomic_int counter;
    memset(o, 0, sizeof *o);
    struct stat st;
    const char *target = path;
    char resolved[PATH_MAX];
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        if (stat(path, &st) != 0)
            return snprintf(err, errcap, "%s: a symbolic link to nothing; give the file itself", path), -1;
        /* a link to a regular file: replace that file; to a pipe or device (/dev/stdout): write through */
        if (S_ISREG(st.st_mode)) {
            if (!realpath(path, resolved))
                return snprintf(err, errcap, "%s: cannot resolve: %s", path, strerror(errno)), -1;
            target = resolved;
        }
    } else if (stat(path, &st) != 0) {
        st.st_mode = S_IFREG; /* new file */
    }
    if (S_ISDIR(st.st_mode)) return snprintf(err, errcap, "%s: is a folder, expected a file name", path), -1;
    if ((size_t)snprintf(o->path, sizeof o->path, "%s", target) >= sizeof o->path)
        return snprintf(err, errcap, "%s: path too long", path), -1;
    o->in_place = !S_ISREG(st.st_mode);
    int n = atomic_fetch_add(&counter, 1);
    if (o->in_place) {
        const char *dir = getenv("TMPDIR");
        snprintf(o->tmp, sizeof o->tmp, "%s/bv2-out.tmp.%ld.%d", dir && *dir ? dir : "/tmp", (long)getpid(), n);
    } else {
        snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld.%d", o->path, (long)getpid(), n);
    }
    return 0;
}

void bv_out_abort(bv_out_file *o) {
    if (o->tmp[0]) unlink(o->tmp);
    o->tmp[0] = 0;
}

/* Copies the temporary into a device / FIFO / socket, every write checked (/dev/full says ENOSPC). */
static int copy_in_place(bv_out_file *o, char *err, size_t errcap) {
    int in = open(o->tmp, O_RDONLY);
    if (in < 0) return snprintf(err, errcap, "%s: cannot reopen: %s", o->tmp, strerror(errno)), -1;
    int out = open(o->path, O_WRONLY);
    if (out < 0) {
        int e = errno;
        close(in);
        return snprintf(err, errcap, "%s: cannot open for writing: %s", o->path, strerror(e)), -1;
    }
    char buf[1 << 16];
    int rc = 0;
    for (ssize_t got; rc == 0 && (got = read(in, buf, sizeof buf)) != 0;) {
        if (got < 0) {
            if (errno == EINTR) continue;
            rc = (snprintf(err, errcap, "%s: read failed: %s", o->tmp, strerror(errno)), -1);
            break;
        }
        for (ssize_t off = 0; off < got;) {
            ssize_t w = write(out, buf + off, (size_t)(got - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                rc = (snprintf(err, errcap, "%s: write failed: %s", o->path, strerror(w < 0 ? errno : EIO)), -1);
                break;
            }
            off += w;
        }
    }
    close(in);
    if (close(out) != 0 && rc == 0) rc = (snprintf(err, errcap, "%s: write failed: %s", o->path, strerror(errno)), -1);
    return rc;
}

int bv_out_commit(bv_out_file *o, char *err, size_t errcap) {
    int rc;
    if (o->in_place) {
        rc = copy_in_place(o, err, errcap);
    } else if (fsync_path(o->tmp, 0) != 0) {
        rc = (snprintf(err, errcap, "%s: fsync failed: %s", o->tmp, strerror(errno)), -1);
    } else if (rename(o->tmp, o->path) != 0) {
        rc = (snprintf(err, errcap, "%s: cannot move %s into place: %s", o->path, o->tmp, strerror(errno)), -1);
    } else {
        o->tmp[0] = 0; /* renamed: nothing to remove */
        /* make the rename durable; a failure here loses nothing already written */
        char dir[sizeof o->path];
        snprintf(dir, sizeof dir, "%s", o->path);
        char *slash = strrchr(dir, '/');
        if (slash) *(slash == dir ? slash + 1 : slash) = 0;
        fsync_path(slash ? dir : ".", O_DIRECTORY);
        rc = 0;
    }
    bv_out_abort(o);
    return rc;
}

int bv_dir_lock(const char *dir, const char *name, char *err, size_t errcap) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return snprintf(err, errcap, "%s: cannot create the lock file: %s", path, strerror(errno)), -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        close(fd);
        if (e == EWOULDBLOCK)
            return snprintf(err, errcap,
                            "%s: another process (pid %s) holds this folder; two runs writing one model "
                            "folder would mix their checkpoints. Wait for it or stop it first",
                            dir, pid[0] ? pid : "?"),
                   -1;
        return snprintf(err, errcap, "%s: cannot lock: %s", path, strerror(e)), -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    /* the pid serves only the message a second process gets: a failed write changes nothing else */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) != n) pid[0] = 0;
    return fd;
}
