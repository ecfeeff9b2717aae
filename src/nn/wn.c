/* wn.c - modules.WN and the fused gate commons.fused_add_tanh_sigmoid_multiply.
 *
 * The gate is one op (BV_OP_FUSED_TANH_SIGMOID) rather than slice/tanh/sigmoid/mul: it runs once per
 * WN layer on [B, 2H, T] (16 layers in the posterior encoder, 4 flows x 4 layers in the residual
 * flow), and the fused form reads the input once and stores nothing extra for backward (the
 * activations are recomputed from a and b). Backward ACCUMULATES into the input grads.
 */
#include "wn.h"

#include <stdlib.h>

#include "../core/error.h"

/* ---------------- fused gate ---------------- */

/* out[b, c, t] = tanh(a[b, c, t] + bb[b, c, t']) * sigmoid(a[b, n + c, t] + bb[b, n + c, t'])
 * where t' = t, or 0 when b is broadcast over time (Tb == 1); bb == NULL means zeros. */
static void gate_fwd_kernel(float *out, const float *a, const float *bb, int64_t B, int64_t n, int64_t T,
                            int64_t Tb) {
#pragma omp parallel for collapse(2) if (B * n * T > 32768)
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < n; c++) {
            const float *at = a + (b * 2 * n + c) * T, *as = a + (b * 2 * n + n + c) * T;
            const float *bt = bb ? bb + (b * 2 * n + c) * Tb : NULL, *bs = bb ? bb + (b * 2 * n + n + c) * Tb : NULL;
            float *o = out + (b * n + c) * T;
            for (int64_t t = 0; t < T; t++) {
                int64_t tb = Tb == 1 ? 0 : t;
                float it = bt ? at[t] + bt[tb] : at[t];
                float is = bs ? as[t] + bs[tb] : as[t];
                o[t] = tanhf(it) * (1.0f / (1.0f + expf(-is)));
            }
        }
}

/* d in_t = go * s * (1 - th^2), d in_s = go * th * s * (1 - s); written into din [B, 2n, T]. */
static void gate_bwd_kernel(float *din, const float *go, const float *a, const float *bb, int64_t B, int64_t n,
                            int64_t T, int64_t Tb) {
#pragma omp parallel for collapse(2) if (B * n * T > 32768)
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < n; c++) {
            const float *at = a + (b * 2 * n + c) * T, *as = a + (b * 2 * n + n + c) * T;
            const float *bt = bb ? bb + (b * 2 * n + c) * Tb : NULL, *bs = bb ? bb + (b * 2 * n + n + c) * Tb : NULL;
            const float *g = go + (b * n + c) * T;
            float *dt = din + (b * 2 * n + c) * T, *ds = din + (b * 2 * n + n + c) * T;
            for (int64_t t = 0; t < T; t++) {
                int64_t tb = Tb == 1 ? 0 : t;
                float th = tanhf(bt ? at[t] + bt[tb] : at[t]);
                float s = 1.0f / (1.0f + expf(-(bs ? as[t] + bs[tb] : as[t])));
                dt[t] = g[t] * s * (1.0f - th * th);
                ds[t] = g[t] * th * s * (1.0f - s);
            }
        }
}

static void gate_backward(bv_ctx *ctx, bv_node *node) {
    bv_tensor *a = node->in[0], *b = node->n_in > 1 ? node->in[1] : NULL, *out = node->out[0];
    int64_t B = a->shape[0], n = a->shape[1] / 2, T = a->shape[2], Tb = b ? b->shape[2] : T;
    float *din = bv_arena_alloc(&ctx->arena, sizeof(float) * (size_t)a->numel); // [B, 2n, T]
    gate_bwd_kernel(din, out->grad, a->data, b ? b->data : NULL, B, n, T, Tb);
    if (a->requires_grad) {
        float *ga = bv_grad(ctx, a);
        for (int64_t i = 0; i < a->numel; i++) ga[i] += din[i];
    }
    if (b && b->requires_grad) {
        float *gb = bv_grad(ctx, b);
        for (int64_t r = 0; r < B * 2 * n; r++) {
            const float *d = din + r * T;
            if (Tb == 1) {
                double acc = 0;
                for (int64_t t = 0; t < T; t++) acc += d[t];
                gb[r] += (float)acc;
            } else {
                for (int64_t t = 0; t < T; t++) gb[r * T + t] += d[t];
            }
        }
    }
}

bv_tensor *bv_fused_add_tanh_sigmoid_multiply(bv_ctx *ctx, bv_tensor *a, bv_tensor *b, int n_channels) {
    static const char *op = "fused_add_tanh_sigmoid_multiply";
    char sa[64], sb[64];
    bv_check_cpu(ctx, op, a);
    if (a->dtype != BV_F32 || a->ndim != 3 || a->shape[1] != 2 * (int64_t)n_channels)
        bv_ctx_error(ctx, op, "a %s (%s) must be f32 [B, %d, T] (2 * n_channels)", bv_shape_str(a, sa, sizeof sa),
                     bv_dtype_name(a->dtype), 2 * n_channels);
    if (b && (b->dtype != BV_F32 || b->ndim != 3 || b->shape[0] != a->shape[0] || b->shape[1] != a->shape[1] ||
              (b->shape[2] != a->shape[2] && b->shape[2] != 1)))
        bv_ctx_error(ctx, op, "b %s (%s) does not broadcast to a %s: expected f32 [B, 2n, T] or [B, 2n, 1]",
                     bv_shape_str(b, sb, sizeof sb), bv_dtype_name(b->dtype), bv_shape_str(a, sa, sizeof sa));
    if (b) bv_check_cpu(ctx, op, b);
    int64_t B = a->shape[0], n = n_channels, T = a->shape[2];
    bv_tensor *out = bv_new(ctx, BV_F32, BV_SHAPE(B, n, T)); // [B, n, T]
    gate_fwd_kernel(out->data, a->data, b ? b->data : NULL, B, n, T, b ? b->shape[2] : T);
    bv_tensor *ins[2] = {a, b};
    int n_in = b ? 2 : 1;
    if (bv_needs_grad(ctx, n_in, ins)) bv_record(ctx, BV_OP_FUSED_TANH_SIGMOID, gate_backward, n_in, ins, 1, &out);
    return out;
}

/* ---------------- modules.WN ---------------- */

bv_wn *bv_wn_new(bv_params *ps, const char *prefix, const bv_wn_cfg *cfg) {
    BV_ASSERT(cfg->kernel_size % 2 == 1); /* upstream asserts it: "same" padding needs an odd kernel */
    BV_ASSERT(cfg->n_layers >= 1 && cfg->hidden_channels > 0 && cfg->dilation_rate >= 1);
    bv_wn *m = bv_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    int H = cfg->hidden_channels, L = cfg->n_layers, k = cfg->kernel_size;
    m->in_layers = bv_xcalloc((size_t)L, sizeof *m->in_layers);
    m->res_skip_layers = bv_xcalloc((size_t)L, sizeof *m->res_skip_layers);
    char name[512];
    /* state_dict order: in_layers.*, res_skip_layers.*, then cond_layer (registered after them) */
    int dilation = 1;
    for (int i = 0; i < L; i++, dilation *= cfg->dilation_rate) {
        snprintf(name, sizeof name, "%sin_layers.%d.", prefix, i);
        bv_conv1d_layer_init(&m->in_layers[i], ps, name,
                             &(bv_conv1d_cfg){.in_channels = H, .out_channels = 2 * H, .kernel_size = k,
                                              .dilation = dilation, .padding = (k * dilation - dilation) / 2,
                                              .weight_norm = 1});
    }
    for (int i = 0; i < L; i++) {
        snprintf(name, sizeof name, "%sres_skip_layers.%d.", prefix, i);
        int out_ch = i < L - 1 ? 2 * H : H; /* the last layer has no residual half */
        bv_conv1d_layer_init(&m->res_skip_layers[i], ps, name,
                             &(bv_conv1d_cfg){.in_channels = H, .out_channels = out_ch, .kernel_size = 1,
                                              .weight_norm = 1});
    }
    if (cfg->gin_channels > 0) {
        snprintf(name, sizeof name, "%scond_layer.", prefix);
        bv_conv1d_layer_init(&m->cond_layer, ps, name,
                             &(bv_conv1d_cfg){.in_channels = cfg->gin_channels, .out_channels = 2 * H * L,
                                              .kernel_size = 1, .weight_norm = 1});
    }
    return m;
}

void bv_wn_free(bv_wn *m) {
    if (!m) return;
    free(m->in_layers);
    free(m->res_skip_layers);
    free(m);
}

void bv_wn_reset_parameters(const bv_wn *m, bv_rng *rng) {
    for (int i = 0; i < m->cfg.n_layers; i++) bv_conv1d_layer_reset_parameters(&m->in_layers[i], rng);
    for (int i = 0; i < m->cfg.n_layers; i++) bv_conv1d_layer_reset_parameters(&m->res_skip_layers[i], rng);
    if (m->cfg.gin_channels > 0) bv_conv1d_layer_reset_parameters(&m->cond_layer, rng);
}

bv_tensor *bv_wn_forward(bv_ctx *ctx, const bv_wn *m, bv_tensor *x, bv_tensor *x_mask, bv_tensor *g, int training) {
    const int H = m->cfg.hidden_channels, L = m->cfg.n_layers;
    bv_nn_check_input(ctx, "WN", x, H);
    bv_nn_check_mask(ctx, "WN", x, x_mask);
    bv_tensor *gc = NULL; // [B, 2H*L, 1]
    if (g) {
        if (m->cfg.gin_channels <= 0) bv_ctx_error(ctx, "WN", "g given but the module has gin_channels = 0");
        bv_nn_check_cond(ctx, "WN", x, g, m->cfg.gin_channels);
        gc = bv_conv1d_layer_forward(ctx, &m->cond_layer, g);
    }
    bv_tensor *output = NULL; // [B, H, T]; upstream starts from zeros_like(x), 0 + v == v
    for (int i = 0; i < L; i++) {
        bv_tensor *x_in = bv_conv1d_layer_forward(ctx, &m->in_layers[i], x);           // [B, 2H, T]
        bv_tensor *g_l = gc ? bv_slice(ctx, gc, 1, (int64_t)i * 2 * H, (int64_t)(i + 1) * 2 * H, 1) : NULL; // [B, 2H, 1]
        bv_tensor *acts = bv_fused_add_tanh_sigmoid_multiply(ctx, x_in, g_l, H);       // [B, H, T]
        acts = bv_dropout(ctx, acts, m->cfg.p_dropout, training);
        bv_tensor *rs = bv_conv1d_layer_forward(ctx, &m->res_skip_layers[i], acts);    // [B, 2H, T] / [B, H, T]
        bv_tensor *skip = rs;
        if (i < L - 1) {
            bv_tensor *res = bv_slice(ctx, rs, 1, 0, H, 1);                            // [B, H, T]
            x = bv_mul(ctx, bv_add(ctx, x, res), x_mask);
            skip = bv_slice(ctx, rs, 1, H, 2 * H, 1);                                  // [B, H, T]
        }
        output = output ? bv_add(ctx, output, skip) : skip;
    }
    return bv_mul(ctx, output, x_mask); // [B, H, T]
}
