/* vb_ad_event: building the contract's events from what a row says.
 *
 * An event is assembled as the contract's JSON object (with jansson), then
 * parsed by vb_event_from_json and checked by vb_event_validate: the
 * adapters make events exactly the way `voicebus publish` reads them, and
 * a field the schema gains needs no code here. */
#ifndef VB_AD_EVENT_H
#define VB_AD_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "vb_event.h"

typedef struct vb_ad_ev vb_ad_ev;

/* Start an event.  Strings are copied; they must be UTF-8 (VB_EINVAL
 * otherwise).  time_us is printed as RFC 3339 UTC.  *out: vb_ad_ev_free
 * (or handed to vb_ad_ev_build). */
int vb_ad_ev_new(const char *source, const char *type, const char *id,
    const char *customer, int64_t time_us, vb_ad_ev **out);

/* Set data.<field> (a string; NULL or "" leaves it unset), an integer, or
 * attributes.<name> (NULL or "" leaves it unset).  Copied.  0, VB_EINVAL
 * (not UTF-8) or VB_ENOMEM. */
int vb_ad_ev_str(vb_ad_ev *b, const char *field, const char *value);
int vb_ad_ev_time(vb_ad_ev *b, const char *field, int64_t us);
int vb_ad_ev_int(vb_ad_ev *b, const char *field, int64_t v);
int vb_ad_ev_attr(vb_ad_ev *b, const char *name, const char *value);

/* The event's id, for messages.  Owned by b. */
const char *vb_ad_ev_id(const vb_ad_ev *b);

/* Make the event and check it against the contract.  On success *out is a
 * new event (vb_event_free).  On VB_EINVAL err holds "field: what is
 * wrong".  b is left as it was: vb_ad_ev_free it in every case. */
int vb_ad_ev_build(const vb_ad_ev *b, vb_event **out, char *err, size_t errlen);

/* Accepts NULL. */
void vb_ad_ev_free(vb_ad_ev *b);

#endif
