#include "vb_query.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"
#include "vb_time.h"
#include "vb_wire.h"

/* A page stops growing past this many bytes, whatever its limit. */
#define PAGE_MAX_BYTES (4u << 20)
/* Records a filtered page may examine before it returns (possibly empty)
 * with a cursor: bounds how long one read transaction lives. */
#define PAGE_SCAN_MAX 200000

typedef struct qworker {
	struct vb_query *q;
	pthread_t thread;
	int started;
	nng_ctx ctx;
	nng_aio *aio;
	vb_buf page;     /* events of the page, back to back */
	vb_buf reply;
	size_t *offs;    /* start of each event in page */
	size_t noffs, offs_cap;
	vb_slice *slices;
	size_t slices_cap;
} qworker;

struct vb_query {
	nng_socket sock;
	int open;
	const vb_config *cfg;
	vb_store *store;
	vb_log *log;
	qworker *workers;
	size_t nworkers;
};

static int
page_add(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	qworker *wk = arg;
	if (wk->noffs == wk->offs_cap) {
		size_t cap = wk->offs_cap ? wk->offs_cap * 2 : 1024;
		size_t *o = realloc(wk->offs, cap * sizeof(*o));
		if (o == NULL)
			return VB_ENOMEM;
		wk->offs = o;
		wk->offs_cap = cap;
	}
	wk->offs[wk->noffs++] = wk->page.len;
	return vb_buf_append(&wk->page, p, len);
}

static void
reply_fail(qworker *wk, int code, const char *msg)
{
	vb_query_reply r = { .code = code, .error = msg };
	vb_buf_reset(&wk->reply);
	vb_query_reply_encode(&r, &wk->reply);
}

static void
do_replay(qworker *wk, const vb_replay_req *rq)
{
	vb_query *q = wk->q;
	vb_store_filter f = { 0 };
	vb_query_reply r = { .kind = VB_QUERY_REPLAY };
	size_t limit = rq->limit ? rq->limit : (size_t)q->cfg->replay_page;
	char msg[160];
	int rv;

	if (limit > (size_t)q->cfg->replay_page_max)
		limit = (size_t)q->cfg->replay_page_max;
	f.from_seq = rq->from_seq;
	f.to_seq = rq->to_seq;
	f.customer = rq->customer;
	f.type_prefix = rq->type_prefix;
	if (rq->since[0]) {
		if (vb_time_parse(rq->since, &f.since_us) != 0) {
			snprintf(msg, sizeof(msg), "since: \"%.64s\" is not an RFC 3339 date-time", rq->since);
			reply_fail(wk, VB_EINVAL, msg);
			return;
		}
		f.has_since = 1;
	}
	if (rq->until[0]) {
		if (vb_time_parse(rq->until, &f.until_us) != 0) {
			snprintf(msg, sizeof(msg), "until: \"%.64s\" is not an RFC 3339 date-time", rq->until);
			reply_fail(wk, VB_EINVAL, msg);
			return;
		}
		f.has_until = 1;
	}
	vb_buf_reset(&wk->page);
	wk->noffs = 0;
	rv = vb_store_replay(q->store, &f, limit, PAGE_MAX_BYTES, PAGE_SCAN_MAX,
	    page_add, wk, &r.replay.next_seq, &r.replay.done, &r.replay.last_seq);
	if (rv != 0) {
		reply_fail(wk, rv, vb_strerror(rv));
		return;
	}
	if (wk->noffs > wk->slices_cap) {
		vb_slice *s = realloc(wk->slices, wk->noffs * sizeof(*s));
		if (s == NULL) {
			reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
			return;
		}
		wk->slices = s;
		wk->slices_cap = wk->noffs;
	}
	for (size_t i = 0; i < wk->noffs; i++) {
		size_t end = i + 1 < wk->noffs ? wk->offs[i + 1] : wk->page.len;
		wk->slices[i].p = wk->page.data + wk->offs[i];
		wk->slices[i].len = end - wk->offs[i];
	}
	r.replay.events = wk->slices;
	r.replay.n = wk->noffs;
	vb_buf_reset(&wk->reply);
	if (vb_query_reply_encode(&r, &wk->reply) != 0)
		reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
}

static void
do_stats(qworker *wk)
{
	vb_query_reply r = { .kind = VB_QUERY_STATS };
	int rv = vb_store_stats(wk->q->store, &r.stats);
	if (rv != 0) {
		reply_fail(wk, rv, vb_strerror(rv));
		return;
	}
	r.stats.max_batch = (uint32_t)wk->q->cfg->max_batch;
	r.stats.max_message = (uint64_t)wk->q->cfg->max_message;
	vb_buf_reset(&wk->reply);
	if (vb_query_reply_encode(&r, &wk->reply) != 0)
		reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
	vb_store_stats_free(&r.stats);
}

static void
handle(qworker *wk, const uint8_t *p, size_t len)
{
	vb_query_req rq;
	if (vb_query_req_decode(p, len, &rq) != 0) {
		reply_fail(wk, VB_EPROTO, "request is not a voicebus.v1.QueryRequest");
		return;
	}
	switch (rq.kind) {
	case VB_QUERY_REPLAY: do_replay(wk, &rq.replay); break;
	case VB_QUERY_STATS: do_stats(wk); break;
	default: reply_fail(wk, VB_EINVAL, "unknown query"); break;
	}
	vb_query_req_free(&rq);
}

static void *
qworker_main(void *arg)
{
	qworker *wk = arg;
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
		msg = nng_aio_get_msg(wk->aio);
		handle(wk, nng_msg_body(msg), nng_msg_len(msg));
		nng_msg_clear(msg);
		if (nng_msg_append(msg, wk->reply.data, wk->reply.len) != 0) {
			nng_msg_free(msg);
			continue;
		}
		nng_aio_set_msg(wk->aio, msg);
		nng_ctx_send(wk->ctx, wk->aio);
		nng_aio_wait(wk->aio);
		if (nng_aio_result(wk->aio) != 0)
			nng_msg_free(nng_aio_get_msg(wk->aio));
	}
	return NULL;
}

int
vb_query_open(const vb_config *cfg, vb_store *store, vb_log *log, vb_query **out)
{
	vb_query *q = calloc(1, sizeof(*q));
	int rv;
	if (q == NULL)
		return VB_ENOMEM;
	q->cfg = cfg;
	q->store = store;
	q->log = log;
	if ((rv = nng_rep0_open(&q->sock)) != 0)
		goto fail;
	q->open = 1;
	/* Queries are small; a megabyte is generous. */
	nng_socket_set_size(q->sock, NNG_OPT_RECVMAXSZ, 1u << 20);
	if ((rv = nng_listen(q->sock, cfg->query, NULL, 0)) != 0) {
		vb_log_error(log, "Q001", "cannot listen on %s: %s", cfg->query, nng_strerror(rv));
		goto fail;
	}
	q->nworkers = (size_t)cfg->query_workers;
	if ((q->workers = calloc(q->nworkers, sizeof(*q->workers))) == NULL) {
		rv = NNG_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < q->nworkers; i++) {
		qworker *wk = &q->workers[i];
		wk->q = q;
		if ((rv = nng_ctx_open(&wk->ctx, q->sock)) != 0 ||
		    (rv = nng_aio_alloc(&wk->aio, NULL, NULL)) != 0)
			goto fail;
		if (pthread_create(&wk->thread, NULL, qworker_main, wk) != 0) {
			rv = NNG_ENOMEM;
			goto fail;
		}
		wk->started = 1;
	}
	*out = q;
	return VB_OK;
fail:
	vb_query_close(q);
	return vb_err_from_nng(rv);
}

void
vb_query_close(vb_query *q)
{
	if (q == NULL)
		return;
	if (q->open)
		nng_close(q->sock);
	for (size_t i = 0; i < q->nworkers && q->workers; i++) {
		qworker *wk = &q->workers[i];
		if (wk->started)
			pthread_join(wk->thread, NULL);
		if (wk->aio)
			nng_aio_free(wk->aio);
		vb_buf_free(&wk->page);
		vb_buf_free(&wk->reply);
		free(wk->offs);
		free(wk->slices);
	}
	free(q->workers);
	free(q);
}
