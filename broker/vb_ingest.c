#include "vb_ingest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_arena.h"
#include "vb_auth.h"
#include "vb_error.h"
#include "vb_event.h"
#include "vb_rep.h"
#include "vb_validate.h"
#include "vb_wire.h"

/* One worker's buffers, reused from request to request up to a request of
 * WORKER_KEEP_EVENTS events and WORKER_KEEP_BYTES per buffer; a bigger
 * one's are freed after its reply.  Every worker would otherwise hold what
 * the largest batch it ever served needed: the socket hands requests to its
 * contexts in turn, so with 16 workers a publisher of 1,000-event batches
 * alone made them hold 31 MiB. */
#define WORKER_KEEP_EVENTS 256
#define WORKER_KEEP_BYTES (256u << 10)

typedef struct worker {
	struct vb_ingest *in;
	size_t index;
	vb_arena arena;           /* the request in hand, decoded */
	vb_buf pb;                /* canonical encodings of the valid events */
	vb_buf *reply;            /* the request in hand's reply (vb_rep's) */
	vb_store_item *items;
	size_t *item_of;          /* result index of each item */
	vb_ingest_result *results;
	char (*errs)[VB_ERRMSG_MAX];
	size_t cap;
} worker;

struct vb_ingest {
	vb_rep *rep;
	const vb_config *cfg;
	vb_writer *writer;
	vb_log *log;
	worker *workers;
	size_t nworkers;
	vb_auth_limit denials;
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

static void
worker_drop_arrays(worker *wk)
{
	free(wk->items);
	free(wk->item_of);
	free(wk->results);
	free(wk->errs);
	wk->items = NULL;
	wk->item_of = NULL;
	wk->results = NULL;
	wk->errs = NULL;
	wk->cap = 0;
}

/* After a request: let go of what only a big one needed (the arena does
 * so itself at its reset, by wk->arena.keep). */
static void
worker_trim(worker *wk)
{
	if (wk->cap > WORKER_KEEP_EVENTS)
		worker_drop_arrays(wk);
	if (wk->pb.cap > WORKER_KEEP_BYTES)
		vb_buf_free(&wk->pb);
}

static void
worker_free(worker *wk)
{
	vb_arena_free(&wk->arena);
	vb_buf_free(&wk->pb);
	worker_drop_arrays(wk);
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
	vb_buf_reset(wk->reply);
	return vb_ingest_reply_encode(NULL, 0, code, msg, wk->reply);
}

static void
log_denial(worker *wk, const vb_auth_client *cl, const char *why)
{
	char peer[128];
	vb_rep_peer(wk->in->rep, wk->index, peer, sizeof(peer));
	vb_auth_log_denial(&wk->in->denials, wk->in->log, cl, peer, "ingest", why);
}

/* With clients configured: the client the request's token names, if it may
 * publish at all.  NULL with the reply made otherwise (*rv set). */
static const vb_auth_client *
authorize(worker *wk, const vb_ingest_req *req, int *rv)
{
	size_t len;
	const char *token = vb_ingest_req_token(req, &len);
	const vb_auth_client *cl = vb_auth_find(&wk->in->cfg->auth, token, len);

	if (cl == NULL) {
		log_denial(wk, NULL, len ? "unknown token" : "no token");
		*rv = reply_error(wk, VB_EACCES, "access denied: %s (give the client's "
		    "token with --token-file FILE or VOICEBUS_TOKEN)", len ? "unknown token" :
		    "no token");
		return NULL;
	}
	if (!vb_auth_allows(cl->role, VB_OP_INGEST)) {
		log_denial(wk, cl, "its role may not publish");
		*rv = reply_error(wk, VB_EACCES, "access denied: client %s has role %s, "
		    "which may not publish", cl->name, vb_role_names[cl->role]);
		return NULL;
	}
	return cl;
}

/* Turn one request into one reply in wk->reply. */
static int
handle(worker *wk, const uint8_t *p, size_t len)
{
	vb_ingest *in = wk->in;
	vb_ingest_req *req = NULL;
	size_t n, nitems = 0;
	const vb_auth_client *cl = NULL;
	size_t denied = 0;
	const char *denied_source = NULL;
	vb_job job;
	int rv;

	/* Counted before decoding, which allocates every event first. */
	if (vb_ingest_req_peek_count(p, len, &n) == 0 &&
	    n > (size_t)in->cfg->max_batch)
		return reply_error(wk, VB_ETOOBIG,
		    "batch of %zu events; at most %lld per request: nothing was stored",
		    n, (long long)in->cfg->max_batch);
	rv = vb_ingest_req_decode_in(p, len, &wk->arena, &req);
	if (rv != 0) {
		vb_arena_reset(&wk->arena);
		if (rv == VB_EPROTO)
			return reply_error(wk, VB_EPROTO,
			    "request is not a voicebus.v1.IngestRequest");
		if (rv == VB_ETOOBIG)
			return reply_error(wk, VB_ETOOBIG,
			    "request of %zu bytes needs over %d times that to decode "
			    "(too many empty or tiny fields): nothing was stored",
			    len, VB_DECODE_RATIO);
		return reply_error(wk, rv, "%s", vb_strerror(rv));
	}
	if (vb_auth_enabled(&in->cfg->auth) && (cl = authorize(wk, req, &rv)) == NULL)
		goto done;
	n = vb_ingest_req_count(req);
	if (n == 0) {
		rv = reply_error(wk, VB_EINVAL, "empty request: no events");
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
		if (cl != NULL && !vb_auth_may_publish(cl, vb_event_source(ev))) {
			snprintf(wk->errs[i], VB_ERRMSG_MAX, "source: access denied: client %s "
			    "may not publish events of source \"%s\"", cl->name,
			    vb_event_source(ev));
			r->error = wk->errs[i];
			denied_source = vb_event_source(ev);
			denied++;
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
	if (denied > 0) {
		char why[160];
		snprintf(why, sizeof(why), "%zu event(s) of a source not granted (\"%.32s\"%s)",
		    denied, denied_source, denied > 1 ? ", ..." : "");
		log_denial(wk, cl, why);
	}
	vb_buf_reset(wk->reply);
	rv = vb_ingest_reply_encode(wk->results, n, 0, NULL, wk->reply);
done:
	vb_ingest_req_free(req);
	vb_arena_reset(&wk->arena);
	worker_trim(wk);
	return rv;
}

static int
on_request(void *arg, size_t index, const uint8_t *req, size_t len, vb_buf *reply)
{
	vb_ingest *in = arg;
	worker *wk = &in->workers[index];
	int rv;
	wk->reply = reply;
	rv = handle(wk, req, len);
	wk->reply = NULL;
	return rv;
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
	in->nworkers = (size_t)cfg->ingest_workers;
	if ((in->workers = calloc(in->nworkers, sizeof(*in->workers))) == NULL) {
		free(in);
		return VB_ENOMEM;
	}
	for (size_t i = 0; i < in->nworkers; i++) {
		in->workers[i].in = in;
		in->workers[i].index = i;
		in->workers[i].arena.keep = WORKER_KEEP_BYTES;
	}
	vb_auth_limit_init(&in->denials);
	vb_tls_opts tls = { cfg->tls_cert, cfg->tls_key, cfg->tls_key_password, NULL };
	if ((rv = vb_rep_open(cfg->ingest, &tls, in->nworkers, (size_t)cfg->max_message,
	    on_request, in, log, "ingest", &in->rep)) != 0) {
		vb_ingest_close(in, 0);
		return rv;
	}
	*out = in;
	return VB_OK;
}

void
vb_ingest_close(vb_ingest *in, int drain_ms)
{
	if (in == NULL)
		return;
	vb_rep_close(in->rep, drain_ms);
	for (size_t i = 0; i < in->nworkers; i++) {
		worker_free(&in->workers[i]);
	}
	free(in->workers);
	vb_auth_limit_fini(&in->denials);
	free(in);
}
