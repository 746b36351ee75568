#include "vb_fanout.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"
#include "vb_event.h"

struct vb_fanout {
	nng_socket sock;
	int open;
	/* Reused for every send: nng_sendmsg allocates an aio per call, and
	 * nng_aio_alloc costs a getrandom(2) syscall each time. */
	nng_aio *aio;
	vb_log *log;
	uint64_t failed;
	int redact;
	vb_buf red;      /* the redacted copy of the event in hand */
};

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
	if ((rv = nng_aio_alloc(&fo->aio, NULL, NULL)) != 0 ||
	    (rv = nng_pub0_open(&fo->sock)) != 0)
		goto fail;
	fo->open = 1;
	/* A deep per-subscriber queue rides out short stalls without a
	 * round trip to the log; beyond it, gap filling takes over. */
	if ((rv = nng_socket_set_int(fo->sock, NNG_OPT_SENDBUF, queue)) != 0)
		goto fail;
	if ((rv = vb_net_listen(fo->sock, url, tls, NULL, why, sizeof(why))) != 0) {
		vb_log_error(log, "F001", "%s", why);
		vb_fanout_close(fo);
		return rv;
	}
	*out = fo;
	return VB_OK;
fail:
	vb_fanout_close(fo);
	return vb_err_from_nng(rv);
}

int
vb_fanout_publish(vb_fanout *fo, const uint8_t *p, size_t len)
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
	if (fo->open)
		nng_close(fo->sock);
	if (fo->aio)
		nng_aio_free(fo->aio);
	vb_buf_free(&fo->red);
	free(fo);
}
