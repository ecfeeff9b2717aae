/* text_encoder.c - models.TextEncoder (see the header), in upstream's order of operations. */
#include "text_encoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/error.h"
#include "../ops/align.h"
#include "../ops/ops.h"

static const char *MODULE = "TextEncoder";

static bv_text_encoder_cfg with_defaults(const bv_text_encoder_cfg *cfg) {
    bv_text_encoder_cfg c = *cfg;
    if (c.n_symbols == 0) c.n_symbols = BV_TEXT_ENCODER_N_SYMBOLS;
    if (c.n_tones == 0) c.n_tones = BV_TEXT_ENCODER_N_TONES;
    if (c.n_languages == 0) c.n_languages = BV_TEXT_ENCODER_N_LANGUAGES;
    return c;
}

static bv_encoder_cfg encoder_cfg(const bv_text_encoder_cfg *c) {
    /* TextEncoder leaves attentions.Encoder's window_size (4), isflow (True, a no-op) and
     * cond_layer_idx (2 with gin_channels) at their defaults */
    return (bv_encoder_cfg){.hidden_channels = c->hidden_channels, .filter_channels = c->filter_channels,
                            .n_heads = c->n_heads, .n_layers = c->n_layers, .kernel_size = c->kernel_size,
                            .p_dropout = c->p_dropout, .window_size = 4, .isflow = 1,
                            .gin_channels = c->gin_channels, .cond_layer_idx = BV_ENCODER_COND_DEFAULT};
}

int bv_text_encoder_cfg_check(const bv_text_encoder_cfg *cfg, char *err, int cap) {
    bv_text_encoder_cfg c = with_defaults(cfg);
    if (c.out_channels <= 0 || c.n_symbols <= 0 || c.n_tones <= 0 || c.n_languages <= 0)
        return snprintf(err, (size_t)cap, "TextEncoder: sizes must be positive (out_channels %d, n_symbols %d, "
                        "n_tones %d, n_languages %d)", c.out_channels, c.n_symbols, c.n_tones, c.n_languages), -1;
    bv_encoder_cfg ec = encoder_cfg(&c);
    return bv_encoder_cfg_check(&ec, err, cap);
}

static void proj_1x1(bv_conv1d_layer *conv, bv_params *ps, const char *prefix, const char *name, int cin, int cout) {
    char full[512];
    snprintf(full, sizeof full, "%s%s.", prefix, name);
    bv_conv1d_layer_init(conv, ps, full, &(bv_conv1d_cfg){.in_channels = cin, .out_channels = cout, .kernel_size = 1});
}

bv_text_encoder *bv_text_encoder_new(bv_params *ps, const char *prefix, const bv_text_encoder_cfg *cfg) {
    char err[256], name[512];
    if (bv_text_encoder_cfg_check(cfg, err, sizeof err)) BV_FATAL("%s", err);
    bv_text_encoder *m = bv_xcalloc(1, sizeof *m);
    m->cfg = with_defaults(cfg);
    const bv_text_encoder_cfg *c = &m->cfg;
    const int H = c->hidden_channels;
    m->emb = bv_params_addf(ps, BV_SHAPE(c->n_symbols, H), "%semb.weight", prefix);              // [n_symbols, H]
    m->tone_emb = bv_params_addf(ps, BV_SHAPE(c->n_tones, H), "%stone_emb.weight", prefix);       // [n_tones, H]
    m->language_emb = bv_params_addf(ps, BV_SHAPE(c->n_languages, H), "%slanguage_emb.weight", prefix); // [n_lang, H]
    proj_1x1(&m->bert_proj, ps, prefix, "bert_proj", BV_TEXT_ENCODER_BERT_DIM, H);
    proj_1x1(&m->ja_bert_proj, ps, prefix, "ja_bert_proj", BV_TEXT_ENCODER_BERT_DIM, H);
    proj_1x1(&m->en_bert_proj, ps, prefix, "en_bert_proj", BV_TEXT_ENCODER_BERT_DIM, H);
    snprintf(name, sizeof name, "%sencoder.", prefix);
    bv_encoder_cfg ec = encoder_cfg(c);
    m->encoder = bv_encoder_new(ps, name, &ec);
    proj_1x1(&m->proj, ps, prefix, "proj", H, c->out_channels * 2);
    return m;
}

void bv_text_encoder_free(bv_text_encoder *m) {
    if (!m) return;
    bv_encoder_free(m->encoder);
    free(m);
}

static void fill_normal(bv_tensor *t, double std, bv_rng *rng) {
    bv_init_normal(t, rng, std);
}

void bv_text_encoder_reset_parameters(const bv_text_encoder *m, bv_rng *rng) {
    /* construction order, as upstream draws them */
    double std = pow((double)m->cfg.hidden_channels, -0.5); // nn.init.normal_(w, 0.0, hidden_channels**-0.5)
    fill_normal(m->emb, std, rng);
    fill_normal(m->tone_emb, std, rng);
    fill_normal(m->language_emb, std, rng);
    bv_conv1d_layer_reset_parameters(&m->bert_proj, rng);
    bv_conv1d_layer_reset_parameters(&m->ja_bert_proj, rng);
    bv_conv1d_layer_reset_parameters(&m->en_bert_proj, rng);
    bv_encoder_reset_parameters(m->encoder, rng);
    bv_conv1d_layer_reset_parameters(&m->proj, rng);
}

/* ids I64 [B, T] shaped like x. */
static void check_ids(bv_ctx *ctx, const char *what, const bv_tensor *ids, const bv_tensor *x) {
    char b1[96], b2[96];
    if (ids->dtype != BV_I64 || ids->ndim != 2 || (x && !bv_same_shape(ids, x)))
        bv_ctx_error(ctx, MODULE, "%s %s (%s) must be I64 [B, T]%s%s", what, bv_shape_str(ids, b1, sizeof b1),
                     bv_dtype_name(ids->dtype), x ? " like x " : "", x ? bv_shape_str(x, b2, sizeof b2) : "");
}

/* BERT features f32 [B, 1024, T] with B, T from x [B, T]. */
static void check_bert(bv_ctx *ctx, const char *what, const bv_tensor *bert, const bv_tensor *x) {
    char b1[96], b2[96];
    if (bert->dtype != BV_F32 || bert->ndim != 3 || bert->shape[0] != x->shape[0] ||
        bert->shape[1] != BV_TEXT_ENCODER_BERT_DIM || bert->shape[2] != x->shape[1])
        bv_ctx_error(ctx, MODULE, "%s %s (%s) does not fit x %s: expected f32 [B, %d, T]", what,
                     bv_shape_str(bert, b1, sizeof b1), bv_dtype_name(bert->dtype), bv_shape_str(x, b2, sizeof b2),
                     BV_TEXT_ENCODER_BERT_DIM);
}

static void check_inputs(bv_ctx *ctx, const bv_text_encoder *m, bv_tensor *x, bv_tensor *x_lengths, bv_tensor *tone,
                         bv_tensor *language, bv_tensor *bert, bv_tensor *ja_bert, bv_tensor *en_bert, bv_tensor *g) {
    char b1[96], b2[96];
    check_ids(ctx, "x", x, NULL);
    check_ids(ctx, "tone", tone, x);
    check_ids(ctx, "language", language, x);
    if (x_lengths->dtype != BV_I64 || x_lengths->ndim != 1 || x_lengths->shape[0] != x->shape[0])
        bv_ctx_error(ctx, MODULE, "x_lengths %s (%s) does not fit x %s: expected I64 [B]",
                     bv_shape_str(x_lengths, b1, sizeof b1), bv_dtype_name(x_lengths->dtype),
                     bv_shape_str(x, b2, sizeof b2));
    check_bert(ctx, "bert", bert, x);
    check_bert(ctx, "ja_bert", ja_bert, x);
    check_bert(ctx, "en_bert", en_bert, x);
    if (g) {
        if (m->cfg.gin_channels <= 0) bv_ctx_error(ctx, MODULE, "g given but the module has gin_channels = 0");
        if (g->dtype != BV_F32 || g->ndim != 3 || g->shape[0] != x->shape[0] || g->shape[1] != m->cfg.gin_channels ||
            (g->shape[2] != 1 && g->shape[2] != x->shape[1]))
            bv_ctx_error(ctx, MODULE, "g %s (%s) does not fit x %s: expected f32 [B, %d, 1]",
                         bv_shape_str(g, b1, sizeof b1), bv_dtype_name(g->dtype), bv_shape_str(x, b2, sizeof b2),
                         m->cfg.gin_channels);
    }
}

bv_tensor *bv_text_encoder_forward(bv_ctx *ctx, const bv_text_encoder *m, bv_tensor *x, bv_tensor *x_lengths,
                                   bv_tensor *tone, bv_tensor *language, bv_tensor *bert, bv_tensor *ja_bert,
                                   bv_tensor *en_bert, bv_tensor *g, int training, bv_tensor **m_p,
                                   bv_tensor **logs_p, bv_tensor **x_mask_out) {
    check_inputs(ctx, m, x, x_lengths, tone, language, bert, ja_bert, en_bert, g);
    const int64_t B = x->shape[0], T = x->shape[1];
    bv_tensor *bert_emb = bv_conv1d_layer_forward(ctx, &m->bert_proj, bert);          // [B, H, T]
    bv_tensor *ja_bert_emb = bv_conv1d_layer_forward(ctx, &m->ja_bert_proj, ja_bert); // [B, H, T]
    bv_tensor *en_bert_emb = bv_conv1d_layer_forward(ctx, &m->en_bert_proj, en_bert); // [B, H, T]
    /* Upstream transposes the three BERT terms to [b, t, h], sums, then transposes back. The sum is
     * elementwise, so summing in [b, h, t] in the same order gives the same bits with one
     * transpose instead of four. */
    bv_tensor *h = bv_add(ctx, bv_add(ctx, bv_embedding(ctx, m->emb, x), bv_embedding(ctx, m->tone_emb, tone)),
                          bv_embedding(ctx, m->language_emb, language));             // [B, T, H]
    h = bv_transpose(ctx, h, 1, 2);                                                   // [B, H, T]
    h = bv_add(ctx, bv_add(ctx, bv_add(ctx, h, bert_emb), ja_bert_emb), en_bert_emb); // [B, H, T]
    h = bv_mul_scalar(ctx, h, (float)sqrt((double)m->cfg.hidden_channels));          // * math.sqrt(hidden)
    bv_tensor *x_mask = bv_reshape(ctx, bv_to_f32(ctx, bv_sequence_mask(ctx, x_lengths, T)), BV_SHAPE(B, 1, T));
    h = bv_encoder_forward(ctx, m->encoder, bv_mul(ctx, h, x_mask), x_mask, g, training); // [B, H, T]
    bv_tensor *stats = bv_mul(ctx, bv_conv1d_layer_forward(ctx, &m->proj, h), x_mask);    // [B, 2 * out, T]
    bv_tensor *parts[2];
    int64_t out = m->cfg.out_channels;
    bv_split(ctx, stats, 1, 2, (int64_t[]){out, out}, parts);
    if (m_p) *m_p = parts[0];       // [B, out, T]
    if (logs_p) *logs_p = parts[1]; // [B, out, T]
    if (x_mask_out) *x_mask_out = x_mask;
    return h;
}
