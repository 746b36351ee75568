/* vb_token: client tokens.  A token is a random secret a client presents
 * with every request; the broker's config holds only its SHA-256 (see
 * broker/vb_auth.h).  Here: making one, hashing one, and finding the one a
 * program was given (--token-file FILE or the VOICEBUS_TOKEN variable). */
#ifndef VB_TOKEN_H
#define VB_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define VB_TOKEN_MAX 256
#define VB_TOKEN_ENV "VOICEBUS_TOKEN"

/* A new token: "vbt_" and 43 characters of base64url, 256 random bits from
 * the kernel (getrandom).  out holds at least 48 bytes; NUL-terminated. */
int vb_token_new(char *out, size_t outlen);

/* SHA-256 of len bytes: raw into out32. */
void vb_token_hash(const void *p, size_t len, uint8_t out32[32]);

/* ... and as 64 lowercase hex digits and a NUL. */
void vb_token_hash_hex(const void *p, size_t len, char hex[65]);

/* Read the token from path: its first line, without the line end and
 * surrounding blanks.  A file that others than its owner and group may
 * read is refused: a token is a password.  0, or VB_EINVAL / VB_EIO with
 * "path: what is wrong" in err. */
int vb_token_read_file(const char *path, char *out, size_t outlen, char *err,
    size_t errlen);

/* The token this program should present: from path when given, else from
 * VOICEBUS_TOKEN, else "" (none).  Errors as vb_token_read_file. */
int vb_token_find(const char *path, char *out, size_t outlen, char *err,
    size_t errlen);

#endif
