/* vb_harness: start the real voicebusd and the real voicebus CLI as
 * processes for integration tests, on a temporary directory and ipc://
 * addresses inside it (tests never collide on ports).
 *
 * Every process started here is SIGKILLed when the thread that started it
 * exits (PR_SET_PDEATHSIG), so that a failed assertion leaves nothing
 * running: start them from the test's own thread. */
#ifndef VB_HARNESS_H
#define VB_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vb_client.h"

typedef struct vb_h_broker {
	char dir[256];        /* temporary directory: data/, sockets, logs */
	char data[300];
	char ingest[320], pub[320], query[320];
	char log[300];        /* the broker's stderr */
	pid_t pid;
} vb_h_broker;

/* Make a temporary directory and addresses in it; start nothing. */
void vb_h_init(vb_h_broker *b);

/* Start voicebusd (extra args may be NULL-terminated list or NULL) and
 * wait, with a deadline, until it answers a stats query.  Fails the test
 * otherwise. */
void vb_h_start(vb_h_broker *b, const char *const *extra);

/* SIGTERM and wait; returns the exit status (or -signal). */
int vb_h_stop(vb_h_broker *b);

/* SIGKILL and reap. */
void vb_h_kill(vb_h_broker *b);

/* Remove the temporary directory (after stopping). */
void vb_h_cleanup(vb_h_broker *b);

/* A client for b; free with vb_client_close. */
vb_client *vb_h_client(const vb_h_broker *b);

/* Run build/bin/voicebus with args (NULL-terminated), stdin from in_path
 * (or /dev/null), stdout and stderr into the given files (or /dev/null).
 * Returns the exit status. */
int vb_h_cli(const char *const *args, const char *in_path, const char *out_path,
    const char *err_path);

/* Start the CLI in the background the same way; returns its pid. */
pid_t vb_h_cli_bg(const char *const *args, const char *out_path,
    const char *err_path);

/* Read a whole file (NUL-terminated; caller frees).  NULL if absent. */
char *vb_h_slurp(const char *path, size_t *len);

/* Count '\n' in a file. */
size_t vb_h_count_lines(const char *path);

/* Write text to path. */
void vb_h_write(const char *path, const char *text);

/* Publish events generated as JSON lines with ids "<prefix>-<i>" for
 * i in [from, to) over c, batch events per request; store acked seqs in
 * acked[i] when not NULL.  Returns the number acknowledged. */
size_t vb_h_publish_range(vb_client *c, const char *prefix, size_t from,
    size_t to, size_t batch, uint64_t *acked);

/* Make one valid order.placed JSON line for id and customer. */
void vb_h_order_json(char *buf, size_t len, const char *id, const char *customer);

/* The broker's last seq, by a stats query over c (fails the test if it
 * cannot be asked). */
uint64_t vb_h_last_seq(vb_client *c);

/* A "Name:   123 kB" line of /proc/<pid>/status, in KiB; -1 if absent. */
long vb_h_proc_kib(pid_t pid, const char *name);

/* Monotonic milliseconds. */
int64_t vb_h_now_ms(void);

#endif
