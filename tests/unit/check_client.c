/* common/vb_client: vb_client_abort against a broker that never answers.
 * The "broker" is a REP socket of the test's own that takes requests and
 * keeps them: the client's calls then wait for their timeout unless
 * aborted. */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "vb_client.h"
#include "vb_error.h"
#include "vb_time.h"
#include "vb_test.h"

/* A REP socket listening on a fresh ipc:// address in dir (url). */
static nng_socket
mute_broker(const char *dir, char *url, size_t len)
{
	nng_socket s;
	snprintf(url, len, "ipc://%s/mute", dir);
	ck_assert_int_eq(nng_rep0_open(&s), 0);
	ck_assert_int_eq(nng_listen(s, url, NULL, 0), 0);
	return s;
}

typedef struct call {
	vb_client *c;
	int query; /* a query, else a publish */
	int rv;
	int64_t ms;
} call;

static void *
call_main(void *arg)
{
	call *k = arg;
	int64_t t0 = vb_time_mono_us() / 1000;
	if (k->query) {
		vb_query_req q = { .kind = VB_QUERY_STATS };
		vb_query_reply r;
		k->rv = vb_client_query(k->c, &q, &r);
		if (k->rv == 0)
			vb_query_reply_free(&r);
	} else {
		static const uint8_t req[] = { 0 };
		vb_ingest_reply r;
		k->rv = vb_client_publish_raw(k->c, req, 0, &r);
		if (k->rv == 0)
			vb_ingest_reply_free(&r);
	}
	k->ms = vb_time_mono_us() / 1000 - t0;
	return NULL;
}

/* Wait until the mute broker holds a request: the call is then inside its
 * receive, where an abort must reach it. */
static void
await_request(nng_socket s)
{
	nng_msg *m;
	ck_assert_int_eq(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000), 0);
	ck_assert_int_eq(nng_recvmsg(s, &m, 0), 0);
	nng_msg_free(m);
}

static void
abort_wakes(int query)
{
	char dir[1024], url[1100];
	vbt_mkdtemp(dir, sizeof(dir));
	nng_socket s = mute_broker(dir, url, sizeof(url));
	vb_client_opts o = { .ingest = url, .query = url, .timeout_ms = 30000 };
	call k = { 0 };
	pthread_t th;

	ck_assert_int_eq(vb_client_open(&o, &k.c), 0);
	k.query = query;
	pthread_create(&th, NULL, call_main, &k);
	await_request(s);
	usleep(20000); /* and well inside its wait */
	vb_client_abort(k.c);
	pthread_join(th, NULL);
	ck_assert_int_eq(k.rv, VB_ECLOSED);
	ck_assert_msg(k.ms < 10000, "the aborted call took %lld ms", (long long)k.ms);
	/* Every later call fails at once too. */
	call_main(&k);
	ck_assert_int_eq(k.rv, VB_ECLOSED);
	ck_assert_int_lt(k.ms, 10000);
	vb_client_close(k.c);
	nng_close(s);
}

START_TEST(abort_wakes_a_publish)
{
	abort_wakes(0);
}
END_TEST

START_TEST(abort_wakes_a_query)
{
	abort_wakes(1);
}
END_TEST

/* Aborted before anything was dialled: nothing is. */
START_TEST(abort_before_use)
{
	char dir[1024], url[1100];
	vbt_mkdtemp(dir, sizeof(dir));
	nng_socket s = mute_broker(dir, url, sizeof(url));
	vb_client_opts o = { .ingest = url, .query = url, .timeout_ms = 30000 };
	call k = { 0 };
	ck_assert_int_eq(vb_client_open(&o, &k.c), 0);
	vb_client_abort(k.c);
	call_main(&k);
	ck_assert_int_eq(k.rv, VB_ECLOSED);
	k.query = 1;
	call_main(&k);
	ck_assert_int_eq(k.rv, VB_ECLOSED);
	vb_client_close(k.c);
	nng_close(s);
}
END_TEST

static Suite *
client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("abort");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, abort_wakes_a_publish);
	tcase_add_test(tc, abort_wakes_a_query);
	tcase_add_test(tc, abort_before_use);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(client_suite());
}
