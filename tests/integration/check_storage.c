/* Integration: the real voicebusd when its storage runs out (a small tmpfs
 * for the disk, a small map_size_max for the map), with a reader process
 * killed inside a read transaction, and the data file under a long replay
 * while publishers write.
 *
 *   check_it_storage          disk, map, readers (ctest integration_storage;
 *                             exits 77 if it may not mount a tmpfs and
 *                             everything else passed)
 *   check_it_storage replay   the long replay (integration_storage_replay);
 *                             VB_STORAGE_EVENTS sets how many events. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vb_error.h"
#include "vb_harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define MiB (1024ULL * 1024)

/* What the runner's teardown undoes when a test dies half-way: the broker
 * it started (a grandchild of the runner, orphaned by the failure) and
 * the tmpfs.  Shared memory: tests run in forked children. */
typedef struct {
	pid_t broker;
	char mnt[300];
} leftovers;
static leftovers *left;

static void
teardown_leftovers(void)
{
	if (left->broker > 0)
		kill(left->broker, SIGKILL);
	left->broker = 0;
	/* Lazily: the dead broker may still hold files there for a moment. */
	if (left->mnt[0] && umount2(left->mnt, MNT_DETACH) != 0 && errno != EINVAL)
		fprintf(stderr, "umount %s: %s\n", left->mnt, strerror(errno));
	left->mnt[0] = '\0';
}

static void
start(vb_h_broker *b, const char *const *extra)
{
	vb_h_start(b, extra);
	left->broker = b->pid;
}

static void
stop(vb_h_broker *b)
{
	ck_assert_int_eq(vb_h_stop(b), 0);
	left->broker = 0;
}

/* ---- publishing and checking the log ---- */

static void
event_json(char *buf, size_t len, const char *id, const char *customer, size_t pad)
{
	int n = snprintf(buf, len,
	    "{\"id\":\"%s\",\"source\":\"sales\",\"type\":\"order.placed\","
	    "\"customer\":\"%s\",\"time\":\"2026-11-20T10:00:00Z\","
	    "\"data\":{\"order\":\"%s\",\"amount\":\"19.99\",\"currency\":\"GBP\",\"items\":1},"
	    "\"attributes\":{\"pad\":\"", id, customer, id);
	ck_assert_uint_lt((size_t)n + pad + 4, len);
	memset(buf + n, 'p', pad);
	snprintf(buf + n + pad, len - (size_t)n - pad, "\"}}");
}

/* Every acknowledged event: its id and seq. */
typedef struct {
	char (*ids)[32];
	uint64_t *seqs;
	size_t n, cap;
} acks;

static void
acks_free(acks *a)
{
	free(a->ids);
	free(a->seqs);
	memset(a, 0, sizeof(*a));
}

/* Publish <prefix>-<i> for i in [from, from + n) in one request of events
 * padded by pad bytes.  Returns the reply's code: 0 and the seqs added to
 * *a, or the refusal, its text in err, checked to carry no seq at all. */
static int
publish(vb_client *c, const char *prefix, size_t from, size_t n, size_t pad,
    acks *a, char *err, size_t errlen)
{
	vb_event **evs = calloc(n, sizeof(*evs));
	char *json = malloc(pad + 512), id[32], cust[16], perr[256];
	vb_ingest_reply rep;
	int code;

	ck_assert(evs && json);
	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%s-%zu", prefix, from + i);
		snprintf(cust, sizeof(cust), "C-%zu", (from + i) % 97);
		event_json(json, pad + 512, id, cust, pad);
		ck_assert_int_eq(vb_event_from_json(json, strlen(json), &evs[i], perr,
		    sizeof(perr)), 0);
	}
	ck_assert_int_eq(vb_client_publish(c, evs, n, &rep), 0);
	code = rep.code;
	if (code != 0) {
		snprintf(err, errlen, "%s", rep.error);
		ck_assert_uint_eq(rep.n, 0);
	} else {
		ck_assert_uint_eq(rep.n, n);
		for (size_t i = 0; i < n; i++) {
			ck_assert_msg(rep.results[i].error[0] == '\0', "rejected: %s",
			    rep.results[i].error);
			ck_assert_int_eq(rep.results[i].duplicate, 0);
			if (a->n == a->cap) {
				a->cap = a->cap ? a->cap * 2 : 1024;
				a->ids = realloc(a->ids, a->cap * sizeof(*a->ids));
				a->seqs = realloc(a->seqs, a->cap * sizeof(*a->seqs));
				ck_assert(a->ids && a->seqs);
			}
			snprintf(a->ids[a->n], sizeof(a->ids[0]), "%s-%zu", prefix, from + i);
			a->seqs[a->n++] = rep.results[i].seq;
		}
	}
	vb_ingest_reply_free(&rep);
	for (size_t i = 0; i < n; i++)
		vb_event_free(evs[i]);
	free(evs);
	free(json);
	return code;
}

/* A refusal must say that storage is full, and nothing else. */
static void
assert_full(int code, const char *err)
{
	ck_assert_msg(code == VB_EFULL, "refused with %d (%s), want VB_EFULL", code, err);
	ck_assert_msg(strstr(err, "storage full") != NULL, "refusal says \"%s\"", err);
}

/* Replay the whole log: seqs 1..last without a gap, every acknowledged
 * event at its seq, and no order stored that was not acknowledged (nor
 * one twice).  Returns the number of events. */
static size_t
check_log(vb_client *c, const acks *a)
{
	vb_query_req q = { .kind = VB_QUERY_REPLAY };
	char (*ids)[32] = NULL;
	size_t n = 0, cap = 0, orders = 0;
	uint64_t next = 1;

	for (;;) {
		vb_query_reply r;
		q.replay.from_seq = next;
		ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
		ck_assert_msg(r.code == 0, "replay refused: %s", r.error);
		for (size_t i = 0; i < r.replay.n; i++) {
			vb_event_peek pk;
			ck_assert_int_eq(vb_event_peek_pb(r.replay.events[i].p,
			    r.replay.events[i].len, &pk), 0);
			ck_assert_uint_eq(pk.seq, n + 1);
			if (n == cap) {
				cap = cap ? cap * 2 : 4096;
				ids = realloc(ids, cap * sizeof(*ids));
				ck_assert_ptr_nonnull(ids);
			}
			snprintf(ids[n++], sizeof(ids[0]), "%.*s", (int)pk.id_len, pk.id);
			orders += pk.type_len == 12 && memcmp(pk.type, "order.placed", 12) == 0;
		}
		next = r.replay.next_seq;
		int done = r.replay.done;
		vb_query_reply_free(&r);
		if (done)
			break;
	}
	for (size_t i = 0; i < a->n; i++) {
		ck_assert_msg(a->seqs[i] >= 1 && a->seqs[i] <= n,
		    "acknowledged %s at seq %llu: the log ends at %zu", a->ids[i],
		    (unsigned long long)a->seqs[i], n);
		ck_assert_str_eq(ids[a->seqs[i] - 1], a->ids[i]);
	}
	ck_assert_uint_eq(orders, a->n);
	free(ids);
	return n;
}

/* Queries that only read answer: stats, a replay page, a gate decision. */
static void
check_reads(vb_client *c, uint64_t want_last)
{
	vb_query_req q = { .kind = VB_QUERY_REPLAY };
	vb_query_reply r;
	const char *cust = "C-1";

	ck_assert_uint_eq(vb_h_last_seq(c), want_last);
	q.replay.from_seq = want_last > 10 ? want_last - 10 : 1;
	ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
	ck_assert_int_eq(r.code, 0);
	ck_assert_uint_ge(r.replay.n, 1);
	vb_query_reply_free(&r);
	memset(&q, 0, sizeof(q));
	q.kind = VB_QUERY_GATE;
	q.gate.customers = &cust;
	q.gate.n = 1;
	q.gate.purpose = "upsell";
	q.gate.channel = "email";
	ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
	ck_assert_msg(r.code == 0, "gate refused: %s", r.error);
	ck_assert_uint_eq(r.ndecisions, 1);
	vb_query_reply_free(&r);
}

/* Whether a line of the broker's log holds a, then z; printed if so. */
static int
log_has(const vb_h_broker *b, const char *a, const char *z)
{
	char *log = vb_h_slurp(b->log, NULL);
	int found = 0;
	for (char *p = log; p && (p = strstr(p, a)) != NULL; p++) {
		char *eol = strchr(p, '\n');
		char *m = strstr(p, z);
		if (m && (eol == NULL || m < eol)) {
			found = 1;
			printf("  log: %.*s\n", eol ? (int)(eol - p) : (int)strlen(p), p);
			break;
		}
	}
	free(log);
	return found;
}

/* ---- the disk ---- */

/* Fill the file system of dir with path, leaving about leave bytes. */
static void
fill(const char *path, const char *dir, uint64_t leave)
{
	static char block[64 * 1024];
	struct statvfs sv;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(statvfs(dir, &sv), 0);
	uint64_t room = (uint64_t)sv.f_bavail * sv.f_frsize;
	uint64_t want = room > leave ? room - leave : 0;
	memset(block, 'f', sizeof(block));
	while (want > 0) {
		size_t n = want < sizeof(block) ? (size_t)want : sizeof(block);
		ssize_t w = write(fd, block, n);
		if (w <= 0) {
			ck_assert_msg(w < 0 && errno == ENOSPC, "filling %s: %s", path,
			    strerror(errno));
			break;
		}
		want -= (uint64_t)w;
	}
	close(fd);
}

/* Batches of this many events of this padding need far more pages than
 * LMDB's free list holds, so each one has to grow the file. */
#define BIG_BATCH 200
#define BIG_PAD 1500

START_TEST(disk_full_refused_then_recovers)
{
	vb_h_broker b;
	acks a = { 0 };
	char err[256], filler[400], filler2[400];
	size_t from = 0;
	int code = 0;

	vb_h_init(&b);
	ck_assert_int_eq(mkdir(b.data, 0750), 0);
	/* Only the data directory is on the small file system: the broker's
	 * log and sockets stay where they were. */
	ck_assert_msg(mount("tmpfs", b.data, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0750") == 0,
	    "mount tmpfs on %s: %s", b.data, strerror(errno));
	snprintf(left->mnt, sizeof(left->mnt), "%s", b.data);
	start(&b, NULL);
	vb_client *c = vb_h_client(&b);
	for (int i = 0; i < 10; i++, from += 100)
		ck_assert_int_eq(publish(c, "a", from, 100, 100, &a, err, sizeof(err)), 0);

	/* Leave a little room, then publish until the broker refuses. */
	snprintf(filler, sizeof(filler), "%s/filler", b.data);
	snprintf(filler2, sizeof(filler2), "%s/filler2", b.data);
	fill(filler, b.data, 512 * 1024);
	from = 0;
	for (int i = 0; i < 50; i++) {
		code = publish(c, "b", from, BIG_BATCH, BIG_PAD, &a, err, sizeof(err));
		if (code != 0)
			break;
		from += BIG_BATCH;
	}
	assert_full(code, err);
	size_t refused_from = from;
	uint64_t last = a.seqs[a.n - 1];
	ck_assert_uint_eq(last, a.n);
	printf("disk: %zu events stored, then refused: %s\n", a.n, err);

	/* Not a byte left: still refused, still the same words. */
	fill(filler2, b.data, 0);
	for (int i = 0; i < 3; i++) {
		code = publish(c, "c", 0, BIG_BATCH, BIG_PAD, &a, err, sizeof(err));
		assert_full(code, err);
	}
	/* Reads go on; so does a restart on the full disk. */
	check_reads(c, last);
	ck_assert_uint_eq(check_log(c, &a), last);
	ck_assert(log_has(&b, "S006", "disk full"));
	vb_client_close(c);
	stop(&b);
	start(&b, NULL);
	c = vb_h_client(&b);
	check_reads(c, last);
	code = publish(c, "c", 0, BIG_BATCH, BIG_PAD, &a, err, sizeof(err));
	assert_full(code, err);

	/* Room again: no restart needed.  What was refused is stored now,
	 * right after what was acknowledged before. */
	ck_assert_int_eq(unlink(filler), 0);
	ck_assert_int_eq(unlink(filler2), 0);
	ck_assert_int_eq(publish(c, "b", refused_from, BIG_BATCH, BIG_PAD, &a, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(a.seqs[a.n - BIG_BATCH], last + 1);
	ck_assert_int_eq(publish(c, "c", 0, BIG_BATCH, BIG_PAD, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(check_log(c, &a), last + 2 * BIG_BATCH);
	vb_client_close(c);
	stop(&b);
	ck_assert_int_eq(umount(b.data), 0);
	left->mnt[0] = '\0';
	acks_free(&a);
	vb_h_cleanup(&b);
}
END_TEST

/* ---- the map ---- */

START_TEST(map_full_refused_until_raised)
{
	vb_h_broker b;
	acks a = { 0 };
	char err[256];
	size_t from = 0;
	int code = 0;
	vb_query_req q = { .kind = VB_QUERY_STATS };
	vb_query_reply r;

	/* map_size_max alone: the default map_size (256MiB) is above it. */
	const char *small[] = { "--set", "map_size_max=2MiB", NULL };
	vb_h_init(&b);
	start(&b, small);
	vb_client *c = vb_h_client(&b);
	for (int i = 0; i < 200; i++) {
		code = publish(c, "m", from, 100, 500, &a, err, sizeof(err));
		if (code != 0)
			break;
		from += 100;
	}
	assert_full(code, err);
	ck_assert_uint_gt(a.n, 0);
	uint64_t last = a.seqs[a.n - 1];
	printf("map: %zu events stored in 2 MiB, then refused: %s\n", a.n, err);
	/* The same batch again is refused too, and so is the CLI's. */
	code = publish(c, "m", from, 100, 500, &a, err, sizeof(err));
	assert_full(code, err);
	char in[400], errf[400], json[2048], id[32];
	snprintf(in, sizeof(in), "%s/in.jsonl", b.dir);
	snprintf(errf, sizeof(errf), "%s/publish.err", b.dir);
	FILE *f = fopen(in, "w");
	ck_assert_ptr_nonnull(f);
	/* One request far larger than what LMDB's free pages could take. */
	for (int i = 0; i < BIG_BATCH; i++) {
		snprintf(id, sizeof(id), "cli-%d", i);
		event_json(json, sizeof(json), id, "C-1", BIG_PAD);
		fprintf(f, "%s\n", json);
	}
	fclose(f);
	const char *pargs[] = { "publish", "--ingest", b.ingest, "--query", b.query, in, NULL };
	ck_assert_int_eq(vb_h_cli(pargs, NULL, NULL, errf), 1);
	char *perr = vb_h_slurp(errf, NULL);
	ck_assert_msg(strstr(perr, "stored nothing: storage full") &&
	    strstr(perr, "not stored 200"), "voicebus publish said: %s", perr);
	free(perr);
	check_reads(c, last);
	ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
	ck_assert_uint_le(r.stats.map_bytes, 2 * MiB);
	vb_query_reply_free(&r);
	ck_assert_uint_eq(check_log(c, &a), last);
	ck_assert(log_has(&b, "S006", "MDB_MAP_FULL"));
	vb_client_close(c);
	stop(&b);

	/* What operations.md says to do: raise map_size_max, restart. */
	const char *big[] = { "--set", "map_size_max=64MiB", NULL };
	start(&b, big);
	c = vb_h_client(&b);
	ck_assert_uint_eq(vb_h_last_seq(c), last);
	ck_assert_int_eq(publish(c, "m", from, 100, 500, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a.seqs[a.n - 100], last + 1);
	ck_assert_int_eq(publish(c, "m", from + 100, 100, 500, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(check_log(c, &a), last + 200);
	vb_client_close(c);
	stop(&b);
	acks_free(&a);
	vb_h_cleanup(&b);
}
END_TEST

/* ---- a reader killed in its transaction ---- */

/* A process that opens the broker's environment and a read transaction,
 * as mdb_copy does, then says so on fd and waits to be killed. */
static pid_t
spawn_reader(const char *dir)
{
	int fds[2];
	char ch;
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		MDB_env *env;
		MDB_txn *txn;
		close(fds[0]);
		if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 8) != 0 ||
		    mdb_env_open(env, dir, MDB_RDONLY, 0) != 0 ||
		    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0 ||
		    write(fds[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &ch, 1), 1);
	close(fds[0]);
	return pid;
}

START_TEST(dead_reader_slot_cleared)
{
	vb_h_broker b;
	acks a = { 0 };
	char err[256];

	vb_h_init(&b);
	start(&b, NULL);
	vb_client *c = vb_h_client(&b);
	ck_assert_int_eq(publish(c, "r", 0, 100, 100, &a, err, sizeof(err)), 0);
	pid_t pid = spawn_reader(b.data);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	/* The broker finds it on its own, within a few seconds. */
	int64_t t0 = vb_h_now_ms(), deadline = t0 + 20000;
	for (size_t i = 100; !log_has(&b, "S007", "cleared 1 stale"); i += 10) {
		ck_assert_msg(vb_h_now_ms() < deadline, "no S007 after 20 s");
		ck_assert_int_eq(publish(c, "r", i, 10, 100, &a, err, sizeof(err)), 0);
		usleep(200000);
	}
	printf("readers: the dead reader's slot cleared after %.1f s\n",
	    (double)(vb_h_now_ms() - t0) / 1000);
	check_log(c, &a);
	vb_client_close(c);
	stop(&b);
	acks_free(&a);
	vb_h_cleanup(&b);
}
END_TEST

/* ---- a long replay under write load ---- */

typedef struct {
	const vb_h_broker *b;
	char prefix[16];
	size_t from, to, batch;
	atomic_int *stop;   /* NULL: publish [from, to) */
	size_t acked;
} writer_arg;

static void *
writer_main(void *arg)
{
	writer_arg *w = arg;
	vb_client *c = vb_h_client(w->b);
	if (w->stop == NULL) {
		w->acked = vb_h_publish_range(c, w->prefix, w->from, w->to, w->batch, NULL);
	} else {
		for (size_t i = 0; !atomic_load(w->stop); i += w->batch)
			w->acked += vb_h_publish_range(c, w->prefix, i, i + w->batch, w->batch, NULL);
	}
	vb_client_close(c);
	return NULL;
}

static uint64_t
file_size(const char *path)
{
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	return (uint64_t)sb.st_size;
}

/* Start voicebus with args, its stdout into a pipe: *fd. */
static pid_t
spawn_cli_pipe(const char *const *args, int *fd)
{
	const char *argv[16] = { VB_BIN_DIR "/voicebus" };
	int fds[2];
	size_t n = 1;
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	*fd = fds[0];
	return pid;
}

/* Lines on fd until its end. */
static uint64_t
count_lines(int fd, uint64_t stop_after, uint64_t *bytes)
{
	static char buf[1 << 16];
	uint64_t lines = 0;
	ssize_t n;
	*bytes = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		*bytes += (uint64_t)n;
		for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))) != NULL; p++)
			lines++;
		if (stop_after && lines >= stop_after)
			break;
	}
	return lines;
}

/* Where the long replay is, on stderr as it goes: a run that hangs shows
 * its last step in the test's output (ctest --output-on-failure). */
static void
step(int64_t t0, const char *what)
{
	fprintf(stderr, "replay: %6.1f s: %s\n", (double)(vb_h_now_ms() - t0) / 1000, what);
	fflush(stderr);
}

START_TEST(long_replay_keeps_file_bounded)
{
	vb_h_broker b;
	const char *env = getenv("VB_STORAGE_EVENTS");
	size_t n = env ? strtoull(env, NULL, 10) : SANITIZED ? 100000 : 1000000;
	char data_mdb[400];
	pthread_t th[2];
	writer_arg wa[2];
	atomic_int stop_writers = 0;
	uint64_t bytes;

	vb_h_init(&b);
	start(&b, NULL);
	snprintf(data_mdb, sizeof(data_mdb), "%s/data.mdb", b.data);

	/* N events, two publishers in batches of 1,000. */
	int64_t t0 = vb_h_now_ms();
	step(t0, "broker up; loading");
	for (int i = 0; i < 2; i++) {
		wa[i] = (writer_arg){ .b = &b, .from = i * (n / 2), .to = i ? n : n / 2,
			.batch = 1000 };
		snprintf(wa[i].prefix, sizeof(wa[i].prefix), "load");
		pthread_create(&th[i], NULL, writer_main, &wa[i]);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		ck_assert_uint_eq(wa[i].acked, wa[i].to - wa[i].from);
	}
	double load_s = (double)(vb_h_now_ms() - t0) / 1000;
	step(t0, "loaded");
	uint64_t size0 = file_size(data_mdb);
	vb_client *c = vb_h_client(&b);
	uint64_t last0 = vb_h_last_seq(c);
	ck_assert_uint_ge(last0, n);

	/* Publishers keep writing in small batches -- many commits, each one
	 * copying pages that a reader holding one snapshot would pin. */
	for (int i = 0; i < 2; i++) {
		wa[i] = (writer_arg){ .b = &b, .batch = 10, .stop = &stop_writers };
		snprintf(wa[i].prefix, sizeof(wa[i].prefix), "live%d", i);
		pthread_create(&th[i], NULL, writer_main, &wa[i]);
	}
	/* A replay client killed half-way through its replay ... */
	int kfd;
	const char *kargs[] = { "replay", "--query", b.query, NULL };
	pid_t killed = spawn_cli_pipe(kargs, &kfd);
	step(t0, "writers live; a replay to kill");
	uint64_t klines = count_lines(kfd, n / 4, &bytes);
	kill(killed, SIGKILL);
	ck_assert_int_eq(waitpid(killed, NULL, 0), killed);
	close(kfd);
	ck_assert_uint_ge(klines, n / 4);
	step(t0, "replay killed; a whole replay");

	/* ... and one that reads everything. */
	int fd, status;
	const char *args[] = { "replay", "--query", b.query, NULL };
	int64_t r0 = vb_h_now_ms();
	pid_t pid = spawn_cli_pipe(args, &fd);
	uint64_t lines = count_lines(fd, 0, &bytes);
	close(fd);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	double replay_s = (double)(vb_h_now_ms() - r0) / 1000;
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	step(t0, "replayed; stopping the writers");
	atomic_store(&stop_writers, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	step(t0, "writers stopped");

	/* The replay is the snapshot of when it started: at least the N. */
	uint64_t last1 = vb_h_last_seq(c);
	ck_assert_uint_ge(lines, last0);
	ck_assert_uint_le(lines, last1);
	uint64_t size1 = file_size(data_mdb);
	uint64_t added = last1 - last0;
	/* What the new events need, at the bytes per event of the first N,
	 * twice over, plus 16 MiB for page splits and LMDB's free list.  A
	 * reader pinning one snapshot for the whole replay would add the
	 * copied pages of every commit meanwhile: +300 MiB in a trial. */
	double per_event = (double)size0 / (double)last0;
	uint64_t bound = size0 + (uint64_t)(2 * per_event * (double)added) + 16 * MiB;
	printf("replay: %zu events loaded in %.1f s (%.0f/s); data.mdb %.1f MiB "
	    "(%.0f bytes/event)\n", n, load_s, n / load_s, size0 / (double)MiB, per_event);
	printf("replay: %llu lines in %.1f s (%.0f/s, %.1f MiB) while %zu+%zu events "
	    "were published; a replay killed after %llu lines\n",
	    (unsigned long long)lines, replay_s, lines / replay_s, bytes / (double)MiB,
	    wa[0].acked, wa[1].acked, (unsigned long long)klines);
	printf("replay: data.mdb %.1f -> %.1f MiB (+%.1f MiB for %llu new events; "
	    "bound %.1f MiB)\n", size0 / (double)MiB, size1 / (double)MiB,
	    (size1 - size0) / (double)MiB, (unsigned long long)added, bound / (double)MiB);
	ck_assert_uint_gt(added, 0);
	ck_assert_msg(size1 <= bound, "data.mdb grew from %llu to %llu bytes for %llu events",
	    (unsigned long long)size0, (unsigned long long)size1, (unsigned long long)added);

	/* The broker carries on: a replay of a range, and a write. */
	char out[400];
	snprintf(out, sizeof(out), "%s/range.out", b.dir);
	const char *rargs[] = { "replay", "--query", b.query, "--from", "1000", "--to",
		"2999", NULL };
	ck_assert_int_eq(vb_h_cli(rargs, NULL, out, NULL), 0);
	ck_assert_uint_eq(vb_h_count_lines(out), 2000);
	ck_assert_uint_eq(vb_h_publish_range(c, "after", 0, 10, 10, NULL), 10);
	ck_assert_uint_eq(vb_h_last_seq(c), last1 + 10);
	vb_client_close(c);
	stop(&b);
	vb_h_cleanup(&b);
}
END_TEST

/* ---- running ---- */

/* Whether we may mount a tmpfs; why not in why.  In a mount namespace of
 * our own when we may make one, so that nothing mounted here can outlive
 * the test's processes. */
static int
can_mount(char *why, size_t len)
{
	char dir[] = "/tmp/vbmnt.XXXXXX";
	int ok;
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (mkdtemp(dir) == NULL) {
		snprintf(why, len, "mkdtemp: %s", strerror(errno));
		return 0;
	}
	ok = mount("tmpfs", dir, "tmpfs", 0, "size=1m") == 0;
	if (!ok)
		snprintf(why, len, "mount -t tmpfs: %s (needs root or CAP_SYS_ADMIN)",
		    strerror(errno));
	else
		umount(dir);
	rmdir(dir);
	return ok;
}

int
main(int argc, char **argv)
{
	Suite *s = suite_create("storage");
	TCase *tc;
	char why[200];
	int skipped = 0;

	/* Line by line: the figures should show even when a test dies. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	left = mmap(NULL, sizeof(*left), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (left == MAP_FAILED)
		return EXIT_FAILURE;
	memset(left, 0, sizeof(*left));
	if (argc > 1 && strcmp(argv[1], "replay") == 0) {
		tc = tcase_create("replay");
		tcase_add_unchecked_fixture(tc, NULL, teardown_leftovers);
		tcase_set_timeout(tc, 600);
		tcase_add_test(tc, long_replay_keeps_file_bounded);
		suite_add_tcase(s, tc);
	} else {
		if (can_mount(why, sizeof(why))) {
			tc = tcase_create("disk");
			tcase_add_unchecked_fixture(tc, NULL, teardown_leftovers);
			tcase_set_timeout(tc, 300);
			tcase_add_test(tc, disk_full_refused_then_recovers);
			suite_add_tcase(s, tc);
		} else {
			printf("skipping the disk-full test: %s\n", why);
			skipped = 1;
		}
		tc = tcase_create("map");
		tcase_add_unchecked_fixture(tc, NULL, teardown_leftovers);
		tcase_set_timeout(tc, 300);
		tcase_add_test(tc, map_full_refused_until_raised);
		tcase_add_test(tc, dead_reader_slot_cleared);
		suite_add_tcase(s, tc);
	}
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed)
		return EXIT_FAILURE;
	return skipped ? 77 : EXIT_SUCCESS;
}
