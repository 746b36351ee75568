/* Integration: hostile and broken input against the real voicebusd.  Every
 * case must get an answer the client can read, naming what is wrong; the
 * broker must not crash, must keep answering, and must not grow. */
#include <check.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vb_error.h"
#include "vb_harness.h"
#include "vb_validate.h"

#if defined(__SANITIZE_ADDRESS__)
#define VB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VB_ASAN 1
#endif
#endif
#ifndef VB_ASAN
#define VB_ASAN 0
#endif

/* The broker of the test in progress: killed if an assertion ends the
 * test's process early, so that no voicebusd outlives its test. */
static vb_h_broker *live;

static void
kill_live(void)
{
	if (live != NULL)
		vb_h_cleanup(live);
}

static void
start(vb_h_broker *b, const char *const *extra)
{
	vb_h_init(b);
	live = b;
	atexit(kill_live);
	vb_h_start(b, extra);
}

static void
finish(vb_h_broker *b)
{
	ck_assert_int_eq(vb_h_stop(b), 0);
	vb_h_cleanup(b);
	live = NULL;
}

/* The broker is alive and answers both sockets. */
static void
still_answers(const vb_h_broker *b)
{
	int status;
	ck_assert_int_eq(waitpid(b->pid, &status, WNOHANG), 0);
	vb_client *c = vb_h_client(b);
	vb_h_last_seq(c);
	char json[512], err[256];
	vb_event *ev;
	vb_ingest_reply rep;
	vb_h_order_json(json, sizeof(json), "alive-check", "C-alive");
	ck_assert_int_eq(vb_event_from_json(json, strlen(json), &ev, err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(vb_client_publish(c, &ev, 1, &rep), 0);
	ck_assert_int_eq(rep.code, 0);
	ck_assert_str_eq(rep.results[0].error, "");
	vb_ingest_reply_free(&rep);
	vb_event_free(ev);
	vb_client_close(c);
}

static vb_event *ev_json(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static vb_event *
ev_json(const char *fmt, ...)
{
	va_list ap;
	char err[VB_ERRMSG_MAX];
	vb_event *ev;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	ck_assert_msg(vb_event_from_json(s, (size_t)n, &ev, err, sizeof(err)) ==
	        0,
	    "%.200s: %s", s, err);
	free(s);
	return ev;
}

static vb_event *
order(const char *id, const char *customer)
{
	char json[1024];
	vb_h_order_json(json, sizeof(json), id, customer);
	return ev_json("%s", json);
}

static void
encode(vb_event *const *evs, size_t n, vb_buf *out)
{
	vb_buf_reset(out);
	ck_assert_int_eq(vb_ingest_req_encode(evs, n, out), 0);
}

/* Replace the only occurrence of what (same length as with) in b. */
static void
patch(vb_buf *b, const char *what, const char *with)
{
	size_t n = strlen(what);
	uint8_t *at = memmem(b->data, b->len, what, n), *again;
	ck_assert_ptr_nonnull(at);
	again = memmem(at + 1, b->len - (size_t)(at + 1 - b->data), what, n);
	ck_assert_ptr_null(again);
	memcpy(at, with, n);
}

static void
assert_utf8(const char *s)
{
	ck_assert_msg(vb_utf8_valid(s, strlen(s)), "reply not UTF-8: %s", s);
}

/* ---- a REQ socket of our own, for bytes vb_client would not send ---- */

typedef struct raw {
	nng_socket s;
} raw;

static void
raw_open(raw *r, const char *url, int timeout_ms)
{
	ck_assert_int_eq(nng_req0_open(&r->s), 0);
	nng_socket_set_ms(r->s, NNG_OPT_SENDTIMEO, timeout_ms);
	nng_socket_set_ms(r->s, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_size(r->s, NNG_OPT_RECVMAXSZ, 64u << 20);
	ck_assert_int_eq(nng_dial(r->s, url, NULL, 0), 0);
}

/* Send len bytes and wait for the reply; *reply: nng_msg_free.  A VB_E
 * code when no reply came. */
static int
raw_call(raw *r, const void *p, size_t len, nng_msg **reply)
{
	nng_msg *m;
	int rv;
	if ((rv = nng_msg_alloc(&m, len)) != 0)
		return vb_err_from_nng(rv);
	if (len)
		memcpy(nng_msg_body(m), p, len);
	if ((rv = nng_sendmsg(r->s, m, 0)) != 0) {
		nng_msg_free(m);
		return vb_err_from_nng(rv);
	}
	if ((rv = nng_recvmsg(r->s, reply, 0)) != 0)
		return vb_err_from_nng(rv);
	return VB_OK;
}

/* A query sent as bytes; its decoded reply in *out. */
static int
raw_query(raw *r, const void *p, size_t len, vb_query_reply *out)
{
	nng_msg *m;
	int rv = raw_call(r, p, len, &m);
	if (rv != 0)
		return rv;
	rv = vb_query_reply_decode(nng_msg_body(m), nng_msg_len(m), out);
	nng_msg_free(m);
	return rv;
}

static void
query_encode(const vb_query_req *q, vb_buf *out)
{
	vb_buf_reset(out);
	ck_assert_int_eq(vb_query_req_encode(q, out), 0);
}

/* ---- the CLI ---- */

typedef struct cli_run {
	int status;
	char *err; /* its stderr */
	int64_t ms;
} cli_run;

static void
publish_file(const vb_h_broker *b, const char *in, cli_run *out)
{
	char errp[400];
	const char *args[] = { "publish", "--ingest", b->ingest, "--query",
		b->query, "--timeout", "20", NULL };
	snprintf(errp, sizeof(errp), "%s/publish.err", b->dir);
	int64_t t0 = vb_h_now_ms();
	out->status = vb_h_cli(args, in, NULL, errp);
	out->ms = vb_h_now_ms() - t0;
	out->err = vb_h_slurp(errp, NULL);
	ck_assert_ptr_nonnull(out->err);
}

static void
assert_has(const char *hay, const char *needle)
{
	ck_assert_msg(strstr(hay, needle) != NULL, "\"%s\" not in:\n%.2000s",
	    needle, hay);
}

static size_t
log_lines(const vb_h_broker *b)
{
	return vb_h_count_lines(b->log);
}

/* ---- over max_message ---- */

START_TEST(oversize_request)
{
	vb_h_broker b;
	vb_ingest_reply rep;
	const char *extra[] = { "--set", "max_message=256KiB", NULL };
	size_t limit = 256u << 10;

	start(&b, extra);
	size_t lines0 = log_lines(&b); /* what it says at start */
	/* Over the limit: nng drops it before voicebusd sees it, so no
	 * reply can come and the client sees its own timeout.  The socket is
	 * not closed: with libnng 1.5.2 a REQ socket whose peer reset the
	 * connection during a large send can be left wedged, and nng_close
	 * then waits forever.  Even so the test hung once in a sanitized CI
	 * run after this step, in libnng, so the raw send over the limit runs
	 * only when asked (VB_HOSTILE_RAW_OVERSIZE=1); what users meet --
	 * voicebus publish refusing the line before sending -- runs always. */
	if (getenv("VB_HOSTILE_RAW_OVERSIZE") != NULL) {
		raw wedged;
		raw_open(&wedged, b.ingest, 1500);
		uint8_t *big = malloc(limit + 1);
		nng_msg *m;
		ck_assert_ptr_nonnull(big);
		memset(big, 0xff, limit + 1);
		int64_t t0 = vb_h_now_ms();
		int rv = raw_call(&wedged, big, limit + 1, &m);
		int64_t ms = vb_h_now_ms() - t0;
		printf(
		    "oversize: %zu-byte request over max_message %zu: client sees \"%s\" after %lld ms\n",
		    limit + 1, limit, vb_strerror(rv), (long long)ms);
		ck_assert_int_eq(rv, VB_ETIMEDOUT);
		ck_assert_int_lt(ms, 10000);
		/* Within the limit (less the REQ header) it is read, and refused
		 * for what it is. */
		vb_client *c = vb_h_client(&b);
		ck_assert_int_eq(vb_client_publish_raw(c, big, limit - 4, &rep), 0);
		ck_assert_int_eq(rep.code, VB_EPROTO);
		assert_has(rep.error, "IngestRequest");
		vb_ingest_reply_free(&rep);
		free(big);
		vb_client_close(c);
		ck_assert_uint_eq(log_lines(&b), lines0);
	}
	still_answers(&b);

	/* voicebus publish: an event over the contract's 64 KiB is refused
	 * on its line, before anything is sent; events that fit are sent in
	 * batches under max_message, however many bytes they add up to. */
	char in[400];
	snprintf(in, sizeof(in), "%s/big.jsonl", b.dir);
	FILE *f = fopen(in, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
	    "{\"id\":\"huge\",\"source\":\"sales\",\"type\":\"order.placed\","
	    "\"customer\":\"C-1\",\"time\":\"2026-11-20T10:00:00Z\","
	    "\"data\":{\"order\":\"O-1\"},\"attributes\":{\"blob\":\"");
	for (size_t i = 0; i < (20u << 20); i++)
		fputc('x', f);
	fprintf(f, "\"}}\n");
	for (int i = 0; i < 20; i++) {
		fprintf(f,
		    "{\"id\":\"fat-%d\",\"source\":\"sales\",\"type\":\"order.placed\","
		    "\"customer\":\"C-1\",\"time\":\"2026-11-20T10:00:00Z\","
		    "\"data\":{\"order\":\"O-%d\"},\"attributes\":{\"blob\":\"",
		    i, i);
		for (int k = 0; k < 60000; k++)
			fputc('y', f);
		fprintf(f, "\"}}\n");
	}
	fclose(f);
	cli_run r;
	publish_file(&b, in, &r);
	printf(
	    "oversize: voicebus publish of a 20 MiB line: exit %d in %lld ms: %s",
	    r.status, (long long)r.ms, r.err);
	ck_assert_int_eq(r.status, 2);
	assert_has(r.err, "<stdin>:1: event: 20971");
	assert_has(r.err, "bytes encoded; at most 65536");
	assert_has(r.err, "stored 20, duplicates 0, rejected 1");
	ck_assert_int_lt(r.ms, 20000);
	free(r.err);
	still_answers(&b);
	finish(&b);
}
END_TEST

/* ---- truncated protobuf ---- */

START_TEST(truncated_requests)
{
	vb_h_broker b;
	vb_buf req = { 0 }, q = { 0 };
	vb_event *evs[3];
	size_t cut_err = 0, cut_ok = 0;

	start(&b, NULL);
	vb_client *c = vb_h_client(&b);
	evs[0] = order("t-1", "C-1");
	evs[1] = ev_json(
	    "{\"id\":\"t-2\",\"source\":\"service\",\"type\":\"complaint.opened\","
	    "\"customer\":\"C-2\",\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"case\":\"K-1\","
	    "\"summary\":\"caf\\u00e9 \\u2014 r\\u00e9sum\\u00e9\"},\"attributes\":{\"a\":\"1\",\"b\":\"2\"}}");
	evs[2] = ev_json(
	    "{\"id\":\"t-3\",\"source\":\"field\",\"type\":\"visit.scheduled\","
	    "\"customer\":\"C-3\",\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"visit\":\"V-1\","
	    "\"window_start\":\"2026-11-21T08:00:00Z\",\"window_end\":\"2026-11-21T12:00:00Z\"}}");
	encode(evs, 3, &req);
	/* Every cut: a whole-request refusal, or (cut between events) the
	 * events before the cut, each stored or refused by name. */
	for (size_t len = 0; len < req.len; len++) {
		vb_ingest_reply rep;
		ck_assert_int_eq(vb_client_publish_raw(c, req.data, len, &rep),
		    0);
		if (rep.code != 0) {
			ck_assert_msg(strstr(rep.error, "IngestRequest") ||
			        strstr(rep.error, "empty request"),
			    "cut %zu: %s", len, rep.error);
			assert_utf8(rep.error);
			cut_err++;
		} else {
			ck_assert_uint_lt(rep.n, 3);
			for (size_t i = 0; i < rep.n; i++)
				ck_assert(rep.results[i].seq > 0 ||
				    rep.results[i].error[0]);
			cut_ok++;
		}
		vb_ingest_reply_free(&rep);
	}
	printf(
	    "truncated IngestRequest (%zu bytes): %zu cuts refused whole, %zu cuts at an event "
	    "boundary answered per event\n",
	    req.len, cut_err, cut_ok);
	ck_assert_uint_eq(cut_ok, 2);
	/* Only whole events were stored: t-1 and t-2 (and the broker's own
	 * suppression.changed for t-2's complaint), never t-3. */
	vb_query_req all = { .kind = VB_QUERY_REPLAY };
	vb_query_reply got;
	ck_assert_int_eq(vb_client_query(c, &all, &got), 0);
	ck_assert_int_eq(got.code, 0);
	ck_assert_uint_eq(got.replay.n, 3);
	for (size_t i = 0; i < got.replay.n; i++) {
		vb_event_peek pk;
		ck_assert_int_eq(vb_event_peek_pb(got.replay.events[i].p,
		                     got.replay.events[i].len, &pk),
		    0);
		ck_assert(pk.id_len != 3 || memcmp(pk.id, "t-3", 3) != 0);
	}
	vb_query_reply_free(&got);

	/* Queries, cut at every length, straight on a REQ socket. */
	raw r;
	raw_open(&r, b.query, 10000);
	const char *custs[] = { "C-1", "C-2", "C-3" };
	vb_query_req qs[4] = {
		{ .kind = VB_QUERY_GATE,
		    .gate = { custs, 3, "promotion", "email",
		        "2026-11-20T12:00:00Z", "" } },
		{ .kind = VB_QUERY_REPLAY,
		    .replay = { 1, 100, "2026-01-01T00:00:00Z",
		        "2027-01-01T00:00:00Z", "C-2", "complaint.", 10 } },
		{ .kind = VB_QUERY_CUSTOMER,
		    .customer = { "C-2", "2026-11-20T12:00:00Z" } },
		{ .kind = VB_QUERY_SUPPRESSIONS,
		    .supp = { "C-0", 10, "upsell", "sms" } },
	};
	size_t qcuts = 0;
	for (int k = 0; k < 4; k++) {
		query_encode(&qs[k], &q);
		for (size_t len = 0; len < q.len; len++) {
			vb_query_reply rep;
			ck_assert_int_eq(raw_query(&r, q.data, len, &rep), 0);
			if (rep.code != 0) {
				ck_assert_msg(rep.error[0] != '\0',
				    "query %d cut %zu: code %d, no error", k,
				    len, rep.code);
				assert_utf8(rep.error);
			}
			vb_query_reply_free(&rep);
			qcuts++;
		}
	}
	printf(
	    "truncated QueryRequest: %zu cuts of 4 queries, every one answered\n",
	    qcuts);
	nng_close(r.s);
	vb_buf_free(&q);
	vb_buf_free(&req);
	for (int i = 0; i < 3; i++)
		vb_event_free(evs[i]);
	vb_client_close(c);
	still_answers(&b);
	finish(&b);
}
END_TEST

/* ---- JSON nested 10,000 deep ---- */

START_TEST(deep_json)
{
	vb_h_broker b;
	char in[400];
	const size_t depth = 10000;

	start(&b, NULL);
	snprintf(in, sizeof(in), "%s/deep.jsonl", b.dir);
	FILE *f = fopen(in, "w");
	ck_assert_ptr_nonnull(f);
	/* In data, in attributes, as the whole line: arrays and objects. */
	const char *heads[] = { "{\"id\":\"d1\",\"data\":",
		"{\"id\":\"d2\",\"attributes\":", "", "" };
	const char *open[] = { "[", "{\"a\":", "[", "{\"a\":" };
	const char *close[] = { "]", "}", "]", "}" };
	for (int k = 0; k < 4; k++) {
		fputs(heads[k], f);
		for (size_t i = 0; i < depth; i++)
			fputs(open[k], f);
		fputs(k % 2 ? "1" : "", f);
		for (size_t i = 0; i < depth; i++)
			fputs(close[k], f);
		fputs(heads[k][0] ? "}\n" : "\n", f);
	}
	char ok[512];
	vb_h_order_json(ok, sizeof(ok), "deep-ok", "C-1");
	fprintf(f, "%s\n", ok);
	fclose(f);
	cli_run r;
	publish_file(&b, in, &r);
	printf("deep JSON (%zu levels): exit %d: %s", depth, r.status, r.err);
	ck_assert_int_eq(r.status, 2);
	for (int line = 1; line <= 4; line++) {
		char want[64];
		snprintf(want, sizeof(want),
		    "<stdin>:%d: json: maximum parsing depth", line);
		assert_has(r.err, want);
	}
	assert_has(r.err, "stored 1, duplicates 0, rejected 4");
	free(r.err);
	still_answers(&b);
	finish(&b);
}
END_TEST

/* ---- invalid UTF-8 ---- */

START_TEST(invalid_utf8)
{
	vb_h_broker b;
	char in[400];

	start(&b, NULL);
	/* JSON: jansson refuses the line and says where. */
	static const char *const bad[] = {
		"C-\xff",             /* never valid */
		"C-\xc0\xaf",         /* overlong '/' */
		"C-\xed\xa0\x80",     /* a UTF-16 surrogate */
		"C-\xe2\x82",         /* a sequence cut short */
		"C-\\udc80",          /* a lone surrogate, escaped */
		"C-\xf4\x90\x80\x80", /* past U+10FFFF */
	};
	const size_t nbad = sizeof(bad) / sizeof(bad[0]);
	snprintf(in, sizeof(in), "%s/utf8.jsonl", b.dir);
	FILE *f = fopen(in, "w");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < nbad; i++) {
		char json[512], id[16];
		snprintf(id, sizeof(id), "u-%zu", i);
		vb_h_order_json(json, sizeof(json), id, "@CUST@");
		char *at = strstr(json, "@CUST@");
		fprintf(f, "%.*s%s%s\n", (int)(at - json), json, bad[i],
		    at + 6);
	}
	fprintf(f,
	    "{\"id\":\"u-key\",\"source\":\"sales\",\"type\":\"order.placed\",\"customer\":\"C-1\","
	    "\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"order\":\"O-1\"},\"attributes\":{\"k\xff\":\"v\"}}\n");
	fclose(f);
	cli_run r;
	publish_file(&b, in, &r);
	printf("invalid UTF-8 in JSON: exit %d: %s", r.status, r.err);
	ck_assert_int_eq(r.status, 2);
	for (size_t line = 1; line <= nbad + 1; line++) {
		char want[64];
		snprintf(want, sizeof(want), "<stdin>:%zu: json: ", line);
		assert_has(r.err, want);
	}
	assert_has(r.err, "stored 0, duplicates 0, rejected 7");
	free(r.err);

	/* Protobuf: any bytes fit in a string field; the broker refuses the
	 * event by the field's name, and its reply is UTF-8 itself. */
	vb_client *c = vb_h_client(&b);
	vb_event *ev = ev_json(
	    "{\"id\":\"pb-@ID@\",\"source\":\"sales\",\"type\":\"order.placed\","
	    "\"customer\":\"C-@CU@\",\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"order\":\"O-@OR@\","
	    "\"currency\":\"@CY@\"},\"attributes\":{\"k@AK@\":\"v@AV@\"}}");
	static const struct {
		const char *mark, *field;
	} fields[] = {
		{ "@ID@", "id" },
		{ "@CU@", "customer" },
		{ "@OR@", "data.order" },
		{ "@CY@", "data.currency" },
		{ "@AK@", "attributes (key)" },
		{ "@AV@", "attributes.k@AK@" },
	};
	vb_buf req = { 0 };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		vb_ingest_reply rep;
		char want[96];
		encode(&ev, 1, &req);
		patch(&req, fields[i].mark, "\xc3\x28\xff\xfe");
		ck_assert_int_eq(vb_client_publish_raw(c, req.data, req.len,
		                     &rep),
		    0);
		ck_assert_int_eq(rep.code, 0);
		ck_assert_uint_eq(rep.n, 1);
		snprintf(want, sizeof(want), "%s: not valid UTF-8",
		    fields[i].field);
		ck_assert_str_eq(rep.results[0].error, want);
		vb_ingest_reply_free(&rep);
	}
	vb_event_free(ev);
	printf(
	    "invalid UTF-8 in protobuf: refused by field, e.g. \"customer: not valid UTF-8\"\n");

	/* A message that quotes a field cuts it at 64 bytes: what is left of
	 * a character cut in two is replaced. */
	char src[200] = "x";
	for (int i = 0; i < 40; i++)
		strcat(src, "\xc3\xa9");
	ev = ev_json(
	    "{\"id\":\"pb-source\",\"source\":\"%s\",\"type\":\"order.placed\",\"customer\":\"C-1\","
	    "\"time\":\"2026-11-20T10:00:00Z\"}",
	    src);
	vb_ingest_reply rep;
	ck_assert_int_eq(vb_client_publish(c, &ev, 1, &rep), 0);
	ck_assert_uint_eq(rep.n, 1);
	assert_has(rep.results[0].error, "source: unknown source \"x\xc3\xa9");
	assert_utf8(rep.results[0].error);
	vb_ingest_reply_free(&rep);
	vb_event_free(ev);

	/* Queries: strings that are not UTF-8 are refused by name, including
	 * a gate reservation, which would otherwise reach the writer. */
	const char *bad_custs[] = { "C-1", "C-\xff\xfe" };
	vb_query_req qs[] = {
		{ .kind = VB_QUERY_GATE,
		    .gate = { bad_custs, 2, "promotion", "email", "", "" } },
		{ .kind = VB_QUERY_GATE,
		    .gate = { bad_custs, 2, "promotion", "email", "",
		        "spring" } },
		{ .kind = VB_QUERY_GATE,
		    .gate = { bad_custs, 1, "promotion", "email", "",
		        "spr\xffing" } },
		{ .kind = VB_QUERY_CUSTOMER, .customer = { "C-\xc0\xaf", "" } },
		{ .kind = VB_QUERY_REPLAY,
		    .replay = { .customer = "\xed\xa0\x80" } },
		{ .kind = VB_QUERY_GATE,
		    .gate = { bad_custs, 1, "promo\xfftion", "email", "",
		        "" } },
		{ .kind = VB_QUERY_GATE,
		    .gate = { bad_custs, 1, "promotion", "email",
		        "x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
		        "" } },
	};
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		vb_query_reply qr;
		ck_assert_int_eq(vb_client_query(c, &qs[i], &qr), 0);
		printf("invalid UTF-8 query %zu: code %d \"%s\"\n", i, qr.code,
		    qr.error);
		ck_assert_int_eq(qr.code, VB_EINVAL);
		assert_utf8(qr.error);
		if (i < 5)
			assert_has(qr.error, "not valid UTF-8");
		vb_query_reply_free(&qr);
	}
	ck_assert_uint_eq(vb_h_last_seq(c), 0);
	vb_buf_free(&req);
	vb_client_close(c);
	still_answers(&b);
	char *log = vb_h_slurp(b.log, NULL);
	ck_assert_ptr_null(strstr(log, " error "));
	free(log);
	finish(&b);
}
END_TEST

/* ---- years 0 and 9999 ---- */

static void
gate_at(vb_client *c, const char *customer, const char *purpose, const char *at,
    vb_query_reply *out)
{
	const char *custs[] = { customer };
	vb_query_req q = { .kind = VB_QUERY_GATE,
		.gate = { custs, 1, purpose, "email", at, "" } };
	ck_assert_int_eq(vb_client_query(c, &q, out), 0);
	ck_assert_msg(out->code == 0, "%s", out->error);
	ck_assert_uint_eq(out->ndecisions, 1);
}

START_TEST(extreme_times)
{
	vb_h_broker b;
	char in[400];

	start(&b, NULL);
	snprintf(in, sizeof(in), "%s/times.jsonl", b.dir);
	FILE *f = fopen(in, "w");
	ck_assert_ptr_nonnull(f);
	const char *y0 = "0000-01-01T00:00:00Z",
	           *y9999 = "9999-12-31T23:59:59Z";
	const char *ev =
	    "{\"id\":\"%s\",\"source\":\"%s\",\"type\":\"%s\",\"customer\":\"%s\",\"time\":\"%s\",\"data\":{%s}}\n";
	char data[256];
	/* Year 0: refused, by field. */
	fprintf(f, ev, "y0-time", "sales", "order.placed", "C-0", y0,
	    "\"order\":\"O-1\"");
	snprintf(data, sizeof(data), "\"invoice\":\"I-1\",\"due\":\"%s\"", y0);
	fprintf(f, ev, "y0-due", "finance", "invoice.issued", "C-0",
	    "2026-11-20T10:00:00Z", data);
	snprintf(data, sizeof(data),
	    "\"visit\":\"V-1\",\"window_start\":\"%s\"", y0);
	fprintf(f, ev, "y0-win", "field", "visit.scheduled", "C-0",
	    "2026-11-20T10:00:00Z", data);
	/* In range as written, out of it in UTC. */
	fprintf(f, ev, "y10000", "sales", "order.placed", "C-0",
	    "9999-12-31T23:59:59-01:00", "\"order\":\"O-1\"");
	fprintf(f, ev, "y0-utc", "sales", "order.placed", "C-0",
	    "0001-01-01T00:00:00+01:00", "\"order\":\"O-1\"");
	/* Year 9999 and year 1: stored, and the gate works with them. */
	fprintf(f, ev, "y9999-open", "service", "complaint.opened", "C-9",
	    y9999, "\"case\":\"K-9\"");
	fprintf(f, ev, "y9999-res-o", "service", "complaint.opened", "C-8",
	    "2026-11-20T10:00:00Z", "\"case\":\"K-8\"");
	fprintf(f, ev, "y9999-res", "service", "complaint.resolved", "C-8",
	    y9999, "\"case\":\"K-8\"");
	snprintf(data, sizeof(data),
	    "\"invoice\":\"I-9\",\"amount\":\"1.00\",\"due\":\"%s\"", y9999);
	fprintf(f, ev, "y9999-due", "finance", "invoice.overdue", "C-7", y9999,
	    data);
	snprintf(data, sizeof(data),
	    "\"visit\":\"V-9\",\"window_start\":\"%s\",\"window_end\":\"%s\"",
	    y9999, y9999);
	fprintf(f, ev, "y9999-missed", "field", "visit.missed", "C-7", y9999,
	    data);
	fprintf(f, ev, "y9999-consent", "customer", "consent.withdrawn", "C-7",
	    y9999, "\"channel\":\"email\"");
	for (int i = 0; i < 4; i++) {
		char id[32];
		snprintf(id, sizeof(id), "y9999-msg-%d", i);
		snprintf(data, sizeof(data),
		    "\"channel\":\"email\",\"purpose\":\"promotion\",\"campaign\":\"c%d\"",
		    i);
		fprintf(f, ev, id, "marketing", "message.sent", "C-6",
		    i < 2 ? "9999-12-31T23:59:58Z" : y9999, data);
	}
	fprintf(f, ev, "y1-open", "service", "complaint.opened", "C-1",
	    "0001-01-01T00:00:00Z", "\"case\":\"K-1\"");
	fprintf(f, ev, "y1-msg", "marketing", "message.sent", "C-1",
	    "0001-01-01T00:00:00Z",
	    "\"channel\":\"email\",\"purpose\":\"promotion\",\"campaign\":\"c\"");
	fclose(f);
	cli_run r;
	publish_file(&b, in, &r);
	printf("extreme times: exit %d: %s", r.status, r.err);
	ck_assert_int_eq(r.status, 2);
#define RANGE " is not an RFC 3339 date-time in years 0001-9999 (UTC)"
	assert_has(r.err, "<stdin>:1: time: \"0000-01-01T00:00:00Z\"" RANGE);
	assert_has(r.err,
	    "<stdin>:2: data.due: \"0000-01-01T00:00:00Z\"" RANGE);
	assert_has(r.err,
	    "<stdin>:3: data.window_start: \"0000-01-01T00:00:00Z\"" RANGE);
	assert_has(r.err,
	    "<stdin>:4: time: \"9999-12-31T23:59:59-01:00\"" RANGE);
	assert_has(r.err,
	    "<stdin>:5: time: \"0001-01-01T00:00:00+01:00\"" RANGE);
#undef RANGE
	assert_has(r.err, "stored 12, duplicates 0, rejected 5");
	free(r.err);

	vb_client *c = vb_h_client(&b);
	vb_query_reply q;
	/* Now: facts dated in year 9999 have not happened yet. */
	gate_at(c, "C-9", "promotion", "", &q);
	ck_assert_int_eq(q.decisions[0].allow, 1);
	vb_query_reply_free(&q);
	/* At the last second of 9999 they have. */
	gate_at(c, "C-9", "promotion", y9999, &q);
	ck_assert_int_eq(q.decisions[0].allow, 0);
	assert_has(q.decisions[0].reasons,
	    "\"since\":\"9999-12-31T23:59:59Z\"");
	ck_assert_str_eq(q.at, y9999);
	vb_query_reply_free(&q);
	/* A cool-off that ends after 9999 is still a cool-off. */
	gate_at(c, "C-8", "upsell", y9999, &q);
	ck_assert_int_eq(q.decisions[0].allow, 0);
	assert_has(q.decisions[0].reasons, "complaint-cooloff");
	printf("extreme times: cool-off from 9999-12-31T23:59:59Z: %s\n",
	    q.decisions[0].reasons);
	vb_query_reply_free(&q);
	gate_at(c, "C-7", "promotion", y9999, &q);
	ck_assert_int_eq(q.decisions[0].allow, 0);
	assert_has(q.decisions[0].reasons, "missed-visit");
	assert_has(q.decisions[0].reasons, "no-consent");
	vb_query_reply_free(&q);
	gate_at(c, "C-6", "promotion", y9999, &q);
	ck_assert_int_eq(q.decisions[0].allow, 0);
	assert_has(q.decisions[0].reasons, "frequency-cap");
	vb_query_reply_free(&q);
	gate_at(c, "C-1", "promotion", "0001-01-01T00:00:00Z", &q);
	ck_assert_int_eq(q.decisions[0].allow, 0);
	assert_has(q.decisions[0].reasons,
	    "\"since\":\"0001-01-01T00:00:00Z\"");
	vb_query_reply_free(&q);
	/* The customer view and a replay by time, at both ends. */
	vb_query_req cq = { .kind = VB_QUERY_CUSTOMER,
		.customer = { "C-7", y9999 } };
	ck_assert_int_eq(vb_client_query(c, &cq, &q), 0);
	ck_assert_int_eq(q.code, 0);
	vb_query_reply_free(&q);
	vb_query_req rq = { .kind = VB_QUERY_REPLAY,
		.replay = { .since = "9999-12-31T23:59:59Z" } };
	ck_assert_int_eq(vb_client_query(c, &rq, &q), 0);
	ck_assert_int_eq(q.code, 0);
	ck_assert_uint_eq(q.replay.n, 7);
	vb_query_reply_free(&q);
	rq.replay.since = "";
	rq.replay.until = "0001-01-01T00:00:01Z";
	ck_assert_int_eq(vb_client_query(c, &rq, &q), 0);
	ck_assert_int_eq(q.code, 0);
	ck_assert_uint_eq(q.replay.n, 2);
	vb_query_reply_free(&q);
	/* Year 0 in a query: refused, by name. */
	vb_query_req yq = { .kind = VB_QUERY_CUSTOMER,
		.customer = { "C-7", y0 } };
	ck_assert_int_eq(vb_client_query(c, &yq, &q), 0);
	ck_assert_int_eq(q.code, VB_EINVAL);
	assert_has(q.error, "at: \"0000-01-01T00:00:00Z\"");
	vb_query_reply_free(&q);
	/* Folding every customer again goes through the same arithmetic. */
	vb_query_req rb = { .kind = VB_QUERY_REBUILD };
	ck_assert_int_eq(vb_client_query(c, &rb, &q), 0);
	ck_assert_int_eq(q.code, 0);
	vb_query_reply_free(&q);
	vb_client_close(c);
	still_answers(&b);
	finish(&b);
}
END_TEST

/* ---- a 1 MiB customer id ---- */

START_TEST(huge_customer)
{
	vb_h_broker b;
	const size_t mib = 1u << 20;
	char *cust = malloc(mib + 1);
	vb_ingest_reply rep;

	ck_assert_ptr_nonnull(cust);
	memset(cust, 'c', mib);
	cust[mib] = '\0';
	start(&b, NULL);
	vb_client *c = vb_h_client(&b);
	vb_event *ev = ev_json(
	    "{\"id\":\"huge-cust\",\"source\":\"sales\",\"type\":\"order.placed\","
	    "\"customer\":\"%s\",\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"order\":\"O-1\"}}",
	    cust);
	ck_assert_int_eq(vb_client_publish(c, &ev, 1, &rep), 0);
	ck_assert_int_eq(rep.code, 0);
	ck_assert_uint_eq(rep.n, 1);
	ck_assert_str_eq(rep.results[0].error,
	    "customer: 1048576 bytes; at most 128");
	printf("1 MiB customer, protobuf: \"%s\"\n", rep.results[0].error);
	vb_ingest_reply_free(&rep);
	vb_event_free(ev);

	/* The same as a JSON line. */
	char in[400], json[512];
	snprintf(in, sizeof(in), "%s/cust.jsonl", b.dir);
	FILE *f = fopen(in, "w");
	ck_assert_ptr_nonnull(f);
	vb_h_order_json(json, sizeof(json), "huge-cust", "@CUST@");
	char *at = strstr(json, "@CUST@");
	fprintf(f, "%.*s%s%s\n", (int)(at - json), json, cust, at + 6);
	fclose(f);
	cli_run r;
	publish_file(&b, in, &r);
	printf("1 MiB customer, voicebus publish: exit %d: %s", r.status,
	    r.err);
	ck_assert_int_eq(r.status, 2);
	assert_has(r.err, "<stdin>:1: customer: 1048576 bytes; at most 128");
	free(r.err);

	/* Queries: a 1 MiB customer is over the query socket's 1 MiB; half
	 * of it is read and refused by name. */
	cust[mib / 2] = '\0';
	const char *custs[] = { cust };
	vb_query_req qs[] = {
		{ .kind = VB_QUERY_GATE,
		    .gate = { custs, 1, "promotion", "email", "", "" } },
		{ .kind = VB_QUERY_CUSTOMER, .customer = { cust, "" } },
		{ .kind = VB_QUERY_REPLAY, .replay = { .customer = cust } },
		{ .kind = VB_QUERY_SUPPRESSIONS, .supp = { .after = cust } },
	};
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		vb_query_reply q;
		ck_assert_int_eq(vb_client_query(c, &qs[i], &q), 0);
		printf("512 KiB customer, query %zu: code %d \"%s\"\n", i,
		    q.code, q.error);
		if (qs[i].kind == VB_QUERY_SUPPRESSIONS) {
			/* A page cursor, not a customer: past them all is the end. */
			ck_assert_int_eq(q.code, 0);
			ck_assert_int_eq(q.done, 1);
		} else {
			ck_assert_int_eq(q.code, VB_EINVAL);
			ck_assert_str_eq(q.error,
			    "customer: must be 1 to 128 bytes");
		}
		vb_query_reply_free(&q);
	}
	ck_assert_uint_eq(vb_h_last_seq(c), 0);
	vb_client_close(c);
	free(cust);
	still_answers(&b);
	finish(&b);
}
END_TEST

/* ---- 100,000 events ---- */

START_TEST(hundred_thousand_events)
{
	vb_h_broker b;
	const size_t n = 100000;
	vb_event **evs = calloc(n, sizeof(*evs));
	vb_buf req = { 0 };
	vb_ingest_reply rep;
	char in[400], id[32], json[512];

	ck_assert_ptr_nonnull(evs);
	start(&b, NULL);
	vb_client *c = vb_h_client(&b);
	snprintf(in, sizeof(in), "%s/100k.jsonl", b.dir);
	FILE *f = fopen(in, "w");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++) {
		char cust[16];
		snprintf(id, sizeof(id), "h-%zu", i);
		snprintf(cust, sizeof(cust), "C-%zu", i % 1000);
		vb_h_order_json(json, sizeof(json), id, cust);
		evs[i] = ev_json("%s", json);
		fprintf(f, "%s\n", json);
	}
	fclose(f);
	encode(evs, n, &req);
	int64_t t0 = vb_h_now_ms();
	ck_assert_int_eq(vb_client_publish_raw(c, req.data, req.len, &rep), 0);
	printf(
	    "100,000 events (%zu bytes) in one IngestRequest: code %d \"%s\" in %lld ms\n",
	    req.len, rep.code, rep.error, (long long)(vb_h_now_ms() - t0));
	ck_assert_int_eq(rep.code, VB_ETOOBIG);
	ck_assert_str_eq(rep.error,
	    "batch of 100000 events; at most 1000 per request: nothing was stored");
	vb_ingest_reply_free(&rep);
	ck_assert_uint_eq(vb_h_last_seq(c), 0);
	for (size_t i = 0; i < n; i++)
		vb_event_free(evs[i]);
	free(evs);
	vb_buf_free(&req);

	cli_run r;
	publish_file(&b, in, &r);
	printf(
	    "100,000 events through voicebus publish: exit %d in %lld ms: %s",
	    r.status, (long long)r.ms, r.err);
	ck_assert_int_eq(r.status, 0);
	assert_has(r.err, "stored 100000, duplicates 0, rejected 0");
	ck_assert_uint_eq(vb_h_last_seq(c), n);
	free(r.err);
	vb_client_close(c);
	still_answers(&b);
	finish(&b);
}
END_TEST

/* ---- requests that decode to far more than their size ---- */

/* A "Vm..." line of /proc/PID/status, in kB. */
static long
status_kb(pid_t pid, const char *field)
{
	long kb = vb_h_proc_kib(pid, field);
	ck_assert_int_gt(kb, 0);
	return kb;
}

/* A field's key and a length, as protobuf writes them. */
static size_t
put_len(uint8_t *p, unsigned field, size_t len)
{
	size_t n = 0;
	p[n++] = (uint8_t)(field << 3 | 2);
	do {
		p[n++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
		len >>= 7;
	} while (len);
	return n;
}

START_TEST(decode_bombs)
{
	vb_h_broker b;
	const size_t len = (16u << 20) - 64; /* under the default max_message */
	uint8_t *p = malloc(len);
	vb_ingest_reply rep;

	ck_assert_ptr_nonnull(p);
	start(&b, NULL);
	vb_client *c = vb_h_client(&b);
	long before = status_kb(b.pid, "VmHWM");
	/* Millions of empty events: two bytes each. */
	for (size_t i = 0; i + 1 < len; i += 2) {
		p[i] = 0x0a;
		p[i + 1] = 0;
	}
	ck_assert_int_eq(vb_client_publish_raw(c, p, len & ~(size_t)1, &rep),
	    0);
	printf(
	    "decode bomb, %zu empty events: code %d \"%s\"; broker peak RSS %ld -> %ld kB\n",
	    len / 2, rep.code, rep.error, before, status_kb(b.pid, "VmHWM"));
	ck_assert_int_eq(rep.code, VB_ETOOBIG);
	assert_has(rep.error, "at most 1000 per request");
	vb_ingest_reply_free(&rep);
	/* One event of millions of empty attributes (field 8, two bytes each). */
	size_t body = (len - 8) & ~(size_t)1;
	size_t h = put_len(p, 1, body);
	for (size_t i = h; i < h + body; i += 2) {
		p[i] = 0x42;
		p[i + 1] = 0;
	}
	ck_assert_int_eq(vb_client_publish_raw(c, p, h + body, &rep), 0);
	printf(
	    "decode bomb, %zu empty attributes: code %d \"%s\"; broker peak RSS %ld kB\n",
	    body / 2, rep.code, rep.error, status_kb(b.pid, "VmHWM"));
	ck_assert_int_eq(rep.code, VB_ETOOBIG);
	assert_has(rep.error, "times that to decode");
	vb_ingest_reply_free(&rep);
	/* Without the limits: 1.4 and 1.8 GB for one request each. */
	if (!VB_ASAN)
		ck_assert_int_lt(status_kb(b.pid, "VmHWM") - before,
		    512 * 1024);
	free(p);
	vb_client_close(c);
	still_answers(&b);
	finish(&b);
}
END_TEST

/* ---- a million rejections ---- */

typedef struct flood {
	const vb_h_broker *b;
	int query; /* the query socket, else ingest */
	size_t n;  /* requests to send */
	size_t rejected, answered;
	int failed; /* a transport error */
	char why[160];
} flood;

/* The requests of the flood, built once: every one must be refused. */
static vb_buf ingest_kinds[6], query_kinds[4];

static void
flood_build(void)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	vb_event *ev;
	char cust[300];

	vb_buf_append(&ingest_kinds[0], junk, sizeof(junk));
	/* A valid request cut inside its event. */
	ev = order("flood-cut", "C-1");
	encode(&ev, 1, &ingest_kinds[1]);
	ingest_kinds[1].len -= 7;
	vb_event_free(ev);
	memset(cust, 'c', 200);
	cust[200] = '\0';
	ev = order("flood-long", cust);
	encode(&ev, 1, &ingest_kinds[2]);
	vb_event_free(ev);
	ev = order("flood-utf8", "C-@@");
	encode(&ev, 1, &ingest_kinds[3]);
	patch(&ingest_kinds[3], "C-@@", "C-\xff\xfe");
	vb_event_free(ev);
	/* ingest_kinds[4]: empty, zero bytes. */
	for (int i = 0; i < 1001; i++)
		vb_buf_append(&ingest_kinds[5], "\x0a\x00", 2);
	vb_buf_append(&query_kinds[0], junk, sizeof(junk));
	const char *custs[] = { "C-1" };
	vb_query_req g = { .kind = VB_QUERY_GATE,
		.gate = { custs, 1, "spam", "email", "", "" } };
	query_encode(&g, &query_kinds[1]);
	vb_query_req cq = { .kind = VB_QUERY_CUSTOMER, .customer = { "", "" } };
	query_encode(&cq, &query_kinds[2]);
	vb_query_req rq = { .kind = VB_QUERY_REPLAY,
		.replay = { .since = "yesterday" } };
	query_encode(&rq, &query_kinds[3]);
}

static void *
flood_main(void *arg)
{
	flood *fl = arg;
	raw r;
	raw_open(&r, fl->query ? fl->b->query : fl->b->ingest, 30000);
	for (size_t i = 0; i < fl->n; i++) {
		const vb_buf *k =
		    fl->query ? &query_kinds[i % 4] : &ingest_kinds[i % 6];
		nng_msg *m;
		int rv = raw_call(&r, k->data, k->len, &m), refused = 0;
		if (rv != 0) {
			snprintf(fl->why, sizeof(fl->why), "request %zu: %s", i,
			    vb_strerror(rv));
			fl->failed = 1;
			break;
		}
		if (fl->query) {
			vb_query_reply q;
			if (vb_query_reply_decode(nng_msg_body(m),
			        nng_msg_len(m), &q) == 0) {
				refused = q.code != 0 && q.error[0];
				vb_query_reply_free(&q);
			}
		} else {
			vb_ingest_reply rep;
			if (vb_ingest_reply_decode(nng_msg_body(m),
			        nng_msg_len(m), &rep) == 0) {
				refused = (rep.code != 0 && rep.error[0]) ||
				    (rep.n == 1 && rep.results[0].error[0] &&
				        rep.results[0].seq == 0);
				vb_ingest_reply_free(&rep);
			}
		}
		nng_msg_free(m);
		fl->answered++;
		fl->rejected += refused;
	}
	nng_close(r.s);
	return NULL;
}

/* n rejected requests from FLOOD_THREADS threads, a quarter of them on the
 * query socket.  Many requests in flight: the broker answers far more per
 * second than one REQ socket waiting for each reply could send. */
#define FLOOD_THREADS 32

static double
flood_run(const vb_h_broker *b, size_t *n)
{
	pthread_t th[FLOOD_THREADS];
	flood fl[FLOOD_THREADS];
	int64_t t0 = vb_h_now_ms();
	for (int i = 0; i < FLOOD_THREADS; i++) {
		fl[i] = (flood){ .b = b,
			.query = i % 4 == 3,
			.n = (*n + FLOOD_THREADS - 1) / FLOOD_THREADS };
		pthread_create(&th[i], NULL, flood_main, &fl[i]);
	}
	size_t answered = 0;
	for (int i = 0; i < FLOOD_THREADS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(!fl[i].failed, "flood: %s", fl[i].why);
		ck_assert_uint_eq(fl[i].rejected, fl[i].n);
		answered += fl[i].answered;
	}
	int64_t ms = vb_h_now_ms() - t0;
	*n = answered;
	return (double)answered * 1000 / (double)(ms ? ms : 1);
}

START_TEST(million_rejections)
{
	vb_h_broker b;
	size_t warm = 10000, n = VB_ASAN ? 100000 : 1000000;
	/* For a quick run by hand. */
	if (getenv("VB_HOSTILE_FLOOD_N"))
		n = (size_t)atol(getenv("VB_HOSTILE_FLOOD_N"));

	flood_build();
	start(&b, NULL);
	size_t lines0 = log_lines(&b);
	flood_run(&b, &warm);
	long rss0 = status_kb(b.pid, "VmRSS");
	double rate = flood_run(&b, &n);
	long rss1 = status_kb(b.pid, "VmRSS");
	size_t lines1 = log_lines(&b);
	printf(
	    "flood: %zu rejected requests (after %zu to warm up) at %.0f requests/s; "
	    "voicebusd VmRSS %ld kB before, %ld kB after (%+.1f%%); log lines %zu -> %zu%s\n",
	    n, warm, rate, rss0, rss1,
	    100.0 * (double)(rss1 - rss0) / (double)rss0, lines0, lines1,
	    VB_ASAN
	        ? " [AddressSanitizer: quarantine makes RSS meaningless: ratio not checked, "
	          "count scaled down]"
	        : "");
	fflush(stdout);
	if (!VB_ASAN)
		ck_assert_msg(rss1 <= rss0 + rss0 / 10,
		    "RSS grew from %ld to %ld kB", rss0, rss1);
	/* Refusals are the client's business: none of them is logged. */
	ck_assert_uint_eq(lines1, lines0);
	still_answers(&b);
	finish(&b);
	for (int i = 0; i < 6; i++)
		vb_buf_free(&ingest_kinds[i]);
	for (int i = 0; i < 4; i++)
		vb_buf_free(&query_kinds[i]);
}
END_TEST

static Suite *
hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("process");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, oversize_request);
	tcase_add_test(tc, truncated_requests);
	tcase_add_test(tc, deep_json);
	tcase_add_test(tc, invalid_utf8);
	tcase_add_test(tc, extreme_times);
	tcase_add_test(tc, huge_customer);
	tcase_add_test(tc, hundred_thousand_events);
	tcase_add_test(tc, decode_bombs);
	suite_add_tcase(s, tc);
	/* Apart, so that CK_RUN_CASE=flood runs it alone. */
	tc = tcase_create("flood");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, million_rejections);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	/* Results as they come: the figures are meant to be read. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	SRunner *sr = srunner_create(hostile_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
