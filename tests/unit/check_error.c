/* Unit tests of common/vb_error: the codes, their strings, the mappings. */
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <nng/nng.h>
#include <string.h>

#include "vb_error.h"
#include "vb_test.h"

static const int codes[] = {
	VB_OK, VB_ENOMEM, VB_EINVAL, VB_EIO, VB_ENOTFOUND, VB_EFULL,
	VB_ETIMEDOUT, VB_ECLOSED, VB_EPROTO, VB_ETOOBIG, VB_ECONNREFUSED,
	VB_EADDR, VB_ECORRUPT, VB_EBUSY, VB_EINTERNAL, VB_EACCES,
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

/* Whether c is one of ours (0 or a VB_E code). */
static int
code_known(int c)
{
	for (size_t i = 0; i < NCODES; i++)
		if (codes[i] == c)
			return 1;
	return 0;
}

START_TEST(codes_are_zero_or_negative_and_distinct)
{
	ck_assert_int_eq(VB_OK, 0);
	for (size_t i = 1; i < NCODES; i++) {
		ck_assert_int_lt(codes[i], 0);
		for (size_t j = 0; j < i; j++)
			ck_assert_int_ne(codes[i], codes[j]);
	}
}
END_TEST

START_TEST(strerror_every_code)
{
	const char *unknown = vb_strerror(-9999);
	ck_assert_ptr_nonnull(unknown);
	for (size_t i = 0; i < NCODES; i++) {
		const char *s = vb_strerror(codes[i]);
		ck_assert_msg(s != NULL, "vb_strerror(%d) is NULL", codes[i]);
		ck_assert_msg(s[0] != '\0', "vb_strerror(%d) is empty", codes[i]);
		ck_assert_msg(strcmp(s, unknown) != 0,
		    "vb_strerror(%d) is the unknown-code text \"%s\"", codes[i], s);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(s, vb_strerror(codes[j])) != 0,
			    "vb_strerror(%d) and vb_strerror(%d) are both \"%s\"",
			    codes[i], codes[j], s);
	}
	/* A storage-full error says that nothing was stored (the contract's
	 * promise on failure). */
	ck_assert_ptr_nonnull(strstr(vb_strerror(VB_EFULL), "nothing was stored"));
}
END_TEST

START_TEST(strerror_unknown_codes)
{
	static const int odd[] = { 1, 42, -16, -1000, INT_MIN, INT_MAX };
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		const char *s = vb_strerror(odd[i]);
		ck_assert_ptr_nonnull(s);
		ck_assert_int_gt(strlen(s), 0);
	}
}
END_TEST

START_TEST(from_errno)
{
	ck_assert_int_eq(vb_err_from_errno(0), VB_OK);
	ck_assert_int_eq(vb_err_from_errno(ENOMEM), VB_ENOMEM);
	ck_assert_int_eq(vb_err_from_errno(EINVAL), VB_EINVAL);
	ck_assert_int_eq(vb_err_from_errno(ENOENT), VB_ENOTFOUND);
	ck_assert_int_eq(vb_err_from_errno(ENOSPC), VB_EFULL);
	ck_assert_int_eq(vb_err_from_errno(EDQUOT), VB_EFULL);
	ck_assert_int_eq(vb_err_from_errno(EFBIG), VB_EFULL);
	ck_assert_int_eq(vb_err_from_errno(EAGAIN), VB_EBUSY);
	ck_assert_int_eq(vb_err_from_errno(EWOULDBLOCK), VB_EBUSY);
	ck_assert_int_eq(vb_err_from_errno(ETIMEDOUT), VB_ETIMEDOUT);
	ck_assert_int_eq(vb_err_from_errno(ECONNREFUSED), VB_ECONNREFUSED);
	ck_assert_int_eq(vb_err_from_errno(EIO), VB_EIO);
	/* Every errno maps to one of our codes, never to success. */
	for (int e = 1; e < 200; e++) {
		int c = vb_err_from_errno(e);
		ck_assert_msg(c < 0 && code_known(c), "errno %d -> %d", e, c);
	}
}
END_TEST

START_TEST(from_mdb)
{
	ck_assert_int_eq(vb_err_from_mdb(MDB_SUCCESS), VB_OK);
	ck_assert_int_eq(vb_err_from_mdb(MDB_NOTFOUND), VB_ENOTFOUND);
	ck_assert_int_eq(vb_err_from_mdb(MDB_MAP_FULL), VB_EFULL);
	ck_assert_int_eq(vb_err_from_mdb(MDB_CORRUPTED), VB_ECORRUPT);
	ck_assert_int_eq(vb_err_from_mdb(MDB_PAGE_NOTFOUND), VB_ECORRUPT);
	ck_assert_int_eq(vb_err_from_mdb(MDB_INVALID), VB_ECORRUPT);
	ck_assert_int_eq(vb_err_from_mdb(MDB_VERSION_MISMATCH), VB_ECORRUPT);
	ck_assert_int_eq(vb_err_from_mdb(MDB_BAD_VALSIZE), VB_ETOOBIG);
	ck_assert_int_eq(vb_err_from_mdb(MDB_READERS_FULL), VB_EBUSY);
	/* LMDB passes errno values through: they map as errno does. */
	ck_assert_int_eq(vb_err_from_mdb(ENOSPC), VB_EFULL);
	ck_assert_int_eq(vb_err_from_mdb(ENOMEM), VB_ENOMEM);
	ck_assert_int_eq(vb_err_from_mdb(EAGAIN), VB_EBUSY);
	ck_assert_int_eq(vb_err_from_mdb(EIO), VB_EIO);
	for (int rv = MDB_KEYEXIST; rv <= MDB_LAST_ERRCODE; rv++) {
		int c = vb_err_from_mdb(rv);
		ck_assert_msg(c < 0 && code_known(c), "MDB code %d (%s) -> %d", rv,
		    mdb_strerror(rv), c);
	}
	for (int e = 1; e < 200; e++)
		ck_assert_int_eq(vb_err_from_mdb(e), vb_err_from_errno(e));
}
END_TEST

START_TEST(from_nng)
{
	ck_assert_int_eq(vb_err_from_nng(0), VB_OK);
	ck_assert_int_eq(vb_err_from_nng(NNG_ENOMEM), VB_ENOMEM);
	ck_assert_int_eq(vb_err_from_nng(NNG_EINVAL), VB_EINVAL);
	ck_assert_int_eq(vb_err_from_nng(NNG_ETIMEDOUT), VB_ETIMEDOUT);
	ck_assert_int_eq(vb_err_from_nng(NNG_ECLOSED), VB_ECLOSED);
	ck_assert_int_eq(vb_err_from_nng(NNG_ECANCELED), VB_ECLOSED);
	ck_assert_int_eq(vb_err_from_nng(NNG_EPROTO), VB_EPROTO);
	ck_assert_int_eq(vb_err_from_nng(NNG_EMSGSIZE), VB_ETOOBIG);
	ck_assert_int_eq(vb_err_from_nng(NNG_ECONNREFUSED), VB_ECONNREFUSED);
	ck_assert_int_eq(vb_err_from_nng(NNG_EADDRINUSE), VB_EADDR);
	ck_assert_int_eq(vb_err_from_nng(NNG_EADDRINVAL), VB_EADDR);
	ck_assert_int_eq(vb_err_from_nng(NNG_ENOSPC), VB_EFULL);
	ck_assert_int_eq(vb_err_from_nng(NNG_ECONNRESET), VB_EIO);
	/* Every nng error (NNG_EINTR .. NNG_ECONNSHUT and beyond, NNG_EINTERNAL,
	 * the system and transport ranges) maps to one of our codes, never to
	 * success. */
	for (int rv = 1; rv <= 64; rv++) {
		int c = vb_err_from_nng(rv);
		ck_assert_msg(c < 0 && code_known(c), "nng %d (%s) -> %d", rv,
		    nng_strerror(rv), c);
	}
	ck_assert_int_lt(vb_err_from_nng(NNG_EINTERNAL), 0);
	ck_assert_int_lt(vb_err_from_nng(NNG_ESYSERR | ENOSPC), 0);
	ck_assert_int_lt(vb_err_from_nng(NNG_ETRANERR | 1), 0);
}
END_TEST

static Suite *
error_suite(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("codes");
	tcase_add_test(tc, codes_are_zero_or_negative_and_distinct);
	tcase_add_test(tc, strerror_every_code);
	tcase_add_test(tc, strerror_unknown_codes);
	suite_add_tcase(s, tc);

	tc = tcase_create("mapping");
	tcase_add_test(tc, from_errno);
	tcase_add_test(tc, from_mdb);
	tcase_add_test(tc, from_nng);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(error_suite());
}
