/* voicebusd: the broker.  Wires the store, the writer, fan-out, ingest and
 * query together, then waits for SIGTERM or SIGINT and drains. */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vb_config.h"
#include "vb_error.h"
#include "vb_fanout.h"
#include "vb_ingest.h"
#include "vb_log.h"
#include "vb_query.h"
#include "vb_store.h"
#include "vb_writer.h"

#define PROG "voicebusd"
/* How long a stop waits for requests in progress to be answered. */
#define DRAIN_MS 5000

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: " PROG " [options]\n"
	    "The voicebus broker: stores events durably in LMDB, fans them out, answers queries.\n"
	    "\n"
	    "  --data DIR            data directory (default ./voicebus-data)\n"
	    "  --config FILE         read options from FILE ([broker] section, see deploy/)\n"
	    "  --check-config FILE   validate FILE, print the resulting options, exit\n"
	    "  --ingest URL          ingest REP address (default tcp://127.0.0.1:7450)\n"
	    "  --pub URL             publish PUB address (default tcp://127.0.0.1:7451)\n"
	    "  --query URL           query REP address (default tcp://127.0.0.1:7452)\n"
	    "  --log-level LEVEL     error, warn, info (default) or debug\n"
	    "  --set NAME=VALUE      set any config option\n"
	    "  --help, --version\n"
	    "\n"
	    "Addresses may be tcp://, ipc:// or tls+tcp:// (with tls_cert and tls_key set).\n"
	    "SIGTERM or SIGINT: drain and exit 0.\n");
}

typedef struct broker {
	vb_config cfg;
	vb_log log;
	vb_store *store;
	vb_fanout *fanout;
	vb_writer *writer;
	vb_query *query;
	vb_ingest *ingest;
} broker;

static int
broker_start(broker *b)
{
	vb_store_opts so = { (uint64_t)b->cfg.map_size, (uint64_t)b->cfg.map_size_max, &b->log,
		&b->cfg.rules };
	int rv;

	if ((rv = vb_store_open(b->cfg.data, &so, &b->store)) != 0) {
		if (rv == VB_EBUSY)
			vb_log_error(&b->log, "D002", "%s: in use by another voicebusd", b->cfg.data);
		else
			vb_log_error(&b->log, "D003", "%s: cannot open the store: %s",
			    b->cfg.data, vb_strerror(rv));
		return rv;
	}
	vb_tls_opts tls = { b->cfg.tls_cert, b->cfg.tls_key, b->cfg.tls_key_password, NULL };
	if ((rv = vb_fanout_open(b->cfg.pub, &tls, (int)b->cfg.pub_queue,
	    vb_config_pub_redacted(&b->cfg), &b->log, &b->fanout)) != 0 ||
	    (rv = vb_writer_start(b->store, b->fanout, (size_t)b->cfg.commit_max_events,
	        (int)b->cfg.clock_tick_ms, (int)b->cfg.commit_linger_us, &b->log, &b->writer)) != 0 ||
	    (rv = vb_ingest_open(&b->cfg, b->writer, &b->log, &b->ingest)) != 0 ||
	    /* The query socket last: once it answers, everything is up, which
	     * is what scripts and tests wait for. */
	    (rv = vb_query_open(&b->cfg, b->store, b->writer, &b->log, &b->query)) != 0)
		return rv;
	vb_log_info(&b->log, "D004", "serving %s: last seq %llu; ingest %s, pub %s, query %s",
	    b->cfg.data, (unsigned long long)vb_store_last_seq(b->store), b->cfg.ingest,
	    b->cfg.pub, b->cfg.query);
	if (!vb_auth_enabled(&b->cfg.auth))
		vb_log_warn(&b->log, "A003", "access control off: no [client.NAME] configured, "
		    "so any local process may publish and read; serving loopback and ipc:// only");
	else
		vb_log_info(&b->log, "A004", "access control on: %zu client(s); PUB carries %s",
		    b->cfg.auth.n, b->cfg.pub_full ? "whole events (pub_full)" :
		    "redacted events (no complaint text, no amounts)");
	return VB_OK;
}

/* Stop in dependency order: no new requests, queued events committed and
 * published, then the store.  Both servers go before the writer: a query
 * worker may submit to it (a reservation, a rebuild), and the writer is
 * freed once stopped.  Accepts a half-started broker. */
static void
broker_stop(broker *b)
{
	vb_ingest_close(b->ingest, DRAIN_MS);
	vb_query_close(b->query);
	vb_writer_stop(b->writer);
	vb_fanout_close(b->fanout);
	if (b->store)
		vb_log_info(&b->log, "D005", "stopped: last seq %llu",
		    (unsigned long long)vb_store_last_seq(b->store));
	vb_store_close(b->store);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "ingest", required_argument, NULL, 'i' },
		{ "pub", required_argument, NULL, 'p' },
		{ "query", required_argument, NULL, 'q' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "set", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	/* Command-line options apply after the config file, whatever their
	 * order: remember them first. */
	const char *names[64], *values[64];
	char err[512], setbuf[64][600];
	int nset = 0, c, sig, rv;
	const char *config = NULL, *check = NULL;
	broker b;
	sigset_t sigs;

	/* glibc gives each thread that allocates its own arena, up to 8 a
	 * core, and every arena keeps what its thread freed: with 16 ingest
	 * and 4 query workers each decoding requests of hundreds of KiB,
	 * that was some 15 MiB of voicebusd's RSS doing nothing.  One arena a
	 * core is as many as can be busy at once.  Before any thread. */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	(void)mallopt(M_ARENA_MAX, ncpu > 1 ? (int)ncpu : 1);

	memset(&b, 0, sizeof(b));
	vb_config_defaults(&b.cfg);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char *name = NULL;
		switch (c) {
		case 'd': name = "data"; break;
		case 'i': name = "ingest"; break;
		case 'p': name = "pub"; break;
		case 'q': name = "query"; break;
		case 'l': name = "log_level"; break;
		case 'c': config = optarg; break;
		case 'C': check = optarg; break;
		case 's': {
			char *eq;
			if (nset == 64 || strlen(optarg) >= sizeof(setbuf[0]) ||
			    (eq = strchr(optarg, '=')) == NULL) {
				fprintf(stderr, PROG ": --set %s: expected NAME=VALUE\n", optarg);
				return 2;
			}
			strcpy(setbuf[nset], optarg);
			eq = setbuf[nset] + (eq - optarg);
			*eq = '\0';
			names[nset] = setbuf[nset];
			values[nset++] = eq + 1;
			break;
		}
		case 'h': usage(stdout); return 0;
		case 'V': printf(PROG " %s\n", VB_VERSION); return 0;
		default: usage(stderr); return 2;
		}
		if (name != NULL) {
			if (nset == 64) {
				fprintf(stderr, PROG ": too many options\n");
				return 2;
			}
			names[nset] = name;
			values[nset++] = optarg;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (check != NULL) {
		if (vb_config_load(&b.cfg, check, err, sizeof(err)) != 0 ||
		    vb_config_check(&b.cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, PROG ": %s\n", err);
			return 2;
		}
		vb_config_dump(&b.cfg, stdout);
		fprintf(stderr, PROG ": %s: configuration OK\n", check);
		return 0;
	}
	if (config != NULL && vb_config_load(&b.cfg, config, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 2;
	}
	for (int i = 0; i < nset; i++) {
		if (vb_config_set(&b.cfg, names[i], values[i], err, sizeof(err)) != 0) {
			fprintf(stderr, PROG ": %s\n", err);
			return 2;
		}
	}
	if (vb_config_check(&b.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s%s%s\n", config ? config : "", config ? ": " : "", err);
		return 2;
	}
	vb_log_init(&b.log, stderr, PROG, b.cfg.log_level);

	/* Signals go to sigwait below, never to a handler: every thread
	 * started from here inherits the blocked mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Past a file size limit (ulimit -f, LimitFSIZE=) a write should fail
	 * with EFBIG and the publisher hear "storage full", not kill us. */
	signal(SIGXFSZ, SIG_IGN);

	if ((rv = broker_start(&b)) != 0) {
		broker_stop(&b);
		return 1;
	}
	sigwait(&sigs, &sig);
	vb_log_info(&b.log, "D006", "%s: draining", strsignal(sig));
	broker_stop(&b);
	return 0;
}
