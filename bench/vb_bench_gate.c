/* vb_bench_gate: gate decisions over the query socket of a real voicebusd
 * holding 100,000 customers with history: p50 and p99 latency with one
 * client, decisions/s with 8 clients, and decisions/s when asked in batches
 * of 1,000 (what `voicebus filter` does).  Median of --runs runs.
 *
 * Then `voicebus filter` over an audience of --audience rows (1,000,000)
 * drawn from those customers, end to end: CSV in, CSV out.
 *
 * usage: vb_bench_gate [--runs N] [--customers N] [--audience N] [--dir DIR] */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vb_bench.h"
#include "vb_client.h"
#include "vb_time.h"

static const char *const purposes[] = { "upsell", "cross-sell", "promotion", "survey", "service" };
static const char *const channels[] = { "email", "sms", "phone", "post", "push" };

/* Publish a history: every customer has an order; some have complaints
 * (open or resolved), overdue invoices, withdrawn consent, messages. */
static int
load_history(const char *ingest, size_t customers)
{
	vb_client_opts o = { ingest, NULL, 120000, NULL, NULL };
	vb_client *c;
	vb_event *evs[1000];
	size_t n = 0;
	char json[512], err[256], now[VB_TIME_BUFSZ], old[VB_TIME_BUFSZ];
	int rv = 0;

	vb_time_format(vb_time_now() - 3600LL * 1000000, now);
	vb_time_format(vb_time_now() - 5LL * 86400 * 1000000, old);
	if (vb_client_open(&o, &c) != 0)
		return -1;
	for (size_t i = 0; i < customers && rv == 0; i++) {
		for (int k = 0; k < 6; k++) {
			const char *body = NULL;
			switch (k) {
			case 0: body = "\"source\":\"sales\",\"type\":\"order.placed\",\"data\":{\"order\":\"O-%zu\",\"amount\":\"10.00\"}"; break;
			case 1: if (i % 10 == 1) body = "\"source\":\"service\",\"type\":\"complaint.opened\",\"data\":{\"case\":\"T-%zu\",\"summary\":\"broken\"}"; break;
			case 2: if (i % 10 == 2) body = "\"source\":\"service\",\"type\":\"complaint.resolved\",\"data\":{\"case\":\"T-%zu\"}"; break;
			case 3: if (i % 20 == 3) body = "\"source\":\"finance\",\"type\":\"invoice.overdue\",\"data\":{\"invoice\":\"I-%zu\"}"; break;
			case 4: if (i % 20 == 4) body = "\"source\":\"customer\",\"type\":\"consent.withdrawn\",\"data\":{\"channel\":\"sms\",\"purpose\":\"promotion\",\"x\":\"%zu\"}"; break;
			case 5: if (i % 3 == 0) body = "\"source\":\"marketing\",\"type\":\"message.sent\",\"data\":{\"channel\":\"email\",\"purpose\":\"promotion\",\"campaign\":\"c-%zu\"}"; break;
			}
			if (body == NULL)
				continue;
			char b2[300];
			snprintf(b2, sizeof(b2), body, i);
			/* The consent body has no extra field in the schema. */
			if (k == 4)
				snprintf(b2, sizeof(b2), "\"source\":\"customer\",\"type\":\"consent.withdrawn\",\"data\":{\"channel\":\"sms\",\"purpose\":\"promotion\"}");
			snprintf(json, sizeof(json), "{\"id\":\"h-%zu-%d\",\"customer\":\"C-%06zu\",\"time\":\"%s\",%s}",
			    i, k, i, k == 5 ? old : now, b2);
			if (vb_event_from_json(json, strlen(json), &evs[n], err, sizeof(err)) != 0) {
				fprintf(stderr, "bench: %s: %s\n", json, err);
				rv = -1;
				break;
			}
			if (++n == 1000) {
				vb_ingest_reply r;
				if (vb_client_publish(c, evs, n, &r) != 0 || r.code != 0)
					rv = -1;
				else
					vb_ingest_reply_free(&r);
				for (size_t j = 0; j < n; j++)
					vb_event_free(evs[j]);
				n = 0;
			}
		}
	}
	if (n > 0 && rv == 0) {
		vb_ingest_reply r;
		if (vb_client_publish(c, evs, n, &r) != 0 || r.code != 0)
			rv = -1;
		else
			vb_ingest_reply_free(&r);
	}
	for (size_t j = 0; j < n; j++)
		vb_event_free(evs[j]);
	vb_client_close(c);
	return rv;
}

typedef struct {
	const char *query;
	size_t customers, requests, batch;
	unsigned seed;
	double *lat;   /* per request, seconds; may be NULL */
	int failed;
} asker;

static void *
ask(void *arg)
{
	asker *a = arg;
	vb_client_opts o = { NULL, a->query, 30000, NULL, NULL };
	vb_client *c;
	char (*names)[16] = malloc(a->batch * sizeof(*names));
	const char **ptrs = malloc(a->batch * sizeof(*ptrs));
	unsigned s = a->seed;

	if (names == NULL || ptrs == NULL || vb_client_open(&o, &c) != 0) {
		a->failed = 1;
		free(names);
		free(ptrs);
		return NULL;
	}
	for (size_t i = 0; i < a->requests && !a->failed; i++) {
		vb_query_req q = { .kind = VB_QUERY_GATE };
		vb_query_reply r;
		for (size_t k = 0; k < a->batch; k++) {
			snprintf(names[k], sizeof(names[k]), "C-%06u", rand_r(&s) % (unsigned)a->customers);
			ptrs[k] = names[k];
		}
		q.gate.customers = ptrs;
		q.gate.n = a->batch;
		q.gate.purpose = purposes[rand_r(&s) % 5];
		q.gate.channel = channels[rand_r(&s) % 5];
		double t0 = vb_bench_now();
		if (vb_client_query(c, &q, &r) != 0 || r.code != 0 || r.ndecisions != a->batch)
			a->failed = 1;
		else
			vb_query_reply_free(&r);
		if (a->lat)
			a->lat[i] = vb_bench_now() - t0;
	}
	vb_client_close(c);
	free(names);
	free(ptrs);
	return NULL;
}

/* decisions/s of `clients` threads, each asking `requests` of `batch`. */
static double
throughput(const char *query, size_t customers, int clients, size_t requests,
    size_t batch, unsigned seed)
{
	pthread_t th[16];
	asker a[16];
	double t0 = vb_bench_now(), el;
	for (int i = 0; i < clients; i++) {
		a[i] = (asker){ query, customers, requests, batch, seed + (unsigned)i, NULL, 0 };
		pthread_create(&th[i], NULL, ask, &a[i]);
	}
	for (int i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	el = vb_bench_now() - t0;
	for (int i = 0; i < clients; i++)
		if (a[i].failed)
			return -1;
	return (double)clients * (double)requests * (double)batch / el;
}

/* Seconds `voicebus filter` takes over the audience file, or -1. */
static double
run_filter(const vb_bench_broker *b, const char *audience, const char *blocked)
{
	double t0;
	int status;
	pid_t pid;

	fflush(stdout); /* the child's freopen would write our buffer out again */
	t0 = vb_bench_now();
	pid = fork();
	if (pid == 0) {
		FILE *in = freopen(audience, "r", stdin);
		FILE *out = freopen("/dev/null", "w", stdout);
		FILE *err = freopen("/dev/null", "w", stderr);
		(void)in, (void)out, (void)err;
		execl(VB_BENCH_BIN "/voicebus", "voicebus", "filter", "--query", b->query,
		    "--purpose", "upsell", "--channel", "email", "--blocked", blocked, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return vb_bench_now() - t0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "customers", required_argument, NULL, 'c' },
		{ "audience", required_argument, NULL, 'a' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int runs = 5, c;
	size_t customers = 100000, nreq = 2000, audience = 1000000;
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	vb_bench_broker b;
	double p50[99], p99[99], t8[99], tb[99], tf[99];

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': runs = atoi(optarg); break;
		case 'c': customers = (size_t)atol(optarg); break;
		case 'a': audience = (size_t)atol(optarg); break;
		case 'd': base = optarg; break;
		case 'h':
			printf("usage: vb_bench_gate [--runs N] [--customers N] [--audience N] [--dir DIR]\n");
			return 0;
		default: return 2;
		}
	}
	if (runs < 1 || runs > 99 || customers < 10) {
		fprintf(stderr, "vb_bench_gate: --runs 1..99, --customers >= 10\n");
		return 2;
	}
	if (vb_bench_broker_start(&b, base, NULL) != 0)
		return 1;
	double t0 = vb_bench_now();
	if (load_history(b.ingest, customers) != 0) {
		fprintf(stderr, "vb_bench_gate: loading the history failed\n");
		vb_bench_broker_stop(&b);
		return 1;
	}
	printf("voicebus gate over the query socket (ipc), %zu customers with history "
	    "(loaded in %.1f s); median of %d runs\n\n", customers, vb_bench_now() - t0, runs);
	double *lat = malloc(nreq * sizeof(*lat));
	for (int r = 0; r < runs; r++) {
		asker a = { b.query, customers, nreq, 1, 1000u + (unsigned)r, lat, 0 };
		ask(&a);
		if (a.failed) {
			fprintf(stderr, "vb_bench_gate: a query failed\n");
			vb_bench_broker_stop(&b);
			return 1;
		}
		p50[r] = vb_bench_percentile(lat, nreq, 50) * 1e6;
		p99[r] = vb_bench_percentile(lat, nreq, 99) * 1e6;
		t8[r] = throughput(b.query, customers, 8, nreq / 2, 1, 2000u + (unsigned)r * 16);
		tb[r] = throughput(b.query, customers, 1, 50, 1000, 3000u + (unsigned)r);
	}
	free(lat);
	/* The audience: a header and rows with quoting, as a CRM exports. */
	char aud[700], blocked[700];
	snprintf(aud, sizeof(aud), "%s/audience.csv", b.dir);
	snprintf(blocked, sizeof(blocked), "%s/blocked.csv", b.dir);
	FILE *f = fopen(aud, "w");
	unsigned seed = 42;
	fprintf(f, "email,customer,name\n");
	for (size_t i = 0; i < audience; i++) {
		unsigned cu = rand_r(&seed) % (unsigned)customers;
		fprintf(f, "c%u@example.com,C-%06u,\"Name, %u\"\n", cu, cu, cu);
	}
	fclose(f);
	for (int r = 0; r < runs; r++) {
		if ((tf[r] = run_filter(&b, aud, blocked)) < 0) {
			fprintf(stderr, "vb_bench_gate: voicebus filter failed\n");
			vb_bench_broker_stop(&b);
			return 1;
		}
	}
	printf("%-44s %12s\n", "workload", "median");
	printf("%-44s %9.0f us\n", "1 client, 1 decision/request: p50", vb_bench_median(p50, runs));
	printf("%-44s %9.0f us\n", "1 client, 1 decision/request: p99", vb_bench_median(p99, runs));
	printf("%-44s %9.0f /s\n", "8 clients, 1 decision/request", vb_bench_median(t8, runs));
	printf("%-44s %9.0f /s\n", "1 client, 1000 decisions/request", vb_bench_median(tb, runs));
	char label[64];
	snprintf(label, sizeof(label), "voicebus filter, %zu rows", audience);
	printf("%-44s %9.2f s\n", label, vb_bench_median(tf, runs));
	vb_bench_broker_stop(&b);
	return 0;
}
