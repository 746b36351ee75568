/* vb_bench_adapters: rows per second of an adapter import end to end --
 * the process reading the export, grouping, building and checking events,
 * publishing them to a real voicebusd that fsyncs each commit, and exiting.
 *
 * usage: vb_bench_adapters [--runs N] [--file CSV] [--dir DIR]
 * Runs `vb-sales --preset online-retail FILE` (default: the UCI retail
 * export in the shared data folder) N times (default 5), each against a
 * fresh broker on a temporary directory under DIR (default $TMPDIR or
 * /tmp: put it on the disk you want to measure), then once more against
 * the same broker (every event a duplicate), and once as --dry-run (no
 * broker).  Prints the median rows/s of each. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vb_bench.h"

#ifndef VB_BIN_DIR
#define VB_BIN_DIR "."
#endif
#ifndef VB_SHARED_DATA
#define VB_SHARED_DATA "."
#endif

/* Run vb-sales; its summary line goes to errpath.  Returns the seconds it
 * took, or -1. */
static double
import(const char *file, const vb_bench_broker *b, const char *errpath)
{
	const char *argv[16] = { VB_BIN_DIR "/vb-sales", "--preset",
		"online-retail" };
	size_t n = 3;
	int status;
	double t0 = vb_bench_now();
	pid_t pid;

	if (b) {
		argv[n++] = "--ingest";
		argv[n++] = b->ingest;
		argv[n++] = "--query";
		argv[n++] = b->query;
	} else {
		argv[n++] = "--dry-run";
	}
	argv[n++] = file;
	argv[n] = NULL;
	if ((pid = fork()) == 0) {
		int out = open("/dev/null", O_WRONLY);
		int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(out, 1);
		dup2(err, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	/* 2: guest orders are reported as rejected rows, which is expected. */
	if (!WIFEXITED(status) ||
	    (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 2))
		return -1;
	return vb_bench_now() - t0;
}

/* "rows read N" and "events N" of the summary line in path. */
static int
summary(const char *path, unsigned long long *rows, unsigned long long *events)
{
	char line[4096], *p;
	FILE *f = fopen(path, "r");
	int found = 0;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if ((p = strstr(line, ": rows read ")) != NULL) {
			*rows = strtoull(p + 12, NULL, 10);
			p = strstr(p, "; events ");
			*events = p ? strtoull(p + 9, NULL, 10) : 0;
			found = 1;
		}
	fclose(f);
	return found ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "file", required_argument, NULL, 'f' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = VB_SHARED_DATA "/online-retail-2010-12.csv";
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int runs = 5, c;
	char errpath[1024];
	double fresh[64], dup[64], dry[64];
	unsigned long long rows = 0, events = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': runs = atoi(optarg); break;
		case 'f': file = optarg; break;
		case 'd': base = optarg; break;
		case 'h':
			printf(
			    "usage: vb_bench_adapters [--runs N] [--file CSV] [--dir DIR]\n");
			return 0;
		default: return 2;
		}
	}
	if (runs < 1 || runs > 64) {
		fprintf(stderr, "vb_bench_adapters: --runs: 1 to 64\n");
		return 2;
	}
	if (access(file, R_OK) != 0) {
		fprintf(stderr,
		    "vb_bench_adapters: %s: cannot read it (--file CSV)\n",
		    file);
		return 1;
	}
	snprintf(errpath, sizeof(errpath), "%s/vb_bench_adapters.%d.err", base,
	    (int)getpid());
	for (int i = 0; i < runs; i++) {
		vb_bench_broker b;
		if (vb_bench_broker_start(&b, base, NULL) != 0)
			return 1;
		fresh[i] = import(file, &b, errpath);
		if (fresh[i] > 0 && i == 0 &&
		    summary(errpath, &rows, &events) != 0)
			fresh[i] = -1;
		dup[i] = import(file, &b, errpath);
		vb_bench_broker_stop(&b);
		dry[i] = import(file, NULL, errpath);
		if (fresh[i] < 0 || dup[i] < 0 || dry[i] < 0) {
			fprintf(stderr,
			    "vb_bench_adapters: an import failed; its messages: %s\n",
			    errpath);
			return 1;
		}
	}
	unlink(errpath);
	printf("vb-sales --preset online-retail %s\n", file);
	printf(
	    "%llu rows, %llu events; median of %d runs, end to end (process start to exit)\n",
	    rows, events, runs);
	printf("  %-34s %8.3f s  %10.0f rows/s  %8.0f events/s\n",
	    "import into an empty broker", vb_bench_median(fresh, runs),
	    rows / vb_bench_median(fresh, runs),
	    events / vb_bench_median(fresh, runs));
	printf("  %-34s %8.3f s  %10.0f rows/s\n",
	    "the same again (all duplicates)", vb_bench_median(dup, runs),
	    rows / vb_bench_median(dup, runs));
	printf("  %-34s %8.3f s  %10.0f rows/s\n", "--dry-run (no broker)",
	    vb_bench_median(dry, runs), rows / vb_bench_median(dry, runs));
	return 0;
}
