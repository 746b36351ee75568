/* vb_cli: what the subcommands of `voicebus` share: the connection options,
 * error reporting in the contract's form, exit codes. */
#ifndef VB_CLI_H
#define VB_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "vb_client.h"

#define VB_PROG "voicebus"

/* Exit codes of the contract. */
#define VB_EXIT_OK 0
#define VB_EXIT_FAIL 1
#define VB_EXIT_USAGE 2

/* Options every subcommand accepts. */
typedef struct vb_cli_conn {
	const char *ingest, *pub, *query;
	int timeout_ms;
	const char *tls_ca;   /* NULL: VOICEBUS_TLS_CA */
	const char *token_file; /* NULL: VOICEBUS_TOKEN */
} vb_cli_conn;

/* getopt_long values of the shared options, above any short option. */
enum {
	VB_OPT_INGEST = 1000,
	VB_OPT_PUB,
	VB_OPT_QUERY,
	VB_OPT_TIMEOUT,
	VB_OPT_HELP,
	VB_OPT_TLS_CA,
	VB_OPT_TOKEN_FILE,
	VB_OPT_FIRST_OWN = 1100, /* subcommands number their own from here */
};

#define VB_CLI_CONN_OPTIONS \
	{ "ingest", required_argument, NULL, VB_OPT_INGEST }, \
	{ "pub", required_argument, NULL, VB_OPT_PUB }, \
	{ "query", required_argument, NULL, VB_OPT_QUERY }, \
	{ "timeout", required_argument, NULL, VB_OPT_TIMEOUT }, \
	{ "tls-ca", required_argument, NULL, VB_OPT_TLS_CA }, \
	{ "token-file", required_argument, NULL, VB_OPT_TOKEN_FILE }, \
	{ "help", no_argument, NULL, VB_OPT_HELP }

#define VB_CLI_CONN_HELP \
	"  --ingest URL     ingest address (default " VB_DEFAULT_INGEST ")\n" \
	"  --pub URL        publish address (default " VB_DEFAULT_PUB ")\n" \
	"  --query URL      query address (default " VB_DEFAULT_QUERY ")\n" \
	"  --timeout SEC    per request (default 30)\n" \
	"  --tls-ca FILE    CA of the broker's certificate, for tls+tcp:// (or VOICEBUS_TLS_CA)\n" \
	"  --token-file FILE  this client's token, when the broker lists clients (or VOICEBUS_TOKEN)\n"

void vb_cli_conn_init(vb_cli_conn *c);

/* getopt_long over argv that handles the shared connection options itself
 * (into *c): returns the next option that is the command's own, -1 at the
 * end, or '?' for an unknown option or a bad value (reported).  Set optind
 * to 1 before the first call. */
int vb_cli_next_opt(int argc, char **argv, const struct option *longopts,
    vb_cli_conn *c);

/* One query: on a transport failure or a refusal (or a reply of another
 * kind than want), say so as "<what>: ..." and return VB_EXIT_FAIL
 * (VB_EXIT_USAGE for a refusal of bad input); else 0 with *out to free
 * with vb_query_reply_free. */
int vb_cli_query(vb_client *client, const char *url, const vb_query_req *q,
    vb_query_kind want, const char *what, vb_query_reply *out);
/* vb_cli_query in two halves (see vb_client_query_send), reporting as it
 * does: each returns 0 or VB_EXIT_*. */
int vb_cli_query_send(vb_client *client, const char *url, const vb_query_req *q);
int vb_cli_query_recv(vb_client *client, const char *url, vb_query_kind want,
    const char *what, vb_query_reply *out);
/* The same on a lane of the query socket (vb_client_query_send_lane). */
int vb_cli_query_send_lane(vb_client *client, const char *url, int lane,
    const vb_query_req *q);
int vb_cli_query_recv_lane(vb_client *client, const char *url, int lane,
    vb_query_kind want, const char *what, vb_query_reply *out);

/* Open a client for c, with its token (--token-file or VOICEBUS_TOKEN).
 * Reports failure; returns VB_EXIT_* on failure (USAGE for a bad token
 * file). */
int vb_cli_client(const vb_cli_conn *c, vb_client **out);

/* "voicebus: cannot reach the broker at URL: reason" on stderr; c (may be
 * NULL) tells the reason in more words when it can. */
void vb_cli_transport_error(const vb_client *c, const char *url, int rv);

/* Print "voicebus: <fmt>" on stderr. */
void vb_cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Append s to b as one CSV field (RFC 4180: quoted when it must be). */
void vb_cli_csv_field(vb_buf *b, const char *s);

/* Parse an unsigned decimal into *out; 0 or -1. */
int vb_cli_u64(const char *s, unsigned long long *out);

int vb_cmd_publish(int argc, char **argv);
int vb_cmd_tail(int argc, char **argv);
int vb_cmd_replay(int argc, char **argv);
int vb_cmd_stats(int argc, char **argv);
int vb_cmd_gate(int argc, char **argv);
int vb_cmd_customer(int argc, char **argv);
int vb_cmd_suppressions(int argc, char **argv);
int vb_cmd_rebuild(int argc, char **argv);
int vb_cmd_token(int argc, char **argv);
int vb_cmd_backup(int argc, char **argv);
int vb_cmd_config(int argc, char **argv);
int vb_cmd_filter(int argc, char **argv);

/* One decision as the contract's gate JSON object, appended to b; at and
 * the recorded part only when given. */
void vb_cli_decision_json(vb_buf *b, const vb_decision_msg *d, const char *at,
    int recorded);

#endif

/* ---- printing and paging events, shared by replay and tail ---- */

typedef enum { VB_FMT_JSONL, VB_FMT_PB } vb_cli_format;

/* Parse "jsonl" or "pb"; 0 or -1. */
int vb_cli_format_parse(const char *s, vb_cli_format *out);

/* Append one stored event to out as vb_cli_print_event writes it.  0, or
 * -1 if p does not decode (out is left as it was). */
int vb_cli_format_event(vb_cli_format fmt, const uint8_t *p, size_t len, vb_buf *out);

/* Write one stored event to out: a JSON line, or a varint length and the
 * protobuf bytes.  buf is scratch.  0, or -1 if p does not decode. */
int vb_cli_print_event(FILE *out, vb_cli_format fmt, const uint8_t *p,
    size_t len, vb_buf *buf);

/* Called for each event of a replay, in seq order; non-zero stops. */
typedef int (*vb_cli_event_fn)(void *arg, uint64_t seq, const uint8_t *p,
    size_t len);

/* Page through the events matching base from base->from_seq up to to
 * (inclusive; 0: the last seq when the first page was read).  *last_seen,
 * if not NULL, gets the highest seq examined.  Returns 0, a transport error
 * (VB_E...), or VB_EINVAL for a refusal, already reported with url. */
int vb_cli_replay(vb_client *c, const char *url, const vb_replay_req *base,
    uint64_t to, vb_cli_event_fn fn, void *arg, uint64_t *last_seen);
