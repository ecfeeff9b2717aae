/* pyrepr.h - Python's repr() of the values upstream logs, so that train.log reads as upstream's:
 * repr(float) for the loss lists of train_and_evaluate, and the repr of the dict json.loads makes
 * of config.json for logger.info(hps).
 *
 *   char buf[32];
 *   bv_py_float_repr(buf, 2e-4);                  // "0.0002"
 *   char *s = bv_py_repr_json(root, json_text);   // "{'train': {'log_interval': 200, 'eps': 1e-09, ...}}"
 *   free(s);
 */
#ifndef BV_IO_PYREPR_H
#define BV_IO_PYREPR_H

#include <cjson/cJSON.h>

/* Python's repr(float): the shortest digits that read back as v, fixed notation for exponents
 * -4..15, else d.ddde+XX ("0.0002", "2.7146239280700684", "1e-05", "1e+16", "nan", "inf").
 * buf needs 32 bytes; returns buf. */
char *bv_py_float_repr(char *buf, double v);

/* Python's repr of the object json.loads(text) gives, where v is cJSON's tree of text: dicts in
 * order as {'k': v, ...}, lists as [...], strings quoted as repr quotes them, True/False/None, and
 * numbers as ints or floats as text writes them (cJSON keeps only doubles, so text's number tokens
 * are read in document order; entries added to v after parsing must not be numbers). malloc'ed. */
char *bv_py_repr_json(const cJSON *v, const char *text);

#endif
