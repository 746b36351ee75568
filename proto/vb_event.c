/* vb_event: Event <-> protobuf bytes <-> JSON line.  See vb_event.h. */
#include "vb_event.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_arena.h"
#include "vb_error.h"
#include "vb_event_impl.h"
#include "vb_validate.h"

#define EVENT_DESC voicebus__v1__event__descriptor

static void
set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (errlen == 0)
		return;
	snprintf(err, errlen, fmt, a, b);
	/* What it quotes may be cut inside a character. */
	vb_utf8_scrub(err);
}

/* Payload field of the Event descriptor for a type ("visit.missed" ->
 * "visit_missed"), or NULL. */
static const ProtobufCFieldDescriptor *
payload_field_for_type(const char *type)
{
	char name[64];
	size_t n = strlen(type);
	/* Types are spelt with dots; "complaint_opened" is not one. */
	if (n == 0 || n >= sizeof(name) || strchr(type, '_') != NULL)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		name[i] = type[i] == '.' ? '_' : type[i];
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field_by_name(&EVENT_DESC, name);
	if (f == NULL || !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
	    f->type != PROTOBUF_C_TYPE_MESSAGE)
		return NULL;
	return f;
}

static const ProtobufCFieldDescriptor *
payload_field_set(const Voicebus__V1__Event *pb)
{
	if (pb->data_case == VOICEBUS__V1__EVENT__DATA__NOT_SET)
		return NULL;
	return protobuf_c_message_descriptor_get_field(&EVENT_DESC,
	    (unsigned)pb->data_case);
}

static ProtobufCMessage *
payload_msg(const Voicebus__V1__Event *pb, const ProtobufCFieldDescriptor **fd)
{
	const ProtobufCFieldDescriptor *f = payload_field_set(pb);
	if (f == NULL)
		return NULL;
	if (fd)
		*fd = f;
	return *(ProtobufCMessage **)((char *)pb + f->offset);
}

/* The type names, by payload field: a static table (building it from the
 * descriptor would need a lock), checked against the descriptor by the
 * unit tests.  len lets vb_event_type_known compare few of them. */
static const struct {
	Voicebus__V1__Event__DataCase c;
	const char *type;
	size_t len;
} payload_types[] = {
#define T(c, s) { VOICEBUS__V1__EVENT__DATA_##c, s, sizeof(s) - 1 }
	T(COMPLAINT_OPENED, "complaint.opened"),
	T(COMPLAINT_UPDATED, "complaint.updated"),
	T(COMPLAINT_RESOLVED, "complaint.resolved"),
	T(COMPLAINT_REOPENED, "complaint.reopened"),
	T(VISIT_SCHEDULED, "visit.scheduled"),
	T(VISIT_COMPLETED, "visit.completed"),
	T(VISIT_MISSED, "visit.missed"),
	T(VISIT_CANCELLED, "visit.cancelled"),
	T(ORDER_PLACED, "order.placed"),
	T(ORDER_RETURNED, "order.returned"),
	T(ORDER_CANCELLED, "order.cancelled"),
	T(INVOICE_ISSUED, "invoice.issued"),
	T(INVOICE_OVERDUE, "invoice.overdue"),
	T(INVOICE_PAID, "invoice.paid"),
	T(CONSENT_GRANTED, "consent.granted"),
	T(CONSENT_WITHDRAWN, "consent.withdrawn"),
	T(MESSAGE_SENT, "message.sent"),
	T(SUPPRESSION_CHANGED, "suppression.changed"),
#undef T
};

int
vb_event_type_known(const char *type)
{
	size_t n;
	if (type == NULL)
		return 0;
	/* The same answer as payload_field_for_type, without building the
	 * field name and searching the descriptor by it. */
	n = strlen(type);
	for (size_t i = 0; i < sizeof(payload_types) / sizeof(payload_types[0]); i++)
		if (payload_types[i].len == n && payload_types[i].type[0] == type[0] &&
		    memcmp(payload_types[i].type, type, n) == 0)
			return 1;
	return 0;
}

/* ---- JSON -> protobuf ---- */

static int
set_string(char **slot, const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		return VB_ENOMEM;
	if (*slot != NULL && *slot != protobuf_c_empty_string)
		free(*slot);
	*slot = d;
	return VB_OK;
}

/* Write x as a plain decimal ("0.00001", never "1e-05") with the fewest
 * significant digits that read back as the same double. */
static void
format_decimal(double x, char *buf, size_t len)
{
	int p, decimals, exp10;
	char tmp[64];

	if (x != x || x == HUGE_VAL || x == -HUGE_VAL) {
		snprintf(buf, len, "0");
		return;
	}
	for (p = 1; p < 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*g", p, x);
		if (strtod(tmp, NULL) == x)
			break;
	}
	exp10 = x == 0 ? 0 : (int)floor(log10(fabs(x)));
	decimals = p - 1 - exp10;
	if (decimals < 0)
		decimals = 0;
	if (decimals > 30)
		decimals = 30;
	snprintf(buf, len, "%.*f", decimals, x);
}

static int json_to_msg(ProtobufCMessage *m, json_t *obj, const char *path,
    const char *type, char *err, size_t errlen);

/* Bytes one element of a repeated field takes in its array. */
static size_t
elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_UINT64:
		return 8;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_UINT32:
		return 4;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return sizeof(void *);
	}
}

/* Convert one JSON value into the slot of field f (one element of it when
 * repeated).  path names the field in errors ("data.case"). */
static int
json_to_value(void *slot, const ProtobufCFieldDescriptor *f, json_t *v,
    const char *path, const char *type, char *err, size_t errlen)
{
	char num[64];

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		if (json_is_string(v))
			return set_string(slot, json_string_value(v));
		/* Amounts arrive as numbers from many exports: keep their text. */
		if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld",
			    (long long)json_integer_value(v));
			return set_string(slot, num);
		}
		if (json_is_real(v)) {
			format_decimal(json_real_value(v), num, sizeof(num));
			return set_string(slot, num);
		}
		set_err(err, errlen, "%s: must be a string", path, NULL);
		return VB_EINVAL;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
		if (!json_is_integer(v)) {
			set_err(err, errlen, "%s: must be an integer", path, NULL);
			return VB_EINVAL;
		}
		*(int64_t *)slot = (int64_t)json_integer_value(v);
		return VB_OK;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_UINT32:
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (f->type == PROTOBUF_C_TYPE_UINT32 && json_integer_value(v) > UINT32_MAX)) {
			set_err(err, errlen, "%s: must be a non-negative integer", path, NULL);
			return VB_EINVAL;
		}
		if (f->type == PROTOBUF_C_TYPE_UINT64)
			*(uint64_t *)slot = (uint64_t)json_integer_value(v);
		else
			*(uint32_t *)slot = (uint32_t)json_integer_value(v);
		return VB_OK;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
		if (!json_is_integer(v) || json_integer_value(v) > INT32_MAX ||
		    json_integer_value(v) < INT32_MIN) {
			set_err(err, errlen, "%s: must be a 32-bit integer", path, NULL);
			return VB_EINVAL;
		}
		*(int32_t *)slot = (int32_t)json_integer_value(v);
		return VB_OK;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v)) {
			set_err(err, errlen, "%s: must be true or false", path, NULL);
			return VB_EINVAL;
		}
		*(protobuf_c_boolean *)slot = json_is_true(v);
		return VB_OK;
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessageDescriptor *sd = f->descriptor;
		ProtobufCMessage *sub = malloc(sd->sizeof_message);
		if (sub == NULL)
			return VB_ENOMEM;
		sd->message_init(sub);
		*(ProtobufCMessage **)slot = sub;
		return json_to_msg(sub, v, path, type, err, errlen);
	}
	default:
		set_err(err, errlen, "%s: unsupported field type", path, NULL);
		return VB_EINVAL;
	}
}

/* Fill m from the JSON object obj, field by field through the descriptor. */
static int
json_to_msg(ProtobufCMessage *m, json_t *obj, const char *path, const char *type,
    char *err, size_t errlen)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *key;
	json_t *v;
	char sub[160];
	int rv;

	if (!json_is_object(obj)) {
		set_err(err, errlen, "%s: must be an object", path, NULL);
		return VB_EINVAL;
	}
	json_object_foreach(obj, key, v) {
		const ProtobufCFieldDescriptor *f =
		    protobuf_c_message_descriptor_get_field_by_name(d, key);
		snprintf(sub, sizeof(sub), "%s.%.64s", path, key);
		if (f == NULL) {
			set_err(err, errlen,
			    "%s: unknown field for %.64s (silo-specific fields go in attributes)",
			    sub, type);
			return VB_EINVAL;
		}
		if (json_is_null(v))
			continue;
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			if ((rv = json_to_value((char *)m + f->offset, f, v, sub, type, err,
			    errlen)) != 0)
				return rv;
			continue;
		}
		if (!json_is_array(v)) {
			set_err(err, errlen, "%s: must be an array", sub, NULL);
			return VB_EINVAL;
		}
		size_t n = json_array_size(v), es = elem_size(f->type);
		void *arr = calloc(n ? n : 1, es);
		if (arr == NULL)
			return VB_ENOMEM;
		*(void **)((char *)m + f->offset) = arr;
		for (size_t i = 0; i < n; i++) {
			char elem[200];
			snprintf(elem, sizeof(elem), "%s[%zu]", sub, i);
			/* Count first: a half-built array is freed element by
			 * element, and calloc made the rest NULL or zero. */
			*(size_t *)((char *)m + f->quantifier_offset) = i + 1;
			if ((rv = json_to_value((char *)arr + i * es, f,
			    json_array_get(v, i), elem, type, err, errlen)) != 0)
				return rv;
		}
	}
	return VB_OK;
}

static int
json_to_payload(Voicebus__V1__Event *pb, const char *type, json_t *data,
    char *err, size_t errlen)
{
	const ProtobufCFieldDescriptor *pf = payload_field_for_type(type);
	const ProtobufCMessageDescriptor *sd;
	ProtobufCMessage *sub;

	if (pf == NULL) {
		set_err(err, errlen, "type: unknown event type \"%.64s\"", type, NULL);
		return VB_EINVAL;
	}
	sd = pf->descriptor;
	sub = malloc(sd->sizeof_message);
	if (sub == NULL)
		return VB_ENOMEM;
	sd->message_init(sub);
	*(ProtobufCMessage **)((char *)pb + pf->offset) = sub;
	pb->data_case = (Voicebus__V1__Event__DataCase)pf->id;
	if (data == NULL || json_is_null(data))
		return VB_OK;
	return json_to_msg(sub, data, "data", type, err, errlen);
}

static int
json_to_attributes(Voicebus__V1__Event *pb, json_t *attrs, char *err,
    size_t errlen)
{
	const char *key;
	json_t *v;
	size_t n = json_object_size(attrs), i = 0;

	if (!json_is_object(attrs)) {
		set_err(err, errlen, "attributes: must be an object of strings", NULL, NULL);
		return VB_EINVAL;
	}
	if (n == 0)
		return VB_OK;
	pb->attributes = calloc(n, sizeof(*pb->attributes));
	if (pb->attributes == NULL)
		return VB_ENOMEM;
	json_object_foreach(attrs, key, v) {
		Voicebus__V1__Event__AttributesEntry *e;
		if (!json_is_string(v)) {
			set_err(err, errlen, "attributes.%.64s: must be a string", key, NULL);
			return VB_EINVAL;
		}
		e = malloc(sizeof(*e));
		if (e == NULL)
			return VB_ENOMEM;
		voicebus__v1__event__attributes_entry__init(e);
		pb->attributes[i] = e;
		pb->n_attributes = ++i;
		if (set_string(&e->key, key) != 0 ||
		    set_string(&e->value, json_string_value(v)) != 0)
			return VB_ENOMEM;
	}
	return VB_OK;
}

static vb_event *
event_wrap(Voicebus__V1__Event *pb)
{
	vb_event *ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return NULL;
	ev->pb = pb;
	ev->owned = 1;
	return ev;
}

int
vb_event_from_json(const char *text, size_t len, vb_event **out, char *err,
    size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
	} strs[] = {
		{ "id", offsetof(Voicebus__V1__Event, id) },
		{ "source", offsetof(Voicebus__V1__Event, source) },
		{ "type", offsetof(Voicebus__V1__Event, type) },
		{ "customer", offsetof(Voicebus__V1__Event, customer) },
		{ "time", offsetof(Voicebus__V1__Event, time) },
		{ "recorded", offsetof(Voicebus__V1__Event, recorded) },
	};
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	Voicebus__V1__Event *pb = NULL;
	vb_event *ev;
	int rv = VB_EINVAL;

	if (errlen)
		err[0] = '\0';
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		char col[32];
		snprintf(col, sizeof(col), "%d", jerr.column);
		set_err(err, errlen, "json: %.160s (column %s)", jerr.text, col);
		return VB_EINVAL;
	}
	if (!json_is_object(root)) {
		set_err(err, errlen, "json: a line must be one JSON object", NULL, NULL);
		goto fail;
	}
	if ((pb = malloc(sizeof(*pb))) == NULL) {
		rv = VB_ENOMEM;
		goto fail;
	}
	voicebus__v1__event__init(pb);
	json_object_foreach(root, key, v) {
		size_t i;
		for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
			if (strcmp(key, strs[i].name) == 0)
				break;
		if (i < sizeof(strs) / sizeof(strs[0])) {
			if (json_is_null(v))
				continue;
			if (!json_is_string(v)) {
				set_err(err, errlen, "%s: must be a string", key, NULL);
				goto fail;
			}
			if ((rv = set_string((char **)((char *)pb + strs[i].off),
			    json_string_value(v))) != 0)
				goto fail;
			rv = VB_EINVAL;
		} else if (strcmp(key, "redacted") == 0) {
			if (!json_is_boolean(v)) {
				set_err(err, errlen, "redacted: must be true or false", NULL, NULL);
				goto fail;
			}
			pb->redacted = json_is_true(v);
		} else if (strcmp(key, "seq") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0) {
				set_err(err, errlen, "seq: must be a non-negative integer", NULL, NULL);
				goto fail;
			}
			pb->seq = (uint64_t)json_integer_value(v);
		} else if (strcmp(key, "data") != 0 && strcmp(key, "attributes") != 0) {
			set_err(err, errlen, "%.64s: unknown field", key, NULL);
			goto fail;
		}
	}
	if (pb->type[0] == '\0') {
		set_err(err, errlen, "type: missing", NULL, NULL);
		goto fail;
	}
	if ((rv = json_to_payload(pb, pb->type, json_object_get(root, "data"), err,
	    errlen)) != 0)
		goto fail;
	if ((v = json_object_get(root, "attributes")) != NULL && !json_is_null(v) &&
	    (rv = json_to_attributes(pb, v, err, errlen)) != 0)
		goto fail;
	if ((ev = event_wrap(pb)) == NULL) {
		rv = VB_ENOMEM;
		goto fail;
	}
	json_decref(root);
	*out = ev;
	return VB_OK;
fail:
	if (rv == VB_ENOMEM)
		set_err(err, errlen, "out of memory", NULL, NULL);
	if (pb)
		protobuf_c_message_free_unpacked(&pb->base, NULL);
	json_decref(root);
	return rv;
}

/* ---- protobuf ---- */

int
vb_event_from_pb(const uint8_t *p, size_t len, vb_event **out)
{
	Voicebus__V1__Event *pb = voicebus__v1__event__unpack(NULL, len, p);
	vb_event *ev;
	if (pb == NULL)
		return VB_EPROTO;
	if (vb_pb_has_field_zero(&pb->base)) {
		voicebus__v1__event__free_unpacked(pb, NULL);
		return VB_EPROTO;
	}
	if ((ev = event_wrap(pb)) == NULL) {
		voicebus__v1__event__free_unpacked(pb, NULL);
		return VB_ENOMEM;
	}
	*out = ev;
	return VB_OK;
}

size_t
vb_event_pb_size(const vb_event *ev)
{
	if (ev->pb_size == 0)
		/* A cache, not a change of the event: ev is the caller's. */
		((vb_event *)ev)->pb_size = voicebus__v1__event__get_packed_size(ev->pb);
	return ev->pb_size;
}

static int
pack_sized(const Voicebus__V1__Event *pb, size_t n, vb_buf *out)
{
	int rv = vb_buf_reserve(out, n + 1);
	if (rv != 0)
		return rv;
	voicebus__v1__event__pack(pb, out->data + out->len);
	out->len += n;
	out->data[out->len] = 0;
	return VB_OK;
}

int
vb_event_to_pb(const vb_event *ev, vb_buf *out)
{
	return pack_sized(ev->pb, vb_event_pb_size(ev), out);
}

int
vb_event_pb_tail(uint64_t seq, const char *recorded, vb_buf *out)
{
	size_t rl = strlen(recorded);
	uint8_t *p;
	/* In place, the room reserved once: the writer adds this to every
	 * event it stores.  Two keys, two varints, the text and the NUL. */
	if (vb_buf_reserve(out, 2 + 10 + 10 + rl + 1) != 0)
		return VB_ENOMEM;
	p = out->data + out->len;
	*p++ = (6 << 3) | 0;
	p += vb_varint_put(p, seq);
	*p++ = (7 << 3) | 2;
	p += vb_varint_put(p, rl);
	memcpy(p, recorded, rl);
	out->len = (size_t)(p + rl - out->data);
	out->data[out->len] = 0;
	return VB_OK;
}

/* Most keys and lengths take one byte. */
#define varint(p, len, out) ((len) > 0 && (p)[0] < 0x80 ? \
	(*(out) = (p)[0], (size_t)1) : vb_varint_decode((p), (len), (out)))

/* The walk of vb_event_peek_pb; pk may be NULL (only the seq wanted), and
 * inlined with a NULL the string cases go away. */
static inline int
peek(const uint8_t *p, size_t len, vb_event_peek *pk, uint64_t *seq)
{
	size_t i = 0;
	*seq = 0;
	while (i < len) {
		uint64_t key, v;
		size_t n = varint(p + i, len - i, &key);
		if (n == 0)
			return VB_ECORRUPT;
		i += n;
		switch (key & 7) {
		case 0:
			if ((n = varint(p + i, len - i, &v)) == 0)
				return VB_ECORRUPT;
			i += n;
			if ((key >> 3) == 6)
				*seq = v;
			break;
		case 1:
			i += 8;
			break;
		case 5:
			i += 4;
			break;
		case 2:
			if ((n = varint(p + i, len - i, &v)) == 0 ||
			    v > len - i - n)
				return VB_ECORRUPT;
			i += n;
			if (pk != NULL) {
				switch (key >> 3) {
				case 1: pk->id = (const char *)p + i; pk->id_len = v; break;
				case 3: pk->type = (const char *)p + i; pk->type_len = v; break;
				case 4: pk->customer = (const char *)p + i; pk->customer_len = v; break;
				case 5: pk->time = (const char *)p + i; pk->time_len = v; break;
				default: break;
				}
			}
			i += v;
			break;
		default:
			return VB_ECORRUPT;
		}
	}
	return i == len ? VB_OK : VB_ECORRUPT;
}
#undef varint

int
vb_event_peek_pb(const uint8_t *p, size_t len, vb_event_peek *pk)
{
	memset(pk, 0, sizeof(*pk));
	return peek(p, len, pk, &pk->seq);
}

int
vb_event_peek_seq(const uint8_t *p, size_t len, uint64_t *seq)
{
	return peek(p, len, NULL, seq);
}

int
vb_event_peek_type(const uint8_t *p, size_t len, const char **type,
    size_t *type_len)
{
	size_t i = 0, n;
	uint64_t key, v;
	/* Only length-delimited fields come before the type in the schema;
	 * anything else is left to vb_event_peek_pb. */
	while (i < len) {
		if ((n = vb_varint_decode(p + i, len - i, &key)) == 0 || (key & 7) != 2)
			break;
		i += n;
		if ((n = vb_varint_decode(p + i, len - i, &v)) == 0 || v > len - i - n)
			return VB_ECORRUPT;
		i += n;
		if (key >> 3 == 3) {
			*type = (const char *)p + i;
			*type_len = (size_t)v;
			return VB_OK;
		}
		if (key >> 3 > 3)
			break;
		i += (size_t)v;
	}
	vb_event_peek pk;
	if (vb_event_peek_pb(p, len, &pk) != 0)
		return VB_ECORRUPT;
	*type = pk.type ? pk.type : "";
	*type_len = pk.type_len;
	return VB_OK;
}

/* A varint as protobuf-c writes one: at most ten bytes, no trailing zero
 * byte (it would decode to the same value), and a tenth byte of 1 (the
 * reader keeps only its low bit).  Its length, or 0. */
static size_t
canon_varint(const uint8_t *p, size_t len, uint64_t *v)
{
	size_t n;
	/* Tags and short lengths: one byte. */
	if (len > 0 && p[0] < 0x80) {
		*v = p[0];
		return 1;
	}
	n = vb_varint_decode(p, len, v);
	if (n == 0 || n > 10 || (n > 1 && p[n - 1] == 0) ||
	    (n == 10 && p[9] != 1))
		return 0;
	return n;
}

/* How many fields with this key follow one another from p[i]: the
 * elements of a repeated message, which the writer puts side by side. */
static size_t
count_run(const uint8_t *p, size_t len, size_t i, uint64_t key)
{
	size_t n, count = 0;
	uint64_t k, v;
	while (i < len) {
		if ((n = canon_varint(p + i, len - i, &k)) == 0 || k != key)
			break;
		i += n;
		if ((n = canon_varint(p + i, len - i, &v)) == 0 || v > len - i - n)
			break;
		i += n + (size_t)v;
		count++;
	}
	return count;
}

/* Put sub, decoded, in field f of out: the elem-th element of a repeated
 * field, then followed by more of them. */
static int
place_msg(void *out, const ProtobufCFieldDescriptor *f, void *sub, size_t elem,
    size_t more, vb_arena *a)
{
	void **slot = (void **)((char *)out + f->offset);
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t *count = (size_t *)((char *)out + f->quantifier_offset);
		void ***arr = (void ***)slot;
		if (elem == 0) {
			*count = 1 + more;
			if ((*arr = vb_arena_alloc(a, *count * sizeof(void *))) == NULL)
				return 0;
		}
		if (elem >= *count)
			return 0;
		(*arr)[elem] = sub;
		return 1;
	}
	*slot = sub;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		*(uint32_t *)((char *)out + f->quantifier_offset) = f->id;
	return 1;
}

/* Whether p is what protobuf-c packs for the message of d it decodes to.
 * The writer goes through d's fields in order and writes each singular
 * one unless it holds its default, a repeated message's elements one after
 * the other, a oneof's member that is set; strings by strlen.  So the
 * bytes must be in that order, each field once, no defaults, one oneof
 * member.  Types the schema does not use here are not taken (0).
 *
 * Strings must also be well-formed UTF-8: the rules refuse any other, and
 * an event taken as canonical then needs no second look at its text.
 *
 * With out (a message of d, initialised), also decode into it what
 * protobuf-c's unpack would, its memory from a: such bytes hold no
 * unknown field, no default and nothing twice, so one walk in order fills
 * the struct.  Its strings are not copied one by one but cut from w, a
 * copy of p (len + 1 bytes): each is ended by a NUL written over the byte
 * after it, which is a key or the end, and is read from p.  0 as well
 * when a runs out (out is then half filled). */
static int
canon_msg(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
    int top, void *out, uint8_t *w, vb_arena *a)
{
	size_t i = 0, n, fi = 0, elem = 0;
	uint64_t key, v;
	uint32_t last = 0;
	int oneof = 0;

	while (i < len) {
		const ProtobufCFieldDescriptor *f;
		uint32_t num;
		if ((n = canon_varint(p + i, len - i, &key)) == 0 ||
		    (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
			return 0;
		i += n;
		num = (uint32_t)(key >> 3);
		if (num < last || (num == last && d->fields[fi].label != PROTOBUF_C_LABEL_REPEATED))
			return 0;
		if (num != last)
			elem = 0;
		/* d->fields is in field order, as the writer goes: look ahead
		 * from the last field, not search. */
		while (fi < d->n_fields && d->fields[fi].id < num)
			fi++;
		if (fi == d->n_fields || d->fields[fi].id != num)
			return 0;
		f = &d->fields[fi];
		/* seq and recorded: what the canonical form leaves out. */
		if (top && (num == 6 || num == 7))
			return 0;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			/* Two members: the reader keeps the last only. */
			if (oneof++ || f->type != PROTOBUF_C_TYPE_MESSAGE)
				return 0;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED &&
		    f->type != PROTOBUF_C_TYPE_MESSAGE)
			return 0; /* packed or not: not in the schema, not taken */
		last = num;
		char *slot = out ? (char *)out + f->offset : NULL;
		switch (f->type) {
		case PROTOBUF_C_TYPE_STRING:
		case PROTOBUF_C_TYPE_MESSAGE:
			if ((key & 7) != 2 || (n = canon_varint(p + i, len - i, &v)) == 0 ||
			    v > len - i - n)
				return 0;
			i += n;
			if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
				const ProtobufCMessageDescriptor *sd = f->descriptor;
				void *sub = NULL;
				if (out) {
					if ((sub = vb_arena_alloc(a, sd->sizeof_message)) == NULL)
						return 0;
					sd->message_init(sub);
				}
				if (!canon_msg(sd, p + i, (size_t)v, 0, sub,
				        w ? w + i : NULL, a) ||
				    (out && !place_msg(out, f, sub, elem, elem == 0 ?
				        count_run(p, len, i + (size_t)v, key) : 0, a)))
					return 0;
				elem++;
			} else if (v == 0 || !vb_utf8_text((const char *)p + i, (size_t)v)) {
				/* Empty is the default; a NUL ends the C string;
				 * text not UTF-8 goes the long way, to be refused
				 * by the rules with its field named. */
				return 0;
			} else if (out) {
				w[i + v] = '\0';
				*(char **)slot = (char *)w + i;
			}
			i += (size_t)v;
			break;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_UINT64:
			if ((key & 7) != 0 || (n = canon_varint(p + i, len - i, &v)) == 0 ||
			    v == 0)
				return 0;
			i += n;
			if (out)
				*(uint64_t *)slot = v; /* int64: two's complement */
			break;
		case PROTOBUF_C_TYPE_BOOL:
			/* The writer writes true as 1 and leaves false out. */
			if ((key & 7) != 0 || i >= len || p[i] != 1)
				return 0;
			i++;
			if (out)
				*(protobuf_c_boolean *)slot = 1;
			break;
		default:
			return 0;
		}
	}
	return 1;
}

int
vb_event_pb_is_canonical(const uint8_t *p, size_t len)
{
	return canon_msg(&EVENT_DESC, p, len, 1, NULL, NULL, NULL);
}

Voicebus__V1__Event *
vb_event_pb_decode_canonical(const uint8_t *p, size_t len, uint8_t *w,
    vb_arena *a)
{
	Voicebus__V1__Event *pb = vb_arena_alloc(a, sizeof(*pb));
	if (pb == NULL)
		return NULL;
	voicebus__v1__event__init(pb);
	return canon_msg(&EVENT_DESC, p, len, 1, pb, w, a) ? pb : NULL;
}

/* ---- protobuf -> JSON ---- */

int
vb_json_escape(vb_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	/* What needs escaping (and NUL, the end): most strings have none,
	 * and are copied in one go. */
	static const uint8_t special[256] = {
		[0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1,
		[0x06] = 1, [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1,
		[0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1,
		[0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
		[0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1,
		[0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1,
	};
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0;
	while (!special[u[n]])
		n++;
	if (u[n] == '\0') {
		uint8_t *d;
		if (vb_buf_reserve(b, n + 3) != 0)
			return VB_ENOMEM;
		d = b->data + b->len;
		d[0] = '"';
		memcpy(d + 1, s, n);
		d[n + 1] = '"';
		d[n + 2] = '\0';
		b->len += n + 2;
		return VB_OK;
	}
	int rv = vb_buf_append_byte(b, '"');
	const char *run = s;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		rv |= vb_buf_append(b, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"': rv |= vb_buf_append(b, "\\\"", 2); break;
		case '\\': rv |= vb_buf_append(b, "\\\\", 2); break;
		case '\n': rv |= vb_buf_append(b, "\\n", 2); break;
		case '\r': rv |= vb_buf_append(b, "\\r", 2); break;
		case '\t': rv |= vb_buf_append(b, "\\t", 2); break;
		default: {
			char x[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			rv |= vb_buf_append(b, x, 6);
		}
		}
	}
	rv |= vb_buf_append(b, run, (size_t)(s - run));
	rv |= vb_buf_append_byte(b, '"');
	return rv ? VB_ENOMEM : VB_OK;
}

static int
json_key(vb_buf *b, int *first, const char *key)
{
	int rv = 0;
	if (!*first)
		rv |= vb_buf_append_byte(b, ',');
	*first = 0;
	rv |= vb_json_escape(b, key);
	rv |= vb_buf_append_byte(b, ':');
	return rv ? VB_ENOMEM : VB_OK;
}

/* As json_key, for a name of the schema: protobuf identifiers need no
 * escaping. */
static int
json_name(vb_buf *b, int *first, const char *name)
{
	size_t n = strlen(name);
	uint8_t *d;
	if (vb_buf_reserve(b, n + 5) != 0)
		return VB_ENOMEM;
	d = b->data + b->len;
	if (!*first)
		*d++ = ',';
	*d++ = '"';
	memcpy(d, name, n);
	d += n;
	*d++ = '"';
	*d++ = ':';
	*d = '\0';
	b->len = (size_t)(d - b->data);
	*first = 0;
	return VB_OK;
}

static int
json_str_field(vb_buf *b, int *first, const char *key, const char *v)
{
	if (v == NULL || v[0] == '\0')
		return VB_OK;
	if (json_name(b, first, key) != 0)
		return VB_ENOMEM;
	return vb_json_escape(b, v);
}

/* Decimal digits of v, as printf's %llu, into the end of buf[20]: where
 * they start. */
static char *
u64_digits(uint64_t v, char *end)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static int
json_u64(vb_buf *b, uint64_t v)
{
	char buf[24], *p = u64_digits(v, buf + sizeof(buf));
	return vb_buf_append(b, p, (size_t)(buf + sizeof(buf) - p));
}

static int
json_i64(vb_buf *b, int64_t v)
{
	char buf[24], *p;
	if (v >= 0)
		return json_u64(b, (uint64_t)v);
	p = u64_digits(-(uint64_t)v, buf + sizeof(buf));
	*--p = '-';
	return vb_buf_append(b, p, (size_t)(buf + sizeof(buf) - p));
}

static int msg_to_json(const ProtobufCMessage *m, vb_buf *b);

/* Append one value of field f (one element when repeated) from slot. */
static int
value_to_json(const ProtobufCFieldDescriptor *f, const void *slot, vb_buf *b)
{
	char num[32];
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return vb_json_escape(b, *(char *const *)slot);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
		return json_i64(b, *(const int64_t *)slot);
	case PROTOBUF_C_TYPE_UINT64:
		return json_u64(b, *(const uint64_t *)slot);
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
		return json_i64(b, *(const int32_t *)slot);
	case PROTOBUF_C_TYPE_UINT32:
		return json_u64(b, *(const uint32_t *)slot);
	case PROTOBUF_C_TYPE_BOOL:
		snprintf(num, sizeof(num), "%s", *(const protobuf_c_boolean *)slot ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		return msg_to_json(*(const ProtobufCMessage *const *)slot, b);
	default:
		snprintf(num, sizeof(num), "null");
		break;
	}
	return vb_buf_append_str(b, num);
}

/* Whether a singular field holds its proto3 default (and so is omitted). */
static int
is_default(const ProtobufCFieldDescriptor *f, const void *slot)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)slot;
		return s == NULL || s[0] == '\0';
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(void *const *)slot == NULL;
	default: {
		static const uint8_t zero[8];
		return memcmp(slot, zero, elem_size(f->type)) == 0;
	}
	}
}

static int
msg_to_json(const ProtobufCMessage *m, vb_buf *b)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	int first = 1, rv = 0;

	rv |= vb_buf_append_byte(b, '{');
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *slot = (const char *)m + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			const char *arr = *(const char *const *)slot;
			if (n == 0)
				continue;
			rv |= json_name(b, &first, f->name);
			rv |= vb_buf_append_byte(b, '[');
			for (size_t k = 0; k < n; k++) {
				if (k)
					rv |= vb_buf_append_byte(b, ',');
				rv |= value_to_json(f, arr + k * elem_size(f->type), b);
			}
			rv |= vb_buf_append_byte(b, ']');
			continue;
		}
		if (is_default(f, slot))
			continue;
		rv |= json_name(b, &first, f->name);
		rv |= value_to_json(f, slot, b);
	}
	rv |= vb_buf_append_byte(b, '}');
	return rv ? VB_ENOMEM : VB_OK;
}

static int
pb_to_json(const Voicebus__V1__Event *pb, vb_buf *b)
{
	int first = 1, rv = 0;
	const ProtobufCMessage *sub = payload_msg(pb, NULL);

	rv |= vb_buf_append_byte(b, '{');
	if (pb->seq) {
		rv |= json_name(b, &first, "seq");
		rv |= json_u64(b, pb->seq);
	}
	rv |= json_str_field(b, &first, "id", pb->id);
	rv |= json_str_field(b, &first, "source", pb->source);
	rv |= json_str_field(b, &first, "type", pb->type);
	rv |= json_str_field(b, &first, "customer", pb->customer);
	rv |= json_str_field(b, &first, "time", pb->time);
	rv |= json_str_field(b, &first, "recorded", pb->recorded);
	if (pb->redacted) {
		rv |= json_name(b, &first, "redacted");
		rv |= vb_buf_append_str(b, "true");
	}
	if (sub != NULL) {
		rv |= json_name(b, &first, "data");
		rv |= msg_to_json(sub, b);
	}
	if (pb->n_attributes > 0) {
		int afirst = 1;
		rv |= json_name(b, &first, "attributes");
		rv |= vb_buf_append_byte(b, '{');
		for (size_t i = 0; i < pb->n_attributes; i++) {
			rv |= json_key(b, &afirst, pb->attributes[i]->key);
			rv |= vb_json_escape(b, pb->attributes[i]->value);
		}
		rv |= vb_buf_append_byte(b, '}');
	}
	rv |= vb_buf_append_byte(b, '}');
	return rv ? VB_ENOMEM : VB_OK;
}

int
vb_event_to_json(const vb_event *ev, vb_buf *out)
{
	return pb_to_json(ev->pb, out);
}

/* What protobuf-c allocates to decode one event for printing, taken from
 * a block on the stack while it lasts: an event of a few hundred bytes
 * decodes into some twenty allocations, which malloc and free would cost
 * more than the decoding. */
typedef struct arena {
	size_t used, heap;  /* bytes of block used; allocations from malloc */
	_Alignas(max_align_t) uint8_t block[8192];
} arena;

static void *
arena_alloc(void *arg, size_t n)
{
	arena *a = arg;
	n = (n + _Alignof(max_align_t) - 1) & ~(size_t)(_Alignof(max_align_t) - 1);
	if (n <= sizeof(a->block) - a->used) {
		void *p = a->block + a->used;
		a->used += n;
		return p;
	}
	a->heap++;
	return malloc(n);
}

static void
arena_free(void *arg, void *p)
{
	arena *a = arg;
	if ((uint8_t *)p < a->block || (uint8_t *)p >= a->block + sizeof(a->block))
		free(p);
}

int
vb_event_pb_to_json(const uint8_t *p, size_t len, vb_buf *out)
{
	arena a;
	ProtobufCAllocator al = { arena_alloc, arena_free, &a };
	Voicebus__V1__Event *pb;
	int rv;

	a.used = 0;
	a.heap = 0;
	if ((pb = voicebus__v1__event__unpack(&al, len, p)) == NULL) {
		/* protobuf-c freed what it had allocated. */
		return VB_ECORRUPT;
	}
	rv = pb_to_json(pb, out);
	/* Everything on the stack: nothing to walk and free. */
	if (a.heap)
		voicebus__v1__event__free_unpacked(pb, &al);
	return rv;
}

/* ---- accessors ---- */

const char *vb_event_id(const vb_event *ev) { return ev->pb->id; }
const char *vb_event_source(const vb_event *ev) { return ev->pb->source; }
const char *vb_event_type(const vb_event *ev) { return ev->pb->type; }
const char *vb_event_customer(const vb_event *ev) { return ev->pb->customer; }
const char *vb_event_time(const vb_event *ev) { return ev->pb->time; }
const char *vb_event_recorded(const vb_event *ev) { return ev->pb->recorded; }
uint64_t vb_event_seq(const vb_event *ev) { return ev->pb->seq; }
int vb_event_is_redacted(const vb_event *ev) { return ev->pb->redacted; }

/* Payload fields that hold free text or money: what a redacted copy drops.
 * By name, so that a type added to the schema is covered by its names. */
static const char *const redacted_fields[] = { "summary", "resolution",
	"reason", "amount", NULL };

int
vb_event_redact(vb_event *ev)
{
	Voicebus__V1__Event *pb = ev->pb;
	ProtobufCMessage *sub;

	if (!ev->owned)
		return VB_EINVAL;
	sub = (ProtobufCMessage *)payload_msg(pb, NULL);
	for (unsigned i = 0; sub && i < sub->descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &sub->descriptor->fields[i];
		char **slot = (char **)((char *)sub + f->offset);
		if (f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		for (const char *const *n = redacted_fields; *n; n++)
			/* Cut in place: the string stays owned as it was. */
			if (strcmp(f->name, *n) == 0 && *slot != NULL && (*slot)[0] != '\0')
				(*slot)[0] = '\0';
	}
	for (size_t i = 0; i < pb->n_attributes; i++)
		protobuf_c_message_free_unpacked(&pb->attributes[i]->base, NULL);
	free(pb->attributes);
	pb->attributes = NULL;
	pb->n_attributes = 0;
	pb->redacted = 1;
	ev->pb_size = 0;
	ev->canon = NULL;
	return VB_OK;
}

int
vb_event_pb_redact(const uint8_t *p, size_t len, vb_buf *out)
{
	vb_event *ev;
	int rv;
	if (vb_event_from_pb(p, len, &ev) != 0)
		return VB_ECORRUPT;
	if ((rv = vb_event_redact(ev)) == 0)
		rv = vb_event_to_pb(ev, out);
	vb_event_free(ev);
	return rv;
}

const char *
vb_event_payload_type(const vb_event *ev)
{
	for (size_t i = 0; i < sizeof(payload_types) / sizeof(payload_types[0]); i++)
		if (payload_types[i].c == ev->pb->data_case)
			return payload_types[i].type;
	return NULL;
}

const char *
vb_event_data_str(const vb_event *ev, const char *field)
{
	const ProtobufCMessage *sub = payload_msg(ev->pb, NULL);
	const ProtobufCFieldDescriptor *f;
	if (sub == NULL)
		return NULL;
	f = protobuf_c_message_descriptor_get_field_by_name(sub->descriptor, field);
	if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING)
		return NULL;
	return *(char *const *)((const char *)sub + f->offset);
}

int
vb_event_each_data_string(const vb_event *ev,
    int (*fn)(void *arg, const char *prefix, const char *field, const char *value),
    void *arg)
{
	const ProtobufCMessage *sub = payload_msg(ev->pb, NULL);
	int rv;

	if (sub == NULL)
		return 0;
	const ProtobufCMessageDescriptor *sd = sub->descriptor;
	for (unsigned i = 0; i < sd->n_fields; i++) {
		if (sd->fields[i].type != PROTOBUF_C_TYPE_STRING)
			continue;
		if ((rv = fn(arg, "data.", sd->fields[i].name, *(char *const *)((const char *)sub +
		    sd->fields[i].offset))))
			return rv;
	}
	return 0;
}

int
vb_event_each_string(const vb_event *ev,
    int (*fn)(void *arg, const char *prefix, const char *field, const char *value),
    void *arg)
{
	const Voicebus__V1__Event *pb = ev->pb;
	int rv;

	if ((rv = fn(arg, "", "id", pb->id)) || (rv = fn(arg, "", "source", pb->source)) ||
	    (rv = fn(arg, "", "type", pb->type)) || (rv = fn(arg, "", "customer", pb->customer)) ||
	    (rv = fn(arg, "", "time", pb->time)) || (rv = fn(arg, "", "recorded", pb->recorded)) ||
	    (rv = vb_event_each_data_string(ev, fn, arg)))
		return rv;
	for (size_t i = 0; i < pb->n_attributes; i++) {
		if ((rv = fn(arg, "", "attributes (key)", pb->attributes[i]->key)) ||
		    (rv = fn(arg, "attributes.", pb->attributes[i]->key, pb->attributes[i]->value)))
			return rv;
	}
	return 0;
}

/* The first field of m, or of a message inside it, that the schema does not
 * know: its number, -1 for field number 0, or 0 when there is none (*first,
 * kept once set); and whether field number 0 is anywhere (*zero).  With
 * want_zero 0 it stops at the first; else it walks on until a zero is found.
 * protobuf-c's reader keeps unknown fields and its writer packs them again
 * -- field number 0 too, which the reader then refuses. */
static void
walk_unknown(const ProtobufCMessage *m, int want_zero, int *first, int *zero)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < m->n_unknown_fields; i++) {
		uint32_t tag = m->unknown_fields[i].tag;
		if (*first == 0)
			*first = tag == 0 ? -1 : (int)tag;
		if (tag == 0)
			*zero = 1;
		if (*zero || !want_zero)
			return;
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *slot = (const char *)m + f->offset;
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)slot;
			for (size_t k = 0; k < n; k++) {
				if (arr[k])
					walk_unknown(arr[k], want_zero, first, zero);
				if (*zero || (!want_zero && *first))
					return;
			}
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
			continue;
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)slot;
		if (sub)
			walk_unknown(sub, want_zero, first, zero);
		if (*zero || (!want_zero && *first))
			return;
	}
}

int
vb_pb_has_field_zero(const ProtobufCMessage *m)
{
	int first = 0, zero = 0;
	walk_unknown(m, 1, &first, &zero);
	return zero;
}

int
vb_event_note_unknown(vb_event *ev)
{
	int first = 0, zero = 0;
	/* The scan that set canon knew every field. */
	if (ev->canon == NULL)
		walk_unknown(&ev->pb->base, 1, &first, &zero);
	ev->unknown = first;
	ev->unknown_known = 1;
	return zero;
}

int
vb_event_check_form(const vb_event *ev, char *err, size_t errlen)
{
	const Voicebus__V1__Event *pb = ev->pb;
	int u = ev->unknown, zero = 0;
	if (!ev->unknown_known)
		walk_unknown(&pb->base, 0, &u, &zero);
	if (u != 0) {
		char num[16];
		snprintf(num, sizeof(num), "%d", u < 0 ? 0 : u);
		set_err(err, errlen, "event: field %s is not in voicebus.v1 (a newer schema, or not an Event)",
		    num, NULL);
		return VB_EINVAL;
	}
	/* A map given the same key twice: its JSON form would be refused. */
	for (size_t i = 0; i < pb->n_attributes; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(pb->attributes[i]->key, pb->attributes[k]->key) == 0) {
				set_err(err, errlen, "attributes.%.64s: given twice", pb->attributes[i]->key, NULL);
				return VB_EINVAL;
			}
	return VB_OK;
}

void
vb_event_set_seq(vb_event *ev, uint64_t seq)
{
	ev->pb->seq = seq;
	ev->pb_size = 0;
	ev->canon = NULL;
}

int
vb_event_set_recorded(vb_event *ev, const char *recorded)
{
	if (!ev->owned)
		return VB_EINVAL; /* borrowed from a request: its allocator owns it */
	ev->pb_size = 0;
	ev->canon = NULL;
	if (recorded == NULL || recorded[0] == '\0') {
		if (ev->pb->recorded != protobuf_c_empty_string)
			free(ev->pb->recorded);
		ev->pb->recorded = (char *)protobuf_c_empty_string;
		return VB_OK;
	}
	return set_string(&ev->pb->recorded, recorded);
}

int
vb_event_to_pb_canonical(const vb_event *ev, vb_buf *out)
{
	/* Clear what the broker adds for the length of one pack, then put it
	 * back: the event may be borrowed, so nothing is freed or replaced. */
	Voicebus__V1__Event *pb = ev->pb;
	uint64_t seq = pb->seq;
	char *recorded = pb->recorded;
	size_t n = vb_event_pb_size(ev);
	int rv;

	/* What the request carried, when it is already this encoding. */
	if (ev->canon != NULL)
		return vb_buf_append(out, ev->canon, n);
	/* The size without them, from the whole (proto3 leaves out a zero
	 * seq and an empty recorded; tags 6 and 7 take one byte). */
	if (seq != 0)
		n -= 1 + vb_varint_len(seq);
	if (recorded != NULL && recorded[0] != '\0') {
		size_t rl = strlen(recorded);
		n -= 1 + vb_varint_len(rl) + rl;
	}
	pb->seq = 0;
	pb->recorded = (char *)protobuf_c_empty_string;
	rv = pack_sized(pb, n, out);
	pb->seq = seq;
	pb->recorded = recorded;
	return rv;
}

void
vb_event_free(vb_event *ev)
{
	if (ev == NULL || !ev->owned)
		return;
	protobuf_c_message_free_unpacked(&ev->pb->base, NULL);
	free(ev);
}
