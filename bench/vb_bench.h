/* vb_bench: what the benchmarks share: a voicebusd of their own on a
 * temporary directory and ipc:// sockets, a clock, medians. */
#ifndef VB_BENCH_H
#define VB_BENCH_H

#include <stddef.h>
#include <sys/types.h>

typedef struct vb_bench_broker {
	char dir[512];
	char data[600], ingest[600], pub[600], query[600];
	pid_t pid;
} vb_bench_broker;

/* Make a temporary directory under base, start build/bin/voicebusd there
 * (extra: more arguments, NULL-terminated, or NULL) and wait until it
 * answers.  0, or -1 with a message on stderr. */
int vb_bench_broker_start(vb_bench_broker *b, const char *base,
    const char *const *extra);

/* SIGTERM, wait, remove the directory. */
void vb_bench_broker_stop(vb_bench_broker *b);

/* Monotonic seconds. */
double vb_bench_now(void);

/* Median of v[0..n) (sorts v). */
double vb_bench_median(double *v, int n);

/* The p-th percentile (0..100) of v[0..n) (sorts v). */
double vb_bench_percentile(double *v, size_t n, double p);

/* 4 KiB append + fdatasync per second in dir: a flush that also commits
 * the file system's journal, since the file grows. */
double vb_bench_fsync_rate(const char *dir);
/* The same over 1 MiB of the file already written: no growth, so no
 * journal commit in the flush. */
double vb_bench_flush_rate(const char *dir);

/* The round trip of an nng REQ/REP echo of bytes each way: vb_bench_echo,
 * a process of its own, listens on url (tcp://127.0.0.1:0 takes a free
 * port) and this one asks: *p50 and *p99 in microseconds over seconds of
 * back-to-back requests.  The floor of any one request to a server over
 * that transport.  0, or -1 with a message on stderr. */
int vb_bench_nng_echo(const char *url, double seconds, size_t bytes,
    double *p50, double *p99);

#endif
