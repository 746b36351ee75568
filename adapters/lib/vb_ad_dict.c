#include "vb_ad_dict.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"

typedef struct slot {
	char *key; /* NULL: empty */
	size_t val;
	uint64_t hash;
} slot;

struct vb_ad_dict {
	slot *s;
	size_t cap; /* a power of two */
	size_t n;
};

/* FNV-1a: short keys, no adversary (our own input files). */
static uint64_t
hash(const char *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 0x100000001b3ULL;
	return h;
}

int
vb_ad_dict_new(vb_ad_dict **out)
{
	vb_ad_dict *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return VB_ENOMEM;
	d->cap = 64;
	if ((d->s = calloc(d->cap, sizeof(*d->s))) == NULL) {
		free(d);
		return VB_ENOMEM;
	}
	*out = d;
	return VB_OK;
}

void
vb_ad_dict_free(vb_ad_dict *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->cap; i++)
		free(d->s[i].key);
	free(d->s);
	free(d);
}

size_t
vb_ad_dict_count(const vb_ad_dict *d)
{
	return d->n;
}

static slot *
find(const slot *s, size_t cap, const char *key, uint64_t h)
{
	for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
		const slot *e = &s[i];
		if (e->key == NULL ||
		    (e->hash == h && strcmp(e->key, key) == 0))
			return (slot *)e;
	}
}

int
vb_ad_dict_get(const vb_ad_dict *d, const char *key, size_t *val)
{
	slot *e = find(d->s, d->cap, key, hash(key));
	if (e->key == NULL)
		return 0;
	*val = e->val;
	return 1;
}

static int
grow(vb_ad_dict *d)
{
	size_t cap = d->cap * 2;
	slot *s = calloc(cap, sizeof(*s));
	if (s == NULL)
		return VB_ENOMEM;
	for (size_t i = 0; i < d->cap; i++)
		if (d->s[i].key)
			*find(s, cap, d->s[i].key, d->s[i].hash) = d->s[i];
	free(d->s);
	d->s = s;
	d->cap = cap;
	return VB_OK;
}

int
vb_ad_dict_put(vb_ad_dict *d, const char *key, size_t val, size_t *old)
{
	uint64_t h = hash(key);
	slot *e = find(d->s, d->cap, key, h);
	if (e->key != NULL) {
		if (old)
			*old = e->val;
		return 0;
	}
	/* Keep the load under 1/2: probes stay short. */
	if ((d->n + 1) * 2 > d->cap) {
		if (grow(d) != 0)
			return VB_ENOMEM;
		e = find(d->s, d->cap, key, h);
	}
	if ((e->key = strdup(key)) == NULL)
		return VB_ENOMEM;
	e->val = val;
	e->hash = h;
	d->n++;
	return 1;
}
