/* Private to vb_store*.c: the store's layout and one write transaction's
 * working set, shared by the log (vb_store.c) and the gate's part of the
 * store (vb_store_gate.c). */
#ifndef VB_STORE_IMPL_H
#define VB_STORE_IMPL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "vb_bloom.h"
#include "vb_pending.h"
#include "vb_siphash.h"
#include "vb_store.h"

/* The derived indexes, in an LMDB environment of their own (DIR/index,
 * vb_store_index.c): cust (customer -> seqs, vb_store_cust.c) and ids
 * (event id -> seq, vb_store_ids.c). */
enum { IX_CUST, IX_IDS, IX_N };

typedef struct store_index store_index;

/* One fold's transaction in hand (vb_store_fold.c), for an index's put. */
typedef struct store_fold_run {
	vb_store *st;
	store_index *x;
	MDB_txn *txn;
	MDB_cursor *cur;         /* on the index's tree */
	MDB_cursor *rcur;        /* cust: on its runs */
	uint64_t upto;           /* the fold's: the events up to it */
	size_t in_txn;           /* entries put in this transaction */
	size_t since_release;
	uint64_t fresh;          /* keys new to the tree in this transaction */
} store_fold_run;

/* Put one key's pending seqs (n >= 1) into the index, in f's transaction:
 * an LMDB code.  Counts in f->fresh a key new to the index. */
typedef int (*store_fold_put)(store_fold_run *f, const char *key,
    const uint64_t *seqs, size_t n);

struct store_index {
	MDB_dbi dbi;
	const char *mark;        /* its key in the index environment's meta */
	const char *keys;        /* ... and its count of keys, or NULL */
	const char *code, *what; /* for the log when a fold fails */
	size_t bytes_each;       /* about, per entry, for growing the map */
	size_t fold_events;      /* entries in memory that make a fold due */
	store_fold_put put;
	/* The tree holds every entry of the events up to applied.  The later
	 * ones are in memory (vb_pending.h): the writer adds to add; old holds
	 * those up to old_upto while the folder writes them into the tree
	 * (old_upto 0: none taken), and after, until the writer empties it
	 * (old_done).  The writer swaps the two, and empties old, between
	 * its transactions, so that its own lookups never miss an entry;
	 * readers copy what they need of both before they read the tree
	 * (store_customer_seqs).  The pointers change under pmtx; old_upto,
	 * old_done and applied under fmtx. */
	vb_pending *add, *old;
	uint64_t old_upto;
	int old_done;
	uint64_t applied;
	int64_t last_start;      /* vb_time_mono_us() of the last swap */
};

/* Where an environment's data file is mapped, once found: under mtx
 * with its map lock (maplock, xmaplock) held shared, or by the one that
 * remaps it, under that lock held exclusively or, for the index's, by the
 * one folding (a remap forgets it). */
typedef struct store_map {
	pthread_mutex_t mtx;
	int known;
	uintptr_t lo, hi;
} store_map;

/* How far an environment's data file is written past LMDB's last page,
 * and when to try again after a failed write (vb_store_ahead.c). */
typedef struct store_ahead {
	uint64_t end;
	int64_t retry_us;
} store_ahead;

struct vb_store {
	MDB_env *env;            /* DIR: the log and the gate's state */
	MDB_dbi dlog, meta, state, supp, timers;
	/* DIR/index: the derived indexes.  Only the one folding (fold_busy)
	 * writes it or grows its map, so its write transactions go without a
	 * lock; its read transactions hold xmaplock shared, as the log's hold
	 * maplock (a backup holding maplock for minutes must not hold the
	 * folds).  A thread takes maplock before xmaplock. */
	MDB_env *xenv;
	pthread_rwlock_t xmaplock;
	MDB_dbi xmeta;
	MDB_dbi xruns;           /* cust's runs (vb_store_cust.c) */
	store_index ix[IX_N];
	/* The writer's filter of every id in ids and in the tables
	 * (vb_store_ids.c).  all, whole and tried are the writer's: until
	 * whole (all has the tree's ids too) a "no" from it is not final.
	 * The folder puts the tree's in scan, then sets scan_done. */
	struct {
		vb_bloom *all;
		int whole, tried;
		vb_bloom *scan;
		_Atomic int scan_done;
		uint64_t tree_gets;  /* lookups it did not spare (tests) */
	} idf;
	/* Readers hold it shared for the life of their read transactions;
	 * a map is resized only under it exclusively, because LMDB requires
	 * that no transaction be active in the process while it remaps. */
	pthread_rwlock_t maplock;
	_Atomic uint64_t last_seq;
	/* Commits are LMDB transaction ids.  The meta page of a commit is
	 * flushed by the next commit's data flush or by vb_store_sync
	 * (MDB_NOMETASYNC), so the last commit may not be durable yet:
	 * durable_txn and durable_seq say what is.  last_* are the writer
	 * thread's; durable_* only rise (durable_advance), from the writer's
	 * commits and from vb_store_sync on any thread. */
	_Atomic uint64_t last_txn, durable_txn;
	_Atomic uint64_t durable_seq;
	/* vb_store_sync flushes through a descriptor of its own, under
	 * sync_mtx.  Linux reports a failed write-back once to each open
	 * file: sharing LMDB's, the writer's commit and the answering
	 * thread's flush could each take the error that was the other's,
	 * and the one left with a success would call durable what is not.
	 * After a failed flush the store is broken: nothing more is called
	 * durable, and nothing more is written (S009). */
	int sync_fd;
	pthread_mutex_t sync_mtx;
	_Atomic int broken;
	/* The folder thread (vb_store_fold.c) writes the old tables into the
	 * index environment once their events are durable. */
	pthread_t folder;
	int folder_running;
	pthread_mutex_t fmtx;
	pthread_cond_t fcond;    /* a fold to do, stop, or the folder idle */
	pthread_mutex_t pmtx;    /* the indexes' table pointers (store_index) */
	int fold_busy;           /* a fold under way (the folder's or a caller's) */
	_Atomic int fold_stop;
	int64_t fold_retry_us;   /* after a failed fold: not before this */
	/* Keys the digests of the suppression lists in supp (vb_store_gate.c):
	 * random per store, kept in meta; the index environment keeps a copy
	 * to say which store it belongs to. */
	uint8_t supp_key[VB_SIPHASH_KEYSZ];
	uint64_t map_size, map_size_max;
	size_t page_size;        /* the system's, for madvise */
	size_t run_max;          /* the largest run of the log, in bytes */
	/* Where the data files are mapped (store_map_release). */
	store_map map, xmap;
	int lock_fd;
	/* Where the written parts of the data files end (vb_store_ahead.c):
	 * the log's, the writer thread's; the index's, the one folding's. */
	store_ahead ahead, xahead;
	/* Set once vb_store_open has finished: only then are the tables
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
	touched **tc;            /* open-addressed by customer */
	size_t tc_cap, tc_n;
	touched **tc_list;       /* the same, in the order first touched */
	MDB_txn *xtxn;           /* a read of the index environment */
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
 * id NULL: not in the id index (the broker's own events); id_hash its
 * store_ids_hash and cust_hash the customer's vb_pending_hash when known
 * (vb_store_prepare), or NULL.  *seq_out,
 * *off, *len: where it went (off/len locate the bytes in t->stored).
 * MDB_KEYEXIST when id was stored before: *seq_out is its seq, nothing was
 * written. */
int store_txn_put_event(store_txn *t, const uint8_t *pb, size_t pb_len,
    const char *id, const uint64_t *id_hash, const char *customer,
    const uint32_t *cust_hash, const char *type, const char *source,
    uint64_t *seq_out, size_t *off, size_t *len);

/* ---- the id index (vb_store_ids.c) ---- */

#define META_IDS_APPLIED "ids_applied"

/* The writer's filter of ids, empty (store_index_init); and freed. */
int store_ids_init(vb_store *st);
void store_ids_free(vb_store *st);
/* The folder, before its first fold: every id of the tree into a filter
 * the writer takes over (st->idf).  Logged when it fails (S014): the
 * writer then looks every id up in the tree. */
void store_ids_scan(vb_store *st);
/* id's hash, for the two below: the filter's, and (its low half) the
 * ids' tables in memory, so that the writer hashes an id once, not four
 * times. */
uint64_t store_ids_hash(const vb_store *st, const char *id);
/* The seq id (hash h) was stored under (in memory or in the tree), or
 * MDB_NOTFOUND. */
int store_ids_find(store_txn *t, const char *id, uint64_t h, uint64_t *seq);
/* id (hash h), new, stored as seq in t: into memory until the next fold.
 * A failed transaction takes its ids back with vb_pending_drop_after
 * (the filter keeps them: a "maybe" costs only a lookup). */
int store_ids_add(store_txn *t, const char *id, uint64_t h, uint64_t seq);

/* Start loading what store_ids_find and store_ids_add will read for the
 * id of hash h: its filter blocks, its slot among the ids waiting. */
void store_ids_prefetch(vb_store *st, uint64_t h);

/* At open: the id of the logged event pk (seq) back in memory if it is
 * not in the tree yet. */
struct vb_event_peek;
int store_ids_recover(vb_store *st, const struct vb_event_peek *pk, uint64_t seq);
/* One id into the tree (n: its seqs, the first the one it was stored
 * under); an id there under another seq is MDB_CORRUPTED. */
int store_ids_put(store_fold_run *f, const char *id, const uint64_t *seqs, size_t n);

/* ---- the index environment (vb_store_index.c) ---- */

#define META_CUST_APPLIED "cust_applied"

/* The indexes' descriptions and empty tables; their tables and the
 * index environment closed (mdb_env_close does not flush: flush first). */
int store_index_init(vb_store *st);
void store_index_close(vb_store *st);
/* Open DIR/index, check that it belongs to this store and is not ahead of
 * its log (else empty it, to be built again), and put the entries of the
 * events after its marks back in memory, folding them on the way every
 * so many events.  After the main environment is open and durable.  A
 * VB_E code, logged. */
int store_index_open(vb_store *st);
/* In the index environment's txn: the folds have gone (or are going) up
 * to seq upto, whose event in the log hashes to sum (store_index_sum).
 * The open rebuilds an index whose upto the log does not reach or holds
 * another event at: one of another history of the same store. */
int store_index_fold_at(vb_store *st, MDB_txn *txn, uint64_t upto, uint64_t sum);
/* Customers with a durable event in the log: cust's, and those of the
 * entries in memory up to the durable seq that cust lacks; a lookup each.
 * Any thread.  An LMDB code. */
int store_index_count_customers(vb_store *st, uint64_t *out);
/* *sum: the keyed hash of the log's event seq.  An LMDB code. */
int store_index_sum(vb_store *st, uint64_t seq, uint64_t *sum);
/* meta key: its uint64 value in *out, or when there is none, *out = dflt,
 * written.  A value of another size is MDB_CORRUPTED. */
int store_meta_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t dflt,
    uint64_t *out);
/* meta key = value (8 bytes): an LMDB code. */
int store_meta_put_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t value);

/* ---- the folds (vb_store_fold.c) ---- */

/* Start the folder thread; stop it (a fold under way finishes first). */
int store_folder_start(vb_store *st);
void store_folder_stop(vb_store *st);
/* Fold, on the calling thread, the entries of the indexes in mask (1 <<
 * IX_CUST, ...) of the events up to upto, which must be durable; any
 * fold the folder has under way finishes first.  A VB_E code, logged. */
int store_fold_now(vb_store *st, unsigned mask, uint64_t upto);
/* In store_fold_now's mask: then move all of cust's runs into its tree. */
#define STORE_FOLD_MERGE (1u << IX_N)

/* ---- the customer index (vb_store_cust.c) ---- */

/* The put of cust's folds: a customer new to cust goes into its tree,
 * the others' seqs into the fold's run. */
int store_cust_put(store_fold_run *f, const char *customer, const uint64_t *seqs,
    size_t n);
/* Move the runs' entries into cust's tree once there are CUST_RUNS_MAX
 * runs, or any (all).  The one folding only.  An LMDB code. */
int store_cust_merge(vb_store *st, int all);
/* Call fn for each seq of customer in cust (tree, then runs) from from
 * on, ascending, up to hi; *last: the last seq called with, updated.
 * Stops at fn's first non-zero return and returns it; 0 at the end. */
int store_cust_seqs(vb_store *st, MDB_txn *xtxn, const char *customer,
    uint64_t from, uint64_t hi, int (*fn)(void *arg, uint64_t seq), void *arg,
    uint64_t *last);

/* The bytes of env's data file that LMDB uses, up to its last page; *info
 * as mdb_env_info fills it. */
uint64_t store_env_used(MDB_env *env, MDB_envinfo *info);

/* Grow env's map when what is used plus incoming bytes near its end
 * (force: grow it anyway, after MDB_MAP_FULL).  Between transactions of
 * env: the writer's for st->env, the folder's for st->xenv.  A VB_E code;
 * VB_EFULL at map_size_max. */
int store_maybe_grow(vb_store *st, MDB_env *env, size_t incoming, int force);

/* Keep env's data file written ahead of LMDB's last page (a.end); the
 * environment's one writer only, between its transactions. */
void store_write_ahead(MDB_env *env, store_ahead *a);

/* Unmap env's data file (m: where it is) from the process
 * (MADV_DONTNEED): the pages stay in the page cache.  With env's map lock
 * held, or the one folding for the index's. */
void store_map_release(vb_store *st, MDB_env *env, store_map *m);

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
 * pending ones, up to hi (a reader: the last seq committed before its
 * transaction began; the writer: UINT64_MAX).  xtxn: the writer's read of
 * the index environment; NULL for a reader: it copies the pending seqs
 * first, then reads the tree in a transaction of its own, begun after (an
 * entry gone from memory meanwhile is in that tree).  Stops at fn's first non-zero return and returns it. */
int store_customer_seqs(vb_store *st, MDB_txn *xtxn, const char *customer,
    uint64_t from, uint64_t hi, int (*fn)(void *arg, uint64_t seq), void *arg);

/* Run fn in a write transaction with the map-growing retry; on success the
 * transaction (with the gate's changes) is committed durably. */
typedef int (*store_txn_fn)(store_txn *t, void *arg);
int store_write(vb_store *st, size_t incoming, const char *recorded,
    vb_buf *stored, store_txn_fn fn, void *arg, const char *what);

#endif
