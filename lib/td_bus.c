/* td_bus - see td_bus.h. The only file that includes zmq.h and packs or
 * unpacks protobuf. Frames: ROUTER side [identity][envelope], DEALER side
 * [envelope]. */
#define TD_LOG_SUBSYS TD_LOG_BUS   /* td_log() here: [logging] bus= */
#include "td_bus.h"
#include "td_clock.h"
#include "td_log.h"
#include "td_str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_PEER_BUCKETS   64
#define S_ARENA_SIZE     (64 * 1024)
#define S_DRAIN_BUDGET   512          /* frames per read callback before yielding */
#define S_MAX_CASE       TD_BUS_MAX_CASE
#define S_HWM            100000

typedef struct s_peer {
    char identity[64];
    char role[16];
    uint32_t capacity, load;
    uint64_t last_seen_ms;
    uint64_t boot;                    /* its Hello's boot: another one means a restart */
    int alive;
    struct s_peer *next;              /* hash chain */
} s_peer_t;

struct td_bus {
    struct event_base *base;
    td_bus_mode_t mode;
    void *zctx, *sock;
    struct event *ev_read;            /* ZMQ_FD, edge-triggered: always drain */
    td_clock_t *own_clock;            /* the loop's real clock */
    td_clock_t *clock;                /* own_clock, or a test's fake (td_bus_set_clock) */
    td_timer_t *tick;                 /* heartbeat and dead-peer sweep, every TD_BUS_HEARTBEAT_MS */
    char identity[64];
    char role[16];
    uint32_t capacity, load;
    uint64_t boot;                    /* random, this process's start: in every Hello */
    td_bus_handlers_t h;
    void *arg;
    s_peer_t *peers[S_PEER_BUCKETS];  /* BIND: every peer heard; CONNECT: the router */
    uint8_t *tx;                      /* pack buffer, grows, never shrinks */
    size_t tx_cap;
    /* Unpacked messages live in this arena until the handler returns, so a
     * frame costs no malloc unless it is larger than the arena. */
    uint8_t arena[S_ARENA_SIZE];
    size_t arena_used;
    ProtobufCAllocator alloc;
    td_bus_counts_t counts;           /* frames by case, for metrics */
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

static s_peer_t *s_peer_find(td_bus_t *self, const char *identity)
{
    for (s_peer_t *p = self->peers[(unsigned)(td_str_hash(identity) % S_PEER_BUCKETS)]; p; p = p->next)
        if (strcmp(p->identity, identity) == 0)
            return p;
    return NULL;
}

static s_peer_t *s_peer_get(td_bus_t *self, const char *identity)
{
    s_peer_t *p = s_peer_find(self, identity);
    if (p)
        return p;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->identity, sizeof p->identity, "%s", identity);
    unsigned b = (unsigned)(td_str_hash(identity) % S_PEER_BUCKETS);
    p->next = self->peers[b];
    self->peers[b] = p;
    return p;
}

/* --- sending -------------------------------------------------------------- */

static void s_kick_reader(td_bus_t *self)
{
    /* ZMQ_FD is edge-triggered and a send may consume the edge that announced
     * incoming frames: look, and if frames wait, run the reader soon. */
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(self->sock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN))
        event_active(self->ev_read, EV_READ, 0);
}

static int s_send(td_bus_t *self, const char *peer, const Tandem__Envelope *env)
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
    int rc = 0;
    if (self->mode == TD_BUS_BIND) {
        if (!peer || !*peer) {
            td_log(LOG_ERR, "bus: %s send without a peer", td_bus_msg_name(env->body_case));
            return -1;
        }
        if (zmq_send(self->sock, peer, strlen(peer), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
            || zmq_send(self->sock, self->tx, size, ZMQ_DONTWAIT) < 0)
            rc = -1;
    } else if (zmq_send(self->sock, self->tx, size, ZMQ_DONTWAIT) < 0) {
        rc = -1;
    }
    if (rc < 0) {
        self->counts.tx_failed++;
        if (env->body_case != TANDEM__ENVELOPE__BODY_HELLO)
            td_log_limited(LOG_WARNING, 5, "bus: cannot send %s to %s: %s",
                           td_bus_msg_name(env->body_case),
                           peer && self->mode == TD_BUS_BIND ? peer : "router",
                           errno == EHOSTUNREACH ? "peer not connected"
                           : errno == EAGAIN ? "peer not connected or queue full"
                           : zmq_strerror(errno));
    } else if ((unsigned)env->body_case < S_MAX_CASE) {
        self->counts.tx[env->body_case]++;
    }
    s_kick_reader(self);
    return rc;
}

static int s_send_hello(td_bus_t *self, const char *peer)
{
    Tandem__Hello hello = TANDEM__HELLO__INIT;
    hello.role = self->role;
    hello.capacity = self->capacity;
    hello.load = self->load;
    hello.pid = (uint32_t)getpid();
    hello.boot = self->boot;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = TANDEM__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    return s_send(self, peer, &env);
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

static void s_on_hello(td_bus_t *self, const char *from, const Tandem__Hello *hello)
{
    s_peer_t *p = s_peer_get(self, from);
    if (!p)
        return;
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

static void s_dispatch(td_bus_t *self, const char *from, const Tandem__Envelope *env)
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
        s_on_hello(self, from, env->hello);
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

static void s_discard_rest(td_bus_t *self)
{
    int more = 0;
    size_t len = sizeof more;
    while (zmq_getsockopt(self->sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, self->sock, ZMQ_DONTWAIT);
        zmq_msg_close(&m);
    }
}

/* Receive and dispatch one frame set. Returns 0, or -1 when nothing waits. */
static int s_recv_one(td_bus_t *self)
{
    char from[256] = "router";
    if (self->mode == TD_BUS_BIND) {
        int n = zmq_recv(self->sock, from, sizeof from - 1, ZMQ_DONTWAIT);
        if (n < 0)
            return -1;
        from[n < (int)sizeof from - 1 ? n : (int)sizeof from - 1] = '\0';
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, self->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return -1;
    }
    s_discard_rest(self);
    self->arena_used = 0;
    Tandem__Envelope *env = tandem__envelope__unpack(&self->alloc, zmq_msg_size(&msg),
                                                     zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    if (!env) {
        self->counts.rx_bad++;
        td_log_limited(LOG_WARNING, 5, "bus: undecodable frame from %s dropped", from);
        return 0;
    }
    s_dispatch(self, from, env);
    tandem__envelope__free_unpacked(env, &self->alloc);
    self->arena_used = 0;
    return 0;
}

static void s_on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    td_bus_t *self = arg;
    for (int budget = S_DRAIN_BUDGET; budget > 0; budget--) {
        int events = 0;
        size_t len = sizeof events;
        if (zmq_getsockopt(self->sock, ZMQ_EVENTS, &events, &len) != 0 || !(events & ZMQ_POLLIN))
            return;
        if (s_recv_one(self) < 0)
            return;
    }
    /* Budget spent with frames still waiting: come back after other events. */
    event_active(self->ev_read, EV_READ, 0);
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

/* --- lifecycle ------------------------------------------------------------ */

td_bus_t *td_bus_new(struct event_base *base, td_bus_mode_t mode, const char *endpoint,
                     const char *identity, const char *role, uint32_t capacity,
                     const td_bus_handlers_t *handlers, void *arg)
{
    td_bus_t *self = calloc(1, sizeof *self);
    if (!self) {
        td_log(LOG_ERR, "bus: out of memory");
        return NULL;
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
    if (!self->zctx)
        goto fail;
    self->sock = zmq_socket(self->zctx, mode == TD_BUS_BIND ? ZMQ_ROUTER : ZMQ_DEALER);
    if (!self->sock)
        goto fail;
    int zero = 0, one = 1, hwm = S_HWM;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(self->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(self->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (mode == TD_BUS_BIND) {
        zmq_setsockopt(self->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
        zmq_setsockopt(self->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
        if (zmq_bind(self->sock, endpoint) != 0) {
            td_log(LOG_ERR, "bus: cannot bind %s: %s", endpoint, zmq_strerror(errno));
            goto fail;
        }
    } else {
        zmq_setsockopt(self->sock, ZMQ_ROUTING_ID, identity, strlen(identity));
        /* Queue only on live connections, so sends fail fast while the
         * router is away instead of piling up stale calls. */
        zmq_setsockopt(self->sock, ZMQ_IMMEDIATE, &one, sizeof one);
        int ivl = 100, ivl_max = 1000;
        zmq_setsockopt(self->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
        zmq_setsockopt(self->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
        if (zmq_connect(self->sock, endpoint) != 0) {
            td_log(LOG_ERR, "bus: cannot connect %s: %s", endpoint, zmq_strerror(errno));
            goto fail;
        }
    }
    int fd;
    size_t len = sizeof fd;
    if (zmq_getsockopt(self->sock, ZMQ_FD, &fd, &len) != 0)
        goto fail;
    self->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, s_on_readable, self);
    if (!self->ev_read || !self->tick || event_add(self->ev_read, NULL) != 0)
        goto fail;
    td_timer_start(self->tick, TD_BUS_HEARTBEAT_MS);
    if (mode == TD_BUS_CONNECT)
        s_send_hello(self, NULL);
    td_log(LOG_INFO, "bus: %s %s as %s", mode == TD_BUS_BIND ? "bound" : "connecting to",
           endpoint, identity);
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
    td_timer_destroy(&self->tick);
    td_clock_destroy(&self->own_clock);
    if (self->ev_read)
        event_free(self->ev_read);
    if (self->sock) {
        /* Give frames sent just before shutdown (final hangups) a moment
         * to leave, without hanging on a peer that is gone. */
        int linger = 200;
        zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(self->sock);
    }
    if (self->zctx)
        zmq_ctx_term(self->zctx);
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
    s_peer_t *p = s_peer_find(self, self->mode == TD_BUS_CONNECT || !peer ? "router" : peer);
    return p && p->alive;
}
