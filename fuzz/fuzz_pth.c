/* fuzz_pth.c - bv_pth_open (libzip container + the pickle VM + storages read from data/<key>) on
 * arbitrary bytes, then what callers do with the tree: a checkpoint's state dict
 * (checkpoint['model']), a top-level state dict (pytorch_model.bin) and a one-tensor file
 * (*.bert.pt).
 *
 * Two input forms, so mutations reach past the zip's CRCs:
 *  - bytes starting with "PK": a zip file as it is (the container itself is fuzzed);
 *  - anything else: "<data.pkl>" followed by storages, each introduced by FUZZ_PTH_SEP; the harness
 *    writes a well-formed torch.save zip (archive/data.pkl, archive/data/0, 1, ..., STORED, valid
 *    CRCs) with libzip, so the pickle and its persistent ids meet real entries of any size. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>
#include <zip.h>

#include "../src/io/pth.h"

#define FUZZ_PTH_SEP "\nBVSTORAGE\n"

static char g_zip[96];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char dir[64];
    snprintf(dir, sizeof dir, "/dev/shm/bv2-fuzz-pth-XXXXXX");   /* memory, when there is a /dev/shm */
    if (!mkdtemp(dir)) {
        snprintf(dir, sizeof dir, "/tmp/bv2-fuzz-pth-XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    snprintf(g_zip, sizeof g_zip, "%s/archive.pth", dir);
    return 0;
}

static void add(zip_t *za, const char *name, const uint8_t *p, size_t n) {
    zip_source_t *src = zip_source_buffer(za, p, n, 0);
    zip_int64_t idx = src ? zip_file_add(za, name, src, ZIP_FL_OVERWRITE) : -1;
    if (idx < 0) {
        zip_source_free(src);
        abort();
    }
    zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
}

/* The structured form written as a zip at g_zip. */
static void write_zip(const uint8_t *data, size_t size) {
    int zerr;
    zip_t *za = zip_open(g_zip, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!za) abort();
    const size_t sl = strlen(FUZZ_PTH_SEP);
    const uint8_t *p = data, *end = data + size;
    int k = -1;
    while (p <= end && k < 16) {
        const uint8_t *q = memmem(p, (size_t)(end - p), FUZZ_PTH_SEP, sl);
        if (!q) q = end;
        char name[64];
        if (k < 0) snprintf(name, sizeof name, "archive/data.pkl");
        else snprintf(name, sizeof name, "archive/data/%d", k);
        add(za, name, p, (size_t)(q - p));
        k++;
        p = q + sl;
    }
    add(za, "archive/version", (const uint8_t *)"3\n", 2);
    if (zip_close(za) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[96], err[512];
    int fd = -1;
    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
        fd = fuzz_memfd(data, size, path);
    } else {
        write_zip(data, size);
        snprintf(path, sizeof path, "%s", g_zip);
    }
    bv_pth f;
    if (bv_pth_open(&f, path, err, sizeof err) == 0) {
        bv_pth_dict d;
        if (bv_pth_state_dict_from(f.root, "root", &d, err, sizeof err) == 0) bv_pth_dict_free(&d);
        if (bv_pth_state_dict_from(bv_pk_get(f.root, "model"), "model", &d, err, sizeof err) == 0) {
            for (int i = 0; i < d.n; i++) (void)bv_pth_dict_find(&d, d.items[i].name);
            bv_pth_dict_free(&d);
        }
        int64_t it;
        double lr;
        (void)bv_pk_as_int(bv_pk_get(f.root, "iteration"), &it);
        (void)bv_pk_as_double(bv_pk_get(f.root, "learning_rate"), &lr);
        const bv_pk_value *opt = bv_pk_get(f.root, "optimizer");
        (void)bv_pk_len(bv_pk_get(opt, "state"));
        (void)bv_pk_at(bv_pk_get(opt, "param_groups"), 0);
        (void)bv_pk_equal(f.root, f.root);
        int is_tensor = bv_pk_as_tensor(f.root) != NULL;
        bv_pth_close(&f);
        if (is_tensor) {
            bv_pth_tensor t;
            if (bv_pth_load_tensor(path, &t, err, sizeof err) == 0) bv_pth_tensor_free(&t);
        }
    }
    if (fd >= 0) close(fd);
    return 0;
}
