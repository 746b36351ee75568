/* Unit tests of common/vb_buf: the growable buffer and protobuf varints. */
#include <stdint.h>
#include <string.h>

#include "vb_buf.h"
#include "vb_error.h"
#include "vb_test.h"

/* ---- buffer ---- */

START_TEST(zeroed_is_empty)
{
	vb_buf b = { 0 };
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(vb_buf_append(&b, "", 0), 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_uint_eq(b.data[0], 0); /* NUL-terminated even when empty */
	vb_buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	/* Freeing twice, or a buffer never used, is fine. */
	vb_buf_free(&b);
}
END_TEST

START_TEST(append_kinds)
{
	vb_buf b = { 0 };
	ck_assert_int_eq(vb_buf_append(&b, "abc", 3), 0);
	ck_assert_int_eq(vb_buf_append_str(&b, "def"), 0);
	ck_assert_int_eq(vb_buf_append_byte(&b, 'g'), 0);
	ck_assert_int_eq(vb_buf_append_byte(&b, 0), 0);
	ck_assert_int_eq(vb_buf_append(&b, "\xff\x00h", 3), 0);
	ck_assert_uint_eq(b.len, 11);
	ck_assert_mem_eq(b.data, "abcdefg\0\xff\0h", 11);
	ck_assert_uint_eq(b.data[b.len], 0);
	ck_assert_uint_ge(b.cap, b.len + 1);
	vb_buf_free(&b);
}
END_TEST

START_TEST(append_grows_and_keeps_content)
{
	vb_buf b = { 0 };
	vbt_rng r = { vbt_seed("append_grows_and_keeps_content") };
	uint8_t *want = malloc(4u << 20);
	size_t n = 0;

	ck_assert_ptr_nonnull(want);
	while (n < (4u << 20) - 70000) {
		uint8_t chunk[65536];
		size_t k = (size_t)vbt_rand_range(&r, 0, sizeof(chunk));
		for (size_t i = 0; i < k; i++)
			chunk[i] = (uint8_t)vbt_rand(&r);
		ck_assert_int_eq(vb_buf_append(&b, chunk, k), 0);
		memcpy(want + n, chunk, k);
		n += k;
		ck_assert_uint_eq(b.len, n);
		ck_assert_uint_eq(b.data[b.len], 0);
	}
	ck_assert_mem_eq(b.data, want, n);
	free(want);
	vb_buf_free(&b);
}
END_TEST

START_TEST(one_big_append)
{
	vb_buf b = { 0 };
	size_t n = 3u << 20;
	char *p = malloc(n);
	ck_assert_ptr_nonnull(p);
	memset(p, 'x', n);
	ck_assert_int_eq(vb_buf_append_byte(&b, 'a'), 0);
	ck_assert_int_eq(vb_buf_append(&b, p, n), 0);
	ck_assert_uint_eq(b.len, n + 1);
	ck_assert_uint_eq(b.data[0], 'a');
	ck_assert_mem_eq(b.data + 1, p, n);
	free(p);
	vb_buf_free(&b);
}
END_TEST

START_TEST(reserve_and_reset)
{
	vb_buf b = { 0 };
	ck_assert_int_eq(vb_buf_append_str(&b, "hello"), 0);
	ck_assert_int_eq(vb_buf_reserve(&b, 10000), 0);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_uint_ge(b.cap - b.len, 10000);
	ck_assert_mem_eq(b.data, "hello", 5);
	/* Room made is room kept: appending within it does not move data. */
	uint8_t *before = b.data;
	size_t cap = b.cap;
	for (int i = 0; i < 9000; i++)
		ck_assert_int_eq(vb_buf_append_byte(&b, 'z'), 0);
	ck_assert_ptr_eq(b.data, before);
	ck_assert_uint_eq(b.cap, cap);
	/* Reset empties but keeps the memory for reuse. */
	vb_buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_int_eq(vb_buf_append_str(&b, "again"), 0);
	ck_assert_str_eq((char *)b.data, "again");
	ck_assert_int_eq(vb_buf_reserve(&b, 0), 0);
	vb_buf_free(&b);
}
END_TEST

START_TEST(reserve_impossible)
{
	vb_buf b = { 0 };
	ck_assert_int_eq(vb_buf_append_str(&b, "keep"), 0);
	/* More than memory can hold: VB_ENOMEM and the buffer unchanged. */
	ck_assert_int_eq(vb_buf_reserve(&b, SIZE_MAX - 16), VB_ENOMEM);
	ck_assert_uint_eq(b.len, 4);
	ck_assert_str_eq((char *)b.data, "keep");
	vb_buf_free(&b);
}
END_TEST

/* ---- varints ---- */

typedef struct {
	uint64_t v;
	size_t len;
	const char *bytes;
} varint_case;

static const varint_case varints[] = {
	{ 0, 1, "\x00" },
	{ 1, 1, "\x01" },
	{ 127, 1, "\x7f" },
	{ 128, 2, "\x80\x01" },
	{ 150, 2, "\x96\x01" }, /* protobuf's documentation example */
	{ 300, 2, "\xac\x02" },
	{ 16383, 2, "\xff\x7f" },
	{ 16384, 3, "\x80\x80\x01" },
	{ 2097151, 3, "\xff\xff\x7f" },
	{ 2097152, 4, "\x80\x80\x80\x01" },
	{ UINT32_MAX, 5, "\xff\xff\xff\xff\x0f" },
	{ (uint64_t)1 << 35, 6, "\x80\x80\x80\x80\x80\x01" },
	{ ((uint64_t)1 << 56) - 1, 8, "\xff\xff\xff\xff\xff\xff\xff\x7f" },
	{ (uint64_t)1 << 56, 9, "\x80\x80\x80\x80\x80\x80\x80\x80\x01" },
	{ ((uint64_t)1 << 63) - 1, 9, "\xff\xff\xff\xff\xff\xff\xff\xff\x7f" },
	{ (uint64_t)1 << 63, 10, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01" },
	{ UINT64_MAX, 10, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" },
	/* -1 as an int64 field: what protobuf writes for negative numbers. */
	{ (uint64_t)-1, 10, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" },
};

#define NVARINTS (sizeof(varints) / sizeof(varints[0]))

START_TEST(varint_known_encodings)
{
	const varint_case *c = &varints[_i];
	vb_buf b = { 0 };
	uint64_t v = 12345;

	ck_assert_int_eq(vb_buf_append_varint(&b, c->v), 0);
	ck_assert_uint_eq(b.len, c->len);
	ck_assert_mem_eq(b.data, c->bytes, c->len);
	ck_assert_uint_eq(vb_varint_decode(b.data, b.len, &v), c->len);
	ck_assert_uint_eq(v, c->v);
	vb_buf_free(&b);
	/* The same bytes in place, and none past them. */
	uint8_t raw[12];
	memset(raw, 0xee, sizeof(raw));
	ck_assert_uint_eq(vb_varint_put(raw, c->v), c->len);
	ck_assert_mem_eq(raw, c->bytes, c->len);
	for (size_t k = c->len; k < sizeof(raw); k++)
		ck_assert_uint_eq(raw[k], 0xee);
}
END_TEST

START_TEST(varint_truncated)
{
	const varint_case *c = &varints[_i];
	uint64_t v = 777;
	/* Every proper prefix of an encoding is incomplete. */
	for (size_t n = 0; n < c->len; n++) {
		ck_assert_uint_eq(vb_varint_decode((const uint8_t *)c->bytes, n, &v), 0);
		ck_assert_uint_eq(v, 777);
	}
}
END_TEST

START_TEST(varint_lengths_every_bit)
{
	vb_buf b = { 0 };
	for (int bits = 0; bits <= 64; bits++) {
		uint64_t vs[3] = {
			bits == 64 ? UINT64_MAX : (((uint64_t)1 << bits) - 1),
			bits < 64 ? (uint64_t)1 << bits : 0,
			bits > 0 ? (uint64_t)1 << (bits - 1) : 0,
		};
		for (int k = 0; k < 3; k++) {
			uint64_t v = vs[k], got = 0;
			size_t want = 1;
			for (uint64_t t = v >> 7; t; t >>= 7)
				want++;
			vb_buf_reset(&b);
			ck_assert_int_eq(vb_buf_append_varint(&b, v), 0);
			ck_assert_uint_eq(b.len, want);
			ck_assert_uint_eq(vb_varint_len(v), want);
			ck_assert_uint_le(b.len, 10);
			/* Continuation bits on all but the last byte. */
			for (size_t i = 0; i + 1 < b.len; i++)
				ck_assert_uint_eq(b.data[i] & 0x80, 0x80);
			ck_assert_uint_eq(b.data[b.len - 1] & 0x80, 0);
			ck_assert_uint_eq(vb_varint_decode(b.data, b.len, &got), want);
			ck_assert_uint_eq(got, v);
		}
	}
	vb_buf_free(&b);
}
END_TEST

START_TEST(varint_decode_stops_at_end)
{
	/* Bytes after the varint are not read into it. */
	const uint8_t p[] = { 0xac, 0x02, 0xff, 0xff, 0x01 };
	uint64_t v = 0;
	ck_assert_uint_eq(vb_varint_decode(p, sizeof(p), &v), 2);
	ck_assert_uint_eq(v, 300);
	ck_assert_uint_eq(vb_varint_decode(p + 2, 3, &v), 3);
	ck_assert_uint_eq(v, 0x7fff);
}
END_TEST

START_TEST(varint_too_long)
{
	uint8_t p[16];
	uint64_t v = 99;
	/* Eleven bytes: ten continuation bytes and a terminator. */
	memset(p, 0x80, sizeof(p));
	p[10] = 0x00;
	ck_assert_uint_eq(vb_varint_decode(p, 11, &v), 0);
	/* Ten bytes, all with the continuation bit. */
	ck_assert_uint_eq(vb_varint_decode(p, 10, &v), 0);
	/* Sixteen continuation bytes. */
	ck_assert_uint_eq(vb_varint_decode(p, sizeof(p), &v), 0);
	ck_assert_uint_eq(v, 99);
	/* A padded but legal ten-byte encoding of 0 decodes. */
	p[9] = 0x00;
	ck_assert_uint_eq(vb_varint_decode(p, 10, &v), 10);
	ck_assert_uint_eq(v, 0);
}
END_TEST

START_TEST(varint_random_stream)
{
	vbt_rng r = { vbt_seed("varint_random_stream") };
	vb_buf b = { 0 };
	enum { N = 20000 };
	uint64_t *vals = malloc(N * sizeof(*vals));
	size_t off = 0;

	ck_assert_ptr_nonnull(vals);
	ck_assert_int_eq(vb_buf_append_str(&b, "hdr"), 0);
	for (int i = 0; i < N; i++) {
		int bits = (int)vbt_rand_range(&r, 0, 64);
		uint64_t v = vbt_rand(&r);
		vals[i] = bits == 64 ? v : v & (((uint64_t)1 << bits) - 1);
		ck_assert_int_eq(vb_buf_append_varint(&b, vals[i]), 0);
	}
	off = 3;
	for (int i = 0; i < N; i++) {
		uint64_t v;
		size_t n = vb_varint_decode(b.data + off, b.len - off, &v);
		ck_assert_msg(n >= 1 && n <= 10, "varint %d: n=%zu", i, n);
		ck_assert_uint_eq(v, vals[i]);
		off += n;
	}
	ck_assert_uint_eq(off, b.len);
	free(vals);
	vb_buf_free(&b);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buffer");
	tcase_add_test(tc, zeroed_is_empty);
	tcase_add_test(tc, append_kinds);
	tcase_add_test(tc, append_grows_and_keeps_content);
	tcase_add_test(tc, one_big_append);
	tcase_add_test(tc, reserve_and_reset);
	tcase_add_test(tc, reserve_impossible);
	suite_add_tcase(s, tc);

	tc = tcase_create("varint");
	tcase_add_loop_test(tc, varint_known_encodings, 0, NVARINTS);
	tcase_add_loop_test(tc, varint_truncated, 0, NVARINTS);
	tcase_add_test(tc, varint_lengths_every_bit);
	tcase_add_test(tc, varint_decode_stops_at_end);
	tcase_add_test(tc, varint_too_long);
	tcase_add_test(tc, varint_random_stream);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(buf_suite());
}
