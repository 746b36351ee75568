#include "vb_ad_time.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vb_error.h"
#include "vb_time.h"

#define HOUR_US (3600LL * 1000000)

static const struct {
	const char *name;
	int offset_min;
} eu_zones[] = {
	{ "Europe/London", 0 },
	{ "Europe/Dublin", 0 },
	{ "Europe/Lisbon", 0 },
	{ "Europe/Amsterdam", 60 },
	{ "Europe/Berlin", 60 },
	{ "Europe/Brussels", 60 },
	{ "Europe/Copenhagen", 60 },
	{ "Europe/Madrid", 60 },
	{ "Europe/Oslo", 60 },
	{ "Europe/Paris", 60 },
	{ "Europe/Prague", 60 },
	{ "Europe/Rome", 60 },
	{ "Europe/Stockholm", 60 },
	{ "Europe/Vienna", 60 },
	{ "Europe/Warsaw", 60 },
	{ "Europe/Zurich", 60 },
	{ "Europe/Athens", 120 },
	{ "Europe/Helsinki", 120 },
};

const char *
vb_ad_zone_names(void)
{
	return "UTC, +HH:MM, -HH:MM, Europe/London, Europe/Dublin, Europe/Lisbon, "
	       "Europe/Amsterdam, Europe/Berlin, Europe/Brussels, Europe/Copenhagen, "
	       "Europe/Madrid, Europe/Oslo, Europe/Paris, Europe/Prague, Europe/Rome, "
	       "Europe/Stockholm, Europe/Vienna, Europe/Warsaw, Europe/Zurich, "
	       "Europe/Athens, Europe/Helsinki";
}

static int
digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
vb_ad_zone_parse(const char *name, vb_ad_zone *out)
{
	int h, m;

	if (strcasecmp(name, "UTC") == 0 || strcmp(name, "Z") == 0 ||
	    strcasecmp(name, "GMT") == 0 || strcmp(name, "Etc/UTC") == 0) {
		*out = (vb_ad_zone){ 0, 0 };
		return VB_OK;
	}
	if ((name[0] == '+' || name[0] == '-') && strlen(name) == 6 &&
	    digits(name + 1, 2, &h) == 0 && name[3] == ':' &&
	    digits(name + 4, 2, &m) == 0 && h <= 23 && m <= 59) {
		out->offset_min = (name[0] == '-' ? -1 : 1) * (h * 60 + m);
		out->eu_summer = 0;
		return VB_OK;
	}
	for (size_t i = 0; i < sizeof(eu_zones) / sizeof(eu_zones[0]); i++) {
		if (strcmp(eu_zones[i].name, name) == 0) {
			out->offset_min = eu_zones[i].offset_min;
			out->eu_summer = 1;
			return VB_OK;
		}
	}
	return VB_EINVAL;
}

static int
year_of_days(int64_t z)
{
	int y, m, d;
	vb_civil_from_days(z, &y, &m, &d);
	return y;
}

/* The last Sunday of month m (31 days long) of year y, in days. */
static int64_t
last_sunday(int y, int m)
{
	int64_t d = vb_days_from_civil(y, m, 31);
	int dow = (int)(((d + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
	return d - dow;
}

/* Whether the UTC instant us is in EU summer time. */
static int
eu_summer_utc(int64_t us)
{
	/* Days rounded down, before 1970 too. */
	int64_t days = us / VB_AD_DAY_US - (us % VB_AD_DAY_US < 0);
	int y = year_of_days(days);
	int64_t start = last_sunday(y, 3) * VB_AD_DAY_US + HOUR_US;
	int64_t end = last_sunday(y, 10) * VB_AD_DAY_US + HOUR_US;
	return us >= start && us < end;
}

int
vb_ad_zone_offset_local(const vb_ad_zone *z, int64_t local_us)
{
	int64_t std = local_us - (int64_t)z->offset_min * 60 * 1000000;
	if (z->eu_summer && eu_summer_utc(std - HOUR_US))
		return z->offset_min + 60;
	return z->offset_min;
}

int
vb_ad_date_order_parse(const char *s, vb_ad_date_order *out)
{
	if (strcasecmp(s, "ymd") == 0)
		*out = VB_AD_YMD;
	else if (strcasecmp(s, "dmy") == 0)
		*out = VB_AD_DMY;
	else if (strcasecmp(s, "mdy") == 0)
		*out = VB_AD_MDY;
	else
		return VB_EINVAL;
	return VB_OK;
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

/* Read one or two digits at *s. */
static int
num12(const char **s, int *out)
{
	int v;
	if (digits(*s, 1, &v) != 0)
		return -1;
	(*s)++;
	if (digits(*s, 1, &(int){ 0 }) == 0) {
		v = v * 10 + (**s - '0');
		(*s)++;
	}
	*out = v;
	return 0;
}

/* The date at the start of s; *rest gets what follows it. */
static int
parse_date(const char *s, vb_ad_date_order order, int *y, int *m, int *d,
    const char **rest)
{
	int a, b;
	char sep;

	if (order == VB_AD_YMD) {
		if (digits(s, 4, y) != 0 || s[4] != '-' ||
		    digits(s + 5, 2, m) != 0 || s[7] != '-' ||
		    digits(s + 8, 2, d) != 0)
			return -1;
		*rest = s + 10;
		return 0;
	}
	if (num12(&s, &a) != 0)
		return -1;
	sep = *s;
	if (sep != '/' && sep != '-' && sep != '.')
		return -1;
	s++;
	if (num12(&s, &b) != 0 || *s != sep || digits(s + 1, 4, y) != 0)
		return -1;
	*rest = s + 5;
	if (order == VB_AD_DMY) {
		*d = a;
		*m = b;
	} else {
		*m = a;
		*d = b;
	}
	return 0;
}

int
vb_ad_time_parse(const char *s, const vb_ad_zone *z, vb_ad_date_order order,
    int64_t *out_us, int *date_only)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	int64_t frac = 0, local;
	const char *p;

	/* An RFC 3339 instant carries its own offset. */
	if (vb_time_parse(s, out_us) == 0) {
		if (date_only)
			*date_only = 0;
		return VB_OK;
	}
	if (parse_date(s, order, &y, &mo, &d, &p) != 0)
		return VB_EINVAL;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return VB_EINVAL;
	if (*p == '\0') {
		if (date_only)
			*date_only = 1;
	} else {
		if (*p != ' ' && *p != 'T' && *p != 't')
			return VB_EINVAL;
		p++;
		if (num12(&p, &h) != 0)
			return VB_EINVAL;
		if (*p != ':' || digits(p + 1, 2, &mi) != 0)
			return VB_EINVAL;
		p += 3;
		if (*p == ':') {
			if (digits(p + 1, 2, &sec) != 0)
				return VB_EINVAL;
			p += 3;
			if (*p == '.' || *p == ',') {
				int64_t scale = 100000;
				p++;
				if (*p < '0' || *p > '9')
					return VB_EINVAL;
				for (; *p >= '0' && *p <= '9'; p++) {
					frac += (*p - '0') * scale;
					scale /= 10;
				}
			}
		}
		if (*p != '\0' || h > 23 || mi > 59 || sec > 59)
			return VB_EINVAL;
		if (date_only)
			*date_only = 0;
	}
	local = ((vb_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
	local = local * 1000000 + frac;
	*out_us =
	    local - (int64_t)vb_ad_zone_offset_local(z, local) * 60 * 1000000;
	return VB_OK;
}
