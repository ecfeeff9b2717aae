/* test_generator.c - models.Generator (src/model/generator.c): golden case B03 (every dimension from
 * the manifest), finite differences on tiny ResBlock1 / ResBlock2 generators, the channel-blocked
 * stages against plain layouts, parameter names and order, config validation and shape errors. */
#include <stdlib.h>
#include <string.h>

#include "../src/model/generator.h"
#include "../src/ops/conv_ref.h"
#include "golden.h"

/* An int list config value into out[0..cap); returns its length, -1 when absent or not a list. */
static int json_ints(const cJSON *v, int *out, int cap) {
    if (!cJSON_IsArray(v)) return -1;
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsNumber(e)) return -1;
        if (n < cap) out[n] = (int)e->valuedouble;
        n++;
    }
    return n;
}

/* The manifest config as upstream's Generator(...) arguments; 0 (and a recorded failure) if malformed. */
static int golden_cfg(bv_test_state *ts, bv_golden *g, bv_generator_cfg *c) {
    const cJSON *cfg = bv_golden_config(g);
    memset(c, 0, sizeof *c);
    c->initial_channel = (int)bv_golden_cfg_int(g, "initial_channel");
    c->upsample_initial_channel = (int)bv_golden_cfg_int(g, "upsample_initial_channel");
    c->gin_channels = (int)bv_golden_cfg_int_or(g, "gin_channels", 0);
    const cJSON *rb = cfg ? cJSON_GetObjectItem(cfg, "resblock") : NULL;
    c->resblock = cJSON_IsString(rb) ? atoi(rb->valuestring) : cJSON_IsNumber(rb) ? (int)rb->valuedouble : 0;
    c->n_kernels = json_ints(cJSON_GetObjectItem(cfg, "resblock_kernel_sizes"), c->resblock_kernel_sizes,
                             BV_GEN_MAX_KERNELS);
    c->n_upsamples = json_ints(cJSON_GetObjectItem(cfg, "upsample_rates"), c->upsample_rates, BV_GEN_MAX_UPS);
    int nuk = json_ints(cJSON_GetObjectItem(cfg, "upsample_kernel_sizes"), c->upsample_kernel_sizes, BV_GEN_MAX_UPS);
    const cJSON *dil = cJSON_GetObjectItem(cfg, "resblock_dilation_sizes");
    int nd = cJSON_IsArray(dil) ? cJSON_GetArraySize(dil) : -1, want = c->resblock == 1 ? 3 : 2;
    BV_CHECK(nd == c->n_kernels && nuk == c->n_upsamples, "config lists: %d kernels, %d dilation lists, %d rates, %d "
             "upsample kernels", c->n_kernels, nd, c->n_upsamples, nuk);
    for (int j = 0; j < nd && j < BV_GEN_MAX_KERNELS; j++) {
        int n = json_ints(cJSON_GetArrayItem(dil, j), c->resblock_dilation_sizes[j], 3);
        BV_CHECK(n == want, "resblock_dilation_sizes[%d] has %d entries, ResBlock%d takes %d", j, n, c->resblock, want);
    }
    char err[256];
    int ok = bv_generator_cfg_valid(c, err, sizeof err);
    BV_CHECK(ok, "manifest config rejected: %s", err);
    return ok && !ts->failed;
}

static void run_golden(bv_test_state *ts, const char *case_name) {
    bv_ctx *ctx = ts->ctx;
    bv_golden *g = bv_golden_open(ts, ctx, case_name);
    if (!g) return;
    bv_generator_cfg cfg;
    if (!golden_cfg(ts, g, &cfg)) {
        bv_golden_close(g);
        return;
    }
    bv_params ps;
    bv_params_init(&ps);
    bv_generator *gen = bv_generator_new(&ps, "", &cfg);
    bv_golden_load_params(g, &ps, "param.");
    bv_tensor *x = bv_golden_input(g, "in.x");                                  // [B, initial_channel, T]
    bv_tensor *gc = bv_golden_has(g, "in.g") ? bv_golden_input(g, "in.g") : NULL; // [B, gin_channels, 1]
    if (x) {
        bv_tensor *y = bv_generator_forward(ctx, gen, x, gc); // [B, 1, T * prod(upsample_rates)]
        bv_golden_output(g, "y", y);
        bv_golden_backward(g);
        bv_golden_check_grads(g, &ps, "param.");
    }
    bv_generator_free(gen);
    bv_params_free(&ps);
    bv_golden_close(g);
}

BV_GOLDEN_TEST(generator_golden_B03_generator) { run_golden(ts, "B03_generator"); }

/* Tiny configs: 2 stages (rates 2, 2), channels 4 -> 2 -> 1, two kernel sizes. Kept this small on
 * purpose: every leaky_relu is a kink, and with hundreds of them a finite difference step crosses
 * some kink too often (errors of a few % that the one-sided-slope detector cannot tell apart). */
static bv_generator_cfg tiny_cfg(int resblock, int gin) {
    bv_generator_cfg c = {.initial_channel = 3, .resblock = resblock, .n_kernels = 2,
                          .resblock_kernel_sizes = {3, 5}, .resblock_dilation_sizes = {{1, 2, 3}, {1, 3, 2}},
                          .n_upsamples = 2, .upsample_rates = {2, 2}, .upsample_kernel_sizes = {4, 2},
                          .upsample_initial_channel = 4, .gin_channels = gin};
    return c;
}

/* Upstream init, with weight_g raised so the signal does not fade through the stages. */
static void tiny_params(bv_ctx *ctx, const bv_generator *gen, bv_params *ps) {
    bv_generator_reset_parameters(gen, &ctx->rng);
    for (int i = 0; i < ps->n; i++) {
        bv_tensor *p = ps->items[i];
        size_t len = strlen(p->name);
        if (len >= 8 && !strcmp(p->name + len - 8, "weight_g"))
            for (int64_t j = 0; j < p->numel; j++) p->data[j] *= 2.0f;
    }
}

typedef struct {
    const bv_generator *gen;
    int with_g;
} gen_case;

static bv_tensor *gen_fn(bv_ctx *ctx, bv_tensor **in, void *user) {
    gen_case *c = user;
    return bv_generator_forward(ctx, c->gen, in[0], c->with_g ? in[1] : NULL);
}

static void gradcheck_tiny(bv_test_state *ts, int resblock) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_generator_cfg cfg = tiny_cfg(resblock, 2);
    bv_generator *gen = bv_generator_new(&ps, "dec.", &cfg);
    tiny_params(ctx, gen, &ps);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 2), 1.0f); // [B, initial, T]
    bv_tensor *gc = bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f); // [B, gin, 1]
    const char *rb_v = resblock == 1 ? "dec.resblocks.3.convs1.2.weight_v" : "dec.resblocks.3.convs.1.weight_v";
    const char *rb_g = resblock == 1 ? "dec.resblocks.0.convs2.1.weight_g" : "dec.resblocks.0.convs.0.weight_g";
    const char *names[] = {"dec.conv_pre.bias", "dec.ups.0.weight_v", "dec.ups.1.weight_g", "dec.ups.1.bias",
                           rb_v,                rb_g,                 "dec.conv_post.weight", "dec.cond.weight"};
    bv_tensor *in[2 + 8] = {x, gc};
    for (int i = 0; i < 8; i++) {
        in[2 + i] = bv_params_get(&ps, names[i]);
        BV_CHECK(in[2 + i], "parameter %s missing", names[i]);
    }
    if (!ts->failed) {
        gen_case c = {gen, 1}, c_nog = {gen, 0};
        bv_gradcheck(ts, resblock == 1 ? "Generator resblock 1" : "Generator resblock 2", gen_fn, 10, in, &c, 5e-4,
                     1e-3, 1e-2, 24);
        bv_tensor *in_nog[] = {x, in[2], in[3]};
        bv_gradcheck(ts, "Generator without g", gen_fn, 3, in_nog, &c_nog, 5e-4, 1e-3, 1e-2, 24);
    }
    bv_generator_free(gen);
    bv_params_free(&ps);
}

BV_TEST(generator_resblock2_gradcheck) { gradcheck_tiny(ts, 2); }
BV_TEST(generator_resblock1_gradcheck) { gradcheck_tiny(ts, 1); }

/* y and every gradient of one forward + backward, copied out: [y | grad x | grad g | params...] */
static float *gen_run(bv_ctx *ctx, bv_params *ps, const bv_generator *gen, bv_tensor *x, bv_tensor *gc, int64_t *n) {
    int64_t tape0 = ctx->tape_len;
    bv_params_zero_grad(ps);
    x->grad = gc->grad = NULL;
    bv_tensor *y = bv_generator_forward(ctx, gen, x, gc);
    bv_tensor *gy = bv_full(ctx, y->ndim, y->shape, 0.0f);
    for (int64_t i = 0; i < y->numel; i++) gy->data[i] = (float)((i % 7) - 3) * 0.25f;
    bv_backward(ctx, y, gy);
    bv_tape_cut(ctx, tape0);
    int64_t total = y->numel + x->numel + gc->numel;
    for (int i = 0; i < ps->n; i++) total += ps->items[i]->numel;
    float *out = malloc(sizeof(float) * (size_t)total), *p = out;
    const bv_tensor *parts[3] = {y, x, gc};
    for (int k = 0; k < 3; k++, p += parts[k - 1]->numel)
        memcpy(p, k ? parts[k]->grad : parts[k]->data, sizeof(float) * (size_t)parts[k]->numel);
    for (int i = 0; i < ps->n; i++, p += ps->items[i - 1]->numel)
        memcpy(p, ps->items[i]->grad, sizeof(float) * (size_t)ps->items[i]->numel);
    *n = total;
    return out;
}

/* Stages of 32 and 16 channels run channel-blocked (where the CPU has it): output and every
 * gradient as with plain layouts throughout (fp32 rounding apart). */
BV_TEST(generator_blocked_stages_match_plain) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_generator_cfg cfg = tiny_cfg(1, 4);
    cfg.upsample_initial_channel = 64; /* 64 -> 32 -> 16 */
    bv_generator *gen = bv_generator_new(&ps, "dec.", &cfg);
    tiny_params(ctx, gen, &ps);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 6), 1.0f), *gc = bv_test_input(ctx, BV_SHAPE(2, 4, 1), 1.0f);
    int64_t na, nb;
    float *a = gen_run(ctx, &ps, gen, x, gc, &na);
    bv_conv_set_layout(ts->ctx->be, BV_CONV_LAYOUT_PLAIN);
    float *b = gen_run(ctx, &ps, gen, x, gc, &nb);
    bv_conv_set_layout(ts->ctx->be, BV_CONV_LAYOUT_AUTO);
    double m = 1, worst = 0;
    for (int64_t i = 0; i < nb && na == nb; i++) {
        m = fabs(b[i]) > m ? fabs(b[i]) : m;
        worst = fabs((double)a[i] - b[i]) > worst ? fabs((double)a[i] - b[i]) : worst;
    }
    BV_CHECK(na == nb && worst <= 1e-5 * m, "blocked vs plain: max difference %g (scale %g)", worst, m);
    free(a);
    free(b);
    bv_generator_free(gen);
    bv_params_free(&ps);
}

BV_TEST(generator_param_names_and_shape) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_generator_cfg cfg = tiny_cfg(2, 2);
    cfg.upsample_initial_channel = 8; /* 8 -> 4 -> 2 */
    cfg.upsample_rates[1] = 3;
    cfg.upsample_kernel_sizes[1] = 3;
    bv_generator *gen = bv_generator_new(&ps, "dec.", &cfg);
    /* conv_pre 2 + ups 2x3 + resblocks 4 x (2 convs x 3) + conv_post 1 + cond 2 */
    BV_CHECK(ps.n == 2 + 6 + 24 + 1 + 2, "parameter count %d", ps.n);
    const char *expect[][2] = {{"0", "dec.conv_pre.weight"},          {"2", "dec.ups.0.bias"},
                               {"3", "dec.ups.0.weight_g"},           {"4", "dec.ups.0.weight_v"},
                               {"8", "dec.resblocks.0.convs.0.bias"}, {"31", "dec.resblocks.3.convs.1.weight_v"},
                               {"32", "dec.conv_post.weight"},        {"33", "dec.cond.weight"},
                               {"34", "dec.cond.bias"}};
    for (size_t k = 0; k < sizeof expect / sizeof *expect && ps.n == 35; k++) {
        int i = atoi(expect[k][0]);
        BV_CHECK(!strcmp(ps.items[i]->name, expect[k][1]), "item %d is %s, expected %s", i, ps.items[i]->name,
                 expect[k][1]);
    }
    bv_tensor *v0 = bv_params_get(&ps, "dec.ups.0.weight_v"), *g0 = bv_params_get(&ps, "dec.ups.0.weight_g");
    BV_CHECK(v0 && v0->shape[0] == 8 && v0->shape[1] == 4 && v0->shape[2] == 4, "ups.0.weight_v is [cin, cout, k]");
    BV_CHECK(g0 && g0->shape[0] == 8, "ups.0.weight_g is [cin, 1, 1]");
    bv_tensor *post = bv_params_get(&ps, "dec.conv_post.weight");
    BV_CHECK(post && post->shape[0] == 1 && post->shape[1] == 2 && post->shape[2] == 7, "conv_post.weight [1, 2, 7]");
    BV_CHECK(!bv_params_get(&ps, "dec.conv_post.bias"), "conv_post has no bias");
    /* reset_parameters: g = ||v|| over each input channel's slice (weight norm at init is identity) */
    bv_generator_reset_parameters(gen, &ctx->rng);
    double ss = 0;
    for (int64_t j = 0; j < 16; j++) ss += (double)v0->data[j] * v0->data[j];
    BV_CHECK(fabs(sqrt(ss) - g0->data[0]) < 1e-5, "weight_g %g vs ||v[0]|| %g", g0->data[0], sqrt(ss));
    /* output length: T * 2 * 3 ((k - u) even for both stages) */
    bv_no_grad_begin(ctx);
    bv_tensor *y = bv_generator_forward(ctx, gen, bv_full(ctx, BV_SHAPE(2, 3, 5), 0.5f), NULL);
    bv_no_grad_end(ctx);
    BV_CHECK(y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 1 && y->shape[2] == 30, "y shape");
    for (int64_t i = 0; i < y->numel; i++) BV_CHECK(fabsf(y->data[i]) < 1.0f, "tanh output %g", y->data[i]);
    bv_generator_free(gen);
    bv_params_free(&ps);
}

BV_TEST(generator_cfg_validation) {
    char err[256];
    bv_generator_cfg c = tiny_cfg(1, 0);
    BV_CHECK(bv_generator_cfg_valid(&c, err, sizeof err), "tiny config rejected: %s", err);
    c.resblock = 3;
    BV_CHECK(!bv_generator_cfg_valid(&c, err, sizeof err) && strstr(err, "resblock"), "resblock 3: %s", err);
    c = tiny_cfg(1, 0);
    c.resblock_kernel_sizes[1] = 4;
    BV_CHECK(!bv_generator_cfg_valid(&c, err, sizeof err) && strstr(err, "resblock_kernel_sizes[1]"), "even: %s", err);
    c = tiny_cfg(1, 0);
    c.upsample_kernel_sizes[0] = 1;
    BV_CHECK(!bv_generator_cfg_valid(&c, err, sizeof err) && strstr(err, "stage 0"), "kernel < rate: %s", err);
    c = tiny_cfg(1, 0);
    c.upsample_initial_channel = 3;
    BV_CHECK(!bv_generator_cfg_valid(&c, err, sizeof err) && strstr(err, "upsample_initial_channel"), "3 ch: %s", err);
    c = tiny_cfg(2, 0);
    c.resblock_dilation_sizes[0][1] = 0;
    BV_CHECK(!bv_generator_cfg_valid(&c, err, sizeof err) && strstr(err, "[0][1]"), "dilation 0: %s", err);
}

BV_TEST(generator_shape_errors) {
    bv_ctx *ctx = ts->ctx;
    bv_params ps;
    bv_params_init(&ps);
    bv_generator_cfg cfg = tiny_cfg(1, 2), cfg0 = tiny_cfg(2, 0);
    bv_generator *gen = bv_generator_new(&ps, "", &cfg);
    bv_generator *gen0 = bv_generator_new(&ps, "nog.", &cfg0);
    bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, 4), 1.0f);
    char msg[512];
    int raised = BV_EXPECT_ERROR(ctx, msg, bv_generator_forward(ctx, gen, bv_test_input(ctx, BV_SHAPE(2, 5, 4), 1.0f), NULL));
    BV_CHECK(raised && strstr(msg, "Generator") && strstr(msg, "[2, 5, 4]") && strstr(msg, "3"),
             "x with 5 channels must raise: %s", raised ? msg : "(nothing)");
    raised = BV_EXPECT_ERROR(ctx, msg, bv_generator_forward(ctx, gen, x, bv_test_input(ctx, BV_SHAPE(2, 4, 1), 1.0f)));
    BV_CHECK(raised && strstr(msg, "Generator") && strstr(msg, "[2, 4, 1]") && strstr(msg, "[2, 3, 4]"),
             "g with 4 channels must raise: %s", raised ? msg : "(nothing)");
    raised = BV_EXPECT_ERROR(ctx, msg, bv_generator_forward(ctx, gen, x, bv_test_input(ctx, BV_SHAPE(1, 2, 1), 1.0f)));
    BV_CHECK(raised && strstr(msg, "[1, 2, 1]") && strstr(msg, "[2, 3, 4]"), "g batch 1 must raise: %s",
             raised ? msg : "(nothing)");
    raised = BV_EXPECT_ERROR(ctx, msg, bv_generator_forward(ctx, gen0, x, bv_test_input(ctx, BV_SHAPE(2, 2, 1), 1.0f)));
    BV_CHECK(raised && strstr(msg, "Generator") && strstr(msg, "gin_channels 0"), "g without cond must raise: %s",
             raised ? msg : "(nothing)");
    bv_generator_free(gen);
    bv_generator_free(gen0);
    bv_params_free(&ps);
}

/* Inference in overlapping chunks gives the samples of one whole pass (the receptive field is
 * covered), for both resblock kinds, chunks that do not divide the length, and a batch of two. */
BV_TEST(generator_chunked_inference_matches_whole) {
    for (int kind = 1; kind <= 2; kind++) {
        bv_ctx *ctx = ts->ctx;
        bv_params ps;
        bv_params_init(&ps);
        bv_generator_cfg cfg = tiny_cfg(kind, 4);
        cfg.upsample_initial_channel = 32;
        bv_generator *gen = bv_generator_new(&ps, "dec.", &cfg);
        tiny_params(ctx, gen, &ps);
        const int64_t T = 100;
        bv_tensor *x = bv_test_input(ctx, BV_SHAPE(2, 3, T), 1.0f), *gc = bv_test_input(ctx, BV_SHAPE(2, 4, 1), 1.0f);
        bv_no_grad_begin(ctx);
        bv_tensor *whole = bv_generator_forward(ctx, gen, x, gc);
        const int64_t chunks[] = {9, 64};
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            bv_tensor *part = bv_generator_forward_chunked(ctx, gen, x, gc, chunks[c]);
            double m = 1e-3, worst = 0;
            for (int64_t i = 0; i < whole->numel && part->numel == whole->numel; i++) {
                m = fabs(whole->data[i]) > m ? fabs(whole->data[i]) : m;
                double d = fabs((double)whole->data[i] - part->data[i]);
                worst = d > worst ? d : worst;
            }
            BV_CHECK(part->numel == whole->numel && worst <= 1e-5 * m,
                     "resblock %d, chunk %lld: max difference %g (scale %g; context %lld frames)", kind,
                     (long long)chunks[c], worst, m, (long long)bv_generator_receptive_frames(&cfg));
        }
        bv_no_grad_end(ctx);
        bv_generator_free(gen);
        bv_params_free(&ps);
    }
}
