/* The folds: customer index entries and event ids wait in memory
 * (vb_pending.h) and are written into their indexes, cust and ids, every
 * so many events, in key order, where entries that fall on the same leaf
 * share its copy.  Each index has a mark in the index environment's meta
 * (cust_applied, ids_applied): every entry of the events up to it is in
 * the index; the later ones are in memory, and come back from the log
 * after a crash (vb_store_index.c).
 *
 * The indexes live in an LMDB environment of their own so that a fold
 * never holds the log's write lock: the folder thread writes them while
 * the writer goes on committing events (a fold on the writer thread had
 * cost workload 3 a third of its throughput).  The writer swaps each
 * index's table of new entries for an empty one between its commits
 * (vb_store_fold_start); the folder waits until the events of the swapped
 * table are durable in the log, then writes it.  An index never runs
 * ahead of the durable log, so a crash cannot leave it naming events that
 * the log lost (vb_store_index.c checks anyway). */
#include "vb_store_impl.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vb_error.h"
#include "vb_time.h"

/* Entries written per transaction of a fold (a key's always in one).
 * LMDB keeps as many page buffers as its largest write transaction
 * dirtied, for the life of the process: a fold of 65,536 customer
 * entries in one transaction held some 20 MiB of them, and one of 65,536
 * ids in no order could dirty a leaf each, 256 MiB.  Each transaction
 * costs a flush of the index file, which the writer's flushes wait
 * behind: 1,024 made workload 3 with 8 publishers 2-17% slower than
 * 4,096 (docs/benchmarks.md). */
#define FOLD_CHUNK 4096
/* The leaves a fold reads through the map stay in the broker's RSS until
 * let go: every so many entries, also within a transaction (its dirty
 * pages are its own buffers, not the map's).  A fold of ids in no order
 * into a grown tree reads a leaf per entry, and a read maps up to 64 KiB
 * (the kernel's fault-around): every 1,024 such entries took workload
 * 3r's peak RSS on a grown log to 78 MiB, every 256 to 62. */
#define FOLD_RELEASE 256
/* A fold of an index is due when its entries in memory reach its
 * fold_events (vb_store_index.c), or when the oldest has waited this
 * long, when traffic is light. */
#define FOLD_AFTER_US (10 * 1000000LL)
/* After a failed fold the folder tries again this much later, not at
 * once: at map_size_max a fold's transaction may not fit while the
 * writer's small commits still do, and every attempt logs S008/S010.
 * The entries wait in memory meanwhile, which is harmless. */
#define FOLD_RETRY_US (10 * 1000000LL)
/* The entries an index may gather while its last fold is under way, in
 * folds' worth (fold_events): at that many the writer waits for the fold
 * (hold_for_folds).  Without a bound, memory grew as long as the folds
 * fell behind: on a grown log of ids in no order each fold of ids
 * reads and writes a leaf per id, and the tables took the broker's
 * anonymous memory from 30 to 100 MiB in 30 s of workload 3r. */
#define FOLD_HOLD 2

static void
run_cursors_close(store_fold_run *f)
{
	if (f->cur)
		mdb_cursor_close(f->cur);
	if (f->rcur)
		mdb_cursor_close(f->rcur);
	f->cur = f->rcur = NULL;
}

static int
run_begin(store_fold_run *f)
{
	store_write_ahead(f->st->xenv, &f->st->xahead);
	int rv = mdb_txn_begin(f->st->xenv, NULL, 0, &f->txn);
	if (rv != 0)
		return rv;
	if ((rv = mdb_cursor_open(f->txn, f->x->dbi, &f->cur)) != 0 ||
	    (f->x == &f->st->ix[IX_CUST] &&
	        (rv = mdb_cursor_open(f->txn, f->st->xruns, &f->rcur)) != 0)) {
		run_cursors_close(f);
		mdb_txn_abort(f->txn);
		f->txn = NULL;
	}
	f->in_txn = 0;
	f->fresh = 0;
	return rv;
}

/* Add the transaction's new keys to the index's count, in it. */
static int
run_count(store_fold_run *f)
{
	uint64_t c;
	int rv;
	if (f->x->keys == NULL || f->fresh == 0)
		return 0;
	if ((rv = store_meta_u64(f->txn, f->st->xmeta, f->x->keys, 0, &c)) != 0)
		return rv;
	return store_meta_put_u64(f->txn, f->st->xmeta, f->x->keys, c + f->fresh);
}

/* Commit the transaction in hand; upto != 0: with the mark at upto. */
static int
run_commit(store_fold_run *f, uint64_t upto)
{
	int rv = 0;

	run_cursors_close(f);
	if ((rv = run_count(f)) != 0 ||
	    (upto != 0 && (rv = store_meta_put_u64(f->txn, f->st->xmeta, f->x->mark,
	        upto)) != 0)) {
		mdb_txn_abort(f->txn);
		f->txn = NULL;
		return rv;
	}
	rv = mdb_txn_commit(f->txn);
	f->txn = NULL;
	return rv;
}

/* Let go of the index map's pages: otherwise most of the index stays in
 * the broker's RSS after a few folds (workload 3: 140 MiB of it), or a
 * fold's worth of leaves, and the chunks' size would set the peak.
 * Without xmaplock: the map moves only when the one folding grows it. */
static void
run_release(store_fold_run *f)
{
	store_map_release(f->st, f->st->xenv, &f->st->xmap);
	f->since_release = 0;
}

static int
run_one(void *arg, const char *key, const uint64_t *seqs, size_t n)
{
	store_fold_run *f = arg;
	int rv;
	if (n == 0)
		return 0;
	if (f->in_txn >= FOLD_CHUNK &&
	    ((rv = run_commit(f, 0)) != 0 || (rv = run_begin(f)) != 0))
		return rv;
	if (f->since_release >= FOLD_RELEASE)
		run_release(f);
	f->in_txn += n;
	f->since_release += n;
	return f->x->put(f, key, seqs, n);
}

/* Write x->old into x's tree, in key order, in transactions of a bounded
 * number of entries (a key's in one), the first also recording upto and
 * the event there (store_index_fold_at), the last setting the mark to
 * upto.  An LMDB code; on failure the entries stay in old, and those
 * already written are written again by the next attempt (put takes that).
 * Without xmaplock: only the one folding writes or remaps the index
 * environment, so no remap can meet this transaction. */
static int
fold_chunks(vb_store *st, store_index *x, uint64_t upto, uint64_t sum)
{
	store_fold_run f = { st, x, NULL, NULL, NULL, upto, 0, 0, 0 };
	int rv;

	if ((rv = run_begin(&f)) != 0)
		return rv;
	if ((rv = store_index_fold_at(st, f.txn, upto, sum)) == 0) {
		rv = vb_pending_each_sorted(x->old, run_one, &f);
		if (rv == VB_ENOMEM)
			rv = ENOMEM;
	}
	if (rv == 0)
		rv = run_commit(&f, upto);
	else if (f.txn != NULL) {
		run_cursors_close(&f);
		mdb_txn_abort(f.txn);
	}
	run_release(&f);
	return rv;
}

/* Move cust's runs into its tree when due, or all of them: a VB_E code,
 * logged.  The one folding only. */
static int
merge_runs(vb_store *st, int all)
{
	int rv;
	for (int attempt = 0;; attempt++) {
		rv = store_cust_merge(st, all);
		if (rv != MDB_MAP_FULL || attempt == 3 ||
		    store_maybe_grow(st, st->xenv, (size_t)FOLD_CHUNK * 4096, 1) != 0)
			break;
	}
	if (rv == 0)
		return VB_OK;
	vb_log_error(st->log, "S008", "moving the customer index's runs into its tree: %s",
	    mdb_strerror(rv));
	return vb_err_from_mdb(rv);
}

/* Write x->old (the entries of the events up to x->old_upto, durable)
 * into x's tree, growing the map when it is full; then x->applied is
 * old_upto and old is done: still there, for readers whose snapshot of
 * the tree predates the fold, until the writer empties it between two of
 * its transactions (empty_done).  Readers and the writer go on meanwhile:
 * between two transactions an entry may be in the tree and still in old,
 * which store_customer_seqs and store_ids_find allow for.  The one
 * folding (fold_busy set) only.  A VB_E code, logged; on failure old
 * stays as it was. */
static int
fold_old(vb_store *st, store_index *x)
{
	size_t n = vb_pending_count(x->old);
	uint64_t upto = x->old_upto, sum = 0;
	int rv;

	if ((rv = store_maybe_grow(st, st->xenv, n * x->bytes_each, 0)) != VB_OK)
		return rv; /* logged */
	rv = store_index_sum(st, upto, &sum);
	for (int attempt = 0; rv == 0; attempt++) {
		rv = fold_chunks(st, x, upto, sum);
		if (rv != MDB_MAP_FULL || attempt == 3 ||
		    store_maybe_grow(st, st->xenv, n * x->bytes_each, 1) != 0)
			break;
	}
	if (rv != 0) {
		vb_log_error(st->log, x->code, "writing %zu %s: %s", n, x->what,
		    mdb_strerror(rv));
		return vb_err_from_mdb(rv);
	}
	pthread_mutex_lock(&st->fmtx);
	x->applied = upto;
	x->old_done = 1;
	pthread_mutex_unlock(&st->fmtx);
	/* The fold is done whatever the merge does: a merge that fails
	 * (logged) is tried again after the next fold. */
	if (x == &st->ix[IX_CUST])
		(void)merge_runs(st, 0);
	/* Give back the heap a fold freed (its sort arrays, LMDB's lists),
	 * which malloc would otherwise keep on the folder's arena: since
	 * cust has runs, workload 5's peak RSS was 65-68 MiB without this,
	 * 61-62 with it, as before runs (docs/benchmarks.md).  A few folds
	 * a second at most. */
	malloc_trim(0);
	return VB_OK;
}

/* Empty x->old, folded: the writer between its transactions (its lookups
 * read old within a transaction whose snapshot may predate the fold), or
 * the one folding when no writer runs.  fmtx held. */
static void
empty_done_locked(vb_store *st, store_index *x)
{
	pthread_mutex_lock(&st->pmtx);
	vb_pending_clear(x->old);
	pthread_mutex_unlock(&st->pmtx);
	x->old_upto = 0;
	x->old_done = 0;
}

/* x's new entries become the ones to fold, up to upto: with fmtx held and
 * x->old empty.  Nothing waiting may still leave the mark behind (the
 * broker's own events have no id, and the open reads the log from the
 * mark on): a fold of nothing moves just the mark. */
static int
swap_locked(vb_store *st, store_index *x, uint64_t upto, int64_t now)
{
	if (x->old_upto != 0 || upto <= x->applied)
		return 0;
	pthread_mutex_lock(&st->pmtx);
	vb_pending *t = x->old;
	x->old = x->add;
	x->add = t;
	pthread_mutex_unlock(&st->pmtx);
	x->old_upto = upto;
	x->last_start = now;
	return 1;
}

/* Wait until the folder has nothing under way, and keep it so: fmtx held. */
static void
hold_locked(vb_store *st)
{
	while (st->fold_busy)
		pthread_cond_wait(&st->fcond, &st->fmtx);
	st->fold_busy = 1;
}

/* Let the folder go on; after a failure (rv), not before its retry. */
static void
release(vb_store *st, int rv)
{
	pthread_mutex_lock(&st->fmtx);
	st->fold_busy = 0;
	if (rv != VB_OK && rv != VB_ECLOSED)
		st->fold_retry_us = vb_time_mono_us() + FOLD_RETRY_US;
	pthread_cond_broadcast(&st->fcond);
	pthread_mutex_unlock(&st->fmtx);
}

/* fold_old, then empty old at once: the caller is the writer's thread,
 * or no writer runs. */
static int
fold_and_empty(vb_store *st, store_index *x)
{
	int rv = fold_old(st, x);
	if (rv == VB_OK) {
		pthread_mutex_lock(&st->fmtx);
		empty_done_locked(st, x);
		pthread_mutex_unlock(&st->fmtx);
	}
	return rv;
}

int
store_fold_now(vb_store *st, unsigned mask, uint64_t upto)
{
	int rv = VB_OK;

	pthread_mutex_lock(&st->fmtx);
	hold_locked(st);
	pthread_mutex_unlock(&st->fmtx);
	for (int i = 0; i < IX_N && rv == VB_OK; i++) {
		store_index *x = &st->ix[i];
		if (!(mask & (1u << i)))
			continue;
		/* What the folder had taken (or failed to write) first, then
		 * the newer entries. */
		pthread_mutex_lock(&st->fmtx);
		if (x->old_done)
			empty_done_locked(st, x);
		uint64_t taken = x->old_upto;
		pthread_mutex_unlock(&st->fmtx);
		if (taken != 0 && (rv = fold_and_empty(st, x)) != VB_OK)
			break;
		pthread_mutex_lock(&st->fmtx);
		int swapped = swap_locked(st, x, upto, vb_time_mono_us());
		pthread_mutex_unlock(&st->fmtx);
		if (swapped)
			rv = fold_and_empty(st, x);
	}
	/* Wanted by the rebuild, for its count of events, but not needed:
	 * a failure is logged, and the rebuild goes on. */
	if (rv == VB_OK && (mask & STORE_FOLD_MERGE))
		(void)merge_runs(st, 1);
	release(st, rv);
	return rv;
}

/* Sleep for us microseconds. */
static void
nap(int64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

/* The folder's round: every index with entries taken, once their events
 * are durable.  0, or the first failure's VB_E code. */
static int
fold_taken(vb_store *st)
{
	int rv = VB_OK;
	for (int i = 0; i < IX_N; i++) {
		store_index *x = &st->ix[i];
		pthread_mutex_lock(&st->fmtx);
		uint64_t upto = x->old_done ? 0 : x->old_upto;
		pthread_mutex_unlock(&st->fmtx);
		if (upto == 0)
			continue;
		/* The writer's next commit (or its flush when idle) makes them
		 * durable, within a commit's time; vb_store_close flushes
		 * before it stops the folder. */
		while (atomic_load(&st->durable_seq) < upto) {
			if (atomic_load(&st->fold_stop))
				return VB_ECLOSED;
			nap(200);
		}
		int r = fold_old(st, x);
		if (rv == VB_OK)
			rv = r;
	}
	return rv;
}

/* Whether an index has entries taken and not yet folded. */
static int
any_taken_locked(vb_store *st)
{
	for (int i = 0; i < IX_N; i++)
		if (st->ix[i].old_upto != 0 && !st->ix[i].old_done)
			return 1;
	return 0;
}

static void *
folder_main(void *arg)
{
	vb_store *st = arg;

	pthread_setname_np(pthread_self(), "vb-fold");
	/* First the tree's ids for the writer's filter, with fold_busy set
	 * (store_folder_start) so that no fold remaps the index meanwhile. */
	store_ids_scan(st);
	release(st, VB_OK);
	pthread_mutex_lock(&st->fmtx);
	while (!atomic_load(&st->fold_stop)) {
		int64_t now = vb_time_mono_us();
		if (st->fold_busy || !any_taken_locked(st) || now < st->fold_retry_us) {
			/* fcond waits by CLOCK_MONOTONIC (vb_store_open), the
			 * clock of fold_retry_us. */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&st->fcond, &st->fmtx, &ts);
			continue;
		}
		st->fold_busy = 1;
		pthread_mutex_unlock(&st->fmtx);
		release(st, fold_taken(st));
		pthread_mutex_lock(&st->fmtx);
	}
	pthread_mutex_unlock(&st->fmtx);
	return NULL;
}

int
store_folder_start(vb_store *st)
{
	atomic_store(&st->fold_stop, 0);
	pthread_mutex_lock(&st->fmtx);
	hold_locked(st); /* for the scan; folder_main lets go */
	pthread_mutex_unlock(&st->fmtx);
	if (pthread_create(&st->folder, NULL, folder_main, st) != 0) {
		release(st, VB_OK);
		return VB_ENOMEM;
	}
	st->folder_running = 1;
	return VB_OK;
}

void
store_folder_stop(vb_store *st)
{
	if (!st->folder_running)
		return;
	pthread_mutex_lock(&st->fmtx);
	atomic_store(&st->fold_stop, 1);
	pthread_cond_broadcast(&st->fcond);
	pthread_mutex_unlock(&st->fmtx);
	pthread_join(st->folder, NULL);
	st->folder_running = 0;
}

/* Whether the writer must wait for x's fold under way: its new entries
 * reach FOLD_HOLD folds' worth, and the fold is taken, not done, and not
 * waiting for a retry after a failure (those entries stay in memory: the
 * failure is logged, and holding the writer would stop the broker).  Nor
 * while the folder reads the tree's ids at start (store_ids_scan), which
 * on a large tree takes seconds, and no fold runs meanwhile. */
static int
must_hold_locked(vb_store *st, store_index *x, int64_t now)
{
	return x->old_upto != 0 && !x->old_done && now >= st->fold_retry_us &&
	    st->folder_running && !atomic_load(&st->fold_stop) &&
	    atomic_load(&st->idf.scan_done) &&
	    vb_pending_count(x->add) >= FOLD_HOLD * x->fold_events;
}

/* The highest mark of a fold taken and not done, or 0; fmtx held. */
static uint64_t
taken_upto_locked(vb_store *st)
{
	uint64_t upto = 0;
	for (int i = 0; i < IX_N; i++)
		if (st->ix[i].old_upto > upto && !st->ix[i].old_done)
			upto = st->ix[i].old_upto;
	return upto;
}

/* Wait, fmtx held, until no index must hold the writer.  The folder
 * folds the indexes in turn, each once its events are durable, which the
 * writer's next commit would have made them: flush first when the log is
 * not durable up to every fold taken. */
static void
hold_for_folds_locked(vb_store *st)
{
	for (int i = 0; i < IX_N; i++) {
		store_index *x = &st->ix[i];
		int64_t now;
		while (must_hold_locked(st, x, now = vb_time_mono_us())) {
			if (atomic_load(&st->durable_seq) < taken_upto_locked(st)) {
				pthread_mutex_unlock(&st->fmtx);
				int rv = vb_store_sync(st);
				pthread_mutex_lock(&st->fmtx);
				if (rv != VB_OK)
					return; /* logged (S009); the writer fails too */
			}
			struct timespec ts;
			vb_time_deadline(CLOCK_MONOTONIC, 100 * 1000, &ts);
			pthread_cond_timedwait(&st->fcond, &st->fmtx, &ts);
		}
	}
}

int
vb_store_fold_start(vb_store *st)
{
	uint64_t upto = atomic_load(&st->last_seq);
	unsigned due = 0, idle = 0;
	int started = 0;

	pthread_mutex_lock(&st->fmtx);
	hold_for_folds_locked(st);
	int64_t now = vb_time_mono_us();
	for (int i = 0; i < IX_N; i++) {
		store_index *x = &st->ix[i];
		size_t n = vb_pending_count(x->add);
		/* The writer empties what the folder has written: between its
		 * transactions, none of its lookups can miss an entry. */
		if (x->old_done)
			empty_done_locked(st, x);
		if (x->old_upto != 0)
			continue; /* under way, or failed */
		if (n == 0) {
			x->last_start = now;
			idle |= 1u << i;
		} else if (n >= x->fold_events || now - x->last_start >= FOLD_AFTER_US) {
			due |= 1u << i;
		}
	}
	/* The due ones; and once one is, an index with nothing waiting (ids,
	 * behind the broker's own events) still moves its mark. */
	for (int i = 0; i < IX_N && due; i++)
		if ((due | idle) & (1u << i))
			started += swap_locked(st, &st->ix[i], upto, now);
	if (started)
		pthread_cond_broadcast(&st->fcond);
	pthread_mutex_unlock(&st->fmtx);
	return started;
}

int
vb_store_fold(vb_store *st)
{
	int rv = vb_store_sync(st);
	if (rv != VB_OK)
		return rv;
	return store_fold_now(st, (1u << IX_CUST) | (1u << IX_IDS),
	    atomic_load(&st->last_seq));
}

void
vb_store_fold_wait(vb_store *st)
{
	pthread_mutex_lock(&st->fmtx);
	while (st->fold_busy || (any_taken_locked(st) &&
	    vb_time_mono_us() >= st->fold_retry_us && st->folder_running))
		pthread_cond_wait(&st->fcond, &st->fmtx);
	pthread_mutex_unlock(&st->fmtx);
}

size_t
vb_store_pending(vb_store *st)
{
	size_t most = 0;
	for (int i = 0; i < IX_N; i++) {
		pthread_mutex_lock(&st->fmtx);
		int done = st->ix[i].old_done;
		pthread_mutex_unlock(&st->fmtx);
		pthread_mutex_lock(&st->pmtx);
		size_t n = vb_pending_count(st->ix[i].add) +
		    (done ? 0 : vb_pending_count(st->ix[i].old));
		pthread_mutex_unlock(&st->pmtx);
		if (n > most)
			most = n;
	}
	return most;
}
