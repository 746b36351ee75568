/* vb_cmp_impl: what the files of the vb_cmp driver share (vb_cmp.c: the
 * program, its output and what wraps a measurement; vb_cmp_event.c: the
 * events; vb_cmp_ingest.c: workloads 1-4 and the retail export;
 * vb_cmp_read.c: workloads 5 and 6).  Not for the backends: they see
 * vb_cmp.h only. */
#ifndef VB_CMP_IMPL_H
#define VB_CMP_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vb_cmp.h"

#define VB_CMP_EVENT_BYTES 200
#define VB_CMP_MAX_CLIENTS 64

/* A 200-byte event whose id, order and customer are rewritten in place:
 * every event of a run is new to the broker, none costs a JSON parse. */
typedef struct vb_cmp_tmpl {
	uint8_t *p;
	size_t len;
	size_t id_off, order_off, cust_off; /* of their digits */
	int random_ids; /* ids in no order, as UUIDs would be (w3r) */
} vb_cmp_tmpl;

/* One run of the driver: its options and its state. */
typedef struct vb_cmp_ctx {
	const vb_cmp_backend *be;
	vb_cmp_sys *sys;
	const char *workload, *spec, *dir, *jsonl, *perf_out;
	int runs, callgrind;
	double seconds, rate;
	uint64_t budget; /* events per measured part, 0: no limit */
	size_t customers, audience, replay_events;
	pid_t server, perf_pid;
	unsigned phase; /* a different one for every run */
	vb_cmp_tmpl t;
} vb_cmp_ctx;
/* Print "result<TAB>key<TAB>v" (a median) or "info<TAB>key<TAB>v" (measured
 * once, for the reader); result_median takes the median of v[0..n) (and
 * sorts v). */
void vb_cmp_result(const char *key, double v);
void vb_cmp_info(const char *key, double v);
void vb_cmp_result_median(const char *key, double *v, int n);

/* Wait until the server is idle (under 5% of a core over half a second;
 * at most 5 minutes): what a load leaves for its background threads to
 * do (voicebusd's index folds) is not part of the reads measured after
 * it.  Without a server pid, nothing. */
void vb_cmp_settle(vb_cmp_ctx *c);
/* The measured part of a workload starts and ends: perf record attaches to
 * the server, or callgrind's counters are switched on and zeroed, then
 * dumped (events: how many the part handled).  No-ops otherwise. */
int vb_cmp_measure_begin(vb_cmp_ctx *c);
int vb_cmp_measure_end(vb_cmp_ctx *c, uint64_t events);

/* Latencies, growing. */
typedef struct vb_cmp_lat {
	double *v;
	size_t n, cap;
} vb_cmp_lat;
int vb_cmp_lat_add(vb_cmp_lat *l, double x);

/* Make the template (t->p: free).  0 or a VB_E code. */
int vb_cmp_tmpl_make(vb_cmp_tmpl *t);
/* Write width decimal digits of v at dst. */
void vb_cmp_put_digits(uint8_t *dst, size_t width, uint64_t v);
/* Write event number i of (phase, thread) into dst (t->len bytes): a new
 * id and order, a customer among 100,000.  With t->random_ids (w3r) the id's
 * digits are the number scrambled (a bijection, so still new), which
 * vb_cmp_event_parse cannot read back. */
void vb_cmp_event_make(const vb_cmp_tmpl *t, uint8_t *dst, unsigned phase,
    unsigned thread, uint64_t i);
/* The phase and number of an event made by vb_cmp_event_make, from its
 * bytes (as stored: the broker's seq and recorded may follow).  -1 if it
 * is not one of ours. */
int vb_cmp_event_parse(const uint8_t *p, size_t len, unsigned *phase,
    uint64_t *i);

/* The workloads; each prints its results.  0 or a VB_E code. */
int vb_cmp_work_publish(vb_cmp_ctx *c, const char *key, int pubs, size_t batch,
    int latencies);
int vb_cmp_work_e2e(vb_cmp_ctx *c);
int vb_cmp_work_replay(vb_cmp_ctx *c);
int vb_cmp_work_lookup(vb_cmp_ctx *c);
int vb_cmp_work_retail(vb_cmp_ctx *c);

#endif
