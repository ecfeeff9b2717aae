/* fuzz_pickle.c - the pickle VM (bv_pk_load) on arbitrary bytes, without the zip around it: every
 * persistent id gets a zero-filled storage of the numel it asks for (capped at 1 Mi elements,
 * as pth.c caps it by the zip entry's size), so tensor rebuilding with any offset, shape and
 * strides is reached. A loaded tree is then written again (bv_pk_dump), read back with the
 * written tensors as its storages, and must equal the first reading (bv_pk_equal): the reader and
 * the writer agree on everything the writer accepts. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/io/pickle.h"

static bv_pk_value *storage(void *user, bv_pk_doc *doc, const bv_pk_value *pid, char *err, size_t errcap) {
    (void)user;
    const bv_pk_value *type = bv_pk_at(pid, 1);
    int64_t numel;
    if (pid->kind != BV_PK_TUPLE || bv_pk_len(pid) != 5 || !type || type->kind != BV_PK_GLOBAL ||
        bv_pk_as_int(bv_pk_at(pid, 4), &numel) || numel < 0 || numel > (1 << 20))
        return snprintf(err, errcap, "bad persistent id"), NULL;
    bv_pk_value *s = bv_pk_storage_new(doc, type->global.name, numel);
    if (!s) return snprintf(err, errcap, "bad storage type"), NULL;
    memset(s->storage.data, 0, (size_t)numel * (size_t)s->storage.elsize);
    return s;
}

/* Second reading: persistent id '<k>' is the k-th tensor the writer listed. */
typedef struct written {
    const bv_pk_tensor **t;
    int n;
} written;

static bv_pk_value *storage_back(void *user, bv_pk_doc *doc, const bv_pk_value *pid, char *err, size_t errcap) {
    const written *w = user;
    const bv_pk_value *type = bv_pk_at(pid, 1);
    const char *key = bv_pk_as_str(bv_pk_at(pid, 2));
    int k = key ? atoi(key) : -1;
    if (!type || type->kind != BV_PK_GLOBAL || k < 0 || k >= w->n)
        return snprintf(err, errcap, "written pickle: bad persistent id"), NULL;
    const bv_pk_tensor *t = w->t[k];
    bv_pk_value *s = bv_pk_storage_new(doc, type->global.name, t->numel);
    if (!s) return snprintf(err, errcap, "written pickle: bad storage"), NULL;
    size_t nb = (size_t)t->numel * (size_t)s->storage.elsize;
    if (nb) memcpy(s->storage.data, t->data, nb);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    bv_pk_doc *doc = bv_pk_doc_new();
    bv_pk_value *root = NULL;
    if (bv_pk_load(doc, data, size, storage, NULL, &root, err, sizeof err) == 0) {
        unsigned char *out = NULL;
        size_t outlen = 0;
        const bv_pk_tensor **tensors = NULL;
        int nt = 0;
        if (bv_pk_dump(root, &out, &outlen, &tensors, &nt, err, sizeof err) == 0) {
            bv_pk_doc *doc2 = bv_pk_doc_new();
            bv_pk_value *root2 = NULL;
            written w = {tensors, nt};
            if (bv_pk_load(doc2, out, outlen, storage_back, &w, &root2, err, sizeof err) != 0) {
                fprintf(stderr, "fuzz_pickle: the written pickle does not read back: %s\n", err);
                abort();
            }
            if (!bv_pk_equal(root, root2)) {
                fprintf(stderr, "fuzz_pickle: the written pickle reads back different\n");
                abort();
            }
            bv_pk_doc_free(doc2);
            free(out);
            free(tensors);
        }
        (void)bv_pk_equal(root, root);
    }
    bv_pk_doc_free(doc);
    return 0;
}
