/* test_synthesizer.c - models.SynthesizerTrn (src/model/synthesizer.c): golden F02_infer (F01's
 * initial net_g parameters, F02's inputs and replayed draws: o, attn, y_mask, z, z_p, m_p, logs_p and
 * mid.w) and the forward half of golden F01_train_step (every fwd.* the synthesizer returns and the
 * sub.* it can produce, with upstream's five draws replayed); on a tiny random model: state_dict names
 * and order, config checks, the MAS epsilon formula, alignment/shape invariants, gradients reaching
 * every submodule, infer's length rules, and input errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/app/model_config.h"
#include "../src/model/synthesizer.h"
#include "../src/ops/ops.h"
#include "golden.h"

/* ---------------- golden helpers ---------------- */

/* Bitwise equality with the stored tensor (alignments and masks). */
static void check_exact(bv_test_state *ts, bv_golden *g, const char *name, const bv_tensor *t) {
    bv_tensor *ref = bv_golden_tensor(g, name);
    if (!ref || !t || ref->numel != t->numel || ref->dtype != t->dtype) {
        BV_CHECK(0, "%s: missing or shape/dtype differs", name);
        return;
    }
    int64_t bad = 0;
    for (int64_t i = 0; i < t->numel; i++)
        bad += t->dtype == BV_F32 ? t->data[i] != ref->data[i] : t->idata[i] != ref->idata[i];
    BV_CHECK(bad == 0, "%s: %lld of %lld elements differ (must be exact)", name, (long long)bad, (long long)t->numel);
}

/* bv_golden_check with the case's tolerance; additionally exact when the manifest puts the tensor
 * in the "exact" group (golden.c maps F32 fwd./sub. names to "forward"). */
static void check(bv_test_state *ts, bv_golden *g, const char *name, const bv_tensor *t) {
    bv_golden_check(g, name, t);
    const cJSON *e = bv_golden_manifest_tensor(g, name);
    const cJSON *grp = e ? cJSON_GetObjectItem(e, "group") : NULL;
    if (cJSON_IsString(grp) && !strcmp(grp->valuestring, "exact")) check_exact(ts, g, name, t);
}

/* The model config F01 was made with (manifest config.config = checkpoints/config.json), with the
 * dropout rates the golden generator used (manifest config.dropout: all set to 0). */
static int f01_config(bv_test_state *ts, bv_golden *g1, bv_config *cfg) {
    char err[512];
    const cJSON *mc = bv_golden_config(g1);
    if (bv_config_from_json(cfg, cJSON_GetObjectItem(mc, "config"), "F01_train_step manifest config", err,
                            sizeof err)) {
        BV_CHECK(0, "%s", err);
        return -1;
    }
    const cJSON *drop = cJSON_GetObjectItem(mc, "dropout");
    if (cJSON_IsString(drop) && strstr(drop->valuestring, "set to 0"))
        cfg->model.sdp_p_dropout = cfg->model.dp_p_dropout = cfg->model.dur_disc_p_dropout = 0.0f;
    BV_CHECK(bv_synth_config_check(cfg, err, sizeof err) == 0, "%s", err);
    if (ts->failed) {
        bv_config_free(cfg);
        return -1;
    }
    return 0;
}

static void check_all_draws_used(bv_test_state *ts, const char *case_name) {
    const bv_rng *r = &ts->ctx->rng;
    BV_CHECK(r->next_replay == r->n_replay, "%s: %d of %d recorded draws consumed", case_name, r->next_replay,
             r->n_replay);
}

/* ---------------- golden: F01 forward ---------------- */

BV_GOLDEN_TEST(synthesizer_golden_F01_train_step_forward) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, "F01_train_step");
    if (!g) return;
    bv_config cfg;
    if (f01_config(ts, g, &cfg)) {
        bv_golden_close(g);
        return;
    }
    bv_params ps;
    bv_params_init(&ps);
    bv_synth *net_g = bv_synth_from_config(&ps, "", &cfg);
    bv_golden_load_params(g, &ps, "param.net_g.");
    bv_synth_set_mas_noise_scale(net_g, (float)bv_golden_cfg_num(g, "current_mas_noise_scale"));
    bv_golden_replay_noise(g); /* enc_q z, MAS epsilon, SDP e_q, SDP reverse z, rand_slice_segments */
    bv_tensor *x = bv_golden_tensor(g, "in.x"), *x_lengths = bv_golden_tensor(g, "in.x_lengths");
    bv_tensor *spec = bv_golden_tensor(g, "in.spec"), *spec_lengths = bv_golden_tensor(g, "in.spec_lengths");
    bv_tensor *sid = bv_golden_tensor(g, "in.speakers"), *tone = bv_golden_tensor(g, "in.tone");
    bv_tensor *language = bv_golden_tensor(g, "in.language"), *bert = bv_golden_tensor(g, "in.bert");
    bv_tensor *ja_bert = bv_golden_tensor(g, "in.ja_bert"), *en_bert = bv_golden_tensor(g, "in.en_bert");
    if (!ts->failed) {
        bv_synth_out o;
        bv_synth_forward(ctx, net_g, x, x_lengths, spec, spec_lengths, sid, tone, language, bert, ja_bert, en_bert, 1,
                         &o);
        check_all_draws_used(ts, "F01_train_step");
        /* net_g's return values, named as train_ms unpacks them */
        check(ts, g, "fwd.y_hat", o.y_hat);
        check(ts, g, "fwd.l_length", o.l_length);
        check(ts, g, "fwd.attn", o.attn);
        check(ts, g, "fwd.ids_slice", o.ids_slice);
        check(ts, g, "fwd.x_mask", o.x_mask);
        check(ts, g, "fwd.z_mask", o.z_mask);
        check(ts, g, "fwd.z", o.z);
        check(ts, g, "fwd.z_p", o.z_p);
        check(ts, g, "fwd.m_p", o.m_p);
        check(ts, g, "fwd.logs_p", o.logs_p);
        check(ts, g, "fwd.m_q", o.m_q);
        check(ts, g, "fwd.logs_q", o.logs_q);
        check(ts, g, "fwd.hidden_x", o.hidden_x);
        check(ts, g, "fwd.logw", o.logw);
        check(ts, g, "fwd.logw_", o.logw_);
        check(ts, g, "fwd.logw_sdp", o.logw_sdp);
        check(ts, g, "fwd.g", o.g);
        /* submodule results */
        check(ts, g, "sub.enc_p.x", o.hidden_x);
        check(ts, g, "sub.enc_p.m_p", o.enc_p_m_p);
        check(ts, g, "sub.enc_p.logs_p", o.enc_p_logs_p);
        check(ts, g, "sub.enc_p.x_mask", o.x_mask);
        check(ts, g, "sub.enc_q.z", o.z);
        check(ts, g, "sub.enc_q.m_q", o.m_q);
        check(ts, g, "sub.enc_q.logs_q", o.logs_q);
        check(ts, g, "sub.enc_q.y_mask", o.z_mask);
        check(ts, g, "sub.dp.logw", o.logw);
        check(ts, g, "sub.dec.o", o.y_hat);
        check(ts, g, "sub.sdp.forward_nll", o.sdp_forward_nll);
        check(ts, g, "sub.sdp.reverse_logw", o.logw_sdp);
        check(ts, g, "sub.mas.neg_cent", o.neg_cent);
        check(ts, g, "sub.mas.mask", o.mas_mask);
    }
    bv_synth_free(net_g);
    bv_params_free(&ps);
    bv_config_free(&cfg);
    /* net_g's forward only: the rest of the training step is train_step_golden_F01_train_step's */
    static const char *const step_only[] = {"in.y*", "fwd.*mel", "fwd.y_sliced", "param.net_d.*", "param.net_wd.*",
                                            "param.net_dur_disc.*", "dstep.*", "wdstep.*", "gstep.*", "grad.*",
                                            "after.*", "lr.*"};
    for (size_t i = 0; i < sizeof step_only / sizeof step_only[0]; i++)
        bv_golden_ignore(g, step_only[i], "made by train_ms around net_g's forward (waveform slices, mels, the "
                                          "discriminators, losses and optimizer step): compared by "
                                          "train_step_golden_F01_train_step");
    bv_golden_close(g);
}

/* ---------------- golden: F02 infer ---------------- */

BV_GOLDEN_TEST(synthesizer_golden_F02_infer) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g1 = bv_golden_open(ts, ctx, "F01_train_step"); /* F02 uses F01's initial net_g */
    bv_golden *g = bv_golden_open(ts, ctx, "F02_infer");
    bv_config cfg;
    if (!g1 || !g || f01_config(ts, g1, &cfg)) {
        bv_golden_close(g1);
        bv_golden_close(g);
        return;
    }
    bv_params ps;
    bv_params_init(&ps);
    bv_synth *net_g = bv_synth_from_config(&ps, "", &cfg);
    bv_golden_load_params(g1, &ps, "param.net_g.");
    bv_golden_ignore(g1, "*", "F01 gives F02's starting net_g (param.net_g.*) and config; F01's other tensors are "
                              "compared by train_step_golden_F01_train_step");
    bv_golden_close(g1);
    bv_infer_opts opt = {.noise_scale = (float)bv_golden_cfg_num(g, "noise_scale"),
                         .length_scale = (float)bv_golden_cfg_num(g, "length_scale"),
                         .noise_scale_w = (float)bv_golden_cfg_num(g, "noise_scale_w"),
                         .sdp_ratio = (float)bv_golden_cfg_num(g, "sdp_ratio"),
                         .max_len = bv_golden_cfg_int_or(g, "max_len", 0)};
    bv_golden_replay_noise(g); /* SDP reverse z, then z_p */
    bv_tensor *x = bv_golden_tensor(g, "in.x"), *x_lengths = bv_golden_tensor(g, "in.x_lengths");
    bv_tensor *sid = bv_golden_tensor(g, "in.sid"), *tone = bv_golden_tensor(g, "in.tone");
    bv_tensor *language = bv_golden_tensor(g, "in.language"), *bert = bv_golden_tensor(g, "in.bert");
    bv_tensor *ja_bert = bv_golden_tensor(g, "in.ja_bert"), *en_bert = bv_golden_tensor(g, "in.en_bert");
    if (!ts->failed) {
        bv_synth_infer_out r;
        bv_synth_infer_full(ctx, net_g, x, x_lengths, sid, tone, language, bert, ja_bert, en_bert, &opt, &r);
        check_all_draws_used(ts, "F02_infer");
        check(ts, g, "mid.w", r.w);
        check(ts, g, "out.o", r.o);
        check(ts, g, "out.attn", r.attn);
        check_exact(ts, g, "out.attn", r.attn);     /* manifest note: compare out.attn exactly */
        check(ts, g, "out.y_mask", r.y_mask);
        check_exact(ts, g, "out.y_mask", r.y_mask);
        check(ts, g, "out.z", r.z);
        check(ts, g, "out.z_p", r.z_p);
        check(ts, g, "out.m_p", r.m_p);
        check(ts, g, "out.logs_p", r.logs_p);
        /* the plain entry point returns the same o and w */
        bv_golden_replay_noise(g);
        bv_tensor *w2;
        bv_tensor *o2 = bv_synth_infer(ctx, net_g, x, x_lengths, sid, tone, language, bert, ja_bert, en_bert, &opt, &w2);
        check(ts, g, "out.o", o2);
        check(ts, g, "mid.w", w2);
    }
    bv_synth_free(net_g);
    bv_params_free(&ps);
    bv_config_free(&cfg);
    bv_golden_close(g);
}

/* ---------------- a tiny random model ---------------- */

static const char *TINY =
    "{\"train\": {\"log_interval\": 10, \"eval_interval\": 100, \"seed\": 1, \"epochs\": 2, \"learning_rate\": 0.0002,"
    " \"betas\": [0.8, 0.99], \"eps\": 1e-09, \"batch_size\": 2, \"bf16_run\": false, \"lr_decay\": 0.99995,"
    " \"segment_size\": 16, \"c_mel\": 45, \"c_kl\": 1.0},"
    " \"data\": {\"training_files\": \"t.list\", \"validation_files\": \"v.list\", \"max_wav_value\": 32768.0,"
    " \"sampling_rate\": 16000, \"filter_length\": 14, \"hop_length\": 4, \"win_length\": 14, \"n_mel_channels\": 8,"
    " \"mel_fmin\": 0.0, \"mel_fmax\": null, \"add_blank\": true, \"n_speakers\": 2, \"spk2id\": {\"a\": 0, \"b\": 1}},"
    " \"model\": {\"use_noise_scaled_mas\": true, \"inter_channels\": 4, \"hidden_channels\": 8,"
    " \"filter_channels\": 16, \"n_heads\": 2, \"n_layers\": 3, \"kernel_size\": 3, \"p_dropout\": 0.0,"
    " \"resblock\": \"1\", \"resblock_kernel_sizes\": [3], \"resblock_dilation_sizes\": [[1, 3, 5]],"
    " \"upsample_rates\": [2, 2], \"upsample_initial_channel\": 8, \"upsample_kernel_sizes\": [4, 4],"
    " \"n_layers_trans_flow\": 3, \"use_spectral_norm\": false, \"gin_channels\": 4,"
    " \"slm\": {\"model\": \"wavlm\", \"sr\": 16000, \"hidden\": 8, \"nlayers\": 2, \"initial_channel\": 4}}}";

static int tiny_config(bv_test_state *ts, bv_config *cfg) {
    char err[512];
    BV_CHECK(bv_config_parse(cfg, TINY, "tiny.json", err, sizeof err) == 0, "%s", err);
    if (ts->failed) return -1;
    cfg->model.sdp_p_dropout = cfg->model.dp_p_dropout = 0.0f;
    return 0;
}

typedef struct batch {
    bv_tensor *x, *x_lengths, *spec, *spec_lengths, *sid, *tone, *language, *bert, *ja_bert, *en_bert;
} batch;

/* B = 2, T_x = 5 (lengths 5, 3), T_y = 9 (lengths 9, 6), zero padding as TextAudioSpeakerCollate. */
static batch tiny_batch(bv_ctx *ctx, const bv_synth *m) {
    const int64_t B = 2, Tx = 5, Ty = 9, xl[2] = {5, 3}, yl[2] = {9, 6};
    batch b;
    b.x = bv_zeros(ctx, BV_I64, BV_SHAPE(B, Tx));
    b.tone = bv_zeros(ctx, BV_I64, BV_SHAPE(B, Tx));
    b.language = bv_zeros(ctx, BV_I64, BV_SHAPE(B, Tx));
    b.x_lengths = bv_new(ctx, BV_I64, BV_SHAPE(B));
    b.spec_lengths = bv_new(ctx, BV_I64, BV_SHAPE(B));
    b.sid = bv_new(ctx, BV_I64, BV_SHAPE(B));
    b.spec = bv_zeros(ctx, BV_F32, BV_SHAPE(B, m->spec_channels, Ty));
    b.bert = bv_zeros(ctx, BV_F32, BV_SHAPE(B, 1024, Tx));
    b.ja_bert = bv_zeros(ctx, BV_F32, BV_SHAPE(B, 1024, Tx));
    b.en_bert = bv_zeros(ctx, BV_F32, BV_SHAPE(B, 1024, Tx));
    for (int64_t i = 0; i < B; i++) {
        b.x_lengths->idata[i] = xl[i];
        b.spec_lengths->idata[i] = yl[i];
        b.sid->idata[i] = i % m->n_speakers;
        for (int64_t t = 0; t < xl[i]; t++) {
            b.x->idata[i * Tx + t] = (int64_t)(bv_rng_u64(&ctx->rng) % BV_TEXT_ENCODER_N_SYMBOLS);
            b.tone->idata[i * Tx + t] = (int64_t)(bv_rng_u64(&ctx->rng) % BV_TEXT_ENCODER_N_TONES);
            b.language->idata[i * Tx + t] = (int64_t)(bv_rng_u64(&ctx->rng) % BV_TEXT_ENCODER_N_LANGUAGES);
            for (int c = 0; c < 1024; c++) {
                b.bert->data[(i * 1024 + c) * Tx + t] = (float)bv_rng_normal(&ctx->rng);
                b.ja_bert->data[(i * 1024 + c) * Tx + t] = (float)bv_rng_normal(&ctx->rng);
                b.en_bert->data[(i * 1024 + c) * Tx + t] = (float)bv_rng_normal(&ctx->rng);
            }
        }
        for (int64_t c = 0; c < m->spec_channels; c++)
            for (int64_t t = 0; t < yl[i]; t++) b.spec->data[(i * m->spec_channels + c) * Ty + t] = (float)fabs(bv_rng_normal(&ctx->rng));
    }
    return b;
}

static void forward(bv_ctx *ctx, const bv_synth *m, const batch *b, int training, bv_synth_out *o) {
    bv_synth_forward(ctx, m, b->x, b->x_lengths, b->spec, b->spec_lengths, b->sid, b->tone, b->language, b->bert,
                     b->ja_bert, b->en_bert, training, o);
}

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

BV_TEST(synthesizer_state_dict_names_and_order) {
    bv_config cfg;
    if (tiny_config(ts, &cfg)) return;
    bv_params ps;
    bv_params_init(&ps);
    bv_synth *m = bv_synth_from_config(&ps, "net_g.", &cfg);
    const char *order[] = {"net_g.enc_p.", "net_g.dec.", "net_g.enc_q.", "net_g.flow.", "net_g.sdp.", "net_g.dp.",
                           "net_g.emb_g."};
    int k = 0;
    for (int i = 0; i < ps.n; i++) {
        const char *nm = ps.items[i]->name;
        while (k < 7 && !has_prefix(nm, order[k])) k++;
        BV_CHECK(k < 7, "parameter %s out of upstream order", nm);
        if (k == 7) break;
    }
    BV_CHECK(!strcmp(ps.items[0]->name, "net_g.enc_p.emb.weight"), "first %s", ps.items[0]->name);
    BV_CHECK(!strcmp(ps.items[ps.n - 1]->name, "net_g.emb_g.weight"), "last %s", ps.items[ps.n - 1]->name);
    bv_tensor *emb = bv_params_get(&ps, "net_g.emb_g.weight");
    BV_CHECK(emb && emb->shape[0] == 2 && emb->shape[1] == 4, "emb_g shape");
    BV_CHECK(bv_params_get(&ps, "net_g.enc_q.pre.weight")->shape[1] == 8, "enc_q takes filter_length/2+1 channels");
    BV_CHECK(bv_params_get(&ps, "net_g.flow.flows.6.pre.weight") != NULL, "n_flow_layer 4 transformer couplings");
    BV_CHECK(bv_params_get(&ps, "net_g.dp.conv_1.weight")->shape[0] == 256, "DP filter 256 (hard-coded upstream)");
    BV_CHECK(m->segment_size == 4 && m->current_mas_noise_scale == 0.01f, "segment frames / noise scale");
    BV_CHECK(bv_synth_mas_noise_scale_initial(m) == 0.01 && bv_synth_noise_scale_delta(m) == 2e-6, "noise defaults");
    bv_synth_free(m);
    bv_params_free(&ps);

    /* use_transformer_flow false: ResidualCouplingBlock under flow.* (n_flow_layer is its WN depth) */
    cfg.model.use_transformer_flow = 0;
    bv_params_init(&ps);
    m = bv_synth_from_config(&ps, "", &cfg);
    BV_CHECK(m->flow_rc && !m->flow_tr && bv_params_get(&ps, "flow.flows.0.enc.in_layers.3.weight_v") &&
             bv_params_get(&ps, "flow.flows.6.post.weight"), "residual coupling flow layout");
    bv_synth_free(m);
    bv_params_free(&ps);
    bv_config_free(&cfg);
}

BV_TEST(synthesizer_cfg_check_names_the_key) {
    bv_config cfg;
    if (tiny_config(ts, &cfg)) return;
    char err[512];
    BV_CHECK(bv_synth_config_check(&cfg, err, sizeof err) == 0, "%s", err);
    cfg.data.n_speakers = 0;
    BV_CHECK(bv_synth_config_check(&cfg, err, sizeof err) == -1 && strstr(err, "data.n_speakers") &&
             strstr(err, "ReferenceEncoder"), "%s", err);
    cfg.data.n_speakers = 2;
    cfg.model.use_spk_conditioned_encoder = 0;
    BV_CHECK(bv_synth_config_check(&cfg, err, sizeof err) == -1 && strstr(err, "model.use_spk_conditioned_encoder"),
             "%s", err);
    cfg.model.use_spk_conditioned_encoder = 1;
    cfg.model.flow_share_parameter = 1;
    BV_CHECK(bv_synth_config_check(&cfg, err, sizeof err) == -1 && strstr(err, "share_parameter"), "%s", err);
    cfg.model.flow_share_parameter = 0;
    cfg.model.n_layers = 2; /* attentions.Encoder asserts cond_layer_idx (2) < n_layers with gin */
    BV_CHECK(bv_synth_config_check(&cfg, err, sizeof err) == -1 && strstr(err, "model: "), "%s", err);
    bv_config_free(&cfg);
}

/* neg_cent gets std(neg_cent) * randn_like(neg_cent) * current_mas_noise_scale, the std unbiased
 * over every element (padding too); the alignment is a monotonic path inside the masks. */
BV_TEST(synthesizer_forward_mas_noise_and_alignment) {
    bv_ctx *ctx = ts->ctx;
    bv_config cfg;
    if (tiny_config(ts, &cfg)) return;
    bv_params ps;
    bv_params_init(&ps);
    bv_synth *m = bv_synth_from_config(&ps, "", &cfg);
    bv_synth_reset_parameters(m, &ctx->rng);
    batch b = tiny_batch(ctx, m);
    const float scale = 0.3f;
    bv_synth_out o0, o1;
    bv_synth_set_mas_noise_scale(m, 0.0f);
    bv_rng_seed(&ctx->rng, 77);
    forward(ctx, m, &b, 1, &o0);
    bv_synth_set_mas_noise_scale(m, scale);
    bv_rng_seed(&ctx->rng, 77);
    forward(ctx, m, &b, 1, &o1);
    /* the same draws again: enc_q's z, then the MAS epsilon */
    bv_rng_seed(&ctx->rng, 77);
    bv_randn_like(ctx, o0.z);
    bv_tensor *e = bv_randn_like(ctx, o0.neg_cent);
    const bv_tensor *nc = o0.neg_cent;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < nc->numel; i++) mean += nc->data[i];
    mean /= (double)nc->numel;
    for (int64_t i = 0; i < nc->numel; i++) var += (nc->data[i] - mean) * (nc->data[i] - mean);
    const double sd = sqrt(var / (double)(nc->numel - 1));
    double worst = 0;
    for (int64_t i = 0; i < nc->numel; i++) {
        double want = sd * e->data[i] * scale, got = (double)o1.neg_cent->data[i] - nc->data[i];
        worst = fmax(worst, fabs(got - want) / (1e-4 * (1 + fabs(nc->data[i]))));
    }
    BV_CHECK(worst <= 1, "epsilon differs from std * randn * scale (worst %.3g of tolerance)", worst);

    /* alignment: each valid frame y maps to exactly one valid token; durations sum to y_length */
    const int64_t B = 2, Ty = o1.attn->shape[2], Tx = o1.attn->shape[3];
    for (int64_t bb = 0; bb < B; bb++) {
        const int64_t xl = b.x_lengths->idata[bb], yl = b.spec_lengths->idata[bb];
        int64_t prev = 0;
        for (int64_t y = 0; y < Ty; y++) {
            int64_t n = 0, at = -1;
            for (int64_t xx = 0; xx < Tx; xx++)
                if (o1.attn->data[(bb * Ty + y) * Tx + xx] != 0) n++, at = xx;
            if (y < yl) {
                BV_CHECK(n == 1 && at < xl && at >= prev && at <= prev + 1, "b %lld frame %lld: path broken", (long long)bb,
                         (long long)y);
                prev = at;
            } else {
                BV_CHECK(n == 0, "padded frame %lld aligned", (long long)y);
            }
        }
        BV_CHECK(prev == xl - 1, "path ends at token %lld, not %lld", (long long)prev, (long long)(xl - 1));
        const int64_t id = o1.ids_slice->idata[bb];
        BV_CHECK(id >= 0 && id <= yl - m->segment_size, "ids_slice %lld outside [0, %lld]", (long long)id,
                 (long long)(yl - m->segment_size));
    }
    BV_CHECK(o1.y_hat->ndim == 3 && o1.y_hat->shape[1] == 1 && o1.y_hat->shape[2] == m->segment_size * 4, "y_hat shape");
    BV_CHECK(o1.m_p->shape[2] == Ty && o1.logs_p->shape[1] == m->inter_channels, "expanded prior shape");
    BV_CHECK(o1.l_length->ndim == 1 && isfinite(o1.l_length->data[0]) && isfinite(o1.l_length->data[1]), "l_length");
    bv_synth_free(m);
    bv_params_free(&ps);
    bv_config_free(&cfg);
}

/* One backward from y_hat, l_length, z_p and the expanded prior: every submodule gets gradients
 * (enc_p only through m_p/logs_p: the duration predictors detach x). */
BV_TEST(synthesizer_gradients_reach_every_submodule) {
    bv_ctx *ctx = ts->ctx;
    bv_config cfg;
    if (tiny_config(ts, &cfg)) return;
    bv_params ps;
    bv_params_init(&ps);
    bv_synth *m = bv_synth_from_config(&ps, "", &cfg);
    bv_synth_reset_parameters(m, &ctx->rng);
    /* fresh flows and ConvFlows are identities (zeroed post/proj): perturb so every path carries grads */
    for (int i = 0; i < ps.n; i++)
        if (strstr(ps.items[i]->name, ".post.") || strstr(ps.items[i]->name, "flows.") )
            for (int64_t j = 0; j < ps.items[i]->numel; j++) ps.items[i]->data[j] += 0.05f * (float)bv_rng_normal(&ctx->rng);
    batch b = tiny_batch(ctx, m);
    bv_synth_out o;
    forward(ctx, m, &b, 1, &o);
    bv_tensor *roots[5] = {o.y_hat, o.l_length, o.z_p, o.m_p, o.logs_p};
    bv_tensor *L = bv_sum(ctx, roots[0]);
    for (int k = 1; k < 5; k++) L = bv_add(ctx, L, bv_sum(ctx, roots[k]));
    bv_backward(ctx, L, NULL);
    const char *blocks[] = {"enc_p.", "dec.", "enc_q.", "flow.", "sdp.", "dp.", "emb_g."};
    for (int k = 0; k < 7; k++) {
        double s = 0;
        for (int i = 0; i < ps.n; i++)
            if (has_prefix(ps.items[i]->name, blocks[k]))
                for (int64_t j = 0; j < ps.items[i]->numel; j++) s += fabs(ps.items[i]->grad[j]);
        BV_CHECK(s > 0 && isfinite(s), "no gradient reached %s (sum |grad| = %g)", blocks[k], s);
    }
    bv_synth_free(m);
    bv_params_free(&ps);
    bv_config_free(&cfg);
}

/* y_length = clamp_min(sum(ceil(w)), 1), the path follows ceil(w), max_len crops the decoder input. */
BV_TEST(synthesizer_infer_lengths) {
    bv_ctx *ctx = ts->ctx;
    bv_config cfg;
    if (tiny_config(ts, &cfg)) return;
    bv_params ps;
    bv_params_init(&ps);
    bv_synth *m = bv_synth_from_config(&ps, "", &cfg);
    bv_synth_reset_parameters(m, &ctx->rng);
    batch b = tiny_batch(ctx, m);
    bv_infer_opts opt = {.noise_scale = 0.667f, .length_scale = 1.5f, .noise_scale_w = 0.8f, .sdp_ratio = 0.3f};
    bv_synth_infer_out r;
    bv_synth_infer_full(ctx, m, b.x, b.x_lengths, b.sid, b.tone, b.language, b.bert, b.ja_bert, b.en_bert, &opt, &r);
    const int64_t B = 2, Tx = r.w->shape[2], Ty = r.y_mask->shape[2];
    int64_t max_len = 0;
    for (int64_t bb = 0; bb < B; bb++) {
        int64_t want = 0;
        for (int64_t xx = 0; xx < Tx; xx++) {
            const float d = ceilf(r.w->data[bb * Tx + xx]);
            want += (int64_t)d;
            float col = 0;
            for (int64_t y = 0; y < Ty; y++) col += r.attn->data[(bb * Ty + y) * Tx + xx];
            BV_CHECK(col == d, "token %lld: %g frames, ceil(w) = %g", (long long)xx, col, d);
            if (xx >= b.x_lengths->idata[bb]) BV_CHECK(r.w->data[bb * Tx + xx] == 0, "padded token has w != 0");
        }
        if (want < 1) want = 1;
        float got = 0;
        for (int64_t y = 0; y < Ty; y++) got += r.y_mask->data[bb * Ty + y];
        BV_CHECK(got == (float)want, "y_length %g, want %lld", got, (long long)want);
        if (want > max_len) max_len = want;
    }
    BV_CHECK(Ty == max_len, "T_y %lld, want %lld", (long long)Ty, (long long)max_len);
    BV_CHECK(r.o->shape[2] == Ty * 4 && r.z->shape[1] == m->inter_channels, "o %lld samples", (long long)r.o->shape[2]);
    BV_CHECK(!r.o->requires_grad && !r.z->requires_grad, "infer must not record a graph");

    /* max_len crops (z * y_mask)[:, :, :max_len]; length_scale 0 gives the clamp_min(.., 1) frame */
    opt.max_len = 2;
    opt.length_scale = 0.0f;
    bv_tensor *w;
    bv_tensor *o = bv_synth_infer(ctx, m, b.x, b.x_lengths, b.sid, b.tone, b.language, b.bert, b.ja_bert, b.en_bert,
                                  &opt, &w);
    BV_CHECK(o->shape[2] == 1 * 4, "length_scale 0: %lld samples, want one frame", (long long)o->shape[2]);
    opt.length_scale = 4.0f;
    o = bv_synth_infer(ctx, m, b.x, b.x_lengths, b.sid, b.tone, b.language, b.bert, b.ja_bert, b.en_bert, &opt, NULL);
    BV_CHECK(o->shape[2] == 2 * 4, "max_len 2: %lld samples", (long long)o->shape[2]);
    bv_synth_free(m);
    bv_params_free(&ps);
    bv_config_free(&cfg);
}

BV_TEST(synthesizer_input_errors) {
    bv_ctx *ctx = ts->ctx;
    bv_config cfg;
    if (tiny_config(ts, &cfg)) return;
    bv_params ps;
    bv_params_init(&ps);
    bv_synth *m = bv_synth_from_config(&ps, "", &cfg);
    bv_synth_reset_parameters(m, &ctx->rng);
    batch b = tiny_batch(ctx, m);
    char msg[512];
    bv_synth_out o;
    bv_tensor *bad_sid = bv_zeros(ctx, BV_I64, BV_SHAPE(3));
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_synth_forward(ctx, m, b.x, b.x_lengths, b.spec, b.spec_lengths, bad_sid,
                                                         b.tone, b.language, b.bert, b.ja_bert, b.en_bert, 1, &o)),
             "sid [3] for B = 2 accepted");
    BV_CHECK(strstr(msg, "SynthesizerTrn") && strstr(msg, "[3]") && strstr(msg, "[2, 5]"), "%s", msg);
    bv_tensor *bad_tone = bv_zeros(ctx, BV_I64, BV_SHAPE(2, 4));
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_synth_forward(ctx, m, b.x, b.x_lengths, b.spec, b.spec_lengths, b.sid,
                                                         bad_tone, b.language, b.bert, b.ja_bert, b.en_bert, 1, &o)),
             "tone [2, 4] accepted");
    BV_CHECK(strstr(msg, "SynthesizerTrn") && strstr(msg, "tone") && strstr(msg, "[2, 4]"), "%s", msg);
    b.sid->idata[0] = 5; /* speaker id outside emb_g */
    bv_infer_opts opt = {.noise_scale = 0.667f, .length_scale = 1, .noise_scale_w = 0.8f};
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_synth_infer(ctx, m, b.x, b.x_lengths, b.sid, b.tone, b.language, b.bert,
                                                       b.ja_bert, b.en_bert, &opt, NULL)),
             "speaker 5 of 2 accepted");
    BV_CHECK(strstr(msg, "SynthesizerTrn") && strstr(msg, "sid") && strstr(msg, "n_speakers 2"), "%s", msg);
    BV_CHECK(bv_grad_enabled(ctx), "an input error left the context in no_grad mode");
    b.sid->idata[0] = 0;
    bv_tensor *bad_bert = bv_zeros(ctx, BV_F32, BV_SHAPE(2, 1024, 4));
    BV_CHECK(BV_EXPECT_ERROR(ctx, msg, bv_synth_infer(ctx, m, b.x, b.x_lengths, b.sid, b.tone, b.language, bad_bert,
                                                       b.ja_bert, b.en_bert, &opt, NULL)),
             "bert [2, 1024, 4] accepted");
    BV_CHECK(strstr(msg, "SynthesizerTrn") && strstr(msg, "bert") && strstr(msg, "[2, 1024, 4]"), "%s", msg);
    BV_CHECK(bv_grad_enabled(ctx), "an input error left the context in no_grad mode");
    bv_synth_free(m);
    bv_params_free(&ps);
    bv_config_free(&cfg);
}
