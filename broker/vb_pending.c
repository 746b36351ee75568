#include "vb_pending.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"

/* Most customers have one event pending: its seq lives in the slot, and
 * such a customer costs the writer no malloc of its own.  A slot is 32
 * bytes: the table is the bulk of this memory (some 100,000 customers
 * between two folds). */
typedef struct slot {
	char *customer;     /* NULL: free; else in the pool */
	uint32_t hash;      /* of customer: most probes end on it */
	uint32_t n, cap;    /* seqs held, room for them */
	union {
		uint64_t inl;   /* while cap == 1 */
		uint64_t *heap;
	} u;
} slot;

/* The customers' names, copied in blocks freed all at once by clear. */
typedef struct pool_block {
	struct pool_block *next;
	size_t used, size;
	char data[];
} pool_block;

#define POOL_BLOCK (64u << 10)

struct vb_pending {
	pthread_mutex_t mtx;
	slot *slots;
	size_t cap;         /* a power of two */
	size_t used;        /* slots holding a customer */
	size_t count;       /* seqs over all slots */
	pool_block *pool;   /* newest first */
};

static uint64_t *
slot_seqs(slot *s)
{
	return s->cap == 1 ? &s->u.inl : s->u.heap;
}

static char *
pool_strdup(vb_pending *p, const char *str)
{
	size_t n = strlen(str) + 1;
	pool_block *b = p->pool;
	if (b == NULL || n > b->size - b->used) {
		size_t size = n > POOL_BLOCK ? n : POOL_BLOCK;
		if ((b = malloc(sizeof(*b) + size)) == NULL)
			return NULL;
		b->used = 0;
		b->size = size;
		b->next = p->pool;
		p->pool = b;
	}
	char *d = b->data + b->used;
	memcpy(d, str, n);
	b->used += n;
	return d;
}

uint32_t
vb_pending_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* The slot of customer (whose hash is h), or the free slot where it would
 * go. */
static slot *
find(slot *slots, size_t cap, const char *customer, uint32_t h)
{
	for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1))
		if (slots[i].customer == NULL ||
		    (slots[i].hash == h && strcmp(slots[i].customer, customer) == 0))
			return &slots[i];
}

static int
grow(vb_pending *p)
{
	size_t cap = p->cap ? p->cap * 2 : 1024;
	slot *s = calloc(cap, sizeof(*s));
	if (s == NULL)
		return VB_ENOMEM;
	for (size_t i = 0; i < p->cap; i++)
		if (p->slots[i].customer)
			*find(s, cap, p->slots[i].customer, p->slots[i].hash) = p->slots[i];
	free(p->slots);
	p->slots = s;
	p->cap = cap;
	return VB_OK;
}

int
vb_pending_open(vb_pending **out)
{
	vb_pending *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return VB_ENOMEM;
	pthread_mutex_init(&p->mtx, NULL);
	*out = p;
	return VB_OK;
}

/* Empty the table.  It keeps its size for the next round of entries,
 * which is likely to need as much (growing it again would rehash every
 * entry, and hold the old table and the new at once), unless it is
 * over four times what this round needed, or free_table. */
static void
clear_locked(vb_pending *p, int free_table)
{
	for (size_t i = 0; i < p->cap; i++)
		if (p->slots[i].cap > 1)
			free(p->slots[i].u.heap);
	while (p->pool) {
		pool_block *next = p->pool->next;
		free(p->pool);
		p->pool = next;
	}
	if (free_table || (p->cap > 1024 && p->used * 16 < p->cap * 3)) {
		free(p->slots);
		p->slots = NULL;
		p->cap = 0;
	} else if (p->cap > 0) {
		memset(p->slots, 0, p->cap * sizeof(*p->slots));
	}
	p->used = p->count = 0;
}

void
vb_pending_close(vb_pending *p)
{
	if (p == NULL)
		return;
	clear_locked(p, 1);
	pthread_mutex_destroy(&p->mtx);
	free(p);
}

int
vb_pending_add(vb_pending *p, const char *customer, uint64_t seq)
{
	return vb_pending_add_h(p, customer, vb_pending_hash(customer), seq);
}

int
vb_pending_add_h(vb_pending *p, const char *customer, uint32_t h, uint64_t seq)
{
	slot *s;
	int rv = VB_ENOMEM, fresh;

	pthread_mutex_lock(&p->mtx);
	/* At most three quarters full: probes stay short (the stored hash
	 * spares a string compare on most of them). */
	if ((p->used + 1) * 4 > p->cap * 3 && grow(p) != 0)
		goto out;
	s = find(p->slots, p->cap, customer, h);
	if (s->customer == NULL) {
		if ((s->customer = pool_strdup(p, customer)) == NULL)
			goto out;
		s->hash = h;
		s->n = 0;
		s->cap = 1;
		p->used++;
	}
	fresh = s->n == 0;
	if (s->n == s->cap) {
		if (s->cap > UINT32_MAX / 2)
			goto out;
		uint32_t cap = s->cap * 2;
		uint64_t *q = malloc(cap * sizeof(*q));
		if (q == NULL)
			goto out;
		memcpy(q, slot_seqs(s), s->n * sizeof(*q));
		if (s->cap > 1)
			free(s->u.heap);
		s->u.heap = q;
		s->cap = cap;
	}
	slot_seqs(s)[s->n++] = seq;
	p->count++;
	rv = fresh;
out:
	pthread_mutex_unlock(&p->mtx);
	return rv;
}

void
vb_pending_prefetch(const vb_pending *p, uint32_t h)
{
	if (p->cap > 0)
		__builtin_prefetch(&p->slots[h & (p->cap - 1)], 1);
}

void
vb_pending_drop_after(vb_pending *p, uint64_t after)
{
	pthread_mutex_lock(&p->mtx);
	/* Emptied slots keep their customer: still "no entry" to add. */
	for (size_t i = 0; i < p->cap; i++) {
		slot *s = &p->slots[i];
		while (s->n > 0 && slot_seqs(s)[s->n - 1] > after) {
			s->n--;
			p->count--;
		}
	}
	pthread_mutex_unlock(&p->mtx);
}

int
vb_pending_get(vb_pending *p, const char *customer, uint64_t hi,
    uint64_t **seqs, size_t *n, size_t *cap)
{
	uint32_t h = vb_pending_hash(customer);
	int rv = VB_OK;
	pthread_mutex_lock(&p->mtx);
	if (p->cap > 0) {
		slot *s = find(p->slots, p->cap, customer, h);
		const uint64_t *have = slot_seqs(s);
		for (size_t i = 0; s->customer && i < s->n && have[i] <= hi; i++) {
			if (*n == *cap) {
				size_t c = *cap ? *cap * 2 : 16;
				uint64_t *q = realloc(*seqs, c * sizeof(*q));
				if (q == NULL) {
					rv = VB_ENOMEM;
					break;
				}
				*seqs = q;
				*cap = c;
			}
			(*seqs)[(*n)++] = have[i];
		}
	}
	pthread_mutex_unlock(&p->mtx);
	return rv;
}

size_t
vb_pending_count(vb_pending *p)
{
	size_t n;
	pthread_mutex_lock(&p->mtx);
	n = p->count;
	pthread_mutex_unlock(&p->mtx);
	return n;
}

/* Sorting: by eight bytes of each name after the prefix all of them
 * share, as one integer, then each run of equal integers by the next
 * eight bytes, and so on.  Ids counted up by their silo ("zd-000123",
 * ...) share long prefixes, and random ones differ at once: either way
 * integers decide every order, eight bytes at a time. */
typedef struct sort_ent {
	uint64_t key;
	slot *s;
	size_t cp;           /* where in the name the next key starts */
} sort_ent;

/* The radix sort's passes cost more than an insertion sort below this. */
#define SORT_SMALL 24

/* e's key: the eight bytes of its name at e->cp, big-endian, zeros past
 * the name's end (0 once it has ended: names hold no NUL); cp moves past
 * them. */
static void
next_key(sort_ent *e)
{
	const unsigned char *c = (const unsigned char *)e->s->customer + e->cp;
	uint64_t key = 0;
	int j = 0;
	for (; j < 8 && c[j]; j++)
		key = key << 8 | c[j];
	if (j > 0 && j < 8) /* short: pad with zeros (a shift of 64 is undefined) */
		key <<= 8 * (8 - j);
	e->key = key;
	e->cp += (size_t)j;
}

/* a by key: least-significant byte first, a pass per byte, none for a
 * byte all keys share; tmp holds k entries. */
static void
radix_by_key(sort_ent *a, sort_ent *tmp, size_t k)
{
	sort_ent *src = a, *dst = tmp;
	size_t count[256];

	for (unsigned shift = 0; shift < 64; shift += 8) {
		size_t pos = 0;
		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < k; i++)
			count[(src[i].key >> shift) & 0xff]++;
		if (count[(src[0].key >> shift) & 0xff] == k)
			continue;
		for (size_t b = 0; b < 256; b++) {
			size_t c = count[b];
			count[b] = pos;
			pos += c;
		}
		for (size_t i = 0; i < k; i++)
			dst[count[(src[i].key >> shift) & 0xff]++] = src[i];
		sort_ent *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, k * sizeof(*a));
}

/* a by name, its keys read: by key, then each run of equal keys by the
 * names' next keys.  Equal keys have read as far into their names, and
 * two names that end together are the same name, which a table holds
 * once: so every run is ordered by the time the names end. */
static void
sort_by_keys(sort_ent *a, sort_ent *tmp, size_t k)
{
	if (k < SORT_SMALL) {
		for (size_t i = 1; i < k; i++) {
			sort_ent e = a[i];
			size_t j = i;
			for (; j > 0 && a[j - 1].key > e.key; j--)
				a[j] = a[j - 1];
			a[j] = e;
		}
	} else {
		radix_by_key(a, tmp, k);
	}
	for (size_t i = 0, j; i < k; i = j) {
		for (j = i + 1; j < k && a[j].key == a[i].key; j++)
			;
		if (j - i < 2 || a[i].key == 0)
			continue;
		for (size_t m = i; m < j; m++)
			next_key(&a[m]);
		sort_by_keys(a + i, tmp, j - i);
	}
}

/* Against qsort's sixteen or so comparisons of entries scattered in
 * memory for 65,536 names, a few sequential passes: the sorts were a
 * third of a fold's instructions.  And ids of a silo tie on their first
 * eight bytes in runs of a thousand: sorting those by strcmp was a tenth
 * of a fold's (workload 3, callgrind). */
static int
sort_names(sort_ent *a, size_t k)
{
	sort_ent *tmp;

	if (k < 2)
		return VB_OK;
	if ((tmp = malloc(k * sizeof(*tmp))) == NULL)
		return VB_ENOMEM;
	sort_by_keys(a, tmp, k);
	free(tmp);
	return VB_OK;
}

int
vb_pending_each_sorted(vb_pending *p,
    int (*fn)(void *arg, const char *customer, const uint64_t *seqs, size_t n),
    void *arg)
{
	sort_ent *order;
	size_t k = 0, cp = SIZE_MAX;
	int rv = 0;

	/* Readers may look up meanwhile; only the writer, the caller, adds. */
	pthread_mutex_lock(&p->mtx);
	order = malloc((p->used ? p->used : 1) * sizeof(*order));
	for (size_t i = 0; order && i < p->cap; i++) {
		slot *s = &p->slots[i];
		if (s->customer == NULL || s->n == 0)
			continue;
		if (k == 0) {
			cp = strlen(s->customer);
		} else {
			const char *f = order[0].s->customer;
			size_t j = 0;
			while (j < cp && f[j] == s->customer[j])
				j++;
			cp = j;
		}
		order[k++].s = s;
	}
	pthread_mutex_unlock(&p->mtx);
	if (order == NULL)
		return VB_ENOMEM;
	for (size_t i = 0; i < k; i++) {
		order[i].cp = cp;
		next_key(&order[i]);
	}
	/* LMDB writes fewer pages when keys come in order. */
	if (sort_names(order, k) != 0) {
		free(order);
		return VB_ENOMEM;
	}
	for (size_t i = 0; i < k && rv == 0; i++)
		rv = fn(arg, order[i].s->customer, slot_seqs(order[i].s), order[i].s->n);
	free(order);
	return rv;
}

int
vb_pending_each_key(vb_pending *p, uint64_t hi,
    int (*fn)(void *arg, const char *customer), void *arg)
{
	int rv = 0;
	pthread_mutex_lock(&p->mtx);
	for (size_t i = 0; i < p->cap && rv == 0; i++) {
		slot *s = &p->slots[i];
		if (s->customer != NULL && s->n > 0 && slot_seqs(s)[0] <= hi)
			rv = fn(arg, s->customer);
	}
	pthread_mutex_unlock(&p->mtx);
	return rv;
}

int
vb_pending_first(vb_pending *p, const char *key, uint64_t *seq)
{
	return vb_pending_first_h(p, key, vb_pending_hash(key), seq);
}

int
vb_pending_first_h(vb_pending *p, const char *key, uint32_t h, uint64_t *seq)
{
	int found = 0;
	pthread_mutex_lock(&p->mtx);
	if (p->cap > 0) {
		slot *s = find(p->slots, p->cap, key, h);
		if (s->customer != NULL && s->n > 0) {
			*seq = slot_seqs(s)[0];
			found = 1;
		}
	}
	pthread_mutex_unlock(&p->mtx);
	return found;
}

void
vb_pending_clear(vb_pending *p)
{
	pthread_mutex_lock(&p->mtx);
	clear_locked(p, 0);
	pthread_mutex_unlock(&p->mtx);
}
