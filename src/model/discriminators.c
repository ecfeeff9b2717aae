/* discriminators.c - the three waveform/feature discriminators of Bert-VITS2 (see the header). */
#include "discriminators.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../ops/ops.h"

#define LRELU_SLOPE 0.1f /* modules.LRELU_SLOPE */

void bv_disc_widths_upstream_s(bv_disc_widths *w) {
    static const bv_disc_layer convs[6] = {
        {1, 16, 15, 1, 1, 7},         {16, 64, 41, 4, 4, 20},      {64, 256, 41, 4, 16, 20},
        {256, 1024, 41, 4, 64, 20},   {1024, 1024, 41, 4, 256, 20}, {1024, 1024, 5, 1, 1, 2},
    };
    w->n_convs = 6;
    memcpy(w->convs, convs, sizeof convs);
    w->post = (bv_disc_layer){1024, 1, 3, 1, 1, 1};
}

void bv_disc_widths_upstream_p(bv_disc_widths *w) {
    /* kernel_size 5, stride 3, padding get_padding(5, 1) = 2; the last conv has stride 1 */
    static const int ch[6] = {1, 32, 128, 512, 1024, 1024};
    w->n_convs = 5;
    for (int i = 0; i < 5; i++) w->convs[i] = (bv_disc_layer){ch[i], ch[i + 1], 5, i < 4 ? 3 : 1, 1, 2};
    w->post = (bv_disc_layer){1024, 1, 3, 1, 1, 1};
}

/* A weight-normed conv: weight_g [cout, 1, 1(, 1)], weight_v [cout, cin/groups, k(, 1)], bias [cout]. */
static void conv_init(bv_disc_conv *c, bv_params *ps, const char *name, const bv_disc_layer *s, int is2d) {
    c->spec = *s;
    int64_t g2[4] = {s->cout, 1, 1, 1}, v2[4] = {s->cout, s->cin / s->groups, s->k, 1};
    int nd = is2d ? 4 : 3;
    c->bias = bv_params_addf(ps, BV_SHAPE(s->cout), "%s.bias", name);
    c->weight_g = bv_params_addf(ps, nd, g2, "%s.weight_g", name);
    c->weight_v = bv_params_addf(ps, nd, v2, "%s.weight_v", name);
}

static bv_tensor *conv_forward(bv_ctx *ctx, const bv_disc_conv *c, bv_tensor *w, bv_tensor *x, int is2d) {
    const bv_disc_layer *s = &c->spec;
    if (is2d) return bv_conv2d(ctx, x, w, c->bias, s->stride, 1, s->pad, 0, 1, 1, s->groups);
    return bv_conv1d(ctx, x, w, c->bias, s->stride, s->pad, 1, s->groups);
}

void bv_disc_init(bv_disc *d, bv_params *ps, const char *prefix, int period, const bv_disc_widths *w) {
    BV_ASSERT(w->n_convs <= BV_DISC_MAX_CONVS);
    memset(d, 0, sizeof *d);
    d->period = period;
    d->n_convs = w->n_convs;
    char name[256];
    for (int i = 0; i < w->n_convs; i++) {
        snprintf(name, sizeof name, "%sconvs.%d", prefix, i);
        conv_init(&d->convs[i], ps, name, &w->convs[i], period > 0);
    }
    snprintf(name, sizeof name, "%sconv_post", prefix);
    conv_init(&d->post, ps, name, &w->post, period > 0);
}

/* DiscriminatorP's 1d -> 2d: reflect-pad T up to a multiple of the period, view [B, C, T/p, p]. */
static bv_tensor *fold_periods(bv_ctx *ctx, bv_tensor *x, int period) {
    int64_t b = x->shape[0], c = x->shape[1], t = x->shape[2];
    if (t % period) {
        int64_t pads[2] = {0, period - t % period};
        x = bv_pad(ctx, x, 2, pads, BV_PAD_REFLECT, 0.0f);
        t += pads[1];
    }
    return bv_reshape(ctx, x, BV_SHAPE(b, c, t / period, period));
}

static bv_tensor *disc_forward_w(bv_ctx *ctx, const bv_disc *d, bv_tensor *const *w, bv_tensor *x, bv_tensor **fmap) {
    bv_check_ndim(ctx, d->period ? "DiscriminatorP" : "DiscriminatorS", x, 3); // [B, 1, T]
    int is2d = d->period > 0;
    if (is2d) x = fold_periods(ctx, x, d->period);      // [B, 1, T/p, p]
    for (int i = 0; i < d->n_convs; i++) {
        x = bv_leaky_relu(ctx, conv_forward(ctx, &d->convs[i], w[i], x, is2d), LRELU_SLOPE);
        if (fmap) fmap[i] = x;
    }
    x = conv_forward(ctx, &d->post, w[d->n_convs], x, is2d);
    if (fmap) fmap[d->n_convs] = x;
    return bv_reshape(ctx, x, BV_SHAPE(x->shape[0], -1)); // torch.flatten(x, 1, -1)
}

/* The weight-normed weights of d's convs (w[0..n_convs-1], then conv_post's at w[n_convs]). */
static void disc_weights(bv_ctx *ctx, const bv_disc *d, bv_tensor **w) {
    for (int i = 0; i < d->n_convs; i++) w[i] = bv_weight_norm(ctx, d->convs[i].weight_g, d->convs[i].weight_v, 0);
    w[d->n_convs] = bv_weight_norm(ctx, d->post.weight_g, d->post.weight_v, 0);
}

bv_tensor *bv_disc_forward(bv_ctx *ctx, const bv_disc *d, bv_tensor *x, bv_tensor **fmap) {
    bv_tensor *w[BV_DISC_MAX_CONVS + 1];
    disc_weights(ctx, d, w);
    return disc_forward_w(ctx, d, w, x, fmap);
}

void bv_disc_forward_pair(bv_ctx *ctx, const bv_disc *d, bv_tensor *y, bv_tensor *y_hat, bv_tensor **d_r,
                          bv_tensor **d_g, bv_tensor **fmap_r, bv_tensor **fmap_g) {
    bv_tensor *w[BV_DISC_MAX_CONVS + 1];
    disc_weights(ctx, d, w);
    *d_r = disc_forward_w(ctx, d, w, y, fmap_r);
    *d_g = disc_forward_w(ctx, d, w, y_hat, fmap_g);
}

void bv_mpd_init(bv_mpd *m, bv_params *ps, const char *prefix, int n_periods, const int *periods,
                 const bv_disc_widths *ws, const bv_disc_widths *wp) {
    BV_ASSERT(n_periods + 1 <= BV_MPD_MAX_DISCS);
    m->n = n_periods + 1;
    char name[256];
    for (int i = 0; i < m->n; i++) {
        snprintf(name, sizeof name, "%sdiscriminators.%d.", prefix, i);
        bv_disc_init(&m->discs[i], ps, name, i ? periods[i - 1] : 0, i ? wp : ws);
    }
}

int bv_mpd_n_fmaps(const bv_mpd *m, int i) { return m->discs[i].n_convs + 1; }

void bv_mpd_forward(bv_ctx *ctx, const bv_mpd *m, bv_tensor *y, bv_tensor *y_hat, bv_tensor **y_d_rs,
                    bv_tensor **y_d_gs, bv_tensor *(*fmap_rs)[BV_DISC_MAX_CONVS + 1],
                    bv_tensor *(*fmap_gs)[BV_DISC_MAX_CONVS + 1]) {
    for (int i = 0; i < m->n; i++) {
        bv_disc_forward_pair(ctx, &m->discs[i], y, y_hat, &y_d_rs[i], &y_d_gs[i], fmap_rs ? fmap_rs[i] : NULL,
                             fmap_gs ? fmap_gs[i] : NULL);
    }
}

void bv_wavlm_disc_init(bv_wavlm_disc *d, bv_params *ps, const char *prefix, int slm_hidden, int slm_layers,
                        int initial_channel) {
    char name[256];
    int c = initial_channel;
    bv_disc_layer pre = {slm_hidden * slm_layers, c, 1, 1, 1, 0};
    bv_disc_layer convs[3] = {{c, 2 * c, 5, 1, 1, 2}, {2 * c, 4 * c, 5, 1, 1, 2}, {4 * c, 4 * c, 5, 1, 1, 2}};
    bv_disc_layer post = {4 * c, 1, 3, 1, 1, 1};
    snprintf(name, sizeof name, "%spre", prefix);
    conv_init(&d->pre, ps, name, &pre, 0);
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%sconvs.%d", prefix, i);
        conv_init(&d->convs[i], ps, name, &convs[i], 0);
    }
    snprintf(name, sizeof name, "%sconv_post", prefix);
    conv_init(&d->post, ps, name, &post, 0);
}

/* WavLMDiscriminator's convs (called once per input; nothing to share) */
static bv_tensor *wn_conv_forward(bv_ctx *ctx, const bv_disc_conv *c, bv_tensor *x) {
    return conv_forward(ctx, c, bv_weight_norm(ctx, c->weight_g, c->weight_v, 0), x, 0);
}

bv_tensor *bv_wavlm_disc_forward(bv_ctx *ctx, const bv_wavlm_disc *d, bv_tensor *x) {
    x = wn_conv_forward(ctx, &d->pre, x); // [B, initial, T]; no activation after pre, as upstream
    for (int i = 0; i < 3; i++) x = bv_leaky_relu(ctx, wn_conv_forward(ctx, &d->convs[i], x), LRELU_SLOPE);
    x = wn_conv_forward(ctx, &d->post, x); // [B, 1, T]
    return bv_reshape(ctx, x, BV_SHAPE(x->shape[0], -1));
}

/* PyTorch's default init of a weight-normed conv, as weight_norm() leaves it: v ~ U(-b, b) and
 * bias ~ U(-b, b) with b = 1/sqrt(fan_in) (kaiming_uniform(a=sqrt(5)) reduces to that), g = ||v||
 * per output channel. */
static void conv_reset(const bv_disc_conv *c, bv_rng *rng) {
    bv_tensor *v = c->weight_v;
    int64_t fan_in = v->numel / v->shape[0];
    double bound = 1.0 / sqrt((double)fan_in);
    bv_init_uniform(v, rng, bound);
    bv_init_weight_norm_g(c->weight_g, v);
    bv_init_uniform(c->bias, rng, bound);
}

void bv_disc_reset_parameters(const bv_disc *d, bv_rng *rng) {
    for (int i = 0; i < d->n_convs; i++) conv_reset(&d->convs[i], rng);
    conv_reset(&d->post, rng);
}

void bv_mpd_reset_parameters(const bv_mpd *m, bv_rng *rng) {
    for (int i = 0; i < m->n; i++) bv_disc_reset_parameters(&m->discs[i], rng);
}

void bv_wavlm_disc_reset_parameters(const bv_wavlm_disc *d, bv_rng *rng) {
    conv_reset(&d->pre, rng);
    for (int i = 0; i < 3; i++) conv_reset(&d->convs[i], rng);
    conv_reset(&d->post, rng);
}
