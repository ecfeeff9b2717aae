/* test_yml_config.c - src/io/yml_config.c: upstream's config.yml (dataset_path, train_ms) read as
 * PyYAML reads it, and its errors naming the file and line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/io/yml_config.h"
#include "fixtures.h"
#include "test.h"

#define write_yml(ts, path, text) BV_CHECK(bv_test_write_text(path, text) == 0, "cannot write %s", path)

BV_TEST(yml_config_reads_train_ms) {
    char dir[] = "/tmp/bv_yml_XXXXXX", path[256], err[512];
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/config.yml", dir);
    write_yml(ts, path,
              "# global\n"
              "dataset_path: \"Data/mine\"   # trailing comment\n"
              "mirror: \"\"\n"
              "resample:\n"
              "  sampling_rate: 44100\n"
              "  in_dir: \"audios/raw\"\n"
              "train_ms:\n"
              "  env:\n"
              "    MASTER_ADDR: \"localhost\"\n"
              "    WORLD_SIZE: 1\n"
              "  base:\n"
              "    use_base_model: 'base/2.3'\n"
              "    repo_id: \"Stardust_minus/Bert-VITS2\"\n"
              "  model: \"models\"\n"
              "  config_path: \"configs/config.json\"\n"
              "  num_workers: 3\n"
              "  spec_cache: True\n"
              "  keep_ckpts: 5\n"
              "webui:\n"
              "  model: \"models/G_8000.pth\"\n"
              "  keep_ckpts: 99\n");
    bv_yml_train_ms y;
    int rc = bv_yml_read_train_ms(path, &y, err, sizeof err);
    BV_CHECK(rc == 0, "%s", err);
    BV_CHECK(!strcmp(y.dataset_path, "Data/mine") && !strcmp(y.model, "models") &&
             !strcmp(y.config_path, "configs/config.json") && !strcmp(y.base_model, "base/2.3") && y.num_workers == 3 &&
             y.spec_cache == 1 && y.keep_ckpts == 5, "values: %s %s %s %s %d %d %d", y.dataset_path, y.model,
             y.config_path, y.base_model, y.num_workers, y.spec_cache, y.keep_ckpts);
    write_yml(ts, path, "train_ms:\n  keep_ckpts: many\n");
    rc = bv_yml_read_train_ms(path, &y, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, "config.yml:2") && strstr(err, "train_ms.keep_ckpts"), "bad int: %s", err);
    write_yml(ts, path, "train_ms:\n  base:\n    use_base_model: true\n");
    rc = bv_yml_read_train_ms(path, &y, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, "config.yml:3") && strstr(err, "local folder"), "use_base_model true: %s", err);
    write_yml(ts, path, "train_ms:\n  base:\n    use_base_model: false\n  spec_cache: maybe\n");
    rc = bv_yml_read_train_ms(path, &y, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, "config.yml:4") && strstr(err, "spec_cache"), "bad bool: %s", err);
    write_yml(ts, path, "train_ms:\n  this line has no colon\n");
    rc = bv_yml_read_train_ms(path, &y, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, "config.yml:2") && strstr(err, "mapping"), "scalar section: %s", err);
    write_yml(ts, path, "train_ms:\n  keep_ckpts: [1, 2\n");
    rc = bv_yml_read_train_ms(path, &y, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, "config.yml:"), "malformed YAML: %s", err);
    write_yml(ts, path, "train_ms:\n  keep_ckpts: 2\n---\ntrain_ms:\n  keep_ckpts: 3\n");
    rc = bv_yml_read_train_ms(path, &y, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, "config.yml:3") && strstr(err, "second YAML document"), "two documents: %s", err);
    snprintf(path, sizeof path, "%s/absent.yml", dir);
    rc = bv_yml_read_train_ms(path, &y, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, "absent.yml"), "missing file: %s", err);
    unlink(path);
    snprintf(path, sizeof path, "%s/config.yml", dir);
    unlink(path);
    rmdir(dir);
}
