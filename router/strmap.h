/* strmap - a string-keyed hash table over td_map (seeded td_hash, chained).
 *
 * Keys are borrowed: the caller keeps each key alive while its entry is in
 * the map (the router's keys live in the call's or the dialplan's memory).
 * Values are borrowed too; the map owns its buckets and its entry nodes,
 * which are reused after a removal (no allocation per put once the map has
 * been that large). Lookups and inserts are O(1) on average, whatever keys
 * a caller chooses. */
#ifndef STRMAP_H
#define STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap strmap_t;

strmap_t *strmap_new(size_t size_hint);
void strmap_destroy(strmap_t **self_p);

/* The value stored under key, or NULL. */
void *strmap_get(const strmap_t *self, const char *key);
/* Store value under key (replacing any previous value). 0, or -1 on ENOMEM. */
int strmap_put(strmap_t *self, const char *key, void *value);
/* Remove key; returns its value or NULL. */
void *strmap_remove(strmap_t *self, const char *key);
size_t strmap_size(const strmap_t *self);

/* Visit every entry (order unspecified). The map must not change meanwhile. */
void strmap_foreach(const strmap_t *self, void (*fn)(void *arg, const char *key, void *value),
                    void *arg);

/* The seeded td_hash_str, truncated: differs per process and run. */
uint32_t strmap_hash(const char *s);

#endif
