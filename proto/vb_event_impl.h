/* Private to proto/: the layout of vb_event, shared by vb_event.c and
 * vb_wire.c so that a decoded request can lend its events without copying. */
#ifndef VB_EVENT_IMPL_H
#define VB_EVENT_IMPL_H

#include "vb_arena.h"
#include "voicebus/v1/event.pb-c.h"

struct vb_event {
	Voicebus__V1__Event *pb;
	int owned; /* 1: vb_event_free frees pb (and the wrapper) */
	/* vb_event_pb_size's answer, 0 until asked: the broker checks the
	 * size and then encodes, and each is a walk of the whole message.
	 * Whatever changes pb clears it. */
	size_t pb_size;
	/* Set by vb_wire on an event lent by a request whose bytes of it are
	 * exactly its canonical encoding (vb_event_pb_is_canonical): the
	 * encoder copies them instead of packing.  They point into the
	 * request's bytes.  NULL otherwise; whatever changes pb clears it.
	 * Its strings are then known to be UTF-8 (vb_event_validate reads
	 * it so). */
	const uint8_t *canon;
	/* The answer of the walk for unknown fields (as check_form reports
	 * it), when unknown_known: decoding a request walks once for both
	 * the request's field-zero check and check_form. */
	int unknown;
	int unknown_known;
};

/* Decode p, when it is an event's canonical encoding
 * (vb_event_pb_is_canonical), into what protobuf-c's unpack would make of
 * it, in one walk: the event and its sub-messages live in a, its strings
 * in w, a writable copy of p of len + 1 bytes (each string is ended in
 * place by a NUL over the byte after it).  NULL when p is not canonical
 * or a ran out: unpack it then (w's bytes are then changed). */
Voicebus__V1__Event *vb_event_pb_decode_canonical(const uint8_t *p, size_t len,
    uint8_t *w, vb_arena *a);

/* Whether m holds a field numbered 0 anywhere (not protobuf: refused). */
int vb_pb_has_field_zero(const ProtobufCMessage *m);

/* Walk ev (lent by a request) once for unknown fields, keep what
 * vb_event_check_form needs, and return whether a field numbered 0 is
 * anywhere in it.  An event with canon set has none: nothing is walked. */
int vb_event_note_unknown(vb_event *ev);

#endif
