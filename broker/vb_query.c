#include "vb_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "vb_arena.h"
#include "vb_auth.h"
#include "vb_error.h"
#include "vb_gate.h"
#include "vb_rep.h"
#include "vb_time.h"
#include "vb_wire.h"

/* A page stops growing past this many bytes, whatever its limit: a page
 * this size already takes thousands of events, which makes the round
 * trip's cost per event negligible, and each worker sending one holds it
 * once, in the message it builds. */
#define PAGE_MAX_BYTES (1u << 20)
/* Records a filtered page may examine before it returns (possibly empty)
 * with a cursor: bounds how long one read transaction lives. */
#define PAGE_SCAN_MAX 200000
/* The reply message of a page is sized for its limit at this many bytes an
 * event, and grows if it must: the page can pass PAGE_MAX_BYTES by an
 * event, and each event takes a few bytes more than its own. */
#define PAGE_EVENT_GUESS 256
#define PAGE_MSG_MAX (PAGE_MAX_BYTES + PAGE_MAX_BYTES / 16)

/* One worker's buffers, reused from query to query. */
typedef struct qworker {
	struct vb_query *q;
	size_t index;
	const vb_auth_client *client; /* who asked (NULL without clients) */
	int redact;      /* replay: hand out vb_event_redact's form */
	vb_buf redacted; /* replay: one event's redacted form */
	nng_msg *page;   /* replay: the reply being built (see vb_wire.h) */
	size_t page_len, page_cap; /* bytes written, and the body's size */
	vb_buf *reply;   /* the query in hand's reply (vb_rep's) */
	vb_buf reasons;  /* gate: reasons JSON, NUL-separated */
	vb_decision_msg *dec;
	size_t dec_cap;
	vb_arena arena;  /* the request in hand, decoded */
} qworker;

struct vb_query {
	vb_rep *rep;
	const vb_config *cfg;
	vb_store *store;
	vb_writer *writer;
	vb_log *log;
	qworker *workers;
	size_t nworkers;
	vb_auth_limit denials;
};

static int
page_grow(qworker *wk, size_t need)
{
	size_t cap = wk->page_cap * 2 > need ? wk->page_cap * 2 : need;
	int rv = nng_msg_realloc(wk->page, cap);
	if (rv != 0)
		return vb_err_from_nng(rv);
	wk->page_cap = cap;
	return VB_OK;
}

/* Append one event to the page's message, as vb_wire.h lays it out. */
static int
page_add(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	qworker *wk = arg;
	uint8_t *body;
	int rv;
	(void)seq;
	if (wk->redact) {
		vb_buf_reset(&wk->redacted);
		if ((rv = vb_event_pb_redact(p, len, &wk->redacted)) != 0)
			return rv;
		p = wk->redacted.data;
		len = wk->redacted.len;
	}
	size_t need = wk->page_len + VB_REPLAY_EVENT_HEAD_MAX + len + VB_REPLAY_TAIL_MAX;
	if (need > wk->page_cap && (rv = page_grow(wk, need)) != 0)
		return rv;
	body = nng_msg_body(wk->page);
	wk->page_len += vb_replay_event_head(len, body + wk->page_len);
	memcpy(body + wk->page_len, p, len);
	wk->page_len += len;
	return 0;
}

static void
reply_fail(qworker *wk, int code, const char *msg)
{
	vb_query_reply r = { .code = code, .error = msg };
	vb_buf_reset(wk->reply);
	vb_query_reply_encode(&r, wk->reply);
}

static int customer_ok(qworker *wk, const char *c);

static void
do_replay(qworker *wk, const vb_replay_req *rq)
{
	vb_query *q = wk->q;
	vb_store_filter f = { 0 };
	vb_replay_reply r = { 0 };
	size_t limit = rq->limit ? rq->limit : (size_t)q->cfg->replay_page;
	char msg[160];
	int rv;

	if (limit > (size_t)q->cfg->replay_page_max)
		limit = (size_t)q->cfg->replay_page_max;
	if (rq->customer[0] && !customer_ok(wk, rq->customer))
		return;
	f.from_seq = rq->from_seq;
	f.to_seq = rq->to_seq;
	f.customer = rq->customer;
	f.type_prefix = rq->type_prefix;
	if (rq->since[0]) {
		if (vb_time_parse(rq->since, &f.since_us) != 0) {
			snprintf(msg, sizeof(msg), "since: \"%.64s\" is not an RFC 3339 date-time", rq->since);
			reply_fail(wk, VB_EINVAL, msg);
			return;
		}
		f.has_since = 1;
	}
	if (rq->until[0]) {
		if (vb_time_parse(rq->until, &f.until_us) != 0) {
			snprintf(msg, sizeof(msg), "until: \"%.64s\" is not an RFC 3339 date-time", rq->until);
			reply_fail(wk, VB_EINVAL, msg);
			return;
		}
		f.has_until = 1;
	}
	/* The events go straight into the message sent, after room for
	 * the head, which takes the length of all that follows it. */
	size_t cap = limit < PAGE_MSG_MAX / PAGE_EVENT_GUESS ? limit * PAGE_EVENT_GUESS :
	    PAGE_MSG_MAX;
	cap += VB_REPLAY_HEAD_MAX + VB_REPLAY_TAIL_MAX;
	if ((rv = nng_msg_alloc(&wk->page, cap)) != 0) {
		wk->page = NULL;
		reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
		return;
	}
	wk->page_cap = cap;
	wk->page_len = VB_REPLAY_HEAD_MAX;
	rv = vb_store_replay(q->store, &f, limit, PAGE_MAX_BYTES, PAGE_SCAN_MAX,
	    page_add, wk, &r.next_seq, &r.done, &r.last_seq);
	if (rv != 0) {
		nng_msg_free(wk->page);
		wk->page = NULL;
		wk->page_len = 0;
		reply_fail(wk, rv, vb_strerror(rv));
		return;
	}
	uint8_t head[VB_REPLAY_HEAD_MAX], *body = nng_msg_body(wk->page);
	size_t end = wk->page_len + vb_replay_tail(r.next_seq, r.done, r.last_seq,
	    body + wk->page_len);
	size_t hlen = vb_replay_head(end - VB_REPLAY_HEAD_MAX, head);
	memcpy(body + VB_REPLAY_HEAD_MAX - hlen, head, hlen);
	nng_msg_chop(wk->page, wk->page_cap - end);
	nng_msg_trim(wk->page, VB_REPLAY_HEAD_MAX - hlen);
	vb_rep_set_reply_msg(q->rep, wk->index, wk->page);
	wk->page = NULL;
}

static void
do_stats(qworker *wk)
{
	vb_query_reply r = { .kind = VB_QUERY_STATS };
	int rv = vb_store_stats(wk->q->store, &r.stats);
	if (rv != 0) {
		reply_fail(wk, rv, vb_strerror(rv));
		return;
	}
	r.stats.max_batch = (uint32_t)wk->q->cfg->max_batch;
	r.stats.max_message = (uint64_t)wk->q->cfg->max_message;
	r.stats.client = wk->client ? wk->client->name : "";
	r.stats.role = wk->client ? vb_role_names[wk->client->role] : "";
	r.stats.pub_redacted = vb_config_pub_redacted(wk->q->cfg);
	r.stats.replay_redacted = wk->redact;
	vb_buf_reset(wk->reply);
	if (vb_query_reply_encode(&r, wk->reply) != 0)
		reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
	vb_store_stats_free(&r.stats);
}

/* Most customers in one gate request, and per suppressions page. */
#define GATE_MAX 10000
#define SUPP_PAGE 1000
#define CAMPAIGN_MAX 64

static int
dec_reserve(qworker *wk, size_t n)
{
	if (n <= wk->dec_cap)
		return VB_OK;
	vb_decision_msg *d = realloc(wk->dec, n * sizeof(*d));
	if (d == NULL)
		return VB_ENOMEM;
	wk->dec = d;
	wk->dec_cap = n;
	return VB_OK;
}

static void
send_decisions(qworker *wk, vb_query_kind kind, size_t n, const char *at,
    const char *state, const char *next, int done)
{
	vb_query_reply r = { .kind = kind, .decisions = wk->dec, .ndecisions = n,
		.at = at, .state = state, .next = next, .done = done };
	vb_buf_reset(wk->reply);
	if (vb_query_reply_encode(&r, wk->reply) != 0)
		reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
}

/* Parse "at" (empty: now).  Fails the reply and returns -1 if bad. */
static int
parse_at(qworker *wk, const char *at, int64_t *us, int *given, char *text)
{
	char msg[160];
	*given = at != NULL && at[0] != '\0';
	if (!*given) {
		*us = vb_time_now();
	} else if (vb_time_parse(at, us) != 0) {
		snprintf(msg, sizeof(msg), "at: \"%.64s\" is not an RFC 3339 date-time", at);
		reply_fail(wk, VB_EINVAL, msg);
		return -1;
	}
	vb_time_format(*us, text);
	return 0;
}

static int
parse_pc(qworker *wk, const char *purpose, const char *channel, int *p, int *c)
{
	char msg[200];
	if ((*p = vb_purpose_index(purpose)) < 0) {
		snprintf(msg, sizeof(msg), "purpose: \"%.64s\" is not service, upsell, cross-sell, "
		    "promotion or survey", purpose);
		reply_fail(wk, VB_EINVAL, msg);
		return -1;
	}
	if ((*c = vb_channel_index(channel)) < 0) {
		snprintf(msg, sizeof(msg), "channel: \"%.64s\" is not email, sms, phone, post or push",
		    channel);
		reply_fail(wk, VB_EINVAL, msg);
		return -1;
	}
	return 0;
}

static int
customer_ok(qworker *wk, const char *c)
{
	size_t n = strlen(c);
	if (n == 0 || n > VB_CUSTOMER_MAX) {
		char msg[96];
		snprintf(msg, sizeof(msg), "customer: must be 1 to %d bytes", VB_CUSTOMER_MAX);
		reply_fail(wk, VB_EINVAL, msg);
		return 0;
	}
	return 1;
}

static void
do_gate(qworker *wk, const vb_gate_req *g)
{
	vb_query *q = wk->q;
	char at_text[VB_TIME_BUFSZ];
	vb_gate_result *res = NULL;
	vb_store_item *items = NULL;
	int p, c, given, rv;
	int64_t at;

	if (parse_pc(wk, g->purpose, g->channel, &p, &c) != 0 ||
	    parse_at(wk, g->at, &at, &given, at_text) != 0)
		return;
	if (g->n == 0 || g->n > GATE_MAX) {
		reply_fail(wk, VB_EINVAL, "customers: 1 to 10000 per request");
		return;
	}
	for (size_t i = 0; i < g->n; i++)
		if (!customer_ok(wk, g->customers[i]))
			return;
	if (dec_reserve(wk, g->n) != 0) {
		reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
		return;
	}
	vb_buf_reset(&wk->reasons);
	if (g->record[0] != '\0') {
		/* A reservation writes: it goes through the one writer, which
		 * is what makes two campaigns racing for one slot safe. */
		vb_job job;
		if (given) {
			reply_fail(wk, VB_EINVAL, "record: only for a decision now, not --at");
			return;
		}
		if (strlen(g->record) > CAMPAIGN_MAX) {
			reply_fail(wk, VB_EINVAL, "record: a campaign name is at most 64 bytes");
			return;
		}
		if ((items = calloc(g->n, sizeof(*items))) == NULL) {
			reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
			return;
		}
		for (size_t i = 0; i < g->n; i++) {
			items[i].kind = VB_ITEM_RECORD;
			items[i].customer = g->customers[i];
			items[i].purpose = p;
			items[i].channel = c;
			items[i].campaign = g->record;
		}
		memset(&job, 0, sizeof(job));
		job.items = items;
		job.n = g->n;
		job.aux = &wk->reasons;
		if ((rv = vb_writer_submit(q->writer, &job)) != 0) {
			reply_fail(wk, rv, vb_strerror(rv));
			goto out;
		}
		for (size_t i = 0; i < g->n; i++) {
			wk->dec[i] = (vb_decision_msg){ g->customers[i], g->purpose, g->channel,
				items[i].allow, (const char *)wk->reasons.data + items[i].reasons_off,
				items[i].seq, items[i].duplicate };
		}
		/* The reservation was made now: say when. */
		vb_time_format(vb_time_now(), at_text);
	} else {
		if ((res = calloc(g->n, sizeof(*res))) == NULL) {
			reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
			return;
		}
		if ((rv = vb_store_decide(q->store, g->customers, g->n, p, c, at, given, res,
		    &wk->reasons)) != 0) {
			reply_fail(wk, rv, vb_strerror(rv));
			goto out;
		}
		for (size_t i = 0; i < g->n; i++)
			wk->dec[i] = (vb_decision_msg){ g->customers[i], g->purpose, g->channel,
				res[i].allow, (const char *)wk->reasons.data + res[i].reasons_off, 0, 0 };
	}
	send_decisions(wk, VB_QUERY_GATE, g->n, at_text, NULL, NULL, 0);
out:
	free(items);
	free(res);
}

static void
do_customer(qworker *wk, const char *customer, const char *at_s)
{
	vb_gate_result res[VB_NPURPOSES * VB_NCHANNELS];
	vb_buf state = { 0 };
	char at_text[VB_TIME_BUFSZ];
	int64_t at;
	int given, rv;

	if (!customer_ok(wk, customer) || parse_at(wk, at_s, &at, &given, at_text) != 0)
		return;
	if (dec_reserve(wk, VB_NPURPOSES * VB_NCHANNELS) != 0) {
		reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
		return;
	}
	vb_buf_reset(&wk->reasons);
	if ((rv = vb_store_customer(wk->q->store, customer, at, given, &state, res,
	    &wk->reasons)) != 0) {
		reply_fail(wk, rv, vb_strerror(rv));
		goto out;
	}
	for (int p = 0; p < VB_NPURPOSES; p++)
		for (int c = 0; c < VB_NCHANNELS; c++) {
			const vb_gate_result *r = &res[p * VB_NCHANNELS + c];
			wk->dec[p * VB_NCHANNELS + c] = (vb_decision_msg){ customer,
				vb_purpose_names[p], vb_channel_names[c], r->allow,
				(const char *)wk->reasons.data + r->reasons_off, 0, 0 };
		}
	send_decisions(wk, VB_QUERY_CUSTOMER, VB_NPURPOSES * VB_NCHANNELS, at_text,
	    state.len ? (const char *)state.data : "{}", NULL, 0);
out:
	vb_buf_free(&state);
}

typedef struct {
	qworker *wk;
	vb_buf names;   /* customer names, NUL-terminated, back to back */
	size_t *name_off, *reason_off;
	int *purpose, *channel;
	size_t n, cap;
} supp_page;

static int
supp_add(void *arg, const char *customer, int purpose, int channel,
    const char *reasons, size_t reasons_len)
{
	supp_page *sp = arg;
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 256;
		size_t *a = realloc(sp->name_off, cap * sizeof(*a));
		if (a) sp->name_off = a;
		size_t *b = realloc(sp->reason_off, cap * sizeof(*b));
		if (b) sp->reason_off = b;
		int *c = realloc(sp->purpose, cap * sizeof(*c));
		if (c) sp->purpose = c;
		int *d = realloc(sp->channel, cap * sizeof(*d));
		if (d) sp->channel = d;
		if (!a || !b || !c || !d)
			return VB_ENOMEM;
		sp->cap = cap;
	}
	sp->name_off[sp->n] = sp->names.len;
	if (vb_buf_append(&sp->names, customer, strlen(customer) + 1) != 0)
		return VB_ENOMEM;
	sp->reason_off[sp->n] = sp->names.len;
	if (vb_buf_append(&sp->names, reasons, reasons_len) != 0 ||
	    vb_buf_append_byte(&sp->names, 0) != 0)
		return VB_ENOMEM;
	sp->purpose[sp->n] = purpose;
	sp->channel[sp->n++] = channel;
	return 0;
}

static void
do_suppressions(qworker *wk, const vb_query_req *rq)
{
	supp_page sp = { .wk = wk };
	char at_text[VB_TIME_BUFSZ], *next = NULL;
	int p = -1, c = -1, rv;
	int64_t now = vb_time_now();
	size_t limit = rq->supp.limit && rq->supp.limit < SUPP_PAGE ? rq->supp.limit : SUPP_PAGE;

	if ((rq->supp.purpose[0] && (p = vb_purpose_index(rq->supp.purpose)) < 0) ||
	    (rq->supp.channel[0] && (c = vb_channel_index(rq->supp.channel)) < 0)) {
		reply_fail(wk, VB_EINVAL, "purpose or channel: not one of the contract's");
		return;
	}
	rv = vb_store_suppressions(wk->q->store, rq->supp.after, limit, p, c, now, supp_add,
	    &sp, &next);
	if (rv != 0 || dec_reserve(wk, sp.n ? sp.n : 1) != 0) {
		reply_fail(wk, rv ? rv : VB_ENOMEM, vb_strerror(rv ? rv : VB_ENOMEM));
		goto out;
	}
	for (size_t i = 0; i < sp.n; i++)
		wk->dec[i] = (vb_decision_msg){ (const char *)sp.names.data + sp.name_off[i],
			vb_purpose_names[sp.purpose[i]], vb_channel_names[sp.channel[i]], 0,
			(const char *)sp.names.data + sp.reason_off[i], 0, 0 };
	send_decisions(wk, VB_QUERY_SUPPRESSIONS, sp.n, vb_time_format(now, at_text), NULL,
	    next, next == NULL);
out:
	free(next);
	vb_buf_free(&sp.names);
	free(sp.name_off);
	free(sp.reason_off);
	free(sp.purpose);
	free(sp.channel);
}

static void
do_rebuild(qworker *wk)
{
	vb_job job;
	vb_query_reply r = { .kind = VB_QUERY_REBUILD };
	int rv;

	memset(&job, 0, sizeof(job));
	job.rebuild = 1;
	vb_log_info(wk->q->log, "Q002", "rebuilding customer state from the log");
	if ((rv = vb_writer_submit(wk->q->writer, &job)) != 0) {
		reply_fail(wk, rv, vb_strerror(rv));
		return;
	}
	vb_log_info(wk->q->log, "Q003", "rebuilt: %llu customers from %llu events, %llu differed",
	    (unsigned long long)job.counts[0], (unsigned long long)job.counts[1],
	    (unsigned long long)job.counts[2]);
	memcpy(r.rebuilt, job.counts, sizeof(r.rebuilt));
	vb_buf_reset(wk->reply);
	if (vb_query_reply_encode(&r, wk->reply) != 0)
		reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
}

static void
do_backup(qworker *wk, const char *path)
{
	vb_query_reply r = { .kind = VB_QUERY_BACKUP };
	char err[512];
	int rv;
	vb_log_info(wk->q->log, "Q004", "backup to %s: started by %s", path,
	    wk->client ? wk->client->name : "a local client");
	rv = vb_store_backup(wk->q->store, path, &r.backup_bytes, &r.backup_seq, err,
	    sizeof(err));
	if (rv != 0) {
		vb_log_error(wk->q->log, "Q005", "backup failed: %s", err);
		reply_fail(wk, rv, err);
		return;
	}
	vb_log_info(wk->q->log, "Q006", "backup to %s: %llu bytes, events up to seq %llu",
	    path, (unsigned long long)r.backup_bytes, (unsigned long long)r.backup_seq);
	vb_buf_reset(wk->reply);
	if (vb_query_reply_encode(&r, wk->reply) != 0)
		reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
}

static void
do_config(qworker *wk)
{
	vb_query_reply r = { .kind = VB_QUERY_CONFIG };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f == NULL) {
		reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
		return;
	}
	vb_config_dump(wk->q->cfg, f);
	if (fclose(f) != 0 || text == NULL) {
		free(text);
		reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
		return;
	}
	r.config = text;
	vb_buf_reset(wk->reply);
	if (vb_query_reply_encode(&r, wk->reply) != 0)
		reply_fail(wk, VB_ENOMEM, vb_strerror(VB_ENOMEM));
	free(text);
}

static vb_op
query_op(const vb_query_req *rq)
{
	switch (rq->kind) {
	case VB_QUERY_REPLAY: return VB_OP_REPLAY;
	case VB_QUERY_GATE: return rq->gate.record[0] ? VB_OP_RECORD : VB_OP_GATE;
	case VB_QUERY_CUSTOMER: return VB_OP_CUSTOMER;
	case VB_QUERY_SUPPRESSIONS: return VB_OP_SUPPRESSIONS;
	case VB_QUERY_REBUILD: return VB_OP_REBUILD;
	case VB_QUERY_BACKUP: return VB_OP_BACKUP;
	case VB_QUERY_CONFIG: return VB_OP_CONFIG;
	default: return VB_OP_STATS;
	}
}

/* With clients configured: set wk->client from the token and check its
 * role allows the query.  0, or a refusal already in the reply. */
static int
authorize(qworker *wk, const vb_query_req *rq)
{
	const vb_auth *a = &wk->q->cfg->auth;
	size_t len = strlen(rq->token);
	vb_op op = query_op(rq);
	char peer[128], msg[200];

	wk->client = NULL;
	wk->redact = 0;
	if (!vb_auth_enabled(a))
		return VB_OK;
	wk->client = vb_auth_find(a, rq->token, len);
	if (wk->client != NULL && vb_auth_allows(wk->client->role, op)) {
		wk->redact = vb_auth_redacts(wk->client);
		return VB_OK;
	}
	vb_rep_peer(wk->q->rep, wk->index, peer, sizeof(peer));
	if (wk->client == NULL) {
		vb_auth_log_denial(&wk->q->denials, wk->q->log, NULL, peer, vb_op_names[op],
		    len ? "unknown token" : "no token");
		snprintf(msg, sizeof(msg), "access denied: %s (give the client's token "
		    "with --token-file FILE or VOICEBUS_TOKEN)", len ? "unknown token" : "no token");
	} else {
		vb_auth_log_denial(&wk->q->denials, wk->q->log, wk->client, peer,
		    vb_op_names[op], "not allowed for its role");
		snprintf(msg, sizeof(msg), "access denied: client %s has role %s, which "
		    "may not %s", wk->client->name, vb_role_names[wk->client->role],
		    vb_op_verbs[op]);
	}
	reply_fail(wk, VB_EACCES, msg);
	return VB_EACCES;
}

static void
handle(qworker *wk, const uint8_t *p, size_t len)
{
	vb_query_req rq;
	char msg[160];
	int rv;
	if ((rv = vb_query_req_decode_in(p, len, &wk->arena, &rq)) != 0) {
		reply_fail(wk, rv, rv == VB_ETOOBIG ?
		    "request needs too much memory to decode (too many empty or tiny fields)" :
		    "request is not a voicebus.v1.QueryRequest");
		return;
	}
	/* Before anything quotes, stores or looks up its strings. */
	if (vb_query_req_check_utf8(&rq, msg, sizeof(msg)) != 0) {
		reply_fail(wk, VB_EINVAL, msg);
		vb_query_req_free(&rq);
		return;
	}
	if (authorize(wk, &rq) != 0) {
		vb_query_req_free(&rq);
		return;
	}
	switch (rq.kind) {
	case VB_QUERY_REPLAY: do_replay(wk, &rq.replay); break;
	case VB_QUERY_STATS: do_stats(wk); break;
	case VB_QUERY_GATE: do_gate(wk, &rq.gate); break;
	case VB_QUERY_CUSTOMER: do_customer(wk, rq.customer.customer, rq.customer.at); break;
	case VB_QUERY_SUPPRESSIONS: do_suppressions(wk, &rq); break;
	case VB_QUERY_REBUILD: do_rebuild(wk); break;
	case VB_QUERY_BACKUP: do_backup(wk, rq.backup_path); break;
	case VB_QUERY_CONFIG: do_config(wk); break;
	default: reply_fail(wk, VB_EINVAL, "unknown query"); break;
	}
	vb_query_req_free(&rq);
}

static int
on_request(void *arg, size_t index, const uint8_t *req, size_t len, vb_buf *reply)
{
	vb_query *q = arg;
	qworker *wk = &q->workers[index];
	wk->reply = reply;
	wk->page_len = 0;
	handle(wk, req, len);
	vb_arena_reset(&wk->arena);
	wk->reply = NULL;
	/* A replay page went to vb_rep as a message of its own. */
	return reply->len > 0 || wk->page_len > 0 ? VB_OK : VB_ENOMEM;
}

int
vb_query_open(const vb_config *cfg, vb_store *store, vb_writer *writer, vb_log *log,
    vb_query **out)
{
	vb_query *q = calloc(1, sizeof(*q));
	int rv;
	if (q == NULL)
		return VB_ENOMEM;
	q->cfg = cfg;
	q->store = store;
	q->writer = writer;
	q->log = log;
	q->nworkers = (size_t)cfg->query_workers;
	if ((q->workers = calloc(q->nworkers, sizeof(*q->workers))) == NULL) {
		free(q);
		return VB_ENOMEM;
	}
	for (size_t i = 0; i < q->nworkers; i++) {
		q->workers[i].q = q;
		q->workers[i].index = i;
	}
	vb_auth_limit_init(&q->denials);
	/* Queries are small; a megabyte is generous. */
	vb_tls_opts tls = { cfg->tls_cert, cfg->tls_key, cfg->tls_key_password, NULL };
	if ((rv = vb_rep_open(cfg->query, &tls, q->nworkers, 1u << 20, on_request, q, log,
	    "query", &q->rep)) != 0) {
		vb_query_close(q);
		return rv;
	}
	*out = q;
	return VB_OK;
}

void
vb_query_close(vb_query *q)
{
	if (q == NULL)
		return;
	vb_rep_close(q->rep, 0);
	for (size_t i = 0; i < q->nworkers; i++) {
		qworker *wk = &q->workers[i];
		vb_buf_free(&wk->redacted);
		vb_buf_free(&wk->reasons);
		free(wk->dec);
		vb_arena_free(&wk->arena);
	}
	free(q->workers);
	vb_auth_limit_fini(&q->denials);
	free(q);
}
