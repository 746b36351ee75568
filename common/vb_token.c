#include "vb_token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "vb_error.h"

int
vb_token_new(char *out, size_t outlen)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t r[32];
	size_t got = 0, k = 0;

	if (outlen < 48)
		return VB_EINVAL;
	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return VB_EIO;
		}
		got += (size_t)n;
	}
	memcpy(out, "vbt_", 4);
	k = 4;
	/* 256 bits, 6 at a time: 43 characters (the last holds 4 bits). */
	for (int bit = 0; bit < 256; bit += 6) {
		unsigned v = 0;
		for (int b = 0; b < 6; b++) {
			int i = bit + b;
			v = v << 1 | (i < 256 ? (r[i / 8] >> (7 - i % 8)) & 1u : 0u);
		}
		out[k++] = b64[v];
	}
	out[k] = '\0';
	return VB_OK;
}

void
vb_token_hash(const void *p, size_t len, uint8_t out32[32])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	(void)mbedtls_sha256(p, len, out32, 0);
#else
	(void)mbedtls_sha256_ret(p, len, out32, 0);
#endif
}

void
vb_token_hash_hex(const void *p, size_t len, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t h[32];
	vb_token_hash(p, len, h);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[h[i] >> 4];
		hex[2 * i + 1] = digits[h[i] & 15];
	}
	hex[64] = '\0';
}

int
vb_token_read_file(const char *path, char *out, size_t outlen, char *err,
    size_t errlen)
{
	char line[VB_TOKEN_MAX + 2];
	struct stat sb;
	FILE *f;
	size_t n;
	char *s;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VB_EIO;
	}
	if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & S_IROTH)) {
		fclose(f);
		snprintf(err, errlen, "%s: readable by every user: a token file must not "
		    "be (chmod 600 or 640)", path);
		return VB_EINVAL;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	s = line;
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' ||
	    s[n - 1] == '\t'))
		n--;
	if (n == 0) {
		snprintf(err, errlen, "%s:1: token: empty", path);
		return VB_EINVAL;
	}
	if (n > VB_TOKEN_MAX || n >= outlen) {
		snprintf(err, errlen, "%s:1: token: longer than %d characters", path, VB_TOKEN_MAX);
		return VB_EINVAL;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return VB_OK;
}

int
vb_token_find(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	const char *env;
	if (outlen == 0)
		return VB_EINVAL;
	out[0] = '\0';
	if (path != NULL && path[0] != '\0')
		return vb_token_read_file(path, out, outlen, err, errlen);
	env = getenv(VB_TOKEN_ENV);
	if (env == NULL || env[0] == '\0')
		return VB_OK;
	if (strlen(env) > VB_TOKEN_MAX || strlen(env) >= outlen) {
		snprintf(err, errlen, "%s: longer than %d characters", VB_TOKEN_ENV, VB_TOKEN_MAX);
		return VB_EINVAL;
	}
	memcpy(out, env, strlen(env) + 1);
	return VB_OK;
}
