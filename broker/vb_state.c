#include "vb_state.h"

#include <stdlib.h>
#include <string.h>

#include "vb_error.h"
#include "vb_time.h"

#define STATE_VERSION 1

int
vb_fact_from_event(const vb_event *ev, int64_t time_us, vb_fact *out)
{
	static const struct {
		const char *type;
		size_t len;
		vb_fact_kind kind;
		const char *key;
	} map[] = {
#define M(t, k, key) { t, sizeof(t) - 1, k, key }
		M("complaint.opened", VB_FACT_COMPLAINT_OPEN, "case"),
		M("complaint.reopened", VB_FACT_COMPLAINT_OPEN, "case"),
		M("complaint.resolved", VB_FACT_COMPLAINT_RESOLVED, "case"),
		M("visit.missed", VB_FACT_VISIT_MISSED, "visit"),
		M("visit.completed", VB_FACT_VISIT_COMPLETED, "visit"),
		M("invoice.overdue", VB_FACT_INVOICE_OVERDUE, "invoice"),
		M("invoice.paid", VB_FACT_INVOICE_PAID, "invoice"),
		M("consent.granted", VB_FACT_CONSENT_GRANTED, "channel"),
		M("consent.withdrawn", VB_FACT_CONSENT_WITHDRAWN, "channel"),
		M("message.sent", VB_FACT_MESSAGE_SENT, "channel"),
#undef M
	};
	const char *type = vb_event_type(ev);
	/* Most events are of no kind here: the length rules out most rows
	 * without a call. */
	size_t tl = strlen(type);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].len != tl || memcmp(map[i].type, type, tl) != 0)
			continue;
		const char *key = vb_event_data_str(ev, map[i].key);
		const char *purpose = vb_event_data_str(ev, "purpose");
		out->kind = map[i].kind;
		out->time_us = time_us;
		out->event = vb_event_id(ev);
		out->key = key ? key : "";
		out->purpose = purpose ? purpose : "";
		return VB_OK;
	}
	return VB_ENOTFOUND;
}

static void
case_free(vb_case *c)
{
	free(c->id);
	free(c->open_event);
	free(c->resolved_event);
}

void
vb_state_free(vb_state *s)
{
	for (size_t i = 0; i < s->ncases; i++)
		case_free(&s->cases[i]);
	free(s->cases);
	free(s->missed_event);
	free(s->missed_visit);
	for (size_t i = 0; i < s->ninvoices; i++) {
		free(s->invoices[i].id);
		free(s->invoices[i].overdue_event);
	}
	free(s->invoices);
	for (size_t i = 0; i < s->nconsents; i++) {
		free(s->consents[i].channel);
		free(s->consents[i].purpose);
		free(s->consents[i].event);
	}
	free(s->consents);
	for (size_t i = 0; i < s->nmessages; i++) {
		free(s->messages[i].channel);
		free(s->messages[i].purpose);
		free(s->messages[i].event);
	}
	free(s->messages);
	memset(s, 0, sizeof(*s));
}

/* Replace *slot by a copy of v. */
static int
set_str(char **slot, const char *v)
{
	char *d = strdup(v ? v : "");
	if (d == NULL)
		return VB_ENOMEM;
	free(*slot);
	*slot = d;
	return VB_OK;
}

/* Whether (t, ev) is later than (cur, cur_ev): time first, then event id,
 * so that equal times still give one answer whatever the arrival order. */
static int
later(int64_t t, const char *ev, int64_t cur, const char *cur_ev)
{
	if (t != cur)
		return t > cur;
	return strcmp(ev, cur_ev ? cur_ev : "") > 0;
}

/* Grow an array of n elements of size sz by one, making room at index at;
 * returns the new element (zeroed) or NULL.  Keyed lists insert in key
 * order so that the state -- and the order of reasons -- does not depend
 * on the order events arrived in. */
static void *
grow_at(void **arr, size_t *n, size_t sz, size_t at)
{
	char *p = realloc(*arr, (*n + 1) * sz);
	if (p == NULL)
		return NULL;
	*arr = p;
	memmove(p + (at + 1) * sz, p + at * sz, (*n - at) * sz);
	memset(p + at * sz, 0, sz);
	(*n)++;
	return p + at * sz;
}

static void *
grow(void **arr, size_t *n, size_t sz)
{
	return grow_at(arr, n, sz, *n);
}

static vb_case *
find_case(vb_state *s, const char *id, int create)
{
	vb_case *c;
	size_t i;
	int cmp = 1;
	char *dup;
	for (i = 0; i < s->ncases && (cmp = strcmp(s->cases[i].id, id)) < 0; i++)
		;
	if (i < s->ncases && cmp == 0)
		return &s->cases[i];
	if (!create || (dup = strdup(id)) == NULL)
		return NULL;
	if ((c = grow_at((void **)&s->cases, &s->ncases, sizeof(*c), i)) == NULL) {
		free(dup);
		return NULL;
	}
	c->id = dup;
	return c;
}

static vb_invoice *
find_invoice(vb_state *s, const char *id)
{
	vb_invoice *v;
	size_t i;
	int cmp = 1;
	char *dup;
	for (i = 0; i < s->ninvoices && (cmp = strcmp(s->invoices[i].id, id)) < 0; i++)
		;
	if (i < s->ninvoices && cmp == 0)
		return &s->invoices[i];
	if ((dup = strdup(id)) == NULL)
		return NULL;
	if ((v = grow_at((void **)&s->invoices, &s->ninvoices, sizeof(*v), i)) == NULL) {
		free(dup);
		return NULL;
	}
	v->id = dup;
	return v;
}

static int
apply_consent(vb_state *s, const vb_fact *f)
{
	vb_consent *c = NULL;
	int granted = f->kind == VB_FACT_CONSENT_GRANTED;
	size_t i;
	int cmp = 1;
	/* Sorted by channel, then purpose. */
	for (i = 0; i < s->nconsents; i++) {
		cmp = strcmp(s->consents[i].channel, f->key);
		if (cmp == 0)
			cmp = strcmp(s->consents[i].purpose, f->purpose);
		if (cmp >= 0)
			break;
	}
	if (i < s->nconsents && cmp == 0)
		c = &s->consents[i];
	if (c == NULL) {
		if ((c = grow_at((void **)&s->consents, &s->nconsents, sizeof(*c), i)) == NULL)
			return VB_ENOMEM;
		if (set_str(&c->channel, f->key) || set_str(&c->purpose, f->purpose) ||
		    set_str(&c->event, f->event))
			return VB_ENOMEM;
		c->granted = granted;
		c->at_us = f->time_us;
		return VB_OK;
	}
	if (!later(f->time_us, f->event, c->at_us, c->event))
		return VB_OK;
	c->granted = granted;
	c->at_us = f->time_us;
	return set_str(&c->event, f->event);
}

static int
apply_message(vb_state *s, const vb_fact *f, int64_t keep_us)
{
	size_t i, drop = 0;
	vb_message m = { f->time_us, NULL, NULL, NULL };

	for (i = 0; i < s->nmessages; i++)
		if (strcmp(s->messages[i].event, f->event) == 0)
			return VB_OK; /* the same event twice: nothing new */
	if (set_str(&m.channel, f->key) || set_str(&m.purpose, f->purpose) ||
	    set_str(&m.event, f->event)) {
		free(m.channel);
		free(m.purpose);
		free(m.event);
		return VB_ENOMEM;
	}
	if (grow((void **)&s->messages, &s->nmessages, sizeof(m)) == NULL) {
		free(m.channel);
		free(m.purpose);
		free(m.event);
		return VB_ENOMEM;
	}
	/* Insert in (time, event id) order. */
	for (i = s->nmessages - 1; i > 0 && later(s->messages[i - 1].at_us,
	    s->messages[i - 1].event, m.at_us, m.event); i--)
		s->messages[i] = s->messages[i - 1];
	s->messages[i] = m;
	/* Only the longest window before the latest message can matter. */
	int64_t newest = s->messages[s->nmessages - 1].at_us;
	while (drop < s->nmessages && s->messages[drop].at_us <= newest - keep_us) {
		free(s->messages[drop].channel);
		free(s->messages[drop].purpose);
		free(s->messages[drop].event);
		drop++;
	}
	if (drop) {
		memmove(s->messages, s->messages + drop,
		    (s->nmessages - drop) * sizeof(*s->messages));
		s->nmessages -= drop;
	}
	return VB_OK;
}

int
vb_state_apply(vb_state *s, const vb_fact *f, int64_t keep_us)
{
	vb_case *c;
	vb_invoice *v;
	int rv = VB_OK;

	switch (f->kind) {
	case VB_FACT_COMPLAINT_OPEN:
		if ((c = find_case(s, f->key, 1)) == NULL)
			return VB_ENOMEM;
		if (c->first_open_us == 0 || f->time_us < c->first_open_us)
			c->first_open_us = f->time_us;
		if (c->open_event == NULL || later(f->time_us, f->event, c->open_us, c->open_event)) {
			c->open_us = f->time_us;
			rv = set_str(&c->open_event, f->event);
		}
		break;
	case VB_FACT_COMPLAINT_RESOLVED:
		if ((c = find_case(s, f->key, 1)) == NULL)
			return VB_ENOMEM;
		if (c->resolved_event == NULL ||
		    later(f->time_us, f->event, c->resolved_us, c->resolved_event)) {
			c->resolved_us = f->time_us;
			rv = set_str(&c->resolved_event, f->event);
		}
		break;
	case VB_FACT_VISIT_MISSED:
		if (s->missed_event == NULL ||
		    later(f->time_us, f->event, s->missed_us, s->missed_event)) {
			s->missed_us = f->time_us;
			rv = set_str(&s->missed_event, f->event);
			if (rv == 0)
				rv = set_str(&s->missed_visit, f->key);
		}
		break;
	case VB_FACT_VISIT_COMPLETED:
		if (f->time_us > s->completed_us)
			s->completed_us = f->time_us;
		break;
	case VB_FACT_INVOICE_OVERDUE:
		if ((v = find_invoice(s, f->key)) == NULL)
			return VB_ENOMEM;
		if (v->overdue_event == NULL ||
		    later(f->time_us, f->event, v->overdue_us, v->overdue_event)) {
			v->overdue_us = f->time_us;
			rv = set_str(&v->overdue_event, f->event);
		}
		break;
	case VB_FACT_INVOICE_PAID:
		if ((v = find_invoice(s, f->key)) == NULL)
			return VB_ENOMEM;
		if (f->time_us > v->paid_us)
			v->paid_us = f->time_us;
		break;
	case VB_FACT_CONSENT_GRANTED:
	case VB_FACT_CONSENT_WITHDRAWN:
		rv = apply_consent(s, f);
		break;
	case VB_FACT_MESSAGE_SENT:
		rv = apply_message(s, f, keep_us);
		break;
	default:
		return VB_OK;
	}
	if (rv == 0 && f->time_us > s->max_us)
		s->max_us = f->time_us;
	return rv;
}

int64_t
vb_state_next_after(const vb_state *s, int64_t at_us)
{
	int64_t next = 0;
#define CONSIDER(t) do { int64_t t_ = (t); \
	if (t_ > at_us && (next == 0 || t_ < next)) next = t_; } while (0)
	for (size_t i = 0; i < s->ncases; i++) {
		CONSIDER(s->cases[i].open_us);
		CONSIDER(s->cases[i].first_open_us);
		CONSIDER(s->cases[i].resolved_us);
	}
	CONSIDER(s->missed_us);
	CONSIDER(s->completed_us);
	for (size_t i = 0; i < s->ninvoices; i++) {
		CONSIDER(s->invoices[i].overdue_us);
		CONSIDER(s->invoices[i].paid_us);
	}
	for (size_t i = 0; i < s->nconsents; i++)
		CONSIDER(s->consents[i].at_us);
	for (size_t i = 0; i < s->nmessages; i++)
		CONSIDER(s->messages[i].at_us);
#undef CONSIDER
	return next;
}

/* ---- encoding: version byte, then the fields in order; strings as a
 * varint length and bytes, times as 8 bytes little-endian ---- */

static int
put_i64(vb_buf *b, int64_t v)
{
	uint8_t t[8];
	uint64_t u = (uint64_t)v;
	for (int i = 0; i < 8; i++)
		t[i] = (uint8_t)(u >> (8 * i));
	return vb_buf_append(b, t, 8);
}

static int
put_str(vb_buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return vb_buf_append_varint(b, n) | vb_buf_append(b, s ? s : "", n);
}

int
vb_state_encode(const vb_state *s, vb_buf *b)
{
	int rv = vb_buf_append_byte(b, STATE_VERSION);
	rv |= put_i64(b, s->max_us);
	rv |= vb_buf_append_varint(b, s->ncases);
	for (size_t i = 0; i < s->ncases; i++) {
		const vb_case *c = &s->cases[i];
		rv |= put_str(b, c->id) | put_i64(b, c->open_us) | put_str(b, c->open_event) |
		    put_i64(b, c->first_open_us) | put_i64(b, c->resolved_us) |
		    put_str(b, c->resolved_event);
	}
	rv |= put_i64(b, s->missed_us) | put_str(b, s->missed_event) |
	    put_str(b, s->missed_visit) | put_i64(b, s->completed_us);
	rv |= vb_buf_append_varint(b, s->ninvoices);
	for (size_t i = 0; i < s->ninvoices; i++) {
		const vb_invoice *v = &s->invoices[i];
		rv |= put_str(b, v->id) | put_i64(b, v->overdue_us) |
		    put_str(b, v->overdue_event) | put_i64(b, v->paid_us);
	}
	rv |= vb_buf_append_varint(b, s->nconsents);
	for (size_t i = 0; i < s->nconsents; i++) {
		const vb_consent *c = &s->consents[i];
		rv |= put_str(b, c->channel) | put_str(b, c->purpose) |
		    vb_buf_append_byte(b, (uint8_t)c->granted) | put_i64(b, c->at_us) |
		    put_str(b, c->event);
	}
	rv |= vb_buf_append_varint(b, s->nmessages);
	for (size_t i = 0; i < s->nmessages; i++) {
		const vb_message *m = &s->messages[i];
		rv |= put_i64(b, m->at_us) | put_str(b, m->channel) | put_str(b, m->purpose) |
		    put_str(b, m->event);
	}
	return rv ? VB_ENOMEM : VB_OK;
}

typedef struct {
	const uint8_t *p;
	size_t len, off;
	int bad;
} reader;

static int64_t
get_i64(reader *r)
{
	uint64_t u = 0;
	if (r->len - r->off < 8) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < 8; i++)
		u |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
	r->off += 8;
	return (int64_t)u;
}

static size_t
get_count(reader *r, size_t min_each)
{
	uint64_t n;
	size_t used = vb_varint_decode(r->p + r->off, r->len - r->off, &n);
	/* What follows the count must hold n items of at least min_each. */
	if (used == 0 || n > (r->len - r->off - used) / (min_each ? min_each : 1)) {
		r->bad = 1;
		return 0;
	}
	r->off += used;
	return (size_t)n;
}

static char *
get_str(reader *r)
{
	size_t n = get_count(r, 1);
	char *s;
	if (r->bad || (s = malloc(n + 1)) == NULL) {
		r->bad = 1;
		return NULL;
	}
	memcpy(s, r->p + r->off, n);
	s[n] = '\0';
	r->off += n;
	return s;
}

static uint8_t
get_byte(reader *r)
{
	if (r->off >= r->len) {
		r->bad = 1;
		return 0;
	}
	return r->p[r->off++];
}

int
vb_state_decode(const uint8_t *p, size_t len, vb_state *s)
{
	reader r = { p, len, 0, 0 };
	size_t n;

	memset(s, 0, sizeof(*s));
	if (get_byte(&r) != STATE_VERSION)
		return VB_ECORRUPT;
	s->max_us = get_i64(&r);
	n = get_count(&r, 20);
	if (!r.bad && n && (s->cases = calloc(n, sizeof(*s->cases))) == NULL)
		return VB_ENOMEM;
	for (size_t i = 0; i < n && !r.bad; i++, s->ncases++) {
		vb_case *c = &s->cases[i];
		c->id = get_str(&r);
		c->open_us = get_i64(&r);
		c->open_event = get_str(&r);
		c->first_open_us = get_i64(&r);
		c->resolved_us = get_i64(&r);
		c->resolved_event = get_str(&r);
	}
	s->missed_us = get_i64(&r);
	s->missed_event = get_str(&r);
	s->missed_visit = get_str(&r);
	s->completed_us = get_i64(&r);
	n = get_count(&r, 18);
	if (!r.bad && n && (s->invoices = calloc(n, sizeof(*s->invoices))) == NULL)
		return VB_ENOMEM;
	for (size_t i = 0; i < n && !r.bad; i++, s->ninvoices++) {
		vb_invoice *v = &s->invoices[i];
		v->id = get_str(&r);
		v->overdue_us = get_i64(&r);
		v->overdue_event = get_str(&r);
		v->paid_us = get_i64(&r);
	}
	n = get_count(&r, 12);
	if (!r.bad && n && (s->consents = calloc(n, sizeof(*s->consents))) == NULL)
		return VB_ENOMEM;
	for (size_t i = 0; i < n && !r.bad; i++, s->nconsents++) {
		vb_consent *c = &s->consents[i];
		c->channel = get_str(&r);
		c->purpose = get_str(&r);
		c->granted = get_byte(&r);
		c->at_us = get_i64(&r);
		c->event = get_str(&r);
	}
	n = get_count(&r, 11);
	if (!r.bad && n && (s->messages = calloc(n, sizeof(*s->messages))) == NULL)
		return VB_ENOMEM;
	for (size_t i = 0; i < n && !r.bad; i++, s->nmessages++) {
		vb_message *m = &s->messages[i];
		m->at_us = get_i64(&r);
		m->channel = get_str(&r);
		m->purpose = get_str(&r);
		m->event = get_str(&r);
	}
	if (r.bad || r.off != r.len)
		return VB_ECORRUPT;
	return VB_OK;
}

/* ---- JSON view ---- */

static int
jstr(vb_buf *b, const char *s)
{
	return vb_json_escape(b, s ? s : "");
}

static int
jtime(vb_buf *b, int64_t us)
{
	char t[VB_TIME_BUFSZ];
	if (us == 0)
		return vb_buf_append_str(b, "null");
	return jstr(b, vb_time_format(us, t));
}

int
vb_state_to_json(const vb_state *s, vb_buf *b)
{
	int rv = vb_buf_append_str(b, "{\"complaints\":[");
	for (size_t i = 0; i < s->ncases; i++) {
		const vb_case *c = &s->cases[i];
		int open = c->open_event && c->open_event[0] && c->open_us > c->resolved_us;
		rv |= vb_buf_append_str(b, i ? ",{\"case\":" : "{\"case\":");
		rv |= jstr(b, c->id);
		rv |= vb_buf_append_str(b, open ? ",\"status\":\"open\"" : ",\"status\":\"resolved\"");
		rv |= vb_buf_append_str(b, ",\"opened\":");
		rv |= jtime(b, c->open_us);
		rv |= vb_buf_append_str(b, ",\"opened_event\":");
		rv |= jstr(b, c->open_event);
		rv |= vb_buf_append_str(b, ",\"resolved\":");
		rv |= jtime(b, c->resolved_us);
		rv |= vb_buf_append_str(b, ",\"resolved_event\":");
		rv |= jstr(b, c->resolved_event);
		rv |= vb_buf_append_byte(b, '}');
	}
	rv |= vb_buf_append_str(b, "],\"visits\":{\"last_missed\":");
	rv |= jtime(b, s->missed_us);
	rv |= vb_buf_append_str(b, ",\"missed_visit\":");
	rv |= jstr(b, s->missed_visit);
	rv |= vb_buf_append_str(b, ",\"missed_event\":");
	rv |= jstr(b, s->missed_event);
	rv |= vb_buf_append_str(b, ",\"last_completed\":");
	rv |= jtime(b, s->completed_us);
	rv |= vb_buf_append_str(b, "},\"invoices\":[");
	for (size_t i = 0; i < s->ninvoices; i++) {
		const vb_invoice *v = &s->invoices[i];
		rv |= vb_buf_append_str(b, i ? ",{\"invoice\":" : "{\"invoice\":");
		rv |= jstr(b, v->id);
		rv |= vb_buf_append_str(b, ",\"overdue\":");
		rv |= jtime(b, v->overdue_us);
		rv |= vb_buf_append_str(b, ",\"overdue_event\":");
		rv |= jstr(b, v->overdue_event);
		rv |= vb_buf_append_str(b, ",\"paid\":");
		rv |= jtime(b, v->paid_us);
		rv |= vb_buf_append_byte(b, '}');
	}
	rv |= vb_buf_append_str(b, "],\"consent\":[");
	for (size_t i = 0; i < s->nconsents; i++) {
		const vb_consent *c = &s->consents[i];
		rv |= vb_buf_append_str(b, i ? ",{\"channel\":" : "{\"channel\":");
		rv |= jstr(b, c->channel);
		rv |= vb_buf_append_str(b, ",\"purpose\":");
		rv |= jstr(b, c->purpose[0] ? c->purpose : "*");
		rv |= vb_buf_append_str(b, c->granted ? ",\"consent\":\"granted\",\"at\":" :
		    ",\"consent\":\"withdrawn\",\"at\":");
		rv |= jtime(b, c->at_us);
		rv |= vb_buf_append_str(b, ",\"event\":");
		rv |= jstr(b, c->event);
		rv |= vb_buf_append_byte(b, '}');
	}
	rv |= vb_buf_append_str(b, "],\"messages\":[");
	for (size_t i = 0; i < s->nmessages; i++) {
		const vb_message *m = &s->messages[i];
		rv |= vb_buf_append_str(b, i ? ",{\"at\":" : "{\"at\":");
		rv |= jtime(b, m->at_us);
		rv |= vb_buf_append_str(b, ",\"channel\":");
		rv |= jstr(b, m->channel);
		rv |= vb_buf_append_str(b, ",\"purpose\":");
		rv |= jstr(b, m->purpose);
		rv |= vb_buf_append_str(b, ",\"event\":");
		rv |= jstr(b, m->event);
		rv |= vb_buf_append_byte(b, '}');
	}
	rv |= vb_buf_append_str(b, "]}");
	return rv ? VB_ENOMEM : VB_OK;
}
