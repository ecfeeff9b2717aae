/* model_config.c - config.json -> the model's hyper-parameters (see model_config.h). */
#include "model_config.h"

#include <string.h>

_Static_assert(BV_CONFIG_MAX_LIST <= BV_SYNTH_HP_MAX_LIST, "config lists must fit the hparams' arrays");

bv_synth_hparams *bv_synth_hparams_from_config(bv_synth_hparams *hp, const bv_config *cfg) {
    const bv_config_model *m = &cfg->model;
    memset(hp, 0, sizeof *hp);
    hp->n_speakers = cfg->data.n_speakers;
    hp->filter_length = cfg->data.filter_length;
    hp->hop_length = cfg->data.hop_length;
    hp->segment_size = cfg->train.segment_size;
    hp->use_spk_conditioned_encoder = m->use_spk_conditioned_encoder;
    hp->use_noise_scaled_mas = m->use_noise_scaled_mas;
    hp->inter_channels = m->inter_channels;
    hp->hidden_channels = m->hidden_channels;
    hp->filter_channels = m->filter_channels;
    hp->n_heads = m->n_heads;
    hp->n_layers = m->n_layers;
    hp->kernel_size = m->kernel_size;
    hp->p_dropout = m->p_dropout;
    hp->resblock = m->resblock;
    hp->n_resblock_kernels = m->n_resblock_kernels;
    memcpy(hp->resblock_kernel_sizes, m->resblock_kernel_sizes, sizeof m->resblock_kernel_sizes);
    memcpy(hp->resblock_dilation_sizes, m->resblock_dilation_sizes, sizeof m->resblock_dilation_sizes);
    hp->n_upsamples = m->n_upsamples;
    memcpy(hp->upsample_rates, m->upsample_rates, sizeof m->upsample_rates);
    memcpy(hp->upsample_kernel_sizes, m->upsample_kernel_sizes, sizeof m->upsample_kernel_sizes);
    hp->upsample_initial_channel = m->upsample_initial_channel;
    hp->n_layers_trans_flow = m->n_layers_trans_flow;
    hp->use_transformer_flow = m->use_transformer_flow;
    hp->gin_channels = m->gin_channels;
    hp->n_flow_layer = m->n_flow_layer;
    hp->flow_share_parameter = m->flow_share_parameter;
    hp->mas_noise_scale_initial = m->mas_noise_scale_initial;
    hp->noise_scale_delta = m->noise_scale_delta;
    hp->sdp_p_dropout = m->sdp_p_dropout;
    hp->dp_p_dropout = m->dp_p_dropout;
    return hp;
}

int bv_synth_config_check(const bv_config *cfg, char *err, int cap) {
    bv_synth_hparams hp;
    return bv_synth_hparams_check(bv_synth_hparams_from_config(&hp, cfg), err, cap);
}

bv_synth *bv_synth_from_config(bv_params *ps, const char *prefix, const bv_config *cfg) {
    bv_synth_hparams hp;
    return bv_synth_new(ps, prefix, bv_synth_hparams_from_config(&hp, cfg));
}
