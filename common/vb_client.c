#include "vb_client.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"
#include "vb_net.h"
#include "vb_token.h"

/* A REQ context of a socket: a request in flight of its own.  Every
 * request goes on one (the ingest socket uses its first only). */
typedef struct lane {
	nng_ctx ctx;
	nng_aio *aio; /* reused: nng_sendmsg/recvmsg allocate one per call */
	int open;
} lane;

typedef struct endpoint {
	char *url;
	nng_socket sock;
	int open;
	lane lanes[VB_CLIENT_LANES];
} endpoint;

struct vb_client {
	endpoint ingest, query;
	/* abort may come from another thread while a socket is being dialled:
	 * the lock orders "aborted" against each endpoint's "open". */
	pthread_mutex_t mtx;
	int aborted;
	char *tls_ca;
	char *token;          /* "" for none */
	vb_buf token_field;   /* IngestRequest.token, encoded, for every publish */
	char err[256];
	int timeout_ms;
	vb_buf buf;
};

static int
ep_ready(vb_client *c, endpoint *ep)
{
	int rv, aborted;
	pthread_mutex_lock(&c->mtx);
	rv = ep->open ? 1 : c->aborted ? -1 : 0;
	pthread_mutex_unlock(&c->mtx);
	if (rv != 0)
		return rv > 0 ? VB_OK : VB_ECLOSED;
	if ((rv = nng_req0_open(&ep->sock)) != 0)
		return vb_err_from_nng(rv);
	nng_socket_set_ms(ep->sock, NNG_OPT_SENDTIMEO, c->timeout_ms);
	nng_socket_set_ms(ep->sock, NNG_OPT_RECVTIMEO, c->timeout_ms);
	/* Replies may be big replay pages. */
	nng_socket_set_size(ep->sock, NNG_OPT_RECVMAXSZ, 64u << 20);
	/* A commit normally takes well under a second; resending sooner
	 * than this only makes the broker answer "duplicate" twice. */
	nng_socket_set_ms(ep->sock, NNG_OPT_REQ_RESENDTIME, 10000);
	nng_socket_set_ms(ep->sock, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(ep->sock, NNG_OPT_RECONNMAXT, 1000);
	vb_tls_opts tls = { .ca = c->tls_ca };
	if ((rv = vb_net_dial(ep->sock, ep->url, &tls, c->err, sizeof(c->err))) != 0) {
		nng_close(ep->sock);
		return rv;
	}
	pthread_mutex_lock(&c->mtx);
	if (!(aborted = c->aborted))
		ep->open = 1;
	pthread_mutex_unlock(&c->mtx);
	if (aborted) {
		nng_close(ep->sock);
		return VB_ECLOSED;
	}
	return VB_OK;
}

int
vb_client_open(const vb_client_opts *opts, vb_client **out)
{
	vb_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return VB_ENOMEM;
	pthread_mutex_init(&c->mtx, NULL);
	c->ingest.url = strdup(opts->ingest ? opts->ingest : VB_DEFAULT_INGEST);
	c->query.url = strdup(opts->query ? opts->query : VB_DEFAULT_QUERY);
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
	const char *token = opts->token ? opts->token : getenv(VB_TOKEN_ENV);
	if ((c->token = strdup(token ? token : "")) == NULL ||
	    vb_ingest_req_append_token(c->token, &c->token_field) != 0) {
		vb_client_close(c);
		return VB_ENOMEM;
	}
	if (opts->tls_ca || getenv("VOICEBUS_TLS_CA")) {
		c->tls_ca = strdup(opts->tls_ca ? opts->tls_ca : getenv("VOICEBUS_TLS_CA"));
		if (c->tls_ca == NULL) {
			vb_client_close(c);
			return VB_ENOMEM;
		}
	}
	if (c->ingest.url == NULL || c->query.url == NULL) {
		vb_client_close(c);
		return VB_ENOMEM;
	}
	*out = c;
	return VB_OK;
}

void
vb_client_close(vb_client *c)
{
	if (c == NULL)
		return;
	if (c->ingest.open)
		nng_close(c->ingest.sock);
	if (c->query.open)
		nng_close(c->query.sock);
	/* Closing a socket closed its contexts. */
	for (int i = 0; i < VB_CLIENT_LANES; i++) {
		if (c->ingest.lanes[i].aio)
			nng_aio_free(c->ingest.lanes[i].aio);
		if (c->query.lanes[i].aio)
			nng_aio_free(c->query.lanes[i].aio);
	}
	free(c->ingest.url);
	free(c->query.url);
	free(c->tls_ca);
	if (c->token)
		memset(c->token, 0, strlen(c->token));
	free(c->token);
	vb_buf_free(&c->token_field);
	vb_buf_free(&c->buf);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}

/* ep's lane i, opened (with ep) on first use. */
static int
lane_ready(vb_client *c, endpoint *ep, int i, lane **out)
{
	lane *l;
	int rv;
	if (i < 0 || i >= VB_CLIENT_LANES)
		return VB_EINVAL;
	l = &ep->lanes[i];
	if ((rv = ep_ready(c, ep)) != 0)
		return rv;
	if (!l->open) {
		if (l->aio == NULL) {
			nng_aio *aio;
			if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0)
				return vb_err_from_nng(rv);
			pthread_mutex_lock(&c->mtx); /* vb_client_abort reads it */
			l->aio = aio;
			pthread_mutex_unlock(&c->mtx);
		}
		if ((rv = nng_ctx_open(&l->ctx, ep->sock)) != 0)
			return vb_err_from_nng(rv);
		/* As the socket's (a context copies it when made; said
		 * again so that the two cannot drift apart). */
		nng_ctx_set_ms(l->ctx, NNG_OPT_REQ_RESENDTIME, 10000);
		l->open = 1;
	}
	*out = l;
	return VB_OK;
}

/* Start op (a send or receive) on lane l, unless the client is aborted:
 * 0 then.  Under the lock, so that vb_client_abort either sees the
 * operation started and aborts it, or is seen here. */
static int
lane_start(vb_client *c, lane *l, void (*op)(nng_ctx, nng_aio *))
{
	int go;
	pthread_mutex_lock(&c->mtx);
	if ((go = !c->aborted))
		op(l->ctx, l->aio);
	pthread_mutex_unlock(&c->mtx);
	return go;
}

/* Send buf and then tail (NULL: nothing) as one message on lane l. */
static int
send_req(vb_client *c, lane *l, const vb_buf *buf, const vb_buf *tail)
{
	nng_msg *msg;
	int rv;
	if ((rv = nng_msg_alloc(&msg, buf->len + (tail ? tail->len : 0))) != 0)
		goto fail;
	memcpy(nng_msg_body(msg), buf->data, buf->len);
	if (tail && tail->len)
		memcpy((uint8_t *)nng_msg_body(msg) + buf->len, tail->data, tail->len);
	nng_aio_set_timeout(l->aio, c->timeout_ms);
	nng_aio_set_msg(l->aio, msg);
	if (!lane_start(c, l, nng_ctx_send)) {
		nng_msg_free(msg);
		return VB_ECLOSED;
	}
	nng_aio_wait(l->aio);
	if ((rv = nng_aio_result(l->aio)) != 0) {
		nng_msg_free(msg);
		goto fail;
	}
	return VB_OK;
fail:
	return vb_err_from_nng(rv);
}

/* The reply to the request last sent on lane l.  *reply: nng_msg_free. */
static int
recv_reply(vb_client *c, lane *l, nng_msg **reply)
{
	int rv;
	nng_aio_set_timeout(l->aio, c->timeout_ms);
	if (!lane_start(c, l, nng_ctx_recv))
		return VB_ECLOSED;
	nng_aio_wait(l->aio);
	if ((rv = nng_aio_result(l->aio)) != 0)
		return vb_err_from_nng(rv);
	*reply = nng_aio_get_msg(l->aio);
	return VB_OK;
}

/* Send buf and then tail (NULL: nothing) as one message on ep and receive
 * the reply.  *reply: nng_msg_free. */
static int
roundtrip(vb_client *c, endpoint *ep, const vb_buf *buf, const vb_buf *tail,
    nng_msg **reply)
{
	lane *l = NULL;
	int rv = lane_ready(c, ep, 0, &l);
	if (rv == 0)
		rv = send_req(c, l, buf, tail);
	return rv != 0 ? rv : recv_reply(c, l, reply);
}

int
vb_client_publish_raw(vb_client *c, const uint8_t *p, size_t len,
    vb_ingest_reply *out)
{
	vb_buf b = { (uint8_t *)p, len, len };
	nng_msg *reply = NULL;
	/* The token goes after the events: protobuf merges the two. */
	int rv = roundtrip(c, &c->ingest, &b, &c->token_field, &reply);
	if (rv != 0)
		return rv;
	rv = vb_ingest_reply_decode(nng_msg_body(reply), nng_msg_len(reply), out);
	nng_msg_free(reply);
	return rv;
}

int
vb_client_publish(vb_client *c, vb_event *const *evs, size_t n,
    vb_ingest_reply *out)
{
	int rv;
	vb_buf_reset(&c->buf);
	if ((rv = vb_ingest_req_encode(evs, n, &c->buf)) != 0)
		return rv;
	return vb_client_publish_raw(c, c->buf.data, c->buf.len, out);
}

static void
msg_release(void *arg)
{
	nng_msg_free(arg);
}

int
vb_client_query_send_lane(vb_client *c, int lane_no, const vb_query_req *q)
{
	vb_query_req qt = *q;
	lane *l = NULL;
	int rv;
	if ((rv = lane_ready(c, &c->query, lane_no, &l)) != 0)
		return rv;
	if (qt.token == NULL || qt.token[0] == '\0')
		qt.token = c->token;
	vb_buf_reset(&c->buf);
	if ((rv = vb_query_req_encode(&qt, &c->buf)) != 0)
		return rv;
	return send_req(c, l, &c->buf, NULL);
}

int
vb_client_query_recv_lane(vb_client *c, int lane_no, vb_query_reply *out)
{
	nng_msg *reply = NULL;
	int rv;
	if (lane_no < 0 || lane_no >= VB_CLIENT_LANES || !c->query.lanes[lane_no].open)
		return VB_ECLOSED; /* nothing was sent */
	if ((rv = recv_reply(c, &c->query.lanes[lane_no], &reply)) != 0)
		return rv;
	/* A replay page's events stay in the message: no copy of each. */
	rv = vb_query_reply_decode_keep(nng_msg_body(reply), nng_msg_len(reply), msg_release,
	    reply, out);
	if (rv != 0)
		nng_msg_free(reply);
	return rv;
}

int
vb_client_query_send(vb_client *c, const vb_query_req *q)
{
	return vb_client_query_send_lane(c, 0, q);
}

int
vb_client_query_recv(vb_client *c, vb_query_reply *out)
{
	return vb_client_query_recv_lane(c, 0, out);
}

int
vb_client_query(vb_client *c, const vb_query_req *q, vb_query_reply *out)
{
	int rv = vb_client_query_send(c, q);
	return rv != 0 ? rv : vb_client_query_recv(c, out);
}

void
vb_client_abort(vb_client *c)
{
	/* Abort the operations in flight rather than close the sockets
	 * under the threads waiting on them: nng 1.5.2's nng_close can hang
	 * for ever when another thread is inside a receive on the socket
	 * (nanomsg/nng#1543, #1813).  The owner closes the sockets in
	 * vb_client_close, once nobody waits on them. */
	pthread_mutex_lock(&c->mtx);
	c->aborted = 1;
	for (int i = 0; i < VB_CLIENT_LANES; i++) {
		if (c->ingest.lanes[i].aio)
			nng_aio_abort(c->ingest.lanes[i].aio, NNG_ECLOSED);
		if (c->query.lanes[i].aio)
			nng_aio_abort(c->query.lanes[i].aio, NNG_ECLOSED);
	}
	pthread_mutex_unlock(&c->mtx);
}

const char *
vb_client_last_error(const vb_client *c)
{
	return c->err;
}

const char *vb_client_ingest_url(const vb_client *c) { return c->ingest.url; }
const char *vb_client_query_url(const vb_client *c) { return c->query.url; }
