/* infer.h - the inference library behind `bv2 infer` and `bv2 export`: upstream infer.py in C.
 *
 *   1. Model: SynthesizerTrn built from config.json (as infer.get_net_g), weights from a G_*.pth
 *      ('model' dict, ours or upstream's; also a bare state dict) or a .safetensors file. Only what
 *      SynthesizerTrn.infer uses is kept: enc_q (the posterior encoder, training only) is neither
 *      built nor read, and no gradient buffers exist. Every other parameter must be in the file with
 *      its exact shape; a key the model does not have is an error (the config does not match).
 *   2. Text -> ids as infer.get_text: clean_text (English or Japanese front-end, text/english.h,
 *      text/japanese.h) or a cleaned
 *      "phones|tones|word2ph" line (any language, as in a filelist), cleaned_text_to_sequence, and
 *      with data.add_blank: intersperse 0 into phones, tones and languages, word2ph doubled and
 *      word2ph[0] += 1 (upstream's odd +1: the extra leading blank goes to the first word), so
 *      sum(word2ph) == number of symbols, the length the BERT features must have.
 *   3. BERT features [1024, n] for the text's language: a *.bert.pt file (bert_gen.py's output, the
 *      same file training reads) or, without one, ZEROS: no BERT model runs in C. With zeros the
 *      bert projection contributes only its bias, so prosody (pauses, emphasis, rhythm) is flatter
 *      than with real features; pronunciation (phones, tones) is unaffected. The two other languages
 *      get torch.randn(1024, n) draws, as upstream's get_text does (the model was trained with noise
 *      there); they come from the context's RNG, per utterance in ZH, JP, EN order.
 *   4. Synthesis: net_g.infer under no_grad, one utterance or a padded batch of several; each result
 *      is cut to its own length (y_length * hop samples).
 *
 *   bv_infer_model m;
 *   if (bv_infer_model_load(&m, "G_1000.pth", "config.json", err, sizeof err)) ... error
 *   bv_infer_utt u;
 *   if (bv_infer_utt_from_text(&u, lex, "Hello world.", "EN", m.cfg.data.add_blank, err, sizeof err)) ...
 *   u.speaker = bv_infer_speaker_id(&m, "alice", err, sizeof err);
 *   float *audio; int64_t n;
 *   bv_infer_opts o = bv_infer_default_opts();
 *   if (bv_infer_synthesize(&ctx, &m, &u, 1, &o, &audio, &n, NULL, err, sizeof err)) ...
 *   ... audio[0..n) at m.cfg.data.sampling_rate; free(audio); bv_ctx_reset(&ctx);
 *   bv_infer_utt_free(&u); bv_infer_model_free(&m);
 *
 * Every function returns 0 (or a documented value) on success, or -1 with a message in err that
 * names the file, line or key; nothing here exits.
 */
#ifndef BV_INFER_INFER_H
#define BV_INFER_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "../core/ctx.h"
#include "../core/params.h"
#include "../io/config.h"
#include "../model/synthesizer.h"
#include "../text/lexicon.h"

/* Decoder frames per chunk at inference: ~6 s of 44.1 kHz audio, a few hundred MB of working set
 * at upstream's widths, whatever the sentence's length. */
#define BV_INFER_DEC_CHUNK 512
#define BV_INFER_BERT_DIM 1024

/* ---------------- model ---------------- */

typedef struct bv_infer_model {
    bv_config cfg;            /* owned */
    bv_params ps;             /* net_g's parameters without enc_q.* (upstream state_dict order) */
    bv_synth *net_g;          /* net_g->enc_q is NULL */
    int64_t iteration;        /* checkpoint 'iteration' (upstream: the epoch); -1 when absent */
    double learning_rate;     /* checkpoint 'learning_rate'; < 0 when absent */
    int n_skipped;            /* tensors of the weight file inference does not use (enc_q.*) */
} bv_infer_model;

/* Builds net_g from cfg with zeroed weights. Takes cfg over: on return (success or failure) *cfg
 * holds nothing the caller must free. */
int bv_infer_model_init(bv_infer_model *m, bv_config *cfg, char *err, size_t errcap);
/* Fills the weights from a .pth / .pt / .bin (torch.save zip) or .safetensors file (chosen by the
 * file's content, not its name). Only tensors named "<prefix><key>" are considered (prefix "" for a
 * checkpoint; e.g. "param.net_g." for a golden case file); a leading "module." on every key
 * (DataParallel) is dropped. F16 / BF16 / F64 tensors are converted to f32. */
int bv_infer_model_load_weights(bv_infer_model *m, const char *path, const char *prefix, char *err, size_t errcap);
/* Prepares what synthesis computes once from the weights (the decoder's weight norm folded,
 * bv_generator_fold): load_weights calls it; a caller that writes parameters itself calls it again
 * after (until then synthesis uses the folded values of before). */
void bv_infer_model_prepare(bv_infer_model *m);
/* bv_config_load + init + load_weights. */
int bv_infer_model_load(bv_infer_model *m, const char *model_path, const char *config_path, char *err,
                        size_t errcap);
void bv_infer_model_free(bv_infer_model *m);

/* Writes the inference-only checkpoint: by the extension of path, ".safetensors" (tensors under
 * their state_dict keys, metadata format=pt) or anything else as a torch.save file that upstream's
 * utils.load_checkpoint reads: {'model': state dict, 'iteration', 'optimizer': None, 'learning_rate'}
 * (upstream compress_model.py's layout minus the optimizer). enc_q is absent; fp16 stores F16. */
int bv_infer_model_save(const bv_infer_model *m, const char *path, int fp16, char *err, size_t errcap);

/* Speaker id of `name` in data.spk2id, checked < n_speakers; -1 with err listing the speakers. */
int64_t bv_infer_speaker_id(const bv_infer_model *m, const char *name, char *err, size_t errcap);

/* ---------------- utterances ---------------- */

typedef struct bv_infer_utt {
    int n;                    /* symbols (after add_blank) */
    int64_t *phones;          /* [n] symbol ids */
    int64_t *tones;           /* [n] tone ids (language offset included) */
    int64_t *langs;           /* [n] language ids */
    int64_t *word2ph;         /* [n_word2ph] as get_text leaves it (sums to n), NULL when not given */
    int n_word2ph;
    int language;             /* bv_language of the text */
    int64_t speaker;          /* sid; set by the caller */
    float *bert;              /* [1024, n] features of `language`, NULL: zeros */
    char *norm_text;          /* the normalised text (text input only), else NULL */
} bv_infer_utt;

/* Long text is spoken a sentence at a time (as upstream's web UI does with cut_by_sent), which also
 * bounds memory by the longest sentence: the pieces of text after each sentence end (. ! ? ; and
 * 。！？；… followed by a space or the end) and at line breaks, ends kept, spaces trimmed, empty
 * pieces dropped. Returns the count; *pieces (malloc'ed, each malloc'ed) holds them. */
int bv_infer_split_sentences(const char *text, char ***pieces);
void bv_infer_pieces_free(char **pieces, int n);

/* clean_text(text, language) + get_text's id steps. "EN" (lex), "ZH" (bv_zh_dict_default) and "JP" (MeCab
 * over OpenJTalk's dictionary, opened on first use) have front-ends; an empty text, a
 * text with no pronounceable word and characters the front-end cannot handle are errors. */
int bv_infer_utt_from_text(bv_infer_utt *u, const bv_lexicon *lex, const char *text, const char *language,
                           int add_blank, char *err, size_t errcap);
/* A cleaned line "phones|tones" or "phones|tones|word2ph" (space-separated, as preprocess_text.py
 * writes them): phones must be symbols, tones within the language's range, sum(word2ph) = phones. */
int bv_infer_utt_from_phones(bv_infer_utt *u, const char *line, const char *language, int add_blank, char *err,
                             size_t errcap);
/* Reads a [1024, n] tensor (*.bert.pt as bert_gen.py writes it) as the utterance's features. */
int bv_infer_utt_load_bert(bv_infer_utt *u, const char *path, char *err, size_t errcap);
void bv_infer_utt_free(bv_infer_utt *u);

/* ---------------- synthesis ---------------- */

/* Upstream webui.py's defaults: sdp_ratio 0.5, noise_scale 0.6, noise_scale_w 0.9, length_scale 1;
 * no max_len. */
bv_infer_opts bv_infer_default_opts(void);

/* net_g.infer on utts[0..n) as one padded batch. audio[i] (malloc'ed, the caller frees) receives
 * utterance i's n_samples[i] samples. Tensors are made in ctx's arena and stay there until the caller
 * resets it; detail (may be NULL) receives everything net_g.infer returns (o, attn, y_mask, z, z_p,
 * m_p, logs_p, w) for tests. Op errors are caught and returned as -1 with err. */
int bv_infer_synthesize(bv_ctx *ctx, const bv_infer_model *m, const bv_infer_utt *utts, int n,
                        const bv_infer_opts *o, float **audio, int64_t *n_samples, bv_synth_infer_out *detail,
                        char *err, size_t errcap);

/* ---------------- helpers shared by the commands ---------------- */

/* The English lexicon: `path` if given, else $BV2_CMUDICT, else data/cmudict.rep in the working
 * directory, else ../data/cmudict.rep beside the running executable (build/bv2 -> data/). */
bv_lexicon *bv_infer_lexicon_load(const char *path, char *err, size_t errcap);

/* Recorded draws for the context's RNG (bv_rng_set_replay): the tensors noise.NNN.<fn> of a
 * safetensors file in index order, as the golden files store upstream's randomness, so a parity
 * test can feed it through the real command. Returns the number of draws (*draws malloc'ed, release
 * with bv_infer_noise_free), or -1 with err. */
int bv_infer_noise_load(const char *path, bv_rng_draw **draws, char *err, size_t errcap);
void bv_infer_noise_free(bv_rng_draw *draws, int n);

#endif
