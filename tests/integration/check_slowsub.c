/* Integration: a slow or stopped subscriber never slows ingest.
 *
 * The hardening issue's scenario: publish at full rate from a few threads,
 * SIGSTOP a `voicebus tail` for VB_SLOWSUB_SECONDS (default 60), and see
 * that the ingest rate holds, that the broker's memory does not grow with
 * what the stopped subscriber misses (PUB queues at most pub_queue messages
 * per subscriber and drops the oldest), and that the resumed tail prints
 * every acknowledged event exactly once, in order, filling a gap of
 * millions of events from the log.
 *
 * Speed belongs to bench/; the only timed assertion here is loose enough to
 * hold on a loaded machine and still catch the real failure: ingest that
 * waits for a subscriber stalls within a second of the stop, a ratio near
 * 0, not near 1.  The test runs alone (RUN_SERIAL) so that another test does
 * not load the machine in one phase and not in the other. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
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

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define PUBLISHERS 4
#define BATCH 100
/* Ingest settles (first commits, LMDB map growth) before it is measured. */
#define SETTLE_MS 2000
#define MEASURE_MS 8000
/* Loose on purpose: see the top of the file. */
#define MIN_RATIO 0.5
/* What the broker's heap may grow by while the subscriber is stopped:
 * pub_queue (8192) messages of ~0.4 KiB is ~3 MiB; a queue without bound
 * holds every event of the stop, ~0.3 KiB each, over 30 MiB after a few
 * seconds at full rate and hundreds of MiB after 60 s. */
#define RSS_GROWTH_MAX_KIB (32 * 1024)
/* The tail's peak: its SUB queue and one replay page (~7 MiB), not the
 * gap. */
#define TAIL_HWM_MAX_KIB (64 * 1024)
#define CATCHUP_DEADLINE_MS 240000

static vb_h_broker b;
static _Atomic int stop_publishing;
static _Atomic uint64_t acked_total;

typedef struct {
	int id;
	uint64_t *seqs; /* seqs[i]: the seq acknowledged for "p<id>-<i>" */
	size_t n, cap;
} publisher;

/* One request of BATCH events "p<id>-<n>" ... and their seqs into
 * p->seqs.  Plain tests before ck_abort: a ck_assert per event (as
 * vb_h_publish_range makes) writes to check's pipe each time, and would
 * make the test's own publishers the bottleneck. */
static void
publish_batch(publisher *p, vb_client *c)
{
	vb_event *evs[BATCH];
	vb_ingest_reply rep;
	char json[512], id[48], cust[16], err[256];

	for (size_t i = 0; i < BATCH; i++) {
		snprintf(id, sizeof(id), "p%d-%zu", p->id, p->n + i);
		snprintf(cust, sizeof(cust), "C-%zu", (p->n + i) % 97);
		vb_h_order_json(json, sizeof(json), id, cust);
		if (vb_event_from_json(json, strlen(json), &evs[i], err,
		        sizeof(err)) != 0)
			ck_abort_msg("%s: %s", json, err);
	}
	int rv = vb_client_publish(c, evs, BATCH, &rep);
	for (size_t i = 0; i < BATCH; i++)
		vb_event_free(evs[i]);
	if (rv != 0)
		ck_abort_msg("publish: %s", vb_strerror(rv));
	if (rep.code != 0 || rep.n != BATCH)
		ck_abort_msg("publish refused: %s (%zu results)", rep.error,
		    rep.n);
	for (size_t i = 0; i < BATCH; i++) {
		const char *e = rep.results[i].error;
		if ((e && *e) || rep.results[i].duplicate)
			ck_abort_msg("p%d-%zu: %s", p->id, p->n + i,
			    e && *e ? e : "duplicate");
		p->seqs[p->n + i] = rep.results[i].seq;
	}
	vb_ingest_reply_free(&rep);
	p->n += BATCH;
}

static void *
publisher_main(void *arg)
{
	publisher *p = arg;
	vb_client *c = vb_h_client(&b);

	while (!stop_publishing) {
		if (p->n + BATCH > p->cap) {
			p->cap = p->cap ? p->cap * 2 : 65536;
			if ((p->seqs = realloc(p->seqs,
			         p->cap * sizeof(*p->seqs))) == NULL)
				ck_abort_msg("out of memory");
		}
		publish_batch(p, c);
		acked_total += BATCH;
	}
	vb_client_close(c);
	return NULL;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
		(long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A "Name:   123 kB" line of /proc/<pid>/status, in KiB; -1 if absent. */
/* How long the tail stays stopped; -1 if VB_SLOWSUB_SECONDS is not a
 * number of seconds. */
static int
stop_seconds(void)
{
	const char *s = getenv("VB_SLOWSUB_SECONDS");
	if (s && *s) {
		char *end;
		long v = strtol(s, &end, 10);
		return *end || v <= 0 || v > 86400 ? -1 : (int)v;
	}
	/* Everything runs several times slower under ASan; 20 s still
	 * overflows every queue between broker and tail many times. */
	return UNDER_ASAN ? 20 : 60;
}

static uint64_t
broker_last_seq(void)
{
	vb_client *c = vb_h_client(&b);
	vb_query_req q = { .kind = VB_QUERY_STATS };
	vb_query_reply r;
	ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
	ck_assert_int_eq(r.code, 0);
	uint64_t s = r.stats.last_seq;
	vb_query_reply_free(&r);
	vb_client_close(c);
	return s;
}

/* Reads the tail's output as it grows and checks each whole line: seqs
 * 1, 2, 3, ... with no gap and no repeat, and each acknowledged seq holding
 * the id it was acknowledged for.  The output is gigabytes: never all in
 * memory.  The first failure is kept in why, to be asserted once the tail
 * and the broker are stopped and the gigabytes removed. */
typedef struct {
	int fd;
	char *buf;
	size_t len, cap;
	uint64_t next;         /* the seq the next line must have */
	const uint64_t *owner; /* by seq: (publisher + 1) << 32 | index, or 0 */
	uint64_t nowner;
	uint64_t acked_seen;
	char why[256]; /* "" while all is well */
} follower;

/* Called for every line of the output, so no ck_assert here: each records
 * a checkpoint (a write to check's pipe), which at millions of lines would
 * be most of the test's time.  -1 and f->why on a wrong line. */
static int
check_line(follower *f, const char *p, size_t len)
{
	int show = len < 100 ? (int)len : 100;
	char *end;
	unsigned long long seq;
	if (len <= 7 || strncmp(p, "{\"seq\":", 7) != 0) {
		snprintf(f->why, sizeof(f->why), "line %llu: %.*s",
		    (unsigned long long)f->next, show, p);
		return -1;
	}
	seq = strtoull(p + 7, &end, 10);
	if (seq != f->next) {
		snprintf(f->why, sizeof(f->why),
		    "expected seq %llu, the tail printed %llu%s",
		    (unsigned long long)f->next, seq,
		    seq < f->next ? " (a duplicate)" : " (a gap)");
		return -1;
	}
	if (seq < f->nowner && f->owner[seq]) {
		char want[48];
		int n = snprintf(want, sizeof(want), ",\"id\":\"p%d-%llu\",",
		    (int)(f->owner[seq] >> 32) - 1,
		    (unsigned long long)(f->owner[seq] & 0xffffffffu));
		if ((size_t)(end - p) + (size_t)n > len ||
		    memcmp(end, want, (size_t)n) != 0) {
			snprintf(f->why, sizeof(f->why),
			    "seq %llu: expected %s in %.*s", seq, want, show,
			    p);
			return -1;
		}
		f->acked_seen++;
	}
	f->next++;
	return 0;
}

/* Check every whole line written so far.  -1 on the first wrong one. */
static int
follow(follower *f)
{
	for (;;) {
		if (f->cap - f->len < 65536) {
			f->cap = f->cap ? f->cap * 2 : 1 << 20;
			f->buf = realloc(f->buf, f->cap);
			ck_assert_ptr_nonnull(f->buf);
		}
		ssize_t n = read(f->fd, f->buf + f->len, f->cap - f->len);
		ck_assert_int_ge(n, 0);
		if (n == 0)
			return 0;
		f->len += (size_t)n;
		size_t off = 0;
		for (;;) {
			char *nl = memchr(f->buf + off, '\n', f->len - off);
			if (nl == NULL)
				break;
			if (check_line(f, f->buf + off,
			        (size_t)(nl - (f->buf + off))) != 0)
				return -1;
			off = (size_t)(nl - f->buf) + 1;
		}
		memmove(f->buf, f->buf + off, f->len - off);
		f->len -= off;
	}
}

START_TEST(stopped_tail_never_slows_ingest)
{
	publisher pubs[PUBLISHERS];
	pthread_t th[PUBLISHERS];
	char out[400], err[400];
	const int stop_s = stop_seconds();

	vb_h_init(&b);
	vb_h_start(&b, NULL);
	snprintf(out, sizeof(out), "%s/tail.out", b.dir);
	snprintf(err, sizeof(err), "%s/tail.err", b.dir);
	/* From seq 1, so that nothing published before it subscribes is
	 * missed whatever the start-up order. */
	const char *targs[] = { "tail", "--from", "1", "--pub", b.pub,
		"--query", b.query, NULL };
	pid_t tail = vb_h_cli_bg(targs, out, err);

	stop_publishing = 0;
	acked_total = 0;
	for (int i = 0; i < PUBLISHERS; i++) {
		pubs[i] = (publisher){ .id = i };
		int rv = pthread_create(&th[i], NULL, publisher_main, &pubs[i]);
		ck_assert_int_eq(rv, 0);
	}

	/* Stop it only once it follows: it has printed something. */
	int64_t deadline = vb_h_now_ms() + 30000;
	while (vb_h_count_lines(out) == 0) {
		ck_assert_msg(vb_h_now_ms() < deadline,
		    "tail printed nothing in 30 s");
		sleep_ms(50);
	}
	sleep_ms(SETTLE_MS);
	int64_t t0 = vb_h_now_ms();
	uint64_t n0 = acked_total;
	sleep_ms(MEASURE_MS);
	int64_t t1 = vb_h_now_ms();
	uint64_t n1 = acked_total;
	long rss0 = vb_h_proc_kib(b.pid, "VmRSS"),
	     anon0 = vb_h_proc_kib(b.pid, "RssAnon");
	long rss_peak = rss0, anon_peak = anon0;

	ck_assert_int_eq(kill(tail, SIGSTOP), 0);
	/* One second at a time, for the broker's memory while stopped. */
	int64_t t_end = t1 + (int64_t)stop_s * 1000;
	for (int64_t now = vb_h_now_ms(); now < t_end; now = vb_h_now_ms()) {
		sleep_ms(t_end - now < 1000 ? t_end - now : 1000);
		long r = vb_h_proc_kib(b.pid, "VmRSS"),
		     a = vb_h_proc_kib(b.pid, "RssAnon");
		rss_peak = r > rss_peak ? r : rss_peak;
		anon_peak = a > anon_peak ? a : anon_peak;
	}
	int64_t t2 = vb_h_now_ms();
	uint64_t n2 = acked_total;
	ck_assert_int_eq(kill(tail, SIGCONT), 0);

	stop_publishing = 1;
	uint64_t acked = 0;
	for (int i = 0; i < PUBLISHERS; i++) {
		pthread_join(th[i], NULL);
		acked += pubs[i].n;
	}
	uint64_t last = broker_last_seq();
	ck_assert_uint_ge(last, acked);

	/* Who each acknowledged seq belongs to, to check the printed ids. */
	uint64_t *owner = calloc(last + 1, sizeof(*owner));
	ck_assert_ptr_nonnull(owner);
	for (int i = 0; i < PUBLISHERS; i++) {
		for (size_t k = 0; k < pubs[i].n; k++) {
			uint64_t s = pubs[i].seqs[k];
			if (s < 1 || s > last)
				ck_abort_msg("acked seq %llu outside 1..%llu",
				    (unsigned long long)s,
				    (unsigned long long)last);
			if (owner[s] != 0)
				ck_abort_msg("seq %llu acknowledged twice",
				    (unsigned long long)s);
			owner[s] = ((uint64_t)(i + 1) << 32) | k;
		}
		free(pubs[i].seqs);
	}

	follower f = { .next = 1, .owner = owner, .nowner = last + 1 };
	f.fd = open(out, O_RDONLY);
	ck_assert_int_ge(f.fd, 0);
	deadline = t2 + CATCHUP_DEADLINE_MS;
	while (follow(&f) == 0 && f.next <= last) {
		if (vb_h_now_ms() >= deadline) {
			snprintf(f.why, sizeof(f.why),
			    "the tail printed up to seq %llu"
			    " of %llu in %d s after SIGCONT",
			    (unsigned long long)f.next - 1,
			    (unsigned long long)last,
			    CATCHUP_DEADLINE_MS / 1000);
			break;
		}
		sleep_ms(20);
	}
	int64_t t3 = vb_h_now_ms();
	long tail_hwm = vb_h_proc_kib(tail, "VmHWM");

	int status;
	ck_assert_int_eq(kill(tail, SIGTERM), 0);
	ck_assert_int_eq(waitpid(tail, &status, 0), tail);
	/* Nothing after the last seq but whole, contiguous lines. */
	if (f.why[0] == '\0' && follow(&f) == 0 && f.len != 0)
		snprintf(f.why, sizeof(f.why),
		    "the output ends in a partial line");
	double before = (double)(n1 - n0) * 1000.0 / (double)(t1 - t0);
	double during = (double)(n2 - n1) * 1000.0 / (double)(t2 - t1);
	printf("slowsub: tail stopped %d s%s\n", stop_s,
	    UNDER_ASAN ? " (ASan)" : "");
	printf(
	    "slowsub: ingest before the stop %.0f events/s, during %.0f events/s,"
	    " ratio %.2f (at least %.2f)\n",
	    before, during, during / before, MIN_RATIO);
	printf(
	    "slowsub: %llu events acknowledged (%llu during the stop), log ends at"
	    " seq %llu\n",
	    (unsigned long long)acked, (unsigned long long)(n2 - n1),
	    (unsigned long long)last);
	printf(
	    "slowsub: tail caught up %.1f s after SIGCONT, peak RSS %ld KiB\n",
	    (double)(t3 - t2) / 1000.0, tail_hwm);
	printf(
	    "slowsub: broker VmRSS %ld -> peak %ld KiB, RssAnon %ld -> peak %ld KiB"
	    " (VmRSS counts the LMDB pages mapped, which grow with the log)\n",
	    rss0, rss_peak, anon0, anon_peak);
	char *tail_err = vb_h_slurp(err, NULL);
	if (tail_err && *tail_err)
		printf("slowsub: tail's stderr: %s\n", tail_err);
	free(tail_err);
	fflush(stdout);
	close(f.fd);
	free(f.buf);
	free(owner);
	int broker_status = vb_h_stop(&b);
	vb_h_cleanup(&b);

	/* Asserted only now, so that a failure leaves no stopped tail, no
	 * broker and no gigabytes in TMPDIR behind. */
	ck_assert_msg(f.why[0] == '\0', "%s", f.why);
	ck_assert_uint_eq(f.acked_seen, acked);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "tail exited with status %d", status);
	ck_assert_int_eq(broker_status, 0);
	ck_assert_msg(during >= MIN_RATIO * before,
	    "ingest fell from %.0f to %.0f events/s while the tail was stopped",
	    before, during);
	if (UNDER_ASAN) {
		printf(
		    "slowsub: memory bounds skipped under ASan (its shadow memory"
		    " and quarantine, not the broker, set the RSS)\n");
		return;
	}
	ck_assert_int_gt(anon0, 0);
	ck_assert_msg(anon_peak - anon0 <= RSS_GROWTH_MAX_KIB,
	    "the broker's heap grew by %ld KiB while the tail was stopped",
	    anon_peak - anon0);
	ck_assert_msg(tail_hwm > 0 && tail_hwm <= TAIL_HWM_MAX_KIB,
	    "the tail peaked at %ld KiB filling the gap", tail_hwm);
}
END_TEST

static Suite *
slowsub_suite(void)
{
	Suite *s = suite_create("slowsub");
	TCase *tc = tcase_create("process");
	/* The stop itself, plus warm-up, catch-up and a slow machine. */
	tcase_set_timeout(tc, (double)stop_seconds() + 540);
	tcase_add_test(tc, stopped_tail_never_slows_ingest);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (stop_seconds() < 0) {
		fprintf(stderr,
		    "VB_SLOWSUB_SECONDS=%s: expected seconds, 1 to 86400\n",
		    getenv("VB_SLOWSUB_SECONDS"));
		return EXIT_FAILURE;
	}
	SRunner *sr = srunner_create(slowsub_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
