/* vb_ad_time: the dates and times silos write in their exports, read in a
 * stated time zone and turned into instants (microseconds since the epoch,
 * UTC), which vb_time_format prints as the contract's RFC 3339.
 *
 * Zones are data, not the process's TZ: "UTC", a fixed offset ("+01:00"),
 * or one of a few European zone names whose summer time follows the EU rule
 * (last Sunday of March to last Sunday of October, 01:00 UTC; the rule of
 * every year since 1996).  No tzdata is needed and nothing global changes. */
#ifndef VB_AD_TIME_H
#define VB_AD_TIME_H

#include <stdint.h>

typedef struct vb_ad_zone {
	int offset_min; /* standard offset east of UTC, minutes */
	int eu_summer;  /* 1: one hour more in EU summer time */
} vb_ad_zone;

/* Parse "UTC", "Z", "+HH:MM", "-HH:MM" or a known zone name
 * ("Europe/London", "Europe/Paris", ...).  0 or VB_EINVAL. */
int vb_ad_zone_parse(const char *name, vb_ad_zone *out);

/* The zone names vb_ad_zone_parse knows, for help texts. */
const char *vb_ad_zone_names(void);

/* Offset east of UTC (minutes) of the local time local_us (microseconds
 * since the epoch, as if local were UTC).  A local time that happens twice
 * (the hour clocks go back) is read as summer time, the first; one that
 * does not exist (the hour they skip) as standard time. */
int vb_ad_zone_offset_local(const vb_ad_zone *z, int64_t local_us);

typedef enum {
	VB_AD_YMD = 0, /* 2010-12-01, the default */
	VB_AD_DMY,     /* 01/12/2010 */
	VB_AD_MDY,     /* 12/01/2010 */
} vb_ad_date_order;

/* Parse "ymd", "dmy" or "mdy".  0 or VB_EINVAL. */
int vb_ad_date_order_parse(const char *s, vb_ad_date_order *out);

/* Read a silo's date or time:
 *   - an RFC 3339 date-time with its offset ("2026-11-20T09:12:00Z");
 *   - a date and a time without offset, in zone z: "2010-12-01 08:26:00",
 *     "2010-12-01T08:26", seconds and a fraction optional;
 *   - a date alone, which is its midnight in zone z: "2019-09-24".
 * Dates are year-month-day, or with order DMY/MDY "01/12/2010" (separator
 * '/', '-' or '.', four-digit years) followed by an optional time.
 * *date_only (may be NULL) says whether there was no time of day.
 * Returns 0 or VB_EINVAL. */
int vb_ad_time_parse(const char *s, const vb_ad_zone *z, vb_ad_date_order order,
    int64_t *out_us, int *date_only);

#define VB_AD_DAY_US (86400LL * 1000000)

#endif
