/* broker/vb_siphash: SipHash-2-4 against the reference vectors. */
#include <stdint.h>
#include <string.h>

#include "vb_siphash.h"
#include "vb_test.h"

/* The paper's key 00 01 .. 0f and messages 00 01 .. (len - 1): the
 * reference implementation's vectors for these lengths, covering no
 * tail, a tail of every size class and several whole words. */
START_TEST(reference_vectors)
{
	static const struct {
		size_t len;
		uint64_t h;
	} v[] = {
		{ 0, 0x726fdb47dd0e0e31ULL }, { 1, 0x74f839c593dc67fdULL },
		{ 7, 0xab0200f58b01d137ULL }, { 8, 0x93f5f5799a932462ULL },
		{ 15, 0xa129ca6149be45e5ULL }, { 16, 0x3f2acc7f57c29bdbULL },
		{ 63, 0x958a324ceb064572ULL },
	};
	uint8_t key[VB_SIPHASH_KEYSZ], msg[64];
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		ck_assert_msg(vb_siphash(key, msg, v[i].len) == v[i].h,
		    "length %zu: %016llx", v[i].len,
		    (unsigned long long)vb_siphash(key, msg, v[i].len));
}
END_TEST

/* Another key, another hash: what makes collisions unguessable. */
START_TEST(key_matters)
{
	uint8_t k1[VB_SIPHASH_KEYSZ] = { 0 }, k2[VB_SIPHASH_KEYSZ] = { 0 };
	const char *m = "[{\"purpose\":\"upsell\",\"channel\":\"email\"}]";
	k2[15] = 1;
	ck_assert(vb_siphash(k1, m, strlen(m)) != vb_siphash(k2, m, strlen(m)));
	ck_assert(vb_siphash(k1, m, strlen(m)) == vb_siphash(k1, m, strlen(m)));
	ck_assert(vb_siphash(k1, m, strlen(m)) != vb_siphash(k1, m, strlen(m) - 1));
}
END_TEST

static Suite *
siphash_suite(void)
{
	Suite *s = suite_create("siphash");
	TCase *tc = tcase_create("siphash");
	tcase_add_test(tc, reference_vectors);
	tcase_add_test(tc, key_matters);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(siphash_suite());
}
