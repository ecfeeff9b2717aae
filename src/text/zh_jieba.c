/* zh_jieba.c - jieba 0.42.1 segmentation (see zh_jieba.h). Sums are done in upstream's order, in double,
 * with upstream's tie-breaking (Python's max over (score, index-or-state) tuples: the larger second wins),
 * so the routes and Viterbi paths are the same. */
#include "zh_jieba.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

void bv_zh_toks_free(bv_zh_toks *t) {
    free(t->v);
    t->v = NULL, t->n = t->cap = 0;
}

static void push(bv_zh_toks *t, int off, int len, const char *tag) {
    if (t->n == t->cap) t->cap = t->cap ? t->cap * 2 : 32, t->v = bv_xrealloc(t->v, (size_t)t->cap * sizeof *t->v);
    bv_zh_tok *k = &t->v[t->n++];
    k->off = off, k->len = len;
    size_t tl = tag ? strnlen(tag, sizeof k->tag - 1) : 0;
    memcpy(k->tag, tag ? tag : "", tl);
    k->tag[tl] = 0;
}

static int is_han(uint32_t c) { return c >= 0x4E00 && c <= 0x9FD5; }
static int is_alnum(uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
/* re_han_default: [\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-] */
static int in_han_default(uint32_t c) { return is_han(c) || is_alnum(c) || (c && strchr("+#&._%-", (int)c)); }
/* re_han_internal (posseg): [\u4E00-\u9FD5a-zA-Z0-9+#&\._] */
static int in_han_internal(uint32_t c) { return is_han(c) || is_alnum(c) || (c && strchr("+#&._", (int)c)); }

static int64_t freq_of(const bv_zh_dict *d, const uint32_t *w, int len, int *present) {
    int64_t e = bv_zh_map_find(&d->words, w, (uint32_t)len);
    if (present) *present = e >= 0;
    return e < 0 ? 0 : d->freq[e];
}

static const char *word_tag(const bv_zh_dict *d, const uint32_t *w, int len) {
    int64_t e = bv_zh_map_find(&d->words, w, (uint32_t)len);
    if (e < 0 || d->word_tag[e] == 0xFF) return "x";
    return d->tags[d->word_tag[e]];
}

/* get_DAG + calc: route_next[i] = end index (inclusive) of the word starting at i */
static void dag_route(const bv_zh_dict *d, const uint32_t *s, int n, int *route_next) {
    double *score = bv_xmalloc(((size_t)n + 1) * sizeof *score);
    int *ends = bv_xmalloc(((size_t)n + 1) * sizeof *ends);
    double logtotal = log(d->total);
    score[n] = 0;
    for (int idx = n - 1; idx >= 0; idx--) {
        /* DAG[idx] */
        int ne = 0;
        for (int i = idx; i < n; i++) {
            int present;
            int64_t f = freq_of(d, s + idx, i - idx + 1, &present);
            if (!present) break;
            if (f) ends[ne++] = i;
        }
        if (!ne) ends[ne++] = idx;
        double best = 0;
        int bx = -1;
        for (int k = 0; k < ne; k++) {
            int x = ends[k];
            int64_t f = freq_of(d, s + idx, x - idx + 1, NULL);
            double v = log((double)(f ? f : 1)) - logtotal + score[x + 1];
            if (bx < 0 || v > best || (v == best && x > bx)) best = v, bx = x;
        }
        score[idx] = best, route_next[idx] = bx;
    }
    free(score), free(ends);
}

/* ---------------------------------------------------------------- finalseg (jieba.cut's HMM) */

static double fs_emit(const bv_zh_dict *d, int state, uint32_t c) {
    int64_t e = bv_zh_map_find(&d->fs_chars, &c, 1);
    return e < 0 ? BV_ZH_MIN_FLOAT : d->fs_emit[e * 4 + state];
}

/* finalseg.__cut over a run of han characters s[0..n), offsets relative to base */
static void finalseg_hmm(const bv_zh_dict *d, const uint32_t *s, int n, int base, bv_zh_toks *out) {
    enum { B, M, E, S };
    static const int prev[4][2] = {{E, S}, {M, B}, {B, M}, {S, E}}; /* PrevStatus, as listed upstream */
    double *V = bv_xmalloc((size_t)n * 4 * sizeof *V);
    int *bp = bv_xmalloc((size_t)n * 4 * sizeof *bp);
    for (int y = 0; y < 4; y++) V[y] = d->fs_start[y] + fs_emit(d, y, s[0]);
    for (int t = 1; t < n; t++)
        for (int y = 0; y < 4; y++) {
            double em = fs_emit(d, y, s[t]);
            double best = 0;
            int bs = -1;
            for (int k = 0; k < 2; k++) {
                int y0 = prev[y][k];
                double v = V[(t - 1) * 4 + y0] + d->fs_trans[y0][y] + em;
                /* tuples (prob, 'B'|'M'|'E'|'S'): ties go to the later letter */
                if (bs < 0 || v > best || (v == best && "BMES"[y0] > "BMES"[bs])) best = v, bs = y0;
            }
            V[t * 4 + y] = best, bp[t * 4 + y] = bs;
        }
    int last = V[(n - 1) * 4 + S] >= V[(n - 1) * 4 + E] ? S : E; /* max over 'ES': ties to 'S' */
    char *pos = bv_xmalloc((size_t)n);
    for (int t = n - 1; t >= 0; t--) {
        pos[t] = "BMES"[last];
        if (t) last = bp[t * 4 + last];
    }
    int begin = 0, nexti = 0;
    for (int i = 0; i < n; i++) {
        if (pos[i] == 'B') begin = i;
        else if (pos[i] == 'E') push(out, base + begin, i + 1 - begin, NULL), nexti = i + 1;
        else if (pos[i] == 'S') push(out, base + i, 1, NULL), nexti = i + 1;
    }
    if (nexti < n) push(out, base + nexti, n - nexti, NULL);
    free(V), free(bp), free(pos);
}

/* finalseg.cut(buf) */
static void finalseg_cut(const bv_zh_dict *d, const uint32_t *s, int n, int base, bv_zh_toks *out) {
    for (int i = 0; i < n;) {
        int j = i;
        if (is_han(s[i])) {
            while (j < n && is_han(s[j])) j++;
            finalseg_hmm(d, s + i, j - i, base + i, out);
            i = j;
            continue;
        }
        while (j < n && !is_han(s[j])) j++;
        /* re_skip = ([a-zA-Z0-9]+(?:\.\d+)?%?) splits the block; every non-empty piece is a word */
        int a = i, p = i;
        while (p < j) {
            if (is_alnum(s[p])) {
                int q = p;
                while (q < j && is_alnum(s[q])) q++;
                if (q + 1 < j && s[q] == '.' && is_digit(s[q + 1])) {
                    q++;
                    while (q < j && is_digit(s[q])) q++;
                }
                if (q < j && s[q] == '%') q++;
                if (p > a) push(out, base + a, p - a, NULL);
                push(out, base + p, q - p, NULL);
                a = p = q;
            } else {
                p++;
            }
        }
        if (j > a) push(out, base + a, j - a, NULL);
        i = j;
    }
}

/* Tokenizer.__cut_DAG over one block */
static void cut_dag(const bv_zh_dict *d, const uint32_t *s, int n, int base, bv_zh_toks *out) {
    int *route = bv_xmalloc(((size_t)n + 1) * sizeof *route);
    dag_route(d, s, n, route);
    int x = 0, buf = -1, blen = 0;
#define FLUSH()                                                                                   \
    do {                                                                                          \
        if (blen == 1) push(out, base + buf, 1, NULL);                                            \
        else if (blen > 1) {                                                                      \
            if (!freq_of(d, s + buf, blen, NULL)) finalseg_cut(d, s + buf, blen, base + buf, out); \
            else                                                                                  \
                for (int e_ = 0; e_ < blen; e_++) push(out, base + buf + e_, 1, NULL);            \
        }                                                                                         \
        buf = -1, blen = 0;                                                                       \
    } while (0)
    while (x < n) {
        int y = route[x] + 1;
        if (y - x == 1) {
            if (buf < 0) buf = x;
            blen++;
        } else {
            FLUSH();
            push(out, base + x, y - x, NULL);
        }
        x = y;
    }
    FLUSH();
#undef FLUSH
    free(route);
}

int bv_zh_cut(const bv_zh_dict *d, const uint32_t *s, int n, bv_zh_toks *out) {
    for (int i = 0; i < n;) {
        int j = i;
        if (in_han_default(s[i])) {
            while (j < n && in_han_default(s[j])) j++;
            cut_dag(d, s + i, j - i, i, out);
            i = j;
            continue;
        }
        while (j < n && !in_han_default(s[j])) j++;
        /* re_skip (\r\n|\s) splits the rest; every character is a word, "\r\n" one word */
        for (int k = i; k < j; k++) {
            if (s[k] == '\r' && k + 1 < j && s[k + 1] == '\n') push(out, k, 2, NULL), k++;
            else push(out, k, 1, NULL);
        }
        i = j;
    }
    return 0;
}

int bv_zh_cut_search(const bv_zh_dict *d, const uint32_t *s, int n, bv_zh_toks *out) {
    bv_zh_toks w = {0};
    bv_zh_cut(d, s, n, &w);
    for (int i = 0; i < w.n; i++) {
        int o = w.v[i].off, l = w.v[i].len;
        if (l > 2)
            for (int k = 0; k + 1 < l; k++)
                if (freq_of(d, s + o + k, 2, NULL)) push(out, o + k, 2, NULL);
        if (l > 3)
            for (int k = 0; k + 2 < l; k++)
                if (freq_of(d, s + o + k, 3, NULL)) push(out, o + k, 3, NULL);
        push(out, o, l, NULL);
    }
    bv_zh_toks_free(&w);
    return 0;
}

/* ---------------------------------------------------------------- posseg */

/* POSTokenizer.__cut: the (BMES x POS) Viterbi of posseg/viterbi.py over a han run */
static int posseg_hmm(const bv_zh_dict *d, const uint32_t *s, int n, int base, bv_zh_toks *out, char *err,
                      int errcap) {
    int S = d->nstates > 0 ? d->nstates : 1;
    /* two rows of scores and of mem_path keys; back-pointers for every step */
    double *Vp = bv_xmalloc((size_t)S * sizeof *Vp), *Vc = bv_xmalloc((size_t)S * sizeof *Vc);
    uint8_t *vp = bv_xcalloc((size_t)S, 1), *vc = bv_xcalloc((size_t)S, 1);
    uint16_t *bp = bv_xmalloc((size_t)n * S * sizeof *bp);
    double *em = bv_xmalloc((size_t)S * sizeof *em);
    uint8_t *obs = bv_xmalloc((size_t)S), *expect = bv_xmalloc((size_t)S);
    int *prevs = bv_xmalloc((size_t)S * sizeof *prevs);
    int rc = 0;
    for (int t = 0; t < n && !rc; t++) {
        if (t) {
            double *tv = Vp;
            uint8_t *tb = vp;
            Vp = Vc, Vc = tv, vp = vc, vc = tb;
        }
        memset(vc, 0, (size_t)S);
        /* emission row and char_state_tab set of s[t] */
        for (int y = 0; y < S; y++) em[y] = BV_ZH_MIN_FLOAT;
        int64_t ce = bv_zh_map_find(&d->ps_chars, &s[t], 1);
        int has_cst = 0;
        memset(obs, 0, (size_t)S);
        if (ce >= 0) {
            for (uint32_t k = d->ps_emit_off[ce]; k < d->ps_emit_off[ce + 1]; k++) em[d->ps_emit_state[k]] = d->ps_emit_val[k];
            if (d->ps_cst_has[ce]) {
                has_cst = 1;
                for (uint32_t k = d->ps_cst_off[ce]; k < d->ps_cst_off[ce + 1]; k++) obs[d->ps_cst[k]] = 1;
            }
        }
        if (!has_cst) memset(obs, 1, (size_t)S); /* states.get(obs, all_states) */
        if (t == 0) {
            for (int y = 0; y < S; y++)
                if (obs[y]) Vc[y] = d->ps_start[y] + em[y], vc[y] = 1, bp[y] = 0;
            continue;
        }
        /* prev_states: last step's states that have any transition */
        int np = 0;
        memset(expect, 0, (size_t)S);
        int any_expect = 0;
        for (int x = 0; x < S; x++)
            if (vp[x] && d->ps_next_off[x + 1] > d->ps_next_off[x]) {
                prevs[np++] = x;
                for (uint32_t k = d->ps_next_off[x]; k < d->ps_next_off[x + 1]; k++) expect[d->ps_next[k]] = 1, any_expect = 1;
            }
        int any = 0;
        for (int y = 0; y < S; y++) any |= obs[y] &= expect[y];
        if (!any) {
            if (any_expect) memcpy(obs, expect, (size_t)S);
            else memset(obs, 1, (size_t)S);
        }
        if (!np) {
            snprintf(err, (size_t)errcap, "jieba's POS Viterbi has no state to continue from");
            rc = -1;
            break;
        }
        /* max over all prevs of (V + trans + emit, y0): a y0 without a transition to y scores -inf, so
         * only the predecessors of y can win unless every candidate is -inf, when the largest prev wins */
        int max_prev = prevs[np - 1];
        for (int y = 0; y < S; y++) {
            if (!obs[y]) continue;
            double best = -INFINITY;
            int bs = -1;
            for (uint32_t k = d->ps_prev_off[y]; k < d->ps_prev_off[y + 1]; k++) {
                int y0 = (int)d->ps_prev[k]; /* ascending */
                if (!vp[y0]) continue;
                double v = Vp[y0] + d->ps_trans[(size_t)y0 * S + y] + em[y];
                if (v >= best && v != -INFINITY) best = v, bs = y0; /* ties go to the larger state */
            }
            if (bs < 0) bs = max_prev;
            Vc[y] = best, bp[(size_t)t * S + y] = (uint16_t)bs, vc[y] = 1;
        }
    }
    if (!rc) {
        int last = -1;
        double best = 0;
        for (int y = 0; y < S; y++)
            if (vc[y] && (last < 0 || Vc[y] >= best)) best = Vc[y], last = y;
        int *path = bv_xmalloc((size_t)n * sizeof *path);
        for (int t = n - 1; t >= 0; t--) {
            path[t] = last;
            if (t) last = bp[(size_t)t * S + last];
        }
        int begin = 0, nexti = 0;
        for (int i = 0; i < n; i++) {
            char b = d->state_bmes[path[i]];
            const char *tag = d->tags[d->state_tag[path[i]]];
            if (b == 'B') begin = i;
            else if (b == 'E') push(out, base + begin, i + 1 - begin, tag), nexti = i + 1;
            else if (b == 'S') push(out, base + i, 1, tag), nexti = i + 1;
        }
        if (nexti < n) push(out, base + nexti, n - nexti, d->tags[d->state_tag[path[nexti]]]);
        free(path);
    }
    free(Vp), free(Vc), free(vp), free(vc), free(bp), free(em), free(obs), free(expect), free(prevs);
    return rc;
}

/* POSTokenizer.__cut_detail */
static int posseg_detail(const bv_zh_dict *d, const uint32_t *s, int n, int base, bv_zh_toks *out, char *err,
                         int errcap) {
    for (int i = 0; i < n;) {
        int j = i;
        if (is_han(s[i])) {
            while (j < n && is_han(s[j])) j++;
            if (posseg_hmm(d, s + i, j - i, base + i, out, err, errcap)) return -1;
            i = j;
            continue;
        }
        while (j < n && !is_han(s[j])) j++;
        /* re_skip_detail = ([\.0-9]+|[a-zA-Z0-9]+); pieces tagged m (starts with . or digit), eng, x */
        int a = i, p = i;
        while (p < j) {
            int q = p;
            if (s[p] == '.' || is_digit(s[p])) {
                while (q < j && (s[q] == '.' || is_digit(s[q]))) q++;
            } else if (is_alnum(s[p])) {
                while (q < j && is_alnum(s[q])) q++;
            } else {
                p++;
                continue;
            }
            if (p > a) push(out, base + a, p - a, "x");
            push(out, base + p, q - p, (s[p] == '.' || is_digit(s[p])) ? "m" : "eng");
            a = p = q;
        }
        if (j > a) push(out, base + a, j - a, (s[a] == '.' || is_digit(s[a])) ? "m" : is_alnum(s[a]) ? "eng" : "x");
        i = j;
    }
    return 0;
}

static int posseg_flush(const bv_zh_dict *d, const uint32_t *s, int buf, int blen, int base, bv_zh_toks *out,
                        char *err, int errcap) {
    if (blen == 1) push(out, base + buf, 1, word_tag(d, s + buf, 1));
    else if (blen > 1) {
        if (!freq_of(d, s + buf, blen, NULL)) return posseg_detail(d, s + buf, blen, base + buf, out, err, errcap);
        for (int e = 0; e < blen; e++) push(out, base + buf + e, 1, word_tag(d, s + buf + e, 1));
    }
    return 0;
}

/* POSTokenizer.__cut_DAG over one block */
static int posseg_dag(const bv_zh_dict *d, const uint32_t *s, int n, int base, bv_zh_toks *out, char *err,
                      int errcap) {
    int *route = bv_xmalloc(((size_t)n + 1) * sizeof *route);
    dag_route(d, s, n, route);
    int x = 0, buf = -1, blen = 0, rc = 0;
    while (x < n && !rc) {
        int y = route[x] + 1;
        if (y - x == 1) {
            if (buf < 0) buf = x;
            blen++;
        } else {
            rc = posseg_flush(d, s, buf, blen, base, out, err, errcap);
            buf = -1, blen = 0;
            push(out, base + x, y - x, word_tag(d, s + x, y - x));
        }
        x = y;
    }
    if (!rc) rc = posseg_flush(d, s, buf, blen, base, out, err, errcap);
    free(route);
    return rc;
}

int bv_zh_posseg(const bv_zh_dict *d, const uint32_t *s, int n, bv_zh_toks *out, char *err, int errcap) {
    for (int i = 0; i < n;) {
        int j = i;
        if (in_han_internal(s[i])) {
            while (j < n && in_han_internal(s[j])) j++;
            if (posseg_dag(d, s + i, j - i, i, out, err, errcap)) return -1;
            i = j;
            continue;
        }
        while (j < n && !in_han_internal(s[j])) j++;
        /* re_skip_internal splits; whitespace pieces and every other character are tagged x here (the
         * m / eng cases of upstream need characters re_han_internal already took) */
        for (int k = i; k < j; k++) {
            if (s[k] == '\r' && k + 1 < j && s[k + 1] == '\n') push(out, k, 2, "x"), k++;
            else push(out, k, 1, "x");
        }
        i = j;
    }
    return 0;
}
