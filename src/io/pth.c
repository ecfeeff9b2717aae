/* pth.c - torch.save zip files on libzip: find the archive folder, unpickle data.pkl with storages
 * read from data/<key> on demand, and write the same layout (STORED entries, data aligned to 64
 * bytes like torch's PyTorchStreamWriter, written to "<path>.tmp.<pid>" then renamed). */
#include "pth.h"
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "../core/error.h"

#define PTH_ALIGN 64
#define PTH_PAD_FIELD 0x4246 /* "FB": the extra-field id torch pads with */

#define FAIL(...)                           \
    do {                                    \
        snprintf(err, errcap, __VA_ARGS__); \
        goto fail;                          \
    } while (0)

static void zip_code_str(int code, char *buf, size_t cap) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    snprintf(buf, cap, "%s", zip_error_strerror(&ze));
    zip_error_fini(&ze);
}

/* Reads a whole entry into buf (cap bytes, must equal the entry's size), checking its CRC. */
static int read_entry(zip_t *za, zip_uint64_t idx, void *buf, zip_uint64_t size, char *err, size_t errcap) {
    zip_file_t *zf = zip_fopen_index(za, idx, 0);
    if (!zf) return snprintf(err, errcap, "cannot open entry %s: %s", zip_get_name(za, idx, ZIP_FL_ENC_RAW),
                             zip_strerror(za)), -1;
    zip_uint64_t got = 0;
    while (got < size) {
        zip_int64_t k = zip_fread(zf, (char *)buf + got, size - got);
        if (k <= 0) break;
        got += (zip_uint64_t)k;
    }
    char extra;
    /* reading past the end makes libzip compare the CRC */
    zip_int64_t tail = got == size ? zip_fread(zf, &extra, 1) : -1;
    int rc = 0;
    if (got != size || tail != 0) {
        snprintf(err, errcap, "entry %s is corrupt or truncated (%s)", zip_get_name(za, idx, ZIP_FL_ENC_RAW),
                 zip_file_strerror(zf));
        rc = -1;
    }
    zip_fclose(zf);
    return rc;
}

static int entry_size(zip_t *za, zip_uint64_t idx, zip_uint64_t *size, char *err, size_t errcap) {
    zip_stat_t st;
    if (zip_stat_index(za, idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return snprintf(err, errcap, "cannot stat entry %llu: %s", (unsigned long long)idx, zip_strerror(za)), -1;
    *size = st.size;
    return 0;
}

typedef struct loader {
    zip_t *za;
    const char *archive;
    bv_pk_value *cache; /* key (str) -> storage, for storages shared by several tensors */
} loader;

/* persistent_load(('storage', torch.<T>Storage, key, location, numel)) -> the storage's bytes. */
static bv_pk_value *load_storage(void *user, bv_pk_doc *doc, const bv_pk_value *pid, char *err, size_t errcap) {
    loader *L = user;
    const bv_pk_value *tag = bv_pk_at(pid, 0), *type = bv_pk_at(pid, 1), *key = bv_pk_at(pid, 2);
    int64_t numel;
    if (bv_pk_len(pid) != 5 || pid->kind != BV_PK_TUPLE || !bv_pk_as_str(tag) || strcmp(tag->str.s, "storage") ||
        !type || type->kind != BV_PK_GLOBAL || !bv_pk_as_str(key) || bv_pk_as_int(bv_pk_at(pid, 4), &numel))
        return snprintf(err, errcap, "persistent id is not ('storage', type, key, location, numel)"), NULL;
    bv_pk_value *hit = bv_pk_get(L->cache, key->str.s);
    if (hit) return hit;
    bv_st_dtype dt;
    int es;
    if (strcmp(type->global.module, "torch") || bv_pk_storage_type(type->global.name, &dt, &es, NULL))
        return snprintf(err, errcap, "unsupported storage type %s.%s", type->global.module, type->global.name), NULL;
    char name[512];
    if ((size_t)snprintf(name, sizeof name, "%s/data/%s", L->archive, key->str.s) >= sizeof name)
        return snprintf(err, errcap, "storage key too long"), NULL;
    zip_int64_t idx = zip_name_locate(L->za, name, ZIP_FL_ENC_RAW);
    if (idx < 0) return snprintf(err, errcap, "storage record %s is missing", name), NULL;
    zip_uint64_t size;
    if (entry_size(L->za, (zip_uint64_t)idx, &size, err, errcap)) return NULL;
    /* torch writes exactly numel*elsize bytes; the whole entry is read so its CRC is checked */
    if (numel < 0 || (zip_uint64_t)numel > size / (zip_uint64_t)es || size != (zip_uint64_t)numel * (zip_uint64_t)es)
        return snprintf(err, errcap, "record %s holds %llu bytes, expected %lld elements of %s", name,
                        (unsigned long long)size, (long long)numel, type->global.name), NULL;
    bv_pk_value *s = bv_pk_storage_new(doc, type->global.name, numel);
    if (!s) return snprintf(err, errcap, "out of memory for %s (%lld elements)", name, (long long)numel), NULL;
    if (read_entry(L->za, (zip_uint64_t)idx, s->storage.data, size, err, errcap)) return NULL;
    bv_pk_dict_set(L->cache, bv_pk_str(doc, key->str.s), s);
    return s;
}

/* The folder holding data.pkl: the first entry named "<dir>/data.pkl" with no other '/'. */
static int find_archive(zip_t *za, char *archive, size_t cap, zip_uint64_t *pkl_idx) {
    zip_int64_t n = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        const char *slash = name ? strchr(name, '/') : NULL;
        if (!slash || strcmp(slash, "/data.pkl") != 0 || (size_t)(slash - name) >= cap) continue;
        memcpy(archive, name, (size_t)(slash - name));
        archive[slash - name] = 0;
        *pkl_idx = (zip_uint64_t)i;
        return 0;
    }
    return -1;
}

/* Big-endian files (torch writes <dir>/byteorder = "big" there) would need byte swapping. */
static int check_byteorder(zip_t *za, const char *archive, char *err, size_t errcap) {
    char name[300], buf[8] = {0};
    snprintf(name, sizeof name, "%s/byteorder", archive);
    zip_int64_t idx = zip_name_locate(za, name, ZIP_FL_ENC_RAW);
    zip_uint64_t size;
    if (idx < 0) return 0;
    if (entry_size(za, (zip_uint64_t)idx, &size, err, errcap)) return -1;
    if (size >= sizeof buf) return snprintf(err, errcap, "%s is malformed", name), -1;
    if (read_entry(za, (zip_uint64_t)idx, buf, size, err, errcap)) return -1;
    if (strncmp(buf, "little", 6) != 0) return snprintf(err, errcap, "byte order '%s' is not supported", buf), -1;
    return 0;
}

int bv_pth_open(bv_pth *f, const char *path, char *err, size_t errcap) {
    memset(f, 0, sizeof *f);
    unsigned char *pkl = NULL;
    char sub[384];
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!za) {
        zip_code_str(zerr, sub, sizeof sub);
        FAIL("%s: cannot read as a torch.save zip archive: %s", path, sub);
    }
    zip_uint64_t pkl_idx, pkl_size;
    if (find_archive(za, f->archive, sizeof f->archive, &pkl_idx))
        FAIL("%s: no <dir>/data.pkl entry: not a torch.save file (or a pre-1.6 legacy one)", path);
    if (check_byteorder(za, f->archive, sub, sizeof sub)) FAIL("%s: %s", path, sub);
    if (entry_size(za, pkl_idx, &pkl_size, sub, sizeof sub)) FAIL("%s: %s", path, sub);
    if (pkl_size > ((zip_uint64_t)1 << 34)) FAIL("%s: data.pkl of %llu bytes is implausible", path,
                                                  (unsigned long long)pkl_size);
    pkl = malloc(pkl_size ? (size_t)pkl_size : 1);
    if (!pkl) FAIL("%s: out of memory", path);
    if (read_entry(za, pkl_idx, pkl, pkl_size, sub, sizeof sub)) FAIL("%s: %s", path, sub);
    f->doc = bv_pk_doc_new();
    loader L = {za, f->archive, bv_pk_dict(f->doc, 0)};
    if (bv_pk_load(f->doc, pkl, (size_t)pkl_size, load_storage, &L, &f->root, sub, sizeof sub))
        FAIL("%s: %s/data.pkl: %s", path, f->archive, sub);
    free(pkl);
    zip_discard(za);
    return 0;
fail:
    free(pkl);
    if (za) zip_discard(za);
    bv_pth_close(f);
    return -1;
}

void bv_pth_close(bv_pth *f) {
    bv_pk_doc_free(f->doc);
    memset(f, 0, sizeof *f);
}

/* ------------------------------------------------------------------------------------------ */
/* state dicts                                                                                 */

void bv_pth_tensor_free(bv_pth_tensor *t) {
    free(t->name);
    free(t->data);
    memset(t, 0, sizeof *t);
}

static int copy_tensor(bv_pth_tensor *dst, const char *name, const bv_pk_tensor *t) {
    size_t nb = (size_t)t->numel * (size_t)t->elsize;
    dst->name = strdup(name);
    dst->data = aligned_alloc(PTH_ALIGN, (nb + PTH_ALIGN - 1) / PTH_ALIGN * PTH_ALIGN + (nb ? 0 : PTH_ALIGN));
    if (!dst->name || !dst->data) return -1;
    if (nb) memcpy(dst->data, t->data, nb);
    dst->ndim = t->ndim;
    memcpy(dst->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    dst->dtype = t->dtype;
    return 0;
}

void bv_pth_dict_free(bv_pth_dict *d) {
    for (int i = 0; i < d->n; i++) bv_pth_tensor_free(&d->items[i]);
    free(d->items);
    d->items = NULL;
    d->n = 0;
}

const bv_pth_tensor *bv_pth_dict_find(const bv_pth_dict *d, const char *name) {
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->items[i].name, name) == 0) return &d->items[i];
    return NULL;
}

int bv_pth_state_dict_from(const bv_pk_value *dict, const char *what, bv_pth_dict *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    if (!dict || dict->kind != BV_PK_DICT)
        return snprintf(err, errcap, "%s is a %s, expected a state dict", what,
                        dict ? bv_pk_kind_name(dict->kind) : "missing value"), -1;
    out->items = bv_xcalloc((size_t)(dict->dict.n ? dict->dict.n : 1), sizeof(bv_pth_tensor));
    for (int i = 0; i < dict->dict.n; i++) {
        const char *name = bv_pk_as_str(dict->dict.items[i].key);
        const bv_pk_tensor *t = bv_pk_as_tensor(dict->dict.items[i].val);
        if (!name || !t) {
            snprintf(err, errcap, "%s entry %d (%s) is not a tensor", what, i, name ? name : "non-str key");
            bv_pth_dict_free(out);
            return -1;
        }
        out->n++;
        if (copy_tensor(&out->items[i], name, t)) BV_FATAL("out of memory copying tensor %s", name);
    }
    return 0;
}

int bv_pth_load_state_dict(const char *path, const char *key, bv_pth_dict *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    bv_pth f;
    if (bv_pth_open(&f, path, err, errcap)) return -1;
    const bv_pk_value *dict = f.root;
    char what[300];
    snprintf(what, sizeof what, "%s: %s%s%s", path, key ? "['" : "the top-level object", key ? key : "",
             key ? "']" : "");
    if (key && !bv_pk_get(f.root, key)) {
        snprintf(err, errcap, "%s: has no '%s' entry", path, key);
        bv_pth_close(&f);
        return -1;
    }
    if (key) dict = bv_pk_get(f.root, key);
    int rc = bv_pth_state_dict_from(dict, what, out, err, errcap);
    bv_pth_close(&f);
    return rc;
}

int bv_pth_load_tensor(const char *path, bv_pth_tensor *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    bv_pth f;
    if (bv_pth_open(&f, path, err, errcap)) return -1;
    const bv_pk_tensor *t = bv_pk_as_tensor(f.root);
    int rc = 0;
    if (!t) {
        snprintf(err, errcap, "%s: holds a %s, expected one tensor", path, bv_pk_kind_name(f.root->kind));
        rc = -1;
    } else if (copy_tensor(out, "", t)) {
        BV_FATAL("out of memory copying %s", path);
    }
    bv_pth_close(&f);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* writing                                                                                     */

/* torch names the folder after the file: basename without its last extension. */
static void archive_name(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    int ok = n > 0 && n < cap;
    for (size_t i = 0; ok && i < n; i++) ok = base[i] >= 0x20 && base[i] < 0x7f;
    if (!ok) {
        snprintf(out, cap, "archive");
        return;
    }
    memcpy(out, base, n);
    out[n] = 0;
}

typedef struct zwriter {
    zip_t *za;
    zip_uint64_t offset; /* where the next local header starts */
    char *err;
    size_t errcap;
} zwriter;

/* Adds a STORED entry whose data starts on a 64-byte boundary: local header (30 bytes + name) plus
 * an "FB" extra field of padding, exactly as PyTorchStreamWriter lays records out. */
static int add_entry(zwriter *w, const char *name, const void *data, size_t len) {
    zip_source_t *src = zip_source_buffer(w->za, data, len, 0);
    if (!src) return snprintf(w->err, w->errcap, "%s: %s", name, zip_strerror(w->za)), -1;
    zip_int64_t idx = zip_file_add(w->za, name, src, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
        zip_source_free(src);
        return snprintf(w->err, w->errcap, "%s: %s", name, zip_strerror(w->za)), -1;
    }
    static const zip_uint8_t zeros[PTH_ALIGN] = {0};
    zip_uint64_t hdr = w->offset + 30 + strlen(name), pad = 0, extra = 0;
    if (hdr % PTH_ALIGN) {
        pad = (PTH_ALIGN - (hdr + 4) % PTH_ALIGN) % PTH_ALIGN;
        extra = 4 + pad;
    }
    if (zip_set_file_compression(w->za, (zip_uint64_t)idx, ZIP_CM_STORE, 0) ||
        zip_file_set_dostime(w->za, (zip_uint64_t)idx, 0, (1 << 5) | 1, 0) || /* 1980-01-01: reproducible */
        (extra && zip_file_extra_field_set(w->za, (zip_uint64_t)idx, PTH_PAD_FIELD, ZIP_EXTRA_FIELD_NEW, zeros,
                                           (zip_uint16_t)pad, ZIP_FL_LOCAL)))
        return snprintf(w->err, w->errcap, "%s: %s", name, zip_strerror(w->za)), -1;
    w->offset = hdr + extra + len;
    return 0;
}

int bv_pth_save(const char *path, const bv_pk_value *root, char *err, size_t errcap) {
    unsigned char *pkl = NULL;
    size_t pkl_len = 0;
    const bv_pk_tensor **tensors = NULL;
    int nt = 0, zerr = 0;
    char sub[384], arch[200], name[300];
    zip_t *za = NULL;
    /* unique per process and call: two ranks caching the same .spec.pt never share a temporary */
    bv_out_file o;
    if (bv_out_begin(&o, path, err, errcap)) return -1;
    const char *tmp = o.tmp;
    if (bv_pk_dump(root, &pkl, &pkl_len, &tensors, &nt, sub, sizeof sub)) FAIL("%s: cannot pickle: %s", path, sub);
    archive_name(path, arch, sizeof arch);
    za = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!za) {
        zip_code_str(zerr, sub, sizeof sub);
        FAIL("%s: cannot create: %s", tmp, sub);
    }
    zwriter w = {za, 0, sub, sizeof sub};
    snprintf(name, sizeof name, "%s/data.pkl", arch);
    if (add_entry(&w, name, pkl, pkl_len)) FAIL("%s: %s", tmp, sub);
    for (int k = 0; k < nt; k++) {
        snprintf(name, sizeof name, "%s/data/%d", arch, k);
        if (add_entry(&w, name, tensors[k]->data, (size_t)tensors[k]->numel * (size_t)tensors[k]->elsize))
            FAIL("%s: %s", tmp, sub);
    }
    snprintf(name, sizeof name, "%s/version", arch);
    if (add_entry(&w, name, "3\n", 2)) FAIL("%s: %s", tmp, sub);
    if (zip_close(za) != 0) FAIL("%s: write failed: %s", tmp, zip_strerror(za));
    za = NULL;
    free(pkl);
    free(tensors);
    return bv_out_commit(&o, err, errcap);
fail:
    if (za) zip_discard(za);
    bv_out_abort(&o);
    free(pkl);
    free(tensors);
    return -1;
}
