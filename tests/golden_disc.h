/* golden_disc.h - the reduced-width discriminator layer tables the golden cases list in their manifest
 * config ({"DiscriminatorS.convs": [{cin, cout, k, s, groups, pad}, ...], "DiscriminatorS.conv_post",
 * the same for P, "periods"}), read into the width tables the model code takes. Shared by the B-case,
 * train-step and checkpoint tests. */
#ifndef BV_GOLDEN_DISC_H
#define BV_GOLDEN_DISC_H

#include <cjson/cJSON.h>

#include "../src/model/discriminators.h"
#include "../src/train/train_step.h"

/* which: "S" or "P". 0 on success, -1 when the table is missing or deeper than BV_DISC_MAX_CONVS. */
int bv_golden_disc_widths(const cJSON *table, const char *which, bv_disc_widths *w);
/* Both tables and the periods (F01's config.net_d). 0 on success, -1 when any part is missing. */
int bv_golden_mpd_layout(const cJSON *table, bv_mpd_layout *l);

#endif
