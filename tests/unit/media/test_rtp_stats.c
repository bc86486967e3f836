/* test_rtp_stats - loss by extended sequence numbers (wrap, reordering,
 * duplicates, restarts, new SSRC), RFC 3550 A.8 jitter, RTCP SR/RR report
 * blocks (and malformed ones), the round trip from LSR/DLSR, and the MOS
 * formula. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rtp_stats.h"

#define MS 1000000ull                  /* ns */
#define T0 (1000ull * 1000000000ull)   /* a monotonic clock at 1000 s */

static size_t s_rtp(uint8_t *p, uint16_t seq, uint32_t ts, uint32_t ssrc, int pt)
{
    memset(p, 0, 172);
    p[0] = 0x80;
    p[1] = (uint8_t)pt;
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    p[4] = (uint8_t)(ts >> 24);
    p[5] = (uint8_t)(ts >> 16);
    p[6] = (uint8_t)(ts >> 8);
    p[7] = (uint8_t)ts;
    p[8] = (uint8_t)(ssrc >> 24);
    p[9] = (uint8_t)(ssrc >> 16);
    p[10] = (uint8_t)(ssrc >> 8);
    p[11] = (uint8_t)ssrc;
    return 172;
}

/* Packet k of a 20 ms stream from seq0, arriving on time plus late_ms. */
static void s_feed(rtp_stats_t *st, uint16_t seq0, uint32_t k, uint32_t ssrc, double late_ms)
{
    uint8_t p[172];
    size_t n = s_rtp(p, (uint16_t)(seq0 + k), 1000u + 160u * k, ssrc, 0);
    rtp_stats_rtp(st, p, n, T0 + k * 20 * MS + (uint64_t)(late_ms * MS), 1);
}

static void test_no_loss(void **state)
{
    (void)state;
    rtp_stats_t st;
    rtp_stats_init(&st);
    for (uint32_t k = 0; k < 500; k++)
        s_feed(&st, 100, k, 7, 0);
    assert_int_equal(rtp_stats_expected(&st), 500);
    assert_int_equal(rtp_stats_received(&st), 500);
    assert_int_equal(rtp_stats_lost(&st), 0);
    assert_true(rtp_stats_loss_pct(&st) == 0.0);
    assert_true(rtp_stats_jitter_ms(&st) < 0.2);
}

static void test_loss_across_wrap(void **state)
{
    (void)state;
    rtp_stats_t st;
    rtp_stats_init(&st);
    /* 65000 .. 65535, 0 .. 963: 1500 packets, every 10th dropped */
    for (uint32_t k = 0; k < 1500; k++)
        if (k % 10 != 5)
            s_feed(&st, 65000, k, 7, 0);
    assert_int_equal(st.cycles, 65536);
    assert_int_equal(rtp_stats_expected(&st), 1500);
    assert_int_equal(rtp_stats_lost(&st), 150);
    assert_true(rtp_stats_loss_pct(&st) > 9.5 && rtp_stats_loss_pct(&st) < 10.5);
}

static void test_reordering_and_duplicates(void **state)
{
    (void)state;
    rtp_stats_t st;
    rtp_stats_init(&st);
    uint8_t p[172];
    /* 10, 12, 11, 13, 13 (a duplicate), 15: 14 is lost, 11 late */
    const uint16_t seqs[] = { 10, 12, 11, 13, 13, 15 };
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++)
        rtp_stats_rtp(&st, p, s_rtp(p, seqs[i], seqs[i] * 160u, 9, 0), T0 + i * 20 * MS, 1);
    assert_int_equal(rtp_stats_expected(&st), 6);
    assert_int_equal(rtp_stats_received(&st), 6);
    assert_int_equal(rtp_stats_lost(&st), 0);    /* the duplicate hides the loss (RFC 3550) */
    /* late across the wrap: 65535 after 0 is late, not a new cycle */
    rtp_stats_init(&st);
    rtp_stats_rtp(&st, p, s_rtp(p, 65534, 0, 9, 0), T0, 1);
    rtp_stats_rtp(&st, p, s_rtp(p, 0, 320, 9, 0), T0 + 40 * MS, 1);
    rtp_stats_rtp(&st, p, s_rtp(p, 65535, 160, 9, 0), T0 + 41 * MS, 1);
    rtp_stats_rtp(&st, p, s_rtp(p, 1, 480, 9, 0), T0 + 60 * MS, 1);
    assert_int_equal(st.cycles, 65536);
    assert_int_equal(rtp_stats_expected(&st), 4);
    assert_int_equal(rtp_stats_lost(&st), 0);
}

static void test_jump_and_restart(void **state)
{
    (void)state;
    rtp_stats_t st;
    rtp_stats_init(&st);
    uint8_t p[172];
    for (uint16_t s = 0; s < 10; s++)
        rtp_stats_rtp(&st, p, s_rtp(p, s, s * 160u, 5, 0), T0 + s * 20 * MS, 1);
    /* one stray packet far ahead: ignored */
    rtp_stats_rtp(&st, p, s_rtp(p, 30000, 0, 5, 0), T0 + 200 * MS, 1);
    rtp_stats_rtp(&st, p, s_rtp(p, 10, 1600, 5, 0), T0 + 220 * MS, 1);
    assert_int_equal(rtp_stats_expected(&st), 11);
    assert_int_equal(rtp_stats_lost(&st), 0);
    /* two in a row far ahead: the sender restarted; counts go on from there */
    rtp_stats_rtp(&st, p, s_rtp(p, 40000, 0, 5, 0), T0 + 240 * MS, 1);
    rtp_stats_rtp(&st, p, s_rtp(p, 40001, 160, 5, 0), T0 + 260 * MS, 1);
    rtp_stats_rtp(&st, p, s_rtp(p, 40003, 480, 5, 0), T0 + 300 * MS, 1);
    assert_int_equal(rtp_stats_expected(&st), 11 + 3);
    assert_int_equal(rtp_stats_lost(&st), 1);
    /* a new SSRC: a new stream, the totals kept */
    rtp_stats_rtp(&st, p, s_rtp(p, 7, 0, 6, 0), T0 + 320 * MS, 1);
    rtp_stats_rtp(&st, p, s_rtp(p, 9, 320, 6, 0), T0 + 360 * MS, 1);
    assert_int_equal(rtp_stats_expected(&st), 14 + 3);
    assert_int_equal(rtp_stats_lost(&st), 2);
    /* not RTP: counted as a packet, nothing else */
    uint64_t before = rtp_stats_expected(&st);
    rtp_stats_rtp(&st, p, 11, T0, 1);
    p[0] = 0x40;
    rtp_stats_rtp(&st, p, 172, T0, 1);
    assert_int_equal(rtp_stats_expected(&st), before);
    assert_int_equal(st.packets, 10 + 2 + 3 + 2 + 2);
}

static void test_jitter(void **state)
{
    (void)state;
    rtp_stats_t st;
    rtp_stats_init(&st);
    /* every other packet 10 ms late: |D| is 10 ms (80 units) each time, so
     * J converges to 80 units = 10 ms */
    for (uint32_t k = 0; k < 400; k++)
        s_feed(&st, 1, k, 3, (k & 1) ? 10.0 : 0.0);
    double j = rtp_stats_jitter_ms(&st);
    assert_true(j > 9.5 && j < 10.5);
    assert_true(st.jitter_max >= st.jitter);
    /* events do not count for jitter */
    rtp_stats_t ev;
    rtp_stats_init(&ev);
    uint8_t p[172];
    for (uint32_t k = 0; k < 50; k++)
        rtp_stats_rtp(&ev, p, s_rtp(p, (uint16_t)k, 5000, 4, 101), T0 + k * 20 * MS, 0);
    assert_true(rtp_stats_jitter_ms(&ev) == 0.0);
    assert_int_equal(rtp_stats_lost(&ev), 0);
    /* a 16 kHz clock: the same 10 ms lateness is 160 units, still 10 ms */
    rtp_stats_t wide;
    rtp_stats_init(&wide);
    rtp_stats_set_clock(&wide, 16000);
    for (uint32_t k = 0; k < 400; k++) {
        size_t n = s_rtp(p, (uint16_t)k, 320u * k, 3, 0);
        rtp_stats_rtp(&wide, p, n, T0 + k * 20 * MS + ((k & 1) ? 10 * MS : 0), 1);
    }
    j = rtp_stats_jitter_ms(&wide);
    assert_true(j > 9.5 && j < 10.5);
}

/* An RTCP header: version 2, count, type, length in words - 1. */
static uint8_t *s_hdr(uint8_t *p, int count, int pt, size_t bytes)
{
    p[0] = (uint8_t)(0x80 | count);
    p[1] = (uint8_t)pt;
    p[2] = (uint8_t)((bytes / 4 - 1) >> 8);
    p[3] = (uint8_t)(bytes / 4 - 1);
    return p;
}

static void s_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void s_blk(uint8_t *b, uint32_t ssrc, uint8_t fraction, int32_t lost, uint32_t jitter,
                  uint32_t lsr, uint32_t dlsr)
{
    s_put32(b, ssrc);
    s_put32(b + 4, (uint32_t)lost & 0xFFFFFF);
    b[4] = fraction;
    s_put32(b + 8, 70000);
    s_put32(b + 12, jitter);
    s_put32(b + 16, lsr);
    s_put32(b + 20, dlsr);
}

static void test_rtcp_rr_and_sr(void **state)
{
    (void)state;
    rtp_stats_t st;
    rtp_stats_init(&st);
    uint8_t p[256];
    memset(p, 0, sizeof p);
    /* RR with two blocks; the one about SSRC 0x22 is ours */
    s_hdr(p, 2, 201, 8 + 48);
    s_blk(p + 8, 0x11, 200, 999, 1, 0, 0);
    s_blk(p + 32, 0x22, 25, 42, 160, 0, 0);
    /* then an SDES (ignored) */
    s_hdr(p + 56, 1, 202, 12);
    assert_int_equal(rtp_stats_rtcp(&st, p, 68, 0x22, T0), 0);
    assert_int_equal(st.far_valid, 1);
    assert_int_equal(st.far_fraction, 25);
    assert_int_equal(st.far_lost, 42);
    assert_int_equal(st.far_jitter, 160);
    assert_true(rtp_stats_far_jitter_ms(&st) > 19.9 && rtp_stats_far_jitter_ms(&st) < 20.1);
    /* no SSRC wanted: the first block; negative cumulative loss (duplicates) */
    s_blk(p + 8, 0x11, 0, -3, 8, 0, 0);
    assert_int_equal(rtp_stats_rtcp(&st, p, 68, 0, T0), 0);
    assert_int_equal(st.far_lost, -3);
    /* SR without blocks: its NTP middle bits are kept */
    memset(p, 0, sizeof p);
    s_hdr(p, 0, 200, 28);
    s_put32(p + 4, 0x33);
    s_put32(p + 8, 0xAAAA1234);      /* NTP seconds */
    s_put32(p + 12, 0x5678BBBB);     /* NTP fraction */
    assert_int_equal(rtp_stats_rtcp(&st, p, 28, 0, T0), 0);
    assert_int_equal(st.sr_ntp, 0x12345678);
    assert_int_equal(st.rtcp_packets, 3);
    assert_int_equal(st.rtcp_bad, 0);
}

static void test_rtcp_malformed(void **state)
{
    (void)state;
    rtp_stats_t st;
    rtp_stats_init(&st);
    uint8_t p[128];
    memset(p, 0, sizeof p);
    /* too short */
    assert_int_equal(rtp_stats_rtcp(&st, p, 4, 0, T0), -1);
    /* wrong version */
    s_hdr(p, 0, 201, 8);
    p[0] = 0x40;
    assert_int_equal(rtp_stats_rtcp(&st, p, 8, 0, T0), -1);
    /* length past the end */
    s_hdr(p, 1, 201, 32);
    assert_int_equal(rtp_stats_rtcp(&st, p, 20, 0, T0), -1);
    /* more blocks than its length holds */
    s_hdr(p, 3, 201, 32);
    assert_int_equal(rtp_stats_rtcp(&st, p, 32, 0, T0), -1);
    /* a trailing fragment after a good RR: the RR is kept, the packet is bad */
    s_hdr(p, 1, 201, 32);
    s_blk(p + 8, 1, 7, 5, 80, 0, 0);
    assert_int_equal(rtp_stats_rtcp(&st, p, 34, 0, T0), -1);
    assert_int_equal(st.far_fraction, 7);
    assert_int_equal(st.rtcp_bad, 5);
    assert_int_equal(st.rtcp_packets, 5);
    /* SR shorter than its sender info */
    s_hdr(p, 0, 200, 20);
    assert_int_equal(rtp_stats_rtcp(&st, p, 20, 0, T0), -1);
}

static void test_rtt(void **state)
{
    (void)state;
    rtp_stats_t a, b;
    rtp_stats_init(&a);
    rtp_stats_init(&b);
    uint8_t p[64];
    memset(p, 0, sizeof p);
    /* A's phone sends an SR at T0 (relayed to B at once) */
    s_hdr(p, 0, 200, 28);
    s_put32(p + 8, 0x00010002);
    s_put32(p + 12, 0x00030000);
    rtp_stats_rtcp(&a, p, 28, 0, T0);
    assert_int_equal(a.sr_ntp, 0x00020003);
    /* B reports on it 300 ms later, having held it 250 ms: RTT 50 ms */
    s_hdr(p, 1, 201, 32);
    s_blk(p + 8, 0x99, 0, 0, 0, 0x00020003, 250u * 65536u / 1000u);
    rtp_stats_rtcp(&b, p, 32, 0x99, T0 + 300 * MS);
    rtp_stats_rtt(&b, &a);
    assert_true(rtp_stats_rtt_ms(&b) > 49.0 && rtp_stats_rtt_ms(&b) < 51.0);
    /* a report on another SR changes nothing */
    s_blk(p + 8, 0x99, 0, 0, 0, 0x7777, 0);
    rtp_stats_rtcp(&b, p, 32, 0x99, T0 + 900 * MS);
    rtp_stats_rtt(&b, &a);
    assert_true(rtp_stats_rtt_ms(&b) > 49.0 && rtp_stats_rtt_ms(&b) < 51.0);
}

static void test_mos(void **state)
{
    (void)state;
    /* the values in rtp_stats.c's comment */
    assert_true(rtp_stats_r(0, 0, 0) > 92.71 && rtp_stats_r(0, 0, 0) < 92.73);
    assert_true(rtp_stats_mos(0, 0, 0) > 4.39 && rtp_stats_mos(0, 0, 0) < 4.41);
    assert_true(rtp_stats_mos(1, 0, 0) > 4.31 && rtp_stats_mos(1, 0, 0) < 4.32);
    assert_true(rtp_stats_mos(5, 0, 0) > 3.89 && rtp_stats_mos(5, 0, 0) < 3.91);
    assert_true(rtp_stats_mos(10, 0, 0) > 3.38 && rtp_stats_mos(10, 0, 0) < 3.40);
    assert_true(rtp_stats_mos(0, 0, 400) > 4.13 && rtp_stats_mos(0, 0, 400) < 4.15);
    /* worse with jitter and delay; bounded */
    assert_true(rtp_stats_mos(1, 30, 0) < rtp_stats_mos(1, 0, 0));
    assert_true(rtp_stats_mos(100, 500, 2000) == 1.0);
    assert_true(rtp_stats_mos(-5, 0, 0) == rtp_stats_mos(0, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_loss),
        cmocka_unit_test(test_loss_across_wrap),
        cmocka_unit_test(test_reordering_and_duplicates),
        cmocka_unit_test(test_jump_and_restart),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_rtcp_rr_and_sr),
        cmocka_unit_test(test_rtcp_malformed),
        cmocka_unit_test(test_rtt),
        cmocka_unit_test(test_mos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
