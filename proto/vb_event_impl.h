/* Private to proto/: the layout of vb_event, shared by vb_event.c and
 * vb_wire.c so that a decoded request can lend its events without copying. */
#ifndef VB_EVENT_IMPL_H
#define VB_EVENT_IMPL_H

#include "voicebus/v1/event.pb-c.h"

struct vb_event {
	Voicebus__V1__Event *pb;
	int owned; /* 1: vb_event_free frees pb (and the wrapper) */
	/* vb_event_pb_size's answer, 0 until asked: the broker checks the
	 * size and then encodes, and each is a walk of the whole message.
	 * Whatever changes pb clears it. */
	size_t pb_size;
};

/* Whether m holds a field numbered 0 anywhere (not protobuf: refused). */
int vb_pb_has_field_zero(const ProtobufCMessage *m);

#endif
