/* The log's records (private to vb_store*.c; see vb_store_impl.h).
 *
 * The "log" database holds the events by seq.  A record's key is the seq
 * of its first event; its value is either one event's stored bytes, or a
 * run of events with consecutive seqs: a 0 byte, then per event its
 * varint length and bytes.  No event starts with a 0 byte (protobuf has
 * no field 0), so the first byte tells them apart, and a log written
 * before runs existed reads as it always did.
 *
 * A run is at most half a page, so that it stays on the leaf pages and
 * two fill one: one B-tree insertion and one key for several events
 * instead of one each, which is most of what a commit costs the writer. */
#include <string.h>

#include "vb_buf.h"
#include "vb_store_impl.h"

#define RUN_MARK 0x00

int
store_rec_open(store_rec *r, const MDB_val *k, const MDB_val *v)
{
	size_t s;
	if (k->mv_size != sizeof(s) || v->mv_size == 0)
		return MDB_CORRUPTED;
	memcpy(&s, k->mv_data, sizeof(s));
	const uint8_t *p = v->mv_data;
	if (p[0] != RUN_MARK) {
		r->seq = s;
		r->ev = *v;
		r->next = r->end = NULL;
		return 0;
	}
	r->seq = (uint64_t)s - 1;
	r->next = p + 1;
	r->end = p + v->mv_size;
	/* A run holds at least one event. */
	int rv = store_rec_next(r);
	return rv == MDB_NOTFOUND ? MDB_CORRUPTED : rv;
}

int
store_rec_next(store_rec *r)
{
	uint64_t len;
	size_t n;
	if (r->next == r->end)
		return MDB_NOTFOUND;
	n = vb_varint_decode(r->next, (size_t)(r->end - r->next), &len);
	if (n == 0 || len == 0 || len > (uint64_t)(r->end - r->next - n))
		return MDB_CORRUPTED;
	r->ev.mv_data = (void *)(r->next + n);
	r->ev.mv_size = (size_t)len;
	r->next += n + len;
	r->seq++;
	return 0;
}

/* Walk r, the record cur is on, to the event of seq from or the first
 * after it: MDB_NOTFOUND when every event of r is before from. */
static int
walk_to(store_rec *r, uint64_t from)
{
	int rv = 0;
	while (rv == 0 && r->seq < from)
		rv = store_rec_next(r);
	return rv;
}

int
store_log_seek(MDB_cursor *cur, uint64_t from, store_rec *r)
{
	size_t s = (size_t)from;
	MDB_val k = { sizeof(s), &s }, v;
	int at, rv;

	at = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (at != 0 && at != MDB_NOTFOUND)
		return at;
	if (at == 0 && k.mv_size == sizeof(s) && memcmp(k.mv_data, &s, sizeof(s)) == 0)
		return store_rec_open(r, &k, &v);
	/* from may be inside the record before. */
	rv = mdb_cursor_get(cur, &k, &v, at == 0 ? MDB_PREV : MDB_LAST);
	if (rv == 0) {
		if ((rv = store_rec_open(r, &k, &v)) != 0 ||
		    (rv = walk_to(r, from)) != MDB_NOTFOUND)
			return rv;
	} else if (rv != MDB_NOTFOUND) {
		return rv;
	}
	if (at == MDB_NOTFOUND)
		return MDB_NOTFOUND;
	/* No: the record SET_RANGE found, after it. */
	s = (size_t)from;
	k.mv_size = sizeof(s);
	k.mv_data = &s;
	if ((rv = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
		return rv;
	return store_rec_open(r, &k, &v);
}

int
store_log_next(MDB_cursor *cur, store_rec *r)
{
	MDB_val k, v;
	int rv = store_rec_next(r);
	if (rv != MDB_NOTFOUND)
		return rv;
	if ((rv = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) != 0)
		return rv;
	return store_rec_open(r, &k, &v);
}

int
store_log_get(MDB_cursor *cur, uint64_t seq, MDB_val *ev)
{
	store_rec r;
	int rv = store_log_seek(cur, seq, &r);
	if (rv == 0 && r.seq != seq)
		rv = MDB_NOTFOUND;
	if (rv == 0)
		*ev = r.ev;
	return rv;
}

int
store_log_last(MDB_cursor *cur, uint64_t *seq)
{
	MDB_val k, v;
	store_rec r;
	int rv = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	*seq = 0;
	if (rv == MDB_NOTFOUND)
		return 0;
	if (rv != 0 || (rv = store_rec_open(&r, &k, &v)) != 0)
		return rv;
	while ((rv = store_rec_next(&r)) == 0)
		;
	if (rv != MDB_NOTFOUND)
		return rv;
	*seq = r.seq;
	return 0;
}

/* ---- the writer's open run ---- */

size_t
store_log_run_max(size_t page_size)
{
	/* LMDB keeps a value on the leaf page while its node (header 8,
	 * key 8) fits in half a page less the page header (16) and an
	 * index slot (2); the rest is slack. */
	return (page_size - 16) / 2 - 2 - 8 - 8 - 16;
}

int
store_log_add(store_txn *t, uint64_t seq, size_t at)
{
	size_t end = t->stored->len;
	int rv;
	/* 1: the run's mark. */
	if (t->run_n > 0 && 1 + end - t->run_start > t->st->run_max &&
	    (rv = store_log_flush(t)) != 0)
		return rv;
	if (t->run_n == 0) {
		t->run_seq = seq;
		t->run_start = at;
	}
	t->run_n++;
	t->run_end = end;
	return 0;
}

int
store_log_flush(store_txn *t)
{
	const uint8_t *p = t->stored->data + t->run_start;
	size_t len = t->run_end - t->run_start, s = (size_t)t->run_seq;
	MDB_val k = { sizeof(s), &s }, v;
	uint64_t elen;
	int rv;

	if (t->run_n == 0)
		return 0;
	/* Keys only ever grow: MDB_APPEND fills pages to the brim and skips
	 * the search. */
	if (t->run_n == 1) {
		size_t n = vb_varint_decode(p, len, &elen);
		if (n == 0 || elen != len - n)
			return MDB_CORRUPTED;
		v.mv_size = (size_t)elen;
		v.mv_data = (void *)(p + n);
		rv = mdb_put(t->txn, t->st->dlog, &k, &v, MDB_APPEND);
	} else {
		v.mv_size = 1 + len;
		rv = mdb_put(t->txn, t->st->dlog, &k, &v, MDB_APPEND | MDB_RESERVE);
		if (rv == 0) {
			((uint8_t *)v.mv_data)[0] = RUN_MARK;
			memcpy((uint8_t *)v.mv_data + 1, p, len);
		}
	}
	t->run_n = 0;
	return rv;
}
