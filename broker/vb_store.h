/* vb_store: the broker's durable state in two LMDB environments.  The
 * data directory's holds what cannot be derived:
 *
 *   log    seq -> stored event bytes (integer keys, appended in order)
 *   meta   counters per type and source, the format version
 *   state  customer -> what the gate knows of them (vb_state)
 *   supp   customer -> a digest of what is blocked for them now, as last
 *          published (the list itself is in the suppression.changed event)
 *   timers (time, customer) -> when their decisions may change by the clock
 *
 * Its index directory's holds two indexes derived from the log, built
 * again from it whenever missing (vb_store_index.c):
 *
 *   ids    event id -> seq (idempotency, no time window)
 *   cust   customer -> seq, sorted duplicates (replay by customer)
 *
 * The latest entries of both wait in memory and are written in batches by
 * a thread of the store's own (vb_store_fold_start).
 *
 * An event, its id and its customer's state change are written in one
 * transaction; it is durable once vb_store_durable says so (below).
 * One thread appends; any number read concurrently.  The map grows on its
 * own: a user never sees MDB_MAP_FULL unless map_size_max is reached. */
#ifndef VB_STORE_H
#define VB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "vb_buf.h"
#include "vb_gate.h"
#include "vb_log.h"
#include "vb_state.h"
#include "vb_wire.h"

typedef struct vb_store vb_store;

typedef struct vb_store_opts {
	uint64_t map_size;     /* initial map size in bytes, capped at map_size_max */
	uint64_t map_size_max; /* the map never grows past this */
	vb_log *log;           /* borrowed; may be NULL */
	const vb_rules *rules; /* borrowed; NULL: the contract's defaults */
} vb_store_opts;

/* Open (creating if needed) the store in directory dir, taking an exclusive
 * lock on it so that a second broker cannot share it (VB_EBUSY).  Clears
 * stale reader slots left by crashed processes.  *out: vb_store_close. */
int vb_store_open(const char *dir, const vb_store_opts *opts, vb_store **out);
/* Accepts NULL. */
void vb_store_close(vb_store *st);

typedef enum {
	VB_ITEM_EVENT = 0,  /* store an event */
	VB_ITEM_RECORD,     /* decide, and store a message.sent when allowed */
} vb_item_kind;

/* One thing to do in an append.  Inputs are borrowed for the call. */
typedef struct vb_store_item {
	vb_item_kind kind;
	const char *customer;
	/* VB_ITEM_EVENT */
	const uint8_t *pb;    /* canonical encoding: no seq, no recorded */
	size_t pb_len;
	const char *id;
	const char *type;
	const char *source;
	vb_fact fact;         /* VB_FACT_NONE: the gate has no use for it */
	uint64_t id_hash;     /* id's, when id_hashed: vb_store_prepare */
	int id_hashed;
	uint32_t cust_hash;   /* customer's (vb_pending_hash), when id_hashed */
	/* VB_ITEM_RECORD: the message.sent gets id CAMPAIGN/CUSTOMER/CHANNEL/PURPOSE */
	int purpose, channel; /* indexes (vb_gate.h) */
	const char *campaign;
	/* out */
	uint64_t seq;         /* assigned, or the first seq of a duplicate;
	                       * RECORD: the message.sent's, 0 if blocked */
	int duplicate;
	size_t stored_off;    /* new events: the stored bytes in *stored */
	size_t stored_len;
	int allow;            /* RECORD: the decision ... */
	size_t reasons_off;   /* ... and its reasons, a JSON array in *aux */
	size_t reasons_len;
} vb_store_item;

/* Work on items that needs no transaction, done by the caller's thread
 * (any) so that the writer has less to do in its commits: the hash of
 * each event's id.  Optional: vb_store_append does what was not done. */
void vb_store_prepare(const vb_store *st, vb_store_item *items, size_t n);

/* Do items in order in one transaction; recorded is the broker's
 * timestamp for them and the "now" of RECORD decisions.  A repeated id
 * (stored before, or earlier in items) is marked duplicate and stores
 * nothing.  Every event stored -- items, recorded messages, and the
 * suppression.changed events their customers' new decisions cause -- is
 * appended to *stored as a varint length and the stored bytes, in seq
 * order.  RECORD reasons go to *aux (may be NULL without RECORD items).
 * On failure nothing is stored: VB_EFULL (disk or map full), VB_EIO. */
int vb_store_append(vb_store *st, vb_store_item *items, size_t n,
    const char *recorded, vb_buf *stored, vb_buf *aux);

/* Publish what changed by the clock alone (a cool-off or cap window that
 * ended) up to now_us: suppression.changed events, appended to *stored as
 * vb_store_append does.  Called by the writer thread. */
int vb_store_tick(vb_store *st, int64_t now_us, vb_buf *stored);

/* Fold every customer's state again from the log, in one transaction,
 * and publish any decision that changes.  *customers: states written;
 * *changed: how many differed from what was stored. */
int vb_store_rebuild(vb_store *st, int64_t now_us, vb_buf *stored,
    uint64_t *customers, uint64_t *events, uint64_t *changed);

/* One gate decision per customer for purpose and channel at at_us, in one
 * read transaction.  With from_log, or when the stored state holds facts
 * after at_us, the decision is folded from the customer's log up to at_us.
 * res[i].reasons_off/len locate a JSON array in *reasons, each followed
 * by a NUL (not counted in reasons_len). */
typedef struct vb_gate_result {
	int allow;
	size_t reasons_off, reasons_len;
} vb_gate_result;

int vb_store_decide(vb_store *st, const char *const *customers, size_t n,
    int purpose, int channel, int64_t at_us, int from_log, vb_gate_result *res,
    vb_buf *reasons);

/* A customer's state as JSON (*state_json) and the decision for every
 * purpose x channel (res[purpose * VB_NCHANNELS + channel]). */
int vb_store_customer(vb_store *st, const char *customer, int64_t at_us,
    int from_log, vb_buf *state_json, vb_gate_result res[VB_NPURPOSES * VB_NCHANNELS],
    vb_buf *reasons);

/* Called for each blocked (customer, purpose, channel); reasons is a JSON
 * array of reasons_len bytes.  Non-zero stops. */
typedef int (*vb_store_supp_cb)(void *arg, const char *customer, int purpose,
    int channel, const char *reasons, size_t reasons_len);

/* Walk the customers with something blocked, in key order after `after`
 * (NULL or "": from the start), deciding at now_us; at most limit
 * customers.  purpose / channel -1: any.  *next gets the last customer
 * visited (caller frees) or NULL when done. */
int vb_store_suppressions(vb_store *st, const char *after, size_t limit,
    int purpose, int channel, int64_t now_us, vb_store_supp_cb cb, void *arg,
    char **next);

/* The stored state bytes of customer into *out (tests, verification):
 * VB_ENOTFOUND if it has none. */
int vb_store_state_get(vb_store *st, const char *customer, vb_buf *out);

/* Free the reader slots of processes that died inside a read transaction
 * (a killed mdb_copy or mdb_stat): until then LMDB keeps every page freed
 * since their snapshot, and the file grows.  Logs S007 when it clears
 * any; *cleared (may be NULL) gets how many.  Any thread, any time. */
int vb_store_check_readers(vb_store *st, int *cleared);

/* The last seq stored (0 for an empty log). */
uint64_t vb_store_last_seq(vb_store *st);

/* Durability.  A commit returns once its pages are flushed, but the meta
 * page that makes it the current state reaches the disk with the next
 * commit's flush, or with vb_store_sync (LMDB's MDB_NOMETASYNC): under
 * load, one flush per commit instead of two.  Until then a crash of the
 * host could undo it, so nothing it stored may be acknowledged or shown
 * as stored.  Commits are numbered; vb_store_last_commit is the latest
 * (after vb_store_append, the one that did it), vb_store_durable says
 * whether commit c is on disk, vb_store_sync flushes so that every
 * commit is.  vb_store_last_commit is the writer thread's;
 * vb_store_durable and vb_store_sync any thread's, while the writer
 * commits (the writer's own flush of a batch's meta page can then run
 * beside its next transaction); vb_store_durable_seq is the last seq on
 * disk, the end of what replay and stats show (any thread). */
uint64_t vb_store_last_commit(vb_store *st);
int vb_store_durable(vb_store *st, uint64_t commit);
int vb_store_sync(vb_store *st);
uint64_t vb_store_durable_seq(vb_store *st);

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

/* Customer index entries and ids wait in memory (vb_pending.h) until the
 * store's folder thread writes them into the cust index and the ids
 * index, in key order, in transactions of a bounded size; readers and the
 * writer go on meanwhile.  The writer calls this between appends: when
 * enough entries have gathered (or the oldest has waited long enough) and
 * the last fold is done, it hands them to the folder, which writes them
 * once their events are durable.  A fold that fails is logged (S008,
 * S010) and tried again 10 s later; the entries stay in memory meanwhile.
 * When the folds fall behind (an index has gathered two folds' worth
 * while its last is under way) it waits for the fold, flushing the log
 * first if the fold waits for that: the bound on the tables' memory, and
 * the writer's backpressure.  Returns how many indexes were handed over
 * (0: nothing due). */
int vb_store_fold_start(vb_store *st);

/* Write every waiting entry into the indexes now, on the calling thread,
 * after flushing the log (vb_store_sync): the writer's thread, or none
 * running.  Each index's mark (cust_applied, ids_applied) then says the
 * last seq, even with nothing to write for it.  vb_store_close does it at
 * the end.  0 or a VB_E code (the entries then stay pending). */
int vb_store_fold(vb_store *st);

/* Wait until the folder has no fold under way or due (one that failed
 * and waits for its retry is not due). */
void vb_store_fold_wait(vb_store *st);

/* Entries waiting: the larger of the two indexes' counts. */
size_t vb_store_pending(vb_store *st);

/* Unmap the data files' pages from the process (MADV_DONTNEED): they stay
 * in the page cache, and reads fault them back in at the cost of a page
 * table entry.  Without it every page ever read counts in the broker's
 * RSS, which then grows with the log.  Nothing writes through the maps
 * (no MDB_WRITEMAP), so nothing is lost.  The writer thread. */
void vb_store_release_pages(vb_store *st);

/* vb_store_release_pages when more than 16 MiB of file pages are mapped
 * (/proc/self/statm).  The writer thread only, between commits.  (Not
 * after queries: gate batches read tens of MiB of pages each, and
 * faulting them in again after every trim made voicebus filter half
 * again as slow.) */
void vb_store_trim(vb_store *st);

/* Keep zeros written past LMDB's last page in the data file, so that
 * commits overwrite blocks instead of growing the file (vb_store_ahead.c).
 * The writer thread only, between commits. */
void vb_store_write_ahead(vb_store *st);

/* Write a compact, consistent copy of the store (an LMDB data.mdb) to path,
 * an absolute path that must not exist yet; created 0600 and fsynced.  The
 * copy holds at least the events up to *last_seq; *bytes is its size.  The
 * map cannot grow while it runs.  0, or a VB_E code with "path: what is
 * wrong" in err (and nothing left at path). */
int vb_store_backup(vb_store *st, const char *path, uint64_t *bytes,
    uint64_t *last_seq, char *err, size_t errlen);

#endif
