/* ja_njd.h - the word list of OpenJTalk's front-end ("NJD") and the rule passes pyopenjtalk's
 * run_frontend applies to it, written from OpenJTalk 1.11's public source (the version
 * pyopenjtalk-prebuilt 0.3.0 bundles): njd_set_pronunciation, njd_set_digit, njd_set_accent_phrase,
 * njd_set_accent_type. njd_set_unvoiced_vowel only adds "’" marks that upstream's Bert-VITS2 front-end
 * strips (and lower-cases away in labels), and njd_set_long_vowel is disabled in 1.11, so neither
 * is run here (see japanese.c).
 *
 * A node is one MeCab morpheme with the naist-jdic feature fields. A string field that OpenJTalk
 * holds as NULL (empty) reads as "*", exactly as OpenJTalk's getters answer, because several rules
 * compare against "*".
 *
 *   bv_ja_njd njd = {0};
 *   bv_ja_njd_push_feature(&njd, "今日,名詞,副詞可能,*,*,*,*,今日,キョウ,キョー,1/2,C3");
 *   bv_ja_set_pronunciation(&njd); bv_ja_set_digit(&njd); bv_ja_set_accent_phrase(&njd);
 *   bv_ja_set_accent_type(&njd);
 *   bv_ja_njd_free(&njd);
 */
#ifndef BV_TEXT_JA_NJD_H
#define BV_TEXT_JA_NJD_H

typedef struct bv_ja_node {
    char *string, *pos, *pos1, *pos2, *pos3, *ctype, *cform, *orig, *read, *pron, *chain_rule;
    int acc, mora_size, chain_flag; /* chain_flag -1: not set by the dictionary */
    struct bv_ja_node *prev, *next;
} bv_ja_node;

typedef struct bv_ja_njd {
    bv_ja_node *head, *tail;
} bv_ja_njd;

/* field getters: "*" for an unset field */
const char *bv_ja_str(const char *field);
#define BV_JA_GET(node, field) bv_ja_str((node)->field)

/* setters: NULL or "" unsets the field */
void bv_ja_set(char **field, const char *value);
void bv_ja_add(char **field, const char *value); /* append (sets when unset) */

bv_ja_node *bv_ja_node_new(void);
void bv_ja_node_free(bv_ja_node *n);
/* Fill node from "surface,pos,pos1,pos2,pos3,ctype,cform,orig,read,pron,acc/mora,chain_rule[,chain_flag]"
 * as NJDNode_load does: a chained entry (acc "a/m:b/n", fields split by ':') becomes several nodes
 * linked after it. Returns the last node it filled. */
bv_ja_node *bv_ja_node_load(bv_ja_node *node, const char *feature);

void bv_ja_njd_push(bv_ja_njd *njd, bv_ja_node *node);          /* node and whatever is linked after it */
void bv_ja_njd_push_feature(bv_ja_njd *njd, const char *feature);
bv_ja_node *bv_ja_njd_remove(bv_ja_njd *njd, bv_ja_node *node); /* frees node, returns the next */
void bv_ja_njd_insert_after(bv_ja_njd *njd, bv_ja_node *prev, bv_ja_node *node);
void bv_ja_njd_remove_silent(bv_ja_njd *njd);                    /* drop nodes whose pron is "*" */
void bv_ja_njd_free(bv_ja_njd *njd);

void bv_ja_set_pronunciation(bv_ja_njd *njd);
void bv_ja_set_digit(bv_ja_njd *njd);        /* ja_digit.c */
void bv_ja_set_accent_phrase(bv_ja_njd *njd);
void bv_ja_set_accent_type(bv_ja_njd *njd);

/* The kana filler table of njd_set_pronunciation: length in bytes of the longest kana unit (one
 * mora: a kana with its small-kana glide when OpenJTalk lists the pair, or an alphabet letter)
 * at s, its katakana pronunciation in *pron and its mora count in *moras; 0 when s starts with
 * none. */
int bv_ja_filler_unit(const char *s, const char **pron, int *moras);

#endif
