#include "vb_harness.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vb_error.h"

#define START_DEADLINE_MS 20000

int64_t
vb_h_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
vb_h_init(vb_h_broker *b)
{
	const char *tmp = getenv("TMPDIR");
	memset(b, 0, sizeof(*b));
	snprintf(b->dir, sizeof(b->dir), "%s/vbit.XXXXXX", tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(b->dir));
	snprintf(b->data, sizeof(b->data), "%s/data", b->dir);
	snprintf(b->ingest, sizeof(b->ingest), "ipc://%s/ingest.sock", b->dir);
	snprintf(b->pub, sizeof(b->pub), "ipc://%s/pub.sock", b->dir);
	snprintf(b->query, sizeof(b->query), "ipc://%s/query.sock", b->dir);
	snprintf(b->log, sizeof(b->log), "%s/voicebusd.log", b->dir);
}

/* In a child just forked by parent: die with the test process.  A failed
 * assertion ends it at once (check's fork mode), and must not leave a
 * broker, or a tail stopped with SIGSTOP, running behind it, holding the
 * output ctest waits on. */
static void
die_with(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
}

static void
redirect(int fd, const char *path, int flags)
{
	int f = open(path ? path : "/dev/null", flags, 0644);
	if (f < 0)
		_exit(127);
	dup2(f, fd);
	close(f);
}

void
vb_h_start(vb_h_broker *b, const char *const *extra)
{
	const char *argv[32] = { VB_BIN_DIR "/voicebusd", "--data", b->data,
		"--ingest", b->ingest, "--pub", b->pub, "--query", b->query };
	size_t n = 9;
	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	pid_t parent = getpid();
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		die_with(parent);
		redirect(0, NULL, O_RDONLY);
		redirect(2, b->log, O_WRONLY | O_CREAT | O_APPEND);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	/* Ready when it answers a query: poll, never sleep blindly. */
	int64_t deadline = vb_h_now_ms() + START_DEADLINE_MS;
	vb_client_opts o = { b->ingest, b->query, 500, NULL, NULL };
	for (;;) {
		vb_client *c;
		vb_query_req q = { .kind = VB_QUERY_STATS };
		vb_query_reply r;
		int status;
		ck_assert_int_eq(vb_client_open(&o, &c), 0);
		int rv = vb_client_query(c, &q, &r);
		vb_client_close(c);
		if (rv == 0) {
			vb_query_reply_free(&r);
			/* The query socket answers before the broker logs that it
			 * serves (D004), the last of its start-up lines: a test
			 * that counts log lines from here must find them all. */
			char *log = vb_h_slurp(b->log, NULL);
			int up = log && strstr(log, " D004 ") != NULL;
			free(log);
			if (up)
				return;
			ck_assert_msg(vb_h_now_ms() < deadline, "voicebusd did not log D004 in time");
			usleep(20000);
			continue;
		}
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			char *log = vb_h_slurp(b->log, NULL);
			ck_abort_msg("voicebusd exited at start: %s", log ? log : "");
		}
		ck_assert_msg(vb_h_now_ms() < deadline, "voicebusd did not answer in time");
		usleep(20000);
	}
}

/* A broker still running this long after SIGTERM is stuck. */
#define STOP_STUCK_MS 120000

/* Say on stderr what a stuck broker is doing: each thread's name and where
 * the kernel has it waiting, its log's last lines, and every thread's
 * stack when gdb is installed.  The wait goes on: the test's own timeout
 * decides, and its output keeps this. */
static void
report_stuck(const vb_h_broker *b)
{
	char cmd[1024];
	fprintf(stderr, "vb_harness: voicebusd (pid %d) has not stopped %d s after "
	    "SIGTERM; its threads, log and stacks:\n", (int)b->pid, STOP_STUCK_MS / 1000);
	snprintf(cmd, sizeof(cmd),
	    "for t in /proc/%d/task/*; do echo \"$(cat $t/comm) $(cat $t/wchan)\"; done 1>&2; "
	    "tail -n 20 '%s' 1>&2; "
	    "command -v gdb >/dev/null && gdb -p %d -batch -ex 'thread apply all bt' 1>&2",
	    (int)b->pid, b->log, (int)b->pid);
	if (system(cmd) == -1)
		fprintf(stderr, "vb_harness: could not run the report\n");
	fflush(stderr);
}

int
vb_h_stop(vb_h_broker *b)
{
	int status = 0, reported = 0;
	int64_t stuck = vb_h_now_ms() + STOP_STUCK_MS;
	pid_t r;
	if (b->pid <= 0)
		return 0;
	kill(b->pid, SIGTERM);
	while ((r = waitpid(b->pid, &status, WNOHANG)) == 0 ||
	    (r < 0 && errno == EINTR)) {
		if (!reported && vb_h_now_ms() > stuck) {
			report_stuck(b);
			reported = 1;
		}
		usleep(5000);
	}
	b->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

void
vb_h_kill(vb_h_broker *b)
{
	if (b->pid <= 0)
		return;
	kill(b->pid, SIGKILL);
	waitpid(b->pid, NULL, 0);
	b->pid = 0;
}

void
vb_h_cleanup(vb_h_broker *b)
{
	char cmd[400];
	if (b->pid > 0)
		vb_h_kill(b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", b->dir);
}

vb_client *
vb_h_client(const vb_h_broker *b)
{
	vb_client_opts o = { b->ingest, b->query, 30000, NULL, NULL };
	vb_client *c;
	ck_assert_int_eq(vb_client_open(&o, &c), 0);
	return c;
}

static pid_t
spawn_cli(const char *const *args, const char *in_path, const char *out_path,
    const char *err_path)
{
	const char *argv[64] = { VB_BIN_DIR "/voicebus" };
	size_t n = 1;
	for (size_t i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t parent = getpid();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		die_with(parent);
		redirect(0, in_path, O_RDONLY);
		redirect(1, out_path, O_WRONLY | O_CREAT | O_TRUNC);
		redirect(2, err_path, O_WRONLY | O_CREAT | O_TRUNC);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

int
vb_h_cli(const char *const *args, const char *in_path, const char *out_path,
    const char *err_path)
{
	int status;
	pid_t pid = spawn_cli(args, in_path, out_path, err_path);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t
vb_h_cli_bg(const char *const *args, const char *out_path, const char *err_path)
{
	return spawn_cli(args, NULL, out_path, err_path);
}

char *
vb_h_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	n = (long)fread(buf, 1, (size_t)n, f);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

size_t
vb_h_count_lines(const char *path)
{
	size_t len, n = 0;
	char *s = vb_h_slurp(path, &len);
	if (s == NULL)
		return 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	free(s);
	return n;
}

void
vb_h_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

void
vb_h_order_json(char *buf, size_t len, const char *id, const char *customer)
{
	snprintf(buf, len,
	    "{\"id\":\"%s\",\"source\":\"sales\",\"type\":\"order.placed\","
	    "\"customer\":\"%s\",\"time\":\"2026-11-20T10:00:00Z\","
	    "\"data\":{\"order\":\"%s\",\"amount\":\"19.99\",\"currency\":\"GBP\",\"items\":1}}",
	    id, customer, id);
}

size_t
vb_h_publish_range(vb_client *c, const char *prefix, size_t from, size_t to,
    size_t batch, uint64_t *acked)
{
	vb_event **evs = calloc(batch, sizeof(*evs));
	size_t acks = 0;
	char json[512], id[128], cust[32], err[256];

	ck_assert_ptr_nonnull(evs);
	for (size_t i = from; i < to;) {
		size_t n = 0, first = i;
		for (; n < batch && i < to; n++, i++) {
			snprintf(id, sizeof(id), "%s-%zu", prefix, i);
			snprintf(cust, sizeof(cust), "C-%zu", i % 97);
			vb_h_order_json(json, sizeof(json), id, cust);
			ck_assert_int_eq(vb_event_from_json(json, strlen(json), &evs[n], err,
			    sizeof(err)), 0);
		}
		vb_ingest_reply rep;
		int rv = vb_client_publish(c, evs, n, &rep);
		for (size_t k = 0; k < n; k++)
			vb_event_free(evs[k]);
		if (rv != 0)
			break; /* the broker went away: what was acked is counted */
		ck_assert_int_eq(rep.code, 0);
		ck_assert_uint_eq(rep.n, n);
		for (size_t k = 0; k < n; k++) {
			ck_assert_msg(rep.results[k].error[0] == '\0', "rejected: %s",
			    rep.results[k].error);
			if (acked)
				acked[first + k] = rep.results[k].seq;
			acks++;
		}
		vb_ingest_reply_free(&rep);
	}
	free(evs);
	return acks;
}

uint64_t
vb_h_last_seq(vb_client *c)
{
	vb_query_req q = { .kind = VB_QUERY_STATS };
	vb_query_reply r;
	ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
	ck_assert_int_eq(r.code, 0);
	uint64_t s = r.stats.last_seq;
	vb_query_reply_free(&r);
	return s;
}

long
vb_h_proc_kib(pid_t pid, const char *name)
{
	char path[64], line[256];
	size_t nlen = strlen(name);
	long v = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, nlen) == 0 && line[nlen] == ':') {
			v = strtol(line + nlen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}
