/* vb_validate: the rules of the contract for one event, in one place.
 * The broker applies them to everything it is asked to store; clients apply
 * them first to report errors with their file and line. */
#ifndef VB_VALIDATE_H
#define VB_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "vb_event.h"

/* Check ev against the contract: required fields, known source and type, the
 * source may publish the type, RFC 3339 times, id and customer lengths,
 * UTF-8, the payload's required fields and enumerations, the encoded size.
 * Returns 0, or VB_EINVAL with "field: what is wrong" in err.  On success
 * *time_us (may be NULL) is the event's time. */
int vb_event_validate(const vb_event *ev, int64_t *time_us, char *err,
    size_t errlen);

/* Whether s is a purpose or channel of the contract. */
int vb_purpose_known(const char *s);
int vb_channel_known(const char *s);

/* Whether len bytes at s are well-formed UTF-8 (no overlongs, no surrogates). */
int vb_utf8_valid(const char *s, size_t len);

/* The same, and no NUL among them: the whole of a protobuf string that a C
 * string can hold.  One pass, for a decoder that must check both. */
int vb_utf8_text(const char *s, size_t len);

/* Replace, in place, each byte of s that does not belong to a well-formed
 * UTF-8 sequence by '?': for messages that quote what they were sent. */
void vb_utf8_scrub(char *s);

#endif
