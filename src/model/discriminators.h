/* discriminators.h - models.DiscriminatorS, DiscriminatorP, MultiPeriodDiscriminator and
 * WavLMDiscriminator of upstream Bert-VITS2 (models.py).
 *
 * Upstream hard-codes the channel widths. Here they come from a width table, so the real networks
 * (bv_disc_widths_upstream_*) and the reduced-width ones of the golden data run through the same
 * code. All convs are weight-normed (use_spectral_norm = False, as train_ms builds them).
 */
#ifndef BV_DISCRIMINATORS_H
#define BV_DISCRIMINATORS_H

#include "../core/ctx.h"
#include "../core/params.h"

#define BV_DISC_MAX_CONVS 8
#define BV_MPD_MAX_DISCS 8

/* One conv: Conv1d for DiscriminatorS (k, stride, pad along time), Conv2d (k,1) for DiscriminatorP. */
typedef struct bv_disc_layer {
    int cin, cout, k, stride, groups, pad;
} bv_disc_layer;

typedef struct bv_disc_widths {
    int n_convs;
    bv_disc_layer convs[BV_DISC_MAX_CONVS];
    bv_disc_layer post;
} bv_disc_widths;

/* Upstream's DiscriminatorS: 1-16-64-256-1024-1024-1024, groups 1,4,16,64,256,1, post 1024->1 k3. */
void bv_disc_widths_upstream_s(bv_disc_widths *w);
/* Upstream's DiscriminatorP(kernel_size=5, stride=3): 1-32-128-512-1024-1024, post (3,1). */
void bv_disc_widths_upstream_p(bv_disc_widths *w);

typedef struct bv_disc_conv {
    bv_disc_layer spec;
    bv_tensor *weight_g, *weight_v, *bias;   /* <prefix>convs.<i>.{weight_g,weight_v,bias} */
} bv_disc_conv;

/* DiscriminatorS when period == 0, DiscriminatorP(period) otherwise. */
typedef struct bv_disc {
    int period;
    int n_convs;
    bv_disc_conv convs[BV_DISC_MAX_CONVS];
    bv_disc_conv post;                      /* <prefix>conv_post.* */
} bv_disc;

void bv_disc_init(bv_disc *d, bv_params *ps, const char *prefix, int period, const bv_disc_widths *w);
/* PyTorch's default init (weight-normed convs: v, bias ~ U(+-1/sqrt(fan_in)), g = ||v||). */
void bv_disc_reset_parameters(const bv_disc *d, bv_rng *rng);
/* x [B, 1, T] -> logits [B, N] (flatten(x, 1, -1)); fmap[0..n_convs] (n_convs + 1 maps) if fmap != NULL. */
bv_tensor *bv_disc_forward(bv_ctx *ctx, const bv_disc *d, bv_tensor *x, bv_tensor **fmap);
/* d on y and on y_hat with one set of weight-normed weights, computed once and shared by both calls
 * (upstream's weight_norm hook recomputes the same values in every call; on the tape the shared
 * weights' gradient is the sum of both calls' before weight_norm's backward runs once). fmap_r /
 * fmap_g as bv_disc_forward's fmap (NULL: none). */
void bv_disc_forward_pair(bv_ctx *ctx, const bv_disc *d, bv_tensor *y, bv_tensor *y_hat, bv_tensor **d_r,
                          bv_tensor **d_g, bv_tensor **fmap_r, bv_tensor **fmap_g);

typedef struct bv_mpd {
    int n;                                   /* 1 + number of periods */
    bv_disc discs[BV_MPD_MAX_DISCS];         /* discriminators.<i>. : 0 = S, then P(period) */
} bv_mpd;

/* periods: upstream uses [2, 3, 5, 7, 11]. */
void bv_mpd_init(bv_mpd *m, bv_params *ps, const char *prefix, int n_periods, const int *periods,
                 const bv_disc_widths *ws, const bv_disc_widths *wp);
void bv_mpd_reset_parameters(const bv_mpd *m, bv_rng *rng);
/* y, y_hat [B, 1, T]. Outputs per discriminator i: y_d_rs[i], y_d_gs[i] and, if the arrays are
 * given, fmap_rs[i][0..], fmap_gs[i][0..] (each BV_DISC_MAX_CONVS + 1 wide). */
void bv_mpd_forward(bv_ctx *ctx, const bv_mpd *m, bv_tensor *y, bv_tensor *y_hat, bv_tensor **y_d_rs,
                    bv_tensor **y_d_gs, bv_tensor *(*fmap_rs)[BV_DISC_MAX_CONVS + 1],
                    bv_tensor *(*fmap_gs)[BV_DISC_MAX_CONVS + 1]);
/* Number of feature maps discriminator i returns (n_convs + 1). */
int bv_mpd_n_fmaps(const bv_mpd *m, int i);

/* models.WavLMDiscriminator(slm_hidden, slm_layers, initial_channel): pre 1x1 conv
 * (hidden*layers -> initial), convs k5 p2 initial -> 2x -> 4x -> 4x with leaky_relu(0.1),
 * conv_post k3 p1 -> 1, flatten. */
typedef struct bv_wavlm_disc {
    bv_disc_conv pre;
    bv_disc_conv convs[3];
    bv_disc_conv post;
} bv_wavlm_disc;

void bv_wavlm_disc_init(bv_wavlm_disc *d, bv_params *ps, const char *prefix, int slm_hidden, int slm_layers,
                        int initial_channel);
void bv_wavlm_disc_reset_parameters(const bv_wavlm_disc *d, bv_rng *rng);
/* x [B, slm_hidden * slm_layers, T] -> [B, T] */
bv_tensor *bv_wavlm_disc_forward(bv_ctx *ctx, const bv_wavlm_disc *d, bv_tensor *x);

#endif
