/* english.c - upstream english.py g2p / text_to_words / distribute_phone, with flite letter-to-sound
 * for words outside the lexicon (see english.h for the rules and where they differ from upstream). */
#include "english.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flite/cst_lexicon.h>
#include <flite/cst_val.h>

#include "../core/error.h"
#include "symbols.h"

cst_lexicon *cmulex_init(void);   /* libflite_cmulex; no header declares it */

#define MAX_PIECE_PHONES 256      /* one lexicon entry or one flite word */

/* upstream text/symbols.py punctuation */
static const char *const PUNCTUATION[] = {"!", "?", "\xE2\x80\xA6", ",", ".", "'", "-"};
#define N_PUNCTUATION (sizeof PUNCTUATION / sizeof PUNCTUATION[0])

static int is_punctuation_n(const char *s, size_t n) {
    for (size_t i = 0; i < N_PUNCTUATION; i++)
        if (strlen(PUNCTUATION[i]) == n && memcmp(PUNCTUATION[i], s, n) == 0) return 1;
    return 0;
}

static int is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
static int is_lower(char c) { return c >= 'a' && c <= 'z'; }

/* ---- output arrays ---- */

static void push_phone(bv_en_phones *o, const char *sym, int64_t tone) {
    if (o->n_phones == 0 || (o->n_phones >= 16 && (o->n_phones & (o->n_phones - 1)) == 0)) {   /* 16, 32, ... */
        size_t cap = o->n_phones ? 2 * (size_t)o->n_phones : 16;
        o->phones = bv_xrealloc(o->phones, cap * sizeof *o->phones);
        o->tones = bv_xrealloc(o->tones, cap * sizeof *o->tones);
    }
    o->phones[o->n_phones] = sym;
    o->tones[o->n_phones++] = tone;
}

static void push_word2ph(bv_en_phones *o, int64_t v) {
    if (o->n_word2ph == 0 || (o->n_word2ph >= 16 && (o->n_word2ph & (o->n_word2ph - 1)) == 0)) {
        size_t cap = o->n_word2ph ? 2 * (size_t)o->n_word2ph : 16;
        o->word2ph = bv_xrealloc(o->word2ph, cap * sizeof *o->word2ph);
    }
    o->word2ph[o->n_word2ph++] = v;
}

void bv_en_phones_free(bv_en_phones *p) {
    free(p->phones);
    free(p->tones);
    free(p->word2ph);
    *p = (bv_en_phones){0};
}

/* A punctuation piece: emitted as is (it is a symbol), tone 0. */
static void push_punctuation(bv_en_phones *o, const char *s, size_t n) {
    char buf[8];
    memcpy(buf, s, n);
    buf[n] = '\0';
    push_phone(o, bv_symbols[bv_symbol_id(buf)], 0);
}

/* refine_ph then post_replace_ph on one ARPAbet phone ("AH0", "HH"). */
static void push_arpabet(bv_en_phones *o, const char *ph) {
    char low[16];
    size_t n = strlen(ph);
    if (n >= sizeof low) n = sizeof low - 1;
    int64_t tone = 3;                                        /* no stress digit: tone 3 */
    if (n > 0 && ph[n - 1] >= '0' && ph[n - 1] <= '9') {
        tone = ph[n - 1] - '0' + 1;
        n--;
    }
    for (size_t i = 0; i < n; i++) low[i] = (ph[i] >= 'A' && ph[i] <= 'Z') ? (char)(ph[i] - 'A' + 'a') : ph[i];
    low[n] = '\0';
    if (strcmp(low, "v") == 0) strcpy(low, "V");             /* lower-case v is the Chinese ü */
    int id = bv_symbol_id(low);
    push_phone(o, bv_symbols[id >= 0 ? id : bv_symbol_id("UNK")], tone);
}

/* ---- letter-to-sound (flite) ---- */

static cst_lexicon *flite_lex;
static pthread_once_t flite_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t flite_mutex = PTHREAD_MUTEX_INITIALIZER;
static void flite_init(void) { flite_lex = cmulex_init(); }

/* One flite phone ("ax0", "k-s") as ARPAbet phones for push_arpabet. */
static void push_flite_phone(bv_en_phones *o, const char *fp) {
    char part[16];
    while (*fp) {
        size_t n = strcspn(fp, "-");
        if (n > 0 && n < sizeof part - 2) {
            memcpy(part, fp, n);
            part[n] = '\0';
            char mapped[20];
            const char *digit = (part[n - 1] >= '0' && part[n - 1] <= '9') ? part + n - 1 : NULL;
            size_t base = digit ? n - 1 : n;
            if (base == 2 && memcmp(part, "ax", 2) == 0) {                /* schwa */
                snprintf(mapped, sizeof mapped, "ah%s", digit ? digit : "0");
            } else if (base == 3 && memcmp(part, "axr", 3) == 0) {        /* r-coloured schwa */
                snprintf(mapped, sizeof mapped, "er%s", digit ? digit : "0");
            } else if (base == 3 && memcmp(part, "pau", 3) == 0) {
                mapped[0] = '\0';
            } else {
                snprintf(mapped, sizeof mapped, "%s", part);
            }
            if (mapped[0]) push_arpabet(o, mapped);
        }
        fp += n;
        if (*fp == '-') fp++;
    }
}

/* One lower-case letter run: the lexicon first, then flite's lexicon and LTS rules. */
static int lts_run(const bv_lexicon *lex, const char *w, size_t n, bv_en_phones *o, char *err, size_t err_cap) {
    const char *ph[MAX_PIECE_PHONES];
    int k = bv_lexicon_lookup_n(lex, w, n, ph, MAX_PIECE_PHONES);
    if (k >= 0) {
        for (int i = 0; i < k; i++) push_arpabet(o, ph[i]);
        return 0;
    }
    char word[256];
    if (n >= sizeof word) {
        bv_err_set(err, err_cap, "word \"%.40s...\" is too long for letter-to-sound (%zu letters)", w, n);
        return -1;
    }
    memcpy(word, w, n);
    word[n] = '\0';
    pthread_once(&flite_once, flite_init);
    pthread_mutex_lock(&flite_mutex);                          /* flite keeps no promise of thread safety */
    cst_val *pron = lex_lookup(flite_lex, word, NULL, NULL);
    for (const cst_val *v = pron; v; v = val_cdr(v)) push_flite_phone(o, val_string(val_car(v)));
    delete_val(pron);
    pthread_mutex_unlock(&flite_mutex);
    return 0;
}

/* g2p_en's view of an out-of-lexicon word (see english.h). */
static int letter_to_sound(const bv_lexicon *lex, const char *w, size_t n, bv_en_phones *o, char *err,
                           size_t err_cap) {
    char *low = bv_xmalloc(n + 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        char c = w[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (is_lower(c) || strchr("'.,?!-", c)) low[m++] = c;  /* re.sub("[^ a-z'.,?!\-]", "", text) */
    }
    int rc = 0;
    for (size_t i = 0; i < m && rc == 0;) {
        if (is_lower(low[i])) {                                 /* [a-z]+('[a-z]+)* */
            size_t j = i;
            while (j < m && (is_lower(low[j]) || (low[j] == '\'' && j + 1 < m && is_lower(low[j + 1])))) j++;
            rc = lts_run(lex, low + i, j - i, o, err, err_cap);
            i = j;
        } else {
            push_punctuation(o, low + i, 1);                    /* g2p_en keeps a token without letters */
            i++;
        }
    }
    free(low);
    return rc;
}

int bv_en_letter_to_sound(const bv_lexicon *lex, const char *word, bv_en_phones *out, char *err, size_t err_cap) {
    return letter_to_sound(lex, word, strlen(word), out, err, err_cap);
}

/* ---- tokens and words ---- */

typedef struct piece {
    const char *s;      /* into norm_text */
    size_t n;
    int word_start;     /* the "▁" of the first piece of a whitespace chunk */
} piece;

/* Characters g2p handles: ASCII printable but digits (normalisation spells every number), whitespace,
 * other Unicode whitespace, and "…". */
static int check_chars(const char *text, char *err, size_t err_cap) {
    size_t pos = 0;
    for (size_t i = 0; text[i]; pos++) {
        unsigned cp;
        int n = bv_en_utf8_decode(text + i, &cp);
        if (n == 0) {
            bv_err_set(err, err_cap, "text is not valid UTF-8 (byte offset %zu)", i);
            return -1;
        }
        int ok = (cp >= 0x20 && cp < 0x7F) || bv_en_is_space_cp(cp) || cp == 0x2026;
        if (cp >= '0' && cp <= '9') {
            bv_err_set(err, err_cap, "digit '%c' at position %zu: g2p expects normalized text (numbers as words; "
                       "bv_en_normalize does that)", (char)cp, pos);
            return -1;
        }
        if (!ok) {
            if (cp < 0x20 || cp == 0x7F)
                bv_err_set(err, err_cap, "unsupported character U+%04X (a control character) at position %zu", cp, pos);
            else
                bv_err_set(err, err_cap, "unsupported character '%.*s' (U+%04X) at position %zu: the English front-end "
                           "reads ASCII text only", n, text + i, cp, pos);
            return -1;
        }
        i += (size_t)n;
    }
    return 0;
}

/* The word-level tokenizer rule (english.h, step 1). Returns the number of pieces in *out. */
static int tokenize(const char *text, piece **out) {
    int n = 0, cap = 0;
    piece *p = NULL;
    int chunk_start = 1;
    for (size_t i = 0; text[i];) {
        unsigned cp;
        int len = bv_en_utf8_decode(text + i, &cp);
        if (bv_en_is_space_cp(cp)) {
            chunk_start = 1;
            i += (size_t)len;
            continue;
        }
        size_t j = i + (size_t)len;
        if (is_alnum(text[i]))
            while (is_alnum(text[j])) j++;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            p = bv_xrealloc(p, (size_t)cap * sizeof *p);
        }
        p[n++] = (piece){text + i, j - i, chunk_start};
        chunk_start = 0;
        i = j;
    }
    *out = p;
    return n;
}

/* text_to_words: word w holds pieces [first[w], first[w] + count[w]). Pieces are consecutive within a
 * word, so two arrays describe the grouping. Returns the number of words. */
static int text_to_words(const piece *t, int n, int *first, int *count) {
    int nw = 0;
    for (int i = 0; i < n; i++) {
        int punct = is_punctuation_n(t[i].s, t[i].n);
        int new_word;
        if (t[i].word_start) new_word = 1;
        else if (punct && i == n - 1) new_word = 1;
        else if (punct) new_word = t[i + 1].word_start || is_punctuation_n(t[i + 1].s, t[i + 1].n);
        else new_word = 0;
        if (new_word || nw == 0) {   /* nw == 0: upstream's "if idx == 0: words.append([])" */
            first[nw] = i;
            count[nw++] = 0;
        }
        count[nw - 1]++;
    }
    return nw;
}

/* Phones of one piece, or of a joined apostrophe word. */
static int piece_phones(const bv_lexicon *lex, const char *s, size_t n, bv_en_phones *o, char *err, size_t err_cap) {
    if (is_punctuation_n(s, n)) {
        push_punctuation(o, s, n);
        return 0;
    }
    const char *ph[MAX_PIECE_PHONES];
    int k = bv_lexicon_lookup_n(lex, s, n, ph, MAX_PIECE_PHONES);
    if (k >= 0) {
        for (int i = 0; i < k; i++) push_arpabet(o, ph[i]);
        return 0;
    }
    return letter_to_sound(lex, s, n, o, err, err_cap);
}

/* Phones of one word (its pieces, joined when one of them is "'"); returns the phone count or -1. */
static int word_phones(const bv_lexicon *lex, const piece *t, int nt, bv_en_phones *o, char *err, size_t err_cap) {
    int before = o->n_phones, joined = 0;
    for (int i = 0; i < nt && nt > 1; i++) joined |= (t[i].n == 1 && t[i].s[0] == '\'');
    if (joined) {   /* "".join(word) */
        size_t len = 0;
        for (int i = 0; i < nt; i++) len += t[i].n;
        char *w = bv_xmalloc(len + 1), *q = w;
        for (int i = 0; i < nt; i++) memcpy(q, t[i].s, t[i].n), q += t[i].n;
        *q = 0;
        int rc = piece_phones(lex, w, len, o, err, err_cap);
        free(w);
        if (rc) return -1;
    } else {
        for (int i = 0; i < nt; i++)
            if (piece_phones(lex, t[i].s, t[i].n, o, err, err_cap)) return -1;
    }
    return o->n_phones - before;
}

/* distribute_phone(n_phone, n_word): the first n_phone % n_word pieces get one more. */
static void distribute_phone(bv_en_phones *o, int n_phone, int n_word) {
    for (int i = 0; i < n_word; i++) push_word2ph(o, n_phone / n_word + (i < n_phone % n_word ? 1 : 0));
}

int bv_en_g2p(const bv_lexicon *lex, const char *norm_text, bv_en_phones *out, char *err, size_t err_cap) {
    *out = (bv_en_phones){0};
    if (check_chars(norm_text, err, err_cap)) return -1;
    piece *t = NULL;
    void *tk_user;
    char **tk = NULL;   /* an installed tokenizer's pieces (lexicon.h), which t points into */
    bv_en_tokenize_fn tk_fn = bv_lexicon_tokenizer(lex, &tk_user);
    int n;
    if (tk_fn) {
        if ((n = tk_fn(tk_user, norm_text, &tk, err, err_cap)) < 0) return -1;
        t = bv_xmalloc((size_t)(n + 1) * sizeof *t);
        for (int i = 0; i < n; i++) { /* t.startswith("\u2581") starts a word; the piece is t without it */
            int ws = !strncmp(tk[i], "\xe2\x96\x81", 3);
            t[i] = (piece){tk[i] + (ws ? 3 : 0), strlen(tk[i]) - (ws ? 3 : 0), ws};
        }
    } else {
        n = tokenize(norm_text, &t);
    }
    int *first = bv_xmalloc((size_t)(n + 1) * sizeof *first);
    int *count = bv_xmalloc((size_t)(n + 1) * sizeof *count);
    int nw = text_to_words(t, n, first, count);
    int rc = 0;
    push_phone(out, bv_symbols[BV_PAD_ID], 0);
    push_word2ph(out, 1);
    for (int w = 0; w < nw && rc == 0; w++) {
        int k = word_phones(lex, t + first[w], count[w], out, err, err_cap);
        if (k < 0) rc = -1;
        else distribute_phone(out, k, count[w]);
    }
    push_phone(out, bv_symbols[BV_PAD_ID], 0);
    push_word2ph(out, 1);
    for (int i = 0; tk && i < n; i++) free(tk[i]);
    free(tk);
    free(t);
    free(first);
    free(count);
    if (rc) bv_en_phones_free(out);
    return rc;
}

int bv_en_clean_text(const bv_lexicon *lex, const char *text, char **norm_text, bv_en_phones *out, char *err,
                     size_t err_cap) {
    *out = (bv_en_phones){0};
    if (norm_text) *norm_text = NULL;
    char *norm = bv_en_normalize_alloc(text, err, err_cap);
    if (!norm) return -1;
    int rc = bv_en_g2p(lex, norm, out, err, err_cap);
    if (rc == 0 && norm_text) *norm_text = norm;
    else free(norm);
    return rc;
}

/* snprintf into out[*len..cap), counting the full length whatever fits. */
__attribute__((format(printf, 4, 5))) static void emit(char *out, size_t cap, size_t *len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *dst = *len < cap ? out + *len : NULL;
    int k = vsnprintf(dst, dst ? cap - *len : 0, fmt, ap);
    va_end(ap);
    if (k > 0) *len += (size_t)k;
}

size_t bv_en_format(const bv_en_phones *p, char *out, size_t cap) {
    size_t len = 0;
    if (cap) out[0] = '\0';
    for (int i = 0; i < p->n_phones; i++) emit(out, cap, &len, "%s%s", i ? " " : "", p->phones[i]);
    emit(out, cap, &len, "|");
    for (int i = 0; i < p->n_phones; i++) emit(out, cap, &len, "%s%lld", i ? " " : "", (long long)p->tones[i]);
    emit(out, cap, &len, "|");
    for (int i = 0; i < p->n_word2ph; i++) emit(out, cap, &len, "%s%lld", i ? " " : "", (long long)p->word2ph[i]);
    return len;
}
