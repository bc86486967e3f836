/* dbsync - DB() and GLOBAL() shared by every router of a cluster.
 *
 * Redis holds the values ("db:<family>/<key>", "global:<name>" under the
 * store's prefix). Each router reads from memory only - the astdb (opened
 * without a file) and the runtime globals - so a dialplan read never waits on
 * Redis. A change made here is written through to Redis and PUBLISHed on
 * "dbsync"; every router applies what the others publish. Each time the store
 * connects (at start, after an outage) the cache is reloaded from Redis (a
 * key written meanwhile, here or by a message, keeps its newer value), and a
 * router that wrote while Redis was away asks the others to reload too (its
 * writes were replayed, their messages were not).
 *
 * Messages on tandem:dbsync (text, so redis-cli can send them):
 *     P <origin> <key>\n<value>     set
 *     D <origin> <key>              delete
 *     R <origin>                    reload everything from Redis
 * <key> is "db:family/key" or "global:name"; <origin> names the sending
 * process (identity/pid.random), whose own messages it ignores. */
#ifndef DBSYNC_H
#define DBSYNC_H

#include "astdb.h"
#include "chanvars.h"
#include "td_store.h"

typedef struct dbsync dbsync_t;

/* Share db (borrowed: hooks its changes) and *globals (borrowed; *globals may
 * be replaced by a reload, so it is read through the pointer each time) over
 * store (borrowed). identity names this router in messages and logs. NULL on
 * ENOMEM. */
dbsync_t *dbsync_new(td_store_t *store, astdb_t *db, chanvars_t **globals, const char *identity);
/* Unhooks db. Does not free the store (the caller owns it): destroy the
 * store first, since its callbacks name this (a closing store calls none). */
void dbsync_destroy(dbsync_t **self_p);

/* GLOBAL(name)=value was written here (value "" kept as a value): share it.
 * The signature of func_env_t's global_changed hook (arg: the dbsync). */
void dbsync_global_changed(void *self, const char *name, const char *value);

/* Keys loaded by the last reload, messages applied, messages sent, keys
 * written back to a Redis that lost them. */
typedef struct {
    size_t loaded_db, loaded_globals;
    uint64_t applied, published, reloads, pushed;
} dbsync_counts_t;
const dbsync_counts_t *dbsync_counts(const dbsync_t *self);

#endif
