/* td_store - see td_store.h.
 *
 * Two hiredis async contexts on the process's libevent loop: `cmd` for
 * commands, `sub` for SUBSCRIBE (a subscribed connection takes no other
 * command). One tick a second reconnects what is down and pings what is up;
 * a PING (or the AUTH/SELECT hand-shake) unanswered for TD_STORE_STALL_S
 * ticks counts as an outage too, so a Redis that hangs (SIGSTOP, a dead
 * host whose TCP never resets) is noticed like one that went away.
 *
 * Writes: every write is an entry (its key and its formatted commands, one to
 * five), found by key in a hash map and on one of two lists:
 *   pending   not sent yet (Redis away), in the order of their last write;
 *   inflight  sent, waiting for their replies (Redis answers in order, so the
 *             head is the one the next write reply belongs to).
 * The map holds only the latest entry of a key. A new write to a key drops
 * its pending entry (last wins) or unmaps its in-flight one (which is freed
 * when its replies come). A kept hupdate keeps what it does not overwrite: it
 * starts from the pending entry's commands. When the connection breaks,
 * in-flight entries go back to pending in the order sent, so a write Redis
 * may not have applied is written again (every write here is idempotent:
 * SET, DEL, a whole-hash MULTI/EXEC, HSET of given fields). */
#include "td_store.h"
#include "td_hash.h"
#include "td_map.h"
#include "td_log.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TD_STORE_PREFIX "tandem:"
#define TD_STORE_STALL_S 3        /* ticks without an answer before an outage */
#define TD_STORE_MAX_PARTS 256    /* commands one entry may pile up (kept hupdates) */

typedef struct s_entry {
    char *key;                    /* the full key, prefix included */
    uint64_t hash;                /* td_hash_str(key) */
    char *buf;                    /* the formatted commands, back to back, each
                                   * after its length (a uint32_t, unaligned) */
    size_t len;
    int nparts;                   /* commands in buf */
    int unanswered;               /* in flight: replies still to come */
    int mapped;                   /* the latest write of its key (in the map) */
    td_map_node_t node;           /* in the map while mapped */
    struct s_entry *prev, *next;  /* pending or inflight list */
} s_entry_t;

typedef struct {
    s_entry_t *head, *tail;
    size_t count;
} s_list_t;

typedef struct s_sub {
    char *channel;                /* prefixed */
    td_store_msg_fn *fn;
    void *arg;
    struct s_sub *next;
} s_sub_t;

typedef enum { S_DOWN, S_CONNECTING, S_UP } s_state_t;

struct td_store {
    struct event_base *base;
    td_store_conf_t conf;
    char node[64];
    redisAsyncContext *cmd, *sub;
    s_state_t state, sub_state;
    int cmd_ticks, sub_ticks;     /* ticks since the hand-shake or PING started */
    int ping_out;                 /* a PING is waiting for its reply */
    int heard;                    /* a reply came since the last tick: Redis makes
                                   * progress (a long replay delays the PING) */
    int ever_up, down_logged;
    int closing;
    struct event *tick;
    td_map_t map;                 /* s_entry_t by key: the latest write of each */
    size_t mapped;
    s_list_t pending, inflight;
    s_sub_t *subs;
    struct {
        td_store_up_fn *fn;
        void *arg;
    } on_up[TD_STORE_MAX_ON_UP];
    int n_on_up;
    int up_pending;               /* up, on_up not called yet: waits for SUBSCRIBE */
    int nchannels;                /* distinct channels subscribed to */
    td_store_counts_t counts;
};

/* ---- the key map (td_map, seeded td_hash) ---- */

static int s_map_eq(const td_map_node_t *n, const void *key)
{
    return strcmp(TD_MAP_ENTRY(n, s_entry_t, node)->key, key) == 0;
}

static s_entry_t *s_map_find(td_store_t *self, const char *key, uint64_t h)
{
    td_map_node_t *n = td_map_find(&self->map, h, key);
    return n ? TD_MAP_ENTRY(n, s_entry_t, node) : NULL;
}

static void s_map_add(td_store_t *self, s_entry_t *e)
{
    td_map_insert(&self->map, &e->node, e->hash);
    e->mapped = 1;
    self->mapped++;
}

static void s_map_remove(td_store_t *self, s_entry_t *e)
{
    if (!e->mapped)
        return;
    td_map_remove(&self->map, &e->node);
    e->mapped = 0;
    self->mapped--;
}

/* ---- lists ---- */

static void s_list_push(s_list_t *l, s_entry_t *e)
{
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    l->count++;
}

static void s_list_unlink(s_list_t *l, s_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
    l->count--;
}

static void s_entry_free(s_entry_t *e)
{
    if (!e)
        return;
    free(e->key);
    free(e->buf);
    free(e);
}

/* ---- helpers ---- */

static char *s_full(const char *key)
{
    size_t n = strlen(key);
    char *s = malloc(sizeof TD_STORE_PREFIX + n);
    if (!s)
        return NULL;
    memcpy(s, TD_STORE_PREFIX, sizeof TD_STORE_PREFIX - 1);
    memcpy(s + sizeof TD_STORE_PREFIX - 1, key, n + 1);
    return s;
}

static const char *s_short(const char *key)
{
    return strncmp(key, TD_STORE_PREFIX, sizeof TD_STORE_PREFIX - 1) ? key
                                                                     : key + sizeof TD_STORE_PREFIX - 1;
}

/* Append one formatted command to e; -1 when out of memory or full. */
static int s_entry_add(s_entry_t *e, int argc, const char **argv, const size_t *lens)
{
    if (e->nparts >= TD_STORE_MAX_PARTS)
        return -1;
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (n < 0 || !cmd)
        return -1;
    uint32_t n32 = (uint32_t)n;
    char *buf = realloc(e->buf, e->len + sizeof n32 + (size_t)n);
    if (!buf) {
        redisFreeCommand(cmd);
        return -1;
    }
    memcpy(buf + e->len, &n32, sizeof n32);
    memcpy(buf + e->len + sizeof n32, cmd, (size_t)n);
    redisFreeCommand(cmd);
    e->buf = buf;
    e->len += sizeof n32 + (size_t)n;
    e->nparts++;
    return 0;
}

static s_entry_t *s_entry_new(const char *key)
{
    s_entry_t *e = calloc(1, sizeof *e);
    if (!e || !(e->key = s_full(key))) {
        free(e);
        return NULL;
    }
    e->hash = td_hash_str(e->key);
    return e;
}

static void s_count_reply(td_store_t *self, redisReply *r)
{
    if (!r)
        return;
    self->counts.replies++;
    self->heard = 1;
    if (r->type == REDIS_REPLY_ERROR) {
        self->counts.errors++;
        td_log(LOG_DEBUG, "store: Redis error: %s", r->str);
    }
}

/* ---- sending writes ---- */

static void s_on_write(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    td_store_t *self = ac->data;
    if (!reply || !self)
        return;                   /* disconnected: s_cmd_down requeues */
    s_count_reply(self, reply);
    s_entry_t *e = self->inflight.head;
    if (!e || --e->unanswered > 0)
        return;
    s_list_unlink(&self->inflight, e);
    s_map_remove(self, e);
    s_entry_free(e);
}

/* Send e's commands; 0, or -1 when hiredis refused them (the context is
 * going away): the caller keeps e pending. */
static int s_send(td_store_t *self, s_entry_t *e)
{
    size_t off = 0;
    for (int i = 0; i < e->nparts; i++) {
        uint32_t n;
        memcpy(&n, e->buf + off, sizeof n);
        off += sizeof n;
        if (redisAsyncFormattedCommand(self->cmd, s_on_write, NULL, e->buf + off, n) != REDIS_OK) {
            if (i == 0)
                return -1;
            /* hiredis refuses all or nothing in practice (its context flags
             * do not change between two calls); count what went out */
            e->nparts = i;
            break;
        }
        off += n;
        self->counts.commands++;
    }
    e->unanswered = e->nparts;
    s_list_push(&self->inflight, e);
    return 0;
}

/* Take a new entry for its key: sent now when up, else kept. */
static int s_write(td_store_t *self, s_entry_t *e)
{
    s_entry_t *old = s_map_find(self, e->key, e->hash);
    if (old) {
        s_map_remove(self, old);
        if (!old->unanswered) {   /* pending: last wins */
            s_list_unlink(&self->pending, old);
            s_entry_free(old);
        }                         /* in flight: freed when answered */
    }
    s_map_add(self, e);
    if (self->state == S_UP && s_send(self, e) == 0)
        return 0;
    s_list_push(&self->pending, e);
    self->counts.kept++;
    while (self->pending.count > TD_STORE_MAX_PENDING) {
        s_entry_t *drop = self->pending.head;
        s_list_unlink(&self->pending, drop);
        s_map_remove(self, drop);
        s_entry_free(drop);
        self->counts.dropped++;
    }
    return 0;
}

/* ---- connection state ---- */

static void s_connect(td_store_t *self);
static void s_sub_connect(td_store_t *self);

static void s_log_down(td_store_t *self, const char *why)
{
    if (self->down_logged)
        return;
    self->down_logged = 1;
    if (self->ever_up)
        td_log(LOG_WARNING, "store: lost Redis at %s:%u (%s); keeping writes, retrying every second",
               self->conf.host, self->conf.port, why);
    else
        td_log(LOG_WARNING, "store: cannot reach Redis at %s:%u (%s); keeping writes, retrying "
               "every second", self->conf.host, self->conf.port, why);
}

/* The command connection is gone (or going): in-flight writes go back to
 * pending, before what is there, in the order they were sent. One that a
 * later write of its key superseded stays unmapped (so last-wins cannot drop
 * it) and is replayed before that later write, which keeps the order. */
static void s_cmd_down(td_store_t *self, const char *why)
{
    int was_up = self->state == S_UP;
    self->cmd = NULL;
    self->state = S_DOWN;
    self->ping_out = 0;
    s_list_t keep = { 0 };
    while (self->inflight.head) {
        s_entry_t *e = self->inflight.head;
        s_list_unlink(&self->inflight, e);
        e->unanswered = 0;
        s_list_push(&keep, e);    /* superseded ones too: replayed in order */
    }
    if (keep.head) {              /* keep ++ pending */
        if (self->pending.head) {
            keep.tail->next = self->pending.head;
            self->pending.head->prev = keep.tail;
            keep.tail = self->pending.tail;
        }
        keep.count += self->pending.count;
        self->pending = keep;
    }
    if (self->closing)
        return;
    if (was_up)
        self->counts.outages++;
    s_log_down(self, why);
}

static void s_on_disconnect(const redisAsyncContext *ac, int status)
{
    td_store_t *self = ac->data;
    if (!self || self->cmd != ac)
        return;
    s_cmd_down(self, status == REDIS_OK ? "closed" : (ac->errstr[0] ? ac->errstr : "error"));
}

static void s_drop_sub(td_store_t *self);
static void s_sub_connect(td_store_t *self);

static void s_fire_up(td_store_t *self)
{
    self->up_pending = 0;
    for (int i = 0; i < self->n_on_up && self->state == S_UP; i++)
        self->on_up[i].fn(self->on_up[i].arg);
}

static void s_up(td_store_t *self)
{
    size_t n = self->pending.count;
    self->state = S_UP;
    self->cmd_ticks = 0;
    while (self->pending.head) {
        s_entry_t *e = self->pending.head;
        s_list_unlink(&self->pending, e);
        if (s_send(self, e) < 0) {            /* not expected: keep it for later */
            s_list_push(&self->pending, e);
            break;
        }
    }
    if (self->down_logged)
        td_log(LOG_NOTICE, "store: Redis at %s:%u is back (%zu writes replayed)", self->conf.host,
               self->conf.port, n);
    else
        td_log(LOG_INFO, "store: connected to Redis at %s:%u db %d", self->conf.host,
               self->conf.port, self->conf.db);
    self->down_logged = 0;
    self->ever_up = 1;
    if (!self->nchannels) {
        s_fire_up(self);
        return;
    }
    /* A node resyncs in on_up: first be subscribed again, so that no change
     * published after its reload started can be missed. A subscriber that
     * outlived the outage may have missed messages: start it afresh. */
    self->up_pending = 1;
    if (self->sub)
        s_drop_sub(self);
    s_sub_connect(self);
}

/* AUTH's reply (if a password is set), then SELECT's: up on SELECT's OK. */
static void s_on_handshake(redisAsyncContext *ac, void *reply, void *priv)
{
    td_store_t *self = ac->data;
    redisReply *r = reply;
    if (!r || !self || self->cmd != ac)
        return;
    s_count_reply(self, r);
    if (r->type == REDIS_REPLY_ERROR) {
        if (!self->down_logged)
            td_log(LOG_ERR, "store: Redis at %s:%u refused %s: %s", self->conf.host,
                   self->conf.port, priv ? "AUTH" : "SELECT", r->str);
        self->down_logged = 1;
        redisAsyncDisconnect(ac);
        return;
    }
    if (!priv && self->state == S_CONNECTING)
        s_up(self);
}

static void s_on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    td_store_t *self = ac->data;
    if (!self || self->cmd != ac)
        return;
    if (status != REDIS_OK) {     /* hiredis frees ac after this returns */
        s_cmd_down(self, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    if (self->conf.password[0]) {
        redisAsyncCommand(ac, s_on_handshake, (void *)1, "AUTH %s", self->conf.password);
        self->counts.commands++;
    }
    redisAsyncCommand(ac, s_on_handshake, NULL, "SELECT %d", self->conf.db);
    self->counts.commands++;
}

static void s_connect(td_store_t *self)
{
    redisAsyncContext *ac = redisAsyncConnect(self->conf.host, self->conf.port);
    if (!ac)
        return;
    if (ac->err) {
        s_log_down(self, ac->errstr);
        redisAsyncFree(ac);
        return;
    }
    ac->data = self;
    self->cmd = ac;
    self->state = S_CONNECTING;
    self->cmd_ticks = 0;
    redisLibeventAttach(ac, self->base);
    redisAsyncSetConnectCallback(ac, s_on_connect);
    redisAsyncSetDisconnectCallback(ac, s_on_disconnect);
}

/* ---- the subscriber connection ---- */

/* hiredis keeps one callback per channel: every subscriber of the channel
 * is called from here. */
static void s_on_message(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    td_store_t *self = ac->data;
    redisReply *r = reply;
    if (!r || !self || self->closing)
        return;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3
        && r->element[0]->type == REDIS_REPLY_STRING
        && r->element[1]->type == REDIS_REPLY_STRING) {
        const char *ch = r->element[1]->str;
        if (!strcmp(r->element[0]->str, "message") && r->element[2]->type == REDIS_REPLY_STRING) {
            for (s_sub_t *s = self->subs; s; s = s->next)
                if (!strcmp(s->channel, ch))
                    s->fn(s->arg, s_short(ch), r->element[2]->str, r->element[2]->len);
        } else if (!strcmp(r->element[0]->str, "subscribe")) {
            self->counts.replies++;
            /* element 2: how many channels this connection now has */
            if (self->up_pending && self->state == S_UP
                && r->element[2]->type == REDIS_REPLY_INTEGER
                && r->element[2]->integer >= self->nchannels)
                s_fire_up(self);
        }
    }
}

/* SUBSCRIBE s's channel unless an earlier subscriber's did. */
static void s_sub_send(td_store_t *self, s_sub_t *s)
{
    for (s_sub_t *o = s->next; o; o = o->next)
        if (!strcmp(o->channel, s->channel))
            return;
    redisAsyncCommand(self->sub, s_on_message, NULL, "SUBSCRIBE %b", s->channel,
                      strlen(s->channel));
    self->counts.commands++;
}

static void s_on_sub_auth(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    td_store_t *self = ac->data;
    redisReply *r = reply;
    if (!r || !self || self->sub != ac)
        return;
    s_count_reply(self, r);
    if (r->type == REDIS_REPLY_ERROR) {
        redisAsyncDisconnect(ac);
        return;
    }
    self->sub_state = S_UP;
    for (s_sub_t *s = self->subs; s; s = s->next)
        s_sub_send(self, s);
}

static void s_on_sub_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    td_store_t *self = ac->data;
    if (!self || self->sub != ac)
        return;
    self->sub = NULL;
    self->sub_state = S_DOWN;
}

static void s_on_sub_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    td_store_t *self = ac->data;
    if (!self || self->sub != ac)
        return;
    if (status != REDIS_OK) {
        self->sub = NULL;
        self->sub_state = S_DOWN;
        return;
    }
    if (self->conf.password[0]) {
        redisAsyncCommand(ac, s_on_sub_auth, NULL, "AUTH %s", self->conf.password);
        self->counts.commands++;
        return;
    }
    self->sub_state = S_UP;
    for (s_sub_t *s = self->subs; s; s = s->next)
        s_sub_send(self, s);
}

static void s_sub_connect(td_store_t *self)
{
    redisAsyncContext *ac = redisAsyncConnect(self->conf.host, self->conf.port);
    if (!ac)
        return;
    if (ac->err) {
        redisAsyncFree(ac);
        return;
    }
    ac->data = self;
    self->sub = ac;
    self->sub_state = S_CONNECTING;
    self->sub_ticks = 0;
    redisLibeventAttach(ac, self->base);
    redisAsyncSetConnectCallback(ac, s_on_sub_connect);
    redisAsyncSetDisconnectCallback(ac, s_on_sub_disconnect);
}

/* ---- the tick: reconnect, ping, notice a hung Redis ---- */

static void s_on_ping(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    td_store_t *self = ac->data;
    if (!reply || !self || self->cmd != ac)
        return;
    s_count_reply(self, reply);
    self->ping_out = 0;
    self->cmd_ticks = 0;
}

static void s_drop_cmd(td_store_t *self, const char *why)
{
    redisAsyncContext *ac = self->cmd;
    s_cmd_down(self, why);        /* before the free: it runs the callbacks */
    ac->data = NULL;
    redisAsyncFree(ac);
}

static void s_drop_sub(td_store_t *self)
{
    redisAsyncContext *ac = self->sub;
    self->sub = NULL;
    self->sub_state = S_DOWN;
    ac->data = NULL;
    redisAsyncFree(ac);
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    td_store_t *self = arg;
    int heard = self->heard;
    self->heard = 0;
    if (!self->cmd)
        s_connect(self);
    else if (self->state == S_CONNECTING) {
        if (++self->cmd_ticks >= TD_STORE_STALL_S)
            s_drop_cmd(self, "no answer");
    } else if (self->ping_out) {
        if (heard)
            self->cmd_ticks = 0;
        else if (++self->cmd_ticks >= TD_STORE_STALL_S)
            s_drop_cmd(self, "no answer for 3 s");
    } else {
        redisAsyncCommand(self->cmd, s_on_ping, NULL, "PING");
        self->counts.commands++;
        self->ping_out = 1;
        self->cmd_ticks = 0;
    }
    if (self->subs) {
        if (!self->sub && self->state == S_UP) {
            self->up_pending = 1;     /* messages may have been missed: resync */
            s_sub_connect(self);
        }
        else if (self->sub && (self->state != S_UP
                               || (self->sub_state == S_CONNECTING
                                   && ++self->sub_ticks >= TD_STORE_STALL_S)))
            s_drop_sub(self);     /* hung with cmd, or never answered */
    }
}

/* ---- public ---- */

td_store_t *td_store_new(struct event_base *base, const td_store_conf_t *conf, const char *node)
{
    if (!base || !conf || !conf->host[0] || !conf->port) {
        td_log(LOG_ERR, "store: no Redis address");
        return NULL;
    }
    td_store_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->conf = *conf;
    snprintf(self->node, sizeof self->node, "%s", node ? node : "");
    int map_ok = td_map_init(&self->map, 1024, s_map_eq) == 0;
    self->tick = event_new(base, -1, EV_PERSIST, s_on_tick, self);
    if (!map_ok || !self->tick) {
        td_store_destroy(&self);
        return NULL;
    }
    struct timeval sec = { 1, 0 };
    event_add(self->tick, &sec);
    s_connect(self);
    return self;
}

void td_store_destroy(td_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    td_store_t *self = *self_p;
    self->closing = 1;
    if (self->tick)
        event_free(self->tick);
    if (self->sub)
        s_drop_sub(self);
    if (self->cmd)
        s_drop_cmd(self, "closing");
    while (self->pending.head) {
        s_entry_t *e = self->pending.head;
        s_list_unlink(&self->pending, e);
        s_entry_free(e);
    }
    for (s_sub_t *s = self->subs, *next; s; s = next) {
        next = s->next;
        free(s->channel);
        free(s);
    }
    td_map_fini(&self->map);
    free(self);
    *self_p = NULL;
}

int td_store_up(const td_store_t *self)
{
    return self && self->state == S_UP;
}

int td_store_on_up(td_store_t *self, td_store_up_fn *fn, void *arg)
{
    if (self->n_on_up >= TD_STORE_MAX_ON_UP)
        return -1;
    self->on_up[self->n_on_up].fn = fn;
    self->on_up[self->n_on_up].arg = arg;
    self->n_on_up++;
    return 0;
}

int td_store_set(td_store_t *self, const char *key, const void *value, size_t len, int ttl_s)
{
    s_entry_t *e = s_entry_new(key);
    if (!e)
        return -1;
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    const char *argv[] = { "SET", e->key, value, "EX", ttl };
    size_t lens[] = { 3, strlen(e->key), len, 2, strlen(ttl) };
    if (s_entry_add(e, ttl_s > 0 ? 5 : 3, argv, lens) < 0) {
        s_entry_free(e);
        return -1;
    }
    return s_write(self, e);
}

/* HSET key f1 v1 ... into e; -1 when out of memory. */
static int s_add_hset(s_entry_t *e, size_t n, const char *const *fields, const char *const *values)
{
    const char **argv = malloc((2 + 2 * n) * sizeof *argv);
    size_t *lens = malloc((2 + 2 * n) * sizeof *lens);
    int rc = -1;
    if (argv && lens) {
        argv[0] = "HSET";
        lens[0] = 4;
        argv[1] = e->key;
        lens[1] = strlen(e->key);
        for (size_t i = 0; i < n; i++) {
            argv[2 + 2 * i] = fields[i];
            lens[2 + 2 * i] = strlen(fields[i]);
            argv[3 + 2 * i] = values[i] ? values[i] : "";
            lens[3 + 2 * i] = strlen(argv[3 + 2 * i]);
        }
        rc = s_entry_add(e, (int)(2 + 2 * n), argv, lens);
    }
    free(argv);
    free(lens);
    return rc;
}

int td_store_hset(td_store_t *self, const char *key, int ttl_s, size_t n,
                  const char *const *fields, const char *const *values)
{
    s_entry_t *e = s_entry_new(key);
    if (!e)
        return -1;
    const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
    const char *del[] = { "DEL", e->key };
    size_t lmulti[] = { 5 }, lexec[] = { 4 }, ldel[] = { 3, strlen(e->key) };
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    const char *exp[] = { "EXPIRE", e->key, ttl };
    size_t lexp[] = { 6, strlen(e->key), strlen(ttl) };
    int rc = s_entry_add(e, 1, multi, lmulti);
    if (!rc)
        rc = s_entry_add(e, 2, del, ldel);
    if (!rc && n)
        rc = s_add_hset(e, n, fields, values);
    if (!rc && ttl_s > 0)
        rc = s_entry_add(e, 3, exp, lexp);
    if (!rc)
        rc = s_entry_add(e, 1, exec, lexec);
    if (rc < 0) {
        s_entry_free(e);
        return -1;
    }
    return s_write(self, e);
}

int td_store_hupdate(td_store_t *self, const char *key, size_t n, const char *const *fields,
                     const char *const *values)
{
    if (!n)
        return 0;
    s_entry_t *e = s_entry_new(key);
    if (!e)
        return -1;
    /* Start from the key's earlier write if it is still kept, so
     * replacing it loses none of the fields this update leaves alone. */
    s_entry_t *old = s_map_find(self, e->key, e->hash);
    if (old && !old->unanswered && old->nparts < TD_STORE_MAX_PARTS) {
        if (!(e->buf = malloc(old->len))) {
            s_entry_free(e);
            return -1;
        }
        memcpy(e->buf, old->buf, old->len);
        e->len = old->len;
        e->nparts = old->nparts;
    }
    if (s_add_hset(e, n, fields, values) < 0) {
        s_entry_free(e);
        return -1;
    }
    return s_write(self, e);
}

int td_store_del(td_store_t *self, const char *key)
{
    s_entry_t *e = s_entry_new(key);
    if (!e)
        return -1;
    const char *argv[] = { "DEL", e->key };
    size_t lens[] = { 3, strlen(e->key) };
    if (s_entry_add(e, 2, argv, lens) < 0) {
        s_entry_free(e);
        return -1;
    }
    return s_write(self, e);
}

static void s_on_counted(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    td_store_t *self = ac->data;
    if (self)
        s_count_reply(self, reply);
}

int td_store_publish(td_store_t *self, const char *channel, const void *msg, size_t len)
{
    if (self->state != S_UP)
        return -1;
    char *ch = s_full(channel);
    if (!ch)
        return -1;
    const char *argv[] = { "PUBLISH", ch, msg };
    size_t lens[] = { 7, strlen(ch), len };
    int rc = redisAsyncCommandArgv(self->cmd, s_on_counted, NULL, 3, argv, lens);
    free(ch);
    self->counts.commands++;
    return rc == REDIS_OK ? 0 : -1;
}

/* ---- reads ---- */

typedef struct {
    td_store_t *self;
    td_store_get_fn *get;
    td_store_hash_fn *hash;
    void *arg;
    char key[];
} s_read_t;

/* Call a hash callback with the pairs of an HGETALL reply. */
static void s_give_hash(td_store_hash_fn *fn, void *arg, const char *key, int ok,
                        redisReply *r)
{
    size_t n = ok && r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
    const char *stack_f[16] = { 0 }, *stack_v[16] = { 0 };
    const char **f = stack_f, **v = stack_v;
    if (n > 16) {
        f = malloc(n * sizeof *f);
        v = malloc(n * sizeof *v);
        if (!f || !v) {
            free(f == stack_f ? NULL : f);
            free(v == stack_v ? NULL : v);
            fn(arg, 0, key, 0, NULL, NULL);
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        f[i] = r->element[2 * i]->str ? r->element[2 * i]->str : "";
        v[i] = r->element[2 * i + 1]->str ? r->element[2 * i + 1]->str : "";
    }
    fn(arg, ok, key, n, f, v);
    if (f != stack_f) {
        free(f);
        free(v);
    }
}

static void s_on_read(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    s_read_t *rd = priv;
    td_store_t *self = rd->self;
    redisReply *r = reply;
    int ok = r && r->type != REDIS_REPLY_ERROR;
    s_count_reply(self, r);
    if (!self->closing) {
        if (rd->get) {
            int has = ok && r->type == REDIS_REPLY_STRING;
            rd->get(rd->arg, ok, rd->key, has ? r->str : NULL, has ? r->len : 0);
        } else
            s_give_hash(rd->hash, rd->arg, rd->key, ok, r);
    }
    free(rd);
}

static int s_read(td_store_t *self, const char *key, const char *verb, td_store_get_fn *get,
                  td_store_hash_fn *hash, void *arg)
{
    if (self->state != S_UP) {
        if (get)
            get(arg, 0, key, NULL, 0);
        else
            hash(arg, 0, key, 0, NULL, NULL);
        return 0;
    }
    size_t n = strlen(key);
    s_read_t *rd = malloc(sizeof *rd + n + 1);
    if (!rd)
        return -1;
    *rd = (s_read_t){ self, get, hash, arg };
    memcpy(rd->key, key, n + 1);
    char *full = s_full(key);
    if (!full) {
        free(rd);
        return -1;
    }
    const char *argv[] = { verb, full };
    size_t lens[] = { strlen(verb), strlen(full) };
    int rc = redisAsyncCommandArgv(self->cmd, s_on_read, rd, 2, argv, lens);
    free(full);
    if (rc != REDIS_OK) {
        free(rd);
        return -1;
    }
    self->counts.commands++;
    return 0;
}

int td_store_get(td_store_t *self, const char *key, td_store_get_fn *fn, void *arg)
{
    return s_read(self, key, "GET", fn, NULL, arg);
}

int td_store_hgetall(td_store_t *self, const char *key, td_store_hash_fn *fn, void *arg)
{
    return s_read(self, key, "HGETALL", NULL, fn, arg);
}

typedef struct {
    td_store_t *self;
    td_store_lost_fn *fn;
    void *arg;
    char mark[];
} s_lost_t;

static void s_on_mark(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    s_lost_t *l = priv;
    redisReply *r = reply;
    s_count_reply(l->self, r);
    /* nil: not there, lost (or never written); no reply: away again, the
     * next on_up asks again */
    if (r && r->type != REDIS_REPLY_ERROR && !l->self->closing) {
        int lost = r->type == REDIS_REPLY_NIL;
        if (lost)
            td_store_set(l->self, l->mark, "1", 1, 0);
        l->fn(l->arg, lost);
    }
    free(l);
}

int td_store_if_lost(td_store_t *self, const char *mark, td_store_lost_fn *fn, void *arg)
{
    if (self->state != S_UP)
        return 0;                 /* the next on_up asks */
    size_t n = strlen(mark);
    s_lost_t *l = malloc(sizeof *l + n + 1);
    char *full = s_full(mark);
    if (!l || !full) {
        free(l);
        free(full);
        return -1;
    }
    *l = (s_lost_t){ self, fn, arg };
    memcpy(l->mark, mark, n + 1);
    const char *argv[] = { "GET", full };
    size_t lens[] = { 3, strlen(full) };
    int rc = redisAsyncCommandArgv(self->cmd, s_on_mark, l, 2, argv, lens);
    free(full);
    if (rc != REDIS_OK) {
        free(l);
        return -1;
    }
    self->counts.commands++;
    return 0;
}

/* ---- scan ---- */

typedef struct {
    td_store_t *self;
    char *match;                  /* prefixed pattern */
    td_store_hash_fn *each_hash;
    td_store_get_fn *each_value;
    td_store_done_fn *done;
    void *arg;
    int outstanding;              /* commands sent, not answered */
    int finished;                 /* the cursor came back to 0 */
    int ok;
} s_scan_t;

typedef struct {
    s_scan_t *scan;
    char key[];                   /* without the prefix */
} s_scan_key_t;

static void s_scan_next(s_scan_t *sc, const char *cursor);

static void s_scan_end(s_scan_t *sc)
{
    if (sc->outstanding > 0 || (sc->ok && !sc->finished))
        return;
    if (!sc->self->closing)
        sc->done(sc->arg, sc->ok);
    free(sc->match);
    free(sc);
}

static void s_on_scan_key(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    s_scan_key_t *k = priv;
    s_scan_t *sc = k->scan;
    redisReply *r = reply;
    int ok = r && r->type != REDIS_REPLY_ERROR;
    s_count_reply(sc->self, r);
    sc->outstanding--;
    if (!r)
        sc->ok = 0;               /* the connection broke */
    /* a key gone between SCAN and its read is skipped, and so is one of
     * another type (an error reply: WRONGTYPE) */
    if (ok && !sc->self->closing) {
        if (sc->each_value && r->type == REDIS_REPLY_STRING)
            sc->each_value(sc->arg, 1, k->key, r->str, r->len);
        else if (sc->each_hash && r->type == REDIS_REPLY_ARRAY && r->elements)
            s_give_hash(sc->each_hash, sc->arg, k->key, 1, r);
    }
    free(k);
    s_scan_end(sc);
}

static void s_on_scan(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    s_scan_t *sc = priv;
    td_store_t *self = sc->self;
    redisReply *r = reply;
    s_count_reply(self, r);
    sc->outstanding--;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || self->state != S_UP
        || self->closing) {
        sc->ok = 0;
        s_scan_end(sc);
        return;
    }
    redisReply *keys = r->element[1];
    for (size_t i = 0; i < keys->elements; i++) {
        const char *full = keys->element[i]->str;
        const char *key = s_short(full);
        s_scan_key_t *k = malloc(sizeof *k + strlen(key) + 1);
        if (!k) {
            sc->ok = 0;
            break;
        }
        k->scan = sc;
        strcpy(k->key, key);
        const char *verb = sc->each_value ? "GET" : "HGETALL";
        const char *argv[] = { verb, full };
        size_t lens[] = { strlen(verb), strlen(full) };
        redisAsyncCommandArgv(self->cmd, s_on_scan_key, k, 2, argv, lens);
        self->counts.commands++;
        sc->outstanding++;
    }
    if (!strcmp(r->element[0]->str, "0") || !sc->ok)
        sc->finished = 1;
    else
        s_scan_next(sc, r->element[0]->str);
    s_scan_end(sc);
}

static void s_scan_next(s_scan_t *sc, const char *cursor)
{
    const char *argv[] = { "SCAN", cursor, "MATCH", sc->match, "COUNT", "1000" };
    size_t lens[] = { 4, strlen(cursor), 5, strlen(sc->match), 5, 4 };
    redisAsyncCommandArgv(sc->self->cmd, s_on_scan, sc, 6, argv, lens);
    sc->self->counts.commands++;
    sc->outstanding++;
}

int td_store_scan(td_store_t *self, const char *pattern, td_store_hash_fn *each_hash,
                  td_store_get_fn *each_value, td_store_done_fn *done, void *arg)
{
    if (self->state != S_UP) {
        done(arg, 0);
        return 0;
    }
    s_scan_t *sc = calloc(1, sizeof *sc);
    if (!sc || !(sc->match = s_full(pattern))) {
        free(sc);
        return -1;
    }
    sc->self = self;
    sc->each_hash = each_hash;
    sc->each_value = each_value;
    sc->done = done;
    sc->arg = arg;
    sc->ok = 1;
    s_scan_next(sc, "0");
    return 0;
}

/* ---- subscribe, counters ---- */

int td_store_subscribe(td_store_t *self, const char *channel, td_store_msg_fn *fn, void *arg)
{
    s_sub_t *s = calloc(1, sizeof *s);
    if (!s || !(s->channel = s_full(channel))) {
        free(s);
        return -1;
    }
    s->fn = fn;
    s->arg = arg;
    int known = 0;
    for (s_sub_t *o = self->subs; o && !known; o = o->next)
        known = !strcmp(o->channel, s->channel);
    if (!known)
        self->nchannels++;
    s->next = self->subs;
    self->subs = s;
    if (self->sub && self->sub_state == S_UP)
        s_sub_send(self, s);
    else if (!self->sub && self->state == S_UP)
        s_sub_connect(self);
    return 0;
}

const td_store_counts_t *td_store_counts(const td_store_t *self)
{
    return &self->counts;
}

size_t td_store_pending(const td_store_t *self)
{
    return self->pending.count + self->inflight.count;
}
