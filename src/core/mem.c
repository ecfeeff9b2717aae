/* mem.c - memory still available to this process (see mem.h). */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* The first integer after `key` in a text file (key NULL: the file's first integer); -1 if none. */
static int64_t read_number(const char *path, const char *key) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[256];
    int64_t v = -1;
    while (fgets(line, sizeof line, f)) {
        const char *p = line;
        if (key) {
            size_t k = strlen(key);
            if (strncmp(line, key, k) != 0) continue;
            p += k;
        }
        char *end;
        long long x = strtoll(p, &end, 10);
        if (end != p) v = x;
        break; /* "max" in memory.max: no number, no limit */
    }
    fclose(f);
    return v;
}

static int64_t least(int64_t a, int64_t b) { return a < 0 ? b : b < 0 ? a : a < b ? a : b; }

int64_t bv_mem_available(void) {
    int64_t avail = read_number("/proc/meminfo", "MemAvailable:");
    if (avail >= 0) avail *= 1024;
    int64_t max = read_number("/sys/fs/cgroup/memory.max", NULL),
            cur = read_number("/sys/fs/cgroup/memory.current", NULL);
    if (max >= 0 && cur >= 0) avail = least(avail, max > cur ? max - cur : 0);
    max = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes", NULL);
    cur = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes", NULL);
    if (max >= 0 && cur >= 0 && max < ((int64_t)1 << 60)) avail = least(avail, max > cur ? max - cur : 0);
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        int64_t vm = read_number("/proc/self/status", "VmSize:");
        int64_t used = vm >= 0 ? vm * 1024 : 0;
        avail = least(avail, (int64_t)rl.rlim_cur > used ? (int64_t)rl.rlim_cur - used : 0);
    }
    const char *cap = getenv("BV_MEM_LIMIT_MB");
    if (cap && *cap) avail = least(avail, (int64_t)atoll(cap) << 20);
    return avail < 0 ? ((int64_t)1 << 40) : avail; /* nothing readable: do not refuse on a guess */
}

const char *bv_mem_str(int64_t bytes, char *buf, int cap) {
    if (bytes >= ((int64_t)1 << 30))
        snprintf(buf, (size_t)cap, "%.1f GiB", (double)bytes / (1 << 30));
    else
        snprintf(buf, (size_t)cap, "%.0f MiB", (double)bytes / (1 << 20));
    return buf;
}
