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
#define CONN_BUCKETS   4096         /* per table; chains past that */

typedef struct conn conn_t;
struct conn {
    sip_transport_t *owner;
    conn_t *next_id, *next_addr, *next_dead;
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
    struct sockaddr_in local[3];    /* per transport: bound address; port 0 = no listener */
    struct evconnlistener *listener[3];
    SSL_CTX *tls_server, *tls_client;
    conn_t *by_id[CONN_BUCKETS], *by_addr[CONN_BUCKETS];
    conn_t *dead;
    struct event *reaper;
    uint32_t next_id;
    int first_s, idle_s;
    struct {                        /* for 0.0.0.0 binds: the kernel's choice */
        in_addr_t dst, src;
        time_t at;
    } src_cache[SRC_CACHE];
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
    td_log_limited(LOG_WARNING, 5, "sip_transport: sendto %s:%d: %s",
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

static void s_on_udp_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    sip_transport_t *self = arg;
    for (int i = 0; i < READ_BURST; i++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, self->rx, SIP_TRANSPORT_MAX, 0, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH
                || errno == ENETUNREACH)
                continue;                    /* ICMP news from an earlier send */
            td_log_limited(LOG_WARNING, 1, "sip_transport: recvfrom: %s", strerror(errno));
            return;
        }
        if (fl < sizeof from || from.sin_family != AF_INET)
            continue;
        self->rx[n] = '\0';
        sip_transport_input_udp(self, self->rx, (size_t)n, &from);
    }
}

/* ---- the class ------------------------------------------------------------ */

sip_tp_t sip_transport_choose(sip_transport_t *self, const struct sockaddr_in *to)
{
    if (!self || !to)
        return SIP_TP_UDP;
    if (self->preferred)
        return self->preferred(self->preferred_arg, to);
    return SIP_TP_UDP;
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
    return s_send_udp(self, buf, len, &to->addr);
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
    self->udp_ev = event_new(base, udp_fd, EV_READ | EV_PERSIST, s_on_udp_readable, self);
    if (getsockname(udp_fd, (struct sockaddr *)&self->local[SIP_TP_UDP], &sl) != 0
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
    if (self->udp_ev)
        event_free(self->udp_ev);
    free(self);
    *self_p = NULL;
}
