/* zh_dict.h - the tables behind the Chinese front-end, read from the files scripts/fetch-zh.sh installs
 * (data from the PyPI packages jieba 0.42.1, pypinyin 0.53.0 and style-bert-vits2 2.5.0; never committed).
 *
 * What each table is, in upstream's terms:
 *   jieba Tokenizer.FREQ / total    dict.txt: word -> frequency; every prefix of a word is a key with 0
 *                                   unless it is a word itself; total = sum of all frequencies (duplicates
 *                                   counted, the last line of a word wins its frequency)
 *   POSTokenizer.word_tag_tab       dict.txt: word -> POS tag (last line wins)
 *   jieba.finalseg start/trans/emit BMES HMM for unseen runs in jieba.cut
 *   jieba.posseg start/trans/emit/char_state_tab   (BMES x POS) HMM for unseen runs in posseg.cut
 *   pypinyin PINYIN_DICT            code point -> its first reading (heteronym=False)
 *   pypinyin PHRASES_DICT           phrase -> first reading of each character; plus mmseg's prefix set
 *   opencpop-strict.txt             pinyin -> opencpop phones
 *   tone_sandhi.py                  must_neural_tone_words, must_not_neural_tone_words
 * Every reading (toned pinyin) gets an id with its Style.INITIALS and Style.FINALS_TONE3 forms worked out
 * once at load (zh_pinyin.c does the conversion).
 *
 * Loading: the first load parses the text files and writes data/zh/cache.bin (a flat dump of the tables);
 * later loads read the cache when it is newer than every source file and has the right header.
 */
#ifndef BV_TEXT_ZH_DICT_H
#define BV_TEXT_ZH_DICT_H

#include <stddef.h>
#include <stdint.h>

#define BV_ZH_DATA_ENV "BV2_ZH_DATA"
#define BV_ZH_DATA_DEFAULT "data/zh"
#define BV_ZH_MIN_FLOAT (-3.14e100) /* jieba's MIN_FLOAT: emission of an unseen character */
#define BV_ZH_TAG_MAX 8             /* longest POS tag + NUL */
#define BV_ZH_PY_MAX 16             /* longest initials / finals string + NUL */

/* Open-addressed map from a code point sequence to an entry index (insertion order). */
typedef struct {
    uint32_t *pool;  /* key code points, concatenated */
    uint32_t *off;   /* [n] key offset in pool */
    uint32_t *len;   /* [n] key length */
    uint32_t *slots; /* [cap] entry index + 1, 0 = empty */
    uint32_t n, cap, npool, cap_pool, cap_entries;
} bv_zh_map;

int64_t bv_zh_map_find(const bv_zh_map *m, const uint32_t *key, uint32_t len); /* -1 when absent */

typedef struct {
    char ini[BV_ZH_PY_MAX]; /* Style.INITIALS, strict */
    char fin[BV_ZH_PY_MAX]; /* Style.FINALS_TONE3, strict, neutral_tone_with_five */
} bv_zh_syllable;

typedef struct {
    char pinyin[8];
    char phones[16]; /* "zh ong" */
} bv_zh_opencpop;

typedef struct bv_zh_dict {
    /* jieba dictionary */
    bv_zh_map words;     /* word or prefix */
    int64_t *freq;       /* [words.n] 0 for a bare prefix */
    uint8_t *word_tag;   /* [words.n] tag id, 0xFF: not in word_tag_tab */
    double total;        /* sum of frequencies, as a double (log(total)) */
    int ntags;
    char (*tags)[BV_ZH_TAG_MAX]; /* tag id -> name; ids sorted by name */
    /* finalseg: states B M E S = 0 1 2 3 */
    double fs_start[4], fs_trans[4][4];
    bv_zh_map fs_chars; /* one-code-point keys */
    double *fs_emit;    /* [fs_chars.n][4], BV_ZH_MIN_FLOAT where absent */
    /* posseg: states sorted as Python sorts the tuples (BMES letter, tag) */
    int nstates;
    char *state_bmes;    /* [nstates] 'B' 'M' 'E' 'S' */
    uint8_t *state_tag;  /* [nstates] tag id */
    double *ps_start;    /* [nstates] */
    double *ps_trans;    /* [nstates][nstates], -inf where absent */
    uint32_t *ps_next_off, *ps_next; /* adjacency: ps_next[ps_next_off[s] .. ps_next_off[s+1]) */
    uint32_t *ps_prev_off, *ps_prev; /* reverse adjacency, ascending (built at load, not cached) */
    bv_zh_map ps_chars;  /* code points in emit or char_state_tab */
    uint32_t *ps_emit_off; /* [ps_chars.n + 1] into ps_emit_state / ps_emit_val, sorted by state */
    uint16_t *ps_emit_state;
    double *ps_emit_val;
    uint32_t *ps_cst_off;  /* [ps_chars.n + 1] char_state_tab: the char's states in ps_cst */
    uint16_t *ps_cst;
    uint8_t *ps_cst_has;   /* [ps_chars.n] 1 when char_state_tab has the char */
    /* pypinyin */
    int nsyl;
    bv_zh_syllable *syl;
    uint32_t pinyin_max_cp;  /* pinyin_of has this many entries */
    uint16_t *pinyin_of;     /* code point -> syllable id + 1, 0: no reading */
    bv_zh_map phrases;       /* phrases and all their prefixes */
    uint32_t *phrase_off;    /* [phrases.n] into phrase_syl, UINT32_MAX: prefix only */
    uint16_t *phrase_syl;
    /* opencpop-strict */
    int nopencpop;
    bv_zh_opencpop *opencpop; /* sorted by pinyin */
    /* tone_sandhi word sets */
    bv_zh_map must_neural, must_not_neural;
    /* memory owned when loaded from the cache */
    void *blob;
} bv_zh_dict;

/* The folder bv_zh_dict_load(NULL, ...) reads: $BV2_ZH_DATA, else data/zh here, else data/zh beside the
 * bv2 build folder. */
const char *bv_zh_data_dir(char *buf, size_t cap);

/* Load the tables from dir (NULL: bv_zh_data_dir). NULL and a message (naming the file and line or key;
 * a missing file says to run scripts/fetch-zh.sh) on failure. */
bv_zh_dict *bv_zh_dict_load(const char *dir, char *err, size_t cap);
/* The same from the text files only: no cache read or written (tests compare the two). */
bv_zh_dict *bv_zh_dict_load_text(const char *dir, char *err, size_t cap);
void bv_zh_dict_free(bv_zh_dict *d);

/* Small helpers shared by the front-end files. */
int bv_zh_tag_id(const bv_zh_dict *d, const char *tag); /* -1 when unknown */
const char *bv_zh_opencpop_find(const bv_zh_dict *d, const char *pinyin);
/* UTF-8 <-> code points. Decoding returns the count or -1 on invalid UTF-8. */
int bv_zh_utf8_decode(const char *s, size_t n, uint32_t *out, size_t cap);
size_t bv_zh_utf8_put(char *dst, uint32_t cp); /* writes 1-4 bytes, returns count */

#endif
