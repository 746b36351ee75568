/* Fuzz target query_req: a message on the query socket, as the broker's
 * query workers take it: decode the QueryRequest, then the checks a worker
 * makes on what it asks (times, purposes, channels).
 *
 * Property: a decoded request encodes and decodes to the same request. */
#include <string.h>

#include "vb_fuzz.h"
#include "vb_gate.h"
#include "vb_time.h"
#include "vb_validate.h"
#include "vb_wire.h"

static int
same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static void
check_time(const char *s)
{
	int64_t us;
	char buf[VB_TIME_BUFSZ];
	if (s == NULL || s[0] == '\0' || vb_time_parse(s, &us) != 0)
		return;
	/* What parses formats, and the format parses to the same instant. */
	int64_t again;
	VB_FUZZ_CHECK(vb_time_parse(vb_time_format(us, buf), &again) == 0,
	    "%s -> %s does not parse", s, buf);
	VB_FUZZ_CHECK(again == us, "%s -> %s -> another instant", s, buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vb_query_req q, q2;
	vb_buf buf = { 0 };

	if (vb_query_req_decode(data, size, &q) != 0)
		return 0;
	switch (q.kind) {
	case VB_QUERY_REPLAY:
		check_time(q.replay.since);
		check_time(q.replay.until);
		break;
	case VB_QUERY_GATE:
		check_time(q.gate.at);
		(void)vb_purpose_index(q.gate.purpose);
		(void)vb_channel_index(q.gate.channel);
		for (size_t i = 0; i < q.gate.n; i++)
			VB_FUZZ_CHECK(q.gate.customers[i] != NULL,
			    "customer %zu is NULL", i);
		break;
	case VB_QUERY_CUSTOMER: check_time(q.customer.at); break;
	case VB_QUERY_SUPPRESSIONS:
		(void)vb_purpose_index(q.supp.purpose);
		(void)vb_channel_index(q.supp.channel);
		break;
	default: break;
	}
	if (q.kind == VB_QUERY_NONE) {
		vb_query_req_free(&q);
		return 0;
	}
	VB_FUZZ_CHECK(vb_query_req_encode(&q, &buf) == 0, "encode failed");
	VB_FUZZ_CHECK(vb_query_req_decode(buf.data, buf.len, &q2) == 0,
	    "our own request does not decode");
	VB_FUZZ_CHECK(q2.kind == q.kind, "kind %d became %d", q.kind, q2.kind);
	switch (q.kind) {
	case VB_QUERY_REPLAY:
		VB_FUZZ_CHECK(q.replay.from_seq == q2.replay.from_seq &&
		        q.replay.to_seq == q2.replay.to_seq &&
		        q.replay.limit == q2.replay.limit &&
		        same(q.replay.since, q2.replay.since) &&
		        same(q.replay.until, q2.replay.until) &&
		        same(q.replay.customer, q2.replay.customer) &&
		        same(q.replay.type_prefix, q2.replay.type_prefix),
		    "replay changed");
		break;
	case VB_QUERY_GATE:
		VB_FUZZ_CHECK(q.gate.n == q2.gate.n &&
		        same(q.gate.purpose, q2.gate.purpose) &&
		        same(q.gate.channel, q2.gate.channel) &&
		        same(q.gate.at, q2.gate.at) &&
		        same(q.gate.record, q2.gate.record),
		    "gate changed");
		for (size_t i = 0; i < q.gate.n; i++)
			VB_FUZZ_CHECK(same(q.gate.customers[i],
			                  q2.gate.customers[i]),
			    "gate customer %zu changed", i);
		break;
	case VB_QUERY_CUSTOMER:
		VB_FUZZ_CHECK(same(q.customer.customer, q2.customer.customer) &&
		        same(q.customer.at, q2.customer.at),
		    "customer changed");
		break;
	case VB_QUERY_SUPPRESSIONS:
		VB_FUZZ_CHECK(same(q.supp.after, q2.supp.after) &&
		        q.supp.limit == q2.supp.limit &&
		        same(q.supp.purpose, q2.supp.purpose) &&
		        same(q.supp.channel, q2.supp.channel),
		    "suppressions changed");
		break;
	default: break;
	}
	vb_query_req_free(&q2);
	vb_query_req_free(&q);
	vb_buf_free(&buf);
	return 0;
}
