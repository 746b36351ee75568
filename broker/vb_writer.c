#include "vb_writer.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vb_error.h"
#include "vb_time.h"

/* How a submitter waits for its job: a semaphore of its own, so that an
 * answered group wakes its submitters alone, and they need no lock to go.
 * A condition variable shared by every submitter woke them all on every
 * answer, to fight for the writer's mutex and go back to sleep. */
struct vb_job_wait {
	sem_t sem;
};

/* Batches: one being committed, the others committed and waiting for
 * their answers. */
#define NBATCH 3

/* One committed group, and what it produced, until it is durable. */
typedef struct batch {
	vb_job *group;
	vb_store_item *items; /* every job's items, in order */
	size_t n, cap;
	vb_buf stored;        /* the events it stored, for fan-out */
	vb_buf aux;
	uint64_t commit;      /* durable once vb_store_durable(commit) */
	int rv;
	int busy;             /* committed and not answered yet (smtx) */
} batch;

struct vb_writer {
	pthread_t thread;
	pthread_mutex_t mtx;
	pthread_cond_t work;   /* the queue is not empty, or stop */
	pthread_cond_t stopped; /* stopping, and the last submitter out */
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
	size_t released;         /* jobs woken by the last finish (mtx) */
	vb_buf tick_stored;
	/* The writer commits a group into a free batch and hands it to the
	 * answering thread (vb-sync), which flushes unless a later commit's
	 * flush made it durable, answers its jobs and fans it out, in commit
	 * order, while the writer goes on with the next group: the meta-page
	 * flush that makes a commit durable runs beside the next commit
	 * instead of after it.  Under smtx: busy, the queue, sync_stop.  A
	 * thread holding mtx may take smtx, never the other way round. */
	batch b[NBATCH];
	batch *sq[NBATCH];       /* committed, in order: sq_head, sq_n */
	size_t sq_head, sq_n;
	int sync_stop;
	pthread_t syncer;
	pthread_mutex_t smtx;
	pthread_cond_t squeued;  /* a batch queued, or sync_stop */
	pthread_cond_t sfreed;   /* a batch answered */
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

	/* The jobs' submitters wait for their semaphores: nothing else
	 * touches the jobs until then, and each may be gone once posted. */
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
		jobs++;
		sem_post(&j->wait->sem);
	}
	pthread_mutex_lock(&w->mtx);
	w->released = jobs;
	pthread_mutex_unlock(&w->mtx);
	b->group = NULL;
	/* From here on the jobs belong to their submitters again: fan-out
	 * reads only the writer's own buffer. */
	if (rv == 0)
		fan_out(w, &b->stored);
}

/* Answer b: flush first unless a later commit's flush made it durable. */
static void
answer(vb_writer *w, batch *b)
{
	int rv = b->rv;
	if (rv == 0 && !vb_store_durable(w->store, b->commit)) {
		vb_log_debug(w->log, "W002", "flush for a group of %zu item(s)", b->n);
		rv = vb_store_sync(w->store);
	}
	finish(w, b, rv);
}

/* The answering thread: each committed batch in turn. */
static void *
syncer_main(void *arg)
{
	vb_writer *w = arg;
	pthread_setname_np(pthread_self(), "vb-sync");
	pthread_mutex_lock(&w->smtx);
	for (;;) {
		while (w->sq_n == 0 && !w->sync_stop)
			pthread_cond_wait(&w->squeued, &w->smtx);
		if (w->sq_n == 0)
			break;
		batch *b = w->sq[w->sq_head];
		pthread_mutex_unlock(&w->smtx);
		answer(w, b);
		pthread_mutex_lock(&w->smtx);
		w->sq_head = (w->sq_head + 1) % NBATCH;
		w->sq_n--;
		b->busy = 0;
		pthread_cond_broadcast(&w->sfreed);
	}
	pthread_mutex_unlock(&w->smtx);
	return NULL;
}

/* Stop the answering thread once it has answered every batch queued. */
static void
stop_syncer(vb_writer *w)
{
	pthread_mutex_lock(&w->smtx);
	w->sync_stop = 1;
	pthread_cond_signal(&w->squeued);
	pthread_mutex_unlock(&w->smtx);
	pthread_join(w->syncer, NULL);
}

/* A batch to commit into: waits while every one is still to be answered. */
static batch *
free_batch(vb_writer *w)
{
	batch *b = NULL;
	pthread_mutex_lock(&w->smtx);
	while (b == NULL) {
		for (int i = 0; i < NBATCH && b == NULL; i++)
			if (!w->b[i].busy)
				b = &w->b[i];
		if (b == NULL)
			pthread_cond_wait(&w->sfreed, &w->smtx);
	}
	b->busy = 1;
	pthread_mutex_unlock(&w->smtx);
	return b;
}

/* Queue committed (or failed) b for its answers.  With no other work,
 * queued or to answer, the writer answers b itself: nothing would run
 * beside the flush, and waking vb-sync would only add to the wait. */
static void
hand_over(vb_writer *w, batch *b)
{
	pthread_mutex_lock(&w->mtx);
	int idle = w->head == NULL;
	pthread_mutex_lock(&w->smtx);
	pthread_mutex_unlock(&w->mtx);
	if (idle && w->sq_n == 0) {
		pthread_mutex_unlock(&w->smtx);
		answer(w, b);
		pthread_mutex_lock(&w->smtx);
		b->busy = 0;
		pthread_cond_broadcast(&w->sfreed);
	} else {
		w->sq[(w->sq_head + w->sq_n) % NBATCH] = b;
		w->sq_n++;
		pthread_cond_signal(&w->squeued);
	}
	pthread_mutex_unlock(&w->smtx);
}

/* Wait until every batch handed over is answered. */
static void
drain(vb_writer *w)
{
	pthread_mutex_lock(&w->smtx);
	while (w->sq_n > 0)
		pthread_cond_wait(&w->sfreed, &w->smtx);
	pthread_mutex_unlock(&w->smtx);
}

/* Between groups: hand the index entries to the folder, keep the data
 * file written ahead of the log, clear dead readers' slots, let go of the
 * map's pages. */
static void
chores(vb_writer *w)
{
	int64_t mono = vb_time_mono_us();
	(void)vb_store_fold_start(w->store);
	vb_store_write_ahead(w->store);
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
 * changed.  Nothing may wait for its answers: its events go out first. */
static void
tick(vb_writer *w)
{
	drain(w);
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

/* Wait, with mtx held, until the queue is worth a commit: until there is
 * work, or tick_ms.  Then, with linger_us set, for as many jobs as the
 * last answers woke, up to linger_us: their submitters are likely to send
 * again at once, and may share the commit's flush. */
static void
wait_work(vb_writer *w)
{
	struct timespec ts;
	if (w->head == NULL) {
		vb_time_deadline(CLOCK_MONOTONIC, (int64_t)w->tick_ms * 1000, &ts);
		while (!w->stopping && w->head == NULL)
			if (pthread_cond_timedwait(&w->work, &w->mtx, &ts) != 0)
				return;
	}
	if (w->head == NULL || w->linger_us == 0 || w->queued >= w->released)
		return;
	vb_time_deadline(CLOCK_MONOTONIC, w->linger_us, &ts);
	while (!w->stopping && w->queued < w->released)
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
		if (group != NULL)
			w->released = 0;
		stopping = w->stopping;
		pthread_mutex_unlock(&w->mtx);
		if (group == NULL) {
			if (stopping)
				break;
			chores(w);
			if (tick_due(w))
				tick(w);
			continue;
		}
		/* The items still point into the jobs' requests, which wait
		 * for us, so no lock is needed while committing. */
		batch *b = free_batch(w);
		commit_group(w, b, group);
		hand_over(w, b);
		chores(w);
		if (tick_due(w))
			tick(w);
	}
	drain(w);
	return NULL;
}

/* Destroy w's locks and free it, with what its batches hold. */
static void
writer_free(vb_writer *w)
{
	pthread_mutex_destroy(&w->mtx);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->stopped);
	pthread_mutex_destroy(&w->smtx);
	pthread_cond_destroy(&w->squeued);
	pthread_cond_destroy(&w->sfreed);
	for (int i = 0; i < NBATCH; i++) {
		free(w->b[i].items);
		vb_buf_free(&w->b[i].stored);
		vb_buf_free(&w->b[i].aux);
	}
	vb_buf_free(&w->tick_stored);
	free(w);
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
	pthread_cond_init(&w->stopped, NULL);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&w->smtx, NULL);
	pthread_cond_init(&w->squeued, NULL);
	pthread_cond_init(&w->sfreed, NULL);
	if (pthread_create(&w->syncer, NULL, syncer_main, w) != 0)
		goto fail;
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		stop_syncer(w);
		goto fail;
	}
	*out = w;
	return VB_OK;
fail:
	writer_free(w);
	return VB_ENOMEM;
}

int
vb_writer_submit(vb_writer *w, vb_job *job)
{
	struct vb_job_wait wait;
	if (sem_init(&wait.sem, 0, 0) != 0)
		return VB_EIO;
	job->rv = 0;
	job->wait = &wait;
	job->next = NULL;
	/* Here, on the submitter's thread: the writer's commits are what
	 * every submitter waits for. */
	if (!job->rebuild)
		vb_store_prepare(w->store, job->items, job->n);
	pthread_mutex_lock(&w->mtx);
	if (w->stopping) {
		pthread_mutex_unlock(&w->mtx);
		sem_destroy(&wait.sem);
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
	pthread_mutex_unlock(&w->mtx);
	while (sem_wait(&wait.sem) != 0 && errno == EINTR)
		;
	sem_destroy(&wait.sem);
	int rv = job->rv;
	/* The last one out of a stopping writer lets vb_writer_stop free it. */
	pthread_mutex_lock(&w->mtx);
	if (--w->inside == 0 && w->stopping)
		pthread_cond_broadcast(&w->stopped);
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
	stop_syncer(w);
	/* Every job is answered now, but a submitter woken for its answer
	 * may not be out yet. */
	pthread_mutex_lock(&w->mtx);
	while (w->inside > 0)
		pthread_cond_wait(&w->stopped, &w->mtx);
	pthread_mutex_unlock(&w->mtx);
	writer_free(w);
}
