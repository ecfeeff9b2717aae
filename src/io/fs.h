/* fs.h - small file-system helpers shared by the writers (logs, events, checkpoints, outputs). */
#ifndef BV_FS_H
#define BV_FS_H

#include <stddef.h>

/* mkdir -p: creates dir and its missing parents. 0 on success; -1 with "dir: reason" in err when a
 * part cannot be created or exists but is not a folder. */
int bv_mkdir_p(const char *dir, char *err, size_t errcap);

/* mkdir -p of the folder part of a file path ("a/b/c.wav" -> a/b). Same returns as bv_mkdir_p. */
int bv_mkdir_parents(const char *path, char *err, size_t errcap);

/* Writing a file as a whole (outputs, checkpoints, caches, filelists). The bytes go to a temporary
 * that bv_out_commit moves into place, so a kill or a full disk never leaves half a file under the
 * name and never destroys the previous one. What the path names decides how:
 *  - a regular file, or nothing yet: the temporary is "<path>.tmp.<pid>.<n>" beside it, renamed over
 *    it (then the folder is synced);
 *  - a symbolic link: followed; the file it points to is replaced, the link stays a link;
 *  - a device, FIFO or socket (/dev/null, a pipe into a player): written in place, never replaced
 *    (the temporary lives in $TMPDIR and is copied in, each write checked);
 *  - a folder, or a link to nothing: refused with a message.
 * Every temporary name contains ".tmp." after the path, which is what stale-file cleanup matches.
 *
 *   bv_out_file o;
 *   if (bv_out_begin(&o, path, err, cap)) return -1;
 *   FILE *f = fopen(o.tmp, "wb"); ... write, fclose ...
 *   if (failed) { bv_out_abort(&o); return -1; }
 *   return bv_out_commit(&o, err, cap);   // fsyncs, moves or copies into place, removes the temporary */
typedef struct bv_out_file {
    char path[4096];  /* the file that will hold the bytes (links resolved) */
    char tmp[4224];   /* where the writer writes */
    int in_place;     /* 1: path is a device / FIFO / socket, written through */
} bv_out_file;

int bv_out_begin(bv_out_file *o, const char *path, char *err, size_t errcap);
int bv_out_commit(bv_out_file *o, char *err, size_t errcap);
void bv_out_abort(bv_out_file *o);

/* An exclusive lock on a folder for one process's lifetime (a training run on its model folder):
 * flock() on "<dir>/<name>", which the kernel drops when the process ends however it ends, so a
 * killed run never leaves it stale. The file holds the holder's pid for the message a second
 * process gets. Returns the descriptor to keep (close it to release), or -1 with err. */
int bv_dir_lock(const char *dir, const char *name, char *err, size_t errcap);

#endif
