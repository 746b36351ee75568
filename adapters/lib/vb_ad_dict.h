/* vb_ad_dict: a string -> index hash table (open addressing), for the
 * lookups an import does per row: customer maps, orders being grouped. */
#ifndef VB_AD_DICT_H
#define VB_AD_DICT_H

#include <stddef.h>

typedef struct vb_ad_dict vb_ad_dict;

/* *out: vb_ad_dict_free.  0 or VB_ENOMEM. */
int vb_ad_dict_new(vb_ad_dict **out);

/* Find key; 1 with *val set, or 0. */
int vb_ad_dict_get(const vb_ad_dict *d, const char *key, size_t *val);

/* Add key (copied) with val unless it is there.  Returns 1 if added, 0 if
 * it was there (*old, may be NULL, gets its value; nothing changes), or
 * VB_ENOMEM. */
int vb_ad_dict_put(vb_ad_dict *d, const char *key, size_t val, size_t *old);

size_t vb_ad_dict_count(const vb_ad_dict *d);

/* Accepts NULL. */
void vb_ad_dict_free(vb_ad_dict *d);

#endif
