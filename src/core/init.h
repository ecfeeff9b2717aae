/* init.h - parameter initialisers through the host: draws are made on the host in element order
 * (the order upstream's torch.nn.init consumes its generator) and written with bv_from_host, so they
 * work on any device and give the same values everywhere.
 */
#ifndef BV_INIT_H
#define BV_INIT_H

#include "rng.h"
#include "tensor.h"

/* t ~ U(-bound, bound): (float)((2u - 1) * bound) per element, u = bv_rng_uniform. */
void bv_init_uniform(bv_tensor *t, bv_rng *rng, double bound);
/* t ~ N(0, std^2): (float)(std * n) per element, n = bv_rng_normal. */
void bv_init_normal(bv_tensor *t, bv_rng *rng, double std);
/* weight_norm's g from v: g[o] = ||v[o, ...]|| (sum of squares in double, then sqrt), one per slice
 * of v's first dimension; g has v->shape[0] elements. */
void bv_init_weight_norm_g(bv_tensor *g, const bv_tensor *v);

#endif
