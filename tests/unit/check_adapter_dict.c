/* Unit tests of adapters/lib/vb_ad_dict. */
#include <stdio.h>
#include <string.h>

#include "vb_ad_dict.h"
#include "vb_test.h"

START_TEST(put_get_grow)
{
	vb_ad_dict *d;
	char key[32];
	size_t v;
	ck_assert_int_eq(vb_ad_dict_new(&d), 0);
	for (size_t i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "inv-%zu", i);
		ck_assert_int_eq(vb_ad_dict_put(d, key, i, NULL), 1);
	}
	ck_assert_uint_eq(vb_ad_dict_count(d), 20000);
	for (size_t i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "inv-%zu", i);
		ck_assert_int_eq(vb_ad_dict_get(d, key, &v), 1);
		ck_assert_uint_eq(v, i);
	}
	ck_assert_int_eq(vb_ad_dict_get(d, "inv-20000", &v), 0);
	ck_assert_int_eq(vb_ad_dict_get(d, "", &v), 0);
	/* A key already there keeps its value. */
	ck_assert_int_eq(vb_ad_dict_put(d, "inv-7", 99, &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(vb_ad_dict_put(d, "", 5, NULL), 1);
	ck_assert_int_eq(vb_ad_dict_get(d, "", &v), 1);
	ck_assert_uint_eq(v, 5);
	vb_ad_dict_free(d);
	vb_ad_dict_free(NULL);
}
END_TEST

static Suite *
dict_suite(void)
{
	Suite *s = suite_create("adapter_dict");
	TCase *tc = tcase_create("dict");
	tcase_add_test(tc, put_get_grow);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(dict_suite());
}
