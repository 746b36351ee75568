/* vb_writer: group commit.  One thread (vb-writer) drains the events
 * submitted by every ingest worker into one LMDB transaction and commits
 * it (one flush for all); another (vb-sync) makes each commit durable
 * (vb_store.h: a flush of its meta page, unless a later commit's flush
 * carried it), then wakes the submitters and hands the new events to
 * fan-out, in commit order, while the writer commits the next group. */
#ifndef VB_WRITER_H
#define VB_WRITER_H

#include <stddef.h>

#include "vb_fanout.h"
#include "vb_log.h"
#include "vb_store.h"

typedef struct vb_writer vb_writer;

/* A unit of work: the items of one ingest or gate request, or a rebuild.
 * Owned by the submitter; the writer uses it only between submit and its
 * return. */
typedef struct vb_job {
	vb_store_item *items;
	size_t n;
	vb_buf *aux;        /* RECORD items: their reasons (offsets into it) */
	int rebuild;        /* a rebuild of all state instead of items */
	uint64_t counts[3]; /* rebuild: customers, events, changed */
	int rv;             /* out: 0, or why nothing of it was stored */
	struct vb_job_wait *wait; /* private to vb_writer */
	struct vb_job *next;
} vb_job;

/* Start the writer thread.  Between groups, and at least every tick_ms, it
 * publishes what changed by the clock (vb_store_tick); every few seconds
 * it clears the reader slots of dead processes (vb_store_check_readers).
 * store and fo (may be NULL) are borrowed and must outlive the writer.
 * max_events bounds one transaction.  A committed group is acknowledged
 * once durable.  With linger_us, the writer waits up to that long for as
 * many jobs as the last acknowledgements woke before it commits (0: it
 * commits what is queued at once).  *out: vb_writer_stop. */
int vb_writer_start(vb_store *store, vb_fanout *fo, size_t max_events,
    int tick_ms, int linger_us, vb_log *log, vb_writer **out);

/* Queue job and wait until its transaction is durable (or failed).
 * Returns job->rv.  Safe from any number of threads. */
int vb_writer_submit(vb_writer *w, vb_job *job);

/* Commit what is queued, answer it, wait for every submitter to return,
 * then stop the thread and free w.  No new submit may start once stop
 * has (it would use w after the free).  Accepts NULL. */
void vb_writer_stop(vb_writer *w);

#endif
