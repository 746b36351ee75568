/* vb_state: what the gate knows of one customer, folded from events.
 *
 * An event becomes at most one fact (vb_fact_from_event); facts fold into a
 * vb_state with vb_state_apply.  The fold keeps, per complaint case, the
 * latest time it was opened or reopened and the latest time it was
 * resolved; the latest missed and completed visit; per invoice the latest
 * overdue and paid; per channel and purpose the latest consent; and the
 * marketing messages within the longest cap window of the latest one.
 * Every merge takes a maximum (ties broken by event id), so the state does
 * not depend on the order events arrive in: a complaint.resolved that
 * arrives before its complaint.opened still ends resolved. */
#ifndef VB_STATE_H
#define VB_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "vb_buf.h"
#include "vb_event.h"

typedef enum {
	VB_FACT_NONE = 0,
	VB_FACT_COMPLAINT_OPEN,     /* complaint.opened, complaint.reopened */
	VB_FACT_COMPLAINT_RESOLVED,
	VB_FACT_VISIT_MISSED,
	VB_FACT_VISIT_COMPLETED,
	VB_FACT_INVOICE_OVERDUE,
	VB_FACT_INVOICE_PAID,
	VB_FACT_CONSENT_GRANTED,
	VB_FACT_CONSENT_WITHDRAWN,
	VB_FACT_MESSAGE_SENT,
} vb_fact_kind;

/* Borrowed strings: they live as long as the event they came from. */
typedef struct vb_fact {
	vb_fact_kind kind;
	int64_t time_us;
	const char *event;   /* the event's id */
	const char *key;     /* case, visit or invoice; channel for consent and messages */
	const char *purpose; /* consent ("" = every purpose) and messages */
} vb_fact;

/* The fact ev holds for the gate (time_us is its parsed time), or
 * VB_ENOTFOUND when the gate has no use for it (orders, updates, ...). */
int vb_fact_from_event(const vb_event *ev, int64_t time_us, vb_fact *out);

typedef struct vb_case {
	char *id;
	int64_t open_us;       /* latest opened or reopened */
	char *open_event;
	int64_t first_open_us; /* earliest opened */
	int64_t resolved_us;   /* latest resolved, 0 if never */
	char *resolved_event;
} vb_case;

typedef struct vb_invoice {
	char *id;
	int64_t overdue_us;
	char *overdue_event;
	int64_t paid_us;
} vb_invoice;

typedef struct vb_consent {
	char *channel;
	char *purpose;         /* "" = every purpose */
	int granted;
	int64_t at_us;
	char *event;
} vb_consent;

typedef struct vb_message {
	int64_t at_us;
	char *channel;
	char *purpose;
	char *event;
} vb_message;

/* Owns every string and array in it.  A zeroed vb_state is empty. */
typedef struct vb_state {
	vb_case *cases;
	size_t ncases;
	int64_t missed_us;     /* latest missed visit */
	char *missed_event;
	char *missed_visit;
	int64_t completed_us;  /* latest completed visit */
	vb_invoice *invoices;
	size_t ninvoices;
	vb_consent *consents;
	size_t nconsents;
	vb_message *messages;  /* sorted by time */
	size_t nmessages;
	int64_t max_us;        /* the latest fact's time */
} vb_state;

void vb_state_free(vb_state *s);

/* Fold f into s (strings copied).  Messages older than keep_us before the
 * latest message are dropped.  0 or VB_ENOMEM (s still valid). */
int vb_state_apply(vb_state *s, const vb_fact *f, int64_t keep_us);

/* The earliest fact time after at_us in s, or 0: when a state holding
 * facts dated in the future starts to mean something new.  (The state
 * keeps only the latest time of each kind: a fact it merged away is found
 * by folding the log.) */
int64_t vb_state_next_after(const vb_state *s, int64_t at_us);

/* Compact binary form, as stored in LMDB (versioned). */
int vb_state_encode(const vb_state *s, vb_buf *out);
/* Fill a zeroed *s from p; VB_ECORRUPT on bad bytes.  Free with
 * vb_state_free either way. */
int vb_state_decode(const uint8_t *p, size_t len, vb_state *s);

/* The state as a JSON object, for `voicebus customer`: cases, visits,
 * invoices, consent and recent messages; no complaint text (the state has
 * none). */
int vb_state_to_json(const vb_state *s, vb_buf *out);

#endif
