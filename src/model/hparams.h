/* hparams.h - the hyper-parameters SynthesizerTrn (net_g) is built from: config.json's model section
 * and the three data/train keys net_g reads. The model layer never reads config files; the
 * application layer fills this struct from the parsed config (src/app/model_config.h:
 * bv_synth_hparams_from_config). Each field names the config key it comes from, which is also what
 * bv_synth_hparams_check's messages name.
 */
#ifndef BV_MODEL_HPARAMS_H
#define BV_MODEL_HPARAMS_H

#include <stdint.h>

#define BV_SYNTH_HP_MAX_LIST 8   /* longest resblock / upsample list (matches generator.h) */

typedef struct bv_synth_hparams {
    int64_t n_speakers;                /* data.n_speakers: emb_g rows */
    int64_t filter_length;             /* data.filter_length: spec_channels = filter_length / 2 + 1 */
    int64_t hop_length;                /* data.hop_length */
    int64_t segment_size;              /* train.segment_size, in samples (segment_size / hop_length frames) */
    int use_spk_conditioned_encoder;   /* model.* from here on */
    int use_noise_scaled_mas;
    int inter_channels, hidden_channels, filter_channels, n_heads, n_layers, kernel_size;
    float p_dropout;
    int resblock;                      /* 1 or 2 */
    int n_resblock_kernels;
    int resblock_kernel_sizes[BV_SYNTH_HP_MAX_LIST];
    int resblock_dilation_sizes[BV_SYNTH_HP_MAX_LIST][3];
    int n_upsamples;
    int upsample_rates[BV_SYNTH_HP_MAX_LIST];
    int upsample_kernel_sizes[BV_SYNTH_HP_MAX_LIST];
    int upsample_initial_channel;
    int n_layers_trans_flow;
    int use_transformer_flow;
    int gin_channels;
    int n_flow_layer;
    int flow_share_parameter;
    double mas_noise_scale_initial;    /* python floats: doubles */
    double noise_scale_delta;
    float sdp_p_dropout, dp_p_dropout; /* hard-coded upstream (0.5, 0.5); the golden data use 0 */
} bv_synth_hparams;

#endif
