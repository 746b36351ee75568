/* vb_fanout: every stored event goes out on one PUB socket, in seq order.
 * Message layout: the event's type, one NUL byte, then the stored protobuf
 * bytes (voicebus.v1.Event with seq and recorded).  Subscribing to a prefix
 * of the type ("complaint.") filters by type.  PUB drops the oldest
 * messages for a subscriber that falls behind; subscribers notice the gap in
 * seq and fill it from the query socket. */
#ifndef VB_FANOUT_H
#define VB_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include "vb_log.h"
#include "vb_net.h"

typedef struct vb_fanout vb_fanout;

/* Listen on url (tls for tls+tcp://, may be NULL), queueing up to queue
 * messages per subscriber before the oldest are dropped.  With redact,
 * every event goes out in vb_event_redact's form: PUB cannot tell who
 * subscribes, so with access control on it carries only what any client
 * may read.  *out: vb_fanout_close. */
int vb_fanout_open(const char *url, const vb_tls_opts *tls, int queue,
    int redact, vb_log *log, vb_fanout **out);

/* Send one stored event (p is copied; its type is read from it).  Never
 * blocks on a subscriber.  Called by the one writer thread, which is what
 * keeps the order. */
int vb_fanout_publish(vb_fanout *fo, const uint8_t *p, size_t len);

/* Accepts NULL. */
void vb_fanout_close(vb_fanout *fo);

#endif
