/* vb_rep: a REP socket served by a fixed set of worker threads, one nng
 * context each: the shape both the ingest and the query sockets take.
 * A bounded set of contexts bounds the requests in progress, and blocking
 * worker threads may wait (on the writer, on LMDB) without holding up nng's
 * own threads. */
#ifndef VB_REP_H
#define VB_REP_H

#include <stddef.h>
#include <stdint.h>

#include "vb_buf.h"
#include "vb_log.h"
#include "vb_net.h"

typedef struct vb_rep vb_rep;

/* Turn one request (len bytes, valid during the call) into the reply in
 * *reply (empty on entry).  Called on worker thread `worker` (0 ..
 * workers - 1; a worker's calls never overlap, so per-worker state needs
 * no lock).  Return 0 to send the reply; anything else drops the request
 * unanswered (the client's REQ will resend it). */
typedef int (*vb_rep_fn)(void *arg, size_t worker, const uint8_t *req,
    size_t len, vb_buf *reply);

/* Listen on url (with tls for tls+tcp://; may be NULL) and start workers
 * threads calling fn(arg, ...).  Requests over recv_max bytes are dropped
 * by nng.  arg, tls and log are borrowed; arg and log must outlive the
 * server; what names it in log lines.  *out: vb_rep_close; it is set
 * before the first call of fn, which may come before this returns (NULL
 * on failure). */
int vb_rep_open(const char *url, const vb_tls_opts *tls, size_t workers,
    size_t recv_max, vb_rep_fn fn, void *arg, vb_log *log, const char *what,
    vb_rep **out);

struct nng_msg;
/* During worker's fn call: reply with msg (a complete nng message) instead
 * of *reply, which must be left empty.  vb_rep owns msg from this call on,
 * whatever fn returns.  For large replies built in place: no copy. */
void vb_rep_set_reply_msg(vb_rep *r, size_t worker, struct nng_msg *msg);

/* Where the request worker is handling came from ("10.0.0.7:51234",
 * "ipc:/path"), for log lines; only valid during that worker's fn call. */
void vb_rep_peer(const vb_rep *r, size_t worker, char *buf, size_t len);

/* Stop taking connections, let requests in progress be answered (at most
 * drain_ms), then close and join the workers.  Accepts NULL and a server
 * that failed half-way through vb_rep_open. */
void vb_rep_close(vb_rep *r, int drain_ms);

#endif
