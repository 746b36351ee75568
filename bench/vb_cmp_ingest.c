/* vb_cmp_ingest: the publishing workloads of the vb_cmp driver (see
 * docs/benchmarks.md): 1-3 (publishers, one event or batches of 100 per
 * request), 4 (publish to a subscriber's receipt) and the retail export. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vb_bench.h"
#include "vb_cmp_impl.h"
#include "vb_error.h"
#include "vb_event.h"

int
vb_cmp_lat_add(vb_cmp_lat *l, double x)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		double *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return VB_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = x;
	return 0;
}

/* ---- workloads 1-3: publishers ---- */

typedef struct pub {
	vb_cmp_ctx *c;
	unsigned thread, phase;
	size_t batch;
	uint64_t budget;
	pthread_barrier_t *bar;
	uint64_t done;
	int64_t end_ns;
	vb_cmp_lat l;
	int failed;
} pub;

static void *
pub_main(void *arg)
{
	pub *a = arg;
	const vb_cmp_backend *be = a->c->be;
	const vb_cmp_tmpl *t = &a->c->t;
	vb_cmp_conn *conn = NULL;
	uint8_t *buf = malloc(a->batch * t->len);
	vb_cmp_ev *evs = calloc(a->batch, sizeof(*evs));
	uint64_t i = 0;
	int64_t deadline;

	if (buf == NULL || evs == NULL || be->conn_open(a->c->sys, &conn) != 0)
		a->failed = 1;
	for (size_t k = 0; k < a->batch; k++)
		evs[k] = (vb_cmp_ev){ buf + k * t->len, t->len };
	/* One untimed request: connections are set up before the clock. */
	if (!a->failed) {
		vb_cmp_event_make(t, buf, a->phase, a->thread, i++);
		if (be->publish(conn, evs, 1) != 0)
			a->failed = 1;
	}
	pthread_barrier_wait(a->bar);
	deadline = vb_cmp_now_ns() + (int64_t)(a->c->seconds * 1e9);
	while (!a->failed) {
		for (size_t k = 0; k < a->batch; k++)
			vb_cmp_event_make(t, buf + k * t->len, a->phase,
			    a->thread, i++);
		int64_t t0 = vb_cmp_now_ns();
		if (be->publish(conn, evs, a->batch) != 0) {
			a->failed = 1;
			break;
		}
		a->end_ns = vb_cmp_now_ns();
		a->done += a->batch;
		if (vb_cmp_lat_add(&a->l, (double)(a->end_ns - t0) / 1e3) != 0)
			a->failed = 1;
		if (a->end_ns >= deadline ||
		    (a->budget && a->done >= a->budget))
			break;
	}
	/* What an asynchronous window still has in flight counts when it is
	 * acknowledged. */
	if (!a->failed && be->flush) {
		if (be->flush(conn) != 0)
			a->failed = 1;
		a->end_ns = vb_cmp_now_ns();
	}
	if (conn)
		be->conn_close(conn);
	free(buf);
	free(evs);
	return NULL;
}

/* One run of pubs publishers: *rate events/s, and request latencies in µs
 * (p50, p99). */
static int
publish_run(vb_cmp_ctx *c, int pubs, size_t batch, double *rate, double *p50,
    double *p99, uint64_t *total)
{
	pthread_t th[VB_CMP_MAX_CLIENTS];
	pub a[VB_CMP_MAX_CLIENTS];
	pthread_barrier_t bar;
	vb_cmp_lat all = { 0 };
	uint64_t done = 0;
	int64_t t0, end = 0;
	int rv = 0;

	unsigned phase = ++c->phase;
	pthread_barrier_init(&bar, NULL, (unsigned)pubs + 1);
	for (int i = 0; i < pubs; i++) {
		a[i] = (pub){ .c = c,
			.thread = (unsigned)i,
			.phase = phase,
			.batch = batch,
			.bar = &bar,
			.budget = c->budget
			    ? (c->budget + (uint64_t)pubs - 1) / (uint64_t)pubs
			    : 0 };
		pthread_create(&th[i], NULL, pub_main, &a[i]);
	}
	pthread_barrier_wait(&bar);
	t0 = vb_cmp_now_ns();
	for (int i = 0; i < pubs; i++) {
		pthread_join(th[i], NULL);
		if (a[i].failed)
			rv = VB_EIO;
		done += a[i].done;
		if (a[i].end_ns > end)
			end = a[i].end_ns;
		for (size_t k = 0; k < a[i].l.n && rv == 0; k++)
			if (vb_cmp_lat_add(&all, a[i].l.v[k]) != 0)
				rv = VB_ENOMEM;
		free(a[i].l.v);
	}
	pthread_barrier_destroy(&bar);
	*total += done;
	if (rv == 0 && end > t0) {
		*rate = (double)done / ((double)(end - t0) / 1e9);
		*p50 = vb_bench_percentile(all.v, all.n, 50);
		*p99 = vb_bench_percentile(all.v, all.n, 99);
	} else if (rv == 0) {
		rv = VB_EIO;
	}
	free(all.v);
	if (rv != 0)
		fprintf(stderr, "vb_cmp: %s: a publisher failed\n",
		    c->be->name);
	return rv;
}

/* Workloads 1, 2 and 3: pubs publishers, batch events per request. */
int
vb_cmp_work_publish(vb_cmp_ctx *c, const char *key, int pubs, size_t batch,
    int latencies)
{
	double r[99], p50[99], p99[99];
	uint64_t total = 0;
	char k[64];
	int rv;

	if ((rv = vb_cmp_measure_begin(c)) != 0)
		return rv;
	for (int i = 0; i < c->runs; i++)
		if ((rv = publish_run(c, pubs, batch, &r[i], &p50[i], &p99[i],
		         &total)) != 0)
			break;
	if (vb_cmp_measure_end(c, total) != 0 || rv != 0)
		return rv ? rv : VB_EIO;
	snprintf(k, sizeof(k), "%s.rate", key);
	vb_cmp_result_median(k, r, c->runs);
	if (latencies) {
		snprintf(k, sizeof(k), "%s.p50", key);
		vb_cmp_result_median(k, p50, c->runs);
		snprintf(k, sizeof(k), "%s.p99", key);
		vb_cmp_result_median(k, p99, c->runs);
	}
	return 0;
}

/* ---- workload 4: publish to receipt ---- */

typedef struct e2e {
	vb_cmp_ctx *c;
	vb_cmp_sub *sub;
	atomic_int stop;
	atomic_uint phase; /* the run whose events are timed */
	atomic_uint probe; /* the phase of the readiness probes */
	atomic_int probe_seen;
	_Atomic int64_t *sent, *got; /* ns, by event number; 0: not yet */
	size_t cap;
	int failed;
} e2e;

static void *
e2e_sub_main(void *arg)
{
	e2e *e = arg;
	const vb_cmp_backend *be = e->c->be;

	while (!atomic_load(&e->stop)) {
		const uint8_t *p;
		size_t len;
		unsigned phase;
		uint64_t i;
		int rv = be->sub_next(e->sub, 100, &p, &len);
		int64_t now = vb_cmp_now_ns();
		if (rv == VB_ETIMEDOUT)
			continue;
		if (rv != 0) {
			e->failed = 1;
			break;
		}
		if (vb_cmp_event_parse(p, len, &phase, &i) != 0)
			continue;
		if (phase == atomic_load(&e->probe)) {
			atomic_store(&e->probe_seen, 1);
		} else if (phase == atomic_load(&e->phase) && i < e->cap) {
			int64_t s = atomic_load(&e->sent[i]);
			if (s > 0)
				atomic_store(&e->got[i], now - s);
		}
	}
	return NULL;
}

static int
publish_one(vb_cmp_ctx *c, vb_cmp_conn *conn, uint8_t *buf, unsigned phase,
    uint64_t i)
{
	vb_cmp_ev ev = { buf, c->t.len };
	vb_cmp_event_make(&c->t, buf, phase, 0, i);
	return c->be->publish(conn, &ev, 1);
}

/* Sleep until the monotonic time ns. */
static void
sleep_until(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000),
		(long)(ns % 1000000000) };
	while (
	    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int
vb_cmp_work_e2e(vb_cmp_ctx *c)
{
	e2e e = { .c = c };
	pthread_t th;
	vb_cmp_conn *conn = NULL;
	uint8_t *buf = malloc(c->t.len);
	double p50[99], p99[99], lost[99], achieved[99];
	int started = 0, rv;

	if (buf == NULL)
		return VB_ENOMEM;
	if ((rv = c->be->conn_open(c->sys, &conn)) != 0)
		goto done;
	/* Half the maximum rate: the script passes half of workload 1's
	 * median; without it, measure one publisher for a second. */
	if (c->rate <= 0) {
		unsigned ph = ++c->phase;
		uint64_t n = 0;
		int64_t t0 = vb_cmp_now_ns(), el;
		do {
			if ((rv = publish_one(c, conn, buf, ph, n++)) != 0)
				goto done;
		} while ((el = vb_cmp_now_ns() - t0) < 1000000000);
		c->rate = (double)n / ((double)el / 1e9) / 2;
	}
	size_t count = (size_t)(c->rate * c->seconds);
	if (count < 200)
		count = 200;
	if (c->budget && count > c->budget)
		count = (size_t)c->budget;
	e.cap = count;
	e.sent = calloc(count, sizeof(*e.sent));
	e.got = calloc(count, sizeof(*e.got));
	if (e.sent == NULL || e.got == NULL) {
		rv = VB_ENOMEM;
		goto done;
	}
	if ((rv = c->be->sub_open(c->sys, &e.sub)) != 0)
		goto done;
	atomic_store(&e.probe, ++c->phase);
	pthread_create(&th, NULL, e2e_sub_main, &e);
	started = 1;
	/* The subscriber is ready once it receives one of these. */
	for (uint64_t i = 0; !atomic_load(&e.probe_seen); i++) {
		if (i == 1000 || e.failed) {
			fprintf(stderr,
			    "vb_cmp: %s: the subscriber receives nothing\n",
			    c->be->name);
			rv = VB_EIO;
			goto done;
		}
		if ((rv = publish_one(c, conn, buf, atomic_load(&e.probe),
		         i)) != 0)
			goto done;
		usleep(10000);
	}
	vb_cmp_info("w4.offered_rate", c->rate);
	int64_t interval = (int64_t)(1e9 / c->rate);
	for (int r = 0; r < c->runs; r++) {
		unsigned ph = ++c->phase;
		for (size_t i = 0; i < count; i++) {
			atomic_store(&e.sent[i], 0);
			atomic_store(&e.got[i], 0);
		}
		atomic_store(&e.phase, ph);
		int64_t t0 = vb_cmp_now_ns();
		/* A server slower now than in workload 1 falls behind the
		 * schedule; a run still stops after three times its length. */
		int64_t stop = t0 + (int64_t)(3 * c->seconds * 1e9);
		size_t sent = 0;
		for (; sent < count && vb_cmp_now_ns() < stop; sent++) {
			sleep_until(t0 + (int64_t)sent * interval);
			atomic_store(&e.sent[sent], vb_cmp_now_ns());
			if ((rv = publish_one(c, conn, buf, ph, sent)) != 0)
				goto done;
		}
		int64_t pub_end = vb_cmp_now_ns();
		/* What has not arrived 2 s after the last publish is lost. */
		size_t n = 0;
		for (int64_t end = vb_cmp_now_ns() + 2000000000LL;
		     vb_cmp_now_ns() < end; usleep(1000)) {
			n = 0;
			for (size_t i = 0; i < sent; i++)
				n += atomic_load(&e.got[i]) > 0;
			if (n == sent)
				break;
		}
		double *v = malloc((n ? n : 1) * sizeof(*v));
		size_t k = 0;
		if (v == NULL) {
			rv = VB_ENOMEM;
			goto done;
		}
		for (size_t i = 0; i < sent && k < n; i++) {
			int64_t g = atomic_load(&e.got[i]);
			if (g > 0)
				v[k++] = (double)g / 1e3;
		}
		p50[r] = vb_bench_percentile(v, k, 50);
		p99[r] = vb_bench_percentile(v, k, 99);
		lost[r] = (double)(sent - k);
		achieved[r] = (double)sent / ((double)(pub_end - t0) / 1e9);
		free(v);
	}
	vb_cmp_result_median("w4.p50", p50, c->runs);
	vb_cmp_result_median("w4.p99", p99, c->runs);
	vb_cmp_result_median("w4.lost", lost, c->runs);
	vb_cmp_result_median("w4.achieved_rate", achieved, c->runs);
	rv = 0;
done:
	if (started) {
		atomic_store(&e.stop, 1);
		pthread_join(th, NULL);
	}
	if (e.sub)
		c->be->sub_close(e.sub);
	if (conn)
		c->be->conn_close(conn);
	free(e.sent);
	free(e.got);
	free(buf);
	return rv;
}

/* ---- the retail export ---- */

#define RETAIL_MARK "P000000:"

typedef struct retail {
	uint8_t *buf; /* every event's bytes, one after another */
	vb_cmp_ev *evs;
	size_t *mark; /* offset of the digits of RETAIL_MARK */
	size_t n;
} retail;

static void
retail_free(retail *rt)
{
	free(rt->buf);
	free(rt->evs);
	free(rt->mark);
}

/* Read the JSON lines of `vb-sales --dry-run`, giving every id a prefix
 * that each pass over the file rewrites: every pass stores new events. */
static int
retail_read(const char *path, retail *rt)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, err[VB_ERRMSG_MAX];
	size_t cap = 0;
	ssize_t len;
	vb_buf all = { 0 }, one = { 0 }, json = { 0 };
	size_t *offs = NULL, *lens = NULL, *marks = NULL, n = 0, ncap = 0;
	int rv = 0, lineno = 0;

	memset(rt, 0, sizeof(*rt));
	if (f == NULL) {
		fprintf(stderr, "vb_cmp: %s: %s\n", path, strerror(errno));
		return VB_EIO;
	}
	while (rv == 0 && (len = getline(&line, &cap, f)) > 0) {
		const char *id = strstr(line, "\"id\":\"");
		vb_event *ev;
		lineno++;
		if (id == NULL)
			continue;
		id += 6;
		vb_buf_reset(&json);
		vb_buf_reset(&one);
		if ((rv = vb_buf_append(&json, line, (size_t)(id - line))) !=
		        0 ||
		    (rv = vb_buf_append_str(&json, RETAIL_MARK)) != 0 ||
		    (rv = vb_buf_append(&json, id,
		         (size_t)len - (size_t)(id - line))) != 0)
			break;
		if ((rv = vb_event_from_json((const char *)json.data, json.len,
		         &ev, err, sizeof(err))) != 0) {
			fprintf(stderr, "vb_cmp: %s:%d: %s\n", path, lineno,
			    err);
			break;
		}
		rv = vb_event_to_pb(ev, &one);
		vb_event_free(ev);
		if (rv != 0)
			break;
		const uint8_t *m = memmem(one.data, one.len, RETAIL_MARK, 8);
		if (m == NULL) {
			rv = VB_EINTERNAL;
			break;
		}
		if (n == ncap) {
			ncap = ncap ? ncap * 2 : 1024;
			size_t *o2 = realloc(offs, ncap * sizeof(*o2));
			if (o2)
				offs = o2;
			size_t *l2 = realloc(lens, ncap * sizeof(*l2));
			if (l2)
				lens = l2;
			size_t *m2 = realloc(marks, ncap * sizeof(*m2));
			if (m2)
				marks = m2;
			if (!o2 || !l2 || !m2) {
				rv = VB_ENOMEM;
				break;
			}
		}
		offs[n] = all.len;
		lens[n] = one.len;
		marks[n] = all.len + (size_t)(m - one.data) + 1;
		n++;
		rv = vb_buf_append(&all, one.data, one.len);
	}
	fclose(f);
	free(line);
	vb_buf_free(&one);
	vb_buf_free(&json);
	if (rv == 0 && n == 0) {
		fprintf(stderr, "vb_cmp: %s: no events\n", path);
		rv = VB_EINVAL;
	}
	if (rv == 0 && (rt->evs = calloc(n, sizeof(*rt->evs))) == NULL)
		rv = VB_ENOMEM;
	if (rv == 0) {
		rt->buf = all.data;
		rt->mark = marks;
		rt->n = n;
		for (size_t i = 0; i < n; i++)
			rt->evs[i] = (vb_cmp_ev){ all.data + offs[i], lens[i] };
	} else {
		vb_buf_free(&all);
		free(marks);
	}
	free(offs);
	free(lens);
	return rv;
}

int
vb_cmp_work_retail(vb_cmp_ctx *c)
{
	retail rt;
	vb_cmp_conn *conn;
	double r[99];
	int rv;

	if ((rv = retail_read(c->jsonl, &rt)) != 0)
		return rv;
	vb_cmp_info("retail.events_in_file", (double)rt.n);
	if ((rv = c->be->conn_open(c->sys, &conn)) != 0)
		goto done;
	for (int i = 0; i < c->runs && rv == 0; i++) {
		uint64_t sent = 0;
		int64_t t0 = vb_cmp_now_ns(),
		        deadline = t0 + (int64_t)(c->seconds * 1e9);
		int64_t now = t0;
		/* Passes over the file, each with ids of its own. */
		while (rv == 0 && now < deadline) {
			unsigned pass = ++c->phase;
			for (size_t k = 0; k < rt.n; k++)
				vb_cmp_put_digits(rt.buf + rt.mark[k], 6, pass);
			for (size_t k = 0;
			     k < rt.n && rv == 0 && now < deadline; k += 100) {
				size_t m = rt.n - k < 100 ? rt.n - k : 100;
				rv = c->be->publish(conn, rt.evs + k, m);
				sent += m;
				now = vb_cmp_now_ns();
			}
		}
		if (rv == 0 && c->be->flush) {
			rv = c->be->flush(conn);
			now = vb_cmp_now_ns();
		}
		r[i] = (double)sent / ((double)(now - t0) / 1e9);
	}
	c->be->conn_close(conn);
	if (rv == 0)
		vb_cmp_result_median("retail.rate", r, c->runs);
done:
	retail_free(&rt);
	return rv;
}
