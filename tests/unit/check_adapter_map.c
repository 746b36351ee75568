/* Unit tests of adapters/lib/vb_ad_map: mappings from INI text and
 * options, bound to headers, records seen through them. */
#include <stdio.h>
#include <string.h>

#include "vb_ad_map.h"
#include "vb_error.h"
#include "vb_test.h"

enum { F_CASE, F_CUSTOMER, F_OPENED, F_SUMMARY };

static const vb_ad_field fields[] = {
	{ "case", "case number", 1 },
	{ "customer", "who", 1 },
	{ "opened", "when", 1 },
	{ "summary", "what", 0 },
	{ NULL, NULL, 0 },
};

static const vb_ad_option options[] = {
	{ "open_statuses", "open, new", "open ones" },
	{ NULL, NULL, NULL },
};

static vb_ad_map *
map_of(const char *ini)
{
	vb_ad_map *m;
	char err[512];
	ck_assert_int_eq(vb_ad_map_new(fields, options, &m), 0);
	if (ini)
		ck_assert_msg(vb_ad_map_load_string(m, "test", ini, err, sizeof(err)) == 0, "%s", err);
	return m;
}

/* A record from a CSV line. */
typedef struct rec {
	vb_csv_rec r;
	FILE *f;
	vb_csv *csv;
} rec;

static void
rec_of(rec *x, const char *line)
{
	char err[128];
	x->f = fmemopen((void *)line, strlen(line), "r");
	ck_assert_int_eq(vb_csv_open(x->f, NULL, &x->csv), 0);
	ck_assert_int_eq(vb_csv_next(x->csv, &x->r, err, sizeof(err)), 1);
}

static void
rec_done(rec *x)
{
	vb_csv_close(x->csv);
	fclose(x->f);
}

static int
bind(vb_ad_map *m, const char *header, vb_ad_encoding enc, vb_ad_bind **b, char *err,
    size_t errlen)
{
	rec h;
	rec_of(&h, header);
	int rv = vb_ad_bind_new(m, &h.r, enc, b, err, errlen);
	rec_done(&h);
	return rv;
}

START_TEST(load_and_options)
{
	vb_ad_map *m = map_of("# a comment\n[columns]\ncase = Complaint ID\ncustomer=ZIP code\n"
	    "[attributes]\ncompany = Company\n[options]\nid_prefix = cfpb\nopen_statuses = In progress\n");
	ck_assert_str_eq(vb_ad_map_column(m, F_CASE), "Complaint ID");
	ck_assert_str_eq(vb_ad_map_column(m, F_CUSTOMER), "ZIP code");
	ck_assert_ptr_null(vb_ad_map_column(m, F_OPENED));
	ck_assert_str_eq(vb_ad_map_option(m, "id_prefix"), "cfpb");
	ck_assert_str_eq(vb_ad_map_option(m, "open_statuses"), "In progress");
	/* Defaults, silo's and common. */
	ck_assert_str_eq(vb_ad_map_option(m, "timezone"), "UTC");
	ck_assert_ptr_null(vb_ad_map_option(m, "customer_strip_suffix"));
	ck_assert_ptr_null(vb_ad_map_option(m, "no_such_option"));
	/* Later wins. */
	char err[256];
	ck_assert_int_eq(vb_ad_map_set(m, "columns", "case", "Ticket", err, sizeof(err)), 0);
	ck_assert_str_eq(vb_ad_map_column(m, F_CASE), "Ticket");
	ck_assert_int_eq(vb_ad_map_field(m, "opened"), F_OPENED);
	ck_assert_int_eq(vb_ad_map_field(m, "nope"), -1);
	/* Printed, it reads back the same. */
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	vb_ad_map_print(m, out);
	fclose(out);
	vb_ad_map *again = map_of(text);
	ck_assert_str_eq(vb_ad_map_column(again, F_CASE), "Ticket");
	ck_assert_str_eq(vb_ad_map_option(again, "open_statuses"), "In progress");
	ck_assert_msg(strstr(text, "company = Company") != NULL, "%s", text);
	free(text);
	vb_ad_map_free(again);
	vb_ad_map_free(m);
}
END_TEST

static void
load_fails(const char *ini, const char *want)
{
	vb_ad_map *m = map_of(NULL);
	char err[512];
	ck_assert_int_eq(vb_ad_map_load_string(m, "test", ini, err, sizeof(err)), VB_EINVAL);
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\" lacks \"%s\"", err, want);
	vb_ad_map_free(m);
}

START_TEST(load_errors_name_the_line)
{
	load_fails("[columns]\ncase = X\nticket = Y\n", "test:3: ticket: unknown field (fields: case, customer, opened, summary)");
	load_fails("[columns]\ncase =\n", "test:2: case: empty column name");
	load_fails("[options]\n\ncolour = red\n", "test:3: colour: unknown option");
	load_fails("[colums]\ncase = X\n", "test:2: [colums]: unknown section");
	load_fails("[attributes]\nbad name = X\n", "test:2: bad name: an attribute name");
	load_fails("[columns]\njust words\n", "test:2: syntax error");
	char err[512];
	vb_ad_map *m = map_of(NULL);
	ck_assert_int_eq(vb_ad_map_load_file(m, "/nonexistent.ini", err, sizeof(err)), VB_EINVAL);
	ck_assert_msg(strstr(err, "/nonexistent.ini: No such file") != NULL, "%s", err);
	vb_ad_map_free(m);
}
END_TEST

START_TEST(bind_names_the_missing_column)
{
	vb_ad_map *m = map_of("[columns]\ncase = Complaint ID\ncustomer = ZIP code\nopened = Date received\n");
	vb_ad_bind *b;
	char err[512];
	ck_assert_int_eq(bind(m, "Date received,ZIP code,Product\n", VB_AD_UTF8, &b, err,
	    sizeof(err)), VB_EINVAL);
	ck_assert_str_eq(err, "column \"Complaint ID\" (case) is not in the header");
	/* An optional field named by the mapping must be there too. */
	ck_assert_int_eq(vb_ad_map_set(m, "columns", "summary", "Narrative", err, sizeof(err)), 0);
	ck_assert_int_eq(bind(m, "Complaint ID,Date received,ZIP code\n", VB_AD_UTF8, &b, err,
	    sizeof(err)), VB_EINVAL);
	ck_assert_str_eq(err, "column \"Narrative\" (summary) is not in the header");
	ck_assert_int_eq(vb_ad_map_set(m, "attributes", "company", "Company", err, sizeof(err)), 0);
	ck_assert_int_eq(bind(m, "Complaint ID,Date received,ZIP code,Narrative\n", VB_AD_UTF8, &b,
	    err, sizeof(err)), VB_EINVAL);
	ck_assert_str_eq(err, "column \"Company\" (attribute company) is not in the header");
	ck_assert_int_eq(bind(m, "Complaint ID,Date received,ZIP code,Narrative,Company,zip code\n",
	    VB_AD_UTF8, &b, err, sizeof(err)), 0);
	vb_ad_bind_free(b);
	ck_assert_int_eq(bind(m, "Complaint ID,Date received,ZIP code,Narrative,Company,Complaint ID\n",
	    VB_AD_UTF8, &b, err, sizeof(err)), VB_EINVAL);
	ck_assert_msg(strstr(err, "appears more than once") != NULL, "%s", err);
	vb_ad_map_free(m);

	/* No mapping: a column of the field's own name, required or not. */
	m = map_of(NULL);
	ck_assert_int_eq(bind(m, "case,customer\n", VB_AD_UTF8, &b, err, sizeof(err)), VB_EINVAL);
	ck_assert_msg(strstr(err, "no column for opened (when)") != NULL, "%s", err);
	ck_assert_int_eq(bind(m, " Case ,CUSTOMER,opened\n", VB_AD_UTF8, &b, err, sizeof(err)), 0);
	ck_assert_str_eq(vb_ad_bind_column(b, F_CASE), "Case");
	ck_assert_str_eq(vb_ad_bind_column(b, F_SUMMARY), "summary");
	vb_ad_bind_free(b);
	vb_ad_map_free(m);
}
END_TEST

START_TEST(rows_through_the_mapping)
{
	vb_ad_map *m = map_of("[columns]\ncase = Id\n[attributes]\nco = Company\n");
	vb_ad_bind *b;
	vb_ad_row row;
	rec r;
	char err[512];
	ck_assert_int_eq(bind(m, "Id,customer,opened,Company,Unused\n", VB_AD_UTF8, &b, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(vb_ad_bind_nattrs(b), 1);
	ck_assert_str_eq(vb_ad_bind_attr_name(b, 0), "co");

	rec_of(&r, " 42 ,\"C-1, Ltd\",2026-11-20,,\xff\n");
	ck_assert_int_eq(vb_ad_bind_row(b, &r.r, &row, err, sizeof(err)), 0);
	ck_assert_str_eq(row.value[F_CASE], "42");
	ck_assert_str_eq(row.value[F_CUSTOMER], "C-1, Ltd");
	ck_assert_str_eq(row.value[F_OPENED], "2026-11-20");
	ck_assert_ptr_null(row.value[F_SUMMARY]);
	ck_assert_str_eq(row.attr[0], "");
	rec_done(&r);

	rec_of(&r, "42,C-1\n");
	ck_assert_int_eq(vb_ad_bind_row(b, &r.r, &row, err, sizeof(err)), VB_EINVAL);
	ck_assert_str_eq(err, "csv: 2 fields; the header has 5");
	rec_done(&r);

	rec_of(&r, "42,Caf\xe9,2026-11-20,x,y\n");
	ck_assert_int_eq(vb_ad_bind_row(b, &r.r, &row, err, sizeof(err)), VB_EINVAL);
	ck_assert_msg(strstr(err, "customer: not valid UTF-8 (byte 0xe9 at offset 3") == err, "%s", err);
	rec_done(&r);
	vb_ad_bind_free(b);

	/* The same bytes as Latin-1. */
	ck_assert_int_eq(bind(m, "Id,customer,opened,Company\n", VB_AD_LATIN1, &b, err,
	    sizeof(err)), 0);
	rec_of(&r, "42,Caf\xe9,2026-11-20,x\n");
	ck_assert_int_eq(vb_ad_bind_row(b, &r.r, &row, err, sizeof(err)), 0);
	ck_assert_str_eq(row.value[F_CUSTOMER], "Caf\xc3\xa9");
	rec_done(&r);
	vb_ad_bind_free(b);
	vb_ad_map_free(m);
}
END_TEST

START_TEST(list_match)
{
	ck_assert_int_eq(vb_ad_list_match("solved, closed", "Solved"), 1);
	ck_assert_int_eq(vb_ad_list_match("solved, closed", "CLOSED"), 1);
	ck_assert_int_eq(vb_ad_list_match("solved, closed", "close"), 0);
	ck_assert_int_eq(vb_ad_list_match("Closed*", "Closed with explanation"), 1);
	ck_assert_int_eq(vb_ad_list_match("Closed*", "Closed"), 1);
	ck_assert_int_eq(vb_ad_list_match("Closed*", "In progress"), 0);
	ck_assert_int_eq(vb_ad_list_match("In progress, Untimely response", "untimely response"), 1);
	ck_assert_int_eq(vb_ad_list_match("", "x"), 0);
	ck_assert_int_eq(vb_ad_list_match("a,,b", ""), 0);
}
END_TEST

static Suite *
map_suite(void)
{
	Suite *s = suite_create("adapter_map");
	TCase *tc = tcase_create("map");
	tcase_add_test(tc, load_and_options);
	tcase_add_test(tc, load_errors_name_the_line);
	tcase_add_test(tc, bind_names_the_missing_column);
	tcase_add_test(tc, rows_through_the_mapping);
	tcase_add_test(tc, list_match);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(map_suite());
}
