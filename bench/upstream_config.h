/* upstream_config.h - upstream's configs/config.json (Bert-VITS2 2.3) as the whole-model benchmarks use
 * it: every key the train step and inference read, spk2id cut to one name (n_speakers stays 850). */
#ifndef BV_BENCH_UPSTREAM_CONFIG_H
#define BV_BENCH_UPSTREAM_CONFIG_H

#include <time.h>

static const char bv_bench_upstream_config[] =
    "{\"train\": {\"log_interval\": 200, \"eval_interval\": 1000, \"seed\": 42, \"epochs\": 1000,"
    " \"learning_rate\": 0.0002, \"betas\": [0.8, 0.99], \"eps\": 1e-09, \"batch_size\": 16, \"bf16_run\": false,"
    " \"lr_decay\": 0.99995, \"segment_size\": 16384, \"init_lr_ratio\": 1, \"warmup_epochs\": 0, \"c_mel\": 45,"
    " \"c_kl\": 1.0, \"c_commit\": 100, \"skip_optimizer\": true, \"freeze_ZH_bert\": false,"
    " \"freeze_JP_bert\": false, \"freeze_EN_bert\": false, \"freeze_emo\": false},"
    " \"data\": {\"training_files\": \"filelists/train.list\", \"validation_files\": \"filelists/val.list\","
    " \"max_wav_value\": 32768.0, \"sampling_rate\": 44100, \"filter_length\": 2048, \"hop_length\": 512,"
    " \"win_length\": 2048, \"n_mel_channels\": 128, \"mel_fmin\": 0.0, \"mel_fmax\": null, \"add_blank\": true,"
    " \"n_speakers\": 850, \"cleaned_text\": true, \"spk2id\": {\"spk0\": 0}},"
    " \"model\": {\"use_spk_conditioned_encoder\": true, \"use_noise_scaled_mas\": true,"
    " \"use_mel_posterior_encoder\": false, \"use_duration_discriminator\": true, \"inter_channels\": 192,"
    " \"hidden_channels\": 192, \"filter_channels\": 768, \"n_heads\": 2, \"n_layers\": 6, \"kernel_size\": 3,"
    " \"p_dropout\": 0.1, \"resblock\": \"1\", \"resblock_kernel_sizes\": [3, 7, 11],"
    " \"resblock_dilation_sizes\": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], \"upsample_rates\": [8, 8, 2, 2, 2],"
    " \"upsample_initial_channel\": 512, \"upsample_kernel_sizes\": [16, 16, 8, 2, 2], \"n_layers_q\": 3,"
    " \"use_spectral_norm\": false, \"gin_channels\": 512,"
    " \"slm\": {\"model\": \"./slm/wavlm-base-plus\", \"sr\": 16000, \"hidden\": 768, \"nlayers\": 13,"
    " \"initial_channel\": 64}},"
    " \"version\": \"2.3\"}";

static inline double bv_bench_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

#endif
