/* text_encoder.h - models.TextEncoder (the prior encoder enc_p of SynthesizerTrn): token, tone and
 * language embeddings plus the three projected BERT feature streams (zh, ja, en), scaled by
 * sqrt(hidden), run through the speaker-conditioned attentions.Encoder and projected to the prior's
 * mean and log-scale.
 *
 *   x      = (emb(x) + tone_emb(tone) + language_emb(language)
 *             + bert_proj(bert)^T + ja_bert_proj(ja_bert)^T + en_bert_proj(en_bert)^T) * sqrt(H)
 *   x_mask = sequence_mask(x_lengths, T)                                 // [B, 1, T]
 *   x      = encoder(x^T * x_mask, x_mask, g)                            // [B, H, T]
 *   m, logs = split(proj(x) * x_mask)                                    // [B, out, T] each
 *   returns x, m, logs, x_mask
 *
 *   bv_text_encoder *enc = bv_text_encoder_new(ps, "enc_p.", &(bv_text_encoder_cfg){
 *       .out_channels = 192, .hidden_channels = 192, .filter_channels = 768, .n_heads = 2,
 *       .n_layers = 6, .kernel_size = 3, .p_dropout = 0.1f, .gin_channels = 512});
 *   bv_tensor *m_p, *logs_p, *x_mask;
 *   bv_tensor *h = bv_text_encoder_forward(ctx, enc, x, x_lengths, tone, language, bert, ja_bert,
 *                                          en_bert, g, training, &m_p, &logs_p, &x_mask);
 */
#ifndef BV_MODEL_TEXT_ENCODER_H
#define BV_MODEL_TEXT_ENCODER_H

#include "../core/ctx.h"
#include "../core/params.h"
#include "../core/rng.h"
#include "../nn/attention.h"
#include "../nn/conv_layers.h"

/* Upstream's text/symbols.py sizes (the embedding tables are sized by these, not by n_vocab). */
#define BV_TEXT_ENCODER_N_SYMBOLS 112    /* len(symbols) */
#define BV_TEXT_ENCODER_N_TONES 12       /* num_tones = 6 zh + 1 ja + 4 en + 1 (pad) */
#define BV_TEXT_ENCODER_N_LANGUAGES 3    /* num_languages: ZH, JP, EN */
#define BV_TEXT_ENCODER_BERT_DIM 1024    /* BERT hidden size; upstream hard-codes Conv1d(1024, ...) */

/* Upstream constructor arguments. Zero table sizes mean upstream's symbols.py values above. */
typedef struct bv_text_encoder_cfg {
    int n_vocab;        /* upstream's argument; IGNORED there too: emb has n_symbols rows */
    int out_channels, hidden_channels, filter_channels, n_heads, n_layers, kernel_size;
    float p_dropout;
    int gin_channels;   /* 0: no speaker conditioning */
    int n_symbols, n_tones, n_languages;   /* 0: 112, 12, 3 (len(symbols), num_tones, num_languages) */
} bv_text_encoder_cfg;

typedef struct bv_text_encoder {
    bv_text_encoder_cfg cfg;            /* table sizes filled in */
    bv_tensor *emb;                     // emb.weight          [n_symbols, H]
    bv_tensor *tone_emb;                // tone_emb.weight     [n_tones, H]
    bv_tensor *language_emb;            // language_emb.weight [n_languages, H]
    bv_conv1d_layer bert_proj;          // bert_proj.{weight,bias}    [H, 1024, 1], [H]
    bv_conv1d_layer ja_bert_proj;       // ja_bert_proj.{weight,bias} [H, 1024, 1], [H]
    bv_conv1d_layer en_bert_proj;       // en_bert_proj.{weight,bias} [H, 1024, 1], [H]
    bv_encoder *encoder;                // encoder.* (attentions.Encoder, window 4, speaker cond)
    bv_conv1d_layer proj;               // proj.{weight,bias} [2 * out, H, 1], [2 * out]
} bv_text_encoder;

/* Returns 0 if cfg can be built, else -1 with a message naming the bad field in err. */
int bv_text_encoder_cfg_check(const bv_text_encoder_cfg *cfg, char *err, int cap);
/* Creates the parameters "<prefix>emb.weight", ... in upstream state_dict order. Fatal on an
 * invalid cfg (validate user configs with bv_text_encoder_cfg_check first). */
bv_text_encoder *bv_text_encoder_new(bv_params *ps, const char *prefix, const bv_text_encoder_cfg *cfg);
void bv_text_encoder_free(bv_text_encoder *m);
/* Upstream init: the three embeddings ~ N(0, H^-0.5), PyTorch Conv1d defaults for the projections,
 * the encoder's own init. */
void bv_text_encoder_reset_parameters(const bv_text_encoder *m, bv_rng *rng);
/* x, tone, language I64 [B, T]; x_lengths I64 [B]; bert, ja_bert, en_bert f32 [B, 1024, T];
 * g f32 [B, gin, 1] or NULL. Returns the encoder output x [B, H, T]; m_p, logs_p [B, out, T] and
 * x_mask f32 [B, 1, T] through the out pointers (each may be NULL). training enables dropout. */
bv_tensor *bv_text_encoder_forward(bv_ctx *ctx, const bv_text_encoder *m, bv_tensor *x, bv_tensor *x_lengths,
                                   bv_tensor *tone, bv_tensor *language, bv_tensor *bert, bv_tensor *ja_bert,
                                   bv_tensor *en_bert, bv_tensor *g, int training, bv_tensor **m_p,
                                   bv_tensor **logs_p, bv_tensor **x_mask);

#endif
