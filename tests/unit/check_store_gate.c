/* Unit tests of the gate's part of broker/vb_store (vb_store_gate.c):
 * customer state folded in the append transaction, decisions now and as
 * they were (--at), reservations, the suppression.changed events the store
 * writes, its suppression list, clock ticks and the rebuild from the log.
 * Every test opens its own store in a directory of its own under a root
 * that the tcase's unchecked fixture removes. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_buf.h"
#include "vb_error.h"
#include "vb_event.h"
#include "vb_gate.h"
#include "vb_state.h"
#include "vb_store.h"
#include "vb_time.h"
#include "vb_validate.h"
#include "vb_test.h"
#include "vb_test_lmdb.h"

#define MiB (1024ULL * 1024)
#define SEC (1000000LL)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define NPC (VB_NPURPOSES * VB_NCHANNELS)

static int64_t
T(const char *rfc3339)
{
	int64_t us;
	ck_assert_msg(vb_time_parse(rfc3339, &us) == 0, "bad time %s", rfc3339);
	return us;
}

/* us as RFC 3339 in a rotating set of static buffers (for arguments). */
static const char *
S(int64_t us)
{
	static char buf[8][VB_TIME_BUFSZ];
	static int k;
	k = (k + 1) % 8;
	return vb_time_format(us, buf[k]);
}

/* ---- the store ---- */

static vb_store *
open_store(char *dir, size_t len, const vb_rules *rules)
{
	vb_store_opts o = { .map_size = 16 * MiB, .map_size_max = 1024 * MiB, .rules = rules };
	vb_store *st = NULL;
	vbt_mkdtemp(dir, len);
	int rv = vb_store_open(dir, &o, &st);
	ck_assert_msg(rv == 0, "vb_store_open(%s) = %d (%s)", dir, rv, vb_strerror(rv));
	return st;
}

/* ---- appends ---- */

/* Items for one vb_store_append, and what keeps them alive. */
typedef struct {
	vb_event **evs;
	vb_buf *pbs;
	vb_store_item *items;
	size_t n, cap;
} batch;

static vb_store_item *
batch_new(batch *b)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->evs = realloc(b->evs, b->cap * sizeof(*b->evs));
		b->pbs = realloc(b->pbs, b->cap * sizeof(*b->pbs));
		b->items = realloc(b->items, b->cap * sizeof(*b->items));
		ck_assert(b->evs && b->pbs && b->items);
	}
	b->evs[b->n] = NULL;
	memset(&b->pbs[b->n], 0, sizeof(b->pbs[b->n]));
	memset(&b->items[b->n], 0, sizeof(b->items[b->n]));
	return &b->items[b->n++];
}

/* An event item, as the ingest worker makes it: validated, its time
 * parsed, its fact for the gate. */
static void
batch_json(batch *b, const char *json)
{
	char err[VB_ERRMSG_MAX];
	int64_t us;
	vb_store_item *it = batch_new(b);
	size_t i = b->n - 1;
	vb_event *ev = vbt_event(json);
	ck_assert_msg(vb_event_validate(ev, &us, err, sizeof(err)) == 0, "%s: %s", json, err);
	ck_assert_int_eq(vb_event_to_pb_canonical(ev, &b->pbs[i]), 0);
	it->kind = VB_ITEM_EVENT;
	it->id = vb_event_id(ev);
	it->customer = vb_event_customer(ev);
	it->type = vb_event_type(ev);
	it->source = vb_event_source(ev);
	if (vb_fact_from_event(ev, us, &it->fact) != 0)
		it->fact.kind = VB_FACT_NONE;
	b->evs[i] = ev;
}

static void
batch_ev(batch *b, const char *id, const char *type, const char *customer,
    int64_t at, const char *data)
{
	char json[2048];
	vbt_gate_json(json, sizeof(json), id, type, customer, S(at), data);
	batch_json(b, json);
}

static void
batch_record(batch *b, const char *customer, int purpose, int channel,
    const char *campaign)
{
	vb_store_item *it = batch_new(b);
	it->kind = VB_ITEM_RECORD;
	it->customer = customer;
	it->purpose = purpose;
	it->channel = channel;
	it->campaign = campaign;
}

static void
batch_free(batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		vb_event_free(b->evs[i]);
		vb_buf_free(&b->pbs[i]);
	}
	free(b->evs);
	free(b->pbs);
	free(b->items);
	memset(b, 0, sizeof(*b));
}

/* Append b at recorded (the broker's "now"); stored and aux get what the
 * store says they get. */
static void
batch_append(vb_store *st, batch *b, int64_t recorded, vb_buf *stored, vb_buf *aux)
{
	for (size_t i = 0; i < b->n; i++) {
		b->items[i].pb = b->pbs[i].data;
		b->items[i].pb_len = b->pbs[i].len;
	}
	int rv = vb_store_append(st, b->items, b->n, S(recorded), stored, aux);
	ck_assert_msg(rv == 0, "vb_store_append = %d (%s)", rv, vb_strerror(rv));
}

/* Append one event; the stored buffer is reset first. */
static void
append1(vb_store *st, const char *id, const char *type, const char *customer,
    int64_t at, const char *data, int64_t recorded, vb_buf *stored)
{
	batch b = { 0 };
	vb_buf_reset(stored);
	batch_ev(&b, id, type, customer, at, data);
	batch_append(st, &b, recorded, stored, NULL);
	batch_free(&b);
}

/* ---- what the store wrote ---- */

typedef struct {
	vb_event **ev;
	size_t n;
} evlist;

/* Decode the events of stored (varint length + bytes each). */
static void
evlist_read(evlist *l, const vb_buf *stored)
{
	size_t off = 0;
	memset(l, 0, sizeof(*l));
	while (off < stored->len) {
		uint64_t n;
		size_t used = vb_varint_decode(stored->data + off, stored->len - off, &n);
		ck_assert_msg(used > 0 && n <= stored->len - off - used, "bad length at %zu", off);
		off += used;
		l->ev = realloc(l->ev, (l->n + 1) * sizeof(*l->ev));
		ck_assert_ptr_nonnull(l->ev);
		ck_assert_int_eq(vb_event_from_pb(stored->data + off, (size_t)n, &l->ev[l->n]), 0);
		/* The store never writes complaint text of its own. */
		if (strcmp(vb_event_source(l->ev[l->n]), "voicebus") == 0)
			ck_assert_msg(memmem(stored->data + off, (size_t)n, "XYZZY", 5) == NULL,
			    "complaint text in a %s event", vb_event_type(l->ev[l->n]));
		l->n++;
		off += (size_t)n;
	}
}

static void
evlist_free(evlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		vb_event_free(l->ev[i]);
	free(l->ev);
	memset(l, 0, sizeof(*l));
}

static size_t
evlist_count(const evlist *l, const char *type)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += strcmp(vb_event_type(l->ev[i]), type) == 0;
	return n;
}

static json_t *
event_json(const vb_event *ev)
{
	vb_buf b = { 0 };
	json_error_t jerr;
	ck_assert_int_eq(vb_event_to_json(ev, &b), 0);
	json_t *j = json_loadb((const char *)b.data, b.len, 0, &jerr);
	ck_assert_msg(j != NULL, "not JSON: %s", jerr.text);
	vb_buf_free(&b);
	return j;
}

/* A suppression.changed event as the contract and the schema say it is;
 * returns its JSON (decref it). */
static json_t *
check_suppression(const vb_event *ev, const char *customer, int64_t recorded,
    uint64_t seq)
{
	ck_assert_str_eq(vb_event_type(ev), "suppression.changed");
	ck_assert_str_eq(vb_event_source(ev), "voicebus");
	ck_assert_str_eq(vb_event_customer(ev), customer);
	ck_assert_int_eq(T(vb_event_time(ev)), recorded);
	if (seq)
		ck_assert_uint_eq(vb_event_seq(ev), seq);
	ck_assert_str_ne(vb_event_id(ev), "");
	json_t *j = event_json(ev);
	json_t *data = json_object_get(j, "data");
	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(data, "cause")));
	return j;
}

static const char *
supp_cause(json_t *j)
{
	return json_string_value(json_object_get(json_object_get(j, "data"), "cause"));
}

/* The blocked list of a suppression.changed (absent when empty). */
static json_t *
supp_blocked(json_t *j)
{
	json_t *b = json_object_get(json_object_get(j, "data"), "blocked");
	return b;
}

/* Bit p * VB_NCHANNELS + c for each blocked pair of the list; checks each
 * entry's reasons all name rule (when given) with event and until. */
static uint32_t
blocked_mask(json_t *blocked, const char *rule, const char *event,
    const char *until)
{
	uint32_t m = 0;
	size_t i;
	json_t *e;
	json_array_foreach(blocked, i, e) {
		int p = vb_purpose_index(json_string_value(json_object_get(e, "purpose")));
		int c = vb_channel_index(json_string_value(json_object_get(e, "channel")));
		ck_assert(p >= 0 && c >= 0);
		m |= 1u << (p * VB_NCHANNELS + c);
		json_t *rs = json_object_get(e, "reasons");
		ck_assert_uint_gt(json_array_size(rs), 0);
		if (rule == NULL)
			continue;
		ck_assert_uint_eq(json_array_size(rs), 1);
		json_t *r = json_array_get(rs, 0);
		ck_assert_str_eq(json_string_value(json_object_get(r, "rule")), rule);
		ck_assert_str_eq(json_string_value(json_object_get(r, "event")), event);
		if (until)
			ck_assert_str_eq(json_string_value(json_object_get(r, "until")), until);
		else
			ck_assert_ptr_null(json_object_get(r, "until"));
		ck_assert_ptr_nonnull(json_string_value(json_object_get(r, "since")));
	}
	return m;
}

/* Purposes x every channel. */
static uint32_t
mask_of(unsigned purposes, unsigned channels)
{
	uint32_t m = 0;
	for (int p = 0; p < VB_NPURPOSES; p++)
		for (int c = 0; c < VB_NCHANNELS; c++)
			if ((purposes >> p & 1) && (channels >> c & 1))
				m |= 1u << (p * VB_NCHANNELS + c);
	return m;
}

#define ALL_CHANNELS 0x1fu
#define ALL_BUT_SERVICE ((1u << VB_P_UPSELL) | (1u << VB_P_CROSS_SELL) | \
	(1u << VB_P_PROMOTION) | (1u << VB_P_SURVEY))
#define SELLING ((1u << VB_P_UPSELL) | (1u << VB_P_CROSS_SELL))

/* ---- decisions ---- */

typedef struct {
	int allow;
	char reasons[4096];
} verdict;

static verdict
decide(vb_store *st, const char *customer, int purpose, int channel, int64_t at,
    int from_log)
{
	vb_gate_result res;
	vb_buf reasons = { 0 };
	verdict v;
	int rv = vb_store_decide(st, &customer, 1, purpose, channel, at, from_log, &res, &reasons);
	ck_assert_msg(rv == 0, "vb_store_decide = %d", rv);
	ck_assert_uint_lt(res.reasons_len, sizeof(v.reasons));
	/* A JSON array, followed by a NUL. */
	ck_assert_uint_eq(reasons.data[res.reasons_off + res.reasons_len], 0);
	ck_assert_int_eq(reasons.data[res.reasons_off], '[');
	memcpy(v.reasons, reasons.data + res.reasons_off, res.reasons_len);
	v.reasons[res.reasons_len] = '\0';
	v.allow = res.allow;
	ck_assert_int_eq(v.allow, strcmp(v.reasons, "[]") == 0);
	ck_assert_ptr_null(strstr(v.reasons, "XYZZY"));
	vb_buf_free(&reasons);
	return v;
}

/* ---- state and events ---- */

START_TEST(append_folds_state)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 }, got = { 0 };
	int64_t t = T("2026-11-20T09:12:00Z");

	ck_assert_int_eq(vb_store_state_get(st, "C-1", &got), VB_ENOTFOUND);
	append1(st, "zd-1", "complaint.opened", "C-1", t,
	    "{\"case\":\"T-1\",\"summary\":\"" VBT_SECRET "\"}", t + MIN, &stored);
	append1(st, "o-1", "order.placed", "C-2", t, "{\"order\":\"O-1\"}", t + MIN, &stored);
	ck_assert_int_eq(vb_store_state_get(st, "C-1", &got), 0);
	vb_state s;
	ck_assert_int_eq(vb_state_decode(got.data, got.len, &s), 0);
	ck_assert_uint_eq(s.ncases, 1);
	ck_assert_str_eq(s.cases[0].id, "T-1");
	ck_assert_str_eq(s.cases[0].open_event, "zd-1");
	ck_assert_int_eq(s.cases[0].open_us, t);
	ck_assert_ptr_null(memmem(got.data, got.len, "XYZZY", 5));
	vb_state_free(&s);
	/* An order is of no use to the gate: no state. */
	vb_buf_reset(&got);
	ck_assert_int_eq(vb_store_state_get(st, "C-2", &got), VB_ENOTFOUND);

	/* A repeated event is stored once and folded once. */
	append1(st, "m-1", "message.sent", "C-3", t,
	    "{\"channel\":\"email\",\"purpose\":\"upsell\",\"campaign\":\"x\"}", t + MIN, &stored);
	uint64_t last = vb_store_last_seq(st);
	batch b = { 0 };
	vb_buf_reset(&stored);
	batch_ev(&b, "m-1", "message.sent", "C-3", t,
	    "{\"channel\":\"email\",\"purpose\":\"upsell\",\"campaign\":\"x\"}");
	batch_append(st, &b, t + 2 * MIN, &stored, NULL);
	ck_assert_int_eq(b.items[0].duplicate, 1);
	ck_assert_uint_eq(stored.len, 0);
	ck_assert_uint_eq(vb_store_last_seq(st), last);
	batch_free(&b);
	vb_buf_reset(&got);
	ck_assert_int_eq(vb_store_state_get(st, "C-3", &got), 0);
	ck_assert_int_eq(vb_state_decode(got.data, got.len, &s), 0);
	ck_assert_uint_eq(s.nmessages, 1);
	vb_state_free(&s);

	vb_buf_free(&got);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

/* ---- suppression changes ---- */

START_TEST(open_resolve_and_cooloff_end)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 };
	evlist l;
	json_t *j;
	int64_t opened = T("2026-11-20T09:12:00Z"), resolved = T("2026-11-22T15:30:00Z");

	/* Opened: everything but service blocked, cause the complaint. */
	append1(st, "zd-4411-opened", "complaint.opened", "C-1001", opened,
	    "{\"case\":\"T-4411\",\"category\":\"" VBT_SECRET "\",\"severity\":\"high\","
	    "\"summary\":\"" VBT_SECRET " no sound\"}", opened + MIN, &stored);
	evlist_read(&l, &stored);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_str_eq(vb_event_type(l.ev[0]), "complaint.opened");
	ck_assert_uint_eq(vb_event_seq(l.ev[0]), 1);
	j = check_suppression(l.ev[1], "C-1001", opened + MIN, 2);
	ck_assert_str_eq(supp_cause(j), "zd-4411-opened");
	ck_assert_uint_eq(blocked_mask(supp_blocked(j), "open-complaint", "zd-4411-opened", NULL),
	    mask_of(ALL_BUT_SERVICE, ALL_CHANNELS));
	json_decref(j);
	evlist_free(&l);
	ck_assert_uint_eq(vb_store_last_seq(st), 2);

	/* Events that change no decision: nothing more. */
	append1(st, "shop-1", "order.placed", "C-1001", opened + HOUR, "{\"order\":\"O-1\"}",
	    opened + HOUR, &stored);
	evlist_read(&l, &stored);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_uint_eq(evlist_count(&l, "suppression.changed"), 0);
	evlist_free(&l);
	append1(st, "zd-4411-updated", "complaint.updated", "C-1001", opened + 2 * HOUR,
	    "{\"case\":\"T-4411\",\"summary\":\"" VBT_SECRET " parts ordered\"}", opened + 2 * HOUR,
	    &stored);
	evlist_read(&l, &stored);
	ck_assert_uint_eq(l.n, 1);
	evlist_free(&l);

	/* Facts that change no decision publish nothing either. */
	append1(st, "fs-1", "visit.completed", "C-1001", opened + 3 * HOUR, "{\"visit\":\"V-1\"}",
	    opened + 3 * HOUR, &stored);
	evlist_read(&l, &stored);
	ck_assert_uint_eq(l.n, 1);
	evlist_free(&l);
	append1(st, "g-1", "consent.granted", "C-2002", opened, "{\"channel\":\"email\"}",
	    opened + 3 * HOUR, &stored);
	evlist_read(&l, &stored);
	ck_assert_uint_eq(l.n, 1);
	evlist_free(&l);
	append1(st, "s-1", "message.sent", "C-2002", opened,
	    "{\"channel\":\"email\",\"purpose\":\"service\",\"campaign\":\"repair\"}",
	    opened + 3 * HOUR, &stored);
	evlist_read(&l, &stored);
	ck_assert_uint_eq(l.n, 1);
	evlist_free(&l);

	/* Resolved: only the cool-off, for upsell and cross-sell. */
	append1(st, "zd-4411-resolved", "complaint.resolved", "C-1001", resolved,
	    "{\"case\":\"T-4411\",\"summary\":\"" VBT_SECRET "\"}", resolved + MIN, &stored);
	evlist_read(&l, &stored);
	ck_assert_uint_eq(l.n, 2);
	j = check_suppression(l.ev[1], "C-1001", resolved + MIN, vb_event_seq(l.ev[0]) + 1);
	ck_assert_str_eq(supp_cause(j), "zd-4411-resolved");
	ck_assert_uint_eq(blocked_mask(supp_blocked(j), "complaint-cooloff", "zd-4411-resolved",
	    S(resolved + 14 * DAY)), mask_of(SELLING, ALL_CHANNELS));
	json_decref(j);
	evlist_free(&l);

	/* The clock: nothing before the end of the cool-off ... */
	uint64_t last = vb_store_last_seq(st);
	vb_buf_reset(&stored);
	ck_assert_int_eq(vb_store_tick(st, resolved + MIN + HOUR, &stored), 0);
	ck_assert_int_eq(vb_store_tick(st, resolved + 14 * DAY - SEC, &stored), 0);
	ck_assert_uint_eq(stored.len, 0);
	ck_assert_uint_eq(vb_store_last_seq(st), last);
	/* ... then an empty list, caused by the clock. */
	ck_assert_int_eq(vb_store_tick(st, resolved + 14 * DAY + 30 * SEC, &stored), 0);
	evlist_read(&l, &stored);
	ck_assert_uint_eq(l.n, 1);
	j = check_suppression(l.ev[0], "C-1001", resolved + 14 * DAY + 30 * SEC, last + 1);
	ck_assert_str_eq(supp_cause(j), "clock");
	ck_assert_uint_eq(json_array_size(supp_blocked(j)), 0);
	json_decref(j);
	evlist_free(&l);
	/* Once only. */
	vb_buf_reset(&stored);
	ck_assert_int_eq(vb_store_tick(st, resolved + 15 * DAY, &stored), 0);
	ck_assert_uint_eq(stored.len, 0);
	ck_assert_int_eq(decide(st, "C-1001", VB_P_UPSELL, VB_C_EMAIL, resolved + 15 * DAY, 0).allow, 1);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

START_TEST(reopen_publishes_again)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 };
	evlist l;
	int64_t t = T("2026-11-20T09:00:00Z");
	append1(st, "o", "complaint.opened", "C-1", t, "{\"case\":\"T\"}", t, &stored);
	append1(st, "r", "complaint.resolved", "C-1", t + DAY, "{\"case\":\"T\"}", t + DAY, &stored);
	append1(st, "re", "complaint.reopened", "C-1", t + 2 * DAY,
	    "{\"case\":\"T\",\"reason\":\"" VBT_SECRET "\"}", t + 2 * DAY, &stored);
	evlist_read(&l, &stored);
	ck_assert_uint_eq(l.n, 2);
	json_t *j = check_suppression(l.ev[1], "C-1", t + 2 * DAY, 0);
	ck_assert_str_eq(supp_cause(j), "re");
	/* Every reason now names the reopening, since it happened. */
	uint32_t m = blocked_mask(supp_blocked(j), NULL, NULL, NULL);
	ck_assert_uint_eq(m, mask_of(ALL_BUT_SERVICE, ALL_CHANNELS));
	size_t i;
	json_t *e;
	json_array_foreach(supp_blocked(j), i, e) {
		json_t *rs = json_object_get(e, "reasons");
		int seen = 0;
		for (size_t k = 0; k < json_array_size(rs); k++) {
			json_t *r = json_array_get(rs, k);
			if (strcmp(json_string_value(json_object_get(r, "rule")), "open-complaint") != 0)
				continue;
			ck_assert_str_eq(json_string_value(json_object_get(r, "event")), "re");
			ck_assert_str_eq(json_string_value(json_object_get(r, "since")), S(t + 2 * DAY));
			seen++;
		}
		ck_assert_int_eq(seen, 1);
	}
	json_decref(j);
	evlist_free(&l);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

START_TEST(future_dated_fact_waits_for_its_time)
{
	/* A silo dates a complaint a day after the broker's clock.  Until
	 * then the gate allows (vb_store_decide folds up to now), so the
	 * published list must not block yet; the clock publishes it when it
	 * comes, as the store's timer for future facts intends. */
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 };
	evlist l;
	int64_t now = T("2026-11-20T09:00:00Z"), later = now + DAY;
	append1(st, "o", "complaint.opened", "C-F", later, "{\"case\":\"T\"}", now, &stored);
	ck_assert_int_eq(decide(st, "C-F", VB_P_UPSELL, VB_C_EMAIL, now, 0).allow, 1);
	evlist_read(&l, &stored);
	ck_assert_msg(evlist_count(&l, "suppression.changed") == 0,
	    "a suppression.changed blocks C-F now, while the gate allows it now");
	evlist_free(&l);
	vb_buf_reset(&stored);
	ck_assert_int_eq(vb_store_tick(st, later - SEC, &stored), 0);
	ck_assert_uint_eq(stored.len, 0);
	ck_assert_int_eq(vb_store_tick(st, later, &stored), 0);
	ck_assert_int_eq(decide(st, "C-F", VB_P_UPSELL, VB_C_EMAIL, later, 0).allow, 0);
	evlist_read(&l, &stored);
	ck_assert_uint_eq(l.n, 1);
	json_t *j = check_suppression(l.ev[0], "C-F", later, 0);
	ck_assert_str_eq(supp_cause(j), "clock");
	ck_assert_uint_eq(blocked_mask(supp_blocked(j), "open-complaint", "o", NULL),
	    mask_of(ALL_BUT_SERVICE, ALL_CHANNELS));
	json_decref(j);
	evlist_free(&l);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

START_TEST(future_facts_each_at_their_time)
{
	/* Two facts ahead of the clock: each takes effect at its own time,
	 * not only when the latest comes. */
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 };
	evlist l;
	json_t *j;
	int64_t now = T("2026-11-20T09:00:00Z");
	append1(st, "o2", "complaint.opened", "C-G", now + 2 * DAY, "{\"case\":\"T\"}", now, &stored);
	append1(st, "i2", "invoice.overdue", "C-G", now + 5 * DAY, "{\"invoice\":\"I\"}", now, &stored);
	vb_buf_reset(&stored);
	ck_assert_int_eq(vb_store_tick(st, now + 2 * DAY, &stored), 0);
	ck_assert_int_eq(decide(st, "C-G", VB_P_SURVEY, VB_C_EMAIL, now + 2 * DAY, 0).allow, 0);
	evlist_read(&l, &stored);
	size_t g = 0;
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(vb_event_customer(l.ev[i]), "C-G") != 0)
			continue;
		j = check_suppression(l.ev[i], "C-G", now + 2 * DAY, 0);
		ck_assert_uint_eq(blocked_mask(supp_blocked(j), "open-complaint", "o2", NULL),
		    mask_of(ALL_BUT_SERVICE, ALL_CHANNELS));
		json_decref(j);
		g++;
	}
	ck_assert_msg(g == 1, "%zu suppression.changed for C-G when its complaint's time came", g);
	evlist_free(&l);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

/* ---- decisions now and then ---- */

START_TEST(decide_now_and_at)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 };
	int64_t opened = T("2026-11-01T09:00:00Z"), resolved = T("2026-11-03T12:00:00Z");
	append1(st, "o", "complaint.opened", "C-1", opened,
	    "{\"case\":\"T\",\"summary\":\"" VBT_SECRET "\"}", opened + MIN, &stored);
	append1(st, "r", "complaint.resolved", "C-1", resolved, "{\"case\":\"T\"}", resolved + MIN,
	    &stored);
	for (int from_log = 0; from_log <= 1; from_log++) {
		verdict v;
		/* Before the complaint: allowed. */
		v = decide(st, "C-1", VB_P_UPSELL, VB_C_EMAIL, opened - SEC, from_log);
		ck_assert_int_eq(v.allow, 1);
		/* At its time (events at or before TIME count) and after. */
		v = decide(st, "C-1", VB_P_PROMOTION, VB_C_EMAIL, opened, from_log);
		ck_assert_int_eq(v.allow, 0);
		char want[512];
		snprintf(want, sizeof(want), "[{\"rule\":\"open-complaint\",\"event\":\"o\",\"since\":\"%s\"}]",
		    S(opened));
		ck_assert_str_eq(v.reasons, want);
		v = decide(st, "C-1", VB_P_UPSELL, VB_C_SMS, resolved - SEC, from_log);
		ck_assert_str_eq(v.reasons, want);
		/* Resolved: the cool-off, with its end. */
		v = decide(st, "C-1", VB_P_UPSELL, VB_C_SMS, resolved + DAY, from_log);
		snprintf(want, sizeof(want), "[{\"rule\":\"complaint-cooloff\",\"event\":\"r\","
		    "\"since\":\"%s\",\"until\":\"%s\"}]", S(resolved), S(resolved + 14 * DAY));
		ck_assert_str_eq(v.reasons, want);
		ck_assert_int_eq(decide(st, "C-1", VB_P_PROMOTION, VB_C_SMS, resolved + DAY, from_log).allow, 1);
		/* And free after it. */
		ck_assert_int_eq(decide(st, "C-1", VB_P_UPSELL, VB_C_SMS, resolved + 14 * DAY, from_log).allow, 1);
		/* A customer never seen: allowed. */
		v = decide(st, "C-nobody", VB_P_UPSELL, VB_C_SMS, resolved, from_log);
		ck_assert_int_eq(v.allow, 1);
		ck_assert_str_eq(v.reasons, "[]");
	}
	/* Several customers in one call, each with its answer. */
	const char *cs[] = { "C-nobody", "C-1", "C-1", "C-other" };
	vb_gate_result res[4];
	vb_buf reasons = { 0 };
	ck_assert_int_eq(vb_store_decide(st, cs, 4, VB_P_UPSELL, VB_C_POST, opened + HOUR, 0, res,
	    &reasons), 0);
	ck_assert_int_eq(res[0].allow, 1);
	ck_assert_int_eq(res[1].allow, 0);
	ck_assert_int_eq(res[2].allow, 0);
	ck_assert_int_eq(res[3].allow, 1);
	ck_assert_ptr_nonnull(strstr((const char *)reasons.data + res[1].reasons_off, "open-complaint"));
	ck_assert_uint_eq(res[1].reasons_len, res[2].reasons_len);
	vb_buf_free(&reasons);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

START_TEST(at_counts_only_earlier_messages)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 };
	int64_t d = T("2026-11-02T10:00:00Z");
	append1(st, "m1", "message.sent", "C-1", d,
	    "{\"channel\":\"sms\",\"purpose\":\"upsell\",\"campaign\":\"a\"}", d, &stored);
	append1(st, "m2", "message.sent", "C-1", d + DAY,
	    "{\"channel\":\"push\",\"purpose\":\"upsell\",\"campaign\":\"b\"}", d + DAY, &stored);
	append1(st, "m3", "message.sent", "C-1", d + 2 * DAY,
	    "{\"channel\":\"post\",\"purpose\":\"upsell\",\"campaign\":\"c\"}", d + 2 * DAY, &stored);
	/* On 3 Nov only two had been sent. */
	ck_assert_int_eq(decide(st, "C-1", VB_P_UPSELL, VB_C_EMAIL, d + DAY + HOUR, 0).allow, 1);
	ck_assert_int_eq(decide(st, "C-1", VB_P_UPSELL, VB_C_EMAIL, d + DAY + HOUR, 1).allow, 1);
	verdict v = decide(st, "C-1", VB_P_UPSELL, VB_C_EMAIL, d + 2 * DAY + HOUR, 0);
	char want[512];
	snprintf(want, sizeof(want), "[{\"rule\":\"frequency-cap\",\"event\":\"m3\",\"since\":\"%s\","
	    "\"until\":\"%s\"}]", S(d + 2 * DAY), S(d + 7 * DAY));
	ck_assert_str_eq(v.reasons, want);
	ck_assert_int_eq(decide(st, "C-1", VB_P_UPSELL, VB_C_EMAIL, d + 7 * DAY, 0).allow, 1);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

START_TEST(customer_view)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 }, js = { 0 }, reasons = { 0 };
	vb_gate_result res[NPC];
	json_error_t jerr;
	int64_t t = T("2026-11-20T09:12:00Z");
	append1(st, "o", "complaint.opened", "C-1", t,
	    "{\"case\":\"T-1\",\"category\":\"" VBT_SECRET "\",\"summary\":\"" VBT_SECRET "\"}",
	    t + MIN, &stored);
	append1(st, "w", "consent.withdrawn", "C-1", t - DAY, "{\"channel\":\"sms\"}", t + MIN,
	    &stored);
	ck_assert_int_eq(vb_store_customer(st, "C-1", t + HOUR, 0, &js, res, &reasons), 0);
	ck_assert_ptr_null(memmem(js.data, js.len, "XYZZY", 5));
	ck_assert_ptr_null(memmem(reasons.data, reasons.len, "XYZZY", 5));
	json_t *j = json_loadb((const char *)js.data, js.len, 0, &jerr);
	ck_assert_msg(j != NULL, "not JSON: %s", jerr.text);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "complaints")), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "consent")), 1);
	json_decref(j);
	for (int p = 0; p < VB_NPURPOSES; p++) {
		for (int c = 0; c < VB_NCHANNELS; c++) {
			const vb_gate_result *r = &res[p * VB_NCHANNELS + c];
			const char *rj = (const char *)reasons.data + r->reasons_off;
			ck_assert_int_eq(rj[r->reasons_len], '\0');
			ck_assert_int_eq(r->allow, p == VB_P_SERVICE);
			/* The same as asking the gate for that one pair. */
			verdict v = decide(st, "C-1", p, c, t + HOUR, 0);
			ck_assert_int_eq(v.allow, r->allow);
			ck_assert_str_eq(v.reasons, rj);
			if (p != VB_P_SERVICE)
				ck_assert_int_eq(strstr(rj, "no-consent") != NULL, c == VB_C_SMS);
		}
	}
	/* As it was before the complaint: the state then, and only sms
	 * blocked. */
	vb_buf_reset(&js);
	vb_buf_reset(&reasons);
	ck_assert_int_eq(vb_store_customer(st, "C-1", t - HOUR, 0, &js, res, &reasons), 0);
	j = json_loadb((const char *)js.data, js.len, 0, &jerr);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "complaints")), 0);
	json_decref(j);
	for (int p = 0; p < VB_NPURPOSES; p++)
		for (int c = 0; c < VB_NCHANNELS; c++)
			ck_assert_int_eq(res[p * VB_NCHANNELS + c].allow,
			    p == VB_P_SERVICE || c != VB_C_SMS);
	vb_buf_free(&js);
	vb_buf_free(&reasons);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

/* ---- reservations ---- */

START_TEST(record_allowed_stores_message)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 }, aux = { 0 };
	batch b = { 0 };
	evlist l;
	int64_t now = T("2026-11-20T14:00:00Z"), midnight = T("2026-11-21T00:00:00Z");

	batch_record(&b, "C-9", VB_P_UPSELL, VB_C_EMAIL, "winter-2026");
	batch_append(st, &b, now, &stored, &aux);
	vb_store_item *it = &b.items[0];
	ck_assert_int_eq(it->allow, 1);
	ck_assert_int_eq(it->duplicate, 0);
	ck_assert_uint_eq(it->seq, 1);
	ck_assert_uint_eq(it->reasons_len, 2);
	ck_assert_mem_eq(aux.data + it->reasons_off, "[]", 2);
	evlist_read(&l, &stored);
	ck_assert_uint_ge(l.n, 1);
	const vb_event *m = l.ev[0];
	ck_assert_str_eq(vb_event_type(m), "message.sent");
	ck_assert_uint_eq(vb_event_seq(m), 1);
	ck_assert_str_eq(vb_event_id(m), "winter-2026/C-9/email/upsell");
	ck_assert_str_eq(vb_event_source(m), "marketing");
	ck_assert_str_eq(vb_event_customer(m), "C-9");
	ck_assert_int_eq(T(vb_event_time(m)), now);
	ck_assert_str_eq(vb_event_data_str(m, "channel"), "email");
	ck_assert_str_eq(vb_event_data_str(m, "purpose"), "upsell");
	ck_assert_str_eq(vb_event_data_str(m, "campaign"), "winter-2026");
	/* It is a valid event of the contract. */
	char err[VB_ERRMSG_MAX];
	ck_assert_msg(vb_event_validate(m, NULL, err, sizeof(err)) == 0, "%s", err);
	/* It uses email's day: email is now blocked until midnight, which
	 * the store publishes. */
	ck_assert_uint_eq(l.n, 2);
	json_t *j = check_suppression(l.ev[1], "C-9", now, 2);
	ck_assert_str_eq(supp_cause(j), "winter-2026/C-9/email/upsell");
	ck_assert_uint_eq(blocked_mask(supp_blocked(j), "frequency-cap",
	    "winter-2026/C-9/email/upsell", S(midnight)), mask_of(ALL_BUT_SERVICE, 1u << VB_C_EMAIL));
	json_decref(j);
	evlist_free(&l);
	ck_assert_int_eq(decide(st, "C-9", VB_P_PROMOTION, VB_C_EMAIL, now, 0).allow, 0);
	ck_assert_int_eq(decide(st, "C-9", VB_P_PROMOTION, VB_C_SMS, now, 0).allow, 1);
	/* Midnight: email again, by the clock. */
	vb_buf_reset(&stored);
	ck_assert_int_eq(vb_store_tick(st, midnight - SEC, &stored), 0);
	ck_assert_uint_eq(stored.len, 0);
	ck_assert_int_eq(vb_store_tick(st, midnight, &stored), 0);
	evlist_read(&l, &stored);
	ck_assert_uint_eq(l.n, 1);
	j = check_suppression(l.ev[0], "C-9", midnight, 3);
	ck_assert_str_eq(supp_cause(j), "clock");
	ck_assert_uint_eq(json_array_size(supp_blocked(j)), 0);
	json_decref(j);
	evlist_free(&l);
	batch_free(&b);
	vb_buf_free(&stored);
	vb_buf_free(&aux);
	vb_store_close(st);
}
END_TEST

START_TEST(record_blocked_stores_nothing)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 }, aux = { 0 };
	batch b = { 0 };
	int64_t t = T("2026-11-20T09:00:00Z");
	append1(st, "o", "complaint.opened", "C-8", t,
	    "{\"case\":\"T\",\"summary\":\"" VBT_SECRET "\"}", t, &stored);
	uint64_t last = vb_store_last_seq(st);
	vb_buf_reset(&stored);
	batch_record(&b, "C-8", VB_P_UPSELL, VB_C_EMAIL, "camp");
	batch_append(st, &b, t + HOUR, &stored, &aux);
	ck_assert_int_eq(b.items[0].allow, 0);
	ck_assert_uint_eq(b.items[0].seq, 0);
	ck_assert_uint_eq(stored.len, 0);
	ck_assert_uint_eq(vb_store_last_seq(st), last);
	char want[256];
	snprintf(want, sizeof(want), "[{\"rule\":\"open-complaint\",\"event\":\"o\",\"since\":\"%s\"}]",
	    S(t));
	ck_assert_uint_eq(b.items[0].reasons_len, strlen(want));
	ck_assert_mem_eq(aux.data + b.items[0].reasons_off, want, strlen(want));
	/* service goes through. */
	batch_free(&b);
	vb_buf_reset(&aux);
	batch_record(&b, "C-8", VB_P_SERVICE, VB_C_EMAIL, "repair-notice");
	batch_append(st, &b, t + HOUR, &stored, &aux);
	ck_assert_int_eq(b.items[0].allow, 1);
	ck_assert_uint_eq(b.items[0].seq, last + 1);
	batch_free(&b);
	vb_buf_free(&stored);
	vb_buf_free(&aux);
	vb_store_close(st);
}
END_TEST

/* C has two marketing messages this week (sms and push, other days):
 * one slot is left. */
static void
two_sent(vb_store *st, const char *c, int64_t now, vb_buf *stored)
{
	char id[64];
	snprintf(id, sizeof(id), "%s-m1", c);
	append1(st, id, "message.sent", c, now - 3 * DAY,
	    "{\"channel\":\"sms\",\"purpose\":\"promotion\",\"campaign\":\"a\"}", now - 3 * DAY, stored);
	snprintf(id, sizeof(id), "%s-m2", c);
	append1(st, id, "message.sent", c, now - 2 * DAY,
	    "{\"channel\":\"push\",\"purpose\":\"survey\",\"campaign\":\"b\"}", now - 2 * DAY, stored);
}

START_TEST(record_last_slot_one_wins)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 }, aux = { 0 };
	int64_t now = T("2026-11-20T14:00:00Z");

	/* Two campaigns in one append. */
	two_sent(st, "C-7", now, &stored);
	for (int rep = 0; rep < 2; rep++) {
		batch b = { 0 };
		evlist l;
		const char *cust = rep ? "C-6" : "C-7";
		if (rep)
			two_sent(st, cust, now, &stored);
		vb_buf_reset(&stored);
		vb_buf_reset(&aux);
		batch_record(&b, cust, VB_P_UPSELL, VB_C_EMAIL, "camp-A");
		batch_record(&b, cust, VB_P_PROMOTION, VB_C_POST, "camp-B");
		batch_append(st, &b, now, &stored, &aux);
		ck_assert_int_eq(b.items[0].allow + b.items[1].allow, 1);
		ck_assert_int_eq(b.items[0].allow, 1);
		ck_assert_uint_gt(b.items[0].seq, 0);
		ck_assert_uint_eq(b.items[1].seq, 0);
		/* The loser is told why: the winner's message. */
		char want[512];
		snprintf(want, sizeof(want), "[{\"rule\":\"frequency-cap\",\"event\":\"camp-A/%s/email/upsell\","
		    "\"since\":\"%s\",\"until\":\"%s\"}]", cust, S(now), S(now - 3 * DAY + 7 * DAY));
		ck_assert_uint_eq(b.items[1].reasons_len, strlen(want));
		ck_assert_mem_eq(aux.data + b.items[1].reasons_off, want, strlen(want));
		evlist_read(&l, &stored);
		ck_assert_uint_eq(evlist_count(&l, "message.sent"), 1);
		evlist_free(&l);
		batch_free(&b);
		if (rep == 0)
			continue;
		/* And the same in two appends one after the other. */
		two_sent(st, "C-5", now, &stored);
		batch_record(&b, "C-5", VB_P_UPSELL, VB_C_EMAIL, "camp-A");
		batch_append(st, &b, now, &stored, &aux);
		ck_assert_int_eq(b.items[0].allow, 1);
		batch_free(&b);
		vb_buf_reset(&stored);
		batch_record(&b, "C-5", VB_P_PROMOTION, VB_C_POST, "camp-B");
		batch_append(st, &b, now + SEC, &stored, &aux);
		ck_assert_int_eq(b.items[0].allow, 0);
		ck_assert_uint_eq(stored.len, 0);
		batch_free(&b);
	}
	vb_buf_free(&stored);
	vb_buf_free(&aux);
	vb_store_close(st);
}
END_TEST

/* Recording the same campaign for the same customer, channel and purpose
 * again (a retry) is a duplicate of the first: no second message, and the
 * answer of the first (allowed, its seq). */
static void
record_twice(const vb_rules *rules, int same_append)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), rules);
	vb_buf stored = { 0 }, aux = { 0 };
	batch b = { 0 };
	evlist l;
	int64_t now = T("2026-11-20T14:00:00Z");
	uint64_t first;

	batch_record(&b, "C-1", VB_P_UPSELL, VB_C_EMAIL, "camp-1");
	if (same_append)
		batch_record(&b, "C-1", VB_P_UPSELL, VB_C_EMAIL, "camp-1");
	batch_append(st, &b, now, &stored, &aux);
	ck_assert_int_eq(b.items[0].allow, 1);
	first = b.items[0].seq;
	ck_assert_uint_gt(first, 0);
	if (!same_append) {
		batch_free(&b);
		batch_record(&b, "C-1", VB_P_UPSELL, VB_C_EMAIL, "camp-1");
		batch_append(st, &b, now + MIN, &stored, &aux);
	}
	vb_store_item *again = &b.items[same_append ? 1 : 0];
	ck_assert_msg(again->duplicate == 1 && again->seq == first && again->allow == 1,
	    "second record of camp-1: duplicate %d, seq %llu (first %llu), allow %d",
	    again->duplicate, (unsigned long long)again->seq, (unsigned long long)first,
	    again->allow);
	evlist_read(&l, &stored);
	ck_assert_uint_eq(evlist_count(&l, "message.sent"), 1);
	evlist_free(&l);
	vb_buf got = { 0 };
	ck_assert_int_eq(vb_store_state_get(st, "C-1", &got), 0);
	vb_state s;
	ck_assert_int_eq(vb_state_decode(got.data, got.len, &s), 0);
	ck_assert_uint_eq(s.nmessages, 1);
	vb_state_free(&s);
	vb_buf_free(&got);
	batch_free(&b);
	vb_buf_free(&stored);
	vb_buf_free(&aux);
	vb_store_close(st);
}

START_TEST(record_same_campaign_is_duplicate_without_cap)
{
	/* With the frequency cap off, the second decision allows too. */
	vb_rules r;
	char err[128];
	vb_rules_defaults(&r);
	ck_assert_int_eq(vb_rules_set(&r, "frequency-cap", "enabled", "false", err, sizeof(err)), 0);
	record_twice(&r, 0);
	record_twice(&r, 1);
}
END_TEST

START_TEST(record_same_campaign_is_duplicate)
{
	/* With the default rules, the first message uses email's day: the
	 * retry must still be recognised as the same reservation rather than
	 * refused because of it. */
	record_twice(NULL, 0);
	record_twice(NULL, 1);
}
END_TEST

START_TEST(record_ignores_future_facts)
{
	/* A complaint dated after the broker's clock does not count yet: the
	 * reservation decides as vb_store_decide does at that moment. */
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 }, aux = { 0 };
	batch b = { 0 };
	int64_t now = T("2026-11-20T14:00:00Z");
	append1(st, "o", "complaint.opened", "C-1", now + DAY, "{\"case\":\"T\"}", now, &stored);
	ck_assert_int_eq(decide(st, "C-1", VB_P_UPSELL, VB_C_EMAIL, now, 0).allow, 1);
	batch_record(&b, "C-1", VB_P_UPSELL, VB_C_EMAIL, "camp");
	batch_append(st, &b, now, &stored, &aux);
	ck_assert_int_eq(b.items[0].allow, 1);
	ck_assert_uint_gt(b.items[0].seq, 0);
	batch_free(&b);
	/* After its time, refused. */
	batch_record(&b, "C-1", VB_P_PROMOTION, VB_C_SMS, "camp2");
	batch_append(st, &b, now + DAY, &stored, &aux);
	ck_assert_int_eq(b.items[0].allow, 0);
	batch_free(&b);
	vb_buf_free(&stored);
	vb_buf_free(&aux);
	vb_store_close(st);
}
END_TEST

START_TEST(record_after_event_in_same_append)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 }, aux = { 0 };
	batch b = { 0 };
	int64_t now = T("2026-11-20T14:00:00Z");
	/* Items are done in order: a record before the complaint is allowed,
	 * one after it is not. */
	batch_record(&b, "C-1", VB_P_UPSELL, VB_C_EMAIL, "early");
	batch_ev(&b, "o", "complaint.opened", "C-1", now - HOUR, "{\"case\":\"T\"}");
	batch_record(&b, "C-1", VB_P_UPSELL, VB_C_SMS, "late");
	batch_append(st, &b, now, &stored, &aux);
	ck_assert_int_eq(b.items[0].allow, 1);
	ck_assert_int_eq(b.items[2].allow, 0);
	ck_assert_ptr_nonnull(memmem(aux.data + b.items[2].reasons_off, b.items[2].reasons_len,
	    "open-complaint", 14));
	evlist l;
	evlist_read(&l, &stored);
	ck_assert_uint_eq(evlist_count(&l, "message.sent"), 1);
	ck_assert_uint_eq(evlist_count(&l, "complaint.opened"), 1);
	/* In seq order. */
	for (size_t i = 1; i < l.n; i++)
		ck_assert_uint_eq(vb_event_seq(l.ev[i]), vb_event_seq(l.ev[i - 1]) + 1);
	evlist_free(&l);
	batch_free(&b);
	vb_buf_free(&stored);
	vb_buf_free(&aux);
	vb_store_close(st);
}
END_TEST

/* ---- the suppression list ---- */

typedef struct {
	int ncust;
	char (*reasons)[NPC][4096]; /* "" when not listed */
	size_t calls;
} supp_table;

static int
supp_cb(void *arg, const char *customer, int purpose, int channel,
    const char *reasons, size_t reasons_len)
{
	supp_table *t = arg;
	int c = atoi(customer + 2);
	ck_assert(c >= 0 && c < t->ncust);
	ck_assert(purpose >= 0 && purpose < VB_NPURPOSES && channel >= 0 && channel < VB_NCHANNELS);
	char *slot = t->reasons[c][purpose * VB_NCHANNELS + channel];
	ck_assert_msg(slot[0] == '\0', "%s %d %d listed twice", customer, purpose, channel);
	ck_assert_uint_lt(reasons_len, 4096);
	ck_assert_uint_gt(reasons_len, 2);
	memcpy(slot, reasons, reasons_len);
	slot[reasons_len] = '\0';
	ck_assert_ptr_null(strstr(slot, "XYZZY"));
	t->calls++;
	return 0;
}

/* The whole list at now, in pages of page customers. */
static void
list_all(vb_store *st, int purpose, int channel, int64_t now, size_t page,
    supp_table *t)
{
	char *after = NULL;
	int pages = 0;
	memset(t->reasons, 0, sizeof(*t->reasons) * (size_t)t->ncust);
	t->calls = 0;
	do {
		char *next = NULL;
		ck_assert_int_eq(vb_store_suppressions(st, after, page, purpose, channel, now,
		    supp_cb, t, &next), 0);
		if (after && next)
			ck_assert_str_gt(next, after);
		free(after);
		after = next;
		ck_assert_int_lt(++pages, 10000);
	} while (after != NULL);
}

/* Customers C-000 .. C-(n-1): the list at now must be exactly what the
 * gate says customer by customer, with the same reasons. */
static void
assert_list_is_the_gate(vb_store *st, int ncust, int64_t now, size_t page)
{
	supp_table t = { ncust, calloc((size_t)ncust, sizeof(*t.reasons)), 0 };
	const char **names = calloc((size_t)ncust, sizeof(*names));
	char (*nb)[16] = calloc((size_t)ncust, sizeof(*nb));
	size_t blocked = 0;
	ck_assert(t.reasons && names && nb);
	for (int c = 0; c < ncust; c++) {
		snprintf(nb[c], sizeof(nb[c]), "C-%03d", c);
		names[c] = nb[c];
	}
	list_all(st, -1, -1, now, page, &t);
	for (int p = 0; p < VB_NPURPOSES; p++) {
		for (int ch = 0; ch < VB_NCHANNELS; ch++) {
			vb_gate_result *res = calloc((size_t)ncust, sizeof(*res));
			vb_buf reasons = { 0 };
			ck_assert_int_eq(vb_store_decide(st, names, (size_t)ncust, p, ch, now, 0, res,
			    &reasons), 0);
			for (int c = 0; c < ncust; c++) {
				const char *listed = t.reasons[c][p * VB_NCHANNELS + ch];
				const char *rj = (const char *)reasons.data + res[c].reasons_off;
				if (res[c].allow) {
					ck_assert_msg(listed[0] == '\0', "%s %s %s at %s: listed but allowed: %.3000s",
					    names[c], vb_purpose_names[p], vb_channel_names[ch], S(now), listed);
					continue;
				}
				blocked++;
				ck_assert_msg(listed[0] != '\0', "%s %s %s at %s: blocked %.3000s but not listed",
				    names[c], vb_purpose_names[p], vb_channel_names[ch], S(now), rj);
				ck_assert_str_eq(listed, rj);
			}
			free(res);
			vb_buf_free(&reasons);
		}
	}
	ck_assert_uint_eq(t.calls, blocked);
	/* Filtered by purpose, by channel and by both: the matching part. */
	supp_table f = { ncust, calloc((size_t)ncust, sizeof(*f.reasons)), 0 };
	ck_assert_ptr_nonnull(f.reasons);
	for (int p = -1; p < VB_NPURPOSES; p++) {
		for (int ch = -1; ch < VB_NCHANNELS; ch++) {
			if ((p == -1) == (ch == -1) && !(p == VB_P_UPSELL && ch == VB_C_SMS))
				continue; /* one of each kind, and one of both */
			list_all(st, p, ch, now, 1000, &f);
			for (int c = 0; c < ncust; c++)
				for (int k = 0; k < NPC; k++) {
					int match = (p < 0 || k / VB_NCHANNELS == p) &&
					    (ch < 0 || k % VB_NCHANNELS == ch);
					ck_assert_str_eq(f.reasons[c][k], match ? t.reasons[c][k] : "");
				}
		}
	}
	free(f.reasons);
	free(t.reasons);
	free(names);
	free(nb);
}

START_TEST(suppression_list_small)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 };
	int64_t t = T("2026-11-20T09:00:00Z");
	append1(st, "o", "complaint.opened", "C-000", t, "{\"case\":\"T\"}", t, &stored);
	append1(st, "o2", "complaint.opened", "C-001", t - 3 * DAY, "{\"case\":\"T\"}", t, &stored);
	append1(st, "r2", "complaint.resolved", "C-001", t - DAY, "{\"case\":\"T\"}", t, &stored);
	append1(st, "p", "order.placed", "C-002", t, "{\"order\":\"O\"}", t, &stored);
	append1(st, "w", "consent.withdrawn", "C-003", t,
	    "{\"channel\":\"sms\",\"purpose\":\"upsell\"}", t, &stored);
	supp_table tab = { 4, calloc(4, sizeof(*tab.reasons)), 0 };
	ck_assert_ptr_nonnull(tab.reasons);
	list_all(st, -1, -1, t + HOUR, 1, &tab);
	ck_assert_uint_eq(tab.calls, 4 * 5 + 2 * 5 + 1);
	ck_assert_ptr_nonnull(strstr(tab.reasons[3][VB_P_UPSELL * VB_NCHANNELS + VB_C_SMS], "no-consent"));
	/* After the cool-off, C-001 drops out even before the clock ticks. */
	list_all(st, -1, -1, t + 14 * DAY, 2, &tab);
	ck_assert_uint_eq(tab.calls, 4 * 5 + 1);
	free(tab.reasons);
	assert_list_is_the_gate(st, 4, t + HOUR, 1);
	assert_list_is_the_gate(st, 4, t + 14 * DAY, 3);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

/* ---- a random history ---- */

#define HIST_N 2000
#define HIST_CUST 50
#define HIST_SPAN_S (21 * 86400)

/* Fold in the test the events of customer c (in arrival order) with time
 * at or before at_us: what the store should hold or derive. */
static void
test_fold(const vbt_hev *h, const size_t *arrival, int c, int64_t at_us, vb_state *s)
{
	char name[16];
	vb_rules r;
	vb_rules_defaults(&r);
	snprintf(name, sizeof(name), "C-%03d", c);
	memset(s, 0, sizeof(*s));
	for (size_t k = 0; k < HIST_N; k++) {
		const vbt_hev *e = &h[arrival[k]];
		vb_fact f;
		if (strcmp(e->customer, name) != 0 || e->us > at_us)
			continue;
		vb_event *ev = vbt_event(e->json);
		if (vb_fact_from_event(ev, e->us, &f) == 0)
			ck_assert_int_eq(vb_state_apply(s, &f, vb_rules_keep_us(&r)), 0);
		vb_event_free(ev);
	}
}

START_TEST(history_rebuild_list_and_at)
{
	vbt_rng r = { vbt_seed("history_rebuild_list_and_at") };
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vbt_hev *h = vbt_history(&r, HIST_N, HIST_CUST, VBT_HIST_BASE, HIST_SPAN_S);
	size_t *arrival = malloc(HIST_N * sizeof(*arrival));
	vb_buf stored = { 0 };
	int64_t end = (VBT_HIST_BASE + HIST_SPAN_S) * SEC, now = end + HOUR;
	size_t nsupp = 0, appends = 0;

	ck_assert_ptr_nonnull(arrival);
	/* Silos export late and out of order: arrival is a permutation,
	 * appended in batches of random sizes, every event in the past of
	 * the broker's clock. */
	vbt_shuffle(&r, arrival, HIST_N);
	for (size_t k = 0; k < HIST_N;) {
		size_t n = (size_t)vbt_rand_range(&r, 1, 64);
		batch b = { 0 };
		evlist l;
		for (size_t i = 0; i < n && k < HIST_N; i++, k++)
			batch_json(&b, h[arrival[k]].json);
		vb_buf_reset(&stored);
		batch_append(st, &b, now + (int64_t)appends++ * SEC, &stored, NULL);
		evlist_read(&l, &stored); /* checks them for complaint text too */
		ck_assert_uint_eq(l.n, b.n + evlist_count(&l, "suppression.changed"));
		for (size_t i = 0; i < l.n; i++) {
			if (strcmp(vb_event_type(l.ev[i]), "suppression.changed") != 0)
				continue;
			json_t *j = check_suppression(l.ev[i], vb_event_customer(l.ev[i]),
			    now + (int64_t)(appends - 1) * SEC, 0);
			json_decref(j);
			nsupp++;
		}
		evlist_free(&l);
		batch_free(&b);
	}
	now += (int64_t)appends * SEC;
	ck_assert_uint_gt(nsupp, 0);

	/* The rebuild finds every state as the appends left it. */
	uint64_t customers, events, changed, last = vb_store_last_seq(st);
	vb_buf_reset(&stored);
	ck_assert_int_eq(vb_store_rebuild(st, now, &stored, &customers, &events, &changed), 0);
	ck_assert_uint_eq(changed, 0);
	ck_assert_uint_eq(events, last);
	/* And each equals the fold of that customer's events done here. */
	uint64_t with_state = 0;
	for (int c = 0; c < HIST_CUST; c++) {
		char name[16];
		vb_state s;
		vb_buf want = { 0 }, got = { 0 };
		snprintf(name, sizeof(name), "C-%03d", c);
		test_fold(h, arrival, c, INT64_MAX, &s);
		int rv = vb_store_state_get(st, name, &got);
		if (s.ncases || s.missed_event || s.completed_us || s.ninvoices || s.nconsents ||
		    s.nmessages) {
			with_state++;
			ck_assert_msg(rv == 0, "%s: no state (%d)", name, rv);
			ck_assert_int_eq(vb_state_encode(&s, &want), 0);
			ck_assert_msg(got.len == want.len && memcmp(got.data, want.data, got.len) == 0,
			    "%s: the stored state is not the fold of its events", name);
		} else {
			ck_assert_int_eq(rv, VB_ENOTFOUND);
		}
		vb_state_free(&s);
		vb_buf_free(&want);
		vb_buf_free(&got);
	}
	ck_assert_uint_eq(customers, with_state);

	/* The list is the gate, now and as the clock moves on. */
	assert_list_is_the_gate(st, HIST_CUST, now, 7);
	assert_list_is_the_gate(st, HIST_CUST, now + 3 * DAY, 1000);
	assert_list_is_the_gate(st, HIST_CUST, now + 15 * DAY, 13);

	/* Decisions from the stored state equal those folded from the log,
	 * and --at equals the fold, done here, of what had happened by then. */
	const char *names[HIST_CUST];
	char nb[HIST_CUST][16];
	for (int c = 0; c < HIST_CUST; c++) {
		snprintf(nb[c], sizeof(nb[c]), "C-%03d", c);
		names[c] = nb[c];
	}
	int64_t ats[5] = { now };
	for (int i = 1; i < 5; i++)
		ats[i] = VBT_HIST_BASE * SEC + vbt_rand_range(&r, 0, HIST_SPAN_S) * SEC;
	ats[4] = ats[4] / (1800 * SEC) * (1800 * SEC); /* on an event's grid: ties */
	vb_rules rules;
	vb_rules_defaults(&rules);
	for (int i = 0; i < 5; i++) {
		vb_state s[HIST_CUST];
		for (int c = 0; c < HIST_CUST; c++)
			test_fold(h, arrival, c, ats[i], &s[c]);
		for (int p = 0; p < VB_NPURPOSES; p++) {
			for (int ch = 0; ch < VB_NCHANNELS; ch++) {
				vb_gate_result a[HIST_CUST], b[HIST_CUST];
				vb_buf ra = { 0 }, rb = { 0 };
				ck_assert_int_eq(vb_store_decide(st, names, HIST_CUST, p, ch, ats[i], 0, a,
				    &ra), 0);
				ck_assert_int_eq(vb_store_decide(st, names, HIST_CUST, p, ch, ats[i], 1, b,
				    &rb), 0);
				for (int c = 0; c < HIST_CUST; c++) {
					vb_decision d;
					vb_buf w = { 0 };
					vb_gate_decide(&rules, &s[c], p, ch, ats[i], &d);
					ck_assert_int_eq(vb_gate_reasons_json(&d, &w), 0);
					ck_assert_int_eq(vb_buf_append_byte(&w, 0), 0);
					const char *ja = (const char *)ra.data + a[c].reasons_off;
					const char *jb = (const char *)rb.data + b[c].reasons_off;
					ck_assert_msg(a[c].allow == d.allow && strcmp(ja, (char *)w.data) == 0,
					    "%s %s %s at %s: store %.2000s, fold %.2000s", names[c], vb_purpose_names[p],
					    vb_channel_names[ch], S(ats[i]), ja, (char *)w.data);
					ck_assert_int_eq(b[c].allow, a[c].allow);
					ck_assert_str_eq(jb, ja);
					ck_assert_ptr_null(strstr(ja, "XYZZY"));
					vb_buf_free(&w);
				}
				vb_buf_free(&ra);
				vb_buf_free(&rb);
			}
		}
		for (int c = 0; c < HIST_CUST; c++)
			vb_state_free(&s[c]);
	}

	/* The customer view never shows complaint text. */
	for (int c = 0; c < HIST_CUST; c++) {
		vb_buf js = { 0 }, rs = { 0 };
		vb_gate_result res[NPC];
		ck_assert_int_eq(vb_store_customer(st, names[c], now, 0, &js, res, &rs), 0);
		ck_assert_ptr_null(memmem(js.data, js.len, "XYZZY", 5));
		ck_assert_ptr_null(memmem(rs.data, rs.len, "XYZZY", 5));
		vb_buf_free(&js);
		vb_buf_free(&rs);
	}

	/* A second rebuild later in time: still nothing to change in the
	 * states; whatever it publishes is a valid suppression.changed. */
	vb_buf_reset(&stored);
	ck_assert_int_eq(vb_store_rebuild(st, now + 20 * DAY, &stored, &customers, &events,
	    &changed), 0);
	ck_assert_uint_eq(changed, 0);
	evlist l;
	evlist_read(&l, &stored);
	ck_assert_uint_eq(evlist_count(&l, "suppression.changed"), l.n);
	evlist_free(&l);

	free(arrival);
	free(h);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

START_TEST(rebuild_empty_store)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_buf stored = { 0 };
	uint64_t customers = 9, events = 9, changed = 9;
	ck_assert_int_eq(vb_store_rebuild(st, T("2026-11-20T00:00:00Z"), &stored, &customers,
	    &events, &changed), 0);
	ck_assert_uint_eq(customers, 0);
	ck_assert_uint_eq(events, 0);
	ck_assert_uint_eq(changed, 0);
	ck_assert_uint_eq(stored.len, 0);
	/* A tick with nothing due does nothing. */
	ck_assert_int_eq(vb_store_tick(st, T("2026-11-20T00:00:00Z"), &stored), 0);
	ck_assert_uint_eq(stored.len, 0);
	ck_assert_uint_eq(vb_store_last_seq(st), 0);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

START_TEST(state_survives_reopen)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_store_opts o = { .map_size = 16 * MiB, .map_size_max = 1024 * MiB };
	vb_buf stored = { 0 }, a = { 0 }, b = { 0 };
	int64_t t = T("2026-11-20T09:00:00Z");
	append1(st, "o", "complaint.opened", "C-1", t, "{\"case\":\"T\"}", t, &stored);
	append1(st, "r", "complaint.resolved", "C-1", t + DAY, "{\"case\":\"T\"}", t + DAY, &stored);
	ck_assert_int_eq(vb_store_state_get(st, "C-1", &a), 0);
	vb_store_close(st);
	st = NULL;
	ck_assert_int_eq(vb_store_open(dir, &o, &st), 0);
	ck_assert_int_eq(vb_store_state_get(st, "C-1", &b), 0);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_mem_eq(a.data, b.data, a.len);
	/* The timer of the cool-off's end survives too. */
	vb_buf_reset(&stored);
	ck_assert_int_eq(vb_store_tick(st, t + 15 * DAY, &stored), 0);
	evlist l;
	evlist_read(&l, &stored);
	ck_assert_uint_eq(l.n, 1);
	json_t *j = check_suppression(l.ev[0], "C-1", t + 15 * DAY, 0);
	ck_assert_str_eq(supp_cause(j), "clock");
	json_decref(j);
	evlist_free(&l);
	vb_buf_free(&a);
	vb_buf_free(&b);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

/* ---- what supp keeps ---- */

/* The blocked list of the one suppression.changed in stored. */
static void
stored_blocked(const vb_buf *stored, vb_buf *out)
{
	evlist l;
	evlist_read(&l, stored);
	ck_assert_uint_eq(evlist_count(&l, "suppression.changed"), 1);
	json_t *j = event_json(l.ev[l.n - 1]);
	char *s = json_dumps(supp_blocked(j), JSON_COMPACT | JSON_PRESERVE_ORDER);
	vb_buf_reset(out);
	ck_assert_int_eq(vb_buf_append_str(out, s), 0);
	free(s);
	json_decref(j);
	evlist_free(&l);
}

static size_t
stored_changes(const vb_buf *stored)
{
	evlist l;
	evlist_read(&l, stored);
	size_t n = evlist_count(&l, "suppression.changed");
	evlist_free(&l);
	return n;
}

START_TEST(supp_keeps_a_digest)
{
	char dir[1024];
	vb_store *st = open_store(dir, sizeof(dir), NULL);
	vb_store_opts o = { .map_size = 16 * MiB, .map_size_max = 1024 * MiB };
	vb_buf stored = { 0 }, list = { 0 };
	uint8_t v[16];
	size_t vlen;
	int64_t t = T("2026-11-20T09:00:00Z");

	/* Lists of kilobytes, kept as 16 bytes: their length and a keyed
	 * hash. */
	append1(st, "o1", "complaint.opened", "C-1", t, "{\"case\":\"T1\"}", t, &stored);
	stored_blocked(&stored, &list);
	append1(st, "o2", "complaint.opened", "C-2", t, "{\"case\":\"T2\"}", t, &stored);
	ck_assert_uint_gt(list.len, 1000);
	vb_store_close(st);
	raw_get(dir, "supp", "C-1", v, sizeof(v), &vlen);
	ck_assert_uint_eq(vlen, 16);
	uint64_t len;
	memcpy(&len, v, 8);
	ck_assert_uint_eq(len, list.len);

	/* The key outlives the broker: after a restart, what changes no
	 * decision still publishes nothing. */
	st = NULL;
	ck_assert_int_eq(vb_store_open(dir, &o, &st), 0);
	append1(st, "u1", "complaint.updated", "C-1", t + HOUR, "{\"case\":\"T1\"}", t + HOUR,
	    &stored);
	ck_assert_uint_eq(stored_changes(&stored), 0);
	vb_store_close(st);

	/* A list an earlier broker kept as JSON: the same list publishes
	 * nothing and stays as it is; a change publishes, and leaves a
	 * digest. */
	raw_put(dir, "supp", "C-2", 3, list.data, list.len);
	st = NULL;
	ck_assert_int_eq(vb_store_open(dir, &o, &st), 0);
	append1(st, "u2", "complaint.updated", "C-2", t + HOUR, "{\"case\":\"T2\"}", t + HOUR,
	    &stored);
	ck_assert_uint_eq(stored_changes(&stored), 0);
	vb_store_close(st);
	raw_get(dir, "supp", "C-2", v, sizeof(v), &vlen);
	ck_assert_uint_eq(vlen, list.len);
	st = NULL;
	ck_assert_int_eq(vb_store_open(dir, &o, &st), 0);
	append1(st, "r2", "complaint.resolved", "C-2", t + DAY, "{\"case\":\"T2\"}", t + DAY,
	    &stored);
	ck_assert_uint_eq(stored_changes(&stored), 1);
	vb_store_close(st);
	raw_get(dir, "supp", "C-2", v, sizeof(v), &vlen);
	ck_assert_uint_eq(vlen, 16);
	vb_buf_free(&stored);
	vb_buf_free(&list);
}
END_TEST

static Suite *
store_gate_suite(void)
{
	Suite *s = suite_create("store_gate");
	TCase *tc = tcase_create("changes");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, append_folds_state);
	tcase_add_test(tc, open_resolve_and_cooloff_end);
	tcase_add_test(tc, reopen_publishes_again);
	tcase_add_test(tc, future_dated_fact_waits_for_its_time);
	tcase_add_test(tc, future_facts_each_at_their_time);
	tcase_add_test(tc, state_survives_reopen);
	tcase_add_test(tc, supp_keeps_a_digest);
	suite_add_tcase(s, tc);

	tc = tcase_create("decide");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, decide_now_and_at);
	tcase_add_test(tc, at_counts_only_earlier_messages);
	tcase_add_test(tc, customer_view);
	suite_add_tcase(s, tc);

	tc = tcase_create("record");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, record_allowed_stores_message);
	tcase_add_test(tc, record_blocked_stores_nothing);
	tcase_add_test(tc, record_last_slot_one_wins);
	tcase_add_test(tc, record_same_campaign_is_duplicate_without_cap);
	tcase_add_test(tc, record_same_campaign_is_duplicate);
	tcase_add_test(tc, record_ignores_future_facts);
	tcase_add_test(tc, record_after_event_in_same_append);
	suite_add_tcase(s, tc);

	tc = tcase_create("list");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, suppression_list_small);
	tcase_add_test(tc, rebuild_empty_store);
	tcase_add_test(tc, history_rebuild_list_and_at);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(store_gate_suite());
}
