#include "vb_writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vb_error.h"
#include "vb_time.h"

struct vb_writer {
	pthread_t thread;
	pthread_mutex_t mtx;
	pthread_cond_t work;   /* the queue is not empty, or stop */
	pthread_cond_t done;   /* a group was committed */
	vb_job *head, *tail;
	int stopping;
	size_t max_events;
	int tick_ms;
	int64_t last_tick_us;    /* mono_us() */
	int64_t last_readers_us; /* mono_us() */
	int64_t last_fold_us;    /* mono_us(): customer index entries written */
	vb_store *store;
	vb_fanout *fo;
	vb_log *log;
	/* writer-thread only */
	vb_store_item *items;
	size_t items_cap;
	vb_buf stored;
	vb_buf aux;
};

/* Send every event of *stored (varint length, bytes) out on PUB, in order. */
static void
fan_out(vb_writer *w)
{
	size_t off = 0;
	if (w->fo == NULL)
		return;
	while (off < w->stored.len) {
		uint64_t n;
		size_t used = vb_varint_decode(w->stored.data + off, w->stored.len - off, &n);
		if (used == 0 || n > w->stored.len - off - used)
			break;
		off += used;
		vb_fanout_publish(w->fo, w->stored.data + off, (size_t)n);
		off += (size_t)n;
	}
}

/* A process killed in a read transaction pins every page freed after its
 * snapshot until its slot is cleared; the check is a scan of the reader
 * table, so every few seconds costs nothing. */
#define READER_CHECK_US (5 * 1000000)

/* Intervals (and the idle wait) go by the monotonic clock: a step back of
 * the wall clock (NTP, an operator) must not stop the ticks until it
 * catches up.  The gate's "now" stays the wall clock. */
static int64_t
mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Customer index entries wait in memory (vb_pending.h) until this many
 * have gathered: sorted, they share pages of the index. */
#define FOLD_EVENTS 65536
/* ... or until the oldest has waited this long, when traffic is light. */
#define FOLD_AFTER_US (10 * 1000000LL)

static void
maybe_fold(vb_writer *w, int64_t mono)
{
	size_t n = vb_store_pending(w->store);
	if (n == 0) {
		w->last_fold_us = mono;
		return;
	}
	if (n < FOLD_EVENTS && mono - w->last_fold_us < FOLD_AFTER_US)
		return;
	w->last_fold_us = mono;
	(void)vb_store_fold_customers(w->store); /* logged; tried again later */
}

static void
tick(vb_writer *w)
{
	int64_t mono = mono_us();
	maybe_fold(w, mono);
	if (mono - w->last_readers_us >= READER_CHECK_US) {
		w->last_readers_us = mono;
		vb_store_check_readers(w->store, NULL);
	}
	if (mono - w->last_tick_us < (int64_t)w->tick_ms * 1000)
		return;
	w->last_tick_us = mono;
	vb_store_release_pages(w->store);
	vb_buf_reset(&w->stored);
	if (vb_store_tick(w->store, vb_time_now(), &w->stored) == 0)
		fan_out(w);
}

static int
gather(vb_writer *w, vb_job *group, size_t *n_out)
{
	size_t n = 0;
	for (vb_job *j = group; j; j = j->next)
		n += j->n;
	if (n > w->items_cap) {
		vb_store_item *p = realloc(w->items, n * sizeof(*p));
		if (p == NULL)
			return VB_ENOMEM;
		w->items = p;
		w->items_cap = n;
	}
	n = 0;
	for (vb_job *j = group; j; j = j->next) {
		memcpy(w->items + n, j->items, j->n * sizeof(*j->items));
		n += j->n;
	}
	*n_out = n;
	return VB_OK;
}

static void
commit_group(vb_writer *w, vb_job *group)
{
	char recorded[VB_TIME_BUFSZ];
	size_t n = 0;
	int rv;

	int64_t t0 = vb_time_now();

	vb_buf_reset(&w->stored);
	vb_buf_reset(&w->aux);
	if (group->rebuild) {
		rv = vb_store_rebuild(w->store, vb_time_now(), &w->stored, &group->counts[0],
		    &group->counts[1], &group->counts[2]);
	} else {
		rv = gather(w, group, &n);
		if (rv == 0)
			rv = vb_store_append(w->store, w->items, n,
			    vb_time_format(vb_time_now(), recorded), &w->stored, &w->aux);
	}
	vb_log_debug(w->log, "W001", "group of %zu item(s): %s in %.2f ms", n,
	    rv == 0 ? "committed" : vb_strerror(rv), (double)(vb_time_now() - t0) / 1000);
	/* Results back to their jobs, then wake the submitters: replies leave
	 * only now, after the commit. */
	pthread_mutex_lock(&w->mtx);
	size_t k = 0;
	for (vb_job *j = group, *next; j; j = next) {
		next = j->next;
		if (rv == 0 && !j->rebuild) {
			memcpy(j->items, w->items + k, j->n * sizeof(*j->items));
			for (size_t i = 0; i < j->n && j->aux; i++) {
				vb_store_item *it = &j->items[i];
				if (it->kind != VB_ITEM_RECORD)
					continue;
				size_t off = j->aux->len;
				/* With its NUL. */
				if (vb_buf_append(j->aux, w->aux.data + it->reasons_off,
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
	}
	pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->mtx);
	/* From here on the jobs belong to their submitters again: fan-out
	 * reads only the writer's own buffer. */
	if (rv == 0)
		fan_out(w);
}

static void *
writer_main(void *arg)
{
	vb_writer *w = arg;
	for (;;) {
		vb_job *group, *last;
		size_t n;

		pthread_mutex_lock(&w->mtx);
		while (w->head == NULL && !w->stopping) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts); /* the work cond's clock */
			ts.tv_sec += w->tick_ms / 1000;
			ts.tv_nsec += (long)(w->tick_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_cond_timedwait(&w->work, &w->mtx, &ts) != 0)
				break;
		}
		if (w->head == NULL) {
			int stopping = w->stopping;
			pthread_mutex_unlock(&w->mtx);
			if (stopping)
				break;
			tick(w);
			continue;
		}
		/* Whole jobs, up to max_events (always at least one job); a
		 * rebuild goes alone. */
		group = last = w->head;
		n = last->n;
		while (!group->rebuild && last->next && !last->next->rebuild &&
		    n + last->next->n <= w->max_events) {
			last = last->next;
			n += last->n;
		}
		w->head = last->next;
		if (w->head == NULL)
			w->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&w->mtx);
		/* The items still point into the jobs' requests, which wait
		 * for us, so no lock is needed while committing. */
		commit_group(w, group);
		tick(w);
	}
	return NULL;
}

int
vb_writer_start(vb_store *store, vb_fanout *fo, size_t max_events,
    int tick_ms, vb_log *log, vb_writer **out)
{
	vb_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return VB_ENOMEM;
	w->store = store;
	w->fo = fo;
	w->log = log;
	w->max_events = max_events;
	w->tick_ms = tick_ms > 0 ? tick_ms : 1000;
	w->last_fold_us = mono_us();
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
	pthread_cond_signal(&w->work);
	while (!job->done)
		pthread_cond_wait(&w->done, &w->mtx);
	rv = job->rv;
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
	pthread_mutex_destroy(&w->mtx);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->done);
	free(w->items);
	vb_buf_free(&w->stored);
	vb_buf_free(&w->aux);
	free(w);
}
