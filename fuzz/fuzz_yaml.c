/* fuzz_yaml.c - upstream's config.yml readers on arbitrary bytes: bv_yaml_flat_load (libyaml
 * events flattened to dotted keys) and bv_yml_read_train_ms (src/io/yml_config.c: the train_ms
 * section). */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/io/yaml_flat.h"
#include "../src/io/yml_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64], err[512];
    int fd = fuzz_memfd(data, size, path);
    bv_yaml_flat doc;
    if (bv_yaml_flat_load(path, &doc, err, sizeof err) == 0) {
        for (int i = 0; i < doc.n; i++)
            if (!bv_yaml_flat_get(&doc, doc.e[i].key)) abort();
        bv_yaml_flat_free(&doc);
    }
    bv_yml_train_ms y;
    (void)bv_yml_read_train_ms(path, &y, err, sizeof err);
    close(fd);
    return 0;
}
