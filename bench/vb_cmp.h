/* vb_cmp: one benchmark driver, three systems.
 *
 * The driver (vb_cmp.c and the files vb_cmp_impl.h names) runs the
 * workloads of docs/benchmarks.md against a server that scripts/bench.sh
 * started; each system is a backend, a table of functions in a file of its
 * own (vb_cmp_voicebus.c, vb_cmp_jetstream.c, vb_cmp_redis.c), linked with
 * the driver into one program per system, so that the program of a system
 * whose client library is not installed is simply not built.
 *
 * Every system carries the same bytes: an event is the protobuf encoding of
 * a voicebus.v1.Event, 200 bytes for the synthetic workloads.
 *
 * Functions return 0 or a negative VB_E code, and say what went wrong on
 * stderr themselves. */
#ifndef VB_CMP_H
#define VB_CMP_H

#include <stddef.h>
#include <stdint.h>

typedef struct vb_cmp_sys vb_cmp_sys;   /* a backend's state, one per run */
typedef struct vb_cmp_conn vb_cmp_conn; /* one client connection, one thread */
typedef struct vb_cmp_sub vb_cmp_sub;   /* one subscriber */

/* One event: protobuf bytes, borrowed for the length of a call. */
typedef struct vb_cmp_ev {
	const uint8_t *p;
	size_t len;
} vb_cmp_ev;

/* What the lookup workload asks: a customer, and (for the gate) a purpose
 * and a channel.  Strings are borrowed for the call. */
typedef struct vb_cmp_ask {
	const char *customer, *purpose, *channel;
} vb_cmp_ask;

typedef struct vb_cmp_backend {
	const char *name;
	/* Connect to the server named by spec (the backend's own syntax, see
	 * its file) and prepare it (create the stream).  *out: close. */
	int (*open)(const char *spec, vb_cmp_sys **out);
	void (*close)(vb_cmp_sys *s);

	/* A connection of its own for one thread.  *out: conn_close. */
	int (*conn_open)(vb_cmp_sys *s, vb_cmp_conn **out);
	void (*conn_close)(vb_cmp_conn *c);

	/* Publish n events in one request (n == 1), or one batch (a request,
	 * a pipeline), and return once the server acknowledged every one of
	 * them; a backend with flush may return before the acknowledgements
	 * of a batch (an asynchronous window) and wait for them in flush. */
	int (*publish)(vb_cmp_conn *c, const vb_cmp_ev *evs, size_t n);
	/* Optional (NULL): wait until everything published is acknowledged. */
	int (*flush)(vb_cmp_conn *c);

	/* Follow events published from now on.  sub_next lends the next
	 * event's bytes until the next call; VB_ETIMEDOUT after timeout_ms. */
	int (*sub_open)(vb_cmp_sys *s, vb_cmp_sub **out);
	int (*sub_next)(vb_cmp_sub *s, int timeout_ms, const uint8_t **p,
	    size_t *len);
	void (*sub_close)(vb_cmp_sub *s);

	/* Read the n events stored, from the first, to this one consumer;
	 * *count and *bytes: what arrived. */
	int (*replay)(vb_cmp_conn *c, uint64_t n, uint64_t *count,
	    uint64_t *bytes);
	/* Optional (NULL): the same through the system's own command line,
	 * format "pb" or "jsonl", output thrown away; *seconds it took. */
	int (*replay_cli)(vb_cmp_sys *s, const char *format, double *seconds);

	/* Store what the lookup workload asks about, for customers
	 * C-000000 ... (see vb_cmp_customer). */
	int (*lookup_load)(vb_cmp_sys *s, size_t customers);
	/* One lookup, one round trip. */
	int (*lookup)(vb_cmp_conn *c, const vb_cmp_ask *a);
	/* Optional (NULL): an audience CSV (header, customer in column 2)
	 * through the lookup, allowed rows to /dev/null, blocked rows to
	 * blocked; *seconds it took. */
	int (*filter)(vb_cmp_sys *s, const char *audience, const char *blocked,
	    double *seconds);
} vb_cmp_backend;

/* The backend linked into this program. */
const vb_cmp_backend *vb_cmp_backend_get(void);

/* The customer id of number i: "C-%06zu" into buf (at least 16 bytes). */
void vb_cmp_customer(size_t i, char *buf);

/* The value stored for customer i by the key-value backends: what the
 * gate would decide for an upsell e-mail, as JSON (static storage). */
const char *vb_cmp_decision(size_t i);

/* Run argv (argv[0] a path, or a name looked up in PATH) with stdin from
 * in (or /dev/null), stdout to out (or /dev/null), stderr to /dev/null;
 * *seconds from fork to exit.  0 if it exited 0, VB_EIO otherwise. */
int vb_cmp_run(const char *const *argv, const char *in, const char *out,
    double *seconds);

/* Monotonic nanoseconds. */
int64_t vb_cmp_now_ns(void);

#endif
