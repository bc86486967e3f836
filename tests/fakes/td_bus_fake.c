/* td_bus_fake - see td_bus_fake.h. Links in place of lib/td_bus.c. */
#include "td_bus_fake.h"
#include "td_hrw.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct td_bus {
    td_bus_handlers_t h;
    void *arg;
    uint32_t load;
    char identity[64];
    td_bus_counts_t counts;          /* stays zero: the fake counts nothing */
};

static td_bus_fake_sent_t *s_sent;
static size_t s_count, s_cap;
static int s_alive = 1, s_fail, s_exten_answer = 1;

td_bus_t *td_bus_new(struct event_base *base, td_bus_mode_t mode, const char *endpoint,
                     const char *identity, const char *role, uint32_t capacity,
                     const td_bus_handlers_t *handlers, void *arg)
{
    (void)base; (void)mode; (void)endpoint; (void)role; (void)capacity;
    td_bus_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (handlers)
        self->h = *handlers;
    self->arg = arg;
    snprintf(self->identity, sizeof self->identity, "%s", identity ? identity : "");
    return self;
}

td_bus_t *td_bus_new_keyed(struct event_base *base, td_bus_mode_t mode, const char *endpoint,
                           const char *identity, const char *role, uint32_t capacity,
                           const td_bus_handlers_t *handlers, void *arg,
                           const td_bus_keys_t *keys)
{
    (void)keys;
    return td_bus_new(base, mode, endpoint, identity, role, capacity, handlers, arg);
}

void td_bus_destroy(td_bus_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

const td_bus_counts_t *td_bus_counts(const td_bus_t *self)
{
    return &self->counts;
}

void td_bus_set_load(td_bus_t *self, uint32_t load)
{
    self->load = load;
}

/* Several routers (td_bus_fake_set_routers). */
static struct {
    char identity[64];
    int alive;
} s_routers[8];
static size_t s_nrouters;

static char s_dead[8][64];
static int s_is_dead(const char *peer);
static int s_listed_alive(const char *peer);

int td_bus_peer_alive(td_bus_t *self, const char *peer)
{
    (void)self;
    if (s_is_dead(peer))
        return 0;
    int listed = s_listed_alive(peer);
    if (listed >= 0)
        return listed;
    for (size_t i = 0; peer && i < s_nrouters; i++)
        if (!strcmp(s_routers[i].identity, peer))
            return s_alive && s_routers[i].alive;
    return s_alive;
}

/* Several routers (td_bus_fake_set_routers): none by default, and then
 * callers fall back to "any router" (NULL), as with one router. */

void td_bus_fake_set_routers(const char *const *ids, size_t n)
{
    s_nrouters = 0;
    for (size_t i = 0; i < n && i < sizeof s_routers / sizeof s_routers[0]; i++) {
        snprintf(s_routers[i].identity, sizeof s_routers[i].identity, "%s", ids[i]);
        s_routers[i].alive = 1;
        s_nrouters++;
    }
}

void td_bus_fake_router_alive(const char *identity, int alive)
{
    for (size_t i = 0; i < s_nrouters; i++)
        if (!strcmp(s_routers[i].identity, identity))
            s_routers[i].alive = alive;
}

int td_bus_discover(td_bus_t *self, const char *spec)
{
    (void)self; (void)spec;
    return 0;
}

size_t td_bus_routers(td_bus_t *self, const char **ids, size_t max)
{
    (void)self;
    size_t n = 0;
    for (size_t i = 0; i < s_nrouters && n < max; i++)
        if (s_routers[i].alive)
            ids[n++] = s_routers[i].identity;
    return n;
}

const char *td_bus_pick_router(td_bus_t *self, const char *key)
{
    const char *ids[8];
    size_t n = td_bus_routers(self, ids, 8);
    int k = td_hrw_pick(key ? key : "", ids, n);
    return k < 0 ? NULL : ids[k];
}

const char *td_bus_peer_name(td_bus_t *self, const char *peer)
{
    (void)self;
    for (size_t i = 0; peer && i < s_nrouters; i++)
        if (!strcmp(s_routers[i].identity, peer))
            return s_routers[i].identity;
    return NULL;
}

/* The peers td_bus_fake_add_peer listed (none by default). */
static struct {
    char identity[64], role[32];
    int alive;
} s_peers[16];
static size_t s_npeers;

/* A peer td_bus_fake_add_peer listed: 1/0 its alive, -1 not listed. */
static int s_listed_alive(const char *peer)
{
    for (size_t i = 0; peer && i < s_npeers; i++)
        if (strcmp(s_peers[i].identity, peer) == 0)
            return s_peers[i].alive;
    return -1;
}

void td_bus_peers_foreach(td_bus_t *self, td_bus_peer_fn *fn, void *arg)
{
    (void)self;
    for (size_t i = 0; i < s_npeers; i++)
        fn(arg, s_peers[i].identity, s_peers[i].role, s_peers[i].alive, 0, 0, 0);
}

void td_bus_fake_add_peer(const char *identity, const char *role, int alive)
{
    if (s_npeers == sizeof s_peers / sizeof s_peers[0])
        return;
    snprintf(s_peers[s_npeers].identity, sizeof s_peers[0].identity, "%s", identity);
    snprintf(s_peers[s_npeers].role, sizeof s_peers[0].role, "%s", role);
    s_peers[s_npeers++].alive = alive;
}

static int s_record(const char *peer, const Tandem__Envelope *env)
{
    if (s_fail)
        return -1;
    size_t size = protobuf_c_message_get_packed_size(&env->base);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return -1;
    protobuf_c_message_pack(&env->base, buf);
    Tandem__Envelope *copy = tandem__envelope__unpack(NULL, size, buf);
    free(buf);
    if (!copy)
        return -1;
    if (s_count == s_cap) {
        size_t cap = s_cap ? s_cap * 2 : 64;
        td_bus_fake_sent_t *sent = realloc(s_sent, cap * sizeof *sent);
        if (!sent) {
            tandem__envelope__free_unpacked(copy, NULL);
            return -1;
        }
        s_sent = sent;
        s_cap = cap;
    }
    snprintf(s_sent[s_count].peer, sizeof s_sent[s_count].peer, "%s", peer ? peer : "router");
    s_sent[s_count].env = copy;
    s_count++;
    return 0;
}

static void s_after_send(td_bus_t *self, const Tandem__Envelope *env)
{
    if (env->body_case != TANDEM__ENVELOPE__BODY_EXTEN_QUERY || s_exten_answer < 0
        || !self->h.on_exten_reply)
        return;
    Tandem__ExtenReply r = TANDEM__EXTEN_REPLY__INIT;
    r.id = env->exten_query->id;
    r.exists = s_exten_answer != 0;
    td_bus_hdr_t hdr = { .peer = "router", .call_id = "", .leg = 0 };
    self->h.on_exten_reply(self->arg, &hdr, &r);
}

#define TD_BUS_X_FAKE_SEND(name, Type, CASE) \
    int td_bus_send_##name(td_bus_t *self, const char *peer, const char *call_id, \
                           uint32_t leg, const Tandem__##Type *msg) \
    { \
        (void)self; \
        Tandem__Envelope env = TANDEM__ENVELOPE__INIT; \
        env.call_id = (char *)(call_id ? call_id : ""); \
        env.leg = leg; \
        env.body_case = TANDEM__ENVELOPE__BODY_##CASE; \
        env.name = (Tandem__##Type *)msg; \
        int rc = s_record(peer, &env); \
        if (rc == 0) \
            s_after_send(self, &env); \
        return rc; \
    }
TD_BUS_MESSAGES(TD_BUS_X_FAKE_SEND)
#undef TD_BUS_X_FAKE_SEND

void td_bus_fake_set_exten_answer(int exists)
{
    s_exten_answer = exists;
}

size_t td_bus_fake_count(void)
{
    return s_count;
}

const td_bus_fake_sent_t *td_bus_fake_get(size_t i)
{
    return i < s_count ? &s_sent[i] : NULL;
}

const td_bus_fake_sent_t *td_bus_fake_last(int body_case)
{
    for (size_t i = s_count; i > 0; i--)
        if ((int)s_sent[i - 1].env->body_case == body_case)
            return &s_sent[i - 1];
    return NULL;
}

const td_bus_fake_sent_t *td_bus_fake_expect(int body_case)
{
    const td_bus_fake_sent_t *sent = td_bus_fake_last(body_case);
    if (!sent)
        fail_msg("expected a %s on the bus, none was sent", td_bus_msg_name(body_case));
    return sent;
}

void td_bus_fake_reset(void)
{
    for (size_t i = 0; i < s_count; i++)
        tandem__envelope__free_unpacked(s_sent[i].env, NULL);
    free(s_sent);
    s_sent = NULL;
    s_count = s_cap = 0;
    s_npeers = 0;
    memset(s_dead, 0, sizeof s_dead);
}

void td_bus_fake_deliver(td_bus_t *bus, const char *peer, const Tandem__Envelope *env)
{
    td_bus_hdr_t hdr = { peer, env->call_id ? env->call_id : "", env->leg };
    switch (env->body_case) {
#define TD_BUS_X_FAKE_DISPATCH(name, Type, CASE) \
    case TANDEM__ENVELOPE__BODY_##CASE: \
        if (bus->h.on_##name) \
            bus->h.on_##name(bus->arg, &hdr, env->name); \
        break;
    TD_BUS_MESSAGES(TD_BUS_X_FAKE_DISPATCH)
#undef TD_BUS_X_FAKE_DISPATCH
    default:
        break;
    }
}

/* Peers td_bus_fake_peer_down declared dead (until up or restart): the
 * real bus answers td_bus_peer_alive(that name) with 0 meanwhile. */

static void s_mark_dead(const char *peer, int dead)
{
    for (size_t i = 0; i < 8; i++)
        if (!strcmp(s_dead[i], peer))
            s_dead[i][0] = '\0';
    for (size_t i = 0; dead && i < 8; i++)
        if (!s_dead[i][0]) {
            snprintf(s_dead[i], sizeof s_dead[i], "%s", peer);
            break;
        }
}

static int s_is_dead(const char *peer)
{
    for (size_t i = 0; peer && *peer && i < 8; i++)
        if (!strcmp(s_dead[i], peer))
            return 1;
    return 0;
}

void td_bus_fake_peer_up(td_bus_t *bus, const char *peer, const char *role, uint32_t capacity)
{
    s_mark_dead(peer, 0);
    if (bus->h.on_peer_up)
        bus->h.on_peer_up(bus->arg, peer, role, capacity);
}

void td_bus_fake_peer_down(td_bus_t *bus, const char *peer, const char *role)
{
    s_mark_dead(peer, 1);
    if (bus->h.on_peer_down)
        bus->h.on_peer_down(bus->arg, peer, role);
}

void td_bus_fake_peer_restart(td_bus_t *bus, const char *peer, const char *role,
                              uint32_t capacity)
{
    s_mark_dead(peer, 0);
    if (bus->h.on_peer_restart) {
        bus->h.on_peer_restart(bus->arg, peer, role, capacity);
        return;
    }
    td_bus_fake_peer_down(bus, peer, role);
    td_bus_fake_peer_up(bus, peer, role, capacity);
}

void td_bus_fake_set_alive(int alive)
{
    s_alive = alive;
}

void td_bus_fake_set_fail(int fail)
{
    s_fail = fail;
}
