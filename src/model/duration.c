/* duration.c - StochasticDurationPredictor, DurationPredictor and DurationDiscriminator, written to
 * be read side by side with upstream models.py (same names, same order of operations). */
#include "duration.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/error.h"
#include "../ops/ops.h"

#define SDP_NAME "StochasticDurationPredictor"
#define DP_NAME "DurationPredictor"
#define DD_NAME "DurationDiscriminator"

static const double LOG_2PI = 1.8378770664093453; /* math.log(2 * math.pi) */

/* t [B, C, T] -> torch.sum(t, [1, 2]) [B] */
static bv_tensor *sum_12(bv_ctx *ctx, bv_tensor *t) { return bv_sum_dim(ctx, bv_sum_dim(ctx, t, 2, 0), 1, 0); }

/* a 1x1 / "same"-padded plain nn.Conv1d */
static void conv_init(bv_conv1d_layer *c, bv_params *ps, const char *prefix, const char *name, int cin, int cout,
                      int k) {
    char full[512];
    snprintf(full, sizeof full, "%s%s.", prefix, name);
    bv_conv1d_layer_init(c, ps, full,
                         &(bv_conv1d_cfg){.in_channels = cin, .out_channels = cout, .kernel_size = k, .padding = k / 2});
}

/* modules.LayerNorm(channels): gamma ones, beta zeros */
static void norm_init(bv_channel_norm *n, bv_params *ps, const char *prefix, const char *name, int channels) {
    n->gamma = bv_params_addf(ps, BV_SHAPE(channels), "%s%s.gamma", prefix, name); // [C]
    n->beta = bv_params_addf(ps, BV_SHAPE(channels), "%s%s.beta", prefix, name);   // [C]
    bv_fill(n->gamma, 1.0f);
}

static void norm_reset(const bv_channel_norm *n) {
    bv_fill(n->gamma, 1.0f);
    bv_fill(n->beta, 0.0f);
}

static void uniform_fill(bv_tensor *t, double bound, bv_rng *rng) {
    bv_init_uniform(t, rng, bound);
}

/* x [B, C, T] f32 and x_mask [B, 1, T]; g, when given, needs a cond layer (gin_channels > 0). */
static void check_common(bv_ctx *ctx, const char *module, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g,
                         int in_channels, int gin_channels) {
    bv_nn_check_input(ctx, module, x, in_channels);
    bv_nn_check_mask(ctx, module, x, x_mask);
    if (!g) return;
    if (gin_channels == 0) {
        char bg[64], bx[64];
        bv_ctx_error(ctx, module, "g %s given for x %s but gin_channels is 0 (no cond layer)",
                     bv_shape_str(g, bg, sizeof bg), bv_shape_str(x, bx, sizeof bx));
    }
    bv_nn_check_cond(ctx, module, x, g, gin_channels);
}

/* A [B, 1, T] duration-like input (w, dur_r, dur_hat) must match x's B and T. */
static void check_dur(bv_ctx *ctx, const char *module, const char *what, bv_tensor *d, bv_tensor *x) {
    char bd[64], bx[64];
    if (d->dtype != BV_F32 || d->ndim != 3 || d->shape[0] != x->shape[0] || d->shape[1] != 1 ||
        d->shape[2] != x->shape[2])
        bv_ctx_error(ctx, module, "%s %s (%s) does not fit x %s: expected f32 [B, 1, T]", what,
                     bv_shape_str(d, bd, sizeof bd), bv_dtype_name(d->dtype), bv_shape_str(x, bx, sizeof bx));
}

/* ======================= StochasticDurationPredictor ======================= */

/* ElementwiseAffine(2), then n x [ConvFlow(2, F, k, n_layers=3), Flip] under <prefix><list>.%d. */
static void flow_list_init(bv_flow *flows, bv_params *ps, const char *prefix, const char *list, int n, int F,
                           int k) {
    char name[512];
    snprintf(name, sizeof name, "%s%s.0.", prefix, list);
    flows[0] = (bv_flow){.kind = BV_FLOW_ELEMENTWISE_AFFINE, .affine = bv_elementwise_affine_new(ps, name, 2)};
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%s.%d.", prefix, list, 1 + 2 * i);
        bv_convflow_cfg cc = {.in_channels = 2, .filter_channels = F, .kernel_size = k, .n_layers = 3};
        flows[1 + 2 * i] = (bv_flow){.kind = BV_FLOW_CONVFLOW, .conv = bv_convflow_new(ps, name, &cc)};
        flows[2 + 2 * i] = (bv_flow){.kind = BV_FLOW_FLIP};
    }
}

static void flow_list_reset(const bv_flow *flows, int n_list, bv_rng *rng) {
    for (int i = 0; i < n_list; i++) {
        if (flows[i].kind == BV_FLOW_CONVFLOW) bv_convflow_reset_parameters(flows[i].conv, rng);
        if (flows[i].kind == BV_FLOW_ELEMENTWISE_AFFINE) {
            bv_fill(flows[i].affine->m, 0.0f);
            bv_fill(flows[i].affine->logs, 0.0f);
        }
    }
}

bv_sdp *bv_sdp_new(bv_params *ps, const char *prefix, const bv_sdp_cfg *cfg) {
    BV_ASSERT(cfg->in_channels > 0 && cfg->kernel_size > 0 && cfg->n_flows >= 0 && cfg->gin_channels >= 0);
    bv_sdp *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    if (m->cfg.n_flows == 0) m->cfg.n_flows = 4;
    m->cfg.filter_channels = cfg->in_channels; /* upstream: "it needs to be removed from future version" */
    const int C = m->cfg.in_channels, F = m->cfg.filter_channels, k = m->cfg.kernel_size;
    char name[512];
    m->n_flow_list = 1 + 2 * m->cfg.n_flows;
    m->flows = bv_xcalloc((size_t)m->n_flow_list, sizeof *m->flows);
    flow_list_init(m->flows, ps, prefix, "flows", m->cfg.n_flows, F, k);
    conv_init(&m->post_pre, ps, prefix, "post_pre", 1, F, 1);
    conv_init(&m->post_proj, ps, prefix, "post_proj", F, F, 1);
    snprintf(name, sizeof name, "%spost_convs.", prefix);
    m->post_convs = bv_ddsconv_new(ps, name, &(bv_ddsconv_cfg){F, k, 3, m->cfg.p_dropout});
    flow_list_init(m->post_flows, ps, prefix, "post_flows", BV_SDP_N_POST_FLOWS, F, k);
    conv_init(&m->pre, ps, prefix, "pre", C, F, 1);
    conv_init(&m->proj, ps, prefix, "proj", F, F, 1);
    snprintf(name, sizeof name, "%sconvs.", prefix);
    m->convs = bv_ddsconv_new(ps, name, &(bv_ddsconv_cfg){F, k, 3, m->cfg.p_dropout});
    if (m->cfg.gin_channels) conv_init(&m->cond, ps, prefix, "cond", m->cfg.gin_channels, F, 1);
    return m;
}

void bv_sdp_free(bv_sdp *m) {
    if (!m) return;
    for (int i = 0; i < m->n_flow_list; i++) bv_flow_free(&m->flows[i]);
    for (int i = 0; i < 1 + 2 * BV_SDP_N_POST_FLOWS; i++) bv_flow_free(&m->post_flows[i]);
    free(m->flows);
    bv_ddsconv_free(m->post_convs);
    bv_ddsconv_free(m->convs);
    free(m);
}

void bv_sdp_reset_parameters(const bv_sdp *m, bv_rng *rng) {
    flow_list_reset(m->flows, m->n_flow_list, rng);
    bv_conv1d_layer_reset_parameters(&m->post_pre, rng);
    bv_conv1d_layer_reset_parameters(&m->post_proj, rng);
    bv_ddsconv_reset_parameters(m->post_convs, rng);
    flow_list_reset(m->post_flows, 1 + 2 * BV_SDP_N_POST_FLOWS, rng);
    bv_conv1d_layer_reset_parameters(&m->pre, rng);
    bv_conv1d_layer_reset_parameters(&m->proj, rng);
    bv_ddsconv_reset_parameters(m->convs, rng);
    if (m->cfg.gin_channels) bv_conv1d_layer_reset_parameters(&m->cond, rng);
}

/* acc + t, where acc NULL stands for upstream's python 0 (0 + t == t exactly) */
static bv_tensor *add_logdet(bv_ctx *ctx, bv_tensor *acc, bv_tensor *t) { return acc ? bv_add(ctx, acc, t) : t; }

/* The forward (training) branch: nll + logq [B] with the posterior flows' variational logq. */
static bv_tensor *sdp_nll(bv_ctx *ctx, const bv_sdp *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *w,
                          int training) {
    const int64_t B = w->shape[0], T = w->shape[2];
    bv_tensor *logdet_tot_q = NULL, *logdet;
    bv_tensor *h_w = bv_conv1d_layer_forward(ctx, &m->post_pre, w);                  // [B, F, T]
    h_w = bv_ddsconv_forward(ctx, m->post_convs, h_w, x_mask, NULL, training);
    h_w = bv_mul(ctx, bv_conv1d_layer_forward(ctx, &m->post_proj, h_w), x_mask);     // [B, F, T]
    bv_tensor *e_q = bv_mul(ctx, bv_randn(ctx, BV_SHAPE(B, 2, T)), x_mask);          // [B, 2, T]
    bv_tensor *z_q = e_q, *g_q = bv_add(ctx, x, h_w);                                // g = x + h_w
    for (int i = 0; i < 1 + 2 * BV_SDP_N_POST_FLOWS; i++) {
        z_q = bv_flow_forward(ctx, &m->post_flows[i], z_q, x_mask, g_q, 0, &logdet);
        logdet_tot_q = add_logdet(ctx, logdet_tot_q, logdet);
    }
    bv_tensor *zs[2];
    bv_split(ctx, z_q, 1, 2, (int64_t[]){1, 1}, zs);                                 // z_u, z1 [B, 1, T]
    bv_tensor *z_u = zs[0], *z1 = zs[1];
    bv_tensor *u = bv_mul(ctx, bv_sigmoid(ctx, z_u), x_mask);
    bv_tensor *z0 = bv_mul(ctx, bv_sub(ctx, w, u), x_mask);                          // [B, 1, T]
    bv_tensor *lsig = bv_add(ctx, bv_logsigmoid(ctx, z_u), bv_logsigmoid(ctx, bv_neg(ctx, z_u)));
    logdet_tot_q = add_logdet(ctx, logdet_tot_q, sum_12(ctx, bv_mul(ctx, lsig, x_mask)));
    bv_tensor *gauss_q = bv_mul_scalar(ctx, bv_add_scalar(ctx, bv_square(ctx, e_q), (float)LOG_2PI), -0.5f);
    bv_tensor *logq = bv_sub(ctx, sum_12(ctx, bv_mul(ctx, gauss_q, x_mask)), logdet_tot_q); // [B]

    bv_tensor *logdet_tot = NULL;
    z0 = bv_log_flow_forward(ctx, z0, x_mask, 0, &logdet);
    logdet_tot = add_logdet(ctx, logdet_tot, logdet);
    bv_tensor *z = bv_concat(ctx, 2, (bv_tensor *[]){z0, z1}, 1);                    // [B, 2, T]
    for (int i = 0; i < m->n_flow_list; i++) {
        z = bv_flow_forward(ctx, &m->flows[i], z, x_mask, x, 0, &logdet);
        logdet_tot = add_logdet(ctx, logdet_tot, logdet);
    }
    bv_tensor *gauss = bv_mul_scalar(ctx, bv_add_scalar(ctx, bv_square(ctx, z), (float)LOG_2PI), 0.5f);
    bv_tensor *nll = bv_sub(ctx, sum_12(ctx, bv_mul(ctx, gauss, x_mask)), logdet_tot); // [B]
    return bv_add(ctx, nll, logq);                                                      // [b]
}

/* The reverse (sampling) branch: logw [B, 1, T]. */
static bv_tensor *sdp_sample(bv_ctx *ctx, const bv_sdp *m, bv_tensor *x, bv_tensor *x_mask, float noise_scale) {
    const int64_t B = x->shape[0], T = x->shape[2];
    bv_tensor *z = bv_mul_scalar(ctx, bv_randn(ctx, BV_SHAPE(B, 2, T)), noise_scale); // [B, 2, T], not masked
    /* flows = list(reversed(self.flows)); flows = flows[:-2] + [flows[-1]]  # remove a useless vflow:
     * the element dropped is self.flows[1], the FIRST ConvFlow (not a Flip), so it never runs here. */
    for (int i = m->n_flow_list - 1; i >= 0; i--) {
        if (i == 1) continue;
        z = bv_flow_forward(ctx, &m->flows[i], z, x_mask, x, 1, NULL);
    }
    bv_tensor *zs[2];
    bv_split(ctx, z, 1, 2, (int64_t[]){1, 1}, zs); // z0, z1 [B, 1, T]
    return zs[0];                                  // logw = z0
}

bv_tensor *bv_sdp_forward(bv_ctx *ctx, const bv_sdp *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *w, bv_tensor *g,
                          int reverse, float noise_scale, int training) {
    check_common(ctx, SDP_NAME, x, x_mask, g, m->cfg.in_channels, m->cfg.gin_channels);
    if (!reverse) {
        char bx[64];
        if (!w) bv_ctx_error(ctx, SDP_NAME, "forward (reverse=False) needs w for x %s", bv_shape_str(x, bx, sizeof bx));
        check_dur(ctx, SDP_NAME, "w", w, x);
    }
    x = bv_detach(ctx, x);
    x = bv_conv1d_layer_forward(ctx, &m->pre, x); // [B, F, T]
    if (g) {
        g = bv_detach(ctx, g);
        x = bv_add(ctx, x, bv_conv1d_layer_forward(ctx, &m->cond, g)); // + [B, F, 1]
    }
    x = bv_ddsconv_forward(ctx, m->convs, x, x_mask, NULL, training);
    x = bv_mul(ctx, bv_conv1d_layer_forward(ctx, &m->proj, x), x_mask); // [B, F, T]
    if (!reverse) return sdp_nll(ctx, m, x, x_mask, w, training);
    return sdp_sample(ctx, m, x, x_mask, noise_scale);
}

/* ======================= DurationPredictor ======================= */

bv_dp *bv_dp_new(bv_params *ps, const char *prefix, const bv_dp_cfg *cfg) {
    BV_ASSERT(cfg->in_channels > 0 && cfg->filter_channels > 0 && cfg->kernel_size > 0 && cfg->gin_channels >= 0);
    bv_dp *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    const int C = cfg->in_channels, F = cfg->filter_channels, k = cfg->kernel_size;
    conv_init(&m->conv_1, ps, prefix, "conv_1", C, F, k);
    norm_init(&m->norm_1, ps, prefix, "norm_1", F);
    conv_init(&m->conv_2, ps, prefix, "conv_2", F, F, k);
    norm_init(&m->norm_2, ps, prefix, "norm_2", F);
    conv_init(&m->proj, ps, prefix, "proj", F, 1, 1);
    if (cfg->gin_channels) conv_init(&m->cond, ps, prefix, "cond", cfg->gin_channels, C, 1);
    return m;
}

void bv_dp_free(bv_dp *m) { free(m); }

void bv_dp_reset_parameters(const bv_dp *m, bv_rng *rng) {
    bv_conv1d_layer_reset_parameters(&m->conv_1, rng);
    norm_reset(&m->norm_1);
    bv_conv1d_layer_reset_parameters(&m->conv_2, rng);
    norm_reset(&m->norm_2);
    bv_conv1d_layer_reset_parameters(&m->proj, rng);
    if (m->cfg.gin_channels) bv_conv1d_layer_reset_parameters(&m->cond, rng);
}

/* conv -> relu -> LayerNorm -> dropout, the block DP and DurationDiscriminator share */
static bv_tensor *conv_relu_norm(bv_ctx *ctx, const bv_conv1d_layer *conv, const bv_channel_norm *norm, bv_tensor *x,
                                 bv_tensor *x_mask, float p_dropout, int training) {
    x = bv_conv1d_layer_forward(ctx, conv, bv_mul(ctx, x, x_mask)); // [B, F, T]
    x = bv_relu(ctx, x);
    x = bv_layer_norm_ch(ctx, x, norm->gamma, norm->beta, 1e-5f);
    return bv_dropout(ctx, x, p_dropout, training);
}

/* x = detach(x); if g: x = x + cond(detach(g)) */
static bv_tensor *detach_and_condition(bv_ctx *ctx, const bv_conv1d_layer *cond, bv_tensor *x, bv_tensor *g) {
    x = bv_detach(ctx, x);
    if (g) x = bv_add(ctx, x, bv_conv1d_layer_forward(ctx, cond, bv_detach(ctx, g))); // + [B, in, 1]
    return x;
}

bv_tensor *bv_dp_forward(bv_ctx *ctx, const bv_dp *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g, int training) {
    check_common(ctx, DP_NAME, x, x_mask, g, m->cfg.in_channels, m->cfg.gin_channels);
    x = detach_and_condition(ctx, &m->cond, x, g);                                   // [B, in, T]
    x = conv_relu_norm(ctx, &m->conv_1, &m->norm_1, x, x_mask, m->cfg.p_dropout, training); // [B, F, T]
    x = conv_relu_norm(ctx, &m->conv_2, &m->norm_2, x, x_mask, m->cfg.p_dropout, training);
    x = bv_conv1d_layer_forward(ctx, &m->proj, bv_mul(ctx, x, x_mask));              // [B, 1, T]
    return bv_mul(ctx, x, x_mask);
}

/* ======================= DurationDiscriminator ======================= */

bv_dur_disc *bv_dur_disc_new(bv_params *ps, const char *prefix, const bv_dur_disc_cfg *cfg) {
    BV_ASSERT(cfg->in_channels > 0 && cfg->filter_channels > 0 && cfg->kernel_size > 0 && cfg->gin_channels >= 0);
    bv_dur_disc *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    const int C = cfg->in_channels, F = cfg->filter_channels, k = cfg->kernel_size;
    conv_init(&m->conv_1, ps, prefix, "conv_1", C, F, k);
    norm_init(&m->norm_1, ps, prefix, "norm_1", F);
    conv_init(&m->conv_2, ps, prefix, "conv_2", F, F, k);
    norm_init(&m->norm_2, ps, prefix, "norm_2", F);
    conv_init(&m->dur_proj, ps, prefix, "dur_proj", 1, F, 1);
    /* nn.LSTM(2F, F, batch_first=True, bidirectional=True) */
    static const char *sfx[2] = {"", "_reverse"};
    for (int d = 0; d < 2; d++) {
        m->lstm[4 * d + 0] = bv_params_addf(ps, BV_SHAPE(4 * F, 2 * F), "%sLSTM.weight_ih_l0%s", prefix, sfx[d]);
        m->lstm[4 * d + 1] = bv_params_addf(ps, BV_SHAPE(4 * F, F), "%sLSTM.weight_hh_l0%s", prefix, sfx[d]);
        m->lstm[4 * d + 2] = bv_params_addf(ps, BV_SHAPE(4 * F), "%sLSTM.bias_ih_l0%s", prefix, sfx[d]);
        m->lstm[4 * d + 3] = bv_params_addf(ps, BV_SHAPE(4 * F), "%sLSTM.bias_hh_l0%s", prefix, sfx[d]);
    }
    if (cfg->gin_channels) conv_init(&m->cond, ps, prefix, "cond", cfg->gin_channels, C, 1);
    m->out_w = bv_params_addf(ps, BV_SHAPE(1, 2 * F), "%soutput_layer.0.weight", prefix); // [1, 2F]
    m->out_b = bv_params_addf(ps, BV_SHAPE(1), "%soutput_layer.0.bias", prefix);          // [1]
    return m;
}

void bv_dur_disc_free(bv_dur_disc *m) { free(m); }

void bv_dur_disc_reset_parameters(const bv_dur_disc *m, bv_rng *rng) {
    bv_conv1d_layer_reset_parameters(&m->conv_1, rng);
    norm_reset(&m->norm_1);
    bv_conv1d_layer_reset_parameters(&m->conv_2, rng);
    norm_reset(&m->norm_2);
    bv_conv1d_layer_reset_parameters(&m->dur_proj, rng);
    const double k_lstm = 1.0 / sqrt((double)m->cfg.filter_channels);
    for (int i = 0; i < 8; i++) uniform_fill(m->lstm[i], k_lstm, rng);
    if (m->cfg.gin_channels) bv_conv1d_layer_reset_parameters(&m->cond, rng);
    const double k_lin = 1.0 / sqrt((double)(2 * m->cfg.filter_channels)); /* kaiming_uniform(a=sqrt(5)) */
    uniform_fill(m->out_w, k_lin, rng);
    uniform_fill(m->out_b, k_lin, rng);
}

/* forward_probability: x [B, F, T], dur [B, 1, T] -> [B, T, 1] */
static bv_tensor *forward_probability(bv_ctx *ctx, const bv_dur_disc *m, bv_tensor *x, bv_tensor *dur) {
    dur = bv_conv1d_layer_forward(ctx, &m->dur_proj, dur);      // [B, F, T]
    x = bv_concat(ctx, 2, (bv_tensor *[]){x, dur}, 1);          // [B, 2F, T]
    x = bv_transpose(ctx, x, 1, 2);                             // [B, T, 2F]
    bv_tensor *h_n, *c_n;
    bv_lstm(ctx, x, m->lstm, 1, &x, &h_n, &c_n);                // [B, T, 2F]
    return bv_sigmoid(ctx, bv_linear(ctx, x, m->out_w, m->out_b)); // output_layer: [B, T, 1]
}

void bv_dur_disc_forward(bv_ctx *ctx, const bv_dur_disc *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *dur_r,
                         bv_tensor *dur_hat, bv_tensor *g, int training, bv_tensor *probs[2]) {
    check_common(ctx, DD_NAME, x, x_mask, g, m->cfg.in_channels, m->cfg.gin_channels);
    check_dur(ctx, DD_NAME, "dur_r", dur_r, x);
    check_dur(ctx, DD_NAME, "dur_hat", dur_hat, x);
    x = detach_and_condition(ctx, &m->cond, x, g);                                   // [B, in, T]
    x = conv_relu_norm(ctx, &m->conv_1, &m->norm_1, x, x_mask, m->cfg.p_dropout, training); // [B, F, T]
    x = conv_relu_norm(ctx, &m->conv_2, &m->norm_2, x, x_mask, m->cfg.p_dropout, training);
    probs[0] = forward_probability(ctx, m, x, dur_r);
    probs[1] = forward_probability(ctx, m, x, dur_hat);
}
