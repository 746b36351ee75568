/* broker/vb_pending: customer index entries waiting in memory. */
#include <stdio.h>
#include <string.h>

#include "vb_error.h"
#include "vb_pending.h"
#include "vb_test.h"

static size_t
get(vb_pending *p, const char *customer, uint64_t hi, uint64_t *out, size_t max)
{
	uint64_t *seqs = NULL;
	size_t n = 0, cap = 0;
	ck_assert_int_eq(vb_pending_get(p, customer, hi, &seqs, &n, &cap), 0);
	ck_assert_uint_le(n, max);
	if (n)
		memcpy(out, seqs, n * sizeof(*seqs));
	free(seqs);
	return n;
}

START_TEST(add_get_drop)
{
	vb_pending *p;
	uint64_t s[8];
	ck_assert_int_eq(vb_pending_open(&p), 0);
	ck_assert_uint_eq(get(p, "C1", UINT64_MAX, s, 8), 0);
	ck_assert_int_eq(vb_pending_add(p, "C1", 1), 1);
	ck_assert_int_eq(vb_pending_add(p, "C2", 2), 1);
	ck_assert_int_eq(vb_pending_add(p, "C1", 3), 0);
	ck_assert_int_eq(vb_pending_add(p, "C1", 5), 0);
	ck_assert_uint_eq(vb_pending_count(p), 4);
	ck_assert_uint_eq(get(p, "C1", UINT64_MAX, s, 8), 3);
	ck_assert(s[0] == 1 && s[1] == 3 && s[2] == 5);
	/* Up to hi only: a reader's snapshot ends there. */
	ck_assert_uint_eq(get(p, "C1", 4, s, 8), 2);
	ck_assert_uint_eq(get(p, "C", UINT64_MAX, s, 8), 0);
	/* An aborted transaction's entries go; an emptied customer is new
	 * again. */
	vb_pending_drop_after(p, 2);
	ck_assert_uint_eq(vb_pending_count(p), 2);
	ck_assert_uint_eq(get(p, "C1", UINT64_MAX, s, 8), 1);
	vb_pending_drop_after(p, 0);
	ck_assert_uint_eq(vb_pending_count(p), 0);
	ck_assert_int_eq(vb_pending_add(p, "C1", 7), 1);
	vb_pending_clear(p);
	ck_assert_uint_eq(vb_pending_count(p), 0);
	ck_assert_uint_eq(get(p, "C1", UINT64_MAX, s, 8), 0);
	ck_assert_int_eq(vb_pending_add(p, "C1", 8), 1);
	vb_pending_close(p);
	vb_pending_close(NULL);
}
END_TEST

typedef struct {
	char last[128];
	size_t customers, seqs;
} walk;

static int
walk_cb(void *arg, const char *customer, const uint64_t *seqs, size_t n)
{
	walk *w = arg;
	ck_assert_int_gt(strcmp(customer, w->last), 0);
	snprintf(w->last, sizeof(w->last), "%s", customer);
	for (size_t i = 1; i < n; i++)
		ck_assert_uint_gt(seqs[i], seqs[i - 1]);
	w->customers++;
	w->seqs += n;
	return 0;
}

START_TEST(many_customers_sorted)
{
	vb_pending *p;
	char c[32];
	uint64_t s[16];
	ck_assert_int_eq(vb_pending_open(&p), 0);
	/* Enough to grow the table several times. */
	for (uint64_t seq = 1; seq <= 50000; seq++) {
		snprintf(c, sizeof(c), "C-%05u", (unsigned)((seq * 7919) % 10007));
		ck_assert_int_ge(vb_pending_add(p, c, seq), 0);
	}
	ck_assert_uint_eq(vb_pending_count(p), 50000);
	walk w = { "", 0, 0 };
	ck_assert_int_eq(vb_pending_each_sorted(p, walk_cb, &w), 0);
	ck_assert_uint_eq(w.customers, 10007);
	ck_assert_uint_eq(w.seqs, 50000);
	snprintf(c, sizeof(c), "C-%05u", 7919u);  /* seq 1, 10008, ... */
	ck_assert_uint_ge(get(p, c, UINT64_MAX, s, 16), 4);
	ck_assert_uint_eq(s[0], 1);
	ck_assert_uint_eq(s[1], 10008);
	vb_pending_close(p);
}
END_TEST

/* Names of every shape the sort meets: a long shared prefix, names
 * shorter than eight bytes past it, names equal in those eight bytes and
 * told apart only after them, bytes above 0x7f.  Seeded; the walk checks
 * strcmp order and that none is lost. */
START_TEST(sort_of_any_names)
{
	vbt_rng r = { vbt_seed("sort_of_any_names") };
	static const char *const prefixes[] = { "", "zd-0000", "C-", "E00000000" };
	for (int round = 0; round < 40; round++) {
		vb_pending *p;
		char c[64];
		const char *pre = prefixes[round % 4];
		size_t n = (size_t)vbt_rand_range(&r, 1, 3000), added = 0;
		ck_assert_int_eq(vb_pending_open(&p), 0);
		for (size_t i = 0; i < n; i++) {
			/* Every third round two letters and longer names:
			 * many share 8, 16, 24 bytes past the prefix. */
			int two = round % 3 == 0;
			size_t len = strlen(pre);
			size_t tail = (size_t)vbt_rand_range(&r, 1, two ? 40 : 20);
			memcpy(c, pre, len);
			for (size_t j = 0; j < tail; j++) {
				/* Few letters: many names share their first bytes. */
				int v = (int)vbt_rand_range(&r, two ? 4 : 0, 5);
				c[len + j] = v == 5 ? (char)0xe9 : (char)('a' + v);
			}
			c[len + tail] = '\0';
			if (vb_pending_add(p, c, i + 1) == 1)
				added++;
		}
		walk w = { "", 0, 0 };
		ck_assert_int_eq(vb_pending_each_sorted(p, walk_cb, &w), 0);
		ck_assert_uint_eq(w.customers, added);
		ck_assert_uint_eq(w.seqs, n);
		vb_pending_close(p);
	}
}
END_TEST

/* The first seqs of a customer live in its slot and its name in a pool:
 * both must survive the table growing under them, and a name bigger than
 * a pool block must fit. */
START_TEST(slots_move_with_their_seqs)
{
	vb_pending *p;
	char c[32];
	uint64_t s[4];
	static char big[100 * 1024];
	ck_assert_int_eq(vb_pending_open(&p), 0);
	memset(big, 'b', sizeof(big) - 1);
	ck_assert_int_eq(vb_pending_add(p, big, 1), 1);
	for (unsigned i = 0; i < 20000; i++) {
		snprintf(c, sizeof(c), "C-%u", i);
		ck_assert_int_eq(vb_pending_add(p, c, 2 + 2 * (uint64_t)i), 1);
		if (i % 3 == 0)
			ck_assert_int_eq(vb_pending_add(p, c, 3 + 2 * (uint64_t)i), 0);
	}
	for (unsigned i = 0; i < 20000; i++) {
		snprintf(c, sizeof(c), "C-%u", i);
		size_t n = get(p, c, UINT64_MAX, s, 4);
		ck_assert_uint_eq(n, i % 3 == 0 ? 2 : 1);
		ck_assert_uint_eq(s[0], 2 + 2 * (uint64_t)i);
		if (n == 2)
			ck_assert_uint_eq(s[1], 3 + 2 * (uint64_t)i);
	}
	ck_assert_uint_eq(get(p, big, UINT64_MAX, s, 4), 1);
	ck_assert_uint_eq(s[0], 1);
	vb_pending_close(p);
}
END_TEST

/* Rounds of entries between clears, as between the writer's folds: the
 * table is kept (and emptied) for a round as big, let go after a small
 * one; nothing of a round is seen in the next, in either case. */
START_TEST(rounds_across_clears)
{
	vb_pending *p;
	char c[32];
	uint64_t s[4];
	const unsigned sizes[] = { 30000, 30000, 100, 30000, 5 };
	uint64_t seq = 0;
	ck_assert_int_eq(vb_pending_open(&p), 0);
	for (size_t r = 0; r < sizeof(sizes) / sizeof(sizes[0]); r++) {
		for (unsigned i = 0; i < sizes[r]; i++) {
			snprintf(c, sizeof(c), "R%zu-%u", r % 2, i);
			ck_assert_int_eq(vb_pending_add(p, c, ++seq), 1);
			if (i % 5 == 0)
				ck_assert_int_eq(vb_pending_add(p, c, ++seq), 0);
		}
		ck_assert_uint_eq(vb_pending_count(p), sizes[r] + (sizes[r] + 4) / 5);
		walk w = { "", 0, 0 };
		ck_assert_int_eq(vb_pending_each_sorted(p, walk_cb, &w), 0);
		ck_assert_uint_eq(w.customers, sizes[r]);
		snprintf(c, sizeof(c), "R%zu-%u", r % 2, sizes[r] - 1);
		ck_assert_uint_eq(get(p, c, UINT64_MAX, s, 4), (sizes[r] - 1) % 5 ? 1 : 2);
		vb_pending_clear(p);
		ck_assert_uint_eq(vb_pending_count(p), 0);
		ck_assert_uint_eq(get(p, c, UINT64_MAX, s, 4), 0);
		snprintf(c, sizeof(c), "R%zu-0", r % 2);
		ck_assert_uint_eq(get(p, c, UINT64_MAX, s, 4), 0);
	}
	vb_pending_close(p);
}
END_TEST

/* Keys hashed by the caller (the ids, by SipHash): found by the same
 * hash, also when many share it and the table grows over them. */
START_TEST(caller_hash)
{
	vb_pending *p;
	char c[32];
	uint64_t seq;
	ck_assert_int_eq(vb_pending_open(&p), 0);
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(c, sizeof(c), "id-%u", i);
		ck_assert_int_eq(vb_pending_add_h(p, c, i % 7, 10 + i), 1);
	}
	ck_assert_int_eq(vb_pending_add_h(p, "id-3", 3, 9000), 0);
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(c, sizeof(c), "id-%u", i);
		ck_assert_int_eq(vb_pending_first_h(p, c, i % 7, &seq), 1);
		ck_assert_uint_eq(seq, 10 + i);
	}
	ck_assert_int_eq(vb_pending_first_h(p, "id-5000", 5000 % 7, &seq), 0);
	ck_assert_uint_eq(vb_pending_count(p), 5001);
	walk w = { "", 0, 0 };
	ck_assert_int_eq(vb_pending_each_sorted(p, walk_cb, &w), 0);
	ck_assert_uint_eq(w.customers, 5000);
	vb_pending_drop_after(p, 10 + 2499);
	ck_assert_int_eq(vb_pending_first_h(p, "id-2499", 2499 % 7, &seq), 1);
	ck_assert_int_eq(vb_pending_first_h(p, "id-2500", 2500 % 7, &seq), 0);
	vb_pending_close(p);
}
END_TEST

/* vb_pending_hash is the hash vb_pending_add takes (the writer hashes
 * customers ahead, to prefetch their slots): keys added either way are
 * found either way.  Prefetching a slot, of a table not made yet as well,
 * changes nothing. */
START_TEST(hash_is_adds)
{
	vb_pending *p;
	char c[32];
	uint64_t seq;
	ck_assert_int_eq(vb_pending_open(&p), 0);
	vb_pending_prefetch(p, vb_pending_hash("C-0"));
	for (unsigned i = 0; i < 3000; i++) {
		snprintf(c, sizeof(c), "C-%u", i);
		vb_pending_prefetch(p, vb_pending_hash(c));
		if (i % 2)
			ck_assert_int_eq(vb_pending_add(p, c, 10 + i), 1);
		else
			ck_assert_int_eq(vb_pending_add_h(p, c, vb_pending_hash(c), 10 + i), 1);
	}
	for (unsigned i = 0; i < 3000; i++) {
		snprintf(c, sizeof(c), "C-%u", i);
		ck_assert_int_eq(vb_pending_first_h(p, c, vb_pending_hash(c), &seq), 1);
		ck_assert_uint_eq(seq, 10 + i);
		ck_assert_int_eq(vb_pending_first(p, c, &seq), 1);
		ck_assert_uint_eq(seq, 10 + i);
	}
	ck_assert_uint_eq(vb_pending_count(p), 3000);
	vb_pending_close(p);
}
END_TEST

static Suite *
pending_suite(void)
{
	Suite *s = suite_create("pending");
	TCase *tc = tcase_create("pending");
	tcase_add_test(tc, add_get_drop);
	tcase_add_test(tc, many_customers_sorted);
	tcase_add_test(tc, sort_of_any_names);
	tcase_add_test(tc, slots_move_with_their_seqs);
	tcase_add_test(tc, rounds_across_clears);
	tcase_add_test(tc, caller_hash);
	tcase_add_test(tc, hash_is_adds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(pending_suite());
}
