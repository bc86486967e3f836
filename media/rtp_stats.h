/* rtp_stats - what one side of a session says about the quality of its call:
 * the relay's own view of the RTP it receives from the side's phone, and
 * what the phone's RTCP reports say about the RTP it receives from us.
 *
 * Received RTP (rtp_stats_rtp, per packet, no allocation, a few dozen
 * instructions):
 *   - loss: RFC 3550 appendix A.1/A.3. The extended highest sequence number
 *     (16-bit sequence plus 65536 per wrap) minus the first one, plus one,
 *     is what was expected; expected minus received is lost (negative with
 *     duplicates). A jump of MAX_DROPOUT or more is taken as a restart of
 *     the sender only when the next packet follows it (A.1's bad_seq); a
 *     packet up to MAX_MISORDER behind the highest is a late one (counted
 *     received, it fills its hole). A new SSRC (another phone, a re-INVITE
 *     toward someone else) starts a new stream: the old one's expected and
 *     received are kept in the totals.
 *   - jitter: RFC 3550 A.8, in timestamp units scaled by 16, from the
 *     arrival time in the payload clock (8000 Hz for G.711; rtp_stats_set_clock
 *     for others). Only packets with `audio` set count (telephone-event
 *     packets repeat their timestamp and would look like jitter).
 *
 * RTCP from the phone (rtp_stats_rtcp): SR and RR report blocks (RFC 3550
 * 6.4). The block about the stream we send it (its SSRC is `ssrc`, the
 * other side's sender), or else the first one, gives the far end's fraction
 * lost, cumulative lost and jitter. An SR's NTP middle bits and arrival
 * time are kept, so that when the other side's phone reports on that SR
 * (LSR/DLSR) the round trip from the relay to that phone is known:
 * rtp_stats_rtt. Malformed compound packets are counted and ignored.
 *
 * MOS (rtp_stats_mos): a simplified ITU-T G.107 E-model; see rtp_stats.c. */
#ifndef RTP_STATS_H
#define RTP_STATS_H

#include <stddef.h>
#include <stdint.h>

#define RTP_STATS_MAX_DROPOUT  3000
#define RTP_STATS_MAX_MISORDER 100

typedef struct {
    /* RTP received (after SRTP unprotect) */
    uint32_t clock_hz;          /* payload clock; 8000 by default */
    uint32_t ssrc;              /* of the stream counted now */
    uint8_t started;            /* a packet of ssrc was seen */
    uint8_t jitter_started;     /* transit holds a value */
    uint16_t max_seq;           /* highest sequence seen */
    uint32_t cycles;            /* 65536 per wrap of max_seq */
    uint32_t base_seq;          /* first sequence of the stream */
    uint32_t bad_seq;           /* the sequence that would confirm a jump (A.1) */
    uint64_t received;          /* packets of this stream (also late ones) */
    uint64_t expected_done;     /* of the streams before this one */
    uint64_t received_done;
    uint32_t transit;           /* last arrival - timestamp, clock units */
    uint32_t jitter;            /* RFC 3550 A.8: clock units * 16 */
    uint32_t jitter_max;        /* the highest jitter seen (same units) */
    uint64_t packets;           /* RTP packets looked at (also bad ones) */
    uint64_t sent;              /* RTP packets sent to this phone (the session counts) */
    /* RTCP from the phone */
    uint64_t rtcp_packets;      /* compound packets received */
    uint64_t rtcp_bad;          /* malformed ones (ignored) */
    uint8_t far_valid;          /* a report block was read */
    uint8_t far_fraction;       /* fraction lost of its last interval, /256 */
    int32_t far_lost;           /* cumulative lost it reports (24-bit signed) */
    uint32_t far_jitter;        /* its jitter, clock units (not scaled) */
    uint32_t far_lsr, far_dlsr; /* its LSR and DLSR (1/65536 s) */
    uint32_t far_at;            /* when it came: NTP middle 32 bits of our clock */
    uint32_t sr_ntp;            /* its last SR's NTP middle 32 bits (0: none) */
    uint32_t sr_at;             /* when that SR came, our clock (1/65536 s) */
    uint32_t rtt;               /* relay <-> phone round trip, 1/65536 s; 0 unknown */
} rtp_stats_t;

/* Zero everything; clock 8000 Hz. */
void rtp_stats_init(rtp_stats_t *self);
void rtp_stats_set_clock(rtp_stats_t *self, uint32_t clock_hz);

/* A received RTP packet of len bytes (the header is read; shorter than 12
 * bytes or not version 2: counted in packets only). now_ns: a monotonic
 * clock in nanoseconds. audio: its timestamp advances with the media (not
 * an RFC 4733 event): it counts for jitter. */
void rtp_stats_rtp(rtp_stats_t *self, const uint8_t *pkt, size_t len, uint64_t now_ns,
                   int audio);

/* A received RTCP compound packet. ssrc: the sender whose block we want
 * (the SSRC we relay to this phone; 0: any). now_ns as above. Returns 0, or
 * -1 when malformed (counted in rtcp_bad; what was read before the fault is
 * kept). */
int rtp_stats_rtcp(rtp_stats_t *self, const uint8_t *pkt, size_t len, uint32_t ssrc,
                   uint64_t now_ns);

/* The far end reported on the SR that `sender` (the other side, whose SRs
 * we relayed to this phone) sent: the round trip relay -> phone -> relay.
 * Call after rtp_stats_rtcp on self. */
void rtp_stats_rtt(rtp_stats_t *self, const rtp_stats_t *sender);

/* Totals: expected and lost (lost may be < 0: duplicates). */
uint64_t rtp_stats_expected(const rtp_stats_t *self);
uint64_t rtp_stats_received(const rtp_stats_t *self);
int64_t rtp_stats_lost(const rtp_stats_t *self);
/* Lost over expected, in percent (0 when nothing expected; never < 0). */
double rtp_stats_loss_pct(const rtp_stats_t *self);
/* Interarrival jitter in ms (ours), the far end's in ms, the RTT in ms. */
double rtp_stats_jitter_ms(const rtp_stats_t *self);
double rtp_stats_far_jitter_ms(const rtp_stats_t *self);
double rtp_stats_rtt_ms(const rtp_stats_t *self);

/* The MOS estimate (1.0 .. 4.5) of G.711 with loss_pct % random loss, a
 * jitter of jitter_ms and a round trip of rtt_ms (0 unknown). */
double rtp_stats_mos(double loss_pct, double jitter_ms, double rtt_ms);
/* A side's MOS: the worse direction, the loss and jitter of what we
 * receive from the phone or of what its RTCP says it receives from us (its
 * cumulative loss over what we sent it, as Asterisk's txploss), with the
 * round trip when known. */
double rtp_stats_side_mos(const rtp_stats_t *self);
/* The E-model's R factor for the same (tests, logs). */
double rtp_stats_r(double loss_pct, double jitter_ms, double rtt_ms);

#endif
