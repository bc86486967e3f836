/* session - one call's media: two sides, each an RTP and an RTCP socket.
 *
 * Side A faces the caller, side B the callee. In RELAY mode a packet that
 * arrives on A's RTP socket leaves from B's RTP socket to B's remote address,
 * and the other way round; RTCP the same on the RTCP sockets. In ECHO mode
 * RTP that arrives on A goes back, unchanged, to where it came from (the
 * integration tests recognise their own SSRC and sequence numbers); RTCP and
 * anything on B is dropped: reflected reports would only confuse the phone.
 *
 * Symmetric RTP (comedia, session_set_symmetric): a side's sockets latch
 * onto the source address of the packets they receive, so replies go where
 * the phone really is (behind NAT, say), whatever its SDP said. Other sides
 * are sent to at their SDP address, as Asterisk does without nat=comedia; a
 * packet sets it only while no SDP has. Until a side's address is known -
 * from its SDP or from a packet - what would be sent to it is dropped and
 * counted.
 *
 * Codecs: each side has the G.711 law its phone chose and its telephone-event
 * payload type. When the sides differ, RTP relayed from one to the other is
 * rewritten in the receive buffer: audio of the sender's law goes through a
 * 256-byte table to the receiver's and takes its payload type; events take
 * the receiver's event payload type; anything else passes as it is. Until
 * the callee answers, its packets are converted by their own payload type
 * (the worker offered it both laws). When the sides agree, packets pass
 * untouched, at the cost of one test.
 *
 * SRTP (SDES): a side whose SDP carried a usable a=crypto line is secure
 * (sdes.h): what arrives on it is unprotected (SRTP/SRTCP) before anything
 * else looks at it, and what leaves toward it is protected last, so a call
 * between an SRTP phone and a plain one bridges, and Echo and the IVR work
 * on either. A packet that fails authentication or is a replay is dropped
 * and counted (srtp_failed) and does not move the latched address.
 *
 * Strict RTP (rtp.conf strictrtp=, probation=; rtp_strict.h): each side
 * learns the source of its RTP after the session opens and whenever its SDP
 * names a new address, then locks onto it; packets from other sources are
 * dropped and counted (strict_dropped) before anything else looks at them,
 * so they neither reach the other side nor move a latched address. Its RTCP
 * is taken only with the learned stream's SSRC. Symmetric RTP (comedia)
 * then latches onto the learned source only.
 *
 * The hot path allocates nothing: one receive buffer per process, a bounded
 * number of datagrams per readable callback. */
#ifndef SESSION_H
#define SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <event2/event.h>

#include "port_pool.h"
#include "rtp_stats.h"
#include "rtp_strict.h"
#include "sdp.h"

typedef struct session session_t;
typedef struct ivr ivr_t;

typedef enum { SESSION_A = 0, SESSION_B = 1 } session_side_t;
typedef enum { SESSION_RELAY = 0, SESSION_ECHO = 1 } session_mode_t;

/* Datagrams handled per readable callback before yielding to the loop. */
#define SESSION_BURST 32

typedef struct {
    uint64_t rx_packets, rx_bytes;   /* received on this side's sockets */
    uint64_t tx_packets, tx_bytes;   /* sent from this side's sockets */
    uint64_t dropped;                /* received here, no destination (or send failed) */
    uint64_t relatches;              /* source address changed */
    uint64_t transcoded;             /* received here, rewritten for the other side */
    uint64_t srtp_failed;            /* received here, failed SRTP authentication or
                                      * replay check (also counted in dropped) */
    uint64_t strict_dropped;         /* received here from a source other than the
                                      * learned one (strict RTP; also in dropped) */
} session_stats_t;

/* Open a session for call_id (copied): two port pairs from pool bound to
 * bind_addr, read events on base. Returns NULL and a negative errno in *err
 * (-ENOSPC: no free port pair). The pool must outlive the session. */
session_t *session_new(struct event_base *base, port_pool_t *pool,
                       const struct in_addr *bind_addr, const char *call_id, int *err);
/* Strict RTP for both sides (rtp.conf; RTP_STRICT_NO, the default of a new
 * session, accepts every source): learning starts now. Call it right after
 * session_new, before any SDP. */
void session_set_strict(session_t *self, rtp_strict_mode_t mode, unsigned probation);
/* Close the sockets and give the ports back. */
void session_destroy(session_t **self_p);

const char *session_call_id(const session_t *self);
/* The RTP port of a side (RTCP is one above). */
uint16_t session_port(const session_t *self, session_side_t side);

/* What a side's SDP says: where to send to it until its packets say
 * otherwise. A held (0.0.0.0) or refused (port 0) stream leaves the address
 * as it was. */
void session_set_remote(session_t *self, session_side_t side, const sdp_media_t *media);

/* comedia for a side (off by default): its RTP and RTCP go to where its
 * packets come from, whatever its SDP says (symmetric RTP). Off, a packet
 * sets the address only while no SDP has given one. */
void session_set_symmetric(session_t *self, session_side_t side, int on);

/* The law (0 PCMU, 8 PCMA) a side's phone sends and expects, and its
 * telephone-event payload type (-1: none negotiated). */
void session_set_codec(session_t *self, session_side_t side, int pt, int dtmf_pt);
/* A side's law (0, 8; -1 unknown) and event payload type (-1 none). */
int session_codec(const session_t *self, session_side_t side);
int session_dtmf_pt(const session_t *self, session_side_t side);

/* A re-offer (re-INVITE) from one side waiting for the other side's
 * answer: what the offerer asked for, applied only once the other side
 * accepts. `answer` is the offerer's answer before its o= and direction are
 * set (malloc'd: a re-INVITE is rare; freed with the session or when done). */
typedef struct {
    int active;
    session_side_t side;       /* who offered */
    sdp_media_t media;         /* its offer */
    int codec;                 /* the law chosen for it */
    int no_answer;             /* it gets no SDP back: its o= version stays */
    char *answer;
} session_reoffer_t;

session_reoffer_t *session_reoffer(session_t *self);
/* Forget the pending re-offer (frees its answer). */
void session_reoffer_clear(session_t *self);

/* Whether relayed RTP is converted: both sides' codecs are known and differ
 * (in law or event payload type). */
int session_transcodes(const session_t *self);

/* Attach the call's IVR state (ownership taken, *ivr_p nulled; a previous
 * one is destroyed). The session hands it every RTP packet from the caller
 * and holds back audio toward the caller while it plays. */
void session_set_ivr(session_t *self, ivr_t **ivr_p);
ivr_t *session_ivr(session_t *self);
/* Send a packet of our own to the caller from the caller-facing RTP socket.
 * Returns 0, or -1 if the caller's address is not known yet or send failed. */
int session_send_caller(session_t *self, const void *pkt, size_t len);

/* Whether RTP may be sent toward a side (its negotiated direction lets it
 * receive; RFC 3264 section 8.4: hold). Off, what would go there (relayed,
 * echoed or played) is dropped; RTCP still flows. On by default. */
void session_set_send(session_t *self, session_side_t side, int on);
int session_sends(const session_t *self, session_side_t side);
/* The o= line the worker last sent to a side (its owner keeps it current). */
sdp_origin_t *session_origin(session_t *self, session_side_t side);

/* The worker's SRTP master key for a side (SDP_CRYPTO_KEY_LEN bytes, made
 * at the first call from the CSPRNG, kept for the session), or NULL if no
 * key can be made. */
const uint8_t *session_srtp_key(session_t *self, session_side_t side);
/* The side is secure with the suite and key of its a=crypto (remote), or
 * plain (NULL). 0, or -1 (no SRTP context could be made: the side is plain). */
int session_set_srtp(session_t *self, session_side_t side, const sdp_crypto_t *remote);
/* 0 if a side is plain, else its suite's tag length (80 or 32). */
int session_srtp(const session_t *self, session_side_t side);

void session_set_mode(session_t *self, session_mode_t mode);
session_mode_t session_mode(const session_t *self);

/* Counters of a side (borrowed while the session lives). */
const session_stats_t *session_stats(const session_t *self, session_side_t side);
/* Quality of a side (borrowed while the session lives): loss and jitter of
 * the RTP its phone sends, counted after SRTP unprotect, and what its phone's
 * RTCP reports say of the RTP it receives (rtp_stats.h). */
const rtp_stats_t *session_quality(const session_t *self, session_side_t side);
/* Where a side's RTP goes (its SDP or latched address): 0, or -1 unknown. */
int session_remote(const session_t *self, session_side_t side, struct sockaddr_in *out);

/* Housekeeping for the owner. session_idle_check() is called once a tick:
 * it returns how many checks in a row saw no packet arrive on any socket
 * (0 when something arrived since the last one). The epoch is a number the
 * owner stamps on the session (the worker: its count of router losses). */
uint32_t session_idle_check(session_t *self);

/* sip.conf's rtptimeout / rtpholdtimeout for a side whose phone is up
 * (seconds; 0 none), counted from now. */
void session_set_rtp_timeout(session_t *self, session_side_t side, uint32_t timeout_s,
                             uint32_t hold_s);
/* Called about once a second with a monotonic clock in seconds: the side
 * (0, 1) whose phone has sent nothing for longer than its timeout (its hold
 * timeout while its last SDP holds the call; chan_sip's check_rtp_timeout),
 * with the silence in *silent_s; that side's timeouts are then off. -1 when
 * none. A packet received or an SDP applied restarts the count. */
int session_rtp_timed_out(session_t *self, uint32_t now_s, uint32_t *silent_s);
void session_set_epoch(session_t *self, uint32_t epoch);
uint32_t session_epoch(const session_t *self);
/* The router that owns the session's call (the last one that spoke about
 * it): where the worker's own reports about it go. Borrowed: the bus's
 * string, valid for the bus's life (td_bus_peer_name). NULL: not known. */
void session_set_router(session_t *self, const char *router);
const char *session_router(const session_t *self);

#endif
