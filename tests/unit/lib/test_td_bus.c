/* Unit tests for td_bus over a real ZeroMQ ipc endpoint: hello and peer
 * liveness, typed messages both ways, bursts drained in full (the ZMQ_FD
 * edge-trigger rule), sends to unknown peers refused, dead peers noticed;
 * a connecting process with two routers (by name, any, each one's down and
 * return) and with discovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include <zmq.h>

#include "tandem.pb-c.h"
#include "td_bus.h"
#include "td_clock.h"
#include "td_hrw.h"
#include "td_log.h"

typedef struct {
    struct event_base *base;
    char endpoint[128];
    int up, down, restart;
    char up_peer[64], up_role[16];
    uint32_t up_capacity;
    int channel_new, hangup, last_leg;
    char last_call[64], last_exten[64], last_peer[64];
    int stop_at;                /* loopexit when channel_new+hangup reaches this */
} t_state_t;

static void s_check_stop(t_state_t *t)
{
    if (t->stop_at && t->channel_new + t->hangup >= t->stop_at)
        event_base_loopbreak(t->base);
}

static void s_on_channel_new(void *arg, const td_bus_hdr_t *hdr, const Tandem__ChannelNew *m)
{
    t_state_t *t = arg;
    t->channel_new++;
    t->last_leg = (int)hdr->leg;
    snprintf(t->last_call, sizeof t->last_call, "%s", hdr->call_id);
    snprintf(t->last_peer, sizeof t->last_peer, "%s", hdr->peer);
    snprintf(t->last_exten, sizeof t->last_exten, "%s", m->exten);
    s_check_stop(t);
}

static void s_on_hangup(void *arg, const td_bus_hdr_t *hdr, const Tandem__Hangup *m)
{
    t_state_t *t = arg;
    t->hangup++;
    t->last_leg = (int)m->cause;
    snprintf(t->last_peer, sizeof t->last_peer, "%s", hdr->peer);
    s_check_stop(t);
}

static void s_on_up(void *arg, const char *peer, const char *role, uint32_t capacity)
{
    t_state_t *t = arg;
    t->up++;
    snprintf(t->up_peer, sizeof t->up_peer, "%s", peer);
    snprintf(t->up_role, sizeof t->up_role, "%s", role);
    t->up_capacity = capacity;
    event_base_loopbreak(t->base);
}

static void s_on_down(void *arg, const char *peer, const char *role)
{
    (void)peer;
    (void)role;
    t_state_t *t = arg;
    t->down++;
    event_base_loopbreak(t->base);
}

static void s_on_restart(void *arg, const char *peer, const char *role, uint32_t capacity)
{
    (void)role;
    t_state_t *t = arg;
    t->restart++;
    snprintf(t->up_peer, sizeof t->up_peer, "%s", peer);
    t->up_capacity = capacity;
    event_base_loopbreak(t->base);
}

static const td_bus_handlers_t s_handlers = {
    .on_channel_new = s_on_channel_new,
    .on_hangup = s_on_hangup,
    .on_peer_up = s_on_up,
    .on_peer_down = s_on_down,
};

/* Run the loop until a handler breaks it or `ms` pass. */
static void s_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void s_run(struct event_base *base, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    struct event *deadline = evtimer_new(base, s_on_deadline, base);
    evtimer_add(deadline, &tv);
    event_base_dispatch(base);
    event_free(deadline);
}

static int setup(void **state)
{
    static t_state_t t;
    memset(&t, 0, sizeof t);
    t.base = event_base_new();
    snprintf(t.endpoint, sizeof t.endpoint, "ipc:///tmp/td_bus_test.%d", (int)getpid());
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    t_state_t *t = *state;
    assert_int_equal(event_base_get_num_events(t->base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(t->base);
    unlink(t->endpoint + strlen("ipc://"));
    return 0;
}

static void test_hello_and_messages(void **state)
{
    t_state_t *t = *state, d;
    memset(&d, 0, sizeof d);
    d.base = t->base;
    td_bus_t *router = td_bus_new(t->base, TD_BUS_BIND, t->endpoint, "router", "router", 0,
                                  &s_handlers, t);
    assert_non_null(router);
    td_bus_t *sig = td_bus_new(t->base, TD_BUS_CONNECT, t->endpoint, "sig-1", "signaling", 77,
                               &s_handlers, &d);
    assert_non_null(sig);

    s_run(t->base, 3000);
    assert_int_equal(t->up, 1);
    assert_string_equal(t->up_peer, "sig-1");
    assert_string_equal(t->up_role, "signaling");
    assert_int_equal(t->up_capacity, 77);
    assert_true(td_bus_peer_alive(router, "sig-1"));
    if (!d.up)
        s_run(t->base, 3000);       /* the router's answer reaches the dealer */
    assert_int_equal(d.up, 1);
    assert_true(td_bus_peer_alive(sig, NULL));

    /* dealer -> router, typed, with call id and leg */
    Tandem__ChannelNew cn = TANDEM__CHANNEL_NEW__INIT;
    cn.exten = "1002";
    assert_int_equal(td_bus_send_channel_new(sig, NULL, "sig-1-abc-1", 0, &cn), 0);
    t->stop_at = 1;
    s_run(t->base, 3000);
    assert_int_equal(t->channel_new, 1);
    assert_string_equal(t->last_exten, "1002");
    assert_string_equal(t->last_call, "sig-1-abc-1");
    assert_string_equal(t->last_peer, "sig-1");

    /* router -> dealer by identity */
    Tandem__Hangup h = TANDEM__HANGUP__INIT;
    h.cause = 17;
    assert_int_equal(td_bus_send_hangup(router, "sig-1", "sig-1-abc-1", 0, &h), 0);
    d.stop_at = 1;
    s_run(t->base, 3000);
    assert_int_equal(d.hangup, 1);
    assert_int_equal(d.last_leg, 17);
    assert_string_equal(d.last_peer, "router");

    /* a peer that never said hello cannot be reached */
    assert_int_equal(td_bus_send_hangup(router, "nobody", "x", 0, &h), -1);
    assert_false(td_bus_peer_alive(router, "nobody"));

    /* a burst: every frame arrives although ZMQ_FD only signals edges */
    enum { BURST = 5000 };
    for (int i = 0; i < BURST; i++)
        assert_int_equal(td_bus_send_channel_new(sig, NULL, "burst", (uint32_t)i, &cn), 0);
    t->channel_new = 0;
    t->stop_at = BURST;
    s_run(t->base, 10000);
    assert_int_equal(t->channel_new, BURST);
    assert_int_equal(t->last_leg, BURST - 1);   /* in order */

    /* the dealer goes away: the router declares it down within the dead time */
    td_bus_destroy(&sig);
    assert_null(sig);
    s_run(t->base, TD_BUS_DEAD_MS + 2 * TD_BUS_HEARTBEAT_MS + 500);
    assert_int_equal(t->down, 1);
    assert_false(td_bus_peer_alive(router, "sig-1"));
    td_bus_destroy(&router);
}

/* A peer that restarts faster than TD_BUS_DEAD_MS (its Hello's boot
 * changes) is reported at once as restarted, not down; without an
 * on_peer_restart handler, as down then up. */
static void test_restart_is_noticed(void **state)
{
    t_state_t *t = *state;
    static const td_bus_handlers_t none = { 0 };   /* the workers count nothing */
    td_bus_handlers_t h = s_handlers;
    h.on_peer_restart = s_on_restart;
    td_bus_t *router = td_bus_new(t->base, TD_BUS_BIND, t->endpoint, "router", "router", 0, &h, t);
    td_bus_t *w = td_bus_new(t->base, TD_BUS_CONNECT, t->endpoint, "media-1", "media", 5,
                             &none, t);
    assert_non_null(router);
    assert_non_null(w);
    s_run(t->base, 3000);
    assert_int_equal(t->up, 1);
    td_bus_destroy(&w);
    w = td_bus_new(t->base, TD_BUS_CONNECT, t->endpoint, "media-1", "media", 9, &none, t);
    assert_non_null(w);
    s_run(t->base, TD_BUS_DEAD_MS / 2);
    assert_int_equal(t->restart, 1);
    assert_int_equal(t->down, 0);
    assert_int_equal(t->up_capacity, 9);
    assert_true(td_bus_peer_alive(router, "media-1"));
    td_bus_destroy(&w);
    td_bus_destroy(&router);

    /* no on_peer_restart: down, then up */
    t->up = t->down = t->restart = 0;
    router = td_bus_new(t->base, TD_BUS_BIND, t->endpoint, "router", "router", 0, &s_handlers, t);
    w = td_bus_new(t->base, TD_BUS_CONNECT, t->endpoint, "media-1", "media", 5, &none, t);
    s_run(t->base, 3000);
    assert_int_equal(t->up, 1);
    td_bus_destroy(&w);
    w = td_bus_new(t->base, TD_BUS_CONNECT, t->endpoint, "media-1", "media", 9, &none, t);
    for (int i = 0; i < 4 && t->up < 2; i++)
        s_run(t->base, TD_BUS_DEAD_MS / 4);
    assert_int_equal(t->down, 1);
    assert_int_equal(t->up, 2);
    td_bus_destroy(&w);
    td_bus_destroy(&router);
}

/* The heartbeat on fake clocks (td_bus_set_clock): a connecting peer says
 * Hello every TD_BUS_HEARTBEAT_MS exactly, and the router declares it down
 * on the first tick at which it has been silent for more than TD_BUS_DEAD_MS
 * - not one tick earlier. Frames still travel over the real socket. */
static void test_heartbeat_on_fake_clock(void **state)
{
    t_state_t *t = *state;
    static const td_bus_handlers_t none = { 0 };
    td_bus_t *router = td_bus_new(t->base, TD_BUS_BIND, t->endpoint, "router", "router", 0,
                                  &s_handlers, t);
    td_bus_t *w = td_bus_new(t->base, TD_BUS_CONNECT, t->endpoint, "media-1", "media", 5,
                             &none, t);
    assert_non_null(router);
    assert_non_null(w);
    s_run(t->base, 3000);                       /* the Hello sent at start */
    if (t->up != 1)
        fail_msg("the router never heard media-1's first Hello within 3 s");
    td_clock_t *cr = td_clock_new_fake(), *cw = td_clock_new_fake();
    td_bus_set_clock(router, cr);
    td_bus_set_clock(w, cw);
    const int hello = TANDEM__ENVELOPE__BODY_HELLO;
    uint64_t sent0 = td_bus_counts(w)->tx[hello];

    /* the peer: nothing before 250 ms, then one Hello per 250 ms */
    assert_int_equal(td_clock_advance(cw, TD_BUS_HEARTBEAT_MS - 1), 0);
    assert_int_equal(td_bus_counts(w)->tx[hello], sent0);
    assert_int_equal(td_clock_advance(cw, 1), 1);
    assert_int_equal(td_bus_counts(w)->tx[hello], sent0 + 1);
    assert_int_equal(td_clock_advance(cw, 4 * TD_BUS_HEARTBEAT_MS), 4);
    assert_int_equal(td_bus_counts(w)->tx[hello], sent0 + 5);
    s_run(t->base, 100);                        /* they reach the router (its clock at 0) */

    /* the router: silent since its 0 ms; ticks at 250..1000 leave it up
     * (1000 ms is not more than TD_BUS_DEAD_MS), the one at 1250 does not */
    assert_int_equal(td_clock_advance(cr, TD_BUS_DEAD_MS), TD_BUS_DEAD_MS / TD_BUS_HEARTBEAT_MS);
    assert_int_equal(t->down, 0);
    assert_true(td_bus_peer_alive(router, "media-1"));
    assert_int_equal(td_clock_advance(cr, TD_BUS_HEARTBEAT_MS), 1);
    assert_int_equal(t->down, 1);
    assert_false(td_bus_peer_alive(router, "media-1"));

    /* back on the real clocks before the fakes go */
    td_bus_set_clock(w, NULL);
    td_bus_set_clock(router, NULL);
    td_clock_destroy(&cw);
    td_clock_destroy(&cr);
    td_bus_destroy(&w);
    td_bus_destroy(&router);
}

/* Several routers (shards): a connecting process opens one DEALER per
 * endpoint of a comma list, learns each router's identity from its Hello,
 * sends to one by name or to any, hears each one's up and down, and keeps
 * draining every socket. */
static void test_two_routers(void **state)
{
    t_state_t *t = *state, r2, d;
    memset(&r2, 0, sizeof r2);
    memset(&d, 0, sizeof d);
    r2.base = d.base = t->base;
    char ep2[160], list[400];
    snprintf(ep2, sizeof ep2, "%s.2", t->endpoint);
    snprintf(list, sizeof list, "%s, %s", t->endpoint, ep2);
    td_bus_t *ra = td_bus_new(t->base, TD_BUS_BIND, t->endpoint, "router-a", "router", 0,
                              &s_handlers, t);
    td_bus_t *rb = td_bus_new(t->base, TD_BUS_BIND, ep2, "router-b", "router", 0,
                              &s_handlers, &r2);
    td_bus_t *sig = td_bus_new(t->base, TD_BUS_CONNECT, list, "sig-1", "signaling", 10,
                               &s_handlers, &d);
    assert_non_null(ra);
    assert_non_null(rb);
    assert_non_null(sig);
    for (int i = 0; i < 20 && d.up < 2; i++)
        s_run(t->base, 250);
    assert_int_equal(d.up, 2);
    assert_int_equal(t->up, 1);
    assert_int_equal(r2.up, 1);
    assert_true(td_bus_peer_alive(sig, NULL));
    assert_true(td_bus_peer_alive(sig, "router-a"));
    assert_true(td_bus_peer_alive(sig, "router-b"));
    assert_false(td_bus_peer_alive(sig, "router-c"));
    const char *ids[4];
    assert_int_equal(td_bus_routers(sig, ids, 4), 2);
    assert_string_equal(ids[0], "router-a");        /* endpoint order */
    assert_string_equal(ids[1], "router-b");
    assert_ptr_equal(td_bus_peer_name(sig, "router-b"), ids[1]);
    assert_null(td_bus_peer_name(sig, "router-c"));

    /* the owner of a call: the same as td_hrw's pick, and both get some */
    int owned_b = 0;
    for (int i = 0; i < 100; i++) {
        char key[32];
        snprintf(key, sizeof key, "sig-1-42-%d", i);
        const char *o = td_bus_pick_router(sig, key);
        assert_ptr_equal(o, ids[td_hrw_pick(key, ids, 2)]);
        owned_b += o == ids[1];
    }
    assert_true(owned_b > 20 && owned_b < 80);

    /* by name; NULL goes to the first live one */
    Tandem__ChannelNew cn = TANDEM__CHANNEL_NEW__INIT;
    cn.exten = "1002";
    assert_int_equal(td_bus_send_channel_new(sig, "router-b", "c-1", 0, &cn), 0);
    r2.stop_at = 1;
    s_run(t->base, 3000);
    assert_int_equal(r2.channel_new, 1);
    assert_int_equal(t->channel_new, 0);
    assert_string_equal(r2.last_peer, "sig-1");
    assert_int_equal(td_bus_send_channel_new(sig, NULL, "c-2", 0, &cn), 0);
    t->stop_at = 1;
    s_run(t->base, 3000);
    assert_int_equal(t->channel_new, 1);
    assert_int_equal(td_bus_send_channel_new(sig, "router-c", "c-3", 0, &cn), -1);

    /* the dealer hears each router under its own name */
    Tandem__Hangup h = TANDEM__HANGUP__INIT;
    h.cause = 16;
    assert_int_equal(td_bus_send_hangup(rb, "sig-1", "c-1", 0, &h), 0);
    d.stop_at = 1;
    s_run(t->base, 3000);
    assert_int_equal(d.hangup, 1);
    assert_string_equal(d.last_peer, "router-b");

    /* bursts from both routers at once: every socket drained in full */
    enum { BURST = 3000 };
    for (int i = 0; i < BURST; i++) {
        assert_int_equal(td_bus_send_hangup(ra, "sig-1", "burst", 0, &h), 0);
        assert_int_equal(td_bus_send_hangup(rb, "sig-1", "burst", 0, &h), 0);
    }
    d.hangup = 0;
    d.stop_at = 2 * BURST;
    s_run(t->base, 10000);
    assert_int_equal(d.hangup, 2 * BURST);

    /* router-b goes: down for it alone; every call is router-a's now */
    int up_before = d.up;
    td_bus_destroy(&rb);
    for (int i = 0; i < 12 && !d.down; i++)
        s_run(t->base, 250);
    assert_int_equal(d.down, 1);
    assert_true(td_bus_peer_alive(sig, NULL));
    assert_false(td_bus_peer_alive(sig, "router-b"));
    assert_int_equal(td_bus_routers(sig, ids, 4), 1);
    assert_string_equal(td_bus_pick_router(sig, "sig-1-42-7"), "router-a");

    /* it comes back (a new process): up again, and owns its share again */
    memset(&r2, 0, sizeof r2);
    r2.base = t->base;
    rb = td_bus_new(t->base, TD_BUS_BIND, ep2, "router-b", "router", 0, &s_handlers, &r2);
    assert_non_null(rb);
    for (int i = 0; i < 20 && d.up == up_before; i++)
        s_run(t->base, 250);
    assert_int_equal(d.up, up_before + 1);
    assert_int_equal(td_bus_routers(sig, ids, 4), 2);

    td_bus_destroy(&sig);
    td_bus_destroy(&ra);
    td_bus_destroy(&rb);
    unlink(ep2 + strlen("ipc://"));
}

/* discover=tcp://NAME:PORT: NAME resolved (here through the hosts file,
 * at once) and each address connected. */
static void test_discover(void **state)
{
    t_state_t *t = *state, d;
    memset(&d, 0, sizeof d);
    d.base = t->base;
    td_bus_t *r = NULL;
    char ep[64], spec[64];
    for (int port = 25570 + getpid() % 2000; !r && port < 65000; port += 7) {
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
        td_log_set_level(TD_LOG_BUS, LOG_EMERG);
        r = td_bus_new(t->base, TD_BUS_BIND, ep, "router-d", "router", 0, &s_handlers, t);
        td_log_set_level(TD_LOG_BUS, LOG_INFO);
        snprintf(spec, sizeof spec, "tcp://localhost:%d", port);
    }
    assert_non_null(r);
    td_bus_t *sig = td_bus_new(t->base, TD_BUS_CONNECT, "", "sig-1", "signaling", 1,
                               &s_handlers, &d);
    assert_non_null(sig);
    assert_false(td_bus_peer_alive(sig, NULL));
    td_log_set_level(TD_LOG_BUS, LOG_EMERG);
    assert_int_equal(td_bus_discover(sig, "localhost:1"), -1);
    assert_int_equal(td_bus_discover(sig, "tcp://localhost:x"), -1);
    td_log_set_level(TD_LOG_BUS, LOG_INFO);
    assert_int_equal(td_bus_discover(sig, spec), 0);
    for (int i = 0; i < 20 && !d.up; i++)
        s_run(t->base, 250);
    assert_int_equal(d.up, 1);
    assert_string_equal(d.up_peer, "router-d");
    assert_true(td_bus_peer_alive(sig, "router-d"));
    td_bus_destroy(&sig);
    td_bus_destroy(&r);
}

/* --- CURVE ----------------------------------------------------------------- */

typedef struct {
    char pub[41], sec[41];
} t_pair_t;

static void s_pair(t_pair_t *k)
{
    assert_int_equal(zmq_curve_keypair(k->pub, k->sec), 0);
}

/* A connecting process's keys: its pair, the server's public key. */
static td_bus_keys_t *s_client_keys(const t_pair_t *own, const char *server)
{
    static td_bus_keys_t keys[4];
    static int next;
    td_bus_keys_t *k = &keys[next++ % 4];
    memset(k, 0, sizeof *k);
    char err[200];
    assert_int_equal(td_bus_keys_set(k, NULL, "curve_secret", own->sec, err, sizeof err), 1);
    assert_int_equal(td_bus_keys_set(k, NULL, "curve_server", server, err, sizeof err), 1);
    assert_int_equal(td_bus_keys_check(k, "signaling", err, sizeof err), 0);
    assert_string_equal(k->public_key, own->pub);
    return k;
}

/* A router with keys: a peer with a listed key says Hello under its name
 * and talks both ways; an unknown key, a wrong server key and a plain peer
 * are refused (no Hello heard); a listed key under another node's name
 * (media's key as sig-1) is refused and does not take sig-1's traffic. */
static void test_curve(void **state)
{
    t_state_t *t = *state, d, e;
    if (!zmq_has("curve")) {
        skip();
        return;
    }
    memset(&d, 0, sizeof d);
    memset(&e, 0, sizeof e);
    d.base = e.base = t->base;
    t_pair_t rk, sk, mk, xk;
    s_pair(&rk);
    s_pair(&sk);
    s_pair(&mk);
    s_pair(&xk);
    static td_bus_keys_t rkeys;
    memset(&rkeys, 0, sizeof rkeys);
    char err[300], list[300];
    snprintf(list, sizeof list, "sig-1:%s, media-*:%s", sk.pub, mk.pub);
    assert_int_equal(td_bus_keys_set(&rkeys, NULL, "curve_secret", rk.sec, err, sizeof err), 1);
    assert_int_equal(td_bus_keys_set(&rkeys, NULL, "curve_clients", list, err, sizeof err), 1);
    assert_int_equal(rkeys.nclients, 2);
    assert_string_equal(rkeys.clients[1].name, "media-*");
    assert_int_equal(td_bus_keys_check(&rkeys, "router", err, sizeof err), 0);
    assert_int_equal(rkeys.nclients, 3);        /* its own key, for tandemctl (ctl-*) */

    td_bus_t *router = td_bus_new_keyed(t->base, TD_BUS_BIND, t->endpoint, "router", "router",
                                        0, &s_handlers, t, &rkeys);
    assert_non_null(router);
    td_bus_t *sig = td_bus_new_keyed(t->base, TD_BUS_CONNECT, t->endpoint, "sig-1", "signaling",
                                     7, &s_handlers, &d, s_client_keys(&sk, rk.pub));
    assert_non_null(sig);
    s_run(t->base, 3000);
    assert_int_equal(t->up, 1);
    assert_string_equal(t->up_peer, "sig-1");
    if (!d.up)
        s_run(t->base, 3000);
    assert_int_equal(d.up, 1);
    Tandem__ChannelNew cn = TANDEM__CHANNEL_NEW__INIT;
    cn.exten = "1002";
    assert_int_equal(td_bus_send_channel_new(sig, NULL, "c-1", 0, &cn), 0);
    t->stop_at = 1;
    s_run(t->base, 3000);
    assert_int_equal(t->channel_new, 1);
    assert_string_equal(t->last_peer, "sig-1");

    /* refused: an unknown key, the right key against a wrong server key, a
     * plain peer, and media's key claiming sig-1 */
    td_log_set_level(TD_LOG_BUS, LOG_EMERG);
    td_bus_t *unknown = td_bus_new_keyed(t->base, TD_BUS_CONNECT, t->endpoint, "sig-2",
                                         "signaling", 1, &s_handlers, &e,
                                         s_client_keys(&xk, rk.pub));
    td_bus_t *wrong = td_bus_new_keyed(t->base, TD_BUS_CONNECT, t->endpoint, "sig-3",
                                       "signaling", 1, &s_handlers, &e,
                                       s_client_keys(&sk, xk.pub));
    td_bus_t *plain = td_bus_new(t->base, TD_BUS_CONNECT, t->endpoint, "sig-4", "signaling", 1,
                                 &s_handlers, &e);
    td_bus_t *thief = td_bus_new_keyed(t->base, TD_BUS_CONNECT, t->endpoint, "sig-1",
                                       "signaling", 1, &s_handlers, &e,
                                       s_client_keys(&mk, rk.pub));
    assert_non_null(unknown);
    assert_non_null(wrong);
    assert_non_null(plain);
    assert_non_null(thief);
    uint64_t bad0 = td_bus_counts(router)->rx_bad;
    t->up = 0;
    for (int i = 0; i < 6; i++)
        s_run(t->base, 250);
    assert_int_equal(t->up, 0);                 /* none of them said Hello to the router */
    assert_int_equal(t->restart, 0);
    assert_int_equal(e.up, 0);                  /* and none heard the router */
    assert_false(td_bus_peer_alive(router, "sig-2"));
    assert_false(td_bus_peer_alive(router, "sig-3"));
    assert_false(td_bus_peer_alive(router, "sig-4"));
    assert_true(td_bus_counts(router)->rx_bad > bad0);   /* the thief's Hellos, refused */
    /* sig-1's traffic still goes to sig-1 */
    Tandem__Hangup h = TANDEM__HANGUP__INIT;
    h.cause = 16;
    d.hangup = 0;
    assert_int_equal(td_bus_send_hangup(router, "sig-1", "c-1", 0, &h), 0);
    d.stop_at = 1;
    s_run(t->base, 3000);
    assert_int_equal(d.hangup, 1);
    assert_int_equal(e.hangup, 0);
    td_log_set_level(TD_LOG_BUS, LOG_INFO);
    td_bus_destroy(&thief);
    td_bus_destroy(&plain);
    td_bus_destroy(&wrong);
    td_bus_destroy(&unknown);
    td_bus_destroy(&sig);
    td_bus_destroy(&router);
}

/* Without keys a router binds loopback only: a wildcard becomes
 * 127.0.0.1, another address is refused, unless insecure=yes; with keys
 * or a local endpoint, as given. Key settings: errors are values. */
static void test_curve_settings(void **state)
{
    (void)state;
    char out[256], err[300];
    td_log_set_level(TD_LOG_BUS, LOG_EMERG);
    assert_string_equal(td_bus_bind_endpoint(NULL, "tcp://*:5570", out, sizeof out),
                        "tcp://127.0.0.1:5570");
    assert_string_equal(td_bus_bind_endpoint(NULL, "tcp://0.0.0.0:5570", out, sizeof out),
                        "tcp://127.0.0.1:5570");
    assert_null(td_bus_bind_endpoint(NULL, "tcp://10.1.2.3:5570", out, sizeof out));
    assert_string_equal(td_bus_bind_endpoint(NULL, "tcp://127.0.0.2:5570", out, sizeof out),
                        "tcp://127.0.0.2:5570");
    assert_string_equal(td_bus_bind_endpoint(NULL, "ipc:///tmp/x", out, sizeof out),
                        "ipc:///tmp/x");
    static td_bus_keys_t k;
    memset(&k, 0, sizeof k);
    assert_int_equal(td_bus_keys_set(&k, NULL, "insecure", "yes", err, sizeof err), 1);
    assert_string_equal(td_bus_bind_endpoint(&k, "tcp://*:5570", out, sizeof out),
                        "tcp://*:5570");
    assert_string_equal(td_bus_bind_endpoint(&k, "tcp://10.1.2.3:5570", out, sizeof out),
                        "tcp://10.1.2.3:5570");
    td_log_set_level(TD_LOG_BUS, LOG_INFO);
    assert_int_equal(td_bus_keys_set(&k, NULL, "insecure", "maybe", err, sizeof err), -1);
    assert_int_equal(td_bus_keys_set(&k, NULL, "endpoint", "x", err, sizeof err), 0);
    assert_int_equal(td_bus_keys_set(&k, NULL, "curve_secret", "short", err, sizeof err), -1);
    assert_int_equal(td_bus_keys_set(&k, "/nonexistent", "curve_clients", "clients.txt", err,
                                     sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/clients.txt"));
    if (!zmq_has("curve"))
        return;
    /* a keyfile and a clients file, as tandemctl keygen prints them */
    t_pair_t a, b;
    s_pair(&a);
    s_pair(&b);
    char dir[] = "/tmp/td_bus_keys.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/key", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "; comment\ncurve_secret=%s\ncurve_public=%s\n", a.sec, a.pub);
    fclose(f);
    snprintf(path, sizeof path, "%s/clients", dir);
    f = fopen(path, "w");
    fprintf(f, "# who may connect\nsig-1 %s\nmedia-* %s   ; the workers\n", a.pub, b.pub);
    fclose(f);
    memset(&k, 0, sizeof k);
    assert_int_equal(td_bus_keys_set(&k, dir, "curve_keyfile", "key", err, sizeof err), 1);
    assert_string_equal(k.secret, a.sec);
    if (td_bus_keys_set(&k, dir, "curve_clients", "clients", err, sizeof err) != 1) fail_msg("%s", err);
    assert_int_equal(k.nclients, 2);
    assert_string_equal(k.clients[1].key, b.pub);
    assert_true(td_bus_keys_allows(k.clients[1].name, "media-7"));
    assert_false(td_bus_keys_allows(k.clients[1].name, "sig-1"));
    assert_int_equal(td_bus_keys_check(&k, "router", err, sizeof err), 0);
    /* a connecting process needs the server key; a mismatched pair is refused */
    memset(&k, 0, sizeof k);
    td_bus_keys_set(&k, NULL, "curve_secret", a.sec, err, sizeof err);
    assert_int_equal(td_bus_keys_check(&k, "media", err, sizeof err), -1);
    td_bus_keys_set(&k, NULL, "curve_server", b.pub, err, sizeof err);
    td_bus_keys_set(&k, NULL, "curve_public", b.pub, err, sizeof err);
    assert_int_equal(td_bus_keys_check(&k, "media", err, sizeof err), -1);
    assert_non_null(strstr(err, "does not belong"));
    unlink(path);
    snprintf(path, sizeof path, "%s/key", dir);
    unlink(path);
    rmdir(dir);
}

static void test_bad_endpoint(void **state)
{
    t_state_t *t = *state;
    td_log_set_level(TD_LOG_BUS, LOG_EMERG);     /* the failure is logged; keep test output clean */
    assert_null(td_bus_new(t->base, TD_BUS_BIND, "tcp://256.0.0.1:1", "router", "router", 0,
                           &s_handlers, t));
    assert_null(td_bus_new(t->base, TD_BUS_CONNECT, "nonsense", "sig-1", "signaling", 0,
                           &s_handlers, t));
    td_log_set_level(TD_LOG_BUS, LOG_INFO);
}

/* Issue 12: a peer whose identity does not fit (or is not printable) is
 * refused and counted, not added as a new peer at every frame. */
static void s_raw_hello(void *ctx, const char *endpoint, const char *identity, size_t n)
{
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    assert_non_null(sock);
    assert_int_equal(zmq_setsockopt(sock, ZMQ_ROUTING_ID, identity, n), 0);
    int linger = 2000;                  /* the frame leaves after zmq_close */
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(sock, endpoint), 0);
    Tandem__Hello hello = TANDEM__HELLO__INIT;
    hello.role = "signaling";
    hello.capacity = 1;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.call_id = "";
    env.body_case = TANDEM__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    uint8_t buf[256];
    size_t len = tandem__envelope__pack(&env, buf);
    assert_true(zmq_send(sock, buf, len, 0) == (int)len);
    zmq_close(sock);
}

static void test_long_identity_refused(void **state)
{
    t_state_t *t = *state;
    td_bus_t *router = td_bus_new(t->base, TD_BUS_BIND, t->endpoint, "router", "router", 0,
                                  &s_handlers, t);
    assert_non_null(router);
    void *ctx = zmq_ctx_new();
    char longid[200];
    memset(longid, 'x', sizeof longid);
    s_raw_hello(ctx, t->endpoint, longid, sizeof longid);
    s_raw_hello(ctx, t->endpoint, "bad\nid", 6);
    for (int i = 0; i < 50 && td_bus_counts(router)->rx_bad < 2; i++)
        s_run(t->base, 100);
    assert_int_equal(t->up, 0);
    assert_int_equal(td_bus_counts(router)->rx_bad, 2);
    s_raw_hello(ctx, t->endpoint, "sig-9", 5);       /* a fitting one is taken */
    for (int i = 0; i < 50 && !t->up; i++)
        s_run(t->base, 100);
    assert_int_equal(t->up, 1);
    assert_string_equal(t->up_peer, "sig-9");
    zmq_ctx_term(ctx);
    td_bus_destroy(&router);
}

/* Issue 12: the peer table is capped at TD_BUS_PEER_MAX. While every peer
 * is alive a new one's Hello is refused (counted); once they are down (on
 * the router's fake clock), a new one takes the place of the one down
 * longest, and a known peer is still known. */
static void test_peer_cap(void **state)
{
    t_state_t *t = *state;
    td_bus_t *router = td_bus_new(t->base, TD_BUS_BIND, t->endpoint, "router", "router", 0,
                                  &s_handlers, t);
    assert_non_null(router);
    td_clock_t *cr = td_clock_new_fake();
    td_bus_set_clock(router, cr);               /* nobody falls silent until told */
    td_log_set_level(TD_LOG_BUS, LOG_ERR);      /* 2,000 up and down lines */
    void *ctx = zmq_ctx_new();
    char id[32];
    for (int i = 0; i < TD_BUS_PEER_MAX; i++) {
        snprintf(id, sizeof id, "sig-%d", i);
        s_raw_hello(ctx, t->endpoint, id, strlen(id));
        if (i % 64 == 63)                       /* keep the sockets' backlog short */
            for (int k = 0; k < 100 && t->up <= i; k++)
                s_run(t->base, 50);
    }
    for (int k = 0; k < 200 && t->up < TD_BUS_PEER_MAX; k++)
        s_run(t->base, 50);
    assert_int_equal(t->up, TD_BUS_PEER_MAX);
    s_raw_hello(ctx, t->endpoint, "sig-late", 8);
    for (int k = 0; k < 40 && td_bus_counts(router)->peers_refused == 0; k++)
        s_run(t->base, 50);
    assert_int_equal(td_bus_counts(router)->peers_refused, 1);
    assert_int_equal(t->up, TD_BUS_PEER_MAX);
    assert_false(td_bus_peer_alive(router, "sig-late"));

    /* all silent past the dead time: each is reported down once */
    td_clock_advance(cr, TD_BUS_DEAD_MS + TD_BUS_HEARTBEAT_MS);
    assert_int_equal(t->down, TD_BUS_PEER_MAX);
    s_raw_hello(ctx, t->endpoint, "sig-late", 8);
    for (int k = 0; k < 40 && t->up == TD_BUS_PEER_MAX; k++)
        s_run(t->base, 50);
    assert_int_equal(t->up, TD_BUS_PEER_MAX + 1);
    assert_true(td_bus_peer_alive(router, "sig-late"));
    assert_int_equal(td_bus_counts(router)->peers_refused, 1);
    s_raw_hello(ctx, t->endpoint, "sig-5", 5);  /* a known one, back: up again */
    for (int k = 0; k < 40 && !td_bus_peer_alive(router, "sig-5"); k++)
        s_run(t->base, 50);
    assert_true(td_bus_peer_alive(router, "sig-5"));
    assert_int_equal(td_bus_counts(router)->peers_refused, 1);
    td_log_set_level(TD_LOG_BUS, LOG_INFO);
    zmq_ctx_term(ctx);
    td_bus_set_clock(router, NULL);
    td_clock_destroy(&cr);
    td_bus_destroy(&router);
}

int main(void)
{
    td_log_init("test", LOG_WARNING);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hello_and_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_is_noticed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_on_fake_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_routers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_identity_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_curve, setup, teardown),
        cmocka_unit_test(test_curve_settings),
    };
    return cmocka_run_group_tests_name("td_bus", tests, NULL, NULL);
}
