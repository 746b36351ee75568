/* Unit tests of proto/vb_event: JSON <-> event <-> protobuf. */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "vb_buf.h"
#include "vb_error.h"
#include "vb_event.h"
#include "vb_validate.h"
#include "vb_test.h"

/* Assert that two JSON texts hold the same document. */
static void
assert_json_same(const char *got, size_t got_len, const char *want)
{
	json_error_t e1, e2;
	json_t *g = json_loadb(got, got_len, 0, &e1);
	json_t *w = json_loads(want, 0, &e2);
	ck_assert_msg(w != NULL, "test input is not JSON: %s: %s", want, e2.text);
	ck_assert_msg(g != NULL, "output is not JSON: %.*s: %s", (int)got_len, got,
	    e1.text);
	ck_assert_msg(json_equal(g, w), "JSON differs:\n got  %.*s\n want %s",
	    (int)got_len, got, want);
	json_decref(g);
	json_decref(w);
}

/* Parse json expecting failure; return the error text in err. */
static void
assert_rejected(const char *json, const char *want_err)
{
	char err[VB_ERRMSG_MAX];
	vb_event *ev = NULL;
	int rv;

	memset(err, 'x', sizeof(err));
	rv = vb_event_from_json(json, strlen(json), &ev, err, sizeof(err));
	ck_assert_msg(rv == VB_EINVAL, "%s: rv %d, want VB_EINVAL", json, rv);
	ck_assert_ptr_null(ev);
	ck_assert_msg(memchr(err, '\0', sizeof(err)) != NULL, "err not terminated");
	ck_assert_msg(strncmp(err, want_err, strlen(want_err)) == 0,
	    "%s:\n error \"%s\"\n want  \"%s...\"", json, err, want_err);
}

/* JSON -> event -> protobuf -> event -> JSON, for every type. */
START_TEST(round_trip_every_type)
{
	size_t n;
	const vbt_sample *smp = &vbt_samples(&n)[_i];
	vb_event *ev = vbt_event(smp->json), *back = NULL;
	vb_buf pb = { 0 }, j1 = { 0 }, j2 = { 0 }, j3 = { 0 };

	ck_assert_str_eq(vb_event_type(ev), smp->type);
	ck_assert_str_eq(vb_event_source(ev), smp->source);
	ck_assert_ptr_nonnull(vb_event_payload_type(ev));
	ck_assert_str_eq(vb_event_payload_type(ev), smp->type);
	ck_assert_int_eq(vb_event_type_known(smp->type), 1);

	ck_assert_int_eq(vb_event_to_pb(ev, &pb), 0);
	ck_assert_uint_eq(pb.len, vb_event_pb_size(ev));
	ck_assert_int_eq(vb_event_from_pb(pb.data, pb.len, &back), 0);
	ck_assert_str_eq(vb_event_id(back), vb_event_id(ev));
	ck_assert_str_eq(vb_event_source(back), smp->source);
	ck_assert_str_eq(vb_event_type(back), smp->type);
	ck_assert_str_eq(vb_event_customer(back), vb_event_customer(ev));
	ck_assert_str_eq(vb_event_time(back), vb_event_time(ev));
	ck_assert_str_eq(vb_event_payload_type(back), smp->type);
	ck_assert_uint_eq(vb_event_seq(back), 0);
	ck_assert_str_eq(vb_event_recorded(back), "");

	ck_assert_int_eq(vb_event_to_json(back, &j1), 0);
	assert_json_same((char *)j1.data, j1.len, smp->json);
	/* One object, no newline. */
	ck_assert_uint_eq(j1.data[0], '{');
	ck_assert_uint_eq(j1.data[j1.len - 1], '}');
	ck_assert_ptr_null(memchr(j1.data, '\n', j1.len));
	/* Both events print the same bytes, and so do the stored bytes. */
	ck_assert_int_eq(vb_event_to_json(ev, &j2), 0);
	ck_assert_uint_eq(j1.len, j2.len);
	ck_assert_mem_eq(j1.data, j2.data, j1.len);
	ck_assert_int_eq(vb_event_pb_to_json(pb.data, pb.len, &j3), 0);
	ck_assert_uint_eq(j1.len, j3.len);
	ck_assert_mem_eq(j1.data, j3.data, j1.len);

	vb_event_free(ev);
	vb_event_free(back);
	vb_buf_free(&pb);
	vb_buf_free(&j1);
	vb_buf_free(&j2);
	vb_buf_free(&j3);
}
END_TEST

START_TEST(samples_cover_every_type)
{
	static const char *const types[] = {
		"complaint.opened", "complaint.updated", "complaint.resolved",
		"complaint.reopened", "visit.scheduled", "visit.completed",
		"visit.missed", "visit.cancelled", "order.placed", "order.returned",
		"order.cancelled", "invoice.issued", "invoice.overdue", "invoice.paid",
		"consent.granted", "consent.withdrawn", "message.sent",
	};
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	ck_assert_uint_eq(n, sizeof(types) / sizeof(types[0]));
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(smp[i].type, types[i]);
		ck_assert_int_eq(vb_event_type_known(types[i]), 1);
	}
}
END_TEST

START_TEST(type_known_rejects)
{
	static const char *const bad[] = {
		"", "complaint", "complaint.", "complaint.closed", "visit.missed.x",
		"Complaint.Opened", "data", "attributes", "seq", "id", "suppression.change",
		/* The payload's field name is not a type name. */
		"complaint_opened", "visit_missed", "message_sent",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(vb_event_type_known(bad[i]) == 0,
		    "vb_event_type_known(\"%s\") = 1", bad[i]);
	ck_assert_int_eq(vb_event_type_known(NULL), 0);
	/* The broker's own event is a type, which no publisher may send
	 * (vb_validate: no source is granted it). */
	ck_assert_int_eq(vb_event_type_known("suppression.changed"), 1);
}
END_TEST

START_TEST(accessors)
{
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	vb_event *ev = vbt_event(smp[0].json);

	ck_assert_str_eq(vb_event_id(ev), "zd-4411-opened");
	ck_assert_str_eq(vb_event_source(ev), "service");
	ck_assert_str_eq(vb_event_type(ev), "complaint.opened");
	ck_assert_str_eq(vb_event_customer(ev), "C-1001");
	ck_assert_str_eq(vb_event_time(ev), "2026-11-20T09:12:00Z");
	ck_assert_str_eq(vb_event_recorded(ev), "");
	ck_assert_uint_eq(vb_event_seq(ev), 0);
	ck_assert_str_eq(vb_event_data_str(ev, "case"), "T-4411");
	ck_assert_str_eq(vb_event_data_str(ev, "summary"), "no sound from headphones");
	ck_assert_str_eq(vb_event_data_str(ev, "channel"), "phone");
	ck_assert_ptr_null(vb_event_data_str(ev, "visit"));
	ck_assert_ptr_null(vb_event_data_str(ev, "nonsense"));
	vb_event_free(ev);

	/* An int field is not a string field; an unset string is "". */
	ev = vbt_event(smp[8].json);
	ck_assert_ptr_null(vb_event_data_str(ev, "items"));
	ck_assert_str_eq(vb_event_data_str(ev, "amount"), "139.50");
	vb_event_free(ev);
	ev = vbt_event("{\"id\":\"a\",\"type\":\"order.placed\",\"data\":{\"order\":\"O\"}}");
	ck_assert_str_eq(vb_event_data_str(ev, "currency"), "");
	ck_assert_str_eq(vb_event_source(ev), "");
	ck_assert_str_eq(vb_event_customer(ev), "");
	vb_event_free(ev);
	vb_event_free(NULL);
}
END_TEST

START_TEST(missing_data_gives_empty_payload)
{
	/* Only the form is checked here: a type with no data still has its
	 * (empty) payload, so that validation can name the missing field. */
	vb_event *ev = vbt_event("{\"id\":\"a\",\"type\":\"visit.missed\"}");
	vb_buf j = { 0 };
	ck_assert_str_eq(vb_event_payload_type(ev), "visit.missed");
	ck_assert_str_eq(vb_event_data_str(ev, "visit"), "");
	ck_assert_int_eq(vb_event_to_json(ev, &j), 0);
	assert_json_same((char *)j.data, j.len,
	    "{\"id\":\"a\",\"type\":\"visit.missed\",\"data\":{}}");
	vb_event_free(ev);
	vb_buf_free(&j);

	ev = vbt_event("{\"id\":\"a\",\"type\":\"visit.missed\",\"data\":null,\"time\":null}");
	ck_assert_str_eq(vb_event_time(ev), "");
	vb_event_free(ev);
}
END_TEST

START_TEST(seq_and_recorded_round_trip)
{
	const char *json = "{\"seq\":42,\"id\":\"e1\",\"source\":\"sales\","
	    "\"type\":\"order.cancelled\",\"customer\":\"C-1\","
	    "\"time\":\"2026-11-20T09:12:00Z\",\"recorded\":\"2026-11-20T09:12:01.5Z\","
	    "\"data\":{\"order\":\"O-1\",\"reason\":\"x\"}}";
	vb_event *ev = vbt_event(json), *back = NULL;
	vb_buf pb = { 0 }, j = { 0 };

	ck_assert_uint_eq(vb_event_seq(ev), 42);
	ck_assert_str_eq(vb_event_recorded(ev), "2026-11-20T09:12:01.5Z");
	ck_assert_int_eq(vb_event_to_pb(ev, &pb), 0);
	ck_assert_int_eq(vb_event_from_pb(pb.data, pb.len, &back), 0);
	ck_assert_uint_eq(vb_event_seq(back), 42);
	ck_assert_str_eq(vb_event_recorded(back), "2026-11-20T09:12:01.5Z");
	ck_assert_int_eq(vb_event_to_json(back, &j), 0);
	assert_json_same((char *)j.data, j.len, json);
	vb_event_free(ev);
	vb_event_free(back);
	vb_buf_free(&pb);
	vb_buf_free(&j);
}
END_TEST

START_TEST(strings_escape_and_unicode)
{
	/* Quotes, backslashes, control characters, DEL, and multi-byte UTF-8
	 * survive both conversions, and the output is valid JSON. */
	const char *json = "{\"id\":\"q\\\"uote\\\\slash\",\"source\":\"service\","
	    "\"type\":\"complaint.opened\",\"customer\":\"Zoë Ünal\","
	    "\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"case\":\"T/1\","
	    "\"summary\":\"line1\\nline2\\ttab\\r\\u0001\\u001f\\u007f é € 😀 \\u2028\"},"
	    "\"attributes\":{\"k\\\"ey\":\"v\\\\al\\n\",\"ünï\":\"кириллица\"}}";
	vb_event *ev = vbt_event(json), *back = NULL;
	vb_buf pb = { 0 }, j = { 0 };

	ck_assert_str_eq(vb_event_id(ev), "q\"uote\\slash");
	ck_assert_str_eq(vb_event_data_str(ev, "summary"),
	    "line1\nline2\ttab\r\x01\x1f\x7f é € 😀 \xe2\x80\xa8");
	ck_assert_int_eq(vb_event_to_pb(ev, &pb), 0);
	ck_assert_int_eq(vb_event_from_pb(pb.data, pb.len, &back), 0);
	ck_assert_int_eq(vb_event_to_json(back, &j), 0);
	/* A JSON line holds no raw control characters. */
	for (size_t i = 0; i < j.len; i++)
		ck_assert_msg(j.data[i] >= 0x20, "raw byte 0x%02x at %zu in %s",
		    j.data[i], i, (char *)j.data);
	assert_json_same((char *)j.data, j.len, json);
	vb_event_free(ev);
	vb_event_free(back);
	vb_buf_free(&pb);
	vb_buf_free(&j);
}
END_TEST

/* The exact bytes of a JSON line: escapes, integers at their limits, the
 * seq, and an event too large to decode on the stack. */
START_TEST(pb_to_json_exact_bytes)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "{\"id\":\"a\\\"b\\\\c\\n\\t\\r\\u0001\\u007f\u00e9\",\"type\":\"order.returned\","
		  "\"customer\":\"C-1\",\"data\":{\"order\":\"O\",\"items\":-9223372036854775808},"
		  "\"attributes\":{\"k\\\"ey\":\"v\\u001f\"}}",
		  "{\"seq\":18446744073709551615,\"id\":\"a\\\"b\\\\c\\n\\t\\r\\u0001\\u007f\u00e9\","
		  "\"type\":\"order.returned\",\"customer\":\"C-1\",\"recorded\":\"R\",\"data\":"
		  "{\"order\":\"O\",\"items\":-9223372036854775808},\"attributes\":{\"k\\\"ey\":"
		  "\"v\\u001f\"}}" },
		{ "{\"id\":\"\",\"type\":\"order.placed\",\"data\":{\"items\":0}}",
		  "{\"seq\":18446744073709551615,\"type\":\"order.placed\",\"recorded\":\"R\","
		  "\"data\":{}}" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vb_event *ev = vbt_event(cases[i].in);
		vb_buf pb = { 0 }, j = { 0 };
		ck_assert_int_eq(vb_event_to_pb(ev, &pb), 0);
		ck_assert_int_eq(vb_event_pb_tail(UINT64_MAX, "R", &pb), 0);
		ck_assert_int_eq(vb_event_pb_to_json(pb.data, pb.len, &j), 0);
		ck_assert_str_eq((char *)j.data, cases[i].want);
		vb_event_free(ev);
		vb_buf_free(&pb);
		vb_buf_free(&j);
	}

	/* Strings larger than the stack block holds. */
	vb_buf in = { 0 }, want = { 0 }, pb = { 0 }, j = { 0 };
	vb_buf_append_str(&in, "{\"id\":\"a\",\"type\":\"order.placed\",\"attributes\":{");
	vb_buf_append_str(&want, "{\"id\":\"a\",\"type\":\"order.placed\",\"data\":{},"
	    "\"attributes\":{");
	for (int k = 0; k < 12; k++) {
		char kv[1100];
		snprintf(kv, sizeof(kv), "%s\"k%02d\":\"%01000d\"", k ? "," : "", k, k);
		vb_buf_append_str(&in, kv);
		vb_buf_append_str(&want, kv);
	}
	vb_buf_append_str(&in, "}}");
	vb_buf_append_str(&want, "}}");
	vb_event *ev = vbt_event((char *)in.data);
	ck_assert_int_eq(vb_event_to_pb(ev, &pb), 0);
	ck_assert_int_eq(vb_event_pb_to_json(pb.data, pb.len, &j), 0);
	ck_assert_str_eq((char *)j.data, (char *)want.data);
	vb_event_free(ev);
	vb_buf_free(&in);
	vb_buf_free(&want);
	vb_buf_free(&pb);
	vb_buf_free(&j);
}
END_TEST

START_TEST(integers)
{
	const char *json = "{\"id\":\"a\",\"type\":\"order.placed\",\"data\":"
	    "{\"order\":\"O\",\"items\":9223372036854775807}}";
	vb_event *ev = vbt_event(json), *back = NULL;
	vb_buf pb = { 0 }, j = { 0 };
	ck_assert_int_eq(vb_event_to_pb(ev, &pb), 0);
	ck_assert_int_eq(vb_event_from_pb(pb.data, pb.len, &back), 0);
	ck_assert_int_eq(vb_event_to_json(back, &j), 0);
	assert_json_same((char *)j.data, j.len, json);
	vb_event_free(ev);
	vb_event_free(back);
	vb_buf_free(&pb);
	vb_buf_free(&j);

	json = "{\"id\":\"a\",\"type\":\"order.returned\",\"data\":{\"order\":\"O\",\"items\":-2}}";
	ev = vbt_event(json);
	vb_buf_reset(&j);
	ck_assert_int_eq(vb_event_to_json(ev, &j), 0);
	assert_json_same((char *)j.data, j.len, json);
	vb_event_free(ev);
	vb_buf_free(&j);
}
END_TEST

/* The amount as a JSON number: its text is kept as a decimal string. */
static void
assert_amount(const char *number, const char *want)
{
	char json[256];
	vb_event *ev;
	snprintf(json, sizeof(json), "{\"id\":\"a\",\"type\":\"invoice.paid\","
	    "\"data\":{\"invoice\":\"I\",\"amount\":%s}}", number);
	ev = vbt_event(json);
	ck_assert_msg(strcmp(vb_event_data_str(ev, "amount"), want) == 0,
	    "amount %s became \"%s\", want \"%s\"", number,
	    vb_event_data_str(ev, "amount"), want);
	vb_event_free(ev);
}

START_TEST(amount_number_becomes_decimal_string)
{
	assert_amount("139.5", "139.5");
	assert_amount("139.25", "139.25");
	assert_amount("42", "42");
	assert_amount("0", "0");
	assert_amount("-12.75", "-12.75");
	assert_amount("19.99", "19.99");
	assert_amount("0.1", "0.1");
	assert_amount("1000000.01", "1000000.01");
	assert_amount("1.5e3", "1500");
	/* The string form is kept exactly, trailing zero and all. */
	assert_amount("\"139.50\"", "139.50");
}
END_TEST

/* Numbers that %g would print in exponent form must still become plain
 * decimals: "1e-05" is not an amount vb_event_validate accepts. */
START_TEST(amount_number_never_exponent)
{
	assert_amount("0.00001", "0.00001");
	assert_amount("0.00005", "0.00005");
	assert_amount("1000000000000000.5", "1000000000000000.5");
	assert_amount("1e15", "1000000000000000");
}
END_TEST

START_TEST(error_bad_json)
{
	assert_rejected("{", "json: ");
	assert_rejected("", "json: ");
	assert_rejected("{\"id\":\"a\",}", "json: ");
	assert_rejected("{\"id\":'a'}", "json: ");
	assert_rejected("{\"id\":\"a\"} trailing", "json: ");
	/* A key given twice is ambiguous: refused. */
	assert_rejected("{\"id\":\"a\",\"id\":\"b\",\"type\":\"order.placed\"}", "json: ");
}
END_TEST

START_TEST(error_not_object)
{
	assert_rejected("[1,2]", "json: a line must be one JSON object");
	assert_rejected("[]", "json: a line must be one JSON object");
	/* Scalars are not JSON texts jansson takes by default: still "json:". */
	assert_rejected("\"str\"", "json: ");
	assert_rejected("42", "json: ");
}
END_TEST

START_TEST(error_unknown_fields)
{
	assert_rejected("{\"id\":\"a\",\"type\":\"complaint.opened\",\"colour\":\"red\"}",
	    "colour: unknown field");
	assert_rejected("{\"id\":\"a\",\"type\":\"complaint.opened\",\"Id\":\"b\"}",
	    "Id: unknown field");
	assert_rejected("{\"id\":\"a\",\"type\":\"complaint.opened\","
	    "\"data\":{\"case\":\"T\",\"colour\":\"red\"}}",
	    "data.colour: unknown field for complaint.opened");
	/* A field of another type's payload is unknown to this one. */
	assert_rejected("{\"id\":\"a\",\"type\":\"invoice.paid\","
	    "\"data\":{\"invoice\":\"I\",\"due\":\"2026-12-01T00:00:00Z\"}}",
	    "data.due: unknown field for invoice.paid");
}
END_TEST

/* A message quotes a key cut at 64 bytes: never leaves half a character. */
START_TEST(error_quoting_stays_utf8)
{
	char json[512] = "{\"id\":\"a\",\"type\":\"complaint.opened\",\"x", err[VB_ERRMSG_MAX];
	vb_event *ev = NULL;
	for (int i = 0; i < 40; i++)
		strcat(json, "\xc3\xa9");
	strcat(json, "\":\"v\"}");
	ck_assert_int_eq(vb_event_from_json(json, strlen(json), &ev, err, sizeof(err)), VB_EINVAL);
	ck_assert_ptr_null(ev);
	ck_assert_msg(vb_utf8_valid(err, strlen(err)), "%s", err);
	ck_assert_msg(strstr(err, "\xc3\xa9?: unknown field") != NULL, "%s", err);
}
END_TEST

START_TEST(error_types_and_values)
{
	assert_rejected("{\"id\":\"a\"}", "type: missing");
	assert_rejected("{\"id\":\"a\",\"type\":\"\"}", "type: missing");
	assert_rejected("{\"id\":\"a\",\"type\":\"complaint.closed\"}",
	    "type: unknown event type \"complaint.closed\"");
}
END_TEST

START_TEST(error_wrong_json_types)
{
	static const struct {
		const char *json, *err;
	} cases[] = {
		{ "{\"id\":5,\"type\":\"order.placed\"}", "id: must be a string" },
		{ "{\"id\":\"a\",\"source\":[\"sales\"],\"type\":\"order.placed\"}", "source: must be a string" },
		{ "{\"id\":\"a\",\"type\":7}", "type: must be a string" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"customer\":true}", "customer: must be a string" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"time\":1795165920}", "time: must be a string" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"recorded\":{}}", "recorded: must be a string" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"seq\":-1}", "seq: must be a non-negative integer" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"seq\":\"1\"}", "seq: must be a non-negative integer" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"seq\":1.5}", "seq: must be a non-negative integer" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"data\":[1]}", "data: must be an object" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"data\":\"x\"}", "data: must be an object" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"data\":{\"order\":true}}", "data.order: must be a string" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"data\":{\"order\":{}}}", "data.order: must be a string" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"data\":{\"order\":[\"O\"]}}", "data.order: must be a string" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"data\":{\"items\":\"3\"}}", "data.items: must be an integer" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"data\":{\"items\":1.5}}", "data.items: must be an integer" },
		{ "{\"id\":\"a\",\"type\":\"order.placed\",\"data\":{\"items\":true}}", "data.items: must be an integer" },
		{ "{\"id\":\"a\",\"type\":\"consent.granted\",\"data\":{\"channel\":false}}", "data.channel: must be a string" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_rejected(cases[i].json, cases[i].err);
}
END_TEST

START_TEST(error_attributes)
{
	assert_rejected("{\"id\":\"a\",\"type\":\"order.placed\",\"attributes\":{\"x\":1}}",
	    "attributes.x: must be a string");
	assert_rejected("{\"id\":\"a\",\"type\":\"order.placed\","
	    "\"attributes\":{\"ok\":\"y\",\"n\":null}}", "attributes.n: must be a string");
	assert_rejected("{\"id\":\"a\",\"type\":\"order.placed\",\"attributes\":{\"x\":{\"y\":\"z\"}}}",
	    "attributes.x: must be a string");
	assert_rejected("{\"id\":\"a\",\"type\":\"order.placed\",\"attributes\":[\"x\"]}",
	    "attributes: must be an object of strings");
	assert_rejected("{\"id\":\"a\",\"type\":\"order.placed\",\"attributes\":\"x\"}",
	    "attributes: must be an object of strings");
	/* Empty or null attributes are no attributes. */
	vb_event *ev = vbt_event("{\"id\":\"a\",\"type\":\"order.placed\",\"attributes\":{}}");
	vb_event_free(ev);
	ev = vbt_event("{\"id\":\"a\",\"type\":\"order.placed\",\"attributes\":null}");
	vb_event_free(ev);
}
END_TEST

START_TEST(error_buffer_limits)
{
	const char *bad = "{\"id\":5,\"type\":\"order.placed\"}";
	char small[8];
	vb_event *ev = NULL;
	/* No room for the message at all: still refused, nothing written. */
	ck_assert_int_eq(vb_event_from_json(bad, strlen(bad), &ev, NULL, 0), VB_EINVAL);
	ck_assert_int_eq(vb_event_from_json("{", 1, &ev, NULL, 0), VB_EINVAL);
	ck_assert_ptr_null(ev);
	/* A short buffer gets a truncated, terminated message. */
	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(vb_event_from_json(bad, strlen(bad), &ev, small, sizeof(small)),
	    VB_EINVAL);
	ck_assert_str_eq(small, "id: mus");
	/* Success clears err. */
	char err[64] = "stale";
	const char *good = "{\"id\":\"a\",\"type\":\"order.placed\"}";
	ck_assert_int_eq(vb_event_from_json(good, strlen(good), &ev, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	vb_event_free(ev);
}
END_TEST

START_TEST(json_not_nul_terminated)
{
	/* len bounds the text: what follows is neither read nor required. */
	const char *good = "{\"id\":\"a\",\"type\":\"order.placed\"}GARBAGE{";
	size_t len = strlen(good) - strlen("GARBAGE{");
	char *copy = malloc(len);
	vb_event *ev = NULL;
	char err[VB_ERRMSG_MAX];
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, good, len); /* exactly len bytes, no NUL */
	ck_assert_int_eq(vb_event_from_json(copy, len, &ev, err, sizeof(err)), 0);
	ck_assert_str_eq(vb_event_id(ev), "a");
	vb_event_free(ev);
	free(copy);
}
END_TEST

/* ---- protobuf helpers ---- */

START_TEST(from_pb_garbage)
{
	static const struct {
		const char *p;
		size_t len;
	} bad[] = {
		{ "\x0a\x05" "ab", 4 },       /* id: 5 bytes announced, 2 there */
		{ "\x0f", 1 },                /* wire type 7 */
		{ "\x08\xff", 2 },            /* truncated varint */
		{ "\xa2\x01\x03\x0a\x09x", 6 }, /* payload holds a truncated string */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vb_event *ev = NULL;
		vb_buf j = { 0 };
		ck_assert_int_ne(vb_event_from_pb((const uint8_t *)bad[i].p, bad[i].len, &ev), 0);
		ck_assert_ptr_null(ev);
		ck_assert_int_eq(vb_event_pb_to_json((const uint8_t *)bad[i].p, bad[i].len, &j),
		    VB_ECORRUPT);
		vb_buf_free(&j);
	}
}
END_TEST

START_TEST(peek_pb)
{
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	for (size_t i = 0; i < n; i++) {
		vb_event *ev = vbt_event(smp[i].json);
		vb_buf pb = { 0 };
		vb_event_peek pk;

		ck_assert_int_eq(vb_event_to_pb(ev, &pb), 0);
		memset(&pk, 0x55, sizeof(pk));
		ck_assert_int_eq(vb_event_peek_pb(pb.data, pb.len, &pk), 0);
		ck_assert_uint_eq(pk.id_len, strlen(vb_event_id(ev)));
		ck_assert_mem_eq(pk.id, vb_event_id(ev), pk.id_len);
		ck_assert_uint_eq(pk.type_len, strlen(smp[i].type));
		ck_assert_mem_eq(pk.type, smp[i].type, pk.type_len);
		ck_assert_uint_eq(pk.customer_len, strlen(vb_event_customer(ev)));
		ck_assert_mem_eq(pk.customer, vb_event_customer(ev), pk.customer_len);
		ck_assert_uint_eq(pk.time_len, strlen(vb_event_time(ev)));
		ck_assert_mem_eq(pk.time, vb_event_time(ev), pk.time_len);
		ck_assert_uint_eq(pk.seq, 0);
		/* The pointers point into the bytes given. */
		ck_assert(pk.id >= (const char *)pb.data &&
		    pk.id + pk.id_len <= (const char *)pb.data + pb.len);

		/* Every proper prefix that cuts a field is corrupt; none is
		 * read past its end (the sanitizers would say). */
		for (size_t cut = 1; cut < pb.len; cut++) {
			uint8_t *p = malloc(cut);
			ck_assert_ptr_nonnull(p);
			memcpy(p, pb.data, cut);
			/* vb_event_peek_seq answers as vb_event_peek_pb. */
			uint64_t sq;
			int rv = vb_event_peek_pb(p, cut, &pk);
			ck_assert_int_eq(vb_event_peek_seq(p, cut, &sq), rv);
			if (rv == 0)
				ck_assert_uint_eq(sq, pk.seq);
			free(p);
		}
		vb_event_free(ev);
		vb_buf_free(&pb);
	}
}
END_TEST

/* The type read up to it agrees with the whole peek: on stored forms (with
 * seq and recorded after), on fields out of order, and on every cut of
 * them; a type given twice (never stored so) is no crash. */
START_TEST(peek_type_agrees_with_peek_pb)
{
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	for (size_t i = 0; i < n; i++) {
		vb_event *ev = vbt_event(smp[i].json);
		vb_buf pb[4] = { { 0 } };
		ck_assert_int_eq(vb_event_to_pb(ev, &pb[0]), 0);
		ck_assert_int_eq(vb_buf_append(&pb[1], pb[0].data, pb[0].len), 0);
		ck_assert_int_eq(vb_event_pb_tail(12345, "2026-11-20T09:12:01Z", &pb[1]), 0);
		/* Customer first, then the event: out of order. */
		ck_assert_int_eq(vb_buf_append(&pb[2], "\x22\x02zz", 4), 0);
		ck_assert_int_eq(vb_buf_append(&pb[2], pb[0].data, pb[0].len), 0);
		/* A second type at the end. */
		ck_assert_int_eq(vb_buf_append(&pb[3], pb[0].data, pb[0].len), 0);
		ck_assert_int_eq(vb_buf_append(&pb[3], "\x1a\x03x.y", 5), 0);
		for (int k = 0; k < 4; k++)
			for (size_t cut = 0; cut <= pb[k].len; cut++) {
				vb_event_peek pk;
				const char *t = NULL;
				size_t tl = 99;
				uint8_t *p = malloc(cut ? cut : 1);
				ck_assert_ptr_nonnull(p);
				memcpy(p, pb[k].data, cut);
				int want = vb_event_peek_pb(p, cut, &pk);
				int got = vb_event_peek_type(p, cut, &t, &tl);
				if (k == 3) {
					free(p);
					continue;
				}
				if (got == 0 && want == 0) {
					ck_assert_uint_eq(tl, pk.type_len);
					ck_assert_mem_eq(t, pk.type ? pk.type : "", tl);
				} else if (got == 0) {
					/* Read only up to the type: the rest may be cut. */
					ck_assert_uint_eq(tl, strlen(smp[i].type));
					ck_assert_mem_eq(t, smp[i].type, tl);
				}
				if (cut == pb[k].len) {
					ck_assert_int_eq(got, 0);
					ck_assert_uint_eq(tl, strlen(smp[i].type));
				}
				free(p);
			}
		for (int k = 0; k < 4; k++)
			vb_buf_free(&pb[k]);
		vb_event_free(ev);
	}
}
END_TEST

START_TEST(peek_pb_wire_types_and_corruption)
{
	vb_buf b = { 0 };
	vb_event_peek pk;

	/* An unknown fixed64 and fixed32 field, then id and seq. */
	vb_buf_append_varint(&b, (99 << 3) | 1);
	vb_buf_append(&b, "12345678", 8);
	vb_buf_append_varint(&b, (98 << 3) | 5);
	vb_buf_append(&b, "1234", 4);
	vb_buf_append_varint(&b, (1 << 3) | 2);
	vb_buf_append_varint(&b, 3);
	vb_buf_append(&b, "abc", 3);
	vb_buf_append_varint(&b, (6 << 3) | 0);
	vb_buf_append_varint(&b, 300);
	ck_assert_int_eq(vb_event_peek_pb(b.data, b.len, &pk), 0);
	ck_assert_uint_eq(pk.id_len, 3);
	ck_assert_mem_eq(pk.id, "abc", 3);
	ck_assert_uint_eq(pk.seq, 300);
	ck_assert_uint_eq(pk.type_len, 0);
	uint64_t sq = 0;
	ck_assert_int_eq(vb_event_peek_seq(b.data, b.len, &sq), 0);
	ck_assert_uint_eq(sq, 300);
	ck_assert_int_eq(vb_event_peek_seq(b.data, 5, &sq), VB_ECORRUPT);
	/* A fixed64 cut short. */
	ck_assert_int_eq(vb_event_peek_pb(b.data, 5, &pk), VB_ECORRUPT);
	/* A string longer than what is left. */
	const uint8_t longstr[] = { 0x0a, 0x10, 'a', 'b' };
	ck_assert_int_eq(vb_event_peek_pb(longstr, sizeof(longstr), &pk), VB_ECORRUPT);
	/* A huge length must not wrap around. */
	const uint8_t huge[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0x01, 'x' };
	ck_assert_int_eq(vb_event_peek_pb(huge, sizeof(huge), &pk), VB_ECORRUPT);
	/* Wire types 3, 4, 6 and 7 are not ours. */
	for (uint8_t wt = 3; wt <= 7; wt++) {
		if (wt == 5)
			continue;
		uint8_t p[] = { (uint8_t)((1 << 3) | wt), 0, 0, 0, 0, 0, 0, 0, 0 };
		ck_assert_int_eq(vb_event_peek_pb(p, sizeof(p), &pk), VB_ECORRUPT);
	}
	/* A truncated key or varint value. */
	const uint8_t tkey[] = { 0x80 };
	ck_assert_int_eq(vb_event_peek_pb(tkey, 1, &pk), VB_ECORRUPT);
	const uint8_t tval[] = { 0x30, 0x80 };
	ck_assert_int_eq(vb_event_peek_pb(tval, 2, &pk), VB_ECORRUPT);
	/* Nothing is an event with nothing set. */
	ck_assert_int_eq(vb_event_peek_pb(b.data, 0, &pk), 0);
	ck_assert_uint_eq(pk.seq, 0);
	ck_assert_uint_eq(pk.id_len, 0);
	vb_buf_free(&b);
}
END_TEST

START_TEST(pb_tail_sets_seq_and_recorded)
{
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	vb_event *ev = vbt_event(smp[_i].json), *back = NULL;
	vb_buf b = { 0 }, j1 = { 0 }, j2 = { 0 };
	vb_event_peek pk;
	const char *rec = "2026-11-20T09:12:01.123456Z";
	uint64_t seq = (uint64_t)_i * 1000003u + 1;

	ck_assert_int_eq(vb_event_to_pb_canonical(ev, &b), 0);
	ck_assert_int_eq(vb_event_pb_tail(seq, rec, &b), 0);
	ck_assert_int_eq(vb_event_from_pb(b.data, b.len, &back), 0);
	ck_assert_uint_eq(vb_event_seq(back), seq);
	ck_assert_str_eq(vb_event_recorded(back), rec);
	ck_assert_str_eq(vb_event_id(back), vb_event_id(ev));
	ck_assert_str_eq(vb_event_payload_type(back), smp[_i].type);
	ck_assert_int_eq(vb_event_peek_pb(b.data, b.len, &pk), 0);
	ck_assert_uint_eq(pk.seq, seq);
	/* The same as setting them on the event and encoding it. */
	vb_event_set_seq(ev, seq);
	ck_assert_int_eq(vb_event_set_recorded(ev, rec), 0);
	ck_assert_int_eq(vb_event_to_json(ev, &j1), 0);
	ck_assert_int_eq(vb_event_pb_to_json(b.data, b.len, &j2), 0);
	ck_assert_uint_eq(j1.len, j2.len);
	ck_assert_mem_eq(j1.data, j2.data, j1.len);
	vb_event_free(ev);
	vb_event_free(back);
	vb_buf_free(&b);
	vb_buf_free(&j1);
	vb_buf_free(&j2);
}
END_TEST

START_TEST(pb_tail_extremes)
{
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	vb_event *ev = vbt_event(smp[0].json), *back = NULL;
	vb_buf b = { 0 };
	/* The biggest seq, and a tail put after one already there: the last
	 * value wins, as protobuf merges. */
	vb_event_set_seq(ev, 7);
	ck_assert_int_eq(vb_event_set_recorded(ev, "2000-01-01T00:00:00Z"), 0);
	ck_assert_int_eq(vb_event_to_pb(ev, &b), 0);
	ck_assert_int_eq(vb_event_pb_tail(UINT64_MAX, "2026-11-20T09:12:01Z", &b), 0);
	ck_assert_int_eq(vb_event_from_pb(b.data, b.len, &back), 0);
	ck_assert_uint_eq(vb_event_seq(back), UINT64_MAX);
	ck_assert_str_eq(vb_event_recorded(back), "2026-11-20T09:12:01Z");
	vb_event_free(back);
	/* An empty recorded decodes as unset. */
	vb_buf_reset(&b);
	ck_assert_int_eq(vb_event_pb_tail(1, "", &b), 0);
	ck_assert_int_eq(vb_event_from_pb(b.data, b.len, &back), 0);
	ck_assert_uint_eq(vb_event_seq(back), 1);
	ck_assert_str_eq(vb_event_recorded(back), "");
	vb_event_free(back);
	vb_event_free(ev);
	vb_buf_free(&b);
}
END_TEST

START_TEST(redact_drops_text_amounts_attributes)
{
	static const char *const lines[] = {
		"{\"id\":\"a\",\"source\":\"service\",\"type\":\"complaint.opened\","
		"\"customer\":\"C\",\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"case\":\"T-1\","
		"\"severity\":\"high\",\"summary\":\"MARK\"},\"attributes\":{\"k\":\"MARK\"}}",
		"{\"id\":\"b\",\"source\":\"service\",\"type\":\"complaint.resolved\","
		"\"customer\":\"C\",\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"case\":\"T-1\","
		"\"resolution\":\"MARK\",\"summary\":\"MARK\"}}",
		"{\"id\":\"c\",\"source\":\"sales\",\"type\":\"order.returned\","
		"\"customer\":\"C\",\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"order\":\"O-1\","
		"\"amount\":\"MARK\",\"currency\":\"EUR\",\"items\":2,\"reason\":\"MARK\"}}",
		"{\"id\":\"d\",\"source\":\"finance\",\"type\":\"invoice.paid\","
		"\"customer\":\"C\",\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"invoice\":\"I-1\","
		"\"amount\":\"MARK\",\"currency\":\"EUR\"}}",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		vb_event *ev = vbt_event(lines[i]);
		vb_buf pb = { 0 }, red = { 0 }, js = { 0 };
		vb_event_set_seq(ev, 7);
		ck_assert_int_eq(vb_event_to_pb(ev, &pb), 0);
		ck_assert_int_eq(vb_event_pb_redact(pb.data, pb.len, &red), 0);
		ck_assert_int_eq(vb_event_pb_to_json(red.data, red.len, &js), 0);
		ck_assert_int_eq(vb_buf_append_byte(&js, 0), 0);
		ck_assert_msg(strstr((char *)js.data, "MARK") == NULL, "%s", js.data);
		ck_assert_ptr_nonnull(strstr((char *)js.data, "\"redacted\":true"));
		ck_assert_ptr_nonnull(strstr((char *)js.data, "\"seq\":7"));
		/* What identifies the case, order or invoice stays. */
		ck_assert_ptr_nonnull(strstr((char *)js.data, "-1\""));
		vb_event_free(ev);
		vb_buf_free(&pb);
		vb_buf_free(&red);
		vb_buf_free(&js);
	}
	/* A borrowed event is not the caller's to change; garbage is corrupt. */
	vb_buf out = { 0 };
	ck_assert_int_eq(vb_event_pb_redact((const uint8_t *)"\xff\xff", 2, &out), VB_ECORRUPT);
	vb_buf_free(&out);
}
END_TEST

START_TEST(redacted_flag_round_trips_json)
{
	const char *line = "{\"id\":\"a\",\"source\":\"sales\",\"type\":\"order.cancelled\","
	    "\"customer\":\"C\",\"time\":\"2026-11-20T09:12:00Z\",\"redacted\":true,"
	    "\"data\":{\"order\":\"O-1\"}}";
	vb_event *ev = vbt_event(line);
	char err[256];
	ck_assert(vb_event_is_redacted(ev));
	vb_event_free(ev);
	const char *bad = "{\"type\":\"order.cancelled\",\"redacted\":1}";
	ck_assert_int_eq(vb_event_from_json(bad, strlen(bad), &ev, err, sizeof(err)), VB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "redacted: must be true or false"));
}
END_TEST

START_TEST(canonical_strips_seq_and_recorded)
{
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	vb_event *plain = vbt_event(smp[3].json), *ev = vbt_event(smp[3].json);
	vb_event *back = NULL;
	vb_buf c = { 0 }, p = { 0 };

	vb_event_set_seq(ev, 99);
	ck_assert_int_eq(vb_event_set_recorded(ev, "2026-11-20T09:12:01Z"), 0);
	ck_assert_int_eq(vb_event_to_pb_canonical(ev, &c), 0);
	ck_assert_int_eq(vb_event_from_pb(c.data, c.len, &back), 0);
	ck_assert_uint_eq(vb_event_seq(back), 0);
	ck_assert_str_eq(vb_event_recorded(back), "");
	/* The same bytes as the event that never had them. */
	ck_assert_int_eq(vb_event_to_pb(plain, &p), 0);
	ck_assert_uint_eq(c.len, p.len);
	ck_assert_mem_eq(c.data, p.data, c.len);
	/* And the event itself keeps them. */
	ck_assert_uint_eq(vb_event_seq(ev), 99);
	ck_assert_str_eq(vb_event_recorded(ev), "2026-11-20T09:12:01Z");
	/* Clearing recorded. */
	ck_assert_int_eq(vb_event_set_recorded(ev, NULL), 0);
	ck_assert_str_eq(vb_event_recorded(ev), "");
	ck_assert_int_eq(vb_event_set_recorded(ev, "x"), 0);
	ck_assert_int_eq(vb_event_set_recorded(ev, ""), 0);
	ck_assert_str_eq(vb_event_recorded(ev), "");
	vb_event_free(plain);
	vb_event_free(ev);
	vb_event_free(back);
	vb_buf_free(&c);
	vb_buf_free(&p);
}
END_TEST

typedef struct {
	char names[64][64];
	int n;
	int stop_at;
} collect;

static int
collect_cb(void *arg, const char *prefix, const char *field, const char *value)
{
	collect *c = arg;
	ck_assert_ptr_nonnull(value);
	snprintf(c->names[c->n], sizeof(c->names[0]), "%s%s", prefix, field);
	c->n++;
	return c->n == c->stop_at ? 7 : 0;
}

static int
has_name(const collect *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return 1;
	return 0;
}

/* The encoding through a JSON round trip: a fresh event, its size never
 * asked before. */
static void
assert_pb_fresh(const vb_event *ev)
{
	vb_buf j = { 0 }, a = { 0 }, b = { 0 };
	vb_event *ref = NULL;
	char err[VB_ERRMSG_MAX];
	ck_assert_int_eq(vb_event_to_json(ev, &j), 0);
	ck_assert_int_eq(vb_event_from_json((char *)j.data, j.len, &ref, err, sizeof(err)), 0);
	ck_assert_int_eq(vb_event_to_pb(ev, &a), 0);
	ck_assert_int_eq(vb_event_to_pb(ref, &b), 0);
	ck_assert_uint_eq(vb_event_pb_size(ev), vb_event_pb_size(ref));
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_mem_eq(a.data, b.data, a.len);
	vb_event_free(ref);
	vb_buf_free(&j);
	vb_buf_free(&a);
	vb_buf_free(&b);
}

/* The size is kept once asked: every change of the event must drop it,
 * and the canonical form is sized from it. */
START_TEST(size_follows_changes)
{
	static const uint64_t seqs[] = { 0, 1, 127, 128, 16384, 1ull << 40 };
	char longrec[300];
	const char *recs[] = { "", "2026-11-20T09:12:01.123456Z", longrec };
	size_t n;
	const vbt_sample *smp = &vbt_samples(&n)[_i];

	memset(longrec, '7', sizeof(longrec) - 1);
	longrec[sizeof(longrec) - 1] = '\0';
	for (size_t si = 0; si < sizeof(seqs) / sizeof(seqs[0]); si++)
		for (size_t ri = 0; ri < sizeof(recs) / sizeof(recs[0]); ri++) {
			vb_event *ev = vbt_event(smp->json);
			vb_buf canon = { 0 }, plain = { 0 };
			ck_assert_int_eq(vb_event_to_pb(ev, &plain), 0);
			(void)vb_event_pb_size(ev);
			vb_event_set_seq(ev, seqs[si]);
			assert_pb_fresh(ev);
			ck_assert_int_eq(vb_event_set_recorded(ev, recs[ri]), 0);
			assert_pb_fresh(ev);
			ck_assert_int_eq(vb_event_to_pb_canonical(ev, &canon), 0);
			ck_assert_uint_eq(canon.len, plain.len);
			ck_assert_mem_eq(canon.data, plain.data, plain.len);
			assert_pb_fresh(ev); /* put back as it was */
			ck_assert_int_eq(vb_event_redact(ev), 0);
			assert_pb_fresh(ev);
			vb_event_free(ev);
			vb_buf_free(&canon);
			vb_buf_free(&plain);
		}
}
END_TEST

START_TEST(each_string)
{
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	vb_event *ev = vbt_event(smp[0].json);
	collect c = { .stop_at = -1 };

	ck_assert_int_eq(vb_event_each_string(ev, collect_cb, &c), 0);
	static const char *const want[] = { "id", "source", "type", "customer",
		"time", "recorded", "data.case", "data.category", "data.severity",
		"data.summary", "data.channel", "attributes (key)",
		"attributes.zendesk_group", "attributes.priority" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(has_name(&c, want[i]), "%s not visited", want[i]);
	/* A non-zero return stops the walk and is returned. */
	memset(&c, 0, sizeof(c));
	c.stop_at = 3;
	ck_assert_int_eq(vb_event_each_string(ev, collect_cb, &c), 7);
	ck_assert_int_eq(c.n, 3);
	vb_event_free(ev);
}
END_TEST

static Suite *
event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc = tcase_create("round_trip");
	tcase_add_loop_test(tc, round_trip_every_type, 0, VBT_NSAMPLES);
	tcase_add_test(tc, samples_cover_every_type);
	tcase_add_test(tc, type_known_rejects);
	tcase_add_test(tc, accessors);
	tcase_add_test(tc, missing_data_gives_empty_payload);
	tcase_add_test(tc, seq_and_recorded_round_trip);
	tcase_add_test(tc, strings_escape_and_unicode);
	tcase_add_test(tc, integers);
	tcase_add_test(tc, pb_to_json_exact_bytes);
	tcase_add_test(tc, amount_number_becomes_decimal_string);
	tcase_add_test(tc, amount_number_never_exponent);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, error_bad_json);
	tcase_add_test(tc, error_not_object);
	tcase_add_test(tc, error_unknown_fields);
	tcase_add_test(tc, error_quoting_stays_utf8);
	tcase_add_test(tc, error_types_and_values);
	tcase_add_test(tc, error_wrong_json_types);
	tcase_add_test(tc, error_attributes);
	tcase_add_test(tc, error_buffer_limits);
	tcase_add_test(tc, json_not_nul_terminated);
	suite_add_tcase(s, tc);

	tc = tcase_create("protobuf");
	tcase_add_test(tc, from_pb_garbage);
	tcase_add_test(tc, peek_pb);
	tcase_add_test(tc, peek_pb_wire_types_and_corruption);
	tcase_add_test(tc, peek_type_agrees_with_peek_pb);
	tcase_add_loop_test(tc, pb_tail_sets_seq_and_recorded, 0, VBT_NSAMPLES);
	tcase_add_test(tc, pb_tail_extremes);
	tcase_add_test(tc, canonical_strips_seq_and_recorded);
	tcase_add_test(tc, redact_drops_text_amounts_attributes);
	tcase_add_test(tc, redacted_flag_round_trips_json);
	tcase_add_test(tc, each_string);
	tcase_add_loop_test(tc, size_follows_changes, 0, VBT_NSAMPLES);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(event_suite());
}
