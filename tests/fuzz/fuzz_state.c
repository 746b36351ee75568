/* Fuzz target state: a customer's state as the store keeps it in LMDB
 * (broker/vb_state.h), through everything that reads it: decode, print as
 * JSON (voicebus customer), fold one more fact of each kind into it (the
 * writer), and the gate's decisions on it.
 *
 * Properties: encoding is stable: decode(encode(decode(x))) encodes to the
 * same bytes as encode(decode(x)); what is printed (state, reasons, the
 * blocked list) is JSON when the state's strings are UTF-8, as the
 * broker's are. */
#include <string.h>

#include "vb_fuzz.h"
#include "vb_gate.h"
#include "vb_state.h"
#include "vb_validate.h"

/* The broker only makes times that vb_time_parse can read (years 1 to
 * 9999): the gate's arithmetic on them is checked within that range. */
#define YEAR1_US (-62135596800LL * 1000000)
#define YEAR9999_US (253402300799LL * 1000000)

static int
plausible(int64_t us)
{
	return us == 0 || (us >= YEAR1_US && us <= YEAR9999_US);
}

static int
times_plausible(const vb_state *s)
{
	int ok = plausible(s->max_us) && plausible(s->missed_us) &&
	    plausible(s->completed_us);
	for (size_t i = 0; i < s->ncases; i++)
		ok &= plausible(s->cases[i].open_us) &&
		    plausible(s->cases[i].first_open_us) &&
		    plausible(s->cases[i].resolved_us);
	for (size_t i = 0; i < s->ninvoices; i++)
		ok &= plausible(s->invoices[i].overdue_us) &&
		    plausible(s->invoices[i].paid_us);
	for (size_t i = 0; i < s->nconsents; i++)
		ok &= plausible(s->consents[i].at_us);
	for (size_t i = 0; i < s->nmessages; i++)
		ok &= plausible(s->messages[i].at_us);
	return ok;
}

static int
utf8(const char *s)
{
	return s == NULL || vb_utf8_valid(s, strlen(s));
}

/* The states the broker makes hold strings of validated events: UTF-8. */
static int
strings_utf8(const vb_state *s)
{
	int ok = utf8(s->missed_event) && utf8(s->missed_visit);
	for (size_t i = 0; i < s->ncases; i++)
		ok &= utf8(s->cases[i].id) && utf8(s->cases[i].open_event) &&
		    utf8(s->cases[i].resolved_event);
	for (size_t i = 0; i < s->ninvoices; i++)
		ok &= utf8(s->invoices[i].id) &&
		    utf8(s->invoices[i].overdue_event);
	for (size_t i = 0; i < s->nconsents; i++)
		ok &= utf8(s->consents[i].channel) &&
		    utf8(s->consents[i].purpose) && utf8(s->consents[i].event);
	for (size_t i = 0; i < s->nmessages; i++)
		ok &= utf8(s->messages[i].channel) &&
		    utf8(s->messages[i].purpose) && utf8(s->messages[i].event);
	return ok;
}

static void
decide_all(const vb_rules *rules, const vb_state *s, int64_t at_us, vb_buf *out)
{
	for (int p = 0; p < VB_NPURPOSES; p++) {
		for (int c = 0; c < VB_NCHANNELS; c++) {
			vb_decision d;
			vb_gate_decide(rules, s, p, c, at_us, &d);
			VB_FUZZ_CHECK(p != VB_P_SERVICE || d.allow,
			    "service blocked");
			VB_FUZZ_CHECK(d.allow ==
			        (d.nreasons == 0 && d.dropped == 0),
			    "allow %d with %zu reasons", d.allow, d.nreasons);
			size_t from = out->len;
			VB_FUZZ_CHECK(vb_gate_reasons_json(&d, out) == 0,
			    "reasons failed");
			VB_FUZZ_CHECK(!strings_utf8(s) ||
			        vb_fuzz_json_ok(out->data + from,
			            out->len - from),
			    "reasons are not JSON: %.*s",
			    (int)(out->len - from),
			    (const char *)out->data + from);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vb_state s, s2;
	vb_buf enc = { 0 }, enc2 = { 0 }, json = { 0 };
	vb_rules rules;
	int rv;

	vb_rules_defaults(&rules);
	rv = vb_state_decode(data, size, &s);
	if (rv != 0) {
		vb_state_free(&s); /* half-built: free it either way */
		return 0;
	}
	VB_FUZZ_CHECK(vb_state_to_json(&s, &json) == 0, "to_json failed");
	VB_FUZZ_CHECK(!strings_utf8(&s) || !times_plausible(&s) ||
	        vb_fuzz_json_ok(json.data, json.len),
	    "state JSON does not parse: %.*s", (int)json.len,
	    (const char *)json.data);
	VB_FUZZ_CHECK(vb_state_encode(&s, &enc) == 0, "encode failed");
	VB_FUZZ_CHECK(vb_state_decode(enc.data, enc.len, &s2) == 0,
	    "our own state does not decode");
	VB_FUZZ_CHECK(vb_state_encode(&s2, &enc2) == 0, "encode failed");
	VB_FUZZ_CHECK(enc.len == enc2.len &&
	        memcmp(enc.data, enc2.data, enc.len) == 0,
	    "encoding is not stable");
	vb_state_free(&s2);

	if (times_plausible(&s)) {
		int64_t t = s.max_us;
		int64_t next;
		vb_buf_reset(&json);
		decide_all(&rules, &s, t, &json);
		if (t < YEAR9999_US - 30LL * 86400 * 1000000)
			decide_all(&rules, &s, t + 15LL * 86400 * 1000000,
			    &json);
		(void)vb_gate_needs_log(&s, t);
		next = vb_state_next_after(&s,
		    t > YEAR1_US + 1000000 ? t - 1000000 : t);
		(void)next;
		vb_buf_reset(&json);
		if (vb_gate_blocked_json(&rules, &s, t, &json, &next) == 0 &&
		    json.len)
			VB_FUZZ_CHECK(!strings_utf8(&s) ||
			        vb_fuzz_json_ok(json.data, json.len),
			    "blocked list is not JSON: %.*s", (int)json.len,
			    (const char *)json.data);

		/* The writer folds the next event into a stored state. */
		static const vb_fact_kind kinds[] = { VB_FACT_COMPLAINT_OPEN,
			VB_FACT_COMPLAINT_RESOLVED, VB_FACT_VISIT_MISSED,
			VB_FACT_VISIT_COMPLETED, VB_FACT_INVOICE_OVERDUE,
			VB_FACT_INVOICE_PAID, VB_FACT_CONSENT_GRANTED,
			VB_FACT_CONSENT_WITHDRAWN, VB_FACT_MESSAGE_SENT };
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			const char *key = "K-1", *purpose = "";
			if (s.ncases && s.cases[0].id && k < 2)
				key = s.cases[0].id;
			else if (s.ninvoices && s.invoices[0].id &&
			    (k == 4 || k == 5))
				key = s.invoices[0].id;
			else if (s.nconsents && s.consents[0].channel &&
			    k >= 6) {
				key = s.consents[0].channel;
				purpose = s.consents[0].purpose
				    ? s.consents[0].purpose
				    : "";
			}
			vb_fact f = { kinds[k], t, "fuzz-event", key, purpose };
			VB_FUZZ_CHECK(vb_state_apply(&s, &f,
			                  vb_rules_keep_us(&rules)) == 0,
			    "apply failed");
		}
		vb_buf_reset(&json);
		decide_all(&rules, &s, t, &json);
		vb_buf_reset(&enc);
		VB_FUZZ_CHECK(vb_state_encode(&s, &enc) == 0, "encode failed");
		VB_FUZZ_CHECK(vb_state_decode(enc.data, enc.len, &s2) == 0,
		    "a folded state does not decode");
		vb_state_free(&s2);
	}
	vb_state_free(&s);
	vb_buf_free(&enc);
	vb_buf_free(&enc2);
	vb_buf_free(&json);
	return 0;
}
