/* Unit tests of adapters/lib/vb_ad_time: silo dates and times, zones. */
#include <string.h>

#include "vb_ad_time.h"
#include "vb_error.h"
#include "vb_test.h"
#include "vb_time.h"

/* s read in zone and order, as RFC 3339 UTC; "ERR" when refused. */
static const char *
rd(const char *s, const char *zone, vb_ad_date_order order, int *date_only)
{
	static char out[VB_TIME_BUFSZ];
	vb_ad_zone z;
	int64_t us;
	ck_assert_int_eq(vb_ad_zone_parse(zone, &z), 0);
	if (vb_ad_time_parse(s, &z, order, &us, date_only) != 0)
		return "ERR";
	return vb_time_format(us, out);
}

START_TEST(dates_are_midnight_in_the_zone)
{
	int d = -1;
	ck_assert_str_eq(rd("2019-09-24", "UTC", VB_AD_YMD, &d), "2019-09-24T00:00:00Z");
	ck_assert_int_eq(d, 1);
	ck_assert_str_eq(rd("2026-10-20", "Europe/London", VB_AD_YMD, &d), "2026-10-19T23:00:00Z");
	ck_assert_str_eq(rd("2026-11-20", "Europe/London", VB_AD_YMD, &d), "2026-11-20T00:00:00Z");
	ck_assert_str_eq(rd("2020-02-29", "UTC", VB_AD_YMD, NULL), "2020-02-29T00:00:00Z");
	ck_assert_str_eq(rd("2019-02-29", "UTC", VB_AD_YMD, NULL), "ERR");
}
END_TEST

START_TEST(local_times)
{
	int d = -1;
	/* The retail export: UK time in December is UTC. */
	ck_assert_str_eq(rd("2010-12-01 08:26:00", "Europe/London", VB_AD_YMD, &d),
	    "2010-12-01T08:26:00Z");
	ck_assert_int_eq(d, 0);
	ck_assert_str_eq(rd("2010-06-01 08:26", "Europe/London", VB_AD_YMD, NULL),
	    "2010-06-01T07:26:00Z");
	ck_assert_str_eq(rd("2026-07-01T12:00:00", "Europe/Paris", VB_AD_YMD, NULL),
	    "2026-07-01T10:00:00Z");
	ck_assert_str_eq(rd("2026-01-01 12:00:00.25", "+05:30", VB_AD_YMD, NULL),
	    "2026-01-01T06:30:00.250000Z");
	ck_assert_str_eq(rd("2026-01-01 12:00", "-03:00", VB_AD_YMD, NULL), "2026-01-01T15:00:00Z");
	/* RFC 3339 keeps its own offset, whatever the zone. */
	ck_assert_str_eq(rd("2026-11-20T09:12:00+01:00", "Europe/London", VB_AD_YMD, &d),
	    "2026-11-20T08:12:00Z");
	ck_assert_int_eq(d, 0);
}
END_TEST

/* The EU rule at its edges: 2026-03-29 and 2026-10-25 are the last Sundays. */
START_TEST(summer_time_edges)
{
	ck_assert_str_eq(rd("2026-03-29 00:59", "Europe/London", VB_AD_YMD, NULL), "2026-03-29T00:59:00Z");
	/* 01:30 does not exist that night: read as standard time. */
	ck_assert_str_eq(rd("2026-03-29 01:30", "Europe/London", VB_AD_YMD, NULL), "2026-03-29T01:30:00Z");
	ck_assert_str_eq(rd("2026-03-29 02:00", "Europe/London", VB_AD_YMD, NULL), "2026-03-29T01:00:00Z");
	ck_assert_str_eq(rd("2026-10-25 00:30", "Europe/London", VB_AD_YMD, NULL), "2026-10-24T23:30:00Z");
	/* 01:30 happens twice: the first, summer time. */
	ck_assert_str_eq(rd("2026-10-25 01:30", "Europe/London", VB_AD_YMD, NULL), "2026-10-25T00:30:00Z");
	ck_assert_str_eq(rd("2026-10-25 02:00", "Europe/London", VB_AD_YMD, NULL), "2026-10-25T02:00:00Z");
	ck_assert_str_eq(rd("2026-10-25 02:30", "Europe/Berlin", VB_AD_YMD, NULL), "2026-10-25T00:30:00Z");
	ck_assert_str_eq(rd("2026-10-25 03:00", "Europe/Berlin", VB_AD_YMD, NULL), "2026-10-25T02:00:00Z");
	/* 03:00 does not exist in Helsinki that night (02:59 -> 04:00). */
	ck_assert_str_eq(rd("2010-03-28 03:00", "Europe/Helsinki", VB_AD_YMD, NULL), "2010-03-28T01:00:00Z");
	ck_assert_str_eq(rd("2010-03-28 04:00", "Europe/Helsinki", VB_AD_YMD, NULL), "2010-03-28T01:00:00Z");
}
END_TEST

START_TEST(day_first_and_month_first)
{
	ck_assert_str_eq(rd("01/12/2010", "UTC", VB_AD_DMY, NULL), "2010-12-01T00:00:00Z");
	ck_assert_str_eq(rd("1.12.2010 8:26", "UTC", VB_AD_DMY, NULL), "2010-12-01T08:26:00Z");
	ck_assert_str_eq(rd("12/01/2010", "UTC", VB_AD_MDY, NULL), "2010-12-01T00:00:00Z");
	ck_assert_str_eq(rd("12-1-2010 23:59:59", "UTC", VB_AD_MDY, NULL), "2010-12-01T23:59:59Z");
	ck_assert_str_eq(rd("31/02/2026", "UTC", VB_AD_DMY, NULL), "ERR");
	ck_assert_str_eq(rd("2010-12-01", "UTC", VB_AD_DMY, NULL), "ERR");
	ck_assert_str_eq(rd("01/12/10", "UTC", VB_AD_DMY, NULL), "ERR");
	ck_assert_str_eq(rd("01/12-2010", "UTC", VB_AD_DMY, NULL), "ERR");
}
END_TEST

START_TEST(refused)
{
	static const char *const bad[] = { "", "27 Nov 2026", "2026-11-27 8am", "2026-11-27 24:00",
		"2026-13-01", "2026-11-27T10", "2026-11-27 10:00 ", "2026/11/27", "yesterday",
		"2026-11-27 10:60", "2026-11-27 10:00:60" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(strcmp(rd(bad[i], "UTC", VB_AD_YMD, NULL), "ERR") == 0, "%s", bad[i]);
}
END_TEST

START_TEST(zones)
{
	vb_ad_zone z;
	ck_assert_int_eq(vb_ad_zone_parse("UTC", &z), 0);
	ck_assert_int_eq(vb_ad_zone_parse("+01:00", &z), 0);
	ck_assert_int_eq(z.offset_min, 60);
	ck_assert_int_eq(vb_ad_zone_parse("-09:30", &z), 0);
	ck_assert_int_eq(z.offset_min, -570);
	ck_assert_int_eq(vb_ad_zone_parse("Europe/London", &z), 0);
	ck_assert_int_eq(z.eu_summer, 1);
	ck_assert_int_eq(vb_ad_zone_parse("America/New_York", &z), VB_EINVAL);
	ck_assert_int_eq(vb_ad_zone_parse("+1:00", &z), VB_EINVAL);
	ck_assert_int_eq(vb_ad_zone_parse("+24:00", &z), VB_EINVAL);
	vb_ad_date_order o;
	ck_assert_int_eq(vb_ad_date_order_parse("DMY", &o), 0);
	ck_assert_int_eq(o, VB_AD_DMY);
	ck_assert_int_eq(vb_ad_date_order_parse("ydm", &o), VB_EINVAL);
}
END_TEST

static Suite *
time_suite(void)
{
	Suite *s = suite_create("adapter_time");
	TCase *tc = tcase_create("time");
	tcase_add_test(tc, dates_are_midnight_in_the_zone);
	tcase_add_test(tc, local_times);
	tcase_add_test(tc, summer_time_edges);
	tcase_add_test(tc, day_first_and_month_first);
	tcase_add_test(tc, refused);
	tcase_add_test(tc, zones);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(time_suite());
}
