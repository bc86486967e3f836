/* arena - see arena.h. */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    arena_chunk_t *next;
    size_t size;
    char _Alignas(16) data[];
};

void arena_init(arena_t *self, void *buf, size_t size, size_t chunk_size)
{
    self->buf = buf;
    self->size = buf ? size : 0;
    self->used = 0;
    self->chunks = NULL;
    self->chunk_size = chunk_size ? chunk_size : 4096;
}

void arena_clear(arena_t *self)
{
    arena_chunk_t *c = self->chunks;
    while (c) {
        arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    self->chunks = NULL;
    self->buf = NULL;
    self->size = self->used = 0;
}

static void *s_alloc(arena_t *self, size_t n, size_t align)
{
    size_t start = (self->used + align - 1) & ~(align - 1);
    if (!self->buf || start + n > self->size) {
        size_t size = n > self->chunk_size ? n : self->chunk_size;
        arena_chunk_t *c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = self->chunks;
        c->size = size;
        self->chunks = c;
        self->buf = c->data;
        self->size = size;
        start = 0;
    }
    self->used = start + n;
    return self->buf + start;
}

void *arena_alloc(arena_t *self, size_t n)
{
    return s_alloc(self, n, 16);
}

char *arena_strndup(arena_t *self, const char *s, size_t n)
{
    char *p = s_alloc(self, n + 1, 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena_t *self, const char *s)
{
    return arena_strndup(self, s, strlen(s));
}
