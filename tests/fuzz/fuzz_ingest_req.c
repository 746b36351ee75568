/* Fuzz target ingest_req: a message on the ingest socket, as the broker's
 * ingest workers take it: decode the IngestRequest, then for every event
 * what a worker does before the writer -- validate, encode canonically,
 * find the gate's fact -- and print it as the log would.  The facts are
 * folded into one customer's state, as the writer does, and the gate
 * decides on it.
 *
 * Properties: a valid event's stored form (canonical bytes, seq, recorded)
 * decodes, and is the same whether copied from the request's bytes (when
 * they are canonical) or packed again; the events re-encoded as a request
 * decode to as many events; decoded into an arena (by the broker's own
 * walk when the events are canonical) the request is the same as decoded
 * by protobuf-c. */
#include <string.h>

#include "vb_arena.h"
#include "vb_error.h"
#include "vb_event.h"
#include "vb_fuzz.h"
#include "vb_gate.h"
#include "vb_state.h"
#include "vb_validate.h"
#include "vb_wire.h"

#define MAX_EVENTS 4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vb_ingest_req *req = NULL, *again = NULL;
	vb_buf buf = { 0 }, json = { 0 };
	vb_event **evs = NULL;
	char err[VB_ERRMSG_MAX];
	vb_state st = { 0 }, st2 = { 0 };
	vb_rules rules;
	size_t n;

	vb_rules_defaults(&rules);
	vb_ingest_req *in = NULL;
	vb_arena a = { 0 };
	int rv = vb_ingest_req_decode(data, size, &req);
	int rv_in = vb_ingest_req_decode_in(data, size, &a, &in);
	/* The budget is the same, but the two decoders' needs differ a little:
	 * over it, either may say so first. */
	VB_FUZZ_CHECK(rv == rv_in || rv == VB_ETOOBIG || rv_in == VB_ETOOBIG,
	    "decoded: %d, in an arena: %d", rv, rv_in);
	if (rv != 0 || rv_in != 0) {
		vb_ingest_req_free(req); /* NULL when refused */
		vb_arena_free(&a);
		return 0;
	}
	n = vb_ingest_req_count(req);
	VB_FUZZ_CHECK(vb_ingest_req_count(in) == n, "%zu events, in an arena %zu",
	    n, vb_ingest_req_count(in));
	{
		size_t l1, l2;
		const char *t1 = vb_ingest_req_token(req, &l1);
		const char *t2 = vb_ingest_req_token(in, &l2);
		VB_FUZZ_CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0, "tokens differ");
	}
	for (size_t i = 0; i < n && i < MAX_EVENTS; i++) {
		vb_event *e1 = vb_ingest_req_event(req, i), *e2 = vb_ingest_req_event(in, i);
		VB_FUZZ_CHECK(vb_event_pb_size(e1) == vb_event_pb_size(e2),
		    "event %zu: sizes differ in an arena", i);
		vb_buf_reset(&buf);
		vb_buf_reset(&json);
		vb_event_set_seq(e2, vb_event_seq(e2)); /* packed, not copied */
		VB_FUZZ_CHECK(vb_event_to_pb(e1, &buf) == 0 && vb_event_to_pb(e2, &json) == 0,
		    "to_pb failed");
		VB_FUZZ_CHECK(buf.len == json.len &&
		        (buf.len == 0 || memcmp(buf.data, json.data, buf.len) == 0),
		    "event %zu: decoded in an arena, another event", i);
	}
	vb_arena_free(&a);
	if (n > MAX_EVENTS)
		n = MAX_EVENTS;
	evs = calloc(n ? n : 1, sizeof(*evs));
	VB_FUZZ_CHECK(evs != NULL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		vb_event *ev = vb_ingest_req_event(req, i);
		int64_t us;
		vb_fact f;
		evs[i] = ev;
		/* As lent (maybe the request's bytes), then packed again:
		 * setting seq forgets the bytes. */
		vb_buf_reset(&buf);
		vb_buf_reset(&json);
		VB_FUZZ_CHECK(vb_event_to_pb_canonical(ev, &buf) == 0,
		    "canonical failed");
		size_t sz = vb_event_pb_size(ev);
		vb_event_set_seq(ev, vb_event_seq(ev));
		VB_FUZZ_CHECK(vb_event_to_pb_canonical(ev, &json) == 0,
		    "canonical failed");
		VB_FUZZ_CHECK(buf.len == json.len &&
		        (buf.len == 0 || memcmp(buf.data, json.data, buf.len) == 0),
		    "event %zu: the request's bytes and the packing differ", i);
		VB_FUZZ_CHECK(vb_event_pb_size(ev) == sz, "event %zu: size %zu, then %zu",
		    i, sz, vb_event_pb_size(ev));
		vb_buf_reset(&json);
		VB_FUZZ_CHECK(vb_event_to_json(ev, &json) == 0,
		    "to_json failed");
		if (vb_event_validate(ev, &us, err, sizeof(err)) != 0)
			continue;
		/* What the broker stores for it must read back: replay, tail
		 * and rebuild decode the stored bytes. */
		vb_buf_reset(&buf);
		VB_FUZZ_CHECK(vb_event_to_pb_canonical(ev, &buf) == 0,
		    "canonical failed");
		VB_FUZZ_CHECK(vb_event_pb_tail(i + 1, "2026-11-20T09:12:00Z",
		                  &buf) == 0,
		    "tail");
		vb_event *stored = NULL;
		VB_FUZZ_CHECK(vb_event_from_pb(buf.data, buf.len, &stored) == 0,
		    "event %zu (%s) is accepted, but what the broker would store does not "
		    "decode",
		    i, vb_event_id(ev));
		vb_event_free(stored);
		if (vb_fact_from_event(ev, us, &f) == 0) {
			VB_FUZZ_CHECK(f.kind != VB_FACT_NONE,
			    "a fact of no kind");
			VB_FUZZ_CHECK(f.event != NULL && f.key != NULL,
			    "a fact without its strings");
			VB_FUZZ_CHECK(vb_state_apply(&st, &f,
			                  vb_rules_keep_us(&rules)) == 0,
			    "apply failed");
		}
	}
	/* The state as the store keeps it, and the gate's answers on it. */
	vb_buf_reset(&buf);
	VB_FUZZ_CHECK(vb_state_encode(&st, &buf) == 0, "state encode failed");
	VB_FUZZ_CHECK(vb_state_decode(buf.data, buf.len, &st2) == 0,
	    "our own state does not decode");
	vb_buf_reset(&json);
	VB_FUZZ_CHECK(vb_state_to_json(&st2, &json) == 0,
	    "state to_json failed");
	VB_FUZZ_CHECK(vb_fuzz_json_ok(json.data, json.len),
	    "the state of valid events "
	    "does not print as JSON: %.*s",
	    (int)json.len, (const char *)json.data);
	for (int p = 0; p < VB_NPURPOSES; p++) {
		vb_decision d;
		vb_gate_decide(&rules, &st2, p, p % VB_NCHANNELS, st.max_us,
		    &d);
		VB_FUZZ_CHECK(p != VB_P_SERVICE || d.allow, "service blocked");
		vb_buf_reset(&json);
		VB_FUZZ_CHECK(vb_gate_reasons_json(&d, &json) == 0,
		    "reasons failed");
		VB_FUZZ_CHECK(vb_fuzz_json_ok(json.data, json.len),
		    "reasons are not JSON: %.*s", (int)json.len,
		    (const char *)json.data);
	}
	vb_state_free(&st);
	vb_state_free(&st2);

	/* A request borrowed from another still encodes (the events are lent). */
	vb_buf_reset(&buf);
	VB_FUZZ_CHECK(vb_ingest_req_encode(evs, n, &buf) == 0, "encode failed");
	/* The decode budget goes by bytes, and encoding again drops bytes
	 * that cost nothing to decode (padding, unknown fields): a request of
	 * tiny events near the budget may then be refused as too big. */
	int again_rv = vb_ingest_req_decode(buf.data, buf.len, &again);
	VB_FUZZ_CHECK(again_rv == 0 || (again_rv == VB_ETOOBIG && buf.len < size),
	    "our own request does not decode: %d", again_rv);
	VB_FUZZ_CHECK(again_rv != 0 || vb_ingest_req_count(again) == n,
	    "%zu events became %zu", n, again ? vb_ingest_req_count(again) : 0);
	vb_ingest_req_free(again);
	free(evs);
	vb_buf_free(&buf);
	vb_buf_free(&json);
	vb_ingest_req_free(req);
	return 0;
}
