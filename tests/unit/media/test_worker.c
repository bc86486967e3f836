/* test_worker - the media worker end to end on 127.0.0.1: requests arrive
 * through the bus fake, RTP flows between real UDP sockets standing in for
 * the caller (A) and the callee (B). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <event2/buffer.h>

#include "g711.h"
#include "media_metrics.h"
#include "sdp.h"
#include "sdes.h"
#include "session.h"
#include "td_bus_fake.h"
#include "td_log.h"
#include "worker.h"

#define PAIRS 8                 /* port pairs in the test range: 4 calls */

typedef struct {
    struct event_base *base;
    worker_t *worker;
    uint16_t rtp_start;
} fixture_t;

/* Our own 16 ports, below Linux's ephemeral range (32768+). */
static uint16_t s_range_start(void)
{
    return (uint16_t)(21016 + (getpid() % 300) * 32);
}

/* strictrtp for the next worker (setup): no, but for test_strict_* */
static rtp_strict_mode_t s_strict = RTP_STRICT_NO;

static int setup(void **state)
{
    static fixture_t fx;
    memset(&fx, 0, sizeof fx);
    fx.base = event_base_new();
    fx.rtp_start = s_range_start();
    td_settings_t settings;
    memset(&settings, 0, sizeof settings);
    snprintf(settings.identity, sizeof settings.identity, "media-test");
    snprintf(settings.endpoint, sizeof settings.endpoint, "inproc://test");
    snprintf(settings.media_address, sizeof settings.media_address, "127.0.0.1");
    settings.capacity = 100;
    /* strictrtp=no: these tests send from wherever they like; the strict
     * ones set it on themselves (test_strict_*) */
    rtp_conf_t rtp = { fx.rtp_start, (uint16_t)(fx.rtp_start + 2 * PAIRS - 1), s_strict, 0 };
    fx.worker = worker_new(fx.base, &settings, &rtp);
    if (!fx.base || !fx.worker)
        return -1;
    *state = &fx;
    return 0;
}

static int setup_strict(void **state)
{
    s_strict = RTP_STRICT_YES;
    int rc = setup(state);
    s_strict = RTP_STRICT_NO;
    return rc;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    worker_destroy(&fx->worker);
    assert_null(fx->worker);
    /* Every session's events went with it. */
    assert_int_equal(event_base_get_num_events(fx->base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(fx->base);
    td_bus_fake_reset();
    return 0;
}

/* --- test peers -------------------------------------------------------- */

static int s_udp(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    *port = ntohs(sin.sin_port);
    return fd;
}

static int s_can_bind(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int ok = bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
    close(fd);
    return ok;
}

static void s_send(int fd, uint16_t to_port, const void *buf, size_t len)
{
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(to_port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len);
}

/* Run the loop until fd has a datagram (or give up); returns its length and
 * the port it came from. Waits in poll(), never sleeps blindly. */
static ssize_t s_recv(fixture_t *fx, int fd, void *buf, size_t len, uint16_t *from_port)
{
    for (int i = 0; i < 100; i++) {
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
        struct sockaddr_in src;
        socklen_t srclen = sizeof src;
        ssize_t n = recvfrom(fd, buf, len, 0, (struct sockaddr *)&src, &srclen);
        if (n >= 0) {
            if (from_port)
                *from_port = ntohs(src.sin_port);
            return n;
        }
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        poll(&pfd, 1, 5);
    }
    return -1;
}

/* Run the loop a few times; fd must have received nothing. */
static void s_expect_silence(fixture_t *fx, int fd)
{
    char buf[2048];
    for (int i = 0; i < 5; i++)
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    poll(&pfd, 1, 20);
    event_base_loop(fx->base, EVLOOP_NONBLOCK);
    assert_int_equal(recv(fd, buf, sizeof buf, 0), -1);
}

/* An RTP packet: version 2, payload type 0, the given SSRC, 160 bytes. */
static size_t s_rtp(unsigned char *pkt, uint32_t ssrc, uint16_t seq)
{
    memset(pkt, 0xd5, 172);
    pkt[0] = 0x80;
    pkt[1] = 0;
    pkt[2] = (unsigned char)(seq >> 8);
    pkt[3] = (unsigned char)seq;
    memset(pkt + 4, 0, 4);
    pkt[8] = (unsigned char)(ssrc >> 24);
    pkt[9] = (unsigned char)(ssrc >> 16);
    pkt[10] = (unsigned char)(ssrc >> 8);
    pkt[11] = (unsigned char)ssrc;
    return 172;
}

/* --- bus requests ------------------------------------------------------ */

static const char *s_sdp(char *buf, size_t len, uint16_t port, const char *extra)
{
    snprintf(buf, len,
             "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio %u RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
             "a=rtpmap:101 telephone-event/8000\r\n%s", port, extra ? extra : "");
    return buf;
}

static void s_deliver(fixture_t *fx, const char *call_id, uint32_t leg, int body_case, void *msg)
{
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.call_id = (char *)call_id;
    env.leg = leg;
    env.body_case = body_case;
    switch (body_case) {
    case TANDEM__ENVELOPE__BODY_MEDIA_OFFER: env.media_offer = msg; break;
    case TANDEM__ENVELOPE__BODY_MEDIA_ANSWER: env.media_answer = msg; break;
    case TANDEM__ENVELOPE__BODY_MEDIA_ECHO: env.media_echo = msg; break;
    case TANDEM__ENVELOPE__BODY_MEDIA_RELEASE: env.media_release = msg; break;
    case TANDEM__ENVELOPE__BODY_MEDIA_REOFFER: env.media_reoffer = msg; break;
    case TANDEM__ENVELOPE__BODY_MEDIA_REANSWER: env.media_reanswer = msg; break;
    case TANDEM__ENVELOPE__BODY_MEDIA_ADOPT: env.media_adopt = msg; break;
    default: fail();
    }
    td_bus_fake_deliver(worker_bus(fx->worker), "router", &env);
}

static int s_comedia;            /* MediaOffer/MediaAnswer's comedia for the next ones */

static void s_offer(fixture_t *fx, const char *call_id, const char *sdp)
{
    Tandem__MediaOffer msg = TANDEM__MEDIA_OFFER__INIT;
    msg.sdp = (char *)sdp;
    msg.comedia = s_comedia;
    s_deliver(fx, call_id, 0, TANDEM__ENVELOPE__BODY_MEDIA_OFFER, &msg);
}

static void s_answer(fixture_t *fx, const char *call_id, uint32_t leg, const char *sdp)
{
    Tandem__MediaAnswer msg = TANDEM__MEDIA_ANSWER__INIT;
    msg.sdp = (char *)sdp;
    msg.comedia = s_comedia;
    s_deliver(fx, call_id, leg, TANDEM__ENVELOPE__BODY_MEDIA_ANSWER, &msg);
}

static void s_echo(fixture_t *fx, const char *call_id)
{
    Tandem__MediaEcho msg = TANDEM__MEDIA_ECHO__INIT;
    s_deliver(fx, call_id, 0, TANDEM__ENVELOPE__BODY_MEDIA_ECHO, &msg);
}

static void s_release(fixture_t *fx, const char *call_id)
{
    Tandem__MediaRelease msg = TANDEM__MEDIA_RELEASE__INIT;
    s_deliver(fx, call_id, 0, TANDEM__ENVELOPE__BODY_MEDIA_RELEASE, &msg);
}

/* The port and address an SDP the worker wrote sends audio to. */
static uint16_t s_sdp_port(const char *sdp)
{
    sdp_media_t m;
    char err[128], addr[INET_ADDRSTRLEN];
    if (sdp_parse(sdp, strlen(sdp), &m, err, sizeof err) < 0)
        fail_msg("worker wrote bad SDP: %s\n%s", err, sdp);
    inet_ntop(AF_INET, &m.addr, addr, sizeof addr);
    assert_string_equal(addr, "127.0.0.1");
    return m.port;
}

/* Offer for call_id with the caller at a_port; the worker's two ports. */
static void s_open(fixture_t *fx, const char *call_id, uint16_t a_port,
                   uint16_t *port_a, uint16_t *port_b)
{
    char sdp[512];
    size_t before = td_bus_fake_count();
    s_offer(fx, call_id, s_sdp(sdp, sizeof sdp, a_port, NULL));
    assert_int_equal(td_bus_fake_count(), before + 1);
    const td_bus_fake_sent_t *sent = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_OFFERED);
    assert_non_null(sent);
    assert_ptr_equal(sent, td_bus_fake_get(before));
    assert_string_equal(sent->peer, "router");
    assert_string_equal(sent->env->call_id, call_id);
    assert_int_equal(sent->env->leg, 0);
    *port_a = s_sdp_port(sent->env->media_offered->sdp_caller);
    *port_b = s_sdp_port(sent->env->media_offered->sdp_callee);
    /* The caller's answer: one codec and the offer's telephone-event; the
     * callees' offer: both laws (the caller's first) and telephone-event. */
    assert_non_null(strstr(sent->env->media_offered->sdp_caller, " RTP/AVP 0 101\r\n"));
    assert_non_null(strstr(sent->env->media_offered->sdp_callee, " RTP/AVP 0 8 101\r\n"));
    assert_non_null(strstr(sent->env->media_offered->sdp_callee,
                           "\r\na=rtpmap:101 telephone-event/8000\r\n"));
}

static const Tandem__MediaError *s_last_error(size_t before)
{
    assert_int_equal(td_bus_fake_count(), before + 1);
    const td_bus_fake_sent_t *sent = td_bus_fake_get(before);
    assert_int_equal(sent->env->body_case, TANDEM__ENVELOPE__BODY_MEDIA_ERROR);
    assert_string_equal(sent->peer, "router");
    return sent->env->media_error;
}

/* --- tests ------------------------------------------------------------- */

static void test_call_relays_both_ways(void **state)
{
    fixture_t *fx = *state;
    uint16_t a_port, b_port, b_rtcp_port, a2_port, pa, pb, from;
    int a = s_udp(&a_port), b = s_udp(&b_port), b_rtcp = s_udp(&b_rtcp_port);
    unsigned char pkt[200], got[2048];
    size_t len = s_rtp(pkt, 0x11223344, 1);

    s_comedia = 1;                   /* nat=comedia on both legs: the worker latches */
    s_open(fx, "call-1", a_port, &pa, &pb);
    assert_int_not_equal(pa, pb);
    assert_true(pa >= fx->rtp_start && pa < fx->rtp_start + 2 * PAIRS && pa % 2 == 0);
    assert_true(pb >= fx->rtp_start && pb < fx->rtp_start + 2 * PAIRS && pb % 2 == 0);
    assert_int_equal(worker_session_count(fx->worker), 1);

    /* Before the answer B is unknown: A's packets are dropped and counted. */
    s_send(a, pa, pkt, len);
    s_expect_silence(fx, b);
    const session_stats_t *sa = session_stats(worker_session(fx->worker, "call-1"), SESSION_A);
    const session_stats_t *sb = session_stats(worker_session(fx->worker, "call-1"), SESSION_B);
    assert_int_equal(sa->rx_packets, 1);
    assert_int_equal(sa->dropped, 1);

    /* The callee answers on leg 1, with its RTCP on a port of its own. */
    char sdp[512], rtcp_line[64];
    snprintf(rtcp_line, sizeof rtcp_line, "a=rtcp:%u\r\n", b_rtcp_port);
    s_answer(fx, "call-1", 1, s_sdp(sdp, sizeof sdp, b_port, rtcp_line));
    const td_bus_fake_sent_t *sent = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_ANSWERED);
    assert_non_null(sent);
    assert_string_equal(sent->peer, "router");
    assert_string_equal(sent->env->call_id, "call-1");
    assert_int_equal(sent->env->leg, 1);
    /* The caller's answer was MediaOffered's; the same law both ways. */
    assert_string_equal(sent->env->media_answered->sdp_caller, "");
    assert_false(session_transcodes(worker_session(fx->worker, "call-1")));

    /* A -> worker A port -> out of the worker's B port -> B. */
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, b, got, sizeof got, &from), (ssize_t)len);
    assert_int_equal(from, pb);
    assert_memory_equal(got, pkt, len);
    /* B -> worker B port -> out of the A port -> A. */
    pkt[3] = 2;
    s_send(b, pb, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, &from), (ssize_t)len);
    assert_int_equal(from, pa);
    assert_memory_equal(got, pkt, len);

    /* RTCP: A's RTCP socket latches from its first packet, B's from the SDP. */
    const char rtcp[] = "\x81\xc9\x00\x07rtcp-report-from-a";
    int a_rtcp = s_udp(&a2_port);
    s_send(a_rtcp, pa + 1, rtcp, sizeof rtcp);
    assert_int_equal(s_recv(fx, b_rtcp, got, sizeof got, &from), (ssize_t)sizeof rtcp);
    assert_int_equal(from, pb + 1);
    s_send(b_rtcp, pb + 1, rtcp, sizeof rtcp);
    assert_int_equal(s_recv(fx, a_rtcp, got, sizeof got, &from), (ssize_t)sizeof rtcp);
    assert_int_equal(from, pa + 1);

    /* The caller moves (a NAT rebinding): the worker follows its packets. */
    int a2 = s_udp(&a2_port);
    s_send(a2, pa, pkt, len);
    assert_int_equal(s_recv(fx, b, got, sizeof got, NULL), (ssize_t)len);
    s_send(b, pb, pkt, len);
    assert_int_equal(s_recv(fx, a2, got, sizeof got, &from), (ssize_t)len);
    assert_int_equal(from, pa);
    s_expect_silence(fx, a);
    assert_int_equal(sa->relatches, 1);

    /* Counters: A got 1 dropped + 1 RTP + 1 RTCP + 1 from a2. */
    assert_int_equal(sa->rx_packets, 4);
    assert_int_equal(sa->dropped, 1);
    assert_int_equal(sa->tx_packets, 3);
    assert_int_equal(sb->rx_packets, 3);
    assert_int_equal(sb->tx_packets, 3);
    assert_int_equal(sb->rx_bytes, 2 * len + sizeof rtcp);

    /* The metrics' view: both sides added, two port pairs in use. */
    session_stats_t total;
    uint32_t in_use, pairs;
    worker_rtp_totals(fx->worker, &total);
    assert_int_equal(total.rx_packets, 7);
    assert_int_equal(total.tx_packets, 6);
    assert_int_equal(total.dropped, 1);
    assert_int_equal(total.relatches, 1);
    assert_int_equal(total.rx_bytes, sa->rx_bytes + sb->rx_bytes);
    worker_port_pairs(fx->worker, &in_use, &pairs);
    assert_int_equal(in_use, 2);
    assert_int_equal(pairs, PAIRS);

    s_comedia = 0;
    /* Live quality (tandemctl): every session, or one. */
    Tandem__MediaStatsRequest q = TANDEM__MEDIA_STATS_REQUEST__INIT;
    q.id = 77;
    Tandem__Envelope qe = TANDEM__ENVELOPE__INIT;
    qe.call_id = "";
    qe.body_case = TANDEM__ENVELOPE__BODY_MEDIA_STATS_REQUEST;
    qe.media_stats_request = &q;
    td_bus_fake_deliver(worker_bus(fx->worker), "router", &qe);
    const td_bus_fake_sent_t *st = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_STATS);
    assert_non_null(st);
    assert_int_equal(st->env->media_stats->id, 77);
    assert_false(st->env->media_stats->final);
    assert_int_equal(st->env->media_stats->n_sessions, 1);
    assert_string_equal(st->env->media_stats->sessions[0]->call_id, "call-1");
    /* RTP only: 1 dropped before the answer + 1 relayed + 1 from a2 */
    assert_int_equal(st->env->media_stats->sessions[0]->a->rx_packets, 3);
    qe.call_id = "no-such-call";
    td_bus_fake_deliver(worker_bus(fx->worker), "router", &qe);
    st = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_STATS);
    assert_int_equal(st->env->media_stats->n_sessions, 0);
    /* Release: the session's quality (MediaStats final), ports closed and
     * bindable again. */
    size_t before = td_bus_fake_count();
    s_release(fx, "call-1");
    assert_int_equal(td_bus_fake_count(), before + 1);
    st = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_STATS);
    assert_ptr_equal(st, td_bus_fake_get(before));
    assert_string_equal(st->env->call_id, "call-1");
    assert_true(st->env->media_stats->final);
    assert_int_equal(st->env->media_stats->n_sessions, 1);
    const Tandem__MediaSessionStats *ss = st->env->media_stats->sessions[0];
    assert_int_equal(ss->a->rx_packets, 3);
    assert_int_equal(ss->b->rx_packets, 2);
    assert_int_equal(ss->a->tx_packets, 2);
    assert_int_equal(ss->a->rtcp_packets, 1);
    assert_true(ss->a->mos_x100 > 400 && ss->a->mos_x100 <= 450);
    assert_true(strncmp(ss->b->remote, "127.0.0.1:", 10) == 0);
    before = td_bus_fake_count();
    assert_int_equal(worker_session_count(fx->worker), 0);
    /* The closed session's counters stay in the totals; its ports are free. */
    session_stats_t after;
    worker_rtp_totals(fx->worker, &after);
    assert_memory_equal(&after, &total, sizeof total);
    worker_port_pairs(fx->worker, &in_use, &pairs);
    assert_int_equal(in_use, 0);
    assert_null(worker_session(fx->worker, "call-1"));
    assert_true(s_can_bind(pa) && s_can_bind(pa + 1));
    assert_true(s_can_bind(pb) && s_can_bind(pb + 1));
    /* A second release is harmless and silent. */
    s_release(fx, "call-1");
    assert_int_equal(td_bus_fake_count(), before);

    close(a);
    close(a2);
    close(a_rtcp);
    close(b);
    close(b_rtcp);
}

/* Without comedia (nat=no, or auto_comedia not behind NAT) RTP goes to the
 * SDP's address, wherever packets come from, as res_rtp_asterisk without
 * AST_RTP_PROPERTY_NAT. */
static void test_no_comedia_keeps_sdp_address(void **state)
{
    fixture_t *fx = *state;
    uint16_t a_port, b_port, other_port, pa, pb, from;
    int a = s_udp(&a_port), b = s_udp(&b_port), other = s_udp(&other_port);
    unsigned char pkt[200], got[2048];
    size_t len = s_rtp(pkt, 0x55667788, 1);
    char sdp[512];

    s_open(fx, "call-nc", a_port, &pa, &pb);
    s_answer(fx, "call-nc", 1, s_sdp(sdp, sizeof sdp, b_port, NULL));
    /* The caller sends from another port than its SDP's: B still gets it,
     * and B's answer goes to the SDP port, not to the sender. */
    s_send(other, pa, pkt, len);
    assert_int_equal(s_recv(fx, b, got, sizeof got, NULL), (ssize_t)len);
    s_send(b, pb, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, &from), (ssize_t)len);
    assert_int_equal(from, pa);
    s_expect_silence(fx, other);
    const session_stats_t *sa = session_stats(worker_session(fx->worker, "call-nc"), SESSION_A);
    assert_int_equal(sa->relatches, 0);
    s_release(fx, "call-nc");
    close(a);
    close(b);
    close(other);
}

static void test_echo_reflects_to_caller(void **state)
{
    fixture_t *fx = *state;
    uint16_t a_port, pa, pb, from;
    int a = s_udp(&a_port);
    unsigned char pkt[200], got[2048];
    size_t len = s_rtp(pkt, 0x11223344, 7);

    s_open(fx, "echo-1", a_port, &pa, &pb);
    size_t before = td_bus_fake_count();
    s_echo(fx, "echo-1");
    assert_int_equal(td_bus_fake_count(), before);          /* no reply */
    assert_int_equal(session_mode(worker_session(fx->worker, "echo-1")), SESSION_ECHO);

    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, &from), (ssize_t)len);
    assert_int_equal(from, pa);
    assert_memory_equal(got, pkt, len);                   /* byte for byte */

    /* RTCP is not reflected. */
    const char rtcp[] = "\x81\xc9\x00\x01rtcp";
    s_send(a, pa + 1, rtcp, sizeof rtcp);
    s_expect_silence(fx, a);

    s_release(fx, "echo-1");
    assert_true(s_can_bind(pa) && s_can_bind(pb));
    close(a);
}

static void test_second_offer_same_ports(void **state)
{
    fixture_t *fx = *state;
    uint16_t pa, pb, pa2, pb2;
    s_open(fx, "again", 4000, &pa, &pb);
    s_open(fx, "again", 4002, &pa2, &pb2);
    assert_int_equal(pa, pa2);
    assert_int_equal(pb, pb2);
    assert_int_equal(worker_session_count(fx->worker), 1);
    s_release(fx, "again");
}

static void test_bad_sdp_is_cause_58(void **state)
{
    fixture_t *fx = *state;
    size_t before = td_bus_fake_count();
    s_offer(fx, "bad", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n");
    const Tandem__MediaError *err = s_last_error(before);
    assert_int_equal(err->cause, 58);
    assert_string_equal(err->reason, "bad SDP offer: no c= line for the audio stream");
    assert_string_equal(td_bus_fake_get(before)->env->call_id, "bad");
    assert_int_equal(worker_session_count(fx->worker), 0);

    before = td_bus_fake_count();
    s_offer(fx, "bad", "");
    assert_int_equal(s_last_error(before)->cause, 58);

    /* A bad answer leaves the session as it was. */
    uint16_t pa, pb;
    s_open(fx, "bad-answer", 4000, &pa, &pb);
    before = td_bus_fake_count();
    s_answer(fx, "bad-answer", 1, "v=0\r\nc=IN IP4 1.2.3.4\r\n");
    err = s_last_error(before);
    assert_int_equal(err->cause, 58);
    assert_string_equal(err->reason, "bad SDP answer: no m=audio line");
    assert_int_equal(td_bus_fake_get(before)->env->leg, 1);
    assert_int_equal(worker_session_count(fx->worker), 1);
    s_release(fx, "bad-answer");
}

static void test_unknown_call_is_cause_41(void **state)
{
    fixture_t *fx = *state;
    char sdp[512];
    size_t before = td_bus_fake_count();
    s_answer(fx, "nobody", 1, s_sdp(sdp, sizeof sdp, 4000, NULL));
    assert_int_equal(s_last_error(before)->cause, 41);
    before = td_bus_fake_count();
    s_echo(fx, "nobody");
    assert_int_equal(s_last_error(before)->cause, 41);
    before = td_bus_fake_count();
    s_offer(fx, "", s_sdp(sdp, sizeof sdp, 4000, NULL));
    assert_int_equal(s_last_error(before)->cause, 41);
    assert_int_equal(worker_session_count(fx->worker), 0);
}

static void test_capacity_and_ports_are_cause_34(void **state)
{
    fixture_t *fx = *state;
    char id[16];
    uint16_t pa, pb;
    /* PAIRS pairs make PAIRS/2 calls; the worker says so, whatever tandem.conf says. */
    for (int i = 0; i < PAIRS / 2; i++) {
        snprintf(id, sizeof id, "full-%d", i);
        s_open(fx, id, 4000, &pa, &pb);
    }
    char sdp[512];
    size_t before = td_bus_fake_count();
    s_offer(fx, "one-more", s_sdp(sdp, sizeof sdp, 4000, NULL));
    const Tandem__MediaError *err = s_last_error(before);
    assert_int_equal(err->cause, 34);
    assert_string_equal(err->reason, "over capacity (4 calls)");

    /* Free one call, but let another program hold all the free ports. */
    s_release(fx, "full-0");
    int blockers[PAIRS], n = 0;
    for (int p = 0; p < PAIRS; p++) {
        uint16_t port = (uint16_t)(fx->rtp_start + 2 * p);
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0)
            blockers[n++] = fd;
        else
            close(fd);
    }
    assert_int_equal(n, 2);                     /* the two pairs full-0 gave back */
    before = td_bus_fake_count();
    s_offer(fx, "one-more", s_sdp(sdp, sizeof sdp, 4000, NULL));
    err = s_last_error(before);
    assert_int_equal(err->cause, 34);
    char want[64];
    snprintf(want, sizeof want, "no free RTP port pair in %u-%u", fx->rtp_start,
             fx->rtp_start + 2 * PAIRS - 1);
    assert_string_equal(err->reason, want);
    assert_int_equal(worker_session_count(fx->worker), PAIRS / 2 - 1);

    /* The ports come free: the next offer works. */
    for (int i = 0; i < n; i++)
        close(blockers[i]);
    s_open(fx, "one-more", 4000, &pa, &pb);
    assert_int_equal(worker_session_count(fx->worker), PAIRS / 2);
    /* Teardown closes the calls still open. */
}

/* Run the loop until the session has received `want` packets in all. */
static void s_pump_until_rx(fixture_t *fx, const char *call_id, uint64_t want)
{
    session_t *session = worker_session(fx->worker, call_id);
    for (int i = 0; i < 100; i++) {
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
        if (session_stats(session, SESSION_A)->rx_packets +
            session_stats(session, SESSION_B)->rx_packets >= want)
            return;
        poll(NULL, 0, 2);
    }
    fail_msg("%s never received %llu packets", call_id, (unsigned long long)want);
}

static void test_orphans_closed_after_router_loss(void **state)
{
    fixture_t *fx = *state;
    uint16_t a_port, pa, pb;
    int a = s_udp(&a_port);
    unsigned char pkt[200];
    size_t len = s_rtp(pkt, 1, 1);

    s_open(fx, "quiet", 4000, &pa, &pb);
    s_open(fx, "busy", a_port, &pa, &pb);
    /* Without a router loss, idleness alone closes nothing (calls on hold). */
    for (int i = 0; i < 20; i++)
        worker_tick(fx->worker);
    assert_int_equal(worker_session_count(fx->worker), 2);

    td_bus_fake_peer_down(worker_bus(fx->worker), "router", "router");
    uint16_t pa2, pb2;
    s_open(fx, "after", 4000, &pa2, &pb2);         /* spoken about since: kept */
    size_t before = td_bus_fake_count();
    int ticks_to_close = WORKER_ORPHAN_IDLE_S / WORKER_TICK_S;
    for (int i = 1; i <= ticks_to_close; i++) {
        s_send(a, pa, pkt, len);                    /* "busy" keeps talking */
        s_pump_until_rx(fx, "busy", (uint64_t)i);
        worker_tick(fx->worker);
        if (i < ticks_to_close)
            assert_non_null(worker_session(fx->worker, "quiet"));
    }
    assert_null(worker_session(fx->worker, "quiet"));
    assert_non_null(worker_session(fx->worker, "busy"));
    assert_non_null(worker_session(fx->worker, "after"));
    /* The router hears about it, in case it still knows the call. */
    const Tandem__MediaError *err = s_last_error(before);
    assert_int_equal(err->cause, 41);
    assert_string_equal(td_bus_fake_get(before)->env->call_id, "quiet");
    assert_string_equal(td_bus_fake_get(before)->peer, "router");

    /* "busy" goes quiet too: closed WORKER_ORPHAN_IDLE_S later. */
    for (int i = 0; i < ticks_to_close; i++)
        worker_tick(fx->worker);
    assert_null(worker_session(fx->worker, "busy"));
    assert_int_equal(worker_session_count(fx->worker), 1);
    close(a);
}

/* The router restarted (a new boot in its Hello): it knows none of the
 * sessions, so they all close at once and their ports are free again. */
static void test_router_restart_closes_sessions(void **state)
{
    fixture_t *fx = *state;
    uint16_t pa, pb, pa2, pb2;
    s_open(fx, "one", 4000, &pa, &pb);
    s_open(fx, "two", 4002, &pa2, &pb2);
    assert_int_equal(worker_session_count(fx->worker), 2);
    td_bus_fake_peer_restart(worker_bus(fx->worker), "router", "router", 0);
    assert_int_equal(worker_session_count(fx->worker), 0);
    assert_null(worker_session(fx->worker, "one"));
    /* The ports are back in the pool: PAIRS / 2 new calls fit again. */
    char id[16];
    for (int i = 0; i < PAIRS / 2; i++) {
        snprintf(id, sizeof id, "new-%d", i);
        s_open(fx, id, (uint16_t)(4004 + 2 * i), &pa, &pb);
    }
    assert_int_equal(worker_session_count(fx->worker), PAIRS / 2);
}

/* The caller chose PCMU with events on 101, the callee answers PCMA with
 * events on 96: audio is converted by G.711's law-to-law table both ways
 * with the payload type of the receiver, events take its event type, and
 * RTCP and unknown payload types pass untouched. */
static void test_transcodes_between_laws(void **state)
{
    fixture_t *fx = *state;
    uint16_t a_port, b_port, pa, pb, from;
    int a = s_udp(&a_port), b = s_udp(&b_port);
    unsigned char pkt[200], got[2048];
    const uint8_t *u2a = g711_table(G711_PT_PCMU, G711_PT_PCMA);
    const uint8_t *a2u = g711_table(G711_PT_PCMA, G711_PT_PCMU);

    s_open(fx, "call-x", a_port, &pa, &pb);
    /* Before its answer the callee may send either law it was offered. */
    size_t len = s_rtp(pkt, 0xBBBB0000, 1);
    pkt[1] = 8;
    s_send(b, pb, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, &from), (ssize_t)len);
    assert_int_equal(got[1], 0);
    assert_int_equal(got[12], a2u[0xd5]);
    pkt[1] = 0;
    s_send(b, pb, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, &from), (ssize_t)len);
    assert_memory_equal(got, pkt, len);
    assert_false(session_transcodes(worker_session(fx->worker, "call-x")));

    char sdp[512];
    snprintf(sdp, sizeof sdp,
             "v=0\r\no=callee 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio %u RTP/AVP 8 96\r\na=rtpmap:8 PCMA/8000\r\n"
             "a=rtpmap:96 telephone-event/8000\r\n", b_port);
    s_answer(fx, "call-x", 1, sdp);
    assert_non_null(td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_ANSWERED));
    session_t *session = worker_session(fx->worker, "call-x");
    assert_true(session_transcodes(session));

    /* µ-law from A, every code once (and one CSRC), arrives as A-law at B. */
    len = s_rtp(pkt, 0xAAAA0001, 1);
    pkt[0] = 0x81;                                   /* one CSRC: payload at 16 */
    pkt[1] = 0x80;                                   /* marker, PCMU */
    for (int i = 0; i < 156; i++)
        pkt[16 + i] = (unsigned char)(i * 37 + 11);
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, b, got, sizeof got, &from), (ssize_t)len);
    assert_int_equal(got[1], 0x80 | 8);              /* marker kept, PCMA */
    assert_memory_equal(got + 2, pkt + 2, 14);       /* header and CSRC untouched */
    for (int i = 0; i < 156; i++)
        assert_int_equal(got[16 + i], u2a[pkt[16 + i]]);

    /* A-law from B arrives as µ-law at A, padding left alone. */
    len = s_rtp(pkt, 0xBBBB0001, 1);
    pkt[0] = 0xA0;                                   /* padding: the last 4 bytes */
    pkt[1] = 8;
    pkt[len - 1] = 4;
    s_send(b, pb, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, &from), (ssize_t)len);
    assert_int_equal(got[1], 0);
    for (size_t i = 12; i < len - 4; i++)
        assert_int_equal(got[i], a2u[0xd5]);
    assert_memory_equal(got + len - 4, pkt + len - 4, 4);

    /* A key from A (101) reaches B on 96, and one from B on 101. */
    len = s_rtp(pkt, 0xAAAA0001, 2);
    pkt[1] = 101;
    len = 16;
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, b, got, sizeof got, &from), (ssize_t)len);
    assert_int_equal(got[1], 96);
    assert_int_equal(got[12], 0xd5);                 /* the event itself untouched */
    pkt[1] = 0x80 | 96;
    s_send(b, pb, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, &from), (ssize_t)len);
    assert_int_equal(got[1], 0x80 | 101);

    /* Comfort noise (13) and a short non-RTP datagram pass as they are. */
    pkt[1] = 13;
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, b, got, sizeof got, &from), (ssize_t)len);
    assert_memory_equal(got, pkt, len);
    s_send(a, pa, "\x80\x00", 2);
    assert_int_equal(s_recv(fx, b, got, sizeof got, &from), 2);
    /* A CSRC count longer than the packet: passed, not read past the end. */
    len = s_rtp(pkt, 0xAAAA0001, 3);
    pkt[0] = 0x8F;
    len = 20;
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, b, got, sizeof got, &from), (ssize_t)len);
    assert_memory_equal(got, pkt, len);

    const session_stats_t *sa = session_stats(session, SESSION_A);
    const session_stats_t *sb = session_stats(session, SESSION_B);
    assert_int_equal(sa->transcoded, 2);
    assert_int_equal(sb->transcoded, 3);
    close(a);
    close(b);
}

/* An offer with nothing the caller's allow= list permits is refused with
 * cause 58; allow=alaw,ulaw makes the answer PCMA and the callees' offer
 * PCMA first. */
static void test_offer_follows_the_allow_list(void **state)
{
    fixture_t *fx = *state;
    const char *g729 = "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                       "t=0 0\r\nm=audio 4000 RTP/AVP 18 101\r\na=rtpmap:18 G729/8000\r\n"
                       "a=rtpmap:101 telephone-event/8000\r\n";
    size_t before = td_bus_fake_count();
    s_offer(fx, "g729", g729);
    const Tandem__MediaError *err = s_last_error(before);
    assert_int_equal(err->cause, 58);
    assert_null(worker_session(fx->worker, "g729"));

    const char *both = "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                       "t=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\n"
                       "a=rtpmap:101 telephone-event/8000\r\n";
    Tandem__MediaOffer msg = TANDEM__MEDIA_OFFER__INIT;
    uint32_t codecs[] = { 8, 0 };
    msg.sdp = (char *)both;
    msg.codecs = codecs;
    msg.n_codecs = 2;
    s_deliver(fx, "alaw-first", 0, TANDEM__ENVELOPE__BODY_MEDIA_OFFER, &msg);
    const td_bus_fake_sent_t *sent = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_OFFERED);
    assert_non_null(sent);
    assert_non_null(strstr(sent->env->media_offered->sdp_caller, " RTP/AVP 8 101\r\n"));
    assert_non_null(strstr(sent->env->media_offered->sdp_callee, " RTP/AVP 8 0 101\r\n"));

    /* ulaw only, offered PCMA only: refused. */
    uint32_t ulaw[] = { 0 };
    const char *pcma = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 8\r\n";
    msg.sdp = (char *)pcma;
    msg.codecs = ulaw;
    msg.n_codecs = 1;
    before = td_bus_fake_count();
    s_deliver(fx, "ulaw-only", 0, TANDEM__ENVELOPE__BODY_MEDIA_OFFER, &msg);
    assert_int_equal(s_last_error(before)->cause, 58);

    /* An answer without either law is refused too. */
    before = td_bus_fake_count();
    s_answer(fx, "alaw-first", 1, g729);
    assert_int_equal(s_last_error(before)->cause, 58);
}


/* The last MediaReoffered / MediaReanswered, sent as the one reply. */
static const Tandem__Envelope *s_reply(size_t before, int body_case)
{
    assert_int_equal(td_bus_fake_count(), before + 1);
    const td_bus_fake_sent_t *sent = td_bus_fake_get(before);
    assert_int_equal(sent->env->body_case, body_case);
    return sent->env;
}

static const Tandem__MediaReoffered *s_reoffer(fixture_t *fx, const char *call_id, uint32_t leg,
                                               const char *sdp)
{
    Tandem__MediaReoffer msg = TANDEM__MEDIA_REOFFER__INIT;
    msg.sdp = (char *)sdp;
    size_t before = td_bus_fake_count();
    s_deliver(fx, call_id, leg, TANDEM__ENVELOPE__BODY_MEDIA_REOFFER, &msg);
    const Tandem__Envelope *e = s_reply(before, TANDEM__ENVELOPE__BODY_MEDIA_REOFFERED);
    assert_int_equal(e->leg, leg);
    return e->media_reoffered;
}

static const Tandem__MediaReanswered *s_reanswer(fixture_t *fx, const char *call_id, uint32_t leg,
                                                 uint32_t status, const char *sdp)
{
    Tandem__MediaReanswer msg = TANDEM__MEDIA_REANSWER__INIT;
    msg.status = status;
    msg.sdp = (char *)sdp;
    size_t before = td_bus_fake_count();
    s_deliver(fx, call_id, leg, TANDEM__ENVELOPE__BODY_MEDIA_REANSWER, &msg);
    return s_reply(before, TANDEM__ENVELOPE__BODY_MEDIA_REANSWERED)->media_reanswered;
}

static unsigned long long s_version(const char *sdp)
{
    sdp_origin_t o;
    assert_int_equal(sdp_origin(sdp, strlen(sdp), &o), 0);
    return o.version;
}

/* Hold from the caller (a=sendonly): the callee is offered sendonly, the
 * caller answered recvonly, and RTP toward the caller stops; resume brings
 * it back. A refusal leaves the session as it was. o= versions go up by one
 * per SDP sent on a leg. */
static void test_reoffer_hold_and_resume(void **state)
{
    fixture_t *fx = *state;
    uint16_t a_port, b_port, b2_port, pa, pb, from;
    int a = s_udp(&a_port), b = s_udp(&b_port), b2 = s_udp(&b2_port);
    unsigned char pkt[200], got[2048];
    size_t len = s_rtp(pkt, 0x11223344, 1);
    char sdp[512], sdp2[512];

    s_open(fx, "call-h", a_port, &pa, &pb);
    unsigned long long va = 1, vb;
    {
        const td_bus_fake_sent_t *o = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_OFFERED);
        vb = s_version(o->env->media_offered->sdp_callee);
        assert_int_equal(s_version(o->env->media_offered->sdp_caller), va);
    }
    s_answer(fx, "call-h", 1, s_sdp(sdp, sizeof sdp, b_port, NULL));

    /* hold */
    const Tandem__MediaReoffered *ro = s_reoffer(fx, "call-h", 0,
                                                 s_sdp(sdp, sizeof sdp, a_port, "a=sendonly\r\n"));
    assert_int_equal(ro->status, 200);
    assert_false(ro->final);
    assert_non_null(strstr(ro->sdp, "\r\na=sendonly\r\n"));
    assert_int_equal(s_sdp_port(ro->sdp), pb);                /* the worker's B port */
    assert_int_equal(s_version(ro->sdp), ++vb);
    const Tandem__MediaReanswered *ra = s_reanswer(fx, "call-h", 1, 200,
                                                   s_sdp(sdp2, sizeof sdp2, b_port, "a=recvonly\r\n"));
    assert_int_equal(ra->status, 200);
    assert_non_null(strstr(ra->sdp, "\r\na=recvonly\r\n"));
    assert_int_equal(s_sdp_port(ra->sdp), pa);
    assert_int_equal(s_version(ra->sdp), ++va);
    session_t *ses = worker_session(fx->worker, "call-h");
    assert_false(session_sends(ses, SESSION_A));
    assert_true(session_sends(ses, SESSION_B));
    /* B's audio is held back from A; A's still reaches B */
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, b, got, sizeof got, &from), (ssize_t)len);
    s_send(b, pb, pkt, len);
    s_expect_silence(fx, a);

    /* the callee refuses the next offer: nothing changes */
    ro = s_reoffer(fx, "call-h", 0, s_sdp(sdp, sizeof sdp, a_port, NULL));
    assert_int_equal(ro->status, 200);
    assert_int_equal(s_version(ro->sdp), ++vb);
    ra = s_reanswer(fx, "call-h", 1, 486, "");
    assert_int_equal(ra->status, 486);
    assert_false(session_sends(ses, SESSION_A));

    /* resume, and the callee moves to a new port in its answer */
    ro = s_reoffer(fx, "call-h", 0, s_sdp(sdp, sizeof sdp, a_port, "a=sendrecv\r\n"));
    assert_non_null(strstr(ro->sdp, "\r\na=sendrecv\r\n"));
    ra = s_reanswer(fx, "call-h", 1, 200, s_sdp(sdp2, sizeof sdp2, b2_port, NULL));
    assert_int_equal(ra->status, 200);
    assert_non_null(strstr(ra->sdp, "\r\na=sendrecv\r\n"));
    assert_int_equal(s_version(ra->sdp), ++va);
    assert_true(session_sends(ses, SESSION_A));
    s_send(b2, pb, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, &from), (ssize_t)len);
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, b2, got, sizeof got, &from), (ssize_t)len);

    /* c=0.0.0.0 from the callee: the old hold; the caller is offered sendonly */
    ro = s_reoffer(fx, "call-h", 1,
                   "v=0\r\no=phone 1 5 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
                   "m=audio 4000 RTP/AVP 0\r\n");
    assert_non_null(strstr(ro->sdp, "\r\na=sendonly\r\n"));
    assert_int_equal(s_sdp_port(ro->sdp), pa);
    assert_int_equal(s_version(ro->sdp), va + 1);

    /* a bad offer and an unknown call: refused, nothing pending */
    ro = s_reoffer(fx, "call-h", 0, "v=0\r\nm=video 1 RTP/AVP 31\r\n");
    assert_int_equal(ro->status, 488);
    ro = s_reoffer(fx, "no-call", 0, sdp);
    assert_int_equal(ro->status, 500);
    ra = s_reanswer(fx, "no-call", 1, 200, sdp);
    assert_int_equal(ra->status, 500);
    s_release(fx, "call-h");
    close(a);
    close(b);
    close(b2);
}

/* Echo: one leg; hold is answered at once (final) and stops the echo. */
static void test_reoffer_echo(void **state)
{
    fixture_t *fx = *state;
    uint16_t a_port, pa, pb, from;
    int a = s_udp(&a_port);
    unsigned char pkt[200], got[2048];
    size_t len = s_rtp(pkt, 0x11223344, 1);
    char sdp[512];
    s_open(fx, "call-e", a_port, &pa, &pb);
    s_echo(fx, "call-e");
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, &from), (ssize_t)len);
    const Tandem__MediaReoffered *ro = s_reoffer(fx, "call-e", 0,
                                                 s_sdp(sdp, sizeof sdp, a_port, "a=sendonly\r\n"));
    assert_int_equal(ro->status, 200);
    assert_true(ro->final);
    assert_non_null(strstr(ro->sdp, "\r\na=recvonly\r\n"));
    assert_int_equal(s_sdp_port(ro->sdp), pa);
    assert_int_equal(s_version(ro->sdp), 2);
    s_send(a, pa, pkt, len);
    s_expect_silence(fx, a);
    ro = s_reoffer(fx, "call-e", 0, s_sdp(sdp, sizeof sdp, a_port, NULL));
    assert_non_null(strstr(ro->sdp, "\r\na=sendrecv\r\n"));
    assert_int_equal(s_version(ro->sdp), 3);
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, &from), (ssize_t)len);
    s_release(fx, "call-e");
    close(a);
}

/* A call adopted from a dead worker: each side's moved SDP names this
 * worker's port, keeps the codec list the phone was sent, and has its o=
 * version one up; RTP from each phone is relayed to where the other's last
 * SDP says, before any re-INVITE is answered. */
static void test_adopt_moves_a_bridged_call(void **state)
{
    fixture_t *fx = *state;
    uint16_t a_port, b_port, from;
    int a = s_udp(&a_port), b = s_udp(&b_port);
    unsigned char pkt[200], got[2048];
    size_t len = s_rtp(pkt, 0x55667788, 7);
    char la[512], ra[512], lb[512], rb[512];
    /* what the dead worker had sent (its ports 4000/4002, o= version 3) */
    snprintf(la, sizeof la, "v=0\r\no=tandem 77 3 IN IP4 10.0.0.9\r\ns=-\r\n"
             "c=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\n"
             "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n");
    snprintf(lb, sizeof lb, "v=0\r\no=tandem 78 1 IN IP4 10.0.0.9\r\ns=-\r\n"
             "c=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0 8 101\r\n"
             "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
             "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n");
    s_sdp(ra, sizeof ra, a_port, NULL);
    snprintf(rb, sizeof rb, "v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
             "t=0 0\r\nm=audio %u RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n", b_port);
    Tandem__MediaAdopt msg = TANDEM__MEDIA_ADOPT__INIT;
    msg.local_a = la;
    msg.remote_a = ra;
    msg.local_b = lb;
    msg.remote_b = rb;
    size_t before = td_bus_fake_count();
    s_deliver(fx, "moved-1", 0, TANDEM__ENVELOPE__BODY_MEDIA_ADOPT, &msg);
    const Tandem__Envelope *e = s_reply(before, TANDEM__ENVELOPE__BODY_MEDIA_ADOPTED);
    const char *sa = e->media_adopted->sdp_a, *sb = e->media_adopted->sdp_b;
    uint16_t pa = s_sdp_port(sa), pb = s_sdp_port(sb);
    assert_int_not_equal(pa, 4000);
    assert_int_not_equal(pa, pb);
    assert_int_equal(s_version(sa), 4);
    assert_int_equal(s_version(sb), 2);
    assert_non_null(strstr(sa, "o=tandem 77 4 "));
    assert_non_null(strstr(sa, " RTP/AVP 0 101\r\n"));
    assert_non_null(strstr(sb, " RTP/AVP 0 8 101\r\n"));
    /* caller (PCMU) -> callee (PCMA): relayed and transcoded at once */
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, b, got, sizeof got, &from), (ssize_t)len);
    assert_int_equal(from, pb);
    assert_int_equal(got[1] & 0x7f, 8);
    s_send(b, pb, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, &from), (ssize_t)len);
    assert_int_equal(from, pa);

    /* the caller's answer to the move: applied, no reply */
    Tandem__MediaAnswer ans = TANDEM__MEDIA_ANSWER__INIT;
    ans.sdp = ra;
    ans.adopt = 1;
    before = td_bus_fake_count();
    s_deliver(fx, "moved-1", 0, TANDEM__ENVELOPE__BODY_MEDIA_ANSWER, &ans);
    assert_int_equal(td_bus_fake_count(), before);
    close(a);
    close(b);
}

/* --- SRTP (SDES) ----------------------------------------------------------- */

/* The a=crypto an SDP the worker wrote carries (it must have one). */
static void s_crypto_of(const char *sdp, sdp_crypto_t *out)
{
    sdp_media_t m;
    char err[128];
    if (sdp_parse(sdp, strlen(sdp), &m, err, sizeof err) < 0 || !m.crypto_ok)
        fail_msg("no usable a=crypto in\n%s", sdp);
    *out = m.crypto;
}

/* A phone's SAVP offer with its key (sdes_local_key(phone)) on tag 1. */
static const char *s_srtp_sdp(char *buf, size_t len, uint16_t port, const sdes_t *phone,
                              const char *extra)
{
    sdp_crypto_t c = { .tag = 1, .taglen = 80 };
    memcpy(c.key, sdes_local_key(phone), sizeof c.key);
    char line[SDP_CRYPTO_LINE_MAX], more[256];
    assert_true(sdp_crypto_format(&c, line, sizeof line) > 0);
    snprintf(more, sizeof more, "a=crypto:%s\r\n%s", line, extra ? extra : "");
    s_sdp(buf, len, port, more);
    char *avp = strstr(buf, " RTP/AVP ");
    assert_non_null(avp);
    memmove(avp + 10, avp + 9, strlen(avp + 9) + 1);
    memcpy(avp, " RTP/SAVP ", 10);
    return buf;
}

/* An SRTP caller and a plain callee: the answer to the caller has the
 * worker's own key; RTP is decrypted toward the callee and encrypted
 * toward the caller; a packet that fails authentication is dropped,
 * counted and does not move the latch; a re-INVITE with a new key keeps the
 * worker's key and the plain side plain, and one from the plain side offers
 * the SRTP caller RTP/SAVP again. */
static void test_srtp_caller_plain_callee(void **state)
{
    fixture_t *fx = *state;
    uint16_t a_port, a2_port, b_port, pa, pb, from;
    int a = s_udp(&a_port), a2 = s_udp(&a2_port), b = s_udp(&b_port);
    unsigned char pkt[256], plain[256], got[2048];
    char sdp[768], sdp2[768];
    sdes_t *phone = sdes_new();
    assert_non_null(phone);

    size_t before = td_bus_fake_count();
    s_offer(fx, "srtp-1", s_srtp_sdp(sdp, sizeof sdp, a_port, phone, NULL));
    const Tandem__Envelope *e = s_reply(before, TANDEM__ENVELOPE__BODY_MEDIA_OFFERED);
    const char *ans = e->media_offered->sdp_caller, *callee = e->media_offered->sdp_callee;
    assert_non_null(strstr(ans, " RTP/SAVP 0 101\r\n"));
    sdp_crypto_t wk_a, wk_b;
    s_crypto_of(ans, &wk_a);
    assert_int_equal(wk_a.tag, 1);
    assert_int_equal(wk_a.taglen, 80);
    assert_memory_not_equal(wk_a.key, sdes_local_key(phone), 30);
    assert_null(strstr(strstr(ans, "a=crypto") + 1, "a=crypto"));          /* one line */
    /* the callees' offer: RTP/AVP with the worker's key for B (signaling
     * keeps it for encryption=yes peers only) */
    assert_non_null(strstr(callee, " RTP/AVP 0 8 101\r\n"));
    s_crypto_of(callee, &wk_b);
    assert_memory_not_equal(wk_b.key, wk_a.key, 30);
    pa = s_sdp_port(ans);
    pb = s_sdp_port(callee);
    session_t *ses = worker_session(fx->worker, "srtp-1");
    assert_int_equal(session_srtp(ses, SESSION_A), 80);
    assert_int_equal(sdes_start(phone, 80, wk_a.key), 0);

    s_answer(fx, "srtp-1", 1, s_sdp(sdp2, sizeof sdp2, b_port, NULL));
    assert_int_equal(session_srtp(ses, SESSION_B), 0);

    /* A (SRTP) -> B (plain) */
    size_t len = s_rtp(pkt, 0xA1A1A1A1, 1), plen = len;
    memcpy(plain, pkt, len);
    assert_int_equal(sdes_protect(phone, pkt, &len, sizeof pkt, 0), 0);
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, b, got, sizeof got, &from), (ssize_t)plen);
    assert_memory_equal(got, plain, plen);
    /* B (plain) -> A (SRTP) */
    len = s_rtp(pkt, 0xB2B2B2B2, 7);
    memcpy(plain, pkt, len);
    s_send(b, pb, pkt, len);
    ssize_t n = s_recv(fx, a, got, sizeof got, &from);
    assert_int_equal(n, (ssize_t)(plen + 10));
    size_t glen = (size_t)n;
    int why;
    assert_int_equal(sdes_unprotect(phone, got, &glen, 0, &why), 0);
    assert_int_equal(glen, plen);
    assert_memory_equal(got, plain, plen);
    /* a spoiled packet from elsewhere: dropped, counted, no re-latch */
    const session_stats_t *sa = session_stats(ses, SESSION_A);
    uint64_t failed = sa->srtp_failed, relatches = sa->relatches;
    const rtp_stats_t *qa = session_quality(ses, SESSION_A);
    uint64_t received = rtp_stats_received(qa);
    len = s_rtp(pkt, 0xA1A1A1A1, 2);
    assert_int_equal(sdes_protect(phone, pkt, &len, sizeof pkt, 0), 0);
    pkt[len - 1] ^= 1;
    s_send(a2, pa, pkt, len);
    s_expect_silence(fx, b);
    assert_int_equal(sa->srtp_failed, failed + 1);
    assert_int_equal(sa->relatches, relatches);
    /* quality counts only what unprotects: the spoiled packet is not RTP received */
    assert_int_equal(rtp_stats_received(qa), received);
    assert_int_equal(received, 1);
    len = s_rtp(pkt, 0xB2B2B2B2, 8);
    s_send(b, pb, pkt, len);
    assert_true(s_recv(fx, a, got, sizeof got, NULL) > 0);   /* still to a, not a2 */
    s_expect_silence(fx, a2);

    /* re-INVITE from A with a new key: B is offered plain RTP/AVP; A's
     * answer keeps the worker's key */
    sdes_t *phone2 = sdes_new();
    assert_non_null(phone2);
    const Tandem__MediaReoffered *ro = s_reoffer(fx, "srtp-1", 0,
                                                 s_srtp_sdp(sdp, sizeof sdp, a_port, phone2, NULL));
    assert_int_equal(ro->status, 200);
    assert_non_null(strstr(ro->sdp, " RTP/AVP "));
    assert_null(strstr(ro->sdp, "a=crypto"));
    const Tandem__MediaReanswered *ra = s_reanswer(fx, "srtp-1", 1, 200,
                                                   s_sdp(sdp2, sizeof sdp2, b_port, NULL));
    assert_int_equal(ra->status, 200);
    assert_non_null(strstr(ra->sdp, " RTP/SAVP "));
    sdp_crypto_t again;
    s_crypto_of(ra->sdp, &again);
    assert_memory_equal(again.key, wk_a.key, 30);
    assert_int_equal(sdes_start(phone2, 80, wk_a.key), 0);
    len = s_rtp(pkt, 0xA1A1A1A1, 3);
    memcpy(plain, pkt, len);
    plen = len;
    assert_int_equal(sdes_protect(phone2, pkt, &len, sizeof pkt, 0), 0);
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, b, got, sizeof got, NULL), (ssize_t)plen);
    assert_memory_equal(got, plain, plen);

    /* re-INVITEs that would drop SRTP, or whose a=crypto is unusable: 488,
     * nothing changes (chan_sip) */
    ro = s_reoffer(fx, "srtp-1", 0, s_sdp(sdp, sizeof sdp, a_port, "a=sendonly\r\n"));
    assert_int_equal(ro->status, 488);
    ro = s_reoffer(fx, "srtp-1", 1, s_sdp(sdp2, sizeof sdp2, b_port,
                                          "a=crypto:1 F8_128_HMAC_SHA1_80 inline:x\r\n"));
    assert_int_equal(ro->status, 488);
    assert_int_equal(session_srtp(ses, SESSION_A), 80);
    assert_true(session_sends(ses, SESSION_A));

    /* re-INVITE from B (plain): A is offered RTP/SAVP with the worker's key;
     * an answer from A without a=crypto is refused, the session kept */
    ro = s_reoffer(fx, "srtp-1", 1, s_sdp(sdp2, sizeof sdp2, b_port, "a=sendonly\r\n"));
    assert_int_equal(ro->status, 200);
    ra = s_reanswer(fx, "srtp-1", 0, 200, s_sdp(sdp, sizeof sdp, a_port, "a=recvonly\r\n"));
    assert_int_equal(ra->status, 488);
    assert_int_equal(session_srtp(ses, SESSION_A), 80);
    assert_true(session_sends(ses, SESSION_A));

    ro = s_reoffer(fx, "srtp-1", 1, s_sdp(sdp2, sizeof sdp2, b_port, "a=sendonly\r\n"));
    assert_int_equal(ro->status, 200);
    assert_non_null(strstr(ro->sdp, " RTP/SAVP "));
    s_crypto_of(ro->sdp, &again);
    assert_memory_equal(again.key, wk_a.key, 30);
    ra = s_reanswer(fx, "srtp-1", 0, 200,
                    s_srtp_sdp(sdp, sizeof sdp, a_port, phone2, "a=recvonly\r\n"));
    assert_int_equal(ra->status, 200);
    assert_null(strstr(ra->sdp, "a=crypto"));
    assert_int_equal(session_srtp(ses, SESSION_A), 80);
    assert_int_equal(session_srtp(ses, SESSION_B), 0);

    s_release(fx, "srtp-1");
    sdes_destroy(&phone);
    sdes_destroy(&phone2);
    close(a);
    close(a2);
    close(b);
}

/* A plain caller and a callee that answered with a=crypto (an
 * encryption=yes peer, offered the worker's key): its SRTP is decrypted
 * toward the caller. */
static void test_plain_caller_srtp_callee(void **state)
{
    fixture_t *fx = *state;
    uint16_t a_port, b_port, pa, pb;
    int a = s_udp(&a_port), b = s_udp(&b_port);
    unsigned char pkt[256], plain[256], got[2048];
    char sdp[768];
    s_open(fx, "srtp-2", a_port, &pa, &pb);
    const td_bus_fake_sent_t *o = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_OFFERED);
    assert_null(strstr(o->env->media_offered->sdp_caller, "a=crypto"));
    sdp_crypto_t wk_b;
    s_crypto_of(o->env->media_offered->sdp_callee, &wk_b);
    sdes_t *phone = sdes_new();
    assert_non_null(phone);
    assert_int_equal(sdes_start(phone, 80, wk_b.key), 0);
    s_answer(fx, "srtp-2", 1, s_srtp_sdp(sdp, sizeof sdp, b_port, phone, NULL));
    session_t *ses = worker_session(fx->worker, "srtp-2");
    assert_int_equal(session_srtp(ses, SESSION_A), 0);
    assert_int_equal(session_srtp(ses, SESSION_B), 80);
    size_t len = s_rtp(pkt, 0xB3B3B3B3, 1), plen = len;
    memcpy(plain, pkt, len);
    assert_int_equal(sdes_protect(phone, pkt, &len, sizeof pkt, 0), 0);
    s_send(b, pb, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, NULL), (ssize_t)plen);
    assert_memory_equal(got, plain, plen);
    len = s_rtp(pkt, 0xA3A3A3A3, 1);
    memcpy(plain, pkt, len);
    s_send(a, pa, pkt, len);
    ssize_t n = s_recv(fx, b, got, sizeof got, NULL);
    assert_true(n > 0);
    size_t glen = (size_t)n;
    int why;
    assert_int_equal(sdes_unprotect(phone, got, &glen, 0, &why), 0);
    assert_memory_equal(got, plain, plen);
    s_release(fx, "srtp-2");
    sdes_destroy(&phone);
    close(a);
    close(b);
}

/* An SDP it cannot read: cause 58, and no session is left behind. */
static void test_adopt_bad_sdp(void **state)
{
    fixture_t *fx = *state;
    Tandem__MediaAdopt msg = TANDEM__MEDIA_ADOPT__INIT;
    msg.local_a = "v=0\r\nm=audio x RTP/AVP 0\r\n";
    msg.remote_a = "";
    msg.local_b = "";
    msg.remote_b = "";
    size_t before = td_bus_fake_count();
    s_deliver(fx, "moved-2", 0, TANDEM__ENVELOPE__BODY_MEDIA_ADOPT, &msg);
    assert_int_equal(s_last_error(before)->cause, 58);
    assert_int_equal(worker_session_count(fx->worker), 0);
}

/* rtptimeout as chan_sip's check_rtp_timeout: counted from the last packet
 * or SDP, past the timeout once; while the phone's SDP holds the call only
 * rtpholdtimeout counts, and without it nothing does. */
static void test_rtp_timeout(void **state)
{
    fixture_t *fx = *state;
    uint16_t a_port, pa, pb;
    int a = s_udp(&a_port);
    s_open(fx, "quiet", a_port, &pa, &pb);
    session_t *s = worker_session(fx->worker, "quiet");
    assert_non_null(s);
    uint32_t silent = 0;
    assert_int_equal(session_rtp_timed_out(s, 100, &silent), -1);   /* none set */
    session_set_rtp_timeout(s, SESSION_A, 2, 0);
    assert_int_equal(session_rtp_timed_out(s, 100, &silent), -1);   /* counts from now */
    assert_int_equal(session_rtp_timed_out(s, 102, &silent), -1);
    assert_int_equal(session_rtp_timed_out(s, 103, &silent), 0);
    assert_int_equal(silent, 3);
    assert_int_equal(session_rtp_timed_out(s, 200, &silent), -1);   /* said once */

    /* on hold (a=sendonly from the phone): rtpholdtimeout, not rtptimeout */
    char sdp[512];
    sdp_media_t m;
    char err[128];
    s_sdp(sdp, sizeof sdp, a_port, "a=sendonly\r\n");
    assert_int_equal(sdp_parse(sdp, strlen(sdp), &m, err, sizeof err), 0);
    m.dir = SDP_DIR_RECV;                   /* recvonly: the phone sends nothing */
    session_set_remote(s, SESSION_A, &m);
    session_set_rtp_timeout(s, SESSION_A, 2, 5);
    assert_int_equal(session_rtp_timed_out(s, 300, &silent), -1);
    assert_int_equal(session_rtp_timed_out(s, 304, &silent), -1);
    assert_int_equal(session_rtp_timed_out(s, 306, &silent), 0);
    assert_int_equal(silent, 6);
    session_set_rtp_timeout(s, SESSION_A, 2, 0);                    /* no hold timeout */
    assert_int_equal(session_rtp_timed_out(s, 400, &silent), -1);
    assert_int_equal(session_rtp_timed_out(s, 900, &silent), -1);
    session_set_rtp_timeout(s, SESSION_A, 0, 5);                    /* hold one alone */
    m.dir = SDP_DIR_SENDRECV;
    session_set_remote(s, SESSION_A, &m);
    assert_int_equal(session_rtp_timed_out(s, 1000, &silent), -1);
    assert_int_equal(session_rtp_timed_out(s, 1900, &silent), -1);
    close(a);
}

/* --- metrics: loss and jitter ----------------------------------------------- */

/* The exposition of m, NUL-terminated (caller frees). */
static char *s_exposition(td_metrics_t *m)
{
    struct evbuffer *b = evbuffer_new();
    assert_non_null(b);
    assert_int_equal(td_metrics_write(m, b), 0);
    size_t n = evbuffer_get_length(b);
    char *t = malloc(n + 1);
    assert_non_null(t);
    evbuffer_remove(b, t, n);
    t[n] = '\0';
    evbuffer_free(b);
    return t;
}

/* The value of the sample whose line starts with series (name and labels). */
static double s_sample(const char *text, const char *series)
{
    char want[160];
    snprintf(want, sizeof want, "\n%s ", series);
    const char *p = strstr(text, want);
    if (!p)
        fail_msg("no sample %s in\n%s", series, text);
    return strtod(p + strlen(want), NULL);
}

/* A's packet seq with a timestamp 20 ms (160 units) per sequence number. */
static size_t s_rtp_at(unsigned char *pkt, uint32_t ssrc, uint16_t seq)
{
    size_t len = s_rtp(pkt, ssrc, seq);
    uint32_t ts = (uint32_t)seq * 160u;
    pkt[4] = (unsigned char)(ts >> 24);
    pkt[5] = (unsigned char)(ts >> 16);
    pkt[6] = (unsigned char)(ts >> 8);
    pkt[7] = (unsigned char)ts;
    return len;
}

/* A call whose caller skips 2 of 20 packets (all sent at once, so each
 * arrives 20 ms "early": a jitter of several ms), the callee sends 3 and
 * one RTCP packet. The worker's /metrics: 23 expected, 2 lost, 1 RTCP,
 * two live sides in the jitter gauges; a late packet (the loss shrinks by
 * one, the jitter grows) does not make the counter go down; after the release the MOS and
 * jitter histograms hold the session once, with a MOS below 4 (10 % loss),
 * and the counters keep the closed session. */
static void test_metrics_loss_and_jitter(void **state)
{
    fixture_t *fx = *state;
    td_metrics_t *m = media_metrics_new(fx->worker, "media-1");
    assert_non_null(m);
    char *t = s_exposition(m);
    assert_int_equal(s_sample(t, "tandem_media_rtp_expected_packets_total"), 0);
    assert_int_equal(s_sample(t, "tandem_media_rtp_lost_packets_total"), 0);
    assert_int_equal(s_sample(t, "tandem_media_rtp_jitter_sides"), 0);
    assert_int_equal(s_sample(t, "tandem_media_mos_count"), 0);
    assert_non_null(strstr(t, "# TYPE tandem_media_mos histogram\n"));
    assert_non_null(strstr(t, "# TYPE tandem_media_rtp_lost_packets_total counter\n"));
    free(t);

    uint16_t a_port, b_port, pa, pb;
    int a = s_udp(&a_port), b = s_udp(&b_port);
    unsigned char pkt[200], got[2048];
    char sdp[512];
    s_open(fx, "call-q", a_port, &pa, &pb);
    s_answer(fx, "call-q", 1, s_sdp(sdp, sizeof sdp, b_port, NULL));
    for (uint16_t seq = 1; seq <= 20; seq++) {
        if (seq == 5 || seq == 10)
            continue;
        size_t len = s_rtp_at(pkt, 0xA0A0A0A0, seq);
        s_send(a, pa, pkt, len);
        assert_int_equal(s_recv(fx, b, got, sizeof got, NULL), (ssize_t)len);
    }
    for (uint16_t seq = 1; seq <= 3; seq++) {
        size_t len = s_rtp_at(pkt, 0xB0B0B0B0, seq);
        s_send(b, pb, pkt, len);
        assert_int_equal(s_recv(fx, a, got, sizeof got, NULL), (ssize_t)len);
    }
    const char rtcp[] = "\x81\xc9\x00\x07rtcp-report-from-b";
    s_send(b, pb + 1, rtcp, sizeof rtcp);
    for (int i = 0; i < 20 && session_quality(worker_session(fx->worker, "call-q"),
                                              SESSION_B)->rtcp_packets == 0; i++) {
        struct pollfd none = { .fd = -1 };
        poll(&none, 0, 5);
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
    }

    t = s_exposition(m);
    assert_int_equal(s_sample(t, "tandem_media_rtp_expected_packets_total"), 23);
    assert_int_equal(s_sample(t, "tandem_media_rtp_lost_packets_total"), 2);
    assert_int_equal(s_sample(t, "tandem_media_rtcp_packets_total"), 1);
    assert_int_equal(s_sample(t, "tandem_media_rtp_jitter_sides"), 2);
    double mean = s_sample(t, "tandem_media_rtp_jitter_seconds");
    double max = s_sample(t, "tandem_media_rtp_jitter_max_seconds");
    /* A: 17 steps of 20 ms toward RFC 3550's 1/16 average, about 13 ms;
     * B: 2 steps, about 2.4 ms. */
    assert_true(max > 0.008 && max < 0.02);
    assert_true(mean > 0.004 && mean < max);
    assert_int_equal(s_sample(t, "tandem_media_mos_count"), 0);
    free(t);

    /* A late packet fills a hole: the live loss is 1, the counter stays. */
    size_t len = s_rtp_at(pkt, 0xA0A0A0A0, 10);
    s_send(a, pa, pkt, len);
    assert_int_equal(s_recv(fx, b, got, sizeof got, NULL), (ssize_t)len);
    assert_int_equal(rtp_stats_lost(session_quality(worker_session(fx->worker, "call-q"),
                                                    SESSION_A)), 1);
    t = s_exposition(m);
    assert_int_equal(s_sample(t, "tandem_media_rtp_lost_packets_total"), 2);
    free(t);

    s_release(fx, "call-q");
    assert_int_equal(worker_session_count(fx->worker), 0);
    t = s_exposition(m);
    assert_int_equal(s_sample(t, "tandem_media_rtp_expected_packets_total"), 23);
    assert_int_equal(s_sample(t, "tandem_media_rtp_lost_packets_total"), 2);
    assert_int_equal(s_sample(t, "tandem_media_rtcp_packets_total"), 1);
    assert_int_equal(s_sample(t, "tandem_media_rtp_jitter_sides"), 0);
    assert_int_equal(s_sample(t, "tandem_media_rtp_jitter_seconds"), 0);
    assert_int_equal(s_sample(t, "tandem_media_mos_count"), 1);
    assert_int_equal(s_sample(t, "tandem_media_mos_bucket{le=\"1\"}"), 0);
    assert_int_equal(s_sample(t, "tandem_media_mos_bucket{le=\"4\"}"), 1);
    assert_int_equal(s_sample(t, "tandem_media_mos_bucket{le=\"+Inf\"}"), 1);
    double mos = s_sample(t, "tandem_media_mos_sum");
    assert_true(mos > 2.5 && mos < 4.0);
    assert_int_equal(s_sample(t, "tandem_media_session_jitter_seconds_count"), 1);
    assert_int_equal(s_sample(t, "tandem_media_session_jitter_seconds_bucket{le=\"0.005\"}"), 0);
    /* The late packet came 200 ms (1600 units) late: A's jitter grew by ~11 ms. */
    double jitter = s_sample(t, "tandem_media_session_jitter_seconds_sum");
    assert_true(jitter > 0.015 && jitter < 0.03);
    assert_int_equal(s_sample(t, "tandem_media_session_jitter_seconds_bucket{le=\"0.03\"}"), 1);
    free(t);

    /* A session that carried no RTP leaves the histograms alone. */
    s_open(fx, "call-silent", a_port, &pa, &pb);
    s_release(fx, "call-silent");
    t = s_exposition(m);
    assert_int_equal(s_sample(t, "tandem_media_mos_count"), 1);
    free(t);

    td_metrics_destroy(&m);
    close(a);
    close(b);
}

/* strictrtp=yes (RTP Bleed): each side takes its SDP's source at once; a
 * stranger spraying a side's ports (RTP and RTCP) reaches nobody, is
 * counted, and moves no latched address, while the phones' own media goes
 * on both ways. */
static void test_strict_drops_strangers(void **state)
{
    fixture_t *fx = *state;
    uint16_t a_port, b_port, evil_port, pa, pb, from;
    int a = s_udp(&a_port), b = s_udp(&b_port), evil = s_udp(&evil_port);
    unsigned char pkt[200], bad[200], got[2048];
    char sdp[512];

    s_comedia = 1;                   /* the latch must not follow the stranger */
    s_open(fx, "call-strict", a_port, &pa, &pb);
    s_answer(fx, "call-strict", 1, s_sdp(sdp, sizeof sdp, b_port, NULL));
    s_comedia = 0;
    session_t *session = worker_session(fx->worker, "call-strict");
    const session_stats_t *sa = session_stats(session, SESSION_A);
    const session_stats_t *sb = session_stats(session, SESSION_B);

    for (uint16_t seq = 1; seq <= 20; seq++) {
        size_t len = s_rtp(pkt, 0x1111, seq);
        s_send(a, pa, pkt, len);
        assert_int_equal(s_recv(fx, b, got, sizeof got, &from), (ssize_t)len);
        assert_int_equal(got[11], 0x11);
        len = s_rtp(pkt, 0x2222, (uint16_t)(100 + seq));
        s_send(b, pb, pkt, len);
        assert_int_equal(s_recv(fx, a, got, sizeof got, NULL), (ssize_t)len);
        /* the stranger: a run in sequence, at both ports, RTP and RTCP */
        for (int k = 0; k < 2; k++) {
            size_t blen = s_rtp(bad, 0xbad, (uint16_t)(1000 + 2 * seq + k));
            s_send(evil, pa, bad, blen);
            s_send(evil, pb, bad, blen);
        }
        s_send(evil, pa + 1, "\x80\xc9\x00\x01\x00\x00\x0b\xad", 8);
    }
    s_expect_silence(fx, b);
    s_expect_silence(fx, a);
    assert_int_equal(sa->strict_dropped, 60);
    assert_int_equal(sb->strict_dropped, 40);
    assert_int_equal(sa->relatches, 0);
    /* B -> A still goes to A's SDP address, not to the stranger */
    size_t len = s_rtp(pkt, 0x2222, 200);
    s_send(b, pb, pkt, len);
    assert_int_equal(s_recv(fx, a, got, sizeof got, NULL), (ssize_t)len);
    s_expect_silence(fx, evil);
    session_stats_t total;
    worker_rtp_totals(fx->worker, &total);
    assert_int_equal(total.strict_dropped, 100);
    s_release(fx, "call-strict");
    close(a);
    close(b);
    close(evil);
}

int main(void)
{
    td_log_init("test", LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_call_relays_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_loss_and_jitter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rtp_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adopt_moves_a_bridged_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adopt_bad_sdp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_comedia_keeps_sdp_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_reflects_to_caller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_offer_same_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_sdp_is_cause_58, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_call_is_cause_41, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capacity_and_ports_are_cause_34, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orphans_closed_after_router_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_restart_closes_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transcodes_between_laws, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offer_follows_the_allow_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reoffer_hold_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reoffer_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_srtp_caller_plain_callee, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_caller_srtp_callee, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_drops_strangers, setup_strict, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
