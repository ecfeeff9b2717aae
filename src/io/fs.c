/* fs.c - file-system helpers (see fs.h). */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
