/* dataset.c - TextAudioSpeakerLoader (open = __init__ + _filter, get = __getitem__) and
 * TextAudioSpeakerCollate; see dataset.h. */
#include "dataset.h"

#include <errno.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/error.h"
#include "../io/pth.h"
#include "../ops/align.h"
#include "../ops/ops.h"
#include "../text/symbols.h"
#include "filelist.h"
#include "sampler.h"

#define UPSTREAM_SHUFFLE_SEED 1234   /* data_utils: random.seed(1234) before random.shuffle */

/* ---------------- small helpers ---------------- */

static char *join_path(const char *base, const char *path) {
    if (!base || !*base || path[0] == '/') return strdup(path);
    size_t nb = strlen(base), np = strlen(path);
    char *s = bv_xmalloc(nb + np + 2);
    memcpy(s, base, nb);
    size_t k = nb;
    if (s[k - 1] != '/') s[k++] = '/';
    memcpy(s + k, path, np + 1);
    return s;
}

/* Python's s.replace(old, new): every non-overlapping occurrence, left to right. */
static char *str_replace_all(const char *s, const char *old, const char *new_) {
    size_t no = strlen(old), nn = strlen(new_), count = 0;
    for (const char *p = strstr(s, old); p; p = strstr(p + no, old)) count++;
    char *out = bv_xmalloc(strlen(s) + count * nn + 1), *o = out;
    for (const char *p = s;;) {
        const char *q = strstr(p, old);
        if (!q) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, new_, nn);
        o += nn;
        p = q + no;
    }
    return out;
}

static int file_size(const char *path, int64_t *size) {
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (!S_ISREG(st.st_mode)) {
        errno = EISDIR;
        return -1;
    }
    *size = (int64_t)st.st_size;
    return 0;
}

static int64_t spec_frames_for(const bv_dataset *ds, int64_t n_samples) {
    int64_t pad = (ds->filter_length - ds->hop_length) / 2;   /* int((n_fft - hop_size) / 2) */
    if (n_samples <= pad || n_samples + 2 * pad < ds->filter_length) return 0;
    return (n_samples + 2 * pad - ds->filter_length) / ds->hop_length + 1;
}

/* ---------------- audio (utils.load_wav_to_torch = scipy.io.wavfile.read) ---------------- */

/* scipy's integer scaling relative to libsndfile's unnormalised float read. */
static int scipy_scaling(int subformat, float *scale, float *offset) {
    *scale = 1.0f;
    *offset = 0.0f;
    switch (subformat) {
    case SF_FORMAT_PCM_16: case SF_FORMAT_PCM_32: case SF_FORMAT_FLOAT: case SF_FORMAT_DOUBLE: case SF_FORMAT_PCM_S8:
        return 0;
    case SF_FORMAT_PCM_24: *scale = 256.0f; return 0;    /* scipy: int32, left-justified */
    case SF_FORMAT_PCM_U8: *offset = 128.0f; return 0;   /* scipy: uint8 0..255 */
    default: return -1;
    }
}

static int open_wav(const char *path, SF_INFO *info, SNDFILE **f, char *err, size_t errcap) {
    memset(info, 0, sizeof *info);
    *f = sf_open(path, SFM_READ, info);
    if (!*f) {
        int64_t sz;
        if (file_size(path, &sz)) return bv_err_set(err, errcap, "%s: cannot open audio file: %s", path,
                                                    strerror(errno));
        return bv_err_set(err, errcap, "%s: cannot read as audio: %s", path, sf_strerror(NULL));
    }
    float s, o;
    if (scipy_scaling(info->format & SF_FORMAT_SUBMASK, &s, &o)) {
        sf_close(*f);
        return bv_err_set(err, errcap,
                          "%s: unsupported sample encoding 0x%x (upstream's scipy.io.wavfile reads PCM and float WAV only)",
                          path, info->format & SF_FORMAT_SUBMASK);
    }
    if (info->channels != 1) {
        sf_close(*f);
        return bv_err_set(err, errcap, "%s: %d channels, expected mono audio", path, info->channels);
    }
    return 0;
}

int bv_load_wav(const char *path, float **samples, int64_t *n, int64_t *sampling_rate, char *err, size_t errcap) {
    SF_INFO info;
    SNDFILE *f;
    if (open_wav(path, &info, &f, err, errcap)) return -1;
    float scale, offset;
    scipy_scaling(info.format & SF_FORMAT_SUBMASK, &scale, &offset);
    sf_command(f, SFC_SET_NORM_FLOAT, NULL, SF_FALSE);   /* raw integer values, as scipy returns */
    float *buf = bv_xmalloc(sizeof(float) * (size_t)(info.frames > 0 ? info.frames : 1));
    sf_count_t got = sf_readf_float(f, buf, info.frames);
    sf_close(f);
    if (got != info.frames) {
        free(buf);
        return bv_err_set(err, errcap, "%s: truncated audio (read %lld of %lld samples)", path, (long long)got,
                          (long long)info.frames);
    }
    if (scale != 1.0f || offset != 0.0f)
        for (sf_count_t i = 0; i < got; i++) buf[i] = buf[i] * scale + offset;
    *samples = buf;
    *n = (int64_t)got;
    *sampling_rate = info.samplerate;
    return 0;
}

/* ---------------- open: __init__ + _filter ---------------- */

static void utt_free(bv_utterance *u) {
    free(u->wav);
    free(u->spec_path);
    free(u->bert_path);
    free(u->phone_ids);
    free(u->word2ph);
}

/* Fields of one kept line -> ids, checked. Errors are "<what>" without the location prefix. */
static int parse_utterance(bv_utterance *u, const bv_filelist_entry *e, const bv_config *cfg, char *err,
                           size_t errcap) {
    u->sid = bv_config_speaker_id(cfg, e->speaker);
    if (u->sid < 0) return bv_err_set(err, errcap, "unknown speaker \"%s\" (not in the config's data.spk2id)",
                                      e->speaker);
    char sub[300];
    char **ph;
    int n = bv_split_spaces(e->phones, &ph);
    int64_t *tones = NULL;
    int nt = bv_parse_int_list(e->tones, "tones", &tones, sub, sizeof sub);
    int rc = 0;
    if (nt < 0) rc = bv_err_set(err, errcap, "%s", sub);
    else if (nt != n) rc = bv_err_set(err, errcap, "%d tones for %d phones (the lengths must match)", nt, n);
    else if ((u->n_word2ph = bv_parse_int_list(e->word2ph, "word2ph", &u->word2ph, sub, sizeof sub)) < 0) {
        u->word2ph = NULL;
        rc = bv_err_set(err, errcap, "%s", sub);
    }
    if (!rc && bv_word2ph_check(u->word2ph, u->n_word2ph, n, sub, sizeof sub)) rc = bv_err_set(err, errcap, "%s", sub);
    if (!rc) {
        u->n_phones = n;
        u->phone_ids = bv_xmalloc(sizeof(int64_t) * 3 * (size_t)n);   /* phone, tone, lang ids in one block */
        u->tone_ids = u->phone_ids + n;
        u->lang_ids = u->phone_ids + 2 * n;
        if (bv_cleaned_text_to_sequence((const char *const *)ph, tones, n, e->language, u->phone_ids, u->tone_ids,
                                        u->lang_ids, sub, sizeof sub))
            rc = bv_err_set(err, errcap, "%s", sub);
        else u->language = bv_language_id(e->language);
    }
    free(tones);
    bv_split_free(ph);
    return rc;
}

/* Files of a kept line: wav (size -> length estimate, header), spec/bert names. */
static int check_files(bv_utterance *u, const bv_filelist_entry *e, const bv_dataset *ds, const bv_dataset_opts *o,
                       int64_t *length, char *err, size_t errcap) {
    if (!strstr(e->wav, ".wav"))
        return bv_err_set(err, errcap,
                          "audio path \"%s\" has no \".wav\" (upstream names <wav>.bert.pt / .spec.pt by replacing it)",
                          e->wav);
    u->wav = join_path(o->base_dir, e->wav);
    char *spec = str_replace_all(e->wav, ".wav", ".spec.pt"), *bert = str_replace_all(e->wav, ".wav", ".bert.pt");
    u->spec_path = join_path(o->base_dir, spec);
    u->bert_path = join_path(o->base_dir, bert);
    free(spec);
    free(bert);
    int64_t size;
    if (file_size(u->wav, &size)) return bv_err_set(err, errcap, "missing audio file %s: %s", u->wav, strerror(errno));
    *length = size / (2 * ds->hop_length);   /* os.path.getsize(wav) // (2 * hop_length) */
    if (!o->skip_audio_check) {
        SF_INFO info;
        SNDFILE *f;
        if (open_wav(u->wav, &info, &f, err, errcap)) return -1;
        sf_close(f);
        if (info.samplerate != ds->sampling_rate)
            return bv_err_set(err, errcap,
                              "%s: sample rate %d Hz, expected %lld (data.sampling_rate); resample it first",
                              u->wav, info.samplerate, (long long)ds->sampling_rate);
    }
    if (file_size(u->bert_path, &size))
        return bv_err_set(err, errcap, "missing BERT features %s (written by bert_gen.py): %s", u->bert_path,
                          strerror(errno));
    return 0;
}

static void copy_settings(bv_dataset *ds, const bv_config *cfg, const bv_dataset_opts *o) {
    ds->sampling_rate = cfg->data.sampling_rate;
    ds->filter_length = cfg->data.filter_length;
    ds->hop_length = cfg->data.hop_length;
    ds->win_length = cfg->data.win_length;
    ds->max_wav_value = cfg->data.max_wav_value;
    ds->add_blank = cfg->data.add_blank;
    ds->spec_cache = o->spec_cache;
}

static int check_settings(const bv_dataset *ds, const char *filelist, char *err, size_t errcap) {
    if (ds->hop_length < 1 || ds->filter_length < 2 || ds->win_length < 1 || ds->win_length > ds->filter_length)
        return bv_err_set(err, errcap, "%s: bad data.filter_length %lld / hop_length %lld / win_length %lld", filelist,
                          (long long)ds->filter_length, (long long)ds->hop_length, (long long)ds->win_length);
    if (!(ds->max_wav_value > 0)) return bv_err_set(err, errcap, "%s: data.max_wav_value must be > 0", filelist);
    return 0;
}

int bv_dataset_open(bv_dataset *ds, const char *filelist, const bv_config *cfg, const bv_dataset_opts *opts,
                    char *err, size_t errcap) {
    static const bv_dataset_opts no_opts;
    const bv_dataset_opts *o = opts ? opts : &no_opts;
    memset(ds, 0, sizeof *ds);
    copy_settings(ds, cfg, o);
    if (check_settings(ds, filelist, err, errcap)) return -1;
    bv_filelist fl;
    if (bv_filelist_load(&fl, filelist, err, errcap)) return -1;
    /* random.seed(1234); random.shuffle(self.audiopaths_sid_text) */
    int64_t *order = bv_xmalloc(sizeof(int64_t) * (size_t)(fl.n ? fl.n : 1));
    for (int i = 0; i < fl.n; i++) order[i] = i;
    bv_mt19937 mt;
    bv_py_random_seed(&mt, UPSTREAM_SHUFFLE_SEED);
    bv_py_shuffle(&mt, order, fl.n, sizeof(int64_t));
    ds->filelist = strdup(filelist);
    ds->utts = bv_xcalloc((size_t)(fl.n ? fl.n : 1), sizeof *ds->utts);
    ds->lengths = bv_xcalloc((size_t)(fl.n ? fl.n : 1), sizeof(int64_t));
    ds->n_lines = fl.n;
    int rc = 0;
    char sub[1024];
    for (int k = 0; k < fl.n && !rc; k++) {
        const bv_filelist_entry *e = &fl.items[order[k]];
        /* upstream's quirk: len(phones) of the space-separated STRING (characters, not phones) */
        int64_t text_len = bv_utf8_len(e->phones);
        if (text_len < cfg->data.min_text_len || text_len > cfg->data.max_text_len) {
            ds->n_skipped++;
            continue;
        }
        bv_utterance *u = &ds->utts[ds->n];
        u->line = e->line;
        if (parse_utterance(u, e, cfg, sub, sizeof sub) ||
            check_files(u, e, ds, o, &ds->lengths[ds->n], sub, sizeof sub)) {
            bv_err_set(err, errcap, "%s:%d: %s", filelist, e->line, sub);
            utt_free(u);
            rc = -1;
        } else {
            ds->n++;
        }
    }
    free(order);
    bv_filelist_free(&fl);
    if (rc) bv_dataset_free(ds);
    return rc;
}

void bv_dataset_free(bv_dataset *ds) {
    for (int64_t i = 0; i < ds->n; i++) utt_free(&ds->utts[i]);
    free(ds->utts);
    free(ds->lengths);
    free(ds->filelist);
    memset(ds, 0, sizeof *ds);
}

/* ---------------- get: __getitem__ ---------------- */

void bv_add_blank_word2ph(int64_t *word2ph, int n) {
    /* upstream (get_text): word2ph[i] *= 2 for every word, then word2ph[0] += 1 - the blank
     * interspersed before the first phone goes to the first word. (Upstream mutates its stored list
     * in place, so the doubling compounds with every access; the result is never used, so we adjust a
     * copy per access.) */
    for (int i = 0; i < n; i++) word2ph[i] *= 2;
    if (n > 0) word2ph[0] += 1;
}

static void text_ids(const bv_dataset *ds, const bv_utterance *u, bv_item *it) {
    int64_t n = u->n_phones, nt = ds->add_blank ? 2 * n + 1 : n;
    it->n_text = nt;
    it->phones = bv_xmalloc(sizeof(int64_t) * 3 * (size_t)(nt ? nt : 1));
    it->tones = it->phones + nt;
    it->langs = it->phones + 2 * nt;
    if (ds->add_blank) {   /* commons.intersperse(x, 0) on all three */
        bv_intersperse(u->phone_ids, (int)n, 0, it->phones);
        bv_intersperse(u->tone_ids, (int)n, 0, it->tones);
        bv_intersperse(u->lang_ids, (int)n, 0, it->langs);
    } else {
        memcpy(it->phones, u->phone_ids, sizeof(int64_t) * 3 * (size_t)n);
    }
    it->n_word2ph = u->n_word2ph;
    it->word2ph = bv_xmalloc(sizeof(int64_t) * (size_t)(u->n_word2ph ? u->n_word2ph : 1));
    memcpy(it->word2ph, u->word2ph, sizeof(int64_t) * (size_t)u->n_word2ph);
    if (ds->add_blank) bv_add_blank_word2ph(it->word2ph, it->n_word2ph);
}

static int load_audio(const bv_dataset *ds, const bv_utterance *u, bv_item *it, char *err, size_t errcap) {
    int64_t sr;
    if (bv_load_wav(u->wav, &it->wav, &it->n_wav, &sr, err, errcap)) return -1;
    if (sr != ds->sampling_rate)
        return bv_err_set(err, errcap, "%s: sample rate %lld Hz, expected %lld (data.sampling_rate)", u->wav,
                          (long long)sr,
                          (long long)ds->sampling_rate);
    /* audio / max_wav_value in float32 */
    float m = (float)ds->max_wav_value;
    for (int64_t i = 0; i < it->n_wav; i++) it->wav[i] /= m;
    return 0;
}

/* The cached <wav>.spec.pt if it reads (upstream: any failure -> recompute). 1 used, 0 absent/unreadable,
 * -1 stale (wrong shape: an error, where upstream would train on it). */
static int read_spec_cache(const bv_dataset *ds, const bv_utterance *u, bv_item *it, int64_t frames, char *err,
                           size_t errcap) {
    int64_t size;
    if (file_size(u->spec_path, &size)) return 0;
    bv_pth_tensor t;
    char sub[512];
    if (bv_pth_load_tensor(u->spec_path, &t, sub, sizeof sub)) return 0;
    int64_t C = ds->filter_length / 2 + 1;
    int ok = t.ndim == 2 && t.dtype == BV_ST_F32 && t.shape[0] == C && t.shape[1] == frames;
    if (!ok) {
        bv_err_set(err, errcap,
                   "%s: cached spectrogram has %d dims [%lld, %lld...], expected float32 [%lld, %lld] for %s "
                   "(stale cache from other data.* settings? delete it)",
                   u->spec_path, t.ndim, (long long)(t.ndim > 0 ? t.shape[0] : 0), (long long)(t.ndim > 1 ? t.shape[1] : 0),
                   (long long)C, (long long)frames, u->wav);
        bv_pth_tensor_free(&t);
        return -1;
    }
    it->spec = bv_xmalloc(sizeof(float) * (size_t)(C * frames));
    memcpy(it->spec, t.data, sizeof(float) * (size_t)(C * frames));
    bv_pth_tensor_free(&t);
    return 1;
}

static pthread_mutex_t g_spec_write_lock = PTHREAD_MUTEX_INITIALIZER;

/* torch.save(spec, spec_filename). Items repeat inside an epoch (bucket padding), so two loader
 * threads may compute the same spectrogram: writes are serialised and the second is skipped. */
static int write_spec_cache(const bv_utterance *u, const bv_item *it, char *err, size_t errcap) {
    pthread_mutex_lock(&g_spec_write_lock);
    int64_t size;
    int rc = 0;
    if (file_size(u->spec_path, &size)) {
        bv_pk_doc *doc = bv_pk_doc_new();
        int64_t shape[2] = {it->spec_channels, it->spec_frames};
        bv_pk_value *v = bv_pk_tensor_ref(doc, BV_ST_F32, 2, shape, it->spec);
        rc = bv_pth_save(u->spec_path, v, err, errcap);
        bv_pk_doc_free(doc);
    }
    pthread_mutex_unlock(&g_spec_write_lock);
    return rc;
}

/* mel_processing.spectrogram_torch(audio_norm, filter_length, sr, hop, win, center=False). (Upstream's
 * mel branch reads use_mel_posterior_encoder from hps.data, where configs never have it: always linear.) */
static void compute_spec(const bv_dataset *ds, bv_ctx *work, bv_item *it) {
    bv_arena_mark mark = bv_arena_get_mark(&work->arena);
    bv_no_grad_begin(work);
    bv_tensor *y = bv_from_f32(work, BV_SHAPE(1, it->n_wav), it->wav);   // [1, T]
    bv_tensor *s = bv_spectrogram(work, y, (int)ds->filter_length, (int)ds->hop_length, (int)ds->win_length);  // [1, C, F]
    bv_no_grad_end(work);
    it->spec = bv_xmalloc(sizeof(float) * (size_t)s->numel);
    memcpy(it->spec, s->data, sizeof(float) * (size_t)s->numel);
    bv_arena_reset_to(&work->arena, mark);
}

static int load_spec(const bv_dataset *ds, const bv_utterance *u, bv_ctx *work, bv_item *it, char *err,
                     size_t errcap) {
    int64_t frames = spec_frames_for(ds, it->n_wav);
    if (frames < 1)
        return bv_err_set(err, errcap, "%s: %lld samples is too short for one spectrogram frame (filter_length %lld)",
                          u->wav, (long long)it->n_wav, (long long)ds->filter_length);
    it->spec_channels = ds->filter_length / 2 + 1;
    it->spec_frames = frames;
    int got = read_spec_cache(ds, u, it, frames, err, errcap);
    if (got < 0) return -1;
    if (got) return 0;
    compute_spec(ds, work, it);
    if (ds->spec_cache && write_spec_cache(u, it, err, errcap)) return -1;
    return 0;
}

static void fill_randn(bv_rng *rng, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)bv_rng_normal(rng);
}

static int load_bert(const bv_utterance *u, bv_rng *rng, bv_item *it, char *err, size_t errcap) {
    bv_pth_tensor t;
    if (bv_pth_load_tensor(u->bert_path, &t, err, errcap)) return -1;
    int ok = t.ndim == 2 && t.dtype == BV_ST_F32 && t.shape[0] == BV_BERT_DIM && t.shape[1] == it->n_text;
    if (!ok) {
        char shape[96] = "[";
        for (int d = 0; d < t.ndim; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? ", " : "", (long long)t.shape[d]);
        strncat(shape, "]", sizeof shape - strlen(shape) - 1);
        bv_err_set(err, errcap, "%s: BERT features have shape %s%s, expected float32 [%d, %lld] (len(phones)%s)",
                   u->bert_path,
                   shape, t.dtype == BV_ST_F32 ? "" : " (not float32)", BV_BERT_DIM, (long long)it->n_text,
                   it->n_text != u->n_phones ? " with blanks" : "");
        bv_pth_tensor_free(&t);
        return -1;
    }
    size_t bytes = sizeof(float) * (size_t)(BV_BERT_DIM * it->n_text);
    float *slot[3];
    for (int k = 0; k < 3; k++) slot[k] = bv_xmalloc(bytes ? bytes : sizeof(float));
    it->bert = slot[0];
    it->ja_bert = slot[1];
    it->en_bert = slot[2];
    /* upstream: the utterance's language gets the file, the two others torch.randn(1024, len(phone))
     * drawn at every access (ZH: ja then en; JP: bert then en; EN: bert then ja) */
    for (int k = 0; k < 3; k++) {
        if (k == u->language) memcpy(slot[k], t.data, bytes);
        else fill_randn(rng, slot[k], BV_BERT_DIM * it->n_text);
    }
    bv_pth_tensor_free(&t);
    return 0;
}

int bv_dataset_get(const bv_dataset *ds, int64_t index, bv_ctx *work, bv_rng *rng, bv_item *item, char *err,
                   size_t errcap) {
    memset(item, 0, sizeof *item);
    if (index < 0 || index >= ds->n)
        return bv_err_set(err, errcap, "%s: item %lld out of range (%lld items)", ds->filelist, (long long)index,
                          (long long)ds->n);
    const bv_utterance *u = &ds->utts[index];
    item->index = index;
    item->sid = u->sid;
    text_ids(ds, u, item);
    char sub[1024];
    int rc = load_bert(u, rng, item, sub, sizeof sub);
    if (!rc) rc = load_audio(ds, u, item, sub, sizeof sub);
    if (!rc) rc = load_spec(ds, u, work, item, sub, sizeof sub);
    if (rc) {
        bv_err_set(err, errcap, "%s:%d: %s", ds->filelist, u->line, sub);
        bv_item_free(item);
    }
    return rc;
}

void bv_item_free(bv_item *it) {
    free(it->phones);
    free(it->word2ph);
    free(it->spec);
    free(it->wav);
    free(it->bert);
    free(it->ja_bert);
    free(it->en_bert);
    memset(it, 0, sizeof *it);
}

/* ---------------- TextAudioSpeakerCollate ---------------- */

static void alloc_batch(bv_batch *b) {
    int64_t B = b->B, T = b->max_text;
    b->index = bv_xcalloc((size_t)(B * 7 + 3 * B * T), sizeof(int64_t));   /* every I64 array in one block */
    b->x_lengths = b->index + B;
    b->spec_lengths = b->index + 2 * B;
    b->wav_lengths = b->index + 3 * B;
    b->sid = b->index + 4 * B;
    b->x = b->index + 7 * B;
    b->tone = b->x + B * T;
    b->language = b->tone + B * T;
    b->spec = bv_xcalloc((size_t)(B * b->spec_channels * b->max_spec) + 1, sizeof(float));
    b->wav = bv_xcalloc((size_t)(B * b->max_wav) + 1, sizeof(float));
    b->bert = bv_xcalloc((size_t)(3 * B * BV_BERT_DIM * T) + 1, sizeof(float));
    b->ja_bert = b->bert + B * BV_BERT_DIM * T;
    b->en_bert = b->ja_bert + B * BV_BERT_DIM * T;
}

/* Row `i` of a [B, rows, T] buffer gets src [rows, n], zero padded to T. */
static void put_rows(float *dst, const float *src, int64_t rows, int64_t n, int64_t T) {
    for (int64_t r = 0; r < rows; r++) memcpy(dst + r * T, src + r * n, sizeof(float) * (size_t)n);
}

void bv_collate(bv_batch *b, const bv_item *items, int64_t n) {
    memset(b, 0, sizeof *b);
    b->B = n;
    b->spec_channels = n ? items[0].spec_channels : 0;
    for (int64_t i = 0; i < n; i++) {
        if (items[i].n_text > b->max_text) b->max_text = items[i].n_text;
        if (items[i].spec_frames > b->max_spec) b->max_spec = items[i].spec_frames;
        if (items[i].n_wav > b->max_wav) b->max_wav = items[i].n_wav;
    }
    alloc_batch(b);
    /* torch.sort(spec lengths, descending=True): stable insertion sort (torch's std::sort does an
     * insertion sort, hence stable, for up to 16 elements) */
    int64_t *ord = bv_xmalloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) {
        int64_t j = i;
        while (j > 0 && items[ord[j - 1]].spec_frames < items[i].spec_frames) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    int64_t T = b->max_text;
    for (int64_t r = 0; r < n; r++) {
        const bv_item *it = &items[ord[r]];
        b->index[r] = it->index;
        memcpy(b->x + r * T, it->phones, sizeof(int64_t) * (size_t)it->n_text);
        memcpy(b->tone + r * T, it->tones, sizeof(int64_t) * (size_t)it->n_text);
        memcpy(b->language + r * T, it->langs, sizeof(int64_t) * (size_t)it->n_text);
        b->x_lengths[r] = it->n_text;
        put_rows(b->spec + r * b->spec_channels * b->max_spec, it->spec, it->spec_channels, it->spec_frames, b->max_spec);
        b->spec_lengths[r] = it->spec_frames;
        memcpy(b->wav + r * b->max_wav, it->wav, sizeof(float) * (size_t)it->n_wav);
        b->wav_lengths[r] = it->n_wav;
        b->sid[r] = it->sid;
        put_rows(b->bert + r * BV_BERT_DIM * T, it->bert, BV_BERT_DIM, it->n_text, T);
        put_rows(b->ja_bert + r * BV_BERT_DIM * T, it->ja_bert, BV_BERT_DIM, it->n_text, T);
        put_rows(b->en_bert + r * BV_BERT_DIM * T, it->en_bert, BV_BERT_DIM, it->n_text, T);
    }
    free(ord);
}

void bv_batch_free(bv_batch *b) {
    free(b->index);
    free(b->spec);
    free(b->wav);
    free(b->bert);
    memset(b, 0, sizeof *b);
}

static bv_tensor *view(bv_ctx *ctx, bv_dtype dt, void *data, int ndim, const int64_t *shape) {
    bv_tensor *t = bv_arena_calloc(&ctx->arena, sizeof *t);
    t->dtype = dt;
    t->device = BV_DEV_CPU;
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    t->numel = bv_shape_numel(ndim, shape);
    if (dt == BV_I64) t->idata = data;
    else t->data = data;
    return t;
}

void bv_batch_as_tensors(bv_ctx *ctx, const bv_batch *b, bv_batch_tensors *t) {
    int64_t B = b->B, T = b->max_text;
    t->x = view(ctx, BV_I64, b->x, BV_SHAPE(B, T));
    t->x_lengths = view(ctx, BV_I64, b->x_lengths, BV_SHAPE(B));
    t->spec = view(ctx, BV_F32, b->spec, BV_SHAPE(B, b->spec_channels, b->max_spec));
    t->spec_lengths = view(ctx, BV_I64, b->spec_lengths, BV_SHAPE(B));
    t->wav = view(ctx, BV_F32, b->wav, BV_SHAPE(B, 1, b->max_wav));
    t->wav_lengths = view(ctx, BV_I64, b->wav_lengths, BV_SHAPE(B));
    t->sid = view(ctx, BV_I64, b->sid, BV_SHAPE(B));
    t->tone = view(ctx, BV_I64, b->tone, BV_SHAPE(B, T));
    t->language = view(ctx, BV_I64, b->language, BV_SHAPE(B, T));
    t->bert = view(ctx, BV_F32, b->bert, BV_SHAPE(B, BV_BERT_DIM, T));
    t->ja_bert = view(ctx, BV_F32, b->ja_bert, BV_SHAPE(B, BV_BERT_DIM, T));
    t->en_bert = view(ctx, BV_F32, b->en_bert, BV_SHAPE(B, BV_BERT_DIM, T));
}
