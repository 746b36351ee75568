/* Fuzz target log_record: a record of the store's log as LMDB hands it
 * back (broker/vb_store_log.c): one event's stored bytes, or a run of
 * events (a 0 byte, then varint length and bytes per event), walked as
 * replay, recovery and the gate's folds walk it, each event peeked as
 * they do.
 *
 * Properties: the walk ends, in MDB_NOTFOUND (the record's end) or
 * MDB_CORRUPTED; seqs count up by one from the key; every event lies in
 * the record, after the one before; a run walked to its end holds its
 * events and nothing else (their lengths and bytes add up to it, with
 * varints no longer than the bytes they stood in). */
#include <lmdb.h>
#include <string.h>

#include "vb_buf.h"
#include "vb_event.h"
#include "vb_fuzz.h"
#include "vb_store_impl.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t seq = 1000;
	MDB_val k = { sizeof(seq), &seq }, v = { size, (void *)data };
	const uint8_t *end = data + size, *after = data;
	size_t walked = 0, events = 0;
	store_rec r;
	int rv;

	for (rv = store_rec_open(&r, &k, &v); rv == 0; rv = store_rec_next(&r)) {
		const uint8_t *p = r.ev.mv_data;
		vb_event_peek pk;
		VB_FUZZ_CHECK(r.seq == seq + events, "seq %llu after %zu events",
		    (unsigned long long)r.seq, events);
		VB_FUZZ_CHECK(p >= after && r.ev.mv_size <= (size_t)(end - p),
		    "event %zu outside the record", events);
		VB_FUZZ_CHECK(r.ev.mv_size > 0, "empty event %zu", events);
		after = p + r.ev.mv_size;
		walked += vb_varint_len(r.ev.mv_size) + r.ev.mv_size;
		(void)vb_event_peek_pb(p, r.ev.mv_size, &pk);
		events++;
		VB_FUZZ_CHECK(events <= size, "%zu events in %zu bytes", events, size);
	}
	VB_FUZZ_CHECK(rv == MDB_NOTFOUND || rv == MDB_CORRUPTED, "walk ended in %d", rv);
	if (rv == MDB_NOTFOUND && size > 0 && data[0] == 0) {
		VB_FUZZ_CHECK(after == end, "a run with %zu bytes after its events",
		    (size_t)(end - after));
		VB_FUZZ_CHECK(1 + walked <= size, "run of %zu bytes walked as %zu", size,
		    1 + walked);
	}
	if (rv == MDB_NOTFOUND && size > 0 && data[0] != 0)
		VB_FUZZ_CHECK(events == 1 && r.ev.mv_size == size, "a lone event cut");
	return 0;
}
