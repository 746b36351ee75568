/* common/vb_token: making, hashing and finding client tokens. */
#include <string.h>
#include <sys/stat.h>

#include "vb_error.h"
#include "vb_test.h"
#include "vb_token.h"

START_TEST(sha256_vectors)
{
	char hex[65];
	/* FIPS 180-2 examples. */
	vb_token_hash_hex("abc", 3, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	vb_token_hash_hex("", 0, hex);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	vb_token_hash_hex(m, strlen(m), hex);
	ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(new_tokens)
{
	char a[64], b[64];
	ck_assert_int_eq(vb_token_new(a, sizeof(a)), 0);
	ck_assert_int_eq(vb_token_new(b, sizeof(b)), 0);
	ck_assert_uint_eq(strlen(a), 4 + 43);
	ck_assert(strncmp(a, "vbt_", 4) == 0);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(strspn(a + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	ck_assert_int_eq(vb_token_new(a, 40), VB_EINVAL);
}
END_TEST

START_TEST(read_file)
{
	char dir[] = "/tmp/vb-token-XXXXXX", path[128], tok[VB_TOKEN_MAX + 1], err[256];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t", dir);
	FILE *f = fopen(path, "w");
	fputs("  vbt_abc \r\nsecond line\n", f);
	fclose(f);
	chmod(path, 0600);
	ck_assert_int_eq(vb_token_read_file(path, tok, sizeof(tok), err, sizeof(err)), 0);
	ck_assert_str_eq(tok, "vbt_abc");
	chmod(path, 0640);
	ck_assert_int_eq(vb_token_read_file(path, tok, sizeof(tok), err, sizeof(err)), 0);
	chmod(path, 0644);
	ck_assert_int_eq(vb_token_read_file(path, tok, sizeof(tok), err, sizeof(err)), VB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "readable by every user"));
	f = fopen(path, "w");
	fputs("\n", f);
	fclose(f);
	chmod(path, 0600);
	ck_assert_int_eq(vb_token_read_file(path, tok, sizeof(tok), err, sizeof(err)), VB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, ":1: token: empty"));
	unlink(path);
	ck_assert_int_eq(vb_token_read_file(path, tok, sizeof(tok), err, sizeof(err)), VB_EIO);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	rmdir(dir);
}
END_TEST

START_TEST(find_env_or_file)
{
	char tok[VB_TOKEN_MAX + 1], err[256];
	unsetenv(VB_TOKEN_ENV);
	ck_assert_int_eq(vb_token_find(NULL, tok, sizeof(tok), err, sizeof(err)), 0);
	ck_assert_str_eq(tok, "");
	setenv(VB_TOKEN_ENV, "vbt_env", 1);
	ck_assert_int_eq(vb_token_find(NULL, tok, sizeof(tok), err, sizeof(err)), 0);
	ck_assert_str_eq(tok, "vbt_env");
	/* A file given wins over the environment. */
	ck_assert_int_eq(vb_token_find("/nonexistent/t", tok, sizeof(tok), err, sizeof(err)), VB_EIO);
	char big[VB_TOKEN_MAX + 10];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	setenv(VB_TOKEN_ENV, big, 1);
	ck_assert_int_eq(vb_token_find(NULL, tok, sizeof(tok), err, sizeof(err)), VB_EINVAL);
	unsetenv(VB_TOKEN_ENV);
}
END_TEST

static Suite *
token_suite(void)
{
	Suite *s = suite_create("token");
	TCase *tc = tcase_create("token");
	tcase_add_test(tc, sha256_vectors);
	tcase_add_test(tc, new_tokens);
	tcase_add_test(tc, read_file);
	tcase_add_test(tc, find_env_or_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(token_suite());
}
