/* test_sdp - SDP rewriting and parsing, table-driven: each row is an input
 * and the exact output (or error) expected. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "sdp.h"

#define ADDR "192.0.2.10"
#define PORT 10002

typedef struct {
    const char *name;
    const char *in;
    const char *out;       /* expected rewrite, or NULL when an error is expected */
    const char *error;     /* expected error, exactly */
} rewrite_row_t;

static const rewrite_row_t s_rewrites[] = {
    { "session-level c=, LF",
      "v=0\n"
      "o=1001 3456 3457 IN IP4 10.0.0.5\n"
      "s=call\n"
      "c=IN IP4 10.0.0.5\n"
      "t=0 0\n"
      "m=audio 4000 RTP/AVP 0 8 101\n"
      "a=rtpmap:0 PCMU/8000\n"
      "a=rtpmap:8 PCMA/8000\n"
      "a=rtpmap:101 telephone-event/8000\n"
      "a=fmtp:101 0-16\n"
      "a=ptime:20\n"
      "a=sendrecv\n",
      "v=0\n"
      "o=1001 3456 3457 IN IP4 " ADDR "\n"
      "s=call\n"
      "c=IN IP4 " ADDR "\n"
      "t=0 0\n"
      "m=audio 10002 RTP/AVP 0 8 101\n"
      "a=rtpmap:0 PCMU/8000\n"
      "a=rtpmap:8 PCMA/8000\n"
      "a=rtpmap:101 telephone-event/8000\n"
      "a=fmtp:101 0-16\n"
      "a=ptime:20\n"
      "a=sendrecv\n", NULL },
    { "media-level c=, CRLF",
      "v=0\r\n"
      "o=- 1 1 IN IP4 10.0.0.6\r\n"
      "s=-\r\n"
      "t=0 0\r\n"
      "m=audio 5004 RTP/AVP 8\r\n"
      "c=IN IP4 10.0.0.6\r\n"
      "a=rtpmap:8 PCMA/8000\r\n",
      "v=0\r\n"
      "o=- 1 1 IN IP4 " ADDR "\r\n"
      "s=-\r\n"
      "t=0 0\r\n"
      "m=audio 10002 RTP/AVP 8\r\n"
      "c=IN IP4 " ADDR "\r\n"
      "a=rtpmap:8 PCMA/8000\r\n", NULL },
    { "both levels, last line without an end, mixed ends",
      "v=0\r\n"
      "o=alice 2890844526 2890844526 IN IP4 host.example.com\n"
      "s= \r\n"
      "c=IN IP4 10.1.1.1/127\r\n"
      "t=0 0\r\n"
      "m=audio 49170/2 RTP/AVP 0\r\n"
      "c=IN IP4 10.1.1.2\r\n"
      "a=rtpmap:0 PCMU/8000",
      "v=0\r\n"
      "o=alice 2890844526 2890844526 IN IP4 " ADDR "\n"
      "s= \r\n"
      "c=IN IP4 " ADDR "\r\n"
      "t=0 0\r\n"
      "m=audio 10002 RTP/AVP 0\r\n"
      "c=IN IP4 " ADDR "\r\n"
      "a=rtpmap:0 PCMU/8000", NULL },
    { "a=rtcp rewritten in the audio section, with and without address",
      "v=0\n"
      "o=- 1 1 IN IP4 10.0.0.5\n"
      "s=-\n"
      "c=IN IP4 10.0.0.5\n"
      "t=0 0\n"
      "m=audio 4000 RTP/AVP 0\n"
      "a=rtcp:4001\n"
      "a=rtcp:4005 IN IP4 10.0.0.9\n"
      "a=rtcp-mux\n"
      "a=rtcp-fb:* nack\n",
      "v=0\n"
      "o=- 1 1 IN IP4 " ADDR "\n"
      "s=-\n"
      "c=IN IP4 " ADDR "\n"
      "t=0 0\n"
      "m=audio 10002 RTP/AVP 0\n"
      "a=rtcp:10003\n"
      "a=rtcp:10003 IN IP4 " ADDR "\n"
      "a=rtcp-mux\n"
      "a=rtcp-fb:* nack\n", NULL },
    { "video disabled, its a=rtcp and ICE lines dropped",
      "v=0\n"
      "o=- 1 1 IN IP4 10.0.0.5\n"
      "s=-\n"
      "c=IN IP4 10.0.0.5\n"
      "t=0 0\n"
      "a=ice-ufrag:abcd\n"
      "a=ice-pwd:efghijklmnopqrstuvwxyz12\n"
      "m=audio 4000 RTP/AVP 0\n"
      "a=candidate:1 1 UDP 2130706431 10.0.0.5 4000 typ host\n"
      "a=end-of-candidates\n"
      "a=ptime:20\n"
      "m=video 4002 RTP/AVP 96\n"
      "a=rtcp:4003\n"
      "a=rtpmap:96 H264/90000\n",
      "v=0\n"
      "o=- 1 1 IN IP4 " ADDR "\n"
      "s=-\n"
      "c=IN IP4 " ADDR "\n"
      "t=0 0\n"
      "m=audio 10002 RTP/AVP 0\n"
      "a=ptime:20\n"
      "m=video 0 RTP/AVP 96\n"
      "a=rtpmap:96 H264/90000\n", NULL },
    { "refused audio stays refused; hold address kept",
      "v=0\n"
      "o=- 1 2 IN IP4 10.0.0.5\n"
      "s=-\n"
      "c=IN IP4 0.0.0.0\n"
      "t=0 0\n"
      "m=audio 0 RTP/AVP 0\n",
      "v=0\n"
      "o=- 1 2 IN IP4 " ADDR "\n"
      "s=-\n"
      "c=IN IP4 0.0.0.0\n"
      "t=0 0\n"
      "m=audio 0 RTP/AVP 0\n", NULL },
    { "blank trailing line kept",
      "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n\r\n",
      "v=0\r\no=- 1 1 IN IP4 " ADDR "\r\ns=-\r\nc=IN IP4 " ADDR "\r\nt=0 0\r\nm=audio 10002 RTP/AVP 0\r\n\r\n",
      NULL },
    { "missing m=audio",
      "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=video 4000 RTP/AVP 96\n",
      NULL, "no m=audio line" },
    { "missing c=",
      "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\n",
      NULL, "no c= line for the audio stream" },
    { "c= only under video",
      "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\nm=video 4002 RTP/AVP 96\nc=IN IP4 1.2.3.4\n",
      NULL, "no c= line for the audio stream" },
    { "IPv6",
      "v=0\no=- 1 1 IN IP6 ::1\ns=-\nc=IN IP6 ::1\nt=0 0\nm=audio 4000 RTP/AVP 0\n",
      NULL, "line 4: only IPv4 is supported (c=IN IP6)" },
    { "bad address",
      "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3\nt=0 0\nm=audio 4000 RTP/AVP 0\n",
      NULL, "line 4: bad IPv4 address in c= line" },
    { "bad port",
      "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 70000 RTP/AVP 0\n",
      NULL, "line 6: bad port in m= line" },
    { "short m=",
      "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 4000\n",
      NULL, "line 6: m= line needs media, port, proto and formats" },
    { "short o=",
      "v=0\no=- 1 1 IN IP4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 4000 RTP/AVP 0\n",
      NULL, "line 2: o= line needs 6 fields" },
    { "not starting with v=",
      "o=- 1 1 IN IP4 1.2.3.4\nv=0\n", NULL, "line 1: SDP must start with v=" },
    { "garbage",
      "hello world\n", NULL, "line 1: not an SDP line (<letter>=<value>)" },
    { "upper-case type",
      "v=0\nO=- 1 1 IN IP4 1.2.3.4\n", NULL, "line 2: not an SDP line (<letter>=<value>)" },
    { "control character",
      "v=0\ns=a\001b\n", NULL, "line 2: control character 0x01" },
    { "lone CR inside a line",
      "v=0\ns=a\rb\n", NULL, "line 2: control character 0x0d" },
    { "empty", "", NULL, "empty SDP" },
    { "blank lines only", "\r\n\n", NULL, "empty SDP" },
};

static void test_rewrite_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_rewrites / sizeof s_rewrites[0]; i++) {
        const rewrite_row_t *row = &s_rewrites[i];
        char out[4096], err[256] = "";
        int n = sdp_rewrite(row->in, strlen(row->in), ADDR, PORT, out, sizeof out,
                            err, sizeof err);
        print_message("row %zu: %s\n", i, row->name);
        if (row->out) {
            if (n < 0)
                fail_msg("row '%s': unexpected error: %s", row->name, err);
            assert_string_equal(out, row->out);
            assert_int_equal(n, (int)strlen(row->out));
        } else {
            assert_int_equal(n, -1);
            assert_string_equal(err, row->error);
            assert_string_equal(out, "");
        }
    }
}

static void test_rewrite_overlong(void **state)
{
    (void)state;
    const char *in = "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\n"
                     "m=audio 4000 RTP/AVP 0\n";
    const char *want = "v=0\no=- 1 1 IN IP4 " ADDR "\ns=-\nc=IN IP4 " ADDR "\nt=0 0\n"
                       "m=audio 10002 RTP/AVP 0\n";
    size_t need = strlen(want) + 1;
    char out[512], err[128];
    /* Exactly enough (with the NUL) works; one byte less fails cleanly. */
    assert_int_equal(sdp_rewrite(in, strlen(in), ADDR, PORT, out, need, err, sizeof err),
                     (int)strlen(want));
    assert_string_equal(out, want);
    memset(out, 'x', sizeof out);
    assert_int_equal(sdp_rewrite(in, strlen(in), ADDR, PORT, out, need - 1, err, sizeof err), -1);
    char expect[128];
    snprintf(expect, sizeof expect, "rewritten SDP does not fit in %zu bytes", need - 1);
    assert_string_equal(err, expect);
    assert_int_equal(out[0], '\0');
    assert_int_equal(out[need - 1], 'x');              /* nothing written past the end */

    /* A huge body: each line is fine, the whole is too big. */
    static char big[20000];
    size_t len = (size_t)snprintf(big, sizeof big, "%s", in);
    while (len + 40 < sizeof big)
        len += (size_t)snprintf(big + len, sizeof big - len, "a=x-padding:0123456789abcdef\n");
    assert_int_equal(sdp_rewrite(big, len, ADDR, PORT, out, sizeof out, err, sizeof err), -1);
    assert_string_equal(err, "rewritten SDP does not fit in 512 bytes");
    /* The error message itself is cut to the buffer, never overrun. */
    char tiny[8];
    assert_int_equal(sdp_rewrite("x", 1, ADDR, PORT, out, sizeof out, tiny, sizeof tiny), -1);
    assert_string_equal(tiny, "line 1:");
}

typedef struct {
    const char *name;
    const char *in;
    const char *addr;
    uint16_t port, rtcp_port;
    const char *rtcp_addr;
} parse_row_t;

static const parse_row_t s_parses[] = {
    { "session c=", "v=0\nc=IN IP4 10.0.0.5\nm=audio 4000 RTP/AVP 0\n",
      "10.0.0.5", 4000, 4001, "10.0.0.5" },
    { "media c= wins", "v=0\nc=IN IP4 10.0.0.5\nm=audio 4000 RTP/AVP 0\nc=IN IP4 10.0.0.6\n",
      "10.0.0.6", 4000, 4001, "10.0.0.6" },
    { "a=rtcp port", "v=0\nc=IN IP4 10.0.0.5\nm=audio 4000 RTP/AVP 0\na=rtcp:5000\n",
      "10.0.0.5", 4000, 5000, "10.0.0.5" },
    { "a=rtcp port and address",
      "v=0\r\nc=IN IP4 10.0.0.5\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:5000 IN IP4 10.0.0.7\r\n",
      "10.0.0.5", 4000, 5000, "10.0.0.7" },
    { "first audio only", "v=0\nc=IN IP4 10.0.0.5\nm=audio 4000 RTP/AVP 0\nm=audio 6000 RTP/AVP 0\n"
      "c=IN IP4 10.0.0.8\n", "10.0.0.5", 4000, 4001, "10.0.0.5" },
    { "refused", "v=0\nc=IN IP4 10.0.0.5\nm=audio 0 RTP/AVP 0\n", "10.0.0.5", 0, 0, "10.0.0.5" },
    { "hold", "v=0\nc=IN IP4 0.0.0.0\nm=audio 4000 RTP/AVP 0\n", "0.0.0.0", 4000, 4001, "0.0.0.0" },
};

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_parses / sizeof s_parses[0]; i++) {
        const parse_row_t *row = &s_parses[i];
        sdp_media_t m;
        char err[128] = "", addr[INET_ADDRSTRLEN], rtcp_addr[INET_ADDRSTRLEN];
        print_message("row %zu: %s\n", i, row->name);
        if (sdp_parse(row->in, strlen(row->in), &m, err, sizeof err) < 0)
            fail_msg("row '%s': %s", row->name, err);
        inet_ntop(AF_INET, &m.addr, addr, sizeof addr);
        inet_ntop(AF_INET, &m.rtcp_addr, rtcp_addr, sizeof rtcp_addr);
        assert_string_equal(addr, row->addr);
        assert_int_equal(m.port, row->port);
        assert_int_equal(m.rtcp_port, row->rtcp_port);
        assert_string_equal(rtcp_addr, row->rtcp_addr);
    }
    /* parse and rewrite agree on what is an error */
    sdp_media_t m;
    char err[128];
    assert_int_equal(sdp_parse("v=0\nm=audio 1 RTP/AVP 0\n", 23, &m, err, sizeof err), -1);
    assert_string_equal(err, "no c= line for the audio stream");
}

/* What the IVR needs from the caller's offer: the law to play in and the
 * telephone-event payload type. */
static void test_codec_and_dtmf_table(void **state)
{
    (void)state;
    static const struct {
        const char *m_and_a;
        int g711_pt, dtmf_pt;
    } rows[] = {
        { "m=audio 4000 RTP/AVP 0 8 101\na=rtpmap:101 telephone-event/8000\n", 0, 101 },
        { "m=audio 4000 RTP/AVP 18 8 0 96\na=rtpmap:96 TELEPHONE-EVENT/8000\n"
          "a=fmtp:96 0-15\n", 8, 96 },
        { "m=audio 4000 RTP/AVP 18 101\na=rtpmap:101 telephone-event/8000\n", -1, 101 },
        { "m=audio 4000 RTP/AVP 0\n", 0, SDP_DTMF_PT_DEFAULT },
        /* Only the audio stream's rtpmap counts. */
        { "m=audio 4000 RTP/AVP 0 100\na=rtpmap:100 telephone-event/16000\n"
          "m=video 5000 RTP/AVP 97\na=rtpmap:97 telephone-event/8000\n", 0, SDP_DTMF_PT_DEFAULT },
        { "m=audio 4000 RTP/AVP 80 8\n", 8, SDP_DTMF_PT_DEFAULT },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char sdp[512], err[128];
        snprintf(sdp, sizeof sdp, "v=0\nc=IN IP4 10.0.0.5\nt=0 0\n%s", rows[i].m_and_a);
        sdp_media_t m;
        if (sdp_parse(sdp, strlen(sdp), &m, err, sizeof err) < 0)
            fail_msg("row %zu: %s", i, err);
        assert_int_equal(m.g711_pt, rows[i].g711_pt);
        assert_int_equal(m.dtmf_pt, rows[i].dtmf_pt);
    }
}

/* --- offer/answer (RFC 3264) ------------------------------------------- */

/* linphone's default offer: opus first, speex, PCMU, PCMA, G.729 and
 * telephone-event at three rates (8000 on 100 here). */
#define LINPHONE_OFFER \
    "v=0\r\n" \
    "o=1001 1234 5678 IN IP4 192.168.1.20\r\n" \
    "s=Talk\r\n" \
    "c=IN IP4 192.168.1.20\r\n" \
    "t=0 0\r\n" \
    "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n" \
    "m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\r\n" \
    "a=rtpmap:96 opus/48000/2\r\n" \
    "a=fmtp:96 useinbandfec=1\r\n" \
    "a=rtpmap:97 speex/16000\r\n" \
    "a=fmtp:97 vbr=on\r\n" \
    "a=rtpmap:98 speex/8000\r\n" \
    "a=fmtp:98 vbr=on\r\n" \
    "a=fmtp:18 annexb=yes\r\n" \
    "a=rtpmap:101 telephone-event/48000\r\n" \
    "a=rtpmap:99 telephone-event/16000\r\n" \
    "a=rtpmap:100 telephone-event/8000\r\n" \
    "a=rtcp-fb:* trr-int 1000\r\n" \
    "a=rtcp-fb:96 nack\r\n" \
    "m=video 9078 RTP/AVP 102\r\n" \
    "a=rtpmap:102 VP8/90000\r\n"

static void test_formats_of_linphone(void **state)
{
    (void)state;
    sdp_media_t m;
    char err[128];
    assert_int_equal(sdp_parse(LINPHONE_OFFER, strlen(LINPHONE_OFFER), &m, err, sizeof err), 0);
    static const uint8_t want_fmt[] = { 96, 97, 98, 0, 8, 18, 101, 99, 100 };
    static const uint8_t want_kind[] = {
        SDP_KIND_OTHER, SDP_KIND_OTHER, SDP_KIND_OTHER, SDP_KIND_PCMU, SDP_KIND_PCMA,
        SDP_KIND_OTHER, SDP_KIND_OTHER, SDP_KIND_OTHER, SDP_KIND_DTMF,
    };
    assert_int_equal(m.nfmt, sizeof want_fmt);
    assert_memory_equal(m.fmt, want_fmt, sizeof want_fmt);
    assert_memory_equal(m.kind, want_kind, sizeof want_kind);
    assert_int_equal(m.g711_pt, 0);
    assert_int_equal(m.dtmf_pt, 100);
    assert_int_equal(m.dtmf_offered, 1);
}

typedef struct {
    const char *name;
    const char *m_and_a;       /* after a fixed session part */
    uint8_t codecs[3];
    size_t ncodecs, max_audio;
    uint8_t keep[4];
    size_t nkeep;
} keep_row_t;

static const keep_row_t s_keeps[] = {
    { "PCMU preferred, one codec", "m=audio 4000 RTP/AVP 96 0 8 101\n"
      "a=rtpmap:96 opus/48000/2\na=rtpmap:101 telephone-event/8000\n",
      { 0, 8 }, 2, 1, { 0, 101 }, 2 },
    { "PCMA preferred (allow=alaw,ulaw)", "m=audio 4000 RTP/AVP 96 0 8 101\n"
      "a=rtpmap:101 telephone-event/8000\n", { 8, 0 }, 2, 1, { 8, 101 }, 2 },
    { "every allowed one, in the allow order", "m=audio 4000 RTP/AVP 0 8 101\n"
      "a=rtpmap:101 telephone-event/8000\n", { 8, 0 }, 2, 2, { 8, 0, 101 }, 3 },
    { "a phone that offers only PCMA", "m=audio 4000 RTP/AVP 8\n", { 0, 8 }, 2, 1, { 8 }, 1 },
    { "only PCMA offered, only ulaw allowed", "m=audio 4000 RTP/AVP 8 101\n"
      "a=rtpmap:101 telephone-event/8000\n", { 0 }, 1, 1, { 0 }, 0 },
    { "nothing allowed offered (G.729 and a 16 kHz event)", "m=audio 4000 RTP/AVP 18 100\n"
      "a=rtpmap:18 G729/8000\na=rtpmap:100 telephone-event/16000\n", { 0, 8 }, 2, 1, { 0 }, 0 },
    { "no allowed codecs at all", "m=audio 4000 RTP/AVP 0 8\n", { 0 }, 0, 1, { 0 }, 0 },
    { "a codec the worker cannot carry in the allow list", "m=audio 4000 RTP/AVP 18 8\n",
      { 18, 8 }, 2, 1, { 8 }, 1 },
    { "telephone-event/8000 listed but without its rtpmap", "m=audio 4000 RTP/AVP 0 101\n",
      { 0 }, 1, 1, { 0 }, 1 },
    { "telephone-event/80000 is not 8000", "m=audio 4000 RTP/AVP 0 101\n"
      "a=rtpmap:101 telephone-event/80000\n", { 0 }, 1, 1, { 0 }, 1 },
    { "rtpmap of a format the m= line does not list", "m=audio 4000 RTP/AVP 0\n"
      "a=rtpmap:101 telephone-event/8000\n", { 0 }, 1, 1, { 0 }, 1 },
    { "malformed formats are skipped", "m=audio 4000 RTP/AVP x 300 -1 8 101x 101\n"
      "a=rtpmap:101 telephone-event/8000/1\n", { 0, 8 }, 2, 1, { 8, 101 }, 2 },
};

static void test_keep_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_keeps / sizeof s_keeps[0]; i++) {
        const keep_row_t *row = &s_keeps[i];
        char sdp[512], err[128];
        snprintf(sdp, sizeof sdp, "v=0\nc=IN IP4 10.0.0.5\nt=0 0\n%s", row->m_and_a);
        sdp_media_t m;
        print_message("row %zu: %s\n", i, row->name);
        if (sdp_parse(sdp, strlen(sdp), &m, err, sizeof err) < 0)
            fail_msg("row '%s': %s", row->name, err);
        uint8_t keep[8];
        size_t n = sdp_keep(&m, row->codecs, row->ncodecs, row->max_audio, keep);
        assert_int_equal(n, row->nkeep);
        assert_memory_equal(keep, row->keep, n);
    }
}

static void test_answer_linphone(void **state)
{
    (void)state;
    sdp_media_t m;
    char out[4096], err[128];
    const uint8_t allow[] = { 0, 8 };
    uint8_t keep[3];
    assert_int_equal(sdp_parse(LINPHONE_OFFER, strlen(LINPHONE_OFFER), &m, err, sizeof err), 0);
    size_t n = sdp_keep(&m, allow, 2, 1, keep);
    assert_int_equal(n, 2);
    int len = sdp_answer(LINPHONE_OFFER, strlen(LINPHONE_OFFER), ADDR, PORT, keep, n,
                         out, sizeof out, err, sizeof err);
    const char *want =
        "v=0\r\n"
        "o=1001 1234 5678 IN IP4 " ADDR "\r\n"
        "s=Talk\r\n"
        "c=IN IP4 " ADDR "\r\n"
        "t=0 0\r\n"
        "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n"
        "m=audio 10002 RTP/AVP 0 100\r\n"
        "a=rtpmap:100 telephone-event/8000\r\n"
        "a=rtcp-fb:* trr-int 1000\r\n"
        "m=video 0 RTP/AVP 102\r\n"
        "a=rtpmap:102 VP8/90000\r\n";
    assert_string_equal(out, want);
    assert_int_equal(len, (int)strlen(want));
    /* The answer reads back as one codec and one event. */
    assert_int_equal(sdp_parse(out, (size_t)len, &m, err, sizeof err), 0);
    assert_int_equal(m.nfmt, 2);
    assert_int_equal(m.g711_pt, 0);
    assert_int_equal(m.dtmf_pt, 100);

    /* allow=alaw: the same offer is answered with PCMA. */
    const uint8_t alaw[] = { 8 };
    assert_int_equal(sdp_parse(LINPHONE_OFFER, strlen(LINPHONE_OFFER), &m, err, sizeof err), 0);
    n = sdp_keep(&m, alaw, 1, 1, keep);
    assert_true(sdp_answer(LINPHONE_OFFER, strlen(LINPHONE_OFFER), ADDR, PORT, keep, n,
                           out, sizeof out, err, sizeof err) > 0);
    assert_non_null(strstr(out, "\r\nm=audio 10002 RTP/AVP 8 100\r\n"));
    assert_null(strstr(out, "opus"));
    assert_null(strstr(out, "a=fmtp:18"));
}

static void test_answer_errors(void **state)
{
    (void)state;
    const uint8_t keep[] = { 0 };
    char out[64], err[128];
    /* Malformed lines are refused as sdp_rewrite refuses them. */
    static const struct {
        const char *in, *error;
    } bad[] = {
        { "v=0\nc=IN IP4 1.2.3.4\nm=audio x RTP/AVP 0\n", "line 3: bad port in m= line" },
        { "v=0\nc=IN IP4 1.2.3.4\nm=audio 4000\n",
          "line 3: m= line needs media, port, proto and formats" },
        { "v=0\nc=IN IP4 1.2.3.4\nm=audio 4000 RTP/AVP 0\nbogus\n",
          "line 4: not an SDP line (<letter>=<value>)" },
        { "v=0\nc=IN IP6 ::1\nm=audio 4000 RTP/AVP 0\n", "line 2: only IPv4 is supported (c=IN IP6)" },
        { "v=0\nc=IN IP4 1.2.3.4\nm=audio 4000 RTP/AVP 0\na=rtcp:x\n", "line 4: bad port in a=rtcp" },
        { "v=0\nm=video 4000 RTP/AVP 0\n", "no m=audio line" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sdp_answer(bad[i].in, strlen(bad[i].in), ADDR, PORT, keep, 1, out,
                                    sizeof out, err, sizeof err), -1);
        assert_string_equal(err, bad[i].error);
        assert_int_equal(sdp_filter(bad[i].in, strlen(bad[i].in), keep, 1, out, sizeof out,
                                    err, sizeof err), -1);
        assert_string_equal(err, bad[i].error);
    }
    /* Too small an output buffer. */
    const char *in = LINPHONE_OFFER;
    assert_int_equal(sdp_answer(in, strlen(in), ADDR, PORT, keep, 1, out, sizeof out,
                                err, sizeof err), -1);
    assert_string_equal(err, "rewritten SDP does not fit in 64 bytes");
    assert_string_equal(out, "");
}

static void test_offer_and_filter(void **state)
{
    (void)state;
    char offer[512], out[512], err[128];
    int n = sdp_offer(ADDR, PORT, 42, 8, offer, sizeof offer);
    const char *want =
        "v=0\r\n"
        "o=tandem 42 42 IN IP4 " ADDR "\r\n"
        "s=Tandem\r\n"
        "c=IN IP4 " ADDR "\r\n"
        "t=0 0\r\n"
        "m=audio 10002 RTP/AVP 8 0 101\r\n"
        "a=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\n"
        "a=ptime:20\r\n"
        "a=sendrecv\r\n";
    assert_string_equal(offer, want);
    assert_int_equal(n, (int)strlen(want));
    assert_int_equal(sdp_offer(ADDR, PORT, 42, 0, out, sizeof out), n);
    assert_non_null(strstr(out, "m=audio 10002 RTP/AVP 0 8 101\r\n"));
    assert_int_equal(sdp_offer(ADDR, PORT, 42, 0, out, 20), -1);
    assert_string_equal(out, "");

    /* A callee that allows ulaw only: the offer keeps PCMU and the event. */
    sdp_media_t m;
    assert_int_equal(sdp_parse(offer, (size_t)n, &m, err, sizeof err), 0);
    const uint8_t ulaw[] = { 0 };
    uint8_t keep[3];
    size_t k = sdp_keep(&m, ulaw, 1, 2, keep);
    assert_int_equal(k, 2);
    int len = sdp_filter(offer, (size_t)n, keep, k, out, sizeof out, err, sizeof err);
    const char *filtered =
        "v=0\r\n"
        "o=tandem 42 42 IN IP4 " ADDR "\r\n"
        "s=Tandem\r\n"
        "c=IN IP4 " ADDR "\r\n"
        "t=0 0\r\n"
        "m=audio 10002 RTP/AVP 0 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\n"
        "a=ptime:20\r\n"
        "a=sendrecv\r\n";
    assert_string_equal(out, filtered);
    assert_int_equal(len, (int)strlen(filtered));
    /* allow=alaw,ulaw: both, PCMA first. */
    const uint8_t both[] = { 8, 0 };
    k = sdp_keep(&m, both, 2, 2, keep);
    assert_true(sdp_filter(offer, (size_t)n, keep, k, out, sizeof out, err, sizeof err) > 0);
    assert_non_null(strstr(out, "m=audio 10002 RTP/AVP 8 0 101\r\n"));
    /* A peer that allows neither: nothing to offer. */
    const uint8_t none[] = { 18 };
    assert_int_equal(sdp_keep(&m, none, 1, 2, keep), 0);
    /* Filtering leaves addresses, ports and RTCP alone. */
    const char *other = "v=0\nc=IN IP4 10.0.0.5\nm=audio 4000 RTP/AVP 8 0\na=rtcp:4009\n"
                        "a=candidate:1 1 UDP 1 10.0.0.5 4000 typ host\nm=video 5000 RTP/AVP 96\n";
    const uint8_t pcmu[] = { 0 };
    assert_true(sdp_filter(other, strlen(other), pcmu, 1, out, sizeof out, err, sizeof err) > 0);
    assert_string_equal(out, "v=0\nc=IN IP4 10.0.0.5\nm=audio 4000 RTP/AVP 0\na=rtcp:4009\n"
                             "a=candidate:1 1 UDP 1 10.0.0.5 4000 typ host\n"
                             "m=video 5000 RTP/AVP 96\n");
}


/* a=sendonly/recvonly/inactive, session or media level; c=0.0.0.0 is hold. */
static void test_direction_table(void **state)
{
    (void)state;
    static const struct { const char *sdp; int dir; } t[] = {
        { "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n", SDP_DIR_SENDRECV },
        { "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n", SDP_DIR_SEND },
        { "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\n", SDP_DIR_RECV },
        { "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\na=inactive\r\n", SDP_DIR_INACTIVE },
        { "v=0\r\na=sendonly\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n", SDP_DIR_SEND },
        /* media level wins over session level */
        { "v=0\r\na=inactive\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n",
          SDP_DIR_SENDRECV },
        /* RFC 2543 hold */
        { "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n", SDP_DIR_SEND },
        { "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\n", SDP_DIR_INACTIVE },
        /* another stream's direction is not the audio's */
        { "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\nm=video 0 RTP/AVP 31\r\n"
          "a=inactive\r\n", SDP_DIR_SENDRECV },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        sdp_media_t m;
        char err[128];
        assert_int_equal(sdp_parse(t[i].sdp, strlen(t[i].sdp), &m, err, sizeof err), 0);
        if (m.dir != t[i].dir)
            fail_msg("case %zu: dir %d, want %d", i, m.dir, t[i].dir);
    }
    assert_int_equal(sdp_dir_answer(SDP_DIR_SEND), SDP_DIR_RECV);
    assert_int_equal(sdp_dir_answer(SDP_DIR_RECV), SDP_DIR_SEND);
    assert_int_equal(sdp_dir_answer(SDP_DIR_INACTIVE), SDP_DIR_INACTIVE);
    assert_int_equal(sdp_dir_answer(SDP_DIR_SENDRECV), SDP_DIR_SENDRECV);
    assert_string_equal(sdp_dir_name(SDP_DIR_SEND), "sendonly");
    assert_string_equal(sdp_dir_name(SDP_DIR_RECV), "recvonly");
    assert_string_equal(sdp_dir_name(SDP_DIR_INACTIVE), "inactive");
    assert_string_equal(sdp_dir_name(SDP_DIR_SENDRECV), "sendrecv");
}

/* o= read, then written back with the version one up and one direction
 * line at the end of the audio section (RFC 3264 section 8). */
static void test_origin_and_restamp(void **state)
{
    (void)state;
    const char *in = "v=0\r\no=alice 42 7 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
                     "t=0 0\r\na=sendrecv\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                     "a=sendonly\r\nm=video 0 RTP/AVP 31\r\na=inactive\r\n";
    sdp_origin_t o;
    assert_int_equal(sdp_origin(in, strlen(in), &o), 0);
    assert_string_equal(o.user, "alice");
    assert_true(o.id == 42 && o.version == 7);
    o.version++;
    char out[512];
    int n = sdp_restamp(in, strlen(in), &o, SDP_DIR_RECV, out, sizeof out);
    assert_true(n > 0);
    assert_string_equal(out, "v=0\r\no=alice 42 8 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
                             "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                             "a=recvonly\r\nm=video 0 RTP/AVP 31\r\n");
    /* audio last, no final line end */
    const char *last = "v=0\no=- 1 1 IN IP4 1.2.3.4\nc=IN IP4 1.2.3.4\nm=audio 1 RTP/AVP 8";
    sdp_origin_t o2 = { "tandem", 99, 3 };
    assert_true(sdp_restamp(last, strlen(last), &o2, SDP_DIR_SENDRECV, out, sizeof out) > 0);
    assert_string_equal(out, "v=0\no=tandem 99 3 IN IP4 1.2.3.4\nc=IN IP4 1.2.3.4\n"
                             "m=audio 1 RTP/AVP 8\r\na=sendrecv\r\n");
    /* errors: no o=, malformed o=, no room */
    const char *no_o = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n";
    assert_int_equal(sdp_origin(no_o, strlen(no_o), &o), -1);
    assert_int_equal(sdp_restamp(no_o, strlen(no_o), &o, SDP_DIR_SEND, out, sizeof out), -1);
    const char *bad_o = "v=0\r\no=x y 1 IN IP4 1.2.3.4\r\n";
    assert_int_equal(sdp_origin(bad_o, strlen(bad_o), &o), -1);
    assert_int_equal(sdp_restamp(in, strlen(in), &o, SDP_DIR_SEND, out, 20), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rewrite_table),
        cmocka_unit_test(test_rewrite_overlong),
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_codec_and_dtmf_table),
        cmocka_unit_test(test_formats_of_linphone),
        cmocka_unit_test(test_keep_table),
        cmocka_unit_test(test_answer_linphone),
        cmocka_unit_test(test_answer_errors),
        cmocka_unit_test(test_offer_and_filter),
        cmocka_unit_test(test_direction_table),
        cmocka_unit_test(test_origin_and_restamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
