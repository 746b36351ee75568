/* vb_publish (prefix vb_pub_): events to the broker in batches, with
 * retries, for `voicebus publish` and the adapters.
 *
 * Events are queued in the order they are added and sent in batches sized
 * by the broker's own limits (max_batch, max_message, learnt from a stats
 * query).  A batch that fails for a reason that may pass -- nothing listens,
 * no reply in time, the broker's disk is full -- is sent again with a
 * growing pause (0.1 s doubling to 5 s) until it succeeds or retry_for has
 * passed since its first failure; then the publisher gives up, and every
 * event after it is counted as not stored.  Sending a batch again is safe:
 * the broker stores an id once, whatever the number of attempts.
 *
 * The broker's verdict on each event (stored, duplicate, or rejected with a
 * reason) is counted, and a rejection is reported with the event's file and
 * line. */
#ifndef VB_PUBLISH_H
#define VB_PUBLISH_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "vb_report.h"
#include "vb_client.h"

typedef struct vb_pub vb_pub;

typedef struct vb_pub_opts {
	vb_client *client; /* borrowed; unused (may be NULL) in a dry run */
	const vb_report *report; /* borrowed */
	size_t batch;               /* events per request; 0: 1000 */
	int64_t retry_for_ms;       /* how long to retry a failed batch */
	FILE *dry_run; /* not NULL: print JSON lines here, send nothing */
	volatile sig_atomic_t
	    *stop; /* borrowed, may be NULL: when set, stop retrying */
} vb_pub_opts;

typedef struct vb_pub_counts {
	unsigned long long events; /* added */
	unsigned long long stored; /* newly stored by the broker */
	unsigned long long
	    duplicates; /* stored before: the broker kept the first */
	unsigned long long rejected; /* refused by the broker (reported) */
	unsigned long long unsent;  /* not stored: the broker was given up on */
	unsigned long long printed; /* dry run: printed */
	unsigned long long
	    rows_done; /* input rows whose events are all stored */
} vb_pub_counts;

/* *out: vb_pub_close.  0 or VB_ENOMEM. */
int vb_pub_open(const vb_pub_opts *o, vb_pub **out);

/* Discards what is queued (flush first).  Accepts NULL. */
void vb_pub_close(vb_pub *p);

/* Queue ev, which p owns from now on, in every case.  file is borrowed
 * until the next flush; line is where the event comes from; rows is the
 * number of input rows that are done once this event is stored.  Sends a
 * batch when one is full.  Returns 0, or VB_EIO once the broker has been
 * given up on (already reported; the event is counted as not stored). */
int vb_pub_add(vb_pub *p, vb_event *ev, const char *file,
    unsigned long line, unsigned long rows);

/* Send what is queued.  0 or VB_EIO as for vb_pub_add. */
int vb_pub_flush(vb_pub *p);

/* Counts since the last vb_pub_reset. */
void vb_pub_get_counts(const vb_pub *p, vb_pub_counts *out);

/* Zero the counts (for the next file). */
void vb_pub_reset(vb_pub *p);

/* Whether the broker has been given up on.  Once it has, every event is
 * counted as not stored without trying, until vb_pub_retry. */
int vb_pub_failed(const vb_pub *p);

/* Forget the giving up: the next batch is tried again (the next file of a
 * --watch directory). */
void vb_pub_retry(vb_pub *p);

#endif
