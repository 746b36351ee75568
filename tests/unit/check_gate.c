/* Unit tests of broker/vb_gate: the contact rules of the contract at their
 * boundaries, the reasons a decision lists, the rules' configuration and
 * the JSON forms of decisions. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vb_buf.h"
#include "vb_error.h"
#include "vb_gate.h"
#include "vb_state.h"
#include "vb_time.h"
#include "vb_test.h"

#define SEC (1000000LL)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static int64_t
T(const char *rfc3339)
{
	int64_t us;
	ck_assert_msg(vb_time_parse(rfc3339, &us) == 0, "bad time %s", rfc3339);
	return us;
}

static const char *
fmt(int64_t us, char *buf)
{
	return vb_time_format(us, buf);
}

/* Fold one fact into s. */
static void
add(vb_state *s, vb_fact_kind kind, int64_t at, const char *event,
    const char *key, const char *purpose)
{
	vb_rules r;
	vb_fact f = { kind, at, event, key ? key : "", purpose ? purpose : "" };
	vb_rules_defaults(&r);
	ck_assert_int_eq(vb_state_apply(s, &f, vb_rules_keep_us(&r)), 0);
}

static void
msg(vb_state *s, int64_t at, const char *event, const char *channel,
    const char *purpose)
{
	add(s, VB_FACT_MESSAGE_SENT, at, event, channel, purpose);
}

static vb_decision
decide_r(const vb_rules *r, const vb_state *s, int purpose, int channel, int64_t at)
{
	vb_decision d;
	vb_gate_decide(r, s, purpose, channel, at, &d);
	/* A decision is a block exactly when it has a reason. */
	ck_assert_int_eq(d.allow, d.nreasons == 0 && d.dropped == 0);
	return d;
}

static vb_decision
decide(const vb_state *s, int purpose, int channel, int64_t at)
{
	vb_rules r;
	vb_rules_defaults(&r);
	return decide_r(&r, s, purpose, channel, at);
}

static size_t
count_rule(const vb_decision *d, vb_rule_id rule)
{
	size_t n = 0;
	for (size_t i = 0; i < d->nreasons; i++)
		n += d->reasons[i].rule == rule;
	return n;
}

/* Assert d lists rule caused by event since `since`, until `until` (0:
 * not known). */
static void
assert_reason(const vb_decision *d, vb_rule_id rule, const char *event,
    int64_t since, int64_t until)
{
	char c[VB_TIME_BUFSZ], e[VB_TIME_BUFSZ];
	for (size_t i = 0; i < d->nreasons; i++) {
		const vb_reason *r = &d->reasons[i];
		if (r->rule == rule && strcmp(r->event, event) == 0 && r->since_us == since &&
		    r->until_us == until)
			return;
	}
	vb_buf j = { 0 };
	vb_gate_reasons_json(d, &j);
	vb_buf_append_byte(&j, 0);
	ck_abort_msg("no %s reason caused by %s since %s until %s in %.3000s", vb_rule_names[rule],
	    event, fmt(since, c), until ? fmt(until, e) : "-", (const char *)j.data);
}

static void
assert_allowed(const vb_state *s, int purpose, int channel, int64_t at)
{
	vb_decision d = decide(s, purpose, channel, at);
	if (!d.allow) {
		char t[VB_TIME_BUFSZ];
		vb_buf j = { 0 };
		vb_gate_reasons_json(&d, &j);
		vb_buf_append_byte(&j, 0);
		ck_abort_msg("%s on %s at %s blocked: %.3000s", vb_purpose_names[purpose],
		    vb_channel_names[channel], fmt(at, t), (const char *)j.data);
	}
}

static void
assert_blocked(const vb_state *s, int purpose, int channel, int64_t at)
{
	char t[VB_TIME_BUFSZ];
	vb_decision d = decide(s, purpose, channel, at);
	ck_assert_msg(!d.allow, "%s on %s at %s allowed", vb_purpose_names[purpose],
	    vb_channel_names[channel], fmt(at, t));
}

/* ---- names and defaults ---- */

START_TEST(names_and_indexes)
{
	static const char *const p[] = { "service", "upsell", "cross-sell", "promotion", "survey" };
	static const char *const c[] = { "email", "sms", "phone", "post", "push" };
	static const char *const r[] = { "open-complaint", "complaint-cooloff", "missed-visit",
		"overdue-invoice", "no-consent", "frequency-cap" };
	for (int i = 0; i < VB_NPURPOSES; i++) {
		ck_assert_str_eq(vb_purpose_names[i], p[i]);
		ck_assert_int_eq(vb_purpose_index(p[i]), i);
	}
	for (int i = 0; i < VB_NCHANNELS; i++) {
		ck_assert_str_eq(vb_channel_names[i], c[i]);
		ck_assert_int_eq(vb_channel_index(c[i]), i);
	}
	for (int i = 0; i < VB_NRULES; i++)
		ck_assert_str_eq(vb_rule_names[i], r[i]);
	ck_assert_int_eq(vb_purpose_index("marketing"), -1);
	ck_assert_int_eq(vb_purpose_index(""), -1);
	ck_assert_int_eq(vb_purpose_index("Upsell"), -1);
	ck_assert_int_eq(vb_channel_index("fax"), -1);
	ck_assert_int_eq(vb_channel_index(""), -1);
}
END_TEST

START_TEST(defaults_are_the_contract)
{
	vb_rules r;
	const unsigned all = (1u << VB_P_UPSELL) | (1u << VB_P_CROSS_SELL) |
	    (1u << VB_P_PROMOTION) | (1u << VB_P_SURVEY);
	const unsigned selling = (1u << VB_P_UPSELL) | (1u << VB_P_CROSS_SELL);
	memset(&r, 0xa5, sizeof(r));
	vb_rules_defaults(&r);
	for (int i = 0; i < VB_NRULES; i++)
		ck_assert_int_eq(r.rule[i].enabled, 1);
	ck_assert_uint_eq(r.rule[VB_RULE_OPEN_COMPLAINT].blocks, all);
	ck_assert_uint_eq(r.rule[VB_RULE_COOLOFF].blocks, selling);
	ck_assert_uint_eq(r.rule[VB_RULE_MISSED_VISIT].blocks, all);
	ck_assert_uint_eq(r.rule[VB_RULE_OVERDUE_INVOICE].blocks, selling);
	ck_assert_uint_eq(r.rule[VB_RULE_NO_CONSENT].blocks, all);
	ck_assert_uint_eq(r.rule[VB_RULE_FREQUENCY_CAP].blocks, all);
	ck_assert_int_eq(r.cooloff_us, 14 * DAY);
	ck_assert_int_eq(r.cap_window_us, 7 * DAY);
	ck_assert_int_eq(r.cap_max, 3);
	ck_assert_int_eq(r.cap_per_day, 1);
	/* The state must keep at least the cap window and a calendar day. */
	ck_assert_int_ge(vb_rules_keep_us(&r), 7 * DAY);
	ck_assert_int_eq(vb_rules_set(&r, "frequency-cap", "window", "2h", NULL, 0), 0);
	ck_assert_int_ge(vb_rules_keep_us(&r), DAY);
}
END_TEST

/* ---- each rule at its boundaries ---- */

START_TEST(no_events_allowed)
{
	vb_state s = { 0 };
	for (int p = 0; p < VB_NPURPOSES; p++)
		for (int c = 0; c < VB_NCHANNELS; c++) {
			vb_decision d = decide(&s, p, c, T("2026-11-20T00:00:00Z"));
			ck_assert_int_eq(d.allow, 1);
			ck_assert_uint_eq(d.nreasons, 0);
		}
}
END_TEST

START_TEST(open_complaint_blocks_all_but_service)
{
	vb_state s = { 0 };
	int64_t t = T("2026-11-20T09:12:00Z");
	add(&s, VB_FACT_COMPLAINT_OPEN, t, "zd-4411-opened", "T-4411", NULL);
	for (int c = 0; c < VB_NCHANNELS; c++) {
		assert_allowed(&s, VB_P_SERVICE, c, t + HOUR);
		for (int p = VB_P_UPSELL; p < VB_NPURPOSES; p++) {
			vb_decision d = decide(&s, p, c, t + HOUR);
			ck_assert_int_eq(d.allow, 0);
			ck_assert_uint_eq(d.nreasons, 1);
			assert_reason(&d, VB_RULE_OPEN_COMPLAINT, "zd-4411-opened", t, 0);
		}
	}
	/* Open is open however long ago. */
	assert_blocked(&s, VB_P_SURVEY, VB_C_POST, t + 400 * DAY);
	vb_state_free(&s);
}
END_TEST

START_TEST(cooloff_boundary)
{
	vb_state s = { 0 };
	int64_t opened = T("2026-11-01T09:00:00Z"), resolved = T("2026-11-03T10:20:30Z");
	add(&s, VB_FACT_COMPLAINT_OPEN, opened, "c-opened", "T-1", NULL);
	add(&s, VB_FACT_COMPLAINT_RESOLVED, resolved, "c-resolved", "T-1", NULL);
	const int64_t almost = resolved + 13 * DAY + 23 * HOUR + 59 * MIN;
	for (int c = 0; c < VB_NCHANNELS; c++) {
		for (int p = VB_P_UPSELL; p <= VB_P_CROSS_SELL; p++) {
			vb_decision d = decide(&s, p, c, almost);
			ck_assert_int_eq(d.allow, 0);
			ck_assert_uint_eq(d.nreasons, 1);
			assert_reason(&d, VB_RULE_COOLOFF, "c-resolved", resolved, resolved + 14 * DAY);
			d = decide(&s, p, c, resolved + 14 * DAY - 1);
			ck_assert_int_eq(d.allow, 0);
			/* 14 days after the resolution: allowed. */
			assert_allowed(&s, p, c, resolved + 14 * DAY);
			assert_allowed(&s, p, c, resolved + 30 * DAY);
		}
		/* Other purposes are free once the complaint is resolved. */
		assert_allowed(&s, VB_P_PROMOTION, c, resolved + MIN);
		assert_allowed(&s, VB_P_SURVEY, c, resolved + MIN);
		assert_allowed(&s, VB_P_SERVICE, c, resolved + MIN);
	}
	vb_state_free(&s);
}
END_TEST

START_TEST(reopened_complaint)
{
	vb_state s = { 0 };
	int64_t t1 = T("2026-11-01T09:00:00Z"), t2 = T("2026-11-02T09:00:00Z"),
		t3 = T("2026-11-04T17:45:00Z"), t4 = T("2026-11-10T08:00:00Z");
	add(&s, VB_FACT_COMPLAINT_OPEN, t1, "o", "T-1", NULL);
	add(&s, VB_FACT_COMPLAINT_RESOLVED, t2, "r", "T-1", NULL);
	assert_allowed(&s, VB_P_PROMOTION, VB_C_EMAIL, t2 + HOUR);
	add(&s, VB_FACT_COMPLAINT_OPEN, t3, "re", "T-1", NULL);
	/* Open again: every purpose but service, and since the reopening.
	 * Open, it is no longer resolved: no cool-off from the resolution it
	 * undid (which would still run, t3 being within 14 days of t2). */
	for (int p = VB_P_UPSELL; p < VB_NPURPOSES; p++) {
		vb_decision d = decide(&s, p, VB_C_SMS, t3 + HOUR);
		ck_assert_int_eq(d.allow, 0);
		ck_assert_uint_eq(d.nreasons, 1);
		assert_reason(&d, VB_RULE_OPEN_COMPLAINT, "re", t3, 0);
	}
	/* Still open long after the first cool-off would have ended. */
	assert_blocked(&s, VB_P_PROMOTION, VB_C_SMS, t2 + 20 * DAY);
	assert_allowed(&s, VB_P_SERVICE, VB_C_SMS, t3 + HOUR);
	/* Resolved again: a new cool-off from the second resolution. */
	add(&s, VB_FACT_COMPLAINT_RESOLVED, t4, "r2", "T-1", NULL);
	assert_allowed(&s, VB_P_PROMOTION, VB_C_SMS, t4 + HOUR);
	vb_decision d = decide(&s, VB_P_UPSELL, VB_C_SMS, t4 + HOUR);
	ck_assert_uint_eq(d.nreasons, 1);
	assert_reason(&d, VB_RULE_COOLOFF, "r2", t4, t4 + 14 * DAY);
	assert_allowed(&s, VB_P_UPSELL, VB_C_SMS, t4 + 14 * DAY);
	vb_state_free(&s);
}
END_TEST

START_TEST(resolution_arriving_first)
{
	/* Out of order: the resolution, later in time, is folded first. */
	vb_state s = { 0 };
	int64_t t1 = T("2026-11-01T09:00:00Z"), t2 = T("2026-11-02T09:00:00Z");
	add(&s, VB_FACT_COMPLAINT_RESOLVED, t2, "r", "T-1", NULL);
	add(&s, VB_FACT_COMPLAINT_OPEN, t1, "o", "T-1", NULL);
	vb_decision d = decide(&s, VB_P_UPSELL, VB_C_EMAIL, t2 + DAY);
	ck_assert_uint_eq(count_rule(&d, VB_RULE_OPEN_COMPLAINT), 0);
	assert_reason(&d, VB_RULE_COOLOFF, "r", t2, t2 + 14 * DAY);
	assert_allowed(&s, VB_P_PROMOTION, VB_C_EMAIL, t2 + DAY);
	vb_state_free(&s);
}
END_TEST

START_TEST(frequency_cap_third_and_fourth)
{
	vb_state s = { 0 };
	int64_t m1 = T("2026-11-02T10:00:00Z"), m2 = T("2026-11-03T10:00:00Z"),
		m3 = T("2026-11-04T10:00:00Z"), at = T("2026-11-04T12:00:00Z");
	msg(&s, m1, "m1", "email", "upsell");
	msg(&s, m2, "m2", "sms", "promotion");
	/* Service messages never count, even many of them. */
	msg(&s, m2 + HOUR, "s1", "post", "service");
	msg(&s, m2 + 2 * HOUR, "s2", "post", "service");
	msg(&s, m2 + 3 * HOUR, "s3", "push", "service");
	/* Two sent: the third is allowed. */
	for (int p = VB_P_UPSELL; p < VB_NPURPOSES; p++)
		assert_allowed(&s, p, VB_C_POST, at - 3 * HOUR);
	msg(&s, m3, "m3", "push", "survey");
	/* Three sent in 7 days: the fourth is blocked, whatever its purpose
	 * and channel, until the oldest leaves the window. */
	for (int p = VB_P_UPSELL; p < VB_NPURPOSES; p++) {
		for (int c = 0; c < VB_NCHANNELS; c++) {
			vb_decision d = decide(&s, p, c, at);
			ck_assert_int_eq(d.allow, 0);
			if (c == VB_C_PHONE || c == VB_C_POST) /* no message today there */
				ck_assert_uint_eq(d.nreasons, 1);
			assert_reason(&d, VB_RULE_FREQUENCY_CAP, "m3", m3, m1 + 7 * DAY);
		}
		assert_allowed(&s, VB_P_SERVICE, VB_C_POST, at);
	}
	assert_blocked(&s, VB_P_UPSELL, VB_C_PHONE, m1 + 7 * DAY - 1);
	assert_allowed(&s, VB_P_UPSELL, VB_C_PHONE, m1 + 7 * DAY);
	vb_state_free(&s);
}
END_TEST

START_TEST(frequency_cap_over_full)
{
	/* Five marketing messages in the window (sent by others): the window
	 * reopens only when three have left it. */
	vb_state s = { 0 };
	int64_t d0 = T("2026-11-01T08:00:00Z");
	static const char *const ch[] = { "email", "sms", "phone", "post", "push" };
	for (int i = 0; i < 5; i++) {
		char id[8];
		snprintf(id, sizeof(id), "m%d", i);
		msg(&s, d0 + i * DAY, id, ch[i], "promotion");
	}
	int64_t at = d0 + 4 * DAY + HOUR;
	vb_decision d = decide(&s, VB_P_UPSELL, VB_C_EMAIL, at);
	ck_assert_uint_eq(d.nreasons, 1);
	assert_reason(&d, VB_RULE_FREQUENCY_CAP, "m4", d0 + 4 * DAY, d0 + 2 * DAY + 7 * DAY);
	assert_blocked(&s, VB_P_UPSELL, VB_C_EMAIL, d0 + 9 * DAY - 1);
	assert_allowed(&s, VB_P_UPSELL, VB_C_EMAIL, d0 + 9 * DAY);
	vb_state_free(&s);
}
END_TEST

START_TEST(per_day_cap_across_midnight)
{
	vb_state s = { 0 };
	int64_t m = T("2026-11-10T23:30:00Z"), midnight = T("2026-11-11T00:00:00Z");
	msg(&s, m, "late", "email", "promotion");
	/* A service message on sms the same evening changes nothing. */
	msg(&s, m, "svc", "sms", "service");
	for (int p = VB_P_UPSELL; p < VB_NPURPOSES; p++) {
		vb_decision d = decide(&s, p, VB_C_EMAIL, T("2026-11-10T23:45:00Z"));
		ck_assert_int_eq(d.allow, 0);
		ck_assert_uint_eq(d.nreasons, 1);
		assert_reason(&d, VB_RULE_FREQUENCY_CAP, "late", m, midnight);
		assert_blocked(&s, p, VB_C_EMAIL, midnight - 1);
		/* A new UTC day: email again. */
		assert_allowed(&s, p, VB_C_EMAIL, midnight);
		/* Other channels never were affected. */
		assert_allowed(&s, p, VB_C_SMS, T("2026-11-10T23:45:00Z"));
		assert_allowed(&s, p, VB_C_PUSH, T("2026-11-10T23:45:00Z"));
	}
	/* One sent at midnight counts for the new day. */
	msg(&s, midnight, "early", "email", "upsell");
	vb_decision d = decide(&s, VB_P_SURVEY, VB_C_EMAIL, midnight + 5 * HOUR);
	ck_assert_uint_eq(d.nreasons, 1);
	assert_reason(&d, VB_RULE_FREQUENCY_CAP, "early", midnight, midnight + DAY);
	/* A service message on a channel does not use its day. */
	vb_state t = { 0 };
	msg(&t, m, "svc", "email", "service");
	assert_allowed(&t, VB_P_UPSELL, VB_C_EMAIL, m + MIN);
	vb_state_free(&t);
	vb_state_free(&s);
}
END_TEST

START_TEST(consent_channel_withdrawn_then_granted)
{
	vb_state s = { 0 };
	int64_t t1 = T("2026-11-02T12:00:00Z"), t2 = T("2026-11-05T12:00:00Z");
	add(&s, VB_FACT_CONSENT_WITHDRAWN, t1, "w-email", "email", "");
	for (int p = VB_P_UPSELL; p < VB_NPURPOSES; p++) {
		vb_decision d = decide(&s, p, VB_C_EMAIL, t1 + HOUR);
		ck_assert_uint_eq(d.nreasons, 1);
		assert_reason(&d, VB_RULE_NO_CONSENT, "w-email", t1, 0);
		for (int c = VB_C_SMS; c < VB_NCHANNELS; c++)
			assert_allowed(&s, p, c, t1 + HOUR);
	}
	assert_allowed(&s, VB_P_SERVICE, VB_C_EMAIL, t1 + HOUR);
	add(&s, VB_FACT_CONSENT_GRANTED, t2, "g-email", "email", "");
	for (int p = 0; p < VB_NPURPOSES; p++)
		assert_allowed(&s, p, VB_C_EMAIL, t2 + HOUR);
	vb_state_free(&s);
}
END_TEST

START_TEST(consent_one_purpose)
{
	vb_state s = { 0 };
	int64_t t1 = T("2026-11-02T12:00:00Z"), t2 = T("2026-11-05T12:00:00Z");
	add(&s, VB_FACT_CONSENT_WITHDRAWN, t1, "w-sms-upsell", "sms", "upsell");
	vb_decision d = decide(&s, VB_P_UPSELL, VB_C_SMS, t1 + HOUR);
	ck_assert_uint_eq(d.nreasons, 1);
	assert_reason(&d, VB_RULE_NO_CONSENT, "w-sms-upsell", t1, 0);
	assert_allowed(&s, VB_P_PROMOTION, VB_C_SMS, t1 + HOUR);
	assert_allowed(&s, VB_P_CROSS_SELL, VB_C_SMS, t1 + HOUR);
	assert_allowed(&s, VB_P_UPSELL, VB_C_EMAIL, t1 + HOUR);
	add(&s, VB_FACT_CONSENT_GRANTED, t2, "g-sms-upsell", "sms", "upsell");
	assert_allowed(&s, VB_P_UPSELL, VB_C_SMS, t2 + HOUR);
	vb_state_free(&s);
}
END_TEST

START_TEST(consent_purpose_and_channel_together)
{
	vb_state s = { 0 };
	int64_t t1 = T("2026-11-02T12:00:00Z"), t2 = T("2026-11-05T12:00:00Z");
	/* Withdrawn for the whole channel, then granted for one purpose:
	 * that purpose only is allowed again. */
	add(&s, VB_FACT_CONSENT_WITHDRAWN, t1, "w-sms", "sms", "");
	add(&s, VB_FACT_CONSENT_GRANTED, t2, "g-sms-promo", "sms", "promotion");
	assert_allowed(&s, VB_P_PROMOTION, VB_C_SMS, t2 + HOUR);
	vb_decision d = decide(&s, VB_P_UPSELL, VB_C_SMS, t2 + HOUR);
	assert_reason(&d, VB_RULE_NO_CONSENT, "w-sms", t1, 0);
	/* Granted for the whole channel after a withdrawal for one purpose:
	 * the later word covers it. */
	add(&s, VB_FACT_CONSENT_WITHDRAWN, t1, "w-push-survey", "push", "survey");
	add(&s, VB_FACT_CONSENT_GRANTED, t2, "g-push", "push", "");
	assert_allowed(&s, VB_P_SURVEY, VB_C_PUSH, t2 + HOUR);
	/* And the other way round in time: a withdrawal for one purpose
	 * after a grant for all still blocks that purpose. */
	add(&s, VB_FACT_CONSENT_GRANTED, t1, "g-post", "post", "");
	add(&s, VB_FACT_CONSENT_WITHDRAWN, t2, "w-post-upsell", "post", "upsell");
	d = decide(&s, VB_P_UPSELL, VB_C_POST, t2 + HOUR);
	assert_reason(&d, VB_RULE_NO_CONSENT, "w-post-upsell", t2, 0);
	assert_allowed(&s, VB_P_CROSS_SELL, VB_C_POST, t2 + HOUR);
	vb_state_free(&s);
}
END_TEST

START_TEST(missed_visit_then_completed)
{
	vb_state s = { 0 };
	int64_t t1 = T("2026-11-22T12:00:01Z"), t2 = T("2026-11-24T10:00:00Z");
	add(&s, VB_FACT_VISIT_MISSED, t1, "fs-78-missed", "V-78", NULL);
	for (int p = VB_P_UPSELL; p < VB_NPURPOSES; p++) {
		vb_decision d = decide(&s, p, VB_C_PHONE, t1 + HOUR);
		ck_assert_uint_eq(d.nreasons, 1);
		assert_reason(&d, VB_RULE_MISSED_VISIT, "fs-78-missed", t1, 0);
	}
	assert_allowed(&s, VB_P_SERVICE, VB_C_PHONE, t1 + HOUR);
	add(&s, VB_FACT_VISIT_COMPLETED, t2, "fs-79-completed", "V-79", NULL);
	for (int p = 0; p < VB_NPURPOSES; p++)
		assert_allowed(&s, p, VB_C_PHONE, t2 + HOUR);
	vb_state_free(&s);
}
END_TEST

START_TEST(completed_then_missed)
{
	vb_state s = { 0 };
	int64_t t1 = T("2026-11-21T10:40:30Z"), t2 = T("2026-11-22T12:00:01Z");
	add(&s, VB_FACT_VISIT_COMPLETED, t1, "fs-77-completed", "V-77", NULL);
	assert_allowed(&s, VB_P_UPSELL, VB_C_EMAIL, t1 + HOUR);
	add(&s, VB_FACT_VISIT_MISSED, t2, "fs-78-missed", "V-78", NULL);
	vb_decision d = decide(&s, VB_P_PROMOTION, VB_C_EMAIL, t2 + HOUR);
	ck_assert_uint_eq(d.nreasons, 1);
	assert_reason(&d, VB_RULE_MISSED_VISIT, "fs-78-missed", t2, 0);
	vb_state_free(&s);

	/* The same folded in the other order. */
	vb_state o = { 0 };
	add(&o, VB_FACT_VISIT_MISSED, t2, "fs-78-missed", "V-78", NULL);
	add(&o, VB_FACT_VISIT_COMPLETED, t1, "fs-77-completed", "V-77", NULL);
	d = decide(&o, VB_P_PROMOTION, VB_C_EMAIL, t2 + HOUR);
	assert_reason(&d, VB_RULE_MISSED_VISIT, "fs-78-missed", t2, 0);
	vb_state_free(&o);
}
END_TEST

START_TEST(overdue_invoice_then_paid)
{
	vb_state s = { 0 };
	int64_t t1 = T("2026-12-21T00:00:00Z"), t2 = T("2026-12-22T13:45:00Z");
	add(&s, VB_FACT_INVOICE_OVERDUE, t1, "erp-9001-overdue", "INV-9001", NULL);
	add(&s, VB_FACT_INVOICE_OVERDUE, t1 + HOUR, "erp-9002-overdue", "INV-9002", NULL);
	for (int p = VB_P_UPSELL; p <= VB_P_CROSS_SELL; p++) {
		vb_decision d = decide(&s, p, VB_C_EMAIL, t1 + 2 * HOUR);
		ck_assert_uint_eq(d.nreasons, 2);
		assert_reason(&d, VB_RULE_OVERDUE_INVOICE, "erp-9001-overdue", t1, 0);
		assert_reason(&d, VB_RULE_OVERDUE_INVOICE, "erp-9002-overdue", t1 + HOUR, 0);
	}
	assert_allowed(&s, VB_P_PROMOTION, VB_C_EMAIL, t1 + 2 * HOUR);
	assert_allowed(&s, VB_P_SURVEY, VB_C_EMAIL, t1 + 2 * HOUR);
	add(&s, VB_FACT_INVOICE_PAID, t2, "erp-9001-paid", "INV-9001", NULL);
	vb_decision d = decide(&s, VB_P_UPSELL, VB_C_EMAIL, t2 + HOUR);
	ck_assert_uint_eq(d.nreasons, 1);
	assert_reason(&d, VB_RULE_OVERDUE_INVOICE, "erp-9002-overdue", t1 + HOUR, 0);
	add(&s, VB_FACT_INVOICE_PAID, t2, "erp-9002-paid", "INV-9002", NULL);
	assert_allowed(&s, VB_P_UPSELL, VB_C_EMAIL, t2 + HOUR);
	assert_allowed(&s, VB_P_CROSS_SELL, VB_C_EMAIL, t2 + HOUR);
	vb_state_free(&s);
}
END_TEST

/* Everything a customer can have against them, for customer C. */
static void
everything(vb_state *s, int64_t *at)
{
	int64_t t = T("2026-11-10T08:00:00Z");
	memset(s, 0, sizeof(*s));
	add(s, VB_FACT_COMPLAINT_OPEN, t, "open-1", "T-1", NULL);
	add(s, VB_FACT_COMPLAINT_OPEN, t - 5 * DAY, "open-2", "T-2", NULL);
	add(s, VB_FACT_COMPLAINT_RESOLVED, t - 2 * DAY, "resolved-2", "T-2", NULL);
	add(s, VB_FACT_VISIT_MISSED, t + HOUR, "missed-1", "V-1", NULL);
	add(s, VB_FACT_INVOICE_OVERDUE, t + 2 * HOUR, "overdue-1", "I-1", NULL);
	add(s, VB_FACT_CONSENT_WITHDRAWN, t + 3 * HOUR, "withdrawn-email", "email", "");
	add(s, VB_FACT_CONSENT_WITHDRAWN, t + 3 * HOUR, "withdrawn-email-service", "email", "service");
	msg(s, t - 2 * DAY, "sent-1", "sms", "upsell");
	msg(s, t - 1 * DAY, "sent-2", "push", "promotion");
	msg(s, t + 4 * HOUR, "sent-3", "email", "survey");
	*at = t + 5 * HOUR;
}

START_TEST(service_never_blocked)
{
	vb_state s;
	int64_t at;
	everything(&s, &at);
	/* With the defaults, and with every rule set to block every purpose
	 * it may and the strictest caps. */
	vb_rules strict;
	char err[256];
	vb_rules_defaults(&strict);
	for (int i = 0; i < VB_NRULES; i++)
		ck_assert_int_eq(vb_rules_set(&strict, vb_rule_names[i], "blocks",
		    "upsell, cross-sell, promotion, survey", err, sizeof(err)), 0);
	ck_assert_int_eq(vb_rules_set(&strict, "frequency-cap", "max", "0", err, sizeof(err)), 0);
	ck_assert_int_eq(vb_rules_set(&strict, "frequency-cap", "per_channel_per_day", "0", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(vb_rules_set(&strict, "complaint-cooloff", "duration", "36500d", err,
	    sizeof(err)), 0);
	vb_rules def;
	vb_rules_defaults(&def);
	for (int c = 0; c < VB_NCHANNELS; c++) {
		for (int64_t dt = 0; dt < 40 * DAY; dt += 5 * DAY) {
			vb_decision d = decide_r(&def, &s, VB_P_SERVICE, c, at + dt);
			ck_assert_int_eq(d.allow, 1);
			ck_assert_uint_eq(d.nreasons, 0);
			d = decide_r(&strict, &s, VB_P_SERVICE, c, at + dt);
			ck_assert_int_eq(d.allow, 1);
			ck_assert_uint_eq(d.nreasons, 0);
		}
		/* While everything else is blocked. */
		for (int p = VB_P_UPSELL; p < VB_NPURPOSES; p++)
			assert_blocked(&s, p, c, at);
	}
	vb_state_free(&s);
}
END_TEST

/* ---- reasons ---- */

START_TEST(every_reason_listed)
{
	/* The example: an open complaint, an overdue invoice and the
	 * frequency cap together. */
	vb_state s = { 0 };
	int64_t t = T("2026-11-10T08:00:00Z");
	add(&s, VB_FACT_COMPLAINT_OPEN, t, "open-1", "T-1", NULL);
	add(&s, VB_FACT_INVOICE_OVERDUE, t + HOUR, "overdue-1", "I-1", NULL);
	msg(&s, t - 3 * DAY, "sent-1", "sms", "upsell");
	msg(&s, t - 2 * DAY, "sent-2", "push", "promotion");
	msg(&s, t - 1 * DAY, "sent-3", "post", "survey");
	vb_decision d = decide(&s, VB_P_UPSELL, VB_C_EMAIL, t + 2 * HOUR);
	ck_assert_int_eq(d.allow, 0);
	ck_assert_uint_eq(d.nreasons, 3);
	assert_reason(&d, VB_RULE_OPEN_COMPLAINT, "open-1", t, 0);
	assert_reason(&d, VB_RULE_OVERDUE_INVOICE, "overdue-1", t + HOUR, 0);
	assert_reason(&d, VB_RULE_FREQUENCY_CAP, "sent-3", t - DAY, t - 3 * DAY + 7 * DAY);
	/* Promotion: the invoice does not apply to it. */
	d = decide(&s, VB_P_PROMOTION, VB_C_EMAIL, t + 2 * HOUR);
	ck_assert_uint_eq(d.nreasons, 2);
	ck_assert_uint_eq(count_rule(&d, VB_RULE_OVERDUE_INVOICE), 0);
	vb_state_free(&s);

	/* Everything at once: each rule, each with its cause. */
	int64_t at;
	everything(&s, &at);
	t = T("2026-11-10T08:00:00Z");
	d = decide(&s, VB_P_UPSELL, VB_C_EMAIL, at);
	assert_reason(&d, VB_RULE_OPEN_COMPLAINT, "open-1", t, 0);
	assert_reason(&d, VB_RULE_COOLOFF, "resolved-2", t - 2 * DAY, t + 12 * DAY);
	assert_reason(&d, VB_RULE_MISSED_VISIT, "missed-1", t + HOUR, 0);
	assert_reason(&d, VB_RULE_OVERDUE_INVOICE, "overdue-1", t + 2 * HOUR, 0);
	assert_reason(&d, VB_RULE_NO_CONSENT, "withdrawn-email", t + 3 * HOUR, 0);
	/* The cap twice: 3 in 7 days, and email already used today. */
	ck_assert_uint_eq(count_rule(&d, VB_RULE_FREQUENCY_CAP), 2);
	assert_reason(&d, VB_RULE_FREQUENCY_CAP, "sent-3", t + 4 * HOUR, t - 2 * DAY + 7 * DAY);
	ck_assert_uint_eq(d.nreasons, 7);
	int found_day = 0;
	for (size_t i = 0; i < d.nreasons; i++)
		if (d.reasons[i].rule == VB_RULE_FREQUENCY_CAP &&
		    d.reasons[i].until_us == T("2026-11-11T00:00:00Z")) {
			ck_assert_str_eq(d.reasons[i].event, "sent-3");
			ck_assert_int_eq(d.reasons[i].since_us, t + 4 * HOUR);
			found_day = 1;
		}
	ck_assert_int_eq(found_day, 1);
	vb_state_free(&s);
}
END_TEST

START_TEST(reasons_overflow_counted)
{
	vb_state s = { 0 };
	int64_t t = T("2026-11-10T08:00:00Z");
	for (int i = 0; i < VB_REASONS_MAX + 6; i++) {
		char id[16], cs[16];
		snprintf(id, sizeof(id), "o-%d", i);
		snprintf(cs, sizeof(cs), "T-%d", i);
		add(&s, VB_FACT_COMPLAINT_OPEN, t + i * SEC, id, cs, NULL);
	}
	vb_decision d = decide(&s, VB_P_SURVEY, VB_C_POST, t + HOUR);
	ck_assert_int_eq(d.allow, 0);
	ck_assert_uint_eq(d.nreasons, VB_REASONS_MAX);
	ck_assert_uint_eq(d.dropped, 6);
	vb_state_free(&s);
}
END_TEST

START_TEST(reasons_json)
{
	vb_state s;
	int64_t at;
	json_error_t jerr;
	everything(&s, &at);
	vb_decision d = decide(&s, VB_P_CROSS_SELL, VB_C_EMAIL, at);
	vb_buf b = { 0 };
	ck_assert_int_eq(vb_gate_reasons_json(&d, &b), 0);
	json_t *j = json_loadb((const char *)b.data, b.len, 0, &jerr);
	ck_assert_msg(j != NULL, "not JSON: %s: %.*s", jerr.text, (int)(b.len > 3000 ? 3000 : b.len), b.data);
	ck_assert(json_is_array(j));
	ck_assert_uint_eq(json_array_size(j), d.nreasons);
	for (size_t i = 0; i < d.nreasons; i++) {
		json_t *r = json_array_get(j, i);
		char since[VB_TIME_BUFSZ], until[VB_TIME_BUFSZ];
		ck_assert_str_eq(json_string_value(json_object_get(r, "rule")),
		    vb_rule_names[d.reasons[i].rule]);
		ck_assert_str_eq(json_string_value(json_object_get(r, "event")), d.reasons[i].event);
		ck_assert_str_eq(json_string_value(json_object_get(r, "since")),
		    fmt(d.reasons[i].since_us, since));
		if (d.reasons[i].until_us) {
			ck_assert_str_eq(json_string_value(json_object_get(r, "until")),
			    fmt(d.reasons[i].until_us, until));
			ck_assert_uint_eq(json_object_size(r), 4);
		} else {
			ck_assert_ptr_null(json_object_get(r, "until"));
			ck_assert_uint_eq(json_object_size(r), 3);
		}
	}
	json_decref(j);
	/* Appends, and an allowed decision is an empty array. */
	vb_decision ok = decide(&s, VB_P_SERVICE, VB_C_EMAIL, at);
	size_t before = b.len;
	ck_assert_int_eq(vb_gate_reasons_json(&ok, &b), 0);
	ck_assert_uint_eq(b.len - before, 2);
	ck_assert_mem_eq(b.data + before, "[]", 2);
	/* A reason quotes its event id as JSON. */
	vb_state q = { 0 };
	add(&q, VB_FACT_COMPLAINT_OPEN, at, "id \"with\" quotes\\", "T", NULL);
	d = decide(&q, VB_P_UPSELL, VB_C_SMS, at);
	vb_buf_reset(&b);
	ck_assert_int_eq(vb_gate_reasons_json(&d, &b), 0);
	j = json_loadb((const char *)b.data, b.len, 0, &jerr);
	ck_assert_msg(j != NULL, "not JSON: %.*s", (int)b.len, b.data);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "event")),
	    "id \"with\" quotes\\");
	json_decref(j);
	vb_state_free(&q);
	vb_buf_free(&b);
	vb_state_free(&s);
}
END_TEST

/* ---- what is blocked, as JSON ---- */

static json_t *
blocked_json(const vb_state *s, int64_t at, int64_t *next)
{
	vb_rules r;
	vb_buf a = { 0 }, b = { 0 };
	json_error_t jerr;
	int64_t next2;
	vb_rules_defaults(&r);
	ck_assert_int_eq(vb_gate_blocked_json(&r, s, at, &a, next), 0);
	/* Deterministic: a second call gives the same bytes. */
	ck_assert_int_eq(vb_gate_blocked_json(&r, s, at, &b, &next2), 0);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_mem_eq(a.data, b.data, a.len);
	ck_assert_int_eq(*next, next2);
	json_t *j = json_loadb((const char *)a.data, a.len, 0, &jerr);
	ck_assert_msg(j != NULL && json_is_array(j), "not a JSON array: %.*s", (int)a.len, a.data);
	/* Exactly the blocked pairs, purpose by channel, each with the
	 * reasons of its decision. */
	size_t k = 0;
	for (int p = 0; p < VB_NPURPOSES; p++) {
		for (int c = 0; c < VB_NCHANNELS; c++) {
			vb_decision d = decide(s, p, c, at);
			if (d.allow)
				continue;
			json_t *e = json_array_get(j, k++);
			ck_assert_ptr_nonnull(e);
			ck_assert_str_eq(json_string_value(json_object_get(e, "purpose")), vb_purpose_names[p]);
			ck_assert_str_eq(json_string_value(json_object_get(e, "channel")), vb_channel_names[c]);
			vb_buf rj = { 0 };
			ck_assert_int_eq(vb_gate_reasons_json(&d, &rj), 0);
			json_t *want = json_loadb((const char *)rj.data, rj.len, 0, NULL);
			ck_assert(json_equal(want, json_object_get(e, "reasons")));
			json_decref(want);
			vb_buf_free(&rj);
		}
	}
	ck_assert_uint_eq(json_array_size(j), k);
	vb_buf_free(&a);
	vb_buf_free(&b);
	return j;
}

START_TEST(blocked_json_lists_what_is_blocked)
{
	vb_state s = { 0 };
	int64_t next, t = T("2026-11-10T08:00:00Z");
	json_t *j = blocked_json(&s, t, &next);
	ck_assert_uint_eq(json_array_size(j), 0);
	ck_assert_int_eq(next, 0);
	json_decref(j);

	add(&s, VB_FACT_COMPLAINT_OPEN, t, "o", "T-1", NULL);
	j = blocked_json(&s, t + HOUR, &next);
	ck_assert_uint_eq(json_array_size(j), 4 * VB_NCHANNELS);
	ck_assert_int_eq(next, 0); /* open: until something happens */
	json_decref(j);

	add(&s, VB_FACT_COMPLAINT_RESOLVED, t + DAY, "r", "T-1", NULL);
	j = blocked_json(&s, t + 2 * DAY, &next);
	ck_assert_uint_eq(json_array_size(j), 2 * VB_NCHANNELS);
	ck_assert_int_eq(next, t + DAY + 14 * DAY);
	json_decref(j);

	/* A message today on email: email is blocked until midnight, which
	 * comes before the end of the cool-off. */
	msg(&s, t + 2 * DAY, "m", "email", "promotion");
	j = blocked_json(&s, t + 2 * DAY + HOUR, &next);
	ck_assert_uint_eq(json_array_size(j), 2 * VB_NCHANNELS + 2);
	ck_assert_int_eq(next, T("2026-11-13T00:00:00Z"));
	json_decref(j);
	/* After the cool-off: nothing. */
	j = blocked_json(&s, t + 16 * DAY, &next);
	ck_assert_uint_eq(json_array_size(j), 0);
	ck_assert_int_eq(next, 0);
	json_decref(j);
	vb_state_free(&s);
}
END_TEST

START_TEST(needs_log)
{
	vb_state s = { 0 };
	int64_t t = T("2026-11-10T08:00:00Z");
	ck_assert_int_eq(vb_gate_needs_log(&s, t), 0);
	add(&s, VB_FACT_INVOICE_OVERDUE, t, "i", "I", NULL);
	msg(&s, t - DAY, "m", "sms", "upsell");
	ck_assert_int_eq(vb_gate_needs_log(&s, t), 0);
	ck_assert_int_eq(vb_gate_needs_log(&s, t + DAY), 0);
	ck_assert_int_ne(vb_gate_needs_log(&s, t - 1), 0);
	vb_state_free(&s);
}
END_TEST

/* ---- configuration ---- */

START_TEST(rules_disabled)
{
	vb_state s;
	int64_t at;
	char err[256];
	everything(&s, &at);
	for (int off = 0; off < VB_NRULES; off++) {
		vb_rules r;
		vb_rules_defaults(&r);
		ck_assert_int_eq(vb_rules_set(&r, vb_rule_names[off], "enabled", "false", err,
		    sizeof(err)), 0);
		ck_assert_int_eq(r.rule[off].enabled, 0);
		vb_decision d = decide_r(&r, &s, VB_P_UPSELL, VB_C_EMAIL, at);
		ck_assert_msg(count_rule(&d, (vb_rule_id)off) == 0, "%s disabled still blocks",
		    vb_rule_names[off]);
		for (int on = 0; on < VB_NRULES; on++)
			if (on != off)
				ck_assert_msg(count_rule(&d, (vb_rule_id)on) > 0, "%s lost with %s off",
				    vb_rule_names[on], vb_rule_names[off]);
		/* And on again. */
		ck_assert_int_eq(vb_rules_set(&r, vb_rule_names[off], "enabled", "true", err,
		    sizeof(err)), 0);
		d = decide_r(&r, &s, VB_P_UPSELL, VB_C_EMAIL, at);
		ck_assert_uint_gt(count_rule(&d, (vb_rule_id)off), 0);
	}
	/* All off: allowed. */
	vb_rules r;
	vb_rules_defaults(&r);
	static const char *const off_words[] = { "false", "no", "0", "false", "no", "0" };
	for (int i = 0; i < VB_NRULES; i++)
		ck_assert_int_eq(vb_rules_set(&r, vb_rule_names[i], "enabled", off_words[i], err,
		    sizeof(err)), 0);
	for (int p = 0; p < VB_NPURPOSES; p++)
		for (int c = 0; c < VB_NCHANNELS; c++)
			ck_assert_int_eq(decide_r(&r, &s, p, c, at).allow, 1);
	vb_state_free(&s);
}
END_TEST

START_TEST(blocks_changed)
{
	vb_state s = { 0 };
	vb_rules r;
	char err[256];
	int64_t t = T("2026-11-10T08:00:00Z");
	add(&s, VB_FACT_INVOICE_OVERDUE, t, "i", "I", NULL);
	vb_rules_defaults(&r);
	ck_assert_int_eq(vb_rules_set(&r, "overdue-invoice", "blocks", "promotion,survey", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(decide_r(&r, &s, VB_P_UPSELL, VB_C_EMAIL, t + HOUR).allow, 1);
	ck_assert_int_eq(decide_r(&r, &s, VB_P_CROSS_SELL, VB_C_EMAIL, t + HOUR).allow, 1);
	ck_assert_int_eq(decide_r(&r, &s, VB_P_PROMOTION, VB_C_EMAIL, t + HOUR).allow, 0);
	ck_assert_int_eq(decide_r(&r, &s, VB_P_SURVEY, VB_C_EMAIL, t + HOUR).allow, 0);
	/* Blocking nothing at all. */
	ck_assert_int_eq(vb_rules_set(&r, "overdue-invoice", "blocks", "", err, sizeof(err)), 0);
	for (int p = 0; p < VB_NPURPOSES; p++)
		ck_assert_int_eq(decide_r(&r, &s, p, VB_C_EMAIL, t + HOUR).allow, 1);
	vb_state_free(&s);

	/* open-complaint narrowed to upsell. */
	memset(&s, 0, sizeof(s));
	add(&s, VB_FACT_COMPLAINT_OPEN, t, "o", "T", NULL);
	vb_rules_defaults(&r);
	ck_assert_int_eq(vb_rules_set(&r, "open-complaint", "blocks", "upsell", err, sizeof(err)), 0);
	ck_assert_int_eq(decide_r(&r, &s, VB_P_UPSELL, VB_C_SMS, t + HOUR).allow, 0);
	ck_assert_int_eq(decide_r(&r, &s, VB_P_PROMOTION, VB_C_SMS, t + HOUR).allow, 1);
	vb_state_free(&s);
}
END_TEST

START_TEST(durations_and_counts_changed)
{
	vb_state s = { 0 };
	vb_rules r;
	char err[256];
	int64_t t = T("2026-11-10T08:00:00Z");
	add(&s, VB_FACT_COMPLAINT_OPEN, t - DAY, "o", "T", NULL);
	add(&s, VB_FACT_COMPLAINT_RESOLVED, t, "r", "T", NULL);
	vb_rules_defaults(&r);
	ck_assert_int_eq(vb_rules_set(&r, "complaint-cooloff", "duration", "21d", err, sizeof(err)), 0);
	ck_assert_int_eq(r.cooloff_us, 21 * DAY);
	vb_decision d = decide_r(&r, &s, VB_P_UPSELL, VB_C_EMAIL, t + 20 * DAY);
	ck_assert_int_eq(d.allow, 0);
	assert_reason(&d, VB_RULE_COOLOFF, "r", t, t + 21 * DAY);
	ck_assert_int_eq(decide_r(&r, &s, VB_P_UPSELL, VB_C_EMAIL, t + 21 * DAY).allow, 1);
	ck_assert_int_eq(vb_rules_set(&r, "complaint-cooloff", "duration", "36h", err, sizeof(err)), 0);
	ck_assert_int_eq(decide_r(&r, &s, VB_P_UPSELL, VB_C_EMAIL, t + 36 * HOUR - 1).allow, 0);
	ck_assert_int_eq(decide_r(&r, &s, VB_P_UPSELL, VB_C_EMAIL, t + 36 * HOUR).allow, 1);
	vb_state_free(&s);

	/* The cap: five a week, two a day on one channel, a 3-day window. */
	memset(&s, 0, sizeof(s));
	vb_rules_defaults(&r);
	ck_assert_int_eq(vb_rules_set(&r, "frequency-cap", "max", "5", err, sizeof(err)), 0);
	ck_assert_int_eq(vb_rules_set(&r, "frequency-cap", "per_channel_per_day", "2", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(r.cap_max, 5);
	ck_assert_int_eq(r.cap_per_day, 2);
	msg(&s, t, "a", "email", "upsell");
	ck_assert_int_eq(decide_r(&r, &s, VB_P_UPSELL, VB_C_EMAIL, t + HOUR).allow, 1);
	msg(&s, t + HOUR, "b", "email", "upsell");
	d = decide_r(&r, &s, VB_P_UPSELL, VB_C_EMAIL, t + 2 * HOUR);
	ck_assert_int_eq(d.allow, 0);
	assert_reason(&d, VB_RULE_FREQUENCY_CAP, "b", t + HOUR, T("2026-11-11T00:00:00Z"));
	msg(&s, t + 2 * HOUR, "c", "sms", "upsell");
	msg(&s, t + 3 * HOUR, "d", "push", "upsell");
	ck_assert_int_eq(decide_r(&r, &s, VB_P_UPSELL, VB_C_POST, t + 4 * HOUR).allow, 1);
	msg(&s, t + 4 * HOUR, "e", "post", "upsell");
	d = decide_r(&r, &s, VB_P_UPSELL, VB_C_PHONE, t + 5 * HOUR);
	ck_assert_int_eq(d.allow, 0);
	assert_reason(&d, VB_RULE_FREQUENCY_CAP, "e", t + 4 * HOUR, t + 7 * DAY);
	ck_assert_int_eq(vb_rules_set(&r, "frequency-cap", "window", "3d", err, sizeof(err)), 0);
	ck_assert_int_eq(r.cap_window_us, 3 * DAY);
	d = decide_r(&r, &s, VB_P_UPSELL, VB_C_PHONE, t + 5 * HOUR);
	assert_reason(&d, VB_RULE_FREQUENCY_CAP, "e", t + 4 * HOUR, t + 3 * DAY);
	ck_assert_int_eq(decide_r(&r, &s, VB_P_UPSELL, VB_C_PHONE, t + 3 * DAY).allow, 1);
	vb_state_free(&s);
}
END_TEST

START_TEST(rules_set_errors)
{
	static const char *const bad[][3] = {
		{ "bogus-rule", "enabled", "true" },
		{ "", "enabled", "true" },
		{ "open-complaint", "enabled", "maybe" },
		{ "open-complaint", "colour", "red" },
		{ "open-complaint", "duration", "14d" },     /* not an option of it */
		{ "complaint-cooloff", "duration", "14x" },
		{ "complaint-cooloff", "duration", "" },
		{ "complaint-cooloff", "duration", "d" },
		{ "complaint-cooloff", "duration", "-1d" },
		{ "complaint-cooloff", "duration", "0d" },
		{ "complaint-cooloff", "duration", "14 days" },
		{ "complaint-cooloff", "duration", "99999999999d" },
		{ "complaint-cooloff", "blocks", "service" },
		{ "complaint-cooloff", "blocks", "upsell, service" },
		{ "no-consent", "blocks", "upsell, bogus" },
		{ "no-consent", "blocks", "Upsell" },
		{ "frequency-cap", "window", "7" },
		{ "frequency-cap", "window", "0h" },
		{ "frequency-cap", "max", "three" },
		{ "frequency-cap", "max", "-1" },
		{ "frequency-cap", "max", "3x" },
		{ "frequency-cap", "max", "" },
		{ "frequency-cap", "per_channel_per_day", "1001" },
		{ "missed-visit", "max", "3" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vb_rules r, def;
		char err[256] = "";
		vb_rules_defaults(&r);
		vb_rules_defaults(&def);
		int rv = vb_rules_set(&r, bad[i][0], bad[i][1], bad[i][2], err, sizeof(err));
		ck_assert_msg(rv == VB_EINVAL, "[%s] %s = \"%s\": %d, want VB_EINVAL", bad[i][0],
		    bad[i][1], bad[i][2], rv);
		ck_assert_msg(err[0] != '\0', "[%s] %s = \"%s\": no message", bad[i][0], bad[i][1],
		    bad[i][2]);
		/* A refused setting changes nothing. */
		ck_assert_msg(memcmp(&r, &def, sizeof(r)) == 0, "[%s] %s = \"%s\" changed the rules",
		    bad[i][0], bad[i][1], bad[i][2]);
	}
	/* The messages say what is wrong. */
	vb_rules r;
	char err[256];
	vb_rules_defaults(&r);
	vb_rules_set(&r, "bogus-rule", "enabled", "true", err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "bogus-rule"));
	vb_rules_set(&r, "no-consent", "blocks", "upsell, bogus", err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "bogus"));
	vb_rules_set(&r, "complaint-cooloff", "blocks", "service", err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "service"));
	vb_rules_set(&r, "complaint-cooloff", "duration", "14x", err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "14x"));
	/* A small buffer is enough, and none at all too. */
	char small[8];
	ck_assert_int_eq(vb_rules_set(&r, "bogus-rule", "enabled", "true", small, sizeof(small)),
	    VB_EINVAL);
	ck_assert_uint_lt(strlen(small), sizeof(small));
	ck_assert_int_eq(vb_rules_set(&r, "bogus-rule", "enabled", "true", NULL, 0), VB_EINVAL);
}
END_TEST

static Suite *
gate_suite(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, names_and_indexes);
	tcase_add_test(tc, defaults_are_the_contract);
	tcase_add_test(tc, no_events_allowed);
	tcase_add_test(tc, open_complaint_blocks_all_but_service);
	tcase_add_test(tc, cooloff_boundary);
	tcase_add_test(tc, reopened_complaint);
	tcase_add_test(tc, resolution_arriving_first);
	tcase_add_test(tc, frequency_cap_third_and_fourth);
	tcase_add_test(tc, frequency_cap_over_full);
	tcase_add_test(tc, per_day_cap_across_midnight);
	tcase_add_test(tc, consent_channel_withdrawn_then_granted);
	tcase_add_test(tc, consent_one_purpose);
	tcase_add_test(tc, consent_purpose_and_channel_together);
	tcase_add_test(tc, missed_visit_then_completed);
	tcase_add_test(tc, completed_then_missed);
	tcase_add_test(tc, overdue_invoice_then_paid);
	tcase_add_test(tc, service_never_blocked);
	suite_add_tcase(s, tc);

	tc = tcase_create("reasons");
	tcase_add_test(tc, every_reason_listed);
	tcase_add_test(tc, reasons_overflow_counted);
	tcase_add_test(tc, reasons_json);
	tcase_add_test(tc, blocked_json_lists_what_is_blocked);
	tcase_add_test(tc, needs_log);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_test(tc, rules_disabled);
	tcase_add_test(tc, blocks_changed);
	tcase_add_test(tc, durations_and_counts_changed);
	tcase_add_test(tc, rules_set_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(gate_suite());
}
