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
#include "vb_publish.h"
#include "vb_report.h"
#include "vb_validate.h"

typedef struct publisher {
	vb_pub *pub;
	vb_report report;
	unsigned long long rejected; /* lines refused here, before the broker */
} publisher;

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
			vb_reportf(&p->report, name, lineno, "json: NUL byte in line");
			p->rejected++;
			continue;
		}
		if (vb_event_from_json(line, (size_t)len, &ev, err, sizeof(err)) != 0) {
			vb_reportf(&p->report, name, lineno, "%s", err);
			p->rejected++;
			continue;
		}
		/* The broker checks again; checking here names the line
		 * without a round trip. */
		if (vb_event_validate(ev, NULL, err, sizeof(err)) != 0) {
			vb_reportf(&p->report, name, lineno, "%s", err);
			p->rejected++;
			vb_event_free(ev);
			continue;
		}
		/* The publisher owns ev from here on, whatever happens. */
		vb_pub_add(p->pub, ev, name, lineno, 1);
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
	    "  --retry-for SEC  retry an unreachable or full broker this long (default 0)\n"
	    "  --quiet          no summary line\n"
	    VB_CLI_CONN_HELP
	    "Prints \"stored N, duplicates N, rejected N\"; rejected lines as FILE:LINE: reason.\n"
	    "Exit status: 0 all stored, 2 some lines rejected, 1 the broker failed.\n");
}

int
vb_cmd_publish(int argc, char **argv)
{
	enum { OPT_BATCH = VB_OPT_FIRST_OWN, OPT_QUIET, OPT_RETRY };
	static const struct option longopts[] = {
		VB_CLI_CONN_OPTIONS,
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "retry-for", required_argument, NULL, OPT_RETRY },
		{ NULL, 0, NULL, 0 },
	};
	publisher p = { 0 };
	vb_pub_opts po = { 0 };
	vb_pub_counts c;
	vb_client *client = NULL;
	vb_cli_conn conn;
	unsigned long long v;
	int ch, rv, io_error = 0, quiet = 0;

	vb_cli_conn_init(&conn);
	po.batch = 1000;
	optind = 1;
	while ((ch = vb_cli_next_opt(argc, argv, longopts, &conn)) != -1) {
		switch (ch) {
		case OPT_BATCH:
			if (vb_cli_u64(optarg, &v) != 0 || v < 1 || v > 100000) {
				vb_cli_err("--batch %s: expected 1 to 100000", optarg);
				return VB_EXIT_USAGE;
			}
			po.batch = (size_t)v;
			break;
		case OPT_RETRY:
			if (vb_cli_u64(optarg, &v) != 0 || v > 86400) {
				vb_cli_err("--retry-for %s: expected seconds, 0 to 86400", optarg);
				return VB_EXIT_USAGE;
			}
			po.retry_for_ms = (int64_t)v * 1000;
			break;
		case OPT_QUIET: quiet = 1; break;
		case VB_OPT_HELP: usage(stdout); return VB_EXIT_OK;
		default: usage(stderr); return VB_EXIT_USAGE;
		}
	}
	if ((rv = vb_cli_client(&conn, &client)) != 0)
		return rv;
	vb_report_init(&p.report, VB_PROG, stderr);
	po.client = client;
	po.report = &p.report;
	if (vb_pub_open(&po, &p.pub) != 0) {
		vb_cli_err("out of memory");
		vb_client_close(client);
		return VB_EXIT_FAIL;
	}
	if (optind == argc)
		io_error |= publish_stream(&p, stdin, "<stdin>") != 0;
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
	vb_pub_flush(p.pub);
	vb_pub_get_counts(p.pub, &c);
	if (!quiet) {
		fprintf(stderr, VB_PROG ": stored %llu, duplicates %llu, rejected %llu",
		    c.stored, c.duplicates, c.rejected + p.rejected);
		if (c.unsent)
			fprintf(stderr, ", not stored %llu", c.unsent);
		fputc('\n', stderr);
	}
	if (vb_pub_failed(p.pub) || c.unsent)
		rv = VB_EXIT_FAIL;
	else if (c.rejected || p.rejected || io_error)
		rv = VB_EXIT_USAGE;
	else
		rv = VB_EXIT_OK;
	vb_pub_close(p.pub);
	vb_client_close(client);
	return rv;
}
