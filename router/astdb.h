/* astdb - the router's small persistent key-value store (Asterisk's astdb,
 * behind DB(), DB_EXISTS() and DB_DELETE()): "family/key" -> value.
 *
 * In memory it is a hash table. On disk it is an append-only log, one
 * record a line:
 *     P <family/key>\t<value>\n      put
 *     D <family/key>\n               delete
 * with '\\', '\t' and '\n' escaped as \\ \t \n. Every change is appended
 * and flushed at once (write-through). astdb_open replays the log and then
 * compacts it: the live records are written to "<path>.tmp.<pid>", fsync'd and
 * renamed over path, so a crash at any moment leaves either the old file or
 * the new one. A last line cut short by a crash (no '\n') is ignored: the
 * change it held is lost, nothing else is. */
#ifndef ASTDB_H
#define ASTDB_H

#include <stddef.h>

typedef struct astdb astdb_t;

/* Open (create if missing) the store at path; its folder must exist or be
 * creatable. NULL on failure (logged). path NULL: in memory only (the cache
 * of cluster mode, where Redis holds the values: router/dbsync.h). */
astdb_t *astdb_open(const char *path);
void astdb_close(astdb_t **self_p);

/* The value of family/key, or NULL. Borrowed until that key changes. */
const char *astdb_get(const astdb_t *self, const char *family, const char *key);
/* The value of "family/key" (one string), or NULL. Borrowed likewise. */
const char *astdb_find(const astdb_t *self, const char *key);
/* Store value under family/key. 0, or -1 (ENOMEM, disk error: logged). */
int astdb_put(astdb_t *self, const char *family, const char *key, const char *value);
/* Remove family/key. 0, or -1 if it did not exist. */
int astdb_del(astdb_t *self, const char *family, const char *key);
size_t astdb_count(const astdb_t *self);

/* Called after every astdb_put and successful astdb_del with "family/key"
 * and the new value (NULL: deleted), borrowed until it returns: cluster
 * mode writes the change through to Redis here. fn NULL: none. */
typedef void astdb_change_fn(void *arg, const char *key, const char *value);
void astdb_on_change(astdb_t *self, astdb_change_fn *fn, void *arg);
/* Set (value NULL: delete) "family/key" in memory and in the file, without
 * calling the change hook: a change that came from elsewhere (another
 * router, a reload from Redis). 0, or -1 (ENOMEM; delete: no such key). */
int astdb_apply(astdb_t *self, const char *key, const char *value);
/* Visit every "family/key" and its value, in no order (DB_KEYS sorts). The
 * store must not change meanwhile. */
void astdb_foreach(const astdb_t *self, void (*fn)(void *arg, const char *key, const char *value),
                   void *arg);

#endif
