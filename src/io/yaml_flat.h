/* yaml_flat.h - a YAML document (libyaml) flattened to dotted keys: "train_ms.base.use_base_model"
 * -> scalar text, with the line it came from. Enough for upstream's config.yml, which is nested
 * block mappings of scalars; sequences are indexed ("servers.0.port"). */
#ifndef BV_YAML_FLAT_H
#define BV_YAML_FLAT_H

#include <stddef.h>

typedef struct bv_yaml_entry {
    char *key;      /* dotted path */
    char *val;      /* the scalar as written, quotes removed by the parser */
    int line;       /* 1-based */
    int quoted;     /* the scalar was quoted: never a bool, number or null */
} bv_yaml_entry;

typedef struct bv_yaml_flat {
    bv_yaml_entry *e;
    int n, cap;
} bv_yaml_flat;

/* 0 on success; -1 with "path:line: reason" in err for an unreadable or malformed file. */
int bv_yaml_flat_load(const char *path, bv_yaml_flat *doc, char *err, size_t errcap);
void bv_yaml_flat_free(bv_yaml_flat *doc);
/* The last entry with this key (a later duplicate wins, as PyYAML's dict does), or NULL. */
const bv_yaml_entry *bv_yaml_flat_get(const bv_yaml_flat *doc, const char *key);

#endif
