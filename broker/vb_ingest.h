/* vb_ingest: the ingest REP socket.  A bounded set of workers, one nng
 * context each, decode a request (one event or a batch), validate every
 * event, hand the valid ones to the writer and reply once they are durable:
 * each event's seq, duplicate mark or rejection reason. */
#ifndef VB_INGEST_H
#define VB_INGEST_H

#include <stddef.h>

#include "vb_config.h"
#include "vb_log.h"
#include "vb_writer.h"

typedef struct vb_ingest vb_ingest;

/* Listen on cfg->ingest and start cfg->ingest_workers workers.  cfg, w and
 * log are borrowed and must outlive the ingest.  *out: vb_ingest_close. */
int vb_ingest_open(const vb_config *cfg, vb_writer *w, vb_log *log,
    vb_ingest **out);

/* Stop taking connections, let requests in progress finish (at most
 * drain_ms), then close.  Accepts NULL. */
void vb_ingest_close(vb_ingest *in, int drain_ms);

#endif
