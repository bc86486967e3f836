/* rtp_strict - which source a side's RTP (and RTCP) is taken from: strict
 * RTP, as Asterisk 20's res_rtp_asterisk (rtp.conf strictrtp=, probation=),
 * against RTP Bleed (AST-2017-005: anyone spraying the port range takes over
 * live audio).
 *
 * One rtp_strict_t per side, in the session. States, as Asterisk's:
 *   OPEN    strictrtp=no: every source is accepted (the old behaviour).
 *   LEARN   after the session opens, and whenever its SDP names an address
 *           other than the locked source (a re-INVITE, a new offer;
 *           Asterisk's ast_rtp_remote_address_set). Packets from the SDP's
 *           address are taken at once (Asterisk's "requested target"). While
 *           no source is known, any other source may qualify with a run of
 *           `probation` packets in sequence (with strictrtp=yes spread over
 *           at least (probation-1)*9-5 ms, Asterisk's flood check; seqno
 *           checks the sequence only); competing streams break each other's
 *           runs. Once a source is known, only the SDP's address or the
 *           rebinding rule below replace it (Asterisk also lets any stream
 *           that qualifies replace a source gone silent in the window: a
 *           phone with silence suppression let a sprayer in that way). What
 *           does not qualify is dropped. The window closes on the first
 *           packet more than RTP_STRICT_LEARN_MS after it opened, once a
 *           source is known.
 *   CLOSED  only the learned source is accepted, except NAT rebinding (below).
 *
 * NAT rebinding once a source is known (the rule, not Asterisk's: Asterisk 20
 * drops every other source once CLOSED, "an attacker could manage to get an
 * RTCP packet redirected to them which can contain the SSRC"; rtpengine's
 * endpoint learning likewise follows a new address only on its heuristics /
 * handover flag). Here a new source may take over after the lock only when
 * its packets carry the locked stream's SSRC, its first sequence number is
 * just ahead of the locked stream's (1..RTP_STRICT_SEQ_AHEAD), it then sends
 * a full probation run (the same time check), and the locked source stays
 * silent meanwhile: any packet from the locked source cancels the candidate,
 * so an attacker who learned the SSRC cannot take a stream that is still
 * flowing. A phone whose NAT rebinds stops sending from the old address, so
 * it is followed after `probation` packets (~100 ms of audio dropped).
 *
 * RTCP (rtp_strict_rtcp): as Asterisk's ast_rtcp_interpret, RTCP is not
 * locked by address (RFC 3605: a NAT may give it another address) but by
 * SSRC: once the side's RTP SSRC is known, a compound packet whose first
 * report (SR/RR) names another sender is dropped; before that, RTCP passes
 * but may not move the latched address (Asterisk's ssrc_seen). Packets from
 * the address the worker sends the side's RTCP to always pass.
 *
 * O(1) per packet, no allocation: a few compares on the header. */
#ifndef RTP_STRICT_H
#define RTP_STRICT_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

typedef enum {
    RTP_STRICT_NO = 0,      /* strictrtp=no */
    RTP_STRICT_YES = 1,     /* strictrtp=yes: sequence and time (Asterisk 20's default) */
    RTP_STRICT_SEQNO = 2,   /* strictrtp=seqno: sequence only */
} rtp_strict_mode_t;

#define RTP_STRICT_PROBATION_DEFAULT 4      /* Asterisk's DEFAULT_LEARNING_MIN_SEQUENTIAL */
#define RTP_STRICT_LEARN_MS 5000            /* Asterisk's STRICT_RTP_LEARN_TIMEOUT */
#define RTP_STRICT_SEQ_AHEAD 100            /* rebinding: how far ahead the first seq may be */

typedef enum { RTP_STRICT_OPEN = 0, RTP_STRICT_LEARN, RTP_STRICT_CLOSED } rtp_strict_state_t;

/* What to do with a packet. */
typedef enum {
    RTP_STRICT_ACCEPT = 0,  /* from the source */
    RTP_STRICT_NEW,         /* accepted, and its sender is now the source */
    RTP_STRICT_PASS,        /* RTCP: accepted, but its address is not to be latched */
    RTP_STRICT_DROP,        /* not from the source: drop it (and count it) */
} rtp_strict_verdict_t;

typedef struct {
    uint8_t mode;               /* rtp_strict_mode_t */
    uint8_t state;              /* rtp_strict_state_t */
    uint8_t has_source, has_target, has_proposed, has_ssrc;
    uint16_t probation;         /* packets in sequence to qualify a new source */
    uint16_t min_ms;            /* strictrtp=yes: the least a run may take */
    struct sockaddr_in source;  /* the learned source */
    struct sockaddr_in target;  /* the SDP's address */
    struct sockaddr_in proposed;/* a source qualifying */
    uint32_t ssrc;              /* the source's SSRC (its last accepted packet's) */
    uint16_t seq;               /* the source's highest sequence number */
    uint16_t max_seq;           /* learning: the last sequence number seen */
    int32_t packets;            /* learning: packets still to go */
    uint64_t start_ms;          /* when learning started */
    uint64_t run_ms;            /* when the qualifying run started (0: not yet) */
} rtp_strict_t;

/* A side at session open: learning (OPEN with RTP_STRICT_NO). probation < 2
 * means the default. */
void rtp_strict_init(rtp_strict_t *self, rtp_strict_mode_t mode, unsigned probation,
                     uint64_t now_ms);
/* The side's SDP names addr: learning starts again unless addr is the
 * learned source. */
void rtp_strict_target(rtp_strict_t *self, const struct sockaddr_in *addr, uint64_t now_ms);
/* An RTP packet (plain: after SRTP) of len bytes from src. */
rtp_strict_verdict_t rtp_strict_rtp(rtp_strict_t *self, const struct sockaddr_in *src,
                                    const uint8_t *pkt, size_t len, uint64_t now_ms);
/* An RTCP packet from src for the side whose RTP self watches; remote: where
 * the side's RTCP is sent (NULL: unknown). RTP_STRICT_ACCEPT (its address
 * may be latched), RTP_STRICT_PASS (relay it, latch nothing) or
 * RTP_STRICT_DROP. */
rtp_strict_verdict_t rtp_strict_rtcp(const rtp_strict_t *self, const struct sockaddr_in *src,
                                     const struct sockaddr_in *remote, const uint8_t *pkt,
                                     size_t len);

/* "yes" (any true word), "seqno", else no: Asterisk's reading of strictrtp=. */
rtp_strict_mode_t rtp_strict_mode_parse(const char *value);
const char *rtp_strict_mode_name(rtp_strict_mode_t mode);

#endif
