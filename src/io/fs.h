/* fs.h - small file-system helpers shared by the writers (logs, events, checkpoints, outputs). */
#ifndef BV_FS_H
#define BV_FS_H

#include <stddef.h>

/* mkdir -p: creates dir and its missing parents. 0 on success; -1 with "dir: reason" in err when a
 * part cannot be created or exists but is not a folder. */
int bv_mkdir_p(const char *dir, char *err, size_t errcap);

/* mkdir -p of the folder part of a file path ("a/b/c.wav" -> a/b). Same returns as bv_mkdir_p. */
int bv_mkdir_parents(const char *path, char *err, size_t errcap);

#endif
