/* spm_shim.h - the few SentencePiece calls DeBERTa-v3's tokenizer needs, as a C API over Debian's
 * libsentencepiece (a C++ library with no C interface; tokenizer_spm.cc is the shim).
 *
 * transformers' DebertaV2Tokenizer (split_by_punct false) tokenizes with spm.encode(text, out_type=str)
 * and maps every piece with PieceToId: bv_spm_encode does exactly that.
 */
#ifndef BV_BERT_SPM_SHIM_H
#define BV_BERT_SPM_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bv_spm bv_spm;

/* Loads a SentencePiece model file; NULL with err filled (path and the library's reason). */
bv_spm *bv_spm_load(const char *path, char *err, size_t errcap);
void bv_spm_free(bv_spm *s);
int bv_spm_piece_count(const bv_spm *s);
/* Piece id, or the model's unk id for a string that is no piece. */
int bv_spm_piece_to_id(const bv_spm *s, const char *piece);
/* Pieces of `text` (UTF-8, len bytes): *pieces is a malloc'ed array of malloc'ed strings and *ids a
 * malloc'ed array, *n entries each (free with bv_spm_pieces_free). 0, or -1 with err filled. */
int bv_spm_encode(const bv_spm *s, const char *text, size_t len, char ***pieces, int **ids, int *n, char *err,
                  size_t errcap);
void bv_spm_pieces_free(char **pieces, int *ids, int n);

#ifdef __cplusplus
}
#endif
#endif
