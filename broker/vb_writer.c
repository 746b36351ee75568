#include "vb_writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vb_error.h"
#include "vb_time.h"

/* One committed group, and what it produced, until it is durable. */
typedef struct batch {
	vb_job *group;
	vb_store_item *items; /* every job's items, in order */
	size_t n, cap;
	vb_buf stored;        /* the events it stored, for fan-out */
	vb_buf aux;
	uint64_t commit;      /* durable once vb_store_durable(commit) */
	int rv;
} batch;

struct vb_writer {
	pthread_t thread;
	pthread_mutex_t mtx;
	pthread_cond_t work;   /* the queue is not empty, or stop */
	pthread_cond_t done;   /* a group was committed */
	vb_job *head, *tail;
	size_t queued;         /* jobs in the queue */
	size_t inside;         /* threads in vb_writer_submit */
	int stopping;
	size_t max_events;
	int tick_ms;
	int linger_us;
	int64_t last_tick_us;    /* vb_time_mono_us() */
	int64_t last_readers_us; /* vb_time_mono_us() */
	int64_t last_trim_us;    /* vb_time_mono_us() */
	vb_store *store;
	vb_fanout *fo;
	vb_log *log;
	/* writer-thread only: two batches, one committed and waiting for the
	 * flush that makes it durable (pend), the other being committed. */
	batch b[2];
	batch *pend;
	size_t released;         /* jobs woken by the last finish */
	vb_buf tick_stored;
};

/* Hand every event of *stored (varint length, bytes) to PUB, in order. */
static void
fan_out(vb_writer *w, const vb_buf *stored)
{
	if (w->fo != NULL)
		(void)vb_fanout_submit(w->fo, stored->data, stored->len);
}

/* Intervals (and the idle wait) go by the monotonic clock
 * (vb_time_mono_us): a step back of the wall clock must not stop the
 * ticks until it catches up.  The gate's "now" stays the wall clock. */

/* A process killed in a read transaction pins every page freed after its
 * snapshot until its slot is cleared; the check is a scan of the reader
 * table, so every few seconds costs nothing. */
#define READER_CHECK_US (5 * 1000000)
/* How often the writer looks at how much of the map is mapped in. */
#define TRIM_CHECK_US 10000

/* Results back to b's jobs, then wake their submitters: replies leave
 * only now, once b is durable (or failed, rv); then fan b's events out. */
static void
finish(vb_writer *w, batch *b, int rv)
{
	size_t k = 0, jobs = 0;

	pthread_mutex_lock(&w->mtx);
	for (vb_job *j = b->group, *next; j; j = next) {
		next = j->next;
		if (rv == 0 && !j->rebuild) {
			memcpy(j->items, b->items + k, j->n * sizeof(*j->items));
			for (size_t i = 0; i < j->n && j->aux; i++) {
				vb_store_item *it = &j->items[i];
				if (it->kind != VB_ITEM_RECORD)
					continue;
				size_t off = j->aux->len;
				/* With its NUL. */
				if (vb_buf_append(j->aux, b->aux.data + it->reasons_off,
				    it->reasons_len + 1) != 0) {
					j->rv = VB_ENOMEM;
					it->reasons_len = 0;
				}
				it->reasons_off = off;
			}
		}
		k += j->n;
		if (j->rv == 0)
			j->rv = rv;
		j->done = 1;
		jobs++;
	}
	pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->mtx);
	w->released = jobs;
	b->group = NULL;
	/* From here on the jobs belong to their submitters again: fan-out
	 * reads only the writer's own buffer. */
	if (rv == 0)
		fan_out(w, &b->stored);
}

/* Finish the pending batch: flush first unless a later commit did. */
static void
settle(vb_writer *w)
{
	batch *b = w->pend;
	if (b == NULL)
		return;
	w->pend = NULL;
	if (vb_store_durable(w->store, b->commit)) {
		finish(w, b, VB_OK);
		return;
	}
	vb_log_debug(w->log, "W002", "flush for a group of %zu item(s)", b->n);
	finish(w, b, vb_store_sync(w->store));
}

/* Between groups: hand the index entries to the folder, clear dead
 * readers' slots, let go of the map's pages. */
static void
chores(vb_writer *w)
{
	int64_t mono = vb_time_mono_us();
	(void)vb_store_fold_start(w->store);
	/* The pages commits read through the map count in the broker's RSS
	 * until let go: a second of heavy writes would pile up hundreds of
	 * MiB of them between ticks. */
	if (mono - w->last_trim_us >= TRIM_CHECK_US) {
		w->last_trim_us = mono;
		vb_store_trim(w->store);
	}
	if (mono - w->last_readers_us >= READER_CHECK_US) {
		w->last_readers_us = mono;
		vb_store_check_readers(w->store, NULL);
	}
}

static int
tick_due(vb_writer *w)
{
	return vb_time_mono_us() - w->last_tick_us >= (int64_t)w->tick_ms * 1000;
}

/* Every tick_ms: let go of the map's pages, and publish what the clock
 * changed.  Nothing may be pending: its events go out first. */
static void
tick(vb_writer *w)
{
	w->last_tick_us = vb_time_mono_us();
	vb_store_release_pages(w->store);
	vb_buf_reset(&w->tick_stored);
	/* Published once durable, as any stored event. */
	if (vb_store_tick(w->store, vb_time_now(), &w->tick_stored) == 0 &&
	    w->tick_stored.len > 0 && vb_store_sync(w->store) == 0)
		fan_out(w, &w->tick_stored);
}

static int
gather(batch *b, vb_job *group)
{
	size_t n = 0;
	for (vb_job *j = group; j; j = j->next)
		n += j->n;
	if (n > b->cap) {
		vb_store_item *p = realloc(b->items, n * sizeof(*p));
		if (p == NULL)
			return VB_ENOMEM;
		b->items = p;
		b->cap = n;
	}
	n = 0;
	for (vb_job *j = group; j; j = j->next) {
		memcpy(b->items + n, j->items, j->n * sizeof(*j->items));
		n += j->n;
	}
	b->n = n;
	return VB_OK;
}

/* Commit group into batch b; b->rv says how it went. */
static void
commit_group(vb_writer *w, batch *b, vb_job *group)
{
	char recorded[VB_TIME_BUFSZ];
	int rv;

	int64_t t0 = vb_time_now();

	b->group = group;
	b->n = 0;
	vb_buf_reset(&b->stored);
	vb_buf_reset(&b->aux);
	if (group->rebuild) {
		rv = vb_store_rebuild(w->store, vb_time_now(), &b->stored, &group->counts[0],
		    &group->counts[1], &group->counts[2]);
	} else {
		rv = gather(b, group);
		if (rv == 0)
			rv = vb_store_append(w->store, b->items, b->n,
			    vb_time_format(vb_time_now(), recorded), &b->stored, &b->aux);
	}
	/* Even a group that stored nothing new (duplicates) waits for the
	 * commits before it: its replies name their seqs. */
	b->commit = vb_store_last_commit(w->store);
	b->rv = rv;
	vb_log_debug(w->log, "W001", "group of %zu item(s): %s in %.2f ms", b->n,
	    rv == 0 ? "committed" : vb_strerror(rv), (double)(vb_time_now() - t0) / 1000);
}

/* Take the queue's first jobs, up to max_events (always at least one job;
 * a rebuild goes alone), or NULL.  Called with mtx held. */
static vb_job *
take_group(vb_writer *w)
{
	vb_job *group = w->head, *last = w->head;
	size_t n;
	if (group == NULL)
		return NULL;
	n = last->n;
	w->queued--;
	while (!group->rebuild && last->next && !last->next->rebuild &&
	    n + last->next->n <= w->max_events) {
		last = last->next;
		n += last->n;
		w->queued--;
	}
	w->head = last->next;
	if (w->head == NULL)
		w->tail = NULL;
	last->next = NULL;
	return group;
}

/* Wait, with mtx held, until the queue is worth a commit.  With nothing
 * pending: until there is work, or tick_ms.  With a batch pending, its
 * flush is better shared: the submitters the last finish woke are
 * likely to send again at once, so wait up to linger_us for as many jobs
 * as it woke; the next commit's flush then makes the pending batch
 * durable too. */
static void
wait_work(vb_writer *w)
{
	struct timespec ts;
	int64_t us;
	if (w->pend == NULL) {
		us = (int64_t)w->tick_ms * 1000;
	} else {
		if (w->released == 0 || w->linger_us == 0 || w->queued >= w->released)
			return;
		us = w->linger_us;
	}
	vb_time_deadline(CLOCK_MONOTONIC, us, &ts); /* the work cond's clock */
	while (!w->stopping && (w->pend == NULL ? w->head == NULL : w->queued < w->released))
		if (pthread_cond_timedwait(&w->work, &w->mtx, &ts) != 0)
			break;
}

static void *
writer_main(void *arg)
{
	vb_writer *w = arg;
	pthread_setname_np(pthread_self(), "vb-writer");
	for (;;) {
		vb_job *group;
		int stopping;

		pthread_mutex_lock(&w->mtx);
		wait_work(w);
		group = take_group(w);
		stopping = w->stopping;
		pthread_mutex_unlock(&w->mtx);
		if (group == NULL) {
			/* Nobody to share the flush with. */
			settle(w);
			if (stopping)
				break;
			chores(w);
			if (tick_due(w))
				tick(w);
			continue;
		}
		/* The items still point into the jobs' requests, which wait
		 * for us, so no lock is needed while committing. */
		batch *b = w->pend == &w->b[0] ? &w->b[1] : &w->b[0];
		commit_group(w, b, group);
		w->released = 0;
		settle(w); /* the one before b: b's flush made it durable, most often */
		if (b->rv != 0)
			finish(w, b, b->rv); /* nothing of it was stored */
		else
			w->pend = b;
		chores(w);
		if (tick_due(w)) {
			settle(w);
			tick(w);
		}
	}
	return NULL;
}

int
vb_writer_start(vb_store *store, vb_fanout *fo, size_t max_events,
    int tick_ms, int linger_us, vb_log *log, vb_writer **out)
{
	vb_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return VB_ENOMEM;
	w->store = store;
	w->fo = fo;
	w->log = log;
	w->max_events = max_events;
	w->tick_ms = tick_ms > 0 ? tick_ms : 1000;
	w->linger_us = linger_us > 0 ? linger_us : 0;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->work, &ca);
	pthread_cond_init(&w->done, NULL);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_mutex_destroy(&w->mtx);
		pthread_cond_destroy(&w->work);
		pthread_cond_destroy(&w->done);
		free(w);
		return VB_ENOMEM;
	}
	*out = w;
	return VB_OK;
}

int
vb_writer_submit(vb_writer *w, vb_job *job)
{
	int rv;
	job->done = 0;
	job->rv = 0;
	job->next = NULL;
	pthread_mutex_lock(&w->mtx);
	if (w->stopping) {
		pthread_mutex_unlock(&w->mtx);
		return VB_ECLOSED;
	}
	if (w->tail)
		w->tail->next = job;
	else
		w->head = job;
	w->tail = job;
	w->queued++;
	w->inside++;
	pthread_cond_signal(&w->work);
	while (!job->done)
		pthread_cond_wait(&w->done, &w->mtx);
	rv = job->rv;
	/* The last one out lets vb_writer_stop free w. */
	if (--w->inside == 0 && w->stopping)
		pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->mtx);
	return rv;
}

void
vb_writer_stop(vb_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mtx);
	w->stopping = 1;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mtx);
	pthread_join(w->thread, NULL);
	/* Every job is answered now, but a submitter woken for its answer
	 * may not have taken the mutex back yet. */
	pthread_mutex_lock(&w->mtx);
	while (w->inside > 0)
		pthread_cond_wait(&w->done, &w->mtx);
	pthread_mutex_unlock(&w->mtx);
	pthread_mutex_destroy(&w->mtx);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->done);
	for (int i = 0; i < 2; i++) {
		free(w->b[i].items);
		vb_buf_free(&w->b[i].stored);
		vb_buf_free(&w->b[i].aux);
	}
	vb_buf_free(&w->tick_stored);
	free(w);
}
