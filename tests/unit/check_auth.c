/* broker/vb_auth: client sections, token lookup, what each role may do,
 * and the rate limit on denial log lines. */
#include <string.h>

#include "vb_auth.h"
#include "vb_error.h"
#include "vb_test.h"
#include "vb_token.h"

static void
add(vb_auth *a, const char *name, const char *token, const char *role,
    const char *sources)
{
	char hex[65], err[256];
	vb_token_hash_hex(token, strlen(token), hex);
	ck_assert_int_eq(vb_auth_set(a, name, "token_sha256", hex, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(vb_auth_set(a, name, "role", role, 2, err, sizeof(err)), 0);
	if (sources)
		ck_assert_int_eq(vb_auth_set(a, name, "sources", sources, 3, err, sizeof(err)), 0);
}

START_TEST(find_by_token)
{
	static vb_auth a;
	int line;
	char err[256];
	memset(&a, 0, sizeof(a));
	ck_assert(!vb_auth_enabled(&a));
	add(&a, "fin", "vbt_one", "publisher", "finance");
	add(&a, "mkt", "vbt_two", "marketing", NULL);
	add(&a, "eng", "vbt_three", "engineer", NULL);
	ck_assert(vb_auth_enabled(&a));
	ck_assert_int_eq(vb_auth_check(&a, &line, err, sizeof(err)), 0);
	ck_assert_str_eq(vb_auth_find(&a, "vbt_two", 7)->name, "mkt");
	ck_assert_str_eq(vb_auth_find(&a, "vbt_three", 9)->name, "eng");
	ck_assert_str_eq(vb_auth_find(&a, "vbt_one", 7)->name, "fin");
	/* A prefix, a longer string, a different case, nothing: no client. */
	ck_assert_ptr_null(vb_auth_find(&a, "vbt_on", 6));
	ck_assert_ptr_null(vb_auth_find(&a, "vbt_one2", 8));
	ck_assert_ptr_null(vb_auth_find(&a, "VBT_ONE", 7));
	ck_assert_ptr_null(vb_auth_find(&a, "", 0));
	/* The length given counts, not a NUL. */
	ck_assert_str_eq(vb_auth_find(&a, "vbt_one-and-more", 7)->name, "fin");
}
END_TEST

START_TEST(roles_and_sources)
{
	static vb_auth a;
	memset(&a, 0, sizeof(a));
	add(&a, "fin", "t1", "publisher", "finance, sales");
	add(&a, "adm", "t2", "admin", NULL);
	add(&a, "mkt", "t3", "marketing", NULL);
	add(&a, "eng", "t4", "engineer", NULL);
	const vb_auth_client *fin = &a.client[0], *adm = &a.client[1];
	const vb_auth_client *mkt = &a.client[2], *eng = &a.client[3];
	ck_assert(vb_auth_may_publish(fin, "finance"));
	ck_assert(vb_auth_may_publish(fin, "sales"));
	ck_assert(!vb_auth_may_publish(fin, "service"));
	ck_assert(!vb_auth_may_publish(fin, "voicebus"));
	ck_assert(vb_auth_may_publish(adm, "service"));
	ck_assert(!vb_auth_may_publish(mkt, "marketing"));
	ck_assert(!vb_auth_may_publish(eng, "finance"));

	ck_assert(vb_auth_allows(VB_ROLE_PUBLISHER, VB_OP_INGEST));
	ck_assert(vb_auth_allows(VB_ROLE_PUBLISHER, VB_OP_STATS));
	ck_assert(!vb_auth_allows(VB_ROLE_PUBLISHER, VB_OP_REPLAY));
	ck_assert(!vb_auth_allows(VB_ROLE_PUBLISHER, VB_OP_GATE));
	ck_assert(!vb_auth_allows(VB_ROLE_MARKETING, VB_OP_INGEST));
	ck_assert(vb_auth_allows(VB_ROLE_MARKETING, VB_OP_GATE));
	ck_assert(vb_auth_allows(VB_ROLE_MARKETING, VB_OP_RECORD));
	ck_assert(vb_auth_allows(VB_ROLE_MARKETING, VB_OP_REPLAY));
	ck_assert(!vb_auth_allows(VB_ROLE_MARKETING, VB_OP_REBUILD));
	ck_assert(vb_auth_allows(VB_ROLE_ENGINEER, VB_OP_REPLAY));
	ck_assert(!vb_auth_allows(VB_ROLE_ENGINEER, VB_OP_RECORD));
	ck_assert(!vb_auth_allows(VB_ROLE_ENGINEER, VB_OP_INGEST));
	ck_assert(!vb_auth_allows(VB_ROLE_ENGINEER, VB_OP_REBUILD));
	for (int op = 0; op < VB_NOPS; op++)
		ck_assert(vb_auth_allows(VB_ROLE_ADMIN, (vb_op)op));
	ck_assert(!vb_auth_allows((vb_role)99, VB_OP_STATS));
	ck_assert(!vb_auth_allows(VB_ROLE_ADMIN, (vb_op)99));

	ck_assert(vb_auth_redacts(mkt));
	ck_assert(vb_auth_redacts(fin));
	ck_assert(!vb_auth_redacts(eng));
	ck_assert(!vb_auth_redacts(adm));

	/* "*" grants every source of the contract. */
	add(&a, "all", "t5", "publisher", "*");
	ck_assert(vb_auth_may_publish(&a.client[4], "customer"));
	ck_assert(vb_auth_may_publish(&a.client[4], "service"));
}
END_TEST

START_TEST(bad_sections)
{
	static vb_auth a;
	char err[256];
	int line;
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(vb_auth_set(&a, "x", "role", "root", 4, err, sizeof(err)), VB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "role: unknown role \"root\""));
	ck_assert_int_eq(vb_auth_set(&a, "x", "token_sha256", "abc", 5, err, sizeof(err)), VB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "64 hex digits"));
	ck_assert_int_eq(vb_auth_set(&a, "x", "token_sha256",
	    "zz00000000000000000000000000000000000000000000000000000000000000", 5, err,
	    sizeof(err)), VB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not a hex digit"));
	ck_assert_int_eq(vb_auth_set(&a, "x", "sources", "finance, pirates", 6, err,
	    sizeof(err)), VB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown source \"pirates\""));
	ck_assert_int_eq(vb_auth_set(&a, "x", "sources", " , ", 6, err, sizeof(err)), VB_EINVAL);
	ck_assert_int_eq(vb_auth_set(&a, "x", "password", "1", 7, err, sizeof(err)), VB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown client option"));
	ck_assert_int_eq(vb_auth_set(&a, "bad name", "role", "admin", 8, err, sizeof(err)), VB_EINVAL);
	ck_assert_int_eq(vb_auth_set(&a, "", "role", "admin", 8, err, sizeof(err)), VB_EINVAL);

	/* x exists (its first option made it) but has neither hash nor role. */
	ck_assert_int_eq(vb_auth_check(&a, &line, err, sizeof(err)), VB_EINVAL);
	ck_assert_int_eq(line, 4);
	ck_assert_str_eq(err, "[client.x]: token_sha256: missing");

	memset(&a, 0, sizeof(a));
	add(&a, "e", "t", "engineer", NULL);
	ck_assert_int_eq(vb_auth_set(&a, "e", "sources", "finance", 9, err, sizeof(err)), 0);
	ck_assert_int_eq(vb_auth_check(&a, &line, err, sizeof(err)), VB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "sources: only for role = publisher"));

	memset(&a, 0, sizeof(a));
	for (int i = 0; i < VB_CLIENTS_MAX; i++) {
		char name[16];
		snprintf(name, sizeof(name), "c%d", i);
		ck_assert_int_eq(vb_auth_set(&a, name, "role", "admin", i, err, sizeof(err)), 0);
	}
	ck_assert_int_eq(vb_auth_set(&a, "one-more", "role", "admin", 1, err, sizeof(err)), VB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "at most"));
}
END_TEST

START_TEST(denial_lines_bounded)
{
	vb_auth_limit l;
	vb_log log;
	char path[] = "/tmp/vb-auth-log-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w+");
	ck_assert_ptr_nonnull(f);
	vb_log_init(&log, f, "test", VB_LOG_INFO);
	vb_auth_limit_init(&l);
	for (int i = 0; i < 1000; i++)
		vb_auth_log_denial(&l, &log, NULL, "peer", "ingest", "no token");
	fflush(f);
	rewind(f);
	char line[512];
	int a001 = 0;
	while (fgets(line, sizeof(line), f))
		a001 += strstr(line, "A001") != NULL;
	/* At most two seconds' worth, should the loop straddle a second. */
	ck_assert_int_ge(a001, VB_AUTH_LOG_PER_S);
	ck_assert_int_le(a001, 2 * VB_AUTH_LOG_PER_S);
	vb_auth_limit_fini(&l);
	fclose(f);
	unlink(path);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");
	tcase_add_test(tc, find_by_token);
	tcase_add_test(tc, roles_and_sources);
	tcase_add_test(tc, bad_sections);
	tcase_add_test(tc, denial_lines_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(auth_suite());
}
