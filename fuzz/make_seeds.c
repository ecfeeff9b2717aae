/* make_seeds.c - writes the fuzzers' seed inputs that come from bv2's own writers (`make
 * fuzz-seeds` builds and runs it; the results are committed under fuzz/corpus/). Seeds copied from
 * the golden data are listed in README.md, "Fuzzing and ThreadSanitizer".
 *
 *   build/fuzz-make-seeds fuzz/corpus
 *
 * Written: torch.save files (a tiny checkpoint with model / iteration / optimizer / learning_rate,
 * a bare state dict, one-tensor files of several dtypes, a tensor shared by two names) under pth/,
 * their pickles alone under pickle/ (persistent ids kept), safetensors files of every dtype under
 * safetensors/, 16-bit WAVs (mono, stereo, empty) under wav/, and partial weight files of the
 * demo model under weights/. Run from the repository root (it reads demo/config.json). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/infer/infer.h"
#include "../src/io/pickle.h"
#include "../src/io/pth.h"
#include "../src/io/safetensors_write.h"
#include "../src/io/wav.h"

static char g_root[512];
static char g_err[512];

static void check(int rc, const char *what) {
    if (rc) {
        fprintf(stderr, "make_seeds: %s: %s\n", what, g_err);
        exit(1);
    }
}

static void write_bytes(const char *sub, const char *name, const void *data, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", g_root, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        exit(1);
    }
}

/* root saved as pth/<name>.pth, its pickle as pickle/<name>.pkl, and the pickle followed by its
 * storages in fuzz_pth.c's structured form as pth/<name>.split. */
static void save(const char *name, const bv_pk_value *root) {
    char path[1024];
    snprintf(path, sizeof path, "%s/pth/%s.pth", g_root, name);
    check(bv_pth_save(path, root, g_err, sizeof g_err), path);
    unsigned char *pkl;
    size_t len;
    const bv_pk_tensor **tensors;
    int nt;
    check(bv_pk_dump(root, &pkl, &len, &tensors, &nt, g_err, sizeof g_err), name);
    char pname[256];
    snprintf(pname, sizeof pname, "%s.pkl", name);
    write_bytes("pickle", pname, pkl, len);
    static const char sep[] = "\nBVSTORAGE\n";   /* FUZZ_PTH_SEP */
    size_t total = len;
    for (int i = 0; i < nt; i++) total += sizeof sep - 1 + (size_t)tensors[i]->numel * (size_t)tensors[i]->elsize;
    unsigned char *split = malloc(total), *q = split;
    memcpy(q, pkl, len);
    q += len;
    for (int i = 0; i < nt; i++) {
        size_t nb = (size_t)tensors[i]->numel * (size_t)tensors[i]->elsize;
        memcpy(q, sep, sizeof sep - 1);
        q += sizeof sep - 1;
        if (nb) memcpy(q, tensors[i]->data, nb);
        q += nb;
    }
    snprintf(pname, sizeof pname, "%s.split", name);
    write_bytes("pth", pname, split, total);
    free(split);
    free(pkl);
    free(tensors);
}

static void pth_seeds(void) {
    float w[12], b[3];
    for (int i = 0; i < 12; i++) w[i] = (float)i * 0.25f - 1;
    for (int i = 0; i < 3; i++) b[i] = (float)i;
    int64_t sw[2] = {3, 4}, sb[1] = {3}, s0[1] = {0};

    bv_pk_doc *doc = bv_pk_doc_new();
    bv_pk_value *ck = bv_pk_dict(doc, 0), *model = bv_pk_dict(doc, 1);
    bv_pk_dict_set_str(doc, model, "enc_p.emb.weight", bv_pk_tensor_new(doc, BV_ST_F32, 2, sw, w));
    bv_pk_dict_set_str(doc, model, "enc_p.emb.bias", bv_pk_tensor_new(doc, BV_ST_F32, 1, sb, b));
    bv_pk_dict_set_str(doc, model, "empty", bv_pk_tensor_new(doc, BV_ST_F32, 1, s0, NULL));
    bv_pk_value *opt = bv_pk_dict(doc, 0), *state = bv_pk_dict(doc, 0), *st0 = bv_pk_dict(doc, 0);
    bv_pk_dict_set_str(doc, st0, "step", bv_pk_tensor_new(doc, BV_ST_F32, 0, NULL, &b[2]));
    bv_pk_dict_set_str(doc, st0, "exp_avg", bv_pk_tensor_new(doc, BV_ST_F32, 2, sw, w));
    bv_pk_dict_set_str(doc, st0, "exp_avg_sq", bv_pk_tensor_new(doc, BV_ST_F32, 2, sw, w));
    bv_pk_dict_set(state, bv_pk_int(doc, 0), st0);
    bv_pk_value *groups = bv_pk_list(doc), *g0 = bv_pk_dict(doc, 0), *betas = bv_pk_tuple(doc),
                *params = bv_pk_list(doc);
    bv_pk_append(betas, bv_pk_float(doc, 0.8));
    bv_pk_append(betas, bv_pk_float(doc, 0.99));
    bv_pk_append(params, bv_pk_int(doc, 0));
    bv_pk_append(params, bv_pk_int(doc, 1));
    bv_pk_dict_set_str(doc, g0, "lr", bv_pk_float(doc, 2e-4));
    bv_pk_dict_set_str(doc, g0, "betas", betas);
    bv_pk_dict_set_str(doc, g0, "eps", bv_pk_float(doc, 1e-9));
    bv_pk_dict_set_str(doc, g0, "amsgrad", bv_pk_bool(doc, 0));
    bv_pk_dict_set_str(doc, g0, "maximize", bv_pk_none(doc));
    bv_pk_dict_set_str(doc, g0, "params", params);
    bv_pk_append(groups, g0);
    bv_pk_dict_set_str(doc, opt, "state", state);
    bv_pk_dict_set_str(doc, opt, "param_groups", groups);
    bv_pk_dict_set_str(doc, ck, "model", model);
    bv_pk_dict_set_str(doc, ck, "iteration", bv_pk_int(doc, 1234567890123LL));
    bv_pk_dict_set_str(doc, ck, "optimizer", opt);
    bv_pk_dict_set_str(doc, ck, "learning_rate", bv_pk_float(doc, 2e-4));
    save("G_1", ck);
    save("state_dict", model);
    bv_pk_doc_free(doc);

    /* one-tensor files of each dtype (*.bert.pt, *.spec.pt are F32) */
    static const struct { const char *name; bv_st_dtype dt; } one[] = {
        {"t_f32", BV_ST_F32}, {"t_f64", BV_ST_F64}, {"t_i64", BV_ST_I64},
        {"t_i32", BV_ST_I32}, {"t_f16", BV_ST_F16}, {"t_bf16", BV_ST_BF16},
    };
    unsigned char raw[64];
    for (int i = 0; i < 64; i++) raw[i] = (unsigned char)(i * 7);
    int64_t s3[3] = {2, 1, 2};
    for (size_t k = 0; k < sizeof one / sizeof one[0]; k++) {
        doc = bv_pk_doc_new();
        save(one[k].name, bv_pk_tensor_new(doc, one[k].dt, 3, s3, raw));
        bv_pk_doc_free(doc);
    }
    /* the same tensor under two keys (one storage, memoised) */
    doc = bv_pk_doc_new();
    bv_pk_value *d = bv_pk_dict(doc, 1), *t = bv_pk_tensor_new(doc, BV_ST_F32, 2, sw, w);
    bv_pk_dict_set_str(doc, d, "a", t);
    bv_pk_dict_set_str(doc, d, "b", t);
    save("shared", d);
    bv_pk_doc_free(doc);
}

static void safetensors_seeds(void) {
    unsigned char raw[96];
    for (int i = 0; i < 96; i++) raw[i] = (unsigned char)(i * 13);
    bv_st_write_entry e[] = {
        {"f32", BV_ST_F32, 2, {2, 3}, raw}, {"f64", BV_ST_F64, 1, {3}, raw},  {"i64", BV_ST_I64, 1, {1}, raw},
        {"i32", BV_ST_I32, 3, {1, 2, 1}, raw}, {"f16", BV_ST_F16, 1, {5}, raw}, {"bf16", BV_ST_BF16, 1, {4}, raw},
        {"scalar", BV_ST_F32, 0, {0}, raw},  {"empty", BV_ST_F32, 2, {0, 7}, raw},
    };
    const char *meta[] = {"format", "pt", "case", "seed"};
    char path[1024];
    snprintf(path, sizeof path, "%s/safetensors/all_dtypes.safetensors", g_root);
    check(bv_st_write(path, e, (int)(sizeof e / sizeof e[0]), meta, 2, g_err, sizeof g_err), path);
    snprintf(path, sizeof path, "%s/safetensors/one.safetensors", g_root);
    check(bv_st_write(path, e, 1, NULL, 0, g_err, sizeof g_err), path);
}

static void wav_seeds(void) {
    float x[200];
    for (int i = 0; i < 200; i++) x[i] = (float)((i % 50) - 25) / 25.0f;
    static const struct { const char *name; int64_t frames; int ch, sr; } w[] = {
        {"mono_22050.wav", 200, 1, 22050}, {"stereo_44100.wav", 100, 2, 44100}, {"empty_16000.wav", 0, 1, 16000},
    };
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++) {
        uint8_t *out;
        size_t n;
        check(bv_wav_encode(x, w[k].frames, w[k].ch, w[k].sr, &out, &n, g_err, sizeof g_err), w[k].name);
        write_bytes("wav", w[k].name, out, n);
        free(out);
    }
}

/* Weight files for fuzz_weights: the model demo/config.json builds, a few of its smallest
 * parameters (the whole model is megabytes) under their real names and shapes, as safetensors
 * (F32, F16) and as a checkpoint's state dict; the loader then fails only at "missing". */
static void weights_seeds(void) {
    bv_config cfg;
    bv_infer_model m;
    check(bv_config_load(&cfg, "demo/config.json", g_err, sizeof g_err) || bv_infer_model_init(&m, &cfg, g_err, sizeof g_err),
          "demo/config.json");
    enum { MAX_PICK = 8 };
    bv_st_write_entry e[MAX_PICK];
    int n = 0;
    static uint16_t half[4096];
    for (int i = 0; i < m.ps.n && n < MAX_PICK; i++) {
        const bv_tensor *t = m.ps.items[i];
        if (t->numel > 512) continue;
        e[n] = (bv_st_write_entry){t->name, BV_ST_F32, t->ndim, {0}, t->data};
        memcpy(e[n].shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
        n++;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/weights/some_f32.safetensors", g_root);
    check(bv_st_write(path, e, n, NULL, 0, g_err, sizeof g_err), path);
    for (int i = 0; i < n; i++) {
        e[i].dtype = BV_ST_F16;
        e[i].data = half;
    }
    snprintf(path, sizeof path, "%s/weights/some_f16.safetensors", g_root);
    check(bv_st_write(path, e, n, NULL, 0, g_err, sizeof g_err), path);
    bv_pk_doc *doc = bv_pk_doc_new();
    bv_pk_value *ck = bv_pk_dict(doc, 0), *model = bv_pk_dict(doc, 1);
    for (int i = 0; i < n; i++)
        bv_pk_dict_set_str(doc, model, e[i].name, bv_pk_tensor_new(doc, BV_ST_F32, e[i].ndim, e[i].shape, NULL));
    bv_pk_dict_set_str(doc, model, "enc_q.pre.bias", bv_pk_tensor_new(doc, BV_ST_F32, 1, (int64_t[]){2}, NULL));
    bv_pk_dict_set_str(doc, ck, "model", model);
    bv_pk_dict_set_str(doc, ck, "iteration", bv_pk_int(doc, 3));
    bv_pk_dict_set_str(doc, ck, "learning_rate", bv_pk_float(doc, 2e-4));
    snprintf(path, sizeof path, "%s/weights/G_3.pth", g_root);
    check(bv_pth_save(path, ck, g_err, sizeof g_err), path);
    bv_pk_doc_free(doc);
    bv_infer_model_free(&m);
}

int main(int argc, char **argv) {
    snprintf(g_root, sizeof g_root, "%s", argc > 1 ? argv[1] : "fuzz/corpus");
    pth_seeds();
    safetensors_seeds();
    wav_seeds();
    weights_seeds();
    return 0;
}
