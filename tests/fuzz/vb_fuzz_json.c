/* vb_fuzz_json_ok: see vb_fuzz.h. */
#include <jansson.h>

#include "vb_fuzz.h"

int
vb_fuzz_json_ok(const void *p, size_t len)
{
	json_t *j = json_loadb(p, len, JSON_DECODE_ANY, NULL);
	json_decref(j);
	return j != NULL;
}
