/* test_coupling.c - modules.ResidualCouplingLayer and modules.TransformerCouplingLayer
 * (src/nn/coupling.c): golden cases A22 (mean+logs / mean-only, forward / reverse) and A24,
 * invertibility, finite differences (y and logdet), parameter names, and shape errors. */
#include <string.h>

#include "../src/nn/coupling.h"
#include "fixtures.h"
#include "golden.h"

/* One coupling of either kind behind one call. */
typedef struct {
    bv_residual_coupling *rc;
    bv_transformer_coupling *tc;
} coupling;

static bv_tensor *coupling_forward(bv_ctx *ctx, const coupling *c, bv_tensor *x, bv_tensor *mask, bv_tensor *g,
                                   int reverse, int training, bv_tensor **logdet) {
    return c->rc ? bv_residual_coupling_forward(ctx, c->rc, x, mask, g, reverse, training, logdet)
                 : bv_transformer_coupling_forward(ctx, c->tc, x, mask, g, reverse, training, logdet);
}

static void coupling_free(coupling *c) {
    bv_residual_coupling_free(c->rc);
    bv_transformer_coupling_free(c->tc);
}

/* Builds the module the case describes; transformer when the config has n_heads. */
static coupling build_from_config(bv_golden *g, bv_params *ps) {
    coupling c = {0};
    int channels = (int)bv_golden_cfg_int(g, "channels"), hidden = (int)bv_golden_cfg_int(g, "hidden_channels");
    int kernel = (int)bv_golden_cfg_int(g, "kernel_size"), n_layers = (int)bv_golden_cfg_int(g, "n_layers");
    int gin = (int)bv_golden_cfg_int_or(g, "gin_channels", 0), mean_only = (int)bv_golden_cfg_int_or(g, "mean_only", 0);
    float p_dropout = (float)bv_golden_cfg_num(g, "p_dropout");
    if (bv_golden_cfg_int_or(g, "n_heads", -1) >= 0) {
        const cJSON *share = cJSON_GetObjectItem(bv_golden_config(g), "wn_sharing_parameter");
        if (share && !cJSON_IsNull(share)) {
            fprintf(stderr, "  wn_sharing_parameter other than None is not supported\n");
            return c;
        }
        c.tc = bv_transformer_coupling_new(
            ps, "", &(bv_transformer_coupling_cfg){.channels = channels, .hidden_channels = hidden, .kernel_size = kernel,
                                                   .n_layers = n_layers, .n_heads = (int)bv_golden_cfg_int(g, "n_heads"),
                                                   .p_dropout = p_dropout,
                                                   .filter_channels = (int)bv_golden_cfg_int(g, "filter_channels"),
                                                   .mean_only = mean_only, .gin_channels = gin});
    } else {
        c.rc = bv_residual_coupling_new(
            ps, "", &(bv_residual_coupling_cfg){.channels = channels, .hidden_channels = hidden, .kernel_size = kernel,
                                                .dilation_rate = (int)bv_golden_cfg_int(g, "dilation_rate"),
                                                .n_layers = n_layers, .p_dropout = p_dropout, .gin_channels = gin,
                                                .mean_only = mean_only});
    }
    return c;
}

static void run_golden(bv_test_state *ts, const char *case_name) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, case_name);
    if (!g) return;
    bv_params ps;
    bv_params_init(&ps);
    int reverse = (int)bv_golden_cfg_int_or(g, "reverse", -1);
    BV_CHECK(reverse == 0 || reverse == 1, "%s: config 'reverse' missing", case_name);
    coupling c = ts->failed ? (coupling){0} : build_from_config(g, &ps);
    BV_CHECK(c.rc || c.tc, "%s: module not built", case_name);
    if (!ts->failed) {
        bv_golden_load_params(g, &ps, "param.");
        bv_golden_replay_noise(g);
        bv_tensor *x = bv_golden_input(g, "in.x");                                      // [B, C, T]
        bv_tensor *x_mask = bv_golden_tensor(g, "in.x_mask");                           // [B, 1, T]
        bv_tensor *cond = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL; // [B, gin, 1]
        if (x && x_mask) {
            bv_tensor *logdet = NULL;
            bv_tensor *y = coupling_forward(ctx, &c, x, x_mask, cond, reverse, 1, &logdet); // [B, C, T]
            bv_golden_output(g, "y", y);
            BV_CHECK(reverse ? logdet == NULL : logdet != NULL, "logdet must be returned in forward only");
            if (logdet) bv_golden_output(g, "logdet", logdet);                         // [B]
            else BV_CHECK(!bv_golden_has(g, "out.logdet"), "case stores out.logdet but none was produced");
            bv_golden_backward(g);
            bv_golden_check_grads(g, &ps, "param.");
        }
    }
    coupling_free(&c);
    bv_params_free(&ps);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(coupling_golden_A22_residual_coupling_meanlogs_fwd) { run_golden(ts, "A22_residual_coupling_meanlogs_fwd"); }
BV_GOLDEN_TEST(coupling_golden_A22_residual_coupling_meanlogs_rev) { run_golden(ts, "A22_residual_coupling_meanlogs_rev"); }
BV_GOLDEN_TEST(coupling_golden_A22_residual_coupling_meanonly_fwd) { run_golden(ts, "A22_residual_coupling_meanonly_fwd"); }
BV_GOLDEN_TEST(coupling_golden_A22_residual_coupling_meanonly_rev) { run_golden(ts, "A22_residual_coupling_meanonly_rev"); }
BV_GOLDEN_TEST(coupling_golden_A24_transformer_coupling_fwd) { run_golden(ts, "A24_transformer_coupling_fwd"); }
BV_GOLDEN_TEST(coupling_golden_A24_transformer_coupling_rev) { run_golden(ts, "A24_transformer_coupling_rev"); }

/* ---- unit tests on small random modules ---- */

static coupling small_residual(bv_params *ps, int mean_only) {
    return (coupling){.rc = bv_residual_coupling_new(
                          ps, "flows.0.",
                          &(bv_residual_coupling_cfg){.channels = 4, .hidden_channels = 3, .kernel_size = 3,
                                                      .dilation_rate = 2, .n_layers = 2, .gin_channels = 2,
                                                      .mean_only = mean_only})};
}

static coupling small_transformer(bv_params *ps) {
    return (coupling){.tc = bv_transformer_coupling_new(
                          ps, "flows.0.",
                          &(bv_transformer_coupling_cfg){.channels = 4, .hidden_channels = 4, .kernel_size = 3,
                                                         .n_layers = 3, .n_heads = 2, .filter_channels = 6,
                                                         .mean_only = 1, .gin_channels = 2})};
}

/* reverse(forward(x)) == x on the valid frames (padded frames of x1 are zeroed by the mask). */
static void check_inverse(bv_test_state *ts, const char *what, coupling *c) {
    bv_ctx *ctx = ts->ctx;
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 4, 7), 1.0f);
    bv_tensor *mask = bv_test_mask(ctx, 2, 7, (int64_t[]){7, 5});
    bv_tensor *cond = bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f);
    bv_tensor *logdet = NULL;
    bv_tensor *y = coupling_forward(ctx, c, x, mask, cond, 0, 0, &logdet);
    bv_tensor *z = coupling_forward(ctx, c, y, mask, cond, 1, 0, NULL);
    double worst = 0, ymove = 0;
    for (int64_t b = 0; b < 2; b++)
        for (int64_t ch = 0; ch < 4; ch++)
            for (int64_t t = 0; t < 7; t++) {
                int64_t i = (b * 4 + ch) * 7 + t;
                if (mask->data[b * 7 + t] == 0.0f) continue;
                worst = fmax(worst, fabs(z->data[i] - x->data[i]));
                ymove = fmax(ymove, fabs(y->data[i] - x->data[i]));
            }
    BV_CHECK(worst < 1e-5, "%s: |reverse(forward(x)) - x| = %g", what, worst);
    BV_CHECK(ymove > 1e-3, "%s: the flow is the identity (random params expected to move x)", what);
    BV_CHECK(logdet && logdet->ndim == 1 && logdet->shape[0] == 2, "%s: logdet [B]", what);
}

BV_TEST(coupling_inverse) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    coupling r = small_residual(&ps, 0);
    bv_test_randomize_params(ctx, &ps, 0.4f, 0.2f);
    check_inverse(ts, "residual mean+logs", &r);
    coupling_free(&r);
    bv_params_free(&ps);
    bv_params_init(&ps);
    coupling t = small_transformer(&ps);
    bv_test_randomize_params(ctx, &ps, 0.4f, 0.2f);
    check_inverse(ts, "transformer mean-only", &t);
    coupling_free(&t);
    bv_params_free(&ps);
}

typedef struct {
    coupling *c;
    bv_tensor *mask;
    int reverse;
} fd_case;

/* [B, C*T + 1]: y flattened, then logdet (forward) so one check covers both outputs. */
static bv_tensor *coupling_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    fd_case *f = user;
    bv_tensor *logdet = NULL;
    bv_tensor *y = coupling_forward(ctx, f->c, in[0], f->mask, in[1], f->reverse, 0, &logdet);
    int64_t B = y->shape[0];
    bv_tensor *flat = bv_reshape(ctx, y, BV_SHAPE(B, -1));
    if (!logdet) return flat;
    return bv_concat(ctx, 2, (bv_tensor *[]){flat, bv_reshape(ctx, logdet, BV_SHAPE(B, 1))}, 1);
}

BV_TEST(coupling_gradcheck) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    coupling r = small_residual(&ps, 0);
    bv_test_randomize_params(ctx, &ps, 0.4f, 0.2f);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 4, 6), 1.0f);
    bv_tensor *cond = bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f);
    bv_tensor *mask = bv_test_mask(ctx, 2, 6, (int64_t[]){6, 4});
    bv_tensor *in[] = {x, cond, bv_params_get(&ps, "flows.0.pre.weight"), bv_params_get(&ps, "flows.0.post.weight"),
                       bv_params_get(&ps, "flows.0.post.bias"), bv_params_get(&ps, "flows.0.enc.in_layers.0.weight_v")};
    for (int rev = 0; rev < 2; rev++) {
        fd_case f = {&r, mask, rev};
        bv_gradcheck(ts, rev ? "residual coupling reverse" : "residual coupling forward+logdet", coupling_fn, 6, in, &f,
                     1e-3, 1e-3, 1e-2, 30);
    }
    coupling_free(&r);
    bv_params_free(&ps);

    bv_params_init(&ps);
    coupling t = small_transformer(&ps);
    bv_test_randomize_params(ctx, &ps, 0.4f, 0.2f);
    bv_tensor *tin[] = {x, cond, bv_params_get(&ps, "flows.0.pre.bias"), bv_params_get(&ps, "flows.0.post.weight"),
                        bv_params_get(&ps, "flows.0.enc.spk_emb_linear.weight")};
    for (int i = 0; i < 5; i++) BV_CHECK(tin[i] != NULL, "transformer input %d missing", i);
    if (!ts->failed) {
        fd_case f = {&t, mask, 0};
        bv_gradcheck(ts, "transformer coupling forward", coupling_fn, 5, tin, &f, 1e-3, 1e-3, 1e-2, 30);
    }
    coupling_free(&t);
    bv_params_free(&ps);
}

BV_TEST(coupling_reset_parameters_identity) {
    /* upstream zero-initialises post: a fresh flow maps x to x * [1, mask] with logdet 0 */
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    coupling r = small_residual(&ps, 0);
    bv_residual_coupling_reset_parameters(r.rc, &ctx->rng);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 4, 5), 1.0f);
    bv_tensor *mask = bv_test_mask(ctx, 2, 5, (int64_t[]){5, 5});
    bv_tensor *cond = bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f);
    bv_tensor *logdet = NULL;
    bv_tensor *y = coupling_forward(ctx, &r, x, mask, cond, 0, 0, &logdet);
    double worst = 0;
    for (int64_t i = 0; i < x->numel; i++) worst = fmax(worst, fabs(y->data[i] - x->data[i]));
    BV_CHECK(worst == 0.0, "fresh flow is not the identity: %g", worst);
    BV_CHECK(logdet && logdet->data[0] == 0.0f && logdet->data[1] == 0.0f, "fresh flow logdet != 0");
    bv_tensor *pre_w = bv_params_get(&ps, "flows.0.pre.weight");
    double nz = 0;
    for (int64_t i = 0; i < pre_w->numel; i++) nz += fabs(pre_w->data[i]);
    BV_CHECK(nz > 0, "pre.weight was not initialised");
    coupling_free(&r);
    bv_params_free(&ps);
}

BV_TEST(coupling_param_names) {
    bv_params ps;
    bv_params_init(&ps);
    coupling r = small_residual(&ps, 1);
    BV_CHECK(ps.n >= 4 && !strcmp(ps.items[0]->name, "flows.0.pre.weight") &&
                 !strcmp(ps.items[1]->name, "flows.0.pre.bias") &&
                 !strcmp(ps.items[2]->name, "flows.0.enc.in_layers.0.bias") &&
                 !strcmp(ps.items[ps.n - 2]->name, "flows.0.post.weight") &&
                 !strcmp(ps.items[ps.n - 1]->name, "flows.0.post.bias"),
             "residual coupling names/order");
    BV_CHECK(ps.items[ps.n - 2]->shape[0] == 2 && ps.items[ps.n - 2]->shape[1] == 3, "mean-only post is [C/2, H, 1]");
    coupling_free(&r);
    bv_params_free(&ps);
}

BV_TEST(coupling_bad_mask_shape_error) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps, ps2;
    bv_params_init(&ps);
    bv_params_init(&ps2);
    coupling r = small_residual(&ps, 0);
    coupling t = small_transformer(&ps2);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 4, 6), 1.0f);
    bv_tensor *bad = bv_full(ctx, BV_SHAPE(2, 1, 7), 1.0f);
    char msg[512];
    int raised = BV_EXPECT_ERROR(ctx, msg, coupling_forward(ctx, &r, x, bad, NULL, 0, 0, NULL));
    BV_CHECK(raised && strstr(msg, "ResidualCouplingLayer") && strstr(msg, "[2, 1, 7]") && strstr(msg, "[2, 4, 6]"),
             "mask [2, 1, 7] must raise: %s", raised ? msg : "(nothing)");
    raised = BV_EXPECT_ERROR(ctx, msg, coupling_forward(ctx, &t, x, bad, NULL, 1, 0, NULL));
    BV_CHECK(raised && strstr(msg, "TransformerCouplingLayer") && strstr(msg, "[2, 1, 7]") && strstr(msg, "[2, 4, 6]"),
             "mask [2, 1, 7] must raise: %s", raised ? msg : "(nothing)");
    bv_tensor *x6 = bv_test_input(ctx, BV_SHAPE(2, 6, 6), 1.0f);
    raised = BV_EXPECT_ERROR(ctx, msg, coupling_forward(ctx, &r, x6, bv_full(ctx, BV_SHAPE(2, 1, 6), 1.0f), NULL, 0, 0, NULL));
    BV_CHECK(raised && strstr(msg, "[2, 6, 6]"), "6 channels into a 4-channel flow must raise: %s",
             raised ? msg : "(nothing)");
    coupling_free(&r);
    coupling_free(&t);
    bv_params_free(&ps);
    bv_params_free(&ps2);
}
