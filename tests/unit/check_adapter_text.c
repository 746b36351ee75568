/* Unit tests of adapters/lib/vb_ad_text: character sets, cutting, trimming. */
#include <string.h>

#include "vb_ad_text.h"
#include "vb_error.h"
#include "vb_test.h"

static int
conv(const char *in, size_t len, vb_ad_encoding enc, char *out, size_t outlen,
    size_t *bad)
{
	vb_buf b = { 0 };
	int rv = vb_ad_text_utf8(in, len, enc, &b, bad);
	if (rv == 0)
		snprintf(out, outlen, "%s", (const char *)b.data);
	vb_buf_free(&b);
	return rv;
}

START_TEST(utf8_checked_with_offset)
{
	char out[64];
	size_t bad = 99;
	ck_assert_int_eq(conv("Caf\xc3\xa9", 5, VB_AD_UTF8, out, sizeof(out), &bad), 0);
	ck_assert_str_eq(out, "Caf\xc3\xa9");
	ck_assert_int_eq(conv("Caf\xe9 ok", 7, VB_AD_UTF8, out, sizeof(out), &bad), VB_EINVAL);
	ck_assert_uint_eq(bad, 3);
	/* Overlong, surrogate, truncated, NUL. */
	ck_assert_int_eq(conv("\xc0\xaf", 2, VB_AD_UTF8, out, sizeof(out), &bad), VB_EINVAL);
	ck_assert_int_eq(conv("a\xed\xa0\x80", 4, VB_AD_UTF8, out, sizeof(out), &bad), VB_EINVAL);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(conv("ab\xe2\x82", 4, VB_AD_UTF8, out, sizeof(out), &bad), VB_EINVAL);
	ck_assert_uint_eq(bad, 2);
	ck_assert_int_eq(conv("a\0b", 3, VB_AD_UTF8, out, sizeof(out), &bad), VB_EINVAL);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(conv("", 0, VB_AD_UTF8, out, sizeof(out), &bad), 0);
	ck_assert_str_eq(out, "");
	/* Four-byte characters pass. */
	ck_assert_int_eq(conv("\xf0\x9f\x93\xa6", 4, VB_AD_UTF8, out, sizeof(out), &bad), 0);
}
END_TEST

START_TEST(latin1_and_cp1252)
{
	char out[64];
	size_t bad;
	vb_ad_encoding e;
	ck_assert_int_eq(conv("Caf\xe9 \xa3" "5", 7, VB_AD_LATIN1, out, sizeof(out), &bad), 0);
	ck_assert_str_eq(out, "Caf\xc3\xa9 \xc2\xa3" "5");
	/* 0x80 is the euro sign in cp1252, a C1 control in Latin-1. */
	ck_assert_int_eq(conv("\x80" "5 \x93q\x94", 6, VB_AD_CP1252, out, sizeof(out), &bad), 0);
	ck_assert_str_eq(out, "\xe2\x82\xac" "5 \xe2\x80\x9cq\xe2\x80\x9d");
	/* 0x81 is no character in cp1252. */
	ck_assert_int_eq(conv("ab\x81", 3, VB_AD_CP1252, out, sizeof(out), &bad), VB_EINVAL);
	ck_assert_uint_eq(bad, 2);
	ck_assert_int_eq(vb_ad_encoding_parse("UTF-8", &e), 0);
	ck_assert_int_eq(e, VB_AD_UTF8);
	ck_assert_int_eq(vb_ad_encoding_parse("iso-8859-1", &e), 0);
	ck_assert_int_eq(e, VB_AD_LATIN1);
	ck_assert_int_eq(vb_ad_encoding_parse("windows-1252", &e), 0);
	ck_assert_int_eq(e, VB_AD_CP1252);
	ck_assert_int_eq(vb_ad_encoding_parse("ebcdic", &e), VB_EINVAL);
}
END_TEST

START_TEST(cut_never_splits_a_character)
{
	const char *s = "ab\xc3\xa9" "cd"; /* a b é c d: 6 bytes */
	ck_assert_uint_eq(vb_ad_utf8_cut(s, 6, 10), 6);
	ck_assert_uint_eq(vb_ad_utf8_cut(s, 6, 4), 4);
	ck_assert_uint_eq(vb_ad_utf8_cut(s, 6, 3), 2);
	ck_assert_uint_eq(vb_ad_utf8_cut(s, 6, 2), 2);
	ck_assert_uint_eq(vb_ad_utf8_cut(s, 6, 0), 0);
}
END_TEST

START_TEST(trim)
{
	size_t n = 9;
	const char *t = vb_ad_trim(" \t x y \r\n", &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(strncmp(t, "x y", 3), 0);
	n = 3;
	vb_ad_trim("   ", &n);
	ck_assert_uint_eq(n, 0);
}
END_TEST

static Suite *
text_suite(void)
{
	Suite *s = suite_create("adapter_text");
	TCase *tc = tcase_create("text");
	tcase_add_test(tc, utf8_checked_with_offset);
	tcase_add_test(tc, latin1_and_cp1252);
	tcase_add_test(tc, cut_never_splits_a_character);
	tcase_add_test(tc, trim);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(text_suite());
}
