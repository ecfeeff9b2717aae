/* conv_ref.c - the naive convolution oracle (STYLE.md #10: the plain loop stays as the reference
 * the tuned oneDNN kernels of cpu/conv.c are tested against). Not used by the model.
 *
 * Convolution and transposed convolution are the same bipartite map between x and y elements:
 * every (x element, weight element, y element) triple that a kernel tap connects. One enumerator
 * visits those triples; forward and both gradients are then one line each, accumulated in double.
 */
#include "conv_ref.h"

#include <stdlib.h>

#include "../core/error.h"

typedef enum { REF_FWD, REF_BWD } ref_mode;

typedef struct {
    double *y, *gx, *gw;                      /* accumulators (NULL: not wanted) */
    const float *x, *w, *gy;
} ref_acc;

/* Flat indices of x, w, y for one connection. */
static void visit(ref_acc *a, ref_mode m, int64_t xi, int64_t wi, int64_t yi) {
    if (m == REF_FWD) {
        a->y[yi] += (double)a->w[wi] * a->x[xi];
        return;
    }
    if (a->gx) a->gx[xi] += (double)a->w[wi] * a->gy[yi];
    if (a->gw) a->gw[wi] += (double)a->x[xi] * a->gy[yi];
}

/* Enumerate every connection. For a conv the loop runs over output positions o and reads input
 * i = o*s - p + k*d; for a transposed conv over input positions i and writes o = i*s - p + k*d. */
static void enumerate(ref_acc *a, ref_mode m, const bv_conv_geom *g) {
    const int64_t ICg = g->IC / g->G, OCg = g->OC / g->G;
    const int64_t *src = g->transposed ? g->in : g->out;  /* the side the loop runs over */
    const int64_t *dst = g->transposed ? g->out : g->in;  /* the side computed from it */
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t gr = 0; gr < g->G; gr++)
            for (int64_t oc = 0; oc < OCg; oc++)
                for (int64_t ic = 0; ic < ICg; ic++)
                    for (int64_t k0 = 0; k0 < g->k[0]; k0++)
                        for (int64_t k1 = 0; k1 < g->k[1]; k1++)
                            for (int64_t a0 = 0; a0 < src[0]; a0++)
                                for (int64_t a1 = 0; a1 < src[1]; a1++) {
                                    int64_t b0 = a0 * g->stride[0] - g->pad[0] + k0 * g->dil[0];
                                    int64_t b1 = a1 * g->stride[1] - g->pad[1] + k1 * g->dil[1];
                                    if (b0 < 0 || b0 >= dst[0] || b1 < 0 || b1 >= dst[1]) continue;
                                    int64_t xc = n * g->IC + gr * ICg + ic, yc = n * g->OC + gr * OCg + oc;
                                    int64_t i0 = g->transposed ? a0 : b0, i1 = g->transposed ? a1 : b1;
                                    int64_t o0 = g->transposed ? b0 : a0, o1 = g->transposed ? b1 : a1;
                                    int64_t wc = g->transposed ? (gr * ICg + ic) * OCg + oc : (gr * OCg + oc) * ICg + ic;
                                    visit(a, m, (xc * g->in[0] + i0) * g->in[1] + i1,
                                          (wc * g->k[0] + k0) * g->k[1] + k1, (yc * g->out[0] + o0) * g->out[1] + o1);
                                }
}

static int64_t numel_x(const bv_conv_geom *g) { return g->N * g->IC * g->in[0] * g->in[1]; }
static int64_t numel_y(const bv_conv_geom *g) { return g->N * g->OC * g->out[0] * g->out[1]; }
static int64_t numel_w(const bv_conv_geom *g) { return g->OC * (g->IC / g->G) * g->k[0] * g->k[1]; }

static double *dcalloc(int64_t n) { return bv_xcalloc((size_t)(n ? n : 1), sizeof(double)); }

static void store(float *dst, const double *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

void bv_conv_ref_forward(float *y, const float *x, const float *w, const float *b, const bv_conv_geom *g) {
    int64_t ny = numel_y(g), plane = g->out[0] * g->out[1];
    ref_acc a = {.y = dcalloc(ny), .x = x, .w = w};
    enumerate(&a, REF_FWD, g);
    if (b && g->has_bias)
        for (int64_t i = 0; i < ny; i++) a.y[i] += b[(i / plane) % g->OC];
    store(y, a.y, ny);
    free(a.y);
}

void bv_conv_ref_backward(float *gx, float *gw, float *gb, const float *gy, const float *x, const float *w,
                          const bv_conv_geom *g) {
    ref_acc a = {.gx = gx ? dcalloc(numel_x(g)) : NULL, .gw = gw ? dcalloc(numel_w(g)) : NULL, .x = x, .w = w,
                 .gy = gy};
    if (gx || gw) enumerate(&a, REF_BWD, g);
    if (gx) store(gx, a.gx, numel_x(g));
    if (gw) store(gw, a.gw, numel_w(g));
    if (gb) {
        int64_t plane = g->out[0] * g->out[1];
        double *s = dcalloc(g->OC);
        for (int64_t i = 0; i < numel_y(g); i++) s[(i / plane) % g->OC] += gy[i];
        store(gb, s, g->OC);
        free(s);
    }
    free(a.gx);
    free(a.gw);
}
