/* vb_arena: memory handed out in order and taken back all at once.
 *
 * For work that allocates many small blocks and drops them together, such
 * as decoding one request: an allocation is a pointer bump and the whole
 * lot is released by vb_arena_reset.  The arena keeps one chunk across
 * resets, sized to what the last use needed, so a steady load stops
 * calling malloc at all.  A zeroed vb_arena is a valid empty arena.
 * Not thread-safe: one arena per thread. */
#ifndef VB_ARENA_H
#define VB_ARENA_H

#include <stddef.h>

typedef struct vb_arena_chunk vb_arena_chunk;

typedef struct vb_arena {
	vb_arena_chunk *chunks; /* newest first; the newest is the one in use */
	size_t used;            /* bytes used of the newest chunk */
	size_t given;           /* bytes asked for since the last reset */
	size_t limit;           /* most bytes given between resets; 0: none */
	int over;               /* an allocation was refused for the limit */
	size_t keep;            /* the largest chunk kept across a reset;
	                         * 0: VB_ARENA_KEEP_MAX */
} vb_arena;

/* Blocks are aligned for any type (max_align_t). */
#define VB_ARENA_ALIGN _Alignof(max_align_t)

/* Bigger than this (or than a->keep), the chunk kept across a reset is
 * freed instead: one huge request does not pin its memory for the life of
 * the worker. */
#define VB_ARENA_KEEP_MAX (4u << 20)

/* n bytes (n may be 0: a valid unique pointer), owned by a and valid until
 * the next vb_arena_reset or vb_arena_free.  NULL when out of memory, or
 * when a->limit is set and the bytes asked for since the last reset would
 * pass it (a->over is then set). */
void *vb_arena_alloc(vb_arena *a, size_t n);

/* Take back every block; a->limit stays, a->over and the count clear. */
void vb_arena_reset(vb_arena *a);

/* Release all memory; a is a zeroed arena after.  Accepts a zeroed arena. */
void vb_arena_free(vb_arena *a);

/* A point to go back to: what was given before it stays, what comes after
 * can be taken back at once (an attempt that failed half-way). */
typedef struct vb_arena_mark {
	vb_arena_chunk *chunk;
	size_t used, given;
} vb_arena_mark;

void vb_arena_mark_here(const vb_arena *a, vb_arena_mark *m);
/* Take back every block given since m (chunks made since are freed); the
 * blocks given before it stay valid.  No reset may have come between. */
void vb_arena_rollback(vb_arena *a, const vb_arena_mark *m);

#endif
