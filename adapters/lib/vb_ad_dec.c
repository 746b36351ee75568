#include "vb_ad_dec.h"

#include <stdio.h>
#include <string.h>

#include "vb_error.h"

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
vb_ad_dec_parse(const char *s, int64_t *out)
{
	int neg = 0, digits = 0, frac = 0;
	uint64_t v = 0;
	const uint64_t max = (uint64_t)INT64_MAX;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; is_digit(*s); s++, digits++) {
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return VB_ETOOBIG;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s == '.') {
		s++;
		if (!is_digit(*s))
			return VB_EINVAL;
		for (; is_digit(*s); s++, frac++) {
			if (frac == 6) {
				/* Trailing zeros past the sixth place are exact. */
				if (*s != '0')
					return VB_ETOOBIG;
				frac--;
				continue;
			}
			if (v > (max - (uint64_t)(*s - '0')) / 10)
				return VB_ETOOBIG;
			v = v * 10 + (uint64_t)(*s - '0');
		}
	}
	if (digits == 0 || *s != '\0')
		return VB_EINVAL;
	for (; frac < 6; frac++) {
		if (v > max / 10)
			return VB_ETOOBIG;
		v *= 10;
	}
	*out = neg ? -(int64_t)v : (int64_t)v;
	return VB_OK;
}

int
vb_ad_int_parse(const char *s, int64_t *out)
{
	int neg = 0, digits = 0;
	uint64_t v = 0;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; is_digit(*s); s++, digits++) {
		if (v > ((uint64_t)INT64_MAX - (uint64_t)(*s - '0')) / 10)
			return VB_ETOOBIG;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (digits == 0 || *s != '\0')
		return VB_EINVAL;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return VB_OK;
}

int
vb_ad_dec_mul_int(int64_t a, int64_t n, int64_t *out)
{
	int64_t r;
	if (__builtin_mul_overflow(a, n, &r))
		return VB_ETOOBIG;
	*out = r;
	return VB_OK;
}

int
vb_ad_dec_add(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return VB_ETOOBIG;
	*out = r;
	return VB_OK;
}

char *
vb_ad_dec_format(int64_t v, char *buf)
{
	/* INT64_MIN has no positive counterpart: go through unsigned. */
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	char frac[8];
	int n;

	snprintf(frac, sizeof(frac), "%06llu",
	    (unsigned long long)(u % VB_AD_DEC_SCALE));
	for (n = 6; n > 2 && frac[n - 1] == '0'; n--)
		;
	frac[n] = '\0';
	snprintf(buf, VB_AD_DEC_BUFSZ, "%s%llu.%s", v < 0 ? "-" : "",
	    (unsigned long long)(u / VB_AD_DEC_SCALE), frac);
	return buf;
}
