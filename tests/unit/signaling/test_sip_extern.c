/* Unit tests for sip_extern (externaddr / localnet) and the sip.conf keys
 * behind it: which peers see externaddr in Via/Contact, and the SDP rewrite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sip_conf.h"
#include "sip_extern.h"
#include "td_log.h"

static char s_dir[128];
static char s_path[256];

static sip_conf_t *s_load(const char *text, char *err, size_t len)
{
    FILE *fp = fopen(s_path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    err[0] = '\0';
    return sip_conf_load(s_path, err, len);
}

static int setup(void **state)
{
    (void)state;
    td_log_init("test", LOG_ERR);
    snprintf(s_dir, sizeof s_dir, "/tmp/sip_extern_test.XXXXXX");
    assert_non_null(mkdtemp(s_dir));
    snprintf(s_path, sizeof s_path, "%s/sip.conf", s_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(s_path);
    return rmdir(s_dir);
}

static struct sockaddr_in s_sa(const char *ip, int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    return a;
}

/* chan_sip warns about a bad localnet, externaddr, externrefresh or nat word
 * and loads past it (the line ignored, the default kept): so does Tandem
 * (sip_conf_warnings counts it; the message is checked in test_sip_conf). */
static void test_conf_errors(void **state)
{
    (void)state;
    static const struct { const char *text; int warnings; int nlocalnet; } rows[] = {
        { "[general]\nlocalnet=10.0.0.0/8\nlocalnet=192.168.0.0/255.255.0.0\n", 0, 2 },
        { "[general]\nlocalnet=10.1.2.3\nexternaddr=198.51.100.7:5070\n", 0, 1 },
        { "[general]\nlocalnet=10.0.0.0/33\n", 1, 0 },
        { "[general]\nlocalnet=10.0.0.0/255.0.255.0\nlocalnet=10.0.0.0/8\n", 1, 1 },
        { "[general]\nlocalnet=ten/8\n", 1, 0 },
        { "[general]\nexternaddr=no.such.host.invalid\n", 1, 0 },
        { "[general]\nexternrefresh=0\n", 1, 0 },
        { "[general]\nnat=comedia,bogus\n", 1, 0 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char err[256];
        sip_conf_t *c = s_load(rows[i].text, err, sizeof err);
        if (!c)
            fail_msg("row %zu: %s", i, err);
        assert_int_equal(sip_conf_warnings(c), rows[i].warnings);
        const sip_general_t *g = sip_conf_general(c);
        assert_int_equal(g->nlocalnet, rows[i].nlocalnet);
        if (strstr(rows[i].text, "no.such.host"))
            assert_int_equal(g->externaddr.sin_addr.s_addr, 0);    /* ignored */
        if (strstr(rows[i].text, "externrefresh"))
            assert_int_equal(g->externrefresh, 10);               /* default kept */
        if (strstr(rows[i].text, "bogus"))
            assert_int_equal(g->comedia, SIP_COMEDIA_YES);        /* the word it knows */
        sip_conf_destroy(&c);
    }
}

static void test_nat_modes(void **state)
{
    (void)state;
    char err[256];
    sip_conf_t *c = s_load("[general]\nnat=force_rport,comedia\n"
                           "[a]\ntype=friend\n"
                           "[b]\ntype=friend\nnat=no\n"
                           "[c]\ntype=friend\nnat=auto_force_rport,auto_comedia\n"
                           "[d]\ntype=friend\nnat=yes\n", err, sizeof err);
    assert_non_null(c);
    const sip_general_t *g = sip_conf_general(c);
    assert_int_equal(g->nat, SIP_NAT_FORCE);
    assert_int_equal(g->comedia, SIP_COMEDIA_YES);
    assert_int_equal(sip_conf_peer(c, "a")->comedia, SIP_COMEDIA_YES);   /* inherited */
    assert_int_equal(sip_conf_peer(c, "b")->nat, SIP_NAT_NO);
    assert_int_equal(sip_conf_peer(c, "b")->comedia, SIP_COMEDIA_NO);
    assert_int_equal(sip_conf_peer(c, "c")->nat, SIP_NAT_AUTO);
    assert_int_equal(sip_conf_peer(c, "c")->comedia, SIP_COMEDIA_AUTO);
    assert_int_equal(sip_conf_peer(c, "d")->nat, SIP_NAT_FORCE);
    assert_int_equal(sip_conf_peer(c, "d")->comedia, SIP_COMEDIA_YES);
    sip_conf_destroy(&c);
    /* chan_sip's default (Asterisk 20): auto_force_rport, no comedia */
    c = s_load("[general]\n", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(sip_conf_general(c)->nat, SIP_NAT_AUTO);
    assert_int_equal(sip_conf_general(c)->comedia, SIP_COMEDIA_NO);
    sip_conf_destroy(&c);
}

static const char *s_offer =
    "v=0\r\n"
    "o=tandem 1234 1 IN IP4 10.0.0.5\r\n"
    "s=-\r\n"
    "c=IN IP4 10.0.0.5\r\n"
    "t=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 101\r\n"
    "a=rtcp:40001 IN IP4 10.0.0.5\r\n";

static void test_remap(void **state)
{
    (void)state;
    char err[256];
    sip_conf_t *c = s_load("[general]\nlocalnet=10.0.0.0/8\nlocalnet=192.168.1.0/24\n"
                           "externaddr=198.51.100.7\n", err, sizeof err);
    assert_non_null(c);
    sip_extern_t *x = sip_extern_new(sip_conf_general(c));
    assert_non_null(x);
    struct sockaddr_in us = s_sa("10.0.0.5", 5060);
    /* inside a localnet: the real address */
    struct sockaddr_in in1 = s_sa("10.9.8.7", 5060), in2 = s_sa("192.168.1.20", 5060);
    assert_int_equal(sip_extern_remap(x, &in1, &us), 0);
    assert_int_equal(sip_extern_remap(x, &in2, &us), 0);
    assert_int_equal(us.sin_addr.s_addr, s_sa("10.0.0.5", 0).sin_addr.s_addr);
    assert_ptr_equal(sip_extern_sdp(x, &in1, s_offer), s_offer);
    /* outside: externaddr, the bound port (externaddr has none) */
    struct sockaddr_in out = s_sa("203.0.113.9", 5060);
    assert_int_equal(sip_extern_remap(x, &out, &us), 1);
    assert_int_equal(us.sin_addr.s_addr, s_sa("198.51.100.7", 0).sin_addr.s_addr);
    assert_int_equal(ntohs(us.sin_port), 5060);
    const char *sdp = sip_extern_sdp(x, &out, s_offer);
    assert_string_equal(sdp,
        "v=0\r\n"
        "o=tandem 1234 1 IN IP4 198.51.100.7\r\n"
        "s=-\r\n"
        "c=IN IP4 198.51.100.7\r\n"
        "t=0 0\r\n"
        "m=audio 40000 RTP/AVP 0 101\r\n"
        "a=rtcp:40001 IN IP4 198.51.100.7\r\n");
    /* a media address outside every localnet (a public worker) and hold stay */
    const char *pub = "v=0\no=- 1 1 IN IP4 203.0.113.50\nc=IN IP4 0.0.0.0\nm=audio 9 RTP/AVP 0\n";
    assert_string_equal(sip_extern_sdp(x, &out, pub), pub);
    sip_extern_destroy(&x);
    assert_null(x);
    sip_conf_destroy(&c);
}

static void test_no_localnet_no_remap(void **state)
{
    (void)state;
    char err[256];
    /* chan_sip's want_remap needs a localnet list: externaddr alone does nothing */
    sip_conf_t *c = s_load("[general]\nexternaddr=198.51.100.7:5080\n", err, sizeof err);
    assert_non_null(c);
    sip_extern_t *x = sip_extern_new(sip_conf_general(c));
    struct sockaddr_in us = s_sa("10.0.0.5", 5060), out = s_sa("203.0.113.9", 5060);
    assert_int_equal(sip_extern_remap(x, &out, &us), 0);
    sip_extern_destroy(&x);
    sip_conf_destroy(&c);
    /* with one, externaddr's port wins */
    c = s_load("[general]\nlocalnet=10.0.0.0/255.0.0.0\nexternaddr=198.51.100.7:5080\n",
               err, sizeof err);
    assert_non_null(c);
    x = sip_extern_new(sip_conf_general(c));
    assert_int_equal(sip_extern_remap(x, &out, &us), 1);
    assert_int_equal(ntohs(us.sin_port), 5080);
    sip_extern_destroy(&x);
    sip_conf_destroy(&c);
    /* externhost: resolved at load */
    c = s_load("[general]\nlocalnet=10.0.0.0/8\nexternhost=localhost\nexternrefresh=30\n",
               err, sizeof err);
    assert_non_null(c);
    assert_string_equal(sip_conf_general(c)->externhost, "localhost");
    assert_int_equal(sip_conf_general(c)->externrefresh, 30);
    x = sip_extern_new(sip_conf_general(c));
    us = s_sa("10.0.0.5", 5060);
    assert_int_equal(sip_extern_remap(x, &out, &us), 1);
    assert_int_equal(us.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    sip_extern_destroy(&x);
    sip_conf_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_errors),
        cmocka_unit_test(test_nat_modes),
        cmocka_unit_test(test_remap),
        cmocka_unit_test(test_no_localnet_no_remap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
