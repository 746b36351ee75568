/* Unit tests of broker/vb_writer: group commit, and acknowledgements that
 * come only once a commit is durable (the meta page flushed by the next
 * commit or by a flush of its own, vb_store.h). */
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vb_buf.h"
#include "vb_error.h"
#include "vb_event.h"
#include "vb_log.h"
#include "vb_store.h"
#include "vb_store_impl.h"
#include "vb_writer.h"
#include "vb_test.h"
#include "vb_test_store.h"

#define MiB (1024ULL * 1024)

/* One single-event job and what keeps its bytes alive. */
typedef struct {
	vb_event *ev;
	vb_buf pb;
	vb_store_item item;
	vb_job job;
} one;

static void
one_make(one *o, const char *id, const char *customer)
{
	char json[512];
	snprintf(json, sizeof(json), "{\"id\":\"%s\",\"source\":\"sales\",\"type\":"
	    "\"order.placed\",\"customer\":\"%s\",\"time\":\"2026-11-20T09:12:00Z\","
	    "\"data\":{\"order\":\"O-1\",\"amount\":\"10.00\"}}", id, customer);
	memset(o, 0, sizeof(*o));
	o->ev = vbt_event(json);
	ck_assert_int_eq(vb_event_to_pb_canonical(o->ev, &o->pb), 0);
	o->item.pb = o->pb.data;
	o->item.pb_len = o->pb.len;
	o->item.id = vb_event_id(o->ev);
	o->item.customer = vb_event_customer(o->ev);
	o->item.type = vb_event_type(o->ev);
	o->item.source = vb_event_source(o->ev);
	o->job.items = &o->item;
	o->job.n = 1;
}

static void
one_free(one *o)
{
	vb_event_free(o->ev);
	vb_buf_free(&o->pb);
}

/* Submit a new event of id prefix<i> through w: the seq it was given. */
static uint64_t
submit_new(vb_writer *w, const char *prefix, int i, const char *customer)
{
	one o;
	char id[32];
	snprintf(id, sizeof(id), "%s%d", prefix, i);
	one_make(&o, id, customer);
	ck_assert_int_eq(vb_writer_submit(w, &o.job), 0);
	ck_assert(!o.item.duplicate);
	uint64_t seq = o.item.seq;
	one_free(&o);
	return seq;
}

/* A store in a new directory and a writer over it (no fan-out). */
static vb_store *
fresh_writer(int linger_us, vb_writer **w)
{
	char dir[1024];
	vb_store_opts opts = { .map_size = 16 * MiB, .map_size_max = 1024 * MiB };
	vb_store *st = NULL;
	vbt_mkdtemp(dir, sizeof(dir));
	ck_assert_int_eq(vb_store_open(dir, &opts, &st), 0);
	ck_assert_int_eq(vb_writer_start(st, NULL, 1000, 1000, linger_us, NULL, w), 0);
	return st;
}

/* ---- one publisher ---- */

static void
acks_one_at_a_time(int linger_us)
{
	vb_writer *w = NULL;
	vb_store *st = fresh_writer(linger_us, &w);
	for (int i = 0; i < 50; i++) {
		ck_assert_uint_eq(submit_new(w, "e-", i, "C-1"),
		    (uint64_t)i + 1);
		/* Nothing else comes to carry its meta page: the writer must
		 * have flushed it before answering. */
		ck_assert_uint_eq(vb_store_durable_seq(st), (uint64_t)i + 1);
	}
	vb_writer_stop(w);
	vb_store_close(st);
}

START_TEST(one_publisher_acked_durable)
{
	acks_one_at_a_time(0);
	acks_one_at_a_time(200);
}
END_TEST

/* ---- many publishers ---- */

#define PUBS 8
#define PER_PUB 150

typedef struct {
	vb_writer *w;
	vb_store *st;
	int pub;
	int premature;         /* answered before its event was durable */
	int failed;
	uint64_t seqs[PER_PUB];
} pub_arg;

static void *
pub_main(void *arg)
{
	pub_arg *a = arg;
	for (int i = 0; i < PER_PUB; i++) {
		one o;
		char id[32], cust[16];
		snprintf(id, sizeof(id), "p%d-%d", a->pub, i);
		snprintf(cust, sizeof(cust), "C-%d", i % 7);
		one_make(&o, id, cust);
		if (vb_writer_submit(a->w, &o.job) != 0 || o.item.duplicate)
			a->failed++;
		a->seqs[i] = o.item.seq;
		if (vb_store_durable_seq(a->st) < o.item.seq)
			a->premature++;
		one_free(&o);
	}
	return NULL;
}

static void
many_publishers(int linger_us)
{
	vb_writer *w = NULL;
	pthread_t th[PUBS];
	static pub_arg args[PUBS];
	static unsigned char seen[PUBS * PER_PUB + 1];

	vb_store *st = fresh_writer(linger_us, &w);
	for (int p = 0; p < PUBS; p++) {
		args[p] = (pub_arg){ .w = w, .st = st, .pub = p };
		ck_assert_int_eq(pthread_create(&th[p], NULL, pub_main, &args[p]), 0);
	}
	for (int p = 0; p < PUBS; p++)
		pthread_join(th[p], NULL);
	memset(seen, 0, sizeof(seen));
	for (int p = 0; p < PUBS; p++) {
		ck_assert_int_eq(args[p].failed, 0);
		ck_assert_msg(args[p].premature == 0, "publisher %d: %d answers before "
		    "their event was durable", p, args[p].premature);
		for (int i = 0; i < PER_PUB; i++) {
			uint64_t s = args[p].seqs[i];
			ck_assert(s >= 1 && s <= PUBS * PER_PUB);
			ck_assert_msg(!seen[s], "seq %llu given twice", (unsigned long long)s);
			seen[s] = 1;
			/* Each publisher's own events in the order it sent them. */
			if (i > 0)
				ck_assert_uint_gt(s, args[p].seqs[i - 1]);
		}
	}
	ck_assert_uint_eq(vb_store_last_seq(st), PUBS * PER_PUB);
	ck_assert_uint_eq(vb_store_durable_seq(st), PUBS * PER_PUB);
	vb_writer_stop(w);
	vb_store_close(st);
}

START_TEST(many_publishers_acked_durable)
{
	many_publishers(0);
	many_publishers(200);
}
END_TEST

/* A repeated id is answered with the first seq, and not before that seq
 * is durable: the first may still be waiting for its flush. */
START_TEST(duplicate_answered_once_durable)
{
	vb_writer *w = NULL;
	vb_store *st = fresh_writer(200, &w);
	for (int i = 0; i < 20; i++) {
		one a, b;
		char id[32];
		snprintf(id, sizeof(id), "dup-%d", i);
		one_make(&a, id, "C-1");
		one_make(&b, id, "C-1");
		ck_assert_int_eq(vb_writer_submit(w, &a.job), 0);
		ck_assert_int_eq(vb_writer_submit(w, &b.job), 0);
		ck_assert(!a.item.duplicate);
		ck_assert(b.item.duplicate);
		ck_assert_uint_eq(b.item.seq, a.item.seq);
		ck_assert_uint_ge(vb_store_durable_seq(st), b.item.seq);
		one_free(&a);
		one_free(&b);
	}
	vb_writer_stop(w);
	vb_store_close(st);
}
END_TEST

/* Stopping answers what is queued, durable. */
typedef struct {
	vb_writer *w;
	one o;
	int rv;
} late_arg;

static void *
late_main(void *arg)
{
	late_arg *a = arg;
	a->rv = vb_writer_submit(a->w, &a->o.job);
	return NULL;
}

START_TEST(stop_answers_queued)
{
	vb_writer *w = NULL;
	static late_arg args[4];
	pthread_t th[4];
	vb_store *st = fresh_writer(100000, &w);
	for (int i = 0; i < 4; i++) {
		char id[32];
		snprintf(id, sizeof(id), "late-%d", i);
		args[i].w = w;
		args[i].rv = -1;
		one_make(&args[i].o, id, "C-9");
		ck_assert_int_eq(pthread_create(&th[i], NULL, late_main, &args[i]), 0);
	}
	/* Wait until all four are in, then stop at once. */
	while (vb_store_last_seq(st) < 4)
		usleep(1000);
	vb_writer_stop(w);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].rv, 0);
		one_free(&args[i].o);
	}
	ck_assert_uint_eq(vb_store_durable_seq(st), 4);
	vb_store_close(st);
}
END_TEST

/* ---- folds ---- */

/* n events of ids prefix<i> appended to st directly, as if no writer had
 * folded meanwhile. */
static void
append_unfolded(vb_store *st, const char *prefix, size_t n)
{
	enum { CHUNK = 4096 };
	static one o[CHUNK];
	static vb_store_item items[CHUNK];
	vb_buf stored = { 0 };

	for (size_t done = 0; done < n;) {
		size_t k = n - done < CHUNK ? n - done : CHUNK;
		for (size_t i = 0; i < k; i++) {
			char id[32];
			snprintf(id, sizeof(id), "%s%zu", prefix, done + i);
			one_make(&o[i], id, "C-1");
			items[i] = o[i].item;
		}
		vb_buf_reset(&stored);
		ck_assert_int_eq(vb_store_append(st, items, k, "2026-11-20T09:12:01Z",
		    &stored, NULL), 0);
		for (size_t i = 0; i < k; i++)
			one_free(&o[i]);
		done += k;
	}
	vb_buf_free(&stored);
}

/* A fold that fails is tried again FOLD_RETRY_US (10 s) later, however
 * many entries wait: not after every group, logging each time; and the
 * writer goes on meanwhile, the fold being the folder's.  The fold fails
 * here because the ids tree holds a pending id under another seq
 * (vb_store_ids.c); a map at map_size_max, with room for small commits
 * and not for a fold's, fails the same way every time. */
START_TEST(failed_fold_backs_off)
{
	char dir[1024];
	vbt_capture cap;
	vb_log log;
	vb_writer *w = NULL;
	vb_store *st = NULL;
	MDB_txn *txn;
	size_t other = 2; /* fold-0 is seq 1 */
	MDB_val k = { 6, "fold-0" }, v = { sizeof(other), &other };

	vb_log_init(&log, vbt_capture_open(&cap), "test", VB_LOG_INFO);
	vb_store_opts opts = { .map_size = 16 * MiB, .map_size_max = 1024 * MiB,
		.log = &log };
	vbt_mkdtemp(dir, sizeof(dir));
	ck_assert_int_eq(vb_store_open(dir, &opts, &st), 0);
	/* More than FOLD_EVENTS (65,536) waiting: a fold is due at once. */
	append_unfolded(st, "fold-", 70000);
	ck_assert_int_eq(mdb_txn_begin(st->xenv, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_put(txn, st->ix[IX_IDS].dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);

	ck_assert_int_eq(vb_writer_start(st, NULL, 1000, 1000, 0, &log, &w), 0);
	for (int i = 0; i < 20; i++)
		ck_assert_uint_eq(submit_new(w, "after-", i, "C-2"),
		    70000 + 1 + i);
	vb_writer_stop(w);
	vb_store_fold_wait(st);
	/* The 20 groups took far less than 10 s: one attempt, at the first. */
	ck_assert_uint_gt(vb_store_pending(st), 70000);
	ck_assert_uint_eq(vbt_capture_count(&cap, " S010 "), 1);
	vb_store_close(st);
	vbt_capture_close(&cap);
}
END_TEST

typedef struct {
	vb_writer *w;
	_Atomic uint64_t answered; /* events */
	_Atomic int stop;
	int failed;
} feeder;

/* Jobs of 1,000 new events, one after the other, until told to stop. */
static void *
feed_main(void *arg)
{
	enum { JOB = 1000 };
	static one o[JOB];
	static vb_store_item items[JOB];
	feeder *f = arg;
	for (int k = 0; !atomic_load(&f->stop); k++) {
		vb_job job = { .items = items, .n = JOB };
		for (int i = 0; i < JOB; i++) {
			char id[32];
			snprintf(id, sizeof(id), "h%d-%d", k, i);
			one_make(&o[i], id, "C-1");
			items[i] = o[i].item;
		}
		if (vb_writer_submit(f->w, &job) != 0)
			f->failed++;
		else
			atomic_fetch_add(&f->answered, JOB);
		for (int i = 0; i < JOB; i++)
			one_free(&o[i]);
	}
	return NULL;
}

/* A committed group is answered once durable even while the writer waits
 * (here for folds that fell behind, its backpressure): its flush and
 * answers do not wait for the writer's next commit. */
START_TEST(answered_while_writer_waits)
{
	vb_writer *w = NULL;
	vb_store *st = fresh_writer(0, &w);
	feeder f = { .w = w };
	pthread_t th;
	uint64_t seen = 0;
	int64_t still_since = 0;

	vb_store_fold_wait(st); /* the folder's scan: no wait before it */
	folder_busy(st, 1);
	ck_assert_int_eq(pthread_create(&th, NULL, feed_main, &f), 0);
	/* Until nothing is answered for a second: the writer waits. */
	for (int64_t t = 0; t < 120 * 1000; t += 50) {
		uint64_t now = atomic_load(&f.answered);
		if (now != seen || seen == 0) {
			seen = now;
			still_since = t;
		} else if (t - still_since >= 1000) {
			break;
		}
		usleep(50 * 1000);
	}
	pthread_mutex_lock(&st->pmtx);
	size_t waiting = vb_pending_count(st->ix[IX_IDS].add);
	pthread_mutex_unlock(&st->pmtx);
	ck_assert_msg(waiting >= 2 * 24576, "the writer stopped with %zu ids waiting, "
	    "not for the folds", waiting);
	ck_assert_msg(atomic_load(&f.answered) == vb_store_last_seq(st),
	    "%llu events answered of %llu committed while the writer waits",
	    (unsigned long long)atomic_load(&f.answered),
	    (unsigned long long)vb_store_last_seq(st));
	ck_assert_uint_ge(vb_store_durable_seq(st), atomic_load(&f.answered));
	atomic_store(&f.stop, 1);
	folder_busy(st, 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(f.failed, 0);
	vb_writer_stop(w);
	ck_assert_uint_eq(atomic_load(&f.answered), vb_store_last_seq(st));
	vb_store_close(st);
}
END_TEST

/* ---- the data file ---- */

/* Between commits the writer keeps zeros written past LMDB's last page
 * (vb_store_write_ahead), so that the next commits overwrite blocks
 * rather than grow data.mdb. */
START_TEST(data_file_written_ahead)
{
	vb_writer *w = NULL;
	vb_store *st = fresh_writer(0, &w);
	char path[1100];
	struct stat sb;
	vb_stats s;
	for (int i = 0; i < 20; i++)
		submit_new(w, "e-", i, "C-1");
	/* Once stopped, the writer has done its chores after every commit. */
	vb_writer_stop(w);
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	snprintf(path, sizeof(path), "%s/data.mdb", st->dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_ge((uint64_t)sb.st_size, s.used_bytes + 1 * MiB);
	vb_store_stats_free(&s);
	vb_store_close(st);
}
END_TEST

static Suite *
writer_suite(void)
{
	Suite *s = suite_create("writer");
	TCase *tc = tcase_create("durable acknowledgements");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, one_publisher_acked_durable);
	tcase_add_test(tc, many_publishers_acked_durable);
	tcase_add_test(tc, duplicate_answered_once_durable);
	tcase_add_test(tc, stop_answers_queued);
	suite_add_tcase(s, tc);

	tc = tcase_create("folds");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, failed_fold_backs_off);
	tcase_add_test(tc, answered_while_writer_waits);
	suite_add_tcase(s, tc);

	tc = tcase_create("data file");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_add_test(tc, data_file_written_ahead);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(writer_suite());
}
