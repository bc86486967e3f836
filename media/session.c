/* session - one call's media relay; see session.h. */
#define TD_LOG_SUBSYS TD_LOG_MEDIA   /* td_log() here: [logging] media= */
#include "session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "g711.h"
#include "ivr.h"
#include "rtp_stats.h"
#include "sdes.h"
#include "td_log.h"

/* One socket of a side: its read event and where its packets go out to. */
typedef struct {
    session_t *session;
    struct event *ev;
    uint8_t side;              /* SESSION_A or SESSION_B */
    uint8_t rtcp;              /* 0: the RTP socket, 1: the RTCP socket */
    uint8_t known;             /* remote is set (from SDP or a packet) */
    uint8_t latched;           /* remote came from a received packet */
    struct sockaddr_in remote;
} s_sock_t;

typedef struct {
    int16_t codec;             /* 0 PCMU, 8 PCMA; -1 until known */
    int16_t dtmf_pt;           /* telephone-event payload type; -1 none */
    uint8_t held;              /* RTP toward this side is held back (its direction) */
    uint8_t symmetric;         /* comedia: send to where its packets come from */
    sdp_origin_t origin;       /* the o= line of the last SDP sent to this side */
    uint16_t port;             /* RTP port; 0 until allocated */
    int fds[2];                /* RTP, RTCP; owned */
    sdes_t *srtp;              /* owned; NULL until the side needs a key */
    s_sock_t sock[2];
    rtp_strict_t strict;       /* where its RTP may come from (rtp_strict.h) */
    session_stats_t stats;
    rtp_stats_t quality;       /* loss, jitter, RTCP reports of this side's phone */
    /* rtptimeout (session_rtp_timed_out): seconds, 0 none */
    uint32_t rtp_timeout, rtp_hold_timeout;
    uint32_t last_rx_s;        /* when a packet (or an SDP) last came from it */
    uint64_t rx_seen;          /* stats.rx_packets then */
    uint8_t rx_reset;          /* an SDP came: count from the next check */
    uint8_t holds;             /* its last SDP holds the call (sends nothing) */
} s_side_t;

struct session {
    char *call_id;
    port_pool_t *pool;         /* borrowed; outlives the session */
    session_mode_t mode;
    int rewrite;               /* RTP is rewritten: the sides' codecs differ, or the
                                * callee has not answered which law it sends */
    s_side_t side[2];
    uint64_t idle_rx;          /* rx packets at the last idle check */
    uint32_t idle_checks;      /* checks in a row without a packet */
    uint32_t epoch;            /* the owner's stamp */
    const char *router;        /* the call's router (borrowed from the bus), or NULL */
    ivr_t *ivr;                /* owned; NULL until the owner attaches one */
    session_reoffer_t reoffer;
};

/* The receive buffer of the whole process: libevent runs one callback at a
 * time on this thread, and a packet never outlives its callback. */
static unsigned char s_buf[65536];
/* Packets of our own (IVR) protected for an SRTP caller. */
static unsigned char s_tx[2048];

/* µ-law -> A-law and A-law -> µ-law (g711_table's, set at the first
 * session_set_codec). */
static const uint8_t *s_to_alaw, *s_to_ulaw;

/* Rewrite the RTP packet in s_buf[0..len), received on side `from`, for
 * side `to`, once to's law is known: audio in the other law (payload type 0
 * or 8: the worker offers callees both, so one that has not answered yet may
 * send either) through the table, with to's payload type; an event on
 * from's event payload type (101, the worker's offer, before from's answer)
 * takes to's. A packet that is not RTP version 2, or whose header runs past
 * its end, passes as it is. */
static void s_rewrite(s_side_t *from, const s_side_t *to, size_t len)
{
    if (to->codec < 0 || len < 12 || (s_buf[0] & 0xC0) != 0x80)
        return;
    int pt = s_buf[1] & 0x7F;
    if (pt == 0 || pt == 8) {
        if (pt == to->codec)
            return;
        size_t off = 12 + 4u * (s_buf[0] & 0x0F), end = len;
        if (s_buf[0] & 0x10) {             /* header extension */
            if (off + 4 > len)
                return;
            off += 4 + 4u * (size_t)((s_buf[off + 2] << 8) | s_buf[off + 3]);
        }
        if (s_buf[0] & 0x20) {             /* padding: its count is the last byte */
            if (s_buf[len - 1] > len)
                return;
            end -= s_buf[len - 1];
        }
        if (off > end)
            return;
        const uint8_t *table = pt == 0 ? s_to_alaw : s_to_ulaw;
        for (size_t i = off; i < end; i++)
            s_buf[i] = table[s_buf[i]];
        s_buf[1] = (uint8_t)((s_buf[1] & 0x80) | to->codec);
        from->stats.transcoded++;
    } else if (to->dtmf_pt >= 0 && pt != to->dtmf_pt &&
               pt == (from->codec >= 0 ? from->dtmf_pt : SDP_DTMF_PT_DEFAULT)) {
        s_buf[1] = (uint8_t)((s_buf[1] & 0x80) | to->dtmf_pt);
        from->stats.transcoded++;
    }
}

static void s_on_readable(evutil_socket_t fd, short what, void *arg);

static uint64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *s_addr_str(char *buf, size_t len, const struct sockaddr_in *sin)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
    snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
    return buf;
}

session_t *session_new(struct event_base *base, port_pool_t *pool,
                       const struct in_addr *bind_addr, const char *call_id, int *err)
{
    session_t *self = calloc(1, sizeof *self);
    *err = -ENOMEM;
    if (!self)
        return NULL;
    self->pool = pool;
    self->mode = SESSION_RELAY;
    for (int s = 0; s < 2; s++) {
        self->side[s].fds[0] = self->side[s].fds[1] = -1;
        self->side[s].codec = self->side[s].dtmf_pt = -1;
        rtp_stats_init(&self->side[s].quality);
        rtp_strict_init(&self->side[s].strict, RTP_STRICT_NO, 0, 0);
    }
    self->call_id = strdup(call_id);
    if (!self->call_id)
        goto fail;
    for (int s = 0; s < 2; s++) {
        s_side_t *side = &self->side[s];
        int port = port_pool_open(pool, bind_addr, side->fds);
        if (port < 0) {
            *err = port;
            goto fail;
        }
        side->port = (uint16_t)port;
        for (int k = 0; k < 2; k++) {
            s_sock_t *sock = &side->sock[k];
            sock->session = self;
            sock->side = (uint8_t)s;
            sock->rtcp = (uint8_t)k;
            sock->ev = event_new(base, side->fds[k], EV_READ | EV_PERSIST, s_on_readable, sock);
            if (!sock->ev || event_add(sock->ev, NULL) < 0) {
                *err = -ENOMEM;
                goto fail;
            }
        }
    }
    *err = 0;
    return self;
fail:
    session_destroy(&self);
    return NULL;
}

void session_set_strict(session_t *self, rtp_strict_mode_t mode, unsigned probation)
{
    uint64_t now_ms = s_now_ns() / 1000000u;
    for (int s = 0; s < 2; s++)
        rtp_strict_init(&self->side[s].strict, mode, probation, now_ms);
}

void session_destroy(session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    session_t *self = *self_p;
    ivr_destroy(&self->ivr);
    free(self->reoffer.answer);
    for (int s = 1; s >= 0; s--) {
        s_side_t *side = &self->side[s];
        for (int k = 1; k >= 0; k--)
            if (side->sock[k].ev)
                event_free(side->sock[k].ev);
        sdes_destroy(&side->srtp);
        if (side->port)
            port_pool_close(self->pool, side->port, side->fds);
    }
    free(self->call_id);
    free(self);
    *self_p = NULL;
}

const char *session_call_id(const session_t *self)
{
    return self->call_id;
}

uint16_t session_port(const session_t *self, session_side_t side)
{
    return self->side[side].port;
}

void session_set_remote(session_t *self, session_side_t side, const sdp_media_t *media)
{
    /* chan_sip: an SDP restarts the RTP timeout; sendonly, inactive and
     * c=0.0.0.0 put the call on hold (rtpholdtimeout then) */
    self->side[side].rx_reset = 1;
    self->side[side].holds = !(media->dir & SDP_DIR_SEND) || media->addr.s_addr == INADDR_ANY;
    if (media->port == 0 || media->addr.s_addr == INADDR_ANY)
        return;
    s_sock_t *rtp = &self->side[side].sock[0];
    s_sock_t *rtcp = &self->side[side].sock[1];
    memset(&rtp->remote, 0, sizeof rtp->remote);
    rtp->remote.sin_family = AF_INET;
    rtp->remote.sin_addr = media->addr;
    rtp->remote.sin_port = htons(media->port);
    rtp->known = 1;
    rtp->latched = 0;
    rtp_strict_target(&self->side[side].strict, &rtp->remote, s_now_ns() / 1000000u);
    if (media->rtcp_port) {
        memset(&rtcp->remote, 0, sizeof rtcp->remote);
        rtcp->remote.sin_family = AF_INET;
        rtcp->remote.sin_addr = media->rtcp_addr.s_addr ? media->rtcp_addr : media->addr;
        rtcp->remote.sin_port = htons(media->rtcp_port);
        rtcp->known = 1;
        rtcp->latched = 0;
    }
}

void session_set_codec(session_t *self, session_side_t side, int pt, int dtmf_pt)
{
    self->side[side].codec = (int16_t)(pt == 0 || pt == 8 ? pt : -1);
    self->side[side].dtmf_pt = (int16_t)(dtmf_pt >= 0 && dtmf_pt < 128 ? dtmf_pt : -1);
    const s_side_t *a = &self->side[SESSION_A], *b = &self->side[SESSION_B];
    self->rewrite = (a->codec >= 0 && b->codec < 0) ||
                    (a->codec >= 0 && b->codec >= 0 &&
                     (a->codec != b->codec || (a->dtmf_pt >= 0 && b->dtmf_pt >= 0 &&
                                               a->dtmf_pt != b->dtmf_pt)));
    if (!s_to_alaw) {
        s_to_alaw = g711_table(G711_PT_PCMU, G711_PT_PCMA);
        s_to_ulaw = g711_table(G711_PT_PCMA, G711_PT_PCMU);
    }
}

int session_codec(const session_t *self, session_side_t side)
{
    return self->side[side].codec;
}

int session_dtmf_pt(const session_t *self, session_side_t side)
{
    return self->side[side].dtmf_pt;
}

session_reoffer_t *session_reoffer(session_t *self)
{
    return &self->reoffer;
}

void session_reoffer_clear(session_t *self)
{
    free(self->reoffer.answer);
    memset(&self->reoffer, 0, sizeof self->reoffer);
}

int session_transcodes(const session_t *self)
{
    return self->rewrite && self->side[SESSION_B].codec >= 0;
}

void session_set_ivr(session_t *self, ivr_t **ivr_p)
{
    ivr_destroy(&self->ivr);
    self->ivr = *ivr_p;
    *ivr_p = NULL;
}

ivr_t *session_ivr(session_t *self)
{
    return self->ivr;
}

void session_set_send(session_t *self, session_side_t side, int on)
{
    self->side[side].held = !on;
}

int session_sends(const session_t *self, session_side_t side)
{
    return !self->side[side].held;
}

sdp_origin_t *session_origin(session_t *self, session_side_t side)
{
    return &self->side[side].origin;
}

const uint8_t *session_srtp_key(session_t *self, session_side_t side)
{
    s_side_t *s = &self->side[side];
    if (!s->srtp)
        s->srtp = sdes_new();
    return s->srtp ? sdes_local_key(s->srtp) : NULL;
}

int session_set_srtp(session_t *self, session_side_t side, const sdp_crypto_t *remote)
{
    s_side_t *s = &self->side[side];
    if (!remote) {
        if (s->srtp)
            sdes_stop(s->srtp);
        return 0;
    }
    if (!session_srtp_key(self, side))
        return -1;
    return sdes_start(s->srtp, remote->taglen, remote->key);
}

int session_srtp(const session_t *self, session_side_t side)
{
    const s_side_t *s = &self->side[side];
    return s->srtp ? sdes_active(s->srtp) : 0;
}

int session_send_caller(session_t *self, const void *pkt, size_t len)
{
    s_side_t *side = &self->side[SESSION_A];
    s_sock_t *out = &side->sock[0];
    if (!out->known || side->held)
        return -1;
    if (side->srtp && sdes_active(side->srtp)) {
        if (len > sizeof s_tx)
            return -1;
        memcpy(s_tx, pkt, len);
        if (sdes_protect(side->srtp, s_tx, &len, sizeof s_tx, 0) < 0)
            return -1;
        pkt = s_tx;
    }
    ssize_t n = sendto(side->fds[0], pkt, len, 0, (const struct sockaddr *)&out->remote,
                       sizeof out->remote);
    if (n < 0)
        return -1;
    side->stats.tx_packets++;
    side->stats.tx_bytes += (uint64_t)n;
    side->quality.sent++;
    return 0;
}

void session_set_mode(session_t *self, session_mode_t mode)
{
    self->mode = mode;
}

session_mode_t session_mode(const session_t *self)
{
    return self->mode;
}

const session_stats_t *session_stats(const session_t *self, session_side_t side)
{
    return &self->side[side].stats;
}

const rtp_stats_t *session_quality(const session_t *self, session_side_t side)
{
    return &self->side[side].quality;
}

int session_remote(const session_t *self, session_side_t side, struct sockaddr_in *out)
{
    const s_sock_t *rtp = &self->side[side].sock[0];
    if (!rtp->known)
        return -1;
    *out = rtp->remote;
    return 0;
}

void session_set_rtp_timeout(session_t *self, session_side_t side, uint32_t timeout_s,
                             uint32_t hold_s)
{
    s_side_t *s = &self->side[side];
    s->rtp_timeout = timeout_s;
    s->rtp_hold_timeout = hold_s;
    s->rx_reset = 1;
}

int session_rtp_timed_out(session_t *self, uint32_t now_s, uint32_t *silent_s)
{
    for (int i = 0; i < 2; i++) {
        s_side_t *s = &self->side[i];
        if (!s->rtp_timeout)
            continue;          /* chan_sip: rtpholdtimeout alone does nothing */
        if (s->rx_reset || s->stats.rx_packets != s->rx_seen) {
            s->rx_reset = 0;
            s->rx_seen = s->stats.rx_packets;
            s->last_rx_s = now_s;
            continue;
        }
        uint32_t silent = now_s - s->last_rx_s;
        if (silent <= s->rtp_timeout)
            continue;
        if (s->holds && (!s->rtp_hold_timeout || silent <= s->rtp_hold_timeout))
            continue;
        s->rtp_timeout = s->rtp_hold_timeout = 0;   /* said once */
        *silent_s = silent;
        return i;
    }
    return -1;
}

uint32_t session_idle_check(session_t *self)
{
    uint64_t rx = self->side[0].stats.rx_packets + self->side[1].stats.rx_packets;
    if (rx != self->idle_rx) {
        self->idle_rx = rx;
        self->idle_checks = 0;
    } else {
        self->idle_checks++;
    }
    return self->idle_checks;
}

void session_set_epoch(session_t *self, uint32_t epoch)
{
    self->epoch = epoch;
}

void session_set_router(session_t *self, const char *router)
{
    self->router = router;
}

const char *session_router(const session_t *self)
{
    return self->router;
}

uint32_t session_epoch(const session_t *self)
{
    return self->epoch;
}

void session_set_symmetric(session_t *self, session_side_t side, int on)
{
    self->side[side].symmetric = on ? 1 : 0;
}

/* The packet came from src: make src this socket's remote (symmetric RTP)
 * when the side is comedia, or when nothing (no SDP address) says where it
 * is. Without comedia the SDP's address stays, as res_rtp_asterisk sends to
 * the SDP address unless chan_sip set AST_RTP_PROPERTY_NAT (nat=comedia,
 * or auto_comedia behind NAT: do_setnat); strictrtp's source learning only
 * filters what it accepts, it never moves where it sends. Only packets that
 * strict RTP accepted (rtp_strict.h) get here, so comedia follows the
 * learned source, never a stranger. */
static void s_latch(s_sock_t *sock, const struct sockaddr_in *src)
{
    if (sock->known && sock->remote.sin_addr.s_addr == src->sin_addr.s_addr &&
        sock->remote.sin_port == src->sin_port) {
        sock->latched = 1;
        return;
    }
    session_t *self = sock->session;
    if (sock->known && !self->side[sock->side].symmetric)
        return;
    char was[32], now[32];
    if (sock->latched) {
        self->side[sock->side].stats.relatches++;
        td_logs_limited(TD_LOG_RTP, LOG_INFO, 10, "%s: side %c %s re-latched from %s to %s",
                       self->call_id, 'A' + sock->side, sock->rtcp ? "RTCP" : "RTP",
                       s_addr_str(was, sizeof was, &sock->remote),
                       s_addr_str(now, sizeof now, src));
    } else {
        td_logs_limited(TD_LOG_RTP, LOG_DEBUG, 10, "%s: side %c %s latched to %s",
                       self->call_id, 'A' + sock->side, sock->rtcp ? "RTCP" : "RTP",
                       s_addr_str(now, sizeof now, src));
    }
    sock->remote = *src;
    sock->known = 1;
    sock->latched = 1;
}

/* Send len bytes of s_buf from out's socket to out's remote. A failure
 * counts as dropped on the side the packet came in on (from). */
static void s_send(session_t *self, s_side_t *from, s_sock_t *out, size_t len)
{
    s_side_t *side = &self->side[out->side];
    if (side->srtp && sdes_active(side->srtp) &&
        sdes_protect(side->srtp, s_buf, &len, sizeof s_buf, out->rtcp) < 0) {
        from->stats.dropped++;
        td_logs_limited(TD_LOG_RTP, LOG_WARNING, 5, "%s: cannot protect a packet for side %c",
                       self->call_id, 'A' + out->side);
        return;
    }
    ssize_t n = sendto(side->fds[out->rtcp], s_buf, len, 0,
                       (const struct sockaddr *)&out->remote, sizeof out->remote);
    if (n < 0) {
        from->stats.dropped++;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS &&
            errno != ECONNREFUSED) {
            char to[32];
            td_logs_limited(TD_LOG_RTP, LOG_WARNING, 5, "%s: send to %s failed: %s", self->call_id,
                           s_addr_str(to, sizeof to, &out->remote), strerror(errno));
        }
        return;
    }
    side->stats.tx_packets++;
    side->stats.tx_bytes += (uint64_t)n;
    if (!out->rtcp)
        side->quality.sent++;
}

/* Quality counts of a packet received (and unprotected) on in: loss and
 * jitter of RTP, the reports in RTCP. The far end reports on the stream we
 * send it: the other side's (its own when echoed). */
static void s_quality(session_t *self, const s_sock_t *in, size_t len, uint64_t now_ns)
{
    s_side_t *side = &self->side[in->side];
    s_side_t *other = self->mode == SESSION_ECHO ? side : &self->side[!in->side];
    if (!in->rtcp) {
        int events = side->dtmf_pt >= 0 ? side->dtmf_pt : SDP_DTMF_PT_DEFAULT;
        rtp_stats_rtp(&side->quality, s_buf, len, now_ns,
                      len < 2 || (s_buf[1] & 0x7F) != events);
    } else if (rtp_stats_rtcp(&side->quality, s_buf, len, other->quality.ssrc, now_ns) == 0) {
        rtp_stats_rtt(&side->quality, &other->quality);
    }
}

static void s_on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    s_sock_t *in = arg;
    session_t *self = in->session;
    s_side_t *side = &self->side[in->side];

    for (int i = 0; i < SESSION_BURST; i++) {
        struct sockaddr_in src;
        socklen_t srclen = sizeof src;
        /* room left for the SRTP trailer when it is relayed to a secure side */
        ssize_t n = recvfrom(fd, s_buf, sizeof s_buf - SDES_TRAILER_MAX, 0,
                             (struct sockaddr *)&src, &srclen);
        if (n < 0) {
            if (errno == EINTR || errno == ECONNREFUSED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                td_logs_limited(TD_LOG_RTP, LOG_WARNING, 5, "%s: receive failed: %s", self->call_id,
                               strerror(errno));
            return;
        }
        if (src.sin_family != AF_INET)
            continue;
        side->stats.rx_packets++;
        side->stats.rx_bytes += (uint64_t)n;
        if (side->srtp && sdes_active(side->srtp)) {
            size_t plain = (size_t)n;
            int why;
            if (sdes_unprotect(side->srtp, s_buf, &plain, in->rtcp, &why) < 0) {
                side->stats.dropped++;
                side->stats.srtp_failed++;
                td_logs_limited(TD_LOG_RTP, LOG_NOTICE, 10, "%s: side %c %s packet dropped: %s",
                               self->call_id, 'A' + in->side, in->rtcp ? "SRTCP" : "SRTP",
                               why == 1 ? "authentication failed"
                               : why == 2 ? "replayed" : "malformed");
                continue;
            }
            n = (ssize_t)plain;
        }
        uint64_t now_ns = s_now_ns();
        rtp_strict_verdict_t v = in->rtcp
            ? rtp_strict_rtcp(&side->strict, &src, in->known ? &in->remote : NULL, s_buf,
                              (size_t)n)
            : rtp_strict_rtp(&side->strict, &src, s_buf, (size_t)n, now_ns / 1000000u);
        if (v == RTP_STRICT_DROP) {
            side->stats.dropped++;
            side->stats.strict_dropped++;
            char from[32];
            td_logs_limited(TD_LOG_RTP, LOG_NOTICE, 2, "%s: side %c %s from %s dropped: "
                           "not the learned source (strictrtp)", self->call_id, 'A' + in->side,
                           in->rtcp ? "RTCP" : "RTP", s_addr_str(from, sizeof from, &src));
            continue;
        }
        if (v == RTP_STRICT_NEW) {
            char from[32];
            td_logs_limited(TD_LOG_RTP, LOG_INFO, 10, "%s: side %c RTP source learned: %s",
                           self->call_id, 'A' + in->side, s_addr_str(from, sizeof from, &src));
        }
        s_quality(self, in, (size_t)n, now_ns);
        if (v != RTP_STRICT_PASS)
            s_latch(in, &src);
        if (self->ivr && in->side == SESSION_A && !in->rtcp)
            ivr_on_caller_rtp(self->ivr, s_buf, (size_t)n);

        if (self->mode == SESSION_ECHO) {
            if (in->side != SESSION_A || in->rtcp || ivr_playing(self->ivr) || side->held) {
                side->stats.dropped++;
                continue;
            }
            s_send(self, side, in, (size_t)n);
            continue;
        }
        s_sock_t *out = &self->side[!in->side].sock[in->rtcp];
        if (!out->known || (!in->rtcp && self->side[out->side].held) ||
            (out->side == SESSION_A && !in->rtcp && ivr_playing(self->ivr))) {
            side->stats.dropped++;
            continue;
        }
        if (self->rewrite && !in->rtcp)
            s_rewrite(side, &self->side[out->side], (size_t)n);
        s_send(self, side, out, (size_t)n);
    }
}
