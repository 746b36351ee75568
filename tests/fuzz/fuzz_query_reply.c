/* Fuzz target query_reply: a reply on the query socket, as the clients
 * (voicebus replay, tail, gate, customer, suppressions, stats, filter)
 * decode it, then what replay and tail do with a page: peek at each event
 * and print it as a JSON line.
 *
 * Properties: a decoded reply encodes and decodes to the same reply; the
 * replies written without protobuf-c are the bytes it packs. */
#include <stdio.h>
#include <string.h>

#include "vb_event.h"
#include "vb_validate.h"
#include "vb_fuzz.h"
#include "vb_wire.h"

static int
same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static void
same_decisions(const vb_query_reply *a, const vb_query_reply *b)
{
	VB_FUZZ_CHECK(a->ndecisions == b->ndecisions && same(a->at, b->at),
	    "decisions changed");
	for (size_t i = 0; i < a->ndecisions; i++) {
		const vb_decision_msg *x = &a->decisions[i],
		                      *y = &b->decisions[i];
		VB_FUZZ_CHECK(same(x->customer, y->customer) &&
		        same(x->purpose, y->purpose) &&
		        same(x->channel, y->channel) &&
		        !x->allow == !y->allow &&
		        same(x->reasons, y->reasons) &&
		        x->recorded_seq == y->recorded_seq &&
		        !x->recorded_duplicate == !y->recorded_duplicate,
		    "decision %zu changed", i);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vb_query_reply r, r2;
	vb_buf buf = { 0 }, json = { 0 };

	if (vb_query_reply_decode(data, size, &r) != 0)
		return 0;
	VB_FUZZ_CHECK(r.error != NULL, "error is NULL");
	if (r.kind == VB_QUERY_REPLAY) {
		for (size_t i = 0; i < r.replay.n; i++) {
			vb_event_peek pk;
			(void)vb_event_peek_pb(r.replay.events[i].p,
			    r.replay.events[i].len, &pk);
			vb_buf_reset(&json);
			(void)vb_event_pb_to_json(r.replay.events[i].p,
			    r.replay.events[i].len, &json);
		}
	}
	for (size_t i = 0; i < r.stats.ntypes; i++)
		VB_FUZZ_CHECK(r.stats.types[i].name != NULL,
		    "type %zu: name is NULL", i);
	for (size_t i = 0; i < r.stats.nsources; i++)
		VB_FUZZ_CHECK(r.stats.sources[i].name != NULL,
		    "source %zu: name is NULL", i);

	VB_FUZZ_CHECK(vb_query_reply_encode(&r, &buf) == 0, "encode failed");
	{
		/* Written directly or packed by protobuf-c: the same bytes. */
		vb_buf ref = { 0 };
		VB_FUZZ_CHECK(vb_query_reply_encode_pb(&r, &ref) == 0, "encode failed");
		VB_FUZZ_CHECK(ref.len == buf.len &&
		        (buf.len == 0 || memcmp(ref.data, buf.data, buf.len) == 0),
		    "%zu bytes written, protobuf-c packs %zu others", buf.len, ref.len);
		vb_buf_free(&ref);
	}
	VB_FUZZ_CHECK(vb_query_reply_decode(buf.data, buf.len, &r2) == 0,
	    "our own reply does not decode");
	/* An error that is not UTF-8 goes out scrubbed, as proto3 wants
	 * (vb_query_reply_encode): expect what the encoder makes of it. */
	char want[512];
	const char *expect = r.error;
	if (!vb_utf8_valid(r.error, strlen(r.error))) {
		snprintf(want, sizeof(want), "%s", r.error);
		vb_utf8_scrub(want);
		expect = want;
	}
	VB_FUZZ_CHECK(r2.code == r.code && same(r2.error, expect),
	    "code or error changed");
	if (r.code == 0) {
		VB_FUZZ_CHECK(r2.kind == r.kind, "kind %d became %d", r.kind,
		    r2.kind);
		switch (r.kind) {
		case VB_QUERY_REPLAY:
			VB_FUZZ_CHECK(r2.replay.n == r.replay.n &&
			        r2.replay.next_seq == r.replay.next_seq &&
			        !r2.replay.done == !r.replay.done &&
			        r2.replay.last_seq == r.replay.last_seq,
			    "replay changed");
			for (size_t i = 0; i < r.replay.n; i++)
				VB_FUZZ_CHECK(r2.replay.events[i].len ==
				            r.replay.events[i].len &&
				        (r.replay.events[i].len == 0 ||
				            memcmp(r2.replay.events[i].p,
				                r.replay.events[i].p,
				                r.replay.events[i].len) == 0),
				    "event %zu changed", i);
			break;
		case VB_QUERY_STATS:
			VB_FUZZ_CHECK(r2.stats.events == r.stats.events &&
			        r2.stats.last_seq == r.stats.last_seq &&
			        r2.stats.ntypes == r.stats.ntypes &&
			        r2.stats.nsources == r.stats.nsources,
			    "stats changed");
			for (size_t i = 0; i < r.stats.ntypes; i++)
				VB_FUZZ_CHECK(same(r2.stats.types[i].name,
				                  r.stats.types[i].name) &&
				        r2.stats.types[i].count ==
				            r.stats.types[i].count,
				    "type count %zu changed", i);
			break;
		case VB_QUERY_GATE:
		case VB_QUERY_SUPPRESSIONS:
			same_decisions(&r, &r2);
			VB_FUZZ_CHECK(r.kind != VB_QUERY_SUPPRESSIONS ||
			        (same(r.next, r2.next) && !r.done == !r2.done),
			    "page changed");
			break;
		case VB_QUERY_CUSTOMER:
			same_decisions(&r, &r2);
			VB_FUZZ_CHECK(same(r.state, r2.state), "state changed");
			break;
		case VB_QUERY_REBUILD:
			VB_FUZZ_CHECK(memcmp(r.rebuilt, r2.rebuilt,
			                  sizeof(r.rebuilt)) == 0,
			    "rebuild counts changed");
			break;
		default: break;
		}
	}
	vb_query_reply_free(&r2);
	vb_query_reply_free(&r);
	vb_buf_free(&buf);
	vb_buf_free(&json);
	return 0;
}
