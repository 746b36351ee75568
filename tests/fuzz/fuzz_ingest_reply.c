/* Fuzz target ingest_reply: a reply on the ingest socket, as every
 * publisher (voicebus publish, the adapters) decodes it.
 *
 * Property: a decoded reply encodes and decodes to the same reply. */
#include <string.h>

#include "vb_fuzz.h"
#include "vb_wire.h"

static int
same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vb_ingest_reply r, r2;
	vb_buf buf = { 0 };

	if (vb_ingest_reply_decode(data, size, &r) != 0)
		return 0;
	VB_FUZZ_CHECK(r.error != NULL, "error is NULL");
	for (size_t i = 0; i < r.n; i++)
		VB_FUZZ_CHECK(r.results[i].error != NULL,
		    "result %zu: error is NULL", i);
	VB_FUZZ_CHECK(vb_ingest_reply_encode(r.results, r.n, r.code, r.error,
	                  &buf) == 0,
	    "encode failed");
	VB_FUZZ_CHECK(vb_ingest_reply_decode(buf.data, buf.len, &r2) == 0,
	    "our own reply does not decode");
	VB_FUZZ_CHECK(r2.n == r.n && r2.code == r.code &&
	        same(r2.error, r.error),
	    "reply changed");
	for (size_t i = 0; i < r.n; i++)
		VB_FUZZ_CHECK(r2.results[i].seq == r.results[i].seq &&
		        !r2.results[i].duplicate == !r.results[i].duplicate &&
		        same(r2.results[i].error, r.results[i].error),
		    "result %zu changed", i);
	vb_ingest_reply_free(&r2);
	vb_ingest_reply_free(&r);
	vb_buf_free(&buf);
	return 0;
}
