/* Unit tests of adapters/lib/vb_report: the contract's error lines. */
#include <string.h>

#include "vb_report.h"
#include "vb_test.h"

START_TEST(lines_and_copy)
{
	char *a = NULL, *b = NULL;
	size_t an = 0, bn = 0;
	FILE *out = open_memstream(&a, &an), *copy = open_memstream(&b, &bn);
	vb_report r;
	vb_report_init(&r, "vb-sales", out);
	vb_reportf(&r, "orders.csv", 12, "%s: empty", "CustomerID");
	r.copy = copy;
	vb_reportf(&r, "orders.csv", 0, "rows read %d", 3);
	vb_report_msg(&r, "cannot reach the broker at %s", "ipc:///x");
	fclose(out);
	fclose(copy);
	ck_assert_str_eq(a, "vb-sales: orders.csv:12: CustomerID: empty\n"
	    "vb-sales: orders.csv: rows read 3\n"
	    "vb-sales: cannot reach the broker at ipc:///x\n");
	ck_assert_str_eq(b, "vb-sales: orders.csv: rows read 3\n"
	    "vb-sales: cannot reach the broker at ipc:///x\n");
	free(a);
	free(b);
}
END_TEST

static Suite *
report_suite(void)
{
	Suite *s = suite_create("adapter_report");
	TCase *tc = tcase_create("report");
	tcase_add_test(tc, lines_and_copy);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(report_suite());
}
