/* Fuzz target csv: an export or an audience file through the shared CSV
 * reader (common/vb_csv.h), as the adapters and `voicebus filter` read
 * them: with the defaults, with another delimiter, and with a small record
 * limit.
 *
 * Properties: every record has at least one field, each field is
 * NUL-terminated at its length, the raw bytes are bytes of the input,
 * records start on lines that never go back and that have been read;
 * reading always ends. */
#include <stdio.h>
#include <string.h>

#include "vb_csv.h"
#include "vb_error.h"
#include "vb_fuzz.h"

static void
read_all(const uint8_t *data, size_t size, const vb_csv_opts *o)
{
	/* fmemopen cannot make an empty stream. */
	FILE *in =
	    size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "r");
	vb_csv *r = NULL;
	vb_csv_rec rec;
	char err[256];
	unsigned long last = 0;
	size_t records = 0;
	int rv;

	VB_FUZZ_CHECK(in != NULL, "fmemopen failed");
	VB_FUZZ_CHECK(vb_csv_open(in, o, &r) == 0, "open failed");
	while ((rv = vb_csv_next(r, &rec, err, sizeof(err))) != 0) {
		VB_FUZZ_CHECK(rv == 1 || rv == VB_EINVAL, "vb_csv_next: %d",
		    rv);
		VB_FUZZ_CHECK(rec.line >= 1 && rec.line >= last,
		    "line %lu after %lu", rec.line, last);
		last = rec.line;
		VB_FUZZ_CHECK(++records <= size + 1, "more records than bytes");
		if (rv == VB_EINVAL) {
			VB_FUZZ_CHECK(err[0] != '\0',
			    "malformed without a reason");
			continue;
		}
		VB_FUZZ_CHECK(rec.n >= 1, "a record without fields");
		for (size_t i = 0; i < rec.n; i++)
			VB_FUZZ_CHECK(rec.field[i][rec.len[i]] == '\0',
			    "field %zu not terminated", i);
		VB_FUZZ_CHECK(rec.raw_len <= size, "raw %zu bytes of %zu",
		    rec.raw_len, size);
		if (o == NULL || o->max_record == 0 || o->max_record >= size) {
			/* The raw bytes are bytes of the input, from where it starts. */
			VB_FUZZ_CHECK(rec.raw_len == 0 ||
			        memmem(data, size, rec.raw, rec.raw_len) !=
			            NULL,
			    "raw not in the input");
		}
		VB_FUZZ_CHECK(vb_csv_lines(r) >= rec.line,
		    "lines read %lu, record at %lu", vb_csv_lines(r), rec.line);
	}
	vb_csv_close(r);
	fclose(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vb_csv_opts semi = { ';', 0 }, small = { 0, 64 };
	read_all(data, size, NULL);
	read_all(data, size, &semi);
	read_all(data, size, &small);
	return 0;
}
