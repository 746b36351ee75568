/* Unit tests of proto/vb_validate: the contract's rules for one event. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vb_buf.h"
#include "vb_error.h"
#include "vb_event.h"
#include "vb_time.h"
#include "vb_validate.h"
#include "vb_test.h"

/* Field numbers of voicebus.v1.Event (proto/voicebus/v1/event.proto). */
enum { F_ID = 1, F_SOURCE = 2, F_TYPE = 3, F_CUSTOMER = 4, F_TIME = 5,
	F_ATTRIBUTES = 8, F_COMPLAINT_OPENED = 20 };

/* Append a length-delimited field to b. */
static void
pb_bytes(vb_buf *b, unsigned field, const void *p, size_t len)
{
	ck_assert_int_eq(vb_buf_append_varint(b, ((uint64_t)field << 3) | 2), 0);
	ck_assert_int_eq(vb_buf_append_varint(b, len), 0);
	ck_assert_int_eq(vb_buf_append(b, p, len), 0);
}

static vb_event *
decode(const vb_buf *b)
{
	vb_event *ev = NULL;
	ck_assert_int_eq(vb_event_from_pb(b->data, b->len, &ev), 0);
	return ev;
}

/* What a protobuf peer can send that JSON cannot: ev's encoding with one
 * string field replaced by raw bytes (protobuf keeps the last value). */
static vb_event *
with_field(vb_event *ev, unsigned field, const char *p, size_t len)
{
	vb_buf b = { 0 };
	vb_event *out;
	ck_assert_int_eq(vb_event_to_pb(ev, &b), 0);
	pb_bytes(&b, field, p, len);
	vb_event_free(ev);
	out = decode(&b);
	vb_buf_free(&b);
	return out;
}

static vb_event *
sample(size_t i)
{
	size_t n;
	return vbt_event(vbt_samples(&n)[i].json);
}

/* An event of sample i's JSON with `from` replaced by `to` in its text. */
static vb_event *
sample_edit(size_t i, const char *from, const char *to)
{
	size_t n;
	const char *json = vbt_samples(&n)[i].json;
	const char *at = strstr(json, from);
	char buf[4096];
	ck_assert_msg(at != NULL, "\"%s\" not in sample %zu", from, i);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - json), json, to,
	    at + strlen(from));
	return vbt_event(buf);
}

static void
assert_invalid(vb_event *ev, const char *want)
{
	char err[VB_ERRMSG_MAX];
	int64_t us = 12345;
	memset(err, 'x', sizeof(err));
	int rv = vb_event_validate(ev, &us, err, sizeof(err));
	ck_assert_msg(rv == VB_EINVAL, "validate = %d, want VB_EINVAL (%s)", rv, want);
	ck_assert_msg(memchr(err, '\0', sizeof(err)) != NULL, "err not terminated");
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
	    "error \"%s\"\n want \"%s...\"", err, want);
	vb_event_free(ev);
}

static void
assert_valid(vb_event *ev)
{
	char err[VB_ERRMSG_MAX] = "";
	int rv = vb_event_validate(ev, NULL, err, sizeof(err));
	ck_assert_msg(rv == 0, "validate = %d: %s", rv, err);
	vb_event_free(ev);
}

/* Indexes into vbt_samples. */
enum { S_COMPLAINT_OPENED = 0, S_COMPLAINT_RESOLVED = 2, S_VISIT_SCHEDULED = 4,
	S_VISIT_COMPLETED = 5, S_VISIT_MISSED = 6, S_ORDER_PLACED = 8,
	S_ORDER_CANCELLED = 10, S_INVOICE_ISSUED = 11, S_INVOICE_PAID = 13,
	S_CONSENT_GRANTED = 14, S_CONSENT_WITHDRAWN = 15, S_MESSAGE_SENT = 16 };

START_TEST(every_sample_is_valid)
{
	size_t n;
	const vbt_sample *smp = &vbt_samples(&n)[_i];
	vb_event *ev = vbt_event(smp->json);
	char err[VB_ERRMSG_MAX] = "";
	int64_t us = 0, want = 0;

	ck_assert_msg(vb_event_validate(ev, &us, err, sizeof(err)) == 0, "%s: %s",
	    smp->type, err);
	ck_assert_int_eq(vb_time_parse(vb_event_time(ev), &want), 0);
	ck_assert_int_eq(us, want);
	/* time_us may be NULL; so may err when errlen is 0. */
	ck_assert_int_eq(vb_event_validate(ev, NULL, NULL, 0), 0);
	vb_event_free(ev);
}
END_TEST

START_TEST(time_us_is_the_instant)
{
	vb_event *ev = sample_edit(S_COMPLAINT_OPENED, "2026-11-20T09:12:00Z",
	    "2026-11-20T10:12:00.25+01:00");
	int64_t us = 0;
	ck_assert_int_eq(vb_event_validate(ev, &us, NULL, 0), 0);
	ck_assert_int_eq(us, 1795165920LL * 1000000 + 250000);
	vb_event_free(ev);
}
END_TEST

START_TEST(id_rules)
{
	char id[300], json[1024];
	assert_invalid(sample_edit(S_ORDER_PLACED, "\"id\":\"shop-5001-placed\",", ""),
	    "id: missing");
	assert_invalid(sample_edit(S_ORDER_PLACED, "shop-5001-placed", ""), "id: missing");
	memset(id, 'i', 256);
	id[256] = '\0';
	snprintf(json, sizeof(json), "\"id\":\"%s\"", id);
	assert_valid(sample_edit(S_ORDER_PLACED, "\"id\":\"shop-5001-placed\"", json));
	id[256] = 'i';
	id[257] = '\0';
	snprintf(json, sizeof(json), "\"id\":\"%s\"", id);
	assert_invalid(sample_edit(S_ORDER_PLACED, "\"id\":\"shop-5001-placed\"", json),
	    "id: 257 bytes; at most 256");
	/* Bytes, not characters: 128 two-byte characters are 256 bytes. */
	char *p = id;
	for (int i = 0; i < 129; i++)
		p += sprintf(p, "é");
	snprintf(json, sizeof(json), "\"id\":\"%s\"", id);
	assert_invalid(sample_edit(S_ORDER_PLACED, "\"id\":\"shop-5001-placed\"", json),
	    "id: 258 bytes; at most 256");
}
END_TEST

/* The broker sets seq; one the JSON form cannot carry is refused. */
START_TEST(seq_rules)
{
	vb_event *ev = sample_edit(S_ORDER_PLACED, "shop-5001-placed", "shop-5001-placed");
	vb_event_set_seq(ev, (uint64_t)INT64_MAX);
	assert_valid(ev);
	ev = sample_edit(S_ORDER_PLACED, "shop-5001-placed", "shop-5001-placed");
	vb_event_set_seq(ev, (uint64_t)INT64_MAX + 1);
	assert_invalid(ev, "seq: 9223372036854775808 is over 9223372036854775807");
}
END_TEST

START_TEST(customer_rules)
{
	char c[200], json[512];
	assert_invalid(sample_edit(S_ORDER_PLACED, "\"customer\":\"C-3003\",", ""),
	    "customer: missing");
	assert_invalid(sample_edit(S_ORDER_PLACED, "C-3003", ""), "customer: missing");
	memset(c, 'c', 128);
	c[128] = '\0';
	snprintf(json, sizeof(json), "\"customer\":\"%s\"", c);
	assert_valid(sample_edit(S_ORDER_PLACED, "\"customer\":\"C-3003\"", json));
	c[128] = 'c';
	c[129] = '\0';
	snprintf(json, sizeof(json), "\"customer\":\"%s\"", c);
	assert_invalid(sample_edit(S_ORDER_PLACED, "\"customer\":\"C-3003\"", json),
	    "customer: 129 bytes; at most 128");
}
END_TEST

START_TEST(source_rules)
{
	assert_invalid(sample_edit(S_ORDER_PLACED, "\"source\":\"sales\",", ""),
	    "source: missing");
	assert_invalid(sample_edit(S_ORDER_PLACED, "\"source\":\"sales\"", "\"source\":\"crm\""),
	    "source: unknown source \"crm\" (service, field, sales, finance, marketing or customer)");
	assert_invalid(sample_edit(S_ORDER_PLACED, "\"source\":\"sales\"", "\"source\":\"Sales\""),
	    "source: unknown source \"Sales\"");
}
END_TEST

START_TEST(type_rules)
{
	vb_event *ev;
	/* JSON cannot carry an unknown type (vb_event_from_json refuses it), a
	 * protobuf peer can. */
	ev = with_field(sample(S_COMPLAINT_OPENED), F_TYPE, "complaint.closed", 16);
	assert_invalid(ev, "type: unknown event type \"complaint.closed\"");
	ev = with_field(sample(S_COMPLAINT_OPENED), F_TYPE, "", 0);
	assert_invalid(ev, "type: missing");
	/* A type whose payload is another's. */
	ev = with_field(sample(S_COMPLAINT_OPENED), F_TYPE, "complaint.updated", 17);
	assert_invalid(ev, "data: holds a complaint.opened payload but type is complaint.updated");
}
END_TEST

START_TEST(source_may_not_publish_type)
{
	assert_invalid(sample_edit(S_COMPLAINT_OPENED, "\"source\":\"service\"",
	    "\"source\":\"finance\""),
	    "type: source \"finance\" may not publish complaint.opened (only invoice.*)");
	assert_invalid(sample_edit(S_MESSAGE_SENT, "\"source\":\"marketing\"",
	    "\"source\":\"customer\""),
	    "type: source \"customer\" may not publish message.sent (only consent.*)");
	assert_invalid(sample_edit(S_CONSENT_GRANTED, "\"source\":\"customer\"",
	    "\"source\":\"marketing\""),
	    "type: source \"marketing\" may not publish consent.granted (only message.*)");
	assert_invalid(sample_edit(S_VISIT_MISSED, "\"source\":\"field\"",
	    "\"source\":\"service\""),
	    "type: source \"service\" may not publish visit.missed (only complaint.*)");
	assert_invalid(sample_edit(S_INVOICE_PAID, "\"source\":\"finance\"",
	    "\"source\":\"sales\""),
	    "type: source \"sales\" may not publish invoice.paid (only order.*)");
	assert_invalid(sample_edit(S_ORDER_PLACED, "\"source\":\"sales\"",
	    "\"source\":\"field\""),
	    "type: source \"field\" may not publish order.placed (only visit.*)");
}
END_TEST

START_TEST(time_rules)
{
	assert_invalid(sample_edit(S_ORDER_PLACED, "\"time\":\"2026-11-18T20:15:00Z\",", ""),
	    "time: missing");
	assert_invalid(sample_edit(S_ORDER_PLACED, "2026-11-18T20:15:00Z", "2026-02-30T10:00:00Z"),
	    "time: \"2026-02-30T10:00:00Z\" is not an RFC 3339 date-time in years 0001-9999 (UTC) "
	    "such as 2026-11-20T09:12:00Z");
	assert_invalid(sample_edit(S_ORDER_PLACED, "2026-11-18T20:15:00Z", "2026-11-18 20:15"),
	    "time: \"2026-11-18 20:15\" is not an RFC 3339 date-time");
	assert_invalid(sample_edit(S_ORDER_PLACED, "2026-11-18T20:15:00Z", "0000-01-01T00:00:00Z"),
	    "time: \"0000-01-01T00:00:00Z\" is not an RFC 3339 date-time in years 0001-9999 (UTC)");
	/* In range as written, out of it once the offset is applied. */
	assert_invalid(sample_edit(S_ORDER_PLACED, "2026-11-18T20:15:00Z", "9999-12-31T23:59:59-01:00"),
	    "time: \"9999-12-31T23:59:59-01:00\" is not an RFC 3339 date-time in years 0001-9999 (UTC)");
	assert_valid(sample_edit(S_ORDER_PLACED, "2026-11-18T20:15:00Z", "9999-12-31T23:59:59Z"));
	assert_valid(sample_edit(S_ORDER_PLACED, "2026-11-18T20:15:00Z", "0001-01-01T00:00:00Z"));
}
END_TEST

START_TEST(payload_required_fields)
{
	static const struct {
		int sample;
		const char *from, *to, *err;
	} cases[] = {
		{ S_COMPLAINT_OPENED, "\"case\":\"T-4411\",", "",
		  "data.case: missing (required for complaint.opened)" },
		{ S_COMPLAINT_RESOLVED, "\"case\":\"T-4411\"", "\"case\":\"\"",
		  "data.case: missing (required for complaint.resolved)" },
		{ S_VISIT_MISSED, "\"visit\":\"V-78\",", "",
		  "data.visit: missing (required for visit.missed)" },
		{ S_ORDER_CANCELLED, "\"order\":\"O-5002\",", "",
		  "data.order: missing (required for order.cancelled)" },
		{ S_INVOICE_ISSUED, "\"invoice\":\"INV-9001\",", "",
		  "data.invoice: missing (required for invoice.issued)" },
		{ S_CONSENT_GRANTED, "\"channel\":\"email\",", "",
		  "data.channel: missing (required for consent.granted)" },
		{ S_MESSAGE_SENT, "\"channel\":\"email\",", "",
		  "data.channel: missing (required for message.sent)" },
		{ S_MESSAGE_SENT, "\"purpose\":\"upsell\",", "",
		  "data.purpose: missing (required for message.sent)" },
		{ S_MESSAGE_SENT, ",\"campaign\":\"winter-2026\"", "",
		  "data.campaign: missing (required for message.sent)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_invalid(sample_edit((size_t)cases[i].sample, cases[i].from,
		    cases[i].to), cases[i].err);
	/* No data at all: the first required field is named. */
	assert_invalid(vbt_event("{\"id\":\"a\",\"source\":\"field\",\"type\":\"visit.missed\","
	    "\"customer\":\"C\",\"time\":\"2026-11-20T09:12:00Z\"}"),
	    "data.visit: missing (required for visit.missed)");
	/* Optional fields may go: a bare complaint is fine. */
	assert_valid(vbt_event("{\"id\":\"a\",\"source\":\"service\",\"type\":\"complaint.opened\","
	    "\"customer\":\"C\",\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"case\":\"T\"}}"));
}
END_TEST

START_TEST(payload_missing_entirely)
{
	/* Only a protobuf peer can send an event without its payload. */
	vb_buf b = { 0 };
	pb_bytes(&b, F_ID, "a", 1);
	pb_bytes(&b, F_SOURCE, "service", 7);
	pb_bytes(&b, F_TYPE, "complaint.opened", 16);
	pb_bytes(&b, F_CUSTOMER, "C-1", 3);
	pb_bytes(&b, F_TIME, "2026-11-20T09:12:00Z", 20);
	vb_event *ev = decode(&b);
	vb_buf_free(&b);
	assert_invalid(ev, "data: missing");
}
END_TEST

START_TEST(channel_and_purpose)
{
	assert_invalid(sample_edit(S_CONSENT_GRANTED, "\"channel\":\"email\"", "\"channel\":\"fax\""),
	    "data.channel: unknown channel \"fax\" (email, sms, phone, post or push)");
	assert_invalid(sample_edit(S_CONSENT_WITHDRAWN, "\"channel\":\"sms\"", "\"channel\":\"SMS\""),
	    "data.channel: unknown channel \"SMS\"");
	assert_invalid(sample_edit(S_MESSAGE_SENT, "\"channel\":\"email\"", "\"channel\":\"carrier-pigeon\""),
	    "data.channel: unknown channel \"carrier-pigeon\"");
	assert_invalid(sample_edit(S_CONSENT_GRANTED, "\"purpose\":\"promotion\"", "\"purpose\":\"spam\""),
	    "data.purpose: unknown purpose \"spam\" (service, upsell, cross-sell, promotion or survey)");
	assert_invalid(sample_edit(S_MESSAGE_SENT, "\"purpose\":\"upsell\"", "\"purpose\":\"crosssell\""),
	    "data.purpose: unknown purpose \"crosssell\"");
	/* consent: an empty purpose means every purpose. */
	assert_valid(sample_edit(S_CONSENT_WITHDRAWN, ",\"purpose\":\"upsell\"", ""));
	assert_valid(sample_edit(S_CONSENT_WITHDRAWN, "\"purpose\":\"upsell\"", "\"purpose\":\"\""));
	/* Every channel and purpose of the contract is accepted. */
	static const char *const chans[] = { "email", "sms", "phone", "post", "push" };
	static const char *const purps[] = { "service", "upsell", "cross-sell", "promotion", "survey" };
	for (size_t c = 0; c < 5; c++) {
		for (size_t p = 0; p < 5; p++) {
			char to[128];
			snprintf(to, sizeof(to), "\"channel\":\"%s\",\"purpose\":\"%s\"", chans[c], purps[p]);
			assert_valid(sample_edit(S_MESSAGE_SENT,
			    "\"channel\":\"email\",\"purpose\":\"upsell\"", to));
			assert_valid(sample_edit(S_CONSENT_GRANTED,
			    "\"channel\":\"email\",\"purpose\":\"promotion\"", to));
		}
	}
	/* How a customer complained is not a marketing channel. */
	assert_valid(sample_edit(S_COMPLAINT_OPENED, "\"channel\":\"phone\"", "\"channel\":\"web chat\""));
}
END_TEST

START_TEST(payload_times)
{
	assert_invalid(sample_edit(S_INVOICE_ISSUED, "\"due\":\"2026-12-20T00:00:00Z\"",
	    "\"due\":\"next week\""),
	    "data.due: \"next week\" is not an RFC 3339 date-time");
	assert_invalid(sample_edit(S_INVOICE_ISSUED, "\"due\":\"2026-12-20T00:00:00Z\"",
	    "\"due\":\"2026-12-20\""),
	    "data.due: \"2026-12-20\" is not an RFC 3339 date-time");
	assert_invalid(sample_edit(S_VISIT_SCHEDULED, "2026-11-21T08:00:00+01:00",
	    "2026-11-31T08:00:00+01:00"),
	    "data.window_start: \"2026-11-31T08:00:00+01:00\" is not an RFC 3339 date-time");
	assert_invalid(sample_edit(S_VISIT_SCHEDULED, "2026-11-21T12:00:00+01:00",
	    "noon"), "data.window_end: \"noon\" is not");
	assert_invalid(sample_edit(S_VISIT_COMPLETED, "2026-11-21T09:05:00Z",
	    "09:05"), "data.arrived_at: \"09:05\" is not");
	assert_invalid(sample_edit(S_VISIT_COMPLETED, "2026-11-21T10:40:30.25Z",
	    "2026-11-21T25:40:30Z"), "data.completed_at: \"2026-11-21T25:40:30Z\" is not");
	assert_invalid(sample_edit(S_INVOICE_ISSUED, "\"due\":\"2026-12-20T00:00:00Z\"",
	    "\"due\":\"0000-01-01T00:00:00Z\""),
	    "data.due: \"0000-01-01T00:00:00Z\" is not an RFC 3339 date-time in years 0001-9999 (UTC)");
	assert_valid(sample_edit(S_INVOICE_ISSUED, "\"due\":\"2026-12-20T00:00:00Z\"",
	    "\"due\":\"9999-12-31T23:59:59Z\""));
	/* Optional times may be absent. */
	assert_valid(sample_edit(S_INVOICE_ISSUED, ",\"due\":\"2026-12-20T00:00:00Z\"", ""));
}
END_TEST

START_TEST(amounts)
{
	static const char *const good[] = { "139.50", "0", "-10", "1000000.25",
		"0.001", "42" };
	static const char *const bad[] = { "12,50", "1e5", ".5", "5.", "-", "abc",
		"1.2.3", " 5", "5 ", "+5", "EUR 5", "0x10", "--1" };
	char to[64], want[128];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(to, sizeof(to), "\"amount\":\"%s\"", good[i]);
		assert_valid(sample_edit(S_ORDER_PLACED, "\"amount\":\"139.50\"", to));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(to, sizeof(to), "\"amount\":\"%s\"", bad[i]);
		snprintf(want, sizeof(want),
		    "data.amount: \"%s\" is not a decimal number such as 139.50", bad[i]);
		assert_invalid(sample_edit(S_ORDER_PLACED, "\"amount\":\"139.50\"", to), want);
		assert_invalid(sample_edit(S_INVOICE_PAID, "\"amount\":\"139.50\"", to), want);
	}
	/* A JSON number is taken as the decimal it writes. */
	assert_valid(sample_edit(S_ORDER_PLACED, "\"amount\":\"139.50\"", "\"amount\":139.5"));
	assert_valid(sample_edit(S_ORDER_PLACED, "\"amount\":\"139.50\"", "\"amount\":12"));
}
END_TEST

/* complaint.opened whose summary is len bytes long. */
static vb_event *
complaint_with_summary(size_t len)
{
	vb_event *ev = sample(S_COMPLAINT_OPENED);
	vb_buf b = { 0 }, sub = { 0 };
	char *s = malloc(len);
	ck_assert_ptr_nonnull(s);
	memset(s, 's', len);
	/* The payload again, with a longer summary (field 4).  protobuf-c
	 * replaces a oneof member seen twice instead of merging it, so the
	 * case (field 1) goes in again too. */
	pb_bytes(&sub, 1, "T-4411", 6);
	pb_bytes(&sub, 4, s, len);
	ck_assert_int_eq(vb_event_to_pb(ev, &b), 0);
	pb_bytes(&b, F_COMPLAINT_OPENED, sub.data, sub.len);
	vb_event_free(ev);
	ev = decode(&b);
	ck_assert_uint_eq(strlen(vb_event_data_str(ev, "summary")), len);
	ck_assert_str_eq(vb_event_data_str(ev, "case"), "T-4411");
	free(s);
	vb_buf_free(&b);
	vb_buf_free(&sub);
	return ev;
}

START_TEST(encoded_size_limit)
{
	vb_event *ev = complaint_with_summary(60000);
	size_t base = vb_event_pb_size(ev);
	ck_assert_uint_lt(base, VB_EVENT_MAX_BYTES);
	vb_event_free(ev);
	/* Lengths of 60000 and of 65536 take varints of the same size, so the
	 * encoding grows byte for byte with the summary. */
	size_t fit = 60000 + (VB_EVENT_MAX_BYTES - base);
	ev = complaint_with_summary(fit);
	ck_assert_uint_eq(vb_event_pb_size(ev), VB_EVENT_MAX_BYTES);
	assert_valid(ev);
	ev = complaint_with_summary(fit + 1);
	ck_assert_uint_eq(vb_event_pb_size(ev), VB_EVENT_MAX_BYTES + 1);
	assert_invalid(ev, "event: 65537 bytes encoded; at most 65536");
	ev = complaint_with_summary(200000);
	assert_invalid(ev, "event: ");
}
END_TEST

START_TEST(invalid_utf8_from_protobuf)
{
	static const struct {
		const char *bytes;
		size_t len;
	} bad[] = {
		{ "\xff", 1 }, { "ab\xc3", 3 }, { "\xc3\x28", 2 }, { "\xc0\xaf", 2 },
		{ "\xe0\x80\xaf", 3 }, { "\xed\xa0\x80", 3 }, { "\xf4\x90\x80\x80", 4 },
		{ "\xf8\x88\x80\x80\x80", 5 }, { "\x80", 1 }, { "\xe2\x82", 2 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vb_event *ev;
		ev = with_field(sample(S_COMPLAINT_OPENED), F_CUSTOMER, bad[i].bytes, bad[i].len);
		assert_invalid(ev, "customer: not valid UTF-8");
		ev = with_field(sample(S_COMPLAINT_OPENED), F_ID, bad[i].bytes, bad[i].len);
		assert_invalid(ev, "id: not valid UTF-8");
	}
	/* In the payload: the summary, in a payload sent again (the last
	 * one counts). */
	vb_event *ev = sample(S_COMPLAINT_OPENED);
	vb_buf b = { 0 }, sub = { 0 };
	pb_bytes(&sub, 1, "T-4411", 6);
	pb_bytes(&sub, 4, "caf\xe9", 4); /* Latin-1, as old exports write */
	ck_assert_int_eq(vb_event_to_pb(ev, &b), 0);
	pb_bytes(&b, F_COMPLAINT_OPENED, sub.data, sub.len);
	vb_event_free(ev);
	assert_invalid(decode(&b), "data.summary: not valid UTF-8");
	vb_buf_free(&b);
	vb_buf_free(&sub);

	/* In an attribute's value and in its key. */
	ev = sample(S_COMPLAINT_OPENED);
	ck_assert_int_eq(vb_event_to_pb(ev, &b), 0);
	vb_event_free(ev);
	pb_bytes(&sub, 1, "k", 1);
	pb_bytes(&sub, 2, "v\xfe", 2);
	pb_bytes(&b, F_ATTRIBUTES, sub.data, sub.len);
	assert_invalid(decode(&b), "attributes.k: not valid UTF-8");
	vb_buf_reset(&b);
	vb_buf_reset(&sub);
	ev = sample(S_COMPLAINT_OPENED);
	ck_assert_int_eq(vb_event_to_pb(ev, &b), 0);
	vb_event_free(ev);
	pb_bytes(&sub, 1, "k\xfe", 2);
	pb_bytes(&sub, 2, "v", 1);
	pb_bytes(&b, F_ATTRIBUTES, sub.data, sub.len);
	assert_invalid(decode(&b), "attributes (key): not valid UTF-8");
	vb_buf_free(&b);
	vb_buf_free(&sub);

	/* Good multi-byte text is fine. */
	ev = with_field(sample(S_COMPLAINT_OPENED), F_CUSTOMER, "Zoë-€-😀", strlen("Zoë-€-😀"));
	assert_valid(ev);
}
END_TEST

START_TEST(utf8_valid_function)
{
	static const struct {
		const char *s;
		size_t len;
		int ok;
	} cases[] = {
		{ "", 0, 1 }, { "plain ascii", 11, 1 }, { "\x7f", 1, 1 },
		{ "\xc2\x80", 2, 1 },             /* U+0080, smallest 2-byte */
		{ "\xdf\xbf", 2, 1 },             /* U+07FF */
		{ "\xe0\xa0\x80", 3, 1 },         /* U+0800 */
		{ "\xe2\x82\xac", 3, 1 },         /* euro sign */
		{ "\xed\x9f\xbf", 3, 1 },         /* U+D7FF, below the surrogates */
		{ "\xee\x80\x80", 3, 1 },         /* U+E000, above them */
		{ "\xef\xbf\xbf", 3, 1 },         /* U+FFFF */
		{ "\xf0\x90\x80\x80", 4, 1 },     /* U+10000 */
		{ "\xf0\x9f\x98\x80", 4, 1 },     /* emoji */
		{ "\xf4\x8f\xbf\xbf", 4, 1 },     /* U+10FFFF, the last */
		{ "a\0b", 3, 1 },                 /* NUL is a character */
		{ "\x80", 1, 0 },                 /* lone continuation */
		{ "\xbf", 1, 0 },
		{ "\xc0\x80", 2, 0 },             /* overlong NUL */
		{ "\xc1\xbf", 2, 0 },             /* overlong */
		{ "\xe0\x9f\xbf", 3, 0 },         /* overlong 3-byte */
		{ "\xf0\x8f\xbf\xbf", 4, 0 },     /* overlong 4-byte */
		{ "\xed\xa0\x80", 3, 0 },         /* U+D800 */
		{ "\xed\xbf\xbf", 3, 0 },         /* U+DFFF */
		{ "\xf4\x90\x80\x80", 4, 0 },     /* U+110000 */
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\xf8\x88\x80\x80\x80", 5, 0 }, /* 5-byte form */
		{ "\xfe", 1, 0 }, { "\xff", 1, 0 },
		{ "\xc3", 1, 0 },                 /* truncated at the end */
		{ "\xe2\x82", 2, 0 },
		{ "\xf0\x9f\x98", 3, 0 },
		{ "\xc3\x28", 2, 0 },             /* bad continuation */
		{ "\xe2\x28\xa1", 3, 0 },
		{ "\xe2\x82\x28", 3, 0 },
		{ "ok \xe2\x82\xac then \xff", 13, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(vb_utf8_valid(cases[i].s, cases[i].len) == cases[i].ok,
		    "case %zu: want %d", i, cases[i].ok);
	/* The length bounds the check: a valid prefix of a longer string. */
	ck_assert_int_eq(vb_utf8_valid("ab\xff", 2), 1);
	ck_assert_int_eq(vb_utf8_valid("\xe2\x82\xac", 2), 0);
}
END_TEST

/* ASCII is checked eight bytes at a time: every case above, at every
 * offset in ASCII of every length around a word, gives the same answer,
 * and the length still bounds the check. */
START_TEST(utf8_valid_every_offset)
{
	static const struct {
		const char *s;
		size_t len;
		int ok;
	} cases[] = {
		{ "\xe2\x82\xac", 3, 1 }, { "\xf0\x9f\x98\x80", 4, 1 },
		{ "\x80", 1, 0 }, { "\xff", 1, 0 }, { "\xc0\x80", 2, 0 },
		{ "\xed\xa0\x80", 3, 0 }, { "\xc3", 1, 0 }, { "\xc3\x28", 2, 0 },
	};
	char buf[64];
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		for (size_t pre = 0; pre < 20; pre++)
			for (size_t post = 0; post < 20; post++) {
				size_t len = pre + cases[c].len + post;
				memset(buf, 'a', sizeof(buf));
				memcpy(buf + pre, cases[c].s, cases[c].len);
				ck_assert_msg(vb_utf8_valid(buf, len) == cases[c].ok,
				    "case %zu at %zu of %zu", c, pre, len);
				/* Cut before it: only ASCII is left. */
				ck_assert_int_eq(vb_utf8_valid(buf, pre), 1);
				/* The decoders' check, which reads words and
				 * overlaps the last, agrees where there is no NUL. */
				ck_assert_msg(vb_utf8_text(buf, len) == cases[c].ok,
				    "text: case %zu at %zu of %zu", c, pre, len);
				ck_assert_int_eq(vb_utf8_text(buf, pre), 1);
			}
}
END_TEST

/* vb_utf8_text refuses a NUL wherever it is, in ASCII or next to a
 * multi-byte character, at every length around the word and half-word
 * it reads; and the length bounds it as it does vb_utf8_valid. */
START_TEST(utf8_text_refuses_nul)
{
	char buf[64];
	for (size_t len = 1; len < 40; len++)
		for (size_t at = 0; at < len; at++) {
			memset(buf, 'a', sizeof(buf));
			buf[at] = '\0';
			ck_assert_msg(!vb_utf8_text(buf, len), "NUL at %zu of %zu", at, len);
			ck_assert_int_eq(vb_utf8_valid(buf, len), 1);
			ck_assert_int_eq(vb_utf8_text(buf, at), 1);
			if (at + 3 <= len && at >= 3) {
				memcpy(buf + at - 3, "\xe2\x82\xac", 3);
				ck_assert_msg(!vb_utf8_text(buf, len), "NUL after a euro at %zu of %zu",
				    at, len);
				ck_assert_int_eq(vb_utf8_text(buf, at), 1);
			}
		}
	/* 0x7f and 0x01 are characters; 0x80 alone is not. */
	ck_assert_int_eq(vb_utf8_text("\x7f\x01\x7f\x01\x7f\x01\x7f\x01\x7f", 9), 1);
	ck_assert_int_eq(vb_utf8_text("\x01\x01\x01", 3), 1);
	ck_assert_int_eq(vb_utf8_text("aaaaaaaa\x80", 9), 0);
	ck_assert_int_eq(vb_utf8_text("", 0), 1);
}
END_TEST

START_TEST(utf8_scrub_function)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" }, { "plain", "plain" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "\xff", "?" }, { "ab\xc3", "ab?" }, { "\xc3\x28", "?(" },
		{ "\xe2\x82", "??" }, { "\xed\xa0\x80", "???" }, { "\xc0\xaf/", "??" "/" }, /* split: "??/" is a trigraph */
		{ "\"x\xc3\xa9\xc3\"", "\"x\xc3\xa9?\"" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		vb_utf8_scrub(buf);
		ck_assert_msg(strcmp(buf, cases[i].out) == 0, "case %zu: \"%s\"", i, buf);
		ck_assert(vb_utf8_valid(buf, strlen(buf)));
	}
}
END_TEST

/* Messages quote fields cut at a byte count, which may fall inside a
 * character: the broker sends them back in proto3 strings, which must be
 * UTF-8. */
START_TEST(messages_stay_utf8)
{
	char src[128] = "x", key[160] = "x", err[VB_ERRMSG_MAX];
	for (int i = 0; i < 40; i++)
		strcat(src, "\xc3\xa9");
	for (int i = 0; i < 60; i++)
		strcat(key, "\xc3\xa9");
	vb_event *ev = with_field(sample(S_ORDER_PLACED), F_SOURCE, src, strlen(src));
	ck_assert_int_eq(vb_event_validate(ev, NULL, err, sizeof(err)), VB_EINVAL);
	ck_assert_msg(vb_utf8_valid(err, strlen(err)), "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "\xc3\xa9?\" (service"));
	vb_event_free(ev);
	/* An attribute named at length whose value is not UTF-8. */
	vb_buf b = { 0 }, sub = { 0 };
	ev = sample(S_ORDER_PLACED);
	ck_assert_int_eq(vb_event_to_pb(ev, &b), 0);
	vb_event_free(ev);
	pb_bytes(&sub, 1, key, strlen(key));
	pb_bytes(&sub, 2, "\xff", 1);
	pb_bytes(&b, F_ATTRIBUTES, sub.data, sub.len);
	ev = decode(&b);
	ck_assert_int_eq(vb_event_validate(ev, NULL, err, sizeof(err)), VB_EINVAL);
	ck_assert_msg(vb_utf8_valid(err, strlen(err)), "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "?: not valid UTF-8"));
	vb_event_free(ev);
	vb_buf_free(&b);
	vb_buf_free(&sub);
	/* A buffer too small for the message cuts it too: inside the first
	 * character after 'source: unknown source "x'. */
	char small[27];
	ev = with_field(sample(S_ORDER_PLACED), F_SOURCE, src, strlen(src));
	ck_assert_int_eq(vb_event_validate(ev, NULL, small, sizeof(small)), VB_EINVAL);
	ck_assert_str_eq(small, "source: unknown source \"x?");
	vb_event_free(ev);
}
END_TEST

START_TEST(known_lists)
{
	static const char *const purps[] = { "service", "upsell", "cross-sell",
		"promotion", "survey" };
	static const char *const chans[] = { "email", "sms", "phone", "post", "push" };
	static const char *const neither[] = { "", "Email", "EMAIL", "fax",
		"marketing", "cross_sell", "crosssell", "email ", "all", "*" };
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(vb_purpose_known(purps[i]), 1);
		ck_assert_int_eq(vb_channel_known(chans[i]), 1);
		ck_assert_int_eq(vb_purpose_known(chans[i]), 0);
		ck_assert_int_eq(vb_channel_known(purps[i]), 0);
	}
	for (size_t i = 0; i < sizeof(neither) / sizeof(neither[0]); i++) {
		ck_assert_int_eq(vb_purpose_known(neither[i]), 0);
		ck_assert_int_eq(vb_channel_known(neither[i]), 0);
	}
}
END_TEST

START_TEST(error_buffer_small_or_absent)
{
	vb_event *ev = sample_edit(S_ORDER_PLACED, "\"source\":\"sales\"", "\"source\":\"crm\"");
	char small[10];
	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(vb_event_validate(ev, NULL, small, sizeof(small)), VB_EINVAL);
	ck_assert_str_eq(small, "source: u");
	ck_assert_int_eq(vb_event_validate(ev, NULL, NULL, 0), VB_EINVAL);
	vb_event_free(ev);
	ev = with_field(sample(S_ORDER_PLACED), F_ID, "\xff", 1);
	ck_assert_int_eq(vb_event_validate(ev, NULL, NULL, 0), VB_EINVAL);
	vb_event_free(ev);
}
END_TEST

static Suite *
validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("valid");
	tcase_add_loop_test(tc, every_sample_is_valid, 0, VBT_NSAMPLES);
	tcase_add_test(tc, time_us_is_the_instant);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_test(tc, id_rules);
	tcase_add_test(tc, seq_rules);
	tcase_add_test(tc, customer_rules);
	tcase_add_test(tc, source_rules);
	tcase_add_test(tc, type_rules);
	tcase_add_test(tc, source_may_not_publish_type);
	tcase_add_test(tc, time_rules);
	tcase_add_test(tc, payload_required_fields);
	tcase_add_test(tc, payload_missing_entirely);
	tcase_add_test(tc, channel_and_purpose);
	tcase_add_test(tc, payload_times);
	tcase_add_test(tc, amounts);
	tcase_add_test(tc, encoded_size_limit);
	tcase_add_test(tc, invalid_utf8_from_protobuf);
	tcase_add_test(tc, error_buffer_small_or_absent);
	tcase_add_test(tc, messages_stay_utf8);
	suite_add_tcase(s, tc);

	tc = tcase_create("helpers");
	tcase_add_test(tc, utf8_valid_function);
	tcase_add_test(tc, utf8_valid_every_offset);
	tcase_add_test(tc, utf8_text_refuses_nul);
	tcase_add_test(tc, utf8_scrub_function);
	tcase_add_test(tc, known_lists);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(validate_suite());
}
