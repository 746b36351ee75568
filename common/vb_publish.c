#include "vb_publish.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vb_error.h"
#include "vb_time.h"

#define BATCH_DEFAULT 1000
/* Above this many encoded bytes a batch is sent even if not full: keeps
 * requests far below the broker's max_message. */
#define BATCH_MAX_BYTES (4u << 20)
#define PAUSE_FIRST_MS 100
#define PAUSE_MAX_MS 5000

typedef struct item {
	vb_event *ev;
	const char *file;
	unsigned long line, rows;
} item;

struct vb_pub {
	vb_pub_opts o;
	item *q;
	vb_event **evs;
	size_t n, cap; /* queued; cap == the batch size asked for */
	size_t max;    /* events per request: min(batch, max_batch) */
	size_t bytes, max_bytes;
	int limits_known;
	int failed;
	vb_pub_counts c;
	vb_buf json;
};

int
vb_pub_open(const vb_pub_opts *o, vb_pub **out)
{
	vb_pub *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return VB_ENOMEM;
	p->o = *o;
	p->cap = p->max = o->batch ? o->batch : BATCH_DEFAULT;
	p->max_bytes = BATCH_MAX_BYTES;
	p->q = calloc(p->cap, sizeof(*p->q));
	p->evs = calloc(p->cap, sizeof(*p->evs));
	if (p->q == NULL || p->evs == NULL) {
		vb_pub_close(p);
		return VB_ENOMEM;
	}
	*out = p;
	return VB_OK;
}

void
vb_pub_close(vb_pub *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		vb_event_free(p->q[i].ev);
	free(p->q);
	free(p->evs);
	vb_buf_free(&p->json);
	free(p);
}

void
vb_pub_get_counts(const vb_pub *p, vb_pub_counts *out)
{
	*out = p->c;
}

void
vb_pub_reset(vb_pub *p)
{
	memset(&p->c, 0, sizeof(p->c));
}

void
vb_pub_retry(vb_pub *p)
{
	p->failed = 0;
}

int
vb_pub_failed(const vb_pub *p)
{
	return p->failed;
}

static int
stopped(const vb_pub *p)
{
	return p->o.stop != NULL && *p->o.stop;
}

/* Sleep ms, or less when a signal sets stop. */
static void
pause_ms(const vb_pub *p, int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
		(long)(ms % 1000) * 1000000 };
	while (!stopped(p) && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Size batches by the broker's own limits: nng drops a request over
 * max_message without a word, which a publisher would only see as a
 * timeout.  Best effort: a broker that cannot be asked keeps the defaults,
 * and is asked again before the next batch. */
static void
learn_limits(vb_pub *p)
{
	vb_query_req q = { .kind = VB_QUERY_STATS };
	vb_query_reply r;

	if (vb_client_query(p->o.client, &q, &r) != 0)
		return;
	if (r.code == 0 && r.kind == VB_QUERY_STATS) {
		if (r.stats.max_batch > 0 && p->max > r.stats.max_batch)
			p->max = r.stats.max_batch;
		/* Half the limit leaves room for the event that crosses it
		 * and for the request's framing. */
		if (r.stats.max_message > 0 &&
		    p->max_bytes > r.stats.max_message / 2)
			p->max_bytes = (size_t)(r.stats.max_message / 2);
		p->limits_known = 1;
	}
	vb_query_reply_free(&r);
}

/* Whether a failure may pass if we wait: the transport's, or the broker's
 * refusal of the whole request for a want of disk or memory. */
static int
transient(int rv, int code)
{
	int c = rv != 0 ? rv : code;
	switch (c) {
	case VB_ECONNREFUSED:
	case VB_ETIMEDOUT:
	case VB_EIO:
	case VB_EFULL:
	case VB_ENOMEM:
	case VB_EBUSY:
	case VB_EINTERNAL: return 1;
	default: return 0;
	}
}

static void
give_up(vb_pub *p, size_t n)
{
	p->failed = 1;
	p->c.unsent += n;
}

static void
settle(vb_pub *p, size_t first, const vb_ingest_reply *rep)
{
	for (size_t i = 0; i < rep->n; i++) {
		const vb_ingest_result *r = &rep->results[i];
		const item *it = &p->q[first + i];
		if (r->error && r->error[0]) {
			vb_reportf(p->o.report, it->file, it->line, "%s",
			    r->error);
			p->c.rejected++;
			continue;
		}
		if (r->duplicate)
			p->c.duplicates++;
		else
			p->c.stored++;
		p->c.rows_done += it->rows;
	}
}

/* Send q[first, first + n) as one request, retrying what may pass. */
static int
send_batch(vb_pub *p, size_t first, size_t n)
{
	const char *url = vb_client_ingest_url(p->o.client);
	int64_t deadline = -1, pause = PAUSE_FIRST_MS;
	int announced = 0;

	for (;;) {
		vb_ingest_reply rep;
		char why[300];
		int rv, code = 0;

		for (size_t i = 0; i < n; i++)
			p->evs[i] = p->q[first + i].ev;
		rv = vb_client_publish(p->o.client, p->evs, n, &rep);
		if (rv == 0) {
			code = rep.code;
			if (code == 0 && rep.n == n) {
				settle(p, first, &rep);
				vb_ingest_reply_free(&rep);
				if (announced)
					vb_report_msg(p->o.report,
					    "the broker at %s answers again",
					    url);
				return VB_OK;
			}
			if (rep.error && rep.error[0])
				snprintf(why, sizeof(why), "%s", rep.error);
			else if (code)
				snprintf(why, sizeof(why), "%s", vb_strerror(code));
			else
				snprintf(why, sizeof(why), "%s",
				    "the reply does not match the request");
			if (code == 0)
				code = VB_EPROTO;
			vb_ingest_reply_free(&rep);
			/* Over a limit the broker has now: send halves. */
			if (code == VB_ETOOBIG && n > 1) {
				size_t h = n / 2;
				p->max = h;
				if (send_batch(p, first, h) != 0) {
					give_up(p, n - h);
					return VB_EIO;
				}
				return send_batch(p, first + h, n - h);
			}
		} else {
			snprintf(why, sizeof(why), "%s", vb_strerror(rv));
		}
		if (!transient(rv, code) || stopped(p)) {
			vb_reportf(p->o.report, p->q[first].file, 0,
			    "the broker at %s did not store a batch of %zu events (lines %lu-%lu): %s",
			    url, n, p->q[first].line, p->q[first + n - 1].line,
			    why);
			give_up(p, n);
			return VB_EIO;
		}
		int64_t now = vb_time_mono_us() / 1000;
		if (deadline < 0)
			deadline = now + p->o.retry_for_ms;
		/* A broker that answered "storage full" was reached: say so,
		 * so that nobody looks at the network for a full disk. */
		char head[600];
		snprintf(head, sizeof(head), rv == 0 ? "the broker at %s stored nothing" :
		    "cannot reach the broker at %s", url);
		if (now >= deadline) {
			vb_report_msg(p->o.report, "%s: %s (gave up after retrying for %g s)",
			    head, why, (double)p->o.retry_for_ms / 1000);
			give_up(p, n);
			return VB_EIO;
		}
		if (!announced) {
			vb_report_msg(p->o.report, "%s: %s; retrying for up to %g s",
			    head, why, (double)p->o.retry_for_ms / 1000);
			announced = 1;
		}
		pause_ms(p, pause < deadline - now ? pause : deadline - now);
		pause = pause * 2 < PAUSE_MAX_MS ? pause * 2 : PAUSE_MAX_MS;
		if (!p->limits_known)
			learn_limits(p);
	}
}

int
vb_pub_flush(vb_pub *p)
{
	int rv = VB_OK;
	size_t i = 0;

	if (p->o.dry_run == NULL && !p->failed && !p->limits_known && p->n > 0)
		learn_limits(p);
	while (i < p->n) {
		if (p->failed) {
			give_up(p, p->n - i);
			rv = VB_EIO;
			break;
		}
		/* Cut at the broker's max_batch and at the byte budget. */
		size_t n = 0, bytes = 0;
		while (i + n < p->n && n < p->max) {
			size_t sz = vb_event_pb_size(p->q[i + n].ev);
			if (n > 0 && bytes + sz > p->max_bytes)
				break;
			bytes += sz;
			n++;
		}
		if (send_batch(p, i, n) != 0)
			rv = VB_EIO;
		i += n;
	}
	for (size_t k = 0; k < p->n; k++)
		vb_event_free(p->q[k].ev);
	p->n = 0;
	p->bytes = 0;
	return rv;
}

int
vb_pub_add(vb_pub *p, vb_event *ev, const char *file, unsigned long line,
    unsigned long rows)
{
	p->c.events++;
	if (p->o.dry_run) {
		vb_buf_reset(&p->json);
		if (vb_event_to_json(ev, &p->json) == 0 &&
		    vb_buf_append_byte(&p->json, '\n') == 0) {
			fwrite(p->json.data, 1, p->json.len, p->o.dry_run);
			p->c.printed++;
			p->c.rows_done += rows;
		}
		vb_event_free(ev);
		return VB_OK;
	}
	if (p->failed) {
		p->c.unsent++;
		vb_event_free(ev);
		return VB_EIO;
	}
	p->q[p->n++] = (item){ ev, file, line, rows };
	p->bytes += vb_event_pb_size(ev);
	if (p->n == p->cap || p->bytes >= p->max_bytes)
		return vb_pub_flush(p);
	return VB_OK;
}
