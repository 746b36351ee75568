/* The id index (idempotent publishing): which seq each event id was stored
 * under, for ever.
 *
 * Putting every id into the `ids` B-tree in its own commit was one page a
 * commit for ids that count up (a silo's "zd-000123"), but one page per
 * event for ids in no order (UUIDs): each lands on a leaf of its own, and
 * a commit of 300 such events copied and wrote some 300 leaves of 4 KiB.
 * So ids wait in memory (vb_pending tables of id -> seq) as the customer
 * entries do, and are written every so many events in id order by the
 * folder (vb_store_fold.c), where ids that fall on the same leaf share
 * its copy.  Until then a lookup asks the memory first, then the tree.
 *
 * The tree holds every id of the events up to its mark ("ids_applied" in
 * the index environment's meta); those after it are in memory, and come
 * back from the log after a crash (store_ids_recover).
 *
 * Most ids published are new, and proving it took a lookup in the tree:
 * a random leaf, and for ids in no order a page fault once the tree
 * outgrows what is mapped (workload 3: 42% of the writer's instructions;
 * workload 3r on a grown log: the broker's peak RSS).  So the writer
 * keeps a Bloom filter of every id it has put in the tables (vb_bloom.h),
 * and the folder, once at start, one of every id in the tree, which the
 * writer then merges into its own; from then on an id the filter has
 * never seen is new without a lookup.  Every id of the tree was in the
 * tree at the folder's start or went through the tables, so the two
 * filters between them have them all; a fold only moves ids from the
 * tables to the tree, and nothing takes an id out of the tree while the
 * broker runs.  The writer thread only, but for the folder's put and
 * scan. */
#include "vb_store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"
#include "vb_event.h"
#include "vb_time.h"

/* The writer's filter starts at 64 KiB, for some 43,000 ids, and stops
 * growing at IDS_FILTER_MAX (the tree's counted once merged): 16 MiB
 * holds some ten million ids at 4% "maybe"; past that, more of them take
 * a lookup.  The tree's is sized for what the tree holds, at most half of
 * that: 24 MiB for both in the worst case. */
#define IDS_FILTER_FIRST 40000
#define IDS_FILTER_MAX ((size_t)16 << 20)
/* The scan lets go of the tree's pages every so many ids, as folds do. */
#define IDS_SCAN_RELEASE 4096

int
store_ids_init(vb_store *st)
{
	return vb_bloom_open(&st->idf.all, IDS_FILTER_FIRST, IDS_FILTER_MAX);
}

void
store_ids_free(vb_store *st)
{
	vb_bloom_close(st->idf.all);
	vb_bloom_close(st->idf.scan);
	st->idf.all = st->idf.scan = NULL;
}

void
store_ids_scan(vb_store *st)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_stat ms;
	MDB_val k, v;
	vb_bloom *b = NULL;
	size_t n = 0;
	int64_t t0 = vb_time_mono_us();
	int rv;

	/* Without xmaplock: the one folding (the folder, fold_busy set for
	 * this) is the only one that remaps the index environment. */
	if ((rv = mdb_txn_begin(st->xenv, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rv = mdb_stat(txn, st->ix[IX_IDS].dbi, &ms)) != 0 ||
	    (rv = mdb_cursor_open(txn, st->ix[IX_IDS].dbi, &cur)) != 0)
		goto done;
	if (vb_bloom_open(&b, ms.ms_entries, IDS_FILTER_MAX / 2) != VB_OK) {
		rv = ENOMEM;
		goto done;
	}
	for (rv = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rv == 0;
	    rv = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		vb_bloom_add(b, vb_siphash(st->supp_key, k.mv_data, k.mv_size));
		if (++n % IDS_SCAN_RELEASE == 0) {
			store_map_release(st, st->xenv, &st->xmap);
			if (atomic_load(&st->fold_stop)) {
				rv = ECANCELED;
				goto done;
			}
		}
	}
	if (rv == MDB_NOTFOUND)
		rv = 0;
done:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	store_map_release(st, st->xenv, &st->xmap);
	if (rv == 0) {
		if (n >= 1000000)
			vb_log_info(st->log, "S014", "index: %zu ids read for the filter "
			    "in %.1f s", n, (double)(vb_time_mono_us() - t0) / 1e6);
		st->idf.scan = b;
	} else {
		vb_bloom_close(b);
		if (rv != ECANCELED)
			vb_log_warn(st->log, "S014", "index: reading the ids for the filter: "
			    "%s; every id is looked up in the tree", mdb_strerror(rv));
	}
	atomic_store_explicit(&st->idf.scan_done, 1, memory_order_release);
}

/* Whether the writer's filter has every id, the tree's included: merged
 * once the folder's scan is done. */
static int
filter_whole(vb_store *st)
{
	if (st->idf.whole || st->idf.tried)
		return st->idf.whole;
	if (!atomic_load_explicit(&st->idf.scan_done, memory_order_acquire))
		return 0;
	st->idf.tried = 1;
	if (st->idf.scan != NULL && vb_bloom_merge(st->idf.all, st->idf.scan) == VB_OK) {
		st->idf.scan = NULL;
		st->idf.whole = 1;
	}
	return st->idf.whole;
}

uint64_t
store_ids_hash(const vb_store *st, const char *id)
{
	return vb_siphash(st->supp_key, id, strlen(id));
}

int
store_ids_find(store_txn *t, const char *id, uint64_t h, uint64_t *seq)
{
	store_index *x = &t->st->ix[IX_IDS];
	MDB_val k = { strlen(id), (void *)id }, v;
	int rv;

	if (filter_whole(t->st) && !vb_bloom_maybe(t->st->idf.all, h))
		return MDB_NOTFOUND;
	/* The newest first; an id being folded may be in old and the tree
	 * both, with the same seq. */
	if (vb_pending_first_h(x->add, id, (uint32_t)h, seq) ||
	    vb_pending_first_h(x->old, id, (uint32_t)h, seq))
		return 0;
	t->st->idf.tree_gets++;
	rv = mdb_get(t->xtxn, x->dbi, &k, &v);
	if (rv == 0 && v.mv_size == sizeof(uint64_t))
		memcpy(seq, v.mv_data, sizeof(uint64_t));
	else if (rv == 0)
		rv = MDB_CORRUPTED;
	return rv;
}

void
store_ids_prefetch(vb_store *st, uint64_t h)
{
	vb_bloom_prefetch(st->idf.all, h);
	vb_pending_prefetch(st->ix[IX_IDS].add, (uint32_t)h);
}

int
store_ids_add(store_txn *t, const char *id, uint64_t h, uint64_t seq)
{
	vb_bloom_add(t->st->idf.all, h);
	return vb_pending_add_h(t->st->ix[IX_IDS].add, id, (uint32_t)h, seq) < 0 ?
	    ENOMEM : 0;
}

int
store_ids_recover(vb_store *st, const vb_event_peek *pk, uint64_t seq)
{
	char id[VB_ID_MAX + 1];

	if (seq <= st->ix[IX_IDS].applied)
		return 0;
	/* The broker's suppression.changed events are stored without an id
	 * in the index (vb_store_gate.c: publish_change). */
	if (pk->id_len == 0 ||
	    (pk->type_len == 19 && memcmp(pk->type, "suppression.changed", 19) == 0))
		return 0;
	if (pk->id_len > VB_ID_MAX)
		return MDB_CORRUPTED;
	memcpy(id, pk->id, pk->id_len);
	id[pk->id_len] = '\0';
	uint64_t h = store_ids_hash(st, id);
	vb_bloom_add(st->idf.all, h);
	return vb_pending_add_h(st->ix[IX_IDS].add, id, (uint32_t)h, seq) < 0 ? ENOMEM : 0;
}

int
store_ids_put(store_fold_run *f, const char *id, const uint64_t *seqs, size_t n)
{
	MDB_val k = { strlen(id), (void *)id }, v;
	size_t s = (size_t)seqs[0];
	int rv;

	(void)n; /* ids are not counted */
	v.mv_size = sizeof(s);
	v.mv_data = &s;
	/* An id already there was put by a fold that stopped half-way (or
	 * before a crash): the same seq, which LMDB hands back in v.  Another
	 * seq is a tree that disagrees with the log: keeping either would
	 * answer some publisher's retry with the wrong event. */
	rv = mdb_cursor_put(f->cur, &k, &v, MDB_NOOVERWRITE);
	if (rv == MDB_KEYEXIST) {
		int same = v.mv_size == sizeof(s) && memcmp(v.mv_data, &s, sizeof(s)) == 0;
		rv = same ? 0 : MDB_CORRUPTED;
	}
	return rv;
}
