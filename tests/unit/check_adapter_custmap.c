/* Unit tests of adapters/lib/vb_ad_custmap. */
#include <string.h>

#include "vb_ad_custmap.h"
#include "vb_error.h"
#include "vb_test.h"

static vb_ad_custmap *
load(const char *text, int want_rv, const char *want_err)
{
	char dir[1024], path[1200], err[512] = "";
	vb_ad_custmap *m = NULL;
	vbt_mkdtemp(dir, sizeof(dir));
	vbt_write_file(dir, "map.csv", text, path, sizeof(path));
	int rv = vb_ad_custmap_load(path, &m, err, sizeof(err));
	ck_assert_msg(rv == want_rv, "rv %d: %s", rv, err);
	if (want_err) {
		ck_assert_msg(strstr(err, want_err) != NULL, "\"%s\" lacks \"%s\"", err, want_err);
		ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "%s", err);
	}
	return m;
}

START_TEST(maps_and_misses)
{
	vb_ad_custmap *m = load("zip,customer\n335XX,C-1001\n\"15206\",\" C-1002 \"\r\n"
	    "anna@example.com,C-1001\n335XX,C-1001\n", 0, NULL);
	ck_assert_uint_eq(vb_ad_custmap_count(m), 3);
	ck_assert_str_eq(vb_ad_custmap_get(m, "335XX"), "C-1001");
	ck_assert_str_eq(vb_ad_custmap_get(m, "15206"), "C-1002");
	ck_assert_str_eq(vb_ad_custmap_get(m, "anna@example.com"), "C-1001");
	ck_assert_ptr_null(vb_ad_custmap_get(m, "nobody"));
	vb_ad_custmap_free(m);
}
END_TEST

START_TEST(refused)
{
	load("zip,customer\n335XX,C-1\n335XX,C-2\n", VB_EINVAL, ":3: \"335XX\" is mapped to \"C-1\" and to \"C-2\"");
	load("zip,customer\n335XX\n", VB_EINVAL, ":2: 1 fields; expected 2");
	load("zip,customer\n,C-1\n", VB_EINVAL, ":2: the silo id is empty");
	load("zip,customer\nx,\n", VB_EINVAL, ":2: the customer id is empty");
	load("", VB_EINVAL, ": empty: expected a header line");
	load("zip,customer\n\"open,C-1\n", VB_EINVAL, ":2: csv: a quoted field is never closed");
	load("zip,customer\nx\xe9,C-1\n", VB_EINVAL, ":2: not valid UTF-8");
	char err[256];
	vb_ad_custmap *m;
	ck_assert_int_eq(vb_ad_custmap_load("/nonexistent/map.csv", &m, err, sizeof(err)), VB_EIO);
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
}
END_TEST

static Suite *
custmap_suite(void)
{
	Suite *s = suite_create("adapter_custmap");
	TCase *tc = tcase_create("custmap");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_add_test(tc, maps_and_misses);
	tcase_add_test(tc, refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(custmap_suite());
}
