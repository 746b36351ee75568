/* vb_cmp_voicebus: the voicebus backend of vb_cmp (see vb_cmp.h).
 *
 * spec: "INGEST,PUB,QUERY", the three URLs of a running voicebusd.
 *
 * - publish: one IngestRequest per call over the ingest REQ socket, framed
 *   here from the event bytes (no JSON, no decode); the reply comes after
 *   the group commit's fsync.
 * - subscribe: an nng SUB socket on the PUB address, every topic.
 * - replay: replay pages over the query socket, as large as the broker
 *   gives (replay_page_max), events left as protobuf bytes.
 * - lookup: one gate decision over the query socket; filter: the real
 *   `voicebus filter`. */
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_client.h"
#include "vb_cmp.h"
#include "vb_error.h"
#include "vb_time.h"
#include "vb_wire.h"

#ifndef VB_BIN_DIR
#define VB_BIN_DIR "."
#endif
#define URL_MAX 512

struct vb_cmp_sys {
	char ingest[URL_MAX], pub[URL_MAX], query[URL_MAX];
};

struct vb_cmp_conn {
	vb_client *cl;
	vb_buf req;
};

struct vb_cmp_sub {
	nng_socket sock;
	nng_msg *msg;   /* the message lent by the last sub_next */
	int timeout_ms; /* RECVTIMEO as set */
};

/* IngestRequest is `repeated Event events = 1`: each event is the key
 * byte 0x0a (field 1, length-delimited), its length, its bytes.  Framing
 * bytes we already hold costs nothing; vbc_open checks that it matches
 * vb_ingest_req_encode. */
static int
frame(vb_buf *b, const vb_cmp_ev *evs, size_t n)
{
	int rv = 0;
	vb_buf_reset(b);
	for (size_t i = 0; i < n && rv == 0; i++) {
		if ((rv = vb_buf_append_byte(b, 0x0a)) == 0 &&
		    (rv = vb_buf_append_varint(b, evs[i].len)) == 0)
			rv = vb_buf_append(b, evs[i].p, evs[i].len);
	}
	return rv;
}

static int
frame_check(void)
{
	static const char json[] =
	    "{\"id\":\"x-1\",\"source\":\"sales\","
	    "\"type\":\"order.placed\",\"customer\":\"C-1\","
	    "\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"order\":\"O-1\"}}";
	vb_event *ev = NULL;
	vb_buf pb = { 0 }, mine = { 0 }, theirs = { 0 };
	int rv;

	if ((rv = vb_event_from_json(json, sizeof(json) - 1, &ev, NULL, 0)) !=
	        0 ||
	    (rv = vb_event_to_pb(ev, &pb)) != 0 ||
	    (rv = frame(&mine, &(vb_cmp_ev){ pb.data, pb.len }, 1)) != 0 ||
	    (rv = frame(&mine,
	         (vb_cmp_ev[]){ { pb.data, pb.len }, { pb.data, pb.len } },
	         2)) != 0 ||
	    (rv = vb_ingest_req_encode((vb_event *const[]){ ev, ev }, 2,
	         &theirs)) != 0)
		goto done;
	if (mine.len != theirs.len ||
	    memcmp(mine.data, theirs.data, mine.len) != 0) {
		fprintf(stderr,
		    "vb_cmp: voicebus: framed requests differ from vb_ingest_req_encode\n");
		rv = VB_EINTERNAL;
	}
done:
	vb_event_free(ev);
	vb_buf_free(&pb);
	vb_buf_free(&mine);
	vb_buf_free(&theirs);
	return rv;
}

static int
vbc_open(const char *spec, vb_cmp_sys **out)
{
	vb_cmp_sys *s = calloc(1, sizeof(*s));
	const char *a = spec, *b, *c;

	if (s == NULL)
		return VB_ENOMEM;
	if ((b = strchr(a, ',')) == NULL || (c = strchr(b + 1, ',')) == NULL ||
	    b - a >= URL_MAX || c - b > URL_MAX || strlen(c + 1) >= URL_MAX) {
		fprintf(stderr,
		    "vb_cmp: voicebus: --connect INGEST,PUB,QUERY, not \"%s\"\n",
		    spec);
		free(s);
		return VB_EINVAL;
	}
	memcpy(s->ingest, a, (size_t)(b - a));
	memcpy(s->pub, b + 1, (size_t)(c - b - 1));
	strcpy(s->query, c + 1);
	if (frame_check() != 0) {
		free(s);
		return VB_EINTERNAL;
	}
	*out = s;
	return 0;
}

static void
vbc_close(vb_cmp_sys *s)
{
	free(s);
}

static int
vbc_conn_open(vb_cmp_sys *s, vb_cmp_conn **out)
{
	vb_cmp_conn *c = calloc(1, sizeof(*c));
	vb_client_opts o = { .ingest = s->ingest,
		.query = s->query,
		.timeout_ms = 120000 };
	int rv;

	if (c == NULL)
		return VB_ENOMEM;
	if ((rv = vb_client_open(&o, &c->cl)) != 0) {
		free(c);
		return rv;
	}
	*out = c;
	return 0;
}

static void
vbc_conn_close(vb_cmp_conn *c)
{
	if (c == NULL)
		return;
	vb_client_close(c->cl);
	vb_buf_free(&c->req);
	free(c);
}

static int
vbc_publish(vb_cmp_conn *c, const vb_cmp_ev *evs, size_t n)
{
	vb_ingest_reply rep;
	int rv;

	if ((rv = frame(&c->req, evs, n)) != 0)
		return rv;
	if ((rv = vb_client_publish_raw(c->cl, c->req.data, c->req.len,
	         &rep)) != 0) {
		fprintf(stderr, "vb_cmp: voicebus: publish: %s\n",
		    vb_strerror(rv));
		return rv;
	}
	if (rep.code != 0) {
		fprintf(stderr, "vb_cmp: voicebus: publish refused: %s\n",
		    rep.error);
		rv = rep.code;
	} else if (rep.n != n) {
		fprintf(stderr,
		    "vb_cmp: voicebus: %zu results for %zu events\n", rep.n, n);
		rv = VB_EPROTO;
	}
	for (size_t i = 0; i < rep.n && rv == 0; i++) {
		if (rep.results[i].error && rep.results[i].error[0]) {
			fprintf(stderr,
			    "vb_cmp: voicebus: event rejected: %s\n",
			    rep.results[i].error);
			rv = VB_EINVAL;
		}
	}
	vb_ingest_reply_free(&rep);
	return rv;
}

static int
vbc_sub_open(vb_cmp_sys *s, vb_cmp_sub **out)
{
	vb_cmp_sub *sub = calloc(1, sizeof(*sub));
	int rv;

	if (sub == NULL)
		return VB_ENOMEM;
	if ((rv = nng_sub0_open(&sub->sock)) != 0) {
		free(sub);
		return vb_err_from_nng(rv);
	}
	nng_socket_set(sub->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	nng_socket_set_int(sub->sock, NNG_OPT_RECVBUF, 8192);
	nng_socket_set_size(sub->sock, NNG_OPT_RECVMAXSZ, 1u << 20);
	if ((rv = nng_dial(sub->sock, s->pub, NULL, 0)) != 0) {
		fprintf(stderr, "vb_cmp: voicebus: %s: %s\n", s->pub,
		    nng_strerror(rv));
		nng_close(sub->sock);
		free(sub);
		return vb_err_from_nng(rv);
	}
	*out = sub;
	return 0;
}

static int
vbc_sub_next(vb_cmp_sub *s, int timeout_ms, const uint8_t **p, size_t *len)
{
	int rv;

	if (s->msg) {
		nng_msg_free(s->msg);
		s->msg = NULL;
	}
	if (timeout_ms != s->timeout_ms) {
		nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, timeout_ms);
		s->timeout_ms = timeout_ms;
	}
	if ((rv = nng_recvmsg(s->sock, &s->msg, 0)) != 0)
		return rv == NNG_ETIMEDOUT ? VB_ETIMEDOUT : vb_err_from_nng(rv);
	/* "<type>\0<Event bytes>" */
	const uint8_t *body = nng_msg_body(s->msg);
	size_t n = nng_msg_len(s->msg);
	const uint8_t *nul = memchr(body, 0, n);
	if (nul == NULL)
		return VB_EPROTO;
	*p = nul + 1;
	*len = n - (size_t)(nul + 1 - body);
	return 0;
}

static void
vbc_sub_close(vb_cmp_sub *s)
{
	if (s == NULL)
		return;
	if (s->msg)
		nng_msg_free(s->msg);
	nng_close(s->sock);
	free(s);
}

static int
vbc_replay(vb_cmp_conn *c, uint64_t n, uint64_t *count, uint64_t *bytes)
{
	uint64_t from = 1;
	int done = 0, rv = 0;

	*count = *bytes = 0;
	while (!done && *count < n) {
		vb_query_req q = { .kind = VB_QUERY_REPLAY };
		vb_query_reply r;
		q.replay.from_seq = from;
		q.replay.limit =
		    1000000; /* the broker caps it at replay_page_max */
		if ((rv = vb_client_query(c->cl, &q, &r)) != 0) {
			fprintf(stderr, "vb_cmp: voicebus: replay: %s\n",
			    vb_strerror(rv));
			return rv;
		}
		if (r.code != 0) {
			fprintf(stderr, "vb_cmp: voicebus: replay: %s\n",
			    r.error);
			rv = r.code;
		}
		for (size_t i = 0; i < r.replay.n; i++)
			*bytes += r.replay.events[i].len;
		*count += r.replay.n;
		from = r.replay.next_seq;
		done = r.replay.done || r.replay.n == 0;
		vb_query_reply_free(&r);
		if (rv != 0)
			return rv;
	}
	return 0;
}

static int
vbc_replay_cli(vb_cmp_sys *s, const char *format, double *seconds)
{
	const char *argv[] = { VB_BIN_DIR "/voicebus", "replay", "--query",
		s->query, "--format", format, NULL };
	return vb_cmp_run(argv, NULL, NULL, seconds);
}

/* The history the gate decides from: every customer has an order; one in
 * ten an open complaint, one in ten a complaint resolved an hour ago (the
 * cool-off), one in twenty an overdue invoice, one in twenty a consent
 * withdrawn for promotions by SMS, one in three a promotion e-mailed five
 * days ago.  vb_cmp_decision() gives the same answers for upsell e-mails. */
static int
history_event(size_t i, int k, const char *now, const char *before,
    const char *old, char *json, size_t len)
{
	char cust[16];
	const char *when = now, *body;

	vb_cmp_customer(i, cust);
	switch (k) {
	case 0:
		body = "\"source\":\"sales\",\"type\":\"order.placed\","
		       "\"data\":{\"order\":\"O-%zu\",\"amount\":\"10.00\"}";
		break;
	case 1:
		if (i % 10 != 1 && i % 10 != 2)
			return 0;
		body = "\"source\":\"service\",\"type\":\"complaint.opened\","
		       "\"data\":{\"case\":\"T-%zu\",\"summary\":\"broken\"}";
		when = before;
		break;
	case 2:
		if (i % 10 != 2)
			return 0;
		body = "\"source\":\"service\",\"type\":\"complaint.resolved\","
		       "\"data\":{\"case\":\"T-%zu\"}";
		break;
	case 3:
		if (i % 20 != 3)
			return 0;
		body = "\"source\":\"finance\",\"type\":\"invoice.overdue\","
		       "\"data\":{\"invoice\":\"I-%zu\"}";
		break;
	case 4:
		if (i % 20 != 4)
			return 0;
		body =
		    "\"source\":\"customer\",\"type\":\"consent.withdrawn\","
		    "\"data\":{\"channel\":\"sms\",\"purpose\":\"promotion\"}";
		break;
	default:
		if (i % 3 != 0)
			return 0;
		body =
		    "\"source\":\"marketing\",\"type\":\"message.sent\","
		    "\"data\":{\"channel\":\"email\",\"purpose\":\"promotion\","
		    "\"campaign\":\"c-%zu\"}";
		when = old;
		break;
	}
	char data[300];
	snprintf(data, sizeof(data), body, i);
	snprintf(json, len,
	    "{\"id\":\"h-%zu-%d\",\"customer\":\"%s\",\"time\":\"%s\",%s}", i,
	    k, cust, when, data);
	return 1;
}

static int
flush_history(vb_client *cl, vb_event **evs, size_t *n)
{
	vb_ingest_reply r;
	int rv = vb_client_publish(cl, evs, *n, &r);
	if (rv == 0) {
		if (r.code != 0) {
			fprintf(stderr,
			    "vb_cmp: voicebus: history refused: %s\n", r.error);
			rv = r.code;
		}
		vb_ingest_reply_free(&r);
	} else {
		fprintf(stderr, "vb_cmp: voicebus: history: %s\n",
		    vb_strerror(rv));
	}
	for (size_t i = 0; i < *n; i++)
		vb_event_free(evs[i]);
	*n = 0;
	return rv;
}

static int
vbc_lookup_load(vb_cmp_sys *s, size_t customers)
{
	vb_client_opts o = { .ingest = s->ingest,
		.query = s->query,
		.timeout_ms = 120000 };
	vb_client *cl;
	vb_event *evs[1000];
	size_t n = 0;
	char json[512], err[VB_ERRMSG_MAX];
	char now[VB_TIME_BUFSZ], before[VB_TIME_BUFSZ], old[VB_TIME_BUFSZ];
	int64_t t = vb_time_now();
	int rv;

	vb_time_format(t - 3600LL * 1000000, now);
	vb_time_format(t - 7200LL * 1000000, before);
	vb_time_format(t - 5LL * 86400 * 1000000, old);
	if ((rv = vb_client_open(&o, &cl)) != 0)
		return rv;
	for (size_t i = 0; i < customers && rv == 0; i++) {
		for (int k = 0; k < 6 && rv == 0; k++) {
			if (!history_event(i, k, now, before, old, json,
			        sizeof(json)))
				continue;
			if ((rv = vb_event_from_json(json, strlen(json),
			         &evs[n], err, sizeof(err))) != 0) {
				fprintf(stderr, "vb_cmp: voicebus: %s: %s\n",
				    json, err);
				break;
			}
			if (++n == 1000)
				rv = flush_history(cl, evs, &n);
		}
	}
	if (n > 0 && rv == 0)
		rv = flush_history(cl, evs, &n);
	for (size_t i = 0; i < n; i++)
		vb_event_free(evs[i]);
	vb_client_close(cl);
	return rv;
}

static int
vbc_lookup(vb_cmp_conn *c, const vb_cmp_ask *a)
{
	vb_query_req q = { .kind = VB_QUERY_GATE };
	vb_query_reply r;
	int rv;

	q.gate.customers = &a->customer;
	q.gate.n = 1;
	q.gate.purpose = a->purpose;
	q.gate.channel = a->channel;
	if ((rv = vb_client_query(c->cl, &q, &r)) != 0) {
		fprintf(stderr, "vb_cmp: voicebus: gate: %s\n",
		    vb_strerror(rv));
		return rv;
	}
	if (r.code != 0 || r.ndecisions != 1) {
		fprintf(stderr, "vb_cmp: voicebus: gate: %s\n", r.error);
		rv = r.code ? r.code : VB_EPROTO;
	}
	vb_query_reply_free(&r);
	return rv;
}

static int
vbc_filter(vb_cmp_sys *s, const char *audience, const char *blocked,
    double *seconds)
{
	const char *argv[] = { VB_BIN_DIR "/voicebus", "filter", "--query",
		s->query, "--purpose", "upsell", "--channel", "email",
		"--blocked", blocked, NULL };
	return vb_cmp_run(argv, audience, NULL, seconds);
}

static const vb_cmp_backend backend = {
	.name = "voicebus",
	.open = vbc_open,
	.close = vbc_close,
	.conn_open = vbc_conn_open,
	.conn_close = vbc_conn_close,
	.publish = vbc_publish,
	.sub_open = vbc_sub_open,
	.sub_next = vbc_sub_next,
	.sub_close = vbc_sub_close,
	.flush = NULL,
	.replay = vbc_replay,
	.replay_cli = vbc_replay_cli,
	.lookup_load = vbc_lookup_load,
	.lookup = vbc_lookup,
	.filter = vbc_filter,
};

const vb_cmp_backend *
vb_cmp_backend_get(void)
{
	return &backend;
}
