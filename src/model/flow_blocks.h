/* flow_blocks.h - the normalising flows between the posterior and the prior of SynthesizerTrn:
 * models.TransformerCouplingBlock (use_transformer_flow, Bert-VITS2 2.3's default) and
 * models.ResidualCouplingBlock (the VITS flow). Both are n_flows x [coupling layer (mean_only),
 * Flip] in an nn.ModuleList, so the couplings are "<prefix>flows.0.", "flows.2.", ... and the
 * parameterless Flips take the odd indices.
 *
 *   forward (reverse = 0): for flow in flows:           x, _ = flow(x, x_mask, g)   (logdets dropped)
 *   reverse (reverse = 1): for flow in reversed(flows): x = flow(x, x_mask, g, reverse=True)
 *
 *   bv_transformer_coupling_block *flow = bv_transformer_coupling_block_new(ps, "flow.",
 *       &(bv_transformer_coupling_block_cfg){.channels = 192, .hidden_channels = 192,
 *       .filter_channels = 768, .n_heads = 2, .n_layers = 6, .kernel_size = 5, .p_dropout = 0.1f,
 *       .n_flows = 4, .gin_channels = 512});
 *   bv_tensor *z_p = bv_transformer_coupling_block_forward(ctx, flow, z, y_mask, g, 0, training);
 */
#ifndef BV_MODEL_FLOW_BLOCKS_H
#define BV_MODEL_FLOW_BLOCKS_H

#include "../core/ctx.h"
#include "../core/params.h"
#include "../core/rng.h"
#include "../nn/coupling.h"

/* ---------------- TransformerCouplingBlock ---------------- */
typedef struct bv_transformer_coupling_block_cfg {
    int channels, hidden_channels, filter_channels, n_heads, n_layers, kernel_size;
    float p_dropout;
    int n_flows;          /* upstream default 4; must be >= 1 */
    int gin_channels;     /* 0: no speaker conditioning */
    int share_parameter;  /* must be 0: upstream's True path builds attentions.FFT, absent in 2.3 */
} bv_transformer_coupling_block_cfg;

typedef struct bv_transformer_coupling_block {
    bv_transformer_coupling_block_cfg cfg;
    bv_transformer_coupling **flows;   /* [n_flows]: flows.<2i>.* (mean_only); flows.<2i+1> is a Flip */
} bv_transformer_coupling_block;

/* Returns 0 if cfg can be built, else -1 with a message naming the bad field in err. */
int bv_transformer_coupling_block_cfg_check(const bv_transformer_coupling_block_cfg *cfg, char *err, int cap);
/* Fatal on an invalid cfg (validate user configs with the _cfg_check first). */
bv_transformer_coupling_block *bv_transformer_coupling_block_new(bv_params *ps, const char *prefix,
                                                                 const bv_transformer_coupling_block_cfg *cfg);
void bv_transformer_coupling_block_free(bv_transformer_coupling_block *m);
/* Upstream init: each coupling's own (post zeroed: a fresh block only flips channels). */
void bv_transformer_coupling_block_reset_parameters(const bv_transformer_coupling_block *m, bv_rng *rng);
/* x [B, C, T], x_mask [B, 1, T], g [B, gin, 1] or NULL -> [B, C, T]. training enables dropout. */
bv_tensor *bv_transformer_coupling_block_forward(bv_ctx *ctx, const bv_transformer_coupling_block *m, bv_tensor *x,
                                                 bv_tensor *x_mask, bv_tensor *g, int reverse, int training);

/* ---------------- ResidualCouplingBlock ---------------- */
typedef struct bv_residual_coupling_block_cfg {
    int channels, hidden_channels, kernel_size, dilation_rate, n_layers;
    int n_flows;          /* upstream default 4; must be >= 1 */
    int gin_channels;     /* 0: no speaker conditioning */
} bv_residual_coupling_block_cfg;

typedef struct bv_residual_coupling_block {
    bv_residual_coupling_block_cfg cfg;
    bv_residual_coupling **flows;      /* [n_flows]: flows.<2i>.* (mean_only, WN dropout 0); flows.<2i+1> Flip */
} bv_residual_coupling_block;

int bv_residual_coupling_block_cfg_check(const bv_residual_coupling_block_cfg *cfg, char *err, int cap);
bv_residual_coupling_block *bv_residual_coupling_block_new(bv_params *ps, const char *prefix,
                                                           const bv_residual_coupling_block_cfg *cfg);
void bv_residual_coupling_block_free(bv_residual_coupling_block *m);
void bv_residual_coupling_block_reset_parameters(const bv_residual_coupling_block *m, bv_rng *rng);
/* As bv_transformer_coupling_block_forward (training reaches the WN, whose dropout is 0 here). */
bv_tensor *bv_residual_coupling_block_forward(bv_ctx *ctx, const bv_residual_coupling_block *m, bv_tensor *x,
                                              bv_tensor *x_mask, bv_tensor *g, int reverse, int training);

#endif
