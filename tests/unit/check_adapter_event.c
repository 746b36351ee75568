/* Unit tests of adapters/lib/vb_ad_event: events built from pieces come
 * out as the contract's JSON and are checked by its rules. */
#include <string.h>

#include "vb_ad_event.h"
#include "vb_error.h"
#include "vb_event.h"
#include "vb_test.h"
#include "vb_time.h"

static char *
json_of(const vb_event *ev)
{
	static char out[2048];
	vb_buf b = { 0 };
	ck_assert_int_eq(vb_event_to_json(ev, &b), 0);
	snprintf(out, sizeof(out), "%.*s", (int)b.len, (const char *)b.data);
	vb_buf_free(&b);
	return out;
}

START_TEST(builds_the_contract_event)
{
	vb_ad_ev *b;
	vb_event *ev;
	char err[256];
	int64_t t;
	ck_assert_int_eq(vb_time_parse("2010-12-01T08:26:00Z", &t), 0);
	ck_assert_int_eq(vb_ad_ev_new("sales", "order.placed", "retail:536365:placed", "17850",
	    t, &b), 0);
	ck_assert_int_eq(vb_ad_ev_str(b, "order", "536365"), 0);
	ck_assert_int_eq(vb_ad_ev_str(b, "amount", "139.12"), 0);
	ck_assert_int_eq(vb_ad_ev_str(b, "currency", ""), 0); /* left unset */
	ck_assert_int_eq(vb_ad_ev_int(b, "items", 40), 0);
	ck_assert_int_eq(vb_ad_ev_attr(b, "country", "United Kingdom"), 0);
	ck_assert_int_eq(vb_ad_ev_attr(b, "empty", NULL), 0);
	ck_assert_str_eq(vb_ad_ev_id(b), "retail:536365:placed");
	ck_assert_int_eq(vb_ad_ev_build(b, &ev, err, sizeof(err)), 0);
	ck_assert_str_eq(json_of(ev),
	    "{\"id\":\"retail:536365:placed\",\"source\":\"sales\",\"type\":\"order.placed\","
	    "\"customer\":\"17850\",\"time\":\"2010-12-01T08:26:00Z\",\"data\":{\"order\":\"536365\","
	    "\"amount\":\"139.12\",\"items\":40},\"attributes\":{\"country\":\"United Kingdom\"}}");
	vb_event_free(ev);
	/* b is unchanged by a build: it builds again. */
	ck_assert_int_eq(vb_ad_ev_build(b, &ev, err, sizeof(err)), 0);
	vb_event_free(ev);
	vb_ad_ev_free(b);
}
END_TEST

START_TEST(times_and_text)
{
	vb_ad_ev *b;
	vb_event *ev;
	char err[256];
	ck_assert_int_eq(vb_ad_ev_new("field", "visit.missed", "fsm:V-1:missed", "C-1",
	    1764000000000000LL, &b), 0);
	ck_assert_int_eq(vb_ad_ev_str(b, "visit", "V-1"), 0);
	ck_assert_int_eq(vb_ad_ev_time(b, "window_start", 1763985600000000LL), 0);
	ck_assert_int_eq(vb_ad_ev_time(b, "window_end", 1764000000000000LL), 0);
	ck_assert_int_eq(vb_ad_ev_str(b, "reason", "line one\n\"quoted\" caf\xc3\xa9"), 0);
	ck_assert_int_eq(vb_ad_ev_build(b, &ev, err, sizeof(err)), 0);
	ck_assert_str_eq(vb_event_data_str(ev, "reason"), "line one\n\"quoted\" caf\xc3\xa9");
	ck_assert_str_eq(vb_event_data_str(ev, "window_end"), "2025-11-24T16:00:00Z");
	vb_event_free(ev);
	/* Not UTF-8: refused where it is set. */
	ck_assert_int_eq(vb_ad_ev_str(b, "reason", "caf\xe9"), VB_EINVAL);
	ck_assert_int_eq(vb_ad_ev_attr(b, "x", "\xff"), VB_EINVAL);
	vb_ad_ev_free(b);
	ck_assert_int_eq(vb_ad_ev_new("field", "visit.missed", "id", "C-\xff", 0, &b), VB_EINVAL);
}
END_TEST

START_TEST(contract_rules_apply)
{
	vb_ad_ev *b;
	vb_event *ev;
	char err[256];
	/* No case: the contract requires it. */
	ck_assert_int_eq(vb_ad_ev_new("service", "complaint.opened", "x:1:opened", "C-1", 0, &b), 0);
	ck_assert_int_eq(vb_ad_ev_build(b, &ev, err, sizeof(err)), VB_EINVAL);
	ck_assert_msg(strstr(err, "data.case: missing") != NULL, "%s", err);
	vb_ad_ev_free(b);
	/* A source may publish only its own types. */
	ck_assert_int_eq(vb_ad_ev_new("sales", "complaint.opened", "x:1:opened", "C-1", 0, &b), 0);
	ck_assert_int_eq(vb_ad_ev_str(b, "case", "1"), 0);
	ck_assert_int_eq(vb_ad_ev_build(b, &ev, err, sizeof(err)), VB_EINVAL);
	ck_assert_msg(strstr(err, "may not publish") != NULL, "%s", err);
	vb_ad_ev_free(b);
	/* An amount that is not a decimal. */
	ck_assert_int_eq(vb_ad_ev_new("finance", "invoice.issued", "x:1:issued", "C-1", 0, &b), 0);
	ck_assert_int_eq(vb_ad_ev_str(b, "invoice", "1"), 0);
	ck_assert_int_eq(vb_ad_ev_str(b, "amount", "1,200"), 0);
	ck_assert_int_eq(vb_ad_ev_build(b, &ev, err, sizeof(err)), VB_EINVAL);
	ck_assert_msg(strstr(err, "data.amount") != NULL, "%s", err);
	vb_ad_ev_free(b);
	/* Over 64 KiB encoded. */
	static char big[70000];
	memset(big, 'x', sizeof(big) - 1);
	ck_assert_int_eq(vb_ad_ev_new("service", "complaint.opened", "x:1:opened", "C-1", 0, &b), 0);
	ck_assert_int_eq(vb_ad_ev_str(b, "case", "1"), 0);
	ck_assert_int_eq(vb_ad_ev_str(b, "summary", big), 0);
	ck_assert_int_eq(vb_ad_ev_build(b, &ev, err, sizeof(err)), VB_EINVAL);
	ck_assert_msg(strstr(err, "event: ") != NULL, "%s", err);
	vb_ad_ev_free(b);
	vb_ad_ev_free(NULL);
}
END_TEST

static Suite *
event_suite(void)
{
	Suite *s = suite_create("adapter_event");
	TCase *tc = tcase_create("event");
	tcase_add_test(tc, builds_the_contract_event);
	tcase_add_test(tc, times_and_text);
	tcase_add_test(tc, contract_rules_apply);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(event_suite());
}
