/* arena - a bump allocator whose memory dies all at once.
 *
 * A call's strings (ids, caller, SDP bodies) and the dialplan's parsed text
 * live in one arena each, so nothing is freed piecemeal and a call costs one
 * malloc when its strings fit the first block. The struct is public so an
 * owner can embed it (and its first block) instead of allocating it. */
#ifndef ARENA_H
#define ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk_t;

typedef struct {
    char *buf;              /* current block */
    size_t size, used;
    arena_chunk_t *chunks;  /* blocks this arena malloc'd (the first may be the owner's) */
    size_t chunk_size;      /* size of the next malloc'd block */
} arena_t;

/* Start with the caller's block buf[size] (may be NULL/0). Later blocks are
 * at least chunk_size bytes. */
void arena_init(arena_t *self, void *buf, size_t size, size_t chunk_size);
/* Free the blocks the arena allocated; the arena can be reused (empty). */
void arena_clear(arena_t *self);

/* n bytes, aligned for any type; NULL on ENOMEM. Valid until clear. */
void *arena_alloc(arena_t *self, size_t n);
char *arena_strdup(arena_t *self, const char *s);
char *arena_strndup(arena_t *self, const char *s, size_t n);

#endif
