/* ja_digit.c - njd_set_digit of OpenJTalk 1.11, written from its public source: digit sequences
 * read as numbers (with 十/百/千 and 万/億/... inserted) or digit by digit, counters that change
 * the reading of the numeral before them (三本 サンボン, 六百 ロッピャク, 一人 ヒトリ, 二日 フツカ, ...),
 * and the accent phrase boundaries around numerals. Tables are ours, holding the readings
 * OpenJTalk uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ja_njd.h"

static int eq(const char *field, const char *s) { return !strcmp(bv_ja_str(field), s); }

/* in a space separated word list */
static int in_list(const char *list, const char *s) {
    size_t n = strlen(s);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !memcmp(p, s, n)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* numeral spellings: string, value, the kanji it becomes */
static const struct { const char *s; int v; const char *k; } numerals[] = {
    {"○", 0, "〇"},   {"１", 1, "一"},   {"２", 2, "二"},   {"３", 3, "三"},  {"４", 4, "四"},   {"５", 5, "五"},
    {"６", 6, "六"},  {"７", 7, "七"},   {"８", 8, "八"},   {"９", 9, "九"},  {"一", 1, "一"},   {"二", 2, "二"},
    {"三", 3, "三"},  {"四", 4, "四"},   {"五", 5, "五"},   {"六", 6, "六"},  {"七", 7, "七"},   {"八", 8, "八"},
    {"九", 9, "九"},  {"いち", 1, "一"}, {"に", 2, "二"},   {"さん", 3, "三"}, {"よん", 4, "四"}, {"ご", 5, "五"},
    {"ろく", 6, "六"}, {"なな", 7, "七"}, {"はち", 8, "八"}, {"きゅう", 9, "九"}, {"〇", 0, "〇"}, {"０", 0, "０"},
    {"壱", 1, "一"},  {"弐", 2, "二"},   {"貳", 2, "二"},   {"ニ", 2, "二"},  {"参", 3, "三"},   {"し", 4, "四"},
    {"しち", 7, "七"}, {"く", 9, "九"},
};

static int get_digit(bv_ja_node *n, int convert) {
    if (eq(n->string, "*") || !eq(n->pos1, "数")) return -1;
    for (size_t i = 0; i < sizeof numerals / sizeof numerals[0]; i++)
        if (eq(n->string, numerals[i].s)) {
            if (convert) {
                bv_ja_set(&n->string, numerals[i].k);
                bv_ja_set(&n->orig, numerals[i].k);
            }
            return numerals[i].v;
        }
    return -1;
}

static int is_period(const char *s) { return s && (!strcmp(s, "．") || !strcmp(s, "・")); }
static int is_comma(const char *s) { return s && !strcmp(s, "，"); }

/* dictionary-style feature of a numeral word: string, read, pron, "acc/mora", chain rule */
static void load_num(bv_ja_node *n, const char *s, const char *read, const char *pron, const char *acc, const char *rule) {
    char f[256];
    snprintf(f, sizeof f, "%s,名詞,数,*,*,*,*,%s,%s,%s,%s,%s", s, s, read, pron, acc, rule);
    bv_ja_node_load(n, f);
}

/* a word read as one (一日 ツイタチ): string, orig, read, pron, "acc/mora", chain flag or NULL */
static void load_word(bv_ja_node *n, const char *s, const char *orig, const char *read, const char *pron, const char *acc,
                      const char *flag) {
    char f[256];
    snprintf(f, sizeof f, "%s,名詞,副詞可能,*,*,*,*,%s,%s,%s,%s,*%s%s", s, orig, read, pron, acc, flag ? "," : "",
             flag ? flag : "");
    bv_ja_node_load(n, f);
}

static const char *const tens[4][3] = {{"", "", ""}, {"十", "ジュウ", "ジュー"}, {"百", "ヒャク", "ヒャク"}, {"千", "セン", "セン"}};
static const char *const tens_acc[4] = {"", "1/2", "2/2", "1/2"};
static void load_ten(bv_ja_node *n, int i) { load_num(n, tens[i][0], tens[i][1], tens[i][2], tens_acc[i], "*"); }

/* the names of 10^4k, k = 1..17: string, read, pron, acc/mora, chain rule */
static const char *const myriads[18][5] = {
    {"", "", "", "", ""},
    {"万", "マン", "マン", "1/2", "*"},
    {"億", "オク", "オク", "1/2", "*"},
    {"兆", "チョウ", "チョー", "1/2", "C3"},
    {"京", "ケイ", "ケー", "1/2", "*"},
    {"垓", "ガイ", "ガイ", "1/2", "*"},
    {"𥝱", "ジョ", "ジョ", "1/1", "*"},
    {"穣", "ジョウ", "ジョー", "1/2", "*"},
    {"溝", "コウ", "コウ", "1/2", "*"},
    {"澗", "カン", "カン", "1/2", "*"},
    {"正", "セイ", "セー", "1/2", "*"},
    {"載", "サイ", "サイ", "1/2", "*"},
    {"極", "ゴク", "ゴク", "1/2", "*"},
    {"恒河沙", "ゴウガシャ", "ゴウガシャ", "1/4", "*"},
    {"阿僧祇", "アソウギ", "アソーギ", "2/4", "*"},
    {"那由他", "ナユタ", "ナユタ", "1/3", "*"},
    {"不可思議", "フカシギ", "フカシギ", "2/4", "*"},
    {"無量大数", "ムリョウタイスウ", "ムリョータイスー", "6/7", "*"},
};

static int score_string(const char *s) { /* dashes, brackets and 番号 around digits */
    return !strcmp(s, "―") || !strcmp(s, "−") || !strcmp(s, "‐") || !strcmp(s, "—") || !strcmp(s, "－") ||
           !strcmp(s, "番号");
}

static int sequence_score(bv_ja_node *start, bv_ja_node *end) {
    int score = 0;
    bv_ja_node *p = start->prev;
    if (p) {
        if (eq(p->pos1, "数接続")) score += 2;
        if (eq(p->pos2, "助数詞") || eq(p->pos1, "副詞可能")) score += 1;
        const char *s = bv_ja_str(p->string);
        if (is_period(s)) {
            if (p->prev && eq(p->prev->pos1, "数")) score -= 5;
        } else if (score_string(s)) {
            score -= 2;
        } else if (!strcmp(s, "（")) {
            if (p->prev && eq(p->prev->pos1, "数")) score -= 2;
        } else if (!strcmp(s, "）")) {
            score -= 2;
        }
        if (p->prev && eq(p->prev->string, "番号")) score -= 2;
    }
    bv_ja_node *n = end->next;
    if (n) {
        if (eq(n->pos2, "助数詞") || eq(n->pos1, "副詞可能")) score += 2;
        const char *s = bv_ja_str(n->string);
        if (score_string(s) || !strcmp(s, "（")) {
            score -= 2;
        } else if (!strcmp(s, "）")) {
            if (n->next && eq(n->next->pos1, "数")) score -= 2;
        } else if (is_period(s)) {
            score += 4;
        }
    }
    return score;
}

/* digit by digit (電話番号): 〇 ゼロ, 二 ニー, 五 ゴー, pairs of digits one accent phrase */
static void read_digits(bv_ja_node *start, bv_ja_node *end) {
    int size = 0;
    for (bv_ja_node *n = start; n != end->next; n = n->next) size++;
    if (size <= 1) return;
    size = 0;
    for (bv_ja_node *n = start; n != end->next; n = n->next) {
        if (eq(n->string, "〇") || eq(n->string, "０")) bv_ja_set(&n->pron, "ゼロ"), n->mora_size = 2;
        else if (eq(n->string, "二")) bv_ja_set(&n->pron, "ニー"), n->mora_size = 2;
        else if (eq(n->string, "五")) bv_ja_set(&n->pron, "ゴー"), n->mora_size = 2;
        bv_ja_set(&n->chain_rule, NULL);
        if (size % 2 == 0) {
            n->chain_flag = 0;
        } else {
            n->chain_flag = 1;
            n->prev->acc = 3;
        }
        size++;
    }
}

/* as a number: 二五〇〇 -> 二 千 五 百 */
static void read_number(bv_ja_njd *njd, bv_ja_node *start, bv_ja_node *end) {
    int size = 0;
    for (bv_ja_node *n = start; n != end->next; n = n->next) size++;
    if (size <= 1) return;
    int index = size % 4;
    if (index == 0) index = 4;
    int place = size > index ? (size - index) / 4 : 0;
    index--;
    if (place > 17) return;
    int have = 0;
    for (bv_ja_node *n = start; n != end->next; n = n->next) {
        int digit = get_digit(n, 0);
        if (index == 0) {
            if (digit == 0) {
                bv_ja_set(&n->pron, NULL);
                n->acc = n->mora_size = 0;
            } else {
                have = 1;
            }
            if (have) {
                if (place > 0) {
                    bv_ja_node *m = bv_ja_node_new();
                    load_num(m, myriads[place][0], myriads[place][1], myriads[place][2], myriads[place][3],
                             myriads[place][4]);
                    bv_ja_njd_insert_after(njd, n, m);
                    n = m;
                }
                have = 0;
            }
            place--;
        } else {
            if (digit <= 0) {
                bv_ja_set(&n->pron, NULL);
                n->acc = n->mora_size = 0;
            } else if (digit == 1) {
                load_ten(n, index);
                have = 1;
            } else {
                bv_ja_node *m = bv_ja_node_new();
                load_ten(m, index);
                bv_ja_njd_insert_after(njd, n, m);
                n = m;
                have = 1;
            }
        }
        index--;
        if (index < 0) index = 3;
    }
}

static void convert_sequence(bv_ja_njd *njd, bv_ja_node *s, bv_ja_node *e) {
    if (!s || !e) return;
    if (is_comma(bv_ja_str(s->string)) || is_period(bv_ja_str(s->string))) {
        if (s != e) convert_sequence(njd, s->next, e);
        return;
    }
    bv_ja_node *last = s; /* final digit before a period */
    while (last->next && last != e && !is_period(bv_ja_str(last->next->string))) last = last->next;
    while (last->prev && last != s && is_comma(bv_ja_str(last->string))) last = last->prev;

    int reading = 1; /* 1 numerical, 0 unknown, -1 digit by digit */
    int n_comma = 0;
    bv_ja_node *first_comma = NULL;
    for (int r = 0;; r++) {
        bv_ja_node *n = last;
        for (int k = 0; k < r; k++) n = n->prev;
        if (is_comma(bv_ja_str(n->string))) {
            first_comma = n;
            n_comma++;
            if (reading == 1 && r % 4 != 3) reading = 0;
        } else if (reading == 1 && r % 4 == 3) {
            reading = 0;
        }
        if (n == s) break;
    }
    if (s != last && get_digit(s, 0) == 0) reading = -1;
    if (reading == 1 && n_comma == 0) reading = 0;

    if (reading == 1) {
        for (bv_ja_node *n = s; n != last;) n = is_comma(bv_ja_str(n->string)) ? bv_ja_njd_remove(njd, n) : n->next;
        read_number(njd, s, last);
        if (last != e) convert_sequence(njd, last->next, e);
    } else {
        bv_ja_node *fin = first_comma ? first_comma->prev : last;
        if (reading == 0) reading = sequence_score(s, fin) >= 0 ? 1 : -1;
        if (reading == 1) read_number(njd, s, fin);
        else read_digits(s, fin);
        if (fin != e) convert_sequence(njd, fin->next, e);
    }
}

/* Counter classes: the counters, and how the numeral before them reads (numeral, pron, acc, mora). */
typedef struct { const char *s, *pron; int acc, mora; } reading;
#define END {NULL, NULL, 0, 0}
static const char *const class_b = "年 円 年間 年生 年代 年度 年版 年余 年来 えん";
static const reading conv_b[] = {{"四", "ヨ", 0, 1}, END};
static const char *const class_c1 = "人 人月 人前 人組";
static const reading conv_c1[] = {{"四", "ヨ", 0, 1}, {"七", "シチ", 1, 2}, END};
static const char *const class_c2 = "時 時間 時限 時半";
static const reading conv_c2[] = {{"四", "ヨ", 0, 1}, {"七", "シチ", 1, 2}, {"九", "ク", 0, 1}, END};
static const char *const class_d = "日 日間";
static const reading conv_d[] = {{"七", "シチ", 1, 2}, {"九", "ク", 0, 1}, END};
static const char *const class_e = "月";
static const reading conv_e[] = {{"四", "シ", 0, 1}, {"七", "シチ", 1, 2}, {"九", "ク", 0, 1}, END};
static const char *const class_g =
    "個 階 分 発 本 鉢 口 切れ 箱 か月 か国 か所 か条 か村 か年 カ月 カ国 カ寺 カ所 カ条 カ村 カ店 カ年 ケ月 ケ国 "
    "ケ所 ケ条 ケ村 ケ年 ヵ月 ヵ国 ヵ所 ヵ条 ヵ村 ヵ年 ヶ月 ヶ国 ヶ所 ヶ条 ヶ村 ヶ年 個月 個口 個国 個条 個年 箇月 "
    "箇国 箇所 箇条 箇年 かけ くだり けた 価 課 画 回 回忌 回生 回戦 回線 回分 海里 カイリ 浬 角 株 冠 巻 缶 貫 "
    "貫目 間 基 期 期生 機 気圧 季 騎 客 脚 球 級 橋 局 曲 極 重ね 斤 金 句 区 躯 計 桁 ケタ 校 港 項 組 件 軒 言 "
    "戸 湖 光年 石 ぴき ぺん 波 派 敗 杯 拍 泊 版 犯 班 匹 疋 筆 俵 票 品 分間 分目 片 篇 編 辺 遍 歩 報 方 法 "
    "本立て 頭身";
static const reading conv_g[] = {{"一", "イッ", 1, 2}, {"六", "ロッ", 1, 2}, {"八", "ハッ", 1, 2},
                                 {"十", "ジュッ", 1, 2}, {"百", "ヒャッ", 1, 2}, END};
static const char *const class_h =
    "． ・ 才 頭 着 足 尺 坪 通り センチ シーシー ＣＣ ｃｃ ｃｍ サイクル サンチーム シーズン シート シリング "
    "シンガポールドル スイスフラン スウェーデンクローネ スクレ セット セント ソル ゾーン 糎 竿 差 差し 歳 歳児 作 "
    "冊 刷 皿 棹 艘 子 視 式 失 室 射 社 勺 種 首 周 周忌 周年 州 週 週間 集 宿 所 勝 升 床 章 色 食 親等 進 進数 "
    "品 すじ そう そろい 筋 数 寸 世 隻 席 石 節 戦 線 選 銭 層 相 揃 たび つかみ つがい つぶ つまみ つ折 つ折り "
    "とおり とき ところ とせ 玉 月 手 束 続き 体 対 卓 樽 反 丁 丁目 鳥 通 掴み 艇 滴 店 転 点 斗 棟 盗 灯 等 等席 "
    "等地 等分 答 得 噸 粒 種類 歳馬 世紀 車種";
static const reading conv_h[] = {{"一", "イッ", 1, 2}, {"八", "ハッ", 1, 2}, {"十", "ジュッ", 1, 2}, END};
static const char *const class_i =
    "キロ カロリー ｃａｌ ｋｂ ｋｇ ｋｌ ｋｍ ｋｔ ｋｗ ｋグラム ｋバイト ｋヘルツ ｋメートル ｋリットル ｋワット "
    "カナダドル カラット ガロン キュリー キロカロリー キログラム キロトン キロバイト キロヘルツ キロメートル "
    "キロリットル キロワット キロワット時 クラス クローナ クローネ グァラニ ケース コース 粁";
static const reading conv_i[] = {{"六", "ロッ", 1, 2}, {"十", "ジュッ", 1, 2}, {"百", "ヒャッ", 1, 2}, END};
static const char *const class_j = "トン ｔ タル テラ トライ";
static const reading conv_j[] = {{"一", "イッ", 1, 2}, {"十", "ジュッ", 1, 2}, END};
static const char *const class_k =
    "房 柱 ％ ポンド ｐａ ｐｐｍ パーセント パーミル パスカル パック パット ピーピーエム ピコ ページ 頁 ペア "
    "ペセタ ペソ ペニー ペニヒ ペンス ポイント 振り 針 袋 張り 平米 平方キロ 平方キロメートル 平方センチメートル "
    "平方メートル 品目";
static const reading conv_k[] = {{"十", "ジュッ", 1, 2}, END};

/* counters whose first kana voices (type 1: か -> が) or half-voices (type 2: ほ -> ぽ) after a numeral */
typedef struct { const char *s; int type; } voicing;
static const char *const class2_b = "分 版 敗 発 拍 鉢 波 派 泊 犯 班 品 分間 分目 片 篇 編 辺 遍 歩 報 方";
static const voicing voice_b[] = {{"一", 2}, {"三", 2}, {"四", 2}, {"六", 2}, {"八", 2}, {"十", 2},
                                  {"百", 2}, {"千", 2}, {"万", 2}, {"何", 2}, {NULL, 0}};
static const char *const class2_c = "本 匹 疋 票 俵 箱 本立て 杯 針 柱";
static const voicing voice_c[] = {{"一", 2}, {"三", 1}, {"六", 2}, {"八", 2}, {"十", 2},
                                  {"百", 2}, {"千", 1}, {"万", 1}, {"何", 1}, {NULL, 0}};
static const char *const class2_e = "軒 石 足 尺 かけ 重ね 件 勺";
static const voicing voice_e[] = {{"三", 1}, {"千", 1}, {"万", 1}, {NULL, 0}};
static const char *const class2_f = "階";
static const voicing voice_f[] = {{"三", 1}, {NULL, 0}};
static const voicing voice_hundred[] = {{"三", 1}, {"六", 2}, {"八", 2}, {"何", 1}, {NULL, 0}}; /* before 百/千 */

static int in_class(const char *cls, bv_ja_node *n) { return !eq(n->string, "*") && in_list(cls, bv_ja_str(n->string)); }

static void convert_pron(const reading *table, bv_ja_node *n) {
    if (eq(n->string, "*")) return;
    for (; table->s; table++)
        if (eq(n->string, table->s)) {
            bv_ja_set(&n->pron, table->pron);
            n->acc = table->acc;
            n->mora_size = table->mora;
            return;
        }
}

/* first kana of pron and its voiced / half-voiced form */
static const char *const voiced_pairs[] = {"カガ", "キギ", "クグ", "ケゲ", "コゴ", "サザ", "シジ", "スズ", "セゼ", "ソゾ",
                                           "タダ", "チヂ", "ツヅ", "テデ", "トド", "ハバ", "ヒビ", "フブ", "ヘベ", "ホボ", NULL};
static const char *const halfvoiced_pairs[] = {"ハパ", "ヒピ", "フプ", "ヘペ", "ホポ", NULL};

static void convert_voicing(const voicing *table, bv_ja_node *num, bv_ja_node *counter) {
    if (eq(num->string, "*")) return;
    int type = 0;
    for (; table->s; table++)
        if (eq(num->string, table->s)) {
            type = table->type;
            break;
        }
    if (!type) return;
    const char *const *pairs = type == 1 ? voiced_pairs : halfvoiced_pairs;
    const char *pron = bv_ja_str(counter->pron);
    for (; *pairs; pairs++)
        if (!strncmp(pron, *pairs, 3)) { /* each kana is 3 bytes of UTF-8 */
            char buf[1024];
            snprintf(buf, sizeof buf, "%.3s%s", *pairs + 3, pron + 3);
            bv_ja_set(&counter->pron, buf);
            return;
        }
}

/* counters read with the native numerals ひと/ふた: string and its read */
static const char *const class3[][2] = {
    {"棟", "ムネ"},     {"かけ", "カケ"},   {"くだり", "クダリ"}, {"けた", "ケタ"},   {"すじ", "スジ"},     {"そろい", "ソロイ"},
    {"たび", "タビ"},   {"つかみ", "ツカミ"}, {"つがい", "ツガイ"}, {"つまみ", "ツマミ"}, {"とおり", "トオリ"}, {"ところ", "トコロ"},
    {"とせ", "トセ"},   {"まわり", "マワリ"}, {"シーズン", "シーズン"}, {"セット", "セット"}, {"握り", "ニギリ"}, {"回り", "マワリ"},
    {"株", "カブ"},     {"竿", "サオ"},     {"筋", "スジ"},       {"桁", "ケタ"},     {"ケタ", "ケタ"},     {"月", "ツキ"},
    {"言", "コト"},     {"口", "クチ"},     {"差し", "サシ"},     {"皿", "サラ"},     {"山", "ヤマ"},       {"勺", "シャク"},
    {"尺", "シャク"},   {"重ね", "カサネ"}, {"振り", "フリ"},     {"針", "ハリ"},     {"切れ", "キレ"},     {"束", "タバ"},
    {"続き", "ツヅキ"}, {"揃", "ソロイ"},   {"袋", "フクロ"},     {"柱", "ハシラ"},   {"張り", "ハリ"},     {"通り", "トオリ"},
    {"掴み", "ツカミ"}, {"坪", "ツボ"},     {"箱", "ハコ"},       {"鉢", "ハチ"},     {"晩", "バン"},       {"品", "シナ"},
    {"瓶", "ビン"},     {"分け", "ワケ"},   {"幕", "マク"},       {"夜", "ヤ"},       {"夜", "ヨ"},         {"粒", "ツブ"},
    {"枠", "ワク"},     {"棹", "サオ"},     {"つ折", "ツオリ"},   {"つ折り", "ツオリ"}, {"つぶ", "ツブ"},     {"とき", "トキ"},
    {"重ね", "ガサネ"},
};

static const char *const day_words[10][3] = {
    /* numeral 一..十 + 日: read/pron, acc/mora */
    {"イチニチ", "イチニチ", "4/4"}, {"フツカ", "フツカ", "0/3"}, {"ミッカ", "ミッカ", "0/3"}, {"ヨッカ", "ヨッカ", "0/3"},
    {"イツカ", "イツカ", "0/3"},     {"ムイカ", "ムイカ", "0/3"}, {"ナノカ", "ナノカ", "0/3"}, {"ヨウカ", "ヨーカ", "0/3"},
    {"ココノカ", "ココノカ", "0/4"}, {"トウカ", "トーカ", "0/3"},
};
static const char *const day_span_words[10][4] = {
    /* numeral 一..十 + 日間: orig, read, pron, acc/mora */
    {"一日間", "イチニチカン", "イチニチカン", "4/6"}, {"二日", "フツカカン", "フツカカン", "3/5"},
    {"三日", "ミッカカン", "ミッカカン", "3/5"},       {"四日", "ヨッカカン", "ヨッカカン", "3/5"},
    {"五日", "イツカカン", "イツカカン", "3/5"},       {"六日", "ムイカカン", "ムイカカン", "3/5"},
    {"七日", "ナノカカン", "ナノカカン", "3/5"},       {"八日", "ヨウカカン", "ヨーカカン", "3/5"},
    {"九日", "ココノカカン", "ココノカカン", "4/6"},   {"十日", "トウカカン", "トーカカン", "3/5"},
};
static const char *const kanji_digits[10] = {"一", "二", "三", "四", "五", "六", "七", "八", "九", "十"};

static int kanji_index(const char *s) {
    for (int i = 0; i < 10; i++)
        if (!strcmp(s, kanji_digits[i])) return i;
    return -1;
}

void bv_ja_set_digit(bv_ja_njd *njd) {
    int find = 0;
    bv_ja_node *s = NULL, *e = NULL;
    for (bv_ja_node *n = njd->head; n; n = n->next) {
        if (!find && eq(n->pos1, "数")) find = 1;
        if (get_digit(n, 1) >= 0 ||
            (eq(n->pos1, "数") && (is_period(bv_ja_str(n->string)) || is_comma(bv_ja_str(n->string))))) {
            if (!s) s = n;
            if (n == njd->tail) e = n;
        } else if (s) {
            e = n->prev;
        }
        if (s && e) {
            convert_sequence(njd, s, e);
            s = e = NULL;
        }
    }
    if (!find) return;
    bv_ja_njd_remove_silent(njd);
    if (!njd->head) return;

    /* a decimal point between numerals reads テン */
    for (bv_ja_node *n = njd->head->next; n && n->next;) {
        if (!eq(n->string, "*") && !eq(n->prev->string, "*") && is_period(bv_ja_str(n->string)) &&
            eq(n->prev->pos1, "数") && eq(n->next->pos1, "数")) {
            bv_ja_node_load(n, "．,名詞,接尾,助数詞,*,*,*,．,テン,テン,0/2,*,-1");
            n->chain_flag = 1;
            bv_ja_node *p = n->prev;
            if (eq(p->string, "〇") || eq(p->string, "０")) bv_ja_set(&p->pron, "レー"), p->mora_size = 2;
            else if (eq(p->string, "二")) bv_ja_set(&p->pron, "ニー"), p->mora_size = 2;
            else if (eq(p->string, "五")) bv_ja_set(&p->pron, "ゴー"), p->mora_size = 2;
            else if (eq(p->string, "六")) p->acc = 1;
            n = n->next;
            while (n && eq(n->pos, "名詞")) n = n->next;
            if (n) n = n->next;
        } else {
            n = n->next;
        }
    }

    /* numeral + counter */
    for (bv_ja_node *n = njd->head->next; n; n = n->next) {
        if (!eq(n->prev->pos1, "数") || !(eq(n->pos2, "助数詞") || eq(n->pos1, "副詞可能"))) continue;
        if (in_class(class_b, n)) convert_pron(conv_b, n->prev);
        else if (in_class(class_c1, n)) convert_pron(conv_c1, n->prev);
        else if (in_class(class_c2, n)) convert_pron(conv_c2, n->prev);
        else if (in_class(class_d, n)) convert_pron(conv_d, n->prev);
        else if (in_class(class_e, n)) convert_pron(conv_e, n->prev);
        else if (in_class(class_g, n)) convert_pron(conv_g, n->prev);
        else if (in_class(class_h, n)) convert_pron(conv_h, n->prev);
        else if (in_class(class_i, n)) convert_pron(conv_i, n->prev);
        else if (in_class(class_j, n)) convert_pron(conv_j, n->prev);
        else if (in_class(class_k, n)) convert_pron(conv_k, n->prev);
        if (in_class(class2_b, n)) convert_voicing(voice_b, n->prev, n);
        else if (in_class(class2_c, n)) convert_voicing(voice_c, n->prev, n);
        else if (in_class(class2_e, n)) convert_voicing(voice_e, n->prev, n);
        else if (in_class(class2_f, n)) convert_voicing(voice_f, n->prev, n);
        n->prev->chain_flag = 0;
        n->chain_flag = 1;
    }

    /* numeral + numeral */
    static const char *const units = "一 二 三 四 五 六 七 八 九 何 幾 数";
    static const char *const places = "十 百 千 万 億 兆 京 垓 𥝱 穣 溝 澗 正 載 極 恒河沙 阿僧祇 那由他 不可思議 無量大数";
    static const reading before_hundred[] = {{"六", "ロッ", 0, 2}, {"八", "ハッ", 0, 2}, END};
    static const reading before_thousand[] = {{"一", "イッ", 0, 2}, {"八", "ハッ", 0, 2}, {"十", "ジュッ", 1, 2}, END};
    for (bv_ja_node *n = njd->head->next; n; n = n->next) {
        bv_ja_node *p = n->prev;
        if (!eq(p->pos1, "数")) continue;
        if (eq(n->pos1, "数")) {
            if (in_list(units, bv_ja_str(p->string))) {
                if (in_list(places, bv_ja_str(n->string))) {
                    p->chain_flag = 0;
                    n->chain_flag = 1;
                }
            } else if (in_list(places, bv_ja_str(p->string))) {
                if (in_list(units, bv_ja_str(n->string))) n->chain_flag = 0;
            }
        }
        if (in_class("百", n)) convert_pron(before_hundred, p);
        if (in_class("千 兆", n)) convert_pron(before_thousand, p);
        if (in_class("百 千", n)) convert_voicing(voice_hundred, p, n);
    }

    /* native readings: 一人 ヒトリ, 二日 フツカ, 一棟 ヒトムネ, ... */
    for (bv_ja_node *n = njd->head; n; n = n->next) {
        bv_ja_node *nx = n->next;
        if (!nx || eq(nx->string, "*") || !eq(n->pos1, "数")) continue;
        if (!(!n->prev || eq(n->prev->pos, "記号") || !eq(n->prev->pos1, "数"))) continue;
        if (!(eq(nx->pos2, "助数詞") || eq(nx->pos1, "副詞可能"))) continue;
        for (size_t i = 0; i < sizeof class3 / sizeof class3[0]; i++) {
            if (eq(nx->string, class3[i][0]) && eq(nx->read, class3[i][1])) {
                if (eq(n->string, "一")) {
                    bv_ja_set(&n->read, "ヒト"), bv_ja_set(&n->pron, "ヒト"), n->acc = 0, n->mora_size = 2;
                } else if (eq(n->string, "二")) {
                    bv_ja_set(&n->read, "フタ"), bv_ja_set(&n->pron, "フタ"), n->acc = 0, n->mora_size = 2;
                }
                break;
            }
        }
        if (eq(nx->string, "人")) {
            if (eq(n->string, "一")) {
                load_word(n, "一人", "一人", "ヒトリ", "ヒトリ", "2/3", NULL);
                bv_ja_set(&nx->pron, NULL);
            } else if (eq(n->string, "二")) {
                load_word(n, "二人", "二人", "フタリ", "フタリ", "3/3", NULL);
                bv_ja_set(&nx->pron, NULL);
            }
        }
        int k = kanji_index(bv_ja_str(n->string));
        if (eq(nx->string, "日") && !eq(n->string, "*")) {
            if (n->prev && strstr(bv_ja_str(n->prev->string), "月") && eq(n->string, "一")) {
                load_word(n, "一日", "一日", "ツイタチ", "ツイタチ", "4/4", NULL);
                bv_ja_set(&nx->pron, NULL);
            } else if (k >= 0) {
                char str[32];
                snprintf(str, sizeof str, "%s日", kanji_digits[k]);
                load_word(n, str, str, day_words[k][0], day_words[k][1], day_words[k][2], NULL);
                bv_ja_set(&nx->pron, NULL);
            }
        } else if (eq(nx->string, "日間") && k >= 0) {
            char str[32];
            snprintf(str, sizeof str, "%s日間", kanji_digits[k]);
            load_word(n, str, day_span_words[k][0], day_span_words[k][1], day_span_words[k][2], day_span_words[k][3], NULL);
            bv_ja_set(&nx->pron, NULL);
        }
    }

    /* 十四日 ジューヨッカ, 二十日 ハツカ, 二十四日 ニジュー ヨッカ */
    for (bv_ja_node *n = njd->head; n; n = n->next) {
        if (!(!n->prev || !eq(n->prev->pos1, "数")) || !n->next || !n->next->next) continue;
        bv_ja_node *a = n->next, *b = a->next;
        if (eq(n->string, "十") && eq(a->string, "四")) {
            if (eq(b->string, "日")) {
                load_word(n, "十四日", "十四日", "ジュウヨッカ", "ジューヨッカ", "1/5", NULL);
                bv_ja_set(&a->pron, NULL), bv_ja_set(&b->pron, NULL);
            } else if (eq(b->string, "日間")) {
                load_word(n, "十四日間", "十四日間", "ジュウヨッカカン", "ジューヨッカカン", "5/7", NULL);
                bv_ja_set(&a->pron, NULL), bv_ja_set(&b->pron, NULL);
            }
        } else if (eq(n->string, "二") && eq(a->string, "十")) {
            if (eq(b->string, "日")) {
                load_word(n, "二十日", "二十日", "ハツカ", "ハツカ", "0/3", NULL);
                bv_ja_set(&a->pron, NULL), bv_ja_set(&b->pron, NULL);
            } else if (eq(b->string, "日間")) {
                load_word(n, "二十日間", "二十日間", "ハツカカン", "ハツカカン", "3/5", NULL);
                bv_ja_set(&a->pron, NULL), bv_ja_set(&b->pron, NULL);
            } else if (eq(b->string, "四") && b->next) {
                if (eq(b->next->string, "日")) {
                    load_word(n, "二十", "二十", "ニジュウ", "ニジュー", "1/3", NULL);
                    load_word(a, "四日", "四日", "ヨッカ", "ヨッカ", "0/3", "0");
                    bv_ja_set(&b->pron, NULL), bv_ja_set(&b->next->pron, NULL);
                } else if (eq(b->next->string, "日間")) {
                    load_word(n, "二十", "二十", "ニジュウ", "ニジュー", "1/3", NULL);
                    load_word(a, "四日間", "四日間", "ヨッカカン", "ヨッカカン", "3/5", "0");
                    bv_ja_set(&b->pron, NULL), bv_ja_set(&b->next->pron, NULL);
                }
            }
        }
    }
    bv_ja_njd_remove_silent(njd);
}
