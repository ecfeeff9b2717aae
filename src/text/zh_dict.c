/* zh_dict.c - reading jieba's, pypinyin's and tone_sandhi.py's tables (see zh_dict.h), and the binary
 * cache of them. The Python-literal files (jieba's prob_*.py, char_state_tab.py) and pypinyin's JSON are
 * read by one small literal parser: strings ('..' or "..", with \uXXXX escapes), numbers, and the
 * brackets of dicts, tuples, lists and sets. */
#include "zh_dict.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/error.h"
#include "zh_pinyin.h"

/* ---------------------------------------------------------------- UTF-8 */

int bv_zh_utf8_decode(const char *s, size_t n, uint32_t *out, size_t cap) {
    size_t k = 0;
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        uint32_t c = *p;
        int extra;
        if (c < 0x80) extra = 0;
        else if ((c & 0xE0) == 0xC0) c &= 0x1F, extra = 1;
        else if ((c & 0xF0) == 0xE0) c &= 0x0F, extra = 2;
        else if ((c & 0xF8) == 0xF0) c &= 0x07, extra = 3;
        else return -1;
        p++;
        if (e - p < extra) return -1;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xC0) != 0x80) return -1;
            c = (c << 6) | (*p & 0x3F);
        }
        if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
        if (extra == 1 && c < 0x80) return -1;
        if (extra == 2 && c < 0x800) return -1;
        if (extra == 3 && c < 0x10000) return -1;
        if (k >= cap) return -1;
        out[k++] = c;
    }
    return (int)k;
}

size_t bv_zh_utf8_put(char *d, uint32_t c) {
    if (c < 0x80) return d[0] = (char)c, 1;
    if (c < 0x800) return d[0] = (char)(0xC0 | (c >> 6)), d[1] = (char)(0x80 | (c & 0x3F)), 2;
    if (c < 0x10000) {
        d[0] = (char)(0xE0 | (c >> 12)), d[1] = (char)(0x80 | ((c >> 6) & 0x3F)), d[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (c >> 18)), d[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((c >> 6) & 0x3F)), d[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* ---------------------------------------------------------------- map */

static uint32_t hash_key(const uint32_t *k, uint32_t n) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) h = (h ^ k[i]) * 16777619u;
    return h ^ (h >> 15);
}

static void map_init(bv_zh_map *m, uint32_t expect) {
    memset(m, 0, sizeof *m);
    m->cap = 64;
    while (m->cap < expect * 2) m->cap <<= 1;
    m->slots = bv_xcalloc(m->cap, sizeof *m->slots);
    m->cap_entries = expect > 16 ? expect : 16;
    m->off = bv_xmalloc(m->cap_entries * sizeof *m->off);
    m->len = bv_xmalloc(m->cap_entries * sizeof *m->len);
    m->cap_pool = m->cap_entries * 2;
    m->pool = bv_xmalloc(m->cap_pool * sizeof *m->pool);
}

static void map_free(bv_zh_map *m) {
    free(m->pool), free(m->off), free(m->len), free(m->slots);
    memset(m, 0, sizeof *m);
}

int64_t bv_zh_map_find(const bv_zh_map *m, const uint32_t *key, uint32_t len) {
    if (!m->cap) return -1;
    uint32_t mask = m->cap - 1, i = hash_key(key, len) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t s = m->slots[i];
        if (!s) return -1;
        s--;
        if (m->len[s] == len && !memcmp(m->pool + m->off[s], key, len * sizeof *key)) return s;
    }
}

static void map_grow(bv_zh_map *m) {
    uint32_t ncap = m->cap * 2, mask = ncap - 1;
    uint32_t *slots = bv_xcalloc(ncap, sizeof *slots);
    for (uint32_t e = 0; e < m->n; e++) {
        uint32_t i = hash_key(m->pool + m->off[e], m->len[e]) & mask;
        while (slots[i]) i = (i + 1) & mask;
        slots[i] = e + 1;
    }
    free(m->slots);
    m->slots = slots, m->cap = ncap;
}

/* Entry index of key, added when absent (*added = 1). */
static uint32_t map_put(bv_zh_map *m, const uint32_t *key, uint32_t len, int *added) {
    int64_t f = bv_zh_map_find(m, key, len);
    if (added) *added = f < 0;
    if (f >= 0) return (uint32_t)f;
    if ((m->n + 1) * 2 > m->cap) map_grow(m);
    if (m->n == m->cap_entries) {
        m->cap_entries *= 2;
        m->off = bv_xrealloc(m->off, m->cap_entries * sizeof *m->off);
        m->len = bv_xrealloc(m->len, m->cap_entries * sizeof *m->len);
    }
    while (m->npool + len > m->cap_pool) {
        m->cap_pool *= 2;
        m->pool = bv_xrealloc(m->pool, m->cap_pool * sizeof *m->pool);
    }
    uint32_t e = m->n++;
    m->off[e] = m->npool, m->len[e] = len;
    memcpy(m->pool + m->npool, key, len * sizeof *key);
    m->npool += len;
    uint32_t mask = m->cap - 1, i = hash_key(key, len) & mask;
    while (m->slots[i]) i = (i + 1) & mask;
    m->slots[i] = e + 1;
    return e;
}

/* ---------------------------------------------------------------- errors, files */

static char *read_file(const char *path, size_t *n, char *err, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        bv_err_set(err, cap, "cannot open %s (%s); run scripts/fetch-zh.sh to install the Chinese front-end data",
                   path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (sz < 0 || sz > (1L << 30)) {
        fclose(f);
        bv_err_set(err, cap, "%s: cannot read its size, or it is over 1 GiB", path);
        return NULL;
    }
    char *buf = bv_xmalloc((size_t)sz + 1);
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f), free(buf);
        bv_err_set(err, cap, "%s: read error", path);
        return NULL;
    }
    fclose(f);
    buf[sz] = 0;
    *n = (size_t)sz;
    return buf;
}

/* ---------------------------------------------------------------- literal parser */

typedef struct {
    const char *s, *e, *path;
    char *err;
    size_t cap;
    int failed;
} lit;

static int lit_fail(lit *L, const char *base, const char *what) {
    if (L->failed) return -1;
    int line = 1;
    for (const char *p = base; p < L->s; p++) line += *p == '\n';
    L->failed = 1;
    return bv_err_set(L->err, L->cap, "%s line %d: %s", L->path, line, what);
}

static void lit_ws(lit *L) {
    while (L->s < L->e) {
        char c = *L->s;
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') L->s++;
        else if (c == '#') {
            while (L->s < L->e && *L->s != '\n') L->s++;
        } else break;
    }
}

/* Consume c (after whitespace); 1 if it was there. */
static int lit_eat(lit *L, char c) {
    lit_ws(L);
    if (L->s < L->e && *L->s == c) return L->s++, 1;
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A quoted string, decoded to code points. Returns its length or -1. */
static int lit_str(lit *L, uint32_t *out, int cap) {
    lit_ws(L);
    if (L->s >= L->e || (*L->s != '\'' && *L->s != '"')) return -1;
    char q = *L->s++;
    int n = 0;
    while (L->s < L->e && *L->s != q) {
        uint32_t c;
        if (*L->s == '\\') {
            L->s++;
            if (L->s >= L->e) return -1;
            char k = *L->s++;
            if (k == 'u' || k == 'U') {
                int nd = k == 'u' ? 4 : 8;
                c = 0;
                for (int i = 0; i < nd; i++) {
                    int v = L->s < L->e ? hexval(*L->s) : -1;
                    if (v < 0) return -1;
                    c = c * 16 + (uint32_t)v, L->s++;
                }
            } else if (k == 'n') c = '\n';
            else if (k == 't') c = '\t';
            else if (k == 'r') c = '\r';
            else if (k == '\\' || k == '\'' || k == '"' || k == '/') c = (uint32_t)k;
            else return -1;
        } else {
            const char *st = L->s;
            unsigned char b = (unsigned char)*st;
            int len = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : 4;
            if (L->e - st < len || bv_zh_utf8_decode(st, (size_t)len, &c, 1) != 1) return -1;
            L->s += len;
        }
        if (n >= cap) return -1;
        out[n++] = c;
    }
    if (L->s >= L->e) return -1;
    L->s++;
    return n;
}

static int lit_num(lit *L, double *v) {
    lit_ws(L);
    char *end;
    errno = 0;
    *v = strtod(L->s, &end);
    if (end == L->s) return -1;
    L->s = end;
    return 0;
}

/* Skip to just after "P=" (jieba's modules) */
static int lit_seek_assign(lit *L, const char *name) {
    size_t nl = strlen(name);
    for (const char *p = L->s; p + nl < L->e; p++) {
        if ((p == L->s || p[-1] == '\n') && !strncmp(p, name, nl)) {
            const char *q = p + nl;
            while (q < L->e && *q == ' ') q++;
            if (q < L->e && *q == '=') return L->s = q + 1, 0;
        }
    }
    return -1;
}

/* dir/name, one of jieba's modules "P={...}": L is left after the '{' (rc -1 when it is not there).
 * Returns the buffer L reads (free it), or NULL with err. */
static char *open_py_dict(lit *L, const char *dir, const char *name, char *path, size_t pcap, int *rc, char *err,
                          size_t cap) {
    snprintf(path, pcap, "%s/%s", dir, name);
    size_t n;
    char *buf = read_file(path, &n, err, cap);
    if (!buf) return NULL;
    *L = (lit){buf, buf + n, path, err, cap, 0};
    if (lit_seek_assign(L, "P") || !lit_eat(L, '{')) *rc = lit_fail(L, buf, "expected P={");
    return buf;
}

/* ---------------------------------------------------------------- tags, states */

typedef struct {
    char (*names)[BV_ZH_TAG_MAX];
    int n, cap;
} tagset;

static int tag_add(tagset *t, const uint32_t *cp, int n) {
    char s[BV_ZH_TAG_MAX];
    if (n <= 0 || n >= BV_ZH_TAG_MAX) return -1;
    for (int i = 0; i < n; i++) {
        if (cp[i] < 'a' || cp[i] > 'z') return -1;
        s[i] = (char)cp[i];
    }
    s[n] = 0;
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->names[i], s)) return i;
    if (t->n == 250) return -1;
    if (t->n == t->cap) t->cap = t->cap ? t->cap * 2 : 64, t->names = bv_xrealloc(t->names, (size_t)t->cap * sizeof *t->names);
    memcpy(t->names[t->n], s, sizeof s);
    return t->n++;
}

int bv_zh_tag_id(const bv_zh_dict *d, const char *tag) {
    int lo = 0, hi = d->ntags - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(d->tags[mid], tag);
        if (!c) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* posseg state key ('B', 'a'): *bmes and tag text */
static int lit_state(lit *L, char *bmes, uint32_t *tag, int *ntag) {
    uint32_t b[4];
    if (!lit_eat(L, '(')) return -1;
    if (lit_str(L, b, 4) != 1 || !strchr("BMES", (int)b[0])) return -1;
    if (!lit_eat(L, ',')) return -1;
    *ntag = lit_str(L, tag, BV_ZH_TAG_MAX);
    if (*ntag <= 0) return -1;
    if (!lit_eat(L, ')')) return -1;
    *bmes = (char)b[0];
    return 0;
}

/* ---------------------------------------------------------------- loaders */

static int load_jieba_dict(bv_zh_dict *d, tagset *tags, const char *dir, char *err, size_t cap) {
    char path[4200];
    snprintf(path, sizeof path, "%s/dict.txt", dir);
    size_t n;
    char *buf = read_file(path, &n, err, cap);
    if (!buf) return -1;
    map_init(&d->words, 700000);
    size_t fcap = d->words.cap_entries;
    d->freq = bv_xmalloc(fcap * sizeof *d->freq);
    d->word_tag = bv_xmalloc(fcap);
    int64_t total = 0;
    int line_no = 0;
    uint32_t key[256];
    int *raw_tag = NULL; /* raw tag index in tags set per entry (remapped after sorting) */
    size_t raw_cap = 0;
    for (char *p = buf, *end = buf + n; p < end;) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        line_no++;
        char *a = p, *b = eol;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '\r')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
        p = eol + 1;
        if (a == b) continue;
        /* word freq tag, split at single spaces */
        char *s1 = memchr(a, ' ', (size_t)(b - a));
        char *s2 = s1 ? memchr(s1 + 1, ' ', (size_t)(b - s1 - 1)) : NULL;
        if (!s1 || !s2 || memchr(s2 + 1, ' ', (size_t)(b - s2 - 1))) {
            free(buf), free(raw_tag);
            return bv_err_set(err, cap, "%s line %d: expected 'word freq tag'", path, line_no);
        }
        int kl = bv_zh_utf8_decode(a, (size_t)(s1 - a), key, 256);
        char *fe;
        long long fq = strtoll(s1 + 1, &fe, 10);
        uint32_t tg[BV_ZH_TAG_MAX];
        int tl = bv_zh_utf8_decode(s2 + 1, (size_t)(b - s2 - 1), tg, BV_ZH_TAG_MAX);
        int tid = tl > 0 ? tag_add(tags, tg, tl) : -1;
        if (kl <= 0 || fe != s2 || fq < 0 || tid < 0) {
            free(buf), free(raw_tag);
            return bv_err_set(err, cap, "%s line %d: bad word, frequency or tag", path, line_no);
        }
        total += fq;
        for (int l = 1; l <= kl; l++) {
            int added;
            uint32_t e = map_put(&d->words, key, (uint32_t)l, &added);
            if (e >= fcap) {
                fcap *= 2;
                d->freq = bv_xrealloc(d->freq, fcap * sizeof *d->freq);
                d->word_tag = bv_xrealloc(d->word_tag, fcap);
            }
            if (e >= raw_cap) {
                raw_cap = fcap;
                raw_tag = bv_xrealloc(raw_tag, raw_cap * sizeof *raw_tag);
            }
            if (added) d->freq[e] = 0, raw_tag[e] = -1;
            if (l == kl) d->freq[e] = fq, raw_tag[e] = tid;
        }
    }
    free(buf);
    d->total = (double)total;
    /* word_tag holds raw ids for now; remapped in finish_tags */
    for (uint32_t e = 0; e < d->words.n; e++) d->word_tag[e] = raw_tag[e] < 0 ? 0xFF : (uint8_t)raw_tag[e];
    free(raw_tag);
    return 0;
}

static int load_finalseg(bv_zh_dict *d, const char *dir, char *err, size_t cap) {
    static const char *names[3] = {"finalseg_prob_start.py", "finalseg_prob_trans.py", "finalseg_prob_emit.py"};
    for (int i = 0; i < 4; i++) {
        d->fs_start[i] = NAN;
        for (int j = 0; j < 4; j++) d->fs_trans[i][j] = BV_ZH_MIN_FLOAT; /* trans_p[y0].get(y, MIN_FLOAT) */
    }
    map_init(&d->fs_chars, 8000);
    size_t ecap = d->fs_chars.cap_entries;
    d->fs_emit = bv_xmalloc(ecap * 4 * sizeof *d->fs_emit);
    for (int f = 0; f < 3; f++) {
        char path[4200];
        int rc = 0;
        lit L;
        char *buf = open_py_dict(&L, dir, names[f], path, sizeof path, &rc, err, cap);
        if (!buf) return -1;
        while (!rc && !lit_eat(&L, '}')) {
            uint32_t k[4];
            if (lit_str(&L, k, 4) != 1 || !strchr("BMES", (int)k[0]) || !lit_eat(&L, ':')) {
                rc = lit_fail(&L, buf, "expected 'B'|'M'|'E'|'S':");
                break;
            }
            int s = (int)(strchr("BMES", (int)k[0]) - "BMES");
            if (f == 0) {
                if (lit_num(&L, &d->fs_start[s])) rc = lit_fail(&L, buf, "expected a number");
            } else {
                if (!lit_eat(&L, '{')) {
                    rc = lit_fail(&L, buf, "expected {");
                    break;
                }
                while (!rc && !lit_eat(&L, '}')) {
                    uint32_t c[4];
                    double v;
                    int kl = lit_str(&L, c, 4);
                    if (kl != 1 || !lit_eat(&L, ':') || lit_num(&L, &v)) {
                        rc = lit_fail(&L, buf, "expected 'x': number");
                        break;
                    }
                    if (f == 1) {
                        const char *q = strchr("BMES", (int)c[0]);
                        if (!q || !c[0]) {
                            rc = lit_fail(&L, buf, "unknown state");
                            break;
                        }
                        d->fs_trans[s][q - "BMES"] = v;
                    } else {
                        int added;
                        uint32_t e = map_put(&d->fs_chars, c, 1, &added);
                        if (e >= ecap) ecap *= 2, d->fs_emit = bv_xrealloc(d->fs_emit, ecap * 4 * sizeof *d->fs_emit);
                        if (added)
                            for (int j = 0; j < 4; j++) d->fs_emit[e * 4 + j] = BV_ZH_MIN_FLOAT;
                        d->fs_emit[e * 4 + s] = v;
                    }
                    lit_eat(&L, ',');
                }
            }
            lit_eat(&L, ',');
        }
        free(buf);
        if (rc) return -1;
    }
    for (int i = 0; i < 4; i++)
        if (isnan(d->fs_start[i])) return bv_err_set(err, cap, "%s/finalseg_prob_start.py: state %c missing", dir,
                                                     "BMES"[i]);
    return 0;
}

typedef struct {
    char bmes;
    int tag; /* raw tag id */
} rawstate;

static int state_find(const rawstate *st, int n, char bmes, int tag) {
    for (int i = 0; i < n; i++)
        if (st[i].bmes == bmes && st[i].tag == tag) return i;
    return -1;
}

/* posseg tables. States are first collected in file order with raw tag ids; finish_tags sorts them. */
typedef struct {
    rawstate st[1024];
    int nst;
    double start[1024];
    /* trans triples */
    int *tr_from, *tr_to;
    double *tr_val;
    int ntr, cap_tr;
    /* emit triples over ps_chars */
    uint32_t *em_char;
    int *em_state;
    double *em_val;
    size_t nem, cap_em;
    /* char_state_tab: per char list of raw states */
    uint32_t *cs_char_off; /* per entry of ps_chars: offset into cs_list (+1), 0: none */
    uint32_t *cs_char_n;
    int *cs_list;
    size_t ncs, cap_cs;
    size_t cap_chars;
} psraw;

static int ps_state_of(psraw *r, tagset *tags, lit *L, const char *buf) {
    char bmes;
    uint32_t tag[BV_ZH_TAG_MAX];
    int ntag;
    if (lit_state(L, &bmes, tag, &ntag)) return lit_fail(L, buf, "expected a state ('B', 'tag')"), -1;
    int tid = tag_add(tags, tag, ntag);
    if (tid < 0) return lit_fail(L, buf, "bad tag"), -1;
    int s = state_find(r->st, r->nst, bmes, tid);
    if (s < 0) {
        if (r->nst == 1024) return lit_fail(L, buf, "too many states"), -1;
        s = r->nst++;
        r->st[s].bmes = bmes, r->st[s].tag = tid;
        r->start[s] = NAN;
    }
    return s;
}

static uint32_t ps_char(bv_zh_dict *d, psraw *r, uint32_t c) {
    int added;
    uint32_t e = map_put(&d->ps_chars, &c, 1, &added);
    if (e >= r->cap_chars) {
        r->cap_chars = r->cap_chars ? r->cap_chars * 2 : 8192;
        r->cs_char_off = bv_xrealloc(r->cs_char_off, r->cap_chars * sizeof *r->cs_char_off);
        r->cs_char_n = bv_xrealloc(r->cs_char_n, r->cap_chars * sizeof *r->cs_char_n);
    }
    if (added) r->cs_char_off[e] = 0, r->cs_char_n[e] = 0;
    return e;
}

static int load_posseg(bv_zh_dict *d, tagset *tags, psraw *r, const char *dir, char *err, size_t cap) {
    static const char *names[4] = {"posseg_prob_trans.py", "posseg_prob_start.py", "posseg_prob_emit.py",
                                   "posseg_char_state_tab.py"};
    map_init(&d->ps_chars, 8000);
    for (int f = 0; f < 4; f++) {
        char path[4200];
        int rc = 0;
        lit L;
        char *buf = open_py_dict(&L, dir, names[f], path, sizeof path, &rc, err, cap);
        if (!buf) return -1;
        while (!rc && !lit_eat(&L, '}')) {
            if (f == 3) { /* 'c': (('B', 'm'), ...) */
                uint32_t c[4];
                if (lit_str(&L, c, 4) != 1 || !lit_eat(&L, ':') || !lit_eat(&L, '(')) {
                    rc = lit_fail(&L, buf, "expected 'c': (");
                    break;
                }
                uint32_t e = ps_char(d, r, c[0]);
                r->cs_char_off[e] = (uint32_t)r->ncs + 1;
                r->cs_char_n[e] = 0;
                while (!rc && !lit_eat(&L, ')')) {
                    int s = ps_state_of(r, tags, &L, buf);
                    if (s < 0) {
                        rc = -1;
                        break;
                    }
                    if (r->ncs == r->cap_cs) r->cap_cs = r->cap_cs ? r->cap_cs * 2 : 65536, r->cs_list = bv_xrealloc(r->cs_list, r->cap_cs * sizeof *r->cs_list);
                    r->cs_list[r->ncs++] = s;
                    r->cs_char_n[e]++;
                    lit_eat(&L, ',');
                }
                lit_eat(&L, ',');
                continue;
            }
            int s = ps_state_of(r, tags, &L, buf);
            if (s < 0 || !lit_eat(&L, ':')) {
                rc = lit_fail(&L, buf, "expected state:");
                break;
            }
            if (f == 1) {
                if (lit_num(&L, &r->start[s])) rc = lit_fail(&L, buf, "expected a number");
                lit_eat(&L, ',');
                continue;
            }
            if (!lit_eat(&L, '{')) {
                rc = lit_fail(&L, buf, "expected {");
                break;
            }
            while (!rc && !lit_eat(&L, '}')) {
                double v;
                if (f == 0) {
                    int t = ps_state_of(r, tags, &L, buf);
                    if (t < 0 || !lit_eat(&L, ':') || lit_num(&L, &v)) {
                        rc = lit_fail(&L, buf, "expected state: number");
                        break;
                    }
                    if (r->ntr == r->cap_tr) {
                        r->cap_tr = r->cap_tr ? r->cap_tr * 2 : 4096;
                        r->tr_from = bv_xrealloc(r->tr_from, (size_t)r->cap_tr * sizeof *r->tr_from);
                        r->tr_to = bv_xrealloc(r->tr_to, (size_t)r->cap_tr * sizeof *r->tr_to);
                        r->tr_val = bv_xrealloc(r->tr_val, (size_t)r->cap_tr * sizeof *r->tr_val);
                    }
                    r->tr_from[r->ntr] = s, r->tr_to[r->ntr] = t, r->tr_val[r->ntr++] = v;
                } else {
                    uint32_t c[4];
                    if (lit_str(&L, c, 4) != 1 || !lit_eat(&L, ':') || lit_num(&L, &v)) {
                        rc = lit_fail(&L, buf, "expected 'c': number");
                        break;
                    }
                    uint32_t e = ps_char(d, r, c[0]);
                    if (r->nem == r->cap_em) {
                        r->cap_em = r->cap_em ? r->cap_em * 2 : 65536;
                        r->em_char = bv_xrealloc(r->em_char, r->cap_em * sizeof *r->em_char);
                        r->em_state = bv_xrealloc(r->em_state, r->cap_em * sizeof *r->em_state);
                        r->em_val = bv_xrealloc(r->em_val, r->cap_em * sizeof *r->em_val);
                    }
                    r->em_char[r->nem] = e, r->em_state[r->nem] = s, r->em_val[r->nem++] = v;
                }
                lit_eat(&L, ',');
            }
            lit_eat(&L, ',');
        }
        free(buf);
        if (rc) return -1;
    }
    return 0;
}

static const rawstate *g_sort_states;
static const tagset *g_sort_tags;
static int cmp_state_idx(const void *a, const void *b) {
    const rawstate *x = &g_sort_states[*(const int *)a], *y = &g_sort_states[*(const int *)b];
    if (x->bmes != y->bmes) return x->bmes < y->bmes ? -1 : 1;
    return strcmp(g_sort_tags->names[x->tag], g_sort_tags->names[y->tag]);
}
static int cmp_tag_idx(const void *a, const void *b) {
    return strcmp(g_sort_tags->names[*(const int *)a], g_sort_tags->names[*(const int *)b]);
}

typedef struct {
    uint16_t state;
    double val;
} emit_pair;
static int cmp_emit_pair(const void *a, const void *b) {
    const emit_pair *x = a, *y = b;
    return (x->state > y->state) - (x->state < y->state);
}

/* Sort tags by name and states as Python compares the tuples; build the dense/CSR tables. */
static int finish_posseg(bv_zh_dict *d, tagset *tags, psraw *r, const char *dir, char *err, size_t cap) {
    int nt = tags->n;
    int *order = bv_xmalloc((size_t)nt * sizeof *order), *tag_new = bv_xmalloc((size_t)nt * sizeof *tag_new);
    for (int i = 0; i < nt; i++) order[i] = i;
    g_sort_tags = tags;
    qsort(order, (size_t)nt, sizeof *order, cmp_tag_idx);
    d->ntags = nt;
    d->tags = bv_xmalloc((size_t)nt * sizeof *d->tags);
    for (int i = 0; i < nt; i++) tag_new[order[i]] = i, memcpy(d->tags[i], tags->names[order[i]], BV_ZH_TAG_MAX);
    for (uint32_t e = 0; e < d->words.n; e++)
        if (d->word_tag[e] != 0xFF) d->word_tag[e] = (uint8_t)tag_new[d->word_tag[e]];
    /* states: every state the four files name; for jieba 0.42.1 (sha256-pinned) exactly the keys of prob_trans,
     * upstream's all_states */
    int S = r->nst;
    int *sorder = bv_xmalloc((size_t)S * sizeof *sorder), *snew = bv_xmalloc((size_t)S * sizeof *snew);
    for (int i = 0; i < S; i++) sorder[i] = i;
    g_sort_states = r->st;
    qsort(sorder, (size_t)S, sizeof *sorder, cmp_state_idx);
    for (int i = 0; i < S; i++) snew[sorder[i]] = i;
    d->nstates = S;
    d->state_bmes = bv_xmalloc((size_t)S);
    d->state_tag = bv_xmalloc((size_t)S);
    d->ps_start = bv_xmalloc((size_t)S * sizeof *d->ps_start);
    for (int i = 0; i < S; i++) {
        const rawstate *rs = &r->st[sorder[i]];
        d->state_bmes[i] = rs->bmes;
        d->state_tag[i] = (uint8_t)tag_new[rs->tag];
        d->ps_start[i] = r->start[sorder[i]];
        if (isnan(d->ps_start[i]))
            return free(order), free(tag_new), free(sorder), free(snew),
                   bv_err_set(err, cap, "%s/posseg_prob_start.py: state ('%c', '%s') missing", dir, rs->bmes,
                              tags->names[rs->tag]);
    }
    d->ps_trans = bv_xmalloc((size_t)S * S * sizeof *d->ps_trans);
    for (size_t i = 0; i < (size_t)S * S; i++) d->ps_trans[i] = -INFINITY; /* trans_p[y0].get(y, MIN_INF) */
    int *cnt = bv_xcalloc((size_t)S + 1, sizeof *cnt);
    for (int i = 0; i < r->ntr; i++) {
        int a = snew[r->tr_from[i]], b = snew[r->tr_to[i]];
        if (d->ps_trans[(size_t)a * S + b] == -INFINITY) cnt[a]++;
        d->ps_trans[(size_t)a * S + b] = r->tr_val[i];
    }
    d->ps_next_off = bv_xmalloc(((size_t)S + 1) * sizeof *d->ps_next_off);
    d->ps_next_off[0] = 0;
    for (int i = 0; i < S; i++) d->ps_next_off[i + 1] = d->ps_next_off[i] + (uint32_t)cnt[i];
    d->ps_next = bv_xmalloc((d->ps_next_off[S] + 1) * sizeof *d->ps_next);
    for (int a = 0, k = 0; a < S; a++)
        for (int b = 0; b < S; b++)
            if (d->ps_trans[(size_t)a * S + b] != -INFINITY) d->ps_next[k++] = (uint32_t)b;
    free(cnt);
    /* emit: CSR per char, sorted by state */
    uint32_t C = d->ps_chars.n;
    d->ps_emit_off = bv_xcalloc((size_t)C + 1, sizeof *d->ps_emit_off);
    for (size_t i = 0; i < r->nem; i++) d->ps_emit_off[r->em_char[i] + 1]++;
    for (uint32_t c = 0; c < C; c++) d->ps_emit_off[c + 1] += d->ps_emit_off[c];
    uint32_t *fill = bv_xcalloc((size_t)C + 1, sizeof *fill);
    emit_pair *pairs = bv_xmalloc((r->nem + 1) * sizeof *pairs);
    for (size_t i = 0; i < r->nem; i++) {
        uint32_t c = r->em_char[i];
        emit_pair *p = &pairs[d->ps_emit_off[c] + fill[c]++];
        p->state = (uint16_t)snew[r->em_state[i]], p->val = r->em_val[i];
    }
    d->ps_emit_state = bv_xmalloc((r->nem + 1) * sizeof *d->ps_emit_state);
    d->ps_emit_val = bv_xmalloc((r->nem + 1) * sizeof *d->ps_emit_val);
    for (uint32_t c = 0; c < C; c++) {
        uint32_t a = d->ps_emit_off[c], b = d->ps_emit_off[c + 1];
        qsort(pairs + a, b - a, sizeof *pairs, cmp_emit_pair);
        for (uint32_t i = a; i < b; i++) {
            if (i > a && pairs[i].state == pairs[i - 1].state) /* a repeated key: the last wins in Python */
                d->ps_emit_val[i - 1] = pairs[i].val;
            d->ps_emit_state[i] = pairs[i].state, d->ps_emit_val[i] = pairs[i].val;
        }
    }
    free(pairs), free(fill);
    /* char_state_tab */
    d->ps_cst_off = bv_xcalloc((size_t)C + 1, sizeof *d->ps_cst_off);
    d->ps_cst_has = bv_xcalloc((size_t)C + 1, 1);
    d->ps_cst = bv_xmalloc((r->ncs + 1) * sizeof *d->ps_cst);
    uint32_t k = 0;
    for (uint32_t c = 0; c < C; c++) {
        d->ps_cst_off[c] = k;
        if (c < r->cap_chars && r->cs_char_off[c]) {
            d->ps_cst_has[c] = 1;
            for (uint32_t i = 0; i < r->cs_char_n[c]; i++) d->ps_cst[k++] = (uint16_t)snew[r->cs_list[r->cs_char_off[c] - 1 + i]];
        }
    }
    d->ps_cst_off[C] = k;
    free(order), free(tag_new), free(sorder), free(snew);
    return 0;
}

/* pypinyin: readings interned as syllables */
typedef struct {
    bv_zh_map m; /* toned pinyin code points -> syllable id */
} sylset;

static int syl_intern(bv_zh_dict *d, sylset *ss, const uint32_t *cp, int n, char *err, size_t cap) {
    int added;
    uint32_t id = map_put(&ss->m, cp, (uint32_t)n, &added);
    if (!added) return (int)id;
    if (id >= 65535) return bv_err_set(err, cap, "pypinyin: more than 65535 distinct readings");
    if ((int)id >= d->nsyl) {
        int nc = d->nsyl ? d->nsyl * 2 : 2048;
        d->syl = bv_xrealloc(d->syl, (size_t)nc * sizeof *d->syl);
        d->nsyl = nc;
    }
    bv_zh_syllable *s = &d->syl[id];
    if (bv_zh_pinyin_style(cp, n, s->ini, s->fin, BV_ZH_PY_MAX)) {
        char u[256];
        size_t k = 0;
        for (int i = 0; i < n && k + 4 < sizeof u; i++) k += bv_zh_utf8_put(u + k, cp[i]);
        u[k] = 0;
        return bv_err_set(err, cap, "pypinyin: reading '%s' too long", u);
    }
    return (int)id;
}

static int load_pinyin(bv_zh_dict *d, sylset *ss, const char *dir, char *err, size_t cap) {
    char path[4200];
    snprintf(path, sizeof path, "%s/pinyin_dict.json", dir);
    size_t n;
    char *buf = read_file(path, &n, err, cap);
    if (!buf) return -1;
    lit L = {buf, buf + n, path, err, cap, 0};
    d->pinyin_max_cp = 0x32000;
    d->pinyin_of = bv_xcalloc(d->pinyin_max_cp, sizeof *d->pinyin_of);
    int rc = 0;
    if (!lit_eat(&L, '{')) rc = lit_fail(&L, buf, "expected {");
    uint32_t k[16], v[512];
    while (!rc && !lit_eat(&L, '}')) {
        int kl = lit_str(&L, k, 16);
        int vl = kl > 0 && lit_eat(&L, ':') ? lit_str(&L, v, 512) : -1;
        uint64_t cp = 0;
        for (int i = 0; i < kl; i++) cp = k[i] >= '0' && k[i] <= '9' ? cp * 10 + (k[i] - '0') : (uint64_t)1 << 40;
        if (kl <= 0 || vl <= 0 || cp >= d->pinyin_max_cp) {
            rc = lit_fail(&L, buf, "expected \"codepoint\": \"readings\" (code point below 0x32000)");
            break;
        }
        int e = 0;
        while (e < vl && v[e] != ',') e++; /* heteronym=False: the first reading */
        int id = e > 0 ? syl_intern(d, ss, v, e, err, cap) : -1;
        if (id < 0) {
            if (e <= 0) lit_fail(&L, buf, "empty reading");
            rc = -1;
            break;
        }
        d->pinyin_of[cp] = (uint16_t)(id + 1);
        lit_eat(&L, ',');
    }
    free(buf);
    return rc;
}

static int load_phrases(bv_zh_dict *d, sylset *ss, const char *dir, char *err, size_t cap) {
    char path[4200];
    snprintf(path, sizeof path, "%s/phrases_dict.json", dir);
    size_t n;
    char *buf = read_file(path, &n, err, cap);
    if (!buf) return -1;
    lit L = {buf, buf + n, path, err, cap, 0};
    map_init(&d->phrases, 800000);
    size_t ocap = d->phrases.cap_entries, scap = 1 << 20, ns = 0;
    d->phrase_off = bv_xmalloc(ocap * sizeof *d->phrase_off);
    d->phrase_syl = bv_xmalloc(scap * sizeof *d->phrase_syl);
    int rc = 0;
    if (!lit_eat(&L, '{')) rc = lit_fail(&L, buf, "expected {");
    uint32_t k[128], v[64];
    while (!rc && !lit_eat(&L, '}')) {
        int kl = lit_str(&L, k, 128);
        if (kl <= 0 || !lit_eat(&L, ':') || !lit_eat(&L, '[')) {
            rc = lit_fail(&L, buf, "expected \"phrase\": [");
            break;
        }
        uint32_t start = (uint32_t)ns;
        while (!rc && !lit_eat(&L, ']')) {
            if (!lit_eat(&L, '[')) {
                rc = lit_fail(&L, buf, "expected [");
                break;
            }
            int first = 1;
            while (!rc && !lit_eat(&L, ']')) {
                int vl = lit_str(&L, v, 64);
                if (vl <= 0) {
                    rc = lit_fail(&L, buf, "expected a reading");
                    break;
                }
                if (first) { /* item[0] */
                    int id = syl_intern(d, ss, v, vl, err, cap);
                    if (id < 0) {
                        rc = -1;
                        break;
                    }
                    if (ns + 1 >= scap) scap *= 2, d->phrase_syl = bv_xrealloc(d->phrase_syl, scap * sizeof *d->phrase_syl);
                    d->phrase_syl[ns++] = (uint16_t)id;
                    first = 0;
                }
                lit_eat(&L, ',');
            }
            lit_eat(&L, ',');
        }
        if (rc) break;
        if ((int)(ns - start) != kl) {
            rc = lit_fail(&L, buf, "phrase has not one reading per character");
            break;
        }
        for (int l = 1; l <= kl; l++) {
            int added;
            uint32_t e = map_put(&d->phrases, k, (uint32_t)l, &added);
            if (e >= ocap) ocap *= 2, d->phrase_off = bv_xrealloc(d->phrase_off, ocap * sizeof *d->phrase_off);
            if (added) d->phrase_off[e] = UINT32_MAX;
            if (l == kl) d->phrase_off[e] = start;
        }
        lit_eat(&L, ',');
    }
    free(buf);
    return rc;
}

static int cmp_opencpop(const void *a, const void *b) {
    return strcmp(((const bv_zh_opencpop *)a)->pinyin, ((const bv_zh_opencpop *)b)->pinyin);
}

const char *bv_zh_opencpop_find(const bv_zh_dict *d, const char *pinyin) {
    int lo = 0, hi = d->nopencpop - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(d->opencpop[mid].pinyin, pinyin);
        if (!c) return d->opencpop[mid].phones;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

static int load_opencpop(bv_zh_dict *d, const char *dir, char *err, size_t cap) {
    char path[4200];
    snprintf(path, sizeof path, "%s/opencpop-strict.txt", dir);
    size_t n;
    char *buf = read_file(path, &n, err, cap);
    if (!buf) return -1;
    d->opencpop = bv_xcalloc(1024, sizeof *d->opencpop);
    int line = 0;
    for (char *p = buf, *end = buf + n; p < end;) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        line++;
        *eol = 0;
        /* pinyin_to_symbol_map[line.split("\t")[0]] = line.strip().split("\t")[1] */
        char *tab = strchr(p, '\t');
        char *ph = tab ? tab + 1 : NULL;
        if (ph) {
            char *t2 = strchr(ph, '\t');
            if (t2) *t2 = 0;
            size_t l = strlen(ph);
            while (l && (ph[l - 1] == '\r' || ph[l - 1] == ' ')) ph[--l] = 0;
        }
        if (!tab || tab - p >= 8 || !ph || strlen(ph) >= 16 || d->nopencpop == 1024) {
            free(buf);
            return bv_err_set(err, cap, "%s line %d: expected 'pinyin<TAB>phones'", path, line);
        }
        bv_zh_opencpop *o = NULL;
        *tab = 0;
        for (int i = 0; i < d->nopencpop; i++)
            if (!strcmp(d->opencpop[i].pinyin, p)) o = &d->opencpop[i]; /* a repeated key: the last wins */
        if (!o) o = &d->opencpop[d->nopencpop++];
        snprintf(o->pinyin, sizeof o->pinyin, "%s", p);
        snprintf(o->phones, sizeof o->phones, "%s", ph);
        p = eol + 1;
    }
    free(buf);
    qsort(d->opencpop, (size_t)d->nopencpop, sizeof *d->opencpop, cmp_opencpop);
    return 0;
}

/* tone_sandhi.py: the string literals of `self.<name> = { ... }` */
static int load_word_set(bv_zh_map *m, const char *buf, size_t n, const char *path, const char *name, char *err,
                         size_t cap) {
    char pat[128];
    snprintf(pat, sizeof pat, "self.%s = {", name);
    const char *p = strstr(buf, pat);
    if (!p) return bv_err_set(err, cap, "%s: no '%s'", path, pat);
    lit L = {p + strlen(pat), buf + n, path, err, cap, 0};
    map_init(m, 512);
    uint32_t w[64];
    while (!lit_eat(&L, '}')) {
        int l = lit_str(&L, w, 64);
        if (l <= 0) return lit_fail(&L, buf, "expected a quoted word");
        map_put(m, w, (uint32_t)l, NULL);
        lit_eat(&L, ',');
    }
    return 0;
}

static int load_sandhi_words(bv_zh_dict *d, const char *dir, char *err, size_t cap) {
    char path[4200];
    snprintf(path, sizeof path, "%s/tone_sandhi.py", dir);
    size_t n;
    char *buf = read_file(path, &n, err, cap);
    if (!buf) return -1;
    int rc = load_word_set(&d->must_neural, buf, n, path, "must_neural_tone_words", err, cap);
    if (!rc) rc = load_word_set(&d->must_not_neural, buf, n, path, "must_not_neural_tone_words", err, cap);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- cache */

#define CACHE_MAGIC "BV2ZHC04"

typedef struct {
    void **ptr;
    size_t elem;
    size_t count;
} field;

static void map_fields(bv_zh_map *m, field *f, int *k) {
    f[(*k)++] = (field){(void **)&m->pool, 4, m->npool};
    f[(*k)++] = (field){(void **)&m->off, 4, m->n};
    f[(*k)++] = (field){(void **)&m->len, 4, m->n};
    f[(*k)++] = (field){(void **)&m->slots, 4, m->cap};
}

/* The arrays of d, with their sizes taken from d's counts. */
static int dict_fields(bv_zh_dict *d, field *f) {
    int k = 0;
    uint32_t S = (uint32_t)d->nstates, C = d->ps_chars.n;
    map_fields(&d->words, f, &k);
    f[k++] = (field){(void **)&d->freq, 8, d->words.n};
    f[k++] = (field){(void **)&d->word_tag, 1, d->words.n};
    f[k++] = (field){(void **)&d->tags, BV_ZH_TAG_MAX, (size_t)d->ntags};
    map_fields(&d->fs_chars, f, &k);
    f[k++] = (field){(void **)&d->fs_emit, 8, (size_t)d->fs_chars.n * 4};
    f[k++] = (field){(void **)&d->state_bmes, 1, S};
    f[k++] = (field){(void **)&d->state_tag, 1, S};
    f[k++] = (field){(void **)&d->ps_start, 8, S};
    f[k++] = (field){(void **)&d->ps_trans, 8, (size_t)S * S};
    f[k++] = (field){(void **)&d->ps_next_off, 4, (size_t)S + 1};
    f[k++] = (field){(void **)&d->ps_next, 4, d->ps_next_off ? d->ps_next_off[S] : 0};
    map_fields(&d->ps_chars, f, &k);
    f[k++] = (field){(void **)&d->ps_emit_off, 4, (size_t)C + 1};
    f[k++] = (field){(void **)&d->ps_emit_state, 2, d->ps_emit_off ? d->ps_emit_off[C] : 0};
    f[k++] = (field){(void **)&d->ps_emit_val, 8, d->ps_emit_off ? d->ps_emit_off[C] : 0};
    f[k++] = (field){(void **)&d->ps_cst_off, 4, (size_t)C + 1};
    f[k++] = (field){(void **)&d->ps_cst, 2, d->ps_cst_off ? d->ps_cst_off[C] : 0};
    f[k++] = (field){(void **)&d->ps_cst_has, 1, C};
    f[k++] = (field){(void **)&d->syl, sizeof(bv_zh_syllable), (size_t)d->nsyl};
    f[k++] = (field){(void **)&d->pinyin_of, 2, d->pinyin_max_cp};
    map_fields(&d->phrases, f, &k);
    f[k++] = (field){(void **)&d->phrase_off, 4, d->phrases.n};
    f[k++] = (field){(void **)&d->phrase_syl, 2, 0}; /* count set by caller */
    f[k++] = (field){(void **)&d->opencpop, sizeof(bv_zh_opencpop), (size_t)d->nopencpop};
    map_fields(&d->must_neural, f, &k);
    map_fields(&d->must_not_neural, f, &k);
    return k;
}

/* Scalars stored in the header, in this order. */
typedef struct {
    char magic[8];
    uint32_t words_n, words_cap, words_npool, fs_n, fs_cap, fs_npool, ps_n, ps_cap, ps_npool;
    uint32_t ph_n, ph_cap, ph_npool, mn_n, mn_cap, mn_npool, mnn_n, mnn_cap, mnn_npool;
    int32_t ntags, nstates, nsyl, nopencpop;
    uint32_t pinyin_max_cp, phrase_syl_n;
    uint32_t layout; /* field count and record sizes of the build that wrote it */
    double total, fs_start[4], fs_trans[4][4];
} cache_head;

static size_t phrase_syl_count(const bv_zh_dict *d) {
    size_t m = 0;
    for (uint32_t e = 0; e < d->phrases.n; e++)
        if (d->phrase_off[e] != UINT32_MAX) {
            size_t end = d->phrase_off[e] + d->phrases.len[e];
            if (end > m) m = end;
        }
    return m;
}

static uint32_t cache_layout(int nfields) {
    return (uint32_t)nfields | (uint32_t)sizeof(bv_zh_syllable) << 8 | (uint32_t)sizeof(bv_zh_opencpop) << 16 |
           (uint32_t)BV_ZH_TAG_MAX << 24;
}

static void cache_write(bv_zh_dict *d, const char *path) {
    cache_head h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CACHE_MAGIC, 8);
#define MAPH(p, m) h.p##_n = d->m.n, h.p##_cap = d->m.cap, h.p##_npool = d->m.npool
    MAPH(words, words);
    MAPH(fs, fs_chars);
    MAPH(ps, ps_chars);
    MAPH(ph, phrases);
    MAPH(mn, must_neural);
    MAPH(mnn, must_not_neural);
#undef MAPH
    h.ntags = d->ntags, h.nstates = d->nstates, h.nsyl = d->nsyl, h.nopencpop = d->nopencpop;
    h.pinyin_max_cp = d->pinyin_max_cp;
    h.phrase_syl_n = (uint32_t)phrase_syl_count(d);
    h.total = d->total;
    memcpy(h.fs_start, d->fs_start, sizeof h.fs_start);
    memcpy(h.fs_trans, d->fs_trans, sizeof h.fs_trans);
    field f[64];
    int nf = dict_fields(d, f);
    h.layout = cache_layout(nf);
    for (int i = 0; i < nf; i++)
        if (f[i].ptr == (void **)&d->phrase_syl) f[i].count = h.phrase_syl_n;
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *fp = fopen(tmp, "wb");
    if (!fp) return; /* a cache is an optimisation: no cache, no harm */
    int ok = fwrite(&h, sizeof h, 1, fp) == 1;
    static const char zeros[8] = {0};
    size_t pos = sizeof h;
    for (int i = 0; i < nf && ok; i++) {
        size_t pad = (8 - pos % 8) % 8, bytes = f[i].elem * f[i].count;
        ok = fwrite(zeros, 1, pad, fp) == pad && (bytes == 0 || fwrite(*f[i].ptr, 1, bytes, fp) == bytes);
        pos += pad + bytes;
    }
    ok = fclose(fp) == 0 && ok;
    if (!ok || rename(tmp, path)) unlink(tmp);
}

static time_t mtime_of(const char *path) {
    struct stat st;
    return stat(path, &st) ? (time_t)-1 : st.st_mtime;
}

static const char *k_sources[] = {"dict.txt", "finalseg_prob_emit.py", "finalseg_prob_start.py",
                                  "finalseg_prob_trans.py", "posseg_char_state_tab.py", "posseg_prob_emit.py",
                                  "posseg_prob_start.py", "posseg_prob_trans.py", "pinyin_dict.json",
                                  "phrases_dict.json", "opencpop-strict.txt", "tone_sandhi.py"};

static bv_zh_dict *cache_read(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/cache.bin", dir);
    time_t tc = mtime_of(path);
    if (tc == (time_t)-1) return NULL;
    for (size_t i = 0; i < sizeof k_sources / sizeof *k_sources; i++) {
        char sp[4200];
        snprintf(sp, sizeof sp, "%s/%s", dir, k_sources[i]);
        time_t ts = mtime_of(sp);
        if (ts == (time_t)-1 || ts > tc) return NULL;
    }
    char err[256];
    size_t n;
    char *blob = read_file(path, &n, err, sizeof err);
    if (!blob) return NULL;
    cache_head h;
    if (n < sizeof h) return free(blob), NULL;
    memcpy(&h, blob, sizeof h);
    field f0[64];
    bv_zh_dict probe = {0};
    if (memcmp(h.magic, CACHE_MAGIC, 8) || h.layout != cache_layout(dict_fields(&probe, f0))) return free(blob), NULL;
    bv_zh_dict *d = bv_xcalloc(1, sizeof *d);
#define MAPR(p, m) d->m.n = h.p##_n, d->m.cap = h.p##_cap, d->m.npool = h.p##_npool
    MAPR(words, words);
    MAPR(fs, fs_chars);
    MAPR(ps, ps_chars);
    MAPR(ph, phrases);
    MAPR(mn, must_neural);
    MAPR(mnn, must_not_neural);
#undef MAPR
    d->ntags = h.ntags, d->nstates = h.nstates, d->nsyl = h.nsyl, d->nopencpop = h.nopencpop;
    d->pinyin_max_cp = h.pinyin_max_cp;
    d->total = h.total;
    memcpy(d->fs_start, h.fs_start, sizeof h.fs_start);
    memcpy(d->fs_trans, h.fs_trans, sizeof h.fs_trans);
    /* counts that depend on arrays are read in order: set pointers as we go */
    size_t pos = sizeof h;
    field f[64];
    int nf = dict_fields(d, f);
    for (int i = 0; i < nf; i++) {
        /* recompute the count now that earlier arrays are in place */
        field g[64];
        dict_fields(d, g);
        size_t count = g[i].count;
        if (g[i].ptr == (void **)&d->phrase_syl) count = h.phrase_syl_n;
        pos += (8 - pos % 8) % 8;
        size_t bytes = f[i].elem * count;
        if (pos + bytes > n) {
            free(blob), free(d);
            return NULL;
        }
        *f[i].ptr = blob + pos;
        pos += bytes;
    }
    if (pos != n) {
        free(blob), free(d);
        return NULL;
    }
    d->blob = blob;
    return d;
}

/* ---------------------------------------------------------------- load / free */

const char *bv_zh_data_dir(char *buf, size_t cap) {
    const char *env = getenv(BV_ZH_DATA_ENV);
    if (env && *env) return snprintf(buf, cap, "%s", env), buf;
    if (!access(BV_ZH_DATA_DEFAULT "/dict.txt", R_OK)) return snprintf(buf, cap, "%s", BV_ZH_DATA_DEFAULT), buf;
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(buf, cap, "%s/../%s", exe, BV_ZH_DATA_DEFAULT);
            char probe[4300];
            snprintf(probe, sizeof probe, "%s/dict.txt", buf);
            if (!access(probe, R_OK)) return buf;
        }
    }
    return snprintf(buf, cap, "%s", BV_ZH_DATA_DEFAULT), buf;
}

static bv_zh_dict *dict_load(const char *dir, int use_cache, char *err, size_t cap) {
    char dbuf[4200];
    if (!dir) dir = bv_zh_data_dir(dbuf, sizeof dbuf);
    bv_zh_dict *d = use_cache ? cache_read(dir) : NULL;
    if (d) return d;
    d = bv_xcalloc(1, sizeof *d);
    tagset tags = {0};
    psraw *r = bv_xcalloc(1, sizeof *r);
    sylset ss;
    map_init(&ss.m, 4096);
    int rc = load_jieba_dict(d, &tags, dir, err, cap);
    if (!rc) rc = load_finalseg(d, dir, err, cap);
    if (!rc) rc = load_posseg(d, &tags, r, dir, err, cap);
    if (!rc) rc = finish_posseg(d, &tags, r, dir, err, cap);
    if (!rc) rc = load_pinyin(d, &ss, dir, err, cap);
    if (!rc) rc = load_phrases(d, &ss, dir, err, cap);
    if (!rc) d->nsyl = (int)ss.m.n;
    if (!rc) rc = load_opencpop(d, dir, err, cap);
    if (!rc) rc = load_sandhi_words(d, dir, err, cap);
    free(tags.names);
    free(r->tr_from), free(r->tr_to), free(r->tr_val), free(r->em_char), free(r->em_state), free(r->em_val);
    free(r->cs_char_off), free(r->cs_char_n), free(r->cs_list), free(r);
    map_free(&ss.m);
    if (rc) {
        bv_zh_dict_free(d);
        return NULL;
    }
    if (use_cache) {
        char path[4200];
        snprintf(path, sizeof path, "%s/cache.bin", dir);
        cache_write(d, path);
    }
    return d;
}

/* ps_prev: for every state, the states with a transition into it, ascending */
static bv_zh_dict *with_prev(bv_zh_dict *d) {
    if (!d) return NULL;
    uint32_t S = (uint32_t)d->nstates;
    d->ps_prev_off = bv_xcalloc((size_t)S + 1, sizeof *d->ps_prev_off);
    d->ps_prev = bv_xmalloc(((size_t)d->ps_next_off[S] + 1) * sizeof *d->ps_prev);
    for (uint32_t b = 0, k = 0; b < S; b++) {
        d->ps_prev_off[b] = k;
        for (uint32_t a = 0; a < S; a++)
            if (d->ps_trans[(size_t)a * S + b] != -INFINITY) d->ps_prev[k++] = a;
        d->ps_prev_off[b + 1] = k;
    }
    return d;
}

bv_zh_dict *bv_zh_dict_load(const char *dir, char *err, size_t cap) { return with_prev(dict_load(dir, 1, err, cap)); }
bv_zh_dict *bv_zh_dict_load_text(const char *dir, char *err, size_t cap) { return with_prev(dict_load(dir, 0, err, cap)); }

void bv_zh_dict_free(bv_zh_dict *d) {
    if (!d) return;
    free(d->ps_prev_off), free(d->ps_prev);
    if (d->blob) {
        free(d->blob);
        free(d);
        return;
    }
    field f[64];
    int nf = dict_fields(d, f);
    for (int i = 0; i < nf; i++) free(*f[i].ptr);
    free(d);
}
