/* vb_store: the broker's durable state in one LMDB environment.
 *
 *   log    seq -> stored event bytes (integer keys, appended in order)
 *   ids    event id -> seq (idempotency, no time window)
 *   cust   customer -> seq, sorted duplicates (replay by customer)
 *   meta   counters per type and source, the format version
 *
 * An event and all its index entries are written in one transaction, and
 * vb_store_append returns only once that transaction is durable (fsync).
 * One thread appends; any number read concurrently.  The map grows on its
 * own: a user never sees MDB_MAP_FULL unless map_size_max is reached. */
#ifndef VB_STORE_H
#define VB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "vb_buf.h"
#include "vb_log.h"
#include "vb_wire.h"

typedef struct vb_store vb_store;

typedef struct vb_store_opts {
	uint64_t map_size;     /* initial map size in bytes */
	uint64_t map_size_max; /* the map never grows past this */
	vb_log *log;           /* borrowed; may be NULL */
} vb_store_opts;

/* Open (creating if needed) the store in directory dir, taking an exclusive
 * lock on it so that a second broker cannot share it (VB_EBUSY).  Clears
 * stale reader slots left by crashed processes.  *out: vb_store_close. */
int vb_store_open(const char *dir, const vb_store_opts *opts, vb_store **out);
/* Accepts NULL. */
void vb_store_close(vb_store *st);

/* One event to append.  Inputs are borrowed for the call. */
typedef struct vb_store_item {
	const uint8_t *pb;    /* canonical encoding: no seq, no recorded */
	size_t pb_len;
	const char *id;
	const char *customer;
	const char *type;
	const char *source;
	/* out */
	uint64_t seq;         /* assigned, or the first seq of a duplicate */
	int duplicate;
	size_t stored_off;    /* new events: the stored bytes in *stored */
	size_t stored_len;
} vb_store_item;

/* Append items in order in one durable transaction; recorded is the
 * broker's timestamp for them.  A repeated id (stored before, or earlier in
 * items) is marked duplicate and stores nothing.  The bytes stored for each
 * new event (pb followed by seq and recorded) are appended to *stored.
 * On failure nothing is stored: VB_EFULL (disk or map full), VB_EIO. */
int vb_store_append(vb_store *st, vb_store_item *items, size_t n,
    const char *recorded, vb_buf *stored);

/* The last seq stored (0 for an empty log). */
uint64_t vb_store_last_seq(vb_store *st);

typedef struct vb_store_filter {
	uint64_t from_seq, to_seq;   /* to_seq 0: no limit */
	int64_t since_us, until_us;  /* applied when has_since / has_until */
	int has_since, has_until;
	const char *customer;        /* NULL or "": any */
	const char *type_prefix;     /* NULL or "": any */
} vb_store_filter;

/* Called for each match; p is valid only during the call.  A non-zero
 * return stops the page before that event and is vb_store_replay's return. */
typedef int (*vb_store_replay_cb)(void *arg, uint64_t seq, const uint8_t *p,
    size_t len);

/* One page of replay in seq order: at most limit events and about max_bytes,
 * examining at most scan_max records so a page never holds the store for
 * long.  *next_seq is where the following page starts; *done is set when
 * nothing after *next_seq can match. */
int vb_store_replay(vb_store *st, const vb_store_filter *f, size_t limit,
    size_t max_bytes, size_t scan_max, vb_store_replay_cb cb, void *arg,
    uint64_t *next_seq, int *done, uint64_t *last_seq);

/* Fill *out with counts and sizes.  Names in out->types / out->sources are
 * allocated: release with vb_store_stats_free. */
int vb_store_stats(vb_store *st, vb_stats *out);
void vb_store_stats_free(vb_stats *s);

#endif
