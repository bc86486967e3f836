/* rtp_stats - RTP/RTCP quality arithmetic of one side; see rtp_stats.h. */
#include "rtp_stats.h"

#include <string.h>

#define SEQ_MOD 65536u

static uint32_t s_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* now in 1/65536 s (the unit of RTCP's LSR and DLSR), mod 2^32 */
static uint32_t s_q16(uint64_t now_ns)
{
    uint64_t sec = now_ns / 1000000000u, ns = now_ns % 1000000000u;
    return (uint32_t)((sec << 16) + (ns << 16) / 1000000000u);
}

void rtp_stats_init(rtp_stats_t *self)
{
    memset(self, 0, sizeof *self);
    self->clock_hz = 8000;
}

void rtp_stats_set_clock(rtp_stats_t *self, uint32_t clock_hz)
{
    if (clock_hz && clock_hz != self->clock_hz) {
        self->clock_hz = clock_hz;
        self->jitter_started = 0;      /* transit was in the old clock */
    }
}

static uint64_t s_expected_now(const rtp_stats_t *self)
{
    if (!self->started)
        return 0;
    return (uint64_t)self->cycles + self->max_seq - self->base_seq + 1;
}

/* A.1 init_seq, keeping what the stream before counted. */
static void s_start(rtp_stats_t *self, uint16_t seq)
{
    self->expected_done += s_expected_now(self);
    self->received_done += self->received;
    self->base_seq = seq;
    self->max_seq = seq;
    self->bad_seq = SEQ_MOD + 1;       /* so seq == bad_seq is false */
    self->cycles = 0;
    self->received = 0;
    self->started = 1;
    self->jitter_started = 0;
}

void rtp_stats_rtp(rtp_stats_t *self, const uint8_t *pkt, size_t len, uint64_t now_ns,
                   int audio)
{
    self->packets++;
    if (len < 12 || (pkt[0] & 0xC0) != 0x80)
        return;
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    uint32_t ts = s_rd32(pkt + 4), ssrc = s_rd32(pkt + 8);

    if (!self->started || ssrc != self->ssrc) {
        self->ssrc = ssrc;
        s_start(self, seq);
    } else {
        uint16_t udelta = (uint16_t)(seq - self->max_seq);
        if (udelta < RTP_STATS_MAX_DROPOUT) {
            if (seq < self->max_seq)
                self->cycles += SEQ_MOD;     /* wrapped */
            self->max_seq = seq;
        } else if (udelta <= SEQ_MOD - RTP_STATS_MAX_MISORDER) {
            if (seq != self->bad_seq) {
                /* a big jump: believe it when the next packet follows it */
                self->bad_seq = (uint16_t)(seq + 1);
                return;
            }
            s_start(self, seq);               /* the sender restarted */
        }
        /* else: a duplicate or a late packet; it is received all the same */
    }
    self->received++;

    if (!audio)
        return;
    /* A.8: arrival in the payload clock, mod 2^32 as the timestamps */
    uint64_t sec = now_ns / 1000000000u, ns = now_ns % 1000000000u;
    uint32_t arrival = (uint32_t)(sec * self->clock_hz + ns * self->clock_hz / 1000000000u);
    uint32_t transit = arrival - ts;
    if (self->jitter_started) {
        int32_t d = (int32_t)(transit - self->transit);
        uint32_t ad = d < 0 ? (uint32_t)-(int64_t)d : (uint32_t)d;
        if (ad < 0x0FFFFFFF) {     /* ignore timestamp jumps that would swamp it */
            self->jitter += ad - ((self->jitter + 8) >> 4);
            if (self->jitter > self->jitter_max)
                self->jitter_max = self->jitter;
        }
    }
    self->transit = transit;
    self->jitter_started = 1;
}

/* One report block (RFC 3550 6.4.1): what the phone says of a stream. */
static void s_block(rtp_stats_t *self, const uint8_t *b, uint32_t at)
{
    self->far_valid = 1;
    self->far_fraction = b[4];
    uint32_t lost = (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
    self->far_lost = (lost & 0x800000) ? (int32_t)(lost | 0xFF000000u) : (int32_t)lost;
    self->far_jitter = s_rd32(b + 12);
    self->far_lsr = s_rd32(b + 16);
    self->far_dlsr = s_rd32(b + 20);
    self->far_at = at;
}

int rtp_stats_rtcp(rtp_stats_t *self, const uint8_t *pkt, size_t len, uint32_t ssrc,
                   uint64_t now_ns)
{
    self->rtcp_packets++;
    uint32_t at = s_q16(now_ns);
    size_t off = 0;
    if (len < 8)
        goto bad;
    while (off < len) {
        const uint8_t *h = pkt + off;
        if (len - off < 4 || (h[0] & 0xC0) != 0x80)
            goto bad;
        size_t plen = 4 * ((size_t)(h[2] << 8 | h[3]) + 1);
        if (plen > len - off)
            goto bad;
        unsigned count = h[0] & 0x1F, pt = h[1];
        size_t first = pt == 200 ? 28 : pt == 201 ? 8 : 0;
        if (first) {
            if (first + 24u * count > plen)
                goto bad;
            if (pt == 200) {
                /* the middle 32 bits of its NTP time: what an RR's LSR names */
                self->sr_ntp = s_rd32(h + 10);
                self->sr_at = at;
            }
            const uint8_t *pick = NULL;
            for (unsigned i = 0; i < count; i++) {
                const uint8_t *b = h + first + 24u * i;
                if (!pick || (ssrc && s_rd32(b) == ssrc))
                    pick = b;
                if (ssrc && s_rd32(b) == ssrc)
                    break;
            }
            if (pick)
                s_block(self, pick, at);
        }
        off += plen;
    }
    return 0;
bad:
    self->rtcp_bad++;
    return -1;
}

void rtp_stats_rtt(rtp_stats_t *self, const rtp_stats_t *sender)
{
    if (!self->far_valid || !self->far_lsr || self->far_lsr != sender->sr_ntp)
        return;
    /* the SR left the relay toward this phone when it arrived from sender */
    uint32_t rtt = self->far_at - sender->sr_at - self->far_dlsr;
    if ((int32_t)rtt > 0 && rtt < (10u << 16))      /* under 10 s: believable */
        self->rtt = rtt;
}

uint64_t rtp_stats_expected(const rtp_stats_t *self)
{
    return self->expected_done + s_expected_now(self);
}

uint64_t rtp_stats_received(const rtp_stats_t *self)
{
    return self->received_done + self->received;
}

int64_t rtp_stats_lost(const rtp_stats_t *self)
{
    return (int64_t)rtp_stats_expected(self) - (int64_t)rtp_stats_received(self);
}

double rtp_stats_loss_pct(const rtp_stats_t *self)
{
    uint64_t expected = rtp_stats_expected(self);
    int64_t lost = rtp_stats_lost(self);
    return expected && lost > 0 ? 100.0 * (double)lost / (double)expected : 0.0;
}

double rtp_stats_jitter_ms(const rtp_stats_t *self)
{
    return self->clock_hz ? (self->jitter / 16.0) * 1000.0 / self->clock_hz : 0.0;
}

double rtp_stats_far_jitter_ms(const rtp_stats_t *self)
{
    return self->clock_hz ? self->far_jitter * 1000.0 / self->clock_hz : 0.0;
}

double rtp_stats_rtt_ms(const rtp_stats_t *self)
{
    return self->rtt * 1000.0 / 65536.0;
}

/* A simplified ITU-T G.107 E-model, for G.711 over a packet network (the
 * common VoIP reduction, Cole & Rosenbluth 2001, with G.107's defaults):
 *
 *   R = 93.2 - Id - Ie_eff            (93.2 = Ro - Is with G.107's default
 *                                      values; advantage factor A = 0)
 *   Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)      H(x) = 1 for x >= 0, else 0
 *        d: one-way mouth-to-ear delay in ms = RTT / 2 (from RTCP, 0 when
 *        unknown) + 2 x jitter (a jitter buffer twice the interarrival
 *        jitter) + 20 ms (one G.711 packet of 20 ms)
 *   Ie_eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl)
 *        G.711: Ie = 0; Bpl = 25.1 (G.113 appendix I: G.711 with packet
 *        loss concealment, which phones do); BurstR = 1 (random loss);
 *        Ppl: packet loss in percent
 *   MOS = 1                                         R <= 0
 *         1 + 0.035 R + R (R - 60)(100 - R) 7e-6    0 < R < 100
 *         4.5                                       R >= 100
 *
 * No loss and no jitter give R 92.7, MOS 4.40; 1 % loss MOS 4.32, 5 % 3.90,
 * 10 % 3.39; a 400 ms round trip alone 4.14. */
double rtp_stats_r(double loss_pct, double jitter_ms, double rtt_ms)
{
    if (loss_pct < 0)
        loss_pct = 0;
    if (loss_pct > 100)
        loss_pct = 100;
    double d = rtt_ms / 2.0 + 2.0 * jitter_ms + 20.0;
    double id = 0.024 * d + (d >= 177.3 ? 0.11 * (d - 177.3) : 0.0);
    const double ie = 0.0, bpl = 25.1, burst_r = 1.0;
    double ie_eff = ie + (95.0 - ie) * loss_pct / (loss_pct / burst_r + bpl);
    return 93.2 - id - ie_eff;
}

double rtp_stats_mos(double loss_pct, double jitter_ms, double rtt_ms)
{
    double r = rtp_stats_r(loss_pct, jitter_ms, rtt_ms);
    if (r <= 0)
        return 1.0;
    if (r >= 100)
        return 4.5;
    return 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6;
}

double rtp_stats_side_mos(const rtp_stats_t *self)
{
    double loss = rtp_stats_loss_pct(self), jitter = rtp_stats_jitter_ms(self);
    if (self->far_valid) {
        double far = self->sent && self->far_lost > 0
                   ? 100.0 * self->far_lost / (double)self->sent : 0.0;
        if (far > loss)
            loss = far;
        if (rtp_stats_far_jitter_ms(self) > jitter)
            jitter = rtp_stats_far_jitter_ms(self);
    }
    return rtp_stats_mos(loss, jitter, rtp_stats_rtt_ms(self));
}
