/* voicebus replay: stored events by seq, time, customer or type, in seq
 * order, as JSON lines or length-delimited protobuf. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "vb_cli.h"
#include "vb_error.h"
#include "vb_time.h"

/* Output leaves in blocks this large: one fwrite each instead of one or
 * two an event (each of which costs more than copying the event). */
#define OUT_BLOCK (1u << 20)

typedef struct {
	vb_cli_format fmt;
	vb_buf buf;   /* output not written yet */
	unsigned long long count;
} printer;

static int
flush_out(printer *pr)
{
	if (pr->buf.len > 0)
		fwrite_unlocked(pr->buf.data, 1, pr->buf.len, stdout);
	vb_buf_reset(&pr->buf);
	return ferror(stdout) ? -1 : 0;
}

static int
print_one(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	printer *pr = arg;
	if (vb_cli_format_event(pr->fmt, p, len, &pr->buf) != 0)
		vb_cli_err("seq %llu: stored event does not decode", (unsigned long long)seq);
	pr->count++;
	return pr->buf.len >= OUT_BLOCK ? flush_out(pr) : 0;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: " VB_PROG " replay [options]\n"
	    "Print stored events in seq order.\n"
	    "  --from SEQ       first seq (default 1)\n"
	    "  --to SEQ         last seq (default: the last stored when replay starts)\n"
	    "  --since TIME     event time at or after TIME (RFC 3339)\n"
	    "  --until TIME     event time before TIME\n"
	    "  --customer ID    one customer's events\n"
	    "  --type PREFIX    types starting with PREFIX (order. or order.placed)\n"
	    "  --format F       jsonl (default) or pb: varint-length-delimited voicebus.v1.Event\n"
	    VB_CLI_CONN_HELP);
}

int
vb_cmd_replay(int argc, char **argv)
{
	enum { OPT_FROM = VB_OPT_FIRST_OWN, OPT_TO, OPT_SINCE, OPT_UNTIL,
		OPT_CUSTOMER, OPT_TYPE, OPT_FORMAT };
	static const struct option longopts[] = {
		VB_CLI_CONN_OPTIONS,
		{ "from", required_argument, NULL, OPT_FROM },
		{ "to", required_argument, NULL, OPT_TO },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "customer", required_argument, NULL, OPT_CUSTOMER },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	vb_replay_req rq = { 0 };
	printer pr = { VB_FMT_JSONL, { 0 }, 0 };
	unsigned long long from = 1, to = 0;
	vb_cli_conn conn;
	vb_client *client;
	int64_t us;
	int c, rv;

	vb_cli_conn_init(&conn);
	optind = 1;
	while ((c = vb_cli_next_opt(argc, argv, longopts, &conn)) != -1) {
		switch (c) {
		case OPT_FROM:
		case OPT_TO:
			if (vb_cli_u64(optarg, c == OPT_FROM ? &from : &to) != 0) {
				vb_cli_err("--%s %s: expected a sequence number",
				    c == OPT_FROM ? "from" : "to", optarg);
				return VB_EXIT_USAGE;
			}
			break;
		case OPT_SINCE:
		case OPT_UNTIL:
			if (vb_time_parse(optarg, &us) != 0) {
				vb_cli_err("--%s %s: not an RFC 3339 date-time such as 2026-11-03T00:00:00Z",
				    c == OPT_SINCE ? "since" : "until", optarg);
				return VB_EXIT_USAGE;
			}
			if (c == OPT_SINCE)
				rq.since = optarg;
			else
				rq.until = optarg;
			break;
		case OPT_CUSTOMER: rq.customer = optarg; break;
		case OPT_TYPE: rq.type_prefix = optarg; break;
		case OPT_FORMAT:
			if (vb_cli_format_parse(optarg, &pr.fmt) != 0) {
				vb_cli_err("--format %s: expected jsonl or pb", optarg);
				return VB_EXIT_USAGE;
			}
			break;
		case VB_OPT_HELP: usage(stdout); return VB_EXIT_OK;
		default: usage(stderr); return VB_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		vb_cli_err("replay: unexpected argument \"%s\"", argv[optind]);
		return VB_EXIT_USAGE;
	}
	if (to && from > to)
		return VB_EXIT_OK;
	if ((rv = vb_cli_client(&conn, &client)) != 0)
		return rv;
	rq.from_seq = from;
	/* Pages as large as the broker allows (it caps them by its
	 * replay_page_max and by bytes): fewer round trips; and output in
	 * large blocks. */
	rq.limit = 100000;
	rv = vb_cli_replay(client, conn.query, &rq, to, print_one, &pr, NULL);
	flush_out(&pr);
	fflush(stdout);
	vb_buf_free(&pr.buf);
	vb_client_close(client);
	if (rv == VB_EINVAL)
		return VB_EXIT_USAGE;
	return rv ? VB_EXIT_FAIL : VB_EXIT_OK;
}
