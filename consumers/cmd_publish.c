/* voicebus publish: JSON lines from files or stdin, sent in batches.  Every
 * valid line is stored; every invalid one is reported as file:line: reason;
 * the exit status is 2 if any line was rejected. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "vb_cli.h"
#include "vb_error.h"
#include "vb_validate.h"

/* Above this many encoded bytes a batch is sent even if not full: keeps
 * requests far below the broker's max_message. */
#define BATCH_MAX_BYTES (4u << 20)

typedef struct pending {
	vb_event *ev;
	const char *file;
	unsigned long line;
} pending;

typedef struct publisher {
	vb_client *client;
	const char *url;
	pending *batch;
	vb_event **evs;
	size_t n, max, bytes;
	size_t max_bytes; /* a batch is sent once it holds this many bytes */
	unsigned long long stored, duplicates, rejected, unsent;
	int failed; /* the broker could not be reached or refused a batch */
	int quiet;
} publisher;

static void
reject(publisher *p, const char *file, unsigned long line, const char *why)
{
	fprintf(stderr, VB_PROG ": %s:%lu: %s\n", file, line, why);
	p->rejected++;
}

static int
flush(publisher *p)
{
	vb_ingest_reply rep;
	int rv;

	if (p->n == 0)
		return 0;
	if (p->failed) {
		p->unsent += p->n;
		goto done;
	}
	for (size_t i = 0; i < p->n; i++)
		p->evs[i] = p->batch[i].ev;
	rv = vb_client_publish(p->client, p->evs, p->n, &rep);
	if (rv != 0) {
		vb_cli_transport_error(p->url, rv);
		p->failed = 1;
		p->unsent += p->n;
		goto done;
	}
	if (rep.code != 0 || rep.n != p->n) {
		vb_cli_err("the broker stored nothing of a batch of %zu (lines %s:%lu-%lu): %s",
		    p->n, p->batch[0].file, p->batch[0].line, p->batch[p->n - 1].line,
		    rep.error[0] ? rep.error : "reply does not match the request");
		p->failed = 1;
		p->unsent += p->n;
		vb_ingest_reply_free(&rep);
		goto done;
	}
	for (size_t i = 0; i < p->n; i++) {
		const vb_ingest_result *r = &rep.results[i];
		if (r->error && r->error[0])
			reject(p, p->batch[i].file, p->batch[i].line, r->error);
		else if (r->duplicate)
			p->duplicates++;
		else
			p->stored++;
	}
	vb_ingest_reply_free(&rep);
done:
	for (size_t i = 0; i < p->n; i++)
		vb_event_free(p->batch[i].ev);
	p->n = 0;
	p->bytes = 0;
	return 0;
}

/* Size batches by the broker's own limits: nng drops a request over
 * max_message without a word, which the publisher would only see as a
 * timeout.  Best effort: a broker that cannot be asked keeps the defaults. */
static void
learn_limits(publisher *p)
{
	vb_query_req q = { .kind = VB_QUERY_STATS };
	vb_query_reply r;

	p->max_bytes = BATCH_MAX_BYTES;
	if (vb_client_query(p->client, &q, &r) != 0)
		return;
	if (r.code == 0 && r.kind == VB_QUERY_STATS) {
		if (r.stats.max_batch > 0 && p->max > r.stats.max_batch)
			p->max = r.stats.max_batch;
		/* Half the limit leaves room for the event that crosses it
		 * and for the request's framing. */
		if (r.stats.max_message > 0 && p->max_bytes > r.stats.max_message / 2)
			p->max_bytes = (size_t)(r.stats.max_message / 2);
	}
	vb_query_reply_free(&r);
}

static int
is_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

static int
publish_stream(publisher *p, FILE *in, const char *name)
{
	char *line = NULL, err[VB_ERRMSG_MAX];
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;

	while ((len = getline(&line, &cap, in)) != -1) {
		vb_event *ev;
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (is_blank(line))
			continue;
		if ((size_t)len != strlen(line)) {
			reject(p, name, lineno, "json: NUL byte in line");
			continue;
		}
		if (vb_event_from_json(line, (size_t)len, &ev, err, sizeof(err)) != 0) {
			reject(p, name, lineno, err);
			continue;
		}
		/* The broker checks again; checking here names the line
		 * without a round trip. */
		if (vb_event_validate(ev, NULL, err, sizeof(err)) != 0) {
			reject(p, name, lineno, err);
			vb_event_free(ev);
			continue;
		}
		p->batch[p->n].ev = ev;
		p->batch[p->n].file = name;
		p->batch[p->n].line = lineno;
		p->n++;
		p->bytes += vb_event_pb_size(ev);
		if (p->n == p->max || p->bytes >= p->max_bytes)
			flush(p);
	}
	if (ferror(in)) {
		vb_cli_err("%s: %s", name, strerror(errno));
		free(line);
		return -1;
	}
	free(line);
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: " VB_PROG " publish [options] [FILE...]\n"
	    "Publish JSON-line events (one object per line) from FILEs, or stdin when none or -.\n"
	    "  --batch N        events per request (default 1000, at most the broker's max_batch)\n"
	    "  --quiet          no summary line\n"
	    VB_CLI_CONN_HELP
	    "Prints \"stored N, duplicates N, rejected N\"; rejected lines as FILE:LINE: reason.\n"
	    "Exit status: 0 all stored, 2 some lines rejected, 1 the broker failed.\n");
}

int
vb_cmd_publish(int argc, char **argv)
{
	enum { OPT_BATCH = VB_OPT_FIRST_OWN, OPT_QUIET };
	static const struct option longopts[] = {
		VB_CLI_CONN_OPTIONS,
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ NULL, 0, NULL, 0 },
	};
	publisher p = { 0 };
	vb_cli_conn conn;
	unsigned long long v;
	int c, rv, io_error = 0;

	vb_cli_conn_init(&conn);
	p.max = 1000;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if ((rv = vb_cli_conn_opt(&conn, c, optarg)) != 0) {
			if (rv < 0)
				return VB_EXIT_USAGE;
			continue;
		}
		switch (c) {
		case OPT_BATCH:
			if (vb_cli_u64(optarg, &v) != 0 || v < 1 || v > 100000) {
				vb_cli_err("--batch %s: expected 1 to 100000", optarg);
				return VB_EXIT_USAGE;
			}
			p.max = (size_t)v;
			break;
		case OPT_QUIET: p.quiet = 1; break;
		case VB_OPT_HELP: usage(stdout); return VB_EXIT_OK;
		default: usage(stderr); return VB_EXIT_USAGE;
		}
	}
	if ((rv = vb_cli_client(&conn, &p.client)) != 0)
		return rv;
	p.url = conn.ingest;
	learn_limits(&p);
	p.batch = calloc(p.max, sizeof(*p.batch));
	p.evs = calloc(p.max, sizeof(*p.evs));
	if (p.batch == NULL || p.evs == NULL) {
		vb_cli_err("out of memory");
		rv = VB_EXIT_FAIL;
		goto out;
	}
	if (optind == argc) {
		io_error |= publish_stream(&p, stdin, "<stdin>") != 0;
	}
	for (int i = optind; i < argc; i++) {
		FILE *f;
		if (strcmp(argv[i], "-") == 0) {
			io_error |= publish_stream(&p, stdin, "<stdin>") != 0;
			continue;
		}
		if ((f = fopen(argv[i], "r")) == NULL) {
			vb_cli_err("%s: %s", argv[i], strerror(errno));
			io_error = 1;
			continue;
		}
		io_error |= publish_stream(&p, f, argv[i]) != 0;
		fclose(f);
	}
	flush(&p);
	if (!p.quiet) {
		fprintf(stderr, VB_PROG ": stored %llu, duplicates %llu, rejected %llu",
		    p.stored, p.duplicates, p.rejected);
		if (p.unsent)
			fprintf(stderr, ", not stored %llu", p.unsent);
		fputc('\n', stderr);
	}
	if (p.failed)
		rv = VB_EXIT_FAIL;
	else if (p.rejected || io_error)
		rv = VB_EXIT_USAGE;
	else
		rv = VB_EXIT_OK;
out:
	free(p.batch);
	free(p.evs);
	vb_client_close(p.client);
	return rv;
}
