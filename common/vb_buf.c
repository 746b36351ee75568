#include "vb_buf.h"

#include <stdlib.h>
#include <string.h>

#include "vb_error.h"

int
vb_buf_reserve(vb_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return VB_OK;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2)
			return VB_ENOMEM;
		cap *= 2;
	}
	uint8_t *p = realloc(b->data, cap);
	if (p == NULL)
		return VB_ENOMEM;
	b->data = p;
	b->cap = cap;
	return VB_OK;
}

int
vb_buf_append(vb_buf *b, const void *p, size_t n)
{
	int rv = vb_buf_reserve(b, n + 1);
	if (rv != 0)
		return rv;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0; /* always NUL-terminated, for text users */
	return VB_OK;
}

int
vb_buf_append_str(vb_buf *b, const char *s)
{
	return vb_buf_append(b, s, strlen(s));
}

int
vb_buf_append_byte(vb_buf *b, uint8_t c)
{
	if (b->cap - b->len >= 2) { /* the byte and the NUL after it */
		b->data[b->len++] = c;
		b->data[b->len] = 0;
		return VB_OK;
	}
	return vb_buf_append(b, &c, 1);
}

size_t
vb_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	do {
		p[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			p[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

int
vb_buf_append_varint(vb_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	return vb_buf_append(b, tmp, vb_varint_put(tmp, v));
}

size_t
vb_varint_len(uint64_t v)
{
	size_t n = 1;
	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

void
vb_buf_reset(vb_buf *b)
{
	b->len = 0;
}

void
vb_buf_free(vb_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

size_t
vb_varint_decode(const uint8_t *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < len && i < 10; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			*out = v;
			return i + 1;
		}
	}
	return 0;
}
