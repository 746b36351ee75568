#include "vb_ingest.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vb_error.h"
#include "vb_event.h"
#include "vb_validate.h"
#include "vb_wire.h"

typedef struct worker {
	struct vb_ingest *in;
	pthread_t thread;
	int started;
	nng_ctx ctx;
	nng_aio *aio;
	/* reused from request to request */
	vb_buf pb;                /* canonical encodings of the valid events */
	vb_buf reply;
	vb_store_item *items;
	size_t *item_of;          /* result index of each item */
	vb_ingest_result *results;
	char (*errs)[VB_ERRMSG_MAX];
	size_t cap;
} worker;

struct vb_ingest {
	nng_socket sock;
	nng_listener listener;
	int open;
	const vb_config *cfg;
	vb_writer *writer;
	vb_log *log;
	worker *workers;
	size_t nworkers;
	pthread_mutex_t mtx;
	pthread_cond_t idle;
	int busy;                 /* workers holding a request */
};

static int
worker_reserve(worker *wk, size_t n)
{
	if (n <= wk->cap)
		return VB_OK;
	void *a = realloc(wk->items, n * sizeof(*wk->items));
	if (a) wk->items = a;
	void *b = realloc(wk->item_of, n * sizeof(*wk->item_of));
	if (b) wk->item_of = b;
	void *c = realloc(wk->results, n * sizeof(*wk->results));
	if (c) wk->results = c;
	void *d = realloc(wk->errs, n * sizeof(*wk->errs));
	if (d) wk->errs = d;
	if (!a || !b || !c || !d)
		return VB_ENOMEM;
	wk->cap = n;
	return VB_OK;
}

static int
reply_error(worker *wk, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
reply_error(worker *wk, int code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vb_buf_reset(&wk->reply);
	return vb_ingest_reply_encode(NULL, 0, code, msg, &wk->reply);
}

/* Turn one request into one reply in wk->reply. */
static int
handle(worker *wk, const uint8_t *p, size_t len)
{
	vb_ingest *in = wk->in;
	vb_ingest_req *req = NULL;
	size_t n, nitems = 0;
	vb_job job;
	int rv;

	if ((rv = vb_ingest_req_decode(p, len, &req)) != 0) {
		if (rv == VB_EPROTO)
			return reply_error(wk, VB_EPROTO,
			    "request is not a voicebus.v1.IngestRequest");
		return reply_error(wk, rv, "%s", vb_strerror(rv));
	}
	n = vb_ingest_req_count(req);
	if (n == 0) {
		rv = reply_error(wk, VB_EINVAL, "empty request: no events");
		goto done;
	}
	if (n > (size_t)in->cfg->max_batch) {
		rv = reply_error(wk, VB_ETOOBIG,
		    "batch of %zu events; at most %lld per request: nothing was stored",
		    n, (long long)in->cfg->max_batch);
		goto done;
	}
	if ((rv = worker_reserve(wk, n)) != 0) {
		rv = reply_error(wk, rv, "%s", vb_strerror(rv));
		goto done;
	}
	vb_buf_reset(&wk->pb);
	for (size_t i = 0; i < n; i++) {
		vb_event *ev = vb_ingest_req_event(req, i);
		vb_ingest_result *r = &wk->results[i];
		int64_t time_us;
		memset(r, 0, sizeof(*r));
		if (vb_event_validate(ev, &time_us, wk->errs[i], VB_ERRMSG_MAX) != 0) {
			r->error = wk->errs[i];
			continue;
		}
		vb_store_item *it = &wk->items[nitems];
		memset(it, 0, sizeof(*it));
		/* Offsets now, pointers once the buffer stops moving. */
		it->stored_off = wk->pb.len;
		if ((rv = vb_event_to_pb_canonical(ev, &wk->pb)) != 0) {
			rv = reply_error(wk, rv, "%s", vb_strerror(rv));
			goto done;
		}
		it->pb_len = wk->pb.len - it->stored_off;
		it->id = vb_event_id(ev);
		it->customer = vb_event_customer(ev);
		it->type = vb_event_type(ev);
		it->source = vb_event_source(ev);
		it->kind = VB_ITEM_EVENT;
		/* What the gate needs of it, folded in the same transaction. */
		if (vb_fact_from_event(ev, time_us, &it->fact) != 0)
			it->fact.kind = VB_FACT_NONE;
		wk->item_of[nitems++] = i;
	}
	for (size_t k = 0; k < nitems; k++)
		wk->items[k].pb = wk->pb.data + wk->items[k].stored_off;
	if (nitems > 0) {
		memset(&job, 0, sizeof(job));
		job.items = wk->items;
		job.n = nitems;
		if ((rv = vb_writer_submit(in->writer, &job)) != 0) {
			rv = reply_error(wk, rv, "%s", rv == VB_EFULL ? vb_strerror(rv) :
			    "nothing was stored: the broker could not commit");
			goto done;
		}
		for (size_t k = 0; k < nitems; k++) {
			vb_ingest_result *r = &wk->results[wk->item_of[k]];
			r->seq = wk->items[k].seq;
			r->duplicate = wk->items[k].duplicate;
		}
	}
	vb_buf_reset(&wk->reply);
	rv = vb_ingest_reply_encode(wk->results, n, 0, NULL, &wk->reply);
done:
	vb_ingest_req_free(req);
	return rv;
}

static void
set_busy(vb_ingest *in, int delta)
{
	pthread_mutex_lock(&in->mtx);
	in->busy += delta;
	if (in->busy == 0)
		pthread_cond_broadcast(&in->idle);
	pthread_mutex_unlock(&in->mtx);
}

static void *
worker_main(void *arg)
{
	worker *wk = arg;
	vb_ingest *in = wk->in;
	for (;;) {
		nng_msg *msg;
		int rv;

		nng_ctx_recv(wk->ctx, wk->aio);
		nng_aio_wait(wk->aio);
		if ((rv = nng_aio_result(wk->aio)) != 0) {
			if (rv == NNG_ECLOSED)
				break;
			continue;
		}
		set_busy(in, 1);
		msg = nng_aio_get_msg(wk->aio);
		rv = handle(wk, nng_msg_body(msg), nng_msg_len(msg));
		nng_msg_clear(msg);
		if (rv != 0 || nng_msg_append(msg, wk->reply.data, wk->reply.len) != 0) {
			/* No reply: the client's REQ resends, and ids make
			 * that safe. */
			vb_log_error(in->log, "I001", "cannot build a reply: %s", vb_strerror(rv));
			nng_msg_free(msg);
			set_busy(in, -1);
			continue;
		}
		nng_aio_set_msg(wk->aio, msg);
		nng_ctx_send(wk->ctx, wk->aio);
		nng_aio_wait(wk->aio);
		if (nng_aio_result(wk->aio) != 0)
			nng_msg_free(nng_aio_get_msg(wk->aio));
		set_busy(in, -1);
	}
	return NULL;
}

int
vb_ingest_open(const vb_config *cfg, vb_writer *w, vb_log *log, vb_ingest **out)
{
	vb_ingest *in = calloc(1, sizeof(*in));
	int rv;

	if (in == NULL)
		return VB_ENOMEM;
	in->cfg = cfg;
	in->writer = w;
	in->log = log;
	pthread_mutex_init(&in->mtx, NULL);
	pthread_cond_init(&in->idle, NULL);
	if ((rv = nng_rep0_open(&in->sock)) != 0)
		goto fail_nng;
	in->open = 1;
	/* nng's default is unlimited: a hostile or broken peer could make us
	 * allocate anything. */
	nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ, (size_t)cfg->max_message);
	if ((rv = nng_listen(in->sock, cfg->ingest, &in->listener, 0)) != 0) {
		vb_log_error(log, "I002", "cannot listen on %s: %s", cfg->ingest, nng_strerror(rv));
		goto fail_nng;
	}
	in->nworkers = (size_t)cfg->ingest_workers;
	if ((in->workers = calloc(in->nworkers, sizeof(*in->workers))) == NULL) {
		rv = NNG_ENOMEM;
		goto fail_nng;
	}
	for (size_t i = 0; i < in->nworkers; i++) {
		worker *wk = &in->workers[i];
		wk->in = in;
		if ((rv = nng_ctx_open(&wk->ctx, in->sock)) != 0 ||
		    (rv = nng_aio_alloc(&wk->aio, NULL, NULL)) != 0)
			goto fail_nng;
		if (pthread_create(&wk->thread, NULL, worker_main, wk) != 0) {
			rv = NNG_ENOMEM;
			goto fail_nng;
		}
		wk->started = 1;
	}
	*out = in;
	return VB_OK;
fail_nng:
	vb_ingest_close(in, 0);
	return vb_err_from_nng(rv);
}

void
vb_ingest_close(vb_ingest *in, int drain_ms)
{
	struct timespec until;
	if (in == NULL)
		return;
	if (in->open && drain_ms > 0) {
		nng_listener_close(in->listener);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += drain_ms / 1000;
		until.tv_nsec += (long)(drain_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&in->mtx);
		while (in->busy > 0 &&
		    pthread_cond_timedwait(&in->idle, &in->mtx, &until) == 0)
			;
		pthread_mutex_unlock(&in->mtx);
	}
	if (in->open)
		nng_close(in->sock);
	for (size_t i = 0; i < in->nworkers && in->workers; i++) {
		worker *wk = &in->workers[i];
		if (wk->started)
			pthread_join(wk->thread, NULL);
		if (wk->aio)
			nng_aio_free(wk->aio);
		vb_buf_free(&wk->pb);
		vb_buf_free(&wk->reply);
		free(wk->items);
		free(wk->item_of);
		free(wk->results);
		free(wk->errs);
	}
	free(in->workers);
	pthread_mutex_destroy(&in->mtx);
	pthread_cond_destroy(&in->idle);
	free(in);
}
