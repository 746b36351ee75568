/* Integration: the real voicebusd as a process, driven over its sockets. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vb_error.h"
#include "vb_harness.h"

/* Every stored event, by paging the query socket: seqs[i], ids[i]. */
typedef struct {
	uint64_t *seqs;
	char **ids;
	size_t n, cap;
} stored;

static void
stored_free(stored *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->ids[i]);
	free(s->seqs);
	free(s->ids);
	memset(s, 0, sizeof(*s));
}

static void
collect(vb_client *c, const char *customer, stored *out)
{
	vb_query_req q = { .kind = VB_QUERY_REPLAY };
	uint64_t next = 1;
	memset(out, 0, sizeof(*out));
	q.replay.customer = customer;
	for (;;) {
		vb_query_reply r;
		q.replay.from_seq = next;
		ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
		ck_assert_int_eq(r.code, 0);
		for (size_t i = 0; i < r.replay.n; i++) {
			vb_event_peek pk;
			ck_assert_int_eq(vb_event_peek_pb(r.replay.events[i].p,
			    r.replay.events[i].len, &pk), 0);
			if (out->n == out->cap) {
				out->cap = out->cap ? out->cap * 2 : 1024;
				out->seqs = realloc(out->seqs, out->cap * sizeof(*out->seqs));
				out->ids = realloc(out->ids, out->cap * sizeof(*out->ids));
			}
			out->seqs[out->n] = pk.seq;
			out->ids[out->n++] = strndup(pk.id, pk.id_len);
		}
		next = r.replay.next_seq;
		int done = r.replay.done;
		vb_query_reply_free(&r);
		if (done)
			break;
	}
}

/* ---- 4 concurrent publishers ---- */

typedef struct {
	const vb_h_broker *b;
	char prefix[16];
	size_t n, batch;
	size_t acked;
	uint64_t *seqs;
} pub_arg;

static void *
publisher(void *arg)
{
	pub_arg *a = arg;
	vb_client *c = vb_h_client(a->b);
	a->acked = vb_h_publish_range(c, a->prefix, 0, a->n, a->batch, a->seqs);
	vb_client_close(c);
	return NULL;
}

START_TEST(concurrent_publishers_replay_exactly)
{
	vb_h_broker b;
	pthread_t th[4];
	pub_arg args[4];
	/* Single events and batches of several sizes, all at once. */
	static const size_t batches[4] = { 1, 10, 100, 1000 };
	stored s;
	char path[400];

	vb_h_init(&b);
	vb_h_start(&b, NULL);
	for (int i = 0; i < 4; i++) {
		args[i] = (pub_arg){ .b = &b, .n = 2500, .batch = batches[i] };
		snprintf(args[i].prefix, sizeof(args[i].prefix), "p%d", i);
		args[i].seqs = calloc(2500, sizeof(uint64_t));
		pthread_create(&th[i], NULL, publisher, &args[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_uint_eq(args[i].acked, 2500);
	}
	vb_client *c = vb_h_client(&b);
	collect(c, NULL, &s);
	ck_assert_uint_eq(s.n, 10000);
	for (size_t i = 0; i < s.n; i++)
		ck_assert_uint_eq(s.seqs[i], i + 1);
	/* Each acknowledged seq holds the event it was acknowledged for. */
	for (int p = 0; p < 4; p++) {
		for (size_t i = 0; i < 2500; i++) {
			char id[32];
			uint64_t seq = args[p].seqs[i];
			snprintf(id, sizeof(id), "p%d-%zu", p, i);
			ck_assert_uint_ge(seq, 1);
			ck_assert_uint_le(seq, 10000);
			ck_assert_str_eq(s.ids[seq - 1], id);
		}
		free(args[p].seqs);
	}
	stored_free(&s);

	/* The CLI's replay prints the same 10,000 lines. */
	snprintf(path, sizeof(path), "%s/replay.out", b.dir);
	const char *args_replay[] = { "replay", "--query", b.query, NULL };
	ck_assert_int_eq(vb_h_cli(args_replay, NULL, path, NULL), 0);
	ck_assert_uint_eq(vb_h_count_lines(path), 10000);

	/* Republishing everything stores nothing and returns the first seqs. */
	uint64_t *again = calloc(2500, sizeof(uint64_t));
	ck_assert_uint_eq(vb_h_publish_range(c, "p2", 0, 2500, 500, again), 2500);
	ck_assert_uint_eq(vb_h_last_seq(c), 10000);
	free(again);
	vb_client_close(c);
	ck_assert_int_eq(vb_h_stop(&b), 0);
	vb_h_cleanup(&b);
}
END_TEST

START_TEST(duplicate_marked_and_first_seq_returned)
{
	vb_h_broker b;
	char json[512], err[256];
	vb_event *ev[2];
	vb_ingest_reply rep;

	vb_h_init(&b);
	vb_h_start(&b, NULL);
	vb_client *c = vb_h_client(&b);
	vb_h_order_json(json, sizeof(json), "dup-1", "C-1");
	ck_assert_int_eq(vb_event_from_json(json, strlen(json), &ev[0], err, sizeof(err)), 0);
	ck_assert_int_eq(vb_event_from_json(json, strlen(json), &ev[1], err, sizeof(err)), 0);
	/* The same id twice in one request: stored once. */
	ck_assert_int_eq(vb_client_publish(c, ev, 2, &rep), 0);
	ck_assert_uint_eq(rep.results[0].seq, 1);
	ck_assert_int_eq(rep.results[0].duplicate, 0);
	ck_assert_uint_eq(rep.results[1].seq, 1);
	ck_assert_int_eq(rep.results[1].duplicate, 1);
	vb_ingest_reply_free(&rep);
	ck_assert_int_eq(vb_client_publish(c, ev, 1, &rep), 0);
	ck_assert_uint_eq(rep.results[0].seq, 1);
	ck_assert_int_eq(rep.results[0].duplicate, 1);
	vb_ingest_reply_free(&rep);
	ck_assert_uint_eq(vb_h_last_seq(c), 1);
	vb_event_free(ev[0]);
	vb_event_free(ev[1]);
	vb_client_close(c);
	vb_h_stop(&b);
	vb_h_cleanup(&b);
}
END_TEST

START_TEST(data_survives_restart)
{
	vb_h_broker b;
	stored s1, s2;

	vb_h_init(&b);
	vb_h_start(&b, NULL);
	vb_client *c = vb_h_client(&b);
	ck_assert_uint_eq(vb_h_publish_range(c, "r", 0, 3000, 250, NULL), 3000);
	collect(c, NULL, &s1);
	vb_client_close(c);
	ck_assert_int_eq(vb_h_stop(&b), 0);

	vb_h_start(&b, NULL);
	c = vb_h_client(&b);
	collect(c, NULL, &s2);
	ck_assert_uint_eq(s2.n, 3000);
	for (size_t i = 0; i < s1.n; i++) {
		ck_assert_uint_eq(s1.seqs[i], s2.seqs[i]);
		ck_assert_str_eq(s1.ids[i], s2.ids[i]);
	}
	/* Sequence numbers continue after a restart. */
	ck_assert_uint_eq(vb_h_publish_range(c, "after", 0, 1, 1, NULL), 1);
	ck_assert_uint_eq(vb_h_last_seq(c), 3001);
	stored_free(&s1);
	stored_free(&s2);
	vb_client_close(c);
	vb_h_stop(&b);
	vb_h_cleanup(&b);
}
END_TEST

/* ---- kill -9 while publishing ---- */

typedef struct {
	const vb_h_broker *b;
	char prefix[16];
	size_t n;
	uint64_t *seqs;   /* 0: not acknowledged */
	size_t acked;
} kill_arg;

static void *
kill_publisher(void *arg)
{
	kill_arg *a = arg;
	vb_client_opts o = { a->b->ingest, a->b->query, 3000, NULL, NULL };
	vb_client *c;
	ck_assert_int_eq(vb_client_open(&o, &c), 0);
	a->acked = vb_h_publish_range(c, a->prefix, 0, a->n, 50, a->seqs);
	vb_client_close(c);
	return NULL;
}

START_TEST(acknowledged_events_survive_kill9)
{
	vb_h_broker b;
	pthread_t th[4];
	kill_arg args[4];
	stored s;
	unsigned seed = (unsigned)time(NULL);

	printf("kill9 seed %u\n", seed);
	srand(seed);
	vb_h_init(&b);
	vb_h_start(&b, NULL);
	for (int i = 0; i < 4; i++) {
		args[i] = (kill_arg){ .b = &b, .n = 200000 };
		snprintf(args[i].prefix, sizeof(args[i].prefix), "k%d", i);
		args[i].seqs = calloc(args[i].n, sizeof(uint64_t));
		pthread_create(&th[i], NULL, kill_publisher, &args[i]);
	}
	/* Kill once a few thousand are in, at a random moment. */
	vb_client *c = vb_h_client(&b);
	while (vb_h_last_seq(c) < 2000 + (uint64_t)(rand() % 3000))
		usleep(1000);
	vb_client_close(c);
	vb_h_kill(&b);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);

	vb_h_start(&b, NULL);
	c = vb_h_client(&b);
	collect(c, NULL, &s);
	for (size_t i = 0; i < s.n; i++)
		ck_assert_uint_eq(s.seqs[i], i + 1); /* no gap */
	size_t acked = 0;
	for (int p = 0; p < 4; p++) {
		for (size_t i = 0; i < args[p].n; i++) {
			char id[32];
			uint64_t seq = args[p].seqs[i];
			if (seq == 0)
				continue;
			acked++;
			snprintf(id, sizeof(id), "k%d-%zu", p, i);
			ck_assert_msg(seq <= s.n, "acked seq %llu lost (log ends at %zu)",
			    (unsigned long long)seq, s.n);
			ck_assert_str_eq(s.ids[seq - 1], id);
		}
		free(args[p].seqs);
	}
	ck_assert_uint_ge(acked, 2000);
	/* Ids are unique in the log: nothing stored twice. */
	for (size_t i = 1; i < s.n; i++)
		ck_assert_uint_eq(s.seqs[i], s.seqs[i - 1] + 1);
	stored_free(&s);
	vb_client_close(c);
	vb_h_stop(&b);
	vb_h_cleanup(&b);
}
END_TEST

START_TEST(sigterm_drains_and_exits_0)
{
	vb_h_broker b;
	struct stat sb;
	vb_h_init(&b);
	vb_h_start(&b, NULL);
	/* ipc:// sockets: owner and group only. */
	const char *socks[] = { b.ingest, b.pub, b.query };
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(stat(socks[i] + strlen("ipc://"), &sb), 0);
		ck_assert_uint_eq(sb.st_mode & 0777, 0660);
	}
	ck_assert_int_eq(vb_h_stop(&b), 0);
	char *log = vb_h_slurp(b.log, NULL);
	ck_assert_ptr_nonnull(strstr(log, "draining"));
	ck_assert_ptr_nonnull(strstr(log, "stopped"));
	free(log);
	vb_h_cleanup(&b);
}
END_TEST

START_TEST(second_broker_on_same_data_refused)
{
	vb_h_broker b, b2;
	vb_h_init(&b);
	vb_h_start(&b, NULL);
	b2 = b;
	snprintf(b2.ingest, sizeof(b2.ingest), "ipc://%s/i2.sock", b.dir);
	snprintf(b2.pub, sizeof(b2.pub), "ipc://%s/p2.sock", b.dir);
	snprintf(b2.query, sizeof(b2.query), "ipc://%s/q2.sock", b.dir);
	pid_t pid = fork();
	if (pid == 0) {
		execl(VB_BIN_DIR "/voicebusd", "voicebusd", "--data", b2.data, "--ingest",
		    b2.ingest, "--pub", b2.pub, "--query", b2.query, (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	vb_h_stop(&b);
	vb_h_cleanup(&b);
}
END_TEST

START_TEST(garbage_request_gets_clear_error)
{
	vb_h_broker b;
	vb_ingest_reply rep;
	vb_h_init(&b);
	vb_h_start(&b, NULL);
	vb_client *c = vb_h_client(&b);
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	ck_assert_int_eq(vb_client_publish_raw(c, junk, sizeof(junk), &rep), 0);
	ck_assert_int_ne(rep.code, 0);
	ck_assert_ptr_nonnull(strstr(rep.error, "IngestRequest"));
	vb_ingest_reply_free(&rep);
	/* Over max_batch: refused whole, nothing stored. */
	vb_client_close(c);
	vb_h_stop(&b);
	const char *extra[] = { "--set", "max_batch=10", NULL };
	vb_h_start(&b, extra);
	c = vb_h_client(&b);
	vb_event *evs[11];
	char json[512], err[256], id[16];
	for (int i = 0; i < 11; i++) {
		snprintf(id, sizeof(id), "mb-%d", i);
		vb_h_order_json(json, sizeof(json), id, "C-1");
		ck_assert_int_eq(vb_event_from_json(json, strlen(json), &evs[i], err, sizeof(err)), 0);
	}
	ck_assert_int_eq(vb_client_publish(c, evs, 11, &rep), 0);
	ck_assert_int_eq(rep.code, VB_ETOOBIG);
	ck_assert_ptr_nonnull(strstr(rep.error, "at most 10"));
	vb_ingest_reply_free(&rep);
	ck_assert_uint_eq(vb_h_last_seq(c), 0);
	for (int i = 0; i < 11; i++)
		vb_event_free(evs[i]);
	vb_client_close(c);
	vb_h_stop(&b);
	vb_h_cleanup(&b);
}
END_TEST

/* Replay pages are written straight into the reply message, sized for
 * the limit and grown when an event is larger than guessed: whatever the
 * page size, the events come back byte for byte, in order, once. */
START_TEST(replay_pages_of_any_size_same_bytes)
{
	vb_h_broker b;
	vb_ingest_reply rep;
	vb_event *evs[12];
	static char json[40000];
	char err[256];
	vb_h_init(&b);
	vb_h_start(&b, NULL);
	vb_client *c = vb_h_client(&b);
	for (int i = 0; i < 12; i++) {
		/* From a few dozen bytes to about 30 KiB. */
		int n = snprintf(json, sizeof(json), "{\"id\":\"big-%d\",\"source\":\"sales\",\"type\":\"order.placed\","
		    "\"customer\":\"C-%d\",\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"order\":\"O-%d\"},"
		    "\"attributes\":{\"pad\":\"", i, i % 3, i);
		for (int k = 0; k < (i * 2731) % 30000; k++)
			json[n++] = (char)('a' + k % 26);
		snprintf(json + n, sizeof(json) - (size_t)n, "\"}}");
		ck_assert_int_eq(vb_event_from_json(json, strlen(json), &evs[i], err, sizeof(err)), 0);
	}
	ck_assert_int_eq(vb_client_publish(c, evs, 12, &rep), 0);
	ck_assert_int_eq(rep.code, 0);
	for (size_t i = 0; i < rep.n; i++)
		ck_assert_msg(rep.results[i].seq != 0, "event %zu: %s", i, rep.results[i].error);
	vb_ingest_reply_free(&rep);
	for (int i = 0; i < 12; i++)
		vb_event_free(evs[i]);

	vb_query_req q = { .kind = VB_QUERY_REPLAY };
	vb_query_reply all;
	ck_assert_int_eq(vb_client_query(c, &q, &all), 0);
	ck_assert_int_eq(all.code, 0);
	ck_assert_uint_eq(all.replay.n, 12);
	ck_assert_int_eq(all.replay.done, 1);
	const uint32_t limits[] = { 1, 2, 5, 11 };
	for (size_t l = 0; l < 4; l++) {
		size_t got = 0;
		q.replay.limit = limits[l];
		q.replay.from_seq = 1;
		for (;;) {
			vb_query_reply r;
			ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
			ck_assert_int_eq(r.code, 0);
			ck_assert_uint_le(r.replay.n, limits[l]);
			for (size_t i = 0; i < r.replay.n; i++, got++) {
				ck_assert_uint_lt(got, all.replay.n);
				ck_assert_uint_eq(r.replay.events[i].len, all.replay.events[got].len);
				ck_assert_mem_eq(r.replay.events[i].p, all.replay.events[got].p,
				    r.replay.events[i].len);
			}
			q.replay.from_seq = r.replay.next_seq;
			int done = r.replay.done;
			vb_query_reply_free(&r);
			if (done)
				break;
		}
		ck_assert_uint_eq(got, all.replay.n);
	}
	vb_query_reply_free(&all);
	vb_client_close(c);
	vb_h_stop(&b);
	vb_h_cleanup(&b);
}
END_TEST

static Suite *
broker_suite(void)
{
	Suite *s = suite_create("broker");
	TCase *tc = tcase_create("process");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, concurrent_publishers_replay_exactly);
	tcase_add_test(tc, duplicate_marked_and_first_seq_returned);
	tcase_add_test(tc, data_survives_restart);
	tcase_add_test(tc, acknowledged_events_survive_kill9);
	tcase_add_test(tc, sigterm_drains_and_exits_0);
	tcase_add_test(tc, second_broker_on_same_data_refused);
	tcase_add_test(tc, garbage_request_gets_clear_error);
	tcase_add_test(tc, replay_pages_of_any_size_same_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(broker_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
