/* strmap - see strmap.h. A td_map (seeded td_hash, chained) of small nodes
 * that the map owns: they come from chunks that double in size and return
 * to a free list on removal, so a put allocates only when the map holds
 * more entries than ever before. */
#include "td_hash.h"
#include "td_map.h"
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct s_node {
    td_map_node_t link;
    const char *key;
    void *value;
    struct s_node *free_next;      /* on the free list */
} s_node_t;

typedef struct s_chunk {
    struct s_chunk *next;
    size_t n;
    s_node_t nodes[];
} s_chunk_t;

struct strmap {
    td_map_t map;
    s_chunk_t *chunks;
    s_node_t *free;
    size_t capacity;               /* nodes in all chunks */
};

#define S_NODE(n) TD_MAP_ENTRY(n, s_node_t, link)

uint32_t strmap_hash(const char *s)
{
    return (uint32_t)td_hash_str(s);
}

static int s_eq(const td_map_node_t *n, const void *key)
{
    return strcmp(S_NODE(n)->key, key) == 0;
}

strmap_t *strmap_new(size_t size_hint)
{
    strmap_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (td_map_init(&self->map, size_hint, s_eq) < 0) {
        free(self);
        return NULL;
    }
    return self;
}

void strmap_destroy(strmap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    strmap_t *self = *self_p;
    for (s_chunk_t *c = self->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    td_map_fini(&self->map);
    free(self);
    *self_p = NULL;
}

static s_node_t *s_node_get(strmap_t *self)
{
    if (!self->free) {
        size_t n = self->capacity ? self->capacity : 16;
        s_chunk_t *c = malloc(sizeof *c + n * sizeof c->nodes[0]);
        if (!c)
            return NULL;
        c->n = n;
        c->next = self->chunks;
        self->chunks = c;
        self->capacity += n;
        for (size_t i = n; i-- > 0; ) {
            c->nodes[i].free_next = self->free;
            self->free = &c->nodes[i];
        }
    }
    s_node_t *node = self->free;
    self->free = node->free_next;
    return node;
}

void *strmap_get(const strmap_t *self, const char *key)
{
    td_map_node_t *n = td_map_find(&self->map, td_hash_str(key), key);
    return n ? S_NODE(n)->value : NULL;
}

int strmap_put(strmap_t *self, const char *key, void *value)
{
    uint64_t h = td_hash_str(key);
    td_map_node_t *n = td_map_find(&self->map, h, key);
    if (n) {
        S_NODE(n)->value = value;
        return 0;
    }
    s_node_t *node = s_node_get(self);
    if (!node)
        return -1;
    node->key = key;
    node->value = value;
    td_map_insert(&self->map, &node->link, h);
    return 0;
}

void *strmap_remove(strmap_t *self, const char *key)
{
    td_map_node_t *n = td_map_take(&self->map, td_hash_str(key), key);
    if (!n)
        return NULL;
    s_node_t *node = S_NODE(n);
    void *value = node->value;
    node->key = NULL;
    node->value = NULL;
    node->free_next = self->free;
    self->free = node;
    return value;
}

size_t strmap_size(const strmap_t *self)
{
    return td_map_size(&self->map);
}

void strmap_foreach(const strmap_t *self, void (*fn)(void *arg, const char *key, void *value),
                    void *arg)
{
    size_t cur;
    for (td_map_node_t *n = td_map_first(&self->map, &cur); n; n = td_map_next(&self->map, n, &cur))
        fn(arg, S_NODE(n)->key, S_NODE(n)->value);
}
