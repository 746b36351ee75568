#include "vb_wire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_arena.h"
#include "vb_error.h"
#include "vb_event_impl.h"
#include "vb_validate.h"
#include "voicebus/v1/wire.pb-c.h"

static int
pack(const ProtobufCMessage *m, vb_buf *out)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	int rv = vb_buf_reserve(out, n + 1);
	if (rv != 0)
		return rv;
	protobuf_c_message_pack(m, out->data + out->len);
	out->len += n;
	return VB_OK;
}

static char *
str_or_empty(const char *s)
{
	return (char *)(s ? s : protobuf_c_empty_string);
}

/* What protobuf-c may allocate to decode a request: it allocates as it
 * reads, and an empty entry of a repeated field costs it some 100 bytes
 * for 2 on the wire, so a request within max_message could otherwise take
 * gigabytes. */
typedef struct budget {
	size_t left;
	int over;
} budget;

static void *
budget_alloc(void *arg, size_t n)
{
	budget *b = arg;
	if (n > b->left) {
		b->over = 1;
		return NULL;
	}
	b->left -= n;
	return malloc(n);
}

static void
budget_free(void *arg, void *p)
{
	free(p);
}

static size_t
budget_of(size_t len)
{
	return len > (SIZE_MAX - 65536) / VB_DECODE_RATIO
	    ? SIZE_MAX
	    : len * VB_DECODE_RATIO + 65536;
}

static void
budget_init(budget *b, size_t len, ProtobufCAllocator *al)
{
	b->left = budget_of(len);
	b->over = 0;
	al->alloc = budget_alloc;
	al->free = budget_free;
	al->allocator_data = b;
}

/* The same budget kept by an arena: decoding allocates with a pointer bump
 * and the request is freed by resetting the arena. */
static void *
arena_pb_alloc(void *arg, size_t n)
{
	return vb_arena_alloc(arg, n);
}

static void
arena_pb_free(void *arg, void *p)
{
	(void)arg;
	(void)p;
}

/* ---- ingest ---- */

struct vb_ingest_req {
	Voicebus__V1__IngestRequest *pb;
	vb_event *events; /* n wrappers, borrowing pb->events[i] */
	int in_arena;     /* all of it is the arena's: free does nothing */
};

int
vb_ingest_req_encode(vb_event *const *evs, size_t n, vb_buf *out)
{
	Voicebus__V1__IngestRequest req = VOICEBUS__V1__INGEST_REQUEST__INIT;
	Voicebus__V1__Event **pbs = malloc((n ? n : 1) * sizeof(*pbs));
	int rv;
	if (pbs == NULL)
		return VB_ENOMEM;
	for (size_t i = 0; i < n; i++)
		pbs[i] = evs[i]->pb;
	req.n_events = n;
	req.events = pbs;
	rv = pack(&req.base, out);
	free(pbs);
	return rv;
}

int
vb_ingest_req_append_token(const char *token, vb_buf *out)
{
	size_t n = token ? strlen(token) : 0;
	if (n == 0)
		return VB_OK;
	/* Field 2, length-delimited. */
	if (vb_buf_append(out, "\x12", 1) != 0 || vb_buf_append_varint(out, n) != 0)
		return VB_ENOMEM;
	return vb_buf_append(out, token, n);
}

int
vb_ingest_req_peek_count(const uint8_t *p, size_t len, size_t *n)
{
	size_t off = 0, used;
	uint64_t key, v;

	*n = 0;
	while (off < len) {
		used = vb_varint_decode(p + off, len - off, &key);
		if (used == 0 || key >> 3 == 0)
			return VB_EPROTO;
		off += used;
		switch (key & 7) {
		case 0: /* varint */
			used = vb_varint_decode(p + off, len - off, &v);
			if (used == 0)
				return VB_EPROTO;
			off += used;
			break;
		case 1: /* 64-bit */
			if (len - off < 8)
				return VB_EPROTO;
			off += 8;
			break;
		case 2: /* length-delimited: field 1 is an event */
			used = vb_varint_decode(p + off, len - off, &v);
			if (used == 0 || v > len - off - used)
				return VB_EPROTO;
			off += used + (size_t)v;
			*n += key >> 3 == 1;
			break;
		case 5: /* 32-bit */
			if (len - off < 4)
				return VB_EPROTO;
			off += 4;
			break;
		default: return VB_EPROTO;
		}
	}
	return VB_OK;
}

/* Mark the events whose bytes in p are already their canonical encoding
 * (the encoder then copies them) and walk the others once for unknown
 * fields.  The events are field 1 of the request, in order.  Whether a
 * field numbered 0 is anywhere in the request, as vb_pb_has_field_zero. */
static int
note_events(vb_ingest_req *req, const uint8_t *p, size_t len)
{
	size_t off = 0, k = 0, used;
	uint64_t key, v;
	int zero = 0;

	for (unsigned i = 0; i < req->pb->base.n_unknown_fields; i++)
		zero |= req->pb->base.unknown_fields[i].tag == 0;
	/* The reader took these bytes: a walk that disagrees marks none. */
	while (off < len && k < req->pb->n_events) {
		if ((used = vb_varint_decode(p + off, len - off, &key)) == 0)
			break;
		off += used;
		if ((key & 7) != 2)
			break; /* not an event, nor the token */
		if ((used = vb_varint_decode(p + off, len - off, &v)) == 0 ||
		    v > len - off - used)
			break;
		off += used;
		if (key >> 3 == 1) {
			vb_event *ev = &req->events[k++];
			if (vb_event_pb_is_canonical(p + off, (size_t)v)) {
				ev->canon = p + off;
				/* seq 0 and recorded empty: the whole is the form. */
				ev->pb_size = (size_t)v;
			}
		}
		off += (size_t)v;
	}
	if (k != req->pb->n_events || off != len)
		for (size_t i = 0; i < req->pb->n_events; i++) {
			req->events[i].canon = NULL;
			req->events[i].pb_size = 0;
		}
	for (size_t i = 0; i < req->pb->n_events; i++)
		zero |= vb_event_note_unknown(&req->events[i]);
	return zero;
}

static int
lend_events(vb_ingest_req *req, vb_arena *a)
{
	size_t n = req->pb->n_events ? req->pb->n_events : 1;
	if (a != NULL)
		req->events = vb_arena_alloc(a, n * sizeof(*req->events));
	else
		req->events = calloc(n, sizeof(*req->events));
	if (req->events == NULL)
		return VB_ENOMEM;
	for (size_t i = 0; i < req->pb->n_events; i++) {
		memset(&req->events[i], 0, sizeof(req->events[i]));
		req->events[i].pb = req->pb->events[i];
		req->events[i].owned = 0;
	}
	return VB_OK;
}

int
vb_ingest_req_decode(const uint8_t *p, size_t len, vb_ingest_req **out)
{
	vb_ingest_req *req = calloc(1, sizeof(*req));
	ProtobufCAllocator al;
	budget bu;
	if (req == NULL)
		return VB_ENOMEM;
	budget_init(&bu, len, &al);
	req->pb = voicebus__v1__ingest_request__unpack(&al, len, p);
	if (req->pb == NULL) {
		vb_ingest_req_free(req);
		return bu.over ? VB_ETOOBIG : VB_EPROTO;
	}
	if (lend_events(req, NULL) != 0) {
		vb_ingest_req_free(req);
		return VB_ENOMEM;
	}
	if (note_events(req, p, len)) {
		vb_ingest_req_free(req);
		return VB_EPROTO;
	}
	*out = req;
	return VB_OK;
}

/* Decode, without protobuf-c, a request that holds nothing but events whose
 * bytes are canonical and at most one token, as vb_publish sends them: one
 * walk, where unpacking and then checking each event are two.  0 when the
 * request is any other (req is then untouched but for memory taken from a):
 * unpack it. */
static int
decode_canonical(vb_ingest_req *req, const uint8_t *p, size_t len, vb_arena *a)
{
	Voicebus__V1__IngestRequest *pb;
	const uint8_t *tok = NULL;
	size_t n, k = 0, off = 0, used, toklen = 0;
	uint64_t key, v;
	vb_event *evs;
	uint8_t *w;

	/* One copy of the whole request, the events' strings cut from it in
	 * place, costs less than a block and a copy for each string. */
	if (vb_ingest_req_peek_count(p, len, &n) != 0 ||
	    (pb = vb_arena_alloc(a, sizeof(*pb))) == NULL ||
	    (pb->events = vb_arena_alloc(a, (n ? n : 1) * sizeof(*pb->events))) == NULL ||
	    (evs = vb_arena_alloc(a, (n ? n : 1) * sizeof(*evs))) == NULL ||
	    (w = vb_arena_alloc(a, len + 1)) == NULL)
		return 0;
	if (len > 0)
		memcpy(w, p, len);
	while (off < len) {
		/* Field 1 (an event) or, once, field 2 (the token); both
		 * length-delimited, the key in one byte. */
		key = p[off++];
		if (key != (1 << 3 | 2) && (key != (2 << 3 | 2) || tok != NULL))
			return 0;
		/* No more than protobuf-c takes: a length in at most 5 bytes,
		 * and nothing it would read otherwise (padded, or past 2^31). */
		if ((used = vb_varint_decode(p + off, len - off, &v)) == 0 || used > 5 ||
		    (used > 1 && p[off + used - 1] == 0) || v > INT32_MAX ||
		    v > len - off - used)
			return 0;
		off += used;
		if (key == (2 << 3 | 2)) {
			tok = p + off;
			toklen = (size_t)v;
		} else if (k == n ||
		    (pb->events[k] = vb_event_pb_decode_canonical(p + off, (size_t)v,
		        w + off, a)) == NULL) {
			return 0;
		} else {
			memset(&evs[k], 0, sizeof(evs[k]));
			evs[k].pb = pb->events[k];
			evs[k].canon = p + off;
			/* seq 0 and recorded empty: the whole is the form. */
			evs[k].pb_size = (size_t)v;
			k++;
		}
		off += (size_t)v;
	}
	if (k != n)
		return 0;
	/* What unpack leaves in the fields the walk did not fill. */
	Voicebus__V1__Event **events = pb->events;
	voicebus__v1__ingest_request__init(pb);
	pb->events = n ? events : NULL; /* as unpack leaves it */
	pb->n_events = n;
	if (tok != NULL) {
		if ((pb->token = vb_arena_alloc(a, toklen + 1)) == NULL)
			return 0;
		memcpy(pb->token, tok, toklen);
		pb->token[toklen] = '\0';
	}
	for (size_t i = 0; i < n; i++)
		(void)vb_event_note_unknown(&evs[i]); /* canonical: none */
	req->pb = pb;
	req->events = evs;
	return 1;
}

/* Bound what decoding len bytes may take from a from here on: only what
 * decoding allocates counts, as in vb_ingest_req_decode. */
static void
arena_budget(vb_arena *a, size_t len)
{
	size_t most = budget_of(len);
	a->over = 0;
	a->limit = most > SIZE_MAX - a->given ? SIZE_MAX : a->given + most;
}

int
vb_ingest_req_decode_in(const uint8_t *p, size_t len, vb_arena *a,
    vb_ingest_req **out)
{
	ProtobufCAllocator al = { arena_pb_alloc, arena_pb_free, a };
	vb_ingest_req *req;
	vb_arena_mark mark;

	a->limit = 0;
	if ((req = vb_arena_alloc(a, sizeof(*req))) == NULL)
		return VB_ENOMEM;
	memset(req, 0, sizeof(*req));
	req->in_arena = 1;
	vb_arena_mark_here(a, &mark);
	arena_budget(a, len);
	if (decode_canonical(req, p, len, a)) {
		a->limit = 0;
		*out = req;
		return VB_OK;
	}
	/* What the walk took goes back before protobuf-c takes its own: the
	 * two never hold more than one budget between them. */
	vb_arena_rollback(a, &mark);
	arena_budget(a, len);
	req->pb = voicebus__v1__ingest_request__unpack(&al, len, p);
	a->limit = 0;
	if (req->pb == NULL)
		return a->over ? VB_ETOOBIG : VB_EPROTO;
	if (lend_events(req, a) != 0)
		return VB_ENOMEM;
	if (note_events(req, p, len))
		return VB_EPROTO;
	*out = req;
	return VB_OK;
}

size_t
vb_ingest_req_count(const vb_ingest_req *req)
{
	return req->pb->n_events;
}

const char *
vb_ingest_req_token(const vb_ingest_req *req, size_t *len)
{
	const char *t = req->pb->token ? req->pb->token : "";
	*len = strlen(t);
	return t;
}

vb_event *
vb_ingest_req_event(vb_ingest_req *req, size_t i)
{
	return &req->events[i];
}

void
vb_ingest_req_free(vb_ingest_req *req)
{
	if (req == NULL || req->in_arena)
		return;
	if (req->pb)
		voicebus__v1__ingest_request__free_unpacked(req->pb, NULL);
	free(req->events);
	free(req);
}

/* ---- fields written as protobuf-c packs them ----
 * For the replies written without it: a proto3 default (0, NULL or "") is
 * left out, anything else goes as key and value.  Field numbers below 16:
 * the key is one byte. */

static size_t
str_field_len(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n ? 1 + vb_varint_len(n) + n : 0;
}

static int
put_str_field(vb_buf *out, unsigned num, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0)
		return 0;
	return vb_buf_append_byte(out, (uint8_t)(num << 3 | 2)) |
	    vb_buf_append_varint(out, n) | vb_buf_append(out, s, n);
}

static size_t
varint_field_len(uint64_t v)
{
	return v ? 1 + vb_varint_len(v) : 0;
}

static int
put_varint_field(vb_buf *out, unsigned num, uint64_t v)
{
	if (v == 0)
		return 0;
	return vb_buf_append_byte(out, (uint8_t)(num << 3 | 0)) |
	    vb_buf_append_varint(out, v);
}

/* The bytes protobuf-c packs for an IngestReply, written directly: the
 * reply of a batch is one small result per event, and building the structs
 * to pack them (two callocs, a sizing walk, a packing walk) cost more than
 * writing them.  The same rules: fields in order, proto3 defaults left
 * out, every result written (an empty one as tag and length 0), code as
 * int32 (a negative one sign-extended to ten bytes).  A unit test holds
 * this to protobuf-c's bytes. */
int
vb_ingest_reply_encode(const vb_ingest_result *results, size_t n, int code,
    const char *error, vb_buf *out)
{
	size_t len0 = out->len;
	int rv = 0;
	for (size_t i = 0; i < n; i++) {
		const vb_ingest_result *r = &results[i];
		size_t sub = varint_field_len(r->seq) + (r->duplicate ? 2 : 0) +
		    str_field_len(r->error);
		rv |= vb_buf_append_byte(out, (1 << 3) | 2);
		rv |= vb_buf_append_varint(out, sub);
		rv |= put_varint_field(out, 1, r->seq);
		if (r->duplicate)
			rv |= vb_buf_append(out, "\x10\x01", 2);
		rv |= put_str_field(out, 3, r->error);
	}
	rv |= put_str_field(out, 2, error);
	rv |= put_varint_field(out, 3, (uint64_t)(int64_t)code);
	if (rv != 0) {
		out->len = len0; /* nothing appended, as when packing failed */
		return VB_ENOMEM;
	}
	return VB_OK;
}

int
vb_ingest_reply_decode(const uint8_t *p, size_t len, vb_ingest_reply *out)
{
	Voicebus__V1__IngestReply *pb = voicebus__v1__ingest_reply__unpack(NULL, len, p);
	memset(out, 0, sizeof(*out));
	if (pb == NULL)
		return VB_EPROTO;
	out->results = calloc(pb->n_results ? pb->n_results : 1, sizeof(*out->results));
	if (out->results == NULL) {
		voicebus__v1__ingest_reply__free_unpacked(pb, NULL);
		return VB_ENOMEM;
	}
	for (size_t i = 0; i < pb->n_results; i++) {
		out->results[i].seq = pb->results[i]->seq;
		out->results[i].duplicate = pb->results[i]->duplicate;
		out->results[i].error = pb->results[i]->error;
	}
	out->n = pb->n_results;
	out->code = pb->code;
	out->error = pb->error;
	out->priv = pb;
	return VB_OK;
}

void
vb_ingest_reply_free(vb_ingest_reply *r)
{
	if (r->priv)
		voicebus__v1__ingest_reply__free_unpacked(r->priv, NULL);
	free(r->results);
	memset(r, 0, sizeof(*r));
}

/* ---- query ---- */

int
vb_query_req_encode(const vb_query_req *q, vb_buf *out)
{
	Voicebus__V1__QueryRequest req = VOICEBUS__V1__QUERY_REQUEST__INIT;
	Voicebus__V1__ReplayRequest rr = VOICEBUS__V1__REPLAY_REQUEST__INIT;
	Voicebus__V1__StatsRequest sr = VOICEBUS__V1__STATS_REQUEST__INIT;
	Voicebus__V1__GateRequest gr = VOICEBUS__V1__GATE_REQUEST__INIT;
	Voicebus__V1__CustomerRequest cr = VOICEBUS__V1__CUSTOMER_REQUEST__INIT;
	Voicebus__V1__SuppressionsRequest sq = VOICEBUS__V1__SUPPRESSIONS_REQUEST__INIT;
	Voicebus__V1__RebuildRequest rb = VOICEBUS__V1__REBUILD_REQUEST__INIT;
	Voicebus__V1__BackupRequest bk = VOICEBUS__V1__BACKUP_REQUEST__INIT;
	Voicebus__V1__ConfigRequest cf = VOICEBUS__V1__CONFIG_REQUEST__INIT;

	switch (q->kind) {
	case VB_QUERY_REPLAY:
		rr.from_seq = q->replay.from_seq;
		rr.to_seq = q->replay.to_seq;
		rr.since = str_or_empty(q->replay.since);
		rr.until = str_or_empty(q->replay.until);
		rr.customer = str_or_empty(q->replay.customer);
		rr.type_prefix = str_or_empty(q->replay.type_prefix);
		rr.limit = q->replay.limit;
		req.request_case = VOICEBUS__V1__QUERY_REQUEST__REQUEST_REPLAY;
		req.replay = &rr;
		break;
	case VB_QUERY_STATS:
		req.request_case = VOICEBUS__V1__QUERY_REQUEST__REQUEST_STATS;
		req.stats = &sr;
		break;
	case VB_QUERY_GATE:
		gr.customers = (char **)q->gate.customers;
		gr.n_customers = q->gate.n;
		gr.purpose = str_or_empty(q->gate.purpose);
		gr.channel = str_or_empty(q->gate.channel);
		gr.at = str_or_empty(q->gate.at);
		gr.record = str_or_empty(q->gate.record);
		req.request_case = VOICEBUS__V1__QUERY_REQUEST__REQUEST_GATE;
		req.gate = &gr;
		break;
	case VB_QUERY_CUSTOMER:
		cr.customer = str_or_empty(q->customer.customer);
		cr.at = str_or_empty(q->customer.at);
		req.request_case = VOICEBUS__V1__QUERY_REQUEST__REQUEST_CUSTOMER;
		req.customer = &cr;
		break;
	case VB_QUERY_SUPPRESSIONS:
		sq.after = str_or_empty(q->supp.after);
		sq.limit = q->supp.limit;
		sq.purpose = str_or_empty(q->supp.purpose);
		sq.channel = str_or_empty(q->supp.channel);
		req.request_case = VOICEBUS__V1__QUERY_REQUEST__REQUEST_SUPPRESSIONS;
		req.suppressions = &sq;
		break;
	case VB_QUERY_REBUILD:
		req.request_case = VOICEBUS__V1__QUERY_REQUEST__REQUEST_REBUILD;
		req.rebuild = &rb;
		break;
	case VB_QUERY_BACKUP:
		bk.path = str_or_empty(q->backup_path);
		req.request_case = VOICEBUS__V1__QUERY_REQUEST__REQUEST_BACKUP;
		req.backup = &bk;
		break;
	case VB_QUERY_CONFIG:
		req.request_case = VOICEBUS__V1__QUERY_REQUEST__REQUEST_CONFIG;
		req.config = &cf;
		break;
	default:
		return VB_EINVAL;
	}
	req.token = str_or_empty(q->token);
	return pack(&req.base, out);
}

static void fill_query_req(Voicebus__V1__QueryRequest *pb, vb_query_req *out);

int
vb_query_req_decode(const uint8_t *p, size_t len, vb_query_req *out)
{
	ProtobufCAllocator al;
	budget bu;
	budget_init(&bu, len, &al);
	Voicebus__V1__QueryRequest *pb =
	    voicebus__v1__query_request__unpack(&al, len, p);
	memset(out, 0, sizeof(*out));
	if (pb == NULL)
		return bu.over ? VB_ETOOBIG : VB_EPROTO;
	fill_query_req(pb, out);
	return VB_OK;
}

int
vb_query_req_decode_in(const uint8_t *p, size_t len, vb_arena *a, vb_query_req *out)
{
	ProtobufCAllocator al = { arena_pb_alloc, arena_pb_free, a };
	Voicebus__V1__QueryRequest *pb;

	arena_budget(a, len);
	pb = voicebus__v1__query_request__unpack(&al, len, p);
	a->limit = 0;
	memset(out, 0, sizeof(*out));
	if (pb == NULL)
		return a->over ? VB_ETOOBIG : VB_EPROTO;
	fill_query_req(pb, out);
	out->in_arena = 1;
	return VB_OK;
}

static void
fill_query_req(Voicebus__V1__QueryRequest *pb, vb_query_req *out)
{
	out->priv = pb;
	out->token = pb->token ? pb->token : "";
	switch (pb->request_case) {
	case VOICEBUS__V1__QUERY_REQUEST__REQUEST_REPLAY:
		out->kind = VB_QUERY_REPLAY;
		out->replay.from_seq = pb->replay->from_seq;
		out->replay.to_seq = pb->replay->to_seq;
		out->replay.since = pb->replay->since;
		out->replay.until = pb->replay->until;
		out->replay.customer = pb->replay->customer;
		out->replay.type_prefix = pb->replay->type_prefix;
		out->replay.limit = pb->replay->limit;
		break;
	case VOICEBUS__V1__QUERY_REQUEST__REQUEST_STATS:
		out->kind = VB_QUERY_STATS;
		break;
	case VOICEBUS__V1__QUERY_REQUEST__REQUEST_GATE:
		out->kind = VB_QUERY_GATE;
		out->gate.customers = (const char *const *)pb->gate->customers;
		out->gate.n = pb->gate->n_customers;
		out->gate.purpose = pb->gate->purpose;
		out->gate.channel = pb->gate->channel;
		out->gate.at = pb->gate->at;
		out->gate.record = pb->gate->record;
		break;
	case VOICEBUS__V1__QUERY_REQUEST__REQUEST_CUSTOMER:
		out->kind = VB_QUERY_CUSTOMER;
		out->customer.customer = pb->customer->customer;
		out->customer.at = pb->customer->at;
		break;
	case VOICEBUS__V1__QUERY_REQUEST__REQUEST_SUPPRESSIONS:
		out->kind = VB_QUERY_SUPPRESSIONS;
		out->supp.after = pb->suppressions->after;
		out->supp.limit = pb->suppressions->limit;
		out->supp.purpose = pb->suppressions->purpose;
		out->supp.channel = pb->suppressions->channel;
		break;
	case VOICEBUS__V1__QUERY_REQUEST__REQUEST_REBUILD:
		out->kind = VB_QUERY_REBUILD;
		break;
	case VOICEBUS__V1__QUERY_REQUEST__REQUEST_BACKUP:
		out->kind = VB_QUERY_BACKUP;
		out->backup_path = pb->backup->path;
		break;
	case VOICEBUS__V1__QUERY_REQUEST__REQUEST_CONFIG:
		out->kind = VB_QUERY_CONFIG;
		break;
	default:
		out->kind = VB_QUERY_NONE;
		break;
	}
}

/* The first string of m, or of a message in it, that is not UTF-8: its
 * name, after prefix, into name; 0 when there is none. */
static int
find_bad_utf8(const ProtobufCMessage *m, const char *prefix, char *name,
    size_t namelen)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	char sub[128];

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *const *vals =
		    (const void *const *)(base + f->offset);
		const void *q = base + f->quantifier_offset;
		size_t n = 1;

		if (f->type != PROTOBUF_C_TYPE_STRING &&
		    f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		/* The members of a oneof share their memory. */
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)q != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)q;
			vals = *(const void *const *const *)vals;
		}
		snprintf(sub, sizeof(sub), "%s%s", prefix, f->name);
		for (size_t k = 0; k < n; k++) {
			const char *s = vals[k];
			if (s == NULL)
				continue;
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				if (vb_utf8_valid(s, strlen(s)))
					continue;
				snprintf(name, namelen, "%s", sub);
				return 1;
			}
			char next[sizeof(sub) + 1];
			snprintf(next, sizeof(next), "%s.", sub);
			if (find_bad_utf8(vals[k], next, name, namelen))
				return 1;
		}
	}
	return 0;
}

int
vb_query_req_check_utf8(const vb_query_req *q, char *err, size_t errlen)
{
	char name[128];
	if (q->priv == NULL || !find_bad_utf8(q->priv, "", name, sizeof(name)))
		return VB_OK;
	snprintf(err, errlen, "%s: not valid UTF-8", name);
	return VB_EINVAL;
}

void
vb_query_req_free(vb_query_req *q)
{
	if (q->priv && !q->in_arena)
		voicebus__v1__query_request__free_unpacked(q->priv, NULL);
	memset(q, 0, sizeof(*q));
}

static Voicebus__V1__Count **
counts_encode(const vb_count *c, size_t n, Voicebus__V1__Count *store)
{
	Voicebus__V1__Count **pp = calloc(n ? n : 1, sizeof(*pp));
	if (pp == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		voicebus__v1__count__init(&store[i]);
		store[i].name = str_or_empty(c[i].name);
		store[i].count = c[i].count;
		pp[i] = &store[i];
	}
	return pp;
}

static Voicebus__V1__Decision **
decisions_encode(const vb_decision_msg *d, size_t n, Voicebus__V1__Decision *store)
{
	Voicebus__V1__Decision **pp = calloc(n ? n : 1, sizeof(*pp));
	if (pp == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		voicebus__v1__decision__init(&store[i]);
		store[i].customer = str_or_empty(d[i].customer);
		store[i].purpose = str_or_empty(d[i].purpose);
		store[i].channel = str_or_empty(d[i].channel);
		store[i].allow = d[i].allow != 0;
		store[i].reasons = str_or_empty(d[i].reasons);
		store[i].recorded_seq = d[i].recorded_seq;
		store[i].recorded_duplicate = d[i].recorded_duplicate != 0;
		pp[i] = &store[i];
	}
	return pp;
}

/* ---- gate replies without protobuf-c ----
 * A filter's reply carries 10,000 decisions, and protobuf-c sizing and
 * then packing them was a quarter of what the broker spent on each.
 * Field numbers and wire types of wire.proto: QueryReply.gate = 5;
 * GateReply.decisions = 1, at = 2; Decision.customer = 1, purpose = 2,
 * channel = 3, reasons = 5 (strings), allow = 4, recorded_duplicate = 7
 * (bools), recorded_seq = 6 (varint).  In number order, proto3 defaults
 * left out, as protobuf-c writes them. */

static size_t
decision_len(const vb_decision_msg *d)
{
	return str_field_len(d->customer) + str_field_len(d->purpose) +
	    str_field_len(d->channel) + (d->allow ? 2 : 0) +
	    str_field_len(d->reasons) + varint_field_len(d->recorded_seq) +
	    (d->recorded_duplicate ? 2 : 0);
}

static int
gate_reply_write(const vb_query_reply *r, vb_buf *out)
{
	size_t len0 = out->len, gate = str_field_len(r->at);
	int rv = 0;
	for (size_t i = 0; i < r->ndecisions; i++) {
		size_t d = decision_len(&r->decisions[i]);
		gate += 1 + vb_varint_len(d) + d;
	}
	rv |= vb_buf_reserve(out, 1 + vb_varint_len(gate) + gate + 1);
	rv |= vb_buf_append_byte(out, 5 << 3 | 2);
	rv |= vb_buf_append_varint(out, gate);
	for (size_t i = 0; i < r->ndecisions && rv == 0; i++) {
		const vb_decision_msg *d = &r->decisions[i];
		rv |= vb_buf_append_byte(out, 1 << 3 | 2);
		rv |= vb_buf_append_varint(out, decision_len(d));
		rv |= put_str_field(out, 1, d->customer);
		rv |= put_str_field(out, 2, d->purpose);
		rv |= put_str_field(out, 3, d->channel);
		if (d->allow)
			rv |= vb_buf_append(out, "\x20\x01", 2);
		rv |= put_str_field(out, 5, d->reasons);
		rv |= put_varint_field(out, 6, d->recorded_seq);
		if (d->recorded_duplicate)
			rv |= vb_buf_append(out, "\x38\x01", 2);
	}
	rv |= put_str_field(out, 2, r->at);
	if (rv != 0) {
		out->len = len0; /* nothing appended, as when packing failed */
		return VB_ENOMEM;
	}
	return VB_OK;
}

int
vb_query_reply_encode(const vb_query_reply *r, vb_buf *out)
{
	if (r->code == 0 && r->kind == VB_QUERY_GATE && str_or_empty(r->error)[0] == '\0')
		return gate_reply_write(r, out);
	return vb_query_reply_encode_pb(r, out);
}

int
vb_query_reply_encode_pb(const vb_query_reply *r, vb_buf *out)
{
	Voicebus__V1__GateReply gr = VOICEBUS__V1__GATE_REPLY__INIT;
	Voicebus__V1__CustomerReply cr = VOICEBUS__V1__CUSTOMER_REPLY__INIT;
	Voicebus__V1__SuppressionsReply sr2 = VOICEBUS__V1__SUPPRESSIONS_REPLY__INIT;
	Voicebus__V1__RebuildReply rb = VOICEBUS__V1__REBUILD_REPLY__INIT;
	Voicebus__V1__BackupReply bk = VOICEBUS__V1__BACKUP_REPLY__INIT;
	Voicebus__V1__ConfigReply cf = VOICEBUS__V1__CONFIG_REPLY__INIT;
	Voicebus__V1__Decision *ds = NULL, **dp = NULL;
	Voicebus__V1__QueryReply rep = VOICEBUS__V1__QUERY_REPLY__INIT;
	Voicebus__V1__ReplayReply rr = VOICEBUS__V1__REPLAY_REPLY__INIT;
	Voicebus__V1__StatsReply sr = VOICEBUS__V1__STATS_REPLY__INIT;
	ProtobufCBinaryData *bins = NULL;
	Voicebus__V1__Count *cs = NULL;
	int rv = VB_ENOMEM;

	rep.code = r->code;
	rep.error = str_or_empty(r->error);
	/* proto3 strings are UTF-8, and an error may quote a request cut
	 * inside a character. */
	char err[512];
	if (!vb_utf8_valid(rep.error, strlen(rep.error))) {
		snprintf(err, sizeof(err), "%s", rep.error);
		vb_utf8_scrub(err);
		rep.error = err;
	}
	if (r->code == 0 && r->kind == VB_QUERY_REPLAY) {
		bins = calloc(r->replay.n ? r->replay.n : 1, sizeof(*bins));
		if (bins == NULL)
			goto done;
		for (size_t i = 0; i < r->replay.n; i++) {
			bins[i].data = (uint8_t *)r->replay.events[i].p;
			bins[i].len = r->replay.events[i].len;
		}
		rr.n_events = r->replay.n;
		rr.events = bins;
		rr.next_seq = r->replay.next_seq;
		rr.done = r->replay.done != 0;
		rr.last_seq = r->replay.last_seq;
		rep.reply_case = VOICEBUS__V1__QUERY_REPLY__REPLY_REPLAY;
		rep.replay = &rr;
	} else if (r->code == 0 && r->kind == VB_QUERY_STATS) {
		const vb_stats *s = &r->stats;
		cs = calloc(s->ntypes + s->nsources + 1, sizeof(*cs));
		if (cs == NULL)
			goto done;
		sr.events = s->events;
		sr.last_seq = s->last_seq;
		sr.customers = s->customers;
		sr.disk_bytes = s->disk_bytes;
		sr.map_bytes = s->map_bytes;
		sr.used_bytes = s->used_bytes;
		sr.max_batch = s->max_batch;
		sr.max_message = s->max_message;
		sr.client = str_or_empty(s->client);
		sr.role = str_or_empty(s->role);
		sr.pub_redacted = s->pub_redacted != 0;
		sr.replay_redacted = s->replay_redacted != 0;
		sr.types = counts_encode(s->types, s->ntypes, cs);
		sr.sources = counts_encode(s->sources, s->nsources, cs + s->ntypes);
		if (sr.types == NULL || sr.sources == NULL)
			goto done;
		sr.n_types = s->ntypes;
		sr.n_sources = s->nsources;
		rep.reply_case = VOICEBUS__V1__QUERY_REPLY__REPLY_STATS;
		rep.stats = &sr;
	} else if (r->code == 0 && (r->kind == VB_QUERY_GATE || r->kind == VB_QUERY_CUSTOMER ||
	    r->kind == VB_QUERY_SUPPRESSIONS)) {
		ds = calloc(r->ndecisions ? r->ndecisions : 1, sizeof(*ds));
		if (ds == NULL || (dp = decisions_encode(r->decisions, r->ndecisions, ds)) == NULL)
			goto done;
		if (r->kind == VB_QUERY_GATE) {
			gr.decisions = dp;
			gr.n_decisions = r->ndecisions;
			gr.at = str_or_empty(r->at);
			rep.reply_case = VOICEBUS__V1__QUERY_REPLY__REPLY_GATE;
			rep.gate = &gr;
		} else if (r->kind == VB_QUERY_CUSTOMER) {
			cr.decisions = dp;
			cr.n_decisions = r->ndecisions;
			cr.at = str_or_empty(r->at);
			cr.state = str_or_empty(r->state);
			rep.reply_case = VOICEBUS__V1__QUERY_REPLY__REPLY_CUSTOMER;
			rep.customer = &cr;
		} else {
			sr2.blocked = dp;
			sr2.n_blocked = r->ndecisions;
			sr2.at = str_or_empty(r->at);
			sr2.next = str_or_empty(r->next);
			sr2.done = r->done != 0;
			rep.reply_case = VOICEBUS__V1__QUERY_REPLY__REPLY_SUPPRESSIONS;
			rep.suppressions = &sr2;
		}
	} else if (r->code == 0 && r->kind == VB_QUERY_REBUILD) {
		rb.customers = r->rebuilt[0];
		rb.events = r->rebuilt[1];
		rb.changed = r->rebuilt[2];
		rep.reply_case = VOICEBUS__V1__QUERY_REPLY__REPLY_REBUILD;
		rep.rebuild = &rb;
	} else if (r->code == 0 && r->kind == VB_QUERY_BACKUP) {
		bk.bytes = r->backup_bytes;
		bk.last_seq = r->backup_seq;
		rep.reply_case = VOICEBUS__V1__QUERY_REPLY__REPLY_BACKUP;
		rep.backup = &bk;
	} else if (r->code == 0 && r->kind == VB_QUERY_CONFIG) {
		cf.text = str_or_empty(r->config);
		rep.reply_case = VOICEBUS__V1__QUERY_REPLY__REPLY_CONFIG;
		rep.config = &cf;
	}
	rv = pack(&rep.base, out);
done:
	free(ds);
	free(dp);
	free(bins);
	free(sr.types);
	free(sr.sources);
	free(cs);
	return rv;
}

typedef struct {
	Voicebus__V1__QueryReply *pb;
	vb_slice *events;
	vb_count *counts;
	vb_decision_msg *decisions;
	void (*release)(void *arg); /* the kept input, if events point into it */
	void *release_arg;
	/* What protobuf-c allocates for pb: a filter's reply of 10,000
	 * decisions is some 50,000 strings and structs, taken and dropped
	 * together. */
	vb_arena arena;
} reply_priv;

/* ---- replay replies without protobuf-c ----
 * Field numbers and wire types of wire.proto: QueryReply.replay = 3
 * (length-delimited); ReplayReply.events = 1 (bytes), next_seq = 2,
 * done = 3, last_seq = 4 (varints).  protobuf-c writes fields in number
 * order and leaves out proto3 defaults, so the code and error of a
 * successful reply are absent and the scalars follow the events. */
#define TAG_QR_REPLAY 0x1a
#define TAG_RR_EVENT 0x0a
#define TAG_RR_NEXT 0x10
#define TAG_RR_DONE 0x18
#define TAG_RR_LAST 0x20

static size_t
put_varint(uint64_t v, uint8_t *out)
{
	size_t n = 0;
	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

size_t
vb_replay_head(size_t body_len, uint8_t *out)
{
	out[0] = TAG_QR_REPLAY;
	return 1 + put_varint(body_len, out + 1);
}

size_t
vb_replay_event_head(size_t len, uint8_t *out)
{
	out[0] = TAG_RR_EVENT;
	return 1 + put_varint(len, out + 1);
}

size_t
vb_replay_tail(uint64_t next_seq, int done, uint64_t last_seq, uint8_t *out)
{
	size_t n = 0;
	if (next_seq) {
		out[n++] = TAG_RR_NEXT;
		n += put_varint(next_seq, out + n);
	}
	if (done) {
		out[n++] = TAG_RR_DONE;
		out[n++] = 1;
	}
	if (last_seq) {
		out[n++] = TAG_RR_LAST;
		n += put_varint(last_seq, out + n);
	}
	return n;
}

/* A reply that is one replay page and nothing else, read in place: 1 done
 * (events point into p), 0 not of that form (let protobuf-c decide: it
 * gives the same answer for everything accepted here, and the only one
 * for the rest), or VB_ENOMEM.  The client reads thousands of events a
 * page; protobuf-c would allocate and copy each. */
static int
replay_in_place(const uint8_t *p, size_t len, reply_priv *pv, vb_query_reply *out)
{
	const uint8_t *b;
	uint64_t v, next = 0, last = 0;
	size_t i, n, blen, count = 0;
	int done = 0;

	/* The top level: the tag of replay, its length, and the end. */
	if (len < 2 || p[0] != TAG_QR_REPLAY ||
	    (n = vb_varint_decode(p + 1, len - 1, &v)) == 0 || v != len - 1 - n)
		return 0;
	b = p + 1 + n;
	blen = (size_t)v;
	for (i = 0; i < blen;) {
		uint8_t tag = b[i++];
		if ((n = vb_varint_decode(b + i, blen - i, &v)) == 0)
			return 0;
		i += n;
		switch (tag) {
		case TAG_RR_EVENT:
			if (v > blen - i)
				return 0;
			i += (size_t)v;
			count++;
			break;
		case TAG_RR_NEXT: next = v; break;
		case TAG_RR_DONE: done = v != 0; break;
		case TAG_RR_LAST: last = v; break;
		default: return 0; /* another field, or a tag of two bytes */
		}
	}
	if ((pv->events = calloc(count ? count : 1, sizeof(vb_slice))) == NULL)
		return VB_ENOMEM;
	for (i = 0, count = 0; i < blen;) {
		uint8_t tag = b[i++];
		i += vb_varint_decode(b + i, blen - i, &v);
		if (tag == TAG_RR_EVENT) {
			pv->events[count].p = b + i;
			pv->events[count++].len = (size_t)v;
			i += (size_t)v;
		}
	}
	out->code = 0;
	out->error = protobuf_c_empty_string;
	out->kind = VB_QUERY_REPLAY;
	out->replay.events = pv->events;
	out->replay.n = count;
	out->replay.next_seq = next;
	out->replay.done = done;
	out->replay.last_seq = last;
	return 1;
}

static int
decisions_decode(reply_priv *pv, Voicebus__V1__Decision **d, size_t n,
    vb_query_reply *out)
{
	pv->decisions = calloc(n ? n : 1, sizeof(*pv->decisions));
	if (pv->decisions == NULL)
		return VB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		vb_decision_msg *m = &pv->decisions[i];
		m->customer = d[i]->customer;
		m->purpose = d[i]->purpose;
		m->channel = d[i]->channel;
		m->allow = d[i]->allow;
		m->reasons = d[i]->reasons;
		m->recorded_seq = d[i]->recorded_seq;
		m->recorded_duplicate = d[i]->recorded_duplicate;
	}
	out->decisions = pv->decisions;
	out->ndecisions = n;
	return VB_OK;
}

int
vb_query_reply_decode_keep(const uint8_t *p, size_t len,
    void (*release)(void *arg), void *arg, vb_query_reply *out)
{
	reply_priv *pv = calloc(1, sizeof(*pv));
	int rv;

	memset(out, 0, sizeof(*out));
	if (pv == NULL)
		return VB_ENOMEM;
	out->priv = pv;
	if ((rv = replay_in_place(p, len, pv, out)) == 1) {
		pv->release = release;
		pv->release_arg = arg;
		return VB_OK;
	}
	free(pv->events);
	free(pv);
	memset(out, 0, sizeof(*out));
	if (rv == 0 && (rv = vb_query_reply_decode(p, len, out)) == 0)
		release(arg); /* protobuf-c copied what it needed */
	return rv;
}

int
vb_query_reply_decode(const uint8_t *p, size_t len, vb_query_reply *out)
{
	reply_priv *pv = calloc(1, sizeof(*pv));
	Voicebus__V1__QueryReply *pb;

	memset(out, 0, sizeof(*out));
	if (pv == NULL)
		return VB_ENOMEM;
	out->priv = pv;
	ProtobufCAllocator al = { arena_pb_alloc, arena_pb_free, &pv->arena };
	pb = pv->pb = voicebus__v1__query_reply__unpack(&al, len, p);
	if (pb == NULL) {
		vb_query_reply_free(out);
		return VB_EPROTO;
	}
	out->code = pb->code;
	out->error = pb->error;
	if (pb->reply_case == VOICEBUS__V1__QUERY_REPLY__REPLY_REPLAY) {
		Voicebus__V1__ReplayReply *rr = pb->replay;
		out->kind = VB_QUERY_REPLAY;
		pv->events = calloc(rr->n_events ? rr->n_events : 1, sizeof(vb_slice));
		if (pv->events == NULL)
			goto nomem;
		for (size_t i = 0; i < rr->n_events; i++) {
			pv->events[i].p = rr->events[i].data;
			pv->events[i].len = rr->events[i].len;
		}
		out->replay.events = pv->events;
		out->replay.n = rr->n_events;
		out->replay.next_seq = rr->next_seq;
		out->replay.done = rr->done;
		out->replay.last_seq = rr->last_seq;
	} else if (pb->reply_case == VOICEBUS__V1__QUERY_REPLY__REPLY_STATS) {
		Voicebus__V1__StatsReply *sr = pb->stats;
		vb_stats *s = &out->stats;
		out->kind = VB_QUERY_STATS;
		pv->counts = calloc(sr->n_types + sr->n_sources + 1, sizeof(vb_count));
		if (pv->counts == NULL)
			goto nomem;
		s->events = sr->events;
		s->last_seq = sr->last_seq;
		s->customers = sr->customers;
		s->disk_bytes = sr->disk_bytes;
		s->map_bytes = sr->map_bytes;
		s->used_bytes = sr->used_bytes;
		s->max_batch = sr->max_batch;
		s->max_message = sr->max_message;
		s->client = sr->client;
		s->role = sr->role;
		s->pub_redacted = sr->pub_redacted;
		s->replay_redacted = sr->replay_redacted;
		s->types = pv->counts;
		s->ntypes = sr->n_types;
		s->sources = pv->counts + sr->n_types;
		s->nsources = sr->n_sources;
		for (size_t i = 0; i < sr->n_types; i++) {
			s->types[i].name = sr->types[i]->name;
			s->types[i].count = sr->types[i]->count;
		}
		for (size_t i = 0; i < sr->n_sources; i++) {
			s->sources[i].name = sr->sources[i]->name;
			s->sources[i].count = sr->sources[i]->count;
		}
	} else if (pb->reply_case == VOICEBUS__V1__QUERY_REPLY__REPLY_GATE) {
		out->kind = VB_QUERY_GATE;
		out->at = pb->gate->at;
		if (decisions_decode(pv, pb->gate->decisions, pb->gate->n_decisions, out) != 0)
			goto nomem;
	} else if (pb->reply_case == VOICEBUS__V1__QUERY_REPLY__REPLY_CUSTOMER) {
		out->kind = VB_QUERY_CUSTOMER;
		out->at = pb->customer->at;
		out->state = pb->customer->state;
		if (decisions_decode(pv, pb->customer->decisions, pb->customer->n_decisions, out) != 0)
			goto nomem;
	} else if (pb->reply_case == VOICEBUS__V1__QUERY_REPLY__REPLY_SUPPRESSIONS) {
		out->kind = VB_QUERY_SUPPRESSIONS;
		out->at = pb->suppressions->at;
		out->next = pb->suppressions->next;
		out->done = pb->suppressions->done;
		if (decisions_decode(pv, pb->suppressions->blocked, pb->suppressions->n_blocked,
		    out) != 0)
			goto nomem;
	} else if (pb->reply_case == VOICEBUS__V1__QUERY_REPLY__REPLY_REBUILD) {
		out->kind = VB_QUERY_REBUILD;
		out->rebuilt[0] = pb->rebuild->customers;
		out->rebuilt[1] = pb->rebuild->events;
		out->rebuilt[2] = pb->rebuild->changed;
	} else if (pb->reply_case == VOICEBUS__V1__QUERY_REPLY__REPLY_BACKUP) {
		out->kind = VB_QUERY_BACKUP;
		out->backup_bytes = pb->backup->bytes;
		out->backup_seq = pb->backup->last_seq;
	} else if (pb->reply_case == VOICEBUS__V1__QUERY_REPLY__REPLY_CONFIG) {
		out->kind = VB_QUERY_CONFIG;
		out->config = pb->config->text;
	}
	return VB_OK;
nomem:
	vb_query_reply_free(out);
	return VB_ENOMEM;
}

void
vb_query_reply_free(vb_query_reply *r)
{
	reply_priv *pv = r->priv;
	if (pv != NULL) {
		vb_arena_free(&pv->arena); /* pb */
		free(pv->events);
		free(pv->counts);
		free(pv->decisions);
		if (pv->release)
			pv->release(pv->release_arg);
		free(pv);
	}
	memset(r, 0, sizeof(*r));
}
