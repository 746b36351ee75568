/* Unit tests of adapters/lib/vb_ad_import with a small silo of its own,
 * publishing as a dry run into memory: what a row emits is published only
 * when the row is not rejected; files that cannot be used; JSON lines. */
#include <string.h>

#include "vb_ad_import.h"
#include "vb_error.h"
#include "vb_event.h"
#include "vb_test.h"

enum { F_ORDER, F_CUSTOMER, F_TIME, F_NOTE };

static const vb_ad_field fields[] = {
	{ "order", "order number", 1 },
	{ "customer", "who", 1 },
	{ "time", "when", 1 },
	{ "note", "\"reject\" rejects the row after its events", 0 },
	{ NULL, NULL, 0 },
};

/* Two events a row (placed and returned), then perhaps a rejection. */
static int
row(vb_ad_file *f, void *state, const vb_ad_row *r)
{
	const char *order;
	char customer[VB_CUSTOMER_MAX + 1];
	int64_t t;
	vb_ad_ev *b;
	(void)state;
	if (vb_ad_need(f, r, F_ORDER, &order) != 0 ||
	    vb_ad_customer(f, r, F_CUSTOMER, customer, sizeof(customer)) != 0)
		return 0;
	if (vb_ad_when(f, r, F_TIME, &t, NULL) != 0)
		return 0;
	for (int k = 0; k < 2; k++) {
		if (vb_ad_event(f, r, r->line, k ? "order.returned" : "order.placed", order,
		    k ? "returned" : "placed", customer, t, &b) != 0)
			return 0;
		vb_ad_ev_str(b, "order", order);
		if (vb_ad_emit(f, b, r->line) != 0)
			return 0;
	}
	if (r->value[F_NOTE] && strcmp(r->value[F_NOTE], "reject") == 0)
		vb_ad_reject(f, r->line, "note: rejected after its events");
	return 0;
}

static const vb_ad_silo silo = {
	.prog = "vb-test", .source = "sales", .what = "test", .fields = fields, .row = row,
};

typedef struct run {
	char *out, *err;
	vb_ad_import_stats st;
} run;

static void
run_import(run *r, const char *text, const char *ini, int jsonl, const char *custmap)
{
	char dir[1024], path[1200], mpath[1200], err[512];
	size_t on = 0, en = 0;
	FILE *o = open_memstream(&r->out, &on), *e = open_memstream(&r->err, &en);
	vb_report rep;
	vb_ad_map *m;
	vb_ad_custmap *cm = NULL;
	vb_pub *p;
	vb_ad_ctx c = { .silo = &silo, .jsonl = jsonl };

	vbt_mkdtemp(dir, sizeof(dir));
	vbt_write_file(dir, "in", text, path, sizeof(path));
	vb_report_init(&rep, "vb-test", e);
	ck_assert_int_eq(vb_ad_map_new(fields, NULL, &m), 0);
	if (ini)
		ck_assert_int_eq(vb_ad_map_load_string(m, "ini", ini, err, sizeof(err)), 0);
	if (custmap) {
		vbt_write_file(dir, "map.csv", custmap, mpath, sizeof(mpath));
		ck_assert_int_eq(vb_ad_custmap_load(mpath, &cm, err, sizeof(err)), 0);
		c.custmap = cm;
		c.custmap_path = "map.csv";
	}
	vb_pub_opts po = { .report = &rep, .dry_run = o };
	ck_assert_int_eq(vb_pub_open(&po, &p), 0);
	c.map = m;
	c.pub = p;
	c.report = &rep;
	ck_assert_int_eq(vb_ad_ctx_options(&c, err, sizeof(err)), 0);
	ck_assert_int_eq(vb_ad_import(&c, path, "in", &r->st), 0);
	vb_pub_close(p);
	vb_ad_custmap_free(cm);
	vb_ad_map_free(m);
	fclose(o);
	fclose(e);
}

static void
run_free(run *r)
{
	free(r->out);
	free(r->err);
}

static size_t
count(const char *s, const char *needle)
{
	size_t n = 0;
	for (; (s = strstr(s, needle)) != NULL; s++)
		n++;
	return n;
}

START_TEST(rejected_rows_publish_nothing)
{
	run r;
	run_import(&r, "order,customer,time,note\n"
	    "1,C-1,2026-11-20 10:00,\n"
	    "2,C-2,2026-11-20 11:00,reject\n"
	    "3,,2026-11-20 12:00,\n"
	    "4,C-4,tomorrow,\n"
	    "5,C-5,2026-11-20 13:00\n"
	    "6,C-6,2026-11-20 14:00,\n", NULL, 0, NULL);
	ck_assert_uint_eq(r.st.rows, 6);
	ck_assert_uint_eq(r.st.rejected, 4);
	ck_assert_uint_eq(r.st.pub.printed, 4);
	ck_assert_uint_eq(r.st.pub.rows_done, 2);
	ck_assert_uint_eq(count(r.out, "\n"), 4);
	ck_assert_msg(strstr(r.out, "\"id\":\"sales:1:placed\"") && strstr(r.out, "\"id\":\"sales:6:returned\""),
	    "%s", r.out);
	ck_assert_uint_eq(count(r.out, "sales:2:"), 0);
	ck_assert_msg(strstr(r.err, "vb-test: in:3: note: rejected after its events\n") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "vb-test: in:4: customer: empty\n") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "vb-test: in:5: time: \"tomorrow\" is not a date or time") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "vb-test: in:6: csv: 3 fields; the header has 4\n") != NULL, "%s", r.err);
	run_free(&r);
}
END_TEST

START_TEST(id_prefix_zone_and_customer_map)
{
	run r;
	run_import(&r, "Order No,Cust,When\n7,17850.0,2026-07-01 12:00\n8,99.0,2026-07-01 12:00\n",
	    "[columns]\norder = Order No\ncustomer = Cust\ntime = When\n"
	    "[options]\nid_prefix = shop\ntimezone = Europe/London\ncustomer_strip_suffix = .0\n",
	    0, "id,customer\n17850,C-17850\n");
	ck_assert_uint_eq(r.st.rejected, 1);
	ck_assert_msg(strstr(r.out, "\"id\":\"shop:7:placed\",\"source\":\"sales\",\"type\":\"order.placed\","
	    "\"customer\":\"C-17850\",\"time\":\"2026-07-01T11:00:00Z\"") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.err, "in:3: Cust: \"99\" is not in the customer map map.csv") != NULL, "%s", r.err);
	run_free(&r);
	/* Without a map, a prefix keeps this silo's ids apart. */
	run_import(&r, "order,customer,time\n7,17850.0,2026-07-01 12:00\n",
	    "[options]\ncustomer_prefix = retail-\ncustomer_strip_suffix = .0\n", 0, NULL);
	ck_assert_msg(strstr(r.out, "\"customer\":\"retail-17850\"") != NULL, "%s", r.out);
	run_free(&r);
}
END_TEST

START_TEST(files_that_cannot_be_used)
{
	run r;
	run_import(&r, "", NULL, 0, NULL);
	ck_assert_int_eq(r.st.unreadable, 1);
	ck_assert_uint_eq(r.st.rows, 0);
	ck_assert_str_eq(r.err, "vb-test: in: empty file: expected a header line naming the columns\n");
	run_free(&r);

	run_import(&r, "order,customer,time\n", NULL, 0, NULL);
	ck_assert_int_eq(r.st.unreadable, 0);
	ck_assert_uint_eq(r.st.rows, 0);
	ck_assert_str_eq(r.err, "");
	run_free(&r);

	run_import(&r, "order,customer,when\n1,C-1,2026-11-20\n", NULL, 0, NULL);
	ck_assert_int_eq(r.st.unreadable, 1);
	ck_assert_msg(strstr(r.err, "vb-test: in:1: no column for time (when)") != NULL, "%s", r.err);
	ck_assert_str_eq(r.out, "");
	run_free(&r);

	run_import(&r, "order,customer,time\n1,C-1,2026-11-20\n",
	    "[columns]\ncustomer = Customer ID\n", 0, NULL);
	ck_assert_int_eq(r.st.unreadable, 1);
	ck_assert_str_eq(r.err, "vb-test: in:1: column \"Customer ID\" (customer) is not in the header\n");
	run_free(&r);
}
END_TEST

START_TEST(json_lines)
{
	run r;
	run_import(&r,
	    "{\"id\":\"a\",\"source\":\"sales\",\"type\":\"order.placed\",\"customer\":\"17850\","
	    "\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"order\":\"1\"}}\n"
	    "\n"
	    "{\"id\":\"b\",\"source\":\"service\",\"type\":\"complaint.opened\",\"customer\":\"17850\","
	    "\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"case\":\"1\"}}\n"
	    "not json\n"
	    "{\"id\":\"c\",\"source\":\"sales\",\"type\":\"order.placed\",\"customer\":\"1\","
	    "\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"order\":\"1\"}}\n"
	    "{\"id\":\"d\",\"source\":\"sales\",\"type\":\"order.placed\",\"customer\":\"17850\","
	    "\"time\":\"soon\",\"data\":{\"order\":\"1\"}}\n",
	    NULL, 1, "id,customer\n17850,C-17850\n");
	ck_assert_uint_eq(r.st.rows, 5);
	ck_assert_uint_eq(r.st.rejected, 4);
	ck_assert_msg(strstr(r.out, "\"id\":\"a\",\"source\":\"sales\",\"type\":\"order.placed\","
	    "\"customer\":\"C-17850\"") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.err, "in:3: source: \"service\": vb-test publishes sales events only") != NULL,
	    "%s", r.err);
	ck_assert_msg(strstr(r.err, "in:4: ") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "in:5: customer: \"1\" is not in the customer map") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "in:6: time: ") != NULL, "%s", r.err);
	run_free(&r);
}
END_TEST

static Suite *
import_suite(void)
{
	Suite *s = suite_create("adapter_import");
	TCase *tc = tcase_create("import");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_add_test(tc, rejected_rows_publish_nothing);
	tcase_add_test(tc, id_prefix_zone_and_customer_map);
	tcase_add_test(tc, files_that_cannot_be_used);
	tcase_add_test(tc, json_lines);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(import_suite());
}
