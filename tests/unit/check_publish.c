/* Unit tests of adapters/lib/vb_pub without a broker: the dry run, and
 * giving up on a broker that is not there after retry_for.  Publishing to
 * a real broker is tests/integration/check_adapters.c's. */
#include <string.h>
#include <time.h>

#include "vb_publish.h"
#include "vb_error.h"
#include "vb_event.h"
#include "vb_test.h"

static vb_event *
order(int i)
{
	char json[512];
	snprintf(json, sizeof(json),
	    "{\"id\":\"t:%d:placed\",\"source\":\"sales\",\"type\":\"order.placed\","
	    "\"customer\":\"C-%d\",\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"order\":\"%d\"}}",
	    i, i % 7, i);
	return vbt_event(json);
}

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(dry_run_prints_json_lines)
{
	char *out = NULL, *err = NULL;
	size_t outn = 0, errn = 0;
	FILE *o = open_memstream(&out, &outn), *e = open_memstream(&err, &errn);
	vb_report rep;
	vb_pub *p;
	vb_pub_counts c;
	vb_report_init(&rep, "vb-test", e);
	vb_pub_opts po = { .report = &rep, .batch = 2, .dry_run = o };
	ck_assert_int_eq(vb_pub_open(&po, &p), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(vb_pub_add(p, order(i), "f.csv", (unsigned long)i + 2, i % 2), 0);
	ck_assert_int_eq(vb_pub_flush(p), 0);
	vb_pub_get_counts(p, &c);
	ck_assert_uint_eq(c.events, 5);
	ck_assert_uint_eq(c.printed, 5);
	ck_assert_uint_eq(c.stored, 0);
	ck_assert_uint_eq(c.rows_done, 2);
	vb_pub_reset(p);
	vb_pub_get_counts(p, &c);
	ck_assert_uint_eq(c.events, 0);
	vb_pub_close(p);
	fclose(o);
	fclose(e);
	size_t lines = 0;
	for (char *s = out; *s; s++)
		lines += *s == '\n';
	ck_assert_uint_eq(lines, 5);
	ck_assert_msg(strncmp(out, "{\"id\":\"t:0:placed\",\"source\":\"sales\"", 35) == 0, "%s", out);
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
}
END_TEST

START_TEST(gives_up_after_retry_for)
{
	char *err = NULL, url[1100], dir[1024];
	size_t errn = 0;
	FILE *e = open_memstream(&err, &errn);
	vb_report rep;
	vb_client *cl;
	vb_pub *p;
	vb_pub_counts c;

	vbt_mkdtemp(dir, sizeof(dir));
	snprintf(url, sizeof(url), "ipc://%s/nobody.sock", dir);
	vb_client_opts co = { url, url, 1000, NULL, NULL };
	ck_assert_int_eq(vb_client_open(&co, &cl), 0);
	vb_report_init(&rep, "vb-test", e);
	vb_pub_opts po = { .client = cl, .report = &rep, .batch = 3, .retry_for_ms = 600 };
	ck_assert_int_eq(vb_pub_open(&po, &p), 0);
	int64_t t0 = now_ms();
	ck_assert_int_eq(vb_pub_add(p, order(1), "f.csv", 2, 1), 0);
	ck_assert_int_eq(vb_pub_add(p, order(2), "f.csv", 3, 1), 0);
	/* The third fills the batch: sent, retried, given up. */
	ck_assert_int_eq(vb_pub_add(p, order(3), "f.csv", 4, 1), VB_EIO);
	int64_t took = now_ms() - t0;
	ck_assert_msg(took >= 600 && took < 5000, "gave up after %lld ms", (long long)took);
	ck_assert_int_eq(vb_pub_failed(p), 1);
	/* From now on nothing is tried: counted as not stored at once. */
	ck_assert_int_eq(vb_pub_add(p, order(4), "f.csv", 5, 1), VB_EIO);
	ck_assert_int_eq(vb_pub_flush(p), 0);
	vb_pub_get_counts(p, &c);
	ck_assert_uint_eq(c.events, 4);
	ck_assert_uint_eq(c.unsent, 4);
	ck_assert_uint_eq(c.stored + c.duplicates + c.rows_done, 0);
	/* Tried again after vb_pub_retry, and given up again. */
	vb_pub_retry(p);
	vb_pub_reset(p);
	ck_assert_int_eq(vb_pub_add(p, order(5), "f.csv", 6, 1), 0);
	ck_assert_int_eq(vb_pub_flush(p), VB_EIO);
	vb_pub_get_counts(p, &c);
	ck_assert_uint_eq(c.unsent, 1);
	vb_pub_close(p);
	vb_client_close(cl);
	fclose(e);
	ck_assert_msg(strstr(err, "vb-test: cannot reach the broker at ipc://") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "retrying for up to 0.6 s") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "gave up after retrying for 0.6 s") != NULL, "%s", err);
	free(err);
}
END_TEST

static volatile sig_atomic_t stop_now = 1;

START_TEST(stop_flag_cuts_retries_short)
{
	char *err = NULL, url[1100], dir[1024];
	size_t errn = 0;
	FILE *e = open_memstream(&err, &errn);
	vb_report rep;
	vb_client *cl;
	vb_pub *p;

	vbt_mkdtemp(dir, sizeof(dir));
	snprintf(url, sizeof(url), "ipc://%s/nobody.sock", dir);
	vb_client_opts co = { url, url, 1000, NULL, NULL };
	ck_assert_int_eq(vb_client_open(&co, &cl), 0);
	vb_report_init(&rep, "vb-test", e);
	vb_pub_opts po = { .client = cl, .report = &rep, .retry_for_ms = 60000,
		.stop = &stop_now };
	ck_assert_int_eq(vb_pub_open(&po, &p), 0);
	int64_t t0 = now_ms();
	ck_assert_int_eq(vb_pub_add(p, order(1), "f.csv", 2, 1), 0);
	ck_assert_int_eq(vb_pub_flush(p), VB_EIO);
	ck_assert_int_lt(now_ms() - t0, 5000);
	vb_pub_close(p);
	vb_client_close(cl);
	fclose(e);
	ck_assert_msg(strstr(err, "did not store a batch of 1 events (lines 2-2)") != NULL, "%s", err);
	free(err);
}
END_TEST

static Suite *
pub_suite(void)
{
	Suite *s = suite_create("adapter_pub");
	TCase *tc = tcase_create("pub");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dry_run_prints_json_lines);
	tcase_add_test(tc, gives_up_after_retry_for);
	tcase_add_test(tc, stop_flag_cuts_retries_short);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(pub_suite());
}
