/* test_rtp_strict - strict RTP: learning, lock, same-SSRC rebinding, seqno
 * mode, RTCP by SSRC (a clock of our own: milliseconds passed in). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "rtp_strict.h"

static struct sockaddr_in s_addr(const char *ip, uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &sin.sin_addr);
    sin.sin_port = htons(port);
    return sin;
}

static uint8_t s_pkt[172];

static const uint8_t *s_rtp(uint32_t ssrc, uint16_t seq)
{
    memset(s_pkt, 0xff, sizeof s_pkt);
    s_pkt[0] = 0x80;
    s_pkt[1] = 0;
    s_pkt[2] = (uint8_t)(seq >> 8);
    s_pkt[3] = (uint8_t)seq;
    s_pkt[8] = (uint8_t)(ssrc >> 24);
    s_pkt[9] = (uint8_t)(ssrc >> 16);
    s_pkt[10] = (uint8_t)(ssrc >> 8);
    s_pkt[11] = (uint8_t)ssrc;
    return s_pkt;
}

static rtp_strict_verdict_t s_send(rtp_strict_t *st, const struct sockaddr_in *from,
                                   uint32_t ssrc, uint16_t seq, uint64_t now_ms)
{
    return rtp_strict_rtp(st, from, s_rtp(ssrc, seq), sizeof s_pkt, now_ms);
}

/* strictrtp=no: every source, as before. */
static void test_open_accepts_all(void **state)
{
    (void)state;
    rtp_strict_t st;
    struct sockaddr_in a = s_addr("127.0.0.1", 4000), b = s_addr("127.0.0.9", 5000);
    rtp_strict_init(&st, RTP_STRICT_NO, 4, 1000);
    rtp_strict_target(&st, &a, 1000);
    assert_int_equal(s_send(&st, &a, 1, 1, 1000), RTP_STRICT_ACCEPT);
    assert_int_equal(s_send(&st, &b, 2, 77, 1001), RTP_STRICT_ACCEPT);
    assert_int_equal(rtp_strict_rtp(&st, &b, (const uint8_t *)"x", 1, 1002), RTP_STRICT_ACCEPT);
}

/* The SDP's address is taken from its first packet; after the window the
 * lock holds: a foreign source is dropped whatever it sends. */
static void test_target_then_lock(void **state)
{
    (void)state;
    rtp_strict_t st;
    struct sockaddr_in phone = s_addr("127.0.0.1", 4000), evil = s_addr("127.0.0.9", 4000);
    rtp_strict_init(&st, RTP_STRICT_YES, 4, 1000);
    rtp_strict_target(&st, &phone, 1000);
    assert_int_equal(s_send(&st, &phone, 0x1111, 10, 1100), RTP_STRICT_NEW);
    uint64_t t = 1100;
    uint16_t seq = 10;
    /* an attacker in the window, interleaved with the phone: never qualifies */
    for (int i = 0; i < 50; i++) {
        t += 20;
        assert_int_equal(s_send(&st, &phone, 0x1111, ++seq, t), RTP_STRICT_ACCEPT);
        for (int k = 0; k < 3; k++)
            assert_int_equal(s_send(&st, &evil, 0x9999, (uint16_t)(500 + 3 * i + k), t + 5 + k),
                             RTP_STRICT_DROP);
    }
    /* past 5 s: locked */
    t = 7000;
    assert_int_equal(s_send(&st, &phone, 0x1111, ++seq, t), RTP_STRICT_ACCEPT);
    assert_int_equal(st.state, RTP_STRICT_CLOSED);
    for (int i = 0; i < 20; i++)
        assert_int_equal(s_send(&st, &evil, 0x9999, (uint16_t)(1000 + i), t + 20 * i),
                         RTP_STRICT_DROP);
    /* not RTP at all: dropped from a stranger, accepted from the phone */
    assert_int_equal(rtp_strict_rtp(&st, &evil, (const uint8_t *)"\0\0\0\0", 4, t), RTP_STRICT_DROP);
    assert_int_equal(rtp_strict_rtp(&st, &phone, (const uint8_t *)"\0\0\0\0", 4, t),
                     RTP_STRICT_ACCEPT);
    assert_int_equal(s_send(&st, &phone, 0x1111, ++seq, t + 500), RTP_STRICT_ACCEPT);
}

/* The learned source goes silent inside the window (silence suppression,
 * a caller about to re-INVITE): a stranger's well-paced run does not take
 * its place (Asterisk's would), the SDP's address still does. */
static void test_silent_source_in_window(void **state)
{
    (void)state;
    rtp_strict_t st;
    struct sockaddr_in phone = s_addr("127.0.0.1", 4000), evil = s_addr("127.0.0.5", 4000),
                       moved = s_addr("127.0.0.2", 4004);
    rtp_strict_init(&st, RTP_STRICT_YES, 4, 0);
    rtp_strict_target(&st, &phone, 0);
    assert_int_equal(s_send(&st, &phone, 0x1111, 1, 10), RTP_STRICT_NEW);
    assert_int_equal(s_send(&st, &phone, 0x1111, 2, 30), RTP_STRICT_ACCEPT);
    for (int i = 0; i < 100; i++)
        assert_int_equal(s_send(&st, &evil, 0xbad, (uint16_t)(7000 + i), 100 + 20 * (uint64_t)i),
                         RTP_STRICT_DROP);
    assert_int_equal(st.state, RTP_STRICT_LEARN);
    rtp_strict_target(&st, &moved, 2200);
    for (int i = 0; i < 10; i++)
        assert_int_equal(s_send(&st, &evil, 0xbad, (uint16_t)(8000 + i), 2200 + 20 * (uint64_t)i),
                         RTP_STRICT_DROP);
    assert_int_equal(s_send(&st, &moved, 0x1112, 1, 2500), RTP_STRICT_NEW);
}

/* A phone behind NAT (source not its SDP's): learned after a probation run
 * paced like audio; a flood of the same run is not enough (strictrtp=yes). */
static void test_learning_needs_a_paced_run(void **state)
{
    (void)state;
    rtp_strict_t st;
    struct sockaddr_in sdp = s_addr("10.0.0.5", 4000), nat = s_addr("127.0.0.1", 31000);
    rtp_strict_init(&st, RTP_STRICT_YES, 4, 0);
    rtp_strict_target(&st, &sdp, 0);
    /* a burst: 10 packets in sequence within 1 ms never qualifies */
    for (int i = 0; i < 10; i++)
        assert_int_equal(s_send(&st, &nat, 0x2222, (uint16_t)(100 + i), 10), RTP_STRICT_DROP);
    /* a gap restarts the run */
    assert_int_equal(s_send(&st, &nat, 0x2222, 200, 100), RTP_STRICT_DROP);
    /* paced at 20 ms: the first packet and probation more: the 5th is taken */
    uint64_t t = 120;
    int dropped = 0;
    rtp_strict_verdict_t v;
    for (uint16_t seq = 201; (v = s_send(&st, &nat, 0x2222, seq, t)) == RTP_STRICT_DROP; seq++) {
        dropped++;
        t += 20;
        assert_true(dropped < 10);
    }
    assert_int_equal(v, RTP_STRICT_NEW);
    /* 200 restarted the run as its first packet (Asterisk: probation - 1 to
     * go after a gap); 201 and 202 dropped, 203 taken */
    assert_int_equal(dropped, 2);
    assert_int_equal(s_send(&st, &nat, 0x2222, 205, t + 20), RTP_STRICT_ACCEPT);
}

/* strictrtp=seqno: the sequence alone qualifies a source, however fast. */
static void test_seqno_mode(void **state)
{
    (void)state;
    rtp_strict_t st;
    struct sockaddr_in sdp = s_addr("10.0.0.5", 4000), nat = s_addr("127.0.0.1", 31000);
    rtp_strict_init(&st, RTP_STRICT_SEQNO, 3, 0);
    rtp_strict_target(&st, &sdp, 0);
    assert_int_equal(s_send(&st, &nat, 7, 1, 5), RTP_STRICT_DROP);
    assert_int_equal(s_send(&st, &nat, 7, 2, 5), RTP_STRICT_DROP);
    assert_int_equal(s_send(&st, &nat, 7, 9, 5), RTP_STRICT_DROP);   /* gap: again */
    assert_int_equal(s_send(&st, &nat, 7, 10, 5), RTP_STRICT_DROP);
    assert_int_equal(s_send(&st, &nat, 7, 11, 5), RTP_STRICT_NEW);
    assert_int_equal(rtp_strict_mode_parse("seqno"), RTP_STRICT_SEQNO);
    assert_int_equal(rtp_strict_mode_parse("YES"), RTP_STRICT_YES);
    assert_int_equal(rtp_strict_mode_parse("no"), RTP_STRICT_NO);
    assert_int_equal(rtp_strict_mode_parse("bogus"), RTP_STRICT_NO);
}

/* Locked, the phone's NAT rebinds: the new address carries the SSRC and the
 * next sequence numbers, the old address is silent: followed after a run.
 * The same from an attacker while the phone still sends: never. A wrong
 * SSRC or a sequence number far off: never. */
static void test_rebinding_same_ssrc(void **state)
{
    (void)state;
    rtp_strict_t st;
    struct sockaddr_in phone = s_addr("127.0.0.1", 4000), moved = s_addr("127.0.0.1", 4100),
                       evil = s_addr("127.0.0.9", 4000);
    rtp_strict_init(&st, RTP_STRICT_YES, 4, 0);
    rtp_strict_target(&st, &phone, 0);
    uint16_t seq = 65300;         /* it wraps on the way */
    uint64_t t = 0;
    assert_int_equal(s_send(&st, &phone, 0xAB, seq, t), RTP_STRICT_NEW);
    for (t = 20; t <= 6000; t += 20)
        assert_int_equal(s_send(&st, &phone, 0xAB, ++seq, t), RTP_STRICT_ACCEPT);
    assert_int_equal(st.state, RTP_STRICT_CLOSED);

    /* an attacker who knows the SSRC and the sequence, while the phone sends */
    for (int i = 0; i < 100; i++) {
        t += 20;
        assert_int_equal(s_send(&st, &phone, 0xAB, ++seq, t), RTP_STRICT_ACCEPT);
        assert_int_equal(s_send(&st, &evil, 0xAB, (uint16_t)(seq + 1), t + 10), RTP_STRICT_DROP);
    }
    /* the phone goes quiet; wrong SSRC, or a sequence number far ahead, at
     * audio pace: never */
    for (int i = 0; i < 20; i++) {
        t += 20;
        assert_int_equal(s_send(&st, &evil, 0xAC, (uint16_t)(seq + 1 + i), t), RTP_STRICT_DROP);
    }
    for (int i = 0; i < 20; i++) {
        t += 20;
        assert_int_equal(s_send(&st, &evil, 0xAB, (uint16_t)(seq + 5000 + i), t), RTP_STRICT_DROP);
    }
    /* the rebinding itself: 4 dropped, then taken */
    int dropped = 0;
    rtp_strict_verdict_t v;
    while ((v = s_send(&st, &moved, 0xAB, ++seq, t += 20)) == RTP_STRICT_DROP) {
        dropped++;
        assert_true(dropped < 10);
    }
    assert_int_equal(v, RTP_STRICT_NEW);
    assert_int_equal(dropped, 4);
    assert_int_equal(s_send(&st, &moved, 0xAB, ++seq, t += 20), RTP_STRICT_ACCEPT);
    /* the old address is now a stranger */
    assert_int_equal(s_send(&st, &phone, 0xAB, (uint16_t)(seq + 1), t + 1), RTP_STRICT_DROP);
    assert_int_equal(st.state, RTP_STRICT_CLOSED);
}

/* A re-INVITE to a new address: learning again, the new address at once;
 * the old one, and strangers, no longer. The same SDP again changes nothing. */
static void test_new_sdp_address(void **state)
{
    (void)state;
    rtp_strict_t st;
    struct sockaddr_in one = s_addr("127.0.0.1", 4000), two = s_addr("127.0.0.2", 4002),
                       evil = s_addr("127.0.0.9", 4000);
    rtp_strict_init(&st, RTP_STRICT_YES, 4, 0);
    rtp_strict_target(&st, &one, 0);
    assert_int_equal(s_send(&st, &one, 1, 1, 10), RTP_STRICT_NEW);
    assert_int_equal(s_send(&st, &one, 1, 2, 6000), RTP_STRICT_ACCEPT);
    assert_int_equal(st.state, RTP_STRICT_CLOSED);
    rtp_strict_target(&st, &one, 6010);
    assert_int_equal(st.state, RTP_STRICT_CLOSED);
    rtp_strict_target(&st, &two, 6020);
    assert_int_equal(st.state, RTP_STRICT_LEARN);
    assert_int_equal(s_send(&st, &evil, 5, 1, 6030), RTP_STRICT_DROP);
    assert_int_equal(s_send(&st, &two, 9, 100, 6040), RTP_STRICT_NEW);
    assert_int_equal(s_send(&st, &one, 1, 3, 6050), RTP_STRICT_DROP);
    assert_int_equal(s_send(&st, &two, 9, 101, 12000), RTP_STRICT_ACCEPT);
    assert_int_equal(st.state, RTP_STRICT_CLOSED);
}

/* RTCP: by the learned SSRC (SR/RR), or from where its RTCP is sent. */
static void test_rtcp_by_ssrc(void **state)
{
    (void)state;
    rtp_strict_t st;
    struct sockaddr_in phone = s_addr("127.0.0.1", 4000), rtcp = s_addr("127.0.0.1", 4001),
                       nat = s_addr("127.0.0.1", 30001), evil = s_addr("127.0.0.9", 4001);
    uint8_t rr[8] = { 0x80, 201, 0, 1, 0, 0, 0x12, 0x34 };
    rtp_strict_init(&st, RTP_STRICT_YES, 4, 0);
    rtp_strict_target(&st, &phone, 0);
    /* no SSRC yet: relayed, not latched */
    assert_int_equal(rtp_strict_rtcp(&st, &evil, NULL, rr, sizeof rr), RTP_STRICT_PASS);
    assert_int_equal(s_send(&st, &phone, 0x1234, 1, 10), RTP_STRICT_NEW);
    assert_int_equal(rtp_strict_rtcp(&st, &nat, &rtcp, rr, sizeof rr), RTP_STRICT_ACCEPT);
    assert_int_equal(rtp_strict_rtcp(&st, &rtcp, &rtcp, (const uint8_t *)"junk", 4),
                     RTP_STRICT_ACCEPT);
    rr[7] = 0x35;
    assert_int_equal(rtp_strict_rtcp(&st, &evil, &rtcp, rr, sizeof rr), RTP_STRICT_DROP);
    assert_int_equal(rtp_strict_rtcp(&st, &evil, &rtcp, rr, 4), RTP_STRICT_DROP);
    rtp_strict_t open;
    rtp_strict_init(&open, RTP_STRICT_NO, 0, 0);
    assert_int_equal(rtp_strict_rtcp(&open, &evil, &rtcp, rr, sizeof rr), RTP_STRICT_ACCEPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_accepts_all),
        cmocka_unit_test(test_target_then_lock),
        cmocka_unit_test(test_silent_source_in_window),
        cmocka_unit_test(test_learning_needs_a_paced_run),
        cmocka_unit_test(test_seqno_mode),
        cmocka_unit_test(test_rebinding_same_ssrc),
        cmocka_unit_test(test_new_sdp_address),
        cmocka_unit_test(test_rtcp_by_ssrc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
