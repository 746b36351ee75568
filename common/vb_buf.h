/* vb_buf: a growable byte buffer.  The buffer owns data; vb_buf_free
 * releases it.  A zeroed vb_buf is a valid empty buffer. */
#ifndef VB_BUF_H
#define VB_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct vb_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
} vb_buf;

/* Make room for n more bytes.  Returns 0 or VB_ENOMEM (buffer unchanged). */
int vb_buf_reserve(vb_buf *b, size_t n);
int vb_buf_append(vb_buf *b, const void *p, size_t n);
int vb_buf_append_str(vb_buf *b, const char *s);
int vb_buf_append_byte(vb_buf *b, uint8_t c);
/* Append v as a protobuf base-128 varint. */
int vb_buf_append_varint(vb_buf *b, uint64_t v);
/* Write v as a varint at p, which has room for 10 bytes; the bytes
 * written. */
size_t vb_varint_put(uint8_t *p, uint64_t v);
/* The bytes vb_buf_append_varint writes for v (1 to 10). */
size_t vb_varint_len(uint64_t v);
void vb_buf_reset(vb_buf *b);
void vb_buf_free(vb_buf *b);

/* Decode a varint from p[0..len); returns bytes used, or 0 if incomplete or
 * longer than 10 bytes. */
size_t vb_varint_decode(const uint8_t *p, size_t len, uint64_t *out);

#endif
