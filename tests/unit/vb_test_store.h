/* Reaching into an open store (vb_store_impl.h), for the unit tests of
 * the store and of the writer over it.  Header-only, as vb_test.h. */
#ifndef VB_TEST_STORE_H
#define VB_TEST_STORE_H

#include <pthread.h>

#include "vb_store_impl.h"

/* Keep the folder from folding (as a slow fold would), or let it go. */
static inline void
folder_busy(vb_store *st, int busy)
{
	pthread_mutex_lock(&st->fmtx);
	while (busy && st->fold_busy)
		pthread_cond_wait(&st->fcond, &st->fmtx);
	st->fold_busy = busy;
	pthread_cond_broadcast(&st->fcond);
	pthread_mutex_unlock(&st->fmtx);
}

#endif
