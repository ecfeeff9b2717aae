/* yml_config.h - upstream's config.yml (Bert-VITS2 2.3's central settings file), the keys bv2 train
 * reads: dataset_path and the train_ms section. Values are parsed as PyYAML reads them (YAML 1.1
 * booleans, integers), through yaml_flat.h; errors name the file and line:
 *
 *   bv_yml_train_ms y;
 *   if (bv_yml_read_train_ms("config.yml", &y, err, sizeof err)) ...  // "config.yml:4: train_ms.spec_cache: ..."
 */
#ifndef BV_IO_YML_CONFIG_H
#define BV_IO_YML_CONFIG_H

#include <stddef.h>

/* The train_ms section of upstream's config.yml (only the keys bv2 uses). */
typedef struct bv_yml_train_ms {
    char dataset_path[1024];      /* top-level dataset_path ("" if absent) */
    char model[1024];             /* train_ms.model ("models" if absent) */
    char config_path[1024];       /* train_ms.config_path ("" if absent) */
    char base_model[1024];        /* train_ms.base.use_base_model as a folder ("" = none) */
    int num_workers;              /* -1 if absent */
    int spec_cache;               /* -1 if absent */
    int keep_ckpts;               /* -1 if absent */
} bv_yml_train_ms;

/* Reads the block-mapping subset of YAML that config.yml uses (nested "key: value" lines, comments,
 * quoted strings). use_base_model: true is an error (bv2 does not download; give a folder). Returns
 * 0, or -1 with "<path>:<line>: ..." or "<path>: <key>: ..." in err. */
int bv_yml_read_train_ms(const char *path, bv_yml_train_ms *out, char *err, size_t errcap);

#endif
