/* bert_model.h - the encoders of Bert-VITS2's BERT features, inference only (fp32, no autograd):
 *
 *   BERT        chinese-roberta-wwm-ext-large (transformers BertModel / BertForMaskedLM): word +
 *               absolute position + token-type (all 0) embeddings, LayerNorm; post-LN layers of
 *               scaled-dot-product attention and a GELU feed-forward.
 *   DeBERTa-v2  deberta-v3-large (DebertaV2Model) and deberta-v2-large-japanese-char-wwm
 *               (DebertaV2ForMaskedLM): word embeddings (+ absolute positions only when
 *               position_biased_input), LayerNorm; disentangled attention: content-to-content plus
 *               content-to-position (c2p) and position-to-content (p2c) terms over relative positions
 *               in log buckets (position_buckets, max_relative_positions), relative embeddings
 *               LayerNorm-ed (norm_rel_ebd "layer_norm"), projected by the layer's own query/key
 *               projections (share_att_key) or by pos_key_proj / pos_query_proj, scale
 *               sqrt(head_dim * (1 + #terms)).
 *
 * What Bert-VITS2 reads is hidden_states[-3] (the output of layer L-2 of L), so the last two layers
 * are never run. Only the rows of the relative-embedding projections that a sequence of T tokens
 * can reach are computed (PyTorch projects all 2 * buckets rows in every layer).
 *
 * Weights: a HuggingFace folder's config.json plus model.safetensors or pytorch_model.bin; names
 * with or without the "bert." / "deberta." prefix of the *ForMaskedLM classes, LayerNorm
 * gamma/beta as old checkpoints name them; f32, f16 or bf16 (converted to f32 once). A config value
 * bv2 does not implement is refused with the key named; every shape is checked.
 *
 * Matrix products are cblas_sgemm (OpenBLAS, its own threads); the rest are plain loops.
 */
#ifndef BV_BERT_MODEL_H
#define BV_BERT_MODEL_H

#include <stddef.h>

typedef struct bv_bert_model bv_bert_model;

typedef enum { BV_BERT_ARCH_BERT = 0, BV_BERT_ARCH_DEBERTA_V2, BV_BERT_ARCH_COUNT } bv_bert_arch;

/* Loads dir/config.json and the weights. NULL with err filled (file, key, what was expected). */
bv_bert_model *bv_bert_model_load(const char *dir, char *err, size_t errcap);
void bv_bert_model_free(bv_bert_model *m);
bv_bert_arch bv_bert_model_arch(const bv_bert_model *m);
int bv_bert_model_hidden_size(const bv_bert_model *m);
int bv_bert_model_layers(const bv_bert_model *m);
int bv_bert_model_vocab_size(const bv_bert_model *m);
/* Longest input (absolute positions: max_position_embeddings; relative: none, 0). */
int bv_bert_model_max_tokens(const bv_bert_model *m);

/* hidden_states[which] of the model run on ids[0..n) (one sequence, attention mask all ones):
 * which in [-(L+1), L]; out [n, hidden] row-major (caller's buffer). Thread-safe on one model
 * (weights are read-only). 0, or -1 with err filled (an id outside the vocabulary, too many tokens). */
int bv_bert_model_hidden_states(const bv_bert_model *m, const int *ids, int n, int which, float *out, char *err,
                                size_t errcap);

/* log-bucketed relative position (transformers' make_log_bucket_position, float32 as there). */
int bv_bert_log_bucket(int rel, int bucket_size, int max_position);

#endif
