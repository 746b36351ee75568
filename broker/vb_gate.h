/* vb_gate: the contact rules of the contract and the decision they give:
 * may this customer get this purpose on this channel at this time?
 *
 * A decision lists every reason that applies, not only the first: the rule,
 * the event that causes it, since when, and until when if that is known.
 * Reasons never carry complaint text: the state they come from has none. */
#ifndef VB_GATE_H
#define VB_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "vb_buf.h"
#include "vb_state.h"

/* Purposes and channels of the contract, by index. */
enum { VB_P_SERVICE, VB_P_UPSELL, VB_P_CROSS_SELL, VB_P_PROMOTION, VB_P_SURVEY, VB_NPURPOSES };
enum { VB_C_EMAIL, VB_C_SMS, VB_C_PHONE, VB_C_POST, VB_C_PUSH, VB_NCHANNELS };

extern const char *const vb_purpose_names[VB_NPURPOSES];
extern const char *const vb_channel_names[VB_NCHANNELS];

/* Index of a name, or -1. */
int vb_purpose_index(const char *s);
int vb_channel_index(const char *s);

typedef enum {
	VB_RULE_OPEN_COMPLAINT,
	VB_RULE_COOLOFF,
	VB_RULE_MISSED_VISIT,
	VB_RULE_OVERDUE_INVOICE,
	VB_RULE_NO_CONSENT,
	VB_RULE_FREQUENCY_CAP,
	VB_NRULES,
} vb_rule_id;

extern const char *const vb_rule_names[VB_NRULES];

typedef struct vb_rules {
	struct {
		int enabled;
		unsigned blocks;      /* bit i: purpose i (never service) */
	} rule[VB_NRULES];
	int64_t cooloff_us;       /* complaint-cooloff: after a resolution */
	int64_t cap_window_us;    /* frequency-cap: the rolling window ... */
	int64_t cap_max;          /* ... and how many messages it allows */
	int64_t cap_per_day;      /* ... and per channel per UTC day */
} vb_rules;

/* The contract's defaults. */
void vb_rules_defaults(vb_rules *r);

/* Set option name of rule ("complaint-cooloff", "duration", "21d") from
 * config text.  0, or VB_EINVAL with "what is wrong" in err. */
int vb_rules_set(vb_rules *r, const char *rule, const char *name,
    const char *value, char *err, size_t errlen);

/* How far back before the latest message the state must keep messages. */
int64_t vb_rules_keep_us(const vb_rules *r);

#define VB_REASONS_MAX 24

/* event points into the state the decision was made from. */
typedef struct vb_reason {
	vb_rule_id rule;
	const char *event;
	int64_t since_us;
	int64_t until_us; /* 0: not known (until something happens) */
} vb_reason;

typedef struct vb_decision {
	int allow;
	size_t nreasons;
	size_t dropped;   /* reasons beyond VB_REASONS_MAX, not listed */
	vb_reason reasons[VB_REASONS_MAX];
} vb_decision;

/* Decide for purpose and channel (indexes) at at_us from s, which must hold
 * only facts at or before at_us (see vb_gate_needs_log). */
void vb_gate_decide(const vb_rules *r, const vb_state *s, int purpose,
    int channel, int64_t at_us, vb_decision *out);

/* Whether s holds a fact after at_us: then the decision at at_us must be
 * folded from the customer's log instead, up to at_us. */
int vb_gate_needs_log(const vb_state *s, int64_t at_us);

/* Append the JSON array of what is blocked at at_us, purpose by channel,
 * each with its reasons: [{"purpose":..,"channel":..,"reasons":[..]}].
 * Deterministic, so two results compare as bytes.  *next_us gets the
 * earliest known "until" after at_us (0 if none): when it may change by the
 * clock alone. */
int vb_gate_blocked_json(const vb_rules *r, const vb_state *s, int64_t at_us,
    vb_buf *out, int64_t *next_us);

/* Append one decision's reasons as a JSON array. */
int vb_gate_reasons_json(const vb_decision *d, vb_buf *out);

#endif
