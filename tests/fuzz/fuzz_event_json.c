/* Fuzz target event_json: one line of the contract's text form, as
 * `voicebus publish` and the adapters' --jsonl read it: parse, validate,
 * encode as protobuf.
 *
 * Properties: what parses prints as JSON that parses again to the same
 * print (one step reaches the fixed point); a valid event stays valid and
 * the same through JSON -> pb -> JSON. */
#include <string.h>

#include "vb_event.h"
#include "vb_fuzz.h"
#include "vb_validate.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vb_event *ev = NULL, *ev2 = NULL, *ev3 = NULL;
	vb_buf json = { 0 }, json2 = { 0 }, json3 = { 0 }, pb = { 0 };
	char err[VB_ERRMSG_MAX];
	int rv;

	rv =
	    vb_event_from_json((const char *)data, size, &ev, err, sizeof(err));
	if (rv != 0) {
		VB_FUZZ_CHECK(err[0] != '\0', "refused without a reason");
		goto out;
	}
	VB_FUZZ_CHECK(vb_event_to_json(ev, &json) == 0, "to_json failed");
	rv = vb_event_from_json((const char *)json.data, json.len, &ev2, err,
	    sizeof(err));
	VB_FUZZ_CHECK(rv == 0, "our own JSON does not parse: %s: %.*s", err,
	    (int)json.len, (const char *)json.data);
	VB_FUZZ_CHECK(vb_event_to_json(ev2, &json2) == 0, "to_json failed");
	VB_FUZZ_CHECK(json.len == json2.len &&
	        memcmp(json.data, json2.data, json.len) == 0,
	    "JSON -> event -> JSON is not stable: %.*s / %.*s", (int)json.len,
	    (const char *)json.data, (int)json2.len, (const char *)json2.data);

	VB_FUZZ_CHECK(vb_event_to_pb(ev, &pb) == 0, "to_pb failed");
	VB_FUZZ_CHECK(vb_event_pb_size(ev) == pb.len,
	    "pb_size %zu, encoded %zu", vb_event_pb_size(ev), pb.len);
	VB_FUZZ_CHECK(vb_event_from_pb(pb.data, pb.len, &ev3) == 0,
	    "our own pb does not decode");
	VB_FUZZ_CHECK(vb_event_to_json(ev3, &json3) == 0, "to_json failed");
	VB_FUZZ_CHECK(json.len == json3.len &&
	        memcmp(json.data, json3.data, json.len) == 0,
	    "JSON -> pb -> JSON is not lossless: %.*s / %.*s", (int)json.len,
	    (const char *)json.data, (int)json3.len, (const char *)json3.data);

	if (vb_event_validate(ev, NULL, err, sizeof(err)) != 0) {
		VB_FUZZ_CHECK(err[0] != '\0', "rejected without a reason");
		goto out;
	}
	VB_FUZZ_CHECK(vb_event_validate(ev3, NULL, err, sizeof(err)) == 0,
	    "valid, but not after a pb round trip: %s", err);
	vb_buf_reset(&pb);
	VB_FUZZ_CHECK(vb_event_to_pb_canonical(ev, &pb) == 0,
	    "canonical failed");
	VB_FUZZ_CHECK(pb.len <= VB_EVENT_MAX_BYTES,
	    "valid, yet %zu bytes encoded", pb.len);
out:
	vb_event_free(ev);
	vb_event_free(ev2);
	vb_event_free(ev3);
	vb_buf_free(&json);
	vb_buf_free(&json2);
	vb_buf_free(&json3);
	vb_buf_free(&pb);
	return 0;
}
