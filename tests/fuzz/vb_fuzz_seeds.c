/* vb_fuzz_seeds: make the fuzz targets' seed corpora, at build time, from
 * text in the source tree -- nothing binary is committed.
 *
 *   vb_fuzz_seeds OUTDIR EVENTS.jsonl [CSV...]
 *
 * writes OUTDIR/<target>/<name> for every target:
 *   event_json    each line of EVENTS.jsonl, and hostile lines made here
 *                 (nested 10,000 deep, invalid UTF-8, years 0000 and 9999,
 *                 a 1 MiB customer id, a NUL byte, a duplicate key);
 *   event_pb      each event encoded, as published and as stored (with
 *                 seq and recorded appended), and a truncated one;
 *   ingest_req    a request per event, one with them all, an empty one;
 *   query_req     one request of every kind, with every field set;
 *   ingest_reply  replies with seqs, duplicates and errors, and a refusal;
 *   query_reply   a reply of every kind (a replay page of the events);
 *   state         each customer's state folded from the events;
 *   log_record    each event's stored form alone, runs of them as the
 *                 writer makes them, and a run cut short;
 *   csv, adapter_rows  the CSV files given (tests/data, the adapters'
 *                 examples) and EVENTS.jsonl (the adapters' --jsonl).
 * Exit 0, or 1 with the reason on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vb_buf.h"
#include "vb_event.h"
#include "vb_gate.h"
#include "vb_state.h"
#include "vb_time.h"
#include "vb_validate.h"
#include "vb_wire.h"

#define MAX_EVENTS 256

static const char *outdir;
static int failed;

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "vb_fuzz_seeds: %s: %s\n", what, detail);
	exit(1);
}

static void
mkdir_p(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die(path, strerror(errno));
}

static void
put(const char *target, const char *name, const void *p, size_t len)
{
	char path[4096];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	if ((f = fopen(path, "wb")) == NULL)
		die(path, strerror(errno));
	if (len && fwrite(p, 1, len, f) != len)
		failed = 1;
	if (fclose(f) != 0)
		failed = 1;
}

static void
put_buf(const char *target, const char *name, vb_buf *b)
{
	put(target, name, b->data, b->len);
	vb_buf_reset(b);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;
	if (f == NULL)
		die(path, strerror(errno));
	do {
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 65536;
			if ((buf = realloc(buf, cap)) == NULL)
				die(path, "out of memory");
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* ---- event_json: hostile lines ---- */

static void
hostile_json(void)
{
	vb_buf b = { 0 };
	static const char *const lines[] = {
		/* times in year 0 and 9999 */
		"{\"id\":\"y0\",\"source\":\"sales\",\"type\":\"order.placed\",\"customer\":\"C-1\","
		"\"time\":\"0000-01-01T00:00:00Z\",\"data\":{\"order\":\"1\"}}",
		"{\"id\":\"y9999\",\"source\":\"sales\",\"type\":\"order.placed\",\"customer\":\"C-1\","
		"\"time\":\"9999-12-31T23:59:59.999999-23:59\",\"data\":{\"order\":\"1\"}}",
		/* invalid UTF-8 in the summary, an overlong and a surrogate */
		"{\"id\":\"u8\",\"source\":\"service\",\"type\":\"complaint.opened\",\"customer\":\"C-1\","
		"\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"case\":\"T\",\"summary\":\"\xc0\xaf \xed\xa0\x80 \xff\"}}",
		/* escapes: a NUL, a lone surrogate, a duplicate key */
		"{\"id\":\"n\\u0000ul\",\"source\":\"service\",\"type\":\"complaint.opened\",\"customer\":\"C-1\","
		"\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"case\":\"\\ud800\"}}",
		"{\"id\":\"a\",\"id\":\"b\",\"source\":\"sales\",\"type\":\"order.placed\"}",
		/* wrong types where strings, integers and objects belong */
		"{\"id\":1,\"source\":\"sales\",\"type\":\"order.placed\",\"data\":{\"items\":\"x\"}}",
		"{\"id\":\"i\",\"source\":\"sales\",\"type\":\"order.placed\",\"customer\":\"C\","
		"\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"order\":\"o\",\"items\":1e300,\"amount\":1.5}}",
		"{\"id\":\"s\",\"type\":\"order.placed\",\"seq\":-1}",
		"{\"id\":\"d\",\"type\":\"nope.nope\",\"data\":[1,2]}",
		"{\"id\":\"at\",\"type\":\"order.placed\",\"attributes\":{\"k\":1}}",
		"[]",
		"",
	};
	char name[32];
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		snprintf(name, sizeof(name), "hostile-%02zu", i);
		put("event_json", name, lines[i], strlen(lines[i]));
	}
	/* Nested 10,000 deep in data. */
	vb_buf_append_str(&b,
	    "{\"id\":\"deep\",\"type\":\"order.placed\",\"data\":");
	for (int i = 0; i < 10000; i++)
		vb_buf_append_byte(&b, '[');
	for (int i = 0; i < 10000; i++)
		vb_buf_append_byte(&b, ']');
	vb_buf_append_byte(&b, '}');
	put_buf("event_json", "hostile-deep", &b);
	/* A 1 MiB customer id. */
	vb_buf_append_str(&b,
	    "{\"id\":\"big\",\"source\":\"sales\",\"type\":\"order.placed\","
	    "\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"order\":\"1\"},\"customer\":\"");
	for (int i = 0; i < (1 << 20); i++)
		vb_buf_append_byte(&b, 'C');
	vb_buf_append_str(&b, "\"}");
	put_buf("event_json", "hostile-1mib-customer", &b);
	vb_buf_free(&b);
}

/* ---- the wire ---- */

static void
wire_seeds(vb_event **evs, size_t n)
{
	vb_buf b = { 0 };
	char name[64];

	/* ingest requests */
	for (size_t i = 0; i < n; i++) {
		if (vb_ingest_req_encode(&evs[i], 1, &b) != 0)
			die("ingest_req", "encode");
		snprintf(name, sizeof(name), "one-%02zu", i);
		put_buf("ingest_req", name, &b);
	}
	if (vb_ingest_req_encode(evs, n, &b) != 0)
		die("ingest_req", "encode");
	put_buf("ingest_req", "all", &b);
	if (vb_ingest_req_encode(evs, 0, &b) != 0)
		die("ingest_req", "encode");
	put_buf("ingest_req", "empty", &b);

	/* ingest replies */
	vb_ingest_result res[3] = { { 17, 0, "" }, { 9, 1, "" },
		{ 0, 0, "data.case: missing" } };
	if (vb_ingest_reply_encode(res, 3, 0, "", &b) != 0)
		die("ingest_reply", "encode");
	put_buf("ingest_reply", "results", &b);
	if (vb_ingest_reply_encode(NULL, 0, -7,
	        "storage full: nothing was stored", &b) != 0)
		die("ingest_reply", "encode");
	put_buf("ingest_reply", "refused", &b);

	/* query requests: every kind, every field */
	static const char *const customers[] = { "C-1001", "C-1002" };
	vb_query_req q;
	memset(&q, 0, sizeof(q));
	q.kind = VB_QUERY_REPLAY;
	q.replay = (vb_replay_req){ 5, 900, "2026-11-01T00:00:00Z",
		"2026-12-01T00:00:00+01:00", "C-1001", "complaint.", 100 };
	if (vb_query_req_encode(&q, &b) != 0)
		die("query_req", "encode");
	put_buf("query_req", "replay", &b);
	q.kind = VB_QUERY_STATS;
	if (vb_query_req_encode(&q, &b) != 0)
		die("query_req", "encode");
	put_buf("query_req", "stats", &b);
	q.kind = VB_QUERY_GATE;
	q.gate = (vb_gate_req){ customers, 2, "upsell", "email",
		"2026-11-20T09:12:00Z", "" };
	if (vb_query_req_encode(&q, &b) != 0)
		die("query_req", "encode");
	put_buf("query_req", "gate-at", &b);
	q.gate = (vb_gate_req){ customers, 1, "promotion", "sms", "",
		"black-friday" };
	if (vb_query_req_encode(&q, &b) != 0)
		die("query_req", "encode");
	put_buf("query_req", "gate-record", &b);
	q.kind = VB_QUERY_CUSTOMER;
	q.customer.customer = "C-1001";
	q.customer.at = "2026-11-20T09:11:59Z";
	if (vb_query_req_encode(&q, &b) != 0)
		die("query_req", "encode");
	put_buf("query_req", "customer", &b);
	q.kind = VB_QUERY_SUPPRESSIONS;
	q.supp.after = "C-1001";
	q.supp.limit = 500;
	q.supp.purpose = "upsell";
	q.supp.channel = "post";
	if (vb_query_req_encode(&q, &b) != 0)
		die("query_req", "encode");
	put_buf("query_req", "suppressions", &b);
	q.kind = VB_QUERY_REBUILD;
	if (vb_query_req_encode(&q, &b) != 0)
		die("query_req", "encode");
	put_buf("query_req", "rebuild", &b);

	/* query replies: a replay page of the stored events */
	vb_buf stored[MAX_EVENTS];
	vb_slice slices[MAX_EVENTS];
	memset(stored, 0, sizeof(stored));
	for (size_t i = 0; i < n; i++) {
		if (vb_event_to_pb_canonical(evs[i], &stored[i]) != 0 ||
		    vb_event_pb_tail(i + 1, "2026-11-20T09:12:00.123456Z",
		        &stored[i]) != 0)
			die("query_reply", "encode");
		slices[i] = (vb_slice){ stored[i].data, stored[i].len };
		snprintf(name, sizeof(name), "stored-%02zu", i);
		put("event_pb", name, stored[i].data, stored[i].len);
	}
	vb_query_reply r;
	memset(&r, 0, sizeof(r));
	r.error = "";
	r.kind = VB_QUERY_REPLAY;
	r.replay = (vb_replay_reply){ slices, n, n + 1, 1, n };
	if (vb_query_reply_encode(&r, &b) != 0)
		die("query_reply", "encode");
	put_buf("query_reply", "replay", &b);

	vb_count types[2] = { { "complaint.opened", 3 },
		{ "order.placed", 12 } };
	vb_count sources[1] = { { "sales", 12 } };
	memset(&r, 0, sizeof(r));
	r.error = "";
	r.kind = VB_QUERY_STATS;
	r.stats = (vb_stats){ .events = 15, .last_seq = 15, .customers = 4,
		.disk_bytes = 1 << 20, .map_bytes = 1 << 30, .used_bytes = 65536,
		.max_batch = 10000, .max_message = 4 << 20, .client = "engineer-1",
		.role = "engineer", .pub_redacted = 1, .types = types, .ntypes = 2,
		.sources = sources, .nsources = 1 };
	if (vb_query_reply_encode(&r, &b) != 0)
		die("query_reply", "encode");
	put_buf("query_reply", "stats", &b);

	vb_decision_msg d[2] = {
		{ "C-1001", "upsell", "email", 0,
		    "[{\"rule\":\"open-complaint\",\"event\":\"zd-4411-opened\","
		    "\"since\":\"2026-11-20T09:12:00Z\"}]",
		    0, 0 },
		{ "C-1002", "upsell", "email", 1, "[]", 31, 1 },
	};
	static const vb_query_kind dk[] = { VB_QUERY_GATE, VB_QUERY_CUSTOMER,
		VB_QUERY_SUPPRESSIONS };
	static const char *const dn[] = { "gate", "customer", "suppressions" };
	for (size_t k = 0; k < 3; k++) {
		memset(&r, 0, sizeof(r));
		r.error = "";
		r.kind = dk[k];
		r.decisions = d;
		r.ndecisions = 2;
		r.at = "2026-11-20T09:12:00Z";
		r.state =
		    "{\"cases\":[{\"case\":\"T-4411\",\"status\":\"open\"}]}";
		r.next = "C-1002";
		if (vb_query_reply_encode(&r, &b) != 0)
			die("query_reply", "encode");
		put_buf("query_reply", dn[k], &b);
	}
	memset(&r, 0, sizeof(r));
	r.error = "";
	r.kind = VB_QUERY_REBUILD;
	r.rebuilt[0] = 4;
	r.rebuilt[1] = 20;
	if (vb_query_reply_encode(&r, &b) != 0)
		die("query_reply", "encode");
	put_buf("query_reply", "rebuild", &b);
	memset(&r, 0, sizeof(r));
	r.code = -22;
	r.error = "at: \"yesterday\" is not an RFC 3339 date-time";
	if (vb_query_reply_encode(&r, &b) != 0)
		die("query_reply", "encode");
	put_buf("query_reply", "error", &b);

	for (size_t i = 0; i < n; i++)
		vb_buf_free(&stored[i]);
	vb_buf_free(&b);
}

/* ---- log_record: stored events, alone and in runs ---- */

static void
log_seeds(vb_event **evs, size_t n)
{
	vb_buf run = { 0 }, ev = { 0 };
	char name[32];
	size_t runs = 0;
	vb_buf_append_byte(&run, 0);
	for (size_t i = 0; i < n; i++) {
		vb_buf_reset(&ev);
		if (vb_event_to_pb_canonical(evs[i], &ev) != 0 ||
		    vb_event_pb_tail(1000 + i, "2026-11-20T09:12:01.000500Z", &ev) != 0)
			die("log_record", "encode");
		snprintf(name, sizeof(name), "event-%02zu", i);
		put("log_record", name, ev.data, ev.len);
		/* Runs of up to half a page, as the writer makes them. */
		if (run.len > 1 && run.len + 10 + ev.len > 2000) {
			snprintf(name, sizeof(name), "run-%02zu", runs++);
			put_buf("log_record", name, &run);
			vb_buf_append_byte(&run, 0);
		}
		vb_buf_append_varint(&run, ev.len);
		vb_buf_append(&run, ev.data, ev.len);
	}
	if (run.len > 1) {
		snprintf(name, sizeof(name), "run-%02zu", runs);
		put("log_record", name, run.data, run.len);
		if (run.len > 4)
			put("log_record", "run-cut", run.data, run.len - 3);
	}
	vb_buf_free(&run);
	vb_buf_free(&ev);
}

/* ---- state: each customer's events folded ---- */

static void
state_seeds(vb_event **evs, size_t n)
{
	vb_rules rules;
	vb_buf b = { 0 };
	vb_state empty;
	char name[160];

	vb_rules_defaults(&rules);
	memset(&empty, 0, sizeof(empty));
	if (vb_state_encode(&empty, &b) != 0)
		die("state", "encode");
	put_buf("state", "empty", &b);
	for (size_t i = 0; i < n; i++) {
		const char *cust = vb_event_customer(evs[i]);
		int first = 1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(vb_event_customer(evs[j]), cust) == 0)
				first = 0;
		if (!first)
			continue;
		vb_state s;
		memset(&s, 0, sizeof(s));
		for (size_t j = i; j < n; j++) {
			int64_t us;
			vb_fact f;
			char err[VB_ERRMSG_MAX];
			if (strcmp(vb_event_customer(evs[j]), cust) != 0 ||
			    vb_event_validate(evs[j], &us, err, sizeof(err)) !=
			        0 ||
			    vb_fact_from_event(evs[j], us, &f) != 0)
				continue;
			if (vb_state_apply(&s, &f, vb_rules_keep_us(&rules)) !=
			    0)
				die("state", "apply");
		}
		if (vb_state_encode(&s, &b) != 0)
			die("state", "encode");
		snprintf(name, sizeof(name), "customer-%s", cust);
		put_buf("state", name, &b);
		vb_state_free(&s);
	}
	vb_buf_free(&b);
}

int
main(int argc, char **argv)
{
	vb_event *evs[MAX_EVENTS];
	vb_buf b = { 0 };
	size_t n = 0, len;
	char *text, *line, *save = NULL, name[64], err[VB_ERRMSG_MAX];

	if (argc < 3) {
		fprintf(stderr,
		    "usage: vb_fuzz_seeds OUTDIR EVENTS.jsonl [CSV...]\n");
		return 2;
	}
	outdir = argv[1];
	mkdir_p(outdir);

	text = slurp(argv[2], &len);
	put("adapter_rows", "events.jsonl", text, len);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (n == MAX_EVENTS)
			die(argv[2], "too many lines");
		snprintf(name, sizeof(name), "line-%02zu", n);
		put("event_json", name, line, strlen(line));
		if (vb_event_from_json(line, strlen(line), &evs[n], err,
		        sizeof(err)) != 0)
			die(argv[2], err);
		if (vb_event_to_pb(evs[n], &b) != 0)
			die("event_pb", "encode");
		put("event_pb", name, b.data, b.len);
		if (b.len > 3) {
			snprintf(name, sizeof(name), "truncated-%02zu", n);
			put("event_pb", name, b.data, b.len - 3);
		}
		vb_buf_reset(&b);
		n++;
	}
	hostile_json();
	wire_seeds(evs, n);
	state_seeds(evs, n);
	log_seeds(evs, n);

	for (int i = 3; i < argc; i++) {
		char *csv = slurp(argv[i], &len);
		put("csv", base_name(argv[i]), csv, len);
		put("adapter_rows", base_name(argv[i]), csv, len);
		free(csv);
	}

	for (size_t i = 0; i < n; i++)
		vb_event_free(evs[i]);
	vb_buf_free(&b);
	free(text);
	if (failed)
		die(outdir, "could not write every seed");
	return 0;
}
