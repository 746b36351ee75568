/* vb_auth: who may do what.  The broker's config lists clients
 * ([client.NAME] sections), each with the SHA-256 of its token and a role;
 * every request carries a token, and the broker finds its client and asks
 * whether the role allows the operation.
 *
 * Tokens are random secrets made by `voicebus token` (256 bits), so a plain
 * SHA-256 suffices to keep the config file from holding them: there is no
 * password to guess.  A token is compared with every client's hash, in
 * constant time and without stopping at a match, so neither the answer's
 * timing nor its content tells a caller how close a guess came. */
#ifndef VB_AUTH_H
#define VB_AUTH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_log.h"

#define VB_CLIENTS_MAX 64
#define VB_CLIENT_NAME_MAX 64

typedef enum {
	VB_ROLE_PUBLISHER,  /* ingest, for the sources it is granted */
	VB_ROLE_MARKETING,  /* gate, filter, customer, suppressions, redacted tail */
	VB_ROLE_ENGINEER,   /* full replay and tail, and every read */
	VB_ROLE_ADMIN,      /* everything: rebuild, backup, config, any source */
	VB_NROLES,
} vb_role;

typedef enum {
	VB_OP_INGEST,
	VB_OP_STATS,
	VB_OP_REPLAY,        /* marketing: redacted events only */
	VB_OP_GATE,
	VB_OP_RECORD,        /* gate or filter with --record: writes message.sent */
	VB_OP_CUSTOMER,
	VB_OP_SUPPRESSIONS,
	VB_OP_REBUILD,
	VB_OP_BACKUP,
	VB_OP_CONFIG,        /* read the configuration in effect */
	VB_NOPS,
} vb_op;

extern const char *const vb_role_names[VB_NROLES];
extern const char *const vb_op_names[VB_NOPS];
/* What op does, in words, for refusals: "may not <verb>". */
extern const char *const vb_op_verbs[VB_NOPS];

typedef struct vb_auth_client {
	char name[VB_CLIENT_NAME_MAX];
	uint8_t hash[32];       /* SHA-256 of the token */
	int has_hash, has_role;
	vb_role role;
	unsigned sources;       /* publisher: bit i of vb_auth_sources[i] */
	int line;               /* where its section starts, for errors */
} vb_auth_client;

typedef struct vb_auth {
	size_t n;
	vb_auth_client client[VB_CLIENTS_MAX];
} vb_auth;

/* The sources of the contract, by bit. */
extern const char *const vb_auth_sources[];

/* Set option name ("token_sha256", "role", "sources") of client from config
 * text; the client is added on its first option.  0, or VB_EINVAL with
 * "what is wrong" in err. */
int vb_auth_set(vb_auth *a, const char *client, const char *name,
    const char *value, int line, char *err, size_t errlen);

/* After loading: every client has a token hash and a role, a publisher
 * has sources, no two clients share a token.  0, or VB_EINVAL with
 * "[client.NAME]: what is wrong" in err and its section's line in *line. */
int vb_auth_check(const vb_auth *a, int *line, char *err, size_t errlen);

/* Whether access control is on: some client is configured. */
int vb_auth_enabled(const vb_auth *a);

/* The client whose token is token (len bytes), or NULL.  Constant time in
 * the token's content; the result points into a. */
const vb_auth_client *vb_auth_find(const vb_auth *a, const char *token,
    size_t len);

/* Whether role may do op at all (a publisher's sources are checked per
 * event with vb_auth_may_publish). */
int vb_auth_allows(vb_role role, vb_op op);

/* Whether c may publish events of source. */
int vb_auth_may_publish(const vb_auth_client *c, const char *source);

/* Whether what c reads of events must be the redacted form: no complaint
 * text, no amounts (vb_event_redact). */
int vb_auth_redacts(const vb_auth_client *c);

/* Denials are logged (A001) naming the client, or "unknown token", and the
 * peer; at most VB_AUTH_LOG_PER_S lines a second per limiter, so a client
 * guessing tokens cannot fill the disk: the rest are counted, and the count
 * is logged (A002) with the next line let through. */
#define VB_AUTH_LOG_PER_S 20

typedef struct vb_auth_limit {
	pthread_mutex_t mtx;
	int64_t second;
	unsigned logged;
	uint64_t dropped;
} vb_auth_limit;

void vb_auth_limit_init(vb_auth_limit *l);
void vb_auth_limit_fini(vb_auth_limit *l);

/* Log that c (NULL: no client matched the token) from peer was refused
 * what ("ingest", "replay"), because why. */
void vb_auth_log_denial(vb_auth_limit *l, vb_log *log, const vb_auth_client *c,
    const char *peer, const char *what, const char *why);

#endif
