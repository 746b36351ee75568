#include "vb_gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"
#include "vb_time.h"

const char *const vb_purpose_names[VB_NPURPOSES] = { "service", "upsell",
	"cross-sell", "promotion", "survey" };
const char *const vb_channel_names[VB_NCHANNELS] = { "email", "sms", "phone",
	"post", "push" };
const char *const vb_rule_names[VB_NRULES] = { "open-complaint",
	"complaint-cooloff", "missed-visit", "overdue-invoice", "no-consent",
	"frequency-cap" };

#define DAY_US (86400LL * 1000000)
#define ALL_BUT_SERVICE ((1u << VB_P_UPSELL) | (1u << VB_P_CROSS_SELL) | \
	(1u << VB_P_PROMOTION) | (1u << VB_P_SURVEY))
#define SELLING ((1u << VB_P_UPSELL) | (1u << VB_P_CROSS_SELL))

static int
index_of(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

int vb_purpose_index(const char *s) { return index_of(vb_purpose_names, VB_NPURPOSES, s); }
int vb_channel_index(const char *s) { return index_of(vb_channel_names, VB_NCHANNELS, s); }

void
vb_rules_defaults(vb_rules *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < VB_NRULES; i++)
		r->rule[i].enabled = 1;
	r->rule[VB_RULE_OPEN_COMPLAINT].blocks = ALL_BUT_SERVICE;
	r->rule[VB_RULE_COOLOFF].blocks = SELLING;
	r->rule[VB_RULE_MISSED_VISIT].blocks = ALL_BUT_SERVICE;
	r->rule[VB_RULE_OVERDUE_INVOICE].blocks = SELLING;
	r->rule[VB_RULE_NO_CONSENT].blocks = ALL_BUT_SERVICE;
	r->rule[VB_RULE_FREQUENCY_CAP].blocks = ALL_BUT_SERVICE;
	r->cooloff_us = 14 * DAY_US;
	r->cap_window_us = 7 * DAY_US;
	r->cap_max = 3;
	r->cap_per_day = 1;
}

static int
parse_blocks(const char *value, unsigned *out, char *err, size_t errlen)
{
	char buf[256], *save = NULL, *tok;
	unsigned m = 0;
	if (strlen(value) >= sizeof(buf)) {
		snprintf(err, errlen, "blocks: too long");
		return VB_EINVAL;
	}
	strcpy(buf, value);
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		int p = vb_purpose_index(tok);
		if (p < 0) {
			snprintf(err, errlen, "blocks: unknown purpose \"%.64s\"", tok);
			return VB_EINVAL;
		}
		if (p == VB_P_SERVICE) {
			snprintf(err, errlen, "blocks: service is never blocked by these rules");
			return VB_EINVAL;
		}
		m |= 1u << p;
	}
	*out = m;
	return VB_OK;
}

int
vb_rules_set(vb_rules *r, const char *rule, const char *name, const char *value,
    char *err, size_t errlen)
{
	int id = index_of(vb_rule_names, VB_NRULES, rule);
	int64_t v;

	if (id < 0) {
		snprintf(err, errlen, "[rule.%.64s]: unknown rule (open-complaint, complaint-cooloff, "
		    "missed-visit, overdue-invoice, no-consent, frequency-cap)", rule);
		return VB_EINVAL;
	}
	if (strcmp(name, "enabled") == 0) {
		if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "1") == 0)
			r->rule[id].enabled = 1;
		else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 || strcmp(value, "0") == 0)
			r->rule[id].enabled = 0;
		else {
			snprintf(err, errlen, "enabled: \"%.64s\" is not true or false", value);
			return VB_EINVAL;
		}
		return VB_OK;
	}
	if (strcmp(name, "blocks") == 0)
		return parse_blocks(value, &r->rule[id].blocks, err, errlen);
	if (id == VB_RULE_COOLOFF && strcmp(name, "duration") == 0) {
		if (vb_duration_parse(value, &v) != 0 || v <= 0) {
			snprintf(err, errlen, "duration: \"%.64s\" is not a duration such as 14d", value);
			return VB_EINVAL;
		}
		r->cooloff_us = v;
		return VB_OK;
	}
	if (id == VB_RULE_FREQUENCY_CAP && strcmp(name, "window") == 0) {
		if (vb_duration_parse(value, &v) != 0 || v <= 0) {
			snprintf(err, errlen, "window: \"%.64s\" is not a duration such as 7d", value);
			return VB_EINVAL;
		}
		r->cap_window_us = v;
		return VB_OK;
	}
	if (id == VB_RULE_FREQUENCY_CAP &&
	    (strcmp(name, "max") == 0 || strcmp(name, "per_channel_per_day") == 0)) {
		char *end;
		long long n = strtoll(value, &end, 10);
		if (end == value || *end || n < 0 || n > 1000) {
			snprintf(err, errlen, "%s: \"%.64s\" is not a count in [0, 1000]", name, value);
			return VB_EINVAL;
		}
		if (name[0] == 'm')
			r->cap_max = n;
		else
			r->cap_per_day = n;
		return VB_OK;
	}
	snprintf(err, errlen, "%.64s: not an option of rule %s", name, rule);
	return VB_EINVAL;
}

int64_t
vb_rules_keep_us(const vb_rules *r)
{
	/* The per-day cap needs the calendar day: at most a day back. */
	return r->cap_window_us > DAY_US ? r->cap_window_us : DAY_US;
}

static void
add_reason(vb_decision *d, vb_rule_id rule, const char *event, int64_t since,
    int64_t until)
{
	d->allow = 0;
	if (d->nreasons == VB_REASONS_MAX) {
		d->dropped++;
		return;
	}
	d->reasons[d->nreasons++] = (vb_reason){ rule, event ? event : "", since, until };
}

/* Decoded states hold "" where a fresh one holds NULL. */
static int
has(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static int
applies(const vb_rules *r, vb_rule_id id, int purpose)
{
	return r->rule[id].enabled && (r->rule[id].blocks & (1u << purpose));
}

static int64_t
day_start(int64_t us)
{
	int64_t d = us / DAY_US;
	if (us < 0 && us % DAY_US)
		d--;
	return d * DAY_US;
}

static void
frequency_cap(const vb_rules *r, const vb_state *s, int channel, int64_t at,
    vb_decision *d)
{
	const vb_message *in[1024];
	size_t n = 0, on_day = 0;
	const vb_message *last_today = NULL;
	int64_t today = day_start(at);

	for (size_t i = 0; i < s->nmessages; i++) {
		const vb_message *m = &s->messages[i];
		if (strcmp(m->purpose, "service") == 0 || m->at_us > at)
			continue;
		if (m->at_us > at - r->cap_window_us && n < sizeof(in) / sizeof(in[0]))
			in[n++] = m;
		if (m->at_us >= today && strcmp(m->channel, vb_channel_names[channel]) == 0) {
			on_day++;
			last_today = m;
		}
	}
	if (r->cap_max >= 0 && (int64_t)n >= r->cap_max && n > 0) {
		/* Messages are in time order: the window reopens when enough
		 * of the oldest have left it for one more to fit. */
		size_t k = n - (size_t)r->cap_max; /* index of the one that must leave */
		add_reason(d, VB_RULE_FREQUENCY_CAP, in[n - 1]->event, in[n - 1]->at_us,
		    in[k]->at_us + r->cap_window_us);
	} else if (r->cap_max == 0) {
		add_reason(d, VB_RULE_FREQUENCY_CAP, "", 0, 0);
	}
	if ((int64_t)on_day >= r->cap_per_day && last_today != NULL)
		add_reason(d, VB_RULE_FREQUENCY_CAP, last_today->event, last_today->at_us,
		    today + DAY_US);
	else if (r->cap_per_day == 0)
		add_reason(d, VB_RULE_FREQUENCY_CAP, "", 0, 0);
}

void
vb_gate_decide(const vb_rules *r, const vb_state *s, int purpose, int channel,
    int64_t at, vb_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->allow = 1;
	/* service: about something the customer already has. */
	if (purpose == VB_P_SERVICE)
		return;
	for (size_t i = 0; i < s->ncases; i++) {
		const vb_case *c = &s->cases[i];
		int open = has(c->open_event) && c->open_us > c->resolved_us;
		if (open && applies(r, VB_RULE_OPEN_COMPLAINT, purpose))
			add_reason(d, VB_RULE_OPEN_COMPLAINT, c->open_event, c->open_us, 0);
		if (!open && has(c->resolved_event) && applies(r, VB_RULE_COOLOFF, purpose) &&
		    at < c->resolved_us + r->cooloff_us)
			add_reason(d, VB_RULE_COOLOFF, c->resolved_event, c->resolved_us,
			    c->resolved_us + r->cooloff_us);
	}
	if (has(s->missed_event) && s->missed_us >= s->completed_us &&
	    applies(r, VB_RULE_MISSED_VISIT, purpose))
		add_reason(d, VB_RULE_MISSED_VISIT, s->missed_event, s->missed_us, 0);
	for (size_t i = 0; i < s->ninvoices; i++) {
		const vb_invoice *v = &s->invoices[i];
		if (has(v->overdue_event) && v->paid_us == 0 &&
		    applies(r, VB_RULE_OVERDUE_INVOICE, purpose))
			add_reason(d, VB_RULE_OVERDUE_INVOICE, v->overdue_event, v->overdue_us, 0);
	}
	if (applies(r, VB_RULE_NO_CONSENT, purpose)) {
		/* The latest word on this channel, for this purpose or for all. */
		const vb_consent *latest = NULL;
		for (size_t i = 0; i < s->nconsents; i++) {
			const vb_consent *c = &s->consents[i];
			if (strcmp(c->channel, vb_channel_names[channel]) != 0 ||
			    (c->purpose[0] && strcmp(c->purpose, vb_purpose_names[purpose]) != 0))
				continue;
			if (latest == NULL || c->at_us > latest->at_us ||
			    (c->at_us == latest->at_us && !c->granted))
				latest = c;
		}
		if (latest != NULL && !latest->granted)
			add_reason(d, VB_RULE_NO_CONSENT, latest->event, latest->at_us, 0);
	}
	if (applies(r, VB_RULE_FREQUENCY_CAP, purpose))
		frequency_cap(r, s, channel, at, d);
}

int
vb_gate_needs_log(const vb_state *s, int64_t at_us)
{
	return s->max_us > at_us;
}

static int
time_field(vb_buf *b, const char *key, int64_t us)
{
	char t[VB_TIME_BUFSZ];
	if (us == 0)
		return 0;
	return vb_buf_append_str(b, key) | vb_json_escape(b, vb_time_format(us, t));
}

int
vb_gate_reasons_json(const vb_decision *d, vb_buf *b)
{
	int rv = vb_buf_append_byte(b, '[');
	for (size_t i = 0; i < d->nreasons; i++) {
		const vb_reason *r = &d->reasons[i];
		rv |= vb_buf_append_str(b, i ? ",{\"rule\":" : "{\"rule\":");
		rv |= vb_json_escape(b, vb_rule_names[r->rule]);
		if (r->event[0]) {
			rv |= vb_buf_append_str(b, ",\"event\":");
			rv |= vb_json_escape(b, r->event);
		}
		rv |= time_field(b, ",\"since\":", r->since_us);
		rv |= time_field(b, ",\"until\":", r->until_us);
		rv |= vb_buf_append_byte(b, '}');
	}
	rv |= vb_buf_append_byte(b, ']');
	return rv ? VB_ENOMEM : VB_OK;
}

int
vb_gate_blocked_json(const vb_rules *r, const vb_state *s, int64_t at_us,
    vb_buf *b, int64_t *next_us)
{
	int rv = vb_buf_append_byte(b, '['), first = 1;
	*next_us = 0;
	for (int p = 0; p < VB_NPURPOSES; p++) {
		for (int c = 0; c < VB_NCHANNELS; c++) {
			vb_decision d;
			vb_gate_decide(r, s, p, c, at_us, &d);
			if (d.allow)
				continue;
			rv |= vb_buf_append_str(b, first ? "{\"purpose\":" : ",{\"purpose\":");
			first = 0;
			rv |= vb_json_escape(b, vb_purpose_names[p]);
			rv |= vb_buf_append_str(b, ",\"channel\":");
			rv |= vb_json_escape(b, vb_channel_names[c]);
			rv |= vb_buf_append_str(b, ",\"reasons\":");
			rv |= vb_gate_reasons_json(&d, b);
			rv |= vb_buf_append_byte(b, '}');
			for (size_t i = 0; i < d.nreasons; i++) {
				int64_t u = d.reasons[i].until_us;
				if (u > at_us && (*next_us == 0 || u < *next_us))
					*next_us = u;
			}
		}
	}
	rv |= vb_buf_append_byte(b, ']');
	return rv ? VB_ENOMEM : VB_OK;
}
