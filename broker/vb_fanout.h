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

/* Send stored events, as the store hands them to the writer: each a
 * varint length and the stored bytes (copied; each event's type is read
 * from it).  A thread of the fan-out's own sends them, so the caller goes
 * on at once.  Calls must not overlap: the order of calls is the order on
 * PUB (the writer's answering thread calls it, or the writer itself once
 * that thread has nothing left, vb_writer.c).  Never waits for a
 * subscriber; waits only while 64 MiB are still to send.  0, or
 * VB_ENOMEM (the events are stored: subscribers fill the gap from the
 * log).  With no subscriber connected, the events
 * are dropped at once, as PUB would drop them (vb_fanout_skipped). */
int vb_fanout_submit(vb_fanout *fo, const uint8_t *stored, size_t len);

/* Events submitted while no subscriber was connected, which were dropped
 * at once instead of built into messages for nobody. */
uint64_t vb_fanout_skipped(vb_fanout *fo);

/* Hands what was submitted to the socket, then closes it (nng drops what
 * a pipe has not written yet).  Accepts NULL. */
void vb_fanout_close(vb_fanout *fo);

#endif
