/* vb_bench_ingest: fsync'd events stored per second by a real voicebusd,
 * with 1 and with 8 concurrent publishers, one event per request and in
 * batches, next to the disk's own fsync rate (the baseline: without group
 * commit, one publisher cannot beat it).
 *
 * usage: vb_bench_ingest [--runs N] [--events N] [--dir DIR]
 * Starts build/bin/voicebusd on a temporary directory (under --dir, default
 * $TMPDIR or /tmp: put it on the disk you want to measure) and ipc://
 * sockets; prints the median of N runs per row. */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vb_bench.h"
#include "vb_client.h"
#include "vb_error.h"

typedef struct {
	const char *ingest;
	int id, run;
	size_t events, batch;
	int failed;
} pub_arg;

static void *
publisher(void *arg)
{
	pub_arg *a = arg;
	vb_client_opts o = { a->ingest, NULL, 60000, NULL, NULL };
	vb_client *c;
	vb_event **evs = calloc(a->batch, sizeof(*evs));
	char json[512], err[256];

	if (vb_client_open(&o, &c) != 0 || evs == NULL) {
		a->failed = 1;
		return NULL;
	}
	/* 200-byte-ish events, customers spread over 100,000. */
	for (size_t i = 0; i < a->events && !a->failed;) {
		size_t n = 0;
		for (; n < a->batch && i < a->events; n++, i++) {
			snprintf(json, sizeof(json),
			    "{\"id\":\"b%d-r%d-%zu\",\"source\":\"sales\",\"type\":\"order.placed\","
			    "\"customer\":\"C-%06zu\",\"time\":\"2026-11-20T10:00:00Z\","
			    "\"data\":{\"order\":\"O-%d-%zu\",\"amount\":\"19.99\",\"currency\":\"GBP\",\"items\":3}}",
			    a->id, a->run, i, (i * 7919 + (size_t)a->id) % 100000, a->run, i);
			if (vb_event_from_json(json, strlen(json), &evs[n], err, sizeof(err)) != 0) {
				a->failed = 1;
				break;
			}
		}
		vb_ingest_reply rep;
		if (vb_client_publish(c, evs, n, &rep) != 0) {
			a->failed = 1;
		} else {
			if (rep.code != 0)
				a->failed = 1;
			vb_ingest_reply_free(&rep);
		}
		for (size_t k = 0; k < n; k++)
			vb_event_free(evs[k]);
	}
	free(evs);
	vb_client_close(c);
	return NULL;
}

/* Events per second for one run of `pubs` publishers. */
static double
run_once(const char *ingest, int pubs, size_t events, size_t batch, int run)
{
	pthread_t th[64];
	pub_arg args[64];
	double t0 = vb_bench_now(), el;
	for (int i = 0; i < pubs; i++) {
		args[i] = (pub_arg){ ingest, i, run, events, batch, 0 };
		pthread_create(&th[i], NULL, publisher, &args[i]);
	}
	for (int i = 0; i < pubs; i++)
		pthread_join(th[i], NULL);
	el = vb_bench_now() - t0;
	for (int i = 0; i < pubs; i++)
		if (args[i].failed)
			return -1;
	return (double)pubs * (double)events / el;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "events", required_argument, NULL, 'e' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int runs = 5, c;
	size_t events = 2000;
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': runs = atoi(optarg); break;
		case 'e': events = (size_t)atol(optarg); break;
		case 'd': base = optarg; break;
		case 'h':
			printf("usage: vb_bench_ingest [--runs N] [--events N per publisher and row] [--dir DIR]\n");
			return 0;
		default: return 2;
		}
	}
	if (runs < 1 || runs > 99 || events < 1) {
		fprintf(stderr, "vb_bench_ingest: --runs 1..99, --events >= 1\n");
		return 2;
	}
	vb_bench_broker b;
	double fsyncs = vb_bench_fsync_rate(base);
	if (vb_bench_broker_start(&b, base, NULL) != 0)
		return 1;
	const char *ingest = b.ingest;

	static const struct {
		int pubs;
		size_t batch;
		const char *name;
	} rows[] = {
		{ 1, 1, "1 publisher, 1 event/request" },
		{ 8, 1, "8 publishers, 1 event/request" },
		{ 1, 100, "1 publisher, batches of 100" },
		{ 8, 100, "8 publishers, batches of 100" },
	};
	printf("voicebus ingest, fsync'd acknowledgements; median of %d runs\n", runs);
	printf("disk baseline: %.0f fsyncs/s (4 KiB append + fdatasync) in %s\n\n", fsyncs, base);
	printf("%-32s %14s %14s\n", "workload", "events/s", "x fsync rate");
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		double v[99];
		/* Batched rows send more events so each run lasts long enough
		 * to measure. */
		size_t n = rows[r].batch > 1 ? events * 50 : events;
		for (int k = 0; k < runs; k++) {
			v[k] = run_once(ingest, rows[r].pubs, n, rows[r].batch, (int)(r * 100 + (size_t)k));
			if (v[k] < 0) {
				fprintf(stderr, "vb_bench_ingest: a publish failed\n");
				vb_bench_broker_stop(&b);
				return 1;
			}
		}
		double m = vb_bench_median(v, runs);
		printf("%-32s %14.0f %14.2f\n", rows[r].name, m, fsyncs > 0 ? m / fsyncs : 0);
		fflush(stdout);
	}
	vb_bench_broker_stop(&b);
	return 0;
}
