/* vb_event: one voicebus event, and its two forms: protobuf bytes (the wire
 * and storage format, voicebus.v1.Event) and the contract's JSON line.
 *
 * This module and vb_wire are the only ones that see the generated
 * protobuf-c code; everyone else holds an opaque vb_event.  The payload
 * ("data") is handled through the protobuf-c descriptors, so the JSON keys are
 * exactly the .proto field names and a field added to the schema needs no
 * code here. */
#ifndef VB_EVENT_H
#define VB_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "vb_buf.h"

typedef struct vb_event vb_event;

/* Limits of the contract. */
#define VB_ID_MAX 256
#define VB_CUSTOMER_MAX 128
#define VB_EVENT_MAX_BYTES 65536
#define VB_ERRMSG_MAX 256

/* Parse one JSON object (len bytes, need not be NUL-terminated).  On
 * success *out is a new event the caller frees with vb_event_free.  On
 * failure returns VB_EINVAL (or VB_ENOMEM) and writes "field: what is wrong"
 * into err (errlen bytes, may be 0).  Only the form is checked here; the
 * rules of the contract are vb_event_validate's. */
int vb_event_from_json(const char *text, size_t len, vb_event **out,
    char *err, size_t errlen);

/* Decode protobuf bytes (copied; p may be freed after).  *out: caller frees. */
int vb_event_from_pb(const uint8_t *p, size_t len, vb_event **out);

/* Append the protobuf encoding of ev to out. */
int vb_event_to_pb(const vb_event *ev, vb_buf *out);
size_t vb_event_pb_size(const vb_event *ev);

/* Append ev as one JSON object (no newline) to out. */
int vb_event_to_json(const vb_event *ev, vb_buf *out);

/* Convert stored protobuf bytes straight to a JSON line (appended, no
 * newline).  Returns VB_ECORRUPT if p does not decode. */
int vb_event_pb_to_json(const uint8_t *p, size_t len, vb_buf *out);

/* Accessors: strings are owned by ev and live as long as it; "" when unset. */
const char *vb_event_id(const vb_event *ev);
const char *vb_event_source(const vb_event *ev);
const char *vb_event_type(const vb_event *ev);
const char *vb_event_customer(const vb_event *ev);
const char *vb_event_time(const vb_event *ev);
const char *vb_event_recorded(const vb_event *ev);
uint64_t vb_event_seq(const vb_event *ev);
int vb_event_is_redacted(const vb_event *ev);

/* Make ev (owned: from_json or from_pb) the copy a marketing client may
 * read: payload fields of free text and money (summary, resolution,
 * reason, amount) emptied, attributes dropped, redacted set. */
int vb_event_redact(vb_event *ev);

/* The redacted form of encoded bytes, appended to out.  VB_ECORRUPT if p
 * does not decode. */
int vb_event_pb_redact(const uint8_t *p, size_t len, vb_buf *out);

/* The type named by the payload that is set ("complaint.opened"), or NULL
 * when there is none.  Static storage. */
const char *vb_event_payload_type(const vb_event *ev);

/* A string field of the payload ("case", "channel"), or NULL when the payload
 * has no such field.  Owned by ev. */
const char *vb_event_data_str(const vb_event *ev, const char *field);

/* Call fn for every string of ev (top-level, payload, attributes); its name
 * is prefix followed by field ("data." "summary", "attributes." key), kept
 * apart so that a walk that only reads values formats nothing.  Stops at the
 * first non-zero return and returns it. */
int vb_event_each_string(const vb_event *ev,
    int (*fn)(void *arg, const char *prefix, const char *field, const char *value),
    void *arg);

/* The same for the payload's strings alone ("data." "case"). */
int vb_event_each_data_string(const vb_event *ev,
    int (*fn)(void *arg, const char *prefix, const char *field, const char *value),
    void *arg);

/* What protobuf allows but the broker must not store: fields the schema
 * does not know (they would be stored and could not be read back the same)
 * and an attribute key given twice.  0, or VB_EINVAL with the reason. */
int vb_event_check_form(const vb_event *ev, char *err, size_t errlen);

/* Set what the broker adds, on an event this caller owns (from_json or
 * from_pb; VB_EINVAL on one borrowed from a request).  recorded is copied. */
void vb_event_set_seq(vb_event *ev, uint64_t seq);
int vb_event_set_recorded(vb_event *ev, const char *recorded);

/* Append the encoding of ev without seq and recorded: the form the broker
 * stores before it adds its own (see vb_event_pb_tail). */
int vb_event_to_pb_canonical(const vb_event *ev, vb_buf *out);

/* Whether p is byte for byte what vb_event_to_pb_canonical writes for the
 * event p decodes to: every field known to the schema, in field order,
 * each once (a repeated message's elements together), no default value
 * written, no seq or recorded, minimal varints, every string UTF-8
 * without a NUL, at most one payload.  A cheap scan, stricter than it
 * must be: where in doubt it says 0 and the event is packed again. */
int vb_event_pb_is_canonical(const uint8_t *p, size_t len);

/* Whether the payload schema knows type ("visit.missed"). */
int vb_event_type_known(const char *type);

/* Accepts NULL. */
void vb_event_free(vb_event *ev);

/* Append s as a JSON string (quoted, escaped) to b. */
int vb_json_escape(vb_buf *b, const char *s);

/* A view of the top-level fields of encoded bytes, without allocating.
 * Pointers point into the bytes given; strings are NOT NUL-terminated. */
typedef struct vb_event_peek {
	const char *id, *type, *customer, *time;
	size_t id_len, type_len, customer_len, time_len;
	uint64_t seq;
} vb_event_peek;

/* Fill pk from p.  Returns 0 or VB_ECORRUPT. */
int vb_event_peek_pb(const uint8_t *p, size_t len, vb_event_peek *pk);
/* Only the seq of what vb_event_peek_pb would fill (0 or VB_ECORRUPT just
 * as it), quicker. */
int vb_event_peek_seq(const uint8_t *p, size_t len, uint64_t *seq);

/* The type (field 3) of encoded bytes, for the fan-out's topic: on bytes
 * the broker encoded (fields in order, each once) what vb_event_peek_pb
 * finds, read only up to it (the rest is not checked).  *type points into
 * p, NOT NUL-terminated ("" when there is none).  0 or VB_ECORRUPT. */
int vb_event_peek_type(const uint8_t *p, size_t len, const char **type,
    size_t *type_len);

/* Append the encoding of seq and recorded as fields 6 and 7: protobuf merges
 * concatenated messages, so pb || tail decodes as the event with them set. */
int vb_event_pb_tail(uint64_t seq, const char *recorded, vb_buf *out);

#endif
