/* vb_siphash: SipHash-2-4 (Aumasson and Bernstein, 2012), a keyed 64-bit
 * hash.  Without the key nobody can make two inputs collide on purpose,
 * which a digest compared instead of the bytes it stands for needs when
 * publishers choose those bytes (vb_store_gate.c's suppression lists). */
#ifndef VB_SIPHASH_H
#define VB_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define VB_SIPHASH_KEYSZ 16

/* The hash of the len bytes at p under key (16 bytes). */
uint64_t vb_siphash(const uint8_t key[VB_SIPHASH_KEYSZ], const void *p, size_t len);

#endif
