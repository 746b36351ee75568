#include "vb_fanout.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"
#include "vb_event.h"

/* Most bytes of events waiting for the sender before the writer waits for
 * it: the sender only copies and queues (PUB never waits for a
 * subscriber), so this is reached only when it gets no processor. */
#define QUEUE_MAX (64u << 20)

struct vb_fanout {
	nng_socket sock;
	int open;
	/* Reused for every send: nng_sendmsg allocates an aio per call, and
	 * nng_aio_alloc costs a getrandom(2) syscall each time. */
	nng_aio *aio;
	vb_log *log;
	uint64_t failed;   /* sends that failed (the sender thread's) */
	uint64_t unqueued; /* submissions refused (the writer's) */
	int redact;
	vb_buf red;      /* the redacted copy of the event in hand */
	/* Subscribers connected, or about to be (nng's pipe callbacks).
	 * With none, a submission is dropped at once: PUB would drop every
	 * message, after the sender had built each one. */
	_Atomic int pipes;
	_Atomic uint64_t skipped;
	/* Handed over by the writer, sent by the sender thread in order. */
	pthread_mutex_t mtx;
	pthread_cond_t more, room;
	vb_buf queue;    /* waiting: varint length + stored bytes, each */
	vb_buf work;     /* the sender's, being sent */
	int stopping;
	pthread_t sender;
	int started;
};

static int publish(vb_fanout *fo, const uint8_t *p, size_t len);

/* Counted from before a pipe joins the socket (ADD_PRE) to after it has
 * left (REM_POST), so that no subscriber that could receive a message is
 * missed: a pipe that never joins only costs messages built for nobody. */
static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	vb_fanout *fo = arg;
	(void)p;
	if (ev == NNG_PIPE_EV_ADD_PRE)
		atomic_fetch_add(&fo->pipes, 1);
	else if (ev == NNG_PIPE_EV_REM_POST)
		atomic_fetch_sub(&fo->pipes, 1);
}

/* The event at *off of stored events p (varint length, bytes, each):
 * 1 with *ev and *evlen, *off past it; 0 at the end, or at a length that
 * runs past it. */
static int
next_stored(const uint8_t *p, size_t len, size_t *off, const uint8_t **ev,
    size_t *evlen)
{
	uint64_t n;
	size_t used;
	if (*off >= len || (used = vb_varint_decode(p + *off, len - *off, &n)) == 0 ||
	    n > len - *off - used)
		return 0;
	*ev = p + *off + used;
	*evlen = (size_t)n;
	*off += used + (size_t)n;
	return 1;
}

static uint64_t
count_events(const uint8_t *p, size_t len)
{
	const uint8_t *ev;
	size_t off = 0, evlen;
	uint64_t n = 0;
	while (next_stored(p, len, &off, &ev, &evlen))
		n++;
	return n;
}

static void
send_all(vb_fanout *fo, const vb_buf *b)
{
	const uint8_t *ev;
	size_t off = 0, evlen;
	while (next_stored(b->data, b->len, &off, &ev, &evlen))
		(void)publish(fo, ev, evlen);
}

/* Sends what the writer hands over, in order, until stopped with nothing
 * left. */
static void *
sender_main(void *arg)
{
	vb_fanout *fo = arg;
	pthread_setname_np(pthread_self(), "vb-fanout");
	pthread_mutex_lock(&fo->mtx);
	for (;;) {
		while (fo->queue.len == 0 && !fo->stopping)
			pthread_cond_wait(&fo->more, &fo->mtx);
		if (fo->queue.len == 0)
			break;
		vb_buf t = fo->work;
		fo->work = fo->queue;
		fo->queue = t;
		vb_buf_reset(&fo->queue);
		pthread_cond_signal(&fo->room);
		pthread_mutex_unlock(&fo->mtx);
		send_all(fo, &fo->work);
		vb_buf_reset(&fo->work);
		pthread_mutex_lock(&fo->mtx);
	}
	pthread_mutex_unlock(&fo->mtx);
	return NULL;
}

int
vb_fanout_open(const char *url, const vb_tls_opts *tls, int queue, int redact,
    vb_log *log, vb_fanout **out)
{
	vb_fanout *fo = calloc(1, sizeof(*fo));
	char why[512];
	int rv;
	if (fo == NULL)
		return VB_ENOMEM;
	fo->log = log;
	fo->redact = redact;
	pthread_mutex_init(&fo->mtx, NULL);
	pthread_cond_init(&fo->more, NULL);
	pthread_cond_init(&fo->room, NULL);
	if ((rv = nng_aio_alloc(&fo->aio, NULL, NULL)) != 0 ||
	    (rv = nng_pub0_open(&fo->sock)) != 0)
		goto fail;
	fo->open = 1;
	/* A deep per-subscriber queue rides out short stalls without a
	 * round trip to the log; beyond it, gap filling takes over. */
	if ((rv = nng_socket_set_int(fo->sock, NNG_OPT_SENDBUF, queue)) != 0 ||
	    (rv = nng_pipe_notify(fo->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, fo)) != 0 ||
	    (rv = nng_pipe_notify(fo->sock, NNG_PIPE_EV_REM_POST, pipe_cb, fo)) != 0)
		goto fail;
	if ((rv = vb_net_listen(fo->sock, url, tls, NULL, why, sizeof(why))) != 0) {
		vb_log_error(log, "F001", "%s", why);
		vb_fanout_close(fo);
		return rv;
	}
	if (pthread_create(&fo->sender, NULL, sender_main, fo) != 0) {
		vb_fanout_close(fo);
		return VB_ENOMEM;
	}
	fo->started = 1;
	*out = fo;
	return VB_OK;
fail:
	vb_fanout_close(fo);
	return vb_err_from_nng(rv);
}

int
vb_fanout_submit(vb_fanout *fo, const uint8_t *stored, size_t len)
{
	int rv;
	if (len == 0)
		return VB_OK;
	if (atomic_load(&fo->pipes) <= 0) {
		atomic_fetch_add(&fo->skipped, count_events(stored, len));
		return VB_OK;
	}
	pthread_mutex_lock(&fo->mtx);
	while (fo->queue.len > 0 && fo->queue.len + len > QUEUE_MAX)
		pthread_cond_wait(&fo->room, &fo->mtx);
	rv = vb_buf_append(&fo->queue, stored, len);
	pthread_cond_signal(&fo->more);
	pthread_mutex_unlock(&fo->mtx);
	/* The writer's own count: failed is the sender's. */
	if (rv != 0 && fo->unqueued++ % 10000 == 0)
		vb_log_warn(fo->log, "F003", "events not published: out of memory "
		    "(%llu times so far)", (unsigned long long)fo->unqueued);
	return rv;
}

uint64_t
vb_fanout_skipped(vb_fanout *fo)
{
	return atomic_load(&fo->skipped);
}

/* One stored event out on PUB (the sender thread). */
static int
publish(vb_fanout *fo, const uint8_t *p, size_t len)
{
	const char *type;
	size_t tl;
	nng_msg *msg;
	int rv;

	if (fo->redact) {
		vb_buf_reset(&fo->red);
		if ((rv = vb_event_pb_redact(p, len, &fo->red)) != 0)
			return rv;
		p = fo->red.data;
		len = fo->red.len;
	}
	/* The topic: the type, third of the stored fields. */
	if (vb_event_peek_type(p, len, &type, &tl) != 0)
		return VB_ECORRUPT;
	if ((rv = nng_msg_alloc(&msg, tl + 1 + len)) != 0)
		goto fail;
	memcpy(nng_msg_body(msg), type, tl);
	((uint8_t *)nng_msg_body(msg))[tl] = 0;
	memcpy((uint8_t *)nng_msg_body(msg) + tl + 1, p, len);
	/* PUB completes a send at once: it queues or drops, never waits
	 * for a subscriber. */
	nng_aio_set_msg(fo->aio, msg);
	nng_send_aio(fo->sock, fo->aio);
	nng_aio_wait(fo->aio);
	if ((rv = nng_aio_result(fo->aio)) != 0) {
		nng_msg_free(msg);
		goto fail;
	}
	return VB_OK;
fail:
	/* The event is stored; subscribers will fill the gap from the log. */
	if (fo->failed++ % 10000 == 0)
		vb_log_warn(fo->log, "F002", "publish failed: %s (%llu so far)",
		    nng_strerror(rv), (unsigned long long)fo->failed);
	return vb_err_from_nng(rv);
}

void
vb_fanout_close(vb_fanout *fo)
{
	if (fo == NULL)
		return;
	if (fo->started) {
		/* What was handed over goes out first. */
		pthread_mutex_lock(&fo->mtx);
		fo->stopping = 1;
		pthread_cond_signal(&fo->more);
		pthread_mutex_unlock(&fo->mtx);
		pthread_join(fo->sender, NULL);
	}
	if (fo->open)
		nng_close(fo->sock);
	if (fo->aio)
		nng_aio_free(fo->aio);
	vb_buf_free(&fo->red);
	vb_buf_free(&fo->queue);
	vb_buf_free(&fo->work);
	pthread_cond_destroy(&fo->more);
	pthread_cond_destroy(&fo->room);
	pthread_mutex_destroy(&fo->mtx);
	free(fo);
}
