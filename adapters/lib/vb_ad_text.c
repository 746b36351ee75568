#include "vb_ad_text.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "vb_error.h"

int
vb_ad_encoding_parse(const char *s, vb_ad_encoding *out)
{
	if (strcasecmp(s, "utf-8") == 0 || strcasecmp(s, "utf8") == 0)
		*out = VB_AD_UTF8;
	else if (strcasecmp(s, "latin1") == 0 ||
	    strcasecmp(s, "latin-1") == 0 || strcasecmp(s, "iso-8859-1") == 0)
		*out = VB_AD_LATIN1;
	else if (strcasecmp(s, "cp1252") == 0 ||
	    strcasecmp(s, "windows-1252") == 0)
		*out = VB_AD_CP1252;
	else
		return VB_EINVAL;
	return VB_OK;
}

/* The length of the valid UTF-8 sequence at s[0..len), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Windows-1252's 0x80-0x9f; 0 where it has no character (read as Latin-1
 * C1 controls would be worse: they are reported instead). */
static const uint16_t cp1252_hi[32] = {
	0x20ac,
	0,
	0x201a,
	0x0192,
	0x201e,
	0x2026,
	0x2020,
	0x2021,
	0x02c6,
	0x2030,
	0x0160,
	0x2039,
	0x0152,
	0,
	0x017d,
	0,
	0,
	0x2018,
	0x2019,
	0x201c,
	0x201d,
	0x2022,
	0x2013,
	0x2014,
	0x02dc,
	0x2122,
	0x0161,
	0x203a,
	0x0153,
	0,
	0x017e,
	0x0178,
};

static int
put_cp(vb_buf *out, uint32_t cp)
{
	uint8_t b[3];
	size_t n;
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	}
	return vb_buf_append(out, b, n);
}

int
vb_ad_text_utf8(const char *str, size_t len, vb_ad_encoding enc, vb_buf *out,
    size_t *bad)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t start = out->len;
	int rv;

	if (enc == VB_AD_UTF8) {
		for (size_t i = 0; i < len;) {
			size_t n = s[i] == 0 ? 0 : utf8_seq(s + i, len - i);
			if (n == 0) {
				if (bad)
					*bad = i;
				return VB_EINVAL;
			}
			i += n;
		}
		if ((rv = vb_buf_reserve(out, len + 1)) != 0)
			return rv;
		memcpy(out->data + out->len, s, len);
		out->len += len;
	} else {
		if ((rv = vb_buf_reserve(out, len * 3 + 1)) != 0)
			return rv;
		for (size_t i = 0; i < len; i++) {
			uint32_t cp = s[i];
			if (cp == 0 ||
			    (enc == VB_AD_CP1252 && cp >= 0x80 && cp < 0xa0 &&
			        (cp = cp1252_hi[cp - 0x80]) == 0)) {
				if (bad)
					*bad = i;
				out->len = start;
				return VB_EINVAL;
			}
			put_cp(out, cp); /* reserved above: cannot fail */
		}
	}
	out->data[out->len] = '\0';
	return VB_OK;
}

size_t
vb_ad_utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	/* Step back over continuation bytes to a character's first byte. */
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	    c == '\f';
}

const char *
vb_ad_trim(const char *s, size_t *len)
{
	size_t n = *len;
	while (n > 0 && is_space(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	*len = n;
	return s;
}
