/* Unit tests of broker/vb_state: facts from events, the fold (whose result
 * must not depend on the order events arrive in), the binary form kept in
 * LMDB and the JSON view. */
#include <jansson.h>
#include <stdint.h>
#include <sys/mman.h>
#include <stdio.h>
#include <string.h>

#include "vb_buf.h"
#include "vb_error.h"
#include "vb_event.h"
#include "vb_gate.h"
#include "vb_state.h"
#include "vb_time.h"
#include "vb_validate.h"
#include "vb_test.h"

#define DAY (86400LL * 1000000)
#define HOUR (3600LL * 1000000)
#define KEEP (7 * DAY)

static int64_t
us_of(const char *rfc3339)
{
	int64_t us;
	ck_assert_msg(vb_time_parse(rfc3339, &us) == 0, "bad time %s", rfc3339);
	return us;
}

/* Parse and validate json; *fact gets what it holds for the gate (kind
 * VB_FACT_NONE when nothing).  The fact borrows from the returned event. */
static vb_event *
event_fact(const char *json, vb_fact *fact)
{
	char err[VB_ERRMSG_MAX];
	int64_t us = 0;
	vb_event *ev = vbt_event(json);
	ck_assert_msg(vb_event_validate(ev, &us, err, sizeof(err)) == 0, "%s: %s", json, err);
	memset(fact, 0, sizeof(*fact));
	if (vb_fact_from_event(ev, us, fact) != 0)
		fact->kind = VB_FACT_NONE;
	return ev;
}

/* Fold one event of customer C-1 into s. */
static void
fold(vb_state *s, const char *id, const char *type, const char *time,
    const char *data)
{
	char json[1024];
	vb_fact f;
	vbt_gate_json(json, sizeof(json), id, type, "C-1", time, data);
	vb_event *ev = event_fact(json, &f);
	if (f.kind != VB_FACT_NONE)
		ck_assert_int_eq(vb_state_apply(s, &f, KEEP), 0);
	vb_event_free(ev);
}

static void
encode(const vb_state *s, vb_buf *b)
{
	vb_buf_reset(b);
	ck_assert_int_eq(vb_state_encode(s, b), 0);
}

static char *
to_json(const vb_state *s)
{
	vb_buf b = { 0 };
	ck_assert_int_eq(vb_state_to_json(s, &b), 0);
	ck_assert_int_eq(vb_buf_append_byte(&b, 0), 0);
	return (char *)b.data;
}

/* Assert two states encode to the same bytes; on failure show both. */
static void
assert_same_state(const vb_state *a, const vb_state *b, const char *what)
{
	vb_buf ba = { 0 }, bb = { 0 };
	encode(a, &ba);
	encode(b, &bb);
	if (ba.len != bb.len || memcmp(ba.data, bb.data, ba.len) != 0) {
		char *ja = to_json(a), *jb = to_json(b);
		/* Whole on stderr; check limits the length of a message. */
		fprintf(stderr, "%s:\n  %s\n  %s\n", what, ja, jb);
		ck_abort_msg("%s: encoded states differ:\n  %.1500s\n  %.1500s", what, ja, jb);
	}
	vb_buf_free(&ba);
	vb_buf_free(&bb);
}

static const vb_case *
find_case(const vb_state *s, const char *id)
{
	for (size_t i = 0; i < s->ncases; i++)
		if (strcmp(s->cases[i].id, id) == 0)
			return &s->cases[i];
	ck_abort_msg("no case %s", id);
	return NULL;
}

/* ---- facts ---- */

START_TEST(fact_of_each_type)
{
	static const struct {
		const char *type;
		vb_fact_kind kind; /* VB_FACT_NONE: VB_ENOTFOUND */
		const char *key, *purpose;
	} want[] = {
		{ "complaint.opened", VB_FACT_COMPLAINT_OPEN, "T-4411", "" },
		{ "complaint.updated", VB_FACT_NONE, NULL, NULL },
		{ "complaint.resolved", VB_FACT_COMPLAINT_RESOLVED, "T-4411", "" },
		{ "complaint.reopened", VB_FACT_COMPLAINT_OPEN, "T-4411", "" },
		{ "visit.scheduled", VB_FACT_NONE, NULL, NULL },
		{ "visit.completed", VB_FACT_VISIT_COMPLETED, "V-77", "" },
		{ "visit.missed", VB_FACT_VISIT_MISSED, "V-78", "" },
		{ "visit.cancelled", VB_FACT_NONE, NULL, NULL },
		{ "order.placed", VB_FACT_NONE, NULL, NULL },
		{ "order.returned", VB_FACT_NONE, NULL, NULL },
		{ "order.cancelled", VB_FACT_NONE, NULL, NULL },
		{ "invoice.issued", VB_FACT_NONE, NULL, NULL },
		{ "invoice.overdue", VB_FACT_INVOICE_OVERDUE, "INV-9001", "" },
		{ "invoice.paid", VB_FACT_INVOICE_PAID, "INV-9001", "" },
		{ "consent.granted", VB_FACT_CONSENT_GRANTED, "email", "promotion" },
		{ "consent.withdrawn", VB_FACT_CONSENT_WITHDRAWN, "sms", "upsell" },
		{ "message.sent", VB_FACT_MESSAGE_SENT, "email", "upsell" },
	};
	size_t n;
	const vbt_sample *s = vbt_samples(&n);
	ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		char err[VB_ERRMSG_MAX];
		int64_t us;
		vb_fact f;
		vb_event *ev = vbt_event(s[i].json);
		ck_assert_str_eq(s[i].type, want[i].type);
		ck_assert_int_eq(vb_event_validate(ev, &us, err, sizeof(err)), 0);
		memset(&f, 0, sizeof(f));
		int rv = vb_fact_from_event(ev, us, &f);
		if (want[i].kind == VB_FACT_NONE) {
			ck_assert_msg(rv == VB_ENOTFOUND, "%s: %d, want VB_ENOTFOUND", s[i].type, rv);
		} else {
			ck_assert_msg(rv == 0, "%s: %d", s[i].type, rv);
			ck_assert_int_eq(f.kind, want[i].kind);
			ck_assert_int_eq(f.time_us, us);
			ck_assert_str_eq(f.event, vb_event_id(ev));
			ck_assert_str_eq(f.key, want[i].key);
			ck_assert_str_eq(f.purpose, want[i].purpose);
		}
		vb_event_free(ev);
	}
}
END_TEST

START_TEST(fact_time_is_the_one_given)
{
	/* The store passes the validated time; the fact must carry it as is,
	 * offsets already applied (16:30+01:00 is 15:30Z). */
	size_t n;
	const vbt_sample *s = vbt_samples(&n);
	vb_fact f;
	vb_event *ev = vbt_event(s[2].json);
	ck_assert_int_eq(vb_fact_from_event(ev, us_of("2026-11-22T15:30:00Z"), &f), 0);
	ck_assert_int_eq(f.time_us, us_of("2026-11-22T16:30:00+01:00"));
	vb_event_free(ev);
}
END_TEST

START_TEST(fact_consent_every_purpose)
{
	vb_fact f;
	char json[512];
	vbt_gate_json(json, sizeof(json), "p-1", "consent.withdrawn", "C-1",
	    "2026-11-01T00:00:00Z", "{\"channel\":\"sms\"}");
	vb_event *ev = event_fact(json, &f);
	ck_assert_int_eq(f.kind, VB_FACT_CONSENT_WITHDRAWN);
	ck_assert_str_eq(f.key, "sms");
	ck_assert_str_eq(f.purpose, "");
	vb_event_free(ev);
}
END_TEST

/* ---- the fold ---- */

START_TEST(empty_state)
{
	vb_state s;
	memset(&s, 0, sizeof(s));
	ck_assert_uint_eq(s.ncases + s.ninvoices + s.nconsents + s.nmessages, 0);
	vb_state_free(&s);
	vb_state_free(&s); /* freeing twice is harmless: free zeroes it */
}
END_TEST

START_TEST(complaint_lifecycle)
{
	vb_state s = { 0 };
	fold(&s, "o", "complaint.opened", "2026-11-01T10:00:00Z", "{\"case\":\"T-1\"}");
	const vb_case *c = find_case(&s, "T-1");
	ck_assert_int_eq(c->open_us, us_of("2026-11-01T10:00:00Z"));
	ck_assert_str_eq(c->open_event, "o");
	ck_assert_int_eq(c->resolved_us, 0);
	fold(&s, "r", "complaint.resolved", "2026-11-02T10:00:00Z", "{\"case\":\"T-1\"}");
	c = find_case(&s, "T-1");
	ck_assert_int_eq(c->resolved_us, us_of("2026-11-02T10:00:00Z"));
	ck_assert_str_eq(c->resolved_event, "r");
	fold(&s, "re", "complaint.reopened", "2026-11-03T10:00:00Z", "{\"case\":\"T-1\"}");
	c = find_case(&s, "T-1");
	ck_assert_int_eq(c->open_us, us_of("2026-11-03T10:00:00Z"));
	ck_assert_str_eq(c->open_event, "re");
	ck_assert_int_eq(c->first_open_us, us_of("2026-11-01T10:00:00Z"));
	ck_assert_int_eq(c->resolved_us, us_of("2026-11-02T10:00:00Z"));
	ck_assert_uint_eq(s.ncases, 1);
	ck_assert_int_eq(s.max_us, us_of("2026-11-03T10:00:00Z"));
	/* An update is no fact: nothing changes. */
	fold(&s, "u", "complaint.updated", "2026-11-04T10:00:00Z", "{\"case\":\"T-1\"}");
	ck_assert_int_eq(s.max_us, us_of("2026-11-03T10:00:00Z"));
	char *j = to_json(&s);
	ck_assert_ptr_nonnull(strstr(j, "\"status\":\"open\""));
	free(j);
	vb_state_free(&s);
}
END_TEST

START_TEST(resolved_before_opened_ends_resolved)
{
	/* The resolution arrives first; the opening, earlier in time, after. */
	vb_state s = { 0 };
	fold(&s, "r", "complaint.resolved", "2026-11-05T10:00:00Z", "{\"case\":\"T-1\"}");
	fold(&s, "o", "complaint.opened", "2026-11-01T10:00:00Z", "{\"case\":\"T-1\"}");
	const vb_case *c = find_case(&s, "T-1");
	ck_assert_int_eq(c->open_us, us_of("2026-11-01T10:00:00Z"));
	ck_assert_int_eq(c->resolved_us, us_of("2026-11-05T10:00:00Z"));
	ck_assert_str_eq(c->resolved_event, "r");
	char *j = to_json(&s);
	ck_assert_ptr_nonnull(strstr(j, "\"status\":\"resolved\""));
	ck_assert_ptr_null(strstr(j, "\"status\":\"open\""));
	free(j);

	vb_rules r;
	vb_decision d;
	vb_rules_defaults(&r);
	vb_gate_decide(&r, &s, VB_P_PROMOTION, VB_C_EMAIL, us_of("2026-11-06T00:00:00Z"), &d);
	ck_assert_int_eq(d.allow, 1);

	/* And the same in arrival order gives the same state. */
	vb_state t = { 0 };
	fold(&t, "o", "complaint.opened", "2026-11-01T10:00:00Z", "{\"case\":\"T-1\"}");
	fold(&t, "r", "complaint.resolved", "2026-11-05T10:00:00Z", "{\"case\":\"T-1\"}");
	assert_same_state(&s, &t, "resolved/opened in either order");
	vb_state_free(&s);
	vb_state_free(&t);
}
END_TEST

START_TEST(late_opening_keeps_the_reopen)
{
	/* A reopen is the latest opening even when the first opening
	 * arrives after it. */
	vb_state s = { 0 };
	fold(&s, "re", "complaint.reopened", "2026-11-03T10:00:00Z", "{\"case\":\"T-1\"}");
	fold(&s, "r", "complaint.resolved", "2026-11-02T10:00:00Z", "{\"case\":\"T-1\"}");
	fold(&s, "o", "complaint.opened", "2026-11-01T10:00:00Z", "{\"case\":\"T-1\"}");
	const vb_case *c = find_case(&s, "T-1");
	ck_assert_int_eq(c->open_us, us_of("2026-11-03T10:00:00Z"));
	ck_assert_str_eq(c->open_event, "re");
	ck_assert_int_eq(c->first_open_us, us_of("2026-11-01T10:00:00Z"));
	vb_state_free(&s);
}
END_TEST

START_TEST(visits_and_invoices)
{
	vb_state s = { 0 };
	fold(&s, "m2", "visit.missed", "2026-11-04T10:00:00Z", "{\"visit\":\"V-2\"}");
	fold(&s, "m1", "visit.missed", "2026-11-02T10:00:00Z", "{\"visit\":\"V-1\"}");
	fold(&s, "c1", "visit.completed", "2026-11-03T10:00:00Z", "{\"visit\":\"V-1\"}");
	ck_assert_int_eq(s.missed_us, us_of("2026-11-04T10:00:00Z"));
	ck_assert_str_eq(s.missed_event, "m2");
	ck_assert_str_eq(s.missed_visit, "V-2");
	ck_assert_int_eq(s.completed_us, us_of("2026-11-03T10:00:00Z"));
	fold(&s, "c0", "visit.completed", "2026-11-01T10:00:00Z", "{\"visit\":\"V-0\"}");
	ck_assert_int_eq(s.completed_us, us_of("2026-11-03T10:00:00Z"));

	fold(&s, "i1", "invoice.overdue", "2026-11-05T00:00:00Z", "{\"invoice\":\"I-1\"}");
	fold(&s, "i2", "invoice.issued", "2026-11-06T00:00:00Z", "{\"invoice\":\"I-2\"}");
	ck_assert_uint_eq(s.ninvoices, 1);
	ck_assert_str_eq(s.invoices[0].id, "I-1");
	ck_assert_str_eq(s.invoices[0].overdue_event, "i1");
	ck_assert_int_eq(s.invoices[0].paid_us, 0);
	fold(&s, "p1", "invoice.paid", "2026-11-07T00:00:00Z", "{\"invoice\":\"I-1\"}");
	ck_assert_int_eq(s.invoices[0].paid_us, us_of("2026-11-07T00:00:00Z"));
	ck_assert_int_eq(s.invoices[0].overdue_us, us_of("2026-11-05T00:00:00Z"));
	vb_state_free(&s);
}
END_TEST

START_TEST(consent_latest_wins)
{
	vb_state s = { 0 };
	fold(&s, "g", "consent.granted", "2026-11-05T00:00:00Z", "{\"channel\":\"email\"}");
	fold(&s, "w", "consent.withdrawn", "2026-11-01T00:00:00Z", "{\"channel\":\"email\"}");
	fold(&s, "wu", "consent.withdrawn", "2026-11-02T00:00:00Z",
	    "{\"channel\":\"email\",\"purpose\":\"upsell\"}");
	ck_assert_uint_eq(s.nconsents, 2);
	for (size_t i = 0; i < s.nconsents; i++) {
		const vb_consent *c = &s.consents[i];
		ck_assert_str_eq(c->channel, "email");
		if (c->purpose[0] == '\0') {
			ck_assert_int_eq(c->granted, 1);
			ck_assert_str_eq(c->event, "g");
			ck_assert_int_eq(c->at_us, us_of("2026-11-05T00:00:00Z"));
		} else {
			ck_assert_str_eq(c->purpose, "upsell");
			ck_assert_int_eq(c->granted, 0);
			ck_assert_str_eq(c->event, "wu");
		}
	}
	vb_state_free(&s);
}
END_TEST

START_TEST(equal_times_break_by_event_id)
{
	/* Two words on one channel at the same instant: the larger event id
	 * wins whichever arrives first. */
	vb_state a = { 0 }, b = { 0 };
	fold(&a, "pref-a", "consent.granted", "2026-11-01T00:00:00Z", "{\"channel\":\"sms\"}");
	fold(&a, "pref-b", "consent.withdrawn", "2026-11-01T00:00:00Z", "{\"channel\":\"sms\"}");
	fold(&b, "pref-b", "consent.withdrawn", "2026-11-01T00:00:00Z", "{\"channel\":\"sms\"}");
	fold(&b, "pref-a", "consent.granted", "2026-11-01T00:00:00Z", "{\"channel\":\"sms\"}");
	ck_assert_uint_eq(a.nconsents, 1);
	ck_assert_int_eq(a.consents[0].granted, 0);
	ck_assert_str_eq(a.consents[0].event, "pref-b");
	assert_same_state(&a, &b, "consent tie");
	vb_state_free(&a);
	vb_state_free(&b);

	/* The same for the openings of one case and for missed visits. */
	fold(&a, "o-1", "complaint.opened", "2026-11-01T00:00:00Z", "{\"case\":\"T\"}");
	fold(&a, "o-2", "complaint.reopened", "2026-11-01T00:00:00Z", "{\"case\":\"T\"}");
	fold(&a, "m-1", "visit.missed", "2026-11-01T00:00:00Z", "{\"visit\":\"V1\"}");
	fold(&a, "m-2", "visit.missed", "2026-11-01T00:00:00Z", "{\"visit\":\"V2\"}");
	fold(&b, "m-2", "visit.missed", "2026-11-01T00:00:00Z", "{\"visit\":\"V2\"}");
	fold(&b, "m-1", "visit.missed", "2026-11-01T00:00:00Z", "{\"visit\":\"V1\"}");
	fold(&b, "o-2", "complaint.reopened", "2026-11-01T00:00:00Z", "{\"case\":\"T\"}");
	fold(&b, "o-1", "complaint.opened", "2026-11-01T00:00:00Z", "{\"case\":\"T\"}");
	ck_assert_str_eq(find_case(&a, "T")->open_event, "o-2");
	ck_assert_str_eq(a.missed_event, "m-2");
	ck_assert_str_eq(a.missed_visit, "V2");
	assert_same_state(&a, &b, "case and visit ties");
	vb_state_free(&a);
	vb_state_free(&b);
}
END_TEST

/* Two of each keyed thing (cases, invoices, consents), folded in both
 * orders: the state must be one and the same. */
START_TEST(keyed_lists_do_not_depend_on_arrival)
{
	static const char *const ev[][4] = {
		{ "a1", "complaint.opened", "2026-11-01T00:00:00Z", "{\"case\":\"T-B\"}" },
		{ "a2", "complaint.opened", "2026-11-02T00:00:00Z", "{\"case\":\"T-A\"}" },
		{ "a3", "invoice.overdue", "2026-11-03T00:00:00Z", "{\"invoice\":\"I-B\"}" },
		{ "a4", "invoice.overdue", "2026-11-04T00:00:00Z", "{\"invoice\":\"I-A\"}" },
		{ "a5", "consent.withdrawn", "2026-11-05T00:00:00Z", "{\"channel\":\"sms\"}" },
		{ "a6", "consent.withdrawn", "2026-11-06T00:00:00Z", "{\"channel\":\"email\"}" },
	};
	const size_t n = sizeof(ev) / sizeof(ev[0]);
	for (size_t k = 0; k < n; k += 2) {
		vb_state a = { 0 }, b = { 0 };
		char what[64];
		fold(&a, ev[k][0], ev[k][1], ev[k][2], ev[k][3]);
		fold(&a, ev[k + 1][0], ev[k + 1][1], ev[k + 1][2], ev[k + 1][3]);
		fold(&b, ev[k + 1][0], ev[k + 1][1], ev[k + 1][2], ev[k + 1][3]);
		fold(&b, ev[k][0], ev[k][1], ev[k][2], ev[k][3]);
		snprintf(what, sizeof(what), "%s and %s in either order", ev[k][1], ev[k + 1][1]);
		assert_same_state(&a, &b, what);
		vb_state_free(&a);
		vb_state_free(&b);
	}
}
END_TEST

static void
message(vb_state *s, const char *id, const char *time, const char *channel,
    const char *purpose)
{
	char data[256];
	snprintf(data, sizeof(data), "{\"channel\":\"%s\",\"purpose\":\"%s\",\"campaign\":\"c\"}",
	    channel, purpose);
	fold(s, id, "message.sent", time, data);
}

START_TEST(messages_sorted_and_once)
{
	vb_state s = { 0 };
	message(&s, "m3", "2026-11-03T00:00:00Z", "email", "upsell");
	message(&s, "m1", "2026-11-01T00:00:00Z", "sms", "promotion");
	message(&s, "m2b", "2026-11-02T00:00:00Z", "push", "service");
	message(&s, "m2a", "2026-11-02T00:00:00Z", "post", "survey");
	message(&s, "m1", "2026-11-01T00:00:00Z", "sms", "promotion"); /* again */
	ck_assert_uint_eq(s.nmessages, 4);
	ck_assert_str_eq(s.messages[0].event, "m1");
	ck_assert_str_eq(s.messages[1].event, "m2a");
	ck_assert_str_eq(s.messages[2].event, "m2b");
	ck_assert_str_eq(s.messages[3].event, "m3");
	ck_assert_str_eq(s.messages[0].channel, "sms");
	ck_assert_str_eq(s.messages[0].purpose, "promotion");
	ck_assert_int_eq(s.messages[3].at_us, us_of("2026-11-03T00:00:00Z"));
	vb_state_free(&s);
}
END_TEST

START_TEST(messages_pruned_to_the_window)
{
	vb_state s = { 0 };
	message(&s, "m0", "2026-11-01T00:00:00Z", "email", "upsell");
	/* 1 us short of the window after m0: m0 stays. */
	message(&s, "m1", "2026-11-07T23:59:59.999999Z", "sms", "upsell");
	ck_assert_uint_eq(s.nmessages, 2);
	/* A full window after m0: m0 can no longer count; it goes. */
	message(&s, "m2", "2026-11-08T00:00:00Z", "sms", "upsell");
	ck_assert_uint_eq(s.nmessages, 2);
	ck_assert_str_eq(s.messages[0].event, "m1");
	/* A late arrival older than the window of the latest is not kept
	 * either, so arrival order does not matter. */
	message(&s, "old", "2026-10-20T00:00:00Z", "post", "upsell");
	ck_assert_uint_eq(s.nmessages, 2);
	vb_state t = { 0 };
	message(&t, "m2", "2026-11-08T00:00:00Z", "sms", "upsell");
	message(&t, "old", "2026-10-20T00:00:00Z", "post", "upsell");
	message(&t, "m1", "2026-11-07T23:59:59.999999Z", "sms", "upsell");
	message(&t, "m0", "2026-11-01T00:00:00Z", "email", "upsell");
	assert_same_state(&s, &t, "pruning in either order");
	vb_state_free(&s);
	vb_state_free(&t);
}
END_TEST

/* ---- order independence on a random history ---- */

#define HIST_N 2000
#define HIST_CUST 50
#define HIST_PERMS 6

typedef struct {
	vbt_hev *h;
	vb_event **evs;
	vb_fact *facts; /* kind VB_FACT_NONE for events of no use */
	int *cust;
} history;

static void
history_make(history *hs, vbt_rng *r)
{
	hs->h = vbt_history(r, HIST_N, HIST_CUST, VBT_HIST_BASE, 21 * 86400);
	hs->evs = calloc(HIST_N, sizeof(*hs->evs));
	hs->facts = calloc(HIST_N, sizeof(*hs->facts));
	hs->cust = calloc(HIST_N, sizeof(*hs->cust));
	ck_assert(hs->evs && hs->facts && hs->cust);
	for (size_t i = 0; i < HIST_N; i++) {
		hs->evs[i] = event_fact(hs->h[i].json, &hs->facts[i]);
		ck_assert_int_eq(hs->facts[i].kind == VB_FACT_NONE ||
		    hs->facts[i].time_us == hs->h[i].us, 1);
		hs->cust[i] = atoi(hs->h[i].customer + 2);
	}
}

static void
history_free(history *hs)
{
	for (size_t i = 0; i < HIST_N; i++)
		vb_event_free(hs->evs[i]);
	free(hs->evs);
	free(hs->facts);
	free(hs->cust);
	free(hs->h);
}

/* Fold the history in the order idx into one state per customer and
 * encode each into out[customer]. */
static void
fold_in_order(const history *hs, const size_t *idx, vb_buf *out)
{
	vb_state s[HIST_CUST];
	memset(s, 0, sizeof(s));
	for (size_t k = 0; k < HIST_N; k++) {
		size_t i = idx[k];
		if (hs->facts[i].kind != VB_FACT_NONE)
			ck_assert_int_eq(vb_state_apply(&s[hs->cust[i]], &hs->facts[i], KEEP), 0);
	}
	for (int c = 0; c < HIST_CUST; c++) {
		encode(&s[c], &out[c]);
		vb_state_free(&s[c]);
	}
}

START_TEST(permutations_give_identical_states)
{
	vbt_rng r = { vbt_seed("permutations_give_identical_states") };
	history hs;
	size_t *idx = malloc(HIST_N * sizeof(*idx));
	vb_buf ref[HIST_CUST], got[HIST_CUST];
	size_t facts = 0;

	ck_assert_ptr_nonnull(idx);
	memset(ref, 0, sizeof(ref));
	memset(got, 0, sizeof(got));
	history_make(&hs, &r);
	for (size_t i = 0; i < HIST_N; i++)
		facts += hs.facts[i].kind != VB_FACT_NONE;
	ck_assert_uint_gt(facts, HIST_N / 2);
	/* The reference: in the order generated. */
	for (size_t i = 0; i < HIST_N; i++)
		idx[i] = i;
	fold_in_order(&hs, idx, ref);
	for (int p = 0; p <= HIST_PERMS; p++) {
		if (p == HIST_PERMS) { /* and backwards */
			for (size_t i = 0; i < HIST_N; i++)
				idx[i] = HIST_N - 1 - i;
		} else {
			vbt_shuffle(&r, idx, HIST_N);
		}
		fold_in_order(&hs, idx, got);
		for (int c = 0; c < HIST_CUST; c++) {
			if (got[c].len == ref[c].len && memcmp(got[c].data, ref[c].data, ref[c].len) == 0)
				continue;
			vb_state a, b;
			ck_assert_int_eq(vb_state_decode(ref[c].data, ref[c].len, &a), 0);
			ck_assert_int_eq(vb_state_decode(got[c].data, got[c].len, &b), 0);
			char *ja = to_json(&a), *jb = to_json(&b);
			fprintf(stderr, "permutation %d, customer C-%03d:\n  %s\n  %s\n", p, c, ja, jb);
			ck_abort_msg("permutation %d, customer C-%03d: the state differs from "
			    "the fold in generated order:\n  %.1500s\n  %.1500s", p, c, ja, jb);
		}
	}
	for (int c = 0; c < HIST_CUST; c++) {
		vb_buf_free(&ref[c]);
		vb_buf_free(&got[c]);
	}
	free(idx);
	history_free(&hs);
}
END_TEST

/* ---- the binary form ---- */

/* A copy of n bytes that ends right before an inaccessible page, so that
 * a decoder reading one byte too many crashes even without a sanitizer.
 * Release with guarded_free(p, n). */
static uint8_t *
guarded_copy(const uint8_t *p, size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = (n + pg - 1) / pg * pg + pg;
	uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(m != MAP_FAILED);
	ck_assert_int_eq(mprotect(m + len - pg, pg, PROT_NONE), 0);
	if (n)
		memcpy(m + len - pg - n, p, n);
	return m + len - pg - n;
}

static void
guarded_free(uint8_t *q, size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = (n + pg - 1) / pg * pg + pg;
	uint8_t *m = q + n + pg - len;
	munmap(m, len);
}

/* A state with something in every part. */
static void
rich_state(vb_state *s)
{
	memset(s, 0, sizeof(*s));
	fold(s, "o1", "complaint.opened", "2026-11-01T09:00:00Z", "{\"case\":\"T-1\",\"summary\":\"" VBT_SECRET "\"}");
	fold(s, "r1", "complaint.resolved", "2026-11-02T09:00:00Z", "{\"case\":\"T-1\",\"summary\":\"" VBT_SECRET "\"}");
	fold(s, "o2", "complaint.opened", "2026-11-03T09:00:00Z", "{\"case\":\"T-2\",\"category\":\"" VBT_SECRET "\"}");
	fold(s, "mv", "visit.missed", "2026-11-04T09:00:00Z", "{\"visit\":\"V-1\"}");
	fold(s, "cv", "visit.completed", "2026-11-03T09:00:00Z", "{\"visit\":\"V-0\"}");
	fold(s, "io", "invoice.overdue", "2026-11-05T09:00:00Z", "{\"invoice\":\"I-1\"}");
	fold(s, "io2", "invoice.overdue", "2026-11-05T10:00:00Z", "{\"invoice\":\"I-2\"}");
	fold(s, "ip2", "invoice.paid", "2026-11-06T10:00:00Z", "{\"invoice\":\"I-2\"}");
	fold(s, "cw", "consent.withdrawn", "2026-11-06T09:00:00Z", "{\"channel\":\"sms\"}");
	fold(s, "cg", "consent.granted", "2026-11-06T09:30:00Z",
	    "{\"channel\":\"email\",\"purpose\":\"survey\"}");
	message(s, "ms1", "2026-11-07T09:00:00Z", "email", "upsell");
	message(s, "ms2", "2026-11-07T10:00:00.5Z", "push", "service");
}

START_TEST(codec_round_trip)
{
	vb_state s, d;
	vb_buf a = { 0 }, b = { 0 };
	rich_state(&s);
	encode(&s, &a);
	ck_assert_int_eq(vb_state_decode(a.data, a.len, &d), 0);
	encode(&d, &b);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_mem_eq(a.data, b.data, a.len);
	ck_assert_uint_eq(d.ncases, 2);
	ck_assert_str_eq(find_case(&d, "T-1")->resolved_event, "r1");
	ck_assert_int_eq(find_case(&d, "T-2")->open_us, us_of("2026-11-03T09:00:00Z"));
	ck_assert_str_eq(d.missed_event, "mv");
	ck_assert_str_eq(d.missed_visit, "V-1");
	ck_assert_int_eq(d.completed_us, us_of("2026-11-03T09:00:00Z"));
	ck_assert_uint_eq(d.ninvoices, 2);
	ck_assert_uint_eq(d.nconsents, 2);
	ck_assert_uint_eq(d.nmessages, 2);
	ck_assert_int_eq(d.messages[1].at_us, us_of("2026-11-07T10:00:00.5Z"));
	ck_assert_str_eq(d.messages[1].purpose, "service");
	ck_assert_int_eq(d.max_us, s.max_us);
	/* The JSON views agree too. */
	char *js = to_json(&s), *jd = to_json(&d);
	ck_assert_str_eq(js, jd);
	free(js);
	free(jd);
	/* And the gate decides the same from both. */
	vb_rules r;
	vb_rules_defaults(&r);
	for (int p = 0; p < VB_NPURPOSES; p++) {
		for (int c = 0; c < VB_NCHANNELS; c++) {
			vb_decision x, y;
			vb_buf jx = { 0 }, jy = { 0 };
			vb_gate_decide(&r, &s, p, c, us_of("2026-11-08T00:00:00Z"), &x);
			vb_gate_decide(&r, &d, p, c, us_of("2026-11-08T00:00:00Z"), &y);
			ck_assert_int_eq(x.allow, y.allow);
			ck_assert_int_eq(vb_gate_reasons_json(&x, &jx), 0);
			ck_assert_int_eq(vb_gate_reasons_json(&y, &jy), 0);
			ck_assert_uint_eq(jx.len, jy.len);
			ck_assert_mem_eq(jx.data, jy.data, jx.len);
			vb_buf_free(&jx);
			vb_buf_free(&jy);
		}
	}
	vb_state_free(&s);
	vb_state_free(&d);
	vb_buf_free(&a);
	vb_buf_free(&b);
}
END_TEST

START_TEST(codec_empty)
{
	vb_state s = { 0 }, d;
	vb_buf a = { 0 }, b = { 0 };
	encode(&s, &a);
	ck_assert_int_eq(vb_state_decode(a.data, a.len, &d), 0);
	ck_assert_uint_eq(d.ncases + d.ninvoices + d.nconsents + d.nmessages, 0);
	ck_assert_int_eq(d.max_us, 0);
	encode(&d, &b);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_mem_eq(a.data, b.data, a.len);
	vb_state_free(&d);
	vb_buf_free(&a);
	vb_buf_free(&b);
}
END_TEST

/* The store decodes a state, folds more into it and encodes it again:
 * that must give what one fold of everything gives. */
START_TEST(decoded_state_folds_on)
{
	static const char *const ev[][4] = {
		{ "o1", "complaint.opened", "2026-11-01T00:00:00Z", "{\"case\":\"T-1\"}" },
		{ "mv", "visit.missed", "2026-11-01T01:00:00Z", "{\"visit\":\"V\"}" },
		{ "io", "invoice.overdue", "2026-11-01T02:00:00Z", "{\"invoice\":\"I\"}" },
		{ "cw", "consent.withdrawn", "2026-11-01T03:00:00Z", "{\"channel\":\"sms\"}" },
		{ "r1", "complaint.resolved", "2026-11-02T00:00:00Z", "{\"case\":\"T-1\"}" },
		{ "cv", "visit.completed", "2026-11-02T01:00:00Z", "{\"visit\":\"V\"}" },
		{ "ip", "invoice.paid", "2026-11-02T02:00:00Z", "{\"invoice\":\"I\"}" },
		{ "cg", "consent.granted", "2026-11-02T03:00:00Z", "{\"channel\":\"sms\"}" },
		{ "mv2", "visit.missed", "2026-11-03T01:00:00Z", "{\"visit\":\"V2\"}" },
	};
	const size_t n = sizeof(ev) / sizeof(ev[0]);
	for (size_t cut = 0; cut <= n; cut++) {
		vb_state whole = { 0 }, part = { 0 }, d;
		vb_buf b = { 0 };
		for (size_t i = 0; i < n; i++)
			fold(&whole, ev[i][0], ev[i][1], ev[i][2], ev[i][3]);
		for (size_t i = 0; i < cut; i++)
			fold(&part, ev[i][0], ev[i][1], ev[i][2], ev[i][3]);
		encode(&part, &b);
		ck_assert_int_eq(vb_state_decode(b.data, b.len, &d), 0);
		for (size_t i = cut; i < n; i++)
			fold(&d, ev[i][0], ev[i][1], ev[i][2], ev[i][3]);
		assert_same_state(&whole, &d, "fold after decode");
		vb_state_free(&whole);
		vb_state_free(&part);
		vb_state_free(&d);
		vb_buf_free(&b);
	}
}
END_TEST

START_TEST(codec_rejects_corrupt_bytes)
{
	vb_state s, d;
	vb_buf a = { 0 };
	rich_state(&s);
	encode(&s, &a);
	/* Every truncation, each right before an unreadable page: a decoder
	 * that trusts a length reads past the end and crashes. */
	for (size_t n = 0; n < a.len; n++) {
		uint8_t *g = guarded_copy(a.data, n);
		int rv = vb_state_decode(g, n, &d);
		ck_assert_msg(rv == VB_ECORRUPT, "%zu of %zu bytes: %d", n, a.len, rv);
		vb_state_free(&d);
		guarded_free(g, n);
	}
	/* A byte too many. */
	uint8_t *longer = malloc(a.len + 1);
	ck_assert_ptr_nonnull(longer);
	memcpy(longer, a.data, a.len);
	longer[a.len] = 0;
	ck_assert_int_eq(vb_state_decode(longer, a.len + 1, &d), VB_ECORRUPT);
	vb_state_free(&d);
	/* Another version. */
	memcpy(longer, a.data, a.len);
	longer[0] ^= 0x40;
	ck_assert_int_eq(vb_state_decode(longer, a.len, &d), VB_ECORRUPT);
	vb_state_free(&d);
	free(longer);
	/* A count far beyond the bytes: refused before allocating for it. */
	vb_buf big = { 0 };
	ck_assert_int_eq(vb_buf_append(&big, a.data, 9), 0); /* version, max_us */
	ck_assert_int_eq(vb_buf_append_varint(&big, (uint64_t)1 << 60), 0);
	ck_assert_int_eq(vb_state_decode(big.data, big.len, &d), VB_ECORRUPT);
	vb_state_free(&d);
	vb_buf_free(&big);
	vb_state_free(&s);
	vb_buf_free(&a);
}
END_TEST

START_TEST(codec_survives_random_damage)
{
	vbt_rng r = { vbt_seed("codec_survives_random_damage") };
	vb_state s, d;
	vb_buf a = { 0 };
	rich_state(&s);
	encode(&s, &a);
	uint8_t *p = malloc(a.len);
	ck_assert_ptr_nonnull(p);
	for (int round = 0; round < 3000; round++) {
		memcpy(p, a.data, a.len);
		int flips = (int)vbt_rand_range(&r, 1, 4);
		for (int f = 0; f < flips; f++)
			p[vbt_rand_range(&r, 1, (int64_t)a.len - 1)] = (uint8_t)vbt_rand(&r);
		size_t len = vbt_rand_range(&r, 0, 3) == 0 ?
		    (size_t)vbt_rand_range(&r, 0, (int64_t)a.len) : a.len;
		uint8_t *g = guarded_copy(p, len);
		int rv = vb_state_decode(g, len, &d);
		guarded_free(g, len);
		ck_assert_msg(rv == 0 || rv == VB_ECORRUPT, "round %d: %d", round, rv);
		if (rv == 0) {
			/* Whatever decodes is a state the rest can use. */
			vb_buf b = { 0 };
			vb_decision dec;
			vb_rules rules;
			vb_rules_defaults(&rules);
			encode(&d, &b);
			vb_gate_decide(&rules, &d, VB_P_UPSELL, VB_C_EMAIL, s.max_us, &dec);
			char *j = to_json(&d);
			free(j);
			vb_buf_free(&b);
		}
		vb_state_free(&d);
	}
	free(p);
	vb_state_free(&s);
	vb_buf_free(&a);
}
END_TEST

/* ---- the JSON view ---- */

START_TEST(json_view)
{
	vb_state s;
	json_error_t jerr;
	rich_state(&s);
	char *text = to_json(&s);
	json_t *j = json_loads(text, 0, &jerr);
	ck_assert_msg(j != NULL, "not JSON: %s: %.2000s", jerr.text, text);
	ck_assert_ptr_null(strstr(text, "XYZZY"));

	json_t *cs = json_object_get(j, "complaints");
	ck_assert_uint_eq(json_array_size(cs), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *c = json_array_get(cs, i);
		const char *id = json_string_value(json_object_get(c, "case"));
		const char *st = json_string_value(json_object_get(c, "status"));
		ck_assert_ptr_nonnull(id);
		ck_assert_ptr_nonnull(st);
		if (strcmp(id, "T-1") == 0) {
			ck_assert_str_eq(st, "resolved");
			ck_assert_str_eq(json_string_value(json_object_get(c, "resolved")),
			    "2026-11-02T09:00:00Z");
			ck_assert_str_eq(json_string_value(json_object_get(c, "resolved_event")), "r1");
		} else {
			ck_assert_str_eq(id, "T-2");
			ck_assert_str_eq(st, "open");
			ck_assert_str_eq(json_string_value(json_object_get(c, "opened")),
			    "2026-11-03T09:00:00Z");
			ck_assert_str_eq(json_string_value(json_object_get(c, "opened_event")), "o2");
		}
	}
	json_t *v = json_object_get(j, "visits");
	ck_assert_str_eq(json_string_value(json_object_get(v, "last_missed")), "2026-11-04T09:00:00Z");
	ck_assert_str_eq(json_string_value(json_object_get(v, "missed_event")), "mv");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "invoices")), 2);
	json_t *consent = json_object_get(j, "consent");
	ck_assert_uint_eq(json_array_size(consent), 2);
	int seen_all = 0;
	for (size_t i = 0; i < 2; i++) {
		json_t *c = json_array_get(consent, i);
		if (strcmp(json_string_value(json_object_get(c, "channel")), "sms") == 0) {
			ck_assert_str_eq(json_string_value(json_object_get(c, "purpose")), "*");
			ck_assert_str_eq(json_string_value(json_object_get(c, "consent")), "withdrawn");
			seen_all = 1;
		}
	}
	ck_assert_int_eq(seen_all, 1);
	json_t *ms = json_object_get(j, "messages");
	ck_assert_uint_eq(json_array_size(ms), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ms, 0), "event")), "ms1");
	json_decref(j);
	free(text);
	vb_state_free(&s);

	/* An empty state is a valid document too. */
	vb_state e = { 0 };
	text = to_json(&e);
	j = json_loads(text, 0, &jerr);
	ck_assert_msg(j != NULL, "not JSON: %.2000s", text);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "complaints")), 0);
	json_decref(j);
	free(text);
}
END_TEST

START_TEST(json_never_holds_complaint_text)
{
	/* Every complaint event of a random history carries the marker in
	 * its free text; none of it may reach the JSON view. */
	vbt_rng r = { vbt_seed("json_never_holds_complaint_text") };
	history hs;
	vb_state s[HIST_CUST];
	memset(s, 0, sizeof(s));
	history_make(&hs, &r);
	for (size_t i = 0; i < HIST_N; i++)
		if (hs.facts[i].kind != VB_FACT_NONE)
			ck_assert_int_eq(vb_state_apply(&s[hs.cust[i]], &hs.facts[i], KEEP), 0);
	for (int c = 0; c < HIST_CUST; c++) {
		vb_buf b = { 0 };
		char *j = to_json(&s[c]);
		ck_assert_msg(strstr(j, "XYZZY") == NULL, "complaint text in %.2000s", j);
		json_t *doc = json_loads(j, 0, NULL);
		ck_assert_msg(doc != NULL, "not JSON: %.2000s", j);
		json_decref(doc);
		free(j);
		encode(&s[c], &b);
		ck_assert_ptr_null(memmem(b.data, b.len, "XYZZY", 5));
		vb_buf_free(&b);
		vb_state_free(&s[c]);
	}
	history_free(&hs);
}
END_TEST

static Suite *
state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("facts");
	tcase_add_test(tc, fact_of_each_type);
	tcase_add_test(tc, fact_time_is_the_one_given);
	tcase_add_test(tc, fact_consent_every_purpose);
	suite_add_tcase(s, tc);

	tc = tcase_create("fold");
	tcase_add_test(tc, empty_state);
	tcase_add_test(tc, complaint_lifecycle);
	tcase_add_test(tc, resolved_before_opened_ends_resolved);
	tcase_add_test(tc, late_opening_keeps_the_reopen);
	tcase_add_test(tc, visits_and_invoices);
	tcase_add_test(tc, consent_latest_wins);
	tcase_add_test(tc, equal_times_break_by_event_id);
	tcase_add_test(tc, keyed_lists_do_not_depend_on_arrival);
	tcase_add_test(tc, messages_sorted_and_once);
	tcase_add_test(tc, messages_pruned_to_the_window);
	tcase_add_test(tc, permutations_give_identical_states);
	suite_add_tcase(s, tc);

	tc = tcase_create("codec");
	tcase_add_test(tc, codec_round_trip);
	tcase_add_test(tc, codec_empty);
	tcase_add_test(tc, decoded_state_folds_on);
	tcase_add_test(tc, codec_rejects_corrupt_bytes);
	tcase_add_test(tc, codec_survives_random_damage);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, json_view);
	tcase_add_test(tc, json_never_holds_complaint_text);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(state_suite());
}
