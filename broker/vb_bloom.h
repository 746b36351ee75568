/* vb_bloom: a set of 64-bit hashes that answers "no" or "maybe": never
 * "no" for a hash added, "maybe" for about one other in two hundred while
 * it holds no more than it was sized for.  The writer asks it before it
 * looks an event id up in the `ids` B-tree (vb_store_ids.c): most ids are
 * new, and a "no" saves the lookup, a random leaf of a tree that can be
 * far larger than memory.
 *
 * It grows without rehashing what it holds: when the newest stage is at
 * its load, a stage twice its size is added and takes the new hashes, and
 * a hash is "maybe" when any stage says so (Almeida et al., "Scalable
 * Bloom Filters", 2007).  Stages stop being added at max_bytes; past
 * that the last one fills up and answers "maybe" more often, which costs
 * lookups, never a wrong "no".  Each stage is blocked: a hash's bits all
 * lie in one 64-byte block, one cache line (Putze et al., 2007).
 *
 * The hashes must be uniformly spread (a keyed SipHash); the filter's
 * bits come straight from them.  Not thread-safe: one owner. */
#ifndef VB_BLOOM_H
#define VB_BLOOM_H

#include <stddef.h>
#include <stdint.h>

typedef struct vb_bloom vb_bloom;

/* *out: vb_bloom_close.  Its first stage is sized for expect hashes, at
 * most max_bytes; later stages keep the whole within max_bytes (at least
 * one block).  0 or VB_ENOMEM. */
int vb_bloom_open(vb_bloom **out, size_t expect, size_t max_bytes);
/* Accepts NULL. */
void vb_bloom_close(vb_bloom *b);

/* Add h.  When a new stage cannot be allocated the last one takes it. */
void vb_bloom_add(vb_bloom *b, uint64_t h);

/* 0 if h was never added; 1 if it may have been. */
int vb_bloom_maybe(const vb_bloom *b, uint64_t h);

/* Start loading the blocks vb_bloom_maybe(b, h) and vb_bloom_add(b, h)
 * will read, a cache line per stage, for a caller that knows its next
 * hashes: the filter is far larger than the caches, and each block read
 * at random is a miss. */
void vb_bloom_prefetch(const vb_bloom *b, uint64_t h);

/* Move from's stages into b, which answers "maybe" for every hash of
 * either afterwards; from is closed.  New hashes still go to b's newest,
 * and b's max_bytes now covers from's stages too.  0, or VB_ENOMEM (too
 * many stages) with both unchanged. */
int vb_bloom_merge(vb_bloom *b, vb_bloom *from);

/* Bytes of bits held, over all stages. */
size_t vb_bloom_bytes(const vb_bloom *b);

#endif
