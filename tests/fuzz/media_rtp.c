/* Fuzz harness: RTP, RTCP and RFC 4733 events as a phone sends them.
 * Byte 0 picks the path, the rest is the packet:
 *   0  RTP to the worker's caller-side port of a call that plays a prompt
 *      (session.c's read path: relay, statistics; ivr.c: RFC 4733 events
 *      and the caller's audio)
 *   1  RTCP to the port above it (session.c, rtp_stats_rtcp)
 *   2  rtp_stats_rtp() and rtp_stats_rtcp() on their own, one stats
 *      object per input
 *   3  RTP to the call's callee-side port (relayed to the phone, transcoded
 *      PCMA -> PCMU)
 * The call is opened once (caller PCMU + telephone-event 101 at the phone
 * socket, callee PCMA) and plays a looping prompt. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_media.h"
#include "rtp_stats.h"
#include "sdp.h"

static uint16_t s_port_a, s_port_b;

static uint16_t s_port_of(const char *sdp)
{
    sdp_media_t m;
    char err[128];
    if (!sdp || sdp_parse(sdp, strlen(sdp), &m, err, sizeof err) < 0)
        abort();
    return m.port;
}

static void s_open(fuzz_media_t *fx)
{
    char sdp[512];
    snprintf(sdp, sizeof sdp,
             "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio %u RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
             fx->phone_port);
    Tandem__MediaOffer offer = TANDEM__MEDIA_OFFER__INIT;
    offer.sdp = sdp;
    fuzz_media_deliver(fx, "rtp-1", TANDEM__ENVELOPE__BODY_MEDIA_OFFER, &offer);
    const td_bus_fake_sent_t *s = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_OFFERED);
    if (!s)
        abort();
    s_port_a = s_port_of(s->env->media_offered->sdp_caller);
    s_port_b = s_port_of(s->env->media_offered->sdp_callee);
    snprintf(sdp, sizeof sdp,
             "v=0\r\no=callee 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio %u RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n",
             fx->phone_port);
    Tandem__MediaAnswer answer = TANDEM__MEDIA_ANSWER__INIT;
    answer.sdp = sdp;
    fuzz_media_deliver(fx, "rtp-1", TANDEM__ENVELOPE__BODY_MEDIA_ANSWER, &answer);
    static char *files[] = { "tone" };
    Tandem__MediaPlay play = TANDEM__MEDIA_PLAY__INIT;
    play.files = files;
    play.n_files = 1;
    play.loop = 1;
    play.id = 1;
    fuzz_media_deliver(fx, "rtp-1", TANDEM__ENVELOPE__BODY_MEDIA_PLAY, &play);
    td_bus_fake_reset();
}

static void s_send(fuzz_media_t *fx, int fd, uint16_t port, const uint8_t *p, size_t n)
{
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons(port) };
    sendto(fd, p, n, 0, (struct sockaddr *)&to, sizeof to);
    fuzz_media_pump(fx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_media_t *fx = fuzz_media_get();
    if (!s_port_a)
        s_open(fx);
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    static uint64_t now = 1000000000ull;
    now += 20000000ull;
    switch (data[0] & 3) {
    case 0:
        s_send(fx, fx->phone, s_port_a, p, n);
        break;
    case 1:
        s_send(fx, fx->phone_rtcp, (uint16_t)(s_port_a + 1), p, n);
        break;
    case 2: {
        rtp_stats_t st;
        rtp_stats_init(&st);
        rtp_stats_rtp(&st, p, n, now, 1);
        rtp_stats_rtp(&st, p, n, now + 20000000ull, 1);
        rtp_stats_rtcp(&st, p, n, 0, now);
        rtp_stats_rtcp(&st, p, n, 0x12345678, now);
        rtp_stats_rtt(&st, &st);
        rtp_stats_loss_pct(&st);
        rtp_stats_jitter_ms(&st);
        rtp_stats_side_mos(&st);
        break;
    }
    default:
        s_send(fx, fx->phone, s_port_b, p, n);
        break;
    }
    td_bus_fake_reset();
    return 0;
}
