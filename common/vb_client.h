/* vb_client: the client side of the broker's ingest and query sockets, for
 * the CLI, the adapters, the benchmarks and the tests.
 *
 * Sockets are dialled on first use, synchronously, so that "nothing listens
 * there" is an immediate VB_ECONNREFUSED instead of a timeout.  After that
 * nng reconnects on its own, and REQ resends a request whose reply does not
 * come: the broker's idempotent ingest makes that safe. */
#ifndef VB_CLIENT_H
#define VB_CLIENT_H

#include "vb_event.h"
#include "vb_wire.h"

#define VB_DEFAULT_INGEST "tcp://127.0.0.1:7450"
#define VB_DEFAULT_PUB "tcp://127.0.0.1:7451"
#define VB_DEFAULT_QUERY "tcp://127.0.0.1:7452"

typedef struct vb_client vb_client;

typedef struct vb_client_opts {
	const char *ingest;  /* NULL: the default address */
	const char *query;
	int timeout_ms;      /* per request; 0: 30 s */
	const char *tls_ca;  /* CA file for tls+tcp:// addresses; NULL: the
	                      * VOICEBUS_TLS_CA environment variable */
	const char *token;   /* presented with every request (copied); NULL:
	                      * the VOICEBUS_TOKEN environment variable */
} vb_client_opts;

/* Nothing is dialled yet.  URLs are copied.  *out: vb_client_close. */
int vb_client_open(const vb_client_opts *opts, vb_client **out);
void vb_client_close(vb_client *c);

/* Publish n events in one request and wait for the broker's reply (after
 * its commit).  *out: vb_ingest_reply_free.  A request-wide failure is
 * out->code / out->error with 0 returned; the return value is for transport
 * failures (VB_ECONNREFUSED, VB_ETIMEDOUT, ...). */
int vb_client_publish(vb_client *c, vb_event *const *evs, size_t n,
    vb_ingest_reply *out);

/* Send a raw, already encoded IngestRequest (benchmarks).  Same reply rules. */
int vb_client_publish_raw(vb_client *c, const uint8_t *p, size_t len,
    vb_ingest_reply *out);

/* One query.  *out: vb_query_reply_free (a replay page's events point into
 * the message received, which that frees).  As for publish, out->code carries
 * the broker's refusal and the return value transport failures. */
int vb_client_query(vb_client *c, const vb_query_req *q, vb_query_reply *out);

/* vb_client_query in two halves, so that the broker can read the next
 * replay page while the caller handles this one: send q (borrowed, and
 * encoded before this returns), then later take its reply as
 * vb_client_query would.  Sending again before the reply is taken
 * abandons the earlier request (REQ's rule): only the last one's reply
 * comes. */
int vb_client_query_send(vb_client *c, const vb_query_req *q);
int vb_client_query_recv(vb_client *c, vb_query_reply *out);

/* The same on one of the query socket's lanes (REQ contexts), 0 to
 * VB_CLIENT_LANES - 1: each lane has a request of its own in flight, so
 * the broker's workers can decide one while another's reply travels and
 * the caller handles a third.  The calls above are lane 0.  Replies come
 * in any order across lanes; take each lane's in turn.  VB_EINVAL for a
 * lane out of range. */
#define VB_CLIENT_LANES 4
int vb_client_query_send_lane(vb_client *c, int lane, const vb_query_req *q);
int vb_client_query_recv_lane(vb_client *c, int lane, vb_query_reply *out);

/* Make every call in progress or to come fail at once with VB_ECLOSED.
 * Safe from another thread (a signal-waiting thread, say); c must still be
 * released with vb_client_close by its owner. */
void vb_client_abort(vb_client *c);

/* What the last failure to reach the broker was, in words ("" if none or
 * no more than its code says).  Owned by c. */
const char *vb_client_last_error(const vb_client *c);

/* The address a call failed to reach, for error messages. */
const char *vb_client_ingest_url(const vb_client *c);
const char *vb_client_query_url(const vb_client *c);

#endif
