/* ja_kana.c - upstream Bert-VITS2 v2.3's kana -> phoneme table (text/japanese.py hiragana_map, a
 * modification of jaconv's hiragana2julius) and the lookups japanese.c needs. Values are the
 * phonemes separated by spaces; ":" lengthens the phoneme before it (hiragana2p repeats it). */
#include "japanese.h"

#include <string.h>

typedef struct {
    const char *kana, *phones;
} kana_entry;

/* Three- and two-kana entries first (the lookup tries 3, then 2, then 1 characters). The "゛"
 * here is U+309B, as upstream writes it. "どぁ" really ends in a space upstream. */
static const kana_entry table[] = {
    {"う゛ぁ", "v a"}, {"う゛ぃ", "v i"}, {"う゛ぇ", "v e"}, {"う゛ぉ", "v o"}, {"う゛ゅ", "by u"},
    {"ぅ゛", "v u"},   {"ゔぁ", "v a"},   {"ゔぃ", "v i"},   {"ゔぇ", "v e"},   {"ゔぉ", "v o"},   {"ゔゅ", "by u"},
    {"あぁ", "a a"},   {"いぃ", "i i"},   {"いぇ", "i e"},   {"いゃ", "y a"},   {"うぅ", "u:"},    {"えぇ", "e e"},
    {"おぉ", "o:"},    {"かぁ", "k a:"},  {"きぃ", "k i:"},  {"くぅ", "k u:"},  {"くゃ", "ky a"},  {"くゅ", "ky u"},
    {"くょ", "ky o"},  {"けぇ", "k e:"},  {"こぉ", "k o:"},  {"がぁ", "g a:"},  {"ぎぃ", "g i:"},  {"ぐぅ", "g u:"},
    {"ぐゃ", "gy a"},  {"ぐゅ", "gy u"},  {"ぐょ", "gy o"},  {"げぇ", "g e:"},  {"ごぉ", "g o:"},  {"さぁ", "s a:"},
    {"しぃ", "sh i"},  {"すぅ", "s u:"},  {"すゃ", "sh a"},  {"すゅ", "sh u"},  {"すょ", "sh o"},  {"せぇ", "s e:"},
    {"そぉ", "s o:"},  {"ざぁ", "z a:"},  {"じぃ", "j i:"},  {"ずぅ", "z u:"},  {"ずゃ", "zy a"},  {"ずゅ", "zy u"},
    {"ずょ", "zy o"},  {"ぜぇ", "z e:"},  {"ぞぉ", "z o:"},  {"たぁ", "t a:"},  {"ちぃ", "ch i"},  {"つぁ", "ts a"},
    {"つぃ", "ts i"},  {"つぅ", "ts u"},  {"つゃ", "ch a"},  {"つゅ", "ch u"},  {"つょ", "ch o"},  {"つぇ", "ts e"},
    {"つぉ", "ts o"},  {"てぇ", "t e:"},  {"とぉ", "t o:"},  {"だぁ", "d a:"},  {"ぢぃ", "j i:"},  {"づぅ", "d u:"},
    {"づゃ", "zy a"},  {"づゅ", "zy u"},  {"づょ", "zy o"},  {"でぇ", "d e:"},  {"なぁ", "n a:"},  {"にぃ", "n i:"},
    {"ぬぅ", "n u:"},  {"ぬゃ", "ny a"},  {"ぬゅ", "ny u"},  {"ぬょ", "ny o"},  {"ねぇ", "n e:"},  {"のぉ", "n o:"},
    {"はぁ", "h a:"},  {"ひぃ", "h i:"},  {"ふぅ", "f u:"},  {"ふゃ", "hy a"},  {"へぇ", "h e:"},  {"ほぉ", "h o:"},
    {"ばぁ", "b a:"},  {"びぃ", "b i:"},  {"ぶぅ", "b u:"},  {"ぶゅ", "by u"},  {"べぇ", "b e:"},  {"ぼぉ", "b o:"},
    {"ぱぁ", "p a:"},  {"ぴぃ", "p i:"},  {"ぷぅ", "p u:"},  {"ぷゃ", "py a"},  {"ぷゅ", "py u"},  {"ぷょ", "py o"},
    {"ぺぇ", "p e:"},  {"ぽぉ", "p o:"},  {"まぁ", "m a:"},  {"みぃ", "m i:"},  {"むぅ", "m u:"},  {"むゃ", "my a"},
    {"むゅ", "my u"},  {"むょ", "my o"},  {"めぇ", "m e:"},  {"もぉ", "m o:"},  {"やぁ", "y a:"},  {"ゆぅ", "y u:"},
    {"ゆゃ", "y a:"},  {"ゆゅ", "y u:"},  {"ゆょ", "y o:"},  {"よぉ", "y o:"},  {"らぁ", "r a:"},  {"りぃ", "r i:"},
    {"るぅ", "r u:"},  {"るゃ", "ry a"},  {"るゅ", "ry u"},  {"るょ", "ry o"},  {"れぇ", "r e:"},  {"ろぉ", "r o:"},
    {"わぁ", "w a:"},  {"をぉ", "o:"},    {"う゛", "b u"},   {"でぃ", "d i"},   {"でゃ", "dy a"},  {"でゅ", "dy u"},
    {"でょ", "dy o"},  {"てぃ", "t i"},   {"てゃ", "ty a"},  {"てゅ", "ty u"},  {"てょ", "ty o"},  {"すぃ", "s i"},
    {"ずぁ", "z u"},   {"ずぃ", "z i"},   {"ずぇ", "z e"},   {"ずぉ", "z o"},   {"きゃ", "ky a"},  {"きゅ", "ky u"},
    {"きょ", "ky o"},  {"しゃ", "sh a"},  {"しゅ", "sh u"},  {"しぇ", "sh e"},  {"しょ", "sh o"},  {"ちゃ", "ch a"},
    {"ちゅ", "ch u"},  {"ちぇ", "ch e"},  {"ちょ", "ch o"},  {"とぅ", "t u"},   {"とゃ", "ty a"},  {"とゅ", "ty u"},
    {"とょ", "ty o"},  {"どぁ", "d o "},  {"どぅ", "d u"},   {"どゃ", "dy a"},  {"どゅ", "dy u"},  {"どょ", "dy o"},
    {"どぉ", "d o:"},  {"にゃ", "ny a"},  {"にゅ", "ny u"},  {"にょ", "ny o"},  {"ひゃ", "hy a"},  {"ひゅ", "hy u"},
    {"ひょ", "hy o"},  {"みゃ", "my a"},  {"みゅ", "my u"},  {"みょ", "my o"},  {"りゃ", "ry a"},  {"りゅ", "ry u"},
    {"りょ", "ry o"},  {"ぎゃ", "gy a"},  {"ぎゅ", "gy u"},  {"ぎょ", "gy o"},  {"ぢぇ", "j e"},   {"ぢゃ", "j a"},
    {"ぢゅ", "j u"},   {"ぢょ", "j o"},   {"じぇ", "j e"},   {"じゃ", "j a"},   {"じゅ", "j u"},   {"じょ", "j o"},
    {"びゃ", "by a"},  {"びゅ", "by u"},  {"びょ", "by o"},  {"ぴゃ", "py a"},  {"ぴゅ", "py u"},  {"ぴょ", "py o"},
    {"うぁ", "u a"},   {"うぃ", "w i"},   {"うぇ", "w e"},   {"うぉ", "w o"},   {"ふぁ", "f a"},   {"ふぃ", "f i"},
    {"ふゅ", "hy u"},  {"ふょ", "hy o"},  {"ふぇ", "f e"},   {"ふぉ", "f o"},
    /* one kana */
    {"あ", "a"},       {"い", "i"},       {"う", "u"},       {"ゔ", "v u"},     {"え", "e"},       {"お", "o"},
    {"か", "k a"},     {"き", "k i"},     {"く", "k u"},     {"け", "k e"},     {"こ", "k o"},     {"さ", "s a"},
    {"し", "sh i"},    {"す", "s u"},     {"せ", "s e"},     {"そ", "s o"},     {"た", "t a"},     {"ち", "ch i"},
    {"つ", "ts u"},    {"て", "t e"},     {"と", "t o"},     {"な", "n a"},     {"に", "n i"},     {"ぬ", "n u"},
    {"ね", "n e"},     {"の", "n o"},     {"は", "h a"},     {"ひ", "h i"},     {"ふ", "f u"},     {"へ", "h e"},
    {"ほ", "h o"},     {"ま", "m a"},     {"み", "m i"},     {"む", "m u"},     {"め", "m e"},     {"も", "m o"},
    {"ら", "r a"},     {"り", "r i"},     {"る", "r u"},     {"れ", "r e"},     {"ろ", "r o"},     {"が", "g a"},
    {"ぎ", "g i"},     {"ぐ", "g u"},     {"げ", "g e"},     {"ご", "g o"},     {"ざ", "z a"},     {"じ", "j i"},
    {"ず", "z u"},     {"ぜ", "z e"},     {"ぞ", "z o"},     {"だ", "d a"},     {"ぢ", "j i"},     {"づ", "z u"},
    {"で", "d e"},     {"ど", "d o"},     {"ば", "b a"},     {"び", "b i"},     {"ぶ", "b u"},     {"べ", "b e"},
    {"ぼ", "b o"},     {"ぱ", "p a"},     {"ぴ", "p i"},     {"ぷ", "p u"},     {"ぺ", "p e"},     {"ぽ", "p o"},
    {"や", "y a"},     {"ゆ", "y u"},     {"よ", "y o"},     {"わ", "w a"},     {"ゐ", "i"},       {"ゑ", "e"},
    {"ん", "N"},       {"っ", "q"},       {"ぁ", "a"},       {"ぃ", "i"},       {"ぅ", "u"},       {"ぇ", "e"},
    {"ぉ", "o"},       {"ゎ", "w a"},     {"を", "o"},       {"ゃ", "y a"},     {"ゅ", "y u"},     {"ょ", "y o"},
};
/* "ー", "〜" (U+301C), "−" (U+2212) and "-" map to ":" with no space before it */

const char *bv_ja_kana_phones(const char *key, size_t len, int *no_space) {
    *no_space = 0;
    if ((len == 3 && (!memcmp(key, "ー", 3) || !memcmp(key, "〜", 3) || !memcmp(key, "−", 3))) ||
        (len == 1 && key[0] == '-')) {
        *no_space = 1;
        return ":";
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strlen(table[i].kana) == len && !memcmp(table[i].kana, key, len)) return table[i].phones;
    return NULL;
}
