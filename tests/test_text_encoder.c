/* test_text_encoder.c - models.TextEncoder (src/model/text_encoder.c): golden case B01 (outputs,
 * BERT/speaker input grads, every parameter grad), finite differences, padding independence,
 * parameter names and init, and input shape errors. */
#include <string.h>

#include "../src/model/text_encoder.h"
#include "../src/ops/ops.h"
#include "golden.h"

/* Rows of a stored parameter table (the embedding sizes come from upstream's symbols.py, which
 * the manifest config does not carry). */
static int table_rows(bv_golden *g, const char *name) {
    bv_tensor *t = bv_golden_tensor(g, name);
    return t && t->ndim == 2 ? (int)t->shape[0] : 0;
}

BV_GOLDEN_TEST(text_encoder_golden_B01_text_encoder) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "B01_text_encoder");
    if (!g) return;
    int n_symbols = table_rows(g, "param.emb.weight");
    bv_text_encoder_cfg cfg = {
        .n_vocab = (int)bv_golden_cfg_int_or(g, "n_vocab", n_symbols),
        .out_channels = (int)bv_golden_cfg_int(g, "out_channels"),
        .hidden_channels = (int)bv_golden_cfg_int(g, "hidden_channels"),
        .filter_channels = (int)bv_golden_cfg_int(g, "filter_channels"),
        .n_heads = (int)bv_golden_cfg_int(g, "n_heads"),
        .n_layers = (int)bv_golden_cfg_int(g, "n_layers"),
        .kernel_size = (int)bv_golden_cfg_int(g, "kernel_size"),
        .p_dropout = (float)bv_golden_cfg_num(g, "p_dropout"),
        .gin_channels = (int)bv_golden_cfg_int_or(g, "gin_channels", 0),
        .n_symbols = n_symbols,
        .n_tones = table_rows(g, "param.tone_emb.weight"),
        .n_languages = table_rows(g, "param.language_emb.weight"),
    };
    char err[256];
    BV_CHECK(cfg.n_symbols > 0 && cfg.n_tones > 0 && cfg.n_languages > 0, "embedding tables missing in the case");
    BV_CHECK(bv_text_encoder_cfg_check(&cfg, err, sizeof err) == 0, "config: %s", err);
    if (ts->failed) {
        bv_golden_close(g);
        return;
    }
    bv_params ps;
    bv_params_init(&ps);
    bv_text_encoder *enc = bv_text_encoder_new(&ps, "", &cfg);
    bv_golden_load_params(g, &ps, "param.");
    bv_golden_replay_noise(g);
    bv_tensor *x = bv_golden_tensor(g, "in.x");                                       // [B, T] I64
    bv_tensor *x_lengths = bv_golden_tensor(g, "in.x_lengths");                       // [B] I64
    bv_tensor *tone = bv_golden_tensor(g, "in.tone");                                 // [B, T] I64
    bv_tensor *language = bv_golden_tensor(g, "in.language");                         // [B, T] I64
    bv_tensor *bert = bv_golden_input(g, "in.bert");                                  // [B, 1024, T]
    bv_tensor *ja_bert = bv_golden_input(g, "in.ja_bert");                            // [B, 1024, T]
    bv_tensor *en_bert = bv_golden_input(g, "in.en_bert");                            // [B, 1024, T]
    bv_tensor *cond = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL;   // [B, gin, 1]
    if (x && x_lengths && tone && language && bert && ja_bert && en_bert) {
        bv_tensor *m_p, *logs_p, *x_mask;
        bv_tensor *h = bv_text_encoder_forward(ctx, enc, x, x_lengths, tone, language, bert, ja_bert, en_bert, cond, 1,
                                               &m_p, &logs_p, &x_mask);
        bv_golden_output(g, "x", h);          // [B, H, T]
        bv_golden_output(g, "m", m_p);        // [B, out, T]
        bv_golden_output(g, "logs", logs_p);  // [B, out, T]
        bv_golden_output(g, "x_mask", x_mask); // [B, 1, T]
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    } else {
        BV_CHECK(0, "B01 inputs missing");
    }
    bv_text_encoder_free(enc);
    bv_params_free(&ps);
    bv_golden_close(g);
}

/* ---- unit tests on a small random module ---- */

static const bv_text_encoder_cfg SMALL = {.n_vocab = 112, .out_channels = 2, .hidden_channels = 8,
                                          .filter_channels = 2, .n_heads = 2, .n_layers = 3, .kernel_size = 3,
                                          .p_dropout = 0.0f, .gin_channels = 3};

typedef struct {
    bv_tensor *x, *x_lengths, *tone, *language, *bert, *ja_bert, *en_bert, *g;
} te_inputs;

static bv_tensor *ids(bv_ctx *ctx, int64_t B, int64_t T, int64_t vocab, uint64_t salt) {
    bv_tensor *t = bv_new(ctx, BV_I64, BV_SHAPE(B, T));
    for (int64_t i = 0; i < t->numel; i++) t->idata[i] = (int64_t)((i * 7 + salt * 13 + 1) % (uint64_t)vocab);
    return t;
}

static te_inputs small_inputs(bv_ctx *ctx, int64_t B, int64_t T, const bv_text_encoder *enc) {
    te_inputs in;
    in.x = ids(ctx, B, T, enc->cfg.n_symbols, 1);
    in.tone = ids(ctx, B, T, enc->cfg.n_tones, 2);
    in.language = ids(ctx, B, T, enc->cfg.n_languages, 3);
    in.x_lengths = bv_new(ctx, BV_I64, BV_SHAPE(B));
    for (int64_t b = 0; b < B; b++) in.x_lengths->idata[b] = T - 2 * b;
    in.bert = bv_test_input(ctx, BV_SHAPE(B, BV_TEXT_ENCODER_BERT_DIM, T), 1.0f);
    in.ja_bert = bv_test_input(ctx, BV_SHAPE(B, BV_TEXT_ENCODER_BERT_DIM, T), 1.0f);
    in.en_bert = bv_test_input(ctx, BV_SHAPE(B, BV_TEXT_ENCODER_BERT_DIM, T), 1.0f);
    in.g = bv_test_input(ctx, BV_SHAPE(B, enc->cfg.gin_channels, 1), 1.0f);
    return in;
}

static bv_text_encoder *small_encoder(bv_test_state *ts, bv_params *ps) {
    bv_params_init(ps);
    bv_text_encoder *enc = bv_text_encoder_new(ps, "enc_p.", &SMALL);
    bv_text_encoder_reset_parameters(enc, &ts->ctx->rng);
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *p = ps->items[i];
        /* the encoder's LayerNorms start at gamma 1, beta 0: perturb them so their grads are tested too */
        if (strstr(p->name, "norm_layers"))
            for (int64_t j = 0; j < p->numel; j++) p->data[j] += 0.2f * (float)bv_rng_normal(&ts->ctx->rng);
        /* keep the FFN's ReLU inputs away from 0, so finite differences rarely straddle a kink */
        if (strstr(p->name, "conv_1.bias"))
            for (int64_t j = 0; j < p->numel; j++) p->data[j] += 1.0f;
    }
    return enc;
}

typedef struct {
    const bv_text_encoder *enc;
    te_inputs in;
} fd_case;

/* [B, (H + 2 out) * T]: x, m and logs flattened side by side, so one check covers all three.
 * The checked tensors (features or parameters) are perturbed in place, so f->in is used as is. */
static bv_tensor *te_fn(bv_ctx *ctx, bv_tensor **inputs, void *user) {
    fd_case *f = user;
    te_inputs *in = &f->in;
    bv_tensor *m_p, *logs_p;
    bv_tensor *h = bv_text_encoder_forward(ctx, f->enc, in->x, in->x_lengths, in->tone, in->language, in->bert,
                                           in->ja_bert, in->en_bert, in->g, 0, &m_p, &logs_p, NULL);
    int64_t B = h->shape[0];
    bv_tensor *parts[3] = {bv_reshape(ctx, h, BV_SHAPE(B, -1)), bv_reshape(ctx, m_p, BV_SHAPE(B, -1)),
                           bv_reshape(ctx, logs_p, BV_SHAPE(B, -1))};
    return bv_concat(ctx, 3, parts, 1);
}

BV_TEST(text_encoder_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_text_encoder *enc = small_encoder(ts, &ps);
    fd_case f = {enc, small_inputs(ctx, 2, 5, enc)};
    /* A single BERT feature moves the f32 outputs so little (through a 1024-wide projection) that
     * f32 rounding dominates a 1e-3 central difference; the path is smooth, so use a 1e-2 step. */
    bv_tensor *feats[] = {f.in.bert, f.in.ja_bert, f.in.en_bert};
    bv_gradcheck(ts, "TextEncoder (BERT features)", te_fn, 3, feats, &f, 3e-3, 1e-3, 1e-2, 12);
    bv_tensor *in[] = {f.in.g, bv_params_get(&ps, "enc_p.emb.weight"), bv_params_get(&ps, "enc_p.tone_emb.weight"),
                       bv_params_get(&ps, "enc_p.language_emb.weight"), bv_params_get(&ps, "enc_p.en_bert_proj.weight"),
                       bv_params_get(&ps, "enc_p.encoder.spk_emb_linear.weight"),
                       bv_params_get(&ps, "enc_p.encoder.norm_layers_2.2.gamma"),
                       bv_params_get(&ps, "enc_p.proj.bias")};
    int n = (int)(sizeof in / sizeof in[0]);
    for (int i = 0; i < n; i++) BV_CHECK(in[i] != NULL, "gradcheck input %d missing", i);
    if (!ts->failed) bv_gradcheck(ts, "TextEncoder (g, parameters)", te_fn, n, in, &f, 3e-3, 1e-3, 1e-2, 12);
    bv_text_encoder_free(enc);
    bv_params_free(&ps);
}

/* Padded tokens must not influence the valid frames (x * x_mask before the encoder, masked
 * attention), and every output is zero on padded frames. */
BV_TEST(text_encoder_padding) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_text_encoder *enc = small_encoder(ts, &ps);
    const int64_t B = 2, T = 6, H = SMALL.hidden_channels, O = SMALL.out_channels;
    te_inputs in = small_inputs(ctx, B, T, enc);
    bv_tensor *m1, *l1, *mask;
    bv_tensor *h1 = bv_text_encoder_forward(ctx, enc, in.x, in.x_lengths, in.tone, in.language, in.bert, in.ja_bert,
                                            in.en_bert, in.g, 0, &m1, &l1, &mask);
    int64_t len1 = in.x_lengths->idata[1];
    for (int64_t t = len1; t < T; t++) { /* change item 1's padding: ids and BERT features */
        in.x->idata[T + t] = (in.x->idata[T + t] + 5) % enc->cfg.n_symbols;
        in.tone->idata[T + t] = (in.tone->idata[T + t] + 1) % enc->cfg.n_tones;
        for (int64_t c = 0; c < BV_TEXT_ENCODER_BERT_DIM; c++)
            in.bert->data[(BV_TEXT_ENCODER_BERT_DIM + c) * T + t] += 3.0f; // item 1, channel c
    }
    bv_tensor *m2, *l2;
    bv_tensor *h2 = bv_text_encoder_forward(ctx, enc, in.x, in.x_lengths, in.tone, in.language, in.bert, in.ja_bert,
                                            in.en_bert, in.g, 0, &m2, &l2, NULL);
    double diff = 0, pad = 0;
    for (int64_t i = 0; i < h1->numel; i++) diff = fmax(diff, fabs(h1->data[i] - h2->data[i]));
    for (int64_t i = 0; i < m1->numel; i++)
        diff = fmax(diff, fabs(m1->data[i] - m2->data[i]) + fabs(l1->data[i] - l2->data[i]));
    BV_CHECK(diff == 0.0, "padding changed the outputs by %g", diff);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            float want = t < in.x_lengths->idata[b] ? 1.0f : 0.0f;
            BV_CHECK(mask->data[b * T + t] == want, "x_mask[%lld, 0, %lld] = %g", (long long)b, (long long)t,
                     mask->data[b * T + t]);
            if (want != 0.0f) continue;
            for (int64_t c = 0; c < H; c++) pad = fmax(pad, fabs(h1->data[(b * H + c) * T + t]));
            for (int64_t c = 0; c < O; c++)
                pad = fmax(pad, fabs(m1->data[(b * O + c) * T + t]) + fabs(l1->data[(b * O + c) * T + t]));
        }
    BV_CHECK(pad == 0.0, "outputs on padded frames are not zero: %g", pad);
    BV_CHECK(mask->ndim == 3 && mask->shape[0] == B && mask->shape[1] == 1 && mask->shape[2] == T, "x_mask shape");
    bv_text_encoder_free(enc);
    bv_params_free(&ps);
}

BV_TEST(text_encoder_param_names) {
    bv_params ps;
    bv_params_init(&ps);
    bv_text_encoder *enc = bv_text_encoder_new(&ps, "enc_p.", &SMALL);
    static const char *head[] = {"enc_p.emb.weight",        "enc_p.tone_emb.weight",   "enc_p.language_emb.weight",
                                 "enc_p.bert_proj.weight",  "enc_p.bert_proj.bias",    "enc_p.ja_bert_proj.weight",
                                 "enc_p.ja_bert_proj.bias", "enc_p.en_bert_proj.weight", "enc_p.en_bert_proj.bias",
                                 "enc_p.encoder.spk_emb_linear.weight"};
    int nh = (int)(sizeof head / sizeof head[0]);
    BV_CHECK(ps.n > nh + 2, "too few parameters: %d", ps.n);
    for (int i = 0; i < nh && i < ps.n; i++)
        BV_CHECK(!strcmp(ps.items[i]->name, head[i]), "param %d: %s, want %s", i, ps.items[i]->name, head[i]);
    BV_CHECK(!strcmp(ps.items[ps.n - 2]->name, "enc_p.proj.weight") &&
                 !strcmp(ps.items[ps.n - 1]->name, "enc_p.proj.bias"),
             "proj must come last: %s, %s", ps.items[ps.n - 2]->name, ps.items[ps.n - 1]->name);
    /* upstream symbols.py sizes by default, whatever n_vocab says */
    BV_CHECK(enc->emb->shape[0] == BV_TEXT_ENCODER_N_SYMBOLS && enc->emb->shape[1] == SMALL.hidden_channels,
             "emb shape");
    BV_CHECK(enc->tone_emb->shape[0] == BV_TEXT_ENCODER_N_TONES &&
                 enc->language_emb->shape[0] == BV_TEXT_ENCODER_N_LANGUAGES,
             "tone/language tables");
    BV_CHECK(enc->bert_proj.weight->shape[1] == BV_TEXT_ENCODER_BERT_DIM && enc->proj.weight->shape[0] == 4,
             "projection shapes");
    bv_text_encoder_free(enc);
    bv_params_free(&ps);
}

BV_TEST(text_encoder_reset_parameters) {
    /* nn.init.normal_(emb.weight, 0.0, hidden**-0.5) for all three tables */
    bv_params ps;
    bv_params_init(&ps);
    bv_text_encoder_cfg cfg = SMALL;
    cfg.hidden_channels = 64;
    cfg.n_heads = 4;
    bv_text_encoder *enc = bv_text_encoder_new(&ps, "", &cfg);
    bv_text_encoder_reset_parameters(enc, &ts->ctx->rng);
    double s = 0, s2 = 0;
    int64_t n = enc->emb->numel;
    for (int64_t i = 0; i < n; i++) {
        s += enc->emb->data[i];
        s2 += (double)enc->emb->data[i] * enc->emb->data[i];
    }
    double mean = s / (double)n, sd = sqrt(s2 / (double)n - mean * mean);
    BV_CHECK(fabs(mean) < 0.01 && fabs(sd - 0.125) < 0.006, "emb mean %g std %g, want 0 and 0.125", mean, sd);
    double nz = 0;
    for (int64_t i = 0; i < enc->language_emb->numel; i++) nz += fabs(enc->language_emb->data[i]);
    for (int64_t i = 0; i < enc->proj.weight->numel; i++) nz += fabs(enc->proj.weight->data[i]);
    BV_CHECK(nz > 0, "language_emb / proj not initialised");
    bv_text_encoder_free(enc);
    bv_params_free(&ps);
}

/* Forward of `in` with one tensor swapped for a bad one; returns 1 (msg filled) if it raised. */
static int raises(bv_ctx *ctx, const bv_text_encoder *enc, te_inputs in, char *msg, int cap) {
    char buf[512];
    int raised = BV_EXPECT_ERROR(ctx, buf, bv_text_encoder_forward(ctx, enc, in.x, in.x_lengths, in.tone, in.language,
                                                                   in.bert, in.ja_bert, in.en_bert, in.g, 0, NULL,
                                                                   NULL, NULL));
    snprintf(msg, (size_t)cap, "%s", raised ? buf : "(no error)");
    return raised;
}

BV_TEST(text_encoder_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_text_encoder *enc = small_encoder(ts, &ps);
    const te_inputs in = small_inputs(ctx, 2, 5, enc);
    char msg[512];
    te_inputs bad = in;
    bad.ja_bert = bv_test_input(ctx, BV_SHAPE(2, 768, 5), 1.0f);
    BV_CHECK(raises(ctx, enc, bad, msg, sizeof msg) && strstr(msg, "TextEncoder") && strstr(msg, "ja_bert") &&
                 strstr(msg, "[2, 768, 5]") && strstr(msg, "[2, 5]"),
             "ja_bert [2, 768, 5] must raise naming both shapes: %s", msg);
    bad = in;
    bad.tone = ids(ctx, 2, 4, enc->cfg.n_tones, 0);
    BV_CHECK(raises(ctx, enc, bad, msg, sizeof msg) && strstr(msg, "TextEncoder") && strstr(msg, "[2, 4]") &&
                 strstr(msg, "[2, 5]"),
             "tone [2, 4] for x [2, 5] must raise: %s", msg);
    bad = in;
    bad.x_lengths = bv_zeros(ctx, BV_I64, BV_SHAPE(3));
    BV_CHECK(raises(ctx, enc, bad, msg, sizeof msg) && strstr(msg, "TextEncoder") && strstr(msg, "[3]") &&
                 strstr(msg, "[2, 5]"),
             "x_lengths [3] for x [2, 5] must raise: %s", msg);
    bad = in;
    bad.g = bv_test_input(ctx, BV_SHAPE(2, 5, 1), 1.0f);
    BV_CHECK(raises(ctx, enc, bad, msg, sizeof msg) && strstr(msg, "TextEncoder") && strstr(msg, "[2, 5, 1]") &&
                 strstr(msg, "[2, 5]"),
             "g [2, 5, 1] with gin 3 must raise: %s", msg);
    bad = in;
    bad.x = bv_to_f32(ctx, in.x);
    BV_CHECK(raises(ctx, enc, bad, msg, sizeof msg) && strstr(msg, "TextEncoder") && strstr(msg, "I64"),
             "f32 token ids must raise: %s", msg);
    bad = in;
    bad.language = ids(ctx, 2, 5, enc->cfg.n_languages, 3);
    bad.language->idata[3] = enc->cfg.n_languages; /* one past the table */
    BV_CHECK(raises(ctx, enc, bad, msg, sizeof msg) && strstr(msg, "embedding") && strstr(msg, "out of range"),
             "language id 3 must raise: %s", msg);
    bv_text_encoder_free(enc);
    bv_params_free(&ps);

    char err[256];
    bv_text_encoder_cfg c = SMALL;
    c.n_layers = 2; /* gin_channels > 0 needs cond_layer_idx 2 < n_layers */
    BV_CHECK(bv_text_encoder_cfg_check(&c, err, sizeof err) != 0 && strstr(err, "n_layers"), "n_layers 2: %s", err);
    c = SMALL;
    c.out_channels = 0;
    BV_CHECK(bv_text_encoder_cfg_check(&c, err, sizeof err) != 0 && strstr(err, "out_channels"), "out 0: %s", err);
}
