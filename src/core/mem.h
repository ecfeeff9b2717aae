/* mem.h - how much memory this process may still take, so a command can refuse work that would not
 * fit (with a message and exit 3) before it allocates, instead of aborting in malloc or inviting the
 * kernel's OOM killer. */
#ifndef BV_CORE_MEM_H
#define BV_CORE_MEM_H

#include <stdint.h>

/* Bytes this process can still allocate: the least of the kernel's MemAvailable, the cgroup's
 * memory.max minus memory.current (v2) or limit minus usage (v1), and RLIMIT_AS minus what is
 * mapped. BV_MEM_LIMIT_MB in the environment caps it further (tests, shared machines). */
int64_t bv_mem_available(void);

/* A size for messages: "1.5 GiB", "730 MiB". */
const char *bv_mem_str(int64_t bytes, char *buf, int cap);

#endif
