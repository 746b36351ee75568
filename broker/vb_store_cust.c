/* The customer index, cust: every seq of a customer, in a tree and runs.
 *
 * The tree (`cust`, MDB_DUPSORT with integer duplicates) keeps a customer's
 * older seqs.  Putting a fold's entries into it rewrote about every leaf
 * at each fold, customers being spread over all of them: in workload 3
 * the folds wrote as many bytes as the log (1.4 GB for 0.7 GB of events),
 * and their flushes slowed the writer's.  So a fold puts only the
 * customers new to the tree there, and appends the others' seqs, in
 * customer order, as a run at the end of `cust_runs`:
 *
 *     run (8 bytes, big-endian: the fold's last seq) + customer -> seqs
 *
 * pages written once, in order.  Once there are CUST_RUNS_MAX runs, the
 * one folding moves their entries into the tree (store_cust_merge), a
 * leaf rewritten per CUST_RUNS_MAX folds instead of one per fold.  A
 * customer's seqs are those of the tree, then of each run in order: a
 * customer is in the tree before any run holds it, and a merge moves its
 * entries out of every run and into the tree in one transaction.  A fold
 * written again after a crash or a failure may repeat seqs already in a
 * run or the tree: readers skip what is not above the last seq they
 * gave, and the tree takes a seq it holds as done. */
#include "vb_store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vb_event.h"

/* Runs that make a merge due.  Each adds at most two seeks to a lookup
 * of a customer's seqs; a merge rewrites about every leaf of the tree. */
#define CUST_RUNS_MAX 8
/* Runs moved by one merge, at most (more wait for the next). */
#define CUST_MERGE_RUNS 64
/* Customers moved per transaction of a merge: each may dirty a leaf of
 * the tree (its seqs' own, past a page of them), and LMDB keeps the
 * buffers of its largest transaction (see FOLD_CHUNK, vb_store_fold.c).
 * Customers next to each other in the tree mostly share a leaf. */
#define CUST_MERGE_CHUNK 4096
/* ... and the map's pages let go every so many (see FOLD_RELEASE). */
#define CUST_MERGE_RELEASE 256
#define RUN_KEY_MAX (8 + VB_CUSTOMER_MAX)

static size_t
run_key(uint8_t *key, uint64_t run, const char *customer, size_t len)
{
	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(run >> (56 - 8 * i));
	memcpy(key + 8, customer, len);
	return 8 + len;
}

static uint64_t
key_run(const MDB_val *k)
{
	const uint8_t *p = k->mv_data;
	uint64_t run = 0;
	for (int i = 0; i < 8; i++)
		run = run << 8 | p[i];
	return run;
}

/* seqs into the tree under customer; a seq already there is done. */
static int
tree_put(MDB_cursor *cur, const char *customer, size_t len, const uint64_t *seqs,
    size_t n)
{
	MDB_val k = { len, (void *)customer }, v;
	int rv = 0;
	for (size_t i = 0; i < n && rv == 0; i++) {
		size_t s = (size_t)seqs[i];
		v.mv_size = sizeof(s);
		v.mv_data = &s;
		if ((rv = mdb_cursor_put(cur, &k, &v, MDB_NODUPDATA)) == MDB_KEYEXIST)
			rv = 0;
	}
	return rv;
}

int
store_cust_put(store_fold_run *f, const char *customer, const uint64_t *seqs,
    size_t n)
{
	size_t len = strlen(customer);
	MDB_val k = { len, (void *)customer }, v;
	uint8_t key[RUN_KEY_MAX];
	int rv;

	if (len == 0 || len > VB_CUSTOMER_MAX)
		return MDB_BAD_VALSIZE;
	rv = mdb_cursor_get(f->cur, &k, &v, MDB_SET);
	if (rv == MDB_NOTFOUND) {
		f->fresh++;
		return tree_put(f->cur, customer, len, seqs, n);
	}
	if (rv != 0)
		return rv;
	k.mv_size = run_key(key, f->upto, customer, len);
	k.mv_data = key;
	v.mv_size = n * sizeof(*seqs);
	v.mv_data = (void *)seqs;
	/* Keys only grow within a fold and from one fold to the next, so
	 * pages fill completely; but a fold tried again after a failure
	 * meets its own keys, which it writes again. */
	rv = mdb_cursor_put(f->rcur, &k, &v, MDB_APPEND);
	if (rv == MDB_KEYEXIST)
		rv = mdb_cursor_put(f->rcur, &k, &v, 0);
	return rv;
}

/* The runs in txn, oldest first, up to max: their number in *n. */
static int
runs_list(MDB_cursor *rc, uint64_t *runs, size_t max, size_t *n)
{
	uint8_t key[8];
	uint64_t r = 0;
	int rv;

	for (*n = 0; *n < max; (*n)++) {
		MDB_val k = { run_key(key, r, "", 0), key }, v;
		if ((rv = mdb_cursor_get(rc, &k, &v, MDB_SET_RANGE)) != 0)
			return rv == MDB_NOTFOUND ? 0 : rv;
		if (k.mv_size < 8)
			return MDB_CORRUPTED;
		runs[*n] = key_run(&k);
		if (runs[*n] == UINT64_MAX) {
			(*n)++;
			break;
		}
		r = runs[*n] + 1;
	}
	return 0;
}

/* The first customer of run at or after customer (len bytes) into head
 * (NUL-terminated), or head[0] = 0 when the run has no more. */
static int
run_head(MDB_cursor *rc, uint64_t run, const char *customer, size_t len, char *head)
{
	uint8_t key[RUN_KEY_MAX];
	MDB_val k = { run_key(key, run, customer, len), key }, v;
	int rv = mdb_cursor_get(rc, &k, &v, MDB_SET_RANGE);

	head[0] = '\0';
	if (rv == MDB_NOTFOUND)
		return 0;
	if (rv != 0)
		return rv;
	if (k.mv_size < 8 || key_run(&k) != run)
		return 0;
	if (k.mv_size == 8 || k.mv_size > RUN_KEY_MAX)
		return MDB_CORRUPTED;
	memcpy(head, (const uint8_t *)k.mv_data + 8, k.mv_size - 8);
	head[k.mv_size - 8] = '\0';
	return 0;
}

typedef struct merge {
	uint64_t runs[CUST_MERGE_RUNS];
	char (*heads)[VB_CUSTOMER_MAX + 1];
	size_t n;
	uint64_t *seqs;
	size_t cap;
} merge;

/* Move the entries of the customer first in order among the runs' heads
 * into the tree, and count it in *moved; *done when the runs are empty. */
static int
merge_one(merge *m, MDB_cursor *tc, MDB_cursor *rc, size_t *moved, int *done)
{
	const char *min = NULL;
	char customer[VB_CUSTOMER_MAX + 1];
	uint8_t key[RUN_KEY_MAX];
	int rv;

	for (size_t i = 0; i < m->n; i++)
		if (m->heads[i][0] && (min == NULL || strcmp(m->heads[i], min) < 0))
			min = m->heads[i];
	if (min == NULL) {
		*done = 1;
		return 0;
	}
	size_t len = strlen(min);
	memcpy(customer, min, len + 1);
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->heads[i], customer) != 0)
			continue;
		MDB_val k = { run_key(key, m->runs[i], customer, len), key }, v;
		if ((rv = mdb_cursor_get(rc, &k, &v, MDB_SET)) != 0)
			return rv;
		size_t n = v.mv_size / sizeof(uint64_t);
		if (n == 0 || v.mv_size % sizeof(uint64_t) != 0)
			return MDB_CORRUPTED;
		if (n > m->cap) {
			uint64_t *p = realloc(m->seqs, n * sizeof(*p));
			if (p == NULL)
				return ENOMEM;
			m->seqs = p;
			m->cap = n;
		}
		/* Copied: the value lives on a page the deletion may free. */
		memcpy(m->seqs, v.mv_data, v.mv_size);
		if ((rv = mdb_cursor_del(rc, 0)) != 0 ||
		    (rv = tree_put(tc, customer, len, m->seqs, n)) != 0 ||
		    (rv = run_head(rc, m->runs[i], customer, len, m->heads[i])) != 0)
			return rv;
	}
	(*moved)++;
	return 0;
}

/* Move the entries of the oldest runs, at most CUST_MERGE_RUNS, into the
 * tree when there are CUST_RUNS_MAX of them (all: any).  *more is set
 * when there may be runs beyond those. */
static int
merge_batch(vb_store *st, int all, int *more)
{
	merge m = { { 0 }, NULL, 0, NULL, 0 };
	MDB_txn *txn = NULL;
	MDB_cursor *tc = NULL, *rc = NULL;
	int rv, done = 0;

	*more = 0;
	while (!done) {
		size_t moved = 0;
		store_write_ahead(st->xenv, &st->xahead);
		if ((rv = mdb_txn_begin(st->xenv, NULL, 0, &txn)) != 0 ||
		    (rv = mdb_cursor_open(txn, st->ix[IX_CUST].dbi, &tc)) != 0 ||
		    (rv = mdb_cursor_open(txn, st->xruns, &rc)) != 0)
			goto fail;
		if (m.heads == NULL) {
			if ((rv = runs_list(rc, m.runs, CUST_MERGE_RUNS, &m.n)) != 0)
				goto fail;
			if (m.n == 0 || (!all && m.n < CUST_RUNS_MAX))
				goto fail; /* nothing to do: rv is 0 */
			if ((m.heads = calloc(m.n, sizeof(*m.heads))) == NULL) {
				rv = ENOMEM;
				goto fail;
			}
			*more = m.n == CUST_MERGE_RUNS;
		}
		/* Each transaction finds the heads again: a failed one leaves
		 * them where the last commit did. */
		for (size_t i = 0; i < m.n; i++)
			if ((rv = run_head(rc, m.runs[i], "", 0, m.heads[i])) != 0)
				goto fail;
		while (!done && moved < CUST_MERGE_CHUNK) {
			if ((rv = merge_one(&m, tc, rc, &moved, &done)) != 0)
				goto fail;
			if (moved % CUST_MERGE_RELEASE == 0)
				store_map_release(st, st->xenv, &st->xmap);
		}
		mdb_cursor_close(tc);
		mdb_cursor_close(rc);
		tc = rc = NULL;
		rv = mdb_txn_commit(txn);
		txn = NULL;
		if (rv != 0)
			goto fail;
		/* Let go of the tree's leaves read meanwhile (the one folding
		 * may, see run_release in vb_store_fold.c). */
		store_map_release(st, st->xenv, &st->xmap);
	}
fail:
	if (tc)
		mdb_cursor_close(tc);
	if (rc)
		mdb_cursor_close(rc);
	if (txn)
		mdb_txn_abort(txn);
	free(m.heads);
	free(m.seqs);
	return rv;
}

int
store_cust_merge(vb_store *st, int all)
{
	int rv, more;
	do
		rv = merge_batch(st, all, &more);
	while (rv == 0 && more);
	return rv;
}

/* Call fn for the seqs of a run's value v, as store_cust_seqs; *stop
 * once past hi.  fn's first non-zero return, or 0. */
static int
run_seqs(const MDB_val *v, uint64_t from, uint64_t hi,
    int (*fn)(void *arg, uint64_t seq), void *arg, uint64_t *last, int *stop)
{
	const uint8_t *p = v->mv_data;
	size_t n = v->mv_size / sizeof(uint64_t);
	int rv = 0;

	if (v->mv_size % sizeof(uint64_t) != 0)
		return MDB_CORRUPTED;
	for (size_t i = 0; i < n && rv == 0; i++) {
		uint64_t s;
		memcpy(&s, p + i * sizeof(s), sizeof(s));
		if (s > hi) {
			*stop = 1;
			break;
		}
		if (s >= from && s > *last) {
			*last = s;
			rv = fn(arg, s);
		}
	}
	return rv;
}

int
store_cust_seqs(vb_store *st, MDB_txn *xtxn, const char *customer,
    uint64_t from, uint64_t hi, int (*fn)(void *arg, uint64_t seq), void *arg,
    uint64_t *last)
{
	size_t len = strlen(customer), s = (size_t)from;
	MDB_val k = { len, (void *)customer }, v = { sizeof(s), &s };
	MDB_cursor *cur = NULL;
	uint8_t key[RUN_KEY_MAX];
	uint64_t run = 0;
	int rv, stop = 0;

	if (len == 0 || len > VB_CUSTOMER_MAX)
		return 0; /* no such customer can have been stored */
	if ((rv = mdb_cursor_open(xtxn, st->ix[IX_CUST].dbi, &cur)) != 0)
		return rv;
	for (rv = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE); rv == 0;
	    rv = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		memcpy(&s, v.mv_data, sizeof(s));
		/* A fold may have committed entries past hi since the caller
		 * read it: they, and the runs', are later. */
		if (s > hi) {
			stop = 1;
			break;
		}
		if (s <= *last)
			continue;
		*last = s;
		if ((rv = fn(arg, s)) != 0)
			goto out; /* fn's code, whatever it is */
	}
	if (rv != 0 && rv != MDB_NOTFOUND)
		goto out;
	rv = 0;
	if (stop)
		goto out;
	mdb_cursor_close(cur);
	if ((rv = mdb_cursor_open(xtxn, st->xruns, &cur)) != 0)
		return rv;
	/* Two seeks a run: the first finds the next run, the second the
	 * customer in it. */
	while (!stop) {
		k.mv_size = run_key(key, run, customer, len);
		k.mv_data = key;
		if ((rv = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0) {
			if (rv == MDB_NOTFOUND)
				rv = 0;
			break;
		}
		if (k.mv_size < 8) {
			rv = MDB_CORRUPTED;
			break;
		}
		uint64_t r = key_run(&k);
		if (r != run) {
			run = r;
			continue;
		}
		if (k.mv_size == 8 + len &&
		    memcmp(key + 8, (const uint8_t *)k.mv_data + 8, len) == 0 &&
		    (rv = run_seqs(&v, from, hi, fn, arg, last, &stop)) != 0)
			break;
		if (run == UINT64_MAX)
			break;
		run++;
	}
out:
	mdb_cursor_close(cur);
	return rv;
}
