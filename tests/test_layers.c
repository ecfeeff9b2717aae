/* test_layers.c - docs/ARCHITECTURE.md's layer rule, checked on the source tree: a file under src/X/
 * includes ("../Y/...") only folders Y listed above X. Runs from the repository root (as make test
 * does); elsewhere it is skipped. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

/* Bottom to top, as docs/ARCHITECTURE.md lists them. train and infer are siblings: neither may
 * include the other, which their order here already forbids one way; the other way is checked below. */
static const char *const LAYERS[] = {"core", "io",   "ops",  "nn",    "model", "audio", "text",
                                     "data", "bert", "app",  "train", "infer", "cli"};
#define N_LAYERS (int)(sizeof LAYERS / sizeof LAYERS[0])

static int layer_rank(const char *name, size_t n) {
    for (int i = 0; i < N_LAYERS; i++)
        if (strlen(LAYERS[i]) == n && !strncmp(LAYERS[i], name, n)) return i;
    return -1;
}

static int is_source(const char *name) {
    size_t n = strlen(name);
    return (n > 2 && (!strcmp(name + n - 2, ".c") || !strcmp(name + n - 2, ".h"))) ||
           (n > 3 && !strcmp(name + n - 3, ".cc"));
}

/* Every '#include "../Y/' of one file against its folder's rank; returns the violations. */
static int check_file(bv_test_state *ts, const char *path, int rank) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024];
    int bad = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        const char *p = strstr(line, "#include \"../");
        if (!p || p != line) continue;
        p += strlen("#include \"../");
        const char *slash = strchr(p, '/');
        if (!slash) continue;
        int r = layer_rank(p, (size_t)(slash - p));
        int sibling = !strcmp(LAYERS[rank], "train") && r == layer_rank("infer", 5);
        if (r < 0 || r >= rank || sibling) {
            BV_CHECK(0, "%s:%d: src/%s includes src/%.*s, which is not below it", path, lineno, LAYERS[rank],
                     (int)(slash - p), p);
            bad++;
        }
    }
    fclose(f);
    return bad;
}

BV_TEST(layers_include_only_lower_folders) {
    int checked = 0;
    for (int k = 0; k < N_LAYERS; k++) {
        char dir[64];
        snprintf(dir, sizeof dir, "src/%s", LAYERS[k]);
        DIR *d = opendir(dir);
        if (!d) continue;
        for (struct dirent *e; (e = readdir(d));) {
            if (!is_source(e->d_name)) continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            check_file(ts, path, k);
            checked++;
        }
        closedir(d);
    }
    if (!checked) {
        bv_test_skip(ts, "no src/ here (run from the repository root)");
        return;
    }
    /* every folder of src/ is a known layer */
    DIR *d = opendir("src");
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.')
            BV_CHECK(layer_rank(e->d_name, strlen(e->d_name)) >= 0,
                     "src/%s is not in the layer list (tests/test_layers.c, docs/ARCHITECTURE.md)", e->d_name);
    if (d) closedir(d);
}
