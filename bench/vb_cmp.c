/* vb_cmp: the side-by-side benchmark driver (see vb_cmp.h and
 * docs/benchmarks.md).  One program per system; scripts/bench.sh starts the
 * server, runs one workload against it, and reads the results:
 *
 *   result<TAB>KEY<TAB>VALUE     median of --runs runs
 *   info<TAB>KEY<TAB>VALUE       something measured once, for the reader
 *
 * usage: vb_cmp_SYSTEM --workload W --connect SPEC [options]; --help. */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vb_bench.h"
#include "vb_cmp_impl.h"
#include "vb_error.h"

/* ---- output ---- */

void
vb_cmp_result(const char *key, double v)
{
	printf("result\t%s\t%.3f\n", key, v);
	fflush(stdout);
}

void
vb_cmp_info(const char *key, double v)
{
	printf("info\t%s\t%.3f\n", key, v);
	fflush(stdout);
}

void
vb_cmp_result_median(const char *key, double *v, int n)
{
	vb_cmp_result(key, vb_bench_median(v, n));
}

/* ---- what is being measured: perf, callgrind ---- */

static int
file_size_ok(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && st.st_size > 0;
}

/* The server's CPU time so far, in clock ticks, or -1. */
static long long
server_ticks(pid_t pid)
{
	char path[64], buf[1024];
	long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command's name, in parentheses, which may hold spaces:
	 * state is field 3, utime and stime fields 14 and 15. */
	char *p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld",
	    &ut, &st) != 2)
		return -1;
	return ut + st;
}

void
vb_cmp_settle(vb_cmp_ctx *c)
{
	long hz = sysconf(_SC_CLK_TCK);
	long long prev, now;
	int64_t t0 = vb_cmp_now_ns();

	if (c->server <= 0 || (prev = server_ticks(c->server)) < 0)
		return;
	for (int i = 0; i < 600; i++) {
		usleep(500000);
		if ((now = server_ticks(c->server)) < 0)
			break;
		if ((now - prev) * 20 < hz / 2) /* under 5% of half a second */
			break;
		prev = now;
	}
	vb_cmp_info("settle_seconds", (double)(vb_cmp_now_ns() - t0) / 1e9);
}

/* The measured part starts: attach perf to the server, or zero
 * callgrind's counters. */
int
vb_cmp_measure_begin(vb_cmp_ctx *c)
{
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)c->server);
	if (c->callgrind) {
		/* The server may run with --instr-atstart=no: what comes
		 * before (loading a log) costs no instrumentation. */
		const char *on[] = { "callgrind_control", "-i", "on", pid,
			NULL };
		const char *zero[] = { "callgrind_control", "-z", pid, NULL };
		int rv = vb_cmp_run(on, NULL, NULL, NULL);
		return rv ? rv : vb_cmp_run(zero, NULL, NULL, NULL);
	}
	if (c->perf_out == NULL)
		return 0;
	unlink(c->perf_out);
	fflush(stdout);
	if ((c->perf_pid = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(126);
		/* Release builds have no frame pointers: unwind with DWARF. */
		execlp("perf", "perf", "record", "-q", "-F", "999",
		    "--call-graph", "dwarf,16384", "-p", pid, "-o", c->perf_out,
		    (char *)NULL);
		_exit(127);
	}
	/* perf writes its header once it is attached. */
	for (int64_t end = vb_cmp_now_ns() + 10000000000LL;
	     vb_cmp_now_ns() < end;) {
		if (file_size_ok(c->perf_out))
			return 0;
		if (waitpid(c->perf_pid, NULL, WNOHANG) == c->perf_pid) {
			fprintf(stderr, "vb_cmp: perf record did not start\n");
			c->perf_pid = 0;
			return VB_EIO;
		}
		usleep(10000);
	}
	return 0;
}

int
vb_cmp_measure_end(vb_cmp_ctx *c, uint64_t events)
{
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)c->server);
	if (c->callgrind) {
		const char *argv[] = { "callgrind_control", "-d", pid, NULL };
		vb_cmp_info("callgrind.events", (double)events);
		return vb_cmp_run(argv, NULL, NULL, NULL);
	}
	if (c->perf_pid > 0) {
		kill(c->perf_pid, SIGINT);
		waitpid(c->perf_pid, NULL, 0);
		c->perf_pid = 0;
	}
	return 0;
}

/* RssAnon of the server, in KiB, or -1.  VmHWM counts the pages of
 * files the server maps (LMDB's whole map, for voicebusd) with its own
 * memory; the kernel keeps no peak of the anonymous part alone, so a
 * thread samples it. */
static long
rss_anon_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

typedef struct sampler {
	pid_t pid;
	atomic_int stop;
	long peak_kib;
} sampler;

static void *
sampler_main(void *arg)
{
	sampler *sm = arg;
	while (!atomic_load(&sm->stop)) {
		long kib = rss_anon_kib(sm->pid);
		if (kib > sm->peak_kib)
			sm->peak_kib = kib;
		usleep(20000);
	}
	return NULL;
}

/* The server's peak resident set, and what it holds at the end. */
static void
report_rss(const vb_cmp_ctx *c)
{
	char path[64], line[256];
	FILE *f;
	long kib;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)c->server);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmHWM: %ld", &kib) == 1)
			vb_cmp_result("rss_peak_mib", kib / 1024.0);
		else if (sscanf(line, "RssAnon: %ld", &kib) == 1)
			vb_cmp_info("rss_anon_end_mib", kib / 1024.0);
		else if (sscanf(line, "RssFile: %ld", &kib) == 1)
			vb_cmp_info("rss_file_end_mib", kib / 1024.0);
	}
	fclose(f);
}

/* ---- main ---- */

/* The nng workload: the floor of workload 6's one request, an echo over
 * tcp and over ipc, c->runs runs of c->seconds each per transport. */
static int
nng_floor(const vb_cmp_ctx *c)
{
	char ipc[600];
	const char *url[2] = { "tcp://127.0.0.1:0", ipc };
	const char *name[2] = { "tcp", "ipc" };
	double p50[99], p99[99];
	char key[32];

	snprintf(ipc, sizeof(ipc), "ipc://%s/vb-nng-echo.%d", c->dir, (int)getpid());
	for (int t = 0; t < 2; t++) {
		for (int r = 0; r < c->runs; r++)
			if (vb_bench_nng_echo(url[t], c->seconds, VB_CMP_EVENT_BYTES,
			        &p50[r], &p99[r]) != 0)
				return 1;
		snprintf(key, sizeof(key), "nng.%s.p50", name[t]);
		vb_cmp_result_median(key, p50, c->runs);
		snprintf(key, sizeof(key), "nng.%s.p99", name[t]);
		vb_cmp_result_median(key, p99, c->runs);
	}
	return 0;
}

static void
usage(FILE *out, const char *prog)
{
	fprintf(out,
	    "usage: %s --workload W --connect SPEC [options]\n"
	    "Run one workload of docs/benchmarks.md against a running server.\n"
	    "  --workload W        w1 (1 publisher, 1 event/request), w2 (8 publishers),\n"
	    "                      w3 (batches of 100: 1 and 8 publishers), w3r (w3's 8\n"
	    "                      publishers, ids in no order, as UUIDs would be), w4 (publish to\n"
	    "                      receipt), w5 (replay), w6 (lookups, filter), retail,\n"
	    "                      fsync (the disk's fsyncs/s in --dir; no server),\n"
	    "                      nng (an nng REQ/REP echo of 200 bytes over ipc in --dir\n"
	    "                      and over tcp: the floor of one request; no server)\n"
	    "  --connect SPEC      the server (voicebus: INGEST,PUB,QUERY URLs;\n"
	    "                      jetstream: nats://HOST:PORT; redis: HOST:PORT)\n"
	    "  --runs N            runs per result, the median printed (5)\n"
	    "  --seconds S         length of one timed run (2)\n"
	    "  --events N          at most N events per run of w1-w4 (no limit)\n"
	    "  --replay-events N   events stored and replayed by w5 (1000000)\n"
	    "  --customers N       customers of w6 (100000)\n"
	    "  --audience N        rows of the w6 filter audience (1000000; 0: none)\n"
	    "  --rate R            w4: events/s offered (default: half of one\n"
	    "                      publisher's maximum, measured for 1 s)\n"
	    "  --jsonl FILE        retail: the events, as vb-sales --dry-run prints them\n"
	    "  --dir DIR           temporary files ($TMPDIR or /tmp)\n"
	    "  --server-pid PID    the server's process: its peak RSS is reported\n"
	    "  --perf FILE         perf record the server during the measured part\n"
	    "  --callgrind         the server runs under callgrind: zero its counters\n"
	    "                      before the measured part and dump them after\n",
	    prog);
}

static int
dispatch(vb_cmp_ctx *c)
{
	const char *w = c->workload;
	if (!strcmp(w, "w1"))
		return vb_cmp_work_publish(c, "w1", 1, 1, 1);
	if (!strcmp(w, "w2"))
		return vb_cmp_work_publish(c, "w2", 8, 1, 1);
	if (!strcmp(w, "w3")) {
		int rv = vb_cmp_work_publish(c, "w3_1", 1, 100, 0);
		if (rv != 0 || c->callgrind)
			return rv;
		return vb_cmp_work_publish(c, "w3_8", 8, 100, 0);
	}
	if (!strcmp(w, "w3r")) {
		c->t.random_ids = 1;
		return vb_cmp_work_publish(c, "w3r_8", 8, 100, 0);
	}
	if (!strcmp(w, "w4"))
		return vb_cmp_work_e2e(c);
	if (!strcmp(w, "w5"))
		return vb_cmp_work_replay(c);
	if (!strcmp(w, "w6"))
		return vb_cmp_work_lookup(c);
	if (!strcmp(w, "retail"))
		return vb_cmp_work_retail(c);
	fprintf(stderr, "vb_cmp: --workload %s: unknown\n", w);
	return VB_EINVAL;
}

int
main(int argc, char **argv)
{
	enum {
		O_WORKLOAD = 1,
		O_CONNECT,
		O_RUNS,
		O_SECONDS,
		O_EVENTS,
		O_REPLAY,
		O_CUSTOMERS,
		O_AUDIENCE,
		O_RATE,
		O_JSONL,
		O_DIR,
		O_PID,
		O_PERF,
		O_CALLGRIND,
		O_HELP
	};
	static const struct option longopts[] = {
		{ "workload", required_argument, NULL, O_WORKLOAD },
		{ "connect", required_argument, NULL, O_CONNECT },
		{ "runs", required_argument, NULL, O_RUNS },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "events", required_argument, NULL, O_EVENTS },
		{ "replay-events", required_argument, NULL, O_REPLAY },
		{ "customers", required_argument, NULL, O_CUSTOMERS },
		{ "audience", required_argument, NULL, O_AUDIENCE },
		{ "rate", required_argument, NULL, O_RATE },
		{ "jsonl", required_argument, NULL, O_JSONL },
		{ "dir", required_argument, NULL, O_DIR },
		{ "server-pid", required_argument, NULL, O_PID },
		{ "perf", required_argument, NULL, O_PERF },
		{ "callgrind", no_argument, NULL, O_CALLGRIND },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	vb_cmp_ctx c = { .runs = 5,
		.seconds = 2,
		.customers = 100000,
		.audience = 1000000,
		.replay_events = 1000000 };
	int o, rv;

	c.be = vb_cmp_backend_get();
	/* Ids must be new to the server: a fresh one is expected, but a
	 * second run against the same one should not collide either. */
	c.phase = (unsigned)(time(NULL) ^ getpid()) % 1000;
	c.dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case O_WORKLOAD: c.workload = optarg; break;
		case O_CONNECT: c.spec = optarg; break;
		case O_RUNS: c.runs = atoi(optarg); break;
		case O_SECONDS: c.seconds = atof(optarg); break;
		case O_EVENTS: c.budget = strtoull(optarg, NULL, 10); break;
		case O_REPLAY:
			c.replay_events = strtoull(optarg, NULL, 10);
			break;
		case O_CUSTOMERS:
			c.customers = strtoul(optarg, NULL, 10);
			break;
		case O_AUDIENCE: c.audience = strtoul(optarg, NULL, 10); break;
		case O_RATE: c.rate = atof(optarg); break;
		case O_JSONL: c.jsonl = optarg; break;
		case O_DIR: c.dir = optarg; break;
		case O_PID: c.server = (pid_t)atoi(optarg); break;
		case O_PERF: c.perf_out = optarg; break;
		case O_CALLGRIND: c.callgrind = 1; break;
		case O_HELP: usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (c.workload && !strcmp(c.workload, "fsync")) {
		vb_cmp_result("fsync.rate", vb_bench_fsync_rate(c.dir));
		vb_cmp_result("fsync.overwrite_rate", vb_bench_flush_rate(c.dir));
		return 0;
	}
	/* The nng workload starts its own server: no --connect. */
	int own_server = c.workload && !strcmp(c.workload, "nng");
	if (c.workload == NULL || (c.spec == NULL && !own_server) || optind < argc) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (c.runs < 1 || c.runs > 99 || c.seconds <= 0 || c.customers < 10 ||
	    c.customers > 1000000 || c.replay_events < 1 ||
	    (c.workload && !strcmp(c.workload, "retail") && c.jsonl == NULL) ||
	    ((c.callgrind || c.perf_out) && c.server <= 0)) {
		fprintf(stderr,
		    "%s: --runs 1..99, --seconds > 0, --customers 10..1000000, "
		    "--replay-events >= 1; retail needs --jsonl; --perf and --callgrind "
		    "need --server-pid\n",
		    argv[0]);
		return 2;
	}
	if (own_server)
		return nng_floor(&c);
	if ((rv = vb_cmp_tmpl_make(&c.t)) != 0)
		return 1;
	if ((rv = c.be->open(c.spec, &c.sys)) != 0) {
		free(c.t.p);
		return 1;
	}
	sampler sm = { .pid = c.server, .peak_kib = -1 };
	pthread_t sth;
	int sampling =
	    c.server > 0 && pthread_create(&sth, NULL, sampler_main, &sm) == 0;
	rv = dispatch(&c);
	if (c.perf_pid > 0)
		vb_cmp_measure_end(&c, 0);
	if (sampling) {
		atomic_store(&sm.stop, 1);
		pthread_join(sth, NULL);
	}
	if (rv == 0 && c.server > 0) {
		report_rss(&c);
		if (sm.peak_kib >= 0)
			vb_cmp_result("rss_anon_peak_mib",
			    sm.peak_kib / 1024.0);
	}
	c.be->close(c.sys);
	free(c.t.p);
	return rv == 0 ? 0 : 1;
}
