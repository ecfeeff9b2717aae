/* test_pth.c - pickle VM/writer and torch.save zip files (src/io/pickle.c, src/io/pth.c).
 *
 * Unit tests: every opcode against pickles made by CPython (protocol 2 and 4), the writer's
 * round trip, malformed pickles (hand-made and fuzzed) ending in an error, never a crash.
 * Golden tests read the real upstream files in ../shared/golden: the four checkpoints written
 * after the F01_train_step (model tensors against the case's param.* / after.* / grad.*), the
 * dataset's utt0.bert.pt (a transposed view) and utt0.spec.pt against F01's inputs, the tiny
 * WavLM pytorch_model.bin against E01_wavlm_tiny; then write + read back bit-exact, check the zip
 * layout torch expects, and damaged files fail with the file's name.
 *
 * Set BV_PTH_KEEP_DIR=<dir> to keep the files written here (synthetic.pth, G_0.pth) for
 * tests/ref/check_pth_with_torch.py.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "../src/io/pickle.h"
#include "../src/io/pth.h"
#include "fixtures.h"
#include "golden.h"
#include "test.h"

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                     */

static size_t from_hex(const char *hex, unsigned char *out, size_t cap) {
    size_t n = 0;
    for (; hex[0] && hex[1] && n < cap; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (unsigned char)v;
    }
    return n;
}

static int spit(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(b, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

static void golden_path(char *buf, size_t cap, const char *rel) { snprintf(buf, cap, "%s/%s", bv_test_golden_dir, rel); }

static double num(const bv_pk_value *v) {
    double d = NAN;
    bv_pk_as_double(v, &d);
    return d;
}

static int64_t inum(const bv_pk_value *v) {
    int64_t i = INT64_MIN;
    bv_pk_as_int(v, &i);
    return i;
}

/* One zip entry as a reader sees it on disk (parsed by hand, independent of libzip). */
typedef struct zent {
    char name[256];
    uint64_t data_off, size;
    int method;
} zent;

static unsigned rd16(const unsigned char *p) { return p[0] | p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }

static int zip_entries(const unsigned char *b, size_t n, zent *out, int cap) {
    long e = (long)n - 22;
    while (e >= 0 && rd32(b + e) != 0x06054b50u) e--;
    if (e < 0) return -1;
    int count = (int)rd16(b + e + 10);
    size_t p = rd32(b + e + 16);
    for (int k = 0; k < count && k < cap; k++) {
        if (p + 46 > n || rd32(b + p) != 0x02014b50u) return -1;
        unsigned nlen = rd16(b + p + 28), xlen = rd16(b + p + 30), clen = rd16(b + p + 32);
        size_t lho = rd32(b + p + 42);
        if (lho + 30 > n || nlen >= sizeof out[k].name) return -1;
        memcpy(out[k].name, b + p + 46, nlen);
        out[k].name[nlen] = 0;
        out[k].method = (int)rd16(b + p + 10);
        out[k].size = rd32(b + p + 20);
        out[k].data_off = lho + 30 + rd16(b + lho + 26) + rd16(b + lho + 28);
        p += 46 + nlen + xlen + clen;
    }
    return count;
}

/* ------------------------------------------------------------------------------------------ */
/* pickle reader: opcodes against CPython's own pickles                                        */

/* pickle.dumps(obj, protocol=2 / 4) of
 *   L = [0.25]
 *   {'a': 5, 'big': 2**40, 'neg': -2**40-1, 'm1': -1, 'i2': 300, 'i4': 70000, 'max': 2**63-1,
 *    'min': -2**63, 'f': 1.5, 'flags': [True, False, None], 'pair': ('x', 'y'), 'quad': (1, 2, 3, 4),
 *    'uni': 'é✓', 'od': OrderedDict([('k', 1)]), 7: 'seven', 'shared': L, 'again': L}            */
static const char PY_P2[] =
    "80027d71002858010000006171014b05580300000062696771028a0600000000000158030000006e656771038a06ffffff"
    "fffffe58020000006d3171044affffffff5802000000693271054d2c015802000000693471064a7011010058030000006d"
    "617871078a08ffffffffffffff7f58030000006d696e71088a0800000000000000805801000000667109473ff800000000"
    "00005805000000666c616773710a5d710b2888894e65580400000070616972710c580100000078710d580100000079710e"
    "86710f5804000000717561647110284b014b024b034b047471115803000000756e6971125805000000c3a9e29c93711358"
    "020000006f64711463636f6c6c656374696f6e730a4f726465726564446963740a71152952711658010000006b71174b01"
    "734b075805000000736576656e7118580600000073686172656471195d711a473fd0000000000000615805000000616761"
    "696e711b681a752e";
static const char PY_P4[] =
    "80049506010000000000007d94288c0161944b058c03626967948a060000000000018c036e6567948a06fffffffffffe8c"
    "026d31944affffffff8c026932944d2c018c026934944a701101008c036d6178948a08ffffffffffffff7f8c036d696e94"
    "8a0800000000000000808c016694473ff80000000000008c05666c616773945d942888894e658c0470616972948c017894"
    "8c01799486948c047175616494284b014b024b034b0474948c03756e69948c05c3a9e29c93948c026f64948c0b636f6c6c"
    "656374696f6e73948c0b4f726465726564446963749493942952948c016b944b01734b078c05736576656e948c06736861"
    "726564945d94473fd0000000000000618c05616761696e94681c752e";

static void check_python_object(bv_test_state *ts, const bv_pk_value *d, const char *which) {
    BV_CHECK(d && d->kind == BV_PK_DICT && bv_pk_len(d) == 17, "%s: top level", which);
    BV_CHECK(inum(bv_pk_get(d, "a")) == 5, "%s: a", which);
    BV_CHECK(inum(bv_pk_get(d, "big")) == (int64_t)1 << 40, "%s: big", which);
    BV_CHECK(inum(bv_pk_get(d, "neg")) == -((int64_t)1 << 40) - 1, "%s: neg", which);
    BV_CHECK(inum(bv_pk_get(d, "m1")) == -1, "%s: m1", which);
    BV_CHECK(inum(bv_pk_get(d, "i2")) == 300 && inum(bv_pk_get(d, "i4")) == 70000, "%s: i2/i4", which);
    BV_CHECK(inum(bv_pk_get(d, "max")) == INT64_MAX && inum(bv_pk_get(d, "min")) == INT64_MIN, "%s: max/min", which);
    BV_CHECK(num(bv_pk_get(d, "f")) == 1.5, "%s: f", which);
    const bv_pk_value *fl = bv_pk_get(d, "flags");
    BV_CHECK(bv_pk_len(fl) == 3 && fl->kind == BV_PK_LIST && bv_pk_at(fl, 0)->kind == BV_PK_BOOL &&
                 bv_pk_at(fl, 0)->b == 1 && bv_pk_at(fl, 1)->b == 0 && bv_pk_at(fl, 2)->kind == BV_PK_NONE,
             "%s: flags", which);
    const bv_pk_value *pr = bv_pk_get(d, "pair"), *qd = bv_pk_get(d, "quad");
    BV_CHECK(pr && pr->kind == BV_PK_TUPLE && bv_pk_len(pr) == 2 && !strcmp(bv_pk_as_str(bv_pk_at(pr, 1)), "y"),
             "%s: pair", which);
    BV_CHECK(qd && qd->kind == BV_PK_TUPLE && bv_pk_len(qd) == 4 && inum(bv_pk_at(qd, 3)) == 4, "%s: quad", which);
    BV_CHECK(bv_pk_as_str(bv_pk_get(d, "uni")) && !strcmp(bv_pk_as_str(bv_pk_get(d, "uni")), "\xc3\xa9\xe2\x9c\x93"),
             "%s: utf-8 string", which);
    const bv_pk_value *od = bv_pk_get(d, "od");
    BV_CHECK(od && od->kind == BV_PK_DICT && od->dict.ordered && inum(bv_pk_get(od, "k")) == 1, "%s: OrderedDict",
             which);
    BV_CHECK(bv_pk_as_str(bv_pk_get_int(d, 7)) && !strcmp(bv_pk_as_str(bv_pk_get_int(d, 7)), "seven"),
             "%s: int key", which);
    const bv_pk_value *sh = bv_pk_get(d, "shared");
    BV_CHECK(sh && sh == bv_pk_get(d, "again") && num(bv_pk_at(sh, 0)) == 0.25, "%s: memo (shared list)", which);
    /* insertion order is the file's order */
    BV_CHECK(d && !strcmp(bv_pk_as_str(d->dict.items[0].key), "a") && inum(d->dict.items[14].key) == 7,
             "%s: key order", which);
}

static bv_pk_value *load_hex(bv_pk_doc *doc, const char *hex, char *err, size_t errcap) {
    unsigned char buf[1024];
    size_t n = from_hex(hex, buf, sizeof buf);
    bv_pk_value *v = NULL;
    if (bv_pk_load(doc, buf, n, NULL, NULL, &v, err, errcap)) return NULL;
    return v;
}

BV_TEST(pickle_reads_cpython_protocols) {
    char err[256] = "";
    bv_pk_doc *doc = bv_pk_doc_new();
    bv_pk_value *v = load_hex(doc, PY_P2, err, sizeof err);
    BV_CHECK(v, "protocol 2: %s", err);
    check_python_object(ts, v, "protocol 2");
    v = load_hex(doc, PY_P4, err, sizeof err);
    BV_CHECK(v, "protocol 4: %s", err);
    check_python_object(ts, v, "protocol 4");

    /* opcodes CPython did not use above: TUPLE1/3, LONG_BINPUT/GET, BINUNICODE8, LONG4 */
    v = load_hex(doc, "80024b01854b014b024b0387862e", err, sizeof err); /* ((1,), (1, 2, 3)) */
    BV_CHECK(v && bv_pk_len(v) == 2 && bv_pk_len(bv_pk_at(v, 0)) == 1 && bv_pk_len(bv_pk_at(v, 1)) == 3 &&
                 inum(bv_pk_at(bv_pk_at(v, 1), 2)) == 3,
             "TUPLE1/TUPLE3: %s", err);
    v = load_hex(doc, "8002284b07722c0100006a2c010000742e", err, sizeof err); /* (7, 7) via memo 300 */
    BV_CHECK(v && bv_pk_len(v) == 2 && inum(bv_pk_at(v, 1)) == 7, "LONG_BINPUT/LONG_BINGET: %s", err);
    v = load_hex(doc, "80028d0300000000000000616263" "8b02000000feff" "862e", err, sizeof err);
    BV_CHECK(v && !strcmp(bv_pk_as_str(bv_pk_at(v, 0)), "abc") && inum(bv_pk_at(v, 1)) == -2,
             "BINUNICODE8/LONG4: %s", err);
    bv_pk_doc_free(doc);
}

/* ------------------------------------------------------------------------------------------ */
/* pickle writer                                                                               */

/* Serves the storages of a dumped tree from memory (what pth.c does from the zip). */
typedef struct mem_storages {
    const bv_pk_tensor **t;
    int n;
} mem_storages;

static bv_pk_value *mem_load(void *user, bv_pk_doc *doc, const bv_pk_value *pid, char *err, size_t errcap) {
    mem_storages *m = user;
    const bv_pk_value *type = bv_pk_at(pid, 1);
    const char *key = bv_pk_as_str(bv_pk_at(pid, 2));
    int k = key ? atoi(key) : -1;
    if (bv_pk_len(pid) != 5 || !type || type->kind != BV_PK_GLOBAL || k < 0 || k >= m->n)
        return snprintf(err, errcap, "bad pid"), NULL;
    if (inum(bv_pk_at(pid, 4)) != m->t[k]->numel) return snprintf(err, errcap, "bad numel"), NULL;
    bv_pk_value *s = bv_pk_storage_new(doc, type->global.name, m->t[k]->numel);
    if (!s || s->storage.elsize != m->t[k]->elsize) return snprintf(err, errcap, "bad storage"), NULL;
    memcpy(s->storage.data, m->t[k]->data, (size_t)m->t[k]->numel * (size_t)m->t[k]->elsize);
    return s;
}

/* A tree with every kind the writer supports, tensors of every dtype and rank 0..8. */
static bv_pk_value *synthetic_tree(bv_pk_doc *doc) {
    bv_pk_value *root = bv_pk_dict(doc, 0), *model = bv_pk_dict(doc, 1);
    const bv_st_dtype dts[] = {BV_ST_F32, BV_ST_F64, BV_ST_I64, BV_ST_I32, BV_ST_F16, BV_ST_BF16};
    for (int i = 0; i < 6; i++) {
        int64_t shape[8] = {2, 3, 1, 2, 1, 1, 2, 2};
        int nd = (i * 2) % 9;
        bv_pk_value *t = bv_pk_tensor_new(doc, dts[i], nd, shape, NULL);
        unsigned char *p = t->tensor.data;
        for (int64_t b = 0; b < t->tensor.numel * t->tensor.elsize; b++) p[b] = (unsigned char)(b * 37 + i);
        char name[32];
        snprintf(name, sizeof name, "layer.%d.weight", i);
        bv_pk_dict_set_str(doc, model, name, t);
    }
    int64_t s8[8] = {1, 2, 1, 2, 1, 2, 1, 2}, s0[1] = {0};
    bv_pk_value *t8 = bv_pk_tensor_new(doc, BV_ST_F32, 8, s8, NULL);
    t8->tensor.requires_grad = 1;
    bv_pk_dict_set_str(doc, model, "eight_dims", t8);
    bv_pk_dict_set_str(doc, model, "empty", bv_pk_tensor_new(doc, BV_ST_F32, 1, s0, NULL));
    bv_pk_value *meta = bv_pk_dict(doc, 1), *ver = bv_pk_dict(doc, 0);
    bv_pk_dict_set_str(doc, ver, "version", bv_pk_int(doc, 1));
    bv_pk_dict_set_str(doc, meta, "", ver);
    bv_pk_value *attrs = bv_pk_dict(doc, 0);
    bv_pk_dict_set_str(doc, attrs, "_metadata", meta);
    model->dict.attrs = attrs;
    bv_pk_dict_set_str(doc, root, "model", model);
    bv_pk_dict_set_str(doc, root, "iteration", bv_pk_int(doc, 12345));
    bv_pk_dict_set_str(doc, root, "learning_rate", bv_pk_float(doc, 0.0002));

    bv_pk_value *state = bv_pk_dict(doc, 0), *st0 = bv_pk_dict(doc, 0);
    float one = 1.0f;
    bv_pk_dict_set_str(doc, st0, "step", bv_pk_tensor_new(doc, BV_ST_F32, 0, NULL, &one));
    bv_pk_dict_set_str(doc, st0, "exp_avg", bv_pk_get(model, "layer.0.weight"));
    bv_pk_dict_set(state, bv_pk_int(doc, 0), st0);
    bv_pk_value *ints = bv_pk_list(doc);
    const int64_t edge[] = {0, 255, 256, 65535, 65536, -1, -128, -129, INT32_MIN, INT32_MAX, (int64_t)INT32_MAX + 1,
                            (int64_t)1 << 40, -((int64_t)1 << 40) - 1, INT64_MAX, INT64_MIN, -32768, 32767};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) bv_pk_append(ints, bv_pk_int(doc, edge[i]));
    for (int i = 0; i < 1500; i++) bv_pk_append(ints, bv_pk_int(doc, i)); /* > one APPENDS batch */
    bv_pk_value *betas = bv_pk_list(doc), *group = bv_pk_dict(doc, 0), *groups = bv_pk_list(doc);
    bv_pk_append(betas, bv_pk_float(doc, 0.8));
    bv_pk_append(betas, bv_pk_float(doc, 0.99));
    bv_pk_dict_set_str(doc, group, "betas", betas);
    bv_pk_dict_set_str(doc, group, "eps", bv_pk_float(doc, 1e-9));
    bv_pk_dict_set_str(doc, group, "amsgrad", bv_pk_bool(doc, 0));
    bv_pk_dict_set_str(doc, group, "capturable", bv_pk_bool(doc, 1));
    bv_pk_dict_set_str(doc, group, "foreach", bv_pk_none(doc));
    bv_pk_dict_set_str(doc, group, "params", ints);
    bv_pk_append(groups, group);
    bv_pk_value *opt = bv_pk_dict(doc, 0);
    bv_pk_dict_set_str(doc, opt, "state", state);
    bv_pk_dict_set_str(doc, opt, "param_groups", groups);
    bv_pk_dict_set_str(doc, root, "optimizer", opt);
    bv_pk_value *tup = bv_pk_tuple(doc);
    for (int i = 0; i < 5; i++) bv_pk_append(tup, bv_pk_str(doc, i % 2 ? "\xc3\xa9" : ""));
    bv_pk_dict_set_str(doc, root, "tuple5", tup);
    bv_pk_dict_set_str(doc, root, "tuple0", bv_pk_tuple(doc));
    bv_pk_dict_set_str(doc, root, "neg_float", bv_pk_float(doc, -3.25e-300));
    return root;
}

BV_TEST(pickle_writer_roundtrip) {
    char err[256] = "";
    bv_pk_doc *doc = bv_pk_doc_new(), *doc2 = bv_pk_doc_new();
    bv_pk_value *root = synthetic_tree(doc), *back = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    const bv_pk_tensor **tensors = NULL;
    int nt = 0;
    BV_CHECK(bv_pk_dump(root, &buf, &len, &tensors, &nt, err, sizeof err) == 0, "dump: %s", err);
    BV_CHECK(nt == 10, "persistent storages: %d (8 model tensors + step + exp_avg)", nt);
    mem_storages ms = {tensors, nt};
    BV_CHECK(bv_pk_load(doc2, buf, len, mem_load, &ms, &back, err, sizeof err) == 0, "load: %s", err);
    BV_CHECK(bv_pk_equal(root, back), "tree differs after dump + load");
    BV_CHECK(back && bv_pk_get(back, "model")->dict.attrs, "state_dict _metadata kept");
    /* a change anywhere must be seen by bv_pk_equal (the round-trip check would be vacuous otherwise) */
    bv_pk_value *p = bv_pk_get(bv_pk_at(bv_pk_get(bv_pk_get(back, "optimizer"), "param_groups"), 0), "params");
    if (p) p->seq.items[9]->i++;
    BV_CHECK(!bv_pk_equal(root, back), "bv_pk_equal misses a changed int");

    /* a cyclic tree is an error, not a stack overflow */
    bv_pk_value *cyc = bv_pk_list(doc);
    bv_pk_append(cyc, cyc);
    unsigned char *b2 = NULL;
    const bv_pk_tensor **t2 = NULL;
    BV_CHECK(bv_pk_dump(cyc, &b2, &len, &t2, &nt, err, sizeof err) != 0 && strstr(err, "deeper"), "cycle: %s", err);
    free(buf);
    free(tensors);
    bv_pk_doc_free(doc);
    bv_pk_doc_free(doc2);
}

/* ------------------------------------------------------------------------------------------ */
/* malformed pickles                                                                           */

/* A loader that serves one FloatStorage of 4 elements for any pid (tensor view bound checks). */
static bv_pk_value *four_floats(void *user, bv_pk_doc *doc, const bv_pk_value *pid, char *err, size_t errcap) {
    bv_pk_value *s = bv_pk_storage_new(doc, "FloatStorage", 4);
    memset(s->storage.data, 0, 16);
    return s;
}

BV_TEST(pickle_malformed_inputs_fail_cleanly) {
    static const struct { const char *hex, *expect; } bad[] = {
        {"", "truncated"},
        {"8002", "truncated"},                               /* no STOP */
        {"80024b", "truncated"},                             /* BININT1 without its byte */
        {"8002ff2e", "unsupported opcode"},
        {"8002732e", "underflow"},                           /* SETITEM on an empty stack */
        {"80025d4b014b02732e", "SETITEM"},                   /* SETITEM on a list */
        {"80027d4b01612e", "APPEND"},                        /* APPEND on a dict */
        {"8002680c2e", "never stored"},                      /* BINGET of an unknown memo key */
        {"80024b0172ffffff7f2e", "out of range"},            /* LONG_BINPUT 2^31-1 */
        {"80027d284b01752e", "odd"},                         /* SETITEMS with a key but no value */
        {"80028a09000000000000000000012e", "64 bits"},
        {"80025803000000612e", "truncated"},                 /* string longer than the data */
        {"8002636f730a73797374656d0a29522e", "unsupported callable os.system"},
        {"8002752e", "MARK"},                                /* SETITEMS without MARK */
        {"8002282e", "empty stack"},                         /* MARK then STOP */
        {"80024b0128852e", "underflow"},                     /* TUPLE1 may not cross a MARK */
        {"800263746f7263680a466c6f617453746f726167650a29622e", "BUILD"},
        {"80094e2e", "protocol"},
        {"80024b01512e", "storage loader"},                  /* BINPERSID without a loader */
    };
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char buf[256];
        size_t n = from_hex(bad[i].hex, buf, sizeof buf);
        bv_pk_doc *doc = bv_pk_doc_new();
        bv_pk_value *v = NULL;
        err[0] = 0;
        int rc = bv_pk_load(doc, buf, n, NULL, NULL, &v, err, sizeof err);
        BV_CHECK(rc == -1 && !v && strstr(err, bad[i].expect), "case %zu (%s): rc %d, err '%s' lacks '%s'", i,
                 bad[i].hex, rc, err, bad[i].expect);
        bv_pk_doc_free(doc);
    }

    /* tensor views: torch._utils._rebuild_tensor_v2((pid), offset, size, stride, False, OrderedDict())
     * over a 4-float storage */
    static const struct { const char *args, *expect; } views[] = {
        {"4b00" "4b0385" "4b0285", "exceeds"},        /* size (3,) stride (2,): last element 4 */
        {"4b02" "4b0385" "4b0185", "exceeds"},        /* offset 2 + 3 elements */
        {"4aFFFFFFFF" "4b0185" "4b0185", "offset"},   /* negative offset */
        {"4b00" "4aFFFFFFFF85" "4b0185", "negative"}, /* negative size */
        {"4b00" "4b0285" "4b014b0186", "stride"},     /* size 1 dim, stride 2 dims */
        {"4b00" "28" "4b014b014b014b014b014b014b014b014b01" "74" "28" "4b014b014b014b014b014b014b014b014b01" "74",
         "dims"}, /* 9 dims */
        {"4b00" "4b0285" "4aFFFFFFFF85", "stride"},   /* negative stride */
        {"4b00" "4b0285" "4b0185", NULL},             /* valid: [0, 1] */
        {"4b00" "4b024b0286" "4b014b0286", NULL},     /* valid transposed view: stride (1, 2) */
    };
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        char hex[512];
        snprintf(hex, sizeof hex,
                 "8002" "63746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a" /* GLOBAL */
                 "28" "284b00" "4b00" "4b00" "4b00" "4b0474" "51"                              /* (pid) Q */
                 "%s" "89" "63636f6c6c656374696f6e730a4f726465726564446963740a2952" "74522e",
                 views[i].args);
        unsigned char buf[256];
        size_t n = from_hex(hex, buf, sizeof buf);
        bv_pk_doc *doc = bv_pk_doc_new();
        bv_pk_value *v = NULL;
        err[0] = 0;
        int rc = bv_pk_load(doc, buf, n, four_floats, NULL, &v, err, sizeof err);
        if (views[i].expect)
            BV_CHECK(rc == -1 && strstr(err, views[i].expect), "view %zu: rc %d err '%s'", i, rc, err);
        else
            BV_CHECK(rc == 0 && bv_pk_as_tensor(v), "view %zu should load: %s", i, err);
        bv_pk_doc_free(doc);
    }
}

/* Every truncation and thousands of random byte mutations of a real writer output: each load
 * ends in success or an error message; ASan/UBSan builds catch anything worse. */
BV_TEST(pickle_fuzzed_inputs_never_crash) {
    char err[256];
    bv_pk_doc *src = bv_pk_doc_new();
    unsigned char *good = NULL;
    size_t len = 0;
    const bv_pk_tensor **tensors = NULL;
    int nt = 0;
    BV_CHECK(bv_pk_dump(synthetic_tree(src), &good, &len, &tensors, &nt, err, sizeof err) == 0, "dump: %s", err);
    mem_storages ms = {tensors, nt};
    unsigned char *buf = malloc(len);
    int failed = 0, silent = 0;
    for (size_t cut = 0; cut < len; cut += 7) {
        bv_pk_doc *doc = bv_pk_doc_new();
        bv_pk_value *v = NULL;
        err[0] = 0;
        if (bv_pk_load(doc, good, cut, mem_load, &ms, &v, err, sizeof err) != 0) failed++;
        silent += err[0] == 0 && !v;
        bv_pk_doc_free(doc);
    }
    BV_CHECK(failed == (int)((len + 6) / 7), "a truncated pickle loaded (%d of %zu failed)", failed, (len + 6) / 7);
    uint64_t rng = 0x1234567;
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, good, len);
        int flips = 1 + it % 4;
        for (int k = 0; k < flips; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            buf[(rng >> 33) % len] = (unsigned char)(rng >> 20);
        }
        bv_pk_doc *doc = bv_pk_doc_new();
        bv_pk_value *v = NULL;
        err[0] = 0;
        int rc = bv_pk_load(doc, buf, len, mem_load, &ms, &v, err, sizeof err);
        silent += rc != 0 && err[0] == 0;
        bv_pk_doc_free(doc);
    }
    BV_CHECK(silent == 0, "%d failures without a message", silent);
    free(buf);
    free(good);
    free(tensors);
    bv_pk_doc_free(src);
}

/* ------------------------------------------------------------------------------------------ */
/* golden: the upstream checkpoints after F01_train_step                                       */

/* Names/shapes of "<prefix>*" tensors of the case's manifest, in manifest order. */
static int manifest_names(bv_golden *g, const char *prefix, const cJSON ***out) {
    const cJSON *tensors = cJSON_GetObjectItem(bv_golden_case_json(g), "tensors"), *t;
    int n = 0, cap = cJSON_GetArraySize(tensors);
    *out = malloc(sizeof(cJSON *) * (size_t)(cap ? cap : 1));
    cJSON_ArrayForEach(t, tensors) {
        const cJSON *name = cJSON_GetObjectItem(t, "name");
        if (cJSON_IsString(name) && !strncmp(name->valuestring, prefix, strlen(prefix))) (*out)[n++] = t;
    }
    return n;
}

static int same_shape_json(const bv_pk_tensor *t, const cJSON *shape) {
    if (!t || cJSON_GetArraySize(shape) != t->ndim) return 0;
    for (int d = 0; d < t->ndim; d++)
        if ((int64_t)cJSON_GetArrayItem(shape, d)->valuedouble != t->shape[d]) return 0;
    return 1;
}

static float f32_at(const bv_pk_tensor *t, int64_t i) {
    float f;
    memcpy(&f, (const char *)t->data + 4 * i, 4);
    return f;
}

typedef struct train_cfg {
    double lr, beta1, beta2, eps;
} train_cfg;

/* optimizer: {'state': {i: {step, exp_avg, exp_avg_sq}}, 'param_groups': [{..., 'params': [0..n)}]} */
static void check_optimizer(bv_test_state *ts, bv_golden *g, const char *file, const char *net,
                            const bv_pk_value *model, const bv_pk_value *opt, train_cfg cfg) {
    const bv_pk_value *state = bv_pk_get(opt, "state"), *groups = bv_pk_get(opt, "param_groups");
    const bv_pk_value *g0 = bv_pk_at(groups, 0), *params = bv_pk_get(g0, "params"), *betas = bv_pk_get(g0, "betas");
    int n = bv_pk_len(model);
    BV_CHECK(bv_pk_len(groups) == 1 && bv_pk_len(params) == n && bv_pk_len(state) == n,
             "%s: optimizer has %d groups, %d params, %d states for %d tensors", file, bv_pk_len(groups),
             bv_pk_len(params), bv_pk_len(state), n);
    BV_CHECK(num(bv_pk_get(g0, "lr")) == cfg.lr && num(bv_pk_get(g0, "initial_lr")) == cfg.lr &&
                 num(bv_pk_get(g0, "eps")) == cfg.eps && bv_pk_len(betas) == 2 &&
                 num(bv_pk_at(betas, 0)) == cfg.beta1 && num(bv_pk_at(betas, 1)) == cfg.beta2,
             "%s: param_groups lr/eps/betas differ from the config", file);
    BV_CHECK(bv_pk_get(g0, "amsgrad") && bv_pk_get(g0, "amsgrad")->kind == BV_PK_BOOL &&
                 bv_pk_get(g0, "foreach") && bv_pk_get(g0, "weight_decay"),
             "%s: param_groups lacks amsgrad/foreach/weight_decay", file);
    int bad = 0;
    double worst = 0;
    for (int i = 0; i < n && i < bv_pk_len(params); i++) {
        const bv_pk_value *st = bv_pk_get_int(state, inum(bv_pk_at(params, i)));
        const bv_pk_tensor *m = bv_pk_as_tensor(bv_pk_get(st, "exp_avg")), *v = bv_pk_as_tensor(bv_pk_get(st, "exp_avg_sq"));
        const bv_pk_tensor *p = bv_pk_as_tensor(model->dict.items[i].val);
        int ok = m && v && p && num(bv_pk_get(st, "step")) == 1.0 && m->numel == p->numel && v->numel == p->numel &&
                 m->ndim == p->ndim && !memcmp(m->shape, p->shape, sizeof(int64_t) * (size_t)p->ndim);
        char gname[300];
        snprintf(gname, sizeof gname, "grad.%s.%s", net, bv_pk_as_str(model->dict.items[i].key));
        bv_tensor *grad = ok && bv_golden_has(g, gname) ? bv_golden_tensor(g, gname) : NULL;
        /* AdamW's first step from zero moments: exp_avg = (1-b1) g, exp_avg_sq = (1-b2) g^2 */
        for (int64_t k = 0; grad && ok && k < p->numel; k++) {
            double gk = grad->data[k], e1 = (1 - cfg.beta1) * gk, e2 = (1 - cfg.beta2) * gk * gk;
            double d1 = fabs(f32_at(m, k) - e1), d2 = fabs(f32_at(v, k) - e2);
            if (d1 > 1e-6 * fabs(e1) + 1e-30 || d2 > 1e-5 * e2 + 1e-30) ok = 0;
            worst = fmax(worst, d1 / (fabs(e1) + 1e-30));
        }
        bad += !ok;
    }
    if (bv_test_verbose)
        fprintf(stderr, "  %s: %d optimizer states, step 1, moments = first AdamW step of grad.%s.* (worst rel %.3g)\n",
                file, n, net, worst);
    BV_CHECK(bad == 0, "%s: %d optimizer states do not match (step 1, shapes, moments of grad.%s.*; worst rel %.3g)",
             file, bad, net, worst);
}

/* Values: nets stepped before net_g have after.<net>.* stored: bit-identical. net_g's own after-step
 * values are only in G_0.pth: there each element must have moved by at most one AdamW step from
 * param.net_g.* (|dp| <= lr (1 + wd |p|)) and something must have moved. */
static void check_model_values(bv_test_state *ts, bv_golden *g, const char *file, const char *net,
                               const bv_pk_value *model, double lr, double wd) {
    int bitexact = 0, bounded = 0, wrong = 0;
    double moved = 0;
    for (int i = 0; i < bv_pk_len(model); i++) {
        const char *key = bv_pk_as_str(model->dict.items[i].key);
        const bv_pk_tensor *t = bv_pk_as_tensor(model->dict.items[i].val);
        char name[300];
        snprintf(name, sizeof name, "after.%s.%s", net, key);
        if (t && bv_golden_has(g, name)) {
            bv_tensor *e = bv_golden_tensor(g, name);
            int ok = e && e->numel == t->numel && !memcmp(e->data, t->data, 4 * (size_t)t->numel);
            bitexact += ok;
            wrong += !ok;
            continue;
        }
        snprintf(name, sizeof name, "param.%s.%s", net, key);
        bv_tensor *e = t && bv_golden_has(g, name) ? bv_golden_tensor(g, name) : NULL;
        int ok = e && e->numel == t->numel;
        for (int64_t k = 0; ok && k < t->numel; k++) {
            double before = e->data[k], d = fabs(f32_at(t, k) - before);
            ok = d <= lr * (1 + wd * fabs(before)) * 1.001 + 1e-6 * fabs(before);
            moved = fmax(moved, d);
        }
        bounded += ok;
        wrong += !ok;
    }
    if (bv_test_verbose)
        fprintf(stderr, "  %s: %d tensors bit-exact vs after.%s.*, %d within one AdamW step of param.* (max move %.3g)\n",
                file, bitexact, net, bounded, moved);
    BV_CHECK(wrong == 0 && (moved > 0) == (bounded > 0), "%s: %d tensors differ from the case (%d bit-exact vs after.*, "
             "%d within one AdamW step of param.*, max move %.3g)", file, wrong, bitexact, bounded, moved);
}

static void check_checkpoint(bv_test_state *ts, bv_golden *g, const char *file, const char *net, train_cfg cfg,
                             int64_t epoch) {
    char path[1024], err[512] = "";
    golden_path(path, sizeof path, file);
    bv_pth f;
    if (bv_pth_open(&f, path, err, sizeof err)) {
        BV_CHECK(0, "%s", err);
        return;
    }
    const bv_pk_value *model = bv_pk_get(f.root, "model"), *opt = bv_pk_get(f.root, "optimizer");
    BV_CHECK(f.root->kind == BV_PK_DICT && bv_pk_len(f.root) == 4 && model && opt, "%s: top-level keys", file);
    BV_CHECK(inum(bv_pk_get(f.root, "iteration")) == epoch, "%s: iteration %lld, expected the epoch %lld", file,
             (long long)inum(bv_pk_get(f.root, "iteration")), (long long)epoch);
    BV_CHECK(num(bv_pk_get(f.root, "learning_rate")) == cfg.lr, "%s: learning_rate %g, config %g", file,
             num(bv_pk_get(f.root, "learning_rate")), cfg.lr);
    BV_CHECK(model && model->kind == BV_PK_DICT && model->dict.ordered && model->dict.attrs,
             "%s: model is not an OrderedDict with _metadata", file);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "param.%s.", net);
    const cJSON **names;
    int n = manifest_names(g, prefix, &names), mismatched = 0;
    BV_CHECK(bv_pk_len(model) == n, "%s: %d tensors in the model, the case has %d %s*", file, bv_pk_len(model), n,
             prefix);
    for (int i = 0; i < n && i < bv_pk_len(model); i++) {
        const char *want = cJSON_GetObjectItem(names[i], "name")->valuestring + strlen(prefix);
        const bv_pk_tensor *t = bv_pk_as_tensor(model->dict.items[i].val);
        const char *got = bv_pk_as_str(model->dict.items[i].key);
        if (!got || strcmp(got, want) || !same_shape_json(t, cJSON_GetObjectItem(names[i], "shape")) ||
            t->dtype != BV_ST_F32) {
            if (!mismatched) fprintf(stderr, "  %s: entry %d is '%s', case has '%s'\n", file, i, got ? got : "?", want);
            mismatched++;
        }
    }
    BV_CHECK(mismatched == 0, "%s: %d names/shapes/dtypes differ from %s* (in order)", file, mismatched, prefix);
    free(names);
    const bv_pk_value *g0 = bv_pk_at(bv_pk_get(opt, "param_groups"), 0);
    if (!mismatched) check_model_values(ts, g, file, net, model, cfg.lr, num(bv_pk_get(g0, "weight_decay")));
    if (!mismatched) check_optimizer(ts, g, file, net, model, opt, cfg);
    bv_pth_close(&f);
}

BV_GOLDEN_TEST(pth_reads_upstream_checkpoints) {
    bv_golden *g = bv_golden_open(ts, ts->ctx, "F01_train_step");
    if (!g) return;
    const cJSON *train = cJSON_GetObjectItem(cJSON_GetObjectItem(bv_golden_config(g), "config"), "train");
    const cJSON *betas = cJSON_GetObjectItem(train, "betas");
    BV_CHECK(cJSON_GetArraySize(betas) == 2, "config.train.betas missing");
    if (cJSON_GetArraySize(betas) == 2) {
        train_cfg cfg = {cJSON_GetObjectItem(train, "learning_rate")->valuedouble,
                         cJSON_GetArrayItem(betas, 0)->valuedouble, cJSON_GetArrayItem(betas, 1)->valuedouble,
                         cJSON_GetObjectItem(train, "eps")->valuedouble};
        int64_t epoch = bv_golden_cfg_int(g, "epoch");
        check_checkpoint(ts, g, "checkpoints/G_0.pth", "net_g", cfg, epoch);
        check_checkpoint(ts, g, "checkpoints/D_0.pth", "net_d", cfg, epoch);
        check_checkpoint(ts, g, "checkpoints/DUR_0.pth", "net_dur_disc", cfg, epoch);
        check_checkpoint(ts, g, "checkpoints/WD_0.pth", "net_wd", cfg, epoch);
    }
    bv_golden_ignore(g, "*", "a .pth reader test: the checkpoints are compared with F01's param./grad./after.<net>.*; "
                             "F01's other tensors are compared by train_step_golden_F01_train_step");
    bv_golden_close(g);
}

/* ------------------------------------------------------------------------------------------ */
/* golden: dataset tensors and a HuggingFace state dict                                        */

/* file [C, n] must equal case tensor `name`[0][:, :n] with n = `lengths`[0]. */
static void check_item0(bv_test_state *ts, bv_golden *g, const char *file, const char *name, const char *lengths) {
    char path[1024], err[512] = "";
    golden_path(path, sizeof path, file);
    bv_pth_tensor t;
    if (bv_pth_load_tensor(path, &t, err, sizeof err)) {
        BV_CHECK(0, "%s", err);
        return;
    }
    bv_tensor *batch = bv_golden_tensor(g, name), *len = bv_golden_tensor(g, lengths);
    if (batch && len) {
        int64_t C = batch->shape[1], T = batch->shape[2], n = len->idata[0];
        BV_CHECK(t.dtype == BV_ST_F32 && t.ndim == 2 && t.shape[0] == C && t.shape[1] == n,
                 "%s: shape [%lld, %lld], expected [%lld, %lld]", file, (long long)t.shape[0],
                 (long long)(t.ndim > 1 ? t.shape[1] : -1), (long long)C, (long long)n);
        int64_t diff = 0;
        for (int64_t c = 0; t.ndim == 2 && t.shape[0] == C && t.shape[1] == n && c < C; c++)
            diff += memcmp((float *)t.data + c * n, batch->data + c * T, 4 * (size_t)n) != 0;
        BV_CHECK(diff == 0, "%s: %lld rows differ from %s[0]", file, (long long)diff, name);
    }
    bv_pth_tensor_free(&t);
}

BV_GOLDEN_TEST(pth_reads_dataset_tensors) {
    if (!bv_golden_need(ts, "dataset/utt0.bert.pt", NULL)) return;
    bv_golden *g = bv_golden_open(ts, ts->ctx, "F01_train_step");
    if (!g) return;
    /* utt0.bert.pt is saved as a transposed view (stride (1, C)): values prove the strides were honoured */
    check_item0(ts, g, "dataset/utt0.bert.pt", "in.bert", "in.x_lengths");
    check_item0(ts, g, "dataset/utt0.spec.pt", "in.spec", "in.spec_lengths");
    char path[1024], err[512] = "";
    golden_path(path, sizeof path, "dataset/utt0.bert.pt");
    bv_pth f;
    BV_CHECK(bv_pth_open(&f, path, err, sizeof err) == 0 && !strcmp(f.archive, "utt0.bert"), "%s (archive '%s')", err,
             f.archive);
    bv_pth_close(&f);
    bv_golden_ignore(g, "*", "a .pth reader test: utt0.bert.pt and utt0.spec.pt are compared with F01's batch row 0; "
                             "F01's other tensors are compared by train_step_golden_F01_train_step");
    bv_golden_close(g);
}

BV_GOLDEN_TEST(pth_reads_wavlm_state_dict) {
    if (!bv_golden_need(ts, "wavlm_tiny/pytorch_model.bin", "checkpoints/WD_0.pth", NULL)) return;
    bv_golden *g = bv_golden_open(ts, ts->ctx, "E01_wavlm_tiny");
    if (!g) return;
    char path[1024], err[512] = "";
    golden_path(path, sizeof path, "wavlm_tiny/pytorch_model.bin");
    bv_pth_dict d;
    if (bv_pth_load_state_dict(path, NULL, &d, err, sizeof err)) {
        BV_CHECK(0, "%s", err);
        bv_golden_close(g);
        return;
    }
    const cJSON **names;
    int n = manifest_names(g, "param.", &names), bad = 0;
    BV_CHECK(d.n == n, "%d tensors, E01 has %d param.*", d.n, n);
    for (int i = 0; i < n && i < d.n; i++) {
        const char *name = cJSON_GetObjectItem(names[i], "name")->valuestring;
        bv_tensor *e = bv_golden_tensor(g, name);
        int ok = e && !strcmp(d.items[i].name, name + 6) && d.items[i].dtype == BV_ST_F32 && d.items[i].ndim == e->ndim;
        for (int k = 0; ok && k < e->ndim; k++) ok = d.items[i].shape[k] == e->shape[k];
        ok = ok && !memcmp(d.items[i].data, e->data, 4 * (size_t)e->numel);
        if (!ok) fprintf(stderr, "  %s: '%s' differs from %s\n", path, d.items[i].name, name);
        bad += !ok;
    }
    BV_CHECK(bad == 0, "%d of %d tensors differ from E01 param.*", bad, n);
    BV_CHECK(n == 0 || bv_pth_dict_find(&d, d.items[n - 1].name) == &d.items[n - 1], "bv_pth_dict_find");
    free(names);
    bv_pth_dict_free(&d);
    /* the top level of a checkpoint is not a state dict; a missing key is named */
    golden_path(path, sizeof path, "checkpoints/WD_0.pth");
    BV_CHECK(bv_pth_load_state_dict(path, NULL, &d, err, sizeof err) != 0 && strstr(err, path) &&
                 strstr(err, "not a tensor"),
             "top-level checkpoint as a state dict: %s", err);
    BV_CHECK(bv_pth_load_state_dict(path, "generator", &d, err, sizeof err) != 0 && strstr(err, "'generator'"),
             "missing key: %s", err);
    BV_CHECK(bv_pth_load_state_dict(path, "model", &d, err, sizeof err) == 0 && d.n > 0, "WD_0 model: %s", err);
    bv_pth_dict_free(&d);
    bv_golden_ignore(g, "*", "a .pth reader test: pytorch_model.bin is compared with E01's param.*; E01's forward and "
                             "gradients are compared by wavlm_E01_wavlm_tiny");
    bv_golden_close(g);
}

/* ------------------------------------------------------------------------------------------ */
/* writing                                                                                     */

/* The layout torch's reader and mmap loader expect: one folder, data.pkl first, version last
 * ("3\n"), every entry STORED with its data at a multiple of 64. */
static void check_layout(bv_test_state *ts, const char *path, const char *archive, int n_storages) {
    size_t len;
    unsigned char *b = (unsigned char *)bv_test_read_file(path, &len);
    zent e[4096];
    int n = b ? zip_entries(b, len, e, 4096) : -1;
    BV_CHECK(n == n_storages + 2, "%s: %d entries, expected %d", path, n, n_storages + 2);
    char want[300];
    for (int i = 0; i < n && i < 4096; i++) {
        if (i == 0) snprintf(want, sizeof want, "%s/data.pkl", archive);
        else if (i == n - 1) snprintf(want, sizeof want, "%s/version", archive);
        else snprintf(want, sizeof want, "%s/data/%d", archive, i - 1);
        BV_CHECK(!strcmp(e[i].name, want) && e[i].method == 0 && e[i].data_off % 64 == 0 &&
                     e[i].data_off + e[i].size <= len,
                 "%s: entry %d '%s' (want '%s'), method %d, data at %llu", path, i, e[i].name, want, e[i].method,
                 (unsigned long long)e[i].data_off);
    }
    if (n >= 2) BV_CHECK(e[n - 1].size == 2 && !memcmp(b + e[n - 1].data_off, "3\n", 2), "%s: version record", path);
    free(b);
}

static void keep_copy(const bv_pk_value *root, const char *name) {
    const char *dir = getenv("BV_PTH_KEEP_DIR");
    if (!dir) return;
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (bv_pth_save(path, root, err, sizeof err)) fprintf(stderr, "  BV_PTH_KEEP_DIR: %s\n", err);
}

static void roundtrip(bv_test_state *ts, const bv_pk_value *root, const char *dir, const char *name, int n_storages) {
    char path[1024], tmp[1100], err[512] = "";
    snprintf(path, sizeof path, "%s/%s", dir, name);
    BV_CHECK(bv_pth_save(path, root, err, sizeof err) == 0, "save: %s", err);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    BV_CHECK(access(tmp, F_OK) != 0, "%s left behind", tmp);
    char arch[256];
    snprintf(arch, sizeof arch, "%.*s", (int)(strrchr(name, '.') - name), name);
    check_layout(ts, path, arch, n_storages);
    bv_pth back;
    BV_CHECK(bv_pth_open(&back, path, err, sizeof err) == 0, "reopen: %s", err);
    BV_CHECK(back.root && bv_pk_equal(root, back.root), "%s: tree differs after save + open", name);
    BV_CHECK(!strcmp(back.archive, arch), "archive '%s'", back.archive);
    bv_pth_close(&back);
    /* saving again over an existing file replaces it, bit-identically (no timestamps inside) */
    size_t l1, l2;
    unsigned char *b1 = (unsigned char *)bv_test_read_file(path, &l1);
    BV_CHECK(bv_pth_save(path, root, err, sizeof err) == 0, "save again: %s", err);
    unsigned char *b2 = (unsigned char *)bv_test_read_file(path, &l2);
    BV_CHECK(b1 && b2 && l1 == l2 && !memcmp(b1, b2, l1), "%s: second save differs from the first", name);
    free(b1);
    free(b2);
    unlink(path);
}

BV_TEST(pth_save_roundtrip_synthetic) {
    char dir[] = "/tmp/bv_pth_XXXXXX";
    BV_CHECK(mkdtemp(dir), "mkdtemp");
    bv_pk_doc *doc = bv_pk_doc_new();
    bv_pk_value *root = synthetic_tree(doc);
    roundtrip(ts, root, dir, "synthetic.pth", 10);
    keep_copy(root, "synthetic.pth");
    rmdir(dir);
    bv_pk_doc_free(doc);
}

BV_GOLDEN_TEST(pth_save_roundtrip_upstream_checkpoint) {
    if (!bv_golden_need(ts, "checkpoints/G_0.pth", "dataset/utt0.bert.pt", NULL)) return;
    char path[1024], err[512] = "", dir[] = "/tmp/bv_pth_XXXXXX";
    BV_CHECK(mkdtemp(dir), "mkdtemp");
    golden_path(path, sizeof path, "checkpoints/G_0.pth");
    bv_pth f;
    if (bv_pth_open(&f, path, err, sizeof err) == 0) {
        /* G_0: one storage per model tensor and per optimizer tensor (step, exp_avg, exp_avg_sq) */
        roundtrip(ts, f.root, dir, "G_0.pth", bv_pk_len(bv_pk_get(f.root, "model")) * 4);
        keep_copy(f.root, "G_0.pth");
        bv_pth_close(&f);
    } else {
        BV_CHECK(0, "%s", err);
    }
    golden_path(path, sizeof path, "dataset/utt0.bert.pt");
    if (bv_pth_open(&f, path, err, sizeof err) == 0) {
        roundtrip(ts, f.root, dir, "utt0.bert.pt", 1);
        bv_pth_close(&f);
    }
    rmdir(dir);
}

/* ------------------------------------------------------------------------------------------ */
/* damaged files                                                                               */

static void expect_open_error(bv_test_state *ts, const char *path, const char *what, const char *expect) {
    bv_pth f;
    char err[512] = "";
    int rc = bv_pth_open(&f, path, err, sizeof err);
    BV_CHECK(rc == -1 && strstr(err, path) && (!expect || strstr(err, expect)), "%s: rc %d, err '%s'", what, rc, err);
    if (rc == 0) bv_pth_close(&f);
}

/* A zip written with libzip directly: entries given as name/content pairs. */
static void write_zip(const char *path, int n, const char *const *names, const char *const *contents,
                      const size_t *sizes) {
    int e;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &e);
    for (int i = 0; za && i < n; i++)
        zip_file_add(za, names[i], zip_source_buffer(za, contents[i], sizes[i], 0), 0);
    if (za) zip_close(za);
}

BV_TEST(pth_damaged_files_fail_with_the_file_name) {
    char dir[] = "/tmp/bv_pth_XXXXXX", path[256], bad[300], err[512];
    BV_CHECK(mkdtemp(dir), "mkdtemp");
    snprintf(path, sizeof path, "%s/ok.pth", dir);
    snprintf(bad, sizeof bad, "%s/bad.pth", dir);
    bv_pk_doc *doc = bv_pk_doc_new();
    BV_CHECK(bv_pth_save(path, synthetic_tree(doc), err, sizeof err) == 0, "save: %s", err);
    size_t len;
    unsigned char *b = (unsigned char *)bv_test_read_file(path, &len);
    zent e[16];
    int n = b ? zip_entries(b, len, e, 16) : -1;
    BV_CHECK(n == 12, "entries %d", n);

    expect_open_error(ts, "/nonexistent/dir/G_0.pth", "missing file", NULL);
    for (size_t cut = 0; b && cut < len; cut += len / 37 + 1) { /* every truncation, incl. mid-EOCD */
        spit(bad, b, cut);
        expect_open_error(ts, bad, "truncated", NULL);
    }
    if (b && n == 12) {
        spit(bad, b, len - 1);
        expect_open_error(ts, bad, "truncated by one byte", NULL);
        unsigned char *c = malloc(len);
        memcpy(c, b, len);
        c[e[1].data_off + 3] ^= 0x40; /* a storage byte: the CRC must catch it */
        spit(bad, c, len);
        expect_open_error(ts, bad, "flipped storage byte", "corrupt");
        memcpy(c, b, len);
        c[e[0].data_off + e[0].size / 2] ^= 0x01; /* a data.pkl byte */
        spit(bad, c, len);
        expect_open_error(ts, bad, "flipped pickle byte", "corrupt");
        free(c);
    }
    /* well-formed zips that are not valid torch files */
    {
        const char *names[] = {"x/version"}, *cont[] = {"3\n"};
        size_t sz[] = {2};
        write_zip(bad, 1, names, cont, sz);
        expect_open_error(ts, bad, "no data.pkl", "data.pkl");
    }
    {
        /* {'w': tensor over storage key '0'} with no x/data/0 entry */
        unsigned char pk[512];
        const char *hex = "80027d58010000007763746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a"
                          "2828580700000073746f7261676563746f7263680a466c6f617453746f726167650a5801000000305803"
                          "0000006370754b0274514b004b02854b01858963636f6c6c656374696f6e730a4f72646572656444696374"
                          "0a29527452732e";
        size_t pn = from_hex(hex, pk, sizeof pk);
        const char *names[] = {"x/data.pkl", "x/version"}, *cont[] = {(const char *)pk, "3\n"};
        size_t sz[] = {pn, 2};
        write_zip(bad, 2, names, cont, sz);
        expect_open_error(ts, bad, "missing storage record", "x/data/0 is missing");
        const char *names3[] = {"x/data.pkl", "x/data/0", "x/version"}, *cont3[] = {(const char *)pk, "abcd", "3\n"};
        size_t sz3[] = {pn, 4, 2};
        write_zip(bad, 3, names3, cont3, sz3);
        expect_open_error(ts, bad, "short storage record", "holds 4 bytes");
        float two[2] = {1.5f, -2.0f};
        const char *cont4[] = {(const char *)pk, (const char *)two, "3\n"};
        size_t sz4[] = {pn, 8, 2};
        write_zip(bad, 3, names3, cont4, sz4);
        bv_pth f;
        BV_CHECK(bv_pth_open(&f, bad, err, sizeof err) == 0 && !strcmp(f.archive, "x"), "valid hand-made file: %s",
                 err);
        const bv_pk_tensor *t = bv_pk_as_tensor(bv_pk_get(f.root, "w"));
        BV_CHECK(t && t->numel == 2 && f32_at(t, 1) == -2.0f, "hand-made tensor");
        bv_pth_close(&f);
        bv_pth_tensor one;
        BV_CHECK(bv_pth_load_tensor(bad, &one, err, sizeof err) != 0 && strstr(err, "expected one tensor"),
                 "dict as one tensor: %s", err);
        bv_pth_tensor_free(&one);
    }
    /* saving into a folder that does not exist names the temporary file */
    BV_CHECK(bv_pth_save("/nonexistent/dir/G_0.pth", bv_pk_int(doc, 1), err, sizeof err) != 0 &&
                 strstr(err, "/nonexistent/dir/G_0.pth.tmp"),
             "save into a missing folder: %s", err);
    unlink(bad);
    unlink(path);
    rmdir(dir);
    free(b);
    bv_pk_doc_free(doc);
}
