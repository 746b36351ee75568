/* Unit tests of common/vb_arena: bump allocation released all at once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vb_arena.h"
#include "vb_test.h"

START_TEST(zeroed_is_empty)
{
	vb_arena a = { 0 };
	vb_arena_reset(&a);
	vb_arena_free(&a);
	char *p = vb_arena_alloc(&a, 5);
	ck_assert_ptr_nonnull(p);
	memcpy(p, "abcd", 5);
	ck_assert_str_eq(p, "abcd");
	vb_arena_free(&a);
	ck_assert_ptr_null(a.chunks);
	ck_assert_uint_eq(a.given, 0);
	vb_arena_free(&a); /* twice is fine */
}
END_TEST

/* Blocks are aligned, never overlap, and keep what was written in them
 * until the reset, across many chunks. */
START_TEST(blocks_are_aligned_and_distinct)
{
	vbt_rng r = { vbt_seed("blocks_are_aligned_and_distinct") };
	vb_arena a = { 0 };
	enum { N = 5000 };
	uint8_t **ps = calloc(N, sizeof(*ps));
	size_t *ns = calloc(N, sizeof(*ns)), given = 0;

	ck_assert_ptr_nonnull(ps);
	ck_assert_ptr_nonnull(ns);
	for (int round = 0; round < 3; round++) {
		given = 0;
		for (size_t i = 0; i < N; i++) {
			/* Mostly small, now and then bigger than a whole chunk. */
			ns[i] = (size_t)(vbt_rand(&r) % 50 ? vbt_rand_range(&r, 0, 300)
			    : vbt_rand_range(&r, 10000, 100000));
			ps[i] = vb_arena_alloc(&a, ns[i]);
			ck_assert_ptr_nonnull(ps[i]);
			ck_assert_uint_eq((uintptr_t)ps[i] % VB_ARENA_ALIGN, 0);
			memset(ps[i], (int)(i & 0xff), ns[i]);
			given += ns[i];
		}
		ck_assert_uint_eq(a.given, given);
		for (size_t i = 0; i < N; i++) {
			size_t k = 0;
			while (k < ns[i] && ps[i][k] == (i & 0xff))
				k++;
			ck_assert_uint_eq(k, ns[i]);
		}
		vb_arena_reset(&a);
		ck_assert_uint_eq(a.given, 0);
	}
	vb_arena_free(&a);
	free(ps);
	free(ns);
}
END_TEST

START_TEST(zero_bytes_is_a_unique_pointer)
{
	vb_arena a = { 0 };
	void *p = vb_arena_alloc(&a, 0), *q = vb_arena_alloc(&a, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_ne(p, q);
	ck_assert_uint_eq(a.given, 0);
	vb_arena_free(&a);
}
END_TEST

/* The limit counts the bytes asked for (not the rounding), is kept across
 * a reset, and a refusal is said in over until the reset. */
START_TEST(limit_counts_bytes_asked)
{
	vb_arena a = { 0 };
	a.limit = 100;
	ck_assert_ptr_nonnull(vb_arena_alloc(&a, 33));
	ck_assert_ptr_nonnull(vb_arena_alloc(&a, 33));
	ck_assert_ptr_nonnull(vb_arena_alloc(&a, 33));
	ck_assert_int_eq(a.over, 0);
	ck_assert_ptr_null(vb_arena_alloc(&a, 2));
	ck_assert_int_eq(a.over, 1);
	ck_assert_ptr_nonnull(vb_arena_alloc(&a, 1)); /* exactly at the limit */
	ck_assert_ptr_null(vb_arena_alloc(&a, 1));
	vb_arena_reset(&a);
	ck_assert_int_eq(a.over, 0);
	ck_assert_uint_eq(a.limit, 100);
	ck_assert_ptr_nonnull(vb_arena_alloc(&a, 100));
	ck_assert_ptr_null(vb_arena_alloc(&a, SIZE_MAX));
	a.limit = 0;
	ck_assert_ptr_null(vb_arena_alloc(&a, SIZE_MAX)); /* no limit, no memory */
	vb_arena_free(&a);
	ck_assert_uint_eq(a.limit, 0);
}
END_TEST

/* The same work after a reset fits in the chunk kept: no new chunk once
 * the arena has seen the size, so steady load stops calling malloc. */
START_TEST(reset_keeps_one_chunk_that_fits)
{
	vb_arena a = { 0 };
	vb_arena_chunk *kept = NULL;
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 2000; i++)
			ck_assert_ptr_nonnull(vb_arena_alloc(&a, 40));
		if (round >= 2)
			ck_assert_ptr_eq(a.chunks, kept);
		vb_arena_reset(&a);
		ck_assert_ptr_nonnull(a.chunks);
		kept = a.chunks;
	}
	vb_arena_free(&a);
}
END_TEST

START_TEST(reset_drops_a_huge_chunk)
{
	vb_arena a = { 0 };
	ck_assert_ptr_nonnull(vb_arena_alloc(&a, VB_ARENA_KEEP_MAX + 1));
	vb_arena_reset(&a);
	ck_assert_ptr_null(a.chunks);
	ck_assert_ptr_nonnull(vb_arena_alloc(&a, 10));
	vb_arena_free(&a);
}
END_TEST

/* A chosen keep lowers the line: a chunk above it goes at the reset, one
 * at or below it stays. */
START_TEST(reset_honours_keep)
{
	vb_arena a = { .keep = 64u << 10 };
	ck_assert_ptr_nonnull(vb_arena_alloc(&a, (64u << 10) + 1));
	vb_arena_reset(&a);
	ck_assert_ptr_null(a.chunks);
	ck_assert_ptr_nonnull(vb_arena_alloc(&a, 1000));
	vb_arena_reset(&a);
	ck_assert_ptr_nonnull(a.chunks);
	vb_arena_free(&a);
}
END_TEST

/* A rollback takes back what came after the mark, chunks and all, and
 * keeps what came before; the count of bytes given goes back too. */
START_TEST(rollback_to_a_mark)
{
	vb_arena a = { 0 };
	vb_arena_mark m;
	char *keep = vb_arena_alloc(&a, 100);
	ck_assert_ptr_nonnull(keep);
	memset(keep, 'k', 100);
	vb_arena_mark_here(&a, &m);
	/* Past the first chunk: new chunks, freed by the rollback (ASan
	 * would see them leak otherwise). */
	for (int i = 0; i < 100; i++)
		ck_assert_ptr_nonnull(vb_arena_alloc(&a, 10000));
	ck_assert_uint_eq(a.given, 100 + 100 * 10000);
	vb_arena_rollback(&a, &m);
	ck_assert_uint_eq(a.given, 100);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(keep[i], 'k');
	/* The next block comes right after the kept one, as before. */
	char *next = vb_arena_alloc(&a, 1);
	ck_assert_ptr_eq(next, keep + 112);
	/* A mark on an empty arena: everything goes. */
	vb_arena_reset(&a);
	vb_arena_free(&a);
	vb_arena_mark_here(&a, &m);
	ck_assert_ptr_nonnull(vb_arena_alloc(&a, 50000));
	vb_arena_rollback(&a, &m);
	ck_assert_ptr_null(a.chunks);
	ck_assert_uint_eq(a.given, 0);
	vb_arena_free(&a);
}
END_TEST

static Suite *
arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("arena");
	tcase_add_test(tc, zeroed_is_empty);
	tcase_add_test(tc, blocks_are_aligned_and_distinct);
	tcase_add_test(tc, zero_bytes_is_a_unique_pointer);
	tcase_add_test(tc, limit_counts_bytes_asked);
	tcase_add_test(tc, reset_keeps_one_chunk_that_fits);
	tcase_add_test(tc, reset_drops_a_huge_chunk);
	tcase_add_test(tc, reset_honours_keep);
	tcase_add_test(tc, rollback_to_a_mark);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(arena_suite());
}
