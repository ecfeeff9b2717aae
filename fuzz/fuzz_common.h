/* fuzz_common.h - helpers shared by the libFuzzer harnesses in fuzz/ (see README.md, "Fuzzing and ThreadSanitizer").
 *
 * Parsers that only take a path (libzip, libsndfile, stdio readers) get the input through an
 * anonymous in-memory file: memfd_create, the bytes written, and the path /proc/self/fd/<fd>.
 * Each harness closes the fd before returning, so nothing outlives one input.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifndef BV_FUZZ_COMMON_H
#define BV_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../src/text/lexicon.h"

/* Results are written here so the compiler cannot drop the reads that produce them. */
static volatile double fuzz_sink;

/* An in-memory file holding data[0..size); its path in path[]. Returns the fd (close it), or
 * aborts: a harness that cannot make its file is broken, not the parser. */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char path[64]) {
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) { perror("memfd_create"); abort(); }
    size_t off = 0;
    while (off < size) {
        ssize_t k = write(fd, data + off, size - off);
        if (k <= 0) { perror("write"); abort(); }
        off += (size_t)k;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

/* A NUL-terminated malloc'ed copy of the input (free() it). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    for (size_t i = 0; i < size; i++) s[i] = (char)data[i];
    s[size] = 0;
    return s;
}

/* The English lexicon (data/cmudict.rep or $BV2_CMUDICT), for LLVMFuzzerInitialize; exits when it
 * is missing (`make fuzz` fetches it). Kept for the whole run, so it is reachable, not leaked. */
static inline bv_lexicon *fuzz_lexicon(const char *who) {
    char err[512];
    bv_lexicon *lex = bv_lexicon_load(NULL, err, sizeof err);
    if (!lex) {
        fprintf(stderr, "%s: %s\n", who, err);
        exit(1);
    }
    return lex;
}

#endif
