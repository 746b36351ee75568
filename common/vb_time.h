/* vb_time: RFC 3339 timestamps <-> microseconds since the Unix epoch (UTC). */
#ifndef VB_TIME_H
#define VB_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Parse an RFC 3339 date-time ("2026-11-20T09:12:00Z",
 * "2026-11-20T10:12:00.5+01:00") into *out_us.  The whole string must match;
 * years 0001-9999, written and once the offset is applied.  Returns 0 or
 * VB_EINVAL. */
int vb_time_parse(const char *s, int64_t *out_us);

/* Write us as "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (fraction only when non-zero)
 * into buf (at least VB_TIME_BUFSZ bytes).  Returns buf. */
#define VB_TIME_BUFSZ 32
char *vb_time_format(int64_t us, char *buf);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t vb_days_from_civil(int64_t y, int m, int d);
void vb_civil_from_days(int64_t days, int *y, int *m, int *d);

/* The current time in microseconds since the epoch. */
int64_t vb_time_now(void);
/* Microseconds of the monotonic clock, for intervals: unlike the wall
 * clock it never steps back (NTP, an operator). */
int64_t vb_time_mono_us(void);
/* *out: us microseconds from now by clock, for pthread_cond_timedwait
 * (a condition waits by CLOCK_REALTIME unless set otherwise). */
void vb_time_deadline(clockid_t clock, int64_t us, struct timespec *out);

/* Parse a duration such as "14d", "24h", "90m", "30s" into microseconds. */
int vb_duration_parse(const char *s, int64_t *out_us);

#endif
