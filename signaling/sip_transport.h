/* sip_transport - the bytes under the transaction layer: UDP, TCP and TLS
 * (RFC 3261 section 18) behind one interface.
 *
 * A destination is an address plus a transport plus, for the stream
 * transports, the connection a message came in on or went out on. Sending
 * to a stream destination reuses that connection while it is open, else any
 * open connection of the same transport to the same address (one O(1) hash
 * lookup), else connects. Every complete message that arrives, on any
 * transport, goes to one input callback with its source destination.
 *
 * Stream input is framed by Content-Length (sip_transport_frame): a partial
 * message waits for more bytes, a header block without a usable
 * Content-Length gets a stateless 400 (when the lines make a request that
 * can be answered) and the connection is closed, so is anything that is not
 * SIP or is larger than SIP_TRANSPORT_MAX. A connection on which no
 * complete message arrives within the first-message timeout (chan_sip's
 * tcpauthtimeout, 30 s), or nothing at all for the idle timeout, is closed.
 *
 * TLS uses libevent's OpenSSL bufferevents. The class owns its listeners,
 * connections and SSL contexts; it does not close the UDP socket it is
 * given. Callbacks must not destroy the transport. */
#ifndef SIP_TRANSPORT_H
#define SIP_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <event2/event.h>

#define SIP_TRANSPORT_MAX 65535      /* largest message on any transport */

typedef enum { SIP_TP_UDP = 0, SIP_TP_TCP = 1, SIP_TP_TLS = 2 } sip_tp_t;

typedef struct {
    struct sockaddr_in addr;
    sip_tp_t tp;
    uint32_t conn;                   /* stream connection id; 0 = none chosen yet */
} sip_tp_dest_t;

typedef struct sip_transport sip_transport_t;

typedef struct {
    /* One complete message (NUL-terminated, borrowed until return). */
    void (*on_input)(void *arg, const char *buf, size_t len, const sip_tp_dest_t *from);
    /* A stream connection failed (refused, reset, TLS handshake) or was
     * closed; what was sent on it and not answered will not be. */
    void (*on_conn_closed)(void *arg, uint32_t conn);
} sip_transport_handlers_t;

/* The transport toward `to` when neither the message nor an open connection
 * says: a peer's transport= (the signaling core answers from sip.conf). */
typedef sip_tp_t (*sip_transport_preferred_fn)(void *arg, const struct sockaddr_in *to);

/* TLS settings, chan_sip's [general] tls* keys. Strings "" when unset. */
typedef struct {
    const char *certfile, *privatekey, *cafile, *capath, *cipher;
    int verifyclient;                /* ask for and check a client certificate */
    int dontverifyserver;            /* as a client, accept any server certificate */
} sip_tls_opts_t;

/* The transport on an already-bound non-blocking UDP socket (read event
 * added here; fd is not closed by the transport). NULL on failure. */
sip_transport_t *sip_transport_new(struct event_base *base, int udp_fd,
                                   const sip_transport_handlers_t *h, void *arg);
void sip_transport_destroy(sip_transport_t **self_p);

/* Set (or with fn NULL clear) the preferred-transport callback. */
void sip_transport_set_preferred(sip_transport_t *self, sip_transport_preferred_fn fn, void *arg);

/* Listen for TCP (tls NULL) or TLS connections on addr. TLS settings also
 * serve outgoing TLS connections. 0, or -1 with the reason logged. */
int sip_transport_listen(sip_transport_t *self, sip_tp_t tp, const struct sockaddr_in *addr,
                         const sip_tls_opts_t *tls);
/* Settings for outgoing TLS when no TLS listener was set up. 0 or -1. */
int sip_transport_tls_client(sip_transport_t *self, const sip_tls_opts_t *tls);

/* Seconds before a connection with no complete message yet is closed, and
 * before any connection silent that long is closed. */
void sip_transport_set_timeouts(sip_transport_t *self, int first_message_s, int idle_s);

/* Send len bytes. For a stream destination the connection used (or opened)
 * is written back into to->conn. 0, or -1 when the bytes could not even be
 * queued (no route, connect refused at once); a failure after that arrives
 * as on_conn_closed. */
int sip_transport_send(sip_transport_t *self, const char *buf, size_t len, sip_tp_dest_t *to);

/* The transport toward `to` when the message does not name one: an open
 * stream connection to exactly that address; else the stream transport that
 * address last used (for the idle time, as chan_sip keeps a dialog on its
 * socket's type); else the preferred callback; else UDP. */
sip_tp_t sip_transport_choose(sip_transport_t *self, const struct sockaddr_in *to);

/* Remember that `a` uses stream transport tp, as a closed connection does
 * (for the idle time): a registration or dialog restored after a restart
 * (sip_state.h) keeps its transport though its connection died with the old
 * process; a request to it opens a new connection. */
void sip_transport_remember(sip_transport_t *self, sip_tp_t tp, const struct sockaddr_in *a);

/* Our address toward `to` on transport tp, for Via and Contact: the bound
 * address, or on a 0.0.0.0 bind the kernel's source toward `to` (one cache
 * for every transport: 64 slots by destination IP, refreshed after a minute;
 * 127.0.0.1 when there is no route). The port is tp's listener's (the UDP
 * port when tp has no listener). */
void sip_transport_local_addr(sip_transport_t *self, const struct sockaddr_in *to, sip_tp_t tp,
                              struct sockaddr_in *out);

/* Feed bytes as if they arrived on the UDP socket from `from`. */
void sip_transport_input_udp(sip_transport_t *self, const char *buf, size_t len,
                             const struct sockaddr_in *from);

const char *sip_transport_name(sip_tp_t tp);           /* "UDP", "TCP", "TLS" */
const char *sip_transport_param(sip_tp_t tp);          /* "udp", "tcp", "tls" */
int sip_transport_reliable(sip_tp_t tp);

typedef struct {
    unsigned long udp_tx, stream_tx, conns, accepted, connected, closed, framing_errors;
} sip_transport_stats_t;
void sip_transport_stats(sip_transport_t *self, sip_transport_stats_t *out);

/* The stream framer, a pure function (exposed for tests). Looks at
 * [buf, buf + len), which starts where the last message ended, and says:
 *  WAIT     - not a whole message yet (*skip: leading CRLFs, keep-alives,
 *             the caller may drop);
 *  MESSAGE  - a message of *n bytes starts at buf + *skip;
 *  REJECT   - a header block of *n bytes at buf + *skip has no usable
 *             Content-Length (missing, not a number, more than max): answer
 *             400 if it is a request, then close;
 *  CLOSE    - not SIP, or a header block longer than max: close at once. */
typedef enum { SIP_FRAME_WAIT, SIP_FRAME_MESSAGE, SIP_FRAME_REJECT, SIP_FRAME_CLOSE } sip_frame_t;
sip_frame_t sip_transport_frame(const char *buf, size_t len, size_t max, size_t *skip, size_t *n);

/* The smallest time a UDP datagram read since the last call waited in the
 * socket's queue (the kernel's receive timestamp to our read), in
 * microseconds; 0 when none was read. For admission control (sip_load.h). */
uint64_t sip_transport_queue_delay(sip_transport_t *self);

#endif
