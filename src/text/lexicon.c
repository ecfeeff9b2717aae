/* lexicon.c - cmudict.rep reader and word lookup (see lexicon.h).
 *
 * Memory: the whole file is read into one buffer and the keys are terminated in place; every
 * pronunciation is a run of one-byte phone ids in one array (the ~70 distinct phone strings are
 * interned); an open-addressing hash table maps keys to entries. */
#include "lexicon.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

#define MAX_PHONE_TYPES 255
#define MAX_PHONE_LEN 15

typedef struct entry {
    uint32_t key;       /* offset of the NUL-terminated key in text */
    uint32_t pron;      /* offset of the first phone id in pron_ids */
    uint16_t n;         /* number of phones */
} entry;

struct bv_lexicon {
    char *text;                       /* the file, keys terminated in place */
    entry *entries;
    int n_entries, cap_entries;
    uint8_t *pron_ids;
    size_t n_pron_ids, cap_pron_ids;
    char phone_names[MAX_PHONE_TYPES][MAX_PHONE_LEN + 1];
    int n_phone_types;
    int32_t *slots;                   /* hash table of entry indices, -1 = empty */
    size_t n_slots;                   /* power of two */
    bv_en_tokenize_fn tokenize;       /* word pieces for g2p (NULL: english.c's built-in rule) */
    void *tokenize_user;
};

void bv_lexicon_set_tokenizer(bv_lexicon *lex, bv_en_tokenize_fn fn, void *user) {
    lex->tokenize = fn;
    lex->tokenize_user = user;
}

bv_en_tokenize_fn bv_lexicon_tokenizer(const bv_lexicon *lex, void **user) {
    *user = lex ? lex->tokenize_user : NULL;
    return lex ? lex->tokenize : NULL;
}

const char *bv_lexicon_default_path(void) {
    const char *env = getenv(BV_LEXICON_ENV);
    return (env && *env) ? env : BV_LEXICON_DEFAULT_PATH;
}

static char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c; }

/* FNV-1a over the upper-cased bytes (file keys are hashed as they are: cmudict keys are upper case,
 * and a lower-case key can never match an upper-cased query, as in upstream). */
static uint64_t hash_bytes(const char *s, size_t len, int upper) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)(upper ? ascii_upper(s[i]) : s[i]);
        h *= 1099511628211ull;
    }
    return h;
}

/* Python str.strip() whitespace, for the ASCII range. */
static int py_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

static int intern_phone(bv_lexicon *lex, const char *p, size_t len) {
    for (int i = 0; i < lex->n_phone_types; i++)
        if (strlen(lex->phone_names[i]) == len && memcmp(lex->phone_names[i], p, len) == 0) return i;
    if (lex->n_phone_types == MAX_PHONE_TYPES || len > MAX_PHONE_LEN) return -1;
    memcpy(lex->phone_names[lex->n_phone_types], p, len);
    lex->phone_names[lex->n_phone_types][len] = '\0';
    return lex->n_phone_types++;
}

static void push_pron_id(bv_lexicon *lex, uint8_t id) {
    if (lex->n_pron_ids == lex->cap_pron_ids) {
        lex->cap_pron_ids = lex->cap_pron_ids ? 2 * lex->cap_pron_ids : 1 << 20;
        lex->pron_ids = bv_xrealloc(lex->pron_ids, lex->cap_pron_ids);
    }
    lex->pron_ids[lex->n_pron_ids++] = id;
}

/* Phones of one syllable: syllable.split(" "); an empty phone (two spaces) is a malformed line. */
static int parse_syllable(bv_lexicon *lex, const char *s, size_t len, int *n, char *err, size_t cap, int line) {
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ' ') continue;
        if (i == start) {
            bv_err_set(err, cap, "line %d: empty phone in the pronunciation", line);
            return -1;
        }
        int id = intern_phone(lex, s + start, i - start);
        if (id < 0) {
            bv_err_set(err, cap, "line %d: phone '%.*s' too long, or more than %d distinct phones", line,
                       (int)(i - start), s + start, MAX_PHONE_TYPES);
            return -1;
        }
        push_pron_id(lex, (uint8_t)id);
        (*n)++;
        start = i + 1;
    }
    return 0;
}

/* pronunciation.split(" - "), each part split into phones. */
static int parse_pron(bv_lexicon *lex, const char *s, size_t len, int *n, char *err, size_t cap, int line) {
    size_t start = 0, i = 0;
    while (i + 3 <= len) {
        if (memcmp(s + i, " - ", 3) == 0) {
            if (parse_syllable(lex, s + start, i - start, n, err, cap, line)) return -1;
            i += 3;
            start = i;
        } else {
            i++;
        }
    }
    return parse_syllable(lex, s + start, len - start, n, err, cap, line);
}

static int32_t *find_slot(const bv_lexicon *lex, const char *key, size_t len, int upper) {
    size_t mask = lex->n_slots - 1;
    for (size_t h = hash_bytes(key, len, upper) & mask;; h = (h + 1) & mask) {
        int32_t *slot = &lex->slots[h];
        if (*slot < 0) return slot;
        const char *k = lex->text + lex->entries[*slot].key;
        size_t i = 0;
        while (i < len && k[i] && k[i] == (upper ? ascii_upper(key[i]) : key[i])) i++;
        if (i == len && k[i] == '\0') return slot;
    }
}

static void build_table(bv_lexicon *lex) {
    lex->n_slots = 1;
    while (lex->n_slots < 2 * (size_t)lex->n_entries + 2) lex->n_slots <<= 1;
    lex->slots = bv_xmalloc(lex->n_slots * sizeof *lex->slots);
    for (size_t i = 0; i < lex->n_slots; i++) lex->slots[i] = -1;
    int kept = 0;
    for (int e = 0; e < lex->n_entries; e++) {
        const char *key = lex->text + lex->entries[e].key;
        int32_t *slot = find_slot(lex, key, strlen(key), 0);
        if (*slot >= 0) {
            lex->entries[*slot].pron = lex->entries[e].pron;   /* g2p_dict[word] = ...: the last line wins */
            lex->entries[*slot].n = lex->entries[e].n;
        } else {
            lex->entries[kept] = lex->entries[e];
            *slot = kept++;
        }
    }
    lex->n_entries = kept;
}

/* One stripped line "WORD  PH PH - PH ...": terminate the key in place and store the phones. */
static int parse_line(bv_lexicon *lex, char *s, size_t len, int line, char *err, size_t cap) {
    char *gap = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == ' ' && s[i + 1] == ' ') { gap = s + i; break; }
    if (!gap) {
        char q[128];
        bv_err_set(err, cap, "line %d: expected \"WORD  PHONES\" (two spaces between), got \"%s\"", line,
                   bv_quote_bytes(s, len, q, 64));
        return -1;
    }
    const char *pron = gap + 2;
    size_t pron_len = (size_t)(s + len - pron);
    for (size_t i = 0; i + 1 < pron_len; i++)                 /* word_split[1]: up to a second gap */
        if (pron[i] == ' ' && pron[i + 1] == ' ') { pron_len = i; break; }
    *gap = '\0';
    if (lex->n_entries == lex->cap_entries) {
        lex->cap_entries = lex->cap_entries ? 2 * lex->cap_entries : 1 << 17;
        lex->entries = bv_xrealloc(lex->entries, (size_t)lex->cap_entries * sizeof *lex->entries);
    }
    entry *e = &lex->entries[lex->n_entries];
    e->key = (uint32_t)(s - lex->text);
    e->pron = (uint32_t)lex->n_pron_ids;
    int n = 0;
    if (parse_pron(lex, pron, pron_len, &n, err, cap, line)) return -1;
    if (n > BV_LEXICON_MAX_PRON) {
        bv_err_set(err, cap, "line %d: %d phones, more than the %d supported", line, n, BV_LEXICON_MAX_PRON);
        return -1;
    }
    e->n = (uint16_t)n;
    lex->n_entries++;
    return 0;
}

/* Lines as Python's text-mode readline() gives them (\n, \r\n or \r end a line). */
static int parse_text(bv_lexicon *lex, size_t size, char *err, size_t cap) {
    char *p = lex->text, *end = lex->text + size;
    for (int line = 1; p < end; line++) {
        char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r') eol++;
        char *next = eol < end ? eol + 1 : eol;
        if (eol < end && *eol == '\r' && next < end && *next == '\n') next++;
        *eol = '\0';
        if (line > BV_LEXICON_HEADER_LINES) {
            char *s = p, *t = eol;
            while (s < t && py_space(*s)) s++;
            while (t > s && py_space(t[-1])) t--;
            *t = '\0';
            if (parse_line(lex, s, (size_t)(t - s), line, err, cap)) return -1;
        }
        p = next;
    }
    return 0;
}

static char *read_file(const char *path, size_t *size, char *err, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            bv_err_set(err, cap, "English lexicon %s not found: run scripts/fetch-cmudict.sh to install CMUdict 0.6 "
                       "there, or set %s to its path", path, BV_LEXICON_ENV);
        else
            bv_err_set(err, cap, "English lexicon %s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        bv_err_set(err, cap, "English lexicon %s: is a folder, expected the cmudict.rep file", path);
        return NULL;
    }
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (long)UINT32_MAX && fseek(f, 0, SEEK_SET) == 0) {
        buf = bv_xmalloc((size_t)n + 1);
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    }
    fclose(f);
    if (!buf) {
        bv_err_set(err, cap, "English lexicon %s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    buf[n] = '\0';
    *size = (size_t)n;
    return buf;
}

bv_lexicon *bv_lexicon_load(const char *path, char *err, size_t err_cap) {
    if (!path) path = bv_lexicon_default_path();
    size_t size = 0;
    char *text = read_file(path, &size, err, err_cap);
    if (!text) return NULL;
    bv_lexicon *lex = bv_xcalloc(1, sizeof *lex);
    lex->text = text;
    char msg[256];
    if (parse_text(lex, size, msg, sizeof msg)) {
        bv_err_set(err, err_cap, "English lexicon %s: %s", path, msg);
        bv_lexicon_free(lex);
        return NULL;
    }
    if (lex->n_entries == 0) {
        bv_err_set(err, err_cap, "English lexicon %s: no entries after line %d", path, BV_LEXICON_HEADER_LINES);
        bv_lexicon_free(lex);
        return NULL;
    }
    build_table(lex);
    return lex;
}

void bv_lexicon_free(bv_lexicon *lex) {
    if (!lex) return;
    free(lex->text);
    free(lex->entries);
    free(lex->pron_ids);
    free(lex->slots);
    free(lex);
}

int bv_lexicon_size(const bv_lexicon *lex) { return lex->n_entries; }

int bv_lexicon_lookup_n(const bv_lexicon *lex, const char *word, size_t len, const char **phones, int cap) {
    const int32_t *slot = find_slot(lex, word, len, 1);
    if (*slot < 0) return -1;
    const entry *e = &lex->entries[*slot];
    if (e->n > cap) return -2;
    for (int i = 0; i < e->n; i++) phones[i] = lex->phone_names[lex->pron_ids[e->pron + (size_t)i]];
    return e->n;
}

int bv_lexicon_lookup(const bv_lexicon *lex, const char *word, const char **phones, int cap) {
    return bv_lexicon_lookup_n(lex, word, strlen(word), phones, cap);
}
