#include "vb_bench.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vb_client.h"

#ifndef VB_BIN_DIR
#define VB_BIN_DIR "."
#endif

double
vb_bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double
vb_bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double
vb_bench_percentile(double *v, size_t n, double p)
{
	size_t i;
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* Flushes per second for one second in dir: a 4 KiB write and fdatasync
 * in a loop, appending (grow) or over the same 1 MiB already written (an
 * overwrite needs no file system metadata, so no journal commit: what an
 * LMDB commit that does not grow its file pays). */
static double
flush_rate(const char *dir, int grow)
{
	char path[1024], block[4096];
	int fd, n = 0;
	double t0, el = 0;
	if (snprintf(path, sizeof(path), "%s/fsync.bench", dir) >= (int)sizeof(path))
		return 0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return 0;
	memset(block, 'x', sizeof(block));
	for (int i = 0; !grow && i < 256; i++)
		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block))
			goto out;
	if (!grow && fsync(fd) != 0)
		goto out;
	t0 = vb_bench_now();
	do {
		ssize_t w = grow ? write(fd, block, sizeof(block)) :
		    pwrite(fd, block, sizeof(block), (off_t)(n % 256) * (off_t)sizeof(block));
		if (w != (ssize_t)sizeof(block) || fdatasync(fd) != 0)
			break;
		n++;
	} while ((el = vb_bench_now() - t0) < 1.0);
out:
	close(fd);
	unlink(path);
	return el > 0 ? n / el : 0;
}

double
vb_bench_fsync_rate(const char *dir)
{
	return flush_rate(dir, 1);
}

double
vb_bench_flush_rate(const char *dir)
{
	return flush_rate(dir, 0);
}

int
vb_bench_broker_start(vb_bench_broker *b, const char *base,
    const char *const *extra)
{
	const char *argv[32];
	size_t n = 0;

	memset(b, 0, sizeof(*b));
	snprintf(b->dir, sizeof(b->dir), "%s/vbbench.XXXXXX", base);
	if (mkdtemp(b->dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(b->data, sizeof(b->data), "%s/data", b->dir);
	snprintf(b->ingest, sizeof(b->ingest), "ipc://%s/ingest", b->dir);
	snprintf(b->pub, sizeof(b->pub), "ipc://%s/pub", b->dir);
	snprintf(b->query, sizeof(b->query), "ipc://%s/query", b->dir);
	argv[n++] = VB_BIN_DIR "/voicebusd";
	argv[n++] = "--data";
	argv[n++] = b->data;
	argv[n++] = "--ingest";
	argv[n++] = b->ingest;
	argv[n++] = "--pub";
	argv[n++] = b->pub;
	argv[n++] = "--query";
	argv[n++] = b->query;
	argv[n++] = "--log-level";
	argv[n++] = "warn";
	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if ((b->pid = fork()) == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	vb_client_opts o = { b->ingest, b->query, 500, NULL, NULL };
	for (int i = 0;; i++) {
		vb_client *cl;
		vb_query_req q = { .kind = VB_QUERY_STATS };
		vb_query_reply r;
		vb_client_open(&o, &cl);
		int rv = vb_client_query(cl, &q, &r);
		vb_client_close(cl);
		if (rv == 0) {
			vb_query_reply_free(&r);
			return 0;
		}
		if (i == 500) {
			fprintf(stderr, "bench: voicebusd did not start\n");
			kill(b->pid, SIGKILL);
			waitpid(b->pid, NULL, 0);
			return -1;
		}
		usleep(20000);
	}
}

void
vb_bench_broker_stop(vb_bench_broker *b)
{
	char cmd[600];
	if (b->pid > 0) {
		kill(b->pid, SIGTERM);
		waitpid(b->pid, NULL, 0);
		b->pid = 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", b->dir);
}
