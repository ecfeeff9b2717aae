/* ja_mecab.c - MeCab over OpenJTalk's dictionary, and text2mecab (see ja_mecab.h). */
#include "ja_mecab.h"

#include <mecab.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/error.h"

struct bv_ja_mecab {
    mecab_model_t *model;
    mecab_t *tagger;
    mecab_lattice_t *lattice;
};

static int exists(const char *dir, const char *name) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

bv_ja_mecab *bv_ja_mecab_open(const char *dicdir, char *err, size_t err_cap) {
    if (!dicdir) dicdir = getenv("OPEN_JTALK_DICT_DIR");
    if (!dicdir || !*dicdir) dicdir = BV_JA_DIC_DEFAULT;
    if (!exists(dicdir, "sys.dic")) {
        snprintf(err, err_cap,
                 "%s/sys.dic: no OpenJTalk dictionary there (install Debian's open-jtalk-mecab-naist-jdic, "
                 "scripts/install-deps.sh, or set OPEN_JTALK_DICT_DIR)", dicdir);
        return NULL;
    }
    char tmp[2048] = "";
    if (strlen(dicdir) > 1500) {
        snprintf(err, err_cap, "dictionary folder name too long (over 1500 bytes)");
        return NULL;
    }
    const char *use = dicdir;
    static const char *const files[] = {"sys.dic", "unk.dic", "char.bin", "matrix.bin", "left-id.def",
                                        "right-id.def", "pos-id.def", "rewrite.def"};
    const int nf = (int)(sizeof files / sizeof files[0]);
    if (!exists(dicdir, "dicrc")) {
        const char *t = getenv("TMPDIR");
        if (!t || !*t || strlen(t) > 1500) t = "/tmp";
        snprintf(tmp, sizeof tmp, "%s/bv2-jdic-XXXXXX", t);
        if (!mkdtemp(tmp)) {
            snprintf(err, err_cap, "%s: cannot make a temporary folder for the dictionary's dicrc", tmp);
            return NULL;
        }
        char src[4096], dst[4096];
        for (int i = 0; i < nf; i++) {
            if (!exists(dicdir, files[i])) continue;
            snprintf(src, sizeof src, "%s/%s", dicdir, files[i]);
            snprintf(dst, sizeof dst, "%s/%s", tmp, files[i]);
            if (symlink(src, dst)) snprintf(err, err_cap, "%s: cannot link", dst);
        }
        snprintf(dst, sizeof dst, "%s/dicrc", tmp);
        FILE *f = fopen(dst, "w");
        if (f) {
            fputs("bos-feature = BOS/EOS,*,*,*,*,*,*,*,*\n", f);
            fclose(f);
        }
        use = tmp;
    }
    char d[] = "-d";
    char prog[] = "bv2";
    char *argv[] = {prog, d, (char *)use, NULL};
    bv_ja_mecab *m = bv_xcalloc(1, sizeof *m);
    m->model = mecab_model_new(3, argv);
    if (m->model) m->tagger = mecab_model_new_tagger(m->model);
    if (m->tagger) m->lattice = mecab_model_new_lattice(m->model);
    if (tmp[0]) { /* MeCab has mapped the files: the links can go */
        char p[4096];
        for (int i = 0; i < nf; i++) snprintf(p, sizeof p, "%s/%s", tmp, files[i]), unlink(p);
        snprintf(p, sizeof p, "%s/dicrc", tmp), unlink(p);
        rmdir(tmp);
    }
    if (!m->lattice) {
        snprintf(err, err_cap, "%s: MeCab cannot open the dictionary: %s", dicdir, mecab_strerror(NULL));
        bv_ja_mecab_free(m);
        return NULL;
    }
    return m;
}

void bv_ja_mecab_free(bv_ja_mecab *m) {
    if (!m) return;
    if (m->lattice) mecab_lattice_destroy(m->lattice);
    if (m->tagger) mecab_destroy(m->tagger);
    if (m->model) mecab_model_destroy(m->model);
    free(m);
}

/* text2mecab's ASCII table: the full-width form of 0x20..0x7E */
static const char *const ascii_wide[95] = {
    "　", "！", "”", "＃", "＄", "％", "＆", "’", "（", "）", "＊", "＋", "，", "−", "．", "／", "０", "１", "２",
    "３", "４", "５", "６", "７", "８", "９", "：", "；", "＜", "＝", "＞", "？", "＠", "Ａ", "Ｂ", "Ｃ", "Ｄ", "Ｅ",
    "Ｆ", "Ｇ", "Ｈ", "Ｉ", "Ｊ", "Ｋ", "Ｌ", "Ｍ", "Ｎ", "Ｏ", "Ｐ", "Ｑ", "Ｒ", "Ｓ", "Ｔ", "Ｕ", "Ｖ", "Ｗ", "Ｘ",
    "Ｙ", "Ｚ", "［", "￥", "］", "＾", "＿", "‘", "ａ", "ｂ", "ｃ", "ｄ", "ｅ", "ｆ", "ｇ", "ｈ", "ｉ", "ｊ", "ｋ",
    "ｌ", "ｍ", "ｎ", "ｏ", "ｐ", "ｑ", "ｒ", "ｓ", "ｔ", "ｕ", "ｖ", "ｗ", "ｘ", "ｙ", "ｚ", "｛", "｜", "｝", "〜"};

/* half-width katakana U+FF61..U+FF9D to full width (voiced marks handled below) */
static const char *const kana_wide[61] = {
    "。", "「", "」", "、", "・", "ヲ", "ァ", "ィ", "ゥ", "ェ", "ォ", "ャ", "ュ", "ョ", "ッ", "ー", "ア", "イ", "ウ", "エ", "オ",
    "カ", "キ", "ク", "ケ", "コ", "サ", "シ", "ス", "セ", "ソ", "タ", "チ", "ツ", "テ", "ト", "ナ", "ニ", "ヌ", "ネ", "ノ",
    "ハ", "ヒ", "フ", "ヘ", "ホ", "マ", "ミ", "ム", "メ", "モ", "ヤ", "ユ", "ヨ", "ラ", "リ", "ル", "レ", "ロ", "ワ", "ン"};

static unsigned cp3(const unsigned char *u) { return ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu); }

char *bv_ja_text2mecab(const char *text) {
    size_t n = strlen(text);
    char *out = bv_xmalloc(3 * n + 1), *o = out;
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            if (u[i] >= 0x20 && u[i] < 0x7F) {
                const char *w = ascii_wide[u[i] - 0x20];
                size_t l = strlen(w);
                memcpy(o, w, l), o += l;
            }
            i++;
            continue;
        }
        int len = u[i] >= 0xF0 ? 4 : u[i] >= 0xE0 ? 3 : u[i] >= 0xC0 ? 2 : 1;
        if ((size_t)len > n - i) break;
        if (len == 3 && cp3(u + i) >= 0xFF61 && cp3(u + i) <= 0xFF9F) {
            unsigned c = cp3(u + i);
            unsigned next = i + 6 <= n && u[i + 3] >= 0xE0 && u[i + 3] < 0xF0 ? cp3(u + i + 3) : 0;
            i += 3;
            if (c == 0xFF9E || c == 0xFF9F) continue; /* a lone voicing mark is dropped */
            char k[8];
            memcpy(k, kana_wide[c - 0xFF61], 3);
            k[3] = 0;
            unsigned full = cp3((const unsigned char *)k);
            /* ｶﾞ -> ガ, ﾊﾟ -> パ, ｳﾞ -> ヴ: the kana + its mark as one character */
            unsigned f = 0;
            if (next == 0xFF9E && full == 0x30A6) f = 0x30F4;
            else if (next == 0xFF9E && strstr("カキクケコサシスセソタチツテトハヒフヘホ", k)) f = full + 1;
            else if (next == 0xFF9F && strstr("ハヒフヘホ", k)) f = full + 2;
            if (f) {
                k[0] = (char)(0xE0 | (f >> 12)), k[1] = (char)(0x80 | ((f >> 6) & 0x3F)), k[2] = (char)(0x80 | (f & 0x3F));
                i += 3;
            }
            memcpy(o, k, 3), o += 3;
            continue;
        }
        memcpy(o, text + i, (size_t)len), o += len;
        i += (size_t)len;
    }
    *o = 0;
    return out;
}

int bv_ja_mecab_parse(bv_ja_mecab *m, const char *text, bv_ja_njd *njd, char *err, size_t err_cap) {
    char *in = bv_ja_text2mecab(text);
    mecab_lattice_set_sentence(m->lattice, in);
    if (!mecab_parse_lattice(m->tagger, m->lattice)) {
        snprintf(err, err_cap, "MeCab cannot analyse the text: %s", mecab_strerror(m->tagger));
        free(in);
        return -1;
    }
    size_t cap = 256;
    char *buf = bv_xmalloc(cap);
    for (const mecab_node_t *n = mecab_lattice_get_bos_node(m->lattice); n; n = n->next) {
        if (n->stat == MECAB_BOS_NODE || n->stat == MECAB_EOS_NODE) continue;
        size_t need = n->length + strlen(n->feature) + 2;
        if (need > cap) buf = bv_xrealloc(buf, cap = need);
        memcpy(buf, n->surface, n->length);
        buf[n->length] = ',';
        strcpy(buf + n->length + 1, n->feature);
        bv_ja_njd_push_feature(njd, buf);
    }
    free(buf);
    mecab_lattice_clear(m->lattice);
    free(in);
    return 0;
}
