/* sip_txn - the RFC 3261 section 17 transaction layer, over sip_transport
 *
 * Built on libosip2's parser and builder only (not its FSMs): transactions
 * live in a hash table keyed by the top Via branch (plus the method for
 * CANCEL/ACK as section 17.2.3 says), so matching is O(1), and every timer is
 * one libevent event per transaction, created once in _new and re-armed.
 *
 * The layer owns its transactions. It tells the transaction user (TU: the
 * signaling core) about requests, responses, timeouts and termination; after
 * on_terminated returns the txn pointer is dead, so the TU drops every
 * reference it holds in that callback.
 *
 * Messages passed to handlers are borrowed until the handler returns, unless
 * the handler says otherwise. Functions that take `osip_message_t **` take
 * ownership and NULL the caller's pointer. */
#ifndef SIP_TXN_H
#define SIP_TXN_H

#include <sys/time.h>
#include <netinet/in.h>
#include <osip2/osip.h>      /* only for osip_message_t and the parser */
#include <event2/event.h>
#include "sip_counts.h"
#include "sip_transport.h"

typedef struct sip_txn sip_txn_t;
typedef struct sip_txn_layer sip_txn_layer_t;

typedef enum {
    SIP_TXN_IST,   /* INVITE server */
    SIP_TXN_NIST,  /* non-INVITE server */
    SIP_TXN_ICT,   /* INVITE client */
    SIP_TXN_NICT   /* non-INVITE client */
} sip_txn_kind_t;

typedef struct {
    /* A request that no transaction absorbed. For every method but ACK the
     * layer has created a server transaction `txn` (for INVITE it has already
     * sent 100 Trying); the TU must answer it with sip_txn_respond(). For ACK
     * (to a 2xx: an ACK to a non-2xx is absorbed by its transaction) txn is
     * NULL. For CANCEL the layer has NOT answered: the TU finds the INVITE
     * with sip_txn_find_invite() and answers both. */
    void (*on_request)(void *arg, sip_txn_t *txn, osip_message_t *req,
                       const struct sockaddr_in *from);
    /* A response to a client transaction (provisional or final). Final
     * responses arrive once; retransmissions are absorbed. For ICT a non-2xx
     * final is ACKed by the layer itself. A 2xx for an INVITE whose
     * transaction has already terminated (a retransmitted 200) arrives with
     * txn NULL so the TU can ACK it again, but only when its branch is one
     * sip_txn_branch() made in this process: any other response matching no
     * transaction is dropped (RFC 4475 3.1.1.12, 3.3.10). */
    void (*on_response)(void *arg, sip_txn_t *txn, osip_message_t *resp);
    /* A client transaction got no final response (Timer B or F), or the
     * transport failed. The TU treats it as a 408. */
    void (*on_timeout)(void *arg, sip_txn_t *txn);
    /* An INVITE server transaction that sent a 2xx got no ACK within 64*T1
     * (the layer stops retransmitting the 2xx). The TU should BYE. */
    void (*on_ack_timeout)(void *arg, sip_txn_t *txn);
    /* The transaction is gone; drop references to it. */
    void (*on_terminated)(void *arg, sip_txn_t *txn);
} sip_txn_handlers_t;

/* Create the layer on an already-bound, non-blocking UDP socket (its
 * transport, sip_transport.h, adds the read event; it does not close fd).
 * TCP and TLS listeners are added on sip_txn_layer_transport(). Returns NULL
 * on failure. */
sip_txn_layer_t *sip_txn_layer_new(struct event_base *base, int fd,
                                   const sip_txn_handlers_t *handlers, void *arg);
/* Destroys every live transaction without calling handlers. */
void sip_txn_layer_destroy(sip_txn_layer_t **self_p);

/* The transport under the layer (owned by the layer). */
sip_transport_t *sip_txn_layer_transport(sip_txn_layer_t *self);

/* Timer T1 (default 500 ms); tests shorten it. T2 = 8*T1... as RFC 3261. */
void sip_txn_layer_set_t1(sip_txn_layer_t *self, int t1_ms);

/* Run the transaction timers on `clock` (borrowed, td_clock.h; NULL: the
 * layer's own, on the event base) - a test's fake clock. Only while no
 * transaction exists (else ignored). */
struct td_clock;
void sip_txn_layer_set_clock(sip_txn_layer_t *self, struct td_clock *clock);

/* Feed one datagram as if it arrived on the socket (the read callback uses
 * this too). Malformed input: a request that can be parsed far enough gets
 * 400 (with a reason phrase naming the problem; 416 for a Request-URI
 * scheme the parser cannot take, see sip_raw.h), anything else is dropped
 * and counted. A request whose CSeq method differs from its own goes to the
 * TU like any other (it answers 501 or 400); only such an ACK is dropped.
 * Returns 0 if handled, -1 if dropped. */
int sip_txn_layer_input(sip_txn_layer_t *self, const char *buf, size_t len,
                        const struct sockaddr_in *from);

/* Send a message outside any transaction (ACK for 2xx, stateless replies).
 * Borrowed. Returns 0 or -1. */
int sip_txn_layer_send(sip_txn_layer_t *self, osip_message_t *msg,
                       const struct sockaddr_in *to);

/* Our address toward `to`, for Via and Contact: the socket's own when it is
 * bound to one address; on a 0.0.0.0 bind the source the kernel's routing
 * picks for that destination (each interface's own address toward the peers
 * behind it), looked up once and cached per destination IP (O(1), 64 slots,
 * refreshed after a minute); 127.0.0.1 when there is no route. The port is
 * the listener's of the transport requests to `to` would take when their
 * URI names none (sip_transport_choose: the UDP socket's, or the TCP/TLS
 * listener's). This is the one source-address cache, in sip_transport: the
 * layer's Via filling and the TU's Contacts use it alike. */
void sip_txn_layer_local_addr(sip_txn_layer_t *self, const struct sockaddr_in *to,
                              struct sockaddr_in *out);

/* NAT (chan_sip's nat= in [general], externaddr/localnet): with force_rport
 * every request's top Via is treated as if it carried ";rport" (received and
 * rport are filled in and responses go to the source address and port);
 * remap (NULL: none) may replace our address toward `to` after the kernel's
 * choice, for Via and every sip_txn_layer_local_addr caller. */
void sip_txn_layer_set_nat(sip_txn_layer_t *self, int force_rport,
                           void (*remap)(void *arg, const struct sockaddr_in *to,
                                         struct sockaddr_in *inout), void *arg);

typedef struct {
    unsigned long rx, tx, dropped, bad_requests, retransmits, live;
    unsigned long shed;        /* new INVITEs answered 503 by admission control */
    unsigned long shed_acks;   /* ACKs to those 503s, dropped */
    unsigned long capped;      /* new requests answered 503: max_transactions reached */
} sip_txn_stats_t;
void sip_txn_layer_stats(sip_txn_layer_t *self, sip_txn_stats_t *out);
/* Messages by method and code (sip_counts.h), for metrics; borrowed for the
 * layer's life. */
const sip_counts_t *sip_txn_layer_counts(const sip_txn_layer_t *self);

/* Admission control (sip_load.h): admit is asked about every new
 * dialog-creating INVITE (no To tag, and not a retransmission of a live
 * transaction) before a transaction is made for it; it returns 0 to let it
 * in, or the seconds of Retry-After for a stateless 503 that sheds it, with
 * no transaction and no allocation. A simple datagram (sip_raw_head) is
 * decided before it is parsed at all; any other after parsing. The ACK to
 * such a 503 is recognised by its To tag and dropped. NULL: no control. */
void sip_txn_layer_set_admit(sip_txn_layer_t *self, int (*admit)(void *arg), void *arg);
/* A cap on live transactions (tandem.conf [security] max_transactions=; 0:
 * none), so a flood of distinct branches cannot grow memory without bound
 * (issue 12): at the cap a new request gets a stateless 503 with
 * Retry-After: 5 (its ACK is dropped, as a shed INVITE's), is counted in
 * stats.capped and logged at most once a minute; retransmissions of live
 * transactions and responses go on as ever. */
void sip_txn_layer_set_max(sip_txn_layer_t *self, size_t max);

/* Screening (sip_ban.h, sip_core.c's s_screen_*): `source` is asked about
 * every datagram before it is parsed, and returns 1 to drop it unread (a
 * banned source under ban_action=drop; counted in dropped); `request` about
 * every new request but ACK (one no transaction absorbs) before a
 * transaction is made for it: 0 lets it in, 403 answers it statelessly
 * ("403 Forbidden"), -1 drops it. Either may be NULL. */
typedef struct {
    int (*source)(void *arg, const struct sockaddr_in *from);
    int (*request)(void *arg, osip_message_t *req, const struct sockaddr_in *from);
} sip_txn_screen_t;
void sip_txn_layer_set_screen(sip_txn_layer_t *self, const sip_txn_screen_t *screen, void *arg);

/* Server side: send a response on txn (provisional or final), taking
 * ownership. It is retransmitted as RFC 3261 says: a non-2xx final on IST
 * until ACK (Timer G/H); a 2xx on IST every T1..T2 until sip_txn_acked()
 * or 64*T1 (then on_ack_timeout); NIST resends its last response to every
 * retransmitted request until Timer J. Returns 0 or -1. */
int sip_txn_respond(sip_txn_t *txn, osip_message_t **resp);

/* Build a response to txn's request with this status (To-tag added when
 * to_tag is not NULL and the To has none; Via, From, To, Call-ID, CSeq
 * copied). Returns a new message the caller owns, or NULL. */
osip_message_t *sip_txn_make_response(sip_txn_t *txn, int status, const char *to_tag);
/* The same, sent at once: sip_txn_make_response + sip_txn_respond. */
int sip_txn_reply(sip_txn_t *txn, int status, const char *to_tag);

/* The TU saw the ACK for the 2xx sent on this IST: stop retransmitting. */
void sip_txn_acked(sip_txn_t *txn);

/* For a CANCEL request: the INVITE server transaction it cancels (same
 * branch, section 9.2), or NULL. */
sip_txn_t *sip_txn_find_invite(sip_txn_layer_t *self, osip_message_t *cancel);

/* Client side: send a request (taking ownership) to `to` in a new client
 * transaction. The request must carry a top Via whose branch starts with
 * "z9hG4bK" (use sip_txn_branch()); the layer fills in the Via's host and
 * port with the socket's own address when they are empty or "0.0.0.0".
 * Returns the transaction (owned by the layer) or NULL. */
sip_txn_t *sip_txn_request(sip_txn_layer_t *self, osip_message_t **req,
                           const struct sockaddr_in *to, void *owner);

/* CANCEL an INVITE client transaction (section 9.1): builds the CANCEL from
 * the INVITE and sends it in its own NICT. If no provisional has arrived yet
 * the CANCEL is held until one does, as 9.1 says. Returns 0 or -1. */
int sip_txn_cancel(sip_txn_t *invite);

/* A fresh branch "z9hG4bK<stamp><random>" in buf (at least 48 bytes); the
 * stamp is the same for every branch of this process. */
char *sip_txn_branch(char *buf, size_t len);

/* A server transaction whose sender turned out to be a nat=force_rport peer
 * (chan_sip's copy_via_headers): when its top Via had no ";rport", add
 * rport=<src's port> (received is there when the address differed) and send
 * its responses to src, the packet's source. */
void sip_txn_force_rport(sip_txn_t *txn, const struct sockaddr_in *src);

/* Accessors (borrowed). The request is kept for the transaction's life. */
sip_txn_kind_t sip_txn_kind(const sip_txn_t *txn);
osip_message_t *sip_txn_request_msg(sip_txn_t *txn);
const struct sockaddr_in *sip_txn_peer(const sip_txn_t *txn);  /* where responses/requests go */
sip_tp_t sip_txn_transport(const sip_txn_t *txn);  /* the transport it came in or went out on */
void *sip_txn_owner(const sip_txn_t *txn);
void sip_txn_set_owner(sip_txn_t *txn, void *owner);
int sip_txn_last_status(const sip_txn_t *txn);   /* last response sent/received, 0 if none */

#endif
