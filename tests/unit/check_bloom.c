/* broker/vb_bloom: no hash added is ever answered "no"; others are
 * "maybe" rarely at the design load; growth stays within its bytes. */
#include <stdint.h>

#include "vb_bloom.h"
#include "vb_error.h"
#include "vb_test.h"

#define MiB (1024 * 1024)

/* splitmix64: distinct, uniformly spread hashes from a counter, as a
 * keyed SipHash of distinct ids gives. */
static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The share of n hashes never added (counter values from `from`) that b
 * answers "maybe" for. */
static double
false_rate(const vb_bloom *b, uint64_t from, uint64_t n)
{
	uint64_t maybe = 0;
	for (uint64_t i = from; i < from + n; i++)
		maybe += (uint64_t)vb_bloom_maybe(b, mix(i));
	return (double)maybe / (double)n;
}

/* Whether b says "maybe" for every hash of counter values [from, to). */
static void
all_there(const vb_bloom *b, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++)
		ck_assert_msg(vb_bloom_maybe(b, mix(i)), "hash %llu lost",
		    (unsigned long long)i);
}

/* One stage at its load: about 1 in 150 others is "maybe". */
START_TEST(rare_maybe_at_load)
{
	vb_bloom *b;
	ck_assert_int_eq(vb_bloom_open(&b, 500000, 64 * MiB), VB_OK);
	size_t bytes = vb_bloom_bytes(b);
	for (uint64_t i = 0; i < 500000; i++)
		vb_bloom_add(b, mix(i));
	ck_assert_uint_eq(vb_bloom_bytes(b), bytes); /* sized for them */
	all_there(b, 0, 500000);
	double r = false_rate(b, 1ull << 40, 300000);
	ck_assert_msg(r < 0.01, "%.4f maybe", r);
	vb_bloom_close(b);
}
END_TEST

/* From the broker's first stage (1,024 blocks) up to a million hashes:
 * every one still there, stages added as it fills, and the others rarely
 * "maybe" for all the stages. */
START_TEST(grows_and_loses_nothing)
{
	vb_bloom *b;
	ck_assert_int_eq(vb_bloom_open(&b, 40000, 64 * MiB), VB_OK);
	ck_assert_uint_eq(vb_bloom_bytes(b), 64 * 1024);
	/* Prefetching, as the writer does ahead of its adds, changes
	 * nothing, whatever the stages. */
	for (uint64_t i = 0; i < 1000000; i++) {
		vb_bloom_prefetch(b, mix(i + 8));
		vb_bloom_add(b, mix(i));
	}
	all_there(b, 0, 1000000);
	/* Stages of 64, 128 ... 2,048 KiB: at most twice what it holds. */
	ck_assert_uint_le(vb_bloom_bytes(b), 4 * MiB);
	double r = false_rate(b, 1ull << 40, 300000);
	ck_assert_msg(r < 0.05, "%.4f maybe", r);
	vb_bloom_close(b);
}
END_TEST

/* Past max_bytes it adds no stage: more "maybe", never a wrong "no". */
START_TEST(full_filter_says_maybe_not_no)
{
	vb_bloom *b;
	ck_assert_int_eq(vb_bloom_open(&b, 1000000, 64 * 1024), VB_OK);
	ck_assert_uint_eq(vb_bloom_bytes(b), 64 * 1024); /* capped */
	for (uint64_t i = 0; i < 300000; i++)
		vb_bloom_add(b, mix(i));
	ck_assert_uint_eq(vb_bloom_bytes(b), 64 * 1024);
	all_there(b, 0, 300000);
	ck_assert(false_rate(b, 1ull << 40, 100000) > 0.5);
	vb_bloom_close(b);
}
END_TEST

/* A merged filter answers for both; the adds after go to the newest
 * stage of the one merged into, and its budget covers both. */
START_TEST(merge_keeps_both)
{
	vb_bloom *a, *b;
	ck_assert_int_eq(vb_bloom_open(&a, 1000, 1 * MiB), VB_OK);
	ck_assert_int_eq(vb_bloom_open(&b, 100000, 1 * MiB), VB_OK);
	for (uint64_t i = 0; i < 1000; i++)
		vb_bloom_add(a, mix(i));
	for (uint64_t i = 1000; i < 101000; i++)
		vb_bloom_add(b, mix(i));
	size_t sum = vb_bloom_bytes(a) + vb_bloom_bytes(b);
	ck_assert_int_eq(vb_bloom_merge(a, b), VB_OK);
	ck_assert_uint_eq(vb_bloom_bytes(a), sum);
	for (uint64_t i = 101000; i < 400000; i++)
		vb_bloom_add(a, mix(i));
	all_there(a, 0, 400000);
	ck_assert_uint_le(vb_bloom_bytes(a), 1 * MiB);
	ck_assert(false_rate(a, 1ull << 40, 100000) < 0.05);
	vb_bloom_close(a);
}
END_TEST

static Suite *
bloom_suite(void)
{
	Suite *s = suite_create("bloom");
	TCase *tc = tcase_create("bloom");
	/* Millions of hashes: some 30 s with the sanitizers. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, rare_maybe_at_load);
	tcase_add_test(tc, grows_and_loses_nothing);
	tcase_add_test(tc, full_filter_says_maybe_not_no);
	tcase_add_test(tc, merge_keeps_both);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(bloom_suite());
}
