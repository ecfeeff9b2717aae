/* test_fuzz_regress.c - every input a fuzzer (fuzz/) found to crash, leak or misbehave in a parser,
 * fed to that parser again: each must now give a clean error (or a clean result) and leave no
 * heap behind. The inputs are also in fuzz/corpus/<target>/regress-*, so the fuzzers start from
 * them. Leak checks run the call many times and compare glibc's heap in use (mallinfo2) before and
 * after: glibc's per-thread caches keep a bounded number of freed blocks counted as in use, so
 * only growth that scales with the number of calls is a leak (under ASan mallinfo2 reads 0 and
 * LeakSanitizer does the job). */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/io/safetensors.h"
#include "../src/io/yml_config.h"
#include "golden.h"
#include "test.h"

static size_t heap_in_use(void) { return mallinfo2().uordblks; }

/* Heap bytes left behind per call of fn(arg), over 256 calls after 64 to settle the caches. */
static double heap_growth_per_call(void (*fn)(void *), void *arg) {
    for (int i = 0; i < 64; i++) fn(arg);
    size_t before = heap_in_use();
    for (int i = 0; i < 256; i++) fn(arg);
    size_t after = heap_in_use();
    return after > before ? (double)(after - before) / 256 : 0;
}

/* A fresh folder under /tmp holding one file `name` with `len` bytes of data; path receives the
 * file's path, dir the folder's. 0 or -1. */
static int write_tmp(char *dir, size_t dcap, char *path, size_t pcap, const char *name, const void *data,
                     size_t len) {
    snprintf(dir, dcap, "/tmp/bv2-regress-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, pcap, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void remove_tmp(const char *dir, const char *path) {
    unlink(path);
    rmdir(dir);
}

static void read_yml(void *path) {
    bv_yml_train_ms y;
    char err[512];
    (void)bv_yml_read_train_ms(path, &y, err, sizeof err);
}

/* fuzz_yaml: a config.yml whose train_ms is a scalar was refused, but the flattened document was
 * never freed (fuzz/corpus/yaml/regress-leak-on-key-error.yml). */
BV_TEST(fuzz_regress_yaml_train_ms_scalar_no_leak) {
    static const char text[] = "train_ms: true\n";
    char dir[64], path[128], err[512] = "";
    BV_CHECK(write_tmp(dir, sizeof dir, path, sizeof path, "config.yml", text, strlen(text)) == 0, "temp file");
    bv_yml_train_ms y;
    int rc = bv_yml_read_train_ms(path, &y, err, sizeof err);
    BV_CHECK(rc == -1, "a scalar train_ms was accepted");
    BV_CHECK(strstr(err, ":1: train_ms: expected a mapping") != NULL, "message: %s", err);
    double leak = heap_growth_per_call(read_yml, path);
    BV_CHECK(leak < 1, "%.0f bytes left behind per call", leak);
    remove_tmp(dir, path);
}

/* fuzz_golden: a manifest case without a "file" string dereferenced NULL in bv_golden_open; one
 * without numeric tolerance atol/rtol did the same at the first comparison
 * (fuzz/corpus/golden/regress-no-file-key.bin). Both are now reported by case name. */
BV_TEST(fuzz_regress_golden_manifest_case_without_file_or_tolerance) {
    static const char *const manifests[] = {
        "{\"cases\": [{\"name\": \"X\", \"tolerance\": {\"atol\": 1, \"rtol\": 1}}]}",
        "{\"cases\": [{\"name\": \"X\", \"file\": 7, \"tolerance\": {\"atol\": 1, \"rtol\": 1}}]}",
        "{\"cases\": [{\"name\": \"X\", \"file\": \"x.safetensors\"}]}",
        "{\"cases\": [{\"name\": \"X\", \"file\": \"x.safetensors\", \"tolerance\": {\"atol\": \"1\", \"rtol\": 1}}]}",
    };
    const char *saved_dir = bv_test_golden_dir;
    for (size_t i = 0; i < sizeof manifests / sizeof manifests[0]; i++) {
        char dir[64], path[128];
        BV_CHECK(write_tmp(dir, sizeof dir, path, sizeof path, "manifest.json", manifests[i], strlen(manifests[i])) == 0,
                 "temp file");
        bv_test_golden_dir = dir;
        bv_golden_manifest_reset();
        bv_test_state sub = {.name = "sub", .ctx = ts->ctx};
        bv_golden *g = bv_golden_open(&sub, ts->ctx, "X");
        BV_CHECK(g == NULL && sub.failed, "manifest %zu: case opened", i);
        bv_golden_close(g);
        remove_tmp(dir, path);
    }
    bv_test_golden_dir = saved_dir;
    bv_golden_manifest_reset();
}

/* fuzz_golden: a config value far outside int64 (3.3e71) was converted to long long (UBSan:
 * float-cast-overflow) by bv_golden_cfg_int / _int_or / _ints
 * (fuzz/corpus/golden/regress-config-int-out-of-range.bin); now a named failure and 0. */
BV_TEST(fuzz_regress_golden_config_int_out_of_range) {
    static const char manifest[] = "{\"cases\": [{\"name\": \"X\", \"file\": \"x.safetensors\", "
                                   "\"config\": {\"item\": 3.3e71, \"list\": [1, -1e300]}, "
                                   "\"tolerance\": {\"atol\": 0, \"rtol\": 0}}]}";
    static const unsigned char empty_st[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    char dir[64], path[128], st_path[160];
    BV_CHECK(write_tmp(dir, sizeof dir, path, sizeof path, "manifest.json", manifest, strlen(manifest)) == 0,
             "temp file");
    snprintf(st_path, sizeof st_path, "%s/x.safetensors", dir);
    FILE *f = fopen(st_path, "wb");
    BV_CHECK(f && fwrite(empty_st, 1, sizeof empty_st, f) == sizeof empty_st, "write %s", st_path);
    if (f) fclose(f);
    const char *saved_dir = bv_test_golden_dir;
    bv_test_golden_dir = dir;
    bv_golden_manifest_reset();
    bv_test_state sub = {.name = "sub", .ctx = ts->ctx};
    bv_golden *g = bv_golden_open(&sub, ts->ctx, "X");
    BV_CHECK(g != NULL, "case did not open");
    if (g) {
        long long v[2];
        BV_CHECK(bv_golden_cfg_int(g, "item") == 0 && sub.failed, "out-of-range int accepted");
        sub.failed = 0;
        BV_CHECK(bv_golden_cfg_int_or(g, "item", 5) == 0 && sub.failed, "out-of-range int accepted (_or)");
        sub.failed = 0;
        BV_CHECK(bv_golden_cfg_ints(g, "list", v, 2) == 2 && v[0] == 1 && v[1] == 0 && sub.failed,
                 "out-of-range list entry accepted");
        bv_golden_close(g);
    }
    unlink(st_path);
    remove_tmp(dir, path);
    bv_test_golden_dir = saved_dir;
    bv_golden_manifest_reset();
}

static void open_st(void *path) {
    bv_safetensors st;
    char err[512];
    if (bv_st_open(&st, path, err, sizeof err) == 0) bv_st_close(&st);
}

/* fuzz_safetensors: a shape entry of 1.6e71 was converted to int64 (UBSan float-cast-overflow) before
 * main's issue-14 fix of bv_st_open (fuzz/corpus/safetensors/regress-shape-1e71.safetensors, the
 * same header). It must be refused with the tensor's name. */
BV_TEST(fuzz_regress_safetensors_shape_out_of_range) {
    static const char header[] = "{\"t\":{\"dtype\":\"F16\",\"shape\":[1.6e71,4],\"data_offsets\":[0,0]}}";
    unsigned char buf[8 + sizeof header];
    size_t n = sizeof header - 1;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, header, n);
    char dir[64], path[128], err[512] = "";
    BV_CHECK(write_tmp(dir, sizeof dir, path, sizeof path, "x.safetensors", buf, 8 + n) == 0, "temp file");
    bv_safetensors st;
    int rc = bv_st_open(&st, path, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, "'t'") != NULL, "rc %d, message: %s", rc, err);
    if (rc == 0) bv_st_close(&st);
    double leak = heap_growth_per_call(open_st, path);
    BV_CHECK(leak < 1, "%.0f bytes left behind per call", leak);
    remove_tmp(dir, path);
}
