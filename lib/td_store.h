/* td_store - the shared state store: Redis, reached through hiredis's libevent
 * adapter, so an event loop never blocks on it.
 *
 * Only a node whose tandem.conf has a [cluster] section makes one (with
 * redis=host:port, password=, db=); without it every process keeps its state
 * in memory as before and nothing here runs.
 *
 * Every key is prefixed with "tandem:" (so one Redis can be shared with other
 * software); callers pass the rest ("reg:1001:...", "call:<id>").
 *
 * Writes are fire and forget. While Redis is away (not connected, or the
 * connection broke) they are kept, the last write per key winning, up to
 * TD_STORE_MAX_PENDING keys (past that the oldest are dropped and counted), and
 * replayed in order when the connection is back; a TTL counts from the replay.
 * Losing Redis is logged once (warning), getting it back once (notice); the
 * store reconnects every second meanwhile. Reads made while Redis is away
 * answer at once with ok = 0.
 *
 * All callbacks run on the event loop. Strings passed in are copied; strings a
 * callback gets are borrowed until it returns. */
#ifndef TD_STORE_H
#define TD_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#define TD_STORE_MAX_PENDING 200000

typedef struct td_store td_store_t;

/* [cluster] of tandem.conf (td_settings fills it). */
typedef struct {
    int enabled;              /* the file has a [cluster] section */
    char host[256];           /* redis=host:port (default 127.0.0.1:6379) */
    uint16_t port;
    char password[128];       /* password= ("" none) */
    int db;                   /* db= (0) */
} td_store_conf_t;

/* Connect (asynchronously) to the Redis conf names. node is this process's
 * identity, used in logs. NULL on a bad conf or out of memory (logged). */
td_store_t *td_store_new(struct event_base *base, const td_store_conf_t *conf, const char *node);
void td_store_destroy(td_store_t **self_p);

/* 1 while connected (and authenticated, db selected). */
int td_store_up(const td_store_t *self);

/* Called each time the connection comes up (the first time, and after every
 * outage once the pending writes are replayed, and once every channel of
 * td_store_subscribe is subscribed again, so a resync started here misses no
 * message; also when the subscriber connection alone was lost and is back):
 * a node resyncs here. Each
 * call adds one more callback (up to TD_STORE_MAX_ON_UP, so several classes
 * of a process can share one store), run in the order added; -1 past that. */
#define TD_STORE_MAX_ON_UP 8
typedef void td_store_up_fn(void *arg);
int td_store_on_up(td_store_t *self, td_store_up_fn *fn, void *arg);

/* For an on_up callback: did this Redis lose what we wrote before? mark is
 * a key only this node writes ("mark:sig:<identity>"), set here. fn(arg,
 * lost) runs once Redis answers: lost = 1 when it did not have the mark (the
 * first time, or a Redis that restarted empty: no persistence, a new
 * replica), and the node writes its live state again; 0 when it only hung
 * or came back with its data. Nothing runs when Redis goes away before it
 * answers (the next on_up asks again). The writes kept while Redis was
 * away are replayed before this check either way. */
typedef void td_store_lost_fn(void *arg, int lost);
int td_store_if_lost(td_store_t *self, const char *mark, td_store_lost_fn *fn, void *arg);

/* ---- writes (fire and forget; kept while Redis is away) ---- */

/* key = value (binary safe, len bytes); ttl_s > 0: expires after ttl_s s. */
int td_store_set(td_store_t *self, const char *key, const void *value, size_t len, int ttl_s);
/* Replace the whole hash at key with these n field/value pairs (one
 * MULTI/EXEC: DEL, HSET, EXPIRE when ttl_s > 0). */
int td_store_hset(td_store_t *self, const char *key, int ttl_s, size_t n,
                  const char *const *fields, const char *const *values);
/* Set some fields of the hash at key, leaving the others. */
int td_store_hupdate(td_store_t *self, const char *key, size_t n, const char *const *fields,
                     const char *const *values);
int td_store_del(td_store_t *self, const char *key);
/* PUBLISH on channel (prefixed too); not kept while Redis is away. */
int td_store_publish(td_store_t *self, const char *channel, const void *msg, size_t len);

/* ---- reads ---- */

/* GET: ok = 1 and value/len (NULL, 0 when the key does not exist), or ok = 0
 * when Redis is away or failed. */
typedef void td_store_get_fn(void *arg, int ok, const char *key, const void *value, size_t len);
int td_store_get(td_store_t *self, const char *key, td_store_get_fn *fn, void *arg);

/* HGETALL: n = 0 when the key does not exist. */
typedef void td_store_hash_fn(void *arg, int ok, const char *key, size_t n,
                              const char *const *fields, const char *const *values);
int td_store_hgetall(td_store_t *self, const char *key, td_store_hash_fn *fn, void *arg);

/* Every key matching pattern (a Redis glob after the prefix, "reg:*"): SCAN,
 * then for each key HGETALL (each_hash) or GET (each_value), whichever is
 * given, then done(arg, ok) once. Keys are given without the prefix. */
typedef void td_store_done_fn(void *arg, int ok);
int td_store_scan(td_store_t *self, const char *pattern, td_store_hash_fn *each_hash,
                  td_store_get_fn *each_value, td_store_done_fn *done, void *arg);

/* Messages PUBLISHed on channel (by any node, this one included), on a second
 * connection; resubscribed after an outage. */
typedef void td_store_msg_fn(void *arg, const char *channel, const void *msg, size_t len);
int td_store_subscribe(td_store_t *self, const char *channel, td_store_msg_fn *fn, void *arg);

/* Counters for metrics and the bench: commands sent, replies, errors, writes
 * kept while away, writes dropped past TD_STORE_MAX_PENDING. */
typedef struct {
    uint64_t commands, replies, errors, kept, dropped, outages;
} td_store_counts_t;
const td_store_counts_t *td_store_counts(const td_store_t *self);
/* Writes not yet confirmed: kept while away, plus sent and not answered. */
size_t td_store_pending(const td_store_t *self);

#endif
