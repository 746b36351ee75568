/* Private to vb_store*.c: the store's layout and one write transaction's
 * working set, shared by the log (vb_store.c) and the gate's part of the
 * store (vb_store_gate.c). */
#ifndef VB_STORE_IMPL_H
#define VB_STORE_IMPL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "vb_pending.h"
#include "vb_siphash.h"
#include "vb_store.h"

struct vb_store {
	MDB_env *env;
	MDB_dbi dlog, ids, cust, meta, state, supp, timers;
	/* Readers hold it shared for the life of a read transaction; the map
	 * is resized only under it exclusively, because LMDB requires that no
	 * transaction be active in the process while it remaps. */
	pthread_rwlock_t maplock;
	_Atomic uint64_t last_seq;
	/* Commits are LMDB transaction ids.  The meta page of a commit is
	 * flushed by the next commit's data flush or by vb_store_sync
	 * (MDB_NOMETASYNC), so the last commit may not be durable yet:
	 * durable_txn and durable_seq say what is.  Written by the writer
	 * thread only. */
	_Atomic uint64_t last_txn, durable_txn;
	_Atomic uint64_t durable_seq;
	/* The cust index holds every event up to cust_applied; the later ones
	 * are in pend (vb_pending.h).  Changed only under maplock held
	 * exclusively, so a reader's snapshot and pend agree. */
	uint64_t cust_applied;
	vb_pending *pend;
	/* The ids index likewise: every id of the events up to ids_applied
	 * is in ids, the later ones in idpend (vb_store_ids.c).  The writer
	 * thread only. */
	uint64_t ids_applied;
	vb_pending *idpend;
	/* Keys the digests of the suppression lists in supp (vb_store_gate.c):
	 * random per store, kept in meta. */
	uint8_t supp_key[VB_SIPHASH_KEYSZ];
	uint64_t map_size_max;
	size_t page_size;        /* the system's, for madvise */
	size_t run_max;          /* the largest run of the log, in bytes */
	/* Where the data file is mapped, once found (vb_store_release_pages;
	 * the writer thread only, which is also the one that remaps). */
	int map_known;
	uintptr_t map_lo, map_hi;
	int lock_fd;
	/* Set once vb_store_open has finished: only then are pend and idpend
	 * whole, and may vb_store_close fold them. */
	int opened;
	char *dir;
	vb_log *log;
	vb_rules rules;
};

#define STORE_MAX_COUNTERS 64

/* A customer whose state this transaction changed. */
typedef struct touched {
	char *customer;
	vb_state st;
	char *cause;        /* the last event that changed it */
	int dirty;
} touched;

/* One write transaction. */
typedef struct store_txn {
	vb_store *st;
	MDB_txn *txn;
	uint64_t seq;            /* the last seq assigned */
	const char *recorded;
	int64_t recorded_us;
	vb_buf *stored;          /* varint length + bytes per stored event */
	/* The run of events not yet in the log (vb_store_log.c): seqs from
	 * run_seq, bytes [run_start, run_end) of stored. */
	uint64_t run_seq;
	size_t run_start, run_end, run_n;
	struct {
		char key[80];
		uint64_t delta;
	} cs[STORE_MAX_COUNTERS];
	size_t ncs;
	uint64_t customers;      /* new customers */
	touched **tc;            /* open-addressed by customer */
	size_t tc_cap, tc_n;
	touched **tc_list;       /* the same, in the order first touched */
	vb_buf scratch;
} store_txn;

/* ---- the log's records (vb_store_log.c) ---- */

/* One event of a log record, and the rest of its run. */
typedef struct store_rec {
	uint64_t seq;              /* of ev */
	MDB_val ev;                /* its bytes, in the map */
	const uint8_t *next, *end; /* the run's later events */
} store_rec;

/* r on the first event of record (k, v); MDB_CORRUPTED if malformed. */
int store_rec_open(store_rec *r, const MDB_val *k, const MDB_val *v);
/* r on the record's next event; MDB_NOTFOUND after its last. */
int store_rec_next(store_rec *r);
/* cur (on the log) and r on the first event with seq >= from;
 * MDB_NOTFOUND if none. */
int store_log_seek(MDB_cursor *cur, uint64_t from, store_rec *r);
/* r on the next event, the next record's first if need be. */
int store_log_next(MDB_cursor *cur, store_rec *r);
/* The event of seq, or MDB_NOTFOUND. */
int store_log_get(MDB_cursor *cur, uint64_t seq, MDB_val *ev);
/* The seq of the log's last event, 0 if it has none. */
int store_log_last(MDB_cursor *cur, uint64_t *seq);
size_t store_log_run_max(size_t page_size);
/* The event of seq, at stored offset at (its varint length) up to the end
 * of t->stored, joins the open run; a full run goes to the log first. */
int store_log_add(store_txn *t, uint64_t seq, size_t at);
/* Put the open run in the log: before the commit, and before anything
 * in the transaction reads the log. */
int store_log_flush(store_txn *t);

/* Append one event (canonical bytes, no seq) to the log and its indexes;
 * id NULL: not in the id index (the broker's own events).  *seq_out,
 * *off, *len: where it went (off/len locate the bytes in t->stored).
 * MDB_KEYEXIST when id was stored before: *seq_out is its seq, nothing was
 * written. */
int store_txn_put_event(store_txn *t, const uint8_t *pb, size_t pb_len,
    const char *id, const char *customer, const char *type, const char *source,
    uint64_t *seq_out, size_t *off, size_t *len);

/* ---- the id index (vb_store_ids.c) ---- */

#define META_IDS_APPLIED "ids_applied"

/* The seq id was stored under (in memory or in the tree), or MDB_NOTFOUND. */
int store_ids_find(store_txn *t, const char *id, uint64_t *seq);
/* id, new, stored as seq in t: into memory until the next fold.  A failed
 * transaction takes its ids back with vb_pending_drop_after. */
int store_ids_add(store_txn *t, const char *id, uint64_t seq);
/* At open: the id of the logged event pk (seq) back in memory if it is
 * not in the tree yet. */
struct vb_event_peek;
int store_ids_recover(vb_store *st, const struct vb_event_peek *pk, uint64_t seq);
/* Write the ids in memory (those of the events up to upto, the last seq)
 * into the tree, in id order, in transactions of a bounded size; then
 * ids_applied is upto.  An LMDB code; on failure the ids stay in memory,
 * and those already written are harmless (the same seq) when written
 * again.  An id the tree holds under another seq: MDB_CORRUPTED. */
int store_fold_ids(vb_store *st, uint64_t upto);
/* ---- the folds (vb_store_fold.c) ---- */

#define META_CUST_APPLIED "cust_applied"

/* Put one key's pending seqs into the index under cur: an LMDB code. */
typedef int (*store_fold_put)(MDB_cursor *cur, const char *key,
    const uint64_t *seqs, size_t n);
/* Write the entries waiting in p into dbi with put, in key order, in
 * transactions of a bounded number of entries (a key's in one), the last
 * also setting meta's mark to upto; with maplock shared.  An LMDB code;
 * on failure the entries stay in p, and those already written are
 * written again by the next fold (put must take that).  p is not
 * emptied: the caller does, under whatever lock its readers need. */
int store_fold_chunks(vb_store *st, vb_pending *p, MDB_dbi dbi, const char *mark,
    uint64_t upto, store_fold_put put);
/* Grow the map when what is used plus incoming bytes near its end (force:
 * grow it anyway, after MDB_MAP_FULL).  The writer, between
 * transactions.  A VB_E code; VB_EFULL at map_size_max. */
int store_maybe_grow(vb_store *st, size_t incoming, int force);

/* The customer half of vb_store_fold: the entries in memory into the cust
 * index, then cust_applied is the last seq (logged as S008 on failure).
 * A VB_E code. */
int store_fold_cust(vb_store *st);

/* Commit txn, a write transaction that leaves last_seq at seq, and
 * account for what its flush made durable.  Returns mdb_txn_commit's
 * code; the transaction is gone either way. */
int store_commit(vb_store *st, MDB_txn *txn, uint64_t seq);

/* Gate side (vb_store_gate.c). */
/* Fold customer's events up to at_us from the log, in t (whose open run
 * goes to the log first). */
int store_txn_fold(store_txn *t, const char *customer, int64_t at_us, vb_state *s);
touched *store_gate_touch(store_txn *t, const char *customer, int *err);
int store_gate_apply(store_txn *t, const char *customer, const vb_fact *f);
int store_gate_record(store_txn *t, vb_store_item *it, vb_buf *aux);
/* Write changed states, publish changed decisions: before the commit. */
int store_gate_finish(store_txn *t, const char *cause_override);
void store_txn_free_gate(store_txn *t);

/* Load a customer's state as of at_us: from the state index, or folded
 * from the log when from_log or the state has later facts.  *s: free with
 * vb_state_free. */
int store_load_state(vb_store *st, MDB_txn *txn, const char *customer,
    int64_t at_us, int from_log, uint64_t hi, vb_state *s);

/* Call fn for every seq of customer, ascending: the cust index's, then the
 * pending ones up to hi (a reader: the last seq committed before its
 * transaction began; the writer: UINT64_MAX).  Stops at fn's first
 * non-zero return and returns it. */
int store_customer_seqs(vb_store *st, MDB_txn *txn, const char *customer,
    uint64_t from, uint64_t hi, int (*fn)(void *arg, uint64_t seq), void *arg);

/* Run fn in a write transaction with the map-growing retry; on success the
 * transaction (with the gate's changes) is committed durably. */
typedef int (*store_txn_fn)(store_txn *t, void *arg);
int store_write(vb_store *st, size_t incoming, const char *recorded,
    vb_buf *stored, store_txn_fn fn, void *arg, const char *what);

#endif
