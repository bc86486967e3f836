/* td_map - the one hash table: intrusive, chained, power-of-two buckets.
 *
 * The owner embeds a td_map_node_t in its own struct (a transaction, a
 * dialog, a peer) and recovers it with TD_MAP_ENTRY, so an insert
 * allocates nothing; only the bucket array grows, by doubling at once when
 * the entries outnumber the buckets (O(1) amortised; if that allocation
 * fails the table keeps its size: slower, still correct).
 *
 * The caller hashes the key with td_hash (seeded: see td_hash.h) and
 * passes the hash with the key; `eq` says whether a node holds a key. The
 * map neither owns nor frees nodes; td_map_fini frees the bucket array
 * only. Several nodes may hold one key (td_map_find_next walks them,
 * newest first). td_map_t is a plain struct, not opaque, so that it can
 * be embedded without an allocation like the nodes. */
#ifndef TD_MAP_H
#define TD_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct td_map_node {
    struct td_map_node *next;
    uint64_t hash;
} td_map_node_t;

/* Nonzero if node holds key (a borrowed pointer to whatever the caller
 * passed to td_map_find). */
typedef int (*td_map_eq_fn)(const td_map_node_t *node, const void *key);

typedef struct {
    td_map_node_t **buckets;
    size_t mask;                /* bucket count - 1 */
    size_t count;
    td_map_eq_fn eq;
} td_map_t;

#define TD_MAP_ENTRY(node, type, member) \
    ((type *)(void *)((char *)(node) - offsetof(type, member)))

/* Room for about size_hint entries before the first doubling. 0, or -1
 * on ENOMEM. */
int td_map_init(td_map_t *self, size_t size_hint, td_map_eq_fn eq);
/* Free the buckets (not the nodes); self is empty afterwards. NULL-safe. */
void td_map_fini(td_map_t *self);

/* The newest node with this hash and key, or NULL; then the next older one. */
td_map_node_t *td_map_find(const td_map_t *self, uint64_t hash, const void *key);
td_map_node_t *td_map_find_next(const td_map_t *self, const td_map_node_t *node,
                                const void *key);
/* Insert node under hash (no check for an existing key). Never fails. */
void td_map_insert(td_map_t *self, td_map_node_t *node, uint64_t hash);
/* Insert node at the end of its chain instead (O(chain), short with a
 * seeded hash), so that td_map_find gives the oldest of one key first:
 * for tables walked in arrival order, as chan_sip's ao2 containers are. */
void td_map_append(td_map_t *self, td_map_node_t *node, uint64_t hash);
/* The node at old was copied (struct assignment) to new: put new in its
 * place in the chain. old's memory is not touched. */
void td_map_moved(td_map_t *self, const td_map_node_t *old, td_map_node_t *new_node);
/* Remove node, which must be in the map (O(chain)). */
void td_map_remove(td_map_t *self, td_map_node_t *node);
/* Remove and return the first node with hash and key, or NULL. */
td_map_node_t *td_map_take(td_map_t *self, uint64_t hash, const void *key);
size_t td_map_size(const td_map_t *self);

/* Iteration in bucket order: for (n = td_map_first(m, &i); n; n = td_map_next(m, n, &i)).
 * Removing nodes during a walk is allowed: a removed node keeps its next
 * pointer, so the walk goes on from the current node even after it (or a
 * node after it, which the walk then still visits) left the map, as the
 * hand-rolled chains it replaces did. Inserting during a walk is not
 * allowed (the table may grow). */
td_map_node_t *td_map_first(const td_map_t *self, size_t *cursor);
td_map_node_t *td_map_next(const td_map_t *self, const td_map_node_t *node, size_t *cursor);

/* The longest chain (tests and diagnostics; O(buckets)). */
size_t td_map_max_chain(const td_map_t *self);

#endif
