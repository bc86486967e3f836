/* worker - the media worker process object; see worker.h. */
#define TD_LOG_SUBSYS TD_LOG_MEDIA   /* td_log() here: [logging] media= */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <time.h>

#include "ivr.h"
#include "port_pool.h"
#include "rtp_stats.h"
#include "sdp.h"
#include "session_table.h"
#include "td_log.h"

struct worker {
    struct event_base *base;     /* borrowed */
    td_bus_t *bus;
    port_pool_t *pool;
    session_table_t *sessions;
    char address[64];            /* put in SDP */
    struct in_addr bind_addr;    /* sockets bind here */
    uint32_t capacity;           /* sessions; 0 = as many as the ports allow */
    rtp_conf_t rtp;
    struct event *drain;         /* draining: MediaDrain and the exit check, every second */
    struct event *rtp_check;     /* rtptimeout: every second */
    uint32_t now_s;              /* CLOCK_MONOTONIC seconds at the last check */
    int drain_ticks;
    uint32_t router_losses;      /* times the router fell silent: sessions' epoch */
    uint32_t ticks_since_loss;   /* ticks since it last fell silent */
    int cluster;                 /* [cluster]: a restarted router adopts the calls */
    struct event *tick;
    ivr_env_t *ivr;              /* prompts, keys, recordings: shared by the sessions */
    char sdp_a[WORKER_SDP_MAX];  /* reply buffers: no allocation per message */
    char sdp_b[WORKER_SDP_MAX];
    char sdp_tmp[WORKER_SDP_MAX];
    char err[256];
};

static void s_on_media_offer(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaOffer *msg);
static void s_on_media_answer(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaAnswer *msg);
static void s_on_media_echo(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaEcho *msg);
/* ---- call quality (rtp_stats.h) ------------------------------------------- */

/* One side's quality for the bus; remote is the buffer its address goes in
 * (INET_ADDRSTRLEN + 6). Packets are RTP only, received ones counted after
 * SRTP unprotect (those that failed it are not); bytes are every datagram.
 * The MOS takes the worse direction (rtp_stats_side_mos). */
static void s_side_stats(const session_t *session, session_side_t side, Tandem__MediaSideStats *o,
                         char *remote)
{
    const session_stats_t *st = session_stats(session, side);
    const rtp_stats_t *q = session_quality(session, side);
    struct sockaddr_in sin;
    remote[0] = '\0';
    if (session_remote(session, side, &sin) == 0) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof ip);
        snprintf(remote, INET_ADDRSTRLEN + 6, "%s:%u", ip, ntohs(sin.sin_port));
    }
    o->remote = remote;
    o->rx_packets = rtp_stats_received(q);
    o->rx_bytes = st->rx_bytes;
    o->tx_packets = q->sent;
    o->tx_bytes = st->tx_bytes;
    o->expected = rtp_stats_expected(q);
    o->lost = rtp_stats_lost(q);
    o->jitter_us = (uint32_t)(rtp_stats_jitter_ms(q) * 1000.0);
    o->jitter_max_us = (uint32_t)(q->jitter_max / 16.0 * 1e6 / q->clock_hz);
    o->far_valid = q->far_valid;
    o->far_fraction = q->far_fraction;
    o->far_lost = q->far_lost;
    o->far_jitter_us = (uint32_t)(rtp_stats_far_jitter_ms(q) * 1000.0);
    o->rtt_us = (uint32_t)(rtp_stats_rtt_ms(q) * 1000.0);
    o->rtcp_packets = q->rtcp_packets;
    o->mos_x100 = (uint32_t)(rtp_stats_side_mos(q) * 100.0 + 0.5);
}

typedef struct {
    Tandem__MediaSessionStats s;
    Tandem__MediaSideStats a, b;
    char remote_a[INET_ADDRSTRLEN + 6], remote_b[INET_ADDRSTRLEN + 6];
} s_stats_t;

static void s_session_stats(const session_t *session, s_stats_t *o)
{
    tandem__media_session_stats__init(&o->s);
    tandem__media_side_stats__init(&o->a);
    tandem__media_side_stats__init(&o->b);
    o->s.call_id = (char *)session_call_id(session);
    s_side_stats(session, SESSION_A, &o->a, o->remote_a);
    s_side_stats(session, SESSION_B, &o->b, o->remote_b);
    o->s.a = &o->a;
    o->s.b = &o->b;
}

/* A session ends: its quality to the router (MediaStats final), for quality.csv. */
static void s_send_stats(worker_t *self, const char *peer, const session_t *session)
{
    s_stats_t one;
    s_session_stats(session, &one);
    Tandem__MediaSessionStats *list[1] = { &one.s };
    Tandem__MediaStats m = TANDEM__MEDIA_STATS__INIT;
    m.final = 1;
    m.n_sessions = 1;
    m.sessions = list;
    td_bus_send_media_stats(self->bus, peer, session_call_id(session), 0, &m);
}

typedef struct {
    s_stats_t *all;
    Tandem__MediaSessionStats **list;
    size_t n, cap;
} s_collect_t;

static int s_collect_one(session_t *session, void *arg)
{
    s_collect_t *c = arg;
    if (c->n < c->cap) {
        s_session_stats(session, &c->all[c->n]);
        c->list[c->n] = &c->all[c->n].s;
        c->n++;
    }
    return 0;
}

/* The router asks how live calls go (tandemctl): one session, or all. Not a
 * hot path: the reply is built in memory allocated for it. */
static void s_on_media_stats_request(void *arg, const td_bus_hdr_t *hdr,
                                     const Tandem__MediaStatsRequest *msg)
{
    worker_t *self = arg;
    Tandem__MediaStats m = TANDEM__MEDIA_STATS__INIT;
    m.id = msg->id;
    s_collect_t c = { NULL, NULL, 0, 0 };
    if (hdr->call_id && *hdr->call_id) {
        session_t *session = session_table_find(self->sessions, hdr->call_id);
        c.cap = session ? 1 : 0;
        c.all = calloc(1, sizeof *c.all);
        c.list = calloc(1, sizeof *c.list);
        if (session && c.all && c.list)
            s_collect_one(session, &c);
    } else {
        c.cap = session_table_size(self->sessions);
        c.all = calloc(c.cap ? c.cap : 1, sizeof *c.all);
        c.list = calloc(c.cap ? c.cap : 1, sizeof *c.list);
        if (c.all && c.list)
            session_table_sweep(self->sessions, s_collect_one, &c);
        else
            c.n = 0;
    }
    m.n_sessions = c.n;
    m.sessions = c.list;
    td_bus_send_media_stats(self->bus, hdr->peer, hdr->call_id ? hdr->call_id : "", 0, &m);
    free(c.list);
    free(c.all);
}

static void s_on_media_release(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaRelease *msg);
static void s_on_media_play(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaPlay *msg);
static void s_on_media_stop(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaStop *msg);
static void s_on_media_record(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaRecord *msg);
static void s_on_media_reoffer(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaReoffer *msg);
static void s_on_media_reanswer(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaReanswer *msg);
static void s_on_peer_up(void *arg, const char *peer, const char *role, uint32_t capacity);
static void s_on_media_adopt(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaAdopt *msg);
static void s_on_peer_down(void *arg, const char *peer, const char *role);
static void s_on_peer_restart(void *arg, const char *peer, const char *role, uint32_t capacity);
static void s_on_tick(evutil_socket_t fd, short what, void *arg);
static void s_on_rtp_check(evutil_socket_t fd, short what, void *arg);
static void s_on_media_timeouts(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaTimeouts *msg);
static void s_on_media_forget(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaForget *msg);
static void s_on_media_drain(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaDrain *msg);
static void s_on_media_stats_request(void *arg, const td_bus_hdr_t *hdr,
                                     const Tandem__MediaStatsRequest *msg);

/* Can a socket bind to addr? 0, or a negative errno. */
static int s_probe_bind(const struct in_addr *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr = *addr;
    int rc = bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

worker_t *worker_new(struct event_base *base, const td_settings_t *settings,
                     const rtp_conf_t *rtp)
{
    worker_t *self = calloc(1, sizeof *self);
    if (!self) {
        td_log(LOG_ERR, "out of memory");
        return NULL;
    }
    self->base = base;
    self->rtp = *rtp;
    self->capacity = settings->capacity;
    self->cluster = settings->cluster.enabled;

    if (settings->media_address[0])
        snprintf(self->address, sizeof self->address, "%s", settings->media_address);
    else
        td_settings_local_ip(self->address, sizeof self->address,
                             settings->endpoint[0] ? settings->endpoint : settings->discover);
    if (inet_pton(AF_INET, self->address, &self->bind_addr) != 1) {
        td_log(LOG_ERR, "media address '%s' is not an IPv4 address", self->address);
        goto fail;
    }
    int rc = s_probe_bind(&self->bind_addr);
    if (rc == -EADDRNOTAVAIL) {
        td_log(LOG_NOTICE, "media address %s is not on this host (a NAT's address?): "
               "RTP sockets bind 0.0.0.0", self->address);
        self->bind_addr.s_addr = htonl(INADDR_ANY);
    } else if (rc < 0) {
        td_log(LOG_ERR, "cannot bind a UDP socket to %s: %s", self->address, strerror(-rc));
        goto fail;
    }

    self->pool = port_pool_new(rtp->start, rtp->end);
    self->sessions = session_table_new();
    if (!self->pool || !self->sessions) {
        td_log(LOG_ERR, "cannot create the port pool %u-%u", rtp->start, rtp->end);
        goto fail;
    }
    /* A session takes two pairs: never promise the router more than that. */
    uint32_t by_ports = port_pool_size(self->pool) / 2;
    if (self->capacity == 0 || self->capacity > by_ports) {
        if (self->capacity)
            td_log(LOG_WARNING, "capacity %u needs %u port pairs; rtp.conf gives %u: "
                   "capacity is %u", self->capacity, self->capacity * 2,
                   port_pool_size(self->pool), by_ports);
        self->capacity = by_ports;
    }

    td_bus_handlers_t handlers = {
        .on_media_offer = s_on_media_offer,
        .on_media_answer = s_on_media_answer,
        .on_media_echo = s_on_media_echo,
        .on_media_release = s_on_media_release,
        .on_media_play = s_on_media_play,
        .on_media_stop = s_on_media_stop,
        .on_media_record = s_on_media_record,
        .on_media_reoffer = s_on_media_reoffer,
        .on_media_reanswer = s_on_media_reanswer,
        .on_media_adopt = s_on_media_adopt,
        .on_media_timeouts = s_on_media_timeouts,
        .on_media_forget = s_on_media_forget,
        .on_media_drain = s_on_media_drain,
        .on_media_stats_request = s_on_media_stats_request,
        .on_peer_up = s_on_peer_up,
        .on_peer_down = s_on_peer_down,
        .on_peer_restart = s_on_peer_restart,
    };
    self->bus = td_bus_new_keyed(base, TD_BUS_CONNECT, settings->endpoint, settings->identity,
                                 "media", self->capacity, &handlers, self, &settings->bus_keys);
    if (!self->bus)
        goto fail;
    if (settings->discover[0] && td_bus_discover(self->bus, settings->discover) != 0)
        goto fail;
    td_bus_set_load(self->bus, 0);
    self->ivr = ivr_env_new(base, self->bus, settings->sounds_dir, settings->moh_dir,
                            settings->recordings_dir);
    if (!self->ivr) {
        td_log(LOG_ERR, "out of memory");
        goto fail;
    }
    self->tick = event_new(base, -1, EV_PERSIST, s_on_tick, self);
    struct timeval every = { WORKER_TICK_S, 0 };
    self->rtp_check = event_new(base, -1, EV_PERSIST, s_on_rtp_check, self);
    struct timeval second = { 1, 0 };
    if (!self->tick || event_add(self->tick, &every) < 0 || !self->rtp_check ||
        event_add(self->rtp_check, &second) < 0) {
        td_log(LOG_ERR, "cannot start the housekeeping timer");
        goto fail;
    }
    td_log(LOG_NOTICE, "%s: media address %s, RTP ports %u-%u, strictrtp=%s, capacity %u calls, "
           "router %s", settings->identity, self->address, rtp->start, rtp->end,
           rtp_strict_mode_name(rtp->strictrtp), self->capacity,
           settings->endpoint[0] ? settings->endpoint : settings->discover);
    return self;
fail:
    worker_destroy(&self);
    return NULL;
}

void worker_destroy(worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    worker_t *self = *self_p;
    if (self->sessions && session_table_size(self->sessions))
        td_log(LOG_NOTICE, "closing %u media sessions", session_table_size(self->sessions));
    if (self->tick)
        event_free(self->tick);
    if (self->rtp_check)
        event_free(self->rtp_check);
    if (self->drain)
        event_free(self->drain);
    td_bus_destroy(&self->bus);
    session_table_destroy(&self->sessions);
    ivr_env_destroy(&self->ivr);            /* after the sessions' own ivr_t */
    port_pool_destroy(&self->pool);
    free(self);
    *self_p = NULL;
}

td_bus_t *worker_bus(worker_t *self)
{
    return self->bus;
}

ivr_env_t *worker_ivr_env(worker_t *self)
{
    return self->ivr;
}

uint32_t worker_session_count(const worker_t *self)
{
    return session_table_size(self->sessions);
}

void worker_rtp_totals(const worker_t *self, session_stats_t *out)
{
    session_table_totals(self->sessions, out);
}

void worker_rtp_quality(const worker_t *self, session_table_quality_t *out)
{
    session_table_quality(self->sessions, out);
}

const session_table_quality_t *worker_rtp_closed_quality(const worker_t *self)
{
    return session_table_closed_quality(self->sessions);
}

void worker_port_pairs(const worker_t *self, uint32_t *in_use, uint32_t *all)
{
    *all = port_pool_size(self->pool);
    *in_use = *all - port_pool_free_count(self->pool);
}

uint32_t worker_capacity(const worker_t *self)
{
    return self->capacity;
}

session_t *worker_session(worker_t *self, const char *call_id)
{
    return session_table_find(self->sessions, call_id);
}

uint32_t worker_ivr_active(const worker_t *self)
{
    return ivr_env_active(self->ivr);
}

static void s_error(worker_t *self, const td_bus_hdr_t *hdr, uint32_t cause, const char *reason)
{
    td_log(LOG_WARNING, "media request failed (cause %u): %s", cause, reason);
    Tandem__MediaError msg = TANDEM__MEDIA_ERROR__INIT;
    msg.cause = cause;
    msg.reason = (char *)reason;
    td_bus_send_media_error(self->bus, hdr->peer, hdr->call_id, hdr->leg, &msg);
}

static void s_log_stats(const session_t *session)
{
    const session_stats_t *a = session_stats(session, SESSION_A);
    const session_stats_t *b = session_stats(session, SESSION_B);
    td_log(LOG_INFO, "media released: A (port %u) rx %llu pkts %llu bytes, tx %llu pkts, dropped %llu; "
           "B (port %u) rx %llu pkts %llu bytes, tx %llu pkts, dropped %llu; re-latches %llu, "
           "transcoded %llu, srtp failed %llu, strict dropped %llu",
           session_port(session, SESSION_A),
           (unsigned long long)a->rx_packets, (unsigned long long)a->rx_bytes,
           (unsigned long long)a->tx_packets, (unsigned long long)a->dropped,
           session_port(session, SESSION_B),
           (unsigned long long)b->rx_packets, (unsigned long long)b->rx_bytes,
           (unsigned long long)b->tx_packets, (unsigned long long)b->dropped,
           (unsigned long long)(a->relatches + b->relatches),
           (unsigned long long)(a->transcoded + b->transcoded),
           (unsigned long long)(a->srtp_failed + b->srtp_failed),
           (unsigned long long)(a->strict_dropped + b->strict_dropped));
    const rtp_stats_t *qa = session_quality(session, SESSION_A);
    const rtp_stats_t *qb = session_quality(session, SESSION_B);
    td_log(LOG_INFO, "media quality: A lost %lld (%.2f %%), jitter %.2f ms, its RTCP says lost "
           "%d; B lost %lld (%.2f %%), jitter %.2f ms, its RTCP says lost %d",
           (long long)rtp_stats_lost(qa), rtp_stats_loss_pct(qa), rtp_stats_jitter_ms(qa),
           qa->far_lost, (long long)rtp_stats_lost(qb), rtp_stats_loss_pct(qb),
           rtp_stats_jitter_ms(qb), qb->far_lost);
}

/* SRTP in the SDP buf (WORKER_SDP_MAX, rewritten in place) the worker sends
 * to a side: with crypto, an a=crypto line with the worker's key for the
 * side and crypto's tag and suite (the line of an offer it answers, or its
 * own); without, none. secure: the m=audio profile is RTP/SAVP, else
 * RTP/AVP. 0, or -1 (no key, or no room). */
static int s_secure(worker_t *self, session_t *session, session_side_t side, int secure,
                    const sdp_crypto_t *crypto, char *buf)
{
    char line[SDP_CRYPTO_LINE_MAX];
    if (crypto) {
        const uint8_t *key = session_srtp_key(session, side);
        if (!key)
            return -1;
        sdp_crypto_t mine = *crypto;
        memcpy(mine.key, key, sizeof mine.key);
        if (sdp_crypto_format(&mine, line, sizeof line) < 0)
            return -1;
    }
    int n = sdp_set_crypto(buf, strlen(buf), secure, crypto ? line : NULL, self->sdp_tmp,
                           sizeof self->sdp_tmp);
    if (n < 0)
        return -1;
    memcpy(buf, self->sdp_tmp, (size_t)n + 1);
    return 0;
}

/* The codecs the caller may use, from MediaOffer (payload types, preferred
 * first), cut to what the worker carries; none given means PCMU then PCMA. */
static size_t s_codecs(const uint32_t *codecs, size_t n, uint8_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 2; i++)
        if (codecs[i] == 0 || codecs[i] == 8)
            out[k++] = (uint8_t)codecs[i];
    if (n == 0) {
        out[k++] = 0;
        out[k++] = 8;
    }
    return k;
}

/* A router spoke about the session: stamp the epoch (orphan checks), and
 * that router owns its call from now on. */
static void s_touched(worker_t *self, session_t *session, const td_bus_hdr_t *hdr)
{
    session_set_epoch(session, self->router_losses);
    const char *router = td_bus_peer_name(self->bus, hdr->peer);
    if (router)
        session_set_router(session, router);
}

/* Where the worker's own report about a session goes: its router while that
 * one is alive, else the live router that owns the call id by rendezvous
 * hashing (the one signaling moved the call to), else any (NULL). */
static const char *s_router_of(worker_t *self, const session_t *session)
{
    const char *router = session_router(session);
    if (router && td_bus_peer_alive(self->bus, router))
        return router;
    const char *owner = td_bus_pick_router(self->bus, session_call_id(session));
    return owner ? owner : router;
}

/* The call's session, opened if it has none (*created says which). NULL
 * after a MediaError (over capacity, no ports, no memory). */
static session_t *s_session_get(worker_t *self, const td_bus_hdr_t *hdr, int *created)
{
    session_t *session = session_table_find(self->sessions, hdr->call_id);
    *created = 0;
    if (session)
        return session;
    if (session_table_size(self->sessions) >= self->capacity) {
        snprintf(self->err, sizeof self->err, "over capacity (%u calls)", self->capacity);
        s_error(self, hdr, WORKER_CAUSE_NO_CIRCUIT, self->err);
        return NULL;
    }
    int err;
    session_t *fresh = session_new(self->base, self->pool, &self->bind_addr, hdr->call_id, &err);
    if (!fresh) {
        if (err == -ENOSPC)
            snprintf(self->err, sizeof self->err, "no free RTP port pair in %u-%u",
                     self->rtp.start, self->rtp.end);
        else
            snprintf(self->err, sizeof self->err, "cannot open RTP ports: %s", strerror(-err));
        s_error(self, hdr, WORKER_CAUSE_NO_CIRCUIT, self->err);
        return NULL;
    }
    session_set_strict(fresh, self->rtp.strictrtp, self->rtp.probation);
    session = fresh;
    if (session_table_insert(self->sessions, &fresh) < 0) {
        session_destroy(&fresh);
        s_error(self, hdr, WORKER_CAUSE_NO_CIRCUIT, "out of memory");
        return NULL;
    }
    *created = 1;
    td_bus_set_load(self->bus, session_table_size(self->sessions));
    return session;
}

/* Give the session its IVR state (prompts, keys, recording) if it has none,
 * with the caller's law and event payload type and the router to answer. */
static void s_ivr_attach(worker_t *self, session_t *session, int law, int dtmf_pt,
                         const char *router)
{
    if (!session_ivr(session)) {
        ivr_t *ivr = ivr_new(self->ivr, session);
        if (ivr)
            session_set_ivr(session, &ivr);
    }
    if (session_ivr(session)) {
        ivr_set_caller_codecs(session_ivr(session), law, dtmf_pt);
        ivr_set_peer(session_ivr(session), router);
    }
}

static void s_handle_offer(worker_t *self, const td_bus_hdr_t *hdr, const char *sdp,
                           const uint32_t *codecs, size_t ncodecs, int comedia)
{
    size_t len = strlen(sdp);
    sdp_media_t media;
    if (sdp_parse(sdp, len, &media, self->err, sizeof self->err) < 0) {
        char reason[300];
        snprintf(reason, sizeof reason, "bad SDP offer: %s", self->err);
        s_error(self, hdr, WORKER_CAUSE_BAD_SDP, reason);
        return;
    }
    /* RFC 3264 6.1: answer with one codec, the caller's first preference the
     * offer has, and the offer's telephone-event/8000. */
    uint8_t allowed[2], keep[3];
    size_t nkeep = sdp_keep(&media, allowed, s_codecs(codecs, ncodecs, allowed), 1, keep);
    if (nkeep == 0) {
        s_error(self, hdr, WORKER_CAUSE_BAD_SDP,
                "bad SDP offer: no codec both the caller's allow= list and the worker have");
        return;
    }
    int created = 0;
    session_t *session = s_session_get(self, hdr, &created);
    if (!session)
        return;
    uint16_t port_b = session_port(session, SESSION_B);
    unsigned long sess_id = ((unsigned long)time(NULL) << 16) | port_b;
    /* SRTP: the caller's side is secure if its offer has a usable a=crypto
     * (signaling refused the offers chan_sip refuses); the answer carries
     * the worker's key for it. The offer for callees always carries one,
     * under RTP/AVP: signaling keeps it, as RTP/SAVP, for encryption=yes
     * peers and drops it for the others. */
    const sdp_crypto_t callee_crypto = { .tag = 1, .taglen = 80 };
    self->err[0] = '\0';
    if (sdp_answer(sdp, len, self->address, session_port(session, SESSION_A), keep, nkeep,
                   self->sdp_a, sizeof self->sdp_a, self->err, sizeof self->err) < 0 ||
        sdp_offer(self->address, port_b, sess_id, keep[0], self->sdp_b,
                  sizeof self->sdp_b) < 0 ||
        s_secure(self, session, SESSION_A, media.crypto_ok,
                 media.crypto_ok ? &media.crypto : NULL, self->sdp_a) < 0 ||
        s_secure(self, session, SESSION_B, 0, &callee_crypto, self->sdp_b) < 0 ||
        session_set_srtp(session, SESSION_A, media.crypto_ok ? &media.crypto : NULL) < 0) {
        char reason[300];
        snprintf(reason, sizeof reason, "bad SDP offer: %s",
                 self->err[0] ? self->err : "no SRTP key or context");
        if (created) {
            session_table_remove(self->sessions, hdr->call_id);
            td_bus_set_load(self->bus, session_table_size(self->sessions));
        }
        s_error(self, hdr, WORKER_CAUSE_BAD_SDP, reason);
        return;
    }
    session_set_remote(session, SESSION_A, &media);
    session_set_symmetric(session, SESSION_A, comedia);
    session_set_codec(session, SESSION_A, keep[0], media.dtmf_offered ? media.dtmf_pt : -1);
    if (sdp_origin(self->sdp_a, strlen(self->sdp_a), session_origin(session, SESSION_A)) < 0)
        strcpy(session_origin(session, SESSION_A)->user, "-");
    sdp_origin(self->sdp_b, strlen(self->sdp_b), session_origin(session, SESSION_B));
    s_touched(self, session, hdr);
    s_ivr_attach(self, session, keep[0], media.dtmf_pt, hdr->peer);
    td_log(LOG_DEBUG, "media %s: caller side port %u (%s, events on %d%s), callee side port %u",
           created ? "opened" : "offered again", session_port(session, SESSION_A),
           keep[0] == 8 ? "PCMA" : "PCMU", media.dtmf_offered ? media.dtmf_pt : -1,
           media.crypto_ok ? ", SRTP" : "", port_b);
    Tandem__MediaOffered reply = TANDEM__MEDIA_OFFERED__INIT;
    reply.sdp_caller = self->sdp_a;
    reply.sdp_callee = self->sdp_b;
    td_bus_send_media_offered(self->bus, hdr->peer, hdr->call_id, hdr->leg, &reply);
}

static void s_on_media_offer(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaOffer *msg)
{
    worker_t *self = arg;
    td_log_set_context(hdr->call_id);
    if (!hdr->call_id || !hdr->call_id[0])
        s_error(self, hdr, WORKER_CAUSE_TEMPORARY, "media offer without a call id");
    else
        s_handle_offer(self, hdr, msg->sdp ? msg->sdp : "", msg->codecs, msg->n_codecs,
                       msg->comedia);
    td_log_set_context(NULL);
}

static void s_apply(session_t *session, session_side_t side, const sdp_media_t *media,
                    int codec, int send, int srtp);

/* A callee's answer (or early media SDP) to the worker's offer: where to
 * send to it, and the codec it chose, the first of its m=audio line that the
 * worker offered (RFC 3264 6.1: the answerer's preference order). With
 * `adopt`, the answer of a phone (leg 0: the caller, side A) to the re-INVITE
 * that moved it here (MediaAdopt): applied to its side without a reply. */
static void s_on_media_answer(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaAnswer *msg)
{
    worker_t *self = arg;
    td_log_set_context(hdr->call_id);
    const char *sdp = msg->sdp ? msg->sdp : "";
    size_t len = strlen(sdp);
    sdp_media_t media;
    session_side_t side = msg->adopt && hdr->leg == 0 ? SESSION_A : SESSION_B;
    session_t *session = session_table_find(self->sessions, hdr->call_id);
    if (!session) {
        s_error(self, hdr, WORKER_CAUSE_TEMPORARY, "no media session for this call");
    } else if (sdp_parse(sdp, len, &media, self->err, sizeof self->err) < 0) {
        char reason[300];
        snprintf(reason, sizeof reason, "bad SDP answer: %s", self->err);
        s_error(self, hdr, WORKER_CAUSE_BAD_SDP, reason);
    } else if (media.g711_pt < 0 && media.port != 0) {
        s_error(self, hdr, WORKER_CAUSE_BAD_SDP,
                "bad SDP answer: neither PCMU nor PCMA, which were offered");
    } else if (msg->adopt) {
        s_apply(session, side, &media, media.g711_pt, (media.dir & SDP_DIR_RECV) != 0, 1);
        s_touched(self, session, hdr);
        td_log(LOG_DEBUG, "moved: side %c answered with %s, port %u, %s%s", 'A' + side,
               media.g711_pt == 8 ? "PCMA" : "PCMU", media.port, sdp_dir_name(media.dir),
               session_srtp(session, side) ? ", SRTP" : "");
    } else if (session_set_srtp(session, SESSION_B,
                                media.crypto_ok ? &media.crypto : NULL) < 0) {
        s_error(self, hdr, WORKER_CAUSE_BAD_SDP, "cannot start SRTP toward the callee");
    } else {
        session_set_remote(session, SESSION_B, &media);
        session_set_symmetric(session, SESSION_B, msg->comedia);
        if (media.g711_pt >= 0)
            session_set_codec(session, SESSION_B, media.g711_pt,
                              media.dtmf_offered ? media.dtmf_pt : -1);
        session_set_mode(session, SESSION_RELAY);
        s_touched(self, session, hdr);
        td_log(LOG_DEBUG, "media bridged: leg %u answered with %s, events on %d%s%s", hdr->leg,
               media.g711_pt == 8 ? "PCMA" : "PCMU", media.dtmf_offered ? media.dtmf_pt : -1,
               media.crypto_ok ? ", SRTP" : "",
               session_transcodes(session) ? ": transcoding" : "");
        Tandem__MediaAnswered reply = TANDEM__MEDIA_ANSWERED__INIT;
        reply.sdp_caller = "";
        td_bus_send_media_answered(self->bus, hdr->peer, hdr->call_id, hdr->leg, &reply);
    }
    td_log_set_context(NULL);
}

/* ---- re-offers (re-INVITE, UPDATE) ----------------------------------------- */

static void s_reoffered(worker_t *self, const td_bus_hdr_t *hdr, uint32_t status,
                        const char *sdp, int final)
{
    Tandem__MediaReoffered r = TANDEM__MEDIA_REOFFERED__INIT;
    r.status = status;
    r.sdp = (char *)(sdp ? sdp : "");
    r.final = final;
    td_bus_send_media_reoffered(self->bus, hdr->peer, hdr->call_id, hdr->leg, &r);
}

static void s_reanswered(worker_t *self, const td_bus_hdr_t *hdr, uint32_t status, const char *sdp)
{
    Tandem__MediaReanswered r = TANDEM__MEDIA_REANSWERED__INIT;
    r.status = status;
    r.sdp = (char *)(sdp ? sdp : "");
    td_bus_send_media_reanswered(self->bus, hdr->peer, hdr->call_id, hdr->leg, &r);
}

/* Take a side's accepted offer: where it is, its law, whether we send to it,
 * and its SRTP key if srtp (else it is plain). */
static void s_apply(session_t *session, session_side_t side, const sdp_media_t *media,
                    int codec, int send, int srtp)
{
    if (session_set_srtp(session, side, srtp && media->crypto_ok ? &media->crypto : NULL) < 0)
        td_log(LOG_WARNING, "side %c: cannot start SRTP: its packets will be dropped",
               'A' + side);
    session_set_remote(session, side, media);
    if (codec >= 0)
        session_set_codec(session, side, codec, media->dtmf_offered ? media->dtmf_pt : -1);
    session_set_send(session, side, send);
    if (side == SESSION_A && session_ivr(session) && codec >= 0)
        ivr_set_caller_codecs(session_ivr(session), codec, media->dtmf_pt);
}

/* The next SDP on a side: o= as before with the version one up (RFC 3264 8). */
static int s_stamp(session_t *session, session_side_t side, const char *sdp, int dir, char *out)
{
    sdp_origin_t *o = session_origin(session, side);
    o->version++;
    return sdp_restamp(sdp, strlen(sdp), o, dir, out, WORKER_SDP_MAX);
}

/* A leg offers anew. One-leg sessions (Echo, IVR) answer at once; a
 * bridged one makes the offer for the other side and waits for its answer
 * (MediaReanswer) before it changes anything. */
static void s_on_media_reoffer(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaReoffer *msg)
{
    worker_t *self = arg;
    td_log_set_context(hdr->call_id);
    const char *sdp = msg->sdp ? msg->sdp : "";
    size_t len = strlen(sdp);
    session_side_t side = hdr->leg == 0 ? SESSION_A : SESSION_B;
    session_t *session = session_table_find(self->sessions, hdr->call_id);
    sdp_media_t media;
    uint8_t allowed[2], keep[3];
    size_t nkeep = 0;
    if (!session) {
        s_reoffered(self, hdr, 500, NULL, 0);
        goto done;
    }
    if (sdp_parse(sdp, len, &media, self->err, sizeof self->err) < 0) {
        td_log(LOG_NOTICE, "re-offer on leg %u refused: %s", hdr->leg, self->err);
        s_reoffered(self, hdr, 488, NULL, 0);
        goto done;
    }
    /* chan_sip's process_sdp on a re-INVITE: the same SRTP checks as on the
     * first offer, and a call with SRTP keeps it ("Failed to receive SDP
     * offer/answer with required SRTP crypto attributes"): 488, and the
     * call goes on as it was. */
    if (sdp_crypto_offer_status(&media, session_srtp(session, side) != 0) != 0) {
        td_log(LOG_NOTICE, "re-offer on leg %u refused: %s", hdr->leg,
               session_srtp(session, side) && !media.ncrypto
               ? "its SRTP call offers no a=crypto" : "no usable a=crypto");
        s_reoffered(self, hdr, 488, NULL, 0);
        goto done;
    }
    nkeep = sdp_keep(&media, allowed, s_codecs(msg->codecs, msg->n_codecs, allowed), 1, keep);
    if (nkeep == 0 || sdp_answer(sdp, len, self->address, session_port(session, side), keep,
                                 nkeep, self->sdp_a, sizeof self->sdp_a, self->err,
                                 sizeof self->err) < 0 ||
        s_secure(self, session, side, media.crypto_ok, media.crypto_ok ? &media.crypto : NULL,
                 self->sdp_a) < 0) {
        td_log(LOG_NOTICE, "re-offer on leg %u refused: %s", hdr->leg,
               nkeep == 0 ? "no codec of its allow= list" : "cannot write the answer (SDP, SRTP key)");
        s_reoffered(self, hdr, 488, NULL, 0);
        goto done;
    }
    s_touched(self, session, hdr);
    /* The router says so (Echo, IVR, a Dial that went on without the callee),
     * or nobody ever answered on B: the offerer is alone. */
    int one_leg = msg->alone || session_mode(session) != SESSION_RELAY
                  || session_codec(session, SESSION_B) < 0;
    if (one_leg) {
        int dir = sdp_dir_answer(media.dir);
        if (s_stamp(session, side, self->sdp_a, dir, self->sdp_b) < 0) {
            s_reoffered(self, hdr, 500, NULL, 0);
            goto done;
        }
        s_apply(session, side, &media, keep[0], dir & SDP_DIR_SEND, 1);
        if (msg->no_answer)
            session_origin(session, side)->version--;       /* nothing was sent */
        td_log(LOG_DEBUG, "re-offer on leg %u answered: port %u, %s, %s", hdr->leg, media.port,
               keep[0] == 8 ? "PCMA" : "PCMU", sdp_dir_name(dir));
        s_reoffered(self, hdr, 200, self->sdp_b, 1);
        goto done;
    }
    session_side_t other = !side;
    session_reoffer_clear(session);
    session_reoffer_t *ro = session_reoffer(session);
    ro->answer = strdup(self->sdp_a);
    int first = session_codec(session, other);
    /* The other side stays as secure as it is, with the worker's key for it. */
    sdp_crypto_t other_crypto = { .tag = 1, .taglen = (uint8_t)session_srtp(session, other) };
    int other_secure = other_crypto.taglen != 0;
    if (!ro->answer ||
        sdp_offer(self->address, session_port(session, other), 0, first, self->sdp_a,
                  sizeof self->sdp_a) < 0 ||
        s_secure(self, session, other, other_secure, other_secure ? &other_crypto : NULL,
                 self->sdp_a) < 0 ||
        s_stamp(session, other, self->sdp_a, media.dir, self->sdp_b) < 0) {
        session_reoffer_clear(session);
        s_reoffered(self, hdr, 500, NULL, 0);
        goto done;
    }
    ro->active = 1;
    ro->no_answer = msg->no_answer;
    ro->side = side;
    ro->media = media;
    ro->codec = keep[0];
    td_log(LOG_DEBUG, "re-offer on leg %u (%s, port %u): offering %s to the other side",
           hdr->leg, sdp_dir_name(media.dir), media.port, sdp_dir_name(media.dir));
    s_reoffered(self, hdr, 200, self->sdp_b, 0);
done:
    td_log_set_context(NULL);
}

/* The other side answered the re-offer (or refused it). */
static void s_on_media_reanswer(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaReanswer *msg)
{
    worker_t *self = arg;
    td_log_set_context(hdr->call_id);
    session_t *session = session_table_find(self->sessions, hdr->call_id);
    session_reoffer_t *ro = session ? session_reoffer(session) : NULL;
    const char *sdp = msg->sdp ? msg->sdp : "";
    sdp_media_t ans;
    if (!ro || !ro->active) {
        s_reanswered(self, hdr, 500, NULL);
    } else if (msg->status < 200 || msg->status >= 300) {
        td_log(LOG_INFO, "re-offer refused by the other side (%u): session unchanged",
               msg->status);
        session_reoffer_clear(session);
        s_reanswered(self, hdr, msg->status, NULL);
    } else if (sdp_parse(sdp, strlen(sdp), &ans, self->err, sizeof self->err) < 0) {
        td_log(LOG_NOTICE, "bad SDP answer to a re-offer: %s", self->err);
        session_reoffer_clear(session);
        s_reanswered(self, hdr, 488, NULL);
    } else if (session_srtp(session, !ro->side) && !ans.crypto_ok) {
        td_log(LOG_NOTICE, "answer to a re-offer without the SRTP the call has: session unchanged");
        session_reoffer_clear(session);
        s_reanswered(self, hdr, 488, NULL);
    } else {
        session_side_t side = ro->side, other = !side;
        /* We send to the offerer what the other side sends us, and take from
         * the offerer what the other side will receive. */
        int dir = ((ro->media.dir & SDP_DIR_RECV) && (ans.dir & SDP_DIR_SEND) ? SDP_DIR_SEND : 0)
                | ((ro->media.dir & SDP_DIR_SEND) && (ans.dir & SDP_DIR_RECV) ? SDP_DIR_RECV : 0);
        if (s_stamp(session, side, ro->answer, dir, self->sdp_b) < 0) {
            session_reoffer_clear(session);
            s_reanswered(self, hdr, 500, NULL);
        } else {
            /* the other side's a=crypto counts only if our offer had one */
            s_apply(session, other, &ans, ans.g711_pt, (ans.dir & SDP_DIR_RECV) != 0,
                    session_srtp(session, other) != 0);
            s_apply(session, side, &ro->media, ro->codec, (dir & SDP_DIR_SEND) != 0, 1);
            if (ro->no_answer)
                session_origin(session, side)->version--;   /* nothing was sent */
            td_log(LOG_DEBUG, "re-offer done: side %c %s, side %c %s%s", 'A' + side,
                   sdp_dir_name(dir), 'A' + other, sdp_dir_name(ans.dir),
                   session_transcodes(session) ? ", transcoding" : "");
            session_reoffer_clear(session);
            s_reanswered(self, hdr, 200, self->sdp_b);
        }
    }
    td_log_set_context(NULL);
}

/* ---- adoption: a call whose worker died ------------------------------------- */

/* One side of an adopted call. remote (the phone's last SDP) says where it
 * listens and, with local (the last SDP it was sent), which law the two
 * agreed on: the first of remote's formats that local lists too. local
 * moved to this worker's address and port, its o= version one up, is the
 * offer of the re-INVITE that moves the phone here; written to out. 0, or
 * -1 with the reason in self->err. A side without local is left empty. */
static int s_adopt_side(worker_t *self, session_t *session, session_side_t side,
                        const char *local, const char *remote, char *out)
{
    out[0] = '\0';
    if (!*local)
        return 0;
    sdp_media_t lm, rm;
    size_t llen = strlen(local);
    if (sdp_parse(local, llen, &lm, self->err, sizeof self->err) < 0)
        return -1;
    if (*remote && sdp_parse(remote, strlen(remote), &rm, self->err, sizeof self->err) == 0) {
        int codec = -1;
        for (size_t i = 0; i < rm.nfmt && codec < 0; i++) {
            if (rm.kind[i] != SDP_KIND_PCMU && rm.kind[i] != SDP_KIND_PCMA)
                continue;
            for (size_t j = 0; j < lm.nfmt; j++)
                if (lm.fmt[j] == rm.fmt[i])
                    codec = rm.fmt[i];
        }
        s_apply(session, side, &rm, codec,
                (rm.dir & SDP_DIR_RECV) && (lm.dir & SDP_DIR_SEND), lm.crypto_ok);
    }
    char moved[WORKER_SDP_MAX];
    if (sdp_rewrite(local, llen, self->address, session_port(session, side), moved,
                    sizeof moved, self->err, sizeof self->err) < 0)
        return -1;
    sdp_origin_t *o = session_origin(session, side);
    if (sdp_origin(local, llen, o) < 0) {
        snprintf(self->err, sizeof self->err, "no o= line");
        return -1;
    }
    o->version++;
    if (sdp_restamp(moved, strlen(moved), o, lm.dir, out, WORKER_SDP_MAX) < 0) {
        snprintf(self->err, sizeof self->err, "SDP too long");
        return -1;
    }
    /* SRTP: the phone keeps its key (we decrypt with it at once); ours is
     * new, in the moved SDP's a=crypto, with the tag and suite it had */
    if (lm.crypto_ok && s_secure(self, session, side, 1, &lm.crypto, out) < 0) {
        snprintf(self->err, sizeof self->err, "cannot make an SRTP key");
        return -1;
    }
    return 0;
}

/* The router moves a call here from a worker that died: open its session
 * with what each phone's SDPs say, and reply with the offers that move the
 * phones (MediaAdopted). */
static void s_on_media_adopt(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaAdopt *msg)
{
    worker_t *self = arg;
    td_log_set_context(hdr->call_id);
    int created = 0;
    session_t *session = hdr->call_id && *hdr->call_id ? s_session_get(self, hdr, &created)
                                                        : NULL;
    if (!session)
        goto done;
    if (s_adopt_side(self, session, SESSION_A, msg->local_a ? msg->local_a : "",
                     msg->remote_a ? msg->remote_a : "", self->sdp_a) < 0 ||
        s_adopt_side(self, session, SESSION_B, msg->local_b ? msg->local_b : "",
                     msg->remote_b ? msg->remote_b : "", self->sdp_b) < 0) {
        char reason[300];
        snprintf(reason, sizeof reason, "cannot adopt the call: %s", self->err);
        session_table_remove(self->sessions, hdr->call_id);
        td_bus_set_load(self->bus, session_table_size(self->sessions));
        s_error(self, hdr, WORKER_CAUSE_BAD_SDP, reason);
        goto done;
    }
    session_set_mode(session, msg->echo ? SESSION_ECHO : SESSION_RELAY);
    session_set_symmetric(session, SESSION_A, msg->comedia_a);
    session_set_symmetric(session, SESSION_B, msg->comedia_b);
    s_touched(self, session, hdr);
    int law = session_codec(session, SESSION_A), dtmf = session_dtmf_pt(session, SESSION_A);
    s_ivr_attach(self, session, law >= 0 ? law : 0, dtmf >= 0 ? dtmf : SDP_DTMF_PT_DEFAULT,
                 hdr->peer);
    td_log(LOG_NOTICE, "call adopted from a lost worker: side A port %u%s, side B port %u%s",
           session_port(session, SESSION_A), self->sdp_a[0] ? "" : " (unused)",
           session_port(session, SESSION_B), self->sdp_b[0] ? "" : " (unused)");
    Tandem__MediaAdopted reply = TANDEM__MEDIA_ADOPTED__INIT;
    reply.sdp_a = self->sdp_a;
    reply.sdp_b = self->sdp_b;
    td_bus_send_media_adopted(self->bus, hdr->peer, hdr->call_id, hdr->leg, &reply);
done:
    td_log_set_context(NULL);
}

static void s_on_media_echo(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaEcho *msg)
{
    (void)msg;
    worker_t *self = arg;
    td_log_set_context(hdr->call_id);
    session_t *session = session_table_find(self->sessions, hdr->call_id);
    if (!session) {
        s_error(self, hdr, WORKER_CAUSE_TEMPORARY, "no media session for this call");
    } else {
        session_set_mode(session, SESSION_ECHO);
        s_touched(self, session, hdr);
        td_log(LOG_DEBUG, "media echo on port %u", session_port(session, SESSION_A));
    }
    td_log_set_context(NULL);
}

static void s_on_media_release(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaRelease *msg)
{
    (void)msg;
    worker_t *self = arg;
    td_log_set_context(hdr->call_id);
    session_t *session = session_table_find(self->sessions, hdr->call_id);
    if (!session) {
        td_log(LOG_DEBUG, "release of a call without a media session: ignored");
    } else {
        s_log_stats(session);
        s_send_stats(self, hdr->peer, session);
        session_table_remove(self->sessions, hdr->call_id);
        td_bus_set_load(self->bus, session_table_size(self->sessions));
    }
    td_log_set_context(NULL);
}

/* The call's IVR state, or NULL after replying MediaError 41. */
static ivr_t *s_ivr_for(worker_t *self, const td_bus_hdr_t *hdr)
{
    session_t *session = session_table_find(self->sessions, hdr->call_id);
    if (!session || !session_ivr(session)) {
        s_error(self, hdr, WORKER_CAUSE_TEMPORARY, "no media session for this call");
        return NULL;
    }
    s_touched(self, session, hdr);
    ivr_set_peer(session_ivr(session), hdr->peer);
    return session_ivr(session);
}

static void s_on_media_play(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaPlay *msg)
{
    worker_t *self = arg;
    td_log_set_context(hdr->call_id);
    ivr_t *ivr = s_ivr_for(self, hdr);
    if (ivr)
        ivr_play(ivr, msg->id, msg->files, msg->n_files, msg->loop, msg->moh);
    td_log_set_context(NULL);
}

static void s_on_media_stop(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaStop *msg)
{
    (void)msg;
    worker_t *self = arg;
    td_log_set_context(hdr->call_id);
    ivr_t *ivr = s_ivr_for(self, hdr);
    if (ivr)
        ivr_stop(ivr);
    td_log_set_context(NULL);
}

static void s_on_media_record(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaRecord *msg)
{
    worker_t *self = arg;
    td_log_set_context(hdr->call_id);
    ivr_t *ivr = s_ivr_for(self, hdr);
    if (ivr)
        ivr_record(ivr, msg->id, msg->path ? msg->path : "", msg->silence_ms, msg->max_ms,
                   msg->dtmf_ends);
    td_log_set_context(NULL);
}

static void s_on_peer_up(void *arg, const char *peer, const char *role, uint32_t capacity)
{
    (void)arg;
    (void)capacity;
    td_log(LOG_DEBUG, "%s (%s) is up", peer, role);   /* the bus logs it at notice */
}

static void s_on_peer_down(void *arg, const char *peer, const char *role)
{
    worker_t *self = arg;
    self->router_losses++;
    self->ticks_since_loss = 0;
    td_log(LOG_WARNING, "%s (%s) is silent; %u media sessions keep relaying, and are closed "
           "if idle for %d s", peer, role, session_table_size(self->sessions),
           WORKER_ORPHAN_IDLE_S);
}

/* session_table_sweep callback: close orphans (see worker.h). */
static int s_orphaned(session_t *session, void *arg)
{
    worker_t *self = arg;
    uint32_t idle = session_idle_check(session);
    if (idle > self->ticks_since_loss)
        idle = self->ticks_since_loss;       /* count from the loss only */
    if (session_epoch(session) == self->router_losses ||
        idle * WORKER_TICK_S < WORKER_ORPHAN_IDLE_S)
        return 0;
    td_log_set_context(session_call_id(session));
    td_log(LOG_NOTICE, "closing the media session: idle %u s since the router was lost",
           idle * WORKER_TICK_S);
    s_log_stats(session);
    Tandem__MediaError msg = TANDEM__MEDIA_ERROR__INIT;
    msg.cause = WORKER_CAUSE_TEMPORARY;
    msg.reason = "media session closed: idle after the router was lost";
    td_bus_send_media_error(self->bus, s_router_of(self, session), session_call_id(session), 0,
                            &msg);
    td_log_set_context(NULL);
    return 1;
}

void worker_tick(worker_t *self)
{
    if (self->ticks_since_loss < UINT32_MAX)
        self->ticks_since_loss++;
    if (session_table_sweep(self->sessions, s_orphaned, self))
        td_bus_set_load(self->bus, session_table_size(self->sessions));
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker_tick(arg);
}

/* ---- the router took this worker for dead ---------------------------------- */

static int s_forget_one(session_t *session, void *arg)
{
    (void)arg;
    td_log_set_context(session_call_id(session));
    s_log_stats(session);
    td_log_set_context(NULL);
    return 1;
}

/* It moved or ended every call here while we were silent (a stall): drop
 * them all. */
static void s_on_media_forget(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaForget *msg)
{
    (void)hdr;
    (void)msg;
    worker_t *self = arg;
    uint32_t n = session_table_size(self->sessions);
    if (n) {
        td_log(LOG_WARNING, "the router took this worker for dead: closing its %u stale media "
               "session(s)", n);
        session_table_sweep(self->sessions, s_forget_one, self);
        td_bus_set_load(self->bus, session_table_size(self->sessions));
    }
}

/* session_table_sweep callback: a session of router arg that no RTP ever
 * reached (either side) belongs to a call still being set up. */
static int s_unused(session_t *session, void *arg)
{
    const char *router = arg;
    const char *owner = session_router(session);
    if (owner && strcmp(owner, router) != 0)
        return 0;
    if (session_stats(session, SESSION_A)->rx_packets
        || session_stats(session, SESSION_B)->rx_packets)
        return 0;
    td_log_set_context(session_call_id(session));
    td_log(LOG_NOTICE, "closing the media session: no RTP yet, its call was being set up by "
           "the router that restarted");
    s_log_stats(session);
    td_log_set_context(NULL);
    return 1;
}

/* A router restarted (a new boot in its Hello): it knows none of the
 * sessions of its calls and will never release them; signaling ends those
 * calls (BYE) on the same news. Close them now rather than after
 * WORKER_ORPHAN_IDLE_S of silence, so their ports are free at once. With
 * several routers, the other routers' sessions stay. */
static int s_forget_router(session_t *session, void *arg)
{
    const char *router = arg;
    const char *owner = session_router(session);
    if (owner && strcmp(owner, router) != 0)
        return 0;
    return s_forget_one(session, NULL);
}

static void s_on_peer_restart(void *arg, const char *peer, const char *role, uint32_t capacity)
{
    (void)capacity;
    worker_t *self = arg;
    if (self->cluster && strcmp(role, "router") == 0) {
        /* Cluster mode: the answered calls are in the store, and the router
         * (this restart, or another) that ends one releases its session. As
         * after a silence, a session idle WORKER_ORPHAN_IDLE_S closes. */
        uint32_t n = session_table_size(self->sessions);
        self->router_losses++;
        self->ticks_since_loss = 0;
        uint32_t unused = session_table_sweep(self->sessions, s_unused, (void *)peer);
        if (unused)
            td_bus_set_load(self->bus, session_table_size(self->sessions));
        td_log(LOG_WARNING, "%s (%s) restarted: %u media sessions keep relaying (cluster mode: "
               "their calls are adopted), and are closed if idle for %d s; %u of its that never "
               "carried RTP (calls being set up, which signaling ends) closed", peer, role,
               n - unused, WORKER_ORPHAN_IDLE_S, unused);
        return;
    }
    uint32_t before = session_table_size(self->sessions);
    if (before)
        session_table_sweep(self->sessions, s_forget_router, (void *)peer);
    uint32_t n = before - session_table_size(self->sessions);
    td_log(LOG_WARNING, "%s (%s) restarted and knows none of its sessions: closed %u", peer,
           role, n);
    if (n)
        td_bus_set_load(self->bus, session_table_size(self->sessions));
}

/* ---- rtptimeout ------------------------------------------------------------ */

static void s_on_media_timeouts(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaTimeouts *msg)
{
    worker_t *self = arg;
    session_t *session = session_table_find(self->sessions, hdr->call_id);
    if (!session)
        return;                 /* it ended meanwhile */
    session_set_rtp_timeout(session, hdr->leg == 0 ? SESSION_A : SESSION_B, msg->rtp_timeout,
                            msg->rtp_hold_timeout);
}

/* session_table_sweep callback: report the sides silent past their timeout. */
static int s_rtp_silent(session_t *session, void *arg)
{
    worker_t *self = arg;
    uint32_t silent;
    int side = session_rtp_timed_out(session, self->now_s, &silent);
    if (side >= 0) {
        td_log_set_context(session_call_id(session));
        td_log(LOG_NOTICE, "no RTP from side %c for %u s", 'A' + side, silent);
        Tandem__MediaTimeout m = TANDEM__MEDIA_TIMEOUT__INIT;
        m.seconds = silent;
        td_bus_send_media_timeout(self->bus, s_router_of(self, session), session_call_id(session),
                                  (uint32_t)side, &m);
        td_log_set_context(NULL);
    }
    return 0;
}

static void s_on_rtp_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker_t *self = arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    self->now_s = (uint32_t)ts.tv_sec;
    session_table_sweep(self->sessions, s_rtp_silent, self);
}

static void s_on_drain(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker_t *self = arg;
    uint32_t left = session_table_size(self->sessions);
    if (left == 0 && self->drain_ticks > 0) {
        td_log(LOG_NOTICE, "drained: no media session left, exiting");
        event_base_loopexit(self->base, NULL);
        return;
    }
    self->drain_ticks++;
    Tandem__MediaDrain m = TANDEM__MEDIA_DRAIN__INIT;
    m.sessions = left;
    const char *routers[16];           /* every router moves its own calls away */
    size_t n = td_bus_routers(self->bus, routers, 16);
    if (n == 0)
        td_bus_send_media_drain(self->bus, NULL, "", 0, &m);
    for (size_t i = 0; i < n; i++)
        td_bus_send_media_drain(self->bus, routers[i], "", 0, &m);
    td_log(LOG_INFO, "draining: %u media session(s) left", left);
}

/* The router asks for a drain (tandemctl's `media drain`): as SIGUSR1. */
static void s_on_media_drain(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaDrain *msg)
{
    (void)hdr;
    (void)msg;
    worker_drain(arg);
}

void worker_drain(worker_t *self)
{
    if (self->drain)
        return;
    td_log(LOG_NOTICE, "drain: taking no new calls; the router moves the %u call(s) here "
           "elsewhere, then this worker exits", session_table_size(self->sessions));
    self->drain = event_new(self->base, -1, EV_PERSIST, s_on_drain, self);
    struct timeval every = { 1, 0 };
    if (!self->drain || event_add(self->drain, &every) < 0) {
        td_log(LOG_ERR, "cannot start draining");
        return;
    }
    s_on_drain(-1, 0, self);
}
