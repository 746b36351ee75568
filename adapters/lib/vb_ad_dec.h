/* vb_ad_dec: exact decimal amounts for money read from exports.  An amount
 * is an int64 count of millionths, so that quantity x unit price summed
 * over an order is exact: money never goes through a double. */
#ifndef VB_AD_DEC_H
#define VB_AD_DEC_H

#include <stdint.h>

#define VB_AD_DEC_SCALE 1000000 /* units per 1: six decimal places */
#define VB_AD_DEC_BUFSZ 32

/* Parse "139.50", "-2", "+0.165" (at most 6 decimal places) into *out.
 * Returns 0, VB_EINVAL when s is not a plain decimal number (no thousands
 * separators, no currency signs, no exponent), or VB_ETOOBIG when it has
 * more than 6 decimal places or does not fit. */
int vb_ad_dec_parse(const char *s, int64_t *out);

/* Parse a whole number ("6", "-10") into *out.  0, VB_EINVAL or VB_ETOOBIG. */
int vb_ad_int_parse(const char *s, int64_t *out);

/* *out = a * n (a an amount, n a count) or a + b.  0 or VB_ETOOBIG on
 * overflow (*out unchanged). */
int vb_ad_dec_mul_int(int64_t a, int64_t n, int64_t *out);
int vb_ad_dec_add(int64_t a, int64_t b, int64_t *out);

/* Write v with at least two decimal places and no trailing zeros beyond
 * them ("139.50", "0.165", "-3.00") into buf (VB_AD_DEC_BUFSZ bytes).
 * Returns buf. */
char *vb_ad_dec_format(int64_t v, char *buf);

#endif
