/* Integration: access control.  Tokens made by `voicebus token`, a broker
 * configured with one client per role, and what each may and may not do:
 * every refusal a clear error for the client and a log line naming it;
 * marketing never reads complaint text or amounts, not on replay, tail or
 * PUB; without clients the broker serves loopback and ipc:// only. */
#include <check.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vb_harness.h"

/* Planted in every free-text and money field: must never reach marketing. */
#define MARK "SECRET-TEXT-7731"
#define AMOUNT "4242.17"

static vb_h_broker b;
static char conf[400], out[400], err[400], in[400];
static char fin_tok[400], mkt_tok[400], eng_tok[400], adm_tok[400];

static char *
slurp(const char *path)
{
	char *s = vb_h_slurp(path, NULL);
	ck_assert_msg(s != NULL, "cannot read %s", path);
	return s;
}

/* `voicebus token` for one client: the token into dir/NAME.tok, the
 * section it prints appended to the config. */
static void
make_client(const char *name, const char *role, const char *sources, char *tok)
{
	char section[400];
	snprintf(tok, 400, "%s/%s.tok", b.dir, name);
	snprintf(section, sizeof(section), "%s/%s.section", b.dir, name);
	const char *args[] = { "token", "--name", name, "--role", role, "--output", tok,
		sources ? "--sources" : NULL, sources, NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, section, err), 0);
	struct stat sb;
	ck_assert_int_eq(stat(tok, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	char *s = slurp(section);
	FILE *f = fopen(conf, "a");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "\n%s", s);
	fclose(f);
	free(s);
}

static void
setup(void)
{
	vb_h_init(&b);
	snprintf(conf, sizeof(conf), "%s/voicebusd.conf", b.dir);
	snprintf(out, sizeof(out), "%s/out", b.dir);
	snprintf(err, sizeof(err), "%s/err", b.dir);
	snprintf(in, sizeof(in), "%s/in.jsonl", b.dir);
	vb_h_write(conf, "[broker]\nclock_tick_ms = 200\n");
	make_client("finance-adapter", "publisher", "finance", fin_tok);
	make_client("campaigns", "marketing", NULL, mkt_tok);
	make_client("oncall", "engineer", NULL, eng_tok);
	make_client("ops", "admin", NULL, adm_tok);
	const char *extra[] = { "--config", conf, NULL };
	vb_h_start(&b, extra);
}

static void
teardown(void)
{
	vb_h_stop(&b);
	vb_h_cleanup(&b);
}

static int
cli(const char *const *args)
{
	return vb_h_cli(args, in, out, err);
}

static void
assert_file_has(const char *path, const char *what)
{
	char *s = slurp(path);
	ck_assert_msg(strstr(s, what) != NULL, "%s lacks \"%s\": %s", path, what, s);
	free(s);
}

static void
assert_file_lacks(const char *path, const char *what)
{
	char *s = slurp(path);
	ck_assert_msg(strstr(s, what) == NULL, "%s has \"%s\": %s", path, what, s);
	free(s);
}

static const char complaint[] =
    "{\"id\":\"zd-1\",\"source\":\"service\",\"type\":\"complaint.opened\","
    "\"customer\":\"C-1\",\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"case\":\"T-1\","
    "\"severity\":\"high\",\"summary\":\"" MARK "\"},\"attributes\":{\"note\":\"" MARK "\"}}\n";
static const char invoice[] =
    "{\"id\":\"inv-1\",\"source\":\"finance\",\"type\":\"invoice.overdue\","
    "\"customer\":\"C-1\",\"time\":\"2026-11-20T09:12:00Z\",\"data\":{\"invoice\":\"I-1\","
    "\"amount\":\"" AMOUNT "\",\"currency\":\"EUR\",\"due\":\"2026-11-01T00:00:00Z\"}}\n";

/* Publish both events as the admin (who may publish every source). */
static void
publish_both(void)
{
	char both[2048];
	snprintf(both, sizeof(both), "%s%s", complaint, invoice);
	vb_h_write(in, both);
	const char *a[] = { "publish", "--ingest", b.ingest, "--query", b.query,
		"--token-file", adm_tok, NULL };
	ck_assert_int_eq(cli(a), 0);
}

START_TEST(publisher_only_its_sources)
{
	char both[2048];
	snprintf(both, sizeof(both), "%s%s", complaint, invoice);
	vb_h_write(in, both);
	const char *a[] = { "publish", "--ingest", b.ingest, "--query", b.query,
		"--token-file", fin_tok, NULL };
	/* The complaint is refused by name; the invoice around it is stored. */
	ck_assert_int_eq(cli(a), 2);
	assert_file_has(err, "<stdin>:1: source: access denied: client finance-adapter "
	    "may not publish events of source \"service\"");
	assert_file_has(err, "stored 1");
	assert_file_has(b.log, "A001 denied: client finance-adapter (publisher)");

	/* The same through VOICEBUS_TOKEN. */
	vb_h_write(in, invoice);
	char *tok = slurp(fin_tok);
	tok[strcspn(tok, "\n")] = '\0';
	setenv("VOICEBUS_TOKEN", tok, 1);
	const char *e[] = { "publish", "--ingest", b.ingest, "--query", b.query, NULL };
	ck_assert_int_eq(cli(e), 0);
	assert_file_has(err, "duplicates 1");
	unsetenv("VOICEBUS_TOKEN");
	free(tok);

	/* A publisher reads nothing. */
	const char *r[] = { "replay", "--query", b.query, "--token-file", fin_tok, NULL };
	ck_assert_int_eq(cli(r), 1);
	assert_file_has(err, "access denied: client finance-adapter has role publisher, "
	    "which may not replay events");
}
END_TEST

START_TEST(no_or_wrong_token_refused)
{
	vb_h_write(in, invoice);
	const char *a[] = { "publish", "--ingest", b.ingest, "--query", b.query, NULL };
	ck_assert_int_eq(cli(a), 1);
	assert_file_has(err, "access denied: no token");
	assert_file_has(b.log, "A001 denied: unknown client from ");

	char bad[400];
	snprintf(bad, sizeof(bad), "%s/bad.tok", b.dir);
	vb_h_write(bad, "vbt_not-a-token-of-this-broker\n");
	chmod(bad, 0600);
	const char *g[] = { "gate", "--query", b.query, "--token-file", bad, "--customer",
		"C-1", "--purpose", "upsell", "--channel", "email", NULL };
	ck_assert_int_eq(cli(g), 3);
	assert_file_has(err, "access denied: unknown token");

	/* A token file others may read is refused before anything is sent. */
	chmod(bad, 0644);
	ck_assert_int_eq(cli(g), 2);
	assert_file_has(err, "readable by every user");

	/* Nothing was stored by any of it. */
	const char *r[] = { "replay", "--query", b.query, "--token-file", eng_tok, NULL };
	ck_assert_int_eq(cli(r), 0);
	ck_assert_uint_eq(vb_h_count_lines(out), 0);
}
END_TEST

START_TEST(marketing_sees_decisions_not_text)
{
	publish_both();
	const char *g[] = { "gate", "--query", b.query, "--token-file", mkt_tok, "--customer",
		"C-1", "--purpose", "upsell", "--channel", "email", NULL };
	ck_assert_int_eq(cli(g), 1);
	assert_file_has(out, "\"rule\":\"open-complaint\",\"event\":\"zd-1\"");
	assert_file_lacks(out, MARK);

	const char *c[] = { "customer", "--query", b.query, "--token-file", mkt_tok, "C-1", NULL };
	ck_assert_int_eq(cli(c), 0);
	assert_file_lacks(out, MARK);
	assert_file_lacks(out, AMOUNT);

	/* Replay: the redacted form, marked so. */
	const char *r[] = { "replay", "--query", b.query, "--token-file", mkt_tok, NULL };
	ck_assert_int_eq(cli(r), 0);
	assert_file_has(out, "\"id\":\"zd-1\"");
	assert_file_has(out, "\"redacted\":true");
	assert_file_has(out, "\"case\":\"T-1\"");
	assert_file_lacks(out, MARK);
	assert_file_lacks(out, AMOUNT);

	/* The engineer reads it all. */
	const char *e[] = { "replay", "--query", b.query, "--token-file", eng_tok, NULL };
	ck_assert_int_eq(cli(e), 0);
	assert_file_has(out, MARK);
	assert_file_has(out, AMOUNT);
	assert_file_lacks(out, "redacted");

	/* Reservations are marketing's; rebuilds are the admin's. */
	const char *rec[] = { "gate", "--query", b.query, "--token-file", mkt_tok, "--customer",
		"C-2", "--purpose", "promotion", "--channel", "sms", "--record", "nov-promo", NULL };
	ck_assert_int_eq(cli(rec), 0);
	rec[4] = eng_tok;
	ck_assert_int_eq(cli(rec), 3);
	assert_file_has(err, "access denied: client oncall has role engineer, which may not record a campaign");
	const char *rb[] = { "rebuild", "--query", b.query, "--token-file", mkt_tok, NULL };
	ck_assert_int_eq(cli(rb), 1);
	assert_file_has(err, "which may not rebuild state");
	assert_file_has(b.log, "A001 denied: client campaigns (marketing)");
	rb[4] = adm_tok;
	ck_assert_int_eq(cli(rb), 0);

	/* stats names the caller. */
	const char *s[] = { "stats", "--query", b.query, "--token-file", mkt_tok, NULL };
	ck_assert_int_eq(cli(s), 0);
	assert_file_has(out, "client     campaigns (marketing)");
}
END_TEST

/* Wait until path holds a line with what in it. */
static void
wait_for(const char *path, const char *what)
{
	int64_t deadline = vb_h_now_ms() + 20000;
	for (;;) {
		char *s = vb_h_slurp(path, NULL);
		int found = s && strstr(s, what);
		free(s);
		if (found)
			return;
		ck_assert_msg(vb_h_now_ms() < deadline, "%s never showed %s", path, what);
		usleep(20000);
	}
}

START_TEST(tail_and_pub_by_role)
{
	char mout[400], eout[400], merr[400], eerr[400];
	snprintf(mout, sizeof(mout), "%s/tail-mkt", b.dir);
	snprintf(eout, sizeof(eout), "%s/tail-eng", b.dir);
	snprintf(merr, sizeof(merr), "%s/tail-mkt.err", b.dir);
	snprintf(eerr, sizeof(eerr), "%s/tail-eng.err", b.dir);
	const char *m[] = { "tail", "--query", b.query, "--pub", b.pub, "--token-file",
		mkt_tok, NULL };
	const char *e[] = { "tail", "--query", b.query, "--pub", b.pub, "--token-file",
		eng_tok, NULL };
	pid_t mp = vb_h_cli_bg(m, mout, merr), ep = vb_h_cli_bg(e, eout, eerr);

	/* A subscriber nobody configured: PUB cannot ask it for a token. */
	nng_socket sub;
	nng_msg *msg;
	ck_assert_int_eq(nng_sub0_open(&sub), 0);
	ck_assert_int_eq(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
	ck_assert_int_eq(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 10000), 0);
	ck_assert_int_eq(nng_dial(sub, b.pub, NULL, 0), 0);

	/* Both tails are following once an event published now reaches them. */
	int64_t deadline = vb_h_now_ms() + 20000;
	char probe[600], id[64];
	for (int i = 0;; i++) {
		snprintf(id, sizeof(id), "probe-%d", i);
		vb_h_order_json(probe, sizeof(probe), id, "C-9");
		strcat(probe, "\n");
		vb_h_write(in, probe);
		const char *p[] = { "publish", "--ingest", b.ingest, "--query", b.query,
			"--token-file", adm_tok, NULL };
		ck_assert_int_eq(cli(p), 0);
		usleep(200000);
		char *ms = vb_h_slurp(mout, NULL), *es = vb_h_slurp(eout, NULL);
		int ready = ms && es && strstr(ms, id) && strstr(es, id);
		free(ms);
		free(es);
		if (ready)
			break;
		ck_assert_msg(vb_h_now_ms() < deadline, "the tails never started following");
	}
	publish_both();
	wait_for(mout, "\"id\":\"inv-1\"");
	wait_for(eout, "\"id\":\"inv-1\"");
	assert_file_lacks(mout, MARK);
	assert_file_lacks(mout, AMOUNT);
	assert_file_has(mout, "\"id\":\"zd-1\"");
	assert_file_has(eout, MARK);
	assert_file_has(eout, AMOUNT);

	/* Every message the raw subscriber got is the redacted form.  Read
	 * until a second passes without one: PUB delivers to each pipe on
	 * its own, so what the tails have printed may still be on its way
	 * here (reading without waiting after the first message got one of
	 * them on a loaded machine). */
	int got = 0;
	while (nng_recvmsg(sub, &msg, 0) == 0) {
		ck_assert_msg(memmem(nng_msg_body(msg), nng_msg_len(msg), MARK, strlen(MARK)) == NULL,
		    "complaint text on PUB");
		ck_assert_msg(memmem(nng_msg_body(msg), nng_msg_len(msg), AMOUNT, strlen(AMOUNT)) == NULL,
		    "an amount on PUB");
		nng_msg_free(msg);
		if (got++ == 0)
			ck_assert_int_eq(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 1000), 0);
	}
	ck_assert_int_ge(got, 2);
	nng_close(sub);
	kill(mp, SIGTERM);
	kill(ep, SIGTERM);
	ck_assert_int_eq(waitpid(mp, NULL, 0), mp);
	ck_assert_int_eq(waitpid(ep, NULL, 0), ep);
}
END_TEST

START_TEST(admin_backup_and_config)
{
	char copy[400], cmd[900];
	publish_both();
	snprintf(copy, sizeof(copy), "%s/backup.mdb", b.dir);
	const char *bk[] = { "backup", "--query", b.query, "--token-file", eng_tok, copy, NULL };
	ck_assert_int_eq(cli(bk), 1);
	assert_file_has(err, "which may not make a backup");
	ck_assert_int_ne(access(copy, F_OK), 0);
	bk[4] = adm_tok;
	ck_assert_int_eq(cli(bk), 0);
	assert_file_has(out, "every event up to seq ");
	/* LMDB's own tool reads the copy: both events are in the log. */
	snprintf(cmd, sizeof(cmd), "mdb_stat -n -s log '%s' > '%s' 2>&1", copy, out);
	ck_assert_int_eq(system(cmd), 0);
	assert_file_has(out, "Entries: ");
	/* Never over an existing file, never a relative path. */
	ck_assert_int_eq(cli(bk), 2);
	assert_file_has(err, "File exists");
	bk[5] = "relative.mdb";
	ck_assert_int_eq(cli(bk), 2);
	assert_file_has(err, "is not absolute");

	const char *cf[] = { "config", "--query", b.query, "--token-file", adm_tok, NULL };
	ck_assert_int_eq(cli(cf), 0);
	assert_file_has(out, "[client.campaigns]");
	assert_file_has(out, "token_sha256 = ");
	char *tok = slurp(adm_tok);
	tok[strcspn(tok, "\n")] = '\0';
	assert_file_lacks(out, tok);
	free(tok);
	cf[4] = mkt_tok;
	ck_assert_int_eq(cli(cf), 1);
	assert_file_has(err, "which may not read the configuration");
}
END_TEST

START_TEST(denials_logged_at_a_bounded_rate)
{
	vb_client_opts o = { b.ingest, b.query, 5000, NULL, "vbt_guess" };
	vb_client *c;
	vb_query_req q = { .kind = VB_QUERY_STATS };
	int64_t t0 = vb_h_now_ms();
	ck_assert_int_eq(vb_client_open(&o, &c), 0);
	for (int i = 0; i < 2000; i++) {
		vb_query_reply r;
		ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
		ck_assert_int_eq(r.code, -15); /* VB_EACCES */
		vb_query_reply_free(&r);
	}
	vb_client_close(c);
	int64_t secs = (vb_h_now_ms() - t0) / 1000 + 2;
	/* One more, a second later, reports how many were not logged. */
	usleep(1100000);
	ck_assert_int_eq(vb_client_open(&o, &c), 0);
	vb_query_reply r;
	ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
	vb_query_reply_free(&r);
	vb_client_close(c);
	char *log = slurp(b.log);
	size_t lines = 0;
	for (char *p = log; (p = strstr(p, "A001 denied")) != NULL; p++)
		lines++;
	ck_assert_msg(lines <= (size_t)(secs * 20 + 20), "%zu denial lines in %lld s", lines,
	    (long long)secs);
	ck_assert_ptr_nonnull(strstr(log, "A002"));
	free(log);
}
END_TEST

START_TEST(without_clients_loopback_only)
{
	vb_h_stop(&b);
	char tcp[64], plain[400];
	snprintf(tcp, sizeof(tcp), "tcp://0.0.0.0:%d", 20000 + (int)(getpid() % 20000));
	snprintf(plain, sizeof(plain), "%s/plain.conf", b.dir);
	vb_h_write(plain, "[broker]\n");
	const char *a[] = { VB_BIN_DIR "/voicebusd", "--data", b.data, "--config", plain,
		"--ingest", tcp, NULL };
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		freopen(err, "w", stderr);
		execv(a[0], (char *const *)a);
		_exit(127);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 2);
	assert_file_has(err, "ingest = tcp://0.0.0.0:");
	assert_file_has(err, "serves only loopback");

	/* On loopback and ipc:// it starts, and says access control is off. */
	const char *extra[] = { "--config", plain, NULL };
	vb_h_start(&b, extra);
	assert_file_has(b.log, "A003 access control off");
}
END_TEST

START_TEST(config_errors_name_the_line)
{
	char bad[400];
	const char *a[] = { VB_BIN_DIR "/voicebusd", "--check-config", bad, NULL };
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "[client.x]\nrole = publisher\nsources = finance\n", ":2: [client.x]: token_sha256: missing" },
		{ "[client.x]\ntoken_sha256 = 00\n", ":2: token_sha256: 64 hex digits expected" },
		{ "[client.x]\nrole = boss\n", ":2: role: unknown role \"boss\"" },
		{ "[client.x]\nrole = publisher\ntoken_sha256 = "
		  "0000000000000000000000000000000000000000000000000000000000000000\n",
		  "[client.x]: sources: missing" },
		{ "[client.x]\nrole = admin\ntoken_sha256 = "
		  "0000000000000000000000000000000000000000000000000000000000000000\n"
		  "[client.y]\nrole = engineer\ntoken_sha256 = "
		  "0000000000000000000000000000000000000000000000000000000000000000\n",
		  ":5: [client.y]: token_sha256: the same token as another client" },
	};
	snprintf(bad, sizeof(bad), "%s/bad.conf", b.dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vb_h_write(bad, cases[i].text);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			freopen(err, "w", stderr);
			freopen("/dev/null", "w", stdout);
			execv(a[0], (char *const *)a);
			_exit(127);
		}
		int status;
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_int_eq(WEXITSTATUS(status), 2);
		assert_file_has(err, cases[i].want);
	}
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, publisher_only_its_sources);
	tcase_add_test(tc, no_or_wrong_token_refused);
	tcase_add_test(tc, marketing_sees_decisions_not_text);
	tcase_add_test(tc, tail_and_pub_by_role);
	tcase_add_test(tc, admin_backup_and_config);
	tcase_add_test(tc, denials_logged_at_a_bounded_rate);
	tcase_add_test(tc, without_clients_loopback_only);
	tcase_add_test(tc, config_errors_name_the_line);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
