/* vb_ad_text: the text of an export made fit for an event: character set
 * (exports from older systems are often Latin-1 or Windows-1252, and the
 * bus carries only UTF-8), surrounding white space, and length. */
#ifndef VB_AD_TEXT_H
#define VB_AD_TEXT_H

#include <stddef.h>

#include "vb_buf.h"

typedef enum {
	VB_AD_UTF8 = 0,
	VB_AD_LATIN1, /* ISO-8859-1 */
	VB_AD_CP1252, /* Windows-1252: Latin-1 with curly quotes in 0x80-0x9f */
} vb_ad_encoding;

/* Parse "utf-8" (or "utf8"), "latin1" (or "iso-8859-1"), "cp1252" (or
 * "windows-1252").  0 or VB_EINVAL. */
int vb_ad_encoding_parse(const char *s, vb_ad_encoding *out);

/* Append len bytes of s, in enc, to out as UTF-8, and a NUL (not counted in
 * out->len).  UTF-8 input is checked, not changed: VB_EINVAL if it is not
 * valid UTF-8, with *bad (may be NULL) the offset of the first bad byte.
 * VB_ENOMEM.  On failure out->len is as it was. */
int vb_ad_text_utf8(const char *s, size_t len, vb_ad_encoding enc, vb_buf *out,
    size_t *bad);

/* The length of the first n bytes of the valid UTF-8 string s cut to at
 * most max bytes, never inside a character. */
size_t vb_ad_utf8_cut(const char *s, size_t n, size_t max);

/* s without leading and trailing ASCII white space: returns the first
 * byte kept and sets *len (in: length of s; out: length kept). */
const char *vb_ad_trim(const char *s, size_t *len);

#endif
