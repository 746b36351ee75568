/* Unit tests of adapters/lib/vb_ad_dec: exact amounts. */
#include <stdint.h>
#include <string.h>

#include "vb_ad_dec.h"
#include "vb_error.h"
#include "vb_test.h"

static const char *
fmt(int64_t v)
{
	static char buf[VB_AD_DEC_BUFSZ];
	return vb_ad_dec_format(v, buf);
}

START_TEST(parse_and_format)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "139.50", "139.50" }, { "2.55", "2.55" }, { "0.0", "0.00" }, { "7", "7.00" },
		{ "-27.5", "-27.50" }, { "+3.1", "3.10" }, { "0.165", "0.165" },
		{ "1.000001", "1.000001" }, { "12.50000000", "12.50" }, { "-0.01", "-0.01" },
		{ "9223372036854.775807", "9223372036854.775807" },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t v;
		ck_assert_msg(vb_ad_dec_parse(ok[i].in, &v) == 0, "%s", ok[i].in);
		ck_assert_str_eq(fmt(v), ok[i].out);
	}
	ck_assert_str_eq(fmt(INT64_MIN), "-9223372036854.775808");
}
END_TEST

START_TEST(parse_refuses)
{
	static const char *const bad[] = { "", "-", ".5", "5.", "1,200.00", "£12", "1e3",
		"12.5.0", " 1", "1 ", "0x10", "--1", "NaN" };
	int64_t v;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(vb_ad_dec_parse(bad[i], &v) == VB_EINVAL, "%s", bad[i]);
	ck_assert_int_eq(vb_ad_dec_parse("0.0000001", &v), VB_ETOOBIG);
	ck_assert_int_eq(vb_ad_dec_parse("9223372036855", &v), VB_ETOOBIG);
	ck_assert_int_eq(vb_ad_dec_parse("99999999999999999999", &v), VB_ETOOBIG);
}
END_TEST

START_TEST(integers)
{
	int64_t v;
	ck_assert_int_eq(vb_ad_int_parse("-10", &v), 0);
	ck_assert_int_eq(v, -10);
	ck_assert_int_eq(vb_ad_int_parse("6", &v), 0);
	ck_assert_int_eq(v, 6);
	ck_assert_int_eq(vb_ad_int_parse("6.0", &v), VB_EINVAL);
	ck_assert_int_eq(vb_ad_int_parse("", &v), VB_EINVAL);
	ck_assert_int_eq(vb_ad_int_parse("9223372036854775807", &v), 0);
	ck_assert_int_eq(vb_ad_int_parse("9223372036854775808", &v), VB_ETOOBIG);
}
END_TEST

/* Money never goes through a double: 3 x 0.1 is 0.30, not 0.30000000000000004,
 * and a column of pennies adds up. */
START_TEST(arithmetic_is_exact)
{
	int64_t p, a = 0, t;
	ck_assert_int_eq(vb_ad_dec_parse("0.1", &p), 0);
	ck_assert_int_eq(vb_ad_dec_mul_int(p, 3, &t), 0);
	ck_assert_str_eq(fmt(t), "0.30");
	ck_assert_int_eq(vb_ad_dec_parse("0.01", &p), 0);
	for (int i = 0; i < 100000; i++)
		ck_assert_int_eq(vb_ad_dec_add(a, p, &a), 0);
	ck_assert_str_eq(fmt(a), "1000.00");
	ck_assert_int_eq(vb_ad_dec_parse("2.55", &p), 0);
	ck_assert_int_eq(vb_ad_dec_mul_int(p, -6, &t), 0);
	ck_assert_str_eq(fmt(t), "-15.30");
	ck_assert_int_eq(vb_ad_dec_mul_int(INT64_MAX / 2, 3, &t), VB_ETOOBIG);
	ck_assert_int_eq(vb_ad_dec_add(INT64_MAX, 1, &t), VB_ETOOBIG);
}
END_TEST

static Suite *
dec_suite(void)
{
	Suite *s = suite_create("adapter_dec");
	TCase *tc = tcase_create("dec");
	tcase_add_test(tc, parse_and_format);
	tcase_add_test(tc, parse_refuses);
	tcase_add_test(tc, integers);
	tcase_add_test(tc, arithmetic_is_exact);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(dec_suite());
}
