/* pth.h - PyTorch torch.save files (the zip format since torch 1.6): read and write.
 *
 * A file is a zip archive whose entries all sit in one folder named after the file's stem
 * (G_0.pth -> "G_0/"; some writers use "archive/"): <dir>/data.pkl (the pickled object tree, see
 * pickle.h), <dir>/data/<key> (raw little-endian storages, one per persistent id) and
 * <dir>/version ("3"). Entries are STORED (no compression); torch aligns every entry's data to
 * 64 bytes with padding in the local header's extra field, and so do we.
 *
 * What Bert-VITS2 keeps in such files:
 *   G_*.pth / D_*.pth / DUR_*.pth / WD_*.pth  {'model': OrderedDict(state_dict), 'iteration': epoch,
 *       'optimizer': AdamW.state_dict(), 'learning_rate': float}
 *       optimizer: {'state': {int: {'step', 'exp_avg', 'exp_avg_sq'}},
 *                   'param_groups': [{'lr', 'betas', 'eps', 'weight_decay', ..., 'params': [int]}]}
 *   *.bert.pt, *.spec.pt   one tensor (bert.pt: a transposed view, materialised contiguous here)
 *   pytorch_model.bin      a state dict at the top level (HuggingFace)
 *
 * Saving a checkpoint as upstream utils.save_checkpoint does (tensors borrow the model's memory):
 *   bv_pk_doc *doc = bv_pk_doc_new();
 *   bv_pk_value *ck = bv_pk_dict(doc, 0), *model = bv_pk_dict(doc, 1);   // model: an OrderedDict
 *   bv_pk_dict_set_str(doc, model, "enc_p.emb.weight", bv_pk_tensor_ref(doc, BV_ST_F32, 2, shape, data));
 *   bv_pk_dict_set_str(doc, ck, "model", model);
 *   bv_pk_dict_set_str(doc, ck, "iteration", bv_pk_int(doc, epoch));
 *   bv_pk_dict_set_str(doc, ck, "optimizer", opt);   // 'step' as a float32 scalar tensor, like torch >= 1.12
 *   bv_pk_dict_set_str(doc, ck, "learning_rate", bv_pk_float(doc, lr));
 *   if (bv_pth_save(path, ck, err, sizeof err)) ...;
 *   bv_pk_doc_free(doc);
 *
 * Errors name the file and what is wrong; a truncated or corrupt file is never a crash.
 * Reading loads every storage of the file (a checkpoint's optimizer moments too).
 */
#ifndef BV_PTH_H
#define BV_PTH_H

#include <stddef.h>
#include <stdint.h>

#include "pickle.h"
#include "safetensors.h"

/* ---- the whole object tree ---- */
typedef struct bv_pth {
    bv_pk_doc *doc;        /* owns every value and tensor buffer */
    bv_pk_value *root;     /* the unpickled object */
    char archive[256];     /* the folder prefix inside the zip ("G_0") */
} bv_pth;

/* Reads the whole file (pickle and every storage it references). 0, or -1 with err filled. */
int bv_pth_open(bv_pth *f, const char *path, char *err, size_t errcap);
void bv_pth_close(bv_pth *f);

/* Writes `root` (built with pickle.h constructors) as torch.save does: "<path>.tmp" first, fsync,
 * then rename over path, so a crash never leaves a half-written checkpoint under the real name.
 * The folder inside the zip is the file name's stem, as torch names it. */
int bv_pth_save(const char *path, const bv_pk_value *root, char *err, size_t errcap);

/* ---- state dicts ---- */
typedef struct bv_pth_tensor {
    char *name;
    int ndim;
    int64_t shape[8];
    bv_st_dtype dtype;
    void *data;            /* contiguous row-major, malloc'ed (64-byte aligned) */
} bv_pth_tensor;

typedef struct bv_pth_dict {
    bv_pth_tensor *items;
    int n;
} bv_pth_dict;

/* Tensors of a state dict in file order. key NULL: the top-level object is the state dict
 * (pytorch_model.bin); "model": checkpoint['model']. Non-tensor entries are an error. */
int bv_pth_load_state_dict(const char *path, const char *key, bv_pth_dict *out, char *err, size_t errcap);
/* Same, from an already opened tree (dict: any str -> tensor dict). */
int bv_pth_state_dict_from(const bv_pk_value *dict, const char *what, bv_pth_dict *out, char *err, size_t errcap);
void bv_pth_dict_free(bv_pth_dict *d);
const bv_pth_tensor *bv_pth_dict_find(const bv_pth_dict *d, const char *name);

/* A one-tensor file (*.bert.pt, *.spec.pt) as a bv_pth_tensor (name "") - free with
 * bv_pth_tensor_free. */
int bv_pth_load_tensor(const char *path, bv_pth_tensor *out, char *err, size_t errcap);
void bv_pth_tensor_free(bv_pth_tensor *t);

#endif
