/* fixtures.h - fixtures several test files share (one copy each): masks, temporary folders and
 * files, and running the bv2 executable built beside the test binary. */
#ifndef BV_TEST_FIXTURES_H
#define BV_TEST_FIXTURES_H

#include <stddef.h>
#include <sys/types.h>

#include "test.h"

/* [B, 1, T] f32 mask: 1 for t < lengths[b], else 0. */
bv_tensor *bv_test_mask(bv_ctx *ctx, int64_t B, int64_t T, const int64_t *lengths);
/* Every parameter of ps N(0, scale^2) from ctx's rng, in store order; then weight_g (a norm: keep it
 * positive) 1 + 0.5 N(0, scale^2) and LayerNorm gamma 1 + gamma_spread N(0, scale^2). */
void bv_test_randomize_params(bv_ctx *ctx, bv_params *ps, float scale, float gamma_spread);

/* Removes a file or a folder with everything below it (links not followed); best effort, quiet.
 * Refuses "" and "/". */
void bv_test_rm_rf(const char *path);
/* Writes text to path: 0, or -1 when it cannot be written. */
int bv_test_write_text(const char *path, const char *text);
/* The whole file, NUL-terminated (malloc'ed); NULL if unreadable. len (may be NULL) gets its size. */
char *bv_test_read_file(const char *path, size_t *len);
/* As bv_test_read_file, but "" (malloc'ed) when unreadable: never NULL. */
char *bv_test_read_text(const char *path);

/* Starts bv2 (bv_test_bv2_path) with args (NULL-terminated, argv[0] left out) in folder dir (NULL:
 * this one), stdin from in_path (NULL: /dev/null), stdout into out_path and stderr into err_path
 * (NULL: into out_path too), with OMP_NUM_THREADS=1. Returns the child's pid, or -1. */
pid_t bv_test_spawn_bv2(const char *dir, const char *const *args, const char *in_path, const char *out_path,
                        const char *err_path);
/* Waits for pid: its exit code, or -1 when it did not exit (*signaled, if given, says whether a
 * signal ended it). */
int bv_test_wait(pid_t pid, int *signaled);
/* Runs bv2 to its end (as bv_test_spawn_bv2, stdin /dev/null); stdout and stderr together into *out
 * (malloc'ed, never NULL). Returns the exit code, -1 when it did not exit. */
int bv_test_run_bv2(const char *dir, const char *const *args, char **out);

#endif
