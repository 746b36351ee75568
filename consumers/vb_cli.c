#include "vb_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"
#include "vb_token.h"

void
vb_cli_conn_init(vb_cli_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->ingest = VB_DEFAULT_INGEST;
	c->pub = VB_DEFAULT_PUB;
	c->query = VB_DEFAULT_QUERY;
	c->timeout_ms = 30000;
}

int
vb_cli_u64(const char *s, unsigned long long *out)
{
	char *end;
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return (*end || errno) ? -1 : 0;
}

/* 1 if opt was a shared option, 0 if not, -1 on a bad value (reported). */
static int
conn_opt(vb_cli_conn *c, int opt, const char *arg)
{
	unsigned long long v;
	switch (opt) {
	case VB_OPT_INGEST: c->ingest = arg; return 1;
	case VB_OPT_PUB: c->pub = arg; return 1;
	case VB_OPT_QUERY: c->query = arg; return 1;
	case VB_OPT_TLS_CA: c->tls_ca = arg; return 1;
	case VB_OPT_TOKEN_FILE: c->token_file = arg; return 1;
	case VB_OPT_TIMEOUT:
		if (vb_cli_u64(arg, &v) != 0 || v == 0 || v > 86400) {
			vb_cli_err("--timeout %s: expected seconds between 1 and 86400", arg);
			return -1;
		}
		c->timeout_ms = (int)v * 1000;
		return 1;
	default:
		return 0;
	}
}

int
vb_cli_next_opt(int argc, char **argv, const struct option *longopts,
    vb_cli_conn *c)
{
	int opt, rv;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if ((rv = conn_opt(c, opt, optarg)) == 0)
			return opt;
		if (rv < 0)
			return '?';
	}
	return -1;
}

int
vb_cli_query_send(vb_client *client, const char *url, const vb_query_req *q)
{
	return vb_cli_query_send_lane(client, url, 0, q);
}

int
vb_cli_query_send_lane(vb_client *client, const char *url, int lane,
    const vb_query_req *q)
{
	int rv = vb_client_query_send_lane(client, lane, q);
	if (rv != 0) {
		vb_cli_transport_error(client, url, rv);
		return VB_EXIT_FAIL;
	}
	return 0;
}

int
vb_cli_query_recv(vb_client *client, const char *url, vb_query_kind want,
    const char *what, vb_query_reply *out)
{
	return vb_cli_query_recv_lane(client, url, 0, want, what, out);
}

int
vb_cli_query_recv_lane(vb_client *client, const char *url, int lane,
    vb_query_kind want, const char *what, vb_query_reply *out)
{
	int rv = vb_client_query_recv_lane(client, lane, out);
	if (rv != 0) {
		vb_cli_transport_error(client, url, rv);
		return VB_EXIT_FAIL;
	}
	if (out->code != 0 || out->kind != want) {
		vb_cli_err("%s: %s", what, out->error[0] ? out->error :
		    "the broker's reply is not the one asked for");
		rv = out->code == VB_EINVAL ? VB_EXIT_USAGE : VB_EXIT_FAIL;
		vb_query_reply_free(out);
		return rv;
	}
	return 0;
}

int
vb_cli_query(vb_client *client, const char *url, const vb_query_req *q,
    vb_query_kind want, const char *what, vb_query_reply *out)
{
	int rv = vb_cli_query_send(client, url, q);
	return rv != 0 ? rv : vb_cli_query_recv(client, url, want, what, out);
}

int
vb_cli_client(const vb_cli_conn *c, vb_client **out)
{
	char token[VB_TOKEN_MAX + 1], err[512];
	vb_client_opts o = { c->ingest, c->query, c->timeout_ms, c->tls_ca, token };
	int rv;

	if (vb_token_find(c->token_file, token, sizeof(token), err, sizeof(err)) != 0) {
		vb_cli_err("%s", err);
		return VB_EXIT_USAGE;
	}
	rv = vb_client_open(&o, out);
	memset(token, 0, sizeof(token));
	if (rv != 0) {
		vb_cli_err("%s", vb_strerror(rv));
		return VB_EXIT_FAIL;
	}
	return VB_EXIT_OK;
}

void
vb_cli_transport_error(const vb_client *c, const char *url, int rv)
{
	if (c != NULL && vb_client_last_error(c)[0] && rv != VB_ETIMEDOUT) {
		vb_cli_err("cannot reach the broker at %s: %s", url, vb_client_last_error(c));
		return;
	}
	if (rv == VB_ECONNREFUSED || rv == VB_ETIMEDOUT || rv == VB_EADDR)
		vb_cli_err("cannot reach the broker at %s: %s (is voicebusd running?)",
		    url, vb_strerror(rv));
	else
		vb_cli_err("%s: %s", url, vb_strerror(rv));
}

void
vb_cli_err(const char *fmt, ...)
{
	va_list ap;
	fputs(VB_PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#include <string.h>

void
vb_cli_csv_field(vb_buf *b, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		vb_buf_append_str(b, s);
		return;
	}
	/* Quoted, each quote doubled: runs between quotes go in whole (a
	 * reasons column is JSON, a quote every few bytes). */
	vb_buf_append_byte(b, '"');
	for (const char *q; (q = strchr(s, '"')) != NULL; s = q + 1) {
		vb_buf_append(b, s, (size_t)(q - s) + 1);
		vb_buf_append_byte(b, '"');
	}
	vb_buf_append_str(b, s);
	vb_buf_append_byte(b, '"');
}

int
vb_cli_format_parse(const char *s, vb_cli_format *out)
{
	if (strcmp(s, "jsonl") == 0 || strcmp(s, "json") == 0)
		*out = VB_FMT_JSONL;
	else if (strcmp(s, "pb") == 0)
		*out = VB_FMT_PB;
	else
		return -1;
	return 0;
}

int
vb_cli_format_event(vb_cli_format fmt, const uint8_t *p, size_t len, vb_buf *out)
{
	size_t was = out->len;
	if (fmt == VB_FMT_PB) {
		if (vb_buf_append_varint(out, len) == 0 && vb_buf_append(out, p, len) == 0)
			return 0;
	} else if (vb_event_pb_to_json(p, len, out) == 0 && vb_buf_append_byte(out, '\n') == 0) {
		return 0;
	}
	out->len = was; /* nothing of it */
	if (out->data)
		out->data[was] = 0;
	return -1;
}

int
vb_cli_print_event(FILE *out, vb_cli_format fmt, const uint8_t *p, size_t len,
    vb_buf *buf)
{
	vb_buf_reset(buf);
	/* One thread writes: skip stdio's lock for each event. */
	if (fmt == VB_FMT_PB) {
		if (vb_buf_append_varint(buf, len) != 0)
			return -1;
		fwrite_unlocked(buf->data, 1, buf->len, out);
		fwrite_unlocked(p, 1, len, out);
		return 0;
	}
	if (vb_event_pb_to_json(p, len, buf) != 0 || vb_buf_append_byte(buf, '\n') != 0)
		return -1;
	fwrite_unlocked(buf->data, 1, buf->len, out);
	return 0;
}

int
vb_cli_replay(vb_client *c, const char *url, const vb_replay_req *base,
    uint64_t to, vb_cli_event_fn fn, void *arg, uint64_t *last_seen)
{
	vb_query_req q = { .kind = VB_QUERY_REPLAY, .replay = *base };
	uint64_t next = base->from_seq ? base->from_seq : 1;
	int rv;

	q.replay.from_seq = next;
	q.replay.to_seq = to;
	if ((rv = vb_client_query_send(c, &q)) != 0) {
		vb_cli_transport_error(c, url, rv);
		return rv;
	}
	for (;;) {
		vb_query_reply r;
		int stop = 0;
		if ((rv = vb_client_query_recv(c, &r)) != 0) {
			vb_cli_transport_error(c, url, rv);
			return rv;
		}
		if (r.code != 0 || r.kind != VB_QUERY_REPLAY) {
			vb_cli_err("replay refused: %s", r.error[0] ? r.error : "unexpected reply");
			rv = r.code == VB_EINVAL ? VB_EINVAL : r.code ? r.code : VB_EPROTO;
			vb_query_reply_free(&r);
			return rv;
		}
		/* A replay is a snapshot: it ends at the last seq of its
		 * first page, whatever is stored meanwhile. */
		if (to == 0)
			to = r.replay.last_seq ? r.replay.last_seq : 1;
		next = r.replay.next_seq;
		if (last_seen)
			*last_seen = next > 1 ? next - 1 : 0;
		/* Ask for the next page before handling this one: the broker
		 * reads it meanwhile.  If fn stops us first, the request is
		 * abandoned (the next query on c replaces it). */
		int more = !r.replay.done && next <= to, sent = 0;
		if (more) {
			q.replay.from_seq = next;
			q.replay.to_seq = to;
			sent = vb_client_query_send(c, &q);
		}
		for (size_t i = 0; i < r.replay.n && !stop; i++) {
			uint64_t seq;
			if (vb_event_peek_seq(r.replay.events[i].p, r.replay.events[i].len, &seq) != 0)
				continue;
			if (seq > to) {
				stop = 1;
				break;
			}
			stop = fn(arg, seq, r.replay.events[i].p, r.replay.events[i].len) != 0;
		}
		vb_query_reply_free(&r);
		if (stop || !more)
			break;
		if (sent != 0) { /* after this page's events, as without the overlap */
			vb_cli_transport_error(c, url, sent);
			return sent;
		}
	}
	if (last_seen && *last_seen > to)
		*last_seen = to;
	return 0;
}
