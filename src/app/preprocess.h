/* preprocess.h - dataset preparation behind `bv2 resample` and `bv2 preprocess`: what upstream's
 * resample.py, preprocess_text.py and (for the no-BERT case) bert_gen.py do before train_ms.py runs.
 *
 *   resample   every audio file libsndfile reads -> mono 16-bit WAV at the target rate, resampled by
 *              soxr at 'HQ' quality and cut or zero-padded to ceil(n * sr_out / sr_in) samples - what
 *              upstream's librosa.load(sr=...) (res_type soxr_hq, fix=True) + soundfile.write give.
 *   clean      a transcript line "wav|speaker|language|text" -> the filelist line
 *              "wav|speaker|language|norm_text|phones|tones|word2ph". English goes through our
 *              front-end (text/english.h: upstream's text_normalize + g2p on CMUdict 0.6), Japanese
 *              through text/japanese.h (MeCab + OpenJTalk's rules, as upstream's pyopenjtalk); ZH
 *              lines must come already cleaned (7 fields, e.g. from upstream's preprocess_text.py),
 *              and such lines are validated against the symbol table and passed through.
 *   split      upstream's train/val split: lines grouped by LANGUAGE (upstream's spk_utt_map is keyed by
 *              language despite its name), each group shuffled, its first val_per_lang lines to val;
 *              val shuffled and cut to max_val_total (the rest back to train). Seeded here (upstream
 *              uses Python's unseeded random), so a rerun gives the same lists.
 *   config     data.spk2id (speakers in order of first appearance), data.n_speakers, data.training_files,
 *              data.validation_files and version written into config.json, as preprocess_text.py does.
 *   BERT       <wav>.bert.pt holding ZEROS [1024, n_text] (n_text = 2 n_phones + 1 with data.add_blank)
 *              in torch.save format, for datasets without BERT features. Real features need upstream's
 *              bert_gen.py (DeBERTa / BERT models); a model trained on zeros learns no prosody from BERT
 *              and must be given zeros (or the same features) at inference.
 *   WavLM      a small RANDOMLY initialised WavLM in transformers' folder layout (config.json +
 *              model.safetensors), for demos and tests where microsoft/wavlm-base-plus is not at hand.
 *              It is no speech model: the WavLM discriminator loss it feeds is only a regulariser.
 *
 * Every function returns 0 on success or -1 with a message in err that names the file (and line).
 */
#ifndef BV_APP_PREPROCESS_H
#define BV_APP_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../text/lexicon.h"

/* ---- resampling ---- */

/* Output length of a resample, as librosa's fix_length makes it: ceil(n * out_sr / in_sr). */
int64_t bv_prep_resampled_len(int64_t n, int in_sr, int out_sr);

/* Mono x[0..n) at in_sr -> *y (malloc, caller frees) at out_sr, bv_prep_resampled_len samples.
 * Equal rates copy. */
int bv_prep_resample(const float *x, int64_t n, int in_sr, int out_sr, float **y, int64_t *ny, char *err,
                     size_t errcap);

/* Reads `in` (any libsndfile format; channels averaged to mono as librosa does), resamples to sr and
 * writes a 16-bit PCM WAV to `out` (via "<out>.tmp" and rename). *in_sr / *out_frames may be NULL. */
int bv_prep_resample_file(const char *in, const char *out, int sr, int *in_sr, int64_t *out_frames, char *err,
                          size_t errcap);

/* 1 when a file name has an extension libsndfile reads audio from (wav, flac, ogg, ...; any case). */
int bv_prep_is_audio_name(const char *name);

/* ---- transcript cleaning ---- */

typedef struct bv_prep_utt {
    int line;                   /* 1-based line in the transcript */
    char *wav, *speaker, *language, *text;   /* text: the normalised text (field 4 of the filelist) */
    char *phones, *tones, *word2ph;          /* space separated, as the filelist holds them */
    int n_phones;
} bv_prep_utt;

/* One transcript line (already stripped of its newline) -> *u (free with bv_prep_utt_free).
 * 4 fields: cleaned here (EN: lex; ZH: bv_zh_dict_default's tables; JP: MeCab over OpenJTalk's dictionary); 7 fields:
 * validated and kept. wav_dir (may be NULL)
 * is joined in front of a relative wav path. `source` names the transcript in messages
 * ("<source>:<line>: ..."). lex may be NULL when no line needs cleaning. */
int bv_prep_clean_line(const bv_lexicon *lex, const char *line, int lineno, const char *source,
                       const char *wav_dir, bv_prep_utt *u, char *err, size_t errcap);
void bv_prep_utt_free(bv_prep_utt *u);

/* "wav|speaker|language|text|phones|tones|word2ph\n" (malloc). */
char *bv_prep_utt_line(const bv_prep_utt *u);

/* ---- split and speakers ---- */

/* Upstream's split (see the top of this file) over utts[0..n): train_idx / val_idx (caller's arrays
 * of n entries) receive indices into utts, *n_train + *n_val = n. */
void bv_prep_split(const bv_prep_utt *utts, int n, int val_per_lang, int max_val_total, uint64_t seed,
                   int *train_idx, int *n_train, int *val_idx, int *n_val);

/* Speaker names in order of first appearance (pointers into utts; names[] has room for n). */
int bv_prep_speakers(const bv_prep_utt *utts, int n, const char **names);

/* preprocess_text.py's config edit, on a parsed config.json: data.spk2id = {names[i]: i},
 * data.n_speakers, data.training_files, data.validation_files, version "2.3". Existing keys keep
 * their place. Returns -1 (err names `source`) when root or root.data is not an object. */
int bv_prep_config_update(cJSON *root, const char *source, const char *const *names, int n_speakers,
                          const char *train_path, const char *val_path, char *err, size_t errcap);

/* ---- BERT features ---- */

/* <wav> with every ".wav" replaced by ".bert.pt", as data_utils names it (malloc); NULL when the
 * path holds no ".wav". */
char *bv_prep_bert_path(const char *wav);
/* Columns of the BERT tensor: len(phones) after add_blank's intersperse. */
int64_t bv_prep_bert_cols(int n_phones, int add_blank);
/* Writes float32 zeros [1024, cols] to path in torch.save format. */
int bv_prep_write_zero_bert(const char *path, int64_t cols, char *err, size_t errcap);
/* 1 when path holds a float32 [1024, cols] tensor, 0 when it holds something else (or cannot be
 * read; err then says why), -1 when it does not exist. */
int bv_prep_bert_ok(const char *path, int64_t cols, char *err, size_t errcap);

/* ---- random WavLM ---- */

typedef struct bv_prep_wavlm_size {
    int conv_dim;               /* channels of the 7 feature-extractor convs */
    int hidden_size, num_attention_heads, intermediate_size, num_hidden_layers;
} bv_prep_wavlm_size;

/* The demo's size: conv 32, hidden 64, 2 heads, intermediate 128, 3 layers. */
void bv_prep_wavlm_size_default(bv_prep_wavlm_size *s);

/* Writes dir/config.json and dir/model.safetensors (dir created if needed): a WavLMModel with
 * wavlm-base-plus's conv kernels/strides (320 samples per frame) at the given size, weights drawn
 * from seed (N(0, 1/fan_in), norms 1/0, weight-norm gains equal to the norms of their directions).
 * config.slm.hidden = hidden_size, config.slm.nlayers = num_hidden_layers + 1 go with it. */
int bv_prep_write_random_wavlm(const char *dir, const bv_prep_wavlm_size *s, uint64_t seed, char *err,
                               size_t errcap);

#endif
