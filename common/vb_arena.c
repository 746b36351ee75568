/* vb_arena: bump allocation, released all at once.  See vb_arena.h. */
#include "vb_arena.h"

#include <stdint.h>
#include <stdlib.h>

struct vb_arena_chunk {
	vb_arena_chunk *next;
	size_t size;        /* bytes of data */
	max_align_t data[]; /* aligned for anything */
};

/* The first chunk: a request of 100 small events decodes in about 60 KiB. */
#define FIRST_CHUNK (16u << 10)

void *
vb_arena_alloc(vb_arena *a, size_t n)
{
	vb_arena_chunk *c = a->chunks;
	size_t r;

	if (a->limit != 0 && n > a->limit - a->given) {
		a->over = 1;
		return NULL;
	}
	if (n > SIZE_MAX / 2)
		return NULL;
	/* Every block takes at least one unit, so each pointer is unique. */
	r = n ? (n + VB_ARENA_ALIGN - 1) & ~(size_t)(VB_ARENA_ALIGN - 1) : VB_ARENA_ALIGN;
	if (c == NULL || r > c->size - a->used) {
		/* Doubling: after a reset the newest chunk alone, kept, is
		 * about as big as all of them were. */
		size_t size = c ? c->size * 2 : FIRST_CHUNK;
		if (size < r)
			size = r;
		vb_arena_chunk *nc = malloc(sizeof(*nc) + size);
		if (nc == NULL)
			return NULL;
		nc->size = size;
		nc->next = c;
		a->chunks = c = nc;
		a->used = 0;
	}
	void *p = (char *)c->data + a->used;
	a->used += r;
	a->given += n;
	return p;
}

static void
free_chain(vb_arena_chunk *c)
{
	while (c) {
		vb_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
}

void
vb_arena_reset(vb_arena *a)
{
	vb_arena_chunk *c = a->chunks;
	if (c != NULL) {
		free_chain(c->next);
		c->next = NULL;
		if (c->size > (a->keep ? a->keep : VB_ARENA_KEEP_MAX)) {
			free(c);
			a->chunks = NULL;
		}
	}
	a->used = 0;
	a->given = 0;
	a->over = 0;
}

void
vb_arena_free(vb_arena *a)
{
	free_chain(a->chunks);
	a->chunks = NULL;
	a->used = 0;
	a->given = 0;
	a->limit = 0;
	a->over = 0;
}

void
vb_arena_mark_here(const vb_arena *a, vb_arena_mark *m)
{
	m->chunk = a->chunks;
	m->used = a->used;
	m->given = a->given;
}

void
vb_arena_rollback(vb_arena *a, const vb_arena_mark *m)
{
	while (a->chunks != m->chunk) {
		vb_arena_chunk *next = a->chunks->next;
		free(a->chunks);
		a->chunks = next;
	}
	a->used = m->used;
	a->given = m->given;
	a->over = 0;
}
