/* test_model_config.c - src/app/model_config.c: config.json's keys land in the right fields of the
 * model's hyper-parameters, and the checks name the config keys. */
#include <string.h>

#include "../src/app/model_config.h"
#include "test.h"

static const char *CFG =
    "{\"train\": {\"log_interval\": 10, \"eval_interval\": 100, \"seed\": 1, \"epochs\": 2, \"learning_rate\": 0.0002,"
    " \"betas\": [0.8, 0.99], \"eps\": 1e-09, \"batch_size\": 2, \"bf16_run\": false, \"lr_decay\": 0.99995,"
    " \"segment_size\": 24, \"c_mel\": 45, \"c_kl\": 1.0},"
    " \"data\": {\"training_files\": \"t.list\", \"validation_files\": \"v.list\", \"max_wav_value\": 32768.0,"
    " \"sampling_rate\": 16000, \"filter_length\": 14, \"hop_length\": 4, \"win_length\": 14, \"n_mel_channels\": 8,"
    " \"mel_fmin\": 0.0, \"mel_fmax\": null, \"add_blank\": true, \"n_speakers\": 3, \"spk2id\": {\"a\": 0}},"
    " \"model\": {\"use_noise_scaled_mas\": true, \"inter_channels\": 4, \"hidden_channels\": 8,"
    " \"filter_channels\": 16, \"n_heads\": 2, \"n_layers\": 3, \"kernel_size\": 3, \"p_dropout\": 0.25,"
    " \"resblock\": \"2\", \"resblock_kernel_sizes\": [3, 5], \"resblock_dilation_sizes\": [[1, 3], [2, 6]],"
    " \"upsample_rates\": [2, 2], \"upsample_initial_channel\": 8, \"upsample_kernel_sizes\": [4, 6],"
    " \"n_layers_trans_flow\": 5, \"use_spectral_norm\": false, \"gin_channels\": 4, \"n_flow_layer\": 6,"
    " \"use_transformer_flow\": false, \"mas_noise_scale_initial\": 0.5, \"noise_scale_delta\": 0.125,"
    " \"slm\": {\"model\": \"wavlm\", \"sr\": 16000, \"hidden\": 8, \"nlayers\": 2, \"initial_channel\": 4}}}";

BV_TEST(model_config_hparams_from_config) {
    bv_config cfg;
    char err[512];
    BV_CHECK(bv_config_parse(&cfg, CFG, "c.json", err, sizeof err) == 0, "%s", err);
    if (ts->failed) return;
    bv_synth_hparams hp;
    BV_CHECK(bv_synth_hparams_from_config(&hp, &cfg) == &hp, "returns hp");
    BV_CHECK(hp.n_speakers == 3 && hp.filter_length == 14 && hp.hop_length == 4 && hp.segment_size == 24,
             "data/train keys: %lld %lld %lld %lld", (long long)hp.n_speakers, (long long)hp.filter_length,
             (long long)hp.hop_length, (long long)hp.segment_size);
    BV_CHECK(hp.inter_channels == 4 && hp.hidden_channels == 8 && hp.filter_channels == 16 && hp.n_heads == 2 &&
                 hp.n_layers == 3 && hp.kernel_size == 3 && hp.p_dropout == 0.25f && hp.gin_channels == 4,
             "sizes");
    BV_CHECK(hp.resblock == 2 && hp.n_resblock_kernels == 2 && hp.resblock_kernel_sizes[1] == 5 &&
                 hp.resblock_dilation_sizes[1][1] == 6 && hp.n_upsamples == 2 && hp.upsample_kernel_sizes[1] == 6 &&
                 hp.upsample_rates[0] == 2 && hp.upsample_initial_channel == 8, "generator lists");
    BV_CHECK(hp.n_layers_trans_flow == 5 && hp.n_flow_layer == 6 && !hp.use_transformer_flow &&
                 !hp.flow_share_parameter && hp.use_noise_scaled_mas && hp.use_spk_conditioned_encoder,
             "flow and flags");
    BV_CHECK(hp.mas_noise_scale_initial == 0.5 && hp.noise_scale_delta == 0.125, "mas noise");
    BV_CHECK(hp.sdp_p_dropout == cfg.model.sdp_p_dropout && hp.dp_p_dropout == cfg.model.dp_p_dropout &&
                 hp.sdp_p_dropout == 0.5f, "hard-coded duration predictor dropouts");
    BV_CHECK(bv_synth_config_check(&cfg, err, sizeof err) == 0, "%s", err);
    cfg.data.hop_length = 32; /* less than one frame of segment_size */
    BV_CHECK(bv_synth_config_check(&cfg, err, sizeof err) == -1 && strstr(err, "train.segment_size"), "%s", err);
    bv_config_free(&cfg);
}
