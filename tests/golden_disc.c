/* golden_disc.c - manifest discriminator tables -> width tables (see golden_disc.h). */
#include "golden_disc.h"

#include <stdio.h>
#include <string.h>

/* 2-d layers list [k, 1]-style pairs: the first entry is the one along time. */
static int first_int(const cJSON *v) { return cJSON_IsArray(v) ? cJSON_GetArrayItem(v, 0)->valueint : v->valueint; }

static bv_disc_layer layer_from_json(const cJSON *j) {
    const cJSON *g = cJSON_GetObjectItem(j, "groups");
    return (bv_disc_layer){first_int(cJSON_GetObjectItem(j, "cin")), first_int(cJSON_GetObjectItem(j, "cout")),
                           first_int(cJSON_GetObjectItem(j, "k")),   first_int(cJSON_GetObjectItem(j, "s")),
                           g ? g->valueint : 1,                      first_int(cJSON_GetObjectItem(j, "pad"))};
}

int bv_golden_disc_widths(const cJSON *table, const char *which, bv_disc_widths *w) {
    char key[64];
    snprintf(key, sizeof key, "Discriminator%s.convs", which);
    const cJSON *convs = cJSON_GetObjectItem(table, key), *c;
    snprintf(key, sizeof key, "Discriminator%s.conv_post", which);
    const cJSON *post = cJSON_GetObjectItem(table, key);
    memset(w, 0, sizeof *w);
    if (!cJSON_IsArray(convs) || cJSON_GetArraySize(convs) > BV_DISC_MAX_CONVS || !cJSON_IsObject(post)) return -1;
    cJSON_ArrayForEach(c, convs) w->convs[w->n_convs++] = layer_from_json(c);
    w->post = layer_from_json(post);
    return 0;
}

int bv_golden_mpd_layout(const cJSON *table, bv_mpd_layout *l) {
    memset(l, 0, sizeof *l);
    if (bv_golden_disc_widths(table, "S", &l->s) || bv_golden_disc_widths(table, "P", &l->p)) return -1;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(table, "periods")) {
        if (l->n_periods >= BV_MPD_MAX_DISCS - 1) break;
        l->periods[l->n_periods++] = p->valueint;
    }
    return l->n_periods > 0 ? 0 : -1;
}
