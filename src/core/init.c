/* init.c - parameter initialisers through the host (see init.h). */
#include "init.h"

#include <math.h>
#include <stdlib.h>

#include "error.h"

static float *host_floats(int64_t n) { return bv_xmalloc(sizeof(float) * (size_t)(n ? n : 1)); }

void bv_init_uniform(bv_tensor *t, bv_rng *rng, double bound) {
    BV_ASSERT(t->dtype == BV_F32);
    float *h = host_floats(t->numel);
    for (int64_t i = 0; i < t->numel; i++) h[i] = (float)((2.0 * bv_rng_uniform(rng) - 1.0) * bound);
    bv_from_host(t, h);
    free(h);
}

void bv_init_normal(bv_tensor *t, bv_rng *rng, double std) {
    BV_ASSERT(t->dtype == BV_F32);
    float *h = host_floats(t->numel);
    for (int64_t i = 0; i < t->numel; i++) h[i] = (float)(std * bv_rng_normal(rng));
    bv_from_host(t, h);
    free(h);
}

void bv_init_weight_norm_g(bv_tensor *g, const bv_tensor *v) {
    BV_ASSERT(g->dtype == BV_F32 && v->dtype == BV_F32 && v->ndim >= 1 && g->numel == v->shape[0]);
    const int64_t rows = v->shape[0], per = rows ? v->numel / rows : 0;
    float *hv = bv_host_copy(v), *hg = host_floats(rows);
    for (int64_t o = 0; o < rows; o++) {
        double ss = 0;
        for (int64_t k = 0; k < per; k++) ss += (double)hv[o * per + k] * hv[o * per + k];
        hg[o] = (float)sqrt(ss);
    }
    bv_from_host(g, hg);
    free(hv);
    free(hg);
}
