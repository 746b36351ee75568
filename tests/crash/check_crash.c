/* Crash harness: the real voicebusd, killed with SIGKILL at random moments
 * while 4 publishers write to it, round after round.
 *
 * Publishers (threads, a vb_client each) send single events and batches of
 * several sizes, a mix of the types the gate folds (complaints, invoices,
 * consent, messages, visits) and orders.  Each event is made from (seed,
 * publisher, number) alone, so the request that was in flight when the
 * broker died is sent again, byte for byte, after the restart: as a real
 * publisher retries.  After each restart:
 *
 *   - the log is seq 1..last without a gap, stats agree, and no id is in it
 *     twice;
 *   - every event ever acknowledged is in it, at the seq it was
 *     acknowledged with (a resent event acknowledged as a duplicate must
 *     name the seq it really has);
 *   - a fixed sample of customers: state and all 25 decisions from the
 *     stored state equal those folded from the log (the gate's `at` path);
 *     `rebuild` finds 0 states that differ and changes nothing; and after
 *     a clean stop (SIGTERM, exit 0) and start they are the same again.
 *
 * The seed is printed; VB_CRASH_SEED=N repeats a run's events and kill
 * points (thread scheduling still varies).  VB_CRASH_ROUNDS overrides the
 * 25 rounds and VB_CRASH_SCALE (percent, default 100) the number of events
 * per round: the sanitized build sets it lower (tests/crash/CMakeLists.txt).
 *
 * Event times are 2 to 3 days before the run: cool-offs (14 d) and the cap
 * window (7 d) hold them through the run and the daily cap never does, so
 * the decisions cannot change by the clock between two looks.
 *
 * A second case, log_integrity (ctest crash_log_integrity), checks that
 * what the broker acknowledges reads back from the log: events the fuzz
 * targets found it stored in a form replay and rebuild could not read. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vb_error.h"
#include "vb_harness.h"
#include "vb_time.h"

#define NPUB 4
#define NCUST 200  /* customers: each gets a few dozen events */
#define NSAMPLE 12 /* the gate's fixed sample: C-000 .. C-011 */
#define MAX_BATCH 400
#define ROUND_DEADLINE_MS 60000

/* ---- run parameters ---- */

static unsigned seed;
static int rounds = 25;
static int scale = 100; /* percent */
static int64_t base_s;  /* event times: base_s + [0, 1 day) */
static vb_h_broker b;

static uint64_t
mix64(uint64_t x)
{
	/* splitmix64's finaliser: a good hash of (seed, publisher, n). */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t
rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return mix64(*s);
}

/* ---- events: a pure function of (seed, publisher, n) ---- */

static void
event_id(char *buf, size_t len, int p, size_t n)
{
	snprintf(buf, len, "crash-p%d-%zu", p, n);
}

static const char *const channels[] = { "email", "sms", "phone", "post",
	"push" };
static const char *const purposes[] = { "service", "upsell", "cross-sell",
	"promotion", "survey" };

static void
event_json(char *buf, size_t len, int p, size_t n)
{
	uint64_t h = mix64(((uint64_t)seed << 32) ^ ((uint64_t)p << 28) ^ n);
	uint64_t r = mix64(h);
	char id[64], when[VB_TIME_BUFSZ], cust[16];
	int k = (int)(r % 4);
	int ch = (int)((r >> 8) % 5), pu = (int)((r >> 16) % 5);

	event_id(id, sizeof(id), p, n);
	snprintf(cust, sizeof(cust), "C-%03d", (int)(h % NCUST));
	vb_time_format((base_s + (int64_t)((h >> 20) % 86400)) * 1000000, when);
#define HEAD "{\"id\":\"%s\",\"customer\":\"%s\",\"time\":\"%s\","
	switch ((h >> 40) % 12) {
	case 0:
	case 1:
		snprintf(buf, len,
		    HEAD
		    "\"source\":\"service\",\"type\":\"complaint.opened\","
		    "\"data\":{\"case\":\"T-%d\",\"severity\":\"high\",\"summary\":\"crash test %zu\"}}",
		    id, cust, when, k, n);
		break;
	case 2:
	case 3:
		snprintf(buf, len,
		    HEAD
		    "\"source\":\"service\",\"type\":\"complaint.resolved\","
		    "\"data\":{\"case\":\"T-%d\",\"resolution\":\"fixed\"}}",
		    id, cust, when, k);
		break;
	case 4:
		snprintf(buf, len,
		    HEAD
		    "\"source\":\"finance\",\"type\":\"invoice.overdue\","
		    "\"data\":{\"invoice\":\"I-%d\",\"amount\":\"12.50\",\"currency\":\"EUR\"}}",
		    id, cust, when, k);
		break;
	case 5:
		snprintf(buf, len,
		    HEAD
		    "\"source\":\"finance\",\"type\":\"invoice.paid\","
		    "\"data\":{\"invoice\":\"I-%d\",\"amount\":\"12.50\",\"currency\":\"EUR\"}}",
		    id, cust, when, k);
		break;
	case 6:
		/* No purpose: every purpose on that channel. */
		snprintf(buf, len,
		    HEAD
		    "\"source\":\"customer\",\"type\":\"consent.withdrawn\","
		    "\"data\":{\"channel\":\"%s\"%s%s%s}}",
		    id, cust, when, channels[ch], pu ? ",\"purpose\":\"" : "",
		    pu ? purposes[pu] : "", pu ? "\"" : "");
		break;
	case 7:
		snprintf(buf, len,
		    HEAD "\"source\":\"customer\",\"type\":\"consent.granted\","
		         "\"data\":{\"channel\":\"%s\"%s%s%s}}",
		    id, cust, when, channels[ch], pu ? ",\"purpose\":\"" : "",
		    pu ? purposes[pu] : "", pu ? "\"" : "");
		break;
	case 8:
		snprintf(buf, len,
		    HEAD
		    "\"source\":\"marketing\",\"type\":\"message.sent\","
		    "\"data\":{\"channel\":\"%s\",\"purpose\":\"%s\",\"campaign\":\"camp-%d\"}}",
		    id, cust, when, channels[ch], purposes[pu], k);
		break;
	case 9:
		snprintf(buf, len,
		    HEAD "\"source\":\"field\",\"type\":\"%s\","
		         "\"data\":{\"visit\":\"V-%d\"}}",
		    id, cust, when,
		    (r >> 24) % 2 ? "visit.missed" : "visit.completed", k);
		break;
	default:
		snprintf(buf, len,
		    HEAD
		    "\"source\":\"sales\",\"type\":\"order.placed\","
		    "\"data\":{\"order\":\"O-%zu\",\"amount\":\"19.99\",\"currency\":\"GBP\",\"items\":%d}}",
		    id, cust, when, n, k + 1);
		break;
	}
#undef HEAD
}

/* ---- publishers ---- */

typedef struct pubstate {
	int p;
	uint64_t *seq; /* seq[n]: acknowledged seq of event n; 0: not (yet) */
	size_t cap;
	size_t next;        /* events 0 .. next-1 have been sent */
	size_t flight_from; /* a request without a reply: [from, from + n) */
	size_t flight_n;
	vb_client *c;
	uint64_t rng;
	/* counts, over the run */
	unsigned long requests, resent, resent_dup, resent_new, resent_mixed;
} pubstate;

static pubstate pubs[NPUB];
static atomic_size_t round_acks;
static atomic_int stop_flag;

static size_t
batch_size(pubstate *ps)
{
	uint64_t r = rng_next(&ps->rng);
	switch (ps->p) {
	case 0: return 1; /* single events */
	case 1: return 10;
	case 2: return 2 + r % 99;                          /* 2 .. 100 */
	default: return r % 4 == 0 ? 1 : 1 + r % MAX_BATCH; /* 1 .. 400 */
	}
}

static void
grow(pubstate *ps, size_t need)
{
	if (need <= ps->cap)
		return;
	size_t cap = ps->cap ? ps->cap : 4096;
	while (cap < need)
		cap *= 2;
	ps->seq = realloc(ps->seq, cap * sizeof(*ps->seq));
	ck_assert_ptr_nonnull(ps->seq);
	memset(ps->seq + ps->cap, 0, (cap - ps->cap) * sizeof(*ps->seq));
	ps->cap = cap;
}

/* Send events [from, from + n).  Returns 0 when answered, -1 when the
 * request went without a reply (the broker was killed): it stays in flight. */
static int
send_range(pubstate *ps, size_t from, size_t n, int resend)
{
	vb_event *evs[MAX_BATCH] = { 0 };
	char json[1024], err[VB_ERRMSG_MAX];
	vb_ingest_reply rep;
	int rv;

	ck_assert_uint_le(n, MAX_BATCH);
	for (size_t k = 0; k < n; k++) {
		event_json(json, sizeof(json), ps->p, from + k);
		ck_assert_msg(vb_event_from_json(json, strlen(json), &evs[k],
		                  err, sizeof(err)) == 0,
		    "%s: %s", json, err);
	}
	ps->flight_from = from;
	ps->flight_n = n;
	ps->requests++;
	rv = vb_client_publish(ps->c, evs, n, &rep);
	for (size_t k = 0; k < n; k++)
		vb_event_free(evs[k]);
	if (rv != 0)
		return -1;
	ck_assert_msg(rep.code == 0, "publisher %d: request refused: %s", ps->p,
	    rep.error);
	ck_assert_uint_eq(rep.n, n);
	size_t dups = 0;
	for (size_t k = 0; k < n; k++) {
		ck_assert_msg(rep.results[k].error == NULL ||
		        rep.results[k].error[0] == '\0',
		    "publisher %d event %zu rejected: %s", ps->p, from + k,
		    rep.results[k].error);
		ck_assert_uint_ge(rep.results[k].seq, 1);
		ps->seq[from + k] = rep.results[k].seq;
		dups += rep.results[k].duplicate != 0;
	}
	vb_ingest_reply_free(&rep);
	ps->flight_n = 0;
	if (resend) {
		ps->resent++;
		if (dups == n)
			ps->resent_dup++;
		else if (dups == 0)
			ps->resent_new++;
		else
			ps->resent_mixed++;
	}
	atomic_fetch_add(&round_acks, n);
	return 0;
}

static void *
publisher(void *arg)
{
	pubstate *ps = arg;
	/* First what the last kill left without an answer, as a publisher
	 * that retries does. */
	if (ps->flight_n > 0 &&
	    send_range(ps, ps->flight_from, ps->flight_n, 1) != 0)
		return NULL;
	while (!atomic_load(&stop_flag)) {
		size_t n = batch_size(ps);
		grow(ps, ps->next + n);
		size_t from = ps->next;
		ps->next += n;
		if (send_range(ps, from, n, 0) != 0)
			break;
	}
	return NULL;
}

/* A reader at the same time: replay pages and customer queries, so the
 * kill also leaves read transactions (LMDB reader slots) behind. */
static vb_client *reader_client;
static atomic_uint rebuilds; /* answered while publishing */

static void *
reader(void *arg)
{
	uint64_t rng = *(uint64_t *)arg;
	while (!atomic_load(&stop_flag)) {
		vb_query_req q = { .kind = VB_QUERY_REPLAY };
		vb_query_reply rep;
		char cust[16];
		uint64_t r = rng_next(&rng) % 64;
		if (r == 0) {
			/* Now and then a rebuild, under the writes and the kill. */
			q.kind = VB_QUERY_REBUILD;
		} else if (r % 2) {
			q.replay.from_seq = 1 + rng_next(&rng) % 5000;
			q.replay.limit = 200;
		} else {
			q.kind = VB_QUERY_CUSTOMER;
			snprintf(cust, sizeof(cust), "C-%03d",
			    (int)(rng_next(&rng) % NCUST));
			q.customer.customer = cust;
		}
		if (vb_client_query(reader_client, &q, &rep) != 0)
			break;
		if (q.kind == VB_QUERY_REBUILD && rep.code == 0) {
			ck_assert_msg(rep.rebuilt[2] == 0,
			    "rebuild under load: %llu customer "
			    "states differed from the log (seed %u)",
			    (unsigned long long)rep.rebuilt[2], seed);
			atomic_fetch_add(&rebuilds, 1);
		}
		vb_query_reply_free(&rep);
	}
	return NULL;
}

/* ---- what the log holds ---- */

typedef struct idmap {
	char **key;
	uint64_t *seq;
	size_t cap;
} idmap;

static uint64_t
hash_str(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* Insert; returns the seq already there (a duplicate id), or 0. */
static uint64_t
idmap_put(idmap *m, const char *id, size_t n, uint64_t seq)
{
	size_t i = hash_str(id, n) & (m->cap - 1);
	for (; m->key[i]; i = (i + 1) & (m->cap - 1))
		if (strlen(m->key[i]) == n && memcmp(m->key[i], id, n) == 0)
			return m->seq[i];
	m->key[i] = strndup(id, n);
	m->seq[i] = seq;
	return 0;
}

static uint64_t
idmap_get(const idmap *m, const char *id)
{
	size_t n = strlen(id), i = hash_str(id, n) & (m->cap - 1);
	for (; m->key[i]; i = (i + 1) & (m->cap - 1))
		if (strcmp(m->key[i], id) == 0)
			return m->seq[i];
	return 0;
}

static void
idmap_free(idmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->key[i]);
	free(m->key);
	free(m->seq);
}

/* Read the whole log; check it is 1..last without a gap and without an id
 * twice; fill *m (id -> seq).  Returns the number of events. */
static uint64_t
read_log(vb_client *c, idmap *m)
{
	vb_query_req q = { .kind = VB_QUERY_STATS };
	vb_query_reply r;
	uint64_t last, events, n = 0, next = 1;

	ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
	ck_assert_int_eq(r.code, 0);
	last = r.stats.last_seq;
	events = r.stats.events;
	vb_query_reply_free(&r);
	ck_assert_msg(events == last, "stats: %llu events but last seq %llu",
	    (unsigned long long)events, (unsigned long long)last);

	m->cap = 1024;
	while (m->cap < 2 * last + 2)
		m->cap *= 2;
	m->key = calloc(m->cap, sizeof(*m->key));
	m->seq = calloc(m->cap, sizeof(*m->seq));
	ck_assert(m->key && m->seq);

	q.kind = VB_QUERY_REPLAY;
	for (;;) {
		q.replay.from_seq = next;
		ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
		ck_assert_msg(r.code == 0, "replay: %s", r.error);
		for (size_t i = 0; i < r.replay.n; i++) {
			vb_event_peek pk;
			ck_assert_int_eq(vb_event_peek_pb(r.replay.events[i].p,
			                     r.replay.events[i].len, &pk),
			    0);
			n++;
			ck_assert_msg(pk.seq == n,
			    "log: seq %llu where %llu was expected (gap or disorder)",
			    (unsigned long long)pk.seq, (unsigned long long)n);
			uint64_t other = idmap_put(m, pk.id, pk.id_len, pk.seq);
			ck_assert_msg(other == 0,
			    "log: id %.*s stored twice, at seq %llu and %llu",
			    (int)pk.id_len, pk.id, (unsigned long long)other,
			    (unsigned long long)pk.seq);
		}
		next = r.replay.next_seq;
		int done = r.replay.done;
		vb_query_reply_free(&r);
		if (done)
			break;
	}
	ck_assert_msg(n == last,
	    "replay gave %llu events, stats say last seq %llu",
	    (unsigned long long)n, (unsigned long long)last);
	return n;
}

/* Every acknowledged event is in the log at its seq.  Returns how many. */
static size_t
check_acked(const idmap *m)
{
	size_t acked = 0;
	char id[64];
	for (int p = 0; p < NPUB; p++) {
		const pubstate *ps = &pubs[p];
		for (size_t n = 0; n < ps->next; n++) {
			int flying = ps->flight_n && n >= ps->flight_from &&
			    n < ps->flight_from + ps->flight_n;
			event_id(id, sizeof(id), p, n);
			uint64_t at = idmap_get(m, id);
			if (ps->seq[n] == 0) {
				/* Never answered: only the request in flight. */
				ck_assert_msg(flying,
				    "%s: sent, never answered, not in flight",
				    id);
				continue;
			}
			acked++;
			ck_assert_msg(at != 0,
			    "LOST: %s acknowledged at seq %llu is not in the log "
			    "(seed %u)",
			    id, (unsigned long long)ps->seq[n], seed);
			ck_assert_msg(at == ps->seq[n],
			    "%s acknowledged at seq %llu is at seq %llu "
			    "(seed %u)",
			    id, (unsigned long long)ps->seq[n],
			    (unsigned long long)at, seed);
		}
	}
	return acked;
}

/* ---- the gate's sample ---- */

/* The sample's state and 25 decisions as one text; at NULL: from the
 * stored state, else folded from the log at that time.  Caller frees. */
static char *
gate_sample(vb_client *c, const char *at)
{
	vb_buf out = { 0 };
	char cust[16], line[256];
	for (int i = 0; i < NSAMPLE; i++) {
		vb_query_req q = { .kind = VB_QUERY_CUSTOMER };
		vb_query_reply r;
		snprintf(cust, sizeof(cust), "C-%03d", i);
		q.customer.customer = cust;
		q.customer.at = at;
		ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
		ck_assert_msg(r.code == 0, "customer %s: %s", cust, r.error);
		ck_assert_uint_eq(r.ndecisions, 25);
		snprintf(line, sizeof(line), "%s state ", cust);
		vb_buf_append_str(&out, line);
		vb_buf_append_str(&out, r.state);
		vb_buf_append_byte(&out, '\n');
		for (size_t d = 0; d < r.ndecisions; d++) {
			const vb_decision_msg *dm = &r.decisions[d];
			snprintf(line, sizeof(line), "%s %s/%s %s ", cust,
			    dm->purpose, dm->channel,
			    dm->allow ? "allow" : "block");
			vb_buf_append_str(&out, line);
			vb_buf_append_str(&out, dm->reasons);
			vb_buf_append_byte(&out, '\n');
		}
		vb_query_reply_free(&r);
	}
	ck_assert_int_eq(vb_buf_append_byte(&out, 0), 0);
	return (char *)out.data;
}

/* The first line where a and b differ, for the failure message. */
static void
assert_same(const char *what, const char *a, const char *b_)
{
	if (strcmp(a, b_) == 0)
		return;
	const char *p = a, *q = b_;
	while (*p && *p == *q)
		p++, q++;
	while (p > a && p[-1] != '\n')
		p--, q--;
	ck_abort_msg("%s (seed %u):\n  %.300s\nvs\n  %.300s", what, seed, p, q);
}

static void
rebuild_finds_nothing(vb_client *c)
{
	vb_query_req q = { .kind = VB_QUERY_REBUILD };
	vb_query_reply r;
	ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
	ck_assert_msg(r.code == 0, "rebuild: %s", r.error);
	ck_assert_msg(r.rebuilt[2] == 0,
	    "rebuild: %llu customer states differed from the "
	    "log (%llu customers rebuilt; crash seed %u)",
	    (unsigned long long)r.rebuilt[2], (unsigned long long)r.rebuilt[0],
	    seed);
	vb_query_reply_free(&r);
}

/* What the sample holds, to show the comparisons compare something. */
static void
describe_sample(const char *text)
{
	static const char *const rules[] = { "open-complaint",
		"complaint-cooloff", "missed-visit", "overdue-invoice",
		"no-consent", "frequency-cap" };
	size_t blocked = 0;
	for (const char *p = text; (p = strstr(p, " block ")) != NULL; p++)
		blocked++;
	printf(
	    "crash: the gate's sample: %d customers, %zu of %d decisions block; rules:",
	    NSAMPLE, blocked, NSAMPLE * 25);
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		char q[64];
		snprintf(q, sizeof(q), "\"rule\":\"%s\"", rules[i]);
		printf(" %s%s", rules[i], strstr(text, q) ? "" : " (none)");
	}
	printf("\n");
}

/* After a restart: the log, the acknowledgements, the state, the gate. */
static size_t
verify(int round)
{
	idmap m = { 0 };
	char now[VB_TIME_BUFSZ];
	vb_client *c = vb_h_client(&b);

	uint64_t n = read_log(c, &m);
	size_t acked = check_acked(&m);
	idmap_free(&m);

	/* The stored state against the log, customer by customer. */
	char *a = gate_sample(c, NULL);
	char *folded = gate_sample(c, vb_time_format(vb_time_now(), now));
	assert_same("stored state and decisions differ from the log's fold", a,
	    folded);
	free(folded);
	rebuild_finds_nothing(c);
	char *a2 = gate_sample(c, NULL);
	assert_same("rebuild changed the gate's answers", a, a2);
	free(a2);
	ck_assert_uint_eq(vb_h_last_seq(c),
	    n); /* nothing to publish: nothing changed */
	vb_client_close(c);

	/* And the same after a clean stop and start. */
	ck_assert_int_eq(vb_h_stop(&b), 0);
	vb_h_start(&b, NULL);
	c = vb_h_client(&b);
	char *bb = gate_sample(c, NULL);
	assert_same("the gate's answers changed across a restart", a, bb);
	free(bb);
	if (round > rounds)
		describe_sample(a);
	free(a);
	ck_assert_uint_eq(vb_h_last_seq(c), n);
	vb_client_close(c);
	return acked;
}

/* ---- the run ---- */

static int
env_int(const char *name, int def, int lo, int hi)
{
	const char *v = getenv(name);
	char *end;
	long x;
	if (v == NULL || v[0] == '\0')
		return def;
	x = strtol(v, &end, 10);
	ck_assert_msg(*end == '\0' && x >= lo && x <= hi,
	    "%s=%s: expected %d to %d", name, v, lo, hi);
	return (int)x;
}

START_TEST(kill9_rounds)
{
	const char *s = getenv("VB_CRASH_SEED");
	uint64_t rng;
	size_t acked = 0;
	uint64_t log_n = 0;
	int64_t t0 = vb_h_now_ms();

	setvbuf(stdout, NULL, _IOLBF, 0);
	seed =
	    s && s[0] ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL);
	rounds = env_int("VB_CRASH_ROUNDS", 25, 1, 10000);
	scale = env_int("VB_CRASH_SCALE", 100, 1, 10000);
	printf(
	    "crash: seed %u (repeat with VB_CRASH_SEED=%u), %d rounds, scale %d%%\n",
	    seed, seed, rounds, scale);
	rng = seed;
	base_s = vb_time_now() / 1000000 - 3 * 86400;

	memset(pubs, 0, sizeof(pubs));
	for (int p = 0; p < NPUB; p++)
		pubs[p].p = p;
	vb_h_init(&b);
	vb_h_start(&b, NULL);

	for (int round = 1; round <= rounds; round++) {
		pthread_t th[NPUB], rth;
		vb_client_opts o = { .ingest = b.ingest,
			.query = b.query,
			.timeout_ms = 20000 };
		/* Where to kill: after 0 .. 2000 acknowledgements (scaled), then
		 * 0 .. 20 ms more, so kills land before, inside and between
		 * commits, at start-up, in batches, among replies. */
		size_t max_acks = (size_t)2000 * (size_t)scale / 100;
		size_t target = (size_t)(rng_next(&rng) % (max_acks + 1));
		if (round % 8 == 1)
			target = 0;
		unsigned extra_us = (unsigned)(rng_next(&rng) % 20000);
		uint64_t reader_rng = rng_next(&rng);
		int64_t r0 = vb_h_now_ms();

		atomic_store(&round_acks, 0);
		atomic_store(&stop_flag, 0);
		for (int p = 0; p < NPUB; p++) {
			pubs[p].rng = rng_next(&rng);
			ck_assert_int_eq(vb_client_open(&o, &pubs[p].c), 0);
			pthread_create(&th[p], NULL, publisher, &pubs[p]);
		}
		ck_assert_int_eq(vb_client_open(&o, &reader_client), 0);
		pthread_create(&rth, NULL, reader, &reader_rng);

		int64_t deadline = vb_h_now_ms() + ROUND_DEADLINE_MS;
		while (atomic_load(&round_acks) < target) {
			ck_assert_msg(vb_h_now_ms() < deadline,
			    "round %d: %zu of %zu acks in %d ms", round,
			    atomic_load(&round_acks), target,
			    ROUND_DEADLINE_MS);
			usleep(500);
		}
		/* Not a wait for readiness: the random moment of the kill. */
		usleep(extra_us);
		size_t at_kill = atomic_load(&round_acks);
		vb_h_kill(&b);

		atomic_store(&stop_flag, 1);
		for (int p = 0; p < NPUB; p++)
			vb_client_abort(pubs[p].c);
		vb_client_abort(reader_client);
		for (int p = 0; p < NPUB; p++) {
			pthread_join(th[p], NULL);
			vb_client_close(pubs[p].c);
			pubs[p].c = NULL;
		}
		pthread_join(rth, NULL);
		vb_client_close(reader_client);

		int64_t r1 = vb_h_now_ms();
		vb_h_start(&b, NULL);
		int64_t r2 = vb_h_now_ms();
		vb_client *c = vb_h_client(&b);
		uint64_t before = log_n;
		log_n = vb_h_last_seq(c);
		vb_client_close(c);
		acked = verify(round);
		size_t flying = 0;
		for (int p = 0; p < NPUB; p++)
			flying += pubs[p].flight_n;
		printf(
		    "crash: round %2d: killed after %zu acks (+%u us); log %llu -> %llu; "
		    "%zu acknowledged, all present once; %zu in flight at the kill; "
		    "load %lld ms, restart %lld ms, checks %lld ms\n",
		    round, at_kill, extra_us, (unsigned long long)before,
		    (unsigned long long)log_n, acked, flying,
		    (long long)(r1 - r0), (long long)(r2 - r1),
		    (long long)(vb_h_now_ms() - r2));
	}

	/* Finally every request left in flight is sent again: every event ever
	 * made is then acknowledged, and present once. */
	vb_client_opts o = { .ingest = b.ingest,
		.query = b.query,
		.timeout_ms = 20000 };
	for (int p = 0; p < NPUB; p++) {
		ck_assert_int_eq(vb_client_open(&o, &pubs[p].c), 0);
		if (pubs[p].flight_n)
			ck_assert_int_eq(send_range(&pubs[p],
			                     pubs[p].flight_from,
			                     pubs[p].flight_n, 1),
			    0);
		vb_client_close(pubs[p].c);
		pubs[p].c = NULL;
	}
	acked = verify(rounds + 1);
	size_t made = 0;
	unsigned long resent = 0, dup = 0, fresh = 0, mixed = 0;
	for (int p = 0; p < NPUB; p++) {
		made += pubs[p].next;
		resent += pubs[p].resent;
		dup += pubs[p].resent_dup;
		fresh += pubs[p].resent_new;
		mixed += pubs[p].resent_mixed;
		free(pubs[p].seq);
	}
	ck_assert_uint_eq(acked, made);
	printf(
	    "crash: %d rounds survived, seed %u: %zu events acknowledged, 0 lost, "
	    "0 duplicated; %lu requests in flight at a kill sent again (%lu had been stored "
	    "whole, %lu not at all, %lu in part); %u rebuilds under load found nothing; "
	    "%.1f s\n",
	    rounds, seed, acked, resent, dup, fresh, mixed,
	    atomic_load(&rebuilds), (double)(vb_h_now_ms() - t0) / 1000);
	ck_assert_int_eq(vb_h_stop(&b), 0);
	vb_h_cleanup(&b);
}
END_TEST

/* ---- what the log keeps must read back ----
 *
 * Found by the fuzz targets (tests/fuzz/regressions/event_pb, ingest_req):
 * a publisher that speaks protobuf can send an event the broker accepts
 * and stores, but whose stored bytes do not read back as the same event.
 * Then replay skips it, and a rebuild folds the log without it: the state
 * "differs", and the gate's answer changes.  The right behaviour, asserted
 * here: such an event is refused, or stored so that it reads back. */

/* One raw IngestRequest holding one event: its JSON, then extra bytes. */
static void
publish_raw_event(vb_client *c, const char *json, const void *extra,
    size_t extra_len, vb_ingest_reply *rep)
{
	vb_event *ev;
	vb_buf ev_pb = { 0 }, req = { 0 };
	char err[VB_ERRMSG_MAX];
	ck_assert_msg(vb_event_from_json(json, strlen(json), &ev, err,
	                  sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(vb_event_to_pb(ev, &ev_pb), 0);
	vb_event_free(ev);
	ck_assert_int_eq(vb_buf_append(&ev_pb, extra, extra_len), 0);
	vb_buf_append_byte(&req,
	    0x0a); /* IngestRequest.events, length-delimited */
	vb_buf_append_varint(&req, ev_pb.len);
	vb_buf_append(&req, ev_pb.data, ev_pb.len);
	ck_assert_int_eq(vb_client_publish_raw(c, req.data, req.len, rep), 0);
	vb_buf_free(&ev_pb);
	vb_buf_free(&req);
}

/* If the reply stored it: the stored event at its seq decodes, has its id,
 * and its JSON line reads back. */
static void
assert_reads_back(vb_client *c, const vb_ingest_reply *rep, const char *id)
{
	vb_query_req q = { .kind = VB_QUERY_REPLAY };
	vb_query_reply r;
	vb_buf json = { 0 };
	vb_event *ev = NULL, *again = NULL;
	char err[VB_ERRMSG_MAX];

	ck_assert_int_eq(rep->code, 0);
	ck_assert_uint_eq(rep->n, 1);
	if (rep->results[0].error && rep->results[0].error[0]) {
		printf("crash: %s refused: %s\n", id, rep->results[0].error);
		return;
	}
	q.replay.from_seq = rep->results[0].seq;
	q.replay.to_seq = rep->results[0].seq;
	ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
	ck_assert_int_eq(r.code, 0);
	ck_assert_uint_eq(r.replay.n, 1);
	ck_assert_msg(vb_event_from_pb(r.replay.events[0].p,
	                  r.replay.events[0].len, &ev) == 0,
	    "%s acknowledged at seq %llu, but the stored event does not decode",
	    id, (unsigned long long)rep->results[0].seq);
	ck_assert_str_eq(vb_event_id(ev), id);
	ck_assert_int_eq(vb_event_to_json(ev, &json), 0);
	ck_assert_msg(vb_event_from_json((const char *)json.data, json.len,
	                  &again, err, sizeof(err)) == 0,
	    "%s: its replayed JSON line does not read back: %s: %.*s", id, err,
	    (int)json.len, (const char *)json.data);
	vb_event_free(again);
	vb_event_free(ev);
	vb_buf_free(&json);
	vb_query_reply_free(&r);
}

static int
gate_allows(vb_client *c, const char *customer)
{
	vb_query_req q = { .kind = VB_QUERY_GATE };
	vb_query_reply r;
	const char *cust = customer;
	q.gate.customers = &cust;
	q.gate.n = 1;
	q.gate.purpose = "upsell";
	q.gate.channel = "email";
	ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
	ck_assert_int_eq(r.code, 0);
	int allow = r.decisions[0].allow;
	vb_query_reply_free(&r);
	return allow;
}

/* An unknown field numbered 0, its key written in two bytes (0x82 0x00):
 * protobuf-c decodes it and keeps it, and encodes it again as 0x02 0x00,
 * which it then refuses to decode. */
START_TEST(stored_event_decodes)
{
	static const uint8_t field0[] = { 0x82, 0x00, 0x00 };
	vb_ingest_reply rep;
	vb_h_init(&b);
	vb_h_start(&b, NULL);
	vb_client *c = vb_h_client(&b);
	publish_raw_event(c,
	    "{\"id\":\"field0-opened\",\"source\":\"service\","
	    "\"type\":\"complaint.opened\",\"customer\":\"C-F0\","
	    "\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"case\":\"T-1\"}}",
	    field0, sizeof(field0), &rep);
	/* A field numbered 0 is not protobuf: the broker may refuse the whole
	 * request (nothing of it stored), or the event; never store it. */
	if (rep.code == VB_EPROTO) {
		ck_assert_ptr_nonnull(strstr(rep.error, "IngestRequest"));
		vb_ingest_reply_free(&rep);
		vb_client_close(c);
		ck_assert_int_eq(vb_h_stop(&b), 0);
		vb_h_cleanup(&b);
		return;
	}
	ck_assert_int_eq(rep.code, 0);
	if (rep.results[0].error == NULL || rep.results[0].error[0] == '\0') {
		/* Stored: an open complaint blocks the upsell, before and after a
		 * rebuild from the log. */
		ck_assert_int_eq(gate_allows(c, "C-F0"), 0);
		rebuild_finds_nothing(c);
		ck_assert_msg(!gate_allows(c, "C-F0"),
		    "the rebuild lost the open complaint: "
		    "upsell to C-F0 is now allowed");
	}
	assert_reads_back(c, &rep, "field0-opened");
	vb_ingest_reply_free(&rep);
	vb_client_close(c);
	ck_assert_int_eq(vb_h_stop(&b), 0);
	vb_h_cleanup(&b);
}
END_TEST

/* The same attribute twice (a protobuf map entry repeated): the replayed
 * JSON line must still be one `voicebus publish` reads. */
START_TEST(stored_event_prints_readable_json)
{
	static const uint8_t twice[] = { 0x42, 0x0c, 0x0a, 0x07, 'c', 'o', 'u',
		'n', 't', 'r', 'y', 0x12, 0x01, 'X' };
	vb_ingest_reply rep;
	vb_h_init(&b);
	vb_h_start(&b, NULL);
	vb_client *c = vb_h_client(&b);
	publish_raw_event(c,
	    "{\"id\":\"attr-twice\",\"source\":\"sales\","
	    "\"type\":\"order.placed\",\"customer\":\"C-A2\","
	    "\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"order\":\"O-1\"},"
	    "\"attributes\":{\"country\":\"UK\"}}",
	    twice, sizeof(twice), &rep);
	assert_reads_back(c, &rep, "attr-twice");
	vb_ingest_reply_free(&rep);
	vb_client_close(c);
	ck_assert_int_eq(vb_h_stop(&b), 0);
	vb_h_cleanup(&b);
}
END_TEST

static Suite *
crash_suite(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("kill9");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, kill9_rounds);
	suite_add_tcase(s, tc);
	/* Run apart (ctest crash_log_integrity, CK_RUN_CASE=log_integrity): a
	 * failure there is not a crash-safety failure. */
	tc = tcase_create("log_integrity");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, stored_event_decodes);
	tcase_add_test(tc, stored_event_prints_readable_json);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(crash_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
