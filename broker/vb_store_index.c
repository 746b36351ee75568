/* The index environment, DIR/index: the cust and ids indexes, derived
 * from the log and written by the folds (vb_store_fold.c).
 *
 * Everything in it can be built again from the log, and is whenever it is
 * missing (a store restored from a backup, which copies the log's
 * environment alone; a store of format 3 or older, whose indexes lived
 * with the log), belongs to another store, or is ahead of the log.  Its
 * meta holds each index's mark and the store it belongs to (a copy of the
 * store's supp_key), and the number of keys of cust: the customers. */
#include "vb_store_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vb_error.h"
#include "vb_event.h"
#include "vb_time.h"

#define XMETA_STORE "store"
#define XMETA_FOLD_AT "fold_at"
/* Written by every fold transaction that adds a customer, with it. */
#define XMETA_CUSTOMERS "customers"
/* An index's entries wait in memory until this many have gathered:
 * sorted, they share pages of the index ... Two tables of them live at
 * once, one filling while the other is folded, and a table grows at
 * three quarters full: 24,576 fit 32,768 slots, 49,152 65,536.  A fold
 * of cust appends a run (vb_store_cust.c), but reads the tree for each
 * customer, and every CUST_RUNS_MAX folds a merge rewrites about every
 * leaf of it: 49,152 did workload 3 with 8 publishers some 15% faster
 * than 24,576 (280,000 against 240,000 events/s with runs, 6 December),
 * for 3-4 MiB more anonymous memory.  ids, whose ids mostly count up per
 * publisher, gains little
 * from it, and both at 49,152 took workload 5's peak RSS over 64 MiB,
 * as cust at 98,304 did (docs/benchmarks.md). */
#define FOLD_EVENTS_CUST 49152
#define FOLD_EVENTS_IDS 24576
/* At open, the entries coming back from the log are folded every so many
 * events: memory stays bounded however far behind the index is. */
#define RECOVER_FOLD 49152 /* tables of 65,536 slots, as cust's folds */
/* ... and let go of the log's pages every so many (about 4 MiB of them). */
#define RECOVER_RELEASE 16384

int
store_index_init(vb_store *st)
{
	static const struct {
		const char *mark, *keys, *code, *what;
		size_t bytes_each, fold_events;
		store_fold_put put;
	} desc[IX_N] = {
		[IX_CUST] = { META_CUST_APPLIED, XMETA_CUSTOMERS, "S008",
			"customer index entries", 32, FOLD_EVENTS_CUST, store_cust_put },
		[IX_IDS] = { META_IDS_APPLIED, NULL, "S010", "ids into the id index", 64,
			FOLD_EVENTS_IDS, store_ids_put },
	};
	for (int i = 0; i < IX_N; i++) {
		store_index *x = &st->ix[i];
		x->mark = desc[i].mark;
		x->keys = desc[i].keys;
		x->code = desc[i].code;
		x->what = desc[i].what;
		x->bytes_each = desc[i].bytes_each;
		x->fold_events = desc[i].fold_events;
		x->put = desc[i].put;
		x->last_start = vb_time_mono_us();
		if (vb_pending_open(&x->add) != 0 || vb_pending_open(&x->old) != 0)
			return VB_ENOMEM;
	}
	return store_ids_init(st);
}

void
store_index_close(vb_store *st)
{
	for (int i = 0; i < IX_N; i++) {
		vb_pending_close(st->ix[i].add);
		vb_pending_close(st->ix[i].old);
	}
	store_ids_free(st);
	if (st->xenv)
		mdb_env_close(st->xenv);
}

/* meta key's uint64 value into *out: 0, MDB_NOTFOUND, MDB_CORRUPTED for
 * a value of another size, or another LMDB code. */
static int
meta_get_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t *out)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rv = mdb_get(txn, meta, &k, &v);
	if (rv != 0)
		return rv;
	if (v.mv_size != sizeof(uint64_t))
		return MDB_CORRUPTED;
	memcpy(out, v.mv_data, sizeof(uint64_t));
	return 0;
}

int
store_meta_put_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t value)
{
	MDB_val k = { strlen(key), (void *)key }, v = { sizeof(value), &value };
	return mdb_put(txn, meta, &k, &v, 0);
}

int
store_meta_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t dflt,
    uint64_t *out)
{
	int rv = meta_get_u64(txn, meta, key, out);
	if (rv != MDB_NOTFOUND)
		return rv;
	*out = dflt;
	return store_meta_put_u64(txn, meta, key, dflt);
}

int
store_index_sum(vb_store *st, uint64_t seq, uint64_t *sum)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val ev;
	int rv;

	pthread_rwlock_rdlock(&st->maplock);
	if ((rv = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) == 0) {
		if ((rv = mdb_cursor_open(txn, st->dlog, &cur)) == 0) {
			if ((rv = store_log_get(cur, seq, &ev)) == 0)
				*sum = vb_siphash(st->supp_key, ev.mv_data, ev.mv_size);
			mdb_cursor_close(cur);
		}
		mdb_txn_abort(txn);
	}
	pthread_rwlock_unlock(&st->maplock);
	return rv;
}

int
store_index_fold_at(vb_store *st, MDB_txn *txn, uint64_t upto, uint64_t sum)
{
	uint64_t at[2] = { upto, sum };
	MDB_val k = { strlen(XMETA_FOLD_AT), XMETA_FOLD_AT }, v = { sizeof(at), at };
	return mdb_put(txn, st->xmeta, &k, &v, 0);
}

/* Why the index in txn cannot be trusted for this store (a reason for the
 * log), or NULL; on NULL the marks are read into st->ix[].applied.  An
 * LMDB failure: *rv. */
static const char *
index_check(vb_store *st, MDB_txn *txn, int *rv)
{
	MDB_val k = { strlen(XMETA_STORE), XMETA_STORE }, v;
	MDB_stat ms;

	*rv = mdb_get(txn, st->xmeta, &k, &v);
	if (*rv == MDB_NOTFOUND) {
		*rv = mdb_stat(txn, st->ix[IX_IDS].dbi, &ms);
		if (*rv != 0)
			return NULL;
		if (ms.ms_entries == 0 && (*rv = mdb_stat(txn, st->ix[IX_CUST].dbi, &ms)) != 0)
			return NULL;
		if (ms.ms_entries > 0)
			return "it names no store";
		/* A new index: this store's from now on. */
		v.mv_size = VB_SIPHASH_KEYSZ;
		v.mv_data = st->supp_key;
		if ((*rv = mdb_put(txn, st->xmeta, &k, &v, 0)) != 0)
			return NULL;
	} else if (*rv != 0) {
		return NULL;
	} else if (v.mv_size != VB_SIPHASH_KEYSZ ||
	    memcmp(v.mv_data, st->supp_key, VB_SIPHASH_KEYSZ) != 0) {
		return "it belongs to another store";
	}
	/* How far the folds went, the last maybe half-way: entries of the
	 * events up to there may be in the tree whatever the marks say.  A
	 * copy of the store restored over the directory can end before, or
	 * have other events there (its later history differs). */
	k.mv_size = strlen(XMETA_FOLD_AT);
	k.mv_data = XMETA_FOLD_AT;
	if ((*rv = mdb_get(txn, st->xmeta, &k, &v)) == 0) {
		uint64_t at[2], sum;
		if (v.mv_size != sizeof(at))
			return "a mark is damaged";
		memcpy(at, v.mv_data, sizeof(at));
		if (at[0] > st->last_seq)
			return "it is ahead of the log";
		if ((*rv = store_index_sum(st, at[0], &sum)) != 0)
			return NULL;
		if (sum != at[1])
			return "it was built from another history of this store";
	} else if (*rv != MDB_NOTFOUND) {
		return NULL;
	}
	for (int i = 0; i < IX_N; i++) {
		store_index *x = &st->ix[i];
		*rv = store_meta_u64(txn, st->xmeta, x->mark, 0, &x->applied);
		if (*rv == MDB_CORRUPTED) {
			*rv = 0;
			return "a mark is damaged";
		}
		if (*rv != 0)
			return NULL;
		if (x->applied > st->last_seq)
			return "it is ahead of the log";
	}
	/* Indexes of format 4 count no customers: their count would be
	 * wrong from the first fold on. */
	uint64_t count;
	if ((*rv = meta_get_u64(txn, st->xmeta, XMETA_CUSTOMERS, &count)) == MDB_NOTFOUND) {
		*rv = mdb_stat(txn, st->ix[IX_CUST].dbi, &ms);
		if (*rv != 0)
			return NULL;
		if (ms.ms_entries > 0)
			return "it does not count its customers";
		*rv = store_meta_put_u64(txn, st->xmeta, XMETA_CUSTOMERS, 0);
	} else if (*rv == MDB_CORRUPTED) {
		*rv = 0;
		return "a count is damaged";
	}
	return NULL;
}

/* Customers in the index environment's txn: the keys of cust. */
static int
index_customers(vb_store *st, MDB_txn *txn, uint64_t *out)
{
	int rv = meta_get_u64(txn, st->xmeta, XMETA_CUSTOMERS, out);
	if (rv == MDB_NOTFOUND) {
		*out = 0;
		return 0;
	}
	return rv;
}

/* ---- the customer count ---- */

typedef struct count_run {
	vb_pending *seen;
	uint64_t seq;           /* 1: keys of old, 2: of add (increasing) */
	MDB_txn *txn;
	MDB_dbi dbi;
	uint64_t *n;
} count_run;

static int
count_copy(void *arg, const char *customer)
{
	count_run *c = arg;
	return vb_pending_add(c->seen, customer, c->seq) < 0 ? VB_ENOMEM : 0;
}

static int
count_new(void *arg, const char *customer, const uint64_t *seqs, size_t n)
{
	count_run *c = arg;
	MDB_val k = { strlen(customer), (void *)customer }, v;
	int rv = mdb_get(c->txn, c->dbi, &k, &v);
	(void)seqs;
	(void)n;
	if (rv == MDB_NOTFOUND) {
		(*c->n)++;
		return 0;
	}
	return rv;
}

int
store_index_count_customers(vb_store *st, uint64_t *out)
{
	store_index *x = &st->ix[IX_CUST];
	count_run c = { NULL, 1, NULL, x->dbi, out };
	int rv;

	*out = 0;
	if (vb_pending_open(&c.seen) != 0)
		return ENOMEM;
	/* The customers of the entries in memory, copied before the tree is
	 * read, as store_customer_seqs does: what a fold took out of the
	 * tables since is in the later snapshot.  Only of durable events: the
	 * writer adds an event's entry inside its transaction, which may
	 * still fail and take it back, and the folds write only durable
	 * events. */
	uint64_t hi = vb_store_durable_seq(st);
	pthread_mutex_lock(&st->pmtx);
	rv = vb_pending_each_key(x->old, hi, count_copy, &c);
	c.seq = 2;
	if (rv == 0)
		rv = vb_pending_each_key(x->add, hi, count_copy, &c);
	pthread_mutex_unlock(&st->pmtx);
	if (rv != 0) {
		vb_pending_close(c.seen);
		return ENOMEM;
	}
	pthread_rwlock_rdlock(&st->xmaplock);
	if ((rv = mdb_txn_begin(st->xenv, NULL, MDB_RDONLY, &c.txn)) == 0) {
		if ((rv = index_customers(st, c.txn, out)) == 0) {
			/* In key order: the lookups share the tree's pages. */
			rv = vb_pending_each_sorted(c.seen, count_new, &c);
			if (rv == VB_ENOMEM)
				rv = ENOMEM;
		}
		mdb_txn_abort(c.txn);
	}
	pthread_rwlock_unlock(&st->xmaplock);
	vb_pending_close(c.seen);
	return rv;
}

/* Empty both indexes and start their marks at 0, for this store. */
static int
index_reset(vb_store *st, MDB_txn *txn)
{
	MDB_val k = { strlen(XMETA_STORE), XMETA_STORE };
	MDB_val v = { VB_SIPHASH_KEYSZ, st->supp_key };
	int rv = 0;
	for (int i = 0; i < IX_N && rv == 0; i++) {
		store_index *x = &st->ix[i];
		x->applied = 0;
		if ((rv = mdb_drop(txn, x->dbi, 0)) == 0)
			rv = store_meta_put_u64(txn, st->xmeta, x->mark, 0);
	}
	if (rv == 0)
		rv = mdb_drop(txn, st->xruns, 0);
	if (rv == 0)
		rv = mdb_put(txn, st->xmeta, &k, &v, 0);
	if (rv == 0)
		rv = store_meta_put_u64(txn, st->xmeta, XMETA_CUSTOMERS, 0);
	k.mv_size = strlen(XMETA_FOLD_AT);
	k.mv_data = XMETA_FOLD_AT;
	if (rv == 0 && (rv = mdb_del(txn, st->xmeta, &k, NULL)) == MDB_NOTFOUND)
		rv = 0;
	return rv;
}

/* Put the entries of the logged event pk (seq) back in memory, where its
 * index does not hold them yet. */
static int
recover_one(vb_store *st, const vb_event_peek *pk, uint64_t seq)
{
	char customer[VB_CUSTOMER_MAX + 1];
	int rv;

	if ((rv = store_ids_recover(st, pk, seq)) != 0)
		return rv;
	if (seq <= st->ix[IX_CUST].applied)
		return 0;
	memcpy(customer, pk->customer, pk->customer_len);
	customer[pk->customer_len] = '\0';
	return vb_pending_add(st->ix[IX_CUST].add, customer, seq) < 0 ? ENOMEM : 0;
}

/* Every event after the lower mark back in memory, folded every
 * RECOVER_FOLD events (the log is durable: vb_store_open flushed it).
 * A VB_E code, logged; *bad: a fold found the tree disagreeing with the
 * log (MDB_CORRUPTED, S010). */
static int
recover(vb_store *st, uint64_t *scanned, int *bad)
{
	int fold_rv = VB_OK;
	uint64_t from = st->ix[IX_CUST].applied < st->ix[IX_IDS].applied ?
	    st->ix[IX_CUST].applied : st->ix[IX_IDS].applied;
	MDB_txn *txn;
	MDB_cursor *cur;
	store_rec r;
	uint64_t n = 0;
	int rv;

	*scanned = 0;
	*bad = 0;
	if (from >= st->last_seq)
		return 0;
	if ((rv = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0)
		goto fail;
	if ((rv = mdb_cursor_open(txn, st->dlog, &cur)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	for (rv = store_log_seek(cur, from + 1, &r); rv == 0; rv = store_log_next(cur, &r)) {
		vb_event_peek pk;
		if (vb_event_peek_pb(r.ev.mv_data, r.ev.mv_size, &pk) != 0 ||
		    pk.customer_len > VB_CUSTOMER_MAX) {
			rv = MDB_CORRUPTED;
			break;
		}
		if ((rv = recover_one(st, &pk, r.seq)) != 0)
			break;
		/* The log's pages read so far would otherwise all stay mapped:
		 * a store restored from a backup reads its whole log here. */
		if (++n % RECOVER_RELEASE == 0)
			store_map_release(st, st->env, &st->map);
		/* A fold that fails (logged) leaves its entries in memory, as
		 * the folder would, but for an index that disagrees with the
		 * log: that one is built again (store_index_open). */
		if (n % RECOVER_FOLD == 0 && r.seq < st->last_seq && fold_rv == VB_OK &&
		    (fold_rv = store_fold_now(st, (1u << IX_CUST) | (1u << IX_IDS), r.seq)) ==
		    VB_ECORRUPT)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	*scanned = n;
	*bad = fold_rv == VB_ECORRUPT;
	if (*bad || rv == MDB_NOTFOUND)
		return VB_OK;
fail:
	vb_log_error(st->log, "S003", "%s: reading the log for the index: %s", st->dir,
	    mdb_strerror(rv));
	return vb_err_from_mdb(rv);
}

int
store_index_open(vb_store *st)
{
	char path[4096];
	MDB_txn *txn = NULL;
	const char *why;
	uint64_t scanned;
	int64_t t0;
	int rv, bad;

	snprintf(path, sizeof(path), "%s/index", st->dir);
	if (mkdir(path, 0750) != 0 && errno != EEXIST) {
		rv = errno;
		goto fail;
	}
	if ((rv = mdb_env_create(&st->xenv)) != 0 ||
	    (rv = mdb_env_set_maxdbs(st->xenv, 8)) != 0 ||
	    (rv = mdb_env_set_mapsize(st->xenv, st->map_size)) != 0 ||
	    (rv = mdb_env_set_maxreaders(st->xenv, 256)) != 0 ||
	    /* As the log's (vb_store_open): a crash loses at most the last
	     * fold's commit, whose entries come back from the log. */
	    (rv = mdb_env_open(st->xenv, path, MDB_NOTLS | MDB_NOMETASYNC, 0640)) != 0)
		goto fail;
	if ((rv = mdb_txn_begin(st->xenv, NULL, 0, &txn)) != 0 ||
	    (rv = mdb_dbi_open(txn, "cust", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED |
	        MDB_INTEGERDUP, &st->ix[IX_CUST].dbi)) != 0 ||
	    (rv = mdb_dbi_open(txn, "cust_runs", MDB_CREATE, &st->xruns)) != 0 ||
	    (rv = mdb_dbi_open(txn, "ids", MDB_CREATE, &st->ix[IX_IDS].dbi)) != 0 ||
	    (rv = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->xmeta)) != 0)
		goto fail;
	if ((why = index_check(st, txn, &rv)) != NULL) {
		vb_log_warn(st->log, "S011", "%s: %s: building it again from the log",
		    path, why);
		rv = index_reset(st, txn);
	}
	if (rv != 0)
		goto fail;
	rv = mdb_txn_commit(txn);
	txn = NULL;
	if (rv != 0)
		goto fail;
	t0 = vb_time_mono_us();
	if ((rv = recover(st, &scanned, &bad)) == VB_OK && bad) {
		/* An entry of the tree names another seq than the log (S010
		 * logged): the tree cannot be trusted. */
		vb_log_warn(st->log, "S011", "%s: an entry disagrees with the log: "
		    "building it again from the log", path);
		for (int i = 0; i < IX_N; i++) {
			vb_pending_clear(st->ix[i].add);
			vb_pending_clear(st->ix[i].old);
			st->ix[i].old_upto = 0;
			st->ix[i].old_done = 0;
		}
		if ((rv = mdb_txn_begin(st->xenv, NULL, 0, &txn)) != 0 ||
		    (rv = index_reset(st, txn)) != 0)
			goto fail;
		rv = mdb_txn_commit(txn);
		txn = NULL;
		if (rv != 0)
			goto fail;
		rv = recover(st, &scanned, &bad);
	}
	if (rv != VB_OK)
		return rv;
	if (scanned >= RECOVER_FOLD)
		vb_log_info(st->log, "S012", "index: %llu events read from the log in %.1f s",
		    (unsigned long long)scanned, (double)(vb_time_mono_us() - t0) / 1e6);
	return VB_OK;
fail:
	if (txn)
		mdb_txn_abort(txn);
	vb_log_error(st->log, "S003", "%s: %s", path, mdb_strerror(rv));
	return vb_err_from_mdb(rv);
}
