/* sip_transport - UDP, TCP and TLS under the transaction layer; see
 * sip_transport.h.
 *
 * UDP is one non-blocking socket read in bursts. Each stream connection is
 * one bufferevent (a socket one for TCP, an OpenSSL one for TLS) in two
 * chained hash tables, by id and by (transport, address); ids count up from
 * 1 and are never reused while the process runs, so a stale id held by a
 * transaction finds nothing rather than another phone's connection.
 * Connections are closed by marking them and leaving the tables at once;
 * one reaper event frees them after the callback that closed them returns. */
#define TD_LOG_SUBSYS TD_LOG_SIP   /* td_log() here: [logging] sip= */
#include "td_hash.h"
#include "td_map.h"
#include "sip_transport.h"
#include "sip_raw.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "td_log.h"

#define READ_BURST     64
#define SRC_CACHE      64           /* destination IP -> our source address, direct mapped */
#define SRC_TTL_S      60           /* a cached source is looked up again after this long */
#define STICKY_SLOTS   4096         /* address -> the stream transport it last used */

typedef struct conn conn_t;
struct conn {
    sip_transport_t *owner;
    td_map_node_t by_id, by_addr;   /* in the owner's tables until closing */
    conn_t *next_dead;
    uint32_t id;
    sip_tp_t tp;
    struct sockaddr_in peer;
    struct bufferevent *bev;
    unsigned closing : 1;           /* out of the tables, waiting for the reaper */
    unsigned flushing : 1;          /* a 400 is being written, then close */
    unsigned got_message : 1;       /* the first-message timeout no longer applies */
    unsigned outgoing : 1;
};

struct sip_transport {
    struct event_base *base;
    sip_transport_handlers_t h;
    void *arg;
    sip_transport_preferred_fn preferred;
    void *preferred_arg;
    int udp_fd;
    struct event *udp_ev;
    uint64_t queue_min_us;          /* smallest queue delay since sip_transport_queue_delay */
    int stamped;                    /* SO_TIMESTAMPNS is on */
    struct sockaddr_in local[3];    /* per transport: bound address; port 0 = no listener */
    struct evconnlistener *listener[3];
    SSL_CTX *tls_server, *tls_client;
    td_map_t by_id, by_addr;        /* conn_t by id, by (transport, peer address) */
    conn_t *dead;
    struct event *reaper;
    uint32_t next_id;
    int first_s, idle_s;
    struct {                        /* for 0.0.0.0 binds: the kernel's choice */
        in_addr_t dst, src;
        time_t at;
    } src_cache[SRC_CACHE];
    struct {                        /* direct mapped; a collision forgets (UDP then) */
        in_addr_t ip;
        in_port_t port;
        uint8_t tp;
        time_t at;
    } sticky[STICKY_SLOTS];
    sip_transport_stats_t stats;
    char rx[SIP_TRANSPORT_MAX + 1];
    char tx[SIP_TRANSPORT_MAX + 256];
};

/* ---- names ---------------------------------------------------------------- */

const char *sip_transport_name(sip_tp_t tp)
{
    return tp == SIP_TP_TCP ? "TCP" : tp == SIP_TP_TLS ? "TLS" : "UDP";
}

const char *sip_transport_param(sip_tp_t tp)
{
    return tp == SIP_TP_TCP ? "tcp" : tp == SIP_TP_TLS ? "tls" : "udp";
}

int sip_transport_reliable(sip_tp_t tp)
{
    return tp == SIP_TP_TCP || tp == SIP_TP_TLS;
}

/* ---- our address ---------------------------------------------------------- */

/* The source address the kernel picks toward `to`: a fresh unconnected
 * socket connect()ed once. (One socket reused for every lookup would keep
 * the source of the first destination: a connected UDP socket's local
 * address is fixed by its first connect.) 0 when there is no route. */
static in_addr_t s_route_source(const struct sockaddr_in *to)
{
    struct sockaddr_in me = { 0 };
    socklen_t ml = sizeof me;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 0;
    in_addr_t src = 0;
    if (connect(s, (const struct sockaddr *)to, sizeof *to) == 0
        && getsockname(s, (struct sockaddr *)&me, &ml) == 0)
        src = me.sin_addr.s_addr;
    close(s);
    return src;
}

void sip_transport_local_addr(sip_transport_t *self, const struct sockaddr_in *to, sip_tp_t tp,
                              struct sockaddr_in *out)
{
    if ((unsigned)tp > SIP_TP_TLS || !self->local[tp].sin_port)
        tp = SIP_TP_UDP;
    *out = self->local[tp];
    if (out->sin_addr.s_addr != htonl(INADDR_ANY) || !to)
        return;
    size_t slot = (ntohl(to->sin_addr.s_addr) * 2654435761u) % SRC_CACHE;
    time_t now = time(NULL);
    if (self->src_cache[slot].dst == to->sin_addr.s_addr && self->src_cache[slot].src
        && now - self->src_cache[slot].at < SRC_TTL_S) {
        out->sin_addr.s_addr = self->src_cache[slot].src;
        return;
    }
    in_addr_t src = s_route_source(to);
    if (src && src != htonl(INADDR_ANY)) {
        self->src_cache[slot].dst = to->sin_addr.s_addr;
        self->src_cache[slot].src = src;
        self->src_cache[slot].at = now;
        out->sin_addr.s_addr = src;
    } else
        out->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* ---- UDP ------------------------------------------------------------------ */

static int s_send_udp(sip_transport_t *self, const char *buf, size_t len,
                      const struct sockaddr_in *to)
{
    ssize_t n = sendto(self->udp_fd, buf, len, 0, (const struct sockaddr *)to, sizeof *to);
    if (n >= 0) {
        self->stats.udp_tx++;
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR)
        return 0;                /* UDP: as good as lost on the wire */
    td_logs_limited(TD_LOG_SIP, LOG_WARNING, 5, "sip_transport: sendto %s:%d: %s",
                   inet_ntoa(to->sin_addr), ntohs(to->sin_port), strerror(errno));
    return -1;
}

void sip_transport_input_udp(sip_transport_t *self, const char *buf, size_t len,
                             const struct sockaddr_in *from)
{
    sip_tp_dest_t d = { .addr = *from, .tp = SIP_TP_UDP, .conn = 0 };
    if (self->h.on_input)
        self->h.on_input(self->arg, buf, len, &d);
}

/* How long [ts] waited in the socket: now (CLOCK_REALTIME, as the kernel's
 * stamp) minus it, in microseconds; 0 if the clock stepped back. */
static uint64_t s_waited_us(const struct timespec *ts)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t us = (int64_t)(now.tv_sec - ts->tv_sec) * 1000000
               + (now.tv_nsec - ts->tv_nsec) / 1000;
    return us > 0 ? (uint64_t)us : 1;
}

static void s_on_udp_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    sip_transport_t *self = arg;
    for (int i = 0; i < READ_BURST; i++) {
        struct sockaddr_in from;
        union {                              /* the kernel's receive time (SO_TIMESTAMPNS) */
            char buf[CMSG_SPACE(sizeof(struct timespec))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = { self->rx, SIP_TRANSPORT_MAX };
        struct msghdr mh = {
            .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
            .msg_control = self->stamped ? ctl.buf : NULL,
            .msg_controllen = self->stamped ? sizeof ctl.buf : 0,
        };
        ssize_t n = recvmsg(fd, &mh, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH
                || errno == ENETUNREACH)
                continue;                    /* ICMP news from an earlier send */
            td_logs_limited(TD_LOG_SIP, LOG_WARNING, 1, "sip_transport: recvfrom: %s", strerror(errno));
            return;
        }
        if (mh.msg_namelen < sizeof from || from.sin_family != AF_INET)
            continue;
        if (self->stamped) {
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof ts);
                uint64_t w = s_waited_us(&ts);
                if (!self->queue_min_us || w < self->queue_min_us)
                    self->queue_min_us = w;
            }
        }
        self->rx[n] = '\0';
        sip_transport_input_udp(self, self->rx, (size_t)n, &from);
    }
}

uint64_t sip_transport_queue_delay(sip_transport_t *self)
{
    uint64_t d = self->queue_min_us;
    self->queue_min_us = 0;
    return d;
}

/* ---- the stream framer ----------------------------------------------------- */

static int s_is_token_char(unsigned char c)
{
    return isalnum(c) || (c && strchr("-.!%*_+`'~", c));
}

/* Does the first line [p, p + n) look like SIP: "SIP/2.0 ddd ..." or
 * "METHOD uri SIP/2.0"? Only its shape is checked; the parser does the rest. */
static int s_sip_first_line(const char *p, size_t n)
{
    if (n >= 8 && strncmp(p, "SIP/2.0 ", 8) == 0)
        return 1;
    size_t i = 0;
    while (i < n && s_is_token_char((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return 0;
    while (n > i && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return n >= i + 10 && strncasecmp(p + n - 8, " SIP/2.0", 8) == 0;
}

/* The Content-Length of the header block [p, p + n) (which ends in CRLF
 * CRLF): its value, -1 when there is none, -2 when one is not a plain
 * decimal below max or two disagree. Folded lines count as their header's. */
static long s_content_length(const char *p, size_t n, size_t max)
{
    long found = -1;
    const char *end = p + n;
    const char *line = memchr(p, '\n', n);            /* skip the first line */
    while (line && line + 1 < end) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            break;
        size_t ln = (size_t)(eol - line);
        size_t k = 0;
        while (k < ln && s_is_token_char((unsigned char)line[k]))
            k++;
        size_t name = k;
        while (k < ln && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k < ln && line[k] == ':'
            && ((name == 14 && strncasecmp(line, "Content-Length", 14) == 0)
                || (name == 1 && (line[0] == 'l' || line[0] == 'L')))) {
            k++;
            while (k < ln && (line[k] == ' ' || line[k] == '\t'))
                k++;
            unsigned long v = 0;
            size_t digits = 0;
            while (k < ln && isdigit((unsigned char)line[k])) {
                if (v > max)
                    return -2;
                v = v * 10 + (unsigned long)(line[k] - '0');
                k++;
                digits++;
            }
            while (k < ln && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
                k++;
            if (!digits || k != ln || v > max || (found >= 0 && (unsigned long)found != v))
                return -2;
            found = (long)v;
        }
        line = eol;
    }
    return found;
}

sip_frame_t sip_transport_frame(const char *buf, size_t len, size_t max, size_t *skip, size_t *n)
{
    size_t s = 0;
    while (s < len && (buf[s] == '\r' || buf[s] == '\n'))
        s++;                                      /* keep-alives (RFC 5626 3.5.1) */
    *skip = s;
    *n = 0;
    const char *p = buf + s;
    size_t left = len - s;
    if (!left)
        return SIP_FRAME_WAIT;
    if (!s_is_token_char((unsigned char)p[0]))
        return SIP_FRAME_CLOSE;                   /* not a method, not "SIP/2.0" */
    const char *eol = memchr(p, '\n', left < max ? left : max);
    if (eol && !s_sip_first_line(p, (size_t)(eol - p) - (eol > p && eol[-1] == '\r')))
        return SIP_FRAME_CLOSE;
    if (!eol)
        return left >= max ? SIP_FRAME_CLOSE : SIP_FRAME_WAIT;
    const char *hend = memmem(p, left < max ? left : max, "\r\n\r\n", 4);
    if (!hend)
        return left >= max ? SIP_FRAME_CLOSE : SIP_FRAME_WAIT;
    size_t hlen = (size_t)(hend - p) + 4;
    long cl = s_content_length(p, hlen, max);
    if (cl < 0 || hlen + (size_t)cl > max) {
        *n = hlen;
        return SIP_FRAME_REJECT;                  /* RFC 3261 18.3: it MUST be there */
    }
    if (left < hlen + (size_t)cl)
        return SIP_FRAME_WAIT;
    *n = hlen + (size_t)cl;
    return SIP_FRAME_MESSAGE;
}

/* ---- connections ------------------------------------------------------------ */

/* The seeded td_hash of transport, address and port: connections from one
 * /16 (or one address's many ports) spread over the table. */
static uint64_t s_addr_slot(sip_tp_t tp, const struct sockaddr_in *a)
{
    td_hash_t h;
    uint8_t t = (uint8_t)tp;
    td_hash_begin(&h);
    td_hash_add(&h, &t, 1);
    td_hash_add(&h, &a->sin_addr.s_addr, sizeof a->sin_addr.s_addr);
    td_hash_add(&h, &a->sin_port, sizeof a->sin_port);
    return td_hash_end(&h);
}

typedef struct {
    sip_tp_t tp;
    const struct sockaddr_in *addr;
} s_addr_key_t;

static int s_id_eq(const td_map_node_t *n, const void *key)
{
    return TD_MAP_ENTRY(n, conn_t, by_id)->id == *(const uint32_t *)key;
}

static int s_addr_eq(const td_map_node_t *n, const void *key)
{
    const conn_t *c = TD_MAP_ENTRY(n, conn_t, by_addr);
    const s_addr_key_t *k = key;
    return c->tp == k->tp && c->peer.sin_addr.s_addr == k->addr->sin_addr.s_addr
           && c->peer.sin_port == k->addr->sin_port;
}

/* An address that spoke TCP or TLS keeps that transport after its
 * connection closes, for the idle time: chan_sip keeps a dialog on the
 * socket type it began on, so a BYE to a phone whose Contact names no
 * transport goes over TCP again (a new connection), not UDP. */
static void s_remember(sip_transport_t *self, sip_tp_t tp, const struct sockaddr_in *a)
{
    size_t i = s_addr_slot(SIP_TP_UDP, a) & (STICKY_SLOTS - 1);
    self->sticky[i].ip = a->sin_addr.s_addr;
    self->sticky[i].port = a->sin_port;
    self->sticky[i].tp = (uint8_t)tp;
    self->sticky[i].at = time(NULL);
}

static sip_tp_t s_remembered(sip_transport_t *self, const struct sockaddr_in *a)
{
    size_t i = s_addr_slot(SIP_TP_UDP, a) & (STICKY_SLOTS - 1);
    if (self->sticky[i].at && self->sticky[i].ip == a->sin_addr.s_addr
        && self->sticky[i].port == a->sin_port && time(NULL) - self->sticky[i].at < self->idle_s)
        return (sip_tp_t)self->sticky[i].tp;
    return SIP_TP_UDP;
}

static conn_t *s_conn_by_id(sip_transport_t *self, uint32_t id)
{
    td_map_node_t *n = td_map_find(&self->by_id, td_hash_bytes(&id, sizeof id), &id);
    return n ? TD_MAP_ENTRY(n, conn_t, by_id) : NULL;
}

static conn_t *s_conn_by_addr(sip_transport_t *self, sip_tp_t tp, const struct sockaddr_in *a)
{
    s_addr_key_t k = { tp, a };
    for (td_map_node_t *n = td_map_find(&self->by_addr, s_addr_slot(tp, a), &k); n;
         n = td_map_find_next(&self->by_addr, n, &k))
        if (!TD_MAP_ENTRY(n, conn_t, by_addr)->flushing)
            return TD_MAP_ENTRY(n, conn_t, by_addr);
    return NULL;
}

static void s_conn_unlink(sip_transport_t *self, conn_t *c)
{
    td_map_remove(&self->by_id, &c->by_id);
    td_map_remove(&self->by_addr, &c->by_addr);
}

/* Out of the tables now, freed by the reaper; the TU hears of it once. */
static void s_conn_close(conn_t *c, const char *why)
{
    sip_transport_t *self = c->owner;
    if (c->closing)
        return;
    c->closing = 1;
    s_conn_unlink(self, c);
    s_remember(self, c->tp, &c->peer);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    self->stats.conns--;
    self->stats.closed++;
    td_log(LOG_DEBUG, "sip_transport: %s connection %u with %s:%d closed: %s",
           sip_transport_name(c->tp), c->id, inet_ntoa(c->peer.sin_addr), ntohs(c->peer.sin_port),
           why);
    c->next_dead = self->dead;
    self->dead = c;
    event_active(self->reaper, EV_TIMEOUT, 0);
    if (self->h.on_conn_closed)
        self->h.on_conn_closed(self->arg, c->id);
}

static void s_conn_free(conn_t *c)
{
    if (c->bev) {
        if (c->tp == SIP_TP_TLS) {
            SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
            if (ssl)
                SSL_set_shutdown(ssl, SSL_RECEIVED_SHUTDOWN);   /* no close_notify dance */
        }
        bufferevent_free(c->bev);
    }
    free(c);
}

static void s_on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    sip_transport_t *self = arg;
    conn_t *c = self->dead;
    self->dead = NULL;
    while (c) {
        conn_t *next = c->next_dead;
        s_conn_free(c);
        c = next;
    }
}

static void s_conn_timeouts(conn_t *c)
{
    sip_transport_t *self = c->owner;
    int s = c->got_message || c->outgoing ? self->idle_s : self->first_s;
    struct timeval tv = { s, 0 };
    bufferevent_set_timeouts(c->bev, &tv, NULL);
}

/* A header block the framer refused: a 400 when the lines make an
 * answerable request, then close once it is written. */
static void s_conn_reject(conn_t *c, const char *p, size_t n)
{
    sip_transport_t *self = c->owner;
    char tag[20];
    int status = 0;
    snprintf(tag, sizeof tag, "%08x", c->id * 2654435761u);
    size_t out = sip_raw_answer(p, n, tag, self->tx, sizeof self->tx, &status);
    self->stats.framing_errors++;
    td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 5, "sip_transport: %s from %s:%d without a usable Content-Length%s",
                   sip_transport_name(c->tp), inet_ntoa(c->peer.sin_addr),
                   ntohs(c->peer.sin_port), out ? ", 400 sent, closing" : ", closing");
    if (!out) {
        s_conn_close(c, "bad frame");
        return;
    }
    bufferevent_disable(c->bev, EV_READ);
    c->flushing = 1;
    if (bufferevent_write(c->bev, self->tx, out) != 0)
        s_conn_close(c, "bad frame");
}

static void s_on_conn_read(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    sip_transport_t *self = c->owner;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (!c->closing && !c->flushing) {
        size_t len = evbuffer_get_length(in);
        if (!len)
            break;
        size_t look = len < SIP_TRANSPORT_MAX + 8 ? len : SIP_TRANSPORT_MAX + 8;
        const char *p = (const char *)evbuffer_pullup(in, (ssize_t)look);
        size_t skip, n;
        if (!p) {
            s_conn_close(c, "out of memory");
            break;
        }
        sip_frame_t f = sip_transport_frame(p, look, SIP_TRANSPORT_MAX, &skip, &n);
        if (skip >= 4 && memmem(p, skip, "\r\n\r\n", 4))
            bufferevent_write(c->bev, "\r\n", 2);     /* RFC 5626 3.5.1: ping, pong */
        if (f == SIP_FRAME_WAIT) {
            evbuffer_drain(in, skip);
            break;
        }
        if (f == SIP_FRAME_CLOSE) {
            self->stats.framing_errors++;
            td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 5, "sip_transport: %s from %s:%d is not SIP or too long, "
                           "closing", sip_transport_name(c->tp), inet_ntoa(c->peer.sin_addr),
                           ntohs(c->peer.sin_port));
            s_conn_close(c, "not SIP");
            break;
        }
        if (f == SIP_FRAME_REJECT) {
            s_conn_reject(c, p + skip, n);
            break;
        }
        memcpy(self->rx, p + skip, n);
        self->rx[n] = '\0';
        evbuffer_drain(in, skip + n);
        if (!c->got_message) {
            c->got_message = 1;
            s_conn_timeouts(c);
        }
        sip_tp_dest_t from = { .addr = c->peer, .tp = c->tp, .conn = c->id };
        if (self->h.on_input)
            self->h.on_input(self->arg, self->rx, n, &from);
    }
}

static void s_on_conn_write(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    if (c->flushing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        s_conn_close(c, "400 sent");
}

static void s_on_conn_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    conn_t *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        td_log(LOG_DEBUG, "sip_transport: %s connection %u to %s:%d up", sip_transport_name(c->tp),
               c->id, inet_ntoa(c->peer.sin_addr), ntohs(c->peer.sin_port));
        return;
    }
    const char *why = what & BEV_EVENT_EOF ? "closed by the peer"
                    : what & BEV_EVENT_TIMEOUT ? "idle" : "error";
    if (what & BEV_EVENT_ERROR) {
        unsigned long e = c->tp == SIP_TP_TLS ? bufferevent_get_openssl_error(c->bev) : 0;
        int err = EVUTIL_SOCKET_ERROR();
        td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 5, "sip_transport: %s connection with %s:%d: %s",
                       sip_transport_name(c->tp), inet_ntoa(c->peer.sin_addr),
                       ntohs(c->peer.sin_port),
                       e ? ERR_reason_error_string(e) : err ? strerror(err) : "failed");
    }
    s_conn_close(c, why);
}

/* Takes bev. NULL (bev freed) if out of memory. */
static conn_t *s_conn_add(sip_transport_t *self, sip_tp_t tp, struct bufferevent *bev,
                          const struct sockaddr_in *peer, int outgoing)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        bufferevent_free(bev);
        return NULL;
    }
    c->owner = self;
    c->id = self->next_id++;
    if (!self->next_id)
        self->next_id = 1;
    c->tp = tp;
    c->peer = *peer;
    c->bev = bev;
    c->outgoing = outgoing;
    td_map_insert(&self->by_addr, &c->by_addr, s_addr_slot(tp, peer));
    td_map_insert(&self->by_id, &c->by_id, td_hash_bytes(&c->id, sizeof c->id));
    self->stats.conns++;
    s_remember(self, tp, peer);
    bufferevent_setcb(bev, s_on_conn_read, s_on_conn_write, s_on_conn_event, c);
    /* Reading stops while twice the largest message waits: a message always fits. */
    bufferevent_setwatermark(bev, EV_READ, 0, 2 * (SIP_TRANSPORT_MAX + 8));
    s_conn_timeouts(c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return c;
}

static struct bufferevent *s_bev_new(sip_transport_t *self, sip_tp_t tp, evutil_socket_t fd,
                                     int accepting)
{
    int opts = BEV_OPT_CLOSE_ON_FREE;
    if (tp != SIP_TP_TLS)
        return bufferevent_socket_new(self->base, fd, opts);
    SSL_CTX *ctx = accepting ? self->tls_server : self->tls_client;
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    if (!ssl)
        return NULL;
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        self->base, fd, ssl, accepting ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
        opts);
    if (!bev)
        SSL_free(ssl);
    return bev;
}

static conn_t *s_connect(sip_transport_t *self, sip_tp_t tp, const struct sockaddr_in *to)
{
    if (tp == SIP_TP_TLS && !self->tls_client && sip_transport_tls_client(self, NULL) != 0)
        return NULL;
    struct bufferevent *bev = s_bev_new(self, tp, -1, 0);
    if (!bev)
        return NULL;
    if (bufferevent_socket_connect(bev, (const struct sockaddr *)to, sizeof *to) != 0) {
        td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 5, "sip_transport: cannot connect %s to %s:%d",
                       sip_transport_name(tp), inet_ntoa(to->sin_addr), ntohs(to->sin_port));
        bufferevent_free(bev);
        return NULL;
    }
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_t *c = s_conn_add(self, tp, bev, to, 1);
    if (c)
        self->stats.connected++;
    return c;
}

static void s_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                        int salen, void *arg)
{
    sip_transport_t *self = arg;
    sip_tp_t tp = l == self->listener[SIP_TP_TLS] ? SIP_TP_TLS : SIP_TP_TCP;
    if (salen < (int)sizeof(struct sockaddr_in) || sa->sa_family != AF_INET) {
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct bufferevent *bev = s_bev_new(self, tp, fd, 1);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    if (s_conn_add(self, tp, bev, (const struct sockaddr_in *)sa, 0))
        self->stats.accepted++;
}

/* ---- TLS contexts ------------------------------------------------------------ */

static const char *s_ssl_error(void)
{
    unsigned long e = ERR_get_error();
    return e ? ERR_reason_error_string(e) : "unknown error";
}

static SSL_CTX *s_tls_ctx(const sip_tls_opts_t *o, int server)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);       /* memory per idle connection */
    const char *why = NULL;
    if (o && o->certfile && *o->certfile) {
        const char *key = o->privatekey && *o->privatekey ? o->privatekey : o->certfile;
        if (SSL_CTX_use_certificate_chain_file(ctx, o->certfile) != 1)
            why = "cannot load tlscertfile";
        else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1
                 || SSL_CTX_check_private_key(ctx) != 1)
            why = "cannot load tlsprivatekey";
    } else if (server)
        why = "tlscertfile is not set";
    if (!why && o && o->cipher && *o->cipher && SSL_CTX_set_cipher_list(ctx, o->cipher) != 1)
        why = "tlscipher names no usable cipher";
    int have_ca = o && ((o->cafile && *o->cafile) || (o->capath && *o->capath));
    if (!why && have_ca
        && SSL_CTX_load_verify_locations(ctx, o->cafile && *o->cafile ? o->cafile : NULL,
                                         o->capath && *o->capath ? o->capath : NULL) != 1)
        why = "cannot load tlscafile/tlscapath";
    if (why) {
        td_log(LOG_ERR, "sip_transport: TLS %s: %s (%s)", server ? "server" : "client", why,
               s_ssl_error());
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (server)
        SSL_CTX_set_verify(ctx, o->verifyclient ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                                : SSL_VERIFY_NONE, NULL);
    else {
        if (!have_ca)
            SSL_CTX_set_default_verify_paths(ctx);
        SSL_CTX_set_verify(ctx, o && o->dontverifyserver ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                           NULL);
    }
    return ctx;
}

int sip_transport_tls_client(sip_transport_t *self, const sip_tls_opts_t *tls)
{
    if (!self)
        return -1;
    SSL_CTX *ctx = s_tls_ctx(tls, 0);
    if (!ctx)
        return -1;
    if (self->tls_client)
        SSL_CTX_free(self->tls_client);
    self->tls_client = ctx;
    return 0;
}

int sip_transport_listen(sip_transport_t *self, sip_tp_t tp, const struct sockaddr_in *addr,
                         const sip_tls_opts_t *tls)
{
    if (!self || !addr || (tp != SIP_TP_TCP && tp != SIP_TP_TLS) || self->listener[tp])
        return -1;
    if (tp == SIP_TP_TLS) {
        if (!(self->tls_server = s_tls_ctx(tls, 1)) || sip_transport_tls_client(self, tls) != 0)
            return -1;
    }
    struct evconnlistener *l = evconnlistener_new_bind(
        self->base, s_on_accept, self, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
        (const struct sockaddr *)addr, sizeof *addr);
    if (!l) {
        td_log(LOG_ERR, "sip_transport: cannot listen for %s on %s:%d: %s", sip_transport_name(tp),
               inet_ntoa(addr->sin_addr), ntohs(addr->sin_port), strerror(errno));
        return -1;
    }
    struct sockaddr_in bound;
    socklen_t bl = sizeof bound;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &bl);
    self->listener[tp] = l;
    self->local[tp] = bound;
    td_log(LOG_NOTICE, "listening on %s %s:%d", sip_transport_param(tp),
           inet_ntoa(bound.sin_addr), ntohs(bound.sin_port));
    return 0;
}

void sip_transport_set_timeouts(sip_transport_t *self, int first_message_s, int idle_s)
{
    if (!self)
        return;
    if (first_message_s > 0)
        self->first_s = first_message_s;
    if (idle_s > 0)
        self->idle_s = idle_s;
}

/* ---- the class ------------------------------------------------------------ */

sip_tp_t sip_transport_choose(sip_transport_t *self, const struct sockaddr_in *to)
{
    if (!self || !to)
        return SIP_TP_UDP;
    /* A phone that registered over TCP or TLS: its connection's address is
     * where its calls go (nat=force_rport, and with auto when the Contact
     * matches), so an open connection there decides. */
    s_addr_key_t tls = { SIP_TP_TLS, to };
    if (td_map_find(&self->by_addr, s_addr_slot(SIP_TP_TLS, to), &tls))
        return SIP_TP_TLS;
    if (s_conn_by_addr(self, SIP_TP_TCP, to))
        return SIP_TP_TCP;
    sip_tp_t tp = s_remembered(self, to);
    if (tp != SIP_TP_UDP)
        return tp;
    if (self->preferred)
        return self->preferred(self->preferred_arg, to);
    return SIP_TP_UDP;
}

void sip_transport_remember(sip_transport_t *self, sip_tp_t tp, const struct sockaddr_in *a)
{
    if (self && a && tp != SIP_TP_UDP)
        s_remember(self, tp, a);
}

void sip_transport_set_preferred(sip_transport_t *self, sip_transport_preferred_fn fn, void *arg)
{
    if (self) {
        self->preferred = fn;
        self->preferred_arg = arg;
    }
}

int sip_transport_send(sip_transport_t *self, const char *buf, size_t len, sip_tp_dest_t *to)
{
    if (!self || !buf || !to)
        return -1;
    if (to->tp == SIP_TP_UDP)
        return s_send_udp(self, buf, len, &to->addr);
    conn_t *c = to->conn ? s_conn_by_id(self, to->conn) : NULL;
    if (!c || c->tp != to->tp || c->flushing)
        c = s_conn_by_addr(self, to->tp, &to->addr);
    if (!c)
        c = s_connect(self, to->tp, &to->addr);
    if (!c)
        return -1;
    to->conn = c->id;
    if (bufferevent_write(c->bev, buf, len) != 0)
        return -1;
    self->stats.stream_tx++;
    return 0;
}

void sip_transport_stats(sip_transport_t *self, sip_transport_stats_t *out)
{
    if (self && out)
        *out = self->stats;
}

sip_transport_t *sip_transport_new(struct event_base *base, int udp_fd,
                                   const sip_transport_handlers_t *h, void *arg)
{
    if (!base || udp_fd < 0)
        return NULL;
    sip_transport_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->udp_fd = udp_fd;
    if (h)
        self->h = *h;
    self->arg = arg;
    self->next_id = 1;
    self->first_s = 30;
    self->idle_s = 3600;
    socklen_t sl = sizeof self->local[0];
    int one = 1;
    self->stamped = setsockopt(udp_fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) == 0;
    self->udp_ev = event_new(base, udp_fd, EV_READ | EV_PERSIST, s_on_udp_readable, self);
    self->reaper = event_new(base, -1, 0, s_on_reap, self);
    int maps_ok = td_map_init(&self->by_id, 64, s_id_eq) == 0;
    maps_ok &= td_map_init(&self->by_addr, 64, s_addr_eq) == 0;
    if (!maps_ok || !self->reaper || getsockname(udp_fd, (struct sockaddr *)&self->local[SIP_TP_UDP], &sl) != 0
        || self->local[SIP_TP_UDP].sin_family != AF_INET || !self->udp_ev
        || event_add(self->udp_ev, NULL) != 0) {
        td_log(LOG_ERR, "sip_transport: cannot set up UDP on fd %d", udp_fd);
        sip_transport_destroy(&self);
        return NULL;
    }
    return self;
}

void sip_transport_destroy(sip_transport_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sip_transport_t *self = *self_p;
    for (int tp = SIP_TP_TCP; tp <= SIP_TP_TLS; tp++)
        if (self->listener[tp])
            evconnlistener_free(self->listener[tp]);
    size_t cur;
    for (td_map_node_t *n = td_map_first(&self->by_id, &cur), *next; n; n = next) {
        next = td_map_next(&self->by_id, n, &cur);
        td_map_remove(&self->by_id, n);
        s_conn_free(TD_MAP_ENTRY(n, conn_t, by_id));
    }
    s_on_reap(-1, 0, self);
    if (self->reaper)
        event_free(self->reaper);
    if (self->udp_ev)
        event_free(self->udp_ev);
    if (self->tls_server)
        SSL_CTX_free(self->tls_server);
    if (self->tls_client)
        SSL_CTX_free(self->tls_client);
    td_map_fini(&self->by_id);
    td_map_fini(&self->by_addr);
    free(self);
    *self_p = NULL;
}
