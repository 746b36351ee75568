/* vb_wire: the requests and replies of the ingest and query sockets
 * (voicebus.v1 IngestRequest ... QueryReply), as plain C structs.
 *
 * Decoded structs point into memory owned by the struct itself: everything
 * lives until the matching *_free.  Encoders append to a vb_buf and borrow
 * their inputs. */
#ifndef VB_WIRE_H
#define VB_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "vb_arena.h"
#include "vb_buf.h"
#include "vb_event.h"

typedef struct vb_slice {
	const uint8_t *p;
	size_t len;
} vb_slice;

/* Decoding a request of len bytes allocates at most this many times len
 * (plus 64 KiB); a request that needs more is refused with VB_ETOOBIG. */
#define VB_DECODE_RATIO 16

/* ---- ingest ---- */

int vb_ingest_req_encode(vb_event *const *evs, size_t n, vb_buf *out);

/* Append the token field to an encoded IngestRequest: protobuf merges
 * concatenated messages, so this also serves requests encoded elsewhere.
 * Nothing is appended for "" or NULL. */
int vb_ingest_req_append_token(const char *token, vb_buf *out);

/* Count the events of an encoded IngestRequest without decoding it, so
 * that a limit costs nothing to enforce.  VB_EPROTO if p is not protobuf
 * at its top level (decoding would fail too). */
int vb_ingest_req_peek_count(const uint8_t *p, size_t len, size_t *n);

typedef struct vb_ingest_req vb_ingest_req;
/* Decode a request; its events are lent by vb_ingest_req_event and live
 * until vb_ingest_req_free.  p must stay valid as long as req: an event
 * whose bytes are already canonical is encoded by copying them from p.  VB_EPROTO if p is not an IngestRequest,
 * VB_ETOOBIG if it takes more than VB_DECODE_RATIO times len to decode. */
int vb_ingest_req_decode(const uint8_t *p, size_t len, vb_ingest_req **out);
/* The same, with the request and all it holds allocated in a (whose limit
 * is used here and cleared): it lives until the caller resets or frees a,
 * and vb_ingest_req_free on it does nothing.  For the broker's workers,
 * which decode one request after another: no malloc, and no free walk. */
int vb_ingest_req_decode_in(const uint8_t *p, size_t len, vb_arena *a,
    vb_ingest_req **out);
size_t vb_ingest_req_count(const vb_ingest_req *req);
/* The token the request carries ("" if none), and its length. */
const char *vb_ingest_req_token(const vb_ingest_req *req, size_t *len);
vb_event *vb_ingest_req_event(vb_ingest_req *req, size_t i);
void vb_ingest_req_free(vb_ingest_req *req);

typedef struct vb_ingest_result {
	uint64_t seq;      /* 0 when rejected */
	int duplicate;     /* the id was stored before; seq is the first one */
	const char *error; /* NULL or "" when accepted */
} vb_ingest_result;

typedef struct vb_ingest_reply {
	vb_ingest_result *results; /* n, in request order */
	size_t n;
	int code;          /* 0, or a VB_E code when the whole request failed */
	const char *error; /* "" unless the whole request failed */
	void *priv;
} vb_ingest_reply;

int vb_ingest_reply_encode(const vb_ingest_result *results, size_t n, int code,
    const char *error, vb_buf *out);
/* Fill *out; release with vb_ingest_reply_free.  VB_EPROTO on garbage. */
int vb_ingest_reply_decode(const uint8_t *p, size_t len, vb_ingest_reply *out);
void vb_ingest_reply_free(vb_ingest_reply *r);

/* ---- query ---- */

typedef enum {
	VB_QUERY_NONE = 0,
	VB_QUERY_REPLAY = 1,
	VB_QUERY_STATS = 2,
	VB_QUERY_GATE = 3,
	VB_QUERY_CUSTOMER = 4,
	VB_QUERY_SUPPRESSIONS = 5,
	VB_QUERY_REBUILD = 6,
	VB_QUERY_BACKUP = 7,
	VB_QUERY_CONFIG = 8,
} vb_query_kind;

typedef struct vb_gate_req {
	const char *const *customers;
	size_t n;
	const char *purpose, *channel;
	const char *at;      /* "" or NULL: now */
	const char *record;  /* campaign, or "" / NULL */
} vb_gate_req;

typedef struct vb_decision_msg {
	const char *customer, *purpose, *channel;
	int allow;
	const char *reasons; /* JSON array */
	uint64_t recorded_seq;
	int recorded_duplicate;
} vb_decision_msg;

typedef struct vb_replay_req {
	uint64_t from_seq;       /* 0 or 1: from the start */
	uint64_t to_seq;         /* 0: to the end */
	const char *since;       /* RFC 3339 or NULL/"" */
	const char *until;
	const char *customer;
	const char *type_prefix;
	uint32_t limit;          /* 0: the broker's page size */
} vb_replay_req;

typedef struct vb_query_req {
	vb_query_kind kind;
	vb_replay_req replay;
	vb_gate_req gate;
	struct {
		const char *customer, *at;
	} customer;
	struct {
		const char *after;
		uint32_t limit;
		const char *purpose, *channel;
	} supp;
	const char *backup_path;  /* backup: a file on the broker's host */
	const char *token;   /* the client's token: "" or NULL for none */
	void *priv;
	int in_arena;        /* decoded by vb_query_req_decode_in */
} vb_query_req;

int vb_query_req_encode(const vb_query_req *q, vb_buf *out);
/* Fill *out (strings never NULL); release with vb_query_req_free.
 * VB_EPROTO, or VB_ETOOBIG as for vb_ingest_req_decode. */
int vb_query_req_decode(const uint8_t *p, size_t len, vb_query_req *out);
/* The same, into a's memory (a request of 10,000 customers is as many
 * strings): valid until a is reset, p as well; vb_query_req_free then
 * frees nothing.  The same budget bounds what it takes from a. */
int vb_query_req_decode_in(const uint8_t *p, size_t len, vb_arena *a,
    vb_query_req *out);
/* Whether every string of a decoded q is UTF-8: if not, VB_EINVAL with
 * "gate.customers: not valid UTF-8" in err. */
int vb_query_req_check_utf8(const vb_query_req *q, char *err, size_t errlen);
void vb_query_req_free(vb_query_req *q);

typedef struct vb_replay_reply {
	vb_slice *events; /* encoded voicebus.v1.Event, in seq order */
	size_t n;
	uint64_t next_seq;
	int done;
	uint64_t last_seq;
} vb_replay_reply;

typedef struct vb_count {
	const char *name;
	uint64_t count;
} vb_count;

typedef struct vb_stats {
	uint64_t events, last_seq, customers;
	uint64_t disk_bytes, map_bytes, used_bytes;
	uint32_t max_batch;   /* the broker's limits, for publishers to size */
	uint64_t max_message; /* their batches by */
	const char *client;   /* who asked, and its role ("" without clients) */
	const char *role;
	int pub_redacted;     /* PUB carries redacted events */
	int replay_redacted;  /* this client's replays do */
	vb_count *types;
	size_t ntypes;
	vb_count *sources;
	size_t nsources;
} vb_stats;

typedef struct vb_query_reply {
	int code;          /* 0, or the VB_E code of a failed query */
	const char *error; /* "" unless failed */
	vb_query_kind kind;
	vb_replay_reply replay;
	vb_stats stats;
	/* gate, customer, suppressions */
	vb_decision_msg *decisions;
	size_t ndecisions;
	const char *at;
	const char *state;   /* customer: JSON */
	const char *next;    /* suppressions: page cursor */
	int done;            /* suppressions: no more pages */
	uint64_t rebuilt[3]; /* rebuild: customers, events, changed */
	uint64_t backup_bytes, backup_seq; /* backup: size, last seq at least */
	const char *config;  /* config: the options in effect */
	void *priv;
} vb_query_reply;

int vb_query_reply_encode(const vb_query_reply *r, vb_buf *out);
/* The same bytes, always through protobuf-c (vb_query_reply_encode writes
 * a gate reply directly): the reference its tests compare with. */
int vb_query_reply_encode_pb(const vb_query_reply *r, vb_buf *out);
int vb_query_reply_decode(const uint8_t *p, size_t len, vb_query_reply *out);
/* As vb_query_reply_decode, but a replay page's events may point into p
 * itself instead of into copies.  On success *out takes p: release(arg) is
 * called once, by vb_query_reply_free (or before this returns, if *out does
 * not point into p).  On failure p stays the caller's.  The result is the
 * same as vb_query_reply_decode's. */
int vb_query_reply_decode_keep(const uint8_t *p, size_t len,
    void (*release)(void *arg), void *arg, vb_query_reply *out);
void vb_query_reply_free(vb_query_reply *r);

/* ---- a replay reply built in place ----
 *
 * The broker writes a replay page straight into the message it sends: no
 * copy of the page and no protobuf-c pass over it.  The bytes are those
 * vb_query_reply_encode makes of the same successful reply:
 *
 *   head (vb_replay_head of the length of all that follows it)
 *   for each event: vb_replay_event_head(len), then its len bytes
 *   tail (vb_replay_tail)
 *
 * Each writes into out (at least the _MAX given) and returns the bytes
 * written. */
#define VB_REPLAY_HEAD_MAX 11
#define VB_REPLAY_EVENT_HEAD_MAX 11
#define VB_REPLAY_TAIL_MAX 24
size_t vb_replay_head(size_t body_len, uint8_t *out);
size_t vb_replay_event_head(size_t len, uint8_t *out);
size_t vb_replay_tail(uint64_t next_seq, int done, uint64_t last_seq, uint8_t *out);

#endif
