/* dataset.h - data_utils.TextAudioSpeakerLoader and TextAudioSpeakerCollate (Bert-VITS2 2.3).
 *
 * Opening a dataset does what upstream's __init__ does - read the filelist, random.seed(1234) +
 * random.shuffle of its lines, keep lines whose phone STRING has min_text_len..max_text_len
 * characters, length estimate os.path.getsize(wav) // (2 * hop_length) per kept line - and, unlike
 * upstream, checks every kept line up front so a bad dataset fails before training starts:
 * speaker in data.spk2id, language ZH/JP/EN, every phone a known symbol, tones in the language's
 * range, as many tones as phones, word2ph summing to the phone count, the wav present, a mono WAV
 * at data.sampling_rate, the *.bert.pt present. Each error names "<filelist>:<line>" and the file.
 *
 * bv_dataset_get(i) is __getitem__: phone/tone/language ids (blanks interspersed when
 * data.add_blank), the audio as upstream reads it (scipy wavfile values / max_wav_value), the
 * linear spectrogram (read from <wav>.spec.pt, else computed as spectrogram_torch and, with
 * spec_cache, saved there), the language's BERT features from <wav>.bert.pt (shape-checked
 * [1024, n_text]) and N(0, 1) features for the two other languages, drawn at every access as
 * upstream does. bv_collate pads a list of items into one batch in upstream's order.
 *
 *   bv_dataset ds;
 *   if (bv_dataset_open(&ds, cfg.data.training_files, &cfg, &(bv_dataset_opts){.spec_cache = 1}, err, sizeof err)) ...
 *   ... bv_bucket_sampler over ds.lengths ...; items via bv_loader (loader.h) or bv_dataset_get
 *   bv_dataset_free(&ds);
 */
#ifndef BV_DATA_DATASET_H
#define BV_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "../core/ctx.h"
#include "../core/rng.h"
#include "../io/config.h"

#define BV_BERT_DIM 1024   /* every BERT feature tensor is [1024, n_text] */

typedef struct bv_dataset_opts {
    const char *base_dir;   /* NULL: filelist paths are used as written (relative to the cwd, as upstream) */
    int spec_cache;         /* config.yml train_ms.spec_cache: save computed spectrograms as <wav>.spec.pt */
    int skip_audio_check;   /* 1: do not open every wav at open time (sample rate / channels are still
                               checked when an item is loaded) */
} bv_dataset_opts;

/* One kept filelist line, parsed and validated. */
typedef struct bv_utterance {
    int line;                 /* 1-based line in the filelist */
    char *wav;                /* path opened (base_dir joined) */
    char *spec_path;          /* wav path with every ".wav" replaced by ".spec.pt" (str.replace) */
    char *bert_path;          /* ... by ".bert.pt" */
    int64_t sid;              /* spk2id[speaker] */
    int language;             /* bv_language */
    int n_phones;             /* before blanks */
    int64_t *phone_ids, *tone_ids, *lang_ids;   /* [n_phones] cleaned_text_to_sequence */
    int n_word2ph;
    int64_t *word2ph;         /* as written */
} bv_utterance;

typedef struct bv_dataset {
    char *filelist;
    bv_utterance *utts;       /* upstream's audiopaths_sid_text after shuffle and filter */
    int64_t n;
    int64_t *lengths;         /* [n] bucketing length estimate (spectrogram frames) */
    int64_t n_lines, n_skipped;   /* lines read / filtered out by the text-length window */
    int64_t sampling_rate, filter_length, hop_length, win_length;
    double max_wav_value;
    int add_blank, spec_cache;
} bv_dataset;

/* What __getitem__ returns for one utterance (all malloc'ed; bv_item_free). */
typedef struct bv_item {
    int64_t index;                        /* dataset index */
    int64_t n_text;                       /* phones after add_blank: 2 * n_phones + 1, else n_phones */
    int64_t *phones, *tones, *langs;      /* [n_text] */
    int n_word2ph;
    int64_t *word2ph;                     /* add_blank's adjusted word2ph (upstream computes it, then ignores it) */
    int64_t sid;
    int64_t spec_channels, spec_frames;
    float *spec;                          /* [filter_length/2+1, frames] */
    int64_t n_wav;
    float *wav;                           /* [1, n_wav] audio / max_wav_value */
    float *bert, *ja_bert, *en_bert;      /* [1024, n_text] each */
} bv_item;

/* Returns 0, or -1 with err filled (nothing to free then). cfg must hold data.* (config.h). */
int bv_dataset_open(bv_dataset *ds, const char *filelist, const bv_config *cfg, const bv_dataset_opts *opts,
                    char *err, size_t errcap);
void bv_dataset_free(bv_dataset *ds);

/* __getitem__(index). `work` is a scratch context for the spectrogram (its arena is restored on
 * return), `rng` draws the other languages' BERT features. 0, or -1 with err naming the file. */
int bv_dataset_get(const bv_dataset *ds, int64_t index, bv_ctx *work, bv_rng *rng, bv_item *item, char *err,
                   size_t errcap);
void bv_item_free(bv_item *item);

/* Audio as upstream's utils.load_wav_to_torch reads it (scipy.io.wavfile): raw sample values
 * (16/32-bit PCM as integers, 24-bit left-justified in 32 bits, 8-bit unsigned, float as is), mono
 * only. *samples is malloc'ed. 0, or -1 with err naming the file. */
int bv_load_wav(const char *path, float **samples, int64_t *n, int64_t *sampling_rate, char *err, size_t errcap);

/* commons.intersperse on ids plus upstream's word2ph adjustment for add_blank. */
void bv_add_blank_word2ph(int64_t *word2ph, int n);

/* ---- TextAudioSpeakerCollate ---- */
typedef struct bv_batch {
    int64_t B, max_text, max_spec, max_wav, spec_channels;
    int64_t *index;                       /* [B] dataset index of each row (rows sorted by spec length, descending) */
    int64_t *x, *x_lengths;               /* [B, max_text], [B] */
    float *spec;                          /* [B, spec_channels, max_spec] */
    int64_t *spec_lengths;                /* [B] */
    float *wav;                           /* [B, 1, max_wav] */
    int64_t *wav_lengths, *sid;           /* [B], [B] */
    int64_t *tone, *language;             /* [B, max_text] */
    float *bert, *ja_bert, *en_bert;      /* [B, 1024, max_text] */
} bv_batch;

/* Zero-padded batch from n items, rows in order of decreasing spec_frames (ties keep item order,
 * as torch.sort does for batches of up to 16). Items are left untouched. */
void bv_collate(bv_batch *b, const bv_item *items, int64_t n);
void bv_batch_free(bv_batch *b);

/* The batch as tensors in collate's return order, as views of the batch's memory (no copy): valid
 * while the batch lives. Tensor headers are allocated in ctx's arena. */
typedef struct bv_batch_tensors {
    bv_tensor *x, *x_lengths;             /* I64 [B, T_x], [B] */
    bv_tensor *spec, *spec_lengths;       /* f32 [B, C, T_y], I64 [B] */
    bv_tensor *wav, *wav_lengths;         /* f32 [B, 1, T_wav], I64 [B] */
    bv_tensor *sid, *tone, *language;     /* I64 [B], [B, T_x], [B, T_x] */
    bv_tensor *bert, *ja_bert, *en_bert;  /* f32 [B, 1024, T_x] */
} bv_batch_tensors;

void bv_batch_as_tensors(bv_ctx *ctx, const bv_batch *b, bv_batch_tensors *t);

#endif
