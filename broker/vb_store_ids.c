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
 * back from the log after a crash (store_ids_recover).  The writer thread
 * only, but for the folder's put. */
#include "vb_store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"
#include "vb_event.h"


int
store_ids_find(store_txn *t, const char *id, uint64_t *seq)
{
	store_index *x = &t->st->ix[IX_IDS];
	MDB_val k = { strlen(id), (void *)id }, v;
	int rv;

	/* The newest first; an id being folded may be in old and the tree
	 * both, with the same seq. */
	if (vb_pending_first(x->add, id, seq) || vb_pending_first(x->old, id, seq))
		return 0;
	rv = mdb_get(t->xtxn, x->dbi, &k, &v);
	if (rv == 0 && v.mv_size == sizeof(uint64_t))
		memcpy(seq, v.mv_data, sizeof(uint64_t));
	else if (rv == 0)
		rv = MDB_CORRUPTED;
	return rv;
}

int
store_ids_add(store_txn *t, const char *id, uint64_t seq)
{
	return vb_pending_add(t->st->ix[IX_IDS].add, id, seq) < 0 ? ENOMEM : 0;
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
	return vb_pending_add(st->ix[IX_IDS].add, id, seq) < 0 ? ENOMEM : 0;
}

int
store_ids_put(MDB_cursor *cur, const char *id, const uint64_t *seqs, size_t n,
    int *fresh)
{
	MDB_val k = { strlen(id), (void *)id }, v;
	size_t s = (size_t)seqs[0];
	int rv;

	(void)n;
	(void)fresh; /* ids are not counted */
	v.mv_size = sizeof(s);
	v.mv_data = &s;
	/* An id already there was put by a fold that stopped half-way (or
	 * before a crash): the same seq, which LMDB hands back in v.  Another
	 * seq is a tree that disagrees with the log: keeping either would
	 * answer some publisher's retry with the wrong event. */
	rv = mdb_cursor_put(cur, &k, &v, MDB_NOOVERWRITE);
	if (rv == MDB_KEYEXIST) {
		int same = v.mv_size == sizeof(s) && memcmp(v.mv_data, &s, sizeof(s)) == 0;
		rv = same ? 0 : MDB_CORRUPTED;
	}
	return rv;
}
