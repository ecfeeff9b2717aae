/* config.h - the upstream Bert-VITS2 2.3 config.json (configs/config.json, written into every model
 * folder): train.*, data.*, model.* and version, read with cJSON into one plain struct.
 *
 * Every key that upstream reads is here. Keys upstream reads directly (hps.train.seed) are
 * required; keys it reads with a default (getattr(hps.train, "freeze_ZH_bert", False),
 * kwargs.get("use_noise_scaled_mas", False), SynthesizerTrn's keyword defaults) are optional and
 * take that default. Unknown keys are ignored, as upstream's HParams does.
 *
 * A missing required key or a mistyped value is an error naming the file and the key path:
 *   "configs/config.json: model.hidden_channels: expected an integer, got 32.5"
 *
 *   bv_config cfg;
 *   char err[512];
 *   if (bv_config_load(&cfg, "configs/config.json", err, sizeof err)) { fprintf(stderr, "error: %s\n", err); ... }
 *   ... cfg.model.hidden_channels, cfg.data.spk2id[i].name ...
 *   bv_config_free(&cfg);
 */
#ifndef BV_IO_CONFIG_H
#define BV_IO_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Upper bounds of size keys: far above any real Bert-VITS2 config (upstream's largest values are
 * 44100 Hz, 2048-point FFTs, 512 channels, 6 layers), low enough that every product the model forms
 * from them fits its integer types and a bad value is reported by key, not as an overflow later. */
#define BV_JSON_INT_MAX 9007199254740992LL /* 2^53: the largest integer a JSON double holds exactly */
#define BV_CONFIG_MAX_BATCH 4096
#define BV_CONFIG_MAX_SEGMENT (1 << 22)    /* samples: 95 s at 44.1 kHz */
#define BV_CONFIG_MAX_RATE 768000
#define BV_CONFIG_MAX_FFT 65536
#define BV_CONFIG_MAX_MELS 1024
#define BV_CONFIG_MAX_SPEAKERS 100000
#define BV_CONFIG_MAX_TEXT 100000          /* phones per utterance */
#define BV_CONFIG_MAX_CHANNELS 16384
#define BV_CONFIG_MAX_LAYERS 256           /* also heads */
#define BV_CONFIG_MAX_KERNEL 1024          /* kernel sizes, dilations, upsample rates */

#include <cjson/cJSON.h>

#define BV_CONFIG_MAX_LIST 8   /* longest resblock / upsample list (matches generator.h) */

typedef struct bv_config_train {
    int64_t log_interval, eval_interval, seed, epochs;
    double learning_rate;
    double betas[2];
    double eps;
    int64_t batch_size;
    int bf16_run;
    double lr_decay;
    int64_t segment_size;          /* in samples; the model slices segment_size / hop_length frames */
    double init_lr_ratio;          /* optional, default 1 (upstream never reads it) */
    int64_t warmup_epochs;         /* optional, default 0 (upstream never reads it) */
    double c_mel, c_kl;
    double c_commit;               /* optional, default 100 (upstream never reads it) */
    int skip_optimizer;            /* optional, default true ("skip_optimizer" in hps.train else True) */
    int freeze_ZH_bert, freeze_JP_bert, freeze_EN_bert, freeze_emo; /* optional, default false */
    int64_t keep_ckpts;            /* optional, default 8 (upstream keeps it in config.yml) */
} bv_config_train;

typedef struct bv_config_speaker {
    char *name;
    int64_t id;
} bv_config_speaker;

typedef struct bv_config_data {
    char *training_files, *validation_files;
    double max_wav_value;
    int64_t sampling_rate, filter_length, hop_length, win_length, n_mel_channels;
    double mel_fmin;
    double mel_fmax;               /* meaningful only when has_mel_fmax */
    int has_mel_fmax;              /* 0: JSON null (librosa: sr / 2) */
    int add_blank;
    int64_t n_speakers;
    int cleaned_text;              /* optional, default false */
    int64_t min_text_len, max_text_len; /* optional, defaults 1 and 384 (data_utils) */
    bv_config_speaker *spk2id;     /* in file order */
    int n_spk2id;
} bv_config_data;

typedef struct bv_config_slm {
    char *model;                   /* path of the WavLM folder */
    int64_t sr, hidden, nlayers, initial_channel;
} bv_config_slm;

typedef struct bv_config_model {
    int use_spk_conditioned_encoder;   /* optional, default true (SynthesizerTrn kwargs.get) */
    int use_noise_scaled_mas;          /* optional, default false */
    int use_mel_posterior_encoder;     /* optional, default false (unused by SynthesizerTrn) */
    int use_duration_discriminator;    /* optional, default false */
    int inter_channels, hidden_channels, filter_channels, n_heads, n_layers, kernel_size;
    float p_dropout;
    int resblock;                      /* 1 or 2 (upstream's strings "1" / "2") */
    int n_resblock_kernels;
    int resblock_kernel_sizes[BV_CONFIG_MAX_LIST];
    int resblock_dilation_sizes[BV_CONFIG_MAX_LIST][3]; /* first 3 entries (ResBlock2 uses 2) */
    int n_upsamples;
    int upsample_rates[BV_CONFIG_MAX_LIST];
    int upsample_kernel_sizes[BV_CONFIG_MAX_LIST];
    int upsample_initial_channel;
    int n_layers_q;                    /* optional, default 3 (unused upstream) */
    int n_layers_trans_flow;           /* optional, default 4 */
    int use_transformer_flow;          /* optional, default true */
    int use_spectral_norm;
    int gin_channels;                  /* optional, default 256 */
    int use_sdp;                       /* optional, default true (the SDP is used either way) */
    int n_flow_layer;                  /* optional, default 4 */
    int flow_share_parameter;          /* optional, default false */
    double mas_noise_scale_initial;    /* optional, default 0.01 (python floats: doubles) */
    double noise_scale_delta;          /* optional, default 2e-6 */
    bv_config_slm slm;
    /* Not config keys: upstream HARD-CODES these dropout rates (models.py SynthesizerTrn: SDP 0.5,
     * DP 0.5; train_ms: DurationDiscriminator 0.1). Set to those values by the loader; a caller
     * may change them (the golden data were made with 0). */
    float sdp_p_dropout, dp_p_dropout, dur_disc_p_dropout;
} bv_config_model;

typedef struct bv_config {
    bv_config_train train;
    bv_config_data data;
    bv_config_model model;
    char *version;                     /* optional; NULL when absent */
} bv_config;

/* Read and parse a config.json. Returns 0, or -1 with "<path>: <key path>: <what>" in err. On
 * failure cfg holds nothing to free. */
int bv_config_load(bv_config *cfg, const char *path, char *err, size_t errcap);
/* The same from JSON text; source names it in messages. */
int bv_config_parse(bv_config *cfg, const char *json, const char *source, char *err, size_t errcap);
/* The same from a parsed document (e.g. a golden manifest's embedded config). */
int bv_config_from_json(bv_config *cfg, const cJSON *root, const char *source, char *err, size_t errcap);
void bv_config_free(bv_config *cfg);

/* Derived sizes as upstream computes them. */
static inline int64_t bv_config_spec_channels(const bv_config *c) { return c->data.filter_length / 2 + 1; }
static inline int64_t bv_config_segment_frames(const bv_config *c) {
    return c->train.segment_size / c->data.hop_length;
}
/* Speaker id by name (hps.data.spk2id[name]); -1 if absent. */
int64_t bv_config_speaker_id(const bv_config *c, const char *name);

#endif
