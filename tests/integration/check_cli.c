/* Integration: the voicebus CLI against a real voicebusd. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vb_harness.h"

static vb_h_broker b;
static char in[400], out[400], err[400];

static void
setup(void)
{
	vb_h_init(&b);
	vb_h_start(&b, NULL);
	snprintf(in, sizeof(in), "%s/in.jsonl", b.dir);
	snprintf(out, sizeof(out), "%s/out", b.dir);
	snprintf(err, sizeof(err), "%s/err", b.dir);
}

static void
teardown(void)
{
	vb_h_stop(&b);
	vb_h_cleanup(&b);
}

static int
publish_file(const char *path)
{
	const char *args[] = { "publish", "--ingest", b.ingest, path, NULL };
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

#define ORDER(id, cust, time) \
	"{\"id\":\"" id "\",\"source\":\"sales\",\"type\":\"order.placed\",\"customer\":\"" cust \
	"\",\"time\":\"" time "\",\"data\":{\"order\":\"" id "\",\"amount\":\"9.50\"}}\n"
#define COMPLAINT(id, cust, time) \
	"{\"id\":\"" id "\",\"source\":\"service\",\"type\":\"complaint.opened\",\"customer\":\"" cust \
	"\",\"time\":\"" time "\",\"data\":{\"case\":\"T-" id "\",\"summary\":\"broken\"}}\n"

START_TEST(invalid_line_mid_file_rest_stored)
{
	vb_h_write(in, ORDER("a", "C-1", "2026-11-01T10:00:00Z")
	    "{\"id\":\"b\",\"source\":\"sales\",\"type\":\"order.placed\",\"customer\":\"C-1\","
	    "\"time\":\"yesterday\",\"data\":{\"order\":\"b\"}}\n"
	    ORDER("c", "C-2", "2026-11-02T10:00:00Z"));
	ck_assert_int_eq(publish_file(in), 2);
	char where[480];
	snprintf(where, sizeof(where), "voicebus: %s:2: time:", in);
	assert_contains(err, where);
	assert_contains(err, "stored 2, duplicates 0, rejected 1");
	/* Again: the valid lines are duplicates, the bad one still rejected. */
	ck_assert_int_eq(publish_file(in), 2);
	assert_contains(err, "stored 0, duplicates 2, rejected 1");
	const char *args[] = { "replay", "--query", b.query, NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, out, NULL), 0);
	ck_assert_uint_eq(vb_h_count_lines(out), 2);
}
END_TEST

START_TEST(oversized_event_rejected)
{
	size_t big = 70000;
	char *line = malloc(big + 512);
	char *summary = malloc(big + 1);
	memset(summary, 'x', big);
	summary[big] = '\0';
	snprintf(line, big + 512,
	    "{\"id\":\"huge\",\"source\":\"service\",\"type\":\"complaint.opened\","
	    "\"customer\":\"C-1\",\"time\":\"2026-11-01T10:00:00Z\","
	    "\"data\":{\"case\":\"T-1\",\"summary\":\"%s\"}}\n" ORDER("ok", "C-1",
	    "2026-11-01T10:00:00Z"), summary);
	vb_h_write(in, line);
	free(line);
	free(summary);
	ck_assert_int_eq(publish_file(in), 2);
	assert_contains(err, ":1: event: ");
	assert_contains(err, "at most 65536");
	assert_contains(err, "stored 1, duplicates 0, rejected 1");
}
END_TEST

START_TEST(broker_not_running_exit_1)
{
	char nowhere[400];
	vb_h_write(in, ORDER("a", "C-1", "2026-11-01T10:00:00Z"));
	snprintf(nowhere, sizeof(nowhere), "ipc://%s/nobody.sock", b.dir);
	const char *args[] = { "publish", "--ingest", nowhere, in, NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, out, err), 1);
	assert_contains(err, "cannot reach the broker at");
	assert_contains(err, "not stored 1");
	const char *rargs[] = { "replay", "--query", nowhere, NULL };
	ck_assert_int_eq(vb_h_cli(rargs, NULL, out, err), 1);
	assert_contains(err, "cannot reach the broker at");
}
END_TEST

START_TEST(replay_filters)
{
	vb_h_write(in,
	    COMPLAINT("c1", "C-1", "2026-11-01T09:00:00Z")
	    ORDER("o1", "C-1", "2026-11-02T10:00:00Z")
	    ORDER("o2", "C-2", "2026-11-03T10:00:00Z")
	    ORDER("o3", "C-1", "2026-11-04T10:00:00+02:00")
	    COMPLAINT("c2", "C-2", "2026-11-05T09:00:00Z"));
	ck_assert_int_eq(publish_file(in), 0);
	struct {
		const char *args[8];
		size_t lines;
		const char *first;
	} cases[] = {
		/* A complaint changes its customer's decisions: the broker
		 * logs a suppression.changed for C-1 and C-2 after the five. */
		{ { "--customer", "C-1" }, 4, "\"id\":\"c1\"" },
		{ { "--type", "order." }, 3, "\"id\":\"o1\"" },
		{ { "--type", "complaint.opened" }, 2, "\"id\":\"c1\"" },
		{ { "--type", "suppression." }, 2, "\"customer\":\"C-1\"" },
		{ { "--from", "2", "--to", "3" }, 2, "\"seq\":2" },
		/* The suppression events happened now: after 3 Nov too. */
		{ { "--since", "2026-11-03T00:00:00Z" }, 5, "\"id\":\"o2\"" },
		{ { "--until", "2026-11-02T10:00:00Z" }, 1, "\"id\":\"c1\"" },
		/* 10:00+02:00 is 08:00Z: before 09:00Z. */
		{ { "--since", "2026-11-04T00:00:00Z", "--until", "2026-11-04T09:00:00Z" }, 1, "\"id\":\"o3\"" },
		{ { "--customer", "C-2", "--type", "complaint." }, 1, "\"id\":\"c2\"" },
		{ { "--customer", "nobody" }, 0, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[16] = { "replay", "--query", b.query };
		size_t n = 3;
		for (size_t k = 0; cases[i].args[k]; k++)
			args[n++] = cases[i].args[k];
		args[n] = NULL;
		ck_assert_int_eq(vb_h_cli(args, NULL, out, err), 0);
		ck_assert_msg(vb_h_count_lines(out) == cases[i].lines, "case %zu: %zu lines",
		    i, vb_h_count_lines(out));
		if (cases[i].first) {
			char *s = vb_h_slurp(out, NULL);
			char *nl = strchr(s, '\n');
			*nl = '\0';
			ck_assert_msg(strstr(s, cases[i].first), "case %zu: first line %s", i, s);
			free(s);
		}
	}
	const char *bad[] = { "replay", "--query", b.query, "--since", "3 Nov", NULL };
	ck_assert_int_eq(vb_h_cli(bad, NULL, out, err), 2);
	assert_contains(err, "--since 3 Nov: not an RFC 3339");
}
END_TEST

START_TEST(replay_pb_decodes_with_protoc)
{
	vb_h_write(in, COMPLAINT("c1", "C-1", "2026-11-01T09:00:00Z")
	    ORDER("o1", "C-1", "2026-11-02T10:00:00Z"));
	ck_assert_int_eq(publish_file(in), 0);
	const char *args[] = { "replay", "--query", b.query, "--format", "pb", "--to", "2", NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, out, err), 0);
	size_t len, off = 0, k = 0;
	unsigned char *s = (unsigned char *)vb_h_slurp(out, &len);
	/* Split the varint-delimited stream, decode each message with the
	 * reference implementation. */
	while (off < len) {
		uint64_t n;
		size_t used = vb_varint_decode(s + off, len - off, &n);
		ck_assert_uint_gt(used, 0);
		off += used;
		ck_assert_uint_le(off + n, len);
		char one[400], dec[400], cmd[1400];
		snprintf(one, sizeof(one), "%s/one.pb", b.dir);
		snprintf(dec, sizeof(dec), "%s/one.txt", b.dir);
		FILE *f = fopen(one, "wb");
		fwrite(s + off, 1, n, f);
		fclose(f);
		off += n;
		snprintf(cmd, sizeof(cmd), "protoc -I%s --decode=voicebus.v1.Event "
		    "voicebus/v1/event.proto < %s > %s", VB_PROTO_DIR, one, dec);
		ck_assert_int_eq(system(cmd), 0);
		assert_contains(dec, k == 0 ? "id: \"c1\"" : "id: \"o1\"");
		assert_contains(dec, k == 0 ? "seq: 1" : "seq: 2");
		assert_contains(dec, k == 0 ? "case: \"T-c1\"" : "amount: \"9.50\"");
		k++;
	}
	ck_assert_uint_eq(k, 2);
	free(s);
}
END_TEST

/* A tail stopped long enough for PUB to drop still prints every event
 * exactly once, in order. */
START_TEST(tail_stopped_catches_up_without_gap)
{
	const size_t total = 60000;
	const char *targs[] = { "tail", "--from", "1", "--pub", b.pub, "--query", b.query, NULL };
	pid_t tail = vb_h_cli_bg(targs, out, err);
	vb_client *c = vb_h_client(&b);

	ck_assert_uint_eq(vb_h_publish_range(c, "t", 0, 100, 10, NULL), 100);
	int64_t deadline = vb_h_now_ms() + 30000;
	while (vb_h_count_lines(out) < 100) {
		ck_assert_msg(vb_h_now_ms() < deadline, "tail printed %zu of 100",
		    vb_h_count_lines(out));
		usleep(20000);
	}
	kill(tail, SIGSTOP);
	ck_assert_uint_eq(vb_h_publish_range(c, "t", 100, total, 1000, NULL), total - 100);
	kill(tail, SIGCONT);
	deadline = vb_h_now_ms() + 120000;
	while (vb_h_count_lines(out) < total) {
		ck_assert_msg(vb_h_now_ms() < deadline, "tail printed %zu of %zu",
		    vb_h_count_lines(out), total);
		usleep(50000);
	}
	kill(tail, SIGTERM);
	waitpid(tail, NULL, 0);
	vb_client_close(c);
	size_t len;
	char *s = vb_h_slurp(out, &len), *p = s, *end = s + len;
	size_t expect = 1;
	/* Line by line: strstr over the whole 15 MB output is quadratic
	 * under ASan, whose interceptor measures the haystack each call. */
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		ck_assert_ptr_nonnull(nl);
		ck_assert_msg(strncmp(p, "{\"seq\":", 7) == 0, "line %zu: %.40s", expect, p);
		unsigned long long seq = strtoull(p + 7, NULL, 10);
		ck_assert_msg(seq == expect, "line %zu has seq %llu", expect, seq);
		expect++;
		p = nl + 1;
	}
	ck_assert_uint_eq(expect - 1, total);
	free(s);
}
END_TEST

START_TEST(tail_type_filter_log_then_live)
{
	const char *targs[] = { "tail", "--type", "complaint.", "--from", "1", "--pub", b.pub,
		"--query", b.query, NULL };
	vb_h_write(in, ORDER("before", "C-1", "2026-11-01T09:00:00Z")
	    COMPLAINT("c0", "C-3", "2026-11-01T09:30:00Z"));
	ck_assert_int_eq(publish_file(in), 0);
	/* From the log first, then live: whenever it subscribes, the same
	 * events come out, once each. */
	pid_t tail = vb_h_cli_bg(targs, out, err);
	vb_h_write(in, ORDER("o1", "C-1", "2026-11-01T09:00:00Z")
	    COMPLAINT("c1", "C-1", "2026-11-01T10:00:00Z")
	    ORDER("o2", "C-1", "2026-11-01T11:00:00Z")
	    COMPLAINT("c2", "C-2", "2026-11-01T12:00:00Z"));
	ck_assert_int_eq(publish_file(in), 0);
	int64_t deadline = vb_h_now_ms() + 20000;
	while (vb_h_count_lines(out) < 3) {
		if (vb_h_now_ms() >= deadline) {
			char *o = vb_h_slurp(out, NULL), *e = vb_h_slurp(err, NULL);
			ck_abort_msg("tail printed %zu of 3:\n%s\nstderr:\n%s",
			    vb_h_count_lines(out), o ? o : "", e ? e : "");
		}
		usleep(20000);
	}
	kill(tail, SIGTERM);
	int status;
	waitpid(tail, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(vb_h_count_lines(out), 3);
	char *s = vb_h_slurp(out, NULL);
	ck_assert_ptr_nonnull(strstr(s, "\"id\":\"c0\""));
	ck_assert_ptr_nonnull(strstr(s, "\"id\":\"c1\""));
	ck_assert_ptr_nonnull(strstr(s, "\"id\":\"c2\""));
	ck_assert_ptr_null(strstr(s, "order.placed"));
	free(s);
}
END_TEST


/* Tools nobody here wrote speak our wire format: protoc encodes an
 * IngestRequest from text, nngcat sends it as a REQ client, protoc decodes
 * the IngestReply; nngcat as a SUB receives the PUB stream by topic. */
START_TEST(foreign_tools_interoperate)
{
	char txt[400], bin[400], reply[400], dec[400], sub_out[400], cmd[3000];
	snprintf(txt, sizeof(txt), "%s/req.txt", b.dir);
	snprintf(bin, sizeof(bin), "%s/req.bin", b.dir);
	snprintf(reply, sizeof(reply), "%s/reply.bin", b.dir);
	snprintf(dec, sizeof(dec), "%s/reply.txt", b.dir);
	snprintf(sub_out, sizeof(sub_out), "%s/sub.out", b.dir);

	/* The subscriber first: it exits after one complaint. */
	snprintf(cmd, sizeof(cmd), "nngcat --sub --dial '%s' --subscribe complaint. --quoted "
	    "--count 1 --recv-timeout 30 > '%s' 2>&1 &", b.pub, sub_out);
	ck_assert_int_eq(system(cmd), 0);

	vb_h_write(txt,
	    "events { id: \"foreign-1\" source: \"service\" type: \"complaint.opened\" "
	    "customer: \"C-9\" time: \"2026-11-20T09:12:00Z\" "
	    "complaint_opened { case: \"T-9\" severity: \"low\" } }\n"
	    "events { id: \"foreign-2\" source: \"finance\" type: \"complaint.opened\" "
	    "customer: \"C-9\" time: \"2026-11-20T09:12:00Z\" "
	    "complaint_opened { case: \"T-10\" } }\n");
	snprintf(cmd, sizeof(cmd), "protoc -I%s --encode=voicebus.v1.IngestRequest "
	    "voicebus/v1/wire.proto < '%s' > '%s'", VB_PROTO_DIR, txt, bin);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "nngcat --req --dial '%s' --file '%s' --raw "
	    "--recv-timeout 20 > '%s'", b.ingest, bin, reply);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "protoc -I%s --decode=voicebus.v1.IngestReply "
	    "voicebus/v1/wire.proto < '%s' > '%s'", VB_PROTO_DIR, reply, dec);
	ck_assert_int_eq(system(cmd), 0);
	assert_contains(dec, "seq: 1");
	assert_contains(dec, "may not publish complaint.opened");

	/* The subscriber may have joined after that event: keep publishing
	 * complaints until it has one (bounded). */
	int64_t deadline = vb_h_now_ms() + 30000;
	for (int i = 0; vb_h_count_lines(sub_out) == 0; i++) {
		char line[512], id[32];
		ck_assert_msg(vb_h_now_ms() < deadline, "nngcat received nothing");
		snprintf(id, sizeof(id), "probe-%d", i);
		snprintf(line, sizeof(line), "{\"id\":\"%s\",\"source\":\"service\",\"type\":"
		    "\"complaint.opened\",\"customer\":\"C-9\",\"time\":\"2026-11-20T09:12:00Z\","
		    "\"data\":{\"case\":\"T-%d\"}}\n", id, i);
		vb_h_write(in, line);
		ck_assert_int_eq(publish_file(in), 0);
		usleep(100000);
	}
	assert_contains(sub_out, "\"complaint.opened\\x00");
}
END_TEST

static Suite *
cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("against_broker");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, invalid_line_mid_file_rest_stored);
	tcase_add_test(tc, oversized_event_rejected);
	tcase_add_test(tc, broker_not_running_exit_1);
	tcase_add_test(tc, replay_filters);
	tcase_add_test(tc, replay_pb_decodes_with_protoc);
	tcase_add_test(tc, tail_stopped_catches_up_without_gap);
	tcase_add_test(tc, tail_type_filter_log_then_live);
	tcase_add_test(tc, foreign_tools_interoperate);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cli_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
