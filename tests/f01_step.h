/* f01_step.h - golden case F01's training step as a reusable test body (tests/test_train_step.c),
 * for the single-process test and the ranks of the data-parallel tests (tests/test_ddp.c). */
#ifndef BV_TESTS_F01_STEP_H
#define BV_TESTS_F01_STEP_H

#include "../src/train/train_step.h"
#include "test.h"

typedef struct bv_test_f01_opts {
    bv_train_grad_sync_fn sync;  /* gradient hook (NULL: one process) */
    int check;                   /* compare everything with F01 (0: run the step only) */
    const char *unchecked_why;   /* with check 0: why F01's tensors are not compared here (bv_golden_ignore) */
    /* replace F01's batch and draws before the step (another rank's data); may be NULL */
    void (*prepare)(bv_test_state *ts, bv_ctx *ctx, bv_train_batch *b);
    /* sees the state and results after the step (and the checks); may be NULL */
    void (*after)(bv_test_state *ts, bv_train_state *st, const bv_train_result *r);
    /* another case made like F01 (NULL: "F01_train_step"), e.g. the parity sweep's (tests/test_parity.c) */
    const char *case_name;
    /* the step's tap when check is 0 (the F01 checks use it themselves); may be NULL */
    bv_train_probe_fn probe;
    void *probe_user;
} bv_test_f01_opts;

/* Builds F01's networks, optimizers, batch and draws, runs bv_train_step; fails ts on mismatches. */
void bv_test_f01_step(bv_test_state *ts, const bv_test_f01_opts *o);

#endif
