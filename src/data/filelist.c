/* filelist.c - reading and splitting Bert-VITS2 filelists (see filelist.h). */
#include "filelist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

int64_t bv_utf8_len(const char *s) {
    int64_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;   /* count lead bytes, skip continuations */
    return n;
}

int bv_split_spaces(const char *s, char ***tokens) {
    size_t len = strlen(s);
    int n = 1;
    for (size_t i = 0; i < len; i++) n += s[i] == ' ';
    /* pointer array followed by the copied characters: one allocation */
    char **t = bv_xmalloc(sizeof(char *) * (size_t)n + len + 1);
    char *copy = (char *)(t + n);
    memcpy(copy, s, len + 1);
    int k = 0;
    t[k++] = copy;
    for (char *p = copy; *p; p++)
        if (*p == ' ') {
            *p = '\0';
            t[k++] = p + 1;
        }
    *tokens = t;
    return n;
}

void bv_split_free(char **tokens) { free(tokens); }

/* int(token): surrounding whitespace, an optional sign, decimal digits. */
static int parse_int(const char *s, int64_t *v) {
    while (isspace((unsigned char)*s)) s++;
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!isdigit((unsigned char)*p)) return -1;
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno) return -1;
    while (isspace((unsigned char)*end)) end++;
    if (*end) return -1;
    *v = x;
    return 0;
}

int bv_parse_int_list(const char *s, const char *what, int64_t **out, char *err, size_t errcap) {
    char **tok;
    int n = bv_split_spaces(s, &tok);
    int64_t *v = bv_xmalloc(sizeof(int64_t) * (size_t)n);
    for (int i = 0; i < n; i++)
        if (parse_int(tok[i], &v[i])) {
            snprintf(err, errcap, "%s: item %d (\"%.40s\") is not an integer", what, i + 1, tok[i]);
            free(v);
            bv_split_free(tok);
            return -1;
        }
    bv_split_free(tok);
    *out = v;
    return n;
}

static int is_blank(const char *b, const char *e) {
    for (; b < e; b++)
        if (!isspace((unsigned char)*b)) return 0;
    return 1;
}

/* Split one stripped line (NUL-terminated, inside fl->buf) into its fields. */
static int split_line(bv_filelist_entry *e, char *s, const char *source, char *err, size_t errcap) {
    char *f[BV_FILELIST_FIELDS];
    int n = 0;
    for (char *p = s;;) {
        char *bar = strchr(p, '|');
        if (n < BV_FILELIST_FIELDS) f[n] = p;
        n++;
        if (!bar) break;
        *bar = '\0';
        p = bar + 1;
    }
    if (n != BV_FILELIST_FIELDS) {
        snprintf(err, errcap,
                 "%s:%d: malformed line: %d '|'-separated field%s, expected %d "
                 "(wav|speaker|language|text|phones|tones|word2ph)",
                 source, e->line, n, n == 1 ? "" : "s", BV_FILELIST_FIELDS);
        return -1;
    }
    e->wav = f[0];
    e->speaker = f[1];
    e->language = f[2];
    e->text = f[3];
    e->phones = f[4];
    e->tones = f[5];
    e->word2ph = f[6];
    return 0;
}

int bv_filelist_parse(bv_filelist *fl, const char *text, size_t len, const char *source, char *err, size_t errcap) {
    memset(fl, 0, sizeof *fl);
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *q = text; q < nul; q++) line += *q == '\n';
        snprintf(err, errcap, "%s:%d: a NUL byte: a filelist is UTF-8 text (is this a binary file?)", source, line);
        return -1;
    }
    /* a byte-order mark some editors write: upstream (open(encoding="utf-8")) would glue U+FEFF to the
     * first wav path and then not find that file; dropping it is what the user meant */
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
        fprintf(stderr, "warning: %s: starts with a UTF-8 byte-order mark; ignored\n", source);
        text += 3;
        len -= 3;
    }
    fl->buf = bv_xmalloc(len + 1);
    memcpy(fl->buf, text, len);
    fl->buf[len] = '\0';
    int cap = 16;
    fl->items = bv_xmalloc(sizeof *fl->items * (size_t)cap);
    int line = 0;
    for (char *p = fl->buf; p < fl->buf + len;) {
        char *nl = memchr(p, '\n', (size_t)(fl->buf + len - p));
        char *end = nl ? nl : fl->buf + len;
        line++;
        if (!is_blank(p, end)) {
            /* line.strip() */
            while (isspace((unsigned char)*p)) p++;
            char *q = end;
            while (q > p && isspace((unsigned char)q[-1])) q--;
            *q = '\0';
            if (fl->n == cap) fl->items = bv_xrealloc(fl->items, sizeof *fl->items * (size_t)(cap *= 2));
            bv_filelist_entry *e = &fl->items[fl->n];
            memset(e, 0, sizeof *e);
            e->line = line;
            if (split_line(e, p, source, err, errcap)) {
                bv_filelist_free(fl);
                return -1;
            }
            fl->n++;
        }
        p = end + 1;
    }
    fl->path = strdup(source);
    return 0;
}

int bv_filelist_load(bv_filelist *fl, const char *path, char *err, size_t errcap) {
    memset(fl, 0, sizeof *fl);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open filelist: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *text = bv_xmalloc(cap);
    size_t got;
    while ((got = fread(text + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) text = bv_xrealloc(text, cap *= 2);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errcap, "%s: cannot read: %s", path, strerror(errno));
        free(text);
        return -1;
    }
    int rc = bv_filelist_parse(fl, text, len, path, err, errcap);
    free(text);
    return rc;
}

void bv_filelist_free(bv_filelist *fl) {
    free(fl->items);
    free(fl->buf);
    free(fl->path);
    memset(fl, 0, sizeof *fl);
}
