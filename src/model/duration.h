/* duration.h - the duration models of upstream models.py: StochasticDurationPredictor (the
 * flow-based "sdp"), DurationPredictor (the deterministic "dp") and DurationDiscriminator (vits2's
 * adversary on durations, trained as net_dur_disc).
 *
 * All three detach x and g on entry, as upstream does (torch.detach): gradients never reach the text
 * encoder or the speaker embedding through them, only their own parameters and, for the SDP, w.
 * Parameters are created under the caller's prefix ("sdp.", "dp.", "" for net_dur_disc) with their
 * upstream state_dict keys, in state_dict order, zeroed (values come from a checkpoint or the
 * *_reset_parameters functions).
 *
 *   bv_sdp *sdp = bv_sdp_new(ps, "sdp.", &(bv_sdp_cfg){.in_channels = 192, .filter_channels = 192,
 *                                                      .kernel_size = 3, .p_dropout = 0.5f,
 *                                                      .n_flows = 4, .gin_channels = 512});
 *   bv_tensor *nll = bv_sdp_forward(ctx, sdp, x, x_mask, w, g, 0, 1.0f, 1);     // [B]
 *   bv_tensor *logw = bv_sdp_forward(ctx, sdp, x, x_mask, NULL, g, 1, 0.8f, 0); // [B, 1, T]
 *
 * Dropout: upstream hard-codes p = 0.5 for the SDP's and DP's (SynthesizerTrn) and 0.1 for the
 * DurationDiscriminator (train_ms); here it is the cfg's p_dropout, applied when training != 0.
 */
#ifndef BV_MODEL_DURATION_H
#define BV_MODEL_DURATION_H

#include "../nn/conv_layers.h"
#include "../nn/flows.h"

/* ---------------- StochasticDurationPredictor ---------------- */
typedef struct bv_sdp_cfg {
    int in_channels;
    int filter_channels;  /* ignored: upstream overrides it with in_channels ("to be removed") */
    int kernel_size;
    float p_dropout;
    int n_flows;          /* 0 means upstream's default 4 */
    int gin_channels;     /* 0: no speaker conditioning (no cond layer) */
} bv_sdp_cfg;

#define BV_SDP_N_POST_FLOWS 4 /* upstream hard-codes range(4) for post_flows, whatever n_flows is */

typedef struct bv_sdp {
    bv_sdp_cfg cfg;             /* filter_channels == in_channels, n_flows filled in */
    int n_flow_list;            /* 1 + 2 * n_flows */
    bv_flow *flows;             /* <prefix>flows.%d.*: ElementwiseAffine(2), n_flows x [ConvFlow, Flip] */
    bv_conv1d_layer post_pre;   /* <prefix>post_pre.{weight,bias}   [F, 1, 1] */
    bv_conv1d_layer post_proj;  /* <prefix>post_proj.{weight,bias}  [F, F, 1] */
    bv_ddsconv *post_convs;     /* <prefix>post_convs.*             (DDSConv, 3 layers) */
    bv_flow post_flows[1 + 2 * BV_SDP_N_POST_FLOWS]; /* <prefix>post_flows.%d.* */
    bv_conv1d_layer pre;        /* <prefix>pre.{weight,bias}        [F, in, 1] */
    bv_conv1d_layer proj;       /* <prefix>proj.{weight,bias}       [F, F, 1] */
    bv_ddsconv *convs;          /* <prefix>convs.*                  (DDSConv, 3 layers) */
    bv_conv1d_layer cond;       /* <prefix>cond.{weight,bias}       [F, gin, 1] (gin_channels > 0) */
} bv_sdp;

/* Fatal on an impossible config (non-positive sizes): a model-building bug. */
bv_sdp *bv_sdp_new(bv_params *ps, const char *prefix, const bv_sdp_cfg *cfg);
void bv_sdp_free(bv_sdp *m);
/* Upstream init: nn.Conv1d defaults, DDSConv norms gamma 1 beta 0, ElementwiseAffine m = logs = 0,
 * ConvFlow proj zeroed (a fresh flow is the identity). */
void bv_sdp_reset_parameters(const bv_sdp *m, bv_rng *rng);
/* x [B, in, T], x_mask [B, 1, T], g [B, gin, 1] or NULL.
 * reverse == 0: w [B, 1, T] (the target durations) is required; draws e_q = randn(B, 2, T) and
 *   returns nll + logq per batch item [B].
 * reverse != 0: w is ignored (may be NULL); draws z = randn(B, 2, T) * noise_scale (unmasked, as
 *   upstream; the last reverse flow, ElementwiseAffine, masks it) and returns logw [B, 1, T].
 * The draws go through bv_randn (golden replay). Errors name "StochasticDurationPredictor". */
bv_tensor *bv_sdp_forward(bv_ctx *ctx, const bv_sdp *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *w, bv_tensor *g,
                          int reverse, float noise_scale, int training);

/* ---------------- DurationPredictor ---------------- */
typedef struct bv_dp_cfg {
    int in_channels, filter_channels, kernel_size;
    float p_dropout;
    int gin_channels;     /* 0: no cond layer */
} bv_dp_cfg;

typedef struct bv_dp {
    bv_dp_cfg cfg;
    bv_conv1d_layer conv_1;  /* <prefix>conv_1.{weight,bias}  [F, in, k] */
    bv_channel_norm norm_1;  /* <prefix>norm_1.{gamma,beta}   [F] */
    bv_conv1d_layer conv_2;  /* <prefix>conv_2.{weight,bias}  [F, F, k] */
    bv_channel_norm norm_2;  /* <prefix>norm_2.{gamma,beta}   [F] */
    bv_conv1d_layer proj;    /* <prefix>proj.{weight,bias}    [1, F, 1] */
    bv_conv1d_layer cond;    /* <prefix>cond.{weight,bias}    [in, gin, 1] (gin_channels > 0) */
} bv_dp;

bv_dp *bv_dp_new(bv_params *ps, const char *prefix, const bv_dp_cfg *cfg);
void bv_dp_free(bv_dp *m);
void bv_dp_reset_parameters(const bv_dp *m, bv_rng *rng);
/* x [B, in, T], x_mask [B, 1, T], g [B, gin, 1] or NULL -> logw [B, 1, T] (masked).
 * Errors name "DurationPredictor". */
bv_tensor *bv_dp_forward(bv_ctx *ctx, const bv_dp *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g, int training);

/* ---------------- DurationDiscriminator (vits2) ---------------- */
typedef struct bv_dur_disc_cfg {
    int in_channels, filter_channels, kernel_size;
    float p_dropout;
    int gin_channels;     /* 0: no cond layer */
} bv_dur_disc_cfg;

typedef struct bv_dur_disc {
    bv_dur_disc_cfg cfg;
    bv_conv1d_layer conv_1;     /* <prefix>conv_1.{weight,bias}    [F, in, k] */
    bv_channel_norm norm_1;     /* <prefix>norm_1.{gamma,beta}     [F] */
    bv_conv1d_layer conv_2;     /* <prefix>conv_2.{weight,bias}    [F, F, k] */
    bv_channel_norm norm_2;     /* <prefix>norm_2.{gamma,beta}     [F] */
    bv_conv1d_layer dur_proj;   /* <prefix>dur_proj.{weight,bias}  [F, 1, 1] */
    bv_tensor *lstm[8];         /* <prefix>LSTM.{weight_ih_l0 [4F, 2F], weight_hh_l0 [4F, F], bias_ih_l0 [4F],
                                 *  bias_hh_l0 [4F]} then the same four with _reverse (bv_lstm's order) */
    bv_conv1d_layer cond;       /* <prefix>cond.{weight,bias}      [in, gin, 1] (gin_channels > 0) */
    bv_tensor *out_w, *out_b;   /* <prefix>output_layer.0.weight [1, 2F], <prefix>output_layer.0.bias [1] */
} bv_dur_disc;

bv_dur_disc *bv_dur_disc_new(bv_params *ps, const char *prefix, const bv_dur_disc_cfg *cfg);
void bv_dur_disc_free(bv_dur_disc *m);
/* Upstream init: Conv1d/Linear defaults, LSTM U(-1/sqrt(F), 1/sqrt(F)), norms gamma 1 beta 0. */
void bv_dur_disc_reset_parameters(const bv_dur_disc *m, bv_rng *rng);
/* x [B, in, T], x_mask [B, 1, T], dur_r and dur_hat [B, 1, T], g [B, gin, 1] or NULL.
 * probs[0] = prob(dur_r), probs[1] = prob(dur_hat), each [B, T, 1] (sigmoid). The LSTM runs over
 * padded frames too and its output is not masked (upstream). Errors name "DurationDiscriminator". */
void bv_dur_disc_forward(bv_ctx *ctx, const bv_dur_disc *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *dur_r,
                         bv_tensor *dur_hat, bv_tensor *g, int training, bv_tensor *probs[2]);

#endif
