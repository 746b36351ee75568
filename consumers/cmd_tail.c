/* voicebus tail: catch up from the log, then follow the PUB socket, printing
 * every matching event exactly once in seq order.
 *
 * PUB drops messages for a subscriber that falls behind (or is stopped), so
 * a jump in seq is filled from the query socket before the new event is
 * printed; and when nothing arrives for a second the broker's last seq is
 * asked, so an event whose message was dropped is printed even if no later
 * event comes to reveal the gap.
 *
 * With access control on, PUB carries the redacted form of events (anyone
 * who can connect can subscribe); a client whose role reads whole events
 * (engineer, admin) takes them from the log, and PUB only wakes it. */
#include <getopt.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "vb_cli.h"
#include "vb_error.h"
#include "vb_net.h"

#define IDLE_MS 1000

typedef struct tailer {
	vb_client *client;
	const char *query_url;
	vb_replay_req rq;  /* type filter for gap filling */
	vb_cli_format fmt;
	vb_buf buf;
	uint64_t next;     /* the next seq to print (or to skip) */
	/* PUB carries redacted events but this client may read whole ones:
	 * a PUB message only says "up to here"; the events come from the log. */
	int via_log;
} tailer;

typedef struct stopper {
	pthread_t thread;
	sigset_t sigs;
	nng_socket sub;
	nng_aio *aio;          /* the main loop's receives on sub */
	pthread_mutex_t mtx;   /* orders stop against starting a receive */
	vb_client *client;
	_Atomic int stop;
} stopper;

/* SIGINT and SIGTERM are taken by this thread, not by a handler: it aborts
 * whatever the main loop waits for (a receive, or a query to a broker that
 * is gone), so tail stops at once.  Aborts, not nng_close: nng 1.5.2's
 * close can hang for ever while another thread receives on the socket
 * (nanomsg/nng#1543); the main thread closes it once out of the loop. */
static void *
stopper_main(void *arg)
{
	stopper *s = arg;
	int sig;
	if (sigwait(&s->sigs, &sig) == 0) {
		pthread_mutex_lock(&s->mtx);
		s->stop = 1;
		nng_aio_abort(s->aio, NNG_ECLOSED);
		pthread_mutex_unlock(&s->mtx);
		vb_client_abort(s->client);
	}
	return NULL;
}

/* The next message on s->sub, waiting up to IDLE_MS (NNG_ETIMEDOUT), or
 * NNG_ECLOSED once stopped.  *msg: nng_msg_free. */
static int
sub_recv(stopper *s, nng_msg **msg)
{
	int go, rv;
	pthread_mutex_lock(&s->mtx);
	if ((go = !s->stop))
		nng_recv_aio(s->sub, s->aio);
	pthread_mutex_unlock(&s->mtx);
	if (!go)
		return NNG_ECLOSED;
	nng_aio_wait(s->aio);
	if ((rv = nng_aio_result(s->aio)) == 0)
		*msg = nng_aio_get_msg(s->aio);
	return rv;
}

static int
print_one(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	tailer *t = arg;
	if (seq < t->next)
		return 0;
	vb_cli_print_event(stdout, t->fmt, p, len, &t->buf);
	t->next = seq + 1;
	return 0;
}

/* Print what matches in [t->next, to] from the log.  0 or a VB_E code. */
static int
backfill(tailer *t, uint64_t to)
{
	uint64_t seen = 0;
	int rv;
	if (to < t->next)
		return 0;
	t->rq.from_seq = t->next;
	rv = vb_cli_replay(t->client, t->query_url, &t->rq, to, print_one, t, &seen);
	if (rv == 0 && to >= t->next)
		t->next = to + 1; /* the rest of the range did not match */
	return rv;
}

static int
last_seq(tailer *t, uint64_t *out)
{
	vb_query_req q = { .kind = VB_QUERY_STATS };
	vb_query_reply r;
	int rv = vb_client_query(t->client, &q, &r);
	if (rv != 0)
		return rv;
	if (r.code != 0) {
		vb_query_reply_free(&r);
		return r.code;
	}
	*out = r.stats.last_seq;
	t->via_log = r.stats.pub_redacted && !r.stats.replay_redacted;
	vb_query_reply_free(&r);
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: " VB_PROG " tail [options]\n"
	    "Follow stored events live, with no gap and no duplicate.\n"
	    "  --from SEQ       first print the log from SEQ, then follow (default: live only)\n"
	    "  --type PREFIX    only types starting with PREFIX\n"
	    "  --format F       jsonl (default) or pb\n"
	    VB_CLI_CONN_HELP);
}

int
vb_cmd_tail(int argc, char **argv)
{
	enum { OPT_FROM = VB_OPT_FIRST_OWN, OPT_TYPE, OPT_FORMAT };
	static const struct option longopts[] = {
		VB_CLI_CONN_OPTIONS,
		{ "from", required_argument, NULL, OPT_FROM },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	tailer t = { 0 };
	vb_cli_conn conn;
	unsigned long long from = 0;
	const char *type = "";
	nng_socket sub;
	int c, rv, have_from = 0, warned = 0, stopper_running = 0;
	uint64_t last = 0;
	stopper st = { 0 };

	vb_cli_conn_init(&conn);
	optind = 1;
	while ((c = vb_cli_next_opt(argc, argv, longopts, &conn)) != -1) {
		switch (c) {
		case OPT_FROM:
			if (vb_cli_u64(optarg, &from) != 0) {
				vb_cli_err("--from %s: expected a sequence number", optarg);
				return VB_EXIT_USAGE;
			}
			have_from = 1;
			break;
		case OPT_TYPE: type = optarg; break;
		case OPT_FORMAT:
			if (vb_cli_format_parse(optarg, &t.fmt) != 0) {
				vb_cli_err("--format %s: expected jsonl or pb", optarg);
				return VB_EXIT_USAGE;
			}
			break;
		case VB_OPT_HELP: usage(stdout); return VB_EXIT_OK;
		default: usage(stderr); return VB_EXIT_USAGE;
		}
	}
	/* Block the signals before nng starts its threads, so that only
	 * the stopper ever sees them. */
	sigemptyset(&st.sigs);
	sigaddset(&st.sigs, SIGINT);
	sigaddset(&st.sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &st.sigs, NULL);
	if ((rv = vb_cli_client(&conn, &t.client)) != 0)
		return rv;
	t.query_url = conn.query;
	t.rq.type_prefix = type;

	/* Subscribe before reading the log, so nothing stored meanwhile is
	 * missed: what arrives twice is skipped by seq. */
	pthread_mutex_init(&st.mtx, NULL);
	if ((rv = nng_sub0_open(&sub)) != 0) {
		vb_cli_err("%s", nng_strerror(rv));
		pthread_mutex_destroy(&st.mtx);
		vb_client_close(t.client);
		return VB_EXIT_FAIL;
	}
	nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, type, strlen(type));
	nng_socket_set_int(sub, NNG_OPT_RECVBUF, 8192);
	nng_socket_set_size(sub, NNG_OPT_RECVMAXSZ, 1u << 20);
	nng_socket_set_ms(sub, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(sub, NNG_OPT_RECONNMAXT, 1000);
	{
		vb_tls_opts tls = { .ca = conn.tls_ca ? conn.tls_ca : getenv("VOICEBUS_TLS_CA") };
		char why[256];
		if (vb_net_dial(sub, conn.pub, &tls, why, sizeof(why)) != 0) {
			vb_cli_err("cannot reach the broker at %s: %s", conn.pub, why);
			rv = VB_EXIT_FAIL;
			goto out;
		}
	}
	if ((rv = last_seq(&t, &last)) != 0) {
		vb_cli_transport_error(t.client, conn.query, rv);
		rv = VB_EXIT_FAIL;
		goto out;
	}
	st.sub = sub;
	st.client = t.client;
	if ((rv = nng_aio_alloc(&st.aio, NULL, NULL)) != 0) {
		vb_cli_err("%s", nng_strerror(rv));
		rv = VB_EXIT_FAIL;
		goto out;
	}
	nng_aio_set_timeout(st.aio, IDLE_MS);
	/* A flag, not st.thread: pthread_create may write it and fail. */
	if (pthread_create(&st.thread, NULL, stopper_main, &st) != 0) {
		vb_cli_err("cannot start a thread");
		rv = VB_EXIT_FAIL;
		goto out;
	}
	stopper_running = 1;
	if (have_from) {
		t.next = from ? from : 1;
		if ((rv = backfill(&t, last)) != 0) {
			rv = VB_EXIT_FAIL;
			goto out;
		}
	} else {
		t.next = last + 1;
	}
	fflush(stdout);
	while (!st.stop) {
		nng_msg *msg;
		vb_event_peek pk;
		const uint8_t *body, *nul;
		size_t len;

		rv = nng_recvmsg(sub, &msg, NNG_FLAG_NONBLOCK);
		if (rv == NNG_EAGAIN) {
			fflush(stdout);
			rv = sub_recv(&st, &msg);
		}
		if (rv == NNG_ETIMEDOUT) {
			/* Quiet: was the last message dropped? */
			if (last_seq(&t, &last) == 0 && backfill(&t, last) == 0)
				warned = 0;
			fflush(stdout);
			continue;
		}
		if (rv != 0) {
			if (st.stop)
				break;
			if (!warned++)
				vb_cli_err("%s: %s", conn.pub, nng_strerror(rv));
			continue;
		}
		body = nng_msg_body(msg);
		len = nng_msg_len(msg);
		if ((nul = memchr(body, 0, len)) == NULL ||
		    vb_event_peek_pb(nul + 1, len - (size_t)(nul + 1 - body), &pk) != 0 ||
		    pk.seq == 0) {
			nng_msg_free(msg);
			continue; /* not an event of ours */
		}
		if (t.via_log) {
			/* Take every message already queued: one replay
			 * then covers them all. */
			uint64_t upto = pk.seq;
			nng_msg_free(msg);
			while (nng_recvmsg(sub, &msg, NNG_FLAG_NONBLOCK) == 0) {
				body = nng_msg_body(msg);
				len = nng_msg_len(msg);
				if ((nul = memchr(body, 0, len)) != NULL &&
				    vb_event_peek_pb(nul + 1, len - (size_t)(nul + 1 - body), &pk) == 0 &&
				    pk.seq > upto)
					upto = pk.seq;
				nng_msg_free(msg);
			}
			(void)backfill(&t, upto); /* on failure: the idle check retries */
			continue;
		}
		if (pk.seq > t.next) {
			/* A gap: fill it before this one.  If the broker
			 * cannot be asked now, keep the message's place and
			 * retry when it answers. */
			if (backfill(&t, pk.seq - 1) != 0) {
				nng_msg_free(msg);
				continue;
			}
		}
		print_one(&t, pk.seq, nul + 1, len - (size_t)(nul + 1 - body));
		nng_msg_free(msg);
	}
	fflush(stdout);
	rv = VB_EXIT_OK;
	pthread_join(st.thread, NULL);
	stopper_running = 0;
out:
	if (stopper_running) {
		/* Failed before the loop: wake the stopper and reap it. */
		pthread_kill(st.thread, SIGTERM);
		pthread_join(st.thread, NULL);
	}
	nng_close(sub);
	if (st.aio)
		nng_aio_free(st.aio);
	pthread_mutex_destroy(&st.mtx);
	vb_buf_free(&t.buf);
	vb_client_close(t.client);
	return rv;
}
