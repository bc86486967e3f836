/* td_map - see td_map.h. */
#include "td_map.h"

#include <stdlib.h>

int td_map_init(td_map_t *self, size_t size_hint, td_map_eq_fn eq)
{
    size_t n = 16;
    while (n < size_hint)
        n *= 2;
    self->buckets = calloc(n, sizeof *self->buckets);
    self->mask = n - 1;
    self->count = 0;
    self->eq = eq;
    return self->buckets ? 0 : -1;
}

void td_map_fini(td_map_t *self)
{
    if (!self)
        return;
    free(self->buckets);
    self->buckets = NULL;
    self->mask = 0;
    self->count = 0;
}

td_map_node_t *td_map_find(const td_map_t *self, uint64_t hash, const void *key)
{
    if (!self->buckets)
        return NULL;
    for (td_map_node_t *n = self->buckets[hash & self->mask]; n; n = n->next)
        if (n->hash == hash && self->eq(n, key))
            return n;
    return NULL;
}

td_map_node_t *td_map_find_next(const td_map_t *self, const td_map_node_t *node,
                                const void *key)
{
    for (td_map_node_t *n = node->next; n; n = n->next)
        if (n->hash == node->hash && self->eq(n, key))
            return n;
    return NULL;
}

/* Double the buckets at once. Chains keep their relative order (each old
 * chain splits into two, walked front to back and appended), so nodes with
 * one key stay newest first. */
static void s_grow(td_map_t *self)
{
    size_t n = (self->mask + 1) * 2;
    td_map_node_t **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i <= self->mask; i++) {
        td_map_node_t **tail[2] = { &b[i], &b[i + self->mask + 1] };
        td_map_node_t *node = self->buckets[i];
        while (node) {
            td_map_node_t *next = node->next;
            int hi = (node->hash & (self->mask + 1)) != 0;
            node->next = NULL;
            *tail[hi] = node;
            tail[hi] = &node->next;
            node = next;
        }
    }
    free(self->buckets);
    self->buckets = b;
    self->mask = n - 1;
}

void td_map_insert(td_map_t *self, td_map_node_t *node, uint64_t hash)
{
    if (self->count >= self->mask + 1)
        s_grow(self);
    node->hash = hash;
    td_map_node_t **head = &self->buckets[hash & self->mask];
    node->next = *head;
    *head = node;
    self->count++;
}

void td_map_append(td_map_t *self, td_map_node_t *node, uint64_t hash)
{
    if (self->count >= self->mask + 1)
        s_grow(self);
    node->hash = hash;
    node->next = NULL;
    td_map_node_t **pp = &self->buckets[hash & self->mask];
    while (*pp)
        pp = &(*pp)->next;
    *pp = node;
    self->count++;
}

void td_map_moved(td_map_t *self, const td_map_node_t *old, td_map_node_t *new_node)
{
    for (td_map_node_t **pp = &self->buckets[new_node->hash & self->mask]; *pp;
         pp = &(*pp)->next)
        if (*pp == old) {
            *pp = new_node;
            return;
        }
}

void td_map_remove(td_map_t *self, td_map_node_t *node)
{
    for (td_map_node_t **pp = &self->buckets[node->hash & self->mask]; *pp; pp = &(*pp)->next)
        if (*pp == node) {
            *pp = node->next;           /* node->next stays: see td_map_next */
            self->count--;
            return;
        }
}

td_map_node_t *td_map_take(td_map_t *self, uint64_t hash, const void *key)
{
    if (!self->buckets)
        return NULL;
    for (td_map_node_t **pp = &self->buckets[hash & self->mask]; *pp; pp = &(*pp)->next) {
        td_map_node_t *n = *pp;
        if (n->hash == hash && self->eq(n, key)) {
            *pp = n->next;
            self->count--;
            return n;
        }
    }
    return NULL;
}

size_t td_map_size(const td_map_t *self)
{
    return self->count;
}

static td_map_node_t *s_scan(const td_map_t *self, size_t *cursor)
{
    for (; self->buckets && *cursor <= self->mask; (*cursor)++)
        if (self->buckets[*cursor])
            return self->buckets[*cursor];
    return NULL;
}

td_map_node_t *td_map_first(const td_map_t *self, size_t *cursor)
{
    *cursor = 0;
    return s_scan(self, cursor);
}

td_map_node_t *td_map_next(const td_map_t *self, const td_map_node_t *node, size_t *cursor)
{
    if (node->next)
        return node->next;
    (*cursor)++;
    return s_scan(self, cursor);
}

size_t td_map_max_chain(const td_map_t *self)
{
    size_t best = 0;
    for (size_t i = 0; self->buckets && i <= self->mask; i++) {
        size_t n = 0;
        for (const td_map_node_t *p = self->buckets[i]; p; p = p->next)
            n++;
        if (n > best)
            best = n;
    }
    return best;
}
