/* voicebus filter: an audience CSV through the gate.  Allowed rows go to
 * stdout unchanged, blocked rows to the --blocked file with a reasons
 * column, a summary to stderr.  The audience streams through in batches:
 * memory does not grow with its size. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_cli.h"
#include "vb_csv.h"
#include "vb_error.h"
#include "vb_time.h"
#include "vb_validate.h"

#define BATCH_MAX 10000
/* The default batch is the broker's most per request: each request costs
 * the broker (and this side) a round trip and a wake-up, and 1,000 rows a
 * request took a third more broker CPU than 10,000 over the same rows. */
#define BATCH_DEFAULT 10000
/* The broker's query socket takes requests of at most 1 MiB: a batch of
 * long ids is sent before its ids (each with a few bytes of framing) pass
 * half of that, which leaves room for the rest of the request. */
#define BATCH_ID_BYTES_MAX (512 * 1024)
#define ID_FRAMING 3
/* Two requests in flight keep the broker's workers busy while a reply
 * travels and this side writes out the batch before: without --record
 * each decision stands alone.  A reservation (--record) must see the
 * ones before it: one at a time then. */
#define DEPTH 2
#define NBATCH (DEPTH + 1)
_Static_assert(NBATCH <= VB_CLIENT_LANES, "a lane per batch");

typedef struct row {
	size_t raw_off, raw_len;   /* in batch.raw */
	size_t cust_off;           /* in batch.raw, NUL-terminated */
} row;

/* One batch of rows, sent in one request.  They take turns: while the
 * broker decides one or two, the next is read from the audience and the
 * one before written out. */
typedef struct batch {
	row *rows;
	size_t n;
	size_t id_bytes;           /* the ids with their framing, for BATCH_ID_BYTES_MAX */
	vb_buf raw;                /* the batch's rows and customer ids */
	const char **ids;
	unsigned long line;        /* the line that filled it */
	int at_end;                /* sent at the end of the input */
	/* Messages about malformed rows among these, held until the rows
	 * before are written: stderr says what it said without the overlap. */
	vb_buf notes;
	unsigned long long malformed;
} batch;

typedef struct filter {
	vb_client *client;
	const char *url;
	const char *purpose, *channel, *at, *record;
	FILE *blocked;
	const char *blocked_path;
	const char *eol;           /* the header's line end, for a last row without one */
	/* A ring: b[head] to b[head + ninflight - 1] are in flight (batch i
	 * on the client's lane i), then b[cur], being filled. */
	batch b[NBATCH];
	int cur;
	int head, ninflight;
	int depth;                 /* most in flight: 1 with --record */
	size_t max;
	unsigned long long allowed, nblocked, malformed, recorded;
	vb_buf line;
} filter;

/* raw without its line end, and that line end (NULL when it had none). */
static size_t
strip_eol(const char *raw, size_t len, const char **eol)
{
	if (len >= 2 && raw[len - 2] == '\r' && raw[len - 1] == '\n') {
		*eol = "\r\n";
		return len - 2;
	}
	if (len >= 1 && (raw[len - 1] == '\n' || raw[len - 1] == '\r')) {
		*eol = raw[len - 1] == '\n' ? "\n" : "\r";
		return len - 1;
	}
	*eol = NULL;
	return len;
}

/* Take the reply to the batch in flight.  0, or -1 when the broker failed
 * (reported). */
static int
take(filter *f, vb_query_reply *r)
{
	const batch *b = &f->b[f->head];
	int lane = f->head;

	f->head = (f->head + 1) % NBATCH;
	f->ninflight--;
	if (vb_cli_query_recv_lane(f->client, f->url, lane, VB_QUERY_GATE, "filter", r) != 0)
		return -1;
	if (r->ndecisions != b->n) {
		vb_cli_err("filter: the broker answered %zu decisions for %zu rows", r->ndecisions, b->n);
		vb_query_reply_free(r);
		return -1;
	}
	return 0;
}

/* Write each row of b where its decision in r sends it, in order; free r
 * and empty b. */
static void
write_out(filter *f, batch *b, vb_query_reply *r)
{
	for (size_t i = 0; i < b->n; i++) {
		const row *w = &b->rows[i];
		const char *raw = (const char *)b->raw.data + w->raw_off, *eol;
		if (r->decisions[i].allow) {
			fwrite(raw, 1, w->raw_len, stdout);
			if (w->raw_len == 0 || (raw[w->raw_len - 1] != '\n' && raw[w->raw_len - 1] != '\r'))
				fputs(f->eol, stdout);
			f->allowed++;
			f->recorded += f->record && !r->decisions[i].recorded_duplicate;
			continue;
		}
		size_t body = strip_eol(raw, w->raw_len, &eol);
		if (eol == NULL)
			eol = f->eol;
		vb_buf_reset(&f->line);
		vb_buf_append(&f->line, raw, body);
		vb_buf_append_byte(&f->line, ',');
		vb_cli_csv_field(&f->line, r->decisions[i].reasons);
		vb_buf_append_str(&f->line, eol);
		fwrite(f->line.data, 1, f->line.len, f->blocked);
		f->nblocked++;
	}
	vb_query_reply_free(r);
	b->n = 0;
	b->id_bytes = 0;
	vb_buf_reset(&b->raw);
}

/* The messages about malformed rows of b, now that the rows before them
 * are written. */
static void
write_notes(filter *f, batch *b)
{
	if (b->notes.len)
		fwrite(b->notes.data, 1, b->notes.len, stderr);
	f->malformed += b->malformed;
	vb_buf_reset(&b->notes);
	b->malformed = 0;
}

/* The rows from b on were not filtered: say so. */
static void
stopped(const batch *b)
{
	if (b->at_end)
		vb_cli_err("stopped at the end of <stdin>: the last %zu rows were not filtered", b->n);
	else
		vb_cli_err("stopped before <stdin>:%lu: rows from there on were not filtered",
		    b->line);
}

/* Take the oldest batch in flight, say what was malformed among its rows
 * and write them out.  0, or -1 (reported, with where it stopped). */
static int
finish_one(filter *f)
{
	batch *p = &f->b[f->head];
	vb_query_reply r;
	write_notes(f, p);
	int rv = take(f, &r);
	if (rv != 0) {
		stopped(p);
		return -1;
	}
	write_out(f, p, &r);
	return 0;
}

/* Write out every batch in flight, then the messages about the batch
 * being filled.  0, or -1 (reported, with where it stopped). */
static int
drain(filter *f)
{
	while (f->ninflight > 0)
		if (finish_one(f) != 0)
			return -1;
	write_notes(f, &f->b[f->cur]);
	return 0;
}

/* Send the batch being filled (line filled it; at_end: the input ended).
 * With depth requests in flight already, the oldest reply is taken first,
 * and its rows written while the broker decides this one.  A batch's
 * messages about malformed rows go out just before its rows: stderr says
 * what it would say without the overlap.  0, or -1 (reported). */
static int
dispatch(filter *f, int at_end, unsigned long line)
{
	batch *b = &f->b[f->cur];
	vb_query_req q = { .kind = VB_QUERY_GATE };
	vb_query_reply r;
	batch *p = NULL;
	int rv = 0;

	if (b->n == 0)
		return drain(f);
	if (f->ninflight == f->depth) {
		p = &f->b[f->head];
		/* Its notes first: they come before its rows, and before what
		 * a failure below says. */
		write_notes(f, p);
		if (take(f, &r) != 0) {
			stopped(p);
			return -1;
		}
	}
	b->line = line;
	b->at_end = at_end;
	for (size_t i = 0; i < b->n; i++)
		b->ids[i] = (const char *)b->raw.data + b->rows[i].cust_off;
	q.gate.customers = b->ids;
	q.gate.n = b->n;
	q.gate.purpose = f->purpose;
	q.gate.channel = f->channel;
	q.gate.at = f->at;
	q.gate.record = f->record;
	if (vb_cli_query_send_lane(f->client, f->url, f->cur, &q) != 0) {
		rv = -1;
	} else {
		f->ninflight++;
		f->cur = (f->cur + 1) % NBATCH;
	}
	if (p != NULL)
		write_out(f, p, &r);
	if (rv != 0) {
		/* What was sent before still comes back. */
		if (drain(f) == 0)
			stopped(b);
		return -1;
	}
	return 0;
}

/* A malformed row's message, held with its batch (see batch.notes). */
static void note(filter *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
note(filter *f, const char *fmt, ...)
{
	batch *b = &f->b[f->cur];
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vb_buf_append_str(&b->notes, msg);
	b->malformed++;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: " VB_PROG " filter --purpose P --channel C --blocked FILE [options] "
	    "< audience.csv > sendable.csv\n"
	    "Pass a CSV audience (with a header) through the gate: allowed rows to stdout\n"
	    "unchanged, blocked rows to FILE with a reasons column, a summary to stderr.\n"
	    "  --column NAME    the column holding the customer id (default customer)\n"
	    "  --blocked FILE   where blocked rows go\n"
	    "  --record CAMPAIGN  store a message.sent for every allowed row, atomically\n"
	    "  --at TIME        decide as at TIME (RFC 3339), from the log\n"
	    "  --batch N        customers per request to the broker (default %d)\n"
	    VB_CLI_CONN_HELP
	    "Malformed rows are reported as <stdin>:LINE: reason; exit status 2 if any.\n",
	    BATCH_DEFAULT);
}

int
vb_cmd_filter(int argc, char **argv)
{
	enum { OPT_PURPOSE = VB_OPT_FIRST_OWN, OPT_CHANNEL, OPT_COLUMN, OPT_BLOCKED,
		OPT_RECORD, OPT_AT, OPT_BATCH };
	static const struct option longopts[] = {
		VB_CLI_CONN_OPTIONS,
		{ "purpose", required_argument, NULL, OPT_PURPOSE },
		{ "channel", required_argument, NULL, OPT_CHANNEL },
		{ "column", required_argument, NULL, OPT_COLUMN },
		{ "blocked", required_argument, NULL, OPT_BLOCKED },
		{ "record", required_argument, NULL, OPT_RECORD },
		{ "at", required_argument, NULL, OPT_AT },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ NULL, 0, NULL, 0 },
	};
	filter f = { 0 };
	const char *column = "customer";
	vb_cli_conn conn;
	vb_csv *csv = NULL;
	vb_csv_rec rec;
	char err[256];
	unsigned long long v;
	size_t col = 0, nfields = 0;
	int64_t us;
	int c, rv, status = VB_EXIT_OK;

	vb_cli_conn_init(&conn);
	f.max = BATCH_DEFAULT;
	optind = 1;
	while ((c = vb_cli_next_opt(argc, argv, longopts, &conn)) != -1) {
		switch (c) {
		case OPT_PURPOSE: f.purpose = optarg; break;
		case OPT_CHANNEL: f.channel = optarg; break;
		case OPT_COLUMN: column = optarg; break;
		case OPT_BLOCKED: f.blocked_path = optarg; break;
		case OPT_RECORD: f.record = optarg; break;
		case OPT_AT: f.at = optarg; break;
		case OPT_BATCH:
			if (vb_cli_u64(optarg, &v) != 0 || v < 1 || v > BATCH_MAX) {
				vb_cli_err("--batch %s: expected 1 to %d", optarg, BATCH_MAX);
				return VB_EXIT_USAGE;
			}
			f.max = (size_t)v;
			break;
		case VB_OPT_HELP: usage(stdout); return VB_EXIT_OK;
		default: usage(stderr); return VB_EXIT_USAGE;
		}
	}
	if (f.purpose == NULL || f.channel == NULL || f.blocked_path == NULL || optind < argc) {
		vb_cli_err("filter: --purpose, --channel and --blocked are required");
		usage(stderr);
		return VB_EXIT_USAGE;
	}
	if (!vb_purpose_known(f.purpose) || !vb_channel_known(f.channel)) {
		vb_cli_err("filter: --purpose %s --channel %s: not a purpose and channel of the contract",
		    f.purpose, f.channel);
		return VB_EXIT_USAGE;
	}
	if (f.at && vb_time_parse(f.at, &us) != 0) {
		vb_cli_err("--at %s: not an RFC 3339 date-time", f.at);
		return VB_EXIT_USAGE;
	}
	if (f.at && f.record) {
		vb_cli_err("--record reserves sends now: it cannot go with --at");
		return VB_EXIT_USAGE;
	}
	if ((f.blocked = fopen(f.blocked_path, "w")) == NULL) {
		vb_cli_err("%s: %s", f.blocked_path, strerror(errno));
		return VB_EXIT_USAGE;
	}
	f.depth = f.record ? 1 : DEPTH;
	int nomem = 0;
	for (int i = 0; i < NBATCH; i++) {
		f.b[i].rows = calloc(f.max, sizeof(*f.b[i].rows));
		f.b[i].ids = calloc(f.max, sizeof(*f.b[i].ids));
		nomem |= f.b[i].rows == NULL || f.b[i].ids == NULL;
	}
	if (nomem || vb_csv_open(stdin, NULL, &csv) != 0) {
		vb_cli_err("out of memory");
		status = VB_EXIT_FAIL;
		goto out;
	}
	if ((rv = vb_cli_client(&conn, &f.client)) != 0) {
		status = rv;
		goto out;
	}
	f.url = conn.query;

	/* The header: find the column, copy it to both outputs. */
	for (;;) {
		rv = vb_csv_next(csv, &rec, err, sizeof(err));
		if (rv == VB_EINVAL) {
			fprintf(stderr, VB_PROG ": <stdin>:%lu: %s\n", rec.line, err);
			status = VB_EXIT_USAGE;
			continue;
		}
		break;
	}
	if (rv <= 0) {
		vb_cli_err("<stdin>: %s", rv == 0 ? "empty: no header line" : vb_strerror(rv));
		status = rv == 0 ? VB_EXIT_USAGE : VB_EXIT_FAIL;
		goto out;
	}
	nfields = rec.n;
	for (col = 0; col < rec.n && strcmp(rec.field[col], column) != 0; col++)
		;
	if (col == rec.n) {
		vb_cli_err("<stdin>:%lu: no column \"%s\" in the header (use --column)", rec.line, column);
		status = VB_EXIT_USAGE;
		goto out;
	}
	{
		const char *eol;
		size_t body = strip_eol(rec.raw, rec.raw_len, &eol);
		f.eol = eol = eol ? eol : "\n";
		fwrite(rec.raw, 1, body, stdout);
		fputs(eol, stdout);
		fwrite(rec.raw, 1, body, f.blocked);
		fprintf(f.blocked, ",reasons%s", eol);
	}
	for (;;) {
		batch *b = &f.b[f.cur];
		rv = vb_csv_next(csv, &rec, err, sizeof(err));
		if (rv == 0)
			break;
		if (rv == VB_EINVAL) {
			note(&f, VB_PROG ": <stdin>:%lu: %s\n", rec.line, err);
			continue;
		}
		if (rv < 0) {
			if (drain(&f) == 0)
				vb_cli_err("<stdin>: %s", vb_strerror(rv));
			status = VB_EXIT_FAIL;
			goto out;
		}
		if (rec.n != nfields) {
			note(&f, VB_PROG ": <stdin>:%lu: %zu fields, the header has %zu\n",
			    rec.line, rec.n, nfields);
			continue;
		}
		if (rec.len[col] == 0 || rec.len[col] > VB_CUSTOMER_MAX ||
		    strlen(rec.field[col]) != rec.len[col] ||
		    !vb_utf8_valid(rec.field[col], rec.len[col])) {
			note(&f, VB_PROG ": <stdin>:%lu: %s: %s\n", rec.line, column,
			    rec.len[col] == 0 ? "empty" : "not a customer id (1 to 128 bytes of UTF-8)");
			continue;
		}
		row *w = &b->rows[b->n++];
		w->raw_off = b->raw.len;
		w->raw_len = rec.raw_len;
		vb_buf_append(&b->raw, rec.raw, rec.raw_len);
		w->cust_off = b->raw.len;
		if (vb_buf_append(&b->raw, rec.field[col], rec.len[col]) != 0 ||
		    vb_buf_append_byte(&b->raw, 0) != 0) {
			if (drain(&f) == 0)
				vb_cli_err("out of memory");
			status = VB_EXIT_FAIL;
			goto out;
		}
		b->id_bytes += rec.len[col] + ID_FRAMING;
		if ((b->n == f.max ||
		    b->id_bytes + VB_CUSTOMER_MAX + ID_FRAMING > BATCH_ID_BYTES_MAX) &&
		    dispatch(&f, 0, rec.line) != 0) {
			status = VB_EXIT_FAIL;
			goto out;
		}
	}
	if (dispatch(&f, 1, 0) != 0 || drain(&f) != 0) {
		status = VB_EXIT_FAIL;
		goto out;
	}
	if (status == VB_EXIT_OK && f.malformed)
		status = VB_EXIT_USAGE;
out:
	fflush(stdout);
	if (f.blocked && fclose(f.blocked) != 0 && status == VB_EXIT_OK) {
		vb_cli_err("%s: %s", f.blocked_path, strerror(errno));
		status = VB_EXIT_FAIL;
	}
	fprintf(stderr, VB_PROG ": filter: %llu allowed, %llu blocked, %llu malformed",
	    f.allowed, f.nblocked, f.malformed);
	if (f.record)
		fprintf(stderr, ", %llu recorded as %s", f.recorded, f.record);
	fputc('\n', stderr);
	vb_csv_close(csv);
	vb_client_close(f.client);
	vb_buf_free(&f.line);
	for (int i = 0; i < NBATCH; i++) {
		vb_buf_free(&f.b[i].raw);
		vb_buf_free(&f.b[i].notes);
		free(f.b[i].rows);
		free(f.b[i].ids);
	}
	return status;
}
