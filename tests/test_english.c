/* test_english.c - the English front-end (src/text/): normalisation, the CMUdict lexicon, g2p.
 *
 *  - english_golden_text_en: every case of ../shared/golden/text_en/cases.jsonl (upstream english.py
 *    output): norm_text, phones and tones strictly equal; word2ph sums to the phone count and equals
 *    the stored word2ph (our tokenizer is the stub's word-level rule); phone/tone/lang ids through
 *    cleaned_text_to_sequence equal upstream's.
 *  - number, currency, ordinal, year and punctuation normalisation against outputs of upstream's
 *    text_normalize (inflect 7.5), including its quirks and its failures (> 36 digits, "$,5").
 *  - the lexicon reader on a small file written here (header offset, " - " syllables, duplicates: last
 *    wins, a second two-space gap, CRLF, malformed lines by number, the missing-file message), and
 *    on the real cmudict.rep (size, duplicate keys, homographs).
 *  - g2p rules on a small lexicon: word grouping, apostrophe joining, distribute_phone zeros, symbol
 *    pieces with no phones, "v" -> "V", unknown phones -> UNK, filelist formatting.
 *  - letter-to-sound (flite) for out-of-vocabulary words: phones are symbols, tones in range, schwa
 *    mapped to "ah".
 *  - errors for characters the front-end cannot handle, naming the character and its position.
 *
 * The real lexicon is data/cmudict.rep (or $BV2_CMUDICT): tests that need it FAIL with the loader's
 * message (run scripts/fetch-cmudict.sh) when it is missing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../src/text/symbols.h"
#include "../src/text/english.h"
#include "test.h"

/* ---- helpers ---- */

/* The real lexicon, loaded once for the whole run (parsing 4 MB takes ~0.1 s). */
static bv_lexicon *g_lex;
static char g_lex_err[512];
static int g_lex_tried;

__attribute__((destructor)) static void free_lexicon(void) { bv_lexicon_free(g_lex); }

static const bv_lexicon *real_lexicon(bv_test_state *ts) {
    if (!g_lex_tried) {
        g_lex_tried = 1;
        g_lex = bv_lexicon_load(NULL, g_lex_err, sizeof g_lex_err);
    }
    BV_CHECK(g_lex != NULL, "%s", g_lex_err);
    return g_lex;
}

/* A lexicon from text: 48 header lines, then `body`. */
static bv_lexicon *small_lexicon(bv_test_state *ts, const char *body, char *err, size_t err_cap) {
    char path[] = "/tmp/bv2-test-lexicon-XXXXXX";
    int fd = mkstemp(path);
    BV_CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < BV_LEXICON_HEADER_LINES; i++) fprintf(f, "## header line %d  NOT  AN ENTRY\n", i + 1);
    fputs(body, f);
    fclose(f);
    bv_lexicon *lex = bv_lexicon_load(path, err, err_cap);
    unlink(path);
    return lex;
}

/* "a b c" of the phones, "0 1 2" of the tones or word2ph, for messages and comparisons. */
static void join_phones(const bv_en_phones *p, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < p->n_phones && len + 8 < cap; i++) len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", p->phones[i]);
}
static void join_ints(const int64_t *v, int n, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len + 24 < cap; i++) len += (size_t)snprintf(out + len, cap - len, "%s%lld", i ? " " : "", (long long)v[i]);
}
static void json_strings(const cJSON *a, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < cJSON_GetArraySize(a) && len + 8 < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", cJSON_GetArrayItem(a, i)->valuestring);
}
static void json_ints(const cJSON *a, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < cJSON_GetArraySize(a) && len + 24 < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%lld", i ? " " : "", (long long)cJSON_GetArrayItem(a, i)->valuedouble);
}

static int64_t sum(const int64_t *v, int n) {
    int64_t s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return s;
}

/* g2p on text already normalized, with the result as "phones|tones|word2ph". */
static int g2p_line(const bv_lexicon *lex, const char *text, char *line, size_t cap, char *err, size_t err_cap) {
    bv_en_phones p;
    if (bv_en_g2p(lex, text, &p, err, err_cap)) return -1;
    bv_en_format(&p, line, cap);
    bv_en_phones_free(&p);
    return 0;
}

/* ---- golden: upstream english.py on 164 public sentences ---- */

/* One case: returns the number of mismatching fields (messages printed). */
static int check_case(bv_test_state *ts, const bv_lexicon *lex, const cJSON *c) {
    const char *id = cJSON_GetObjectItem(c, "id")->valuestring;
    const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
    const char *want_norm = cJSON_GetObjectItem(c, "norm_text")->valuestring;
    const cJSON *jph = cJSON_GetObjectItem(c, "phones"), *jtn = cJSON_GetObjectItem(c, "tones");
    const cJSON *jw2 = cJSON_GetObjectItem(c, "word2ph"), *jpi = cJSON_GetObjectItem(c, "phone_ids");
    const cJSON *jti = cJSON_GetObjectItem(c, "tone_ids"), *jli = cJSON_GetObjectItem(c, "lang_ids");
    int failed_before = ts->failed;
    ts->failed = 0;
    char err[512], got[8192], want[8192];
    char *norm = NULL;
    bv_en_phones p;
    int rc = bv_en_clean_text(lex, text, &norm, &p, err, sizeof err);
    BV_CHECK(rc == 0, "%s: %s", id, err);
    if (rc) return 1;
    BV_CHECK(strcmp(norm, want_norm) == 0, "%s: norm_text\n    got  \"%s\"\n    want \"%s\"", id, norm, want_norm);
    join_phones(&p, got, sizeof got);
    json_strings(jph, want, sizeof want);
    BV_CHECK(strcmp(got, want) == 0, "%s: phones of \"%s\"\n    got  %s\n    want %s", id, want_norm, got, want);
    join_ints(p.tones, p.n_phones, got, sizeof got);
    json_ints(jtn, want, sizeof want);
    BV_CHECK(strcmp(got, want) == 0, "%s: tones\n    got  %s\n    want %s", id, got, want);
    BV_CHECK(sum(p.word2ph, p.n_word2ph) == p.n_phones, "%s: word2ph sums to %lld, %d phones", id,
             (long long)sum(p.word2ph, p.n_word2ph), p.n_phones);
    join_ints(p.word2ph, p.n_word2ph, got, sizeof got);   /* our tokenizer is the stub's rule: equal */
    json_ints(jw2, want, sizeof want);
    BV_CHECK(strcmp(got, want) == 0, "%s: word2ph\n    got  %s\n    want %s", id, got, want);
    int64_t *ids = malloc(3 * sizeof(int64_t) * (size_t)p.n_phones);
    rc = bv_cleaned_text_to_sequence(p.phones, p.tones, p.n_phones, "EN", ids, ids + p.n_phones, ids + 2 * p.n_phones,
                                     err, sizeof err);
    BV_CHECK(rc == 0, "%s: cleaned_text_to_sequence: %s", id, err);
    const cJSON *jids[3] = {jpi, jti, jli};
    static const char *const names[3] = {"phone_ids", "tone_ids", "lang_ids"};
    for (int k = 0; k < 3 && rc == 0; k++) {
        join_ints(ids + k * p.n_phones, p.n_phones, got, sizeof got);
        json_ints(jids[k], want, sizeof want);
        BV_CHECK(strcmp(got, want) == 0, "%s: %s\n    got  %s\n    want %s", id, names[k], got, want);
    }
    free(ids);
    free(norm);
    bv_en_phones_free(&p);
    int bad = ts->failed;
    ts->failed |= failed_before;
    return bad;
}

BV_GOLDEN_TEST(english_golden_text_en) {
    if (!bv_golden_need(ts, "text_en/cases.jsonl", NULL)) return;
    const bv_lexicon *lex = real_lexicon(ts);
    if (!lex) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/text_en/cases.jsonl", bv_test_golden_dir);
    FILE *f = fopen(path, "r");
    BV_CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    static char line[1 << 17];
    int n = 0, bad = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        cJSON *c = cJSON_Parse(line);
        BV_CHECK(c != NULL, "%s:%d: not JSON", path, lineno);
        if (!c) continue;
        bad += check_case(ts, lex, c) != 0;
        n++;
        cJSON_Delete(c);
    }
    fclose(f);
    BV_CHECK(n > 0, "%s: no cases", path);
    BV_CHECK(bad == 0, "%d of %d cases differ", bad, n);
    if (bv_test_verbose) fprintf(stderr, "  text_en: %d cases, %d differ\n", n, bad);
}

/* ---- normalisation (expected strings: upstream text_normalize) ---- */

static void check_norm(bv_test_state *ts, const char *in, const char *want) {
    char out[1024], err[256];
    int rc = bv_en_normalize(in, out, sizeof out, err, sizeof err);
    BV_CHECK(rc == 0, "normalize \"%s\": %s", in, err);
    if (rc == 0) BV_CHECK(strcmp(out, want) == 0, "normalize \"%s\"\n    got  \"%s\"\n    want \"%s\"", in, out, want);
}

BV_TEST(english_normalize_cardinals_and_years) {
    static const char *const cases[][2] = {
        {"0", "zero"}, {"7", "seven"}, {"13", "thirteen"}, {"21", "twenty-one"}, {"100", "one hundred"},
        {"101", "one hundred one"}, {"999", "nine hundred ninety-nine"}, {"1000", "one thousand"},
        {"1001", "ten oh one"}, {"1010", "ten ten"}, {"1100", "eleven hundred"}, {"1234", "twelve thirty-four"},
        {"1905", "nineteen oh five"}, {"2000", "two thousand"}, {"2001", "two thousand one"},
        {"2009", "two thousand nine"}, {"2010", "twenty ten"}, {"2100", "twenty-one hundred"},
        {"2999", "twenty-nine ninety-nine"}, {"3000", "three thousand"}, {"3001", "three thousand one"},
        {"3100", "three thousand, one hundred"}, {"12345", "twelve thousand, three hundred forty-five"},
        {"1000001", "one million one"}, {"1000000000", "one billion"},
        {"123456789012", "one hundred twenty-three billion, four hundred fifty-six million, seven hundred "
                         "eighty-nine thousand twelve"},
        {"007", "seven"}, {"1,234", "twelve thirty-four"}, {"1,000,000", "one million"}, {"-5", "-five"},
        {"mp3", "mpthree"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_norm(ts, cases[i][0], cases[i][1]);
}

BV_TEST(english_normalize_ordinals_decimals_money) {
    static const char *const cases[][2] = {
        {"1st", "first"}, {"2nd", "second"}, {"3rd", "third"}, {"4th", "fourth"}, {"11th", "eleventh"},
        {"12th", "twelfth"}, {"21st", "twenty-first"}, {"101st", "one hundred and first"},
        {"1000th", "one thousandth"}, {"0th", "zeroth"}, {"5these", "fifthese"},
        {"3.14", "three point fourteen"}, {"10.05", "ten point five"},
        {"$1", "one dollar"}, {"$0.99", "ninety-nine cents"}, {"$1.5", "one dollar, five cents"},
        {"$2.50", "two dollars, fifty cents"}, {"$0", "zero dollars"}, {"$1.00", "one dollar"},
        {"$.5", "five cents"}, {"$1.2.3", "one point two. three dollars"}, {"£3.50", "three pounds. fifty"},
        {"£1,000", "one thousand pounds"}, {"$1.5 million", "one dollar, five cents million"},
        {"3:30", "three:thirty"}, {"50%", "fifty%"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_norm(ts, cases[i][0], cases[i][1]);
    /* ordinals and years through the number-words helper too */
    char out[256], err[256];
    BV_CHECK(bv_en_number_words("101", 1, out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "one hundred and first"),
             "ordinal helper: %s", out);
    BV_CHECK(bv_en_number_words("1905", 0, out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "nineteen oh five"),
             "year helper: %s", out);
    BV_CHECK(bv_en_number_words("12a", 0, out, sizeof out, err, sizeof err) != 0, "non-digits rejected");
}

BV_TEST(english_normalize_punctuation) {
    static const char *const cases[][2] = {
        {"Hello\xE2\x80\xA6world", "Hello... world"},                        /* … -> ..., then a space */
        {"\xE2\x80\x9Cquoted\xE2\x80\x9D", "'quoted'"}, {"(paren) [b]", "'paren' 'b'"},
        {"a\xE2\x80\x94" "b a~b a\xE2\x88\x92" "b", "a-b a-b a-b"},         /* — ~ − */
        {"\xE3\x80\x8Cx\xE3\x80\x8D", "'x'"},                                /* 「x」 */
        {"\xEF\xBC\x8C\xE3\x80\x82\xEF\xBC\x81\xEF\xBC\x9F\xEF\xBC\x9A\xEF\xBC\x9B\xE3\x80\x81\xC2\xB7\xE3\x83\xBB",
         ",.!?,,,,,"},                                                        /* ，。！？：；、·・ */
        {"x\xC2\xB7\xC2\xB7\xC2\xB7y x\xE3\x83\xBB\xE3\x83\xBB\xE3\x83\xBBy", "x... y x... y"},   /* ··· ・・・ */
        {"a,b a;b a.b a?b a!b a,,b", "a, b a; b a. b a? b a! b a,, b"},
        {"a\nb", "a. b"}, {"a  b\t", "a  b\t"}, {"$", "."}, {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_norm(ts, cases[i][0], cases[i][1]);
}

BV_TEST(english_normalize_errors) {
    char out[64], err[256];
    const char *big = "1234567890123456789012345678901234567";   /* 37 digits: inflect raises */
    BV_CHECK(bv_en_normalize(big, out, sizeof out, err, sizeof err) != 0 && strstr(err, "37 digits"), "%s", err);
    BV_CHECK(bv_en_normalize("$,5", out, sizeof out, err, sizeof err) != 0 && strstr(err, "$"), "%s", err);
    BV_CHECK(bv_en_normalize("bad \xC3( utf8", out, sizeof out, err, sizeof err) != 0 && strstr(err, "UTF-8"), "%s", err);
    BV_CHECK(bv_en_normalize("123456", out, 8, err, sizeof err) != 0 && strstr(err, "bytes"), "small buffer: %s", err);
    char *s = bv_en_normalize_alloc("99", err, sizeof err);
    BV_CHECK(s && !strcmp(s, "ninety-nine"), "alloc");
    free(s);
}

/* ---- the lexicon reader ---- */

BV_TEST(english_lexicon_parse) {
    char err[512];
    bv_lexicon *lex = small_lexicon(ts,
                                    "HELLO  HH AH0 - L OW1\n"
                                    "DUP  D AH1 P\r\n"
                                    "  SPACED  S P EY1 S T  ignored after a second gap  \n"
                                    "DUP  D UW1 P\n"
                                    "READ(2)  R IY1 D\n",
                                    err, sizeof err);
    BV_CHECK(lex != NULL, "%s", err);
    if (!lex) return;
    const char *ph[BV_LEXICON_MAX_PRON];
    BV_CHECK(bv_lexicon_size(lex) == 4, "size %d (duplicates collapse)", bv_lexicon_size(lex));
    int n = bv_lexicon_lookup(lex, "hello", ph, BV_LEXICON_MAX_PRON);
    BV_CHECK(n == 4 && !strcmp(ph[0], "HH") && !strcmp(ph[1], "AH0") && !strcmp(ph[3], "OW1"), "HELLO: %d", n);
    n = bv_lexicon_lookup(lex, "Dup", ph, BV_LEXICON_MAX_PRON);
    BV_CHECK(n == 3 && !strcmp(ph[1], "UW1"), "the last DUP wins");
    n = bv_lexicon_lookup(lex, "spaced", ph, BV_LEXICON_MAX_PRON);
    BV_CHECK(n == 5 && !strcmp(ph[4], "T"), "second gap ignored: %d", n);
    BV_CHECK(bv_lexicon_lookup(lex, "read", ph, BV_LEXICON_MAX_PRON) == -1, "READ(2) is its own key");
    BV_CHECK(bv_lexicon_lookup(lex, "read(2)", ph, BV_LEXICON_MAX_PRON) == 3, "READ(2)");
    BV_CHECK(bv_lexicon_lookup(lex, "HELLO", ph, 2) == -2, "cap too small");
    BV_CHECK(bv_lexicon_lookup(lex, "", ph, BV_LEXICON_MAX_PRON) == -1, "empty word");
    bv_lexicon_free(lex);

    lex = small_lexicon(ts, "GOOD  G UH1 D\nBADLINE\n", err, sizeof err);
    BV_CHECK(lex == NULL && strstr(err, "line 50"), "malformed line named: %s", err);
    bv_lexicon_free(lex);
    lex = small_lexicon(ts, "BAD  B  \nX  A  B\nY   A B\n", err, sizeof err);
    BV_CHECK(lex == NULL && strstr(err, "line 51") && strstr(err, "empty phone"), "empty phone: %s", err);
    bv_lexicon_free(lex);

    /* a binary line is quoted escaped, never echoed raw to the terminal */
    lex = small_lexicon(ts, "GOOD  G UH1 D\nB\x1b[31mX\x01\n", err, sizeof err);
    BV_CHECK(lex == NULL && strstr(err, "line 50") && strstr(err, "B\\x1b[31mX\\x01") && !strchr(err, '\x1b'),
             "binary line: %s", err);
    bv_lexicon_free(lex);
    lex = bv_lexicon_load("/tmp", err, sizeof err);
    BV_CHECK(lex == NULL && strstr(err, "/tmp: is a folder"), "folder: %s", err);
    lex = bv_lexicon_load("/nonexistent/cmudict.rep", err, sizeof err);
    BV_CHECK(lex == NULL && strstr(err, "scripts/fetch-cmudict.sh") && strstr(err, "/nonexistent/cmudict.rep"),
             "missing file: %s", err);
}

BV_TEST(english_lexicon_cmudict) {
    const bv_lexicon *lex = real_lexicon(ts);
    if (!lex) return;
    BV_CHECK(bv_lexicon_size(lex) == 129464, "cmudict 0.6 keys: %d", bv_lexicon_size(lex));
    char line[1024], err[256];
    /* duplicate keys: the last line wins; homographs: the bare key */
    static const char *const cases[][2] = {
        {"bing", "_ b r ay b ih ng _|0 3 3 2 3 1 3 0|1 6 1"},
        {"ratchet", "_ r ae ch ah t _|0 3 2 3 1 3 0|1 5 1"},
        {"read live", "_ r eh d l ay V _|0 3 2 3 3 2 3 0|1 3 3 1"},
        {"the a", "_ dh ah ah _|0 3 1 1 0|1 2 1 1"},
        {"W", "_ d ah b ah l y uw _|0 3 2 3 1 3 3 1 0|1 7 1"},
        {"Hello, world.", "_ hh ah l ow , w er l d . _|0 3 1 3 2 0 3 2 3 3 0 0|1 4 1 4 1 1"},   /* english.h */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        BV_CHECK(g2p_line(lex, cases[i][0], line, sizeof line, err, sizeof err) == 0, "%s", err);
        BV_CHECK(strcmp(line, cases[i][1]) == 0, "\"%s\"\n    got  %s\n    want %s", cases[i][0], line, cases[i][1]);
    }
}

/* ---- g2p rules on a small lexicon ---- */

static const char *SMALL =
    "I  AY1\n"
    "'M  M\n"
    "I'M  AY1 M\n"
    "CAN  K AE1 N\n"
    "CAN'T  K AE1 N T\n"
    "DOGS  D AA1 G Z\n"
    "WELL  W EH1 L\n"
    "KNOWN  N OW1 N\n"
    "VERY  V EH1 R IY0\n"
    "ODD  OW1 XQ D\n";

BV_TEST(english_g2p_rules) {
    char err[512], line[1024];
    bv_lexicon *lex = small_lexicon(ts, SMALL, err, sizeof err);
    BV_CHECK(lex != NULL, "%s", err);
    if (!lex) return;
    static const char *const cases[][2] = {
        {"", "_ _|0 0|1 1"},
        {"I'm", "_ ay m _|0 2 3 0|1 1 1 0 1"},                  /* 3 pieces, 2 phones: [1, 1, 0] */
        {"can't.", "_ k ae n t . _|0 3 2 3 3 0 0|1 2 1 1 1 1"},   /* can ' t joined; "." its own word */
        {"well-known", "_ w eh l - n ow n _|0 3 2 3 0 3 2 3 0|1 3 2 2 1"},   /* 7 phones over 3 pieces */
        {"dogs' very", "_ d aa g z ' V eh r iy _|0 3 2 3 3 0 3 2 3 1 0|1 4 1 4 1"},
        {"I ; can", "_ ay k ae n _|0 2 3 2 3 0|1 1 0 3 1"},     /* ";" gives no phones (g2p_en drops it) */
        {"odd", "_ ow UNK d _|0 2 3 3 0|1 3 1"},                /* post_replace_ph: not a symbol -> UNK */
        {"  I \xC2\xA0 can  ", "_ ay k ae n _|0 2 3 2 3 0|1 1 3 1"},   /* Unicode spaces split words */
        {"I...", "_ ay . . . _|0 2 0 0 0 0|1 1 1 1 1 1"},
        {"I\xE2\x80\xA6", "_ ay \xE2\x80\xA6 _|0 2 0 0|1 1 1 1"},   /* "…" is a symbol when g2p sees it */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = g2p_line(lex, cases[i][0], line, sizeof line, err, sizeof err);
        BV_CHECK(rc == 0, "\"%s\": %s", cases[i][0], err);
        if (rc == 0) BV_CHECK(strcmp(line, cases[i][1]) == 0, "\"%s\"\n    got  %s\n    want %s", cases[i][0], line, cases[i][1]);
    }
    /* bv_en_format: snprintf-style length, truncation */
    bv_en_phones p;
    BV_CHECK(bv_en_g2p(lex, "I", &p, err, sizeof err) == 0, "%s", err);
    char small[8];
    size_t need = bv_en_format(&p, small, sizeof small);
    BV_CHECK(need == strlen("_ ay _|0 2 0|1 1 1") && strlen(small) == 7, "format length %zu", need);
    bv_en_phones_free(&p);
    bv_lexicon_free(lex);
}

static int is_en_phone(const char *ph) {
    static const char *const en[] = {"aa", "ae", "ah", "ao", "aw", "ay", "b", "ch", "d", "dh", "eh", "er", "ey",
                                     "f", "g", "hh", "ih", "iy", "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p",
                                     "r", "s", "sh", "t", "th", "uh", "uw", "V", "w", "y", "z", "zh"};
    for (size_t i = 0; i < sizeof en / sizeof en[0]; i++)
        if (!strcmp(ph, en[i])) return 1;
    return 0;
}

/* Vowels carry a stress tone (1 or 2 from flite), consonants 3, every phone an English symbol. */
static void check_lts(bv_test_state *ts, const bv_en_phones *p, int first, int last, const char *what) {
    BV_CHECK(last - first >= 3, "%s: only %d phones", what, last - first);
    int vowels = 0;
    for (int i = first; i < last; i++) {
        const char *ph = p->phones[i];
        int vowel = strchr("aeiou", ph[0]) != NULL;
        vowels += vowel;
        BV_CHECK(is_en_phone(ph), "%s: phone %d \"%s\" is not an English symbol", what, i, ph);
        BV_CHECK(vowel ? (p->tones[i] == 1 || p->tones[i] == 2) : p->tones[i] == 3, "%s: %s has tone %lld", what, ph,
                 (long long)p->tones[i]);
    }
    BV_CHECK(vowels > 0, "%s: no vowel", what);
}

BV_TEST(english_oov_letter_to_sound) {
    const bv_lexicon *lex = real_lexicon(ts);
    if (!lex) return;
    char err[512], got[512];
    bv_en_phones p;
    const char *text = "The zwitterionic blorptastic flurbs.";
    int rc = bv_en_g2p(lex, text, &p, err, sizeof err);
    BV_CHECK(rc == 0, "%s", err);
    if (rc) return;
    join_phones(&p, got, sizeof got);
    BV_CHECK(p.n_word2ph == 7 && sum(p.word2ph, p.n_word2ph) == p.n_phones, "word2ph: %d entries", p.n_word2ph);
    BV_CHECK(!strcmp(p.phones[1], "dh") && !strcmp(p.phones[p.n_phones - 2], "."), "%s", got);
    int at = 1 + (int)p.word2ph[1];   /* after "the" */
    for (int w = 2; w <= 4; w++) {
        check_lts(ts, &p, at, at + (int)p.word2ph[w], got);
        at += (int)p.word2ph[w];
    }
    BV_CHECK(!strncmp(got, "_ dh ah z w ih", 14) && strstr(got, " b l ao r p "), "letter-to-sound: %s", got);
    bv_en_phones_free(&p);

    /* flite's schwa "ax0" becomes "ah" with tone 1: "hello" is "hh ax0 l ow1" in flite's lexicon */
    char lerr[512];
    bv_lexicon *tiny = small_lexicon(ts, "ZZZ  Z\n", lerr, sizeof lerr);
    BV_CHECK(tiny != NULL, "%s", lerr);
    if (!tiny) return;
    p = (bv_en_phones){0};
    BV_CHECK(bv_en_letter_to_sound(tiny, "Hello", &p, err, sizeof err) == 0, "%s", err);
    join_phones(&p, got, sizeof got);
    BV_CHECK(!strcmp(got, "hh ah l ow") && p.tones[1] == 1 && p.tones[3] == 2 && p.tones[0] == 3, "hello: %s", got);
    bv_en_phones_free(&p);
    /* a joined apostrophe word outside the lexicon: letters with the apostrophe go to LTS as one run,
     * a leading "'" is a punctuation phone */
    BV_CHECK(bv_en_g2p(tiny, "'blorp's", &p, err, sizeof err) == 0, "%s", err);
    join_phones(&p, got, sizeof got);
    BV_CHECK(!strncmp(got, "_ ' b l", 7) && p.n_word2ph == 6 && sum(p.word2ph, p.n_word2ph) == p.n_phones, "%s", got);
    bv_en_phones_free(&p);
    bv_lexicon_free(tiny);
}

BV_TEST(english_g2p_errors) {
    char err[512], line[256];
    bv_lexicon *lex = small_lexicon(ts, SMALL, err, sizeof err);
    BV_CHECK(lex != NULL, "%s", err);
    if (!lex) return;
    BV_CHECK(g2p_line(lex, "I can caf\xC3\xA9", line, sizeof line, err, sizeof err) != 0 && strstr(err, "'\xC3\xA9'") &&
                 strstr(err, "U+00E9") && strstr(err, "position 9"),
             "accented letter: %s", err);
    BV_CHECK(g2p_line(lex, "I \xF0\x9F\x99\x82", line, sizeof line, err, sizeof err) != 0 && strstr(err, "U+1F642") &&
                 strstr(err, "position 2"),
             "emoji: %s", err);
    BV_CHECK(g2p_line(lex, "I\x01", line, sizeof line, err, sizeof err) != 0 && strstr(err, "U+0001") &&
                 strstr(err, "position 1"),
             "control character: %s", err);
    BV_CHECK(g2p_line(lex, "\xE6\x97\xA5\xE6\x9C\xAC", line, sizeof line, err, sizeof err) != 0 && strstr(err, "U+65E5") &&
                 strstr(err, "position 0"),
             "CJK: %s", err);
    BV_CHECK(g2p_line(lex, "I \xFF", line, sizeof line, err, sizeof err) != 0 && strstr(err, "UTF-8"), "bad UTF-8: %s", err);
    BV_CHECK(g2p_line(lex, "I can 5", line, sizeof line, err, sizeof err) != 0 && strstr(err, "digit '5' at position 6") &&
                 strstr(err, "normalize"),
             "digits: %s", err);
    /* clean_text reports the same through normalisation */
    bv_en_phones p;
    char *norm = NULL;
    BV_CHECK(bv_en_clean_text(lex, "na\xC3\xAFve", &norm, &p, err, sizeof err) != 0 && strstr(err, "U+00EF") && norm == NULL,
             "clean_text: %s", err);
    bv_lexicon_free(lex);
}
