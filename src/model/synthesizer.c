/* synthesizer.c - models.SynthesizerTrn (see the header): __init__, forward and infer in upstream's
 * order of operations, module for module. */
#include "synthesizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/mem.h"
#include "../ops/align.h"
#include "../ops/ops.h"

static const char *MODULE = "SynthesizerTrn";

/* ---------------- construction ---------------- */

static bv_text_encoder_cfg enc_p_cfg(const bv_synth_hparams *m) {
    /* TextEncoder(n_vocab, inter, hidden, filter, n_heads, n_layers, kernel_size, p_dropout,
     * gin_channels=enc_gin_channels); n_vocab = len(symbols), which TextEncoder ignores anyway */
    return (bv_text_encoder_cfg){.n_vocab = BV_TEXT_ENCODER_N_SYMBOLS, .out_channels = m->inter_channels,
                                 .hidden_channels = m->hidden_channels, .filter_channels = m->filter_channels,
                                 .n_heads = m->n_heads, .n_layers = m->n_layers, .kernel_size = m->kernel_size,
                                 .p_dropout = m->p_dropout, .gin_channels = m->gin_channels};
}

static bv_generator_cfg dec_cfg(const bv_synth_hparams *m) {
    bv_generator_cfg g = {.initial_channel = m->inter_channels, .resblock = m->resblock,
                          .n_kernels = m->n_resblock_kernels, .n_upsamples = m->n_upsamples,
                          .upsample_initial_channel = m->upsample_initial_channel, .gin_channels = m->gin_channels};
    for (int k = 0; k < m->n_resblock_kernels && k < BV_GEN_MAX_KERNELS; k++) {
        g.resblock_kernel_sizes[k] = m->resblock_kernel_sizes[k];
        memcpy(g.resblock_dilation_sizes[k], m->resblock_dilation_sizes[k], sizeof g.resblock_dilation_sizes[k]);
    }
    for (int i = 0; i < m->n_upsamples && i < BV_GEN_MAX_UPS; i++) {
        g.upsample_rates[i] = m->upsample_rates[i];
        g.upsample_kernel_sizes[i] = m->upsample_kernel_sizes[i];
    }
    return g;
}

static bv_posterior_encoder_cfg enc_q_cfg(const bv_synth_hparams *c) {
    /* PosteriorEncoder(spec_channels, inter, hidden, 5, 1, 16, gin_channels) */
    return (bv_posterior_encoder_cfg){.in_channels = (int)(c->filter_length / 2 + 1),
                                      .out_channels = c->inter_channels,
                                      .hidden_channels = c->hidden_channels, .kernel_size = 5,
                                      .dilation_rate = 1, .n_layers = 16, .gin_channels = c->gin_channels};
}

static bv_transformer_coupling_block_cfg flow_tr_cfg(const bv_synth_hparams *m) {
    /* TransformerCouplingBlock(inter, hidden, filter, n_heads, n_layers_trans_flow, 5, p_dropout,
     * n_flow_layer, gin_channels, share_parameter=flow_share_parameter) */
    return (bv_transformer_coupling_block_cfg){.channels = m->inter_channels, .hidden_channels = m->hidden_channels,
                                               .filter_channels = m->filter_channels, .n_heads = m->n_heads,
                                               .n_layers = m->n_layers_trans_flow, .kernel_size = 5,
                                               .p_dropout = m->p_dropout, .n_flows = m->n_flow_layer,
                                               .gin_channels = m->gin_channels,
                                               .share_parameter = m->flow_share_parameter};
}

static bv_residual_coupling_block_cfg flow_rc_cfg(const bv_synth_hparams *m) {
    /* ResidualCouplingBlock(inter, hidden, 5, 1, n_flow_layer, gin_channels): upstream passes
     * n_flow_layer POSITIONALLY as n_layers (the WN depth); n_flows stays at its default 4 */
    return (bv_residual_coupling_block_cfg){.channels = m->inter_channels, .hidden_channels = m->hidden_channels,
                                            .kernel_size = 5, .dilation_rate = 1, .n_layers = m->n_flow_layer,
                                            .n_flows = 4, .gin_channels = m->gin_channels};
}

int bv_synth_hparams_check(const bv_synth_hparams *c, char *err, int cap) {
    char sub[384];
    if (c->n_speakers < 1)
        return snprintf(err, (size_t)cap, "data.n_speakers %lld: SynthesizerTrn needs n_speakers >= 1 (the "
                        "ReferenceEncoder branch for 0 speakers is not supported)", (long long)c->n_speakers), -1;
    /* upstream sets enc_gin_channels only in this case; otherwise TextEncoder(..., gin_channels=
     * self.enc_gin_channels) raises AttributeError */
    if (!c->use_spk_conditioned_encoder || c->gin_channels <= 0)
        return snprintf(err, (size_t)cap, "model.use_spk_conditioned_encoder must be true and model.gin_channels > 0 "
                        "(got %s, %d): upstream SynthesizerTrn cannot be built otherwise",
                        c->use_spk_conditioned_encoder ? "true" : "false", c->gin_channels), -1;
    if (c->hop_length <= 0 || c->segment_size / c->hop_length < 1)
        return snprintf(err, (size_t)cap, "train.segment_size %lld: less than one frame of data.hop_length %lld",
                        (long long)c->segment_size, (long long)c->hop_length), -1;
    if (c->filter_length <= 0)
        return snprintf(err, (size_t)cap, "data.filter_length %lld must be positive", (long long)c->filter_length), -1;
    bv_text_encoder_cfg ep = enc_p_cfg(c);
    if (bv_text_encoder_cfg_check(&ep, sub, sizeof sub)) return snprintf(err, (size_t)cap, "model: %s", sub), -1;
    bv_generator_cfg dc = dec_cfg(c);
    if (!bv_generator_cfg_valid(&dc, sub, sizeof sub)) return snprintf(err, (size_t)cap, "model: Generator: %s", sub), -1;
    bv_posterior_encoder_cfg eq = enc_q_cfg(c);
    if (bv_posterior_encoder_cfg_check(&eq, sub, sizeof sub)) return snprintf(err, (size_t)cap, "model: %s", sub), -1;
    if (c->use_transformer_flow) {
        bv_transformer_coupling_block_cfg fc = flow_tr_cfg(c);
        if (bv_transformer_coupling_block_cfg_check(&fc, sub, sizeof sub))
            return snprintf(err, (size_t)cap, "model: %s", sub), -1;
    } else {
        bv_residual_coupling_block_cfg fc = flow_rc_cfg(c);
        if (bv_residual_coupling_block_cfg_check(&fc, sub, sizeof sub))
            return snprintf(err, (size_t)cap, "model: %s", sub), -1;
    }
    return 0;
}

bv_synth *bv_synth_new(bv_params *ps, const char *prefix, const bv_synth_hparams *hp) {
    char err[512], name[512];
    if (bv_synth_hparams_check(hp, err, sizeof err)) BV_FATAL("SynthesizerTrn: %s", err);
    bv_synth *m = bv_xcalloc(1, sizeof *m);
    m->n_speakers = (int)hp->n_speakers;
    m->gin_channels = hp->gin_channels;
    m->inter_channels = hp->inter_channels;
    m->hidden_channels = hp->hidden_channels;
    m->spec_channels = hp->filter_length / 2 + 1;
    m->segment_size = hp->segment_size / hp->hop_length;
    m->use_noise_scaled_mas = hp->use_noise_scaled_mas;
    m->use_transformer_flow = hp->use_transformer_flow;
    m->mas_noise_scale_initial = hp->mas_noise_scale_initial;
    m->noise_scale_delta = hp->noise_scale_delta;
    m->current_mas_noise_scale = m->mas_noise_scale_initial;

    bv_text_encoder_cfg ep = enc_p_cfg(hp);
    snprintf(name, sizeof name, "%senc_p.", prefix);
    m->enc_p = bv_text_encoder_new(ps, name, &ep);
    bv_generator_cfg dc = dec_cfg(hp);
    snprintf(name, sizeof name, "%sdec.", prefix);
    m->dec = bv_generator_new(ps, name, &dc);
    bv_posterior_encoder_cfg eq = enc_q_cfg(hp);
    snprintf(name, sizeof name, "%senc_q.", prefix);
    m->enc_q = bv_posterior_encoder_new(ps, name, &eq);
    snprintf(name, sizeof name, "%sflow.", prefix);
    if (hp->use_transformer_flow) {
        bv_transformer_coupling_block_cfg fc = flow_tr_cfg(hp);
        m->flow_tr = bv_transformer_coupling_block_new(ps, name, &fc);
    } else {
        bv_residual_coupling_block_cfg fc = flow_rc_cfg(hp);
        m->flow_rc = bv_residual_coupling_block_new(ps, name, &fc);
    }
    /* StochasticDurationPredictor(hidden, 192, 3, 0.5, 4, gin) and DurationPredictor(hidden, 256, 3,
     * 0.5, gin): the dropout rates are hard-coded upstream; the hparams carry them (see hparams.h) */
    snprintf(name, sizeof name, "%ssdp.", prefix);
    m->sdp = bv_sdp_new(ps, name, &(bv_sdp_cfg){.in_channels = hp->hidden_channels, .filter_channels = 192,
                                                .kernel_size = 3, .p_dropout = hp->sdp_p_dropout, .n_flows = 4,
                                                .gin_channels = hp->gin_channels});
    snprintf(name, sizeof name, "%sdp.", prefix);
    m->dp = bv_dp_new(ps, name, &(bv_dp_cfg){.in_channels = hp->hidden_channels, .filter_channels = 256,
                                             .kernel_size = 3, .p_dropout = hp->dp_p_dropout,
                                             .gin_channels = hp->gin_channels});
    m->emb_g = bv_params_addf(ps, BV_SHAPE(m->n_speakers, m->gin_channels), "%semb_g.weight", prefix); // [S, gin]
    return m;
}

void bv_synth_free(bv_synth *m) {
    if (!m) return;
    bv_text_encoder_free(m->enc_p);
    bv_generator_free(m->dec);
    bv_posterior_encoder_free(m->enc_q);
    bv_transformer_coupling_block_free(m->flow_tr);
    bv_residual_coupling_block_free(m->flow_rc);
    bv_sdp_free(m->sdp);
    bv_dp_free(m->dp);
    free(m);
}

void bv_synth_reset_parameters(const bv_synth *m, bv_rng *rng) {
    bv_text_encoder_reset_parameters(m->enc_p, rng);
    bv_generator_reset_parameters(m->dec, rng);
    bv_posterior_encoder_reset_parameters(m->enc_q, rng);
    if (m->flow_tr) bv_transformer_coupling_block_reset_parameters(m->flow_tr, rng);
    if (m->flow_rc) bv_residual_coupling_block_reset_parameters(m->flow_rc, rng);
    bv_sdp_reset_parameters(m->sdp, rng);
    bv_dp_reset_parameters(m->dp, rng);
    bv_init_normal(m->emb_g, rng, 1.0); /* nn.Embedding */
}

void bv_synth_set_mas_noise_scale(bv_synth *m, float s) { m->current_mas_noise_scale = s; }
double bv_synth_mas_noise_scale_initial(const bv_synth *m) { return m->mas_noise_scale_initial; }
double bv_synth_noise_scale_delta(const bv_synth *m) { return m->noise_scale_delta; }

/* ---------------- shared pieces ---------------- */

static void check_ids(bv_ctx *ctx, const char *what, const bv_tensor *t, int ndim, const bv_tensor *x) {
    char b1[96], b2[96];
    int ok = t && t->dtype == BV_I64 && t->ndim == ndim && t->shape[0] == x->shape[0];
    if (ok && ndim == 2) ok = t->shape[1] == x->shape[1];
    if (!ok)
        bv_ctx_error(ctx, MODULE, "%s %s (%s) does not fit x %s: expected I64 %s", what,
                     t ? bv_shape_str(t, b1, sizeof b1) : "NULL", t ? bv_dtype_name(t->dtype) : "-",
                     bv_shape_str(x, b2, sizeof b2), ndim == 2 ? "[B, T_x]" : "[B]");
}

static void check_bert(bv_ctx *ctx, const char *what, const bv_tensor *t, const bv_tensor *x) {
    char b1[96], b2[96];
    if (!t || t->dtype != BV_F32 || t->ndim != 3 || t->shape[0] != x->shape[0] ||
        t->shape[1] != BV_TEXT_ENCODER_BERT_DIM || t->shape[2] != x->shape[1])
        bv_ctx_error(ctx, MODULE, "%s %s does not fit x %s: expected f32 [B, %d, T_x]", what,
                     t ? bv_shape_str(t, b1, sizeof b1) : "NULL", bv_shape_str(x, b2, sizeof b2),
                     BV_TEXT_ENCODER_BERT_DIM);
}

/* Everything checked before any no_grad scope opens, so an error leaves the context as it was. */
static void check_text_inputs(bv_ctx *ctx, const bv_synth *m, bv_tensor *x, bv_tensor *x_lengths, bv_tensor *sid,
                              bv_tensor *tone, bv_tensor *language, bv_tensor *bert, bv_tensor *ja_bert,
                              bv_tensor *en_bert) {
    char b[96];
    if (!x || x->dtype != BV_I64 || x->ndim != 2)
        bv_ctx_error(ctx, MODULE, "x %s must be I64 [B, T_x]", x ? bv_shape_str(x, b, sizeof b) : "NULL");
    check_ids(ctx, "x_lengths", x_lengths, 1, x);
    check_ids(ctx, "sid", sid, 1, x);
    check_ids(ctx, "tone", tone, 2, x);
    check_ids(ctx, "language", language, 2, x);
    check_bert(ctx, "bert", bert, x);
    check_bert(ctx, "ja_bert", ja_bert, x);
    check_bert(ctx, "en_bert", en_bert, x);
    for (int64_t i = 0; i < sid->numel; i++) {
        const int64_t s = (int64_t)bv_tensor_item_at(sid, i);
        if (s < 0 || s >= m->n_speakers)
            bv_ctx_error(ctx, MODULE, "sid[%lld] = %lld is not a speaker of this model (n_speakers %d)", (long long)i,
                         (long long)s, m->n_speakers);
    }
}

/* g = emb_g(sid).unsqueeze(-1) */
static bv_tensor *speaker_embedding(bv_ctx *ctx, const bv_synth *m, bv_tensor *sid) {
    const int64_t B = sid->shape[0];
    return bv_reshape(ctx, bv_embedding(ctx, m->emb_g, sid), BV_SHAPE(B, m->gin_channels, 1)); // [B, gin, 1]
}

static bv_tensor *flow(bv_ctx *ctx, const bv_synth *m, bv_tensor *x, bv_tensor *mask, bv_tensor *g, int reverse,
                       int training) {
    if (m->flow_tr) return bv_transformer_coupling_block_forward(ctx, m->flow_tr, x, mask, g, reverse, training);
    return bv_residual_coupling_block_forward(ctx, m->flow_rc, x, mask, g, reverse, training);
}

/* torch.unsqueeze(x_mask, 2) * torch.unsqueeze(y_mask, -1): [B, 1, T_y, T_x] */
static bv_tensor *attention_mask(bv_ctx *ctx, bv_tensor *x_mask, bv_tensor *y_mask) {
    const int64_t B = x_mask->shape[0], Tx = x_mask->shape[2], Ty = y_mask->shape[2];
    return bv_mul(ctx, bv_reshape(ctx, x_mask, BV_SHAPE(B, 1, 1, Tx)), bv_reshape(ctx, y_mask, BV_SHAPE(B, 1, Ty, 1)));
}

/* torch.matmul(attn.squeeze(1), s.transpose(1, 2)).transpose(1, 2): [B, C, T_x] -> [B, C, T_y] */
static bv_tensor *expand_prior(bv_ctx *ctx, bv_tensor *attn, bv_tensor *s) {
    const int64_t B = attn->shape[0], Ty = attn->shape[2], Tx = attn->shape[3];
    bv_tensor *a = bv_reshape(ctx, attn, BV_SHAPE(B, Ty, Tx));                    // [B, T_y, T_x]
    return bv_transpose(ctx, bv_matmul(ctx, a, bv_transpose(ctx, s, 1, 2)), 1, 2); // [B, C, T_y]
}

/* torch.sum(t, [1, 2]) for t [B, 1, T] -> [B] */
static bv_tensor *sum_12(bv_ctx *ctx, bv_tensor *t) {
    return bv_sum_dim(ctx, bv_reshape(ctx, t, BV_SHAPE(t->shape[0], -1)), 1, 0);
}

/* ---------------- forward ---------------- */

/* The negative cross-entropy between z_p and every prior frame, MAS's score [B, T_y, T_x]. */
static bv_tensor *neg_cent(bv_ctx *ctx, bv_tensor *z_p, bv_tensor *m_p, bv_tensor *logs_p) {
    bv_tensor *s_p_sq_r = bv_exp(ctx, bv_mul_scalar(ctx, logs_p, -2.0f));                          // [B, D, T_x]
    bv_tensor *nc1 = bv_sum_dim(ctx, bv_rsub_scalar(ctx, (float)(-0.5 * log(2 * M_PI)), logs_p), 1, 1); // [B, 1, T_x]
    bv_tensor *nc2 = bv_matmul(ctx, bv_mul_scalar(ctx, bv_transpose(ctx, bv_square(ctx, z_p), 1, 2), -0.5f),
                               s_p_sq_r);                                                          // [B, T_y, T_x]
    bv_tensor *nc3 = bv_matmul(ctx, bv_transpose(ctx, z_p, 1, 2), bv_mul(ctx, m_p, s_p_sq_r));     // [B, T_y, T_x]
    bv_tensor *nc4 = bv_sum_dim(ctx, bv_mul(ctx, bv_mul_scalar(ctx, bv_square(ctx, m_p), -0.5f), s_p_sq_r), 1,
                                1);                                                                // [B, 1, T_x]
    return bv_add(ctx, bv_add(ctx, bv_add(ctx, nc1, nc2), nc3), nc4);
}

/* The with torch.no_grad() block: noise-scaled MAS -> attn [B, 1, T_y, T_x]. */
static bv_tensor *search_alignment(bv_ctx *ctx, const bv_synth *m, bv_tensor *z_p, bv_tensor *m_p, bv_tensor *logs_p,
                                   bv_tensor *x_mask, bv_tensor *y_mask, bv_synth_out *out) {
    bv_no_grad_begin(ctx);
    bv_tensor *nc = neg_cent(ctx, z_p, m_p, logs_p);                                           // [B, T_y, T_x]
    if (m->use_noise_scaled_mas) {
        /* torch.std over ALL elements (unbiased), padding included */
        bv_tensor *eps = bv_mul_scalar(ctx, bv_mul(ctx, bv_std_dim(ctx, nc, BV_ALL_DIMS, 0, 1), bv_randn_like(ctx, nc)),
                                       m->current_mas_noise_scale);
        nc = bv_add(ctx, nc, eps);
    }
    bv_tensor *attn_mask = attention_mask(ctx, x_mask, y_mask);                                // [B, 1, T_y, T_x]
    const int64_t B = nc->shape[0], Ty = nc->shape[1], Tx = nc->shape[2];
    bv_tensor *mask = bv_reshape(ctx, attn_mask, BV_SHAPE(B, Ty, Tx));
    bv_tensor *attn = bv_reshape(ctx, bv_maximum_path(ctx, nc, mask), BV_SHAPE(B, 1, Ty, Tx));
    bv_no_grad_end(ctx);
    out->neg_cent = nc;
    out->mas_mask = mask;
    return attn;
}

/* l_length = l_length_dp + l_length_sdp, and logw, logw_, logw_sdp, in upstream's call order. */
static void duration_losses(bv_ctx *ctx, const bv_synth *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *w,
                            bv_tensor *g, int training, bv_synth_out *out) {
    bv_tensor *sum_mask = bv_sum(ctx, x_mask);                                                 // []
    bv_tensor *nll = bv_sdp_forward(ctx, m->sdp, x, x_mask, w, g, 0, 1.0f, training);          // [B]
    bv_tensor *l_length_sdp = bv_div(ctx, nll, sum_mask);                                      // [B]
    bv_tensor *logw_ = bv_mul(ctx, bv_log(ctx, bv_add_scalar(ctx, w, 1e-6f)), x_mask);         // [B, 1, T_x]
    bv_tensor *logw = bv_dp_forward(ctx, m->dp, x, x_mask, g, training);                       // [B, 1, T_x]
    bv_tensor *logw_sdp = bv_sdp_forward(ctx, m->sdp, x, x_mask, NULL, g, 1, 1.0f, training);  // [B, 1, T_x]
    bv_tensor *l_length_dp = bv_div(ctx, sum_12(ctx, bv_square(ctx, bv_sub(ctx, logw, logw_))), sum_mask);
    l_length_sdp = bv_add(ctx, l_length_sdp,
                          bv_div(ctx, sum_12(ctx, bv_square(ctx, bv_sub(ctx, logw_sdp, logw_))), sum_mask));
    out->l_length = bv_add(ctx, l_length_dp, l_length_sdp);                                    // [B]
    out->sdp_forward_nll = nll;
    out->logw = logw;
    out->logw_ = logw_;
    out->logw_sdp = logw_sdp;
}

void bv_synth_forward(bv_ctx *ctx, const bv_synth *m, bv_tensor *x, bv_tensor *x_lengths, bv_tensor *spec,
                      bv_tensor *spec_lengths, bv_tensor *sid, bv_tensor *tone, bv_tensor *language, bv_tensor *bert,
                      bv_tensor *ja_bert, bv_tensor *en_bert, int training, bv_synth_out *out) {
    memset(out, 0, sizeof *out);
    check_text_inputs(ctx, m, x, x_lengths, sid, tone, language, bert, ja_bert, en_bert);
    if (!spec || !spec_lengths) bv_ctx_error(ctx, MODULE, "spec and spec_lengths are required");
    bv_tensor *g = speaker_embedding(ctx, m, sid);                                             // [B, gin, 1]
    bv_tensor *m_p, *logs_p, *x_mask;
    bv_tensor *hx = bv_text_encoder_forward(ctx, m->enc_p, x, x_lengths, tone, language, bert, ja_bert, en_bert, g,
                                            training, &m_p, &logs_p, &x_mask);                 // [B, H, T_x]
    bv_tensor *m_q, *logs_q, *y_mask;
    bv_tensor *z = bv_posterior_encoder_forward(ctx, m->enc_q, spec, spec_lengths, g, training, &m_q, &logs_q,
                                                &y_mask);                                      // [B, inter, T_y]
    out->flow_from = bv_ctx_get_mark(ctx);
    out->flow_tape_from = bv_tape_mark(ctx);
    bv_tensor *z_p = flow(ctx, m, z, y_mask, g, 0, training);                                  // [B, inter, T_y]
    out->flow_to = bv_ctx_get_mark(ctx);
    out->flow_tape_to = bv_tape_mark(ctx);

    bv_tensor *attn = search_alignment(ctx, m, z_p, m_p, logs_p, x_mask, y_mask, out);         // [B, 1, T_y, T_x]

    /* expand prior (upstream does it after the duration losses; neither draws random numbers nor
     * reads the other's results, so the order changes nothing but lets the prior hook run first) */
    out->enc_p_m_p = m_p;
    out->enc_p_logs_p = logs_p;
    out->m_p = expand_prior(ctx, attn, m_p);                                                   // [B, inter, T_y]
    out->logs_p = expand_prior(ctx, attn, logs_p);                                             // [B, inter, T_y]
    out->attn = attn;
    out->x_mask = x_mask;
    out->z_mask = y_mask;
    out->z = z;
    out->z_p = z_p;
    out->m_q = m_q;
    out->logs_q = logs_q;
    out->hidden_x = hx;
    out->g = g;
    if (m->prior_hook) m->prior_hook(m->prior_hook_user, ctx, out); /* may replace out->z_p */

    bv_tensor *w = bv_sum_dim(ctx, attn, 2, 0);                                                // [B, 1, T_x]
    duration_losses(ctx, m, hx, x_mask, w, g, training, out);

    bv_tensor *z_slice = bv_rand_slice_segments(ctx, z, spec_lengths, m->segment_size, &out->ids_slice);
    out->y_hat = bv_generator_forward(ctx, m->dec, z_slice, g);                                // [B, 1, seg * hop]
}

/* ---------------- infer ---------------- */

/* torch.ceil (no grad; no ceil op exists because nothing differentiates through it). On the host:
 * w is [B, 1, T_x], a few hundred values. */
static bv_tensor *ceil_nograd(bv_ctx *ctx, const bv_tensor *w) {
    bv_tensor *y = bv_new_like(ctx, w);
    float *h = bv_host_copy(w);
    for (int64_t i = 0; i < w->numel; i++) h[i] = ceilf(h[i]);
    bv_from_host(y, h);
    free(h);
    return y;
}

int64_t bv_synth_infer_bytes(const bv_synth *m, int64_t B, int64_t T_x, int64_t T_y, int64_t dec_chunk) {
    const bv_text_encoder_cfg *e = &m->enc_p->cfg;
    const int64_t f = (int64_t)sizeof(float), heads = e->n_heads, H = e->hidden_channels, F = e->filter_channels;
    /* encoder: scores, softmax and relative-position logits per head; activations and BERT inputs */
    int64_t bytes = B * f * (4 * heads * T_x * T_x + T_x * (8 * H + 2 * F + 3 * 1024));
    if (T_y <= 0) return bytes;
    bytes += B * f * T_y * T_x;                                     /* the path (attn) */
    bytes += B * f * T_y * (16 * m->inter_channels + 8 * H + 2 * F); /* prior, noise, flow activations */
    if (m->use_transformer_flow) bytes += B * f * 4 * heads * T_y * T_y;
    const bv_generator_cfg *g = &m->dec->cfg;
    int64_t hop = 1, per_frame = 0, scale = 1;
    for (int i = 0; i < g->n_upsamples; i++) {
        scale *= g->upsample_rates[i];
        const int64_t stage = (int64_t)(g->upsample_initial_channel >> (i + 1)) * scale;
        per_frame = stage > per_frame ? stage : per_frame;
        hop *= g->upsample_rates[i];
    }
    const int64_t dec_frames = dec_chunk > 0 && dec_chunk < T_y ? dec_chunk + 2 * bv_generator_receptive_frames(g) : T_y;
    bytes += B * f * dec_frames * per_frame * 6; /* x, the running sum, a resblock's two temporaries, reorders */
    bytes += B * f * T_y * hop * 2;              /* the audio, and its copy out */
    return bytes;
}

/* Refuses (an op error naming what to change) what would not fit in the memory left. */
static void check_infer_memory(bv_ctx *ctx, const bv_synth *m, int64_t B, int64_t T_x, int64_t T_y,
                               const bv_infer_opts *o) {
    const int64_t need = bv_synth_infer_bytes(m, B, T_x, T_y, o->dec_chunk), avail = bv_mem_available();
    if (need <= avail) return;
    char a[32], b[32];
    if (T_y <= 0)
        bv_ctx_error(ctx, "infer", "%lld phones need about %s to encode, %s is available: give shorter sentences "
                     "(bv2 infer splits text at sentence ends unless --no-split)", (long long)T_x,
                     bv_mem_str(need, a, sizeof a), bv_mem_str(avail, b, sizeof b));
    bv_ctx_error(ctx, "infer", "%lld phones make %lld frames (length_scale %g), which need about %s; %s is available: "
                 "give shorter sentences or a smaller --length-scale", (long long)T_x, (long long)T_y,
                 (double)o->length_scale, bv_mem_str(need, a, sizeof a), bv_mem_str(avail, b, sizeof b));
}

void bv_synth_infer_full(bv_ctx *ctx, const bv_synth *m, bv_tensor *x, bv_tensor *x_lengths, bv_tensor *sid,
                         bv_tensor *tone, bv_tensor *language, bv_tensor *bert, bv_tensor *ja_bert, bv_tensor *en_bert,
                         const bv_infer_opts *o, bv_synth_infer_out *out) {
    memset(out, 0, sizeof *out);
    check_text_inputs(ctx, m, x, x_lengths, sid, tone, language, bert, ja_bert, en_bert);
    check_infer_memory(ctx, m, x->shape[0], x->shape[1], 0, o);
    bv_no_grad_begin(ctx);
    bv_tensor *g = speaker_embedding(ctx, m, sid);                                             // [B, gin, 1]
    bv_tensor *m_p, *logs_p, *x_mask;
    bv_tensor *hx = bv_text_encoder_forward(ctx, m->enc_p, x, x_lengths, tone, language, bert, ja_bert, en_bert, g,
                                            0, &m_p, &logs_p, &x_mask);                        // [B, H, T_x]
    bv_tensor *logw_sdp = bv_sdp_forward(ctx, m->sdp, hx, x_mask, NULL, g, 1, o->noise_scale_w, 0);
    bv_tensor *logw = bv_add(ctx, bv_mul_scalar(ctx, logw_sdp, o->sdp_ratio),
                             bv_mul_scalar(ctx, bv_dp_forward(ctx, m->dp, hx, x_mask, g, 0),
                                           (float)(1.0 - (double)o->sdp_ratio)));              // [B, 1, T_x]
    bv_tensor *w = bv_mul_scalar(ctx, bv_mul(ctx, bv_exp(ctx, logw), x_mask), o->length_scale);
    bv_tensor *w_ceil = ceil_nograd(ctx, w);                                                   // [B, 1, T_x]
    bv_tensor *y_lengths = bv_to_i64(ctx, bv_clamp(ctx, sum_12(ctx, w_ceil), 1.0f, INFINITY)); // [B]
    int64_t T_y = 0;
    for (int64_t b = 0; b < y_lengths->numel; b++) {
        const int64_t len = (int64_t)bv_tensor_item_at(y_lengths, b);
        T_y = len > T_y ? len : T_y;
    }
    check_infer_memory(ctx, m, x->shape[0], x->shape[1], T_y, o); /* durations known, nothing big made yet */
    bv_tensor *y_mask = bv_to_f32(ctx, bv_sequence_mask(ctx, y_lengths, 0));                   // [B, T_y]
    y_mask = bv_reshape(ctx, y_mask, BV_SHAPE(y_mask->shape[0], 1, y_mask->shape[1]));        // [B, 1, T_y]
    bv_tensor *attn = bv_generate_path(ctx, w_ceil, attention_mask(ctx, x_mask, y_mask));      // [B, 1, T_y, T_x]

    m_p = expand_prior(ctx, attn, m_p);                                                        // [B, inter, T_y]
    logs_p = expand_prior(ctx, attn, logs_p);                                                  // [B, inter, T_y]
    bv_tensor *z_p = bv_add(ctx, m_p, bv_mul_scalar(ctx, bv_mul(ctx, bv_randn_like(ctx, m_p), bv_exp(ctx, logs_p)),
                                                    o->noise_scale));
    bv_tensor *z = flow(ctx, m, z_p, y_mask, g, 1, 0);                                         // [B, inter, T_y]
    bv_tensor *zin = bv_mul(ctx, z, y_mask);
    if (o->max_len > 0) zin = bv_slice(ctx, zin, 2, 0, o->max_len, 1);                        // (z * y_mask)[:, :, :max_len]
    out->o = bv_generator_forward_chunked(ctx, m->dec, zin, g, o->dec_chunk);                  // [B, 1, T * hop]
    bv_no_grad_end(ctx);
    out->attn = attn;
    out->y_mask = y_mask;
    out->z = z;
    out->z_p = z_p;
    out->m_p = m_p;
    out->logs_p = logs_p;
    out->w = w;
}

bv_tensor *bv_synth_infer(bv_ctx *ctx, const bv_synth *m, bv_tensor *x, bv_tensor *x_lengths, bv_tensor *sid,
                          bv_tensor *tone, bv_tensor *language, bv_tensor *bert, bv_tensor *ja_bert,
                          bv_tensor *en_bert, const bv_infer_opts *o, bv_tensor **w_out) {
    bv_synth_infer_out r;
    bv_synth_infer_full(ctx, m, x, x_lengths, sid, tone, language, bert, ja_bert, en_bert, o, &r);
    if (w_out) *w_out = r.w;
    return r.o;
}
