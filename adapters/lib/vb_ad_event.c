#include "vb_ad_event.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"
#include "vb_time.h"
#include "vb_validate.h"

struct vb_ad_ev {
	json_t *obj, *data, *attrs; /* attrs: NULL until the first one */
	char *id;
};

/* A JSON string of s, or NULL when s is not UTF-8. */
static json_t *
jstr(const char *s)
{
	return json_stringn(s, strlen(s));
}

static int
set_str(json_t *obj, const char *key, const char *value)
{
	json_t *v = jstr(value);
	if (v == NULL)
		return VB_EINVAL;
	return json_object_set_new(obj, key, v) == 0 ? VB_OK : VB_ENOMEM;
}

int
vb_ad_ev_new(const char *source, const char *type, const char *id,
    const char *customer, int64_t time_us, vb_ad_ev **out)
{
	char t[VB_TIME_BUFSZ];
	vb_ad_ev *b = calloc(1, sizeof(*b));
	int rv;

	if (b == NULL)
		return VB_ENOMEM;
	if ((b->obj = json_object()) == NULL ||
	    (b->data = json_object()) == NULL || (b->id = strdup(id)) == NULL) {
		rv = VB_ENOMEM;
		goto fail;
	}
	if ((rv = set_str(b->obj, "id", id)) != 0 ||
	    (rv = set_str(b->obj, "source", source)) != 0 ||
	    (rv = set_str(b->obj, "type", type)) != 0 ||
	    (rv = set_str(b->obj, "customer", customer)) != 0 ||
	    (rv = set_str(b->obj, "time", vb_time_format(time_us, t))) != 0)
		goto fail;
	if (json_object_set(b->obj, "data", b->data) != 0) {
		rv = VB_ENOMEM;
		goto fail;
	}
	*out = b;
	return VB_OK;
fail:
	vb_ad_ev_free(b);
	return rv;
}

void
vb_ad_ev_free(vb_ad_ev *b)
{
	if (b == NULL)
		return;
	json_decref(b->data);
	json_decref(b->attrs);
	json_decref(b->obj);
	free(b->id);
	free(b);
}

const char *
vb_ad_ev_id(const vb_ad_ev *b)
{
	return b->id;
}

int
vb_ad_ev_str(vb_ad_ev *b, const char *field, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return VB_OK;
	return set_str(b->data, field, value);
}

int
vb_ad_ev_time(vb_ad_ev *b, const char *field, int64_t us)
{
	char t[VB_TIME_BUFSZ];
	return set_str(b->data, field, vb_time_format(us, t));
}

int
vb_ad_ev_int(vb_ad_ev *b, const char *field, int64_t v)
{
	json_t *j = json_integer(v);
	if (j == NULL)
		return VB_ENOMEM;
	return json_object_set_new(b->data, field, j) == 0 ? VB_OK : VB_ENOMEM;
}

int
vb_ad_ev_attr(vb_ad_ev *b, const char *name, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return VB_OK;
	if (b->attrs == NULL) {
		if ((b->attrs = json_object()) == NULL)
			return VB_ENOMEM;
		if (json_object_set(b->obj, "attributes", b->attrs) != 0)
			return VB_ENOMEM;
	}
	return set_str(b->attrs, name, value);
}

int
vb_ad_ev_build(const vb_ad_ev *b, vb_event **out, char *err, size_t errlen)
{
	char *text;
	vb_event *ev = NULL;
	int rv;

	if ((text = json_dumps(b->obj, JSON_COMPACT)) == NULL)
		return VB_ENOMEM;
	rv = vb_event_from_json(text, strlen(text), &ev, err, errlen);
	free(text);
	if (rv != 0)
		return rv;
	if ((rv = vb_event_validate(ev, NULL, err, errlen)) != 0) {
		vb_event_free(ev);
		return rv;
	}
	*out = ev;
	return VB_OK;
}
