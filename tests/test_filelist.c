/* test_filelist.c - src/data/filelist.c: splitting lines and fields as upstream's
 * load_filepaths_and_text (strip, split('|')), line numbers kept across blank lines and CRLF,
 * Python's len() and str.split(" ") semantics, integer lists, and the errors: wrong field count
 * naming file and line, non-integer tones, a missing file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/data/filelist.h"
#include "test.h"

BV_TEST(filelist_parse_lines) {
    const char *text =
        "a.wav|spk|ZH|你好|_ n i h ao _|0 3 3 3 3 0|1 2 2 1\r\n"
        "\n"
        "   \t\n"
        "  b.wav|s2|EN|hi there|_ hh ay _|0 2 3 0|1 2 1  \n"
        "c.wav|s2|JP||_|0|1";   /* no final newline, empty text field */
    bv_filelist fl;
    char err[256];
    BV_CHECK(bv_filelist_parse(&fl, text, strlen(text), "mem.list", err, sizeof err) == 0, "%s", err);
    if (ts->failed) return;
    BV_CHECK(fl.n == 3, "entries %d", fl.n);
    BV_CHECK(fl.items[0].line == 1 && fl.items[1].line == 4 && fl.items[2].line == 5, "line numbers");
    BV_CHECK(!strcmp(fl.items[0].wav, "a.wav") && !strcmp(fl.items[0].text, "你好"), "fields 0");
    BV_CHECK(!strcmp(fl.items[0].word2ph, "1 2 2 1"), "CR stripped: [%s]", fl.items[0].word2ph);
    BV_CHECK(!strcmp(fl.items[1].wav, "b.wav") && !strcmp(fl.items[1].word2ph, "1 2 1"), "line stripped");
    BV_CHECK(!strcmp(fl.items[1].phones, "_ hh ay _") && !strcmp(fl.items[1].speaker, "s2"), "fields 1");
    BV_CHECK(!strcmp(fl.items[2].text, "") && !strcmp(fl.items[2].language, "JP"), "empty field");
    BV_CHECK(!strcmp(fl.path, "mem.list"), "path");
    bv_filelist_free(&fl);
}

BV_TEST(filelist_python_semantics) {
    BV_CHECK(bv_utf8_len("_ n i") == 5, "ascii");
    BV_CHECK(bv_utf8_len("a \xe2\x80\xa6 \xe4\xbd\xa0") == 5, "code points, not bytes");
    char **t;
    int n = bv_split_spaces("a  b", &t);
    BV_CHECK(n == 3 && !strcmp(t[0], "a") && !strcmp(t[1], "") && !strcmp(t[2], "b"), "split(' ') keeps empties");
    bv_split_free(t);
    n = bv_split_spaces("", &t);
    BV_CHECK(n == 1 && !strcmp(t[0], ""), "''.split(' ') == ['']");
    bv_split_free(t);
    int64_t *v;
    char err[128];
    n = bv_parse_int_list("1 -2 +3 40", "tones", &v, err, sizeof err);
    BV_CHECK(n == 4 && v[0] == 1 && v[1] == -2 && v[2] == 3 && v[3] == 40, "ints");
    free(v);
    BV_CHECK(bv_parse_int_list("1 x 3", "tones", &v, err, sizeof err) == -1, "non-integer");
    BV_CHECK(strstr(err, "tones: item 2 (\"x\") is not an integer"), "message: %s", err);
    BV_CHECK(bv_parse_int_list("1  3", "word2ph", &v, err, sizeof err) == -1 && strstr(err, "item 2"), "empty token: %s",
             err);
    BV_CHECK(bv_parse_int_list("1.5", "word2ph", &v, err, sizeof err) == -1, "float token");
}

BV_TEST(filelist_errors) {
    bv_filelist fl;
    char err[256];
    const char *bad = "a.wav|spk|ZH|t|_|0|1\nb.wav|spk|ZH|t|_|0\n";
    BV_CHECK(bv_filelist_parse(&fl, bad, strlen(bad), "train.list", err, sizeof err) == -1, "6 fields accepted");
    BV_CHECK(strstr(err, "train.list:2: malformed line: 6 '|'-separated fields, expected 7"), "message: %s", err);
    const char *extra = "a.wav|spk|ZH|t|_|0|1|x\n";
    BV_CHECK(bv_filelist_parse(&fl, extra, strlen(extra), "v.list", err, sizeof err) == -1 && strstr(err, "v.list:1:") &&
                 strstr(err, "8 '|'"),
             "8 fields: %s", err);
    BV_CHECK(bv_filelist_load(&fl, "/nonexistent/dir/train.list", err, sizeof err) == -1, "missing file");
    BV_CHECK(strstr(err, "/nonexistent/dir/train.list: cannot open filelist"), "message: %s", err);
    const char nul[] = "a.wav|spk|ZH|t|_|0|1\nb.wav|spk|ZH|t\0|_|0|1\n";
    BV_CHECK(bv_filelist_parse(&fl, nul, sizeof nul - 1, "n.list", err, sizeof err) == -1 &&
                 strstr(err, "n.list:2: a NUL byte"), "NUL byte: %s", err);
    BV_CHECK(bv_filelist_load(&fl, "/tmp", err, sizeof err) == -1 && strstr(err, "/tmp") && strstr(err, "directory"),
             "a folder: %s", err);
}

/* A UTF-8 byte-order mark is not glued to the first wav path. */
BV_TEST(filelist_bom_dropped) {
    bv_filelist fl;
    char err[256];
    const char *text = "\xEF\xBB\xBF" "a.wav|spk|ZH|t|_|0|1\n";
    BV_CHECK(bv_filelist_parse(&fl, text, strlen(text), "b.list", err, sizeof err) == 0, "%s", err);
    BV_CHECK(fl.n == 1 && !strcmp(fl.items[0].wav, "a.wav"), "first wav path '%s'", fl.n ? fl.items[0].wav : "");
    bv_filelist_free(&fl);
}

BV_TEST(filelist_load_file) {
    char path[] = "/tmp/bv_filelist_XXXXXX";
    int fd = mkstemp(path);
    BV_CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return;
    const char *text = "x.wav|s|EN|t|_ a _|0 1 0|1 1 1\n";
    BV_CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write");
    close(fd);
    bv_filelist fl;
    char err[256];
    BV_CHECK(bv_filelist_load(&fl, path, err, sizeof err) == 0, "%s", err);
    BV_CHECK(fl.n == 1 && !strcmp(fl.items[0].tones, "0 1 0"), "content");
    bv_filelist_free(&fl);
    unlink(path);
}
