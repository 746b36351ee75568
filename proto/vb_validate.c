#include "vb_validate.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "vb_error.h"
#include "vb_event_impl.h"
#include "vb_time.h"

static const char *const purposes[] = { "service", "upsell", "cross-sell",
	"promotion", "survey", NULL };
static const char *const channels[] = { "email", "sms", "phone", "post",
	"push", NULL };

/* Which types each source may publish: the prefix of the type. */
static const struct {
	const char *source;
	const char *prefix;
} grants[] = {
	{ "service", "complaint." },
	{ "field", "visit." },
	{ "sales", "order." },
	{ "finance", "invoice." },
	{ "marketing", "message." },
	{ "customer", "consent." },
};

/* The payload strings the rules read.  They are picked up by name in the
 * walk that checks UTF-8, so the payload is searched once, not once per
 * rule (vb_event_data_str is a search of the descriptor). */
enum {
	D_CASE, D_VISIT, D_ORDER, D_INVOICE, D_CHANNEL, D_PURPOSE, D_CAMPAIGN,
	D_WINDOW_START, D_WINDOW_END, D_ARRIVED_AT, D_COMPLETED_AT, D_DUE,
	D_AMOUNT, D_N
};
static const struct {
	const char *s;
	size_t len;
} data_names[D_N] = {
#define N(s) { s, sizeof(s) - 1 }
	N("case"), N("visit"), N("order"), N("invoice"), N("channel"),
	N("purpose"), N("campaign"), N("window_start"), N("window_end"),
	N("arrived_at"), N("completed_at"), N("due"), N("amount"),
#undef N
};

/* The payload field each type family cannot do without. */
static const struct {
	const char *prefix;
	int field;
} keys[] = {
	{ "complaint.", D_CASE },
	{ "visit.", D_VISIT },
	{ "order.", D_ORDER },
	{ "invoice.", D_INVOICE },
	{ "consent.", D_CHANNEL },
	{ "message.", D_CHANNEL },
	{ "message.", D_PURPOSE },
	{ "message.", D_CAMPAIGN },
};

/* Payload fields that hold times: D_WINDOW_START to D_DUE. */

static int
in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

int vb_purpose_known(const char *s) { return in_list(purposes, s); }
int vb_channel_known(const char *s) { return in_list(channels, s); }

/* Length of the well-formed UTF-8 sequence at s (left bytes there), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	uint32_t cp;
	size_t n;
	if (c < 0x80)
		return 1;
	else if ((c & 0xe0) == 0xc0) {
		n = 1; cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2; cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3; cp = c & 0x07;
	} else {
		return 0;
	}
	if (left <= n)
		return 0;
	for (size_t k = 1; k <= n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
	    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n + 1;
}

/* Whether each of the eight bytes of w is 1 to 127: no high bit, and no
 * byte that borrows when one is taken from each (a zero). */
static inline int
ascii_text8(uint64_t w)
{
	return ((w | (w - 0x0101010101010101u)) & 0x8080808080808080u) == 0;
}

/* The walk of vb_utf8_valid and vb_utf8_text: with nul, a NUL byte fails. */
static inline int
utf8_walk(const char *str, size_t len, int nul)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;
	while (i < len) {
		/* Most text is ASCII: eight bytes at a time while it is (and,
		 * with nul, none of the eight is 0). */
		if (len - i >= 8) {
			uint64_t w;
			memcpy(&w, s + i, sizeof(w));
			if (nul ? ascii_text8(w) : (w & 0x8080808080808080u) == 0) {
				i += 8;
				continue;
			}
		}
		if (s[i] < 0x80) {
			if (nul && s[i] == 0)
				return 0;
			i++;
			continue;
		}
		if ((n = utf8_seq(s + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

int
vb_utf8_valid(const char *str, size_t len)
{
	return utf8_walk(str, len, 0);
}

int
vb_utf8_text(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	uint64_t w;
	/* A field is mostly a few ASCII bytes: whole words, the last one
	 * overlapping the one before, and no loop for the tail. */
	if (len >= 8) {
		size_t i;
		for (i = 0; i + 8 < len; i += 8) {
			memcpy(&w, s + i, sizeof(w));
			if (!ascii_text8(w))
				return utf8_walk(str, len, 1);
		}
		memcpy(&w, s + len - 8, sizeof(w));
	} else if (len >= 4) {
		uint32_t a, b;
		memcpy(&a, s, sizeof(a));
		memcpy(&b, s + len - 4, sizeof(b));
		w = (uint64_t)a << 32 | b;
	} else {
		w = 0x0101010101010101u;
		for (size_t i = 0; i < len; i++)
			w = w << 8 | s[i];
	}
	return ascii_text8(w) || utf8_walk(str, len, 1);
}

void
vb_utf8_scrub(char *str)
{
	unsigned char *s = (unsigned char *)str;
	size_t len = strlen(str), i = 0, n;
	while (i < len) {
		if ((n = utf8_seq(s + i, len - i)) == 0) {
			s[i] = '?';
			n = 1;
		}
		i += n;
	}
}

typedef struct {
	char *err;
	size_t errlen;
	int utf8;              /* the strings are known to be UTF-8 */
	const char *data[D_N]; /* NULL: the payload has no such field */
} check_ctx;

static int
check_string(void *arg, const char *prefix, const char *field, const char *value)
{
	check_ctx *c = arg;
	if (!c->utf8 && !vb_utf8_valid(value, strlen(value))) {
		snprintf(c->err, c->errlen, "%s%.100s: not valid UTF-8", prefix, field);
		if (c->errlen)
			vb_utf8_scrub(c->err);
		return VB_EINVAL;
	}
	/* Prefixes are "", "data." and "attributes.": keep the payload's.
	 * Every event asks this of each payload string: the length and the
	 * first byte leave one name or none to compare. */
	if (prefix[0] == 'd') {
		size_t n = strlen(field);
		for (int k = 0; k < D_N; k++)
			if (data_names[k].len == n && data_names[k].s[0] == field[0] &&
			    memcmp(data_names[k].s, field, n) == 0) {
				c->data[k] = value;
				break;
			}
	}
	return 0;
}

/* strncmp(s, prefix, strlen(prefix)) == 0, without the two calls: the
 * rules ask it nine times of every event, of prefixes a few bytes long. */
static int
has_prefix(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (*s != *prefix)
			return 0;
	return 1;
}

static int
decimal_valid(const char *s)
{
	int digits = 0;
	if (*s == '-')
		s++;
	while (isdigit((unsigned char)*s)) {
		s++;
		digits++;
	}
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return 0;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return digits > 0 && *s == '\0';
}

/* Messages quote fields cut at a byte count: scrubbed, a cut character
 * does not make the reply itself invalid UTF-8. */
#define FAIL(...) do { \
	if (errlen) { \
		snprintf(err, errlen, __VA_ARGS__); \
		vb_utf8_scrub(err); \
	} \
	return VB_EINVAL; \
} while (0)

int
vb_event_validate(const vb_event *ev, int64_t *time_us, char *err,
    size_t errlen)
{
	const char *id = vb_event_id(ev), *source = vb_event_source(ev);
	const char *type = vb_event_type(ev), *customer = vb_event_customer(ev);
	const char *t = vb_event_time(ev), *ptype, *v;
	/* Bytes taken as canonical were checked for UTF-8 as they were. */
	check_ctx cc = { err, errlen, ev->canon != NULL, { NULL } };
	size_t i, n;
	int64_t us;

	/* UTF-8 first: later messages quote fields, and a protobuf peer may
	 * send any bytes in a string.  Of an event taken as canonical only
	 * the payload's strings are read, for the rules below. */
	if ((cc.utf8 ? vb_event_each_data_string(ev, check_string, &cc) :
	    vb_event_each_string(ev, check_string, &cc)) != 0)
		return VB_EINVAL;
	if (vb_event_check_form(ev, err, errlen) != 0)
		return VB_EINVAL;
	if (vb_event_is_redacted(ev))
		FAIL("redacted: set by the broker on the copies it hands out; a "
		    "publisher sends the whole event");
	/* The broker's to set; a seq JSON cannot carry (over 2^63 - 1, the
	 * largest integer of the JSON form) could not be read back. */
	if (vb_event_seq(ev) > (uint64_t)INT64_MAX)
		FAIL("seq: %llu is over %lld, the largest a seq may be",
		    (unsigned long long)vb_event_seq(ev), (long long)INT64_MAX);
	if ((n = strlen(id)) == 0)
		FAIL("id: missing");
	if (n > VB_ID_MAX)
		FAIL("id: %zu bytes; at most %d", n, VB_ID_MAX);
	if (source[0] == '\0')
		FAIL("source: missing");
	for (i = 0; i < sizeof(grants) / sizeof(grants[0]); i++)
		if (strcmp(grants[i].source, source) == 0)
			break;
	if (i == sizeof(grants) / sizeof(grants[0]))
		FAIL("source: unknown source \"%.64s\" (service, field, sales, finance, marketing or customer)", source);
	/* A type its payload names is known: most events skip the search. */
	ptype = vb_event_payload_type(ev);
	int typed = ptype != NULL && strcmp(ptype, type) == 0;
	if (type[0] == '\0')
		FAIL("type: missing");
	if (!typed && !vb_event_type_known(type))
		FAIL("type: unknown event type \"%.64s\"", type);
	if (!has_prefix(type, grants[i].prefix))
		FAIL("type: source \"%s\" may not publish %.64s (only %s*)", source,
		    type, grants[i].prefix);
	if ((n = strlen(customer)) == 0)
		FAIL("customer: missing");
	if (n > VB_CUSTOMER_MAX)
		FAIL("customer: %zu bytes; at most %d", n, VB_CUSTOMER_MAX);
	if (t[0] == '\0')
		FAIL("time: missing");
	if (vb_time_parse(t, &us) != 0)
		FAIL("time: \"%.64s\" is not an RFC 3339 date-time in years 0001-9999 (UTC) "
		    "such as 2026-11-20T09:12:00Z", t);
	if (ptype == NULL)
		FAIL("data: missing");
	if (!typed)
		FAIL("data: holds a %s payload but type is %.64s", ptype, type);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!has_prefix(type, keys[i].prefix))
			continue;
		v = cc.data[keys[i].field];
		if (v == NULL || v[0] == '\0')
			FAIL("data.%s: missing (required for %s)", data_names[keys[i].field].s, type);
	}
	if ((v = cc.data[D_CHANNEL]) != NULL && v[0] != '\0' &&
	    has_prefix(type, "consent.") + has_prefix(type, "message.") &&
	    !vb_channel_known(v))
		FAIL("data.channel: unknown channel \"%.64s\" (email, sms, phone, post or push)", v);
	if ((v = cc.data[D_PURPOSE]) != NULL && v[0] != '\0' &&
	    !vb_purpose_known(v))
		FAIL("data.purpose: unknown purpose \"%.64s\" (service, upsell, cross-sell, promotion or survey)", v);
	for (i = D_WINDOW_START; i <= D_DUE; i++) {
		v = cc.data[i];
		if (v != NULL && v[0] != '\0' && vb_time_parse(v, &(int64_t){ 0 }) != 0)
			FAIL("data.%s: \"%.64s\" is not an RFC 3339 date-time in years 0001-9999 (UTC)",
			    data_names[i].s, v);
	}
	if ((v = cc.data[D_AMOUNT]) != NULL && v[0] != '\0' &&
	    !decimal_valid(v))
		FAIL("data.amount: \"%.64s\" is not a decimal number such as 139.50", v);
	if ((n = vb_event_pb_size(ev)) > VB_EVENT_MAX_BYTES)
		FAIL("event: %zu bytes encoded; at most %d", n, VB_EVENT_MAX_BYTES);
	if (time_us)
		*time_us = us;
	return VB_OK;
}
