/* The folds: customer index entries and event ids wait in memory
 * (vb_pending.h) and are written into their indexes, cust and ids, every
 * so many events, in key order, where entries that fall on the same leaf
 * share its copy.  Each index has a mark in meta (cust_applied,
 * ids_applied): every entry of the events up to it is in the index; the
 * later ones are in memory, and come back from the log after a crash
 * (vb_store.c: pending_recover).  The writer thread only. */
#include "vb_store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"

/* Entries written per transaction of a fold (a key's always in one).
 * LMDB keeps as many page buffers as its largest write transaction
 * dirtied, for the life of the process: a fold of 65,536 customer
 * entries in one transaction held some 20 MiB of them, and one of 65,536
 * ids in no order could dirty a leaf each, 256 MiB.  Each transaction
 * costs a flush: 1,024 ids a transaction made workload 3 some 7% slower
 * than 4,096, and 4,096 for both folds costs it 10-15% against one
 * transaction a fold (docs/benchmarks.md, 6 December): the price of
 * keeping its peak RSS under 64 MiB. */
#define FOLD_CHUNK 4096

typedef struct fold_run {
	vb_store *st;
	MDB_dbi dbi;
	const char *mark;
	store_fold_put put;
	MDB_txn *txn;
	MDB_cursor *cur;
	size_t in_txn;
} fold_run;

static int
run_begin(fold_run *f)
{
	int rv = mdb_txn_begin(f->st->env, NULL, 0, &f->txn);
	if (rv != 0)
		return rv;
	if ((rv = mdb_cursor_open(f->txn, f->dbi, &f->cur)) != 0) {
		mdb_txn_abort(f->txn);
		f->txn = NULL;
	}
	f->in_txn = 0;
	return rv;
}

/* Commit the transaction in hand; upto != 0: with the mark at upto. */
static int
run_commit(fold_run *f, uint64_t upto)
{
	MDB_val k = { strlen(f->mark), (void *)f->mark };
	MDB_val v = { sizeof(upto), &upto };
	int rv = 0;

	mdb_cursor_close(f->cur);
	f->cur = NULL;
	if (upto != 0 && (rv = mdb_put(f->txn, f->st->meta, &k, &v, 0)) != 0) {
		mdb_txn_abort(f->txn);
		f->txn = NULL;
		return rv;
	}
	rv = store_commit(f->st, f->txn, atomic_load(&f->st->last_seq));
	f->txn = NULL;
	return rv;
}

static int
run_one(void *arg, const char *key, const uint64_t *seqs, size_t n)
{
	fold_run *f = arg;
	int rv;
	if (n == 0)
		return 0;
	if (f->in_txn >= FOLD_CHUNK &&
	    ((rv = run_commit(f, 0)) != 0 || (rv = run_begin(f)) != 0))
		return rv;
	f->in_txn += n;
	return f->put(f->cur, key, seqs, n);
}

int
store_fold_chunks(vb_store *st, vb_pending *p, MDB_dbi dbi, const char *mark,
    uint64_t upto, store_fold_put put)
{
	fold_run f = { st, dbi, mark, put, NULL, NULL, 0 };
	int rv;

	/* Shared: it only keeps the map where it is, as for any write. */
	pthread_rwlock_rdlock(&st->maplock);
	if ((rv = run_begin(&f)) == 0) {
		rv = vb_pending_each_sorted(p, run_one, &f);
		if (rv == VB_ENOMEM)
			rv = ENOMEM;
		if (rv == 0)
			rv = run_commit(&f, upto);
		else if (f.txn != NULL) {
			if (f.cur)
				mdb_cursor_close(f.cur);
			mdb_txn_abort(f.txn);
		}
	}
	pthread_rwlock_unlock(&st->maplock);
	return rv;
}

/* One customer's entries into cust. */
static int
put_customer(MDB_cursor *cur, const char *customer, const uint64_t *seqs, size_t n)
{
	MDB_val k = { strlen(customer), (void *)customer }, v;
	int rv = 0;
	for (size_t i = 0; i < n && rv == 0; i++) {
		size_t s = (size_t)seqs[i];
		v.mv_size = sizeof(s);
		v.mv_data = &s;
		/* Already there: written by a fold that failed or crashed
		 * half-way, before cust_applied moved. */
		if ((rv = mdb_cursor_put(cur, &k, &v, 0)) == MDB_KEYEXIST)
			rv = 0;
	}
	return rv;
}

/* One attempt at the customer fold.  Readers go on meanwhile: between two
 * transactions a customer's entries may be in the index and still in
 * st->pend, which store_customer_seqs allows for.  Only taking them out of
 * st->pend is exclusive, so that no reader whose snapshot predates the
 * last transaction finds them in neither. */
static int
fold_customers(vb_store *st, uint64_t upto)
{
	int rv = store_fold_chunks(st, st->pend, st->cust, META_CUST_APPLIED, upto,
	    put_customer);
	if (rv != 0)
		return rv;
	pthread_rwlock_wrlock(&st->maplock);
	st->cust_applied = upto;
	vb_pending_clear(st->pend);
	pthread_rwlock_unlock(&st->maplock);
	return 0;
}

/* Write the entries waiting in p into their index with fn (one attempt,
 * an LMDB code), growing the map and trying again when it is full; the
 * index's mark (applied) then says the last seq.  On failure the entries
 * stay waiting, and are tried again at the next fold: harmless for now. */
static int
fold_index(vb_store *st, vb_pending *p, uint64_t applied, size_t bytes_each,
    int (*fn)(vb_store *st, uint64_t upto), const char *code, const char *what)
{
	size_t n = vb_pending_count(p);
	uint64_t upto = atomic_load(&st->last_seq);
	int rv;

	/* Nothing waiting may still leave the mark behind: the broker's own
	 * events have no id, and the open scans the log from the mark on.
	 * fn with nothing to write moves just the mark. */
	if (n == 0 && applied >= upto)
		return VB_OK;
	if ((rv = store_maybe_grow(st, n * bytes_each, 0)) != 0)
		return rv;
	for (int attempt = 0;; attempt++) {
		rv = fn(st, upto);
		if (rv != MDB_MAP_FULL || attempt == 3 || store_maybe_grow(st, n * bytes_each, 1) != 0)
			break;
	}
	if (rv != 0) {
		vb_log_error(st->log, code, "writing %zu %s: %s", n, what, mdb_strerror(rv));
		return vb_err_from_mdb(rv);
	}
	return VB_OK;
}

int
store_fold_cust(vb_store *st)
{
	return fold_index(st, st->pend, st->cust_applied, 32, fold_customers,
	    "S008", "customer index entries");
}

int
vb_store_fold(vb_store *st)
{
	int rv = store_fold_cust(st);
	int rv2 = fold_index(st, st->idpend, st->ids_applied, 64,
	    store_fold_ids, "S010", "ids into the id index");
	return rv != 0 ? rv : rv2;
}

size_t
vb_store_pending(vb_store *st)
{
	size_t c = vb_pending_count(st->pend), i = vb_pending_count(st->idpend);
	return c > i ? c : i;
}
