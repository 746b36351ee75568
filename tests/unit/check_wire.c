/* Unit tests of proto/vb_wire: ingest and query requests and replies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vb_buf.h"
#include "vb_error.h"
#include "vb_event.h"
#include "vb_validate.h"
#include "vb_wire.h"
#include "vb_test.h"

/* Bytes that are no protobuf message at all. */
static const struct {
	const char *p;
	size_t len;
} garbage[] = {
	{ "\x0a\x05" "ab", 4 },     /* field 1: 5 bytes announced, 2 there */
	{ "\x0f", 1 },              /* wire type 7 */
	{ "\x0e\x01", 2 },          /* wire type 6 */
	{ "\x08\xff", 2 },          /* truncated varint */
	{ "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12 }, /* 11-byte varint */
	{ "\x0a\xff\xff\xff\xff\x0f", 6 }, /* a 4 GiB length */
	{ "\x80", 1 },              /* truncated key */
	{ "\x09\x01\x02", 3 },      /* fixed64 cut short */
	{ "\x0d\x01", 2 },          /* fixed32 cut short */
	{ "GET / HTTP/1.1\r\n\r\n", 18 },
};
#define NGARBAGE (sizeof(garbage) / sizeof(garbage[0]))

/* ---- replay replies built in place ---- */

/* A page as the broker builds it in place (vb_wire.h's layout). */
static size_t
build_in_place(const vb_slice *ev, size_t n, uint64_t next, int done, uint64_t last,
    uint8_t *out)
{
	uint8_t body[1 << 16], head[VB_REPLAY_HEAD_MAX];
	size_t len = 0, hlen;
	for (size_t i = 0; i < n; i++) {
		len += vb_replay_event_head(ev[i].len, body + len);
		memcpy(body + len, ev[i].p, ev[i].len);
		len += ev[i].len;
	}
	len += vb_replay_tail(next, done, last, body + len);
	hlen = vb_replay_head(len, head);
	memcpy(out, head, hlen);
	memcpy(out + hlen, body, len);
	return hlen + len;
}

static int released;
static void
count_release(void *arg)
{
	(void)arg;
	released++;
}

/* decode_keep and decode agree on p; and decode_keep releases once. */
static void
decodes_agree(const uint8_t *p, size_t len)
{
	vb_query_reply a, b;
	int ra = vb_query_reply_decode(p, len, &a);
	released = 0;
	int rb = vb_query_reply_decode_keep(p, len, count_release, NULL, &b);
	ck_assert_int_eq(ra, rb);
	if (ra != 0) {
		ck_assert_int_eq(released, 0);
		return;
	}
	ck_assert_int_eq(a.code, b.code);
	ck_assert_str_eq(a.error, b.error);
	ck_assert_int_eq(a.kind, b.kind);
	ck_assert_uint_eq(a.replay.n, b.replay.n);
	ck_assert_uint_eq(a.replay.next_seq, b.replay.next_seq);
	ck_assert_int_eq(a.replay.done, b.replay.done);
	ck_assert_uint_eq(a.replay.last_seq, b.replay.last_seq);
	for (size_t i = 0; i < a.replay.n; i++) {
		ck_assert_uint_eq(a.replay.events[i].len, b.replay.events[i].len);
		if (a.replay.events[i].len) /* protobuf-c leaves an empty one NULL */
			ck_assert_mem_eq(a.replay.events[i].p, b.replay.events[i].p,
			    a.replay.events[i].len);
	}
	vb_query_reply_free(&a);
	vb_query_reply_free(&b);
	ck_assert_int_eq(released, 1);
}

START_TEST(replay_in_place_is_protobuf_c_bytes)
{
	static uint8_t big[300], mid[130];
	vb_slice ev[64];
	const uint64_t seqs[] = { 0, 1, 127, 128, 16384, UINT64_MAX };
	uint8_t got[1 << 17];
	unsigned seed = 7;
	memset(big, 'b', sizeof(big));
	memset(mid, 'm', sizeof(mid));
	for (size_t n = 0; n <= 64; n += n < 3 ? 1 : 29) {
		for (size_t i = 0; i < n; i++) {
			size_t r = (size_t)rand_r(&seed);
			ev[i].p = r % 3 == 0 ? big : mid;
			ev[i].len = r % 3 == 0 ? sizeof(big) - r % 7 : r % sizeof(mid);
		}
		for (size_t k = 0; k < 6; k++) {
			vb_query_reply r = { .kind = VB_QUERY_REPLAY };
			vb_buf want = { 0 };
			r.replay.events = ev;
			r.replay.n = n;
			r.replay.next_seq = seqs[k];
			r.replay.done = (int)(k & 1);
			r.replay.last_seq = seqs[5 - k];
			ck_assert_int_eq(vb_query_reply_encode(&r, &want), 0);
			size_t len = build_in_place(ev, n, seqs[k], (int)(k & 1), seqs[5 - k], got);
			ck_assert_uint_eq(len, want.len);
			ck_assert_mem_eq(got, want.data, len);
			decodes_agree(got, len);
			vb_buf_free(&want);
		}
	}
}
END_TEST

START_TEST(replay_decode_keep_agrees)
{
	/* What the fast path must leave to protobuf-c, or read the same. */
	static const struct {
		const char *p;
		size_t len;
	} cases[] = {
		{ "\x1a\x00", 2 },                    /* an empty page */
		{ "\x1a\x02\x0a\x00", 4 },            /* one empty event */
		{ "\x1a\x04\x10\x05\x10\x07", 6 },    /* next_seq twice: the last wins */
		{ "\x1a\x02\x18\x02", 4 },            /* done = 2 */
		{ "\x1a\x03\x18\x80\x00", 5 },        /* done, an overlong zero */
		{ "\x1a\x02\x28\x01", 4 },            /* an unknown field */
		{ "\x1a\x02\x10\x01\x1a\x02\x20\x03", 8 }, /* replay twice: merged */
		{ "\x10\x05\x1a\x00", 4 },            /* a code */
		{ "\x0a\x01x\x1a\x00", 5 },           /* an error */
		{ "\x1a\x03\x0a\x05x", 5 },           /* an event cut short */
		{ "\x1a\x05\x0a\x01x", 5 },           /* the page cut short */
		{ "\x1a\x01\x10", 3 },                /* a varint missing */
		{ "\x1a\x02\x8a\x00", 4 },            /* an overlong key */
		{ "\x1a\x02\x0a\x00" "\x22\x00", 6 }, /* stats after it */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		decodes_agree((const uint8_t *)cases[i].p, cases[i].len);
	for (size_t i = 0; i < NGARBAGE; i++)
		decodes_agree((const uint8_t *)garbage[i].p, garbage[i].len);
}
END_TEST

/* ---- ingest ---- */

START_TEST(ingest_req_round_trip)
{
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	vb_event **evs = calloc(n, sizeof(*evs));
	vb_buf b = { 0 };
	vb_ingest_req *req = NULL;

	ck_assert_ptr_nonnull(evs);
	for (size_t i = 0; i < n; i++)
		evs[i] = vbt_event(smp[i].json);
	ck_assert_int_eq(vb_ingest_req_encode(evs, n, &b), 0);
	ck_assert_int_eq(vb_ingest_req_decode(b.data, b.len, &req), 0);
	ck_assert_uint_eq(vb_ingest_req_count(req), n);
	for (size_t i = 0; i < n; i++) {
		vb_event *got = vb_ingest_req_event(req, i);
		vb_buf j1 = { 0 }, j2 = { 0 }, p1 = { 0 }, p2 = { 0 };
		ck_assert_int_eq(vb_event_to_json(got, &j1), 0);
		ck_assert_int_eq(vb_event_to_json(evs[i], &j2), 0);
		ck_assert_str_eq((char *)j1.data, (char *)j2.data);
		ck_assert_int_eq(vb_event_to_pb(got, &p1), 0);
		ck_assert_int_eq(vb_event_to_pb(evs[i], &p2), 0);
		ck_assert_uint_eq(p1.len, p2.len);
		ck_assert_mem_eq(p1.data, p2.data, p1.len);
		ck_assert_str_eq(vb_event_payload_type(got), smp[i].type);
		vb_buf_free(&j1);
		vb_buf_free(&j2);
		vb_buf_free(&p1);
		vb_buf_free(&p2);
	}
	vb_ingest_req_free(req);
	for (size_t i = 0; i < n; i++)
		vb_event_free(evs[i]);
	free(evs);
	vb_buf_free(&b);
}
END_TEST

START_TEST(ingest_req_events_are_borrowed)
{
	size_t n;
	vb_event *ev = vbt_event(vbt_samples(&n)[0].json);
	vb_buf b = { 0 }, c = { 0 };
	vb_ingest_req *req = NULL;

	ck_assert_int_eq(vb_ingest_req_encode(&ev, 1, &b), 0);
	ck_assert_int_eq(vb_ingest_req_decode(b.data, b.len, &req), 0);
	vb_event *got = vb_ingest_req_event(req, 0);
	/* The request owns it: setting recorded is refused, freeing it is a
	 * no-op, and the request frees it (the sanitizers check both). */
	ck_assert_int_eq(vb_event_set_recorded(got, "2026-11-20T09:12:01Z"), VB_EINVAL);
	ck_assert_str_eq(vb_event_recorded(got), "");
	vb_event_free(got);
	ck_assert_str_eq(vb_event_id(got), "zd-4411-opened");
	/* Canonical encoding works on a borrowed event and leaves it as is. */
	vb_event_set_seq(got, 5);
	ck_assert_int_eq(vb_event_to_pb_canonical(got, &c), 0);
	ck_assert_uint_eq(vb_event_seq(got), 5);
	vb_ingest_req_free(req);
	vb_ingest_req_free(NULL);
	vb_event_free(ev);
	vb_buf_free(&b);
	vb_buf_free(&c);
}
END_TEST

/* Decoded in an arena, a request is the same as decoded with malloc, and
 * one arena serves request after request, reset between them. */
START_TEST(ingest_req_decode_in_arena)
{
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	vb_event **evs = calloc(n, sizeof(*evs));
	vb_buf b = { 0 };
	vb_arena a = { 0 };

	ck_assert_ptr_nonnull(evs);
	for (size_t i = 0; i < n; i++)
		evs[i] = vbt_event(smp[i].json);
	ck_assert_int_eq(vb_ingest_req_encode(evs, n, &b), 0);
	ck_assert_int_eq(vb_ingest_req_append_token("tok-1", &b), 0);
	for (int round = 0; round < 20; round++) {
		vb_ingest_req *req = NULL, *ref = NULL;
		size_t tl;
		ck_assert_int_eq(vb_ingest_req_decode_in(b.data, b.len, &a, &req), 0);
		ck_assert_int_eq(vb_ingest_req_decode(b.data, b.len, &ref), 0);
		ck_assert_uint_eq(a.limit, 0);
		ck_assert_uint_eq(vb_ingest_req_count(req), n);
		ck_assert_str_eq(vb_ingest_req_token(req, &tl), "tok-1");
		for (size_t i = 0; i < n; i++) {
			vb_buf p1 = { 0 }, p2 = { 0 };
			ck_assert_int_eq(vb_event_to_pb(vb_ingest_req_event(req, i), &p1), 0);
			ck_assert_int_eq(vb_event_to_pb(vb_ingest_req_event(ref, i), &p2), 0);
			ck_assert_uint_eq(p1.len, p2.len);
			ck_assert_mem_eq(p1.data, p2.data, p1.len);
			vb_buf_free(&p1);
			vb_buf_free(&p2);
		}
		vb_ingest_req_free(req); /* does nothing: the arena owns it */
		vb_ingest_req_free(ref);
		vb_arena_reset(&a);
	}
	ck_assert_int_eq(vb_ingest_req_decode_in((const uint8_t *)"\xff", 1, &a,
	    &(vb_ingest_req *){ NULL }), VB_EPROTO);
	vb_arena_free(&a);
	for (size_t i = 0; i < n; i++)
		vb_event_free(evs[i]);
	free(evs);
	vb_buf_free(&b);
}
END_TEST

START_TEST(ingest_req_empty)
{
	vb_buf b = { 0 };
	vb_ingest_req *req = NULL;
	ck_assert_int_eq(vb_ingest_req_encode(NULL, 0, &b), 0);
	ck_assert_int_eq(vb_ingest_req_decode(b.data, b.len, &req), 0);
	ck_assert_uint_eq(vb_ingest_req_count(req), 0);
	vb_ingest_req_free(req);
	/* Zero bytes are an empty request too. */
	ck_assert_int_eq(vb_ingest_req_decode((const uint8_t *)"", 0, &req), 0);
	ck_assert_uint_eq(vb_ingest_req_count(req), 0);
	vb_ingest_req_free(req);
	vb_buf_free(&b);
}
END_TEST

START_TEST(ingest_reply_round_trip)
{
	const vb_ingest_result in[] = {
		{ 1, 0, NULL },
		{ 1, 1, "" },
		{ 0, 0, "id: missing" },
		{ UINT64_MAX, 0, NULL },
	};
	vb_buf b = { 0 };
	vb_ingest_reply r;

	ck_assert_int_eq(vb_ingest_reply_encode(in, 4, 0, NULL, &b), 0);
	ck_assert_int_eq(vb_ingest_reply_decode(b.data, b.len, &r), 0);
	ck_assert_uint_eq(r.n, 4);
	ck_assert_int_eq(r.code, 0);
	ck_assert_ptr_nonnull(r.error);
	ck_assert_str_eq(r.error, "");
	for (size_t i = 0; i < 4; i++) {
		ck_assert_uint_eq(r.results[i].seq, in[i].seq);
		ck_assert_int_eq(r.results[i].duplicate, in[i].duplicate);
		ck_assert_ptr_nonnull(r.results[i].error);
		ck_assert_str_eq(r.results[i].error, in[i].error ? in[i].error : "");
	}
	vb_ingest_reply_free(&r);
	ck_assert_ptr_null(r.results);
	ck_assert_uint_eq(r.n, 0);
	vb_buf_free(&b);
}
END_TEST

/* The reply is written by hand: it must be the bytes protobuf-c packed
 * for it (taken from the encoder this one replaced), defaults left out,
 * an empty result kept, a negative code in ten bytes. */
START_TEST(ingest_reply_bytes_as_protobuf_c)
{
	char longe[201];
	vb_ingest_result r[4] = { { 1, 0, NULL }, { 0, 0, "id: missing" },
		{ 300, 1, "" }, { 0x8000000000000005ull, 1, longe } };
	vb_ingest_result z = { 0, 0, NULL };
	vb_buf b = { 0 }, want = { 0 };
	memset(longe, 'e', 200);
	longe[200] = 0;

	ck_assert_int_eq(vb_ingest_reply_encode(NULL, 0, 0, NULL, &b), 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(vb_ingest_reply_encode(&z, 1, 0, NULL, &b), 0);
	ck_assert_uint_eq(b.len, 2);
	ck_assert_mem_eq(b.data, "\x0a\x00", 2);
	vb_buf_reset(&b);
	ck_assert_int_eq(vb_ingest_reply_encode(r, 4, 0, NULL, &b), 0);
	ck_assert_int_eq(vb_buf_append(&want, "\x0a\x02\x08\x01\x0a\x0d\x1a\x0b"
	    "id: missing\x0a\x05\x08\xac\x02\x10\x01\x0a\xd8\x01\x08\x85\x80\x80"
	    "\x80\x80\x80\x80\x80\x80\x01\x10\x01\x1a\xc8\x01", 45), 0);
	ck_assert_int_eq(vb_buf_append(&want, longe, 200), 0);
	ck_assert_uint_eq(b.len, want.len);
	ck_assert_mem_eq(b.data, want.data, want.len);
	vb_buf_reset(&b);
	ck_assert_int_eq(vb_ingest_reply_encode(NULL, 0, VB_EFULL,
	    "the writer is behind", &b), 0);
	ck_assert_int_eq(VB_EFULL, -5);
	ck_assert_uint_eq(b.len, 33);
	ck_assert_mem_eq(b.data, "\x12\x14the writer is behind\x18\xfb\xff\xff"
	    "\xff\xff\xff\xff\xff\xff\x01", 33);
	vb_buf_reset(&b);
	ck_assert_int_eq(vb_ingest_reply_encode(NULL, 0, 7, "", &b), 0);
	ck_assert_uint_eq(b.len, 2);
	ck_assert_mem_eq(b.data, "\x18\x07", 2);
	vb_buf_free(&b);
	vb_buf_free(&want);
}
END_TEST

START_TEST(ingest_reply_request_failed)
{
	vb_buf b = { 0 };
	vb_ingest_reply r;
	/* The whole request failed: a negative code must survive int32. */
	ck_assert_int_eq(vb_ingest_reply_encode(NULL, 0, VB_EFULL,
	    "storage full: nothing was stored", &b), 0);
	ck_assert_int_eq(vb_ingest_reply_decode(b.data, b.len, &r), 0);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_int_eq(r.code, VB_EFULL);
	ck_assert_str_eq(r.error, "storage full: nothing was stored");
	vb_ingest_reply_free(&r);
	vb_buf_free(&b);
}
END_TEST

START_TEST(ingest_reply_large)
{
	enum { N = 10000 };
	vb_ingest_result *in = calloc(N, sizeof(*in));
	vb_buf b = { 0 };
	vb_ingest_reply r;
	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < N; i++) {
		in[i].seq = i * 3 + 1;
		in[i].duplicate = (i % 7) == 0;
		in[i].error = (i % 11) == 0 ? "data.case: missing" : NULL;
	}
	ck_assert_int_eq(vb_ingest_reply_encode(in, N, 0, "", &b), 0);
	ck_assert_int_eq(vb_ingest_reply_decode(b.data, b.len, &r), 0);
	ck_assert_uint_eq(r.n, N);
	for (size_t i = 0; i < N; i++) {
		ck_assert_uint_eq(r.results[i].seq, i * 3 + 1);
		ck_assert_int_eq(r.results[i].duplicate != 0, (i % 7) == 0);
		ck_assert_str_eq(r.results[i].error, (i % 11) == 0 ? "data.case: missing" : "");
	}
	vb_ingest_reply_free(&r);
	free(in);
	vb_buf_free(&b);
}
END_TEST

/* ---- query ---- */

START_TEST(tokens_ride_along)
{
	vb_query_req q = { .kind = VB_QUERY_STATS, .token = "vbt_query" }, got;
	vb_buf b = { 0 };
	ck_assert_int_eq(vb_query_req_encode(&q, &b), 0);
	ck_assert_int_eq(vb_query_req_decode(b.data, b.len, &got), 0);
	ck_assert_str_eq(got.token, "vbt_query");
	vb_query_req_free(&got);
	vb_buf_reset(&b);
	q.token = NULL;
	ck_assert_int_eq(vb_query_req_encode(&q, &b), 0);
	ck_assert_int_eq(vb_query_req_decode(b.data, b.len, &got), 0);
	ck_assert_str_eq(got.token, "");
	vb_query_req_free(&got);

	/* Ingest: the token field appended to a request encoded without it. */
	size_t nsamples;
	vb_event *ev = vbt_event(vbt_samples(&nsamples)[0].json);
	vb_ingest_req *req;
	size_t len;
	vb_buf_reset(&b);
	ck_assert_int_eq(vb_ingest_req_encode(&ev, 1, &b), 0);
	ck_assert_int_eq(vb_ingest_req_append_token("vbt_ingest", &b), 0);
	ck_assert_int_eq(vb_ingest_req_append_token("", &b), 0);
	ck_assert_int_eq(vb_ingest_req_decode(b.data, b.len, &req), 0);
	ck_assert_uint_eq(vb_ingest_req_count(req), 1);
	ck_assert_str_eq(vb_ingest_req_token(req, &len), "vbt_ingest");
	ck_assert_uint_eq(len, 10);
	vb_ingest_req_free(req);
	vb_event_free(ev);
	vb_buf_free(&b);
}
END_TEST

START_TEST(stats_names_the_client)
{
	vb_query_reply r = { .kind = VB_QUERY_STATS }, got;
	vb_buf b = { 0 };
	r.stats.client = "campaigns";
	r.stats.role = "marketing";
	r.stats.pub_redacted = 1;
	r.stats.replay_redacted = 1;
	ck_assert_int_eq(vb_query_reply_encode(&r, &b), 0);
	ck_assert_int_eq(vb_query_reply_decode(b.data, b.len, &got), 0);
	ck_assert_str_eq(got.stats.client, "campaigns");
	ck_assert_str_eq(got.stats.role, "marketing");
	ck_assert_int_eq(got.stats.pub_redacted, 1);
	ck_assert_int_eq(got.stats.replay_redacted, 1);
	vb_query_reply_free(&got);
	vb_buf_free(&b);
}
END_TEST

START_TEST(query_req_replay_round_trip)
{
	vb_query_req q = { .kind = VB_QUERY_REPLAY }, got;
	vb_buf b = { 0 };
	q.replay.from_seq = 17;
	q.replay.to_seq = UINT64_MAX;
	q.replay.since = "2026-11-01T00:00:00Z";
	q.replay.until = "2026-12-01T00:00:00+01:00";
	q.replay.customer = "C-1001";
	q.replay.type_prefix = "complaint.";
	q.replay.limit = UINT32_MAX;

	ck_assert_int_eq(vb_query_req_encode(&q, &b), 0);
	ck_assert_int_eq(vb_query_req_decode(b.data, b.len, &got), 0);
	ck_assert_int_eq(got.kind, VB_QUERY_REPLAY);
	ck_assert_uint_eq(got.replay.from_seq, 17);
	ck_assert_uint_eq(got.replay.to_seq, UINT64_MAX);
	ck_assert_str_eq(got.replay.since, q.replay.since);
	ck_assert_str_eq(got.replay.until, q.replay.until);
	ck_assert_str_eq(got.replay.customer, "C-1001");
	ck_assert_str_eq(got.replay.type_prefix, "complaint.");
	ck_assert_uint_eq(got.replay.limit, UINT32_MAX);
	vb_query_req_free(&got);
	ck_assert_ptr_null(got.priv);
	vb_buf_free(&b);
}
END_TEST

START_TEST(query_req_defaults)
{
	/* Unset strings decode as "" (never NULL) and numbers as 0. */
	vb_query_req q = { .kind = VB_QUERY_REPLAY }, got;
	vb_buf b = { 0 };
	ck_assert_int_eq(vb_query_req_encode(&q, &b), 0);
	ck_assert_int_eq(vb_query_req_decode(b.data, b.len, &got), 0);
	ck_assert_int_eq(got.kind, VB_QUERY_REPLAY);
	ck_assert_uint_eq(got.replay.from_seq, 0);
	ck_assert_uint_eq(got.replay.to_seq, 0);
	ck_assert_uint_eq(got.replay.limit, 0);
	ck_assert_ptr_nonnull(got.replay.since);
	ck_assert_ptr_nonnull(got.replay.until);
	ck_assert_ptr_nonnull(got.replay.customer);
	ck_assert_ptr_nonnull(got.replay.type_prefix);
	ck_assert_str_eq(got.replay.since, "");
	ck_assert_str_eq(got.replay.until, "");
	ck_assert_str_eq(got.replay.customer, "");
	ck_assert_str_eq(got.replay.type_prefix, "");
	vb_query_req_free(&got);
	vb_buf_free(&b);
}
END_TEST

START_TEST(query_req_stats_and_none)
{
	vb_query_req q = { .kind = VB_QUERY_STATS }, got;
	vb_buf b = { 0 };
	ck_assert_int_eq(vb_query_req_encode(&q, &b), 0);
	ck_assert_int_eq(vb_query_req_decode(b.data, b.len, &got), 0);
	ck_assert_int_eq(got.kind, VB_QUERY_STATS);
	vb_query_req_free(&got);
	/* Nothing to ask: refused when encoding, "none" when decoding. */
	q.kind = VB_QUERY_NONE;
	vb_buf_reset(&b);
	ck_assert_int_eq(vb_query_req_encode(&q, &b), VB_EINVAL);
	ck_assert_int_eq(vb_query_req_decode((const uint8_t *)"", 0, &got), 0);
	ck_assert_int_eq(got.kind, VB_QUERY_NONE);
	vb_query_req_free(&got);
	vb_buf_free(&b);
}
END_TEST

START_TEST(query_reply_replay_page)
{
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	vb_buf enc[3] = { { 0 } }, b = { 0 };
	vb_slice sl[3];
	vb_query_reply r = { .kind = VB_QUERY_REPLAY }, got;

	for (size_t i = 0; i < 3; i++) {
		vb_event *ev = vbt_event(smp[i * 5].json);
		ck_assert_int_eq(vb_event_to_pb_canonical(ev, &enc[i]), 0);
		ck_assert_int_eq(vb_event_pb_tail(10 + i, "2026-11-20T09:12:01Z", &enc[i]), 0);
		sl[i].p = enc[i].data;
		sl[i].len = enc[i].len;
		vb_event_free(ev);
	}
	r.replay.events = sl;
	r.replay.n = 3;
	r.replay.next_seq = 13;
	r.replay.done = 0;
	r.replay.last_seq = 99;
	ck_assert_int_eq(vb_query_reply_encode(&r, &b), 0);
	ck_assert_int_eq(vb_query_reply_decode(b.data, b.len, &got), 0);
	ck_assert_int_eq(got.code, 0);
	ck_assert_str_eq(got.error, "");
	ck_assert_int_eq(got.kind, VB_QUERY_REPLAY);
	ck_assert_uint_eq(got.replay.n, 3);
	ck_assert_uint_eq(got.replay.next_seq, 13);
	ck_assert_int_eq(got.replay.done, 0);
	ck_assert_uint_eq(got.replay.last_seq, 99);
	for (size_t i = 0; i < 3; i++) {
		vb_event *ev = NULL;
		ck_assert_uint_eq(got.replay.events[i].len, sl[i].len);
		ck_assert_mem_eq(got.replay.events[i].p, sl[i].p, sl[i].len);
		ck_assert_int_eq(vb_event_from_pb(got.replay.events[i].p,
		    got.replay.events[i].len, &ev), 0);
		ck_assert_uint_eq(vb_event_seq(ev), 10 + i);
		ck_assert_str_eq(vb_event_type(ev), smp[i * 5].type);
		vb_event_free(ev);
	}
	vb_query_reply_free(&got);
	ck_assert_ptr_null(got.priv);

	/* The last, empty page. */
	r.replay.n = 0;
	r.replay.events = NULL;
	r.replay.done = 1;
	r.replay.next_seq = 100;
	vb_buf_reset(&b);
	ck_assert_int_eq(vb_query_reply_encode(&r, &b), 0);
	ck_assert_int_eq(vb_query_reply_decode(b.data, b.len, &got), 0);
	ck_assert_int_eq(got.kind, VB_QUERY_REPLAY);
	ck_assert_uint_eq(got.replay.n, 0);
	ck_assert_int_eq(got.replay.done, 1);
	ck_assert_uint_eq(got.replay.next_seq, 100);
	ck_assert_uint_eq(got.replay.last_seq, 99);
	vb_query_reply_free(&got);
	for (size_t i = 0; i < 3; i++)
		vb_buf_free(&enc[i]);
	vb_buf_free(&b);
}
END_TEST

START_TEST(query_reply_stats)
{
	vb_count types[] = { { "complaint.opened", 5 }, { "order.placed", 7 },
		{ "visit.missed", UINT64_MAX } };
	vb_count sources[] = { { "sales", 7 }, { "service", 5 } };
	vb_query_reply r = { .kind = VB_QUERY_STATS }, got;
	vb_buf b = { 0 };

	r.stats.events = 12;
	r.stats.last_seq = 12;
	r.stats.customers = 4;
	r.stats.disk_bytes = 1u << 20;
	r.stats.map_bytes = 1ULL << 40;
	r.stats.used_bytes = 98304;
	r.stats.types = types;
	r.stats.ntypes = 3;
	r.stats.sources = sources;
	r.stats.nsources = 2;
	ck_assert_int_eq(vb_query_reply_encode(&r, &b), 0);
	ck_assert_int_eq(vb_query_reply_decode(b.data, b.len, &got), 0);
	ck_assert_int_eq(got.code, 0);
	ck_assert_int_eq(got.kind, VB_QUERY_STATS);
	ck_assert_uint_eq(got.stats.events, 12);
	ck_assert_uint_eq(got.stats.last_seq, 12);
	ck_assert_uint_eq(got.stats.customers, 4);
	ck_assert_uint_eq(got.stats.disk_bytes, 1u << 20);
	ck_assert_uint_eq(got.stats.map_bytes, 1ULL << 40);
	ck_assert_uint_eq(got.stats.used_bytes, 98304);
	ck_assert_uint_eq(got.stats.ntypes, 3);
	ck_assert_uint_eq(got.stats.nsources, 2);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(got.stats.types[i].name, types[i].name);
		ck_assert_uint_eq(got.stats.types[i].count, types[i].count);
	}
	for (size_t i = 0; i < 2; i++) {
		ck_assert_str_eq(got.stats.sources[i].name, sources[i].name);
		ck_assert_uint_eq(got.stats.sources[i].count, sources[i].count);
	}
	vb_query_reply_free(&got);

	/* An empty log. */
	memset(&r.stats, 0, sizeof(r.stats));
	vb_buf_reset(&b);
	ck_assert_int_eq(vb_query_reply_encode(&r, &b), 0);
	ck_assert_int_eq(vb_query_reply_decode(b.data, b.len, &got), 0);
	ck_assert_int_eq(got.kind, VB_QUERY_STATS);
	ck_assert_uint_eq(got.stats.events, 0);
	ck_assert_uint_eq(got.stats.ntypes, 0);
	ck_assert_uint_eq(got.stats.nsources, 0);
	vb_query_reply_free(&got);
	vb_buf_free(&b);
}
END_TEST

START_TEST(query_reply_error)
{
	vb_query_reply r = { .kind = VB_QUERY_REPLAY, .code = VB_EINVAL,
		.error = "since: \"yesterday\" is not an RFC 3339 date-time" }, got;
	vb_buf b = { 0 };
	ck_assert_int_eq(vb_query_reply_encode(&r, &b), 0);
	ck_assert_int_eq(vb_query_reply_decode(b.data, b.len, &got), 0);
	ck_assert_int_eq(got.code, VB_EINVAL);
	ck_assert_str_eq(got.error, r.error);
	ck_assert_uint_eq(got.replay.n, 0);
	vb_query_reply_free(&got);
	vb_buf_free(&b);
}
END_TEST

/* ---- hostile requests ---- */

/* Append a length-delimited field. */
static void
put_field(vb_buf *b, unsigned field, const void *p, size_t len)
{
	ck_assert_int_eq(vb_buf_append_varint(b, ((uint64_t)field << 3) | 2), 0);
	ck_assert_int_eq(vb_buf_append_varint(b, len), 0);
	ck_assert_int_eq(vb_buf_append(b, p, len), 0);
}

START_TEST(ingest_req_peek_count)
{
	size_t n, got;
	const vbt_sample *smp = vbt_samples(&n);
	vb_event **evs = calloc(n, sizeof(*evs));
	vb_buf b = { 0 };

	ck_assert_ptr_nonnull(evs);
	for (size_t i = 0; i < n; i++)
		evs[i] = vbt_event(smp[i].json);
	for (size_t k = 0; k <= n; k++) {
		vb_buf_reset(&b);
		ck_assert_int_eq(vb_ingest_req_encode(evs, k, &b), 0);
		ck_assert_int_eq(vb_ingest_req_peek_count(b.data, b.len, &got), 0);
		ck_assert_uint_eq(got, k);
	}
	/* Unknown fields are skipped, not counted. */
	ck_assert_int_eq(vb_buf_append(&b, "\x10\x05\x1d\x01\x02\x03\x04\x11\x01\x02\x03\x04\x05\x06\x07\x08", 16), 0);
	put_field(&b, 9, "xyz", 3);
	ck_assert_int_eq(vb_ingest_req_peek_count(b.data, b.len, &got), 0);
	ck_assert_uint_eq(got, n);
	/* Millions of empty events are counted without a byte allocated. */
	vb_buf_reset(&b);
	for (int i = 0; i < 100000; i++)
		ck_assert_int_eq(vb_buf_append(&b, "\x0a\x00", 2), 0);
	ck_assert_int_eq(vb_ingest_req_peek_count(b.data, b.len, &got), 0);
	ck_assert_uint_eq(got, 100000);
	for (size_t i = 0; i < NGARBAGE; i++) {
		ck_assert_msg(vb_ingest_req_peek_count((const uint8_t *)garbage[i].p, garbage[i].len,
		    &got) == VB_EPROTO, "garbage %zu", i);
	}
	for (size_t i = 0; i < n; i++)
		vb_event_free(evs[i]);
	free(evs);
	vb_buf_free(&b);
}
END_TEST

/* Where peek and decode both succeed they agree. */
START_TEST(ingest_req_peek_agrees_with_decode)
{
	vbt_rng r = { vbt_seed("ingest_req_peek_agrees_with_decode") };
	uint8_t buf[64];
	for (int i = 0; i < 50000; i++) {
		size_t len = (size_t)vbt_rand_range(&r, 0, sizeof(buf)), got;
		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)(vbt_rand(&r) % 4 ? vbt_rand(&r) % 16 : vbt_rand(&r));
		vb_ingest_req *req = NULL;
		if (vb_ingest_req_decode(buf, len, &req) != 0)
			continue;
		ck_assert_int_eq(vb_ingest_req_peek_count(buf, len, &got), 0);
		ck_assert_uint_eq(got, vb_ingest_req_count(req));
		vb_ingest_req_free(req);
	}
}
END_TEST

/* protobuf-c allocates some 100 bytes for an empty entry of 2: a request
 * within max_message could take gigabytes.  Past VB_DECODE_RATIO times its
 * size, it is refused. */
START_TEST(decode_budget)
{
	vb_buf ev = { 0 }, b = { 0 }, g = { 0 };
	vb_ingest_req *req = NULL;
	vb_query_req q;

	for (int i = 0; i < 200000; i++)
		ck_assert_int_eq(vb_buf_append(&ev, "\x42\x00", 2), 0); /* empty attribute */
	put_field(&b, 1, ev.data, ev.len);
	ck_assert_int_eq(vb_ingest_req_decode(b.data, b.len, &req), VB_ETOOBIG);
	ck_assert_ptr_null(req);
	/* The same budget in an arena, whatever it held before. */
	{
		vb_arena a = { 0 };
		ck_assert_ptr_nonnull(vb_arena_alloc(&a, 1000));
		ck_assert_int_eq(vb_ingest_req_decode_in(b.data, b.len, &a, &req), VB_ETOOBIG);
		ck_assert_ptr_null(req);
		ck_assert_uint_eq(a.limit, 0);
		vb_arena_free(&a);
	}
	/* The same number of bytes in real attributes decodes. */
	vb_buf_reset(&ev);
	vb_buf_reset(&b);
	vb_buf e = { 0 };
	for (int i = 0; i < 20000; i++) {
		char key[16];
		int n = snprintf(key, sizeof(key), "k%d", i);
		vb_buf_reset(&e);
		put_field(&e, 1, key, (size_t)n);
		put_field(&e, 2, "value", 5);
		put_field(&ev, 8, e.data, e.len);
	}
	vb_buf_free(&e);
	put_field(&b, 1, ev.data, ev.len);
	ck_assert_int_eq(vb_ingest_req_decode(b.data, b.len, &req), 0);
	ck_assert_uint_eq(vb_ingest_req_count(req), 1);
	vb_ingest_req_free(req);
	{
		vb_arena a = { 0 };
		ck_assert_int_eq(vb_ingest_req_decode_in(b.data, b.len, &a, &req), 0);
		ck_assert_uint_eq(vb_ingest_req_count(req), 1);
		vb_arena_free(&a);
	}
	/* A gate request of empty customers. */
	for (int i = 0; i < 200000; i++)
		ck_assert_int_eq(vb_buf_append(&g, "\x0a\x00", 2), 0);
	vb_buf_reset(&b);
	put_field(&b, 3, g.data, g.len);
	ck_assert_int_eq(vb_query_req_decode(b.data, b.len, &q), VB_ETOOBIG);
	vb_query_req_free(&q);
	{
		/* Into an arena, under the same budget; and a sane request
		 * decodes there after a refused one. */
		vb_arena a = { 0 };
		const char *custs[] = { "C-1", "C-2" };
		vb_query_req ok = { .kind = VB_QUERY_GATE, .gate = { custs, 2, "upsell",
			"email", "2026-12-01T00:00:00Z", "" } };
		ck_assert_int_eq(vb_query_req_decode_in(b.data, b.len, &a, &q), VB_ETOOBIG);
		vb_arena_reset(&a);
		vb_buf_reset(&b);
		ck_assert_int_eq(vb_query_req_encode(&ok, &b), 0);
		ck_assert_int_eq(vb_query_req_decode_in(b.data, b.len, &a, &q), 0);
		ck_assert_int_eq(q.kind, VB_QUERY_GATE);
		ck_assert_uint_eq(q.gate.n, 2);
		ck_assert_str_eq(q.gate.customers[1], "C-2");
		ck_assert_str_eq(q.gate.purpose, "upsell");
		ck_assert_str_eq(q.gate.at, "2026-12-01T00:00:00Z");
		vb_query_req_free(&q); /* the arena's: nothing to free */
		vb_arena_free(&a);
	}
	vb_buf_free(&ev);
	vb_buf_free(&b);
	vb_buf_free(&g);
}
END_TEST

START_TEST(query_req_check_utf8)
{
	const char *custs[] = { "C-1", "C-\xc3\xa9", "C-\xff" };
	vb_query_req qs[] = {
		{ .kind = VB_QUERY_GATE, .gate = { custs, 3, "promotion", "email", "", "" } },
		{ .kind = VB_QUERY_GATE, .gate = { custs, 2, "promotion", "email", "", "spr\xffing" } },
		{ .kind = VB_QUERY_REPLAY, .replay = { .customer = "\xed\xa0\x80" } },
		{ .kind = VB_QUERY_CUSTOMER, .customer = { "C-1", "2026\xc0\xaf" } },
		{ .kind = VB_QUERY_SUPPRESSIONS, .supp = { .after = "C-\xc3" } },
		{ .kind = VB_QUERY_GATE, .gate = { custs, 2, "promotion", "email", "", "" } },
		{ .kind = VB_QUERY_STATS },
	};
	static const char *const want[] = { "gate.customers: not valid UTF-8",
		"gate.record: not valid UTF-8", "replay.customer: not valid UTF-8",
		"customer.at: not valid UTF-8", "suppressions.after: not valid UTF-8", "", "" };
	vb_buf b = { 0 };
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		vb_query_req got;
		char err[128] = "";
		vb_buf_reset(&b);
		ck_assert_int_eq(vb_query_req_encode(&qs[i], &b), 0);
		ck_assert_int_eq(vb_query_req_decode(b.data, b.len, &got), 0);
		ck_assert_int_eq(vb_query_req_check_utf8(&got, err, sizeof(err)),
		    want[i][0] ? VB_EINVAL : 0);
		ck_assert_str_eq(err, want[i]);
		vb_query_req_free(&got);
	}
	vb_buf_free(&b);
}
END_TEST

/* An error that quotes a request cut inside a character is still UTF-8 on
 * the wire, as proto3 wants of a string. */
START_TEST(query_reply_error_is_utf8)
{
	vb_query_reply r = { .code = VB_EINVAL,
		.error = "at: \"x\xc3\xa9\xc3\" is not an RFC 3339 date-time" }, got;
	vb_buf b = { 0 };
	ck_assert_int_eq(vb_query_reply_encode(&r, &b), 0);
	ck_assert_int_eq(vb_query_reply_decode(b.data, b.len, &got), 0);
	ck_assert_str_eq(got.error, "at: \"x\xc3\xa9?\" is not an RFC 3339 date-time");
	vb_query_reply_free(&got);
	vb_buf_free(&b);
}
END_TEST

START_TEST(garbage_is_eproto)
{
	const uint8_t *p = (const uint8_t *)garbage[_i].p;
	size_t len = garbage[_i].len;
	vb_ingest_req *req = NULL;
	vb_ingest_reply ir;
	vb_query_req qq;
	vb_query_reply qr;

	ck_assert_int_eq(vb_ingest_req_decode(p, len, &req), VB_EPROTO);
	ck_assert_ptr_null(req);
	ck_assert_int_eq(vb_ingest_reply_decode(p, len, &ir), VB_EPROTO);
	vb_ingest_reply_free(&ir); /* harmless after a failure */
	ck_assert_int_eq(vb_query_req_decode(p, len, &qq), VB_EPROTO);
	vb_query_req_free(&qq);
	ck_assert_int_eq(vb_query_reply_decode(p, len, &qr), VB_EPROTO);
	vb_query_reply_free(&qr);
}
END_TEST

START_TEST(wrong_message_type_is_eproto)
{
	/* An ingest request whose event is not an Event. */
	const uint8_t bad_event[] = { 0x0a, 0x02, 0x0f, 0x00 };
	vb_ingest_req *req = NULL;
	ck_assert_int_eq(vb_ingest_req_decode(bad_event, sizeof(bad_event), &req), VB_EPROTO);
	/* A query request whose replay request holds a truncated string. */
	const uint8_t bad_replay[] = { 0x0a, 0x03, 0x1a, 0x05, 'x' };
	vb_query_req q;
	ck_assert_int_eq(vb_query_req_decode(bad_replay, sizeof(bad_replay), &q), VB_EPROTO);
	vb_query_req_free(&q);
}
END_TEST

START_TEST(random_bytes_never_crash)
{
	vbt_rng r = { vbt_seed("random_bytes_never_crash") };
	uint8_t buf[256];

	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)vbt_rand_range(&r, 0, sizeof(buf));
		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)vbt_rand(&r);
		/* Decoding into exactly len bytes, so any overread is caught. */
		uint8_t *p = malloc(len ? len : 1);
		ck_assert_ptr_nonnull(p);
		memcpy(p, buf, len);
		vb_ingest_req *req = NULL;
		vb_ingest_reply ir;
		vb_query_req qq;
		vb_query_reply qr;
		int rv;
		rv = vb_ingest_req_decode(p, len, &req);
		ck_assert(rv == 0 || rv == VB_EPROTO);
		if (rv == 0) {
			for (size_t k = 0; k < vb_ingest_req_count(req); k++) {
				vb_buf j = { 0 };
				vb_event_to_json(vb_ingest_req_event(req, k), &j);
				vb_buf_free(&j);
			}
			vb_ingest_req_free(req);
		}
		rv = vb_ingest_reply_decode(p, len, &ir);
		ck_assert(rv == 0 || rv == VB_EPROTO);
		vb_ingest_reply_free(&ir);
		rv = vb_query_req_decode(p, len, &qq);
		ck_assert(rv == 0 || rv == VB_EPROTO);
		vb_query_req_free(&qq);
		rv = vb_query_reply_decode(p, len, &qr);
		ck_assert(rv == 0 || rv == VB_EPROTO);
		vb_query_reply_free(&qr);
		free(p);
	}
}
END_TEST


/* One way to spoil an encoding: what a peer that is not protobuf-c may send
 * (fields out of order or twice, defaults written, padded varints, unknown
 * or broker-set fields, a NUL in a string) and plain byte damage. */
static void
mutate(vbt_rng *r, vb_buf *b)
{
#define F(s) { s, sizeof(s) - 1 }
	static const struct {
		const char *p;
		size_t n;
	} bits[] = { F("\x30\x00"), F("\x30\x05"), F("\x3a\x00"), F("\x3a\x01x"),
		F("\x0a\x00"), F("\x12\x00"), F("\x48\x00"), F("\x48\x01"),
		F("\x48\x02"), F("\x50\x01"), F("\xa2\x01\x00"), F("\xf2\x01\x00"),
		F("\x42\x00"), F("\x42\x04\x0a\x00\x12\x00"),
		F("\x42\x06\x0a\x01k\x12\x01v"), F("\x00\x01"), F("\x1a\x03x\x00y"),
		F("\x8a\x00\x01x"), F("\x0a\x81\x00x"), F("\x12\x80\x01"),
		F("\x0b\x0c"), F("\x0d\x01\x02\x03\x04"), F("\x22\x01z"),
		F("\x0a\x01i") };
#undef F
	size_t at = (size_t)vbt_rand_range(r, 0, (int64_t)b->len);
	switch (vbt_rand_range(r, 0, 5)) {
	case 0: /* a byte changed */
		if (b->len)
			b->data[at % b->len] = (uint8_t)vbt_rand(r);
		break;
	case 1: /* a piece cut out */
		if (at < b->len) {
			size_t n = (size_t)vbt_rand_range(r, 1, (int64_t)(b->len - at));
			memmove(b->data + at, b->data + at + n, b->len - at - n);
			b->len -= n;
		}
		break;
	case 2: /* a piece repeated at the end */
		if (at < b->len) {
			uint8_t tmp[4096];
			size_t n = (size_t)vbt_rand_range(r, 1, (int64_t)(b->len - at));
			if (n > sizeof(tmp))
				n = sizeof(tmp);
			memcpy(tmp, b->data + at, n);
			ck_assert_int_eq(vb_buf_append(b, tmp, n), 0);
		}
		break;
	default: { /* a field put in front, at the end, or anywhere */
		size_t k = (size_t)vbt_rand_range(r, 0, sizeof(bits) / sizeof(bits[0]) - 1);
		int where = (int)vbt_rand_range(r, 0, 2);
		size_t pos = where == 0 ? 0 : where == 1 ? b->len : at;
		ck_assert_int_eq(vb_buf_reserve(b, b->len + bits[k].n + 1), 0);
		memmove(b->data + pos + bits[k].n, b->data + pos, b->len - pos);
		memcpy(b->data + pos, bits[k].p, bits[k].n);
		b->len += bits[k].n;
	}
	}
}

/* The request's bytes of an event, when the scan says they are canonical,
 * are stored as they are: they must be what packing the decoded event
 * writes, byte for byte, and everything else about the event (its size,
 * its check for unknown fields, its validation) must come out as for the
 * same event decoded alone. */
START_TEST(canonical_copy_is_the_packing)
{
	vbt_rng r = { vbt_seed("canonical_copy_is_the_packing") };
	size_t n, fast = 0, tried = 0, walked = 0;
	const vbt_sample *smp = vbt_samples(&n);
	vb_arena a = { 0 };
	for (size_t i = 0; i < n; i++) {
		vb_event *ev = vbt_event(smp[i].json);
		vb_buf orig = { 0 };
		ck_assert_int_eq(vb_event_to_pb(ev, &orig), 0);
		/* What protobuf-c writes is taken as it is. */
		ck_assert_msg(vb_event_pb_is_canonical(orig.data, orig.len),
		    "sample %s: packed bytes not taken as canonical", smp[i].type);
		for (int round = 0; round < 600; round++) {
			vb_buf m = { 0 }, req = { 0 }, want = { 0 }, got = { 0 };
			vb_event *ref = NULL;
			vb_ingest_req *rq = NULL;
			char e1[VB_ERRMSG_MAX] = "", e2[VB_ERRMSG_MAX] = "";
			int canon, rv;
			ck_assert_int_eq(vb_buf_append(&m, orig.data, orig.len), 0);
			for (int k = (int)vbt_rand_range(&r, 0, 3); k > 0; k--)
				mutate(&r, &m);
			tried++;
			canon = vb_event_pb_is_canonical(m.data, m.len);
			if (vb_event_from_pb(m.data, m.len, &ref) != 0) {
				ck_assert_msg(!canon, "taken as canonical, but does not decode");
				vb_buf_free(&m);
				continue;
			}
			ck_assert_int_eq(vb_event_to_pb_canonical(ref, &want), 0);
			if (canon) {
				fast++;
				ck_assert_uint_eq(want.len, m.len);
				ck_assert_mem_eq(want.data, m.data, m.len);
				ck_assert_uint_eq(vb_event_pb_size(ref), m.len);
			}
			/* The same bytes as the event of a request, after a token. */
			ck_assert_int_eq(vb_buf_append(&req, "\x12\x02tk", 4), 0);
			ck_assert_int_eq(vb_buf_append_byte(&req, 0x0a), 0);
			ck_assert_int_eq(vb_buf_append_varint(&req, m.len), 0);
			ck_assert_int_eq(vb_buf_append(&req, m.data, m.len), 0);
			rv = (round & 1) ? vb_ingest_req_decode_in(req.data, req.len, &a, &rq) :
			    vb_ingest_req_decode(req.data, req.len, &rq);
			if (rv == 0) {
				vb_event *lent = vb_ingest_req_event(rq, 0);
				ck_assert_uint_eq(vb_event_pb_size(lent), vb_event_pb_size(ref));
				ck_assert_int_eq(vb_event_check_form(lent, e1, sizeof(e1)),
				    vb_event_check_form(ref, e2, sizeof(e2)));
				ck_assert_str_eq(e1, e2);
				ck_assert_int_eq(vb_event_validate(lent, NULL, e1, sizeof(e1)),
				    vb_event_validate(ref, NULL, e2, sizeof(e2)));
				ck_assert_str_eq(e1, e2);
				ck_assert_int_eq(vb_event_to_pb_canonical(lent, &got), 0);
				ck_assert_uint_eq(got.len, want.len);
				ck_assert_mem_eq(got.data, want.data, want.len);
				/* The event itself, decoded by the broker's own walk
				 * (canonical, in the arena) or by protobuf-c, and not
				 * its bytes copied: as JSON, and packed afresh. */
				size_t tl;
				ck_assert_str_eq(vb_ingest_req_token(rq, &tl), "tk");
				vb_buf_reset(&got);
				vb_buf_reset(&want);
				ck_assert_int_eq(vb_event_to_json(lent, &got), 0);
				ck_assert_int_eq(vb_event_to_json(ref, &want), 0);
				ck_assert_uint_eq(got.len, want.len);
				ck_assert_mem_eq(got.data, want.data, want.len);
				/* Setting seq forgets the bytes. */
				vb_event_set_seq(lent, vb_event_seq(lent));
				vb_event_set_seq(ref, vb_event_seq(ref));
				vb_buf_reset(&got);
				ck_assert_int_eq(vb_event_to_pb(lent, &got), 0);
				vb_buf_reset(&want);
				ck_assert_int_eq(vb_event_to_pb(ref, &want), 0);
				ck_assert_uint_eq(got.len, want.len);
				ck_assert_mem_eq(got.data, want.data, want.len);
				if (canon && (round & 1))
					walked++;
			} else {
				/* A request is refused for a field 0 in it. */
				ck_assert_int_eq(rv, VB_EPROTO);
				ck_assert_msg(!canon, "canonical event in a refused request");
			}
			if (!(round & 1))
				vb_ingest_req_free(rq);
			vb_arena_reset(&a);
			vb_event_free(ref);
			vb_buf_free(&m);
			vb_buf_free(&req);
			vb_buf_free(&want);
			vb_buf_free(&got);
		}
		vb_buf_free(&orig);
		vb_event_free(ev);
	}
	/* The property is worth what it was tried on. */
	ck_assert_msg(fast > tried / 50, "%zu of %zu mutations taken as canonical",
	    fast, tried);
	ck_assert_msg(walked > fast / 4, "%zu of %zu canonical ones decoded in an arena",
	    walked, fast);
	vb_arena_free(&a);
}
END_TEST

/* The gate's replies are written without protobuf-c: byte for byte what it
 * packs, whatever is empty, NULL, false or 0, and for any count. */
START_TEST(gate_reply_bytes_as_protobuf_c)
{
	vbt_rng rng = { vbt_seed("gate_reply_bytes_as_protobuf_c") };
	static const char *const strs[] = { NULL, "", "C-1001", "upsell", "email",
		"[{\"rule\":\"open-complaint\",\"event\":\"svc:T-4411:opened\"}]",
		"caf\xc3\xa9" };
	char longs[300];
	memset(longs, 'x', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	for (int round = 0; round < 400; round++) {
		vb_decision_msg d[40];
		vb_query_reply r = { .kind = VB_QUERY_GATE };
		vb_buf got = { 0 }, want = { 0 };
		size_t ns = sizeof(strs) / sizeof(strs[0]);
#define PICK() (vbt_rand_range(&rng, 0, 9) == 0 ? longs : strs[vbt_rand_range(&rng, 0, (int64_t)ns - 1)])
		r.ndecisions = (size_t)vbt_rand_range(&rng, 0, 40);
		r.decisions = d;
		r.at = PICK();
		r.error = vbt_rand_range(&rng, 0, 1) ? NULL : "";
		for (size_t i = 0; i < r.ndecisions; i++) {
			d[i].customer = PICK();
			d[i].purpose = PICK();
			d[i].channel = PICK();
			d[i].reasons = PICK();
			d[i].allow = (int)vbt_rand_range(&rng, 0, 1);
			d[i].recorded_duplicate = (int)vbt_rand_range(&rng, 0, 1);
			d[i].recorded_seq = vbt_rand_range(&rng, 0, 2) == 0 ? 0 :
			    vbt_rand(&rng) >> vbt_rand_range(&rng, 0, 63);
		}
#undef PICK
		ck_assert_int_eq(vb_query_reply_encode(&r, &got), 0);
		ck_assert_int_eq(vb_query_reply_encode_pb(&r, &want), 0);
		ck_assert_uint_eq(got.len, want.len);
		ck_assert_mem_eq(got.data, want.data, want.len);
		vb_buf_free(&got);
		vb_buf_free(&want);
	}
}
END_TEST

static Suite *
wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("ingest");
	tcase_add_test(tc, ingest_req_round_trip);
	tcase_add_test(tc, ingest_req_events_are_borrowed);
	tcase_add_test(tc, ingest_req_decode_in_arena);
	tcase_add_test(tc, canonical_copy_is_the_packing);
	tcase_add_test(tc, ingest_req_empty);
	tcase_add_test(tc, ingest_reply_round_trip);
	tcase_add_test(tc, ingest_reply_request_failed);
	tcase_add_test(tc, ingest_reply_bytes_as_protobuf_c);
	tcase_add_test(tc, ingest_reply_large);
	suite_add_tcase(s, tc);

	tc = tcase_create("query");
	tcase_add_test(tc, gate_reply_bytes_as_protobuf_c);
	tcase_add_test(tc, query_req_replay_round_trip);
	tcase_add_test(tc, tokens_ride_along);
	tcase_add_test(tc, stats_names_the_client);
	tcase_add_test(tc, query_req_defaults);
	tcase_add_test(tc, query_req_stats_and_none);
	tcase_add_test(tc, query_reply_replay_page);
	tcase_add_test(tc, query_reply_stats);
	tcase_add_test(tc, query_reply_error);
	tcase_add_test(tc, replay_in_place_is_protobuf_c_bytes);
	tcase_add_test(tc, replay_decode_keep_agrees);
	suite_add_tcase(s, tc);

	tc = tcase_create("garbage");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, garbage_is_eproto, 0, NGARBAGE);
	tcase_add_test(tc, wrong_message_type_is_eproto);
	tcase_add_test(tc, random_bytes_never_crash);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ingest_req_peek_count);
	tcase_add_test(tc, ingest_req_peek_agrees_with_decode);
	tcase_add_test(tc, decode_budget);
	tcase_add_test(tc, query_req_check_utf8);
	tcase_add_test(tc, query_reply_error_is_utf8);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(wire_suite());
}
