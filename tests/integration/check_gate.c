/* Integration: the contact gate through the real voicebusd and voicebus. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vb_error.h"
#include "vb_harness.h"
#include "vb_time.h"

static vb_h_broker b;
static char in[400], out[400], err[400];

static void
paths(void)
{
	snprintf(in, sizeof(in), "%s/in.jsonl", b.dir);
	snprintf(out, sizeof(out), "%s/out", b.dir);
	snprintf(err, sizeof(err), "%s/err", b.dir);
}

static void
setup(void)
{
	vb_h_init(&b);
	vb_h_start(&b, NULL);
	paths();
}

static void
teardown(void)
{
	vb_h_stop(&b);
	vb_h_cleanup(&b);
}

static int
publish_text(const char *text)
{
	const char *args[] = { "publish", "--ingest", b.ingest, "--query", b.query, in, NULL };
	vb_h_write(in, text);
	return vb_h_cli(args, NULL, out, err);
}

static int
gate(const char *customer, const char *purpose, const char *channel,
    const char *extra1, const char *extra2)
{
	const char *args[] = { "gate", "--query", b.query, "--customer", customer,
		"--purpose", purpose, "--channel", channel, extra1, extra2, NULL };
	return vb_h_cli(args, NULL, out, err);
}

static void
assert_contains(const char *path, const char *needle)
{
	char *s = vb_h_slurp(path, NULL);
	ck_assert_msg(s && strstr(s, needle), "%s does not contain \"%s\": %s", path,
	    needle, s ? s : "(missing)");
	free(s);
}

static void
assert_lacks(const char *path, const char *needle)
{
	char *s = vb_h_slurp(path, NULL);
	ck_assert_msg(s && !strstr(s, needle), "%s contains \"%s\"", path, needle);
	free(s);
}

#define COMPLAINT "{\"id\":\"zd-4411-opened\",\"source\":\"service\",\"type\":\"complaint.opened\"," \
	"\"customer\":\"C-1001\",\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"case\":\"T-4411\"," \
	"\"severity\":\"high\",\"summary\":\"SECRET-TEXT no sound from headphones\"}}\n"

START_TEST(gate_blocks_upsell_allows_service)
{
	ck_assert_int_eq(publish_text(COMPLAINT), 0);
	ck_assert_int_eq(gate("C-1001", "upsell", "email", NULL, NULL), 1);
	assert_contains(out, "{\"customer\":\"C-1001\",\"purpose\":\"upsell\",\"channel\":\"email\","
	    "\"decision\":\"block\",\"reasons\":[{\"rule\":\"open-complaint\",\"event\":\"zd-4411-opened\","
	    "\"since\":\"2026-11-20T09:12:00Z\"}]}");
	ck_assert_int_eq(gate("C-1001", "service", "email", NULL, NULL), 0);
	assert_contains(out, "\"decision\":\"allow\",\"reasons\":[]");
	/* A customer with no events is allowed. */
	ck_assert_int_eq(gate("C-9999", "upsell", "email", NULL, NULL), 0);
	/* Before the complaint, it was allowed: the auditor's question. */
	ck_assert_int_eq(gate("C-1001", "upsell", "email", "--at", "2026-11-20T09:11:59Z"), 0);
	assert_contains(out, "\"at\":\"2026-11-20T09:11:59Z\"");
	ck_assert_int_eq(gate("C-1001", "upsell", "email", "--at", "2026-11-20T09:12:00Z"), 1);
	/* Errors are 2 or more, never confused with a block. */
	ck_assert_int_eq(gate("C-1001", "upsale", "email", NULL, NULL), 2);
	assert_contains(err, "--purpose upsale");
	ck_assert_int_eq(gate("C-1001", "upsell", "email", "--at", "yesterday"), 2);
	/* Marketing sees decisions, never complaint text. */
	const char *cargs[] = { "customer", "--query", b.query, "C-1001", "--json", NULL };
	ck_assert_int_eq(vb_h_cli(cargs, NULL, out, err), 0);
	assert_contains(out, "\"case\":\"T-4411\",\"status\":\"open\"");
	assert_lacks(out, "SECRET-TEXT");
	const char *sargs[] = { "suppressions", "--query", b.query, "--format", "jsonl", NULL };
	ck_assert_int_eq(vb_h_cli(sargs, NULL, out, err), 0);
	assert_lacks(out, "SECRET-TEXT");
	const char *targs[] = { "replay", "--query", b.query, "--type", "suppression.", NULL };
	ck_assert_int_eq(vb_h_cli(targs, NULL, out, err), 0);
	assert_contains(out, "\"cause\":\"zd-4411-opened\"");
	assert_lacks(out, "SECRET-TEXT");
}
END_TEST

START_TEST(gate_broker_down_is_3)
{
	char nowhere[400];
	snprintf(nowhere, sizeof(nowhere), "ipc://%s/nobody.sock", b.dir);
	const char *args[] = { "gate", "--query", nowhere, "--customer", "C-1", "--purpose",
		"upsell", "--channel", "email", NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, out, err), 3);
	assert_contains(err, "cannot reach the broker");
}
END_TEST

/* Open, resolve, and the cool-off ending by the clock: each a
 * suppression.changed on PUB, followed with tail's no-gap guarantee. */
START_TEST(suppression_changes_open_resolve_cooloff_end)
{
	char conf[400], line[2048], now[VB_TIME_BUFSZ], tail_out[400];
	vb_h_stop(&b);
	snprintf(conf, sizeof(conf), "%s/voicebusd.conf", b.dir);
	vb_h_write(conf, "[broker]\nclock_tick_ms = 100\n\n[rule.complaint-cooloff]\nduration = 3s\n");
	const char *extra[] = { "--config", conf, NULL };
	vb_h_start(&b, extra);
	snprintf(tail_out, sizeof(tail_out), "%s/tail.out", b.dir);
	const char *targs[] = { "tail", "--type", "suppression.", "--from", "1", "--pub", b.pub,
		"--query", b.query, NULL };
	pid_t tail = vb_h_cli_bg(targs, tail_out, NULL);

	vb_time_format(vb_time_now(), now);
	snprintf(line, sizeof(line), "{\"id\":\"c1\",\"source\":\"service\",\"type\":\"complaint.opened\","
	    "\"customer\":\"C-7\",\"time\":\"%s\",\"data\":{\"case\":\"T-7\"}}\n", now);
	ck_assert_int_eq(publish_text(line), 0);
	vb_time_format(vb_time_now(), now);
	snprintf(line, sizeof(line), "{\"id\":\"r1\",\"source\":\"service\",\"type\":\"complaint.resolved\","
	    "\"customer\":\"C-7\",\"time\":\"%s\",\"data\":{\"case\":\"T-7\"}}\n", now);
	ck_assert_int_eq(publish_text(line), 0);
	/* Meanwhile upsell is blocked by the cool-off... */
	ck_assert_int_eq(gate("C-7", "upsell", "email", NULL, NULL), 1);
	assert_contains(out, "complaint-cooloff");
	/* ...and promotion is not. */
	ck_assert_int_eq(gate("C-7", "promotion", "email", NULL, NULL), 0);

	int64_t deadline = vb_h_now_ms() + 30000;
	while (vb_h_count_lines(tail_out) < 3) {
		ck_assert_msg(vb_h_now_ms() < deadline, "tail printed %zu of 3 suppression changes",
		    vb_h_count_lines(tail_out));
		usleep(50000);
	}
	kill(tail, SIGTERM);
	waitpid(tail, NULL, 0);
	char *s = vb_h_slurp(tail_out, NULL);
	char *l1 = s, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
	l2[-1] = l3[-1] = '\0';
	ck_assert_msg(strstr(l1, "\"rule\":\"open-complaint\"") && strstr(l1, "\"cause\":\"c1\""), "%s", l1);
	ck_assert_msg(strstr(l2, "\"rule\":\"complaint-cooloff\"") && strstr(l2, "\"cause\":\"r1\"") &&
	    !strstr(l2, "open-complaint") && !strstr(l2, "promotion"), "%s", l2);
	/* Nothing blocked any more: proto3 JSON leaves the empty list out. */
	ck_assert_msg(strstr(l3, "\"blocked\"") == NULL && strstr(l3, "\"cause\":\"clock\"") &&
	    strstr(l3, "\"customer\":\"C-7\""), "%s", l3);
	free(s);
	ck_assert_int_eq(gate("C-7", "upsell", "email", NULL, NULL), 0);
}
END_TEST

/* Two processes record for the one slot left under the frequency cap:
 * exactly one wins, every time. */
START_TEST(record_race_one_slot)
{
	char text[4096], cust[32], day1[VB_TIME_BUFSZ], day2[VB_TIME_BUFSZ];
	int64_t now = vb_time_now();
	vb_time_format(now - 2LL * 86400 * 1000000, day1);
	vb_time_format(now - 1LL * 86400 * 1000000, day2);
	for (int rep = 0; rep < 50; rep++) {
		snprintf(cust, sizeof(cust), "C-race-%d", rep);
		snprintf(text, sizeof(text),
		    "{\"id\":\"%s-m1\",\"source\":\"marketing\",\"type\":\"message.sent\",\"customer\":\"%s\","
		    "\"time\":\"%s\",\"data\":{\"channel\":\"sms\",\"purpose\":\"promotion\",\"campaign\":\"x\"}}\n"
		    "{\"id\":\"%s-m2\",\"source\":\"marketing\",\"type\":\"message.sent\",\"customer\":\"%s\","
		    "\"time\":\"%s\",\"data\":{\"channel\":\"push\",\"purpose\":\"promotion\",\"campaign\":\"y\"}}\n",
		    cust, cust, day1, cust, cust, day2);
		ck_assert_int_eq(publish_text(text), 0);
		const char *a1[] = { "gate", "--query", b.query, "--customer", cust, "--purpose",
			"promotion", "--channel", "email", "--record", "camp-a", NULL };
		const char *a2[] = { "gate", "--query", b.query, "--customer", cust, "--purpose",
			"upsell", "--channel", "post", "--record", "camp-b", NULL };
		pid_t p1 = vb_h_cli_bg(a1, NULL, NULL), p2 = vb_h_cli_bg(a2, NULL, NULL);
		int s1, s2;
		waitpid(p1, &s1, 0);
		waitpid(p2, &s2, 0);
		ck_assert(WIFEXITED(s1) && WIFEXITED(s2));
		int e1 = WEXITSTATUS(s1), e2 = WEXITSTATUS(s2);
		ck_assert_msg((e1 == 0 && e2 == 1) || (e1 == 1 && e2 == 0),
		    "rep %d: exits %d and %d", rep, e1, e2);
	}
	/* The winners' messages are in the log: 50 recorded message.sent. */
	const char *args[] = { "replay", "--query", b.query, "--type", "message.sent", NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, out, err), 0);
	ck_assert_uint_eq(vb_h_count_lines(out), 150);
}
END_TEST

/* The exported list equals asking the gate customer by customer. */
START_TEST(suppressions_equal_gate)
{
	static const char *const purposes[] = { "service", "upsell", "cross-sell", "promotion", "survey" };
	static const char *const channels[] = { "email", "sms", "phone", "post", "push" };
	vb_buf text = { 0 };
	char line[512], now[VB_TIME_BUFSZ];
	unsigned seed = (unsigned)time(NULL);
	printf("suppressions_equal_gate seed %u\n", seed);
	srand(seed);
	vb_time_format(vb_time_now() - 3600LL * 1000000, now);
	for (int i = 0; i < 200; i++) {
		int c = rand() % 30, k = rand() % 6;
		static const char *const kinds[] = {
			"\"source\":\"service\",\"type\":\"complaint.opened\",\"data\":{\"case\":\"T-%d\"}",
			"\"source\":\"service\",\"type\":\"complaint.resolved\",\"data\":{\"case\":\"T-%d\"}",
			"\"source\":\"finance\",\"type\":\"invoice.overdue\",\"data\":{\"invoice\":\"I-%d\"}",
			"\"source\":\"finance\",\"type\":\"invoice.paid\",\"data\":{\"invoice\":\"I-%d\"}",
			"\"source\":\"customer\",\"type\":\"consent.withdrawn\",\"data\":{\"channel\":\"sms\",\"purpose\":\"x%d\"}",
			"\"source\":\"field\",\"type\":\"visit.missed\",\"data\":{\"visit\":\"V-%d\"}",
		};
		char body[200];
		snprintf(body, sizeof(body), kinds[k], rand() % 3);
		if (k == 4)
			snprintf(body, sizeof(body), "%s", "\"source\":\"customer\",\"type\":\"consent.withdrawn\",\"data\":{\"channel\":\"sms\"}");
		snprintf(line, sizeof(line), "{\"id\":\"e%d\",\"customer\":\"C-%d\",\"time\":\"%s\",%s}\n",
		    i, c, now, body);
		vb_buf_append_str(&text, line);
	}
	ck_assert_int_eq(publish_text((const char *)text.data), 0);
	vb_buf_free(&text);
	const char *sargs[] = { "suppressions", "--query", b.query, NULL };
	ck_assert_int_eq(vb_h_cli(sargs, NULL, out, err), 0);
	char *list = vb_h_slurp(out, NULL);
	size_t blocked = 0;
	vb_client *cl = vb_h_client(&b);
	for (int c = 0; c < 30; c++) {
		char cust[16];
		const char *cp = cust;
		snprintf(cust, sizeof(cust), "C-%d", c);
		for (int p = 0; p < 5; p++) {
			for (int ch = 0; ch < 5; ch++) {
				vb_query_req q = { .kind = VB_QUERY_GATE };
				vb_query_reply r;
				q.gate.customers = &cp;
				q.gate.n = 1;
				q.gate.purpose = purposes[p];
				q.gate.channel = channels[ch];
				ck_assert_int_eq(vb_client_query(cl, &q, &r), 0);
				ck_assert_int_eq(r.code, 0);
				snprintf(line, sizeof(line), "\n%s,%s,%s,", cust, purposes[p], channels[ch]);
				int listed = strstr(list, line) != NULL;
				ck_assert_msg(listed == !r.decisions[0].allow, "%s/%s/%s: gate %s, list %s",
				    cust, purposes[p], channels[ch], r.decisions[0].allow ? "allow" : "block",
				    listed ? "listed" : "absent");
				blocked += !r.decisions[0].allow;
				vb_query_reply_free(&r);
			}
		}
	}
	vb_client_close(cl);
	/* Every line of the list is one blocked triple (plus the header). */
	ck_assert_uint_eq(vb_h_count_lines(out), blocked + 1);
	ck_assert_uint_gt(blocked, 0);
	free(list);
	/* And the state is what the log says. */
	const char *rargs[] = { "rebuild", "--query", b.query, NULL };
	ck_assert_int_eq(vb_h_cli(rargs, NULL, out, err), 0);
	assert_contains(out, ": 0 differed");
}
END_TEST


/* Batches overlap (the next is read while the broker decides one): any
 * batch size writes the same rows in the same order, and says the same
 * on stderr, malformed rows between batches included. */
START_TEST(filter_batches_same_output)
{
	char aud[400], ok[400], blocked[400], bsz[8];
	char *want[3] = { NULL, NULL, NULL };
	snprintf(aud, sizeof(aud), "%s/aud.csv", b.dir);
	snprintf(ok, sizeof(ok), "%s/ok.csv", b.dir);
	snprintf(blocked, sizeof(blocked), "%s/blocked.csv", b.dir);
	ck_assert_int_eq(publish_text(COMPLAINT), 0);
	vb_h_write(aud, "customer,n\nC-1,1\nC-1001,2\nbad\nC-2,3\nC-1001,4\n,5\nC-3,6\n"
	    "C-4,7\nshort\nC-1001,8\nC-5,9\n");
	for (int size = 0; size <= 3; size++) {
		const char *args[] = { "filter", "--query", b.query, "--purpose", "upsell",
			"--channel", "email", "--blocked", blocked, size ? "--batch" : NULL, bsz,
			NULL };
		snprintf(bsz, sizeof(bsz), "%d", size);
		ck_assert_int_eq(vb_h_cli(args, aud, ok, err), 2);
		char *got[3] = { vb_h_slurp(ok, NULL), vb_h_slurp(blocked, NULL),
			vb_h_slurp(err, NULL) };
		for (int k = 0; k < 3; k++) {
			if (size == 0)
				want[k] = got[k];
			else {
				ck_assert_str_eq(got[k], want[k]);
				free(got[k]);
			}
		}
	}
	ck_assert_str_eq(want[0], "customer,n\nC-1,1\nC-2,3\nC-3,6\nC-4,7\nC-5,9\n");
	ck_assert_ptr_nonnull(strstr(want[2], "filter: 5 allowed, 3 blocked, 3 malformed"));
	ck_assert_ptr_nonnull(strstr(want[2], "<stdin>:4:"));
	ck_assert(strstr(want[2], "<stdin>:4:") < strstr(want[2], "<stdin>:7:"));
	ck_assert(strstr(want[2], "<stdin>:7:") < strstr(want[2], "<stdin>:10:"));
	for (int k = 0; k < 3; k++)
		free(want[k]);
}
END_TEST

/* Long ids: 9,000 of 128 bytes pass the 1 MiB a request to the query
 * socket may take.  The default batch is cut by the ids' bytes too, so
 * every row still goes through the gate. */
START_TEST(filter_long_ids_fit_requests)
{
	enum { ROWS = 9000 };
	char aud[400], ok[400], blocked[400], id[129];
	snprintf(aud, sizeof(aud), "%s/aud.csv", b.dir);
	snprintf(ok, sizeof(ok), "%s/ok.csv", b.dir);
	snprintf(blocked, sizeof(blocked), "%s/blocked.csv", b.dir);
	FILE *f = fopen(aud, "w");
	ck_assert_ptr_nonnull(f);
	fputs("customer\n", f);
	for (int i = 0; i < ROWS; i++) {
		snprintf(id, sizeof(id), "C-%06d", i);
		memset(id + 8, 'x', 120);
		id[128] = '\0';
		fprintf(f, "%s\n", id);
	}
	ck_assert_int_eq(fclose(f), 0);
	const char *args[] = { "filter", "--query", b.query, "--purpose", "upsell",
		"--channel", "email", "--blocked", blocked, NULL };
	ck_assert_int_eq(vb_h_cli(args, aud, ok, err), 0);
	char *e = vb_h_slurp(err, NULL);
	ck_assert_ptr_nonnull(strstr(e, "filter: 9000 allowed, 0 blocked, 0 malformed"));
	free(e);
}
END_TEST


/* An audience as a CRM exports it: quoted commas, doubled quotes, a field
 * with a line break, CRLF, a quote never closed, a short row, and a last
 * line without its line end. */
START_TEST(filter_audience)
{
	char aud[400], ok[400], blocked[400];
	snprintf(aud, sizeof(aud), "%s/aud.csv", b.dir);
	snprintf(ok, sizeof(ok), "%s/ok.csv", b.dir);
	snprintf(blocked, sizeof(blocked), "%s/blocked.csv", b.dir);
	ck_assert_int_eq(publish_text(COMPLAINT), 0);
	vb_h_write(aud, "name,customer,note\r\n"
	    "\"Smith, Ann\",C-1001,\"likes \"\"quotes\"\"\"\r\n"
	    "\"Multi\r\nline\",C-5,x\r\n"
	    "bad,\"unterminated,y\r\n"
	    "Eve,C-6,z\r\n"
	    "short,C-9\r\n"
	    "Zed,C-7,last");
	const char *args[] = { "filter", "--query", b.query, "--purpose", "upsell", "--channel",
		"email", "--blocked", blocked, NULL };
	ck_assert_int_eq(vb_h_cli(args, aud, ok, err), 2);
	char *s = vb_h_slurp(ok, NULL);
	/* Allowed rows byte for byte, in order, with the header. */
	ck_assert_str_eq(s, "name,customer,note\r\n\"Multi\r\nline\",C-5,x\r\nEve,C-6,z\r\nZed,C-7,last\r\n");
	free(s);
	s = vb_h_slurp(blocked, NULL);
	ck_assert_str_eq(s, "name,customer,note,reasons\r\n"
	    "\"Smith, Ann\",C-1001,\"likes \"\"quotes\"\"\",\"[{\"\"rule\"\":\"\"open-complaint\"\","
	    "\"\"event\"\":\"\"zd-4411-opened\"\",\"\"since\"\":\"\"2026-11-20T09:12:00Z\"\"}]\"\r\n");
	free(s);
	assert_contains(err, "<stdin>:5: csv: a quoted field is never closed");
	assert_contains(err, "<stdin>:7: 2 fields, the header has 3");
	assert_contains(err, "filter: 3 allowed, 1 blocked, 2 malformed");
	/* A missing column is named. */
	const char *bad[] = { "filter", "--query", b.query, "--purpose", "upsell", "--channel",
		"email", "--blocked", blocked, "--column", "client", NULL };
	ck_assert_int_eq(vb_h_cli(bad, aud, ok, err), 2);
	assert_contains(err, "no column \"client\" in the header");

	/* --record: every allowed row is reserved.  Running the same campaign
	 * again finds its reservations (nothing new recorded); another
	 * campaign finds the day's email slot taken. */
	vb_h_write(aud, "customer\nC-20\nC-21\nC-1001\n");
	const char *rec[] = { "filter", "--query", b.query, "--purpose", "promotion", "--channel",
		"email", "--blocked", blocked, "--record", "black-friday", NULL };
	ck_assert_int_eq(vb_h_cli(rec, aud, ok, err), 0);
	assert_contains(err, "filter: 2 allowed, 1 blocked, 0 malformed, 2 recorded as black-friday");
	ck_assert_int_eq(vb_h_cli(rec, aud, ok, err), 0);
	assert_contains(err, "filter: 2 allowed, 1 blocked, 0 malformed, 0 recorded as black-friday");
	const char *rec2[] = { "filter", "--query", b.query, "--purpose", "promotion", "--channel",
		"email", "--blocked", blocked, "--record", "cyber-monday", NULL };
	ck_assert_int_eq(vb_h_cli(rec2, aud, ok, err), 0);
	assert_contains(err, "filter: 0 allowed, 3 blocked");
	assert_contains(blocked, "frequency-cap");
	const char *rep[] = { "replay", "--query", b.query, "--type", "message.sent", NULL };
	ck_assert_int_eq(vb_h_cli(rep, NULL, out, err), 0);
	ck_assert_uint_eq(vb_h_count_lines(out), 2);
	assert_contains(out, "\"id\":\"black-friday/C-20/email/promotion\"");
}
END_TEST

static Suite *
gate_suite(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("against_broker");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, gate_blocks_upsell_allows_service);
	tcase_add_test(tc, gate_broker_down_is_3);
	tcase_add_test(tc, suppression_changes_open_resolve_cooloff_end);
	tcase_add_test(tc, record_race_one_slot);
	tcase_add_test(tc, suppressions_equal_gate);
	tcase_add_test(tc, filter_audience);
	tcase_add_test(tc, filter_batches_same_output);
	tcase_add_test(tc, filter_long_ids_fit_requests);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(gate_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
