/* Fuzz target event_pb: bytes as a stored or published voicebus.v1.Event,
 * the way the broker and its readers take them: decode, validate, print as
 * JSON, peek at the top-level fields without decoding.
 *
 * Properties: decoding what we encoded gives the same event; a valid event
 * survives pb -> JSON -> pb (the contract's lossless text form) and the
 * broker's storage form (canonical bytes + seq and recorded) decodes and
 * peeks back to its own id, type, customer, time and seq.  Bytes the
 * broker would store as they are (vb_event_pb_is_canonical) are exactly
 * what packing the decoded event writes, and their strings are UTF-8. */
#include <string.h>

#include "vb_event.h"
#include "vb_fuzz.h"
#include "vb_validate.h"

static int
same_field(const char *s, size_t len, const char *want)
{
	return strlen(want) == len && (len == 0 || memcmp(s, want, len) == 0);
}

/* vb_event_each_string: 1 at a string that is not UTF-8. */
static int
not_utf8(void *arg, const char *prefix, const char *field, const char *value)
{
	(void)arg;
	(void)prefix;
	(void)field;
	return !vb_utf8_valid(value, strlen(value));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vb_event *ev = NULL, *ev2 = NULL, *ev3 = NULL, *ev4 = NULL;
	vb_buf json = { 0 }, json2 = { 0 }, json3 = { 0 }, pb = { 0 },
	       direct = { 0 }, canon = { 0 };
	char err[VB_ERRMSG_MAX];
	vb_event_peek pk;
	int64_t us;

	(void)vb_event_peek_pb(data, size, &pk);
	if (vb_event_from_pb(data, size, &ev) != 0) {
		/* The readers' shortcut must refuse it too, or print it. */
		(void)vb_event_pb_to_json(data, size, &direct);
		VB_FUZZ_CHECK(!vb_event_pb_is_canonical(data, size),
		    "taken as canonical, but does not decode");
		goto out;
	}
	if (vb_event_pb_is_canonical(data, size)) {
		VB_FUZZ_CHECK(vb_event_to_pb_canonical(ev, &canon) == 0,
		    "canonical failed");
		VB_FUZZ_CHECK(canon.len == size &&
		        (size == 0 || memcmp(canon.data, data, size) == 0),
		    "taken as canonical, but packing gives %zu other bytes", canon.len);
		VB_FUZZ_CHECK(vb_event_pb_size(ev) == size, "canonical: size %zu of %zu",
		    vb_event_pb_size(ev), size);
		/* vb_event_validate takes a canonical event's text as UTF-8. */
		VB_FUZZ_CHECK(vb_event_each_string(ev, not_utf8, NULL) == 0,
		    "taken as canonical, but a string is not UTF-8");
	}
	VB_FUZZ_CHECK(vb_event_to_json(ev, &json) == 0, "to_json failed");
	VB_FUZZ_CHECK(vb_event_pb_to_json(data, size, &direct) == 0,
	    "decodes but pb_to_json refuses it");
	VB_FUZZ_CHECK(direct.len == json.len &&
	        memcmp(direct.data, json.data, json.len) == 0,
	    "pb_to_json and to_json differ");
	(void)vb_event_payload_type(ev);
	(void)vb_event_data_str(ev, "case");
	(void)vb_event_data_str(ev, "channel");

	/* Encoded again and decoded, it is the same event. */
	VB_FUZZ_CHECK(vb_event_to_pb(ev, &pb) == 0, "to_pb failed");
	VB_FUZZ_CHECK(vb_event_from_pb(pb.data, pb.len, &ev2) == 0,
	    "re-encoding does not decode");
	VB_FUZZ_CHECK(vb_event_to_json(ev2, &json2) == 0, "to_json failed");
	VB_FUZZ_CHECK(json.len == json2.len &&
	        memcmp(json.data, json2.data, json.len) == 0,
	    "pb round trip changed the event: %.*s / %.*s", (int)json.len,
	    (const char *)json.data, (int)json2.len, (const char *)json2.data);

	if (vb_event_validate(ev, &us, err, sizeof(err)) != 0) {
		VB_FUZZ_CHECK(err[0] != '\0', "rejected without a reason");
		goto out;
	}
	/* Valid: its JSON line reads back as the same event. */
	VB_FUZZ_CHECK(vb_event_from_json((const char *)json.data, json.len,
	                  &ev3, err, sizeof(err)) == 0,
	    "a valid event's JSON does not parse: %s: %.*s", err, (int)json.len,
	    (const char *)json.data);
	VB_FUZZ_CHECK(vb_event_validate(ev3, NULL, err, sizeof(err)) == 0,
	    "a valid event's JSON is not valid: %s", err);
	VB_FUZZ_CHECK(vb_event_to_json(ev3, &json3) == 0, "to_json failed");
	VB_FUZZ_CHECK(json.len == json3.len &&
	        memcmp(json.data, json3.data, json.len) == 0,
	    "pb -> JSON -> pb is not lossless: %.*s / %.*s", (int)json.len,
	    (const char *)json.data, (int)json3.len, (const char *)json3.data);

	/* As the broker stores it: canonical bytes, then seq and recorded. */
	vb_buf_reset(&pb);
	VB_FUZZ_CHECK(vb_event_to_pb_canonical(ev, &pb) == 0,
	    "canonical failed");
	VB_FUZZ_CHECK(vb_event_pb_tail(42, "2026-11-20T09:12:00Z", &pb) == 0,
	    "tail failed");
	VB_FUZZ_CHECK(vb_event_from_pb(pb.data, pb.len, &ev4) == 0,
	    "stored form does not decode");
	VB_FUZZ_CHECK(vb_event_peek_pb(pb.data, pb.len, &pk) == 0,
	    "stored form does not peek");
	VB_FUZZ_CHECK(pk.seq == 42, "peek: seq %llu",
	    (unsigned long long)pk.seq);
	VB_FUZZ_CHECK(same_field(pk.id, pk.id_len, vb_event_id(ev)),
	    "peek: id");
	VB_FUZZ_CHECK(same_field(pk.type, pk.type_len, vb_event_type(ev)),
	    "peek: type");
	VB_FUZZ_CHECK(same_field(pk.customer, pk.customer_len,
	                  vb_event_customer(ev)),
	    "peek: customer");
	VB_FUZZ_CHECK(same_field(pk.time, pk.time_len, vb_event_time(ev)),
	    "peek: time");
out:
	vb_event_free(ev);
	vb_event_free(ev2);
	vb_event_free(ev3);
	vb_event_free(ev4);
	vb_buf_free(&json);
	vb_buf_free(&json2);
	vb_buf_free(&json3);
	vb_buf_free(&pb);
	vb_buf_free(&direct);
	vb_buf_free(&canon);
	return 0;
}
