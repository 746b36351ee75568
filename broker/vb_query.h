/* vb_query: the query REP socket: replay pages, stats, gate decisions,
 * customer state, the suppression list and rebuilds, served by a
 * bounded set of worker threads, each with its own nng context and its own
 * short LMDB read transactions (a page never pins old pages for long). */
#ifndef VB_QUERY_H
#define VB_QUERY_H

#include "vb_config.h"
#include "vb_log.h"
#include "vb_store.h"
#include "vb_writer.h"

typedef struct vb_query vb_query;

/* Listen on cfg->query.  cfg, store, writer (for reservations and
 * rebuilds, which write) and log are borrowed and must outlive the query
 * server.  *out: vb_query_close. */
int vb_query_open(const vb_config *cfg, vb_store *store, vb_writer *writer,
    vb_log *log, vb_query **out);

/* Accepts NULL. */
void vb_query_close(vb_query *q);

#endif
