/* golden.h - reading one golden case (../shared/golden, see its README) and checking against it.
 *
 * A case is opened by name; its manifest entry gives the file, config, tensor list, tolerances
 * and differentiated outputs; nothing about a case is hard-coded in tests. Typical module test:
 *
 *   bv_golden *g = bv_golden_open(ts, ctx, "A01_layernorm");
 *   if (!g) return;                                  // failure already recorded
 *   int C = bv_golden_cfg_int(g, "channels");       // dimensions come from the manifest
 *   bv_params ps; bv_params_init(&ps);
 *   ... build the module's parameters in ps with their expected shapes ...
 *   bv_golden_load_params(g, &ps, "param.");        // every param.* fills the same-named store entry
 *   bv_tensor *x = bv_golden_input(g, "in.x");      // requires_grad
 *   bv_tensor *y = layer_forward(ctx, ..., x);
 *   bv_golden_output(g, "y", y);                    // compares out.y; remembers y for backward
 *   bv_golden_backward(g);                          // L = sum(out_k * gout_k) over differentiated outputs
 *   bv_golden_check_grads(g, &ps, "param.");        // every gin.* and gparam.* of the case
 *   bv_golden_close(g);
 *
 * Coverage: the harness records every stored tensor the test reads (bv_golden_tensor/_input/_f64,
 * load_params, backward's gout.*, the noise.* draws the code consumed) or compares (bv_golden_check*,
 * check_grads). At bv_golden_close, a stored tensor never touched fails the test with its name, unless
 * the test declared it: bv_golden_ignore(g, "mid.*", "why it is not compared"). Tests that already
 * failed or were skipped are not judged on coverage.
 *
 * Comparison rule (README): |a - e| <= atol * max(1, max|e|) + rtol * |e| elementwise, with the
 * case's tolerance_groups: "forward" for out./mid., "grad" for gin./gparam., "exact" for integers.
 */
#ifndef BV_GOLDEN_H
#define BV_GOLDEN_H

#include <cjson/cJSON.h>

#include "../src/io/safetensors.h"
#include "test.h"

typedef struct bv_golden bv_golden;

/* NULL (and a recorded failure) if the case or its file is missing or malformed. */
bv_golden *bv_golden_open(bv_test_state *ts, bv_ctx *ctx, const char *case_name);
/* Checks coverage (above), then frees the case. NULL is accepted. */
void bv_golden_close(bv_golden *g);
/* Declare that stored tensors matching the fnmatch(3) `pattern` are deliberately not compared by
 * this test, with a non-empty `reason` (printed with -v). Applies only to tensors left untouched. */
void bv_golden_ignore(bv_golden *g, const char *pattern, const char *reason);
/* Forget the cached manifest.json (read again on the next open; fuzz/fuzz_golden.c rewrites it). */
void bv_golden_manifest_reset(void);

const cJSON *bv_golden_config(const bv_golden *g);        /* manifest "config" object (may be NULL) */
const cJSON *bv_golden_case_json(const bv_golden *g);     /* the whole manifest entry */
/* The manifest's entry of stored tensor `name` ({"name", "role", "dtype", "shape", "group", ...}), or NULL. */
const cJSON *bv_golden_manifest_tensor(const bv_golden *g, const char *name);
bv_ctx *bv_golden_ctx(const bv_golden *g);
/* Config values; a missing key records a failure and returns 0 / def. */
long long bv_golden_cfg_int(bv_golden *g, const char *key);
double bv_golden_cfg_num(bv_golden *g, const char *key);
/* For optional keys / nulls: returns def when absent or JSON null. */
long long bv_golden_cfg_int_or(bv_golden *g, const char *key, long long def);
/* Integer list config value ("lengths": [9, 6]) into out; returns its length (-1 if absent). */
int bv_golden_cfg_ints(bv_golden *g, const char *key, long long *out, int cap);

int bv_golden_has(const bv_golden *g, const char *tensor_name);
/* The stored tensor as a new arena tensor (F32 or I64 as stored; F64 converted to F32).
 * bv_golden_input marks f32 inputs requires_grad so gin.* can be checked. */
bv_tensor *bv_golden_tensor(bv_golden *g, const char *name);
bv_tensor *bv_golden_input(bv_golden *g, const char *name);
/* F64 tensors kept in double (grad norms, summaries); returns element count, or -1. */
int64_t bv_golden_f64(bv_golden *g, const char *name, const double **data);

/* Fill every tensor "<prefix><key>" of the case into the store entry <key>; records a failure for
 * a stored name the store lacks or a shape mismatch, and for a store entry the case lacks. */
void bv_golden_load_params(bv_golden *g, bv_params *ps, const char *prefix);

/* Compare an actual tensor with stored `name` using the tolerance group implied by the name
 * (or exact for integer dtypes). Prints one line per comparison (max err vs allowed). */
int bv_golden_check(bv_golden *g, const char *name, const bv_tensor *actual);
/* Compare raw floats (e.g. a double grad norm) with a stored scalar/tensor. */
int bv_golden_check_f64(bv_golden *g, const char *name, const double *actual, int64_t n);
/* Register output <short> (compares "out.<short>" when stored) for the backward pass. */
int bv_golden_output(bv_golden *g, const char *short_name, bv_tensor *t);
/* L = sum over manifest differentiated_outputs of sum(out * gout) (scalar outputs without a
 * stored gout get 1). Every differentiated output must have been registered. A case without the
 * list differentiates every output that has a stored gout.<name>. */
void bv_golden_backward(bv_golden *g);
/* Check every gin.<arg> against the grad of the input loaded as in.<arg> (zeros if it got none),
 * and every gparam.<key> against store[<key>]->grad (prefix as for load_params). */
void bv_golden_check_grads(bv_golden *g, bv_params *ps, const char *param_prefix);

/* Replay the case's noise.NNN.* draws through ctx->rng in order. */
void bv_golden_replay_noise(bv_golden *g);

#endif
