/* vb_cmp_read: the reading workloads of the vb_cmp driver (see
 * docs/benchmarks.md): 5 (replay of a stored log to one consumer) and 6
 * (gate decisions or key-value gets, and an audience filtered). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vb_bench.h"
#include "vb_cmp_impl.h"
#include "vb_error.h"

#define BATCH_LOAD 1000 /* events per request when loading (max_batch) */

/* ---- workload 5: replay ---- */

/* Store n events in batches of BATCH_LOAD; events/s. */
static int
load_events(vb_cmp_ctx *c, uint64_t n, double *rate)
{
	vb_cmp_conn *conn;
	uint8_t *buf = malloc(BATCH_LOAD * c->t.len);
	vb_cmp_ev evs[BATCH_LOAD];
	unsigned ph = ++c->phase;
	int64_t t0 = vb_cmp_now_ns();
	int rv;

	if (buf == NULL)
		return VB_ENOMEM;
	if ((rv = c->be->conn_open(c->sys, &conn)) != 0) {
		free(buf);
		return rv;
	}
	for (uint64_t i = 0; i < n && rv == 0;) {
		size_t k = 0;
		for (; k < BATCH_LOAD && i < n; k++, i++) {
			evs[k] = (vb_cmp_ev){ buf + k * c->t.len, c->t.len };
			vb_cmp_event_make(&c->t, buf + k * c->t.len, ph, 0, i);
		}
		rv = c->be->publish(conn, evs, k);
	}
	if (rv == 0 && c->be->flush)
		rv = c->be->flush(conn);
	*rate = (double)n / ((double)(vb_cmp_now_ns() - t0) / 1e9);
	c->be->conn_close(conn);
	free(buf);
	return rv;
}

int
vb_cmp_work_replay(vb_cmp_ctx *c)
{
	double load, r[99], cli[99];
	uint64_t n = c->replay_events;
	vb_cmp_conn *conn;
	int rv;

	if ((rv = load_events(c, n, &load)) != 0)
		return rv;
	vb_cmp_info("w5.load_rate", load);
	vb_cmp_settle(c);
	if ((rv = c->be->conn_open(c->sys, &conn)) != 0)
		return rv;
	if ((rv = vb_cmp_measure_begin(c)) != 0)
		goto done;
	for (int i = 0; i < c->runs && rv == 0; i++) {
		uint64_t count = 0, bytes = 0;
		int64_t t0 = vb_cmp_now_ns();
		rv = c->be->replay(conn, n, &count, &bytes);
		r[i] = (double)count / ((double)(vb_cmp_now_ns() - t0) / 1e9);
		if (rv == 0 && count != n) {
			fprintf(stderr,
			    "vb_cmp: %s: replay brought %llu events of %llu\n",
			    c->be->name, (unsigned long long)count,
			    (unsigned long long)n);
			rv = VB_EIO;
		}
		if (i == 0 && rv == 0)
			vb_cmp_info("w5.bytes_per_event",
			    (double)bytes / (double)count);
	}
	if (vb_cmp_measure_end(c, n * (uint64_t)c->runs) != 0 && rv == 0)
		rv = VB_EIO;
	if (rv != 0)
		goto done;
	vb_cmp_result_median("w5.rate", r, c->runs);
	if (c->be->replay_cli && !c->callgrind && c->perf_out == NULL) {
		static const char *const fmts[] = { "pb", "jsonl" };
		for (size_t f = 0; f < 2 && rv == 0; f++) {
			char key[64];
			for (int i = 0; i < c->runs && rv == 0; i++) {
				double s = 0;
				rv = c->be->replay_cli(c->sys, fmts[f], &s);
				cli[i] = s > 0 ? (double)n / s : 0;
			}
			snprintf(key, sizeof(key), "w5.cli_%s", fmts[f]);
			if (rv == 0)
				vb_cmp_result_median(key, cli, c->runs);
		}
	}
done:
	c->be->conn_close(conn);
	return rv;
}

/* ---- workload 6: lookups ---- */

static const char *const purposes[] = { "upsell", "cross-sell", "promotion",
	"survey", "service" };
static const char *const channels[] = { "email", "sms", "phone", "post",
	"push" };

typedef struct asker {
	vb_cmp_ctx *c;
	unsigned seed;
	pthread_barrier_t *bar;
	uint64_t done;
	int64_t end_ns;
	vb_cmp_lat l;
	int failed;
} asker;

static void *
ask_main(void *arg)
{
	asker *a = arg;
	const vb_cmp_backend *be = a->c->be;
	vb_cmp_conn *conn = NULL;
	char cust[16];
	int64_t deadline;

	if (be->conn_open(a->c->sys, &conn) != 0)
		a->failed = 1;
	pthread_barrier_wait(a->bar);
	deadline = vb_cmp_now_ns() + (int64_t)(a->c->seconds * 1e9);
	while (!a->failed) {
		vb_cmp_ask q = { cust, purposes[rand_r(&a->seed) % 5],
			channels[rand_r(&a->seed) % 5] };
		vb_cmp_customer((size_t)rand_r(&a->seed) % a->c->customers,
		    cust);
		int64_t t0 = vb_cmp_now_ns();
		if (be->lookup(conn, &q) != 0) {
			a->failed = 1;
			break;
		}
		a->end_ns = vb_cmp_now_ns();
		a->done++;
		if (vb_cmp_lat_add(&a->l, (double)(a->end_ns - t0) / 1e3) != 0)
			a->failed = 1;
		if (a->end_ns >= deadline ||
		    (a->c->budget && a->done >= a->c->budget))
			break;
	}
	if (conn)
		be->conn_close(conn);
	return NULL;
}

static int
ask_run(vb_cmp_ctx *c, int clients, unsigned seed, double *rate, double *p50,
    double *p99)
{
	pthread_t th[VB_CMP_MAX_CLIENTS];
	asker a[VB_CMP_MAX_CLIENTS];
	pthread_barrier_t bar;
	uint64_t done = 0;
	int64_t t0, end = 0;
	int rv = 0;

	pthread_barrier_init(&bar, NULL, (unsigned)clients + 1);
	for (int i = 0; i < clients; i++) {
		a[i] = (asker){ .c = c,
			.seed = seed + (unsigned)i * 7919,
			.bar = &bar };
		pthread_create(&th[i], NULL, ask_main, &a[i]);
	}
	pthread_barrier_wait(&bar);
	t0 = vb_cmp_now_ns();
	for (int i = 0; i < clients; i++) {
		pthread_join(th[i], NULL);
		if (a[i].failed)
			rv = VB_EIO;
		done += a[i].done;
		if (a[i].end_ns > end)
			end = a[i].end_ns;
	}
	pthread_barrier_destroy(&bar);
	if (rv == 0 && end > t0) {
		*rate = (double)done / ((double)(end - t0) / 1e9);
		*p50 = vb_bench_percentile(a[0].l.v, a[0].l.n, 50);
		*p99 = vb_bench_percentile(a[0].l.v, a[0].l.n, 99);
	} else {
		fprintf(stderr, "vb_cmp: %s: a lookup failed\n", c->be->name);
		rv = VB_EIO;
	}
	for (int i = 0; i < clients; i++)
		free(a[i].l.v);
	return rv;
}

/* The audience of `voicebus filter`: a header and rows with quoting, as a
 * CRM exports them, customers drawn from the loaded ones. */
static int
write_audience(const vb_cmp_ctx *c, const char *path)
{
	FILE *f = fopen(path, "w");
	unsigned seed = 42;
	if (f == NULL) {
		fprintf(stderr, "vb_cmp: %s: %s\n", path, strerror(errno));
		return VB_EIO;
	}
	fprintf(f, "email,customer,name\n");
	for (size_t i = 0; i < c->audience; i++) {
		unsigned cu = (unsigned)rand_r(&seed) % (unsigned)c->customers;
		fprintf(f, "c%u@example.com,C-%06u,\"Name, %u\"\n", cu, cu, cu);
	}
	if (fclose(f) != 0)
		return VB_EIO;
	return 0;
}

int
vb_cmp_work_lookup(vb_cmp_ctx *c)
{
	double p50[99], p99[99], r1[99], r8[99], fl[99], x;
	char aud[600], blocked[600];
	int64_t t0 = vb_cmp_now_ns();
	int rv;

	if ((rv = c->be->lookup_load(c->sys, c->customers)) != 0)
		return rv;
	vb_cmp_info("w6.load_seconds", (double)(vb_cmp_now_ns() - t0) / 1e9);
	vb_cmp_settle(c);
	if ((rv = vb_cmp_measure_begin(c)) != 0)
		return rv;
	for (int i = 0; i < c->runs && rv == 0; i++) {
		rv = ask_run(c, 1, 1000u + (unsigned)i, &r1[i], &p50[i],
		    &p99[i]);
		if (rv == 0)
			rv = ask_run(c, 8, 2000u + (unsigned)i * 16, &r8[i], &x,
			    &x);
	}
	if (vb_cmp_measure_end(c, 0) != 0 && rv == 0)
		rv = VB_EIO;
	if (rv != 0)
		return rv;
	vb_cmp_result_median("w6.p50", p50, c->runs);
	vb_cmp_result_median("w6.p99", p99, c->runs);
	vb_cmp_result_median("w6.rate1", r1, c->runs);
	vb_cmp_result_median("w6.rate8", r8, c->runs);
	if (c->be->filter == NULL || c->audience == 0)
		return 0;
	snprintf(aud, sizeof(aud), "%s/vb_cmp_audience.%d.csv", c->dir,
	    (int)getpid());
	snprintf(blocked, sizeof(blocked), "%s/vb_cmp_blocked.%d.csv", c->dir,
	    (int)getpid());
	if ((rv = write_audience(c, aud)) == 0) {
		for (int i = 0; i < c->runs && rv == 0; i++)
			rv = c->be->filter(c->sys, aud, blocked, &fl[i]);
		if (rv == 0)
			vb_cmp_result_median("w6.filter_seconds", fl, c->runs);
	}
	unlink(aud);
	unlink(blocked);
	return rv;
}
