/* cleanup.c - the shutdown registry (see cleanup.h). */
#include "cleanup.h"

#include <pthread.h>

#include "error.h"

#define MAX_CLEANUPS 32

static void (*g_fns[MAX_CLEANUPS])(void);
static int g_n;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void bv_cleanup_register(void (*fn)(void)) {
    pthread_mutex_lock(&g_lock);
    int known = 0;
    for (int i = 0; i < g_n && !known; i++) known = g_fns[i] == fn;
    if (!known) {
        BV_ASSERT(g_n < MAX_CLEANUPS);
        g_fns[g_n++] = fn;
    }
    pthread_mutex_unlock(&g_lock);
}

void bv_cleanup_run(void) {
    pthread_mutex_lock(&g_lock);
    int n = g_n;
    void (*fns[MAX_CLEANUPS])(void);
    for (int i = 0; i < n; i++) fns[i] = g_fns[i];
    g_n = 0;
    pthread_mutex_unlock(&g_lock);
    for (int i = n - 1; i >= 0; i--) fns[i]();
}
