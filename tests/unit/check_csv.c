/* Unit tests of common/vb_csv: records and the physical lines
 * they start on, quoting, line endings, malformed records and what comes
 * after them. */
#include <stdio.h>
#include <string.h>

#include "vb_csv.h"
#include "vb_error.h"
#include "vb_test.h"

/* Records of text, each as "line|f1|f2|..." (errors as "line!reason"),
 * joined by "\n". */
static char *
parse(const char *text, size_t len, const vb_csv_opts *o)
{
	static char out[8192];
	FILE *f = fmemopen((void *)text, len, "r");
	vb_csv *r;
	vb_csv_rec rec;
	char err[256];
	int rv;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(vb_csv_open(f, o, &r), 0);
	out[0] = '\0';
	while ((rv = vb_csv_next(r, &rec, err, sizeof(err))) != 0) {
		size_t n = strlen(out);
		if (rv == VB_EINVAL) {
			snprintf(out + n, sizeof(out) - n, "%s%lu!%s", n ? "\n" : "", rec.line, err);
			continue;
		}
		ck_assert_int_eq(rv, 1);
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%lu", n ? "\n" : "", rec.line);
		for (size_t i = 0; i < rec.n; i++) {
			ck_assert_uint_eq(strlen(rec.field[i]), rec.len[i]);
			n += (size_t)snprintf(out + n, sizeof(out) - n, "|%s", rec.field[i]);
		}
	}
	vb_csv_close(r);
	fclose(f);
	return out;
}

#define PARSE(text) parse(text, sizeof(text) - 1, NULL)

/* The raw bytes of each record, joined by "|". */
static char *
raws(const char *text, size_t len)
{
	static char out[8192];
	FILE *f = fmemopen((void *)text, len, "r");
	vb_csv *r;
	vb_csv_rec rec;
	char err[256];
	int rv;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(vb_csv_open(f, NULL, &r), 0);
	out[0] = '\0';
	while ((rv = vb_csv_next(r, &rec, err, sizeof(err))) != 0) {
		size_t n = strlen(out);
		if (rv != 1)
			continue;
		snprintf(out + n, sizeof(out) - n, "%s%.*s", n ? "|" : "", (int)rec.raw_len, rec.raw);
	}
	vb_csv_close(r);
	fclose(f);
	return out;
}

START_TEST(raw_bytes_unchanged)
{
	/* What filter writes back: each record's lines exactly as read. */
	static const char text[] = "h1,h2\r\n\"a, \"\"b\"\"\",\"multi\r\nline\"\r\nplain,x\nlast,y";
	ck_assert_str_eq(raws(text, sizeof(text) - 1),
	    "h1,h2\r\n|\"a, \"\"b\"\"\",\"multi\r\nline\"\r\n|plain,x\n|last,y");
	/* After a malformed record, the next one's raw is its own. */
	static const char bad[] = "a,b\n\"open,1\nc,d\n";
	ck_assert_str_eq(raws(bad, sizeof(bad) - 1), "a,b\n|c,d\n");
}
END_TEST

START_TEST(plain_records_and_lines)
{
	ck_assert_str_eq(PARSE("a,b,c\n1,2,3\n4,5,6\n"), "1|a|b|c\n2|1|2|3\n3|4|5|6");
	/* No newline at the end; empty fields. */
	ck_assert_str_eq(PARSE("a,b\n,\nx,"), "1|a|b\n2||\n3|x|");
	ck_assert_str_eq(PARSE(""), "");
}
END_TEST

START_TEST(quoted_commas_quotes_newlines)
{
	ck_assert_str_eq(PARSE("id,text,n\n1,\"a, b\",2\n2,\"say \"\"hi\"\"\",3\n"),
	    "1|id|text|n\n2|1|a, b|2\n3|2|say \"hi\"|3");
	/* A record spanning lines starts where it starts; the next one on the
	 * line after its end. */
	ck_assert_str_eq(PARSE("h1,h2\n1,\"line one\nline two\nline three\"\n2,x\n"),
	    "1|h1|h2\n2|1|line one\nline two\nline three\n5|2|x");
	/* A multi-line first field. */
	ck_assert_str_eq(PARSE("h\n\"a\nb\"\nc\n"), "1|h\n2|a\nb\n4|c");
}
END_TEST

START_TEST(crlf_and_lf_mixed)
{
	/* As the CFPB export: LF after the header, CRLF after records, bare
	 * LF inside quoted narratives. */
	ck_assert_str_eq(PARSE("a,b\n1,\"x\ny\"\r\n2,z\r\n"), "1|a|b\n2|1|x\ny\n4|2|z");
	ck_assert_str_eq(PARSE("a\r\nb\r\n"), "1|a\n2|b");
}
END_TEST

START_TEST(blank_lines_and_bom)
{
	ck_assert_str_eq(PARSE("\xef\xbb\xbf" "a,b\n\n1,2\n  \n\r\n3,4\n\n"), "1|a|b\n3|1|2\n6|3|4");
	/* Blank lines inside a quoted field are its own. */
	ck_assert_str_eq(PARSE("a\n\"x\n\ny\"\nz\n"), "1|a\n2|x\n\ny\n5|z");
}
END_TEST

START_TEST(spaces_kept_in_quotes)
{
	ck_assert_str_eq(PARSE("a,b\n\"FANCY CARD, \",2\n"), "1|a|b\n2|FANCY CARD, |2");
}
END_TEST

START_TEST(malformed_quote_costs_one_record)
{
	/* A quote in an unquoted field. */
	ck_assert_str_eq(PARSE("a,b\n1,x\"y\n2,z\n"),
	    "1|a|b\n2!csv: malformed quoting (a \" inside an unquoted field, or text after a closing \")\n3|2|z");
	/* Text after a closing quote, on a later line: reading resumes at the
	 * line after the bad record's first. */
	ck_assert_str_eq(PARSE("a,b\n1,\"open\n2,z\n3,\"w\"x\n4,y\n"),
	    "1|a|b\n2!csv: malformed quoting (a \" inside an unquoted field, or text after a closing \")\n"
	    "3|2|z\n4!csv: malformed quoting (a \" inside an unquoted field, or text after a closing \")\n5|4|y");
}
END_TEST

START_TEST(unclosed_quote_at_end)
{
	ck_assert_str_eq(PARSE("a,b\n1,\"never closed\n2,x\n3,y\n"),
	    "1|a|b\n2!csv: a quoted field is never closed (missing \")\n3|2|x\n4|3|y");
	ck_assert_str_eq(PARSE("a\n\"x"), "1|a\n2!csv: a quoted field is never closed (missing \")");
}
END_TEST

START_TEST(record_too_long)
{
	vb_csv_opts o = { .max_record = 64 };
	char text[512];
	snprintf(text, sizeof(text), "a,b\n1,\"%s\n2,ok\n", "0123456789012345678901234567890123456789"
	    "01234567890123456789012345678901234567890123456789");
	const char *got = parse(text, strlen(text), &o);
	ck_assert_msg(strstr(got, "2!csv: record longer than 64 bytes") != NULL, "%s", got);
	ck_assert_msg(strstr(got, "\n3|2|ok") != NULL, "%s", got);
}
END_TEST

START_TEST(other_delimiter_and_nul)
{
	vb_csv_opts o = { .delim = '\t' };
	const char tsv[] = "a\tb\n1,2\t3\n";
	ck_assert_str_eq(parse(tsv, sizeof(tsv) - 1, &o), "1|a|b\n2|1,2|3");
	/* A NUL byte is data: its length says so. */
	const char nul[] = "a\nx\0y\n";
	FILE *f = fmemopen((void *)nul, sizeof(nul) - 1, "r");
	vb_csv *r;
	vb_csv_rec rec;
	char err[128];
	ck_assert_int_eq(vb_csv_open(f, NULL, &r), 0);
	ck_assert_int_eq(vb_csv_next(r, &rec, err, sizeof(err)), 1);
	ck_assert_int_eq(vb_csv_next(r, &rec, err, sizeof(err)), 1);
	ck_assert_uint_eq(rec.len[0], 3);
	ck_assert_int_eq(vb_csv_next(r, &rec, err, sizeof(err)), 0);
	ck_assert_uint_eq(vb_csv_lines(r), 2);
	vb_csv_close(r);
	fclose(f);
}
END_TEST

/* The committed CFPB excerpt: every record starts on the line a simple
 * separate scan of the bytes says (a line outside quotes starts a record). */
START_TEST(cfpb_excerpt_lines)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/cfpb-excerpt.csv", VB_TEST_DATA);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	unsigned long starts[256], n = 0, line = 1;
	int inq = 0, at_start = 1, c;
	while ((c = fgetc(f)) != EOF) {
		if (at_start && !inq) {
			ck_assert_uint_lt(n, 256);
			starts[n++] = line;
			at_start = 0;
		}
		if (c == '"')
			inq = !inq;
		else if (c == '\n') {
			line++;
			at_start = !inq;
		}
	}
	rewind(f);
	vb_csv *r;
	vb_csv_rec rec;
	char err[256];
	unsigned long k = 0;
	int rv;
	ck_assert_int_eq(vb_csv_open(f, NULL, &r), 0);
	while ((rv = vb_csv_next(r, &rec, err, sizeof(err))) == 1) {
		ck_assert_uint_lt(k, n);
		ck_assert_msg(rec.line == starts[k], "record %lu: line %lu, expected %lu", k,
		    rec.line, starts[k]);
		ck_assert_uint_eq(rec.n, 18);
		k++;
	}
	ck_assert_int_eq(rv, 0);
	ck_assert_uint_eq(k, n);
	ck_assert_uint_eq(k, 51); /* the header and 50 complaints */
	vb_csv_close(r);
	fclose(f);
}
END_TEST

static Suite *
csv_suite(void)
{
	Suite *s = suite_create("csv");
	TCase *tc = tcase_create("csv");
	tcase_add_test(tc, raw_bytes_unchanged);
	tcase_add_test(tc, plain_records_and_lines);
	tcase_add_test(tc, quoted_commas_quotes_newlines);
	tcase_add_test(tc, crlf_and_lf_mixed);
	tcase_add_test(tc, blank_lines_and_bom);
	tcase_add_test(tc, spaces_kept_in_quotes);
	tcase_add_test(tc, malformed_quote_costs_one_record);
	tcase_add_test(tc, unclosed_quote_at_end);
	tcase_add_test(tc, record_too_long);
	tcase_add_test(tc, other_delimiter_and_nul);
	tcase_add_test(tc, cfpb_excerpt_lines);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(csv_suite());
}
