/* vb_cmp_event: the synthetic events of the vb_cmp driver (see
 * vb_cmp_impl.h): a 200-byte voicebus.v1.Event made once from JSON, then
 * copied and given new digits for every event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_cmp_impl.h"
#include "vb_error.h"
#include "vb_event.h"

#define ID_DIGITS 16 /* phase (3), thread (3), number (10) */

void
vb_cmp_put_digits(uint8_t *dst, size_t width, uint64_t v)
{
	for (size_t i = width; i-- > 0; v /= 10)
		dst[i] = (uint8_t)('0' + v % 10);
}

static int
find(const vb_cmp_tmpl *t, const char *marker, size_t skip, size_t *off)
{
	const uint8_t *at = memmem(t->p, t->len, marker, strlen(marker));
	if (at == NULL)
		return VB_EINTERNAL;
	*off = (size_t)(at - t->p) + skip;
	return 0;
}

/* Encode the template with a note of pad bytes. */
static int
tmpl_encode(size_t pad, vb_buf *out)
{
	char json[1024], note[512], err[VB_ERRMSG_MAX];
	vb_event *ev;
	int rv;

	if (pad >= sizeof(note))
		return VB_EINVAL;
	memset(note, 'x', pad);
	note[pad] = '\0';
	snprintf(json, sizeof(json),
	    "{\"id\":\"E%0*d\",\"source\":\"sales\",\"type\":\"order.placed\","
	    "\"customer\":\"C-000000\",\"time\":\"2026-11-20T10:00:00Z\","
	    "\"data\":{\"order\":\"O-%0*d\",\"amount\":\"19.99\","
	    "\"currency\":\"GBP\",\"items\":3},"
	    "\"attributes\":{\"channel\":\"web\",\"note\":\"%s\"}}",
	    ID_DIGITS, 0, ID_DIGITS, 0, note);
	if ((rv = vb_event_from_json(json, strlen(json), &ev, err,
	         sizeof(err))) != 0) {
		fprintf(stderr, "vb_cmp: template: %s\n", err);
		return rv;
	}
	vb_buf_reset(out);
	rv = vb_event_to_pb(ev, out);
	vb_event_free(ev);
	return rv;
}

int
vb_cmp_tmpl_make(vb_cmp_tmpl *t)
{
	vb_buf b = { 0 };
	size_t pad = 64;
	int rv;

	/* Every length fits one varint byte, so one correction is exact. */
	if ((rv = tmpl_encode(pad, &b)) != 0 ||
	    (rv = tmpl_encode(pad + VB_CMP_EVENT_BYTES - b.len, &b)) != 0)
		goto fail;
	if (b.len != VB_CMP_EVENT_BYTES) {
		fprintf(stderr, "vb_cmp: template is %zu bytes, not %d\n",
		    b.len, VB_CMP_EVENT_BYTES);
		rv = VB_EINTERNAL;
		goto fail;
	}
	t->p = b.data;
	t->len = b.len;
	if ((rv = find(t, "E0000000000000000", 1, &t->id_off)) != 0 ||
	    (rv = find(t, "O-0000000000000000", 2, &t->order_off)) != 0 ||
	    (rv = find(t, "C-000000", 2, &t->cust_off)) != 0)
		goto fail;
	return 0;
fail:
	vb_buf_free(&b);
	t->p = NULL;
	return rv;
}

static uint64_t
event_number(unsigned phase, unsigned thread, uint64_t i)
{
	return (uint64_t)(phase % 1000) * 10000000000000ULL +
	    (uint64_t)(thread % 1000) * 10000000000ULL + i % 10000000000ULL;
}

/* Write event (phase, thread, i) into dst (t->len bytes). */
void
vb_cmp_event_make(const vb_cmp_tmpl *t, uint8_t *dst, unsigned phase,
    unsigned thread, uint64_t i)
{
	uint64_t n = event_number(phase, thread, i);
	/* Customers spread over 100,000, in no order. */
	uint64_t cust =
	    (i * 2654435761ULL + thread * 104729ULL + phase * 7919ULL) % 100000;
	memcpy(dst, t->p, t->len);
	/* An odd multiplier not divisible by 5 is a bijection modulo 10^16. */
	uint64_t id = t->random_ids ?
	    (uint64_t)(((unsigned __int128)n * 0x9E3779B97F4A7C15ULL) % 10000000000000000ULL) : n;
	vb_cmp_put_digits(dst + t->id_off, ID_DIGITS, id);
	vb_cmp_put_digits(dst + t->order_off, ID_DIGITS, n);
	vb_cmp_put_digits(dst + t->cust_off, 6, cust);
}

/* The phase and number of an event made here, from its bytes. */
int
vb_cmp_event_parse(const uint8_t *p, size_t len, unsigned *phase, uint64_t *i)
{
	vb_event_peek pk;
	uint64_t n = 0;
	if (vb_event_peek_pb(p, len, &pk) != 0 || pk.id_len != ID_DIGITS + 1 ||
	    pk.id[0] != 'E')
		return -1;
	for (size_t k = 1; k <= ID_DIGITS; k++)
		n = n * 10 + (uint64_t)(pk.id[k] - '0');
	*phase = (unsigned)(n / 10000000000000ULL);
	*i = n % 10000000000ULL;
	return 0;
}
