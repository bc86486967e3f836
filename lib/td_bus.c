/* td_bus - see td_bus.h. With td_bus_curve.c (keys, ZAP), the only file
 * that includes zmq.h, and the only one that packs or unpacks protobuf.
 * Frames: ROUTER side [routing id][envelope], DEALER side [envelope]. A BIND bus has one socket (its ROUTER); a CONNECT bus has one
 * DEALER per router endpoint (a link), each with its own ZMQ_FD event and
 * drained on its own. */
#define TD_LOG_SUBSYS TD_LOG_BUS   /* td_log() here: [logging] bus= */
#include "td_bus.h"
#include "td_bus_curve.h"
#include "td_clock.h"
#include "td_hash.h"
#include "td_hrw.h"
#include "td_log.h"
#include "td_str.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/dns.h>
#include <event2/util.h>

#define S_PEER_BUCKETS   64
#define S_ARENA_SIZE     (64 * 1024)
#define S_DRAIN_BUDGET   512          /* frames per read callback before yielding */
#define S_MAX_CASE       TD_BUS_MAX_CASE
#define S_HWM            100000
#define S_MAX_ROUTERS    64           /* td_bus_routers() lists at most this many */
#define S_DEFAULT_ROUTER "router"     /* a router whose Hello names none (older build) */

typedef struct s_link s_link_t;

typedef struct s_peer {
    char identity[64];
    char role[16];
    uint32_t capacity, load;
    uint64_t last_seen_ms;
    uint64_t boot;                    /* its Hello's boot: another one means a restart */
    int alive;
    char rid[96];                     /* BIND with CURVE: its connection's routing id
                                       * ("sig-1/<boot>"), from its last admitted Hello */
    s_link_t *link;                   /* CONNECT: the socket its Hellos come on */
    struct s_peer *next;              /* hash chain */
} s_peer_t;

/* One socket: BIND's ROUTER, or CONNECT's DEALER to one router endpoint. */
struct s_link {
    td_bus_t *bus;
    void *sock;
    struct event *ev_read;            /* ZMQ_FD, edge-triggered: always drain */
    char endpoint[256];
    s_peer_t *peer;                   /* CONNECT: the router heard on it (its last Hello) */
    unsigned discovered : 1;          /* from td_bus_discover(): dropped once its address is
                                       * gone from DNS and its router is dead */
    unsigned seen : 1;                /* in the last resolution */
    s_link_t *next;
};

/* td_bus_discover(): NAME re-resolved every TD_BUS_DISCOVER_MS. A separate
 * object because a lookup in flight may outlive the bus: its callback then
 * frees it. */
typedef struct {
    td_bus_t *bus;                    /* NULL once the bus is gone */
    struct event_base *base;
    struct evdns_base *dns;
    struct evdns_getaddrinfo_request *req;
    struct event *timer;
    int pending;
    char host[200], port[8];
    int failing;                      /* the last lookup failed (logged once) */
} s_discover_t;

struct td_bus {
    struct event_base *base;
    td_bus_mode_t mode;
    void *zctx;
    s_link_t *links;                  /* BIND: one; CONNECT: one per router endpoint */
    size_t nlinks;
    s_discover_t *discover;
    td_clock_t *own_clock;            /* the loop's real clock */
    td_clock_t *clock;                /* own_clock, or a test's fake (td_bus_set_clock) */
    td_timer_t *tick;                 /* heartbeat and dead-peer sweep, every TD_BUS_HEARTBEAT_MS */
    char identity[64];
    char role[16];
    uint32_t capacity, load;
    uint64_t boot;                    /* random, this process's start: in every Hello */
    td_bus_handlers_t h;
    void *arg;
    s_peer_t *peers[S_PEER_BUCKETS];  /* BIND: every peer heard; CONNECT: the routers */
    size_t npeers;                    /* in peers[], at most TD_BUS_PEER_MAX */
    uint8_t *tx;                      /* pack buffer, grows, never shrinks */
    size_t tx_cap;
    /* Unpacked messages live in this arena until the handler returns, so a
     * frame costs no malloc unless it is larger than the arena. */
    uint8_t arena[S_ARENA_SIZE];
    size_t arena_used;
    ProtobufCAllocator alloc;
    td_bus_counts_t counts;           /* frames by case, for metrics */
    td_bus_keys_t *keys;              /* CURVE keys (td_bus_new_keyed), NULL: a plain bus */
    td_bus_zap_t *zap;                /* BIND with CURVE: admits the known client keys */
};

static uint64_t s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Heartbeat time: the bus's clock (a test's fake one moves only when told). */
#define s_now_ms() td_clock_now_ms(self->clock)

/* --- arena allocator for protobuf-c unpack ------------------------------ */

static void *s_arena_alloc(void *data, size_t size)
{
    td_bus_t *self = data;
    size = (size + 15) & ~(size_t)15;
    if (self->arena_used + size <= sizeof self->arena) {
        void *p = self->arena + self->arena_used;
        self->arena_used += size;
        return p;
    }
    return malloc(size);
}

static void s_arena_free(void *data, void *ptr)
{
    td_bus_t *self = data;
    uint8_t *p = ptr;
    if (p >= self->arena && p < self->arena + sizeof self->arena)
        return;
    free(ptr);
}

/* --- peers ---------------------------------------------------------------- */

/* Issue 12: an identity must fit a peer's identity[] whole (a longer one,
 * cut, would never be found again: a new peer at every frame) and be
 * printable; anything else is refused, counted in rx_bad, logged at most
 * once a minute. 1 if it is refused. */
static int s_identity_refused(td_bus_t *self, const char *identity, size_t n)
{
    int bad = n == 0 || n >= sizeof ((s_peer_t *)0)->identity;
    for (size_t i = 0; i < n && !bad; i++)
        bad = (unsigned char)identity[i] < 0x21 || (unsigned char)identity[i] > 0x7e;
    if (!bad)
        return 0;
    self->counts.rx_bad++;
    td_log_every(LOG_WARNING, 60, "bus: a peer identity of %zu bytes (at most %zu printable) "
                 "refused (%llu bad frames so far)", n, sizeof ((s_peer_t *)0)->identity - 1,
                 (unsigned long long)self->counts.rx_bad);
    return 1;
}

static s_peer_t *s_peer_find(td_bus_t *self, const char *identity)
{
    for (s_peer_t *p = self->peers[(unsigned)(td_hash_str(identity) % S_PEER_BUCKETS)]; p; p = p->next)
        if (strcmp(p->identity, identity) == 0)
            return p;
    return NULL;
}

/* A bound bus at TD_BUS_PEER_MAX: forget the peer down longest (its down
 * was reported when it fell silent; if it comes back it is a new peer).
 * Only a bound bus: there no link points at a peer (link->peer is a
 * connecting bus's). A scan of the table, only when it is full. 0 if one
 * was forgotten. */
static int s_peer_forget_oldest_down(td_bus_t *self)
{
    if (self->mode != TD_BUS_BIND)
        return -1;
    s_peer_t **oldest = NULL;
    for (int b = 0; b < S_PEER_BUCKETS; b++)
        for (s_peer_t **pp = &self->peers[b]; *pp; pp = &(*pp)->next)
            if (!(*pp)->alive && (!oldest || (*pp)->last_seen_ms < (*oldest)->last_seen_ms))
                oldest = pp;
    if (!oldest)
        return -1;
    s_peer_t *p = *oldest;
    *oldest = p->next;
    td_log(LOG_INFO, "bus: %s (%s), down, forgotten to make room for a new peer",
           p->identity, p->role);
    free(p);
    self->npeers--;
    return 0;
}

static s_peer_t *s_peer_get(td_bus_t *self, const char *identity)
{
    s_peer_t *p = s_peer_find(self, identity);
    if (p)
        return p;
    if (self->npeers >= TD_BUS_PEER_MAX && s_peer_forget_oldest_down(self) < 0) {
        self->counts.peers_refused++;
        td_log_every(LOG_WARNING, 60, "bus: %d peers alive, the most kept: a Hello from %s "
                     "refused (%llu so far)", TD_BUS_PEER_MAX, identity,
                     (unsigned long long)self->counts.peers_refused);
        return NULL;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->identity, sizeof p->identity, "%.*s", (int)sizeof p->identity - 1, identity);
    unsigned b = (unsigned)(td_hash_str(identity) % S_PEER_BUCKETS);
    p->next = self->peers[b];
    self->peers[b] = p;
    self->npeers++;
    return p;
}

/* --- sending -------------------------------------------------------------- */

static void s_kick_reader(s_link_t *link)
{
    /* ZMQ_FD is edge-triggered and a send may consume the edge that announced
     * incoming frames: look, and if frames wait, run the reader soon. */
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(link->sock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN))
        event_active(link->ev_read, EV_READ, 0);
}

/* Is p a live router reached through its own link? */
static int s_router_usable(const s_peer_t *p)
{
    return p && p->alive && p->link && p->link->peer == p;
}

/* CONNECT: the socket for `peer` (a router identity), or for any live router
 * when peer is NULL: the first live one in endpoint order; with none alive,
 * the first link (its DEALER queues nothing while disconnected, so the send
 * fails fast as it always did). An unknown name with one link: that link
 * (single-router callers may name it anything). NULL if nothing fits. */
static s_link_t *s_link_for(td_bus_t *self, const char *peer)
{
    if (peer && *peer) {
        s_peer_t *p = s_peer_find(self, peer);
        if (p && p->link)
            return p->link;
        return self->nlinks == 1 ? self->links : NULL;
    }
    for (s_link_t *l = self->links; l; l = l->next)
        if (s_router_usable(l->peer))
            return l;
    return self->links;
}

/* --- CURVE: who may use which name ---------------------------------------- */

/* BIND: the routing id to send to peer: its name on a plain bus; with CURVE
 * the connection its last admitted Hello came on (NULL: none yet). */
static const char *s_curve_rid(td_bus_t *self, const char *peer)
{
    if (!self->zap)
        return peer;
    s_peer_t *p = s_peer_find(self, peer);
    return p && p->rid[0] ? p->rid : NULL;
}

/* BIND with CURVE: a frame from routing id rid (its DEALER's "NAME/BOOT")
 * with msg's User-Id (the name pattern ZAP gave its key). The sender's name
 * goes into from; -1 when its key may not use that name, or the frame is a
 * Hello naming another identity (refused, counted, logged). An admitted
 * Hello makes its connection the one sends to that name go to. */
static int s_curve_admit(td_bus_t *self, const char *rid, zmq_msg_t *msg, char *from,
                         size_t fromlen, const Tandem__Envelope *env)
{
    snprintf(from, fromlen, "%.*s", (int)strcspn(rid, "/"), rid);
    s_peer_t *p = s_peer_find(self, from);
    int hello = env->body_case == TANDEM__ENVELOPE__BODY_HELLO;
    if (p && !strcmp(p->rid, rid) && !hello)
        return 0;                     /* the connection admitted at its Hello */
    const char *allowed = zmq_msg_gets(msg, "User-Id");
    const char *claimed = hello && env->hello->identity && *env->hello->identity
                          ? env->hello->identity : from;
    if (!allowed || !td_bus_keys_allows(allowed, from) || strcmp(claimed, from) != 0) {
        const char *addr = zmq_msg_gets(msg, "Peer-Address");
        td_log_limited(LOG_WARNING, 1, "bus: refused %s from %s: its key may use the name "
                       "'%s' only ([bus] curve_clients)%s", td_bus_msg_name(env->body_case),
                       addr ? addr : "?", allowed ? allowed : "(none)",
                       strcmp(claimed, from) ? ", and its Hello names another" : "");
        self->counts.rx_bad++;
        return -1;
    }
    if (hello && (p = s_peer_get(self, from)) != NULL)
        snprintf(p->rid, sizeof p->rid, "%.95s", rid);   /* sends go to this connection now */
    return 0;
}

static int s_pack(td_bus_t *self, const Tandem__Envelope *env, size_t *size_out)
{
    size_t size = protobuf_c_message_get_packed_size(&env->base);
    if (size > self->tx_cap) {
        size_t cap = self->tx_cap ? self->tx_cap : 4096;
        while (cap < size)
            cap *= 2;
        uint8_t *tx = realloc(self->tx, cap);
        if (!tx) {
            td_log(LOG_ERR, "bus: out of memory packing %zu bytes", size);
            return -1;
        }
        self->tx = tx;
        self->tx_cap = cap;
    }
    protobuf_c_message_pack(&env->base, self->tx);
    *size_out = size;
    return 0;
}

/* Send the packed frame (self->tx) on one link; counted and logged. */
static int s_send_on(td_bus_t *self, s_link_t *link, const char *peer,
                     const Tandem__Envelope *env, size_t size)
{
    int rc = 0;
    if (!link) {
        errno = EHOSTUNREACH;
        rc = -1;
    } else if (self->mode == TD_BUS_BIND) {
        const char *rid = s_curve_rid(self, peer);
        if (!rid) {
            errno = EHOSTUNREACH;
            rc = -1;
        } else if (zmq_send(link->sock, rid, strlen(rid), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
            || zmq_send(link->sock, self->tx, size, ZMQ_DONTWAIT) < 0)
            rc = -1;
    } else if (zmq_send(link->sock, self->tx, size, ZMQ_DONTWAIT) < 0) {
        rc = -1;
    }
    if (rc < 0) {
        self->counts.tx_failed++;
        if (env->body_case != TANDEM__ENVELOPE__BODY_HELLO)
            td_log_limited(LOG_WARNING, 5, "bus: cannot send %s to %s: %s",
                           td_bus_msg_name(env->body_case),
                           peer && *peer ? peer : link && link->peer ? link->peer->identity
                                                                     : "the router",
                           errno == EHOSTUNREACH ? "peer not connected"
                           : errno == EAGAIN ? "peer not connected or queue full"
                           : zmq_strerror(errno));
    } else if ((unsigned)env->body_case < S_MAX_CASE) {
        self->counts.tx[env->body_case]++;
    }
    if (link)
        s_kick_reader(link);
    return rc;
}

static int s_send(td_bus_t *self, const char *peer, const Tandem__Envelope *env)
{
    if (self->mode == TD_BUS_BIND && (!peer || !*peer)) {
        td_log(LOG_ERR, "bus: %s send without a peer", td_bus_msg_name(env->body_case));
        return -1;
    }
    size_t size;
    if (s_pack(self, env, &size) < 0)
        return -1;
    return s_send_on(self, self->mode == TD_BUS_BIND ? self->links : s_link_for(self, peer),
                     peer, env, size);
}

static void s_hello_init(td_bus_t *self, Tandem__Hello *hello, Tandem__Envelope *env)
{
    tandem__hello__init(hello);
    hello->role = self->role;
    hello->capacity = self->capacity;
    hello->load = self->load;
    hello->pid = (uint32_t)getpid();
    hello->boot = self->boot;
    hello->identity = self->identity;
    tandem__envelope__init(env);
    env->body_case = TANDEM__ENVELOPE__BODY_HELLO;
    env->hello = hello;
}

/* BIND: a Hello to one peer. CONNECT: a Hello on every link (every router
 * hears us, and the load report reaches them all); peer is ignored. */
static int s_send_hello(td_bus_t *self, const char *peer)
{
    Tandem__Hello hello;
    Tandem__Envelope env;
    s_hello_init(self, &hello, &env);
    if (self->mode == TD_BUS_BIND)
        return s_send(self, peer, &env);
    size_t size;
    if (s_pack(self, &env, &size) < 0)
        return -1;
    int rc = 0;
    for (s_link_t *l = self->links; l; l = l->next)
        rc |= s_send_on(self, l, NULL, &env, size);
    return rc;
}

#define TD_BUS_X_SEND_IMPL(name, Type, CASE) \
    int td_bus_send_##name(td_bus_t *self, const char *peer, const char *call_id, \
                           uint32_t leg, const Tandem__##Type *msg) \
    { \
        Tandem__Envelope env = TANDEM__ENVELOPE__INIT; \
        env.call_id = (char *)(call_id ? call_id : ""); \
        env.leg = leg; \
        env.body_case = TANDEM__ENVELOPE__BODY_##CASE; \
        env.name = (Tandem__##Type *)msg; \
        return s_send(self, peer, &env); \
    }
TD_BUS_MESSAGES(TD_BUS_X_SEND_IMPL)
#undef TD_BUS_X_SEND_IMPL

/* --- receiving ------------------------------------------------------------ */

static void s_on_hello(td_bus_t *self, s_link_t *link, const char *from,
                       const Tandem__Hello *hello)
{
    if (self->mode == TD_BUS_CONNECT)   /* a router: named by its Hello */
        from = hello->identity && *hello->identity ? hello->identity : S_DEFAULT_ROUTER;
    if (s_identity_refused(self, from, strlen(from)))
        return;
    s_peer_t *p = s_peer_get(self, from);
    if (!p)
        return;
    if (self->mode == TD_BUS_CONNECT) {
        if (link->peer != p && link->peer)
            td_log(LOG_NOTICE, "bus: %s now answers as %s (was %s)", link->endpoint,
                   p->identity, link->peer->identity);
        if (p->link && p->link != link && p->link->peer == p && p->alive)
            /* Two sockets, one router: it hands our identity from one
             * connection to the other (ROUTER_HANDOVER) each time one
             * reconnects. List each router once (endpoint= or discover=). */
            td_log_limited(LOG_WARNING, 1, "bus: router %s answers at %s and at %s: list "
                           "each router once", p->identity, p->link->endpoint, link->endpoint);
        link->peer = p;
        p->link = link;
    }
    p->last_seen_ms = s_now_ms();
    if (hello->boot && p->boot && hello->boot != p->boot) {
        /* A new process under that name (restarted, within TD_BUS_DEAD_MS
         * or after being declared dead): it knows nothing of what it had. */
        td_log(LOG_WARNING, "bus: %s (%s) restarted (now pid %u)", p->identity, p->role,
               hello->pid);
        p->boot = hello->boot;
        if (self->h.on_peer_restart) {
            p->capacity = hello->capacity;
            p->alive = 1;
            self->h.on_peer_restart(self->arg, p->identity, p->role, p->capacity);
            if (self->mode == TD_BUS_BIND)
                s_send_hello(self, from);
            return;
        }
        if (p->alive) {
            p->alive = 0;
            if (self->h.on_peer_down)
                self->h.on_peer_down(self->arg, p->identity, p->role);
        }
    }
    p->boot = hello->boot;
    p->capacity = hello->capacity;
    p->load = hello->load;
    snprintf(p->role, sizeof p->role, "%s", hello->role ? hello->role : "");
    if (!p->alive) {
        p->alive = 1;
        td_log(LOG_NOTICE, "bus: %s (%s, capacity %u, pid %u) is up", p->identity, p->role,
               p->capacity, hello->pid);
        if (self->mode == TD_BUS_BIND)
            s_send_hello(self, from);   /* let it know at once that we are here */
        if (self->h.on_peer_up)
            self->h.on_peer_up(self->arg, p->identity, p->role, p->capacity);
    }
}

static void s_dispatch(td_bus_t *self, s_link_t *link, const char *from,
                       const Tandem__Envelope *env)
{
    td_bus_hdr_t hdr = { from, env->call_id ? env->call_id : "", env->leg };
    if ((unsigned)env->body_case < S_MAX_CASE)
        self->counts.rx[env->body_case]++;
    if (env->body_case != TANDEM__ENVELOPE__BODY_HELLO) {
        /* Any frame proves the peer is alive. */
        s_peer_t *p = s_peer_find(self, from);
        if (p)
            p->last_seen_ms = s_now_ms();
    }
    switch (env->body_case) {
    case TANDEM__ENVELOPE__BODY_HELLO:
        s_on_hello(self, link, from, env->hello);
        break;
#define TD_BUS_X_DISPATCH(name, Type, CASE) \
    case TANDEM__ENVELOPE__BODY_##CASE: \
        if (self->h.on_##name) \
            self->h.on_##name(self->arg, &hdr, env->name); \
        else \
            td_log(LOG_DEBUG, "bus: %s from %s ignored", #name, from); \
        break;
    TD_BUS_MESSAGES(TD_BUS_X_DISPATCH)
#undef TD_BUS_X_DISPATCH
    default:
        self->counts.rx_bad++;
        td_log_limited(LOG_WARNING, 5, "bus: frame from %s with unknown body %d", from,
                       (int)env->body_case);
        break;
    }
}

static void s_discard_rest(void *sock)
{
    int more = 0;
    size_t len = sizeof more;
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
        zmq_msg_close(&m);
    }
}

/* Receive and dispatch one frame set. Returns 0, or -1 when nothing waits. */
static int s_recv_one(s_link_t *link)
{
    td_bus_t *self = link->bus;
    char from[256];
    if (self->mode == TD_BUS_BIND) {
        int n = zmq_recv(link->sock, from, sizeof from - 1, ZMQ_DONTWAIT);
        if (n < 0)
            return -1;
        from[n < (int)sizeof from - 1 ? n : (int)sizeof from - 1] = '\0';
        if (s_identity_refused(self, from, (size_t)n)) {
            s_discard_rest(link->sock);
            return 0;
        }
    } else {
        /* The router on this link: its identity from its last Hello. */
        snprintf(from, sizeof from, "%s", link->peer ? link->peer->identity : S_DEFAULT_ROUTER);
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, link->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return -1;
    }
    s_discard_rest(link->sock);
    self->arena_used = 0;
    Tandem__Envelope *env = tandem__envelope__unpack(&self->alloc, zmq_msg_size(&msg),
                                                     zmq_msg_data(&msg));
    if (!env) {
        zmq_msg_close(&msg);
        self->counts.rx_bad++;
        td_log_limited(LOG_WARNING, 5, "bus: undecodable frame from %s dropped", from);
        return 0;
    }
    char rid[sizeof from];
    if (self->zap) {                  /* CURVE: the name its key may use, not just its rid */
        snprintf(rid, sizeof rid, "%s", from);
        if (s_curve_admit(self, rid, &msg, from, sizeof from, env) < 0) {
            zmq_msg_close(&msg);
            tandem__envelope__free_unpacked(env, &self->alloc);
            self->arena_used = 0;
            return 0;
        }
    }
    zmq_msg_close(&msg);
    s_dispatch(self, link, from, env);
    tandem__envelope__free_unpacked(env, &self->alloc);
    self->arena_used = 0;
    return 0;
}

static void s_on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_link_t *link = arg;
    for (int budget = S_DRAIN_BUDGET; budget > 0; budget--) {
        int events = 0;
        size_t len = sizeof events;
        if (zmq_getsockopt(link->sock, ZMQ_EVENTS, &events, &len) != 0 || !(events & ZMQ_POLLIN))
            return;
        if (s_recv_one(link) < 0)
            return;
    }
    /* Budget spent with frames still waiting: come back after other events. */
    event_active(link->ev_read, EV_READ, 0);
}

/* --- heartbeat ------------------------------------------------------------ */

static void s_on_tick(void *arg)
{
    td_bus_t *self = arg;
    td_timer_start(self->tick, TD_BUS_HEARTBEAT_MS);
    uint64_t now = s_now_ms();
    if (self->mode == TD_BUS_CONNECT)
        s_send_hello(self, NULL);
    for (int b = 0; b < S_PEER_BUCKETS; b++) {
        for (s_peer_t *p = self->peers[b]; p; p = p->next) {
            if (!p->alive)
                continue;
            if (now - p->last_seen_ms > TD_BUS_DEAD_MS) {
                p->alive = 0;
                td_log(LOG_WARNING, "bus: %s (%s) silent for %d ms, declared down",
                       p->identity, p->role, TD_BUS_DEAD_MS);
                if (self->h.on_peer_down)
                    self->h.on_peer_down(self->arg, p->identity, p->role);
            } else if (self->mode == TD_BUS_BIND) {
                s_send_hello(self, p->identity);
            }
        }
    }
}

/* --- links ---------------------------------------------------------------- */

static void s_link_free(s_link_t *link)
{
    if (link->ev_read)
        event_free(link->ev_read);
    if (link->sock) {
        /* Give frames sent just before shutdown (final hangups) a moment
         * to leave, without hanging on a peer that is gone. */
        int linger = 200;
        zmq_setsockopt(link->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(link->sock);
    }
    free(link);
}

/* Open one socket: BIND's ROUTER on endpoint, or a DEALER to one router.
 * Appended to the links (endpoint order is the order of "any router"). */
static s_link_t *s_link_add(td_bus_t *self, const char *endpoint, int discovered)
{
    s_link_t *link = calloc(1, sizeof *link);
    if (!link) {
        td_log(LOG_ERR, "bus: out of memory");
        return NULL;
    }
    link->bus = self;
    link->discovered = discovered ? 1 : 0;
    snprintf(link->endpoint, sizeof link->endpoint, "%s", endpoint);
    link->sock = zmq_socket(self->zctx, self->mode == TD_BUS_BIND ? ZMQ_ROUTER : ZMQ_DEALER);
    if (!link->sock)
        goto fail;
    int zero = 0, one = 1, hwm = S_HWM;
    zmq_setsockopt(link->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(link->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(link->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (td_bus_curve_apply(link->sock, self->mode == TD_BUS_BIND, self->keys) < 0)
        goto fail;
    if (self->mode == TD_BUS_BIND) {
        zmq_setsockopt(link->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
        zmq_setsockopt(link->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
        if (zmq_bind(link->sock, endpoint) != 0) {
            td_log(LOG_ERR, "bus: cannot bind %s: %s", endpoint, zmq_strerror(errno));
            goto fail;
        }
    } else {
        /* With CURVE the routing id is NAME/BOOT: another key's connection
         * cannot take ours over (ROUTER_HANDOVER) without knowing BOOT,
         * which travels encrypted; the router reads NAME from it. */
        char rid[96];
        if (td_bus_curve_on(self->keys))
            snprintf(rid, sizeof rid, "%s/%016llx", self->identity, (unsigned long long)self->boot);
        else
            snprintf(rid, sizeof rid, "%s", self->identity);
        zmq_setsockopt(link->sock, ZMQ_ROUTING_ID, rid, strlen(rid));
        td_bus_connect_check(self->keys, endpoint);
        /* Queue only on live connections, so sends fail fast while the
         * router is away instead of piling up stale calls. */
        zmq_setsockopt(link->sock, ZMQ_IMMEDIATE, &one, sizeof one);
        int ivl = 100, ivl_max = 1000;
        zmq_setsockopt(link->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
        zmq_setsockopt(link->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
        if (zmq_connect(link->sock, endpoint) != 0) {
            td_log(LOG_ERR, "bus: cannot connect %s: %s", endpoint, zmq_strerror(errno));
            goto fail;
        }
    }
    int fd;
    size_t len = sizeof fd;
    if (zmq_getsockopt(link->sock, ZMQ_FD, &fd, &len) != 0)
        goto fail;
    link->ev_read = event_new(self->base, fd, EV_READ | EV_PERSIST, s_on_readable, link);
    if (!link->ev_read || event_add(link->ev_read, NULL) != 0)
        goto fail;
    s_link_t **tail = &self->links;
    while (*tail)
        tail = &(*tail)->next;
    *tail = link;
    self->nlinks++;
    td_log(LOG_INFO, "bus: %s %s as %s", self->mode == TD_BUS_BIND ? "bound" : "connecting to",
           endpoint, self->identity);
    return link;
fail:
    s_link_free(link);
    return NULL;
}

/* Close a link (its router's address left DNS and it is dead). */
static void s_link_drop(td_bus_t *self, s_link_t *link)
{
    for (s_link_t **pp = &self->links; *pp; pp = &(*pp)->next) {
        if (*pp == link) {
            *pp = link->next;
            self->nlinks--;
            break;
        }
    }
    for (int b = 0; b < S_PEER_BUCKETS; b++)
        for (s_peer_t *p = self->peers[b]; p; p = p->next)
            if (p->link == link)
                p->link = NULL;
    td_log(LOG_NOTICE, "bus: %s is gone from DNS and silent: disconnected", link->endpoint);
    s_link_free(link);
}

static s_link_t *s_link_find(td_bus_t *self, const char *endpoint)
{
    for (s_link_t *l = self->links; l; l = l->next)
        if (strcmp(l->endpoint, endpoint) == 0)
            return l;
    return NULL;
}

/* --- discovery ------------------------------------------------------------- */

static void s_discover_free(s_discover_t *d)
{
    if (d->timer)
        event_free(d->timer);
    if (d->dns)
        evdns_base_free(d->dns, 0);
    free(d);
}

static void s_on_discover_freed(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_discover_free(arg);
}

static void s_on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    s_discover_t *d = arg;
    d->pending = 0;
    d->req = NULL;
    td_bus_t *self = d->bus;
    if (!self) {                      /* the bus is gone: free us outside evdns's call */
        if (res)
            evutil_freeaddrinfo(res);
        event_base_once(d->base, -1, EV_TIMEOUT, s_on_discover_freed, d, NULL);
        return;
    }
    if (result != 0) {
        if (!d->failing)
            td_log(LOG_WARNING, "bus: cannot resolve %s (%s): trying every %d ms", d->host,
                   evutil_gai_strerror(result), TD_BUS_DISCOVER_MS);
        d->failing = 1;
        return;                       /* keep every link: DNS may be down, not the routers */
    }
    if (d->failing)
        td_log(LOG_NOTICE, "bus: %s resolves again", d->host);
    d->failing = 0;
    for (s_link_t *l = self->links; l; l = l->next)
        l->seen = 0;
    for (struct evutil_addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET)
            continue;
        char ip[INET_ADDRSTRLEN], endpoint[256];
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
        if (!inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip))
            continue;
        snprintf(endpoint, sizeof endpoint, "tcp://%s:%s", ip, d->port);
        s_link_t *l = s_link_find(self, endpoint);
        if (!l) {
            l = s_link_add(self, endpoint, 1);
            if (l) {
                td_log(LOG_NOTICE, "bus: %s has a new address, %s", d->host, endpoint);
                Tandem__Hello hello;
                Tandem__Envelope env;
                size_t size;
                s_hello_init(self, &hello, &env);
                if (s_pack(self, &env, &size) == 0)
                    s_send_on(self, l, NULL, &env, size);
            }
        }
        if (l)
            l->seen = 1;
    }
    evutil_freeaddrinfo(res);
    for (s_link_t *l = self->links, *next; l; l = next) {
        next = l->next;
        if (l->discovered && !l->seen && !(l->peer && l->peer->alive && l->peer->link == l))
            s_link_drop(self, l);
    }
}

static void s_discover_run(s_discover_t *d)
{
    if (d->pending)
        return;
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;        /* the bus speaks IPv4 (tcp://A.B.C.D:PORT) */
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    d->pending = 1;
    struct evdns_getaddrinfo_request *req = evdns_getaddrinfo(d->dns, d->host, d->port, &hints,
                                                              s_on_resolved, d);
    if (d->pending)                   /* not answered at once (numeric, hosts file) */
        d->req = req;
}

static void s_on_discover_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_discover_run(arg);
}

int td_bus_discover(td_bus_t *self, const char *spec)
{
    if (self->mode != TD_BUS_CONNECT || self->discover) {
        td_log(LOG_ERR, "bus: discover is for a connecting process, once");
        return -1;
    }
    const char *hp = spec && !strncmp(spec, "tcp://", 6) ? spec + 6 : NULL;
    const char *colon = hp ? strrchr(hp, ':') : NULL;
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (!hp || !colon || colon == hp || (size_t)(colon - hp) >= sizeof self->discover->host
        || port < 1 || port > 65535 || strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
        td_log(LOG_ERR, "bus: bad discover '%s': want tcp://NAME:PORT", spec ? spec : "");
        return -1;
    }
    s_discover_t *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    d->bus = self;
    d->base = self->base;
    memcpy(d->host, hp, (size_t)(colon - hp));
    snprintf(d->port, sizeof d->port, "%ld", port);
    d->dns = evdns_base_new(self->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    d->timer = event_new(self->base, -1, EV_PERSIST, s_on_discover_tick, d);
    struct timeval every = { TD_BUS_DISCOVER_MS / 1000, (TD_BUS_DISCOVER_MS % 1000) * 1000 };
    if (!d->dns || !d->timer || event_add(d->timer, &every) != 0) {
        td_log(LOG_ERR, "bus: cannot start discovery of %s", d->host);
        s_discover_free(d);
        return -1;
    }
    self->discover = d;
    td_log(LOG_INFO, "bus: discovering routers at %s (every %d ms)", spec, TD_BUS_DISCOVER_MS);
    s_discover_run(d);
    return 0;
}

/* --- lifecycle ------------------------------------------------------------ */

td_bus_t *td_bus_new(struct event_base *base, td_bus_mode_t mode, const char *endpoint,
                     const char *identity, const char *role, uint32_t capacity,
                     const td_bus_handlers_t *handlers, void *arg)
{
    return td_bus_new_keyed(base, mode, endpoint, identity, role, capacity, handlers, arg, NULL);
}

td_bus_t *td_bus_new_keyed(struct event_base *base, td_bus_mode_t mode, const char *endpoint,
                           const char *identity, const char *role, uint32_t capacity,
                           const td_bus_handlers_t *handlers, void *arg,
                           const td_bus_keys_t *keys)
{
    td_bus_t *self = calloc(1, sizeof *self);
    if (!self) {
        td_log(LOG_ERR, "bus: out of memory");
        return NULL;
    }
    if (keys && (keys->secret[0] || keys->insecure)) {
        self->keys = malloc(sizeof *self->keys);
        if (!self->keys) {
            free(self);
            return NULL;
        }
        *self->keys = *keys;
    }
    self->base = base;
    self->mode = mode;
    self->own_clock = td_clock_new(base);
    self->clock = self->own_clock;
    if (!self->own_clock)
        goto fail;
    self->tick = td_timer_new(self->clock, s_on_tick, self);
    snprintf(self->identity, sizeof self->identity, "%s", identity);
    snprintf(self->role, sizeof self->role, "%s", role);
    self->capacity = capacity;
    while (!self->boot && getrandom(&self->boot, sizeof self->boot, 0) < 0 && errno == EINTR)
        ;
    if (!self->boot)
        self->boot = s_wall_ms() ^ ((uint64_t)getpid() << 32) ^ 1;
    if (handlers)
        self->h = *handlers;
    self->arg = arg;
    self->alloc.alloc = s_arena_alloc;
    self->alloc.free = s_arena_free;
    self->alloc.allocator_data = self;

    self->zctx = zmq_ctx_new();
    if (!self->zctx || !self->tick)
        goto fail;
    if (mode == TD_BUS_BIND) {
        char bind_ep[256];
        if (td_bus_curve_on(self->keys)
            && !(self->zap = td_bus_zap_new(base, self->zctx, self->keys)))
            goto fail;                /* before the bind: no handshake without it */
        if (!td_bus_bind_endpoint(self->keys, endpoint, bind_ep, sizeof bind_ep)
            || !s_link_add(self, bind_ep, 0))
            goto fail;
    } else {
        /* A comma list: one DEALER per router. "" is allowed (td_bus_discover). */
        const char *p = endpoint ? endpoint : "";
        while (*p) {
            size_t n = strcspn(p, ",");
            char one[256];
            if (n >= sizeof one) {
                td_log(LOG_ERR, "bus: endpoint too long in '%s'", endpoint);
                goto fail;
            }
            memcpy(one, p, n);
            one[n] = '\0';
            char *e = one + strspn(one, " \t");
            e[strcspn(e, " \t")] = '\0';
            if (*e && !s_link_find(self, e) && !s_link_add(self, e, 0))
                goto fail;
            p += n;
            if (*p == ',')
                p++;
        }
    }
    td_timer_start(self->tick, TD_BUS_HEARTBEAT_MS);
    if (mode == TD_BUS_CONNECT)
        s_send_hello(self, NULL);
    return self;
fail:
    td_bus_destroy(&self);
    return NULL;
}

void td_bus_destroy(td_bus_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    td_bus_t *self = *self_p;
    if (self->discover) {
        s_discover_t *d = self->discover;
        d->bus = NULL;
        event_del(d->timer);
        if (!d->pending)
            s_discover_free(d);       /* else its lookup's callback frees it */
    }
    td_timer_destroy(&self->tick);
    td_clock_destroy(&self->own_clock);
    while (self->links) {
        s_link_t *l = self->links;
        self->links = l->next;
        s_link_free(l);
    }
    td_bus_zap_destroy(&self->zap);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    free(self->keys);
    for (int b = 0; b < S_PEER_BUCKETS; b++) {
        s_peer_t *p = self->peers[b];
        while (p) {
            s_peer_t *next = p->next;
            free(p);
            p = next;
        }
    }
    free(self->tx);
    free(self);
    *self_p = NULL;
}

const td_bus_counts_t *td_bus_counts(const td_bus_t *self)
{
    return &self->counts;
}

void td_bus_set_clock(td_bus_t *self, td_clock_t *clock)
{
    td_clock_t *c = clock ? clock : self->own_clock;
    td_timer_t *t = td_timer_new(c, s_on_tick, self);
    if (!t)
        return;
    td_timer_destroy(&self->tick);
    self->clock = c;
    self->tick = t;
    uint64_t now = s_now_ms();
    for (int b = 0; b < S_PEER_BUCKETS; b++)           /* silence counts from now */
        for (s_peer_t *p = self->peers[b]; p; p = p->next)
            p->last_seen_ms = now;
    td_timer_start(self->tick, TD_BUS_HEARTBEAT_MS);
}

void td_bus_set_load(td_bus_t *self, uint32_t load)
{
    self->load = load;
}

void td_bus_peers_foreach(td_bus_t *self, td_bus_peer_fn *fn, void *arg)
{
    uint64_t now = s_now_ms();
    for (int b = 0; b < S_PEER_BUCKETS; b++)
        for (s_peer_t *p = self->peers[b]; p; p = p->next)
            fn(arg, p->identity, p->role, p->alive, p->capacity, p->load,
               now - p->last_seen_ms);
}

int td_bus_peer_alive(td_bus_t *self, const char *peer)
{
    if (self->mode == TD_BUS_CONNECT && !peer) {
        for (s_link_t *l = self->links; l; l = l->next)
            if (s_router_usable(l->peer))
                return 1;
        return 0;
    }
    s_peer_t *p = peer ? s_peer_find(self, peer) : NULL;
    if (!p && self->mode == TD_BUS_CONNECT && self->nlinks == 1 && self->links->peer)
        p = self->links->peer;        /* one router, whatever the caller calls it */
    return p && p->alive;
}

size_t td_bus_routers(td_bus_t *self, const char **ids, size_t max)
{
    size_t n = 0;
    if (self->mode != TD_BUS_CONNECT)
        return 0;
    for (s_link_t *l = self->links; l && n < max; l = l->next) {
        if (!s_router_usable(l->peer))
            continue;
        size_t i = 0;
        while (i < n && ids[i] != l->peer->identity)    /* two links, one router */
            i++;
        if (i == n)
            ids[n++] = l->peer->identity;
    }
    return n;
}

const char *td_bus_pick_router(td_bus_t *self, const char *key)
{
    const char *ids[S_MAX_ROUTERS];
    size_t n = td_bus_routers(self, ids, S_MAX_ROUTERS);
    int k = td_hrw_pick(key ? key : "", ids, n);
    return k < 0 ? NULL : ids[k];
}

const char *td_bus_peer_name(td_bus_t *self, const char *peer)
{
    s_peer_t *p = peer ? s_peer_find(self, peer) : NULL;
    return p ? p->identity : NULL;
}
