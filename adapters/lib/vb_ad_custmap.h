/* vb_ad_custmap: the customer map, for silos that key customers their own
 * way.  A CSV file with a header line and two columns: the silo's id and
 * the customer id the bus uses, e.g.
 *
 *     zip,customer
 *     335XX,C-1001
 *
 * An id listed twice with different customers is an error; listed twice
 * with the same customer it is harmless. */
#ifndef VB_AD_CUSTMAP_H
#define VB_AD_CUSTMAP_H

#include <stddef.h>

typedef struct vb_ad_custmap vb_ad_custmap;

/* Load path.  *out: vb_ad_custmap_free.  On VB_EINVAL (or VB_EIO) err
 * holds "PATH:LINE: what is wrong" or "PATH: reason". */
int vb_ad_custmap_load(const char *path, vb_ad_custmap **out, char *err,
    size_t errlen);

/* The customer for a silo id, or NULL.  Owned by the map. */
const char *vb_ad_custmap_get(const vb_ad_custmap *m, const char *silo_id);

size_t vb_ad_custmap_count(const vb_ad_custmap *m);

/* Accepts NULL. */
void vb_ad_custmap_free(vb_ad_custmap *m);

#endif
