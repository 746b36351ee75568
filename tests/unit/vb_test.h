/* vb_test: what the unit suites share: running a suite in check's fork
 * mode, seeded random numbers that print their seed, a temporary directory
 * tree per test case, and (for suites that include vb_event.h first) sample
 * events of every type of the contract.
 *
 * Everything here is static inline or lives inside a function, so that a
 * suite that uses only part of it compiles without unused warnings. */
#ifndef VB_TEST_H
#define VB_TEST_H

#include <check.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Run s and return the process exit status.  Fork mode (each test in its
 * own process) unless CK_FORK is set in the environment, so that
 * CK_FORK=no still works for running a test under a debugger.  Verbosity
 * follows CK_VERBOSITY (silent, minimal, normal, verbose). */
static inline int
vbt_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	if (getenv("CK_FORK") == NULL)
		srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- random inputs ---- */

/* The seed of a randomised test: VB_TEST_SEED when set, else from the
 * clock.  Printed on stderr, so a failure can be repeated. */
static inline uint64_t
vbt_seed(const char *test)
{
	const char *s = getenv("VB_TEST_SEED");
	uint64_t seed;

	if (s != NULL && *s != '\0') {
		seed = strtoull(s, NULL, 0);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
		    (uint64_t)getpid() << 32;
	}
	fprintf(stderr, "%s: seed %llu (VB_TEST_SEED=%llu repeats it)\n", test,
	    (unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

/* splitmix64: small, good enough, and the same on every platform. */
typedef struct vbt_rng {
	uint64_t s;
} vbt_rng;

static inline uint64_t
vbt_rand(vbt_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in [lo, hi]. */
static inline int64_t
vbt_rand_range(vbt_rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(vbt_rand(r) % (uint64_t)(hi - lo + 1));
}

/* ---- temporary directories ----
 * The root is made by an unchecked fixture (in check's parent process) and
 * removed by its teardown, so that it goes away even when a test fails or
 * crashes in its own process.  Tests make their own directories under it. */

static inline char *
vbt_root(void)
{
	static char root[1024];
	return root;
}

static inline int
vbt_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove path and everything under it.  Returns 0 or -1. */
static inline int
vbt_rmtree(const char *path)
{
	return nftw(path, vbt_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void
vbt_root_setup(void)
{
	const char *t = getenv("TMPDIR");
	char *root = vbt_root();
	snprintf(root, 1024, "%s/vb-unit-XXXXXX", t != NULL && *t ? t : "/tmp");
	ck_assert_msg(mkdtemp(root) != NULL, "mkdtemp %s failed", root);
}

static inline void
vbt_root_teardown(void)
{
	char *root = vbt_root();
	if (root[0] != '\0')
		vbt_rmtree(root);
	root[0] = '\0';
}

/* Make a new empty directory under the root; path gets its name. */
static inline void
vbt_mkdtemp(char *path, size_t len)
{
	ck_assert_msg(vbt_root()[0] != '\0', "no root: add the vbt_root fixture");
	int n = snprintf(path, len, "%s/t-XXXXXX", vbt_root());
	ck_assert_msg(n > 0 && (size_t)n < len, "temporary path too long");
	ck_assert_msg(mkdtemp(path) != NULL, "mkdtemp %s failed", path);
}

/* Write text to a new file dir/name; path gets its name. */
static inline void
vbt_write_file(const char *dir, const char *name, const char *text, char *path,
    size_t len)
{
	FILE *f;
	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot create %s", path);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* ---- captured output ---- */

/* A stream into memory, for a vb_log whose messages a test counts. */
typedef struct vbt_capture {
	FILE *f;
	char *text;
	size_t len;
} vbt_capture;

static inline FILE *
vbt_capture_open(vbt_capture *c)
{
	memset(c, 0, sizeof(*c));
	c->f = open_memstream(&c->text, &c->len);
	ck_assert_ptr_nonnull(c->f);
	return c->f;
}

/* How often s occurs in what was written so far.  Only while nothing
 * else writes to the stream: the text may move as it grows. */
static inline size_t
vbt_capture_count(vbt_capture *c, const char *s)
{
	size_t n = 0;
	ck_assert_int_eq(fflush(c->f), 0);
	for (const char *p = c->text; (p = strstr(p, s)) != NULL;
	     p += strlen(s))
		n++;
	return n;
}

static inline void
vbt_capture_close(vbt_capture *c)
{
	fclose(c->f);
	free(c->text);
	memset(c, 0, sizeof(*c));
}

/* ---- sample events ---- */

/* One valid event of each type of the contract, every payload field set
 * (non-empty, non-zero) so that a JSON round trip must reproduce it whole. */
typedef struct vbt_sample {
	const char *type;
	const char *source;
	const char *json;
} vbt_sample;

#define VBT_HEAD(id, src, type, cust, time)                                   \
	"{\"id\":\"" id "\",\"source\":\"" src "\",\"type\":\"" type              \
	"\",\"customer\":\"" cust "\",\"time\":\"" time "\","

static inline const vbt_sample *
vbt_samples(size_t *n)
{
	static const vbt_sample s[] = {
		{ "complaint.opened", "service",
		  VBT_HEAD("zd-4411-opened", "service", "complaint.opened", "C-1001", "2026-11-20T09:12:00Z")
		  "\"data\":{\"case\":\"T-4411\",\"category\":\"audio\",\"severity\":\"high\","
		  "\"summary\":\"no sound from headphones\",\"channel\":\"phone\"},"
		  "\"attributes\":{\"zendesk_group\":\"audio\",\"priority\":\"p1\"}}" },
		{ "complaint.updated", "service",
		  VBT_HEAD("zd-4411-updated", "service", "complaint.updated", "C-1001", "2026-11-20T11:00:00.250Z")
		  "\"data\":{\"case\":\"T-4411\",\"status\":\"waiting on parts\","
		  "\"summary\":\"replacement ordered\"}}" },
		{ "complaint.resolved", "service",
		  VBT_HEAD("zd-4411-resolved", "service", "complaint.resolved", "C-1001", "2026-11-22T16:30:00+01:00")
		  "\"data\":{\"case\":\"T-4411\",\"resolution\":\"replaced\","
		  "\"summary\":\"new headphones sent\"}}" },
		{ "complaint.reopened", "service",
		  VBT_HEAD("zd-4411-reopened", "service", "complaint.reopened", "C-1001", "2026-11-25T08:00:00Z")
		  "\"data\":{\"case\":\"T-4411\",\"reason\":\"replacement also broken\"}}" },
		{ "visit.scheduled", "field",
		  VBT_HEAD("fs-77-scheduled", "field", "visit.scheduled", "C-2002", "2026-11-19T15:00:00Z")
		  "\"data\":{\"visit\":\"V-77\",\"window_start\":\"2026-11-21T08:00:00+01:00\","
		  "\"window_end\":\"2026-11-21T12:00:00+01:00\",\"reason\":\"router install\"}}" },
		{ "visit.completed", "field",
		  VBT_HEAD("fs-77-completed", "field", "visit.completed", "C-2002", "2026-11-21T10:40:30Z")
		  "\"data\":{\"visit\":\"V-77\",\"arrived_at\":\"2026-11-21T09:05:00Z\","
		  "\"completed_at\":\"2026-11-21T10:40:30.25Z\"}}" },
		{ "visit.missed", "field",
		  VBT_HEAD("fs-78-missed", "field", "visit.missed", "C-2002", "2026-11-22T12:00:01Z")
		  "\"data\":{\"visit\":\"V-78\",\"window_start\":\"2026-11-22T08:00:00Z\","
		  "\"window_end\":\"2026-11-22T12:00:00Z\",\"reason\":\"technician ill\"},"
		  "\"attributes\":{\"depot\":\"north\"}}" },
		{ "visit.cancelled", "field",
		  VBT_HEAD("fs-79-cancelled", "field", "visit.cancelled", "C-2002", "2026-11-23T07:00:00Z")
		  "\"data\":{\"visit\":\"V-79\",\"reason\":\"customer request\"}}" },
		{ "order.placed", "sales",
		  VBT_HEAD("shop-5001-placed", "sales", "order.placed", "C-3003", "2026-11-18T20:15:00Z")
		  "\"data\":{\"order\":\"O-5001\",\"amount\":\"139.50\",\"currency\":\"EUR\",\"items\":3}}" },
		{ "order.returned", "sales",
		  VBT_HEAD("shop-5001-returned", "sales", "order.returned", "C-3003", "2026-11-26T10:00:00Z")
		  "\"data\":{\"order\":\"O-5001\",\"amount\":\"46.50\",\"currency\":\"EUR\",\"items\":1,"
		  "\"reason\":\"wrong colour\"}}" },
		{ "order.cancelled", "sales",
		  VBT_HEAD("shop-5002-cancelled", "sales", "order.cancelled", "C-3003", "2026-11-19T09:00:00Z")
		  "\"data\":{\"order\":\"O-5002\",\"reason\":\"out of stock\"}}" },
		{ "invoice.issued", "finance",
		  VBT_HEAD("erp-9001-issued", "finance", "invoice.issued", "C-4004", "2026-11-20T00:00:00Z")
		  "\"data\":{\"invoice\":\"INV-9001\",\"amount\":\"139.50\",\"currency\":\"EUR\","
		  "\"due\":\"2026-12-20T00:00:00Z\"}}" },
		{ "invoice.overdue", "finance",
		  VBT_HEAD("erp-9001-overdue", "finance", "invoice.overdue", "C-4004", "2026-12-21T00:00:00Z")
		  "\"data\":{\"invoice\":\"INV-9001\",\"amount\":\"139.50\",\"currency\":\"EUR\","
		  "\"due\":\"2026-12-20T00:00:00Z\"}}" },
		{ "invoice.paid", "finance",
		  VBT_HEAD("erp-9001-paid", "finance", "invoice.paid", "C-4004", "2026-12-22T13:45:00Z")
		  "\"data\":{\"invoice\":\"INV-9001\",\"amount\":\"139.50\",\"currency\":\"EUR\"}}" },
		{ "consent.granted", "customer",
		  VBT_HEAD("pref-1-granted", "customer", "consent.granted", "C-5005", "2026-11-01T12:00:00Z")
		  "\"data\":{\"channel\":\"email\",\"purpose\":\"promotion\"}}" },
		{ "consent.withdrawn", "customer",
		  VBT_HEAD("pref-2-withdrawn", "customer", "consent.withdrawn", "C-5005", "2026-11-02T12:00:00Z")
		  "\"data\":{\"channel\":\"sms\",\"purpose\":\"upsell\"}}" },
		{ "message.sent", "marketing",
		  VBT_HEAD("mkt-w26-C5005", "marketing", "message.sent", "C-5005", "2026-11-03T07:30:00Z")
		  "\"data\":{\"channel\":\"email\",\"purpose\":\"upsell\",\"campaign\":\"winter-2026\"}}" },
	};
	*n = sizeof(s) / sizeof(s[0]);
	return s;
}

#define VBT_NSAMPLES 17

/* ---- gate events and random histories (tests of the contact gate) ---- */

/* A marker put in every free-text field of the complaints of the gate
 * tests: it must never come out of a decision, a reason, a state or a
 * suppression.changed event. */
#define VBT_SECRET "XYZZY-complaint-text"

/* The source allowed to publish type. */
static inline const char *
vbt_source_of(const char *type)
{
	static const char *const map[][2] = { { "complaint.", "service" },
		{ "visit.", "field" }, { "order.", "sales" }, { "invoice.", "finance" },
		{ "consent.", "customer" }, { "message.", "marketing" } };
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strncmp(type, map[i][0], strlen(map[i][0])) == 0)
			return map[i][1];
	return "service";
}

/* The JSON of an event of type; data is its payload as a JSON object. */
static inline void
vbt_gate_json(char *out, size_t len, const char *id, const char *type,
    const char *customer, const char *time, const char *data)
{
	int n = snprintf(out, len, "{\"id\":\"%s\",\"source\":\"%s\",\"type\":\"%s\","
	    "\"customer\":\"%s\",\"time\":\"%s\",\"data\":%s}", id,
	    vbt_source_of(type), type, customer, time, data);
	ck_assert_msg(n > 0 && (size_t)n < len, "event JSON too long");
}

/* secs since the epoch as "YYYY-MM-DDTHH:MM:SSZ" (buf: at least 32). */
static inline void
vbt_time_str(int64_t secs, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)secs;
	ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
	ck_assert_uint_gt(strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm), 0);
}

/* One event of a random history. */
typedef struct vbt_hev {
	char id[24];
	char customer[16];
	int64_t us;      /* its time */
	char json[640];
} vbt_hev;

/* 2026-10-01T00:00:00Z */
#define VBT_HIST_BASE 1790812800LL

/* n random events over ncust customers (C-000, C-001, ...) with times in
 * [base_s, base_s + span_s), on a half-hour grid and with about one event
 * in ten at exactly the time of the customer's previous one, so that ties
 * occur.  Every type the gate reads, and some it does not; a few cases,
 * visits and invoices per customer so that they repeat; consents with and
 * without a purpose; messages of every purpose, service included.
 * Complaint free text holds VBT_SECRET.  Caller frees. */
static inline vbt_hev *
vbt_history(vbt_rng *r, size_t n, int ncust, int64_t base_s, int64_t span_s)
{
	static const struct {
		const char *type;
		int weight;
	} types[] = {
		{ "complaint.opened", 8 }, { "complaint.resolved", 8 },
		{ "complaint.reopened", 3 }, { "complaint.updated", 2 },
		{ "visit.missed", 4 }, { "visit.completed", 4 }, { "visit.scheduled", 1 },
		{ "invoice.overdue", 4 }, { "invoice.paid", 3 }, { "invoice.issued", 1 },
		{ "consent.granted", 5 }, { "consent.withdrawn", 5 },
		{ "message.sent", 30 }, { "order.placed", 3 },
	};
	static const char *const channels[] = { "email", "sms", "phone", "post", "push" };
	static const char *const purposes[] = { "", "service", "upsell", "cross-sell",
		"promotion", "survey" };
	vbt_hev *h = calloc(n, sizeof(*h));
	int64_t *last = calloc((size_t)ncust, sizeof(*last));
	int total = 0;

	ck_assert(h != NULL && last != NULL);
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		total += types[t].weight;
	for (size_t i = 0; i < n; i++) {
		vbt_hev *e = &h[i];
		int c = (int)vbt_rand_range(r, 0, ncust - 1), w = (int)vbt_rand_range(r, 0, total - 1);
		size_t t = 0;
		int64_t secs;
		char data[400], ts[32];
		const char *type;

		while (w >= types[t].weight)
			w -= types[t++].weight;
		type = types[t].type;
		snprintf(e->id, sizeof(e->id), "h-%05zu", i);
		snprintf(e->customer, sizeof(e->customer), "C-%03d", c);
		if (last[c] != 0 && vbt_rand_range(r, 0, 9) == 0)
			secs = last[c];
		else
			secs = base_s + vbt_rand_range(r, 0, span_s / 1800 - 1) * 1800;
		last[c] = secs;
		e->us = secs * 1000000;
		vbt_time_str(secs, ts, sizeof(ts));
		long k = (long)vbt_rand_range(r, 0, 2);
		if (strncmp(type, "complaint.", 10) == 0)
			snprintf(data, sizeof(data), "{\"case\":\"T-%d-%ld\",%s\"%s\":\"" VBT_SECRET
			    " text\"}", c, k, strcmp(type, "complaint.opened") == 0 ?
			    "\"category\":\"" VBT_SECRET " category\"," : "",
			    strcmp(type, "complaint.reopened") == 0 ? "reason" : "summary");
		else if (strncmp(type, "visit.", 6) == 0)
			snprintf(data, sizeof(data), "{\"visit\":\"V-%d-%ld\"}", c, k);
		else if (strncmp(type, "invoice.", 8) == 0)
			snprintf(data, sizeof(data), "{\"invoice\":\"I-%d-%ld\"}", c, k % 2);
		else if (strncmp(type, "consent.", 8) == 0) {
			const char *p = purposes[vbt_rand_range(r, 0, 5)];
			snprintf(data, sizeof(data), "{\"channel\":\"%s\"%s%s%s}",
			    channels[vbt_rand_range(r, 0, 4)], p[0] ? ",\"purpose\":\"" : "", p,
			    p[0] ? "\"" : "");
		} else if (strncmp(type, "message.", 8) == 0)
			snprintf(data, sizeof(data), "{\"channel\":\"%s\",\"purpose\":\"%s\","
			    "\"campaign\":\"camp-%ld\"}", channels[vbt_rand_range(r, 0, 4)],
			    purposes[vbt_rand_range(r, 1, 5)], k);
		else
			snprintf(data, sizeof(data), "{\"order\":\"O-%d-%ld\"}", c, k);
		vbt_gate_json(e->json, sizeof(e->json), e->id, type, e->customer, ts, data);
	}
	free(last);
	return h;
}

/* A random permutation of 0 .. n-1 into idx. */
static inline void
vbt_shuffle(vbt_rng *r, size_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)vbt_rand_range(r, 0, (int64_t)i - 1), t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

#ifdef VB_EVENT_H
/* Parse json (a test input that must be good) into a new event. */
static inline vb_event *
vbt_event(const char *json)
{
	char err[VB_ERRMSG_MAX];
	vb_event *ev = NULL;
	int rv = vb_event_from_json(json, strlen(json), &ev, err, sizeof(err));
	ck_assert_msg(rv == 0, "vb_event_from_json(%s) = %d: %s", json, rv, err);
	ck_assert_ptr_nonnull(ev);
	return ev;
}
#endif

#endif
