/* vb_config: every option of voicebusd, as one table (name, type, default,
 * bounds), read from an INI file and from the command line. */
#ifndef VB_CONFIG_H
#define VB_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "vb_auth.h"
#include "vb_gate.h"
#include "vb_log.h"

#define VB_URL_MAX 512

typedef struct vb_config {
	char data[4096];            /* data directory */
	char ingest[VB_URL_MAX];    /* REP: events in */
	char pub[VB_URL_MAX];       /* PUB: events out */
	char query[VB_URL_MAX];     /* REP: replay, stats */
	vb_log_level log_level;
	int64_t ingest_workers;     /* nng contexts serving ingest */
	int64_t query_workers;      /* threads serving queries */
	int64_t max_batch;          /* events in one ingest request */
	int64_t max_message;        /* bytes in one request (NNG_OPT_RECVMAXSZ) */
	int64_t commit_max_events;  /* events in one group commit */
	int64_t commit_linger_us;   /* wait for more work to share a flush */
	int64_t map_size;           /* initial LMDB map */
	int64_t map_size_max;       /* the map never grows past this */
	int64_t replay_page;        /* default events per replay page */
	int64_t replay_page_max;    /* most events a client may ask per page */
	int64_t pub_queue;          /* PUB messages queued per subscriber */
	int64_t clock_tick_ms;      /* how often clock-driven changes are checked */
	char tls_cert[4096];        /* PEM certificate for tls+tcp:// listeners */
	char tls_key[4096];         /* its PEM private key */
	char tls_key_password[256]; /* the key's password, if it has one */
	int64_t pub_full;           /* with clients: whole events on PUB */
	vb_rules rules;             /* [rule.NAME] sections */
	vb_auth auth;               /* [client.NAME] sections */
} vb_config;

/* Fill c with the embedded defaults. */
void vb_config_defaults(vb_config *c);

/* Read path into c (over what c holds): a [broker] section of options
 * a [rule.NAME] section per gate rule and a [client.NAME] section per
 * client (vb_auth).  On error returns VB_EINVAL and
 * writes "path:line: option: what is wrong" into err. */
int vb_config_load(vb_config *c, const char *path, char *err, size_t errlen);

/* Set one option by its name ("ingest", "map_size") from text, as the file
 * and the command line do.  Returns 0 or VB_EINVAL with the reason in err. */
int vb_config_set(vb_config *c, const char *name, const char *value, char *err,
    size_t errlen);

/* What only the whole configuration can tell, once every option is set:
 * without clients (no access control) every address must be loopback or
 * ipc://.  0, or VB_EINVAL with the reason in err. */
int vb_config_check(const vb_config *c, char *err, size_t errlen);

/* Whether PUB carries the redacted form of events: with clients
 * configured, unless pub_full (vb_fanout.h says why). */
int vb_config_pub_redacted(const vb_config *c);

/* Write every option and its value, one "name = value" line each. */
void vb_config_dump(const vb_config *c, FILE *out);

#endif
