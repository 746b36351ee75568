/* Integration: publish, gate, replay and tail over tls+tcp://, with a CA
 * and a broker certificate this test makes with openssl. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vb_harness.h"

static vb_h_broker b;
static char ca[400], out[400], err[400], in[400];

static void
run(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* A CA, and a certificate for "localhost" signed by it; a second CA that
 * signed nothing of ours. */
static void
make_pki(const char *dir)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	    "cd '%s' && "
	    "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
	    "-subj '/CN=voicebus test CA' 2>/dev/null && "
	    "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 "
	    "-subj '/CN=someone else' 2>/dev/null && "
	    "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
	    "-subj '/CN=localhost' 2>/dev/null && "
	    "printf 'subjectAltName=DNS:localhost\\n' > ext.cnf && "
	    "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	    "-out server.pem -days 2 -extfile ext.cnf 2>/dev/null", dir);
	run(cmd);
}

static void
setup(void)
{
	char cert[400], key[400], setc[420], setk[420];
	int port = 30000 + (int)(getpid() % 10000) * 3;
	vb_h_init(&b);
	make_pki(b.dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", b.dir);
	snprintf(cert, sizeof(cert), "%s/server.pem", b.dir);
	snprintf(key, sizeof(key), "%s/server.key", b.dir);
	snprintf(out, sizeof(out), "%s/out", b.dir);
	snprintf(err, sizeof(err), "%s/err", b.dir);
	snprintf(in, sizeof(in), "%s/in.jsonl", b.dir);
	snprintf(b.ingest, sizeof(b.ingest), "tls+tcp://localhost:%d", port);
	snprintf(b.pub, sizeof(b.pub), "tls+tcp://localhost:%d", port + 1);
	snprintf(b.query, sizeof(b.query), "tls+tcp://localhost:%d", port + 2);
	snprintf(setc, sizeof(setc), "tls_cert=%s", cert);
	snprintf(setk, sizeof(setk), "tls_key=%s", key);
	/* The harness's own readiness probe is a client too: it needs the CA. */
	setenv("VOICEBUS_TLS_CA", ca, 1);
	const char *extra[] = { "--set", setc, "--set", setk, NULL };
	vb_h_start(&b, extra);
	unsetenv("VOICEBUS_TLS_CA");
}

static void
teardown(void)
{
	vb_h_stop(&b);
	vb_h_cleanup(&b);
}

static void
assert_contains(const char *path, const char *needle)
{
	char *s = vb_h_slurp(path, NULL);
	ck_assert_msg(s && strstr(s, needle), "%s does not contain \"%s\": %s", path,
	    needle, s ? s : "(missing)");
	free(s);
}

START_TEST(publish_gate_replay_tail_over_tls)
{
	char tail_out[420];
	snprintf(tail_out, sizeof(tail_out), "%s/tail.out", b.dir);
	const char *targs[] = { "tail", "--from", "1", "--pub", b.pub, "--query", b.query,
		"--tls-ca", ca, NULL };
	pid_t tail = vb_h_cli_bg(targs, tail_out, NULL);

	vb_h_write(in, "{\"id\":\"c1\",\"source\":\"service\",\"type\":\"complaint.opened\","
	    "\"customer\":\"C-1\",\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"case\":\"T-1\"}}\n");
	const char *pargs[] = { "publish", "--ingest", b.ingest, "--query", b.query, "--tls-ca",
		ca, in, NULL };
	ck_assert_int_eq(vb_h_cli(pargs, NULL, out, err), 0);
	assert_contains(err, "stored 1, duplicates 0, rejected 0");

	const char *gargs[] = { "gate", "--query", b.query, "--tls-ca", ca, "--customer", "C-1",
		"--purpose", "upsell", "--channel", "email", NULL };
	ck_assert_int_eq(vb_h_cli(gargs, NULL, out, err), 1);
	assert_contains(out, "\"rule\":\"open-complaint\",\"event\":\"c1\"");

	const char *rargs[] = { "replay", "--query", b.query, "--tls-ca", ca, NULL };
	ck_assert_int_eq(vb_h_cli(rargs, NULL, out, err), 0);
	assert_contains(out, "\"id\":\"c1\"");

	/* The CA may come from the environment too (adapters, scripts). */
	setenv("VOICEBUS_TLS_CA", ca, 1);
	const char *sargs[] = { "stats", "--query", b.query, NULL };
	ck_assert_int_eq(vb_h_cli(sargs, NULL, out, err), 0);
	unsetenv("VOICEBUS_TLS_CA");

	/* complaint + its suppression.changed */
	int64_t deadline = vb_h_now_ms() + 20000;
	while (vb_h_count_lines(tail_out) < 2) {
		ck_assert_msg(vb_h_now_ms() < deadline, "tail over TLS printed %zu of 2",
		    vb_h_count_lines(tail_out));
		usleep(20000);
	}
	kill(tail, SIGTERM);
	waitpid(tail, NULL, 0);
}
END_TEST

START_TEST(untrusted_or_missing_ca_refused)
{
	char other[420];
	snprintf(other, sizeof(other), "%s/other.pem", b.dir);
	const char *a1[] = { "stats", "--query", b.query, "--tls-ca", other, NULL };
	ck_assert_int_eq(vb_h_cli(a1, NULL, out, err), 1);
	assert_contains(err, "Cryptographic error");
	const char *a2[] = { "stats", "--query", b.query, NULL };
	ck_assert_int_eq(vb_h_cli(a2, NULL, out, err), 1);
	assert_contains(err, "needs the CA that signed the broker's certificate");
	/* Plain TCP to a TLS port gets nowhere either. */
	char plain[400];
	snprintf(plain, sizeof(plain), "tcp://localhost%s", strrchr(b.query, ':'));
	const char *a3[] = { "stats", "--query", plain, "--timeout", "2", NULL };
	ck_assert_int_eq(vb_h_cli(a3, NULL, out, err), 1);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, publish_gate_replay_tail_over_tls);
	tcase_add_test(tc, untrusted_or_missing_ca_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tls_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
