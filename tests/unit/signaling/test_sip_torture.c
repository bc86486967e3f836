/* Unit table for the parsing and answering decisions RFC 4475 drove: each
 * row is one request (or stray response) in the shape of an RFC 4475
 * message, sent from a "phone" socket on 127.0.0.1 to the signaling core
 * (real transaction layer, bus fake), and the status it must get back, or
 * 0 for nothing at all. The byte-exact messages themselves run against the
 * real processes in tests/sip/bad_input. "$P" in a row stands for the
 * phone's port, so that the answer comes back to the test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <osipparser2/osip_parser.h>

#include "sip_conf.h"
#include "sip_core.h"
#include "td_bus_fake.h"
#include "td_log.h"

typedef struct {
    struct event_base *base;
    int fd, phone;
    struct sockaddr_in sw, ph;
    char dir[64], path[128];
    sip_conf_t *conf;
    sip_core_t *core;
} fx_t;

static const char *s_conf_text =
    "[general]\n"
    "realm=tandem\n"
    "context=guests\n"
    "allowguest=no\n"
    "alwaysauthreject=yes\n"
    "[1001]\n"
    "type=friend\n"
    "host=dynamic\n"
    "secret=1001pass\n"
    "[2001]\n"                       /* registers without a password */
    "type=friend\n"
    "host=dynamic\n";

static int s_udp(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &l), 0);
    return fd;
}

static void s_pump(fx_t *fx)
{
    for (int i = 0; i < 5; i++)
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    td_log_init("test", getenv("TEST_LOG") ? LOG_DEBUG : LOG_ERR);
    td_bus_fake_reset();
    td_bus_fake_set_alive(1);
    fx->base = event_base_new();
    fx->fd = s_udp(&fx->sw);
    fx->phone = s_udp(&fx->ph);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/sip_torture_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/sip.conf", fx->dir);
    FILE *fp = fopen(fx->path, "w");
    fputs(s_conf_text, fp);
    fclose(fp);
    char err[512];
    fx->conf = sip_conf_load(fx->path, err, sizeof err);
    assert_non_null(fx->conf);
    sip_core_opts_t opts = { .identity = "sig-t", .endpoint = "inproc://none", .capacity = 10 };
    fx->core = sip_core_new(fx->base, fx->conf, fx->fd, &opts);
    assert_non_null(fx->core);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    sip_core_destroy(&fx->core);
    s_pump(fx);
    event_base_free(fx->base);
    sip_conf_destroy(&fx->conf);
    close(fx->fd);
    close(fx->phone);
    unlink(fx->path);
    rmdir(fx->dir);
    td_bus_fake_reset();
    free(fx);
    return 0;
}

typedef struct {
    const char *name;
    const char *text;        /* "$P": the phone's port */
    size_t len;              /* 0: strlen (a row with a NUL gives its length) */
    int status;              /* the final answer, 0 = none at all */
    const char *has;         /* text the answer must hold, or NULL */
    const char *has2;        /* ... and this too */
} row_t;

#define ROW_VIA(b) "Via: SIP/2.0/UDP 127.0.0.1:$P;branch=" b ";rport\r\n"
#define DLG(c, m) "From: <sip:torture@127.0.0.1>;tag=t1\r\nTo: <sip:1001@127.0.0.1>\r\n" \
                  "Call-ID: " c "\r\nCSeq: 1 " m "\r\n"
#define SDP "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" \
            "m=audio 9 RTP/AVP 0\r\n"
#define SDP_HDRS "Content-Type: application/sdp\r\nContent-Length: 84\r\n\r\n" SDP

static const char s_intmeth[] =
    "!interesting-Method0123456789_*+`.%indeed'~ sip:1001@127.0.0.1 SIP/2.0\r\n"
    ROW_VIA("z9hG4bKint")
    "To: \"BEL:\\\x07 NUL:\\\0 DEL:\\\x7f\" <sip:1001@127.0.0.1>\r\n"
    "From: <sip:torture@127.0.0.1>;tag=t1\r\nCall-ID: intmeth\r\n"
    "CSeq: 1 !interesting-Method0123456789_*+`.%indeed'~\r\nContent-Length: 0\r\n\r\n";

/* A quoted NUL is mended before parsing; a request still unparsable after
 * that is answered from the mended text. */
static const char s_nul_badline[] =
    "INVITE nonsense SIP/2.0\r\n"
    ROW_VIA("z9hG4bKnbl")
    "Subject: \"a NUL:\\\0 here\"\r\n"
    DLG("nulbadline", "INVITE") "Content-Length: 0\r\n\r\n";

#define HOST100 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const row_t s_rows[] = {
    { "a Via sent-by host of 300+ characters is keyed and answered",
      "OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\n"
      "Via: SIP/2.0/UDP " HOST100 HOST100 HOST100 ".example.com:$P;branch=z9hG4bKlonghost;rport\r\n"
      DLG("longhost", "OPTIONS") "Content-Length: 0\r\n\r\n", 0, 200, NULL, NULL },
    { "a quoted NUL and a bad Request-URI: 400 from the mended text",
      s_nul_badline, sizeof s_nul_badline - 1, 400, NULL, NULL },
    { "Max-Forwards with leading zeros (3.1.1.1)",
      "OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKmf") "Max-Forwards: 0068\r\n"
      DLG("mf", "OPTIONS") "Content-Length: 0\r\n\r\n", 0, 200, NULL, NULL },
    { "a quoted NUL and token characters in the method (3.1.1.2)",
      s_intmeth, sizeof s_intmeth - 1, 501, "\r\nAllow: INVITE", NULL },
    { "unknown method, CSeq method differs (3.1.2.18)",
      "NEWMETHOD sip:1001@127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKnm")
      DLG("newmethod", "INVITE") "Content-Length: 0\r\n\r\n", 0, 501, "\r\nAllow: ", NULL },
    { "known method, CSeq method differs (3.1.2.17)",
      "OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKmm")
      DLG("mismatch", "INVITE") "Content-Length: 0\r\n\r\n", 0, 400, NULL, NULL },
    { "Request-URI with headers (3.1.2.11)",
      "OPTIONS sip:1001@127.0.0.1?Route=%3Csip:example.com%3E SIP/2.0\r\n" ROW_VIA("z9hG4bKru")
      DLG("escruri", "OPTIONS") "Content-Length: 0\r\n\r\n", 0, 400, NULL, NULL },
    { "Contact URI with headers outside <> (3.1.2.13)",
      "REGISTER sip:127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKbc") DLG("regbadct", "REGISTER")
      "Contact: sip:1001@127.0.0.1?Route=%3Csip:sip.example.com%3E\r\n"
      "Content-Length: 0\r\n\r\n", 0, 400, NULL, NULL },
    { "Contact URI with headers inside <> (3.3.14)",
      "REGISTER sip:127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKbc") DLG("regescrt", "REGISTER")
      "m: <sip:1001@127.0.0.1?Route=%3Csip:sip.example.com%3E>\r\n"
      "Content-Length: 0\r\n\r\n", 0, 401, NULL, NULL },
    { "the same branch again, another Call-ID: not a retransmission (3.3.13)",
      "REGISTER sip:127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKbc") DLG("cparam02", "REGISTER")
      "Contact: <sip:1001@127.0.0.1;unknownparam>\r\nContent-Length: 0\r\n\r\n", 0, 401, NULL, NULL },
    { "REGISTER of a non-SIP address of record (3.3.4)",
      "REGISTER sip:127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKsm") "To: isbn:2983792873\r\n"
      "From: <http://www.example.com>;tag=3234233\r\nCall-ID: unksm2\r\nCSeq: 1 REGISTER\r\n"
      "Contact: <name:John_Smith>\r\nContent-Length: 0\r\n\r\n", 0, 400, NULL, NULL },
    { "INVITE whose Accept leaves out SDP (3.3.15)",
      "INVITE sip:1001@127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKac") DLG("sdp01", "INVITE")
      "Contact: <sip:torture@127.0.0.1:$P>\r\nAccept: text/nobodyKnowsThis\r\n" SDP_HDRS,
      0, 406, "\r\nWarning: 399 sig-t ", "\r\nTo: <sip:1001@127.0.0.1>;tag=" },
    { "INVITE whose Accept has application/*",
      "INVITE sip:1001@127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKac2") DLG("accept-any", "INVITE")
      "Contact: <sip:torture@127.0.0.1:$P>\r\nAccept: text/html, application/*\r\n" SDP_HDRS,
      0, 401, "\r\nWWW-Authenticate: Digest ", NULL },
    { "RFC 2543 INVITE: no branch, From tag, Contact (3.4.1)",
      "INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:$P;rport\r\n"
      "From: <sip:torture@127.0.0.1>\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: inv2543\r\n"
      "CSeq: 56 INVITE\r\nContent-Type: application/sdp\r\n\r\n" SDP, 0, 401,
      "\r\nWWW-Authenticate: Digest ", NULL },
    { "RFC 3261 INVITE without Contact",
      "INVITE sip:1001@127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKnc") DLG("no-contact", "INVITE")
      SDP_HDRS, 0, 400, NULL, NULL },
    { "a lone magic cookie as branch (3.2.1)",
      "OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bK") DLG("badbranch", "OPTIONS")
      "Content-Length: 0\r\n\r\n", 0, 200, NULL, NULL },
    { "... and another request with one: its own transaction",
      "OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bK") DLG("badbranch2", "OPTIONS")
      "Content-Length: 0\r\n\r\n", 0, 200, NULL, NULL },
    { "Require and Proxy-Require (3.3.5): 420, Unsupported has Require's tags only",
      "OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKbx") DLG("bext01", "OPTIONS")
      "Require: nothingSupportsThis, nothingSupportsThisEither\r\n"
      "Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis\r\n"
      "Content-Length: 0\r\n\r\n", 0, 420,
      "\r\nUnsupported: nothingSupportsThis, nothingSupportsThisEither\r\n", ";tag=" },
    { "REGISTER whose Request-URI user has a ';' (as 3.1.1.9)",
      "REGISTER sip:user;par=u%40example.net@127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKsu")
      DLG("semiuri", "REGISTER") "Contact: <sip:1001@127.0.0.1:$P>\r\n"
      "Content-Length: 0\r\n\r\n", 0, 401, "\r\nWWW-Authenticate: Digest ", NULL },
    { "unknownparam outside <> is a contact-param, not in the binding (3.3.12)",
      "REGISTER sip:127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKcp1")
      "From: <sip:2001@127.0.0.1>;tag=c1\r\nTo: <sip:2001@127.0.0.1>\r\nCall-ID: cparam01\r\n"
      "CSeq: 2 REGISTER\r\nContact: sip:+19725552222@gw1.example.net;unknownparam\r\n"
      "l: 0\r\n\r\n", 0, 200, "<sip:+19725552222@gw1.example.net>;expires=", NULL },
    { "unknownparam inside <> is a uri-param, kept in the binding (3.3.13)",
      "REGISTER sip:127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKcp2")
      "From: <sip:2001@127.0.0.1>;tag=c2\r\nTo: <sip:2001@127.0.0.1>\r\nCall-ID: cparam02\r\n"
      "CSeq: 3 REGISTER\r\nContact: <sip:+19725552222@gw1.example.net;unknownparam>\r\n"
      "l: 0\r\n\r\n", 0, 200, "<sip:+19725552222@gw1.example.net;unknownparam>;expires=",
      NULL },
    /* Not here: RFC 4475 3.1.1.4's two contacts sip:%00@h and sip:%00%00@h.
     * libosip2 unescapes a user part into a C string, so both come out as
     * sip:h and make one binding (and a To user "a%00b" is looked up as
     * "a"). Keeping them apart needs the registrar to store the Contact as
     * received; the REGISTER itself is answered as any other (401/200). */
    { "CSeq number of 2**32 (3.1.2.4)",
      "OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\n" ROW_VIA("z9hG4bKcs")
      "From: <sip:torture@127.0.0.1>;tag=t1\r\nTo: <sip:1001@127.0.0.1>\r\n"
      "Call-ID: scalar\r\nCSeq: 4294967296 OPTIONS\r\nContent-Length: 0\r\n\r\n", 0, 400, NULL, NULL },
    { "stray 200 for an INVITE we never sent (3.1.1.12)",
      "SIP/2.0 200 OK\r\n" ROW_VIA("z9hG4bK1324923") DLG("unreason", "INVITE")
      "Contact: <sip:user@127.0.0.1:$P>\r\nContent-Length: 0\r\n\r\n", 0, 0, NULL, NULL },
    { "200 with a broadcast second Via (3.3.10)",
      "SIP/2.0 200 OK\r\n" ROW_VIA("z9hG4bK1324923")
      "Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\r\n" DLG("bcast", "INVITE")
      "Contact: <sip:user@127.0.0.1:$P>\r\nContent-Length: 0\r\n\r\n", 0, 0, NULL, NULL },
};

/* row->text with "$P" replaced by the phone's port, into out; its length. */
static size_t s_fill(const row_t *row, int port, char *out, size_t size)
{
    size_t len = row->len ? row->len : strlen(row->text), o = 0;
    for (size_t i = 0; i < len; i++) {
        if (row->text[i] == '$' && i + 1 < len && row->text[i + 1] == 'P') {
            o += (size_t)snprintf(out + o, size - o, "%d", port);
            i++;
        } else
            out[o++] = row->text[i];
        assert_true(o < size - 8);
    }
    return o;
}

static void test_rfc4475_rows(void **state)
{
    fx_t *fx = *state;
    char text[4096], got[8192];
    int port = ntohs(fx->ph.sin_port), failed = 0;
    for (size_t i = 0; i < sizeof s_rows / sizeof s_rows[0]; i++) {
        const row_t *row = &s_rows[i];
        size_t n = s_fill(row, port, text, sizeof text);
        assert_int_equal(sendto(fx->phone, text, n, 0, (struct sockaddr *)&fx->sw, sizeof fx->sw),
                         (ssize_t)n);
        s_pump(fx);
        int status = 0;
        ssize_t r;
        while ((r = recv(fx->phone, got, sizeof got - 1, 0)) > 0) {
            got[r] = '\0';
            status = strncmp(got, "SIP/2.0 ", 8) == 0 ? atoi(got + 8) : -1;
            if (status != 100)
                break;
            status = 0;                         /* a 100 Trying is not the answer */
        }
        int ok = status == row->status && (!row->has || (status && strstr(got, row->has)))
              && (!row->has2 || (status && strstr(got, row->has2)));
        print_message("%-4s %-70s want %d got %d\n", ok ? "ok" : "FAIL", row->name,
                      row->status, status);
        if (!ok) {
            if (status)
                print_message("%s\n", got);
            failed++;
        }
        while (recv(fx->phone, got, sizeof got, 0) > 0)
            ;                                   /* nothing else may linger */
    }
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rfc4475_rows, setup, teardown),
    };
    return cmocka_run_group_tests_name("sip_torture", tests, NULL, NULL);
}
