/* vb_bloom: a scalable, blocked Bloom filter of 64-bit hashes. */
#include "vb_bloom.h"

#include <stdlib.h>
#include <string.h>

#include "vb_error.h"

/* A block is 512 bits, one cache line; a hash sets K of them, chosen by
 * its low 18 bits, and its bits from 18 up choose the block.  At LOAD
 * hashes a block (12 bits each) about 1 in 200 others is "maybe" (the
 * unit test checks under 1 in 100).  Each full stage adds that much: the
 * broker's first is 1,024 blocks, six stages hold a million hashes and
 * answer "maybe" for 2% of others, nine hold ten million for 4%.  (Stages
 * with more bits a hash, as the paper has, answered "maybe" less often
 * but took 8 MiB for a million hashes instead of 2-4.) */
#define BLOCK_WORDS 8
#define BLOCK_BYTES (BLOCK_WORDS * sizeof(uint64_t))
#define K 7
#define LOAD 42
/* Growth doubles a stage: 32 stages outgrow any memory. */
#define MAX_STAGES 32

typedef struct stage {
	uint64_t *w;
	uint64_t mask;   /* blocks - 1, blocks a power of two */
	size_t n, cap;   /* hashes added, and its load */
} stage;

struct vb_bloom {
	stage s[MAX_STAGES]; /* the newest last: it takes the adds */
	int ns;
	size_t bytes, max_bytes;
};

static int
stage_alloc(stage *s, size_t blocks)
{
	s->w = calloc(blocks, BLOCK_BYTES);
	if (s->w == NULL)
		return VB_ENOMEM;
	s->mask = blocks - 1;
	s->n = 0;
	s->cap = blocks * LOAD;
	return VB_OK;
}

static uint64_t *
block_of(const stage *s, uint64_t h)
{
	return s->w + ((h >> 18) & s->mask) * BLOCK_WORDS;
}

/* The K bits of h in its block: a + i*d mod 512 with d odd, all apart. */
static void
bits_of(uint64_t h, unsigned pos[K])
{
	unsigned a = (unsigned)h & 511, d = ((unsigned)(h >> 9) & 511) | 1;
	for (unsigned i = 0; i < K; i++)
		pos[i] = (a + i * d) & 511;
}

static int
stage_maybe(const stage *s, uint64_t h)
{
	const uint64_t *b = block_of(s, h);
	unsigned pos[K];
	bits_of(h, pos);
	for (unsigned i = 0; i < K; i++)
		if (!(b[pos[i] >> 6] & (1ull << (pos[i] & 63))))
			return 0;
	return 1;
}

static void
stage_add(stage *s, uint64_t h)
{
	uint64_t *b = block_of(s, h);
	unsigned pos[K];
	bits_of(h, pos);
	for (unsigned i = 0; i < K; i++)
		b[pos[i] >> 6] |= 1ull << (pos[i] & 63);
	s->n++;
}

int
vb_bloom_open(vb_bloom **out, size_t expect, size_t max_bytes)
{
	vb_bloom *b = calloc(1, sizeof(*b));
	size_t blocks = 1, most = max_bytes / BLOCK_BYTES;

	if (b == NULL)
		return VB_ENOMEM;
	while (blocks * LOAD < expect && blocks * 2 <= most)
		blocks *= 2;
	if (stage_alloc(&b->s[0], blocks) != VB_OK) {
		free(b);
		return VB_ENOMEM;
	}
	b->ns = 1;
	b->bytes = blocks * BLOCK_BYTES;
	b->max_bytes = max_bytes;
	*out = b;
	return VB_OK;
}

void
vb_bloom_close(vb_bloom *b)
{
	if (b == NULL)
		return;
	for (int i = 0; i < b->ns; i++)
		free(b->s[i].w);
	free(b);
}

void
vb_bloom_add(vb_bloom *b, uint64_t h)
{
	stage *top = &b->s[b->ns - 1];
	if (top->n >= top->cap && b->ns < MAX_STAGES) {
		size_t blocks = (size_t)(top->mask + 1) * 2;
		if (b->bytes + blocks * BLOCK_BYTES <= b->max_bytes &&
		    stage_alloc(&b->s[b->ns], blocks) == VB_OK) {
			b->bytes += blocks * BLOCK_BYTES;
			top = &b->s[b->ns++];
		}
	}
	stage_add(top, h);
}

int
vb_bloom_maybe(const vb_bloom *b, uint64_t h)
{
	for (int i = b->ns - 1; i >= 0; i--)
		if (stage_maybe(&b->s[i], h))
			return 1;
	return 0;
}

void
vb_bloom_prefetch(const vb_bloom *b, uint64_t h)
{
	for (int i = b->ns - 1; i >= 0; i--)
		__builtin_prefetch(block_of(&b->s[i], h), 1);
}

int
vb_bloom_merge(vb_bloom *b, vb_bloom *from)
{
	if (b->ns + from->ns > MAX_STAGES)
		return VB_ENOMEM;
	/* Before b's newest, which keeps taking the adds. */
	stage top = b->s[b->ns - 1];
	memcpy(&b->s[b->ns - 1], from->s, (size_t)from->ns * sizeof(stage));
	b->ns += from->ns;
	b->s[b->ns - 1] = top;
	b->bytes += from->bytes;
	from->ns = 0;
	vb_bloom_close(from);
	return VB_OK;
}

size_t
vb_bloom_bytes(const vb_bloom *b)
{
	return b->bytes;
}
