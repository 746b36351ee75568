/* vb_cmp_jetstream: the NATS JetStream backend of vb_cmp (see vb_cmp.h),
 * on the C client libnats (Debian libnats-dev).
 *
 * spec: "nats://HOST:PORT" of a nats-server running JetStream.
 *
 * - open: a stream VB on subjects vb.>, file storage, one replica, every
 *   other setting left at its default (the server's sync_interval decides
 *   when it fsyncs; see scripts/bench.sh).
 * - publish: one event: js_Publish, which waits for the stream's PubAck;
 *   a batch: js_PublishAsync of each event in a sliding window of WINDOW
 *   (100) unacknowledged messages, the library's flow control; flush
 *   (js_PublishAsyncComplete) waits for the last acknowledgements.  This
 *   keeps as many events in flight as a voicebus batch of 100 holds, but
 *   never stops to wait: JetStream's fastest way to publish.  No
 *   Nats-Msg-Id: JetStream deduplicates only when asked, and only within
 *   its window (2 minutes).
 * - subscribe: an ordered consumer (push, flow control, no acks) from the
 *   next message on; replay: the same from the first message.
 * - lookup: a get from the key-value bucket "gate" (direct get when the
 *   bucket allows it), the value the gate's decision for that customer.
 *   No filter: JetStream has no batch get in this version. */
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_cmp.h"
#include "vb_error.h"

#define STREAM "VB"
#define SUBJECT "vb.order.placed"
#define BUCKET "gate"
#define WINDOW 100      /* most asynchronous publishes in flight */
#define LOAD_BATCH 1000 /* keys per js_PublishAsyncComplete, loading */
#define WAIT_MS 60000

struct vb_cmp_sys {
	char url[256];
};

struct vb_cmp_conn {
	vb_cmp_sys *sys;
	natsConnection *nc;
	jsCtx *js;
	kvStore *kv;
	atomic_int failed; /* asynchronous publishes the server refused */
};

struct vb_cmp_sub {
	natsConnection *nc;
	jsCtx *js;
	natsSubscription *sub;
	natsMsg *msg; /* lent by the last sub_next */
};

static int
nats_fail(const char *what, natsStatus s, jsErrCode jerr)
{
	const char *last = nats_GetLastError(NULL);
	fprintf(stderr, "vb_cmp: jetstream: %s: %s (%d)%s%s\n", what,
	    natsStatus_GetText(s), (int)jerr, last ? ": " : "",
	    last ? last : "");
	return s == NATS_TIMEOUT ? VB_ETIMEDOUT : VB_EIO;
}

/* A refused asynchronous publish fails the run: it is counted here and
 * seen at the next publish or flush. */
static void
on_async_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
	vb_cmp_conn *c = closure;
	(void)js;
	if (atomic_fetch_add(&c->failed, 1) == 0)
		fprintf(stderr, "vb_cmp: jetstream: asynchronous publish: %s\n",
		    pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
}

static int
js_connect(const char *url, vb_cmp_conn *closure, natsConnection **nc,
    jsCtx **js)
{
	natsOptions *o = NULL;
	jsOptions jo;
	natsStatus s;

	if ((s = natsOptions_Create(&o)) != NATS_OK ||
	    (s = natsOptions_SetURL(o, url)) != NATS_OK ||
	    (s = natsOptions_SetTimeout(o, 5000)) != NATS_OK ||
	    (s = natsConnection_Connect(nc, o)) != NATS_OK) {
		natsOptions_Destroy(o);
		return nats_fail(url, s, 0);
	}
	natsOptions_Destroy(o);
	jsOptions_Init(&jo);
	jo.Wait = WAIT_MS;
	jo.PublishAsync.MaxPending = WINDOW;
	jo.PublishAsync.StallWait = WAIT_MS;
	if (closure) {
		jo.PublishAsync.ErrHandler = on_async_error;
		jo.PublishAsync.ErrHandlerClosure = closure;
	}
	if ((s = natsConnection_JetStream(js, *nc, &jo)) != NATS_OK) {
		natsConnection_Destroy(*nc);
		*nc = NULL;
		return nats_fail("JetStream context", s, 0);
	}
	return 0;
}

static int
js_open(const char *spec, vb_cmp_sys **out)
{
	vb_cmp_sys *sys = calloc(1, sizeof(*sys));
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamConfig cfg;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	const char *subjects[] = { "vb.>" };
	natsStatus s;
	int rv;

	if (sys == NULL)
		return VB_ENOMEM;
	if (strlen(spec) >= sizeof(sys->url)) {
		free(sys);
		return VB_EINVAL;
	}
	strcpy(sys->url, spec);
	if ((rv = js_connect(spec, NULL, &nc, &js)) != 0) {
		free(sys);
		return rv;
	}
	jsStreamConfig_Init(&cfg);
	cfg.Name = STREAM;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = 1;
	js_DeleteStream(js, STREAM, NULL, NULL);
	if ((s = js_AddStream(&si, js, &cfg, NULL, &jerr)) != NATS_OK)
		rv = nats_fail("add stream " STREAM, s, jerr);
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	if (rv != 0) {
		free(sys);
		return rv;
	}
	*out = sys;
	return 0;
}

static void
js_close(vb_cmp_sys *s)
{
	free(s);
}

static int
js_conn_open(vb_cmp_sys *s, vb_cmp_conn **out)
{
	vb_cmp_conn *c = calloc(1, sizeof(*c));
	int rv;

	if (c == NULL)
		return VB_ENOMEM;
	c->sys = s;
	if ((rv = js_connect(s->url, c, &c->nc, &c->js)) != 0) {
		free(c);
		return rv;
	}
	*out = c;
	return 0;
}

static void
js_conn_close(vb_cmp_conn *c)
{
	if (c == NULL)
		return;
	kvStore_Destroy(c->kv);
	jsCtx_Destroy(c->js);
	natsConnection_Destroy(c->nc);
	free(c);
}

/* Publish asynchronously: js_PublishAsync blocks while WINDOW are in
 * flight. */
static int
publish_async(vb_cmp_conn *c, const char *const *subjects, const vb_cmp_ev *evs,
    size_t n)
{
	natsStatus s;

	for (size_t i = 0; i < n; i++)
		if ((s = js_PublishAsync(c->js,
		         subjects ? subjects[i] : SUBJECT, evs[i].p,
		         (int)evs[i].len, NULL)) != NATS_OK)
			return nats_fail("asynchronous publish", s, 0);
	return atomic_load(&c->failed) ? VB_EIO : 0;
}

static int
js_flush(vb_cmp_conn *c)
{
	jsPubOptions po;
	natsStatus s;

	jsPubOptions_Init(&po);
	po.MaxWait = WAIT_MS;
	if ((s = js_PublishAsyncComplete(c->js, &po)) != NATS_OK)
		return nats_fail("waiting for the acknowledgements", s, 0);
	return atomic_load(&c->failed) ? VB_EIO : 0;
}

static int
js_publish(vb_cmp_conn *c, const vb_cmp_ev *evs, size_t n)
{
	jsPubAck *ack = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	if (n > 1)
		return publish_async(c, NULL, evs, n);
	s = js_Publish(&ack, c->js, SUBJECT, evs[0].p, (int)evs[0].len, NULL,
	    &jerr);
	jsPubAck_Destroy(ack);
	return s == NATS_OK ? 0 : nats_fail("publish", s, jerr);
}

/* An ordered consumer on every subject of the stream. */
static int
ordered(vb_cmp_sys *sys, jsDeliverPolicy from, vb_cmp_sub **out)
{
	vb_cmp_sub *sub = calloc(1, sizeof(*sub));
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;
	int rv;

	if (sub == NULL)
		return VB_ENOMEM;
	if ((rv = js_connect(sys->url, NULL, &sub->nc, &sub->js)) != 0) {
		free(sub);
		return rv;
	}
	jsSubOptions_Init(&so);
	so.Stream = STREAM;
	so.Ordered = true;
	so.Config.DeliverPolicy = from;
	if ((s = js_SubscribeSync(&sub->sub, sub->js, "vb.>", NULL, &so,
	         &jerr)) != NATS_OK) {
		rv = nats_fail("ordered consumer", s, jerr);
		jsCtx_Destroy(sub->js);
		natsConnection_Destroy(sub->nc);
		free(sub);
		return rv;
	}
	/* A consumer that keeps up never needs the limit; one that falls
	 * behind would drop and restart: let it queue instead. */
	natsSubscription_SetPendingLimits(sub->sub, -1, -1);
	*out = sub;
	return 0;
}

static int
js_sub_open(vb_cmp_sys *s, vb_cmp_sub **out)
{
	return ordered(s, js_DeliverNew, out);
}

static int
js_sub_next(vb_cmp_sub *s, int timeout_ms, const uint8_t **p, size_t *len)
{
	natsStatus st;

	natsMsg_Destroy(s->msg);
	s->msg = NULL;
	if ((st = natsSubscription_NextMsg(&s->msg, s->sub, timeout_ms)) !=
	    NATS_OK) {
		if (st == NATS_TIMEOUT)
			return VB_ETIMEDOUT;
		return nats_fail("next message", st, 0);
	}
	*p = (const uint8_t *)natsMsg_GetData(s->msg);
	*len = (size_t)natsMsg_GetDataLength(s->msg);
	return 0;
}

static void
js_sub_close(vb_cmp_sub *s)
{
	if (s == NULL)
		return;
	natsMsg_Destroy(s->msg);
	natsSubscription_Unsubscribe(s->sub);
	natsSubscription_Destroy(s->sub);
	jsCtx_Destroy(s->js);
	natsConnection_Destroy(s->nc);
	free(s);
}

static int
js_replay(vb_cmp_conn *c, uint64_t n, uint64_t *count, uint64_t *bytes)
{
	vb_cmp_sub *sub;
	int rv;

	/* The consumer gets a connection of its own, as a new reader would. */
	*count = *bytes = 0;
	if ((rv = ordered(c->sys, js_DeliverAll, &sub)) != 0)
		return rv;
	while (*count < n) {
		const uint8_t *p;
		size_t len;
		if ((rv = js_sub_next(sub, 10000, &p, &len)) != 0)
			break;
		(*count)++;
		*bytes += len;
	}
	js_sub_close(sub);
	return rv;
}

static int
js_lookup_load(vb_cmp_sys *s, size_t customers)
{
	vb_cmp_conn *c;
	kvConfig kc;
	kvStore *kv = NULL;
	natsStatus st;
	int rv;

	if ((rv = js_conn_open(s, &c)) != 0)
		return rv;
	kvConfig_Init(&kc);
	kc.Bucket = BUCKET;
	kc.History = 1;
	kc.StorageType = js_FileStorage;
	kc.Replicas = 1;
	if ((st = js_CreateKeyValue(&kv, c->js, &kc)) != NATS_OK) {
		rv = nats_fail("create bucket " BUCKET, st, 0);
		goto done;
	}
	kvStore_Destroy(kv);
	/* A put is a publish to $KV.<bucket>.<key>: load asynchronously. */
	static char subj[LOAD_BATCH][32];
	const char *subjects[LOAD_BATCH];
	vb_cmp_ev evs[LOAD_BATCH];
	for (size_t i = 0; i < customers && rv == 0;) {
		size_t k = 0;
		for (; k < LOAD_BATCH && i < customers; k++, i++) {
			char cust[16];
			vb_cmp_customer(i, cust);
			snprintf(subj[k], sizeof(subj[k]), "$KV." BUCKET ".%s",
			    cust);
			subjects[k] = subj[k];
			const char *v = vb_cmp_decision(i);
			evs[k] = (vb_cmp_ev){ (const uint8_t *)v, strlen(v) };
		}
		if ((rv = publish_async(c, subjects, evs, k)) == 0)
			rv = js_flush(c);
	}
done:
	js_conn_close(c);
	return rv;
}

static int
js_lookup(vb_cmp_conn *c, const vb_cmp_ask *a)
{
	kvEntry *e = NULL;
	natsStatus s;

	if (c->kv == NULL &&
	    (s = js_KeyValue(&c->kv, c->js, BUCKET)) != NATS_OK)
		return nats_fail("bucket " BUCKET, s, 0);
	if ((s = kvStore_Get(&e, c->kv, a->customer)) != NATS_OK)
		return nats_fail("get", s, 0);
	int rv = kvEntry_ValueLen(e) > 0 ? 0 : VB_EPROTO;
	kvEntry_Destroy(e);
	return rv;
}

static const vb_cmp_backend backend = {
	.name = "jetstream",
	.open = js_open,
	.close = js_close,
	.conn_open = js_conn_open,
	.conn_close = js_conn_close,
	.publish = js_publish,
	.flush = js_flush,
	.sub_open = js_sub_open,
	.sub_next = js_sub_next,
	.sub_close = js_sub_close,
	.replay = js_replay,
	.replay_cli = NULL,
	.lookup_load = js_lookup_load,
	.lookup = js_lookup,
	.filter = NULL,
};

const vb_cmp_backend *
vb_cmp_backend_get(void)
{
	return &backend;
}
