/* yaml_flat.c - flatten a YAML document with libyaml's event parser (see yaml_flat.h). */
#include "yaml_flat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "../core/error.h"

#define MAX_DEPTH 32

/* One open collection: its dotted path, whether it is a sequence (and the next index), and, for a
 * mapping, whether the next scalar is a key. */
typedef struct {
    char path[1024];
    int is_seq, next_index, expect_key;
    char key[256];
} level;

static void add_entry(bv_yaml_flat *doc, const char *key, const char *val, int line, int quoted) {
    if (doc->n == doc->cap) {
        doc->cap = doc->cap ? 2 * doc->cap : 32;
        doc->e = bv_xrealloc(doc->e, sizeof *doc->e * (size_t)doc->cap);
    }
    bv_yaml_entry *e = &doc->e[doc->n++];
    e->key = strdup(key);
    e->val = strdup(val);
    e->line = line;
    e->quoted = quoted;
    if (!e->key || !e->val) BV_FATAL("out of memory");
}

/* The dotted path of the next value inside level l ("a.b" + key or index); -1 if it does not fit. */
static int child_path(const level *l, char *out, size_t cap) {
    const char *sep = l->path[0] ? "." : "";
    int n = l->is_seq ? snprintf(out, cap, "%s%s%d", l->path, sep, l->next_index)
                      : snprintf(out, cap, "%s%s%.255s", l->path, sep, l->key);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int bv_yaml_flat_load(const char *path, bv_yaml_flat *doc, char *err, size_t errcap) {
    memset(doc, 0, sizeof *doc);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    level st[MAX_DEPTH];
    int depth = 0, rc = 0, done = 0, n_docs = 0;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            snprintf(err, errcap, "%s:%zu: %s", path, p.problem_mark.line + 1, p.problem ? p.problem : "malformed YAML");
            rc = -1;
            break;
        }
        int line = (int)ev.start_mark.line + 1;
        level *top = depth ? &st[depth - 1] : NULL;
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT: {
            if (depth == MAX_DEPTH) {
                snprintf(err, errcap, "%s:%d: nesting deeper than %d levels", path, line, MAX_DEPTH);
                rc = -1;
                done = 1;
                break;
            }
            level *l = &st[depth];
            memset(l, 0, sizeof *l);
            if (top && child_path(top, l->path, sizeof l->path)) {
                snprintf(err, errcap, "%s:%d: key path too long", path, line);
                rc = -1;
                done = 1;
                break;
            }
            l->is_seq = ev.type == YAML_SEQUENCE_START_EVENT;
            l->expect_key = !l->is_seq;
            depth++;
            break;
        }
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            /* the finished collection was the value of its parent's current key / index */
            if (depth > 0) {
                level *parent = &st[depth - 1];
                if (parent->is_seq) parent->next_index++;
                else parent->expect_key = 1;
            }
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (!top) break; /* a document that is a bare scalar: nothing to flatten */
            if (!top->is_seq && top->expect_key) {
                snprintf(top->key, sizeof top->key, "%s", v);
                top->expect_key = 0;
                break;
            }
            char key[1024];
            if (child_path(top, key, sizeof key)) {
                snprintf(err, errcap, "%s:%d: key path too long", path, line);
                rc = -1;
                done = 1;
                break;
            }
            add_entry(doc, key, v, line, ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE);
            if (top->is_seq) top->next_index++;
            else top->expect_key = 1;
            break;
        }
        case YAML_ALIAS_EVENT:
            snprintf(err, errcap, "%s:%d: YAML aliases are not supported in config files", path, line);
            rc = -1;
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            /* upstream reads config.yml with yaml.safe_load, which refuses a second document */
            if (++n_docs > 1) {
                snprintf(err, errcap, "%s:%d: a second YAML document ('---'); config.yml must hold one", path, line);
                rc = -1;
                done = 1;
            }
            break;
        case YAML_STREAM_END_EVENT: done = 1; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    fclose(f);
    if (rc) bv_yaml_flat_free(doc);
    return rc;
}

void bv_yaml_flat_free(bv_yaml_flat *doc) {
    for (int i = 0; i < doc->n; i++) {
        free(doc->e[i].key);
        free(doc->e[i].val);
    }
    free(doc->e);
    memset(doc, 0, sizeof *doc);
}

const bv_yaml_entry *bv_yaml_flat_get(const bv_yaml_flat *doc, const char *key) {
    for (int i = doc->n - 1; i >= 0; i--)
        if (!strcmp(doc->e[i].key, key)) return &doc->e[i];
    return NULL;
}
