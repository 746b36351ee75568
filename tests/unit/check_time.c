/* Unit tests of common/vb_time: RFC 3339 parse and format, durations. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "vb_error.h"
#include "vb_time.h"
#include "vb_test.h"

#define US 1000000LL

/* Parse s, which must be good, and return its instant. */
static int64_t
must_parse(const char *s)
{
	int64_t us = -42;
	int rv = vb_time_parse(s, &us);
	ck_assert_msg(rv == 0, "vb_time_parse(\"%s\") = %d, want 0", s, rv);
	return us;
}

static void
must_reject(const char *s)
{
	int64_t us = 0;
	int rv = vb_time_parse(s, &us);
	ck_assert_msg(rv == VB_EINVAL, "vb_time_parse(\"%s\") = %d, want VB_EINVAL",
	    s ? s : "(null)", rv);
}

/* ---- parse ---- */

START_TEST(parse_utc)
{
	ck_assert_int_eq(must_parse("1970-01-01T00:00:00Z"), 0);
	ck_assert_int_eq(must_parse("2026-11-20T09:12:00Z"), 1795165920LL * US);
	ck_assert_int_eq(must_parse("2000-02-29T00:00:00Z"), 951782400LL * US);
	ck_assert_int_eq(must_parse("1969-12-31T23:59:59Z"), -1 * US);
	/* RFC 3339 5.6 NOTE: "T" and "Z" may be lower case, and a space may
	 * separate date and time. */
	ck_assert_int_eq(must_parse("2026-11-20t09:12:00z"), 1795165920LL * US);
	ck_assert_int_eq(must_parse("2026-11-20 09:12:00Z"), 1795165920LL * US);
}
END_TEST

START_TEST(parse_offsets)
{
	int64_t z = must_parse("2026-11-20T09:12:00Z");
	ck_assert_int_eq(must_parse("2026-11-20T10:12:00+01:00"), z);
	ck_assert_int_eq(must_parse("2026-11-20T09:12:00+00:00"), z);
	ck_assert_int_eq(must_parse("2026-11-20T09:12:00-00:00"), z);
	ck_assert_int_eq(must_parse("2026-11-20T03:42:00-05:30"), z);
	ck_assert_int_eq(must_parse("2026-11-20T23:11:00+13:59"), z);
	ck_assert_int_eq(must_parse("2026-11-19T09:13:00-23:59"), z);
	/* Crossing a day, a month and a year. */
	ck_assert_int_eq(must_parse("2026-01-01T00:30:00+01:00"),
	    1767223800LL * US);
	ck_assert_int_eq(must_parse("2025-12-31T19:30:00-04:00"),
	    1767223800LL * US);
	/* The header's own example. */
	ck_assert_int_eq(must_parse("2026-11-20T10:12:00.5+01:00"), z + 500000);
}
END_TEST

START_TEST(parse_fractions)
{
	int64_t z = must_parse("2026-11-20T09:12:00Z");
	ck_assert_int_eq(must_parse("2026-11-20T09:12:00.5Z"), z + 500000);
	ck_assert_int_eq(must_parse("2026-11-20T09:12:00.05Z"), z + 50000);
	ck_assert_int_eq(must_parse("2026-11-20T09:12:00.000001Z"), z + 1);
	ck_assert_int_eq(must_parse("2026-11-20T09:12:00.123456Z"), z + 123456);
	ck_assert_int_eq(must_parse("2026-11-20T09:12:00.999999Z"), z + 999999);
	ck_assert_int_eq(must_parse("2026-11-20T09:12:00.0Z"), z);
	/* Finer than a microsecond (Go and Java write nanoseconds): cut. */
	ck_assert_int_eq(must_parse("2026-11-20T09:12:00.1234567Z"), z + 123456);
	ck_assert_int_eq(must_parse("2026-11-20T09:12:00.123456789Z"), z + 123456);
	ck_assert_int_eq(must_parse("2026-11-20T09:12:00.000000999Z"), z);
	ck_assert_int_eq(must_parse("2026-11-20T10:12:00.25+01:00"), z + 250000);
	/* A fraction before the epoch still counts forward. */
	ck_assert_int_eq(must_parse("1969-12-31T23:59:59.5Z"), -500000);
	must_reject("2026-11-20T09:12:00.Z");
	must_reject("2026-11-20T09:12:00.+01:00");
	must_reject("2026-11-20T09:12:00,5Z");
	must_reject("2026-11-20T09:12:00.5");
}
END_TEST

START_TEST(parse_leap_years)
{
	ck_assert_int_eq(must_parse("2024-02-29T12:00:00Z"), 1709208000LL * US);
	ck_assert_int_eq(must_parse("2024-03-01T12:00:00Z"),
	    (1709208000LL + 86400) * US);
	must_parse("2000-02-29T00:00:00Z");  /* divisible by 400 */
	must_parse("2400-02-29T00:00:00Z");
	must_parse("0004-02-29T00:00:00Z");
	must_reject("1900-02-29T00:00:00Z"); /* divisible by 100 only */
	must_reject("2100-02-29T00:00:00Z");
	must_reject("2026-02-29T00:00:00Z");
	must_reject("2023-02-29T00:00:00Z");
	must_parse("2026-02-28T23:59:59Z");
}
END_TEST

START_TEST(parse_invalid_dates)
{
	static const char *const bad[] = {
		"2026-02-30T10:00:00Z", "2024-02-30T10:00:00Z",
		"2026-04-31T10:00:00Z", "2026-06-31T10:00:00Z",
		"2026-09-31T10:00:00Z", "2026-11-31T10:00:00Z",
		"2026-01-32T10:00:00Z", "2026-01-00T10:00:00Z",
		"2026-00-10T10:00:00Z", "2026-13-01T10:00:00Z",
		"2026-99-99T10:00:00Z", "2026-11-20T24:00:00Z",
		"2026-11-20T23:60:00Z", "2026-11-20T23:59:61Z",
		"2026-11-20T99:00:00Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		must_reject(bad[i]);
	/* The last day of each month is fine. */
	static const char *const good[] = {
		"2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z",
		"2026-05-31T00:00:00Z", "2026-06-30T00:00:00Z", "2026-07-31T00:00:00Z",
		"2026-08-31T00:00:00Z", "2026-09-30T00:00:00Z", "2026-10-31T00:00:00Z",
		"2026-11-30T00:00:00Z", "2026-12-31T23:59:59Z",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		must_parse(good[i]);
}
END_TEST

START_TEST(parse_year_range)
{
	must_reject("0000-01-01T00:00:00Z");
	must_reject("0000-12-31T23:59:59Z");
	ck_assert_int_eq(must_parse("0001-01-01T00:00:00Z"), -62135596800LL * US);
	ck_assert_int_eq(must_parse("9999-12-31T23:59:59Z"), 253402300799LL * US);
	ck_assert_int_eq(must_parse("9999-12-31T23:59:59.999999Z"),
	    253402300799LL * US + 999999);
	/* Four digits, no more, no sign. */
	must_reject("10000-01-01T00:00:00Z");
	must_reject("+2026-11-20T09:12:00Z");
	must_reject("-0001-01-01T00:00:00Z");
}
END_TEST

/* The range holds for the instant, not only for what is written: an offset
 * may not carry it past either end, where vb_time_format would write a year
 * that does not parse back. */
START_TEST(parse_year_range_after_offset)
{
	char buf[VB_TIME_BUFSZ];
	must_reject("9999-12-31T23:59:59-00:01");
	must_reject("9999-12-31T23:00:00-23:59");
	must_reject("0001-01-01T00:00:00+00:01");
	must_reject("0001-01-01T00:59:59.999999+01:00");
	ck_assert_int_eq(must_parse("9999-12-31T23:59:59.999999+00:00"),
	    253402300799LL * US + 999999);
	ck_assert_int_eq(must_parse("9999-12-31T22:59:59-01:00"), 253402300799LL * US);
	ck_assert_int_eq(must_parse("0001-01-01T01:00:00+01:00"), -62135596800LL * US);
	ck_assert_str_eq(vb_time_format(must_parse("0001-01-01T01:00:00+01:00"), buf),
	    "0001-01-01T00:00:00Z");
	ck_assert_int_eq(must_parse("9999-12-31T23:59:59+23:59"),
	    253402300799LL * US - (23 * 3600 + 59 * 60) * US);
}
END_TEST

START_TEST(parse_leap_second)
{
	/* RFC 3339 allows second 60; we count it as the minute's last second. */
	ck_assert_int_eq(must_parse("2016-12-31T23:59:60Z"),
	    must_parse("2016-12-31T23:59:59Z"));
}
END_TEST

START_TEST(parse_bad_syntax)
{
	static const char *const bad[] = {
		"", "2026", "2026-11-20", "2026-11-20T09:12Z", "2026-11-20T09:12:00",
		"2026-11-20T09:12:00 ", " 2026-11-20T09:12:00Z", "2026-11-20T09:12:00ZZ",
		"2026-11-20T09:12:00Zjunk", "2026-11-20T09:12:00+0100",
		"2026-11-20T09:12:00+01", "2026-11-20T09:12:00+1:00",
		"2026-11-20T09:12:00+01:00:00", "2026-11-20T09:12:00+24:00",
		"2026-11-20T09:12:00+01:60", "2026-11-20T09:12:00 +01:00",
		"2026-11-20T09:12:00UTC", "2026-11-20T09:12:00GMT",
		"2026-1-20T09:12:00Z", "2026-11-2T09:12:00Z", "2026-11-20T9:12:00Z",
		"2026/11/20T09:12:00Z", "2026-11-20X09:12:00Z", "2026-11-20_09:12:00Z",
		"20261120T091200Z", "2026-11-20T09.12.00Z", "2026-1a-20T09:12:00Z",
		"2026-11-20T09:12:0aZ", "2026-11-20T09:12:00+0a:00", "abcd-ef-ghTij:kl:mnZ",
		"2026-11-20T09:12:00.5.5Z", "2026-11-20T09:12:00\nZ",
		"2026-11-20T09:12:00+01:00Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		must_reject(bad[i]);
	must_reject(NULL);
}
END_TEST

START_TEST(parse_embedded_nul)
{
	/* The string ends at its NUL: what follows is not read. */
	char s[] = "2026-11-20T09:12:00Z\0garbage";
	ck_assert_int_eq(must_parse(s), 1795165920LL * US);
	char t[] = "2026-11-20T09:12:00\0Z";
	must_reject(t);
}
END_TEST

/* ---- format ---- */

START_TEST(format_basic)
{
	char buf[VB_TIME_BUFSZ];
	ck_assert_ptr_eq(vb_time_format(0, buf), buf);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	ck_assert_str_eq(vb_time_format(1795165920LL * US, buf), "2026-11-20T09:12:00Z");
	/* The fraction only when non-zero, always six digits. */
	ck_assert_str_eq(vb_time_format(1795165920LL * US + 500000, buf),
	    "2026-11-20T09:12:00.500000Z");
	ck_assert_str_eq(vb_time_format(1795165920LL * US + 1, buf),
	    "2026-11-20T09:12:00.000001Z");
	ck_assert_str_eq(vb_time_format(951782400LL * US, buf), "2000-02-29T00:00:00Z");
	ck_assert_str_eq(vb_time_format(1709208000LL * US, buf), "2024-02-29T12:00:00Z");
}
END_TEST

START_TEST(format_before_epoch_and_limits)
{
	char buf[VB_TIME_BUFSZ];
	ck_assert_str_eq(vb_time_format(-1, buf), "1969-12-31T23:59:59.999999Z");
	ck_assert_str_eq(vb_time_format(-1 * US, buf), "1969-12-31T23:59:59Z");
	ck_assert_str_eq(vb_time_format(-86400LL * US, buf), "1969-12-31T00:00:00Z");
	ck_assert_str_eq(vb_time_format(-62135596800LL * US, buf),
	    "0001-01-01T00:00:00Z");
	ck_assert_str_eq(vb_time_format(253402300799LL * US + 999999, buf),
	    "9999-12-31T23:59:59.999999Z");
	/* Past four digits, as printf's %04d writes them. */
	ck_assert_str_eq(vb_time_format(-62167219200LL * US + 7, buf),
	    "0000-01-01T00:00:00.000007Z");
	ck_assert_str_eq(vb_time_format(253402300800LL * US, buf),
	    "10000-01-01T00:00:00Z");
	ck_assert_str_eq(vb_time_format(-62167219200LL * US - 1, buf),
	    "-001-12-31T23:59:59.999999Z");
}
END_TEST

START_TEST(format_parse_round_trip_random)
{
	vbt_rng r = { vbt_seed("format_parse_round_trip_random") };
	const int64_t lo = -62135596800LL * US, hi = 253402300799LL * US + 999999;
	char buf[VB_TIME_BUFSZ], want[64];

	for (int i = 0; i < 100000; i++) {
		int64_t us = vbt_rand_range(&r, lo, hi);
		if (i % 3 == 0)
			us -= us % US; /* whole seconds: no fraction printed */
		vb_time_format(us, buf);
		ck_assert_int_lt(strlen(buf), VB_TIME_BUFSZ);
		ck_assert_int_eq(must_parse(buf), us);
		/* glibc's gmtime_r as the oracle for the calendar part. */
		time_t secs = (time_t)(us >= 0 ? us / US : (us - (US - 1)) / US);
		struct tm tm;
		ck_assert_ptr_nonnull(gmtime_r(&secs, &tm));
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		ck_assert_msg(strncmp(buf, want, 19) == 0, "%lld: got %s, gmtime %s",
		    (long long)us, buf, want);
	}
}
END_TEST

START_TEST(parse_random_against_timegm)
{
	vbt_rng r = { vbt_seed("parse_random_against_timegm") };
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	char s[64];

	for (int i = 0; i < 100000; i++) {
		int y = (int)vbt_rand_range(&r, 1, 9999);
		int mo = (int)vbt_rand_range(&r, 1, 12);
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		int d = (int)vbt_rand_range(&r, 1, dm[mo - 1] + (mo == 2 && leap));
		int h = (int)vbt_rand_range(&r, 0, 23), mi = (int)vbt_rand_range(&r, 0, 59);
		int sec = (int)vbt_rand_range(&r, 0, 59);
		int oh = (int)vbt_rand_range(&r, 0, 23), om = (int)vbt_rand_range(&r, 0, 59);
		int sign = vbt_rand(&r) & 1 ? 1 : -1;
		int frac = (int)vbt_rand_range(&r, 0, 999999);
		struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			.tm_hour = h, .tm_min = mi, .tm_sec = sec };
		int64_t want = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);

		snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02d.%06d%c%02d:%02d",
		    y, mo, d, h, mi, sec, frac, sign > 0 ? '+' : '-', oh, om);
		/* An offset that carries the instant out of the years. */
		if (want < -62135596800LL || want > 253402300799LL) {
			must_reject(s);
			continue;
		}
		ck_assert_msg(must_parse(s) == want * US + frac, "%s", s);
	}
}
END_TEST

START_TEST(now_is_plausible)
{
	int64_t a = vb_time_now(), b = vb_time_now();
	/* After 2020-01-01, before 2100-01-01, in microseconds. */
	ck_assert_int_gt(a, 1577836800LL * US);
	ck_assert_int_lt(a, 4102444800LL * US);
	ck_assert_int_lt(b - a, 60 * US);
}
END_TEST

/* ---- durations ---- */

static int64_t
must_duration(const char *s)
{
	int64_t us = -42;
	int rv = vb_duration_parse(s, &us);
	ck_assert_msg(rv == 0, "vb_duration_parse(\"%s\") = %d, want 0", s, rv);
	return us;
}

static void
duration_rejects(const char *s)
{
	int64_t us = 0;
	int rv = vb_duration_parse(s, &us);
	ck_assert_msg(rv == VB_EINVAL, "vb_duration_parse(\"%s\") = %d (%lld us), want VB_EINVAL",
	    s ? s : "(null)", rv, (long long)us);
}

/* A deadline us from now: the nanoseconds carried into seconds, and never
 * before now + us. */
START_TEST(deadline_carries)
{
	int64_t steps[] = { 0, 1, 999999, 1000000, 1500000, 2999999 };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct timespec before, d;
		clock_gettime(CLOCK_MONOTONIC, &before);
		vb_time_deadline(CLOCK_MONOTONIC, steps[i], &d);
		ck_assert(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
		int64_t ahead = (int64_t)(d.tv_sec - before.tv_sec) * 1000000000LL +
		    (d.tv_nsec - before.tv_nsec);
		ck_assert_int_ge(ahead, steps[i] * 1000);
		ck_assert_int_lt(ahead, steps[i] * 1000 + 1000000000LL);
	}
}
END_TEST

START_TEST(duration_units)
{
	ck_assert_int_eq(must_duration("14d"), 14 * 86400LL * US);
	ck_assert_int_eq(must_duration("24h"), 24 * 3600LL * US);
	ck_assert_int_eq(must_duration("90m"), 90 * 60LL * US);
	ck_assert_int_eq(must_duration("30s"), 30 * US);
	ck_assert_int_eq(must_duration("0s"), 0);
	ck_assert_int_eq(must_duration("1d"), must_duration("24h"));
	ck_assert_int_eq(must_duration("7d"), must_duration("168h"));
	ck_assert_int_eq(must_duration("365d"), 365 * 86400LL * US);
}
END_TEST

START_TEST(duration_invalid)
{
	static const char *const bad[] = {
		"", "14", "d", "-1d", "+1d", "1.5h", "14dd", "14 d", " 14d", "14d ",
		"1w", "1y", "1ms", "h24", "0x10s", "1d2h",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		duration_rejects(bad[i]);
	duration_rejects(NULL);
}
END_TEST

START_TEST(duration_too_large)
{
	/* Past what strtoll holds. */
	duration_rejects("99999999999999999999s");
	/* A count that fits a long long but whose microseconds do not fit an
	 * int64_t must be refused, not wrap: 2e8 days is 1.7e19 us. */
	duration_rejects("200000000d");
	duration_rejects("3000000000h");
}
END_TEST

static Suite *
time_suite(void)
{
	Suite *s = suite_create("time");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, parse_utc);
	tcase_add_test(tc, parse_offsets);
	tcase_add_test(tc, parse_fractions);
	tcase_add_test(tc, parse_leap_years);
	tcase_add_test(tc, parse_invalid_dates);
	tcase_add_test(tc, parse_year_range);
	tcase_add_test(tc, parse_year_range_after_offset);
	tcase_add_test(tc, parse_leap_second);
	tcase_add_test(tc, parse_bad_syntax);
	tcase_add_test(tc, parse_embedded_nul);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, format_basic);
	tcase_add_test(tc, format_before_epoch_and_limits);
	tcase_add_test(tc, format_parse_round_trip_random);
	tcase_add_test(tc, parse_random_against_timegm);
	tcase_add_test(tc, now_is_plausible);
	suite_add_tcase(s, tc);

	tc = tcase_create("duration");
	tcase_add_test(tc, deadline_carries);
	tcase_add_test(tc, duration_units);
	tcase_add_test(tc, duration_invalid);
	tcase_add_test(tc, duration_too_large);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(time_suite());
}
