/* test_japanese.c - the Japanese front-end (src/text/japanese.c, ja_*.c).
 *
 *  - japanese_golden_text_ja: every case of ../shared/golden/text_ja/cases.jsonl (upstream v2.3 japanese.py
 *    with pyopenjtalk-prebuilt 0.3.0 over Debian's naist-jdic): norm_text, phones, tones and word2ph,
 *    all strictly equal (466 of 466); skipped when the file is absent.
 *  - one test per OpenJTalk rule family, against pyopenjtalk 0.3.0's run_frontend / make_label on
 *    the same text (nodes: string/pron/acc/mora/chain_flag, pron without the ’ of unvoiced vowels;
 *    labels: phoneme:A1:A2 or pau): njd_set_pronunciation (kana fillers, symbols, ？, verb + ウ),
 *    njd_set_digit (digit sequences, commas, decimal points, counters, native readings, dates),
 *    njd_set_accent_phrase + njd_set_accent_type (chain rules), and the labels' A1/A2.
 *  - text_normalize (numbers, currency, punctuation) against upstream's outputs.
 *  - g2p errors for what upstream cannot handle; `bv2 g2p --language JP` on stdin with a bad line.
 *
 * The dictionary is Debian's open-jtalk-mecab-naist-jdic (scripts/install-deps.sh installs it): tests
 * that need it FAIL with the loader's message when it is missing. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../src/app/preprocess.h"
#include "../src/text/symbols.h"
#include "../src/infer/infer.h"
#include "../src/io/wav.h"
#include "../src/text/ja_label.h"
#include "../src/text/japanese.h"
#include "test.h"

/* ---- helpers ---- */

static bv_ja_frontend *g_ja;
static char g_ja_err[512];
static int g_ja_tried;

__attribute__((destructor)) static void free_frontend(void) { bv_ja_free(g_ja); }

static bv_ja_frontend *frontend(bv_test_state *ts) {
    if (!g_ja_tried) {
        g_ja_tried = 1;
        g_ja = bv_ja_open(NULL, g_ja_err, sizeof g_ja_err);
    }
    BV_CHECK(g_ja != NULL, "%s", g_ja_err);
    return g_ja;
}

typedef struct {
    char *p;
    size_t n, cap;
} buf;

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)need + 1 > b->cap) {
        b->cap = 2 * (b->n + (size_t)need + 1);
        b->p = realloc(b->p, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
}

/* "string/pron/acc/mora/flag ..." and "ph:A1:A2 ... pau ..." of run_frontend(text) */
static void frontend_signature(bv_test_state *ts, const char *text, buf *nodes, buf *labels) {
    bv_ja_frontend *ja = frontend(ts);
    if (!ja) return;
    bv_ja_njd njd = {0};
    char err[512];
    int rc = bv_ja_run_frontend(ja, text, &njd, err, sizeof err);
    BV_CHECK(rc == 0, "%s: %s", text, err);
    for (const bv_ja_node *n = njd.head; n; n = n->next) {
        char pron[1024], *o = pron;
        for (const char *p = bv_ja_str(n->pron); *p && o < pron + sizeof pron - 4;) {
            if (!strncmp(p, "’", 3)) p += 3;
            else *o++ = *p++;
        }
        *o = 0;
        bprintf(nodes, "%s%s/%s/%d/%d/%d", n == njd.head ? "" : " ", bv_ja_str(n->string), pron, n->acc, n->mora_size,
                n->chain_flag);
    }
    bv_ja_accent *acc;
    int n_acc;
    bv_ja_accents(&njd, &acc, &n_acc);
    for (int i = 0; i < n_acc; i++)
        bprintf(labels, "%s%s:%d:%d%s", i ? " " : "", acc[i].phone, acc[i].a1, acc[i].a2, acc[i].pause_after ? " pau" : "");
    free(acc);
    bv_ja_njd_free(&njd);
}

typedef struct {
    const char *text, *nodes, *labels;
} frontend_case;

static void check_frontend_cases(bv_test_state *ts, const frontend_case *cases, int n) {
    for (int i = 0; i < n; i++) {
        buf nodes = {0}, labels = {0};
        bprintf(&nodes, "%s", "");
        bprintf(&labels, "%s", "");
        frontend_signature(ts, cases[i].text, &nodes, &labels);
        BV_CHECK(!strcmp(nodes.p, cases[i].nodes), "%s nodes\n    got  %s\n    want %s", cases[i].text, nodes.p,
                 cases[i].nodes);
        BV_CHECK(!strcmp(labels.p, cases[i].labels), "%s labels\n    got  %s\n    want %s", cases[i].text, labels.p,
                 cases[i].labels);
        free(nodes.p), free(labels.p);
    }
}

/* ---- OpenJTalk rule families: expected values from pyopenjtalk 0.3.0 (Debian naist-jdic 1.11) ---- */

static const frontend_case pronunciation_cases[] = {
    {"ぬるぽとがっ",
     "ぬる/ヌル/2/2/-1 ぽと/ポト/2/2/0 がっ/ガッ/1/2/1",
     "n:-1:1 u:-1:1 r:0:2 u:0:2 p:-1:1 o:-1:1 t:0:2 o:0:2 g:1:3 a:1:3 q:2:4"},
    {"ＡＢＣです",
     "ＡＢＣ/エイビーシー/5/6/-1 です/デス/1/2/1",
     "e:-4:1 i:-3:2 b:-2:3 i:-2:3 i:-1:4 sh:0:5 i:0:5 i:1:6 d:2:7 e:2:7 s:3:8 u:3:8"},
    {"それは何ですか？",
     "それ/ソレ/0/2/-1 は/ワ/0/1/1 何/ナニ/1/2/0 です/デス/1/2/1 か/カ/0/1/1 ？/？/0/0/0",
     "s:-2:1 o:-2:1 r:-1:2 e:-1:2 w:0:3 a:0:3 n:0:1 a:0:1 n:1:2 i:1:2 d:2:3 e:2:3 s:3:4 u:3:4 k:4:5 a:4:5"},
    {"行こう",
     "行こ/イコ/0/2/-1 う/ー/0/1/1",
     "i:-2:1 k:-1:2 o:-1:2 o:0:3"},
    {"えっ、本当ですか？",
     "えっ/エッ/1/2/-1 、/、/0/0/0 本当/ホントー/5/4/0 です/デス/1/2/1 か/カ/0/1/1 ？/？/0/0/0",
     "e:0:1 q:1:2 pau h:-4:1 o:-4:1 n:-3:2 t:-2:3 o:-2:3 o:-1:4 d:0:5 e:0:5 s:1:6 u:1:6 k:2:7 a:2:7"},
};
static const frontend_case digit_cases[] = {
    {"２５００円",
     "二/ニ/2/1/0 千/セン/1/2/1 五/ゴ/3/1/0 百/ヒャク/2/2/1 円/エン/1/2/1",
     "n:-1:1 i:-1:1 s:0:2 e:0:2 n:1:3 g:-2:1 o:-2:1 hy:-1:2 a:-1:2 k:0:3 u:0:3 e:1:4 n:2:5"},
    {"１，２３４，５６７人",
     "百/ヒャク/2/2/-1 二/ニ/1/1/0 十/ジュー/1/2/1 三/サン/3/2/0 万/マン/1/2/1 四/ヨン/3/2/0 千/セン/1/2/1 五/ゴ/3/1/0 百/ヒャク/2/2/1 六/ロク/0/2/0 十/ジュー/1/2/1 七/シチ/2/2/0 人/ニン/1/2/1",
     "hy:-1:1 a:-1:1 k:0:2 u:0:2 n:0:1 i:0:1 j:1:2 u:1:2 u:2:3 s:-2:1 a:-2:1 n:-1:2 m:0:3 a:0:3 n:1:4 y:-2:1 o:-2:1 n:-1:2 s:0:3 e:0:3 n:1:4 g:-2:1 o:-2:1 hy:-1:2 a:-1:2 k:0:3 u:0:3 r:-3:1 o:-3:1 k:-2:2 u:-2:2 j:-1:3 u:-1:3 u:0:4 sh:-1:1 i:-1:1 ch:0:2 i:0:2 n:1:3 i:1:3 n:2:4"},
    {"０９０１２３４５６７８",
     "０/ゼロ/3/2/0 九/キュー/1/2/1 ０/ゼロ/3/2/0 一/イチ/2/2/1 二/ニー/3/2/0 三/サン/0/2/1 四/ヨン/3/2/0 五/ゴー/1/2/1 六/ロク/3/2/0 七/ナナ/1/2/1 八/ハチ/2/2/0",
     "z:-2:1 e:-2:1 r:-1:2 o:-1:2 ky:0:3 u:0:3 u:1:4 z:-2:1 e:-2:1 r:-1:2 o:-1:2 i:0:3 ch:1:4 i:1:4 n:-2:1 i:-2:1 i:-1:2 s:0:3 a:0:3 n:1:4 y:-2:1 o:-2:1 n:-1:2 g:0:3 o:0:3 o:1:4 r:-2:1 o:-2:1 k:-1:2 u:-1:2 n:0:3 a:0:3 n:1:4 a:1:4 h:-1:1 a:-1:1 ch:0:2 i:0:2"},
    {"３．１４",
     "三/サン/0/2/0 ．/テン/0/2/1 一/イチ/3/2/0 四/ヨン/1/2/1",
     "s:-3:1 a:-3:1 n:-2:2 t:-1:3 e:-1:3 n:0:4 i:-2:1 ch:-1:2 i:-1:2 y:0:3 o:0:3 n:1:4"},
    {"三本と六百と八千",
     "三/サン/2/2/0 本/ボン/1/2/1 と/ト/0/1/1 六/ロッ/4/2/0 百/ピャク/2/2/1 と/ト/0/1/1 八/ハッ/3/2/0 千/セン/1/2/1",
     "s:-1:1 a:-1:1 n:0:2 b:1:3 o:1:3 n:2:4 t:3:5 o:3:5 r:-3:1 o:-3:1 q:-2:2 py:-1:3 a:-1:3 k:0:4 u:0:4 t:1:5 o:1:5 h:-2:1 a:-2:1 q:-1:2 s:0:3 e:0:3 n:1:4"},
    {"一人と二人",
     "一人/ヒトリ/2/3/0 と/ト/0/1/1 二人/フタリ/3/3/0",
     "h:-1:1 i:-1:1 t:0:2 o:0:2 r:1:3 i:1:3 t:2:4 o:2:4 f:-2:1 u:-2:1 t:-1:2 a:-1:2 r:0:3 i:0:3"},
    {"四月一日と二日",
     "四月/シガツ/3/3/-1 一日/ツイタチ/4/4/0 と/ト/0/1/1 二日/フツカ/0/3/0",
     "sh:-2:1 i:-2:1 g:-1:2 a:-1:2 ts:0:3 u:0:3 ts:-3:1 u:-3:1 i:-2:2 t:-1:3 a:-1:3 ch:0:4 i:0:4 t:1:5 o:1:5 f:-2:1 u:-2:1 ts:-1:2 u:-1:2 k:0:3 a:0:3"},
    {"十四日と二十日と二十四日",
     "十四日/ジューヨッカ/1/5/-1 と/ト/0/1/1 二十日/ハツカ/0/3/0 と/ト/0/1/1 二十/ニジュー/1/3/0 四日/ヨッカ/0/3/0",
     "j:0:1 u:0:1 u:1:2 y:2:3 o:2:3 q:3:4 k:4:5 a:4:5 t:5:6 o:5:6 h:-3:1 a:-3:1 ts:-2:2 u:-2:2 k:-1:3 a:-1:3 t:0:4 o:0:4 n:0:1 i:0:1 j:1:2 u:1:2 u:2:3 y:-2:1 o:-2:1 q:-1:2 k:0:3 a:0:3"},
    {"三日間",
     "三日間/ミッカカン/3/5/0",
     "m:-2:1 i:-2:1 q:-1:2 k:0:3 a:0:3 k:1:4 a:1:4 n:2:5"},
    {"七時と九時",
     "七/シチ/2/2/0 時/ジ/1/1/1 と/ト/0/1/1 九/ク/1/1/0 時/ジ/1/1/1",
     "sh:-1:1 i:-1:1 ch:0:2 i:0:2 j:1:3 i:1:3 t:2:4 o:2:4 k:0:1 u:0:1 j:1:2 i:1:2"},
    {"一杯と三杯",
     "一/イッ/2/2/0 杯/パイ/1/2/1 と/ト/0/1/1 三/サン/2/2/0 杯/バイ/1/2/1",
     "i:-1:1 q:0:2 p:1:3 a:1:3 i:2:4 t:3:5 o:3:5 s:-1:1 a:-1:1 n:0:2 b:1:3 a:1:3 i:2:4"},
    {"一億と六兆",
     "一/イチ/2/2/0 億/オク/1/2/1 と/ト/0/1/1 六/ロク/2/2/0 兆/チョー/1/2/1",
     "i:-1:1 ch:0:2 i:0:2 o:1:3 k:2:4 u:2:4 t:3:5 o:3:5 r:-1:1 o:-1:1 k:0:2 u:0:2 ch:1:3 o:1:3 o:2:4"},
    {"三十と五十一",
     "三/サン/1/2/0 十/ジュー/1/2/1 と/ト/0/1/1 五/ゴ/0/1/0 十/ジュー/1/2/1 一/イチ/2/2/0",
     "s:0:1 a:0:1 n:1:2 j:2:3 u:2:3 u:3:4 t:4:5 o:4:5 g:-2:1 o:-2:1 j:-1:2 u:-1:2 u:0:3 i:-1:1 ch:0:2 i:0:2"},
};
static const frontend_case accent_cases[] = {
    {"今日はいい天気ですね．",
     "今日/キョー/1/2/-1 は/ワ/0/1/1 いい/イイ/1/2/0 天気/テンキ/1/3/0 です/デス/1/2/1 ね/ネ/1/1/1 ．/、/0/0/0",
     "ky:0:1 o:0:1 o:1:2 w:2:3 a:2:3 i:0:1 i:1:2 t:0:1 e:0:1 n:1:2 k:2:3 i:2:3 d:3:4 e:3:4 s:4:5 u:4:5 n:5:6 e:5:6"},
    {"美しい花が咲いている",
     "美しい/ウツクシイ/4/5/-1 花/ハナ/2/2/0 が/ガ/0/1/1 咲い/サイ/0/2/0 て/テ/0/1/1 いる/イル/0/2/0",
     "u:-3:1 ts:-2:2 u:-2:2 k:-1:3 u:-1:3 sh:0:4 i:0:4 i:1:5 h:-1:1 a:-1:1 n:0:2 a:0:2 g:1:3 a:1:3 s:-2:1 a:-2:1 i:-1:2 t:0:3 e:0:3 i:-1:1 r:0:2 u:0:2"},
    {"食べてみる",
     "食べ/タベ/2/2/-1 て/テ/0/1/1 みる/ミル/1/2/0",
     "t:-1:1 a:-1:1 b:0:2 e:0:2 t:1:3 e:1:3 m:0:1 i:0:1 r:1:2 u:1:2"},
    {"田中太郎さん",
     "田中/タナカ/0/3/-1 太郎/タロー/1/3/0 さん/サン/0/2/1",
     "t:-2:1 a:-2:1 n:-1:2 a:-1:2 k:0:3 a:0:3 t:0:1 a:0:1 r:1:2 o:1:2 o:2:3 s:3:4 a:3:4 n:4:5"},
    {"お茶を飲む",
     "お茶/オチャ/0/2/-1 を/ヲ/0/1/1 飲む/ノム/1/2/0",
     "o:-2:1 ch:-1:2 a:-1:2 o:0:3 n:0:1 o:0:1 m:1:2 u:1:2"},
    {"ゆっくり歩く",
     "ゆっくり/ユックリ/3/4/-1 歩く/アルク/2/3/0",
     "y:-2:1 u:-2:1 q:-1:2 k:0:3 u:0:3 r:1:4 i:1:4 a:-1:1 r:0:2 u:0:2 k:1:3 u:1:3"},
    {"東京都に住んでいます",
     "東京/トーキョー/4/4/-1 都/ト/1/1/1 に/ニ/0/1/1 住ん/スン/1/2/0 で/デ/1/1/1 い/イ/2/1/0 ます/マス/1/2/1",
     "t:-3:1 o:-3:1 o:-2:2 ky:-1:3 o:-1:3 o:0:4 t:1:5 o:1:5 n:2:6 i:2:6 s:0:1 u:0:1 n:1:2 d:2:3 e:2:3 i:-1:1 m:0:2 a:0:2 s:1:3 u:1:3"},
    {"コーヒーを一杯ください．",
     "コーヒー/コーヒー/3/4/-1 を/ヲ/0/1/1 一/イッ/2/2/0 杯/パイ/1/2/1 ください/クダサイ/3/4/0 ．/、/0/0/0",
     "k:-2:1 o:-2:1 o:-1:2 h:0:3 i:0:3 i:1:4 o:2:5 i:-1:1 q:0:2 p:1:3 a:1:3 i:2:4 k:-2:1 u:-2:1 d:-1:2 a:-1:2 s:0:3 a:0:3 i:1:4"},
    {"ラーメンとギョーザを注文した．",
     "ラーメン/ラーメン/1/4/-1 と/ト/0/1/1 ギョーザ/ギョーザ/0/3/0 を/ヲ/0/1/1 注文/チューモン/0/4/0 し/シ/2/1/0 た/タ/0/1/1 ．/、/0/0/0",
     "r:0:1 a:0:1 a:1:2 m:2:3 e:2:3 n:3:4 t:4:5 o:4:5 gy:-3:1 o:-3:1 o:-2:2 z:-1:3 a:-1:3 o:0:4 ch:-3:1 u:-3:1 u:-2:2 m:-1:3 o:-1:3 n:0:4 sh:-1:1 i:-1:1 t:0:2 a:0:2"},
    {"新しいウィンドウで再起動しなくなります．",
     "新しい/アタラシイ/4/5/-1 ウィンドウ/ウィンドー/1/4/0 で/デ/1/1/1 再/サイ/3/2/0 起動/キドー/0/3/1 し/シ/0/1/0 なく/ナク/1/2/1 なり/ナリ/3/2/0 ます/マス/1/2/1 ．/、/0/0/0",
     "a:-3:1 t:-2:2 a:-2:2 r:-1:3 a:-1:3 sh:0:4 i:0:4 i:1:5 w:0:1 i:0:1 n:1:2 d:2:3 o:2:3 o:3:4 d:4:5 e:4:5 s:-2:1 a:-2:1 i:-1:2 k:0:3 i:0:3 d:1:4 o:1:4 o:2:5 sh:-2:1 i:-2:1 n:-1:2 a:-1:2 k:0:3 u:0:3 n:-2:1 a:-2:1 r:-1:2 i:-1:2 m:0:3 a:0:3 s:1:4 u:1:4"},
    {"既にインストール済みのバージョン",
     "既に/スデニ/1/3/-1 インストール/インストール/0/6/0 済み/ズミ/2/2/1 の/ノ/0/1/1 バージョン/バージョン/1/4/0",
     "s:0:1 u:0:1 d:1:2 e:1:2 n:2:3 i:2:3 i:-8:1 n:-7:2 s:-6:3 u:-6:3 t:-5:4 o:-5:4 o:-4:5 r:-3:6 u:-3:6 z:-2:7 u:-2:7 m:-1:8 i:-1:8 n:0:9 o:0:9 b:0:1 a:0:1 a:1:2 j:2:3 o:2:3 n:3:4"},
    {"ファイルを使わないように設定できます．",
     "ファイル/ファイル/1/3/-1 を/ヲ/0/1/1 使わ/ツカワ/0/3/0 ない/ナイ/1/2/1 よう/ヨー/1/2/0 に/ニ/0/1/1 設定/セッテー/0/4/0 でき/デキ/3/2/0 ます/マス/1/2/1 ．/、/0/0/0",
     "f:0:1 a:0:1 i:1:2 r:2:3 u:2:3 o:3:4 ts:-4:1 u:-4:1 k:-3:2 a:-3:2 w:-2:3 a:-2:3 n:-1:4 a:-1:4 i:0:5 y:0:1 o:0:1 o:1:2 n:2:3 i:2:3 s:-3:1 e:-3:1 q:-2:2 t:-1:3 e:-1:3 e:0:4 d:-2:1 e:-2:1 k:-1:2 i:-1:2 m:0:3 a:0:3 s:1:4 u:1:4"},
    {"お勧めします．",
     "お/オ/6/1/-1 勧め/ススメ/0/3/1 し/シ/0/1/1 ます/マス/1/2/1 ．/、/0/0/0",
     "o:-5:1 s:-4:2 u:-4:2 s:-3:3 u:-3:3 m:-2:4 e:-2:4 sh:-1:5 i:-1:5 m:0:6 a:0:6 s:1:7 u:1:7"},
    {"読みたくない",
     "読み/ヨミ/4/2/-1 たく/タク/1/2/1 ない/ナイ/1/2/1",
     "y:-3:1 o:-3:1 m:-2:2 i:-2:2 t:-1:3 a:-1:3 k:0:4 u:0:4 n:1:5 a:1:5 i:2:6"},
    {"静かな部屋で高くて美しい花を見た．",
     "静か/シズカ/1/3/-1 な/ナ/1/1/1 部屋/ヘヤ/2/2/0 で/デ/1/1/1 高く/タカク/2/3/0 て/テ/0/1/1 美しい/ウツクシイ/4/5/0 花/ハナ/2/2/0 を/ヲ/0/1/1 見/ミ/1/1/0 た/タ/0/1/1 ．/、/0/0/0",
     "sh:0:1 i:0:1 z:1:2 u:1:2 k:2:3 a:2:3 n:3:4 a:3:4 h:-1:1 e:-1:1 y:0:2 a:0:2 d:1:3 e:1:3 t:-1:1 a:-1:1 k:0:2 a:0:2 k:1:3 u:1:3 t:2:4 e:2:4 u:-3:1 ts:-2:2 u:-2:2 k:-1:3 u:-1:3 sh:0:4 i:0:4 i:1:5 h:-1:1 a:-1:1 n:0:2 a:0:2 o:1:3 m:0:1 i:0:1 t:1:2 a:1:2"},
    {"山田さんと田中くん",
     "山田/ヤマダ/0/3/-1 さん/サン/0/2/1 と/ト/0/1/1 田中/タナカ/0/3/0 くん/クン/1/2/1",
     "y:-5:1 a:-5:1 m:-4:2 a:-4:2 d:-3:3 a:-3:3 s:-2:4 a:-2:4 n:-1:5 t:0:6 o:0:6 t:-4:1 a:-4:1 n:-3:2 a:-3:2 k:-2:3 a:-2:3 k:-1:4 u:-1:4 n:0:5"},
};

BV_TEST(japanese_njd_pronunciation) {
    check_frontend_cases(ts, pronunciation_cases, (int)(sizeof pronunciation_cases / sizeof pronunciation_cases[0]));
}
BV_TEST(japanese_njd_digit) {
    check_frontend_cases(ts, digit_cases, (int)(sizeof digit_cases / sizeof digit_cases[0]));
}
BV_TEST(japanese_njd_accent_phrase_and_type) {
    check_frontend_cases(ts, accent_cases, (int)(sizeof accent_cases / sizeof accent_cases[0]));
}

/* the labels: A1/A2 across a pause, long vowels, ッ and ン, and upstream's marks from them */
BV_TEST(japanese_label_accents) {
    bv_ja_njd njd = {0};
    /* 東京 (0/4) は (chained) , pause, コーヒー (3/4): */
    bv_ja_njd_push_feature(&njd, "東京,名詞,固有名詞,地域,一般,*,*,東京,トウキョウ,トーキョー,0/4,C2,-1");
    bv_ja_njd_push_feature(&njd, "は,助詞,係助詞,*,*,*,*,は,ハ,ワ,0/1,*,1");
    bv_ja_njd_push_feature(&njd, "、,記号,読点,*,*,*,*,、,、,、,*/*,*,0");
    bv_ja_njd_push_feature(&njd, "コーヒー,名詞,一般,*,*,*,*,コーヒー,コーヒー,コーヒー,3/4,C1,0");
    bv_ja_njd_push_feature(&njd, "ッ,名詞,一般,*,*,*,*,ッ,ッ,ッ,0/1,*,0");
    bv_ja_accent *a;
    int n;
    bv_ja_set_pronunciation(&njd);
    bv_ja_accents(&njd, &a, &n);
    /* t o o ky o o w a | k o o h i i | q */
    static const char *const ph[] = {"t", "o", "o", "ky", "o", "o", "w", "a", "k", "o", "o", "h", "i", "i", "q"};
    static const int a1[] = {-4, -4, -3, -2, -2, -1, 0, 0, -2, -2, -1, 0, 0, 1, 0};
    static const int a2[] = {1, 1, 2, 3, 3, 4, 5, 5, 1, 1, 2, 3, 3, 4, 1};
    static const int mark[] = {0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, -1, 0, 0};
    BV_CHECK(n == 15, "%d phonemes", n);
    for (int i = 0; i < n && i < 15; i++) {
        BV_CHECK(!strcmp(a[i].phone, ph[i]), "phoneme %d: %s, want %s", i, a[i].phone, ph[i]);
        BV_CHECK(a[i].a1 == a1[i] && a[i].a2 == a2[i], "phoneme %d: A1 %d A2 %d, want %d %d", i, a[i].a1, a[i].a2,
                 a1[i], a2[i]);
        BV_CHECK(a[i].accent == mark[i], "phoneme %d (%s): mark %d, want %d", i, ph[i], a[i].accent, mark[i]);
    }
    BV_CHECK(n >= 8 && a[7].pause_after == 1, "a pause after は");
    free(a);
    bv_ja_njd_free(&njd);
}

/* ---- text_normalize (expected: upstream japanese.text_normalize) ---- */

BV_TEST(japanese_normalize) {
    static const char *const cases[][2] = {
        {"2500円", "二千五百円"},
        {"1,234,567人", "百二十三万四千五百六十七人"},
        {"12,3456", "十二万三千四百五十六"},
        {"$12.50と¥300と€5と£7.25", "十二点五ドルと三百円と五ユーロと七点二五ポンド"},
        {"3.14と0.5と2.0と10.10", "三点一四と零点五と二と十点一"},
        {"0と7と10と11と100と101と1000と10000と11000と10000000と123456789",
         "零と七と十と十一と百と百一と千と一万と一万千と千万と一億二千三百四十五万六千七百八十九"},
        {"１２３と１，０００", "百二十三と千"},
        {"今日は、いい天気。", "今日は,いい天気."},
        {"「こんにちは」（テスト）【注】", "'こんにちは''テスト''注'"},
        {"え…本当？！", "え...本当?!"},
        {"ABCとxyz: test; ok", "と"},
        {"々と〆と〇", "々とと"},
        {"A～B~C—D−E", "----"},
        {"“引用”と‘単’", "'引用'と'単'"},
        {"・・・と···と・", "...と...と,"},
        {"ｶﾞｷﾞとﾊﾟ", "ガギとパ"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256];
        char *got = bv_ja_normalize(cases[i][0], err, sizeof err);
        BV_CHECK(got != NULL, "%s: %s", cases[i][0], err);
        if (got) BV_CHECK(!strcmp(got, cases[i][1]), "normalize \"%s\"\n    got  \"%s\"\n    want \"%s\"", cases[i][0], got, cases[i][1]);
        free(got);
    }
    char err[256];
    char *bad = bv_ja_normalize("\xff\xfe", err, sizeof err);
    BV_CHECK(bad == NULL && strstr(err, "UTF-8"), "invalid UTF-8 accepted");
    free(bad);
    bad = bv_ja_normalize("1234567890123456789012345678901234567890123456789012345", err, sizeof err);
    BV_CHECK(bad == NULL && strstr(err, "num2words"), "a 55-digit number accepted (num2words overflows)");
    free(bad);
}

/* ---- g2p pieces and errors ---- */

static void g2p_line(bv_test_state *ts, const char *text, const char *want) {
    bv_ja_frontend *ja = frontend(ts);
    if (!ja) return;
    char err[512], line[4096];
    bv_en_phones ph;
    char *norm = NULL;
    int rc = bv_ja_clean_text(ja, text, &norm, &ph, err, sizeof err);
    BV_CHECK(rc == 0, "%s: %s", text, err);
    if (rc) return;
    size_t n = bv_en_format(&ph, line, sizeof line);
    BV_CHECK(n < sizeof line, "long");
    BV_CHECK(!strcmp(line, want), "%s\n    got  %s\n    want %s", text, line, want);
    free(norm);
    bv_en_phones_free(&ph);
}

/* expected: upstream v2.3 japanese.g2p(text_normalize(text)) with pyopenjtalk 0.3.0 */
BV_TEST(japanese_g2p_kana_and_long_vowels) {
    g2p_line(ts, "ヴァイオリンを弾く。", "_ b a i o r i n o h i k u . _|0 0 0 1 1 1 1 1 0 0 0 1 1 0 0|1 2 1 1 1 1 1 1 2 2 1 1");
    g2p_line(ts, "えー、そうなの…", "_ e e , s o o n a n o . . . _|0 0 1 0 0 0 1 0 0 0 0 0 0 0 0|1 1 1 1 2 1 2 2 1 1 1 1");
    g2p_line(ts, "ーーー。", "_ . . . . _|0 0 0 0 0 0|1 1 1 1 1 1");
    g2p_line(ts, "キャンセルッ", "_ ky a n s e r u q _|0 1 1 0 0 0 0 0 0 0|1 2 2 1 1 1 1 1");
}

/* v2.3's kata2phoneme sends each word's katakana reading through pyopenjtalk.g2p again: MeCab
 * re-reads オモウ as オモー, リョウ as リョー, so the phones say "o o" while the sentence's labels say
 * "o u", and align_tones, matching phonemes in order, leaves every later tone 0. */
BV_TEST(japanese_g2p_reanalysed_readings) {
    g2p_line(ts, "と思うので。", "_ t o o m o o n o d e . _|0 0 0 0 1 1 0 0 0 0 0 0 0|1 2 2 2 2 2 1 1");
    g2p_line(ts, "動作を追う。", "_ d o o s a o o o . _|0 1 1 0 0 0 0 0 1 0 0|1 3 2 1 1 1 1 1");
    g2p_line(ts, "使用量の合計", "_ sh i y o o ry o o n o g o o k e e _|0 0 0 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0|1 3 2 3 2 3 3 1");
}

BV_TEST(japanese_g2p_errors) {
    bv_ja_frontend *ja = frontend(ts);
    if (!ja) return;
    char err[512];
    bv_en_phones ph;
    /* kanji MeCab does not know read as pause marks: upstream asserts on the phoneme '' */
    BV_CHECK(bv_ja_clean_text(ja, "鬱鬯鬲", NULL, &ph, err, sizeof err) != 0, "unknown kanji accepted");
    BV_CHECK(strstr(err, "'鬯'") != NULL && strstr(err, "not a symbol") != NULL, "message: %s", err);
    BV_CHECK(bv_ja_clean_text(ja, "ABC", NULL, &ph, err, sizeof err) != 0, "empty text accepted");
    BV_CHECK(strstr(err, "nothing left") != NULL, "message: %s", err);
    /* pyopenjtalk's 8192-byte buffer: 2731 kana are 8193 bytes */
    char *longtext = malloc(3 * 2731 + 1);
    for (int i = 0; i < 2731; i++) memcpy(longtext + 3 * i, "あ", 3);
    longtext[3 * 2731] = 0;
    BV_CHECK(bv_ja_clean_text(ja, longtext, NULL, &ph, err, sizeof err) != 0, "8193-byte text accepted");
    BV_CHECK(strstr(err, "too long") != NULL, "message: %s", err);
    longtext[3 * 2730] = 0;
    BV_CHECK(bv_ja_clean_text(ja, longtext, NULL, &ph, err, sizeof err) == 0, "8190-byte text: %s", err);
    bv_en_phones_free(&ph);
    free(longtext);
}

/* ---- the golden cases ---- */

BV_GOLDEN_TEST(japanese_golden_text_ja) {
    char path[1024];
    snprintf(path, sizeof path, "%s/text_ja/cases.jsonl", bv_test_golden_dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "  skipped/missing %s\n", path);
        return;
    }
    bv_ja_frontend *ja = frontend(ts);
    if (!ja) return fclose(f), (void)0;
    static char line[1 << 16];
    int n = 0, exact = 0, lineno = 0, bert_bad = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        cJSON *c = cJSON_Parse(line);
        BV_CHECK(c != NULL, "%s:%d: not JSON", path, lineno);
        if (!c) continue;
        n++;
        const cJSON *text = cJSON_GetObjectItem(c, "text"), *norm = cJSON_GetObjectItem(c, "norm_text");
        const cJSON *phones = cJSON_GetObjectItem(c, "phones"), *tones = cJSON_GetObjectItem(c, "tones");
        const cJSON *w2p = cJSON_GetObjectItem(c, "word2ph");
        if (!cJSON_IsString(text) || !cJSON_IsString(norm) || !cJSON_IsArray(phones) || !cJSON_IsArray(tones) ||
            !cJSON_IsArray(w2p)) {
            BV_CHECK(0, "%s:%d: missing fields", path, lineno);
            cJSON_Delete(c);
            continue;
        }
        char err[512];
        bv_en_phones ph;
        char *got_norm = NULL;
        int ok = bv_ja_clean_text(ja, text->valuestring, &got_norm, &ph, err, sizeof err) == 0;
        const char *why = ok ? NULL : err;
        if (ok) {
            int same = !strcmp(got_norm, norm->valuestring) && ph.n_phones == cJSON_GetArraySize(phones) &&
                       ph.n_phones == cJSON_GetArraySize(tones) && ph.n_word2ph == cJSON_GetArraySize(w2p);
            for (int i = 0; same && i < ph.n_phones; i++)
                same = !strcmp(ph.phones[i], cJSON_GetArrayItem(phones, i)->valuestring) &&
                       ph.tones[i] == cJSON_GetArrayItem(tones, i)->valueint;
            for (int i = 0; same && i < ph.n_word2ph; i++) same = ph.word2ph[i] == cJSON_GetArrayItem(w2p, i)->valueint;
            if (same) exact++;
            else why = "differs";
            /* japanese_bert's assert: len(word2ph) == len("".join(text2sep_kata(norm)[0])) + 2 */
            char *bt = bv_ja_bert_text(ja, norm->valuestring, err, sizeof err);
            size_t chars = 0;
            for (const char *p = bt ? bt : ""; *p; p++) chars += ((unsigned char)*p & 0xC0) != 0x80;
            if (!bt || (int)chars + 2 != ph.n_word2ph) why = "BERT text length differs from word2ph", bert_bad++;
            free(bt);
            bv_en_phones_free(&ph);
            free(got_norm);
        }
        if (why) fprintf(stderr, "  text_ja line %d (%s): %s\n", lineno, text->valuestring, why);
        cJSON_Delete(c);
    }
    fclose(f);
    BV_CHECK(n > 0, "%s: no cases", path);
    fprintf(stderr, "  text_ja: %d of %d cases exact\n", exact, n);
    BV_CHECK(exact == n, "%d of %d cases differ", n - exact, n);
    BV_CHECK(bert_bad == 0, "%d cases: the BERT text's length does not match word2ph", bert_bad);
}

/* ---- bv2 g2p --language JP on stdin: a bad line is an error (exit 3), the others still print ---- */

BV_TEST(japanese_g2p_cli) {
    char dir[] = "/tmp/bv2-test-ja-XXXXXX";
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    if (ts->failed) return;
    char in[256], out[256], errp[256], cmd[8192];
    snprintf(in, sizeof in, "%s/in.txt", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(errp, sizeof errp, "%s/err.txt", dir);
    FILE *f = fopen(in, "w");
    fputs("はい、そうです。\n鬱鬯鬲\n\nありがとう！\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' g2p --language JP --norm <'%s' >'%s' 2>'%s'", bv_test_bv2_path, in, out, errp);
    int st = system(cmd);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    BV_CHECK(code == 3, "exit status %d, want 3", code);
    char got[4096] = "", msg[4096] = "";
    f = fopen(out, "r");
    if (f) got[fread(got, 1, sizeof got - 1, f)] = 0, fclose(f);
    f = fopen(errp, "r");
    if (f) msg[fread(msg, 1, sizeof msg - 1, f)] = 0, fclose(f);
    BV_CHECK(!strcmp(got, "はい,そうです.|_ h a i , s o o d e s u . _|0 1 1 0 0 0 0 1 0 0 0 0 0 0|1 2 1 1 2 1 2 2 1 1\n"
                          "\n\nありがとう!|_ a r i g a t o o ! _|0 0 1 1 0 0 0 0 0 0 0|1 2 2 2 1 1 1 1\n"),
             "output:\n%s", got);
    BV_CHECK(strstr(msg, "line 2") != NULL, "message: %s", msg);
    unlink(in), unlink(out), unlink(errp), rmdir(dir);
}

/* ---- preprocess and infer with Japanese text ---- */

BV_TEST(japanese_preprocess_line) {
    bv_prep_utt u;
    char err[1024];
    int rc = bv_prep_clean_line(NULL, "a.wav|spk|JP|はい、そうです。", 2, "t.list", NULL, &u, err, sizeof err);
    BV_CHECK(rc == 0, "%s", err);
    if (rc) return;
    BV_CHECK(!strcmp(u.text, "はい,そうです.") && !strcmp(u.phones, "_ h a i , s o o d e s u . _") &&
                 !strcmp(u.tones, "0 1 1 0 0 0 0 1 0 0 0 0 0 0") && !strcmp(u.word2ph, "1 2 1 1 2 1 2 2 1 1") &&
                 u.n_phones == 14,
             "%s|%s|%s|%s", u.text, u.phones, u.tones, u.word2ph);
    bv_prep_utt_free(&u);
}

/* get_text for JP: JP language ids, tones shifted by JP's start (6), add_blank; then the golden
 * checkpoint's Japanese speaker says a sentence through `bv2 infer --language JP --text`. */
BV_GOLDEN_TEST(japanese_infer_golden_checkpoint) {
    char model[1200], cfg[1200], err[1024];
    snprintf(model, sizeof model, "%s/checkpoints/G_0.pth", bv_test_golden_dir);
    snprintf(cfg, sizeof cfg, "%s/checkpoints/config.json", bv_test_golden_dir);
    if (access(model, R_OK) || access(cfg, R_OK)) {
        fprintf(stderr, "  skipped/missing %s\n", model);
        return;
    }
    bv_infer_utt u;
    int rc = bv_infer_utt_from_text(&u, NULL, "はい、そうです。", "JP", 1, err, sizeof err);
    BV_CHECK(rc == 0, "%s", err);
    if (rc) return;
    /* _ h a i , s o o d e s u . _ with blanks: 29 symbols */
    static const int64_t tones[14] = {0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    BV_CHECK(u.n == 29 && u.language == BV_LANG_JP, "n %d language %d", u.n, u.language);
    for (int i = 0; i < u.n && u.n == 29; i++) {
        BV_CHECK(u.langs[i] == (i % 2 ? BV_LANG_JP : 0), "lang[%d] %lld", i, (long long)u.langs[i]); /* blanks: 0 */
        BV_CHECK(u.tones[i] == (i % 2 ? tones[i / 2] + 6 : 0), "tone[%d] %lld", i, (long long)u.tones[i]);
    }
    BV_CHECK(u.phones[3] == bv_symbol_id("h") && u.phones[9] == bv_symbol_id(","), "phone ids");
    bv_infer_utt_free(&u);

    char dir[] = "/tmp/bv2-test-ja-infer-XXXXXX", wav[256], errp[256], cmd[8192];
    BV_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    if (ts->failed) return;
    snprintf(wav, sizeof wav, "%s/ja.wav", dir);
    snprintf(errp, sizeof errp, "%s/err.txt", dir);
    snprintf(cmd, sizeof cmd,
             "'%s' infer -m '%s' -c '%s' --speaker spkB_JP --language JP --text 'こんにちは、今日はいい天気ですね。' "
             "-o '%s' 2>'%s'", bv_test_bv2_path, model, cfg, wav, errp);
    int st = system(cmd);
    BV_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "bv2 infer --language JP failed (see %s)", errp);
    float *x = NULL;
    bv_wav_info info;
    rc = bv_wav_read(wav, &x, &info, err, sizeof err);
    BV_CHECK(rc == 0, "%s", err);
    if (!rc) {
        int64_t bad = 0;
        for (int64_t i = 0; i < info.frames; i++) bad += !isfinite(x[i]);
        BV_CHECK(info.sample_rate == 44100 && info.channels == 1 && info.frames > 0 && bad == 0,
                 "%d Hz, %d channels, %lld frames, %lld non-finite", info.sample_rate, info.channels,
                 (long long)info.frames, (long long)bad);
        free(x);
    }
    unlink(wav), unlink(errp), rmdir(dir);
}
