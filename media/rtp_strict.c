/* rtp_strict - strict RTP source learning; see rtp_strict.h. */
#include "rtp_strict.h"

#include <string.h>
#include <strings.h>

static int s_same(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

/* A new qualifying run starting at seq (Asterisk's rtp_learning_seq_init,
 * itself pjmedia's probation). */
static void s_run_init(rtp_strict_t *self, uint16_t seq)
{
    self->max_seq = seq;
    self->packets = self->probation;
    self->run_ms = 0;
}

/* The next packet of the run: packets still to go, 0 when it qualifies
 * (Asterisk's rtp_learning_rtp_seq_update). A gap starts the run again;
 * with strictrtp=yes a run that took less than min_ms is a flood and starts
 * again too. run_ms is kept +1 so that 0 means "not started". */
static int32_t s_run_update(rtp_strict_t *self, uint16_t seq, uint64_t now_ms)
{
    if (seq == (uint16_t)(self->max_seq + 1)) {
        self->packets--;
    } else {
        self->packets = self->probation - 1;
        self->run_ms = now_ms + 1;
    }
    if (self->mode == RTP_STRICT_YES) {
        if (!self->run_ms) {
            self->run_ms = now_ms + 1;
        } else if (self->packets <= 0 && now_ms + 1 - self->run_ms < self->min_ms) {
            self->packets = self->probation - 1;
            self->run_ms = now_ms + 1;
        }
    }
    self->max_seq = seq;
    return self->packets;
}

/* A packet from the source: its SSRC, and the highest sequence number of it
 * (a late packet does not move it back). */
static void s_seen(rtp_strict_t *self, uint32_t ssrc, uint16_t seq)
{
    if (!self->has_ssrc || ssrc != self->ssrc) {
        self->ssrc = ssrc;
        self->seq = seq;
        self->has_ssrc = 1;
    } else if ((int16_t)(seq - self->seq) > 0) {
        self->seq = seq;
    }
}

/* src becomes the source. */
static void s_take(rtp_strict_t *self, const struct sockaddr_in *src, uint32_t ssrc, uint16_t seq)
{
    self->source = *src;
    self->has_source = 1;
    self->has_proposed = 0;
    self->has_ssrc = 0;
    s_seen(self, ssrc, seq);
    s_run_init(self, seq);
}

void rtp_strict_init(rtp_strict_t *self, rtp_strict_mode_t mode, unsigned probation,
                     uint64_t now_ms)
{
    memset(self, 0, sizeof *self);
    self->mode = (uint8_t)mode;
    if (probation < 2)
        probation = RTP_STRICT_PROBATION_DEFAULT;
    if (probation > 1000)
        probation = 1000;
    self->probation = (uint16_t)probation;
    /* Asterisk's CALC_LEARNING_MIN_DURATION: a packet every 9 ms at least
     * (fast clocks, 10 ms frames), the last one 5 ms early (jitter) */
    self->min_ms = (uint16_t)((probation - 1) * 9 - 5);
    /* Asterisk starts CLOSED and learns once the SDP gives an address; a
     * side here may learn before its SDP (a caller's answer comes late), so
     * it starts learning at once: only a qualified run can be taken. */
    self->state = mode == RTP_STRICT_NO ? RTP_STRICT_OPEN : RTP_STRICT_LEARN;
    self->start_ms = now_ms;
}

void rtp_strict_target(rtp_strict_t *self, const struct sockaddr_in *addr, uint64_t now_ms)
{
    self->target = *addr;
    self->has_target = 1;
    if (self->state == RTP_STRICT_OPEN)
        return;
    /* ast_rtp_remote_address_set: learn anew only when told the source
     * changes to something other than what is locked */
    if (self->has_source && s_same(addr, &self->source))
        return;
    self->state = RTP_STRICT_LEARN;
    self->start_ms = now_ms;
    self->has_proposed = 0;
    s_run_init(self, self->seq);
}

rtp_strict_verdict_t rtp_strict_rtp(rtp_strict_t *self, const struct sockaddr_in *src,
                                    const uint8_t *pkt, size_t len, uint64_t now_ms)
{
    if (self->state == RTP_STRICT_OPEN)
        return RTP_STRICT_ACCEPT;
    int rtp = len >= 12 && (pkt[0] & 0xC0) == 0x80;
    uint16_t seq = rtp ? (uint16_t)((pkt[2] << 8) | pkt[3]) : 0;
    uint32_t ssrc = rtp ? ((uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 |
                           (uint32_t)pkt[10] << 8 | pkt[11]) : 0;

    /* The window closes at the first packet after its time, once a source
     * is known (Asterisk: no source, no lock: one-way audio until a stream
     * qualifies). */
    if (self->state == RTP_STRICT_LEARN && self->has_source &&
        now_ms - self->start_ms > RTP_STRICT_LEARN_MS) {
        self->state = RTP_STRICT_CLOSED;
        self->has_proposed = 0;
    }
    if (self->has_source && s_same(src, &self->source)) {
        if (rtp) {
            s_seen(self, ssrc, seq);
            /* the source is alive: whoever was qualifying starts again
             * (Asterisk resets the counts; competing streams block each
             * other) */
            self->has_proposed = 0;
            s_run_init(self, seq);
        }
        return RTP_STRICT_ACCEPT;
    }
    if (!rtp)
        return RTP_STRICT_DROP;        /* not RTP, and not from the source */

    /* the SDP's address is preferred while learning: taken from its first
     * packet (a re-INVITE's new address, at once) */
    if (self->state == RTP_STRICT_LEARN && self->has_target && s_same(src, &self->target)) {
        s_take(self, src, ssrc, seq);
        return RTP_STRICT_NEW;
    }
    if (self->state == RTP_STRICT_LEARN && !self->has_source) {
        if (self->has_proposed && s_same(src, &self->proposed)) {
            if (s_run_update(self, seq, now_ms) <= 0) {
                s_take(self, src, ssrc, seq);
                return RTP_STRICT_NEW;
            }
            return RTP_STRICT_DROP;
        }
        /* an attack, or the start of the stream we wait for */
        self->proposed = *src;
        self->has_proposed = 1;
        s_run_init(self, seq);
        return RTP_STRICT_DROP;
    }

    /* A source is known (locked, or learned in this window): only NAT
     * rebinding of the phone itself (rtp_strict.h): the locked SSRC, a
     * sequence number just ahead of the locked stream's, then a probation
     * run with the locked source silent. Asterisk, while learning, lets any
     * stream that qualifies replace a source gone silent; a phone with
     * silence suppression (or between a caller's last packet and its
     * re-INVITE) goes silent, and that let a sprayer in (tests/sip/rtp_strict):
     * not here. */
    if (!self->has_ssrc || ssrc != self->ssrc)
        return RTP_STRICT_DROP;
    /* the candidate's run goes on only in sequence: a jump must be just
     * ahead of the locked stream again, or it is dropped */
    if (self->has_proposed && s_same(src, &self->proposed) &&
        seq == (uint16_t)(self->max_seq + 1)) {
        if (s_run_update(self, seq, now_ms) <= 0) {
            s_take(self, src, ssrc, seq);
            return RTP_STRICT_NEW;
        }
        return RTP_STRICT_DROP;
    }
    uint16_t ahead = (uint16_t)(seq - self->seq);
    if (ahead >= 1 && ahead <= RTP_STRICT_SEQ_AHEAD) {
        self->proposed = *src;
        self->has_proposed = 1;
        s_run_init(self, seq);
    }
    return RTP_STRICT_DROP;
}

rtp_strict_verdict_t rtp_strict_rtcp(const rtp_strict_t *self, const struct sockaddr_in *src,
                                     const struct sockaddr_in *remote, const uint8_t *pkt,
                                     size_t len)
{
    if (self->state == RTP_STRICT_OPEN)
        return RTP_STRICT_ACCEPT;
    if (remote && s_same(src, remote))
        return RTP_STRICT_ACCEPT;
    if (!self->has_ssrc)
        return RTP_STRICT_PASS;      /* Asterisk: processed, ssrc_seen stays 0 */
    if (len >= 8 && (pkt[0] & 0xC0) == 0x80 && (pkt[1] == 200 || pkt[1] == 201)) {
        uint32_t ssrc = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 |
                        (uint32_t)pkt[6] << 8 | pkt[7];
        if (ssrc == self->ssrc)
            return RTP_STRICT_ACCEPT;
    }
    return RTP_STRICT_DROP;
}

rtp_strict_mode_t rtp_strict_mode_parse(const char *value)
{
    /* ast_true()'s words, then "seqno"; anything else is no */
    static const char *const yes[] = { "yes", "true", "y", "t", "1", "on" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcasecmp(value, yes[i]) == 0)
            return RTP_STRICT_YES;
    if (strcasecmp(value, "seqno") == 0)
        return RTP_STRICT_SEQNO;
    return RTP_STRICT_NO;
}

const char *rtp_strict_mode_name(rtp_strict_mode_t mode)
{
    switch (mode) {
    case RTP_STRICT_YES: return "yes";
    case RTP_STRICT_SEQNO: return "seqno";
    case RTP_STRICT_NO: break;
    }
    return "no";
}
