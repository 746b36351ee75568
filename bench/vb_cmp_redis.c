/* vb_cmp_redis: the Redis Streams backend of vb_cmp (see vb_cmp.h), on
 * hiredis (Debian libhiredis-dev).
 *
 * spec: "HOST:PORT" of a redis-server; its appendfsync decides what a
 * reply means (see scripts/bench.sh).
 *
 * - publish: XADD vb:events * e <bytes>; a batch is a pipeline of XADDs,
 *   all sent, then all replies read.
 * - subscribe: XREAD BLOCK ... COUNT 1000 from the last id seen ($ at first).
 * - replay: XRANGE in chunks of 10,000 (the size of a voicebus replay
 *   page), each from just after the last id of the one before.
 * - lookup: GET gate:<customer>, the value the gate's decision; filter: the
 *   audience's customers through MGET, 1,000 keys a round trip (the batch
 *   `voicebus filter` sends), allowed rows to /dev/null. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "vb_cmp.h"
#include "vb_error.h"

#define KEY "vb:events"
#define CHUNK 10000
#define FILTER_BATCH 1000

struct vb_cmp_sys {
	char host[128];
	int port;
};

struct vb_cmp_conn {
	redisContext *rc;
};

struct vb_cmp_sub {
	redisContext *rc;
	redisReply *reply; /* the last XREAD's */
	size_t next;       /* its next entry */
	char last[64];     /* id of the last entry handed out, or "$" */
};

static int
fail(redisContext *rc, redisReply *r, const char *what)
{
	if (r && r->type == REDIS_REPLY_ERROR)
		fprintf(stderr, "vb_cmp: redis: %s: %s\n", what, r->str);
	else if (rc && rc->err)
		fprintf(stderr, "vb_cmp: redis: %s: %s\n", what, rc->errstr);
	else
		fprintf(stderr, "vb_cmp: redis: %s: unexpected reply\n", what);
	if (r)
		freeReplyObject(r);
	return VB_EIO;
}

static int
rconnect(const vb_cmp_sys *s, redisContext **out)
{
	struct timeval tv = { 5, 0 }, io = { 120, 0 };
	redisContext *rc = redisConnectWithTimeout(s->host, s->port, tv);
	if (rc == NULL || rc->err) {
		fprintf(stderr, "vb_cmp: redis: %s:%d: %s\n", s->host, s->port,
		    rc ? rc->errstr : "out of memory");
		redisFree(rc);
		return VB_ECONNREFUSED;
	}
	redisSetTimeout(rc, io);
	*out = rc;
	return 0;
}

static int
rd_open(const char *spec, vb_cmp_sys **out)
{
	vb_cmp_sys *s = calloc(1, sizeof(*s));
	const char *colon = strrchr(spec, ':');
	redisContext *rc;
	redisReply *r;
	int rv;

	if (s == NULL)
		return VB_ENOMEM;
	if (colon == NULL || (size_t)(colon - spec) >= sizeof(s->host) ||
	    (s->port = atoi(colon + 1)) <= 0) {
		fprintf(stderr,
		    "vb_cmp: redis: --connect HOST:PORT, not \"%s\"\n", spec);
		free(s);
		return VB_EINVAL;
	}
	memcpy(s->host, spec, (size_t)(colon - spec));
	if ((rv = rconnect(s, &rc)) != 0) {
		free(s);
		return rv;
	}
	r = redisCommand(rc, "DEL " KEY);
	rv = r && r->type == REDIS_REPLY_INTEGER ? 0 : fail(rc, r, "DEL");
	if (rv == 0)
		freeReplyObject(r);
	redisFree(rc);
	if (rv != 0) {
		free(s);
		return rv;
	}
	*out = s;
	return 0;
}

static void
rd_close(vb_cmp_sys *s)
{
	free(s);
}

static int
rd_conn_open(vb_cmp_sys *s, vb_cmp_conn **out)
{
	vb_cmp_conn *c = calloc(1, sizeof(*c));
	int rv;

	if (c == NULL)
		return VB_ENOMEM;
	if ((rv = rconnect(s, &c->rc)) != 0) {
		free(c);
		return rv;
	}
	*out = c;
	return 0;
}

static void
rd_conn_close(vb_cmp_conn *c)
{
	if (c == NULL)
		return;
	redisFree(c->rc);
	free(c);
}

static int
rd_publish(vb_cmp_conn *c, const vb_cmp_ev *evs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (redisAppendCommand(c->rc, "XADD " KEY " * e %b", evs[i].p,
		        evs[i].len) != REDIS_OK)
			return fail(c->rc, NULL, "XADD");
	for (size_t i = 0; i < n; i++) {
		void *v = NULL;
		redisReply *r;
		if (redisGetReply(c->rc, &v) != REDIS_OK)
			return fail(c->rc, NULL, "XADD");
		r = v;
		if (r->type != REDIS_REPLY_STRING)
			return fail(c->rc, r, "XADD");
		freeReplyObject(r);
	}
	return 0;
}

static int
rd_sub_open(vb_cmp_sys *s, vb_cmp_sub **out)
{
	vb_cmp_sub *sub = calloc(1, sizeof(*sub));
	int rv;

	if (sub == NULL)
		return VB_ENOMEM;
	if ((rv = rconnect(s, &sub->rc)) != 0) {
		free(sub);
		return rv;
	}
	strcpy(sub->last, "$");
	*out = sub;
	return 0;
}

/* The entries of an XREAD or XRANGE reply's stream: [[id, [field, value]]...]. */
static int
entry(const redisReply *entries, size_t i, const redisReply **id,
    const redisReply **value)
{
	const redisReply *e = entries->element[i];
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[1]->type != REDIS_REPLY_ARRAY ||
	    e->element[1]->elements != 2)
		return VB_EPROTO;
	*id = e->element[0];
	*value = e->element[1]->element[1];
	return 0;
}

static int
rd_sub_next(vb_cmp_sub *s, int timeout_ms, const uint8_t **p, size_t *len)
{
	const redisReply *entries, *id, *val;

	entries = s->reply ? s->reply->element[0]->element[1] : NULL;
	if (entries == NULL || s->next >= entries->elements) {
		if (s->reply)
			freeReplyObject(s->reply);
		s->reply = NULL;
		s->next = 0;
		redisReply *r = redisCommand(s->rc,
		    "XREAD BLOCK %d COUNT 1000 STREAMS " KEY " %s", timeout_ms,
		    s->last);
		if (r == NULL)
			return fail(s->rc, NULL, "XREAD");
		if (r->type == REDIS_REPLY_NIL) {
			freeReplyObject(r);
			return VB_ETIMEDOUT;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
		    r->element[0]->elements != 2 ||
		    r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
			return fail(s->rc, r, "XREAD");
		s->reply = r;
		entries = r->element[0]->element[1];
		if (entries->elements == 0)
			return VB_ETIMEDOUT;
	}
	if (entry(entries, s->next++, &id, &val) != 0 ||
	    id->len >= sizeof(s->last))
		return VB_EPROTO;
	memcpy(s->last, id->str, id->len);
	s->last[id->len] = '\0';
	*p = (const uint8_t *)val->str;
	*len = val->len;
	return 0;
}

static void
rd_sub_close(vb_cmp_sub *s)
{
	if (s == NULL)
		return;
	if (s->reply)
		freeReplyObject(s->reply);
	redisFree(s->rc);
	free(s);
}

static int
rd_replay(vb_cmp_conn *c, uint64_t n, uint64_t *count, uint64_t *bytes)
{
	char from[80] = "-";

	*count = *bytes = 0;
	while (*count < n) {
		redisReply *r = redisCommand(c->rc,
		    "XRANGE " KEY " %s + COUNT %d", from, CHUNK);
		const redisReply *id = NULL, *val;
		if (r == NULL || r->type != REDIS_REPLY_ARRAY)
			return fail(c->rc, r, "XRANGE");
		if (r->elements == 0) {
			freeReplyObject(r);
			break;
		}
		for (size_t i = 0; i < r->elements; i++) {
			if (entry(r, i, &id, &val) != 0) {
				freeReplyObject(r);
				return VB_EPROTO;
			}
			*bytes += val->len;
		}
		*count += r->elements;
		/* "(id": exclusive, from Redis 6.2 on. */
		snprintf(from, sizeof(from), "(%.*s", (int)id->len, id->str);
		freeReplyObject(r);
	}
	return 0;
}

static int
rd_lookup_load(vb_cmp_sys *s, size_t customers)
{
	vb_cmp_conn *c;
	int rv;

	if ((rv = rd_conn_open(s, &c)) != 0)
		return rv;
	for (size_t i = 0; i < customers && rv == 0;) {
		size_t k = 0;
		for (; k < 1000 && i < customers; k++, i++) {
			char cust[16];
			vb_cmp_customer(i, cust);
			redisAppendCommand(c->rc, "SET gate:%s %s", cust,
			    vb_cmp_decision(i));
		}
		while (k-- > 0 && rv == 0) {
			void *v = NULL;
			if (redisGetReply(c->rc, &v) != REDIS_OK)
				rv = fail(c->rc, NULL, "SET");
			else if (((redisReply *)v)->type != REDIS_REPLY_STATUS)
				rv = fail(c->rc, v, "SET");
			else
				freeReplyObject(v);
		}
	}
	rd_conn_close(c);
	return rv;
}

static int
rd_lookup(vb_cmp_conn *c, const vb_cmp_ask *a)
{
	redisReply *r = redisCommand(c->rc, "GET gate:%s", a->customer);
	if (r == NULL || r->type != REDIS_REPLY_STRING)
		return fail(c->rc, r, "GET");
	freeReplyObject(r);
	return 0;
}

typedef struct row {
	char *line;
	size_t len;
	char key[32];
} row;

/* Ask for one batch of rows; allowed to out, blocked to blk. */
static int
filter_batch(redisContext *rc, row *rows, size_t n, FILE *out, FILE *blk)
{
	const char *argv[FILTER_BATCH + 1];
	size_t lens[FILTER_BATCH + 1];
	redisReply *r;

	argv[0] = "MGET";
	lens[0] = 4;
	for (size_t i = 0; i < n; i++) {
		argv[i + 1] = rows[i].key;
		lens[i + 1] = strlen(rows[i].key);
	}
	r = redisCommandArgv(rc, (int)n + 1, argv, lens);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != n)
		return fail(rc, r, "MGET");
	for (size_t i = 0; i < n; i++) {
		const redisReply *v = r->element[i];
		if (v->type == REDIS_REPLY_STRING &&
		    strncmp(v->str, "{\"decision\":\"allow\"", 19) == 0) {
			fwrite(rows[i].line, 1, rows[i].len, out);
		} else {
			/* The row, then its reasons as one quoted CSV field. */
			fwrite(rows[i].line, 1, rows[i].len - 1, blk);
			fputs(",\"", blk);
			for (size_t k = 0;
			     v->type == REDIS_REPLY_STRING && k < v->len; k++) {
				if (v->str[k] == '"')
					fputc('"', blk);
				fputc(v->str[k], blk);
			}
			fputs("\"\n", blk);
		}
	}
	freeReplyObject(r);
	return 0;
}

static int
rd_filter(vb_cmp_sys *s, const char *audience, const char *blocked,
    double *seconds)
{
	int64_t t0 = vb_cmp_now_ns();
	FILE *in = fopen(audience, "r"), *out = fopen("/dev/null", "w"),
	     *blk = fopen(blocked, "w");
	row *rows = calloc(FILTER_BATCH, sizeof(*rows));
	size_t caps[FILTER_BATCH] = { 0 }, n = 0;
	redisContext *rc = NULL;
	ssize_t len;
	int rv = VB_EIO, first = 1;

	if (in == NULL || out == NULL || blk == NULL || rows == NULL ||
	    rconnect(s, &rc) != 0)
		goto done;
	rv = 0;
	while (rv == 0 && (len = getline(&rows[n].line, &caps[n], in)) > 0) {
		rows[n].len = (size_t)len;
		if (first) {
			/* The header, to both files. */
			fwrite(rows[n].line, 1, (size_t)len, out);
			fwrite(rows[n].line, 1, (size_t)len - 1, blk);
			fputs(",reasons\n", blk);
			first = 0;
			continue;
		}
		/* email,customer,"Name, N": the customer is the second field. */
		const char *a = strchr(rows[n].line, ','),
		           *b = a ? strchr(a + 1, ',') : NULL;
		if (b == NULL || (size_t)(b - a - 1) >= sizeof(rows[n].key)) {
			rv = VB_EINVAL;
			break;
		}
		snprintf(rows[n].key, sizeof(rows[n].key), "gate:%.*s",
		    (int)(b - a - 1), a + 1);
		if (++n == FILTER_BATCH) {
			rv = filter_batch(rc, rows, n, out, blk);
			n = 0;
		}
	}
	if (rv == 0 && n > 0)
		rv = filter_batch(rc, rows, n, out, blk);
done:
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rv = VB_EIO;
	if (blk && fclose(blk) != 0)
		rv = VB_EIO;
	for (size_t i = 0; rows && i < FILTER_BATCH; i++)
		free(rows[i].line);
	free(rows);
	redisFree(rc);
	*seconds = (double)(vb_cmp_now_ns() - t0) / 1e9;
	return rv;
}

static const vb_cmp_backend backend = {
	.name = "redis",
	.open = rd_open,
	.close = rd_close,
	.conn_open = rd_conn_open,
	.conn_close = rd_conn_close,
	.publish = rd_publish,
	.sub_open = rd_sub_open,
	.sub_next = rd_sub_next,
	.sub_close = rd_sub_close,
	.flush = NULL,
	.replay = rd_replay,
	.replay_cli = NULL,
	.lookup_load = rd_lookup_load,
	.lookup = rd_lookup,
	.filter = rd_filter,
};

const vb_cmp_backend *
vb_cmp_backend_get(void)
{
	return &backend;
}
