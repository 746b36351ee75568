/* vb_pending: the index entries stored events have not yet had written
 * into the store's B-trees, in memory: customer -> seqs for the `cust`
 * index, id -> seq for `ids` (one instance each; "customer" below is the
 * key either way).
 *
 * Writing (customer, seq) into a B-tree for every event dirties one page at
 * a random place per event: with customers spread over 100,000, that was
 * five sixths of what a batched ingest wrote to disk.  The event itself
 * already names its customer, so the entry can wait: the broker keeps the
 * latest entries here and writes them in one sorted pass every so many
 * events (vb_store_fold), where they share pages.  After a
 * crash the entries come back from the log (every event after the folded
 * seq), so nothing depends on this memory surviving.
 *
 * Thread-safe: the writer adds and removes, readers look up concurrently. */
#ifndef VB_PENDING_H
#define VB_PENDING_H

#include <stddef.h>
#include <stdint.h>

typedef struct vb_pending vb_pending;

/* *out: vb_pending_close. */
int vb_pending_open(vb_pending **out);
/* Accepts NULL. */
void vb_pending_close(vb_pending *p);

/* Add seq for customer (copied); seqs come in increasing order.  Returns
 * 1 if the customer had no entry here before, 0 if it had, or VB_ENOMEM. */
int vb_pending_add(vb_pending *p, const char *customer, uint64_t seq);

/* vb_pending_add and vb_pending_first with the key's hash given, for a
 * caller that has hashed the key already (the ids: SipHash, for their
 * filter).  An instance takes one hash for all its keys: either this h
 * or the one vb_pending_add computes, never both. */
int vb_pending_add_h(vb_pending *p, const char *key, uint32_t h, uint64_t seq);
int vb_pending_first_h(vb_pending *p, const char *key, uint32_t h, uint64_t *seq);

/* The hash vb_pending_add takes of a key, for a caller that hashes its
 * keys ahead (vb_pending_prefetch); either add then finds the same slot. */
uint32_t vb_pending_hash(const char *key);

/* Start loading the slot where a key of hash h is looked for: the table
 * is larger than the caches, and its probes are misses otherwise.  The
 * thread that adds only (it reads the table without the lock). */
void vb_pending_prefetch(const vb_pending *p, uint32_t h);

/* Forget every entry with a seq after `after` (an aborted transaction). */
void vb_pending_drop_after(vb_pending *p, uint64_t after);

/* Append customer's seqs up to hi (ascending) to the array *seqs (*n used,
 * *cap allocated; realloc'd as needed, the caller frees).  0 or VB_ENOMEM. */
int vb_pending_get(vb_pending *p, const char *customer, uint64_t hi,
    uint64_t **seqs, size_t *n, size_t *cap);

/* The first seq of customer: 1 and *seq if it has entries, else 0.  The
 * id index's lookup (one seq per id). */
int vb_pending_first(vb_pending *p, const char *customer, uint64_t *seq);

/* Entries held (seqs, over all customers). */
size_t vb_pending_count(vb_pending *p);

/* Call fn for every customer with entries, in byte order of the customer,
 * with its seqs ascending; stops at the first non-zero return and returns
 * it.  Nothing may be added meanwhile (the writer calls it). */
int vb_pending_each_sorted(vb_pending *p,
    int (*fn)(void *arg, const char *customer, const uint64_t *seqs, size_t n),
    void *arg);

/* Call fn for every customer with an entry at or below seq hi, in no
 * order, with p locked (fn must not use p: the writer's adds wait
 * meanwhile); stops at the first non-zero return and returns it.  Any
 * thread. */
int vb_pending_each_key(vb_pending *p, uint64_t hi,
    int (*fn)(void *arg, const char *customer), void *arg);

/* Forget every entry. */
void vb_pending_clear(vb_pending *p);

#endif
