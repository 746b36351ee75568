#include "vb_time.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "vb_error.h"

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define TIME_MIN_SECS (-62135596800LL)
#define TIME_MAX_SECS 253402300799LL

static int
digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Howard Hinnant's days_from_civil: no timegm(), no TZ, valid for every
 * year we accept. */
int64_t
vb_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const int64_t yoe = y - era * 400;
	const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
vb_civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const int64_t doe = z - era * 146097;
	const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

int
vb_time_parse(const char *s, int64_t *out_us)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t frac = 0;
	size_t len;

	if (s == NULL)
		return VB_EINVAL;
	len = strlen(s);
	if (len < 20)
		return VB_EINVAL;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return VB_EINVAL;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 60)
		return VB_EINVAL;
	if (sec == 60) /* a leap second: counted as the last second of the minute */
		sec = 59;
	const char *p = s + 19;
	if (*p == '.') {
		int n = 0;
		p++;
		while (isdigit((unsigned char)*p)) {
			if (n < 6) {
				frac = frac * 10 + (*p - '0');
			}
			n++;
			p++;
		}
		if (n == 0)
			return VB_EINVAL;
		for (int i = n; i < 6; i++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return VB_EINVAL;
		p += 6;
	} else {
		return VB_EINVAL;
	}
	if (*p != '\0')
		return VB_EINVAL;
	int64_t secs = vb_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	secs -= sign * (oh * 3600 + om * 60);
	/* The offset may carry the instant out of years 0001-9999 in UTC,
	 * where vb_time_format could not write it back in four digits. */
	if (secs < TIME_MIN_SECS || secs > TIME_MAX_SECS)
		return VB_EINVAL;
	*out_us = secs * 1000000 + frac;
	return VB_OK;
}

/* v (0 <= v < 10^width) in width decimal digits at p; returns the end. */
static char *
put_digits(char *p, int v, int width)
{
	for (int i = width - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + width;
}

char *
vb_time_format(int64_t us, char *buf)
{
	int64_t secs = us / 1000000, frac = us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		secs -= 1;
	}
	int64_t days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days -= 1;
	}
	int y, m, d;
	vb_civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) {
		int n = snprintf(buf, VB_TIME_BUFSZ, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d,
		    (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
		if (frac != 0)
			snprintf(buf + n, VB_TIME_BUFSZ - (size_t)n, ".%06dZ", (int)frac);
		else
			snprintf(buf + n, VB_TIME_BUFSZ - (size_t)n, "Z");
		return buf;
	}
	/* By hand, as snprintf would write it: a blocked row's reasons format
	 * two times each, and snprintf was most of the reasons' cost. */
	char *p = buf;
	p = put_digits(p, y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, (int)(rem / 3600), 2);
	*p++ = ':';
	p = put_digits(p, (int)(rem / 60 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (int)(rem % 60), 2);
	if (frac != 0) {
		*p++ = '.';
		p = put_digits(p, (int)frac, 6);
	}
	*p++ = 'Z';
	*p = '\0';
	return buf;
}

int64_t
vb_time_now(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

int64_t
vb_time_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
vb_time_deadline(clockid_t clock, int64_t us, struct timespec *out)
{
	clock_gettime(clock, out);
	out->tv_sec += (time_t)(us / 1000000);
	out->tv_nsec += (long)(us % 1000000) * 1000;
	if (out->tv_nsec >= 1000000000L) {
		out->tv_sec++;
		out->tv_nsec -= 1000000000L;
	}
}

int
vb_duration_parse(const char *s, int64_t *out_us)
{
	char *end;
	long long v;
	int64_t unit;

	if (s == NULL || !isdigit((unsigned char)*s))
		return VB_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return VB_EINVAL;
	switch (*end) {
	case 's': unit = 1000000; break;
	case 'm': unit = 60LL * 1000000; break;
	case 'h': unit = 3600LL * 1000000; break;
	case 'd': unit = 86400LL * 1000000; break;
	default: return VB_EINVAL;
	}
	/* At most 100 years, checked before multiplying so nothing overflows. */
	if (end[1] != '\0' || v < 0 || v > 100LL * 365 * 86400 * 1000000 / unit)
		return VB_EINVAL;
	*out_us = v * unit;
	return VB_OK;
}
