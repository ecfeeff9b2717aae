/* model_config.h - the bridge from config.json (src/io/config.h) to the model's own hyper-parameters
 * (src/model/hparams.h), so that src/model never depends on the config reader. train and infer
 * build net_g through here:
 *
 *   bv_synth_hparams hp;
 *   bv_synth_hparams_from_config(&hp, &cfg);            // the one place config keys meet the model
 *   if (bv_synth_hparams_check(&hp, err, sizeof err)) ...
 *   bv_synth *net_g = bv_synth_new(&ps, "", &hp);
 * or, in one step, bv_synth_config_check / bv_synth_from_config.
 */
#ifndef BV_APP_MODEL_CONFIG_H
#define BV_APP_MODEL_CONFIG_H

#include "../io/config.h"
#include "../model/hparams.h"
#include "../model/synthesizer.h"

/* SynthesizerTrn's hyper-parameters as train_ms / infer.py take them from hps. Returns hp. */
bv_synth_hparams *bv_synth_hparams_from_config(bv_synth_hparams *hp, const bv_config *cfg);
/* bv_synth_hparams_check of the config's hyper-parameters. */
int bv_synth_config_check(const bv_config *cfg, char *err, int cap);
/* bv_synth_new with the config's hyper-parameters (fatal where bv_synth_config_check fails). */
bv_synth *bv_synth_from_config(bv_params *ps, const char *prefix, const bv_config *cfg);

#endif
