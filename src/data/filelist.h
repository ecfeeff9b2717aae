/* filelist.h - Bert-VITS2 filelists (preprocess_text.py output, utils.load_filepaths_and_text):
 *
 *   wav|speaker|language|text|phones|tones|word2ph
 *   Data/x/wavs/0001.wav|spk|ZH|你好|_ n i h ao _|0 3 3 3 3 0|1 2 2 1
 *
 * One utterance per line; fields split on '|' after stripping the line's surrounding whitespace;
 * phones, tones and word2ph split on single spaces (Python's str.split(" ")). Each line keeps its
 * 1-based number so every later error can say "<file>:<line>: ...".
 *
 * Upstream fails on any line without exactly 7 fields (tuple unpacking); so do we, except that a
 * blank line is skipped (upstream would fail on it with an unhelpful ValueError).
 */
#ifndef BV_DATA_FILELIST_H
#define BV_DATA_FILELIST_H

#include <stddef.h>
#include <stdint.h>

#define BV_FILELIST_FIELDS 7

typedef struct bv_filelist_entry {
    int line;                  /* 1-based line number in the file */
    char *wav;                 /* the fields, as written (not trimmed: upstream does not either) */
    char *speaker;
    char *language;
    char *text;
    char *phones;              /* space separated; upstream filters on len() of THIS string */
    char *tones;
    char *word2ph;
} bv_filelist_entry;

typedef struct bv_filelist {
    char *path;                /* for messages */
    bv_filelist_entry *items;  /* in file order */
    int n;
    char *buf;                 /* owns every field string */
} bv_filelist;

/* Read and split a filelist. Returns 0, or -1 with "<path>:<line>: ..." (or "<path>: ...") in err;
 * on failure fl holds nothing to free. */
int bv_filelist_load(bv_filelist *fl, const char *path, char *err, size_t errcap);
/* The same from text in memory; `source` names it in messages. */
int bv_filelist_parse(bv_filelist *fl, const char *text, size_t len, const char *source, char *err, size_t errcap);
void bv_filelist_free(bv_filelist *fl);

/* Python's len() of a UTF-8 string: the number of code points. */
int64_t bv_utf8_len(const char *s);

/* str.split(" ") into a malloc'ed array of pointers into a malloc'ed copy (both freed with
 * bv_split_free). Consecutive spaces give empty tokens, as in Python. Returns the token count. */
int bv_split_spaces(const char *s, char ***tokens);
void bv_split_free(char **tokens);

/* [int(t) for t in s.split(" ")] into a malloc'ed array (*out; free()). Returns the count, or -1
 * with "<what>: token k \"...\" is not an integer" in err. */
int bv_parse_int_list(const char *s, const char *what, int64_t **out, char *err, size_t errcap);

#endif
