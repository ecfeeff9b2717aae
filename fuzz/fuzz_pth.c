/* fuzz_pth.c - bv_pth_open (libzip container + the pickle VM + storages read from data/<key>) on
 * arbitrary bytes, then what callers do with the tree: a checkpoint's state dict
 * (checkpoint['model']), a top-level state dict (pytorch_model.bin) and a one-tensor file
 * (*.bert.pt). */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/io/pth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64], err[512];
    int fd = fuzz_memfd(data, size, path);
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
    close(fd);
    return 0;
}
